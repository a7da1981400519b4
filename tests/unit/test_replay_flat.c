/* CSV of replay straight from the Avro body (pb_replay_csv_add_avro, the
 * codec's visitor walk) against the CSV of the event's decoded and parsed
 * JSON (pb_replay_csv_add): byte for byte the same file in both dialects,
 * over the example events of every schema and over randomized bodies of
 * every schema plus a schema with every kind of type (deterministic
 * seed), also with some rows of one file added from JSON, and with bad
 * bodies given in between (cut copies of the next one: refused, and the
 * file is as if they had not been given - no row, no column of their
 * own); and the walk refuses a bad body with the decoder's code and
 * message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pb_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_examples.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_codec_visit.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_schema.h"
#include "partnerbus/pb_util.h"
#include "pb_replay.h"
#include "pb_schema_int.h"

#define RANDOM_EVENTS 400

/* --- both ways over a set of bodies --- */

typedef struct bodies {
        pb_buf_t *b;
        size_t n, cap;
} bodies_t;

static void bodies_add(bodies_t *v, const uint8_t *p, size_t n) {
        if (v->n == v->cap) {
                v->cap = v->cap ? v->cap * 2 : 64;
                v->b = realloc(v->b, v->cap * sizeof(*v->b));
                assert_non_null(v->b);
        }
        pb_buf_init(&v->b[v->n], 0);
        assert_int_equal(pb_buf_append(&v->b[v->n], p, n), PB_OK);
        v->n++;
}

static void bodies_free(bodies_t *v) {
        for (size_t i = 0; i < v->n; i++)
                pb_buf_free(&v->b[i]);
        free(v->b);
        memset(v, 0, sizeof(*v));
}

static char *finish(pb_replay_csv_t *w) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        assert_non_null(mem);
        assert_int_equal(pb_replay_csv_finish(w, mem), PB_OK);
        fclose(mem);
        return buf;
}

/* The CSV of the bodies both ways in dialect d; equal, else the test
 * fails naming the schema. mixed 1: every 7th row of the Avro side from
 * its JSON; 2: a cut copy of the next body before every 3rd, on the Avro
 * side alone. */
static void compare(const pb_schema_t *s, const bodies_t *v, pb_csv_dialect_t d,
                    int mixed) {
        pb_codec_t *c = pb_codec_new();
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        pb_replay_csv_t *old = pb_replay_csv_new(), *neu = pb_replay_csv_new();
        pb_buf_t json;
        char err[512], *a, *b;
        assert_non_null(c);
        assert_non_null(p);
        assert_non_null(old);
        assert_non_null(neu);
        assert_int_equal(pb_replay_csv_set_dialect(old, d, pb_schema_json(s)),
                         PB_OK);
        assert_int_equal(pb_replay_csv_set_dialect(neu, d, pb_schema_json(s)),
                         PB_OK);
        pb_buf_init(&json, 0);
        for (size_t i = 0; i < v->n; i++) {
                const pb_json_t *tree;
                pb_buf_reset(&json);
                if (pb_codec_avro_to_json(c, s, NULL, v->b[i].data, v->b[i].len,
                                          &json, NULL, err,
                                          sizeof(err)) != PB_OK)
                        fail_msg("%s: event %zu does not decode: %s",
                                 pb_schema_type(s), i, err);
                tree = pb_json_parse(p, (const char *)json.data, json.len, err,
                                     sizeof(err));
                if (!tree)
                        fail_msg("%s: event %zu: %s", pb_schema_type(s), i,
                                 err);
                assert_int_equal(pb_replay_csv_add(old, tree), PB_OK);
                /* every 7th row through the JSON, as replay does for an
                 * event read with another schema: one column table */
                if (mixed == 2 && i % 3 == 1) {
                        const pb_buf_t *nb = &v->b[(i + 1) % v->n];
                        size_t cut = nb->len ? nb->len - 1 : 0;
                        pb_resp_t r1, r2;
                        char e1[512];
                        pb_buf_t j1;
                        pb_buf_init(&j1, 0);
                        r1 = pb_codec_avro_to_json(c, s, NULL, nb->data, cut,
                                                   &j1, NULL, e1, sizeof(e1));
                        pb_buf_free(&j1);
                        r2 = pb_replay_csv_add_avro(neu, c, s, nb->data, cut, 0,
                                                    err, sizeof(err));
                        assert_int_equal(r2, r1);
                        if (r1 != PB_OK)
                                assert_string_equal(err, e1);
                        assert_int_equal(pb_replay_csv_error(neu), PB_OK);
                        if (r1 == PB_OK) /* not bad after all: both sides */
                                assert_int_equal(pb_replay_csv_add_avro(
                                                     old, c, s, nb->data, cut,
                                                     0, err, sizeof(err)),
                                                 PB_OK);
                }
                if (mixed == 1 && i % 7 == 3)
                        assert_int_equal(pb_replay_csv_add(neu, tree), PB_OK);
                else
                        assert_int_equal(
                            pb_replay_csv_add_avro(
                                neu, c, s, v->b[i].data, v->b[i].len,
                                i % 2 ? PB_VISIT_CHECKED : 0, err, sizeof(err)),
                            PB_OK);
        }
        assert_int_equal(pb_replay_csv_rows(old), pb_replay_csv_rows(neu));
        a = finish(old);
        b = finish(neu);
        if (strcmp(a, b))
                fail_msg("%s (dialect %d): the CSVs differ\n--- from JSON:\n"
                         "%.2000s\n--- from Avro:\n%.2000s",
                         pb_schema_type(s), (int)d, a, b);
        free(a);
        free(b);
        pb_buf_free(&json);
        pb_replay_csv_destroy(old);
        pb_replay_csv_destroy(neu);
        pb_json_parser_destroy(p);
        pb_codec_destroy(c);
}

