/* partnerbus - validate an Avro body without producing JSON.
 *
 * pb_codec_check() walks the body with the writer schema exactly as
 * pb_codec_avro_to_json() does - the same readers (pb_codec_dec.h), the
 * same bounds (lengths and counts against the bytes left, zero-size items,
 * depth), the same value checks (int range, boolean byte, enum and union
 * index, UTF-8 of strings and map keys, date / time / timestamp ranges,
 * decimal size, trailing bytes) and the same error code and message - but
 * writes nothing. It fills the event meta like the decoder.
 *
 * Two cases are left to the full decoder, so that the verdict is always
 * the decoder's: a reader schema other than the writer (resolution can
 * fail on the schemas alone), and a body whose JSON might reach
 * PB_CODEC_MAX_JSON_OUT (the walk keeps an upper bound of the JSON the
 * decoder would write; only huge or pathological bodies come near it).
 * Then the body is decoded into a scratch buffer that is freed again. */
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_codec_dec.h"

/* Upper bounds of the JSON text (and the decoder's reservations) per
 * value, see the emit_* functions of pb_codec_decode.c. */
#define PB_CHK_SCALAR  32 /* numbers, dates, instants, "-Infinity" */
#define PB_CHK_DECIMAL 100
#define PB_CHK_SLACK   64 /* reservations beyond the text written */

typedef struct pb_chk {
        pb_dec_t d;
        uint64_t json; /* upper bound of the JSON the decoder writes */
} pb_chk_t;

static int chk(pb_chk_t *k, const pb_type_t *t);

/* pb_dec_push without the call while below the depth bound. */
static inline int chk_push(pb_chk_t *k, const char *name, size_t len) {
        if (pb_codec_push(k->d.c, PB_CODEC_MAX_DEPTH, name, len))
                return pb_dec_push(&k->d, name, len); /* the error */
        return 0;
}

/* pb_dec_len without the call for a one-byte length that fits. */
static inline int chk_len(pb_chk_t *k, const char *what, size_t *n) {
        pb_dec_t *d = &k->d;
        if (d->p < d->end && *d->p < 0x80 && !(*d->p & 1) &&
            (size_t)(*d->p >> 1) <= (size_t)(d->end - d->p - 1)) {
                *n = *d->p++ >> 1;
                return 0;
        }
        return pb_dec_len(d, what, n);
}

static inline int chk_long(pb_chk_t *k, int64_t *v) {
        pb_dec_t *d = &k->d;
        if (d->p < d->end && *d->p < 0x80) {
                uint64_t z = *d->p++;
                *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
                return 0;
        }
        return pb_dec_long(d, v);
}

static inline int chk_fixed(pb_chk_t *k, size_t n, const char *what) {
        pb_dec_t *d = &k->d;
        if (n > (size_t)(d->end - d->p))
                return pb_dec_fail(d, PB_ERR_TRUNCATED,
                                   "%s needs %zu bytes, %zu left", what, n,
                                   (size_t)(d->end - d->p));
        return 0;
}

/* Text must be valid UTF-8. */
static int chk_utf8(pb_chk_t *k, const uint8_t *s, size_t n) {
        k->json += 2 + 6 * (uint64_t)n; /* worst case: all \u00XX */
        if (!pb_codec_text_ok(s, n))
                return pb_dec_fail(&k->d, PB_ERR_INVALID,
                                   "string is not valid UTF-8");
        return 0;
}

/* An instant of a timestamp-millis/-micros long (or int). */
static int chk_instant(pb_chk_t *k, const pb_type_t *t, int64_t v) {
        int64_t ms = v;
        if (t->logical != PB_L_TIMESTAMP_MILLIS &&
            t->logical != PB_L_TIMESTAMP_MICROS)
                return 0;
        if (t->logical == PB_L_TIMESTAMP_MICROS)
                ms = v / 1000 - (v % 1000 < 0);
        if (ms < -62135596800000LL || ms > 253402300799999LL)
                return pb_dec_fail(&k->d, PB_ERR_INVALID,
                                   "timestamp %lld out of range", (long long)v);
        return 0;
}

