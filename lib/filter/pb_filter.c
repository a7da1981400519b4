/* partnerbus - the --where expression engine; grammar in pb_filter.h.
 *
 * Conditions are parsed once into a path of segments, an operator and a
 * list of alternative values; matching walks the decoded event's JSON tree
 * without allocating. */
#include "partnerbus/pb_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum pb_fop {
        PB_FOP_EQ,
        PB_FOP_NE,
        PB_FOP_GE,
        PB_FOP_LE,
        PB_FOP_GT,
        PB_FOP_LT,
} pb_fop_t;

typedef struct pb_fstr {
        const char *s;
        size_t n;
} pb_fstr_t;

typedef struct pb_cond {
        char *text;  /* owned copy of the expression; segments point in */
        int is_type; /* PATH is the pseudo-field `type` */
        pb_fstr_t seg[PB_FILTER_MAX_SEGMENTS];
        size_t nseg;
        pb_fop_t op;
        pb_fstr_t alt[PB_FILTER_MAX_ALTS];
        size_t nalt;
} pb_cond_t;

struct pb_filter {
        pb_cond_t conds[PB_FILTER_MAX_CONDS];
        size_t n;
        int needs_event;
};

pb_filter_t *pb_filter_new(void) {
        return calloc(1, sizeof(pb_filter_t));
}

void pb_filter_destroy(pb_filter_t *f) {
        size_t i;
        if (!f)
                return;
        for (i = 0; i < f->n; i++)
                free(f->conds[i].text);
        free(f);
}

size_t pb_filter_count(const pb_filter_t *f) {
        return f ? f->n : 0;
}

int pb_filter_needs_event(const pb_filter_t *f) {
        return f ? f->needs_event : 0;
}

static void pb_trim(const char **s, size_t *n) {
        while (*n && (**s == ' ' || **s == '\t')) {
                (*s)++;
                (*n)--;
        }
        while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
                (*n)--;
}

/* Splits s[0..n) at each sep into out, counting the parts in *count: 0,
 * -1 more than max parts, or (with no_empty) -2 an empty part, -3 an
 * empty last part after a separator. */
static int split(const char *s, size_t n, char sep, int no_empty,
                 pb_fstr_t *out, size_t max, size_t *count) {
        for (;;) {
                const char *end = memchr(s, sep, n);
                size_t l = end ? (size_t)(end - s) : n;
                if (no_empty && l == 0)
                        return -2;
                if (*count == max)
                        return -1;
                out[*count].s = s;
                out[*count].n = l;
                (*count)++;
                if (!end)
                        return 0;
                s = end + 1;
                n -= l + 1;
                if (no_empty && n == 0)
                        return -3;
        }
}

pb_resp_t pb_filter_add(pb_filter_t *f, const char *expr, char *errstr,
                        size_t errstr_size) {
        pb_cond_t *c;
        size_t len, i, oplen = 1;
        int r;
        const char *p, *v;
        size_t plen, vlen;
        if (!f || !expr) {
                snprintf(errstr, errstr_size, "no expression");
                return PB_ERR_ARG;
        }
        len = strlen(expr);
        if (len > PB_FILTER_MAX_EXPR) {
                snprintf(errstr, errstr_size, "expression longer than %d bytes",
                         PB_FILTER_MAX_EXPR);
                return PB_ERR_LIMIT;
        }
        if (f->n == PB_FILTER_MAX_CONDS) {
                snprintf(errstr, errstr_size, "more than %d conditions",
                         PB_FILTER_MAX_CONDS);
                return PB_ERR_LIMIT;
        }
        c = &f->conds[f->n];
        memset(c, 0, sizeof(*c));
        c->text = strdup(expr);
        if (!c->text) {
                snprintf(errstr, errstr_size, "out of memory");
                return PB_ERR_NOMEM;
        }
        for (i = 0; i < len; i++)
                if (strchr("=!<>", c->text[i]))
                        break;
        if (i == len) {
                snprintf(errstr, errstr_size,
                         "'%s': no operator (one of = != >= <= > <)", expr);
                goto bad;
        }
        switch (c->text[i]) {
        case '=':
                c->op = PB_FOP_EQ;
                break;
        case '!':
                if (c->text[i + 1] != '=') {
                        snprintf(errstr, errstr_size,
                                 "'%s': '!' must be followed by '='", expr);
                        goto bad;
                }
                c->op = PB_FOP_NE;
                oplen = 2;
                break;
        case '>':
        case '<':
                if (c->text[i + 1] == '=') {
                        c->op = c->text[i] == '>' ? PB_FOP_GE : PB_FOP_LE;
                        oplen = 2;
                } else {
                        c->op = c->text[i] == '>' ? PB_FOP_GT : PB_FOP_LT;
                }
                break;
        }
        p = c->text;
        plen = i;
        v = c->text + i + oplen;
        vlen = len - i - oplen;
        pb_trim(&p, &plen);
        pb_trim(&v, &vlen);
        if (plen == 0) {
                snprintf(errstr, errstr_size,
                         "'%s': no field before the "
                         "operator",
                         expr);
                goto bad;
        }
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
        }
        if (plen == 4 && !memcmp(p, "type", 4)) {
                c->is_type = 1;
        } else {
                /* a leading '.' only escapes the pseudo-field `type` */
                if (p[0] == '.') {
                        p++;
                        plen--;
                }
                r = split(p, plen, '.', 1, c->seg, PB_FILTER_MAX_SEGMENTS,
                          &c->nseg);
                if (r == -1) {
                        snprintf(errstr, errstr_size,
                                 "'%s': more than %d path segments", expr,
                                 PB_FILTER_MAX_SEGMENTS);
                        free(c->text);
                        return PB_ERR_LIMIT;
                }
                if (r) {
                        snprintf(errstr, errstr_size, "'%s': %s", expr,
                                 r == -2 ? "empty segment in the field path"
                                         : "field path ends with '.'");
                        goto bad;
                }
                f->needs_event = 1;
        }
        if (c->op == PB_FOP_EQ || c->op == PB_FOP_NE) {
                if (split(v, vlen, '|', 0, c->alt, PB_FILTER_MAX_ALTS,
                          &c->nalt)) {
                        snprintf(errstr, errstr_size,
                                 "'%s': more than %d alternatives", expr,
                                 PB_FILTER_MAX_ALTS);
                        free(c->text);
                        return PB_ERR_LIMIT;
                }
        } else {
                c->alt[0].s = v;
                c->alt[0].n = vlen;
                c->nalt = 1;
                if (vlen == 0) {
                        snprintf(errstr, errstr_size,
                                 "'%s': no value after the operator", expr);
                        goto bad;
                }
        }
        f->n++;
        return PB_OK;
