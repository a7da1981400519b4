/* partnerbus - report figures: exact sums grouped by the dimensions the
 * committee asks for (see pb_report.h). pb_report_int.h has the tables;
 * pb_report_out.c writes summary.json and report.html from them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_report_int.h"

/* --- exact decimals --- */
int pb_report_dec_parse(const char *s, size_t len, int scale,
                        pb_report_dec_t *v) {
        uint8_t b[32];
        const char *why = NULL;
        int n, i;
        pb_report_dec_t x;
        if (scale < 0 || scale > 18)
                return -1;
        n = pb_decimal_parse(s, len, 36, scale, b, &why);
        if (n < 1 || n > 16)
                return -1;
        x = (b[0] & 0x80) ? -1 : 0; /* sign extension */
        for (i = 0; i < n; i++)
                x = (pb_report_dec_t)(((unsigned __int128)x << 8) | b[i]);
        *v = x;
        return 0;
}

int pb_report_dec_format(pb_report_dec_t v, int scale, char *buf, size_t size) {
        uint8_t b[16];
        int i;
        unsigned __int128 u = (unsigned __int128)v;
        for (i = 15; i >= 0; i--) {
                b[i] = (uint8_t)(u & 0xff);
                u >>= 8;
        }
        return pb_decimal_format(b, 16, scale, buf, size);
}

static int dec_add(pb_report_dec_t *acc, pb_report_dec_t v) {
        pb_report_dec_t r;
        if (__builtin_add_overflow(*acc, v, &r))
                return -1;
        *acc = r;
        return 0;
}

/* --- string hash map --- */
void *pb_report_smap_get(pb_report_smap_t *m, const char *k, size_t kl) {
        size_t j;
        if (!m->cap)
                return NULL;
        j = pb_fnv1a(k, kl) & (m->cap - 1);
        while (m->keys[j]) {
                if (m->lens[j] == kl && !memcmp(m->keys[j], k, kl))
                        return m->vals[j];
                j = (j + 1) & (m->cap - 1);
        }
        return NULL;
}

static int smap_grow(pb_report_smap_t *m) {
        size_t nc = m->cap ? m->cap * 2 : 64, i, j;
        char **nk = calloc(nc, sizeof(*nk));
        size_t *nl = calloc(nc, sizeof(*nl));
        void **nv = calloc(nc, sizeof(*nv));
        if (!nk || !nl || !nv) {
                free(nk);
                free(nl);
                free(nv);
                return -1;
        }
        for (i = 0; i < m->cap; i++) {
                if (!m->keys[i])
                        continue;
                j = pb_fnv1a(m->keys[i], m->lens[i]) & (nc - 1);
                while (nk[j])
                        j = (j + 1) & (nc - 1);
                nk[j] = m->keys[i];
                nl[j] = m->lens[i];
                nv[j] = m->vals[i];
        }
        free(m->keys);
        free(m->lens);
        free(m->vals);
        m->keys = nk;
        m->lens = nl;
        m->vals = nv;
        m->cap = nc;
        return 0;
}

/* inserts (k copied); the value pointer is stored as given. -1 on ENOMEM */
int pb_report_smap_put(pb_report_smap_t *m, const char *k, size_t kl, void *v) {
        size_t j;
        char *kc;
        if ((m->n + 1) * 2 > m->cap && smap_grow(m))
                return -1;
        kc = malloc(kl + 1);
        if (!kc)
                return -1;
        memcpy(kc, k, kl);
        kc[kl] = 0;
        j = pb_fnv1a(k, kl) & (m->cap - 1);
        while (m->keys[j])
                j = (j + 1) & (m->cap - 1);
        m->keys[j] = kc;
        m->lens[j] = kl;
        m->vals[j] = v;
        m->n++;
        return 0;
}

void pb_report_smap_free(pb_report_smap_t *m, void (*free_val)(void *)) {
        size_t i;
        for (i = 0; i < m->cap; i++)
                if (m->keys[i]) {
                        free(m->keys[i]);
                        if (free_val)
                                free_val(m->vals[i]);
                }
        free(m->keys);
        free(m->lens);
        free(m->vals);
        memset(m, 0, sizeof(*m));
}

/* --- grouped tables --- */
static void agg_free(void *p) {
        pb_agg_t *a = p;
        size_t i;
        if (!a)
                return;
        for (i = 0; i < a->money.n; i++)
                free(a->money.k[i]);
        for (i = 0; i < a->qty.n; i++)
                free(a->qty.k[i]);
        free(a->key);
        free(a->key2);
        free(a->items);
        free(a);
}

