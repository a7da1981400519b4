/* partnerbus - the one-pass encoder: natural JSON text straight to Avro
 * binary following the schema, without building a JSON tree.
 *
 * It reads the text once, front to back, with the parser's own checks for
 * strings and numbers (pb_json_string_close, pb_json_number_close) and the
 * grammar around them, and writes each value as it meets it; scalars are
 * encoded by the tree walk's own functions (pb_codec_enc_scalar), so the
 * bytes are the same by construction. A record's members may come in any
 * order: each member's encoding is written where it is and its span kept
 * (a per-field slot on c->fspan); members in schema order with none
 * missing need nothing more, otherwise the record's bytes are put in
 * schema order at its end, with the defaults, nulls and filled-in fields
 * of the missing ones.
 *
 * It only ever says "done" or "declined": any error, anything the tree
 * path would refuse (syntax, duplicate or unknown members, limits) and
 * anything unusual (maps, escaped member names, deep nesting) declines,
 * and the caller runs the tree walk, which gives the verdict and the
 * errors. So results, bytes and error texts are the tree walk's for every
 * input. Memory: the output, and two scratch buffers bounded by the input
 * (a decoded escaped string, one record's bytes) and the span stack
 * (bounded by the fields on the current path). */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_codec_int.h"

/* Open objects and arrays the one-pass walk takes (it recurses once per
 * level); deeper input declines. */
#define FX_MAX_DEPTH 32
#define FX_ABSENT    SIZE_MAX

typedef struct fx {
        pb_codec_t *c;
        const char *p, *e; /* cursor and end of the text */
        pb_buf_t *out;
        int depth, max_depth;
        size_t nodes, max_nodes;
        const pb_schema_t *s;
        const pb_encode_opts_t *opts;
        pb_event_meta_t *meta;
} fx_t;

static int fx_value(fx_t *x, const pb_type_t *t);

/* --- output --- */

static inline int fx_need(fx_t *x, size_t n) {
        return pb_cbuf_need(x->out, n);
}

static inline int fx_long(fx_t *x, int64_t v) {
        if (fx_need(x, 10))
                return -1;
        x->out->len += pb_zz_encode(x->out->data + x->out->len, v);
        return 0;
}

static inline int fx_raw(fx_t *x, const void *p, size_t n) {
        if (fx_need(x, n))
                return -1;
        if (n)
                memcpy(x->out->data + x->out->len, p, n);
        x->out->len += n;
        return 0;
}

static inline int fx_bytes(fx_t *x, const char *p, size_t n) {
        if (fx_need(x, n + 10))
                return -1;
        uint8_t *o = x->out->data + x->out->len;
        size_t h = pb_zz_encode(o, (int64_t)n);
        if (n >= 8 && n <= 16) {
                /* most names and codes: two overlapping moves instead of a
                 * call */
                uint64_t a, b;
                memcpy(&a, p, 8);
                memcpy(&b, p + n - 8, 8);
                memcpy(o + h, &a, 8);
                memcpy(o + h + n - 8, &b, 8);
        } else if (n >= 4 && n < 8) {
                uint32_t a, b;
                memcpy(&a, p, 4);
                memcpy(&b, p + n - 4, 4);
                memcpy(o + h, &a, 4);
                memcpy(o + h + n - 4, &b, 4);
        } else {
                memcpy(o + h, p, n);
        }
        x->out->len += h + n;
        return 0;
}

/* --- text --- */

static inline void fx_ws(fx_t *x) {
        const char *p = x->p, *e = x->e;
        if (p < e && (unsigned char)*p > ' ')
                return; /* compact JSON: usually none */
        while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
                p++;
        x->p = p;
}

/* The string whose opening quote is at p: its closing quote (*esc set
 * when it holds escapes), or NULL when the parser would refuse it. Plain
 * printable ASCII - most member names and values - is scanned here, 16
 * bytes a step with SSE2, and so are two-byte UTF-8 sequences (C2..DF
 * 80..BF, always well-formed: Latin and Cyrillic letters); from the first
 * other byte on (a backslash, a control character, longer or malformed
 * UTF-8) pb_json_string_resume checks the rest of the string as the
 * parser does. */
