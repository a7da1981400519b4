/* partnerbus poll - mapping file and record -> event mapping; see
 * pb_mapping.h. The mapping's pb_json tree is kept for the mapping's life:
 * rules point into it (names, constants, enum tables). Each call of
 * pb_mapping_apply() builds a small output tree in a node pool (reset per
 * record) and writes it. */
#include "pb_mapping.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"

typedef enum conv {
        CV_TRIM,
        CV_LOWER,
        CV_UPPER,
        CV_GNUM,
        CV_GDATE,
        CV_IDATE,
        CV_IDT,
        CV_INT,
        CV_NUM,
        CV_STR,
} conv_t;

static const struct {
        const char *name;
        conv_t c;
} conv_names[] = {
    {"trim", CV_TRIM},         {"lower", CV_LOWER},
    {"upper", CV_UPPER},       {"german_number", CV_GNUM},
    {"german_date", CV_GDATE}, {"iso_date", CV_IDATE},
    {"iso_datetime", CV_IDT},  {"integer", CV_INT},
    {"number", CV_NUM},        {"string", CV_STR},
};

static const char *conv_name(conv_t c) {
        size_t i;
        for (i = 0; i < sizeof(conv_names) / sizeof(conv_names[0]); i++)
                if (conv_names[i].c == c)
                        return conv_names[i].name;
        return "?";
}

typedef struct seg {
        char *name;
        size_t len;
        int is_index;
        size_t index;
} seg_t;

enum { R_FROM, R_CONST, R_EACH };

typedef struct rule {
        const char *target; /* pointer text, from the mapping tree */
        seg_t *segs;
        size_t nsegs;
        int kind;
        const char *from;
        const pb_json_t *constv, *defv, *enumt, *enumdef;
        conv_t conv[PB_MAPPING_MAX_CONV];
        size_t nconv;
        struct rule *sub;
        size_t nsub;
        /* CSV column cache: index of `from` in the header it was found in */
        const char *const *col_header;
        long col;
} rule_t;

/* output tree */
enum { O_OBJ, O_ARR, O_STR, O_RAW };
typedef struct onode {
        int type;
        const char *name;
        size_t nlen;
        int first, last, next;
        size_t count;
        size_t voff, vlen; /* value bytes in m->vals */
} onode_t;

struct pb_mapping {
        pb_json_parser_t *jp;
        char *text;
        const pb_json_t *root;
        const char *source, *format, *records;
        char sep;
        rule_t *rules;
        size_t nrules;
        size_t total_rules;
        seg_t keys[PB_MAPPING_MAX_KEYS][32];
        size_t keyn[PB_MAPPING_MAX_KEYS];
        char *keytext[PB_MAPPING_MAX_KEYS];
        size_t nkeys;
        seg_t srcseg; /* "/source" */
        /* scratch of apply() */
        onode_t *nodes;
        size_t nnodes;
        pb_buf_t vals;     /* leaf values */
        pb_buf_t cur, tmp; /* value being converted */
        int cur_raw;       /* cur holds JSON text, not a string */
        pb_buf_t wr;       /* serialized JSON subtree */
};

/* --- conversions --- */

int pb_conv_german_number(const char *s, size_t n, char *out, size_t size,
                          const char **why) {
        size_t i = 0, o = 0, group = 0, groups = 0;
        int dots = 0;
        *why = "not a German number (like 143.000,00)";
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
        if (i < n && s[i] == '-') {
                if (o + 1 >= size)
                        return -1;
                out[o++] = '-';
                i++;
        }
        if (i >= n || !isdigit((unsigned char)s[i]))
                return -1;
        for (; i < n && s[i] != ','; i++) {
                if (s[i] == '.') {
                        /* thousands: first group 1-3 digits, then 3 each */
                        if ((groups == 0 && (group < 1 || group > 3)) ||
                            (groups > 0 && group != 3))
                                return -1;
                        groups++;
                        group = 0;
                        dots = 1;
                        continue;
                }
                if (!isdigit((unsigned char)s[i]))
                        return -1;
                if (o + 1 >= size)
                        return -1;
                out[o++] = s[i];
                group++;
        }
        if (dots && group != 3)
                return -1;
        if (i < n) { /* ',' then the fraction */
                i++;
                if (i >= n)
                        return -1;
                if (o + 1 >= size)
                        return -1;
                out[o++] = '.';
                for (; i < n; i++) {
                        if (!isdigit((unsigned char)s[i]) || o + 1 >= size)
                                return -1;
                        out[o++] = s[i];
                }
        }
        out[o] = 0;
        return (int)o;
}

