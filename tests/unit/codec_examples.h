/* Shared by test_codec.c and test_avroc_crosscheck.c: the schema catalog
 * and the example files under schemas/examples/. Header-only test helper
 * (static functions), not part of the core. */
#ifndef CODEC_EXAMPLES_H
#define CODEC_EXAMPLES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_schema.h"

/* Reads a whole file (NUL-terminated); NULL if it cannot be read. */
static char *ex_read_file(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        char *buf;
        long n;
        if (!f)
                return NULL;
        if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
            fseek(f, 0, SEEK_SET) != 0) {
                fclose(f);
                return NULL;
        }
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
        }
        fclose(f);
        if (buf) {
                buf[n] = 0;
                if (len)
                        *len = (size_t)n;
        }
        return buf;
}

static int ex_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir ending with suffix; count in *n; free with
 * ex_free_list. NULL and *n = 0 if the directory cannot be opened. */
static char **ex_list(const char *dir, const char *suffix, size_t *n) {
        DIR *d = opendir(dir);
        struct dirent *de;
        char **v = NULL;
        size_t cnt = 0, cap = 0, sl = strlen(suffix);
        *n = 0;
        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (de->d_name[0] == '.' || l < sl ||
                    strcmp(de->d_name + l - sl, suffix))
                        continue;
                if (cnt == cap) {
                        cap = cap ? cap * 2 : 16;
                        v = realloc(v, cap * sizeof(*v));
                }
                v[cnt++] = strdup(de->d_name);
        }
        closedir(d);
        if (cnt)
                qsort(v, cnt, sizeof(*v), ex_cmp);
        *n = cnt;
        return v;
}

static void ex_free_list(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static const char *ex_schema_dir(void) {
        return pb_schemas_default_dir();
}

/* The catalog of the schemas directory; NULL (said on stderr) if it
 * cannot be loaded. */
static inline pb_schemas_t *ex_catalog(void) {
        char err[512];
        pb_schemas_t *cat =
            pb_schemas_load_dir(ex_schema_dir(), err, sizeof(err));
        if (!cat)
                fprintf(stderr, "cannot load schemas from %s: %s\n",
                        ex_schema_dir(), err);
        return cat;
}

/* schemas/examples/<kind>  (kind: "valid" or "invalid") */
static void ex_dir(char *buf, size_t size, const char *kind) {
        snprintf(buf, size, "%s/examples/%s", ex_schema_dir(), kind);
}

#endif
