/* Unit tests for pb_common.c: error strings, pb_buf_t, pb_errors_t. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json_ref.h"
#include "pb_test.h"

#include "partnerbus/pb_common.h"

static void test_err2str(void **state) {
        (void)state;
        assert_string_equal(pb_err2str(PB_OK), "success");
        assert_string_equal(pb_err2str(PB_ERR_LIMIT), "limit exceeded");
        assert_string_equal(pb_err2str(PB_ERR_NOMEM), "out of memory");
        /* every code has its own message */
        for (int a = PB_OK; a <= PB_ERR_ARG; a++)
                for (int b = a + 1; b <= PB_ERR_ARG; b++)
                        assert_string_not_equal(pb_err2str((pb_resp_t)a),
                                                pb_err2str((pb_resp_t)b));
        assert_string_equal(pb_err2str((pb_resp_t)999), "unknown error");
}

/* end of stream, timeout and a full queue are not errors of their own
 * neighbours: each has its own code and message */
static void test_distinct_codes(void **state) {
        const pb_resp_t codes[] = {PB_ERR_TRUNCATED, PB_ERR_LIMIT, PB_END,
                                   PB_ERR_TIMEOUT, PB_ERR_QUEUE_FULL};
        size_t a, b, n = sizeof(codes) / sizeof(codes[0]);
        (void)state;
        assert_string_equal(pb_err2str(PB_END), "end of stream");
        assert_string_equal(pb_err2str(PB_ERR_TIMEOUT), "timed out");
        assert_string_equal(pb_err2str(PB_ERR_QUEUE_FULL), "queue full");
        for (a = PB_OK; a <= PB_ERR_QUEUE_FULL; a++)
                for (b = a + 1; b <= PB_ERR_QUEUE_FULL; b++)
                        assert_string_not_equal(pb_err2str((pb_resp_t)a),
                                                pb_err2str((pb_resp_t)b));
        for (a = 0; a < n; a++)
                for (b = a + 1; b < n; b++)
                        assert_int_not_equal(codes[a], codes[b]);
}

/* the webhook's ce-time and the codec share this formatter: before 1970
 * the seconds and milliseconds are floored, not truncated toward zero */
