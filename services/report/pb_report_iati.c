/* partnerbus report - funds and aid of the range as an IATI activity file
 * (standard 2.03). One activity per funding programme (its grants), per
 * grant outside a programme, and per organisation sending aid in kind;
 * grants are commitments, shipments with a declared value disbursements.
 * The codes used and their meaning: docs/report.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_report_exp.h"

#define MAX_ORGS 64 /* participating organisations listed per activity */

/* --- codelists (values and meaning in docs/report.md) --- */
#define TX_COMMITMENT   "2" /* TransactionType: Outgoing Commitment */
#define TX_DISBURSEMENT "3" /* TransactionType: Disbursement */
#define ROLE_FUNDING    "1" /* OrganisationRole */
#define ROLE_IMPL       "4"
#define STATUS_IMPL     "2"     /* ActivityStatus: Implementation */
#define DATE_START      "2"     /* ActivityDateType: Actual start */
#define FINANCE_GRANT   "110"   /* FinanceType: Standard grant */
#define DESC_GENERAL    "1"     /* DescriptionType: General */
#define SECTOR_DAC5     "1"     /* SectorVocabulary: OECD DAC CRS 5 digit */
#define SECTOR_NONE     "99810" /* Sectors not specified */

/* OrganisationType from the schema's OrganisationKind and the country */
static const char *org_type(const char *kind, const char *country) {
        static const struct {
                const char *kind, *code;
        } map[] = {
            {"STATE_GOVERNMENT", "10"},
            {"MUNICIPALITY", "11"},
            {"DISTRICT", "11"},
            {"REGIONAL_ASSOCIATION", "11"},
            {"OBLAST_ADMINISTRATION", "11"},
            {"HOSPITAL", "15"},
            {"UNIVERSITY", "80"},
            {"INTERMEDIARY", "15"},
            {"UTILITY", "15"},
            {"COMPANY", "70"},
        };
        size_t i;
        if (kind && !strcmp(kind, "NGO"))
                return country && !strcmp(country, "UA") ? "24" : "22";
        for (i = 0; kind && i < sizeof(map) / sizeof(map[0]); i++)
                if (!strcmp(kind, map[i].kind))
                        return map[i].code;
        return "90"; /* Other */
}

/* DAC 5-digit purpose code of an item category */
static const char *sector_of(const char *cat) {
        if (!cat)
                return "72010";
        if (!strcmp(cat, "MEDICAL_SUPPLIES") || !strcmp(cat, "MEDICINES"))
                return "72011"; /* Basic health care services in emergencies */
        if (!strcmp(cat, "FOOD"))
                return "72040"; /* Emergency food assistance */
        return "72010";         /* Material relief assistance and services */
}

/* <el type="CODE"><narrative>NAME</narrative></el> of the party at
 * member who ("sender": sender.name, sender.kind, sender.country) */
static void party(pb_buf_t *b, const char *el, const pb_json_t *e,
                  const char *who) {
        char k[64], c[64], n[64];
        snprintf(k, sizeof(k), "%s.kind", who);
        snprintf(c, sizeof(c), "%s.country", who);
        snprintf(n, sizeof(n), "%s.name", who);
        pb_buf_printf(b, "    <%s type=\"%s\"><narrative>", el,
                      org_type(pb_report_str(e, k), pb_report_str(e, c)));
        pb_buf_xml_text(b, pb_report_str(e, n));
        pb_buf_printf(b, "</narrative></%s>\n", el);
}

static void narrative(pb_buf_t *b, const char *el, const char *attrs,
                      const char *text) {
        pb_buf_printf(b, "   <%s%s><narrative>", el, attrs ? attrs : "");
        pb_buf_xml_text(b, text);
        pb_buf_printf(b, "</narrative></%s>\n", el);
}

/* an identifier part: ASCII letters, digits and '-', '.', '_' kept,
 * anything else '-' */
static void id_part(pb_buf_t *b, const char *s) {
        for (; s && *s; s++) {
                char c = *s;
                int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                         c == '_';
                pb_buf_putc(b, (uint8_t)(ok ? c : '-'));
        }
}

