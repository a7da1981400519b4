/* Unit tests for the dedup window's handling of long publishes
 * (services/gateway/pb_gw_dedup.c, linked from partnerbus_svc_gateway): an
 * unknown outcome (pb_gw_dedup_hold) blocks the id for ttl, a pending id is
 * never the one evicted when the window is full, and an id completed late
 * expires ttl after its completion. */
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

#define DEDUP_ID_TAG    0x17
#define DEDUP_PARTITION 0
#define DEDUP_TYPE_TAG  1
#include "gw_dedup_fixture.h"

static void hold1(pb_gw_dedup_t *d, unsigned n, int64_t now) {
        uint8_t id[16];
        id_of(n, id);
        pb_gw_dedup_hold(d, id, now);
}

static void release1(pb_gw_dedup_t *d, unsigned n) {
        uint8_t id[16];
        id_of(n, id);
        pb_gw_dedup_release(d, id);
}

static void test_hold_until_ttl(void **state) {
        pb_gw_dedup_t *d = pb_gw_dedup_new(16, 1000);
        (void)state;
        assert_int_equal(claim1(d, 1, 0, NULL), PB_GW_NEW);
        hold1(d, 1, 300000); /* after a 5-minute delivery timeout */
        assert_int_equal(claim1(d, 1, 300001, NULL), PB_GW_UNKNOWN);
        /* release and complete do not touch a held id */
        release1(d, 1);
        done1(d, 1, 7, 300002);
        assert_int_equal(claim1(d, 1, 300999, NULL), PB_GW_UNKNOWN);
        /* ttl after the hold: forgotten, a retry publishes */
        assert_int_equal(claim1(d, 1, 301000, NULL), PB_GW_NEW);
        pb_gw_dedup_destroy(d);
}

static void test_hold_blocks_batch(void **state) {
        pb_gw_dedup_t *d = pb_gw_dedup_new(16, 1000);
        uint8_t a[16], b[16];
        const uint8_t *ids[2] = {a, b};
        pb_gw_claim_t cl[2];
        pb_gw_result_t res[2];
        (void)state;
        id_of(1, a);
        id_of(2, b);
        assert_int_equal(claim1(d, 2, 0, NULL), PB_GW_NEW);
        hold1(d, 2, 0);
        assert_int_equal(pb_gw_dedup_claim(d, ids, 2, 1, cl, res), -1);
        assert_int_equal(cl[1], PB_GW_UNKNOWN);
        /* nothing of the batch was claimed */
        assert_int_equal(claim1(d, 1, 1, NULL), PB_GW_NEW);
        pb_gw_dedup_destroy(d);
}

static void test_pending_survives_full_window(void **state) {
        pb_gw_dedup_t *d = pb_gw_dedup_new(8, 1000000);
        pb_gw_result_t r;
        unsigned i;
        (void)state;
        /* ids 0 and 1 stay pending (Kafka is away) while 40 others are
         * published through a window of 8 */
        assert_int_equal(claim1(d, 0, 0, NULL), PB_GW_NEW);
        assert_int_equal(claim1(d, 1, 0, NULL), PB_GW_NEW);
        for (i = 100; i < 140; i++) {
                assert_int_equal(claim1(d, i, i, NULL), PB_GW_NEW);
                done1(d, i, i, i);
        }
        assert_int_equal(pb_gw_dedup_count(d), 8);
        assert_int_equal(claim1(d, 0, 200, NULL), PB_GW_PENDING);
        assert_int_equal(claim1(d, 1, 200, NULL), PB_GW_PENDING);
        /* the newest done ones are kept, the oldest went */
        assert_int_equal(claim1(d, 139, 200, NULL), PB_GW_DONE);
        assert_int_equal(claim1(d, 134, 200, NULL), PB_GW_DONE);
        assert_int_equal(claim1(d, 100, 200, NULL), PB_GW_NEW);
        done1(d, 0, 5, 300);
        assert_int_equal(claim1(d, 0, 301, &r), PB_GW_DONE);
        assert_int_equal(r.offset, 5);
        pb_gw_dedup_destroy(d);
}

static void test_all_pending_evicts_oldest(void **state) {
        pb_gw_dedup_t *d = pb_gw_dedup_new(4, 1000);
        unsigned i;
        (void)state;
        for (i = 0; i < 5; i++)
                assert_int_equal(claim1(d, i, 0, NULL), PB_GW_NEW);
        assert_int_equal(pb_gw_dedup_count(d), 4);
        assert_int_equal(pb_gw_dedup_evictions(d), 1);
        assert_int_equal(claim1(d, 4, 0, NULL), PB_GW_PENDING);
        pb_gw_dedup_destroy(d);
}

static void test_late_completion_expires_from_completion(void **state) {
        pb_gw_dedup_t *d = pb_gw_dedup_new(16, 1000);
        (void)state;
        /* 1 claimed first but completed last, 2 completed early */
        assert_int_equal(claim1(d, 1, 0, NULL), PB_GW_NEW);
        assert_int_equal(claim1(d, 2, 0, NULL), PB_GW_NEW);
        done1(d, 2, 2, 10);
        done1(d, 1, 1, 5000);
        /* 2 expired (and is trimmed although 1 was claimed before it) */
        assert_int_equal(claim1(d, 3, 1500, NULL), PB_GW_NEW);
        assert_int_equal(pb_gw_dedup_count(d), 2);
        assert_int_equal(claim1(d, 2, 1500, NULL), PB_GW_NEW);
        assert_int_equal(claim1(d, 1, 5999, NULL), PB_GW_DONE);
        assert_int_equal(claim1(d, 1, 6000, NULL), PB_GW_NEW);
        pb_gw_dedup_destroy(d);
}

PB_TEST_MAIN(cmocka_unit_test(test_hold_until_ttl),
             cmocka_unit_test(test_hold_blocks_batch),
             cmocka_unit_test(test_pending_survives_full_window),
             cmocka_unit_test(test_all_pending_evicts_oldest),
             cmocka_unit_test(test_late_completion_expires_from_completion))
