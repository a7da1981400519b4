/* partnerbus report - the report as an .xlsx workbook (libxlsxwriter): a
 * summary sheet with the figures of summary.json and one sheet of line
 * items per area. Amounts are numbers with a currency format, dates are
 * dates; texts come from the labels (pb_labels.h). See docs/report.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xlsxwriter.h>

#include "partnerbus/pb_util.h"
#include "pb_report_exp.h"

#define NS        "de.nrw.partnerbus."
#define MAX_CUR   16
#define CELL_MAX  32000 /* bytes; Excel holds 32,767 characters a cell */
#define SHEET_MAX 31    /* characters in a sheet name */

typedef struct xw {
        lxw_workbook *wb;
        const pb_labels_t *L;
        lxw_format *title, *bold, *head, *date, *month, *wrap, *kg, *count;
        char cur[MAX_CUR][8];
        lxw_format *money[MAX_CUR];
        size_t ncur;
        lxw_error err;
        pb_buf_t tmp;
        char msg[160]; /* why a sheet could not be written */
} xw_t;

/* Excel's rows: a header, the items, a blank row and totals per currency */
static int too_many(xw_t *x, size_t n, const char *what) {
        if (n + 2 + MAX_CUR < LXW_ROW_MAX)
                return 0;
        snprintf(x->msg, sizeof(x->msg),
                 "%zu %s: more than an Excel sheet holds (%u rows); narrow "
                 "the range",
                 n, what, (unsigned)LXW_ROW_MAX);
        return 1;
}

static const char *M(const xw_t *x, const char *key) {
        return pb_labels_msg(x->L, key);
}

static const char *F(const xw_t *x, const char *rec, const char *field) {
        return pb_labels_field(x->L, rec, field);
}

static const char *E(const xw_t *x, const char *en, const char *sym) {
        return pb_labels_enum(x->L, en, sym);
}

static void check(xw_t *x, lxw_error e) {
        if (e != LXW_NO_ERROR && x->err == LXW_NO_ERROR)
                x->err = e;
}

/* text, cut at a UTF-8 boundary below Excel's cell limit */
static void put_str(xw_t *x, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c,
                    const char *s, lxw_format *f) {
        size_t n;
        if (!s || !*s)
                return;
        n = strlen(s);
        if (n > CELL_MAX) {
                n = CELL_MAX;
                while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
                        n--;
                pb_buf_reset(&x->tmp);
                if (pb_buf_append(&x->tmp, s, n) != PB_OK ||
                    pb_buf_puts(&x->tmp, "\xE2\x80\xA6") != PB_OK) {
                        check(x, LXW_ERROR_MEMORY_MALLOC_FAILED);
                        return;
                }
                s = (const char *)x->tmp.data;
        }
        check(x, worksheet_write_string(ws, r, c, s, f));
}

static void put_num(xw_t *x, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c,
                    const char *decimal, lxw_format *f) {
        if (decimal && *decimal)
                check(x, worksheet_write_number(ws, r, c, strtod(decimal, NULL),
                                                f));
}

static void put_date(xw_t *x, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c,
                     const char *iso, lxw_format *f) {
        lxw_datetime dt;
        int y, m, d;
        memset(&dt, 0, sizeof(dt));
        if (!iso || sscanf(iso, "%4d-%2d-%2d", &y, &m, &d) != 3) {
                if (iso && sscanf(iso, "%4d-%2d", &y, &m) == 2)
                        d = 1;
                else {
                        put_str(x, ws, r, c, iso, NULL);
                        return;
                }
        }
        dt.year = y;
        dt.month = (uint8_t)m;
        dt.day = (uint8_t)d;
        check(x, worksheet_write_datetime(ws, r, c, &dt, f));
}

/* the number format of an amount in currency cur, built from the
 * language's own rendering of 0 (de "0,00 €", en "€0.00") */
