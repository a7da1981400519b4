/* Unit tests for the codec (pb_codec_*.c): the examples under
 * schemas/examples round-trip byte for byte and the invalid ones fail with
 * their documented error; each strictness rule; defaults; schema
 * resolution; crafted and truncated binary input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec_examples.h"
#include "codec_fixture.h"
#include "json_ref.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_schema_int.h"
#include "pb_test.h"

/* Compact form of a JSON text, as pb_json_write produces it. */
static char *compact(const char *json, size_t len) {
        char err[256];
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        const pb_json_t *v = pb_json_parse(p, json, len, err, sizeof(err));
        pb_buf_t b;
        if (!v)
                fail_msg("test input is not JSON: %s", err);
        pb_buf_init(&b, 0);
        assert_int_equal(pb_json_write(v, &b), PB_OK);
        pb_json_parser_destroy(p);
        return (char *)b.data;
}

static void print_errs(const pb_errors_t *e) {
        for (size_t i = 0; i < e->count; i++)
                fprintf(stderr, "  error %zu: '%s' %s\n", i,
                        e->items[i].pointer, e->items[i].message);
}

/* Encodes json; expects success; returns the Avro bytes in out. */
static void enc_ok(const pb_schema_t *s, const char *json, pb_buf_t *out) {
        pb_errors_t errs;
        pb_errors_init(&errs);
        pb_resp_t r = pb_codec_json_to_avro(codec, s, json, strlen(json), NULL,
                                            out, NULL, &errs);
        if (r != PB_OK) {
                print_errs(&errs);
                fail_msg("encoding failed (%s): %s", pb_err2str(r), json);
        }
}

/* Encodes json; expects a failure with an error at `ptr` whose message
 * contains `frag`; out must be left untouched. */
static void enc_fails(const pb_schema_t *s, const char *json, const char *ptr,
                      const char *frag) {
        pb_errors_t errs;
        pb_buf_t out;
        pb_errors_init(&errs);
        pb_buf_init(&out, 0);
        assert_int_equal(pb_buf_puts(&out, "prefix"), PB_OK);
        pb_resp_t r = pb_codec_json_to_avro(codec, s, json, strlen(json), NULL,
                                            &out, NULL, &errs);
        if (r == PB_OK)
                fail_msg("accepted: %s", json);
        assert_int_equal(out.len, 6);
        assert_string_equal((char *)out.data, "prefix");
        for (size_t i = 0; i < errs.count; i++)
                if (!strcmp(errs.items[i].pointer, ptr) &&
                    strstr(errs.items[i].message, frag)) {
                        pb_buf_free(&out);
                        return;
                }
        print_errs(&errs);
        fail_msg("no error at '%s' containing '%s' for %s", ptr, frag, json);
}

/* Decodes; expects success and returns the JSON (caller frees). */
static char *dec_ok(const pb_schema_t *w, const pb_schema_t *r,
                    const uint8_t *data, size_t len) {
        char err[512];
        pb_buf_t out;
        pb_buf_init(&out, 0);
        pb_resp_t rc = pb_codec_avro_to_json(codec, w, r, data, len, &out, NULL,
                                             err, sizeof(err));
        if (rc != PB_OK)
                fail_msg("decode failed (%s): %s", pb_err2str(rc), err);
        return (char *)out.data;
}

/* Decodes; expects the result code and an errstr containing frag. */
static void dec_fails(const pb_schema_t *w, const pb_schema_t *r,
                      const uint8_t *data, size_t len, pb_resp_t code,
                      const char *frag) {
        char err[512];
        pb_buf_t out;
        pb_buf_init(&out, 0);
        assert_int_equal(pb_buf_puts(&out, "keep"), PB_OK);
        pb_resp_t rc = pb_codec_avro_to_json(codec, w, r, data, len, &out, NULL,
                                             err, sizeof(err));
        if (rc != code)
                fail_msg("expected %s, got %s (%s)", pb_err2str(code),
                         pb_err2str(rc), err);
        if (!strstr(err, frag))
                fail_msg("error '%s' lacks '%s'", err, frag);
        assert_int_equal(out.len, 4);
        assert_string_equal((char *)out.data, "keep");
        pb_buf_free(&out);
}

/* --- the examples --- */

static void test_valid_examples(void **state) {
        ex_iter_t it;
        (void)state;
        ex_iter_start(&it, "valid");
        assert_true(it.ntypes >= 4);
        while (ex_iter_next(&it)) {
                const pb_schema_t *s = it.s;
                const char *path = it.path, *json = it.json;
                size_t len = it.len;
                pb_buf_t avro, avro2;
                pb_event_meta_t meta, meta2;
                pb_errors_t errs;
                pb_errors_init(&errs);
                pb_buf_init(&avro, 0);
                pb_buf_init(&avro2, 0);
                pb_resp_t r = pb_codec_json_to_avro(codec, s, json, len, NULL,
                                                    &avro, &meta, &errs);
                if (r != PB_OK) {
                        print_errs(&errs);
                        fail_msg("%s: %s", path, pb_err2str(r));
                }
                char err[512];
                pb_buf_t out;
                pb_buf_init(&out, 0);
                r = pb_codec_avro_to_json(codec, s, NULL, avro.data, avro.len,
                                          &out, &meta2, err, sizeof(err));
                if (r != PB_OK)
                        fail_msg("%s: decode: %s", path, err);
                char *want = compact(json, len);
                if (strcmp(want, (char *)out.data))
                        fail_msg("%s round trip differs:\n want %s\n "
                                 "got  %s",
                                 path, want, (char *)out.data);
                /* the meta of both directions agree with the JSON */
                char ev[128];
                snprintf(ev, sizeof(ev), "\"event_id\":\"%s\"", meta.event_id);
                assert_non_null(strstr(want, ev));
                assert_string_equal(meta.event_id, meta2.event_id);
                assert_string_equal(meta.source, meta2.source);
                assert_string_equal(meta.key, meta2.key);
                assert_true(meta.key_len > 0);
                assert_int_equal(meta.occurred_at_ms, meta2.occurred_at_ms);
                assert_true(meta.occurred_at_ms > 1600000000000LL);
                /* the decoded JSON re-encodes to the same bytes */
                assert_int_equal(
                    pb_codec_json_to_avro(codec, s, (char *)out.data, out.len,
                                          NULL, &avro2, NULL, &errs),
                    PB_OK);
                assert_int_equal(avro.len, avro2.len);
                assert_memory_equal(avro.data, avro2.data, avro.len);
                free(want);
                pb_buf_free(&out);
                pb_buf_free(&avro);
                pb_buf_free(&avro2);
        }
        assert_true(it.total >= 13);
}

static void test_invalid_examples(void **state) {
        ex_iter_t it;
        (void)state;
        ex_iter_start(&it, "invalid");
        assert_true(it.ntypes >= 1);
        while (ex_iter_next(&it)) {
                const pb_schema_t *s = it.s;
                char *path = it.path;
                const char *json = it.json;
                size_t len = it.len;
                size_t elen = 0;
                strcpy(path + strlen(path) - 5, ".error");
                char *exp = ex_read_file(path, &elen);
                if (!exp)
                        fail_msg("missing %s", path);
                char *nl = strchr(exp, '\n');
                assert_non_null(nl);
                *nl = 0;
                char *frag = nl + 1;
                char *nl2 = strchr(frag, '\n');
                if (nl2)
                        *nl2 = 0;
                pb_buf_t avro;
                pb_errors_t errs;
                pb_errors_init(&errs);
                pb_buf_init(&avro, 0);
                pb_resp_t r = pb_codec_json_to_avro(codec, s, json, len, NULL,
                                                    &avro, NULL, &errs);
                if (r == PB_OK)
                        fail_msg("%s accepted", path);
                assert_int_equal(avro.len, 0);
                int found = 0;
                for (size_t k = 0; k < errs.count; k++)
                        if (!strcmp(errs.items[k].pointer, exp) &&
                            strstr(errs.items[k].message, frag))
                                found = 1;
                if (!found) {
                        print_errs(&errs);
                        fail_msg("%s: no error at '%s' with '%s'", path, exp,
                                 frag);
                }
                free(exp);
                pb_buf_free(&avro);
        }
        assert_true(it.total >= 10);
}

/* --- encoding against hand-computed bytes --- */

