/* Unit tests for pb_util.c: RFC 3339 instants, dates, decimals, base64 and
 * UUIDs. Decimals are checked against an independent reference that works
 * on decimal digit strings (schoolbook division by 256), not on the
 * implementation's byte arithmetic. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "partnerbus/pb_util.h"

/* --- RFC 3339 --- */

static int64_t rfc(const char *s) {
        int64_t ms = INT64_MIN;
        if (pb_rfc3339_parse(s, strlen(s), &ms) != 0)
                fail_msg("rejected %s", s);
        return ms;
}

static void rfc_bad(const char *s) {
        int64_t ms = 12345;
        if (pb_rfc3339_parse(s, strlen(s), &ms) == 0)
                fail_msg("accepted %s", s);
        assert_int_equal(ms, 12345); /* untouched on failure */
}

static void test_rfc3339_parse(void **state) {
        (void)state;
        assert_int_equal(rfc("1970-01-01T00:00:00Z"), 0);
        assert_int_equal(rfc("1970-01-01T00:00:01Z"), 1000);
        assert_int_equal(rfc("1969-12-31T23:59:59.999Z"), -1);
        /* 28 February 2023, the regional partnership: cross-checked with
         * `date -u -d 2023-02-28T10:00:00Z +%s` = 1677578400 */
        assert_int_equal(rfc("2023-02-28T10:00:00Z"), 1677578400000LL);
        assert_int_equal(rfc("2023-02-28t10:00:00z"), 1677578400000LL);
        assert_int_equal(rfc("2023-02-28T12:00:00+02:00"), 1677578400000LL);
        assert_int_equal(rfc("2023-02-28T05:30:00-04:30"), 1677578400000LL);
        assert_int_equal(rfc("2023-02-28T10:00:00-00:00"), 1677578400000LL);
        assert_int_equal(rfc("2023-03-01T01:00:00+15:00"), 1677578400000LL);
        /* fractions: 1..9 digits, truncated to ms */
        assert_int_equal(rfc("2023-02-28T10:00:00.1Z"), 1677578400100LL);
        assert_int_equal(rfc("2023-02-28T10:00:00.12Z"), 1677578400120LL);
        assert_int_equal(rfc("2023-02-28T10:00:00.123Z"), 1677578400123LL);
        assert_int_equal(rfc("2023-02-28T10:00:00.123999999Z"),
                         1677578400123LL);
        assert_int_equal(rfc("2023-02-28T12:00:00.5+02:00"), 1677578400500LL);
        /* leap days */
        assert_int_equal(rfc("2024-02-29T00:00:00Z"), 1709164800000LL);
        assert_int_equal(rfc("2000-02-29T00:00:00Z"), 951782400000LL);
        /* range ends */
        assert_int_equal(rfc("0001-01-01T00:00:00Z"), -62135596800000LL);
        assert_int_equal(rfc("9999-12-31T23:59:59.999Z"), 253402300799999LL);
        assert_int_equal(rfc("2023-12-31T23:59:59Z"), 1704067199000LL);
}

static void test_rfc3339_reject(void **state) {
        (void)state;
        rfc_bad("");
        rfc_bad("2023-02-28");
        rfc_bad("2023-02-28T10:00:00");     /* no offset */
        rfc_bad("2023-02-28T10:00:00.123"); /* no offset */
        rfc_bad("2023-02-29T10:00:00Z");    /* not a leap year */
        rfc_bad("1900-02-29T10:00:00Z");    /* century rule */
        rfc_bad("2023-02-30T10:00:00Z");
        rfc_bad("2023-04-31T10:00:00Z");
        rfc_bad("2023-13-01T10:00:00Z");
        rfc_bad("2023-00-01T10:00:00Z");
        rfc_bad("2023-01-00T10:00:00Z");
        rfc_bad("0000-01-01T00:00:00Z"); /* year 0 */
        rfc_bad("2023-02-28T24:00:00Z");
        rfc_bad("2023-02-28T10:60:00Z");
        rfc_bad("2023-02-28T23:59:60Z"); /* leap second: rejected */
        rfc_bad("2023-02-28 10:00:00Z"); /* space separator */
        rfc_bad("2023-02-28T10:00:00.Z");
        rfc_bad("2023-02-28T10:00:00.1234567890Z"); /* 10 digits */
        rfc_bad("2023-02-28T10:00:00+2:00");
        rfc_bad("2023-02-28T10:00:00+02");
        rfc_bad("2023-02-28T10:00:00+0200");
        rfc_bad("2023-02-28T10:00:00+24:00");
        rfc_bad("2023-02-28T10:00:00+02:60");
        rfc_bad("2023-02-28T10:00:00ZZ");
        rfc_bad("2023-02-28T10:00:00Z ");
        rfc_bad(" 2023-02-28T10:00:00Z");
        rfc_bad("2023-2-28T10:00:00Z");
        rfc_bad("+2023-02-28T10:00:00Z");
        rfc_bad("2023-02-28T1a:00:00Z");
        rfc_bad("2023/02/28T10:00:00Z");
        /* length is honoured: a valid prefix of a longer buffer */
        int64_t ms;
        assert_int_equal(pb_rfc3339_parse("2023-02-28T10:00:00Zjunk", 20, &ms),
                         0);
        assert_int_equal(ms, 1677578400000LL);
        assert_int_equal(pb_rfc3339_parse("2023-02-28T10:00:00Z", 19, &ms), -1);
        assert_int_equal(pb_rfc3339_parse("2023-02-28T10:00:00.12Z", 22, &ms),
                         -1);
}

