/* partnerbus - Kafka producer, consumer and embedded mock broker on
 * librdkafka.
 *
 * Producer: idempotent (enable.idempotence=true implies acks=all), one
 * delivery report per message through the caller's callback, served from
 * pb_producer_poll/flush on the calling thread.
 *
 * Consumer, two modes:
 *  - with a group: subscribe; enable.auto.commit and
 *    enable.auto.offset.store are off, so the caller stores the offset of a
 *    message once it is handled (pb_consumer_store) and commits
 *    (pb_consumer_commit). On a revocation the stored offsets are committed
 *    before the partitions are given up, so a rebalance does not replay
 *    what was already handled. Newly assigned partitions start unpaused
 *    (librdkafka would keep an earlier pause of the same partition), so
 *    callers pause through pb_consumer_pause, which remembers pauses.
 *  - without a group: every partition of the topics (from metadata) is
 *    assigned by hand, from the beginning or the end. librdkafka's
 *    high-level consumer still needs a group.id to poll, so a private one
 *    ("partnerbus-anon-<uuid>") is set but never joined nor committed.
 *
 * stop_at_end: enable.partition.eof is set and each assigned partition's
 * EOF is tracked; pb_consumer_poll reports the end when every assigned
 * partition reached it (a message arriving after EOF clears the flag).
 * With end_taken_at_start (no group), the end offset of each partition is
 * also taken when it is assigned (ListOffsets, with the consumer's isolation
 * level: the last stable offset under read_committed): the partition has
 * reached its end only once a message at end - 1 was read or an EOF at or past
 * end came. An EOF below it (the end as the fetcher saw it then) does not end
 * the read, so everything acknowledged before the consumer started is read. */
#include "partnerbus/pb_kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "partnerbus/pb_util.h"

/* --- configuration --- */

void pb_kafka_conf_layer(pb_kafka_conf_t *out, const pb_kafka_conf_t *base,
                         const char *const *defaults, size_t ndefaults,
                         const char *skip) {
        size_t i;
        memset(out, 0, sizeof(*out));
        out->brokers = base->brokers;
        for (i = 0; i < ndefaults && out->nprops < PB_KAFKA_MAX_PROPS; i++)
                out->props[out->nprops++] = defaults[i];
        for (i = 0; i < base->nprops && out->nprops < PB_KAFKA_MAX_PROPS; i++)
                if (!skip || strncmp(base->props[i], skip, strlen(skip)))
                        out->props[out->nprops++] = base->props[i];
}

pb_resp_t pb_kafka_conf_add(pb_kafka_conf_t *c, const char *kv) {
        const char *eq;
        if (!c || !kv)
                return PB_ERR_ARG;
        eq = strchr(kv, '=');
        if (!eq || eq == kv || c->nprops >= PB_KAFKA_MAX_PROPS)
                return PB_ERR_ARG;
        c->props[c->nprops++] = kv;
        return PB_OK;
}

const char *pb_kafka_topic(const pb_kafka_conf_t *c, const char *type,
                           char *buf, size_t size) {
        snprintf(buf, size, "%s%s", c && c->topic_prefix ? c->topic_prefix : "",
                 type);
        return buf;
}

static int pb_conf_set(rd_kafka_conf_t *rc, const char *k, const char *v,
                       char *errstr, size_t errstr_size) {
        char why[256];
        if (rd_kafka_conf_set(rc, k, v, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
                snprintf(errstr, errstr_size, "Kafka property %s: %s", k, why);
                return -1;
        }
        return 0;
}

/* Applies defaults[] ("k", "v", ..., NULL), then bootstrap.servers, then
 * the caller's -X properties (which win). Returns NULL with errstr set. */
static rd_kafka_conf_t *pb_conf_build(const pb_kafka_conf_t *conf,
                                      const char *const *defaults, char *errstr,
                                      size_t errstr_size) {
        rd_kafka_conf_t *rc;
        size_t i;
        if (!conf || !conf->brokers || !*conf->brokers) {
                snprintf(errstr, errstr_size, "no Kafka brokers given");
                return NULL;
        }
        rc = rd_kafka_conf_new();
        for (i = 0; defaults && defaults[i]; i += 2)
                if (pb_conf_set(rc, defaults[i], defaults[i + 1], errstr,
                                errstr_size))
                        goto fail;
        if (pb_conf_set(rc, "bootstrap.servers", conf->brokers, errstr,
                        errstr_size))
                goto fail;
        for (i = 0; i < conf->nprops; i++) {
                char key[256];
                const char *kv = conf->props[i], *eq = strchr(kv, '=');
                size_t kl = eq ? (size_t)(eq - kv) : 0;
                if (!eq || kl == 0 || kl >= sizeof(key)) {
                        snprintf(errstr, errstr_size,
                                 "Kafka property '%s': expected key=value", kv);
                        goto fail;
                }
                memcpy(key, kv, kl);
                key[kl] = 0;
                if (pb_conf_set(rc, key, eq + 1, errstr, errstr_size))
                        goto fail;
        }
        return rc;
fail:
        rd_kafka_conf_destroy(rc);
        return NULL;
}

/* librdkafka logs go to stderr prefixed like our own log lines; the core
 * itself prints nothing else. */
static void pb_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                            const char *buf) {
        (void)rk;
        fprintf(stderr, "level=%s component=rdkafka fac=%s msg=\"%s\"\n",
                level <= 3   ? "error"
                : level <= 4 ? "warn"
                             : "info",
                fac, buf);
}