static void test_encode_bytes(void **state) {
        (void)state;
        pb_schema_t *s = schema(
            "{\"type\":\"record\",\"name\":\"T\",\"fields\":["
            "{\"name\":\"i\",\"type\":\"int\"},"
            "{\"name\":\"s\",\"type\":\"string\"},"
            "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":"
            "\"long\"}},"
            "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
            "\"symbols\":[\"A\",\"B\",\"C\"]}},"
            "{\"name\":\"u\",\"type\":[\"null\",\"string\"]},"
            "{\"name\":\"d\",\"type\":\"double\"},"
            "{\"name\":\"f\",\"type\":\"float\"},"
            "{\"name\":\"b\",\"type\":\"boolean\"},"
            "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},"
            "{\"name\":\"ea\",\"type\":{\"type\":\"array\",\"items\":"
            "\"int\"}}]}");
        pb_buf_t out;
        pb_buf_init(&out, 0);
        /* members out of schema order on purpose */
        enc_ok(s,
               "{\"s\":\"h\\u00e9\",\"i\":-1,\"a\":[1,2],\"e\":\"C\","
               "\"u\":\"x\",\"d\":1.0,\"f\":-2,\"b\":true,\"m\":{\"k\":3},"
               "\"ea\":[]}",
               &out);
        static const uint8_t want[] = {
            0x01,                                        /* i = -1 */
            0x06, 'h',  0xc3, 0xa9,                      /* s = "hé" */
            0x04, 0x02, 0x04, 0x00,                      /* a = [1,2] */
            0x04,                                        /* e = C */
            0x02, 0x02, 'x',                             /* u = branch 1, "x" */
            0,    0,    0,    0,    0,    0, 0xf0, 0x3f, /* d = 1.0 */
            0,    0,    0,    0xc0,                      /* f = -2.0 */
            0x01,                                        /* b = true */
            0x02, 0x02, 'k',  0x06, 0x00,                /* m = {"k":3} */
            0x00,                                        /* ea = [] */
        };
        assert_int_equal(out.len, sizeof(want));
        assert_memory_equal(out.data, want, sizeof(want));
        char *js = dec_ok(s, NULL, out.data, out.len);
        assert_string_equal(js,
                            "{\"i\":-1,\"s\":\"hé\",\"a\":[1,2],\"e\":\"C\","
                            "\"u\":\"x\",\"d\":1,\"f\":-2,\"b\":true,"
                            "\"m\":{\"k\":3},\"ea\":[]}");
        free(js);
        pb_buf_free(&out);
        pb_schema_destroy(s);
}

/* --- strictness --- */

static const char *all_types =
    "{\"type\":\"record\",\"name\":\"T\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"int\",\"default\":0},"
    "{\"name\":\"l\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"f\",\"type\":\"float\",\"default\":0},"
    "{\"name\":\"d\",\"type\":\"double\",\"default\":0},"
    "{\"name\":\"b\",\"type\":\"boolean\",\"default\":false},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"by\",\"type\":\"bytes\",\"default\":\"\"},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F4\","
    "\"size\":4},\"default\":\"abcd\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
    "\"symbols\":[\"A\",\"B\",\"C\"]},\"default\":\"B\"},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"},"
    "\"default\":[1]},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"long\"},"
    "\"default\":{}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"int\",\"string\"],"
    "\"default\":null},"
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
    "\"decimal\",\"precision\":6,\"scale\":2},\"default\":\"\"},"
    "{\"name\":\"fdec\",\"type\":{\"type\":\"fixed\",\"name\":\"F8\","
    "\"size\":8,\"logicalType\":\"decimal\",\"precision\":10,\"scale\":3},"
    "\"default\":\"\\u00ff\\u00ff\\u00ff\\u00ff\\u00ff\\u00ff\\u00ff"
    "\\u00ff\"},"
    "{\"name\":\"dt\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"},"
    "\"default\":0},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-millis\"},\"default\":0},"
    "{\"name\":\"tu\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-micros\"},\"default\":0},"
    "{\"name\":\"id\",\"type\":{\"type\":\"string\",\"logicalType\":"
    "\"uuid\"},\"default\":\"00000000-0000-0000-0000-000000000000\"},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"In\","
    "\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]},"
    "\"default\":{\"x\":5}}]}";

static void test_all_types_roundtrip(void **state) {
        (void)state;
        pb_schema_t *s = schema(all_types);
        pb_buf_t out;
        pb_buf_init(&out, 0);
        const char *in =
            "{\"i\":-2147483648,\"l\":-9223372036854775808,\"f\":0.1,"
            "\"d\":-1.5e300,\"b\":true,\"s\":\"a\\\"b\\n\\u0001\","
            "\"by\":\"AAEC/w==\",\"fx\":\"AQIDBA==\",\"e\":\"C\","
            "\"a\":[1,-1,2147483647],\"m\":{\"x\":1,\"y\":-2},\"u\":\"7\","
            "\"dec\":\"-9999.99\",\"fdec\":\"-1234567.891\","
            "\"dt\":\"1969-12-31\",\"ts\":\"2023-02-28T12:00:00.5+02:00\","
            "\"tu\":\"2023-02-28T10:00:00.123Z\","
            "\"id\":\"3F1C9A52-6B1E-4C07-9D2A-8E5B7C1D0A41\",\"opt\":null,"
            "\"r\":{\"x\":9}}";
        enc_ok(s, in, &out);
        char *js = dec_ok(s, NULL, out.data, out.len);
        assert_string_equal(
            js, "{\"i\":-2147483648,\"l\":-9223372036854775808,\"f\":0.1,"
                "\"d\":-1.5e+300,\"b\":true,\"s\":\"a\\\"b\\n\\u0001\","
                "\"by\":\"AAEC/w==\",\"fx\":\"AQIDBA==\",\"e\":\"C\","
                "\"a\":[1,-1,2147483647],\"m\":{\"x\":1,\"y\":-2},\"u\":\"7\","
                "\"dec\":\"-9999.99\",\"fdec\":\"-1234567.891\","
                "\"dt\":\"1969-12-31\",\"ts\":\"2023-02-28T10:00:00.500Z\","
                "\"tu\":\"2023-02-28T10:00:00.123Z\","
                "\"id\":\"3F1C9A52-6B1E-4C07-9D2A-8E5B7C1D0A41\","
                "\"opt\":null,\"r\":{\"x\":9}}");
        /* union: a number goes to the int branch, a string to string */
        pb_buf_reset(&out);
        enc_ok(s, "{\"s\":\"\",\"u\":7}", &out);
        free(js);
        js = dec_ok(s, NULL, out.data, out.len);
        assert_non_null(strstr(js, "\"u\":7,"));
        /* defaults filled in for every absent field */
        assert_string_equal(
            js, "{\"i\":0,\"l\":0,\"f\":0,\"d\":0,\"b\":false,\"s\":\"\","
                "\"by\":\"\",\"fx\":\"YWJjZA==\",\"e\":\"B\",\"a\":[1],"
                "\"m\":{},\"u\":7,\"dec\":\"0.00\",\"fdec\":\"-0.001\","
                "\"dt\":\"1970-01-01\",\"ts\":\"1970-01-01T00:00:00.000Z\","
                "\"tu\":\"1970-01-01T00:00:00.000Z\","
                "\"id\":\"00000000-0000-0000-0000-000000000000\","
                "\"opt\":null,\"r\":{\"x\":5}}");
        free(js);
        /* non-finite floats travel as strings */
        pb_buf_reset(&out);
        enc_ok(s, "{\"s\":\"\",\"f\":\"NaN\",\"d\":\"-Infinity\"}", &out);
        js = dec_ok(s, NULL, out.data, out.len);
        assert_non_null(strstr(js, "\"f\":\"NaN\",\"d\":\"-Infinity\""));
        free(js);
        pb_buf_free(&out);
        pb_schema_destroy(s);
}

