/* partnerbus_base - option maps: the value grammar and typed stores
 * (pb_optmap.h). */
#include "partnerbus/pb_optmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int64_t pb_optmap_parse_duration(const char *s) {
        char *end;
        double v, mul;
        if (!s || !*s)
                return -1;
        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || v < 0 || v != v)
                return -1;
        if (!strcmp(end, "ms"))
                mul = 1;
        else if (!strcmp(end, "s") || !*end) /* bare number: seconds */
                mul = 1000;
        else if (!strcmp(end, "m"))
                mul = 60000;
        else if (!strcmp(end, "h"))
                mul = 3600000;
        else if (!strcmp(end, "d"))
                mul = 86400000;
        else
                return -1;
        if (v * mul > 9.2e18)
                return -1;
        return (int64_t)(v * mul);
}

static unsigned long long size_unit(const char *u) {
        static const char *const k[] = {"K", "k", "KB", "KiB"};
        static const char *const m[] = {"M", "MB", "MiB"};
        static const char *const g[] = {"G", "GB", "GiB"};
        size_t i;
        if (!*u || !strcmp(u, "B"))
                return 1;
        for (i = 0; i < sizeof(k) / sizeof(k[0]); i++)
                if (!strcmp(u, k[i]))
                        return 1024ull;
        for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
                if (!strcmp(u, m[i]))
                        return 1024ull * 1024;
        for (i = 0; i < sizeof(g) / sizeof(g[0]); i++)
                if (!strcmp(u, g[i]))
                        return 1024ull * 1024 * 1024;
        return 0;
}

size_t pb_optmap_parse_size(const char *s) {
        char *end;
        unsigned long long v, mul;
        if (!s || *s < '0' || *s > '9')
                return (size_t)-1;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || !(mul = size_unit(end)))
                return (size_t)-1;
        if (v > (unsigned long long)SIZE_MAX / mul)
                return (size_t)-1;
        return (size_t)(v * mul);
}

