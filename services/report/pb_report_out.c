/* partnerbus - writes the report's figures as summary.json and as one
 * self-contained report.html (inline CSS and SVG, no scripts, no external
 * references). Chart geometry uses doubles for pixel positions only; every
 * figure printed is the exact decimal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_report_int.h"

#define TRY(x)                                                                 \
        do {                                                                   \
                pb_resp_t _r = (x);                                            \
                if (_r != PB_OK)                                               \
                        return _r;                                             \
        } while (0)

typedef int (*agg_cmp_t)(const void *, const void *);

static int by_key(const void *a, const void *b) {
        const pb_agg_t *x = *(pb_agg_t *const *)a, *y = *(pb_agg_t *const *)b;
        int c = strcmp(x->key, y->key);
        if (c)
                return c;
        return strcmp(x->key2 ? x->key2 : "", y->key2 ? y->key2 : "");
}

/* malloc'd array of the table's groups sorted by key; NULL if empty */
static pb_agg_t **sorted(const pb_table_t *t, size_t *n) {
        pb_agg_t **v;
        size_t i, k = 0;
        *n = 0;
        if (!t->map.n)
                return NULL;
        v = malloc(t->map.n * sizeof(*v));
        if (!v)
                return NULL;
        for (i = 0; i < t->map.cap; i++)
                if (t->map.keys[i])
                        v[k++] = t->map.vals[i];
        qsort(v, k, sizeof(*v), by_key);
        *n = k;
        return v;
}

