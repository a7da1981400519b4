/* partnerbus services - entity ownership, kept in a compacted Kafka topic
 * (the gateway and poll).
 *
 * The organisation that first publishes a grant, shipment or partnership
 * owns it; the gateway refuses another organisation's event about it
 * (409 not_owner), poll makes such a record a dead letter. The state is the
 * topic --owners-topic (default partnerbus.owners, after --topic-prefix),
 * cleanup.policy=compact: key "TYPE/ENTITY-ID" (the event's Kafka key), value
 * the owner organisation.
 *
 * Every gateway (and poller) reads it from the beginning at start (/readyz says
 * not ready until it reached the end offsets taken at start) and follows it
 * into a bounded map (pb_ownmap.c) on its own thread.
 *
 * Rule: the first claim for a key in its partition wins. Readers keep the
 * first claim they read per key and ignore later different ones. An
 * entity nobody owns is claimed by producing ORG under its key (acks=all,
 * waiting for the delivery report), then waiting until this gateway's
 * consumer has read past that claim's offset: if the map then names org,
 * the claim won; if it names another organisation, a claim before ours
 * (another gateway, same moment) won and the event gets 409. Every
 * gateway decides the same, because all read the same partition in the
 * same order.
 *
 * Compaction keeps the latest value per key, which after such a race may
 * be the losing claim: a reader that sees a later conflicting claim marks
 * the key and, once caught up, produces the first owner again, so the
 * latest value is the winner's again (min.compaction.lag.ms on the topic
 * gives that an hour before the first claim may be compacted away).
 * Tombstones and malformed values are ignored.
 *
 * Claims wait in one of two ways, only for entities not seen before and
 * bounded by the caller's deadline. pb_owners_check and _check_many wait
 * on the caller's thread (poll: its main loop). pb_owners_claim_async
 * (the gateway) does not wait: it produces the claims and returns; the
 * delivery reports (served by the reporter thread) put each group of
 * claims on a per-partition list of offsets to read past, and the
 * ownership consumer, as it reads, finishes every group whose claims it
 * passed and calls its callback (the gateway then resumes the request).
 * So concurrent requests share the claim producer's batches (linger.ms)
 * and one read-back, and no HTTP thread waits for Kafka. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "pb_cli.h"
#include "pb_follow.h"
#include "pb_owners.h"

static const pb_entity_type_t entity_types[] = {
    {"funds.granted", "/grant_id", "granted_on"},
    {"aid.dispatched", "/shipment_id", "dispatched_on"},
    {"partnership.founded", "/partnership_id", "founded_on"},
};

const pb_entity_type_t *pb_owners_entity(const char *type) {
        size_t i;
        for (i = 0; i < sizeof(entity_types) / sizeof(entity_types[0]); i++)
                if (!strcmp(entity_types[i].type, type))
                        return &entity_types[i];
        return NULL;
}

const char *pb_owners_pointer(const char *type) {
        const pb_entity_type_t *e = pb_owners_entity(type);
        return e ? e->pointer : NULL;
}

struct pb_owners {
        char topic[256];
        char cmd[32];
        atomic_ullong claims, refusals, unavailable;
        pb_ownmap_t *map;
        pb_producer_t *producer;
        pb_consumer_t *consumer; /* made by the thread (may block) */
        pb_kafka_conf_t cc;      /* its settings (strings not owned) */
        pthread_t thr;
        int thr_started;
        atomic_int stop;
        atomic_int ready;
        atomic_int loading; /* the thread is in load_offsets() */
        /* per partition: the next offset the consumer will read, and the
         * end offset taken at start (ready once every next >= end) */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int64_t *next, *end;
        int32_t nparts;
        /* claim reports: served by the reporter thread, which wakes
         * threads waiting for them (rcond) */
        pthread_mutex_t rlock;
        pthread_cond_t rcond;
        pthread_t rthr;
        int rthr_started;
        /* asynchronous claims, under lock: every group not finished, and
         * per partition the groups waiting for the consumer to read past
         * an offset, in offset order */
        struct cgroup *groups;
        struct cwait **wq_head, **wq_tail;
        int64_t last_scan;
};

typedef struct cgroup cgroup_t;

typedef struct claim {
        atomic_int done;
        pb_resp_t err;
        int32_t partition;
        int64_t offset;
        char errstr[160];
        cgroup_t *g; /* pb_owners_claim_async: its group; NULL: a thread
                        waits for it (wait_reports) */
} claim_t;

/* A group waiting for partition p to be read past offset. */
typedef struct cwait {
        int64_t offset;
        cgroup_t *g;
        struct cwait *prev, *next;
        int linked;
} cwait_t;

enum { G_REPORTS = 0, G_READING = 1, G_FINISHED = 2 };

/* The claims of one pb_owners_claim_async call. References: the caller's
 * (until it was produced), one per outstanding delivery report and one
 * until it is finished; the last frees. */
struct cgroup {
        pb_owners_t *o;
        pb_owners_item_t *items;
        size_t n;
        claim_t *c;     /* n; c[i].partition -1: no claim for item i */
        char **keys;    /* n; "type/id" of a claimed item, else NULL */
        size_t *klens;  /* n */
        cwait_t *waits; /* nparts */
        int32_t nparts;
        int state;        /* G_*, under o->lock */
        int reports_left; /* under o->lock */
        int waits_left;   /* under o->lock */
        atomic_int refs;
        int64_t deadline_ms;
        char org[PB_OWNERS_ORG_MAX];
        pb_owners_done_t *done;
        void *opaque;
        char why[256];
        cgroup_t *prev, *next; /* o->groups, while not finished */
        cgroup_t *rnext;       /* a list of groups to finish */
};

