/* Unit tests for the one-pass entry points of pb_serde.c: encoding from a
 * parsed tree or from text parsed once (errors with JSON Pointers in the
 * same call), and pb_serde_read (frame parsed and writer looked up once,
 * body offset and schemas handed back, decoded or only checked). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec_examples.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_serde.h"
#include "pb_test.h"
#include "serde_fixture.h"

typedef struct fixture {
        pb_schemas_t *cat;
        pb_serde_t *sd;
        const pb_schema_t *s; /* aid.dispatched */
        char *text;           /* one valid example of it */
        size_t len;
} fixture_t;

static int setup(void **state) {
        static fixture_t fx;
        char base[1024], dir[1280], path[2048];
        char **files;
        size_t n;
        if (serde_fixture_open(&fx.cat, &fx.sd))
                return -1;
        fx.s = pb_schemas_find(fx.cat, "aid.dispatched");
        if (!fx.s)
                return -1;
        ex_dir(base, sizeof(base), "valid");
        snprintf(dir, sizeof(dir), "%s/aid.dispatched", base);
        files = ex_list(dir, ".json", &n);
        if (!files || n == 0)
                return -1;
        snprintf(path, sizeof(path), "%s/%s", dir, files[0]);
        ex_free_list(files, n);
        fx.text = ex_read_file(path, &fx.len);
        if (!fx.text)
                return -1;
        *state = &fx;
        return 0;
}

static int teardown(void **state) {
        fixture_t *fx = *state;
        free(fx->text);
        serde_fixture_close(fx->cat, fx->sd);
        return 0;
}

static void enc_init(pb_serde_enc_t *e, const pb_schema_t *s) {
        memset(e, 0, sizeof(*e));
        e->schema = s;
        e->topic = "t";
}

/* From a tree, from text and through pb_serde_encode: the same bytes; the
 * text variant hands back the tree it parsed. */
static void test_encode_value_text_same_bytes(void **state) {
        fixture_t *fx = *state;
        pb_json_parser_t *jp = pb_json_parser_new(NULL);
        pb_codec_t *c = pb_codec_new();
        const pb_json_t *v;
        pb_serde_enc_t e;
        pb_errors_t errs;
        pb_event_meta_t m1, m2;
        pb_buf_t a, b, ref;
        char err[256];
        pb_buf_init(&a, 0);
        pb_buf_init(&b, 0);
        pb_buf_init(&ref, 0);
        v = pb_json_parse(jp, fx->text, fx->len, err, sizeof(err));
        assert_non_null(v);
        enc_init(&e, fx->s);
        e.codec = c; /* a thread's own codec */
        pb_errors_init(&errs);
        assert_int_equal(pb_serde_encode_value(fx->sd, &e, v, &a, &m1, &errs),
                         PB_OK);
        assert_int_equal(errs.count, 0);
        enc_init(&e, fx->s);
        assert_int_equal(pb_serde_encode_text(fx->sd, &e, NULL, fx->text,
                                              fx->len, &b, &m2, &errs),
                         PB_OK);
        assert_non_null(e.tree);
        assert_int_equal(e.tree->type, PB_JSON_OBJECT);
        assert_non_null(pb_json_get(e.tree, "event_id"));
        assert_string_equal(m1.event_id, m2.event_id);
        assert_int_equal(pb_serde_encode(fx->sd, fx->s, "t", fx->text, fx->len,
                                         NULL, &ref, NULL, &errs),
                         PB_OK);
        assert_int_equal(a.len, ref.len);
        assert_memory_equal(a.data, ref.data, a.len);
        assert_int_equal(b.len, ref.len);
        assert_memory_equal(b.data, ref.data, b.len);
        /* framed: single-object header with the schema's fingerprint */
        assert_int_equal(a.data[0], 0xC3);
        assert_int_equal(a.data[1], 0x01);
        bufs_free((pb_buf_t *[]){&a, &b, &ref, NULL});
        pb_codec_destroy(c);
        pb_json_parser_destroy(jp);
}

