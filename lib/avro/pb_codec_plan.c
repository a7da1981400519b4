/* partnerbus - a decode plan per writer schema: Avro binary -> natural JSON
 * without walking the schema tree.
 *
 * pb_codec_avro_to_json() walks the schema per value: a dispatch on the
 * type, the member name formatted, the path pushed and popped, the meta
 * fields checked per member. When the body is read with its own writer
 * schema (replay, relay, report: the common case), the walk is the same for
 * every event, so it is compiled once per schema into a flat list of
 * operations: literal text (`{"event_id":` and `,"source":` with the
 * braces around them merged into one copy), then one operation per leaf
 * value (read and check, format, capture the envelope field for meta),
 * each operation writing the literal text before it as its prefix.
 * Unions and arrays are the only branches: their alternatives / items are
 * runs of operations ending in RET.
 *
 * The plan only takes the success path. It checks every bound the tree walk
 * checks (lengths against the bytes left, varints, int range, union and
 * enum indexes, block counts, UTF-8, timestamps and dates in range, the
 * JSON output bound) and on the first failure gives up: the caller restores
 * its buffer and runs the tree walk, which gives the verdict with its error
 * code and message (the JSON Pointer of the bad value). Nothing is reported
 * from here, so no path is kept.
 *
 * pb_codec_check() runs the same operations writing nothing (an instance
 * of the interpreter with `chk` set): the checks stay, the formatting goes,
 * and an upper bound of the JSON text is kept as pb_codec_check.c keeps
 * it; near PB_CODEC_MAX_JSON_OUT the tree walk decides.
 *
 * Not compiled (the tree walk stays): maps, time-millis, int timestamps,
 * arrays of items that can be empty (their count bound is a budget per
 * decode), nesting deeper than PLAN_MAX_DEPTH, a non-record root, and any
 * schema whose plan would exceed PLAN_MAX_OPS (recursive types). The plan
 * holds copies of all it needs (names, symbols, sizes), no pointer into the
 * schema. */
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_codec_dec.h"
#include "pb_codec_int.h"

#define PLAN_MAX_OPS   8192
#define PLAN_MAX_DEPTH (PB_CODEC_MAX_DEPTH - 4)
/* unions a run of the interpreter enters without a call of its own */
#define PLAN_RET_MAX 16

enum {
        OP_RET,
        OP_LIT,     /* a: pool offset, b: length */
        OP_BOOL,    /* true / false */
        OP_INT,     /* int, checked to 32 bits */
        OP_LONG,    /* long */
        OP_DATE,    /* int days -> "YYYY-MM-DD" */
        OP_TS_MS,   /* long ms -> instant */
        OP_TS_US,   /* long us -> instant */
        OP_FLOAT,   /* 4 bytes */
        OP_DOUBLE,  /* 8 bytes */
        OP_STR,     /* string: UTF-8 checked, escaped */
        OP_B64,     /* bytes as base64 */
        OP_DEC,     /* bytes decimal, a: scale */
        OP_FIX_B64, /* fixed as base64, a: size */
        OP_FIX_DEC, /* fixed decimal, a: size, b: scale */
        OP_ENUM,    /* a: first symbol in tab (off, len pairs), b: count */
        OP_UNION,   /* a: branches, b: first start in tab, c: next op */
        OP_ARRAY,   /* a: least bytes per item, c: next op; items follow */
};

/* meta: which envelope field the value is, as meta_take() decides */
enum { M_NONE, M_EVENT_ID, M_SOURCE, M_KEY, M_OCCURRED_AT };

/* Every operation first writes its prefix pool[pa..pa+pb) (the literal
 * text before it: `,"name":`, `{`, `[`), then does its own work. */
typedef struct plan_op {
        uint8_t op, meta;
        uint32_t a, b, c;
        uint32_t pa, pb;
} plan_op_t;