static void group_report(pb_owners_t *o, cgroup_t *g);

static void claim_cb(void *opaque, void *msg_opaque, pb_resp_t err,
                     const char *errstr, const char *topic, int32_t partition,
                     int64_t offset) {
        claim_t *c = msg_opaque;
        (void)opaque;
        (void)topic;
        if (!c) /* a re-assertion: nobody waits for it */
                return;
        c->err = err;
        c->partition = partition;
        c->offset = offset;
        if (err != PB_OK)
                snprintf(c->errstr, sizeof(c->errstr), "%s",
                         errstr ? errstr : pb_err2str(err));
        else
                c->errstr[0] = 0;
        atomic_store(&c->done, 1);
        if (c->g)
                group_report(c->g->o, c->g);
        /* else a thread waits in wait_reports: woken once per served
         * batch of reports (serve_reports), not once per claim */
}

/* Serves the claim producer's delivery reports (at most timeout_ms for
 * the first) and, if it served any, wakes the threads waiting for them.
 * The wake-up is under rlock after every done flag of the batch was set,
 * and a waiter checks the flags and sleeps under rlock: it cannot miss
 * it. */
static int serve_reports(pb_owners_t *o, int timeout_ms) {
        int served = pb_producer_poll(o->producer, timeout_ms);
        if (served > 0) {
                pthread_mutex_lock(&o->rlock);
                pthread_cond_broadcast(&o->rcond);
                pthread_mutex_unlock(&o->rlock);
        }
        return served;
}

/* The reporter thread: serves the claim producer's delivery reports as
 * they come (rd_kafka_poll returns as soon as it served what was there). */
static void *reporter_main(void *arg) {
        pb_owners_t *o = arg;
        while (!atomic_load(&o->stop))
                serve_reports(o, 100);
        return NULL;
}

/* Waits until claims c[0..n) have their delivery reports (served by the
 * reporter thread; serve_reports wakes us). */
static void wait_reports(pb_owners_t *o, claim_t *c, size_t n) {
        size_t i = 0;
        pthread_mutex_lock(&o->rlock);
        for (;;) {
                while (i < n && atomic_load(&c[i].done))
                        i++;
                if (i == n)
                        break;
                pb_follow_nap(&o->rcond, &o->rlock);
        }
        pthread_mutex_unlock(&o->rlock);
}

/* ------------------------------------------------ asynchronous claims */

/* Under o->lock: queues w for partition p, in offset order (reports come
 * in offset order per partition: nearly always at the tail). */
static void wq_insert(pb_owners_t *o, int32_t p, cwait_t *w) {
        cwait_t *at = o->wq_tail[p];
        while (at && at->offset > w->offset)
                at = at->prev;
        w->prev = at;
        w->next = at ? at->next : o->wq_head[p];
        if (w->next)
                w->next->prev = w;
        else
                o->wq_tail[p] = w;
        if (at)
                at->next = w;
        else
                o->wq_head[p] = w;
        w->linked = 1;
}

static void wq_remove(pb_owners_t *o, int32_t p, cwait_t *w) {
        if (!w->linked)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                o->wq_head[p] = w->next;
        if (w->next)
                w->next->prev = w->prev;
        else
                o->wq_tail[p] = w->prev;
        w->prev = w->next = NULL;
        w->linked = 0;
}

/* Under o->lock: g leaves every list and is finished by the caller after
 * the unlock (group_finish, then the finishing reference goes). */
static void group_unlink(pb_owners_t *o, cgroup_t *g) {
        int32_t p;
        for (p = 0; p < g->nparts; p++)
                wq_remove(o, p, &g->waits[p]);
        if (g->prev)
                g->prev->next = g->next;
        else
                o->groups = g->next;
        if (g->next)
                g->next->prev = g->prev;
        g->prev = g->next = NULL;
        g->state = G_FINISHED;
}

static void group_unref(cgroup_t *g) {
        if (atomic_fetch_sub(&g->refs, 1) != 1)
                return;
        free(g->c);
        free(g->keys);
        free(g->klens);
        free(g->waits);
        free(g);
}

/* Under o->lock, once every report is in: the offset to read past per
 * partition; 1 when the consumer passed them all already. */
static int group_start_reading(pb_owners_t *o, cgroup_t *g) {
        size_t i;
        int32_t p;
        for (p = 0; p < g->nparts; p++)
                g->waits[p].offset = -1;
        for (i = 0; i < g->n; i++) {
                const claim_t *c = &g->c[i];
                if (g->klens[i] && c->err == PB_OK && c->partition >= 0 &&
                    c->partition < g->nparts &&
                    c->offset > g->waits[c->partition].offset)
                        g->waits[c->partition].offset = c->offset;
        }
        g->state = G_READING;
        for (p = 0; p < g->nparts; p++)
                if (g->waits[p].offset >= 0 &&
                    o->next[p] <= g->waits[p].offset) {
                        g->waits[p].g = g;
                        wq_insert(o, p, &g->waits[p]);
                        g->waits_left++;
                }
        return g->waits_left == 0;
}

static void count_items(pb_owners_t *o, const pb_owners_item_t *items,
                        size_t n) {
        size_t i;
        for (i = 0; i < n; i++) {
                if (items[i].res == PB_FOREIGN)
                        atomic_fetch_add(&o->refusals, 1);
                else if (items[i].res == PB_OWN_UNSURE)
                        atomic_fetch_add(&o->unavailable, 1);
        }
}

/* The verdict of every claimed item (the map, as read now), the
 * counters, and with call the caller's callback. */
