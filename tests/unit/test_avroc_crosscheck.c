/* Cross-check of the codec against avro-c 1.11.1, an independent Avro
 * implementation, on every valid example:
 *  1. our encoding is read by avro-c (from the .avsc text, generic value),
 *     every field compared with the JSON (avro-c has no logical types, so
 *     the underlying values: decimal bytes, date days, timestamp ms), and
 *     avro-c's re-encoding of what it read is byte-identical to ours;
 *  2. avro-c's encoding of the same event (value filled from the JSON)
 *     decodes with our codec to exactly the example's compact JSON.
 * No resolution in avro-c (DESIGN.md: it crashes on failed resolution). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "avroc_fill.h"
#include "codec_examples.h"
#include "codec_fixture.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_schema_int.h"
#include "pb_test.h"

/* Compares what avro-c read (v) with the JSON (j), guided by our schema
 * tree only for the logical types; names and symbols come from avro-c's
 * own schema. fail_msg with the path on a difference. */
static void cmp(avro_value_t *v, const pb_type_t *t, const cJSON *j,
                const char *path) {
        char sub[512];
        avro_schema_t as = avro_value_get_schema(v);
        switch (avro_value_get_type(v)) {
        case AVRO_NULL:
                if (!cJSON_IsNull(j))
                        fail_msg("%s: avro-c null, JSON not", path);
                return;
        case AVRO_BOOLEAN: {
                int b = 0;
                assert_int_equal(avro_value_get_boolean(v, &b), 0);
                if (!!b != !!cJSON_IsTrue(j))
                        fail_msg("%s: boolean differs", path);
                return;
        }
        case AVRO_INT32:
        case AVRO_INT64: {
                /* int (a date: days as text) or long (a timestamp-millis:
                 * RFC 3339 text) */
                const int is_int = avro_value_get_type(v) == AVRO_INT32;
                int64_t x = 0, want = 0;
                if (is_int) {
                        int32_t x32 = 0;
                        assert_int_equal(avro_value_get_int(v, &x32), 0);
                        x = x32;
                } else {
                        assert_int_equal(avro_value_get_long(v, &x), 0);
                }
                if (is_int && t->logical == PB_L_DATE) {
                        int32_t days = 0;
                        assert_true(cJSON_IsString(j));
                        assert_int_equal(pb_date_parse(j->valuestring,
                                                       strlen(j->valuestring),
                                                       &days),
                                         0);
                        want = days;
                } else if (!is_int && t->logical == PB_L_TIMESTAMP_MILLIS) {
                        assert_true(cJSON_IsString(j));
                        assert_int_equal(
                            pb_rfc3339_parse(j->valuestring,
                                             strlen(j->valuestring), &want),
                            0);
                } else if (is_int) {
                        want = (int32_t)j->valuedouble;
                } else {
                        want = (int64_t)j->valuedouble;
                }
                if (x != want)
                        fail_msg("%s: %s %lld vs %lld", path,
                                 is_int ? "int" : "long", (long long)x,
                                 (long long)want);
                return;
        }
        case AVRO_DOUBLE: {
                double x = 0;
                assert_int_equal(avro_value_get_double(v, &x), 0);
                if (x != j->valuedouble)
                        fail_msg("%s: double differs", path);
                return;
        }
        case AVRO_FLOAT: {
                float x = 0;
                assert_int_equal(avro_value_get_float(v, &x), 0);
                if (x != (float)j->valuedouble)
                        fail_msg("%s: float differs", path);
                return;
        }
        case AVRO_STRING: {
                const char *s = NULL;
                size_t n = 0;
                assert_int_equal(avro_value_get_string(v, &s, &n), 0);
                assert_true(cJSON_IsString(j));
                /* avro-c's size counts the NUL */
                if (n != strlen(j->valuestring) + 1 ||
                    memcmp(s, j->valuestring, n - 1))
                        fail_msg("%s: string '%s' vs '%s'", path, s,
                                 j->valuestring);
                return;
        }
        case AVRO_BYTES:
        case AVRO_FIXED: {
                const void *b = NULL;
                size_t n = 0;
                uint8_t want[4096];
                long wn;
                const char *why;
                if (avro_value_get_type(v) == AVRO_BYTES)
                        assert_int_equal(avro_value_get_bytes(v, &b, &n), 0);
                else
                        assert_int_equal(avro_value_get_fixed(v, &b, &n), 0);
                assert_true(cJSON_IsString(j));
                size_t sl = strlen(j->valuestring);
                if (t->logical == PB_L_DECIMAL)
                        wn = pb_decimal_parse(j->valuestring, sl, t->precision,
                                              t->scale, want, &why);
                else
                        wn = pb_base64_decode(j->valuestring, sl, want,
                                              sizeof(want));
                if (wn < 0 || (size_t)wn != n || memcmp(b, want, n))
                        fail_msg("%s: bytes differ (%zu vs %ld)", path, n, wn);
                return;
        }
        case AVRO_ENUM: {
                int idx = 0;
                assert_int_equal(avro_value_get_enum(v, &idx), 0);
                const char *sym = avro_schema_enum_get(as, idx);
                assert_non_null(sym);
                assert_true(cJSON_IsString(j));
                if (strcmp(sym, j->valuestring))
                        fail_msg("%s: enum %s vs %s", path, sym,
                                 j->valuestring);
                return;
        }
        case AVRO_RECORD:
        case AVRO_ARRAY:
        case AVRO_MAP: {
                /* the members: fields and map values by name, array
                 * elements by index */
                avro_type_t kind = avro_value_get_type(v);
                size_t n = 0;
                assert_int_equal(avro_value_get_size(v, &n), 0);
                if (kind == AVRO_RECORD)
                        assert_int_equal(n, t->nfields);
                assert_int_equal((size_t)cJSON_GetArraySize(j), n);
                for (size_t i = 0; i < n; i++) {
                        avro_value_t m;
                        const char *name = NULL;
                        const cJSON *jm;
                        assert_int_equal(
                            avro_value_get_by_index(
                                v, i, &m, kind == AVRO_ARRAY ? NULL : &name),
                            0);
                        if (kind == AVRO_ARRAY) {
                                jm = cJSON_GetArrayItem(j, (int)i);
                                snprintf(sub, sizeof(sub), "%s/%zu", path, i);
                        } else {
                                jm = cJSON_GetObjectItemCaseSensitive(j, name);
                                snprintf(sub, sizeof(sub), "%s/%s", path, name);
                        }
                        if (kind == AVRO_RECORD && !jm)
                                fail_msg("%s: missing in JSON", sub);
                        cmp(&m,
                            kind == AVRO_RECORD ? t->fields[i].type : t->items,
                            jm, sub);
                }
                return;
        }
        case AVRO_UNION: {
                int disc = 0;
                avro_value_t br;
                assert_int_equal(avro_value_get_discriminant(v, &disc), 0);
                assert_int_equal(avro_value_get_current_branch(v, &br), 0);
                assert_true(disc >= 0 && (size_t)disc < t->nbranches);
                cmp(&br, t->branches[disc], j, path);
                return;
        }
        default:
                fail_msg("%s: unexpected avro-c type", path);
        }
}