static pb_report_dec_t money_in(const pb_summap_t *m, const char *cur) {
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
                TRY(put_dec(o, money_in(m, keys[i]), scale, 1));
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
        pb_agg_t **v = sorted(t, &n);
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

static const pb_agg_t *total_of(const pb_table_t *t) {
        return pb_report_smap_get((pb_report_smap_t *)&t->map, "all\x1f", 4);
}

/* shipments dispatched but not confirmed, oldest first */
typedef struct unconf {
        const pb_ship_t *s;
        int64_t age;
} unconf_t;

static int unconf_cmp(const void *a, const void *b) {
        const unconf_t *x = a, *y = b;
        if (x->age != y->age)
                return x->age > y->age ? -1 : 1;
        return strcmp(x->s->id, y->s->id);
}

typedef struct dstat {
        uint64_t dispatched, confirmed, unconfirmed, orphan, cond[4];
        unconf_t *list;
        size_t nlist;
} dstat_t;

static int delivery_stats(const pb_report_t *r, dstat_t *d) {
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
        size_t i;
        TRY(pb_buf_puts(o, ",\"conflicts\":["));
        for (i = 0; i < r->nconflict_list; i++) {
                const pb_conflict_t *c = &r->conflict_list[i];
                TRY(pb_buf_puts(o, i ? ",{\"type\":" : "{\"type\":"));
                TRY(json_str_or_null(o, c->type));
                TRY(pb_buf_puts(o, ",\"entity\":"));
                TRY(json_str_or_null(o, c->entity));
                TRY(pb_buf_puts(o, ",\"owner\":"));
                TRY(json_str_or_null(o, c->owner));
                TRY(pb_buf_puts(o, ",\"source\":"));
                TRY(json_str_or_null(o, c->source));
                TRY(pb_buf_puts(o, ",\"event_id\":"));
                TRY(json_str_or_null(o, c->event_id));
                TRY(pb_buf_puts(o, ",\"occurred_at\":"));
                TRY(json_str_or_null(o, c->occurred_at));
                TRY(pb_buf_puts(o, "}"));
        }
        return pb_buf_puts(o, "]");
}

static pb_resp_t summary_json(pb_report_t *r, pb_buf_t *o) {
        static const pb_agg_t zero;
        const pb_agg_t *ft = total_of(&r->f_total), *at = total_of(&r->a_total);
        char ts[40], day[16];
        dstat_t d;
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
        TRY(pb_buf_printf(o, ",\"as_of\":\"%s\"}", ts));
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
        if (delivery_stats(r, &d))
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
        pm = sorted(&r->p_month, &n);
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

/* --- HTML --- */
static pb_resp_t esc(pb_buf_t *o, const char *s) {
        for (; *s; s++) {
                pb_resp_t r;
                switch (*s) {
                case '<':
                        r = pb_buf_puts(o, "&lt;");
                        break;
                case '>':
                        r = pb_buf_puts(o, "&gt;");
                        break;
                case '&':
                        r = pb_buf_puts(o, "&amp;");
                        break;
                case '"':
                        r = pb_buf_puts(o, "&quot;");
                        break;
                case '\'':
                        r = pb_buf_puts(o, "&#39;");
                        break;
                default:
                        r = pb_buf_putc(o, (uint8_t)*s);
                }
                TRY(r);
        }
        return PB_OK;
}

/* Events that another organisation sent about an entity it does not own:
 * not in any figure above, each listed with both sources. */
static pb_resp_t html_conflicts(pb_buf_t *o, const pb_report_t *r) {
        size_t i;
        if (!r->conflicts)
                return PB_OK;
        TRY(pb_buf_printf(o,
                          "<h2>Conflicts between organisations</h2><p>%llu "
                          "event(s) about a grant, shipment or partnership "
                          "came from another organisation than the one that "
                          "first reported it. They are not in any figure "
                          "above.</p><table><thead><tr><th>entity</th>"
                          "<th>reported by (owner)</th><th>conflicting "
                          "source</th><th>event</th><th>occurred at</th>"
                          "</tr></thead><tbody>",
                          (unsigned long long)r->conflicts));
        for (i = 0; i < r->nconflict_list; i++) {
                const pb_conflict_t *c = &r->conflict_list[i];
                const char *cell[] = {c->type,   c->entity,   c->owner,
                                      c->source, c->event_id, c->occurred_at};
                size_t k;
                TRY(pb_buf_puts(o, "<tr>"));
                for (k = 0; k < 6; k++) {
                        TRY(pb_buf_puts(o, k == 1 ? " " : "<td>"));
                        TRY(esc(o, cell[k]));
                        if (k != 0)
                                TRY(pb_buf_puts(o, "</td>"));
                }
                TRY(pb_buf_puts(o, "</tr>"));
        }
        return pb_buf_puts(o, "</tbody></table>\n");
}

/* "1.234.567,89"-free plain form with thin grouping: 1 234 567.89 */
static pb_resp_t money_text(pb_buf_t *o, pb_report_dec_t v, int scale) {
        char b[96], g[160];
        int l = pb_report_dec_format(v, scale, b, sizeof(b)), i, k = 0, intlen;
        const char *dot;
        if (l < 0)
                return PB_ERR_LIMIT;
        dot = strchr(b, '.');
        intlen = dot ? (int)(dot - b) : l;
        for (i = 0; i < l; i++) {
                int fromend = intlen - i;
                if (i < intlen && i > 0 && b[i - 1] != '-' && fromend % 3 == 0)
                        g[k++] = ' ';
                g[k++] = b[i];
        }
        g[k] = 0;
        return pb_buf_puts(o, g);
}

static pb_resp_t summap_text(pb_buf_t *o, const pb_summap_t *m, int scale) {
        size_t i;
        if (!m->n)
                return pb_buf_puts(o, "&ndash;");
        for (i = 0; i < m->n; i++) {
                if (i)
                        TRY(pb_buf_puts(o, "<br>"));
                TRY(money_text(o, m->v[i], scale));
                if (m->k[i][0]) {
                        TRY(pb_buf_puts(o, " "));
                        TRY(esc(o, m->k[i]));
                }
        }
        return PB_OK;
}

static double to_d(pb_report_dec_t v, int scale) {
        double d = (double)v;
        while (scale-- > 0)
                d /= 10;
        return d;
}

static int by_money_desc(const void *a, const void *b) {
        const pb_agg_t *x = *(pb_agg_t *const *)a, *y = *(pb_agg_t *const *)b;
        pb_report_dec_t mx = money_in(&x->money, "EUR"),
                        my = money_in(&y->money, "EUR");
        if (mx != my)
                return mx > my ? -1 : 1;
        return strcmp(x->key, y->key);
}

static int by_count_desc(const void *a, const void *b) {
        const pb_agg_t *x = *(pb_agg_t *const *)a, *y = *(pb_agg_t *const *)b;
        if (x->count != y->count)
                return x->count > y->count ? -1 : 1;
        return strcmp(x->key, y->key);
}

/* horizontal bar chart of EUR amounts per group */
static pb_resp_t svg_bars(pb_buf_t *o, pb_agg_t **v, size_t n,
                          const char *title) {
        size_t i;
        double max = 0;
        int h = 40 + (int)n * 28, labelw = 420, barw = 330;
        for (i = 0; i < n; i++) {
                double x = to_d(money_in(&v[i]->money, "EUR"), 2);
                if (x > max)
                        max = x;
        }
        TRY(pb_buf_printf(o,
                          "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                          "width=\"900\" height=\"%d\" role=\"img\" "
                          "aria-label=\"",
                          h));
        TRY(esc(o, title));
        TRY(pb_buf_puts(o, "\">"));
        for (i = 0; i < n; i++) {
                double x = to_d(money_in(&v[i]->money, "EUR"), 2);
                double w = max > 0 ? x / max * barw : 0;
                int y = 20 + (int)i * 28;
                TRY(pb_buf_printf(o,
                                  "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
                                  "class=\"lbl\">",
                                  labelw - 8, y + 15));
                TRY(esc(o, v[i]->key));
                TRY(pb_buf_printf(
                    o,
                    "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" "
                    "height=\"20\" class=\"bar\"/>"
                    "<text x=\"%.1f\" y=\"%d\" class=\"val\">",
                    labelw, y, w < 1 && x > 0 ? 1.0 : w, labelw + w + 6,
                    y + 15));
                TRY(money_text(o, money_in(&v[i]->money, "EUR"), 2));
                TRY(pb_buf_puts(o, " EUR</text>"));
        }
        return pb_buf_puts(o, "</svg>\n");
}

/* months between first and last (inclusive), "YYYY-MM" each */
static int month_index(const char *m) {
        int y, mo;
        if (sscanf(m, "%4d-%2d", &y, &mo) != 2)
                return -1;
        return y * 12 + (mo - 1);
}

/* line/area chart over consecutive months; vals[i] for month first+i */
static pb_resp_t svg_months(pb_buf_t *o, int first, int nmonths,
                            const double *vals, const char *title,
                            const char *unit, int step) {
        int W = 900, H = 300, L = 90, R = 50, T = 20, B = 50, i;
        double max = 0, dx;
        for (i = 0; i < nmonths; i++)
                if (vals[i] > max)
                        max = vals[i];
        if (max <= 0)
                max = 1;
        dx = nmonths > 1 ? (double)(W - L - R) / (nmonths - 1) : 0;
        TRY(pb_buf_printf(o,
                          "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                          "width=\"%d\" height=\"%d\" role=\"img\" "
                          "aria-label=\"",
                          W, H));
        TRY(esc(o, title));
        TRY(pb_buf_puts(o, "\">"));
        /* axes and 4 grid lines */
        for (i = 0; i <= 4; i++) {
                double y = T + (H - T - B) * (1 - i / 4.0);
                TRY(pb_buf_printf(o,
                                  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
                                  "y2=\"%.1f\" class=\"grid\"/>"
                                  "<text x=\"%d\" y=\"%.1f\" "
                                  "text-anchor=\"end\" class=\"ax\">%.0f%s"
                                  "</text>",
                                  L, y, W - R, y, L - 6, y + 4, max * i / 4.0,
                                  unit));
        }
        TRY(pb_buf_puts(o, "<polyline class=\"line\" points=\""));
        for (i = 0; i < nmonths; i++) {
                double x = L + dx * i;
                double y = T + (H - T - B) * (1 - vals[i] / max);
                if (step && i > 0) {
                        double py = T + (H - T - B) * (1 - vals[i - 1] / max);
                        TRY(pb_buf_printf(o, "%.1f,%.1f ", x, py));
                }
                TRY(pb_buf_printf(o, "%.1f,%.1f ", x, y));
        }
        TRY(pb_buf_puts(o, "\"/>"));
        for (i = 0; i < nmonths; i++) {
                double x = L + dx * i;
                double y = T + (H - T - B) * (1 - vals[i] / max);
                int every = nmonths > 24 ? 6 : nmonths > 12 ? 3 : 1;
                TRY(pb_buf_printf(o,
                                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                                  "class=\"dot\"><title>%04d-%02d: %.2f"
                                  "</title></circle>",
                                  x, y, (first + i) / 12, (first + i) % 12 + 1,
                                  vals[i]));
                if (i % every == 0 || i == nmonths - 1)
                        TRY(pb_buf_printf(o,
                                          "<text x=\"%.1f\" y=\"%d\" "
                                          "text-anchor=\"middle\" "
                                          "class=\"ax\">%04d-%02d</text>",
                                          x, H - B + 18, (first + i) / 12,
                                          (first + i) % 12 + 1));
        }
        return pb_buf_puts(o, "</svg>\n");
}

/* monthly series from a month table: value = EUR money (money=1) or count;
 * cumulative adds up. */
static pb_resp_t chart_months(pb_buf_t *o, const pb_table_t *t, int money,
                              int cumulative, const char *title,
                              const char *unit) {
        size_t n, i;
        pb_agg_t **v = sorted(t, &n);
        int first = -1, last = -1, nm;
        double *vals, acc = 0;
        pb_resp_t r;
        for (i = 0; i < n; i++) {
                int mi = month_index(v[i]->key);
                if (mi < 0)
                        continue;
                if (first < 0 || mi < first)
                        first = mi;
                if (mi > last)
                        last = mi;
        }
        if (first < 0) {
                free(v);
                return pb_buf_puts(o, "<p class=\"none\">No data in the range."
                                      "</p>\n");
        }
        nm = last - first + 1;
        if (nm > 1200)
                nm = 1200;
        vals = calloc((size_t)nm, sizeof(*vals));
        if (!vals) {
                free(v);
                return PB_ERR_NOMEM;
        }
        for (i = 0; i < n; i++) {
                int mi = month_index(v[i]->key);
                if (mi < 0 || mi - first >= nm)
                        continue;
                vals[mi - first] += money
                                        ? to_d(money_in(&v[i]->money, "EUR"), 2)
                                        : (double)v[i]->count;
        }
        if (cumulative)
                for (i = 0; i < (size_t)nm; i++) {
                        acc += vals[i];
                        vals[i] = acc;
                }
        r = svg_months(o, first, nm, vals, title, unit, cumulative);
        free(vals);
        free(v);
        return r;
}

static pb_resp_t html_table(pb_buf_t *o, const pb_table_t *t, const char *h1,
                            const char *h2, const char *hcount, int f,
                            agg_cmp_t order) {
        size_t n, i;
        pb_agg_t **v = sorted(t, &n);
        pb_resp_t r = PB_OK;
        if (t->map.n && !v)
                return PB_ERR_NOMEM;
        if (order && n)
                qsort(v, n, sizeof(*v), order);
        TRY(pb_buf_puts(o, "<table><thead><tr><th>"));
        TRY(esc(o, h1));
        if (h2) {
                TRY(pb_buf_puts(o, "</th><th>"));
                TRY(esc(o, h2));
        }
        TRY(pb_buf_printf(o, "</th><th class=\"n\">%s</th>", hcount));
        if (f & F_LINES)
                TRY(pb_buf_puts(o, "<th class=\"n\">item lines</th>"
                                   "<th class=\"n\">quantity</th>"));
        if (f & F_MONEY)
                TRY(pb_buf_puts(o, "<th class=\"n\">amount</th>"));
        if (f & F_AID)
                TRY(pb_buf_puts(o, "<th class=\"n\">declared value</th>"
                                   "<th class=\"n\">gross weight kg</th>"));
        TRY(pb_buf_puts(o, "</tr></thead><tbody>"));
        for (i = 0; i < n && r == PB_OK; i++) {
                const pb_agg_t *a = v[i];
                if ((r = pb_buf_puts(o, "<tr><td>")) || (r = esc(o, a->key)))
                        break;
                if (h2 && ((r = pb_buf_puts(o, "</td><td>")) ||
                           (r = esc(o, a->key2 ? a->key2 : ""))))
                        break;
                if ((r = pb_buf_printf(o, "</td><td class=\"n\">%llu</td>",
                                       (unsigned long long)a->count)))
                        break;
                if ((f & F_LINES) &&
                    ((r = pb_buf_printf(o,
                                        "<td class=\"n\">%llu</td>"
                                        "<td class=\"n\">",
                                        (unsigned long long)a->lines)) ||
                     (r = summap_text(o, &a->qty, 0)) ||
                     (r = pb_buf_puts(o, "</td>"))))
                        break;
                if ((f & F_MONEY) &&
                    ((r = pb_buf_puts(o, "<td class=\"n\">")) ||
                     (r = summap_text(o, &a->money, 2)) ||
                     (r = pb_buf_puts(o, "</td>"))))
                        break;
                if ((f & F_AID) &&
                    ((r = pb_buf_puts(o, "<td class=\"n\">")) ||
                     (r = summap_text(o, &a->money, 2)) ||
                     (r = pb_buf_puts(o, "</td><td class=\"n\">")) ||
                     (r = money_text(o, a->weight, 1)) ||
                     (r = pb_buf_puts(o, "</td>"))))
                        break;
                r = pb_buf_puts(o, "</tr>");
        }
        free(v);
        TRY(r);
        return pb_buf_puts(o, "</tbody></table>\n");
}

static const char *css =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px 40px;"
    "color:#1d2733;max-width:1100px}"
    "h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;margin-top:36px;"
    "border-bottom:2px solid #0b5394;padding-bottom:4px}"
    "h3{font-size:15px;margin-top:22px}"
    ".meta{color:#555;font-size:13px}"
    "table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}"
    "th,td{border:1px solid #c9d3de;padding:4px 8px;text-align:left;"
    "vertical-align:top}th{background:#eef3f8}td.n,th.n{text-align:right;"
    "font-variant-numeric:tabular-nums}"
    ".kpi{display:inline-block;border:1px solid #c9d3de;border-radius:6px;"
    "padding:8px 14px;margin:4px 8px 4px 0;background:#f7fafc}"
    ".kpi b{display:block;font-size:20px}"
    "svg{display:block;margin:8px 0;font-size:12px}"
    ".bar{fill:#0b5394}.lbl,.val,.ax{fill:#1d2733}.grid{stroke:#dde3ea}"
    ".line{fill:none;stroke:#e69138;stroke-width:2.5}.dot{fill:#e69138}"
    ".none{color:#888}";

static pb_resp_t html(pb_report_t *r, pb_buf_t *o) {
        static const pb_agg_t zero;
        const pb_agg_t *ft = total_of(&r->f_total), *at = total_of(&r->a_total);
        char ts[40], day[16];
        dstat_t d;
        size_t n, i;
        pb_agg_t **v;
        pb_resp_t rc = PB_OK;
        if (!ft)
                ft = &zero;
        if (!at)
                at = &zero;
        pb_rfc3339_format(r->asof_ms, ts, sizeof(ts));
        TRY(pb_buf_printf(o,
                          "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                          "<meta charset=\"utf-8\">"
                          "<title>partnerbus report</title><style>%s</style>"
                          "</head><body>\n<h1>NRW &ndash; Ukraine: funds, "
                          "aid and partnerships</h1>\n<p class=\"meta\">"
                          "Source: ",
                          css));
        TRY(esc(o, r->source ? r->source : "?"));
        TRY(pb_buf_puts(o, " &middot; events from "));
        TRY(esc(o, r->since ? r->since : "the beginning"));
        TRY(pb_buf_puts(o, " until "));
        TRY(esc(o, r->until ? r->until : "now"));
        TRY(pb_buf_printf(o,
                          " (event time) &middot; ages as of %s &middot; "
                          "%llu duplicate event(s) skipped &middot; %llu "
                          "older version(s) of an entity superseded</p>\n",
                          ts, (unsigned long long)r->duplicates,
                          (unsigned long long)r->superseded));
        /* key figures */
        TRY(pb_buf_puts(o, "<div><span class=\"kpi\">funds granted<b>"));
        TRY(summap_text(o, &ft->money, 2));
        TRY(pb_buf_printf(o,
                          "</b>%llu grants</span><span class=\"kpi\">"
                          "aid dispatched<b>",
                          (unsigned long long)ft->count));
        TRY(summap_text(o, &at->money, 2));
        TRY(pb_buf_printf(o, "</b>%llu shipments</span>",
                          (unsigned long long)at->count));
        if (delivery_stats(r, &d))
                return PB_ERR_NOMEM;
        rc = pb_buf_printf(o,
                           "<span class=\"kpi\">deliveries confirmed<b>%llu "
                           "of %llu</b>%llu unconfirmed</span>"
                           "<span class=\"kpi\">partnerships<b>%llu</b>"
                           "founded</span></div>\n",
                           (unsigned long long)d.confirmed,
                           (unsigned long long)d.dispatched,
                           (unsigned long long)d.unconfirmed,
                           (unsigned long long)r->partnerships);
        if (rc != PB_OK) {
                free(d.list);
                return rc;
        }
        /* funds */
        v = sorted(&r->f_prog, &n);
        if (n)
                qsort(v, n, sizeof(*v), by_money_desc);
        rc = pb_buf_puts(o, "<h2>Funds granted</h2><h3>By programme (EUR)"
                            "</h3>\n");
        if (rc == PB_OK)
                rc = n ? svg_bars(o, v, n, "Funds granted by programme, EUR")
                       : pb_buf_puts(o, "<p class=\"none\">No grants in the "
                                        "range.</p>");
        free(v);
        if (rc == PB_OK)
                rc = html_table(o, &r->f_prog, "programme", NULL, "grants",
                                F_MONEY, by_money_desc);
        if (rc == PB_OK)
                rc = pb_buf_puts(o, "<h3>By grantor</h3>");
        if (rc == PB_OK)
                rc = html_table(o, &r->f_grantor, "grantor", NULL, "grants",
                                F_MONEY, by_money_desc);
        if (rc == PB_OK)
                rc = pb_buf_puts(o, "<h3>By recipient</h3>");
        if (rc == PB_OK)
                rc = html_table(o, &r->f_recipient, "recipient", NULL, "grants",
                                F_MONEY, by_money_desc);
        if (rc == PB_OK)
                rc = pb_buf_puts(o, "<h3>By month granted</h3>");
        if (rc == PB_OK)
                rc = html_table(o, &r->f_month, "month", NULL, "grants",
                                F_MONEY, NULL);
        /* aid */
        if (rc == PB_OK)
                rc = pb_buf_puts(o, "<h2>Aid dispatched</h2><h3>Declared value "
                                    "per month dispatched (EUR)</h3>\n");
        if (rc == PB_OK)
                rc = chart_months(o, &r->a_month, 1, 0,
                                  "Declared value of aid dispatched per "
                                  "month, EUR",
                                  "");
        if (rc == PB_OK)
                rc = pb_buf_puts(o, "<h3>By destination oblast</h3>");
        if (rc == PB_OK)
                rc = html_table(o, &r->a_oblast, "oblast", NULL, "shipments",
                                F_AID, NULL);
        if (rc == PB_OK)
                rc = pb_buf_puts(o, "<h3>By destination city</h3>");
        if (rc == PB_OK)
                rc = html_table(o, &r->a_city, "city", "oblast", "shipments",
                                F_AID, NULL);
        if (rc == PB_OK)
                rc =
                    pb_buf_puts(o, "<h3>By item category</h3><p class=\"meta\">"
                                   "A shipment counts in every category it "
                                   "carries, with its whole declared value "
                                   "and weight; these columns do not add up "
                                   "across categories.</p>");
        if (rc == PB_OK)
                rc = html_table(o, &r->a_cat, "category", NULL, "shipments",
                                F_AID | F_LINES, NULL);
        if (rc == PB_OK)
                rc = pb_buf_puts(o, "<h3>By month dispatched</h3>");
        if (rc == PB_OK)
                rc = html_table(o, &r->a_month, "month", NULL, "shipments",
                                F_AID, NULL);
        /* deliveries */
        if (rc == PB_OK)
                rc = pb_buf_printf(
                    o,
                    "<h2>Deliveries</h2><table><tbody>"
                    "<tr><th>shipments dispatched</th><td class=\"n\">%llu"
                    "</td></tr><tr><th>confirmed</th><td class=\"n\">%llu"
                    "</td></tr><tr><th>&nbsp;&nbsp;complete</th><td "
                    "class=\"n\">%llu</td></tr><tr><th>&nbsp;&nbsp;partial"
                    "</th><td class=\"n\">%llu</td></tr><tr><th>&nbsp;&nbsp;"
                    "damaged</th><td class=\"n\">%llu</td></tr><tr><th>not "
                    "confirmed</th><td class=\"n\">%llu</td></tr><tr><th>"
                    "confirmed without a dispatch event</th><td class=\"n\">"
                    "%llu</td></tr></tbody></table>\n<h3>Shipments not yet "
                    "confirmed, oldest first</h3><table><thead><tr><th>"
                    "shipment</th><th>dispatched</th><th>destination</th>"
                    "<th class=\"n\">age (days)</th></tr></thead><tbody>",
                    (unsigned long long)d.dispatched,
                    (unsigned long long)d.confirmed,
                    (unsigned long long)d.cond[0],
                    (unsigned long long)d.cond[1],
                    (unsigned long long)d.cond[2],
                    (unsigned long long)d.unconfirmed,
                    (unsigned long long)d.orphan);
        for (i = 0; rc == PB_OK && i < d.nlist && i < 500; i++) {
                const pb_ship_t *s = d.list[i].s;
                pb_date_format(s->dispatched_on, day, sizeof(day));
                if ((rc = pb_buf_puts(o, "<tr><td>")) || (rc = esc(o, s->id)) ||
                    (rc = pb_buf_printf(o, "</td><td>%s</td><td>", day)) ||
                    (rc = esc(o, s->city)) || (rc = pb_buf_puts(o, ", ")) ||
                    (rc = esc(o, s->oblast)))
                        break;
                rc = pb_buf_printf(o, "</td><td class=\"n\">%lld</td></tr>",
                                   (long long)d.list[i].age);
        }
        if (rc == PB_OK && d.nlist > 500)
                rc = pb_buf_printf(o,
                                   "<tr><td colspan=\"4\">&hellip; and %zu "
                                   "more (all in summary.json)</td></tr>",
                                   d.nlist - 500);
        free(d.list);
        TRY(rc);
        TRY(pb_buf_puts(o, "</tbody></table>\n"));
        /* partnerships */
        TRY(pb_buf_printf(o, "<h2>Partnerships</h2><h3>Cumulative number of "
                             "partnerships founded</h3>\n"));
        TRY(chart_months(o, &r->p_month, 0, 1,
                         "Cumulative number of partnerships by month "
                         "founded",
                         ""));
        TRY(pb_buf_puts(o, "<h3>By kind</h3>"));
        TRY(html_table(o, &r->p_kind, "kind", NULL, "partnerships", F_COUNT,
                       by_count_desc));
        TRY(pb_buf_puts(o, "<h3>By NRW party</h3>"));
        TRY(html_table(o, &r->p_nrw, "NRW party", NULL, "partnerships", F_COUNT,
                       by_count_desc));
        TRY(pb_buf_puts(o, "<h3>By Ukrainian party</h3>"));
        TRY(html_table(o, &r->p_ua, "Ukrainian party", NULL, "partnerships",
                       F_COUNT, by_count_desc));
        TRY(html_conflicts(o, r));
        return pb_buf_puts(o, "<p class=\"meta\">Generated by partnerbus "
                              "report. All figures exact; every figure is "
                              "also in summary.json.</p>\n</body></html>\n");
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

pb_resp_t pb_report_html(pb_report_t *r, pb_buf_t *o) {
        pb_resp_t rc = finish_quietly(r);
        return rc != PB_OK ? rc : html(r, o);
}