struct pb_codec_plan {
        plan_op_t *ops;
        size_t nops, capops;
        char *pool; /* literal text, quoted enum symbols */
        size_t npool, cappool;
        uint32_t *tab; /* enum symbols (off, len), union branch starts */
        size_t ntab, captab;
        size_t pend_off, pend_len; /* literal text for the next op */
        /* the envelope: the ops of the top-level members up to the last
         * one whose value goes into meta, then RET (pool and tab are the
         * whole plan's); NULL before it is built */
        size_t env_end;
        struct pb_codec_plan *env;
};

/* --- compiling --- */

static int grow(void **p, size_t *cap, size_t need, size_t size) {
        size_t n = *cap ? *cap : 64;
        void *q;
        if (need <= *cap)
                return 0;
        while (n < need)
                n *= 2;
        q = realloc(*p, n * size);
        if (!q)
                return -1;
        *p = q;
        *cap = n;
        return 0;
}

static long emit(pb_codec_plan_t *pl, int op, int meta, size_t a, size_t b,
                 size_t c) {
        if (pl->nops >= PLAN_MAX_OPS || grow((void **)&pl->ops, &pl->capops,
                                             pl->nops + 1, sizeof(plan_op_t)))
                return -1;
        plan_op_t *o = &pl->ops[pl->nops];
        o->op = (uint8_t)op;
        o->meta = (uint8_t)meta;
        o->a = (uint32_t)a;
        o->b = (uint32_t)b;
        o->c = (uint32_t)c;
        /* the pending literal becomes this operation's prefix */
        o->pa = (uint32_t)pl->pend_off;
        o->pb = (uint32_t)pl->pend_len;
        pl->pend_len = 0;
        return (long)pl->nops++;
}

static long pool_add(pb_codec_plan_t *pl, const char *s, size_t n) {
        if (n > UINT32_MAX / 4 || pl->npool + n > UINT32_MAX / 2 ||
            grow((void **)&pl->pool, &pl->cappool, pl->npool + n, 1))
                return -1;
        memcpy(pl->pool + pl->npool, s, n);
        pl->npool += n;
        return (long)(pl->npool - n);
}

/* Literal output: collected until the next operation, which writes it
 * as its prefix (one copy for `"},"name":` and the like). */
static int lit(pb_codec_plan_t *pl, const char *s, size_t n) {
        long off;
        if (pl->pend_len && pl->pend_off + pl->pend_len != pl->npool &&
            emit(pl, OP_LIT, 0, 0, 0, 0) < 0)
                return -1; /* not adjacent: written by a LIT of its own */
        if ((off = pool_add(pl, s, n)) < 0)
                return -1;
        if (!pl->pend_len)
                pl->pend_off = (size_t)off;
        pl->pend_len += n;
        return 0;
}

static int tab_add(pb_codec_plan_t *pl, size_t v) {
        if (grow((void **)&pl->tab, &pl->captab, pl->ntab + 1,
                 sizeof(uint32_t)))
                return -1;
        pl->tab[pl->ntab++] = (uint32_t)v;
        return 0;
}

/* Meta of a leaf: what meta_take() copies for this kind. */
static int leaf_meta(int meta, pb_kind_t k) {
        if (k == PB_T_STRING || k == PB_T_BYTES)
                return meta == M_EVENT_ID || meta == M_SOURCE || meta == M_KEY
                           ? meta
                           : M_NONE;
        if (k == PB_T_INT || k == PB_T_LONG)
                return meta == M_KEY || meta == M_OCCURRED_AT ? meta : M_NONE;
        return M_NONE;
}

/* Compiles the value of t (at path depth `depth`) with meta capture
 * `meta` (top-level members only). 0, or -1: no plan for this schema. */
