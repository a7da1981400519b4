/* Library: partnerbus_kafka (lib/kafka). */
/* partnerbus - Kafka producer and consumer on librdkafka.
 *
 * The producer is idempotent with acks=all; every send gets exactly one
 * delivery report through the callback (from pb_producer_poll/flush, on
 * the calling thread). Messages carry CloudEvents binary-mode headers
 * (ce_specversion, ce_id, ce_source, ce_type, ce_time, content-type).
 * Any librdkafka property passes through as key=value (-X in the CLI). */
#ifndef PB_KAFKA_H
#define PB_KAFKA_H

#include "pb_codec.h"
#include "pb_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PB_KAFKA_MAX_PROPS 128

typedef struct pb_kafka_conf {
        const char *brokers;      /* bootstrap.servers; NULL = error */
        const char *topic_prefix; /* prepended to the event type, may be NULL */
        /* librdkafka properties "key=value", applied after our defaults */
        const char *props[PB_KAFKA_MAX_PROPS];
        size_t nprops;
} pb_kafka_conf_t;

/* Adds "key=value" (pointer kept, not copied). PB_ERR_ARG if malformed. */
pb_resp_t pb_kafka_conf_add(pb_kafka_conf_t *c, const char *kv);
/* topic for an event type: prefix + type, into buf. */
const char *pb_kafka_topic(const pb_kafka_conf_t *c, const char *type,
                           char *buf, size_t size);

/* --- producer --- */
typedef struct pb_producer pb_producer_t;

/* Called once per sent message. err PB_OK means acknowledged by all
 * in-sync replicas; PB_ERR_KAFKA means not stored; PB_ERR_UNCERTAIN means
 * the write failed after the broker may have stored it (librdkafka's
 * RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED, e.g. message.timeout.ms expired
 * while in flight). errstr describes a failure. */
typedef void(pb_delivery_cb_t)(void *opaque, void *msg_opaque, pb_resp_t err,
                               const char *errstr, const char *topic,
                               int32_t partition, int64_t offset);

pb_producer_t *pb_producer_new(const pb_kafka_conf_t *conf,
                               pb_delivery_cb_t *cb, void *opaque, char *errstr,
                               size_t errstr_size);
void pb_producer_destroy(pb_producer_t *p); /* flushes up to 10 s first */

/* Enqueues one event. ce_type is the event type; meta supplies key and
 * CloudEvents headers; extra_headers (may be NULL) are "name", "value"
 * pairs, NULL-terminated. Copies value. PB_ERR_LIMIT when the local queue
 * is full (poll and retry). */
pb_resp_t pb_producer_send(pb_producer_t *p, const char *topic,
                           const char *ce_type, const pb_event_meta_t *meta,
                           const void *value, size_t len,
                           const char *const *extra_headers, void *msg_opaque,
                           char *errstr, size_t errstr_size);
/* Raw send: no CloudEvents headers (dead-letter, republish). headers as
 * above; key may be NULL. */
pb_resp_t pb_producer_send_raw(pb_producer_t *p, const char *topic,
                               const void *key, size_t keylen,
                               const void *value, size_t len,
                               const char *const *headers, void *msg_opaque,
                               char *errstr, size_t errstr_size);
int pb_producer_poll(pb_producer_t *p, int timeout_ms);
/* PB_OK when every message got its report; PB_ERR_KAFKA on timeout. */
pb_resp_t pb_producer_flush(pb_producer_t *p, int timeout_ms);
int pb_producer_outq_len(pb_producer_t *p);
/* librdkafka handle, for services that need more (rd_kafka_t *). */
void *pb_producer_rk(pb_producer_t *p);

/* --- consumer --- */
typedef struct pb_consumer pb_consumer_t;

typedef struct pb_message {
        const char *topic;
        int32_t partition;
        int64_t offset;
        int64_t timestamp_ms; /* -1 if none */
        const void *key;
        size_t key_len;
        const void *value;
        size_t len;
        void *_rkmessage; /* rd_kafka_message_t *, owned by the consumer */
} pb_message_t;

typedef struct pb_consumer_opts {
        const char *group;      /* NULL: no group, manual assignment */
        int from_beginning;     /* auto.offset.reset=earliest / start at
                                   OFFSET_BEGINNING without group */
        int stop_at_end;        /* report when every assigned partition
                                   reached its end (see pb_consumer_poll) */
        int enable_auto_commit; /* default 0: caller commits */
} pb_consumer_opts_t;

pb_consumer_t *pb_consumer_new(const pb_kafka_conf_t *conf,
                               const pb_consumer_opts_t *opts,
                               const char *const *topics, size_t ntopics,
                               char *errstr, size_t errstr_size);
void pb_consumer_destroy(pb_consumer_t *c); /* closes (leaves the group) */

/* Waits up to timeout_ms for a message. PB_OK with *msg filled (valid until
 * the next poll or pb_message_release); PB_ERR_TRUNCATED when, with
 * stop_at_end, every assigned partition reached its end; PB_ERR_LIMIT on
 * timeout; PB_ERR_KAFKA on a fatal error (errstr). */
pb_resp_t pb_consumer_poll(pb_consumer_t *c, pb_message_t *msg, int timeout_ms,
                           char *errstr, size_t errstr_size);
void pb_message_release(pb_message_t *msg);
/* Header value by name (last occurrence), NULL if none. */
const void *pb_message_header(const pb_message_t *msg, const char *name,
                              size_t *len);
/* Iterate headers: returns 0 when idx is past the end. */
int pb_message_header_at(const pb_message_t *msg, size_t idx, const char **name,
                         const void **value, size_t *len);
/* Stores offset+1 of msg for the next commit (commit after the sink
 * confirmed). */
pb_resp_t pb_consumer_store(pb_consumer_t *c, const pb_message_t *msg);
pb_resp_t pb_consumer_commit(pb_consumer_t *c, int async);
void *pb_consumer_rk(pb_consumer_t *c);

/* --- embedded development broker (librdkafka mock cluster) --- */
typedef struct pb_mock_broker pb_mock_broker_t;
pb_mock_broker_t *pb_mock_broker_new(int brokers, char *errstr,
                                     size_t errstr_size);
void pb_mock_broker_destroy(pb_mock_broker_t *m);
const char *pb_mock_broker_bootstraps(const pb_mock_broker_t *m);

#ifdef __cplusplus
}
#endif
#endif