static void test_rfc3339_format(void **state) {
        char buf[32];
        (void)state;
        assert_int_equal(pb_rfc3339_format(0, buf, sizeof(buf)), 24);
        assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
        pb_rfc3339_format(1677578400123LL, buf, sizeof(buf));
        assert_string_equal(buf, "2023-02-28T10:00:00.123Z");
        pb_rfc3339_format(-1, buf, sizeof(buf));
        assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
        pb_rfc3339_format(1709164800000LL, buf, sizeof(buf));
        assert_string_equal(buf, "2024-02-29T00:00:00.000Z");
        pb_rfc3339_format(-62135596800000LL, buf, sizeof(buf));
        assert_string_equal(buf, "0001-01-01T00:00:00.000Z");
        /* extremes do not overflow the buffer */
        assert_true(pb_rfc3339_format(INT64_MAX, buf, sizeof(buf)) > 0);
        assert_true(strlen(buf) < sizeof(buf));
        assert_true(pb_rfc3339_format(INT64_MIN, buf, sizeof(buf)) > 0);
        assert_true(strlen(buf) < sizeof(buf));
        /* too small a buffer: 0 and an empty string */
        char small[10];
        assert_int_equal(pb_rfc3339_format(0, small, sizeof(small)), 0);
        assert_string_equal(small, "");
        /* round trip over a wide range, including negative instants */
        uint64_t x = 88172645463325252ULL;
        for (int i = 0; i < 100000; i++) {
                int64_t ms, back;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ms = (int64_t)(x % 315537897600000ULL) - 62135596800000LL;
                assert_int_equal(pb_rfc3339_format(ms, buf, sizeof(buf)), 24);
                assert_int_equal(pb_rfc3339_parse(buf, 24, &back), 0);
                assert_int_equal(back, ms);
        }
}

