/* partnerbus - the sink connector interface (relay, replay --to).
 *
 * Modelled on Fluent Bit's output plugins: each sink is one const struct of
 * callbacks (pb_sink_plugin_t) in its own folder under connectors/, and a
 * registry finds it by name ("webhook", "archive", "jsonl"). The relay owns
 * the Kafka side (offsets, retries, dead-letter topic); a sink only writes
 * batches and says how it went:
 *
 *   opts / settings_size    the sink's own option table (pb_optmap.h):
 *                           name, type, default, help, secret; offsets
 *                           into the sink's settings struct. The relay
 *                           composes it into its flags, environment and
 *                           config file as <opt_prefix><name>
 *                           (--webhook-timeout, PARTNERBUS_WEBHOOK_TIMEOUT);
 *                           a JSON object configures it with
 *                           pb_sink_settings_json()
 *   init(target, settings)  the part after "name:" in --sink, plus the
 *                           sink's settings struct, already parsed
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
 * Optionally a sink keeps several writes in flight (the webhook: one HTTP
 * request each, over libcurl multi). The relay then hands it events one
 * write at a time with submit() and collects outcomes with poll(); it
 * alone decides what may run at the same time (one event per key in
 * flight, so order per key holds):
 *   submit(events, n, tag)  starts one write of n events; copies what it
 *                           needs (the events may go away after the call);
 *                           1: taken; 0: not taken, the sink's bound on
 *                           writes or bytes in flight is reached (poll
 *                           first); never calls back
 *   poll(timeout_ms, done, max)
 *                           drives the writes for at most timeout_ms
 *                           (0: only what is ready) and returns up to max
 *                           finished ones as (tag, status), each once
 *   in_flight()             writes submitted and not yet returned by poll
 * write() stays usable on such a sink (it submits and waits for its own
 * outcome; other writes' outcomes stay queued for poll()).
 *
 * Callbacks are called from one thread. Sinks never print secrets: reasons
 * and log lines name URLs without credentials. */
#ifndef PB_CONNECTOR_H
#define PB_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_common.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_optmap.h"
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

typedef struct pb_sink pb_sink_t; /* a plugin's private state */

/* One finished asynchronous write (submit/poll). */
typedef struct pb_sink_done {
        uint64_t tag; /* as given to submit() */
        pb_sink_status_t status;
        int64_t elapsed_ms; /* submit to outcome */
} pb_sink_done_t;

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
        /* the sink's options; settings_size bytes hold the struct the
         * offsets point into; the relay's names are opt_prefix + name */
        const pb_opt_t *opts;
        size_t nopts;
        size_t settings_size;
        const char *opt_prefix; /* "webhook-" */
        /* settings: the struct described by opts, parsed (valid until
         * destroy(): strings in it are not copied) */
        pb_sink_t *(*init)(const char *target, const void *settings,
                           char *errstr, size_t errstr_size);
        void (*write)(pb_sink_t *s, const pb_sink_event_t *events, size_t n,
                      pb_sink_status_t *status);
        pb_resp_t (*flush)(pb_sink_t *s, char *errstr, size_t errstr_size);
        void (*destroy)(pb_sink_t *s);
        /* optional (NULL: write() only); see above */
        int (*submit)(pb_sink_t *s, const pb_sink_event_t *events, size_t n,
                      uint64_t tag);
        size_t (*poll)(pb_sink_t *s, int timeout_ms, pb_sink_done_t *done,
                       size_t max);
        size_t (*in_flight)(pb_sink_t *s);
} pb_sink_plugin_t;

/* Defines the plugin pb_sink_NAME from what its file names by convention:
 * the option table NAME_opts, the settings type NAME_settings_t, the
 * prefix "NAME-" and the functions NAME_batch_hint, NAME_init,
 * NAME_write, NAME_flush and NAME_destroy. */
#define PB_SINK_PLUGIN(NAME, DESCRIPTION, NEEDS_JSON)                          \
        const pb_sink_plugin_t pb_sink_##NAME = {                              \
            #NAME,                                                             \
            DESCRIPTION,                                                       \
            NEEDS_JSON,                                                        \
            NAME##_batch_hint,                                                 \
            NAME##_opts,                                                       \
            sizeof(NAME##_opts) / sizeof(NAME##_opts[0]),                      \
            sizeof(NAME##_settings_t),                                         \
            #NAME "-",                                                         \
            NAME##_init,                                                       \
            NAME##_write,                                                      \
            NAME##_flush,                                                      \
            NAME##_destroy,                                                    \
            NULL,                                                              \
            NULL,                                                              \
            NULL,                                                              \
        }

/* The registry. */
const pb_sink_plugin_t *pb_sink_plugin_find(const char *name);
const pb_sink_plugin_t *pb_sink_plugin_at(size_t i); /* NULL past the end */

extern const pb_sink_plugin_t pb_sink_webhook;
extern const pb_sink_plugin_t pb_sink_archive;
extern const pb_sink_plugin_t pb_sink_jsonl;

const char *pb_sink_result_name(pb_sink_result_t r);

/* A settings struct for plugin p with every default applied (free()); NULL
 * with errstr on failure. */
void *pb_sink_settings_new(const pb_sink_plugin_t *p, char *errstr,
                           size_t errstr_size);
/* Configures settings from a JSON object whose members are the sink's
 * option names without prefix ({"timeout": "10s", "batch-size": 20}):
 * see pb_optmap_apply_json() (errors carry JSON Pointers below ptr).
 * Strings point into the JSON tree. Returns the number of errors. */
int pb_sink_settings_json(const pb_sink_plugin_t *p, void *settings,
                          const pb_json_t *obj, const char *ptr, char *errstr,
                          size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
