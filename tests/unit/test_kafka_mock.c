/* Unit tests for pb_kafka.c against librdkafka's in-process mock cluster
 * (the embedded development broker): configuration, producer delivery
 * reports and CloudEvents headers, consumer without a group (stop at end)
 * and with a group (store, commit, a second member resumes after the
 * commit), queue-full mapping. The real-Kafka tests are in
 * tests/integration/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "partnerbus/pb_kafka.h"

typedef struct dr_state {
        int ok, failed;
        intptr_t max_opaque;
        int64_t last_offset;
        int32_t last_partition;
        char topic[128];
        void *last_opaque;
} dr_state_t;

static void dr_cb(void *opaque, void *msg_opaque, pb_resp_t err,
                  const char *errstr, const char *topic, int32_t partition,
                  int64_t offset) {
        dr_state_t *st = opaque;
        (void)errstr;
        if (err == PB_OK)
                st->ok++;
        else
                st->failed++;
        st->last_offset = offset;
        st->last_partition = partition;
        st->last_opaque = msg_opaque;
        if ((intptr_t)msg_opaque > st->max_opaque)
                st->max_opaque = (intptr_t)msg_opaque;
        snprintf(st->topic, sizeof(st->topic), "%s", topic);
}

static void meta_fill(pb_event_meta_t *m, int i) {
        memset(m, 0, sizeof(*m));
        snprintf(m->event_id, sizeof(m->event_id),
                 "00000000-0000-4000-8000-%012d", i);
        m->occurred_at_ms = 1677578400000LL + i; /* 2023-02-28T10:00:00Z */
        snprintf(m->source, sizeof(m->source), "blau-gelbes-kreuz");
        m->key_len = (size_t)snprintf(m->key, sizeof(m->key), "ship-%d", i % 3);
}

static void test_conf(void **state) {
        pb_kafka_conf_t c;
        char buf[64];
        (void)state;
        memset(&c, 0, sizeof(c));
        assert_int_equal(pb_kafka_conf_add(&c, "linger.ms=20"), PB_OK);
        assert_int_equal(pb_kafka_conf_add(&c, "nokey"), PB_ERR_ARG);
        assert_int_equal(pb_kafka_conf_add(&c, "=v"), PB_ERR_ARG);
        assert_int_equal(c.nprops, 1);
        assert_string_equal(
            pb_kafka_topic(&c, "aid.dispatched", buf, sizeof(buf)),
            "aid.dispatched");
        c.topic_prefix = "test-";
        assert_string_equal(
            pb_kafka_topic(&c, "aid.dispatched", buf, sizeof(buf)),
            "test-aid.dispatched");
}

static void test_producer_needs_brokers(void **state) {
        pb_kafka_conf_t c;
        char err[256] = "";
        (void)state;
        memset(&c, 0, sizeof(c));
        assert_null(pb_producer_new(&c, dr_cb, NULL, err, sizeof(err)));
        assert_non_null(strstr(err, "brokers"));
        c.brokers = "127.0.0.1:1";
        pb_kafka_conf_add(&c, "no.such.property=1");
        assert_null(pb_producer_new(&c, dr_cb, NULL, err, sizeof(err)));
        assert_non_null(strstr(err, "no.such.property"));
}

/* Produces n messages to topic; returns after every delivery report. */
static void produce_n(const char *brokers, const char *topic, int first,
                      int n) {
        pb_kafka_conf_t c;
        dr_state_t st;
        char err[256];
        pb_producer_t *p;
        int i;
        memset(&c, 0, sizeof(c));
        memset(&st, 0, sizeof(st));
        c.brokers = brokers;
        p = pb_producer_new(&c, dr_cb, &st, err, sizeof(err));
        assert_non_null(p);
        for (i = first; i < first + n; i++) {
                pb_event_meta_t m;
                char value[64];
                const char *extra[] = {"x-test", "yes", NULL};
                int len = snprintf(value, sizeof(value), "value-%d", i);
                meta_fill(&m, i);
                assert_int_equal(pb_producer_send(p, topic, "aid.dispatched",
                                                  &m, value, (size_t)len, extra,
                                                  (void *)(intptr_t)(i + 1),
                                                  err, sizeof(err)),
                                 PB_OK);
        }
        assert_int_equal(pb_producer_flush(p, 10000), PB_OK);
        assert_int_equal(st.ok, n);
        assert_int_equal(st.failed, 0);
        assert_string_equal(st.topic, topic);
        assert_true(st.last_offset >= 0);
        /* reports of different partitions come in any order */
        assert_int_equal(st.max_opaque, first + n);
        assert_int_equal(pb_producer_outq_len(p), 0);
        pb_producer_destroy(p);
}

