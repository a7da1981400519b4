/* Unit tests: replay/report building blocks - CSV flattening and RFC 4180
 * quoting read back, the event-time merge (order, window guarantee, late
 * count), exact decimal sums, the report document in German and English
 * (labels, line items, provenance), Avro datum length against the codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first */
#include <cmocka.h>

#include "pb_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_labels.h"
#include "partnerbus/pb_schema.h"
#include "pb_replay.h"
#include "pb_report.h"

static char *csv_of_dialect(const char *const *events, size_t n,
                            pb_csv_dialect_t d, const char *schema) {
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        pb_replay_csv_t *w = pb_replay_csv_new();
        char err[256], *buf = NULL;
        size_t len = 0, i;
        FILE *mem = open_memstream(&buf, &len);
        assert_non_null(p);
        assert_non_null(w);
        assert_int_equal(pb_replay_csv_set_dialect(w, d, schema), PB_OK);
        for (i = 0; i < n; i++) {
                const pb_json_t *v = pb_json_parse(
                    p, events[i], strlen(events[i]), err, sizeof(err));
                assert_non_null(v);
                assert_int_equal(pb_replay_csv_add(w, v), PB_OK);
        }
        assert_int_equal(pb_replay_csv_finish(w, mem), PB_OK);
        fclose(mem);
        pb_replay_csv_destroy(w);
        pb_json_parser_destroy(p);
        return buf;
}

static char *csv_of(const char *const *events, size_t n) {
        return csv_of_dialect(events, n, PB_CSV_RFC4180, NULL);
}

/* excel-de: BOM, `;`, decimal comma in the schema's decimal fields (also
 * inside arrays and named types used again) and JSON numbers, never in
 * text that looks like a number; formulas neutralised; quoting on `;` */
static void test_csv_excel_de(void **st) {
        const char *schema =
            "{\"type\":\"record\",\"name\":\"E\",\"namespace\":\"x\","
            "\"fields\":["
            "{\"name\":\"id\",\"type\":\"string\"},"
            "{\"name\":\"amount\",\"type\":{\"type\":\"bytes\","
            "\"logicalType\":\"decimal\",\"precision\":14,\"scale\":2}},"
            "{\"name\":\"kg\",\"type\":[\"null\",{\"type\":\"bytes\","
            "\"logicalType\":\"decimal\",\"precision\":10,\"scale\":1}]},"
            "{\"name\":\"lines\",\"type\":{\"type\":\"array\",\"items\":"
            "{\"type\":\"record\",\"name\":\"L\",\"fields\":["
            "{\"name\":\"v\",\"type\":{\"type\":\"bytes\","
            "\"logicalType\":\"decimal\",\"precision\":9,\"scale\":2}},"
            "{\"name\":\"t\",\"type\":\"string\"}]}}},"
            "{\"name\":\"again\",\"type\":\"x.L\"},"
            "{\"name\":\"ratio\",\"type\":\"double\"}]}";
        const char *ev[] = {
            "{\"id\":\"1.5\",\"amount\":\"143000.00\",\"kg\":null,"
            "\"lines\":[{\"v\":\"-1.25\",\"t\":\"=SUM(A1)\"},"
            "{\"v\":\"2.00\",\"t\":\"a;b\"}],"
            "\"again\":{\"v\":\"0.10\",\"t\":\"+49 211\"},\"ratio\":0.5}",
            "{\"id\":\"K\u00f6ln\",\"amount\":\"-5.50\",\"kg\":\"40000.0\","
            "\"lines\":[],\"again\":{\"v\":\"1.00\",\"t\":\"x\"},"
            "\"ratio\":2}",
        };
        char *csv = csv_of_dialect(ev, 2, PB_CSV_EXCEL_DE, schema);
        (void)st;
        assert_string_equal(
            csv, "\xEF\xBB\xBFid;amount;kg;lines.0.v;lines.0.t;lines.1.v;"
                 "lines.1.t;again.v;again.t;ratio\r\n"
                 "1.5;143000,00;;-1,25;'=SUM(A1);2,00;\"a;b\";0,10;'+49 211;"
                 "0,5\r\n"
                 "K\xc3\xb6ln;-5,50;40000,0;;;;;1,00;x;2\r\n");
        free(csv);
}