static uint32_t fnv32(const char *s) {
        uint32_t h = 2166136261u;
        while (*s)
                h = (h ^ (uint8_t)*s++) * 16777619u;
        return h;
}

/* --- activities --- */
typedef struct member {
        size_t item; /* index into the items of the type */
        char *key;   /* grouping key */
} member_t;

static int member_cmp(const void *pa, const void *pb) {
        const member_t *a = pa, *b = pb;
        int c = strcmp(a->key, b->key);
        return c ? c : (a->item < b->item ? -1 : a->item > b->item);
}

typedef struct orgs {
        char *name[MAX_ORGS];
        const char *type[MAX_ORGS];
        size_t n;
} orgs_t;

static void orgs_add(orgs_t *o, const char *name, const char *type) {
        size_t i;
        if (!name)
                return;
        for (i = 0; i < o->n; i++)
                if (!strcmp(o->name[i], name))
                        return;
        if (o->n < MAX_ORGS && (o->name[o->n] = strdup(name)))
                o->type[o->n++] = type;
}

static void orgs_free(orgs_t *o) {
        size_t i;
        for (i = 0; i < o->n; i++)
                free(o->name[i]);
        o->n = 0;
}

typedef struct iw {
        const pb_report_iati_conf_t *conf;
        pb_json_parser_t *jp;
        pb_buf_t *out;
        pb_buf_t tmp;
        size_t activities;
} iw_t;

static const pb_json_t *parse(iw_t *w, const pb_report_item_t *it) {
        return pb_json_parse(w->jp, it->json, it->len, NULL, 0);
}

