/* partnerbus - report.html as a document for the committee: title, period,
 * as-of and sources in words, key figures, one section per area (funds,
 * aid and deliveries, partnerships) with chart, tables and line items, a
 * note on what the figures cover, and the provenance (schema fingerprints,
 * Kafka offsets or archive files). Every text comes from the labels beside
 * the schemas (pb_labels.h) in the language chosen; numbers, amounts and
 * dates follow its conventions. One file: inline CSS and SVG, no scripts,
 * no external references, A4 print styles. Chart geometry uses doubles for
 * pixel positions only; every figure printed is the exact decimal. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_labels.h"
#include "partnerbus/pb_util.h"
#include "pb_report_int.h"

#define NS             "de.nrw.partnerbus."
#define LINE_ITEMS_MAX 5000

typedef struct doc {
        pb_buf_t *o;
        const pb_labels_t *L;
        pb_report_t *r;
        pb_json_parser_t *jp;
} doc_t;

/* --- text --- */
/* the characters HTML gives a meaning to, and their entities */
static const char html_special[] = "<>&\"'";
static const char *const html_entity[] = {"&lt;", "&gt;", "&amp;", "&quot;",
                                          "&#39;"};

static pb_resp_t esc_n(pb_buf_t *o, const char *s, size_t n) {
        size_t i;
        for (i = 0; i < n; i++) {
                const char *sp = s[i] ? strchr(html_special, s[i]) : NULL;
                if (sp)
                        TRY(pb_buf_puts(o, html_entity[sp - html_special]));
                else if (s[i]) /* an embedded NUL shows as nothing */
                        TRY(pb_buf_putc(o, (uint8_t)s[i]));
        }
        return PB_OK;
}

static pb_resp_t esc(pb_buf_t *o, const char *s) {
        return esc_n(o, s ? s : "", s ? strlen(s) : 0);
}

static pb_resp_t msg(doc_t *d, const char *key) {
        return esc(d->o, pb_labels_msg(d->L, key));
}

/* the message with {0}.. replaced by the (escaped) arguments */
static pb_resp_t msgf(doc_t *d, const char *key, int n, ...) {
        pb_buf_t a[4];
        const char *args[4];
        va_list ap;
        int i;
        pb_resp_t rc = PB_OK;
        if (n > 4)
                n = 4;
        va_start(ap, n);
        for (i = 0; i < n; i++) {
                const char *s = va_arg(ap, const char *);
                pb_buf_init(&a[i], 0);
                if (rc == PB_OK)
                        rc = esc(&a[i], s);
                if (rc == PB_OK)
                        rc = pb_buf_putc(&a[i], 0);
                args[i] = rc == PB_OK ? (const char *)a[i].data : "";
        }
        va_end(ap);
        if (rc == PB_OK)
                rc = pb_labels_msgf(d->L, d->o, key, args, (size_t)n);
        for (i = 0; i < n; i++)
                pb_buf_free(&a[i]);
        return rc;
}

static pb_resp_t none_in_range(doc_t *d) {
        return pb_buf_printf(d->o, "<p class=\"none\">%s</p>",
                             pb_labels_msg(d->L, "report.none_in_range"));
}

static const char *num_s(doc_t *d, uint64_t v, char *b, size_t size) {
        char raw[32];
        snprintf(raw, sizeof(raw), "%llu", (unsigned long long)v);
        if (pb_labels_number(d->L, raw, b, size) < 0)
                snprintf(b, size, "%s", raw);
        return b;
}

static pb_resp_t put_count(doc_t *d, uint64_t v) {
        char b[64];
        return pb_buf_puts(d->o, num_s(d, v, b, sizeof(b)));
}

static const char *money_s(doc_t *d, pb_report_dec_t v, const char *cur,
                           char *b, size_t size) {
        char raw[96];
        if (pb_report_dec_format(v, 2, raw, sizeof(raw)) < 0)
                snprintf(raw, sizeof(raw), "?");
        if (pb_labels_money(d->L, raw, cur, b, size) < 0)
                snprintf(b, size, "%s %s", raw, cur);
        return b;
}

static const char *kg_s(doc_t *d, pb_report_dec_t v, char *b, size_t size) {
        char raw[96], n[160];
        if (pb_report_dec_format(v, 1, raw, sizeof(raw)) < 0 ||
            pb_labels_number(d->L, raw, n, sizeof(n)) < 0)
                snprintf(n, sizeof(n), "?");
        snprintf(b, size, "%s\xc2\xa0%s", n, pb_labels_msg(d->L, "report.kg"));
        return b;
}

/* amounts per currency, one per line; "–" when none */
static pb_resp_t put_summap(doc_t *d, const pb_summap_t *m) {
        size_t i;
        char b[200];
        if (!m->n)
                return pb_buf_puts(d->o, "&ndash;");
        for (i = 0; i < m->n; i++) {
                if (i)
                        TRY(pb_buf_puts(d->o, "<br>"));
                TRY(esc(d->o, money_s(d, m->v[i], m->k[i], b, sizeof(b))));
        }
        return PB_OK;
}

static const char *date_s(doc_t *d, const char *iso, char *b, size_t size) {
        if (!iso || pb_labels_date(d->L, iso, b, size) < 0)
                snprintf(b, size, "%s", iso ? iso : "");
        return b;
}

static const char *month_s(doc_t *d, const char *iso, char *b, size_t size) {
        if (pb_labels_month(d->L, iso, b, size) < 0)
                snprintf(b, size, "%s",
                         !strcmp(iso, "unknown")
                             ? pb_labels_msg(d->L, "ui.unknown")
                             : iso);
        return b;
}

/* an instant in words: date, hh:mm UTC */
static pb_resp_t put_instant(doc_t *d, int64_t ms) {
        char iso[40], day[16], dd[48], hm[8];
        pb_rfc3339_format(ms, iso, sizeof(iso));
        snprintf(day, sizeof(day), "%.10s", iso);
        snprintf(hm, sizeof(hm), "%.5s", iso + 11);
        return msgf(d, "report.time_utc", 2, date_s(d, day, dd, sizeof(dd)),
                    hm);
}

/* a range bound: a date when it is midnight UTC, else date and time */
static pb_resp_t bound_s(doc_t *d, int64_t ms, pb_buf_t *b) {
        char iso[40], day[16], dd[48];
        pb_rfc3339_format(ms, iso, sizeof(iso));
        snprintf(day, sizeof(day), "%.10s", iso);
        date_s(d, day, dd, sizeof(dd));
        TRY(pb_buf_puts(b, dd));
        if (ms % 86400000) {
                TRY(pb_buf_printf(b, ", %.5s UTC", iso + 11));
        }
        return pb_buf_putc(b, 0);
}

static pb_resp_t put_period(doc_t *d) {
        pb_buf_t a, b;
        pb_resp_t rc = PB_OK;
        const pb_report_t *r = d->r;
        pb_buf_init(&a, 0);
        pb_buf_init(&b, 0);
        if (r->has_since)
                rc = bound_s(d, r->since_ms, &a);
        if (rc == PB_OK && r->has_until)
                rc = bound_s(d, r->until_ms, &b);
        if (rc == PB_OK) {
                if (r->has_since && r->has_until)
                        rc = msgf(d, "report.period_range", 2,
                                  (const char *)a.data, (const char *)b.data);
                else if (r->has_since)
                        rc = msgf(d, "report.period_from", 1,
                                  (const char *)a.data);
                else if (r->has_until)
                        rc = msgf(d, "report.period_until", 1,
                                  (const char *)b.data);
                else
                        rc = msg(d, "report.period_all");
        }
        pb_buf_free(&a);
        pb_buf_free(&b);
        return rc;
}

static const char *enum_s(doc_t *d, const char *en, const char *sym) {
        char full[128];
        snprintf(full, sizeof(full), NS "%s", en);
        return pb_labels_enum(d->L, full, sym);
}

/* --- the sources: events per organisation, sorted by name --- */
static int str_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **source_names(const pb_report_t *r, size_t *n) {
        return (char **)pb_report_smap_sorted(&r->sources, 1, str_cmp, n);
}

static pb_resp_t put_sources(doc_t *d) {
        size_t n, i;
        char **v = source_names(d->r, &n), b[64];
        pb_resp_t rc = PB_OK;
        if (!n)
                return msg(d, "report.no_sources");
        if (!v)
                return PB_ERR_NOMEM;
        for (i = 0; i < n && rc == PB_OK; i++) {
                const uint64_t *c =
                    pb_report_smap_get(&d->r->sources, v[i], strlen(v[i]));
                if (i)
                        rc = pb_buf_puts(d->o, ", ");
                if (rc == PB_OK)
                        rc = msgf(d, "report.sources_events", 2,
                                  v[i][0] ? v[i] : "?",
                                  num_s(d, c ? *c : 0, b, sizeof(b)));
        }
        free(v);
        return rc;
}

