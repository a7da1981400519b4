/* partnerbus poll - fetch a feed an organisation already publishes (JSON,
 * NDJSON, CSV) on a schedule, map each record to an event and publish new
 * and changed records once; see docs/poll.md.
 *
 * One poll: fetch every page (conditional request on the first), parse
 * every page (a body that is HTML, not parseable or truncated fails the
 * poll before anything is published), then per record: map, fingerprint
 * the mapped JSON, compare with the state table, encode and send what is
 * new or changed, together with its state record ("<source>/<type>/<key>"
 * -> content fingerprint, compacted state topic) in one Kafka transaction
 * of at most --transaction-records records; the poll's last transaction
 * ends with the feed's validators (ETag, Last-Modified, cursor) under
 * "<source>/<type>". Without transactions (--transactions=false, or a
 * cluster without them) a state record follows its event's ack and the
 * validators follow every ack of the poll. On start the producer fences
 * its predecessor (init_transactions), then the state topic is read,
 * read_committed, to its end. A record that does not map or validate goes
 * to the dead-letter topic with its position and the failing JSON Pointer;
 * the poll goes on.
 *
 * This file holds the options, the setup and the main loop; one poll
 * calls the layers in order (see pb_poll.h): pages (pb_poll_page.c),
 * records (pb_poll_pipeline.c), then the end of its last transaction
 * (pb_poll_tx.c); the state is replayed at start (pb_poll_state.c). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "partnerbus/pb_metrics.h"
#include "partnerbus/pb_util.h"
#include "pb_optgroups.h"
#include "pb_poll.h"

static const char *cmd = "poll";

#define O(f) offsetof(poll_settings_t, f)
static const pb_opt_t poll_opts[] = {
    {"url", 'u', PB_OPT_STRING, NULL, "URL", "the feed (http or https)",
     PB_OPT_REQUIRED, O(url)},
    {"type", 't', PB_OPT_STRING, NULL, "TYPE",
     "event type the records become (aid.dispatched, funds.granted, ...)",
     PB_OPT_REQUIRED, O(type)},
    {"map", 'm', PB_OPT_STRING, NULL, "FILE",
     "mapping file (JSON; see docs/poll.md)", PB_OPT_REQUIRED, O(map)},
    {"organisation", 0, PB_OPT_STRING, NULL, "ORG",
     "the organisation whose feed this is: the source of every event "
     "(required unless --check; the mapping's \"source\" must name it)",
     0, O(organisation)},
    {"interval", 'i', PB_OPT_DURATION, "5m", "DURATION",
     "time between the start of two polls", 0, O(interval)},
    {"state-topic", 0, PB_OPT_STRING, "partnerbus.poll-state", "TOPIC",
     "compacted topic holding hashes and validators (topic prefix applies)", 0,
     O(state_topic)},
    {"dlq-topic", 0, PB_OPT_STRING, NULL, "TOPIC",
     "dead-letter topic (default: <type>.dlq)", 0, O(dlq_topic)},
    {"check", 0, PB_OPT_BOOL, "false", NULL,
     "fetch once, print what would be published and rejected, publish "
     "nothing",
     0, O(check)},
    {"once", 0, PB_OPT_BOOL, "false", NULL, "poll once, then exit", 0, O(once)},
    {"format", 'f', PB_OPT_STRING, NULL, "auto|json|ndjson|csv",
     "feed format (default: the mapping's, else from Content-Type)", 0,
     O(format)},
    {"records-pointer", 0, PB_OPT_STRING, NULL, "POINTER",
     "JSON: the array of records inside the body (default: the mapping's, "
     "else the body itself)",
     0, O(records)},
    {"separator", 0, PB_OPT_STRING, NULL, "CHAR",
     "CSV separator , or ; (default: the mapping's, else guessed)", 0,
     O(separator)},
    {"next-pointer", 0, PB_OPT_STRING, NULL, "POINTER",
     "JSON: URL of the next page inside the body (e.g. /links/next)", 0,
     O(next_pointer)},
    {"follow-link", 0, PB_OPT_BOOL, "true", NULL,
     "follow Link: <...>; rel=\"next\" response headers", 0, O(follow_link)},
    {"cursor-param", 0, PB_OPT_STRING, NULL, "NAME",
     "query parameter carrying the cursor to the next page", 0,
     O(cursor_param)},
    {"cursor-pointer", 0, PB_OPT_STRING, NULL, "POINTER",
     "JSON: the next cursor inside the body (absent/null/empty: last page)", 0,
     O(cursor_pointer)},
    {"cursor-resume", 0, PB_OPT_BOOL, "false", NULL,
     "start each poll from the last cursor (incremental feeds)", 0,
     O(cursor_resume)},
    {"max-pages", 0, PB_OPT_INT, "1000", "N", "pages per poll", 0,
     O(max_pages)},
    {"bearer-token", 0, PB_OPT_STRING, NULL, "TOKEN",
     "bearer token for the feed (use the environment or "
     "--bearer-token-file)",
     PB_OPT_SECRET, O(bearer)},
    {"bearer-token-file", 0, PB_OPT_STRING, NULL, "FILE",
     "file holding the bearer token", 0, O(bearer_file)},
    {"basic-auth", 0, PB_OPT_STRING, NULL, "USER:PASSWORD",
     "basic auth for the feed (use the environment or --basic-auth-file)",
     PB_OPT_SECRET, O(basic)},
    {"basic-auth-file", 0, PB_OPT_STRING, NULL, "FILE",
     "file holding user:password", 0, O(basic_file)},
    {"auth-allow-origin", 0, PB_OPT_STRING, NULL, "URL[,URL...]",
     "other origins (scheme://host[:port]) that may receive the feed's "
     "credentials when a next page points there (default: only the origin "
     "of --url)",
     0, O(auth_allow)},
    {"ca-file", 0, PB_OPT_STRING, NULL, "PEM",
     "CA bundle for the feed's certificate (default: system store)", 0,
     O(ca_file)},
    {"connect-timeout", 0, PB_OPT_DURATION, "10s", "DURATION",
     "connect timeout", 0, O(connect_timeout)},
    {"timeout", 0, PB_OPT_DURATION, "120s", "DURATION",
     "whole request timeout per page", 0, O(timeout)},
    {"retries", 0, PB_OPT_INT, "3", "N",
     "extra attempts per page on transport errors, 408, 429, 5xx", 0,
     O(retries)},
    {"retry-backoff", 0, PB_OPT_DURATION, "1s", "DURATION",
     "first retry delay (doubles per attempt)", 0, O(backoff)},
    PB_OPTG_RETRY_MAX_BACKOFF(O(max_backoff)),
    {"max-response-size", 0, PB_OPT_SIZE, "512MiB", "SIZE",
     "largest body of one page", 0, O(max_response)},
    {"max-record-size", 0, PB_OPT_SIZE, "1MiB", "SIZE",
     "largest record (CSV row, NDJSON line)", 0, O(max_record)},
    {"max-columns", 0, PB_OPT_INT, "1024", "N", "CSV columns", 0,
     O(max_columns)},
    {"max-records", 0, PB_OPT_INT, "5000000", "N",
     "records per poll; a bigger feed fails the poll", 0, O(max_records)},
    {"max-keys", 0, PB_OPT_INT, "20000000", "N",
     "record keys held in the state (16 bytes each, about 23 bytes with "
     "the table's headroom; the key of an entity type the poller owns "
     "shares the ownership map's 20-byte slot instead)",
     0, O(max_keys)},
    PB_OPTG_OPS_LISTEN(O(ops_listen)),
    PB_OPTG_OWNERS_TOPIC(O(owners_topic)),
    PB_OPTG_OWNERS_CAPACITY(O(owners_capacity)),
    {"state-partitions", 0, PB_OPT_INT, "1", "N",
     "partitions when the state topic is created", 0, O(state_partitions)},
    {"state-replication", 0, PB_OPT_INT, "-1", "N",
     "replication factor when the state topic is created (-1: broker "
     "default)",
     0, O(state_replication)},
    {"transactions", 0, PB_OPT_BOOL, "true", NULL,
     "publish events, state and dead letters in Kafka transactions "
     "(exactly once; false: idempotent producer, a crash may re-send what "
     "was in flight)",
     0, O(transactions)},
    {"transactional-id", 0, PB_OPT_STRING, NULL, "ID",
     "transactional.id (default: partnerbus-poll/<state topic>/<source>/"
     "<type>); a poller started with the same id fences the previous one",
     0, O(txn_id)},
    {"transaction-records", 0, PB_OPT_INT, "10000", "N",
     "records (events and dead letters) per transaction; a bigger poll "
     "commits in several",
     0, O(txn_records)},
};
#undef O

static const pb_cmd_spec_t poll_spec = {
    "poll",
    "poll a JSON, NDJSON or CSV feed and publish new and changed records",
    "--brokers B --url URL --type T --map MAPPING [--interval DURATION] "
    "[--state-topic T] [--check]",
    "Each record is mapped to an event of --type by the mapping file, gets "
    "a key from\nits key fields and an event_id derived from source, type, "
    "key and content, and\nis published only when it is new or changed. "
    "State (content hashes, ETag,\nLast-Modified, cursor) lives in a "
    "compacted Kafka topic, written in the same Kafka\ntransactions as the "
    "events (exactly once; readers use\nisolation.level=read_committed). "
    "Records that do not map or validate go to <type>.dlq\nwith their "
    "position and the failing field's JSON Pointer.\n"
    "\n"
    "Examples:\n"
    "  partnerbus poll --check --url https://lvr.example/zuschuesse.csv "
    "--type funds.granted \\\n"
    "      --map grants.map.json\n"
    "  PARTNERBUS_BEARER_TOKEN_FILE=/run/secrets/bgk partnerbus poll -b "
    "k1:9092 \\\n"
    "      --url https://bgk.example/api/shipments --type aid.dispatched "
    "--map bgk.map.json \\\n"
    "      --interval 10m --ops-listen :9101\n",
    poll_opts,
    sizeof(poll_opts) / sizeof(poll_opts[0]),
    1,
};

void pb_poll_count(pollctx_t *p, const char *name, const char *k, const char *v,
                   double n) {
        const char *labels[] = {k, v, NULL};
        pb_metrics_add(p->metrics, name, k ? labels : NULL, n);
}

/* One poll: every page, then every record, then the end of the poll's
 * last transaction. Returns the outcome label. */