/* writes one activity of members m[0..n) of items (one type) */
static void activity(iw_t *w, const pb_report_item_t *items, const member_t *m,
                     size_t n, int aid) {
        pb_buf_t *b = w->out;
        char first[16] = "", updated[40] = "";
        int is_prog = 0; /* a programme's activity: title = the programme */
        orgs_t funders, impl;
        /* sectors: DAC code -> item lines */
        const char *sec_code[8];
        uint64_t sec_lines[8], lines = 0;
        size_t nsec = 0, i, k;
        uint64_t undeclared = 0;
        char *title = NULL, *desc = NULL;
        memset(&funders, 0, sizeof(funders));
        memset(&impl, 0, sizeof(impl));
        for (i = 0; i < n; i++) {
                const pb_report_item_t *it = &items[m[i].item];
                const pb_json_t *e = parse(w, it), *c, *arr;
                const char *at = pb_report_str(e, "occurred_at");
                if (!e)
                        continue;
                if (!first[0] || strcmp(it->date, first) < 0)
                        snprintf(first, sizeof(first), "%s", it->date);
                if (at && strcmp(at, updated) > 0)
                        snprintf(updated, sizeof(updated), "%s", at);
                if (aid) {
                        orgs_add(&impl, pb_report_str(e, "sender.name"),
                                 org_type(pb_report_str(e, "sender.kind"),
                                          pb_report_str(e, "sender.country")));
                        if (!pb_report_str(e, "declared_value"))
                                undeclared++;
                        arr = pb_json_get(e, "items");
                        for (c = arr ? arr->child : NULL; c; c = c->next) {
                                const char *code =
                                    sector_of(pb_report_str(c, "category"));
                                for (k = 0; k < nsec; k++)
                                        if (!strcmp(sec_code[k], code))
                                                break;
                                if (k == nsec && nsec < 8) {
                                        sec_code[nsec] = code;
                                        sec_lines[nsec++] = 0;
                                }
                                if (k < nsec) {
                                        sec_lines[k]++;
                                        lines++;
                                }
                        }
                        if (i == 0)
                                title =
                                    strdup(pb_report_str(e, "sender.name")
                                               ? pb_report_str(e, "sender.name")
                                               : "");
                } else {
                        orgs_add(&funders, pb_report_str(e, "grantor.name"),
                                 org_type(pb_report_str(e, "grantor.kind"),
                                          pb_report_str(e, "grantor.country")));
                        orgs_add(
                            &impl, pb_report_str(e, "recipient.name"),
                            org_type(pb_report_str(e, "recipient.kind"),
                                     pb_report_str(e, "recipient.country")));
                        if (i == 0) {
                                const char *title_src =
                                    pb_report_str(e, "programme");
                                /* copied: the parse tree is reused for the
                                 * next member */
                                is_prog = title_src != NULL;
                                title = strdup(title_src ? title_src
                                               : pb_report_str(e, "purpose")
                                                   ? pb_report_str(e, "purpose")
                                                   : "");
                                desc = strdup(pb_report_str(e, "purpose")
                                                  ? pb_report_str(e, "purpose")
                                                  : "");
                        }
                }
        }
        /* the activity */
        pb_buf_printf(b,
                      " <iati-activity last-updated-datetime=\"%.19sZ\" "
                      "xml:lang=\"de\" default-currency=\"EUR\" "
                      "humanitarian=\"1\">\n   <iati-identifier>",
                      updated[0] ? updated : "1970-01-01T00:00:00");
        pb_buf_xml_text(b, w->conf->org_ref);
        if (aid || is_prog) {
                pb_buf_puts(b, aid ? "-AID-" : "-PROG-");
                pb_buf_reset(&w->tmp);
                id_part(&w->tmp, title ? title : "");
                pb_buf_printf(b, "%.*s-%08x",
                              (int)(w->tmp.len > 40 ? 40 : w->tmp.len),
                              w->tmp.data ? (const char *)w->tmp.data : "",
                              fnv32(title ? title : ""));
        } else {
                pb_buf_puts(b, "-GRANT-");
                pb_buf_reset(&w->tmp);
                id_part(&w->tmp, items[m[0].item].id);
                pb_buf_append(b, w->tmp.data, w->tmp.len);
        }
        pb_buf_puts(b, "</iati-identifier>\n");
        pb_buf_printf(b, "   <reporting-org ref=\"");
        pb_buf_xml_text(b, w->conf->org_ref);
        pb_buf_printf(b, "\" type=\"");
        pb_buf_xml_text(b, w->conf->org_type ? w->conf->org_type : "10");
        pb_buf_puts(b, "\"><narrative>");
        pb_buf_xml_text(b, w->conf->org_name);
        pb_buf_puts(b, "</narrative></reporting-org>\n");
        pb_buf_reset(&w->tmp);
        if (aid)
                pb_buf_printf(&w->tmp, "Sachhilfe für die Ukraine: %s",
                              title ? title : "");
        else
                pb_buf_puts(&w->tmp, title ? title : "");
        narrative(b, "title", NULL,
                  w->tmp.data ? (const char *)w->tmp.data : "");
        pb_buf_reset(&w->tmp);
        if (aid)
                pb_buf_printf(&w->tmp,
                              "Hilfslieferungen (%zu, davon %llu ohne "
                              "angegebenen Warenwert), gemeldet über "
                              "partnerbus.",
                              n, (unsigned long long)undeclared);
        else if (is_prog)
                pb_buf_printf(&w->tmp,
                              "Förderprogramm mit %zu Bewilligung(en).", n);
        else
                pb_buf_puts(&w->tmp, desc ? desc : "");
        narrative(b, "description", " type=\"" DESC_GENERAL "\"",
                  w->tmp.data ? (const char *)w->tmp.data : "");
        for (i = 0; i < funders.n; i++) {
                char a[64];
                snprintf(a, sizeof(a), " role=\"" ROLE_FUNDING "\" type=\"%s\"",
                         funders.type[i]);
                narrative(b, "participating-org", a, funders.name[i]);
        }
        for (i = 0; i < impl.n; i++) {
                char a[64];
                snprintf(a, sizeof(a), " role=\"" ROLE_IMPL "\" type=\"%s\"",
                         impl.type[i]);
                narrative(b, "participating-org", a, impl.name[i]);
        }
        pb_buf_puts(b, "   <activity-status code=\"" STATUS_IMPL "\"/>\n");
        if (first[0])
                pb_buf_printf(b,
                              "   <activity-date type=\"" DATE_START
                              "\" iso-date=\"%s\"/>\n",
                              first);
        pb_buf_puts(b, "   <recipient-country code=\"UA\" "
                       "percentage=\"100\"/>\n");
        if (!aid || !lines)
                pb_buf_puts(b, "   <sector vocabulary=\"" SECTOR_DAC5
                               "\" code=\"" SECTOR_NONE
                               "\" percentage=\"100\"/>\n");
        else {
                /* percentages by item lines, largest remainder to 100 */
                uint64_t pct[8], sum = 0, best = 0;
                for (k = 0; k < nsec; k++) {
                        pct[k] = sec_lines[k] * 100 / lines;
                        sum += pct[k];
                        if (sec_lines[k] > sec_lines[best])
                                best = k;
                }
                pct[best] += 100 - sum;
                for (k = 0; k < nsec; k++)
                        if (pct[k])
                                pb_buf_printf(
                                    b,
                                    "   <sector vocabulary=\"" SECTOR_DAC5
                                    "\" code=\"%s\" "
                                    "percentage=\"%llu\"/>\n",
                                    sec_code[k], (unsigned long long)pct[k]);
        }
        pb_buf_puts(b,
                    "   <default-finance-type code=\"" FINANCE_GRANT "\"/>\n");
        /* transactions */
        for (i = 0; i < n; i++) {
                const pb_report_item_t *it = &items[m[i].item];
                const pb_json_t *e = parse(w, it);
                const char *val, *cur, *eid;
                if (!e)
                        continue;
                val = pb_report_str(e, aid ? "declared_value" : "amount");
                cur = pb_report_str(e, "currency");
                eid = pb_report_str(e, "event_id");
                if (!val)
                        continue; /* no declared value: no transaction */
                pb_buf_puts(b, "   <transaction ref=\"");
                pb_buf_xml_text(b, eid);
                pb_buf_printf(b,
                              "\">\n    <transaction-type code=\"%s\"/>\n"
                              "    <transaction-date iso-date=\"%s\"/>\n"
                              "    <value currency=\"",
                              aid ? TX_DISBURSEMENT : TX_COMMITMENT, it->date);
                pb_buf_xml_text(b, cur ? cur : "EUR");
                pb_buf_printf(b, "\" value-date=\"%s\">%s</value>\n", it->date,
                              val);
                pb_buf_reset(&w->tmp);
                if (aid) {
                        const pb_json_t *arr = pb_json_get(e, "items"), *c;
                        pb_buf_printf(&w->tmp, "%s: ", it->id);
                        for (c = arr ? arr->child : NULL; c; c = c->next) {
                                const pb_json_t *q = pb_json_get(c, "quantity");
                                pb_buf_printf(
                                    &w->tmp, "%s%.*s %s",
                                    c == arr->child ? "" : "; ",
                                    q && q->type == PB_JSON_NUMBER ? (int)q->len
                                                                   : 0,
                                    q && q->type == PB_JSON_NUMBER ? q->str
                                                                   : "",
                                    pb_report_str(c, "description")
                                        ? pb_report_str(c, "description")
                                        : "");
                        }
                } else {
                        const char *rc = pb_report_str(e, "recurrence");
                        pb_buf_printf(&w->tmp, "%s: %s%s", it->id,
                                      pb_report_str(e, "purpose")
                                          ? pb_report_str(e, "purpose")
                                          : "",
                                      rc && strcmp(rc, "ONCE")
                                          ? (!strcmp(rc, "MONTHLY")
                                                 ? " (Betrag je Monat)"
                                                 : " (Betrag je Jahr)")
                                          : "");
                }
                pb_buf_puts(b, "    <description><narrative>");
                pb_buf_xml_text(b,
                                w->tmp.data ? (const char *)w->tmp.data : "");
                pb_buf_puts(b, "</narrative></description>\n");
                if (aid) {
                        const char *fac =
                            pb_report_str(e, "destination.facility");
                        party(b, "provider-org", e, "sender");
                        pb_buf_puts(b, "    <receiver-org><narrative>");
                        pb_buf_reset(&w->tmp);
                        pb_buf_printf(
                            &w->tmp, "%s%s%s (%s)", fac ? fac : "",
                            fac ? ", " : "",
                            pb_report_str(e, "destination.city")
                                ? pb_report_str(e, "destination.city")
                                : "",
                            pb_report_str(e, "destination.oblast")
                                ? pb_report_str(e, "destination.oblast")
                                : "");
                        pb_buf_xml_text(
                            b, w->tmp.data ? (const char *)w->tmp.data : "");
                        pb_buf_puts(b, "</narrative></receiver-org>\n");
                } else {
                        party(b, "provider-org", e, "grantor");
                        party(b, "receiver-org", e, "recipient");
                }
                pb_buf_puts(b, "   </transaction>\n");
        }
        pb_buf_puts(b, " </iati-activity>\n");
        w->activities++;
        orgs_free(&funders);
        orgs_free(&impl);
        free(title);
        free(desc);
}