static void test_csv_dialect_names(void **st) {
        pb_csv_dialect_t d = PB_CSV_EXCEL_DE;
        pb_buf_t b;
        (void)st;
        assert_int_equal(pb_replay_csv_dialect_parse("rfc4180", &d), 0);
        assert_int_equal(d, PB_CSV_RFC4180);
        assert_int_equal(pb_replay_csv_dialect_parse("excel-de", &d), 0);
        assert_int_equal(d, PB_CSV_EXCEL_DE);
        assert_int_equal(pb_replay_csv_dialect_parse("excel", &d), -1);
        /* the default dialect is the RFC 4180 cell, numbers unchanged */
        pb_buf_init(&b, 0);
        assert_int_equal(
            pb_replay_csv_cell_dialect(&b, PB_CSV_RFC4180, "1.5;=", 5, 1),
            PB_OK);
        assert_string_equal((char *)b.data, "1.5;=");
        pb_buf_free(&b);
}

static void test_csv_flatten(void **st) {
        const char *ev[] = {
            "{\"id\":\"a\",\"org\":{\"name\":\"K\\u00f6ln, "
            "\\\"Rat\\\"\",\"city\":null},"
            "\"items\":[{\"c\":\"GEN\",\"q\":370}],\"amount\":\"143000.00\","
            "\"ok\":true}",
            "{\"id\":\"b\",\"org\":{\"name\":\"line1\\nline2\",\"city\":"
            "\"Dnipro\"},"
            "\"items\":[{\"c\":\"MED\",\"q\":1},{\"c\":\"FOOD\",\"q\":2}],"
            "\"amount\":\"0.10\",\"ok\":false}",
        };
        char *csv = csv_of(ev, 2);
        (void)st;
        /* columns in field order, array elements by index; city appears
         * although the first event had null */
        assert_string_equal(
            csv, "id,org.name,org.city,items.0.c,items.0.q,items.1.c,items.1.q,"
                 "amount,ok\r\n"
                 "a,\"K\xc3\xb6ln, \"\"Rat\"\"\",,GEN,370,,,143000.00,true\r\n"
                 "b,\"line1\nline2\",Dnipro,MED,1,FOOD,2,0.10,false\r\n");
        free(csv);
}

static void test_csv_cell(void **st) {
        pb_buf_t b;
        (void)st;
        pb_buf_init(&b, 0);
        assert_int_equal(pb_replay_csv_cell(&b, "plain", 5), PB_OK);
        assert_int_equal(pb_replay_csv_cell(&b, "a\"b", 3), PB_OK);
        assert_int_equal(pb_replay_csv_cell(&b, "x\r", 2), PB_OK);
        assert_string_equal((char *)b.data, "plain\"a\"\"b\"\"x\r\"");
        pb_buf_free(&b);
}

static pb_replay_merge_item_t item(int64_t t, const char *topic, const char *id,
                                   uint32_t s, int64_t seq) {
        pb_replay_merge_item_t it;
        memset(&it, 0, sizeof(it));
        it.time_ms = t;
        it.topic = topic;
        snprintf(it.event_id, sizeof(it.event_id), "%s", id);
        it.stream = s;
        it.seq = seq;
        return it;
}

