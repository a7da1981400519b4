/* Library: partnerbus_avro (lib/avro). */
/* partnerbus - the schema-driven codec: natural JSON <-> Avro binary.
 *
 * "Natural JSON" is what people send (DESIGN.md, "JSON at the edges"):
 * records are objects, enums are their symbol strings, decimals are strings
 * ("143000.00"), dates "2023-02-28", timestamps RFC 3339
 * ("2023-02-28T10:00:00Z" or with an offset; output is always UTC with
 * milliseconds "2023-02-28T10:00:00.000Z"), uuids their text form, an
 * optional field (union with null) is null or absent, other unions carry
 * the branch value directly (first matching branch), bytes/fixed are
 * base64 strings.
 *
 * Encoding is strict: unknown field, wrong type, missing required field
 * (a field with a schema default may be absent), bad enum symbol, decimal
 * with more digits than precision/scale allow, invalid UTF-8, out-of-range
 * int — each adds an error naming the JSON Pointer and what was expected,
 * and nothing is written to `out` (the buffer is restored to its length on
 * entry).
 *
 * Decoding is bounds-checked: every length is checked against the bytes
 * left before anything is allocated; nesting depth is bounded;
 * trailing bytes are an error. */
#ifndef PB_CODEC_H
#define PB_CODEC_H

#include <string.h>

#include "pb_common.h"
#include "pb_json.h"
#include "pb_schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The envelope every event carries, plus its Kafka key; filled by encode and
 * decode so callers need not re-parse. Strings are NUL-terminated and
 * truncated to fit. */
typedef struct pb_event_meta {
        char event_id[40];      /* UUID text */
        int64_t occurred_at_ms; /* ms since epoch, 0 if unknown */
        char source[256];
        char key[256]; /* value of the schema's key field */
        size_t key_len;
} pb_event_meta_t;

/* *d = *s, writing only the bytes in use (the struct is 568 bytes, its
 * strings are short): for paths that keep a copy per event. */
static inline void pb_event_meta_copy(pb_event_meta_t *d,
                                      const pb_event_meta_t *s) {
        size_t n = strnlen(s->event_id, sizeof(d->event_id) - 1);
        memcpy(d->event_id, s->event_id, n);
        d->event_id[n] = 0;
        d->occurred_at_ms = s->occurred_at_ms;
        n = strnlen(s->source, sizeof(d->source) - 1);
        memcpy(d->source, s->source, n);
        d->source[n] = 0;
        n = s->key_len < sizeof(d->key) - 1 ? s->key_len : sizeof(d->key) - 1;
        memcpy(d->key, s->key, n);
        d->key[n] = 0;
        d->key_len = s->key_len;
}

typedef struct pb_encode_opts {
        /* if non-NULL, `source` is set to this value (the authenticated
         * organisation); a different `source` in the input is an error
         * naming /source */
        const char *force_source;
        /* fill event_id with a random UUIDv4 when absent */
        int fill_event_id;
        /* fill occurred_at with the current time when absent */
        int fill_occurred_at;
} pb_encode_opts_t;

typedef struct pb_codec pb_codec_t; /* per-thread scratch; not shareable */

pb_codec_t *pb_codec_new(void);
void pb_codec_destroy(pb_codec_t *c);
/* Limits of the codec's own JSON parser (default: pb_json's). PB_OK, or
 * PB_ERR_NOMEM with the old parser kept. */
pb_resp_t pb_codec_set_json_limits(pb_codec_t *c, const pb_json_limits_t *lim);
/* Hands memory of the last (large) document back: see
 * pb_json_parser_trim. */
void pb_codec_trim(pb_codec_t *c, size_t keep);

/* JSON text -> Avro binary body appended to out. opts may be NULL.
 * Returns PB_ERR_PARSE (bad JSON, one error at pointer ""),
 * PB_ERR_INVALID (schema violations, all listed in errs), PB_OK. */
pb_resp_t pb_codec_json_to_avro(pb_codec_t *c, const pb_schema_t *s,
                                const char *json, size_t len,
                                const pb_encode_opts_t *opts, pb_buf_t *out,
                                pb_event_meta_t *meta, pb_errors_t *errs);

/* The one-pass encoder that pb_codec_json_to_avro() and pb_serde_encode()
 * try first: the JSON text encoded straight into Avro following the
 * schema, without a tree (records with members in any order, unions,
 * arrays, scalars and logical types). It either finishes - returns 1 with
 * out and meta exactly as pb_codec_json_to_avro() leaves them with PB_OK
 * - or declines - returns 0 with out back at its length on entry (meta
 * may hold partial results) - on any error, on anything the parser would
 * refuse (jp: the parser whose limits apply, NULL the codec's own) and on
 * anything unusual (maps, escaped member names, deep nesting); the caller
 * then runs the tree walk, which gives the verdict and the errors. So the
 * results, bytes and errors are the same with it on or off. */
