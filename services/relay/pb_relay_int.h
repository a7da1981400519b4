/* partnerbus relay - what the relay fleet (pb_cmd_fleet.c) shares with the
 * relay's delivery core (pb_cmd_relay.c).
 *
 * The fleet runs one relay core per subscription, each in its own thread
 * with its own consumer (group partnerbus.sub.<id>) and its own sink. The
 * fleet's control thread talks to a worker only through its link: a new
 * delivery configuration (filters per type, projection, sink, batch, rate,
 * retry) handed over under the link's mutex and swapped in by the worker
 * between two batches; a retransmit request; the stop flag; and the
 * worker's statistics for the status records. */
#ifndef PB_RELAY_INT_H
#define PB_RELAY_INT_H

#include <pthread.h>
#include <stdint.h>

#include "partnerbus/pb_filter.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_metrics.h"
#include "partnerbus/pb_projection.h"
#include "pb_cli.h"
#include "pb_connector.h"

#define PB_RELAY_TYPES_MAX 64

/* One version of a subscription's delivery settings (built by the fleet,
 * owned by the worker once handed over). */
typedef struct pb_relay_subconf {
        /* per readable type: the subscription's where AND the org's
         * mandatory read filter; a type not listed is not delivered */
        char *types[PB_RELAY_TYPES_MAX];
        pb_filter_t *filters[PB_RELAY_TYPES_MAX];
        size_t ntypes;
        pb_projection_t *proj; /* NULL: every field */
        const pb_sink_plugin_t *plugin;
        pb_sink_t *sink;
        void *sink_settings;       /* the settings the sink was made from */
        pb_json_parser_t *sink_jp; /* its strings point into this tree */
        size_t batch_max;
        double rate_per_s; /* 0: unlimited */
        int64_t retry_max_time;
} pb_relay_subconf_t;

void pb_relay_subconf_free(pb_relay_subconf_t *c); /* NULL is fine */

#define PB_RELAY_RING 10

typedef struct pb_relay_err {
        int64_t at_ms;
        int status; /* HTTP status, 0: transport error */
        char message[200];
} pb_relay_err_t;

typedef struct pb_relay_dead {
        int64_t at_ms;
        char event_id[40];
        char topic[256];
        int32_t partition;
        int64_t offset;
        char reason[200];
} pb_relay_dead_t;

typedef struct pb_relay_stats {
        long delivered, failed;
        int64_t last_delivery_ms, last_success_ms; /* wall clock, 0 never */
        int consecutive_failures;
        int last_failure_transport; /* the last failure reached no peer */
        int64_t last_dead_ms;
        int64_t lag_events, lag_seconds;
        int assigned;    /* partitions assigned to this member */
        int holds_first; /* it holds partition 0 of the first topic */
        pb_relay_err_t errors[PB_RELAY_RING];
        size_t nerrors; /* total ever; ring index = n % RING */
        pb_relay_dead_t dead[PB_RELAY_RING];
        size_t ndead;
} pb_relay_stats_t;

typedef struct pb_relay_link {
        pthread_mutex_t mu;
        pb_relay_subconf_t *pending; /* taken (and then owned) by the worker */
        int64_t retransmit_from;     /* ms since the epoch, -1: none */
        pb_relay_stats_t stats;
        volatile int stop;
} pb_relay_link_t;

typedef struct relay relay_t;

/* What a worker needs besides its subscription's settings. */
typedef struct pb_relay_worker_spec {
        const pb_cli_common_t *cc; /* brokers, -X, topic prefix */
        const char *group;
        const char *const *topics; /* full topic names */
        size_t ntopics;
        const pb_schemas_t *catalog; /* shared, read-only */
        pb_metrics_t *metrics;       /* shared */
        const char *dlq_suffix;
        int64_t retry_initial, retry_max_backoff, batch_linger, commit_interval;
        /* the pipeline's bound (a subscription delivered one event per
         * request, without a rate limit, keeps several in flight) */
        long max_pending;
        size_t max_pending_bytes;
        /* consumer properties applied before the -X ones */
        const char *const *props;
        size_t nprops;
} pb_relay_worker_spec_t;

/* A worker: its consumer joins the group at once. conf becomes the
 * worker's (also on failure). NULL with err. */
relay_t *pb_relay_worker_new(const pb_relay_worker_spec_t *spec,
                             pb_relay_subconf_t *conf, pb_relay_link_t *link,
                             char *err, size_t errsz);
/* Runs until link->stop (or pb_cli_stop): then one last attempt, commit,
 * leave the group. 0, or -1 after a fatal error. */
int pb_relay_worker_run(relay_t *r);
void pb_relay_worker_destroy(relay_t *r);

/* relay metrics, declared once per pb_metrics_t */
void pb_relay_declare_metrics(pb_metrics_t *m);

#endif
