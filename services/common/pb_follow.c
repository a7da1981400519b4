/* partnerbus - following Kafka topics as state (pb_follow.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "partnerbus/pb_util.h"
#include "pb_cli.h"
#include "pb_follow.h"

#define PB_FOLLOW_MAX_TOPICS 8
#define PB_FOLLOW_MAX_PARTS  1024

struct pb_follow {
        char who[32];
        char *names[PB_FOLLOW_MAX_TOPICS];
        int compact[PB_FOLLOW_MAX_TOPICS];
        size_t n;
        pb_follow_apply_t *apply;
        void *opaque;
        pb_kafka_conf_t cc;
        pb_consumer_t *consumer;
        pthread_t thr;
        int thr_started;
        atomic_int stop, ready, loading;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        /* [topic][partition]: next offset to read, end offset at start */
        int64_t *next[PB_FOLLOW_MAX_TOPICS], *end[PB_FOLLOW_MAX_TOPICS];
        int32_t nparts[PB_FOLLOW_MAX_TOPICS];
};

static int topic_index(pb_follow_t *f, const char *name) {
        size_t i;
        for (i = 0; name && i < f->n; i++)
                if (!strcmp(f->names[i], name))
                        return (int)i;
        return -1;
}

static int ensure_topics(pb_follow_t *f, char *errstr, size_t errstr_size) {
        static const char *const compact[] = {"cleanup.policy", "compact",
                                              NULL};
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        size_t i;
        if (rd_kafka_conf_set(conf, "bootstrap.servers", f->cc.brokers, errstr,
                              errstr_size) != RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        for (i = 0; i < f->cc.nprops; i++) {
                char kv[512], *eq;
                snprintf(kv, sizeof(kv), "%s", f->cc.props[i]);
                eq = strchr(kv, '=');
                if (!eq)
                        continue;
                *eq = 0;
                /* consumer-only properties are ignored here */
                if (!strcmp(kv, "fetch.wait.max.ms") ||
                    !strcmp(kv, "allow.auto.create.topics"))
                        continue;
                rd_kafka_conf_set(conf, kv, eq + 1, NULL, 0);
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        for (i = 0; i < f->n; i++) {
                pb_topic_spec_t spec;
                char err[512];
                pb_topic_res_t tr;
                memset(&spec, 0, sizeof(spec));
                spec.name = f->names[i];
                spec.partitions = -1;
                spec.replication = -1;
                spec.config = f->compact[i] ? compact : NULL;
                spec.timeout_ms = 5000;
                tr = pb_kafka_topic_ensure(rk, &spec, err, sizeof(err));
                if (tr != PB_TOPIC_CREATED && tr != PB_TOPIC_EXISTS)
                        pb_log("warn",
                               "cmd=%s topic=%s msg=\"topic not created: %s; "
                               "relying on automatic creation\"",
                               f->who, f->names[i], err);
                if (tr == PB_TOPIC_NO_ANSWER) {
                        /* e.g. the embedded development broker, which
                         * never answers CreateTopics: do not wait for it
                         * once per topic */
                        pb_log("warn",
                               "cmd=%s msg=\"no answer to CreateTopics: the "
                               "other state topics are left to automatic "
                               "creation too\"",
                               f->who);
                        break;
                }
        }
        rd_kafka_destroy(rk);
        return 0;
}

static int load_offsets(pb_follow_t *f) {
        pb_kafka_offsets_t *offs = NULL;
        char errstr[512];
        size_t i;
        int64_t warned = 0;
        if (ensure_topics(f, errstr, sizeof(errstr)) < 0)
                pb_log("warn", "cmd=%s msg=\"cannot create topics: %s\"",
                       f->who, errstr);
        while (!f->consumer && !atomic_load(&f->stop)) {
                pb_consumer_opts_t co;
                memset(&co, 0, sizeof(co));
                co.from_beginning = 1;
                f->consumer =
                    pb_consumer_new(&f->cc, &co, (const char *const *)f->names,
                                    f->n, errstr, sizeof(errstr));
                if (!f->consumer)
                        usleep(500 * 1000);
        }
        while (!atomic_load(&f->stop)) {
                offs = pb_kafka_offsets_new(pb_consumer_rk(f->consumer),
                                            (const char *const *)f->names, f->n,
                                            2000, errstr, sizeof(errstr));
                if (offs)
                        break;
                if (pb_mono_ms() - warned > 30000) {
                        warned = pb_mono_ms();
                        pb_log("warn",
                               "cmd=%s msg=\"state topics not readable yet\" "
                               "error=\"%s\"",
                               f->who, errstr);
                }
                usleep(250 * 1000);
        }
        if (!offs)
                return -1;
        pthread_mutex_lock(&f->lock);
        for (i = 0; i < offs->n; i++) {
                int t = topic_index(f, offs->p[i].topic);
                int32_t p = offs->p[i].partition;
                if (t < 0 || p < 0 || p >= PB_FOLLOW_MAX_PARTS)
                        continue;
                if (p + 1 > f->nparts[t]) {
                        int64_t *nn = realloc(f->next[t], (size_t)(p + 1) *
                                                              sizeof(int64_t));
                        int64_t *ne =
                            nn ? realloc(f->end[t],
                                         (size_t)(p + 1) * sizeof(int64_t))
                               : NULL;
                        if (nn)
                                f->next[t] = nn;
                        if (!nn || !ne)
                                continue;
                        f->end[t] = ne;
                        while (f->nparts[t] < p + 1) {
                                f->next[t][f->nparts[t]] = 0;
                                f->end[t][f->nparts[t]] = 0;
                                f->nparts[t]++;
                        }
                }
                f->next[t][p] = offs->p[i].low;
                f->end[t][p] = offs->p[i].high;
        }
        pthread_mutex_unlock(&f->lock);
        pb_kafka_offsets_destroy(offs);
        return 0;
}

static int caught_up(pb_follow_t *f) {
        size_t t;
        int32_t p;
        for (t = 0; t < f->n; t++)
                for (p = 0; p < f->nparts[t]; p++)
                        if (f->next[t][p] < f->end[t][p])
                                return 0;
        return 1;
}

static void advance(pb_follow_t *f, int t, int32_t p, int64_t next) {
        pthread_mutex_lock(&f->lock);
        if (t >= 0 && p >= 0 && p < f->nparts[t] && next > f->next[t][p])
                f->next[t][p] = next;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
}

static void *follow_main(void *arg) {
        pb_follow_t *f = arg;
        char err[512];
        if (load_offsets(f))
                return NULL;
        atomic_store(&f->loading, 0);
        while (!atomic_load(&f->stop)) {
                pb_message_t msg;
                pb_resp_t r =
                    pb_consumer_poll(f->consumer, &msg, 100, err, sizeof(err));
                if (r == PB_OK) {
                        int t = topic_index(f, msg.topic);
                        if (t >= 0)
                                f->apply(f->opaque, (size_t)t, msg.key,
                                         msg.key_len, msg.value, msg.len,
                                         msg.timestamp_ms);
                        advance(f, t, msg.partition, msg.offset + 1);
                        pb_message_release(&msg);
                        continue;
                }
                if (r == PB_ERR_KAFKA) {
                        pb_log("warn", "cmd=%s msg=\"state topics: %s\"",
                               f->who, err);
                        continue;
                }
                /* idle: positions past gaps left by compaction */
                {
                        rd_kafka_t *rk = pb_consumer_rk(f->consumer);
                        rd_kafka_topic_partition_list_t *l =
                            rd_kafka_topic_partition_list_new(8);
                        size_t t;
                        int32_t p;
                        int i;
                        for (t = 0; t < f->n; t++)
                                for (p = 0; p < f->nparts[t]; p++)
                                        rd_kafka_topic_partition_list_add(
                                            l, f->names[t], p);
                        if (rd_kafka_position(rk, l) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR)
                                for (i = 0; i < l->cnt; i++)
                                        if (l->elems[i].offset >= 0)
                                                advance(
                                                    f,
                                                    topic_index(
                                                        f, l->elems[i].topic),
                                                    l->elems[i].partition,
                                                    l->elems[i].offset);
                        rd_kafka_topic_partition_list_destroy(l);
                }
                if (!atomic_load(&f->ready)) {
                        int ok;
                        pthread_mutex_lock(&f->lock);
                        ok = caught_up(f);
                        pthread_mutex_unlock(&f->lock);
                        if (ok) {
                                atomic_store(&f->ready, 1);
                                pb_log("info",
                                       "cmd=%s msg=\"state topics loaded\"",
                                       f->who);
                        }
                }
        }
        return NULL;
}

void pb_follow_nap(pthread_cond_t *cond, pthread_mutex_t *lock) {
        pb_cond_wait_ms(cond, lock, 20);
}

const char *const pb_follow_consumer_defaults[2] = {
    "fetch.wait.max.ms=20", "allow.auto.create.topics=true"};

pb_follow_t *pb_follow_new(const char *who, const pb_kafka_conf_t *conf,
                           const pb_follow_topic_t *topics, size_t ntopics,
                           pb_follow_apply_t *apply, void *opaque, char *errstr,
                           size_t errstr_size) {
        pb_follow_t *f;
        size_t i;
        if (ntopics == 0 || ntopics > PB_FOLLOW_MAX_TOPICS) {
                snprintf(errstr, errstr_size, "bad number of state topics");
                return NULL;
        }
        f = calloc(1, sizeof(*f));
        if (!f) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        snprintf(f->who, sizeof(f->who), "%s", who);
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->cond, NULL);
        f->apply = apply;
        f->opaque = opaque;
        for (i = 0; i < ntopics; i++) {
                f->names[i] = strdup(topics[i].name);
                f->compact[i] = topics[i].compact;
                f->n++;
                if (!f->names[i]) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto fail;
                }
        }
        pb_kafka_conf_layer(&f->cc, conf, pb_follow_consumer_defaults, 2, NULL);
        atomic_store(&f->loading, 1);
        if (pthread_create(&f->thr, NULL, follow_main, f) != 0) {
                snprintf(errstr, errstr_size, "cannot start a thread");
                goto fail;
        }
        f->thr_started = 1;
        return f;
fail:
        pb_follow_destroy(f);
        return NULL;
}

