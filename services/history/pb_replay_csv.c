/* partnerbus - events to CSV (see pb_replay.h): flatten each event into
 * (column, cell) pairs, spool them, and write header + rows at the end
 * when every column is known.
 *
 * Two ways in, one column table: pb_replay_csv_add_avro() walks the Avro
 * body with the codec's visitor (pb_codec_visit.h) and finds each leaf's
 * column through a plan - a tree of the paths seen so far (record member,
 * array index, union branch of a record, array or map) whose leaves
 * remember their column id, so a path is spelled out and hashed only the
 * first time; the walk follows the plan's nodes itself and appends the
 * cells of known columns to the row without a callback;
 * pb_replay_csv_add()
 * flattens a parsed JSON event (events read with another schema than
 * their own, and the reference the unit test compares the walk with).
 * Both give a column the same name and sort key, so rows of either kind
 * share one file. At the end a row whose cells come in column order (the
 * usual case: schema order, array elements by index) is written in one
 * pass, any other by position. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_codec_visit.h"
#include "partnerbus/pb_util.h"
#include "pb_replay.h"

/* in a spooled cell length: the cell is a JSON number */
#define CELL_NUMERIC  PB_VISIT_NUMBER_CELL
#define MAX_DEC_PATHS 1024
#define MAX_NAMED     256
/* plan nodes kept (beyond, paths are looked up by name every time) */
#define MAX_PLAN_NODES (1u << 18)
/* array elements per array whose paths the plan keeps */
#define MAX_PLAN_INDEX 4096
#define SPOOL_BUF      (1u << 20)
/* CSV bytes gathered before a write */
#define OUT_BATCH (1u << 16)

typedef struct csv_col {
        char *name;
        uint32_t *key; /* sort key: member ordinal / array index per level */
        size_t nkey;
        uint32_t pos; /* final position */
} csv_col_t;

/* One step of a path in the plan. Nodes in `kids` are kept; a node made
 * for a map entry (or past the bounds above) is temporary: it lives in
 * tmp[] at its depth and its leaves are looked up by name. The walk
 * follows base.kids and appends a leaf with a known column (base.cell)
 * itself (pb_codec_visit.h). */
typedef struct plan_node {
        pb_visit_node_t base; /* first: kids point at their bases */
        struct plan_node *parent;
        char *seg; /* member name or map key (not for items, branches) */
        size_t seglen;
        uint32_t ord; /* the step's sort key (ordinal or index) */
        uint8_t step; /* pb_visit_step_t; the root: PB_VISIT_BRANCH */
        uint8_t temp;
        int depth; /* steps below the root */
} plan_node_t;

struct pb_replay_csv {
        FILE *spool;
        char *spoolbuf;
        csv_col_t *cols;
        size_t ncols, capcols;
        uint32_t *hash; /* col id + 1, 0 = empty */
        size_t hcap;
        uint64_t rows;
        pb_buf_t path;
        uint32_t key[PB_CODEC_MAX_DEPTH + 1];
        pb_buf_t row; /* the row being added: (id, len, bytes)... */
        int err;
        pb_csv_dialect_t dialect;
        char **dec; /* the schema's decimal fields, array indices left out */
        size_t ndec;
        /* the plan of pb_replay_csv_add_avro */
        plan_node_t root;
        size_t nnodes;
        plan_node_t tmp[2 * PB_CODEC_MAX_DEPTH + 8]; /* temporary nodes */
        char itoa[24];
};

pb_replay_csv_t *pb_replay_csv_new(void) {
        pb_replay_csv_t *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->spool = tmpfile();
        w->spoolbuf = malloc(SPOOL_BUF);
        if (!w->spool || !w->spoolbuf) {
                if (w->spool)
                        fclose(w->spool);
                free(w->spoolbuf);
                free(w);
                return NULL;
        }
        setvbuf(w->spool, w->spoolbuf, _IOFBF, SPOOL_BUF);
        pb_buf_init(&w->path, 0);
        pb_buf_init(&w->row, 0);
        w->root.step = PB_VISIT_BRANCH;
        w->root.base.cell = -1;
        return w;
}

static void plan_free(plan_node_t *n) {
        size_t i;
        for (i = 0; i < n->base.nkids; i++)
                if (n->base.kids[i]) {
                        plan_free((plan_node_t *)n->base.kids[i]);
                        free(n->base.kids[i]);
                }
        free(n->base.kids);
        free(n->seg);
}

void pb_replay_csv_destroy(pb_replay_csv_t *w) {
        size_t i;
        if (!w)
                return;
        if (w->spool)
                fclose(w->spool);
        free(w->spoolbuf);
        for (i = 0; i < w->ncols; i++) {
                free(w->cols[i].name);
                free(w->cols[i].key);
        }
        free(w->cols);
        free(w->hash);
        pb_buf_free(&w->path);
        pb_buf_free(&w->row);
        plan_free(&w->root);
        for (i = 0; i < w->ndec; i++)
                free(w->dec[i]);
        free(w->dec);
        free(w);
}

pb_resp_t pb_replay_csv_error(const pb_replay_csv_t *w) {
        return (pb_resp_t)w->err;
}

