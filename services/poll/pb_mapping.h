/* partnerbus poll - the mapping file: which source field or CSV column
 * fills which schema field, constants and conversions (docs/poll.md).
 *
 *   {
 *     "source": "lvr",                      publishing organisation
 *     "format": "csv", "separator": ";",    feed defaults (flags override)
 *     "records": "/data/items",             JSON: where the array is
 *     "key": ["/grant_id"],                 record identity (target fields;
 *                                           default: the schema's key)
 *     "fields": {
 *       "/grant_id": "Aktenzeichen",        column / JSON Pointer
 *       "/amount": {"from": "Betrag", "convert": "german_number"},
 *       "/currency": {"const": "EUR"},
 *       "/granted_on": {"from": "Datum", "convert": ["trim", "german_date"]},
 *       "/recurrence": {"from": "Turnus", "enum": {"monatlich": "MONTHLY"},
 *                       "default": "ONCE"},
 *       "/items": {"each": "/positions", "fields": {"/quantity": "/qty"}}
 *     }
 *   }
 *
 * Targets are JSON Pointers into the event; a numeric segment is an array
 * index (in order: 0, 1, ...). For CSV records "from" names a column, for
 * JSON records it is a JSON Pointer into the record. A source that is
 * absent, null or (CSV) empty takes "default" if given, else the field is
 * left out (the schema then decides whether that is an error).
 *
 * Conversions, applied in order to the text value: trim, lower, upper,
 * german_number ("143.000,00" -> "143000.00"), german_date ("28.02.2023"
 * -> "2023-02-28"), iso_date, iso_datetime (RFC 3339, or a date as its
 * midnight UTC; normalised to "...T..:..:...mmmZ"), integer and number
 * (emit a JSON number), string (a JSON number or boolean as text). Then
 * "enum" maps the text through a table (unlisted values are errors unless
 * "enum_default" is set).
 *
 * The mapping file is parsed with the strict pb_json parser;
 * pb_mapping_apply() is bounded (PB_MAPPING_MAX_NODES output nodes) and never
 * reads past a record. Not thread-safe: one mapping per thread. */
#ifndef PB_MAPPING_H
#define PB_MAPPING_H

#include <stddef.h>

#include "partnerbus/pb_common.h"
#include "pb_feed.h"

#define PB_MAPPING_MAX_NODES 4096 /* output values per record */
#define PB_MAPPING_MAX_RULES 1024
#define PB_MAPPING_MAX_CONV  8
#define PB_MAPPING_MAX_DEPTH 4 /* nested "each" */
#define PB_MAPPING_MAX_KEYS  8

typedef struct pb_mapping pb_mapping_t;

pb_mapping_t *pb_mapping_new(const char *json, size_t len, char *errstr,
                             size_t errstr_size);
pb_mapping_t *pb_mapping_load(const char *path, char *errstr,
                              size_t errstr_size);
void pb_mapping_destroy(pb_mapping_t *m);

/* Top-level settings of the file, NULL / 0 when absent. */
const char *pb_mapping_source(const pb_mapping_t *m);
const char *pb_mapping_format(const pb_mapping_t *m);
const char *pb_mapping_records(const pb_mapping_t *m);
char pb_mapping_separator(const pb_mapping_t *m);
/* 1 if a rule fills this exact top-level target ("/occurred_at"). */
int pb_mapping_maps(const pb_mapping_t *m, const char *target);
/* Record identity when the file has no "key": this target ("/grant_id"). */
pb_resp_t pb_mapping_set_default_key(pb_mapping_t *m, const char *target);

/* Maps one record: appends the event as natural JSON (one object, fields
 * in the order of the mapping file, "source" first) to out and the record
 * key (key fields joined by '|') to key. PB_ERR_INVALID with every failing
 * target's JSON Pointer in errs (out/key then restored); PB_ERR_LIMIT when
 * out's bound or the node bound is hit. */
pb_resp_t pb_mapping_apply(pb_mapping_t *m, const pb_record_t *rec,
                           pb_buf_t *out, pb_buf_t *key, pb_errors_t *errs);

/* The conversions on their own (unit tests, docs). Return the output
 * length, or -1 with *why set. */
/* The text of a number as a canonical JSON number in out: optional sign
 * ('+' dropped, -0 becomes 0), no leading zeros, ".5" -> "0.5", "5." -> "5",
 * exponent kept (e, no '+', no leading zeros); with integer set, digits and
 * a sign only (at most 18 digits). Surrounding blanks are ignored. Returns
 * the length, or -1 with *why (a German number is told to use
 * german_number). */
int pb_conv_number(const char *s, size_t n, int integer, char *out, size_t size,
                   const char **why);
int pb_conv_german_number(const char *s, size_t n, char *out, size_t size,
                          const char **why);
int pb_conv_german_date(const char *s, size_t n, char *out, size_t size,
                        const char **why);

#endif