/* --- producer --- */

struct pb_producer {
        rd_kafka_t *rk;
        pb_delivery_cb_t *cb;
        void *opaque;
};

static void pb_dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                         void *opaque) {
        pb_producer_t *p = opaque;
        (void)rk;
        if (!p || !p->cb)
                return;
        /* A failure after the broker may have stored the message (e.g.
         * timed out while in flight) is PB_ERR_UNCERTAIN, so that callers
         * which promise "retry safely" do not forget the event id. */
        p->cb(p->opaque, m->_private,
              !m->err ? PB_OK
              : rd_kafka_message_status(m) ==
                      RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED
                  ? PB_ERR_UNCERTAIN
                  : PB_ERR_KAFKA,
              m->err ? rd_kafka_err2str(m->err) : NULL,
              m->rkt ? rd_kafka_topic_name(m->rkt) : "", m->partition,
              m->offset);
}

pb_producer_t *pb_producer_new(const pb_kafka_conf_t *conf,
                               pb_delivery_cb_t *cb, void *opaque, char *errstr,
                               size_t errstr_size) {
        static const char *const defaults[] = {
            "enable.idempotence", "true",       "acks", "all", "linger.ms", "5",
            "client.id",          "partnerbus", NULL};
        char why[256];
        rd_kafka_conf_t *rc;
        pb_producer_t *p = calloc(1, sizeof(*p));
        if (!p) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        rc = pb_conf_build(conf, defaults, errstr, errstr_size);
        if (!rc) {
                free(p);
                return NULL;
        }
        p->cb = cb;
        p->opaque = opaque;
        rd_kafka_conf_set_dr_msg_cb(rc, pb_dr_msg_cb);
        rd_kafka_conf_set_log_cb(rc, pb_kafka_log_cb);
        rd_kafka_conf_set_opaque(rc, p);
        p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, why, sizeof(why));
        if (!p->rk) {
                snprintf(errstr, errstr_size, "Kafka producer: %s", why);
                rd_kafka_conf_destroy(rc);
                free(p);
                return NULL;
        }
        return p;
}

void pb_producer_destroy(pb_producer_t *p) {
        if (!p)
                return;
        rd_kafka_flush(p->rk, 10000);
        rd_kafka_destroy(p->rk);
        free(p);
}

/* Adds "name","value" pairs (NULL-terminated) to hdrs. */
static void pb_headers_add_pairs(rd_kafka_headers_t *hdrs,
                                 const char *const *pairs) {
        size_t i;
        for (i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
                rd_kafka_header_add(hdrs, pairs[i], -1, pairs[i + 1], -1);
}

static pb_resp_t pb_produce(pb_producer_t *p, const char *topic,
                            const void *key, size_t keylen, const void *value,
                            size_t len, rd_kafka_headers_t *hdrs,
                            void *msg_opaque, char *errstr,
                            size_t errstr_size) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY((void *)key, key ? keylen : 0),
            RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (!err)
                return PB_OK; /* hdrs now owned by the message */
        rd_kafka_headers_destroy(hdrs);
        snprintf(errstr, errstr_size, "produce to %s: %s", topic,
                 rd_kafka_err2str(err));
        return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? PB_ERR_QUEUE_FULL
                                                    : PB_ERR_KAFKA;
}