static lxw_format *money_fmt(xw_t *x, const char *cur) {
        char shown[64], code[160];
        size_t i, a, b;
        lxw_format *f;
        for (i = 0; i < x->ncur; i++)
                if (!strcmp(x->cur[i], cur))
                        return x->money[i];
        if (x->ncur == MAX_CUR)
                return x->money[MAX_CUR - 1];
        if (pb_labels_money(x->L, "0.00", cur, shown, sizeof(shown)) < 0)
                snprintf(shown, sizeof(shown), "0.00 %s", cur);
        a = strcspn(shown, "0");
        for (b = strlen(shown); b > a && shown[b - 1] != '0'; b--)
                ;
        snprintf(code, sizeof(code), "%s%.*s%s#,##0.00%s%.*s%s", a ? "\"" : "",
                 (int)a, shown, a ? "\"" : "", shown[b] ? "\"" : "",
                 (int)strlen(shown + b), shown + b, shown[b] ? "\"" : "");
        f = workbook_add_format(x->wb);
        format_set_num_format(f, code);
        snprintf(x->cur[x->ncur], sizeof(x->cur[0]), "%s", cur);
        x->money[x->ncur] = f;
        return x->money[x->ncur++];
}

static double num_of(const pb_json_t *o, const char *name) {
        const pb_json_t *v = pb_json_get(o, name);
        return v && v->type == PB_JSON_NUMBER ? strtod(v->str, NULL) : 0;
}

static lxw_worksheet *sheet(xw_t *x, const char *name) {
        char nm[SHEET_MAX * 4 + 1];
        size_t n = 0, chars = 0;
        /* at most 31 characters, none of []:*?/\ */
        while (name[n] && chars < SHEET_MAX && n < sizeof(nm) - 4) {
                unsigned char c = (unsigned char)name[n];
                if ((c & 0xC0) != 0x80)
                        chars++;
                nm[n] = strchr("[]:*?/\\", c) ? '_' : (char)c;
                n++;
        }
        while (name[n] && ((unsigned char)name[n] & 0xC0) == 0x80 &&
               n < sizeof(nm) - 1) {
                nm[n] = name[n];
                n++;
        }
        nm[n] = 0;
        return workbook_add_worksheet(x->wb, nm);
}

static void header(xw_t *x, lxw_worksheet *ws, lxw_row_t r,
                   const char *const *cols, const double *widths, size_t n) {
        size_t i;
        for (i = 0; i < n; i++) {
                put_str(x, ws, r, (lxw_col_t)i, cols[i], x->head);
                check(x, worksheet_set_column(ws, (lxw_col_t)i, (lxw_col_t)i,
                                              widths[i], NULL));
        }
}

/* a money row's first cells: the month (or label), the count */
static void row_head(xw_t *x, lxw_worksheet *ws, lxw_row_t r, const char *label,
                     const char *month, const pb_json_t *count_row,
                     const char *count_name) {
        if (month)
                put_date(x, ws, r, 0, month, x->month);
        else
                put_str(x, ws, r, 0, label, NULL);
        if (count_row)
                check(x, worksheet_write_number(ws, r, 1,
                                                num_of(count_row, count_name),
                                                x->count));
}

/* one row per currency of a {"EUR": "1.00"} object */
static lxw_row_t money_rows(xw_t *x, lxw_worksheet *ws, lxw_row_t r,
                            const char *label, const pb_json_t *m,
                            const char *month, const pb_json_t *count_row,
                            const char *count_name) {
        const pb_json_t *c;
        int any = 0;
        for (c = m ? m->child : NULL; c; c = c->next) {
                char cur[8];
                if (c->type != PB_JSON_STRING)
                        continue;
                snprintf(cur, sizeof(cur), "%.*s", (int)c->keylen, c->key);
                row_head(x, ws, r, label, month, count_row, count_name);
                put_num(x, ws, r, 2, c->str, money_fmt(x, cur));
                put_str(x, ws, r, 3, cur, NULL);
                r++;
                any = 1;
        }
        if (!any) { /* no amount (e.g. no shipment with a declared value) */
                row_head(x, ws, r, label, month, count_row, count_name);
                r++;
        }
        return r;
}

