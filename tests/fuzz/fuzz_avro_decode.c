/* libFuzzer target for the Avro decoder (untrusted bytes from Kafka).
 * Input: byte 0 picks the event schema (fuzz_common_codec.h); byte 1 picks
 * the path:
 *   0  body read with the writer schema itself
 *   1  read with an evolved reader: fields reversed, two fields added with
 *      defaults
 *   2  read with an evolved reader: every third field dropped (if of a
 * primitive type), long promoted to double, a symbol added to top-level enums
 *   3  written with variant 1, read with the schema (fields removed,
 *      reordered)
 *   4  the rest is a framed message for pb_serde_decode (single-object or
 *      Confluent framing; no registry, so the latter is refused)
 * Any input must decode or fail cleanly. A decoded event must encode again
 * with the reader schema (unless a value the binary can carry but JSON
 * input may not: a non-UUID text in a uuid field, a decimal beyond the
 * precision) and that encoding must decode to the same JSON. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common_codec.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_serde.h"

static pb_serde_t *fz_serde;
static pb_schema_t *fz_v1[FZ_MAX_SCHEMAS], *fz_v2[FZ_MAX_SCHEMAS];

/* Is a type (JSON) made of primitives only (possibly with a logical type,
 * or a union of such)? Only those fields are moved: a field defining or
 * naming a record, enum or fixed must stay where it is. */
static int fz_primitive(const cJSON *t) {
        static const char *const prim[] = {"null",  "boolean", "int",
                                           "long",  "float",   "double",
                                           "bytes", "string"};
        const cJSON *c;
        if (cJSON_IsString(t)) {
                for (size_t i = 0; i < sizeof(prim) / sizeof(prim[0]); i++)
                        if (!strcmp(t->valuestring, prim[i]))
                                return 1;
                return 0;
        }
        if (cJSON_IsObject(t))
                return fz_primitive(cJSON_GetObjectItem(t, "type"));
        if (cJSON_IsArray(t)) {
                cJSON_ArrayForEach(c, t) if (!fz_primitive(c)) return 0;
                return 1;
        }
        return 0;
}

/* An evolved copy of s (trusted text, so cJSON is fine here). */
static pb_schema_t *fz_variant(const pb_schema_t *s, int which) {
        char err[512];
        cJSON *root = cJSON_Parse(pb_schema_json(s));
        cJSON *fields = cJSON_GetObjectItem(root, "fields");
        cJSON *nf = cJSON_CreateArray();
        int n = cJSON_GetArraySize(fields);
        if (which == 1) {
                /* reverse the fields of primitive types among themselves */
                int *mov = calloc((size_t)n + 1, sizeof(int)), nm = 0;
                for (int i = 0; i < n; i++)
                        if (fz_primitive(cJSON_GetObjectItem(
                                cJSON_GetArrayItem(fields, i), "type")))
                                mov[nm++] = i;
                for (int i = 0, k = nm - 1; i < n; i++) {
                        int src = i;
                        for (int m = 0; m < nm; m++)
                                if (mov[m] == i)
                                        src = mov[k--];
                        cJSON_AddItemToArray(
                            nf, cJSON_Duplicate(cJSON_GetArrayItem(fields, src),
                                                1));
                }
                free(mov);
                cJSON_AddItemToArray(
                    nf, cJSON_Parse("{\"name\":\"fz_added\",\"type\":[\"null\","
                                    "\"string\"],\"default\":null}"));
                cJSON_AddItemToArray(
                    nf, cJSON_Parse("{\"name\":\"fz_num\",\"type\":\"long\","
                                    "\"default\":7}"));
        } else {
                for (int i = 0; i < n; i++) {
                        if (i % 3 == 2 &&
                            fz_primitive(cJSON_GetObjectItem(
                                cJSON_GetArrayItem(fields, i), "type")))
                                continue;
                        cJSON *f =
                            cJSON_Duplicate(cJSON_GetArrayItem(fields, i), 1);
                        cJSON *t = cJSON_GetObjectItem(f, "type");
                        if (cJSON_IsString(t) &&
                            !strcmp(t->valuestring, "long"))
                                cJSON_ReplaceItemInObject(
                                    f, "type", cJSON_CreateString("double"));
                        cJSON *k = cJSON_IsObject(t)
                                       ? cJSON_GetObjectItem(t, "type")
                                       : NULL;
                        if (k && cJSON_IsString(k) &&
                            !strcmp(k->valuestring, "enum"))
                                cJSON_AddItemToArray(
                                    cJSON_GetObjectItem(t, "symbols"),
                                    cJSON_CreateString("FZ_NEW"));
                        cJSON_AddItemToArray(nf, f);
                }
        }
        cJSON_ReplaceItemInObject(root, "fields", nf);
        char *txt = cJSON_PrintUnformatted(root);
        pb_schema_t *v = pb_schema_new(txt, strlen(txt), err, sizeof(err));
        if (!v) {
                fprintf(stderr, "fuzz: variant %d of %s: %s\n", which,
                        pb_schema_type(s), err);
                abort();
        }
        free(txt);
        cJSON_Delete(root);
        return v;
}