static void test_dates(void **state) {
        int32_t d = 99;
        char buf[16];
        (void)state;
        assert_int_equal(pb_date_parse("1970-01-01", 10, &d), 0);
        assert_int_equal(d, 0);
        assert_int_equal(pb_date_parse("2023-02-28", 10, &d), 0);
        assert_int_equal(d, 19416);
        assert_int_equal(pb_date_parse("2024-02-29", 10, &d), 0);
        assert_int_equal(d, 19782);
        assert_int_equal(pb_date_parse("1969-12-31", 10, &d), 0);
        assert_int_equal(d, -1);
        assert_int_equal(pb_date_parse("0001-01-01", 10, &d), 0);
        assert_int_equal(d, -719162);
        d = 7;
        assert_int_equal(pb_date_parse("2023-02-29", 10, &d), -1);
        assert_int_equal(pb_date_parse("2023-02-28T", 11, &d), -1);
        assert_int_equal(pb_date_parse("2023-02-2", 9, &d), -1);
        assert_int_equal(pb_date_parse("2023-2-28", 9, &d), -1);
        assert_int_equal(pb_date_parse("28.02.2023", 10, &d), -1);
        assert_int_equal(pb_date_parse("2023-06-31", 10, &d), -1);
        assert_int_equal(pb_date_parse("0000-06-01", 10, &d), -1);
        assert_int_equal(d, 7);
        assert_int_equal(pb_date_format(19416, buf, sizeof(buf)), 10);
        assert_string_equal(buf, "2023-02-28");
        pb_date_format(-1, buf, sizeof(buf));
        assert_string_equal(buf, "1969-12-31");
        pb_date_format(19782, buf, sizeof(buf));
        assert_string_equal(buf, "2024-02-29");
        assert_true(pb_date_format(INT32_MIN, buf, sizeof(buf)) > 0);
        assert_true(pb_date_format(INT32_MAX, buf, sizeof(buf)) > 0);
        assert_int_equal(pb_date_format(0, buf, 10), 0);
        /* every day from 1600-01-01 to 2400-12-31 (full 400-year cycles
         * plus the century rules) and every 97th day of 0001..9999 round
         * trips; parse and format agree on consecutive days */
        for (int32_t day = -135140; day <= 157419; day++) {
                int32_t back;
                assert_int_equal(pb_date_format(day, buf, sizeof(buf)), 10);
                assert_int_equal(pb_date_parse(buf, 10, &back), 0);
                if (back != day)
                        fail_msg("%s -> %d, want %d", buf, back, day);
        }
        assert_string_equal(buf, "2400-12-31");
        for (int32_t day = -719162; day <= 2932896; day += 97) {
                int32_t back;
                assert_int_equal(pb_date_format(day, buf, sizeof(buf)), 10);
                assert_int_equal(pb_date_parse(buf, 10, &back), 0);
                assert_int_equal(back, day);
        }
        pb_date_format(2932896, buf, sizeof(buf));
        assert_string_equal(buf, "9999-12-31");
        pb_date_format(-135140, buf, sizeof(buf));
        assert_string_equal(buf, "1600-01-01");
}

static void test_now(void **state) {
        (void)state;
        int64_t a = pb_now_ms();
        /* after 2024-01-01 and before 2100-01-01 */
        assert_true(a > 1704067200000LL);
        assert_true(a < 4102444800000LL);
        assert_true(pb_now_ms() >= a);
}

/* --- zigzag varints (Avro long): fixed vectors from the spec --- */

static void test_zigzag(void **state) {
        static const struct {
                int64_t v;
                uint8_t b[10];
                size_t n;
        } vec[] = {
            {0, {0x00}, 1},
            {-1, {0x01}, 1},
            {1, {0x02}, 1},
            {-64, {0x7f}, 1},
            {64, {0x80, 0x01}, 2},
            {INT64_MAX,
             {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
             10},
            {INT64_MIN,
             {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
             10},
        };
        static const uint8_t overlong[10] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0x02};
        uint8_t b[10];
        int64_t v;
        size_t used, i;
        (void)state;
        for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
                assert_int_equal(pb_zz_encode(b, vec[i].v), vec[i].n);
                assert_memory_equal(b, vec[i].b, vec[i].n);
                assert_int_equal(pb_zz_decode(b, b + vec[i].n, &v, &used),
                                 PB_OK);
                assert_true(v == vec[i].v);
                assert_int_equal(used, vec[i].n);
                if (vec[i].n > 1)
                        assert_int_equal(
                            pb_zz_decode(b, b + vec[i].n - 1, &v, &used),
                            PB_ERR_TRUNCATED);
        }
        assert_int_equal(pb_zz_decode(b, b, &v, &used), PB_ERR_TRUNCATED);
        assert_int_equal(pb_zz_decode(overlong, overlong + 10, &v, &used),
                         PB_ERR_INVALID);
}

/* --- decimals --- */

/* Reference: unscaled decimal digit string (no sign) to minimal two's
 * complement bytes, by repeated division of the digit string by 256. */
