/* Unit tests for the one-pass encoder (lib/avro/pb_codec_fast.c): every
 * input gives the same result code, bytes, meta and errors with it on and
 * off, and it finishes on its own (without the tree walk) exactly where it
 * should: members in any order, missing optional fields, unions, escapes,
 * big numbers, arrays longer than one count byte; it declines duplicate
 * keys, unknown or missing required fields, escaped member names, maps,
 * syntax errors and inputs over the parser's limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec_fixture.h"
#include "partnerbus/pb_serde.h"
#include "pb_test.h"

static const char *ev_schema =
    "{\"type\":\"record\",\"name\":\"t.Ev\",\"partnerbus.key\":\"k\","
    "\"fields\":["
    "{\"name\":\"event_id\",\"type\":{\"type\":\"string\",\"logicalType\":"
    "\"uuid\"}},"
    "{\"name\":\"occurred_at\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-millis\"}},"
    "{\"name\":\"source\",\"type\":\"string\"},"
    "{\"name\":\"k\",\"type\":\"string\"},"
    "{\"name\":\"n\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"d\",\"type\":[\"null\",\"double\"],\"default\":null},"
    "{\"name\":\"s\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"R\","
    "\"fields\":[{\"name\":\"a\",\"type\":\"string\"},"
    "{\"name\":\"b\",\"type\":\"int\",\"default\":1}]}},"
    "{\"name\":\"xs\",\"type\":{\"type\":\"array\",\"items\":\"int\"},"
    "\"default\":[]},"
    "{\"name\":\"u\",\"type\":[\"null\",\"R\",{\"type\":\"array\","
    "\"items\":\"long\"}],\"default\":null},"
    "{\"name\":\"m\",\"type\":[\"null\",{\"type\":\"map\",\"values\":"
    "\"int\"}],\"default\":null},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
    "\"symbols\":[\"AB\",\"A\",\"B\",\"ABC\"]},\"default\":\"A\"}]}";

#define ID "\"event_id\":\"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a41\""
#define AT "\"occurred_at\":\"2023-02-28T10:00:00+01:00\""
/* every field, in schema order */
#define BASE                                                                   \
        "{" ID "," AT ",\"source\":\"org\",\"k\":\"K-1\",\"n\":5,\"l\":7,"     \
        "\"d\":1.5,\"s\":\"x\",\"r\":{\"a\":\"y\",\"b\":2},\"xs\":[1,2],"      \
        "\"u\":null,\"m\":null}"
/* BASE without n and the fields after it, for appending */
#define HEAD "{" ID "," AT ",\"source\":\"org\",\"k\":\"K-1\""

static pb_schema_t *ev;
static pb_codec_t *off; /* the tree walk alone */

static int setup(void **state) {
        if (codec_fixture_setup(state))
                return -1;
        off = pb_codec_new();
        if (!off)
                return -1;
        pb_codec_set_fast(off, 0);
        ev = pb_schema_new(ev_schema, strlen(ev_schema), NULL, 0);
        return ev ? 0 : -1;
}

static int teardown(void **state) {
        pb_schema_destroy(ev);
        pb_codec_destroy(off);
        return codec_fixture_teardown(state);
}

static void same_errors(const pb_errors_t *a, const pb_errors_t *b) {
        assert_int_equal(a->count, b->count);
        assert_int_equal(a->dropped, b->dropped);
        for (size_t i = 0; i < a->count; i++) {
                assert_string_equal(a->items[i].pointer, b->items[i].pointer);
                assert_string_equal(a->items[i].message, b->items[i].message);
                assert_string_equal(a->items[i].params, b->items[i].params);
                assert_ptr_equal(a->items[i].code, b->items[i].code);
        }
}

/* json[0..len) as s with opts o through codec c (fast on) and off: same
 * code (want), bytes, meta (unless filled at random) and errors; and the
 * one-pass encoder alone finishes (want_fast 1) or declines (0). */
