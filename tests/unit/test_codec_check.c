/* Unit tests for the validate-only walk (pb_codec_check, pb_serde_check):
 * it must give the full decoder's verdict - same code, same error text,
 * same meta - on the valid examples, on every truncation and on every
 * crafted byte of them, on hand-made corner cases (lengths, counts,
 * ranges, UTF-8, depth, the JSON output bound) and on the fuzz corpus of
 * the decoder (tests/fuzz/corpus/avro_decode). On each of those inputs
 * the envelope check (pb_codec_check_envelope, pb_serde_read_envelope)
 * must accept what the check accepts, with the same meta, and where it
 * refuses, give the check's verdict and text. */
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
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_serde.h"
#include "partnerbus/pb_util.h"
#include "pb_test.h"

static pb_serde_t *serde;
static long n_compared, n_rejected;
static long n_envelope_only; /* bodies the envelope check alone passed */

static int setup(void **state) {
        char err[512];
        (void)state;
        if (codec_fixture_setup(state))
                return -1;
        serde = pb_serde_new(cat, NULL, err, sizeof(err));
        return serde ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        fprintf(stderr,
                "compared %ld inputs, %ld rejected, %ld of them past the "
                "envelope only\n",
                n_compared, n_rejected, n_envelope_only);
        pb_serde_destroy(serde);
        return codec_fixture_teardown(state);
}

static int ex_type_cmp(const void *a, const void *b) {
        return strcmp(pb_schema_type(*(const pb_schema_t *const *)a),
                      pb_schema_type(*(const pb_schema_t *const *)b));
}

/* The envelope check against the check's verdict r2 (text e2, meta m2) on
 * the same input: what the check accepts it accepts with the same meta;
 * where it refuses, it says what the check says; with another reader it
 * is the check. */
static void envelope_agrees(const pb_schema_t *w, const pb_schema_t *r,
                            const uint8_t *body, size_t len, pb_resp_t r2,
                            const char *e2, const pb_event_meta_t *m2) {
        char e3[512];
        pb_event_meta_t m3;
        pb_resp_t r3;
        memset(&m3, 0x55, sizeof(m3));
        r3 = pb_codec_check_envelope(codec, w, r, body, len, &m3, e3,
                                     sizeof(e3));
        if (r2 == PB_OK || r3 != PB_OK || (r && r != w)) {
                if (r3 != r2 || strcmp(e3, e2))
                        fail_msg("%s, %zu bytes: check %s '%s', envelope %s "
                                 "'%s'",
                                 pb_schema_type(w), len, pb_err2str(r2), e2,
                                 pb_err2str(r3), e3);
                assert_memory_equal(&m3, m2, sizeof(m3));
        } else {
                /* the body is bad past its envelope */
                assert_string_equal(e3, "");
                n_envelope_only++;
        }
}

/* Check and decode agree on body: code, error text and meta. Returns the
 * code. */
static pb_resp_t agree(const pb_schema_t *w, const pb_schema_t *r,
                       const uint8_t *body, size_t len) {
        char e1[512], e2[512];
        pb_event_meta_t m1, m2;
        pb_buf_t out;
        pb_resp_t r1, r2;
        memset(&m1, 0x55, sizeof(m1));
        memset(&m2, 0x55, sizeof(m2));
        pb_buf_init(&out, 0);
        r1 = pb_codec_avro_to_json(codec, w, r, body, len, &out, &m1, e1,
                                   sizeof(e1));
        r2 = pb_codec_check(codec, w, r, body, len, &m2, e2, sizeof(e2));
        pb_buf_free(&out);
        if (r1 != r2 || strcmp(e1, e2))
                fail_msg("%s, %zu bytes: decode %s '%s', check %s '%s'",
                         pb_schema_type(w), len, pb_err2str(r1), e1,
                         pb_err2str(r2), e2);
        assert_memory_equal(&m1, &m2, sizeof(m1));
        envelope_agrees(w, r, body, len, r2, e2, &m2);
        n_compared++;
        if (r1 != PB_OK)
                n_rejected++;
        return r1;
}