int pb_conv_number(const char *s, size_t n, int integer, char *out, size_t size,
                   const char **why) {
        size_t i = 0, o = 0, int0, intn, frac0, fracn = 0, exp0 = 0, expn = 0;
        int neg = 0, eneg = 0, zero = 1;
        *why = integer ? "not an integer (digits with an optional sign)"
                       : "not a number (digits with an optional sign, '.' "
                         "and exponent)";
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
                neg = s[i++] == '-';
        while (i + 1 < n && s[i] == '0' && isdigit((unsigned char)s[i + 1]))
                i++; /* leading zeros: 007 -> 7, 05556.5 -> 5556.5 */
        for (int0 = i; i < n && isdigit((unsigned char)s[i]); i++)
                zero &= s[i] == '0';
        intn = i - int0;
        frac0 = i;
        if (i < n && s[i] == '.' && !integer) {
                for (frac0 = ++i; i < n && isdigit((unsigned char)s[i]); i++)
                        zero &= s[i] == '0';
                fracn = i - frac0;
        }
        if (!intn && !fracn)
                return -1;
        if (i < n && (s[i] == 'e' || s[i] == 'E') && !integer) {
                i++;
                if (i < n && (s[i] == '-' || s[i] == '+'))
                        eneg = s[i++] == '-';
                while (i + 1 < n && s[i] == '0')
                        i++;
                for (exp0 = i; i < n && isdigit((unsigned char)s[i]); i++)
                        ;
                expn = i - exp0;
                if (!expn)
                        return -1;
        }
        if (i != n) {
                if (memchr(s, ',', n))
                        *why = integer ? "not an integer (a German number "
                                         "like 143.000? use german_number "
                                         "first)"
                                       : "not a number (a German number like "
                                         "143.000,00? use german_number "
                                         "first)";
                return -1;
        }
        if (intn + fracn > (integer ? 18 : 40) || expn > 4) {
                *why = integer ? "integer too long (more than 18 digits)"
                               : "number too long (more than 40 digits)";
                return -1;
        }
        if (size < intn + fracn + expn + 8)
                return -1;
        if (neg && !zero)
                out[o++] = '-'; /* -0 and -0.00 lose their sign */
        if (intn) {
                memcpy(out + o, s + int0, intn);
                o += intn;
        } else {
                out[o++] = '0'; /* .5 -> 0.5 */
        }
        if (fracn) { /* 5. -> 5 */
                out[o++] = '.';
                memcpy(out + o, s + frac0, fracn);
                o += fracn;
        }
        if (expn && !(expn == 1 && s[exp0] == '0')) { /* 1e0 -> 1 */
                out[o++] = 'e';
                if (eneg)
                        out[o++] = '-';
                memcpy(out + o, s + exp0, expn);
                o += expn;
        }
        out[o] = 0;
        return (int)o;
}

int pb_conv_german_date(const char *s, size_t n, char *out, size_t size,
                        const char **why) {
        unsigned d = 0, mo = 0, y = 0;
        size_t i = 0, k;
        int32_t days;
        char buf[16];
        *why = "not a German date (like 28.02.2023)";
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
        for (k = 0; i < n && isdigit((unsigned char)s[i]) && k < 2; k++)
                d = d * 10 + (unsigned)(s[i++] - '0');
        if (!k || i >= n || s[i++] != '.')
                return -1;
        for (k = 0; i < n && isdigit((unsigned char)s[i]) && k < 2; k++)
                mo = mo * 10 + (unsigned)(s[i++] - '0');
        if (!k || i >= n || s[i++] != '.')
                return -1;
        for (k = 0; i < n && isdigit((unsigned char)s[i]) && k < 4; k++)
                y = y * 10 + (unsigned)(s[i++] - '0');
        if (k != 4 || i != n || size < 11)
                return -1;
        /* "%04u-%02u-%02u" without stdio (on every record of a feed) */
        buf[0] = (char)('0' + y / 1000);
        buf[1] = (char)('0' + y / 100 % 10);
        buf[2] = (char)('0' + y / 10 % 10);
        buf[3] = (char)('0' + y % 10);
        buf[4] = '-';
        buf[5] = (char)('0' + mo / 10 % 10);
        buf[6] = (char)('0' + mo % 10);
        buf[7] = '-';
        buf[8] = (char)('0' + d / 10 % 10);
        buf[9] = (char)('0' + d % 10);
        buf[10] = 0;
        if (pb_date_parse(buf, 10, &days)) {
                *why = "not a valid calendar date";
                return -1;
        }
        memcpy(out, buf, 11);
        return 10;
}

/* --- loading --- */

static void free_rules(rule_t *r, size_t n) {
        size_t i, j;
        if (!r)
                return;
        for (i = 0; i < n; i++) {
                for (j = 0; j < r[i].nsegs; j++)
                        free(r[i].segs[j].name);
                free(r[i].segs);
                free_rules(r[i].sub, r[i].nsub);
        }
        free(r);
}

void pb_mapping_destroy(pb_mapping_t *m) {
        size_t i, j;
        if (!m)
                return;
        free_rules(m->rules, m->nrules);
        for (i = 0; i < m->nkeys; i++) {
                for (j = 0; j < m->keyn[i]; j++)
                        free(m->keys[i][j].name);
                free(m->keytext[i]);
        }
        free(m->srcseg.name);
        pb_json_parser_destroy(m->jp);
        free(m->text);
        free(m->nodes);
        pb_buf_free(&m->vals);
        pb_buf_free(&m->cur);
        pb_buf_free(&m->tmp);
        pb_buf_free(&m->wr);
        free(m);
}