static void compare_both(const pb_schema_t *s, const bodies_t *v) {
        compare(s, v, PB_CSV_RFC4180, 0);
        compare(s, v, PB_CSV_EXCEL_DE, 0);
        compare(s, v, PB_CSV_RFC4180, 1);
        compare(s, v, PB_CSV_EXCEL_DE, 2);
}

/* --- randomized bodies --- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static uint64_t below(uint64_t n) {
        return n ? rnd() % n : 0;
}

static void put_long(pb_buf_t *o, int64_t v) {
        uint8_t b[10];
        assert_int_equal(pb_buf_append(o, b, pb_zz_encode(b, v)), PB_OK);
}

static void put_bytes(pb_buf_t *o, const void *p, size_t n) {
        put_long(o, (int64_t)n);
        assert_int_equal(pb_buf_append(o, p, n), PB_OK);
}

/* text cells that matter for CSV: separators, quotes, line ends, formula
 * starts, numbers as text, non-ASCII, escapes in JSON, NUL */
static void rnd_text(pb_buf_t *t) {
        static const char *const tok[] = {
            "a",           "Zz",
            ",",           "\"",
            "\n",          "\r",
            ";",           "=",
            "+",           "-",
            "@",           "\t",
            " ",           "1.5",
            "\\",          "\x01",
            "K\xc3\xb6ln", "\xd0\x94\xd0\xbd\xd1\x96\xd0\xbf\xd1\x80\xd0\xbe",
            "\0",          "."};
        size_t n = below(5);
        pb_buf_reset(t);
        for (size_t i = 0; i < n; i++) {
                const char *s = tok[below(sizeof(tok) / sizeof(tok[0]))];
                assert_int_equal(pb_buf_append(t, s, *s ? strlen(s) : 1),
                                 PB_OK);
        }
}

static void gen(pb_buf_t *o, const pb_type_t *t, int depth);

static void gen_items(pb_buf_t *o, const pb_type_t *t, int depth, int map) {
        static const char *const keys[] = {"a", "b", "k.x", "0", "\xc3\xb6"};
        size_t n = depth > 6 ? 0 : below(4), blocks = n > 1 && below(2) ? 2 : 1;
        size_t done = 0, k0 = below(5); /* distinct keys: JSON has no
                                            duplicate members */
        pb_buf_t blk;
        pb_buf_init(&blk, 0);
        for (size_t k = 0; k < blocks && n; k++) {
                size_t m = k + 1 == blocks ? n - done : n / 2;
                pb_buf_reset(&blk);
                for (size_t j = 0; j < m; j++) {
                        if (map) {
                                const char *key = keys[(k0 + done + j) % 5];
                                put_bytes(&blk, key, strlen(key));
                        }
                        gen(&blk, t->items, depth + 1);
                }
                if (below(2)) { /* negative count, then the block size */
                        put_long(o, -(int64_t)m);
                        put_long(o, (int64_t)blk.len);
                } else
                        put_long(o, (int64_t)m);
                assert_int_equal(pb_buf_append(o, blk.data, blk.len), PB_OK);
                done += m;
        }
        put_long(o, 0);
        pb_buf_free(&blk);
}