int pb_codec_json_to_avro_fast(pb_codec_t *c, const pb_schema_t *s,
                               pb_json_parser_t *jp, const char *json,
                               size_t len, const pb_encode_opts_t *opts,
                               pb_buf_t *out, pb_event_meta_t *meta);
/* on = 0 turns the one-pass encoder off (always declines): for comparing
 * the two. On by default. */
void pb_codec_set_fast(pb_codec_t *c, int on);

/* After pb_json_parse() of json failed with errstr: adds that error to
 * errs as pb_codec_json_to_avro() does - at the JSON Pointer of the first
 * string holding invalid UTF-8, else at "" - without parsing again. */
void pb_codec_parse_error(const char *json, size_t len, const char *errstr,
                          pb_errors_t *errs);

/* Same, from an already parsed tree. */
pb_resp_t pb_codec_value_to_avro(pb_codec_t *c, const pb_schema_t *s,
                                 const pb_json_t *value,
                                 const pb_encode_opts_t *opts, pb_buf_t *out,
                                 pb_event_meta_t *meta, pb_errors_t *errs);

/* Avro binary body written with `writer`, read as `reader` (NULL = the
 * writer itself; otherwise resolved per the Avro spec: fields added with
 * defaults, removed fields skipped, enum symbols added, int->long/float/
 * double, long->float/double, float->double, string<->bytes), appended to
 * out as natural JSON (one line, no newline). meta may be NULL.
 * On error out is restored and errstr says what and at which pointer. */
pb_resp_t pb_codec_avro_to_json(pb_codec_t *c, const pb_schema_t *writer,
                                const pb_schema_t *reader, const uint8_t *data,
                                size_t len, pb_buf_t *out,
                                pb_event_meta_t *meta, char *errstr,
                                size_t errstr_size);

/* Decoding with reader == writer (or NULL) runs a plan compiled once per
 * writer schema and kept in the codec (same output, same verdicts; the
 * schema tree is walked only for an event the plan refuses, to say why).
 * on = 0 turns the plans off and frees them: for comparing the two. */
void pb_codec_set_plans(pb_codec_t *c, int on);

/* Validates an Avro body like pb_codec_avro_to_json() with the same
 * arguments - same bounds, same verdict, same error code and message in
 * errstr - and fills meta (may be NULL), but produces no JSON: for callers
 * that pass the body on as it is (the relay's archive sink). */
pb_resp_t pb_codec_check(pb_codec_t *c, const pb_schema_t *writer,
                         const pb_schema_t *reader, const uint8_t *data,
                         size_t len, pb_event_meta_t *meta, char *errstr,
                         size_t errstr_size);

/* The envelope alone, for a caller that reads the rest of the body later
 * with a walk that checks it (replay to CSV: pb_codec_visit): with reader
 * == writer (or NULL) and a decode plan for the writer, the top-level
 * members up to the last envelope field (event_id, occurred_at, source,
 * the key field) are checked as pb_codec_check() checks them and meta is
 * filled; the members after them are not read, so PB_OK says nothing about
 * them. In every other case - another reader, no plan, an envelope the
 * plan refuses - it is pb_codec_check() itself (the whole body, its
 * verdict and message). */
pb_resp_t pb_codec_check_envelope(pb_codec_t *c, const pb_schema_t *writer,
                                  const pb_schema_t *reader,
                                  const uint8_t *data, size_t len,
                                  pb_event_meta_t *meta, char *errstr,
                                  size_t errstr_size);

/* --- length of one encoded Avro datum ---
 * Walks the binary encoding of `s` from data without decoding it (with the
 * decoder's skip, c its scratch) and sets *used to the bytes the datum
 * occupies. PB_ERR_TRUNCATED if data ends early, PB_ERR_INVALID for a bad
 * union index or negative length, PB_ERR_LIMIT past PB_CODEC_MAX_DEPTH
 * nesting or the decoder's item bounds. */
pb_resp_t pb_avro_datum_len(pb_codec_t *c, const pb_schema_t *s,
                            const uint8_t *data, size_t len, size_t *used);

/* Bounds shared by the decoder; exceeding one is PB_ERR_LIMIT. */
#define PB_CODEC_MAX_DEPTH    64
#define PB_CODEC_MAX_JSON_OUT (64u << 20) /* bytes of JSON per event */

#ifdef __cplusplus
}
#endif
#endif