/* Consumes until the end / timeout; returns the count, checks headers. */
static int consume_all(const char *brokers, const char *topic,
                       const char *group, int expect, int *seen_ids) {
        pb_kafka_conf_t c;
        pb_consumer_opts_t o;
        pb_consumer_t *cons;
        const char *topics[1];
        char err[256];
        int n = 0, idle = 0;
        memset(&c, 0, sizeof(c));
        memset(&o, 0, sizeof(o));
        c.brokers = brokers;
        /* the mock coordinator waits a full session timeout before a
         * group's next generation, even after a clean LeaveGroup */
        pb_kafka_conf_add(&c, "session.timeout.ms=6000");
        pb_kafka_conf_add(&c, "heartbeat.interval.ms=500");
        o.group = group;
        o.from_beginning = 1;
        o.stop_at_end = group == NULL;
        topics[0] = topic;
        cons = pb_consumer_new(&c, &o, topics, 1, err, sizeof(err));
        if (!cons)
                fail_msg("consumer: %s", err);
        /* up to `expect` messages come within 15 s (the group join takes
         * a few seconds); after that 2 s without a message ends */
        for (;;) {
                pb_message_t m;
                size_t hl = 0;
                const void *h;
                int id;
                pb_resp_t r = pb_consumer_poll(cons, &m, 500, err, sizeof(err));
                if (r == PB_END)
                        break;
                if (r == PB_ERR_TIMEOUT) {
                        /* with a group: give the join time, then stop */
                        if (++idle > (n >= expect ? 4 : 30))
                                break;
                        continue;
                }
                assert_int_equal(r, PB_OK);
                assert_string_equal(m.topic, topic);
                assert_true(m.timestamp_ms > 0);
                {
                        /* the payload is not NUL-terminated */
                        char v[64];
                        assert_true(m.len < sizeof(v));
                        memcpy(v, m.value, m.len);
                        v[m.len] = 0;
                        assert_int_equal(sscanf(v, "value-%d", &id), 1);
                }
                if (seen_ids)
                        seen_ids[id]++;
                h = pb_message_header(&m, "ce_specversion", &hl);
                assert_non_null(h);
                assert_memory_equal(h, "1.0", 3);
                assert_int_equal(hl, 3);
                h = pb_message_header(&m, "ce_type", &hl);
                assert_memory_equal(h, "aid.dispatched", hl);
                h = pb_message_header(&m, "ce_time", &hl);
                assert_int_equal(hl, 24); /* 2023-02-28T10:00:00.0NNZ */
                assert_memory_equal(h, "2023-02-28T10:00:00.", 20);
                h = pb_message_header(&m, "content-type", &hl);
                assert_memory_equal(h, "application/avro", hl);
                h = pb_message_header(&m, "x-test", &hl);
                assert_memory_equal(h, "yes", hl);
                assert_null(pb_message_header(&m, "nope", &hl));
                {
                        char key[32];
                        int kl = snprintf(key, sizeof(key), "ship-%d", id % 3);
                        assert_int_equal(m.key_len, kl);
                        assert_memory_equal(m.key, key, (size_t)kl);
                }
                {
                        const char *name;
                        const void *v;
                        size_t vl, i = 0;
                        while (pb_message_header_at(&m, i, &name, &v, &vl))
                                i++;
                        assert_int_equal(i, 7); /* 6 ce/content + x-test */
                }
                idle = 0;
                assert_int_equal(pb_consumer_store(cons, &m), PB_OK);
                pb_message_release(&m);
                n++;
        }
        if (group)
                assert_int_equal(pb_consumer_commit(cons, 0), PB_OK);
        pb_consumer_destroy(cons);
        return n;
}

