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
        char err[512];
        (void)state;
        cat = pb_schemas_load_dir(ex_schema_dir(), err, sizeof(err));
        if (!cat) {
                fprintf(stderr, "cannot load schemas from %s: %s\n",
                        ex_schema_dir(), err);
                return -1;
        }
        codec = pb_codec_new();
        return codec ? 0 : -1;
}

static int codec_fixture_teardown(void **state) {
        (void)state;
        pb_codec_destroy(codec);
        pb_schemas_destroy(cat);
        return 0;
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