static int comp(pb_codec_plan_t *pl, const pb_type_t *t, int meta, int depth,
                const pb_schema_t *top) {
        long i;
        if (depth > PLAN_MAX_DEPTH)
                return -1;
        switch (t->kind) {
        case PB_T_NULL:
                return lit(pl, "null", 4);
        case PB_T_BOOLEAN:
                return emit(pl, OP_BOOL, 0, 0, 0, 0) < 0 ? -1 : 0;
        case PB_T_INT:
                if (t->logical == PB_L_DATE)
                        return emit(pl, OP_DATE, leaf_meta(meta, t->kind), 0, 0,
                                    0) < 0
                                   ? -1
                                   : 0;
                if (t->logical == PB_L_TIME_MILLIS ||
                    t->logical == PB_L_TIMESTAMP_MILLIS ||
                    t->logical == PB_L_TIMESTAMP_MICROS)
                        return -1;
                return emit(pl, OP_INT, leaf_meta(meta, t->kind), 0, 0, 0) < 0
                           ? -1
                           : 0;
        case PB_T_LONG:
                return emit(pl,
                            t->logical == PB_L_TIMESTAMP_MILLIS   ? OP_TS_MS
                            : t->logical == PB_L_TIMESTAMP_MICROS ? OP_TS_US
                                                                  : OP_LONG,
                            leaf_meta(meta, t->kind), 0, 0, 0) < 0
                           ? -1
                           : 0;
        case PB_T_FLOAT:
                return emit(pl, OP_FLOAT, 0, 0, 0, 0) < 0 ? -1 : 0;
        case PB_T_DOUBLE:
                return emit(pl, OP_DOUBLE, 0, 0, 0, 0) < 0 ? -1 : 0;
        case PB_T_STRING:
                return emit(pl, OP_STR, leaf_meta(meta, t->kind), 0, 0, 0) < 0
                           ? -1
                           : 0;
        case PB_T_BYTES:
                if (t->logical == PB_L_DECIMAL)
                        return t->scale < 0 || emit(pl, OP_DEC,
                                                    leaf_meta(meta, t->kind),
                                                    (size_t)t->scale, 0, 0) < 0
                                   ? -1
                                   : 0;
                return emit(pl, OP_B64, leaf_meta(meta, t->kind), 0, 0, 0) < 0
                           ? -1
                           : 0;
        case PB_T_FIXED:
                if (t->size > UINT32_MAX / 2)
                        return -1;
                if (t->logical == PB_L_DECIMAL)
                        return t->scale < 0 || emit(pl, OP_FIX_DEC, 0, t->size,
                                                    (size_t)t->scale, 0) < 0
                                   ? -1
                                   : 0;
                return emit(pl, OP_FIX_B64, 0, t->size, 0, 0) < 0 ? -1 : 0;
        case PB_T_ENUM: {
                size_t first = pl->ntab;
                if (!t->nsymbols)
                        return -1;
                for (size_t k = 0; k < t->nsymbols; k++) {
                        size_t n = strlen(t->symbols[k]);
                        long off;
                        if ((off = pool_add(pl, "\"", 1)) < 0 ||
                            pool_add(pl, t->symbols[k], n) < 0 ||
                            pool_add(pl, "\"", 1) < 0 ||
                            tab_add(pl, (size_t)off) || tab_add(pl, n + 2))
                                return -1;
                }
                return emit(pl, OP_ENUM, 0, first, t->nsymbols, 0) < 0 ? -1 : 0;
        }
        case PB_T_RECORD:
                if (lit(pl, "{", 1))
                        return -1;
                for (size_t k = 0; k < t->nfields; k++) {
                        const pb_field_t *f = &t->fields[k];
                        int m = M_NONE;
                        if (top) {
                                int fi = (int)k;
                                m = fi == top->idx_event_id      ? M_EVENT_ID
                                    : fi == top->idx_source      ? M_SOURCE
                                    : fi == top->key_index       ? M_KEY
                                    : fi == top->idx_occurred_at ? M_OCCURRED_AT
                                                                 : M_NONE;
                        }
                        if ((k && lit(pl, ",", 1)) || lit(pl, "\"", 1) ||
                            lit(pl, f->name, f->namelen) || lit(pl, "\":", 2) ||
                            comp(pl, f->type, m, depth + 1, NULL))
                                return -1;
                        if (m != M_NONE) /* a member's ops end where the
                                            next one's begin */
                                pl->env_end = pl->nops;
                }
                return lit(pl, "}", 1);
        case PB_T_ARRAY: {
                size_t ms = pb_dec_min_size(t->items);
                if (!ms || ms > UINT32_MAX / 2 || lit(pl, "[", 1) ||
                    (i = emit(pl, OP_ARRAY, 0, ms, 0, 0)) < 0 ||
                    comp(pl, t->items, M_NONE, depth + 1, NULL) ||
                    emit(pl, OP_RET, 0, 0, 0, 0) < 0)
                        return -1;
                pl->ops[i].c = (uint32_t)pl->nops;
                return lit(pl, "]", 1);
        }
        case PB_T_UNION: {
                size_t first = pl->ntab;
                if (!t->nbranches)
                        return -1;
                for (size_t k = 0; k < t->nbranches; k++)
                        if (tab_add(pl, 0))
                                return -1;
                if ((i = emit(pl, OP_UNION, 0, t->nbranches, first, 0)) < 0)
                        return -1;
                for (size_t k = 0; k < t->nbranches; k++) {
                        pl->tab[first + k] = (uint32_t)pl->nops;
                        if (comp(pl, t->branches[k], meta, depth, NULL) ||
                            emit(pl, OP_RET, 0, 0, 0, 0) < 0)
                                return -1;
                }
                pl->ops[i].c = (uint32_t)pl->nops;
                return 0;
        }
        case PB_T_MAP:
                return -1;
        }
        return -1;
}