uint64_t pb_replay_csv_rows(const pb_replay_csv_t *w) {
        return w ? w->rows : 0;
}

/* the column hash built anew with nc slots (a power of 2) */
static int hash_build(pb_replay_csv_t *w, size_t nc) {
        size_t i;
        uint32_t *nh = calloc(nc, sizeof(*nh));
        if (!nh)
                return -1;
        for (i = 0; i < w->ncols; i++) {
                size_t j = pb_fnv1a(w->cols[i].name, strlen(w->cols[i].name)) &
                           (nc - 1);
                while (nh[j])
                        j = (j + 1) & (nc - 1);
                nh[j] = (uint32_t)i + 1;
        }
        free(w->hash);
        w->hash = nh;
        w->hcap = nc;
        return 0;
}

static int rehash(pb_replay_csv_t *w) {
        return hash_build(w, w->hcap ? w->hcap * 2 : 256);
}

/* the plan's nodes whose column came after the first `keep` forget it
 * (found again by name when a later event reaches them) */
static void plan_forget(plan_node_t *n, size_t keep) {
        size_t i;
        if (n->base.cell >= 0 && (size_t)n->base.cell >= keep)
                n->base.cell = -1;
        for (i = 0; i < n->base.nkids; i++)
                if (n->base.kids[i])
                        plan_forget((plan_node_t *)n->base.kids[i], keep);
}

/* Back to the first `keep` columns, after an event whose body turned out
 * bad: its row is not written, and columns only it brought would stand
 * empty in the header. 0, or -1 out of memory (w->err set). */
static int cols_rollback(pb_replay_csv_t *w, size_t keep) {
        size_t i;
        if (w->ncols <= keep)
                return 0;
        plan_forget(&w->root, keep);
        for (i = keep; i < w->ncols; i++) {
                free(w->cols[i].name);
                free(w->cols[i].key);
        }
        w->ncols = keep;
        if (hash_build(w, w->hcap ? w->hcap : 256))
                return w->err = PB_ERR_NOMEM, -1;
        return 0;
}

/* column id of the current path (w->path, w->key[0..depth)), created on
 * first sight; -1 on failure (w->err set) */
static long col_id(pb_replay_csv_t *w, int depth) {
        const char *name = w->path.data ? (const char *)w->path.data : "";
        size_t n = w->path.len, j;
        csv_col_t *c;
        if (w->ncols * 2 >= w->hcap && rehash(w))
                return w->err = PB_ERR_NOMEM, -1;
        j = pb_fnv1a(name, n) & (w->hcap - 1);
        while (w->hash[j]) {
                c = &w->cols[w->hash[j] - 1];
                if (strlen(c->name) == n && !memcmp(c->name, name, n))
                        return (long)w->hash[j] - 1;
                j = (j + 1) & (w->hcap - 1);
        }
        if (w->ncols >= PB_CSVOUT_MAX_COLUMNS)
                return w->err = PB_ERR_LIMIT, -1;
        if (PB_ARRAY_RESERVE(w->cols, w->capcols, w->ncols, 1, 64))
                return w->err = PB_ERR_NOMEM, -1;
        c = &w->cols[w->ncols];
        c->name = malloc(n + 1);
        c->key = malloc((size_t)(depth ? depth : 1) * sizeof(uint32_t));
        if (!c->name || !c->key) {
                free(c->name);
                free(c->key);
                return w->err = PB_ERR_NOMEM, -1;
        }
        memcpy(c->name, name, n);
        c->name[n] = 0;
        memcpy(c->key, w->key, (size_t)depth * sizeof(uint32_t));
        c->nkey = (size_t)depth;
        w->hash[j] = (uint32_t)w->ncols + 1;
        return (long)w->ncols++;
}

/* one cell of the current row */
static int put_cell(pb_replay_csv_t *w, long id, const char *cell,
                    size_t celllen, uint32_t numeric) {
        uint32_t hd[2];
        if (celllen > 0x7fffffff)
                return w->err = PB_ERR_LIMIT, -1;
        hd[0] = (uint32_t)id;
        hd[1] = (uint32_t)celllen | numeric;
        if (w->row.len + sizeof(hd) + celllen >= w->row.cap &&
            pb_buf_reserve(&w->row, sizeof(hd) + celllen) != PB_OK)
                return w->err = PB_ERR_NOMEM, -1;
        memcpy(w->row.data + w->row.len, hd, sizeof(hd));
        if (celllen)
                memcpy(w->row.data + w->row.len + sizeof(hd), cell, celllen);
        w->row.len += sizeof(hd) + celllen;
        return 0;
}

/* starts a row: room for its length, written by end_row */
static int start_row(pb_replay_csv_t *w) {
        pb_buf_reset(&w->row);
        if (w->row.cap < 64 && pb_buf_reserve(&w->row, 64) != PB_OK)
                return w->err = PB_ERR_NOMEM, -1;
        w->row.len = sizeof(uint32_t);
        return 0;
}

