/* partnerbus relay - consume topics as a consumer group and deliver each
 * event to a sink (webhook, archive, jsonl); see docs/relay.md.
 *
 * One thread. The loop polls messages, decodes them (or, for the archive
 * without --where, only validates them: pb_serde_check, same verdict),
 * applies --where and collects a batch; the batch goes to the sink; what the
 * sink accepted is marked done per partition, and every commit-interval the
 * sink is flushed (fsync) and only then the done offsets are stored and
 * committed: at least once. The consumer's rebalance callback commits stored
 * offsets of revoked partitions, and stored offsets are always flushed ones.
 *
 * An event goes to the dead-letter topic at once, without reaching the
 * sink, when it cannot be decoded, when its writer schema's type does not
 * belong on its topic (topic = prefix + type), or when --where needs its
 * JSON and the filter's parser refuses it (depth, nodes, memory): such an
 * event is never counted as filtered.
 *
 * Failures hold back only their partition: the partition is paused and
 * sought back to the failed event, and resumed when its backoff ends
 * (exponential with jitter, or the peer's Retry-After). A batch that fails
 * puts its partitions into single-event mode up to the batch's last
 * offset, so only the bad event is retried. After retry-max-time, or at
 * once for a permanent failure or an undecodable message, the original
 * message goes to <topic><dlq-suffix> with headers naming reason, sink and
 * attempts, and the partition goes on. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "partnerbus/pb_filter.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_metrics.h"
#include "pb_cli.h"
#include "pb_connector.h"
#include "pb_optgroups.h"
#include "pb_opts.h"
#include "pb_relay_int.h"

static const char *cmd = "relay";

/* messages taken from the consumer per turn of the main loop */
#define PB_RELAY_BURST 256
/* bytes for every sink's settings struct */
#define PB_RELAY_SINK_AREA 1024
#define PB_RELAY_MAX_SINKS 16

typedef struct relay_settings {
        const char *group;
        pb_strlist_t topics;
        const char *sink;
        pb_strlist_t where;
        const char *start;
        const char *dlq_suffix;
        int64_t retry_initial;
        int64_t retry_max_backoff;
        int64_t retry_max_time;
        long batch_size;
        int64_t batch_linger;
        int64_t commit_interval;
        const char *ops_listen;
        long max_events; /* stop after N resolved events (tests, bench) */
        const char *order;
        long max_pending;
        size_t max_pending_bytes;
        /* the sinks' settings structs, one after the other (each sink's
         * table is composed into the relay's at sink_base[i]) */
        _Alignas(16) unsigned char sink_area[PB_RELAY_SINK_AREA];
} relay_settings_t;

#define O(f) offsetof(relay_settings_t, f)
static const pb_opt_t relay_opts[] = {
    {"group", 'g', PB_OPT_STRING, NULL, "GROUP",
     "consumer group (one per subscription; relays in one group share the "
     "partitions)",
     PB_OPT_REQUIRED, O(group)},
    PB_OPTG_TOPICS(O(topics)),
    {"sink", 0, PB_OPT_STRING, NULL, "SINK",
     "webhook:URL, archive:DIR, jsonl:PATH or jsonl:- (stdout)",
     PB_OPT_REQUIRED, O(sink)},
    PB_OPTG_WHERE(O(where)),
    {"start", 0, PB_OPT_STRING, "earliest", "earliest|latest",
     "where a new group starts", 0, O(start)},
    PB_OPTG_DLQ_SUFFIX(O(dlq_suffix)),
    PB_OPTG_RETRY_INITIAL(O(retry_initial)),
    PB_OPTG_RETRY_MAX_BACKOFF(O(retry_max_backoff)),
    {"retry-max-time", 0, PB_OPT_DURATION, "15m", "DURATION",
     "give up on an event after retrying this long (then dead-letter)", 0,
     O(retry_max_time)},
    {"batch-size", 0, PB_OPT_INT, "0", "N",
     "events per sink write (0: the sink's preference)", 0, O(batch_size)},
    PB_OPTG_BATCH_LINGER(O(batch_linger)),
    PB_OPTG_COMMIT_INTERVAL(O(commit_interval)),
    PB_OPTG_OPS_LISTEN(O(ops_listen)),
    {"max-events", 0, PB_OPT_INT, "0", "N",
     "exit after N events were handled (0: run until SIGTERM)", 0,
     O(max_events)},
    {"order", 0, PB_OPT_STRING, "key", "key|partition",
     "with a sink that keeps several requests in flight (webhook): key = one "
     "event per key in flight; partition = one per partition",
     0, O(order)},
    {"max-pending", 0, PB_OPT_INT, "10000", "N",
     "events held from the oldest unconfirmed one on (in flight, waiting "
     "for their key, or confirmed but not yet committable); above it the "
     "relay pauses its partitions",
     0, O(max_pending)},
    {"max-pending-bytes", 0, PB_OPT_SIZE, "64MiB", "SIZE",
     "bytes of those events (messages and JSON)", 0, O(max_pending_bytes)},
};
#undef O

static pb_cmd_spec_t relay_spec = {
    "relay",
    "deliver subscribed topics to a webhook, an Avro archive or JSON lines",
    "--brokers B --group G --topics T[,T...] --sink SINK [--where EXPR]...",
    "Sinks:\n"
    "  webhook:https://agency.example/events   POST per event (or batch), "
    "signed\n"
    "  archive:/var/lib/partnerbus/archive     Avro container files per "
    "topic and hour\n"
    "  jsonl:/var/log/events.jsonl, jsonl:-    JSON lines\n"
    "\n"
    "Delivery is at least once, in order per partition (key); failed "
    "events are\nretried with backoff, then sent to <topic>.dlq. Secrets "
    "come from files or the\nenvironment (PARTNERBUS_WEBHOOK_SECRET), not "
    "from the command line.\n"
    "\n"
    "Examples:\n"
    "  PARTNERBUS_WEBHOOK_SECRET=$(cat /run/secrets/hook) partnerbus relay "
    "-b k1:9092 \\\n"
    "      -g staatskanzlei -t aid.dispatched,aid.delivered \\\n"
    "      --sink webhook:https://sk.nrw.example/hooks/aid --where "
    "destination.oblast=Dnipropetrowsk\n"
    "  partnerbus relay -b k1:9092 -g archive -t aid.dispatched,funds.granted "
    "--sink archive:/srv/archive\n"
    "  partnerbus relay -b k1:9092 -g big-grants -t funds.granted --where "
    "'amount>=100000' --sink jsonl:-\n",
    NULL, /* composed by relay_opts_compose() */
    0,
    1,
};

/* where each registered sink's settings sit inside relay_settings_t */
static size_t sink_base[PB_RELAY_MAX_SINKS];

/* The relay's table: its own rows, then each sink's, prefixed
 * (--webhook-timeout) and placed in sink_area. 0, or -1. */
static int relay_opts_compose(void) {
        pb_opts_part_t parts[1 + PB_RELAY_MAX_SINKS] = {
            {relay_opts, sizeof(relay_opts) / sizeof(relay_opts[0]), NULL, 0}};
        size_t np = 1, i, used = 0;
        const pb_sink_plugin_t *p;
        for (i = 0; (p = pb_sink_plugin_at(i)) && i < PB_RELAY_MAX_SINKS; i++) {
                sink_base[i] = offsetof(relay_settings_t, sink_area) + used;
                used += (p->settings_size + 15) & ~(size_t)15;
                if (used > PB_RELAY_SINK_AREA)
                        return -1;
                parts[np++] = (pb_opts_part_t){p->opts, p->nopts, p->opt_prefix,
                                               sink_base[i]};
        }
        return pb_opts_compose_spec(&relay_spec, parts, np);
}

/* --- per-partition state --- */
typedef struct rpart {
        char *topic;
        int32_t partition;
        int64_t next_expected; /* last offset seen + 1, -1 unknown */
        int64_t done_next;     /* resolved through here (exclusive) */
        int64_t stored_next;   /* stored for commit */
        int blocked;
        int64_t fail_offset; /* offset of the event being retried, -1 */
        int64_t retry_at;    /* monotonic ms */
        int attempts;
        int64_t first_fail; /* monotonic ms */
        int64_t solo_until; /* deliver one by one through this offset */
        int64_t pending_ts; /* Kafka timestamp of the oldest event not yet
                               resolved, -1 none (status lag_seconds) */
        /* pipeline (sinks with submit/poll) */
        struct pitem *whead, *wtail; /* window: unfinished and not yet
                                        committable events, offset order */
        struct pitem *rhead, *rtail; /* key heads ready to submit */
        struct kslot **keys;         /* key hash -> its events in order */
        int64_t hold_until;          /* a retried event holds back new keys */
        int flow_paused;
        uint64_t epoch; /* the assignment this state belongs to
                           (pb_consumer_assigned_in), 0 none */
} rpart_t;

/* One event in the pipeline. Its key's events form a queue (knext): only
 * the head may be in flight, so a key's events reach the sink in order.
 * The window (next) holds a partition's events in offset order until the
 * lowest unfinished one: done_next (committed) never passes it. */
typedef enum {
        PI_WAIT,    /* behind an unfinished event of its key */
        PI_READY,   /* key head, in its partition's ready queue */
        PI_FLIGHT,  /* submitted to the sink */
        PI_BACKOFF, /* failed, in the retry list until retry_at */
        PI_DONE,    /* confirmed or dead-lettered (or a skip) */
        PI_ORPHAN,  /* in flight, but its partition was revoked/rewound:
                       freed when the outcome comes, nothing else */
        PI_DROP,    /* being freed */
} pi_state_t;

typedef struct pitem {
        struct pitem *next, *knext, *qnext;
        rpart_t *p;
        uint64_t kh;
        int64_t offset;
        pi_state_t state;
        int attempts;
        int64_t first_fail, retry_at;
        size_t bytes;
        pb_message_t m; /* released when done */
        char *json;
        size_t json_len;
        const pb_schema_t *writer;
        const char *type;
        size_t body_off;
        pb_event_meta_t meta;
} pitem_t;

#define PB_RELAY_KEY_BUCKETS 1024
typedef struct kslot {
        uint64_t h;
        pitem_t *head, *tail;
        struct kslot *next;
} kslot_t;

typedef enum { ENT_DELIVER, ENT_SKIP } ent_kind_t;

typedef struct entry {
        pb_message_t m; /* held until the batch is resolved */
        rpart_t *p;
        ent_kind_t kind;
        size_t json_off, json_len;
        const pb_schema_t *writer;
        const char *type;
        size_t body_off; /* into m.value */
        pb_event_meta_t meta;
} entry_t;

