/* partnerbus - the visitor walk over an Avro body (see
 * partnerbus/pb_codec_visit.h). Containers are walked here with the
 * decoder's readers (pb_codec_dec.h; short varints and lengths inline,
 * anything else and every error through them); ints, longs, dates and
 * millisecond instants in range are formatted with the decoder's own
 * formatters, the other scalars by the decoder itself (pb_dec_value), so
 * a leaf's text is byte for byte what the JSON output holds. */
#include <string.h>

#include "partnerbus/pb_codec_visit.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_codec_dec.h"

typedef struct vis {
        pb_dec_t d;
        const pb_codec_visitor_t *v;
        void *ctx;
        pb_buf_t *cells;
        unsigned flags;
        pb_resp_t cb; /* a callback's code, PB_OK */
} vis_t;

static int walk(vis_t *k, const pb_type_t *t, pb_visit_node_t *n);

static int cb_fail(vis_t *k, pb_resp_t r) {
        k->cb = r;
        return -1;
}

/* UTF-8 check as the decoder's string output does it */
static int text_ok(vis_t *k, const uint8_t *s, size_t n) {
        size_t i = 0;
        if (k->flags & PB_VISIT_CHECKED)
                return 0;
        for (; i + 8 <= n; i += 8) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080ULL)
                        break;
        }
        for (; i < n; i++)
                if (s[i] >= 0x80)
                        break;
        /* s[0..i) is ASCII: whole characters */
        if (i < n && !pb_utf8_valid((const char *)s + i, n - i))
                return pb_dec_fail(&k->d, PB_ERR_INVALID,
                                   "string is not valid UTF-8");
        return 0;
}

/* A leaf at node n: appended to the cells when n knows its cell and the
 * buffer has room, else the visitor's */
static inline int leaf(vis_t *k, pb_visit_node_t *n, pb_visit_leaf_t kind,
                       const void *s, size_t len) {
        pb_buf_t *b = k->cells;
        pb_resp_t r;
        if (n->cell >= 0) {
                if (kind == PB_VISIT_NULL)
                        return 0;
                if (len <= 0x7fffffff &&
                    b->len + 2 * sizeof(uint32_t) + len < b->cap) {
                        uint32_t hd[2];
                        hd[0] = (uint32_t)n->cell;
                        hd[1] = (uint32_t)len |
                                (kind == PB_VISIT_NUMBER ? PB_VISIT_NUMBER_CELL
                                                         : 0);
                        memcpy(b->data + b->len, hd, sizeof(hd));
                        memcpy(b->data + b->len + sizeof(hd), s, len);
                        b->len += sizeof(hd) + len;
                        return 0;
                }
        }
        r = k->v->leaf(k->ctx, n, kind, (const char *)s, len);
        return r == PB_OK ? 0 : cb_fail(k, r);
}

/* pb_dec_push without a call (the call reports the error) */
static inline int push(vis_t *k, const char *name, size_t len) {
        if (!pb_codec_push(k->d.c, PB_CODEC_MAX_DEPTH, name, len))
                return 0;
        return pb_dec_push(&k->d, name, len);
}

/* pb_dec_long, one- and two-byte varints without a call */
static inline int rd_long(vis_t *k, int64_t *v) {
        const uint8_t *p = k->d.p;
        uint64_t z;
        if (p < k->d.end && p[0] < 0x80) {
                z = p[0];
                k->d.p = p + 1;
        } else if (k->d.end - p >= 2 && p[1] < 0x80) {
                z = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
                k->d.p = p + 2;
        } else
                return pb_dec_long(&k->d, v);
        *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        return 0;
}

/* pb_dec_len for short lengths without a call; anything else (and every
 * error) through pb_dec_len from the same position */
static inline int rd_len(vis_t *k, const char *what, size_t *n) {
        const uint8_t *p0 = k->d.p;
        int64_t v;
        if (rd_long(k, &v))
                return -1;
        if (v < 0 || (uint64_t)v > (size_t)(k->d.end - k->d.p)) {
                k->d.p = p0;
                return pb_dec_len(&k->d, what, n);
        }
        *n = (size_t)v;
        return 0;
}

/* int, long, date and timestamp-millis as the decoder writes them, or 1:
 * not one of those or not in range (nothing read; the decoder decides) */
static int fast_number(vis_t *k, const pb_type_t *t, pb_visit_node_t *n,
                       int *rc) {
        char b[32];
        int64_t x;
        size_t used;
        if (pb_zz_decode(k->d.p, k->d.end, &x, &used) != PB_OK)
                return 1;
        if (t->logical == PB_L_NONE &&
            (t->kind == PB_T_LONG || (x >= INT32_MIN && x <= INT32_MAX))) {
                char *s = pb_i64_text(b + sizeof(b), x);
                k->d.p += used;
                *rc =
                    leaf(k, n, PB_VISIT_NUMBER, s, (size_t)(b + sizeof(b) - s));
                return 0;
        }
        if (t->kind == PB_T_INT && t->logical == PB_L_DATE && x >= -719162 &&
            x <= 2932896) {
                pb_dec_fmt_date(x, b);
                k->d.p += used;
                *rc = leaf(k, n, PB_VISIT_TEXT, b, 10);
                return 0;
        }
        if (t->kind == PB_T_LONG && t->logical == PB_L_TIMESTAMP_MILLIS &&
            x >= -62135596800000LL && x <= 253402300799999LL) {
                pb_dec_fmt_instant(x, b);
                k->d.p += used;
                *rc = leaf(k, n, PB_VISIT_TEXT, b, 24);
                return 0;
        }
        return 1;
}

