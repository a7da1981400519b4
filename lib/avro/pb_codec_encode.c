/* partnerbus - natural JSON -> Avro binary, driven by the compiled schema.
 *
 * The JSON tree (pb_json.c) is walked together with the schema tree; JSON
 * members may come in any order, so a record first gathers its members
 * into one slot per schema field (c->slots, a stack shared by the nested
 * records), then writes the fields in schema order. Every violation adds
 * an error naming the JSON Pointer and the walk goes on, so one call
 * reports all of them (up to PB_ERRORS_MAX); if there was any, `out` is
 * restored to its length on entry. The pointer text is built only when an
 * error is reported (c->path holds the steps). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_codec_int.h"

typedef struct pb_enc {
        pb_codec_t *c;
        pb_buf_t *out;
        pb_errors_t *errs; /* may be NULL: errors only counted */
        size_t nerr;
        pb_resp_t fail; /* PB_ERR_NOMEM / PB_ERR_LIMIT from the buffer */
} pb_enc_t;

static void enc_value(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v);

/* The params of an error (docs/gateway.md, "Error codes"): a JSON object
 * built in a fixed buffer. A member that does not fit is left out whole,
 * so the text is always a complete object. */
typedef struct prm {
        char s[PB_ERRPARAMS_MAX];
        size_t n;
} prm_t;

static void prm_init(prm_t *p) {
        p->s[0] = '{';
        p->n = 1;
}

/* Appends n bytes, keeping room for the closing brace and the NUL. */
static int prm_raw(prm_t *p, const char *s, size_t n) {
        if (p->n + n + 2 > sizeof(p->s))
                return -1;
        memcpy(p->s + p->n, s, n);
        p->n += n;
        return 0;
}

/* s[0..n) as a JSON string: quote, backslash and controls escaped. */
static int prm_esc(prm_t *p, const char *s, size_t n) {
        char u[8];
        if (prm_raw(p, "\"", 1))
                return -1;
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (ch == '"' || ch == '\\') {
                        u[0] = '\\';
                        u[1] = (char)ch;
                        if (prm_raw(p, u, 2))
                                return -1;
                } else if (ch < 0x20) {
                        snprintf(u, sizeof(u), "\\u%04x", ch);
                        if (prm_raw(p, u, 6))
                                return -1;
                } else if (prm_raw(p, s + i, 1)) {
                        return -1;
                }
        }
        return prm_raw(p, "\"", 1);
}

static int prm_key(prm_t *p, const char *k) {
        if (p->n > 1 && prm_raw(p, ",", 1))
                return -1;
        return prm_esc(p, k, strlen(k)) || prm_raw(p, ":", 1) ? -1 : 0;
}

static void prm_int(prm_t *p, const char *k, long long v) {
        char num[24];
        size_t at = p->n;
        int n = snprintf(num, sizeof(num), "%lld", v);
        if (prm_key(p, k) || prm_raw(p, num, (size_t)n))
                p->n = at;
}

static void prm_str(prm_t *p, const char *k, const char *v) {
        size_t at = p->n;
        if (prm_key(p, k) || prm_esc(p, v, strlen(v)))
                p->n = at;
}

static const char *prm_end(prm_t *p) {
        p->s[p->n] = '}';
        p->s[p->n + 1] = 0;
        return p->n > 1 ? p->s : NULL;
}

/* Reports an error of kind `code` at the current path; p (may be NULL)
 * holds its params. */
static void enc_err(pb_enc_t *e, const char *code, prm_t *p, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
static void enc_err(pb_enc_t *e, const char *code, prm_t *p, const char *fmt,
                    ...) {
        char ptr[PB_POINTER_MAX], msg[PB_ERRMSG_MAX];
        va_list ap;

        e->nerr++;
        if (!e->errs)
                return;
        pb_codec_pointer(e->c, e->c->depth, ptr, sizeof(ptr));
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        pb_errors_add_code(e->errs, ptr, code, p ? prm_end(p) : NULL, "%s",
                           msg);
}

/* Path steps; the depth is bounded by the JSON parser's depth limit, and
 * checked here against the path array all the same. */
static int enc_push(pb_enc_t *e, const char *name, size_t len) {
        pb_codec_t *c = e->c;
        if (pb_codec_push(c, (int)(sizeof(c->path) / sizeof(c->path[0])), name,
                          len)) {
                prm_t p;
                prm_init(&p);
                prm_int(&p, "max_depth", PB_CODEC_MAX_DEPTH);
                enc_err(e, "too_deep", &p, "nesting deeper than %d levels",
                        PB_CODEC_MAX_DEPTH);
                return -1;
        }
        return 0;
}

static inline void enc_pop(pb_enc_t *e) {
        e->c->depth--;
}

/* --- output --- */

static inline int enc_need(pb_enc_t *e, size_t n) {
        if (e->out->cap - e->out->len > n)
                return 0;
        pb_resp_t r = pb_buf_reserve(e->out, n);
        if (r != PB_OK) {
                if (e->fail == PB_OK)
                        e->fail = r;
                return -1;
        }
        return 0;
}

static inline void put_long(pb_enc_t *e, int64_t v) {
        if (enc_need(e, 10))
                return;
        e->out->len += pb_zz_encode(e->out->data + e->out->len, v);
}

static inline void put_raw(pb_enc_t *e, const void *p, size_t n) {
        if (enc_need(e, n))
                return;
        if (n)
                memcpy(e->out->data + e->out->len, p, n);
        e->out->len += n;
}

static inline void put_bytes(pb_enc_t *e, const void *p, size_t n) {
        if (enc_need(e, n + 10))
                return;
        uint8_t *o = e->out->data + e->out->len;
        size_t h = pb_zz_encode(o, (int64_t)n);
        if (n)
                memcpy(o + h, p, n);
        e->out->len += h + n;
}

static void put_u32le(pb_enc_t *e, uint32_t u) {
        uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16),
                        (uint8_t)(u >> 24)};
        put_raw(e, b, 4);
}

