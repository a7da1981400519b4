"""The receiver's file of delivered events, read per key.

sequences(path, mark, first_only): the events (JSON lines {"event": ...})
whose shipment_id contains mark, each key's (shipment_id's) sequence
numbers (note "seq=N key=K") in the order delivered, and the event_ids;
with first_only an event delivered again is counted once. Fails unless
every key's numbers rise.
"""

import collections
import json


def sequences(path, mark="", first_only=False):
    per_key, ids, seen = collections.defaultdict(list), [], set()
    for line in open(path, encoding="utf-8"):
        e = json.loads(line)["event"]
        if mark not in e["shipment_id"] or (first_only and e["event_id"] in seen):
            continue
        seen.add(e["event_id"])
        ids.append(e["event_id"])
        seq, _key = (int(x.split("=")[1]) for x in e["note"].split())
        per_key[e["shipment_id"]].append(seq)
    for k, seqs in per_key.items():
        assert seqs == sorted(seqs), ("order broken for", k, seqs[:20])
    return per_key, ids