static void group_finish(pb_owners_t *o, cgroup_t *g, int call) {
        size_t i;
        for (i = 0; i < g->n; i++) {
                pb_owners_item_t *it = &g->items[i];
                claim_t *c = &g->c[i];
                if (!g->klens[i])
                        continue; /* decided before */
                it->res = PB_OWN_UNSURE;
                it->owner[0] = 0;
                if (!atomic_load(&c->done)) {
                        snprintf(g->why, sizeof(g->why),
                                 "ownership claim not acknowledged in time");
                        continue;
                }
                if (c->err != PB_OK) {
                        snprintf(g->why, sizeof(g->why),
                                 "ownership claim not stored: %s",
                                 c->errstr[0] ? c->errstr : pb_err2str(c->err));
                        continue;
                }
                if (pb_ownmap_get(o->map, g->keys[i], g->klens[i], it->owner,
                                  PB_OWNERS_ORG_MAX)) {
                        if (strcmp(it->owner, g->org)) {
                                it->res = PB_FOREIGN; /* a claim before */
                        } else {
                                it->res = PB_OWNED;
                                atomic_fetch_add(&o->claims, 1);
                        }
                } else {
                        it->owner[0] = 0;
                        snprintf(g->why, sizeof(g->why),
                                 "ownership claim stored but not read back "
                                 "in time");
                }
        }
        count_items(o, g->items, g->n);
        if (call)
                g->done(g->opaque, g->items, g->n, g->why);
}

static void finish_list(pb_owners_t *o, cgroup_t *fin) {
        while (fin) {
                cgroup_t *g = fin;
                fin = g->rnext;
                group_finish(o, g, 1);
                group_unref(g);
        }
}

/* Counts one of g's reports; the last one starts the read-back. Returns
 * 1 when that decided the group already (it is unlinked: finish it). */
static int group_count_report(pb_owners_t *o, cgroup_t *g) {
        int fin = 0;
        pthread_mutex_lock(&o->lock);
        if (--g->reports_left == 0 && g->state == G_REPORTS &&
            group_start_reading(o, g)) {
                group_unlink(o, g);
                fin = 1;
        }
        pthread_mutex_unlock(&o->lock);
        return fin;
}

/* A delivery report of one of g's claims (or a claim that could not be
 * produced). The last one starts the read-back. */
static void group_report(pb_owners_t *o, cgroup_t *g) {
        if (group_count_report(o, g)) {
                group_finish(o, g, 1);
                group_unref(g);
        }
        group_unref(g); /* the report's */
}

/* Under o->lock, after next[p] advanced: the groups whose last claim the
 * consumer has now read past go on *fin. */
static void serve_waits(pb_owners_t *o, int32_t p, cgroup_t **fin) {
        cwait_t *w;
        if (!o->wq_head)
                return;
        while ((w = o->wq_head[p]) && w->offset < o->next[p]) {
                cgroup_t *g = w->g;
                wq_remove(o, p, w);
                if (--g->waits_left == 0 && g->state == G_READING) {
                        group_unlink(o, g);
                        g->rnext = *fin;
                        *fin = g;
                }
        }
}

/* Under o->lock: groups past their deadline (every group with all) go on
 * *fin; what was not read back by then is answered unsure. */
static void expire_groups(pb_owners_t *o, int64_t now, int all,
                          cgroup_t **fin) {
        cgroup_t *g, *next;
        for (g = o->groups; g; g = next) {
                next = g->next;
                if (all || g->deadline_ms <= now) {
                        group_unlink(o, g);
                        g->rnext = *fin;
                        *fin = g;
                }
        }
}

static void reassert_one(void *opaque, const char *key, const char *owner) {
        pb_owners_t *o = opaque;
        char err[256];
        pb_log("warn",
               "cmd=%s owners_key=\"%s\" owner=%s msg=\"a later "
               "conflicting claim was read: the first claim is produced "
               "again\"",
               o->cmd, key, owner);
        if (pb_producer_send_raw(o->producer, o->topic, key, strlen(key), owner,
                                 strlen(owner), NULL, NULL, err,
                                 sizeof(err)) != PB_OK)
                pb_log("warn", "cmd=%s msg=\"re-assertion: %s\"", o->cmd, err);
}

static int all_caught_up(pb_owners_t *o) {
        int32_t i;
        for (i = 0; i < o->nparts; i++)
                if (o->next[i] < o->end[i])
                        return 0;
        return 1;
}

/* Creates the topic if it can and learns its partitions and end offsets;
 * retried in the background until Kafka answers, so a gateway starts (and
 * answers 503 for owned types) while Kafka is away. 0, or -1 on stop. */
