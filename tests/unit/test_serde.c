/* Unit tests for pb_serde.c: frame parsing and writing (single-object
 * encoding, Confluent wire format), and encode -> decode through the schema
 * catalog for every valid example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codec_examples.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_serde.h"
#include "pb_test.h"
#include "serde_fixture.h"

static void test_frame_parse_errors(void **state) {
        static const uint8_t soe_short[] = {0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7};
        static const uint8_t soe_bad[] = {0xC3, 0x02, 1, 2, 3, 4, 5, 6, 7, 8};
        static const uint8_t conf_short[] = {0x00, 0, 0, 1};
        static const uint8_t json[] = "{\"a\":1}";
        pb_frame_t f;
        char err[256];
        (void)state;
        assert_int_equal(pb_frame_parse(NULL, 0, &f, err, sizeof(err)),
                         PB_ERR_TRUNCATED);
        assert_int_equal(pb_frame_parse(soe_short, 1, &f, err, sizeof(err)),
                         PB_ERR_TRUNCATED);
        assert_int_equal(
            pb_frame_parse(soe_short, sizeof(soe_short), &f, err, sizeof(err)),
            PB_ERR_TRUNCATED);
        assert_non_null(strstr(err, "truncated"));
        assert_int_equal(
            pb_frame_parse(soe_bad, sizeof(soe_bad), &f, err, sizeof(err)),
            PB_ERR_INVALID);
        assert_non_null(strstr(err, "C3 02"));
        assert_int_equal(pb_frame_parse(conf_short, sizeof(conf_short), &f, err,
                                        sizeof(err)),
                         PB_ERR_TRUNCATED);
        assert_int_equal(
            pb_frame_parse(json, sizeof(json) - 1, &f, err, sizeof(err)),
            PB_ERR_INVALID);
        assert_non_null(strstr(err, "unknown frame magic 7B"));
}

static void test_frame_write_parse(void **state) {
        static const uint8_t want_soe[] = {0xC3, 0x01, 0xEF, 0xCD, 0xAB, 0x89,
                                           0x67, 0x45, 0x23, 0x01, 'x'};
        static const uint8_t want_conf[] = {0x00, 0x01, 0x02, 0x03, 0x04};
        pb_buf_t b;
        pb_frame_t f;
        char err[256];
        (void)state;
        pb_buf_init(&b, 0);
        assert_int_equal(pb_frame_write_soe(&b, 0x0123456789ABCDEFULL), PB_OK);
        pb_buf_putc(&b, 'x');
        assert_int_equal(b.len, sizeof(want_soe));
        assert_memory_equal(b.data, want_soe, sizeof(want_soe));
        assert_int_equal(pb_frame_parse(b.data, b.len, &f, err, sizeof(err)),
                         PB_OK);
        assert_int_equal(f.framing, PB_FRAMING_SINGLE_OBJECT);
        assert_true(f.fingerprint == 0x0123456789ABCDEFULL);
        assert_int_equal(f.body_len, 1);
        assert_ptr_equal(f.body, b.data + PB_SOE_HEADER_LEN);

        pb_buf_reset(&b);
        assert_int_equal(pb_frame_write_confluent(&b, 0x01020304u), PB_OK);
        assert_memory_equal(b.data, want_conf, sizeof(want_conf));
        assert_int_equal(pb_frame_parse(b.data, b.len, &f, err, sizeof(err)),
                         PB_OK);
        assert_int_equal(f.framing, PB_FRAMING_CONFLUENT);
        assert_int_equal(f.schema_id, 0x01020304u);
        assert_int_equal(f.body_len, 0);
        /* a bounded buffer that cannot hold the header stays unchanged */
        pb_buf_free(&b);
        pb_buf_init(&b, 4);
        assert_int_equal(pb_frame_write_soe(&b, 1), PB_ERR_LIMIT);
        assert_int_equal(b.len, 0);
        pb_buf_free(&b);
}

typedef struct fixture {
        pb_schemas_t *cat;
        pb_serde_t *sd;
} fixture_t;

static int setup(void **state) {
        static fixture_t fx;
        if (serde_fixture_open(&fx.cat, &fx.sd))
                return -1;
        *state = &fx;
        return 0;
}

static int teardown(void **state) {
        fixture_t *fx = *state;
        serde_fixture_close(fx->cat, fx->sd);
        return 0;
}

/* Every valid example: encode (single-object frame with the schema's
 * fingerprint), decode to the example's compact form, re-encode to the same
 * bytes. */