static void plan_free(pb_codec_plan_t *pl) {
        if (!pl)
                return;
        if (pl->env)
                free(pl->env->ops);
        free(pl->env);
        free(pl->ops);
        free(pl->pool);
        free(pl->tab);
        free(pl);
}

/* The envelope plan: ops [0, env_end) - the top-level members up to the
 * last envelope field; every jump inside them stays inside them - then a
 * RET where the next member would begin. 0, or -1 out of memory. */
static int env_new(pb_codec_plan_t *pl) {
        pb_codec_plan_t *e = calloc(1, sizeof(*e));
        if (!e)
                return -1;
        e->ops = malloc((pl->env_end + 1) * sizeof(plan_op_t));
        if (!e->ops) {
                free(e);
                return -1;
        }
        if (pl->env_end)
                memcpy(e->ops, pl->ops, pl->env_end * sizeof(plan_op_t));
        memset(&e->ops[pl->env_end], 0, sizeof(plan_op_t));
        e->ops[pl->env_end].op = OP_RET;
        e->nops = pl->env_end + 1;
        e->pool = pl->pool;
        e->tab = pl->tab;
        pl->env = e;
        return 0;
}

static pb_codec_plan_t *plan_new(const pb_schema_t *w) {
        pb_codec_plan_t *pl = calloc(1, sizeof(*pl));
        if (!pl)
                return NULL;
        if (!w->root || w->root->kind != PB_T_RECORD ||
            comp(pl, w->root, M_NONE, 0, w) ||
            emit(pl, OP_RET, 0, 0, 0, 0) < 0 || env_new(pl)) {
                plan_free(pl);
                return NULL;
        }
        return pl;
}

const pb_codec_plan_t *pb_codec_plan_get(pb_codec_t *c, const pb_schema_t *w) {
        size_t i;
        if (c->plans_off)
                return NULL;
        for (i = 0; i < c->nplans; i++)
                if (c->plans[i].w == w && c->plans[i].serial == w->serial)
                        return c->plans[i].plan;
        if (c->nplans < PB_CODEC_PLANS)
                i = c->nplans++;
        else {
                i = c->plan_evict++ % PB_CODEC_PLANS;
                plan_free(c->plans[i].plan);
        }
        c->plans[i].w = w;
        c->plans[i].serial = w->serial;
        /* NULL (no plan for this schema) is kept too: not tried again */
        c->plans[i].plan = plan_new(w);
        return c->plans[i].plan;
}

