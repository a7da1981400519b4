/* partnerbus - Kafka admin helpers and transactions (see pb_kafka.h):
 * topic creation, time -> offsets per partition, consumer-group state and
 * offsets, and the transaction calls with their errors sorted into
 * retriable, abortable and fatal (fenced). The calls use the connections
 * of an existing producer or consumer. */
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_kafka.h"

static void seterr(char *errstr, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *errstr, size_t n, const char *fmt, ...) {
        va_list ap;
        if (!errstr || !n)
                return;
        va_start(ap, fmt);
        vsnprintf(errstr, n, fmt, ap);
        va_end(ap);
}

/* --- topics --- */

static pb_topic_res_t topic_result(rd_kafka_event_t *ev, char *errstr,
                                   size_t n) {
        const rd_kafka_CreateTopics_result_t *res =
            rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
        rd_kafka_resp_err_t e;
        if (rd_kafka_event_error(ev)) {
                seterr(errstr, n, "%s", rd_kafka_event_error_string(ev));
                return PB_TOPIC_ERROR;
        }
        if (cnt != 1) {
                seterr(errstr, n, "CreateTopics: no result for the topic");
                return PB_TOPIC_ERROR;
        }
        e = rd_kafka_topic_result_error(tr[0]);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                return PB_TOPIC_CREATED;
        if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                return PB_TOPIC_EXISTS;
        seterr(errstr, n, "%s", rd_kafka_topic_result_error_string(tr[0]));
        return PB_TOPIC_REFUSED;
}

pb_topic_res_t pb_kafka_topic_ensure(void *rk, const pb_topic_spec_t *spec,
                                     char *errstr, size_t n) {
        rd_kafka_NewTopic_t *nt;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        rd_kafka_AdminOptions_t *ao;
        pb_topic_res_t r;
        char e[256];
        size_t i;
        if (!rk || !spec || !spec->name) {
                seterr(errstr, n, "no client or no topic");
                return PB_TOPIC_ERROR;
        }
        nt = rd_kafka_NewTopic_new(spec->name, spec->partitions,
                                   spec->replication, e, sizeof(e));
        if (!nt) {
                seterr(errstr, n, "%s", e);
                return PB_TOPIC_ERROR;
        }
        for (i = 0; spec->config && spec->config[i] && spec->config[i + 1];
             i += 2)
                rd_kafka_NewTopic_set_config(nt, spec->config[i],
                                             spec->config[i + 1]);
        q = rd_kafka_queue_new(rk);
        ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(ao, spec->timeout_ms, NULL,
                                                    0);
        rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
        ev = rd_kafka_queue_poll(q, 2 * spec->timeout_ms);
        if (!ev) {
                seterr(errstr, n, "no answer to CreateTopics");
                r = PB_TOPIC_NO_ANSWER;
        } else {
                r = topic_result(ev, errstr, n);
                rd_kafka_event_destroy(ev);
        }
        rd_kafka_AdminOptions_destroy(ao);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
        return r;
}

/* --- offsets per partition --- */

void pb_kafka_offsets_destroy(pb_kafka_offsets_t *o) {
        if (!o)
                return;
        free(o->p);
        free(o);
}

static int offsets_grow(pb_kafka_offsets_t *o, size_t *cap) {
        return PB_ARRAY_RESERVE(o->p, *cap, o->n, 1, 16);
}