pb_resp_t pb_producer_send(pb_producer_t *p, const char *topic,
                           const char *ce_type, const pb_event_meta_t *meta,
                           const void *value, size_t len,
                           const char *const *extra_headers, void *msg_opaque,
                           char *errstr, size_t errstr_size) {
        rd_kafka_headers_t *hdrs;
        char ts[40];
        if (!p || !topic || !ce_type || !meta)
                return PB_ERR_ARG;
        hdrs = rd_kafka_headers_new(8);
        rd_kafka_header_add(hdrs, "ce_specversion", -1, "1.0", -1);
        rd_kafka_header_add(hdrs, "ce_id", -1, meta->event_id, -1);
        rd_kafka_header_add(hdrs, "ce_source", -1, meta->source, -1);
        rd_kafka_header_add(hdrs, "ce_type", -1, ce_type, -1);
        pb_rfc3339_format(meta->occurred_at_ms, ts, sizeof(ts));
        rd_kafka_header_add(hdrs, "ce_time", -1, ts, -1);
        rd_kafka_header_add(hdrs, "content-type", -1, "application/avro", -1);
        pb_headers_add_pairs(hdrs, extra_headers);
        return pb_produce(p, topic, meta->key_len ? meta->key : NULL,
                          meta->key_len, value, len, hdrs, msg_opaque, errstr,
                          errstr_size);
}

pb_resp_t pb_producer_send_raw(pb_producer_t *p, const char *topic,
                               const void *key, size_t keylen,
                               const void *value, size_t len,
                               const char *const *headers, void *msg_opaque,
                               char *errstr, size_t errstr_size) {
        rd_kafka_headers_t *hdrs;
        if (!p || !topic)
                return PB_ERR_ARG;
        hdrs = rd_kafka_headers_new(4);
        pb_headers_add_pairs(hdrs, headers);
        return pb_produce(p, topic, key, keylen, value, len, hdrs, msg_opaque,
                          errstr, errstr_size);
}

pb_resp_t pb_producer_warm(pb_producer_t *p, const char *topic,
                           int timeout_ms) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt;
        rd_kafka_resp_err_t err;
        int ok;
        if (!p || !topic)
                return PB_ERR_ARG;
        rkt = rd_kafka_topic_new(p->rk, topic, NULL);
        if (!rkt)
                return PB_ERR_KAFKA;
        err = rd_kafka_metadata(p->rk, 0, rkt, &md, timeout_ms);
        ok = !err && md && md->topic_cnt == 1 && !md->topics[0].err &&
             md->topics[0].partition_cnt > 0;
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return ok ? PB_OK : PB_ERR_KAFKA;
}

int pb_producer_poll(pb_producer_t *p, int timeout_ms) {
        return p ? rd_kafka_poll(p->rk, timeout_ms) : 0;
}

pb_resp_t pb_producer_flush(pb_producer_t *p, int timeout_ms) {
        if (!p)
                return PB_ERR_ARG;
        return rd_kafka_flush(p->rk, timeout_ms) ? PB_ERR_KAFKA : PB_OK;
}

int pb_producer_outq_len(pb_producer_t *p) {
        return p ? rd_kafka_outq_len(p->rk) : 0;
}

void *pb_producer_rk(pb_producer_t *p) {
        return p ? p->rk : NULL;
}

/* --- consumer --- */

/* One partition: assigned (whether it reached its end, and in which
 * assignment it came), or paused. */
typedef struct pb_part {
        char *topic;
        int32_t partition;
        int eof;
        int64_t end;    /* end_taken_at_start: the end offset taken at
                           assignment; -1 unknown */
        uint64_t epoch; /* assign_seq when it was assigned */
} pb_part_t;

/* A set of partitions: the assignment, or what the caller paused. */
typedef struct pb_partset {
        pb_part_t *v;
        size_t n, cap;
} pb_partset_t;

struct pb_consumer {
        rd_kafka_t *rk;
        int grouped;
        int stop_at_end;
        int end_taken_at_start;
        pb_partset_t parts;  /* the current assignment */
        pb_partset_t paused; /* paused through pb_consumer_pause, assigned
                                or not (a pause outlives a revocation) */
        int assigned_once;   /* an assignment (possibly empty) arrived */
        uint64_t assign_seq; /* assignments so far */
        char fatal[512];     /* set by the rebalance callback on failure */
};