void pb_codec_plans_clear(pb_codec_t *c) {
        for (size_t i = 0; i < c->nplans; i++)
                plan_free(c->plans[i].plan);
        c->nplans = 0;
        c->plan_evict = 0;
}

/* --- running --- */

typedef struct prun {
        const pb_codec_plan_t *pl;
        const uint8_t *p, *end;
        pb_buf_t *o;   /* NULL: checking only */
        uint64_t json; /* checking: upper bound of the JSON text */
        pb_event_meta_t *meta;
        pb_dec_t d; /* for the shared formatters; no error text */
} prun_t;

static __attribute__((noinline)) int rlong_long(prun_t *r, int64_t *v) {
        size_t n;
        if (pb_zz_decode(r->p, r->end, v, &n) != PB_OK)
                return -1;
        r->p += n;
        return 0;
}

/* a varint: one byte inline, longer ones out of line */
static inline __attribute__((always_inline)) int rlong(prun_t *r, int64_t *v) {
        if (r->p < r->end && *r->p < 0x80) {
                uint64_t z = *r->p++;
                *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
                return 0;
        }
        return rlong_long(r, v);
}

/* a string / bytes length: non-negative, within the bytes left */
static inline int rlen(prun_t *r, size_t *n) {
        int64_t v;
        if (rlong(r, &v) || v < 0 || (uint64_t)v > (size_t)(r->end - r->p))
                return -1;
        *n = (size_t)v;
        return 0;
}

static int oint(pb_buf_t *o, int64_t v) {
        char b[24];
        size_t i = sizeof(b);
        uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        do {
                b[--i] = (char)('0' + m % 10);
                m /= 10;
        } while (m);
        if (v < 0)
                b[--i] = '-';
        if (pb_cbuf_need(o, sizeof(b) - i))
                return -1;
        memcpy(o->data + o->len, b + i, sizeof(b) - i);
        o->len += sizeof(b) - i;
        return 0;
}

static inline int oquoted(pb_buf_t *o, const char *s, size_t n) {
        return pb_codec_quoted(o, s, n) == PB_OK ? 0 : -1;
}

static void meta_text(pb_event_meta_t *m, int which, const uint8_t *s,
                      size_t n) {
        char *dst = which == M_EVENT_ID ? m->event_id
                    : which == M_SOURCE ? m->source
                                        : m->key;
        size_t size = which == M_EVENT_ID ? sizeof(m->event_id)
                      : which == M_SOURCE ? sizeof(m->source)
                                          : sizeof(m->key);
        if (n > size - 1)
                n = size - 1;
        memcpy(dst, s, n);
        dst[n] = 0;
        if (which == M_KEY)
                m->key_len = n;
}

static void meta_num(pb_event_meta_t *m, int which, int64_t v, int micros) {
        if (which == M_OCCURRED_AT)
                m->occurred_at_ms = micros ? v / 1000 : v;
        else if (which == M_KEY) {
                char b[24];
                size_t i = sizeof(b), n;
                uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
                do {
                        b[--i] = (char)('0' + u % 10);
                        u /= 10;
                } while (u);
                if (v < 0)
                        b[--i] = '-';
                n = sizeof(b) - i;
                memcpy(m->key, b + i, n);
                m->key[n] = 0;
                m->key_len = n;
        }
}

static int obytes_b64(pb_buf_t *o, const uint8_t *p, size_t n) {
        return pb_codec_base64(o, p, n) == PB_OK ? 0 : -1;
}

/* a decimal's text (o NULL: only the check) */
static int odecimal(pb_buf_t *o, const uint8_t *p, size_t n, int scale) {
        char b[96];
        int k = pb_codec_decimal(p, n, scale, o ? b : NULL);
        if (k < 0)
                return -1;
        return o ? oquoted(o, b, (size_t)k) : 0;
}

