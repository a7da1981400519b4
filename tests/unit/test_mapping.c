/* Unit tests of the poll mapping (services/poll/pb_mapping.c) and
 * the feed readers it works on; linked from partnerbus_svc_poll. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "pb_csv.h"
#include "pb_feed.h"
#include "pb_mapping.h"

/* One input of a German conversion, converted into an output of size
 * bytes: its result (ANY: not checked), the text written (NULL: not
 * checked) and the reason given (NULL: not checked). */
#define ANY (-100)
typedef struct conv_case {
        const char *in;
        size_t size;
        int want;
        const char *out, *why;
} conv_case_t;

typedef int conv_fn(const char *s, size_t n, char *out, size_t size,
                    const char **why);

static void run_conv(conv_fn *conv, const conv_case_t *c, size_t n) {
        for (size_t i = 0; i < n; i++, c++) {
                char out[64] = "";
                const char *why = NULL;
                int r = conv(c->in, strlen(c->in), out, c->size, &why);
                if (c->want != ANY && r != c->want)
                        fail_msg("\"%s\": %d, want %d", c->in, r, c->want);
                if (c->out)
                        assert_string_equal(out, c->out);
                if (c->why)
                        assert_string_equal(why, c->why);
        }
}

static void test_german_number(void **st) {
        static const conv_case_t cases[] = {
            {"143.000,00", 64, 9, "143000.00", NULL},
            {" 2.600,00 ", 64, ANY, "2600.00", NULL},
            {"750000", 64, ANY, "750000", NULL},
            {"-1.234.567,5", 64, ANY, "-1234567.5", NULL},
            {"1.43,00", 64, -1, NULL, NULL},
            {"143000.00", 64, -1, NULL, NULL},
            {"1234.000", 64, -1, NULL, NULL},
            {",5", 64, -1, NULL, NULL},
            {"5,", 64, -1, NULL, NULL},
            {"1,2,3", 64, -1, NULL, NULL},
            {"", 64, -1, NULL, NULL},
            {"12 EUR", 64, -1, NULL, NULL},
            {"143.000,00", 5, -1, NULL, NULL},
        };
        (void)st;
        run_conv(pb_conv_german_number, cases,
                 sizeof(cases) / sizeof(cases[0]));
}

static void test_german_date(void **st) {
        static const conv_case_t cases[] = {
            {"28.02.2023", 16, 10, "2023-02-28", NULL},
            {"1.3.2024", 16, ANY, "2024-03-01", NULL},
            {"29.02.2024", 16, ANY, "2024-02-29", NULL},
            {"29.02.2023", 16, -1, NULL, "not a valid calendar date"},
            {"2023-02-28", 16, -1, NULL, NULL},
            {"28.02.23", 16, -1, NULL, NULL},
            {"28.02.2023x", 16, -1, NULL, NULL},
        };
        (void)st;
        run_conv(pb_conv_german_date, cases, sizeof(cases) / sizeof(cases[0]));
}

/* "number"/"integer": only canonical JSON numbers come out (a fuzz target
 * found "05556.5" copied as it was, which is not JSON) */