static pb_part_t *pb_part_find(pb_partset_t *s, const char *topic,
                               int32_t partition) {
        size_t i;
        for (i = 0; i < s->n; i++)
                if (s->v[i].partition == partition &&
                    !strcmp(s->v[i].topic, topic))
                        return &s->v[i];
        return NULL;
}

/* 0, or -1 out of memory (the partition is then not in the set). A
 * partition new to s gets the epoch; one already in s keeps its own. */
static int pb_part_add(pb_partset_t *s, const char *topic, int32_t partition,
                       uint64_t epoch) {
        if (pb_part_find(s, topic, partition))
                return 0;
        if (PB_ARRAY_RESERVE(s->v, s->cap, s->n, 1, 16))
                return -1;
        s->v[s->n].topic = strdup(topic);
        if (!s->v[s->n].topic)
                return -1;
        s->v[s->n].partition = partition;
        s->v[s->n].eof = 0;
        s->v[s->n].end = -1;
        s->v[s->n].epoch = epoch;
        s->n++;
        return 0;
}

/* 1 if the partition was in the set. */
static int pb_part_del(pb_partset_t *s, const char *topic, int32_t partition) {
        pb_part_t *p = pb_part_find(s, topic, partition);
        if (!p)
                return 0;
        free(p->topic);
        *p = s->v[--s->n];
        return 1;
}

/* Adds l's partitions to s (see pb_part_add). -1 out of memory. */
static int pb_parts_add(pb_partset_t *s,
                        const rd_kafka_topic_partition_list_t *l,
                        uint64_t epoch) {
        int i;
        for (i = 0; l && i < l->cnt; i++)
                if (pb_part_add(s, l->elems[i].topic, l->elems[i].partition,
                                epoch))
                        return -1;
        return 0;
}

static void pb_parts_remove(pb_partset_t *s,
                            const rd_kafka_topic_partition_list_t *l) {
        int i;
        for (i = 0; l && i < l->cnt; i++)
                pb_part_del(s, l->elems[i].topic, l->elems[i].partition);
}

static void pb_parts_clear(pb_partset_t *s) {
        size_t i;
        for (i = 0; i < s->n; i++)
                free(s->v[i].topic);
        s->n = 0;
}

/* Resumes the partitions of l that the caller left paused, before l is
 * assigned. librdkafka keeps a pause across a revocation and a later
 * assignment of the same partition, but the caller forgot the partition
 * when it was revoked (its pause with it): a relay paused for back
 * pressure or a retry, then given the partition back, would never fetch
 * it again. Only paused partitions are resumed, and before the assign:
 * before librdkafka 2.4.0 a resume bumps the partition's op version even
 * when it is not paused, which can outdate the assign's fetch start (or
 * its offset lookup) so that the partition is never fetched
 * (librdkafka #4636). */
static int pb_resume_before_assign(rd_kafka_t *rk, pb_consumer_t *c,
                                   const rd_kafka_topic_partition_list_t *l) {
        rd_kafka_topic_partition_list_t *r;
        int i;
        if (!l || c->paused.n == 0)
                return 0;
        if (!(r = rd_kafka_topic_partition_list_new(l->cnt)))
                return -1; /* nothing taken from the set */
        for (i = 0; i < l->cnt; i++)
                if (pb_part_del(&c->paused, l->elems[i].topic,
                                l->elems[i].partition))
                        rd_kafka_topic_partition_list_add(
                            r, l->elems[i].topic, l->elems[i].partition);
        if (r->cnt)
                rd_kafka_resume_partitions(rk, r);
        rd_kafka_topic_partition_list_destroy(r);
        return 0;
}

static void pb_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts,
                            void *opaque) {
        pb_consumer_t *c = opaque;
        int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        rd_kafka_error_t *e = NULL;
        rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                if (pb_resume_before_assign(rk, c, parts))
                        snprintf(c->fatal, sizeof(c->fatal),
                                 "rebalance: out of memory");
                if (coop)
                        e = rd_kafka_incremental_assign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, parts);
                /* without the whole assignment in the set, EOF and the
                 * assignment numbers would be wrong: fatal */
                if (pb_parts_add(&c->parts, parts, ++c->assign_seq))
                        snprintf(c->fatal, sizeof(c->fatal),
                                 "rebalance: out of memory");
                c->assigned_once = 1;
        } else {
                /* Revoked (or lost): commit what the caller stored for
                 * these partitions before they go to another member.
                 * NO_OFFSET just means nothing was stored. */
                if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS &&
                    !rd_kafka_assignment_lost(rk)) {
                        rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
                        if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
                                fprintf(stderr,
                                        "level=warn component=kafka "
                                        "msg=\"commit on revoke failed: "
                                        "%s\"\n",
                                        rd_kafka_err2str(cerr));
                }
                if (coop)
                        e = rd_kafka_incremental_unassign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, NULL);
                if (coop)
                        pb_parts_remove(&c->parts, parts);
                else
                        pb_parts_clear(&c->parts);
        }
        if (e) {
                snprintf(c->fatal, sizeof(c->fatal), "rebalance: %s",
                         rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
        } else if (aerr) {
                snprintf(c->fatal, sizeof(c->fatal), "rebalance: %s",
                         rd_kafka_err2str(aerr));
        }
}

