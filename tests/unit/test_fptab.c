/* Unit tests for the fingerprint table (services/common/pb_fptab.c) that
 * holds the poller's state and the ownership map: every key put is found
 * with its value across growths, deletion keeps the other keys' runs
 * findable (backward shift, also where a run wraps around a segment's
 * end), and the table stays within 16 bytes a slot at load 0.64-0.8;
 * the identity table (20-byte slots, 96-bit keys with flags) likewise,
 * and it tells a key from another with the same first 64 bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "pb_fptab.h"

/* a fingerprint-like key of i: well mixed, never 0 */
static uint64_t key(uint64_t i) {
        uint64_t z = (i + 1) * 0xBF58476D1CE4E5B9ull;
        z ^= z >> 31;
        z *= 0x94D049BB133111EBull;
        return (z ^ (z >> 29)) | 1;
}

static void test_put_get_grow(void **state) {
        pb_fptab_t *t = pb_fptab_new();
        uint64_t i, *v;
        (void)state;
        assert_non_null(t);
        for (i = 0; i < 200000; i++)
                assert_int_equal(pb_fptab_put(t, key(i), i * 3), 0);
        assert_int_equal(pb_fptab_count(t), 200000);
        for (i = 0; i < 200000; i++) {
                v = pb_fptab_get(t, key(i));
                assert_non_null(v);
                assert_int_equal(*v, i * 3);
        }
        assert_null(pb_fptab_get(t, key(200000)));
        /* replacing keeps the count */
        assert_int_equal(pb_fptab_put(t, key(5), 7), 0);
        assert_int_equal(*pb_fptab_get(t, key(5)), 7);
        assert_int_equal(pb_fptab_count(t), 200000);
        /* load between 0.64 and 0.8, give or take the segments' spread */
        assert_true(pb_fptab_bytes(t) >= (size_t)200000 * 16 * 5 / 4);
        assert_true(pb_fptab_bytes(t) <= (size_t)200000 * 16 * 100 / 60);
        pb_fptab_destroy(t);
        pb_fptab_destroy(NULL);
}

static void test_zero_key(void **state) {
        pb_fptab_t *t = pb_fptab_new();
        (void)state;
        assert_int_equal(pb_fptab_put(t, 0, 42), 0);
        assert_non_null(pb_fptab_get(t, 0));
        assert_int_equal(*pb_fptab_get(t, 1), 42); /* 0 is stored as 1 */
        pb_fptab_del(t, 0);
        assert_null(pb_fptab_get(t, 1));
        assert_int_equal(pb_fptab_count(t), 0);
        pb_fptab_destroy(t);
}

/* Deleting every third key of a crowded table: the rest stay findable.
 * Small segments (few keys) make runs wrap around their ends often. */
static void test_delete(void **state) {
        size_t sizes[] = {40, 700, 30000}, s;
        (void)state;
        for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                pb_fptab_t *t = pb_fptab_new();
                uint64_t i, n = sizes[s];
                for (i = 0; i < n; i++)
                        assert_int_equal(pb_fptab_put(t, key(i), i), 0);
                for (i = 0; i < n; i += 3)
                        pb_fptab_del(t, key(i));
                pb_fptab_del(t, key(n + 1)); /* not held: nothing */
                assert_int_equal(pb_fptab_count(t), n - (n + 2) / 3);
                for (i = 0; i < n; i++) {
                        uint64_t *v = pb_fptab_get(t, key(i));
                        if (i % 3 == 0) {
                                assert_null(v);
                        } else {
                                assert_non_null(v);
                                assert_int_equal(*v, i);
                        }
                }
                /* and back in */
                for (i = 0; i < n; i += 3)
                        assert_int_equal(pb_fptab_put(t, key(i), i), 0);
                for (i = 0; i < n; i++)
                        assert_int_equal(*pb_fptab_get(t, key(i)), i);
                pb_fptab_destroy(t);
        }
}