static void strv_free(char **v, size_t n) {
        size_t i;
        for (i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* appends a copy of s to *v (n entries); -1 on ENOMEM */
static int strv_add(char ***v, size_t *n, const char *s) {
        char **nv, *c;
        if (!(c = strdup(s)))
                return -1;
        if (!(*n & (*n - 1)) || !*n) { /* grow at powers of two */
                nv = realloc(*v, (*n ? *n * 2 : 1) * sizeof(*nv));
                if (!nv) {
                        free(c);
                        return -1;
                }
                *v = nv;
        }
        (*v)[(*n)++] = c;
        return 0;
}

/* the entity l counts in row a */
static int item_add(pb_agg_t *a, pb_latest_t *l) {
        if (!l)
                return 0;
        if (a->nitems == a->capitems) {
                size_t nc = a->capitems ? a->capitems * 2 : 4;
                pb_latest_t **ni = realloc(a->items, nc * sizeof(*ni));
                if (!ni)
                        return -1;
                a->items = ni;
                a->capitems = nc;
        }
        a->items[a->nitems++] = l;
        return 0;
}

static void ship_free(void *p) {
        pb_ship_t *s = p;
        if (!s)
                return;
        free(s->id);
        free(s->city);
        free(s->oblast);
        strv_free(s->more_delivered, s->nmore);
        free(s);
}

/* the group (key, key2) of table t, created on first use */
static pb_agg_t *group(pb_table_t *t, const char *key, const char *key2) {
        char buf[1024];
        int l = snprintf(buf, sizeof(buf), "%s\x1f%s", key, key2 ? key2 : "");
        pb_agg_t *a;
        if (l < 0)
                return NULL;
        if ((size_t)l >= sizeof(buf))
                l = (int)sizeof(buf) - 1;
        if ((a = pb_report_smap_get(&t->map, buf, (size_t)l)))
                return a;
        a = calloc(1, sizeof(*a));
        if (!a)
                return NULL;
        a->key = strdup(key);
        a->key2 = key2 ? strdup(key2) : NULL;
        if (!a->key || (key2 && !a->key2) ||
            pb_report_smap_put(&t->map, buf, (size_t)l, a)) {
                agg_free(a);
                return NULL;
        }
        return a;
}

static int sum_add(pb_summap_t *m, const char *k, pb_report_dec_t v) {
        size_t i;
        for (i = 0; i < m->n; i++)
                if (!strcmp(m->k[i], k))
                        return dec_add(&m->v[i], v);
        if (m->n == PB_SUM_MAX) { /* bounded: the rest in one bucket */
                k = "(other)";
                for (i = 0; i < m->n; i++)
                        if (!strcmp(m->k[i], k))
                                return dec_add(&m->v[i], v);
                i = m->n - 1;
                free(m->k[i]);
                m->k[i] = NULL;
                m->n--;
        }
        if (!(m->k[m->n] = strdup(k)))
                return -1;
        m->v[m->n++] = v;
        return 0;
}

static void latest_free(void *p) {
        pb_latest_t *l = p;
        if (l) {
                free(l->json);
                free(l->key);
                strv_free(l->old_ids, l->nold);
                strv_free(l->conflict_ids, l->nconflict);
        }
        free(l);
}

pb_report_t *pb_report_new(int64_t asof_ms) {
        pb_report_t *r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        r->asof_ms = asof_ms;
        return r;
}

void pb_report_destroy(pb_report_t *r) {
        size_t i;
        if (!r)
                return;
        pb_table_t *tabs[] = {&r->f_prog,  &r->f_grantor, &r->f_recipient,
                              &r->f_month, &r->f_total,   &r->a_oblast,
                              &r->a_city,  &r->a_cat,     &r->a_month,
                              &r->a_total, &r->p_kind,    &r->p_nrw,
                              &r->p_ua,    &r->p_month,   &r->d_cond};
        for (i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++)
                pb_report_smap_free(&tabs[i]->map, agg_free);
        pb_report_smap_free(&r->ships, ship_free);
        pb_report_smap_free(&r->seen, NULL);
        pb_report_smap_free(&r->latest, latest_free);
        free(r->conflict_list);
        pb_report_smap_free(&r->sources, free);
        for (i = 0; i < r->nfiles; i++)
                free(r->files[i].path);
        free(r->files);
        free(r->parts);
        free(r->source);
        free(r->since);
        free(r->until);
        free(r);
}

void pb_report_set_meta(pb_report_t *r, const char *source, const char *since,
                        const char *until) {
        free(r->source);
        free(r->since);
        free(r->until);
        r->source = source ? strdup(source) : NULL;
        r->since = since ? strdup(since) : NULL;
        r->until = until ? strdup(until) : NULL;
}

void pb_report_set_range(pb_report_t *r, int has_since, int64_t since_ms,
                         int has_until, int64_t until_ms) {
        r->has_since = has_since;
        r->since_ms = since_ms;
        r->has_until = has_until;
        r->until_ms = until_ms;
}

void pb_report_set_labels(pb_report_t *r, const struct pb_labels *l) {
        r->labels = l;
}

pb_resp_t pb_report_note_read(pb_report_t *r, const char *topic,
                              int32_t partition, int64_t offset) {
        size_t i;
        pb_report_part_t *p;
        for (i = r->nparts; i-- > 0;) {
                p = &r->parts[i];
                if (p->partition == partition && !strcmp(p->topic, topic)) {
                        if (offset < p->first)
                                p->first = offset;
                        if (offset > p->last)
                                p->last = offset;
                        p->events++;
                        return PB_OK;
                }
        }
        if (r->nparts == 4096) /* bounded: more partitions go unlisted */
                return PB_OK;
        if (r->nparts == r->capparts) {
                size_t nc = r->capparts ? r->capparts * 2 : 16;
                pb_report_part_t *np = realloc(r->parts, nc * sizeof(*np));
                if (!np)
                        return PB_ERR_NOMEM;
                r->parts = np;
                r->capparts = nc;
        }
        p = &r->parts[r->nparts++];
        snprintf(p->topic, sizeof(p->topic), "%s", topic);
        p->partition = partition;
        p->first = p->last = offset;
        p->events = 1;
        return PB_OK;
}

pb_resp_t pb_report_note_file(pb_report_t *r, const char *path, int64_t size) {
        if (r->nfiles == r->capfiles) {
                size_t nc = r->capfiles ? r->capfiles * 2 : 16;
                pb_report_file_t *nf = realloc(r->files, nc * sizeof(*nf));
                if (!nf)
                        return PB_ERR_NOMEM;
                r->files = nf;
                r->capfiles = nc;
        }
        if (!(r->files[r->nfiles].path = strdup(path)))
                return PB_ERR_NOMEM;
        r->files[r->nfiles++].size = size;
        return PB_OK;
}

void pb_report_note_schema(pb_report_t *r, const char *type,
                           uint64_t fingerprint) {
        size_t n = sizeof(r->schemas) / sizeof(r->schemas[0]), i;
        for (i = 0; i < r->nschemas; i++)
                if (r->schemas[i].fingerprint == fingerprint &&
                    !strcmp(r->schemas[i].type, type))
                        return;
        if (r->nschemas == n)
                return;
        snprintf(r->schemas[r->nschemas].type,
                 sizeof(r->schemas[r->nschemas].type), "%s", type);
        r->schemas[r->nschemas++].fingerprint = fingerprint;
}

/* --- reading fields --- */
typedef struct rd {
        char *errstr;
        size_t errsize;
        const char *type;
        int bad;
} rd_t;

static const pb_json_t *path_get(const pb_json_t *ev, const char *path) {
        char seg[64];
        const pb_json_t *v = ev;
        while (v && *path) {
                size_t l = strcspn(path, ".");
                if (l >= sizeof(seg))
                        return NULL;
                memcpy(seg, path, l);
                seg[l] = 0;
                v = pb_json_get(v, seg);
                path += l;
                if (*path == '.')
                        path++;
        }
        return v;
}

/* string field; NULL when null/absent and optional, else error */
static const char *str_of(rd_t *d, const pb_json_t *ev, const char *path,
                          int optional) {
        const pb_json_t *v = path_get(ev, path);
        if (v && v->type == PB_JSON_STRING)
                return v->str;
        if ((!v || v->type == PB_JSON_NULL) && optional)
                return NULL;
        if (!d->bad)
                snprintf(d->errstr, d->errsize, "%s: /%s is %s", d->type, path,
                         v ? "not a string" : "missing");
        d->bad = 1;
        return NULL;
}

/* decimal string field at scale; 1 found, 0 null (optional), -1 error */
static int dec_of(rd_t *d, const pb_json_t *ev, const char *path, int scale,
                  pb_report_dec_t *out) {
        const pb_json_t *v = path_get(ev, path);
        if (!v || v->type == PB_JSON_NULL)
                return 0;
        if ((v->type == PB_JSON_STRING || v->type == PB_JSON_NUMBER) &&
            !pb_report_dec_parse(v->str, v->len, scale, out))
                return 1;
        if (!d->bad)
                snprintf(d->errstr, d->errsize,
                         "%s: /%s is not a decimal with at most %d fraction "
                         "digits",
                         d->type, path, scale);
        d->bad = 1;
        return -1;
}

static void month_of(const char *date, char out[8]) {
        if (date && strlen(date) >= 7) {
                memcpy(out, date, 7);
                out[7] = 0;
        } else
                strcpy(out, "unknown");
}

#define NOMEM()                                                                \
        do {                                                                   \
                snprintf(errstr, errstr_size, "out of memory");                \
                return PB_ERR_NOMEM;                                           \
        } while (0)
#define OVERFLOW()                                                             \
        do {                                                                   \
                snprintf(errstr, errstr_size, "sum overflows");                \
                return PB_ERR_LIMIT;                                           \
        } while (0)

static pb_resp_t add_funds(pb_report_t *r, rd_t *d, const pb_json_t *ev,
                           pb_latest_t *l, char *errstr, size_t errstr_size) {
        const char *prog = str_of(d, ev, "programme", 1);
        const char *grantor = str_of(d, ev, "grantor.name", 0);
        const char *recip = str_of(d, ev, "recipient.name", 0);
        const char *cur = str_of(d, ev, "currency", 0);
        const char *on = str_of(d, ev, "granted_on", 0);
        pb_agg_t *g[5];
        pb_report_dec_t amt = 0;
        char month[8];
        size_t i;
        if (dec_of(d, ev, "amount", 2, &amt) != 1 && !d->bad) {
                snprintf(errstr, errstr_size, "funds.granted: /amount missing");
                d->bad = 1;
        }
        if (d->bad)
                return PB_ERR_INVALID;
        month_of(on, month);
        g[0] = group(&r->f_prog, prog ? prog : "(no programme)", NULL);
        g[1] = group(&r->f_grantor, grantor, NULL);
        g[2] = group(&r->f_recipient, recip, NULL);
        g[3] = group(&r->f_month, month, NULL);
        g[4] = group(&r->f_total, "all", NULL);
        for (i = 0; i < 5; i++) {
                if (!g[i] || item_add(g[i], l))
                        NOMEM();
                g[i]->count++;
                if (sum_add(&g[i]->money, cur, amt))
                        OVERFLOW();
        }
        return PB_OK;
}

static pb_ship_t *ship(pb_report_t *r, const char *id) {
        pb_ship_t *s = pb_report_smap_get(&r->ships, id, strlen(id));
        if (s)
                return s;
        s = calloc(1, sizeof(*s));
        if (!s || !(s->id = strdup(id)) ||
            pb_report_smap_put(&r->ships, id, strlen(id), s)) {
                ship_free(s);
                return NULL;
        }
        return s;
}

static pb_resp_t add_dispatch(pb_report_t *r, rd_t *d, const pb_json_t *ev,
                              pb_latest_t *l, char *errstr,
                              size_t errstr_size) {
        const char *id = str_of(d, ev, "shipment_id", 0);
        const char *city = str_of(d, ev, "destination.city", 0);
        const char *oblast = str_of(d, ev, "destination.oblast", 0);
        const char *cur = str_of(d, ev, "currency", 0);
        const char *on = str_of(d, ev, "dispatched_on", 0);
        const pb_json_t *items = pb_json_get(ev, "items"), *it;
        pb_report_dec_t val = 0, kg = 0;
        int hv, hw;
        pb_agg_t *g[5];
        pb_ship_t *s;
        char month[8];
        size_t i, j;
        hv = dec_of(d, ev, "declared_value", 2, &val);
        hw = dec_of(d, ev, "gross_weight_kg", 1, &kg);
        if (!d->bad && (!items || items->type != PB_JSON_ARRAY)) {
                snprintf(errstr, errstr_size, "aid.dispatched: /items missing");
                d->bad = 1;
        }
        if (d->bad)
                return PB_ERR_INVALID;
        month_of(on, month);
        g[0] = group(&r->a_oblast, oblast, NULL);
        g[1] = group(&r->a_city, city, oblast);
        g[2] = group(&r->a_month, month, NULL);
        g[3] = group(&r->a_total, "all", NULL);
        for (i = 0; i < 4; i++) {
                if (!g[i] || item_add(g[i], l))
                        NOMEM();
                g[i]->count++;
                if (hv == 1 && sum_add(&g[i]->money, cur, val))
                        OVERFLOW();
                if (hv != 1)
                        g[i]->undeclared++;
                if (hw == 1 && dec_add(&g[i]->weight, kg))
                        OVERFLOW();
                if (hw != 1)
                        g[i]->weight_unknown++;
        }
        /* categories: the shipment counts once in each category it
         * carries (with its whole value and weight), lines and quantities
         * per line */
        for (it = items->child, i = 0; it; it = it->next, i++) {
                const char *cat = str_of(d, it, "category", 0);
                const char *unit = str_of(d, it, "unit", 1);
                const pb_json_t *q = pb_json_get(it, "quantity");
                const pb_json_t *prev;
                pb_report_dec_t qty = 0;
                int first = 1;
                if (d->bad || !q || q->type != PB_JSON_NUMBER ||
                    pb_report_dec_parse(q->str, q->len, 0, &qty)) {
                        if (!d->bad)
                                snprintf(errstr, errstr_size,
                                         "aid.dispatched: /items/%zu is "
                                         "malformed",
                                         i);
                        return PB_ERR_INVALID;
                }
                for (prev = items->child, j = 0; j < i;
                     prev = prev->next, j++) {
                        const pb_json_t *pc = pb_json_get(prev, "category");
                        if (pc && pc->type == PB_JSON_STRING &&
                            !strcmp(pc->str, cat))
                                first = 0;
                }
                if (!(g[4] = group(&r->a_cat, cat, NULL)))
                        NOMEM();
                g[4]->lines++;
                if (sum_add(&g[4]->qty, unit ? unit : "", qty))
                        OVERFLOW();
                if (!first)
                        continue;
                if (item_add(g[4], l))
                        NOMEM();
                g[4]->count++;
                if (hv == 1 && sum_add(&g[4]->money, cur, val))
                        OVERFLOW();
                if (hv != 1)
                        g[4]->undeclared++;
                if (hw == 1 && dec_add(&g[4]->weight, kg))
                        OVERFLOW();
                if (hw != 1)
                        g[4]->weight_unknown++;
        }
        if (!(s = ship(r, id)))
                NOMEM();
        if (!s->dispatched) {
                int32_t days = 0;
                s->dispatched = 1;
                if (!pb_date_parse(on, strlen(on), &days))
                        s->dispatched_on = days;
                free(s->city);
                free(s->oblast);
                s->city = strdup(city);
                s->oblast = strdup(oblast);
                if (!s->city || !s->oblast)
                        NOMEM();
        }
        return PB_OK;
}

static pb_resp_t add_delivery(pb_report_t *r, rd_t *d, const pb_json_t *ev,
                              char *errstr, size_t errstr_size) {
        const char *id = str_of(d, ev, "shipment_id", 0);
        const char *cond = str_of(d, ev, "condition", 0);
        const char *on = str_of(d, ev, "delivered_on", 0);
        pb_ship_t *s;
        int i;
        static const char *conds[] = {"COMPLETE", "PARTIAL", "DAMAGED"};
        if (d->bad)
                return PB_ERR_INVALID;
        if (!(s = ship(r, id)))
                NOMEM();
        s->deliveries++;
        {
                const pb_json_t *eid = pb_json_get(ev, "event_id");
                const pb_json_t *src = pb_json_get(ev, "source");
                const char *ids =
                    eid && eid->type == PB_JSON_STRING ? eid->str : "";
                if (s->delivered) { /* a second confirmation */
                        if (strv_add(&s->more_delivered, &s->nmore, ids))
                                NOMEM();
                        return PB_OK;
                }
                snprintf(s->delivered_id, sizeof(s->delivered_id), "%s", ids);
                snprintf(s->delivered_by, sizeof(s->delivered_by), "%s",
                         src && src->type == PB_JSON_STRING ? src->str : "");
        }
        s->delivered = 1;
        s->condition = 3;
        for (i = 0; i < 3; i++)
                if (!strcmp(cond, conds[i]))
                        s->condition = i;
        {
                int32_t days = 0;
                if (!pb_date_parse(on, strlen(on), &days))
                        s->delivered_on = days;
        }
        return PB_OK;
}

static pb_resp_t add_partnership(pb_report_t *r, rd_t *d, const pb_json_t *ev,
                                 pb_latest_t *l, char *errstr,
                                 size_t errstr_size) {
        const char *kind = str_of(d, ev, "kind", 0);
        const char *nrw = str_of(d, ev, "nrw_party.name", 0);
        const char *ua = str_of(d, ev, "ukrainian_party.name", 0);
        const char *on = str_of(d, ev, "founded_on", 0);
        pb_agg_t *g[4];
        char month[8];
        size_t i;
        if (d->bad)
                return PB_ERR_INVALID;
        month_of(on, month);
        g[0] = group(&r->p_kind, kind, NULL);
        g[1] = group(&r->p_nrw, nrw, NULL);
        g[2] = group(&r->p_ua, ua, NULL);
        g[3] = group(&r->p_month, month, NULL);
        for (i = 0; i < 4; i++) {
                if (!g[i] || item_add(g[i], l))
                        NOMEM();
                g[i]->count++;
        }
        r->partnerships++;
        return PB_OK;
}

/* Aggregates one event (the latest version of its entity, or a
 * delivery confirmation). */
static pb_resp_t aggregate(pb_report_t *r, const char *type,
                           const pb_json_t *event, pb_latest_t *l, char *errstr,
                           size_t errstr_size) {
        rd_t d = {errstr, errstr_size, type, 0};
        pb_resp_t rc;
        if (!strcmp(type, "funds.granted"))
                rc = add_funds(r, &d, event, l, errstr, errstr_size);
        else if (!strcmp(type, "aid.dispatched"))
                rc = add_dispatch(r, &d, event, l, errstr, errstr_size);
        else if (!strcmp(type, "aid.delivered"))
                rc = add_delivery(r, &d, event, errstr, errstr_size);
        else
                rc = add_partnership(r, &d, event, l, errstr, errstr_size);
        if (rc == PB_OK) {
                if (!strcmp(type, "funds.granted"))
                        r->n_funds++;
                else if (!strcmp(type, "aid.dispatched"))
                        r->n_dispatched++;
                else if (!strcmp(type, "aid.delivered"))
                        r->n_delivered++;
                else
                        r->n_partnerships++;
        }
        return rc;
}

static int by_date_key(const void *a, const void *b) {
        const pb_latest_t *x = *(pb_latest_t *const *)a,
                          *y = *(pb_latest_t *const *)b;
        int c = strcmp(x->date, y->date);
        return c ? c : strcmp(x->key, y->key);
}

pb_latest_t **pb_report_entities(const pb_report_t *r, const char *type,
                                 size_t *n) {
        pb_latest_t **v;
        size_t i, k = 0;
        *n = 0;
        for (i = 0; i < r->latest.cap; i++)
                if (r->latest.keys[i] &&
                    !strcmp(((pb_latest_t *)r->latest.vals[i])->type, type))
                        k++;
        if (!k)
                return NULL;
        *n = k;
        if (!(v = malloc(k * sizeof(*v))))
                return NULL;
        for (i = 0, k = 0; i < r->latest.cap; i++)
                if (r->latest.keys[i] &&
                    !strcmp(((pb_latest_t *)r->latest.vals[i])->type, type))
                        v[k++] = r->latest.vals[i];
        qsort(v, k, sizeof(*v), by_date_key);
        return v;
}

/* An event about an entity from another source than its owner: counted
 * and listed, never aggregated. */
static pb_resp_t conflict(pb_report_t *r, const char *type,
                          const pb_json_t *key, pb_latest_t *l,
                          const pb_json_t *event, const char *src) {
        const pb_json_t *id = pb_json_get(event, "event_id");
        const pb_json_t *at = pb_json_get(event, "occurred_at");
        pb_conflict_t *c;
        r->conflicts++;
        if (!l->nconflict)
                snprintf(l->conflict_by, sizeof(l->conflict_by), "%s", src);
        if (strv_add(&l->conflict_ids, &l->nconflict,
                     id && id->type == PB_JSON_STRING ? id->str : ""))
                return PB_ERR_NOMEM;
        if (r->nconflict_list == PB_CONFLICTS_LISTED)
                return PB_OK;
        if (!r->conflict_list &&
            !(r->conflict_list =
                  calloc(PB_CONFLICTS_LISTED, sizeof(*r->conflict_list))))
                return PB_ERR_NOMEM;
        c = &r->conflict_list[r->nconflict_list++];
        snprintf(c->type, sizeof(c->type), "%s", type);
        snprintf(c->entity, sizeof(c->entity), "%.*s", (int)key->len, key->str);
        snprintf(c->owner, sizeof(c->owner), "%s", l->owner);
        snprintf(c->source, sizeof(c->source), "%s", src);
        snprintf(c->event_id, sizeof(c->event_id), "%s",
                 id && id->type == PB_JSON_STRING ? id->str : "");
        snprintf(c->occurred_at, sizeof(c->occurred_at), "%s",
                 at && at->type == PB_JSON_STRING ? at->str : "");
        return PB_OK;
}

/* Keeps event as the latest version of its entity unless a later one is
 * already kept. The source of an entity's first version owns it: a version
 * from another source is a conflict, never the latest version. */
static pb_resp_t keep_latest(pb_report_t *r, const pb_entity_type_t *en,
                             const pb_json_t *event, char *errstr,
                             size_t errstr_size) {
        const char *type = en->type, *field = en->pointer + 1;
        const pb_json_t *key = pb_json_get(event, field);
        const pb_json_t *at = pb_json_get(event, "occurred_at");
        const pb_json_t *src;
        const char *srcs;
        char mk[600];
        int mkl;
        pb_latest_t *l;
        pb_buf_t json;
        if (!key || key->type != PB_JSON_STRING || !at ||
            at->type != PB_JSON_STRING || at->len >= sizeof(l->occurred_at)) {
                snprintf(errstr, errstr_size, "%s: /%s or /occurred_at missing",
                         type, field);
                return PB_ERR_INVALID;
        }
        mkl = snprintf(mk, sizeof(mk), "%s\x1f%.*s", type, (int)key->len,
                       key->str);
        if (mkl < 0 || (size_t)mkl >= sizeof(mk)) {
                snprintf(errstr, errstr_size, "%s: /%s too long", type, field);
                return PB_ERR_INVALID;
        }
        src = pb_json_get(event, "source");
        srcs = src && src->type == PB_JSON_STRING ? src->str : "";
        l = pb_report_smap_get(&r->latest, mk, (size_t)mkl);
        if (l && strcmp(srcs, l->owner)) {
                if (conflict(r, type, key, l, event, srcs) != PB_OK) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return PB_ERR_NOMEM;
                }
                return PB_OK;
        }
        {
                const pb_json_t *eid = pb_json_get(event, "event_id");
                const char *ids =
                    eid && eid->type == PB_JSON_STRING ? eid->str : "";
                if (l && strcmp(at->str, l->occurred_at) < 0) {
                        r->superseded++; /* an older version arriving late */
                        if (strv_add(&l->old_ids, &l->nold, ids)) {
                                snprintf(errstr, errstr_size, "out of memory");
                                return PB_ERR_NOMEM;
                        }
                        return PB_OK;
                }
                if (l && strv_add(&l->old_ids, &l->nold, l->event_id)) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return PB_ERR_NOMEM;
                }
        }
        pb_buf_init(&json, 0);
        if (pb_json_write(event, &json) != PB_OK || !json.data) {
                pb_buf_free(&json);
                snprintf(errstr, errstr_size, "out of memory");
                return PB_ERR_NOMEM;
        }
        if (l) {
                r->superseded++;
                free(l->json);
        } else {
                if (!(l = calloc(1, sizeof(*l))) ||
                    pb_report_smap_put(&r->latest, mk, (size_t)mkl, l)) {
                        free(l);
                        pb_buf_free(&json);
                        snprintf(errstr, errstr_size, "out of memory");
                        return PB_ERR_NOMEM;
                }
                snprintf(l->type, sizeof(l->type), "%s", type);
                snprintf(l->owner, sizeof(l->owner), "%s", srcs);
                if (!(l->key = strndup(key->str, key->len))) {
                        pb_buf_free(&json);
                        snprintf(errstr, errstr_size, "out of memory");
                        return PB_ERR_NOMEM;
                }
        }
        snprintf(l->occurred_at, sizeof(l->occurred_at), "%s", at->str);
        {
                const pb_json_t *dt = pb_json_get(event, en->date_field);
                snprintf(l->date, sizeof(l->date), "%s",
                         dt && dt->type == PB_JSON_STRING ? dt->str : "");
        }
        {
                const pb_json_t *eid = pb_json_get(event, "event_id");
                snprintf(l->event_id, sizeof(l->event_id), "%s",
                         eid && eid->type == PB_JSON_STRING ? eid->str : "");
        }
        l->json = (char *)json.data; /* ownership moves to l */
        l->len = json.len;
        return PB_OK;
}