static int ref_decimal_bytes(const char *digits, int neg, uint8_t *out) {
        char num[200];
        uint8_t mag[64];
        int nm = 0;
        snprintf(num, sizeof(num), "%s", digits);
        for (;;) {
                size_t len = strlen(num), i, o = 0;
                int rem = 0, zero = 1;
                char q[200];
                for (i = 0; i < len; i++) {
                        int cur = rem * 10 + (num[i] - '0');
                        int qd = cur / 256;
                        rem = cur % 256;
                        if (o || qd)
                                q[o++] = (char)('0' + qd);
                }
                q[o] = 0;
                mag[nm++] = (uint8_t)rem; /* little-endian */
                for (i = 0; i < o; i++)
                        if (q[i] != '0')
                                zero = 0;
                if (o == 0 || zero)
                        break;
                memcpy(num, q, o + 1);
        }
        /* big-endian with a spare sign byte, then negate if needed */
        uint8_t be[65];
        int n = nm + 1;
        be[0] = 0;
        for (int i = 0; i < nm; i++)
                be[n - 1 - i] = mag[i];
        if (neg) {
                int carry = 1;
                for (int i = n - 1; i >= 0; i--) {
                        int v = (uint8_t)~be[i] + carry;
                        be[i] = (uint8_t)v;
                        carry = v >> 8;
                }
        }
        int s = 0;
        while (s < n - 1 && ((be[s] == 0 && !(be[s + 1] & 0x80)) ||
                             (be[s] == 0xFF && (be[s + 1] & 0x80))))
                s++;
        memcpy(out, be + s, (size_t)(n - s));
        return n - s;
}

static int dec(const char *s, int p, int sc, uint8_t *out, const char **why) {
        return pb_decimal_parse(s, strlen(s), p, sc, out, why);
}

static void expect_bytes(const char *s, int p, int sc, const char *hex) {
        uint8_t out[32];
        const char *why = NULL;
        char got[70] = "";
        int n = dec(s, p, sc, out, &why);
        if (n < 0)
                fail_msg("%s rejected: %s", s, why);
        for (int i = 0; i < n; i++)
                sprintf(got + 2 * i, "%02x", out[i]);
        if (strcmp(got, hex))
                fail_msg("%s: got %s want %s", s, got, hex);
}

/* why_want "" only checks that s is rejected. */
static void expect_reject(const char *s, int p, int sc, const char *why_want) {
        uint8_t out[32];
        const char *why = NULL;
        if (dec(s, p, sc, out, &why) != -1)
                fail_msg("%s accepted at %d/%d", s, p, sc);
        assert_non_null(why);
        if (why_want[0] && strcmp(why, why_want))
                fail_msg("%s: why '%s' want '%s'", s, why, why_want);
}

static void expect_format(const char *hex, int sc, const char *want) {
        uint8_t b[40];
        char buf[80];
        size_t n = strlen(hex) / 2;
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                sscanf(hex + 2 * i, "%2x", &v);
                b[i] = (uint8_t)v;
        }
        int len = pb_decimal_format(b, n, sc, buf, sizeof(buf));
        assert_int_equal(len, (int)strlen(want));
        assert_string_equal(buf, want);
}

/* Decimals as text at precision p and scale sc: the big-endian two's
 * complement bytes wanted (hex), or why the text is rejected. */