static void put_u64le(pb_enc_t *e, uint64_t u) {
        uint8_t b[8];
        for (int i = 0; i < 8; i++)
                b[i] = (uint8_t)(u >> (8 * i));
        put_raw(e, b, 8);
}

/* --- messages --- */

/* The value for a message: a string quoted and cut to ~40 bytes (at a
 * character boundary), a number's literal, or the JSON type. */
static const char *show(const pb_json_t *v, char *buf, size_t size) {
        if (v->type == PB_JSON_STRING || v->type == PB_JSON_NUMBER) {
                size_t n = v->len, max = size > 8 ? size - 8 : 0;
                int cut = 0;
                if (n > max) {
                        n = max;
                        while (n > 0 && ((uint8_t)v->str[n] & 0xc0) == 0x80)
                                n--;
                        cut = 1;
                }
                const char *q = v->type == PB_JSON_STRING ? "\"" : "";
                snprintf(buf, size, "%s%.*s%s%s", q, (int)n, v->str,
                         cut ? "..." : "", q);
                return buf;
        }
        return pb_json_type_name(v->type);
}

/* What JSON a type takes, for "expected X, got Y". */
static const char *expect_name(const pb_type_t *t) {
        switch (t->kind) {
        case PB_T_NULL:
                return "null";
        case PB_T_BOOLEAN:
                return "boolean";
        case PB_T_INT:
                if (t->logical == PB_L_DATE)
                        return "string (date YYYY-MM-DD)";
                if (t->logical == PB_L_TIME_MILLIS)
                        return "string (time HH:MM:SS.mmm)";
                return "number (integer)";
        case PB_T_LONG:
                if (t->logical == PB_L_TIMESTAMP_MILLIS ||
                    t->logical == PB_L_TIMESTAMP_MICROS)
                        return "string (RFC 3339 timestamp)";
                return "number (integer)";
        case PB_T_FLOAT:
        case PB_T_DOUBLE:
                return "number";
        case PB_T_STRING:
                return t->logical == PB_L_UUID ? "string (UUID)" : "string";
        case PB_T_BYTES:
        case PB_T_FIXED:
                return t->logical == PB_L_DECIMAL ? "string (decimal)"
                                                  : "string (base64)";
        case PB_T_ENUM:
                return "string (enum symbol)";
        case PB_T_RECORD:
        case PB_T_MAP:
                return "object";
        case PB_T_ARRAY:
                return "array";
        case PB_T_UNION:
                return "union";
        }
        return "?";
}

static void type_err(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        prm_t p;
        prm_init(&p);
        prm_str(&p, "expected", expect_name(t));
        prm_str(&p, "got", pb_json_type_name(v->type));
        enc_err(e, "type_mismatch", &p, "expected %s, got %s", expect_name(t),
                pb_json_type_name(v->type));
}

/* Does the JSON type fit the schema type at all (no value checks)? */
static int json_class_ok(const pb_type_t *t, const pb_json_t *v) {
        switch (t->kind) {
        case PB_T_NULL:
                return v->type == PB_JSON_NULL;
        case PB_T_BOOLEAN:
                return v->type == PB_JSON_TRUE || v->type == PB_JSON_FALSE;
        case PB_T_INT:
                if (t->logical == PB_L_DATE || t->logical == PB_L_TIME_MILLIS)
                        return v->type == PB_JSON_STRING;
                return v->type == PB_JSON_NUMBER;
        case PB_T_LONG:
                if (t->logical == PB_L_TIMESTAMP_MILLIS ||
                    t->logical == PB_L_TIMESTAMP_MICROS)
                        return v->type == PB_JSON_STRING;
                return v->type == PB_JSON_NUMBER;
        case PB_T_FLOAT:
        case PB_T_DOUBLE:
                return v->type == PB_JSON_NUMBER || v->type == PB_JSON_STRING;
        case PB_T_STRING:
        case PB_T_BYTES:
        case PB_T_ENUM:
        case PB_T_FIXED:
                return v->type == PB_JSON_STRING;
        case PB_T_RECORD:
        case PB_T_MAP:
                return v->type == PB_JSON_OBJECT;
        case PB_T_ARRAY:
                return v->type == PB_JSON_ARRAY;
        case PB_T_UNION:
                return 0;
        }
        return 0;
}

/* --- scalars --- */

/* Integer literal to int64: 0, -1 not an integer literal, -2 out of
 * range. The parser guarantees a valid JSON number. */
