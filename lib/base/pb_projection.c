/* partnerbus - field projection (pb_projection.h).
 *
 * Each pointer is split into its unescaped reference tokens once. Writing
 * walks the event and carries two bit sets: the include pointers whose
 * tokens matched the path so far, and the exclude pointers likewise; an
 * include pointer that ends at the current node makes its whole subtree
 * kept, an exclude pointer that ends there drops it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_projection.h"

typedef struct ptr {
        char *tok[PB_PROJECTION_MAX_DEPTH];
        size_t len[PB_PROJECTION_MAX_DEPTH];
        size_t ntok;
} ptr_t;

struct pb_projection {
        ptr_t inc[PB_PROJECTION_MAX], exc[PB_PROJECTION_MAX];
        size_t ninc, nexc;
};

static void ptr_free(ptr_t *p) {
        size_t i;
        for (i = 0; i < p->ntok; i++)
                free(p->tok[i]);
        p->ntok = 0;
}

void pb_projection_destroy(pb_projection_t *p) {
        size_t i;
        if (!p)
                return;
        for (i = 0; i < p->ninc; i++)
                ptr_free(&p->inc[i]);
        for (i = 0; i < p->nexc; i++)
                ptr_free(&p->exc[i]);
        free(p);
}

/* "/a/b~1c" -> tokens a, b/c. 0, or -1 with why. */
static int ptr_parse(const char *s, ptr_t *out, const char **why) {
        size_t n = strlen(s), i = 0;
        out->ntok = 0;
        if (n > PB_PROJECTION_MAX_LEN) {
                *why = "pointer too long";
                return -1;
        }
        if (n == 0 || s[0] != '/') {
                *why = "a JSON Pointer starts with '/' (the whole event "
                       "cannot be selected)";
                return -1;
        }
        while (i < n) {
                size_t j = i + 1, k = 0;
                char *t;
                if (out->ntok == PB_PROJECTION_MAX_DEPTH) {
                        *why = "pointer too deep";
                        return -1;
                }
                t = malloc(n + 1);
                if (!t) {
                        *why = "out of memory";
                        return -1;
                }
                while (j < n && s[j] != '/') {
                        if (s[j] == '~') {
                                if (j + 1 < n &&
                                    (s[j + 1] == '0' || s[j + 1] == '1')) {
                                        t[k++] = s[j + 1] == '0' ? '~' : '/';
                                        j += 2;
                                        continue;
                                }
                                free(t);
                                *why = "'~' must be followed by 0 or 1";
                                return -1;
                        }
                        t[k++] = s[j++];
                }
                t[k] = 0;
                out->tok[out->ntok] = t;
                out->len[out->ntok++] = k;
                i = j;
        }
        return 0;
}

/* Parses list[0..n) into out, counting the parsed ones in *count (so a
 * failure frees exactly those); -1 with errstr naming the list entry. */
static int ptr_list(const char *const *list, size_t n, const char *name,
                    ptr_t *out, size_t *count, char *errstr,
                    size_t errstr_size) {
        const char *why = NULL;
        for (size_t i = 0; i < n; i++, (*count)++)
                if (ptr_parse(list[i], &out[i], &why)) {
                        ptr_free(&out[i]);
                        snprintf(errstr, errstr_size, "/projection/%s/%zu: %s",
                                 name, i, why);
                        return -1;
                }
        return 0;
}

pb_projection_t *pb_projection_new(const char *const *include, size_t ninc,
                                   const char *const *exclude, size_t nexc,
                                   char *errstr, size_t errstr_size) {
        pb_projection_t *p;
        if (ninc > PB_PROJECTION_MAX || nexc > PB_PROJECTION_MAX) {
                snprintf(errstr, errstr_size,
                         "/projection: at most %d "
                         "pointers per list",
                         PB_PROJECTION_MAX);
                return NULL;
        }
        p = calloc(1, sizeof(*p));
        if (!p) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (ptr_list(include, ninc, "include", p->inc, &p->ninc, errstr,
                     errstr_size) ||
            ptr_list(exclude, nexc, "exclude", p->exc, &p->nexc, errstr,
                     errstr_size)) {
                pb_projection_destroy(p);
                return NULL;
        }
        return p;
}

int pb_projection_is_identity(const pb_projection_t *p) {
        return !p || (p->ninc == 0 && p->nexc == 0);
}

/* does token t (of length tl) select the member key / the element idx? */
static int tok_match_key(const char *t, size_t tl, const char *key,
                         size_t keylen) {
        return tl == keylen && !memcmp(t, key, tl);
}

static int tok_match_index(const char *t, size_t tl, size_t idx) {
        size_t v = 0, i;
        if (tl == 1 && t[0] == '*')
                return 1;
        if (tl == 0 || tl > 18 || (tl > 1 && t[0] == '0'))
                return 0;
        for (i = 0; i < tl; i++) {
                if (t[i] < '0' || t[i] > '9')
                        return 0;
                v = v * 10 + (size_t)(t[i] - '0');
        }
        return v == idx;
}

