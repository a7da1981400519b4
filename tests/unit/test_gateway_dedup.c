/* Unit tests for the gateway's dedup window (services/gateway/
 * pb_gw_dedup.c, linked from partnerbus_svc_gateway): claim / complete /
 * release, ttl, bounded capacity with oldest-first eviction, batch atomicity,
 * and a randomized comparison against a simple model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "pb_gw.h"

#define DEDUP_ID_TAG    0x42
#define DEDUP_PARTITION 1
#define DEDUP_TYPE_TAG  3
#include "gw_dedup_fixture.h"

static void test_lifecycle(void **state) {
        pb_gw_dedup_t *d = pb_gw_dedup_new(100, 1000);
        pb_gw_result_t r;
        uint8_t id[16];
        (void)state;
        assert_int_equal(claim1(d, 1, 0, NULL), PB_GW_NEW);
        /* in flight: a second claim must wait */
        assert_int_equal(claim1(d, 1, 0, NULL), PB_GW_PENDING);
        done1(d, 1, 77, 10);
        assert_int_equal(claim1(d, 1, 20, &r), PB_GW_DONE);
        assert_int_equal(r.partition, 1);
        assert_int_equal(r.offset, 77);
        assert_int_equal(r.tag, 3);
        /* until the ttl has passed since completion */
        assert_int_equal(claim1(d, 1, 1009, NULL), PB_GW_DONE);
        assert_int_equal(claim1(d, 1, 1010, NULL), PB_GW_NEW);
        /* released (failed) ids can be claimed again at once */
        id_of(1, id);
        pb_gw_dedup_release(d, id);
        assert_int_equal(claim1(d, 1, 1010, NULL), PB_GW_NEW);
        assert_int_equal(pb_gw_dedup_count(d), 1);
        pb_gw_dedup_destroy(d);
}

static void test_batch_is_atomic(void **state) {
        pb_gw_dedup_t *d = pb_gw_dedup_new(100, 1000);
        uint8_t a[16], b[16], c[16];
        const uint8_t *ids[4] = {a, NULL, b, c};
        pb_gw_claim_t cl[4];
        pb_gw_result_t res[4];
        (void)state;
        id_of(1, a);
        id_of(2, b);
        id_of(3, c);
        assert_int_equal(claim1(d, 2, 0, NULL), PB_GW_NEW); /* b pending */
        assert_int_equal(pb_gw_dedup_claim(d, ids, 4, 0, cl, res), -1);
        assert_int_equal(cl[2], PB_GW_PENDING);
        /* nothing of the refused batch was kept */
        assert_int_equal(pb_gw_dedup_count(d), 1);
        done1(d, 2, 5, 0);
        assert_int_equal(pb_gw_dedup_claim(d, ids, 4, 0, cl, res), 0);
        assert_int_equal(cl[0], PB_GW_NEW);
        assert_int_equal(cl[1], PB_GW_NEW); /* NULL id: not tracked */
        assert_int_equal(cl[2], PB_GW_DONE);
        assert_int_equal(res[2].offset, 5);
        assert_int_equal(cl[3], PB_GW_NEW);
        assert_int_equal(pb_gw_dedup_count(d), 3);
        /* the same id twice in one call is refused whole */
        {
                uint8_t e[16];
                const uint8_t *twice[2] = {e, e};
                id_of(9, e);
                assert_int_equal(pb_gw_dedup_claim(d, twice, 2, 0, cl, res),
                                 -1);
                assert_int_equal(claim1(d, 9, 0, NULL), PB_GW_NEW);
        }
        pb_gw_dedup_destroy(d);
}

static void test_capacity_evicts_oldest(void **state) {
        pb_gw_dedup_t *d = pb_gw_dedup_new(8, 1000000);
        unsigned i;
        (void)state;
        for (i = 0; i < 20; i++) {
                assert_int_equal(claim1(d, i, i, NULL), PB_GW_NEW);
                done1(d, i, i, i);
        }
        assert_int_equal(pb_gw_dedup_count(d), 8);
        assert_int_equal(pb_gw_dedup_evictions(d), 12);
        for (i = 12; i < 20; i++)
                assert_int_equal(claim1(d, i, 100, NULL), PB_GW_DONE);
        assert_int_equal(claim1(d, 0, 100, NULL), PB_GW_NEW);
        pb_gw_dedup_destroy(d);
}

