/* partnerbus - writes the report's figures as summary.json and as one
 * self-contained report.html (inline CSS and SVG, no scripts, no external
 * references). Chart geometry uses doubles for pixel positions only; every
 * figure printed is the exact decimal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_report_int.h"

typedef int (*agg_cmp_t)(const void *, const void *);

static int by_key(const void *a, const void *b) {
        const pb_agg_t *x = *(pb_agg_t *const *)a, *y = *(pb_agg_t *const *)b;
        int c = strcmp(x->key, y->key);
        if (c)
                return c;
        return strcmp(x->key2 ? x->key2 : "", y->key2 ? y->key2 : "");
}

/* malloc'd array of the table's groups sorted by key; NULL if empty */
pb_agg_t **pb_report_sorted(const pb_table_t *t, size_t *n) {
        return (pb_agg_t **)pb_report_smap_sorted(&t->map, 0, by_key, n);
}

void **pb_report_smap_sorted(const pb_report_smap_t *m, int keys,
                             int (*cmp)(const void *, const void *),
                             size_t *n) {
        void **v;
        size_t i, k = 0;
        *n = 0;
        if (!m->n || !(v = malloc(m->n * sizeof(*v))))
                return NULL;
        for (i = 0; i < m->cap; i++)
                if (m->keys[i])
                        v[k++] = keys ? (void *)m->keys[i] : m->vals[i];
        qsort(v, k, sizeof(*v), cmp);
        *n = k;
        return v;
}

pb_report_dec_t pb_report_money_in(const pb_summap_t *m, const char *cur) {
        size_t i;
        for (i = 0; i < m->n; i++)
                if (!strcmp(m->k[i], cur))
                        return m->v[i];
        return 0;
}

static pb_resp_t put_dec(pb_buf_t *o, pb_report_dec_t v, int scale,
                         int quoted) {
        char b[96];
        int l = pb_report_dec_format(v, scale, b, sizeof(b));
        if (l < 0)
                return PB_ERR_LIMIT;
        if (quoted)
                TRY(pb_buf_putc(o, '"'));
        TRY(pb_buf_append(o, b, (size_t)l));
        return quoted ? pb_buf_putc(o, '"') : PB_OK;
}

static int str_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static pb_resp_t json_summap(pb_buf_t *o, const pb_summap_t *m, int scale) {
        char *keys[PB_SUM_MAX];
        size_t i;
        for (i = 0; i < m->n; i++)
                keys[i] = m->k[i];
        qsort(keys, m->n, sizeof(*keys), str_cmp);
        TRY(pb_buf_putc(o, '{'));
        for (i = 0; i < m->n; i++) {
                if (i)
                        TRY(pb_buf_putc(o, ','));
                TRY(pb_buf_json_str(o, keys[i], strlen(keys[i])));
                TRY(pb_buf_putc(o, ':'));
                TRY(put_dec(o, pb_report_money_in(m, keys[i]), scale, 1));
        }
        return pb_buf_putc(o, '}');
}

enum { F_COUNT = 1, F_MONEY = 2, F_AID = 4, F_LINES = 8 };