/* drives the merge like the source does: fill wanting streams in order */
static void run_merge(size_t window, const int64_t *const *streams,
                      const size_t *lens, size_t ns, int64_t *out, size_t *nout,
                      uint64_t *late) {
        pb_replay_merge_t *m = pb_replay_merge_new(ns, window);
        size_t pos[8] = {0}, i;
        pb_replay_merge_item_t it;
        assert_non_null(m);
        *nout = 0;
        for (;;) {
                for (i = 0; i < ns; i++) {
                        while (pb_replay_merge_wants(m, (uint32_t)i)) {
                                if (pos[i] == lens[i]) {
                                        pb_replay_merge_end(m, (uint32_t)i);
                                        break;
                                }
                                pb_replay_merge_item_t x =
                                    item(streams[i][pos[i]], "t", "e",
                                         (uint32_t)i, (int64_t)pos[i]);
                                pos[i]++;
                                assert_int_equal(pb_replay_merge_push(m, &x),
                                                 PB_OK);
                        }
                }
                if (!pb_replay_merge_ready(m))
                        break;
                assert_int_equal(pb_replay_merge_pop(m, &it), PB_OK);
                out[(*nout)++] = it.time_ms;
        }
        assert_true(pb_replay_merge_all_ended(m));
        assert_int_equal(pb_replay_merge_buffered(m), 0);
        *late = pb_replay_merge_late(m);
        pb_replay_merge_destroy(m);
}

static void test_merge_order(void **st) {
        /* stream 0 has a displacement of 2 places, stream 1 sorted */
        static const int64_t a[] = {1, 4, 2, 3, 7, 9, 8};
        static const int64_t b[] = {2, 5, 6, 10};
        const int64_t *s[] = {a, b};
        size_t lens[] = {7, 4}, n, i;
        int64_t out[16];
        uint64_t late;
        (void)st;
        run_merge(3, s, lens, 2, out, &n, &late);
        assert_int_equal(n, 11);
        for (i = 1; i < n; i++)
                assert_true(out[i - 1] <= out[i]);
        assert_int_equal(late, 0);
        /* window 1: the displaced events come out late, none is lost */
        run_merge(1, s, lens, 2, out, &n, &late);
        assert_int_equal(n, 11);
        assert_true(late > 0);
}

static void test_merge_ties(void **st) {
        pb_replay_merge_t *m = pb_replay_merge_new(2, 4);
        pb_replay_merge_item_t it;
        const pb_replay_merge_item_t x[] = {
            item(5, "b", "1", 0, 0),
            item(5, "a", "9", 0, 1),
            item(5, "a", "2", 1, 0),
            item(4, "z", "0", 1, 1),
        };
        (void)st;
        for (int i = 0; i < 4; i++)
                assert_int_equal(pb_replay_merge_push(m, &x[i]), PB_OK);
        pb_replay_merge_end(m, 0);
        pb_replay_merge_end(m, 1);
        assert_int_equal(pb_replay_merge_push(m, &x[0]), PB_ERR_ARG);
        assert_true(pb_replay_merge_ready(m));
        pb_replay_merge_pop(m, &it);
        assert_string_equal(it.topic, "z");
        pb_replay_merge_pop(m, &it);
        assert_string_equal(it.event_id, "2"); /* topic a, id 2 < 9 */
        pb_replay_merge_pop(m, &it);
        assert_string_equal(it.event_id, "9");
        pb_replay_merge_pop(m, &it);
        assert_string_equal(it.topic, "b");
        assert_int_equal(pb_replay_merge_pop(m, &it), PB_END);
        pb_replay_merge_destroy(m);
}

/* a stream's window full is PB_ERR_QUEUE_FULL; an empty heap is PB_END */
static void test_merge_full_and_end(void **st) {
        pb_replay_merge_t *m = pb_replay_merge_new(1, 2);
        pb_replay_merge_item_t it;
        const pb_replay_merge_item_t x[] = {
            item(1, "a", "1", 0, 0),
            item(2, "a", "2", 0, 1),
            item(3, "a", "3", 0, 2),
        };
        (void)st;
        assert_int_equal(pb_replay_merge_pop(m, &it), PB_END);
        assert_int_equal(pb_replay_merge_push(m, &x[0]), PB_OK);
        assert_int_equal(pb_replay_merge_push(m, &x[1]), PB_OK);
        assert_int_equal(pb_replay_merge_push(m, &x[2]), PB_ERR_QUEUE_FULL);
        pb_replay_merge_end(m, 0);
        assert_int_equal(pb_replay_merge_pop(m, &it), PB_OK);
        assert_int_equal(pb_replay_merge_pop(m, &it), PB_OK);
        assert_int_equal(pb_replay_merge_pop(m, &it), PB_END);
        pb_replay_merge_destroy(m);
}

