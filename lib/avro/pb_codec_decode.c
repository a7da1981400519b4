/* partnerbus - Avro binary -> natural JSON, with schema resolution.
 *
 * The input is untrusted (it comes from Kafka): every length and count is
 * checked against the bytes left before it is used, negative lengths and
 * counts are rejected (except the negative block counts of arrays and maps,
 * which the spec defines), items of a zero-size type are bounded in number,
 * nesting is bounded by PB_CODEC_MAX_DEPTH and the JSON produced by
 * PB_CODEC_MAX_JSON_OUT. The first error stops the walk; errstr then holds
 * "<json pointer>: what" and `out` is restored.
 *
 * Output goes straight into pb_buf_t: record fields in schema order, every
 * field present, decimals with exactly `scale` fraction digits, instants as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ", dates "YYYY-MM-DD", floats in the shortest
 * form that reads back to the same value, and the non-finite ones as the
 * strings "NaN", "Infinity", "-Infinity" (which the encoder accepts).
 *
 * Resolution (reader != writer) follows the Avro specification. A reader
 * record's fields can come in another order than the writer's, so each
 * writer field is decoded into a segment of c->seg and the segments are
 * joined in reader order at the end of the record. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_codec_dec.h"
#include "pb_codec_int.h"

static int dec(pb_dec_t *d, const pb_type_t *t, pb_buf_t *o);
static int ostr_slow(pb_dec_t *d, pb_buf_t *o, const uint8_t *s, size_t n);
static int ofail(pb_dec_t *d, pb_resp_t r);
static int dec_r(pb_dec_t *d, const pb_type_t *w, const pb_type_t *r,
                 pb_buf_t *o);
static int skip(pb_dec_t *d, const pb_type_t *t);

static int dfail(pb_dec_t *d, pb_resp_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int dfail(pb_dec_t *d, pb_resp_t code, const char *fmt, ...) {
        char ptr[PB_POINTER_MAX], msg[PB_ERRMSG_MAX];
        va_list ap;

        if (d->err != PB_OK)
                return -1;
        d->err = code;
        if (!d->errstr || !d->errsize)
                return -1;
        pb_codec_pointer(d->c, d->c->depth, ptr, sizeof(ptr));
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (ptr[0])
                snprintf(d->errstr, d->errsize, "%s: %s", ptr, msg);
        else
                snprintf(d->errstr, d->errsize, "%s", msg);
        return -1;
}

static int dpush(pb_dec_t *d, const char *name, size_t len) {
        if (pb_codec_push(d->c, PB_CODEC_MAX_DEPTH, name, len))
                return dfail(d, PB_ERR_LIMIT, "nesting deeper than %d levels",
                             PB_CODEC_MAX_DEPTH);
        return 0;
}

static inline void dpop(pb_dec_t *d) {
        d->c->depth--;
}

/* --- output --- */

static inline int oneed(pb_dec_t *d, pb_buf_t *o, size_t n) {
        if (o->cap - o->len > n)
                return 0;
        pb_resp_t r = pb_buf_reserve(o, n);
        return r == PB_OK ? 0 : ofail(d, r);
}

static inline int oput(pb_dec_t *d, pb_buf_t *o, const void *p, size_t n) {
        if (oneed(d, o, n))
                return -1;
        memcpy(o->data + o->len, p, n);
        o->len += n;
        return 0;
}

static inline int oputc(pb_dec_t *d, pb_buf_t *o, uint8_t ch) {
        if (oneed(d, o, 1))
                return -1;
        o->data[o->len++] = ch;
        return 0;
}

/* A reservation's failure as the decoder reports it. */
static int ofail(pb_dec_t *d, pb_resp_t r) {
        if (r == PB_ERR_LIMIT)
                return dfail(d, r, "JSON output exceeds %u bytes",
                             PB_CODEC_MAX_JSON_OUT);
        return dfail(d, r, "out of memory");
}

/* Quoted text known to need no escaping (names, symbols, formatted
 * values). */
static int oquoted(pb_dec_t *d, pb_buf_t *o, const char *s, size_t n) {
        pb_resp_t r = pb_codec_quoted(o, s, n);
        return r == PB_OK ? 0 : ofail(d, r);
}

/* A string value: valid UTF-8 checked, escaped as pb_buf_json_str does,
 * in one pass (pb_codec_str); its failures are judged again here. */
static inline int ostr(pb_dec_t *d, pb_buf_t *o, const uint8_t *s, size_t n) {
        if (!pb_codec_str(o, s, n))
                return 0;
        return ostr_slow(d, o, s, n);
}

/* The verdict on a string pb_codec_str() did not write: invalid UTF-8
 * first, then the reservation of the text without escapes (n + 2) or of
 * the escaped text, each with its own message. */
static int ostr_slow(pb_dec_t *d, pb_buf_t *o, const uint8_t *s, size_t n) {
        size_t i = 0;
        if (!pb_utf8_valid((const char *)s, n))
                return dfail(d, PB_ERR_INVALID, "string is not valid UTF-8");
        while (i < n && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20)
                i++;
        if (i == n)
                return oquoted(d, o, (const char *)s, n);
        pb_resp_t r = pb_buf_json_str(o, (const char *)s, n);
        if (r == PB_OK)
                return 0;
        return dfail(d, r,
                     r == PB_ERR_LIMIT ? "JSON output too large"
                                       : "out of memory");
}