bad:
        free(c->text);
        c->text = NULL;
        return PB_ERR_PARSE;
}

/* --- exact decimal comparison --- */

#define PB_DEC_MAX_DIGITS 256

typedef struct pb_filter_num {
        int sign; /* -1, 0 (zero), 1 */
        long exp; /* value = 0.D x 10^exp */
        char d[PB_DEC_MAX_DIGITS];
        size_t nd;
} pb_filter_num_t;

static int pb_filter_num_parse(const char *s, size_t n, pb_filter_num_t *x) {
        size_t i = 0, intdigits = 0, lead = 0;
        int neg = 0, seen_digit = 0, in_frac = 0;
        long e = 0;
        x->nd = 0;
        if (i < n && (s[i] == '-' || s[i] == '+'))
                neg = s[i++] == '-';
        for (; i < n; i++) {
                char ch = s[i];
                if (ch >= '0' && ch <= '9') {
                        seen_digit = 1;
                        if (!in_frac)
                                intdigits++;
                        if (x->nd == 0 && ch == '0') {
                                lead++; /* leading zero: shifts the point */
                                continue;
                        }
                        if (x->nd == PB_DEC_MAX_DIGITS)
                                return -1;
                        x->d[x->nd++] = ch;
                } else if (ch == '.' && !in_frac) {
                        in_frac = 1;
                } else {
                        break;
                }
        }
        if (!seen_digit)
                return -1;
        if (i < n) {
                int eneg = 0;
                size_t ed = 0;
                if (s[i] != 'e' && s[i] != 'E')
                        return -1;
                i++;
                if (i < n && (s[i] == '-' || s[i] == '+'))
                        eneg = s[i++] == '-';
                for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
                        if (++ed > 6)
                                return -1;
                        e = e * 10 + (s[i] - '0');
                }
                if (ed == 0 || i != n)
                        return -1;
                if (eneg)
                        e = -e;
        }
        while (x->nd && x->d[x->nd - 1] == '0')
                x->nd--;
        if (x->nd == 0) {
                x->sign = 0;
                x->exp = 0;
                return 0;
        }
        x->sign = neg ? -1 : 1;
        x->exp = (long)intdigits - (long)lead + e;
        return 0;
}

int pb_decimal_cmp(const char *a, size_t alen, const char *b, size_t blen,
                   int *cmp) {
        pb_filter_num_t x, y;
        size_t i;
        int mag = 0;
        if (pb_filter_num_parse(a, alen, &x) ||
            pb_filter_num_parse(b, blen, &y))
                return -1;
        if (x.sign != y.sign) {
                *cmp = x.sign < y.sign ? -1 : 1;
                return 0;
        }
        if (x.sign == 0) {
                *cmp = 0;
                return 0;
        }
        if (x.exp != y.exp) {
                mag = x.exp < y.exp ? -1 : 1;
        } else {
                for (i = 0; i < x.nd && i < y.nd && !mag; i++)
                        if (x.d[i] != y.d[i])
                                mag = x.d[i] < y.d[i] ? -1 : 1;
                if (!mag && x.nd != y.nd)
                        mag = x.nd < y.nd ? -1 : 1;
        }
        *cmp = mag * x.sign;
        return 0;
}