static int parse_integer(const char *s, size_t n, int64_t *out) {
        size_t i = 0;
        int neg = 0;
        uint64_t m = 0;

        if (i < n && s[i] == '-') {
                neg = 1;
                i++;
        }
        if (i == n)
                return -1;
        for (; i < n; i++) {
                unsigned d = (unsigned)(s[i] - '0');
                if (d > 9)
                        return -1;
                if (m > (UINT64_MAX - d) / 10) {
                        /* keep scanning: "1e5" must say "not an integer" */
                        for (; i < n; i++)
                                if ((unsigned)(s[i] - '0') > 9)
                                        return -1;
                        return -2;
                }
                m = m * 10 + d;
        }
        if (neg) {
                if (m > (uint64_t)INT64_MAX + 1)
                        return -2;
                *out = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
        } else {
                if (m > (uint64_t)INT64_MAX)
                        return -2;
                *out = (int64_t)m;
        }
        return 0;
}

/* "HH:MM:SS" or "HH:MM:SS.f{1,9}" to ms after midnight; 0 / -1. */
static int parse_time_ms(const char *s, size_t n, int32_t *ms) {
        if (n < 8 || s[2] != ':' || s[5] != ':')
                return -1;
        int v[3];
        for (int k = 0; k < 3; k++) {
                char a = s[k * 3], b = s[k * 3 + 1];
                if (a < '0' || a > '9' || b < '0' || b > '9')
                        return -1;
                v[k] = (a - '0') * 10 + (b - '0');
        }
        if (v[0] > 23 || v[1] > 59 || v[2] > 59)
                return -1;
        int frac = 0;
        if (n > 8) {
                if (s[8] != '.' || n == 9 || n > 18)
                        return -1;
                for (size_t i = 9; i < n; i++) {
                        if (s[i] < '0' || s[i] > '9')
                                return -1;
                        if (i < 12)
                                frac = frac * 10 + (s[i] - '0');
                }
                for (size_t i = n; i < 12; i++)
                        frac *= 10;
        }
        *ms = ((v[0] * 60 + v[1]) * 60 + v[2]) * 1000 + frac;
        return 0;
}

/* NUL-terminated copy of a number literal for strtod/strtof; NULL if it
 * does not fit the scratch (4 KiB of digits is no real number). */
static const char *num_cstr(pb_enc_t *e, const pb_json_t *v) {
        pb_codec_t *c = e->c;
        if (v->len < sizeof(c->tmp)) {
                memcpy(c->tmp, v->str, v->len);
                c->tmp[v->len] = 0;
                return (const char *)c->tmp;
        }
        pb_buf_reset(&c->num);
        if (pb_buf_append(&c->num, v->str, v->len) != PB_OK)
                return NULL;
        return (const char *)c->num.data;
}

/* "NaN", "Infinity", "-Infinity" (the decoder's output for non-finite
 * floats); 0 / -1. */
static int special_float(const pb_json_t *v, double *d) {
        if (v->type != PB_JSON_STRING)
                return -1;
        if (v->len == 3 && !memcmp(v->str, "NaN", 3))
                *d = NAN;
        else if (v->len == 8 && !memcmp(v->str, "Infinity", 8))
                *d = INFINITY;
        else if (v->len == 9 && !memcmp(v->str, "-Infinity", 9))
                *d = -INFINITY;
        else
                return -1;
        return 0;
}

static void enc_int(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        char sb[64];
        if (!json_class_ok(t, v)) {
                type_err(e, t, v);
                return;
        }
        if (t->logical == PB_L_DATE) {
                int32_t days;
                if (pb_date_parse(v->str, v->len, &days) != 0) {
                        enc_err(e, "date_invalid", NULL,
                                "expected a date YYYY-MM-DD, got %s",
                                show(v, sb, sizeof(sb)));
                        return;
                }
                put_long(e, days);
                return;
        }
        if (t->logical == PB_L_TIME_MILLIS) {
                int32_t ms;
                if (parse_time_ms(v->str, v->len, &ms) != 0) {
                        enc_err(e, "time_invalid", NULL,
                                "expected a time HH:MM:SS.mmm, got %s",
                                show(v, sb, sizeof(sb)));
                        return;
                }
                put_long(e, ms);
                return;
        }
        int64_t x;
        int r = parse_integer(v->str, v->len, &x);
        if (r == -1) {
                enc_err(e, "integer_invalid", NULL,
                        "expected an integer, got %s", show(v, sb, sizeof(sb)));
                return;
        }
        if (r == -2 || x < INT32_MIN || x > INT32_MAX) {
                prm_t p;
                prm_init(&p);
                prm_str(&p, "min", "-2147483648");
                prm_str(&p, "max", "2147483647");
                enc_err(e, "integer_range", &p,
                        "expected an int (-2147483648..2147483647), got %s",
                        show(v, sb, sizeof(sb)));
                return;
        }
        put_long(e, x);
}

static void enc_long(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        char sb[64];
        int64_t x;
        if (!json_class_ok(t, v)) {
                type_err(e, t, v);
                return;
        }
        if (t->logical == PB_L_TIMESTAMP_MILLIS ||
            t->logical == PB_L_TIMESTAMP_MICROS) {
                if (pb_rfc3339_parse(v->str, v->len, &x) != 0) {
                        enc_err(e, "timestamp_invalid", NULL,
                                "expected an RFC 3339 timestamp "
                                "(2023-02-28T10:00:00Z), got %s",
                                show(v, sb, sizeof(sb)));
                        return;
                }
                e->c->last_long = x;
                if (t->logical == PB_L_TIMESTAMP_MICROS) {
                        if (x > INT64_MAX / 1000 || x < INT64_MIN / 1000) {
                                enc_err(e, "timestamp_range", NULL,
                                        "timestamp out of range");
                                return;
                        }
                        x *= 1000;
                }
                put_long(e, x);
                return;
        }
        int r = parse_integer(v->str, v->len, &x);
        if (r == -1) {
                enc_err(e, "integer_invalid", NULL,
                        "expected an integer, got %s", show(v, sb, sizeof(sb)));
                return;
        }
        if (r == -2) {
                prm_t p;
                prm_init(&p);
                prm_str(&p, "min", "-9223372036854775808");
                prm_str(&p, "max", "9223372036854775807");
                enc_err(e, "integer_range", &p,
                        "expected a long (64-bit integer), got %s",
                        show(v, sb, sizeof(sb)));
                return;
        }
        e->c->last_long = x;
        put_long(e, x);
}