static int oi64(pb_dec_t *d, pb_buf_t *o, int64_t v) {
        char b[PB_I64_TEXT_MAX], *s = pb_i64_text(b + sizeof(b), v);
        return oput(d, o, s, (size_t)(b + sizeof(b) - s));
}

/* --- input --- */

static inline size_t left(const pb_dec_t *d) {
        return (size_t)(d->end - d->p);
}

static int rd_long(pb_dec_t *d, int64_t *v) {
        size_t n;
        pb_resp_t r = pb_zz_decode(d->p, d->end, v, &n);
        if (r == PB_OK) {
                d->p += n;
                return 0;
        }
        return dfail(d, r, "%s",
                     r == PB_ERR_TRUNCATED ? "input ends inside a number"
                                           : "number longer than 64 bits");
}

static int rd_int(pb_dec_t *d, int32_t *v) {
        int64_t x;
        if (rd_long(d, &x))
                return -1;
        if (x < INT32_MIN || x > INT32_MAX)
                return dfail(d, PB_ERR_INVALID, "int %lld out of range",
                             (long long)x);
        *v = (int32_t)x;
        return 0;
}

/* A string/bytes length: non-negative and within the bytes left. */
static int rd_len(pb_dec_t *d, const char *what, size_t *n) {
        int64_t x;
        if (rd_long(d, &x))
                return -1;
        if (x < 0)
                return dfail(d, PB_ERR_INVALID, "negative %s length %lld", what,
                             (long long)x);
        if ((uint64_t)x > left(d))
                return dfail(d, PB_ERR_TRUNCATED,
                             "%s length %lld exceeds the %zu bytes left", what,
                             (long long)x, left(d));
        *n = (size_t)x;
        return 0;
}

static int rd_fixed(pb_dec_t *d, size_t n, const char *what) {
        if (n > left(d))
                return dfail(d, PB_ERR_TRUNCATED,
                             "%s needs %zu bytes, %zu left", what, n, left(d));
        return 0;
}

/* A float (4 bytes, little-endian). */
static int rd_float(pb_dec_t *d, float *f) {
        uint32_t u;
        if (rd_fixed(d, 4, "float"))
                return -1;
        u = (uint32_t)d->p[0] | (uint32_t)d->p[1] << 8 |
            (uint32_t)d->p[2] << 16 | (uint32_t)d->p[3] << 24;
        memcpy(f, &u, 4);
        d->p += 4;
        return 0;
}

/* Smallest encoding of a value of t, to bound item counts by the bytes
 * left. 0 for null and records of only nulls. */
static size_t min_size(const pb_type_t *t, int depth) {
        switch (t->kind) {
        case PB_T_NULL:
                return 0;
        case PB_T_FLOAT:
                return 4;
        case PB_T_DOUBLE:
                return 8;
        case PB_T_FIXED:
                return t->size;
        case PB_T_RECORD: {
                size_t n = 0;
                if (depth > 8)
                        return 0;
                for (size_t i = 0; i < t->nfields && n < 64; i++)
                        n += min_size(t->fields[i].type, depth + 1);
                return n;
        }
        default:
                return 1;
        }
}

/* The count of the next block of an array or map: 0 at the end; checked
 * against the bytes left (or the zero-size budget). */
static int rd_block(pb_dec_t *d, const pb_type_t *item, size_t extra,
                    int64_t *count) {
        int64_t n, size;
        if (rd_long(d, &n))
                return -1;
        if (n < 0) {
                if (n == INT64_MIN)
                        return dfail(d, PB_ERR_INVALID, "invalid block count");
                n = -n;
                if (rd_long(d, &size))
                        return -1;
                if (size < 0 || (uint64_t)size > left(d))
                        return dfail(d, PB_ERR_INVALID,
                                     "block size %lld invalid with %zu bytes "
                                     "left",
                                     (long long)size, left(d));
        }
        if (n) {
                size_t ms = min_size(item, 0) + extra;
                if (ms > 0) {
                        if ((uint64_t)n > left(d) / ms)
                                return dfail(d, PB_ERR_TRUNCATED,
                                             "block count %lld exceeds the "
                                             "%zu bytes left",
                                             (long long)n, left(d));
                } else {
                        if ((uint64_t)n > PB_CODEC_MAX_ZERO_ITEMS ||
                            d->zero_items + n > PB_CODEC_MAX_ZERO_ITEMS)
                                return dfail(d, PB_ERR_LIMIT,
                                             "more than %d items of an "
                                             "empty type",
                                             PB_CODEC_MAX_ZERO_ITEMS);
                        d->zero_items += (long)n;
                }
        }
        *count = n;
        return 0;
}

/* --- scalar output per (reader) type --- */

/* Two decimal digits of v (0..99). */
static inline void put2(char *b, int v) {
        b[0] = (char)('0' + v / 10);
        b[1] = (char)('0' + v % 10);
}

/* Days since 1970-01-01 to "YYYY-MM-DD" (years 0001..9999, checked by the
 * callers); the civil-from-days algorithm, no libc formatting in the hot
 * path. Writes 10 bytes. */
