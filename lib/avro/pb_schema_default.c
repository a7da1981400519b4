/* partnerbus - field defaults: checked against the field's type and
 * encoded once, at schema compile time, as Avro binary.
 *
 * The JSON form of a default is Avro's (specification 1.11, "Complex
 * Types: Records"): a union's default belongs to its FIRST branch; bytes
 * and fixed are strings whose code points 0-255 are the byte values;
 * records are objects (a missing field takes that field's own default);
 * enums are a symbol string; maps objects; arrays arrays.
 *
 * All work is bounded: nesting by PB_DEFAULT_MAX_DEPTH, output by the
 * buffer's max, and total steps by p->steps, so a hostile schema whose
 * defaults refer to each other cannot make the compiler loop or explode. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h" /* pb_utf8_valid */
#include "partnerbus/pb_util.h" /* pb_zz_encode */
#include "pb_schema_priv.h"

pb_resp_t pb_schema_put_long(pb_buf_t *out, int64_t v) {
        uint8_t b[10];
        return pb_buf_append(out, b, pb_zz_encode(b, v));
}

/* Next code point of UTF-8 text; returns its length, 0 if invalid. */
static size_t pb_utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
        uint32_t c;
        size_t len, i;
        if (n == 0)
                return 0;
        if (s[0] < 0x80) {
                *cp = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                len = 2;
                c = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                len = 3;
                c = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                len = 4;
                c = s[0] & 0x07;
        } else {
                return 0;
        }
        if (n < len)
                return 0;
        for (i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
            c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *cp = c;
        return len;
}

static int pb_put(pb_sparse_t *p, pb_resp_t r, const char *where) {
        if (r == PB_OK)
                return 0;
        if (r == PB_ERR_LIMIT)
                return pb_sparse_fail(p, where, "default larger than %u bytes",
                                      PB_DEFAULT_MAX_BYTES);
        return pb_sparse_fail(p, where, "out of memory");
}

/* JSON string of code points 0-255 as raw bytes (bytes and fixed). */
static int pb_default_bytes(pb_sparse_t *p, const pb_type_t *t, const cJSON *j,
                            pb_buf_t *out, const char *where) {
        const unsigned char *s;
        size_t n, i = 0, count = 0;
        uint32_t cp;
        if (!cJSON_IsString(j))
                return pb_sparse_fail(
                    p, where, "default for %s must be a string",
                    t->kind == PB_T_FIXED ? "fixed" : "bytes");
        s = (const unsigned char *)j->valuestring;
        n = strlen(j->valuestring);
        while (i < n) {
                size_t l = pb_utf8_next(s + i, n - i, &cp);
                if (!l)
                        return pb_sparse_fail(p, where,
                                              "default is not valid UTF-8");
                if (cp > 255)
                        return pb_sparse_fail(
                            p, where,
                            "bytes default has code point U+%04X above 255",
                            (unsigned)cp);
                i += l;
                count++;
        }
        if (t->kind == PB_T_FIXED && count != t->size)
                return pb_sparse_fail(p, where,
                                      "fixed default has %zu bytes, not %zu",
                                      count, t->size);
        if (t->kind == PB_T_BYTES &&
            pb_put(p, pb_schema_put_long(out, (int64_t)count), where))
                return -1;
        if (pb_put(p, pb_buf_reserve(out, count), where))
                return -1;
        for (i = 0; i < n;) {
                i += pb_utf8_next(s + i, n - i, &cp);
                out->data[out->len++] = (uint8_t)cp;
        }
        out->data[out->len] = 0;
        return 0;
}

static int pb_def_cmp(const void *a, const void *b) {
        uintptr_t x = (uintptr_t)((const pb_pending_default_t *)a)->field;
        uintptr_t y = (uintptr_t)((const pb_pending_default_t *)b)->field;
        return x < y ? -1 : x > y;
}

void pb_sparse_sort_defs(pb_sparse_t *p) {
        if (p->ndefs > 1)
                qsort(p->defs, p->ndefs, sizeof(*p->defs), pb_def_cmp);
}

/* Finds the JSON default of field f (kept while parsing); p->defs is
 * sorted by pb_sparse_sort_defs(). */
static const cJSON *pb_field_default_json(pb_sparse_t *p, const pb_field_t *f) {
        pb_pending_default_t key, *d;
        key.field = (pb_field_t *)(uintptr_t)f;
        d = bsearch(&key, p->defs, p->ndefs, sizeof(*p->defs), pb_def_cmp);
        return d ? d->json : NULL;
}