static int chk_int(pb_chk_t *k, const pb_type_t *t) {
        int64_t x;
        int32_t v;
        if (chk_long(k, &x))
                return -1;
        if (x < INT32_MIN || x > INT32_MAX)
                return pb_dec_fail(&k->d, PB_ERR_INVALID,
                                   "int %lld out of range", (long long)x);
        v = (int32_t)x;
        k->json += PB_CHK_SCALAR;
        if (t->logical == PB_L_DATE) {
                if (v < -719162 || v > 2932896)
                        return pb_dec_fail(&k->d, PB_ERR_INVALID,
                                           "date %d out of range", (int)v);
                return 0;
        }
        if (t->logical == PB_L_TIME_MILLIS) {
                if (v < 0 || v >= 86400000)
                        return pb_dec_fail(&k->d, PB_ERR_INVALID,
                                           "time-millis %d out of range",
                                           (int)v);
                return 0;
        }
        return chk_instant(k, t, v);
}

/* Bytes or fixed content: a decimal must format, anything else is
 * base64. */
static int chk_bytes(pb_chk_t *k, const pb_type_t *t, const uint8_t *p,
                     size_t n) {
        if (t->logical == PB_L_DECIMAL) {
                if (pb_codec_decimal(p, n, t->scale, NULL) < 0)
                        return pb_dec_fail(&k->d, PB_ERR_INVALID,
                                           "decimal of %zu bytes is too "
                                           "large",
                                           n ? n : 1);
                k->json += PB_CHK_DECIMAL;
                return 0;
        }
        k->json += ((uint64_t)n + 2) / 3 * 4 + 2;
        return 0;
}

static int chk_record(pb_chk_t *k, const pb_type_t *t, const pb_schema_t *top,
                      pb_event_meta_t *meta) {
        pb_dec_t *d = &k->d;
        k->json += 2;
        for (size_t i = 0; i < t->nfields; i++) {
                const pb_field_t *f = &t->fields[i];
                const uint8_t *start = d->p;
                k->json += f->namelen + 4;
                if (chk_push(k, f->name, f->namelen))
                        return -1;
                if (chk(k, f->type))
                        return -1;
                d->c->depth--;
                if (meta &&
                    ((int)i == top->idx_event_id || (int)i == top->idx_source ||
                     (int)i == top->key_index ||
                     (int)i == top->idx_occurred_at))
                        pb_dec_meta_take(top, meta, i, f->type, start, d->p);
        }
        return 0;
}

/* Arrays and maps: blocks of items, a map's each after its key (keys are
 * strings of at least one byte, hence extra = 1). */
static int chk_items(pb_chk_t *k, const pb_type_t *t, int map) {
        pb_dec_t *d = &k->d;
        size_t idx = 0, kl = 0;
        int64_t n;
        k->json += 2;
        for (;;) {
                if (pb_dec_block(d, t->items, (size_t)map, &n))
                        return -1;
                if (!n)
                        return 0;
                for (int64_t j = 0; j < n; j++, idx++) {
                        const char *key = NULL;
                        k->json += 1 + (uint64_t)map;
                        if (map) {
                                if (chk_len(k, "map key", &kl) ||
                                    chk_utf8(k, d->p, kl))
                                        return -1;
                                key = (const char *)d->p;
                                d->p += kl;
                        }
                        if (chk_push(k, key, map ? kl : idx) ||
                            chk(k, t->items))
                                return -1;
                        d->c->depth--;
                }
        }
}

static int chk(pb_chk_t *k, const pb_type_t *t) {
        pb_dec_t *d = &k->d;
        int64_t v = 0;
        size_t n;

        switch (t->kind) {
        case PB_T_NULL:
                k->json += 4;
                return 0;
        case PB_T_BOOLEAN:
                if (chk_fixed(k, 1, "boolean"))
                        return -1;
                if (*d->p > 1)
                        return pb_dec_fail(d, PB_ERR_INVALID,
                                           "invalid boolean byte 0x%02x",
                                           *d->p);
                d->p++;
                k->json += 5;
                return 0;
        case PB_T_INT:
                return chk_int(k, t);
        case PB_T_LONG:
                if (chk_long(k, &v))
                        return -1;
                k->json += PB_CHK_SCALAR;
                return chk_instant(k, t, v);
        case PB_T_FLOAT:
        case PB_T_DOUBLE:
                n = t->kind == PB_T_FLOAT ? 4 : 8;
                if (chk_fixed(k, n, n == 4 ? "float" : "double"))
                        return -1;
                d->p += n;
                k->json += PB_CHK_SCALAR;
                return 0;
        case PB_T_BYTES:
                if (chk_len(k, "bytes", &n))
                        return -1;
                d->p += n;
                return chk_bytes(k, t, d->p - n, n);
        case PB_T_STRING:
                if (chk_len(k, "string", &n))
                        return -1;
                d->p += n;
                return chk_utf8(k, d->p - n, n);
        case PB_T_RECORD:
                return chk_record(k, t, NULL, NULL);
        case PB_T_ENUM:
                if (chk_long(k, &v) || pb_dec_index(d, t, v, t->nsymbols))
                        return -1;
                k->json += strlen(t->symbols[v]) + 2;
                return 0;
        case PB_T_ARRAY:
        case PB_T_MAP:
                return chk_items(k, t, t->kind == PB_T_MAP);
        case PB_T_UNION:
                if (chk_long(k, &v) || pb_dec_index(d, t, v, t->nbranches))
                        return -1;
                return chk(k, t->branches[v]);
        case PB_T_FIXED:
                if (chk_fixed(k, t->size, "fixed"))
                        return -1;
                d->p += t->size;
                return chk_bytes(k, t, d->p - t->size, t->size);
        }
        return pb_dec_fail(d, PB_ERR_INVALID, "unknown type");
}