typedef struct relay {
        relay_settings_t set;
        pb_cli_common_t cc;
        const pb_sink_plugin_t *plugin;
        pb_sink_t *sink;
        char *sink_target;
        pb_schemas_t *catalog;
        pb_registry_t *registry;
        pb_serde_t *serde;
        pb_consumer_t *cons;
        rd_kafka_t *rk;
        pb_producer_t *dlq;
        int dlq_done;
        pb_resp_t dlq_err;
        char dlq_errstr[256];
        pb_filter_t *filter;
        pb_json_parser_t *jp;
        pb_metrics_t *metrics;
        pb_ops_server_t *ops;
        rpart_t **parts;
        size_t nparts, capparts;
        entry_t *batch;
        size_t nbatch, batch_max, batch_cap;
        int64_t batch_deadline;
        pb_buf_t arena; /* JSON of the batch's events */
        pb_sink_event_t *events;
        int64_t last_commit, last_lag;
        uint64_t seen_assign; /* pb_consumer_assign_seq at the last check */
        long handled;
        int ready;
        int fatal;
        /* the sink takes the Avro body as it is and no --where needs the
         * event: validate bodies (pb_serde_check) instead of decoding them
         * to JSON - same verdict, undecodable ones still go to the DLQ */
        int check_only;
        /* fleet worker (NULL for the static relay): its link to the
         * fleet's control thread and its subscription's settings */
        pb_relay_link_t *link;
        pb_relay_subconf_t *conf;
        pb_buf_t proj_buf;
        int64_t rate_next; /* monotonic ms: the next write may start */
        const char *first_topic;
        int64_t rt_from, rt_until; /* a retransmit to do; until 0: none */
        /* pipeline: the sink keeps several writes in flight */
        int async;
        int order_partition;
        int stopping;
        pitem_t *backoff; /* failed events waiting for retry_at */
        size_t pend_count, pend_bytes;
        size_t rr; /* partition the next submit round starts at */
        pb_sink_done_t done[64];
} relay_t;

static int relay_stopping(const relay_t *r) {
        return pb_cli_stop || (r->link && r->link->stop);
}

static rpart_t *part_get(relay_t *r, const char *topic, int32_t partition) {
        size_t i;
        rpart_t *p;
        for (i = 0; i < r->nparts; i++)
                if (r->parts[i]->partition == partition &&
                    !strcmp(r->parts[i]->topic, topic))
                        return r->parts[i];
        if (r->nparts == r->capparts) {
                size_t nc = r->capparts ? r->capparts * 2 : 32;
                rpart_t **np = realloc(r->parts, nc * sizeof(*np));
                if (!np)
                        return NULL;
                r->parts = np;
                r->capparts = nc;
        }
        p = calloc(1, sizeof(*p));
        if (!p || !(p->topic = strdup(topic))) {
                free(p);
                return NULL;
        }
        p->partition = partition;
        p->next_expected = p->done_next = p->stored_next = -1;
        p->fail_offset = p->solo_until = -1;
        p->pending_ts = -1;
        p->epoch = pb_consumer_assigned_in(r->cons, topic, partition);
        r->parts[r->nparts++] = p;
        return p;
}

static void part_reset(rpart_t *p) {
        p->next_expected = p->done_next = p->stored_next = -1;
        p->hold_until = 0;
        p->flow_paused = 0;
        p->blocked = 0;
        p->fail_offset = p->solo_until = -1;
        p->attempts = 0;
        p->pending_ts = -1;
}

/* Pauses or resumes p through the consumer (which remembers pauses across
 * rebalances). Out of memory the relay stops (nothing is committed past
 * what was confirmed): a pause it cannot make or undo would skip or
 * strand events. */
static void part_oom(relay_t *r, const char *topic, int32_t partition) {
        pb_log("error", "topic=%s partition=%d msg=\"out of memory\"", topic,
               (int)partition);
        r->fatal = 1;
}

static void part_pause(relay_t *r, rpart_t *p, int pause) {
        if (pb_consumer_pause(r->cons, p->topic, p->partition, pause) != PB_OK)
                part_oom(r, p->topic, p->partition);
}

/* Pauses p and seeks it back to offset: what was fetched beyond is
 * dropped and fetched again once p is resumed. */