/* groups the items of one type by key and writes an activity per group */
static int activities(iw_t *w, pb_report_t *r, const char *type, int aid) {
        pb_report_item_t *items;
        member_t *m;
        size_t n, i, j;
        if (pb_report_items(r, type, &items, &n) != PB_OK)
                return -1;
        if (!(m = calloc(n ? n : 1, sizeof(*m)))) {
                free(items);
                return -1;
        }
        for (i = 0; i < n; i++) {
                const pb_json_t *e = parse(w, &items[i]);
                const char *prog =
                    e && !aid ? pb_report_str(e, "programme") : NULL;
                const char *snd =
                    e && aid ? pb_report_str(e, "sender.name") : NULL;
                pb_buf_reset(&w->tmp);
                if (aid)
                        pb_buf_printf(&w->tmp, "S\x1f%s", snd ? snd : "");
                else if (prog)
                        pb_buf_printf(&w->tmp, "P\x1f%s", prog);
                else
                        pb_buf_printf(&w->tmp, "G\x1f%s", items[i].id);
                m[i].item = i;
                if (!(m[i].key = strdup(w->tmp.data ? (const char *)w->tmp.data
                                                    : ""))) {
                        while (i--)
                                free(m[i].key);
                        free(m);
                        free(items);
                        return -1;
                }
        }
        qsort(m, n, sizeof(*m), member_cmp);
        for (i = 0; i < n; i = j) {
                for (j = i + 1; j < n && !strcmp(m[j].key, m[i].key); j++)
                        ;
                activity(w, items, m + i, j - i, aid);
        }
        for (i = 0; i < n; i++)
                free(m[i].key);
        free(m);
        free(items);
        return 0;
}

