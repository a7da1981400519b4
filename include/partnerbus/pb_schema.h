/* Library: partnerbus_avro (lib/avro). */
/* partnerbus - event schemas: loading, Parsing Canonical Form, fingerprints,
 * resolution and compatibility.
 *
 * A pb_schema_t is one Avro schema compiled once into a type tree the codec
 * walks; no schema is parsed per event. A pb_schemas_t is the catalog of
 * event types (one .avsc per type, usually the schemas/ directory).
 *
 * Event type vs Avro name: the record carries the custom attributes
 *   "partnerbus.type": "aid.dispatched"   (topic name and CloudEvents type)
 *   "partnerbus.key":  "shipment_id"      (top-level field used as Kafka key)
 * Custom attributes are not part of the Parsing Canonical Form. */
#ifndef PB_SCHEMA_H
#define PB_SCHEMA_H

#include "pb_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pb_schema pb_schema_t;
typedef struct pb_schemas pb_schemas_t;

/* Compiles one schema from its JSON text. NULL on error (errstr says why). */
pb_schema_t *pb_schema_new(const char *json, size_t len, char *errstr,
                           size_t errstr_size);
pb_schema_t *pb_schema_new_file(const char *path, char *errstr,
                                size_t errstr_size);
void pb_schema_destroy(pb_schema_t *s);

/* "aid.dispatched"; for a schema without partnerbus.type, the Avro full
 * name. */
const char *pb_schema_type(const pb_schema_t *s);
const char *pb_schema_fullname(const pb_schema_t *s);  /* Avro full name */
const char *pb_schema_key_field(const pb_schema_t *s); /* NULL if none */
const char *pb_schema_json(const pb_schema_t *s);      /* as loaded */
const char *pb_schema_canonical(const pb_schema_t *s); /* PCF */
uint64_t pb_schema_fingerprint(const pb_schema_t *s);  /* CRC-64-AVRO of PCF */

/* CRC-64-AVRO (Rabin) of arbitrary bytes, as in the Avro specification. */
uint64_t pb_crc64_avro(const void *data, size_t len);

/* Parsing Canonical Form of a schema JSON text, malloc'd (caller frees),
 * NULL on error. */
char *pb_schema_canonical_form(const char *json, size_t len, char *errstr,
                               size_t errstr_size);

/* --- catalog --- */
pb_schemas_t *pb_schemas_new(void);
void pb_schemas_destroy(pb_schemas_t *c);
/* Takes ownership of s, also on failure (s is then destroyed). Fails on a
 * duplicate type. */
pb_resp_t pb_schemas_add(pb_schemas_t *c, pb_schema_t *s, char *errstr,
                         size_t errstr_size);
/* Adds an older version of a type: found by fingerprint (as a writer
 * schema to resolve from) but never by pb_schemas_find. Takes ownership
 * of s, also on failure. */
pb_resp_t pb_schemas_add_writer(pb_schemas_t *c, pb_schema_t *s, char *errstr,
                                size_t errstr_size);
/* Loads every DIR/NAME.avsc as a current type and every
 * DIR/history/NAME.avsc as
 * an older writer version. */
pb_schemas_t *pb_schemas_load_dir(const char *dir, char *errstr,
                                  size_t errstr_size);
const pb_schema_t *pb_schemas_find(const pb_schemas_t *c, const char *type);
const pb_schema_t *pb_schemas_find_fingerprint(const pb_schemas_t *c,
                                               uint64_t fp);
size_t pb_schemas_count(const pb_schemas_t *c);
const pb_schema_t *pb_schemas_at(const pb_schemas_t *c, size_t i);

/* Default schema directory: $PARTNERBUS_SCHEMAS, else the install/source
 * path compiled in (PB_SCHEMA_DIR). */
const char *pb_schemas_default_dir(void);

/* --- resolution and compatibility (Avro spec "Schema Resolution") --- */
/* Can data written with `writer` be read with `reader`? PB_OK if so;
 * otherwise PB_ERR_INCOMPATIBLE with the first reason, naming the path,
 * e.g. "/items/category: reader enum lacks symbol FOOD and has no default". */
pb_resp_t pb_schema_can_read(const pb_schema_t *reader,
                             const pb_schema_t *writer, char *reason,
                             size_t reason_size);

typedef enum pb_compat {
        PB_COMPAT_NONE = 0,
        PB_COMPAT_BACKWARD = 1, /* new reader reads old data */
        PB_COMPAT_FORWARD = 2,  /* old reader reads new data */
        PB_COMPAT_FULL = 3,
} pb_compat_t;

/* reasons (may be NULL) receives why BACKWARD and/or FORWARD fail. */
pb_compat_t pb_schema_compat(const pb_schema_t *old_s, const pb_schema_t *new_s,
                             char *backward_reason, char *forward_reason,
                             size_t reason_size);
const char *pb_compat_name(pb_compat_t c);

#ifdef __cplusplus
}
#endif
#endif