typedef void (*example_fn)(const pb_schema_t *s, const char *path,
                           const char *json, size_t len);

static size_t for_each_valid(example_fn fn) {
        ex_iter_t it;
        ex_iter_start(&it, "valid");
        while (ex_iter_next(&it))
                fn(it.s, it.path, it.json, it.len);
        return it.total;
}

static avro_schema_t avroc_schema(const pb_schema_t *s) {
        avro_schema_t as;
        const char *txt = pb_schema_json(s);
        if (avro_schema_from_json_length(txt, strlen(txt), &as))
                fail_msg("avro-c rejects the schema: %s", avro_strerror());
        return as;
}

static void ours_to_avroc(const pb_schema_t *s, const char *path,
                          const char *json, size_t len) {
        pb_buf_t avro;
        pb_errors_t errs;
        pb_buf_init(&avro, 0);
        pb_errors_init(&errs);
        if (pb_codec_json_to_avro(codec, s, json, len, NULL, &avro, NULL,
                                  &errs) != PB_OK)
                fail_msg("%s: our encoder rejects it", path);

        avro_schema_t as = avroc_schema(s);
        avro_value_iface_t *iface = avro_generic_class_from_schema(as);
        avro_value_t v;
        assert_int_equal(avro_generic_value_new(iface, &v), 0);
        avro_reader_t r =
            avro_reader_memory((const char *)avro.data, (int64_t)avro.len);
        if (avro_value_read(r, &v))
                fail_msg("%s: avro-c cannot read our bytes: %s", path,
                         avro_strerror());
        cJSON *j = cJSON_ParseWithLength(json, len);
        assert_non_null(j);
        cmp(&v, s->root, j, "");

        /* avro-c writes back exactly the bytes we wrote (so it also read
         * all of them) */
        static char wbuf[1 << 16];
        avro_writer_t w = avro_writer_memory(wbuf, sizeof(wbuf));
        assert_int_equal(avro_value_write(w, &v), 0);
        if ((size_t)avro_writer_tell(w) != avro.len ||
            memcmp(wbuf, avro.data, avro.len))
                fail_msg("%s: avro-c re-encodes %lld bytes, ours %zu", path,
                         (long long)avro_writer_tell(w), avro.len);

        avro_writer_free(w);
        cJSON_Delete(j);
        avro_reader_free(r);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(as);
        pb_buf_free(&avro);
}

