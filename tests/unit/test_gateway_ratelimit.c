/* Unit tests for the gateway's per-organisation token bucket
 * (services/gateway/pb_gw_ratelimit.c, linked from partnerbus_svc_gateway).
 * Time is passed in, so the tests are exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "pb_gw.h"
#include "pb_gw_ratelimit_int.h"

static void test_burst_then_refill(void **state) {
        /* 10 events/s, bucket of 5 */
        pb_gw_ratelimit_t *rl = pb_gw_ratelimit_new(10, 5);
        int i;
        (void)state;
        assert_non_null(rl);
        for (i = 0; i < 5; i++)
                assert_int_equal(pb_gw_ratelimit_take(rl, "bgk", 1, 1000, 1),
                                 0);
        /* empty: one token comes back after 100 ms */
        assert_int_equal(pb_gw_ratelimit_take(rl, "bgk", 1, 1000, 1), 100);
        assert_int_equal(pb_gw_ratelimit_take(rl, "bgk", 1, 1050, 1), 50);
        assert_int_equal(pb_gw_ratelimit_take(rl, "bgk", 1, 1100, 1), 0);
        assert_int_equal(pb_gw_ratelimit_take(rl, "bgk", 1, 1100, 1), 100);
        /* a long pause refills only up to the burst */
        assert_int_equal(pb_gw_ratelimit_take(rl, "bgk", 5, 60000, 1), 0);
        assert_int_equal(pb_gw_ratelimit_take(rl, "bgk", 1, 60000, 1), 100);
        pb_gw_ratelimit_destroy(rl);
}

static void test_orgs_are_separate(void **state) {
        pb_gw_ratelimit_t *rl = pb_gw_ratelimit_new(1, 2);
        (void)state;
        assert_int_equal(pb_gw_ratelimit_take(rl, "bgk", 2, 0, 1), 0);
        assert_true(pb_gw_ratelimit_take(rl, "bgk", 1, 0, 1) > 0);
        /* another organisation is not slowed down by the first */
        assert_int_equal(pb_gw_ratelimit_take(rl, "stadt-koeln", 2, 0, 1), 0);
        pb_gw_ratelimit_destroy(rl);
}

static void test_batch_cost_and_check_only(void **state) {
        pb_gw_ratelimit_t *rl = pb_gw_ratelimit_new(100, 500);
        (void)state;
        /* checking does not take */
        assert_int_equal(pb_gw_ratelimit_take(rl, "o", 500, 0, 0), 0);
        assert_int_equal(pb_gw_ratelimit_take(rl, "o", 500, 0, 1), 0);
        /* a batch of 300 needs 3 s at 100/s; nothing is taken on refusal */
        assert_int_equal(pb_gw_ratelimit_take(rl, "o", 300, 0, 1), 3000);
        assert_int_equal(pb_gw_ratelimit_take(rl, "o", 300, 2000, 1), 1000);
        assert_int_equal(pb_gw_ratelimit_take(rl, "o", 300, 3000, 1), 0);
        /* more than the burst is reported as the time to a full bucket */
        assert_int_equal(pb_gw_ratelimit_take(rl, "o", 900, 3000, 1), 5000);
        /* time going backwards (clock steps) takes nothing away */
        assert_int_equal(pb_gw_ratelimit_take(rl, "o", 1, 1000, 1), 10);
        pb_gw_ratelimit_destroy(rl);
}

static void test_unlimited_and_many_orgs(void **state) {
        pb_gw_ratelimit_t *rl = pb_gw_ratelimit_new(0, 1);
        char org[32];
        int i;
        (void)state;
        for (i = 0; i < 1000; i++)
                assert_int_equal(pb_gw_ratelimit_take(rl, "o", 1e6, 0, 1), 0);
        pb_gw_ratelimit_destroy(rl);
        /* more orgs than slots: bounded table, the rest share one bucket */
        rl = pb_gw_ratelimit_new(1, 1);
        for (i = 0; i < 10000; i++) {
                snprintf(org, sizeof(org), "org-%d", i);
                pb_gw_ratelimit_take(rl, org, 1, 0, 1);
        }
        assert_true(rl->used <= PB_GW_RL_SLOTS * 3 / 4);
        /* a known org still has its own bucket */
        assert_true(pb_gw_ratelimit_take(rl, "org-1", 1, 0, 1) > 0);
        pb_gw_ratelimit_destroy(rl);
}

PB_TEST_MAIN(cmocka_unit_test(test_burst_then_refill),
             cmocka_unit_test(test_orgs_are_separate),
             cmocka_unit_test(test_batch_cost_and_check_only),
             cmocka_unit_test(test_unlimited_and_many_orgs))