static const struct {
        const char *s;
        int p, sc;
        const char *hex, *why;
} decimals[] = {
    /* 143000.00 -> 14300000 = 0x00DA3360 */
    {"143000.00", 14, 2, "00da3360", NULL},
    {"143000", 14, 2, "00da3360", NULL},
    {"143000.0", 14, 2, "00da3360", NULL},
    {"-0.01", 14, 2, "ff", NULL},
    {"0.01", 14, 2, "01", NULL},
    {"0", 14, 2, "00", NULL},
    {"-0", 14, 2, "00", NULL},
    {"-0.00", 14, 2, "00", NULL},
    {"1.27", 14, 2, "7f", NULL},
    {"1.28", 14, 2, "0080", NULL},
    {"-1.28", 14, 2, "80", NULL},
    {"-1.29", 14, 2, "ff7f", NULL},
    /* 99999999999999 = 0x5AF3107A3FFF */
    {"999999999999.99", 14, 2, "5af3107a3fff", NULL},
    {"-999999999999.99", 14, 2, "a50cef85c001", NULL},
    {"007.50", 3, 2, "02ee", NULL},
    {"750000", 9, 0, "0b71b0", NULL},
    /* 38 nines at precision 38 = 10^38 - 1 */
    {"999999999999999999999999999999999999.99", 38, 2,
     "4b3b4ca85a86c47a098a223fffffffff", NULL},
    /* the largest supported: 76 nines */
    {"9999999999999999999999999999999999999999999999999999999"
     "999999999999999999999",
     76, 0,
     "161bcca7119915b50764b4abe86529797775a5f171950fff"
     "ffffffffffffffff",
     NULL},
    {"143000.001", 14, 2, NULL, "more than 2 fraction digits"},
    {"0.123", 14, 2, NULL, "more than 2 fraction digits"},
    {"1234567890123", 14, 2, NULL, "more than 12 integer digits"},
    {"-1234567890123.5", 14, 2, NULL, "more than 12 integer digits"},
    {"1.5", 5, 0, NULL, "more than 0 fraction digits"},
    {"0.55", 5, 1, NULL, "more than 1 fraction digit"},
    {"1", 2, 2, NULL, "more than 0 integer digits"},
    {"1e5", 14, 2, NULL, "not a decimal number"},
    {"1E5", 14, 2, NULL, "not a decimal number"},
    {"", 14, 2, NULL, "not a decimal number"},
    {"-", 14, 2, NULL, "not a decimal number"},
    {"+1", 14, 2, NULL, "not a decimal number"},
    {".5", 14, 2, NULL, "not a decimal number"},
    {"5.", 14, 2, NULL, "not a decimal number"},
    {"1,50", 14, 2, NULL, "not a decimal number"},
    {" 1", 14, 2, NULL, "not a decimal number"},
    {"1 ", 14, 2, NULL, "not a decimal number"},
    {"--1", 14, 2, NULL, "not a decimal number"},
    {"0x10", 14, 2, NULL, "not a decimal number"},
    {"NaN", 14, 2, NULL, "not a decimal number"},
    {"1.2.3", 14, 2, NULL, "not a decimal number"},
};

/* The rows of decimals that are accepted (rejected 0) or rejected. */
static void check_decimals(int rejected) {
        for (size_t i = 0; i < sizeof(decimals) / sizeof(decimals[0]); i++)
                if ((decimals[i].hex == NULL) != rejected)
                        continue;
                else if (rejected)
                        expect_reject(decimals[i].s, decimals[i].p,
                                      decimals[i].sc, decimals[i].why);
                else
                        expect_bytes(decimals[i].s, decimals[i].p,
                                     decimals[i].sc, decimals[i].hex);
}

static void test_decimal_parse(void **state) {
        (void)state;
        check_decimals(0);
}

static void test_decimal_reject(void **state) {
        (void)state;
        check_decimals(1);
        /* length is honoured */
        uint8_t out[32];
        const char *why;
        assert_int_equal(pb_decimal_parse("12.345", 5, 14, 2, out, &why), 2);
        assert_int_equal(out[0], 0x04);
        assert_int_equal(out[1], 0xd2); /* 1234 */
        /* impossible schemas are refused, not overflowed */
        assert_int_equal(dec("1", 77, 0, out, &why), -1);
        assert_int_equal(dec("1", 0, 0, out, &why), -1);
        assert_int_equal(dec("1", 5, 6, out, &why), -1);
        assert_int_equal(dec("1", 5, -1, out, &why), -1);
        assert_int_equal(dec("x", 5, 1, out, NULL), -1); /* why optional */
}