typedef uint64_t set_t;

/* The pointers of list (n of them, those of `in` still in play) whose
 * token at depth d matches this member/element; *ends: one of them ends
 * here. */
static set_t matching(const ptr_t *list, size_t n, set_t in, size_t d,
                      const char *key, size_t keylen, size_t idx, int is_index,
                      int *ends) {
        set_t out = 0;
        size_t i;
        *ends = 0;
        for (i = 0; i < n; i++) {
                const ptr_t *x = &list[i];
                int m;
                if (!(in >> i & 1) || d >= x->ntok)
                        continue;
                m = is_index ? tok_match_index(x->tok[d], x->len[d], idx)
                             : tok_match_key(x->tok[d], x->len[d], key, keylen);
                if (!m)
                        continue;
                if (x->ntok == d + 1)
                        *ends = 1;
                out |= (set_t)1 << i;
        }
        return out;
}

/* Child sets for one member/element at depth d. Returns 0 to drop it, 1 to
 * keep it; *full: kept whole (no include restriction below). */
static int step(const pb_projection_t *p, size_t d, int full, set_t inc,
                set_t exc, const char *key, size_t keylen, size_t idx,
                int is_index, int *cfull, set_t *cinc, set_t *cexc) {
        int ends;
        *cfull = full;
        *cinc = 0;
        *cexc = matching(p->exc, p->nexc, exc, d, key, keylen, idx, is_index,
                         &ends);
        if (ends) /* an exclude pointer names this one */
                return 0;
        if (full)
                return 1;
        *cinc = matching(p->inc, p->ninc, inc, d, key, keylen, idx, is_index,
                         &ends);
        if (ends)
                *cfull = 1;
        return *cfull || *cinc;
}

/* Writes v; returns -1 on a buffer error, else the number of children
 * written (for containers under a partial include: 0 = nothing selected,
 * the caller rolls it back). */
static int write_node(const pb_projection_t *p, const pb_json_t *v, size_t d,
                      int full, set_t inc, set_t exc, pb_buf_t *out) {
        const pb_json_t *c;
        size_t idx = 0;
        int n = 0;
        if (v->type != PB_JSON_OBJECT && v->type != PB_JSON_ARRAY) {
                return pb_json_write(v, out) == PB_OK ? 1 : -1;
        }
        if (full && !exc)
                return pb_json_write(v, out) == PB_OK ? 1 : -1;
        if (pb_buf_putc(out, v->type == PB_JSON_OBJECT ? '{' : '[') != PB_OK)
                return -1;
        for (c = v->child; c; c = c->next, idx++) {
                int cfull, keep, r;
                set_t cinc, cexc;
                size_t mark = out->len;
                int is_obj = v->type == PB_JSON_OBJECT;
                if (d == 0 && is_obj &&
                    (tok_match_key("event_id", 8, c->key, c->keylen) ||
                     tok_match_key("type", 4, c->key, c->keylen))) {
                        keep = 1;
                        cfull = 1;
                        cinc = 0;
                        cexc = 0;
                } else {
                        keep = step(p, d, full, inc, exc, c->key, c->keylen,
                                    idx, !is_obj, &cfull, &cinc, &cexc);
                }
                if (!keep)
                        continue;
                if (n && pb_buf_putc(out, ',') != PB_OK)
                        return -1;
                if (is_obj &&
                    (pb_buf_json_str(out, c->key, c->keylen) != PB_OK ||
                     pb_buf_putc(out, ':') != PB_OK))
                        return -1;
                r = write_node(p, c, d + 1, cfull, cinc, cexc, out);
                if (r < 0)
                        return -1;
                if (r == 0 && !cfull) {
                        out->len = mark; /* nothing selected below */
                        if (out->data)
                                out->data[mark] = 0;
                        continue;
                }
                n++;
        }
        if (pb_buf_putc(out, v->type == PB_JSON_OBJECT ? '}' : ']') != PB_OK)
                return -1;
        return full ? (n ? n : 1) : n;
}

pb_resp_t pb_projection_apply(const pb_projection_t *p, const pb_json_t *ev,
                              pb_buf_t *out) {
        set_t inc, exc;
        size_t mark = out->len;
        if (pb_projection_is_identity(p))
                return pb_json_write(ev, out);
        inc = p->ninc >= 64 ? ~(set_t)0 : (((set_t)1 << p->ninc) - 1);
        exc = p->nexc >= 64 ? ~(set_t)0 : (((set_t)1 << p->nexc) - 1);
        if (write_node(p, ev, 0, p->ninc == 0, inc, exc, out) < 0) {
                out->len = mark;
                if (out->data)
                        out->data[mark] = 0;
                return PB_ERR_NOMEM;
        }
        /* the root under a partial include with nothing selected: "{}" */
        if (out->len == mark)
                return pb_buf_puts(out, "{}");
        return PB_OK;
}
