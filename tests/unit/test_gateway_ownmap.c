/* Unit tests for the ownership map (gateway and poll)
 * (services/common/pb_ownmap.c): the first claim per key wins, later
 * different claims are conflicts marked for re-assertion until the
 * owner's claim is read again, and the map is bounded; a poller's map
 * (pb_ownmap_new_self) keeps its organisation's entities in the slots of
 * its state, with the same answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "pb_owners.h"

#define APPLY(m, k, o) pb_ownmap_apply(m, k, strlen(k), o, strlen(o))

/* key is in the map, owned by want */
static void assert_owner(pb_ownmap_t *m, const char *key, const char *want) {
        char owner[PB_OWNERS_ORG_MAX];
        assert_int_equal(
            pb_ownmap_get(m, key, strlen(key), owner, sizeof(owner)), 1);
        assert_string_equal(owner, want);
}

/* the state stored for fp is want */
static void assert_state(pb_ownmap_t *m, const pb_keyfp_t *fp, uint64_t want) {
        uint64_t v = 0;
        assert_int_equal(pb_ownmap_state_get(m, fp, &v), 1);
        assert_int_equal(v, want);
}

static void test_first_claim_wins(void **state) {
        pb_ownmap_t *m = pb_ownmap_new(10);
        char owner[PB_OWNERS_ORG_MAX];
        (void)state;
        assert_non_null(m);
        assert_int_equal(
            pb_ownmap_get(m, "funds.granted/G", 15, owner, sizeof(owner)), 0);
        assert_int_equal(APPLY(m, "funds.granted/G", "org-a"), PB_OWN_NEW);
        assert_int_equal(APPLY(m, "funds.granted/G", "org-a"), PB_OWN_SAME);
        assert_int_equal(APPLY(m, "funds.granted/G", "org-b"), PB_OWN_CONFLICT);
        assert_owner(m, "funds.granted/G", "org-a");
        /* the same id of another type is another entity */
        assert_int_equal(APPLY(m, "aid.dispatched/G", "org-b"), PB_OWN_NEW);
        assert_int_equal(pb_ownmap_count(m), 2);
        pb_ownmap_destroy(m);
}

static size_t nre;
static char re_key[64], re_owner[64];
static void on_reassert(void *opaque, const char *key, const char *owner) {
        (void)opaque;
        nre++;
        snprintf(re_key, sizeof(re_key), "%s", key);
        snprintf(re_owner, sizeof(re_owner), "%s", owner);
}

static void test_reassert(void **state) {
        pb_ownmap_t *m = pb_ownmap_new(10);
        (void)state;
        APPLY(m, "k1", "org-a");
        APPLY(m, "k2", "org-a");
        /* k1: a later conflicting claim is the latest: re-assert org-a */
        APPLY(m, "k1", "org-b");
        /* k2: conflict, then org-a's claim again: nothing to do */
        APPLY(m, "k2", "org-b");
        APPLY(m, "k2", "org-a");
        nre = 0;
        assert_int_equal(pb_ownmap_reassert(m, on_reassert, NULL), 1);
        assert_int_equal(nre, 1);
        assert_string_equal(re_key, "k1");
        assert_string_equal(re_owner, "org-a");
        /* done once */
        assert_int_equal(pb_ownmap_reassert(m, on_reassert, NULL), 0);
        pb_ownmap_destroy(m);
}

static void test_bounded(void **state) {
        pb_ownmap_t *m = pb_ownmap_new(3);
        char owner[PB_OWNERS_ORG_MAX];
        (void)state;
        assert_int_equal(APPLY(m, "a", "o"), PB_OWN_NEW);
        assert_int_equal(APPLY(m, "b", "o"), PB_OWN_NEW);
        assert_int_equal(APPLY(m, "c", "o"), PB_OWN_NEW);
        assert_int_equal(APPLY(m, "d", "o"), PB_OWN_FULL);
        assert_int_equal(pb_ownmap_dropped(m), 1);
        assert_int_equal(pb_ownmap_get(m, "d", 1, owner, sizeof(owner)), 0);
        /* keys held still answer */
        assert_int_equal(APPLY(m, "a", "p"), PB_OWN_CONFLICT);
        assert_int_equal(pb_ownmap_count(m), 3);
        pb_ownmap_destroy(m);
}