static pb_resp_t json_agg(pb_buf_t *o, const pb_agg_t *a, const char *kname,
                          const char *k2name, const char *cname, int f) {
        TRY(pb_buf_putc(o, '{'));
        TRY(pb_buf_json_str(o, kname, strlen(kname)));
        TRY(pb_buf_putc(o, ':'));
        TRY(pb_buf_json_str(o, a->key, strlen(a->key)));
        if (k2name) {
                TRY(pb_buf_printf(o, ",\"%s\":", k2name));
                TRY(pb_buf_json_str(o, a->key2 ? a->key2 : "",
                                    a->key2 ? strlen(a->key2) : 0));
        }
        TRY(pb_buf_printf(o, ",\"%s\":%llu", cname,
                          (unsigned long long)a->count));
        if (f & F_MONEY) {
                TRY(pb_buf_puts(o, ",\"amount\":"));
                TRY(json_summap(o, &a->money, 2));
        }
        if (f & F_AID) {
                TRY(pb_buf_puts(o, ",\"declared_value\":"));
                TRY(json_summap(o, &a->money, 2));
                TRY(pb_buf_printf(o, ",\"undeclared_value\":%llu",
                                  (unsigned long long)a->undeclared));
                TRY(pb_buf_puts(o, ",\"gross_weight_kg\":"));
                TRY(put_dec(o, a->weight, 1, 1));
                TRY(pb_buf_printf(o, ",\"unknown_weight\":%llu",
                                  (unsigned long long)a->weight_unknown));
        }
        if (f & F_LINES) {
                TRY(pb_buf_printf(o, ",\"item_lines\":%llu,\"quantity\":",
                                  (unsigned long long)a->lines));
                TRY(json_summap(o, &a->qty, 0));
        }
        return pb_buf_putc(o, '}');
}

static pb_resp_t json_table(pb_buf_t *o, const char *name, const pb_table_t *t,
                            const char *kname, const char *k2name,
                            const char *cname, int f) {
        size_t n, i;
        pb_agg_t **v = pb_report_sorted(t, &n);
        pb_resp_t r = PB_OK;
        if (t->map.n && !v)
                return PB_ERR_NOMEM;
        TRY(pb_buf_printf(o, ",\"%s\":[", name));
        for (i = 0; i < n && r == PB_OK; i++) {
                if (i)
                        r = pb_buf_putc(o, ',');
                if (r == PB_OK)
                        r = json_agg(o, v[i], kname, k2name, cname, f);
        }
        free(v);
        TRY(r);
        return pb_buf_putc(o, ']');
}

const pb_agg_t *pb_report_total_of(const pb_table_t *t) {
        return pb_report_smap_get((pb_report_smap_t *)&t->map, "all\x1f", 4);
}

/* shipments dispatched but not confirmed, oldest first */

static int unconf_cmp(const void *a, const void *b) {
        const pb_unconf_t *x = a, *y = b;
        if (x->age != y->age)
                return x->age > y->age ? -1 : 1;
        return strcmp(x->s->id, y->s->id);
}

int pb_report_delivery_stats(const pb_report_t *r, pb_dstat_t *d) {
        size_t i;
        int64_t asof_days = r->asof_ms >= 0
                                ? r->asof_ms / 86400000
                                : -((-r->asof_ms + 86399999) / 86400000);
        memset(d, 0, sizeof(*d));
        d->list = malloc((r->ships.n ? r->ships.n : 1) * sizeof(*d->list));
        if (!d->list)
                return -1;
        for (i = 0; i < r->ships.cap; i++) {
                const pb_ship_t *s = r->ships.vals[i];
                if (!r->ships.keys[i])
                        continue;
                if (!s->dispatched) {
                        d->orphan++;
                        continue;
                }
                d->dispatched++;
                if (s->delivered) {
                        d->confirmed++;
                        d->cond[s->condition]++;
                } else {
                        d->unconfirmed++;
                        d->list[d->nlist].s = s;
                        d->list[d->nlist++].age = asof_days - s->dispatched_on;
                }
        }
        if (d->nlist)
                qsort(d->list, d->nlist, sizeof(*d->list), unconf_cmp);
        return 0;
}

static pb_resp_t json_str_or_null(pb_buf_t *o, const char *s) {
        return s ? pb_buf_json_str(o, s, strlen(s)) : pb_buf_puts(o, "null");
}

