#!/usr/bin/env python3
"""Kafka-side helpers and the checker of the cluster test.

Runs in the test venv (tests/python/requirements.txt: confluent-kafka for
the admin and offset queries, fastavro as an Avro reader independent of
partnerbus's own codec).

  check.py create-topics --brokers B --topics T,... [--partitions 3] [--rf 3]
  check.py leaders --brokers B --topics T,...
        one line per broker: "<id> <partitions it leads>", most first
  check.py lag --brokers B --group G --topics T,...
        prints "lag=<sum> committed=<sum> end=<sum>"; exit 0 only if lag 0
        (the group's committed offset equals the end of every partition)
  check.py verify --answers answers.jsonl --topics-dump consumed.jsonl \
      --archive DIR --examples DIR --run R --org ORG --count N
        prints the counts and exits 1 on any loss, duplicate, mismatch
"""
import argparse
import collections
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from events import EventSet  # noqa: E402


def cmd_create_topics(a):
    from confluent_kafka.admin import AdminClient, NewTopic
    ad = AdminClient({"bootstrap.servers": a.brokers})
    fs = ad.create_topics([NewTopic(t, num_partitions=a.partitions,
                                    replication_factor=a.rf)
                           for t in a.topics.split(",")],
                          operation_timeout=30, request_timeout=60)
    for t, f in fs.items():
        f.result()  # raises on failure
        print("created %s partitions=%d rf=%d" % (t, a.partitions, a.rf))


def cmd_leaders(a):
    from confluent_kafka.admin import AdminClient
    ad = AdminClient({"bootstrap.servers": a.brokers})
    md = ad.list_topics(timeout=20)
    n = collections.Counter({b: 0 for b in md.brokers})
    for t in a.topics.split(","):
        for p in md.topics[t].partitions.values():
            n[p.leader] += 1
    for b, c in n.most_common():
        print(b, c)


def cmd_lag(a):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": a.group,
                  "enable.auto.commit": False})
    try:
        md = c.list_topics(timeout=20)
        tps = [TopicPartition(t, p) for t in a.topics.split(",")
               for p in sorted(md.topics[t].partitions)]
        com = c.committed(tps, timeout=20)
        lag = tot_c = tot_e = 0
        for tp in com:
            lo, hi = c.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=20)
            off = tp.offset if tp.offset >= 0 else lo
            lag += max(hi - off, 0)
            tot_c += max(tp.offset, 0)
            tot_e += hi
        print("lag=%d committed=%d end=%d" % (lag, tot_c, tot_e))
        sys.exit(0 if lag == 0 else 1)
    finally:
        c.close()


def read_archive(d):
    """event_id -> list of archive topics (directory names); file errors"""
    import fastavro
    seen = collections.defaultdict(list)
    errors = []
    nfiles = 0
    for path in sorted(glob.glob(os.path.join(d, "*", "*.avro"))):
        topic = os.path.basename(os.path.dirname(path))
        nfiles += 1
        n = 0
        try:
            with open(path, "rb") as f:
                for rec in fastavro.reader(f):
                    seen[str(rec["event_id"])].append(topic)
                    n += 1
        except Exception as e:  # noqa: BLE001 - reported, judged by counts
            errors.append("%s: after %d records: %s: %s" % (
                os.path.relpath(path, d), n, type(e).__name__, e))
    return seen, errors, nfiles