static void period_text(xw_t *x, const pb_json_t *rep, pb_buf_t *out) {
        const char *since = pb_report_str(rep, "since"),
                   *until = pb_report_str(rep, "until");
        char a[64], b[64];
        const char *args[2] = {a, b};
        if (!since || pb_labels_date(x->L, since, a, sizeof(a)) < 0)
                snprintf(a, sizeof(a), "%s", since ? since : "");
        if (!until || pb_labels_date(x->L, until, b, sizeof(b)) < 0)
                snprintf(b, sizeof(b), "%s", until ? until : "");
        if (since && until)
                pb_labels_msgf(x->L, out, "report.period_range", args, 2);
        else if (since)
                pb_labels_msgf(x->L, out, "report.period_from", args, 1);
        else if (until)
                pb_labels_msgf(x->L, out, "report.period_until", args + 1, 1);
        else
                pb_buf_puts(out, M(x, "report.period_all"));
}

static void summary_sheet(xw_t *x, const pb_json_t *s) {
        lxw_worksheet *ws = sheet(x, M(x, "report.key_figures"));
        const pb_json_t *rep = pb_json_get(s, "report");
        const pb_json_t *fu = pb_json_get(s, "funds");
        const pb_json_t *aid = pb_json_get(s, "aid");
        const pb_json_t *del = pb_json_get(s, "deliveries");
        const pb_json_t *pa = pb_json_get(s, "partnerships");
        const pb_json_t *t, *row;
        pb_buf_t b;
        lxw_row_t r = 0;
        if (!ws) {
                check(x, LXW_ERROR_MEMORY_MALLOC_FAILED);
                return;
        }
        pb_buf_init(&b, 0);
        check(x, worksheet_set_column(ws, 0, 0, 44, NULL));
        check(x, worksheet_set_column(ws, 1, 1, 14, NULL));
        check(x, worksheet_set_column(ws, 2, 2, 20, NULL));
        check(x, worksheet_set_column(ws, 3, 3, 10, NULL));
        put_str(x, ws, r++, 0, M(x, "report.doc_title"), x->title);
        put_str(x, ws, r, 0, M(x, "report.period"), x->bold);
        period_text(x, rep, &b);
        put_str(x, ws, r++, 1, b.data ? (const char *)b.data : "", NULL);
        put_str(x, ws, r, 0, M(x, "report.as_of"), x->bold);
        {
                /* the as-of instant's day in the language's style */
                const char *asof = pb_report_str(rep, "as_of");
                char day[16], shown[64];
                if (asof && strlen(asof) >= 10) {
                        snprintf(day, sizeof(day), "%.10s", asof);
                        if (pb_labels_date(x->L, day, shown, sizeof(shown)) < 0)
                                snprintf(shown, sizeof(shown), "%s", day);
                        put_str(x, ws, r, 1, shown, NULL);
                }
                put_str(x, ws, r++, 2, asof, NULL);
        }
        put_str(x, ws, r, 0, M(x, "report.read_from"), x->bold);
        put_str(x, ws, r++, 1,
                M(x, pb_report_str(rep, "source") &&
                             !strcmp(pb_report_str(rep, "source"), "archive")
                         ? "report.read_archive"
                         : "report.read_kafka"),
                NULL);
        r++;
        put_str(x, ws, r++, 0, M(x, "report.key_figures"), x->bold);
        put_str(x, ws, r, 0, M(x, "report.kf_grants"), NULL);
        check(x, worksheet_write_number(ws, r++, 1, num_of(fu, "grants"),
                                        x->count));
        r = money_rows(x, ws, r, M(x, "report.kf_funds"),
                       pb_json_get(fu, "total"), NULL, NULL, NULL);
        put_str(x, ws, r, 0, M(x, "report.kf_shipments"), NULL);
        check(x, worksheet_write_number(ws, r++, 1, num_of(aid, "shipments"),
                                        x->count));
        r = money_rows(x, ws, r, M(x, "report.kf_aid"),
                       pb_json_get(aid, "declared_value"), NULL, NULL, NULL);
        put_str(x, ws, r, 0, M(x, "report.kf_undeclared"), NULL);
        check(x, worksheet_write_number(
                     ws, r++, 1, num_of(aid, "undeclared_value"), x->count));
        put_str(x, ws, r, 0, M(x, "report.kf_weight"), NULL);
        if (num_of(aid, "unknown_weight") < num_of(aid, "shipments"))
                put_num(x, ws, r++, 2, pb_report_str(aid, "gross_weight_kg"),
                        x->kg);
        else /* no shipment gave a weight: unknown, not 0 kg */
                put_str(x, ws, r++, 2, M(x, "ui.unknown"), NULL);
        put_str(x, ws, r, 0, M(x, "report.kf_unknown_weight"), NULL);
        check(x, worksheet_write_number(
                     ws, r++, 1, num_of(aid, "unknown_weight"), x->count));
        put_str(x, ws, r, 0, M(x, "report.kf_confirmed"), NULL);
        check(x, worksheet_write_number(ws, r++, 1, num_of(del, "confirmed"),
                                        x->count));
        put_str(x, ws, r, 0, M(x, "report.kf_partnerships"), NULL);
        check(x, worksheet_write_number(ws, r++, 1, num_of(pa, "total"),
                                        x->count));
        /* funds by month of the grant, aid by month of dispatch */
        {
                const char *titles[2] = {"report.by_month_granted",
                                         "report.by_month_dispatched"};
                const pb_json_t *area[2] = {fu, aid};
                const char *cnt[2] = {"grants", "shipments"};
                const char *amt[2] = {"amount", "declared_value"};
                const char *hc[2] = {"report.col_count_grants",
                                     "report.col_count_shipments"};
                const char *ha[2] = {"report.col_amount", "report.col_value"};
                int k;
                for (k = 0; k < 2; k++) {
                        r++;
                        put_str(x, ws, r++, 0, M(x, titles[k]), x->bold);
                        put_str(x, ws, r, 0, M(x, "report.col_month"), x->head);
                        put_str(x, ws, r, 1, M(x, hc[k]), x->head);
                        put_str(x, ws, r, 2, M(x, ha[k]), x->head);
                        put_str(x, ws, r++, 3,
                                F(x, NS "FundsGranted", "currency"), x->head);
                        t = pb_json_get(area[k], "by_month");
                        for (row = t ? t->child : NULL; row; row = row->next)
                                r = money_rows(
                                    x, ws, r, NULL, pb_json_get(row, amt[k]),
                                    pb_report_str(row, "month"), row, cnt[k]);
                }
        }
        r++;
        put_str(x, ws, r++, 0, M(x, "report.by_programme"), x->bold);
        put_str(x, ws, r, 0, F(x, NS "FundsGranted", "programme"), x->head);
        put_str(x, ws, r, 1, M(x, "report.col_count_grants"), x->head);
        put_str(x, ws, r, 2, M(x, "report.col_amount"), x->head);
        put_str(x, ws, r++, 3, F(x, NS "FundsGranted", "currency"), x->head);
        t = pb_json_get(fu, "by_programme");
        for (row = t ? t->child : NULL; row; row = row->next) {
                const char *p = pb_report_str(row, "programme");
                r = money_rows(x, ws, r,
                               p && strcmp(p, "(no programme)")
                                   ? p
                                   : M(x, "report.no_programme"),
                               pb_json_get(row, "amount"), NULL, row, "grants");
        }
        pb_buf_free(&b);
}