/* --- charts --- */
static double to_d(pb_report_dec_t v, int scale) {
        double x = (double)v;
        while (scale-- > 0)
                x /= 10;
        return x;
}

/* a "nice" step (1, 2, 5 x 10^k) for about 4 ticks up to max */
static double nice_step(double max) {
        double raw = max / 4, p = 1, f;
        if (raw <= 0)
                return 1;
        while (p * 10 <= raw)
                p *= 10;
        while (p > raw)
                p /= 10;
        f = raw / p;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static pb_resp_t svg_open(doc_t *d, int w, int h, const char *title_key) {
        TRY(pb_buf_printf(d->o,
                          "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" "
                          "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                          "role=\"img\" aria-label=\"",
                          w, h, w, h));
        TRY(msg(d, title_key));
        return pb_buf_puts(d->o, "\">");
}

static pb_resp_t svg_close(doc_t *d, const char *title_key,
                           const char *note_key) {
        TRY(pb_buf_puts(d->o, "</svg><figcaption>"));
        TRY(msg(d, title_key));
        if (note_key) {
                TRY(pb_buf_puts(d->o, ". "));
                TRY(msg(d, note_key));
        }
        return pb_buf_puts(d->o, "</figcaption></figure>\n");
}

static int by_money_desc(const void *a, const void *b) {
        const pb_agg_t *x = *(pb_agg_t *const *)a, *y = *(pb_agg_t *const *)b;
        pb_report_dec_t mx = pb_report_money_in(&x->money, "EUR"),
                        my = pb_report_money_in(&y->money, "EUR");
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

/* a label cut to about max characters (UTF-8 safe) with an ellipsis */
static pb_resp_t put_cut(pb_buf_t *o, const char *s, size_t max) {
        size_t i = 0, chars = 0;
        while (s[i] && chars < max) {
                i++;
                while ((s[i] & 0xc0) == 0x80)
                        i++;
                chars++;
        }
        TRY(esc_n(o, s, i));
        return s[i] ? pb_buf_puts(o, "&hellip;") : PB_OK;
}

/* horizontal bars of EUR amounts per programme */
static pb_resp_t chart_programmes(doc_t *d) {
        size_t n, i;
        pb_agg_t **v = pb_report_sorted(&d->r->f_prog, &n);
        double max = 0;
        int W = 680, labelw = 300, barw = 240, h;
        char b[200];
        pb_resp_t rc = PB_OK;
        if (!n)
                return none_in_range(d);
        if (!v)
                return PB_ERR_NOMEM;
        qsort(v, n, sizeof(*v), by_money_desc);
        if (n > 25)
                n = 25; /* the table has them all */
        h = 16 + (int)n * 26;
        for (i = 0; i < n; i++)
                if (to_d(pb_report_money_in(&v[i]->money, "EUR"), 2) > max)
                        max = to_d(pb_report_money_in(&v[i]->money, "EUR"), 2);
        rc = svg_open(d, W, h, "report.chart_funds");
        for (i = 0; rc == PB_OK && i < n; i++) {
                double x = to_d(pb_report_money_in(&v[i]->money, "EUR"), 2);
                double w = max > 0 ? x / max * barw : 0;
                int y = 8 + (int)i * 26;
                const char *key =
                    strcmp(v[i]->key, "(no programme)")
                        ? v[i]->key
                        : pb_labels_msg(d->L, "report.no_programme");
                if ((rc = pb_buf_printf(d->o,
                                        "<text x=\"%d\" y=\"%d\" "
                                        "text-anchor=\"end\" class=\"lbl\">",
                                        labelw - 6, y + 14)) ||
                    (rc = put_cut(d->o, key, 42)) ||
                    (rc = pb_buf_printf(
                         d->o,
                         "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" "
                         "height=\"18\" class=\"bar\"/><text x=\"%.1f\" "
                         "y=\"%d\" class=\"val\">",
                         labelw, y, w < 1 && x > 0 ? 1.0 : w, labelw + w + 6,
                         y + 14)))
                        break;
                if (pb_report_money_in(&v[i]->money, "EUR") || !v[i]->money.n)
                        rc = esc(
                            d->o,
                            money_s(d, pb_report_money_in(&v[i]->money, "EUR"),
                                    "EUR", b, sizeof(b)));
                else
                        rc = put_summap(d, &v[i]->money);
                if (rc == PB_OK)
                        rc = pb_buf_puts(d->o, "</text>");
        }
        free(v);
        TRY(rc);
        return svg_close(d, "report.chart_funds", NULL);
}

static int month_index(const char *m) {
        int y, mo;
        if (strlen(m) != 7 || sscanf(m, "%4d-%2d", &y, &mo) != 2 || mo < 1 ||
            mo > 12)
                return -1;
        return y * 12 + (mo - 1);
}

/* month axis labels that never overlap: every step-th month, the year
 * under the first label of each year */
static pb_resp_t month_axis(doc_t *d, int first, int nm, int L, double dx,
                            int ybase) {
        int i, step = 1, lastyear = -1;
        while (dx * step < 40)
                step++;
        if (step > 1 && step < 3)
                step = 3;
        else if (step > 3 && step < 6)
                step = 6;
        else if (step > 6 && step < 12)
                step = 12;
        for (i = 0; i < nm; i++) {
                int m = (first + i) % 12, y = (first + i) / 12;
                char iso[16], mon[64], full[64];
                double x = L + dx * (i + 0.5);
                if (m % step) { /* the first month only when the next
                                   aligned label is far enough away */
                        if (i || (step - m % step) * dx < 40)
                                continue;
                }
                snprintf(iso, sizeof(iso), "%04d-%02d", y, m + 1);
                month_s(d, iso, full, sizeof(full));
                /* the month name alone: the text before the last space */
                snprintf(mon, sizeof(mon), "%s", full);
                {
                        char *sp = strstr(mon, "\xc2\xa0");
                        if (sp)
                                *sp = 0;
                }
                TRY(pb_buf_printf(d->o,
                                  "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
                                  "y2=\"%d\" class=\"tick\"/><text x=\"%.1f\" "
                                  "y=\"%d\" text-anchor=\"middle\" "
                                  "class=\"ax\">",
                                  x, ybase, x, ybase + 4, x, ybase + 16));
                TRY(esc(d->o, step >= 12 ? "" : mon));
                TRY(pb_buf_puts(d->o, "</text>"));
                if (y != lastyear) {
                        TRY(pb_buf_printf(d->o,
                                          "<text x=\"%.1f\" y=\"%d\" "
                                          "text-anchor=\"middle\" "
                                          "class=\"ax yr\">%04d</text>",
                                          x, ybase + (step >= 12 ? 16 : 30),
                                          y));
                        lastyear = y;
                }
        }
        return PB_OK;
}

/* y grid and labels: money (EUR, no cents) or counts */
static pb_resp_t y_axis(doc_t *d, double max, double step, int L, int R, int T,
                        int ph, int money) {
        double v;
        for (v = 0; v <= max + step / 2; v += step) {
                double y = T + ph * (1 - v / max);
                char raw[48], b[96];
                snprintf(raw, sizeof(raw), "%.0f", v);
                if (money) {
                        if (pb_labels_money(d->L, raw, "EUR", b, sizeof(b)) < 0)
                                snprintf(b, sizeof(b), "%s", raw);
                } else if (pb_labels_number(d->L, raw, b, sizeof(b)) < 0)
                        snprintf(b, sizeof(b), "%s", raw);
                TRY(pb_buf_printf(d->o,
                                  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
                                  "y2=\"%.1f\" class=\"grid\"/><text x=\"%d\" "
                                  "y=\"%.1f\" text-anchor=\"end\" "
                                  "class=\"ax\">",
                                  L, y, R, y, L - 6, y + 4));
                TRY(esc(d->o, b));
                TRY(pb_buf_puts(d->o, "</text>"));
        }
        return PB_OK;
}

typedef struct mval {
        double v;        /* EUR declared (aid) or count */
        uint64_t n;      /* shipments / founded in the month */
        uint64_t undecl; /* shipments without a declared value */
        int present;
} mval_t;

/* months of a month table from first to last; NULL when none */
static mval_t *months_of(const pb_table_t *t, int *first, int *nm) {
        size_t n, i;
        pb_agg_t **v = pb_report_sorted(t, &n);
        int lo = -1, hi = -1;
        mval_t *m;
        *nm = 0;
        for (i = 0; i < n; i++) {
                int mi = month_index(v[i]->key);
                if (mi < 0)
                        continue;
                if (lo < 0 || mi < lo)
                        lo = mi;
                if (mi > hi)
                        hi = mi;
        }
        if (lo < 0 || hi - lo >= 1200) {
                if (lo >= 0)
                        lo = hi - 1199;
                else {
                        free(v);
                        return NULL;
                }
        }
        *first = lo;
        *nm = hi - lo + 1;
        m = calloc((size_t)*nm, sizeof(*m));
        for (i = 0; m && i < n; i++) {
                int mi = month_index(v[i]->key);
                if (mi < lo || mi > hi)
                        continue;
                m[mi - lo].present = 1;
                m[mi - lo].n = v[i]->count;
                m[mi - lo].undecl = v[i]->undeclared;
                m[mi - lo].v = to_d(pb_report_money_in(&v[i]->money, "EUR"), 2);
        }
        free(v);
        return m;
}

/* aid: one bar per month; months without shipments stay empty, months
 * whose shipments declare no value are hatched (never a 0) */
static pb_resp_t chart_aid(doc_t *d) {
        int W = 680, H = 286, L = 96, R = 668, T = 12, B = 74, first, nm, i;
        int ph = H - T - B;
        mval_t *m = months_of(&d->r->a_month, &first, &nm);
        double max = 0, step, dx, bw;
        char b[64];
        if (!m)
                return none_in_range(d);
        for (i = 0; i < nm; i++)
                if (m[i].v > max)
                        max = m[i].v;
        step = nice_step(max > 0 ? max : 1);
        {
                double top = step;
                while (top < max)
                        top += step;
                max = top;
        }
        dx = (double)(R - L) / nm;
        bw = dx * 0.7 < 1 ? 1 : dx * 0.7;
        if (svg_open(d, W, H, "report.chart_aid") != PB_OK ||
            y_axis(d, max, step, L, R, T, ph, 1) != PB_OK) {
                free(m);
                return PB_ERR_NOMEM;
        }
        for (i = 0; i < nm; i++) {
                double x = L + dx * i + (dx - bw) / 2;
                pb_resp_t rc = PB_OK;
                if (!m[i].present || !m[i].n)
                        continue;
                if (m[i].undecl == m[i].n)
                        rc = pb_buf_printf(
                            d->o,
                            "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                            "height=\"%d\" class=\"unk\"><title>%s</title>"
                            "</rect><text x=\"%.1f\" y=\"%d\" "
                            "text-anchor=\"middle\" class=\"ax\">?</text>",
                            x, T + ph - 16, bw, 16,
                            pb_labels_msg(d->L, "report.value_unknown"),
                            x + bw / 2, T + ph - 20);
                else {
                        double h = m[i].v / max * ph;
                        rc = pb_buf_printf(
                            d->o,
                            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                            "height=\"%.1f\" class=\"bar\"/>",
                            x, T + ph - h, bw, h < 0.5 ? 0.5 : h);
                        if (rc == PB_OK && m[i].undecl)
                                rc =
                                    pb_buf_printf(d->o,
                                                  "<text x=\"%.1f\" y=\"%.1f\" "
                                                  "text-anchor=\"middle\" "
                                                  "class=\"ax\">*</text>",
                                                  x + bw / 2, T + ph - h - 3);
                }
                if (rc != PB_OK) {
                        free(m);
                        return rc;
                }
        }
        if (month_axis(d, first, nm, L, dx, T + ph) != PB_OK) {
                free(m);
                return PB_ERR_NOMEM;
        }
        free(m);
        /* legend */
        TRY(pb_buf_printf(d->o,
                          "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"10\" "
                          "class=\"bar\"/><text x=\"%d\" y=\"%d\" "
                          "class=\"ax\">",
                          L, H - 26, L + 16, H - 17));
        TRY(msg(d, "report.legend_value"));
        TRY(pb_buf_printf(d->o,
                          "</text><rect x=\"%d\" y=\"%d\" width=\"12\" "
                          "height=\"10\" class=\"unk\"/><text x=\"%d\" "
                          "y=\"%d\" class=\"ax\">",
                          L + 150, H - 26, L + 166, H - 17));
        TRY(msg(d, "report.value_unknown"));
        TRY(pb_buf_printf(d->o, "</text><text x=\"%d\" y=\"%d\" class=\"ax\">",
                          L, H - 3));
        TRY(msg(d, "report.legend_partial"));
        TRY(pb_buf_puts(d->o, "</text>"));
        (void)b;
        return svg_close(d, "report.chart_aid", "report.chart_aid_gap");
}

/* partnerships: the cumulative count as a step line (it holds in months
 * without a founding), a dot where new ones were founded */
static pb_resp_t chart_partnerships(doc_t *d) {
        int W = 680, H = 250, L = 70, R = 668, T = 12, B = 50, first, nm, i;
        int ph = H - T - B;
        mval_t *m = months_of(&d->r->p_month, &first, &nm);
        double max, step, dx, acc = 0;
        pb_resp_t rc;
        if (!m)
                return none_in_range(d);
        for (i = 0; i < nm; i++)
                acc += (double)m[i].n;
        step = nice_step(acc > 0 ? acc : 1);
        if (step < 1)
                step = 1;
        max = step;
        while (max < acc)
                max += step;
        dx = (double)(R - L) / nm;
        rc = svg_open(d, W, H, "report.chart_partnerships");
        if (rc == PB_OK)
                rc = y_axis(d, max, step, L, R, T, ph, 0);
        if (rc == PB_OK)
                rc = pb_buf_puts(d->o, "<polyline class=\"line\" points=\"");
        acc = 0;
        for (i = 0; rc == PB_OK && i < nm; i++) {
                double x0 = L + dx * i, x1 = L + dx * (i + 1), y;
                acc += (double)m[i].n;
                y = T + ph * (1 - acc / max);
                rc = pb_buf_printf(d->o, "%.1f,%.1f %.1f,%.1f ", x0, y, x1, y);
        }
        if (rc == PB_OK)
                rc = pb_buf_puts(d->o, "\"/>");
        acc = 0;
        for (i = 0; rc == PB_OK && i < nm; i++) {
                double y;
                acc += (double)m[i].n;
                if (!m[i].n)
                        continue;
                y = T + ph * (1 - acc / max);
                rc = pb_buf_printf(d->o,
                                   "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                                   "class=\"dot\"><title>%.0f</title>"
                                   "</circle>",
                                   L + dx * (i + 0.5), y, acc);
        }
        if (rc == PB_OK)
                rc = month_axis(d, first, nm, L, dx, T + ph);
        free(m);
        TRY(rc);
        TRY(pb_buf_printf(d->o,
                          "<circle cx=\"%d\" cy=\"%d\" r=\"3\" class=\"dot\"/>"
                          "<text x=\"%d\" y=\"%d\" class=\"ax\">",
                          L + 6, H - 7, L + 14, H - 3));
        TRY(msg(d, "report.legend_founded"));
        TRY(pb_buf_puts(d->o, "</text>"));
        return svg_close(d, "report.chart_partnerships", NULL);
}

/* --- tables of figures --- */
enum { F_COUNT = 1, F_MONEY = 2, F_AID = 4, F_LINES = 8 };
enum { K_PLAIN, K_MONTH, K_CATEGORY, K_KIND, K_PROGRAMME };

static pb_resp_t put_key(doc_t *d, const char *k, int kind) {
        char b[128];
        switch (kind) {
        case K_MONTH:
                return esc(d->o, month_s(d, k, b, sizeof(b)));
        case K_CATEGORY:
                return esc(d->o, enum_s(d, "ItemCategory", k));
        case K_KIND:
                return esc(d->o, enum_s(d, "PartnershipKind", k));
        case K_PROGRAMME:
                if (!strcmp(k, "(no programme)"))
                        return msg(d, "report.no_programme");
                return esc(d->o, k);
        default:
                return esc(d->o, k);
        }
}

/* the weight of a row: "–" when no shipment states one; a note when
 * some do not */
/* a note under a cell's value */
static pb_resp_t put_note(doc_t *d, const char *text) {
        TRY(pb_buf_puts(d->o, "<br><span class=\"q\">"));
        TRY(esc(d->o, text));
        return pb_buf_puts(d->o, "</span>");
}

/* "(n unknown)" under a cell's value */
static pb_resp_t put_n_unknown(doc_t *d, uint64_t count) {
        char n[64];
        TRY(pb_buf_puts(d->o, "<br><span class=\"q\">"));
        TRY(msgf(d, "report.n_unknown", 1, num_s(d, count, n, sizeof(n))));
        return pb_buf_puts(d->o, "</span>");
}

static pb_resp_t put_weight(doc_t *d, const pb_agg_t *a) {
        char b[200];
        if (a->weight_unknown >= a->count)
                return pb_buf_puts(d->o, "&ndash;");
        TRY(esc(d->o, kg_s(d, a->weight, b, sizeof(b))));
        if (a->weight_unknown) {
                TRY(put_n_unknown(d, a->weight_unknown));
        }
        return PB_OK;
}

static pb_resp_t put_value(doc_t *d, const pb_agg_t *a) {
        TRY(put_summap(d, &a->money));
        if (a->undeclared && a->money.n) {
                TRY(put_n_unknown(d, a->undeclared));
        }
        return PB_OK;
}

static pb_resp_t put_qty(doc_t *d, const pb_summap_t *m) {
        size_t i;
        char raw[64], b[96];
        for (i = 0; i < m->n; i++) {
                if (i)
                        TRY(pb_buf_puts(d->o, "<br>"));
                if (pb_report_dec_format(m->v[i], 0, raw, sizeof(raw)) < 0 ||
                    pb_labels_number(d->L, raw, b, sizeof(b)) < 0)
                        snprintf(b, sizeof(b), "?");
                TRY(pb_buf_puts(d->o, b));
                if (m->k[i][0]) {
                        TRY(pb_buf_puts(d->o, " "));
                        TRY(esc(d->o, m->k[i]));
                }
        }
        return PB_OK;
}

static pb_resp_t th(doc_t *d, const char *key, int num) {
        TRY(pb_buf_puts(d->o, num ? "<th class=\"n\">" : "<th>"));
        TRY(msg(d, key));
        return pb_buf_puts(d->o, "</th>");
}

/* <table class="cls"><thead> with one column heading per key (num[i]:
 * right-aligned; num NULL: none is), up to <tbody> */
static pb_resp_t table_head(doc_t *d, const char *cls, const char *const *keys,
                            const int *num, size_t n) {
        size_t i;
        TRY(pb_buf_printf(d->o, "<table class=\"%s\"><thead><tr>", cls));
        for (i = 0; i < n; i++)
                TRY(th(d, keys[i], num ? num[i] : 0));
        return pb_buf_puts(d->o, "</tr></thead><tbody>");
}

static pb_resp_t fig_table(doc_t *d, const pb_table_t *t, const char *h1,
                           int k1, const char *h2, const char *hcount, int f,
                           int (*order)(const void *, const void *)) {
        size_t n, i;
        pb_agg_t **v = pb_report_sorted(t, &n);
        pb_resp_t r = PB_OK;
        if (!n)
                return none_in_range(d);
        if (!v)
                return PB_ERR_NOMEM;
        if (order)
                qsort(v, n, sizeof(*v), order);
        r = pb_buf_puts(d->o, "<table class=\"fig\"><thead><tr>");
        if (r == PB_OK)
                r = th(d, h1, 0);
        if (r == PB_OK && h2)
                r = th(d, h2, 0);
        if (r == PB_OK)
                r = th(d, hcount, 1);
        if (r == PB_OK && (f & F_LINES)) {
                r = th(d, "report.col_lines", 1);
                if (r == PB_OK)
                        r = th(d, "report.col_quantity", 1);
        }
        if (r == PB_OK && (f & F_MONEY))
                r = th(d, "report.col_amount", 1);
        if (r == PB_OK && (f & F_AID)) {
                r = th(d, "report.col_value", 1);
                if (r == PB_OK)
                        r = th(d, "report.col_weight", 1);
        }
        if (r == PB_OK)
                r = pb_buf_puts(d->o, "</tr></thead><tbody>");
        for (i = 0; i < n && r == PB_OK; i++) {
                const pb_agg_t *a = v[i];
                if ((r = pb_buf_puts(d->o, "<tr><td>")) ||
                    (r = put_key(d, a->key, k1)))
                        break;
                if (h2 && ((r = pb_buf_puts(d->o, "</td><td>")) ||
                           (r = esc(d->o, a->key2))))
                        break;
                if ((r = pb_buf_puts(d->o, "</td><td class=\"n\">")) ||
                    (r = put_count(d, a->count)) ||
                    (r = pb_buf_puts(d->o, "</td>")))
                        break;
                if ((f & F_LINES) &&
                    ((r = pb_buf_puts(d->o, "<td class=\"n\">")) ||
                     (r = put_count(d, a->lines)) ||
                     (r = pb_buf_puts(d->o, "</td><td class=\"n\">")) ||
                     (r = put_qty(d, &a->qty)) ||
                     (r = pb_buf_puts(d->o, "</td>"))))
                        break;
                if ((f & F_MONEY) &&
                    ((r = pb_buf_puts(d->o, "<td class=\"n\">")) ||
                     (r = put_summap(d, &a->money)) ||
                     (r = pb_buf_puts(d->o, "</td>"))))
                        break;
                if ((f & F_AID) &&
                    ((r = pb_buf_puts(d->o, "<td class=\"n\">")) ||
                     (r = put_value(d, a)) ||
                     (r = pb_buf_puts(d->o, "</td><td class=\"n\">")) ||
                     (r = put_weight(d, a)) ||
                     (r = pb_buf_puts(d->o, "</td>"))))
                        break;
                r = pb_buf_puts(d->o, "</tr>");
        }
        free(v);
        TRY(r);
        return pb_buf_puts(d->o, "</tbody></table>\n");
}

static pb_resp_t h3(doc_t *d, const char *key) {
        TRY(pb_buf_puts(d->o, "<h3>"));
        TRY(msg(d, key));
        return pb_buf_puts(d->o, "</h3>\n");
}

/* --- line items --- */
static const char *jstr(const pb_json_t *ev, const char *a, const char *b) {
        const pb_json_t *v = pb_json_get(ev, a);
        if (b)
                v = pb_json_get(v, b);
        return v && v->type == PB_JSON_STRING ? v->str : NULL;
}

/* "reported by" and "earlier versions" cells of an entity */
static pb_resp_t put_provenance_cells(doc_t *d, const pb_latest_t *l) {
        char n[64];
        TRY(pb_buf_puts(d->o, "<td class=\"src\">"));
        TRY(esc(d->o, l->owner));
        TRY(pb_buf_puts(d->o, "<br><span class=\"id\">"));
        TRY(esc(d->o, l->event_id));
        TRY(pb_buf_puts(d->o, "</span></td><td>"));
        if (!l->nold && !l->nconflict)
                TRY(msg(d, "report.versions_none"));
        if (l->nold)
                TRY(msgf(d, "report.versions_n", 2,
                         num_s(d, l->nold, n, sizeof(n)), l->owner));
        if (l->nconflict) {
                if (l->nold)
                        TRY(pb_buf_puts(d->o, "<br>"));
                TRY(pb_buf_puts(d->o, "<span class=\"warn\">"));
                TRY(msgf(d, "report.conflict_n", 2,
                         num_s(d, l->nconflict, n, sizeof(n)), l->conflict_by));
                TRY(pb_buf_puts(d->o, "</span>"));
        }
        return pb_buf_puts(d->o, "</td>");
}

static pb_resp_t put_org(doc_t *d, const pb_json_t *ev, const char *field) {
        const char *name = jstr(ev, field, "name");
        const char *kind = jstr(ev, field, "kind");
        TRY(esc(d->o, name ? name : "?"));
        if (kind) {
                TRY(pb_buf_puts(d->o, " <span class=\"q\">("));
                TRY(esc(d->o, enum_s(d, "OrganisationKind", kind)));
                TRY(pb_buf_puts(d->o, ")</span>"));
        }
        return PB_OK;
}

typedef pb_resp_t (*item_row_t)(doc_t *d, const pb_latest_t *l,
                                const pb_json_t *ev);

/* a line item's date cell and its first party up to sep */
static pb_resp_t row_open(doc_t *d, const pb_latest_t *l, const pb_json_t *ev,
                          const char *party, const char *sep) {
        char b[200];
        TRY(pb_buf_puts(d->o, "<tr><td class=\"nw\">"));
        TRY(esc(d->o, date_s(d, l->date, b, sizeof(b))));
        TRY(pb_buf_puts(d->o, "</td><td>"));
        TRY(put_org(d, ev, party));
        return pb_buf_puts(d->o, sep);
}

static pb_resp_t row_close(doc_t *d, const pb_latest_t *l) {
        TRY(pb_buf_puts(d->o, "</td>"));
        TRY(put_provenance_cells(d, l));
        return pb_buf_puts(d->o, "</tr>\n");
}

static pb_resp_t row_grant(doc_t *d, const pb_latest_t *l,
                           const pb_json_t *ev) {
        const char *prog = jstr(ev, "programme", NULL),
                   *purpose = jstr(ev, "purpose", NULL),
                   *amount = jstr(ev, "amount", NULL),
                   *cur = jstr(ev, "currency", NULL),
                   *rec = jstr(ev, "recurrence", NULL);
        char b[200];
        TRY(row_open(d, l, ev, "grantor", " &rarr; "));
        TRY(put_org(d, ev, "recipient"));
        TRY(pb_buf_puts(d->o, "</td><td>"));
        if (purpose)
                TRY(esc(d->o, purpose));
        if (prog)
                TRY(put_note(d, prog));
        TRY(pb_buf_puts(d->o, "</td><td class=\"n\">"));
        if (amount && cur &&
            pb_labels_money(d->L, amount, cur, b, sizeof(b)) > 0)
                TRY(esc(d->o, b));
        else
                TRY(esc(d->o, amount ? amount : "?"));
        if (rec && strcmp(rec, "ONCE"))
                TRY(put_note(d, enum_s(d, "Recurrence", rec)));
        return row_close(d, l);
}

static pb_resp_t row_shipment(doc_t *d, const pb_latest_t *l,
                              const pb_json_t *ev) {
        const char *val = jstr(ev, "declared_value", NULL),
                   *cur = jstr(ev, "currency", NULL),
                   *kg = jstr(ev, "gross_weight_kg", NULL),
                   *fac = jstr(ev, "destination", "facility"),
                   *city = jstr(ev, "destination", "city"),
                   *obl = jstr(ev, "destination", "oblast");
        const pb_json_t *items = pb_json_get(ev, "items"), *it;
        const pb_ship_t *s =
            l->key ? pb_report_smap_get(&d->r->ships, l->key, strlen(l->key))
                   : NULL;
        char b[200], n[96];
        TRY(row_open(d, l, ev, "sender", " &rarr; "));
        if (fac) {
                TRY(esc(d->o, fac));
                TRY(pb_buf_puts(d->o, ", "));
        }
        TRY(esc(d->o, city ? city : "?"));
        if (obl) {
                TRY(pb_buf_puts(d->o, " <span class=\"q\">("));
                TRY(esc(d->o, obl));
                TRY(pb_buf_puts(d->o, ")</span>"));
        }
        TRY(pb_buf_puts(d->o, "</td><td>"));
        for (it = items && items->type == PB_JSON_ARRAY ? items->child : NULL;
             it; it = it->next) {
                const char *cat = jstr(it, "category", NULL),
                           *unit = jstr(it, "unit", NULL),
                           *desc = jstr(it, "description", NULL);
                const pb_json_t *q = pb_json_get(it, "quantity");
                if (it != items->child)
                        TRY(pb_buf_puts(d->o, "<br>"));
                if (q && q->type == PB_JSON_NUMBER && q->len < 40) {
                        char raw[48];
                        snprintf(raw, sizeof(raw), "%.*s", (int)q->len, q->str);
                        if (pb_labels_number(d->L, raw, n, sizeof(n)) < 0)
                                snprintf(n, sizeof(n), "%s", raw);
                        TRY(pb_buf_puts(d->o, n));
                        TRY(pb_buf_puts(d->o, "&nbsp;"));
                }
                if (unit) {
                        TRY(esc(d->o, unit));
                        TRY(pb_buf_puts(d->o, " "));
                }
                TRY(esc(d->o, cat ? enum_s(d, "ItemCategory", cat) : "?"));
                if (desc) {
                        TRY(pb_buf_puts(d->o, " <span class=\"q\">("));
                        TRY(put_cut(d->o, desc, 80));
                        TRY(pb_buf_puts(d->o, ")</span>"));
                }
        }
        TRY(pb_buf_puts(d->o, "</td><td class=\"n\">"));
        if (val && cur && pb_labels_money(d->L, val, cur, b, sizeof(b)) > 0)
                TRY(esc(d->o, b));
        else
                TRY(pb_buf_puts(d->o, "&ndash;"));
        TRY(pb_buf_puts(d->o, "</td><td class=\"n\">"));
        if (kg && pb_labels_number(d->L, kg, n, sizeof(n)) > 0) {
                TRY(esc(d->o, n));
                TRY(pb_buf_puts(d->o, "&nbsp;"));
                TRY(msg(d, "report.kg"));
        } else
                TRY(pb_buf_puts(d->o, "&ndash;"));
        TRY(pb_buf_puts(d->o, "</td><td>"));
        if (s && s->delivered) {
                char day[16], dd[48];
                pb_date_format(s->delivered_on, day, sizeof(day));
                TRY(msgf(d, "report.confirmed_on", 2,
                         date_s(d, day, dd, sizeof(dd)), s->delivered_by));
                if (s->condition < 3) {
                        static const char *c[] = {"COMPLETE", "PARTIAL",
                                                  "DAMAGED"};
                        TRY(put_note(d, enum_s(d, "DeliveryCondition",
                                               c[s->condition])));
                }
        } else {
                TRY(pb_buf_puts(d->o, "<span class=\"warn\">"));
                TRY(msg(d, "report.unconfirmed"));
                TRY(pb_buf_puts(d->o, "</span>"));
        }
        return row_close(d, l);
}

static pb_resp_t row_partnership(doc_t *d, const pb_latest_t *l,
                                 const pb_json_t *ev) {
        const char *kind = jstr(ev, "kind", NULL);
        const pb_json_t *areas = pb_json_get(ev, "areas"), *a;
        TRY(row_open(d, l, ev, "nrw_party", " &ndash; "));
        TRY(put_org(d, ev, "ukrainian_party"));
        TRY(pb_buf_puts(d->o, "</td><td>"));
        TRY(esc(d->o, kind ? enum_s(d, "PartnershipKind", kind) : "?"));
        if (areas && areas->type == PB_JSON_ARRAY && areas->count) {
                TRY(pb_buf_puts(d->o, "<br><span class=\"q\">"));
                for (a = areas->child; a; a = a->next)
                        if (a->type == PB_JSON_STRING) {
                                if (a != areas->child)
                                        TRY(pb_buf_puts(d->o, ", "));
                                TRY(esc(d->o, a->str));
                        }
                TRY(pb_buf_puts(d->o, "</span>"));
        }
        return row_close(d, l);
}

static pb_resp_t line_items(doc_t *d, const char *type, const char *title,
                            const char *const *cols, const int *numeric,
                            size_t ncols, item_row_t row) {
        size_t n, i;
        pb_latest_t **v = pb_report_entities(d->r, type, &n);
        pb_resp_t rc = PB_OK;
        char perr[128], cnt[64];
        TRY(h3(d, title));
        if (!n)
                return none_in_range(d);
        if (!v)
                return PB_ERR_NOMEM;
        rc = table_head(d, "items", cols, numeric, ncols);
        if (rc == PB_OK)
                rc = pb_buf_putc(d->o, '\n');
        for (i = 0; rc == PB_OK && i < n && i < LINE_ITEMS_MAX; i++) {
                const pb_json_t *ev = pb_json_parse(
                    d->jp, v[i]->json, v[i]->len, perr, sizeof(perr));
                if (!ev) {
                        rc = PB_ERR_INVALID;
                        break;
                }
                rc = row(d, v[i], ev);
        }
        if (rc == PB_OK && n > LINE_ITEMS_MAX) {
                rc = pb_buf_printf(d->o, "<tr><td colspan=\"%zu\">", ncols);
                if (rc == PB_OK)
                        rc = msgf(
                            d, "report.more_rows", 1,
                            num_s(d, n - LINE_ITEMS_MAX, cnt, sizeof(cnt)));
                if (rc == PB_OK)
                        rc = pb_buf_puts(d->o, "</td></tr>");
        }
        free(v);
        TRY(rc);
        return pb_buf_puts(d->o, "</tbody></table>\n");
}

/* --- sections --- */

/* one figure table of a section under its heading (and a note) */
typedef struct fig_spec {
        const char *title, *note;
        size_t table; /* offset of the pb_table_t in pb_report_t */
        const char *h1;
        int k1;
        const char *h2, *hcount;
        int f;
        int (*order)(const void *, const void *);
} fig_spec_t;

static pb_resp_t fig_tables(doc_t *d, const fig_spec_t *s, size_t n) {
        size_t i;
        for (i = 0; i < n; i++) {
                TRY(h3(d, s[i].title));
                if (s[i].note) {
                        TRY(pb_buf_puts(d->o, "<p class=\"note\">"));
                        TRY(msg(d, s[i].note));
                        TRY(pb_buf_puts(d->o, "</p>"));
                }
                TRY(fig_table(
                    d, (const pb_table_t *)((const char *)d->r + s[i].table),
                    s[i].h1, s[i].k1, s[i].h2, s[i].hcount, s[i].f,
                    s[i].order));
        }
        return PB_OK;
}
static pb_resp_t h2(doc_t *d, const char *id, int no, const char *key) {
        TRY(pb_buf_printf(d->o, "<section id=\"%s\"><h2>%d. ", id, no));
        TRY(msg(d, key));
        return pb_buf_puts(d->o, "</h2>\n");
}

static pb_resp_t kpi(doc_t *d, const char *key, const char *big_html,
                     const char *small_key, const char *small_html) {
        TRY(pb_buf_puts(d->o, "<div class=\"kpi\"><span>"));
        TRY(msg(d, key));
        TRY(pb_buf_printf(d->o, "</span><b>%s</b>", big_html));
        if (small_key) {
                TRY(pb_buf_puts(d->o, "<small>"));
                TRY(msg(d, small_key));
                TRY(pb_buf_printf(d->o, ": %s</small>", small_html));
        }
        return pb_buf_puts(d->o, "</div>");
}

/* an escaped money text of a summap (first currency, EUR first) */
static void summap_html(doc_t *d, const pb_summap_t *m, pb_buf_t *b) {
        doc_t t = *d;
        t.o = b;
        put_summap(&t, m);
        pb_buf_putc(b, 0);
}

static pb_resp_t sec_key_figures(doc_t *d, const pb_agg_t *ft,
                                 const pb_agg_t *at, const pb_dstat_t *ds) {
        pb_buf_t b1, b2;
        char n1[64], n2[64], n3[64], w[200];
        pb_resp_t rc;
        pb_buf_init(&b1, 0);
        pb_buf_init(&b2, 0);
        summap_html(d, &ft->money, &b1);
        summap_html(d, &at->money, &b2);
        rc = h2(d, "kennzahlen", 1, "report.key_figures");
        if (rc == PB_OK)
                rc = pb_buf_puts(d->o, "<div class=\"kpis\">");
        if (rc == PB_OK)
                rc = kpi(d, "report.kf_funds", (const char *)b1.data,
                         "report.kf_grants", num_s(d, ft->count, n1, 20));
        if (rc == PB_OK)
                rc = kpi(d, "report.kf_aid", (const char *)b2.data,
                         "report.kf_shipments", num_s(d, at->count, n2, 20));
        if (rc == PB_OK) {
                pb_buf_t t;
                doc_t td = *d;
                pb_buf_init(&t, 0);
                td.o = &t;
                rc = msgf(&td, "report.kf_of", 2,
                          num_s(d, ds->confirmed, n1, sizeof(n1)),
                          num_s(d, ds->dispatched, n2, sizeof(n2)));
                if (rc == PB_OK)
                        rc = pb_buf_putc(&t, 0);
                if (rc == PB_OK)
                        rc = kpi(d, "report.kf_confirmed", (const char *)t.data,
                                 "report.d_unconfirmed",
                                 num_s(d, ds->unconfirmed, n3, sizeof(n3)));
                pb_buf_free(&t);
        }
        if (rc == PB_OK)
                rc = kpi(d, "report.kf_partnerships",
                         num_s(d, d->r->partnerships, n1, sizeof(n1)), NULL,
                         NULL);
        if (rc == PB_OK)
                rc = kpi(d, "report.kf_weight",
                         at->weight_unknown >= at->count
                             ? "&ndash;"
                             : kg_s(d, at->weight, w, sizeof(w)),
                         "report.kf_unknown_weight",
                         num_s(d, at->weight_unknown, n2, sizeof(n2)));
        pb_buf_free(&b1);
        pb_buf_free(&b2);
        TRY(rc);
        return pb_buf_puts(d->o, "</div></section>\n");
}

static pb_resp_t sec_funds(doc_t *d) {
        static const char *cols[] = {
            "report.col_date",   "report.col_parties",  "report.col_purpose",
            "report.col_amount", "report.col_reported", "report.col_versions"};
        static const int num[] = {0, 0, 0, 1, 0, 0};
        TRY(h2(d, "mittel", 2, "report.sec_funds"));
        TRY(chart_programmes(d));
        {
                static const fig_spec_t figs[] = {
                    {"report.by_programme", NULL, offsetof(pb_report_t, f_prog),
                     "report.col_programme", K_PROGRAMME, NULL,
                     "report.col_count_grants", F_MONEY, by_money_desc},
                    {"report.by_grantor", NULL,
                     offsetof(pb_report_t, f_grantor), "report.col_grantor",
                     K_PLAIN, NULL, "report.col_count_grants", F_MONEY,
                     by_money_desc},
                    {"report.by_recipient", NULL,
                     offsetof(pb_report_t, f_recipient), "report.col_recipient",
                     K_PLAIN, NULL, "report.col_count_grants", F_MONEY,
                     by_money_desc},
                    {"report.by_month_granted", NULL,
                     offsetof(pb_report_t, f_month), "report.col_month",
                     K_MONTH, NULL, "report.col_count_grants", F_MONEY, NULL}};
                TRY(fig_tables(d, figs, sizeof(figs) / sizeof(*figs)));
        }
        TRY(line_items(d, "funds.granted", "report.line_items_funds", cols, num,
                       6, row_grant));
        return pb_buf_puts(d->o, "</section>\n");
}

static pb_resp_t sec_aid(doc_t *d, const pb_dstat_t *ds) {
        static const char *cols[] = {
            "report.col_date",     "report.col_parties", "report.col_goods",
            "report.col_value",    "report.col_weight",  "report.col_status",
            "report.col_reported", "report.col_versions"};
        static const int num[] = {0, 0, 0, 1, 1, 0, 0, 0};
        size_t i;
        char b[64], day[16], dd[48];
        TRY(h2(d, "hilfe", 3, "report.sec_aid"));
        TRY(chart_aid(d));
        {
                static const fig_spec_t figs[] = {
                    {"report.by_oblast", "report.by_category_note",
                     offsetof(pb_report_t, a_cat), "report.col_category",
                     K_CATEGORY, NULL, "report.col_count_shipments",
                     F_AID | F_LINES, NULL},
                    {"report.by_month_dispatched", NULL,
                     offsetof(pb_report_t, a_month), "report.col_month",
                     K_MONTH, NULL, "report.col_count_shipments", F_AID, NULL}};
                TRY(fig_tables(d, figs, sizeof(figs) / sizeof(*figs)));
        }
        /* deliveries */
        TRY(h3(d, "report.deliveries"));
        TRY(pb_buf_puts(d->o, "<table class=\"fig\"><tbody>"));
        {
                const char *k[] = {"report.d_dispatched",
                                   "report.d_confirmed",
                                   NULL,
                                   NULL,
                                   NULL,
                                   "report.d_unconfirmed",
                                   "report.d_orphan"};
                static const char *cs[] = {"COMPLETE", "PARTIAL", "DAMAGED"};
                uint64_t v[] = {ds->dispatched, ds->confirmed, ds->cond[0],
                                ds->cond[1],    ds->cond[2],   ds->unconfirmed,
                                ds->orphan};
                for (i = 0; i < 7; i++) {
                        TRY(pb_buf_puts(d->o, i >= 2 && i <= 4
                                                  ? "<tr><th class=\"in\">"
                                                  : "<tr><th>"));
                        if (k[i])
                                TRY(msg(d, k[i]));
                        else
                                TRY(esc(d->o, enum_s(d, "DeliveryCondition",
                                                     cs[i - 2])));
                        TRY(pb_buf_puts(d->o, "</th><td class=\"n\">"));
                        TRY(put_count(d, v[i]));
                        TRY(pb_buf_puts(d->o, "</td></tr>"));
                }
        }
        TRY(pb_buf_puts(d->o, "</tbody></table>\n"));
        TRY(h3(d, "report.unconfirmed_list"));
        if (!ds->nlist)
                TRY(pb_buf_printf(d->o, "<p class=\"none\">%s</p>",
                                  pb_labels_msg(d->L, "ui.none")));
        else {
                static const char *cols[] = {
                    "report.col_shipment", "report.col_date",
                    "report.col_parties", "report.col_age"};
                static const int num[] = {0, 0, 0, 1};
                TRY(table_head(d, "fig", cols, num, 4));
                for (i = 0; i < ds->nlist && i < 500; i++) {
                        const pb_ship_t *s = ds->list[i].s;
                        pb_date_format(s->dispatched_on, day, sizeof(day));
                        TRY(pb_buf_puts(d->o, "<tr><td class=\"id\">"));
                        TRY(esc(d->o, s->id));
                        TRY(pb_buf_puts(d->o, "</td><td class=\"nw\">"));
                        TRY(esc(d->o, date_s(d, day, dd, sizeof(dd))));
                        TRY(pb_buf_puts(d->o, "</td><td>"));
                        TRY(esc(d->o, s->city));
                        TRY(pb_buf_puts(d->o, " ("));
                        TRY(esc(d->o, s->oblast));
                        TRY(pb_buf_printf(d->o, ")</td><td class=\"n\">%lld",
                                          (long long)ds->list[i].age));
                        TRY(pb_buf_puts(d->o, "</td></tr>"));
                }
                if (ds->nlist > 500) {
                        TRY(pb_buf_puts(d->o, "<tr><td colspan=\"4\">"));
                        TRY(msgf(d, "report.more_rows", 1,
                                 num_s(d, ds->nlist - 500, b, sizeof(b))));
                        TRY(pb_buf_puts(d->o, "</td></tr>"));
                }
                TRY(pb_buf_puts(d->o, "</tbody></table>\n"));
        }
        TRY(line_items(d, "aid.dispatched", "report.line_items_aid", cols, num,
                       8, row_shipment));
        return pb_buf_puts(d->o, "</section>\n");
}

static pb_resp_t sec_partnerships(doc_t *d) {
        static const char *cols[] = {"report.col_date", "report.col_parties",
                                     "report.col_kind", "report.col_reported",
                                     "report.col_versions"};
        static const int num[] = {0, 0, 0, 0, 0};
        TRY(h2(d, "partnerschaften", 4, "report.sec_partnerships"));
        TRY(chart_partnerships(d));
        {
                static const fig_spec_t figs[] = {
                    {"report.by_kind", NULL, offsetof(pb_report_t, p_kind),
                     "report.col_kind", K_KIND, NULL,
                     "report.col_count_partnerships", F_COUNT, by_count_desc},
                    {"report.by_nrw_party", NULL, offsetof(pb_report_t, p_nrw),
                     "report.col_nrw_party", K_PLAIN, NULL,
                     "report.col_count_partnerships", F_COUNT, by_count_desc},
                    {"report.by_ua_party", NULL, offsetof(pb_report_t, p_ua),
                     "report.col_ua_party", K_PLAIN, NULL,
                     "report.col_count_partnerships", F_COUNT, by_count_desc}};
                TRY(fig_tables(d, figs, sizeof(figs) / sizeof(*figs)));
        }
        TRY(line_items(d, "partnership.founded",
                       "report.line_items_partnerships", cols, num, 5,
                       row_partnership));
        return pb_buf_puts(d->o, "</section>\n");
}

static int has_other_currency(const pb_report_t *r) {
        const pb_agg_t *t[2] = {pb_report_total_of(&r->f_total),
                                pb_report_total_of(&r->a_total)};
        size_t i, k;
        for (k = 0; k < 2; k++)
                for (i = 0; t[k] && i < t[k]->money.n; i++)
                        if (strcmp(t[k]->money.k[i], "EUR"))
                                return 1;
        return 0;
}

static pb_resp_t sec_coverage(doc_t *d, const pb_agg_t *at,
                              const pb_dstat_t *ds) {
        pb_buf_t p, s;
        doc_t t = *d;
        char n1[64], n2[64];
        size_t i;
        pb_resp_t rc;
        TRY(h2(d, "erfassung", 5, "report.sec_coverage"));
        /* the range in words, then the sentence around it */
        pb_buf_init(&p, 0);
        pb_buf_init(&s, 0);
        t.o = &p;
        rc = put_period(&t);
        if (rc == PB_OK)
                rc = pb_buf_putc(&p, 0);
        t.o = &s;
        if (rc == PB_OK)
                rc = put_sources(&t);
        if (rc == PB_OK)
                rc = pb_buf_putc(&s, 0);
        /* the arguments are HTML already: substitute without escaping */
        if (rc == PB_OK)
                rc = pb_buf_puts(d->o, "<ul class=\"cov\"><li>");
        if (rc == PB_OK) {
                const char *a[] = {(const char *)p.data};
                rc = pb_labels_msgf(d->L, d->o, "report.cov_range", a, 1);
        }
        if (rc == PB_OK)
                rc = pb_buf_puts(d->o, "</li><li>");
        if (rc == PB_OK) {
                const char *a[] = {num_s(d, d->r->sources.n, n1, sizeof(n1)),
                                   (const char *)s.data};
                rc = pb_labels_msgf(d->L, d->o, "report.cov_sources", a, 2);
        }
        pb_buf_free(&p);
        pb_buf_free(&s);
        TRY(rc);
        TRY(pb_buf_puts(d->o, "</li><li>"));
        TRY(msgf(d, "report.cov_once", 2,
                 num_s(d, d->r->superseded, n1, sizeof(n1)),
                 num_s(d, d->r->duplicates, n2, sizeof(n2))));
        TRY(pb_buf_puts(d->o, "</li><li>"));
        TRY(msgf(d, "report.cov_unconfirmed", 2,
                 num_s(d, ds->unconfirmed, n1, sizeof(n1)),
                 num_s(d, ds->dispatched, n2, sizeof(n2))));
        TRY(pb_buf_puts(d->o, "</li><li>"));
        TRY(msgf(d, "report.cov_undeclared", 2,
                 num_s(d, at->undeclared, n1, sizeof(n1)),
                 num_s(d, at->weight_unknown, n2, sizeof(n2))));
        if (has_other_currency(d->r)) {
                TRY(pb_buf_puts(d->o, "</li><li>"));
                TRY(msg(d, "report.cov_other_currency"));
        }
        TRY(pb_buf_puts(d->o, "</li><li>"));
        if (!d->r->conflicts) {
                TRY(msg(d, "report.cov_no_conflicts"));
                TRY(pb_buf_puts(d->o, "</li></ul>\n"));
                return pb_buf_puts(d->o, "</section>\n");
        }
        TRY(msgf(d, "report.cov_conflicts", 1,
                 num_s(d, d->r->conflicts, n1, sizeof(n1))));
        TRY(pb_buf_puts(d->o, "</li></ul>\n"));
        TRY(h3(d, "report.conflicts_title"));
        {
                static const char *cols[] = {
                    "report.col_entity", "report.col_owner",
                    "report.col_conflicting", "report.col_event",
                    "report.col_occurred"};
                TRY(table_head(d, "items", cols, NULL, 5));
        }
        for (i = 0; i < d->r->nconflict_list; i++) {
                const pb_conflict_t *c = &d->r->conflict_list[i];
                const char *cells[] = {c->owner, c->source, c->event_id,
                                       c->occurred_at};
                size_t k;
                TRY(pb_buf_puts(d->o, "<tr><td>"));
                TRY(esc(d->o, c->type));
                TRY(pb_buf_puts(d->o, " "));
                TRY(esc(d->o, c->entity));
                for (k = 0; k < 4; k++) {
                        TRY(pb_buf_puts(d->o, k == 2 ? "</td><td class=\"id\">"
                                                     : "</td><td>"));
                        TRY(esc(d->o, cells[k]));
                }
                TRY(pb_buf_puts(d->o, "</td></tr>"));
        }
        TRY(pb_buf_puts(d->o, "</tbody></table>\n"));
        return pb_buf_puts(d->o, "</section>\n");
}

static pb_resp_t sec_provenance(doc_t *d) {
        const pb_report_t *r = d->r;
        size_t i;
        char b[64];
        TRY(h2(d, "herkunft", 6, "report.sec_provenance"));
        TRY(pb_buf_puts(d->o, "<p>"));
        TRY(msg(d, "report.prov_intro"));
        TRY(pb_buf_puts(d->o, "</p>"));
        TRY(h3(d, "report.prov_schemas"));
        {
                static const char *cols[] = {"report.col_type",
                                             "report.prov_fingerprint"};
                TRY(table_head(d, "fig", cols, NULL, 2));
        }
        for (i = 0; i < r->nschemas; i++) {
                TRY(pb_buf_puts(d->o, "<tr><td>"));
                TRY(esc(d->o, r->schemas[i].type));
                TRY(pb_buf_printf(
                    d->o, "</td><td class=\"id\">%016llx</td></tr>",
                    (unsigned long long)r->schemas[i].fingerprint));
        }
        TRY(pb_buf_puts(d->o, "</tbody></table>\n"));
        if (r->nfiles) {
                TRY(h3(d, "report.prov_files"));
                static const char *cols[] = {"report.prov_file",
                                             "report.col_size"};
                static const int num[] = {0, 1};
                TRY(table_head(d, "fig", cols, num, 2));
                for (i = 0; i < r->nfiles; i++) {
                        TRY(pb_buf_puts(d->o, "<tr><td class=\"id\">"));
                        TRY(esc(d->o, r->files[i].path));
                        TRY(pb_buf_puts(d->o, "</td><td class=\"n\">"));
                        TRY(put_count(d, (uint64_t)r->files[i].size));
                        TRY(pb_buf_puts(d->o, "</td></tr>"));
                }
                TRY(pb_buf_puts(d->o, "</tbody></table>\n"));
        }
        if (r->nparts && r->parts[0].partition >= 0) {
                TRY(h3(d, "report.prov_offsets"));
                static const char *cols[] = {
                    "report.prov_topic", "report.prov_partition",
                    "report.prov_offset_from", "report.prov_offset_to",
                    "report.col_events"};
                static const int num[] = {0, 1, 1, 1, 1};
                TRY(table_head(d, "fig", cols, num, 5));
                for (i = 0; i < r->nparts; i++) {
                        const pb_report_part_t *p = &r->parts[i];
                        TRY(pb_buf_puts(d->o, "<tr><td>"));
                        TRY(esc(d->o, p->topic));
                        TRY(pb_buf_printf(d->o,
                                          "</td><td class=\"n\">%d</td><td "
                                          "class=\"n\">%lld</td><td "
                                          "class=\"n\">%lld</td><td "
                                          "class=\"n\">",
                                          (int)p->partition,
                                          (long long)p->first,
                                          (long long)p->last + 1));
                        TRY(pb_buf_puts(d->o,
                                        num_s(d, p->events, b, sizeof(b))));
                        TRY(pb_buf_puts(d->o, "</td></tr>"));
                }
                TRY(pb_buf_puts(d->o, "</tbody></table>\n"));
        }
        TRY(pb_buf_puts(d->o, "<p class=\"note\">"));
        TRY(msg(d, "report.prov_same"));
        return pb_buf_puts(d->o, "</p></section>\n");
}

static const char *css =
    "@page{size:A4;margin:16mm 14mm 18mm}"
    "body{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;"
    "margin:24px auto;padding:0 24px;color:#000;max-width:980px;"
    "font-size:14px;line-height:1.4}"
    "h1{font-size:24px;margin:0 0 4px}.sub{font-size:15px;margin:0 0 14px}"
    "h2{font-size:19px;margin-top:30px;border-bottom:2px solid #000;"
    "padding-bottom:3px}h3{font-size:15px;margin:20px 0 6px}"
    "dl.meta{display:grid;grid-template-columns:max-content 1fr;"
    "gap:2px 14px;margin:0 0 12px}dl.meta dt{font-weight:bold}"
    "dl.meta dd{margin:0}nav ol{margin:4px 0 0 0;columns:2}"
    "table{border-collapse:collapse;margin:6px 0 14px;font-size:12.5px}"
    "th,td{border:1px solid #777;padding:3px 6px;text-align:left;"
    "vertical-align:top}thead th{background:#e6e6e6}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}th.in{padding-left:22px;font-weight:normal}"
    "table.items{width:100%;font-size:11.5px}td.src{min-width:150px}"
    ".nw{white-space:nowrap}.q{color:#444;font-size:92%}"
    ".id{font-family:'DejaVu Sans Mono',monospace;font-size:10px;"
    "word-break:break-all}"
    ".warn{font-weight:bold}.note{font-size:12.5px;color:#333}"
    ".none{color:#555;font-style:italic}"
    ".kpis{display:flex;flex-wrap:wrap;gap:8px}"
    ".kpi{border:1px solid #000;padding:6px 12px;min-width:190px}"
    ".kpi span{display:block;font-size:12px}.kpi b{display:block;"
    "font-size:19px}.kpi small{font-size:12px}"
    "figure{margin:8px 0 12px}figcaption{font-size:12px;color:#333;"
    "max-width:680px}svg{display:block;max-width:100%;height:auto;"
    "font-size:11px}"
    ".bar{fill:#3a3a3a}.unk{fill:#fff;stroke:#000;stroke-width:1;"
    "stroke-dasharray:2 2}"
    ".lbl,.val,.ax{fill:#000}.yr{font-weight:bold}"
    ".grid{stroke:#c8c8c8;stroke-width:.8}.tick{stroke:#000}"
    ".line{fill:none;stroke:#000;stroke-width:2}.dot{fill:#000}"
    "ul.cov li{margin-bottom:4px}footer{margin-top:28px;font-size:12px;"
    "border-top:1px solid #000;padding-top:4px}"
    "@media print{body{margin:0;padding:0;max-width:none;font-size:10pt}"
    "nav{display:none}h2{break-after:avoid;page-break-after:avoid}"
    "h3{break-after:avoid;page-break-after:avoid}"
    "section{break-before:page;page-break-before:always}"
    "section#kennzahlen{break-before:auto;page-break-before:auto}"
    "thead{display:table-header-group}tr,figure,.kpi{break-inside:avoid;"
    "page-break-inside:avoid}table{font-size:8.5pt}"
    "table.items{font-size:8pt}td.src{min-width:30mm}"
    ".id{font-size:6.5pt}a{color:#000;text-decoration:none}}";

pb_resp_t pb_report_html_doc(pb_report_t *r, pb_buf_t *o) {
        static const pb_agg_t zero;
        const pb_agg_t *ft = pb_report_total_of(&r->f_total),
                       *at = pb_report_total_of(&r->a_total);
        doc_t d;
        pb_dstat_t ds;
        pb_resp_t rc = PB_OK;
        d.o = o;
        d.L = r->labels;
        d.r = r;
        if (!ft)
                ft = &zero;
        if (!at)
                at = &zero;
        if (!(d.jp = pb_json_parser_new(NULL)))
                return PB_ERR_NOMEM;
        if (pb_report_delivery_stats(r, &ds)) {
                pb_json_parser_destroy(d.jp);
                return PB_ERR_NOMEM;
        }
#define STEP(x)                                                                \
        do {                                                                   \
                if (rc == PB_OK)                                               \
                        rc = (x);                                              \
        } while (0)
        STEP(pb_buf_printf(o,
                           "<!DOCTYPE html>\n<html lang=\"%s\"><head>"
                           "<meta charset=\"utf-8\"><title>",
                           d.L ? pb_labels_lang(d.L) : "en"));
        STEP(msg(&d, "report.doc_title"));
        STEP(pb_buf_printf(o,
                           "</title><style>%s</style></head><body>\n"
                           "<header><h1>",
                           css));
        STEP(msg(&d, "report.doc_title"));
        STEP(pb_buf_puts(o, "</h1><p class=\"sub\">"));
        STEP(msg(&d, "report.doc_subtitle"));
        STEP(pb_buf_puts(o, "</p><dl class=\"meta\"><dt>"));
        STEP(msg(&d, "report.period"));
        STEP(pb_buf_puts(o, "</dt><dd>"));
        STEP(put_period(&d));
        STEP(pb_buf_puts(o, "; "));
        STEP(msg(&d, "report.period_basis"));
        STEP(pb_buf_puts(o, "</dd><dt>"));
        STEP(msg(&d, "report.as_of"));
        STEP(pb_buf_puts(o, "</dt><dd>"));
        STEP(put_instant(&d, r->asof_ms));
        STEP(pb_buf_puts(o, " <span class=\"q\">("));
        STEP(msg(&d, "report.as_of_note"));
        STEP(pb_buf_puts(o, ")</span></dd><dt>"));
        STEP(msg(&d, "report.read_from"));
        STEP(pb_buf_puts(o, "</dt><dd>"));
        STEP(msg(&d, r->source && !strcmp(r->source, "archive")
                         ? "report.read_archive"
                         : "report.read_kafka"));
        STEP(pb_buf_puts(o, "</dd><dt>"));
        STEP(msg(&d, "report.sources"));
        STEP(pb_buf_puts(o, "</dt><dd>"));
        STEP(put_sources(&d));
        STEP(pb_buf_puts(o, "</dd></dl></header>\n<nav><b>"));
        STEP(msg(&d, "report.contents"));
        STEP(pb_buf_puts(o, "</b><ol>"));
        {
                static const char *ids[] = {"kennzahlen", "mittel",
                                            "hilfe",      "partnerschaften",
                                            "erfassung",  "herkunft"};
                static const char *keys[] = {
                    "report.key_figures",  "report.sec_funds",
                    "report.sec_aid",      "report.sec_partnerships",
                    "report.sec_coverage", "report.sec_provenance"};
                size_t i;
                for (i = 0; i < 6; i++) {
                        STEP(pb_buf_printf(o, "<li><a href=\"#%s\">", ids[i]));
                        STEP(msg(&d, keys[i]));
                        STEP(pb_buf_puts(o, "</a></li>"));
                }
        }
        STEP(pb_buf_puts(o, "</ol></nav>\n"));
        STEP(sec_key_figures(&d, ft, at, &ds));
        STEP(sec_funds(&d));
        STEP(sec_aid(&d, &ds));
        STEP(sec_partnerships(&d));
        STEP(sec_coverage(&d, at, &ds));
        STEP(sec_provenance(&d));
        STEP(pb_buf_puts(o, "<footer>"));
        STEP(msg(&d, "report.footer"));
        STEP(pb_buf_puts(o, "</footer>\n</body></html>\n"));
#undef STEP
        free(ds.list);
        pb_json_parser_destroy(d.jp);
        return rc;
}
