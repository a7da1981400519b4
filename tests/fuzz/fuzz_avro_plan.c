/* libFuzzer target for the decode plans (lib/avro/pb_codec_plan.c): the
 * flat list of operations compiled per writer schema that
 * pb_codec_avro_to_json() runs before the schema-tree walk. Differential:
 * every input is decoded by a codec with plans and by one without
 * (pb_codec_set_plans(c, 0)); both must give the same code, the same JSON
 * bytes, the same error text and the same meta; and so must
 * pb_codec_check() (the plan's walk that writes nothing).
 * Input: byte 0 picks the schema: the four event schemas
 * (fuzz_common_codec.h), then the schemas below, which carry every type
 * the plans compile (boolean, float, double, bytes and fixed with and
 * without decimal, dates, timestamps in micros, enums, nested arrays,
 * unions of several branches, a uuid event id and a bytes one) and some they
 * leave to the tree walk (map, time-millis; not arrays of nulls: a million
 * nulls per input would make the run slow). The rest is the Avro body. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common_codec.h"
#include "partnerbus/pb_codec.h"

static const char *const fz_extra[] = {
    FZ_EVERY_HEAD
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":[\"double\",\"null\"]},"
    "{\"name\":\"raw\",\"type\":\"bytes\"},"
    "{\"name\":\"amount\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
    "\"decimal\",\"precision\":12,\"scale\":2}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F3\","
    "\"size\":3}},"
    "{\"name\":\"fd\",\"type\":{\"type\":\"fixed\",\"name\":\"FD\",\"size\":"
    "5,\"logicalType\":\"decimal\",\"precision\":10,\"scale\":3}},"
    "{\"name\":\"day\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
    "\"symbols\":[\"A\",\"BB\",\"CCC\"]}},"
    "{\"name\":\"grid\",\"type\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"array\",\"items\":[\"int\",\"string\",{\"type\":\"record\","
    "\"name\":\"P\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"},"
    "{\"name\":\"label\",\"type\":[\"null\",\"string\"]}]}]}}},"
    "{\"name\":\"ts\",\"type\":[\"null\",{\"type\":\"long\","
    "\"logicalType\":\"timestamp-millis\"}]}]}",
    "{\"type\":\"record\",\"name\":\"fz.Left\","
    "\"fields\":["
    "{\"name\":\"id\",\"type\":\"int\"},"
    "{\"name\":\"event_id\",\"type\":\"bytes\"},"
    "{\"name\":\"occurred_at\",\"type\":{\"type\":\"int\",\"logicalType\":"
    "\"date\"}},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"at\",\"type\":{\"type\":\"int\",\"logicalType\":"
    "\"time-millis\"}}]}",
    "{\"type\":\"record\",\"name\":\"fz.Nulls\",\"fields\":["
    "{\"name\":\"n\",\"type\":\"null\"},"
    "{\"name\":\"s\",\"type\":\"string\"}]}",
};
#define FZ_NEXTRA (sizeof(fz_extra) / sizeof(fz_extra[0]))

static pb_codec_t *fz_tree; /* fz_codec decodes with plans, this without */
static pb_schema_t *fz_own[FZ_NEXTRA];

static void fz_init(void) {
        if (!fz_first_call())
                return;
        fz_compile(fz_extra, FZ_NEXTRA, fz_own);
        fz_tree = fz_codec_new();
        pb_codec_set_plans(fz_tree, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        pb_buf_t j1, j2;
        pb_event_meta_t m1, m2;
        char e1[512], e2[512];
        pb_resp_t r1, r2;
        const pb_schema_t *w;
        size_t si;

        if (size < 1)
                return 0;
        fz_init();
        si = data[0] % (fz_nschemas + FZ_NEXTRA);
        w = si < fz_nschemas ? fz_schemas[si] : fz_own[si - fz_nschemas];
        pb_buf_init(&j1, 0);
        pb_buf_init(&j2, 0);
        /* something in the buffers before: the decoders append */
        pb_buf_append(&j1, "x", 1);
        pb_buf_append(&j2, "x", 1);
        memset(&m1, 0xa5, sizeof(m1));
        memset(&m2, 0xa5, sizeof(m2));
        r1 = pb_codec_avro_to_json(fz_codec, w, NULL, data + 1, size - 1, &j1,
                                   &m1, e1, sizeof(e1));
        /* the same schema read as its own reader takes the plan too */
        r2 = pb_codec_avro_to_json(fz_tree, w, w, data + 1, size - 1, &j2, &m2,
                                   e2, sizeof(e2));
        if (r1 != r2 || j1.len != j2.len || memcmp(j1.data, j2.data, j1.len) ||
            strcmp(e1, e2) || memcmp(&m1, &m2, sizeof(m1))) {
                fprintf(stderr,
                        "plan and tree walk differ on %s:\nplan %s '%s'\n%.*s\n"
                        "tree %s '%s'\n%.*s\n",
                        pb_schema_type(w), pb_err2str(r1), e1, (int)j1.len,
                        (char *)j1.data, pb_err2str(r2), e2, (int)j2.len,
                        (char *)j2.data);
                abort();
        }
        memset(&m1, 0xa5, sizeof(m1));
        memset(&m2, 0xa5, sizeof(m2));
        r1 = pb_codec_check(fz_codec, w, NULL, data + 1, size - 1, &m1, e1,
                            sizeof(e1));
        r2 = pb_codec_check(fz_tree, w, NULL, data + 1, size - 1, &m2, e2,
                            sizeof(e2));
        if (r1 != r2 || strcmp(e1, e2) || memcmp(&m1, &m2, sizeof(m1))) {
                fprintf(stderr,
                        "check: plan and tree walk differ on %s:\n"
                        "plan %s '%s'\ntree %s '%s'\n",
                        pb_schema_type(w), pb_err2str(r1), e1, pb_err2str(r2),
                        e2);
                abort();
        }
        pb_buf_free(&j1);
        pb_buf_free(&j2);
        return 0;
}