pb_resp_t pb_report_add(pb_report_t *r, const char *type,
                        const pb_json_t *event, char *errstr,
                        size_t errstr_size) {
        const pb_json_t *id;
        const pb_entity_type_t *en;
        if (!r || !type || !event || event->type != PB_JSON_OBJECT) {
                snprintf(errstr, errstr_size, "not an event object");
                return PB_ERR_ARG;
        }
        if (r->finished) {
                snprintf(errstr, errstr_size, "report already finished");
                return PB_ERR_ARG;
        }
        id = pb_json_get(event, "event_id");
        if (id && id->type == PB_JSON_STRING) {
                /* a duplicate is the same id from the same source: another
                 * organisation's reuse of an id suppresses nothing */
                const pb_json_t *src = pb_json_get(event, "source");
                char sk[600];
                int skl = snprintf(
                    sk, sizeof(sk), "%.*s\x1f%.*s",
                    src && src->type == PB_JSON_STRING ? (int)src->len : 0,
                    src && src->type == PB_JSON_STRING ? src->str : "",
                    (int)id->len, id->str);
                if (skl < 0)
                        skl = 0;
                if ((size_t)skl >= sizeof(sk))     /* a giant source: its */
                        skl = (int)sizeof(sk) - 1; /* first bytes serve */
                if (pb_report_smap_get(&r->seen, sk, (size_t)skl)) {
                        r->duplicates++;
                        return PB_OK;
                }
                if (pb_report_smap_put(&r->seen, sk, (size_t)skl, (void *)1)) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return PB_ERR_NOMEM;
                }
        }
        { /* events per reporting organisation */
                const pb_json_t *src = pb_json_get(event, "source");
                const char *ss =
                    src && src->type == PB_JSON_STRING ? src->str : "";
                size_t sl = strnlen(ss, 127);
                uint64_t *cnt = pb_report_smap_get(&r->sources, ss, sl);
                if (!cnt) {
                        if (!(cnt = calloc(1, sizeof(*cnt))) ||
                            pb_report_smap_put(&r->sources, ss, sl, cnt)) {
                                free(cnt);
                                snprintf(errstr, errstr_size, "out of memory");
                                return PB_ERR_NOMEM;
                        }
                }
                (*cnt)++;
        }
        if (!strcmp(type, "aid.delivered"))
                return aggregate(r, type, event, NULL, errstr, errstr_size);
        if (!(en = pb_owners_entity(type))) {
                r->other_events++;
                return PB_OK;
        }
        return keep_latest(r, en, event, errstr, errstr_size);
}

pb_resp_t pb_report_finish(pb_report_t *r, char *errstr, size_t errstr_size) {
        pb_json_parser_t *jp;
        pb_resp_t rc = PB_OK;
        size_t i;
        if (r->finished)
                return PB_OK;
        r->finished = 1;
        if (!(jp = pb_json_parser_new(NULL))) {
                snprintf(errstr, errstr_size, "out of memory");
                return PB_ERR_NOMEM;
        }
        for (i = 0; i < r->latest.cap && rc == PB_OK; i++) {
                pb_latest_t *l = r->latest.vals ? r->latest.vals[i] : NULL;
                const pb_json_t *ev;
                char perr[128];
                if (!r->latest.keys[i] || !l)
                        continue;
                ev = pb_json_parse(jp, l->json, l->len, perr, sizeof(perr));
                if (!ev) {
                        snprintf(errstr, errstr_size, "%s: %s", l->type, perr);
                        rc = PB_ERR_INVALID;
                        break;
                }
                rc = aggregate(r, l->type, ev, l, errstr, errstr_size);
        }
        pb_json_parser_destroy(jp);
        return rc;
}
