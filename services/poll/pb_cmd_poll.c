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
 * the poll goes on. */
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_metrics.h"
#include "partnerbus/pb_util.h"
#include "pb_cli.h"
#include "pb_feed.h"
#include "pb_fetch.h"
#include "pb_mapping.h"
#include "pb_opts.h"
#include "pb_pollstate.h"

static const char *cmd = "poll";

/* namespace of the event ids (UUIDv5) the poller derives */
#define PB_POLL_NS "6f1c1a4e-3b9d-5c2a-9e4f-7a8b0c1d2e3f"

typedef struct poll_settings {
        const char *url, *type, *map;
        int64_t interval;
        const char *state_topic, *dlq_topic;
        int check, once;
        const char *format, *records, *separator;
        const char *next_pointer;
        int follow_link;
        const char *cursor_param, *cursor_pointer;
        int cursor_resume;
        long max_pages;
        const char *bearer, *bearer_file, *basic, *basic_file, *ca_file;
        const char *auth_allow;
        int64_t connect_timeout, timeout, backoff, max_backoff;
        long retries;
        size_t max_response, max_record;
        long max_columns, max_records, max_keys;
        const char *ops_listen;
        long state_partitions, state_replication;
        int transactions;
        const char *txn_id;
        long txn_records;
} poll_settings_t;

#define O(f) offsetof(poll_settings_t, f)
static const pb_opt_t poll_opts[] = {
    {"url", 'u', PB_OPT_STRING, NULL, "URL", "the feed (http or https)",
     PB_OPT_REQUIRED, O(url)},
    {"type", 't', PB_OPT_STRING, NULL, "TYPE",
     "event type the records become (aid.dispatched, funds.granted, ...)",
     PB_OPT_REQUIRED, O(type)},
    {"map", 'm', PB_OPT_STRING, NULL, "FILE",
     "mapping file (JSON; see docs/poll.md)", PB_OPT_REQUIRED, O(map)},
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
    {"retry-max-backoff", 0, PB_OPT_DURATION, "60s", "DURATION",
     "longest retry delay", 0, O(max_backoff)},
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
     "the table's headroom)",
     0, O(max_keys)},
    {"ops-listen", 0, PB_OPT_STRING, NULL, "ADDR:PORT",
     "serve /healthz /readyz /metrics here (port 0: any free port)", 0,
     O(ops_listen)},
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

/* A message in flight: an event (then its state record follows), a state
 * record, a dead letter, or the validators record. */
enum { PM_EVENT, PM_STATE, PM_DLQ, PM_FEED };
typedef struct pmsg {
        int kind;
        uint64_t kfp, hash;
        char *skey; /* state key, malloc'd */
        char hex[33];
        struct pmsg *next;
} pmsg_t;

/* A state table entry as it was before the open transaction changed it,
 * restored when the transaction aborts. */
typedef struct pb_undo {
        uint64_t kfp, old;
        int had;
} pb_undo_t;

typedef struct pollctx {
        poll_settings_t set;
        pb_cli_common_t cc;
        pb_schemas_t *catalog;
        const pb_schema_t *schema;
        pb_serde_t *serde;
        pb_mapping_t *map;
        pb_producer_t *prod;
        pb_metrics_t *metrics;
        pb_ops_server_t *ops;
        pb_pstate_t *st;
        char topic[512], state_topic[512], dlq_topic[512];
        char prefix[600]; /* "<source>/<type>" */
        pb_feed_format_t format;
        const char *records_ptr;
        char sep;
        pb_fetch_opts_t fo;
        char *bearer, *basic;
        /* validators */
        char etag[512], last_modified[128], cursor[1024];
        int have_validators;
        int ready;
        /* per poll */
        pmsg_t *to_state; /* acknowledged events whose state is due */
        long inflight;
        long ev_failed, st_failed;
        long published, unchanged, rejected, records;
        /* transactions (txn == 0: idempotent mode, state after the acks) */
        int txn, txn_open, txn_failed, fenced;
        long txn_records;   /* events and dead letters in the open one */
        long txn_published; /* events in the open one */
        pb_undo_t *undo;    /* state table before the open transaction */
        size_t nundo, capundo;
        char txn_id[1200];
} pollctx_t;

static void count(pollctx_t *p, const char *name, const char *k, const char *v,
                  double n) {
        const char *labels[] = {k, v, NULL};
        pb_metrics_add(p->metrics, name, k ? labels : NULL, n);
}

static void on_delivery(void *opaque, void *msg_opaque, pb_resp_t err,
                        const char *errstr, const char *topic,
                        int32_t partition, int64_t offset) {
        pollctx_t *p = opaque;
        pmsg_t *m = msg_opaque;
        p->inflight--;
        if (p->txn) {
                /* the transaction's commit fails too; nothing to undo
                 * here (abort_chunk does) */
                if (err != PB_OK)
                        p->ev_failed++;
                if (m) {
                        free(m->skey);
                        free(m);
                }
                return;
        }
        if (!m)
                return;
        switch (m->kind) {
        case PM_EVENT:
        case PM_DLQ:
                if (err != PB_OK) {
                        pb_log("error",
                               "msg=\"%s not acknowledged\" key=\"%s\" "
                               "error=\"%s\"",
                               m->kind == PM_EVENT ? "event" : "dead letter",
                               m->skey, errstr ? errstr : "");
                        /* forget the key: the next poll sends it again
                         * (same content, same event_id) */
                        pb_pstate_del(p->st, m->kfp);
                        p->ev_failed++;
                        free(m->skey);
                        free(m);
                        return;
                }
                if (m->kind == PM_EVENT) {
                        p->published++;
                        count(p, "partnerbus_poll_records_total", "outcome",
                              "published", 1);
                }
                m->kind = PM_STATE;
                m->next = p->to_state; /* sent from the main loop */
                p->to_state = m;
                return;
        case PM_STATE:
        case PM_FEED:
                if (err != PB_OK) {
                        pb_log("error",
                               "msg=\"state record not acknowledged\" "
                               "error=\"%s\"",
                               errstr ? errstr : "");
                        p->st_failed++;
                }
                break;
        }
        free(m->skey);
        free(m);
}

