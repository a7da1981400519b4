/* partnerbus - what every subcommand shares: usage errors, -X, settings
 * from flags / PARTNERBUS_* environment, logging. */
#ifndef PB_CLI_H
#define PB_CLI_H

#include <stdarg.h>
#include <stdio.h>

#include "partnerbus/pb_common.h"
#include "partnerbus/pb_kafka.h"
#include "partnerbus/pb_metrics.h"
#include "partnerbus/pb_schema.h"
#include "partnerbus/pb_serde.h"

/* Exit statuses: 0 ok, 1 runtime failure (some input rejected, Kafka
 * error), 2 usage error. */
#define PB_EXIT_OK    0
#define PB_EXIT_FAIL  1
#define PB_EXIT_USAGE 2

/* Prints "partnerbus CMD: msg\nTry 'partnerbus CMD --help'." to stderr,
 * returns PB_EXIT_USAGE. */
int pb_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Value of a setting: the flag value if given, else $PARTNERBUS_<NAME>,
 * else def. */
const char *pb_cli_setting(const char *flag_value, const char *env_name,
                           const char *def);

/* Common options every Kafka-facing command takes. */
typedef struct pb_cli_common {
        const char *brokers;
        const char *schemas_dir;
        const char *schema_registry;
        const char *topic_prefix;
        pb_kafka_conf_t kconf;
} pb_cli_common_t;

void pb_cli_common_init(pb_cli_common_t *c);
/* Fills defaults from the environment after option parsing. */
void pb_cli_common_finish(pb_cli_common_t *c);
/* When brokers are missing: prints how to get one and returns 0. */
int pb_cli_require_brokers(const char *cmd, const pb_cli_common_t *c);

/* Loads the schema catalog (--schemas / PARTNERBUS_SCHEMAS / default);
 * prints the error and returns NULL on failure. */
pb_schemas_t *pb_cli_load_schemas(const char *cmd, const pb_cli_common_t *c);

/* The serializer: catalog plus, with --schema-registry, a registry client
 * (*registry stays NULL without one). Prints the error and returns -1 on
 * failure; the caller destroys both (NULL allowed). */
int pb_cli_open_serde(const char *cmd, const pb_cli_common_t *c,
                      const pb_schemas_t *catalog, pb_registry_t **registry,
                      pb_serde_t **serde);

/* Log line "ts level=L cmd=C msg..." to stderr (key=value style). */
void pb_log(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Minimum level pb_log prints: "debug", "info" (default), "warn",
 * "error". Returns -1 for an unknown level. */
int pb_log_set_level(const char *level);

/* A library's log callback (libmicrohttpd's external logger): the line
 * it is given, trailing newlines cut, as "cmd=<cmd> mhd=\"...\"" at level
 * debug; cmd is a const char *. */
void pb_log_mhd(void *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The TLS flags of the HTTP servers: --tls-cert and --tls-key together,
 * and plain HTTP only with --insecure-http. Returns 1 if they are
 * acceptable, else prints a usage error and returns 0. */
int pb_cli_check_tls(const char *cmd, const char *tls_cert, const char *tls_key,
                     int insecure_http);

/* The settings every HTTP API service (admin, gateway) has, a member of
 * its settings struct (the rows differ in defaults and help). */
typedef struct pb_cli_http {
        const char *listen;
        const char *tls_cert;
        const char *tls_key;
        const char *tls_priorities; /* GnuTLS priority string */
        int insecure_http;
        long threads;
        int64_t conn_timeout; /* ms */
        size_t max_body;
        const char *ops_listen; /* /metrics, /readyz */
        const char *port_file;
        int print_routes;
} pb_cli_http_t;

/* --ops-listen (relay, fleet, poll): *out serves /healthz, /readyz
 * (ready) and /metrics on `listen`, and its port is logged; with no
 * address *out stays NULL. 0, or -1 after logging why not. */
int pb_cli_ops_start(const char *listen, pb_metrics_t *m, pb_ready_cb_t *ready,
                     void *opaque, pb_ops_server_t **out);

/* The end of a readiness callback (pb_ready_cb_t): 1 when `ready`, else
 * `why` in reason and 0. */
int pb_cli_ready(int ready, const char *why, char *reason, size_t reason_size);

/* Set by SIGINT/SIGTERM handlers installed with pb_cli_trap_signals(). */
extern volatile int pb_cli_stop;
void pb_cli_trap_signals(void);

/* Subcommands, in the order `partnerbus --help` lists them: X(name,
 * one-line summary) for each; pb_cmd_<name>(argc, argv) runs it (argv[0]
 * is the command's name). main.c's dispatch table is made from this list. */
#define PB_COMMANDS(X)                                                         \
        X(dev, "run broker, gateway and relays on this machine")               \
        X(produce, "publish JSON events from stdin or a file")                 \
        X(consume, "print events from topics as JSON lines")                   \
        X(schemas, "list, show, fingerprint and check schemas")                \
        X(broker, "run the embedded development broker")                       \
        X(relay, "deliver topics to a webhook, an archive or JSON lines")      \
        X(fleet,                                                               \
          "run every subscription of the self-service records (relay fleet)")  \
        X(replay, "replay a time range of topics to JSONL/CSV/Avro, a topic "  \
                  "or a webhook")                                              \
        X(report, "exact totals and charts: summary.json and report.html")     \
        X(gateway, "accept events over HTTP(S) and publish them")              \
        X(poll, "poll a JSON/NDJSON/CSV feed and publish its changes")         \
        X(admin,                                                               \
          "self-service API and CLI: organisations, tokens, subscriptions")
#define PB_CMD_DECLARE(name, summary) int pb_cmd_##name(int argc, char **argv);
PB_COMMANDS(PB_CMD_DECLARE)
#undef PB_CMD_DECLARE

#endif