static void fmt_date(int64_t days, char *b) {
        int64_t z = days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t y = yoe + era * 400;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
        int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
        y += mm <= 2;
        put2(b, (int)(y / 100 % 100));
        put2(b + 2, (int)(y % 100));
        b[4] = '-';
        put2(b + 5, mm);
        b[7] = '-';
        put2(b + 8, dd);
}

/* ms since the epoch to "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes). */
static void fmt_instant(int64_t ms, char *b) {
        int64_t days = ms / 86400000, rem = ms % 86400000;
        if (rem < 0) {
                rem += 86400000;
                days--;
        }
        fmt_date(days, b);
        int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60),
            sec = (int)(rem / 1000 % 60), f = (int)(rem % 1000);
        b[10] = 'T';
        put2(b + 11, h);
        b[13] = ':';
        put2(b + 14, mi);
        b[16] = ':';
        put2(b + 17, sec);
        b[19] = '.';
        b[20] = (char)('0' + f / 100);
        put2(b + 21, f % 100);
        b[23] = 'Z';
}

static int emit_long(pb_dec_t *d, const pb_type_t *r, int64_t v, pb_buf_t *o) {
        if (r->logical == PB_L_TIMESTAMP_MILLIS ||
            r->logical == PB_L_TIMESTAMP_MICROS) {
                char b[48];
                int64_t ms = v;
                if (r->logical == PB_L_TIMESTAMP_MICROS)
                        ms = v / 1000 - (v % 1000 < 0);
                /* years 0001..9999, what RFC 3339 can say */
                if (ms < -62135596800000LL || ms > 253402300799999LL)
                        return dfail(d, PB_ERR_INVALID,
                                     "timestamp %lld out of range",
                                     (long long)v);
                fmt_instant(ms, b);
                return oquoted(d, o, b, 24);
        }
        return oi64(d, o, v);
}

static int emit_int(pb_dec_t *d, const pb_type_t *r, int32_t v, pb_buf_t *o) {
        char b[32];
        if (r->logical == PB_L_DATE) {
                if (v < -719162 || v > 2932896)
                        return dfail(d, PB_ERR_INVALID, "date %d out of range",
                                     (int)v);
                fmt_date(v, b);
                return oquoted(d, o, b, 10);
        }
        if (r->logical == PB_L_TIME_MILLIS) {
                if (v < 0 || v >= 86400000)
                        return dfail(d, PB_ERR_INVALID,
                                     "time-millis %d out of range", (int)v);
                int n =
                    snprintf(b, sizeof(b), "%02d:%02d:%02d.%03d", v / 3600000,
                             v / 60000 % 60, v / 1000 % 60, v % 1000);
                return oquoted(d, o, b, (size_t)n);
        }
        if (r->kind == PB_T_LONG || r->kind == PB_T_INT)
                return emit_long(d, r, v, o);
        return oi64(d, o, v);
}

static int emit_double(pb_dec_t *d, double v, pb_buf_t *o) {
        char b[40];
        int n = 0;
        if (isnan(v))
                return oput(d, o, "\"NaN\"", 5);
        if (isinf(v))
                return v > 0 ? oput(d, o, "\"Infinity\"", 10)
                             : oput(d, o, "\"-Infinity\"", 11);
        for (int prec = 15; prec <= 17; prec++) {
                n = snprintf(b, sizeof(b), "%.*g", prec, v);
                if (prec == 17 || strtod(b, NULL) == v)
                        break;
        }
        return oput(d, o, b, (size_t)n);
}

static int emit_float(pb_dec_t *d, float v, pb_buf_t *o) {
        char b[40];
        int n = 0;
        if (isnan(v) || isinf(v))
                return emit_double(d, v, o);
        for (int prec = 6; prec <= 9; prec++) {
                n = snprintf(b, sizeof(b), "%.*g", prec, (double)v);
                if (prec == 9 || strtof(b, NULL) == v)
                        break;
        }
        return oput(d, o, b, (size_t)n);
}

/* Bytes / fixed content as the reader type wants it: decimal text or
 * base64, or (string reader) the text itself. */
static int emit_bytes(pb_dec_t *d, const pb_type_t *r, const uint8_t *p,
                      size_t n, pb_buf_t *o) {
        if (r->kind == PB_T_STRING)
                return ostr(d, o, p, n);
        if (r->logical == PB_L_DECIMAL) {
                char b[96];
                int k = pb_codec_decimal(p, n, r->scale, b);
                if (k < 0)
                        return dfail(d, PB_ERR_INVALID,
                                     "decimal of %zu bytes is too large",
                                     n ? n : 1);
                return oquoted(d, o, b, (size_t)k);
        }
        pb_resp_t rc = pb_codec_base64(o, p, n);
        return rc == PB_OK ? 0 : ofail(d, rc);
}

static int emit_symbol(pb_dec_t *d, const char *s, pb_buf_t *o) {
        return oquoted(d, o, s, strlen(s));
}

/* --- records, arrays, maps (no resolution) --- */

static int obj_key(pb_dec_t *d, pb_buf_t *o, const char *name, size_t len,
                   int first) {
        if (oneed(d, o, len + 4))
                return -1;
        uint8_t *w = o->data + o->len;
        size_t i = 0;
        if (!first)
                w[i++] = ',';
        w[i++] = '"';
        memcpy(w + i, name, len);
        i += len;
        w[i++] = '"';
        w[i++] = ':';
        o->len += i;
        return 0;
}