static const char *poll_once(pollctx_t *p) {
        pages_t pg;
        const char *outcome;
        int64_t t0 = pb_mono_ms();
        memset(&pg, 0, sizeof(pg));
        /* 1., 2. page by page: fetch, parse, map and send the records */
        outcome = pb_poll_records(p, &pg);
        if (p->set.check)
                goto out;
        /* 3. the last transaction ends with the validators, or is aborted
         * when the poll failed half-way (without transactions: every
         * event and its state acknowledged, then the validators) */
        outcome = pb_poll_finish(p, outcome, &pg);
out:
        if (!p->set.check && p->prod && !p->fenced)
                pb_poll_settle(p);
        pb_log(strcmp(outcome, "ok") && strcmp(outcome, "not_modified")
                   ? "warn"
                   : "info",
               "msg=\"poll done\" outcome=%s pages=%zu records=%ld "
               "published=%ld unchanged=%ld rejected=%ld keys=%zu ms=%lld "
               "claims_ms=%lld commit_ms=%lld",
               outcome, pg.n, p->records, p->published, p->unchanged,
               p->rejected, p->st ? pb_poll_state_count(p->st) : (size_t)0,
               (long long)(pb_mono_ms() - t0), (long long)p->claims_ms,
               (long long)p->commit_ms);
        pb_poll_pages_free(&pg);
        return outcome;
}

