/* partnerbus admin - request bodies: the strict parser of pb_json.h
 * (bounded, rejects duplicate keys and invalid UTF-8), then one validator
 * per kind of body. Every error names the JSON Pointer of the value at
 * fault; a body with any error changes nothing. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_filter.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_adm.h"

#define MAX_STR      1024
#define MAX_ARRAY    256
#define MAX_URL      2048
#define MAX_POINTERS 64 /* per projection list, as the fleet */

void pb_adm_err(pb_adm_errors_t *errs, const char *pointer, const char *fmt,
                ...) {
        va_list ap;
        if (errs->n >= PB_ADM_MAX_ERRORS)
                return;
        snprintf(errs->e[errs->n].pointer, sizeof(errs->e[errs->n].pointer),
                 "%s", pointer);
        va_start(ap, fmt);
        vsnprintf(errs->e[errs->n].message, sizeof(errs->e[errs->n].message),
                  fmt, ap);
        va_end(ap);
        errs->n++;
}

int pb_adm_org_id_valid(const char *s) {
        size_t i, n = s ? strlen(s) : 0;
        if (n < 1 || n > 63)
                return 0;
        if (!(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
                return 0;
        for (i = 1; i < n; i++)
                if (!(islower((unsigned char)s[i]) ||
                      isdigit((unsigned char)s[i]) || s[i] == '-'))
                        return 0;
        return 1;
}

static int name_valid(const char *s, size_t n) {
        size_t i;
        if (n < 1 || n > 100)
                return 0;
        for (i = 0; i < n; i++)
                if (!(isalnum((unsigned char)s[i]) || s[i] == '.' ||
                      s[i] == '_' || s[i] == '-'))
                        return 0;
        return 1;
}

typedef struct ctx {
        pb_adm_errors_t *errs;
        pb_adm_type_known_t *type_known;
        void *opaque;
        cJSON *out;
} ctx_t;

static void ptr_of(char *buf, size_t size, const char *base, const char *tok) {
        snprintf(buf, size, "%s", base);
        pb_pointer_push(buf, size, tok, strlen(tok));
}

/* The members a nested object may have. */
static const char *const read_fields[] = {"type", "where", NULL};
static const char *const retry_fields[] = {"max_elapsed_s", NULL};
static const char *const projection_fields[] = {"include", "exclude", NULL};

/* q gets the pointer of member m of the object at ptr; 1 if its name is
 * one of names, else the error "unknown field" there and 0. */
static int known_member(ctx_t *c, const char *ptr, const pb_json_t *m,
                        const char *const *names, char *q, size_t qsize) {
        snprintf(q, qsize, "%s", ptr);
        pb_pointer_push(q, qsize, m->key, m->keylen);
        for (; *names; names++)
                if (!strcmp(m->key, *names))
                        return 1;
        pb_adm_err(c->errs, q, "unknown field");
        return 0;
}

/* A string without NUL of 1..max bytes, or an error. */
static const char *want_str(ctx_t *c, const pb_json_t *v, const char *ptr,
                            size_t max) {
        if (v->type != PB_JSON_STRING) {
                pb_adm_err(c->errs, ptr, "expected a string, got %s",
                           pb_json_type_name(v->type));
                return NULL;
        }
        if (v->len == 0 || v->len > max || memchr(v->str, 0, v->len)) {
                pb_adm_err(c->errs, ptr,
                           "expected 1 to %zu characters (no NUL)", max);
                return NULL;
        }
        return v->str;
}

static int want_int(ctx_t *c, const pb_json_t *v, const char *ptr, long lo,
                    long hi, long *out) {
        char buf[32], *end;
        long x;
        if (v->type != PB_JSON_NUMBER || v->len >= sizeof(buf) ||
            memchr(v->str, '.', v->len) || memchr(v->str, 'e', v->len) ||
            memchr(v->str, 'E', v->len)) {
                pb_adm_err(c->errs, ptr, "expected a whole number, got %s",
                           pb_json_type_name(v->type));
                return -1;
        }
        memcpy(buf, v->str, v->len);
        buf[v->len] = 0;
        x = strtol(buf, &end, 10);
        if (*end || x < lo || x > hi) {
                pb_adm_err(c->errs, ptr, "expected a number from %ld to %ld",
                           lo, hi);
                return -1;
        }
        *out = x;
        return 0;
}

static int want_type(ctx_t *c, const pb_json_t *v, const char *ptr) {
        const char *t = want_str(c, v, ptr, 128);
        if (!t)
                return -1;
        if (!name_valid(t, v->len) ||
            (c->type_known && !c->type_known(c->opaque, t))) {
                pb_adm_err(c->errs, ptr,
                           "unknown event type '%.80s' (GET /v1/schemas lists "
                           "them)",
                           t);
                return -1;
        }
        return 0;
}

static int want_cond(ctx_t *c, const pb_json_t *v, const char *ptr,
                     pb_filter_t *f) {
        const char *w = want_str(c, v, ptr, PB_FILTER_MAX_EXPR);
        char err[200];
        if (!w)
                return -1;
        if (pb_filter_add(f, w, err, sizeof(err)) != PB_OK) {
                pb_adm_err(c->errs, ptr, "not a --where expression: %s", err);
                return -1;
        }
        return 0;
}

/* A filter: one --where expression, or an array of them (ANDed, as
 * repeated --where). The value as cJSON, NULL after an error. */
static cJSON *where_value(ctx_t *c, const pb_json_t *v, const char *ptr) {
        pb_filter_t *f = pb_filter_new();
        cJSON *out = NULL;
        if (!f) {
                pb_adm_err(c->errs, ptr, "out of memory");
                return NULL;
        }
        if (v->type == PB_JSON_ARRAY) {
                const pb_json_t *e;
                size_t i = 0;
                char p[200];
                int bad = 0;
                if (v->count < 1 || v->count > 16) {
                        pb_adm_err(c->errs, ptr,
                                   "expected 1 to 16 --where expressions");
                        pb_filter_destroy(f);
                        return NULL;
                }
                for (e = v->child; e; e = e->next, i++) {
                        snprintf(p, sizeof(p), "%s", ptr);
                        pb_pointer_push_index(p, sizeof(p), i);
                        if (want_cond(c, e, p, f) < 0)
                                bad = 1;
                }
                if (!bad) {
                        out = cJSON_CreateArray();
                        for (e = v->child; e; e = e->next)
                                cJSON_AddItemToArray(
                                    out, cJSON_CreateString(e->str));
                }
        } else if (want_cond(c, v, ptr, f) == 0) {
                out = cJSON_CreateString(v->str);
        }
        pb_filter_destroy(f);
        return out;
}

/* An array of event types, without duplicates; as a cJSON array. */
static cJSON *types_array(ctx_t *c, const pb_json_t *v, const char *ptr,
                          int nonempty) {
        const pb_json_t *e, *d;
        size_t i = 0;
        char p[160];
        cJSON *a;
        if (v->type != PB_JSON_ARRAY) {
                pb_adm_err(c->errs, ptr, "expected an array of event types");
                return NULL;
        }
        if (v->count > MAX_ARRAY || (nonempty && v->count == 0)) {
                pb_adm_err(c->errs, ptr, "expected %s%d event types at most",
                           nonempty ? "1 to " : "", MAX_ARRAY);
                return NULL;
        }
        a = cJSON_CreateArray();
        for (e = v->child; e; e = e->next, i++) {
                snprintf(p, sizeof(p), "%s", ptr);
                pb_pointer_push_index(p, sizeof(p), i);
                if (want_type(c, e, p) < 0)
                        continue;
                for (d = v->child; d != e; d = d->next)
                        if (d->type == PB_JSON_STRING && d->len == e->len &&
                            !memcmp(d->str, e->str, e->len)) {
                                pb_adm_err(c->errs, p, "duplicate type");
                                break;
                        }
                cJSON_AddItemToArray(a, cJSON_CreateString(e->str));
        }
        return a;
}

static cJSON *pointers_array(ctx_t *c, const pb_json_t *v, const char *ptr) {
        const pb_json_t *e;
        size_t i = 0;
        char p[160];
        cJSON *a;
        if (v->type != PB_JSON_ARRAY || v->count > MAX_POINTERS) {
                pb_adm_err(c->errs, ptr,
                           "expected an array of at most %d JSON Pointers",
                           MAX_POINTERS);
                return NULL;
        }
        a = cJSON_CreateArray();
        for (e = v->child; e; e = e->next, i++) {
                const char *s;
                snprintf(p, sizeof(p), "%s", ptr);
                pb_pointer_push_index(p, sizeof(p), i);
                s = want_str(c, e, p, 512);
                if (!s)
                        continue;
                if (s[0] != '/') {
                        pb_adm_err(c->errs, p,
                                   "expected a JSON Pointer starting with '/'");
                        continue;
                }
                {
                        size_t k, tokens = 0;
                        for (k = 0; k < e->len; k++)
                                tokens += s[k] == '/';
                        if (tokens > 16) {
                                pb_adm_err(c->errs, p,
                                           "at most 16 reference tokens");
                                continue;
                        }
                }
                cJSON_AddItemToArray(a, cJSON_CreateString(s));
        }
        return a;
}

static const char *const kinds[] = {
    "state_government", "municipality", "ngo", "ua_partner",
    "intermediary",     "other",        NULL};

static int in_list(const char *s, const char *const *l) {
        for (; *l; l++)
                if (!strcmp(s, *l))
                        return 1;
        return 0;
}

static cJSON *read_array(ctx_t *c, const pb_json_t *v, const char *ptr) {
        const pb_json_t *e, *m;
        size_t i = 0;
        char p[160], q[200];
        cJSON *a;
        if (v->type != PB_JSON_ARRAY || v->count > MAX_ARRAY) {
                pb_adm_err(c->errs, ptr,
                           "expected an array of {\"type\":...,\"where\":...}");
                return NULL;
        }
        a = cJSON_CreateArray();
        for (e = v->child; e; e = e->next, i++) {
                cJSON *o;
                const pb_json_t *t = pb_json_get(e, "type");
                snprintf(p, sizeof(p), "%s", ptr);
                pb_pointer_push_index(p, sizeof(p), i);
                if (e->type != PB_JSON_OBJECT) {
                        pb_adm_err(c->errs, p, "expected an object");
                        continue;
                }
                for (m = e->child; m; m = m->next)
                        known_member(c, p, m, read_fields, q, sizeof(q));
                ptr_of(q, sizeof(q), p, "type");
                if (!t) {
                        pb_adm_err(c->errs, q, "required");
                        continue;
                }
                if (want_type(c, t, q) < 0)
                        continue;
                o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "type", t->str);
                if ((t = pb_json_get(e, "where"))) {
                        cJSON *w;
                        ptr_of(q, sizeof(q), p, "where");
                        if ((w = where_value(c, t, q)))
                                cJSON_AddItemToObject(o, "where", w);
                }
                cJSON_AddItemToArray(a, o);
        }
        for (i = 0, e = v->child; e; e = e->next, i++) {
                const pb_json_t *d, *te = pb_json_get(e, "type"), *td;
                if (!te || te->type != PB_JSON_STRING)
                        continue;
                for (d = v->child; d != e; d = d->next)
                        if ((td = pb_json_get(d, "type")) &&
                            td->type == PB_JSON_STRING &&
                            !strcmp(td->str, te->str)) {
                                snprintf(p, sizeof(p), "%s", ptr);
                                pb_pointer_push_index(p, sizeof(p), i);
                                pb_adm_err(c->errs, p, "duplicate type");
                                break;
                        }
        }
        return a;
}

static void add(ctx_t *c, const char *name, cJSON *v) {
        if (v)
                cJSON_AddItemToObject(c->out, name, v);
}

/* The members a kind allows. */
static const char *const org_create_f[] = {"id",      "name", "kind",
                                           "publish", "read", NULL};
static const char *const org_patch_f[] = {"name", "kind",     "publish",
                                          "read", "disabled", NULL};
static const char *const token_f[] = {"name", "role", NULL};
static const char *const sub_f[] = {
    "name",       "topics",    "endpoint",   "where",
    "projection", "agreement", "batch_size", "rate_limit_per_s",
    "retry",      "bearer",    NULL};
static const char *const sub_patch_f[] = {
    "topics",     "endpoint",         "where", "projection", "agreement",
    "batch_size", "rate_limit_per_s", "retry", "bearer",     NULL};
static const char *const retransmit_f[] = {"from", NULL};
static const char *const none_f[] = {NULL};

static void member(ctx_t *c, pb_adm_body_kind_t kind, const pb_json_t *m) {
        char p[160];
        const char *s;
        long x;
        p[0] = 0;
        pb_pointer_push(p, sizeof(p), m->key, m->keylen);
        if (!strcmp(m->key, "id")) {
                if ((s = want_str(c, m, p, 63)) && !pb_adm_org_id_valid(s))
                        pb_adm_err(c->errs, p,
                                   "expected ^[a-z0-9][a-z0-9-]{0,62}$");
                else if (s)
                        add(c, "id", cJSON_CreateString(s));
        } else if (!strcmp(m->key, "name")) {
                if (kind == PB_ADM_BODY_ORG_CREATE ||
                    kind == PB_ADM_BODY_ORG_PATCH) {
                        if ((s = want_str(c, m, p, 200)))
                                add(c, "name", cJSON_CreateString(s));
                } else if ((s = want_str(c, m, p, 100))) {
                        if (!name_valid(s, m->len))
                                pb_adm_err(c->errs, p,
                                           "letters, digits, '.', '_' and "
                                           "'-' only");
                        else
                                add(c, "name", cJSON_CreateString(s));
                }
        } else if (!strcmp(m->key, "kind")) {
                if ((s = want_str(c, m, p, 64)) && !in_list(s, kinds))
                        pb_adm_err(c->errs, p,
                                   "expected one of state_government, "
                                   "municipality, ngo, ua_partner, "
                                   "intermediary, other");
                else if (s)
                        add(c, "kind", cJSON_CreateString(s));
        } else if (!strcmp(m->key, "publish")) {
                add(c, "publish", types_array(c, m, p, 0));
        } else if (!strcmp(m->key, "topics")) {
                add(c, "topics", types_array(c, m, p, 1));
        } else if (!strcmp(m->key, "read")) {
                add(c, "read", read_array(c, m, p));
        } else if (!strcmp(m->key, "disabled")) {
                if (m->type != PB_JSON_TRUE && m->type != PB_JSON_FALSE)
                        pb_adm_err(c->errs, p, "expected a boolean, got %s",
                                   pb_json_type_name(m->type));
                else
                        add(c, "disabled",
                            cJSON_CreateBool(m->type == PB_JSON_TRUE));
        } else if (!strcmp(m->key, "role")) {
                static const char *const roles[] = {"publisher", "subscriber",
                                                    "org-admin", NULL};
                if ((s = want_str(c, m, p, 32)) && !in_list(s, roles))
                        pb_adm_err(c->errs, p,
                                   "expected publisher, subscriber or "
                                   "org-admin");
                else if (s)
                        add(c, "role", cJSON_CreateString(s));
        } else if (!strcmp(m->key, "endpoint")) {
                if ((s = want_str(c, m, p, MAX_URL)))
                        add(c, "endpoint", cJSON_CreateString(s));
        } else if (!strcmp(m->key, "where")) {
                if (m->type == PB_JSON_NULL)
                        add(c, "where", cJSON_CreateNull());
                else
                        add(c, "where", where_value(c, m, p));
        } else if (!strcmp(m->key, "agreement")) {
                if (m->type == PB_JSON_NULL)
                        add(c, "agreement", cJSON_CreateNull());
                else if ((s = want_str(c, m, p, 128)))
                        add(c, "agreement", cJSON_CreateString(s));
        } else if (!strcmp(m->key, "bearer")) {
                if (m->type == PB_JSON_NULL)
                        add(c, "bearer", cJSON_CreateNull());
                else if ((s = want_str(c, m, p, 4096)))
                        add(c, "bearer", cJSON_CreateString(s));
        } else if (!strcmp(m->key, "batch_size")) {
                if (want_int(c, m, p, 1, 1000, &x) == 0)
                        add(c, "batch_size", cJSON_CreateNumber((double)x));
        } else if (!strcmp(m->key, "rate_limit_per_s")) {
                if (want_int(c, m, p, 0, 100000, &x) == 0)
                        add(c, "rate_limit_per_s",
                            cJSON_CreateNumber((double)x));
        } else if (!strcmp(m->key, "retry")) {
                const pb_json_t *r;
                char q[200];
                if (m->type != PB_JSON_OBJECT) {
                        pb_adm_err(c->errs, p, "expected an object");
                        return;
                }
                for (r = m->child; r; r = r->next) {
                        if (!known_member(c, p, r, retry_fields, q, sizeof(q)))
                                continue;
                        if (want_int(c, r, q, 1, 30L * 86400, &x) == 0) {
                                cJSON *o = cJSON_CreateObject();
                                cJSON_AddNumberToObject(o, "max_elapsed_s",
                                                        (double)x);
                                add(c, "retry", o);
                        }
                }
        } else if (!strcmp(m->key, "projection")) {
                const pb_json_t *r;
                char q[200];
                cJSON *o;
                if (m->type != PB_JSON_OBJECT) {
                        pb_adm_err(c->errs, p, "expected an object");
                        return;
                }
                o = cJSON_CreateObject();
                for (r = m->child; r; r = r->next) {
                        cJSON *a;
                        if (known_member(c, p, r, projection_fields, q,
                                         sizeof(q)) &&
                            (a = pointers_array(c, r, q)))
                                cJSON_AddItemToObject(o, r->key, a);
                }
                add(c, "projection", o);
        } else if (!strcmp(m->key, "from")) {
                int64_t ms;
                if ((s = want_str(c, m, p, 64)) &&
                    pb_rfc3339_parse(s, m->len, &ms) != 0)
                        pb_adm_err(c->errs, p,
                                   "expected an RFC 3339 time, e.g. "
                                   "2026-12-01T00:00:00.000Z");
                else if (s) {
                        char t[40];
                        pb_rfc3339_format(ms, t, sizeof(t));
                        add(c, "from", cJSON_CreateString(t));
                }
        }
}

cJSON *pb_adm_body_parse(pb_adm_body_kind_t kind, const char *text, size_t len,
                         pb_adm_type_known_t *type_known, void *opaque,
                         pb_adm_errors_t *errs) {
        static const char *const *const fields[] = {
            org_create_f, org_patch_f,  token_f, sub_f,
            sub_patch_f,  retransmit_f, none_f};
        static const char *const req_org[] = {"id", "name", "kind", NULL};
        static const char *const req_token[] = {"name", "role", NULL};
        static const char *const req_sub[] = {"name", "topics", "endpoint",
                                              NULL};
        static const char *const req_rt[] = {"from", NULL};
        static const char *const req_none[] = {NULL};
        static const char *const *const required[] = {
            req_org, req_none, req_token, req_sub, req_none, req_rt, req_none};
        pb_json_limits_t lim = {16, 4096};
        pb_json_parser_t *jp;
        const pb_json_t *root, *m;
        char err[160];
        const char *const *f;
        ctx_t c;
        errs->n = 0;
        if ((unsigned)kind > PB_ADM_BODY_EMPTY)
                return NULL;
        if (kind == PB_ADM_BODY_EMPTY || kind == PB_ADM_BODY_ORG_PATCH ||
            kind == PB_ADM_BODY_SUB_PATCH) {
                size_t i;
                for (i = 0; i < len && isspace((unsigned char)text[i]); i++)
                        ;
                if (i == len) {
                        if (kind == PB_ADM_BODY_EMPTY)
                                return cJSON_CreateObject();
                        pb_adm_err(errs, "", "expected a JSON object");
                        return NULL;
                }
        }
        jp = pb_json_parser_new(&lim);
        if (!jp) {
                pb_adm_err(errs, "", "out of memory");
                return NULL;
        }
        root = pb_json_parse(jp, text, len, err, sizeof(err));
        if (!root) {
                pb_adm_err(errs, "", "not valid JSON: %s", err);
                pb_json_parser_destroy(jp);
                return NULL;
        }
        if (root->type != PB_JSON_OBJECT) {
                pb_adm_err(errs, "", "expected a JSON object, got %s",
                           pb_json_type_name(root->type));
                pb_json_parser_destroy(jp);
                return NULL;
        }
        memset(&c, 0, sizeof(c));
        c.errs = errs;
        c.type_known = type_known;
        c.opaque = opaque;
        c.out = cJSON_CreateObject();
        for (m = root->child; m; m = m->next) {
                char p[160];
                int known = 0;
                p[0] = 0;
                pb_pointer_push(p, sizeof(p), m->key, m->keylen);
                if (memchr(m->key, 0, m->keylen)) {
                        pb_adm_err(errs, p, "unknown field");
                        continue;
                }
                for (f = fields[kind]; *f; f++)
                        if (!strcmp(*f, m->key))
                                known = 1;
                if (!known) {
                        pb_adm_err(errs, p, "unknown field");
                        continue;
                }
                member(&c, kind, m);
        }
        for (f = required[kind]; *f; f++)
                if (!pb_json_get(root, *f)) {
                        char p[160] = "";
                        pb_pointer_push(p, sizeof(p), *f, strlen(*f));
                        pb_adm_err(errs, p, "required");
                }
        if ((kind == PB_ADM_BODY_ORG_PATCH || kind == PB_ADM_BODY_SUB_PATCH) &&
            root->count == 0)
                pb_adm_err(errs, "", "nothing to change");
        pb_json_parser_destroy(jp);
        if (errs->n || !c.out) {
                if (!errs->n)
                        pb_adm_err(errs, "", "out of memory");
                cJSON_Delete(c.out);
                return NULL;
        }
        return c.out;
}
