"""The known set of events the cluster test publishes (stdlib only).

Event i of run R is built deterministically from the valid examples in
schemas/examples/valid, so the load generator and the checker agree on it
without passing the events around:

  type      TYPES[(i // 2) % 4]   (consecutive pairs go to both gateways)
  template  the type's examples, in name order, cycled
  event_id  uuid5(NAMESPACE_URL, "partnerbus-cluster/R/i")
  key field shipment_id / grant_id / partnership_id = "R-k<i % 64>"
            (64 entities per type, so every partition gets events)
  source    the organisation of the test's token (the gateway sets it
            anyway; setting it here lets the checker compare whole events)
"""
import json
import os
import uuid

TYPES = ["aid.dispatched", "partnership.founded", "funds.granted",
         "aid.delivered"]
KEY_FIELD = {
    "aid.dispatched": "shipment_id",
    "aid.delivered": "shipment_id",
    "funds.granted": "grant_id",
    "partnership.founded": "partnership_id",
}
NKEYS = 64


class EventSet:
    def __init__(self, examples_dir, run, org):
        self.run = run
        self.org = org
        self.templates = {}
        for t in TYPES:
            d = os.path.join(examples_dir, t)
            names = sorted(n for n in os.listdir(d) if n.endswith(".json"))
            if not names:
                raise SystemExit("no valid examples in %s" % d)
            self.templates[t] = []
            for n in names:
                with open(os.path.join(d, n), encoding="utf-8") as f:
                    self.templates[t].append(json.load(f))

    def type_of(self, i):
        return TYPES[(i // 2) % len(TYPES)]

    def event_id(self, i):
        return str(uuid.uuid5(uuid.NAMESPACE_URL,
                              "partnerbus-cluster/%s/%d" % (self.run, i)))

    def event(self, i):
        t = self.type_of(i)
        tl = self.templates[t]
        ev = json.loads(json.dumps(tl[(i // 8) % len(tl)]))
        ev["event_id"] = self.event_id(i)
        ev[KEY_FIELD[t]] = "%s-k%02d" % (self.run, i % NKEYS)
        ev["source"] = self.org
        return t, ev