static inline const char *fx_string(const char *p, const char *e, int *esc) {
        const unsigned char *q = (const unsigned char *)p + 1;
        const unsigned char *ue = (const unsigned char *)e;
#ifdef __SSE2__
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i bslash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20);
#endif
        for (;;) {
#ifdef __SSE2__
                while (ue - q >= 16) {
                        __m128i v =
                            _mm_loadu_si128((const __m128i *)(const void *)q);
                        __m128i m = _mm_or_si128(
                            _mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                         _mm_cmpeq_epi8(v, bslash)),
                            _mm_cmplt_epi8(v, space));
                        unsigned bits = (unsigned)_mm_movemask_epi8(m);
                        if (bits) {
                                q += __builtin_ctz(bits);
                                goto look;
                        }
                        q += 16;
                }
#endif
                while (q < ue && *q >= 0x20 && *q < 0x80 && *q != '"' &&
                       *q != '\\')
                        q++;
#ifdef __SSE2__
        look:
#endif
                if (q < ue && *q == '"') {
                        *esc = 0;
                        return (const char *)q;
                }
                if (ue - q < 2 || *q < 0xc2 || *q > 0xdf ||
                    (q[1] & 0xc0) != 0x80)
                        break;
                q += 2;
                while (ue - q >= 2 && *q >= 0xc2 && *q <= 0xdf &&
                       (q[1] & 0xc0) == 0x80)
                        q += 2;
        }
        return pb_json_string_resume((const char *)q, e, esc);
}

/* The scalar at the cursor (a string, number or literal) into v, the
 * cursor after it. A string with escapes is decoded into c->fesc. */
static int fx_scalar(fx_t *x, pb_json_t *v) {
        const char *p = x->p, *e = x->e, *q;
        int esc;

        v->str = NULL;
        v->len = 0;
        switch (*p) {
        case '"':
                q = fx_string(p, e, &esc);
                if (!q)
                        return -1;
                v->type = PB_JSON_STRING;
                v->str = p + 1;
                v->len = (size_t)(q - p - 1);
                if (esc) {
                        pb_buf_t *b = &x->c->fesc;
                        b->len = 0;
                        if (pb_cbuf_need(b, v->len + 1) ||
                            pb_json_unescape_to(v->str, v->len, (char *)b->data,
                                                &v->len))
                                return -1;
                        v->str = (const char *)b->data;
                }
                x->p = q + 1;
                return 0;
        case 't':
        case 'f':
        case 'n':
                if (!pb_json_literal(&p, e, &v->type))
                        return -1;
                x->p = p;
                return 0;
        default:
                q = pb_json_number_close(p, e);
                if (!q)
                        return -1;
                v->type = PB_JSON_NUMBER;
                v->str = p;
                v->len = (size_t)(q - p);
                x->p = q;
                return 0;
        }
}

/* --- values --- */

#ifdef __SSE2__
/* 16 bytes at s: lanes set in dash ('-' wanted there) hold '-', the
 * others a hex digit (either case). */
static inline int fx_uuid16(const char *s, int dash) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        __m128i lo = _mm_or_si128(v, _mm_set1_epi8(0x20));
        __m128i dig = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                    _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
        __m128i af = _mm_and_si128(_mm_cmpgt_epi8(lo, _mm_set1_epi8('a' - 1)),
                                   _mm_cmplt_epi8(lo, _mm_set1_epi8('f' + 1)));
        int hex = _mm_movemask_epi8(_mm_or_si128(dig, af));
        int dsh = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
        return ((hex & ~dash) | (dsh & dash)) == 0xffff;
}
#endif