static void enc_real(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        char sb[64];
        double d;
        float f;
        if (v->type == PB_JSON_STRING) {
                if (special_float(v, &d) != 0) {
                        enc_err(e, "number_invalid", NULL,
                                "expected a number (or \"NaN\", "
                                "\"Infinity\", \"-Infinity\"), got %s",
                                show(v, sb, sizeof(sb)));
                        return;
                }
                f = (float)d;
        } else if (v->type == PB_JSON_NUMBER) {
                const char *s = num_cstr(e, v);
                if (!s) {
                        enc_err(e, "number_too_long", NULL,
                                "number literal too long");
                        return;
                }
                errno = 0;
                if (t->kind == PB_T_FLOAT) {
                        f = strtof(s, NULL);
                        d = f;
                } else {
                        d = strtod(s, NULL);
                        f = 0;
                }
                if (isinf(d)) {
                        prm_t p;
                        prm_init(&p);
                        prm_str(&p, "type",
                                t->kind == PB_T_FLOAT ? "float" : "double");
                        enc_err(e, "number_range", &p, "%s out of range for %s",
                                show(v, sb, sizeof(sb)),
                                t->kind == PB_T_FLOAT ? "float" : "double");
                        return;
                }
        } else {
                type_err(e, t, v);
                return;
        }
        if (t->kind == PB_T_FLOAT) {
                uint32_t u;
                memcpy(&u, &f, 4);
                put_u32le(e, u);
        } else {
                uint64_t u;
                memcpy(&u, &d, 8);
                put_u64le(e, u);
        }
}

/* Decimal string to its two's-complement bytes (n returned), or -1 with an
 * error reported. */
static int enc_decimal_bytes(pb_enc_t *e, const pb_type_t *t,
                             const pb_json_t *v, uint8_t b[32]) {
        const char *why = "not a decimal number";
        char sb[64];
        int n =
            pb_decimal_parse(v->str, v->len, t->precision, t->scale, b, &why);
        if (n < 0) {
                /* the reason as a code: too many integer digits, too many
                 * fraction digits, or no decimal number at all */
                const char *code = "decimal_invalid";
                prm_t p;
                if (!why)
                        why = "not a decimal number";
                prm_init(&p);
                prm_int(&p, "precision", t->precision);
                prm_int(&p, "scale", t->scale);
                if (strstr(why, "integer digits")) {
                        code = "decimal_integer_digits";
                        prm_int(&p, "max_integer_digits",
                                t->precision - t->scale);
                } else if (strstr(why, "fraction digits")) {
                        code = "decimal_fraction_digits";
                }
                enc_err(e, code, &p,
                        "invalid decimal %s (precision %d, scale %d): %s",
                        show(v, sb, sizeof(sb)), t->precision, t->scale, why);
        }
        return n;
}

/* Writes the two's-complement bytes b[0..n) of decimal v as type t:
 * bytes with their length, or fixed sign-extended to t->size (an error if
 * longer). Shared by enc_bytes, enc_fixed and enc_union (which parsed the
 * decimal already to pick the branch). */
static void put_decimal(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v,
                        const uint8_t *b, int n) {
        char sb[64];
        if (t->kind == PB_T_BYTES) {
                put_bytes(e, b, (size_t)n);
                return;
        }
        if ((size_t)n > t->size) {
                prm_t p;
                prm_init(&p);
                prm_int(&p, "bytes", (long long)t->size);
                enc_err(e, "decimal_too_large", &p,
                        "decimal %s does not fit in %zu bytes",
                        show(v, sb, sizeof(sb)), t->size);
                return;
        }
        if (enc_need(e, t->size))
                return;
        uint8_t *o = e->out->data + e->out->len;
        uint8_t fill = n > 0 && (b[0] & 0x80) ? 0xff : 0;
        memset(o, fill, t->size - (size_t)n);
        memcpy(o + t->size - (size_t)n, b, (size_t)n);
        e->out->len += t->size;
}

/* What bytes and fixed share: the JSON value must be a string, and a
 * decimal is written from its text. 1 when v is dealt with (written or an
 * error reported), 0 when the caller writes it as base64. */
static int enc_binary_common(pb_enc_t *e, const pb_type_t *t,
                             const pb_json_t *v) {
        if (v->type != PB_JSON_STRING) {
                type_err(e, t, v);
                return 1;
        }
        if (t->logical == PB_L_DECIMAL) {
                uint8_t b[32];
                int n = enc_decimal_bytes(e, t, v, b);
                if (n >= 0)
                        put_decimal(e, t, v, b, n);
                return 1;
        }
        return 0;
}

