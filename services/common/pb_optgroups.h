/* partnerbus - shared option groups: rows that several services offer with
 * the same name, type, default and meaning, defined once here and placed
 * into each service's const table (pb_opts.h) by these macros. The
 * argument is the offsetof() of the service's field, so settings structs
 * keep their own layout.
 *
 *   ops      --ops-listen                     relay, fleet, poll, admin
 *   retry    --retry-max-backoff                    relay, fleet, poll
 *            --retry-initial                               relay, fleet
 *   delivery --dlq-suffix --batch-linger --commit-interval relay, fleet
 *   history  --since --until --from-archive --since-skew
 *            --idle-timeout --progress                     replay, report
 *   webhook  --webhook-*: the webhook sink's own table
 *            (connectors/webhook), composed at run time     relay, replay
 *   https    --listen --tls-cert --tls-key --tls-priorities
 *            --insecure-http --port-file --conn-timeout
 *            --print-routes: the HTTP API servers           gateway, admin
 *   admin    --orgs-topic --tokens-topic --token-usage-topic
 *            --subscriptions-topic --status-topic: the
 *            topics partnerbus admin writes           admin, gateway, fleet
 *   events   --topics --where: which events a command reads
 *                                                  relay, replay, report
 *   owners   --owners-topic --owners-capacity: entity ownership
 *            (pb_owners.h)                                 gateway, poll
 *   kafka    --brokers, -X, --schema-registry ...: the common options of
 *            pb_opts.c                                      every Kafka service
 */
#ifndef PB_OPTGROUPS_H
#define PB_OPTGROUPS_H

#include "pb_opts.h"

/* --- ops --- */
#define PB_OPTG_OPS_LISTEN(off)                                                \
        {                                                                      \
                "ops-listen", 0, PB_OPT_STRING, NULL, "ADDR:PORT",             \
                    "serve /healthz /readyz /metrics here (port 0: any free "  \
                    "port)",                                                   \
                    0, (off)                                                   \
        }

/* --- https: the HTTP API servers (pb_httpd.h); `http` is the offset of
 * the service's pb_cli_http_t --- */
#define PB_OPTG_LISTEN(def, off)                                               \
        {                                                                      \
                "listen", 'l', PB_OPT_STRING, def, "ADDR:PORT",                \
                    "address to listen on (port 0: any free port, see "        \
                    "--port-file)",                                            \
                    0, (off)                                                   \
        }
#define PB_OPTG_TLS(http)                                                      \
        PB_OPTG_TLS_CERT((http) + offsetof(pb_cli_http_t, tls_cert)),          \
            PB_OPTG_TLS_KEY((http) + offsetof(pb_cli_http_t, tls_key)),        \
            PB_OPTG_TLS_PRIORITIES((http) +                                    \
                                   offsetof(pb_cli_http_t, tls_priorities)),   \
            PB_OPTG_INSECURE_HTTP((http) +                                     \
                                  offsetof(pb_cli_http_t, insecure_http))
#define PB_OPTG_TLS_CERT(off)                                                  \
        {                                                                      \
                "tls-cert", 0, PB_OPT_STRING, NULL, "FILE",                    \
                    "TLS certificate chain (PEM); with --tls-key serves "      \
                    "HTTPS",                                                   \
                    0, (off)                                                   \
        }
#define PB_OPTG_TLS_KEY(off)                                                   \
        {                                                                      \
                "tls-key", 0, PB_OPT_STRING, NULL, "FILE",                     \
                    "TLS private key (PEM)", PB_OPT_SECRET, (off)              \
        }