static void gen(pb_buf_t *o, const pb_type_t *t, int depth) {
        uint8_t raw[64];
        pb_buf_t txt;
        size_t i, n;
        switch (t->kind) {
        case PB_T_NULL:
                return;
        case PB_T_BOOLEAN:
                raw[0] = (uint8_t)below(2);
                assert_int_equal(pb_buf_append(o, raw, 1), PB_OK);
                return;
        case PB_T_INT:
                if (t->logical == PB_L_DATE)
                        put_long(o, -719162 + (int64_t)below(2932896 + 719163));
                else if (t->logical == PB_L_TIME_MILLIS)
                        put_long(o, (int64_t)below(86400000));
                else
                        put_long(o, below(4) ? (int64_t)below(2000) - 1000
                                             : (int32_t)rnd());
                return;
        case PB_T_LONG:
                if (t->logical == PB_L_TIMESTAMP_MILLIS)
                        put_long(o, -62135596800000LL +
                                        (int64_t)below(315537897599999ULL));
                else if (t->logical == PB_L_TIMESTAMP_MICROS)
                        put_long(o, (-62135596800000LL +
                                     (int64_t)below(315537897599999ULL)) *
                                            1000 +
                                        (int64_t)below(1000));
                else
                        put_long(o, below(4) ? (int64_t)below(100000) - 50000
                                             : (int64_t)rnd());
                return;
        case PB_T_FLOAT:
        case PB_T_DOUBLE: {
                double d;
                uint64_t u;
                switch (below(4)) {
                case 0:
                        u = rnd();
                        memcpy(&d, &u, 8);
                        break;
                case 1:
                        d = below(2) ? NAN : (below(2) ? INFINITY : -INFINITY);
                        break;
                default:
                        d = ((double)below(200000) - 100000) / 64.0;
                }
                if (t->kind == PB_T_FLOAT) {
                        float f = (float)d;
                        uint32_t v;
                        memcpy(&v, &f, 4);
                        for (i = 0; i < 4; i++)
                                raw[i] = (uint8_t)(v >> (8 * i));
                        assert_int_equal(pb_buf_append(o, raw, 4), PB_OK);
                } else {
                        memcpy(&u, &d, 8);
                        for (i = 0; i < 8; i++)
                                raw[i] = (uint8_t)(u >> (8 * i));
                        assert_int_equal(pb_buf_append(o, raw, 8), PB_OK);
                }
                return;
        }
        case PB_T_BYTES:
        case PB_T_FIXED:
                n = t->kind == PB_T_FIXED ? t->size : below(11);
                for (i = 0; i < n && i < sizeof(raw); i++)
                        raw[i] = (uint8_t)rnd();
                if (t->kind == PB_T_FIXED)
                        assert_int_equal(pb_buf_append(o, raw, n), PB_OK);
                else
                        put_bytes(o, raw, n);
                return;
        case PB_T_STRING:
                pb_buf_init(&txt, 0);
                rnd_text(&txt);
                put_bytes(o, txt.data ? txt.data : (const uint8_t *)"",
                          txt.len);
                pb_buf_free(&txt);
                return;
        case PB_T_RECORD:
                for (i = 0; i < t->nfields; i++)
                        gen(o, t->fields[i].type, depth + 1);
                return;
        case PB_T_ENUM:
                put_long(o, (int64_t)below(t->nsymbols));
                return;
        case PB_T_ARRAY:
                gen_items(o, t, depth, 0);
                return;
        case PB_T_MAP:
                gen_items(o, t, depth, 1);
                return;
        case PB_T_UNION:
                n = depth > 6 && t->null_branch >= 0 ? (size_t)t->null_branch
                                                     : below(t->nbranches);
                put_long(o, (int64_t)n);
                gen(o, t->branches[n], depth + 1);
                return;
        }
}

/* every kind of type, nested: maps, arrays of arrays, unions of records
 * with different members, fixed and bytes decimals, logical types */