/* pb_uuid_valid: 8-4-4-4-12 hex digits. */
static inline int fx_uuid_valid(const char *s, size_t n) {
#ifdef __SSE2__
        /* bytes 0..15 (dashes at 8, 13), 16..31 (18, 23) and 20..35 (23) */
        if (n == 36 && fx_uuid16(s, 1 << 8 | 1 << 13) &&
            fx_uuid16(s + 16, 1 << 2 | 1 << 7) && fx_uuid16(s + 20, 1 << 3))
                return 1;
#endif
        return pb_uuid_valid(s, n);
}

/* Scalar v as t: strings and optional strings directly, the rest through
 * the tree walk's functions. */
static int fx_put_scalar(fx_t *x, const pb_type_t *t, const pb_json_t *v) {
        if (v->type == PB_JSON_STRING) {
                if (t->kind == PB_T_STRING) {
                        if (t->logical == PB_L_UUID &&
                            !fx_uuid_valid(v->str, v->len))
                                return -1;
                        return fx_bytes(x, v->str, v->len);
                }
                if (t->kind == PB_T_UNION) {
                        /* the first branch a string fits: null branches
                         * never do, a plain string always does */
                        for (size_t i = 0; i < t->nbranches; i++) {
                                const pb_type_t *b = t->branches[i];
                                if (b->kind == PB_T_NULL)
                                        continue;
                                if (b->kind != PB_T_STRING ||
                                    b->logical == PB_L_UUID)
                                        break;
                                if (fx_long(x, (int64_t)i))
                                        return -1;
                                return fx_bytes(x, v->str, v->len);
                        }
                }
                if (t->kind == PB_T_ENUM && v->len) {
                        /* a known symbol (the tree walk's enum_index
                         * finds the first equal one, so does this); an
                         * unknown one is reported by the tree walk */
                        const char *s = v->str;
                        size_t n = v->len;
                        for (size_t i = 0; i < t->nsymbols; i++) {
                                const char *sym = t->symbols[i];
                                size_t k = 0;
                                if (sym[0] != s[0])
                                        continue;
                                while (k < n && sym[k] && sym[k] == s[k])
                                        k++;
                                if (k == n && sym[n] == 0)
                                        return fx_long(x, (int64_t)i);
                        }
                }
        } else if (v->type == PB_JSON_NULL && t->kind == PB_T_UNION &&
                   t->null_branch >= 0) {
                return fx_long(x, t->null_branch);
        } else if (v->type == PB_JSON_NUMBER && t->kind == PB_T_INT &&
                   t->logical == PB_L_NONE && v->len <= 9) {
                /* up to nine digits (a valid JSON number: no leading
                 * zero), with a sign: always an int */
                const char *s = v->str;
                size_t i = s[0] == '-', n = v->len;
                int64_t m = 0;
                if (i < n) {
                        for (; i < n; i++) {
                                unsigned d = (unsigned)(s[i] - '0');
                                if (d > 9)
                                        break;
                                m = m * 10 + d;
                        }
                        if (i == n)
                                return fx_long(x, s[0] == '-' ? -m : m);
                }
        }
        return pb_codec_enc_scalar(x->c, t, v, x->out);
}

/* The top-level record's special fields (see enc_record in
 * pb_codec_encode.c): the organisation forced as source, the envelope and
 * key copied into meta, occurred_at's value kept. */
static void fx_copy(char *dst, size_t size, const char *s, size_t n) {
        if (n >= size)
                n = size - 1;
        memcpy(dst, s, n);
        dst[n] = 0;
}