/* Meta capture at the top level: the raw bytes of one field re-read. */
typedef struct pb_dec_top {
        const pb_schema_t *w;
        pb_event_meta_t *meta;
} pb_dec_top_t;

static size_t mini_long(const uint8_t *p, const uint8_t *end, int64_t *v) {
        size_t n;
        return pb_zz_decode(p, end, v, &n) == PB_OK ? n : 0;
}

static void meta_take(const pb_dec_top_t *top, size_t fi, const pb_type_t *t,
                      const uint8_t *p, const uint8_t *end) {
        pb_event_meta_t *m = top->meta;
        int64_t v = 0;
        size_t k;
        int which = (int)fi == top->w->idx_event_id      ? 1
                    : (int)fi == top->w->idx_source      ? 2
                    : (int)fi == top->w->key_index       ? 3
                    : (int)fi == top->w->idx_occurred_at ? 4
                                                         : 0;
        if (!which)
                return;
        if (t->kind == PB_T_UNION) {
                if (!(k = mini_long(p, end, &v)) || v < 0 ||
                    (uint64_t)v >= t->nbranches)
                        return;
                p += k;
                t = t->branches[v];
        }
        if (t->kind == PB_T_STRING || t->kind == PB_T_BYTES) {
                char *dst = which == 1   ? m->event_id
                            : which == 2 ? m->source
                            : which == 3 ? m->key
                                         : NULL;
                size_t size = which == 1   ? sizeof(m->event_id)
                              : which == 2 ? sizeof(m->source)
                                           : sizeof(m->key);
                if (!dst || !(k = mini_long(p, end, &v)) || v < 0 ||
                    (uint64_t)v > (size_t)(end - p - (ptrdiff_t)k))
                        return;
                size_t n = (size_t)v < size - 1 ? (size_t)v : size - 1;
                memcpy(dst, p + k, n);
                dst[n] = 0;
                if (which == 3)
                        m->key_len = n;
        } else if (t->kind == PB_T_LONG || t->kind == PB_T_INT) {
                if (!mini_long(p, end, &v))
                        return;
                if (which == 4)
                        m->occurred_at_ms =
                            t->logical == PB_L_TIMESTAMP_MICROS ? v / 1000 : v;
                else if (which == 3)
                        m->key_len = (size_t)snprintf(m->key, sizeof(m->key),
                                                      "%lld", (long long)v);
        }
}

static int dec_record(pb_dec_t *d, const pb_type_t *t, pb_buf_t *o,
                      const pb_dec_top_t *top) {
        if (oputc(d, o, '{'))
                return -1;
        for (size_t i = 0; i < t->nfields; i++) {
                const pb_field_t *f = &t->fields[i];
                const uint8_t *start = d->p;
                if (obj_key(d, o, f->name, f->namelen, i == 0) ||
                    dpush(d, f->name, f->namelen))
                        return -1;
                if (dec(d, f->type, o))
                        return -1;
                dpop(d);
                /* checked here: the call cost ~40 instructions per field */
                if (top && ((int)i == top->w->idx_event_id ||
                            (int)i == top->w->idx_source ||
                            (int)i == top->w->key_index ||
                            (int)i == top->w->idx_occurred_at))
                        meta_take(top, i, f->type, start, d->p);
        }
        return oputc(d, o, '}');
}

/* An array (map 0) or a map (map 1: each item a string key, then the
 * value) of items written as wi, read as ri (NULL: as written). Avro
 * writes both in blocks; map keys are strings (>= 1 byte each), hence
 * extra = map. */
static int dec_items(pb_dec_t *d, const pb_type_t *wi, const pb_type_t *ri,
                     int map, pb_buf_t *o) {
        size_t idx = 0, kl = 0;
        int64_t n;
        if (oputc(d, o, map ? '{' : '['))
                return -1;
        for (;;) {
                if (rd_block(d, wi, (size_t)map, &n))
                        return -1;
                if (!n)
                        break;
                for (int64_t k = 0; k < n; k++, idx++) {
                        const uint8_t *key = NULL;
                        if (idx && oputc(d, o, ','))
                                return -1;
                        if (map) {
                                if (rd_len(d, "map key", &kl))
                                        return -1;
                                key = d->p;
                                if (ostr(d, o, key, kl))
                                        return -1;
                                d->p += kl;
                                if (oputc(d, o, ':'))
                                        return -1;
                        }
                        if (dpush(d, (const char *)key, map ? kl : idx))
                                return -1;
                        if (ri ? dec_r(d, wi, ri, o) : dec(d, wi, o))
                                return -1;
                        dpop(d);
                }
        }
        return oputc(d, o, map ? '}' : ']');
}