static const char *const all_kinds =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"raw\",\"type\":\"bytes\"},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F3\","
    "\"size\":3}},"
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
    "\"decimal\",\"precision\":20,\"scale\":3}},"
    "{\"name\":\"decf\",\"type\":{\"type\":\"fixed\",\"name\":\"D8\","
    "\"size\":8,\"logicalType\":\"decimal\",\"precision\":18,\"scale\":2}},"
    "{\"name\":\"day\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
    "{\"name\":\"tm\",\"type\":{\"type\":\"int\",\"logicalType\":"
    "\"time-millis\"}},"
    "{\"name\":\"at\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-millis\"}},"
    "{\"name\":\"atu\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-micros\"}},"
    "{\"name\":\"id\",\"type\":{\"type\":\"string\",\"logicalType\":"
    "\"uuid\"}},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
    "\"symbols\":[\"A\",\"B_2\",\"c\"]}},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"string\",\"long\",\"double\"]},"
    "{\"name\":\"who\",\"type\":[\"null\",{\"type\":\"record\",\"name\":"
    "\"P\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"age\",\"type\":[\"null\",\"int\"]}]},{\"type\":\"record\","
    "\"name\":\"O\",\"fields\":[{\"name\":\"org\",\"type\":\"string\"},"
    "{\"name\":\"name\",\"type\":\"t.D8\"}]}]},"
    "{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"record\",\"name\":\"It\",\"fields\":[{\"name\":\"q\",\"type\":"
    "\"long\"},{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":"
    "\"string\"}},{\"name\":\"v\",\"type\":[\"null\",\"t.D8\"]}]}}},"
    "{\"name\":\"grid\",\"type\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"array\",\"items\":[\"null\",\"double\"]}}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"mr\",\"type\":{\"type\":\"map\",\"values\":\"t.It\"}},"
    "{\"name\":\"empty\",\"type\":{\"type\":\"record\",\"name\":\"Z\","
    "\"fields\":[]}},"
    "{\"name\":\"next\",\"type\":[\"null\",\"t.All\"]},"
    "{\"name\":\"last\",\"type\":\"string\"}]}";

static void random_bodies(const pb_schema_t *s, bodies_t *v, size_t n) {
        pb_codec_t *c = pb_codec_new();
        pb_buf_t o, json;
        char err[256];
        pb_buf_init(&o, 0);
        pb_buf_init(&json, 0);
        while (v->n < n) {
                pb_buf_reset(&o);
                pb_buf_reset(&json);
                gen(&o, s->root, 0);
                /* a decimal beyond 32 bytes or the like: not an event */
                if (pb_codec_avro_to_json(c, s, NULL, o.data, o.len, &json,
                                          NULL, err, sizeof(err)) == PB_OK)
                        bodies_add(v, o.data, o.len);
        }
        pb_buf_free(&o);
        pb_buf_free(&json);
        pb_codec_destroy(c);
}

static void test_examples(void **st) {
        pb_schemas_t *cat = ex_catalog();
        pb_codec_t *c = pb_codec_new();
        char dir[1024], path[2048];
        size_t total = 0;
        (void)st;
        assert_non_null(cat);
        assert_true(pb_schemas_count(cat) >= 4);
        for (size_t k = 0; k < pb_schemas_count(cat); k++) {
                const pb_schema_t *s = pb_schemas_at(cat, k);
                bodies_t v = {0};
                size_t n;
                char **files;
                ex_dir(dir, sizeof(dir), "valid");
                snprintf(path, sizeof(path), "%s/%s", dir, pb_schema_type(s));
                files = ex_list(path, ".json", &n);
                for (size_t i = 0; i < n; i++) {
                        pb_buf_t body;
                        pb_errors_t errs;
                        char *json, fp[3200];
                        size_t len;
                        snprintf(fp, sizeof(fp), "%s/%s", path, files[i]);
                        json = ex_read_file(fp, &len);
                        assert_non_null(json);
                        pb_buf_init(&body, 0);
                        pb_errors_init(&errs);
                        assert_int_equal(pb_codec_json_to_avro(c, s, json, len,
                                                               NULL, &body,
                                                               NULL, &errs),
                                         PB_OK);
                        bodies_add(&v, body.data, body.len);
                        pb_buf_free(&body);
                        free(json);
                }
                ex_free_list(files, n);
                total += v.n;
                if (v.n)
                        compare_both(s, &v);
                bodies_free(&v);
        }
        assert_true(total >= 4);
        pb_codec_destroy(c);
        pb_schemas_destroy(cat);
}

static void test_random(void **st) {
        pb_schemas_t *cat = ex_catalog();
        char err[512];
        pb_schema_t *all =
            pb_schema_new(all_kinds, strlen(all_kinds), err, sizeof(err));
        (void)st;
        assert_non_null(cat);
        if (!all)
                fail_msg("%s", err);
        for (size_t k = 0; k <= pb_schemas_count(cat); k++) {
                const pb_schema_t *s =
                    k < pb_schemas_count(cat) ? pb_schemas_at(cat, k) : all;
                bodies_t v = {0};
                random_bodies(s, &v, RANDOM_EVENTS);
                compare_both(s, &v);
                bodies_free(&v);
        }
        pb_schema_destroy(all);
        pb_schemas_destroy(cat);
}