static int pb_default_record(pb_sparse_t *p, const pb_type_t *t, const cJSON *j,
                             pb_buf_t *out, const char *where, int depth) {
        const cJSON *e;
        size_t i;
        char sub[512];
        size_t nkeys = (size_t)cJSON_GetArraySize(j);
        if (!cJSON_IsObject(j))
                return pb_sparse_fail(p, where,
                                      "default for record %s must be an "
                                      "object",
                                      t->fullname);
        /* matching keys to fields costs fields x keys: charge it */
        p->steps -= (long)((nkeys + 1) * (t->nfields + 1) / 8);
        if (p->steps < 0)
                return pb_sparse_fail(p, where,
                                      "defaults too costly to encode");
        cJSON_ArrayForEach(e, j) {
                if (!e->string ||
                    pb_type_field_index(t, e->string, strlen(e->string)) < 0)
                        return pb_sparse_fail(
                            p, where, "default has unknown field \"%s\"",
                            e->string ? e->string : "");
        }
        for (i = 0; i < t->nfields; i++) {
                const pb_field_t *f = &t->fields[i];
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, f->name);
                snprintf(sub, sizeof(sub), "%s/%s", where, f->name);
                if (!v) {
                        if (!f->has_default)
                                return pb_sparse_fail(
                                    p, sub,
                                    "default lacks this field, which has "
                                    "no default of its own");
                        v = pb_field_default_json(p, f);
                        if (!v)
                                return pb_sparse_fail(p, sub,
                                                      "field default unknown");
                }
                if (pb_schema_default_encode(p, f->type, v, out, sub,
                                             depth + 1))
                        return -1;
        }
        return 0;
}

