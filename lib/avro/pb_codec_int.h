/* partnerbus - internals of the codec shared by pb_codec.c (scratch,
 * new/destroy, path and buffer helpers, string output), pb_codec_encode.c,
 * pb_codec_decode.c, pb_codec_plan.c and pb_codec_check.c. Not a public
 * header. */
#ifndef PB_CODEC_INT_H
#define PB_CODEC_INT_H

#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_schema_int.h"

/* One step of the path to the value being worked on: a member name or an
 * array index. The JSON Pointer text is only built when an error is
 * reported, so the hot path just stores two words per level. */
typedef struct pb_path_step {
        const char *name; /* NULL: index step */
        size_t len;       /* name length, or the index */
} pb_path_step_t;

/* Cached field mapping of a writer record onto a reader record. */
typedef struct pb_rmap {
        const pb_type_t *w, *r;
        size_t nw, nr; /* field counts, checked on every lookup */
        int *w2r;      /* per writer field: reader field index or -1 */
        int *r_from_w; /* per reader field: 1 if some writer field maps */
        char err[PB_ERRMSG_MAX]; /* non-empty: the records cannot resolve */
} pb_rmap_t;

#define PB_CODEC_RMAP_MAX 64
/* Decode plans kept per codec (pb_codec_plan.c), one per writer schema. */
#define PB_CODEC_PLANS 16

typedef struct pb_codec_plan pb_codec_plan_t;

typedef struct pb_codec_plan_slot {
        const pb_schema_t *w;
        uint64_t serial;       /* w's: an address can be reused, a serial not */
        pb_codec_plan_t *plan; /* NULL: the schema has none */
} pb_codec_plan_slot_t;
/* Items of a zero-size type (null, empty record) one decode may read. */
#define PB_CODEC_MAX_ZERO_ITEMS 1000000

struct pb_codec {
        pb_json_parser_t *parser;
        /* encoder: per-record member slots, used as a stack */
        const pb_json_t **slots;
        size_t nslots, capslots;
        /* path stack (depth <= PB_CODEC_MAX_DEPTH + a few) */
        pb_path_step_t path[PB_CODEC_MAX_DEPTH + 8];
        int depth;
        /* encoder: last long written at the top level (meta) */
        int64_t last_long;
        /* decoder: scratch for resolved records' fields, used as a stack */
        pb_buf_t seg;
        size_t *segs; /* (offset, length) pairs */
        size_t nsegs, capsegs;
        pb_rmap_t rmaps[PB_CODEC_RMAP_MAX];
        size_t nrmaps;
        pb_codec_plan_slot_t plans[PB_CODEC_PLANS];
        size_t nplans, plan_evict;
        int plans_off; /* pb_codec_set_plans(c, 0) */
        /* decode plans: the last date and minute formatted, their text
         * (INT64_MIN: none yet) */
        int64_t fmt_day, fmt_min;
        char fmt_day_text[10], fmt_min_text[24];
        uint8_t tmp[96];
        pb_buf_t num; /* numbers too long for tmp, NUL-terminated */
        /* one-pass encoder (pb_codec_fast.c): on unless pb_codec_set_fast
         * turned it off; decoded escaped strings, a record's members while
         * they are put in schema order, per-field output spans (a stack) */
        int fast_off;
        pb_buf_t fesc, frec;
        size_t *fspan;
        size_t nfspan, capfspan;
};

/* The decode plan of writer schema w (compiled on first use), or NULL when
 * w has none or plans are off: then the tree walk decodes. */
const pb_codec_plan_t *pb_codec_plan_get(pb_codec_t *c, const pb_schema_t *w);
/* Runs plan pl over data[0..len), appending JSON to out and filling meta
 * (may be NULL) like the tree walk with reader == writer. 0, or -1 at the
 * first bound or value the tree walk would refuse (or any other doubt):
 * then out and meta hold partial results for the caller to undo. */
int pb_codec_plan_run(pb_codec_t *c, const pb_codec_plan_t *pl,
                      const uint8_t *data, size_t len, pb_buf_t *out,
                      pb_event_meta_t *meta);
/* The same walk writing nothing, for pb_codec_check(): 0 when the decoder
 * would accept the body (meta filled), -1 when the tree walk must decide
 * (a refused value, or JSON that might come near PB_CODEC_MAX_JSON_OUT). */
int pb_codec_plan_check(pb_codec_t *c, const pb_codec_plan_t *pl,
                        const uint8_t *data, size_t len, pb_event_meta_t *meta);
/* The same checks over the envelope alone: the top-level members up to the
 * last one that goes into meta (event_id, occurred_at, source, the key
 * field), the rest of the body not read. 0 (meta filled), or -1: that
 * part would be refused, or the tree walk must decide. */
int pb_codec_plan_check_envelope(pb_codec_t *c, const pb_codec_plan_t *pl,
                                 const uint8_t *data, size_t len,
                                 pb_event_meta_t *meta);
void pb_codec_plans_clear(pb_codec_t *c);

