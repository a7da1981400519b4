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

/* A wait that is positive, whatever its length. */
#define SOME_WAIT (-1)

/* The limiters of the scenarios below: events per second and burst. */
static const double limits[][2] = {{10, 5}, {1, 2}, {100, 500}};

/* Takes in order, per scenario (an index into limits): the organisation asks
 * for n events at time now (ms), taking them or only checking, and gets the
 * wait wanted (0: allowed). */
static const struct {
        int scenario;
        const char *org;
        double n;
        int64_t now;
        int take;
        int64_t want;
} steps[] = {
    /* 10 events/s, bucket of 5 */
    {0, "bgk", 1, 1000, 1, 0},
    {0, "bgk", 1, 1000, 1, 0},
    {0, "bgk", 1, 1000, 1, 0},
    {0, "bgk", 1, 1000, 1, 0},
    {0, "bgk", 1, 1000, 1, 0},
    /* empty: one token comes back after 100 ms */
    {0, "bgk", 1, 1000, 1, 100},
    {0, "bgk", 1, 1050, 1, 50},
    {0, "bgk", 1, 1100, 1, 0},
    {0, "bgk", 1, 1100, 1, 100},
    /* a long pause refills only up to the burst */
    {0, "bgk", 5, 60000, 1, 0},
    {0, "bgk", 1, 60000, 1, 100},
    /* 1 event/s, bucket of 2 */
    {1, "bgk", 2, 0, 1, 0},
    {1, "bgk", 1, 0, 1, SOME_WAIT},
    /* another organisation is not slowed down by the first */
    {1, "stadt-koeln", 2, 0, 1, 0},
    /* checking does not take */
    {2, "o", 500, 0, 0, 0},
    {2, "o", 500, 0, 1, 0},
    /* a batch of 300 needs 3 s at 100/s; nothing is taken on refusal */
    {2, "o", 300, 0, 1, 3000},
    {2, "o", 300, 2000, 1, 1000},
    {2, "o", 300, 3000, 1, 0},
    /* more than the burst is reported as the time to a full bucket */
    {2, "o", 900, 3000, 1, 5000},
    /* time going backwards (clock steps) takes nothing away */
    {2, "o", 1, 1000, 1, 10},
};

/* Runs the scenario whose index the test's initial state points to. */
static void test_scenario(void **state) {
        const int scenario = *(const int *)*state;
        pb_gw_ratelimit_t *rl =
            pb_gw_ratelimit_new(limits[scenario][0], limits[scenario][1]);
        size_t i, n = 0;
        assert_non_null(rl);
        for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                int64_t got;
                if (steps[i].scenario != scenario)
                        continue;
                got = pb_gw_ratelimit_take(rl, steps[i].org, steps[i].n,
                                           steps[i].now, steps[i].take);
                if (steps[i].want == SOME_WAIT)
                        assert_true(got > 0);
                else
                        assert_int_equal(got, steps[i].want);
                n++;
        }
        assert_true(n > 0);
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

static const int scenario_ids[] = {0, 1, 2};

PB_TEST_MAIN(PB_TEST_STATE("test_burst_then_refill", test_scenario,
                           &scenario_ids[0]),
             PB_TEST_STATE("test_orgs_are_separate", test_scenario,
                           &scenario_ids[1]),
             PB_TEST_STATE("test_batch_cost_and_check_only", test_scenario,
                           &scenario_ids[2]),
             cmocka_unit_test(test_unlimited_and_many_orgs))