/* ,"conflicts":[{type, entity, owner, source, event_id, occurred_at}] */
static pb_resp_t json_conflicts(pb_buf_t *o, const pb_report_t *r) {
        static const char *const keys[] = {"type",   "entity",   "owner",
                                           "source", "event_id", "occurred_at"};
        size_t i, k;
        TRY(pb_buf_puts(o, ",\"conflicts\":["));
        for (i = 0; i < r->nconflict_list; i++) {
                const pb_conflict_t *c = &r->conflict_list[i];
                const char *vals[] = {c->type,   c->entity,   c->owner,
                                      c->source, c->event_id, c->occurred_at};
                TRY(pb_buf_puts(o, i ? ",{" : "{"));
                for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                        TRY(pb_buf_printf(o, "%s\"%s\":", k ? "," : "",
                                          keys[k]));
                        TRY(json_str_or_null(o, vals[k]));
                }
                TRY(pb_buf_puts(o, "}"));
        }
        return pb_buf_puts(o, "]");
}

/* "sources", "schemas", "read" / "archive_files" of the report object */
static pb_resp_t json_provenance(pb_buf_t *o, const pb_report_t *r) {
        size_t i, k = 0;
        char **keys = NULL;
        if (r->sources.n && !(keys = malloc(r->sources.n * sizeof(*keys))))
                return PB_ERR_NOMEM;
        for (i = 0; i < r->sources.cap; i++)
                if (r->sources.keys && r->sources.keys[i])
                        keys[k++] = r->sources.keys[i];
        if (k)
                qsort(keys, k, sizeof(*keys), str_cmp);
        TRY(pb_buf_puts(o, ",\"sources\":{"));
        for (i = 0; i < k; i++) {
                const uint64_t *c = pb_report_smap_get(
                    (pb_report_smap_t *)&r->sources, keys[i], strlen(keys[i]));
                pb_resp_t rc = i ? pb_buf_putc(o, ',') : PB_OK;
                if (rc == PB_OK)
                        rc = pb_buf_json_str(o, keys[i], strlen(keys[i]));
                if (rc == PB_OK)
                        rc = pb_buf_printf(o, ":%llu",
                                           (unsigned long long)(c ? *c : 0));
                if (rc != PB_OK) {
                        free(keys);
                        return rc;
                }
        }
        free(keys);
        TRY(pb_buf_puts(o, "},\"schemas\":{"));
        for (i = 0; i < r->nschemas; i++)
                TRY(pb_buf_printf(
                    o, "%s\"%s\":\"%016llx\"", i ? "," : "", r->schemas[i].type,
                    (unsigned long long)r->schemas[i].fingerprint));
        TRY(pb_buf_puts(o, "},\"read\":["));
        for (i = 0; i < r->nparts; i++) {
                const pb_report_part_t *p = &r->parts[i];
                TRY(pb_buf_puts(o, i ? ",{\"topic\":" : "{\"topic\":"));
                TRY(pb_buf_json_str(o, p->topic, strlen(p->topic)));
                TRY(pb_buf_printf(o,
                                  ",\"partition\":%d,\"first_offset\":%lld,"
                                  "\"last_offset\":%lld,\"events\":%llu}",
                                  (int)p->partition, (long long)p->first,
                                  (long long)p->last,
                                  (unsigned long long)p->events));
        }
        TRY(pb_buf_puts(o, "],\"archive_files\":["));
        for (i = 0; i < r->nfiles; i++) {
                TRY(pb_buf_puts(o, i ? ",{\"path\":" : "{\"path\":"));
                TRY(pb_buf_json_str(o, r->files[i].path,
                                    strlen(r->files[i].path)));
                TRY(pb_buf_printf(o, ",\"size\":%lld}",
                                  (long long)r->files[i].size));
        }
        return pb_buf_putc(o, ']');
}

