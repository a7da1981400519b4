/* partnerbus - shared by test_serde.c and test_serde_onepass.c: a serde
 * over the schema catalog (no registry) and frames that name schemas it
 * does not know. Include after <cmocka.h> and codec_examples.h. */
#ifndef PB_SERDE_FIXTURE_H
#define PB_SERDE_FIXTURE_H

#include <stdint.h>

#include "partnerbus/pb_serde.h"

/* A single-object frame with a fingerprint of no schema in the catalog,
 * and a Confluent frame with schema id 7 (no registry to ask). */
static const uint8_t unknown_soe[] = {0xC3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
static const uint8_t unknown_conf[] = {0x00, 0, 0, 0, 7, 0x02};

/* *cat: the catalog of schemas/; *sd: a serde over it without registry.
 * 0, or -1 if either cannot be made. */
static int serde_fixture_open(pb_schemas_t **cat, pb_serde_t **sd) {
        char err[512];
        if (!(*cat = ex_catalog()))
                return -1;
        *sd = pb_serde_new(*cat, NULL, err, sizeof(err));
        return *sd ? 0 : -1;
}

/* Frees the buffers of the NULL-terminated list v. */
static inline void bufs_free(pb_buf_t *const *v) {
        for (; *v; v++)
                pb_buf_free(*v);
}

static void serde_fixture_close(pb_schemas_t *cat, pb_serde_t *sd) {
        pb_serde_destroy(sd);
        pb_schemas_destroy(cat);
}

#endif