/* The same through the serde (framed message). */
static pb_resp_t agree_framed(const uint8_t *msg, size_t len) {
        char e1[512], e2[512];
        pb_event_meta_t m1, m2;
        const pb_schema_t *t1 = NULL, *t2 = NULL, *w = NULL;
        size_t off = 0;
        pb_buf_t out;
        pb_resp_t r1, r2;
        memset(&m1, 0, sizeof(m1));
        memset(&m2, 0, sizeof(m2));
        pb_buf_init(&out, 0);
        r1 = pb_serde_decode(serde, msg, len, &t1, &out, &m1, e1, sizeof(e1));
        r2 =
            pb_serde_check(serde, msg, len, &t2, &w, &off, &m2, e2, sizeof(e2));
        pb_buf_free(&out);
        if (r1 != r2 || strcmp(e1, e2))
                fail_msg("framed, %zu bytes: decode %s '%s', check %s '%s'",
                         len, pb_err2str(r1), e1, pb_err2str(r2), e2);
        {
                char e3[512];
                pb_event_meta_t m3;
                pb_serde_msg_t sm;
                pb_resp_t r3 = pb_serde_read_envelope(serde, msg, len, &sm, &m3,
                                                      e3, sizeof(e3));
                if (r2 == PB_OK || r3 != PB_OK) {
                        if (r3 != r2 || strcmp(e3, e2))
                                fail_msg("framed, %zu bytes: check %s '%s', "
                                         "envelope %s '%s'",
                                         len, pb_err2str(r2), e2,
                                         pb_err2str(r3), e3);
                        if (r3 == PB_OK)
                                assert_memory_equal(&m3, &m2, sizeof(m3));
                }
                if (r3 == PB_OK)
                        assert_ptr_equal(sm.writer, w);
        }
        assert_ptr_equal(t1, t2);
        assert_memory_equal(&m1, &m2, sizeof(m1));
        if (r1 == PB_OK) {
                assert_non_null(w);
                assert_int_equal(off, PB_SOE_HEADER_LEN);
        }
        n_compared++;
        if (r1 != PB_OK)
                n_rejected++;
        return r1;
}

/* Every valid example, encoded: (schema, body) pairs. */
typedef struct ex_body {
        const pb_schema_t *s;
        pb_buf_t avro;
        pb_event_meta_t meta;
} ex_body_t;

static ex_body_t *examples(size_t *n) {
        size_t cnt = 0;
        ex_iter_t it;
        ex_body_t *v = calloc(256, sizeof(*v));
        assert_non_null(v);
        ex_iter_start(&it, "valid");
        assert_true(it.ntypes >= 4);
        while (ex_iter_next(&it)) {
                const pb_schema_t *s = it.s;
                const char *json = it.json;
                size_t len = it.len;
                if (cnt == 256)
                        continue;
                pb_errors_t errs;
                pb_errors_init(&errs);
                pb_buf_init(&v[cnt].avro, 0);
                v[cnt].s = s;
                assert_int_equal(pb_codec_json_to_avro(codec, s, json, len,
                                                       NULL, &v[cnt].avro,
                                                       &v[cnt].meta, &errs),
                                 PB_OK);
                cnt++;
        }
        *n = cnt;
        return v;
}

static void examples_free(ex_body_t *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                pb_buf_free(&v[i].avro);
        free(v);
}

static void test_valid_examples(void **state) {
        size_t n;
        ex_body_t *ex = examples(&n);
        (void)state;
        assert_true(n >= 13);
        for (size_t i = 0; i < n; i++) {
                pb_event_meta_t m;
                char err[256];
                assert_int_equal(pb_codec_check(codec, ex[i].s, NULL,
                                                ex[i].avro.data, ex[i].avro.len,
                                                &m, err, sizeof(err)),
                                 PB_OK);
                assert_string_equal(err, "");
                /* the meta the encoder saw */
                assert_string_equal(m.event_id, ex[i].meta.event_id);
                assert_string_equal(m.source, ex[i].meta.source);
                assert_string_equal(m.key, ex[i].meta.key);
                assert_int_equal(m.key_len, ex[i].meta.key_len);
                assert_true(m.key_len > 0);
                assert_int_equal(m.occurred_at_ms, ex[i].meta.occurred_at_ms);
                assert_int_equal(
                    agree(ex[i].s, NULL, ex[i].avro.data, ex[i].avro.len),
                    PB_OK);
                /* with the writer given as reader: no resolution */
                assert_int_equal(
                    agree(ex[i].s, ex[i].s, ex[i].avro.data, ex[i].avro.len),
                    PB_OK);
                /* meta may be NULL */
                assert_int_equal(pb_codec_check(codec, ex[i].s, NULL,
                                                ex[i].avro.data, ex[i].avro.len,
                                                NULL, NULL, 0),
                                 PB_OK);
        }
        examples_free(ex, n);
}