static pb_resp_t summary_json(pb_report_t *r, pb_buf_t *o) {
        static const pb_agg_t zero;
        const pb_agg_t *ft = pb_report_total_of(&r->f_total),
                       *at = pb_report_total_of(&r->a_total);
        char ts[40], day[16];
        pb_dstat_t d;
        size_t i, n;
        pb_agg_t **pm;
        uint64_t cum = 0;
        pb_resp_t rc;
        if (!ft)
                ft = &zero;
        if (!at)
                at = &zero;
        pb_rfc3339_format(r->asof_ms, ts, sizeof(ts));
        TRY(pb_buf_puts(o, "{\"report\":{\"source\":"));
        TRY(json_str_or_null(o, r->source));
        TRY(pb_buf_puts(o, ",\"since\":"));
        TRY(json_str_or_null(o, r->since));
        TRY(pb_buf_puts(o, ",\"until\":"));
        TRY(json_str_or_null(o, r->until));
        TRY(pb_buf_printf(o, ",\"as_of\":\"%s\"", ts));
        TRY(json_provenance(o, r));
        TRY(pb_buf_putc(o, '}'));
        TRY(pb_buf_printf(
            o,
            ",\"events\":{\"funds.granted\":%llu,\"aid.dispatched\":%llu,"
            "\"aid.delivered\":%llu,\"partnership.founded\":%llu,"
            "\"other\":%llu,\"duplicates_skipped\":%llu,"
            "\"superseded\":%llu,\"conflicts\":%llu}",
            (unsigned long long)r->n_funds, (unsigned long long)r->n_dispatched,
            (unsigned long long)r->n_delivered,
            (unsigned long long)r->n_partnerships,
            (unsigned long long)r->other_events,
            (unsigned long long)r->duplicates,
            (unsigned long long)r->superseded,
            (unsigned long long)r->conflicts));
        TRY(json_conflicts(o, r));
        /* funds */
        TRY(pb_buf_printf(o, ",\"funds\":{\"grants\":%llu,\"total\":",
                          (unsigned long long)ft->count));
        TRY(json_summap(o, &ft->money, 2));
        TRY(json_table(o, "by_programme", &r->f_prog, "programme", NULL,
                       "grants", F_MONEY));
        TRY(json_table(o, "by_grantor", &r->f_grantor, "grantor", NULL,
                       "grants", F_MONEY));
        TRY(json_table(o, "by_recipient", &r->f_recipient, "recipient", NULL,
                       "grants", F_MONEY));
        TRY(json_table(o, "by_month", &r->f_month, "month", NULL, "grants",
                       F_MONEY));
        /* aid */
        TRY(pb_buf_printf(o,
                          "},\"aid\":{\"shipments\":%llu,\"declared_value\":",
                          (unsigned long long)at->count));
        TRY(json_summap(o, &at->money, 2));
        TRY(pb_buf_printf(o, ",\"undeclared_value\":%llu,\"gross_weight_kg\":",
                          (unsigned long long)at->undeclared));
        TRY(put_dec(o, at->weight, 1, 1));
        TRY(pb_buf_printf(o, ",\"unknown_weight\":%llu",
                          (unsigned long long)at->weight_unknown));
        TRY(json_table(o, "by_oblast", &r->a_oblast, "oblast", NULL,
                       "shipments", F_AID));
        TRY(json_table(o, "by_city", &r->a_city, "city", "oblast", "shipments",
                       F_AID));
        TRY(json_table(o, "by_category", &r->a_cat, "category", NULL,
                       "shipments", F_AID | F_LINES));
        TRY(json_table(o, "by_month", &r->a_month, "month", NULL, "shipments",
                       F_AID));
        /* deliveries */
        if (pb_report_delivery_stats(r, &d))
                return PB_ERR_NOMEM;
        rc = pb_buf_printf(
            o,
            "},\"deliveries\":{\"dispatched\":%llu,\"confirmed\":%llu,"
            "\"unconfirmed\":%llu,\"by_condition\":{\"COMPLETE\":%llu,"
            "\"PARTIAL\":%llu,\"DAMAGED\":%llu},"
            "\"confirmed_without_dispatch\":%llu,\"unconfirmed_shipments\":[",
            (unsigned long long)d.dispatched, (unsigned long long)d.confirmed,
            (unsigned long long)d.unconfirmed, (unsigned long long)d.cond[0],
            (unsigned long long)d.cond[1], (unsigned long long)d.cond[2],
            (unsigned long long)d.orphan);
        for (i = 0; rc == PB_OK && i < d.nlist; i++) {
                const pb_ship_t *s = d.list[i].s;
                pb_date_format(s->dispatched_on, day, sizeof(day));
                rc = pb_buf_printf(o, "%s{\"shipment_id\":", i ? "," : "");
                if (rc == PB_OK)
                        rc = pb_buf_json_str(o, s->id, strlen(s->id));
                if (rc == PB_OK)
                        rc = pb_buf_printf(o,
                                           ",\"dispatched_on\":\"%s\","
                                           "\"destination_city\":",
                                           day);
                if (rc == PB_OK)
                        rc = pb_buf_json_str(o, s->city, strlen(s->city));
                if (rc == PB_OK)
                        rc = pb_buf_puts(o, ",\"destination_oblast\":");
                if (rc == PB_OK)
                        rc = pb_buf_json_str(o, s->oblast, strlen(s->oblast));
                if (rc == PB_OK)
                        rc = pb_buf_printf(o, ",\"age_days\":%lld}",
                                           (long long)d.list[i].age);
        }
        free(d.list);
        TRY(rc);
        /* partnerships */
        TRY(pb_buf_printf(o, "]},\"partnerships\":{\"total\":%llu",
                          (unsigned long long)r->partnerships));
        TRY(json_table(o, "by_kind", &r->p_kind, "kind", NULL, "partnerships",
                       F_COUNT));
        TRY(json_table(o, "by_nrw_party", &r->p_nrw, "party", NULL,
                       "partnerships", F_COUNT));
        TRY(json_table(o, "by_ukrainian_party", &r->p_ua, "party", NULL,
                       "partnerships", F_COUNT));
        pm = pb_report_sorted(&r->p_month, &n);
        if (r->p_month.map.n && !pm)
                return PB_ERR_NOMEM;
        rc = pb_buf_puts(o, ",\"cumulative\":[");
        for (i = 0; rc == PB_OK && i < n; i++) {
                cum += pm[i]->count;
                rc = pb_buf_printf(o,
                                   "%s{\"month\":\"%s\",\"founded\":%llu,"
                                   "\"cumulative\":%llu}",
                                   i ? "," : "", pm[i]->key,
                                   (unsigned long long)pm[i]->count,
                                   (unsigned long long)cum);
        }
        free(pm);
        TRY(rc);
        return pb_buf_puts(o, "]}}\n");
}