/* a[0..n) == b[0..n) for short names without a call: for n in 4..16 two
 * overlapping loads per side (4 or 8 bytes, at the start and ending at n)
 * cover exactly the n bytes; shorter names byte by byte, longer ones with
 * memcmp. Reads only inside both ranges. */
static inline int pb_codec_name_eq(const char *a, const char *b, size_t n) {
        if (n >= 8 && n <= 16) {
                uint64_t a0, a1, b0, b1;
                memcpy(&a0, a, 8);
                memcpy(&b0, b, 8);
                memcpy(&a1, a + n - 8, 8);
                memcpy(&b1, b + n - 8, 8);
                return ((a0 ^ b0) | (a1 ^ b1)) == 0;
        }
        if (n >= 4 && n < 8) {
                uint32_t a0, a1, b0, b1;
                memcpy(&a0, a, 4);
                memcpy(&b0, b, 4);
                memcpy(&a1, a + n - 4, 4);
                memcpy(&b1, b + n - 4, 4);
                return ((a0 ^ b0) | (a1 ^ b1)) == 0;
        }
        if (n < 4) {
                for (size_t i = 0; i < n; i++)
                        if (a[i] != b[i])
                                return 0;
                return 1;
        }
        return memcmp(a, b, n) == 0;
}

/* Field index by name: the expected next field first (members usually
 * come in schema order), then a scan comparing lengths first. */
static inline int pb_codec_field_lookup(const pb_type_t *t, size_t hint,
                                        const char *k, size_t kl) {
        if (hint < t->nfields && t->fields[hint].namelen == kl &&
            pb_codec_name_eq(t->fields[hint].name, k, kl))
                return (int)hint;
        for (size_t i = 0; i < t->nfields; i++)
                if (t->fields[i].namelen == kl &&
                    pb_codec_name_eq(t->fields[i].name, k, kl))
                        return (int)i;
        return -1;
}

/* For the one-pass encoder (pb_codec_fast.c): the tree walk's encoding of
 * the scalar JSON value v (never an object or array) as type t, appended
 * to out without error texts; 0, or -1 where the tree walk reports an
 * error (or out cannot grow). */
int pb_codec_enc_scalar(pb_codec_t *c, const pb_type_t *t, const pb_json_t *v,
                        pb_buf_t *out);

/* Builds the JSON Pointer of path[0..depth) into ptr. */
void pb_codec_pointer(const pb_codec_t *c, int depth, char *ptr, size_t size);

/* Grows the slot stack to hold `n` more entries. 0 / -1 (ENOMEM). */
int pb_codec_slots_reserve(pb_codec_t *c, size_t n);
int pb_codec_segs_reserve(pb_codec_t *c, size_t n);
/* Empties the writer->reader mapping cache (when full). */
void pb_codec_rmaps_reset(pb_codec_t *c);

/* Enters a member (name) or array item (name NULL, len = index) unless
 * the path is max steps deep already: 0, or -1 (nothing entered). */
static inline int pb_codec_push(pb_codec_t *c, int max, const char *name,
                                size_t len) {
        if (c->depth >= max)
                return -1;
        c->path[c->depth].name = name;
        c->path[c->depth].len = len;
        c->depth++;
        return 0;
}

/* Ensures room for n bytes (plus NUL) at the end of b. */
static inline int pb_cbuf_need(pb_buf_t *b, size_t n) {
        if (b->cap - b->len > n)
                return 0;
        return pb_buf_reserve(b, n) == PB_OK ? 0 : -1;
}

/* --- JSON text of values, one implementation for the tree walk
 * (pb_codec_decode.c), the decode plans (pb_codec_plan.c) and the checker
 * (pb_codec_check.c) --- */

#define PB_CODEC_HIGH8 0x8080808080808080ULL

/* 1 when s[0..n) is valid UTF-8 (what the string output accepts): ASCII
 * words are stepped over, the check starts at the first byte >= 0x80. */
static inline int pb_codec_text_ok(const uint8_t *s, size_t n) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & PB_CODEC_HIGH8)
                        break;
        }
        while (i < n && s[i] < 0x80)
                i++;
        return i == n || pb_utf8_valid((const char *)s + i, n - i);
}

/* Quoted text that needs no escaping (names, symbols, formatted values)
 * appended to o: PB_OK, or pb_buf_reserve's code (o unchanged). */
static inline pb_resp_t pb_codec_quoted(pb_buf_t *o, const char *s, size_t n) {
        if (o->cap - o->len <= n + 2) {
                pb_resp_t r = pb_buf_reserve(o, n + 2);
                if (r != PB_OK)
                        return r;
        }
        uint8_t *w = o->data + o->len;
        w[0] = '"';
        memcpy(w + 1, s, n);
        w[n + 1] = '"';
        o->len += n + 2;
        return PB_OK;
}

/* Bytes p[0..n) as a quoted base64 string appended to o: PB_OK, or
 * pb_buf_reserve's code (o unchanged). */