static void test_id_put_get_grow(void **state) {
        pb_idtab_t *t = pb_idtab_new();
        uint64_t i, v;
        unsigned fl;
        (void)state;
        assert_non_null(t);
        for (i = 0; i < 200000; i++)
                assert_int_equal(pb_idtab_set(t, key(i), (uint32_t)i, i * 3 + 1,
                                              (unsigned)(i % 3)),
                                 0);
        assert_int_equal(pb_idtab_count(t), 200000);
        for (i = 0; i < 200000; i++) {
                assert_int_equal(pb_idtab_get(t, key(i), (uint32_t)i, &v, &fl),
                                 1);
                assert_int_equal(v, i * 3 + 1);
                assert_int_equal(fl, i % 3);
        }
        assert_int_equal(pb_idtab_get(t, key(200000), 0, &v, &fl), 0);
        /* the same 64 bits with other 32: another key, which cannot be
         * held beside it */
        assert_int_equal(pb_idtab_get(t, key(7), 8, &v, &fl), -1);
        assert_int_equal(pb_idtab_set(t, key(7), 8, 1, 0), -2);
        assert_int_equal(pb_idtab_get(t, key(7), 7, &v, &fl), 1);
        assert_int_equal(v, 22);
        /* every flag bit and every value bit is kept */
        assert_int_equal(pb_idtab_set(t, key(5), 5, ~0ull, PB_IDTAB_FLAGS), 0);
        assert_int_equal(pb_idtab_get(t, key(5), 5, &v, &fl), 1);
        assert_true(v == ~0ull && fl == PB_IDTAB_FLAGS);
        /* a flag alone holds a key; neither value nor flag removes it */
        assert_int_equal(pb_idtab_set(t, key(5), 5, 0, 4), 0);
        assert_int_equal(pb_idtab_get(t, key(5), 5, &v, &fl), 1);
        assert_true(v == 0 && fl == 4);
        assert_int_equal(pb_idtab_count(t), 200000);
        assert_int_equal(pb_idtab_set(t, key(5), 5, 0, 0), 0);
        assert_int_equal(pb_idtab_get(t, key(5), 5, &v, &fl), 0);
        assert_int_equal(pb_idtab_count(t), 199999);
        /* removing what is not held: nothing */
        assert_int_equal(pb_idtab_set(t, key(300000), 1, 0, 0), 0);
        assert_int_equal(pb_idtab_count(t), 199999);
        /* 20 bytes a slot at load 0.64-0.8 */
        assert_true(pb_idtab_bytes(t) >= (size_t)199999 * 20 * 5 / 4);
        assert_true(pb_idtab_bytes(t) <= (size_t)199999 * 20 * 100 / 60);
        pb_idtab_destroy(t);
        pb_idtab_destroy(NULL);
}

/* Removing every third key (backward shift) keeps the rest findable,
 * in small segments whose runs wrap around too. */
static void test_id_delete(void **state) {
        size_t sizes[] = {40, 700, 30000}, s;
        (void)state;
        for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                pb_idtab_t *t = pb_idtab_new();
                uint64_t i, n = sizes[s], v;
                unsigned fl;
                for (i = 0; i < n; i++)
                        assert_int_equal(
                            pb_idtab_set(t, key(i), (uint32_t)(i * 7), i, 1),
                            0);
                for (i = 0; i < n; i += 3)
                        assert_int_equal(
                            pb_idtab_set(t, key(i), (uint32_t)(i * 7), 0, 0),
                            0);
                assert_int_equal(pb_idtab_count(t), n - (n + 2) / 3);
                for (i = 0; i < n; i++) {
                        int r =
                            pb_idtab_get(t, key(i), (uint32_t)(i * 7), &v, &fl);
                        if (i % 3 == 0) {
                                assert_int_equal(r, 0);
                        } else {
                                assert_int_equal(r, 1);
                                assert_int_equal(v, i);
                        }
                }
                pb_idtab_destroy(t);
        }
}

PB_TEST_MAIN(cmocka_unit_test(test_put_get_grow),
             cmocka_unit_test(test_zero_key), cmocka_unit_test(test_delete),
             cmocka_unit_test(test_id_put_get_grow),
             cmocka_unit_test(test_id_delete))