/* Schema violations come back with their JSON Pointers from the one call,
 * and the buffer is left as it was. */
static void test_encode_value_errors_with_pointers(void **state) {
        fixture_t *fx = *state;
        static const char bad[] = "{\"event_id\":\"nope\",\"extra\":1}";
        pb_json_parser_t *jp = pb_json_parser_new(NULL);
        const pb_json_t *v;
        pb_serde_enc_t e;
        pb_errors_t errs;
        pb_buf_t out;
        char err[256];
        size_t i;
        int saw_id = 0, saw_extra = 0;
        pb_buf_init(&out, 0);
        pb_buf_puts(&out, "keep");
        v = pb_json_parse(jp, bad, sizeof(bad) - 1, err, sizeof(err));
        assert_non_null(v);
        enc_init(&e, fx->s);
        pb_errors_init(&errs);
        assert_int_equal(
            pb_serde_encode_value(fx->sd, &e, v, &out, NULL, &errs),
            PB_ERR_INVALID);
        assert_int_equal(e.registry_failed, 0);
        for (i = 0; i < errs.count; i++) {
                if (!strcmp(errs.items[i].pointer, "/event_id"))
                        saw_id = 1;
                if (!strcmp(errs.items[i].pointer, "/extra"))
                        saw_extra = 1;
        }
        assert_true(saw_id);
        assert_true(saw_extra);
        assert_int_equal(out.len, 4);
        assert_string_equal((char *)out.data, "keep");
        pb_buf_free(&out);
        pb_json_parser_destroy(jp);
}

/* A syntax error: one error; invalid UTF-8 in a string names the member,
 * exactly as the codec's own text entry point does. */
static void test_encode_text_parse_errors(void **state) {
        fixture_t *fx = *state;
        static const char utf8[] = "{\"a\":{\"b\":[\"ok\",\"\xC3\x28\"]}}";
        pb_codec_t *c = pb_codec_new();
        pb_serde_enc_t e;
        pb_errors_t errs, want;
        pb_buf_t out, scratch;
        pb_buf_init(&out, 0);
        pb_buf_init(&scratch, 0);
        enc_init(&e, fx->s);
        pb_errors_init(&errs);
        assert_int_equal(
            pb_serde_encode_text(fx->sd, &e, NULL, "{", 1, &out, NULL, &errs),
            PB_ERR_PARSE);
        assert_null(e.tree);
        assert_int_equal(errs.count, 1);
        assert_string_equal(errs.items[0].pointer, "");
        assert_int_equal(out.len, 0);

        pb_errors_init(&errs);
        assert_int_equal(pb_serde_encode_text(fx->sd, &e, NULL, utf8,
                                              sizeof(utf8) - 1, &out, NULL,
                                              &errs),
                         PB_ERR_PARSE);
        assert_int_equal(errs.count, 1);
        assert_string_equal(errs.items[0].pointer, "/a/b/1");
        pb_errors_init(&want);
        assert_int_equal(pb_codec_json_to_avro(c, fx->s, utf8, sizeof(utf8) - 1,
                                               NULL, &scratch, NULL, &want),
                         PB_ERR_PARSE);
        assert_string_equal(errs.items[0].pointer, want.items[0].pointer);
        assert_string_equal(errs.items[0].message, want.items[0].message);
        assert_int_equal(out.len, 0);
        bufs_free((pb_buf_t *[]){&out, &scratch, NULL});
        pb_codec_destroy(c);
}

/* pb_serde_read: writer, reader and body offset from one frame parse; the
 * body at that offset is the codec's own encoding; out NULL only checks. */