static void check_with(pb_codec_t *c, const pb_schema_t *s, const char *json,
                       size_t len, const pb_encode_opts_t *o, pb_resp_t want,
                       int want_fast) {
        static pb_errors_t e1, e2;
        pb_event_meta_t m1, m2;
        pb_buf_t b1, b2;
        pb_resp_t r1, r2;
        int random = o && (o->fill_event_id || o->fill_occurred_at);

        pb_buf_init(&b1, 0);
        pb_buf_init(&b2, 0);
        pb_buf_append(&b1, "pre", 3);
        pb_buf_append(&b2, "pre", 3);
        memset(&m1, 0x5a, sizeof(m1));
        memset(&m2, 0x5a, sizeof(m2));
        pb_errors_init(&e1);
        pb_errors_init(&e2);
        r1 = pb_codec_json_to_avro(c, s, json, len, o, &b1, &m1, &e1);
        r2 = pb_codec_json_to_avro(off, s, json, len, o, &b2, &m2, &e2);
        if (r1 != want)
                fail_msg("%s: %s, expected %s (%s)", json, pb_err2str(r1),
                         pb_err2str(want), e1.count ? e1.items[0].message : "");
        assert_int_equal(r1, r2);
        assert_int_equal(b1.len, b2.len);
        if (!random) {
                assert_memory_equal(b1.data, b2.data, b1.len);
                assert_memory_equal(&m1, &m2, sizeof(m1));
        }
        same_errors(&e1, &e2);
        pb_buf_reset(&b1);
        if (pb_codec_json_to_avro_fast(c, s, NULL, json, len, o, &b1, &m1) !=
            want_fast)
                fail_msg("%s: the one-pass encoder %s", json,
                         want_fast ? "declined" : "finished");
        if (!want_fast)
                assert_int_equal(b1.len, 0);
        else if (!random)
                assert_memory_equal(b1.data, b2.data + 3, b1.len);
        pb_buf_free(&b1);
        pb_buf_free(&b2);
}

static void check(const char *json, pb_resp_t want, int want_fast) {
        check_with(codec, ev, json, strlen(json), NULL, want, want_fast);
}

static void check_opts(const char *json, const pb_encode_opts_t *o,
                       pb_resp_t want, int want_fast) {
        check_with(codec, ev, json, strlen(json), o, want, want_fast);
}

/* Every example under schemas/examples: the same with the encoder on and
 * off, and every valid one finished in one pass. */
static void test_examples(void **state) {
        const char *kinds[] = {"valid", "invalid"};
        (void)state;
        for (size_t k = 0; k < 2; k++) {
                ex_iter_t it;
                ex_iter_start(&it, kinds[k]);
                while (ex_iter_next(&it)) {
                        pb_errors_t e;
                        pb_buf_t b;
                        pb_resp_t r;
                        pb_buf_init(&b, 0);
                        pb_errors_init(&e);
                        r = pb_codec_json_to_avro(off, it.s, it.json, it.len,
                                                  NULL, &b, NULL, &e);
                        pb_buf_free(&b);
                        check_with(codec, it.s, it.json, it.len, NULL, r,
                                   k == 0);
                }
                assert_true(it.total > 0);
        }
}

static void test_order(void **state) {
        (void)state;
        check(BASE, PB_OK, 1);
        /* reversed, nested record reversed, a few swapped */
        check("{\"m\":null,\"u\":null,\"xs\":[1,2],\"r\":{\"b\":2,\"a\":\"y\"},"
              "\"s\":\"x\",\"d\":1.5,\"l\":7,\"n\":5,\"k\":\"K-1\","
              "\"source\":\"org\"," AT "," ID "}",
              PB_OK, 1);
        check(HEAD ",\"l\":7,\"n\":5,\"s\":\"x\",\"r\":{\"a\":\"y\"}}", PB_OK,
              1);
        /* missing optional fields: defaults and null */
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"}}", PB_OK, 1);
        check("{\"r\":{\"a\":\"y\"},\"n\":5,\"k\":\"K-1\",\"source\":\"o\","
              "" ID "," AT "}",
              PB_OK, 1);
        /* whitespace of every kind */
        check(
            " \r\n\t{ \"event_id\" :\t\"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a41\""
            "\r\n, " AT " , \"source\":\"org\",\"k\":\"K-1\",\"n\" : 5 ,"
            "\"r\":{ \"a\" : \"y\" } , \"xs\" : [ 1 , 2 ] , \"u\" : [ ] }\n ",
            PB_OK, 1);
        check("{}", PB_ERR_INVALID, 0);
}