/* end_taken_at_start: the end offset of every assigned partition
 * (see the top of this file). A partition whose end cannot be had keeps
 * -1 and ends at its first EOF, as with a group. */
static void pb_parts_take_ends(pb_consumer_t *c) {
        size_t i;
        for (i = 0; i < c->parts.n; i++) {
                pb_part_t *p = &c->parts.v[i];
                int64_t lo = -1, hi = -1;
                if (rd_kafka_query_watermark_offsets(
                        c->rk, p->topic, p->partition, &lo, &hi, 10000) ||
                    hi < 0)
                        continue;
                p->end = hi;
                p->eof = hi <= lo; /* nothing to read */
        }
}

/* Without a group: assign every partition of every topic, retrying the
 * metadata request while the topic's leaders are being elected. */
static pb_resp_t pb_consumer_assign_all(pb_consumer_t *c,
                                        const char *const *topics,
                                        size_t ntopics, int64_t start,
                                        char *errstr, size_t errstr_size) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(16);
        rd_kafka_resp_err_t err;
        size_t t;
        for (t = 0; t < ntopics; t++) {
                rd_kafka_topic_t *rkt =
                    rd_kafka_topic_new(c->rk, topics[t], NULL);
                const struct rd_kafka_metadata *md = NULL;
                int attempt, i, done = 0;
                for (attempt = 0; attempt < 20 && !done; attempt++) {
                        err = rd_kafka_metadata(c->rk, 0, rkt, &md, 5000);
                        if (err) {
                                snprintf(errstr, errstr_size,
                                         "metadata for topic %s: %s", topics[t],
                                         rd_kafka_err2str(err));
                        } else if (md->topic_cnt != 1 || md->topics[0].err) {
                                snprintf(errstr, errstr_size, "topic %s: %s",
                                         topics[t],
                                         md->topic_cnt ? rd_kafka_err2str(
                                                             md->topics[0].err)
                                                       : "not found");
                                /* a topic that does not exist will not
                                 * appear by waiting */
                                if (md->topic_cnt &&
                                    md->topics[0].err ==
                                        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                                        attempt += 4;
                        } else {
                                for (i = 0; i < md->topics[0].partition_cnt;
                                     i++)
                                        rd_kafka_topic_partition_list_add(
                                            l, topics[t],
                                            md->topics[0].partitions[i].id)
                                            ->offset = start;
                                done = 1;
                        }
                        if (md)
                                rd_kafka_metadata_destroy(md);
                        md = NULL;
                        if (!done) {
                                struct timespec ts = {0, 250 * 1000000L};
                                nanosleep(&ts, NULL);
                        }
                }
                rd_kafka_topic_destroy(rkt);
                if (!done) {
                        rd_kafka_topic_partition_list_destroy(l);
                        return PB_ERR_KAFKA;
                }
        }
        err = rd_kafka_assign(c->rk, l);
        if (err) {
                snprintf(errstr, errstr_size, "assign: %s",
                         rd_kafka_err2str(err));
                rd_kafka_topic_partition_list_destroy(l);
                return PB_ERR_KAFKA;
        }
        if (pb_parts_add(&c->parts, l, ++c->assign_seq)) {
                /* an untracked partition would end stop_at_end early */
                snprintf(errstr, errstr_size, "out of memory");
                rd_kafka_topic_partition_list_destroy(l);
                return PB_ERR_NOMEM;
        }
        if (c->stop_at_end && c->end_taken_at_start)
                pb_parts_take_ends(c);
        c->assigned_once = 1;
        rd_kafka_topic_partition_list_destroy(l);
        return PB_OK;
}