static void test_decimal_format(void **state) {
        char buf[80];
        (void)state;
        /* {two's complement bytes in hex, scale, the text wanted} */
        static const struct {
                const char *hex;
                int sc;
                const char *want;
        } cases[] = {
            /* scale 2 */
            {"00da3360", 2, "143000.00"},
            {"ff", 2, "-0.01"},
            {"00", 2, "0.00"},
            {"", 2, "0.00"},
            {"5af3107a3fff", 2, "999999999999.99"},
            {"a50cef85c001", 2, "-999999999999.99"},
            /* scale 0; -2^255, the most negative 32-byte value */
            {"00", 0, "0"},
            {"80", 0, "-128"},
            {"0080", 0, "128"},
            {"0b71b0", 0, "750000"},
            {"80000000000000000000000000000000"
             "00000000000000000000000000000000",
             0,
             "-57896044618658097711785492504343953926634992332820282"
             "019728792003956564819968"},
            /* scale 5 */
            {"01", 5, "0.00001"},
            {"ff", 5, "-0.00001"},
            /* scale 76 */
            {"80000000000000000000000000000000"
             "00000000000000000000000000000000",
             76,
             "-5.78960446186580977117854925043439539266349923328202"
             "82019728792003956564819968"},
            {"01", 76,
             "0.00000000000000000000000000000000000000000000000000"
             "00000000000000000000000001"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                expect_format(cases[i].hex, cases[i].sc, cases[i].want);
        /* more than 32 bytes: refused */
        uint8_t big[33] = {0};
        assert_int_equal(pb_decimal_format(big, 33, 2, buf, sizeof(buf)), -1);
        /* buffer too small: refused, not overflowed */
        uint8_t v[4] = {0x00, 0xda, 0x33, 0x60};
        assert_int_equal(pb_decimal_format(v, 4, 2, buf, 9), -1);
        assert_int_equal(pb_decimal_format(v, 4, 2, buf, 10), 9);
        assert_int_equal(pb_decimal_format(v, 4, -1, buf, 80), -1);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
        uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
}

/* Random decimals of every precision: parse matches the reference bytes
 * and format gives back the normalized text. */
static void test_decimal_random(void **state) {
        (void)state;
        for (int iter = 0; iter < 30000; iter++) {
                int p = 1 + (int)(rnd() % 76);
                int sc = (int)(rnd() % (unsigned)(p + 1));
                int ni = (int)(rnd() % (unsigned)(p - sc + 1));
                int nf = (int)(rnd() % (unsigned)(sc + 1));
                int neg = (int)(rnd() & 1);
                int lead0 = (int)(rnd() % 3);
                char text[200], unscaled[200], norm[200];
                size_t o = 0, u = 0;
                /* random digits, biased towards edge digits 0 and 9 */
                char id[80], fd[80];
                for (int i = 0; i < ni; i++) {
                        uint64_t r = rnd() % 12;
                        id[i] =
                            r >= 10 ? (r == 10 ? '0' : '9') : (char)('0' + r);
                }
                if (ni)
                        id[0] = (char)('1' + rnd() % 9);
                for (int i = 0; i < nf; i++)
                        fd[i] = (char)('0' + rnd() % 10);
                if (neg)
                        text[o++] = '-';
                for (int i = 0; i < lead0; i++)
                        text[o++] = '0';
                if (ni == 0 && lead0 == 0)
                        text[o++] = '0';
                memcpy(text + o, id, (size_t)ni);
                o += (size_t)ni;
                if (nf) {
                        text[o++] = '.';
                        memcpy(text + o, fd, (size_t)nf);
                        o += (size_t)nf;
                }
                text[o] = 0;
                /* unscaled digits for the reference */
                memcpy(unscaled, id, (size_t)ni);
                u = (size_t)ni;
                for (int i = 0; i < sc; i++)
                        unscaled[u++] = i < nf ? fd[i] : '0';
                if (u == 0)
                        unscaled[u++] = '0';
                unscaled[u] = 0;
                int allzero = strspn(unscaled, "0") == u;

                uint8_t got[32], want[66];
                const char *why = NULL;
                int n = dec(text, p, sc, got, &why);
                if (n < 0)
                        fail_msg("%s at %d/%d rejected: %s", text, p, sc, why);
                int wn = ref_decimal_bytes(unscaled, neg && !allzero, want);
                assert_int_equal(n, wn);
                assert_memory_equal(got, want, (size_t)n);

                /* normalized text: sign, integer digits (>= 1), scale
                 * fraction digits */
                o = 0;
                if (neg && !allzero)
                        norm[o++] = '-';
                if (ni == 0)
                        norm[o++] = '0';
                memcpy(norm + o, id, (size_t)ni);
                o += (size_t)ni;
                if (sc) {
                        norm[o++] = '.';
                        for (int i = 0; i < sc; i++)
                                norm[o++] = i < nf ? fd[i] : '0';
                }
                norm[o] = 0;
                char back[80];
                int bl =
                    pb_decimal_format(got, (size_t)n, sc, back, sizeof(back));
                if (bl < 0 || strcmp(back, norm))
                        fail_msg("%s at %d/%d: formatted %s, want %s", text, p,
                                 sc, bl < 0 ? "(error)" : back, norm);
                assert_int_equal(bl, (int)strlen(norm));

                /* one digit too many on either side is rejected */
                if (ni == p - sc && ni > 0) {
                        char more[210];
                        snprintf(more, sizeof(more), "%s1%s", neg ? "-" : "",
                                 text + neg);
                        /* skip when the added digit lands among leading
                         * zeros (still within the limit) */
                        if (!lead0)
                                expect_reject(more, p, sc, "");
                }
                if (nf == sc) {
                        char more[210];
                        snprintf(more, sizeof(more), "%s%s7", text,
                                 sc ? "" : ".");
                        expect_reject(more, p, sc, "");
                }
        }
}

/* --- base64 --- */

static void test_base64(void **state) {
        char enc[64];
        uint8_t dec_[64];
        (void)state;
        /* RFC 4648 section 10 test vectors */
        static const char *vec[][2] = {
            {"", ""},
            {"f", "Zg=="},
            {"fo", "Zm8="},
            {"foo", "Zm9v"},
            {"foob", "Zm9vYg=="},
            {"fooba", "Zm9vYmE="},
            {"foobar", "Zm9vYmFy"},
        };
        for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
                size_t n = strlen(vec[i][0]);
                assert_int_equal(pb_base64_encode((const uint8_t *)vec[i][0], n,
                                                  enc, sizeof(enc)),
                                 strlen(vec[i][1]));
                assert_string_equal(enc, vec[i][1]);
                assert_int_equal(pb_base64_decode(vec[i][1], strlen(vec[i][1]),
                                                  dec_, sizeof(dec_)),
                                 (long)n);
                assert_memory_equal(dec_, vec[i][0], n);
        }
        /* invalid input */
        static const char *bad[] = {
            "Zg=",  "Zg",   "Z===", "Zm9v=", "Zm 9",     "Zm9-",
            "Zm9_", "=Zm9", "Zh==", "Zm9=",  "Zg==Zg==", "Zm=v"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (pb_base64_decode(bad[i], strlen(bad[i]), dec_,
                                     sizeof(dec_)) != -1)
                        fail_msg("accepted %s", bad[i]);
        /* output bounds */
        assert_int_equal(pb_base64_decode("Zm9vYmFy", 8, dec_, 5), -1);
        assert_int_equal(pb_base64_decode("Zm9vYmFy", 8, dec_, 6), 6);
        assert_int_equal(pb_base64_encode((const uint8_t *)"foo", 3, enc, 4),
                         0);
        assert_int_equal(pb_base64_encode((const uint8_t *)"foo", 3, enc, 5),
                         4);
        /* random round trips with all byte values */
        for (int iter = 0; iter < 2000; iter++) {
                uint8_t in[40], out[40];
                char t[64];
                size_t n = rnd() % 41;
                for (size_t i = 0; i < n; i++)
                        in[i] = (uint8_t)rnd();
                size_t tl = pb_base64_encode(in, n, t, sizeof(t));
                assert_int_equal(tl, (n + 2) / 3 * 4);
                assert_int_equal(pb_base64_decode(t, tl, out, sizeof(out)),
                                 (long)n);
                assert_memory_equal(in, out, n);
        }
}

/* --- UUIDs --- */

/* FIPS 180-4 examples; SHA-256 and SHA-1 (uuid v5) share a thread's
 * digest context, alternately. */
static const struct {
        const char *in, *hex;
} sha256_vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void *sha256_check(void *arg) {
        int rounds = *(const int *)arg;
        for (int r = 0; r < rounds; r++)
                for (size_t i = 0; i < 3; i++) {
                        unsigned char d[32];
                        char hex[65], u[37];
                        pb_sha256(sha256_vectors[i].in,
                                  strlen(sha256_vectors[i].in), d);
                        for (int j = 0; j < 32; j++)
                                snprintf(hex + 2 * j, 3, "%02x", d[j]);
                        if (strcmp(hex, sha256_vectors[i].hex))
                                return (void *)1;
                        pb_sha256_hex(sha256_vectors[i].in,
                                      strlen(sha256_vectors[i].in), hex);
                        if (strcmp(hex, sha256_vectors[i].hex))
                                return (void *)1;
                        if (pb_uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8",
                                       "www.example.com", 15, u) ||
                            strcmp(u, "2ed6657d-e927-568b-95e1-2665a8aea6a2"))
                                return (void *)1;
                }
        return NULL;
}

static void test_sha256(void **state) {
        pthread_t t[4];
        int rounds = 2000;
        void *res;
        (void)state;
        assert_null(sha256_check(&rounds));
        /* threads at once: each its own context */
        for (int i = 0; i < 4; i++)
                assert_int_equal(
                    pthread_create(&t[i], NULL, sha256_check, &rounds), 0);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(pthread_join(t[i], &res), 0);
                assert_null(res);
        }
}