static void test_number(void **st) {
        static const struct {
                const char *in, *num, *integer; /* NULL: rejected */
        } cases[] = {
            {"05556.5", "5556.5", NULL},
            {"5556.5", "5556.5", NULL},
            {"007", "7", "7"},
            {"0", "0", "0"},
            {"000", "0", "0"},
            {"-0", "0", "0"},
            {"-0.00", "0.00", NULL},
            {"+5", "5", "5"},
            {"+05.50", "5.50", NULL},
            {"-012", "-12", "-12"},
            {".5", "0.5", NULL},
            {"-.5", "-0.5", NULL},
            {"5.", "5", NULL},
            {" 12 ", "12", "12"},
            {"1e5", "1e5", NULL},
            {"1E+05", "1e5", NULL},
            {"2.5e-003", "2.5e-3", NULL},
            {"1e0", "1", NULL},
            {"0e7", "0e7", NULL},
            {"", NULL, NULL},
            {"-", NULL, NULL},
            {"+", NULL, NULL},
            {".", NULL, NULL},
            {"-.", NULL, NULL},
            {"1e", NULL, NULL},
            {"1e+", NULL, NULL},
            {"e5", NULL, NULL},
            {"1.2.3", NULL, NULL},
            {"--1", NULL, NULL},
            {"+-1", NULL, NULL},
            {"0x1F", NULL, NULL},
            {"5556,5", NULL, NULL},
            {"143.000,00", NULL, NULL},
            {"1 000", NULL, NULL},
            {"NaN", NULL, NULL},
            {"Infinity", NULL, NULL},
            {"1e12345", NULL, NULL},
            {"12345678901234567890", "12345678901234567890", NULL},
        };
        char out[96];
        const char *why;
        size_t i;
        int k;
        (void)st;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                for (k = 0; k < 2; k++) {
                        const char *want = k ? cases[i].integer : cases[i].num;
                        int r = pb_conv_number(cases[i].in, strlen(cases[i].in),
                                               k, out, sizeof(out), &why);
                        if (!want) {
                                if (r != -1)
                                        fail_msg("%s \"%s\" accepted as %s",
                                                 k ? "integer" : "number",
                                                 cases[i].in, out);
                                assert_non_null(why);
                                continue;
                        }
                        if (r < 0)
                                fail_msg("%s \"%s\" rejected: %s",
                                         k ? "integer" : "number", cases[i].in,
                                         why);
                        assert_int_equal(r, (int)strlen(want));
                        assert_string_equal(out, want);
                }
        /* a German number names the conversion that reads it */
        assert_int_equal(
            pb_conv_number("143.000,00", 10, 0, out, sizeof(out), &why), -1);
        assert_non_null(strstr(why, "german_number"));
        /* too small an output buffer is a rejection, not an overflow */
        assert_int_equal(pb_conv_number("5556.5", 6, 0, out, 8, &why), -1);
}

/* The reduced fuzz crash as a whole record: the field is mapped to 5556.5,
 * and a value that is no number is refused at its pointer, naming the
 * conversion */
static void test_apply_number(void **st) {
        static const char map[] =
            "{\"source\":\"x\",\"fields\":{\"/id\":\"/id\","
            "\"/v\":{\"from\":\"/v\",\"convert\":\"number\"},"
            "\"/q\":{\"from\":\"/q\",\"convert\":\"integer\"},"
            "\"/t\":{\"from\":\"/t\",\"convert\":\"upper\"},"
            "\"/u\":{\"from\":\"/u\",\"convert\":[\"trim\",\"lower\"]}}}";
        static const struct {
                const char *body, *want, *bad_pointer;
        } cases[] = {
            {"[{\"id\":\"a\",\"v\":\"05556.5\",\"q\":\"007\"}]",
             "{\"source\":\"x\",\"id\":\"a\",\"v\":5556.5,\"q\":7}", NULL},
            {"[{\"id\":\"a\",\"v\":\"+.5\",\"q\":\"-0\"}]",
             "{\"source\":\"x\",\"id\":\"a\",\"v\":0.5,\"q\":0}", NULL},
            {"[{\"id\":\"a\",\"v\":1E+2,\"q\":12}]",
             "{\"source\":\"x\",\"id\":\"a\",\"v\":1e2,\"q\":12}", NULL},
            {"[{\"id\":\"a\",\"v\":\"5556,5\",\"q\":1}]", NULL, "/v"},
            /* a text conversion of true gives text; null stays no value */
            {"[{\"id\":\"a\",\"v\":1,\"q\":2,\"t\":true,\"u\":null}]",
             "{\"source\":\"x\",\"id\":\"a\",\"v\":1,\"q\":2,\"t\":\"TRUE\"}",
             NULL},
            {"[{\"id\":\"a\",\"v\":1,\"q\":\"1.5\"}]", NULL, "/q"},
        };
        char err[256];
        pb_mapping_t *m =
            pb_mapping_new(map, sizeof(map) - 1, err, sizeof(err));
        pb_feed_opts_t fo = {PB_FEED_JSON, NULL, 0, 0, 0, 0};
        pb_buf_t out, key;
        pb_errors_t errs;
        size_t i;
        (void)st;
        assert_non_null(m);
        pb_mapping_set_default_key(m, "/id");
        pb_buf_init(&out, 0);
        pb_buf_init(&key, 0);
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                pb_record_t rec;
                pb_feed_t *f = pb_feed_new(cases[i].body, strlen(cases[i].body),
                                           PB_FEED_JSON, &fo, err, sizeof(err));
                assert_non_null(f);
                assert_int_equal(pb_feed_next(f, &rec, err, sizeof(err)),
                                 PB_FEED_RECORD);
                pb_buf_reset(&out);
                pb_buf_reset(&key);
                pb_errors_init(&errs);
                if (cases[i].want) {
                        assert_int_equal(
                            pb_mapping_apply(m, &rec, &out, &key, &errs),
                            PB_OK);
                        pb_buf_putc(&out, 0);
                        assert_string_equal((char *)out.data, cases[i].want);
                } else {
                        assert_int_equal(
                            pb_mapping_apply(m, &rec, &out, &key, &errs),
                            PB_ERR_INVALID);
                        assert_int_equal(errs.count, 1);
                        assert_string_equal(errs.items[0].pointer,
                                            cases[i].bad_pointer);
                        if (!strstr(errs.items[0].message, "(convert \""))
                                fail_msg("message: %s", errs.items[0].message);
                }
                pb_feed_destroy(f);
        }
        pb_buf_free(&out);
        pb_buf_free(&key);
        pb_mapping_destroy(m);
}

