#!/usr/bin/env python3
"""Read partnerbus topics with your own Kafka client: a consumer to copy.

partnerbus publishes every event as Avro, framed in one of two ways:

* Avro single-object encoding (the default):
      C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer
      schema's Parsing Canonical Form | Avro binary body
  The schemas are the files schemas/*.avsc of partnerbus (or
  `partnerbus schemas show TYPE`); we fingerprint them at start-up and pick
  the writer schema by the 8 bytes.
* Confluent wire format (producers started with --schema-registry URL):
      00 | 4-byte big-endian schema id | Avro binary body
  The writer schema is fetched once per id from the registry:
  GET URL/schemas/ids/{id} -> {"schema": "<schema JSON>"}.

The first byte tells which. Everything else is plain Kafka: one topic per
event type (the type name, with an optional prefix), the key is the id of the
entity (shipment, partnership, grant), and CloudEvents headers (ce_id,
ce_type, ce_source, ce_time, ce_specversion, content-type) travel with each
message.

Each event is printed as one JSON line in partnerbus's natural JSON (the
form `partnerbus produce` accepts): decimals as strings with their scale
("143000.00"), dates "YYYY-MM-DD", instants "YYYY-MM-DDTHH:MM:SS.mmmZ", enums
as their symbol, optional fields null. With --meta each line is
{"topic", "partition", "offset", "key", "headers", "event"}.

Needs: pip install confluent-kafka fastavro   (see requirements.txt)

Examples:
  read_topic.py --brokers kafka:9092 --topics aid.dispatched --from-beginning
  read_topic.py --brokers kafka:9092 --topics aid.dispatched,funds.granted \\
      --group my-agency --schema-registry http://registry:8081

Without --group the topics are read from the beginning (or the end with
--from-end) up to the end of each partition, then the script exits; with
--group it runs as a member of that consumer group, commits offsets after
printing, and runs until --max events or Ctrl-C.

A message that cannot be decoded is reported on stderr with its topic,
partition, offset and the reason, and reading goes on. Exit status: 0, or 1
if any message could not be decoded, 2 on a usage error.
"""

import argparse
import base64
import datetime
import decimal
import glob
import io
import json
import os
import signal
import struct
import sys
import urllib.request
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition, OFFSET_BEGINNING, OFFSET_END
import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

SOE_MAGIC = b"\xc3\x01"   # Avro single-object encoding marker
CONFLUENT_MAGIC = b"\x00"  # Confluent wire format marker


class DecodeError(Exception):
    """A message whose bytes are not a partnerbus event we can read."""


class Decoder:
    """Turns framed Avro bytes into Python values, in either framing."""

    def __init__(self, schema_dir, registry_url=None, timeout=10.0):
        self.by_fingerprint = {}   # 8 wire bytes -> (type name, parsed schema)
        self.by_id = {}            # registry id -> parsed schema
        self.registry_url = registry_url.rstrip("/") if registry_url else None
        self.timeout = timeout
        paths = sorted(glob.glob(os.path.join(schema_dir, "*.avsc")))
        if not paths:
            raise SystemExit(f"read_topic: no *.avsc schemas in {schema_dir}")
        for path in paths:
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
            # fastavro gives the CRC-64-AVRO fingerprint as the hex of its 8
            # little-endian bytes: exactly the bytes after C3 01 on the wire.
            fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
            # each file is parsed on its own: the files share type names
            # (e.g. de.nrw.partnerbus.Organisation)
            name = schema.get("partnerbus.type", os.path.basename(path)[:-5])
            self.by_fingerprint[fp] = (name, fastavro.parse_schema(schema, named_schemas={}))

    def _registry_schema(self, schema_id):
        if schema_id in self.by_id:
            return self.by_id[schema_id]
        if not self.registry_url:
            raise DecodeError(f"Confluent framing (schema id {schema_id}) but no --schema-registry given")
        url = f"{self.registry_url}/schemas/ids/{schema_id}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                body = json.load(resp)
            schema = fastavro.parse_schema(json.loads(body["schema"]), named_schemas={})
        except Exception as e:  # HTTP error, bad JSON, bad schema
            raise DecodeError(f"schema id {schema_id}: {url}: {e}") from None
        self.by_id[schema_id] = schema
        return schema

    def decode(self, value):
        """Returns the event as a dict; raises DecodeError."""
        if value is None:
            raise DecodeError("empty message (tombstone)")
        if value[:2] == SOE_MAGIC:
            if len(value) < 10:
                raise DecodeError("single-object header truncated")
            fp = value[2:10]
            if fp not in self.by_fingerprint:
                raise DecodeError(f"unknown schema fingerprint {fp.hex()} (not in the schema directory)")
            schema = self.by_fingerprint[fp][1]
            body = value[10:]
        elif value[:1] == CONFLUENT_MAGIC:
            if len(value) < 5:
                raise DecodeError("Confluent header truncated")
            (schema_id,) = struct.unpack(">I", value[1:5])
            schema = self._registry_schema(schema_id)
            body = value[5:]
        else:
            raise DecodeError(f"unknown framing (first byte 0x{value[0]:02x})")
        buf = io.BytesIO(body)
        try:
            # To read with a newer schema of your own, pass it as the third
            # argument (reader schema): fastavro resolves writer -> reader.
            record = fastavro.schemaless_reader(buf, schema)
        except Exception as e:  # truncated or crafted bytes
            raise DecodeError(f"Avro body: {type(e).__name__}: {e}") from None
        if buf.tell() != len(body):
            raise DecodeError(f"{len(body) - buf.tell()} trailing bytes after the Avro body")
        return record