static void test_invalid(void **state) {
        pb_ownmap_t *m = pb_ownmap_new(3);
        (void)state;
        assert_int_equal(pb_ownmap_apply(m, "", 0, "o", 1), PB_OWN_INVALID);
        assert_int_equal(pb_ownmap_apply(m, "k", 1, "", 0), PB_OWN_INVALID);
        assert_int_equal(pb_ownmap_apply(m, "k\0x", 3, "o", 1), PB_OWN_INVALID);
        assert_int_equal(pb_ownmap_count(m), 0);
        pb_ownmap_destroy(m);
        pb_ownmap_destroy(NULL);
}

/* Many keys and owners: the table grows (16 bytes a slot, load 0.64-0.8),
 * every key keeps its owner, conflicts marked before a growth are still
 * re-asserted after it. */
static void test_many(void **state) {
        pb_ownmap_t *m = pb_ownmap_new(200000);
        char k[64], o[32], owner[PB_OWNERS_ORG_MAX];
        int i;
        (void)state;
        assert_int_equal(APPLY(m, "funds.granted/X", "org-1"), PB_OWN_NEW);
        assert_int_equal(APPLY(m, "funds.granted/X", "org-2"), PB_OWN_CONFLICT);
        for (i = 0; i < 100000; i++) {
                snprintf(k, sizeof(k), "funds.granted/NRW-%07d", i);
                snprintf(o, sizeof(o), "org-%d", i % 1000);
                assert_int_equal(APPLY(m, k, o), PB_OWN_NEW);
        }
        assert_int_equal(pb_ownmap_count(m), 100001);
        /* 100,001 keys at load 0.64-0.8 (with some spread between the
         * segments): 16 bytes a slot */
        assert_true(pb_ownmap_bytes(m) >= 100001 * 16 * 5 / 4);
        assert_true(pb_ownmap_bytes(m) < 100001 * 16 * 100 / 60);
        for (i = 0; i < 100000; i += 7) {
                snprintf(k, sizeof(k), "funds.granted/NRW-%07d", i);
                snprintf(o, sizeof(o), "org-%d", i % 1000);
                assert_owner(m, k, o);
                assert_int_equal(APPLY(m, k, o), PB_OWN_SAME);
        }
        assert_int_equal(pb_ownmap_get(m, "funds.granted/NRW-0100000", 25,
                                       owner, sizeof(owner)),
                         0);
        /* too small a buffer for the owner: not found */
        assert_int_equal(
            pb_ownmap_get(m, "funds.granted/NRW-0000001", 25, owner, 5), 0);
        nre = 0;
        assert_int_equal(pb_ownmap_reassert(m, on_reassert, NULL), 1);
        assert_string_equal(re_key, "funds.granted/X");
        assert_string_equal(re_owner, "org-1");
        assert_int_equal(pb_ownmap_dropped(m), 0);
        pb_ownmap_destroy(m);
}

static pb_keyfp_t fp_of(const char *k) {
        pb_keyfp_t fp;
        pb_ownmap_keyfp(k, strlen(k), &fp);
        return fp;
}

/* The owner answers and conflicts are the same with self's entities in
 * the shared slots; the state of a key and its ownership do not disturb
 * each other. */
static void test_self(void **state) {
        pb_ownmap_t *m = pb_ownmap_new_self(10, "org-a");
        char owner[PB_OWNERS_ORG_MAX];
        pb_keyfp_t g = fp_of("funds.granted/G"), h = fp_of("funds.granted/H"),
                   k = fp_of("funds.granted/K");
        uint64_t v = 0;
        (void)state;
        assert_non_null(m);
        /* state before the claim */
        assert_int_equal(pb_ownmap_state_get(m, &g, &v), 0);
        assert_int_equal(pb_ownmap_state_put(m, &g, 42), 0);
        assert_state(m, &g, 42);
        assert_int_equal(
            pb_ownmap_get(m, "funds.granted/G", 15, owner, sizeof(owner)), 0);
        assert_int_equal(pb_ownmap_count(m), 0);
        assert_int_equal(APPLY(m, "funds.granted/G", "org-a"), PB_OWN_NEW);
        assert_int_equal(APPLY(m, "funds.granted/G", "org-a"), PB_OWN_SAME);
        assert_owner(m, "funds.granted/G", "org-a");
        assert_state(m, &g, 42);
        /* a conflicting claim is marked and re-asserted; the state stays */
        assert_int_equal(APPLY(m, "funds.granted/G", "org-b"), PB_OWN_CONFLICT);
        nre = 0;
        assert_int_equal(pb_ownmap_reassert(m, on_reassert, NULL), 1);
        assert_string_equal(re_key, "funds.granted/G");
        assert_string_equal(re_owner, "org-a");
        assert_state(m, &g, 42);
        /* forgetting the state keeps the owner */
        assert_int_equal(pb_ownmap_state_put(m, &g, 0), 0);
        assert_int_equal(pb_ownmap_state_get(m, &g, &v), 0);
        assert_owner(m, "funds.granted/G", "org-a");
        /* another organisation's entity with the poller's state for it */
        assert_int_equal(pb_ownmap_state_put(m, &h, 7), 0);
        assert_int_equal(APPLY(m, "funds.granted/H", "org-b"), PB_OWN_NEW);
        assert_int_equal(APPLY(m, "funds.granted/H", "org-a"), PB_OWN_CONFLICT);
        assert_owner(m, "funds.granted/H", "org-b");
        assert_state(m, &h, 7);
        /* the claim first, then the state */
        assert_int_equal(APPLY(m, "funds.granted/K", "org-a"), PB_OWN_NEW);
        assert_int_equal(pb_ownmap_state_get(m, &k, &v), 0);
        assert_int_equal(pb_ownmap_state_put(m, &k, 9), 0);
        assert_state(m, &k, 9);
        assert_owner(m, "funds.granted/K", "org-a");
        assert_int_equal(pb_ownmap_count(m), 3);
        /* a gateway's map has no state */
        {
                pb_ownmap_t *gw = pb_ownmap_new(10);
                assert_int_equal(pb_ownmap_state_get(gw, &g, &v), 0);
                assert_int_equal(pb_ownmap_state_put(gw, &g, 1), -1);
                pb_ownmap_destroy(gw);
        }
        assert_null(pb_ownmap_new_self(10, NULL));
        assert_null(pb_ownmap_new_self(10, ""));
        pb_ownmap_destroy(m);
}