static void avroc_to_ours(const pb_schema_t *s, const char *path,
                          const char *json, size_t len) {
        avro_schema_t as = avroc_schema(s);
        avro_value_iface_t *iface = avro_generic_class_from_schema(as);
        avro_value_t v;
        char err[512];
        assert_int_equal(avro_generic_value_new(iface, &v), 0);
        cJSON *j = cJSON_ParseWithLength(json, len);
        assert_non_null(j);
        if (avroc_fill(&v, s->root, j))
                fail_msg("%s: cannot fill the avro-c value: %s", path,
                         avro_strerror());
        static char wbuf[1 << 16];
        avro_writer_t w = avro_writer_memory(wbuf, sizeof(wbuf));
        assert_int_equal(avro_value_write(w, &v), 0);
        size_t n = (size_t)avro_writer_tell(w);

        pb_buf_t out, want;
        pb_buf_init(&out, 0);
        pb_buf_init(&want, 0);
        if (pb_codec_avro_to_json(codec, s, NULL, (const uint8_t *)wbuf, n,
                                  &out, NULL, err, sizeof(err)) != PB_OK)
                fail_msg("%s: our decoder rejects avro-c's bytes: %s", path,
                         err);
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        const pb_json_t *pv = pb_json_parse(p, json, len, err, sizeof(err));
        assert_non_null(pv);
        assert_int_equal(pb_json_write(pv, &want), PB_OK);
        if (strcmp((char *)out.data, (char *)want.data))
                fail_msg("%s: from avro-c\n want %s\n got  %s", path,
                         (char *)want.data, (char *)out.data);
        pb_json_parser_destroy(p);
        pb_buf_free(&out);
        pb_buf_free(&want);
        avro_writer_free(w);
        cJSON_Delete(j);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(as);
}

static void test_ours_read_by_avroc(void **state) {
        (void)state;
        assert_true(for_each_valid(ours_to_avroc) >= 13);
}

static void test_avroc_read_by_ours(void **state) {
        (void)state;
        assert_true(for_each_valid(avroc_to_ours) >= 13);
}

PB_TEST_MAIN_WITH(codec_fixture_setup, codec_fixture_teardown,
                  cmocka_unit_test(test_ours_read_by_avroc),
                  cmocka_unit_test(test_avroc_read_by_ours))