static void enc_bytes(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        char sb[64];
        if (enc_binary_common(e, t, v))
                return;
        /* base64 straight into out after room for the length prefix */
        size_t max = v->len / 4 * 3 + 3;
        if (enc_need(e, max + 10))
                return;
        uint8_t *o = e->out->data + e->out->len;
        long n = pb_base64_decode(v->str, v->len, o + 10, max);
        if (n < 0) {
                enc_err(e, "base64_invalid", NULL,
                        "expected base64 (RFC 4648), got %s",
                        show(v, sb, sizeof(sb)));
                return;
        }
        size_t h = pb_zz_encode(o, n);
        memmove(o + h, o + 10, (size_t)n);
        e->out->len += h + (size_t)n;
}

static void enc_fixed(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        char sb[64];
        if (enc_binary_common(e, t, v))
                return;
        size_t max = v->len / 4 * 3 + 3;
        if (max < t->size)
                max = t->size;
        if (enc_need(e, max))
                return;
        uint8_t *o = e->out->data + e->out->len;
        long n = pb_base64_decode(v->str, v->len, o, max);
        if (n < 0 || (size_t)n != t->size) {
                prm_t p;
                prm_init(&p);
                prm_int(&p, "bytes", (long long)t->size);
                enc_err(e, "base64_size", &p,
                        "expected base64 of exactly %zu bytes, got %s", t->size,
                        show(v, sb, sizeof(sb)));
                return;
        }
        e->out->len += t->size;
}

static void enc_string(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        char sb[64];
        if (v->type != PB_JSON_STRING) {
                type_err(e, t, v);
                return;
        }
        if (t->logical == PB_L_UUID && !pb_uuid_valid(v->str, v->len)) {
                enc_err(e, "uuid_invalid", NULL,
                        "expected a UUID (8-4-4-4-12 hex digits), got %s",
                        show(v, sb, sizeof(sb)));
                return;
        }
        put_bytes(e, v->str, v->len);
}

/* Symbol index of s[0..n), or -1. One pass per symbol, no strlen: the
 * loop stops at the symbol's NUL, so sym[n] is read only when sym[0..n)
 * are all non-NUL (then sym has at least n + 1 bytes). */
static int enum_index(const pb_type_t *t, const char *s, size_t n) {
        for (size_t i = 0; i < t->nsymbols; i++) {
                const char *sym = t->symbols[i];
                size_t k = 0;
                while (k < n && sym[k] && sym[k] == s[k])
                        k++;
                if (k == n && sym[n] == 0)
                        return (int)i;
        }
        return -1;
}

static void enc_enum(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        char list[200], sb[64];
        if (v->type != PB_JSON_STRING) {
                type_err(e, t, v);
                return;
        }
        int i = v->len ? enum_index(t, v->str, v->len) : -1;
        if (i >= 0) {
                put_long(e, i);
                return;
        }
        size_t o = 0;
        list[0] = 0;
        for (size_t k = 0; k < t->nsymbols; k++) {
                size_t sl = strlen(t->symbols[k]);
                if (o + sl + 8 >= sizeof(list)) {
                        snprintf(list + o, sizeof(list) - o, ", ...");
                        break;
                }
                o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
                                      k ? ", " : "", t->symbols[k]);
        }
        /* params: the symbols that fit, "more": true if not all did */
        prm_t p;
        size_t at;
        prm_init(&p);
        if (prm_key(&p, "allowed") || prm_raw(&p, "[", 1)) {
                p.n = 1;
        } else {
                size_t k;
                for (k = 0; k < t->nsymbols; k++) {
                        at = p.n;
                        /* room for "]" and a ',"more":true' after it */
                        if ((k && prm_raw(&p, ",", 1)) ||
                            prm_esc(&p, t->symbols[k], strlen(t->symbols[k])) ||
                            p.n + 14 + 2 > sizeof(p.s)) {
                                p.n = at;
                                break;
                        }
                }
                prm_raw(&p, "]", 1);
                if (k < t->nsymbols)
                        prm_raw(&p, ",\"more\":true", 12);
        }
        enc_err(e, "enum_unknown", &p, "expected one of %s, got %s", list,
                show(v, sb, sizeof(sb)));
}

/* --- containers --- */

static void enc_array(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        if (v->type != PB_JSON_ARRAY) {
                type_err(e, t, v);
                return;
        }
        if (v->count) {
                put_long(e, (int64_t)v->count);
                size_t i = 0;
                for (const pb_json_t *it = v->child; it; it = it->next, i++) {
                        if (enc_push(e, NULL, i))
                                return;
                        enc_value(e, t->items, it);
                        enc_pop(e);
                }
        }
        put_long(e, 0);
}

static void enc_map(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        if (v->type != PB_JSON_OBJECT) {
                type_err(e, t, v);
                return;
        }
        if (v->count) {
                put_long(e, (int64_t)v->count);
                for (const pb_json_t *m = v->child; m; m = m->next) {
                        put_bytes(e, m->key, m->keylen);
                        if (enc_push(e, m->key, m->keylen))
                                return;
                        enc_value(e, t->items, m);
                        enc_pop(e);
                }
        }
        put_long(e, 0);
}

/* Value checks beyond the JSON type for picking a union branch: the first
 * branch the value fits is taken. Records, maps, arrays, bytes and fixed
 * fit on the JSON type alone (their errors are then reported inside). */
