/* partnerbus - compiling Avro schema JSON into the pb_type_t tree
 * (pb_schema_int.h): names and namespaces, named references, logical
 * types, unions, partnerbus.* attributes. Defaults are encoded by
 * pb_schema_default.c, the canonical form by pb_canonical.c.
 *
 * Everything a schema owns is freed by pb_schema_destroy(): every type node
 * is listed in s->all exactly once (named types are referenced, not copied).
 * Parse errors never leak: a half-built schema is destroyed the same way. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_schema_priv.h"

static const char *const pb_primitives[] = {
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
};

int pb_sparse_fail(pb_sparse_t *p, const char *where, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        if (p->err && p->err[0])
                return -1; /* keep the first (innermost) error */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (p->err && p->errsize) {
                if (where && *where)
                        snprintf(p->err, p->errsize, "%s: %s", where, msg);
                else
                        snprintf(p->err, p->errsize, "%s", msg);
        }
        return -1;
}

static int pb_primitive_kind(const char *name, pb_kind_t *kind) {
        size_t i;
        for (i = 0; i < sizeof(pb_primitives) / sizeof(pb_primitives[0]); i++)
                if (!strcmp(name, pb_primitives[i])) {
                        *kind = (pb_kind_t)i; /* same order as pb_kind_t */
                        return 1;
                }
        return 0;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static int pb_valid_name(const char *s, size_t n) {
        size_t i;
        if (n == 0)
                return 0;
        for (i = 0; i < n; i++) {
                char c = s[i];
                int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            c == '_';
                if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
                        return 0;
        }
        return 1;
}

/* name(.name)* ; the empty string is the null namespace. */
static int pb_valid_dotted(const char *s) {
        const char *dot;
        if (!*s)
                return 1;
        while ((dot = strchr(s, '.'))) {
                if (!pb_valid_name(s, (size_t)(dot - s)))
                        return 0;
                s = dot + 1;
        }
        return pb_valid_name(s, strlen(s));
}

int pb_type_field_index(const pb_type_t *rec, const char *name, size_t len) {
        size_t i;
        if (!rec || rec->kind != PB_T_RECORD || !name)
                return -1;
        for (i = 0; i < rec->nfields; i++)
                if (rec->fields[i].namelen == len &&
                    !memcmp(rec->fields[i].name, name, len))
                        return (int)i;
        return -1;
}

static pb_type_t *pb_type_alloc(pb_sparse_t *p, pb_kind_t kind,
                                const char *where) {
        pb_schema_t *s = p->s;
        pb_type_t *t = NULL;
        if (s->nall >= PB_SCHEMA_MAX_TYPES) {
                pb_sparse_fail(p, where, "more than %d types",
                               PB_SCHEMA_MAX_TYPES);
                return NULL;
        }
        if (PB_ARRAY_RESERVE(s->all, s->capall, s->nall, 1, 16) ||
            !(t = calloc(1, sizeof(*t)))) {
                pb_sparse_fail(p, where, "out of memory");
                return NULL;
        }
        t->kind = kind;
        t->enum_default = -1;
        t->null_branch = -1;
        s->all[s->nall++] = t;
        return t;
}

static void pb_strv_free(char **v, size_t n) {
        size_t i;
        for (i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static void pb_type_free(pb_type_t *t) {
        size_t i;
        if (!t)
                return;
        free(t->name);
        free(t->fullname);
        pb_strv_free(t->aliases, t->naliases);
        for (i = 0; i < t->nfields; i++) {
                pb_field_t *f = &t->fields[i];
                free(f->name);
                free(f->doc);
                pb_strv_free(f->aliases, f->naliases);
                free(f->default_avro);
        }
        free(t->fields);
        pb_strv_free(t->symbols, t->nsymbols);
        free(t->branches);
        free(t);
}

void pb_schema_destroy(pb_schema_t *s) {
        size_t i;
        if (!s)
                return;
        for (i = 0; i < s->nall; i++)
                pb_type_free(s->all[i]);
        free(s->all);
        free(s->type);
        free(s->key_field);
        free(s->json);
        free(s->canonical);
        free(s);
}

/* --- small JSON helpers --- */

static const cJSON *pb_jget(const cJSON *o, const char *key) {
        return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int pb_strp_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *pb_schema_find_dup(const char **v, size_t n) {
        size_t i;
        if (n < 2)
                return NULL;
        qsort(v, n, sizeof(*v), pb_strp_cmp); /* O(n log n), not n^2 */
        for (i = 1; i < n; i++)
                if (!strcmp(v[i - 1], v[i]))
                        return v[i];
        return NULL;
}

const char *pb_schema_json_dup_key(const cJSON *o, int *nomem) {
        const cJSON *e;
        const char **v, *d;
        size_t n = 0;
        *nomem = 0;
        for (e = o->child; e; e = e->next)
                n++;
        if (n < 2)
                return NULL;
        v = malloc(n * sizeof(*v));
        if (!v) {
                *nomem = 1;
                return NULL;
        }
        n = 0;
        for (e = o->child; e; e = e->next)
                v[n++] = e->string ? e->string : "";
        d = pb_schema_find_dup(v, n);
        free(v);
        return d; /* points into o */
}

/* A schema object may not repeat a key (cJSON would keep both and we
 * would silently read the first). */
static int pb_check_dup_keys(pb_sparse_t *p, const cJSON *o,
                             const char *where) {
        int nomem;
        const char *d = pb_schema_json_dup_key(o, &nomem);
        if (nomem)
                return pb_sparse_fail(p, where, "out of memory");
        if (d)
                return pb_sparse_fail(p, where, "duplicate key \"%s\"", d);
        return 0;
}

/* An integral JSON number in [lo, hi] into *v; 0 ok, -1 if not. */
static int pb_jint(const cJSON *j, double lo, double hi, long *v) {
        double d;
        if (!cJSON_IsNumber(j))
                return -1;
        d = j->valuedouble;
        if (!isfinite(d) || d != floor(d) || d < lo || d > hi)
                return -1;
        *v = (long)d;
        return 0;
}

static char *pb_strdup_fail(pb_sparse_t *p, const char *s, const char *where) {
        char *d = strdup(s);
        if (!d)
                pb_sparse_fail(p, where, "out of memory");
        return d;
}

/* "ns" + "." + "name", or "name" for the null namespace. */
static char *pb_join_name(const char *ns, const char *name) {
        size_t a = ns ? strlen(ns) : 0, b = strlen(name);
        char *r = malloc(a + b + 2);
        if (!r)
                return NULL;
        if (a) {
                memcpy(r, ns, a);
                r[a] = '.';
                memcpy(r + a + 1, name, b + 1);
        } else {
                memcpy(r, name, b + 1);
        }
        return r;
}

static pb_type_t *pb_find_named(pb_sparse_t *p, const char *fullname) {
        size_t i;
        for (i = 0; i < p->nnamed; i++)
                if (!strcmp(p->named[i]->fullname, fullname))
                        return p->named[i];
        return NULL;
}

/* A reference "Name" or "a.b.Name": a dotted name is a full name; a simple
 * one is looked up in the enclosing namespace, then in the null one (as
 * the Java implementation does). */
static pb_type_t *pb_resolve_ref(pb_sparse_t *p, const char *ref,
                                 const char *ns) {
        pb_type_t *t;
        char *full;
        if (strchr(ref, '.') || !ns || !*ns)
                return pb_find_named(p, ref);
        full = pb_join_name(ns, ref);
        if (!full)
                return NULL;
        t = pb_find_named(p, full);
        free(full);
        return t ? t : pb_find_named(p, ref);
}

static pb_type_t *pb_parse_type(pb_sparse_t *p, const cJSON *j, const char *ns,
                                const char *where, int depth);

/* Copies the simple names of j (an array, may be NULL) after validation;
 * with ns_for_full != NULL (named types) they become full names. */
static int pb_parse_aliases(pb_sparse_t *p, const cJSON *j, int named,
                            const char *ns, char ***out, size_t *nout,
                            const char *where) {
        const cJSON *e;
        size_t n, i = 0;
        if (!j)
                return 0;
        if (!cJSON_IsArray(j))
                return pb_sparse_fail(p, where, "aliases must be an array");
        n = (size_t)cJSON_GetArraySize(j);
        if (n == 0)
                return 0;
        *out = calloc(n, sizeof(char *));
        if (!*out)
                return pb_sparse_fail(p, where, "out of memory");
        cJSON_ArrayForEach(e, j) {
                const char *a;
                if (!cJSON_IsString(e))
                        return pb_sparse_fail(p, where,
                                              "an alias must be a string");
                a = e->valuestring;
                if (named ? !pb_valid_dotted(a) || !*a
                          : !pb_valid_name(a, strlen(a)))
                        return pb_sparse_fail(p, where, "invalid alias \"%s\"",
                                              a);
                (*out)[i] =
                    named && !strchr(a, '.') ? pb_join_name(ns, a) : strdup(a);
                if (!(*out)[i])
                        return pb_sparse_fail(p, where, "out of memory");
                *nout = ++i;
        }
        return 0;
}

/* Name, namespace, full name, aliases of a record/enum/fixed; registers
 * it so that later (and recursive) references find it. *ns_out receives
 * the namespace its children inherit (points into t->fullname's copy). */
static int pb_parse_name(pb_sparse_t *p, pb_type_t *t, const cJSON *j,
                         const char *ns, char **ns_out, const char *where) {
        const cJSON *jn = pb_jget(j, "name"), *jns = pb_jget(j, "namespace");
        const char *name, *dot;
        pb_kind_t prim;
        if (!cJSON_IsString(jn))
                return pb_sparse_fail(p, where,
                                      "a named type needs a string \"name\"");
        name = jn->valuestring;
        if (!pb_valid_dotted(name) || !*name)
                return pb_sparse_fail(p, where, "invalid name \"%s\"", name);
        if (jns && !cJSON_IsString(jns) && !cJSON_IsNull(jns))
                return pb_sparse_fail(p, where, "namespace must be a string");
        if ((dot = strrchr(name, '.'))) {
                t->fullname = strdup(name);
                t->name = strdup(dot + 1);
                *ns_out = strndup(name, (size_t)(dot - name));
        } else {
                if (cJSON_IsString(jns)) {
                        if (!pb_valid_dotted(jns->valuestring))
                                return pb_sparse_fail(
                                    p, where, "invalid namespace \"%s\"",
                                    jns->valuestring);
                        ns = jns->valuestring;
                } else if (cJSON_IsNull(jns)) {
                        ns = "";
                }
                t->fullname = pb_join_name(ns, name);
                t->name = strdup(name);
                *ns_out = strdup(ns ? ns : "");
        }
        if (!t->fullname || !t->name || !*ns_out)
                return pb_sparse_fail(p, where, "out of memory");
        if (pb_primitive_kind(t->fullname, &prim))
                return pb_sparse_fail(
                    p, where, "\"%s\" is a primitive type name", t->fullname);
        if (pb_find_named(p, t->fullname))
                return pb_sparse_fail(p, where, "type %s is defined twice",
                                      t->fullname);
        if (pb_parse_aliases(p, pb_jget(j, "aliases"), 1, *ns_out, &t->aliases,
                             &t->naliases, where))
                return -1;
        if (PB_ARRAY_RESERVE(p->named, p->capnamed, p->nnamed, 1, 8))
                return pb_sparse_fail(p, where, "out of memory");
        p->named[p->nnamed++] = t;
        return 0;
}

static int pb_add_pending(pb_sparse_t *p, pb_field_t *f, const cJSON *j,
                          const char *where) {
        if (PB_ARRAY_RESERVE(p->defs, p->capdefs, p->ndefs, 1, 16))
                return pb_sparse_fail(p, where, "out of memory");
        p->defs[p->ndefs].field = f;
        p->defs[p->ndefs].json = j;
        p->defs[p->ndefs].where = strdup(where);
        if (!p->defs[p->ndefs].where)
                return pb_sparse_fail(p, where, "out of memory");
        p->ndefs++;
        return 0;
}

static int pb_parse_fields(pb_sparse_t *p, pb_type_t *t, const cJSON *j,
                           const char *ns, int depth) {
        const cJSON *jf = pb_jget(j, "fields"), *e;
        char where[512];
        size_t n;
        if (!cJSON_IsArray(jf))
                return pb_sparse_fail(p, t->fullname,
                                      "a record needs a \"fields\" array");
        n = (size_t)cJSON_GetArraySize(jf);
        if (n == 0)
                return 0;
        t->fields = calloc(n, sizeof(pb_field_t));
        if (!t->fields)
                return pb_sparse_fail(p, t->fullname, "out of memory");
        cJSON_ArrayForEach(e, jf) {
                pb_field_t *f = &t->fields[t->nfields];
                const cJSON *jn, *jt, *jd, *jo, *jdoc;
                if (!cJSON_IsObject(e))
                        return pb_sparse_fail(p, t->fullname,
                                              "a field must be an object");
                jn = pb_jget(e, "name");
                if (!cJSON_IsString(jn) ||
                    !pb_valid_name(jn->valuestring, strlen(jn->valuestring)))
                        return pb_sparse_fail(
                            p, t->fullname, "field %zu has %s", t->nfields,
                            cJSON_IsString(jn) ? "an invalid name"
                                               : "no string \"name\"");
                snprintf(where, sizeof(where), "%s/%s", t->fullname,
                         jn->valuestring);
                if (pb_check_dup_keys(p, e, where))
                        return -1;
                f->name = pb_strdup_fail(p, jn->valuestring, where);
                if (!f->name)
                        return -1;
                f->namelen = strlen(f->name);
                t->nfields++; /* from here on f is freed with t */
                jdoc = pb_jget(e, "doc");
                if (jdoc && !cJSON_IsString(jdoc))
                        return pb_sparse_fail(p, where, "doc must be a string");
                if (jdoc &&
                    !(f->doc = pb_strdup_fail(p, jdoc->valuestring, where)))
                        return -1;
                jo = pb_jget(e, "order");
                if (jo && (!cJSON_IsString(jo) ||
                           (strcmp(jo->valuestring, "ascending") &&
                            strcmp(jo->valuestring, "descending") &&
                            strcmp(jo->valuestring, "ignore"))))
                        return pb_sparse_fail(
                            p, where,
                            "order must be ascending, descending or ignore");
                if (pb_parse_aliases(p, pb_jget(e, "aliases"), 0, NULL,
                                     &f->aliases, &f->naliases, where))
                        return -1;
                jt = pb_jget(e, "type");
                if (!jt)
                        return pb_sparse_fail(p, where, "field has no type");
                f->type = pb_parse_type(p, jt, ns, where, depth + 1);
                if (!f->type)
                        return -1;
                jd = pb_jget(e, "default");
                if (jd) {
                        f->has_default = 1;
                        if (p->strict && pb_add_pending(p, f, jd, where))
                                return -1;
                }
        }
        {
                const char **v = malloc(t->nfields * sizeof(*v)), *d;
                size_t i;
                if (!v)
                        return pb_sparse_fail(p, t->fullname, "out of memory");
                for (i = 0; i < t->nfields; i++)
                        v[i] = t->fields[i].name;
                d = pb_schema_find_dup(v, t->nfields);
                if (d) {
                        snprintf(where, sizeof(where), "%s/%s", t->fullname, d);
                        free(v);
                        return pb_sparse_fail(p, where, "field defined twice");
                }
                free(v);
        }
        return 0;
}

static int pb_parse_symbols(pb_sparse_t *p, pb_type_t *t, const cJSON *j) {
        const cJSON *js = pb_jget(j, "symbols"), *e, *jd;
        size_t n, i;
        if (!cJSON_IsArray(js))
                return pb_sparse_fail(p, t->fullname,
                                      "an enum needs a \"symbols\" array");
        n = (size_t)cJSON_GetArraySize(js);
        if (n > 0) {
                t->symbols = calloc(n, sizeof(char *));
                if (!t->symbols)
                        return pb_sparse_fail(p, t->fullname, "out of memory");
        }
        cJSON_ArrayForEach(e, js) {
                if (!cJSON_IsString(e) ||
                    !pb_valid_name(e->valuestring, strlen(e->valuestring)))
                        return pb_sparse_fail(
                            p, t->fullname, "invalid enum symbol%s%s",
                            cJSON_IsString(e) ? " " : "",
                            cJSON_IsString(e) ? e->valuestring : "");
                t->symbols[t->nsymbols] =
                    pb_strdup_fail(p, e->valuestring, t->fullname);
                if (!t->symbols[t->nsymbols])
                        return -1;
                t->nsymbols++;
        }
        if (t->nsymbols > 1) {
                const char **v = malloc(t->nsymbols * sizeof(*v)), *d;
                if (!v)
                        return pb_sparse_fail(p, t->fullname, "out of memory");
                memcpy(v, t->symbols, t->nsymbols * sizeof(*v));
                d = pb_schema_find_dup(v, t->nsymbols);
                if (d) {
                        pb_sparse_fail(p, t->fullname, "duplicate symbol %s",
                                       d);
                        free(v);
                        return -1;
                }
                free(v);
        }
        jd = pb_jget(j, "default");
        if (jd) {
                if (!cJSON_IsString(jd))
                        return pb_sparse_fail(p, t->fullname,
                                              "enum default must be a "
                                              "symbol string");
                for (i = 0; i < t->nsymbols; i++)
                        if (!strcmp(t->symbols[i], jd->valuestring))
                                break;
                if (i == t->nsymbols)
                        return pb_sparse_fail(
                            p, t->fullname,
                            "enum default %s is not one of its symbols",
                            jd->valuestring);
                t->enum_default = (int)i;
        }
        return 0;
}

/* Most decimal digits a two's-complement number of n bytes holds. */
static long pb_fixed_max_precision(size_t n) {
        if (n == 0)
                return 0;
        if (n > 32)
                return 1000; /* more than any precision we accept */
        return (long)floor((8.0 * (double)n - 1.0) * log10(2.0));
}

/* logicalType on a primitive or fixed. Invalid or unknown ones are ignored
 * (the type is read as its underlying type), as the Avro spec says; only a
 * decimal precision beyond what the codec supports is an error. */
static int pb_parse_logical(pb_sparse_t *p, pb_type_t *t, const cJSON *j,
                            const char *where) {
        const cJSON *jl = pb_jget(j, "logicalType");
        const char *l;
        if (!cJSON_IsString(jl))
                return 0;
        l = jl->valuestring;
        if (!strcmp(l, "decimal") &&
            (t->kind == PB_T_BYTES || t->kind == PB_T_FIXED)) {
                long prec, scale = 0;
                const cJSON *jp = pb_jget(j, "precision"),
                            *js = pb_jget(j, "scale");
                if (pb_jint(jp, 1, 1e9, &prec))
                        return 0;
                if (js && pb_jint(js, 0, 1e9, &scale))
                        return 0;
                if (scale > prec)
                        return 0;
                if (t->kind == PB_T_FIXED &&
                    prec > pb_fixed_max_precision(t->size))
                        return 0;
                if (prec > PB_DECIMAL_MAX_PRECISION)
                        return pb_sparse_fail(p, where,
                                              "decimal precision %ld is "
                                              "above the supported %d",
                                              prec, PB_DECIMAL_MAX_PRECISION);
                t->logical = PB_L_DECIMAL;
                t->precision = (int)prec;
                t->scale = (int)scale;
        } else if (!strcmp(l, "date") && t->kind == PB_T_INT) {
                t->logical = PB_L_DATE;
        } else if (!strcmp(l, "time-millis") && t->kind == PB_T_INT) {
                t->logical = PB_L_TIME_MILLIS;
        } else if (!strcmp(l, "timestamp-millis") && t->kind == PB_T_LONG) {
                t->logical = PB_L_TIMESTAMP_MILLIS;
        } else if (!strcmp(l, "timestamp-micros") && t->kind == PB_T_LONG) {
                t->logical = PB_L_TIMESTAMP_MICROS;
        } else if (!strcmp(l, "uuid") && t->kind == PB_T_STRING) {
                t->logical = PB_L_UUID;
        }
        return 0;
}

const char *pb_schema_kind_name(pb_kind_t k) {
        static const char *const names[] = {
            "null",   "boolean", "int",  "long",  "float", "double", "bytes",
            "string", "record",  "enum", "array", "map",   "union",  "fixed"};
        if ((unsigned)k >= sizeof(names) / sizeof(names[0]))
                return "?";
        return names[k];
}

static const char *pb_branch_desc(const pb_type_t *b) {
        return b->fullname ? b->fullname : pb_schema_kind_name(b->kind);
}

static pb_type_t *pb_parse_union(pb_sparse_t *p, const cJSON *j, const char *ns,
                                 const char *where, int depth) {
        pb_type_t *t = pb_type_alloc(p, PB_T_UNION, where);
        const cJSON *e;
        size_t n, i;
        if (!t)
                return NULL;
        n = (size_t)cJSON_GetArraySize(j);
        if (n == 0 && p->strict) {
                pb_sparse_fail(p, where, "a union needs at least one branch");
                return NULL;
        }
        if (n > 0 && !(t->branches = calloc(n, sizeof(pb_type_t *)))) {
                pb_sparse_fail(p, where, "out of memory");
                return NULL;
        }
        cJSON_ArrayForEach(e, j) {
                pb_type_t *b;
                if (cJSON_IsArray(e)) {
                        pb_sparse_fail(p, where,
                                       "a union may not contain a union");
                        return NULL;
                }
                b = pb_parse_type(p, e, ns, where, depth + 1);
                if (!b)
                        return NULL;
                if (b->kind == PB_T_NULL)
                        t->null_branch = (int)t->nbranches;
                t->branches[t->nbranches++] = b;
        }
        if (t->nbranches > 1) {
                /* two branches of one unnamed kind, or one name twice */
                static const char *const kinds[] = {
                    "#null",   "#boolean", "#int",    "#long",   "#float",
                    "#double", "#bytes",   "#string", "#record", "#enum",
                    "#array",  "#map",     "#union",  "#fixed"};
                const char **v = malloc(t->nbranches * sizeof(*v)), *d;
                if (!v) {
                        pb_sparse_fail(p, where, "out of memory");
                        return NULL;
                }
                for (i = 0; i < t->nbranches; i++)
                        v[i] = t->branches[i]->fullname
                                   ? t->branches[i]->fullname
                                   : kinds[t->branches[i]->kind];
                d = pb_schema_find_dup(v, t->nbranches);
                if (d)
                        pb_sparse_fail(p, where, "union has two %s branches",
                                       d[0] == '#' ? d + 1 : d);
                free(v);
                if (d)
                        return NULL;
        }
        return t;
}

static pb_type_t *pb_parse_object(pb_sparse_t *p, const cJSON *j,
                                  const char *ns, const char *where,
                                  int depth) {
        const cJSON *jt = pb_jget(j, "type");
        const char *tn;
        pb_kind_t kind;
        pb_type_t *t;
        if (pb_check_dup_keys(p, j, where))
                return NULL;
        if (!cJSON_IsString(jt)) {
                pb_sparse_fail(p, where,
                               "a schema object needs a string "
                               "\"type\"");
                return NULL;
        }
        tn = jt->valuestring;
        if (pb_primitive_kind(tn, &kind)) {
                t = pb_type_alloc(p, kind, where);
                if (!t || pb_parse_logical(p, t, j, where))
                        return NULL;
                return t;
        }
        if (!strcmp(tn, "record") || !strcmp(tn, "error") ||
            !strcmp(tn, "enum") || !strcmp(tn, "fixed")) {
                char *cns = NULL;
                const cJSON *jdoc = pb_jget(j, "doc");
                kind = tn[0] == 'e' && tn[1] == 'n'
                           ? PB_T_ENUM
                           : (tn[0] == 'f' ? PB_T_FIXED : PB_T_RECORD);
                t = pb_type_alloc(p, kind, where);
                if (!t)
                        return NULL;
                if (pb_parse_name(p, t, j, ns, &cns, where)) {
                        free(cns);
                        return NULL;
                }
                if (jdoc && !cJSON_IsString(jdoc)) {
                        free(cns);
                        pb_sparse_fail(p, t->fullname, "doc must be a string");
                        return NULL;
                }
                if (kind == PB_T_RECORD) {
                        int rc = pb_parse_fields(p, t, j, cns, depth);
                        free(cns);
                        return rc ? NULL : t;
                }
                free(cns);
                if (kind == PB_T_ENUM)
                        return pb_parse_symbols(p, t, j) ? NULL : t;
                {
                        long size;
                        if (pb_jint(pb_jget(j, "size"), 0, PB_SCHEMA_MAX_FIXED,
                                    &size)) {
                                pb_sparse_fail(p, t->fullname,
                                               "fixed needs an integer "
                                               "\"size\" in 0..%u",
                                               PB_SCHEMA_MAX_FIXED);
                                return NULL;
                        }
                        t->size = (size_t)size;
                        if (pb_parse_logical(p, t, j, t->fullname))
                                return NULL;
                        return t;
                }
        }
        if (!strcmp(tn, "array") || !strcmp(tn, "map")) {
                int arr = tn[0] == 'a';
                const cJSON *ji = pb_jget(j, arr ? "items" : "values");
                t = pb_type_alloc(p, arr ? PB_T_ARRAY : PB_T_MAP, where);
                if (!t)
                        return NULL;
                if (!ji) {
                        pb_sparse_fail(p, where, "%s needs \"%s\"", tn,
                                       arr ? "items" : "values");
                        return NULL;
                }
                t->items = pb_parse_type(p, ji, ns, where, depth + 1);
                return t->items ? t : NULL;
        }
        /* {"type": "SomeNamedType"}: a reference written as an object */
        t = pb_resolve_ref(p, tn, ns);
        if (!t)
                pb_sparse_fail(p, where, "unknown type \"%s\"", tn);
        return t;
}

static pb_type_t *pb_parse_type(pb_sparse_t *p, const cJSON *j, const char *ns,
                                const char *where, int depth) {
        if (depth > PB_SCHEMA_MAX_DEPTH) {
                pb_sparse_fail(p, where, "types nested deeper than %d",
                               PB_SCHEMA_MAX_DEPTH);
                return NULL;
        }
        if (cJSON_IsString(j)) {
                pb_kind_t kind;
                pb_type_t *t;
                if (pb_primitive_kind(j->valuestring, &kind))
                        return pb_type_alloc(p, kind, where);
                t = pb_resolve_ref(p, j->valuestring, ns);
                if (!t)
                        pb_sparse_fail(p, where, "unknown type \"%s\"",
                                       j->valuestring);
                return t;
        }
        if (cJSON_IsArray(j))
                return pb_parse_union(p, j, ns, where, depth);
        if (cJSON_IsObject(j))
                return pb_parse_object(p, j, ns, where, depth);
        pb_sparse_fail(p, where, "a type must be a string, object or array");
        return NULL;
}

/* cJSON cuts strings at an escaped NUL (\u0000); a default holding one
 * would be encoded wrongly, so such text is refused. Scans string
 * literals honouring escapes. */
static int pb_has_escaped_nul(const char *s, size_t n) {
        size_t i;
        int in_str = 0;
        for (i = 0; i < n; i++) {
                if (!in_str) {
                        if (s[i] == '"')
                                in_str = 1;
                        continue;
                }
                if (s[i] == '"') {
                        in_str = 0;
                } else if (s[i] == '\\' && i + 1 < n) {
                        if (s[i + 1] == 'u' && i + 5 < n &&
                            !memcmp(s + i + 2, "0000", 4))
                                return 1;
                        i++;
                }
        }
        return 0;
}

static int pb_parse_partnerbus_attrs(pb_sparse_t *p, const cJSON *doc) {
        pb_schema_t *s = p->s;
        const pb_type_t *r = s->root;
        const cJSON *jt = NULL, *jk = NULL;
        if (cJSON_IsObject(doc)) {
                jt = pb_jget(doc, "partnerbus.type");
                jk = pb_jget(doc, "partnerbus.key");
        }
        if (jt) {
                if (!cJSON_IsString(jt) ||
                    !pb_topic_name_valid(jt->valuestring))
                        return pb_sparse_fail(
                            p, "partnerbus.type",
                            "must be a topic name of 1..249 characters "
                            "[A-Za-z0-9._-]");
                s->type = strdup(jt->valuestring);
        } else {
                s->type = strdup(r->fullname ? r->fullname : pb_branch_desc(r));
        }
        if (!s->type)
                return pb_sparse_fail(p, NULL, "out of memory");
        if (jk) {
                int i;
                if (!cJSON_IsString(jk))
                        return pb_sparse_fail(p, "partnerbus.key",
                                              "must be a field name");
                i = pb_type_field_index(r, jk->valuestring,
                                        strlen(jk->valuestring));
                if (i < 0)
                        return pb_sparse_fail(
                            p, "partnerbus.key",
                            "\"%s\" is not a top-level field of the record",
                            jk->valuestring);
                if (r->fields[i].type->kind != PB_T_STRING)
                        return pb_sparse_fail(p, "partnerbus.key",
                                              "field \"%s\" is not a string",
                                              jk->valuestring);
                s->key_field = strdup(jk->valuestring);
                if (!s->key_field)
                        return pb_sparse_fail(p, NULL, "out of memory");
                s->key_index = i;
        }
        return 0;
}

static int pb_encode_pending(pb_sparse_t *p) {
        size_t i;
        pb_sparse_sort_defs(p);
        for (i = 0; i < p->ndefs; i++) {
                pb_pending_default_t *d = &p->defs[i];
                pb_buf_t b;
                pb_buf_init(&b, PB_DEFAULT_MAX_BYTES);
                if (pb_schema_default_encode(p, d->field->type, d->json, &b,
                                             d->where, 0)) {
                        pb_buf_free(&b);
                        return -1;
                }
                /* an empty default (null, empty record) still gets a
                 * non-NULL buffer so callers can test default_avro */
                if (!b.data && pb_buf_reserve(&b, 1) != PB_OK) {
                        pb_buf_free(&b);
                        return pb_sparse_fail(p, d->where, "out of memory");
                }
                d->field->default_avro = b.data;
                d->field->default_avro_len = b.len;
        }
        return 0;
}

pb_schema_t *pb_schema_parse(const char *json, size_t len, int strict,
                             char *errstr, size_t errstr_size) {
        pb_sparse_t p;
        pb_schema_t *s;
        cJSON *doc = NULL;
        const char *end = NULL;
        char dummy[8];
        size_t i;
        int ok = 0;

        if (!errstr || !errstr_size) {
                errstr = dummy;
                errstr_size = sizeof(dummy);
        }
        errstr[0] = 0;
        memset(&p, 0, sizeof(p));
        p.strict = strict;
        p.err = errstr;
        p.errsize = errstr_size;
        p.steps = PB_DEFAULT_MAX_STEPS;
        if (!json) {
                pb_sparse_fail(&p, NULL, "no schema text");
                return NULL;
        }
        if (len > PB_SCHEMA_MAX_BYTES) {
                pb_sparse_fail(&p, NULL, "schema text larger than %u bytes",
                               PB_SCHEMA_MAX_BYTES);
                return NULL;
        }
        if (memchr(json, 0, len)) {
                pb_sparse_fail(&p, NULL, "schema text contains a NUL byte");
                return NULL;
        }
        if (pb_has_escaped_nul(json, len)) {
                pb_sparse_fail(&p, NULL,
                               "\\u0000 in a JSON string is not "
                               "supported");
                return NULL;
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
                pb_sparse_fail(&p, NULL, "out of memory");
                return NULL;
        }
        s->key_index = -1;
        s->idx_event_id = s->idx_occurred_at = s->idx_source = -1;
        {
                static atomic_uint_fast64_t serials;
                s->serial = (uint64_t)atomic_fetch_add(&serials, 1) + 1;
        }
        p.s = s;
        s->json = strndup(json, len);
        if (!s->json) {
                pb_sparse_fail(&p, NULL, "out of memory");
                goto done;
        }
        doc = cJSON_ParseWithLengthOpts(json, len, &end, 0);
        if (!doc) {
                pb_sparse_fail(&p, NULL, "invalid JSON near byte %zu",
                               end && end >= json ? (size_t)(end - json)
                                                  : (size_t)0);
                goto done;
        }
        /* only whitespace may follow the JSON value */
        for (; end && end < json + len; end++)
                if (!strchr(" \t\r\n", *end)) {
                        pb_sparse_fail(&p, NULL,
                                       "trailing data after the schema");
                        goto done;
                }
        s->root = pb_parse_type(&p, doc, "", "", 0);
        if (!s->root)
                goto done;
        if (strict) {
                if (pb_encode_pending(&p) || pb_parse_partnerbus_attrs(&p, doc))
                        goto done;
        } else if (!(s->type =
                         strdup(s->root->fullname ? s->root->fullname
                                                  : pb_branch_desc(s->root)))) {
                pb_sparse_fail(&p, NULL, "out of memory");
                goto done;
        }
        s->idx_event_id = pb_type_field_index(s->root, "event_id", 8);
        s->idx_occurred_at = pb_type_field_index(s->root, "occurred_at", 11);
        s->idx_source = pb_type_field_index(s->root, "source", 6);
        s->canonical = pb_schema_canonical_of(s->root);
        if (!s->canonical) {
                pb_sparse_fail(&p, NULL, "out of memory");
                goto done;
        }
        s->fingerprint = pb_crc64_avro(s->canonical, strlen(s->canonical));
        ok = 1;
done:
        cJSON_Delete(doc);
        for (i = 0; i < p.ndefs; i++)
                free(p.defs[i].where);
        free(p.defs);
        free(p.named);
        if (!ok) {
                if (!errstr[0])
                        snprintf(errstr, errstr_size, "invalid schema");
                pb_schema_destroy(s);
                return NULL;
        }
        return s;
}

pb_schema_t *pb_schema_new(const char *json, size_t len, char *errstr,
                           size_t errstr_size) {
        return pb_schema_parse(json, len, 1, errstr, errstr_size);
}

pb_schema_t *pb_schema_new_file(const char *path, char *errstr,
                                size_t errstr_size) {
        FILE *fp;
        char *buf;
        size_t n;
        pb_schema_t *s;
        char err[512];
        if (!path) {
                if (errstr && errstr_size)
                        snprintf(errstr, errstr_size, "no schema path");
                return NULL;
        }
        fp = fopen(path, "rb");
        if (!fp) {
                if (errstr && errstr_size)
                        snprintf(errstr, errstr_size, "%s: %s", path,
                                 strerror(errno));
                return NULL;
        }
        buf = malloc(PB_SCHEMA_MAX_BYTES + 1);
        if (!buf) {
                fclose(fp);
                if (errstr && errstr_size)
                        snprintf(errstr, errstr_size, "%s: out of memory",
                                 path);
                return NULL;
        }
        n = fread(buf, 1, PB_SCHEMA_MAX_BYTES + 1, fp);
        if (ferror(fp) || n > PB_SCHEMA_MAX_BYTES) {
                if (errstr && errstr_size)
                        snprintf(errstr, errstr_size, "%s: %s", path,
                                 ferror(fp) ? "read error"
                                            : "larger than the limit");
                fclose(fp);
                free(buf);
                return NULL;
        }
        fclose(fp);
        s = pb_schema_parse(buf, n, 1, err, sizeof(err));
        free(buf);
        if (!s && errstr && errstr_size)
                snprintf(errstr, errstr_size, "%s: %s", path, err);
        return s;
}

char *pb_schema_canonical_form(const char *json, size_t len, char *errstr,
                               size_t errstr_size) {
        pb_schema_t *s = pb_schema_parse(json, len, 0, errstr, errstr_size);
        char *c;
        if (!s)
                return NULL;
        c = s->canonical;
        s->canonical = NULL;
        pb_schema_destroy(s);
        return c;
}

const char *pb_schema_type(const pb_schema_t *s) {
        return s ? s->type : NULL;
}

const char *pb_schema_fullname(const pb_schema_t *s) {
        if (!s)
                return NULL;
        return s->root->fullname ? s->root->fullname : pb_branch_desc(s->root);
}

const char *pb_schema_key_field(const pb_schema_t *s) {
        return s ? s->key_field : NULL;
}

const char *pb_schema_json(const pb_schema_t *s) {
        return s ? s->json : NULL;
}

const char *pb_schema_canonical(const pb_schema_t *s) {
        return s ? s->canonical : NULL;
}

uint64_t pb_schema_fingerprint(const pb_schema_t *s) {
        return s ? s->fingerprint : 0;
}
