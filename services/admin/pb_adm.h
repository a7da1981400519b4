/* partnerbus admin - internal interfaces between the admin service's files.
 *
 *   pb_adm_body.c      request bodies: strict parse, validation with JSON
 *                      Pointers, the normalised fields as cJSON (no Kafka,
 *                      no state: fuzzed by tests/fuzz/fuzz_admin_body.c)
 *   pb_adm_state.c     the records of the admin topics in memory, the
 *                      follower thread and acknowledged writes
 *   pb_adm_endpoint.c  endpoint safety: scheme, address ranges,
 *                      verification request
 *   pb_adm_api.c       the REST API: authentication, routes, audit
 *   pb_adm_events.c    the history of events (GET .../events)
 *   pb_adm_http.c      libmicrohttpd glue
 *   pb_adm_cli.c       the CLI that calls the API (libcurl)
 *   pb_cmd_admin.c     options, start, stop
 * The records are described in docs/admin.md ("Records in Kafka"). */
#ifndef PB_ADM_H
#define PB_ADM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "partnerbus/pb_filter.h"
#include "partnerbus/pb_httpd.h"
#include "partnerbus/pb_kafka.h"
#include "partnerbus/pb_metrics.h"
#include "partnerbus/pb_schema.h"
#include "pb_cli.h"

/* ------------------------------------------------------------ bodies */

#define PB_ADM_MAX_ERRORS 16

typedef struct pb_adm_errors {
        size_t n;
        struct {
                char pointer[128];
                char message[200];
        } e[PB_ADM_MAX_ERRORS];
} pb_adm_errors_t;

void pb_adm_err(pb_adm_errors_t *errs, const char *pointer, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));

typedef enum pb_adm_body_kind {
        PB_ADM_BODY_ORG_CREATE,
        PB_ADM_BODY_ORG_PATCH,
        PB_ADM_BODY_TOKEN_CREATE,
        PB_ADM_BODY_SUB_CREATE,
        PB_ADM_BODY_SUB_PATCH,
        PB_ADM_BODY_RETRANSMIT,
        PB_ADM_BODY_EMPTY, /* nothing, or {} */
} pb_adm_body_kind_t;

/* 1 when type is an event type of the catalog. */
typedef int(pb_adm_type_known_t)(void *opaque, const char *type);

/* Parses and validates a request body of kind: unknown members, wrong
 * types, bad values are errors with the JSON Pointer of the offending
 * value. Returns the normalised members as a new cJSON object, or NULL
 * with errs->n > 0. type_known may be NULL (every type accepted). */
cJSON *pb_adm_body_parse(pb_adm_body_kind_t kind, const char *text, size_t len,
                         pb_adm_type_known_t *type_known, void *opaque,
                         pb_adm_errors_t *errs);

/* Organisation ids: ^[a-z0-9][a-z0-9-]{0,62}$ */
int pb_adm_org_id_valid(const char *s);

/* ------------------------------------------------------------- state */

enum {
        PB_ADM_T_ORGS = 0,
        PB_ADM_T_TOKENS,
        PB_ADM_T_USAGE,
        PB_ADM_T_SUBS,
        PB_ADM_T_STATUS,
        PB_ADM_T_AUDIT,
        PB_ADM_NTOPICS
};

typedef struct pb_adm_state pb_adm_state_t;

/* topics: the six names before the prefix, in the order above. */
pb_adm_state_t *pb_adm_state_new(const pb_kafka_conf_t *conf,
                                 const char *const *topics, size_t audit_keep,
                                 char *errstr, size_t errstr_size);
void pb_adm_state_destroy(pb_adm_state_t *s);
int pb_adm_state_ready(pb_adm_state_t *s);
/* A deep copy of the record (topic, id), NULL if none. */
cJSON *pb_adm_state_get(pb_adm_state_t *s, int topic, const char *id);
/* A deep copy of every record of topic (an array), filtered by the member
 * "org" when org is not NULL. */
cJSON *pb_adm_state_list(pb_adm_state_t *s, int topic, const char *org);
/* Audit records newest first, at most limit; org NULL: all, else those
 * whose actor_org or org is org. */
cJSON *pb_adm_state_audit(pb_adm_state_t *s, const char *org, size_t limit);
/* The token record whose digest is SHA-256(token), a copy, NULL if none. */
cJSON *pb_adm_state_token_by_secret(pb_adm_state_t *s, const char *token,
                                    size_t len);
/* Writes value (NULL: tombstone) under key to topic, waits for Kafka's
 * acknowledgement and until this process read it back (then every later
 * read here sees it). 0, or -1 with errstr. */
int pb_adm_state_write(pb_adm_state_t *s, int topic, const char *key,
                       const cJSON *value, char *errstr, size_t errstr_size);

/* ---------------------------------------------------------- endpoints */