/* the current row to the spool: its length, then its cells (one write) */
static pb_resp_t end_row(pb_replay_csv_t *w) {
        size_t len = w->row.len - sizeof(uint32_t);
        uint32_t n = (uint32_t)len;
        if (len > 0xffffffffu)
                return (pb_resp_t)(w->err = PB_ERR_LIMIT);
        memcpy(w->row.data, &n, sizeof(n));
        if (fwrite(w->row.data, 1, w->row.len, w->spool) != w->row.len)
                return (pb_resp_t)(w->err = PB_ERR_IO);
        w->rows++;
        return PB_OK;
}

static int flatten(pb_replay_csv_t *w, const pb_json_t *v, int depth) {
        size_t mark = w->path.len, i;
        const pb_json_t *c;
        const char *cell;
        size_t celllen;
        uint32_t numeric = 0;
        long id;
        if (depth > PB_CODEC_MAX_DEPTH)
                return w->err = PB_ERR_LIMIT, -1;
        switch (v->type) {
        case PB_JSON_OBJECT:
        case PB_JSON_ARRAY:
                for (c = v->child, i = 0; c; c = c->next, i++) {
                        char idx[24];
                        int r;
                        if (mark && pb_buf_putc(&w->path, '.') != PB_OK)
                                return w->err = PB_ERR_NOMEM, -1;
                        if (v->type == PB_JSON_OBJECT)
                                r = pb_buf_append(&w->path, c->key,
                                                  c->keylen) != PB_OK;
                        else {
                                int l = snprintf(idx, sizeof(idx), "%zu", i);
                                r = pb_buf_append(&w->path, idx, (size_t)l) !=
                                    PB_OK;
                        }
                        if (r)
                                return w->err = PB_ERR_NOMEM, -1;
                        w->key[depth] = (uint32_t)i;
                        if (flatten(w, c, depth + 1))
                                return -1;
                        w->path.len = mark;
                        w->path.data[mark] = 0;
                }
                return 0;
        case PB_JSON_NULL:
                return 0; /* empty cell */
        case PB_JSON_TRUE:
                cell = "true", celllen = 4;
                break;
        case PB_JSON_FALSE:
                cell = "false", celllen = 5;
                break;
        case PB_JSON_NUMBER:
                cell = v->str, celllen = v->len;
                numeric = CELL_NUMERIC;
                break;
        default:
                cell = v->str, celllen = v->len;
                break;
        }
        if (!w->path.data && pb_buf_reserve(&w->path, 16) != PB_OK)
                return w->err = PB_ERR_NOMEM, -1;
        if ((id = col_id(w, depth)) < 0)
                return -1;
        return put_cell(w, id, cell, celllen, numeric);
}

pb_resp_t pb_replay_csv_add(pb_replay_csv_t *w, const pb_json_t *event) {
        if (!w || !event)
                return PB_ERR_ARG;
        if (w->err)
                return (pb_resp_t)w->err;
        pb_buf_reset(&w->path);
        if (start_row(w) || flatten(w, event, 0))
                return (pb_resp_t)w->err;
        return end_row(w);
}

/* --- from the Avro body through the plan --- */

/* Spells out the path of leaf n into w->path and w->key; its depth, or -1
 * (w->err set). */
static int plan_path(pb_replay_csv_t *w, const plan_node_t *n) {
        const plan_node_t *chain[PB_CODEC_MAX_DEPTH + 8];
        int k = 0, depth = 0;
        for (; n && n->parent; n = n->parent) {
                if (n->step == PB_VISIT_BRANCH)
                        continue;
                if (k == PB_CODEC_MAX_DEPTH + 1)
                        return w->err = PB_ERR_LIMIT, -1;
                chain[k++] = n;
        }
        pb_buf_reset(&w->path);
        if (pb_buf_reserve(&w->path, 16) != PB_OK)
                return w->err = PB_ERR_NOMEM, -1;
        while (k--) {
                const plan_node_t *s = chain[k];
                char idx[24];
                const char *seg = s->seg;
                size_t len = s->seglen;
                if (s->step == PB_VISIT_ITEM) {
                        len = (size_t)snprintf(idx, sizeof(idx), "%u", s->ord);
                        seg = idx;
                }
                if ((depth && pb_buf_putc(&w->path, '.') != PB_OK) ||
                    pb_buf_append(&w->path, seg, len) != PB_OK)
                        return w->err = PB_ERR_NOMEM, -1;
                w->key[depth++] = s->ord;
        }
        return depth;
}

