/* partnerbus gateway - the running server: settings, shared state, the
 * per-request state machine. Internal to services/gateway/. */
#ifndef PB_GW_SERVER_H
#define PB_GW_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <microhttpd.h>

#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_httpd.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_kafka.h"
#include "partnerbus/pb_metrics.h"
#include "partnerbus/pb_schema.h"
#include "partnerbus/pb_serde.h"
#include "pb_cli.h"
#include "pb_gw.h"
#include "pb_owners.h"

/* Settings: one field per option of the table in pb_cmd_gateway.c. */
typedef struct pb_gw_settings {
        pb_cli_http_t http; /* --listen, TLS, threads, ... */
        const char *tokens;
        long max_connections;
        long max_conn_per_address; /* -1: default (max(4, max/8)), 0: off */
        int64_t header_timeout;    /* ms: request head complete by then */
        size_t conn_memory;
        long max_batch_events;
        long rate; /* events/s per org, 0 = unlimited */
        long burst;
        int64_t dedup_ttl; /* ms */
        long dedup_capacity;
        int64_t publish_timeout;  /* ms: HTTP answer deadline */
        int64_t delivery_timeout; /* ms: message.timeout.ms (>= the above) */
        int64_t retry_after;      /* ms, rounded up to seconds */
        long max_inflight_events;
        size_t max_inflight_bytes;
        int64_t drain_timeout; /* ms */
        const char *openapi;
        const char *console_url;  /* --console-url: linked from GET / */
        const char *owners_topic; /* before the topic prefix */
        long owners_capacity;
        int admin_topics;         /* follow the admin topics */
        const char *orgs_topic;   /* before the topic prefix */
        const char *tokens_topic; /* before the topic prefix */
        const char *usage_topic;  /* before the topic prefix */
} pb_gw_settings_t;

/* pb_gw_admin.c: organisations and tokens from the admin topics
 * (--admin-topics; docs/admin.md). */
typedef struct pb_gw_admin pb_gw_admin_t;
enum {
        PB_GW_ROLE_PUBLISHER = 0,
        PB_GW_ROLE_SUBSCRIBER = 1,
        PB_GW_ROLE_ORG_ADMIN = 2
};
typedef enum pb_gw_admin_auth {
        PB_GW_ADMIN_OK = 0,
        PB_GW_ADMIN_UNKNOWN,         /* no such token: try the file */
        PB_GW_ADMIN_REVOKED,         /* 401 */
        PB_GW_ADMIN_ORG_DISABLED,    /* 401: org disabled or deleted */
        PB_GW_ADMIN_NO_PUBLISH_ROLE, /* 403: a subscriber token */
        PB_GW_ADMIN_TYPE_FORBIDDEN,  /* 403: not in the org's publish */
} pb_gw_admin_auth_t;
pb_gw_admin_t *pb_gw_admin_new(const pb_kafka_conf_t *conf,
                               const char *orgs_topic, const char *tokens_topic,
                               const char *usage_topic, char *errstr,
                               size_t errstr_size);
void pb_gw_admin_destroy(pb_gw_admin_t *a);
/* 1 once both topics were read (also when a is NULL). */
int pb_gw_admin_ready(pb_gw_admin_t *a);
/* Tokens held; *orgs: organisations held. */
size_t pb_gw_admin_count(pb_gw_admin_t *a, size_t *orgs);
/* The token's organisation into org (unless UNKNOWN) and whether it may
 * publish type (NULL: only whether the token is valid). Records usage. */
pb_gw_admin_auth_t pb_gw_admin_find(pb_gw_admin_t *a, const char *token,
                                    size_t len, const char *type, char *org,
                                    size_t org_size);

/* Entity ownership: services/common/pb_owners.h (docs/gateway.md,
 * "Ownership"). */

/* Per-thread scratch (MHD worker threads): not shared. */
typedef struct pb_gw_worker {
        pb_codec_t *codec;
        pb_json_parser_t *parser;
        pb_errors_t errs;
        struct pb_gw_worker *next;
} pb_gw_worker_t;

typedef struct pb_gw_type {
        const pb_schema_t *schema;
        char topic[256];
        char *info_json; /* GET /v1/schemas/{type} body */
} pb_gw_type_t;