int pb_report_iati(pb_report_t *r, const pb_report_iati_conf_t *conf,
                   pb_buf_t *out, char *errstr, size_t errstr_size) {
        iw_t w;
        int rc = -1;
        memset(&w, 0, sizeof(w));
        w.conf = conf;
        w.out = out;
        pb_buf_init(&w.tmp, 0);
        if (!conf || !conf->org_ref || !conf->org_name || !conf->generated) {
                snprintf(errstr, errstr_size,
                         "IATI: reporting organisation "
                         "missing");
                return -1;
        }
        if (pb_report_finish(r, errstr, errstr_size) != PB_OK)
                return -1;
        if (!(w.jp = pb_json_parser_new(NULL))) {
                snprintf(errstr, errstr_size, "IATI: out of memory");
                return -1;
        }
        pb_buf_printf(out,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<iati-activities version=\"2.03\" "
                      "generated-datetime=\"%.19sZ\">\n",
                      conf->generated);
        if (activities(&w, r, "funds.granted", 0) ||
            activities(&w, r, "aid.dispatched", 1)) {
                snprintf(errstr, errstr_size, "IATI: out of memory");
                goto done;
        }
        pb_buf_puts(out, "</iati-activities>\n");
        if (!w.activities) {
                snprintf(errstr, errstr_size,
                         "IATI: no grant and no shipment in the range, no "
                         "activity to write");
                rc = 1;
                goto done;
        }
        rc = out->data ? 0 : -1;
        if (rc)
                snprintf(errstr, errstr_size, "IATI: out of memory");
done:
        pb_json_parser_destroy(w.jp);
        pb_buf_free(&w.tmp);
        return rc;
}