/* the node for a step the plan does not hold yet (or never keeps) */
static pb_visit_node_t *v_child(void *ctx, pb_visit_node_t *pn,
                                pb_visit_step_t st, const char *name,
                                size_t namelen, size_t index, pb_resp_t *code) {
        pb_replay_csv_t *w = ctx;
        plan_node_t *p = (plan_node_t *)pn, *n;
        if (p->depth >= 2 * PB_CODEC_MAX_DEPTH + 6) {
                *code = (pb_resp_t)(w->err = PB_ERR_LIMIT);
                return NULL;
        }
        if (!p->temp && st != PB_VISIT_KEY && index < MAX_PLAN_INDEX &&
            index <= 0x7fffffff && w->nnodes < MAX_PLAN_NODES) {
                if (index >= p->base.nkids) {
                        size_t nk = p->base.nkids ? p->base.nkids : 4;
                        pb_visit_node_t **nkids;
                        while (nk <= index)
                                nk *= 2;
                        nkids = realloc(p->base.kids, nk * sizeof(*nkids));
                        if (!nkids) {
                                *code = (pb_resp_t)(w->err = PB_ERR_NOMEM);
                                return NULL;
                        }
                        memset(nkids + p->base.nkids, 0,
                               (nk - p->base.nkids) * sizeof(*nkids));
                        p->base.kids = nkids;
                        p->base.nkids = nk;
                }
                n = calloc(1, sizeof(*n));
                if (!n || (namelen && !(n->seg = malloc(namelen)))) {
                        free(n);
                        *code = (pb_resp_t)(w->err = PB_ERR_NOMEM);
                        return NULL;
                }
                if (namelen)
                        memcpy(n->seg, name, namelen);
                n->seglen = namelen;
                n->parent = p;
                n->ord = (uint32_t)index;
                n->step = (uint8_t)st;
                n->depth = p->depth + 1;
                n->base.cell = -1;
                p->base.kids[index] = &n->base;
                w->nnodes++;
                return &n->base;
        }
        /* a temporary node: the name points into the body being walked */
        n = &w->tmp[p->depth];
        memset(n, 0, sizeof(*n));
        n->parent = p;
        n->seg = (char *)name;
        n->seglen = namelen;
        n->ord = (uint32_t)index;
        n->step = (uint8_t)st;
        n->temp = 1;
        n->depth = p->depth + 1;
        n->base.cell = -1;
        return &n->base;
}

/* a leaf whose column is not known yet, or a row to grow */
static pb_resp_t v_leaf(void *ctx, pb_visit_node_t *nb, pb_visit_leaf_t kind,
                        const char *text, size_t len) {
        pb_replay_csv_t *w = ctx;
        plan_node_t *n = (plan_node_t *)nb;
        long id = n->base.cell;
        if (kind == PB_VISIT_NULL)
                return PB_OK; /* empty cell */
        if (id < 0) {
                int depth = plan_path(w, n);
                if (depth < 0 || (id = col_id(w, depth)) < 0)
                        return (pb_resp_t)w->err;
                if (!n->temp)
                        n->base.cell = (int32_t)id;
        }
        if (put_cell(w, id, text, len,
                     kind == PB_VISIT_NUMBER ? CELL_NUMERIC : 0))
                return (pb_resp_t)w->err;
        return PB_OK;
}

static const pb_codec_visitor_t csv_visitor = {v_child, v_leaf};

pb_resp_t pb_replay_csv_add_avro(pb_replay_csv_t *w, pb_codec_t *c,
                                 const pb_schema_t *writer, const uint8_t *body,
                                 size_t len, unsigned flags, char *errstr,
                                 size_t errstr_size) {
        pb_resp_t r;
        size_t ncols;
        if (errstr && errstr_size)
                errstr[0] = 0;
        if (!w || !c || !writer)
                return PB_ERR_ARG;
        if (w->err)
                return (pb_resp_t)w->err;
        if (start_row(w))
                return (pb_resp_t)w->err;
        ncols = w->ncols;
        /* a path has no step for a union branch: scalar branches share
         * the member's node */
        r = pb_codec_visit(c, writer, body, len, flags | PB_VISIT_FLAT_UNIONS,
                           &csv_visitor, w, &w->root.base, &w->row, errstr,
                           errstr_size);
        if (r != PB_OK && w->err == PB_ERR_LIMIT &&
            !(flags & PB_VISIT_CHECKED)) {
                /* too many columns, or too deep: from a body that is bad
                 * further on, that is the body's fault, not the file's */
                pb_resp_t rc = pb_codec_check(c, writer, NULL, body, len, NULL,
                                              errstr, errstr_size);
                if (rc != PB_OK) {
                        w->err = 0;
                        r = rc;
                }
        }
        if (r != PB_OK && !w->err && cols_rollback(w, ncols) == 0)
                return r; /* a bad body: no row, no column of its own */
        if (r != PB_OK) {
                if (errstr && errstr_size)
                        snprintf(errstr, errstr_size, "%s",
                                 pb_err2str((pb_resp_t)w->err));
                return (pb_resp_t)w->err;
        }
        return end_row(w);
}

/* any byte of x equal to c? (8 bytes at a time) */
static inline uint64_t has_byte(uint64_t x, uint8_t c) {
        const uint64_t ones = 0x0101010101010101ULL;
        uint64_t v = x ^ (ones * c);
        return (v - ones) & ~v & (ones * 0x80);
}

/* any byte of x equal to sep, '"', CR or LF? */
static inline uint64_t special8(uint64_t x, uint8_t sep) {
        return has_byte(x, sep) | has_byte(x, '"') | has_byte(x, '\r') |
               has_byte(x, '\n');
}

/* 1 when s[0..n) holds `sep`, '"', CR or LF: the cell must be quoted.
 * Eight bytes at a time; the last (partial) word overlaps the one before
 * it, or is zero-padded (a zero byte matches none of the four). */