static inline pb_resp_t pb_codec_base64(pb_buf_t *o, const uint8_t *p,
                                        size_t n) {
        size_t nb = (n + 2) / 3 * 4;
        if (o->cap - o->len <= nb + 2) {
                pb_resp_t r = pb_buf_reserve(o, nb + 2);
                if (r != PB_OK)
                        return r;
        }
        uint8_t *w = o->data + o->len;
        w[0] = '"';
        size_t k = pb_base64_encode(p, n, (char *)w + 1, nb + 1);
        w[k + 1] = '"';
        o->len += k + 2;
        return PB_OK;
}

/* A decimal of n bytes (two's complement, big-endian; empty is 0) with
 * `scale`: its text into b (96 bytes) and the text's length, or -1 when
 * the decoder refuses it ("decimal of N bytes is too large": more than 32
 * bytes, or a scale it cannot format). b NULL: only the verdict (0 / -1);
 * formatting <= 32 bytes cannot fail for a scale of 0..76
 * (PB_DEC_MAX_PRECISION in pb_util.c: at most 80 characters). */
static inline int pb_codec_decimal(const uint8_t *p, size_t n, int scale,
                                   char *b) {
        static const uint8_t zero = 0;
        char t[96];
        if (n == 0) {
                p = &zero;
                n = 1;
        }
        if (n > 32)
                return -1;
        if (!b) {
                if (scale >= 0 && scale <= 76)
                        return 0;
                return pb_decimal_format(p, n, scale, t, sizeof(t)) < 0 ? -1
                                                                        : 0;
        }
        return pb_decimal_format(p, n, scale, b, 96);
}

/* 16 bytes at a time: the same test as pb_json_special8 on a vector
 * (as signed bytes, < 0x20 takes in the bytes >= 0x80), with the flags of
 * the 16 bytes in the low bits of the result (bit k: byte k). */
typedef signed char pb_codec_v16 __attribute__((vector_size(16)));

static inline unsigned pb_codec_special16(const uint8_t *s) {
        pb_codec_v16 x, m;
        memcpy(&x, s, 16);
        m = (x < 0x20) | (x == '"') | (x == '\\');
#if defined(__SSE2__)
        return (unsigned)_mm_movemask_epi8((__m128i)m);
#else
        unsigned r = 0;
        for (int k = 0; k < 16; k++)
                r |= (unsigned)(m[k] & 1) << k;
        return r;
#endif
}

/* A string value appended to o as JSON: quoted and escaped as
 * pb_buf_json_str() does it, in one pass over s that copies plain ASCII 16
 * bytes at a time, escapes what JSON needs and checks UTF-8 only from the
 * bytes >= 0x80 on. 0, or -1 when s is not valid UTF-8 or o cannot grow:
 * then o->len is as before (the bytes after it are not) and the caller's
 * slow path gives the verdict (ostr_slow in pb_codec_decode.c). Strings of
 * plain ASCII are copied here; from the first 16 (or 8, 4) bytes that are
 * not, pb_codec_str_rest() goes on, called with i the input bytes already
 * copied. */
int pb_codec_str_rest(pb_buf_t *o, const uint8_t *s, size_t n, size_t i);
static inline __attribute__((always_inline)) int
pb_codec_str(pb_buf_t *o, const uint8_t *s, size_t n) {
        uint8_t *w;
        if (o->cap - o->len <= n + 2 && pb_buf_reserve(o, n + 2) != PB_OK)
                return -1;
        w = o->data + o->len + 1;
        w[-1] = '"';
        if (n >= 16) {
                size_t i = 0;
                for (; i + 16 <= n; i += 16) {
                        if (pb_codec_special16(s + i))
                                return pb_codec_str_rest(o, s, n, i);
                        memcpy(w + i, s + i, 16);
                }
                /* the tail: the last 16 bytes, overlapping copied ones */
                if (i < n) {
                        if (pb_codec_special16(s + n - 16))
                                return pb_codec_str_rest(o, s, n, i);
                        memcpy(w + n - 16, s + n - 16, 16);
                }
        } else if (n >= 8) {
                /* the first and the last 8 bytes (overlapping) */
                uint64_t a, b;
                memcpy(&a, s, 8);
                memcpy(&b, s + n - 8, 8);
                if (pb_json_special8(a) | pb_json_special8(b))
                        return pb_codec_str_rest(o, s, n, 0);
                memcpy(w, &a, 8);
                memcpy(w + n - 8, &b, 8);
        } else if (n >= 4) {
                /* the first and the last 4 bytes, each in a word filled
                 * up with plain letters */
                uint32_t a, b;
                const uint64_t fill = 0x6161616100000000ULL;
                memcpy(&a, s, 4);
                memcpy(&b, s + n - 4, 4);
                if (pb_json_special8(fill | a) | pb_json_special8(fill | b))
                        return pb_codec_str_rest(o, s, n, 0);
                memcpy(w, &a, 4);
                memcpy(w + n - 4, &b, 4);
        } else
                for (size_t i = 0; i < n; i++) {
                        uint8_t ch = s[i];
                        if (ch < 0x20 || ch >= 0x80 || ch == '"' || ch == '\\')
                                return pb_codec_str_rest(o, s, n, i);
                        w[i] = ch;
                }
        w[n] = '"';
        o->len += n + 2;
        return 0;
}

#endif