typedef struct pb_adm_endpoint_opts {
        int allow_http;
        int allow_private;
        int verify;             /* send the verification request */
        int64_t verify_timeout; /* ms */
} pb_adm_endpoint_opts_t;

/* Checks url (scheme, host resolves only to allowed addresses) and, with
 * o->verify, sends the verification request. 0, or an HTTP status for
 * the caller's answer (400 bad endpoint, 422 verification failed) with
 * the reason in why. */
unsigned pb_adm_endpoint_check(const pb_adm_endpoint_opts_t *o, const char *url,
                               const char *sub_id, const char *org, char *why,
                               size_t why_size);
/* 1 when the address (AF_INET/AF_INET6 sockaddr) is loopback, private,
 * link-local, unspecified, multicast or otherwise not public. */
struct sockaddr;
int pb_adm_addr_private(const struct sockaddr *sa);

/* ---------------------------------------------------------------- API */

typedef struct pb_adm_settings {
        pb_cli_http_t http; /* --listen, TLS, threads, ... */
        const char *operator_token_file;
        int allow_http_endpoints;
        const char *gateway_url; /* --gateway-url, or NULL */
        int allow_private_endpoints;
        int verify_endpoints;
        int64_t verify_timeout;
        long audit_keep;
        const char *orgs_topic;
        const char *tokens_topic;
        const char *usage_topic;
        const char *subs_topic;
        const char *status_topic;
        const char *audit_topic;
        long history_scan_max;   /* messages read per history request */
        int64_t history_timeout; /* ms per history request */
} pb_adm_settings_t;

typedef struct pb_adm {
        pb_adm_settings_t set;
        pb_adm_state_t *state;
        uint8_t operator_digest[32];
        int have_operator;
        pb_adm_type_known_t *type_known;
        void *type_opaque;
        pb_metrics_t *metrics;
        const pb_kafka_conf_t *kconf; /* for the history's consumers */
        const pb_schemas_t *catalog;  /* to decode events */
        atomic_int history_active;    /* history requests running */
        struct MHD_Daemon *daemon;
        char *tls_cert_pem, *tls_key_pem;
        atomic_long requests;
} pb_adm_t;

typedef struct pb_adm_request {
        const char *method;
        const char *path;
        const char *query_org;    /* ?org= of GET /v1/admin/audit */
        const char *query_limit;  /* ?limit= */
        const char *query_type;   /* ?type= of .../events */
        const char *query_entity; /* ?entity= of .../events */
        const char *auth;         /* Authorization header value, or NULL */
        const char *body;
        size_t body_len;
        int body_too_large;
} pb_adm_request_t;

typedef struct pb_adm_response {
        unsigned status;
        char *body; /* malloc'd JSON */
        char request_id[40];
} pb_adm_response_t;

void pb_adm_handle(pb_adm_t *adm, const pb_adm_request_t *rq,
                   pb_adm_response_t *rs);
/* The routes served, for --print-routes and the OpenAPI check. */
typedef pb_httpd_route_t pb_adm_route_t;
extern const pb_adm_route_t pb_adm_routes[];
extern const size_t pb_adm_nroutes;

/* pb_adm_console.c: POST /v1/console/events/{type} forwarded to the
 * gateway (--gateway-url) with the caller's Authorization header; the
 * gateway's status and JSON body come back unchanged. */
void pb_adm_console_publish(pb_adm_t *adm, const char *type, const char *auth,
                            const char *body, size_t body_len,
                            pb_adm_response_t *rs);

/* pb_adm_events.c: the newest events of some types, or every version of
 * one entity (the Kafka key), each with where it is stored. */
#define PB_ADM_EVENTS_MAX_TYPES  32
#define PB_ADM_EVENTS_MAX_ACTIVE 4 /* history requests at once */
typedef struct pb_adm_events_query {
        const char *types[PB_ADM_EVENTS_MAX_TYPES];
        pb_filter_t *where[PB_ADM_EVENTS_MAX_TYPES]; /* NULL: all */
        size_t ntypes;
        const char *entity; /* NULL: the latest events */
        size_t limit;       /* events answered (latest), versions kept */
        size_t scan_max;    /* messages read at most */
        int64_t timeout_ms;
} pb_adm_events_query_t;

/* {"events":[...],"truncated":B,"scanned":N,...}: newest first, or (with
 * entity) oldest first. NULL with err when Kafka could not be read. */
cJSON *pb_adm_events_scan(pb_adm_t *adm, const pb_adm_events_query_t *q,
                          char *err, size_t errsz);

/* pb_adm_http.c */
int pb_adm_http_start(pb_adm_t *adm, char *errstr, size_t errstr_size);
int pb_adm_http_port(pb_adm_t *adm);

/* pb_adm_cli.c: `partnerbus admin org|token|sub|audit|call ...`;
 * returns an exit status. */
int pb_adm_cli(int argc, char **argv);
int pb_adm_cli_is_command(const char *word);

#endif