/* the walk and the decoder agree on bad bodies: the same code and
 * message (cut, flipped and random bytes) */
static void test_bad_bodies(void **st) {
        char err[512], e1[512], e2[512];
        pb_schema_t *s =
            pb_schema_new(all_kinds, strlen(all_kinds), err, sizeof(err));
        pb_codec_t *c = pb_codec_new();
        bodies_t v = {0};
        pb_buf_t json, o;
        size_t bad = 0;
        (void)st;
        if (!s)
                fail_msg("%s", err);
        random_bodies(s, &v, 200);
        pb_buf_init(&json, 0);
        pb_buf_init(&o, 0);
        for (size_t i = 0; i < v.n * 4; i++) {
                const pb_buf_t *b = &v.b[i % v.n];
                pb_replay_csv_t *w = pb_replay_csv_new();
                pb_resp_t r1, r2;
                assert_non_null(w);
                pb_buf_reset(&o);
                assert_int_equal(pb_buf_append(&o, b->data, b->len), PB_OK);
                switch (i % 3) {
                case 0: /* cut */
                        o.len = below(o.len + 1);
                        break;
                case 1: /* a byte changed */
                        if (o.len)
                                o.data[below(o.len)] = (uint8_t)rnd();
                        break;
                default: /* random bytes */
                        o.len = below(o.len + 1);
                        for (size_t j = 0; j < o.len; j++)
                                o.data[j] = (uint8_t)rnd();
                }
                pb_buf_reset(&json);
                r1 = pb_codec_avro_to_json(c, s, NULL, o.data, o.len, &json,
                                           NULL, e1, sizeof(e1));
                r2 = pb_replay_csv_add_avro(w, c, s, o.data, o.len, 0, e2,
                                            sizeof(e2));
                assert_int_equal(r1, r2);
                assert_string_equal(e1, e2);
                bad += r1 != PB_OK;
                pb_replay_csv_destroy(w);
        }
        assert_true(bad > v.n);
        pb_buf_free(&json);
        pb_buf_free(&o);
        bodies_free(&v);
        pb_codec_destroy(c);
        pb_schema_destroy(s);
}

/* a bad body that reaches the column limit before its error is the
 * body's fault: refused with the decoder's verdict, and the file goes on */
static void test_bad_body_many_columns(void **st) {
        static const char *const js =
            "{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":"
            "\"xs\",\"type\":{\"type\":\"array\",\"items\":\"long\"}}]}";
        static const uint8_t good[] = {0x04, 0x02, 0x04, 0x00}; /* [1, 2] */
        char err[512], *a, *b;
        pb_schema_t *s = pb_schema_new(js, strlen(js), err, sizeof(err));
        pb_codec_t *c = pb_codec_new();
        pb_replay_csv_t *w = pb_replay_csv_new(), *ref = pb_replay_csv_new();
        pb_buf_t bad;
        size_t n = PB_CSVOUT_MAX_COLUMNS + 1;
        (void)st;
        assert_non_null(s);
        assert_non_null(c);
        assert_non_null(w);
        assert_non_null(ref);
        /* n items of 0, and no end of the array */
        pb_buf_init(&bad, 0);
        put_long(&bad, (int64_t)n);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(pb_buf_putc(&bad, 0), PB_OK);
        assert_int_equal(pb_replay_csv_add_avro(w, c, s, good, sizeof(good), 0,
                                                err, sizeof(err)),
                         PB_OK);
        assert_int_equal(pb_replay_csv_add_avro(w, c, s, bad.data, bad.len, 0,
                                                err, sizeof(err)),
                         PB_ERR_TRUNCATED);
        assert_int_equal(pb_replay_csv_error(w), PB_OK);
        assert_int_equal(pb_replay_csv_add_avro(w, c, s, good, sizeof(good), 0,
                                                err, sizeof(err)),
                         PB_OK);
        for (int k = 0; k < 2; k++)
                assert_int_equal(pb_replay_csv_add_avro(ref, c, s, good,
                                                        sizeof(good), 0, err,
                                                        sizeof(err)),
                                 PB_OK);
        a = finish(ref);
        b = finish(w);
        assert_string_equal(a, b);
        free(a);
        free(b);
        pb_buf_free(&bad);
        pb_replay_csv_destroy(w);
        pb_replay_csv_destroy(ref);
        pb_codec_destroy(c);
        pb_schema_destroy(s);
}

PB_TEST_MAIN(cmocka_unit_test(test_examples), cmocka_unit_test(test_random),
             cmocka_unit_test(test_bad_bodies),
             cmocka_unit_test(test_bad_body_many_columns))