/* The decoder's verdict the slow way: decode into a scratch buffer. */
static pb_resp_t chk_by_decoding(pb_codec_t *c, const pb_schema_t *writer,
                                 const pb_schema_t *reader, const uint8_t *data,
                                 size_t len, pb_event_meta_t *meta,
                                 char *errstr, size_t errstr_size) {
        pb_buf_t out;
        pb_resp_t r;
        pb_buf_init(&out, 0);
        r = pb_codec_avro_to_json(c, writer, reader, data, len, &out, meta,
                                  errstr, errstr_size);
        pb_buf_free(&out);
        return r;
}

pb_resp_t pb_codec_check(pb_codec_t *c, const pb_schema_t *writer,
                         const pb_schema_t *reader, const uint8_t *data,
                         size_t len, pb_event_meta_t *meta, char *errstr,
                         size_t errstr_size) {
        pb_chk_t k;
        const pb_type_t *w;
        int rc;

        if (errstr && errstr_size)
                errstr[0] = 0;
        if (!c || !writer || !writer->root || (!data && len))
                return PB_ERR_ARG;
        if (reader &&
            (reader == writer || reader->fingerprint == writer->fingerprint))
                reader = NULL;
        if (reader)
                return chk_by_decoding(c, writer, reader, data, len, meta,
                                       errstr, errstr_size);
        if (meta)
                memset(meta, 0, sizeof(*meta));
        {
                /* the decode plan's walk first; the tree walk below gives
                 * the verdict of a body it refuses */
                const pb_codec_plan_t *pl = pb_codec_plan_get(c, writer);
                if (pl) {
                        if (!pb_codec_plan_check(c, pl, data, len, meta))
                                return PB_OK;
                        if (meta)
                                memset(meta, 0, sizeof(*meta));
                }
        }
        pb_dec_start(&k.d, c, data, len, errstr, errstr_size);
        k.json = 0;

        w = writer->root;
        rc = w->kind == PB_T_RECORD ? chk_record(&k, w, writer, meta)
                                    : chk(&k, w);
        if (k.json + PB_CHK_SLACK > PB_CODEC_MAX_JSON_OUT) {
                /* the decoder might stop at its output bound first */
                if (errstr && errstr_size)
                        errstr[0] = 0;
                return chk_by_decoding(c, writer, NULL, data, len, meta, errstr,
                                       errstr_size);
        }
        rc = pb_dec_finish(&k.d, rc);
        if (rc) {
                if (meta)
                        memset(meta, 0, sizeof(*meta));
                return k.d.err != PB_OK ? k.d.err : PB_ERR_INVALID;
        }
        return PB_OK;
}

pb_resp_t pb_codec_check_envelope(pb_codec_t *c, const pb_schema_t *writer,
                                  const pb_schema_t *reader,
                                  const uint8_t *data, size_t len,
                                  pb_event_meta_t *meta, char *errstr,
                                  size_t errstr_size) {
        if (c && writer && writer->root && (data || !len) &&
            (!reader || reader == writer ||
             reader->fingerprint == writer->fingerprint)) {
                const pb_codec_plan_t *pl = pb_codec_plan_get(c, writer);
                if (meta)
                        memset(meta, 0, sizeof(*meta));
                if (pl &&
                    !pb_codec_plan_check_envelope(c, pl, data, len, meta)) {
                        if (errstr && errstr_size)
                                errstr[0] = 0;
                        return PB_OK;
                }
        }
        return pb_codec_check(c, writer, reader, data, len, meta, errstr,
                              errstr_size);
}
