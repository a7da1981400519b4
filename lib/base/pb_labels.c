/* partnerbus - labels beside the schemas (pb_labels.h): two parsed label
 * files (the language asked for and English), looked up by walking the
 * JSON tree; formatting of numbers, money and dates by the "format"
 * object of the language's file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_labels.h"

#define PB_LABELS_MAX_FILE (4u << 20)

typedef struct pb_labels_file {
        pb_json_parser_t *parser;
        char *text;
        const pb_json_t *root;
} pb_labels_file_t;

struct pb_labels {
        char lang[8];
        pb_labels_file_t f[2]; /* [0] the language, [1] English */
};

static void file_free(pb_labels_file_t *f) {
        pb_json_parser_destroy(f->parser);
        free(f->text);
        memset(f, 0, sizeof(*f));
}

static int file_load(pb_labels_file_t *f, const char *dir, const char *lang,
                     char *errstr, size_t errstr_size) {
        char path[4096], perr[160];
        FILE *fp;
        long n;
        const pb_json_t *fmt;
        snprintf(path, sizeof(path), "%s/%s.json", dir, lang);
        if (!(fp = fopen(path, "rb"))) {
                snprintf(errstr, errstr_size, "%s: cannot open", path);
                return -1;
        }
        if (fseek(fp, 0, SEEK_END) || (n = ftell(fp)) < 0 ||
            (unsigned long)n > PB_LABELS_MAX_FILE || fseek(fp, 0, SEEK_SET)) {
                fclose(fp);
                snprintf(errstr, errstr_size, "%s: unreadable or over 4 MiB",
                         path);
                return -1;
        }
        f->text = malloc((size_t)n + 1);
        if (!f->text || fread(f->text, 1, (size_t)n, fp) != (size_t)n) {
                fclose(fp);
                snprintf(errstr, errstr_size, "%s: read failed", path);
                return -1;
        }
        fclose(fp);
        f->text[n] = 0;
        if (!(f->parser = pb_json_parser_new(NULL))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        f->root =
            pb_json_parse(f->parser, f->text, (size_t)n, perr, sizeof(perr));
        if (!f->root || f->root->type != PB_JSON_OBJECT) {
                snprintf(errstr, errstr_size, "%s: %s", path,
                         f->root ? "not a JSON object" : perr);
                return -1;
        }
        fmt = pb_json_get(f->root, "format");
        if (!fmt || fmt->type != PB_JSON_OBJECT) {
                snprintf(errstr, errstr_size, "%s: no \"format\" object", path);
                return -1;
        }
        return 0;
}

pb_labels_t *pb_labels_load(const char *dir, const char *lang, char *errstr,
                            size_t errstr_size) {
        pb_labels_t *l;
        size_t i;
        if (!dir || !lang || !*lang || strlen(lang) > 5) {
                snprintf(errstr, errstr_size, "labels: bad language");
                return NULL;
        }
        for (i = 0; lang[i]; i++)
                if (lang[i] < 'a' || lang[i] > 'z') {
                        snprintf(errstr, errstr_size,
                                 "labels: language '%s' is not a code like "
                                 "de, uk, en",
                                 lang);
                        return NULL;
                }
        if (!(l = calloc(1, sizeof(*l)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        snprintf(l->lang, sizeof(l->lang), "%s", lang);
        if (file_load(&l->f[0], dir, lang, errstr, errstr_size) ||
            (strcmp(lang, "en") &&
             file_load(&l->f[1], dir, "en", errstr, errstr_size))) {
                pb_labels_destroy(l);
                return NULL;
        }
        return l;
}

void pb_labels_destroy(pb_labels_t *l) {
        if (!l)
                return;
        file_free(&l->f[0]);
        file_free(&l->f[1]);
        free(l);
}

const char *pb_labels_lang(const pb_labels_t *l) {
        return l->lang;
}

/* root.a.b.c as a string, NULL if absent */
static const char *str3(const pb_json_t *root, const char *a, const char *b,
                        const char *c, const char *d) {
        const pb_json_t *v = pb_json_get(root, a);
        if (b)
                v = pb_json_get(v, b);
        if (c)
                v = pb_json_get(v, c);
        if (d)
                v = pb_json_get(v, d);
        return v && v->type == PB_JSON_STRING ? v->str : NULL;
}

static const char *lookup(const pb_labels_t *l, const char *a, const char *b,
                          const char *c, const char *d) {
        const char *s = NULL;
        int i;
        for (i = 0; i < 2 && !s; i++)
                if (l->f[i].root)
                        s = str3(l->f[i].root, a, b, c, d);
        return s;
}

const char *pb_labels_enum(const pb_labels_t *l, const char *enum_name,
                           const char *symbol) {
        const char *s = l ? lookup(l, "enums", enum_name, symbol, NULL) : NULL;
        return s ? s : symbol;
}

/* records.<record>.fields.<field>.<what> in the language, then English */
static const char *field_text(const pb_labels_t *l, const char *record,
                              const char *field, const char *what) {
        const pb_json_t *v;
        int i;
        for (i = 0; l && i < 2; i++) {
                v = pb_json_get(pb_json_get(l->f[i].root, "records"), record);
                v = pb_json_get(pb_json_get(pb_json_get(v, "fields"), field),
                                what);
                if (v && v->type == PB_JSON_STRING)
                        return v->str;
        }
        return NULL;
}

const char *pb_labels_field(const pb_labels_t *l, const char *record,
                            const char *field) {
        const char *s = field_text(l, record, field, "label");
        return s ? s : field;
}

const char *pb_labels_help(const pb_labels_t *l, const char *record,
                           const char *field) {
        return field_text(l, record, field, "help");
}

const char *pb_labels_record(const pb_labels_t *l, const char *record) {
        const char *s = l ? lookup(l, "records", record, "label", NULL) : NULL;
        const char *dot;
        if (s)
                return s;
        dot = strrchr(record, '.');
        return dot ? dot + 1 : record;
}

const char *pb_labels_msg(const pb_labels_t *l, const char *key) {
        const char *s = l ? lookup(l, "messages", key, NULL, NULL) : NULL;
        return s ? s : key;
}

pb_resp_t pb_labels_msgf(const pb_labels_t *l, pb_buf_t *out, const char *key,
                         const char *const *args, size_t nargs) {
        const char *t = pb_labels_msg(l, key), *p;
        pb_resp_t r;
        for (p = t; *p; p++) {
                if (p[0] == '{' && p[1] >= '0' && p[1] <= '9' && p[2] == '}' &&
                    (size_t)(p[1] - '0') < nargs && args[p[1] - '0']) {
                        r = pb_buf_puts(out, args[p[1] - '0']);
                        p += 2;
                } else
                        r = pb_buf_putc(out, (uint8_t)*p);
                if (r != PB_OK)
                        return r;
        }
        return PB_OK;
}

/* --- formatting --- */
static const char *fmt_str(const pb_labels_t *l, const char *k,
                           const char *dflt) {
        const char *s = l ? lookup(l, "format", k, NULL, NULL) : NULL;
        return s ? s : dflt;
}

static const char *fmt_month_name(const pb_labels_t *l, const char *k, int m) {
        int i, j;
        for (i = 0; l && i < 2; i++) {
                const pb_json_t *a = pb_json_get(
                                    pb_json_get(l->f[i].root, "format"), k),
                                *e;
                if (!a || a->type != PB_JSON_ARRAY || a->count != 12)
                        continue;
                for (e = a->child, j = 1; e && j < m; e = e->next, j++)
                        ;
                if (e && e->type == PB_JSON_STRING)
                        return e->str;
        }
        return NULL;
}

/* appends s to buf at *k; -1 when it does not fit */
static int put(char *buf, size_t size, size_t *k, const char *s, size_t n) {
        if (*k + n >= size)
                return -1;
        memcpy(buf + *k, s, n);
        *k += n;
        buf[*k] = 0;
        return 0;
}

/* "-143000.50" -> grouped digits (no sign) into buf; *neg set */
static int number(const pb_labels_t *l, const char *d, char *buf, size_t size,
                  int *neg) {
        const char *grp = fmt_str(l, "group", ","),
                   *dec = fmt_str(l, "decimal", ".");
        size_t n, intlen, i, k = 0;
        const char *dot;
        *neg = 0;
        if (!d || !buf || !size)
                return -1;
        if (*d == '-' || *d == '+') {
                *neg = *d == '-';
                d++;
        }
        n = strlen(d);
        dot = strchr(d, '.');
        intlen = dot ? (size_t)(dot - d) : n;
        if (!intlen || intlen > 64)
                return -1;
        for (i = 0; i < n; i++)
                if (i != intlen && (d[i] < '0' || d[i] > '9'))
                        return -1;
        if (dot && intlen + 1 == n)
                return -1;
        buf[0] = 0;
        for (i = 0; i < intlen; i++) {
                if (i && (intlen - i) % 3 == 0 &&
                    put(buf, size, &k, grp, strlen(grp)))
                        return -1;
                if (put(buf, size, &k, d + i, 1))
                        return -1;
        }
        if (dot && (put(buf, size, &k, dec, strlen(dec)) ||
                    put(buf, size, &k, dot + 1, n - intlen - 1)))
                return -1;
        return (int)k;
}

int pb_labels_number(const pb_labels_t *l, const char *decimal, char *buf,
                     size_t size) {
        char tmp[256];
        int neg, n = number(l, decimal, tmp, sizeof(tmp), &neg);
        size_t k = 0;
        if (n < 0 || !size)
                return -1;
        buf[0] = 0;
        if ((neg && put(buf, size, &k, "-", 1)) ||
            put(buf, size, &k, tmp, (size_t)n))
                return -1;
        return (int)k;
}

/* expands a pattern of {tokens}; vals[i] replaces names[i] */
static int expand(const char *pat, const char *const *names,
                  const char *const *vals, size_t nv, char *buf, size_t size,
                  size_t *k) {
        const char *p;
        size_t i;
        for (p = pat; *p;) {
                int hit = 0;
                if (*p == '{')
                        for (i = 0; i < nv; i++) {
                                size_t nl = strlen(names[i]);
                                if (!strncmp(p + 1, names[i], nl) &&
                                    p[1 + nl] == '}') {
                                        if (put(buf, size, k, vals[i],
                                                strlen(vals[i])))
                                                return -1;
                                        p += nl + 2;
                                        hit = 1;
                                        break;
                                }
                        }
                if (!hit) {
                        if (put(buf, size, k, p, 1))
                                return -1;
                        p++;
                }
        }
        return 0;
}

int pb_labels_money(const pb_labels_t *l, const char *decimal,
                    const char *currency, char *buf, size_t size) {
        static const char *names[] = {"n", "s"};
        char num[256], sym[64];
        const char *s = NULL, *vals[2], *pat;
        int neg, n = number(l, decimal, num, sizeof(num), &neg), i;
        size_t k = 0;
        if (n < 0 || !currency || !size)
                return -1;
        for (i = 0; l && i < 2 && !s; i++)
                if (l->f[i].root)
                        s = str3(l->f[i].root, "format", "symbols", currency,
                                 NULL);
        snprintf(sym, sizeof(sym), "%s", s ? s : currency);
        /* a symbol that is a letter code (CHF) takes the code pattern */
        pat = (sym[0] >= 'A' && sym[0] <= 'Z')
                  ? fmt_str(l, "currency_code", "{s} {n}")
                  : fmt_str(l, "currency", "{s}{n}");
        vals[0] = num;
        vals[1] = sym;
        buf[0] = 0;
        if ((neg && put(buf, size, &k, "-", 1)) ||
            expand(pat, names, vals, 2, buf, size, &k))
                return -1;
        return (int)k;
}

static int two(const char *s) {
        if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
                return -1;
        return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "YYYY-MM[-DD]" -> y, m, d (d 0 when absent) */
static int parse_ymd(const char *s, int want_day, int *y, int *m, int *d) {
        int i;
        size_t n = s ? strlen(s) : 0;
        if (n != (want_day ? 10u : 7u) || s[4] != '-' ||
            (want_day && s[7] != '-'))
                return -1;
        for (i = 0, *y = 0; i < 4; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                *y = *y * 10 + (s[i] - '0');
        }
        *m = two(s + 5);
        *d = want_day ? two(s + 8) : 0;
        if (*m < 1 || *m > 12 || *d < 0 || *d > 31 || (want_day && !*d))
                return -1;
        return 0;
}

static int date_text(const pb_labels_t *l, const char *pat, int y, int m, int d,
                     char *buf, size_t size) {
        static const char *names[] = {"d", "D", "m", "y", "mon", "month"};
        char dd[4], dn[4], mm[4], yy[8];
        const char *mon = fmt_month_name(l, "months", m),
                   *lon = fmt_month_name(l, "months_long", m), *vals[6];
        size_t k = 0;
        snprintf(dd, sizeof(dd), "%02d", d);
        snprintf(dn, sizeof(dn), "%d", d);
        snprintf(mm, sizeof(mm), "%02d", m);
        snprintf(yy, sizeof(yy), "%04d", y);
        vals[0] = dd;
        vals[1] = dn;
        vals[2] = mm;
        vals[3] = yy;
        vals[4] = mon ? mon : mm;
        vals[5] = lon ? lon : mm;
        if (!size)
                return -1;
        buf[0] = 0;
        if (expand(pat, names, vals, 6, buf, size, &k))
                return -1;
        return (int)k;
}

int pb_labels_date(const pb_labels_t *l, const char *iso_date, char *buf,
                   size_t size) {
        int y, m, d;
        if (parse_ymd(iso_date, 1, &y, &m, &d))
                return -1;
        return date_text(l, fmt_str(l, "date", "{y}-{m}-{d}"), y, m, d, buf,
                         size);
}

int pb_labels_month(const pb_labels_t *l, const char *iso_month, char *buf,
                    size_t size) {
        int y, m, d;
        if (parse_ymd(iso_month, 0, &y, &m, &d))
                return -1;
        return date_text(l, fmt_str(l, "month", "{y}-{m}"), y, m, 1, buf, size);
}