static int fits(const pb_type_t *t, const pb_json_t *v) {
        int64_t x;
        int32_t d32;
        double d;
        uint8_t b[32];
        const char *why;

        if (!json_class_ok(t, v))
                return 0;
        switch (t->kind) {
        case PB_T_INT:
                if (t->logical == PB_L_DATE)
                        return pb_date_parse(v->str, v->len, &d32) == 0;
                if (t->logical == PB_L_TIME_MILLIS)
                        return parse_time_ms(v->str, v->len, &d32) == 0;
                return parse_integer(v->str, v->len, &x) == 0 &&
                       x >= INT32_MIN && x <= INT32_MAX;
        case PB_T_LONG:
                if (v->type == PB_JSON_STRING)
                        return pb_rfc3339_parse(v->str, v->len, &x) == 0;
                return parse_integer(v->str, v->len, &x) == 0;
        case PB_T_FLOAT:
        case PB_T_DOUBLE:
                return v->type == PB_JSON_NUMBER || special_float(v, &d) == 0;
        case PB_T_STRING:
                return t->logical != PB_L_UUID || pb_uuid_valid(v->str, v->len);
        case PB_T_ENUM:
                return v->len && enum_index(t, v->str, v->len) >= 0;
        case PB_T_BYTES:
        case PB_T_FIXED:
                if (t->logical == PB_L_DECIMAL)
                        return pb_decimal_parse(v->str, v->len, t->precision,
                                                t->scale, b, &why) >= 0;
                return 1;
        default:
                return 1;
        }
}

static void enc_union(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        if (v->type == PB_JSON_NULL && t->null_branch >= 0) {
                put_long(e, t->null_branch);
                return;
        }
        for (size_t i = 0; i < t->nbranches; i++) {
                const pb_type_t *b = t->branches[i];
                if (b->logical == PB_L_DECIMAL &&
                    (b->kind == PB_T_BYTES || b->kind == PB_T_FIXED)) {
                        /* what fits() checks, keeping the bytes so the
                         * decimal is not parsed a second time */
                        uint8_t d[32];
                        const char *why;
                        int n;
                        if (v->type != PB_JSON_STRING)
                                continue;
                        n = pb_decimal_parse(v->str, v->len, b->precision,
                                             b->scale, d, &why);
                        if (n < 0)
                                continue;
                        put_long(e, (int64_t)i);
                        put_decimal(e, b, v, d, n);
                        return;
                }
                if (fits(b, v)) {
                        put_long(e, (int64_t)i);
                        enc_value(e, b, v);
                        return;
                }
        }
        /* No branch takes the value: report the detailed error of the
         * first branch of the right JSON type ("more than 2 fraction
         * digits" says more than "expected null or string"). */
        for (size_t i = 0; i < t->nbranches; i++) {
                if (json_class_ok(t->branches[i], v)) {
                        enc_value(e, t->branches[i], v);
                        return;
                }
        }
        char list[160];
        size_t o = 0;
        list[0] = 0;
        for (size_t i = 0; i < t->nbranches && o < sizeof(list); i++)
                o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
                                      i ? " or " : "",
                                      expect_name(t->branches[i]));
        prm_t p;
        prm_init(&p);
        prm_str(&p, "expected", list);
        prm_str(&p, "got", pb_json_type_name(v->type));
        enc_err(e, "type_mismatch", &p, "expected %s, got %s", list,
                pb_json_type_name(v->type));
}

/* --- records --- */

/* The top-level record's context: schema and options for the common
 * fields, meta to fill. NULL below the top. */
typedef struct pb_enc_top {
        const pb_schema_t *s;
        const pb_encode_opts_t *opts;
        pb_event_meta_t *meta;
} pb_enc_top_t;

static void copy_str(char *dst, size_t size, const char *s, size_t n) {
        if (n >= size)
                n = size - 1;
        memcpy(dst, s, n);
        dst[n] = 0;
}

/* The Kafka key is the key field's text as it is: a control character
 * (an escaped NUL cut it short) or a value longer than the key buffer
 * would make a key other than the value, one that may collide with
 * another entity's. Such a value is refused at its pointer. */
static int key_ok(pb_enc_t *e, const pb_json_t *m) {
        size_t i;
        if (m->len >= sizeof(((pb_event_meta_t *)0)->key)) {
                prm_t p;
                prm_init(&p);
                prm_int(&p, "max_bytes",
                        (long long)sizeof(((pb_event_meta_t *)0)->key) - 1);
                enc_err(e, "key_too_long", &p,
                        "too long for the event's key (at most %zu bytes)",
                        sizeof(((pb_event_meta_t *)0)->key) - 1);
                return 0;
        }
        for (i = 0; i < m->len; i++)
                if ((unsigned char)m->str[i] < 0x20 || m->str[i] == 0x7f) {
                        enc_err(e, "key_control", NULL,
                                "the event's key must not contain control "
                                "characters");
                        return 0;
                }
        return 1;
}