static void test_uuid(void **state) {
        char u[37], v[37];
        (void)state;
        assert_true(pb_uuid_valid("6ba7b810-9dad-11d1-80b4-00c04fd430c8", 36));
        assert_true(pb_uuid_valid("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", 36));
        assert_false(pb_uuid_valid("6ba7b810-9dad-11d1-80b4-00c04fd430c", 35));
        assert_false(
            pb_uuid_valid("6ba7b810-9dad-11d1-80b4-00c04fd430c8x", 37));
        assert_false(pb_uuid_valid("6ba7b8109dad-11d1-80b4-00c04fd430c8a", 36));
        assert_false(pb_uuid_valid("6ba7b810-9dad-11d1-80b4-00c04fd430g8", 36));
        assert_false(
            pb_uuid_valid("{ba7b810-9dad-11d1-80b4-00c04fd430c8}", 36));
        assert_false(pb_uuid_valid("6ba7b810_9dad_11d1_80b4_00c04fd430c8", 36));
        assert_false(pb_uuid_valid("", 0));

        /* v5 known vectors: DNS namespace */
        assert_int_equal(pb_uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8",
                                    "www.example.com", 15, u),
                         0);
        assert_string_equal(u, "2ed6657d-e927-568b-95e1-2665a8aea6a2");
        /* Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") */
        assert_int_equal(pb_uuid_v5("6BA7B810-9DAD-11D1-80B4-00C04FD430C8",
                                    "python.org", 10, u),
                         0);
        assert_string_equal(u, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
        assert_int_equal(pb_uuid_v5("not-a-uuid", "x", 1, u), -1);
        assert_string_equal(u, "");

        /* v4: valid, version 4, RFC 4122 variant, distinct */
        for (int i = 0; i < 1000; i++) {
                pb_uuid_v4(u);
                assert_int_equal(strlen(u), 36);
                assert_true(pb_uuid_valid(u, 36));
                assert_int_equal(u[14], '4');
                assert_non_null(strchr("89ab", u[19]));
                for (int k = 0; k < 36; k++)
                        assert_false(u[k] >= 'A' && u[k] <= 'F');
                if (i)
                        assert_string_not_equal(u, v);
                memcpy(v, u, sizeof(u));
        }
}

