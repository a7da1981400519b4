/* Library: partnerbus_kafka (lib/kafka). */
/* partnerbus - Kafka producer, consumer, admin helpers and transactions
 * on librdkafka.
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
/* out: base's brokers (no topic prefix), our defaults (ndefaults
 * "key=value" strings, kept as pointers), then base's -X properties after
 * them so they win - except those starting with skip (NULL: none). */
void pb_kafka_conf_layer(pb_kafka_conf_t *out, const pb_kafka_conf_t *base,
                         const char *const *defaults, size_t ndefaults,
                         const char *skip);
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
 * pairs, NULL-terminated. Copies value. PB_ERR_QUEUE_FULL when the local
 * queue is full (poll and retry). */
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
/* Asks the broker for topic's metadata and waits up to timeout_ms for it,
 * so that the first messages go to their partitions directly (a topic the
 * broker creates on demand is created now). Before a burst of messages: on
 * librdkafka 2.0 an idempotent producer whose first messages waited for
 * the topic's metadata sometimes holds them for about a second. PB_OK, or
 * PB_ERR_KAFKA (the first send then waits for the metadata as usual). */
pb_resp_t pb_producer_warm(pb_producer_t *p, const char *topic, int timeout_ms);
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
        int end_taken_at_start; /* with stop_at_end, no group: a partition
                                   ends at its end offset when assigned,
                                   not at an earlier EOF (pb_kafka.c) */
        int enable_auto_commit; /* default 0: caller commits */
} pb_consumer_opts_t;

pb_consumer_t *pb_consumer_new(const pb_kafka_conf_t *conf,
                               const pb_consumer_opts_t *opts,
                               const char *const *topics, size_t ntopics,
                               char *errstr, size_t errstr_size);
void pb_consumer_destroy(pb_consumer_t *c); /* closes (leaves the group) */

/* Waits up to timeout_ms for a message. PB_OK with *msg filled (valid until
 * the next poll or pb_message_release); PB_END when, with stop_at_end,
 * every assigned partition reached its end; PB_ERR_TIMEOUT when nothing
 * came within timeout_ms; PB_ERR_KAFKA on a fatal error (errstr). */
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
/* Assignments this consumer has had (a counter that grows with every
 * rebalance that assigns; eager rebalances revoke and assign everything).
 * pb_consumer_assigned_in: the number of the assignment that gave this
 * partition to the consumer, 0 when it is not assigned. A partition taken
 * away and given back has a new number, so a caller that keeps state per
 * partition sees the revocation even when it did not poll in between. */
uint64_t pb_consumer_assign_seq(const pb_consumer_t *c);
uint64_t pb_consumer_assigned_in(pb_consumer_t *c, const char *topic,
                                 int32_t partition);
/* Pauses (pause=1) or resumes (0) fetching one partition; returns when
 * librdkafka has done it. Use this rather than rd_kafka_pause_partitions:
 * the consumer remembers the pause, so that a partition revoked while
 * paused and assigned again comes back unpaused, and it does not resume a
 * partition it did not pause (before librdkafka 2.4.0 that can leave a
 * just assigned partition unfetched, librdkafka #4636). PB_ERR_NOMEM: nothing
 * changed. */
pb_resp_t pb_consumer_pause(pb_consumer_t *c, const char *topic,
                            int32_t partition, int pause);

/* Makes rk stop fetching: drops a group-less consumer's assignment (the
 * history source assigns per partition itself, --reset-group only uses
 * the consumer's connections). PB_ERR_KAFKA on failure. */
pb_resp_t pb_consumer_unassign(pb_consumer_t *c);

/* --- admin helpers (lib/kafka/pb_kafka_admin.c) ---
 *
 * They take the librdkafka handle of a producer or consumer
 * (pb_producer_rk / pb_consumer_rk) and use its connections; none makes a
 * client of its own. errstr (may be NULL) describes a failure. */

/* Topic creation. A topic that exists is left as it is (its config is not
 * changed). */
typedef struct pb_topic_spec {
        const char *name;
        int partitions;  /* -1: broker default */
        int replication; /* -1: broker default */
        /* topic config "name", "value" pairs, NULL-terminated; may be NULL */
        const char *const *config;
        int timeout_ms; /* broker operation timeout; the answer is awaited
                           twice as long */
} pb_topic_spec_t;

typedef enum pb_topic_res {
        PB_TOPIC_CREATED = 0,
        PB_TOPIC_EXISTS,    /* it existed already */
        PB_TOPIC_ERROR,     /* the request failed (errstr) */
        PB_TOPIC_REFUSED,   /* the broker refused to create it (errstr) */
        PB_TOPIC_NO_ANSWER, /* no answer in time: it may or may not exist */
} pb_topic_res_t;

