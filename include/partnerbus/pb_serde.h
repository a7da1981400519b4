/* Library: partnerbus_wire (lib/wire). */
/* partnerbus - framing and the serializer/deserializer every service uses.
 *
 * Two framings on the wire (DESIGN.md, "Avro on the wire"):
 *  - single-object encoding (default): C3 01, the 8-byte little-endian
 *    CRC-64-AVRO fingerprint of the writer schema's canonical form, body;
 *  - Confluent wire format (with a schema registry): 00, the 4-byte
 *    big-endian schema id, body.
 * Readers detect the framing by the first byte. */
#ifndef PB_SERDE_H
#define PB_SERDE_H

#include "pb_codec.h"
#include "pb_common.h"
#include "pb_schema.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pb_framing {
        PB_FRAMING_SINGLE_OBJECT = 0,
        PB_FRAMING_CONFLUENT = 1,
} pb_framing_t;

typedef struct pb_frame {
        pb_framing_t framing;
        uint64_t fingerprint; /* SINGLE_OBJECT */
        uint32_t schema_id;   /* CONFLUENT */
        const uint8_t *body;
        size_t body_len;
} pb_frame_t;

#define PB_SOE_HEADER_LEN       10
#define PB_CONFLUENT_HEADER_LEN 5

/* Parses the frame header; body points into data. PB_ERR_TRUNCATED if too
 * short, PB_ERR_INVALID with errstr on an unknown magic. */
pb_resp_t pb_frame_parse(const uint8_t *data, size_t len, pb_frame_t *f,
                         char *errstr, size_t errstr_size);
pb_resp_t pb_frame_write_soe(pb_buf_t *out, uint64_t fingerprint);
pb_resp_t pb_frame_write_confluent(pb_buf_t *out, uint32_t schema_id);

/* --- an HTTP answer collected with a bound (libcurl) --- */
typedef struct pb_http_body {
        pb_buf_t buf; /* the answer so far; buf.max bounds it */
        int over;     /* it outgrew buf.max: the transfer was stopped */
} pb_http_body_t;

/* A CURLOPT_WRITEFUNCTION whose CURLOPT_WRITEDATA is a pb_http_body_t:
 * appends, or stops the transfer when out of memory or over the bound. */
size_t pb_http_body_write(char *p, size_t size, size_t n, void *ud);

/* --- Confluent Schema Registry client (libcurl + cJSON) --- */
typedef struct pb_registry pb_registry_t;

/* Bounds and defaults of the client (see docs/schema-registry.md). */
#define PB_REGISTRY_MAX_BODY           (4u << 20) /* largest response accepted */
#define PB_REGISTRY_CONNECT_TIMEOUT_MS 5000L      /* default connect timeout */
#define PB_REGISTRY_TIMEOUT_MS         30000L /* default whole-request timeout */
#define PB_REGISTRY_MAX_SCHEMAS        1024   /* ids whose schemas are cached */
#define PB_REGISTRY_MAX_SUBJECT_IDS    1024   /* cached (subject, schema) ids */

/* url: base URL, e.g. http://127.0.0.1:8081 or
 * http://host:8080/apis/ccompat/v7 (trailing slash tolerated). Basic auth:
 * user:password in the URL, else $PARTNERBUS_SCHEMA_REGISTRY_AUTH
 * ("user:password"); never shown in errors. Thread-safe (one mutex). */
pb_registry_t *pb_registry_new(const char *url, char *errstr,
                               size_t errstr_size);
void pb_registry_destroy(pb_registry_t *r);
/* Overrides the timeouts (ms); a value <= 0 keeps the current one. */
void pb_registry_set_timeouts(pb_registry_t *r, long connect_timeout_ms,
                              long timeout_ms);
/* The base URL without credentials, for messages. */
const char *pb_registry_url(const pb_registry_t *r);
/* POST /subjects/{subject}/versions; id cached per fingerprint. */
pb_resp_t pb_registry_register(pb_registry_t *r, const char *subject,
                               const pb_schema_t *s, uint32_t *id, char *errstr,
                               size_t errstr_size);
/* GET /schemas/ids/{id}; compiled schema cached per id; the returned
 * schema is owned by the registry and valid until pb_registry_destroy.
 * PB_ERR_UNKNOWN_SCHEMA if the registry does not know the id (404/40403),
 * PB_ERR_HTTP for other HTTP and transport errors, PB_ERR_LIMIT for an
 * oversized response or a full cache, PB_ERR_PARSE for a malformed one. */
pb_resp_t pb_registry_lookup(pb_registry_t *r, uint32_t id,
                             const pb_schema_t **s, char *errstr,
                             size_t errstr_size);

/* --- serde: schema catalog + optional registry + codec scratch --- */
typedef struct pb_serde pb_serde_t;

/* catalog: the local schemas (reader schemas, and writer schemas for
 * single-object encoding); not owned. registry may be NULL (then
 * single-object encoding); not owned. */
pb_serde_t *pb_serde_new(const pb_schemas_t *catalog, pb_registry_t *registry,
                         char *errstr, size_t errstr_size);