static int poll_ready(void *opaque, char *reason, size_t reason_size) {
        pollctx_t *p = opaque;
        return pb_cli_ready(p->ready, "loading state", reason, reason_size);
}

static void declare_metrics(pb_metrics_t *m) {
        pb_metrics_declare(m, "partnerbus_poll_polls_total", "counter",
                           "polls by outcome (ok, not_modified, unreachable, "
                           "fenced, "
                           "malformed, too_large, limit, kafka_error)",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_poll_records_total", "counter",
                           "records by outcome (published, unchanged, "
                           "rejected)",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_poll_dead_letters_total", "counter",
                           "records sent to the dead-letter topic", NULL, 0);
        pb_metrics_declare(m, "partnerbus_poll_last_success_timestamp_seconds",
                           "gauge", "end of the last successful poll", NULL, 0);
        pb_metrics_declare(m, "partnerbus_poll_state_keys", "gauge",
                           "record keys in the state table", NULL, 0);
        pb_metrics_declare(m, "partnerbus_poll_duration_seconds", "histogram",
                           "duration of a poll", NULL, 0);
        pb_metrics_declare(m, "partnerbus_poll_owner_claims_total", "counter",
                           "entities claimed for --organisation", NULL, 0);
        pb_metrics_declare(m, "partnerbus_poll_owner_refusals_total", "counter",
                           "records about an entity another organisation "
                           "owns (not published, dead letter)",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_poll_owner_unavailable_total",
                           "counter",
                           "records not published because ownership could "
                           "not be told (retried by the next poll)",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_poll_owner_entries", "gauge",
                           "entities in the ownership map", NULL, 0);
}

