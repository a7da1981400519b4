/* Tests of the poll connector's record readers (services/poll/
 * pb_feed.c) on untrusted bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "pb_csv.h"
#include "pb_feed.h"

/* ndjson_open: an NDJSON feed over BODY (LEN bytes), default options;
 * fails the test if there is none */
static pb_feed_t *ndjson_open(const char *body, size_t len) {
        pb_feed_opts_t fo;
        char err[256];
        pb_feed_t *f;
        memset(&fo, 0, sizeof(fo));
        f = pb_feed_new(body, len, PB_FEED_NDJSON, &fo, err, sizeof(err));
        assert_non_null(f);
        return f;
}

/* the next record of f into rec */
static int next(pb_feed_t *f, pb_record_t *rec) {
        char err[256];
        return pb_feed_next(f, rec, err, sizeof(err));
}

/* expect_id1: the NDJSON body (len bytes) holds the one record {"id":1},
 * after a bad line 1 if bad_first (the record is then on line 2), then
 * ends. */
static void expect_id1(const char *body, size_t len, int bad_first) {
        pb_feed_t *f = ndjson_open(body, len);
        pb_record_t rec;
        if (bad_first) {
                assert_int_equal(next(f, &rec), PB_FEED_BAD);
                assert_int_equal(rec.position, 1);
        }
        assert_int_equal(next(f, &rec), PB_FEED_RECORD);
        if (bad_first)
                assert_int_equal(rec.position, 2);
        assert_int_equal(rec.raw_len, 8);
        assert_memory_equal(rec.raw, "{\"id\":1}", 8);
        assert_int_equal(next(f, &rec), PB_FEED_END);
        pb_feed_destroy(f);
}

/* Only a real UTF-8 byte order mark (EF BB BF) is skipped: a body whose
 * first line merely starts with 0xEF must not lose the next line's first
 * bytes. */
static void test_ndjson_bom_only_when_complete(void **state) {
        static const char body[] = "\xEF\n{\"id\":1}\n";
        (void)state;
        expect_id1(body, sizeof(body) - 1, 1);
}

static void test_ndjson_bom_skipped(void **state) {
        static const char body[] = "\xEF\xBB\xBF{\"id\":1}\n";
        (void)state;
        expect_id1(body, sizeof(body) - 1, 0);
}

PB_TEST_MAIN(cmocka_unit_test(test_ndjson_bom_only_when_complete),
             cmocka_unit_test(test_ndjson_bom_skipped))
