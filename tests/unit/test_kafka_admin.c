/* Unit tests for lib/kafka's admin helpers and transaction calls
 * (pb_kafka_admin.c) against librdkafka's in-process mock cluster: topic
 * creation (the mock cluster of librdkafka 2.0.2 does not answer
 * CreateTopics: the helper must say so within its time), partitions and
 * watermarks, the time lookup refusing a broker that answers every time
 * with the end offset (the mock cluster: the history source then scans,
 * --reset-group changes nothing), and transactions: commit, abort, a call
 * that is not allowed (abortable, not fatal). The group helpers are not
 * tested here: the mock cluster of librdkafka 2.0.2 answers neither
 * DescribeConsumerGroups nor AlterConsumerGroupOffsets, and a handle that
 * asked them never finishes rd_kafka_destroy; it.replay_reset_group
 * checks them on real Kafka. Fencing by a second producer with the same
 * transactional.id is not enforced by the mock cluster; the poll
 * integration tests (tests/integration/poll_json.sh) check it on real
 * Kafka, as they check the state topic's creation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pb_test.h"

#include "partnerbus/pb_kafka.h"

typedef struct dr_state {
        int ok, failed;
} dr_state_t;

static void dr_cb(void *opaque, void *msg_opaque, pb_resp_t err,
                  const char *errstr, const char *topic, int32_t partition,
                  int64_t offset) {
        dr_state_t *st = opaque;
        (void)msg_opaque, (void)errstr, (void)topic, (void)partition,
            (void)offset;
        if (err == PB_OK)
                st->ok++;
        else
                st->failed++;
}

static pb_producer_t *producer(const char *brokers, const char *txn_id,
                               dr_state_t *st) {
        pb_kafka_conf_t c;
        char err[256], prop[128];
        pb_producer_t *p;
        memset(&c, 0, sizeof(c));
        c.brokers = brokers;
        if (txn_id) {
                snprintf(prop, sizeof(prop), "transactional.id=%s", txn_id);
                assert_int_equal(pb_kafka_conf_add(&c, prop), PB_OK);
                assert_int_equal(
                    pb_kafka_conf_add(&c, "transaction.timeout.ms=10000"),
                    PB_OK);
        }
        p = pb_producer_new(&c, dr_cb, st, err, sizeof(err));
        assert_non_null(p);
        return p;
}

static void send_n(pb_producer_t *p, const char *topic, int n) {
        char err[256], v[32];
        int i;
        for (i = 0; i < n; i++) {
                int len = snprintf(v, sizeof(v), "v%d", i);
                assert_int_equal(pb_producer_send_raw(p, topic, v, (size_t)len,
                                                      v, (size_t)len, NULL,
                                                      NULL, err, sizeof(err)),
                                 PB_OK);
        }
}

static void test_null_and_args(void **state) {
        char err[128] = "";
        pb_topic_spec_t spec;
        (void)state;
        pb_kafka_offsets_destroy(NULL);
        assert_null(
            pb_kafka_offsets_new(NULL, NULL, 0, 1000, err, sizeof(err)));
        assert_true(err[0] != 0);
        memset(&spec, 0, sizeof(spec));
        assert_int_equal(pb_kafka_topic_ensure(NULL, &spec, err, sizeof(err)),
                         PB_TOPIC_ERROR);
        assert_int_equal(pb_producer_txn_begin(NULL, err, sizeof(err)),
                         PB_TXN_FATAL);
        assert_int_equal(pb_consumer_unassign(NULL), PB_ERR_ARG);
}

static void test_topic_ensure(void **state) {
        static const char *const config[] = {"cleanup.policy", "compact", NULL};
        char err[256] = "";
        pb_mock_broker_t *m = pb_mock_broker_new(1, err, sizeof(err));
        dr_state_t st = {0, 0};
        pb_producer_t *p;
        pb_topic_spec_t spec;
        pb_topic_res_t r;
        time_t t0;
        (void)state;
        assert_non_null(m);
        p = producer(pb_mock_broker_bootstraps(m), NULL, &st);
        memset(&spec, 0, sizeof(spec));
        spec.name = "admin-state";
        spec.partitions = 3;
        spec.replication = -1;
        spec.config = config;
        spec.timeout_ms = 1000;
        t0 = time(NULL);
        r = pb_kafka_topic_ensure(pb_producer_rk(p), &spec, err, sizeof(err));
        assert_true(r == PB_TOPIC_CREATED || r == PB_TOPIC_NO_ANSWER);
        assert_true(time(NULL) - t0 <= 4);
        if (r == PB_TOPIC_NO_ANSWER)
                assert_non_null(strstr(err, "no answer"));
        spec.name = "admin-bad";
        spec.partitions = -2; /* refused before a request is sent */
        err[0] = 0;
        r = pb_kafka_topic_ensure(pb_producer_rk(p), &spec, err, sizeof(err));
        assert_int_equal(r, PB_TOPIC_ERROR);
        assert_true(err[0] != 0);
        pb_producer_destroy(p);
        pb_mock_broker_destroy(m);
}