static int dec(pb_dec_t *d, const pb_type_t *t, pb_buf_t *o) {
        int64_t v = 0;
        int32_t i32 = 0;
        size_t n;

        switch (t->kind) {
        case PB_T_NULL:
                return oput(d, o, "null", 4);
        case PB_T_BOOLEAN:
                if (rd_fixed(d, 1, "boolean"))
                        return -1;
                if (*d->p > 1)
                        return dfail(d, PB_ERR_INVALID,
                                     "invalid boolean byte 0x%02x", *d->p);
                return *d->p++ ? oput(d, o, "true", 4) : oput(d, o, "false", 5);
        case PB_T_INT:
                if (rd_int(d, &i32))
                        return -1;
                return emit_int(d, t, i32, o);
        case PB_T_LONG:
                if (rd_long(d, &v))
                        return -1;
                return emit_long(d, t, v, o);
        case PB_T_FLOAT: {
                float f;
                if (rd_float(d, &f))
                        return -1;
                return emit_float(d, f, o);
        }
        case PB_T_DOUBLE: {
                double x;
                uint64_t u = 0;
                if (rd_fixed(d, 8, "double"))
                        return -1;
                for (int k = 7; k >= 0; k--)
                        u = u << 8 | d->p[k];
                memcpy(&x, &u, 8);
                d->p += 8;
                return emit_double(d, x, o);
        }
        case PB_T_BYTES:
                if (rd_len(d, "bytes", &n))
                        return -1;
                d->p += n;
                return emit_bytes(d, t, d->p - n, n, o);
        case PB_T_STRING:
                if (rd_len(d, "string", &n))
                        return -1;
                d->p += n;
                return ostr(d, o, d->p - n, n);
        case PB_T_RECORD:
                return dec_record(d, t, o, NULL);
        case PB_T_ENUM:
                if (rd_long(d, &v) || pb_dec_index(d, t, v, t->nsymbols))
                        return -1;
                return emit_symbol(d, t->symbols[v], o);
        case PB_T_ARRAY:
                return dec_items(d, t->items, NULL, 0, o);
        case PB_T_MAP:
                return dec_items(d, t->items, NULL, 1, o);
        case PB_T_UNION:
                if (rd_long(d, &v) || pb_dec_index(d, t, v, t->nbranches))
                        return -1;
                return dec(d, t->branches[v], o);
        case PB_T_FIXED:
                if (rd_fixed(d, t->size, "fixed"))
                        return -1;
                d->p += t->size;
                return emit_bytes(d, t, d->p - t->size, t->size, o);
        }
        return dfail(d, PB_ERR_INVALID, "unknown type");
}

/* --- skipping writer-only fields (bounds-checked like reading) --- */

static int skip(pb_dec_t *d, const pb_type_t *t) {
        int64_t v, n;
        size_t len;
        switch (t->kind) {
        case PB_T_NULL:
                return 0;
        case PB_T_BOOLEAN:
                if (rd_fixed(d, 1, "boolean"))
                        return -1;
                d->p++;
                return 0;
        case PB_T_INT:
        case PB_T_LONG:
        case PB_T_ENUM:
                return rd_long(d, &v);
        case PB_T_FLOAT:
                if (rd_fixed(d, 4, "float"))
                        return -1;
                d->p += 4;
                return 0;
        case PB_T_DOUBLE:
                if (rd_fixed(d, 8, "double"))
                        return -1;
                d->p += 8;
                return 0;
        case PB_T_BYTES:
        case PB_T_STRING:
                if (rd_len(d, "string", &len))
                        return -1;
                d->p += len;
                return 0;
        case PB_T_FIXED:
                if (rd_fixed(d, t->size, "fixed"))
                        return -1;
                d->p += t->size;
                return 0;
        case PB_T_RECORD:
                for (size_t i = 0; i < t->nfields; i++) {
                        if (dpush(d, t->fields[i].name, t->fields[i].namelen))
                                return -1;
                        if (skip(d, t->fields[i].type))
                                return -1;
                        dpop(d);
                }
                return 0;
        case PB_T_ARRAY:
        case PB_T_MAP:
                if (dpush(d, NULL, 0))
                        return -1;
                for (;;) {
                        if (rd_block(d, t->items, t->kind == PB_T_MAP, &n))
                                return -1;
                        if (!n)
                                break;
                        for (int64_t k = 0; k < n; k++) {
                                if (t->kind == PB_T_MAP) {
                                        if (rd_len(d, "map key", &len))
                                                return -1;
                                        d->p += len;
                                }
                                if (skip(d, t->items))
                                        return -1;
                        }
                }
                dpop(d);
                return 0;
        case PB_T_UNION:
                if (rd_long(d, &v))
                        return -1;
                if (v < 0 || (uint64_t)v >= t->nbranches)
                        return dfail(d, PB_ERR_INVALID,
                                     "union index %lld out of range",
                                     (long long)v);
                return skip(d, t->branches[v]);
        }
        return dfail(d, PB_ERR_INVALID, "unknown type");
}

/* --- resolution --- */

static int name_match(const pb_type_t *w, const pb_type_t *r) {
        if (!w->name || !r->name)
                return 0;
        if (!strcmp(w->name, r->name))
                return 1;
        if (w->fullname && r->fullname && !strcmp(w->fullname, r->fullname))
                return 1;
        for (size_t i = 0; i < r->naliases; i++) {
                const char *a = r->aliases[i];
                const char *dot = strrchr(a, '.');
                if ((w->fullname && !strcmp(a, w->fullname)) ||
                    !strcmp(dot ? dot + 1 : a, w->name))
                        return 1;
        }
        return 0;
}

/* Can a value of writer type w (not a union) be read as r (not a union)?
 * exact: same kind only; otherwise promotions too. */