/* A funds.granted event of grantor "SK" in EUR; programme is JSON (null or
 * a quoted string). */
#define GRANT(id, grant, occurred, programme, recipient, amount, on)           \
        "{\"event_id\":\"" id "\",\"grant_id\":\"" grant                       \
        "\",\"occurred_at\":\"" occurred "\",\"programme\":" programme         \
        ",\"grantor\":{\"name\":\"SK\"},\"recipient\":{\"name\":\"" recipient  \
        "\"},\"amount\":\"" amount                                             \
        "\",\"currency\":\"EUR\",\"granted_on\":\"" on "\"}"

/* Adds the funds.granted events ev[0..n) to r; each must parse and be
 * accepted. */
static void add_granted(pb_json_parser_t *p, pb_report_t *r,
                        const char *const *ev, size_t n) {
        char err[256];
        size_t i;
        for (i = 0; i < n; i++) {
                const pb_json_t *v =
                    pb_json_parse(p, ev[i], strlen(ev[i]), err, sizeof(err));
                assert_non_null(v);
                assert_int_equal(
                    pb_report_add(r, "funds.granted", v, err, sizeof(err)),
                    PB_OK);
        }
}

static void test_exact_sums(void **st) {
        pb_report_dec_t v, acc = 0;
        char buf[96];
        int i;
        (void)st;
        /* 0.10 + 0.20 ten thousand times: exact, where doubles drift */
        for (i = 0; i < 10000; i++) {
                assert_int_equal(pb_report_dec_parse("0.10", 4, 2, &v), 0);
                acc += v;
                assert_int_equal(pb_report_dec_parse("0.2", 3, 2, &v), 0);
                acc += v;
        }
        pb_report_dec_format(acc, 2, buf, sizeof(buf));
        assert_string_equal(buf, "3000.00");
        assert_int_equal(pb_report_dec_parse("-143000.5", 9, 2, &v), 0);
        pb_report_dec_format(v, 2, buf, sizeof(buf));
        assert_string_equal(buf, "-143000.50");
        assert_int_equal(pb_report_dec_parse("1.234", 5, 2, &v), -1);
        assert_int_equal(pb_report_dec_parse("abc", 3, 2, &v), -1);
        assert_int_equal(pb_report_dec_parse(
                             "99999999999999999999999999999999.99", 35, 2, &v),
                         0);
}

static pb_labels_t *labels(const char *lang) {
        char dir[4096], err[256];
        pb_labels_t *l;
        snprintf(dir, sizeof(dir), "%s/labels", getenv("PARTNERBUS_SCHEMAS"));
        l = pb_labels_load(dir, lang, err, sizeof(err));
        if (!l)
                fail_msg("labels %s: %s", lang, err);
        return l;
}