/* Splits a JSON Pointer into segments (unescaped, malloc'd). */
static int parse_target(const char *t, seg_t *segs, size_t max, size_t *n,
                        char *errstr, size_t errstr_size) {
        size_t k = 0;
        *n = 0;
        if (*t != '/') {
                snprintf(errstr, errstr_size,
                         "target '%s' is not a JSON Pointer (starts with /)",
                         t);
                return -1;
        }
        while (*t == '/') {
                size_t l = 0, i;
                char *name;
                const char *p = ++t;
                while (p[l] && p[l] != '/')
                        l++;
                if (k == max) {
                        snprintf(errstr, errstr_size, "target too deep");
                        return -1;
                }
                name = malloc(l + 1);
                if (!name) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                segs[k].name = name;
                segs[k].len = 0;
                segs[k].is_index = 0;
                segs[k].index = 0;
                *n = ++k;
                for (i = 0; i < l; i++) {
                        char c = p[i];
                        if (c == '~') {
                                if (i + 1 < l && p[i + 1] == '0')
                                        c = '~';
                                else if (i + 1 < l && p[i + 1] == '1')
                                        c = '/';
                                else {
                                        snprintf(errstr, errstr_size,
                                                 "bad ~ escape in target");
                                        return -1;
                                }
                                i++;
                        }
                        name[segs[k - 1].len++] = c;
                }
                name[segs[k - 1].len] = 0;
                if (!segs[k - 1].len) {
                        snprintf(errstr, errstr_size,
                                 "empty segment in target");
                        return -1;
                }
                if (segs[k - 1].len <= 6) {
                        size_t v = 0;
                        for (i = 0; i < segs[k - 1].len; i++) {
                                if (!isdigit((unsigned char)name[i]))
                                        break;
                                v = v * 10 + (size_t)(name[i] - '0');
                        }
                        if (i == segs[k - 1].len) {
                                segs[k - 1].is_index = 1;
                                segs[k - 1].index = v;
                        }
                }
                t = p + l;
        }
        return 0;
}

static int load_rules(pb_mapping_t *m, const pb_json_t *fields, rule_t **out,
                      size_t *nout, int depth, char *errstr,
                      size_t errstr_size);