/* Sends with backpressure: polls while the local queue is full. */
static pb_resp_t send_raw(pollctx_t *p, const char *topic, const char *key,
                          const void *val, size_t len, const char *const *hdrs,
                          pmsg_t *m) {
        char err[256];
        pb_resp_t rc;
        for (;;) {
                rc = pb_producer_send_raw(p->prod, topic, key,
                                          key ? strlen(key) : 0, val, len, hdrs,
                                          m, err, sizeof(err));
                if (rc != PB_ERR_LIMIT)
                        break;
                pb_producer_poll(p->prod, 50);
        }
        if (rc != PB_OK)
                pb_log("error", "msg=\"send to %s: %s\"", topic, err);
        else
                p->inflight++;
        return rc;
}

static void drain_state(pollctx_t *p) {
        while (p->to_state) {
                pmsg_t *m = p->to_state;
                p->to_state = m->next;
                m->next = NULL;
                if (send_raw(p, p->state_topic, m->skey, m->hex, 32, NULL, m) !=
                    PB_OK) {
                        p->st_failed++;
                        free(m->skey);
                        free(m);
                }
        }
}

/* Waits until every message of this poll got its report. */
static void settle(pollctx_t *p) {
        for (;;) {
                drain_state(p);
                if (p->inflight <= 0 && !p->to_state)
                        break;
                pb_producer_poll(p->prod, 100);
        }
}

/* --- transactions ---
 *
 * With transactions (the default), a poll's events, their state records,
 * its dead letters and, last, the validators record go to Kafka in
 * transactions of at most --transaction-records records: each commits
 * entirely or not at all, so the state topic says "published" exactly for
 * the events that are in the topic. The state table in memory is changed
 * as records are sent; an undo log restores it when a transaction aborts. */

static void txn_error(pollctx_t *p, const char *what, rd_kafka_error_t *e) {
        int fatal = rd_kafka_error_is_fatal(e);
        if (fatal)
                p->fenced = 1; /* producer unusable: fenced or fatal */
        pb_log("error", "msg=\"%s: %s\" fatal=%s transactional_id=\"%s\"", what,
               rd_kafka_error_string(e), fatal ? "true" : "false", p->txn_id);
        rd_kafka_error_destroy(e);
}

/* Remembers the state entry kfp as it was before the open transaction.
 * 0, or -1 without memory. */
static int undo_push(pollctx_t *p, uint64_t kfp) {
        pb_undo_t *u;
        if (!p->txn)
                return 0;
        if (p->nundo == p->capundo) {
                size_t cap = p->capundo ? 2 * p->capundo : 1024;
                pb_undo_t *n = realloc(p->undo, cap * sizeof(*n));
                if (!n)
                        return -1;
                p->undo = n;
                p->capundo = cap;
        }
        u = &p->undo[p->nundo++];
        u->kfp = kfp;
        u->had = pb_pstate_get(p->st, kfp, &u->old);
        return 0;
}

static void undo_all(pollctx_t *p) {
        while (p->nundo) {
                pb_undo_t *u = &p->undo[--p->nundo];
                if (u->had)
                        pb_pstate_put(p->st, u->kfp, u->old);
                else
                        pb_pstate_del(p->st, u->kfp);
        }
}

/* Opens a transaction unless one is open. 0, or -1 (txn_failed set). */
static int txn_begin(pollctx_t *p) {
        rd_kafka_error_t *e;
        if (!p->txn || p->txn_open)
                return 0;
        if (p->txn_failed)
                return -1;
        e = rd_kafka_begin_transaction(pb_producer_rk(p->prod));
        if (e) {
                txn_error(p, "begin transaction", e);
                p->txn_failed = 1;
                return -1;
        }
        p->txn_open = 1;
        p->txn_records = p->txn_published = 0;
        p->nundo = 0;
        return 0;
}

/* Aborts the open transaction: Kafka drops its events, state records and
 * dead letters, the state table goes back to what it was. If the abort
 * itself fails, what Kafka holds is unknown: fenced is set so that the
 * process exits and its successor reads the state topic again. */
static void txn_abort(pollctx_t *p) {
        rd_kafka_error_t *e;
        if (!p->txn_open)
                return;
        p->txn_open = 0;
        undo_all(p);
        p->txn_records = p->txn_published = 0;
        if (p->fenced)
                return; /* the broker aborts it (timeout or successor) */
        e = rd_kafka_abort_transaction(pb_producer_rk(p->prod), 60000);
        if (e) {
                txn_error(p, "abort transaction", e);
                p->fenced = 1;
        } else {
                pb_log("warn", "msg=\"transaction aborted; nothing of it is "
                               "visible to read_committed readers\"");
        }
        pb_producer_poll(p->prod, 0);
}

/* Commits the open transaction (librdkafka flushes it first). 0, or -1
 * after aborting it. */
static int txn_commit(pollctx_t *p) {
        rd_kafka_t *rk = pb_producer_rk(p->prod);
        rd_kafka_error_t *e;
        int attempt;
        if (!p->txn_open)
                return 0;
        if (p->txn_failed) {
                txn_abort(p);
                return -1;
        }
        for (attempt = 1;; attempt++) {
                e = rd_kafka_commit_transaction(rk, 60000);
                if (!e)
                        break;
                if (rd_kafka_error_is_retriable(e) && attempt < 4) {
                        pb_log("warn",
                               "msg=\"commit transaction: %s; "
                               "retrying\" attempt=%d",
                               rd_kafka_error_string(e), attempt);
                        rd_kafka_error_destroy(e);
                        continue;
                }
                txn_error(p, "commit transaction", e);
                p->txn_failed = 1;
                txn_abort(p);
                return -1;
        }
        p->txn_open = 0;
        p->nundo = 0;
        p->published += p->txn_published;
        if (p->txn_published)
                count(p, "partnerbus_poll_records_total", "outcome",
                      "published", (double)p->txn_published);
        p->txn_records = p->txn_published = 0;
        return 0;
}

/* Creates the producer. With --transactions, a transactional one:
 * init_transactions fences an older producer with the same
 * transactional.id (a zombie of this poller) and aborts its open
 * transaction. A cluster that offers no transactions (or refuses this id)
 * gets the idempotent producer and a warning. 0 or -1. */