static int needs_quotes(const char *s, size_t n, char sep) {
        uint64_t x = 0;
        size_t i;
        if (n >= 8) {
                for (i = 0; i + 8 <= n; i += 8) {
                        memcpy(&x, s + i, 8);
                        if (special8(x, (uint8_t)sep))
                                return 1;
                }
                if (i == n)
                        return 0;
                memcpy(&x, s + n - 8, 8);
        } else if (n >= 4) {
                uint32_t a, b;
                memcpy(&a, s, 4);
                memcpy(&b, s + n - 4, 4);
                x = (uint64_t)a | (uint64_t)b << 32;
        } else {
                for (i = 0; i < n; i++)
                        x |= (uint64_t)(uint8_t)s[i] << (8 * i);
        }
        return special8(x, (uint8_t)sep) != 0;
}

pb_resp_t pb_replay_csv_cell(pb_buf_t *b, const char *s, size_t n) {
        size_t i;
        pb_resp_t r;
        if (!needs_quotes(s, n, ','))
                return pb_buf_append(b, s, n);
        if ((r = pb_buf_putc(b, '"')) != PB_OK)
                return r;
        /* spans up to and including each quote, which is doubled */
        for (i = 0; i < n;) {
                const char *q = memchr(s + i, '"', n - i);
                size_t end = q ? (size_t)(q - s) + 1 : n;
                if ((r = pb_buf_append(b, s + i, end - i)) != PB_OK ||
                    (q && (r = pb_buf_putc(b, '"')) != PB_OK))
                        return r;
                i = end;
        }
        return pb_buf_putc(b, '"');
}

int pb_replay_csv_dialect_parse(const char *name, pb_csv_dialect_t *d) {
        if (!name || !d)
                return -1;
        if (!strcmp(name, "rfc4180"))
                *d = PB_CSV_RFC4180;
        else if (!strcmp(name, "excel-de"))
                *d = PB_CSV_EXCEL_DE;
        else
                return -1;
        return 0;
}

static int formula_start(char c) {
        return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' ||
               c == '\r';
}

pb_resp_t pb_replay_csv_cell_dialect(pb_buf_t *b, pb_csv_dialect_t d,
                                     const char *s, size_t n, int numeric) {
        size_t i;
        int quote, guard;
        pb_resp_t r;
        if (d != PB_CSV_EXCEL_DE)
                return pb_replay_csv_cell(b, s, n);
        guard = !numeric && n && formula_start(s[0]);
        quote = needs_quotes(s, n, ';');
        if (!quote && !guard && !(numeric && memchr(s, '.', n)))
                return pb_buf_append(b, s, n);
        if (quote && (r = pb_buf_putc(b, '"')) != PB_OK)
                return r;
        if (guard && (r = pb_buf_putc(b, '\'')) != PB_OK)
                return r;
        for (i = 0; i < n; i++) {
                uint8_t c = (uint8_t)s[i];
                if (numeric && c == '.')
                        c = ',';
                if (quote && c == '"' && (r = pb_buf_putc(b, '"')) != PB_OK)
                        return r;
                if ((r = pb_buf_putc(b, c)) != PB_OK)
                        return r;
        }
        return quote ? pb_buf_putc(b, '"') : PB_OK;
}

/* --- the schema's decimal fields, as dotted paths without array indices */
typedef struct dec_named {
        const pb_json_t *def;
        char full[256]; /* namespace.name */
} dec_named_t;

typedef struct dec_walk {
        pb_replay_csv_t *w;
        dec_named_t named[MAX_NAMED];
        size_t nnamed;
        pb_buf_t path;
        pb_resp_t err;
} dec_walk_t;

static int str_is(const pb_json_t *v, const char *s) {
        return v && v->type == PB_JSON_STRING && v->len == strlen(s) &&
               !memcmp(v->str, s, v->len);
}

/* the full name of a name or reference seen in namespace ns */
static void full_name(char *out, size_t size, const char *nm, size_t nmlen,
                      const char *ns, size_t nslen) {
        if (memchr(nm, '.', nmlen) || !nslen)
                snprintf(out, size, "%.*s", (int)nmlen, nm);
        else
                snprintf(out, size, "%.*s.%.*s", (int)nslen, ns, (int)nmlen,
                         nm);
}