static void test_members_refused(void **state) {
        (void)state;
        /* a required field missing, an unknown one */
        check(HEAD ",\"r\":{\"a\":\"y\"}}", PB_ERR_INVALID, 0);
        check(HEAD ",\"n\":5,\"r\":{}}", PB_ERR_INVALID, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"zz\":1}", PB_ERR_INVALID, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\",\"c\":1}}", PB_ERR_INVALID, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"\":1}", PB_ERR_INVALID, 0);
        /* duplicate keys: a syntax error of the parser */
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"k\":\"K-2\"}", PB_ERR_PARSE,
              0);
        check(HEAD ",\"n\":5,\"n\":5,\"r\":{\"a\":\"y\"}}", PB_ERR_PARSE, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\",\"a\":\"y\"}}", PB_ERR_PARSE,
              0);
        /* an escaped member name is left to the tree walk, which takes it */
        check(HEAD ",\"\\u006e\":5,\"r\":{\"a\":\"y\"}}", PB_OK, 0);
        /* a map is left to the tree walk */
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"m\":{\"a\":1}}", PB_OK, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"m\":{\"a\":1,\"a\":2}}",
              PB_ERR_PARSE, 0);
}

static void test_escapes(void **state) {
        (void)state;
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"q\\\" b\\\\ \\/ \\b\\f\\n\\r\\t "
                   "\\u00e9 \\u0416 \\ud83d\\ude00 \\u0000 end\"}}",
              PB_OK, 1);
        check(HEAD ",\"n\":5,\"s\":\"K\\u00f6ln \xd0\x94\xd0\xbd\xd1\x96\xd0"
                   "\xbf\xd1\x80\xd0\xbe\",\"r\":{\"a\":\"\"}}",
              PB_OK, 1);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"\\x\"}}", PB_ERR_PARSE, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"\\ud800\"}}", PB_ERR_PARSE, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"\\udc00\\ud800\"}}", PB_ERR_PARSE,
              0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"\\u12\"}}", PB_ERR_PARSE, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"a\tb\"}}", PB_ERR_PARSE, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"\xc3\x28\"}}", PB_ERR_PARSE, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"\xed\xa0\x80\"}}", PB_ERR_PARSE, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"open}}", PB_ERR_PARSE, 0);
        /* the key: a control character (escaped) and one too long */
        check("{" ID "," AT ",\"source\":\"o\",\"k\":\"A\\u0001\",\"n\":5,"
              "\"r\":{\"a\":\"y\"}}",
              PB_ERR_INVALID, 0);
}

/* Enum symbols and two-byte UTF-8 the one-pass encoder handles itself:
 * the same as the tree walk, for the symbols and strings near them. */