void pb_serde_destroy(pb_serde_t *sd);

/* JSON event of type s -> framed Avro in out (appended). Subject for the
 * registry: "<topic>-value" (TopicNameStrategy), topic given by caller.
 * Tries the codec's one-pass encoder first (no JSON tree; the header is
 * written once the body is done, so an event the tree path would refuse
 * never reaches the registry) and falls back to pb_serde_encode_text():
 * the same result, bytes, meta and errors either way. */
pb_resp_t pb_serde_encode(pb_serde_t *sd, const pb_schema_t *s,
                          const char *topic, const char *json, size_t len,
                          const pb_encode_opts_t *opts, pb_buf_t *out,
                          pb_event_meta_t *meta, pb_errors_t *errs);

/* Framed Avro -> natural JSON of the local reader schema with the same
 * partnerbus.type as the writer (or the writer itself if none), appended to
 * out. *type_out (may be NULL) receives the reader schema. */
pb_resp_t pb_serde_decode(pb_serde_t *sd, const uint8_t *data, size_t len,
                          const pb_schema_t **type_out, pb_buf_t *out,
                          pb_event_meta_t *meta, char *errstr,
                          size_t errstr_size);

/* Same as pb_serde_decode() - same frame and schema lookup, same verdict
 * and errstr - without producing JSON (pb_codec_check). *writer_out and
 * *body_off (each may be NULL) receive the writer schema and the offset
 * of the Avro body in data. */
pb_resp_t pb_serde_check(pb_serde_t *sd, const uint8_t *data, size_t len,
                         const pb_schema_t **type_out,
                         const pb_schema_t **writer_out, size_t *body_off,
                         pb_event_meta_t *meta, char *errstr,
                         size_t errstr_size);

pb_codec_t *pb_serde_codec(pb_serde_t *sd);

/* --- one pass at the boundary: each message parsed and framed once --- */

/* One event to encode, and what the call found out. */
typedef struct pb_serde_enc {
        const pb_schema_t *schema;    /* writer schema of the event */
        const char *topic;            /* subject "<topic>-value"; NULL: the
                                         type name */
        const pb_encode_opts_t *opts; /* may be NULL */
        /* the calling thread's codec scratch; NULL: the serde's own. With
         * a codec (and a parser for _text) of its own, a thread uses the
         * serde only to read it, so one serde may serve many threads. */
        pb_codec_t *codec;
        /* out: 1 when the call failed on the schema registry (a server
         * side failure, errs says why), 0 when the event was at fault */
        int registry_failed;
        /* out (_text): the parsed event, NULL if the text is not JSON;
         * valid until the next parse with the same parser */
        const pb_json_t *tree;
} pb_serde_enc_t;

/* Parsed JSON event -> frame header and Avro body appended to out in one
 * pass; on failure out is cut back to its length on entry. Errors name
 * their JSON Pointer (PB_ERR_INVALID lists every schema violation). */
pb_resp_t pb_serde_encode_value(pb_serde_t *sd, pb_serde_enc_t *e,
                                const pb_json_t *value, pb_buf_t *out,
                                pb_event_meta_t *meta, pb_errors_t *errs);

/* JSON text parsed once with jp (NULL: the serde's own parser), then
 * pb_serde_encode_value(). A syntax error is PB_ERR_PARSE with one error,
 * at the member whose string holds invalid UTF-8 or at "" - the same
 * errors as pb_serde_encode(), with no second parse. */
pb_resp_t pb_serde_encode_text(pb_serde_t *sd, pb_serde_enc_t *e,
                               pb_json_parser_t *jp, const char *json,
                               size_t len, pb_buf_t *out, pb_event_meta_t *meta,
                               pb_errors_t *errs);

/* One framed message, unframed once. */
typedef struct pb_serde_msg {
        pb_frame_t frame;
        const pb_schema_t *writer; /* from the catalog or the registry */
        const pb_schema_t *reader; /* local schema of the writer's type, or
                                      the writer */
        size_t body_off;           /* offset of the Avro body in data */
} pb_serde_msg_t;

/* Parses the frame and looks the writer up once, fills msg, then decodes
 * the body to natural JSON appended to out - or, with out NULL, only
 * validates it (pb_codec_check: same verdict and errstr). Same errors as
 * pb_serde_decode(); msg is filled as far as the call got (writer NULL
 * when the frame or the schema lookup failed). */
pb_resp_t pb_serde_read(pb_serde_t *sd, const uint8_t *data, size_t len,
                        pb_serde_msg_t *msg, pb_buf_t *out,
                        pb_event_meta_t *meta, char *errstr,
                        size_t errstr_size);
/* The same with out NULL, but the body's envelope alone is checked
 * (pb_codec_check_envelope): for a caller that walks the rest with a
 * walk that checks it. */
pb_resp_t pb_serde_read_envelope(pb_serde_t *sd, const uint8_t *data,
                                 size_t len, pb_serde_msg_t *msg,
                                 pb_event_meta_t *meta, char *errstr,
                                 size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