static int read_secret(const char *val, const char *file, char **out) {
        char err[256];
        if (file) {
                *out = pb_opts_read_secret(file, err, sizeof(err));
                if (!*out) {
                        pb_log("error", "msg=\"%s\"", err);
                        return -1;
                }
        } else if (val) {
                *out = strdup(val);
        }
        return 0;
}

/* Checks the options, loads the mapping, the schemas and the secrets.
 * -1 when all is well, else the exit status. */
static int setup(pollctx_t *p) {
        int status = PB_EXIT_FAIL;
        char err[512];
        const char *fmt;
        if (!p->set.check && !pb_cli_require_brokers(cmd, &p->cc)) {
                status = PB_EXIT_USAGE;
                goto done;
        }
        if (p->set.interval <= 0 || p->set.max_pages < 1 ||
            p->set.max_records < 1 || p->set.max_columns < 1 ||
            p->set.max_record < 16 || p->set.txn_records < 1) {
                status = pb_cli_usage_error(
                    cmd, "--interval, --max-pages, --max-records, "
                         "--max-columns, --max-record-size and "
                         "--transaction-records must be positive");
                goto done;
        }
        if (p->set.owners_capacity < 1 || p->set.owners_capacity > (1L << 28) ||
            !p->set.owners_topic || !p->set.owners_topic[0]) {
                status = pb_cli_usage_error(
                    cmd, "--owners-capacity must be 1 to 2^28 and "
                         "--owners-topic not empty");
                goto done;
        }
        p->map = pb_mapping_load(p->set.map, err, sizeof(err));
        if (!p->map) {
                status =
                    pb_cli_usage_error(cmd, "--map %s: %s", p->set.map, err);
                goto done;
        }
        /* the operator's setting decides in whose name the feed publishes;
         * the mapping file (perhaps the organisation's own) only declares */
        if (!p->set.check && !p->set.organisation) {
                status = pb_cli_usage_error(
                    cmd, "--organisation is required: the organisation "
                         "whose feed this is (the source of its events)");
                goto done;
        }
        if (p->set.organisation &&
            strcmp(p->set.organisation, pb_mapping_source(p->map))) {
                status = pb_cli_usage_error(
                    cmd,
                    "--map %s names source '%s', but this poller publishes "
                    "for --organisation '%s'",
                    p->set.map, pb_mapping_source(p->map), p->set.organisation);
                goto done;
        }
        fmt = p->set.format ? p->set.format : pb_mapping_format(p->map);
        p->format = pb_feed_format_parse(fmt);
        if ((int)p->format < 0) {
                status = pb_cli_usage_error(
                    cmd, "format '%s': expected auto, json, ndjson or csv",
                    fmt);
                goto done;
        }
        p->records_ptr =
            p->set.records ? p->set.records : pb_mapping_records(p->map);
        p->sep = pb_mapping_separator(p->map);
        if (p->set.separator) {
                if (strlen(p->set.separator) != 1 ||
                    p->set.separator[0] == '"') {
                        status = pb_cli_usage_error(
                            cmd, "--separator expects one character");
                        goto done;
                }
                p->sep = p->set.separator[0];
        }
        if ((p->set.cursor_param != NULL) != (p->set.cursor_pointer != NULL)) {
                status = pb_cli_usage_error(
                    cmd, "--cursor-param and --cursor-pointer go together");
                goto done;
        }
        p->catalog = pb_cli_load_schemas(cmd, &p->cc);
        if (!p->catalog)
                goto done;
        p->schema = pb_schemas_find(p->catalog, p->set.type);
        if (!p->schema) {
                status = pb_cli_usage_error(cmd, "unknown event type '%s'",
                                            p->set.type);
                goto done;
        }
        if (pb_schema_key_field(p->schema)) {
                char kt[300];
                snprintf(kt, sizeof(kt), "/%s", pb_schema_key_field(p->schema));
                pb_mapping_set_default_key(p->map, kt);
        }
        p->serde = pb_serde_new(p->catalog, NULL, err, sizeof(err));
        if (!p->serde) {
                pb_log("error", "msg=\"%s\"", err);
                goto done;
        }
        if (read_secret(p->set.bearer, p->set.bearer_file, &p->bearer) ||
            read_secret(p->set.basic, p->set.basic_file, &p->basic))
                goto done;
        return -1;
done:
        return status;
}