static void dec_walk(dec_walk_t *k, const pb_json_t *t, const char *ns,
                     size_t nslen, int depth) {
        const pb_json_t *c, *nm, *tns;
        size_t i;
        if (!t || k->err || depth > PB_CODEC_MAX_DEPTH)
                return;
        if (t->type == PB_JSON_STRING) {
                char full[256];
                full_name(full, sizeof(full), t->str, t->len, ns, nslen);
                for (i = 0; i < k->nnamed; i++)
                        if (!strcmp(k->named[i].full, full)) {
                                const char *dot = strrchr(full, '.');
                                dec_walk(k, k->named[i].def, full,
                                         dot ? (size_t)(dot - full) : 0,
                                         depth + 1);
                                return;
                        }
                return;
        }
        if (t->type == PB_JSON_ARRAY) {
                for (c = t->child; c; c = c->next)
                        dec_walk(k, c, ns, nslen, depth + 1);
                return;
        }
        if (t->type != PB_JSON_OBJECT)
                return;
        if (str_is(pb_json_get(t, "logicalType"), "decimal")) {
                char *p;
                if (k->w->ndec >= MAX_DEC_PATHS)
                        return;
                p = malloc(k->path.len + 1);
                if (!p) {
                        k->err = PB_ERR_NOMEM;
                        return;
                }
                memcpy(p, k->path.data ? (const char *)k->path.data : "",
                       k->path.len);
                p[k->path.len] = 0;
                k->w->dec[k->w->ndec++] = p;
                return;
        }
        c = pb_json_get(t, "type");
        if (str_is(c, "array")) {
                dec_walk(k, pb_json_get(t, "items"), ns, nslen, depth + 1);
                return;
        }
        if (!str_is(c, "record") && !str_is(c, "error")) {
                if (c && c->type != PB_JSON_STRING)
                        dec_walk(k, c, ns, nslen, depth + 1);
                return;
        }
        nm = pb_json_get(t, "name");
        tns = pb_json_get(t, "namespace");
        if (tns && tns->type == PB_JSON_STRING)
                ns = tns->str, nslen = tns->len;
        if (nm && nm->type == PB_JSON_STRING && k->nnamed < MAX_NAMED) {
                dec_named_t *d = &k->named[k->nnamed++];
                const char *dot;
                d->def = t;
                full_name(d->full, sizeof(d->full), nm->str, nm->len, ns,
                          nslen);
                dot = strrchr(d->full, '.');
                ns = d->full, nslen = dot ? (size_t)(dot - d->full) : 0;
        }
        c = pb_json_get(t, "fields");
        if (!c || c->type != PB_JSON_ARRAY)
                return;
        for (c = c->child; c; c = c->next) {
                const pb_json_t *fn = pb_json_get(c, "name");
                size_t mark = k->path.len;
                if (!fn || fn->type != PB_JSON_STRING)
                        continue;
                if ((mark && pb_buf_putc(&k->path, '.') != PB_OK) ||
                    pb_buf_append(&k->path, fn->str, fn->len) != PB_OK) {
                        k->err = PB_ERR_NOMEM;
                        return;
                }
                dec_walk(k, pb_json_get(c, "type"), ns, nslen, depth + 1);
                k->path.len = mark;
        }
}

pb_resp_t pb_replay_csv_set_dialect(pb_replay_csv_t *w, pb_csv_dialect_t d,
                                    const char *schema_json) {
        pb_json_parser_t *p;
        const pb_json_t *root;
        dec_walk_t *k;
        pb_resp_t r;
        if (!w)
                return PB_ERR_ARG;
        w->dialect = d;
        if (!schema_json || w->dec)
                return PB_OK;
        w->dec = calloc(MAX_DEC_PATHS, sizeof(*w->dec));
        k = calloc(1, sizeof(*k));
        p = pb_json_parser_new(NULL);
        if (!w->dec || !k || !p) {
                free(k);
                pb_json_parser_destroy(p);
                return PB_ERR_NOMEM;
        }
        pb_buf_init(&k->path, 0);
        k->w = w;
        root = pb_json_parse(p, schema_json, strlen(schema_json), NULL, 0);
        if (root)
                dec_walk(k, root, "", 0, 0);
        r = root ? k->err : PB_ERR_PARSE;
        pb_buf_free(&k->path);
        free(k);
        pb_json_parser_destroy(p);
        return r;
}

/* 1 when the column (items.0.x -> items.x) is one of the decimal fields */
static int is_decimal_col(const pb_replay_csv_t *w, const char *name) {
        char g[1024];
        size_t n = 0, i;
        const char *s = name;
        while (*s) {
                const char *e = strchr(s, '.');
                size_t l = e ? (size_t)(e - s) : strlen(s), j;
                int digits = l > 0;
                for (j = 0; j < l; j++)
                        if (s[j] < '0' || s[j] > '9')
                                digits = 0;
                if (!digits) {
                        if (n + l + 2 > sizeof(g))
                                return 0;
                        if (n)
                                g[n++] = '.';
                        memcpy(g + n, s, l);
                        n += l;
                }
                s += l + (e ? 1 : 0);
        }
        g[n] = 0;
        for (i = 0; i < w->ndec; i++)
                if (!strcmp(w->dec[i], g))
                        return 1;
        return 0;
}

/* needs_quotes() for a cell followed by at least ROW_PAD readable bytes
 * (the rows read back in pb_replay_csv_finish): 16 bytes at a time, the
 * last block masked to the cell */
#define ROW_PAD 16
#if defined(__SSE2__)
static inline int needs_quotes_padded(const char *s, size_t n, char sep) {
        const __m128i cs = _mm_set1_epi8(sep), cq = _mm_set1_epi8('"');
        const __m128i cr = _mm_set1_epi8('\r'), cl = _mm_set1_epi8('\n');
        size_t i = 0;
        for (;;) {
                __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
                __m128i m = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(x, cs), _mm_cmpeq_epi8(x, cq)),
                    _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, cl)));
                unsigned bits = (unsigned)_mm_movemask_epi8(m);
                if (n - i <= 16) {
                        if (n - i < 16)
                                bits &= (1u << (n - i)) - 1;
                        return bits != 0;
                }
                if (bits)
                        return 1;
                i += 16;
        }
}
#else
#define needs_quotes_padded needs_quotes
#endif