/* Dates and instants: events read in order of time repeat the day and
 * the minute, so the text of the last one is kept in the codec and only
 * what differs is formatted again. */
static const char *fmt_date(pb_codec_t *c, int64_t days) {
        if (days != c->fmt_day) {
                pb_dec_fmt_date(days, c->fmt_day_text);
                c->fmt_day = days;
        }
        return c->fmt_day_text;
}

static const char *fmt_instant(pb_codec_t *c, int64_t ms) {
        int64_t min = ms / 60000 - (ms % 60000 < 0);
        char *b = c->fmt_min_text;
        if (min != c->fmt_min) {
                pb_dec_fmt_instant(ms, b);
                c->fmt_min = min;
        } else {
                /* the same minute: seconds and milliseconds */
                int sub = (int)(ms - min * 60000), sec = sub / 1000,
                    f = sub % 1000;
                b[17] = (char)('0' + sec / 10);
                b[18] = (char)('0' + sec % 10);
                b[20] = (char)('0' + f / 100);
                b[21] = (char)('0' + f / 10 % 10);
                b[22] = (char)('0' + f % 10);
        }
        return b;
}

/* Bounds of the JSON per value while checking, as pb_codec_check.c
 * counts them. */
#define CHK_SCALAR  32
#define CHK_DECIMAL 100
#define CHK_SLACK   64

static int run_out(prun_t *r, size_t i);
static int run_chk(prun_t *r, size_t i);

/* The interpreter; chk (a constant in each of the two instances): check
 * only, write nothing. */