static int fx_top_scalar(fx_t *x, const pb_type_t *t, int fi,
                         const pb_json_t *v) {
        const pb_schema_t *s = x->s;
        const pb_encode_opts_t *o = x->opts;
        pb_event_meta_t *mt = x->meta;

        if (o && fi == s->idx_source && o->force_source &&
            v->type == PB_JSON_STRING &&
            (v->len != strlen(o->force_source) ||
             memcmp(v->str, o->force_source, v->len)))
                return -1; /* source_mismatch */
        if (!mt)
                return fx_put_scalar(x, t, v);
        if (fi == s->idx_event_id && v->type == PB_JSON_STRING)
                fx_copy(mt->event_id, sizeof(mt->event_id), v->str, v->len);
        if (fi == s->idx_source && v->type == PB_JSON_STRING)
                fx_copy(mt->source, sizeof(mt->source), v->str, v->len);
        if (fi == s->key_index &&
            (v->type == PB_JSON_STRING || v->type == PB_JSON_NUMBER)) {
                if (v->len >= sizeof(mt->key))
                        return -1; /* key_too_long */
                for (size_t i = 0; i < v->len; i++)
                        if ((unsigned char)v->str[i] < 0x20 ||
                            v->str[i] == 0x7f)
                                return -1; /* key_control */
                fx_copy(mt->key, sizeof(mt->key), v->str, v->len);
                mt->key_len = v->len;
        }
        if (fi == s->idx_occurred_at) {
                x->c->last_long = 0;
                if (fx_put_scalar(x, t, v))
                        return -1;
                mt->occurred_at_ms = x->c->last_long;
                return 0;
        }
        return fx_put_scalar(x, t, v);
}

/* A member of the top-level record at the cursor (field fi). */
static int fx_top_member(fx_t *x, const pb_type_t *t, int fi) {
        pb_json_t v;
        if (*x->p == '{' || *x->p == '[') {
                /* no special field takes an object or array, but
                 * occurred_at's last long is kept all the same */
                int occ = x->meta && fi == x->s->idx_occurred_at;
                if (occ)
                        x->c->last_long = 0;
                if (fx_value(x, t))
                        return -1;
                if (occ)
                        x->meta->occurred_at_ms = x->c->last_long;
                return 0;
        }
        if (++x->nodes > x->max_nodes || fx_scalar(x, &v))
                return -1;
        return fx_top_scalar(x, t, fi, &v);
}

/* A field of record t absent from the text: filled in (top level, with
 * opts), its default, or null; -1 when required. */
static int fx_missing(fx_t *x, const pb_type_t *t, size_t i, int top) {
        const pb_field_t *f = &t->fields[i];
        const pb_encode_opts_t *o = x->opts;
        int fi = (int)i;

        if (top && o) {
                pb_json_t v;
                char id[40];
                memset(&v, 0, sizeof(v));
                v.type = PB_JSON_STRING;
                if (fi == x->s->idx_source && o->force_source) {
                        v.str = o->force_source;
                        v.len = strlen(o->force_source);
                        return fx_top_scalar(x, f->type, fi, &v);
                }
                if (fi == x->s->idx_event_id && o->fill_event_id) {
                        pb_uuid_v4(id);
                        v.str = id;
                        v.len = strlen(id);
                        return fx_top_scalar(x, f->type, fi, &v);
                }
                if (fi == x->s->idx_occurred_at && o->fill_occurred_at &&
                    f->type->kind == PB_T_LONG) {
                        int64_t now = pb_now_ms();
                        x->c->last_long = now;
                        if (x->meta)
                                x->meta->occurred_at_ms = now;
                        return fx_long(x,
                                       f->type->logical == PB_L_TIMESTAMP_MICROS
                                           ? now * 1000
                                           : now);
                }
        }
        if (f->has_default)
                return fx_raw(x, f->default_avro, f->default_avro_len);
        if (f->type->kind == PB_T_UNION && f->type->null_branch >= 0)
                return fx_long(x, f->type->null_branch);
        return -1; /* required_missing */
}

/* Record t's bytes, written at rec0.. in the members' order with their
 * spans in span[], rewritten in schema order with the missing fields. */