def natural_json(v):
    """fastavro values -> partnerbus's natural JSON values."""
    if isinstance(v, dict):
        return {k: natural_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [natural_json(x) for x in v]
    if isinstance(v, decimal.Decimal):
        return format(v, "f")             # keeps the scale: 143000.00
    if isinstance(v, datetime.datetime):  # timestamp-millis, UTC
        v = v.astimezone(datetime.timezone.utc)
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, bytes):              # plain Avro bytes: base64
        return base64.b64encode(v).decode("ascii")
    return v


def text(b):
    return None if b is None else b.decode("utf-8", errors="replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brokers", "-b", default=os.environ.get("PARTNERBUS_BROKERS"),
                    help="bootstrap servers host:port[,...] (env PARTNERBUS_BROKERS)")
    ap.add_argument("--topics", "-t", required=True, help="topic[,topic...]")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--schemas", "-s",
                    default=os.environ.get("PARTNERBUS_SCHEMAS", os.path.join(here, "..", "..", "schemas")),
                    help="directory of the *.avsc schemas (env PARTNERBUS_SCHEMAS)")
    ap.add_argument("--schema-registry", "-r", default=os.environ.get("PARTNERBUS_SCHEMA_REGISTRY"),
                    help="registry URL for Confluent-framed messages")
    ap.add_argument("--group", "-g", help="consumer group (default: none, read to the end and exit)")
    ap.add_argument("--from-end", action="store_true",
                    help="without --group: start at the end instead of the beginning")
    ap.add_argument("--max", type=int, default=0, help="exit after N events (0 = no limit)")
    ap.add_argument("--meta", action="store_true", help="print topic, partition, offset, key, headers too")
    ap.add_argument("--idle-timeout", type=float, default=30.0,
                    help="without --group: give up after this many seconds without a message")
    ap.add_argument("-X", action="append", default=[], metavar="key=value",
                    help="librdkafka property, may repeat")
    args = ap.parse_args()
    if not args.brokers:
        ap.error("--brokers is required (or PARTNERBUS_BROKERS)")

    decoder = Decoder(args.schemas, args.schema_registry)
    conf = {
        "bootstrap.servers": args.brokers,
        # without --group we never commit: the group id is only a name
        "group.id": args.group or f"read-topic-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": args.group is None,
    }
    for kv in args.X:
        k, sep, v = kv.partition("=")
        if not sep:
            ap.error(f"-X {kv}: expected key=value")
        conf[k] = v
    consumer = Consumer(conf)
    topics = [t for t in args.topics.split(",") if t]

    pending = set()  # partitions not yet at their end (no-group mode)
    if args.group:
        consumer.subscribe(topics)
    else:
        md = consumer.list_topics(timeout=30)
        tps = []
        for t in topics:
            tmd = md.topics.get(t)
            if tmd is None or tmd.error is not None:
                raise SystemExit(f"read_topic: topic {t}: {tmd.error if tmd else 'not found'}")
            for p in tmd.partitions:
                tps.append(TopicPartition(t, p, OFFSET_END if args.from_end else OFFSET_BEGINNING))
                pending.add((t, p))
        consumer.assign(tps)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    out = sys.stdout
    count = failed = 0
    idle_since = datetime.datetime.now()
    try:
        while not stop and (args.max == 0 or count < args.max):
            if not args.group and not pending:
                break  # every partition read to its end
            msg = consumer.poll(1.0)
            if msg is None:
                if not args.group and (datetime.datetime.now() - idle_since).total_seconds() > args.idle_timeout:
                    raise SystemExit(f"read_topic: no message for {args.idle_timeout} s, "
                                     f"{len(pending)} partition(s) not at their end")
                continue
            idle_since = datetime.datetime.now()
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard((msg.topic(), msg.partition()))
                    continue
                raise KafkaException(msg.error())
            try:
                event = natural_json(decoder.decode(msg.value()))
            except DecodeError as e:
                failed += 1
                print(f"read_topic: {msg.topic()} [{msg.partition()}] offset {msg.offset()}: {e}",
                      file=sys.stderr)
            else:
                if args.meta:
                    event = {
                        "topic": msg.topic(),
                        "partition": msg.partition(),
                        "offset": msg.offset(),
                        "key": text(msg.key()),
                        "headers": {k: text(v) for k, v in (msg.headers() or [])},
                        "event": event,
                    }
                out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
                out.flush()
                count += 1
            if args.group:
                # at least once: commit only what was printed (or reported)
                consumer.commit(message=msg, asynchronous=False)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    print(f"read_topic: {count} event(s), {failed} undecodable", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