static void enc_record(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v,
                       const pb_enc_top_t *top) {
        pb_codec_t *c = e->c;
        size_t nf = t->nfields, base, hint = 0;

        if (v->type != PB_JSON_OBJECT) {
                type_err(e, t, v);
                return;
        }
        if (pb_codec_slots_reserve(c, nf)) {
                if (e->fail == PB_OK)
                        e->fail = PB_ERR_NOMEM;
                return;
        }
        base = c->nslots;
        c->nslots += nf;
        for (size_t i = 0; i < nf; i++)
                c->slots[base + i] = NULL;

        for (const pb_json_t *m = v->child; m; m = m->next) {
                int idx = m->keylen ? pb_codec_field_lookup(t, hint, m->key,
                                                            m->keylen)
                                    : -1;
                if (idx < 0) {
                        if (enc_push(e, m->key, m->keylen) == 0) {
                                enc_err(e, "unknown_field", NULL,
                                        "unknown field");
                                enc_pop(e);
                        }
                        continue;
                }
                c->slots[base + (size_t)idx] = m;
                hint = (size_t)idx + 1;
        }

        for (size_t i = 0; i < nf; i++) {
                const pb_field_t *f = &t->fields[i];
                const pb_json_t *m = c->slots[base + i];
                pb_json_t synth;
                char sbuf[40];

                if (enc_push(e, f->name, f->namelen))
                        break;
                if (top) {
                        const pb_encode_opts_t *o = top->opts;
                        int fi = (int)i;
                        if (o && fi == top->s->idx_source && o->force_source) {
                                size_t fl = strlen(o->force_source);
                                if (!m) {
                                        memset(&synth, 0, sizeof(synth));
                                        synth.type = PB_JSON_STRING;
                                        synth.str = o->force_source;
                                        synth.len = fl;
                                        m = &synth;
                                } else if (m->type == PB_JSON_STRING &&
                                           (m->len != fl ||
                                            memcmp(m->str, o->force_source,
                                                   fl))) {
                                        prm_t p;
                                        prm_init(&p);
                                        prm_str(&p, "organisation",
                                                o->force_source);
                                        enc_err(e, "source_mismatch", &p,
                                                "must be the authenticated "
                                                "organisation '%s'",
                                                o->force_source);
                                        enc_pop(e);
                                        continue;
                                }
                        } else if (o && !m && fi == top->s->idx_event_id &&
                                   o->fill_event_id) {
                                pb_uuid_v4(sbuf);
                                memset(&synth, 0, sizeof(synth));
                                synth.type = PB_JSON_STRING;
                                synth.str = sbuf;
                                synth.len = strlen(sbuf);
                                m = &synth;
                        } else if (o && !m && fi == top->s->idx_occurred_at &&
                                   o->fill_occurred_at &&
                                   f->type->kind == PB_T_LONG) {
                                int64_t now = pb_now_ms();
                                c->last_long = now;
                                put_long(e, f->type->logical ==
                                                    PB_L_TIMESTAMP_MICROS
                                                ? now * 1000
                                                : now);
                                if (top->meta)
                                        top->meta->occurred_at_ms = now;
                                enc_pop(e);
                                continue;
                        }
                        if (top->meta && m) {
                                pb_event_meta_t *mt = top->meta;
                                if (fi == top->s->idx_event_id &&
                                    m->type == PB_JSON_STRING)
                                        copy_str(mt->event_id,
                                                 sizeof(mt->event_id), m->str,
                                                 m->len);
                                if (fi == top->s->idx_source &&
                                    m->type == PB_JSON_STRING)
                                        copy_str(mt->source, sizeof(mt->source),
                                                 m->str, m->len);
                                if (fi == top->s->key_index &&
                                    (m->type == PB_JSON_STRING ||
                                     m->type == PB_JSON_NUMBER) &&
                                    key_ok(e, m)) {
                                        copy_str(mt->key, sizeof(mt->key),
                                                 m->str, m->len);
                                        mt->key_len = m->len;
                                }
                                if (fi == top->s->idx_occurred_at) {
                                        c->last_long = 0;
                                        enc_value(e, f->type, m);
                                        mt->occurred_at_ms = c->last_long;
                                        enc_pop(e);
                                        continue;
                                }
                        }
                }
                if (m)
                        enc_value(e, f->type, m);
                else if (f->has_default)
                        put_raw(e, f->default_avro, f->default_avro_len);
                else if (f->type->kind == PB_T_UNION &&
                         f->type->null_branch >= 0)
                        put_long(e, f->type->null_branch);
                else
                        enc_err(e, "required_missing", NULL,
                                "required field missing");
                enc_pop(e);
        }
        c->nslots = base;
}

static void enc_value(pb_enc_t *e, const pb_type_t *t, const pb_json_t *v) {
        switch (t->kind) {
        case PB_T_NULL:
                if (v->type != PB_JSON_NULL)
                        type_err(e, t, v);
                return;
        case PB_T_BOOLEAN:
                if (v->type == PB_JSON_TRUE || v->type == PB_JSON_FALSE) {
                        if (enc_need(e, 1) == 0)
                                e->out->data[e->out->len++] =
                                    v->type == PB_JSON_TRUE;
                } else {
                        type_err(e, t, v);
                }
                return;
        case PB_T_INT:
                enc_int(e, t, v);
                return;
        case PB_T_LONG:
                enc_long(e, t, v);
                return;
        case PB_T_FLOAT:
        case PB_T_DOUBLE:
                enc_real(e, t, v);
                return;
        case PB_T_BYTES:
                enc_bytes(e, t, v);
                return;
        case PB_T_STRING:
                enc_string(e, t, v);
                return;
        case PB_T_RECORD:
                enc_record(e, t, v, NULL);
                return;
        case PB_T_ENUM:
                enc_enum(e, t, v);
                return;
        case PB_T_ARRAY:
                enc_array(e, t, v);
                return;
        case PB_T_MAP:
                enc_map(e, t, v);
                return;
        case PB_T_UNION:
                enc_union(e, t, v);
                return;
        case PB_T_FIXED:
                enc_fixed(e, t, v);
                return;
        }
}