/* Fetch options, topic names, state table, metrics, the ops endpoint;
 * then the producer (fencing its predecessor), the state topic and its
 * replay. 0 or -1. */
static int start(pollctx_t *p) {
        char err[512];
        p->fo.connect_timeout_ms = (long)p->set.connect_timeout;
        p->fo.timeout_ms = (long)p->set.timeout;
        p->fo.max_body = p->set.max_response;
        p->fo.ca_file = p->set.ca_file;
        p->fo.bearer = p->bearer;
        p->fo.userpwd = p->basic;
        p->fo.auth_origin = p->set.url; /* credentials to its origin only */
        p->fo.auth_allow = p->set.auth_allow;
        p->fo.retries = (int)p->set.retries;
        p->fo.backoff_ms = (long)p->set.backoff;
        p->fo.backoff_max_ms = (long)p->set.max_backoff;
        p->fo.stop = &pb_cli_stop;
        p->fo.spool = 1; /* a page's body in a file, not in memory */
        pb_kafka_topic(&p->cc.kconf, p->set.type, p->topic, sizeof(p->topic));
        pb_kafka_topic(&p->cc.kconf, p->set.state_topic, p->state_topic,
                       sizeof(p->state_topic));
        if (p->set.dlq_topic)
                pb_kafka_topic(&p->cc.kconf, p->set.dlq_topic, p->dlq_topic,
                               sizeof(p->dlq_topic));
        else
                snprintf(p->dlq_topic, sizeof(p->dlq_topic), "%s.dlq",
                         p->topic);
        snprintf(p->prefix, sizeof(p->prefix), "%s/%s",
                 pb_mapping_source(p->map), p->set.type);
        p->st = pb_poll_state_new((size_t)p->set.max_keys);
        p->metrics = pb_metrics_new();
        if (!p->st || !p->metrics)
                return -1;
        declare_metrics(p->metrics);
        pb_cli_trap_signals();
        if (pb_cli_ops_start(p->set.ops_listen, p->metrics, poll_ready, p,
                             &p->ops))
                return -1;
        if (p->cc.brokers) {
                if (!p->set.check) {
                        if (pb_poll_start_producer(p))
                                return -1;
                        pb_poll_create_state_topic(p);
                }
                if (!p->set.check && pb_owners_pointer(p->set.type)) {
                        p->owners = pb_owners_new_self(
                            &p->cc.kconf, p->set.owners_topic,
                            (size_t)p->set.owners_capacity, cmd,
                            p->set.organisation, err, sizeof(err));
                        if (!p->owners) {
                                pb_log("error", "msg=\"ownership: %s\"", err);
                                return -1;
                        }
                        /* the state in the slots of the entities it owns */
                        pb_poll_state_share(p->st, pb_owners_map(p->owners),
                                            strlen(pb_mapping_source(p->map)) +
                                                1);
                }
                if (pb_poll_read_state(p))
                        return -1;
        }
        p->ready = 1;
        return 0;
}

/* The main loop: a poll every --interval until stopped, fenced, or after
 * one poll with --once or --check. Returns the exit status. */