/* 1 when the cell is written as it is in dialect d (no quotes, no guard,
 * no decimal comma); s[0..n) is followed by ROW_PAD readable bytes */
static inline int plain_cell(pb_csv_dialect_t d, const char *s, size_t n,
                             int numeric) {
        if (d != PB_CSV_EXCEL_DE)
                return !needs_quotes_padded(s, n, ',');
        if (numeric ? memchr(s, '.', n) != NULL : n && formula_start(s[0]))
                return 0;
        return !needs_quotes_padded(s, n, ';');
}

/* Appends `count` separators to b: 0, or -1 (no memory). */
static int put_seps(pb_buf_t *b, char sep, size_t count) {
        if (count == 1 && b->len + 1 < b->cap) {
                b->data[b->len++] = (uint8_t)sep;
                return 0;
        }
        if (!count)
                return 0;
        if (b->len + count >= b->cap && pb_buf_reserve(b, count) != PB_OK)
                return -1;
        memset(b->data + b->len, sep, count);
        b->len += count;
        return 0;
}

/* One spooled row (row[0..rowlen), followed by ROW_PAD readable bytes)
 * as a CSV line appended to `line`, in one pass over its cells: 0; 1 when
 * a cell's column comes before the previous cell's (or is the same), then
 * `line` holds part of the row for the caller to drop; -1 no memory; -2 a
 * broken spool. num: per position, 1 for a decimal column. Rows from
 * either way in hold their cells in column order (schema order, array
 * elements by index), so the common case needs no table per row. */
static int row_in_order(const pb_replay_csv_t *w, pb_buf_t *line,
                        const uint8_t *row, uint32_t rowlen,
                        const unsigned char *num, char sep) {
        size_t at = 0, next = 0;
        if (pb_buf_reserve(line, (size_t)rowlen + w->ncols + 2) != PB_OK)
                return -1;
        while (at < rowlen) {
                uint32_t hd[2], pos;
                size_t cn;
                const char *cs;
                int numeric;
                if (rowlen - at < sizeof(hd))
                        return -2;
                memcpy(hd, row + at, sizeof(hd));
                at += sizeof(hd);
                if (hd[0] >= w->ncols)
                        return -2;
                pos = w->cols[hd[0]].pos;
                cn = hd[1] & ~CELL_NUMERIC;
                if (cn > rowlen - at)
                        return -2;
                if (pos < next)
                        return 1;
                /* the separators before positions next..pos */
                if (put_seps(line, sep, pos - next + (next ? 1 : 0)))
                        return -1;
                cs = (const char *)row + at;
                numeric = num[pos] || (hd[1] & CELL_NUMERIC);
                if (plain_cell(w->dialect, cs, cn, numeric) &&
                    line->len + cn < line->cap) {
                        memcpy(line->data + line->len, cs, cn);
                        line->len += cn;
                } else if (pb_replay_csv_cell_dialect(line, w->dialect, cs, cn,
                                                      numeric) != PB_OK)
                        return -1;
                next = pos + 1;
                at += cn;
        }
        if (w->ncols && put_seps(line, sep, w->ncols - next - (next ? 0 : 1)))
                return -1;
        return pb_buf_append(line, "\r\n", 2) == PB_OK ? 0 : -1;
}

static pb_replay_csv_t *sort_ctx;
static int col_cmp(const void *pa, const void *pb) {
        const csv_col_t *a = &sort_ctx->cols[*(const uint32_t *)pa];
        const csv_col_t *b = &sort_ctx->cols[*(const uint32_t *)pb];
        size_t i;
        for (i = 0; i < a->nkey && i < b->nkey; i++)
                if (a->key[i] != b->key[i])
                        return a->key[i] < b->key[i] ? -1 : 1;
        if (a->nkey != b->nkey)
                return a->nkey < b->nkey ? -1 : 1;
        return strcmp(a->name, b->name);
}