static const char grants_map[] =
    "{\"source\":\"lvr\",\"fields\":{"
    "\"/grant_id\":\"Az\","
    "\"/amount\":{\"from\":\"Betrag\",\"convert\":\"german_number\"},"
    "\"/"
    "granted_on\":{\"from\":\"Datum\",\"convert\":[\"trim\",\"german_date\"]},"
    "\"/"
    "occurred_at\":{\"from\":\"Datum\",\"convert\":[\"german_date\",\"iso_"
    "datetime\"]},"
    "\"/"
    "kind\":{\"from\":\"Art\",\"enum\":{\"Solidarit\xC3\xA4tspartnerschaft\":"
    "\"SOLIDARITY\"}},"
    "\"/recurrence\":{\"from\":\"Turnus\",\"default\":\"ONCE\"},"
    "\"/grantor/name\":{\"const\":\"Landschaftsverband Rheinland\"},"
    "\"/items/0/quantity\":{\"from\":\"Menge\",\"convert\":\"integer\"}"
    "}}";

/* What grants_map made of the first record of a CSV text (mapped_free). */
typedef struct mapped {
        pb_buf_t out, key;
        pb_errors_t errs;
} mapped_t;

static void mapped_free(mapped_t *d) {
        pb_buf_free(&d->out);
        pb_buf_free(&d->key);
}

static void map_csv(mapped_t *d, const char *csv, pb_resp_t want) {
        char err[256];
        pb_mapping_t *m = pb_mapping_new(grants_map, sizeof(grants_map) - 1,
                                         err, sizeof(err));
        pb_feed_opts_t fo = {PB_FEED_CSV, NULL, ';', 0, 0, 0};
        pb_feed_t *f;
        pb_record_t rec;
        assert_non_null(m);
        pb_mapping_set_default_key(m, "/grant_id");
        f = pb_feed_new(csv, strlen(csv), PB_FEED_CSV, &fo, err, sizeof(err));
        assert_non_null(f);
        assert_int_equal(pb_feed_next(f, &rec, err, sizeof(err)),
                         PB_FEED_RECORD);
        pb_buf_init(&d->out, 0);
        pb_buf_init(&d->key, 0);
        pb_errors_init(&d->errs);
        assert_int_equal(pb_mapping_apply(m, &rec, &d->out, &d->key, &d->errs),
                         want);
        pb_feed_destroy(f);
        pb_mapping_destroy(m);
}

