/* partnerbus - internals shared by the schema files only (pb_schema.c,
 * pb_schema_default.c, pb_canonical.c, pb_compat.c, pb_schemas.c).
 * The codec uses pb_schema_int.h, never this header. */
#ifndef PB_SCHEMA_PRIV_H
#define PB_SCHEMA_PRIV_H

#include <cjson/cJSON.h>

#include "partnerbus/pb_common.h"
#include "pb_schema_int.h"

/* Bounds against hostile schema text (a registry can serve anything). */
#define PB_SCHEMA_MAX_BYTES      (4u << 20)  /* schema JSON text */
#define PB_SCHEMA_MAX_DEPTH      64          /* nesting of types */
#define PB_SCHEMA_MAX_TYPES      100000      /* pb_type_t nodes */
#define PB_SCHEMA_MAX_FIXED      (16u << 20) /* fixed size in bytes */
#define PB_DEFAULT_MAX_BYTES     (1u << 20)  /* one encoded default */
#define PB_DEFAULT_MAX_DEPTH     64          /* nesting while encoding */
#define PB_DEFAULT_MAX_STEPS     2000000     /* work for all defaults */
#define PB_DECIMAL_MAX_PRECISION 76

/* A field default waiting to be encoded once the whole tree exists. */
typedef struct pb_pending_default {
        pb_field_t *field;
        const cJSON *json; /* points into the parse tree, not owned */
        char *where;       /* "Record/field" for error messages, owned */
} pb_pending_default_t;

/* State of one schema parse. */
typedef struct pb_sparse {
        pb_schema_t *s;
        int strict; /* 1: validate + encode defaults, partnerbus.* attrs,
                     * reject empty unions; 0: only what the PCF needs */
        char *err;
        size_t errsize;
        pb_type_t **named; /* named types defined so far, not owned */
        size_t nnamed, capnamed;
        pb_pending_default_t *defs;
        size_t ndefs, capdefs;
        long steps; /* remaining default-encoding work */
} pb_sparse_t;

/* Sets p->err ("where: message"); always returns -1. */
int pb_sparse_fail(pb_sparse_t *p, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Encodes the JSON default `j` as Avro binary of type `t` into out.
 * 0 on success, -1 with p->err set (out then holds garbage). */
int pb_schema_default_encode(pb_sparse_t *p, const pb_type_t *t, const cJSON *j,
                             pb_buf_t *out, const char *where, int depth);

/* Avro binary long (zigzag varint). */
pb_resp_t pb_schema_put_long(pb_buf_t *out, int64_t v);

/* Parsing Canonical Form of a compiled tree, malloc'd; NULL on ENOMEM. */
char *pb_schema_canonical_of(const pb_type_t *root);

/* Sorts v and returns a string that occurs twice, or NULL. */
const char *pb_schema_find_dup(const char **v, size_t n);
/* A key that occurs twice in JSON object o, or NULL (*nomem set if the
 * check could not run). */
const char *pb_schema_json_dup_key(const cJSON *o, int *nomem);

/* Sorts p->defs by field so that pb_schema_default_encode finds a field's JSON
 * default in O(log n). */
void pb_sparse_sort_defs(pb_sparse_t *p);

/* "int", "record", ... */
const char *pb_schema_kind_name(pb_kind_t k);

/* Parses and compiles; strict as in pb_sparse_t. NULL with errstr. */
pb_schema_t *pb_schema_parse(const char *json, size_t len, int strict,
                             char *errstr, size_t errstr_size);

#endif