static void fz_init(void) {
        if (!fz_first_call())
                return;
        for (size_t i = 0; i < fz_nschemas; i++) {
                fz_v1[i] = fz_variant(fz_schemas[i], 1);
                fz_v2[i] = fz_variant(fz_schemas[i], 2);
        }
        fz_serde = fz_serde_new();
}

/* Errors a re-encoding may legitimately give for decoded binary. */
static int fz_tolerated(const pb_errors_t *e) {
        if (!e->count)
                return 0;
        for (size_t i = 0; i < e->count; i++)
                if (!strstr(e->items[i].message, "UUID") &&
                    !strstr(e->items[i].message, "digits"))
                        return 0;
        return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        pb_buf_t json, avro, json2;
        pb_errors_t errs;
        char err[512];
        const pb_schema_t *w, *r;
        pb_resp_t rc;

        if (size < 2)
                return 0;
        fz_init();
        size_t si = data[0] % fz_nschemas;
        int path = data[1] % 5;
        const uint8_t *body = data + 2;
        size_t blen = size - 2;
        pb_buf_init(&json, 0);
        pb_buf_init(&avro, 0);
        pb_buf_init(&json2, 0);
        switch (path) {
        case 0:
                w = r = fz_schemas[si];
                break;
        case 1:
                w = fz_schemas[si];
                r = fz_v1[si];
                break;
        case 2:
                w = fz_schemas[si];
                r = fz_v2[si];
                break;
        case 3:
                w = fz_v1[si];
                r = fz_schemas[si];
                break;
        default:
                rc = pb_serde_decode(fz_serde, body, blen, &r, &json, NULL, err,
                                     sizeof(err));
                if (rc != PB_OK && json.len)
                        abort();
                goto out;
        }
        rc = pb_codec_avro_to_json(fz_codec, w, r, body, blen, &json, NULL, err,
                                   sizeof(err));
        if (rc != PB_OK) {
                if (json.len || !err[0])
                        abort();
                goto out;
        }
        pb_errors_init(&errs);
        rc = pb_codec_json_to_avro(fz_codec, r, (const char *)json.data,
                                   json.len, NULL, &avro, NULL, &errs);
        if (rc != PB_OK) {
                if (!fz_tolerated(&errs)) {
                        pb_errors_format(&errs, err, sizeof(err));
                        fprintf(stderr, "decoded JSON rejected: %s\n%s\n", err,
                                (char *)json.data);
                        abort();
                }
                goto out;
        }
        rc = pb_codec_avro_to_json(fz_codec, r, NULL, avro.data, avro.len,
                                   &json2, NULL, err, sizeof(err));
        if (rc != PB_OK || json2.len != json.len ||
            memcmp(json.data, json2.data, json.len)) {
                fprintf(stderr, "not a fixed point:\n%s\n%s\n",
                        (char *)json.data,
                        json2.data ? (char *)json2.data : err);
                abort();
        }
out:
        pb_buf_free(&json);
        pb_buf_free(&avro);
        pb_buf_free(&json2);
        return 0;
}
