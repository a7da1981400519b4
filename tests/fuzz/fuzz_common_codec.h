/* Shared by the codec fuzz targets: the four event schemas, loaded once
 * from $PARTNERBUS_SCHEMAS (or the compiled-in directory) and ordered by
 * type name so that the first input byte picks the same schema on every
 * machine: 0 aid.delivered, 1 aid.dispatched, 2 funds.granted,
 * 3 partnership.founded. */
#ifndef FUZZ_COMMON_CODEC_H
#define FUZZ_COMMON_CODEC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_schema.h"
#include "partnerbus/pb_serde.h"

#define FZ_MAX_SCHEMAS 16

/* How the "every type" schemas of the targets with schemas of their own
 * begin: the record, its key member and the envelope. */
#define FZ_EVERY_HEAD                                                          \
        "{\"type\":\"record\",\"name\":\"fz.Every\",\"partnerbus.key\":"       \
        "\"k\",\"fields\":["                                                   \
        "{\"name\":\"event_id\",\"type\":{\"type\":\"string\","                \
        "\"logicalType\":\"uuid\"}},"                                          \
        "{\"name\":\"occurred_at\",\"type\":{\"type\":\"long\","               \
        "\"logicalType\":\"timestamp-micros\"}},"                              \
        "{\"name\":\"source\",\"type\":[\"null\",\"string\",\"bytes\"]},"      \
        "{\"name\":\"k\",\"type\":\"string\"},"

static pb_schemas_t *fz_cat;
static const pb_schema_t *fz_schemas[FZ_MAX_SCHEMAS];
static size_t fz_nschemas;

static int fz_by_type(const void *a, const void *b) {
        return strcmp(pb_schema_type(*(const pb_schema_t *const *)a),
                      pb_schema_type(*(const pb_schema_t *const *)b));
}

/* The target's own schemas json[0..n) compiled into out[]; aborts on one
 * that does not compile (the target would test less than it says). */
static inline void fz_compile(const char *const *json, size_t n,
                              pb_schema_t **out) {
        char err[512];
        for (size_t i = 0; i < n; i++) {
                out[i] =
                    pb_schema_new(json[i], strlen(json[i]), err, sizeof(err));
                if (!out[i]) {
                        fprintf(stderr, "fuzz: schema %zu: %s\n", i, err);
                        abort();
                }
        }
}

/* Aborts when the schemas cannot be loaded: a fuzz run without them would
 * test nothing. */
static void fz_load_schemas(void) {
        char err[512];
        if (fz_cat)
                return;
        fz_cat =
            pb_schemas_load_dir(pb_schemas_default_dir(), err, sizeof(err));
        if (!fz_cat) {
                fprintf(stderr, "fuzz: cannot load schemas from %s: %s\n",
                        pb_schemas_default_dir(), err);
                abort();
        }
        for (size_t i = 0; i < pb_schemas_count(fz_cat) && i < FZ_MAX_SCHEMAS;
             i++)
                fz_schemas[fz_nschemas++] = pb_schemas_at(fz_cat, i);
        if (!fz_nschemas)
                abort();
        qsort(fz_schemas, fz_nschemas, sizeof(fz_schemas[0]), fz_by_type);
}

/* A codec, and a serde over the loaded schemas without registry; abort
 * when they cannot be made. */
static inline pb_codec_t *fz_codec_new(void) {
        pb_codec_t *c = pb_codec_new();
        if (!c)
                abort();
        return c;
}

static pb_codec_t *fz_codec;

/* On the first call: loads the schemas, makes fz_codec and returns 1 (the
 * target then makes the rest of its state); 0 on later calls. */
static inline int fz_first_call(void) {
        if (fz_codec)
                return 0;
        fz_load_schemas();
        fz_codec = fz_codec_new();
        return 1;
}

static inline pb_serde_t *fz_serde_new(void) {
        char err[512];
        pb_serde_t *sd = pb_serde_new(fz_cat, NULL, err, sizeof(err));
        if (!sd) {
                fprintf(stderr, "fuzz: no serde: %s\n", err);
                abort();
        }
        return sd;
}

#endif