pb_consumer_t *pb_consumer_new(const pb_kafka_conf_t *conf,
                               const pb_consumer_opts_t *opts,
                               const char *const *topics, size_t ntopics,
                               char *errstr, size_t errstr_size) {
        const char *defaults[32];
        size_t nd = 0;
        char anon[64], why[256];
        rd_kafka_conf_t *rc;
        pb_consumer_t *c;
        pb_consumer_opts_t o = {0};

        if (opts)
                o = *opts;
        if (!topics || ntopics == 0) {
                snprintf(errstr, errstr_size, "no topics given");
                return NULL;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        c->grouped = o.group != NULL;
        c->stop_at_end = o.stop_at_end;
        c->end_taken_at_start = o.end_taken_at_start && !o.group;
        if (!o.group) {
                char u[37];
                pb_uuid_v4(u);
                snprintf(anon, sizeof(anon), "partnerbus-anon-%s", u);
        }
        defaults[nd++] = "group.id";
        defaults[nd++] = o.group ? o.group : anon;
        defaults[nd++] = "client.id";
        defaults[nd++] = "partnerbus";
        defaults[nd++] = "enable.auto.commit";
        defaults[nd++] = o.enable_auto_commit ? "true" : "false";
        defaults[nd++] = "enable.auto.offset.store";
        defaults[nd++] = "false";
        defaults[nd++] = "auto.offset.reset";
        defaults[nd++] = o.from_beginning ? "earliest" : "latest";
        defaults[nd++] = "enable.partition.eof";
        defaults[nd++] = o.stop_at_end ? "true" : "false";
        defaults[nd++] = "partition.assignment.strategy";
        defaults[nd++] = "range,roundrobin";
        defaults[nd] = NULL;

        rc = pb_conf_build(conf, defaults, errstr, errstr_size);
        if (!rc) {
                free(c);
                return NULL;
        }
        rd_kafka_conf_set_log_cb(rc, pb_kafka_log_cb);
        rd_kafka_conf_set_opaque(rc, c);
        if (c->grouped)
                rd_kafka_conf_set_rebalance_cb(rc, pb_rebalance_cb);
        c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rc, why, sizeof(why));
        if (!c->rk) {
                snprintf(errstr, errstr_size, "Kafka consumer: %s", why);
                rd_kafka_conf_destroy(rc);
                free(c);
                return NULL;
        }
        rd_kafka_poll_set_consumer(c->rk);

        if (c->grouped) {
                rd_kafka_topic_partition_list_t *l =
                    rd_kafka_topic_partition_list_new((int)ntopics);
                rd_kafka_resp_err_t err;
                size_t i;
                for (i = 0; i < ntopics; i++)
                        rd_kafka_topic_partition_list_add(
                            l, topics[i], RD_KAFKA_PARTITION_UA);
                err = rd_kafka_subscribe(c->rk, l);
                rd_kafka_topic_partition_list_destroy(l);
                if (err) {
                        snprintf(errstr, errstr_size, "subscribe: %s",
                                 rd_kafka_err2str(err));
                        pb_consumer_destroy(c);
                        return NULL;
                }
        } else if (pb_consumer_assign_all(c, topics, ntopics,
                                          o.from_beginning
                                              ? RD_KAFKA_OFFSET_BEGINNING
                                              : RD_KAFKA_OFFSET_END,
                                          errstr, errstr_size) != PB_OK) {
                pb_consumer_destroy(c);
                return NULL;
        }
        return c;
}

void pb_consumer_destroy(pb_consumer_t *c) {
        if (!c)
                return;
        if (c->rk) {
                /* leaves the group; the rebalance callback commits what
                 * was stored for the revoked partitions */
                rd_kafka_consumer_close(c->rk);
                rd_kafka_destroy(c->rk);
        }
        pb_parts_clear(&c->parts);
        free(c->parts.v);
        pb_parts_clear(&c->paused);
        free(c->paused.v);
        free(c);
}

static int pb_all_eof(const pb_consumer_t *c) {
        size_t i;
        if (!c->assigned_once || c->parts.n == 0)
                return 0;
        for (i = 0; i < c->parts.n; i++)
                if (!c->parts.v[i].eof)
                        return 0;
        return 1;
}