static int load_offsets(pb_owners_t *o) {
        static const char *const tconf[] = {"cleanup.policy", "compact",
                                            "min.compaction.lag.ms", "3600000",
                                            NULL};
        pb_topic_spec_t spec;
        pb_kafka_offsets_t *offs = NULL;
        const char *topics[1];
        pb_topic_res_t tr;
        char errstr[512];
        int64_t *next, *end;
        cwait_t **wqh, **wqt;
        int32_t nparts = 0;
        size_t i;
        int64_t warned = 0;
        memset(&spec, 0, sizeof(spec));
        spec.name = o->topic;
        spec.partitions = -1;
        spec.replication = -1;
        spec.config = tconf;
        spec.timeout_ms = 10000;
        tr = pb_kafka_topic_ensure(pb_producer_rk(o->producer), &spec, errstr,
                                   sizeof(errstr));
        if (tr != PB_TOPIC_CREATED && tr != PB_TOPIC_EXISTS)
                /* e.g. the embedded development broker, or Kafka away: the
                 * consumer's metadata request creates it (not compacted) */
                pb_log("warn",
                       "cmd=%s topic=%s msg=\"ownership topic not "
                       "created: %s; relying on automatic creation\"",
                       o->cmd, o->topic, errstr);
        topics[0] = o->topic;
        while (!o->consumer && !atomic_load(&o->stop)) {
                pb_consumer_opts_t co;
                memset(&co, 0, sizeof(co));
                co.from_beginning = 1;
                o->consumer = pb_consumer_new(&o->cc, &co, topics, 1, errstr,
                                              sizeof(errstr));
                if (!o->consumer)
                        usleep(500 * 1000);
        }
        while (!atomic_load(&o->stop)) {
                offs = pb_kafka_offsets_new(pb_consumer_rk(o->consumer), topics,
                                            1, 2000, errstr, sizeof(errstr));
                if (offs)
                        break;
                if (pb_mono_ms() - warned > 30000) {
                        warned = pb_mono_ms();
                        pb_log("warn",
                               "cmd=%s topic=%s msg=\"ownership topic "
                               "not readable yet; owned types answer 503 "
                               "until it is\" error=\"%s\"",
                               o->cmd, o->topic, errstr);
                }
                usleep(250 * 1000);
        }
        if (!offs)
                return -1;
        for (i = 0; i < offs->n; i++)
                if (offs->p[i].partition + 1 > nparts)
                        nparts = offs->p[i].partition + 1;
        next = calloc((size_t)nparts + 1, sizeof(*next));
        end = calloc((size_t)nparts + 1, sizeof(*end));
        wqh = calloc((size_t)nparts + 1, sizeof(*wqh));
        wqt = calloc((size_t)nparts + 1, sizeof(*wqt));
        if (!next || !end || !wqh || !wqt) {
                free(next);
                free(end);
                free(wqh);
                free(wqt);
                pb_kafka_offsets_destroy(offs);
                return -1;
        }
        for (i = 0; i < offs->n; i++) {
                next[offs->p[i].partition] = offs->p[i].low;
                end[offs->p[i].partition] = offs->p[i].high;
        }
        pb_kafka_offsets_destroy(offs);
        pthread_mutex_lock(&o->lock);
        o->next = next;
        o->end = end;
        o->wq_head = wqh;
        o->wq_tail = wqt;
        o->nparts = nparts;
        pthread_mutex_unlock(&o->lock);
        return 0;
}

/* Applies one claim read from the topic to the map and notes how far its
 * partition was read (in read[], published by publish_read). */
static void apply_claim(pb_owners_t *o, const pb_message_t *msg,
                        int64_t *read) {
        if (msg->key && msg->value) {
                pb_own_t a = pb_ownmap_apply(o->map, msg->key, msg->key_len,
                                             msg->value, msg->len);
                if (a == PB_OWN_FULL)
                        pb_log("warn",
                               "cmd=%s msg=\"ownership map full "
                               "(--owners-capacity): entity not held; events "
                               "about it are refused as unsure\"",
                               o->cmd);
        }
        if (msg->partition >= 0 && msg->partition < o->nparts &&
            msg->offset + 1 > read[msg->partition])
                read[msg->partition] = msg->offset + 1;
}

/* Once a batch of claims is in the map: every partition's next offset
 * advances to what was read, the groups read past are finished and the
 * threads in read_past are woken - once per batch, not once per claim.
 * Nobody learns an offset as read before its claim is in the map. */
static void publish_read(pb_owners_t *o, int64_t *read) {
        cgroup_t *fin = NULL;
        int32_t p;
        pthread_mutex_lock(&o->lock);
        for (p = 0; p < o->nparts; p++)
                if (read[p] > o->next[p]) {
                        o->next[p] = read[p];
                        serve_waits(o, p, &fin);
                }
        pthread_cond_broadcast(&o->cond);
        pthread_mutex_unlock(&o->lock);
        finish_list(o, fin);
}

/* Claims applied per batch at most (what the consumer has at hand is
 * read without waiting, up to this many, before the offsets are
 * published). */
#define READ_BATCH 4096

static void *owners_main(void *arg) {
        pb_owners_t *o = arg;
        char err[512];
        int64_t *read;
        if (load_offsets(o))
                return NULL;
        atomic_store(&o->loading, 0);
        read = calloc((size_t)o->nparts + 1, sizeof(*read));
        if (!read) {
                pb_log("error", "cmd=%s msg=\"ownership: out of memory\"",
                       o->cmd);
                return NULL;
        }
        while (!atomic_load(&o->stop)) {
                pb_message_t msg;
                cgroup_t *fin = NULL;
                pb_resp_t r =
                    pb_consumer_poll(o->consumer, &msg, 100, err, sizeof(err));
                int64_t now = pb_mono_ms();
                if (now - o->last_scan >= 10) {
                        o->last_scan = now;
                        pthread_mutex_lock(&o->lock);
                        expire_groups(o, now, 0, &fin);
                        pthread_mutex_unlock(&o->lock);
                        finish_list(o, fin);
                        fin = NULL;
                }
                if (r == PB_OK) {
                        int n = 0;
                        pthread_mutex_lock(&o->lock);
                        memcpy(read, o->next,
                               (size_t)o->nparts * sizeof(*read));
                        pthread_mutex_unlock(&o->lock);
                        /* this one and what else is at hand */
                        do {
                                apply_claim(o, &msg, read);
                                pb_message_release(&msg);
                        } while (++n < READ_BATCH &&
                                 (r = pb_consumer_poll(o->consumer, &msg, 0,
                                                       err, sizeof(err))) ==
                                     PB_OK);
                        publish_read(o, read);
                        if (r != PB_ERR_KAFKA)
                                continue;
                }
                if (r == PB_ERR_KAFKA) {
                        pb_log("warn", "cmd=%s msg=\"owners topic: %s\"",
                               o->cmd, err);
                        continue;
                }
                /* nothing more for now: positions past gaps (compaction) */
                {
                        rd_kafka_t *rk = pb_consumer_rk(o->consumer);
                        rd_kafka_topic_partition_list_t *l =
                            rd_kafka_topic_partition_list_new(o->nparts);
                        int32_t i;
                        for (i = 0; i < o->nparts; i++)
                                rd_kafka_topic_partition_list_add(l, o->topic,
                                                                  i);
                        if (rd_kafka_position(rk, l) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR) {
                                pthread_mutex_lock(&o->lock);
                                for (i = 0; i < l->cnt; i++) {
                                        int32_t p = l->elems[i].partition;
                                        if (p >= 0 && p < o->nparts &&
                                            l->elems[i].offset > o->next[p]) {
                                                o->next[p] = l->elems[i].offset;
                                                serve_waits(o, p, &fin);
                                        }
                                }
                                pthread_cond_broadcast(&o->cond);
                                pthread_mutex_unlock(&o->lock);
                                finish_list(o, fin);
                        }
                        rd_kafka_topic_partition_list_destroy(l);
                }
                if (!atomic_load(&o->ready)) {
                        int ok;
                        pthread_mutex_lock(&o->lock);
                        ok = all_caught_up(o);
                        pthread_mutex_unlock(&o->lock);
                        if (ok) {
                                atomic_store(&o->ready, 1);
                                pb_log("info",
                                       "cmd=%s msg=\"ownership loaded\" "
                                       "topic=%s entities=%zu",
                                       o->cmd, o->topic,
                                       pb_ownmap_count(o->map));
                        }
                }
                if (atomic_load(&o->ready))
                        pb_ownmap_reassert(o->map, reassert_one, o);
        }
        free(read);
        return NULL;
}