static int fx_reorder(fx_t *x, const pb_type_t *t, size_t rec0,
                      const size_t *span, int top) {
        pb_buf_t *r = &x->c->frec;
        size_t n = x->out->len - rec0;
        r->len = 0;
        if (pb_cbuf_need(r, n))
                return -1;
        if (n)
                memcpy(r->data, x->out->data + rec0, n);
        x->out->len = rec0;
        for (size_t i = 0; i < t->nfields; i++) {
                if (span[2 * i] != FX_ABSENT) {
                        if (fx_raw(x, r->data + (span[2 * i] - rec0),
                                   span[2 * i + 1]))
                                return -1;
                } else if (fx_missing(x, t, i, top)) {
                        return -1;
                }
        }
        return 0;
}

/* The object at the cursor as record t. */
static int fx_record(fx_t *x, const pb_type_t *t, int top) {
        pb_codec_t *c = x->c;
        size_t nf = t->nfields, base = c->nfspan, rec0 = x->out->len;
        size_t nmem = 0, next = 0;
        int inorder = 1, r = -1;
        size_t *span;

        if (++x->depth > x->max_depth)
                return -1;
        if (c->capfspan - c->nfspan < 2 * nf &&
            PB_ARRAY_RESERVE(c->fspan, c->capfspan, c->nfspan, 2 * nf, 64))
                return -1;
        c->nfspan += 2 * nf;
        span = c->fspan + base;
        for (size_t i = 0; i < nf; i++)
                span[2 * i] = FX_ABSENT;
        x->p++;
        fx_ws(x);
        if (x->p < x->e && *x->p == '}') {
                x->p++;
        } else {
                for (;;) {
                        const char *k, *q;
                        int esc, idx;
                        size_t kl, off;
                        if (x->p >= x->e || *x->p != '"')
                                goto out;
                        k = x->p + 1;
                        if (next < nf &&
                            (size_t)(x->e - k) > t->fields[next].namelen &&
                            k[t->fields[next].namelen] == '"' &&
                            pb_codec_name_eq(k, t->fields[next].name,
                                             t->fields[next].namelen)) {
                                /* the next field's name (checked by the
                                 * schema parser: [A-Za-z_][A-Za-z0-9_]*,
                                 * so the text is a valid string) */
                                idx = (int)next;
                                q = k + t->fields[next].namelen;
                        } else {
                                q = fx_string(x->p, x->e, &esc);
                                if (!q || esc)
                                        goto out;
                                kl = (size_t)(q - k);
                                idx = kl ? pb_codec_field_lookup(t, next, k, kl)
                                         : -1;
                        }
                        x->p = q + 1;
                        fx_ws(x);
                        if (x->p >= x->e || *x->p != ':')
                                goto out;
                        x->p++;
                        fx_ws(x);
                        if (x->p >= x->e)
                                goto out;
                        if (idx < 0 || span[2 * idx] != FX_ABSENT)
                                goto out; /* unknown or repeated member */
                        inorder &= (size_t)idx == nmem;
                        off = x->out->len;
                        if (top ? fx_top_member(x, t->fields[idx].type, idx)
                                : fx_value(x, t->fields[idx].type))
                                goto out;
                        span = c->fspan + base; /* may have moved */
                        span[2 * idx] = off;
                        span[2 * idx + 1] = x->out->len - off;
                        next = (size_t)idx + 1;
                        nmem++;
                        fx_ws(x);
                        if (x->p < x->e && *x->p == ',') {
                                x->p++;
                                fx_ws(x);
                                continue;
                        }
                        if (x->p < x->e && *x->p == '}') {
                                x->p++;
                                break;
                        }
                        goto out;
                }
        }
        if ((inorder && nmem == nf) || !fx_reorder(x, t, rec0, span, top))
                r = 0;
out:
        c->nfspan = base;
        x->depth--;
        return r;
}

/* The array at the cursor as array t: the block count is written in the
 * byte kept before the items when it fits there (up to 63 items). */