static void test_roundtrip_examples(void **state) {
        fixture_t *fx = *state;
        pb_json_parser_t *jp = pb_json_parser_new(NULL);
        pb_buf_t enc, dec, enc2, want;
        size_t t, total = 0;
        pb_buf_init(&enc, 0);
        pb_buf_init(&dec, 0);
        pb_buf_init(&enc2, 0);
        pb_buf_init(&want, 0);
        for (t = 0; t < pb_schemas_count(fx->cat); t++) {
                const pb_schema_t *s = pb_schemas_at(fx->cat, t);
                char base[1024], dir[1280];
                size_t n, i;
                char **files;
                ex_dir(base, sizeof(base), "valid");
                snprintf(dir, sizeof(dir), "%s/%s", base, pb_schema_type(s));
                files = ex_list(dir, ".json", &n);
                for (i = 0; i < n; i++) {
                        char path[2048], err[512];
                        size_t len = 0;
                        char *text;
                        pb_errors_t errs;
                        pb_event_meta_t m1, m2;
                        const pb_schema_t *rt = NULL;
                        const pb_json_t *v;
                        pb_frame_t f;
                        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                        text = ex_read_file(path, &len);
                        assert_non_null(text);
                        pb_buf_reset(&enc);
                        pb_buf_reset(&dec);
                        pb_buf_reset(&enc2);
                        pb_buf_reset(&want);
                        pb_errors_init(&errs);
                        if (pb_serde_encode(fx->sd, s, "t", text, len, NULL,
                                            &enc, &m1, &errs) != PB_OK) {
                                pb_errors_format(&errs, err, sizeof(err));
                                fail_msg("%s: %s", path, err);
                        }
                        assert_int_equal(pb_frame_parse(enc.data, enc.len, &f,
                                                        err, sizeof(err)),
                                         PB_OK);
                        assert_int_equal(f.framing, PB_FRAMING_SINGLE_OBJECT);
                        assert_true(f.fingerprint == pb_schema_fingerprint(s));
                        assert_int_equal(pb_serde_decode(fx->sd, enc.data,
                                                         enc.len, &rt, &dec,
                                                         &m2, err, sizeof(err)),
                                         PB_OK);
                        assert_ptr_equal(rt, s);
                        assert_string_equal(m1.event_id, m2.event_id);
                        assert_int_equal(m1.key_len, m2.key_len);
                        assert_memory_equal(m1.key, m2.key, m1.key_len);
                        assert_true(m1.key_len > 0);
                        /* the decoded JSON is the example, compacted */
                        v = pb_json_parse(jp, text, len, err, sizeof(err));
                        assert_non_null(v);
                        assert_int_equal(pb_json_write(v, &want), PB_OK);
                        if (want.len != dec.len ||
                            memcmp(want.data, dec.data, dec.len))
                                fail_msg("%s:\n want %s\n got  %s", path,
                                         (char *)want.data, (char *)dec.data);
                        /* and encodes to the same bytes again */
                        pb_errors_init(&errs);
                        assert_int_equal(
                            pb_serde_encode(fx->sd, s, "t", (char *)dec.data,
                                            dec.len, NULL, &enc2, NULL, &errs),
                            PB_OK);
                        assert_int_equal(enc.len, enc2.len);
                        assert_memory_equal(enc.data, enc2.data, enc.len);
                        /* a truncated body is an error, never a crash */
                        pb_buf_reset(&dec);
                        assert_int_not_equal(
                            pb_serde_decode(fx->sd, enc.data, enc.len - 1, NULL,
                                            &dec, NULL, err, sizeof(err)),
                            PB_OK);
                        free(text);
                        total++;
                }
                ex_free_list(files, n);
        }
        assert_true(total >= 4);
        bufs_free((pb_buf_t *[]){&enc, &dec, &enc2, &want, NULL});
        pb_json_parser_destroy(jp);
}

static void test_decode_unknown(void **state) {
        fixture_t *fx = *state;
        pb_buf_t out;
        char err[256];
        pb_buf_init(&out, 0);
        assert_int_equal(pb_serde_decode(fx->sd, unknown_soe,
                                         sizeof(unknown_soe), NULL, &out, NULL,
                                         err, sizeof(err)),
                         PB_ERR_UNKNOWN_SCHEMA);
        assert_non_null(strstr(err, "fingerprint"));
        assert_int_equal(pb_serde_decode(fx->sd, unknown_conf,
                                         sizeof(unknown_conf), NULL, &out, NULL,
                                         err, sizeof(err)),
                         PB_ERR_UNKNOWN_SCHEMA);
        assert_non_null(strstr(err, "no --schema-registry given"));
        assert_int_equal(out.len, 0);
        pb_buf_free(&out);
}

/* An invalid event leaves the output buffer as it was. */
static void test_encode_invalid(void **state) {
        fixture_t *fx = *state;
        const pb_schema_t *s = pb_schemas_find(fx->cat, "aid.dispatched");
        static const char bad[] = "{\"event_id\":\"nope\"}";
        pb_buf_t out;
        pb_errors_t errs;
        pb_event_meta_t m;
        assert_non_null(s);
        pb_buf_init(&out, 0);
        pb_buf_puts(&out, "keep");
        pb_errors_init(&errs);
        assert_int_equal(pb_serde_encode(fx->sd, s, "t", bad, sizeof(bad) - 1,
                                         NULL, &out, &m, &errs),
                         PB_ERR_INVALID);
        assert_true(errs.count > 0);
        assert_int_equal(out.len, 4);
        assert_string_equal((char *)out.data, "keep");
        pb_errors_init(&errs);
        assert_int_equal(
            pb_serde_encode(fx->sd, s, "t", "{", 1, NULL, &out, &m, &errs),
            PB_ERR_PARSE);
        assert_int_equal(out.len, 4);
        pb_buf_free(&out);
}

PB_TEST_MAIN_WITH(setup, teardown, cmocka_unit_test(test_frame_parse_errors),
                  cmocka_unit_test(test_frame_write_parse),
                  cmocka_unit_test(test_roundtrip_examples),
                  cmocka_unit_test(test_decode_unknown),
                  cmocka_unit_test(test_encode_invalid))