pb_topic_res_t pb_kafka_topic_ensure(void *rk, const pb_topic_spec_t *spec,
                                     char *errstr, size_t errstr_size);

/* Offsets per partition: every partition of some topics with its
 * watermarks, then (on request) the offset for a point in time or a
 * group's committed offset. */
typedef struct pb_partition_offset {
        const char *topic; /* the caller's string, not copied */
        int32_t partition;
        int64_t low, high; /* watermarks when listed */
        int64_t offset;    /* set by the calls below; -1 until then */
} pb_partition_offset_t;

typedef struct pb_kafka_offsets {
        pb_partition_offset_t *p;
        size_t n;
} pb_kafka_offsets_t;

/* Lists the partitions of the topics (metadata) and their watermarks.
 * NULL with errstr ("topic T: ...", "end offsets of T [P]: ..."). */
pb_kafka_offsets_t *pb_kafka_offsets_new(void *rk, const char *const *topics,
                                         size_t ntopics, int timeout_ms,
                                         char *errstr, size_t errstr_size);
void pb_kafka_offsets_destroy(pb_kafka_offsets_t *o); /* NULL is fine */

/* Time -> offsets (ListOffsets by time): per partition the first offset
 * whose Kafka timestamp is >= time_ms, the high watermark where there is
 * none. A broker that cannot look offsets up by time answers with
 * errors, or (librdkafka's mock cluster) with the end offset for every
 * time: a probe with time 0 on every non-empty partition, which must give
 * its low watermark, detects the latter. PB_OK; PB_ERR_KAFKA with errstr
 * (librdkafka's text) when offsets by time are not available: the
 * offsets are then left as they were. */
pb_resp_t pb_kafka_offsets_for_time(void *rk, pb_kafka_offsets_t *o,
                                    int64_t time_ms, int timeout_ms,
                                    char *errstr, size_t errstr_size);

/* Consumer groups. pb_kafka_group_active: *active 1 when the group has
 * members or a state other than Empty, Dead or Unknown, 0 when not (also
 * when it does not exist); why describes the group ("group G is Empty
 * with 0 member(s)") or the error (PB_ERR_KAFKA; PB_ERR_TIMEOUT when
 * no answer came). */
pb_resp_t pb_kafka_group_active(void *rk, const char *group, int timeout_ms,
                                int *active, char *why, size_t why_size);
/* Commits o's offsets for the group (AlterConsumerGroupOffsets; the
 * broker refuses while the group has members). Every partition's result
 * is checked. PB_OK, PB_ERR_KAFKA or PB_ERR_TIMEOUT (no answer) with
 * errstr. */
pb_resp_t pb_kafka_group_commit(void *rk, const char *group,
                                const pb_kafka_offsets_t *o, int timeout_ms,
                                char *errstr, size_t errstr_size);
/* Reads the group's committed offsets of o's partitions into o (-1 where
 * none is committed). PB_OK, PB_ERR_KAFKA or PB_ERR_TIMEOUT (no answer)
 * with errstr. */
pb_resp_t pb_kafka_group_read(void *rk, const char *group,
                              pb_kafka_offsets_t *o, int timeout_ms,
                              char *errstr, size_t errstr_size);

/* --- transactions ---
 *
 * For a producer made with transactional.id=... (-X or added to the conf).
 * init fences an older producer with the same id and aborts its open
 * transaction; pb_producer_send and pb_producer_send_raw between begin
 * and commit join the open transaction; commit flushes first. */
typedef enum pb_txn_res {
        PB_TXN_OK = 0,
        PB_TXN_RETRIABLE, /* the same call may be repeated */
        PB_TXN_ABORTABLE, /* abort the transaction; the producer stays usable */
        PB_TXN_FATAL,     /* fenced by a newer producer with the id, or fatal:
                             the producer is unusable */
} pb_txn_res_t;

pb_txn_res_t pb_producer_txn_init(pb_producer_t *p, int timeout_ms,
                                  char *errstr, size_t errstr_size);
pb_txn_res_t pb_producer_txn_begin(pb_producer_t *p, char *errstr,
                                   size_t errstr_size);
pb_txn_res_t pb_producer_txn_commit(pb_producer_t *p, int timeout_ms,
                                    char *errstr, size_t errstr_size);
pb_txn_res_t pb_producer_txn_abort(pb_producer_t *p, int timeout_ms,
                                   char *errstr, size_t errstr_size);

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
