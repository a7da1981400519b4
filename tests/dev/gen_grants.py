#!/usr/bin/env python3
"""gen_grants.py N [SEED]: N distinct funds.granted events as JSON lines on
stdout, for the dev tests. Event i has the event id UUID(int=SEED<<64 | i)
and its own grant id, so a reader can tell every event apart and find
duplicates; the seed (default 1) is printed on stderr."""
import json
import sys
import uuid

n = int(sys.argv[1])
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
print("gen_grants: %d events, seed %d" % (n, seed), file=sys.stderr)
base = {
    "occurred_at": "2023-03-01T10:00:00.000Z",
    "source": "staatskanzlei-nrw",
    "grantor": {"name": "Staatskanzlei des Landes Nordrhein-Westfalen",
                "kind": "STATE_GOVERNMENT", "city": "Düsseldorf",
                "region": "Nordrhein-Westfalen", "country": "DE"},
    "recipient": {"name": "Stadt Dnipro", "kind": "MUNICIPALITY",
                  "city": "Дніпро", "region": "Dnipropetrowsk", "country": "UA"},
    "programme": "Wiederaufbauprojekte NRW-Dnipropetrowsk",
    "purpose": "Wiederaufbau kommunaler Infrastruktur",
    "currency": "EUR", "recurrence": "ONCE", "granted_on": "2023-03-01",
    "note": None,
}
out = sys.stdout
for i in range(n):
    ev = {"event_id": str(uuid.UUID(int=(seed << 64) | i))}
    ev.update(base)
    ev["grant_id"] = "DEV-%d-%07d" % (seed, i)
    ev["amount"] = "%d.%02d" % (1000 + i % 100000, i % 100)
    out.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")