static void test_roundtrip_no_group(void **state) {
        char err[256];
        int seen[50] = {0}, i;
        pb_mock_broker_t *mb = pb_mock_broker_new(1, err, sizeof(err));
        (void)state;
        assert_non_null(mb);
        assert_non_null(strstr(pb_mock_broker_bootstraps(mb), "127.0.0.1"));
        produce_n(pb_mock_broker_bootstraps(mb), "t-nogroup", 0, 50);
        /* stop_at_end: returns once every partition reached its end */
        assert_int_equal(consume_all(pb_mock_broker_bootstraps(mb), "t-nogroup",
                                     NULL, 50, seen),
                         50);
        for (i = 0; i < 50; i++)
                assert_int_equal(seen[i], 1);
        pb_mock_broker_destroy(mb);
}

/* The mock cluster creates a topic on the first metadata request for it;
 * every partition of the empty topic must still report its end. */
static void test_empty_topic_reaches_end(void **state) {
        char err[256] = "";
        pb_mock_broker_t *mb = pb_mock_broker_new(1, err, sizeof(err));
        (void)state;
        assert_non_null(mb);
        assert_int_equal(consume_all(pb_mock_broker_bootstraps(mb),
                                     "never-produced", NULL, 0, NULL),
                         0);
        pb_mock_broker_destroy(mb);
}

/* the poll's three outcomes without a message are distinct codes: nothing
 * yet (PB_ERR_TIMEOUT), every partition at its end (PB_END) */
static pb_resp_t poll_until_not_timeout(pb_consumer_t *cons, pb_message_t *m) {
        char err[256];
        pb_resp_t r = PB_ERR_TIMEOUT;
        int i;
        for (i = 0; i < 60 && r == PB_ERR_TIMEOUT; i++)
                r = pb_consumer_poll(cons, m, 250, err, sizeof(err));
        return r;
}

/* a consumer of topic on mb (in group, or without one), from the
 * beginning */
static pb_consumer_t *consumer_of(pb_mock_broker_t *mb, const char *topic,
                                  const char *group, int stop_at_end) {
        pb_kafka_conf_t c;
        pb_consumer_opts_t o;
        pb_consumer_t *cons;
        const char *topics[1];
        char err[256] = "";
        memset(&c, 0, sizeof(c));
        memset(&o, 0, sizeof(o));
        c.brokers = pb_mock_broker_bootstraps(mb);
        pb_kafka_conf_add(&c, "session.timeout.ms=6000"); /* see above */
        pb_kafka_conf_add(&c, "heartbeat.interval.ms=500");
        o.group = group;
        o.from_beginning = 1;
        o.stop_at_end = stop_at_end;
        topics[0] = topic;
        cons = pb_consumer_new(&c, &o, topics, 1, err, sizeof(err));
        if (!cons)
                fail_msg("consumer: %s", err);
        return cons;
}

static void test_poll_timeout_and_end(void **state) {
        pb_consumer_t *cons;
        pb_message_t m;
        char err[256] = "";
        pb_mock_broker_t *mb = pb_mock_broker_new(1, err, sizeof(err));
        (void)state;
        assert_non_null(mb);
        produce_n(pb_mock_broker_bootstraps(mb), "t-codes", 0, 1);
        /* without stop_at_end: the message, then a timeout */
        cons = consumer_of(mb, "t-codes", NULL, 0);
        assert_int_equal(poll_until_not_timeout(cons, &m), PB_OK);
        pb_message_release(&m);
        assert_int_equal(pb_consumer_poll(cons, &m, 100, err, sizeof(err)),
                         PB_ERR_TIMEOUT);
        assert_int_equal(pb_consumer_poll(cons, &m, 0, err, sizeof(err)),
                         PB_ERR_TIMEOUT);
        pb_consumer_destroy(cons);
        /* with stop_at_end: the message, then the end */
        cons = consumer_of(mb, "t-codes", NULL, 1);
        assert_int_equal(poll_until_not_timeout(cons, &m), PB_OK);
        pb_message_release(&m);
        assert_int_equal(poll_until_not_timeout(cons, &m), PB_END);
        pb_consumer_destroy(cons);
        pb_mock_broker_destroy(mb);
}