pb_owners_t *pb_owners_new_self(const pb_kafka_conf_t *conf, const char *topic,
                                size_t capacity, const char *cmd,
                                const char *self, char *errstr,
                                size_t errstr_size) {
        /* a claim's caller waits for its report: bounded; the claims of
         * concurrent callers share a produce request (1 ms linger) */
        static const char *const pdefaults[] = {"linger.ms=1",
                                                "message.timeout.ms=10000"};
        pb_owners_t *o = calloc(1, sizeof(*o));
        pb_kafka_conf_t pc, cc;
        if (!o) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&o->lock, NULL);
        pthread_cond_init(&o->cond, NULL);
        pthread_mutex_init(&o->rlock, NULL);
        pthread_cond_init(&o->rcond, NULL);
        snprintf(o->cmd, sizeof(o->cmd), "%s", cmd ? cmd : "owners");
        pb_kafka_topic(conf, topic, o->topic, sizeof(o->topic));
        o->map =
            self ? pb_ownmap_new_self(capacity, self) : pb_ownmap_new(capacity);
        if (!o->map) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        /* claims: our settings first, -X after them */
        /* claims are never transactional (poll's -X transactional.id
         * belongs to its event producer) */
        pb_kafka_conf_layer(&pc, conf, pdefaults, 2, "transactional.id=");
        o->producer = pb_producer_new(&pc, claim_cb, o, errstr, errstr_size);
        if (!o->producer)
                goto fail;
        pb_kafka_conf_layer(&cc, conf, pb_follow_consumer_defaults, 2, NULL);
        o->cc = cc; /* the consumer is made by the thread: its assignment
                       asks Kafka for metadata, which blocks while Kafka is
                       away, and the gateway must start all the same */
        atomic_store(&o->loading, 1);
        if (pthread_create(&o->thr, NULL, owners_main, o) != 0) {
                snprintf(errstr, errstr_size, "cannot start a thread");
                goto fail;
        }
        o->thr_started = 1;
        if (pthread_create(&o->rthr, NULL, reporter_main, o) != 0) {
                snprintf(errstr, errstr_size, "cannot start a thread");
                goto fail;
        }
        o->rthr_started = 1;
        return o;
fail:
        pb_owners_destroy(o);
        return NULL;
}

pb_owners_t *pb_owners_new(const pb_kafka_conf_t *conf, const char *topic,
                           size_t capacity, const char *cmd, char *errstr,
                           size_t errstr_size) {
        return pb_owners_new_self(conf, topic, capacity, cmd, NULL, errstr,
                                  errstr_size);
}

pb_ownmap_t *pb_owners_map(pb_owners_t *o) {
        return o ? o->map : NULL;
}

void pb_owners_destroy(pb_owners_t *o) {
        if (!o)
                return;
        atomic_store(&o->stop, 1);
        if (o->rthr_started)
                pthread_join(o->rthr, NULL);
        if (o->thr_started && atomic_load(&o->loading)) {
                /* Kafka never answered: the thread is inside a blocking
                 * metadata call that may last tens of seconds. Shutdown
                 * does not wait for it; the thread ends with the process,
                 * and what it uses is not freed. */
                pthread_detach(o->thr);
                return;
        }
        if (o->thr_started)
                pthread_join(o->thr, NULL);
        {
                /* groups still waiting are answered now (what was read
                 * back decides, the rest is unsure); reports still due
                 * come during the producer's flush */
                cgroup_t *fin = NULL;
                pthread_mutex_lock(&o->lock);
                expire_groups(o, 0, 1, &fin);
                pthread_mutex_unlock(&o->lock);
                finish_list(o, fin);
        }
        pb_consumer_destroy(o->consumer);
        pb_producer_destroy(o->producer);
        pb_ownmap_destroy(o->map);
        free(o->next);
        free(o->end);
        free(o->wq_head);
        free(o->wq_tail);
        pthread_mutex_destroy(&o->lock);
        pthread_cond_destroy(&o->cond);
        pthread_mutex_destroy(&o->rlock);
        pthread_cond_destroy(&o->rcond);
        free(o);
}