static void test_enums_utf8(void **state) {
        static const struct {
                const char *e;
                pb_resp_t want;
                int fast;
        } enums[] = {
            {"\"A\"", PB_OK, 1},
            {"\"AB\"", PB_OK, 1},
            {"\"ABC\"", PB_OK, 1},
            {"\"B\"", PB_OK, 1},
            {"\"\\u0041\"", PB_OK, 1},
            {"\"ABCD\"", PB_ERR_INVALID, 0},
            {"\"C\"", PB_ERR_INVALID, 0},
            {"\"\"", PB_ERR_INVALID, 0},
            {"\"a\"", PB_ERR_INVALID, 0},
            {"\"A\\u0000\"", PB_ERR_INVALID, 0},
            {"\"AB\\u0000C\"", PB_ERR_INVALID, 0},
            {"1", PB_ERR_INVALID, 0},
            {"null", PB_ERR_INVALID, 0},
        };
        static const struct {
                const char *a;
                pb_resp_t want;
                int fast;
        } strs[] = {
            {"\xc2\x80\xdf\xbf", PB_OK, 1},
            {"\xd0\x9e\xd0\xb1\xd0\xbb\xd0\xb0\xd1\x81\xd0\xbd\xd0\xb0 "
             "\xd0\xba\xd0\xbb\xd1\x96\xd0\xbd\xd1\x96\xd1\x87\xd0\xbd\xd0\xb0 "
             "long enough for sixteen-byte steps \xc3\xbc\xc3\xb6",
             PB_OK, 1},
            {"\xd0\x9e\xe2\x82\xac\xd0\x9e\xf0\x9f\x98\x80\xd0\x9e", PB_OK, 1},
            {"\xd0\x9e\\n\xd0\x9e", PB_OK, 1},
            {"\xd0\x9e\xd0", PB_ERR_PARSE, 0},
            {"\xd0\x9e\xd0\x28", PB_ERR_PARSE, 0},
            {"\xd0\x9e\xc1\xbf", PB_ERR_PARSE, 0},
            {"\xd0\x9e\xc0\x80", PB_ERR_PARSE, 0},
            {"\xd0\x9e\x80", PB_ERR_PARSE, 0},
            {"\xd0\x9e\xd0\xc0", PB_ERR_PARSE, 0},
            {"\xd0\x9e\x01", PB_ERR_PARSE, 0},
            {"\xd0\x9e\xed\xa0\x80", PB_ERR_PARSE, 0},
        };
        char json[512];
        (void)state;
        for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
                snprintf(json, sizeof(json),
                         HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"e\":%s}",
                         enums[i].e);
                check(json, enums[i].want, enums[i].fast);
        }
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
                snprintf(json, sizeof(json),
                         HEAD ",\"n\":5,\"r\":{\"a\":\"%s\"},\"s\":\"%s\"}",
                         strs[i].a, strs[i].a);
                check(json, strs[i].want, strs[i].fast);
                /* the string cut short: unterminated */
                snprintf(json, sizeof(json), HEAD ",\"n\":5,\"s\":\"%s",
                         strs[i].a);
                check(json, PB_ERR_PARSE, 0);
        }
}

/* The event id's uuid check (16 bytes a step in the one-pass encoder). */
static void test_uuids(void **state) {
        static const struct {
                const char *id;
                pb_resp_t want;
                int fast;
        } ids[] = {
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a41", PB_OK, 1},
            {"3F1C9A52-6B1E-4C07-9D2A-8E5B7C1D0A4F", PB_OK, 1},
            {"00000000-0000-0000-0000-000000000000", PB_OK, 1},
            {"ffffffff-ffff-ffff-ffff-ffffffffffff", PB_OK, 1},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4g", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4G", PB_ERR_INVALID, 0},
            {"gf1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a41", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4/", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4:", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4@", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4`", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4\\u0010", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4\\u0046", PB_OK, 1},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4\\u00c1", PB_ERR_INVALID, 0},
            {"3f1c9a5-26b1e-4c07-9d2a-8e5b7c1d0a41", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a8-e5b7c1d0a41", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c0-79d2a-8e5b7c1d0a41", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e4-c07-9d2a-8e5b7c1d0a41", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a4", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a411", PB_ERR_INVALID, 0},
            {"3f1c9a526b1e4c079d2a8e5b7c1d0a41", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0-41", PB_ERR_INVALID, 0},
            {"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0\\u00e941", PB_ERR_INVALID, 0},
        };
        char json[512];
        (void)state;
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
                snprintf(json, sizeof(json),
                         "{\"event_id\":\"%s\"," AT
                         ",\"source\":\"org\",\"k\":\"K-1\",\"n\":5,"
                         "\"r\":{\"a\":\"short\"},\"s\":\"12345678\"}",
                         ids[i].id);
                check(json, ids[i].want, ids[i].fast);
        }
}