int pb_codec_enc_scalar(pb_codec_t *c, const pb_type_t *t, const pb_json_t *v,
                        pb_buf_t *out) {
        pb_enc_t e = {c, out, NULL, 0, PB_OK};
        enc_value(&e, t, v);
        return e.nerr || e.fail != PB_OK ? -1 : 0;
}

pb_resp_t pb_codec_value_to_avro(pb_codec_t *c, const pb_schema_t *s,
                                 const pb_json_t *value,
                                 const pb_encode_opts_t *opts, pb_buf_t *out,
                                 pb_event_meta_t *meta, pb_errors_t *errs) {
        pb_enc_t e;
        size_t start;

        if (!c || !s || !s->root || !value || !out)
                return PB_ERR_ARG;
        if (meta)
                memset(meta, 0, sizeof(*meta));
        start = out->len;
        e.c = c;
        e.out = out;
        e.errs = errs;
        e.nerr = 0;
        e.fail = PB_OK;
        c->depth = 0;
        c->nslots = 0;
        if (s->root->kind == PB_T_RECORD) {
                pb_enc_top_t top = {s, opts, meta};
                enc_record(&e, s->root, value, &top);
        } else {
                enc_value(&e, s->root, value);
        }
        if (e.nerr || e.fail != PB_OK) {
                out->len = start;
                if (out->data)
                        out->data[start] = 0;
                return e.nerr ? PB_ERR_INVALID : e.fail;
        }
        if (out->data)
                out->data[out->len] = 0;
        return PB_OK;
}

/* After a failed parse: the JSON Pointer of the first string holding
 * invalid UTF-8, so that error names the member like every other (other
 * syntax errors stay at ""). A tolerant scan of the raw text; 0 if found. */
static int utf8_error_pointer(const char *text, size_t len, char *ptr,
                              size_t size) {
        struct {
                int obj;
                const char *key;
                size_t keylen, idx;
        } st[PB_CODEC_MAX_DEPTH];
        int sp = 0, expect_key = 0;

        for (size_t i = 0; i < len; i++) {
                char ch = text[i];
                if (ch == '{' || ch == '[') {
                        if (sp == PB_CODEC_MAX_DEPTH)
                                return -1;
                        st[sp].obj = ch == '{';
                        st[sp].key = NULL;
                        st[sp].keylen = 0;
                        st[sp].idx = 0;
                        sp++;
                        expect_key = ch == '{';
                } else if (ch == '}' || ch == ']') {
                        if (sp == 0)
                                return -1;
                        sp--;
                        expect_key = 0;
                } else if (ch == ',') {
                        if (sp && st[sp - 1].obj)
                                expect_key = 1;
                        else if (sp)
                                st[sp - 1].idx++;
                } else if (ch == ':') {
                        expect_key = 0;
                } else if (ch == '"') {
                        size_t j = i + 1;
                        while (j < len && text[j] != '"')
                                j += text[j] == '\\' ? 2 : 1;
                        if (j > len)
                                j = len;
                        int is_key = sp && st[sp - 1].obj && expect_key;
                        if (!pb_utf8_valid(text + i + 1, j - i - 1)) {
                                int upto = is_key ? sp - 1 : sp;
                                ptr[0] = 0;
                                for (int k = 0; k < upto; k++) {
                                        if (st[k].obj && st[k].key)
                                                pb_pointer_push(ptr, size,
                                                                st[k].key,
                                                                st[k].keylen);
                                        else if (!st[k].obj)
                                                pb_pointer_push_index(
                                                    ptr, size, st[k].idx);
                                }
                                return 0;
                        }
                        if (is_key) {
                                st[sp - 1].key = text + i + 1;
                                st[sp - 1].keylen = j - i - 1;
                        }
                        i = j;
                }
        }
        return -1;
}

pb_resp_t pb_codec_json_to_avro(pb_codec_t *c, const pb_schema_t *s,
                                const char *json, size_t len,
                                const pb_encode_opts_t *opts, pb_buf_t *out,
                                pb_event_meta_t *meta, pb_errors_t *errs) {
        char errstr[PB_ERRMSG_MAX];
        const pb_json_t *v;

        if (!c || !s || !json || !out)
                return PB_ERR_ARG;
        if (pb_codec_json_to_avro_fast(c, s, NULL, json, len, opts, out, meta))
                return PB_OK;
        v = pb_json_parse(c->parser, json, len, errstr, sizeof(errstr));
        if (!v) {
                if (meta)
                        memset(meta, 0, sizeof(*meta));
                pb_codec_parse_error(json, len, errstr, errs);
                return PB_ERR_PARSE;
        }
        return pb_codec_value_to_avro(c, s, v, opts, out, meta, errs);
}

void pb_codec_parse_error(const char *json, size_t len, const char *errstr,
                          pb_errors_t *errs) {
        char ptr[PB_POINTER_MAX] = "";
        if (!errs)
                return;
        if (!json || utf8_error_pointer(json, len, ptr, sizeof(ptr)))
                ptr[0] = 0;
        pb_errors_add_code(errs, ptr, "json_invalid", NULL, "%s", errstr);
}