int pb_owners_ready(pb_owners_t *o) {
        return o && atomic_load(&o->ready);
}

size_t pb_owners_count(pb_owners_t *o) {
        return o ? pb_ownmap_count(o->map) : 0;
}

/* With o->lock held: waits until the thread has read partition past
 * offset, at most until deadline_ms (or the stop). */
static void read_past(pb_owners_t *o, int32_t partition, int64_t offset,
                      int64_t deadline_ms) {
        while (o->next[partition] <= offset && !atomic_load(&o->stop) &&
               pb_mono_ms() < deadline_ms)
                pb_follow_nap(&o->cond, &o->lock);
}

/* "TYPE/ENTITY-ID", the claim's Kafka key and the map's key, into k
 * (NUL-terminated; the whole id, an embedded NUL included, as the claims
 * of pb_owners_claim_async). Its length, or -1 when it does not fit. */
static int entity_key(char *k, size_t size, const char *type, const char *key,
                      size_t klen) {
        size_t tl = strlen(type);
        if (tl + 1 + klen >= size)
                return -1;
        memcpy(k, type, tl);
        k[tl] = '/';
        memcpy(k + tl + 1, key, klen);
        k[tl + 1 + klen] = 0;
        return (int)(tl + 1 + klen);
}

/* A request right after the start waits (until deadline_ms) for the
 * table's load; 0 with why if it is still being loaded. */
static int wait_loaded(pb_owners_t *o, int64_t deadline_ms, char *why,
                       size_t why_size) {
        while (!atomic_load(&o->ready) && pb_mono_ms() < deadline_ms)
                usleep(20 * 1000);
        if (atomic_load(&o->ready))
                return 1;
        snprintf(why, why_size, "the ownership table is still being loaded");
        return 0;
}

static pb_own_check_t check(pb_owners_t *o, const char *type, const char *key,
                            size_t klen, const char *org, int claim,
                            int64_t deadline_ms, char *owner, char *why,
                            size_t why_size) {
        char k[512];
        int n;
        claim_t c;
        char err[256];
        owner[0] = 0;
        if (!pb_owners_pointer(type))
                return PB_OWNED;
        if (!wait_loaded(o, deadline_ms, why, why_size))
                return PB_OWN_UNSURE;
        n = entity_key(k, sizeof(k), type, key, klen);
        if (n < 0) {
                snprintf(why, why_size, "entity id too long");
                return PB_OWN_UNSURE;
        }
        if (pb_ownmap_get(o->map, k, (size_t)n, owner, PB_OWNERS_ORG_MAX))
                return strcmp(owner, org) ? PB_FOREIGN : PB_OWNED;
        if (pb_ownmap_dropped(o->map) > 0) {
                /* an entity not held may be owned by anyone */
                snprintf(why, why_size,
                         "the ownership table is full (--owners-capacity)");
                return PB_OWN_UNSURE;
        }
        if (!claim)
                return PB_OWNED;
        /* claim it, then read the partition past the claim */
        memset(&c, 0, sizeof(c));
        if (pb_producer_send_raw(o->producer, o->topic, k, (size_t)n, org,
                                 strlen(org), NULL, &c, err,
                                 sizeof(err)) != PB_OK) {
                snprintf(why, why_size, "ownership claim: %s", err);
                return PB_OWN_UNSURE;
        }
        wait_reports(o, &c, 1);
        /* the report always comes (message.timeout.ms); the deadline
         * decides how long the answer waits for the read-back */
        if (c.err != PB_OK) {
                snprintf(why, why_size, "ownership claim not stored: %s",
                         c.errstr);
                return PB_OWN_UNSURE;
        }
        pthread_mutex_lock(&o->lock);
        if (c.partition >= 0 && c.partition < o->nparts)
                read_past(o, c.partition, c.offset, deadline_ms);
        pthread_mutex_unlock(&o->lock);
        if (pb_ownmap_get(o->map, k, (size_t)n, owner, PB_OWNERS_ORG_MAX)) {
                if (strcmp(owner, org))
                        return PB_FOREIGN; /* an earlier claim won */
                atomic_fetch_add(&o->claims, 1);
                return PB_OWNED;
        }
        snprintf(why, why_size,
                 "ownership claim stored but not read back in time");
        return PB_OWN_UNSURE;
}

pb_own_check_t pb_owners_check(pb_owners_t *o, const char *type,
                               const char *key, size_t klen, const char *org,
                               int claim, int64_t deadline_ms, char *owner,
                               char *why, size_t why_size) {
        pb_own_check_t r = check(o, type, key, klen, org, claim, deadline_ms,
                                 owner, why, why_size);
        if (r == PB_FOREIGN)
                atomic_fetch_add(&o->refusals, 1);
        else if (r == PB_OWN_UNSURE)
                atomic_fetch_add(&o->unavailable, 1);
        return r;
}

int pb_owners_lookup(pb_owners_t *o, const char *type, const char *key,
                     size_t klen, char *owner) {
        char k[512];
        int n;
        owner[0] = 0;
        if (!pb_owners_pointer(type))
                return 0;
        if (!atomic_load(&o->ready))
                return -1;
        n = entity_key(k, sizeof(k), type, key, klen);
        if (n < 0)
                return -1;
        if (pb_ownmap_get(o->map, k, (size_t)n, owner, PB_OWNERS_ORG_MAX))
                return 1;
        return pb_ownmap_dropped(o->map) > 0 ? -1 : 0;
}