static void test_numbers(void **state) {
        static const struct {
                const char *n, *l, *d;
                pb_resp_t want;
                int fast;
        } cases[] = {
            {"2147483647", "9223372036854775807", "1e308", PB_OK, 1},
            {"-2147483648", "-9223372036854775808", "-0.0", PB_OK, 1},
            {"0", "0", "123456789012345678901234567890.5e-3", PB_OK, 1},
            {"0", "0", "\"NaN\"", PB_OK, 1},
            {"0", "0", "\"-Infinity\"", PB_OK, 1},
            {"2147483648", "0", "1", PB_ERR_INVALID, 0},
            {"-2147483649", "0", "1", PB_ERR_INVALID, 0},
            {"1e3", "0", "1", PB_ERR_INVALID, 0},
            {"1.0", "0", "1", PB_ERR_INVALID, 0},
            {"0", "9223372036854775808", "1", PB_ERR_INVALID, 0},
            {"0", "-9223372036854775809", "1", PB_ERR_INVALID, 0},
            {"0", "0", "1e309", PB_ERR_INVALID, 0},
            {"0", "0", "\"1.5\"", PB_ERR_INVALID, 0},
            {"05", "0", "1", PB_ERR_PARSE, 0},
            {"-", "0", "1", PB_ERR_PARSE, 0},
            {"1.", "0", "1", PB_ERR_PARSE, 0},
            {"+1", "0", "1", PB_ERR_PARSE, 0},
            {"true", "0", "1", PB_ERR_INVALID, 0},
            {"nul", "0", "1", PB_ERR_PARSE, 0},
            {"-0", "0", "1", PB_OK, 1},
            {"-1", "0", "1", PB_OK, 1},
            {"999999999", "0", "1", PB_OK, 1},
            {"-999999999", "0", "1", PB_OK, 1},
            {"1000000000", "0", "1", PB_OK, 1},
            {"-1000000000", "0", "1", PB_OK, 1},
            {"1E2", "0", "1", PB_ERR_INVALID, 0},
            {"-1.5", "0", "1", PB_ERR_INVALID, 0},
            {"\"5\"", "0", "1", PB_ERR_INVALID, 0},
        };
        char json[512];
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(json, sizeof(json),
                         HEAD
                         ",\"n\":%s,\"l\":%s,\"d\":%s,\"r\":{\"a\":\"y\"}}",
                         cases[i].n, cases[i].l, cases[i].d);
                check(json, cases[i].want, cases[i].fast);
        }
}

static void test_arrays_unions(void **state) {
        static const size_t counts[] = {0, 1, 63, 64, 65, 300, 9000};
        pb_buf_t j;
        (void)state;
        /* block counts of one byte and of two or more */
        for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
                pb_buf_init(&j, 0);
                pb_buf_puts(&j, HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"xs\":[");
                for (size_t i = 0; i < counts[c]; i++)
                        pb_buf_printf(&j, "%s%zu", i ? "," : "", i * 1000);
                pb_buf_puts(&j, "],\"u\":[");
                for (size_t i = 0; i < counts[c]; i++)
                        pb_buf_printf(&j, "%s-%zu", i ? "," : "", i);
                pb_buf_puts(&j, "]}");
                check((const char *)j.data, PB_OK, 1);
                pb_buf_free(&j);
        }
        /* a union's record and array branches; wrong shapes */
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"u\":{\"b\":3,\"a\":\"z\"}}",
              PB_OK, 1);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"u\":\"x\"}", PB_ERR_INVALID,
              0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"xs\":{}}", PB_ERR_INVALID,
              0);
        check(HEAD ",\"n\":5,\"r\":[],\"xs\":[]}", PB_ERR_INVALID, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"xs\":[1,]}", PB_ERR_PARSE,
              0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},\"xs\":[1 2]}", PB_ERR_PARSE,
              0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"},}", PB_ERR_PARSE, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"}} x", PB_ERR_PARSE, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"}}{}", PB_ERR_PARSE, 0);
        check(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"}", PB_ERR_PARSE, 0);
        check("", PB_ERR_PARSE, 0);
        check("null", PB_ERR_INVALID, 0);
        check("[]", PB_ERR_INVALID, 0);
}

static void test_options(void **state) {
        pb_encode_opts_t o;
        (void)state;
        memset(&o, 0, sizeof(o));
        o.force_source = "org";
        check_opts(BASE, &o, PB_OK, 1);
        check_opts("{" ID "," AT ",\"k\":\"K-1\",\"n\":5,\"r\":{\"a\":\"y\"}}",
                   &o, PB_OK, 1);
        check_opts(HEAD ",\"n\":5,\"r\":{\"a\":\"y\"}}", &o, PB_OK, 1);
        o.force_source = "other";
        check_opts(BASE, &o, PB_ERR_INVALID, 0);
        memset(&o, 0, sizeof(o));
        o.fill_event_id = o.fill_occurred_at = 1;
        check_opts(
            "{\"source\":\"o\",\"k\":\"K-1\",\"n\":5,\"r\":{\"a\":\"y\"}}", &o,
            PB_OK, 1);
        check_opts(BASE, &o, PB_OK, 1);
        /* the filled-in id and time reach meta */
        {
                pb_event_meta_t m;
                pb_buf_t b;
                const char *j = "{\"k\":\"K-1\",\"n\":5,\"source\":\"o\",\"r\":"
                                "{\"a\":\"\"}}";
                pb_buf_init(&b, 0);
                assert_int_equal(pb_codec_json_to_avro_fast(
                                     codec, ev, NULL, j, strlen(j), &o, &b, &m),
                                 1);
                assert_true(pb_uuid_valid(m.event_id, strlen(m.event_id)));
                assert_true(m.occurred_at_ms > 0);
                assert_string_equal(m.key, "K-1");
                assert_string_equal(m.source, "o");
                pb_buf_free(&b);
        }
}