/* Appends the partitions of one topic with their watermarks. 0 or -1. */
static int offsets_add_topic(rd_kafka_t *rk, pb_kafka_offsets_t *o, size_t *cap,
                             const char *topic, int timeout_ms, char *errstr,
                             size_t n) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        rd_kafka_resp_err_t ke;
        int p, rc = -1;
        if (!rkt) {
                seterr(errstr, n, "topic %s: %s", topic,
                       rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        ke = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (ke || !md || md->topic_cnt != 1 || md->topics[0].err) {
                seterr(
                    errstr, n, "topic %s: %s", topic,
                    rd_kafka_err2str(ke ? ke
                                     : md && md->topic_cnt
                                         ? md->topics[0].err
                                         : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
                goto out;
        }
        for (p = 0; p < md->topics[0].partition_cnt; p++) {
                pb_partition_offset_t *r;
                if (offsets_grow(o, cap)) {
                        seterr(errstr, n, "out of memory");
                        goto out;
                }
                r = &o->p[o->n++];
                memset(r, 0, sizeof(*r));
                r->topic = topic;
                r->partition = md->topics[0].partitions[p].id;
                r->offset = -1;
                ke = rd_kafka_query_watermark_offsets(
                    rk, topic, r->partition, &r->low, &r->high, timeout_ms);
                if (ke) {
                        seterr(errstr, n, "end offsets of %s [%d]: %s", topic,
                               r->partition, rd_kafka_err2str(ke));
                        goto out;
                }
        }
        rc = 0;
out:
        if (md)
                rd_kafka_metadata_destroy(md);
        return rc;
}

pb_kafka_offsets_t *pb_kafka_offsets_new(void *rk, const char *const *topics,
                                         size_t ntopics, int timeout_ms,
                                         char *errstr, size_t n) {
        pb_kafka_offsets_t *o;
        size_t i, cap = 0;
        if (!rk) {
                seterr(errstr, n, "no client");
                return NULL;
        }
        o = calloc(1, sizeof(*o));
        if (!o) {
                seterr(errstr, n, "out of memory");
                return NULL;
        }
        for (i = 0; i < ntopics; i++)
                if (offsets_add_topic(rk, o, &cap, topics[i], timeout_ms,
                                      errstr, n)) {
                        pb_kafka_offsets_destroy(o);
                        return NULL;
                }
        return o;
}

/* The offsets of o's partitions as a librdkafka list; offset of each from
 * its entry when use_offset, else `value`. Only partitions with
 * low < high when nonempty_only. */
static rd_kafka_topic_partition_list_t *to_list(const pb_kafka_offsets_t *o,
                                                int use_offset, int64_t value,
                                                int nonempty_only) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(o->n ? (int)o->n : 1);
        size_t i;
        for (i = 0; i < o->n; i++)
                if (!nonempty_only || o->p[i].low < o->p[i].high)
                        rd_kafka_topic_partition_list_add(l, o->p[i].topic,
                                                          o->p[i].partition)
                            ->offset = use_offset ? o->p[i].offset : value;
        return l;
}

static pb_partition_offset_t *find(pb_kafka_offsets_t *o, const char *topic,
                                   int32_t partition) {
        size_t i;
        for (i = 0; i < o->n; i++)
                if (o->p[i].partition == partition &&
                    !strcmp(o->p[i].topic, topic))
                        return &o->p[i];
        return NULL;
}

/* probe: time 0 must give the first offset of a non-empty partition;
 * librdkafka's mock cluster answers every time lookup with the end
 * offset instead */
static rd_kafka_resp_err_t probe_by_time(rd_kafka_t *rk, pb_kafka_offsets_t *o,
                                         int timeout_ms) {
        rd_kafka_topic_partition_list_t *probe = to_list(o, 0, 0, 1);
        rd_kafka_resp_err_t ke = RD_KAFKA_RESP_ERR_NO_ERROR;
        int i;
        if (probe->cnt)
                ke = rd_kafka_offsets_for_times(rk, probe, timeout_ms);
        for (i = 0; !ke && i < probe->cnt; i++) {
                pb_partition_offset_t *r =
                    find(o, probe->elems[i].topic, probe->elems[i].partition);
                if (probe->elems[i].err)
                        ke = probe->elems[i].err;
                else if (r && probe->elems[i].offset != r->low)
                        ke = RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED;
        }
        rd_kafka_topic_partition_list_destroy(probe);
        return ke;
}

pb_resp_t pb_kafka_offsets_for_time(void *rk, pb_kafka_offsets_t *o,
                                    int64_t time_ms, int timeout_ms,
                                    char *errstr, size_t n) {
        rd_kafka_topic_partition_list_t *times;
        rd_kafka_resp_err_t ke;
        int i;
        if (!rk || !o)
                return PB_ERR_ARG;
        times = to_list(o, 0, time_ms, 0);
        ke = rd_kafka_offsets_for_times(rk, times, timeout_ms);
        for (i = 0; !ke && i < times->cnt; i++)
                if (times->elems[i].err)
                        ke = times->elems[i].err;
        if (!ke)
                ke = probe_by_time(rk, o, timeout_ms);
        if (!ke)
                for (i = 0; i < times->cnt; i++) {
                        pb_partition_offset_t *r =
                            find(o, times->elems[i].topic,
                                 times->elems[i].partition);
                        int64_t off = times->elems[i].offset;
                        if (!r)
                                continue;
                        /* -1: no message at or after the time */
                        r->offset = off < 0 ? r->high : off;
                }
        rd_kafka_topic_partition_list_destroy(times);
        if (ke) {
                seterr(errstr, n, "%s", rd_kafka_err2str(ke));
                return PB_ERR_KAFKA;
        }
        return PB_OK;
}

/* --- consumer groups --- */

static void describe_group(const rd_kafka_ConsumerGroupDescription_t *d,
                           const char *group, int *active, char *why,
                           size_t n) {
        rd_kafka_consumer_group_state_t st =
            rd_kafka_ConsumerGroupDescription_state(d);
        size_t m = rd_kafka_ConsumerGroupDescription_member_count(d);
        seterr(why, n, "group %s is %s with %zu member(s)", group,
               rd_kafka_consumer_group_state_name(st), m);
        *active = (m > 0 || (st != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY &&
                             st != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD &&
                             st != RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN))
                      ? 1
                      : 0;
}

pb_resp_t pb_kafka_group_active(void *rk, const char *group, int timeout_ms,
                                int *active, char *why, size_t n) {
        rd_kafka_queue_t *q;
        rd_kafka_AdminOptions_t *ao;
        const char *groups[1] = {group};
        rd_kafka_event_t *ev;
        const rd_kafka_ConsumerGroupDescription_t **d;
        size_t cnt = 0;
        pb_resp_t rc = PB_ERR_KAFKA;
        char e[256];
        if (!rk || !group || !active)
                return PB_ERR_ARG;
        *active = 0;
        q = rd_kafka_queue_new(rk);
        ao = rd_kafka_AdminOptions_new(
            rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
        rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, e, sizeof(e));
        rd_kafka_DescribeConsumerGroups(rk, groups, 1, ao, q);
        ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
        if (!ev) {
                seterr(why, n, "DescribeConsumerGroups: timed out");
                rc = PB_ERR_TIMEOUT;
        } else if (rd_kafka_event_error(ev)) {
                seterr(why, n, "DescribeConsumerGroups: %s",
                       rd_kafka_event_error_string(ev));
        } else {
                d = rd_kafka_DescribeConsumerGroups_result_groups(
                    rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
                if (cnt != 1) {
                        seterr(why, n,
                               "DescribeConsumerGroups: no answer for the "
                               "group");
                } else if (rd_kafka_ConsumerGroupDescription_error(d[0])) {
                        seterr(
                            why, n, "DescribeConsumerGroups: %s",
                            rd_kafka_error_string(
                                rd_kafka_ConsumerGroupDescription_error(d[0])));
                } else {
                        describe_group(d[0], group, active, why, n);
                        rc = PB_OK;
                }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(ao);
        rd_kafka_queue_destroy(q);
        return rc;
}

/* Checks the group result and each partition's. 0 or -1 with errstr. */
static int group_result(const rd_kafka_group_result_t **gr, size_t cnt,
                        const char *what, const char *group,
                        pb_kafka_offsets_t *into, char *errstr, size_t n) {
        const rd_kafka_topic_partition_list_t *pl;
        int i;
        if (cnt != 1) {
                seterr(errstr, n, "%s: no result", what);
                return -1;
        }
        if (rd_kafka_group_result_error(gr[0])) {
                seterr(
                    errstr, n, "%s of %s: %s", what, group,
                    rd_kafka_error_string(rd_kafka_group_result_error(gr[0])));
                return -1;
        }
        pl = rd_kafka_group_result_partitions(gr[0]);
        for (i = 0; pl && i < pl->cnt; i++) {
                pb_partition_offset_t *r;
                if (pl->elems[i].err) {
                        seterr(errstr, n, "%s [%d]: %s", pl->elems[i].topic,
                               pl->elems[i].partition,
                               rd_kafka_err2str(pl->elems[i].err));
                        return -1;
                }
                if (into && (r = find(into, pl->elems[i].topic,
                                      pl->elems[i].partition)))
                        r->offset =
                            pl->elems[i].offset < 0 ? -1 : pl->elems[i].offset;
        }
        return 0;
}

/* Commits (into NULL) or reads (into the offsets to fill) the offsets of
 * l for group with one admin request, waiting for its answer. */
static pb_resp_t group_offsets(void *rk, const char *group,
                               rd_kafka_topic_partition_list_t *l,
                               pb_kafka_offsets_t *into, int timeout_ms,
                               char *errstr, size_t n) {
        const char *op =
            into ? "ListConsumerGroupOffsets" : "AlterConsumerGroupOffsets";
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AlterConsumerGroupOffsets_t *alter = NULL;
        rd_kafka_ListConsumerGroupOffsets_t *list = NULL;
        rd_kafka_AdminOptions_t *ao = NULL;
        rd_kafka_event_t *ev;
        pb_resp_t rc = PB_ERR_KAFKA;
        char e[256];
        if (into) {
                ao = rd_kafka_AdminOptions_new(
                    rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
                rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, e,
                                                          sizeof(e));
                list = rd_kafka_ListConsumerGroupOffsets_new(group, l);
                rd_kafka_ListConsumerGroupOffsets(rk, &list, 1, ao, q);
        } else {
                alter = rd_kafka_AlterConsumerGroupOffsets_new(group, l);
                rd_kafka_AlterConsumerGroupOffsets(rk, &alter, 1, NULL, q);
        }
        ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
        if (!ev || rd_kafka_event_error(ev)) {
                seterr(errstr, n, "%s: %s", op,
                       ev ? rd_kafka_event_error_string(ev) : "timed out");
                if (!ev)
                        rc = PB_ERR_TIMEOUT;
        } else {
                size_t cnt = 0;
                const rd_kafka_group_result_t **gr =
                    into ? rd_kafka_ListConsumerGroupOffsets_result_groups(
                               rd_kafka_event_ListConsumerGroupOffsets_result(
                                   ev),
                               &cnt)
                         : rd_kafka_AlterConsumerGroupOffsets_result_groups(
                               rd_kafka_event_AlterConsumerGroupOffsets_result(
                                   ev),
                               &cnt);
                if (!group_result(gr, cnt,
                                  into ? "reading the offsets"
                                       : "moving the offsets",
                                  group, into, errstr, n))
                        rc = PB_OK;
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        if (alter)
                rd_kafka_AlterConsumerGroupOffsets_destroy(alter);
        if (list)
                rd_kafka_ListConsumerGroupOffsets_destroy(list);
        if (ao)
                rd_kafka_AdminOptions_destroy(ao);
        rd_kafka_queue_destroy(q);
        return rc;
}

pb_resp_t pb_kafka_group_commit(void *rk, const char *group,
                                const pb_kafka_offsets_t *o, int timeout_ms,
                                char *errstr, size_t n) {
        rd_kafka_topic_partition_list_t *l;
        pb_resp_t rc;
        if (!rk || !group || !o)
                return PB_ERR_ARG;
        l = to_list(o, 1, 0, 0);
        rc = group_offsets(rk, group, l, NULL, timeout_ms, errstr, n);
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

pb_resp_t pb_kafka_group_read(void *rk, const char *group,
                              pb_kafka_offsets_t *o, int timeout_ms,
                              char *errstr, size_t n) {
        rd_kafka_topic_partition_list_t *l;
        pb_resp_t rc;
        size_t i;
        if (!rk || !group || !o)
                return PB_ERR_ARG;
        for (i = 0; i < o->n; i++)
                o->p[i].offset = -1;
        l = to_list(o, 0, RD_KAFKA_OFFSET_INVALID, 0);
        rc = group_offsets(rk, group, l, o, timeout_ms, errstr, n);
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

/* --- transactions --- */

/* Sorts e (destroyed here) into a result, its text into errstr. */
static pb_txn_res_t txn_res(rd_kafka_error_t *e, char *errstr, size_t n) {
        pb_txn_res_t r;
        if (!e)
                return PB_TXN_OK;
        if (rd_kafka_error_is_fatal(e))
                r = PB_TXN_FATAL;
        else if (rd_kafka_error_is_retriable(e))
                r = PB_TXN_RETRIABLE;
        else
                r = PB_TXN_ABORTABLE;
        seterr(errstr, n, "%s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return r;
}

enum { TXN_INIT, TXN_BEGIN, TXN_COMMIT, TXN_ABORT };

/* One step of p's transactions (begin takes no timeout). */
static pb_txn_res_t txn_step(pb_producer_t *p, int step, int timeout_ms,
                             char *errstr, size_t n) {
        rd_kafka_t *rk = p ? pb_producer_rk(p) : NULL;
        rd_kafka_error_t *e;
        if (!rk) {
                seterr(errstr, n, "no producer");
                return PB_TXN_FATAL;
        }
        if (step == TXN_INIT)
                e = rd_kafka_init_transactions(rk, timeout_ms);
        else if (step == TXN_BEGIN)
                e = rd_kafka_begin_transaction(rk);
        else if (step == TXN_COMMIT)
                e = rd_kafka_commit_transaction(rk, timeout_ms);
        else
                e = rd_kafka_abort_transaction(rk, timeout_ms);
        return txn_res(e, errstr, n);
}

pb_txn_res_t pb_producer_txn_init(pb_producer_t *p, int timeout_ms,
                                  char *errstr, size_t n) {
        return txn_step(p, TXN_INIT, timeout_ms, errstr, n);
}

pb_txn_res_t pb_producer_txn_begin(pb_producer_t *p, char *errstr, size_t n) {
        return txn_step(p, TXN_BEGIN, 0, errstr, n);
}

pb_txn_res_t pb_producer_txn_commit(pb_producer_t *p, int timeout_ms,
                                    char *errstr, size_t n) {
        return txn_step(p, TXN_COMMIT, timeout_ms, errstr, n);
}

pb_txn_res_t pb_producer_txn_abort(pb_producer_t *p, int timeout_ms,
                                   char *errstr, size_t n) {
        return txn_step(p, TXN_ABORT, timeout_ms, errstr, n);
}