void pb_owners_check_many(pb_owners_t *o, const char *type,
                          pb_owners_item_t *items, size_t n, const char *org,
                          int64_t deadline_ms, char *why, size_t why_size) {
        claim_t *c = calloc(n ? n : 1, sizeof(*c));
        int64_t *want = NULL;
        char k[512], err[256];
        size_t i;
        int32_t pi;
        why[0] = 0;
        for (i = 0; i < n; i++)
                items[i].res = PB_OWN_UNSURE;
        if (!c) {
                snprintf(why, why_size, "out of memory");
                goto count;
        }
        if (!wait_loaded(o, deadline_ms, why, why_size))
                goto count;
        /* look up, and produce a claim for each entity nobody owns */
        for (i = 0; i < n; i++) {
                pb_owners_item_t *it = &items[i];
                int r = pb_owners_lookup(o, type, it->key, it->klen, it->owner);
                int kl;
                c[i].partition = -1;
                atomic_store(&c[i].done, 1);
                if (r > 0) {
                        it->res =
                            strcmp(it->owner, org) ? PB_FOREIGN : PB_OWNED;
                        continue;
                }
                if (r < 0 || !pb_owners_pointer(type)) {
                        if (!pb_owners_pointer(type))
                                it->res = PB_OWNED;
                        else
                                snprintf(why, why_size,
                                         "the ownership table is full "
                                         "(--owners-capacity)");
                        continue;
                }
                kl = entity_key(k, sizeof(k), type, it->key, it->klen);
                if (kl < 0)
                        continue;
                atomic_store(&c[i].done, 0);
                for (;;) {
                        pb_resp_t rc = pb_producer_send_raw(
                            o->producer, o->topic, k, (size_t)kl, org,
                            strlen(org), NULL, &c[i], err, sizeof(err));
                        if (rc == PB_OK)
                                break;
                        if (rc != PB_ERR_QUEUE_FULL) {
                                snprintf(why, why_size, "ownership claim: %s",
                                         err);
                                atomic_store(&c[i].done, 1);
                                c[i].err = rc;
                                break;
                        }
                        serve_reports(o, 10);
                }
        }
        /* every report (they always come: message.timeout.ms) */
        wait_reports(o, c, n);
        /* read back past the last claim of each partition */
        pthread_mutex_lock(&o->lock);
        want = calloc((size_t)o->nparts + 1, sizeof(*want));
        if (want) {
                for (pi = 0; pi < o->nparts; pi++)
                        want[pi] = -1;
                for (i = 0; i < n; i++)
                        if (c[i].partition >= 0 && c[i].partition < o->nparts &&
                            c[i].err == PB_OK &&
                            c[i].offset > want[c[i].partition])
                                want[c[i].partition] = c[i].offset;
                for (pi = 0; pi < o->nparts; pi++)
                        if (want[pi] >= 0)
                                read_past(o, pi, want[pi], deadline_ms);
        }
        pthread_mutex_unlock(&o->lock);
        free(want);
        for (i = 0; i < n; i++) {
                pb_owners_item_t *it = &items[i];
                if (c[i].partition < 0 && c[i].err == PB_OK)
                        continue; /* decided above */
                if (c[i].err != PB_OK) {
                        snprintf(why, why_size,
                                 "ownership claim not stored: %s",
                                 c[i].errstr[0] ? c[i].errstr
                                                : pb_err2str(c[i].err));
                        continue;
                }
                if (pb_owners_lookup(o, type, it->key, it->klen, it->owner) >
                    0) {
                        if (strcmp(it->owner, org)) {
                                it->res = PB_FOREIGN; /* a claim before */
                        } else {
                                it->res = PB_OWNED;
                                atomic_fetch_add(&o->claims, 1);
                        }
                } else {
                        snprintf(why, why_size,
                                 "ownership claim stored but not read back "
                                 "in time");
                }
        }
count:
        for (i = 0; i < n; i++) {
                if (items[i].res == PB_FOREIGN)
                        atomic_fetch_add(&o->refusals, 1);
                else if (items[i].res == PB_OWN_UNSURE)
                        atomic_fetch_add(&o->unavailable, 1);
        }
        free(c);
}

/* Why pb_owners_lookup could not tell about type/key (it said -1, once
 * loaded). */
static void lookup_why(pb_owners_t *o, const char *type, size_t klen, char *why,
                       size_t why_size) {
        if (strlen(type) + 1 + klen >= 512)
                snprintf(why, why_size, "entity id too long");
        else if (pb_ownmap_dropped(o->map) > 0)
                snprintf(why, why_size,
                         "the ownership table is full (--owners-capacity)");
        else
                snprintf(why, why_size,
                         "the ownership table is still being loaded");
}