/* rows of totals per currency under an amount column: SUMIF over the
 * currency column, its cached value the exact total from summary.json */
static void totals(xw_t *x, lxw_worksheet *ws, lxw_row_t r, lxw_col_t amt,
                   lxw_col_t curcol, lxw_row_t first, lxw_row_t last,
                   const pb_json_t *total) {
        const pb_json_t *c;
        char f[256], ca[16], cc[16];
        lxw_col_to_name(ca, amt, 0);
        lxw_col_to_name(cc, curcol, 0);
        for (c = total ? total->child : NULL; c; c = c->next, r++) {
                char cur[8];
                if (c->type != PB_JSON_STRING)
                        continue;
                snprintf(cur, sizeof(cur), "%.*s", (int)c->keylen, c->key);
                put_str(x, ws, r, 0, M(x, "report.total"), x->bold);
                snprintf(f, sizeof(f), "=SUMIF(%s%u:%s%u,\"%s\",%s%u:%s%u)", cc,
                         (unsigned)first + 1, cc, (unsigned)last + 1, cur, ca,
                         (unsigned)first + 1, ca, (unsigned)last + 1);
                check(x, worksheet_write_formula_num(ws, r, amt, f,
                                                     money_fmt(x, cur),
                                                     strtod(c->str, NULL)));
                put_str(x, ws, r, curcol, cur, x->bold);
        }
}