int pb_optmap_parse_bool(const char *s) {
        if (!s)
                return -1;
        if (!strcmp(s, "1") || !strcasecmp(s, "true") ||
            !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
                return 1;
        if (!strcmp(s, "0") || !strcasecmp(s, "false") ||
            !strcasecmp(s, "no") || !strcasecmp(s, "off"))
                return 0;
        return -1;
}

const pb_opt_t *pb_optmap_find(const pb_opt_t *opts, size_t n,
                               const char *name) {
        size_t i;
        for (i = 0; name && i < n; i++)
                if (!strcmp(opts[i].name, name))
                        return &opts[i];
        return NULL;
}

static int bad(const pb_opt_t *o, const char *v, const char *what, char *err,
               size_t errsz) {
        snprintf(err, errsz, "--%s: '%s' is not %s", o->name, v, what);
        return -1;
}

static int store_list(const pb_opt_t *o, pb_strlist_t *l, const char *v,
                      int append, char *err, size_t errsz) {
        if (!append)
                l->n = 0;
        if (l->n >= PB_STRLIST_MAX) {
                snprintf(err, errsz, "--%s: more than %d values", o->name,
                         PB_STRLIST_MAX);
                return -1;
        }
        l->v[l->n++] = v;
        return 0;
}

int pb_optmap_store(const pb_opt_t *o, void *settings, const char *v,
                    int append, char *err, size_t errsz) {
        char *field = (char *)settings + o->offset;
        char *end;
        switch (o->type) {
        case PB_OPT_STRING:
                *(const char **)field = v;
                return 0;
        case PB_OPT_INT:
                errno = 0;
                *(long *)field = strtol(v, &end, 10);
                if (errno || end == v || *end)
                        return bad(o, v, "an integer", err, errsz);
                return 0;
        case PB_OPT_BOOL:
                if (pb_optmap_parse_bool(v) < 0)
                        return bad(o, v, "a boolean (true/false)", err, errsz);
                *(int *)field = pb_optmap_parse_bool(v);
                return 0;
        case PB_OPT_DURATION:
                if ((*(int64_t *)field = pb_optmap_parse_duration(v)) < 0)
                        return bad(o, v,
                                   "a duration (e.g. 500ms, 30s, 5m, 24h)", err,
                                   errsz);
                return 0;
        case PB_OPT_SIZE:
                if ((*(size_t *)field = pb_optmap_parse_size(v)) == (size_t)-1)
                        return bad(o, v, "a size (e.g. 512, 64KiB, 1MiB)", err,
                                   errsz);
                return 0;
        case PB_OPT_LIST:
                return store_list(o, (pb_strlist_t *)field, v, append, err,
                                  errsz);
        }
        return -1;
}

int pb_optmap_defaults(const pb_opt_t *opts, size_t n, void *settings,
                       char *err, size_t errsz) {
        size_t i;
        for (i = 0; i < n; i++)
                if (opts[i].def &&
                    pb_optmap_store(&opts[i], settings, opts[i].def, 0, err,
                                    errsz) < 0)
                        return -1;
        return 0;
}

/* One JSON member into its option; 0 or -1 with a message in err. */
static int apply_member(const pb_opt_t *o, void *settings, const pb_json_t *m,
                        char *err, size_t errsz) {
        char num[64];
        const pb_json_t *e;
        switch (m->type) {
        case PB_JSON_STRING:
                if (o->type == PB_OPT_LIST)
                        break;
                return pb_optmap_store(o, settings, m->str, 0, err, errsz);
        case PB_JSON_NUMBER:
                if (o->type == PB_OPT_STRING || o->type == PB_OPT_LIST ||
                    o->type == PB_OPT_BOOL || m->len >= sizeof(num))
                        break;
                memcpy(num, m->str, m->len);
                num[m->len] = 0;
                return pb_optmap_store(o, settings, num, 0, err, errsz);
        case PB_JSON_TRUE:
        case PB_JSON_FALSE:
                if (o->type != PB_OPT_BOOL)
                        break;
                *(int *)((char *)settings + o->offset) =
                    m->type == PB_JSON_TRUE;
                return 0;
        case PB_JSON_ARRAY:
                if (o->type != PB_OPT_LIST)
                        break;
                for (e = m->child; e; e = e->next)
                        if (e->type != PB_JSON_STRING ||
                            pb_optmap_store(o, settings, e->str, e != m->child,
                                            err, errsz) < 0) {
                                snprintf(err, errsz,
                                         "expected an array of strings");
                                return -1;
                        }
                return 0;
        default:
                break;
        }
        snprintf(err, errsz, "%s is not a %s", pb_json_type_name(m->type),
                 pb_optmap_type_name(o->type));
        return -1;
}

/* Appends "POINTER: msg\n" to err. */
static void add_error(char *err, size_t errsz, const char *ptr,
                      const pb_json_t *m, const char *msg) {
        char p[512];
        size_t used = strlen(err);
        snprintf(p, sizeof(p), "%s", ptr);
        pb_pointer_push(p, sizeof(p), m->key, m->keylen);
        if (used < errsz)
                snprintf(err + used, errsz - used, "%s%s: %s", used ? "\n" : "",
                         p, msg);
}

int pb_optmap_apply_json(const pb_opt_t *opts, size_t n, void *settings,
                         const pb_json_t *obj, const char *ptr, char *err,
                         size_t errsz) {
        const pb_json_t *m;
        int nerr = 0;
        char msg[512], name[128];
        if (errsz)
                err[0] = 0;
        if (!obj || obj->type != PB_JSON_OBJECT) {
                snprintf(err, errsz, "%s: expected an object", ptr);
                return 1;
        }
        for (m = obj->child; m; m = m->next) {
                const pb_opt_t *o = NULL;
                const char *text;
                if (m->keylen < sizeof(name)) {
                        memcpy(name, m->key, m->keylen);
                        name[m->keylen] = 0;
                        o = pb_optmap_find(opts, n, name);
                }
                if (!o) {
                        add_error(err, errsz, ptr, m, "unknown option");
                        nerr++;
                        continue;
                }
                if (apply_member(o, settings, m, msg, sizeof(msg)) < 0) {
                        /* "--name: 'v' is not ..." -> "'v' is not ..." */
                        text = strncmp(msg, "--", 2) ? msg : strstr(msg, ": ");
                        add_error(err, errsz, ptr, m,
                                  text == msg ? msg : text + 2);
                        nerr++;
                }
        }
        return nerr;
}

void pb_optmap_format(const pb_opt_t *o, const void *settings, char *out,
                      size_t outsz) {
        const char *field = (const char *)settings + o->offset;
        const char *s;
        size_t j, used = 0;
        if (o->flags & PB_OPT_SECRET) {
                s = *(const char *const *)field;
                snprintf(out, outsz, "%s", s ? "********" : "");
                return;
        }
        switch (o->type) {
        case PB_OPT_STRING:
                s = *(const char *const *)field;
                snprintf(out, outsz, "%s", s ? s : "");
                return;
        case PB_OPT_INT:
                snprintf(out, outsz, "%ld", *(const long *)field);
                return;
        case PB_OPT_BOOL:
                snprintf(out, outsz, "%s",
                         *(const int *)field ? "true" : "false");
                return;
        case PB_OPT_DURATION:
                snprintf(out, outsz, "%lldms",
                         (long long)*(const int64_t *)field);
                return;
        case PB_OPT_SIZE:
                snprintf(out, outsz, "%zu", *(const size_t *)field);
                return;
        case PB_OPT_LIST:
                out[0] = 0;
                for (j = 0; j < ((const pb_strlist_t *)field)->n; j++)
                        if (used < outsz)
                                used += (size_t)snprintf(
                                    out + used, outsz - used, "%s%s",
                                    j ? ", " : "",
                                    ((const pb_strlist_t *)field)->v[j]);
                return;
        }
}

const char *pb_optmap_type_name(pb_opt_type_t t) {
        switch (t) {
        case PB_OPT_STRING:
                return "string";
        case PB_OPT_INT:
                return "int";
        case PB_OPT_BOOL:
                return "bool";
        case PB_OPT_DURATION:
                return "duration";
        case PB_OPT_SIZE:
                return "size";
        case PB_OPT_LIST:
                return "list";
        }
        return "?";
}