/* pb_consumer_pause stops a partition's fetch and resumes it. Without a
 * group the one manual assignment is number 1. */
static void test_pause_and_assignment(void **state) {
        pb_consumer_t *cons;
        pb_message_t m;
        char err[256] = "";
        int32_t part;
        pb_mock_broker_t *mb = pb_mock_broker_new(1, err, sizeof(err));
        (void)state;
        assert_non_null(mb);
        produce_n(pb_mock_broker_bootstraps(mb), "t-pause", 0, 1);
        cons = consumer_of(mb, "t-pause", NULL, 0);
        assert_int_equal(pb_consumer_assign_seq(cons), 1);
        assert_int_equal(poll_until_not_timeout(cons, &m), PB_OK);
        part = m.partition;
        pb_message_release(&m);
        assert_int_equal(pb_consumer_assigned_in(cons, "t-pause", part), 1);
        assert_int_equal(pb_consumer_assigned_in(cons, "t-pause", 9999), 0);
        assert_int_equal(pb_consumer_assigned_in(cons, "t-other", part), 0);
        /* paused: the next event of the same key (same partition) waits */
        assert_int_equal(pb_consumer_pause(cons, "t-pause", part, 1), PB_OK);
        produce_n(pb_mock_broker_bootstraps(mb), "t-pause", 0, 1);
        assert_int_equal(pb_consumer_poll(cons, &m, 1500, err, sizeof(err)),
                         PB_ERR_TIMEOUT);
        assert_int_equal(pb_consumer_pause(cons, "t-pause", part, 0), PB_OK);
        assert_int_equal(poll_until_not_timeout(cons, &m), PB_OK);
        assert_int_equal(m.partition, part);
        assert_int_equal(m.offset, 1);
        pb_message_release(&m);
        pb_consumer_destroy(cons);
        pb_mock_broker_destroy(mb);
}

/* A partition paused, taken away by a rebalance and given back comes back
 * unpaused, with a new assignment number: librdkafka keeps the pause, the
 * consumer resumes it before assigning. (Eager rebalances: every
 * partition is revoked when a member joins or leaves.) */
static void test_pause_across_rebalance(void **state) {
        pb_consumer_t *a, *b;
        pb_message_t m;
        char err[256] = "";
        int32_t part;
        uint64_t seq, epoch;
        int i, got = 0;
        pb_mock_broker_t *mb = pb_mock_broker_new(1, err, sizeof(err));
        (void)state;
        assert_non_null(mb);
        produce_n(pb_mock_broker_bootstraps(mb), "t-reb", 0, 1);
        a = consumer_of(mb, "t-reb", "g-reb", 0);
        assert_int_equal(poll_until_not_timeout(a, &m), PB_OK);
        part = m.partition;
        pb_message_release(&m);
        seq = pb_consumer_assign_seq(a);
        epoch = pb_consumer_assigned_in(a, "t-reb", part);
        assert_true(seq >= 1);
        assert_int_equal(epoch, seq);
        assert_int_equal(pb_consumer_pause(a, "t-reb", part, 1), PB_OK);
        /* b joins: a loses everything and gets some of it back */
        b = consumer_of(mb, "t-reb", "g-reb", 0);
        for (i = 0; i < 300 && (pb_consumer_assign_seq(a) == seq ||
                                pb_consumer_assign_seq(b) == 0);
             i++) {
                if (pb_consumer_poll(a, &m, 50, err, sizeof(err)) == PB_OK)
                        pb_message_release(&m);
                if (pb_consumer_poll(b, &m, 50, err, sizeof(err)) == PB_OK)
                        pb_message_release(&m);
        }
        assert_true(pb_consumer_assign_seq(a) > seq);
        assert_true(pb_consumer_assign_seq(b) >= 1);
        /* whoever holds it now, a has it paused when it comes back: a
         * partition a got back here was resumed before the assign */
        if (pb_consumer_assigned_in(a, "t-reb", part))
                assert_int_equal(pb_consumer_pause(a, "t-reb", part, 1), PB_OK);
        /* b leaves: a gets every partition back, the paused one too */
        seq = pb_consumer_assign_seq(a);
        pb_consumer_destroy(b);
        produce_n(pb_mock_broker_bootstraps(mb), "t-reb", 0, 1); /* to part */
        for (i = 0; i < 300 && !got; i++) {
                if (pb_consumer_poll(a, &m, 100, err, sizeof(err)) != PB_OK)
                        continue;
                got = m.partition == part && pb_consumer_assign_seq(a) > seq;
                pb_message_release(&m);
        }
        assert_true(pb_consumer_assign_seq(a) > seq);
        assert_true(pb_consumer_assigned_in(a, "t-reb", part) > epoch);
        assert_true(got); /* fetched again: not left paused */
        pb_consumer_destroy(a);
        pb_mock_broker_destroy(mb);
}