static int start_producer(pollctx_t *p) {
        pb_kafka_conf_t kc = p->cc.kconf;
        const char *user_id = NULL;
        char prop[1300], err[512];
        rd_kafka_error_t *e;
        size_t i;
        for (i = 0; i < kc.nprops; i++)
                if (!strncmp(kc.props[i], "transactional.id=", 17))
                        user_id = kc.props[i] + 17;
        if (!p->set.transactions) {
                if (user_id) {
                        pb_log("error", "msg=\"-X transactional.id needs "
                                        "--transactions\"");
                        return -1;
                }
                pb_log("warn", "msg=\"--transactions=false: idempotent "
                               "producer; a crash between the acks and the "
                               "state write re-sends those events (same "
                               "event_id)\"");
        } else {
                if (p->set.txn_id)
                        snprintf(p->txn_id, sizeof(p->txn_id), "%s",
                                 p->set.txn_id);
                else if (user_id)
                        snprintf(p->txn_id, sizeof(p->txn_id), "%s", user_id);
                else
                        snprintf(p->txn_id, sizeof(p->txn_id),
                                 "partnerbus-poll/%s/%s", p->state_topic,
                                 p->prefix);
                snprintf(prop, sizeof(prop), "transactional.id=%s", p->txn_id);
                if (pb_kafka_conf_add(&kc, prop) != PB_OK) {
                        pb_log("error", "msg=\"too many -X properties\"");
                        return -1;
                }
        }
        p->prod = pb_producer_new(&kc, on_delivery, p, err, sizeof(err));
        if (!p->prod) {
                pb_log("error", "msg=\"producer: %s\"", err);
                return -1;
        }
        if (!p->set.transactions)
                return 0;
        e = rd_kafka_init_transactions(pb_producer_rk(p->prod), 60000);
        if (!e) {
                p->txn = 1;
                pb_log("info",
                       "msg=\"transactional producer ready; an older "
                       "instance with this id is fenced\" "
                       "transactional_id=\"%s\" records_per_transaction=%ld",
                       p->txn_id, p->set.txn_records);
                return 0;
        }
        pb_log("warn",
               "msg=\"Kafka transactions unavailable: %s; falling back to "
               "the idempotent producer: NOT exactly once, a crash between "
               "the acks and the state write re-sends those events (same "
               "event_id)\" transactional_id=\"%s\"",
               rd_kafka_error_string(e), p->txn_id);
        rd_kafka_error_destroy(e);
        pb_producer_destroy(p->prod);
        p->prod = NULL;
        if (user_id) {
                pb_log("error", "msg=\"-X transactional.id given: not "
                                "falling back\"");
                return -1;
        }
        p->txn_id[0] = 0;
        p->prod =
            pb_producer_new(&p->cc.kconf, on_delivery, p, err, sizeof(err));
        if (!p->prod) {
                pb_log("error", "msg=\"producer: %s\"", err);
                return -1;
        }
        return 0;
}

/* --- state topic --- */

static void create_state_topic(pollctx_t *p) {
        rd_kafka_t *rk = pb_producer_rk(p->prod);
        rd_kafka_NewTopic_t *nt;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        rd_kafka_AdminOptions_t *ao;
        char err[256];
        nt = rd_kafka_NewTopic_new(p->state_topic, (int)p->set.state_partitions,
                                   (int)p->set.state_replication, err,
                                   sizeof(err));
        if (!nt) {
                pb_log("warn", "msg=\"state topic: %s\"", err);
                return;
        }
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
        q = rd_kafka_queue_new(rk);
        ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, NULL, 0);
        rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
        ev = rd_kafka_queue_poll(q, 20000);
        if (!ev) {
                pb_log("warn",
                       "msg=\"state topic %s: no answer to "
                       "CreateTopics; relying on what exists\"",
                       p->state_topic);
        } else {
                const rd_kafka_CreateTopics_result_t *res =
                    rd_kafka_event_CreateTopics_result(ev);
                size_t n = 0;
                const rd_kafka_topic_result_t **tr =
                    res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
                if (rd_kafka_event_error(ev))
                        pb_log("warn", "msg=\"state topic %s: %s\"",
                               p->state_topic, rd_kafka_event_error_string(ev));
                else if (n == 1 && rd_kafka_topic_result_error(tr[0]) ==
                                       RD_KAFKA_RESP_ERR_NO_ERROR)
                        pb_log("info",
                               "msg=\"created state topic\" topic=%s "
                               "cleanup.policy=compact",
                               p->state_topic);
                else if (n == 1 && rd_kafka_topic_result_error(tr[0]) !=
                                       RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                        pb_log("warn",
                               "msg=\"state topic %s not created: %s; an "
                               "auto-created topic is not compacted\"",
                               p->state_topic,
                               rd_kafka_topic_result_error_string(tr[0]));
                rd_kafka_event_destroy(ev);
        }
        rd_kafka_AdminOptions_destroy(ao);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
}

static void load_validators(pollctx_t *p, const char *v, size_t n) {
        pb_json_parser_t *jp = pb_json_parser_new(NULL);
        const pb_json_t *root, *x;
        char err[128];
        if (!jp)
                return;
        root = pb_json_parse(jp, v, n, err, sizeof(err));
        p->etag[0] = p->last_modified[0] = p->cursor[0] = 0;
        p->have_validators = 0;
        if (root && root->type == PB_JSON_OBJECT) {
                if ((x = pb_json_get(root, "etag")) &&
                    x->type == PB_JSON_STRING && x->len < sizeof(p->etag))
                        memcpy(p->etag, x->str, x->len + 1);
                if ((x = pb_json_get(root, "last_modified")) &&
                    x->type == PB_JSON_STRING &&
                    x->len < sizeof(p->last_modified))
                        memcpy(p->last_modified, x->str, x->len + 1);
                if ((x = pb_json_get(root, "cursor")) &&
                    x->type == PB_JSON_STRING && x->len < sizeof(p->cursor))
                        memcpy(p->cursor, x->str, x->len + 1);
                p->have_validators = 1;
        }
        pb_json_parser_destroy(jp);
}

/* Applies one state record of this poller's prefix. 0, or -1 when the
 * table is full. */