static void test_apply_csv(void **st) {
        mapped_t d;
        (void)st;
        map_csv(&d,
                "Az;Betrag;Datum;Art;Turnus;Menge\r\n"
                "LVR-1; 2.600,00 ; 01.11.2023 "
                ";Solidarit\xC3\xA4tspartnerschaft;;12\r\n",
                PB_OK);
        assert_string_equal(
            (char *)d.out.data,
            "{\"source\":\"lvr\",\"grant_id\":\"LVR-1\","
            "\"amount\":\"2600.00\",\"granted_on\":\"2023-11-01\","
            "\"occurred_at\":\"2023-11-01T00:00:00.000Z\","
            "\"kind\":\"SOLIDARITY\",\"recurrence\":\"ONCE\","
            "\"grantor\":{\"name\":\"Landschaftsverband Rheinland\"},"
            "\"items\":[{\"quantity\":12}]}");
        assert_string_equal((char *)d.key.data, "LVR-1");
        mapped_free(&d);
}

static void test_apply_csv_errors(void **st) {
        mapped_t d;
        (void)st;
        map_csv(&d,
                "Az;Betrag;Datum;Art;Turnus;Menge\n"
                ";1.43,00;31.04.2023;Partnerschaft;;zwölf\n",
                PB_ERR_INVALID);
        assert_int_equal(d.errs.count, 5);
        assert_string_equal(d.errs.items[0].pointer, "/amount");
        assert_non_null(strstr(d.errs.items[0].message, "1.43,00"));
        assert_string_equal(d.errs.items[1].pointer, "/granted_on");
        assert_string_equal(d.errs.items[2].pointer, "/occurred_at");
        assert_string_equal(d.errs.items[3].pointer, "/kind");
        assert_non_null(strstr(d.errs.items[3].message, "enum table"));
        assert_string_equal(d.errs.items[4].pointer, "/items/0/quantity");
        assert_int_equal(d.out.len, 0);
        assert_int_equal(d.key.len, 0);
        mapped_free(&d);
        /* a missing key */
        map_csv(&d, "Az;Betrag;Datum;Art;Turnus;Menge\n;1,00;;;;\n",
                PB_ERR_INVALID);
        assert_int_equal(d.errs.count, 1);
        assert_string_equal(d.errs.items[0].pointer, "/grant_id");
        mapped_free(&d);
}

static void test_apply_json_each(void **st) {
        static const char map[] =
            "{\"source\":\"bgk\",\"records\":\"/shipments\",\"key\":[\"/"
            "shipment_id\"],"
            "\"fields\":{\"/shipment_id\":\"/id\",\"/n\":{\"from\":\"/"
            "n\",\"convert\":\"string\"},"
            "\"/items\":{\"each\":\"/load\",\"fields\":{"
            "\"/category\":{\"from\":\"/"
            "k\",\"enum\":{\"Generatoren\":\"GENERATORS\"}},"
            "\"/quantity\":\"/q\"}}}}";
        static const char body[] =
            "{\"shipments\":[{\"id\":\"S1\",\"n\":7,\"load\":[{\"k\":"
            "\"Generatoren\",\"q\":370},"
            "{\"k\":\"Kekse\",\"q\":1}]},42]}";
        static const char good[] =
            "{\"shipments\":[{\"id\":\"S1\",\"n\":7,\"load\":[{\"k\":"
            "\"Generatoren\",\"q\":370}]}]}";
        char err[256];
        pb_mapping_t *m =
            pb_mapping_new(map, sizeof(map) - 1, err, sizeof(err));
        pb_feed_opts_t fo = {PB_FEED_JSON, "/shipments", 0, 0, 0, 0};
        pb_feed_t *f;
        pb_record_t rec;
        pb_buf_t out, key;
        pb_errors_t errs;
        (void)st;
        assert_non_null(m);
        assert_string_equal(pb_mapping_records(m), "/shipments");
        pb_buf_init(&out, 0);
        pb_buf_init(&key, 0);
        f = pb_feed_new(body, sizeof(body) - 1, PB_FEED_JSON, &fo, err,
                        sizeof(err));
        assert_non_null(f);
        assert_int_equal(pb_feed_next(f, &rec, err, sizeof(err)),
                         PB_FEED_RECORD);
        pb_errors_init(&errs);
        assert_int_equal(pb_mapping_apply(m, &rec, &out, &key, &errs),
                         PB_ERR_INVALID);
        assert_int_equal(errs.count, 1);
        assert_string_equal(errs.items[0].pointer, "/items/1/category");
        assert_int_equal(pb_feed_next(f, &rec, err, sizeof(err)), PB_FEED_BAD);
        assert_int_equal(rec.position, 1);
        assert_memory_equal(rec.raw, "42", 2);
        assert_int_equal(pb_feed_next(f, &rec, err, sizeof(err)), PB_FEED_END);
        pb_feed_destroy(f);
        /* without the bad line */
        f = pb_feed_new(good, strlen(good), PB_FEED_JSON, &fo, err,
                        sizeof(err));
        assert_non_null(f);
        assert_int_equal(pb_feed_next(f, &rec, err, sizeof(err)),
                         PB_FEED_RECORD);
        pb_errors_init(&errs);
        assert_int_equal(pb_mapping_apply(m, &rec, &out, &key, &errs), PB_OK);
        assert_string_equal(
            (char *)out.data,
            "{\"source\":\"bgk\",\"shipment_id\":\"S1\",\"n\":\"7\","
            "\"items\":[{\"category\":\"GENERATORS\",\"quantity\":370}]}");
        pb_feed_destroy(f);
        pb_mapping_destroy(m);
        pb_buf_free(&out);
        pb_buf_free(&key);
}