int pb_schema_default_encode(pb_sparse_t *p, const pb_type_t *t, const cJSON *j,
                             pb_buf_t *out, const char *where, int depth) {
        long v;
        if (depth > PB_DEFAULT_MAX_DEPTH)
                return pb_sparse_fail(p, where,
                                      "default nested deeper than %d "
                                      "(recursive defaults?)",
                                      PB_DEFAULT_MAX_DEPTH);
        if (--p->steps < 0)
                return pb_sparse_fail(p, where,
                                      "defaults too costly to encode");
        switch (t->kind) {
        case PB_T_NULL:
                if (!cJSON_IsNull(j))
                        return pb_sparse_fail(p, where,
                                              "default for null must be "
                                              "null");
                return 0;
        case PB_T_BOOLEAN:
                if (!cJSON_IsBool(j))
                        return pb_sparse_fail(p, where,
                                              "default for boolean must be "
                                              "true or false");
                return pb_put(p, pb_buf_putc(out, cJSON_IsTrue(j) ? 1 : 0),
                              where);
        case PB_T_INT:
        case PB_T_LONG: {
                double d;
                int is_int = t->kind == PB_T_INT;
                if (!cJSON_IsNumber(j))
                        return pb_sparse_fail(p, where,
                                              "default for %s must be a "
                                              "number",
                                              is_int ? "int" : "long");
                d = j->valuedouble;
                if (!isfinite(d) || d != floor(d))
                        return pb_sparse_fail(p, where,
                                              "default for %s must be an "
                                              "integer",
                                              is_int ? "int" : "long");
                /* cJSON holds numbers as doubles: beyond 2^53 the text's
                 * value may already be lost, so refuse rather than guess */
                if (is_int ? d < -2147483648.0 || d > 2147483647.0
                           : fabs(d) > 9007199254740992.0)
                        return pb_sparse_fail(p, where,
                                              "default out of range for %s",
                                              is_int ? "int"
                                                     : "long "
                                                       "(|v| <= 2^53 "
                                                       "here)");
                return pb_put(p, pb_schema_put_long(out, (int64_t)d), where);
        }
        case PB_T_FLOAT: {
                float f;
                uint32_t u;
                uint8_t b[4];
                if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble) ||
                    fabs(j->valuedouble) > FLT_MAX)
                        return pb_sparse_fail(p, where,
                                              "default for float must be a "
                                              "finite number in range");
                f = (float)j->valuedouble;
                memcpy(&u, &f, 4);
                b[0] = (uint8_t)u;
                b[1] = (uint8_t)(u >> 8);
                b[2] = (uint8_t)(u >> 16);
                b[3] = (uint8_t)(u >> 24);
                return pb_put(p, pb_buf_append(out, b, 4), where);
        }
        case PB_T_DOUBLE: {
                double d;
                uint64_t u;
                uint8_t b[8];
                int i;
                if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
                        return pb_sparse_fail(p, where,
                                              "default for double must be "
                                              "a finite number");
                d = j->valuedouble;
                memcpy(&u, &d, 8);
                for (i = 0; i < 8; i++)
                        b[i] = (uint8_t)(u >> (8 * i));
                return pb_put(p, pb_buf_append(out, b, 8), where);
        }
        case PB_T_STRING: {
                size_t n;
                if (!cJSON_IsString(j))
                        return pb_sparse_fail(p, where,
                                              "default for string must be "
                                              "a string");
                n = strlen(j->valuestring);
                if (!pb_utf8_valid(j->valuestring, n))
                        return pb_sparse_fail(p, where,
                                              "default is not valid UTF-8");
                if (t->logical == PB_L_UUID &&
                    !pb_uuid_valid(j->valuestring, n))
                        return pb_sparse_fail(p, where,
                                              "default is not a UUID");
                if (pb_put(p, pb_schema_put_long(out, (int64_t)n), where))
                        return -1;
                return pb_put(p, pb_buf_append(out, j->valuestring, n), where);
        }
        case PB_T_BYTES:
        case PB_T_FIXED:
                return pb_default_bytes(p, t, j, out, where);
        case PB_T_ENUM: {
                size_t i;
                if (!cJSON_IsString(j))
                        return pb_sparse_fail(p, where,
                                              "default for enum %s must be "
                                              "a symbol string",
                                              t->fullname);
                for (i = 0; i < t->nsymbols; i++)
                        if (!strcmp(t->symbols[i], j->valuestring))
                                return pb_put(
                                    p, pb_schema_put_long(out, (int64_t)i),
                                    where);
                return pb_sparse_fail(p, where,
                                      "default \"%s\" is not a symbol of "
                                      "%s",
                                      j->valuestring, t->fullname);
        }
        case PB_T_ARRAY:
        case PB_T_MAP: {
                const cJSON *e;
                int arr = t->kind == PB_T_ARRAY;
                int n;
                char sub[512];
                if (arr ? !cJSON_IsArray(j) : !cJSON_IsObject(j))
                        return pb_sparse_fail(p, where,
                                              "default for %s must be %s",
                                              arr ? "array" : "map",
                                              arr ? "an array" : "an object");
                n = cJSON_GetArraySize(j);
                if (!arr) {
                        int nomem;
                        const char *d = pb_schema_json_dup_key(j, &nomem);
                        if (nomem)
                                return pb_sparse_fail(p, where,
                                                      "out of memory");
                        if (d)
                                return pb_sparse_fail(p, where,
                                                      "duplicate map key "
                                                      "\"%s\"",
                                                      d);
                }
                if (n > 0) {
                        if (pb_put(p, pb_schema_put_long(out, n), where))
                                return -1;
                        v = 0;
                        cJSON_ArrayForEach(e, j) {
                                if (arr) {
                                        snprintf(sub, sizeof(sub), "%s/%ld",
                                                 where, v);
                                } else {
                                        size_t kl = strlen(e->string);
                                        snprintf(sub, sizeof(sub), "%s/%s",
                                                 where, e->string);
                                        if (!pb_utf8_valid(e->string, kl))
                                                return pb_sparse_fail(
                                                    p, sub,
                                                    "map key is not valid "
                                                    "UTF-8");
                                        if (pb_put(p,
                                                   pb_schema_put_long(
                                                       out, (int64_t)kl),
                                                   sub) ||
                                            pb_put(p,
                                                   pb_buf_append(out, e->string,
                                                                 kl),
                                                   sub))
                                                return -1;
                                }
                                if (pb_schema_default_encode(
                                        p, t->items, e, out, sub, depth + 1))
                                        return -1;
                                v++;
                        }
                }
                return pb_put(p, pb_buf_putc(out, 0), where);
        }
        case PB_T_UNION:
                if (t->nbranches == 0)
                        return pb_sparse_fail(p, where,
                                              "an empty union has no "
                                              "default");
                if (pb_put(p, pb_buf_putc(out, 0), where))
                        return -1;
                if (pb_schema_default_encode(p, t->branches[0], j, out, where,
                                             depth + 1)) {
                        /* say why, in the spec's words */
                        char inner[256];
                        snprintf(inner, sizeof(inner), "%s", p->err);
                        p->err[0] = 0;
                        return pb_sparse_fail(
                            p, where,
                            "a union's default must match its first branch "
                            "(%s) [%s]",
                            t->branches[0]->fullname
                                ? t->branches[0]->fullname
                                : pb_schema_kind_name(t->branches[0]->kind),
                            inner);
                }
                return 0;
        case PB_T_RECORD:
                return pb_default_record(p, t, j, out, where, depth);
        }
        return pb_sparse_fail(p, where, "unknown type kind");
}
