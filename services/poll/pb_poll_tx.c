/* partnerbus poll - the Kafka side of a poll: the producer (transactional
 * or idempotent), the transactions with their undo log and fencing, the
 * state records that follow events, the validators record that ends a
 * poll, and creating the state topic. The transaction calls and the topic
 * creation are lib/kafka's (pb_producer_txn_*, pb_kafka_topic_ensure);
 * what happens around them (undo, fencing, fallback) is the poller's. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_poll.h"

void pb_poll_on_delivery(void *opaque, void *msg_opaque, pb_resp_t err,
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
                        pb_poll_state_del(p->st, &m->kfp);
                        p->ev_failed++;
                        free(m->skey);
                        free(m);
                        return;
                }
                if (m->kind == PM_EVENT) {
                        p->published++;
                        pb_poll_count(p, "partnerbus_poll_records_total",
                                      "outcome", "published", 1);
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
pb_resp_t pb_poll_send_raw(pollctx_t *p, const char *topic, const char *key,
                           const void *val, size_t len, const char *const *hdrs,
                           pmsg_t *m) {
        char err[256];
        pb_resp_t rc;
        for (;;) {
                rc = pb_producer_send_raw(p->prod, topic, key,
                                          key ? strlen(key) : 0, val, len, hdrs,
                                          m, err, sizeof(err));
                if (rc != PB_ERR_QUEUE_FULL)
                        break;
                pb_producer_poll(p->prod, 50);
        }
        if (rc != PB_OK)
                pb_log("error", "msg=\"send to %s: %s\"", topic, err);
        else
                p->inflight++;
        return rc;
}

void pb_poll_drain_state(pollctx_t *p) {
        while (p->to_state) {
                pmsg_t *m = p->to_state;
                p->to_state = m->next;
                m->next = NULL;
                if (pb_poll_send_raw(p, p->state_topic, m->skey, m->hex, 32,
                                     NULL, m) != PB_OK) {
                        p->st_failed++;
                        free(m->skey);
                        free(m);
                }
        }
}

/* Waits until every message of this poll got its report. */
void pb_poll_settle(pollctx_t *p) {
        for (;;) {
                pb_poll_drain_state(p);
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

/* A transaction call failed: fatal (fenced by a successor with the same
 * transactional.id, or a fatal producer error) makes the producer
 * unusable. */
static void txn_error(pollctx_t *p, const char *what, pb_txn_res_t r,
                      const char *err) {
        int fatal = r == PB_TXN_FATAL;
        if (fatal)
                p->fenced = 1; /* producer unusable: fenced or fatal */
        pb_log("error", "msg=\"%s: %s\" fatal=%s transactional_id=\"%s\"", what,
               err, fatal ? "true" : "false", p->txn_id);
}

/* Remembers the state entry kfp as it was before the open transaction.
 * 0, or -1 without memory. */
int pb_poll_undo_push(pollctx_t *p, const pb_keyfp_t *kfp) {
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
        u->kfp = *kfp;
        u->had = pb_poll_state_get(p->st, kfp, &u->old);
        return 0;
}

static void undo_all(pollctx_t *p) {
        while (p->nundo) {
                pb_undo_t *u = &p->undo[--p->nundo];
                if (u->had)
                        pb_poll_state_put(p->st, &u->kfp, u->old);
                else
                        pb_poll_state_del(p->st, &u->kfp);
        }
}

/* Opens a transaction unless one is open. 0, or -1 (txn_failed set). */
int pb_poll_txn_begin(pollctx_t *p) {
        char err[512];
        pb_txn_res_t r;
        if (!p->txn || p->txn_open)
                return 0;
        if (p->txn_failed)
                return -1;
        r = pb_producer_txn_begin(p->prod, err, sizeof(err));
        if (r != PB_TXN_OK) {
                txn_error(p, "begin transaction", r, err);
                p->txn_failed = 1;
                return -1;
        }
        p->txn_open = 1;
        p->txn_begun_ms = pb_mono_ms();
        p->txn_records = p->txn_published = 0;
        p->nundo = 0;
        return 0;
}

/* Aborts the open transaction: Kafka drops its events, state records and
 * dead letters, the state table goes back to what it was. If the abort
 * itself fails, what Kafka holds is unknown: fenced is set so that the
 * process exits and its successor reads the state topic again. */
void pb_poll_txn_abort(pollctx_t *p) {
        char err[512];
        pb_txn_res_t r;
        if (!p->txn_open)
                return;
        p->txn_open = 0;
        undo_all(p);
        p->txn_records = p->txn_published = 0;
        if (p->fenced)
                return; /* the broker aborts it (timeout or successor) */
        r = pb_producer_txn_abort(p->prod, 60000, err, sizeof(err));
        if (r != PB_TXN_OK) {
                txn_error(p, "abort transaction", r, err);
                p->fenced = 1;
        } else {
                pb_log("warn", "msg=\"transaction aborted; nothing of it is "
                               "visible to read_committed readers\"");
        }
        pb_producer_poll(p->prod, 0);
}

/* Commits the open transaction (librdkafka flushes it first). 0, or -1
 * after aborting it. */
int pb_poll_txn_commit(pollctx_t *p) {
        char err[512];
        pb_txn_res_t r;
        int attempt;
        int64_t t0 = pb_mono_ms();
        if (!p->txn_open)
                return 0;
        if (p->txn_failed) {
                pb_poll_txn_abort(p);
                return -1;
        }
        for (attempt = 1;; attempt++) {
                r = pb_producer_txn_commit(p->prod, 60000, err, sizeof(err));
                p->commit_ms += pb_mono_ms() - t0;
                t0 = pb_mono_ms();
                if (r == PB_TXN_OK)
                        break;
                if (r == PB_TXN_RETRIABLE && attempt < 4) {
                        pb_log("warn",
                               "msg=\"commit transaction: %s; "
                               "retrying\" attempt=%d",
                               err, attempt);
                        continue;
                }
                txn_error(p, "commit transaction", r, err);
                p->txn_failed = 1;
                pb_poll_txn_abort(p);
                return -1;
        }
        p->txn_open = 0;
        p->nundo = 0;
        /* the transaction's messages were freed by librdkafka's threads
         * and the poll's alike: give their pages back before the next
         * transaction fills the arenas again */
        pb_heap_trim();
        p->published += p->txn_published;
        if (p->txn_published)
                pb_poll_count(p, "partnerbus_poll_records_total", "outcome",
                              "published", (double)p->txn_published);
        p->txn_records = p->txn_published = 0;
        return 0;
}

/* Creates the producer. With --transactions, a transactional one:
 * init_transactions fences an older producer with the same
 * transactional.id (a zombie of this poller) and aborts its open
 * transaction. A cluster that offers no transactions (or refuses this id)
 * gets the idempotent producer and a warning. 0 or -1. */
int pb_poll_start_producer(pollctx_t *p) {
        pb_kafka_conf_t kc = p->cc.kconf, base;
        const char *user_id = NULL;
        char prop[1300], err[512];
        size_t i;
        int user_queue = 0;
        /* librdkafka's threads allocate what the main thread frees and
         * the other way round; with an arena per thread, each keeps the
         * high-water mark of what passed through it (about 5 MiB more peak
         * RSS on the 1M-row benchmark). Two arenas, before any of them
         * starts. */
        mallopt(M_ARENA_MAX, 2);
        /* and no fast bins: the messages librdkafka allocates per record
         * (event, state record and their headers) are freed in bulk as
         * the delivery reports come, and glibc consolidated its fast bins
         * again and again among them (as in produce: pb_cmd_produce.c);
         * without them 5-10 % less CPU per record (bench/README.md) */
        mallopt(M_MXFAST, 0);
        for (i = 0; i < kc.nprops; i++) {
                if (!strncmp(kc.props[i], "transactional.id=", 17))
                        user_id = kc.props[i] + 17;
                if (!strncmp(kc.props[i], "queue.buffering.max.kbytes=", 27))
                        user_queue = 1;
        }
        /* librdkafka queues up to 1 GiB by default; the poller waits
         * (polls) when its queue is full, so a small bound costs no
         * throughput and keeps the memory flat (docs/poll.md) */
        if (!user_queue &&
            pb_kafka_conf_add(
                &kc, "queue.buffering.max.kbytes=" PB_POLL_QUEUE_KB) != PB_OK) {
                pb_log("error", "msg=\"too many -X properties\"");
                return -1;
        }
        base = kc;
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
        p->prod =
            pb_producer_new(&kc, pb_poll_on_delivery, p, err, sizeof(err));
        if (!p->prod) {
                pb_log("error", "msg=\"producer: %s\"", err);
                return -1;
        }
        if (!p->set.transactions)
                return 0;
        if (pb_producer_txn_init(p->prod, 60000, err, sizeof(err)) ==
            PB_TXN_OK) {
                p->txn = 1;
                pb_log("info",
                       "msg=\"transactional producer ready\" "
                       "transactional_id=\"%s\" records_per_transaction=%ld",
                       p->txn_id, p->set.txn_records);
                return 0;
        }
        pb_log("warn",
               "msg=\"Kafka transactions unavailable: %s; falling back to "
               "the idempotent producer: NOT exactly once, a crash between "
               "the acks and the state write re-sends those events (same "
               "event_id)\" transactional_id=\"%s\"",
               err, p->txn_id);
        pb_producer_destroy(p->prod);
        p->prod = NULL;
        if (user_id) {
                pb_log("error", "msg=\"-X transactional.id given: not "
                                "falling back\"");
                return -1;
        }
        p->txn_id[0] = 0;
        p->prod =
            pb_producer_new(&base, pb_poll_on_delivery, p, err, sizeof(err));
        if (!p->prod) {
                pb_log("error", "msg=\"producer: %s\"", err);
                return -1;
        }
        return 0;
}

/* --- state topic --- */

void pb_poll_create_state_topic(pollctx_t *p) {
        static const char *const config[] = {"cleanup.policy", "compact", NULL};
        pb_topic_spec_t spec;
        char err[256];
        memset(&spec, 0, sizeof(spec));
        spec.name = p->state_topic;
        spec.partitions = (int)p->set.state_partitions;
        spec.replication = (int)p->set.state_replication;
        spec.config = config;
        spec.timeout_ms = 10000;
        switch (pb_kafka_topic_ensure(pb_producer_rk(p->prod), &spec, err,
                                      sizeof(err))) {
        case PB_TOPIC_CREATED:
                pb_log("info",
                       "msg=\"created state topic\" topic=%s "
                       "cleanup.policy=compact",
                       p->state_topic);
                break;
        case PB_TOPIC_EXISTS:
                break;
        case PB_TOPIC_NO_ANSWER:
                pb_log("warn",
                       "msg=\"state topic %s: no answer to "
                       "CreateTopics; relying on what exists\"",
                       p->state_topic);
                break;
        case PB_TOPIC_ERROR:
                pb_log("warn", "msg=\"state topic %s: %s\"", p->state_topic,
                       err);
                break;
        case PB_TOPIC_REFUSED:
                pb_log("warn",
                       "msg=\"state topic %s not created: %s; an "
                       "auto-created topic is not compacted\"",
                       p->state_topic, err);
                break;
        }
}

/* The validators of a single-page feed: a 304 on the first page of a
 * paginated feed says nothing about the later pages, so those are always
 * fetched in full (their records are still compared by hash). */
static void write_validators(pollctx_t *p, const pages_t *pg) {
        size_t npages = pg->n;
        const char *cursor = pg->cursor;
        pb_buf_t b;
        char ts[40];
        pmsg_t *m;
        const char *etag = npages == 1 ? pg->etag : "";
        const char *lm = npages == 1 ? pg->last_modified : "";
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
                if (pb_poll_txn_begin(p) == 0 &&
                    pb_poll_send_raw(p, p->state_topic, p->prefix,
                                     (const char *)b.data, b.len, NULL,
                                     NULL) != PB_OK)
                        p->txn_failed = 1;
                pb_buf_free(&b);
                if (pb_poll_txn_begin(p) || pb_poll_txn_commit(p)) {
                        p->st_failed++;
                        return;
                }
                goto done;
        }
        m = calloc(1, sizeof(*m));
        if (m) {
                m->kind = PM_FEED;
                if (pb_poll_send_raw(p, p->state_topic, p->prefix,
                                     (const char *)b.data, b.len, NULL,
                                     m) != PB_OK) {
                        free(m);
                        p->st_failed++;
                }
        }
        pb_buf_free(&b);
        pb_poll_settle(p);
done:
        if (!p->st_failed) {
                snprintf(p->etag, sizeof(p->etag), "%s", etag);
                snprintf(p->last_modified, sizeof(p->last_modified), "%s", lm);
                snprintf(p->cursor, sizeof(p->cursor), "%s", cursor);
                p->have_validators = 1;
        }
}

/* With transactions, the poll's last transaction ends with the validators,
 * or is aborted when the poll failed half-way. */
static const char *finish_txn(pollctx_t *p, const char *outcome,
                              const pages_t *pg) {
        if (strcmp(outcome, "ok") || p->ev_failed) {
                if (p->txn_open && !strcmp(outcome, "ok"))
                        pb_poll_txn_commit(p); /* records sent so far */
                else
                        pb_poll_txn_abort(p);
                if (!strcmp(outcome, "ok"))
                        outcome = "kafka_error";
        } else {
                write_validators(p, pg);
                if (p->st_failed)
                        outcome = "kafka_error";
        }
        if (p->fenced)
                outcome = "fenced";
        return outcome;
}

const char *pb_poll_finish(pollctx_t *p, const char *outcome,
                           const pages_t *pg) {
        if (p->txn)
                return finish_txn(p, outcome, pg);
        /* every event and its state acknowledged, then the validators */
        pb_poll_settle(p);
        if (p->ev_failed || p->st_failed)
                return "kafka_error";
        if (!strcmp(outcome, "ok"))
                write_validators(p, pg);
        if (p->st_failed)
                outcome = "kafka_error";
        return outcome;
}