static int apply_state(pollctx_t *p, const char *k, size_t klen, const void *v,
                       size_t vlen, long *n, long *tomb) {
        size_t plen = strlen(p->prefix);
        uint64_t kfp, h;
        if (!k || klen < plen || memcmp(k, p->prefix, plen))
                return 0;
        if (klen == plen) {
                if (v && vlen)
                        load_validators(p, v, vlen);
                else
                        p->have_validators = 0;
                return 0;
        }
        if (k[plen] != '/')
                return 0;
        kfp = pb_fingerprint(k, klen, NULL);
        h = v ? pb_fingerprint_parse(v, vlen) : 0;
        (*n)++;
        if (!v || !vlen) {
                pb_pstate_del(p->st, kfp);
                (*tomb)++;
        } else if (h && pb_pstate_put(p->st, kfp, h) != PB_OK) {
                pb_log("error",
                       "msg=\"state holds more than --max-keys=%ld "
                       "keys\"",
                       p->set.max_keys);
                return -1;
        }
        return 0;
}

/* Reads the state topic to its end, read_committed: records of aborted
 * transactions are never seen. "The end" is the high watermark of every
 * partition as it was when reading began (after init_transactions aborted
 * the open transaction of a fenced predecessor); a read_committed reader
 * gets EOF at the last stable offset, which stays below that mark while
 * another poller sharing the topic has a transaction open, so EOF below
 * the mark means "wait", not "done". */
static int read_state(pollctx_t *p) {
        pb_consumer_opts_t co = {NULL, 1, 1, 0};
        const char *topics[1] = {p->state_topic};
        pb_kafka_conf_t kc = p->cc.kconf;
        pb_consumer_t *c;
        rd_kafka_t *rk;
        rd_kafka_topic_partition_list_t *asg = NULL;
        int64_t *hwm = NULL;
        char *done = NULL;
        char err[512];
        long n = 0, tomb = 0;
        int64_t t0 = pb_now_ms(), next_note = t0 + 10000;
        int i, left, rc = -1;
        /* after the caller's -X: readers of transactional topics must not
         * see uncommitted or aborted records */
        if (pb_kafka_conf_add(&kc, "isolation.level=read_committed") != PB_OK) {
                pb_log("error", "msg=\"too many -X properties\"");
                return -1;
        }
        c = pb_consumer_new(&kc, &co, topics, 1, err, sizeof(err));
        if (!c) {
                pb_log("error", "msg=\"state topic %s: %s\"", p->state_topic,
                       err);
                return -1;
        }
        rk = pb_consumer_rk(c);
        if (rd_kafka_assignment(rk, &asg) || !asg || asg->cnt < 1) {
                pb_log("error", "msg=\"state topic %s: no partitions\"",
                       p->state_topic);
                goto out;
        }
        hwm = calloc((size_t)asg->cnt, sizeof(*hwm));
        done = calloc((size_t)asg->cnt, 1);
        if (!hwm || !done)
                goto out;
        left = asg->cnt;
        for (i = 0; i < asg->cnt; i++) {
                int64_t lo = 0, hi = 0;
                rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
                    rk, asg->elems[i].topic, asg->elems[i].partition, &lo, &hi,
                    10000);
                if (e) {
                        pb_log("error",
                               "msg=\"state topic %s [%d]: watermarks: %s\"",
                               p->state_topic, asg->elems[i].partition,
                               rd_kafka_err2str(e));
                        goto out;
                }
                hwm[i] = hi;
                if (hi <= lo) {
                        done[i] = 1;
                        left--;
                }
        }
        while (left > 0) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
                if (pb_cli_stop)
                        goto out;
                if (pb_now_ms() > next_note) {
                        pb_log("info",
                               "msg=\"reading the state topic; "
                               "waiting for its end (a transaction "
                               "of another poller may be open)\" "
                               "records=%ld partitions_left=%d",
                               n, left);
                        next_note = pb_now_ms() + 10000;
                }
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        for (i = 0; i < asg->cnt; i++)
                                if (asg->elems[i].partition == m->partition &&
                                    !done[i] && m->offset >= hwm[i]) {
                                        done[i] = 1;
                                        left--;
                                }
                } else if (m->err) {
                        char fe[256];
                        if (rd_kafka_fatal_error(rk, fe, sizeof(fe))) {
                                pb_log("error", "msg=\"reading state: %s\"",
                                       fe);
                                rd_kafka_message_destroy(m);
                                goto out;
                        }
                } else if (apply_state(p, m->key, m->key ? m->key_len : 0,
                                       m->payload, m->payload ? m->len : 0, &n,
                                       &tomb)) {
                        rd_kafka_message_destroy(m);
                        goto out;
                } else {
                        for (i = 0; i < asg->cnt; i++)
                                if (asg->elems[i].partition == m->partition &&
                                    !done[i] && m->offset + 1 >= hwm[i]) {
                                        done[i] = 1;
                                        left--;
                                }
                }
                rd_kafka_message_destroy(m);
        }
        rc = 0;
        pb_log("info",
               "msg=\"state loaded\" topic=%s isolation=read_committed "
               "records=%ld tombstones=%ld keys=%zu table_bytes=%zu "
               "etag=\"%s\" ms=%lld",
               p->state_topic, n, tomb, pb_pstate_count(p->st),
               pb_pstate_bytes(p->st), p->etag, (long long)(pb_now_ms() - t0));
out:
        if (asg)
                rd_kafka_topic_partition_list_destroy(asg);
        free(hwm);
        free(done);
        pb_consumer_destroy(c);
        return rc;
}

/* --- one poll --- */

typedef struct page {
        pb_fetch_result_t res;
        pb_feed_t *feed;
        pb_feed_format_t fmt;
} page_t;

static const char *fmt_name(pb_feed_format_t f) {
        return f == PB_FEED_JSON     ? "json"
               : f == PB_FEED_NDJSON ? "ndjson"
               : f == PB_FEED_CSV    ? "csv"
                                     : "auto";
}