pb_resp_t pb_consumer_poll(pb_consumer_t *c, pb_message_t *msg, int timeout_ms,
                           char *errstr, size_t errstr_size) {
        /* a non-blocking poll (timeout 0, the relay's drain loop) reads
         * no clock at all */
        int64_t deadline = timeout_ms > 0 ? pb_mono_ms() + timeout_ms : 0;
        char fe[256];
        memset(msg, 0, sizeof(*msg));
        for (;;) {
                rd_kafka_message_t *m;
                int64_t left = timeout_ms > 0 ? deadline - pb_mono_ms() : 0;
                rd_kafka_resp_err_t ferr;
                if (c->fatal[0]) {
                        snprintf(errstr, errstr_size, "%s", c->fatal);
                        return PB_ERR_KAFKA;
                }
                if (c->stop_at_end && pb_all_eof(c))
                        return PB_END;
                if (left < 0)
                        left = 0;
                m = rd_kafka_consumer_poll(c->rk, (int)left);
                if (!m) {
                        if (timeout_ms <= 0 || pb_mono_ms() >= deadline)
                                return PB_ERR_TIMEOUT;
                        continue;
                }
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        pb_part_t *p =
                            pb_part_find(&c->parts, rd_kafka_topic_name(m->rkt),
                                         m->partition);
                        /* an EOF below the end taken at assignment is
                         * not the end yet */
                        if (p && p->end >= 0 && m->offset < p->end) {
                                fprintf(stderr,
                                        "level=warn component=kafka "
                                        "msg=\"%s [%d]: end of partition "
                                        "reported at offset %lld, below its "
                                        "end offset %lld at start; reading "
                                        "on\"\n",
                                        p->topic, (int)p->partition,
                                        (long long)m->offset,
                                        (long long)p->end);
                                p->eof = 0;
                        } else if (p) {
                                p->eof = 1;
                        }
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (m->err) {
                        ferr = rd_kafka_fatal_error(c->rk, fe, sizeof(fe));
                        if (ferr) {
                                snprintf(errstr, errstr_size, "fatal: %s", fe);
                                rd_kafka_message_destroy(m);
                                return PB_ERR_KAFKA;
                        }
                        /* transient (broker down, topic not yet there):
                         * librdkafka retries by itself */
                        rd_kafka_message_destroy(m);
                        if (timeout_ms <= 0 || pb_mono_ms() >= deadline)
                                return PB_ERR_TIMEOUT;
                        continue;
                }
                if (c->stop_at_end) {
                        pb_part_t *p =
                            pb_part_find(&c->parts, rd_kafka_topic_name(m->rkt),
                                         m->partition);
                        if (p)
                                p->eof = p->end >= 0 && m->offset >= p->end - 1;
                }
                msg->topic = rd_kafka_topic_name(m->rkt);
                msg->partition = m->partition;
                msg->offset = m->offset;
                {
                        rd_kafka_timestamp_type_t tt;
                        msg->timestamp_ms = rd_kafka_message_timestamp(m, &tt);
                        if (tt == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
                                msg->timestamp_ms = -1;
                }
                msg->key = m->key;
                msg->key_len = m->key ? m->key_len : 0;
                msg->value = m->payload;
                msg->len = m->payload ? m->len : 0;
                msg->_rkmessage = m;
                return PB_OK;
        }
}

void pb_message_release(pb_message_t *msg) {
        if (!msg || !msg->_rkmessage)
                return;
        rd_kafka_message_destroy(msg->_rkmessage);
        memset(msg, 0, sizeof(*msg));
}

const void *pb_message_header(const pb_message_t *msg, const char *name,
                              size_t *len) {
        rd_kafka_headers_t *hdrs = NULL;
        const void *v = NULL;
        size_t l = 0;
        if (!msg || !msg->_rkmessage ||
            rd_kafka_message_headers(msg->_rkmessage, &hdrs) || !hdrs)
                return NULL;
        if (rd_kafka_header_get_last(hdrs, name, &v, &l))
                return NULL;
        if (len)
                *len = l;
        return v ? v : "";
}

int pb_message_header_at(const pb_message_t *msg, size_t idx, const char **name,
                         const void **value, size_t *len) {
        rd_kafka_headers_t *hdrs = NULL;
        if (!msg || !msg->_rkmessage ||
            rd_kafka_message_headers(msg->_rkmessage, &hdrs) || !hdrs)
                return 0;
        if (rd_kafka_header_get_all(hdrs, idx, name, value, len))
                return 0;
        if (!*value)
                *value = "";
        return 1;
}

pb_resp_t pb_consumer_store(pb_consumer_t *c, const pb_message_t *msg) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_resp_err_t err;
        if (!c || !msg || !msg->topic)
                return PB_ERR_ARG;
        if (!c->grouped)
                return PB_OK; /* nothing is ever committed without a group */
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, msg->topic, msg->partition)
            ->offset = msg->offset + 1;
        err = rd_kafka_offsets_store(c->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        /* __STATE: the partition was revoked meanwhile; its new owner will
         * see the message again (at least once). */
        return err ? PB_ERR_KAFKA : PB_OK;
}