#define PB_OPTG_TLS_PRIORITIES(off)                                            \
        {                                                                      \
                "tls-priorities", 0, PB_OPT_STRING,                            \
                    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:"  \
                    "+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:"   \
                    "+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_"           \
                    "PRECEDENCE",                                              \
                    "STRING",                                                  \
                    "GnuTLS priority string (default: TLS 1.2 and 1.3 only, "  \
                    "AEAD ciphers, ECDHE)",                                    \
                    0, (off)                                                   \
        }
#define PB_OPTG_INSECURE_HTTP(off)                                             \
        {                                                                      \
                "insecure-http", 0, PB_OPT_BOOL, "false", NULL,                \
                    "serve plain HTTP without TLS (development, or behind a "  \
                    "TLS proxy)",                                              \
                    0, (off)                                                   \
        }
#define PB_OPTG_PORT_FILE(off)                                                 \
        {                                                                      \
                "port-file", 0, PB_OPT_STRING, NULL, "FILE",                   \
                    "write the port listened on into FILE once ready", 0,      \
                    (off)                                                      \
        }

#define PB_OPTG_CONN_TIMEOUT(off)                                              \
        {                                                                      \
                "conn-timeout", 0, PB_OPT_DURATION, "30s", "DURATION",         \
                    "close a connection idle or stalled this long (whole "     \
                    "seconds)",                                                \
                    0, (off)                                                   \
        }
#define PB_OPTG_PRINT_ROUTES(off)                                              \
        {                                                                      \
                "print-routes", 0, PB_OPT_BOOL, "false", NULL,                 \
                    "print the routes served (METHOD PATH) and exit", 0, (off) \
        }

/* --- admin: the compacted topics partnerbus admin keeps its state in --- */
#define PB_OPTG_ORGS_TOPIC(off)                                                \
        {                                                                      \
                "orgs-topic", 0, PB_OPT_STRING, "partnerbus.admin.orgs",       \
                    "NAME",                                                    \
                    "compacted organisations topic (after --topic-prefix)", 0, \
                    (off)                                                      \
        }
#define PB_OPTG_TOKENS_TOPIC(off)                                              \
        {                                                                      \
                "tokens-topic", 0, PB_OPT_STRING, "partnerbus.admin.tokens",   \
                    "NAME", "compacted tokens topic (after --topic-prefix)",   \
                    0, (off)                                                   \
        }
#define PB_OPTG_TOKEN_USAGE_TOPIC(off)                                         \
        {                                                                      \
                "token-usage-topic", 0, PB_OPT_STRING,                         \
                    "partnerbus.admin.token-usage", "NAME",                    \
                    "compacted topic the last use of each token is written "   \
                    "to (by the gateways, at most every 60 s per token)",      \
                    0, (off)                                                   \
        }
#define PB_OPTG_SUBSCRIPTIONS_TOPIC(off)                                       \
        {                                                                      \
                "subscriptions-topic", 0, PB_OPT_STRING,                       \
                    "partnerbus.admin.subscriptions", "NAME",                  \
                    "compacted subscriptions topic (read by the relay fleet)", \
                    0, (off)                                                   \
        }
#define PB_OPTG_STATUS_TOPIC(off)                                              \
        {                                                                      \
                "status-topic", 0, PB_OPT_STRING,                              \
                    "partnerbus.admin.subscription-status", "NAME",            \
                    "compacted subscription status topic (written by the "     \
                    "relay fleet)",                                            \
                    0, (off)                                                   \
        }

/* --- events: which events a command reads --- */
#define PB_OPTG_TOPICS(off)                                                    \
        {                                                                      \
                "topics", 't', PB_OPT_LIST, NULL, "TYPE[,TYPE...]",            \
                    "event types / topics to read (the topic prefix "          \
                    "applies)",                                                \
                    PB_OPT_REQUIRED, (off)                                     \
        }
#define PB_OPTG_WHERE(off)                                                     \
        {                                                                      \
                "where", 'w', PB_OPT_LIST, NULL, "EXPR",                       \
                    "only events matching EXPR (repeatable, all must hold; "   \
                    "the grammar: docs/relay.md)",                             \
                    0, (off)                                                   \
        }

/* --- retry --- */
#define PB_OPTG_RETRY_MAX_BACKOFF(off)                                         \
        {                                                                      \
                "retry-max-backoff", 0, PB_OPT_DURATION, "60s", "DURATION",    \
                    "longest delay between two attempts", 0, (off)             \
        }
#define PB_OPTG_RETRY_INITIAL(off)                                             \
        {                                                                      \
                "retry-initial", 0, PB_OPT_DURATION, "500ms", "DURATION",      \
                    "first retry delay (doubles per attempt, with jitter)", 0, \
                    (off)                                                      \
        }

/* --- delivery (relay, fleet) --- */
#define PB_OPTG_DLQ_SUFFIX(off)                                                \
        {                                                                      \
                "dlq-suffix", 0, PB_OPT_STRING, ".dlq", "SUFFIX",              \
                    "dead-letter topic = topic + SUFFIX", 0, (off)             \
        }
#define PB_OPTG_BATCH_LINGER(off)                                              \
        {                                                                      \
                "batch-linger", 0, PB_OPT_DURATION, "50ms", "DURATION",        \
                    "wait at most this long to fill a batch", 0, (off)         \
        }
#define PB_OPTG_COMMIT_INTERVAL(off)                                           \
        {                                                                      \
                "commit-interval", 0, PB_OPT_DURATION, "1s", "DURATION",       \
                    "flush the sink and commit offsets this often", 0, (off)   \
        }

/* --- history: a time range of events, from Kafka or the archive; the
 * settings of a pb_history_opts_t (pb_replay_src_conf_init), whose offset
 * `h` the groups take --- */
typedef struct pb_history_opts {
        const char *since, *until;
        const char *archive;
        int64_t skew;
        int64_t idle_timeout;
        const char *progress;
        const char *decode_thread;
} pb_history_opts_t;
#define PB_OPTG_HISTORY_RANGE(h)                                               \
        PB_OPTG_SINCE((h) + offsetof(pb_history_opts_t, since)),               \
            PB_OPTG_UNTIL((h) + offsetof(pb_history_opts_t, until))
#define PB_OPTG_HISTORY_SCAN(h)                                                \
        PB_OPTG_SINCE_SKEW((h) + offsetof(pb_history_opts_t, skew)),           \
            PB_OPTG_IDLE_TIMEOUT((h) +                                         \
                                 offsetof(pb_history_opts_t, idle_timeout)),   \
            PB_OPTG_PROGRESS((h) + offsetof(pb_history_opts_t, progress)),     \
            PB_OPTG_DECODE_THREAD((h) +                                        \
                                  offsetof(pb_history_opts_t, decode_thread))
#define PB_OPTG_SINCE(off)                                                     \
        {                                                                      \
                "since", 0, PB_OPT_STRING, NULL, "TIME",                       \
                    "first event time (occurred_at) included: 2023-02-28, "    \
                    "RFC 3339 or "                                             \
                    "ms",                                                      \
                    0, (off)                                                   \
        }
#define PB_OPTG_UNTIL(off)                                                     \
        {                                                                      \
                "until", 0, PB_OPT_STRING, NULL, "TIME",                       \
                    "event time (occurred_at) at which the range ends "        \
                    "(excluded)",                                              \
                    0, (off)                                                   \
        }
#define PB_OPTG_FROM_ARCHIVE(off)                                              \
        {                                                                      \
                "from-archive", 0, PB_OPT_STRING, NULL, "DIR",                 \
                    "read the relay's archive (Avro container files) instead " \
                    "of Kafka",                                                \
                    0, (off)                                                   \
        }
#define PB_OPTG_SINCE_SKEW(off)                                                \
        {                                                                      \
                "since-skew", 0, PB_OPT_DURATION, "10m", "DURATION",           \
                    "start the Kafka scan at since - DURATION (events "        \
                    "published before "                                        \
                    "they occurred, clock skew)",                              \
                    0, (off)                                                   \
        }
#define PB_OPTG_IDLE_TIMEOUT(off)                                              \
        {                                                                      \
                "idle-timeout", 0, PB_OPT_DURATION, "60s", "DURATION",         \
                    "fail when Kafka delivers nothing this long before the "   \
                    "end offsets",                                             \
                    0, (off)                                                   \
        }
#define PB_OPTG_DECODE_THREAD(off)                                             \
        {                                                                      \
                "decode-thread", 0, PB_OPT_STRING, "auto", "auto|on|off",      \
                    "read and decode Kafka messages on a second thread, the "  \
                    "merge and output on the first (auto: with more than one " \
                    "CPU, when events are decoded to JSON: not for CSV)",      \
                    0, (off)                                                   \
        }
#define PB_OPTG_PROGRESS(off)                                                  \
        {                                                                      \
                "progress", 0, PB_OPT_STRING, "auto", "auto|always|never",     \
                    "progress bar on stderr (auto: when stderr is a "          \
                    "terminal)",                                               \
                    0, (off)                                                   \
        }

/* --- owners: entity ownership (pb_owners.h) --- */
#define PB_OPTG_OWNERS_TOPIC(off)                                              \
        {                                                                      \
                "owners-topic", 0, PB_OPT_STRING, "partnerbus.owners", "NAME", \
                    "compacted topic holding who owns each grant, shipment "   \
                    "and partnership (after --topic-prefix; shared by every "  \
                    "gateway and poller)",                                     \
                    0, (off)                                                   \
        }
#define PB_OPTG_OWNERS_CAPACITY(off)                                           \
        {                                                                      \
                "owners-capacity", 0, PB_OPT_INT, "4000000", "N",              \
                    "entities held in the ownership map at most (~22 bytes "   \
                    "each); when full, events about entities not held are "    \
                    "not published (gateway: 503)",                            \
                    0, (off)                                                   \
        }

#endif