/* Random operations against a model (array of states) with a capacity
 * large enough that nothing is evicted: exercises backward-shift
 * deletion in the index. */
static void test_random_against_model(void **state) {
        enum { N = 3000, OPS = 200000 };
        static uint8_t model[N]; /* 0 absent, 1 pending, 2 done */
        static int64_t off[N];
        pb_gw_dedup_t *d = pb_gw_dedup_new(N, 1LL << 40);
        unsigned seed = 12345;
        int op;
        (void)state;
        for (op = 0; op < OPS; op++) {
                unsigned k = (unsigned)(rand_r(&seed) % N);
                int what = rand_r(&seed) % 3;
                uint8_t id[16];
                pb_gw_result_t r;
                id_of(k, id);
                if (what == 0) {
                        pb_gw_claim_t c = claim1(d, k, 0, &r);
                        if (model[k] == 0) {
                                assert_int_equal(c, PB_GW_NEW);
                                model[k] = 1;
                        } else if (model[k] == 1) {
                                assert_int_equal(c, PB_GW_PENDING);
                        } else {
                                assert_int_equal(c, PB_GW_DONE);
                                assert_int_equal(r.offset, off[k]);
                        }
                } else if (what == 1) {
                        pb_gw_result_t res = {0, op, 0};
                        pb_gw_dedup_complete(d, id, &res, 0);
                        if (model[k] == 1) {
                                model[k] = 2;
                                off[k] = op;
                        }
                } else {
                        pb_gw_dedup_release(d, id);
                        if (model[k] == 1)
                                model[k] = 0;
                }
        }
        {
                size_t live = 0, i;
                for (i = 0; i < N; i++)
                        live += model[i] != 0;
                assert_int_equal(pb_gw_dedup_count(d), live);
        }
        pb_gw_dedup_destroy(d);
}

/* An event_id scoped by organisation: the same org always gives the same
 * id (cached or not), two orgs give different ids, and a second window
 * (another secret) gives another scoping. */
static void test_scope_per_organisation(void **state) {
        pb_gw_dedup_t *d = pb_gw_dedup_new(16, 1000);
        pb_gw_dedup_t *d2 = pb_gw_dedup_new(16, 1000);
        uint8_t raw[16], a1[16], a2[16], b[16], c[16];
        char org[32];
        int i;
        (void)state;
        assert_non_null(d);
        assert_non_null(d2);
        for (i = 0; i < 16; i++)
                raw[i] = (uint8_t)(i * 17);
        memcpy(a1, raw, 16);
        memcpy(a2, raw, 16);
        memcpy(b, raw, 16);
        memcpy(c, raw, 16);
        pb_gw_dedup_scope(d, "org-a", a1);
        pb_gw_dedup_scope(d, "org-a", a2); /* from the cache */
        pb_gw_dedup_scope(d, "org-b", b);
        pb_gw_dedup_scope(d2, "org-a", c);
        assert_memory_equal(a1, a2, 16);
        assert_memory_not_equal(a1, raw, 16);
        assert_memory_not_equal(a1, b, 16);
        assert_memory_not_equal(a1, c, 16);
        /* more organisations than the cache keeps: still consistent */
        for (i = 0; i < 3000; i++) {
                snprintf(org, sizeof(org), "org-%d", i);
                memcpy(a1, raw, 16);
                memcpy(a2, raw, 16);
                pb_gw_dedup_scope(d, org, a1);
                pb_gw_dedup_scope(d, org, a2);
                assert_memory_equal(a1, a2, 16);
        }
        pb_gw_dedup_destroy(d);
        pb_gw_dedup_destroy(d2);
}

PB_TEST_MAIN(cmocka_unit_test(test_lifecycle),
             cmocka_unit_test(test_batch_is_atomic),
             cmocka_unit_test(test_capacity_evicts_oldest),
             cmocka_unit_test(test_random_against_model),
             cmocka_unit_test(test_scope_per_organisation))