static int type_match(const pb_type_t *w, const pb_type_t *r, int exact) {
        if (w->kind == r->kind) {
                switch (w->kind) {
                case PB_T_RECORD:
                case PB_T_ENUM:
                        return name_match(w, r);
                case PB_T_FIXED:
                        return name_match(w, r) && w->size == r->size;
                default:
                        return 1;
                }
        }
        if (exact)
                return 0;
        switch (w->kind) {
        case PB_T_INT:
                return r->kind == PB_T_LONG || r->kind == PB_T_FLOAT ||
                       r->kind == PB_T_DOUBLE;
        case PB_T_LONG:
                return r->kind == PB_T_FLOAT || r->kind == PB_T_DOUBLE;
        case PB_T_FLOAT:
                return r->kind == PB_T_DOUBLE;
        case PB_T_STRING:
                return r->kind == PB_T_BYTES;
        case PB_T_BYTES:
                return r->kind == PB_T_STRING;
        default:
                return 0;
        }
}

static const char *kind_name(pb_kind_t k) {
        static const char *const n[] = {
            "null",   "boolean", "int",  "long",  "float", "double", "bytes",
            "string", "record",  "enum", "array", "map",   "union",  "fixed"};
        return (unsigned)k < sizeof(n) / sizeof(n[0]) ? n[k] : "?";
}

static void rmap_free(pb_rmap_t *m) {
        free(m->w2r);
        free(m->r_from_w);
        m->w2r = NULL;
        m->r_from_w = NULL;
}

/* The field mapping of writer record w onto reader record r, built once
 * per pair and cached in the codec. NULL on ENOMEM. */
static const pb_rmap_t *rmap_get(pb_dec_t *d, const pb_type_t *w,
                                 const pb_type_t *r) {
        pb_codec_t *c = d->c;
        for (size_t i = 0; i < c->nrmaps; i++)
                if (c->rmaps[i].w == w && c->rmaps[i].r == r &&
                    c->rmaps[i].nw == w->nfields &&
                    c->rmaps[i].nr == r->nfields)
                        return &c->rmaps[i];
        if (c->nrmaps == PB_CODEC_RMAP_MAX)
                pb_codec_rmaps_reset(c);
        pb_rmap_t *m = &c->rmaps[c->nrmaps];
        memset(m, 0, sizeof(*m));
        m->w = w;
        m->r = r;
        m->nw = w->nfields;
        m->nr = r->nfields;
        m->w2r = malloc((w->nfields + 1) * sizeof(int));
        m->r_from_w = calloc(r->nfields + 1, sizeof(int));
        if (!m->w2r || !m->r_from_w) {
                rmap_free(m);
                return NULL;
        }
        for (size_t i = 0; i < w->nfields; i++) {
                const pb_field_t *wf = &w->fields[i];
                int j = -1;
                for (size_t k = 0; k < r->nfields && j < 0; k++) {
                        const pb_field_t *rf = &r->fields[k];
                        if (rf->namelen == wf->namelen &&
                            !memcmp(rf->name, wf->name, wf->namelen))
                                j = (int)k;
                        for (size_t a = 0; a < rf->naliases && j < 0; a++)
                                if (!strcmp(rf->aliases[a], wf->name))
                                        j = (int)k;
                }
                if (j >= 0 && m->r_from_w[j])
                        j = -1; /* a second writer field for the same one */
                m->w2r[i] = j;
                if (j >= 0)
                        m->r_from_w[j] = 1;
        }
        for (size_t k = 0; k < r->nfields; k++) {
                if (!m->r_from_w[k] && !r->fields[k].has_default) {
                        snprintf(m->err, sizeof(m->err),
                                 "reader field '%s' of %s is not written "
                                 "and has no default",
                                 r->fields[k].name, r->name ? r->name : "?");
                        break;
                }
        }
        c->nrmaps++;
        return m;
}