static int load_rule(pb_mapping_t *m, const pb_json_t *f, rule_t *r, int depth,
                     char *errstr, size_t errstr_size) {
        const pb_json_t *v, *c;
        seg_t segs[32];
        size_t i;
        char why[256];
        r->target = f->key;
        r->col = -1;
        if (parse_target(f->key, segs, 32, &r->nsegs, why, sizeof(why))) {
                for (i = 0; i < r->nsegs; i++)
                        free(segs[i].name);
                r->nsegs = 0;
                snprintf(errstr, errstr_size, "fields%s: %s", f->key, why);
                return -1;
        }
        r->segs = malloc(r->nsegs * sizeof(*r->segs));
        if (!r->segs) {
                for (i = 0; i < r->nsegs; i++)
                        free(segs[i].name);
                r->nsegs = 0;
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        memcpy(r->segs, segs, r->nsegs * sizeof(*r->segs));
        if (f->type == PB_JSON_STRING) {
                r->kind = R_FROM;
                r->from = f->str;
                return 0;
        }
        if (f->type != PB_JSON_OBJECT) {
                snprintf(errstr, errstr_size,
                         "fields%s: expected a column name / JSON Pointer or "
                         "an object",
                         f->key);
                return -1;
        }
        for (v = f->child; v; v = v->next) {
                if (!strcmp(v->key, "from") || !strcmp(v->key, "each")) {
                        if (v->type != PB_JSON_STRING || r->from) {
                                snprintf(errstr, errstr_size,
                                         "fields%s/%s: expected one string",
                                         f->key, v->key);
                                return -1;
                        }
                        r->from = v->str;
                        r->kind = v->key[0] == 'e' ? R_EACH : R_FROM;
                } else if (!strcmp(v->key, "const")) {
                        r->constv = v;
                } else if (!strcmp(v->key, "default")) {
                        r->defv = v;
                } else if (!strcmp(v->key, "enum")) {
                        if (v->type != PB_JSON_OBJECT) {
                                snprintf(errstr, errstr_size,
                                         "fields%s/enum: expected an object "
                                         "of source value -> symbol",
                                         f->key);
                                return -1;
                        }
                        for (c = v->child; c; c = c->next)
                                if (c->type != PB_JSON_STRING) {
                                        snprintf(errstr, errstr_size,
                                                 "fields%s/enum/%s: expected "
                                                 "a string",
                                                 f->key, c->key);
                                        return -1;
                                }
                        r->enumt = v;
                } else if (!strcmp(v->key, "enum_default")) {
                        if (v->type != PB_JSON_STRING) {
                                snprintf(errstr, errstr_size,
                                         "fields%s/enum_default: expected a "
                                         "string",
                                         f->key);
                                return -1;
                        }
                        r->enumdef = v;
                } else if (!strcmp(v->key, "convert")) {
                        const pb_json_t *one = v;
                        size_t cnt = 1;
                        if (v->type == PB_JSON_ARRAY) {
                                one = v->child;
                                cnt = v->count;
                        }
                        if (cnt > PB_MAPPING_MAX_CONV) {
                                snprintf(errstr, errstr_size,
                                         "fields%s/convert: at most %d "
                                         "conversions",
                                         f->key, PB_MAPPING_MAX_CONV);
                                return -1;
                        }
                        for (; one && cnt; one = one->next, cnt--) {
                                size_t k;
                                if (one->type != PB_JSON_STRING)
                                        k = sizeof(conv_names) /
                                            sizeof(conv_names[0]);
                                else
                                        for (k = 0;
                                             k < sizeof(conv_names) /
                                                     sizeof(conv_names[0]);
                                             k++)
                                                if (!strcmp(one->str,
                                                            conv_names[k].name))
                                                        break;
                                if (k == sizeof(conv_names) /
                                             sizeof(conv_names[0])) {
                                        snprintf(errstr, errstr_size,
                                                 "fields%s/convert: unknown "
                                                 "conversion (trim, lower, "
                                                 "upper, german_number, "
                                                 "german_date, iso_date, "
                                                 "iso_datetime, integer, "
                                                 "number, string)",
                                                 f->key);
                                        return -1;
                                }
                                r->conv[r->nconv++] = conv_names[k].c;
                        }
                } else if (!strcmp(v->key, "fields")) {
                        if (depth + 1 >= PB_MAPPING_MAX_DEPTH) {
                                snprintf(errstr, errstr_size,
                                         "fields%s: \"each\" nested too "
                                         "deep",
                                         f->key);
                                return -1;
                        }
                        if (load_rules(m, v, &r->sub, &r->nsub, depth + 1,
                                       errstr, errstr_size))
                                return -1;
                } else {
                        snprintf(errstr, errstr_size,
                                 "fields%s: unknown key '%s' (from, each, "
                                 "const, default, convert, enum, "
                                 "enum_default, fields)",
                                 f->key, v->key);
                        return -1;
                }
        }
        if (r->constv && r->from) {
                snprintf(errstr, errstr_size,
                         "fields%s: both const and from/each", f->key);
                return -1;
        }
        if (r->constv)
                r->kind = R_CONST;
        else if (!r->from) {
                snprintf(errstr, errstr_size,
                         "fields%s: needs from, each or const", f->key);
                return -1;
        }
        if ((r->kind == R_EACH) != (r->sub != NULL)) {
                snprintf(errstr, errstr_size,
                         "fields%s: \"each\" goes with \"fields\"", f->key);
                return -1;
        }
        return 0;
}

static int load_rules(pb_mapping_t *m, const pb_json_t *fields, rule_t **out,
                      size_t *nout, int depth, char *errstr,
                      size_t errstr_size) {
        const pb_json_t *f;
        rule_t *r;
        if (fields->type != PB_JSON_OBJECT || !fields->count) {
                snprintf(errstr, errstr_size,
                         "\"fields\" must be a non-empty object");
                return -1;
        }
        m->total_rules += fields->count;
        if (m->total_rules > PB_MAPPING_MAX_RULES) {
                snprintf(errstr, errstr_size, "more than %d rules",
                         PB_MAPPING_MAX_RULES);
                return -1;
        }
        r = calloc(fields->count, sizeof(*r));
        if (!r) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        *out = r;
        *nout = 0;
        for (f = fields->child; f; f = f->next) {
                (*nout)++;
                if (load_rule(m, f, &r[*nout - 1], depth, errstr, errstr_size))
                        return -1;
        }
        return 0;
}

static pb_resp_t add_key(pb_mapping_t *m, const char *t, char *errstr,
                         size_t errstr_size) {
        char why[256];
        if (m->nkeys == PB_MAPPING_MAX_KEYS) {
                snprintf(errstr, errstr_size, "at most %d key fields",
                         PB_MAPPING_MAX_KEYS);
                return PB_ERR_LIMIT;
        }
        m->keytext[m->nkeys] = strdup(t);
        if (parse_target(t, m->keys[m->nkeys], 32, &m->keyn[m->nkeys], why,
                         sizeof(why)) ||
            !m->keytext[m->nkeys]) {
                m->nkeys++;
                snprintf(errstr, errstr_size, "key '%s': %s", t, why);
                return PB_ERR_INVALID;
        }
        m->nkeys++;
        return PB_OK;
}

pb_resp_t pb_mapping_set_default_key(pb_mapping_t *m, const char *target) {
        char err[256];
        if (m->nkeys)
                return PB_OK;
        return add_key(m, target, err, sizeof(err));
}

pb_mapping_t *pb_mapping_new(const char *json, size_t len, char *errstr,
                             size_t errstr_size) {
        pb_json_limits_t lim = {32, 100000};
        pb_mapping_t *m = calloc(1, sizeof(*m));
        const pb_json_t *v;
        char why[256];
        size_t n;
        if (!m || !(m->text = malloc(len + 1)) ||
            !(m->jp = pb_json_parser_new(&lim)) ||
            !(m->nodes = calloc(PB_MAPPING_MAX_NODES, sizeof(*m->nodes)))) {
                snprintf(errstr, errstr_size, "out of memory");
                pb_mapping_destroy(m);
                return NULL;
        }
        memcpy(m->text, json, len);
        m->text[len] = 0;
        pb_buf_init(&m->vals, 64u << 20);
        pb_buf_init(&m->cur, 16u << 20);
        pb_buf_init(&m->tmp, 16u << 20);
        pb_buf_init(&m->wr, 16u << 20);
        m->root = pb_json_parse(m->jp, m->text, len, why, sizeof(why));
        if (!m->root) {
                snprintf(errstr, errstr_size, "mapping is not JSON: %s", why);
                goto fail;
        }
        if (m->root->type != PB_JSON_OBJECT) {
                snprintf(errstr, errstr_size, "mapping must be an object");
                goto fail;
        }
        if (parse_target("/source", &m->srcseg, 1, &n, why, sizeof(why)))
                goto fail;
        for (v = m->root->child; v; v = v->next) {
                if (!strcmp(v->key, "fields")) {
                        if (load_rules(m, v, &m->rules, &m->nrules, 0, errstr,
                                       errstr_size))
                                goto fail;
                } else if (!strcmp(v->key, "key")) {
                        const pb_json_t *k = v;
                        size_t cnt = 1;
                        if (v->type == PB_JSON_ARRAY) {
                                k = v->child;
                                cnt = v->count;
                        }
                        if (!cnt) {
                                snprintf(errstr, errstr_size,
                                         "\"key\" is empty");
                                goto fail;
                        }
                        for (; k && cnt; k = k->next, cnt--)
                                if (k->type != PB_JSON_STRING ||
                                    add_key(m, k->str, errstr, errstr_size)) {
                                        if (k->type != PB_JSON_STRING)
                                                snprintf(errstr, errstr_size,
                                                         "\"key\": expected "
                                                         "target pointers");
                                        goto fail;
                                }
                } else if (!strcmp(v->key, "source") ||
                           !strcmp(v->key, "format") ||
                           !strcmp(v->key, "records") ||
                           !strcmp(v->key, "separator") ||
                           !strcmp(v->key, "description")) {
                        if (v->type != PB_JSON_STRING) {
                                snprintf(errstr, errstr_size,
                                         "\"%s\" must be a string", v->key);
                                goto fail;
                        }
                        if (v->key[0] == 's' && v->key[1] == 'o')
                                m->source = v->str;
                        else if (v->key[0] == 'f')
                                m->format = v->str;
                        else if (v->key[0] == 'r')
                                m->records = v->str;
                        else if (v->key[0] == 's') {
                                if (v->len != 1 || v->str[0] == '"' ||
                                    v->str[0] == '\n' || v->str[0] == '\r') {
                                        snprintf(errstr, errstr_size,
                                                 "\"separator\" must be one "
                                                 "character like ; or ,");
                                        goto fail;
                                }
                                m->sep = v->str[0];
                        }
                } else {
                        snprintf(errstr, errstr_size,
                                 "unknown key '%s' (source, format, records, "
                                 "separator, key, fields, description)",
                                 v->key);
                        goto fail;
                }
        }
        if (!m->rules) {
                snprintf(errstr, errstr_size, "\"fields\" is missing");
                goto fail;
        }
        if (!m->source || !*m->source) {
                snprintf(errstr, errstr_size,
                         "\"source\" (the publishing organisation) is "
                         "missing");
                goto fail;
        }
        if (pb_mapping_maps(m, "/source")) {
                /* a feed must not choose in whose name it publishes */
                snprintf(errstr, errstr_size,
                         "\"/source\" cannot be mapped from the feed: the "
                         "source is the poller's organisation");
                goto fail;
        }
        return m;
fail:
        pb_mapping_destroy(m);
        return NULL;
}

pb_mapping_t *pb_mapping_load(const char *path, char *errstr,
                              size_t errstr_size) {
        size_t n;
        pb_mapping_t *m;
        /* less than 1 MiB */
        char *buf = pb_read_file(path, (1u << 20) - 1, &n, errstr, errstr_size);
        if (!buf)
                return NULL;
        m = pb_mapping_new(buf, n, errstr, errstr_size);
        free(buf);
        return m;
}

const char *pb_mapping_source(const pb_mapping_t *m) {
        return m->source;
}
const char *pb_mapping_format(const pb_mapping_t *m) {
        return m->format;
}
const char *pb_mapping_records(const pb_mapping_t *m) {
        return m->records;
}
char pb_mapping_separator(const pb_mapping_t *m) {
        return m->sep;
}

int pb_mapping_maps(const pb_mapping_t *m, const char *target) {
        size_t i;
        for (i = 0; i < m->nrules; i++)
                if (!strcmp(m->rules[i].target, target))
                        return 1;
        return 0;
}

/* --- apply --- */

static int new_node(pb_mapping_t *m, int type, const char *name, size_t nlen) {
        onode_t *n;
        if (m->nnodes >= PB_MAPPING_MAX_NODES)
                return -1;
        n = &m->nodes[m->nnodes];
        memset(n, 0, sizeof(*n));
        n->type = type;
        n->name = name;
        n->nlen = nlen;
        n->first = n->last = n->next = -1;
        return (int)m->nnodes++;
}

static void link_child(pb_mapping_t *m, int parent, int child) {
        onode_t *p = &m->nodes[parent];
        if (p->last >= 0)
                m->nodes[p->last].next = child;
        else
                p->first = child;
        p->last = child;
        p->count++;
}

/* Finds or creates the node at segs under parent. leaf_type: the type the
 * last node must get when created (O_STR/O_RAW/O_ARR); an existing last
 * node is an error unless it is an array and leaf_type is O_ARR. Returns
 * the node or -1 with *why. */
static int place(pb_mapping_t *m, int parent, const seg_t *segs, size_t n,
                 int leaf_type, const char **why) {
        size_t i;
        int cur = parent;
        for (i = 0; i < n; i++) {
                const seg_t *s = &segs[i];
                int last = i + 1 == n;
                int want =
                    last ? leaf_type : (segs[i + 1].is_index ? O_ARR : O_OBJ);
                onode_t *p = &m->nodes[cur];
                int ch = -1, k;
                size_t idx = 0;
                if (p->type == O_OBJ) {
                        for (k = p->first; k >= 0; k = m->nodes[k].next)
                                if (m->nodes[k].nlen == s->len &&
                                    !memcmp(m->nodes[k].name, s->name,
                                            s->len)) {
                                        ch = k;
                                        break;
                                }
                } else if (p->type == O_ARR) {
                        if (!s->is_index || s->index > p->count) {
                                *why = "array index out of order in the "
                                       "mapping (use 0, 1, 2, ...)";
                                return -1;
                        }
                        for (k = p->first; k >= 0 && idx < s->index;
                             k = m->nodes[k].next)
                                idx++;
                        ch = k;
                } else {
                        *why = "target is inside a value another rule set";
                        return -1;
                }
                if (ch >= 0) {
                        if (last && !(leaf_type == O_ARR &&
                                      m->nodes[ch].type == O_ARR)) {
                                *why = "target set twice";
                                return -1;
                        }
                        if (!last && m->nodes[ch].type != want) {
                                *why = "target conflicts with another rule";
                                return -1;
                        }
                        cur = ch;
                        continue;
                }
                ch = new_node(m, want, s->name, s->len);
                if (ch < 0) {
                        *why = "too many values in one record";
                        return -1;
                }
                link_child(m, cur, ch);
                cur = ch;
        }
        return cur;
}

static int is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Runs one conversion on m->cur (text, m->cur_raw). 0 or -1 with *why. */
static int convert(pb_mapping_t *m, conv_t c, const char **why) {
        char *s = (char *)m->cur.data;
        size_t n = m->cur.len, i;
        int r;
        int64_t ms;
        int32_t days;
        char out[96];
        if (!s) {
                pb_buf_putc(&m->cur, 0);
                m->cur.len = 0;
                s = (char *)m->cur.data;
                if (!s) {
                        *why = "out of memory";
                        return -1;
                }
        }
        if (m->cur_raw && c != CV_STR && c != CV_INT && c != CV_NUM) {
                /* conversions of text work on a number's literal too */
                if (n && (s[0] == '{' || s[0] == '[')) {
                        *why = "expected a text value, not an object or "
                               "array";
                        return -1;
                }
                /* true, false and null become text: upper would turn
                 * them into TRUE, which is no JSON (found by fuzz_mapping) */
                if (n && s[0] != '-' && !isdigit((unsigned char)s[0]))
                        m->cur_raw = 0;
        }
        switch (c) {
        case CV_TRIM:
                i = 0;
                while (i < n && is_ws(s[i]))
                        i++;
                while (n > i && is_ws(s[n - 1]))
                        n--;
                memmove(s, s + i, n - i);
                m->cur.len = n - i;
                s[m->cur.len] = 0;
                return 0;
        case CV_LOWER:
        case CV_UPPER:
                for (i = 0; i < n; i++)
                        s[i] = (char)(c == CV_LOWER
                                          ? tolower((unsigned char)s[i])
                                          : toupper((unsigned char)s[i]));
                return 0;
        case CV_GNUM:
        case CV_GDATE:
                pb_buf_reset(&m->tmp);
                if (pb_buf_reserve(&m->tmp, n + 2) != PB_OK) {
                        *why = "value too long";
                        return -1;
                }
                r = c == CV_GNUM
                        ? pb_conv_german_number(s, n, (char *)m->tmp.data,
                                                n + 2, why)
                        : pb_conv_german_date(s, n, (char *)m->tmp.data, n + 2,
                                              why);
                if (r < 0)
                        return -1;
                pb_buf_reset(&m->cur);
                pb_buf_append(&m->cur, m->tmp.data, (size_t)r);
                m->cur_raw = 0;
                return 0;
        case CV_IDATE:
                if (n == 10 && !pb_date_parse(s, n, &days)) {
                        m->cur_raw = 0;
                        return 0;
                }
                if (pb_rfc3339_parse(s, n, &ms)) {
                        *why = "not an ISO date (YYYY-MM-DD) or RFC 3339 "
                               "date-time";
                        return -1;
                }
                days = (int32_t)(ms >= 0 ? ms / 86400000
                                         : -((-ms + 86399999) / 86400000));
                r = (int)pb_date_format(days, out, sizeof(out));
                break;
        case CV_IDT:
                if (n == 10 && !pb_date_parse(s, n, &days))
                        ms = (int64_t)days * 86400000;
                else if (pb_rfc3339_parse(s, n, &ms)) {
                        *why = "not an RFC 3339 date-time (or ISO date)";
                        return -1;
                }
                r = (int)pb_rfc3339_format(ms, out, sizeof(out));
                break;
        case CV_INT:
        case CV_NUM:
                r = pb_conv_number(s, n, c == CV_INT, out, sizeof(out), why);
                if (r < 0)
                        return -1;
                pb_buf_reset(&m->cur);
                pb_buf_append(&m->cur, out, (size_t)r);
                m->cur_raw = 1;
                return 0;
        case CV_STR:
                if (m->cur_raw && n &&
                    (s[0] == '{' || s[0] == '[' || s[0] == '"' ||
                     s[0] == 'n')) {
                        *why = "expected a number or boolean to turn into "
                               "text";
                        return -1;
                }
                m->cur_raw = 0;
                return 0;
        }
        if (r <= 0) {
                *why = "cannot format the value";
                return -1;
        }
        pb_buf_reset(&m->cur);
        pb_buf_append(&m->cur, out, (size_t)r);
        m->cur_raw = 0;
        return 0;
}

/* Sets m->cur from a JSON value; strings as text, anything else as JSON. */
static int cur_from_json(pb_mapping_t *m, const pb_json_t *v) {
        pb_buf_reset(&m->cur);
        if (v->type == PB_JSON_STRING) {
                m->cur_raw = 0;
                return pb_buf_append(&m->cur, v->str, v->len) == PB_OK ? 0 : -1;
        }
        m->cur_raw = 1;
        return pb_json_write(v, &m->cur) == PB_OK ? 0 : -1;
}

typedef struct actx {
        const pb_record_t *rec;
        const pb_json_t *j; /* JSON context (record, or element of each) */
        char prefix[PB_POINTER_MAX];
} actx_t;

static void rule_error(pb_errors_t *errs, const actx_t *a, const rule_t *r,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void rule_error(pb_errors_t *errs, const actx_t *a, const rule_t *r,
                       const char *fmt, ...) {
        char ptr[PB_POINTER_MAX], msg[PB_ERRMSG_MAX];
        va_list ap;
        snprintf(ptr, sizeof(ptr), "%s%s", a->prefix, r->target);
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        pb_errors_add(errs, ptr, "%s", msg);
}

static void apply_rules(pb_mapping_t *m, const rule_t *rules, size_t n,
                        int parent, actx_t *a, pb_errors_t *errs, int depth);

static void apply_rule(pb_mapping_t *m, const rule_t *r, int parent, actx_t *a,
                       pb_errors_t *errs, int depth) {
        const char *why = NULL;
        int missing = 0, node;
        size_t i;
        const pb_json_t *v = NULL;
        if (r->kind == R_CONST) {
                if (cur_from_json(m, r->constv)) {
                        rule_error(errs, a, r, "value too long");
                        return;
                }
        } else if (a->j) {
                v = pb_pointer_get(a->j, r->from);
                if (!v || v->type == PB_JSON_NULL)
                        missing = 1;
                else if (r->kind == R_FROM && cur_from_json(m, v)) {
                        rule_error(errs, a, r, "value too long");
                        return;
                }
        } else if (a->rec->cols) {
                long col = -1;
                size_t fl = strlen(r->from);
                rule_t *w = (rule_t *)r; /* column cache only */
                if (r->kind == R_EACH) {
                        rule_error(errs, a, r, "\"each\" needs JSON records");
                        return;
                }
                if (w->col_header == a->rec->header && w->col >= 0)
                        col = w->col;
                else {
                        for (i = 0; i < a->rec->nheader; i++)
                                if (a->rec->hlens[i] == fl &&
                                    !memcmp(a->rec->header[i], r->from, fl))
                                        col = (long)i;
                        w->col_header = a->rec->header;
                        w->col = col;
                }
                if (col < 0 || (size_t)col >= a->rec->ncols) {
                        rule_error(errs, a, r,
                                   "no column '%s' in the header row", r->from);
                        return;
                }
                pb_buf_reset(&m->cur);
                m->cur_raw = 0;
                if (pb_buf_append(&m->cur, a->rec->cols[col],
                                  a->rec->lens[col]) != PB_OK) {
                        rule_error(errs, a, r, "value too long");
                        return;
                }
                for (i = 0; i < m->cur.len && is_ws((char)m->cur.data[i]); i++)
                        ;
                if (i == m->cur.len)
                        missing = 1; /* empty cell: no value */
        } else {
                missing = 1;
        }
        if (missing) {
                if (!r->defv)
                        return; /* left out; the schema decides */
                if (cur_from_json(m, r->defv)) {
                        rule_error(errs, a, r, "value too long");
                        return;
                }
                goto place_leaf;
        }
        if (r->kind == R_EACH) {
                const pb_json_t *e;
                size_t idx = 0;
                actx_t sub;
                if (v->type != PB_JSON_ARRAY) {
                        rule_error(errs, a, r,
                                   "\"each\" source '%s' is a %s, not an "
                                   "array",
                                   r->from, pb_json_type_name(v->type));
                        return;
                }
                node = place(m, parent, r->segs, r->nsegs, O_ARR, &why);
                if (node < 0) {
                        rule_error(errs, a, r, "%s", why);
                        return;
                }
                sub.rec = a->rec;
                for (e = v->child; e; e = e->next, idx++) {
                        int el;
                        char num[24];
                        snprintf(sub.prefix, sizeof(sub.prefix), "%s%s",
                                 a->prefix, r->target);
                        snprintf(num, sizeof(num), "%zu", idx);
                        pb_pointer_push(sub.prefix, sizeof(sub.prefix), num,
                                        strlen(num));
                        sub.j = e;
                        el = new_node(m, O_OBJ, NULL, 0);
                        if (el < 0) {
                                rule_error(errs, a, r,
                                           "too many values in one record");
                                return;
                        }
                        link_child(m, node, el);
                        apply_rules(m, r->sub, r->nsub, el, &sub, errs,
                                    depth + 1);
                }
                return;
        }
        for (i = 0; i < r->nconv; i++)
                if (convert(m, r->conv[i], &why)) {
                        char shown[72];
                        size_t l = m->cur.len < 60 ? m->cur.len : 60;
                        memcpy(shown, m->cur.data ? (char *)m->cur.data : "",
                               l);
                        shown[l] = 0;
                        if (!pb_utf8_valid(shown, l))
                                snprintf(shown, sizeof(shown), "...");
                        rule_error(errs, a, r, "\"%s\": %s (convert \"%s\")",
                                   shown, why, conv_name(r->conv[i]));
                        return;
                }
        if (r->enumt) {
                const pb_json_t *e;
                const char *val = m->cur.data ? (const char *)m->cur.data : "";
                for (e = r->enumt->child; e; e = e->next)
                        if (e->keylen == m->cur.len &&
                            !memcmp(e->key, val, e->keylen))
                                break;
                if (!e)
                        e = r->enumdef;
                if (!e) {
                        char shown[72];
                        size_t l = m->cur.len < 60 ? m->cur.len : 60;
                        memcpy(shown, val, l);
                        shown[l] = 0;
                        if (!pb_utf8_valid(shown, l))
                                snprintf(shown, sizeof(shown), "...");
                        rule_error(errs, a, r,
                                   "\"%s\" is not in the enum table", shown);
                        return;
                }
                pb_buf_reset(&m->cur);
                pb_buf_append(&m->cur, e->str, e->len);
                m->cur_raw = 0;
        }
place_leaf:
        node = place(m, parent, r->segs, r->nsegs, m->cur_raw ? O_RAW : O_STR,
                     &why);
        if (node < 0) {
                rule_error(errs, a, r, "%s", why);
                return;
        }
        m->nodes[node].voff = m->vals.len;
        m->nodes[node].vlen = m->cur.len;
        if (pb_buf_append(&m->vals, m->cur.data ? m->cur.data : (uint8_t *)"",
                          m->cur.len) != PB_OK)
                rule_error(errs, a, r, "record too large");
}

static void apply_rules(pb_mapping_t *m, const rule_t *rules, size_t n,
                        int parent, actx_t *a, pb_errors_t *errs, int depth) {
        size_t i;
        if (depth > PB_MAPPING_MAX_DEPTH)
                return;
        for (i = 0; i < n; i++)
                apply_rule(m, &rules[i], parent, a, errs, depth);
}

static pb_resp_t emit(pb_mapping_t *m, int n, pb_buf_t *out) {
        const onode_t *x = &m->nodes[n];
        int k;
        pb_resp_t rc = PB_OK;
        switch (x->type) {
        case O_STR:
                return pb_buf_json_str(
                    out, (const char *)m->vals.data + x->voff, x->vlen);
        case O_RAW:
                return pb_buf_append(out, m->vals.data + x->voff, x->vlen);
        case O_OBJ:
        case O_ARR:
                rc = pb_buf_putc(out, x->type == O_OBJ ? '{' : '[');
                for (k = x->first; k >= 0 && rc == PB_OK;
                     k = m->nodes[k].next) {
                        if (k != x->first)
                                rc = pb_buf_putc(out, ',');
                        if (rc == PB_OK && x->type == O_OBJ) {
                                rc = pb_buf_json_str(out, m->nodes[k].name,
                                                     m->nodes[k].nlen);
                                if (rc == PB_OK)
                                        rc = pb_buf_putc(out, ':');
                        }
                        if (rc == PB_OK)
                                rc = emit(m, k, out);
                }
                if (rc == PB_OK)
                        rc = pb_buf_putc(out, x->type == O_OBJ ? '}' : ']');
                return rc;
        }
        return PB_ERR_ARG;
}

/* Finds the node at segs from the root, -1 if absent. */
static int find(const pb_mapping_t *m, const seg_t *segs, size_t n) {
        int cur = 0, k;
        size_t i, idx;
        for (i = 0; i < n; i++) {
                const onode_t *p = &m->nodes[cur];
                if (p->type == O_OBJ) {
                        for (k = p->first; k >= 0; k = m->nodes[k].next)
                                if (m->nodes[k].nlen == segs[i].len &&
                                    !memcmp(m->nodes[k].name, segs[i].name,
                                            segs[i].len))
                                        break;
                } else if (p->type == O_ARR && segs[i].is_index) {
                        for (k = p->first, idx = 0;
                             k >= 0 && idx < segs[i].index;
                             k = m->nodes[k].next)
                                idx++;
                } else {
                        return -1;
                }
                if (k < 0)
                        return -1;
                cur = k;
        }
        return cur;
}

pb_resp_t pb_mapping_apply(pb_mapping_t *m, const pb_record_t *rec,
                           pb_buf_t *out, pb_buf_t *key, pb_errors_t *errs) {
        actx_t a;
        const char *why;
        size_t out0 = out->len, key0 = key->len, i;
        int root, src;
        pb_resp_t rc;
        m->nnodes = 0;
        pb_buf_reset(&m->vals);
        root = new_node(m, O_OBJ, NULL, 0);
        a.rec = rec;
        a.j = rec->json;
        a.prefix[0] = 0;
        (void)root;
        /* "source" first: the organisation, never a value from the feed */
        src = place(m, 0, &m->srcseg, 1, O_STR, &why);
        m->nodes[src].voff = 0;
        m->nodes[src].vlen = strlen(m->source);
        if (pb_buf_append(&m->vals, m->source, m->nodes[src].vlen) != PB_OK)
                return PB_ERR_NOMEM;
        apply_rules(m, m->rules, m->nrules, 0, &a, errs, 0);
        if (errs->count || errs->dropped)
                return PB_ERR_INVALID;
        for (i = 0; i < m->nkeys; i++) {
                int k = find(m, m->keys[i], m->keyn[i]);
                if (k < 0 ||
                    (m->nodes[k].type != O_STR && m->nodes[k].type != O_RAW) ||
                    !m->nodes[k].vlen) {
                        pb_errors_add(errs, m->keytext[i],
                                      "record key field is missing or empty");
                        continue;
                }
                if ((i && pb_buf_putc(key, '|') != PB_OK) ||
                    pb_buf_append(key,
                                  (const char *)m->vals.data + m->nodes[k].voff,
                                  m->nodes[k].vlen) != PB_OK) {
                        key->len = key0;
                        return PB_ERR_LIMIT;
                }
        }
        if (errs->count) {
                key->len = key0;
                if (key->data)
                        key->data[key0] = 0;
                return PB_ERR_INVALID;
        }
        rc = emit(m, 0, out);
        if (rc != PB_OK) {
                out->len = out0;
                if (out->data)
                        out->data[out0] = 0;
                key->len = key0;
                if (key->data)
                        key->data[key0] = 0;
        }
        return rc;
}
