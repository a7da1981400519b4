/* partnerbus - the compiled schema tree, shared by pb_schema.c (builds it)
 * and the codec (pb_codec_*.c), pb_compat.c, pb_canonical.c and
 * pb_schema_default.c (walk it). Not a public header. */
#ifndef PB_SCHEMA_INT_H
#define PB_SCHEMA_INT_H

#include "partnerbus/pb_schema.h"

typedef enum pb_kind {
        PB_T_NULL,
        PB_T_BOOLEAN,
        PB_T_INT,
        PB_T_LONG,
        PB_T_FLOAT,
        PB_T_DOUBLE,
        PB_T_BYTES,
        PB_T_STRING,
        PB_T_RECORD,
        PB_T_ENUM,
        PB_T_ARRAY,
        PB_T_MAP,
        PB_T_UNION,
        PB_T_FIXED,
} pb_kind_t;

/* Logical types. An unknown or invalid logicalType is ignored, as the Avro
 * specification requires, and the type is read as its underlying type. */
typedef enum pb_logical {
        PB_L_NONE,
        PB_L_DECIMAL,          /* bytes or fixed; precision, scale */
        PB_L_DATE,             /* int: days since 1970-01-01 */
        PB_L_TIMESTAMP_MILLIS, /* long: ms since the epoch, UTC */
        PB_L_TIMESTAMP_MICROS, /* long: us since the epoch, UTC */
        PB_L_TIME_MILLIS,      /* int: ms after midnight */
        PB_L_UUID,             /* string, RFC 4122 text form */
} pb_logical_t;

typedef struct pb_type pb_type_t;

typedef struct pb_field {
        char *name;
        size_t namelen;
        char *doc;
        pb_type_t *type;
        char **aliases;
        size_t naliases;
        int has_default;
        /* the default, encoded once at compile time as Avro binary of
         * `type` (for a union: its first branch, index included) */
        uint8_t *default_avro;
        size_t default_avro_len;
} pb_field_t;

struct pb_type {
        pb_kind_t kind;
        pb_logical_t logical;
        int precision, scale; /* PB_L_DECIMAL */

        /* named types (RECORD, ENUM, FIXED) */
        char *name;     /* simple name */
        char *fullname; /* namespace.name */
        char **aliases; /* full names */
        size_t naliases;

        /* RECORD */
        pb_field_t *fields;
        size_t nfields;

        /* ENUM */
        char **symbols;
        size_t nsymbols;
        int enum_default; /* index of the enum default symbol, -1 if none */

        /* ARRAY: items; MAP: values */
        pb_type_t *items;

        /* UNION */
        pb_type_t **branches;
        size_t nbranches;
        int null_branch; /* index of the null branch, -1 if none */

        /* FIXED */
        size_t size;
};

struct pb_schema {
        pb_type_t *root;
        char *type;      /* partnerbus.type or fullname */
        char *key_field; /* partnerbus.key, NULL if none */
        int key_index;   /* index of key_field in root->fields, -1 */
        char *json;      /* the schema text as loaded */
        char *canonical; /* Parsing Canonical Form */
        uint64_t fingerprint;
        /* unique per schema object of this process (never reused, unlike
         * its address): what caches of compiled forms key on */
        uint64_t serial;
        /* every pb_type_t of this schema, for freeing (named types are
         * shared by reference within the tree) */
        pb_type_t **all;
        size_t nall, capall;
        /* indexes of the common fields in root->fields, -1 if absent */
        int idx_event_id, idx_occurred_at, idx_source;
};

/* Field of a record by name, -1 if none. */
int pb_type_field_index(const pb_type_t *rec, const char *name, size_t len);

#endif
