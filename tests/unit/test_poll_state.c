/* Unit tests for the poller's state in memory (services/poll/
 * pb_poll_state.c): keys are found with their content fingerprint, the
 * --max-keys bound holds, deletion forgets; shared with the ownership map
 * of the poller's organisation (pb_ownmap_new_self) the state key
 * "<source>/<type>/<key>" and the entity "<type>/<key>" are one slot, and
 * the answers are the same as with a table of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "pb_owners.h"
#include "pb_poll_state.h"

static void key(const pb_poll_state_t *s, int i, pb_keyfp_t *fp) {
        char k[64];
        snprintf(k, sizeof(k), "org-a/funds.granted/NRW-%07d", i);
        pb_poll_state_key(s, k, strlen(k), fp);
}

/* put, get, replace, delete and the bound, on either kind of state */
static void exercise(pb_poll_state_t *s) {
        pb_keyfp_t fp;
        uint64_t h;
        int i;
        for (i = 0; i < 1000; i++) {
                key(s, i, &fp);
                assert_int_equal(pb_poll_state_get(s, &fp, &h), 0);
                assert_int_equal(pb_poll_state_put(s, &fp, (uint64_t)i + 1),
                                 PB_OK);
        }
        assert_int_equal(pb_poll_state_count(s), 1000);
        key(s, 1000, &fp);
        assert_int_equal(pb_poll_state_put(s, &fp, 5), PB_ERR_LIMIT);
        /* a known key may change at the bound */
        key(s, 3, &fp);
        assert_int_equal(pb_poll_state_put(s, &fp, 77), PB_OK);
        assert_int_equal(pb_poll_state_get(s, &fp, &h), 1);
        assert_int_equal(h, 77);
        assert_int_equal(pb_poll_state_count(s), 1000);
        for (i = 0; i < 1000; i += 2) {
                key(s, i, &fp);
                pb_poll_state_del(s, &fp);
                pb_poll_state_del(s, &fp); /* twice: nothing more */
        }
        assert_int_equal(pb_poll_state_count(s), 500);
        for (i = 0; i < 1000; i++) {
                key(s, i, &fp);
                if (i % 2 == 0) {
                        assert_int_equal(pb_poll_state_get(s, &fp, &h), 0);
                } else {
                        assert_int_equal(pb_poll_state_get(s, &fp, &h), 1);
                        assert_int_equal(h, i == 3 ? 77 : (uint64_t)i + 1);
                }
        }
        key(s, 1000, &fp);
        assert_int_equal(pb_poll_state_put(s, &fp, 5), PB_OK);
}

static void test_own_table(void **state) {
        pb_poll_state_t *s = pb_poll_state_new(1000);
        (void)state;
        assert_non_null(s);
        exercise(s);
        pb_poll_state_destroy(s);
        pb_poll_state_destroy(NULL);
}

static void test_shared(void **state) {
        pb_ownmap_t *m = pb_ownmap_new_self(100000, "org-a");
        pb_poll_state_t *s = pb_poll_state_new(1000);
        char owner[PB_OWNERS_ORG_MAX];
        pb_keyfp_t fp, fp2;
        uint64_t h;
        size_t before;
        (void)state;
        pb_poll_state_share(s, m, strlen("org-a/"));
        exercise(s);
        /* the state key without its source is the entity's key */
        key(s, 1, &fp);
        pb_ownmap_keyfp("funds.granted/NRW-0000001", 25, &fp2);
        assert_true(fp.k == fp2.k && fp.x == fp2.x);
        /* claiming entities the state holds takes no new slot */
        before = pb_ownmap_bytes(m);
        {
                char k[64];
                int i;
                for (i = 1; i < 1000; i += 2) {
                        snprintf(k, sizeof(k), "funds.granted/NRW-%07d", i);
                        assert_int_equal(
                            pb_ownmap_apply(m, k, strlen(k), "org-a", 5),
                            PB_OWN_NEW);
                }
        }
        assert_int_equal(pb_ownmap_bytes(m), before);
        assert_int_equal(pb_ownmap_get(m, "funds.granted/NRW-0000001", 25,
                                       owner, sizeof(owner)),
                         1);
        assert_string_equal(owner, "org-a");
        assert_int_equal(pb_poll_state_get(s, &fp, &h), 1);
        assert_int_equal(h, 2);
        /* deleting the state keeps the owner */
        pb_poll_state_del(s, &fp);
        assert_int_equal(pb_poll_state_get(s, &fp, &h), 0);
        assert_int_equal(pb_ownmap_get(m, "funds.granted/NRW-0000001", 25,
                                       owner, sizeof(owner)),
                         1);
        assert_true(pb_poll_state_bytes(s) >= pb_ownmap_bytes(m));
        pb_poll_state_destroy(s);
        pb_ownmap_destroy(m);
}

PB_TEST_MAIN(cmocka_unit_test(test_own_table), cmocka_unit_test(test_shared))