static int step(vis_t *k, pb_visit_node_t *n, pb_visit_step_t st,
                const char *name, size_t len, size_t index,
                const pb_type_t *t) {
        pb_visit_node_t *c;
        if (st == PB_VISIT_KEY || index >= n->nkids || !(c = n->kids[index])) {
                pb_resp_t r = PB_OK;
                c = k->v->child(k->ctx, n, st, name, len, index, &r);
                if (!c)
                        return cb_fail(k, r != PB_OK ? r : PB_ERR_INVALID);
        }
        return walk(k, t, c);
}

static int walk_record(vis_t *k, const pb_type_t *t, pb_visit_node_t *n) {
        for (size_t i = 0; i < t->nfields; i++) {
                const pb_field_t *f = &t->fields[i];
                if (push(k, f->name, f->namelen) ||
                    step(k, n, PB_VISIT_FIELD, f->name, f->namelen, i, f->type))
                        return -1;
                k->d.c->depth--;
        }
        return 0;
}

/* Arrays and maps: blocks of items, a map's each after its key (keys are
 * strings of at least one byte, hence extra = 1). */
static int walk_items(vis_t *k, const pb_type_t *t, pb_visit_node_t *nd,
                      int map) {
        size_t idx = 0, kl = 0;
        int64_t n;
        for (;;) {
                if (pb_dec_block(&k->d, t->items, (size_t)map, &n))
                        return -1;
                if (!n)
                        return 0;
                for (int64_t j = 0; j < n; j++, idx++) {
                        const char *key = NULL;
                        if (map) {
                                if (rd_len(k, "map key", &kl) ||
                                    text_ok(k, k->d.p, kl))
                                        return -1;
                                key = (const char *)k->d.p;
                                k->d.p += kl;
                        }
                        if (push(k, key, map ? kl : idx) ||
                            step(k, nd, map ? PB_VISIT_KEY : PB_VISIT_ITEM, key,
                                 map ? kl : 0, idx, t->items))
                                return -1;
                        k->d.c->depth--;
                }
        }
}

static int walk(vis_t *k, const pb_type_t *t, pb_visit_node_t *nd) {
        pb_buf_t *o = &k->d.c->seg;
        int64_t v;
        size_t n;
        switch (t->kind) {
        case PB_T_NULL:
                return leaf(k, nd, PB_VISIT_NULL, "", 0);
        case PB_T_STRING:
                if (rd_len(k, "string", &n) || text_ok(k, k->d.p, n))
                        return -1;
                k->d.p += n;
                return leaf(k, nd, PB_VISIT_TEXT, k->d.p - n, n);
        case PB_T_RECORD:
                return walk_record(k, t, nd);
        case PB_T_ARRAY:
        case PB_T_MAP:
                return walk_items(k, t, nd, t->kind == PB_T_MAP);
        case PB_T_UNION: {
                const pb_type_t *b;
                if (rd_long(k, &v) || pb_dec_index(&k->d, t, v, t->nbranches))
                        return -1;
                b = t->branches[v];
                if ((k->flags & PB_VISIT_FLAT_UNIONS) &&
                    b->kind != PB_T_RECORD && b->kind != PB_T_ARRAY &&
                    b->kind != PB_T_MAP)
                        return walk(k, b, nd);
                return step(k, nd, PB_VISIT_BRANCH, NULL, 0, (size_t)v, b);
        }
        case PB_T_ENUM:
                /* the symbol itself: the decoder's text without quotes
                 * (symbols need no escaping) */
                if (rd_long(k, &v) || pb_dec_index(&k->d, t, v, t->nsymbols))
                        return -1;
                return leaf(k, nd, PB_VISIT_TEXT, t->symbols[v],
                            strlen(t->symbols[v]));
        case PB_T_INT:
        case PB_T_LONG: {
                int rc;
                if (!fast_number(k, t, nd, &rc))
                        return rc;
                break;
        }
        default:
                break;
        }
        /* the other scalars: the decoder's own text */
        pb_buf_reset(o);
        if (pb_dec_value(&k->d, t, o))
                return -1;
        if (o->len >= 2 && o->data[0] == '"')
                return leaf(k, nd, PB_VISIT_TEXT, o->data + 1, o->len - 2);
        if (t->kind == PB_T_BOOLEAN)
                return leaf(k, nd, PB_VISIT_BOOL, o->data, o->len);
        return leaf(k, nd, PB_VISIT_NUMBER, o->data, o->len);
}

pb_resp_t pb_codec_visit(pb_codec_t *c, const pb_schema_t *writer,
                         const uint8_t *data, size_t len, unsigned flags,
                         const pb_codec_visitor_t *v, void *ctx,
                         pb_visit_node_t *root, pb_buf_t *cells, char *errstr,
                         size_t errstr_size) {
        vis_t k;
        int rc;
        if (errstr && errstr_size)
                errstr[0] = 0;
        if (!c || !writer || !writer->root || !v || !v->child || !v->leaf ||
            !root || !cells || (!data && len))
                return PB_ERR_ARG;
        memset(&k, 0, sizeof(k));
        pb_dec_start(&k.d, c, data, len, errstr, errstr_size);
        k.v = v;
        k.ctx = ctx;
        k.cells = cells;
        k.flags = flags;
        rc = pb_dec_finish(&k.d, walk(&k, writer->root, root));
        if (c->seg.cap > (1u << 20))
                pb_buf_free(&c->seg);
        if (!rc)
                return PB_OK;
        if (k.cb != PB_OK)
                return k.cb;
        return k.d.err != PB_OK ? k.d.err : PB_ERR_INVALID;
}
