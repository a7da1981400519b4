/* partnerbus - the sink connector interface (relay, replay --to).
 *
 * Modelled on Fluent Bit's output plugins: each sink is one const struct of
 * callbacks (pb_sink_plugin_t) in its own folder under connectors/, and a
 * registry finds it by name ("webhook", "archive", "jsonl"). The relay owns
 * the Kafka side (offsets, retries, dead-letter topic); a sink only writes
 * batches and says how it went:
 *
 *   init(target, settings)  the part after "name:" in --sink, plus the
 *                           sink's settings (key/value, from the relay's
 *                           option table: flags > env > config file)
 *   write(batch)            PB_SINK_OK: every event in the batch is
 *                           accepted (not necessarily durable yet);
 *                           PB_SINK_RETRY: transient, try again later,
 *                           status.retry_after_ms if the peer said so;
 *                           PB_SINK_PERMANENT: the batch can never be
 *                           written (status.reason says why)
 *   flush()                 makes every accepted event durable (fsync);
 *                           the relay commits offsets only after it
 *   destroy()               flushes what it can and frees (NULL ok)
 *
 * Callbacks are called from one thread. Sinks never print secrets: reasons
 * and log lines name URLs without credentials. */
#ifndef PB_CONNECTOR_H
#define PB_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_common.h"
#include "partnerbus/pb_schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One decoded event handed to a sink. Pointers are valid during write(). */
typedef struct pb_sink_event {
        const char *topic;
        int32_t partition;
        int64_t offset;
        int64_t timestamp_ms; /* Kafka timestamp, -1 if none */
        const void *key;
        size_t key_len;
        const char *type;          /* partnerbus type, "aid.dispatched" */
        const pb_schema_t *writer; /* schema the body was written with */
        const uint8_t *body;       /* Avro binary body (no framing) */
        size_t body_len;
        const char *json; /* natural JSON, one line; "" when the
                             plugin has needs_json = 0 and no
                             filter needed it */
        size_t json_len;
        const pb_event_meta_t *meta; /* event_id, source, occurred_at */
} pb_sink_event_t;

typedef enum pb_sink_result {
        PB_SINK_OK = 0,
        PB_SINK_RETRY,
        PB_SINK_PERMANENT,
} pb_sink_result_t;

typedef struct pb_sink_status {
        pb_sink_result_t result;
        int64_t retry_after_ms; /* RETRY: >0 when the peer asked for it */
        int http_status;        /* webhook: last HTTP status, 0 if none */
        char reason[256];       /* why (no secrets) */
} pb_sink_status_t;

/* Sink settings: key/value pairs, both owned by the caller and valid until
 * destroy(). Keys are the relay option names without the sink prefix
 * ("timeout", "secret", "max-size"). */
#define PB_SINK_MAX_SETTINGS 64
typedef struct pb_sink_settings {
        const char *key[PB_SINK_MAX_SETTINGS];
        const char *value[PB_SINK_MAX_SETTINGS];
        size_t n;
} pb_sink_settings_t;

void pb_sink_settings_set(pb_sink_settings_t *s, const char *key,
                          const char *value);
/* Last value for key, or def. */
const char *pb_sink_setting(const pb_sink_settings_t *s, const char *key,
                            const char *def);
/* Parsed values; -1 / 0 on a malformed value (errstr). */
int64_t pb_sink_setting_ms(const pb_sink_settings_t *s, const char *key,
                           const char *def, char *errstr, size_t errstr_size);
int64_t pb_sink_setting_bytes(const pb_sink_settings_t *s, const char *key,
                              const char *def, char *errstr,
                              size_t errstr_size);
int pb_sink_setting_bool(const pb_sink_settings_t *s, const char *key, int def);

typedef struct pb_sink pb_sink_t; /* a plugin's private state */

typedef struct pb_sink_plugin {
        const char *name;
        const char *description;
        /* 1: write() reads pb_sink_event_t's JSON; 0: the sink stores the
         * Avro body as it came (the relay then only validates the body,
         * unless a --where filter needs the JSON anyway) */
        int needs_json;
        /* events per write() the sink prefers when batching is on (1 =
         * one event per call) - the relay may pass fewer */
        size_t (*batch_hint)(pb_sink_t *s);
        pb_sink_t *(*init)(const char *target,
                           const pb_sink_settings_t *settings, char *errstr,
                           size_t errstr_size);
        void (*write)(pb_sink_t *s, const pb_sink_event_t *events, size_t n,
                      pb_sink_status_t *status);
        pb_resp_t (*flush)(pb_sink_t *s, char *errstr, size_t errstr_size);
        void (*destroy)(pb_sink_t *s);
} pb_sink_plugin_t;

/* The registry. */
const pb_sink_plugin_t *pb_sink_plugin_find(const char *name);
const pb_sink_plugin_t *pb_sink_plugin_at(size_t i); /* NULL past the end */

extern const pb_sink_plugin_t pb_sink_webhook;
extern const pb_sink_plugin_t pb_sink_archive;
extern const pb_sink_plugin_t pb_sink_jsonl;

const char *pb_sink_result_name(pb_sink_result_t r);

#ifdef __cplusplus
}
#endif
#endif