/* Capacity counts entities, not state: the state of keys nobody claimed
 * does not fill the map. */
static void test_self_bounded(void **state) {
        pb_ownmap_t *m = pb_ownmap_new_self(2, "org-a");
        pb_keyfp_t d = fp_of("d");
        (void)state;
        assert_int_equal(pb_ownmap_state_put(m, &d, 5), 0);
        assert_int_equal(APPLY(m, "a", "org-a"), PB_OWN_NEW);
        assert_int_equal(APPLY(m, "b", "org-b"), PB_OWN_NEW);
        assert_int_equal(APPLY(m, "c", "org-a"), PB_OWN_FULL);
        assert_int_equal(APPLY(m, "d", "org-a"), PB_OWN_FULL);
        assert_int_equal(pb_ownmap_dropped(m), 2);
        assert_state(m, &d, 5);
        assert_int_equal(pb_ownmap_count(m), 2);
        pb_ownmap_destroy(m);
}

/* 100,000 entities the poller owns and published: one 20-byte slot each
 * (load 0.64-0.8), where a map and a state table of their own took two
 * 16-byte slots. */
static void test_self_many(void **state) {
        pb_ownmap_t *m = pb_ownmap_new_self(200000, "org-a");
        char k[64];
        pb_keyfp_t fp;
        int i;
        (void)state;
        for (i = 0; i < 100000; i++) {
                snprintf(k, sizeof(k), "funds.granted/NRW-%07d", i);
                pb_ownmap_keyfp(k, strlen(k), &fp);
                /* half the state before the claim is read, half after */
                if (i & 1)
                        assert_int_equal(
                            pb_ownmap_state_put(m, &fp, (uint64_t)i + 1), 0);
                assert_int_equal(APPLY(m, k, "org-a"), PB_OWN_NEW);
                if (!(i & 1))
                        assert_int_equal(
                            pb_ownmap_state_put(m, &fp, (uint64_t)i + 1), 0);
        }
        assert_true(pb_ownmap_bytes(m) >= 100000 * 20 * 5 / 4);
        assert_true(pb_ownmap_bytes(m) < 100000 * 20 * 100 / 60);
        for (i = 0; i < 100000; i += 3) {
                snprintf(k, sizeof(k), "funds.granted/NRW-%07d", i);
                pb_ownmap_keyfp(k, strlen(k), &fp);
                assert_state(m, &fp, (uint64_t)i + 1);
                assert_owner(m, k, "org-a");
        }
        assert_int_equal(pb_ownmap_count(m), 100000);
        pb_ownmap_destroy(m);
}

PB_TEST_MAIN(cmocka_unit_test(test_first_claim_wins),
             cmocka_unit_test(test_reassert), cmocka_unit_test(test_bounded),
             cmocka_unit_test(test_invalid), cmocka_unit_test(test_many),
             cmocka_unit_test(test_self), cmocka_unit_test(test_self_bounded),
             cmocka_unit_test(test_self_many))
