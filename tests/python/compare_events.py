#!/usr/bin/env python3
"""Compares the events read_topic.py --meta printed with the events that were
published, for tests/integration/python_consumer.sh.

Usage: compare_events.py --schema TYPE.avsc --topic TOPIC --expected IN.jsonl --got OUT.jsonl

IN.jsonl holds the published events, one compact JSON object per line, in
partnerbus's canonical output form (every field present, schema order,
instants with milliseconds, decimals with the schema's scale: see
schemas/examples/README.md), so each event read back must be the same JSON
text, not merely an equal value. OUT.jsonl holds read_topic.py --meta lines.

Checked for every event: printed exactly once with its event_id, JSON text
identical, topic, Kafka key = the field the schema names in
"partnerbus.key", and the CloudEvents headers (ce_specversion 1.0, ce_id =
event_id, ce_type = the type, ce_source = source, ce_time = occurred_at,
content-type application/avro). Exit 0 if all hold; otherwise every
difference is listed and the exit status is 1.
"""

import datetime
import json
import sys

from pb_options import options


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def instant(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def main():
    args = options("schema topic expected got")

    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    etype, keyfield = schema["partnerbus.type"], schema["partnerbus.key"]
    with open(args.expected, encoding="utf-8") as f:
        expected = [json.loads(line) for line in f if line.strip()]
    got = []
    with open(args.got, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    got.append(json.loads(line))
                except ValueError as e:
                    print(f"output line {n} is not JSON: {e}: {line[:200]}")
                    return 1

    problems = []
    by_id = {}
    for m in got:
        ev = m.get("event") if isinstance(m, dict) else None
        if not isinstance(ev, dict) or "event_id" not in ev:
            problems.append(f"output without an event: {compact(m)[:200]}")
            continue
        by_id.setdefault(ev["event_id"], []).append(m)
    if len(got) != len(expected):
        problems.append(f"{len(got)} events read, {len(expected)} published")

    for want in expected:
        eid = want["event_id"]
        ms = by_id.pop(eid, [])
        if len(ms) != 1:
            problems.append(f"{eid}: read {len(ms)} times, expected once")
            if not ms:
                continue
        m = ms[0]
        ev, hdr = m["event"], m.get("headers") or {}
        if compact(ev) != compact(want):
            problems.append(f"{eid}: event differs\n  want {compact(want)}\n  got  {compact(ev)}")
        if m.get("topic") != args.topic:
            problems.append(f"{eid}: topic {m.get('topic')!r}, expected {args.topic!r}")
        if m.get("key") != want[keyfield]:
            problems.append(f"{eid}: key {m.get('key')!r}, expected {keyfield} {want[keyfield]!r}")
        checks = {
            "ce_specversion": "1.0",
            "ce_id": eid,
            "ce_type": etype,
            "ce_source": want["source"],
            "content-type": "application/avro",
        }
        for h, v in checks.items():
            if hdr.get(h) != v:
                problems.append(f"{eid}: header {h} = {hdr.get(h)!r}, expected {v!r}")
        try:
            if instant(hdr.get("ce_time", "")) != instant(want["occurred_at"]):
                problems.append(f"{eid}: ce_time {hdr.get('ce_time')!r} is not occurred_at {want['occurred_at']!r}")
        except ValueError:
            problems.append(f"{eid}: ce_time {hdr.get('ce_time')!r} is not an RFC 3339 instant")
    for eid, ms in by_id.items():
        problems.append(f"{eid}: read {len(ms)} time(s) but never published")

    for p in problems:
        print(p)
    print(f"{args.topic}: {len(expected)} published, {len(got)} read, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
