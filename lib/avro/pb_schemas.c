/* partnerbus - the schema catalog: current event types (found by type and
 * by fingerprint) and older writer versions (found by fingerprint only).
 *
 * The catalog owns every schema added to it, also when adding fails (the
 * schema is then destroyed), so a caller never frees what it handed over.
 * Lookups are linear: a catalog holds a handful of types. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_schema_priv.h"

#ifndef PB_SCHEMA_DIR
#define PB_SCHEMA_DIR "schemas"
#endif

struct pb_schemas {
        pb_schema_t **cur; /* current types */
        size_t ncur, capcur;
        pb_schema_t **old; /* older writer versions */
        size_t nold, capold;
};

pb_schemas_t *pb_schemas_new(void) {
        return calloc(1, sizeof(pb_schemas_t));
}

void pb_schemas_destroy(pb_schemas_t *c) {
        size_t i;
        if (!c)
                return;
        for (i = 0; i < c->ncur; i++)
                pb_schema_destroy(c->cur[i]);
        for (i = 0; i < c->nold; i++)
                pb_schema_destroy(c->old[i]);
        free(c->cur);
        free(c->old);
        free(c);
}

static pb_resp_t pb_schemas_push(pb_schema_t ***v, size_t *n, size_t *cap,
                                 pb_schema_t *s) {
        if (PB_ARRAY_RESERVE(*v, *cap, *n, 1, 8))
                return PB_ERR_NOMEM;
        (*v)[(*n)++] = s;
        return PB_OK;
}

/* Adds s (owned from here) as a current type (writer 0) or an older
 * writer version (writer 1). */
static pb_resp_t pb_schemas_add_as(pb_schemas_t *c, pb_schema_t *s, int writer,
                                   char *errstr, size_t errstr_size) {
        const char *why = NULL;
        pb_resp_t r = PB_OK;
        if (!c || !s) {
                why = "no catalog or schema";
                r = PB_ERR_ARG;
        } else if (!writer && pb_schemas_find(c, s->type)) {
                why = "is defined twice";
                r = PB_ERR_INVALID;
        } else if ((writer ? pb_schemas_push(&c->old, &c->nold, &c->capold, s)
                           : pb_schemas_push(&c->cur, &c->ncur, &c->capcur,
                                             s)) != PB_OK) {
                why = "out of memory";
                r = PB_ERR_NOMEM;
        }
        if (r == PB_OK)
                return PB_OK;
        if (errstr && errstr_size) {
                if (r == PB_ERR_INVALID)
                        snprintf(errstr, errstr_size, "event type %s %s",
                                 s->type, why);
                else
                        snprintf(errstr, errstr_size, "%s", why);
        }
        pb_schema_destroy(s);
        return r;
}

pb_resp_t pb_schemas_add(pb_schemas_t *c, pb_schema_t *s, char *errstr,
                         size_t errstr_size) {
        return pb_schemas_add_as(c, s, 0, errstr, errstr_size);
}

pb_resp_t pb_schemas_add_writer(pb_schemas_t *c, pb_schema_t *s, char *errstr,
                                size_t errstr_size) {
        return pb_schemas_add_as(c, s, 1, errstr, errstr_size);
}

static int pb_is_avsc(const char *name) {
        size_t n = strlen(name);
        return n > 5 && name[0] != '.' && !strcmp(name + n - 5, ".avsc");
}

static int pb_name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads the .avsc files of dir in name order. A missing dir is an error unless
 * optional. */
static pb_resp_t pb_schemas_load_into(pb_schemas_t *c, const char *dir,
                                      int writers, int optional, char *errstr,
                                      size_t errstr_size) {
        DIR *d = opendir(dir);
        struct dirent *e;
        char **names = NULL;
        size_t n = 0, cap = 0, i;
        pb_resp_t r = PB_OK;
        if (!d) {
                if (optional && errno == ENOENT)
                        return PB_OK;
                snprintf(errstr, errstr_size, "%s: %s", dir, strerror(errno));
                return PB_ERR_IO;
        }
        while ((e = readdir(d))) {
                if (!pb_is_avsc(e->d_name))
                        continue;
                if (PB_ARRAY_RESERVE(names, cap, n, 1, 16)) {
                        r = PB_ERR_NOMEM;
                        break;
                }
                if (!(names[n] = strdup(e->d_name))) {
                        r = PB_ERR_NOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        if (r != PB_OK)
                snprintf(errstr, errstr_size, "out of memory");
        if (n)
                qsort(names, n, sizeof(*names), pb_name_cmp);
        for (i = 0; i < n && r == PB_OK; i++) {
                char path[4096], err[512];
                pb_schema_t *s;
                if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
                                     names[i]) >= sizeof(path)) {
                        snprintf(errstr, errstr_size, "%s: path too long",
                                 names[i]);
                        r = PB_ERR_ARG;
                        break;
                }
                s = pb_schema_new_file(path, err, sizeof(err));
                if (!s) {
                        snprintf(errstr, errstr_size, "%s", err);
                        r = PB_ERR_INVALID;
                        break;
                }
                r = writers ? pb_schemas_add_writer(c, s, err, sizeof(err))
                            : pb_schemas_add(c, s, err, sizeof(err));
                if (r != PB_OK)
                        snprintf(errstr, errstr_size, "%s: %s", path, err);
        }
        for (i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

pb_schemas_t *pb_schemas_load_dir(const char *dir, char *errstr,
                                  size_t errstr_size) {
        pb_schemas_t *c;
        char hist[4096], dummy[8];
        if (!errstr || !errstr_size) {
                errstr = dummy;
                errstr_size = sizeof(dummy);
        }
        if (!dir) {
                snprintf(errstr, errstr_size, "no schema directory");
                return NULL;
        }
        if ((size_t)snprintf(hist, sizeof(hist), "%s/history", dir) >=
            sizeof(hist)) {
                snprintf(errstr, errstr_size, "%s: path too long", dir);
                return NULL;
        }
        if (!(c = pb_schemas_new())) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (pb_schemas_load_into(c, dir, 0, 0, errstr, errstr_size) != PB_OK ||
            pb_schemas_load_into(c, hist, 1, 1, errstr, errstr_size) != PB_OK) {
                pb_schemas_destroy(c);
                return NULL;
        }
        if (c->ncur == 0) {
                snprintf(errstr, errstr_size, "%s: no .avsc schema found", dir);
                pb_schemas_destroy(c);
                return NULL;
        }
        return c;
}

const pb_schema_t *pb_schemas_find(const pb_schemas_t *c, const char *type) {
        size_t i;
        if (!c || !type)
                return NULL;
        for (i = 0; i < c->ncur; i++)
                if (!strcmp(c->cur[i]->type, type))
                        return c->cur[i];
        return NULL;
}

const pb_schema_t *pb_schemas_find_fingerprint(const pb_schemas_t *c,
                                               uint64_t fp) {
        size_t i;
        if (!c)
                return NULL;
        for (i = 0; i < c->ncur; i++)
                if (c->cur[i]->fingerprint == fp)
                        return c->cur[i];
        for (i = 0; i < c->nold; i++)
                if (c->old[i]->fingerprint == fp)
                        return c->old[i];
        return NULL;
}

size_t pb_schemas_count(const pb_schemas_t *c) {
        return c ? c->ncur : 0;
}

const pb_schema_t *pb_schemas_at(const pb_schemas_t *c, size_t i) {
        return c && i < c->ncur ? c->cur[i] : NULL;
}

const char *pb_schemas_default_dir(void) {
        const char *e = getenv("PARTNERBUS_SCHEMAS");
        return e && *e ? e : PB_SCHEMA_DIR;
}