/* Every prefix is rejected, as by the decoder; so is a trailing byte. */
static void test_truncations(void **state) {
        size_t n;
        ex_body_t *ex = examples(&n);
        (void)state;
        for (size_t i = 0; i < n; i++) {
                const pb_buf_t *a = &ex[i].avro;
                uint8_t *copy = malloc(a->len + 1);
                assert_non_null(copy);
                for (size_t l = 0; l < a->len; l++) {
                        /* exact-size heap copy: ASan / valgrind see any
                         * read past the end */
                        uint8_t *p = malloc(l ? l : 1);
                        assert_non_null(p);
                        memcpy(p, a->data, l);
                        assert_int_not_equal(agree(ex[i].s, NULL, p, l), PB_OK);
                        free(p);
                }
                memcpy(copy, a->data, a->len);
                copy[a->len] = 0;
                assert_int_equal(agree(ex[i].s, NULL, copy, a->len + 1),
                                 PB_ERR_INVALID);
                free(copy);
        }
        examples_free(ex, n);
}

/* Every byte of every example replaced by crafted values (lengths,
 * negative and huge varints, union and enum indexes, UTF-8 breakers):
 * check and decode agree on each. */
static void test_crafted_bytes(void **state) {
        static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x03, 0x3f, 0x40, 0x7e,
                                       0x7f, 0x80, 0x81, 0xc0, 0xc3, 0xe2, 0xed,
                                       0xf4, 0xf8, 0xfe, 0xff, '"',  '\\'};
        size_t n;
        long bad = 0;
        ex_body_t *ex = examples(&n);
        (void)state;
        for (size_t i = 0; i < n; i++) {
                const pb_buf_t *a = &ex[i].avro;
                uint8_t *p = malloc(a->len);
                assert_non_null(p);
                for (size_t pos = 0; pos < a->len; pos++)
                        for (size_t k = 0; k < sizeof(vals); k++) {
                                memcpy(p, a->data, a->len);
                                if (p[pos] == vals[k])
                                        continue;
                                p[pos] = vals[k];
                                bad += agree(ex[i].s, NULL, p, a->len) != PB_OK;
                        }
                /* a long varint spliced in at every position */
                for (size_t pos = 0; pos + 10 <= a->len; pos += 3) {
                        memcpy(p, a->data, a->len);
                        memset(p + pos, 0xff, 9);
                        p[pos + 9] = 0x01;
                        bad += agree(ex[i].s, NULL, p, a->len) != PB_OK;
                        p[pos + 9] = 0x7f; /* longer than 64 bits */
                        bad += agree(ex[i].s, NULL, p, a->len) != PB_OK;
                }
                free(p);
        }
        assert_true(bad > 1000); /* the mutations did reach the checks */
        examples_free(ex, n);
}