/* --- trace.json --- */
/* Item i of a JSON array of strings (',' before all but the first). */
static pb_resp_t json_item(pb_buf_t *o, size_t i, const char *s) {
        if (i)
                TRY(pb_buf_putc(o, ','));
        return pb_buf_json_str(o, s, strlen(s));
}

static pb_resp_t json_ids(pb_buf_t *o, pb_latest_t *const *items, size_t n) {
        size_t i;
        TRY(pb_buf_putc(o, '['));
        for (i = 0; i < n; i++)
                TRY(json_item(o, i, items[i]->event_id));
        return pb_buf_putc(o, ']');
}

static pb_resp_t trace_table(pb_buf_t *o, const char *name, const pb_table_t *t,
                             const char *kname, const char *k2name) {
        size_t n, i;
        pb_agg_t **v = pb_report_sorted(t, &n);
        pb_resp_t r = PB_OK;
        if (t->map.n && !v)
                return PB_ERR_NOMEM;
        r = pb_buf_printf(o, ",\"%s\":[", name);
        for (i = 0; i < n && r == PB_OK; i++) {
                if ((r = pb_buf_printf(o, "%s{\"%s\":", i ? "," : "", kname)) ||
                    (r = pb_buf_json_str(o, v[i]->key, strlen(v[i]->key))))
                        break;
                if (k2name && ((r = pb_buf_printf(o, ",\"%s\":", k2name)) ||
                               (r = json_str_or_null(o, v[i]->key2))))
                        break;
                if ((r = pb_buf_puts(o, ",\"event_ids\":")) ||
                    (r = json_ids(o, v[i]->items, v[i]->nitems)))
                        break;
                r = pb_buf_putc(o, '}');
        }
        free(v);
        TRY(r);
        return pb_buf_putc(o, ']');
}