static void finish_sheet(xw_t *x, lxw_worksheet *ws, size_t ncols,
                         lxw_row_t rows) {
        worksheet_freeze_panes(ws, 1, 0);
        if (rows)
                check(x, worksheet_autofilter(ws, 0, 0, rows,
                                              (lxw_col_t)(ncols - 1)));
}

/* one line item's row r: e is its event, b a scratch buffer */
typedef void(item_row_t)(xw_t *x, lxw_worksheet *ws, lxw_row_t r,
                         const pb_report_t *rep, const pb_report_item_t *it,
                         const pb_json_t *e, pb_buf_t *b);

/* a sheet of the line items of one event type: the header row, a row per
 * item (row 1 on), the filter and the frozen header; *rows: how many
 * items. NULL if there are too many or on error. */
static lxw_worksheet *items_sheet(xw_t *x, const pb_report_t *rep,
                                  pb_json_parser_t *jp, const char *type,
                                  const char *what, const char *title,
                                  const char *const *cols, const double *w,
                                  size_t ncols, item_row_t *row, size_t *rows) {
        pb_report_item_t *it;
        lxw_worksheet *ws;
        pb_buf_t b;
        size_t n, i;
        if (pb_report_items(rep, type, &it, &n) != PB_OK)
                return NULL;
        ws = too_many(x, n, what) ? NULL : sheet(x, title);
        if (!ws) {
                free(it);
                return NULL;
        }
        header(x, ws, 0, cols, w, ncols);
        pb_buf_init(&b, 0);
        for (i = 0; i < n; i++) {
                const pb_json_t *e =
                    pb_json_parse(jp, it[i].json, it[i].len, NULL, 0);
                if (e)
                        row(x, ws, (lxw_row_t)i + 1, rep, &it[i], e, &b);
        }
        finish_sheet(x, ws, ncols, (lxw_row_t)n);
        pb_buf_free(&b);
        free(it);
        *rows = n;
        return ws;
}

/* the last two cells of a line item: where it was reported, its event */
static void put_origin(xw_t *x, lxw_worksheet *ws, lxw_row_t r, lxw_col_t col,
                       const pb_json_t *e) {
        put_str(x, ws, r, col, pb_report_str(e, "source"), NULL);
        put_str(x, ws, r, col + 1, pb_report_str(e, "event_id"), NULL);
}

static void row_grant(xw_t *x, lxw_worksheet *ws, lxw_row_t r,
                      const pb_report_t *rep, const pb_report_item_t *it,
                      const pb_json_t *e, pb_buf_t *b) {
        const char *cur = pb_report_str(e, "currency"), *rc;
        (void)rep;
        (void)b;
        put_date(x, ws, r, 0, pb_report_str(e, "granted_on"), x->date);
        put_str(x, ws, r, 1, it->id, NULL);
        put_str(x, ws, r, 2, pb_report_str(e, "grantor.name"), NULL);
        put_str(x, ws, r, 3, pb_report_str(e, "recipient.name"), NULL);
        put_str(x, ws, r, 4, pb_report_str(e, "programme"), NULL);
        put_str(x, ws, r, 5, pb_report_str(e, "purpose"), x->wrap);
        put_num(x, ws, r, 6, pb_report_str(e, "amount"),
                money_fmt(x, cur ? cur : "EUR"));
        put_str(x, ws, r, 7, cur, NULL);
        rc = pb_report_str(e, "recurrence");
        put_str(x, ws, r, 8, rc ? E(x, NS "Recurrence", rc) : NULL, NULL);
        put_origin(x, ws, r, 9, e);
}