int pb_owners_claim_async(pb_owners_t *o, const char *type,
                          pb_owners_item_t *items, size_t n, const char *org,
                          int64_t deadline_ms, pb_owners_done_t *done,
                          void *opaque, char *why, size_t why_size) {
        size_t i, nclaims = 0, kbytes = 0, at = 0, tl = strlen(type);
        char err[256];
        cgroup_t *g;
        int fin = 0;
        why[0] = 0;
        for (i = 0; i < n; i++) {
                items[i].res = PB_OWN_UNSURE;
                items[i].owner[0] = 0;
        }
        if (!pb_owners_pointer(type)) {
                for (i = 0; i < n; i++)
                        items[i].res = PB_OWNED;
                return 0;
        }
        /* a request right after the start waits for the load */
        while (!atomic_load(&o->ready) && pb_mono_ms() < deadline_ms)
                usleep(20 * 1000);
        if (!atomic_load(&o->ready)) {
                snprintf(why, why_size,
                         "the ownership table is still being loaded");
                count_items(o, items, n);
                return 0;
        }
        /* look up every item; those nobody owns need a claim */
        for (i = 0; i < n; i++) {
                pb_owners_item_t *it = &items[i];
                int r = pb_owners_lookup(o, type, it->key, it->klen, it->owner);
                if (r > 0)
                        it->res =
                            strcmp(it->owner, org) ? PB_FOREIGN : PB_OWNED;
                else if (r < 0)
                        lookup_why(o, type, it->klen, why, why_size);
                else {
                        nclaims++;
                        kbytes += tl + 1 + it->klen + 1;
                }
        }
        if (!nclaims) {
                count_items(o, items, n);
                return 0;
        }
        g = calloc(1, sizeof(*g));
        if (g) {
                g->c = calloc(n, sizeof(*g->c));
                g->klens = calloc(n, sizeof(*g->klens));
                /* the pointers, then the keys they point to */
                g->keys = malloc(n * sizeof(*g->keys) + kbytes);
                g->waits = calloc((size_t)o->nparts + 1, sizeof(*g->waits));
        }
        if (!g || !g->c || !g->klens || !g->keys || !g->waits) {
                if (g) {
                        free(g->c);
                        free(g->klens);
                        free(g->keys);
                        free(g->waits);
                        free(g);
                }
                snprintf(why, why_size, "out of memory");
                count_items(o, items, n);
                return 0;
        }
        g->o = o;
        g->items = items;
        g->n = n;
        g->deadline_ms = deadline_ms;
        g->done = done;
        g->opaque = opaque;
        snprintf(g->org, sizeof(g->org), "%s", org);
        nclaims = 0;
        for (i = 0; i < n; i++) {
                pb_owners_item_t *it = &items[i];
                char *k = (char *)(g->keys + n) + at;
                int r;
                g->keys[i] = NULL;
                g->c[i].partition = -1;
                atomic_store(&g->c[i].done, 1);
                if (it->res != PB_OWN_UNSURE)
                        continue; /* decided by the look-up */
                /* again: known meanwhile, or not held */
                r = pb_owners_lookup(o, type, it->key, it->klen, it->owner);
                if (r > 0) {
                        it->res =
                            strcmp(it->owner, org) ? PB_FOREIGN : PB_OWNED;
                        continue;
                }
                if (r < 0 || at + tl + 1 + it->klen + 1 > kbytes ||
                    entity_key(k, kbytes - at, type, it->key, it->klen) < 0)
                        continue; /* unsure (why set above) */
                g->keys[i] = k;
                g->klens[i] = tl + 1 + it->klen;
                at += tl + 1 + it->klen + 1;
                g->c[i].g = g;
                atomic_store(&g->c[i].done, 0);
                nclaims++;
        }
        /* references: ours, the finishing one, one per report; and one
         * report more (ours, below) so nothing finishes while we produce */
        atomic_store(&g->refs, (int)nclaims + 2);
        g->reports_left = (int)nclaims + 1;
        g->state = G_REPORTS;
        pthread_mutex_lock(&o->lock);
        g->nparts = o->nparts;
        g->next = o->groups;
        if (o->groups)
                o->groups->prev = g;
        o->groups = g;
        pthread_mutex_unlock(&o->lock);
        for (i = 0; i < n; i++) {
                pb_resp_t rc;
                if (!g->klens[i])
                        continue;
                for (;;) {
                        rc = pb_producer_send_raw(
                            o->producer, o->topic, g->keys[i], g->klens[i], org,
                            strlen(org), NULL, &g->c[i], err, sizeof(err));
                        if (rc != PB_ERR_QUEUE_FULL ||
                            pb_mono_ms() >= deadline_ms)
                                break;
                        usleep(2000);
                }
                if (rc != PB_OK) {
                        /* no report will come: as if one said so */
                        g->c[i].err = rc;
                        snprintf(g->c[i].errstr, sizeof(g->c[i].errstr), "%s",
                                 err);
                        atomic_store(&g->c[i].done, 1);
                        group_report(o, g);
                }
        }
        /* our report: the read-back may start (or be over already) */
        fin = group_count_report(o, g);
        if (fin) {
                /* decided here: no callback */
                group_finish(o, g, 0);
                snprintf(why, why_size, "%s", g->why);
                group_unref(g);
        }
        group_unref(g); /* ours */
        return fin ? 0 : 1;
}

/* Loaded, and no partition's high watermark (as the consumer last heard
 * it from Kafka, no request made) is past what it has read. */
static int caught_up(pb_owners_t *o) {
        rd_kafka_t *rk;
        int32_t i;
        int ok = 1;
        if (!atomic_load(&o->ready) || !o->consumer)
                return 0;
        rk = pb_consumer_rk(o->consumer);
        pthread_mutex_lock(&o->lock);
        for (i = 0; i < o->nparts && ok; i++) {
                int64_t lo = -1, hi = -1;
                if (rd_kafka_get_watermark_offsets(rk, o->topic, i, &lo, &hi) ==
                        RD_KAFKA_RESP_ERR_NO_ERROR &&
                    hi >= 0 && o->next[i] < hi)
                        ok = 0;
        }
        pthread_mutex_unlock(&o->lock);
        return ok;
}

void pb_owners_note_refusal(pb_owners_t *o) {
        if (o)
                atomic_fetch_add(&o->refusals, 1);
}

void pb_owners_stats(pb_owners_t *o, pb_owners_stats_t *st) {
        memset(st, 0, sizeof(*st));
        if (!o)
                return;
        st->claims = atomic_load(&o->claims);
        st->refusals = atomic_load(&o->refusals);
        st->unavailable = atomic_load(&o->unavailable);
        st->dropped = pb_ownmap_dropped(o->map);
        st->entries = pb_ownmap_count(o->map);
        st->caught_up = caught_up(o);
}
