/* partnerbus - events to CSV (see pb_replay.h): flatten each event into
 * (column, cell) pairs, spool them, and write header + rows at the end
 * when every column is known. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_util.h"
#include "pb_replay.h"

#define ROW_END 0xFFFFFFFFu

typedef struct csv_col {
        char *name;
        uint32_t *key; /* sort key: member ordinal / array index per level */
        size_t nkey;
        uint32_t pos; /* final position */
} csv_col_t;

struct pb_replay_csv {
        FILE *spool;
        csv_col_t *cols;
        size_t ncols, capcols;
        uint32_t *hash; /* col id + 1, 0 = empty */
        size_t hcap;
        uint64_t rows;
        pb_buf_t path;
        uint32_t key[PB_CODEC_MAX_DEPTH + 1];
        int err;
};

pb_replay_csv_t *pb_replay_csv_new(void) {
        pb_replay_csv_t *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->spool = tmpfile();
        if (!w->spool) {
                free(w);
                return NULL;
        }
        pb_buf_init(&w->path, 0);
        return w;
}

void pb_replay_csv_destroy(pb_replay_csv_t *w) {
        size_t i;
        if (!w)
                return;
        if (w->spool)
                fclose(w->spool);
        for (i = 0; i < w->ncols; i++) {
                free(w->cols[i].name);
                free(w->cols[i].key);
        }
        free(w->cols);
        free(w->hash);
        pb_buf_free(&w->path);
        free(w);
}

uint64_t pb_replay_csv_rows(const pb_replay_csv_t *w) {
        return w ? w->rows : 0;
}

static int rehash(pb_replay_csv_t *w) {
        size_t nc = w->hcap ? w->hcap * 2 : 256, i;
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

/* column id of the current path (w->path, w->key[0..depth)), created on
 * first sight; -1 on failure (w->err set) */
static long col_id(pb_replay_csv_t *w, int depth) {
        const char *name = (const char *)w->path.data;
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

static int put_u32(pb_replay_csv_t *w, uint32_t v) {
        if (fwrite(&v, sizeof(v), 1, w->spool) != 1) {
                w->err = PB_ERR_IO;
                return -1;
        }
        return 0;
}

static int flatten(pb_replay_csv_t *w, const pb_json_t *v, int depth) {
        size_t mark = w->path.len, i;
        const pb_json_t *c;
        const char *cell;
        size_t celllen;
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
        default:
                cell = v->str, celllen = v->len;
                break;
        }
        if (!w->path.data && pb_buf_reserve(&w->path, 16) != PB_OK)
                return w->err = PB_ERR_NOMEM, -1;
        if ((id = col_id(w, depth)) < 0)
                return -1;
        if (celllen > 0x7fffffff)
                return w->err = PB_ERR_LIMIT, -1;
        if (put_u32(w, (uint32_t)id) || put_u32(w, (uint32_t)celllen))
                return -1;
        if (celllen && fwrite(cell, 1, celllen, w->spool) != celllen)
                return w->err = PB_ERR_IO, -1;
        return 0;
}

pb_resp_t pb_replay_csv_add(pb_replay_csv_t *w, const pb_json_t *event) {
        if (!w || !event)
                return PB_ERR_ARG;
        if (w->err)
                return (pb_resp_t)w->err;
        pb_buf_reset(&w->path);
        if (flatten(w, event, 0) || put_u32(w, ROW_END))
                return (pb_resp_t)w->err;
        w->rows++;
        return PB_OK;
}

pb_resp_t pb_replay_csv_cell(pb_buf_t *b, const char *s, size_t n) {
        size_t i;
        int quote = 0;
        pb_resp_t r;
        for (i = 0; i < n; i++)
                if (s[i] == ',' || s[i] == '"' || s[i] == '\r' ||
                    s[i] == '\n') {
                        quote = 1;
                        break;
                }
        if (!quote)
                return pb_buf_append(b, s, n);
        if ((r = pb_buf_putc(b, '"')) != PB_OK)
                return r;
        for (i = 0; i < n; i++) {
                if (s[i] == '"' && (r = pb_buf_putc(b, '"')) != PB_OK)
                        return r;
                if ((r = pb_buf_putc(b, (uint8_t)s[i])) != PB_OK)
                        return r;
        }
        return pb_buf_putc(b, '"');
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

static int rd_u32(FILE *f, uint32_t *v) {
        return fread(v, sizeof(*v), 1, f) == 1 ? 0 : -1;
}

pb_resp_t pb_replay_csv_finish(pb_replay_csv_t *w, FILE *out) {
        uint32_t *order = NULL, id, len;
        /* per final position: offset into rowbuf and length, -1 = empty */
        size_t *cell_off = NULL, *cell_len = NULL, i;
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
        if (!order || !cell_off || !cell_len)
                goto done;
        for (i = 0; i < w->ncols; i++)
                order[i] = (uint32_t)i;
        sort_ctx = w;
        qsort(order, w->ncols, sizeof(*order), col_cmp);
        for (i = 0; i < w->ncols; i++)
                w->cols[order[i]].pos = (uint32_t)i;
        for (i = 0; i < w->ncols; i++) {
                const char *nm = w->cols[order[i]].name;
                if ((i && pb_buf_putc(&line, ',') != PB_OK) ||
                    pb_replay_csv_cell(&line, nm, strlen(nm)) != PB_OK)
                        goto done;
        }
        if (pb_buf_append(&line, "\r\n", 2) != PB_OK)
                goto done;
        r = PB_ERR_IO;
        if (fwrite(line.data, 1, line.len, out) != line.len)
                goto done;
        if (fflush(w->spool) || fseek(w->spool, 0, SEEK_SET))
                goto done;
        for (;;) {
                for (i = 0; i < w->ncols; i++)
                        cell_len[i] = (size_t)-1;
                pb_buf_reset(&rowbuf);
                pb_buf_reset(&line);
                if (rd_u32(w->spool, &id)) {
                        if (feof(w->spool))
                                break;
                        goto done;
                }
                while (id != ROW_END) {
                        size_t at;
                        if (id >= w->ncols || rd_u32(w->spool, &len))
                                goto done;
                        at = rowbuf.len;
                        if (pb_buf_reserve(&rowbuf, len) != PB_OK) {
                                r = PB_ERR_NOMEM;
                                goto done;
                        }
                        if (len &&
                            fread(rowbuf.data + at, 1, len, w->spool) != len)
                                goto done;
                        rowbuf.len += len;
                        cell_off[w->cols[id].pos] = at;
                        cell_len[w->cols[id].pos] = len;
                        if (rd_u32(w->spool, &id))
                                goto done;
                }
                for (i = 0; i < w->ncols; i++) {
                        if (i && pb_buf_putc(&line, ',') != PB_OK)
                                goto nomem;
                        if (cell_len[i] != (size_t)-1 &&
                            pb_replay_csv_cell(
                                &line, (const char *)rowbuf.data + cell_off[i],
                                cell_len[i]) != PB_OK)
                                goto nomem;
                }
                if (pb_buf_append(&line, "\r\n", 2) != PB_OK)
                        goto nomem;
                if (fwrite(line.data, 1, line.len, out) != line.len)
                        goto done;
        }
        r = fflush(out) ? PB_ERR_IO : PB_OK;
        goto done;
nomem:
        r = PB_ERR_NOMEM;
done:
        free(order);
        free(cell_off);
        free(cell_len);
        pb_buf_free(&line);
        pb_buf_free(&rowbuf);
        return r;
}