typedef struct pb_gw {
        pb_gw_settings_t set;
        pb_schemas_t *catalog;
        pb_registry_t *registry; /* NULL: single-object encoding */
        /* framing and encoding; shared by the workers, each passing its
         * own codec and parser (pb_serde_enc_t) */
        pb_serde_t *serde;
        pb_producer_t *producer;
        pb_metrics_t *metrics;
        pb_gw_ratelimit_t *rl;
        pb_gw_dedup_t *dedup;
        pb_owners_t *owners;
        pb_gw_admin_t *admin; /* --admin-topics, or NULL */
        struct MHD_Daemon *daemon;

        pthread_rwlock_t tokens_lock;
        pb_gw_tokens_t *tokens;

        pb_gw_type_t *types; /* one per catalog entry, same index */
        size_t ntypes;
        char *schemas_json; /* GET /v1/schemas body */
        char *openapi_json; /* GET /v1/openapi.json body, NULL if none */
        size_t openapi_len;

        pthread_mutex_t workers_lock;
        pb_gw_worker_t *workers;

        atomic_int stopping; /* SIGTERM: new requests get 503 */
        /* Send gate for the drain: once closed is set and senders is back
         * to 0, nothing is handed to the producer any more, so the final
         * flush (or purge) yields the last delivery report and every
         * suspended request gets resumed before MHD_stop_daemon (which
         * aborts the process if a connection is still suspended). */
        atomic_int closed;
        atomic_long senders;
        atomic_long suspended; /* requests waiting for delivery reports
                                  or their deadline */
        atomic_long awaiting;  /* requests with delivery reports still
                                  to come (answered or not) */
        atomic_long live_reqs; /* pb_gw_req_t allocated */
        /* Deadline list: every suspended request, in deadline order
         * (deadline = time of sending + --publish-timeout, taken under
         * dl_lock, so appending keeps the order). Lock order: req->lock,
         * then dl_lock; pb_gw_deadlines_run takes a request off under
         * dl_lock alone and only then its req->lock. */
        pthread_mutex_t dl_lock;
        struct pb_gw_req *dl_head, *dl_tail;
        atomic_long inflight_requests;
        atomic_long inflight_events;
        atomic_long inflight_bytes;
        atomic_int kafka_ready;
        char ready_reason[256];           /* under workers_lock */
        char *tls_cert_pem, *tls_key_pem; /* kept while the daemon runs */
        pb_ops_server_t *ops;             /* --ops-listen, or NULL */
        /* Connections whose request head is not complete yet, with the
         * time it must be by (--header-timeout): pb_gw_heads_run shuts
         * down the late ones. Under heads_lock. */
        pthread_mutex_t heads_lock;
        struct pb_gw_conn *heads;
} pb_gw_t;

/* One TCP connection (MHD_OPTION_NOTIFY_CONNECTION's socket context). */
typedef struct pb_gw_conn {
        struct pb_gw_conn *prev, *next; /* in gw->heads while waiting */
        int fd;
        int waiting;           /* in gw->heads */
        int64_t head_deadline; /* monotonic ms */
} pb_gw_conn_t;

/* One published (or validated) event of a request. */
typedef struct pb_gw_ev {
        struct pb_gw_req *req;
        long line;  /* 1-based line in the body */
        int has_id; /* event_id came from the client */
        uint8_t id[16];
        pb_gw_claim_t claim;
        int sent;      /* handed to the producer */
        int done;      /* its delivery report arrived */
        int failed;    /* delivery or send failed */
        int uncertain; /* failed, but Kafka may have stored it */
        char error[160];
        pb_gw_result_t res; /* partition, offset once acknowledged */
        size_t off, len;    /* framed Avro in req->enc */
        pb_event_meta_t meta;
} pb_gw_ev_t;

/* Bytes of an oversized body read and dropped before the connection is
 * cut (so ordinary clients get a clean 413, endless streams do not). */
#define PB_GW_DRAIN_MAX (1u << 20)

/* READING: the body is read (then pb_gw_publish); CLAIMING: suspended
 * while its new entities are claimed (pb_owners_claim_async), CLAIMED:
 * resumed with the verdicts (then pb_gw_publish_claimed); WAITING:
 * suspended for delivery reports; DONE: answered by them. */
enum {
        PB_GW_ST_READING = 0,
        PB_GW_ST_WAITING = 1,
        PB_GW_ST_DONE = 2,
        PB_GW_ST_CLAIMING = 3,
        PB_GW_ST_CLAIMED = 4
};