void pb_follow_destroy(pb_follow_t *f) {
        size_t i;
        if (!f)
                return;
        atomic_store(&f->stop, 1);
        if (f->thr_started && atomic_load(&f->loading)) {
                /* still inside a blocking metadata call (Kafka away): the
                 * thread ends with the process */
                pthread_detach(f->thr);
                return;
        }
        if (f->thr_started)
                pthread_join(f->thr, NULL);
        pb_consumer_destroy(f->consumer);
        for (i = 0; i < f->n; i++) {
                free(f->names[i]);
                free(f->next[i]);
                free(f->end[i]);
        }
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cond);
        free(f);
}

int pb_follow_ready(pb_follow_t *f) {
        return f && atomic_load(&f->ready);
}

int pb_follow_wait(pb_follow_t *f, size_t t, int32_t partition, int64_t offset,
                   int64_t deadline_ms) {
        int ok = 0;
        if (!f || t >= f->n)
                return -1;
        pthread_mutex_lock(&f->lock);
        for (;;) {
                if (partition >= 0 && partition < f->nparts[t] &&
                    f->next[t][partition] > offset) {
                        ok = 1;
                        break;
                }
                if (atomic_load(&f->stop) || pb_mono_ms() >= deadline_ms)
                        break;
                pb_follow_nap(&f->cond, &f->lock);
        }
        pthread_mutex_unlock(&f->lock);
        return ok ? 0 : -1;
}