static void test_report_totals(void **st) {
        const char *ev[] = {
            GRANT("1", "G1", "2022-12-05T12:00:00.000Z", "\"P\"", "BGK",
                  "143000.00", "2022-12-05"),
            GRANT("2", "G2", "2022-12-31T12:00:00.000Z", "null", "X", "0.01",
                  "2022-12-31"),
            GRANT("2", "G2", "2022-12-31T12:00:00.000Z", "null", "X", "0.01",
                  "2022-12-31"),
        };
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        pb_report_t *r = pb_report_new(0);
        pb_buf_t out;
        (void)st;
        pb_buf_init(&out, 0);
        add_granted(p, r, ev, 3);
        assert_int_equal(pb_report_summary_json(r, &out), PB_OK);
        assert_non_null(strstr((char *)out.data,
                               "\"funds\":{\"grants\":2,\"total\":{\"EUR\":"
                               "\"143000.01\"}"));
        assert_non_null(strstr((char *)out.data, "\"duplicates_skipped\":1"));
        assert_non_null(strstr((char *)out.data,
                               "{\"month\":\"2022-12\",\"grants\":2,"
                               "\"amount\":{\"EUR\":\"143000.01\"}}"));
        /* English: the English money format; German: the German one */
        {
                pb_labels_t *en = labels("en"), *de = labels("de");
                pb_buf_reset(&out);
                pb_report_set_labels(r, en);
                assert_int_equal(pb_report_html(r, &out), PB_OK);
                assert_int_equal(pb_buf_putc(&out, 0), PB_OK);
                assert_non_null(strstr((char *)out.data, "€143,000.01"));
                assert_non_null(strstr((char *)out.data, "<html lang=\"en\">"));
                assert_null(strstr((char *)out.data, "<script"));
                pb_buf_reset(&out);
                pb_report_set_labels(r, de);
                assert_int_equal(pb_report_html(r, &out), PB_OK);
                assert_int_equal(pb_buf_putc(&out, 0), PB_OK);
                assert_non_null(
                    strstr((char *)out.data, "143.000,01\xc2\xa0€"));
                assert_non_null(strstr((char *)out.data, "<html lang=\"de\">"));
                pb_labels_destroy(en);
                pb_labels_destroy(de);
        }
        pb_buf_free(&out);
        pb_report_destroy(r);
        pb_json_parser_destroy(p);
}

/* the seed examples as a German document: headings, line items with
 * dates, amounts and who reported them, enum symbols translated; the file
 * is kept in the build directory for a look */