static void test_redact_url(void **state) {
        static const char *cases[][2] = {
            {"https://user:pass@registry.example/apis",
             "https://***@registry.example/apis"},
            {"http://u:p@feed/x.csv?token=abc&page=2",
             "http://***@feed/x.csv?token=***&page=2"},
            {"http://u:p@w@feed:8080/", "http://***@feed:8080/"},
            {"https://feed.example/a?API_KEY=k1&q=1&sig=zz#frag",
             "https://feed.example/a?API_KEY=***&q=1&sig=***#frag"},
            {"https://feed.example/a/b@c", "https://feed.example/a/b@c"},
            {"https://feed.example/a?tokens=1&key",
             "https://feed.example/a?tokens=1&key"},
            {"127.0.0.1:9092", "127.0.0.1:9092"},
            {"", ""},
        };
        char out[256], small[12];
        size_t i;
        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_string_equal(
                    pb_redact_url(cases[i][0], out, sizeof(out)), cases[i][1]);
        /* cut, never overrun, never the secret */
        pb_redact_url("http://user:secretpass@h/", small, sizeof(small));
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_null(strstr(small, "secret"));
        assert_string_equal(pb_redact_url(NULL, out, sizeof(out)), "");
}

PB_TEST_MAIN(
    cmocka_unit_test(test_redact_url), cmocka_unit_test(test_rfc3339_parse),
    cmocka_unit_test(test_rfc3339_reject),
    cmocka_unit_test(test_rfc3339_format), cmocka_unit_test(test_dates),
    cmocka_unit_test(test_now), cmocka_unit_test(test_zigzag),
    cmocka_unit_test(test_decimal_parse), cmocka_unit_test(test_decimal_reject),
    cmocka_unit_test(test_decimal_format),
    cmocka_unit_test(test_decimal_random), cmocka_unit_test(test_base64),
    cmocka_unit_test(test_uuid), cmocka_unit_test(test_sha256))