typedef struct pb_gw_req {
        pb_gw_t *gw;
        struct MHD_Connection *conn;
        int route;
        const char *param; /* {type} of the url (MHD keeps the url) */
        int responded;     /* a response has been queued */
        size_t type_idx;
        int batch;
        char org[PB_GW_ORG_MAX];
        pb_buf_t body;            /* bounded by max_body */
        int too_big;              /* reading without storing (over max_body,
                                     or answer already decided) */
        unsigned deferred_status; /* answer decided from the headers */
        pb_buf_t deferred;
        int64_t deferred_retry_ms;
        const char *deferred_hname, *deferred_hval;
        size_t drained;       /* bytes read and dropped since */
        size_t counted_bytes; /* added to gw->inflight_bytes */
        pb_buf_t enc;         /* framed Avro of every event */
        pb_gw_ev_t *ev;
        size_t nev;
        long reserved_events; /* added to gw->inflight_events */
        /* ownership claims of this request's new entities (CLAIMING):
         * nev items, their verdicts set by the callback */
        pb_owners_item_t *own;
        char own_why[256];
        /* Lifetime: references held by libmicrohttpd (from the first
         * call until on_completed), by the outstanding delivery reports
         * (one, while pending > 0) and by the deadline list (one, while
         * in_dl). The last pb_gw_req_unref frees; so a request answered
         * at its deadline outlives its connection until its last delivery
         * report, and its in-flight counters are released only then. */
        atomic_int refs;      /* and one while its claims are in flight */
        pthread_mutex_t lock; /* state, suspended, pending, timed_out and
                                 every ev[] field a delivery report sets */
        int state;
        int suspended;
        int timed_out;      /* resumed at its deadline, reports pending */
        int answered_early; /* answered with events pending: their
                               reports are counted as they come */
        size_t pending;
        int64_t t_send_ms;
        int64_t deadline_ms; /* under gw->dl_lock */
        int in_dl;           /* under gw->dl_lock */
        struct pb_gw_req *dl_prev, *dl_next;
} pb_gw_req_t;

/* pb_gw_http.c */
int pb_gw_http_start(pb_gw_t *gw, char *errstr, size_t errstr_size);
/* Shuts down every connection whose request head is not complete by its
 * deadline (--header-timeout); MHD then closes it. Called by the
 * producer's poll thread. */
void pb_gw_heads_run(pb_gw_t *gw, int64_t now_ms);
/* Per-address connection limit in effect (0: none). */
long pb_gw_per_address_limit(const pb_gw_settings_t *s);
/* JSON values one parse of a request body may hold (from --max-body). */
size_t pb_gw_json_max_nodes(const pb_gw_t *gw);
/* Refreshes the gauges /metrics shows (queue depth, in flight, ...). */
void pb_gw_metrics_refresh(pb_gw_t *gw);
int pb_gw_http_port(pb_gw_t *gw);
/* Frees every thread's scratch; after MHD_stop_daemon. */
void pb_gw_workers_free(pb_gw_t *gw);
/* Route table: for --print-routes and the OpenAPI consistency test. */
typedef pb_httpd_route_t pb_gw_route_t;
extern const pb_gw_route_t pb_gw_routes[];
extern const size_t pb_gw_nroutes;

/* pb_gw_publish.c: validate body, claim, send. Returns an HTTP status when
 * the request is answered at once (response built into *resp / *hdrs),
 * or 0 when events are in flight (caller suspends). */
typedef struct pb_gw_answer {
        unsigned status;
        pb_buf_t body;
        int64_t retry_after_ms; /* > 0: send Retry-After */
} pb_gw_answer_t;
unsigned pb_gw_publish(pb_gw_req_t *req, pb_gw_worker_t *w,
                       pb_gw_answer_t *ans);
/* The rest of pb_gw_publish once the request was resumed with the
 * verdicts of its ownership claims (state PB_GW_ST_CLAIMED): 409 / 503
 * for a refused entity, else the dedup window and the send. */
unsigned pb_gw_publish_claimed(pb_gw_req_t *req, pb_gw_answer_t *ans);
/* The answer once every delivery report arrived, or at the deadline
 * (then events still in flight are "pending" and it is a 503). Called
 * with req->lock held when reports may still arrive. */
void pb_gw_publish_answer(pb_gw_req_t *req, pb_gw_answer_t *ans);
void pb_gw_delivery_cb(void *opaque, void *msg_opaque, pb_resp_t err,
                       const char *errstr, const char *topic, int32_t partition,
                       int64_t offset);
/* Releases what a request holds in the gateway (counters). */
void pb_gw_req_release(pb_gw_req_t *req);
/* Drops one reference; the last one frees the request (and releases its
 * counters). Never with req->lock held. */
void pb_gw_req_unref(pb_gw_req_t *req);
/* Resumes every suspended request whose deadline is <= now_ms, so it is
 * answered (503, events still in flight "pending"). The producer's poll
 * thread calls it between polls. */
void pb_gw_deadlines_run(pb_gw_t *gw, int64_t now_ms);

/* JSON error body {"error":code,"message":msg}. */
void pb_gw_error_body(pb_buf_t *b, const char *code, const char *msg);

#endif