static void test_bad_mappings(void **st) {
        static const char *bad[] = {
            "[]",
            "{\"fields\":{\"/a\":\"b\"}}",                 /* no source */
            "{\"source\":\"x\"}",                          /* no fields */
            "{\"source\":\"x\",\"fields\":{\"a\":\"b\"}}", /* not a pointer */
            "{\"source\":\"x\",\"fields\":{\"/"
            "a\":{\"from\":\"b\",\"convert\":\"rot13\"}}}",
            "{\"source\":\"x\",\"fields\":{\"/"
            "a\":{\"from\":\"b\",\"const\":1}}}",
            "{\"source\":\"x\",\"fields\":{\"/a\":{\"enum\":{}}}}",
            "{\"source\":\"x\",\"fields\":{\"/"
            "a\":{\"from\":\"b\",\"colour\":1}}}",
            "{\"source\":\"x\",\"separator\":\";;\",\"fields\":{\"/a\":\"b\"}}",
            "{\"source\":\"x\",\"fields\":{\"/a\":\"b\",\"/a\":\"c\"}}",
            "{\"source\":\"x\",\"fields\":{\"/a\":{\"each\":\"/b\"}}}",
            /* the feed must not choose in whose name it publishes */
            "{\"source\":\"x\",\"fields\":{\"/source\":\"/org\"}}",
        };
        size_t i;
        char err[256];
        (void)st;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                pb_mapping_t *m =
                    pb_mapping_new(bad[i], strlen(bad[i]), err, sizeof(err));
                if (m)
                        fail_msg("accepted: %s", bad[i]);
                assert_true(err[0] != 0);
        }
}

static void test_pointer_get(void **st) {
        pb_json_parser_t *jp = pb_json_parser_new(NULL);
        char err[128];
        const pb_json_t *r =
            pb_json_parse(jp, "{\"a/b\":[1,{\"~x\":2}]}", 20, err, sizeof(err));
        const pb_json_t *v;
        (void)st;
        assert_non_null(r);
        v = pb_pointer_get(r, "/a~1b/1/~0x");
        assert_non_null(v);
        assert_string_equal(v->str, "2");
        assert_null(pb_pointer_get(r, "/a~1b/2"));
        assert_null(pb_pointer_get(r, "/a~1b/01"));
        assert_null(pb_pointer_get(r, "a"));
        assert_null(pb_pointer_get(r, "/a~2b"));
        pb_json_parser_destroy(jp);
}

PB_TEST_MAIN(cmocka_unit_test(test_german_number),
             cmocka_unit_test(test_german_date), cmocka_unit_test(test_number),
             cmocka_unit_test(test_apply_number),
             cmocka_unit_test(test_apply_csv),
             cmocka_unit_test(test_apply_csv_errors),
             cmocka_unit_test(test_apply_json_each),
             cmocka_unit_test(test_bad_mappings),
             cmocka_unit_test(test_pointer_get))