static void test_read_once(void **state) {
        fixture_t *fx = *state;
        pb_serde_msg_t msg;
        pb_event_meta_t m, mc;
        pb_errors_t errs;
        pb_buf_t enc, body, json, ref;
        pb_codec_t *c = pb_codec_new();
        const pb_schema_t *rt = NULL;
        char err[256];
        pb_buf_init(&enc, 0);
        pb_buf_init(&body, 0);
        pb_buf_init(&json, 0);
        pb_buf_init(&ref, 0);
        pb_errors_init(&errs);
        assert_int_equal(pb_serde_encode(fx->sd, fx->s, "t", fx->text, fx->len,
                                         NULL, &enc, NULL, &errs),
                         PB_OK);
        assert_int_equal(pb_codec_json_to_avro(c, fx->s, fx->text, fx->len,
                                               NULL, &body, NULL, &errs),
                         PB_OK);
        assert_int_equal(pb_serde_read(fx->sd, enc.data, enc.len, &msg, &json,
                                       &m, err, sizeof(err)),
                         PB_OK);
        assert_ptr_equal(msg.writer, fx->s);
        assert_ptr_equal(msg.reader, fx->s);
        assert_int_equal(msg.body_off, PB_SOE_HEADER_LEN);
        assert_int_equal(msg.frame.framing, PB_FRAMING_SINGLE_OBJECT);
        assert_ptr_equal(msg.frame.body, enc.data + msg.body_off);
        assert_int_equal(enc.len - msg.body_off, body.len);
        assert_memory_equal(enc.data + msg.body_off, body.data, body.len);
        /* same JSON as pb_serde_decode */
        assert_int_equal(pb_serde_decode(fx->sd, enc.data, enc.len, &rt, &ref,
                                         NULL, err, sizeof(err)),
                         PB_OK);
        assert_ptr_equal(rt, fx->s);
        assert_int_equal(json.len, ref.len);
        assert_memory_equal(json.data, ref.data, ref.len);
        /* check only: no JSON, same meta */
        assert_int_equal(pb_serde_read(fx->sd, enc.data, enc.len, &msg, NULL,
                                       &mc, err, sizeof(err)),
                         PB_OK);
        assert_string_equal(m.event_id, mc.event_id);
        assert_ptr_equal(msg.writer, fx->s);
        /* a truncated body: the same verdict both ways, schemas known */
        assert_int_not_equal(pb_serde_read(fx->sd, enc.data, enc.len - 1, &msg,
                                           NULL, NULL, err, sizeof(err)),
                             PB_OK);
        assert_ptr_equal(msg.writer, fx->s);
        bufs_free((pb_buf_t *[]){&enc, &body, &json, &ref, NULL});
        pb_codec_destroy(c);
}

static void test_read_errors(void **state) {
        fixture_t *fx = *state;
        pb_serde_msg_t msg;
        pb_buf_t out;
        char err[256];
        pb_buf_init(&out, 0);
        assert_int_equal(pb_serde_read(fx->sd, unknown_soe, sizeof(unknown_soe),
                                       &msg, &out, NULL, err, sizeof(err)),
                         PB_ERR_UNKNOWN_SCHEMA);
        assert_null(msg.writer);
        assert_int_equal(msg.body_off, PB_SOE_HEADER_LEN);
        assert_non_null(strstr(err, "fingerprint"));
        assert_int_equal(pb_serde_read(fx->sd, unknown_conf,
                                       sizeof(unknown_conf), &msg, NULL, NULL,
                                       err, sizeof(err)),
                         PB_ERR_UNKNOWN_SCHEMA);
        assert_non_null(strstr(err, "no --schema-registry given"));
        assert_int_equal(pb_serde_read(fx->sd, (const uint8_t *)"{}", 2, &msg,
                                       &out, NULL, err, sizeof(err)),
                         PB_ERR_INVALID);
        assert_null(msg.writer);
        assert_int_equal(out.len, 0);
        pb_buf_free(&out);
}

PB_TEST_MAIN_WITH(setup, teardown,
                  cmocka_unit_test(test_encode_value_text_same_bytes),
                  cmocka_unit_test(test_encode_value_errors_with_pointers),
                  cmocka_unit_test(test_encode_text_parse_errors),
                  cmocka_unit_test(test_read_once),
                  cmocka_unit_test(test_read_errors))