/* Hand-made bodies for each rule, with small schemas. */
static void test_rules(void **state) {
        (void)state;
        pb_schema_t *s = schema(
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
            "{\"name\":\"b\",\"type\":\"boolean\"},"
            "{\"name\":\"i\",\"type\":\"int\"},"
            "{\"name\":\"d\",\"type\":{\"type\":\"int\",\"logicalType\":"
            "\"date\"}},"
            "{\"name\":\"t\",\"type\":{\"type\":\"int\",\"logicalType\":"
            "\"time-millis\"}},"
            "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":"
            "\"timestamp-micros\"}},"
            "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
            "\"symbols\":[\"A\",\"B\"]}},"
            "{\"name\":\"u\",\"type\":[\"null\",\"string\"]},"
            "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":"
            "\"float\"}},"
            "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\","
            "\"size\":2,\"logicalType\":\"decimal\",\"precision\":4,"
            "\"scale\":2}},"
            "{\"name\":\"x\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
            "\"decimal\",\"precision\":60,\"scale\":2}},"
            "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":"
            "\"double\"}}]}");
        /* good: b=1 i=-1 d=0 t=0 ts=0 e=1 u=str"h" m={} f=2 bytes x=[]
         * a=[] */
        uint8_t good[] = {0x01, 0x01, 0x00, 0x00, 0x00, 0x02, 0x02,
                          0x02, 'h',  0x00, 0x12, 0x34, 0x00, 0x00};
        assert_int_equal(agree(s, NULL, good, sizeof(good)), PB_OK);
        struct {
                size_t pos;
                uint8_t val;
        } edits[] = {
            {0, 0x02},  /* boolean byte */
            {2, 0x7f},  /* date -64: fine */
            {3, 0x01},  /* time-millis -1 */
            {5, 0x04},  /* enum index 2 */
            {5, 0x01},  /* enum index -1 */
            {6, 0x04},  /* union index 2 */
            {7, 0x7e},  /* string length 63 > left */
            {7, 0x01},  /* negative string length */
            {8, 0xc3},  /* lone UTF-8 lead byte */
            {8, 0x80},  /* continuation byte */
            {9, 0x02},  /* map of 1 float: truncated */
            {9, 0x01},  /* negative block count: size follows */
            {12, 0x42}, /* bytes decimal of 33 > left */
            {13, 0x02}, /* array of 1 double: truncated */
        };
        for (size_t k = 0; k < sizeof(edits) / sizeof(edits[0]); k++) {
                uint8_t b[sizeof(good)];
                memcpy(b, good, sizeof(b));
                b[edits[k].pos] = edits[k].val;
                agree(s, NULL, b, sizeof(b));
        }
        {
                /* map key with invalid UTF-8, then value */
                uint8_t b[] = {0x01, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00,
                               0x02, 0x02, 0xff, 0,    0,    0,    0,
                               0x00, 0x12, 0x34, 0x00, 0x00};
                assert_int_equal(agree(s, NULL, b, sizeof(b)), PB_ERR_INVALID);
                b[9] = 'k';
                assert_int_equal(agree(s, NULL, b, sizeof(b)), PB_OK);
        }
        {
                /* decimal bytes of 33 (too large) and of 32 (fine) */
                uint8_t b[14 + 33];
                memcpy(b, good, 12);
                b[12] = 66;
                memset(b + 13, 0x7f, 33);
                b[46] = 0x00;
                assert_int_equal(agree(s, NULL, b, 47), PB_ERR_INVALID);
                b[12] = 64;
                b[45] = 0x00;
                assert_int_equal(agree(s, NULL, b, 46), PB_OK);
        }
        {
                /* int out of range; timestamp-micros out of range */
                uint8_t b[32];
                size_t l = 0;
                b[l++] = 1;
                l += pb_zz_encode(b + l, (int64_t)INT32_MAX + 1);
                memcpy(b + l, good + 2, sizeof(good) - 2);
                assert_int_equal(agree(s, NULL, b, l + sizeof(good) - 2),
                                 PB_ERR_INVALID);
                l = 0;
                memcpy(b, good, 4);
                l = 4;
                l += pb_zz_encode(b + l, 253402300800000000LL);
                memcpy(b + l, good + 5, sizeof(good) - 5);
                assert_int_equal(agree(s, NULL, b, l + sizeof(good) - 5),
                                 PB_ERR_INVALID);
                l = 4;
                l += pb_zz_encode(b + l, 253402300799999999LL);
                memcpy(b + l, good + 5, sizeof(good) - 5);
                assert_int_equal(agree(s, NULL, b, l + sizeof(good) - 5),
                                 PB_OK);
                /* date out of range */
                memcpy(b, good, sizeof(good));
                l = pb_zz_encode(b + 2, 2932897);
                memcpy(b + 2 + l, good + 3, sizeof(good) - 3);
                assert_int_equal(agree(s, NULL, b, 2 + l + sizeof(good) - 3),
                                 PB_ERR_INVALID);
        }
        pb_schema_destroy(s);
}

/* agree() on an array body of one block of n items of zero size (s's
 * items must be null or a record of nulls). */
static pb_resp_t agree_items(const pb_schema_t *s, int64_t n) {
        uint8_t b[16];
        size_t l = pb_zz_encode(b, n);
        b[l++] = 0;
        return agree(s, NULL, b, l);
}

/* Items of zero size: the per-decode budget; an array whose JSON would
 * exceed PB_CODEC_MAX_JSON_OUT: the decoder's PB_ERR_LIMIT. */