static int dec_record_r(pb_dec_t *d, const pb_type_t *w, const pb_type_t *r,
                        pb_buf_t *o, const pb_dec_top_t *top) {
        pb_codec_t *c = d->c;
        pb_buf_t *sb = &c->seg;
        const pb_rmap_t *m = rmap_get(d, w, r);
        size_t nr = r->nfields, base, sbase, total;

        if (!m)
                return dfail(d, PB_ERR_NOMEM, "out of memory");
        if (m->err[0])
                return dfail(d, PB_ERR_INCOMPATIBLE, "%s", m->err);
        if (pb_codec_segs_reserve(c, 2 * nr))
                return dfail(d, PB_ERR_NOMEM, "out of memory");
        base = c->nsegs;
        c->nsegs += 2 * nr;
        sbase = sb->len;

        for (size_t i = 0; i < w->nfields; i++) {
                const pb_field_t *wf = &w->fields[i];
                const uint8_t *start = d->p;
                int j = m->w2r[i];
                if (dpush(d, wf->name, wf->namelen))
                        return -1;
                if (j < 0) {
                        if (skip(d, wf->type))
                                return -1;
                } else {
                        size_t off = sb->len;
                        if (dec_r(d, wf->type, r->fields[j].type, sb))
                                return -1;
                        c->segs[base + 2 * (size_t)j] = off;
                        c->segs[base + 2 * (size_t)j + 1] = sb->len - off;
                }
                dpop(d);
                if (top)
                        meta_take(top, i, wf->type, start, d->p);
        }
        /* reader-only fields: their default, read as the reader type */
        for (size_t k = 0; k < nr; k++) {
                const pb_field_t *rf = &r->fields[k];
                if (m->r_from_w[k])
                        continue;
                const uint8_t *sp = d->p, *se = d->end;
                size_t off = sb->len;
                d->p = rf->default_avro;
                d->end = rf->default_avro + rf->default_avro_len;
                if (dpush(d, rf->name, rf->namelen))
                        return -1;
                int rc = dec(d, rf->type, sb);
                dpop(d);
                d->p = sp;
                d->end = se;
                if (rc)
                        return -1;
                c->segs[base + 2 * k] = off;
                c->segs[base + 2 * k + 1] = sb->len - off;
        }
        /* join in reader order; reserve first since o may be sb itself */
        total = 2;
        for (size_t k = 0; k < nr; k++)
                total += r->fields[k].namelen + 4 + c->segs[base + 2 * k + 1];
        if (oneed(d, o, total))
                return -1;
        size_t ostart = o->len;
        uint8_t *wp = o->data + o->len;
        *wp++ = '{';
        for (size_t k = 0; k < nr; k++) {
                const pb_field_t *rf = &r->fields[k];
                if (k)
                        *wp++ = ',';
                *wp++ = '"';
                memcpy(wp, rf->name, rf->namelen);
                wp += rf->namelen;
                *wp++ = '"';
                *wp++ = ':';
                memcpy(wp, sb->data + c->segs[base + 2 * k],
                       c->segs[base + 2 * k + 1]);
                wp += c->segs[base + 2 * k + 1];
        }
        *wp++ = '}';
        o->len = (size_t)(wp - o->data);
        if (o == sb) {
                size_t n = o->len - ostart;
                memmove(sb->data + sbase, sb->data + ostart, n);
                sb->len = sbase + n;
        } else {
                sb->len = sbase;
        }
        sb->data[sb->len] = 0;
        c->nsegs = base;
        return 0;
}

static int dec_r(pb_dec_t *d, const pb_type_t *w, const pb_type_t *r,
                 pb_buf_t *o) {
        int64_t v = 0;
        int32_t i32 = 0;
        size_t n;

        if (w == r)
                return dec(d, w, o);
        if (w->kind == PB_T_UNION) {
                if (rd_long(d, &v) || pb_dec_index(d, w, v, w->nbranches))
                        return -1;
                return dec_r(d, w->branches[v], r, o);
        }
        if (r->kind == PB_T_UNION) {
                for (int exact = 1; exact >= 0; exact--)
                        for (size_t i = 0; i < r->nbranches; i++)
                                if (type_match(w, r->branches[i], exact))
                                        return dec_r(d, w, r->branches[i], o);
                return dfail(d, PB_ERR_INCOMPATIBLE,
                             "writer's %s is not in the reader's union",
                             kind_name(w->kind));
        }
        if (!type_match(w, r, 0))
                return dfail(d, PB_ERR_INCOMPATIBLE,
                             "writer's %s %s cannot be read as %s %s",
                             kind_name(w->kind), w->name ? w->name : "",
                             kind_name(r->kind), r->name ? r->name : "");
        switch (w->kind) {
        case PB_T_INT:
        case PB_T_LONG:
                /* an int reader only for an int writer (type_match) */
                if (w->kind == PB_T_INT ? rd_int(d, &i32) : rd_long(d, &v))
                        return -1;
                if (w->kind == PB_T_INT)
                        v = i32;
                if (r->kind == PB_T_FLOAT)
                        return emit_float(d, (float)v, o);
                if (r->kind == PB_T_DOUBLE)
                        return emit_double(d, (double)v, o);
                return r->kind == PB_T_INT ? emit_int(d, r, i32, o)
                                           : emit_long(d, r, v, o);
        case PB_T_FLOAT:
                if (r->kind == PB_T_DOUBLE) {
                        float f;
                        if (rd_float(d, &f))
                                return -1;
                        return emit_double(d, (double)f, o);
                }
                return dec(d, r, o);
        case PB_T_BYTES:
        case PB_T_STRING:
                if (rd_len(d, "string", &n))
                        return -1;
                d->p += n;
                return emit_bytes(d, r, d->p - n, n, o);
        case PB_T_FIXED:
                if (rd_fixed(d, w->size, "fixed"))
                        return -1;
                d->p += w->size;
                return emit_bytes(d, r, d->p - w->size, w->size, o);
        case PB_T_ENUM: {
                if (rd_long(d, &v) || pb_dec_index(d, w, v, w->nsymbols))
                        return -1;
                const char *sym = w->symbols[v];
                for (size_t i = 0; i < r->nsymbols; i++)
                        if (!strcmp(r->symbols[i], sym))
                                return emit_symbol(d, sym, o);
                if (r->enum_default >= 0 &&
                    (size_t)r->enum_default < r->nsymbols)
                        return emit_symbol(d, r->symbols[r->enum_default], o);
                return dfail(d, PB_ERR_INCOMPATIBLE,
                             "symbol %s is not in the reader's enum %s and "
                             "it has no default",
                             sym, r->name ? r->name : "");
        }
        case PB_T_ARRAY:
                return dec_items(d, w->items, r->items, 0, o);
        case PB_T_MAP:
                return dec_items(d, w->items, r->items, 1, o);
        case PB_T_RECORD:
                return dec_record_r(d, w, r, o, NULL);
        default:
                return dec(d, r, o); /* null, boolean, double */
        }
}