static pb_resp_t trace_total(pb_buf_t *o, const pb_table_t *t) {
        const pb_agg_t *a = pb_report_total_of(t);
        TRY(pb_buf_puts(o, "{\"total\":"));
        return a ? json_ids(o, a->items, a->nitems) : pb_buf_puts(o, "[]");
}

static pb_resp_t json_strv(pb_buf_t *o, char *const *v, size_t n) {
        size_t i;
        TRY(pb_buf_putc(o, '['));
        for (i = 0; i < n; i++)
                TRY(json_item(o, i, v[i]));
        return pb_buf_putc(o, ']');
}

static pb_resp_t trace_json(pb_report_t *r, pb_buf_t *o) {
        static const char *types[] = {"funds.granted", "aid.dispatched",
                                      "partnership.founded"};
        size_t i, k, n;
        pb_agg_t **pm;
        pb_resp_t rc = PB_OK;
        int first = 1;
        TRY(pb_buf_puts(o, "{\"funds\":"));
        TRY(trace_total(o, &r->f_total));
        TRY(trace_table(o, "by_programme", &r->f_prog, "programme", NULL));
        TRY(trace_table(o, "by_grantor", &r->f_grantor, "grantor", NULL));
        TRY(trace_table(o, "by_recipient", &r->f_recipient, "recipient", NULL));
        TRY(trace_table(o, "by_month", &r->f_month, "month", NULL));
        TRY(pb_buf_puts(o, "},\"aid\":"));
        TRY(trace_total(o, &r->a_total));
        TRY(trace_table(o, "by_oblast", &r->a_oblast, "oblast", NULL));
        TRY(trace_table(o, "by_city", &r->a_city, "city", "oblast"));
        TRY(trace_table(o, "by_category", &r->a_cat, "category", NULL));
        TRY(trace_table(o, "by_month", &r->a_month, "month", NULL));
        /* deliveries: the confirmation counted per shipment */
        TRY(pb_buf_puts(o, "},\"deliveries\":{\"confirmed\":["));
        for (i = 0; i < r->ships.cap; i++) {
                const pb_ship_t *s = r->ships.keys ? r->ships.vals[i] : NULL;
                if (!r->ships.keys || !r->ships.keys[i] || !s->delivered)
                        continue;
                TRY(pb_buf_puts(o, first ? "{\"shipment_id\":"
                                         : ",{\"shipment_id\":"));
                first = 0;
                TRY(pb_buf_json_str(o, s->id, strlen(s->id)));
                TRY(pb_buf_puts(o, ",\"event_id\":"));
                TRY(pb_buf_json_str(o, s->delivered_id,
                                    strlen(s->delivered_id)));
                TRY(pb_buf_printf(o, ",\"condition\":\"%s\"",
                                  s->condition == 0   ? "COMPLETE"
                                  : s->condition == 1 ? "PARTIAL"
                                  : s->condition == 2 ? "DAMAGED"
                                                      : "OTHER"));
                TRY(pb_buf_puts(o, ",\"not_counted\":"));
                TRY(json_strv(o, s->more_delivered, s->nmore));
                TRY(pb_buf_putc(o, '}'));
        }
        /* unconfirmed: the dispatch event counted per shipment */
        TRY(pb_buf_puts(o, "],\"unconfirmed\":["));
        first = 1;
        for (i = 0; i < r->ships.cap; i++) {
                const pb_ship_t *s = r->ships.keys ? r->ships.vals[i] : NULL;
                const pb_latest_t *l;
                char mk[600];
                int mkl;
                if (!r->ships.keys || !r->ships.keys[i] || s->delivered ||
                    !s->dispatched)
                        continue;
                mkl = snprintf(mk, sizeof(mk), "aid.dispatched\x1f%s", s->id);
                l = mkl > 0 && (size_t)mkl < sizeof(mk)
                        ? pb_report_smap_get(&r->latest, mk, (size_t)mkl)
                        : NULL;
                TRY(pb_buf_puts(o, first ? "{\"shipment_id\":"
                                         : ",{\"shipment_id\":"));
                first = 0;
                TRY(pb_buf_json_str(o, s->id, strlen(s->id)));
                TRY(pb_buf_puts(o, ",\"event_id\":"));
                TRY(json_str_or_null(o, l ? l->event_id : NULL));
                TRY(pb_buf_putc(o, '}'));
        }
        TRY(pb_buf_puts(o, "]},\"partnerships\":"));
        {
                pb_latest_t **all = NULL;
                size_t na = 0;
                all = pb_report_entities(r, "partnership.founded", &na);
                if (na && !all)
                        return PB_ERR_NOMEM;
                rc = pb_buf_puts(o, "{\"total\":");
                if (rc == PB_OK)
                        rc = json_ids(o, all, na);
                free(all);
                TRY(rc);
        }
        TRY(trace_table(o, "by_kind", &r->p_kind, "kind", NULL));
        TRY(trace_table(o, "by_nrw_party", &r->p_nrw, "party", NULL));
        TRY(trace_table(o, "by_ukrainian_party", &r->p_ua, "party", NULL));
        TRY(trace_table(o, "by_month_founded", &r->p_month, "month", NULL));
        pm = pb_report_sorted(&r->p_month, &n);
        if (r->p_month.map.n && !pm)
                return PB_ERR_NOMEM;
        free(pm); /* cumulative: the union of by_month_founded up to it */
        TRY(pb_buf_puts(o, "},\"entities\":["));
        first = 1;
        for (k = 0; k < 3; k++) {
                pb_latest_t **v = pb_report_entities(r, types[k], &n);
                if (n && !v)
                        return PB_ERR_NOMEM;
                for (i = 0; i < n && rc == PB_OK; i++) {
                        if ((rc = pb_buf_printf(o,
                                                "%s{\"type\":\"%s\","
                                                "\"key\":",
                                                first ? "" : ",", types[k])) ||
                            (rc = json_str_or_null(o, v[i]->key)) ||
                            (rc = pb_buf_puts(o, ",\"counted\":")) ||
                            (rc = pb_buf_json_str(o, v[i]->event_id,
                                                  strlen(v[i]->event_id))) ||
                            (rc = pb_buf_puts(o, ",\"owner\":")) ||
                            (rc = pb_buf_json_str(o, v[i]->owner,
                                                  strlen(v[i]->owner))) ||
                            (rc = pb_buf_puts(o, ",\"superseded\":")) ||
                            (rc = json_strv(o, v[i]->old_ids, v[i]->nold)) ||
                            (rc = pb_buf_puts(o, ",\"conflicting\":")) ||
                            (rc = json_strv(o, v[i]->conflict_ids,
                                            v[i]->nconflict)))
                                break;
                        rc = pb_buf_putc(o, '}');
                        first = 0;
                }
                free(v);
                TRY(rc);
        }
        return pb_buf_puts(o, "]}\n");
}

/* The writers aggregate the entities' latest versions first. */
static pb_resp_t finish_quietly(pb_report_t *r) {
        char e[256];
        return pb_report_finish(r, e, sizeof(e));
}

pb_resp_t pb_report_summary_json(pb_report_t *r, pb_buf_t *o) {
        pb_resp_t rc = finish_quietly(r);
        return rc != PB_OK ? rc : summary_json(r, o);
}

pb_resp_t pb_report_trace_json(pb_report_t *r, pb_buf_t *o) {
        pb_resp_t rc = finish_quietly(r);
        return rc != PB_OK ? rc : trace_json(r, o);
}

pb_resp_t pb_report_html(pb_report_t *r, pb_buf_t *o) {
        pb_resp_t rc = finish_quietly(r);
        return rc != PB_OK ? rc : pb_report_html_doc(r, o);
}