static void part_pause_at(relay_t *r, rpart_t *p, int64_t offset) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(1);
        rd_kafka_error_t *e;
        if (!l) {
                part_oom(r, p->topic, p->partition);
                return;
        }
        part_pause(r, p, 1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
            offset;
        e = rd_kafka_seek_partitions(r->rk, l, 2000);
        if (e) {
                pb_log("warn", "topic=%s partition=%d msg=\"seek failed: %s\"",
                       p->topic, (int)p->partition, rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_destroy(l);
}

static void part_pause_seek(relay_t *r, rpart_t *p, int64_t offset) {
        part_pause_at(r, p, offset);
        p->blocked = 1;
        p->next_expected = offset;
}

static void part_resume(relay_t *r, rpart_t *p) {
        part_pause(r, p, 0);
        p->blocked = 0;
}

/* --- dead-letter topic --- */
static void dlq_cb(void *opaque, void *msg_opaque, pb_resp_t err,
                   const char *errstr, const char *topic, int32_t partition,
                   int64_t offset) {
        relay_t *r = opaque;
        (void)msg_opaque;
        (void)topic;
        (void)partition;
        (void)offset;
        r->dlq_done = 1;
        r->dlq_err = err;
        snprintf(r->dlq_errstr, sizeof(r->dlq_errstr), "%s",
                 errstr ? errstr : "");
}

/* Sends the original message with reason headers; waits for the ack.
 * 0 ok, -1 failed (the caller retries the partition). */
static int dlq_send(relay_t *r, const pb_message_t *m, const char *reason_kind,
                    const char *reason, int attempts) {
        const char *hdrs[2 * 64 + 20];
        size_t nh = 0, i, vl;
        const char *name;
        const void *val;
        char topic[512], att[32], part[32], off[32], tsb[32], err[256];
        char *copies[64];
        size_t ncopies = 0;
        const char *labels[5];
        int64_t deadline;
        int rc = -1;
        if (!r->dlq) {
                r->dlq =
                    pb_producer_new(&r->cc.kconf, dlq_cb, r, err, sizeof(err));
                if (!r->dlq) {
                        pb_log("error", "msg=\"dead-letter producer: %s\"",
                               err);
                        return -1;
                }
        }
        snprintf(topic, sizeof(topic), "%s%s", m->topic, r->set.dlq_suffix);
        /* original headers first (values must be NUL-free text for the
         * raw API: binary ones are skipped) */
        for (i = 0; pb_message_header_at(m, i, &name, &val, &vl) && nh < 120;
             i++) {
                char *c;
                /* the relay's own partnerbus_dlq_* headers follow; incoming
                 * ones (a producer pre-seeding reasons) are dropped */
                if (memchr(val, 0, vl) || ncopies == 64 ||
                    !strncasecmp(name, "partnerbus_dlq_", 15))
                        continue;
                c = strndup(val, vl);
                if (!c)
                        continue;
                copies[ncopies++] = c;
                hdrs[nh++] = name;
                hdrs[nh++] = c;
        }
        snprintf(att, sizeof(att), "%d", attempts);
        snprintf(part, sizeof(part), "%d", (int)m->partition);
        snprintf(off, sizeof(off), "%lld", (long long)m->offset);
        snprintf(tsb, sizeof(tsb), "%lld", (long long)time(NULL));
        hdrs[nh++] = "partnerbus_dlq_reason";
        hdrs[nh++] = reason_kind;
        hdrs[nh++] = "partnerbus_dlq_detail";
        hdrs[nh++] = reason;
        hdrs[nh++] = "partnerbus_dlq_sink";
        hdrs[nh++] = r->plugin->name;
        hdrs[nh++] = "partnerbus_dlq_attempts";
        hdrs[nh++] = att;
        hdrs[nh++] = "partnerbus_dlq_topic";
        hdrs[nh++] = m->topic;
        hdrs[nh++] = "partnerbus_dlq_partition";
        hdrs[nh++] = part;
        hdrs[nh++] = "partnerbus_dlq_offset";
        hdrs[nh++] = off;
        hdrs[nh++] = "partnerbus_dlq_time";
        hdrs[nh++] = tsb;
        if (r->set.group) { /* the fleet: which subscription */
                hdrs[nh++] = "partnerbus_dlq_group";
                hdrs[nh++] = r->set.group;
        }
        hdrs[nh] = NULL;
        r->dlq_done = 0;
        if (pb_producer_send_raw(r->dlq, topic, m->key, m->key_len, m->value,
                                 m->len, hdrs, NULL, err,
                                 sizeof(err)) != PB_OK) {
                pb_log("error", "topic=%s msg=\"dead-letter send: %s\"", topic,
                       err);
                goto out;
        }
        deadline = pb_mono_ms() + 30000;
        while (!r->dlq_done && pb_mono_ms() < deadline)
                pb_producer_poll(r->dlq, 100);
        if (!r->dlq_done || r->dlq_err != PB_OK) {
                pb_log("error",
                       "topic=%s msg=\"dead-letter not acknowledged: "
                       "%s\"",
                       topic, r->dlq_done ? r->dlq_errstr : "timeout");
                goto out;
        }
        labels[0] = "topic";
        labels[1] = m->topic;
        labels[2] = "reason";
        labels[3] = reason_kind;
        labels[4] = NULL;
        pb_metrics_add(r->metrics, "partnerbus_relay_dlq_total", labels, 1);
        if (r->link) {
                pb_relay_stats_t *st = &r->link->stats;
                pb_relay_dead_t *d;
                pthread_mutex_lock(&r->link->mu);
                d = &st->dead[st->ndead++ % PB_RELAY_RING];
                memset(d, 0, sizeof(*d));
                d->at_ms = pb_now_ms();
                st->last_dead_ms = d->at_ms;
                {
                        size_t il = 0;
                        const void *idv = pb_message_header(m, "ce_id", &il);
                        if (idv && il < sizeof(d->event_id) &&
                            !memchr(idv, 0, il))
                                memcpy(d->event_id, idv, il);
                }
                snprintf(d->topic, sizeof(d->topic), "%s", m->topic);
                d->partition = m->partition;
                d->offset = m->offset;
                snprintf(d->reason, sizeof(d->reason), "%s: %s", reason_kind,
                         reason);
                pthread_mutex_unlock(&r->link->mu);
        }
        pb_log("warn",
               "topic=%s partition=%d offset=%lld dlq=%s reason=%s "
               "attempts=%d detail=\"%s\"",
               m->topic, (int)m->partition, (long long)m->offset, topic,
               reason_kind, attempts, reason);
        rc = 0;
out:
        for (i = 0; i < ncopies; i++)
                free(copies[i]);
        return rc;
}

static void pipe_take(relay_t *r);
static void pipe_drop_from(relay_t *r, rpart_t *p, int64_t from);

/* --- batch --- */
static void batch_release(relay_t *r, size_t i) {
        pb_message_release(&r->batch[i].m);
}

/* forgets p's entries at or after offset `from` (-1: all of them) */
static void batch_drop_from(relay_t *r, const rpart_t *p, int64_t from) {
        size_t j;
        for (j = 0; j < r->nbatch;) {
                if (r->batch[j].p == p && r->batch[j].m.offset >= from) {
                        batch_release(r, j);
                        memmove(&r->batch[j], &r->batch[j + 1],
                                (r->nbatch - j - 1) * sizeof(*r->batch));
                        r->nbatch--;
                } else {
                        j++;
                }
        }
}

static void batch_clear(relay_t *r) {
        size_t i;
        for (i = 0; i < r->nbatch; i++)
                batch_release(r, i);
        r->nbatch = 0;
        pb_buf_reset(&r->arena);
}

static void resolved(relay_t *r, entry_t *e) {
        rpart_t *p = e->p;
        if (e->m.offset + 1 > p->done_next) {
                p->done_next = e->m.offset + 1;
                p->pending_ts = -1;
        }
        if (p->fail_offset >= 0 && e->m.offset >= p->fail_offset) {
                p->fail_offset = -1;
                p->attempts = 0;
        }
        r->handled++;
}

/* The delay before attempt `attempts` + 1: doubling from retry-initial up
 * to retry-max-backoff, half of it jitter; the peer's Retry-After wins. */
static int64_t pipe_backoff(relay_t *r, int attempts, int64_t retry_after) {
        int64_t b = r->set.retry_initial;
        int i;
        for (i = 1; i < attempts && b < r->set.retry_max_backoff; i++)
                b *= 2;
        if (b > r->set.retry_max_backoff)
                b = r->set.retry_max_backoff;
        b = b / 2 + (b > 1 ? (int64_t)(random() % (b / 2 + 1)) : 0);
        if (retry_after > 0)
                b = retry_after;
        return b;
}

static int64_t backoff_ms(relay_t *r, rpart_t *p, int64_t retry_after) {
        return pipe_backoff(r, p->attempts, retry_after);
}

/* Drops entries of partitions that are no longer assigned to us, or were
 * taken away and given back since we looked (an eager rebalance revokes
 * everything), and forgets their state (the new owner, or we from the
 * committed offset, redeliver), a pause included: the consumer resumes a
 * partition it paused when it is assigned again (pb_kafka.c, rebalance
 * callback). */
static void check_assignment(relay_t *r) {
        size_t i;
        r->seen_assign = pb_consumer_assign_seq(r->cons);
        for (i = 0; i < r->nparts; i++) {
                rpart_t *p = r->parts[i];
                uint64_t e =
                    pb_consumer_assigned_in(r->cons, p->topic, p->partition);
                if (e == p->epoch)
                        continue;
                if (p->next_expected >= 0 || p->blocked)
                        pb_log("info",
                               "topic=%s partition=%d msg=\"partition "
                               "revoked; %s\"",
                               p->topic, (int)p->partition,
                               e ? "assigned to us again, continuing from "
                                   "the committed offset"
                                 : "its new owner continues");
                if (r->async)
                        pipe_drop_from(r, p, -1);
                part_reset(p);
                batch_drop_from(r, p, -1);
                /* given back: a pause made since the assignment on the old
                 * state goes too (nothing happens if there is none) */
                if (e)
                        part_pause(r, p, 0);
                p->epoch = e;
        }
}

/* A poll may have run the rebalance callback (only a poll runs it): the
 * state of what it took goes before anything else looks at it (a
 * message of a partition given back, the batch, the pipeline's next
 * submission, back pressure). */
static void check_rebalanced(relay_t *r) {
        if (pb_consumer_assign_seq(r->cons) != r->seen_assign)
                check_assignment(r);
}

/* fleet: a subscription's rate limit (events per second) - waits until
 * the n events may go, in steps that notice a stop */
static void rate_wait(relay_t *r, size_t n) {
        int64_t now;
        double rate = r->conf ? r->conf->rate_per_s : 0;
        if (rate <= 0)
                return;
        now = pb_mono_ms();
        while (r->rate_next > now && !relay_stopping(r)) {
                int64_t d = r->rate_next - now;
                struct timespec ts = {0, (long)((d > 100 ? 100 : d) * 1000000)};
                nanosleep(&ts, NULL);
                now = pb_mono_ms();
        }
        if (r->rate_next < now)
                r->rate_next = now;
        r->rate_next += (int64_t)((double)n * 1000.0 / rate);
}

/* fleet: the outcome of one sink write, for the status records */
static void stats_write(relay_t *r, size_t n, const pb_sink_status_t *st) {
        pb_relay_stats_t *s;
        int64_t now;
        if (!r->link)
                return;
        s = &r->link->stats;
        now = pb_now_ms();
        pthread_mutex_lock(&r->link->mu);
        s->last_delivery_ms = now;
        if (st->result == PB_SINK_OK) {
                s->delivered += (long)n;
                s->last_success_ms = now;
                s->consecutive_failures = 0;
        } else {
                pb_relay_err_t *e = &s->errors[s->nerrors++ % PB_RELAY_RING];
                s->failed += (long)n;
                s->consecutive_failures++;
                s->last_failure_transport = st->http_status == 0;
                e->at_ms = now;
                e->status = st->http_status;
                snprintf(e->message, sizeof(e->message), "%s", st->reason);
        }
        pthread_mutex_unlock(&r->link->mu);
}

static void deliver_batch(relay_t *r) {
        size_t i, n = 0;
        pb_sink_status_t st;
        int64_t t0, t1;
        const char *lab[5];
        if (r->nbatch == 0)
                return;
        /* no revoked partition's entry is here: the loop checks the
         * assignment after each poll (check_rebalanced) */
        if (r->async) {
                pipe_take(r);
                return;
        }
        for (i = 0; i < r->nbatch; i++) {
                entry_t *e = &r->batch[i];
                pb_sink_event_t *ev;
                if (e->kind != ENT_DELIVER)
                        continue;
                ev = &r->events[n++];
                ev->topic = e->m.topic;
                ev->partition = e->m.partition;
                ev->offset = e->m.offset;
                ev->timestamp_ms = e->m.timestamp_ms;
                ev->key = e->m.key;
                ev->key_len = e->m.key_len;
                ev->type = e->type;
                ev->writer = e->writer;
                ev->body = (const uint8_t *)e->m.value + e->body_off;
                ev->body_len = e->m.len - e->body_off;
                ev->json = e->json_len
                               ? (const char *)r->arena.data + e->json_off
                               : ""; /* check_only */
                ev->json_len = e->json_len;
                ev->meta = &e->meta;
        }
        memset(&st, 0, sizeof(st));
        if (n) {
                rate_wait(r, n);
                t0 = pb_mono_ms();
                r->plugin->write(r->sink, r->events, n, &st);
                t1 = pb_mono_ms();
                stats_write(r, n, &st);
                lab[0] = "sink";
                lab[1] = r->plugin->name;
                lab[2] = NULL;
                pb_metrics_observe(r->metrics,
                                   "partnerbus_relay_delivery_seconds", lab,
                                   (double)(t1 - t0) / 1000.0);
                lab[2] = "outcome";
                lab[3] = pb_sink_result_name(st.result);
                lab[4] = NULL;
                pb_metrics_add(r->metrics, "partnerbus_relay_deliveries_total",
                               lab, (double)n);
        }
        if (st.result == PB_SINK_OK) {
                int64_t wms = pb_now_ms();
                for (i = 0; i < r->nbatch; i++) {
                        entry_t *e = &r->batch[i];
                        if (e->kind == ENT_DELIVER && e->m.timestamp_ms > 0 &&
                            i + 1 == r->nbatch) {
                                lab[0] = "sink";
                                lab[1] = r->plugin->name;
                                lab[2] = NULL;
                                pb_metrics_observe(
                                    r->metrics,
                                    "partnerbus_relay_end_to_end_seconds", lab,
                                    (double)(wms - e->m.timestamp_ms) / 1000.0);
                        }
                        resolved(r, e);
                }
                batch_clear(r);
                return;
        }
        lab[0] = "sink";
        lab[1] = r->plugin->name;
        lab[2] = NULL;
        if (n > 1) {
                /* a batch failed: replay its partitions one event at a
                 * time so only the bad event is retried / dead-lettered */
                for (i = 0; i < r->nbatch; i++) {
                        entry_t *e = &r->batch[i];
                        rpart_t *p = e->p;
                        if (p->blocked)
                                continue; /* first entry of p handled */
                        if (e->m.offset > p->solo_until)
                                p->solo_until = e->m.offset;
                        {
                                size_t j;
                                for (j = i + 1; j < r->nbatch; j++)
                                        if (r->batch[j].p == p &&
                                            r->batch[j].m.offset >
                                                p->solo_until)
                                                p->solo_until =
                                                    r->batch[j].m.offset;
                        }
                        if (p->attempts == 0 || p->fail_offset < 0) {
                                p->attempts = 0;
                                p->first_fail = pb_mono_ms();
                        }
                        p->attempts++;
                        p->fail_offset = e->m.offset;
                        p->retry_at = pb_mono_ms() +
                                      (st.result == PB_SINK_RETRY
                                           ? backoff_ms(r, p, st.retry_after_ms)
                                           : 0);
                        part_pause_seek(r, p, e->m.offset);
                }
                pb_log("warn",
                       "sink=%s events=%zu result=%s msg=\"batch failed, "
                       "retrying its partitions event by event\" "
                       "reason=\"%s\"",
                       r->plugin->name, n, pb_sink_result_name(st.result),
                       st.reason);
                pb_metrics_add(r->metrics, "partnerbus_relay_retries_total",
                               lab, 1);
                batch_clear(r);
                return;
        }
        /* one event failed: entries before it (skips) are resolved */
        for (i = 0; i < r->nbatch; i++) {
                entry_t *e = &r->batch[i];
                rpart_t *p = e->p;
                int64_t now = pb_mono_ms();
                if (e->kind != ENT_DELIVER) {
                        if (!p->blocked)
                                resolved(r, e);
                        continue;
                }
                if (p->fail_offset != e->m.offset) {
                        p->fail_offset = e->m.offset;
                        p->attempts = 0;
                        p->first_fail = now;
                }
                p->attempts++;
                if (st.result == PB_SINK_PERMANENT ||
                    now - p->first_fail >= r->set.retry_max_time) {
                        char why[300];
                        snprintf(why, sizeof(why), "%s", st.reason);
                        if (dlq_send(r, &e->m,
                                     st.result == PB_SINK_PERMANENT
                                         ? "permanent"
                                         : "retries_exhausted",
                                     why, p->attempts) == 0) {
                                resolved(r, e);
                                continue;
                        }
                }
                p->retry_at = now + backoff_ms(r, p, st.retry_after_ms);
                if (p->retry_at - p->first_fail > r->set.retry_max_time &&
                    st.result == PB_SINK_RETRY)
                        p->retry_at = p->first_fail + r->set.retry_max_time;
                pb_log("warn",
                       "sink=%s topic=%s partition=%d offset=%lld "
                       "event_id=%s attempt=%d retry_in_ms=%lld "
                       "reason=\"%s\"",
                       r->plugin->name, e->m.topic, (int)e->m.partition,
                       (long long)e->m.offset, e->meta.event_id, p->attempts,
                       (long long)(p->retry_at - now), st.reason);
                pb_metrics_add(r->metrics, "partnerbus_relay_retries_total",
                               lab, 1);
                part_pause_seek(r, p, e->m.offset);
        }
        batch_clear(r);
}

/* --- pipeline: sinks that keep several writes in flight ---
 *
 * Each event to deliver becomes a pitem_t in its partition's window and in
 * its key's queue. A key's head is submitted when the sink has room (its
 * own bound on requests and bytes in flight); the next event of the key
 * becomes ready only when the head is confirmed or dead-lettered, so the
 * receiver sees every key in offset order however the requests overlap.
 * A failed event stays its key's head: it is retried after its backoff
 * (the key's later events wait), and until then no new key of its
 * partition is started (a receiver in trouble gets the retries, not new
 * load). done_next, the offset committed next, is the offset of the oldest
 * unfinished event of the window, so a commit never passes an event that
 * was not confirmed. */

static uint64_t key_hash(const relay_t *r, const void *key, size_t len) {
        const unsigned char *k = key;
        uint64_t h = 1469598103934665603ull;
        size_t i;
        if (r->order_partition)
                return 0;
        for (i = 0; i < len; i++)
                h = (h ^ k[i]) * 1099511628211ull;
        return h;
}

static kslot_t **kslot_find(rpart_t *p, uint64_t h) {
        kslot_t **kp = &p->keys[h & (PB_RELAY_KEY_BUCKETS - 1)];
        while (*kp && (*kp)->h != h)
                kp = &(*kp)->next;
        return kp;
}

static void ready_push(rpart_t *p, pitem_t *it) {
        it->state = PI_READY;
        it->qnext = NULL;
        if (p->rtail)
                p->rtail->qnext = it;
        else
                p->rhead = it;
        p->rtail = it;
}

static void pitem_release(pitem_t *it) {
        pb_message_release(&it->m);
        free(it->json);
        it->json = NULL;
}

/* Appends it to its key's queue; a new head is ready. -1 out of memory. */
static int key_enqueue(rpart_t *p, pitem_t *it) {
        kslot_t **kp = kslot_find(p, it->kh), *k = *kp;
        it->knext = NULL;
        if (k) {
                k->tail->knext = it;
                k->tail = it;
                if (it->state != PI_FLIGHT && it->state != PI_BACKOFF)
                        it->state = PI_WAIT;
                return 0;
        }
        if (!(k = calloc(1, sizeof(*k))))
                return -1;
        k->h = it->kh;
        k->head = k->tail = it;
        *kp = k;
        if (it->state != PI_FLIGHT && it->state != PI_BACKOFF)
                ready_push(p, it);
        return 0;
}

/* The window's finished head events become committable. */
static void window_advance(relay_t *r, rpart_t *p) {
        int moved = 0;
        while (p->whead && p->whead->state == PI_DONE) {
                pitem_t *it = p->whead;
                p->whead = it->next;
                if (!p->whead)
                        p->wtail = NULL;
                if (it->offset + 1 > p->done_next)
                        p->done_next = it->offset + 1;
                r->pend_count--;
                free(it);
                moved = 1;
        }
        if (moved) /* the oldest unresolved event, for a fleet's lag */
                p->pending_ts = p->whead ? p->whead->m.timestamp_ms : -1;
}

/* it is confirmed or dead-lettered: its key's next event becomes ready */
static void pitem_done(relay_t *r, pitem_t *it) {
        rpart_t *p = it->p;
        kslot_t **kp = kslot_find(p, it->kh), *k = *kp;
        it->state = PI_DONE;
        r->pend_bytes -= it->bytes;
        it->bytes = 0;
        pitem_release(it);
        r->handled++;
        if (k && k->head == it) {
                k->head = it->knext;
                if (!k->head) {
                        *kp = k->next;
                        free(k);
                } else if (k->head->state == PI_WAIT) {
                        ready_push(p, k->head);
                }
        }
        window_advance(r, p);
}

static void keys_free(rpart_t *p) {
        size_t i;
        for (i = 0; p->keys && i < PB_RELAY_KEY_BUCKETS; i++)
                while (p->keys[i]) {
                        kslot_t *k = p->keys[i];
                        p->keys[i] = k->next;
                        free(k);
                }
}

/* Forgets p's events at or after offset `from` (all: -1): revoked or
 * rewound. Events in flight are orphaned (freed when their outcome comes,
 * which is then ignored); key queues and the ready queue are rebuilt from
 * what stays. */
static void pipe_drop_from(relay_t *r, rpart_t *p, int64_t from) {
        pitem_t *it, *next, *keep = NULL, *ktail = NULL, **bp;
        if (!p->whead)
                return;
        for (it = p->whead; it; it = next) {
                next = it->next;
                if (from >= 0 && it->offset < from) {
                        it->next = NULL;
                        if (ktail)
                                ktail->next = it;
                        else
                                keep = it;
                        ktail = it;
                        continue;
                }
                r->pend_count--;
                r->pend_bytes -= it->bytes;
                it->bytes = 0;
                if (it->state == PI_FLIGHT) {
                        it->state = PI_ORPHAN;
                        it->p = NULL;
                } else {
                        it->state = PI_DROP;
                }
        }
        /* the retry list loses the dropped events */
        for (bp = &r->backoff; *bp;) {
                if ((*bp)->state == PI_DROP) {
                        *bp = (*bp)->qnext; /* freed below */
                } else {
                        bp = &(*bp)->qnext;
                }
        }
        for (it = p->whead; it; it = next) {
                next = it->next;
                if (it->state == PI_DROP) {
                        pitem_release(it);
                        free(it);
                }
        }
        p->whead = keep;
        p->wtail = ktail;
        p->rhead = p->rtail = NULL;
        keys_free(p);
        for (it = keep; it; it = it->next)
                if (it->state != PI_DONE && key_enqueue(p, it) < 0)
                        pb_log("error", "msg=\"out of memory\"");
        window_advance(r, p);
}

static void flow_pause(relay_t *r, rpart_t *p, int pause) {
        if (pause && p->next_expected >= 0)
                part_pause_at(r, p, p->next_expected);
        else
                part_pause(r, p, pause);
        p->flow_paused = pause;
}

/* Above max-pending the partitions pause; below half they go on. */
static void pipe_flow(relay_t *r) {
        size_t i;
        int over = r->pend_count >= (size_t)r->set.max_pending ||
                   r->pend_bytes >= r->set.max_pending_bytes;
        int under = r->pend_count <= (size_t)r->set.max_pending / 2 &&
                    r->pend_bytes <= r->set.max_pending_bytes / 2;
        for (i = 0; i < r->nparts; i++) {
                rpart_t *p = r->parts[i];
                if (over && !p->flow_paused && p->next_expected >= 0)
                        flow_pause(r, p, 1);
                else if (under && p->flow_paused)
                        flow_pause(r, p, 0);
        }
}

/* The batch's entries move into the pipeline (deliver_batch's part when
 * the sink has submit/poll). */
static void pipe_take(relay_t *r) {
        size_t i;
        for (i = 0; i < r->nbatch; i++) {
                entry_t *e = &r->batch[i];
                rpart_t *p = e->p;
                pitem_t *it;
                if (e->kind != ENT_DELIVER && !p->whead) {
                        resolved(r, e);
                        pb_message_release(&e->m);
                        continue;
                }
                it = calloc(1, sizeof(*it));
                if (it && e->kind == ENT_DELIVER && e->json_len &&
                    !(it->json = malloc(e->json_len))) {
                        free(it);
                        it = NULL;
                }
                if (!it) {
                        /* fetched again after the backoff */
                        pb_message_release(&e->m);
                        pb_log("error",
                               "topic=%s partition=%d msg=\"out of "
                               "memory; partition held\"",
                               p->topic, (int)p->partition);
                        pipe_drop_from(r, p, e->m.offset);
                        p->retry_at = pb_mono_ms() + 1000;
                        part_pause_seek(r, p, e->m.offset);
                        continue;
                }
                if (!p->keys && !(p->keys = calloc(PB_RELAY_KEY_BUCKETS,
                                                   sizeof(*p->keys)))) {
                        free(it->json);
                        free(it);
                        pb_message_release(&e->m);
                        p->retry_at = pb_mono_ms() + 1000;
                        part_pause_seek(r, p, e->m.offset);
                        continue;
                }
                it->p = p;
                it->offset = e->m.offset;
                it->m = e->m;
                if (p->wtail)
                        p->wtail->next = it;
                else
                        p->whead = it;
                p->wtail = it;
                r->pend_count++;
                if (e->kind != ENT_DELIVER) {
                        /* a skip behind unfinished events */
                        it->state = PI_DONE;
                        r->handled++;
                        pitem_release(it);
                        continue;
                }
                if (e->json_len)
                        memcpy(it->json, r->arena.data + e->json_off,
                               e->json_len);
                it->json_len = e->json_len;
                it->writer = e->writer;
                it->type = e->type;
                it->body_off = e->body_off;
                pb_event_meta_copy(&it->meta, &e->meta);
                it->kh = key_hash(r, e->m.key, e->m.key_len);
                it->bytes = e->m.len + e->json_len + sizeof(*it);
                r->pend_bytes += it->bytes;
                it->state = PI_WAIT;
                if (key_enqueue(p, it) < 0) {
                        pb_log("error", "msg=\"out of memory\"");
                        ready_push(p, it); /* goes out of key order only
                                              when memory is gone */
                }
        }
        r->nbatch = 0;
        pb_buf_reset(&r->arena);
        pipe_flow(r);
}

static int pipe_submit(relay_t *r, pitem_t *it) {
        pb_sink_event_t ev;
        ev.topic = it->m.topic;
        ev.partition = it->m.partition;
        ev.offset = it->m.offset;
        ev.timestamp_ms = it->m.timestamp_ms;
        ev.key = it->m.key;
        ev.key_len = it->m.key_len;
        ev.type = it->type;
        ev.writer = it->writer;
        ev.body = (const uint8_t *)it->m.value + it->body_off;
        ev.body_len = it->m.len - it->body_off;
        ev.json = it->json ? it->json : "";
        ev.json_len = it->json_len;
        ev.meta = &it->meta;
        if (!r->plugin->submit(r->sink, &ev, 1, (uint64_t)(uintptr_t)it))
                return 0;
        it->state = PI_FLIGHT;
        return 1;
}

/* Submits due retries, then ready events, while the sink takes them. */
static void pipe_submit_all(relay_t *r) {
        int64_t now = pb_mono_ms();
        pitem_t **bp;
        size_t i, np = r->nparts;
        if (r->stopping)
                return;
        for (bp = &r->backoff; *bp;) {
                pitem_t *it = *bp;
                if (it->retry_at > now) {
                        bp = &it->qnext;
                        continue;
                }
                if (!pipe_submit(r, it))
                        return;
                *bp = it->qnext;
        }
        for (i = 0; i < np; i++) {
                rpart_t *p = r->parts[(r->rr + i) % np];
                if (p->hold_until > now)
                        continue;
                while (p->rhead) {
                        pitem_t *it = p->rhead;
                        if (!pipe_submit(r, it)) {
                                r->rr = (r->rr + i) % np;
                                return;
                        }
                        p->rhead = it->qnext;
                        if (!p->rhead)
                                p->rtail = NULL;
                }
        }
        if (np)
                r->rr = (r->rr + 1) % np;
}

static void pipe_outcome(relay_t *r, const pb_sink_done_t *d) {
        pitem_t *it = (pitem_t *)(uintptr_t)d->tag;
        const pb_sink_status_t *st = &d->status;
        const char *lab[5];
        rpart_t *p;
        int64_t now;
        if (it->state == PI_ORPHAN) {
                pitem_release(it);
                free(it);
                return;
        }
        p = it->p;
        lab[0] = "sink";
        lab[1] = r->plugin->name;
        lab[2] = NULL;
        pb_metrics_observe(r->metrics, "partnerbus_relay_delivery_seconds", lab,
                           (double)d->elapsed_ms / 1000.0);
        lab[2] = "outcome";
        lab[3] = pb_sink_result_name(st->result);
        lab[4] = NULL;
        pb_metrics_add(r->metrics, "partnerbus_relay_deliveries_total", lab, 1);
        stats_write(r, 1, st);
        lab[2] = NULL;
        if (st->result == PB_SINK_OK) {
                if (it->m.timestamp_ms > 0)
                        pb_metrics_observe(
                            r->metrics, "partnerbus_relay_end_to_end_seconds",
                            lab,
                            (double)(pb_now_ms() - it->m.timestamp_ms) /
                                1000.0);
                if (it->attempts)
                        p->hold_until = 0; /* the receiver is back */
                pitem_done(r, it);
                return;
        }
        now = pb_mono_ms();
        if (it->attempts == 0)
                it->first_fail = now;
        it->attempts++;
        if (r->stopping) {
                /* no more attempts: not committed, delivered again */
                it->state = PI_BACKOFF;
                it->retry_at = INT64_MAX;
                return;
        }
        if (st->result == PB_SINK_PERMANENT ||
            now - it->first_fail >= r->set.retry_max_time) {
                char why[300];
                snprintf(why, sizeof(why), "%s", st->reason);
                if (dlq_send(r, &it->m,
                             st->result == PB_SINK_PERMANENT
                                 ? "permanent"
                                 : "retries_exhausted",
                             why, it->attempts) == 0) {
                        pitem_done(r, it);
                        return;
                }
        }
        it->retry_at = now + pipe_backoff(r, it->attempts, st->retry_after_ms);
        if (it->retry_at - it->first_fail > r->set.retry_max_time &&
            st->result == PB_SINK_RETRY)
                it->retry_at = it->first_fail + r->set.retry_max_time;
        if (it->retry_at > p->hold_until)
                p->hold_until = it->retry_at;
        it->state = PI_BACKOFF;
        it->qnext = r->backoff;
        r->backoff = it;
        pb_log("warn",
               "sink=%s topic=%s partition=%d offset=%lld event_id=%s "
               "attempt=%d retry_in_ms=%lld reason=\"%s\"",
               r->plugin->name, it->m.topic, (int)it->m.partition,
               (long long)it->m.offset, it->meta.event_id, it->attempts,
               (long long)(it->retry_at - now), st->reason);
        pb_metrics_add(r->metrics, "partnerbus_relay_retries_total", lab, 1);
}

/* Submits what may go, then collects outcomes for at most timeout_ms
 * (returns early when one comes); repeats while outcomes free room. */
static void pipe_pump(relay_t *r, int timeout_ms) {
        size_t n, i;
        int rounds = 0;
        do {
                pipe_submit_all(r);
                if (!r->plugin->in_flight(r->sink))
                        break;
                n = r->plugin->poll(r->sink, rounds ? 0 : timeout_ms, r->done,
                                    sizeof(r->done) / sizeof(r->done[0]));
                for (i = 0; i < n; i++)
                        pipe_outcome(r, &r->done[i]);
        } while (n && ++rounds < 64);
        pipe_flow(r);
}

/* the earliest retry, for the main loop's wait (INT64_MAX: none) */
static int64_t pipe_next_retry(relay_t *r) {
        int64_t t = INT64_MAX;
        pitem_t *it;
        size_t i;
        for (it = r->backoff; it; it = it->qnext)
                if (it->retry_at < t)
                        t = it->retry_at;
        for (i = 0; i < r->nparts; i++)
                if (r->parts[i]->rhead && r->parts[i]->hold_until < t)
                        t = r->parts[i]->hold_until;
        return t;
}

/* SIGTERM / --max-events: what is in flight finishes (the sink's timeout
 * bounds it); nothing new starts, failures are not retried. */
static void pipe_drain(relay_t *r) {
        r->stopping = 1;
        while (r->plugin->in_flight(r->sink)) {
                size_t n =
                    r->plugin->poll(r->sink, 200, r->done,
                                    sizeof(r->done) / sizeof(r->done[0]));
                size_t i;
                for (i = 0; i < n; i++)
                        pipe_outcome(r, &r->done[i]);
        }
}

static void pipe_free(relay_t *r) {
        size_t i;
        for (i = 0; i < r->nparts; i++) {
                rpart_t *p = r->parts[i];
                pitem_t *it, *next;
                for (it = p->whead; it; it = next) {
                        next = it->next;
                        pitem_release(it);
                        free(it);
                }
                p->whead = p->wtail = p->rhead = p->rtail = NULL;
                keys_free(p);
                free(p->keys);
                p->keys = NULL;
        }
        r->backoff = NULL;
}

/* fleet: new settings bring a new sink. What is in flight on the old one
 * finishes; what is not confirmed yet is dropped and its partition sought
 * back to it, so it goes out again under the new settings. */
static void pipe_settle(relay_t *r) {
        size_t i;
        pipe_drain(r);
        for (i = 0; i < r->nparts; i++) {
                rpart_t *p = r->parts[i];
                int64_t from = p->whead ? p->whead->offset : -1;
                pipe_drop_from(r, p, -1);
                p->hold_until = 0;
                if (from >= 0) {
                        part_pause_seek(r, p, from); /* the loop resumes it */
                        p->fail_offset = -1;
                        p->retry_at = 0;
                } else if (p->flow_paused) {
                        flow_pause(r, p, 0);
                }
                p->flow_paused = 0;
        }
        r->stopping = 0;
}

/* The pipeline serves one event per write to a sink that overlaps writes.
 * A fleet subscription's rate limit paces whole writes, so a rate-limited
 * subscription is delivered one write at a time. */
static int relay_pipelined(const relay_t *r) {
        return r->batch_max == 1 && r->plugin->submit && r->plugin->poll &&
               r->plugin->in_flight && !(r->conf && r->conf->rate_per_s > 0);
}

/* Flushes the sink, stores and commits what is done. 0 ok, -1 fatal. */
static int flush_commit(relay_t *r, int sync) {
        size_t i;
        int any = 0;
        char err[256];
        for (i = 0; i < r->nparts; i++)
                if (r->parts[i]->done_next > r->parts[i]->stored_next)
                        any = 1;
        r->last_commit = pb_mono_ms();
        if (!any)
                return 0;
        if (r->plugin->flush(r->sink, err, sizeof(err)) != PB_OK) {
                pb_log("error",
                       "sink=%s msg=\"flush failed; stopping without "
                       "committing (events since the last commit will be "
                       "redelivered)\" reason=\"%s\"",
                       r->plugin->name, err);
                return -1;
        }
        for (i = 0; i < r->nparts; i++) {
                rpart_t *p = r->parts[i];
                pb_message_t m;
                if (p->done_next <= p->stored_next)
                        continue;
                memset(&m, 0, sizeof(m));
                m.topic = p->topic;
                m.partition = p->partition;
                m.offset = p->done_next - 1;
                pb_consumer_store(r->cons, &m); /* fails if revoked: fine */
                p->stored_next = p->done_next;
        }
        if (pb_consumer_commit(r->cons, !sync) != PB_OK)
                pb_log("warn", "msg=\"offset commit failed; will retry\"");
        return 0;
}

/* fleet: lag in events and seconds over this member's partitions, and
 * whether it holds partition 0 of the first topic (that member writes the
 * subscription's status) */
static void stats_lag(relay_t *r) {
        rd_kafka_topic_partition_list_t *a = NULL;
        int64_t lag = 0, lag_s = 0, now = pb_now_ms();
        int assigned = 0, first = 0, i;
        size_t k;
        if (!rd_kafka_assignment(r->rk, &a) && a) {
                assigned = a->cnt;
                for (i = 0; i < a->cnt; i++)
                        if (a->elems[i].partition == 0 &&
                            !strcmp(a->elems[i].topic, r->first_topic))
                                first = 1;
                rd_kafka_topic_partition_list_destroy(a);
        }
        for (k = 0; k < r->nparts; k++) {
                rpart_t *p = r->parts[k];
                int64_t lo, hi;
                if (p->next_expected < 0 || p->done_next < 0 ||
                    rd_kafka_get_watermark_offsets(r->rk, p->topic,
                                                   p->partition, &lo, &hi) != 0)
                        continue;
                if (hi > p->done_next) {
                        lag += hi - p->done_next;
                        if (p->pending_ts > 0 &&
                            (now - p->pending_ts) / 1000 > lag_s)
                                lag_s = (now - p->pending_ts) / 1000;
                }
        }
        pthread_mutex_lock(&r->link->mu);
        r->link->stats.lag_events = lag;
        r->link->stats.lag_seconds = lag_s;
        r->link->stats.assigned = assigned;
        r->link->stats.holds_first = first;
        pthread_mutex_unlock(&r->link->mu);
}

static void update_lag(relay_t *r) {
        size_t i, paused = 0;
        for (i = 0; i < r->nparts; i++) {
                rpart_t *p = r->parts[i];
                int64_t lo, hi;
                char pbuf[16];
                const char *lab[5];
                if (p->blocked || p->hold_until > pb_mono_ms())
                        paused++;
                if (p->next_expected < 0 ||
                    rd_kafka_get_watermark_offsets(r->rk, p->topic,
                                                   p->partition, &lo, &hi) != 0)
                        continue;
                snprintf(pbuf, sizeof(pbuf), "%d", (int)p->partition);
                lab[0] = "topic";
                lab[1] = p->topic;
                lab[2] = "partition";
                lab[3] = pbuf;
                lab[4] = NULL;
                pb_metrics_set(r->metrics, "partnerbus_relay_consumer_lag", lab,
                               (double)(hi > p->done_next && p->done_next >= 0
                                            ? hi - p->done_next
                                            : 0));
        }
        pb_metrics_set(r->metrics, "partnerbus_relay_paused_partitions", NULL,
                       (double)paused);
        r->last_lag = pb_mono_ms();
        if (r->link)
                stats_lag(r);
}

/* The batch's last entry e (a skip) is dead-lettered before the sink: on
 * success it stays a skip and is resolved with the batch; if the DLQ
 * cannot be written, the entry is dropped and its partition held and
 * retried. */
static void reject_entry(relay_t *r, entry_t *e, const char *reason_kind,
                         const char *detail) {
        rpart_t *p = e->p;
        int64_t offset = e->m.offset;
        r->arena.len = e->json_off;
        e->kind = ENT_SKIP;
        e->json_len = 0;
        if (dlq_send(r, &e->m, reason_kind, detail, 0) == 0)
                return;
        r->nbatch--;
        pb_message_release(&e->m);
        p->attempts++;
        p->fail_offset = offset;
        p->retry_at = pb_mono_ms() + backoff_ms(r, p, 0);
        part_pause_seek(r, p, offset);
}

/* The filter for an event of `type`: the static relay's --where; a fleet
 * worker's per-type filter (subscription AND organisation), *deny when
 * the subscription may not receive the type at all. NULL: no filter. */
static const pb_filter_t *filter_for(relay_t *r, const char *type, int *deny) {
        size_t i;
        *deny = 0;
        if (!r->conf)
                return r->filter;
        for (i = 0; i < r->conf->ntypes; i++)
                if (!strcmp(r->conf->types[i], type))
                        return r->conf->filters[i];
        *deny = 1;
        return NULL;
}

/* e (the batch's last entry) does not pass the filter: counted, and
 * resolved with the batch */
static void filtered(relay_t *r, entry_t *e, const pb_message_t *m) {
        const char *lab[3] = {"topic", m->topic, NULL};
        pb_metrics_add(r->metrics, "partnerbus_relay_filtered_total", lab, 1);
        r->arena.len = e->json_off;
}

/* Takes ownership of m (released when resolved). */
static void handle_message(relay_t *r, pb_message_t *m) {
        rpart_t *p = part_get(r, m->topic, m->partition);
        entry_t *e;
        pb_serde_msg_t msg;
        char err[512];
        pb_resp_t rc;
        if (!p) {
                pb_message_release(m);
                return;
        }
        if (p->blocked) {
                if (m->offset >= p->fail_offset && p->fail_offset >= 0) {
                        /* should not come while paused: re-seek */
                        part_pause_seek(r, p, p->fail_offset);
                        pb_message_release(m);
                        return;
                }
                if (r->async)
                        pipe_drop_from(r, p, m->offset);
                part_reset(p); /* rewound below (rebalance): start over */
        }
        if (p->next_expected >= 0 && m->offset < p->next_expected) {
                /* rewound (reassigned, or our own seek): forget pending
                 * entries at or after this offset */
                batch_drop_from(r, p, m->offset);
                if (r->async)
                        pipe_drop_from(r, p, m->offset);
                if (p->done_next > m->offset)
                        p->done_next = m->offset;
                if (p->stored_next > m->offset)
                        p->stored_next = m->offset;
        }
        p->next_expected = m->offset + 1;
        if (p->pending_ts < 0)
                p->pending_ts = m->timestamp_ms;
        if (p->done_next < 0)
                p->done_next = m->offset;
        if (p->stored_next < 0)
                p->stored_next = m->offset;

        if (r->nbatch == 0)
                r->batch_deadline = pb_mono_ms() + r->set.batch_linger;
        e = &r->batch[r->nbatch];
        memset(e, 0, sizeof(*e));
        e->m = *m;
        e->p = p;
        e->kind = ENT_SKIP;
        r->nbatch++;

        /* one frame parse and schema lookup; decoded to JSON, or only
         * validated when nothing needs the JSON */
        e->json_off = r->arena.len;
        rc = pb_serde_read(r->serde, m->value, m->len, &msg,
                           r->check_only ? NULL : &r->arena, &e->meta, err,
                           sizeof(err));
        if (rc != PB_OK) {
                reject_entry(r, e, "undecodable", err);
                return;
        }
        e->json_len = r->arena.len - e->json_off;
        e->body_off = msg.body_off;
        e->writer = msg.writer;
        e->type = pb_schema_type(msg.reader);
        {
                /* the payload's type must belong on this topic: a
                 * funds.granted body on aid.dispatched is not delivered
                 * as a shipment */
                char want[512];
                const char *wt = pb_schema_type(msg.writer);
                const char *pfx =
                    r->cc.kconf.topic_prefix ? r->cc.kconf.topic_prefix : "";
                size_t pl = strlen(pfx);
                /* compared in place: formatting the name cost ~1,000
                 * instructions per event */
                if (strncmp(m->topic, pfx, pl) || strcmp(m->topic + pl, wt)) {
                        pb_kafka_topic(&r->cc.kconf, wt, want, sizeof(want));
                        snprintf(err, sizeof(err),
                                 "payload type %s belongs on topic %s, not "
                                 "%s",
                                 wt, want, m->topic);
                        reject_entry(r, e, "type_mismatch", err);
                        return;
                }
        }
        {
                int deny = 0;
                const pb_filter_t *f = filter_for(r, e->type, &deny);
                const pb_projection_t *proj = r->conf ? r->conf->proj : NULL;
                const pb_json_t *doc = NULL;
                if (deny) {
                        filtered(r, e, m);
                        return;
                }
                if ((f && pb_filter_needs_event(f)) ||
                    !pb_projection_is_identity(proj)) {
                        doc = pb_json_parse(
                            r->jp, (const char *)r->arena.data + e->json_off,
                            e->json_len, err, sizeof(err));
                        if (!doc) {
                                /* not "filtered": the filter could not
                                 * look at it */
                                char why[600];
                                snprintf(why, sizeof(why),
                                         "--where cannot parse the event: %s",
                                         err);
                                reject_entry(r, e, "unfilterable", why);
                                return;
                        }
                }
                if (f && !pb_filter_match(f, e->type, doc)) {
                        filtered(r, e, m);
                        return;
                }
                if (!pb_projection_is_identity(proj)) {
                        /* fields the agreement does not share are gone
                         * before the sink signs and sends the body */
                        pb_buf_reset(&r->proj_buf);
                        r->arena.len = e->json_off;
                        if (pb_projection_apply(proj, doc, &r->proj_buf) !=
                                PB_OK ||
                            pb_buf_append(&r->arena, r->proj_buf.data,
                                          r->proj_buf.len) != PB_OK) {
                                reject_entry(r, e, "unfilterable",
                                             "projection: out of memory");
                                return;
                        }
                        e->json_len = r->proj_buf.len;
                }
        }
        e->kind = ENT_DELIVER;
        if (p->solo_until >= m->offset) {
                /* after a failed batch: this event on its own */
                if (r->nbatch > 1) {
                        entry_t keep = *e;
                        size_t jo = keep.json_off, jl = keep.json_len;
                        char *jcopy = malloc(jl ? jl : 1);
                        r->nbatch--;
                        if (jcopy && jl)
                                memcpy(jcopy, r->arena.data + jo, jl);
                        deliver_batch(r);
                        if (p->blocked || !jcopy) {
                                pb_message_release(&keep.m);
                                free(jcopy);
                                if (!p->blocked)
                                        part_pause_seek(r, p, keep.m.offset);
                                return;
                        }
                        keep.json_off = r->arena.len;
                        pb_buf_append(&r->arena, jcopy, jl);
                        free(jcopy);
                        r->batch[0] = keep;
                        r->nbatch = 1;
                }
                deliver_batch(r);
        }
}

static int relay_ready(void *opaque, char *reason, size_t reason_size) {
        relay_t *r = opaque;
        if (r->fatal)
                return pb_cli_ready(0, "stopping after a fatal error", reason,
                                    reason_size);
        return pb_cli_ready(r->ready, "joining the consumer group", reason,
                            reason_size);
}

static void declare_metrics(pb_metrics_t *m) {
        pb_metrics_declare(m, "partnerbus_relay_deliveries_total", "counter",
                           "events handed to the sink, by outcome", NULL, 0);
        pb_metrics_declare(m, "partnerbus_relay_retries_total", "counter",
                           "failed deliveries scheduled for a retry", NULL, 0);
        pb_metrics_declare(m, "partnerbus_relay_dlq_total", "counter",
                           "events sent to the dead-letter topic", NULL, 0);
        pb_metrics_declare(m, "partnerbus_relay_filtered_total", "counter",
                           "events skipped by --where (committed)", NULL, 0);
        pb_metrics_declare(m, "partnerbus_relay_consumer_lag", "gauge",
                           "events in the partition not yet delivered", NULL,
                           0);
        pb_metrics_declare(m, "partnerbus_relay_paused_partitions", "gauge",
                           "partitions held back by a failing event", NULL, 0);
        pb_metrics_declare(m, "partnerbus_relay_delivery_seconds", "histogram",
                           "duration of one sink write", NULL, 0);
        pb_metrics_declare(m, "partnerbus_relay_end_to_end_seconds",
                           "histogram", "Kafka timestamp to confirmed delivery",
                           NULL, 0);
}

/* The sink named by --sink, initialised with its part of the settings. */
static int setup_sink(relay_t *r) {
        relay_settings_t *s = &r->set;
        const char *colon = strchr(s->sink, ':');
        const pb_sink_plugin_t *p;
        char name[32], err[512];
        size_t nl, i;
        if (!colon || (nl = (size_t)(colon - s->sink)) >= sizeof(name)) {
                pb_cli_usage_error(cmd, "--sink expects NAME:TARGET "
                                        "(webhook:URL, archive:DIR, "
                                        "jsonl:PATH)");
                return PB_EXIT_USAGE;
        }
        memcpy(name, s->sink, nl);
        name[nl] = 0;
        r->plugin = pb_sink_plugin_find(name);
        for (i = 0; (p = pb_sink_plugin_at(i)) && p != r->plugin; i++)
                ;
        if (!r->plugin || i >= PB_RELAY_MAX_SINKS) {
                pb_cli_usage_error(cmd,
                                   "unknown sink '%s' (webhook, archive, "
                                   "jsonl)",
                                   name);
                return PB_EXIT_USAGE;
        }
        r->sink_target = strdup(colon + 1);
        r->sink = r->plugin->init(
            r->sink_target, (const char *)s + sink_base[i], err, sizeof(err));
        if (!r->sink) {
                fprintf(stderr, "partnerbus relay: %s\n", err);
                return PB_EXIT_USAGE;
        }
        return -1;
}

/* fleet: seeks every partition this member holds to the first offset at
 * or after from_ms and commits that position (so a crash right after does
 * not lose the retransmit); other members do the same for theirs. What the
 * batch holds is dropped: it comes again or is skipped, as the seek says. */
static int retransmit(relay_t *r, int64_t from_ms) {
        rd_kafka_topic_partition_list_t *a = NULL, *c;
        rd_kafka_resp_err_t e;
        rd_kafka_error_t *se;
        int i;
        size_t k;
        if (rd_kafka_assignment(r->rk, &a) || !a)
                return -1;
        if (a->cnt == 0) {
                rd_kafka_topic_partition_list_destroy(a);
                return -1; /* not (yet) assigned: try again */
        }
        batch_clear(r);
        for (i = 0; i < a->cnt; i++)
                a->elems[i].offset = from_ms;
        e = rd_kafka_offsets_for_times(r->rk, a, 10000);
        if (e) {
                pb_log("warn",
                       "group=%s msg=\"retransmit: offsets for time: "
                       "%s\"",
                       r->set.group, rd_kafka_err2str(e));
                rd_kafka_topic_partition_list_destroy(a);
                return -1;
        }
        c = rd_kafka_topic_partition_list_new(a->cnt);
        for (i = 0; i < a->cnt; i++) {
                rd_kafka_topic_partition_t *t = &a->elems[i];
                int64_t lo = 0, hi = 0;
                if (t->offset < 0) /* nothing at or after from: the end */
                        t->offset =
                            rd_kafka_query_watermark_offsets(
                                r->rk, t->topic, t->partition, &lo, &hi, 5000)
                                ? RD_KAFKA_OFFSET_END
                                : hi;
                if (t->offset >= 0)
                        rd_kafka_topic_partition_list_add(c, t->topic,
                                                          t->partition)
                            ->offset = t->offset;
        }
        for (k = 0; k < r->nparts; k++) {
                if (r->async) /* in flight: its outcome is ignored */
                        pipe_drop_from(r, r->parts[k], -1);
                part_reset(r->parts[k]);
        }
        for (i = 0; i < a->cnt; i++)
                if (pb_consumer_pause(r->cons, a->elems[i].topic,
                                      a->elems[i].partition, 0) != PB_OK)
                        part_oom(r, a->elems[i].topic, a->elems[i].partition);
        se = rd_kafka_seek_partitions(r->rk, a, 5000);
        if (se) {
                pb_log("warn", "group=%s msg=\"retransmit: seek: %s\"",
                       r->set.group, rd_kafka_error_string(se));
                rd_kafka_error_destroy(se);
        }
        /* stored too: a revocation commits the stored offsets, which
         * must not be the old, later ones */
        if (c->cnt)
                rd_kafka_offsets_store(r->rk, c);
        if (c->cnt && (e = rd_kafka_commit(r->rk, c, 0)))
                pb_log("warn", "group=%s msg=\"retransmit: commit: %s\"",
                       r->set.group, rd_kafka_err2str(e));
        pb_log("info", "group=%s partitions=%d msg=\"retransmit\" from_ms=%lld",
               r->set.group, a->cnt, (long long)from_ms);
        rd_kafka_topic_partition_list_destroy(c);
        rd_kafka_topic_partition_list_destroy(a);
        return 0;
}

/* fleet: takes a new delivery configuration and a retransmit request from
 * the control thread. The batch in hand goes out with the settings it was
 * filtered by; then the sink is flushed and the offsets committed, and the
 * new settings apply from the next event on. */
static void link_take(relay_t *r) {
        pb_relay_subconf_t *nc;
        int64_t from;
        pthread_mutex_lock(&r->link->mu);
        nc = r->link->pending;
        r->link->pending = NULL;
        from = r->link->retransmit_from;
        r->link->retransmit_from = -1;
        pthread_mutex_unlock(&r->link->mu);
        if (nc) {
                size_t want = nc->batch_max ? nc->batch_max : 1;
                if (r->nbatch)
                        deliver_batch(r);
                batch_clear(r);
                if (r->async)
                        pipe_settle(r);
                if (flush_commit(r, 0))
                        r->fatal = 1;
                if (want > r->batch_cap) {
                        entry_t *b = realloc(r->batch, want * sizeof(*b));
                        pb_sink_event_t *ev;
                        if (b)
                                r->batch = b;
                        ev = b ? realloc(r->events, want * sizeof(*ev)) : NULL;
                        if (ev) {
                                r->events = ev;
                                r->batch_cap = want;
                        }
                }
                pb_relay_subconf_free(r->conf);
                r->conf = nc;
                r->plugin = nc->plugin;
                r->sink = nc->sink;
                r->set.retry_max_time = nc->retry_max_time;
                r->batch_max = want <= r->batch_cap ? want : r->batch_cap;
                r->async = relay_pipelined(r);
                pb_log("info",
                       "group=%s msg=\"subscription settings applied\" "
                       "pipeline=%s",
                       r->set.group, r->async ? r->set.order : "off");
        }
        if (from >= 0) {
                /* kept until this member has partitions (a new worker is
                 * still joining), for at most 30 s */
                r->rt_from = from;
                r->rt_until = pb_mono_ms() + 30000;
        }
        if (r->rt_until &&
            (retransmit(r, r->rt_from) == 0 || pb_mono_ms() > r->rt_until))
                r->rt_until = 0;
}

/* The main loop (see the top of the file). 0, or -1 after a fatal error
 * (sink flush, consumer). */
static int relay_loop(relay_t *r) {
        int status = 0;
        size_t i;
        char err[512];
        r->last_commit = r->last_lag = pb_mono_ms();
        while (!relay_stopping(r)) {
                int64_t now = pb_mono_ms(), wait = 200;
                pb_message_t m;
                pb_resp_t pr;
                if (r->fatal) { /* out of memory in a pause (part_pause) */
                        status = -1;
                        break;
                }
                if (r->link)
                        link_take(r);
                for (i = 0; i < r->nparts; i++) {
                        rpart_t *p = r->parts[i];
                        if (p->blocked) {
                                if (now >= p->retry_at)
                                        part_resume(r, p);
                                else if (p->retry_at - now < wait)
                                        wait = p->retry_at - now;
                        }
                }
                if (r->nbatch &&
                    (r->nbatch >= r->batch_max || now >= r->batch_deadline))
                        deliver_batch(r);
                if (now - r->last_commit >= r->set.commit_interval &&
                    flush_commit(r, 0)) {
                        r->fatal = 1;
                        status = -1;
                        break;
                }
                if (now - r->last_lag >= 2000)
                        update_lag(r);
                if (r->set.max_events > 0 && r->handled >= r->set.max_events &&
                    r->nbatch == 0)
                        break;
                if (r->nbatch) {
                        int64_t left = r->batch_deadline - now;
                        if (left < wait)
                                wait = left < 0 ? 0 : left;
                }
                if (r->async) {
                        int64_t t = pipe_next_retry(r);
                        pipe_pump(r, 0);
                        if (t != INT64_MAX && t - now < wait)
                                wait = t <= now ? 0 : t - now;
                        /* requests in flight: look at Kafka without
                         * waiting, then wait for the receiver instead */
                        if (r->plugin->in_flight(r->sink))
                                wait = 0;
                }
                pr = pb_consumer_poll(r->cons, &m, (int)wait, err, sizeof(err));
                check_rebalanced(r);
                if (pr == PB_ERR_TIMEOUT && r->async &&
                    r->plugin->in_flight(r->sink)) {
                        pipe_pump(r, 10);
                        continue;
                }
                if (pr == PB_ERR_TIMEOUT) {
                        if (!r->ready) {
                                rd_kafka_topic_partition_list_t *a = NULL;
                                if (!rd_kafka_assignment(r->rk, &a) && a) {
                                        if (a->cnt > 0)
                                                r->ready = 1;
                                        rd_kafka_topic_partition_list_destroy(
                                            a);
                                }
                        }
                        continue;
                }
                if (pr != PB_OK) {
                        pb_log("error", "group=%s msg=\"consumer: %s\"",
                               r->set.group, err);
                        r->fatal = 1;
                        status = -1;
                        break;
                }
                r->ready = 1;
                handle_message(r, &m);
                if (r->async)
                        deliver_batch(r);
                /* take what is already fetched without the bookkeeping
                 * above (a clock read and a partition scan per message);
                 * it runs again after at most PB_RELAY_BURST messages */
                for (i = 1; i < PB_RELAY_BURST && r->nbatch < r->batch_max &&
                            !relay_stopping(r);
                     i++) {
                        pr = pb_consumer_poll(r->cons, &m, 0, err, sizeof(err));
                        check_rebalanced(r);
                        if (pr != PB_OK)
                                break; /* errors: reported above next time */
                        handle_message(r, &m);
                        if (r->async)
                                deliver_batch(r);
                }
                if (r->nbatch >= r->batch_max)
                        deliver_batch(r);
                if (r->async)
                        pipe_pump(r, 0);
        }
        if (!r->fatal) {
                /* SIGTERM: one last attempt at what we hold (no retries),
                 * then commit everything confirmed */
                if (r->nbatch) {
                        size_t k;
                        for (k = 0; k < r->nparts; k++)
                                r->parts[k]->solo_until = -1;
                        deliver_batch(r);
                }
                batch_clear(r);
                if (r->async)
                        pipe_drain(r);
                if (flush_commit(r, 1))
                        status = -1;
                pb_log("info", "msg=\"relay stopped\" handled=%ld group=%s",
                       r->handled, r->set.group);
        }
        return status;
}

/* What a relay is built from besides r->set, r->cc, its sink (r->plugin,
 * r->sink, r->batch_max) and its filter (r->filter, or a fleet worker's
 * r->conf): the static relay's command line or a fleet subscription. */
typedef struct relay_build {
        const char *const *topics; /* full topic names */
        size_t ntopics;
        /* consumer properties before the -X ones (which win) */
        const char *const *props;
        size_t nprops;
        int from_beginning;
} relay_build_t;

/* The parts every relay has: its batch, the JSON parser its filters need,
 * registry and serde over r->catalog, the pipeline when the sink and the
 * settings allow it, and the consumer (which joins the group at once).
 * The dead-letter producer comes with the first dead letter. 0, or -1
 * with err; relay_free() takes what was made either way. */
static int relay_build(relay_t *r, const relay_build_t *b, char *err,
                       size_t errsz) {
        pb_consumer_opts_t copts;
        pb_kafka_conf_t ck;
        if (r->batch_max < 1)
                r->batch_max = 1;
        if (r->batch_max > 100000)
                r->batch_max = 100000;
        r->batch_cap = r->batch_max;
        r->async = relay_pipelined(r);
        r->order_partition = r->set.order && !strcmp(r->set.order, "partition");
        r->check_only = !r->plugin->needs_json && !r->filter && !r->conf;
        r->batch = calloc(r->batch_cap, sizeof(*r->batch));
        r->events = calloc(r->batch_cap, sizeof(*r->events));
        pb_buf_init(&r->arena, 0);
        pb_buf_init(&r->proj_buf, 0);
        if ((r->filter || r->conf) && !(r->jp = pb_json_parser_new(NULL))) {
                snprintf(err, errsz, "out of memory");
                return -1;
        }
        if (!r->batch || !r->events) {
                snprintf(err, errsz, "out of memory");
                return -1;
        }
        if (r->cc.schema_registry &&
            !(r->registry = pb_registry_new(r->cc.schema_registry, err, errsz)))
                return -1;
        if (!(r->serde = pb_serde_new(r->catalog, r->registry, err, errsz)))
                return -1;
        memset(&copts, 0, sizeof(copts));
        copts.group = r->set.group;
        copts.from_beginning = b->from_beginning;
        pb_kafka_conf_layer(&ck, &r->cc.kconf, b->props, b->nprops, NULL);
        ck.topic_prefix = r->cc.kconf.topic_prefix;
        r->cons =
            pb_consumer_new(&ck, &copts, b->topics, b->ntopics, err, errsz);
        if (!r->cons)
                return -1;
        r->rk = pb_consumer_rk(r->cons);
        return 0;
}

/* Frees r and what relay_build() and the loop made, the sink (a fleet
 * worker's with its settings) and the filter; not r->catalog, r->metrics
 * or r->ops, which are the caller's. */
static void relay_free(relay_t *r) {
        size_t i;
        if (!r)
                return;
        batch_clear(r);
        pipe_free(r);
        pb_consumer_destroy(r->cons);
        if (r->conf)
                pb_relay_subconf_free(r->conf);
        else if (r->plugin && r->sink)
                r->plugin->destroy(r->sink);
        pb_producer_destroy(r->dlq);
        pb_serde_destroy(r->serde);
        pb_registry_destroy(r->registry);
        pb_filter_destroy(r->filter);
        pb_json_parser_destroy(r->jp);
        pb_buf_free(&r->arena);
        pb_buf_free(&r->proj_buf);
        for (i = 0; i < r->nparts; i++) {
                free(r->parts[i]->topic);
                free(r->parts[i]);
        }
        free(r->parts);
        free(r->batch);
        free(r->events);
        free(r->sink_target);
        free(r);
}

int pb_cmd_relay(int argc, char **argv) {
        relay_t *r = calloc(1, sizeof(*r));
        int rc, status = PB_EXIT_FAIL;
        char err[512];
        char **topics = NULL;
        size_t ntopics = 0;
        pb_metrics_t *metrics;
        pb_schemas_t *catalog;
        /* The consumer's own default: librdkafka 2.0 stops fetching a
         * partition whose local queue holds queued.min.messages (100000)
         * and looks again only after fetch.error.backoff.ms (500 ms), so a
         * relay that drains a backlog faster than that idled most of the
         * time. The queue stays bounded in bytes by
         * queued.max.messages.kbytes (64 MiB). */
        static const char *const props[] = {"queued.min.messages=1000000"};
        relay_build_t b = {NULL, 0, props, 1, 0};
        if (!r)
                return PB_EXIT_FAIL;
        if (argc > 1 && !strcmp(argv[1], "--fleet")) {
                /* partnerbus relay --fleet ... = partnerbus fleet ... */
                free(r);
                argv[1] = argv[0];
                return pb_cmd_fleet(argc - 1, argv + 1);
        }
        srandom((unsigned)(time(NULL) ^ getpid()));
        if (relay_opts_compose() < 0) {
                free(r);
                return PB_EXIT_FAIL;
        }
        rc = pb_opts_parse_args(&relay_spec, &r->set, &r->cc, argc, argv);
        if (rc >= 0) {
                free(r);
                pb_opts_compose_spec_free(&relay_spec);
                return rc;
        }
        if (!pb_cli_require_brokers(cmd, &r->cc)) {
                status = PB_EXIT_USAGE;
                goto done;
        }
        if (strcmp(r->set.start, "earliest") &&
            strcmp(r->set.start, "latest")) {
                status = pb_cli_usage_error(cmd, "--start expects earliest or "
                                                 "latest");
                goto done;
        }
        if ((rc = pb_opts_where(cmd, &r->set.where, &r->filter)) >= 0) {
                status = rc;
                goto done;
        }
        if ((rc = setup_sink(r)) >= 0) {
                status = rc;
                goto done;
        }
        if (strcmp(r->set.order, "key") && strcmp(r->set.order, "partition")) {
                status = pb_cli_usage_error(cmd, "--order expects key or "
                                                 "partition");
                goto done;
        }
        if (r->set.max_pending < 1) {
                status = pb_cli_usage_error(cmd, "--max-pending must be >= 1");
                goto done;
        }
        r->batch_max = r->set.batch_size > 0 ? (size_t)r->set.batch_size
                                             : r->plugin->batch_hint(r->sink);
        if (!(r->catalog = pb_cli_load_schemas(cmd, &r->cc)))
                goto done;
        if (!(r->metrics = pb_metrics_new()))
                goto done;
        declare_metrics(r->metrics);
        if (pb_cli_ops_start(r->set.ops_listen, r->metrics, relay_ready, r,
                             &r->ops))
                goto done;
        /* --topics a,b --topics c: every comma-separated item */
        topics = pb_opts_topics(&r->cc, &r->set.topics, &ntopics);
        if (ntopics == 0) {
                status = pb_cli_usage_error(cmd, "--topics is empty");
                goto done;
        }
        b.topics = (const char *const *)topics;
        b.ntopics = ntopics;
        b.from_beginning = !strcmp(r->set.start, "earliest");
        if (relay_build(r, &b, err, sizeof(err))) {
                pb_log("error", "msg=\"%s\"", err);
                goto done;
        }
        pb_cli_trap_signals();
        pb_log("info",
               "msg=\"relay started\" group=%s sink=%s topics=%zu "
               "filters=%zu batch=%zu pipeline=%s",
               r->set.group, r->plugin->name, ntopics,
               pb_filter_count(r->filter), r->batch_max,
               r->async ? r->set.order : "off");
        status = relay_loop(r) ? PB_EXIT_FAIL : PB_EXIT_OK;
done:
        pb_ops_server_destroy(r->ops);
        metrics = r->metrics;
        catalog = r->catalog;
        relay_free(r); /* the serde before the catalog it reads */
        pb_metrics_destroy(metrics);
        pb_schemas_destroy(catalog);
        pb_opts_topics_free(topics, ntopics);
        pb_opts_compose_spec_free(&relay_spec);
        return status;
}

/* --- fleet workers (pb_relay_int.h) --- */

void pb_relay_declare_metrics(pb_metrics_t *m) {
        declare_metrics(m);
}

void pb_relay_subconf_free(pb_relay_subconf_t *c) {
        size_t i;
        if (!c)
                return;
        for (i = 0; i < c->ntypes; i++) {
                free(c->types[i]);
                pb_filter_destroy(c->filters[i]);
        }
        pb_projection_destroy(c->proj);
        if (c->plugin && c->sink)
                c->plugin->destroy(c->sink);
        free(c->sink_settings);
        pb_json_parser_destroy(c->sink_jp);
        free(c);
}

relay_t *pb_relay_worker_new(const pb_relay_worker_spec_t *spec,
                             pb_relay_subconf_t *conf, pb_relay_link_t *link,
                             char *err, size_t errsz) {
        relay_t *r = calloc(1, sizeof(*r));
        relay_build_t b = {spec->topics, spec->ntopics, spec->props,
                           spec->nprops, 1};
        if (!r) {
                pb_relay_subconf_free(conf);
                snprintf(err, errsz, "out of memory");
                return NULL;
        }
        r->link = link;
        r->conf = conf;
        r->cc = *spec->cc;
        r->plugin = conf->plugin;
        r->sink = conf->sink;
        r->first_topic = spec->topics[0];
        r->set.group = spec->group;
        r->set.dlq_suffix = spec->dlq_suffix;
        r->set.retry_initial = spec->retry_initial;
        r->set.retry_max_backoff = spec->retry_max_backoff;
        r->set.retry_max_time = conf->retry_max_time;
        r->set.batch_linger = spec->batch_linger;
        r->set.commit_interval = spec->commit_interval;
        r->set.order = "key";
        r->set.max_pending = spec->max_pending;
        r->set.max_pending_bytes = spec->max_pending_bytes;
        r->metrics = spec->metrics;
        r->catalog = (pb_schemas_t *)spec->catalog; /* not owned */
        r->batch_max = conf->batch_max;
        if (relay_build(r, &b, err, errsz)) {
                relay_free(r);
                return NULL;
        }
        pb_log("info", "group=%s msg=\"subscription started\" pipeline=%s",
               r->set.group, r->async ? r->set.order : "off");
        return r;
}

int pb_relay_worker_run(relay_t *r) {
        return relay_loop(r);
}

void pb_relay_worker_destroy(relay_t *r) {
        relay_free(r);
}