/* --- matching --- */

static int pb_text_cmp(const char *a, size_t an, const char *b, size_t bn) {
        size_t m = an < bn ? an : bn;
        int r = memcmp(a, b, m);
        if (r)
                return r < 0 ? -1 : 1;
        return an == bn ? 0 : (an < bn ? -1 : 1);
}

/* Does the scalar text (field) satisfy op against one value? */
static int pb_cmp_ok(pb_fop_t op, const char *f, size_t fn, int f_is_str,
                     const pb_fstr_t *v) {
        int c;
        if (pb_decimal_cmp(f, fn, v->s, v->n, &c) != 0) {
                /* a JSON string that does not look like a number is
                 * compared as text; so is everything else */
                c = pb_text_cmp(f, fn, v->s, v->n);
        }
        (void)f_is_str;
        switch (op) {
        case PB_FOP_EQ:
        case PB_FOP_NE:
                return c == 0;
        case PB_FOP_GE:
                return c >= 0;
        case PB_FOP_LE:
                return c <= 0;
        case PB_FOP_GT:
                return c > 0;
        case PB_FOP_LT:
                return c < 0;
        }
        return 0;
}

/* EQ semantics for NE (negated by the caller). */
static int pb_value_ok(const pb_cond_t *c, const pb_json_t *v) {
        const char *t;
        size_t tn, i;
        pb_fop_t op = c->op == PB_FOP_NE ? PB_FOP_EQ : c->op;
        switch (v->type) {
        case PB_JSON_NULL:
                t = "null";
                tn = 4;
                break;
        case PB_JSON_TRUE:
                t = "true";
                tn = 4;
                break;
        case PB_JSON_FALSE:
                t = "false";
                tn = 5;
                break;
        case PB_JSON_NUMBER:
        case PB_JSON_STRING:
                t = v->str;
                tn = v->len;
                break;
        default:
                return 0;
        }
        for (i = 0; i < c->nalt; i++)
                if (pb_cmp_ok(op, t, tn, v->type == PB_JSON_STRING, &c->alt[i]))
                        return 1;
        return 0;
}

static int pb_seg_index(const pb_fstr_t *s, size_t *idx) {
        size_t i, x = 0;
        if (s->n == 0 || s->n > 9)
                return 0;
        for (i = 0; i < s->n; i++) {
                if (s->s[i] < '0' || s->s[i] > '9')
                        return 0;
                x = x * 10 + (size_t)(s->s[i] - '0');
        }
        *idx = x;
        return 1;
}

/* 1 if some value reached by seg[i..] from v satisfies the condition. */
static int pb_walk(const pb_cond_t *c, const pb_json_t *v, size_t i,
                   int depth) {
        const pb_json_t *ch;
        size_t idx;
        if (!v || depth > 64)
                return 0;
        if (v->type == PB_JSON_ARRAY) {
                if (i < c->nseg && pb_seg_index(&c->seg[i], &idx)) {
                        for (ch = v->child; ch && idx; ch = ch->next)
                                idx--;
                        return pb_walk(c, ch, i + 1, depth + 1);
                }
                for (ch = v->child; ch; ch = ch->next)
                        if (pb_walk(c, ch, i, depth + 1))
                                return 1;
                return 0;
        }
        if (i == c->nseg)
                return pb_value_ok(c, v);
        if (v->type != PB_JSON_OBJECT)
                return 0;
        for (ch = v->child; ch; ch = ch->next)
                if (ch->keylen == c->seg[i].n &&
                    !memcmp(ch->key, c->seg[i].s, ch->keylen))
                        return pb_walk(c, ch, i + 1, depth + 1);
        return 0;
}

int pb_filter_match(const pb_filter_t *f, const char *type,
                    const pb_json_t *event) {
        size_t i;
        if (!f)
                return 1;
        for (i = 0; i < f->n; i++) {
                const pb_cond_t *c = &f->conds[i];
                int ok;
                if (c->is_type) {
                        pb_json_t tv;
                        if (!type) {
                                ok = 0;
                        } else {
                                memset(&tv, 0, sizeof(tv));
                                tv.type = PB_JSON_STRING;
                                tv.str = type;
                                tv.len = strlen(type);
                                ok = pb_value_ok(c, &tv);
                        }
                } else {
                        ok = pb_walk(c, event, 0, 0);
                }
                if (c->op == PB_FOP_NE)
                        ok = !ok;
                if (!ok)
                        return 0;
        }
        return 1;
}