pb_resp_t pb_codec_avro_to_json(pb_codec_t *c, const pb_schema_t *writer,
                                const pb_schema_t *reader, const uint8_t *data,
                                size_t len, pb_buf_t *out,
                                pb_event_meta_t *meta, char *errstr,
                                size_t errstr_size) {
        pb_dec_t d;
        size_t start, oldmax;
        int rc;

        if (errstr && errstr_size)
                errstr[0] = 0;
        if (!c || !writer || !writer->root || !out || (!data && len))
                return PB_ERR_ARG;
        if (reader &&
            (reader == writer || reader->fingerprint == writer->fingerprint))
                reader = NULL;
        if (meta)
                memset(meta, 0, sizeof(*meta));
        pb_dec_start(&d, c, data, len, errstr, errstr_size);
        c->nsegs = 0;
        pb_buf_reset(&c->seg);

        start = out->len;
        oldmax = out->max;
        if (!out->max || out->max - start > PB_CODEC_MAX_JSON_OUT)
                out->max = start + PB_CODEC_MAX_JSON_OUT;

        /* read with its own schema: the compiled plan first; if it gives
         * up, the tree walk below gives the verdict and the message */
        if (!reader) {
                const pb_codec_plan_t *pl = pb_codec_plan_get(c, writer);
                if (pl) {
                        if (!pb_codec_plan_run(c, pl, data, len, out, meta)) {
                                out->max = oldmax;
                                if (out->data)
                                        out->data[out->len] = 0;
                                return PB_OK;
                        }
                        out->len = start;
                        if (meta)
                                memset(meta, 0, sizeof(*meta));
                }
        }

        pb_dec_top_t top = {writer, meta};
        const pb_dec_top_t *tp = meta ? &top : NULL;
        const pb_type_t *w = writer->root;
        if (!reader) {
                rc = w->kind == PB_T_RECORD ? dec_record(&d, w, out, tp)
                                            : dec(&d, w, out);
        } else if (w->kind == PB_T_RECORD &&
                   reader->root->kind == PB_T_RECORD) {
                rc = dec_record_r(&d, w, reader->root, out, tp);
        } else {
                rc = dec_r(&d, w, reader->root, out);
        }
        rc = pb_dec_finish(&d, rc);
        out->max = oldmax;
        if (rc) {
                out->len = start;
                if (out->data)
                        out->data[start] = 0;
                if (meta)
                        memset(meta, 0, sizeof(*meta));
                /* a huge segment buffer is not kept around */
                if (c->seg.cap > (1u << 20))
                        pb_buf_free(&c->seg);
                return d.err != PB_OK ? d.err : PB_ERR_INVALID;
        }
        if (out->data)
                out->data[out->len] = 0;
        return PB_OK;
}

/* --- the readers, for pb_codec_check.c (see pb_codec_dec.h) --- */

int pb_dec_fail(pb_dec_t *d, pb_resp_t code, const char *fmt, ...) {
        char msg[PB_ERRMSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return dfail(d, code, "%s", msg);
}

int pb_dec_bad_index(pb_dec_t *d, const pb_type_t *t, int64_t v) {
        int e = t->kind == PB_T_ENUM;
        return dfail(d, PB_ERR_INVALID, "%s index %lld out of range (%zu %s)",
                     e ? "enum" : "union", (long long)v,
                     e ? t->nsymbols : t->nbranches,
                     e ? "symbols" : "branches");
}

int pb_dec_finish(pb_dec_t *d, int rc) {
        if (rc == 0 && d->p != d->end) {
                d->c->depth = 0;
                rc = dfail(d, PB_ERR_INVALID,
                           "%zu trailing bytes after the record",
                           (size_t)(d->end - d->p));
        }
        return rc;
}

int pb_dec_push(pb_dec_t *d, const char *name, size_t len) {
        return dpush(d, name, len);
}

int pb_dec_skip(pb_dec_t *d, const pb_type_t *t) {
        return skip(d, t);
}

int pb_dec_long(pb_dec_t *d, int64_t *v) {
        return rd_long(d, v);
}

int pb_dec_len(pb_dec_t *d, const char *what, size_t *n) {
        return rd_len(d, what, n);
}

int pb_dec_block(pb_dec_t *d, const pb_type_t *item, size_t extra,
                 int64_t *count) {
        return rd_block(d, item, extra, count);
}

int pb_dec_value(pb_dec_t *d, const pb_type_t *t, pb_buf_t *o) {
        return dec(d, t, o);
}

void pb_dec_meta_take(const pb_schema_t *w, pb_event_meta_t *meta, size_t fi,
                      const pb_type_t *t, const uint8_t *p,
                      const uint8_t *end) {
        pb_dec_top_t top = {w, meta};
        meta_take(&top, fi, t, p, end);
}

int pb_dec_emit_float(pb_dec_t *d, float v, pb_buf_t *o) {
        return emit_float(d, v, o);
}

int pb_dec_emit_double(pb_dec_t *d, double v, pb_buf_t *o) {
        return emit_double(d, v, o);
}

void pb_dec_fmt_date(int64_t days, char *b) {
        fmt_date(days, b);
}

void pb_dec_fmt_instant(int64_t ms, char *b) {
        fmt_instant(ms, b);
}

size_t pb_dec_min_size(const pb_type_t *t) {
        return min_size(t, 0);
}
