/* partnerbus - shared option groups: rows that several services offer with
 * the same name, type, default and meaning, defined once here and placed
 * into each service's const table (pb_opts.h) by these macros. The
 * argument is the offsetof() of the service's field, so settings structs
 * keep their own layout.
 *
 *   ops      --ops-listen                                  relay, poll
 *   retry    --retry-max-backoff                           relay, poll
 *   history  --since --until --from-archive --since-skew
 *            --idle-timeout --progress                     replay, report
 *   webhook  --webhook-*: the webhook sink's own table
 *            (connectors/webhook), composed at run time     relay, replay
 *   https    --tls-cert --tls-key --tls-priorities
 *            --insecure-http --port-file: the HTTP API servers gateway, admin
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

/* --- https: the HTTP API servers (pb_httpd.h) --- */
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

/* --- history: a time range of events, from Kafka or the archive --- */
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