static inline __attribute__((always_inline)) int run_impl(prun_t *r, size_t i,
                                                          const int chk) {
        const plan_op_t *ops = r->pl->ops;
        pb_buf_t *o = r->o;
        /* where the unions entered in this call go on after their branch
         * (deeper ones take a call of their own) */
        uint32_t ret[PLAN_RET_MAX];
        size_t nret = 0;
        for (;;) {
                const plan_op_t *op = &ops[i];
                int64_t v;
                size_t n;
                if (chk)
                        r->json += op->pb;
                else if (op->pb) {
                        const char *src = r->pl->pool + op->pa;
                        uint8_t *dst;
                        n = op->pb;
                        if (pb_cbuf_need(o, n))
                                return -1;
                        dst = o->data + o->len;
                        if (n >= 8 && n <= 16) {
                                /* member names: two overlapping words */
                                memcpy(dst, src, 8);
                                memcpy(dst + n - 8, src + n - 8, 8);
                        } else if (n > 16 && n <= 32) {
                                /* `},"name":{"name":` and the like */
                                memcpy(dst, src, 16);
                                memcpy(dst + n - 16, src + n - 16, 16);
                        } else
                                memcpy(dst, src, n);
                        o->len += n;
                }
                switch (op->op) {
                case OP_RET:
                        if (nret) {
                                i = ret[--nret];
                                continue;
                        }
                        return 0;
                case OP_LIT: /* the prefix was all */
                        break;
                case OP_BOOL:
                        if (r->p >= r->end || *r->p > 1)
                                return -1;
                        if (chk) {
                                r->p++;
                                r->json += 5;
                        } else if (*r->p++) {
                                if (pb_cbuf_need(o, 4))
                                        return -1;
                                memcpy(o->data + o->len, "true", 4);
                                o->len += 4;
                        } else {
                                if (pb_cbuf_need(o, 5))
                                        return -1;
                                memcpy(o->data + o->len, "false", 5);
                                o->len += 5;
                        }
                        break;
                case OP_INT:
                        if (rlong(r, &v) || v < INT32_MIN || v > INT32_MAX ||
                            (chk ? (r->json += CHK_SCALAR, 0) : oint(o, v)))
                                return -1;
                        if (op->meta && r->meta)
                                meta_num(r->meta, op->meta, v, 0);
                        break;
                case OP_LONG:
                        if (rlong(r, &v) ||
                            (chk ? (r->json += CHK_SCALAR, 0) : oint(o, v)))
                                return -1;
                        if (op->meta && r->meta)
                                meta_num(r->meta, op->meta, v, 0);
                        break;
                case OP_DATE:
                        if (rlong(r, &v) || v < -719162 || v > 2932896)
                                return -1;
                        if (chk)
                                r->json += CHK_SCALAR;
                        else if (oquoted(o, fmt_date(r->d.c, v), 10))
                                return -1;
                        if (op->meta && r->meta)
                                meta_num(r->meta, op->meta, v, 0);
                        break;
                case OP_TS_MS:
                case OP_TS_US: {
                        int64_t ms;
                        if (rlong(r, &v))
                                return -1;
                        ms = op->op == OP_TS_US ? v / 1000 - (v % 1000 < 0) : v;
                        if (ms < -62135596800000LL || ms > 253402300799999LL)
                                return -1;
                        if (chk)
                                r->json += CHK_SCALAR;
                        else if (oquoted(o, fmt_instant(r->d.c, ms), 24))
                                return -1;
                        if (op->meta && r->meta)
                                meta_num(r->meta, op->meta, v,
                                         op->op == OP_TS_US);
                        break;
                }
                case OP_FLOAT: {
                        float f;
                        uint32_t u;
                        if (r->end - r->p < 4)
                                return -1;
                        u = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 |
                            (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
                        memcpy(&f, &u, 4);
                        r->p += 4;
                        if (chk)
                                r->json += CHK_SCALAR;
                        else if (pb_dec_emit_float(&r->d, f, o))
                                return -1;
                        break;
                }
                case OP_DOUBLE: {
                        double x;
                        uint64_t u = 0;
                        if (r->end - r->p < 8)
                                return -1;
                        for (int k = 7; k >= 0; k--)
                                u = u << 8 | r->p[k];
                        memcpy(&x, &u, 8);
                        r->p += 8;
                        if (chk)
                                r->json += CHK_SCALAR;
                        else if (pb_dec_emit_double(&r->d, x, o))
                                return -1;
                        break;
                }
                case OP_STR:
                        if (rlen(r, &n) || (chk ? !pb_codec_text_ok(r->p, n)
                                                : pb_codec_str(o, r->p, n)))
                                return -1;
                        if (chk)
                                r->json += 6 * (uint64_t)n + 2;
                        if (op->meta && r->meta)
                                meta_text(r->meta, op->meta, r->p, n);
                        r->p += n;
                        break;
                case OP_B64:
                case OP_DEC:
                        if (rlen(r, &n) ||
                            (op->op == OP_B64
                                 ? (chk ? 0 : obytes_b64(o, r->p, n))
                                 : odecimal(o, r->p, n, (int)op->a)))
                                return -1;
                        if (chk)
                                r->json += op->op == OP_B64
                                               ? (n + 2) / 3 * 4 + 2
                                               : CHK_DECIMAL;
                        if (op->meta && r->meta)
                                meta_text(r->meta, op->meta, r->p, n);
                        r->p += n;
                        break;
                case OP_FIX_B64:
                case OP_FIX_DEC:
                        n = op->a;
                        if ((size_t)(r->end - r->p) < n ||
                            (op->op == OP_FIX_B64
                                 ? (chk ? 0 : obytes_b64(o, r->p, n))
                                 : odecimal(o, r->p, n, (int)op->b)))
                                return -1;
                        if (chk)
                                r->json += op->op == OP_FIX_B64
                                               ? (n + 2) / 3 * 4 + 2
                                               : CHK_DECIMAL;
                        r->p += n;
                        break;
                case OP_ENUM: {
                        const uint32_t *s;
                        if (rlong(r, &v) || v < 0 || (uint64_t)v >= op->b)
                                return -1;
                        s = &r->pl->tab[op->a + 2 * (size_t)v];
                        if (chk) {
                                r->json += s[1];
                                break;
                        }
                        if (pb_cbuf_need(o, s[1]))
                                return -1;
                        memcpy(o->data + o->len, r->pl->pool + s[0], s[1]);
                        o->len += s[1];
                        break;
                }
                case OP_UNION:
                        if (rlong(r, &v) || v < 0 || (uint64_t)v >= op->a)
                                return -1;
                        if (nret < PLAN_RET_MAX) {
                                /* the branch, then back to op->c */
                                ret[nret++] = op->c;
                                i = r->pl->tab[op->b + (size_t)v];
                                continue;
                        }
                        if (chk ? run_chk(r, r->pl->tab[op->b + (size_t)v])
                                : run_out(r, r->pl->tab[op->b + (size_t)v]))
                                return -1;
                        i = op->c;
                        continue;
                case OP_ARRAY: {
                        size_t idx = 0;
                        for (;;) {
                                int64_t cnt, size;
                                if (rlong(r, &cnt))
                                        return -1;
                                if (cnt < 0) {
                                        if (cnt == INT64_MIN)
                                                return -1;
                                        cnt = -cnt;
                                        if (rlong(r, &size) || size < 0 ||
                                            (uint64_t)size >
                                                (size_t)(r->end - r->p))
                                                return -1;
                                }
                                if (!cnt)
                                        break;
                                if ((uint64_t)cnt >
                                    (size_t)(r->end - r->p) / op->a)
                                        return -1;
                                for (int64_t k = 0; k < cnt; k++, idx++) {
                                        if (idx && chk)
                                                r->json++;
                                        else if (idx) {
                                                if (pb_cbuf_need(o, 1))
                                                        return -1;
                                                o->data[o->len++] = ',';
                                        }
                                        if (chk ? run_chk(r, i + 1)
                                                : run_out(r, i + 1))
                                                return -1;
                                }
                        }
                        i = op->c;
                        continue;
                }
                default:
                        return -1;
                }
                i++;
        }
}

static int run_out(prun_t *r, size_t i) {
        return run_impl(r, i, 0);
}

static int run_chk(prun_t *r, size_t i) {
        return run_impl(r, i, 1);
}

/* a run of plan pl over data[0..len), writing to out (NULL: checking) */
static void run_init(prun_t *r, pb_codec_t *c, const pb_codec_plan_t *pl,
                     const uint8_t *data, size_t len, pb_buf_t *out,
                     pb_event_meta_t *meta) {
        r->pl = pl;
        r->p = data;
        r->end = data + len;
        r->o = out;
        r->json = 0;
        r->meta = meta;
        memset(&r->d, 0, sizeof(r->d));
        r->d.c = c;
}

int pb_codec_plan_run(pb_codec_t *c, const pb_codec_plan_t *pl,
                      const uint8_t *data, size_t len, pb_buf_t *out,
                      pb_event_meta_t *meta) {
        prun_t r;
        run_init(&r, c, pl, data, len, out, meta);
        if (run_out(&r, 0) || r.p != r.end || (out->max && out->len > out->max))
                return -1;
        return 0;
}

int pb_codec_plan_check(pb_codec_t *c, const pb_codec_plan_t *pl,
                        const uint8_t *data, size_t len,
                        pb_event_meta_t *meta) {
        prun_t r;
        run_init(&r, c, pl, data, len, NULL, meta);
        /* near the decoder's output bound: its tree walk decides */
        if (run_chk(&r, 0) || r.p != r.end ||
            r.json + CHK_SLACK > PB_CODEC_MAX_JSON_OUT)
                return -1;
        return 0;
}

int pb_codec_plan_check_envelope(pb_codec_t *c, const pb_codec_plan_t *pl,
                                 const uint8_t *data, size_t len,
                                 pb_event_meta_t *meta) {
        prun_t r;
        run_init(&r, c, pl->env, data, len, NULL, meta);
        return run_chk(&r, 0) ? -1 : 0;
}