static void test_report_document(void **st) {
        static const char *types[] = {"funds.granted", "aid.dispatched",
                                      "aid.delivered", "partnership.founded"};
        static const char *want[] = {
            "<html lang=\"de\">",
            "Unterstützung Nordrhein-Westfalens für die Ukraine",
            "1. Kennzahlen",
            "2. Finanzielle Mittel",
            "3. Hilfslieferungen und Zustellungen",
            "4. Partnerschaften",
            "5. Erfassungsbereich der Zahlen",
            "6. Herkunft und Nachvollziehbarkeit",
            "Einzelne Bewilligungen",
            "Einzelne Lieferungen",
            "Einzelne Partnerschaften",
            "143.000,00\xc2\xa0€",
            "750.000,00\xc2\xa0€",
            "28.02.2023",
            "05.12.2022",
            "Regionalpartnerschaft",
            "Notstromaggregate",
            "staatskanzlei-nrw",
            "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
            "0123456789abcdef",
            "Stand",
            /* the period and the as-of instant in words */
            "Ereignisse vom 01.01.2022 bis zum",
            "01.07.2024, 12:30 UTC (ausschließlich)",
            "14.11.2023, 22:13 Uhr (UTC)",
            /* the coverage note: unconfirmed shipments, conflicts */
            "2 von 4 Lieferungen sind noch nicht",
            "Es gab keine widersprüchlichen Meldungen",
        };
        const char *dir = getenv("PARTNERBUS_SCHEMAS");
        const char *bin = getenv("PB_BINARY_DIR");
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        pb_report_t *r = pb_report_new(1700000000000LL);
        pb_labels_t *de = labels("de");
        pb_buf_t out;
        char path[4096], err[256], *text;
        size_t i, k, n = 0;
        (void)st;
        pb_buf_init(&out, 0);
        pb_report_set_labels(r, de);
        pb_report_set_range(r, 1, 1640995200000LL, 1, 1719837000000LL);
        pb_report_note_schema(r, "funds.granted", 0x0123456789abcdefULL);
        for (k = 0; k < 4; k++) {
                static const char *files[4][4] = {
                    {"bgk-generators-143000", "lvr-ukraine-euro-monthly",
                     "prosthetics-workshop-750000", NULL},
                    {"fire-rescue-vehicles-koeln", "generators-bgk-2022-12",
                     "medical-truck-poltava-2023-03",
                     "water4ukraine-transport-6"},
                    {"dnipro-generators-partial", "poltava-hospital-confirms",
                     NULL, NULL},
                    {"bav-poltava-operator", "essen-rivne-solidarity",
                     "koeln-dnipro-project", "nrw-dnipropetrowsk-regional"}};
                for (i = 0; i < 4 && files[k][i]; i++) {
                        FILE *f;
                        size_t len;
                        const pb_json_t *v;
                        snprintf(path, sizeof(path),
                                 "%s/examples/valid/%s/%s.json", dir, types[k],
                                 files[k][i]);
                        f = fopen(path, "rb");
                        assert_non_null(f);
                        text = malloc(1 << 16);
                        len = fread(text, 1, 1 << 16, f);
                        fclose(f);
                        v = pb_json_parse(p, text, len, err, sizeof(err));
                        if (!v)
                                fail_msg("%s: %s", path, err);
                        assert_int_equal(
                            pb_report_add(r, types[k], v, err, sizeof(err)),
                            PB_OK);
                        free(text);
                        n++;
                }
        }
        assert_int_equal(n, 13);
        assert_int_equal(pb_report_finish(r, err, sizeof(err)), PB_OK);
        assert_int_equal(pb_report_html(r, &out), PB_OK);
        assert_int_equal(pb_buf_putc(&out, 0), PB_OK);
        if (bin) {
                FILE *f;
                snprintf(path, sizeof(path), "%s/report_unit_de.html", bin);
                if ((f = fopen(path, "w"))) {
                        fwrite(out.data, 1, out.len - 1, f);
                        fclose(f);
                }
        }
        for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                if (!strstr((char *)out.data, want[i]))
                        fail_msg("report.html lacks \"%s\"", want[i]);
        /* no enum symbol shows raw in the German text */
        {
                static const char *raw[] = {
                    ">MEDICAL_SUPPLIES", ">REGIONAL<", ">GENERATORS",
                    "STATE_GOVERNMENT",  ">COMPLETE<", "report.col_",
                    "report.sec_",       "report.kf_", "report.by_",
                    "report.cov_"};
                for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
                        if (strstr((char *)out.data, raw[i]))
                                fail_msg("raw \"%s\" in report.html", raw[i]);
        }
        /* trace.json: the 143,000 grant's event id is behind the total */
        pb_buf_reset(&out);
        assert_int_equal(pb_report_trace_json(r, &out), PB_OK);
        assert_int_equal(pb_buf_putc(&out, 0), PB_OK);
        assert_non_null(strstr((char *)out.data, "\"funds\":{\"total\":[\""));
        assert_non_null(
            strstr((char *)out.data, "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901"));
        pb_buf_free(&out);
        pb_report_destroy(r);
        pb_labels_destroy(de);
        pb_json_parser_destroy(p);
}

/* an entity reported several times (an update from a feed, the same grant
 * through two paths) counts once, with its latest version */
static void test_report_latest_version(void **st) {
        const char *ev[] = {
            GRANT("a", "G1", "2023-01-01T00:00:00.000Z", "\"P\"", "BGK",
                  "100.00", "2023-01-01"),
            GRANT("b", "G1", "2023-02-01T00:00:00.000Z", "\"P\"", "BGK",
                  "150.00", "2023-01-01"),
            GRANT("c", "G1", "2023-01-15T00:00:00.000Z", "\"P\"", "BGK",
                  "120.00", "2023-01-01"),
            GRANT("d", "G2", "2023-03-01T00:00:00.000Z", "\"P\"", "X", "1.00",
                  "2023-03-01"),
        };
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        pb_report_t *r = pb_report_new(0);
        pb_buf_t out;
        char err[256];
        (void)st;
        pb_buf_init(&out, 0);
        add_granted(p, r, ev, 4);
        assert_int_equal(pb_report_finish(r, err, sizeof(err)), PB_OK);
        assert_int_equal(pb_report_summary_json(r, &out), PB_OK);
        assert_non_null(strstr((char *)out.data,
                               "\"funds\":{\"grants\":2,\"total\":{\"EUR\":"
                               "\"151.00\"}"));
        assert_non_null(strstr((char *)out.data, "\"superseded\":2"));
        /* after finish, nothing more can be added */
        {
                const pb_json_t *v =
                    pb_json_parse(p, ev[3], strlen(ev[3]), err, sizeof(err));
                assert_int_equal(
                    pb_report_add(r, "funds.granted", v, err, sizeof(err)),
                    PB_ERR_ARG);
        }
        pb_buf_free(&out);
        pb_report_destroy(r);
        pb_json_parser_destroy(p);
}