static int fx_array(fx_t *x, const pb_type_t *t) {
        size_t at, n = 0, h;
        uint8_t zz[10];

        if (++x->depth > x->max_depth || fx_need(x, 1))
                return -1;
        at = x->out->len++;
        x->p++;
        fx_ws(x);
        if (x->p < x->e && *x->p == ']') {
                x->p++;
                x->out->data[at] = 0;
                x->depth--;
                return 0;
        }
        for (;;) {
                if (x->p >= x->e || fx_value(x, t->items))
                        return -1;
                n++;
                fx_ws(x);
                if (x->p < x->e && *x->p == ',') {
                        x->p++;
                        fx_ws(x);
                        continue;
                }
                if (x->p < x->e && *x->p == ']') {
                        x->p++;
                        break;
                }
                return -1;
        }
        h = pb_zz_encode(zz, (int64_t)n);
        if (h > 1) {
                if (fx_need(x, h - 1))
                        return -1;
                memmove(x->out->data + at + h, x->out->data + at + 1,
                        x->out->len - at - 1);
                x->out->len += h - 1;
        }
        memcpy(x->out->data + at, zz, h);
        x->depth--;
        return fx_long(x, 0);
}

/* The value at the cursor (not at the end, whitespace skipped) as t. */
static int fx_value(fx_t *x, const pb_type_t *t) {
        pb_json_t v;
        char ch = *x->p;

        if (++x->nodes > x->max_nodes)
                return -1;
        if (ch == '{' || ch == '[') {
                pb_kind_t want = ch == '{' ? PB_T_RECORD : PB_T_ARRAY;
                if (t->kind == PB_T_UNION) {
                        /* the first branch of the JSON type's kind (a map
                         * taking an object declines below) */
                        size_t i;
                        for (i = 0; i < t->nbranches; i++) {
                                pb_kind_t k = t->branches[i]->kind;
                                if (k == want || (ch == '{' && k == PB_T_MAP))
                                        break;
                        }
                        if (i == t->nbranches || fx_long(x, (int64_t)i))
                                return -1;
                        t = t->branches[i];
                }
                if (t->kind != want)
                        return -1;
                return want == PB_T_RECORD ? fx_record(x, t, 0)
                                           : fx_array(x, t);
        }
        if (fx_scalar(x, &v))
                return -1;
        return fx_put_scalar(x, t, &v);
}

int pb_codec_json_to_avro_fast(pb_codec_t *c, const pb_schema_t *s,
                               pb_json_parser_t *jp, const char *json,
                               size_t len, const pb_encode_opts_t *opts,
                               pb_buf_t *out, pb_event_meta_t *meta) {
        pb_json_limits_t lim;
        fx_t x;
        size_t start;
        int r;

        if (!c || c->fast_off || !s || !s->root || !json || !out)
                return 0;
        pb_json_parser_limits(jp ? jp : c->parser, &lim);
        if (meta)
                memset(meta, 0, sizeof(*meta));
        start = out->len;
        x.c = c;
        x.p = json;
        x.e = json + len;
        x.out = out;
        x.depth = 0;
        x.max_depth =
            lim.max_depth < FX_MAX_DEPTH ? lim.max_depth : FX_MAX_DEPTH;
        x.nodes = 0;
        x.max_nodes = lim.max_nodes;
        x.s = s;
        x.opts = opts;
        x.meta = meta;
        c->nfspan = 0;
        fx_ws(&x);
        if (x.p >= x.e)
                r = -1;
        else if (s->root->kind == PB_T_RECORD && *x.p == '{')
                r = ++x.nodes > x.max_nodes ? -1 : fx_record(&x, s->root, 1);
        else
                r = fx_value(&x, s->root);
        if (r == 0) {
                fx_ws(&x);
                r = x.p == x.e ? 0 : -1;
        }
        if (r) {
                out->len = start;
                if (out->data)
                        out->data[start] = 0;
                return 0;
        }
        if (out->data)
                out->data[out->len] = 0;
        return 1;
}

void pb_codec_set_fast(pb_codec_t *c, int on) {
        if (c)
                c->fast_off = !on;
}