static void test_rfc3339_before_1970(void **state) {
        char buf[32];
        (void)state;
        assert_int_equal(pb_rfc3339_format(-1, buf, sizeof(buf)), 24);
        assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
        pb_rfc3339_format(-1500, buf, sizeof(buf));
        assert_string_equal(buf, "1969-12-31T23:59:58.500Z");
        pb_rfc3339_format(-86400000, buf, sizeof(buf));
        assert_string_equal(buf, "1969-12-31T00:00:00.000Z");
        pb_rfc3339_format(0, buf, sizeof(buf));
        assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

/* two clocks: wall (after 2024) and monotonic (never goes back) */
static void test_clocks(void **state) {
        int64_t m1, m2;
        (void)state;
        assert_true(pb_now_ms() > 1704067200000LL);
        m1 = pb_mono_ms();
        m2 = pb_mono_ms();
        assert_true(m2 >= m1);
}

/* the gateway parses event ids to bytes with this (its own copy is gone) */
static void test_uuid_parse(void **state) {
        uint8_t id[16];
        const char *ok = "3F1C9A52-6b1e-4c07-9d2a-8e5b7c1d0a41";
        (void)state;
        assert_int_equal(pb_uuid_parse(ok, strlen(ok), id), 0);
        assert_int_equal(id[0], 0x3f);
        assert_int_equal(id[15], 0x41);
        assert_int_equal(
            pb_uuid_parse("3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4", 35, id), -1);
        assert_int_equal(
            pb_uuid_parse("3f1c9a526-b1e-4c07-9d2a-8e5b7c1d0a41", 36, id), -1);
        assert_int_equal(
            pb_uuid_parse("3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4g", 36, id), -1);
        assert_int_equal(
            pb_uuid_parse("3f1c9a52x6b1e-4c07-9d2a-8e5b7c1d0a41", 36, id), -1);
}

static void test_buf_basic(void **state) {
        pb_buf_t b;
        (void)state;
        pb_buf_init(&b, 0);
        assert_null(b.data);
        assert_int_equal(pb_buf_puts(&b, "hello"), PB_OK);
        assert_int_equal(pb_buf_putc(&b, ' '), PB_OK);
        assert_int_equal(pb_buf_append(&b, "world!!", 5), PB_OK);
        assert_int_equal(b.len, 11);
        assert_string_equal((char *)b.data, "hello world");
        assert_int_equal(pb_buf_printf(&b, " %d-%s", 42, "x"), PB_OK);
        assert_string_equal((char *)b.data, "hello world 42-x");
        pb_buf_reset(&b);
        assert_int_equal(b.len, 0);
        assert_string_equal((char *)b.data, "");
        /* growth across many appends, NUL-terminated throughout */
        for (int i = 0; i < 10000; i++) {
                assert_int_equal(pb_buf_putc(&b, (uint8_t)('a' + i % 26)),
                                 PB_OK);
                assert_int_equal(b.data[b.len], 0);
        }
        assert_int_equal(b.len, 10000);
        assert_int_equal(b.data[9999], 'a' + 9999 % 26);
        /* long printf that does not fit the current capacity */
        char big[5000];
        memset(big, 'z', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        pb_buf_reset(&b);
        assert_int_equal(pb_buf_puts(&b, "A"), PB_OK);
        assert_int_equal(pb_buf_printf(&b, "%s|%s", big, big), PB_OK);
        assert_int_equal(b.len, 1 + 2 * 4999 + 1);
        assert_int_equal(b.data[1 + 4999], '|');
        assert_int_equal(b.data[b.len], 0);
        pb_buf_free(&b);
        assert_null(b.data);
        pb_buf_free(&b); /* twice is fine */
        pb_buf_free(NULL);
}

static void test_buf_max(void **state) {
        pb_buf_t b;
        (void)state;
        pb_buf_init(&b, 8);
        assert_int_equal(pb_buf_puts(&b, "12345"), PB_OK);
        assert_int_equal(pb_buf_puts(&b, "6789"), PB_ERR_LIMIT);
        assert_int_equal(b.len, 5);
        assert_string_equal((char *)b.data, "12345");
        assert_int_equal(pb_buf_printf(&b, "%s", "abcd"), PB_ERR_LIMIT);
        assert_int_equal(b.len, 5);
        assert_string_equal((char *)b.data, "12345");
        assert_int_equal(pb_buf_json_str(&b, "ab", 2), PB_ERR_LIMIT);
        assert_string_equal((char *)b.data, "12345");
        assert_int_equal(pb_buf_puts(&b, "678"), PB_OK);
        assert_int_equal(b.len, 8);
        assert_int_equal(pb_buf_putc(&b, 'x'), PB_ERR_LIMIT);
        assert_string_equal((char *)b.data, "12345678");
        assert_true(b.cap <= 9);
        assert_int_equal(pb_buf_reserve(&b, SIZE_MAX), PB_ERR_LIMIT);
        pb_buf_free(&b);

        /* unlimited buffer: absurd reservation fails cleanly */
        pb_buf_init(&b, 0);
        assert_int_equal(pb_buf_puts(&b, "x"), PB_OK);
        assert_int_not_equal(pb_buf_reserve(&b, SIZE_MAX - 1), PB_OK);
        assert_string_equal((char *)b.data, "x");
        pb_buf_free(&b);
}

static void test_buf_json_str(void **state) {
        pb_buf_t b;
        (void)state;
        pb_buf_init(&b, 0);
        assert_int_equal(pb_buf_json_str(&b, "a\"b\\c/d", 7), PB_OK);
        assert_string_equal((char *)b.data, "\"a\\\"b\\\\c/d\"");
        pb_buf_reset(&b);
        const char ctl[] = "\b\f\n\r\t\x01\x1f\x7f";
        assert_int_equal(pb_buf_json_str(&b, ctl, sizeof(ctl) - 1), PB_OK);
        assert_string_equal((char *)b.data,
                            "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
        pb_buf_reset(&b);
        /* embedded NUL */
        assert_int_equal(pb_buf_json_str(&b, "a\0b", 3), PB_OK);
        assert_string_equal((char *)b.data, "\"a\\u0000b\"");
        pb_buf_reset(&b);
        /* UTF-8 passes through unescaped: Düsseldorf, Рівне */
        const char *u = "D\xc3\xbcsseldorf \xd0\xa0\xd1\x96\xd0\xb2\xd0\xbd"
                        "\xd0\xb5";
        assert_int_equal(pb_buf_json_str(&b, u, strlen(u)), PB_OK);
        assert_int_equal(b.len, strlen(u) + 2);
        assert_memory_equal(b.data + 1, u, strlen(u));
        pb_buf_reset(&b);
        assert_int_equal(pb_buf_json_str(&b, "", 0), PB_OK);
        assert_string_equal((char *)b.data, "\"\"");
        pb_buf_free(&b);
}

/* Random strings of the bytes the scan must tell apart (each one next to
 * every other, at every offset of a word), against the reference; and the
 * exact reservation: a limit one byte short refuses, unchanged. */
static void test_buf_json_str_random(void **state) {
        static const uint8_t pick[] = {'a',  ' ',  '!',  '"',  '#',  '\\', ']',
                                       0x00, 0x01, 0x08, 0x0a, 0x1f, 0x20, 0x7f,
                                       0x80, 0xa2, 0xdc, 0xc3, 0xff};
        uint8_t in[80];
        pb_buf_t want;
        unsigned seed = 12345;
        int round;
        (void)state;
        for (round = 0; round < 20000; round++) {
                size_t n, k, wn;
                pb_buf_t b;
                seed = seed * 1103515245u + 12345u;
                n = (seed >> 16) % sizeof(in);
                for (k = 0; k < n; k++) {
                        seed = seed * 1103515245u + 12345u;
                        /* mostly plain text, sometimes a byte of the set */
                        in[k] = (seed >> 16) % 4
                                    ? (uint8_t)('a' + (seed >> 20) % 26)
                                    : pick[(seed >> 20) % sizeof(pick)];
                }
                pb_buf_init(&want, 0);
                ref_json_str(in, n, &want);
                wn = want.len;
                pb_buf_init(&b, 0);
                assert_int_equal(pb_buf_puts(&b, "x"), PB_OK);
                assert_int_equal(pb_buf_json_str(&b, (const char *)in, n),
                                 PB_OK);
                assert_int_equal(b.len, wn + 1);
                assert_memory_equal(b.data + 1, want.data, wn);
                assert_int_equal(b.data[b.len], 0);
                pb_buf_free(&b);
                pb_buf_init(&b, 1 + wn);
                assert_int_equal(pb_buf_puts(&b, "x"), PB_OK);
                assert_int_equal(pb_buf_json_str(&b, (const char *)in, n),
                                 PB_OK);
                assert_int_equal(b.len, wn + 1);
                pb_buf_free(&b);
                pb_buf_init(&b, wn);
                assert_int_equal(pb_buf_puts(&b, "x"), PB_OK);
                assert_int_equal(pb_buf_json_str(&b, (const char *)in, n),
                                 PB_ERR_LIMIT);
                assert_int_equal(b.len, 1);
                assert_string_equal((char *)b.data, "x");
                pb_buf_free(&b);
                pb_buf_free(&want);
        }
}

static void test_errors(void **state) {
        pb_errors_t e;
        char buf[512];
        pb_buf_t b;
        (void)state;
        pb_errors_init(&e);
        assert_int_equal(e.count, 0);
        pb_errors_add(&e, "/amount", "expected %s", "a decimal string");
        pb_errors_add(&e, "", "not an object");
        pb_errors_format(&e, buf, sizeof(buf));
        assert_string_equal(
            buf, "/amount: expected a decimal string; not an object");
        pb_errors_format(&e, buf, 10);
        assert_string_equal(buf, "/amount: ");
        pb_errors_format(&e, buf, 1);
        assert_string_equal(buf, "");

        e.items[1].line = 7;
        pb_buf_init(&b, 0);
        assert_int_equal(pb_errors_to_json(&e, &b), PB_OK);
        assert_string_equal((char *)b.data,
                            "[{\"pointer\":\"/amount\",\"message\":"
                            "\"expected a decimal string\"},"
                            "{\"pointer\":\"\",\"message\":\"not an object\","
                            "\"line\":7}]");
        /* failed append leaves the output unchanged */
        pb_buf_t small;
        pb_buf_init(&small, 20);
        assert_int_equal(pb_buf_puts(&small, "pre"), PB_OK);
        assert_int_equal(pb_errors_to_json(&e, &small), PB_ERR_LIMIT);
        assert_string_equal((char *)small.data, "pre");
        pb_buf_free(&small);

        /* bounded: extra errors are counted, not stored */
        pb_errors_init(&e);
        for (int i = 0; i < PB_ERRORS_MAX + 10; i++)
                pb_errors_add(&e, "/x", "error %d", i);
        assert_int_equal(e.count, PB_ERRORS_MAX);
        assert_int_equal(e.dropped, 10);
        assert_string_equal(e.items[PB_ERRORS_MAX - 1].message, "error 63");
        pb_errors_format(&e, buf, sizeof(buf));
        assert_non_null(strstr(buf, "/x: error 0; /x: error 1"));
        /* long pointer and message are truncated, not overflowed */
        char longp[1000];
        memset(longp, '/', sizeof(longp) - 1);
        longp[sizeof(longp) - 1] = 0;
        pb_errors_init(&e);
        pb_errors_add(&e, longp, "%s", longp);
        assert_int_equal(strlen(e.items[0].pointer), PB_POINTER_MAX - 1);
        assert_int_equal(strlen(e.items[0].message), PB_ERRMSG_MAX - 1);
        pb_errors_add(&e, NULL, "no pointer");
        assert_string_equal(e.items[1].pointer, "");
        pb_buf_reset(&b);
        pb_errors_init(&e);
        assert_int_equal(pb_errors_to_json(&e, &b), PB_OK);
        assert_string_equal((char *)b.data, "[]");
        pb_buf_free(&b);
}

PB_TEST_MAIN(cmocka_unit_test(test_err2str),
             cmocka_unit_test(test_distinct_codes),
             cmocka_unit_test(test_rfc3339_before_1970),
             cmocka_unit_test(test_clocks), cmocka_unit_test(test_uuid_parse),
             cmocka_unit_test(test_buf_basic), cmocka_unit_test(test_buf_max),
             cmocka_unit_test(test_buf_json_str),
             cmocka_unit_test(test_buf_json_str_random),
             cmocka_unit_test(test_errors))