/* The parser's limits apply: deeper or larger input declines, and the
 * tree walk refuses it. */
static void test_limits(void **state) {
        pb_json_limits_t lim = {1, 1000};
        pb_codec_t *c = pb_codec_new(), *o2 = off;
        const char *j = BASE;
        (void)state;
        assert_non_null(c);
        assert_int_equal(pb_codec_set_json_limits(c, &lim), PB_OK);
        off = pb_codec_new();
        assert_int_equal(pb_codec_set_json_limits(off, &lim), PB_OK);
        pb_codec_set_fast(off, 0);
        check_with(c, ev, j, strlen(j), NULL, PB_ERR_PARSE, 0);
        lim.max_depth = 2;
        lim.max_nodes = 16; /* BASE has 17 values */
        assert_int_equal(pb_codec_set_json_limits(c, &lim), PB_OK);
        assert_int_equal(pb_codec_set_json_limits(off, &lim), PB_OK);
        check_with(c, ev, j, strlen(j), NULL, PB_ERR_PARSE, 0);
        lim.max_nodes = 17;
        assert_int_equal(pb_codec_set_json_limits(c, &lim), PB_OK);
        assert_int_equal(pb_codec_set_json_limits(off, &lim), PB_OK);
        check_with(c, ev, j, strlen(j), NULL, PB_OK, 1);
        pb_codec_destroy(off);
        off = o2;
        pb_codec_destroy(c);
}

/* pb_serde_encode: the frame header in front of the one-pass body, the
 * same bytes as with the tree walk. */
static void test_serde(void **state) {
        char err[256];
        pb_serde_t *on = pb_serde_new(cat, NULL, err, sizeof(err));
        pb_serde_t *tw = pb_serde_new(cat, NULL, err, sizeof(err));
        ex_iter_t it;
        (void)state;
        assert_non_null(on);
        assert_non_null(tw);
        pb_codec_set_fast(pb_serde_codec(tw), 0);
        ex_iter_start(&it, "valid");
        while (ex_iter_next(&it)) {
                pb_buf_t b1, b2;
                pb_errors_t e;
                pb_event_meta_t m1, m2;
                pb_buf_init(&b1, 0);
                pb_buf_init(&b2, 0);
                pb_errors_init(&e);
                assert_int_equal(pb_serde_encode(on, it.s, "t", it.json, it.len,
                                                 NULL, &b1, &m1, &e),
                                 PB_OK);
                assert_int_equal(pb_serde_encode(tw, it.s, "t", it.json, it.len,
                                                 NULL, &b2, &m2, &e),
                                 PB_OK);
                assert_int_equal(b1.len, b2.len);
                assert_memory_equal(b1.data, b2.data, b1.len);
                assert_memory_equal(&m1, &m2, sizeof(m1));
                assert_int_equal(b1.data[0], 0xC3);
                pb_buf_free(&b1);
                pb_buf_free(&b2);
        }
        pb_serde_destroy(on);
        pb_serde_destroy(tw);
}

PB_TEST_MAIN_WITH(
    setup, teardown, cmocka_unit_test(test_examples),
    cmocka_unit_test(test_order), cmocka_unit_test(test_members_refused),
    cmocka_unit_test(test_escapes), cmocka_unit_test(test_numbers),
    cmocka_unit_test(test_enums_utf8), cmocka_unit_test(test_uuids),
    cmocka_unit_test(test_arrays_unions), cmocka_unit_test(test_options),
    cmocka_unit_test(test_limits), cmocka_unit_test(test_serde))