/* datum length of every valid example equals the codec's encoded size,
 * also with several datums back to back and truncated */
static void test_datum_len(void **st) {
        const char *dir = getenv("PARTNERBUS_SCHEMAS");
        char err[512], path[4096];
        pb_schemas_t *cat;
        pb_codec_t *c = pb_codec_new();
        const pb_schema_t *s;
        pb_buf_t b;
        size_t used = 0;
        pb_errors_t errs;
        const char *json =
            "{\"event_id\":\"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\","
            "\"occurred_at\":\"2023-02-28T11:00:00Z\",\"source\":\"sk\","
            "\"partnership_id\":\"NRW\",\"kind\":\"REGIONAL\",\"nrw_party\":"
            "{\"name\":\"NRW\",\"kind\":\"STATE_GOVERNMENT\",\"city\":null,"
            "\"region\":null,\"country\":\"DE\"},\"ukrainian_party\":{\"name\":"
            "\"D\",\"kind\":\"OBLAST_ADMINISTRATION\",\"city\":\"Dnipro\","
            "\"region\":\"D\",\"country\":\"UA\"},\"founded_on\":\"2023-02-"
            "28\","
            "\"areas\":[\"a\",\"b\"],\"note\":null}";
        (void)st;
        snprintf(path, sizeof(path), "%s", dir ? dir : "schemas");
        cat = pb_schemas_load_dir(path, err, sizeof(err));
        assert_non_null(cat);
        s = pb_schemas_find(cat, "partnership.founded");
        assert_non_null(s);
        pb_buf_init(&b, 0);
        pb_errors_init(&errs);
        assert_int_equal(pb_codec_json_to_avro(c, s, json, strlen(json), NULL,
                                               &b, NULL, &errs),
                         PB_OK);
        size_t one = b.len;
        assert_int_equal(pb_codec_json_to_avro(c, s, json, strlen(json), NULL,
                                               &b, NULL, &errs),
                         PB_OK);
        assert_int_equal(pb_avro_datum_len(c, s, b.data, b.len, &used), PB_OK);
        assert_int_equal(used, one);
        assert_int_equal(
            pb_avro_datum_len(c, s, b.data + one, b.len - one, &used), PB_OK);
        assert_int_equal(used, one);
        for (size_t cut = 0; cut < one; cut++)
                assert_int_not_equal(
                    pb_avro_datum_len(c, s, b.data, cut, &used), PB_OK);
        pb_buf_free(&b);
        pb_codec_destroy(c);
        pb_schemas_destroy(cat);
}

PB_TEST_MAIN(
    cmocka_unit_test(test_csv_flatten), cmocka_unit_test(test_csv_cell),
    cmocka_unit_test(test_csv_excel_de),
    cmocka_unit_test(test_csv_dialect_names),
    cmocka_unit_test(test_merge_order), cmocka_unit_test(test_merge_ties),
    cmocka_unit_test(test_merge_full_and_end),
    cmocka_unit_test(test_exact_sums), cmocka_unit_test(test_report_totals),
    cmocka_unit_test(test_report_latest_version),
    cmocka_unit_test(test_report_document), cmocka_unit_test(test_datum_len))