static void test_group_commit(void **state) {
        char err[256];
        int seen[40] = {0}, i;
        pb_mock_broker_t *mb = pb_mock_broker_new(3, err, sizeof(err));
        const char *b;
        (void)state;
        assert_non_null(mb);
        b = pb_mock_broker_bootstraps(mb);
        produce_n(b, "t-group", 0, 20);
        assert_int_equal(consume_all(b, "t-group", "g1", 20, seen), 20);
        /* the group committed: a new member resumes after offset 20 */
        produce_n(b, "t-group", 20, 20);
        assert_int_equal(consume_all(b, "t-group", "g1", 20, seen), 20);
        for (i = 0; i < 40; i++)
                assert_int_equal(seen[i], 1);
        /* another group starts from the beginning */
        assert_int_equal(consume_all(b, "t-group", "g2", 40, NULL), 40);
        pb_mock_broker_destroy(mb);
}

static void test_queue_full(void **state) {
        pb_kafka_conf_t c;
        dr_state_t st;
        char err[256];
        pb_event_meta_t m;
        pb_producer_t *p;
        pb_resp_t r = PB_OK;
        int i;
        pb_mock_broker_t *mb = pb_mock_broker_new(1, err, sizeof(err));
        (void)state;
        assert_non_null(mb);
        memset(&c, 0, sizeof(c));
        memset(&st, 0, sizeof(st));
        c.brokers = pb_mock_broker_bootstraps(mb);
        pb_kafka_conf_add(&c, "queue.buffering.max.messages=2");
        pb_kafka_conf_add(&c, "linger.ms=1000");
        p = pb_producer_new(&c, dr_cb, &st, err, sizeof(err));
        assert_non_null(p);
        meta_fill(&m, 1);
        for (i = 0; i < 10 && r == PB_OK; i++)
                r = pb_producer_send(p, "t-full", "aid.dispatched", &m, "v", 1,
                                     NULL, NULL, err, sizeof(err));
        assert_int_equal(r, PB_ERR_QUEUE_FULL);
        assert_non_null(strstr(err, "t-full"));
        assert_int_equal(pb_producer_flush(p, 10000), PB_OK);
        assert_int_equal(st.ok, i - 1);
        /* raw send: no CloudEvents headers */
        assert_int_equal(pb_producer_send_raw(p, "t-full", NULL, 0, "raw", 3,
                                              NULL, NULL, err, sizeof(err)),
                         PB_OK);
        assert_int_equal(pb_producer_flush(p, 10000), PB_OK);
        assert_int_equal(st.ok, i);
        pb_producer_destroy(p);
        pb_mock_broker_destroy(mb);
}

PB_TEST_MAIN(cmocka_unit_test(test_conf),
             cmocka_unit_test(test_producer_needs_brokers),
             cmocka_unit_test(test_roundtrip_no_group),
             cmocka_unit_test(test_empty_topic_reaches_end),
             cmocka_unit_test(test_poll_timeout_and_end),
             cmocka_unit_test(test_pause_and_assignment),
             cmocka_unit_test(test_pause_across_rebalance),
             cmocka_unit_test(test_group_commit),
             cmocka_unit_test(test_queue_full))