static void test_limits(void **state) {
        char name[301], js[1024];
        uint8_t b[32];
        size_t l;
        (void)state;
        pb_schema_t *nulls = schema("{\"type\":\"array\",\"items\":\"null\"}");
        assert_int_equal(agree_items(nulls, 1000000), PB_OK);
        assert_int_equal(agree_items(nulls, 1000001), PB_ERR_LIMIT);
        /* two blocks over the budget together */
        l = pb_zz_encode(b, 600000);
        l += pb_zz_encode(b + l, 600000);
        b[l++] = 0;
        assert_int_equal(agree(nulls, NULL, b, l), PB_ERR_LIMIT);
        pb_schema_destroy(nulls);

        memset(name, 'n', 300);
        name[300] = 0;
        snprintf(js, sizeof(js),
                 "{\"type\":\"array\",\"items\":{\"type\":\"record\","
                 "\"name\":\"Z\",\"fields\":[{\"name\":\"%s\",\"type\":"
                 "\"null\"}]}}",
                 name);
        pb_schema_t *wide = schema(js);
        /* ~306 bytes of JSON per item: 1000 fine, 300000 over 64 MiB */
        assert_int_equal(agree_items(wide, 1000), PB_OK);
        assert_int_equal(agree_items(wide, 300000), PB_ERR_LIMIT);
        pb_schema_destroy(wide);

        /* a string of control characters: JSON 6x the bytes */
        pb_schema_t *str = schema("\"string\"");
        size_t big = 12u << 20;
        uint8_t *p = malloc(big + 8);
        assert_non_null(p);
        l = pb_zz_encode(p, (int64_t)big);
        memset(p + l, 0x01, big);
        assert_int_equal(agree(str, NULL, p, l + big), PB_ERR_LIMIT);
        memset(p + l, 'a', big);
        assert_int_equal(agree(str, NULL, p, l + big), PB_OK);
        free(p);
        pb_schema_destroy(str);
}

/* Nesting beyond PB_CODEC_MAX_DEPTH, through a recursive record (each
 * level: the field and the array item). */
static void test_depth(void **state) {
        uint8_t b[256];
        int verdicts[2] = {0, 0};
        (void)state;
        pb_schema_t *s = schema("{\"type\":\"record\",\"name\":\"N\","
                                "\"fields\":[{\"name\":\"c\",\"type\":"
                                "{\"type\":\"array\",\"items\":\"N\"}}]}");
        for (int depth = 26; depth <= 38; depth++) {
                size_t l = 0;
                for (int i = 0; i < depth; i++)
                        b[l++] = 0x02; /* one child */
                b[l++] = 0x00;         /* innermost: no children */
                for (int i = 0; i < depth; i++)
                        b[l++] = 0x00; /* end of each array */
                verdicts[agree(s, NULL, b, l) == PB_OK]++;
        }
        assert_true(verdicts[0] > 0 && verdicts[1] > 0);
        pb_schema_destroy(s);
}

/* Reader schemas other than the writer: the decoder's verdict. */
static void test_resolution(void **state) {
        (void)state;
        pb_schema_t *w = schema("{\"type\":\"record\",\"name\":\"R\","
                                "\"fields\":[{\"name\":\"a\",\"type\":"
                                "\"int\"}]}");
        pb_schema_t *ok = schema("{\"type\":\"record\",\"name\":\"R\","
                                 "\"fields\":[{\"name\":\"a\",\"type\":"
                                 "\"long\"},{\"name\":\"b\",\"type\":"
                                 "\"int\",\"default\":1}]}");
        pb_schema_t *no = schema("{\"type\":\"record\",\"name\":\"R\","
                                 "\"fields\":[{\"name\":\"c\",\"type\":"
                                 "\"int\"}]}");
        uint8_t b[] = {0x02};
        assert_int_equal(agree(w, ok, b, 1), PB_OK);
        assert_int_equal(agree(w, no, b, 1), PB_ERR_INCOMPATIBLE);
        assert_int_equal(agree(w, ok, b, 0), PB_ERR_TRUNCATED);
        pb_schema_destroy(w);
        pb_schema_destroy(ok);
        pb_schema_destroy(no);
}

/* A body bad past its envelope passes the envelope check with the meta of
 * the good body; one bad inside the envelope does not. */