/* Decides the page's format and parses it. 0 or -1 with errstr. */
static int open_page(pollctx_t *p, page_t *pg, char *errstr, size_t n) {
        int html = 0;
        pb_feed_format_t ct =
            pb_feed_format_from_type(pg->res.content_type, &html);
        pb_feed_opts_t fo;
        const char *b = (const char *)pg->res.body.data;
        size_t len = pg->res.body.len, i = 0;
        if (!b)
                b = "";
        while (i < len &&
               (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
                i++;
        if (html || (i < len && b[i] == '<')) {
                snprintf(errstr, n,
                         "the feed answered with HTML (Content-Type '%s'), "
                         "not data",
                         pg->res.content_type);
                return -1;
        }
        pg->fmt = p->format != PB_FEED_AUTO ? p->format : ct;
        if (pg->fmt == PB_FEED_AUTO) {
                if (i < len && (b[i] == '[' || b[i] == '{'))
                        pg->fmt = PB_FEED_JSON;
                else {
                        snprintf(errstr, n,
                                 "cannot tell the feed's format from "
                                 "Content-Type '%s'; set --format",
                                 pg->res.content_type);
                        return -1;
                }
        }
        memset(&fo, 0, sizeof(fo));
        fo.format = pg->fmt;
        fo.records_pointer = p->records_ptr;
        fo.separator = p->sep;
        fo.max_record = p->set.max_record;
        fo.max_columns = (size_t)p->set.max_columns;
        fo.max_nodes = 0;
        pg->feed = pb_feed_new(b, len, pg->fmt, &fo, errstr, n);
        return pg->feed ? 0 : -1;
}

static void dead_letter(pollctx_t *p, const page_t *pg, const pb_record_t *rec,
                        const char *key, const char *why, const char *pointer) {
        char pos[64], hex[33], *skey;
        uint64_t h, kfp, old;
        size_t l;
        pmsg_t *m;
        const char *hdrs[] = {"partnerbus_error",
                              why,
                              "partnerbus_error_pointer",
                              pointer ? pointer : "",
                              "partnerbus_position",
                              pos,
                              "partnerbus_feed_url",
                              pg->res.url,
                              "partnerbus_type",
                              p->set.type,
                              NULL};
        snprintf(pos, sizeof(pos), "%s %ld",
                 rec->pos_name ? rec->pos_name : "record", rec->position);
        p->rejected++;
        count(p, "partnerbus_poll_records_total", "outcome", "rejected", 1);
        if (p->set.check) {
                pb_buf_t b;
                pb_buf_init(&b, 0);
                pb_buf_printf(&b,
                              "{\"would\":\"reject\",\"%s\":%ld,"
                              "\"pointer\":",
                              rec->pos_name ? rec->pos_name : "record",
                              rec->position);
                pb_buf_json_str(&b, pointer ? pointer : "",
                                pointer ? strlen(pointer) : 0);
                pb_buf_puts(&b, ",\"error\":");
                pb_buf_json_str(&b, why, strlen(why));
                pb_buf_puts(&b, ",\"record\":");
                if (pb_utf8_valid(rec->raw ? rec->raw : "", rec->raw_len))
                        pb_buf_json_str(&b, rec->raw ? rec->raw : "",
                                        rec->raw_len);
                else
                        pb_buf_puts(&b, "null");
                pb_buf_puts(&b, "}\n");
                fwrite(b.data, 1, b.len, stdout);
                fflush(stdout);
                pb_buf_free(&b);
                return;
        }
        pb_log("warn", "msg=\"record rejected\" %s error=\"%s\"", pos, why);
        /* one dead letter per distinct bad record, not one per poll */
        h = pb_fingerprint(rec->raw ? rec->raw : "", rec->raw_len, hex);
        l = strlen(p->prefix) + 48;
        skey = malloc(l);
        if (!skey)
                return;
        snprintf(skey, l, "%s/!rejected/%s", p->prefix, hex);
        kfp = pb_fingerprint(skey, strlen(skey), NULL);
        if (pb_pstate_get(p->st, kfp, &old)) {
                free(skey);
                return;
        }
        count(p, "partnerbus_poll_dead_letters_total", NULL, NULL, 1);
        if (p->txn) {
                /* the dead letter and its state record in the open
                 * transaction */
                if (txn_begin(p) || undo_push(p, kfp) ||
                    pb_pstate_put(p->st, kfp, h) != PB_OK) {
                        free(skey);
                        return;
                }
                if (send_raw(p, p->dlq_topic, key, rec->raw ? rec->raw : "",
                             rec->raw_len, hdrs, NULL) != PB_OK ||
                    send_raw(p, p->state_topic, skey, hex, 32, NULL, NULL) !=
                        PB_OK)
                        p->txn_failed = 1;
                p->txn_records++;
                free(skey);
                return;
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                free(skey);
                return;
        }
        m->kind = PM_DLQ;
        m->skey = skey;
        m->kfp = kfp;
        m->hash = h;
        memcpy(m->hex, hex, 33);
        if (pb_pstate_put(p->st, kfp, h) != PB_OK ||
            send_raw(p, p->dlq_topic, key, rec->raw ? rec->raw : "",
                     rec->raw_len, hdrs, m) != PB_OK) {
                pb_pstate_del(p->st, kfp);
                free(m);
                free(skey);
                return;
        }
        /* its state record follows once Kafka acknowledged it */
}

/* Maps, checks and sends one record. */
static void one_record(pollctx_t *p, page_t *pg, const pb_record_t *rec,
                       pb_buf_t *json, pb_buf_t *key, pb_buf_t *ev,
                       pb_buf_t *avro) {
        pb_errors_t errs;
        pb_event_meta_t meta;
        pb_encode_opts_t eo;
        char hex[33], eid[37], why[1024], ts[40];
        uint64_t h, kfp, old;
        size_t skl;
        char *skey;
        pb_resp_t rc;
        pmsg_t *m;
        pb_buf_reset(json);
        pb_buf_reset(key);
        pb_errors_init(&errs);
        rc = pb_mapping_apply(p->map, rec, json, key, &errs);
        if (rc != PB_OK) {
                if (errs.count)
                        pb_errors_format(&errs, why, sizeof(why));
                else
                        snprintf(why, sizeof(why), "mapping: %s",
                                 pb_err2str(rc));
                dead_letter(p, pg, rec, NULL, why,
                            errs.count ? errs.items[0].pointer : "");
                return;
        }
        h = pb_fingerprint(json->data, json->len, hex);
        skl = strlen(p->prefix) + key->len + 2;
        skey = malloc(skl);
        if (!skey)
                return;
        snprintf(skey, skl, "%s/%s", p->prefix, (const char *)key->data);
        kfp = pb_fingerprint(skey, strlen(skey), NULL);
        if (pb_pstate_get(p->st, kfp, &old) && old == h) {
                p->unchanged++;
                count(p, "partnerbus_poll_records_total", "outcome",
                      "unchanged", 1);
                free(skey);
                return;
        }
        /* event_id: UUIDv5 of source, type, key and content version */
        {
                char name[1200];
                int nl = snprintf(name, sizeof(name), "%s\n%s\n%s\n%s",
                                  pb_mapping_source(p->map), p->set.type,
                                  (const char *)key->data, hex);
                if (nl < 0 || (size_t)nl >= sizeof(name))
                        nl = (int)sizeof(name) - 1;
                pb_uuid_v5(PB_POLL_NS, name, (size_t)nl, eid);
        }
        pb_buf_reset(ev);
        pb_buf_printf(ev, "{\"event_id\":\"%s\",", eid);
        if (!pb_mapping_maps(p->map, "/occurred_at")) {
                pb_rfc3339_format(pb_now_ms(), ts, sizeof(ts));
                pb_buf_printf(ev, "\"occurred_at\":\"%s\",", ts);
        }
        pb_buf_append(ev, json->data + 1, json->len - 1);
        pb_errors_init(&errs);
        memset(&eo, 0, sizeof(eo));
        pb_buf_reset(avro);
        rc = pb_serde_encode(p->serde, p->schema, p->topic,
                             (const char *)ev->data, ev->len, &eo, avro, &meta,
                             &errs);
        if (rc != PB_OK) {
                if (errs.count)
                        pb_errors_format(&errs, why, sizeof(why));
                else
                        snprintf(why, sizeof(why), "encode: %s",
                                 pb_err2str(rc));
                dead_letter(p, pg, rec, (const char *)key->data, why,
                            errs.count ? errs.items[0].pointer : "");
                free(skey);
                return;
        }
        if (p->set.check) {
                {
                        pb_buf_t b;
                        pb_buf_init(&b, 0);
                        pb_buf_printf(&b,
                                      "{\"would\":\"publish\",\"%s\":%ld,"
                                      "\"key\":",
                                      rec->pos_name, rec->position);
                        pb_buf_json_str(&b, (const char *)key->data, key->len);
                        pb_buf_printf(&b, ",\"change\":\"%s\",\"event\":",
                                      pb_pstate_get(p->st, kfp, &old)
                                          ? "changed"
                                          : "new");
                        pb_buf_append(&b, ev->data, ev->len);
                        pb_buf_puts(&b, "}\n");
                        fwrite(b.data, 1, b.len, stdout);
                        fflush(stdout);
                        pb_buf_free(&b);
                }
                p->published++;
                free(skey);
                return;
        }
        if (txn_begin(p) || undo_push(p, kfp)) {
                p->ev_failed++;
                free(skey);
                return;
        }
        if (pb_pstate_put(p->st, kfp, h) != PB_OK) {
                pb_log("error",
                       "msg=\"state is full (--max-keys=%ld); record not "
                       "published\" key=\"%s\"",
                       p->set.max_keys, skey);
                p->ev_failed++;
                free(skey);
                return;
        }
        if (p->txn) {
                /* the event and its state record in the open transaction:
                 * both committed or neither */
                for (;;) {
                        rc = pb_producer_send(p->prod, p->topic, p->set.type,
                                              &meta, avro->data, avro->len,
                                              NULL, NULL, why, sizeof(why));
                        if (rc != PB_ERR_LIMIT)
                                break;
                        pb_producer_poll(p->prod, 50);
                }
                if (rc != PB_OK) {
                        pb_log("error", "msg=\"send: %s\"", why);
                        p->txn_failed = 1;
                } else {
                        p->inflight++;
                        if (send_raw(p, p->state_topic, skey, hex, 32, NULL,
                                     NULL) != PB_OK)
                                p->txn_failed = 1;
                        p->txn_published++;
                }
                p->txn_records++;
                free(skey);
                if ((p->inflight & 63) == 0)
                        pb_producer_poll(p->prod, 0);
                return;
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                free(skey);
                return;
        }
        m->kind = PM_EVENT;
        m->skey = skey;
        m->kfp = kfp;
        m->hash = h;
        memcpy(m->hex, hex, 33);
        for (;;) {
                rc = pb_producer_send(p->prod, p->topic, p->set.type, &meta,
                                      avro->data, avro->len, NULL, m, why,
                                      sizeof(why));
                if (rc != PB_ERR_LIMIT)
                        break;
                pb_producer_poll(p->prod, 50);
                drain_state(p);
        }
        if (rc != PB_OK) {
                pb_log("error", "msg=\"send: %s\"", why);
                pb_pstate_del(p->st, kfp);
                p->ev_failed++;
                free(skey);
                free(m);
                return;
        }
        p->inflight++;
        if ((p->inflight & 63) == 0) {
                pb_producer_poll(p->prod, 0);
                drain_state(p);
        }
}

/* The validators of a single-page feed: a 304 on the first page of a
 * paginated feed says nothing about the later pages, so those are always
 * fetched in full (their records are still compared by hash). */
static void write_validators(pollctx_t *p, const page_t *first, size_t npages,
                             const char *cursor) {
        pb_buf_t b;
        char ts[40];
        pmsg_t *m;
        const char *etag = npages == 1 ? first->res.etag : "";
        const char *lm = npages == 1 ? first->res.last_modified : "";
        pb_buf_init(&b, 0);
        pb_buf_puts(&b, "{\"etag\":");
        pb_buf_json_str(&b, etag, strlen(etag));
        pb_buf_puts(&b, ",\"last_modified\":");
        pb_buf_json_str(&b, lm, strlen(lm));
        pb_buf_puts(&b, ",\"cursor\":");
        pb_buf_json_str(&b, cursor, strlen(cursor));
        pb_rfc3339_format(pb_now_ms(), ts, sizeof(ts));
        pb_buf_printf(&b, ",\"polled_at\":\"%s\",\"url\":", ts);
        pb_buf_json_str(&b, p->set.url, strlen(p->set.url));
        pb_buf_puts(&b, "}");
        if (p->txn) {
                /* last in the poll's last transaction */
                if (txn_begin(p) == 0 &&
                    send_raw(p, p->state_topic, p->prefix, (const char *)b.data,
                             b.len, NULL, NULL) != PB_OK)
                        p->txn_failed = 1;
                pb_buf_free(&b);
                if (txn_begin(p) || txn_commit(p)) {
                        p->st_failed++;
                        return;
                }
                goto done;
        }
        m = calloc(1, sizeof(*m));
        if (m) {
                m->kind = PM_FEED;
                if (send_raw(p, p->state_topic, p->prefix, (const char *)b.data,
                             b.len, NULL, m) != PB_OK) {
                        free(m);
                        p->st_failed++;
                }
        }
        pb_buf_free(&b);
        settle(p);
done:
        if (!p->st_failed) {
                snprintf(p->etag, sizeof(p->etag), "%s", etag);
                snprintf(p->last_modified, sizeof(p->last_modified), "%s", lm);
                snprintf(p->cursor, sizeof(p->cursor), "%s", cursor);
                p->have_validators = 1;
        }
}

/* Returns the outcome label. */
static const char *poll_once(pollctx_t *p) {
        page_t *pages;
        size_t npages = 0, i;
        char url[4096], err[1024], cursor[1024];
        const char *outcome = "ok";
        int64_t t0 = pb_now_ms();
        long limit_hit = 0;
        pb_buf_t json, key, ev, avro;
        pages = calloc((size_t)p->set.max_pages, sizeof(*pages));
        if (!pages)
                return "error";
        cursor[0] = 0;
        if (p->set.cursor_param && p->set.cursor_resume && p->cursor[0]) {
                snprintf(cursor, sizeof(cursor), "%s", p->cursor);
                if (pb_url_with_param(p->set.url, p->set.cursor_param, cursor,
                                      url, sizeof(url))) {
                        free(pages);
                        return "error";
                }
        } else {
                snprintf(url, sizeof(url), "%s", p->set.url);
        }
        /* 1. fetch and parse every page before publishing anything */
        for (;;) {
                page_t *pg;
                const char *next = NULL;
                char nextbuf[4096];
                pb_resp_t rc;
                if (npages == (size_t)p->set.max_pages) {
                        pb_log("error",
                               "msg=\"more than --max-pages=%ld "
                               "pages; poll abandoned\"",
                               p->set.max_pages);
                        outcome = "limit";
                        goto out;
                }
                pg = &pages[npages++];
                pb_fetch_result_init(&pg->res, p->set.max_response);
                rc = pb_fetch(&p->fo, url,
                              npages == 1 && p->have_validators && !p->set.check
                                  ? p->etag
                                  : NULL,
                              npages == 1 && p->have_validators && !p->set.check
                                  ? p->last_modified
                                  : NULL,
                              &pg->res, err, sizeof(err));
                if (rc != PB_OK) {
                        pb_log("error",
                               "msg=\"fetch failed; state untouched, retried "
                               "next poll\" url=\"%s\" attempts=%d "
                               "error=\"%s\"",
                               url, pg->res.attempts, err);
                        outcome =
                            rc == PB_ERR_LIMIT ? "too_large" : "unreachable";
                        goto out;
                }
                if (pg->res.creds_withheld)
                        pb_log("warn",
                               "msg=\"page on another origin fetched without "
                               "the feed's credentials (see "
                               "--auth-allow-origin)\" page=%zu",
                               npages);
                if (pg->res.status == 304) {
                        if (npages == 1) {
                                outcome = "not_modified";
                                goto out;
                        }
                        pb_log("error", "msg=\"304 on page %zu\"", npages);
                        outcome = "error";
                        goto out;
                }
                if (open_page(p, pg, err, sizeof(err))) {
                        pb_log("error",
                               "msg=\"feed unusable; state untouched, "
                               "retried next poll\" url=\"%s\" error=\"%s\"",
                               url, err);
                        outcome = "malformed";
                        goto out;
                }
                /* the next page */
                if (p->set.next_pointer && pb_feed_root(pg->feed)) {
                        const pb_json_t *n = pb_pointer_get(
                            pb_feed_root(pg->feed), p->set.next_pointer);
                        if (n && n->type == PB_JSON_STRING && n->len &&
                            !pb_url_resolve(pg->res.url, n->str, nextbuf,
                                            sizeof(nextbuf)))
                                next = nextbuf;
                }
                if (!next && p->set.follow_link && pg->res.link_next[0])
                        next = pg->res.link_next;
                if (!next && p->set.cursor_param && p->set.cursor_pointer &&
                    pb_feed_root(pg->feed)) {
                        const pb_json_t *n = pb_pointer_get(
                            pb_feed_root(pg->feed), p->set.cursor_pointer);
                        if (n &&
                            (n->type == PB_JSON_STRING ||
                             n->type == PB_JSON_NUMBER) &&
                            n->len && n->len < sizeof(cursor) &&
                            strcmp(n->str, cursor) &&
                            !pb_url_with_param(p->set.url, p->set.cursor_param,
                                               n->str, nextbuf,
                                               sizeof(nextbuf))) {
                                memcpy(cursor, n->str, n->len + 1);
                                next = nextbuf;
                        }
                }
                if (!next)
                        break;
                if (!strcmp(next, url)) {
                        pb_log("error", "msg=\"next page is the same URL\"");
                        outcome = "malformed";
                        goto out;
                }
                snprintf(url, sizeof(url), "%s", next);
        }
        /* 2. records */
        pb_buf_init(&json, 4 * p->set.max_record + 4096);
        pb_buf_init(&key, 4096);
        pb_buf_init(&ev, 4 * p->set.max_record + 8192);
        pb_buf_init(&avro, 0);
        p->ev_failed = p->st_failed = 0;
        for (i = 0; i < npages && strcmp(outcome, "ok") == 0; i++) {
                page_t *pg = &pages[i];
                pb_record_t rec;
                int r;
                while ((r = pb_feed_next(pg->feed, &rec, err, sizeof(err))) !=
                       PB_FEED_END) {
                        if (r == PB_FEED_FATAL) {
                                pb_log("error",
                                       "msg=\"feed unusable (truncated?); "
                                       "validators untouched\" error=\"%s\"",
                                       err);
                                outcome = "malformed";
                                break;
                        }
                        if (++p->records > p->set.max_records) {
                                limit_hit = 1;
                                outcome = "limit";
                                pb_log("error",
                                       "msg=\"more than "
                                       "--max-records=%ld records\"",
                                       p->set.max_records);
                                break;
                        }
                        if (r == PB_FEED_BAD)
                                dead_letter(p, pg, &rec, NULL, err, "");
                        else
                                one_record(p, pg, &rec, &json, &key, &ev,
                                           &avro);
                        /* bound the transaction */
                        if (p->txn && p->txn_open &&
                            p->txn_records >= p->set.txn_records)
                                txn_commit(p);
                        if (p->txn_failed) {
                                outcome = p->fenced ? "fenced" : "kafka_error";
                                break;
                        }
                }
        }
        pb_buf_free(&json);
        pb_buf_free(&key);
        pb_buf_free(&ev);
        pb_buf_free(&avro);
        (void)limit_hit;
        if (p->set.check)
                goto out;
        /* 3. transactions: the last one ends with the validators, or is
         * aborted when the poll failed half-way */
        if (p->txn) {
                if (strcmp(outcome, "ok") || p->ev_failed) {
                        if (p->txn_open && !strcmp(outcome, "ok"))
                                txn_commit(p); /* records sent so far */
                        else
                                txn_abort(p);
                        if (!strcmp(outcome, "ok"))
                                outcome = "kafka_error";
                } else {
                        write_validators(p, &pages[0], npages, cursor);
                        if (p->st_failed)
                                outcome = "kafka_error";
                }
                if (p->fenced)
                        outcome = "fenced";
                goto out;
        }
        /* 3. every event and its state acknowledged, then the validators */
        settle(p);
        if (p->ev_failed || p->st_failed) {
                outcome = "kafka_error";
                goto out;
        }
        if (!strcmp(outcome, "ok"))
                write_validators(p, &pages[0], npages, cursor);
        if (p->st_failed)
                outcome = "kafka_error";
out:
        if (!p->set.check && p->prod && !p->fenced)
                settle(p);
        for (i = 0; i < npages; i++) {
                pb_feed_destroy(pages[i].feed);
                pb_fetch_result_free(&pages[i].res);
        }
        free(pages);
        pb_log(strcmp(outcome, "ok") && strcmp(outcome, "not_modified")
                   ? "warn"
                   : "info",
               "msg=\"poll done\" outcome=%s pages=%zu records=%ld "
               "published=%ld unchanged=%ld rejected=%ld keys=%zu ms=%lld",
               outcome, npages, p->records, p->published, p->unchanged,
               p->rejected, p->st ? pb_pstate_count(p->st) : (size_t)0,
               (long long)(pb_now_ms() - t0));
        return outcome;
}

static int poll_ready(void *opaque, char *reason, size_t reason_size) {
        pollctx_t *p = opaque;
        if (!p->ready) {
                snprintf(reason, reason_size, "loading state");
                return 0;
        }
        return 1;
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

int pb_cmd_poll(int argc, char **argv) {
        pollctx_t *p = calloc(1, sizeof(*p));
        int first = 0, rc, status = PB_EXIT_FAIL;
        char err[512];
        const char *fmt;
        if (!p)
                return PB_EXIT_FAIL;
        rc = pb_opts_parse(&poll_spec, &p->set, &p->cc, argc, argv, &first);
        if (rc >= 0) {
                free(p);
                pb_opts_free();
                return rc;
        }
        if (first < argc) {
                status = pb_cli_usage_error(cmd, "unexpected argument '%s'",
                                            argv[first]);
                goto done;
        }
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
        p->map = pb_mapping_load(p->set.map, err, sizeof(err));
        if (!p->map) {
                status =
                    pb_cli_usage_error(cmd, "--map %s: %s", p->set.map, err);
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
        p->st = pb_pstate_new((size_t)p->set.max_keys);
        p->metrics = pb_metrics_new();
        if (!p->st || !p->metrics)
                goto done;
        declare_metrics(p->metrics);
        pb_cli_trap_signals();
        if (p->set.ops_listen) {
                p->ops = pb_ops_server_new(p->set.ops_listen, p->metrics,
                                           poll_ready, p, err, sizeof(err));
                if (!p->ops) {
                        pb_log("error", "msg=\"ops endpoint: %s\"", err);
                        goto done;
                }
                pb_log("info", "msg=\"ops endpoint\" port=%d",
                       pb_ops_server_port(p->ops));
        }
        if (p->cc.brokers) {
                if (!p->set.check) {
                        if (start_producer(p))
                                goto done;
                        create_state_topic(p);
                }
                if (read_state(p))
                        goto done;
        }
        p->ready = 1;
        status = PB_EXIT_OK;
        for (;;) {
                int64_t start = pb_now_ms();
                const char *outcome;
                p->records = p->published = p->unchanged = p->rejected = 0;
                outcome = poll_once(p);
                count(p, "partnerbus_poll_polls_total", "outcome", outcome, 1);
                pb_metrics_observe(p->metrics,
                                   "partnerbus_poll_duration_seconds", NULL,
                                   (double)(pb_now_ms() - start) / 1000.0);
                pb_metrics_set(p->metrics, "partnerbus_poll_state_keys", NULL,
                               (double)pb_pstate_count(p->st));
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
                while (!pb_cli_stop && pb_now_ms() - start < p->set.interval) {
                        struct timespec ts = {0, 100 * 1000000L};
                        nanosleep(&ts, NULL);
                }
                if (pb_cli_stop)
                        break;
        }
        pb_log("info", "msg=\"stopping\"");
done:
        if (p->prod) {
                txn_abort(p);
                if (!p->fenced)
                        settle(p);
                pb_producer_destroy(p->prod);
        }
        free(p->undo);
        pb_ops_server_destroy(p->ops);
        pb_metrics_destroy(p->metrics);
        pb_pstate_destroy(p->st);
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
        (void)fmt_name;
        return status;
}