static pb_consumer_t *consumer(const char *brokers, const char *topic) {
        pb_kafka_conf_t c;
        pb_consumer_opts_t o;
        const char *topics[1] = {topic};
        char err[256];
        pb_consumer_t *cons;
        memset(&c, 0, sizeof(c));
        memset(&o, 0, sizeof(o));
        c.brokers = brokers;
        cons = pb_consumer_new(&c, &o, topics, 1, err, sizeof(err));
        assert_non_null(cons);
        assert_int_equal(pb_consumer_unassign(cons), PB_OK);
        return cons;
}

static void test_offsets(void **state) {
        char err[256] = "";
        pb_mock_broker_t *m = pb_mock_broker_new(1, err, sizeof(err));
        const char *b, *topics[1] = {"admin-events"};
        dr_state_t st = {0, 0};
        pb_producer_t *p;
        pb_consumer_t *c;
        pb_kafka_offsets_t *o;
        int64_t total = 0;
        size_t i;
        (void)state;
        assert_non_null(m);
        b = pb_mock_broker_bootstraps(m);
        p = producer(b, NULL, &st);
        send_n(p, topics[0], 10); /* the mock cluster creates the topic */
        assert_int_equal(pb_producer_flush(p, 10000), PB_OK);
        assert_int_equal(st.ok, 10);
        c = consumer(b, topics[0]);
        o = pb_kafka_offsets_new(pb_consumer_rk(c), topics, 1, 5000, err,
                                 sizeof(err));
        assert_non_null(o);
        assert_true(o->n >= 1);
        for (i = 0; i < o->n; i++) {
                assert_string_equal(o->p[i].topic, topics[0]);
                assert_int_equal(o->p[i].offset, -1);
                total += o->p[i].high - o->p[i].low;
        }
        assert_int_equal(total, 10);
        /* the mock cluster answers every time with the end offset: the
         * probe notices, the offsets stay as they were */
        err[0] = 0;
        assert_int_equal(pb_kafka_offsets_for_time(pb_consumer_rk(c), o, 0,
                                                   5000, err, sizeof(err)),
                         PB_ERR_KAFKA);
        assert_true(err[0] != 0);
        for (i = 0; i < o->n; i++)
                assert_int_equal(o->p[i].offset, -1);
        /* a topic that does not exist */
        {
                const char *none[1] = {"admin-no-such-topic"};
                pb_kafka_offsets_t *x = pb_kafka_offsets_new(
                    pb_consumer_rk(c), none, 1, 2000, err, sizeof(err));
                if (x) /* the mock cluster may auto-create it */
                        pb_kafka_offsets_destroy(x);
                else
                        assert_non_null(strstr(err, "admin-no-such-topic"));
        }
        pb_kafka_offsets_destroy(o);
        pb_consumer_destroy(c);
        pb_producer_destroy(p);
        pb_mock_broker_destroy(m);
}

static void test_transactions(void **state) {
        char err[256] = "";
        pb_mock_broker_t *m = pb_mock_broker_new(1, err, sizeof(err));
        const char *b;
        dr_state_t st1 = {0, 0}, st2 = {0, 0};
        pb_producer_t *p1, *p2;
        pb_txn_res_t r;
        (void)state;
        assert_non_null(m);
        b = pb_mock_broker_bootstraps(m);
        p1 = producer(b, "admin-txn", &st1);
        assert_int_equal(pb_producer_txn_init(p1, 10000, err, sizeof(err)),
                         PB_TXN_OK);
        /* committed */
        assert_int_equal(pb_producer_txn_begin(p1, err, sizeof(err)),
                         PB_TXN_OK);
        send_n(p1, "admin-txn-events", 3);
        assert_int_equal(pb_producer_txn_commit(p1, 10000, err, sizeof(err)),
                         PB_TXN_OK);
        assert_int_equal(st1.ok, 3);
        /* aborted */
        assert_int_equal(pb_producer_txn_begin(p1, err, sizeof(err)),
                         PB_TXN_OK);
        send_n(p1, "admin-txn-events", 2);
        assert_int_equal(pb_producer_txn_abort(p1, 10000, err, sizeof(err)),
                         PB_TXN_OK);
        /* begin twice: an error that is not fatal */
        assert_int_equal(pb_producer_txn_begin(p1, err, sizeof(err)),
                         PB_TXN_OK);
        r = pb_producer_txn_begin(p1, err, sizeof(err));
        assert_true(r != PB_TXN_OK && r != PB_TXN_FATAL);
        assert_int_equal(pb_producer_txn_abort(p1, 10000, err, sizeof(err)),
                         PB_TXN_OK);
        /* a successor with the same id initialises (the mock cluster
         * does not fence p1; real Kafka does, see poll_json.sh) */
        p2 = producer(b, "admin-txn", &st2);
        assert_int_equal(pb_producer_txn_init(p2, 10000, err, sizeof(err)),
                         PB_TXN_OK);
        pb_producer_destroy(p1);
        pb_producer_destroy(p2);
        pb_mock_broker_destroy(m);
}

PB_TEST_MAIN(cmocka_unit_test(test_null_and_args),
             cmocka_unit_test(test_topic_ensure),
             cmocka_unit_test(test_offsets),
             cmocka_unit_test(test_transactions))
