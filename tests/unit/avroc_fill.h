/* Test/bench helper (header-only): fills an avro-c generic value from a
 * cJSON tree in natural JSON, guided by partnerbus's compiled schema tree
 * for the logical types avro-c 1.11.1 does not know (decimal, date,
 * timestamp-millis/micros). Used by tests/unit/test_avroc_crosscheck.c
 * (avro-c encodes, our codec decodes) and bench/bench_codec.c (avro-c's
 * generic path as the peer). Returns 0, or -1 on a value it cannot take.
 * Fields absent from the JSON are left at avro-c's zero value. */
#ifndef AVROC_FILL_H
#define AVROC_FILL_H

#include <avro.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_schema_int.h"

static int avroc_fill(avro_value_t *v, const pb_type_t *t, const cJSON *j) {
        switch (t->kind) {
        case PB_T_NULL:
                return avro_value_set_null(v);
        case PB_T_BOOLEAN:
                return avro_value_set_boolean(v, cJSON_IsTrue(j));
        case PB_T_INT:
                if (t->logical == PB_L_DATE) {
                        int32_t days;
                        if (!cJSON_IsString(j) ||
                            pb_date_parse(j->valuestring,
                                          strlen(j->valuestring), &days))
                                return -1;
                        return avro_value_set_int(v, days);
                }
                return avro_value_set_int(v, (int32_t)j->valuedouble);
        case PB_T_LONG:
                if (t->logical == PB_L_TIMESTAMP_MILLIS ||
                    t->logical == PB_L_TIMESTAMP_MICROS) {
                        int64_t ms;
                        if (!cJSON_IsString(j) ||
                            pb_rfc3339_parse(j->valuestring,
                                             strlen(j->valuestring), &ms))
                                return -1;
                        if (t->logical == PB_L_TIMESTAMP_MICROS)
                                ms *= 1000;
                        return avro_value_set_long(v, ms);
                }
                /* cJSON keeps numbers as double: exact up to 2^53 */
                return avro_value_set_long(v, (int64_t)j->valuedouble);
        case PB_T_FLOAT:
                return avro_value_set_float(v, (float)j->valuedouble);
        case PB_T_DOUBLE:
                return avro_value_set_double(v, j->valuedouble);
        case PB_T_STRING:
                if (!cJSON_IsString(j))
                        return -1;
                return avro_value_set_string_len(v, j->valuestring,
                                                 strlen(j->valuestring) + 1);
        case PB_T_BYTES:
        case PB_T_FIXED: {
                uint8_t b[4096];
                long n;
                const char *why;
                if (!cJSON_IsString(j))
                        return -1;
                size_t sl = strlen(j->valuestring);
                if (t->logical == PB_L_DECIMAL)
                        n = pb_decimal_parse(j->valuestring, sl, t->precision,
                                             t->scale, b, &why);
                else
                        n = pb_base64_decode(j->valuestring, sl, b, sizeof(b));
                if (n < 0)
                        return -1;
                if (t->kind == PB_T_BYTES)
                        return avro_value_set_bytes(v, b, (size_t)n);
                if ((size_t)n > t->size || t->size > sizeof(b))
                        return -1;
                if ((size_t)n < t->size) { /* sign-extend a decimal */
                        memmove(b + t->size - (size_t)n, b, (size_t)n);
                        memset(b,
                               n && (b[t->size - (size_t)n] & 0x80) ? 0xff : 0,
                               t->size - (size_t)n);
                }
                return avro_value_set_fixed(v, b, t->size);
        }
        case PB_T_ENUM:
                if (!cJSON_IsString(j))
                        return -1;
                for (size_t i = 0; i < t->nsymbols; i++)
                        if (!strcmp(t->symbols[i], j->valuestring))
                                return avro_value_set_enum(v, (int)i);
                return -1;
        case PB_T_RECORD:
                for (size_t i = 0; i < t->nfields; i++) {
                        avro_value_t f;
                        const cJSON *m = cJSON_GetObjectItemCaseSensitive(
                            j, t->fields[i].name);
                        if (avro_value_get_by_index(v, i, &f, NULL))
                                return -1;
                        if (!m) {
                                if (t->fields[i].type->kind == PB_T_UNION &&
                                    t->fields[i].type->null_branch >= 0) {
                                        avro_value_t br;
                                        if (avro_value_set_branch(
                                                &f,
                                                t->fields[i].type->null_branch,
                                                &br))
                                                return -1;
                                }
                                continue;
                        }
                        if (avroc_fill(&f, t->fields[i].type, m))
                                return -1;
                }
                return 0;
        case PB_T_ARRAY:
        case PB_T_MAP: {
                /* an element appended, or a value added under its key */
                const cJSON *it;
                cJSON_ArrayForEach(it, j) {
                        avro_value_t e;
                        int rc =
                            t->kind == PB_T_ARRAY
                                ? avro_value_append(v, &e, NULL)
                                : avro_value_add(v, it->string, &e, NULL, NULL);
                        if (rc || avroc_fill(&e, t->items, it))
                                return -1;
                }
                return 0;
        }
        case PB_T_UNION: {
                avro_value_t br;
                int idx = -1;
                if (cJSON_IsNull(j)) {
                        idx = t->null_branch;
                } else {
                        for (size_t i = 0; i < t->nbranches && idx < 0; i++)
                                if ((int)i != t->null_branch)
                                        idx = (int)i;
                }
                if (idx < 0 || avro_value_set_branch(v, idx, &br))
                        return -1;
                return avroc_fill(&br, t->branches[idx], j);
        }
        }
        return -1;
}

#endif