static int funds_sheet(xw_t *x, const pb_report_t *rep,
                       const pb_json_t *summary, pb_json_parser_t *jp) {
        size_t n;
        lxw_worksheet *ws;
        const char *R = NS "FundsGranted";
        const char *cols[] = {
            M(x, "report.col_date"),   M(x, "report.col_entity"),
            F(x, R, "grantor"),        F(x, R, "recipient"),
            F(x, R, "programme"),      F(x, R, "purpose"),
            M(x, "report.col_amount"), F(x, R, "currency"),
            F(x, R, "recurrence"),     M(x, "report.col_reported"),
            M(x, "report.col_event")};
        const double w[] = {11, 20, 34, 34, 30, 48, 16, 8, 12, 22, 38};
        ws = items_sheet(x, rep, jp, "funds.granted", "grants",
                         M(x, "report.kf_grants"), cols, w,
                         sizeof(w) / sizeof(*w), row_grant, &n);
        if (!ws)
                return -1;
        if (n)
                totals(x, ws, (lxw_row_t)n + 2, 6, 7, 1, (lxw_row_t)n,
                       pb_json_get(pb_json_get(summary, "funds"), "total"));
        return 0;
}

static void goods_text(xw_t *x, const pb_json_t *items, pb_buf_t *b) {
        const pb_json_t *c;
        pb_buf_reset(b);
        for (c = items ? items->child : NULL; c; c = c->next) {
                const char *cat = pb_report_str(c, "category"),
                           *unit = pb_report_str(c, "unit");
                const pb_json_t *q = pb_json_get(c, "quantity");
                if (b->len)
                        pb_buf_putc(b, '\n');
                pb_buf_printf(b, "%s: %s (%.*s%s%s)",
                              cat ? E(x, NS "ItemCategory", cat) : "",
                              pb_report_str(c, "description")
                                  ? pb_report_str(c, "description")
                                  : "",
                              q && q->type == PB_JSON_NUMBER ? (int)q->len : 0,
                              q && q->type == PB_JSON_NUMBER ? q->str : "",
                              unit ? " " : "", unit ? unit : "");
        }
}

static void row_shipment(xw_t *x, lxw_worksheet *ws, lxw_row_t r,
                         const pb_report_t *rep, const pb_report_item_t *it,
                         const pb_json_t *e, pb_buf_t *b) {
        const char *cur = pb_report_str(e, "currency"), *cond;
        char on[16];
        put_date(x, ws, r, 0, pb_report_str(e, "dispatched_on"), x->date);
        put_str(x, ws, r, 1, it->id, NULL);
        put_str(x, ws, r, 2, pb_report_str(e, "sender.name"), NULL);
        put_str(x, ws, r, 3, pb_report_str(e, "destination.facility"), NULL);
        put_str(x, ws, r, 4, pb_report_str(e, "destination.city"), NULL);
        put_str(x, ws, r, 5, pb_report_str(e, "destination.oblast"), NULL);
        goods_text(x, pb_json_get(e, "items"), b);
        put_str(x, ws, r, 6, b->data ? (const char *)b->data : "", x->wrap);
        put_num(x, ws, r, 7, pb_report_str(e, "declared_value"),
                money_fmt(x, cur ? cur : "EUR"));
        put_str(x, ws, r, 8, cur, NULL);
        put_num(x, ws, r, 9, pb_report_str(e, "gross_weight_kg"), x->kg);
        pb_buf_reset(b);
        if (pb_report_delivery(rep, it->id, on, &cond)) {
                char d[64];
                const char *args[2] = {
                    d, *cond ? E(x, NS "DeliveryCondition", cond) : ""};
                if (pb_labels_date(x->L, on, d, sizeof(d)) < 0)
                        snprintf(d, sizeof(d), "%s", on);
                pb_labels_msgf(x->L, b, "report.confirmed_on", args, 2);
        } else
                pb_buf_puts(b, M(x, "report.unconfirmed"));
        put_str(x, ws, r, 10, b->data ? (const char *)b->data : "", NULL);
        put_origin(x, ws, r, 11, e);
}