static void test_envelope(void **state) {
        size_t n;
        ex_body_t *ex = examples(&n);
        (void)state;
        for (size_t i = 0; i < n; i++) {
                const pb_buf_t *a = &ex[i].avro;
                pb_event_meta_t m;
                char e[256];
                uint8_t *p = malloc(a->len);
                assert_non_null(p);
                memcpy(p, a->data, a->len);
                /* the last member cut short */
                assert_int_not_equal(pb_codec_check(codec, ex[i].s, NULL, p,
                                                    a->len - 1, NULL, NULL, 0),
                                     PB_OK);
                assert_int_equal(pb_codec_check_envelope(codec, ex[i].s, NULL,
                                                         p, a->len - 1, &m, e,
                                                         sizeof(e)),
                                 PB_OK);
                assert_string_equal(m.event_id, ex[i].meta.event_id);
                assert_string_equal(m.source, ex[i].meta.source);
                assert_string_equal(m.key, ex[i].meta.key);
                assert_int_equal(m.occurred_at_ms, ex[i].meta.occurred_at_ms);
                /* event_id (the first member) is not text: refused, as the
                 * check refuses it */
                p[1] = 0xff;
                assert_int_not_equal(pb_codec_check_envelope(codec, ex[i].s,
                                                             NULL, p, a->len,
                                                             &m, e, sizeof(e)),
                                     PB_OK);
                assert_string_equal(m.event_id, "");
                free(p);
        }
        examples_free(ex, n);
}

/* Framed messages through the serde: frames, fingerprints, bodies. */
static void test_serde(void **state) {
        size_t n;
        ex_body_t *ex = examples(&n);
        (void)state;
        for (size_t i = 0; i < n; i++) {
                pb_buf_t msg;
                pb_buf_init(&msg, 0);
                assert_int_equal(
                    pb_frame_write_soe(&msg, pb_schema_fingerprint(ex[i].s)),
                    PB_OK);
                pb_buf_append(&msg, ex[i].avro.data, ex[i].avro.len);
                assert_int_equal(agree_framed(msg.data, msg.len), PB_OK);
                for (size_t l = 0; l < msg.len; l += 7)
                        assert_int_not_equal(agree_framed(msg.data, l), PB_OK);
                msg.data[5] ^= 0x40; /* unknown fingerprint */
                assert_int_equal(agree_framed(msg.data, msg.len),
                                 PB_ERR_UNKNOWN_SCHEMA);
                msg.data[0] = 0x00; /* Confluent framing, no registry */
                assert_int_equal(agree_framed(msg.data, msg.len),
                                 PB_ERR_UNKNOWN_SCHEMA);
                msg.data[0] = 0x42;
                assert_int_not_equal(agree_framed(msg.data, msg.len), PB_OK);
                pb_buf_free(&msg);
        }
        examples_free(ex, n);
}

/* The decoder's fuzz corpus: byte 0 picks the schema, byte 1 the path
 * (4: a framed message for the serde), the rest is the input - and, for
 * good measure, the whole input against every schema. */
static void test_fuzz_corpus(void **state) {
        const char *src = getenv("PB_SOURCE_DIR");
        char dir[1024], path[2048];
        const pb_schema_t *ss[16];
        size_t ns = 0, nf, done = 0;
        (void)state;
        if (!src)
                fail_msg("PB_SOURCE_DIR is not set (ctest sets it)");
        for (size_t i = 0; i < pb_schemas_count(cat) && ns < 16; i++)
                ss[ns++] = pb_schemas_at(cat, i);
        qsort(ss, ns, sizeof(ss[0]), ex_type_cmp);
        snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/avro_decode", src);
        char **files = ex_list(dir, "", &nf);
        if (nf < 20)
                fail_msg("fuzz corpus %s has %zu files", dir, nf);
        for (size_t i = 0; i < nf; i++) {
                size_t len = 0;
                snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                uint8_t *d = (uint8_t *)ex_read_file(path, &len);
                assert_non_null(d);
                if (len >= 2) {
                        if (d[1] % 5 == 4)
                                agree_framed(d + 2, len - 2);
                        else
                                agree(ss[d[0] % ns], NULL, d + 2, len - 2);
                }
                for (size_t k = 0; k < ns; k++)
                        agree(ss[k], NULL, d, len);
                agree_framed(d, len);
                free(d);
                done++;
        }
        ex_free_list(files, nf);
        assert_int_equal(done, nf);
}

PB_TEST_MAIN_WITH(setup, teardown, cmocka_unit_test(test_valid_examples),
                  cmocka_unit_test(test_truncations),
                  cmocka_unit_test(test_crafted_bytes),
                  cmocka_unit_test(test_rules), cmocka_unit_test(test_limits),
                  cmocka_unit_test(test_depth),
                  cmocka_unit_test(test_resolution),
                  cmocka_unit_test(test_serde), cmocka_unit_test(test_envelope),
                  cmocka_unit_test(test_fuzz_corpus))