static void test_strict_errors(void **state) {
        (void)state;
        pb_schema_t *s = schema(all_types);
        /* json, pointer, message fragment */
        static const struct {
                const char *json, *ptr, *frag;
        } cases[] = {
            {"{\"s\":\"\",\"i\":2147483648}", "/i", "int"},
            {"{\"s\":\"\",\"i\":1.5}", "/i", "integer"},
            {"{\"s\":\"\",\"l\":1e3}", "/l", "integer"},
            {"{\"s\":\"\",\"l\":9223372036854775808}", "/l", "long"},
            {"{\"s\":\"\",\"f\":1e39}", "/f", "out of range"},
            {"{\"s\":\"\",\"d\":1e400}", "/d", "out of range"},
            {"{\"s\":\"\",\"d\":\"1.5\"}", "/d", "expected a number"},
            {"{\"s\":5}", "/s", "expected string, got number"},
            {"{\"s\":\"\",\"e\":\"\"}", "/e", "expected one of"},
            {"{\"s\":\"\",\"a\":[1,\"x\",3]}", "/a/1", "expected"},
            {"{\"s\":\"\",\"a\":{}}", "/a", "expected array"},
            {"{\"s\":\"\",\"m\":{\"k/~\":1.5}}", "/m/k~1~0", "integer"},
            {"{\"s\":\"\",\"zzz\":1}", "/zzz", "unknown field"},
            {"{\"i\":1}", "/s", "required field missing"},
            {"{\"s\":\"\",\"dec\":\"12345.0\"}", "/dec", "integer digits"},
            {"{\"s\":\"\",\"dec\":\"1.234\"}", "/dec", "fraction digits"},
            {"{\"s\":\"\",\"dec\":1.5}", "/dec", "expected string"},
            {"{\"s\":\"\",\"fdec\":\"1e5\"}", "/fdec", "decimal"},
            {"{\"s\":\"\",\"id\":\"3f1c9a52\"}", "/id", "UUID"},
            {"{\"s\":\"\",\"dt\":\"2023-02-30\"}", "/dt", "date"},
            {"{\"s\":\"\",\"dt\":\"28.02.2023\"}", "/dt", "date"},
            {"{\"s\":\"\",\"ts\":\"2023-02-28 10:00\"}", "/ts", "RFC 3339"},
            {"{\"s\":\"\",\"ts\":1677578400000}", "/ts", "expected string"},
            {"{\"s\":\"\",\"fx\":\"AQID\"}", "/fx", "4 bytes"},
            {"{\"s\":\"\",\"by\":\"***\"}", "/by", "base64"},
            {"{\"s\":\"\",\"u\":1.5}", "/u", "integer"},
            {"{\"s\":\"\",\"r\":{\"x\":1,\"y\":2}}", "/r/y", "unknown field"},
            {"{\"s\":\"\",\"r\":{}}", "/r/x", "required"},
            {"[1]", "", "expected object, got array"},
            {"{\"s\":\"\",", "", "line"},
            {"{\"s\":\"\\ud800\"}", "", ""},
            {"{\"s\":\"\",\"l\":\"1\"}", "/l",
             "expected number (integer), got string"},
            {"{\"s\":\"\",\"b\":\"true\"}", "/b",
             "expected boolean, got string"},
            {"{\"s\":\"\",\"e\":\"D\"}", "/e",
             "expected one of A, B, C, got \"D\""},
            {"{\"s\":\"\",\"u\":true}", "/u",
             "expected null or number (integer) or string, got boolean"},
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
                enc_fails(s, cases[k].json, cases[k].ptr, cases[k].frag);

        /* all errors of one document are reported */
        pb_errors_t errs;
        pb_buf_t out;
        pb_errors_init(&errs);
        pb_buf_init(&out, 0);
        const char *many = "{\"i\":\"x\",\"e\":\"Q\",\"zz\":1,\"a\":[true]}";
        assert_int_equal(pb_codec_json_to_avro(codec, s, many, strlen(many),
                                               NULL, &out, NULL, &errs),
                         PB_ERR_INVALID);
        assert_int_equal(errs.count, 5); /* zz, i, e, a/0, s missing */
        assert_int_equal(out.len, 0);

        /* a hostile document cannot grow the list without bound */
        pb_buf_t big;
        pb_buf_init(&big, 0);
        pb_buf_puts(&big, "{\"s\":\"\"");
        for (int k = 0; k < 200; k++)
                pb_buf_printf(&big, ",\"x%d\":%d", k, k);
        pb_buf_putc(&big, '}');
        pb_errors_init(&errs);
        assert_int_equal(pb_codec_json_to_avro(codec, s, (char *)big.data,
                                               big.len, NULL, &out, NULL,
                                               &errs),
                         PB_ERR_INVALID);
        assert_int_equal(errs.count, PB_ERRORS_MAX);
        assert_int_equal(errs.dropped, 200 - PB_ERRORS_MAX);
        pb_buf_free(&big);
        pb_buf_free(&out);
        pb_schema_destroy(s);
}

/* Encodes json (with opts, may be NULL); expects an error at `ptr` with
 * `code` whose params are exactly `params` ("" for none), and a JSON answer
 * of all errors that parses. */
static void enc_code(const pb_schema_t *s, const char *json,
                     const pb_encode_opts_t *o, const char *ptr,
                     const char *code, const char *params) {
        pb_errors_t errs;
        pb_event_meta_t meta;
        pb_buf_t out, ans;
        char err[256];
        size_t i;
        pb_errors_init(&errs);
        pb_buf_init(&out, 0);
        pb_buf_init(&ans, 0);
        if (pb_codec_json_to_avro(codec, s, json, strlen(json), o, &out, &meta,
                                  &errs) == PB_OK)
                fail_msg("accepted: %s", json);
        assert_int_equal(pb_errors_to_json(&errs, &ans), PB_OK);
        pb_json_parser_t *jp = pb_json_parser_new(NULL);
        if (!pb_json_parse(jp, (char *)ans.data, ans.len, err, sizeof(err)))
                fail_msg("errors are not JSON (%s): %s", err, (char *)ans.data);
        pb_json_parser_destroy(jp);
        for (i = 0; i < errs.count; i++)
                if (!strcmp(errs.items[i].pointer, ptr) && errs.items[i].code &&
                    !strcmp(errs.items[i].code, code) &&
                    !strcmp(errs.items[i].params, params))
                        break;
        if (i == errs.count) {
                fprintf(stderr, "%s\n", (char *)ans.data);
                fail_msg("no %s at '%s' with params %s for %s", code, ptr,
                         params, json);
        }
        pb_buf_free(&out);
        pb_buf_free(&ans);
}

/* Every kind of encoding error carries its code and params. */
static void test_error_codes(void **state) {
        (void)state;
        pb_schema_t *s = schema(all_types);
        /* json, pointer, code, params */
        static const struct {
                const char *json, *ptr, *code, *params;
        } cases[] = {
            {"{\"s\":5}", "/s", "type_mismatch",
             "{\"expected\":\"string\",\"got\":\"number\"}"},
            {"{\"s\":\"\",\"u\":true}", "/u", "type_mismatch",
             "{\"expected\":\"null or number (integer) or string\","
             "\"got\":\"boolean\"}"},
            {"{\"i\":1}", "/s", "required_missing", ""},
            {"{\"s\":\"\",\"zzz\":1}", "/zzz", "unknown_field", ""},
            {"{\"s\":\"\",\"dt\":\"2023-02-30\"}", "/dt", "date_invalid", ""},
            {"{\"s\":\"\",\"i\":1.5}", "/i", "integer_invalid", ""},
            {"{\"s\":\"\",\"l\":1e3}", "/l", "integer_invalid", ""},
            {"{\"s\":\"\",\"i\":2147483648}", "/i", "integer_range",
             "{\"min\":\"-2147483648\",\"max\":\"2147483647\"}"},
            {"{\"s\":\"\",\"l\":9223372036854775808}", "/l", "integer_range",
             "{\"min\":\"-9223372036854775808\","
             "\"max\":\"9223372036854775807\"}"},
            {"{\"s\":\"\",\"ts\":\"2023-02-28 10:00\"}", "/ts",
             "timestamp_invalid", ""},
            {"{\"s\":\"\",\"d\":\"1.5\"}", "/d", "number_invalid", ""},
            {"{\"s\":\"\",\"f\":1e39}", "/f", "number_range",
             "{\"type\":\"float\"}"},
            {"{\"s\":\"\",\"d\":1e400}", "/d", "number_range",
             "{\"type\":\"double\"}"},
            {"{\"s\":\"\",\"dec\":\"1,5\"}", "/dec", "decimal_invalid",
             "{\"precision\":6,\"scale\":2}"},
            {"{\"s\":\"\",\"dec\":\"12345.0\"}", "/dec",
             "decimal_integer_digits",
             "{\"precision\":6,\"scale\":2,\"max_integer_digits\":4}"},
            {"{\"s\":\"\",\"dec\":\"1.234\"}", "/dec",
             "decimal_fraction_digits", "{\"precision\":6,\"scale\":2}"},
            {"{\"s\":\"\",\"by\":\"***\"}", "/by", "base64_invalid", ""},
            {"{\"s\":\"\",\"fx\":\"AQID\"}", "/fx", "base64_size",
             "{\"bytes\":4}"},
            {"{\"s\":\"\",\"id\":\"3f1c9a52\"}", "/id", "uuid_invalid", ""},
            {"{\"s\":\"\",\"e\":\"D\"}", "/e", "enum_unknown",
             "{\"allowed\":[\"A\",\"B\",\"C\"]}"},
            {"{\"s\":\"\",", "", "json_invalid", ""},
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
                enc_code(s, cases[k].json, NULL, cases[k].ptr, cases[k].code,
                         cases[k].params);
        pb_schema_destroy(s);

        /* time-millis; a fixed; many symbols */
        s = schema("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"t\",\"type\":{\"type\":\"int\",\"logicalType\":"
                   "\"time-millis\"}},{\"name\":\"x\",\"type\":{\"type\":"
                   "\"fixed\",\"name\":\"F1\",\"size\":1,\"logicalType\":"
                   "\"decimal\",\"precision\":4,\"scale\":0}}]}");
        enc_code(s, "{\"t\":\"25:00:00.000\",\"x\":\"0\"}", NULL, "/t",
                 "time_invalid", "");
        /* a precision the fixed cannot hold makes it a plain fixed (the
         * schema check keeps decimal_too_large from happening) */
        enc_code(s, "{\"t\":\"10:00:00.000\",\"x\":\"1000\"}", NULL, "/x",
                 "base64_size", "{\"bytes\":1}");
        pb_schema_destroy(s);
        pb_buf_t sc;
        pb_buf_init(&sc, 0);
        pb_buf_puts(&sc, "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                         "{\"name\":\"e\",\"type\":{\"type\":\"enum\","
                         "\"name\":\"E\",\"symbols\":[");
        for (int k = 0; k < 40; k++)
                pb_buf_printf(&sc, "%s\"SYMBOL_NUMBER_%02d\"", k ? "," : "", k);
        pb_buf_puts(&sc, "]}}]}");
        s = schema((char *)sc.data);
        enc_code(s, "{\"e\":\"X\"}", NULL, "/e", "enum_unknown",
                 "{\"allowed\":[\"SYMBOL_NUMBER_00\",\"SYMBOL_NUMBER_01\","
                 "\"SYMBOL_NUMBER_02\",\"SYMBOL_NUMBER_03\","
                 "\"SYMBOL_NUMBER_04\",\"SYMBOL_NUMBER_05\","
                 "\"SYMBOL_NUMBER_06\",\"SYMBOL_NUMBER_07\","
                 "\"SYMBOL_NUMBER_08\",\"SYMBOL_NUMBER_09\","
                 "\"SYMBOL_NUMBER_10\",\"SYMBOL_NUMBER_11\"],\"more\":true}");
        pb_schema_destroy(s);
        pb_buf_free(&sc);

        /* the event's key and source (real schema, options) */
        const pb_schema_t *ev = pb_schemas_find(cat, "partnership.founded");
        pb_encode_opts_t o = {"land-\"nrw\"", 1, 1};
        char json[2048], longid[300];
        assert_non_null(ev);
        memset(longid, 'x', sizeof(longid) - 1);
        longid[sizeof(longid) - 1] = 0;
#define EVK(id, src)                                                           \
        snprintf(json, sizeof(json),                                           \
                 "{\"partnership_id\":\"%s\",\"kind\":\"REGIONAL\","           \
                 "\"nrw_party\":{\"name\":\"Land NRW\",\"kind\":"              \
                 "\"STATE_GOVERNMENT\",\"country\":\"DE\"},"                   \
                 "\"ukrainian_party\":{\"name\":\"Dnipro\",\"kind\":"          \
                 "\"OBLAST_ADMINISTRATION\",\"country\":\"UA\"},"              \
                 "\"founded_on\":\"2023-02-28\"%s}",                           \
                 id, src)
        EVK(longid, "");
        enc_code(ev, json, &o, "/partnership_id", "key_too_long",
                 "{\"max_bytes\":255}");
        EVK("P\\tX", "");
        enc_code(ev, json, &o, "/partnership_id", "key_control", "");
        EVK("p-1", ",\"source\":\"other\"");
        enc_code(ev, json, &o, "/source", "source_mismatch",
                 "{\"organisation\":\"land-\\\"nrw\\\"\"}");
#undef EVK
}

/* --- options and meta on the real event schemas --- */

static void test_encode_opts(void **state) {
        (void)state;
        const pb_schema_t *s = pb_schemas_find(cat, "partnership.founded");
        assert_non_null(s);
#define EV                                                                     \
        "{\"partnership_id\":\"p-1\",\"kind\":\"REGIONAL\","                   \
        "\"nrw_party\":{\"name\":\"Land NRW\",\"kind\":\"STATE_GOVERNMENT\","  \
        "\"country\":\"DE\"},"                                                 \
        "\"ukrainian_party\":{\"name\":\"Дніпро\",\"kind\":"             \
        "\"OBLAST_ADMINISTRATION\",\"country\":\"UA\"},"                       \
        "\"founded_on\":\"2023-02-28\"%s}"
        char json[2048];
        pb_encode_opts_t o = {"land-nrw", 1, 1};
        pb_event_meta_t meta;
        pb_errors_t errs;
        pb_buf_t out;
        pb_buf_init(&out, 0);
        pb_errors_init(&errs);

        /* all three filled */
        snprintf(json, sizeof(json), EV, "");
        int64_t before = pb_now_ms();
        pb_resp_t r = pb_codec_json_to_avro(codec, s, json, strlen(json), &o,
                                            &out, &meta, &errs);
        if (r != PB_OK)
                print_errs(&errs);
        assert_int_equal(r, PB_OK);
        assert_true(pb_uuid_valid(meta.event_id, strlen(meta.event_id)));
        assert_string_equal(meta.source, "land-nrw");
        assert_string_equal(meta.key, "p-1");
        assert_int_equal(meta.key_len, 3);
        assert_true(meta.occurred_at_ms >= before &&
                    meta.occurred_at_ms <= pb_now_ms());
        char *js = dec_ok(s, NULL, out.data, out.len);
        assert_non_null(strstr(js, "\"source\":\"land-nrw\""));
        assert_non_null(strstr(js, meta.event_id));
        assert_non_null(strstr(js, "\"areas\":[]")); /* schema default */
        free(js);

        /* given values are kept; same source is fine */
        snprintf(json, sizeof(json), EV,
                 ",\"source\":\"land-nrw\",\"event_id\":"
                 "\"3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a41\","
                 "\"occurred_at\":\"2023-02-28T10:00:00Z\"");
        pb_buf_reset(&out);
        assert_int_equal(pb_codec_json_to_avro(codec, s, json, strlen(json), &o,
                                               &out, &meta, &errs),
                         PB_OK);
        assert_string_equal(meta.event_id,
                            "3f1c9a52-6b1e-4c07-9d2a-8e5b7c1d0a41");
        assert_int_equal(meta.occurred_at_ms, 1677578400000LL);

        /* another organisation's name is refused */
        snprintf(json, sizeof(json), EV, ",\"source\":\"someone-else\"");
        pb_errors_init(&errs);
        assert_int_equal(pb_codec_json_to_avro(codec, s, json, strlen(json), &o,
                                               &out, &meta, &errs),
                         PB_ERR_INVALID);
        assert_int_equal(errs.count, 1);
        assert_string_equal(errs.items[0].pointer, "/source");
        assert_non_null(strstr(errs.items[0].message,
                               "must be the authenticated organisation "
                               "'land-nrw'"));

        /* without options the three are required */
        snprintf(json, sizeof(json), EV, "");
        enc_fails(s, json, "/event_id", "required field missing");
        enc_fails(s, json, "/occurred_at", "required field missing");
        enc_fails(s, json, "/source", "required field missing");
        pb_buf_free(&out);
}

/* --- resolution --- */

static void enc_dec_r(const char *wschema, const char *rschema,
                      const char *json, const char *want) {
        pb_schema_t *w = schema(wschema), *r = schema(rschema);
        pb_buf_t out;
        pb_buf_init(&out, 0);
        enc_ok(w, json, &out);
        char *js = dec_ok(w, r, out.data, out.len);
        if (strcmp(js, want))
                fail_msg("resolved\n want %s\n got  %s", want, js);
        free(js);
        pb_buf_free(&out);
        pb_schema_destroy(w);
        pb_schema_destroy(r);
}

/* The Kafka key is the key field as it is: an escaped NUL cut it short
 * ("SHIP\u0000EVIL" became key "SHIP", another entity's); control
 * characters and values longer than the key are refused at the field. */
static void test_key_refused(void **state) {
        static const char *bad[] = {"P\\u0000EVIL", "P\\u001fX", "P\\tX",
                                    "P\\u007f"};
        const pb_schema_t *s = pb_schemas_find(cat, "partnership.founded");
        char json[2048], longid[300];
        pb_encode_opts_t o = {"land-nrw", 1, 1};
        pb_event_meta_t meta;
        pb_errors_t errs;
        pb_buf_t out;
        size_t i;
        (void)state;
        assert_non_null(s);
        pb_buf_init(&out, 0);
        memset(longid, 'x', sizeof(longid) - 1);
        longid[sizeof(longid) - 1] = 0;
        for (i = 0; i <= sizeof(bad) / sizeof(bad[0]); i++) {
                const char *id =
                    i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : longid;
                snprintf(json, sizeof(json),
                         "{\"partnership_id\":\"%s\",\"kind\":\"REGIONAL\","
                         "\"nrw_party\":{\"name\":\"Land NRW\",\"kind\":"
                         "\"STATE_GOVERNMENT\",\"country\":\"DE\"},"
                         "\"ukrainian_party\":{\"name\":\"Dnipro\",\"kind\":"
                         "\"OBLAST_ADMINISTRATION\",\"country\":\"UA\"},"
                         "\"founded_on\":\"2023-02-28\"}",
                         id);
                pb_errors_init(&errs);
                pb_buf_reset(&out);
                if (pb_codec_json_to_avro(codec, s, json, strlen(json), &o,
                                          &out, &meta, &errs) != PB_ERR_INVALID)
                        fail_msg("key accepted: %s", id);
                assert_int_equal(errs.count, 1);
                assert_string_equal(errs.items[0].pointer, "/partnership_id");
                assert_non_null(strstr(errs.items[0].message, "key"));
        }
        pb_buf_free(&out);
}

static void test_resolution(void **state) {
        (void)state;
        /* fields reordered, removed (incl. complex ones), added with a
         * default, renamed via alias; int->long, float->double, enum symbol
         * added and reordered, union widened */
        enc_dec_r(
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
            "{\"name\":\"a\",\"type\":\"int\"},"
            "{\"name\":\"gone\",\"type\":{\"type\":\"array\",\"items\":"
            "{\"type\":\"map\",\"values\":[\"null\",\"string\"]}}},"
            "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
            "\"symbols\":[\"X\",\"Y\"]}},"
            "{\"name\":\"f\",\"type\":\"float\"},"
            "{\"name\":\"old\",\"type\":\"string\"},"
            "{\"name\":\"u\",\"type\":[\"null\",\"int\"]}]}",
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
            "{\"name\":\"f\",\"type\":\"double\"},"
            "{\"name\":\"a\",\"type\":\"long\"},"
            "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
            "\"symbols\":[\"Z\",\"Y\",\"X\"]}},"
            "{\"name\":\"added\",\"type\":{\"type\":\"array\",\"items\":"
            "\"string\"},\"default\":[\"d\"]},"
            "{\"name\":\"new\",\"aliases\":[\"old\"],\"type\":\"string\"},"
            "{\"name\":\"u\",\"type\":[\"null\",\"string\",\"long\"]}]}",
            "{\"a\":7,\"gone\":[{\"k\":\"v\",\"n\":null},{}],\"e\":\"X\","
            "\"f\":1.5,\"old\":\"o\",\"u\":3}",
            "{\"f\":1.5,\"a\":7,\"e\":\"X\",\"added\":[\"d\"],\"new\":\"o\","
            "\"u\":3}");
        /* float->double shows the float's exact value */
        enc_dec_r("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"f\",\"type\":\"float\"}]}",
                  "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"f\",\"type\":\"double\"}]}",
                  "{\"f\":0.1}", "{\"f\":0.10000000149011612}");
        /* long->double, int->float */
        enc_dec_r("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"l\",\"type\":\"long\"},"
                  "{\"name\":\"i\",\"type\":\"int\"}]}",
                  "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"l\",\"type\":\"double\"},"
                  "{\"name\":\"i\",\"type\":\"float\"}]}",
                  "{\"l\":-3,\"i\":16777217}", "{\"l\":-3,\"i\":16777216}");
        /* string <-> bytes */
        enc_dec_r("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"s\",\"type\":\"string\"},"
                  "{\"name\":\"b\",\"type\":\"bytes\"}]}",
                  "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"s\",\"type\":\"bytes\"},"
                  "{\"name\":\"b\",\"type\":\"string\"}]}",
                  "{\"s\":\"hi\",\"b\":\"aGk=\"}",
                  "{\"s\":\"aGk=\",\"b\":\"hi\"}");
        /* optional in the writer, required in the reader (value present);
         * required in the writer, optional in the reader */
        enc_dec_r("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"o\",\"type\":[\"null\",\"string\"]},"
                  "{\"name\":\"q\",\"type\":\"int\"}]}",
                  "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"o\",\"type\":\"string\"},"
                  "{\"name\":\"q\",\"type\":[\"null\",\"long\"]}]}",
                  "{\"o\":\"v\",\"q\":4}", "{\"o\":\"v\",\"q\":4}");
        /* nested records in an array, fields swapped in each */
        enc_dec_r("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"xs\",\"type\":{\"type\":\"array\",\"items\":"
                  "{\"type\":\"record\",\"name\":\"I\",\"fields\":["
                  "{\"name\":\"a\",\"type\":\"int\"},"
                  "{\"name\":\"b\",\"type\":\"string\"}]}}},"
                  "{\"name\":\"z\",\"type\":\"int\"}]}",
                  "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"z\",\"type\":\"long\"},"
                  "{\"name\":\"xs\",\"type\":{\"type\":\"array\",\"items\":"
                  "{\"type\":\"record\",\"name\":\"I\",\"fields\":["
                  "{\"name\":\"c\",\"type\":\"int\",\"default\":-1},"
                  "{\"name\":\"b\",\"type\":\"string\"},"
                  "{\"name\":\"a\",\"type\":\"long\"}]}}}]}",
                  "{\"xs\":[{\"a\":1,\"b\":\"x\"},{\"a\":2,\"b\":\"y\"}],"
                  "\"z\":9}",
                  "{\"z\":9,\"xs\":[{\"c\":-1,\"b\":\"x\",\"a\":1},"
                  "{\"c\":-1,\"b\":\"y\",\"a\":2}]}");

        /* enum: an unknown symbol becomes the reader's default, or fails */
        const char *w = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                        "{\"name\":\"e\",\"type\":{\"type\":\"enum\","
                        "\"name\":\"E\",\"symbols\":[\"X\",\"Y\",\"W\"]}}]}";
        enc_dec_r(w,
                  "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                  "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                  "\"symbols\":[\"X\",\"Y\"],\"default\":\"Y\"}}]}",
                  "{\"e\":\"W\"}", "{\"e\":\"Y\"}");
        pb_schema_t *ws = schema(w);
        pb_schema_t *rs =
            schema("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                   "\"symbols\":[\"X\",\"Y\"]}}]}");
        pb_buf_t out;
        pb_buf_init(&out, 0);
        enc_ok(ws, "{\"e\":\"W\"}", &out);
        dec_fails(ws, rs, out.data, out.len, PB_ERR_INCOMPATIBLE,
                  "/e: symbol W");
        pb_schema_destroy(rs);
        /* a reader field without default the writer lacks */
        rs = schema("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":"
                    "\"E\",\"symbols\":[\"X\",\"Y\",\"W\"]}},"
                    "{\"name\":\"n\",\"type\":\"int\"}]}");
        dec_fails(ws, rs, out.data, out.len, PB_ERR_INCOMPATIBLE,
                  "reader field 'n'");
        pb_schema_destroy(rs);
        /* writer null into a reader without null */
        pb_schema_destroy(ws);
        ws = schema("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                    "{\"name\":\"o\",\"type\":[\"null\",\"string\"]}]}");
        rs = schema("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                    "{\"name\":\"o\",\"type\":\"string\"}]}");
        pb_buf_reset(&out);
        enc_ok(ws, "{\"o\":null}", &out);
        dec_fails(ws, rs, out.data, out.len, PB_ERR_INCOMPATIBLE, "/o");
        pb_schema_destroy(rs);
        pb_schema_destroy(ws);
        pb_buf_free(&out);
}

/* Evolution of a real event: aid.dispatched read with a reader that
 * dropped `note`, added `priority` with a default and an enum symbol. */
static void test_resolution_event(void **state) {
        (void)state;
        const pb_schema_t *w = pb_schemas_find(cat, "aid.dispatched");
        char dir[1024], path[1536];
        assert_non_null(w);
        char *txt = strdup(pb_schema_json(w));
        /* reader: rename the note field away (dropped), add priority */
        char *p = strstr(txt, "\"name\": \"note\"");
        if (!p)
                p = strstr(txt, "\"name\":\"note\"");
        assert_non_null(p);
        memcpy(strstr(p, "note"), "nota", 4);
        pb_buf_t rj;
        pb_buf_init(&rj, 0);
        char *last = strrchr(txt, ']');
        assert_non_null(last);
        pb_buf_append(&rj, txt, (size_t)(last - txt));
        pb_buf_puts(&rj, ",{\"name\":\"priority\",\"type\":\"int\","
                         "\"default\":3}");
        pb_buf_puts(&rj, last);
        char err[256];
        pb_schema_t *r =
            pb_schema_new((char *)rj.data, rj.len, err, sizeof(err));
        if (!r)
                fail_msg("%s", err);
        ex_dir(dir, sizeof(dir), "valid");
        snprintf(path, sizeof(path),
                 "%s/aid.dispatched/generators-bgk-2022-12.json", dir);
        size_t len;
        char *json = ex_read_file(path, &len);
        assert_non_null(json);
        pb_buf_t out;
        pb_buf_init(&out, 0);
        enc_ok(w, json, &out);
        char *js = dec_ok(w, r, out.data, out.len);
        assert_non_null(strstr(js, ",\"nota\":null,\"priority\":3}"));
        assert_null(strstr(js, "\"note\""));
        free(js);
        free(json);
        free(txt);
        pb_buf_free(&out);
        pb_buf_free(&rj);
        pb_schema_destroy(r);
}

/* --- crafted binary --- */

static void test_crafted(void **state) {
        (void)state;
        uint8_t b[64];
        size_t n;
        pb_schema_t *s = schema("{\"type\":\"record\",\"name\":\"R\","
                                "\"fields\":[{\"name\":\"s\",\"type\":"
                                "\"string\"}]}");
        b[0] = 0x01; /* length -1 */
        dec_fails(s, NULL, b, 1, PB_ERR_INVALID, "/s: negative string length");
        n = pb_zz_encode(b, 4000000);
        memcpy(b + n, "abcdefghijkl", 12);
        dec_fails(s, NULL, b, n + 12, PB_ERR_TRUNCATED,
                  "/s: string length 4000000 exceeds the 12 bytes left");
        n = pb_zz_encode(b, INT64_MAX);
        dec_fails(s, NULL, b, n, PB_ERR_TRUNCATED, "exceeds");
        memset(b, 0xff, 11);
        dec_fails(s, NULL, b, 11, PB_ERR_INVALID, "longer than 64 bits");
        b[0] = 0x02;
        b[1] = 0xff; /* invalid UTF-8 */
        dec_fails(s, NULL, b, 2, PB_ERR_INVALID, "UTF-8");
        b[0] = 0x02;
        b[1] = 'a';
        b[2] = 0;
        dec_fails(s, NULL, b, 3, PB_ERR_INVALID,
                  "1 trailing bytes after the record");
        dec_fails(s, NULL, b, 0, PB_ERR_TRUNCATED, "/s");
        pb_schema_destroy(s);

        /* arrays: huge count, zero-size items, negative block counts */
        s = schema("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"n\",\"type\":{\"type\":\"array\",\"items\":"
                   "\"null\"}},"
                   "{\"name\":\"l\",\"type\":{\"type\":\"array\",\"items\":"
                   "\"long\"}}]}");
        n = pb_zz_encode(b, 2000000000);
        b[n++] = 0;
        b[n++] = 0;
        dec_fails(s, NULL, b, n, PB_ERR_LIMIT, "/n: more than");
        n = pb_zz_encode(b, 3);
        b[n++] = 0;
        n += pb_zz_encode(b + n, 1000000000);
        b[n++] = 2;
        dec_fails(s, NULL, b, n, PB_ERR_TRUNCATED,
                  "/l: block count 1000000000 exceeds the 1 bytes left");
        n = pb_zz_encode(b, 2);
        b[n++] = 0;
        n += pb_zz_encode(b + n, -2); /* block of 2 items with its byte size */
        n += pb_zz_encode(b + n, 2);
        n += pb_zz_encode(b + n, 5);
        n += pb_zz_encode(b + n, -6);
        b[n++] = 0;
        char *js = dec_ok(s, NULL, b, n);
        assert_string_equal(js, "{\"n\":[null,null],\"l\":[5,-6]}");
        free(js);
        n = pb_zz_encode(b, 0);
        n += pb_zz_encode(b + n, -1);
        n += pb_zz_encode(b + n, -1); /* negative block size */
        b[n++] = 2;
        dec_fails(s, NULL, b, n, PB_ERR_INVALID, "block size");
        pb_schema_destroy(s);

        /* enum and union indexes, booleans */
        s = schema("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":"
                   "\"E\",\"symbols\":[\"A\"]}},"
                   "{\"name\":\"u\",\"type\":[\"null\",\"int\"]},"
                   "{\"name\":\"b\",\"type\":\"boolean\"}]}");
        uint8_t e1[] = {0x02, 0x00, 0x00};
        dec_fails(s, NULL, e1, 3, PB_ERR_INVALID, "/e: enum index 1");
        uint8_t e2[] = {0x01, 0x00, 0x00};
        dec_fails(s, NULL, e2, 3, PB_ERR_INVALID, "/e: enum index -1");
        uint8_t u1[] = {0x00, 0x04, 0x00};
        dec_fails(s, NULL, u1, 3, PB_ERR_INVALID, "/u: union index 2");
        uint8_t b1[] = {0x00, 0x00, 0x02};
        dec_fails(s, NULL, b1, 3, PB_ERR_INVALID, "/b: invalid boolean");
        pb_schema_destroy(s);

        /* the caller's buffer bound holds */
        s = schema("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"s\",\"type\":\"string\"}]}");
        n = pb_zz_encode(b, 40);
        memset(b + n, 'x', 40);
        char err[256];
        pb_buf_t out;
        pb_buf_init(&out, 20);
        assert_int_equal(pb_codec_avro_to_json(codec, s, NULL, b, n + 40, &out,
                                               NULL, err, sizeof(err)),
                         PB_ERR_LIMIT);
        assert_int_equal(out.len, 0);
        assert_int_equal(out.max, 20);
        pb_buf_free(&out);
        pb_schema_destroy(s);
}

/* The decoder's own date/instant formatting agrees with pb_util's over
 * the whole range RFC 3339 can express (years 0001..9999). */
static void test_date_time_formats(void **state) {
        (void)state;
        pb_schema_t *s =
            schema("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                   "{\"name\":\"d\",\"type\":{\"type\":\"int\",\"logicalType\":"
                   "\"date\"}},{\"name\":\"t\",\"type\":{\"type\":\"long\","
                   "\"logicalType\":\"timestamp-millis\"}}]}");
        const int64_t lo = -62135596800000LL, hi = 253402300799999LL;
        uint64_t x = 88172645463325252ULL;
        for (int k = 0; k < 20000; k++) {
                int64_t ms;
                if (k < 6) {
                        const int64_t edge[] = {
                            lo, hi, 0, -1, 951782400000LL, 4107542400000LL};
                        ms = edge[k];
                } else {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        ms = lo + (int64_t)(x % (uint64_t)(hi - lo + 1));
                }
                int64_t days = ms / 86400000 - (ms % 86400000 < 0);
                uint8_t b[32];
                size_t n = pb_zz_encode(b, days);
                n += pb_zz_encode(b + n, ms);
                char want[128], ds[32], ts[48];
                pb_date_format((int32_t)days, ds, sizeof(ds));
                pb_rfc3339_format(ms, ts, sizeof(ts));
                snprintf(want, sizeof(want), "{\"d\":\"%s\",\"t\":\"%s\"}", ds,
                         ts);
                char *js = dec_ok(s, NULL, b, n);
                if (strcmp(js, want))
                        fail_msg("ms %lld: want %s got %s", (long long)ms, want,
                                 js);
                free(js);
        }
        /* beyond year 9999: an error, not a wrong text */
        uint8_t b[32];
        size_t n = pb_zz_encode(b, 0);
        n += pb_zz_encode(b + n, hi + 1);
        dec_fails(s, NULL, b, n, PB_ERR_INVALID, "/t: timestamp");
        pb_schema_destroy(s);
}

static void test_deep_nesting(void **state) {
        (void)state;
        pb_schema_t *s =
            schema("{\"type\":\"record\",\"name\":\"N\",\"fields\":["
                   "{\"name\":\"n\",\"type\":[\"null\",\"N\"]}]}");
        uint8_t b[200];
        memset(b, 0x02, sizeof(b));
        b[10] = 0;
        char *js = dec_ok(s, NULL, b, 11);
        assert_non_null(strstr(js, "{\"n\":{\"n\":null}}}}"));
        free(js);
        b[10] = 0x02;
        b[199] = 0;
        dec_fails(s, NULL, b, 200, PB_ERR_LIMIT, "nesting deeper than 64");
        /* encoding the same depth from JSON is bounded by the parser */
        pb_buf_t j;
        pb_buf_init(&j, 0);
        for (int k = 0; k < 150; k++)
                pb_buf_puts(&j, "{\"n\":");
        pb_buf_puts(&j, "null");
        for (int k = 0; k < 150; k++)
                pb_buf_putc(&j, '}');
        pb_errors_t errs;
        pb_buf_t out;
        pb_errors_init(&errs);
        pb_buf_init(&out, 0);
        assert_int_not_equal(pb_codec_json_to_avro(codec, s, (char *)j.data,
                                                   j.len, NULL, &out, NULL,
                                                   &errs),
                             PB_OK);
        assert_int_equal(out.len, 0);
        pb_buf_free(&j);
        pb_buf_free(&out);
        pb_schema_destroy(s);
}

/* Every proper prefix of every example's encoding is an error, never a
 * crash; random bytes likewise never crash (run under ASan/valgrind). */
static void test_truncation_and_noise(void **state) {
        char err[256];
        unsigned seed = 12345;
        size_t checked = 0;
        ex_iter_t it;
        (void)state;
        ex_iter_start(&it, "valid");
        while (ex_iter_next(&it)) {
                const pb_schema_t *s = it.s;
                const char *path = it.path, *json = it.json;
                pb_buf_t avro, out;
                pb_buf_init(&avro, 0);
                pb_buf_init(&out, 0);
                enc_ok(s, json, &avro);
                for (size_t cut = 0; cut < avro.len; cut++) {
                        uint8_t *copy = malloc(cut + 1);
                        memcpy(copy, avro.data, cut);
                        if (pb_codec_avro_to_json(codec, s, NULL, copy, cut,
                                                  &out, NULL, err,
                                                  sizeof(err)) == PB_OK)
                                fail_msg("%s: prefix of %zu bytes "
                                         "accepted",
                                         path, cut);
                        assert_int_equal(out.len, 0);
                        assert_true(err[0] != 0);
                        free(copy);
                        checked++;
                }
                /* flip bytes: must decode or fail cleanly */
                for (int k = 0; k < 300; k++) {
                        uint8_t *copy = malloc(avro.len);
                        memcpy(copy, avro.data, avro.len);
                        seed = seed * 1103515245u + 12345u;
                        copy[(seed >> 8) % avro.len] ^=
                            (uint8_t)(1u << ((seed >> 4) & 7));
                        pb_buf_reset(&out);
                        (void)pb_codec_avro_to_json(codec, s, NULL, copy,
                                                    avro.len, &out, NULL, err,
                                                    sizeof(err));
                        free(copy);
                }
                pb_buf_free(&avro);
                pb_buf_free(&out);
        }
        assert_true(checked > 1000);
}

/* The decode plans are kept per schema object: a schema freed and another
 * made (perhaps at the same address, with the same Parsing Canonical Form
 * and fingerprint, which leave logical types out) must not reuse the
 * first one's plan. Also: plans on and off decode alike. */
/* --- string output against its definition --- */

/* RFC 3629 by the book: one code point at a time, no overlongs, no
 * surrogates, nothing above U+10FFFF. */
static int ref_utf8(const uint8_t *s, size_t n) {
        size_t i = 0;
        while (i < n) {
                uint32_t cp;
                size_t k;
                if (s[i] < 0x80) {
                        i++;
                        continue;
                }
                if ((s[i] & 0xE0) == 0xC0)
                        k = 2, cp = s[i] & 0x1F;
                else if ((s[i] & 0xF0) == 0xE0)
                        k = 3, cp = s[i] & 0x0F;
                else if ((s[i] & 0xF8) == 0xF0)
                        k = 4, cp = s[i] & 0x07;
                else
                        return 0;
                if (n - i < k)
                        return 0;
                for (size_t j = 1; j < k; j++) {
                        if ((s[i + j] & 0xC0) != 0x80)
                                return 0;
                        cp = cp << 6 | (s[i + j] & 0x3F);
                }
                if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) ||
                    (k == 4 && cp < 0x10000) || cp > 0x10FFFF ||
                    (cp >= 0xD800 && cp <= 0xDFFF))
                        return 0;
                i += k;
        }
        return 1;
}

static int has_escape(const uint8_t *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x20 || s[i] == '"' || s[i] == '\\')
                        return 1;
        return 0;
}

/* Decodes {"s": s} (and {"m": {s: s}}) with and without decode plans,
 * checks it, and compares code, JSON and error text with the definition;
 * with max != 0 the output buffer is bounded to max bytes. */
static void str_case(const pb_schema_t *rs, const pb_schema_t *ms,
                     const uint8_t *s, size_t n, size_t max) {
        static uint8_t body[600];
        pb_buf_t want, out;
        char err[512], werr[512];
        size_t bl;
        pb_resp_t wrc = PB_OK;
        int ok = ref_utf8(s, n);
        assert_true(n + 20 < sizeof(body));
        assert_int_equal(ok, pb_utf8_valid((const char *)s, n));
        pb_buf_init(&want, 0);
        pb_buf_puts(&want, "{\"s\":");
        ref_json_str(s, n, &want);
        pb_buf_putc(&want, '}');
        werr[0] = 0;
        if (!ok) {
                wrc = PB_ERR_INVALID;
                snprintf(werr, sizeof(werr), "/s: string is not valid UTF-8");
        } else if (max && want.len > max) {
                wrc = PB_ERR_LIMIT;
                if (want.len - 1 <= max) /* only the closing brace */
                        snprintf(werr, sizeof(werr),
                                 "JSON output exceeds %u bytes",
                                 PB_CODEC_MAX_JSON_OUT);
                else if (has_escape(s, n))
                        snprintf(werr, sizeof(werr),
                                 "/s: JSON output too large");
                else
                        snprintf(werr, sizeof(werr),
                                 "/s: JSON output exceeds %u bytes",
                                 PB_CODEC_MAX_JSON_OUT);
        }
        bl = pb_zz_encode(body, (int64_t)n);
        memcpy(body + bl, s, n);
        bl += n;
        for (int plans = 0; plans < 2; plans++) {
                pb_codec_set_plans(codec, plans);
                pb_buf_init(&out, max);
                pb_resp_t rc = pb_codec_avro_to_json(
                    codec, rs, NULL, body, bl, &out, NULL, err, sizeof(err));
                if (rc != wrc || strcmp(err, werr) ||
                    (rc == PB_OK && (out.len != want.len ||
                                     memcmp(out.data, want.data, out.len))))
                        fail_msg("string of %zu bytes, max %zu, plans %d: "
                                 "%s '%s' '%.*s', want %s '%s' '%s'",
                                 n, max, plans, pb_err2str(rc), err,
                                 (int)out.len, out.data ? (char *)out.data : "",
                                 pb_err2str(wrc), werr, (char *)want.data);
                pb_buf_free(&out);
                if (!max) {
                        rc = pb_codec_check(codec, rs, NULL, body, bl, NULL,
                                            err, sizeof(err));
                        assert_int_equal(rc, wrc);
                        assert_string_equal(err, werr);
                }
        }
        pb_codec_set_plans(codec, 1);
        pb_buf_free(&want);
        if (max || !n)
                return;
        /* the map: the same text as key and as value */
        bl = pb_zz_encode(body, 1);
        bl += pb_zz_encode(body + bl, (int64_t)n);
        memcpy(body + bl, s, n);
        bl += n;
        bl += pb_zz_encode(body + bl, (int64_t)n);
        memcpy(body + bl, s, n);
        bl += n;
        body[bl++] = 0;
        pb_buf_init(&out, 0);
        pb_resp_t rc = pb_codec_avro_to_json(codec, ms, NULL, body, bl, &out,
                                             NULL, err, sizeof(err));
        assert_int_equal(rc, wrc);
        if (rc == PB_OK) {
                pb_buf_init(&want, 0);
                pb_buf_puts(&want, "{\"m\":{");
                ref_json_str(s, n, &want);
                pb_buf_putc(&want, ':');
                ref_json_str(s, n, &want);
                pb_buf_puts(&want, "}}");
                assert_int_equal(out.len, want.len);
                assert_memory_equal(out.data, want.data, out.len);
                pb_buf_free(&want);
        }
        rc = pb_codec_check(codec, ms, NULL, body, bl, NULL, err, sizeof(err));
        assert_int_equal(rc, wrc);
        pb_buf_free(&out);
}

static void test_string_output(void **state) {
        static const char *const seqs[] = {
            /* valid: 2, 3 and 4 bytes, the edges of each */
            "\xc3\xa9", "\xd0\x94", "\xc2\x80", "\xdf\xbf", "\xe2\x82\xac",
            "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf",
            "\xf0\x9f\x98\x80", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
            /* overlong */
            "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
            "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",
            /* surrogates, beyond U+10FFFF */
            "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80",
            "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
            /* cut short, stray continuation bytes, never valid */
            "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\x80", "\xbf", "\xfe", "\xff",
            "\xc3\x28", "\xe2\x28\xac", "\xe2\x82\x28", "\xf0\x28\x98\x80",
            /* escapes and their neighbours */
            "\"", "\\", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f",
            " ", "/", "\"\\\n\x02"};
        pb_schema_t *rs = schema("{\"type\":\"record\",\"name\":\"R\","
                                 "\"fields\":[{\"name\":\"s\",\"type\":"
                                 "\"string\"}]}");
        pb_schema_t *ms = schema("{\"type\":\"record\",\"name\":\"M\","
                                 "\"fields\":[{\"name\":\"m\",\"type\":{"
                                 "\"type\":\"map\",\"values\":\"string\"}}]}");
        uint8_t s[300];
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        (void)state;
        /* every byte at every position of strings up to 40 bytes: the 4-,
         * 8- and 16-byte steps and their tails */
        for (size_t n = 1; n <= 40; n++)
                for (size_t at = 0; at < n; at++)
                        for (int c = 0; c < 256; c++) {
                                memset(s, 'a', n);
                                s[at] = (uint8_t)c;
                                str_case(rs, ms, s, n, 0);
                        }
        /* each sequence at every position, in ASCII and in Cyrillic */
        for (size_t q = 0; q < sizeof(seqs) / sizeof(seqs[0]); q++) {
                size_t k = strlen(seqs[q]);
                for (size_t n = k; n <= 48; n++)
                        for (size_t at = 0; at + k <= n; at++) {
                                memset(s, 'x', n);
                                memcpy(s + at, seqs[q], k);
                                str_case(rs, ms, s, n, 0);
                                for (size_t j = 0; j + 1 < n; j += 2)
                                        memcpy(s + j, "\xd0\x94", 2);
                                memcpy(s + at, seqs[q], k);
                                if (!(at & 1) || at + k == n) {
                                        if (at & 1)
                                                s[at - 1] = 'y';
                                        str_case(rs, ms, s, n, 0);
                                }
                        }
        }
        str_case(rs, ms, s, 0, 0);
        /* random mixes of all of them */
        for (int r = 0; r < 20000; r++) {
                size_t n = 0, want;
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                want = x % 200;
                while (n < want) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        unsigned pick = (unsigned)(x >> 32) % 10;
                        if (pick < 5)
                                s[n++] = (uint8_t)('a' + x % 26);
                        else if (pick < 9) {
                                const char *q =
                                    seqs[x % (sizeof(seqs) / sizeof(seqs[0]))];
                                if (r % 4 && (q[0] & 0x80) && x % 7 > 2)
                                        q = "\xd1\x97";
                                size_t k = strlen(q);
                                if (n + k > sizeof(s))
                                        break;
                                memcpy(s + n, q, k);
                                n += k;
                        } else
                                s[n++] = (uint8_t)(x >> 8);
                }
                str_case(rs, ms, s, n, 0);
        }
        /* a bounded output: the string or the closing brace does not fit */
        for (size_t q = 0; q < 3; q++) {
                static const char *const t[] = {
                    "plain text of some length", "text with \"quotes\"",
                    "\xd0\x94\xd0\xbd\xd1\x96\xd0\xbf\xd1\x80\xd0\xbe\n"};
                for (size_t max = 8; max < 50; max++)
                        str_case(rs, ms, (const uint8_t *)t[q], strlen(t[q]),
                                 max);
        }
        pb_schema_destroy(ms);
        pb_schema_destroy(rs);
}

static void test_plan_per_schema(void **state) {
        static const char *const text[2] = {
            "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":"
            "\"at\",\"type\":{\"type\":\"long\",\"logicalType\":"
            "\"timestamp-millis\"}}]}",
            "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":"
            "\"at\",\"type\":\"long\"}]}"};
        static const char *const want[2] = {
            "{\"at\":\"1970-01-01T00:00:00.001Z\"}", "{\"at\":1}"};
        static const uint8_t body[] = {2};
        pb_codec_t *c = pb_codec_new();
        char err[256];
        (void)state;
        assert_non_null(c);
        for (int round = 0; round < 3; round++) {
                for (int k = 0; k < 2; k++) {
                        pb_schema_t *s = pb_schema_new(text[k], strlen(text[k]),
                                                       err, sizeof(err));
                        pb_buf_t out;
                        assert_non_null(s);
                        pb_buf_init(&out, 0);
                        pb_codec_set_plans(c, round != 2);
                        assert_int_equal(pb_codec_avro_to_json(
                                             c, s, NULL, body, sizeof(body),
                                             &out, NULL, err, sizeof(err)),
                                         PB_OK);
                        assert_string_equal((char *)out.data, want[k]);
                        pb_buf_free(&out);
                        pb_schema_destroy(s);
                }
        }
        pb_codec_destroy(c);
}

PB_TEST_MAIN_WITH(
    codec_fixture_setup, codec_fixture_teardown,
    cmocka_unit_test(test_valid_examples),
    cmocka_unit_test(test_invalid_examples),
    cmocka_unit_test(test_encode_bytes),
    cmocka_unit_test(test_all_types_roundtrip),
    cmocka_unit_test(test_strict_errors), cmocka_unit_test(test_error_codes),
    cmocka_unit_test(test_encode_opts), cmocka_unit_test(test_key_refused),
    cmocka_unit_test(test_resolution), cmocka_unit_test(test_resolution_event),
    cmocka_unit_test(test_crafted), cmocka_unit_test(test_date_time_formats),
    cmocka_unit_test(test_deep_nesting),
    cmocka_unit_test(test_truncation_and_noise),
    cmocka_unit_test(test_plan_per_schema),
    cmocka_unit_test(test_string_output))
