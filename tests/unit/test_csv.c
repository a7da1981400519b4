/* Unit tests of the poll connector's CSV reader (services/poll/
 * pb_csv.c, linked from partnerbus_svc_poll and its _san variant). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "pb_csv.h"

/* A reader over one input and what it returned last. */
typedef struct rd {
        pb_csv_t *c;
        pb_csv_row_t r;
        char err[256];
} rd_t;

static void rd_open(rd_t *t, const char *in, size_t len, char sep,
                    const pb_csv_limits_t *lim) {
        memset(t, 0, sizeof(*t));
        t->c = pb_csv_new(in, len, sep, lim);
        assert_non_null(t->c);
}

/* The next record is `want`; for an error, its message contains frag
 * (NULL: not checked). */
static void expect(rd_t *t, pb_csv_result_t want, const char *frag) {
        assert_int_equal(pb_csv_next(t->c, &t->r, t->err, sizeof(t->err)),
                         want);
        if (frag && !strstr(t->err, frag))
                fail_msg("error '%s' lacks '%s'", t->err, frag);
}

/* The input is at its end; frees the reader. */
static void rd_end(rd_t *t) {
        expect(t, PB_CSV_END, NULL);
        pb_csv_destroy(t->c);
}

/* The next record is a row whose field k is want, on line (0: any). */
static void expect_field(rd_t *t, size_t k, const char *want, long line) {
        expect(t, PB_CSV_ROW, NULL);
        assert_true(k < t->r.n);
        assert_string_equal(t->r.fields[k], want);
        if (line)
                assert_int_equal(t->r.line, line);
}

static void test_bom_crlf_quotes(void **st) {
        const char in[] = "\xEF\xBB\xBF"
                          "Aktenzeichen;Betrag;Zweck\r\n"
                          "SK-1;143.000,00;\"Aggregate; 370 St\xC3\xBC"
                          "ck\r\nf\xC3\xBCr \"\"Dnipro\"\"\"\r\n"
                          "SK-2;;\r\n";
        rd_t t;
        (void)st;
        rd_open(&t, in, sizeof(in) - 1, ';', NULL);
        expect(&t, PB_CSV_ROW, NULL);
        assert_int_equal(t.r.n, 3);
        assert_string_equal(t.r.fields[0], "Aktenzeichen");
        assert_int_equal(t.r.line, 1);
        expect(&t, PB_CSV_ROW, NULL);
        assert_int_equal(t.r.line, 2);
        assert_string_equal(t.r.fields[1], "143.000,00");
        assert_string_equal(t.r.fields[2], "Aggregate; 370 St\xC3\xBC"
                                           "ck\r\nf\xC3\xBCr \"Dnipro\"");
        expect(&t, PB_CSV_ROW, NULL);
        assert_int_equal(t.r.line, 4); /* the quoted newline took line 3 */
        assert_int_equal(t.r.n, 3);
        assert_int_equal(t.r.lens[1], 0);
        assert_int_equal(t.r.lens[2], 0);
        rd_end(&t);
}

static void test_errors_resync(void **st) {
        const char in[] = "a,b\nx\"y,1\n\"q\"z,2\nok,3\n\"open,4";
        rd_t t;
        (void)st;
        rd_open(&t, in, sizeof(in) - 1, ',', NULL);
        expect(&t, PB_CSV_ROW, NULL);
        expect(&t, PB_CSV_BAD, "line 2");
        assert_non_null(strstr(t.err, "quote inside"));
        assert_int_equal(t.r.raw_len, 5);
        assert_memory_equal(t.r.raw, "x\"y,1", 5);
        expect(&t, PB_CSV_BAD, "after a closing quote");
        expect_field(&t, 0, "ok", 4);
        /* an open quote at the end: the body was cut off */
        expect(&t, PB_CSV_FATAL, "truncated");
        pb_csv_destroy(t.c);
}

static void test_limits(void **st) {
        pb_csv_limits_t lim = {8, 3};
        const char in[] = "a,b,c,d\n123456789\n1234,5678\nx\n";
        rd_t t;
        (void)st;
        rd_open(&t, in, sizeof(in) - 1, ',', &lim);
        expect(&t, PB_CSV_BAD, "too many columns");
        expect(&t, PB_CSV_BAD, "too long");
        expect(&t, PB_CSV_ROW, NULL); /* exactly 8 bytes */
        assert_int_equal(t.r.n, 2);
        expect_field(&t, 0, "x", 0);
        rd_end(&t);
}

/* A quoted field over the record limit: the reader skips the whole record,
 * line breaks inside the quotes included; text in the field never becomes a
 * row of its own (the CSV row injection of the trust issue). */
static void test_resync_respects_quotes(void **st) {
        pb_csv_limits_t lim = {16, 8};
        const char in[] = "id;note\n"
                          "1;\"long text, long enough\n"
                          "EVIL;\"\"injected\"\"\n"
                          "more\"\n"
                          "2;ok\n"
                          "3;\"a\nEVIL2;b\";x;y;z;w;v;u;t\n"
                          "4;fine\n";
        rd_t t;
        (void)st;
        rd_open(&t, in, sizeof(in) - 1, ';', &lim);
        expect(&t, PB_CSV_ROW, NULL);
        expect(&t, PB_CSV_BAD, "line 2");
        assert_non_null(strstr(t.err, "too long"));
        expect_field(&t, 0, "2", 5);
        /* too many columns after a quoted line break: the whole record is
         * skipped, not only its first line */
        expect(&t, PB_CSV_BAD, "too many columns");
        expect_field(&t, 0, "4", 8);
        rd_end(&t);
}

static void test_utf8_blank_lines_no_final_newline(void **st) {
        const char in[] = "a;b\n\n\r\n\xC3\x28;x\n1;2";
        rd_t t;
        (void)st;
        rd_open(&t, in, sizeof(in) - 1, ';', NULL);
        expect(&t, PB_CSV_ROW, NULL);
        expect(&t, PB_CSV_BAD, "UTF-8");
        assert_int_equal(t.r.line, 4);
        expect_field(&t, 1, "2", 0);
        rd_end(&t);
}

static void test_sniff(void **st) {
        (void)st;
        assert_int_equal(pb_csv_sniff("a;b;c\n1,5;2;3", 13), ';');
        assert_int_equal(pb_csv_sniff("a,b,\"c;d;e\"\n", 12), ',');
        assert_int_equal(pb_csv_sniff("\xEF\xBB\xBFx;y", 6), ';');
}

PB_TEST_MAIN(cmocka_unit_test(test_bom_crlf_quotes),
             cmocka_unit_test(test_errors_resync),
             cmocka_unit_test(test_limits),
             cmocka_unit_test(test_resync_respects_quotes),
             cmocka_unit_test(test_utf8_blank_lines_no_final_newline),
             cmocka_unit_test(test_sniff))
