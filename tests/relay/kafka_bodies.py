#!/usr/bin/env python3
"""Prints "<event_id> <hex Avro body>" for every message of the topics
(single-object framing: 10-byte header stripped), read from the beginning
with confluent-kafka. The event_id is the body's first field (a string):
its zigzag length prefix is parsed here.
    kafka_bodies.py BOOTSTRAP COUNT TOPIC..."""
import sys
from confluent_kafka import Consumer, TopicPartition

b, count, topics = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
c = Consumer({"bootstrap.servers": b, "group.id": "kb-%d" % id(b),
              "enable.auto.commit": False, "auto.offset.reset": "earliest"})
c.subscribe(topics)
got = 0
while got < count:
    m = c.poll(10)
    if m is None:
        break
    if m.error():
        continue
    v = m.value()
    if len(v) < 10 or v[0] != 0xC3:
        continue
    body = v[10:]
    n, shift, i = 0, 0, 0
    while True:
        x = body[i]; i += 1
        n |= (x & 0x7F) << shift; shift += 7
        if not x & 0x80:
            break
    ln = (n >> 1) ^ -(n & 1)
    print(body[i:i + ln].decode(), body.hex())
    got += 1
c.close()
sys.exit(0 if got >= count else 1)