static int aid_sheet(xw_t *x, const pb_report_t *rep, const pb_json_t *summary,
                     pb_json_parser_t *jp) {
        size_t n;
        lxw_worksheet *ws;
        const char *R = NS "AidDispatched", *D = NS "Destination";
        const char *cols[] = {
            M(x, "report.col_date"),   M(x, "report.col_entity"),
            F(x, R, "sender"),         F(x, D, "facility"),
            F(x, D, "city"),           F(x, D, "oblast"),
            M(x, "report.col_goods"),  M(x, "report.col_value"),
            F(x, R, "currency"),       M(x, "report.col_weight"),
            M(x, "report.col_status"), M(x, "report.col_reported"),
            M(x, "report.col_event")};
        const double w[] = {11, 20, 34, 30, 16, 16, 52, 16, 8, 12, 28, 22, 38};
        ws = items_sheet(x, rep, jp, "aid.dispatched", "shipments",
                         M(x, "report.kf_shipments"), cols, w,
                         sizeof(w) / sizeof(*w), row_shipment, &n);
        if (!ws)
                return -1;
        if (n)
                totals(
                    x, ws, (lxw_row_t)n + 2, 7, 8, 1, (lxw_row_t)n,
                    pb_json_get(pb_json_get(summary, "aid"), "declared_value"));
        return 0;
}

static void row_partnership(xw_t *x, lxw_worksheet *ws, lxw_row_t r,
                            const pb_report_t *rep, const pb_report_item_t *it,
                            const pb_json_t *e, pb_buf_t *b) {
        const pb_json_t *a, *c;
        const char *kind = pb_report_str(e, "kind");
        (void)rep;
        put_date(x, ws, r, 0, pb_report_str(e, "founded_on"), x->date);
        put_str(x, ws, r, 1, it->id, NULL);
        put_str(x, ws, r, 2, kind ? E(x, NS "PartnershipKind", kind) : NULL,
                NULL);
        put_str(x, ws, r, 3, pb_report_str(e, "nrw_party.name"), NULL);
        put_str(x, ws, r, 4, pb_report_str(e, "ukrainian_party.name"), NULL);
        put_str(x, ws, r, 5, pb_report_str(e, "ukrainian_party.region"), NULL);
        pb_buf_reset(b);
        a = pb_json_get(e, "areas");
        for (c = a ? a->child : NULL; c; c = c->next)
                if (c->type == PB_JSON_STRING)
                        pb_buf_printf(b, "%s%s", b->len ? ", " : "", c->str);
        put_str(x, ws, r, 6, b->data ? (const char *)b->data : "", NULL);
        put_origin(x, ws, r, 7, e);
}

static int partnerships_sheet(xw_t *x, const pb_report_t *rep,
                              pb_json_parser_t *jp) {
        size_t n;
        lxw_worksheet *ws;
        const char *R = NS "PartnershipFounded", *O = NS "Organisation";
        const char *cols[] = {M(x, "report.col_date"),
                              M(x, "report.col_entity"),
                              F(x, R, "kind"),
                              F(x, R, "nrw_party"),
                              F(x, R, "ukrainian_party"),
                              F(x, O, "region"),
                              F(x, R, "areas"),
                              M(x, "report.col_reported"),
                              M(x, "report.col_event")};
        const double w[] = {11, 22, 16, 40, 44, 18, 30, 22, 38};
        ws = items_sheet(x, rep, jp, "partnership.founded", "partnerships",
                         M(x, "report.sec_partnerships"), cols, w,
                         sizeof(w) / sizeof(*w), row_partnership, &n);
        if (!ws)
                return -1;
        return 0;
}