pb_resp_t pb_consumer_commit(pb_consumer_t *c, int async) {
        rd_kafka_resp_err_t err;
        if (!c)
                return PB_ERR_ARG;
        if (!c->grouped)
                return PB_OK;
        err = rd_kafka_commit(c->rk, NULL, async);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
                return PB_ERR_KAFKA;
        return PB_OK;
}

void *pb_consumer_rk(pb_consumer_t *c) {
        return c ? c->rk : NULL;
}

uint64_t pb_consumer_assign_seq(const pb_consumer_t *c) {
        return c ? c->assign_seq : 0;
}

uint64_t pb_consumer_assigned_in(pb_consumer_t *c, const char *topic,
                                 int32_t partition) {
        pb_part_t *p = c ? pb_part_find(&c->parts, topic, partition) : NULL;
        return p ? p->epoch : 0;
}

pb_resp_t pb_consumer_pause(pb_consumer_t *c, const char *topic,
                            int32_t partition, int pause) {
        rd_kafka_topic_partition_list_t *l;
        if (!pause && !pb_part_find(&c->paused, topic, partition))
                return PB_OK; /* not paused: a resume would only do harm */
        if (!(l = rd_kafka_topic_partition_list_new(1)))
                return PB_ERR_NOMEM;
        if (pause && pb_part_add(&c->paused, topic, partition, 0)) {
                rd_kafka_topic_partition_list_destroy(l);
                return PB_ERR_NOMEM; /* not paused: it could not be
                                        resumed */
        }
        rd_kafka_topic_partition_list_add(l, topic, partition);
        if (pause) {
                rd_kafka_pause_partitions(c->rk, l);
        } else {
                rd_kafka_resume_partitions(c->rk, l);
                pb_part_del(&c->paused, topic, partition);
        }
        rd_kafka_topic_partition_list_destroy(l);
        return PB_OK;
}

pb_resp_t pb_consumer_unassign(pb_consumer_t *c) {
        if (!c)
                return PB_ERR_ARG;
        return rd_kafka_assign(c->rk, NULL) ? PB_ERR_KAFKA : PB_OK;
}

/* --- embedded development broker --- */

struct pb_mock_broker {
        rd_kafka_t *rk; /* dummy handle the mock cluster lives in */
        rd_kafka_mock_cluster_t *mc;
};

pb_mock_broker_t *pb_mock_broker_new(int brokers, char *errstr,
                                     size_t errstr_size) {
        char why[256];
        rd_kafka_conf_t *rc;
        pb_mock_broker_t *m;
        if (brokers < 1 || brokers > 16) {
                snprintf(errstr, errstr_size,
                         "broker count must be between 1 and 16");
                return NULL;
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        rc = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(rc, pb_kafka_log_cb);
        /* the dummy never connects anywhere: silence its warning about
         * having no bootstrap.servers */
        rd_kafka_conf_set(rc, "log_level", "3", why, sizeof(why));
        m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, why, sizeof(why));
        if (!m->rk) {
                snprintf(errstr, errstr_size, "mock broker handle: %s", why);
                rd_kafka_conf_destroy(rc);
                free(m);
                return NULL;
        }
        m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
        if (!m->mc) {
                snprintf(errstr, errstr_size,
                         "could not create the mock cluster");
                rd_kafka_destroy(m->rk);
                free(m);
                return NULL;
        }
        return m;
}

void pb_mock_broker_destroy(pb_mock_broker_t *m) {
        if (!m)
                return;
        if (m->mc)
                rd_kafka_mock_cluster_destroy(m->mc);
        rd_kafka_destroy(m->rk);
        free(m);
}

const char *pb_mock_broker_bootstraps(const pb_mock_broker_t *m) {
        return m ? rd_kafka_mock_cluster_bootstraps(m->mc) : NULL;
}
