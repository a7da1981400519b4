#!/usr/bin/env python3
"""Prints N aid.dispatched events as compact JSON lines, built from the
valid example, spread over K shipments (the Kafka key) with a per-run
sequence number in `note` ("seq=<i> key=<k>") so tests can check order per
key. event_ids are deterministic UUIDs from --seed. With --seconds-apart S
the i-th event occurs i*S seconds after the example's occurred_at (default
0: all events share one instant); dispatched_on stays the example's day.

    gen_events.py N K [--seed S] [--examples DIR] [--seconds-apart S]
"""
import argparse, datetime, json, os, uuid

ap = argparse.ArgumentParser()
ap.add_argument("n", type=int)
ap.add_argument("k", type=int)
ap.add_argument("--seed", default="relay-test")
ap.add_argument("--examples", default=os.path.join(
    os.path.dirname(__file__), "..", "..", "schemas", "examples", "valid"))
ap.add_argument("--seconds-apart", type=int, default=0)
a = ap.parse_args()
with open(os.path.join(a.examples, "aid.dispatched",
                       "generators-bgk-2022-12.json"), encoding="utf-8") as f:
    base = json.load(f)
t0 = datetime.datetime.fromisoformat(base["occurred_at"].replace("Z", "+00:00"))
for i in range(a.n):
    ev = dict(base)
    if a.seconds_apart:
        t = t0 + datetime.timedelta(seconds=i * a.seconds_apart)
        ev["occurred_at"] = t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    k = i % a.k
    ev["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "%s/%d" % (a.seed, i)))
    ev["shipment_id"] = "S-%s-%03d" % (a.seed, k)
    ev["note"] = "seq=%d key=%d" % (i, k)
    print(json.dumps(ev, ensure_ascii=False, separators=(",", ":")))