def cmd_verify(a):
    es = EventSet(a.examples, a.run, a.org)
    id2i = {es.event_id(i): i for i in range(a.count)}
    fails = []

    # --- what the gateways answered
    acked = {}          # event_id -> (topic, partition, offset)
    final = {}          # i -> final status
    attempts = collections.Counter()
    per_gw = collections.Counter()
    unexpected_answers = []
    retried = 0
    max_ms = 0
    slow = 0
    with open(a.answers, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("final"):
                final[r["i"]] = r["status"]
                continue
            st = r["status"]
            attempts[str(st)] += 1
            max_ms = max(max_ms, r.get("ms", 0))
            slow += r.get("ms", 0) > 1000
            if r["attempt"] == 2:
                retried += 1
            if isinstance(st, int) and 200 <= st < 300:
                where = (r["topic"], r["partition"], r["offset"])
                if r.get("error") or r["topic"] != r["type"] or \
                        not isinstance(r["offset"], int):
                    unexpected_answers.append(line.strip())
                if r["event_id"] in acked and acked[r["event_id"]] != where:
                    unexpected_answers.append(
                        "two 2xx answers disagree: %s vs %s" % (
                            acked[r["event_id"]], line.strip()))
                acked[r["event_id"]] = where
                per_gw[r["gw"]] += 1
            elif not (st == "conn_error" or st >= 500 or
                      st in (408, 409, 429)):
                unexpected_answers.append(line.strip())
    if len(final) != a.count:
        fails.append("the load generator recorded a final answer for %d of "
                     "%d events" % (len(final), a.count))
    not_acked = {es.event_id(i) for i, st in final.items()
                 if not (isinstance(st, int) and 200 <= st < 300)}
    print("gateways: events=%d answered_2xx=%d (gateway 1: %d, gateway 2: "
          "%d) never_2xx=%d retried=%d attempts_by_status=%s "
          "answers_over_1s=%d slowest_answer_ms=%.0f" % (
              a.count, len(acked), per_gw[0], per_gw[1], len(not_acked),
              retried, json.dumps(dict(sorted(attempts.items()))), slow,
              max_ms))
    if unexpected_answers:
        fails.append("%d unexpected answers, e.g. %s" % (
            len(unexpected_answers), unexpected_answers[0][:400]))

    # --- what the topics hold
    in_topic = collections.defaultdict(list)
    unexpected_in_topic = 0
    content_mismatch = []
    n_msgs = 0
    with open(a.topics_dump, encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            n_msgs += 1
            ev = m["event"]
            eid = ev.get("event_id")
            where = (m["topic"], m["partition"], m["offset"])
            if eid not in id2i:
                unexpected_in_topic += 1
                continue
            in_topic[eid].append(where)
            t, want = es.event(id2i[eid])
            if m["topic"] != t or ev != want:
                content_mismatch.append("%s at %s" % (eid, where))
    lost = [e for e in acked if e not in in_topic]
    dup = [e for e, w in in_topic.items() if len(w) > 1]
    moved = [e for e, w in acked.items()
             if e in in_topic and w not in in_topic[e]]
    failed_present = [e for e in not_acked if e in in_topic]
    print("topics: messages=%d distinct_event_ids=%d "
          "never_2xx_but_present=%d" % (
              n_msgs, len(in_topic), len(failed_present)))
    print("lost=%d duplicated_in_topic=%d unexpected_in_topic=%d "
          "offset_mismatch=%d content_mismatch=%d" % (
              len(lost), len(dup), unexpected_in_topic, len(moved),
              len(content_mismatch)))
    for name, lst in (("lost", lost), ("duplicated_in_topic", dup),
                      ("offset_mismatch", moved)):
        if lst:
            fails.append("%s: %d, e.g. %s (answered %s, found at %s)" % (
                name, len(lst), lst[0], acked.get(lst[0]),
                in_topic.get(lst[0])))
    if content_mismatch:
        fails.append("content_mismatch: %d, e.g. %s" % (
            len(content_mismatch), content_mismatch[0]))
    if unexpected_in_topic:
        fails.append("unexpected_in_topic: %d" % unexpected_in_topic)

    # --- what the relays archived
    arch, errors, nfiles = read_archive(a.archive)
    total = sum(len(v) for v in arch.values())
    published = set(in_topic)
    missing = [e for e in published if e not in arch]
    extra = [e for e in arch if e not in published]
    wrong_topic = [e for e, ts in arch.items()
                   if e in id2i and any(t != es.type_of(id2i[e])
                                        for t in ts)]
    print("archive: files=%d records=%d distinct_event_ids=%d "
          "unreadable_tails=%d" % (nfiles, total, len(arch), len(errors)))
    for e in errors:
        print("archive: read error (records before it count): " + e)
    print("archive_missing=%d archive_extra=%d archive_wrong_topic=%d "
          "archive_duplicates_before_dedup=%d" % (
              len(missing), len(extra), len(wrong_topic), total - len(arch)))
    if missing:
        fails.append("archive_missing: %d, e.g. %s" % (len(missing),
                                                        missing[0]))
    if extra:
        fails.append("archive_extra: %d, e.g. %s" % (len(extra), extra[0]))
    if wrong_topic:
        fails.append("archive_wrong_topic: %d, e.g. %s" % (
            len(wrong_topic), wrong_topic[0]))
    if not acked:
        fails.append("no event was answered 2xx")
    if nfiles == 0:
        fails.append("the archive holds no files")

    for f in fails:
        print("FAIL: " + f)
    print("verdict: %s" % ("FAIL" if fails else "ok"))
    sys.exit(1 if fails else 0)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("create-topics")
    p.add_argument("--brokers", required=True)
    p.add_argument("--topics", required=True)
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--rf", type=int, default=3)
    p = sub.add_parser("leaders")
    p.add_argument("--brokers", required=True)
    p.add_argument("--topics", required=True)
    p = sub.add_parser("lag")
    p.add_argument("--brokers", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--topics", required=True)
    p = sub.add_parser("verify")
    for k in ("answers", "topics-dump", "archive", "examples", "run", "org"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--count", type=int, required=True)
    a = ap.parse_args()
    {"create-topics": cmd_create_topics, "leaders": cmd_leaders,
     "lag": cmd_lag, "verify": cmd_verify}[a.cmd](a)


if __name__ == "__main__":
    main()
