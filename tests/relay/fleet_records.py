#!/usr/bin/env python3
"""Records and events for the relay fleet tests (tests/integration/fleet_*.sh).

    fleet_records.py sub ID ORG URL [NAME=JSON ...]   a subscription record
    fleet_records.py org ID [NAME=JSON ...]           an organisation record
    fleet_records.py events N SEED                    aid.dispatched events
    fleet_records.py status ID [json] < kcat -f '%k\\t%s\\n'
                                                      the last status of ID
                                                      (NONE: none or deleted)

A subscription defaults to topics ["aid.dispatched"], state active,
batch_size 1, the secret from $RECEIVER_SECRET; NAME=JSON sets or replaces a
member (NAME=null removes it). Event i of `events` goes to oblast
Dnipropetrowsk when i is even, else Poltava; its item category is GENERATORS
when i % 4 < 2, else MEDICINES; note = "seq=<i>"; event ids are
deterministic UUIDs from SEED.
"""
import json, os, sys, uuid

here = os.path.dirname(os.path.abspath(__file__))


def members(rec, args):
    for a in args:
        k, v = a.split("=", 1)
        v = json.loads(v)
        if v is None:
            rec.pop(k, None)
        else:
            rec[k] = v
    return rec


def main():
    cmd = sys.argv[1]
    if cmd == "sub":
        sid, org, url = sys.argv[2:5]
        rec = {"id": sid, "org": org, "name": "test-" + sid[:8],
               "topics": ["aid.dispatched"], "endpoint": url,
               "batch_size": 1, "rate_limit_per_s": 0,
               "retry": {"max_elapsed_s": 3600},
               "secret": os.environ["RECEIVER_SECRET"], "state": "active",
               "created_at": "2026-12-01T00:00:00.000Z", "version": 1}
        print(json.dumps(members(rec, sys.argv[5:]), separators=(",", ":")))
    elif cmd == "org":
        rec = {"id": sys.argv[2], "name": sys.argv[2], "kind": "ngo",
               "publish": [], "read": [], "disabled": False, "version": 1}
        print(json.dumps(members(rec, sys.argv[3:]), separators=(",", ":")))
    elif cmd == "events":
        n, seed = int(sys.argv[2]), sys.argv[3]
        with open(os.path.join(here, "..", "..", "schemas", "examples", "valid",
                               "aid.dispatched", "generators-bgk-2022-12.json"),
                  encoding="utf-8") as f:
            base = json.load(f)
        for i in range(n):
            ev = json.loads(json.dumps(base))
            ev["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "%s/%d" % (seed, i)))
            ev["shipment_id"] = "S-%s-%03d" % (seed, i % 7)
            ev["destination"]["oblast"] = "Dnipropetrowsk" if i % 2 == 0 else "Poltava"
            ev["items"][0]["category"] = "GENERATORS" if i % 4 < 2 else "MEDICINES"
            ev["note"] = "seq=%d" % i
            print(json.dumps(ev, ensure_ascii=False, separators=(",", ":")))
    elif cmd == "status":
        last = None
        for line in sys.stdin:
            k, _, v = line.rstrip("\n").partition("\t")
            if k == sys.argv[2]:
                last = v or None  # a tombstone deletes it
        if len(sys.argv) > 3:  # the whole record
            print(last or "null")
        else:
            print(json.loads(last)["state"] if last else "NONE")
    else:
        sys.exit("unknown command " + cmd)


main()
