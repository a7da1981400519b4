/* partnerbus - following Kafka topics as state: every record from the
 * beginning, then new ones as they come, on a thread of its own.
 *
 * Used for the self-service state (docs/admin.md, "Records in Kafka"): the
 * admin service and the gateways keep organisations, tokens and
 * subscriptions in memory from compacted topics. The thread creates the
 * topics when missing (compacted ones with cleanup.policy=compact), makes a
 * consumer without a group (every partition assigned, from the beginning)
 * and calls `apply` for every record in partition order. It is ready once
 * it has read every partition up to its end offset as of the start.
 * pb_follow_wait() lets a writer wait until its own acknowledged record
 * was read back (read-your-writes). */
#ifndef PB_FOLLOW_H
#define PB_FOLLOW_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_kafka.h"

typedef struct pb_follow pb_follow_t;

/* key/value NULL for a missing key / a tombstone. Called on the follower's
 * thread only. */
typedef void(pb_follow_apply_t)(void *opaque, size_t topic_idx, const char *key,
                                size_t klen, const char *value, size_t vlen,
                                int64_t timestamp_ms);

typedef struct pb_follow_topic {
        const char *name; /* full name (prefix applied); copied */
        int compact;      /* 1: created with cleanup.policy=compact */
} pb_follow_topic_t;

/* With lock held: waits on cond for at most 20 ms (a reader waiting for
 * the follower thread to read past an offset). */
void pb_follow_nap(pthread_cond_t *cond, pthread_mutex_t *lock);

/* The consumer properties of a follower, before the -X ones: fetches
 * answered within 20 ms, topics created on first use. */
extern const char *const pb_follow_consumer_defaults[2];

/* who: the service name for log lines. Starts the thread; NULL on error. */
pb_follow_t *pb_follow_new(const char *who, const pb_kafka_conf_t *conf,
                           const pb_follow_topic_t *topics, size_t ntopics,
                           pb_follow_apply_t *apply, void *opaque, char *errstr,
                           size_t errstr_size);
void pb_follow_destroy(pb_follow_t *f);
/* 1 once every topic was read up to its end offsets as of the start. */
int pb_follow_ready(pb_follow_t *f);
/* Waits until the record at topic_idx/partition/offset was applied, at
 * most until deadline_ms (pb_mono_ms). 0 when it was, -1 otherwise. */
int pb_follow_wait(pb_follow_t *f, size_t topic_idx, int32_t partition,
                   int64_t offset, int64_t deadline_ms);

#endif