int pb_report_xlsx(pb_report_t *r, const pb_labels_t *labels, const char *path,
                   char *errstr, size_t errstr_size) {
        pb_json_parser_t *jp = NULL, *sp = NULL;
        const pb_json_t *summary;
        pb_buf_t sj;
        xw_t x;
        int en, rc = -1;
        lxw_workbook_options opt;
        lxw_doc_properties props;
        memset(&x, 0, sizeof(x));
        memset(&opt, 0, sizeof(opt));
        pb_buf_init(&sj, 0);
        pb_buf_init(&x.tmp, 0);
        x.L = labels;
        en = !strcmp(pb_labels_lang(labels), "en");
        if (pb_report_summary_json(r, &sj) != PB_OK ||
            !(sp = pb_json_parser_new(NULL)) ||
            !(jp = pb_json_parser_new(NULL)) ||
            !(summary =
                  pb_json_parse(sp, (const char *)sj.data, sj.len, NULL, 0))) {
                snprintf(errstr, errstr_size, "report.xlsx: out of memory");
                goto done;
        }
        /* rows go out in order, each row once: constant memory keeps one
         * row per sheet in memory (and writes strings inline), so a long
         * history does not need its whole workbook in RAM */
        opt.constant_memory = LXW_TRUE;
        if (!(x.wb = workbook_new_opt(path, &opt))) {
                snprintf(errstr, errstr_size, "%s: cannot create", path);
                goto done;
        }
        memset(&props, 0, sizeof(props));
        props.title = (char *)M(&x, "report.doc_title");
        props.subject = (char *)M(&x, "report.doc_subtitle");
        props.author = "partnerbus report";
        {
                /* the file's creation time: the report's as-of, so the same
                 * events give the same workbook */
                int64_t ms = 0;
                const char *asof =
                    pb_report_str(pb_json_get(summary, "report"), "as_of");
                if (asof && !pb_rfc3339_parse(asof, strlen(asof), &ms))
                        props.created = (time_t)(ms / 1000);
        }
        check(&x, workbook_set_properties(x.wb, &props));
        x.title = workbook_add_format(x.wb);
        format_set_bold(x.title);
        format_set_font_size(x.title, 14);
        x.bold = workbook_add_format(x.wb);
        format_set_bold(x.bold);
        x.head = workbook_add_format(x.wb);
        format_set_bold(x.head);
        format_set_bottom(x.head, LXW_BORDER_THIN);
        format_set_text_wrap(x.head);
        x.date = workbook_add_format(x.wb);
        format_set_num_format(x.date, en ? "dd mmm yyyy" : "dd.mm.yyyy");
        x.month = workbook_add_format(x.wb);
        format_set_num_format(x.month, en ? "mmm yyyy" : "mm.yyyy");
        x.wrap = workbook_add_format(x.wb);
        format_set_text_wrap(x.wrap);
        format_set_align(x.wrap, LXW_ALIGN_VERTICAL_TOP);
        x.kg = workbook_add_format(x.wb);
        format_set_num_format(x.kg, "#,##0.0\" kg\"");
        x.count = workbook_add_format(x.wb);
        format_set_num_format(x.count, "#,##0");
        summary_sheet(&x, summary);
        if (funds_sheet(&x, r, summary, jp) || aid_sheet(&x, r, summary, jp) ||
            partnerships_sheet(&x, r, jp)) {
                snprintf(errstr, errstr_size, "%s: %s", path,
                         x.msg[0] ? x.msg : "out of memory");
                workbook_close(x.wb);
                goto done;
        }
        {
                lxw_error e = workbook_close(x.wb);
                if (x.err == LXW_NO_ERROR)
                        x.err = e;
        }
        if (x.err != LXW_NO_ERROR) {
                snprintf(errstr, errstr_size, "%s: %s", path,
                         lxw_strerror(x.err));
                goto done;
        }
        rc = 0;
done:
        pb_json_parser_destroy(jp);
        pb_json_parser_destroy(sp);
        pb_buf_free(&sj);
        pb_buf_free(&x.tmp);
        return rc;
}