static int run(pollctx_t *p) {
        int status = PB_EXIT_OK;
        for (;;) {
                int64_t start = pb_mono_ms();
                const char *outcome;
                p->records = p->published = p->unchanged = p->rejected = 0;
                outcome = poll_once(p);
                pb_poll_count(p, "partnerbus_poll_polls_total", "outcome",
                              outcome, 1);
                pb_metrics_observe(p->metrics,
                                   "partnerbus_poll_duration_seconds", NULL,
                                   (double)(pb_mono_ms() - start) / 1000.0);
                pb_metrics_set(p->metrics, "partnerbus_poll_state_keys", NULL,
                               (double)pb_poll_state_count(p->st));
                if (p->owners) {
                        pb_owners_stats_t os;
                        pb_owners_stats(p->owners, &os);
                        pb_metrics_set(p->metrics,
                                       "partnerbus_poll_owner_claims_total",
                                       NULL, (double)os.claims);
                        pb_metrics_set(p->metrics,
                                       "partnerbus_poll_owner_refusals_total",
                                       NULL, (double)os.refusals);
                        pb_metrics_set(
                            p->metrics,
                            "partnerbus_poll_owner_unavailable_total", NULL,
                            (double)os.unavailable);
                        pb_metrics_set(p->metrics,
                                       "partnerbus_poll_owner_entries", NULL,
                                       (double)os.entries);
                }
                if (!strcmp(outcome, "ok") || !strcmp(outcome, "not_modified"))
                        pb_metrics_set(
                            p->metrics,
                            "partnerbus_poll_last_success_timestamp_seconds",
                            NULL, (double)pb_now_ms() / 1000.0);
                if (p->set.check) {
                        fprintf(stderr,
                                "partnerbus poll --check: %ld records, %ld "
                                "would be published, %ld unchanged, %ld "
                                "rejected (outcome %s)\n",
                                p->records, p->published, p->unchanged,
                                p->rejected, outcome);
                        status = strcmp(outcome, "ok") ? PB_EXIT_FAIL
                                 : p->rejected         ? PB_EXIT_FAIL
                                                       : PB_EXIT_OK;
                        break;
                }
                if (p->fenced) {
                        pb_log("error",
                               "msg=\"producer fenced or failed fatally "
                               "(another poller with transactional.id "
                               "'%s' started?); exiting\"",
                               p->txn_id);
                        status = PB_EXIT_FAIL;
                        break;
                }
                if (p->set.once) {
                        status = strcmp(outcome, "ok") &&
                                         strcmp(outcome, "not_modified")
                                     ? PB_EXIT_FAIL
                                     : PB_EXIT_OK;
                        break;
                }
                while (!pb_cli_stop && pb_mono_ms() - start < p->set.interval) {
                        struct timespec ts = {0, 100 * 1000000L};
                        nanosleep(&ts, NULL);
                }
                if (pb_cli_stop)
                        break;
        }
        return status;
}

int pb_cmd_poll(int argc, char **argv) {
        pollctx_t *p = calloc(1, sizeof(*p));
        int rc, status = PB_EXIT_FAIL;
        if (!p)
                return PB_EXIT_FAIL;
        rc = pb_opts_parse_args(&poll_spec, &p->set, &p->cc, argc, argv);
        if (rc >= 0) {
                free(p);
                pb_opts_free();
                return rc;
        }
        status = setup(p);
        if (status >= 0)
                goto done;
        status = PB_EXIT_FAIL;
        if (start(p))
                goto done;
        status = run(p);
        pb_log("info", "msg=\"stopping\"");
done:
        if (p->prod) {
                pb_poll_txn_abort(p);
                if (!p->fenced)
                        pb_poll_settle(p);
                pb_producer_destroy(p->prod);
        }
        pb_owners_destroy(p->owners);
        free(p->undo);
        pb_ops_server_destroy(p->ops);
        pb_metrics_destroy(p->metrics);
        pb_poll_state_destroy(p->st);
        pb_serde_destroy(p->serde);
        pb_schemas_destroy(p->catalog);
        pb_mapping_destroy(p->map);
        if (p->bearer) {
                memset(p->bearer, 0, strlen(p->bearer));
                free(p->bearer);
        }
        if (p->basic) {
                memset(p->basic, 0, strlen(p->basic));
                free(p->basic);
        }
        free(p);
        pb_opts_free();
        return status;
}
