/* Group fixture of the codec tests (test_codec.c, test_codec_check.c,
 * test_avroc_crosscheck.c): the schema catalog of schemas/ in cat and one
 * codec. Include after <cmocka.h>. */
#ifndef PB_TEST_CODEC_FIXTURE_H
#define PB_TEST_CODEC_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "codec_examples.h"
#include "partnerbus/pb_codec.h"

static pb_schemas_t *cat;
static pb_codec_t *codec;

/* cmocka group set-up: loads the catalog and makes the codec; -1 (said
 * on stderr) if not. */
static int codec_fixture_setup(void **state) {
        (void)state;
        if (!(cat = ex_catalog()))
                return -1;
        codec = pb_codec_new();
        return codec ? 0 : -1;
}

static int codec_fixture_teardown(void **state) {
        (void)state;
        pb_codec_destroy(codec);
        pb_schemas_destroy(cat);
        return 0;
}

/* Walks the examples of schemas/examples/<kind>/<type>/<name>.json, by type
 * and then file name: ex_iter_start, then ex_iter_next until it answers
 * 0 (which frees everything). */
typedef struct ex_iter {
        char dir[1024], sub[1536];
        char path[2048];       /* of the current example */
        const pb_schema_t *s;  /* the schema of its type */
        char *json;            /* its text, NUL-terminated; freed by next */
        size_t len;            /* its length */
        size_t ntypes, total;  /* types listed, examples returned */
        char **types, **files; /* internal */
        size_t t, i, nfiles;
        int listed;
} ex_iter_t;

static void ex_iter_start(ex_iter_t *it, const char *kind) {
        memset(it, 0, sizeof(*it));
        ex_dir(it->dir, sizeof(it->dir), kind);
        it->types = ex_list(it->dir, "", &it->ntypes);
}

/* The next example into it->s, path, json, len: 1; 0 after the last.
 * Fails the test for a type without a schema or an unreadable file. */
static int ex_iter_next(ex_iter_t *it) {
        free(it->json);
        it->json = NULL;
        while (!it->listed || it->i == it->nfiles) {
                if (it->listed) {
                        ex_free_list(it->files, it->nfiles);
                        it->listed = 0;
                        it->t++;
                }
                if (it->t >= it->ntypes) {
                        ex_free_list(it->types, it->ntypes);
                        it->types = NULL;
                        it->ntypes = it->t;
                        return 0;
                }
                it->s = pb_schemas_find(cat, it->types[it->t]);
                if (!it->s)
                        fail_msg("no schema for example type %s",
                                 it->types[it->t]);
                snprintf(it->sub, sizeof(it->sub), "%s/%s", it->dir,
                         it->types[it->t]);
                it->files = ex_list(it->sub, ".json", &it->nfiles);
                it->i = 0;
                it->listed = 1;
        }
        snprintf(it->path, sizeof(it->path), "%s/%s", it->sub,
                 it->files[it->i++]);
        it->json = ex_read_file(it->path, &it->len);
        assert_non_null(it->json);
        it->total++;
        return 1;
}

/* A schema from its JSON text; fails the test if it is rejected. */
static inline pb_schema_t *schema(const char *json) {
        char err[512];
        pb_schema_t *s = pb_schema_new(json, strlen(json), err, sizeof(err));
        if (!s)
                fail_msg("schema rejected: %s", err);
        return s;
}

#endif