pb_resp_t pb_replay_csv_finish(pb_replay_csv_t *w, FILE *out) {
        uint32_t *order = NULL, rowlen;
        /* per final position: offset into rowbuf and length, -1 = empty */
        size_t *cell_off = NULL, *cell_len = NULL, i;
        /* per final position: 1 = a decimal column; 2 = a JSON number in
         * the current row */
        unsigned char *num = NULL;
        const char sep = w && w->dialect == PB_CSV_EXCEL_DE ? ';' : ',';
        pb_buf_t line, rowbuf;
        pb_resp_t r = PB_ERR_NOMEM;
        if (!w || !out)
                return PB_ERR_ARG;
        if (w->err)
                return (pb_resp_t)w->err;
        pb_buf_init(&line, 0);
        pb_buf_init(&rowbuf, 0);
        order = malloc((w->ncols ? w->ncols : 1) * sizeof(*order));
        cell_off = malloc((w->ncols ? w->ncols : 1) * sizeof(*cell_off));
        cell_len = malloc((w->ncols ? w->ncols : 1) * sizeof(*cell_len));
        num = calloc(w->ncols ? w->ncols : 1, 1);
        if (!order || !cell_off || !cell_len || !num)
                goto done;
        for (i = 0; i < w->ncols; i++)
                order[i] = (uint32_t)i;
        sort_ctx = w;
        qsort(order, w->ncols, sizeof(*order), col_cmp);
        for (i = 0; i < w->ncols; i++) {
                w->cols[order[i]].pos = (uint32_t)i;
                num[i] =
                    (unsigned char)is_decimal_col(w, w->cols[order[i]].name);
        }
        if (w->dialect == PB_CSV_EXCEL_DE &&
            pb_buf_append(&line, "\xEF\xBB\xBF", 3) != PB_OK)
                goto done;
        for (i = 0; i < w->ncols; i++) {
                const char *nm = w->cols[order[i]].name;
                if ((i && pb_buf_putc(&line, (uint8_t)sep) != PB_OK) ||
                    pb_replay_csv_cell_dialect(&line, w->dialect, nm,
                                               strlen(nm), 0) != PB_OK)
                        goto done;
        }
        if (pb_buf_append(&line, "\r\n", 2) != PB_OK)
                goto done;
        r = PB_ERR_IO;
        if (fwrite(line.data, 1, line.len, out) != line.len)
                goto done;
        if (fflush(w->spool) || fseek(w->spool, 0, SEEK_SET))
                goto done;
        pb_buf_reset(&line);
        for (;;) {
                size_t at = 0, row0 = line.len;
                int rc;
                if (line.len >= OUT_BATCH) {
                        if (fwrite(line.data, 1, line.len, out) != line.len)
                                goto done;
                        pb_buf_reset(&line);
                        row0 = 0;
                }
                if (fread(&rowlen, sizeof(rowlen), 1, w->spool) != 1) {
                        if (feof(w->spool))
                                break;
                        goto done;
                }
                if (pb_buf_reserve(&rowbuf, (size_t)rowlen + ROW_PAD) !=
                    PB_OK) {
                        r = PB_ERR_NOMEM;
                        goto done;
                }
                if (rowlen && fread(rowbuf.data, 1, rowlen, w->spool) != rowlen)
                        goto done;
                /* the cells' scan reads up to ROW_PAD bytes beyond */
                memset(rowbuf.data + rowlen, 0, ROW_PAD);
                rowbuf.len = rowlen;
                rc = row_in_order(w, &line, rowbuf.data, rowlen, num, sep);
                if (rc == -1)
                        goto nomem;
                if (rc == -2)
                        goto done;
                if (rc == 0)
                        continue;
                /* cells out of column order (or a column twice): by
                 * position, the later cell of a column wins */
                line.len = row0;
                for (i = 0; i < w->ncols; i++)
                        cell_len[i] = (size_t)-1;
                /* the cells: (id, length | numeric, bytes)... */
                while (at < rowlen) {
                        uint32_t hd[2], pos;
                        if (rowlen - at < sizeof(hd))
                                goto done;
                        memcpy(hd, rowbuf.data + at, sizeof(hd));
                        at += sizeof(hd);
                        if (hd[0] >= w->ncols)
                                goto done;
                        pos = w->cols[hd[0]].pos;
                        if (hd[1] & CELL_NUMERIC)
                                num[pos] |= 2;
                        hd[1] &= ~CELL_NUMERIC;
                        if (hd[1] > rowlen - at)
                                goto done;
                        cell_off[pos] = at;
                        cell_len[pos] = hd[1];
                        at += hd[1];
                }
                /* room for the row's cells unquoted and the separators */
                if (pb_buf_reserve(&line, rowlen + w->ncols + 2) != PB_OK)
                        goto nomem;
                for (i = 0; i < w->ncols; i++) {
                        const char *cs =
                            (const char *)rowbuf.data + cell_off[i];
                        size_t cn = cell_len[i];
                        if (i) {
                                if (line.len + 1 >= line.cap &&
                                    pb_buf_reserve(&line, 1) != PB_OK)
                                        goto nomem;
                                line.data[line.len++] = (uint8_t)sep;
                        }
                        if (cn == (size_t)-1)
                                ;
                        else if (plain_cell(w->dialect, cs, cn, num[i] != 0) &&
                                 line.len + cn < line.cap) {
                                memcpy(line.data + line.len, cs, cn);
                                line.len += cn;
                        } else if (pb_replay_csv_cell_dialect(
                                       &line, w->dialect, cs, cn,
                                       num[i] != 0) != PB_OK)
                                goto nomem;
                        num[i] &= 1; /* the JSON-number mark is per row */
                }
                line.data[line.len] = 0;
                if (pb_buf_append(&line, "\r\n", 2) != PB_OK)
                        goto nomem;
        }
        if (line.len && fwrite(line.data, 1, line.len, out) != line.len)
                goto done;
        r = fflush(out) ? PB_ERR_IO : PB_OK;
        goto done;
nomem:
        r = PB_ERR_NOMEM;
done:
        free(order);
        free(cell_off);
        free(cell_len);
        free(num);
        pb_buf_free(&line);
        pb_buf_free(&rowbuf);
        return r;
}
