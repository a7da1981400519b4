/* partnerbus replay --reset-group G --to-time TIME: moves a consumer
 * group's committed offsets to a point in time, like
 * `kafka-consumer-groups --reset-offsets --to-datetime`. Order:
 *   1. DescribeConsumerGroups: refuse while the group has members (a
 *      running relay would overwrite the offsets with its next commit);
 *   2. per partition of --topics, ListOffsets by time: the first offset
 *      whose Kafka timestamp (publish time) is >= TIME, the end offset
 *      where there is none;
 *   3. AlterConsumerGroupOffsets (the broker refuses it too while the
 *      group is active), then every partition's result is checked. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_replay_cmd.h"
#include "pb_replay_src.h"

#define ADMIN_TIMEOUT_MS 30000

static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q) {
        return rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
}

/* 0: group has no members (or does not exist), 1: active, -1: error */
static int group_active(rd_kafka_t *rk, const char *group, char *why,
                        size_t whysz) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(
            rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
        const char *groups[1] = {group};
        rd_kafka_event_t *ev;
        const rd_kafka_ConsumerGroupDescription_t **d;
        size_t n = 0;
        int rc = -1;
        char e[256];
        rd_kafka_AdminOptions_set_request_timeout(ao, ADMIN_TIMEOUT_MS, e,
                                                  sizeof(e));
        rd_kafka_DescribeConsumerGroups(rk, groups, 1, ao, q);
        ev = wait_result(q);
        if (!ev) {
                snprintf(why, whysz, "DescribeConsumerGroups: timed out");
        } else if (rd_kafka_event_error(ev)) {
                snprintf(why, whysz, "DescribeConsumerGroups: %s",
                         rd_kafka_event_error_string(ev));
        } else {
                d = rd_kafka_DescribeConsumerGroups_result_groups(
                    rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
                if (n != 1) {
                        snprintf(why, whysz,
                                 "DescribeConsumerGroups: no "
                                 "answer for the group");
                } else if (rd_kafka_ConsumerGroupDescription_error(d[0])) {
                        snprintf(
                            why, whysz, "DescribeConsumerGroups: %s",
                            rd_kafka_error_string(
                                rd_kafka_ConsumerGroupDescription_error(d[0])));
                } else {
                        rd_kafka_consumer_group_state_t st =
                            rd_kafka_ConsumerGroupDescription_state(d[0]);
                        size_t m =
                            rd_kafka_ConsumerGroupDescription_member_count(
                                d[0]);
                        snprintf(why, whysz,
                                 "group %s is %s with %zu member(s)", group,
                                 rd_kafka_consumer_group_state_name(st), m);
                        rc = (m > 0 ||
                              (st != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY &&
                               st != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD &&
                               st != RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN))
                                 ? 1
                                 : 0;
                }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(ao);
        rd_kafka_queue_destroy(q);
        return rc;
}

int pb_replay_reset_group(pb_replay_settings_t *s, const char *const *topics,
                          size_t ntopics) {
        const char *cmd = "replay";
        int64_t when;
        char e[512], why[512], ts[40];
        pb_consumer_t *c = NULL;
        pb_consumer_opts_t co;
        rd_kafka_t *rk;
        rd_kafka_topic_partition_list_t *l = NULL;
        rd_kafka_resp_err_t ke;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_AlterConsumerGroupOffsets_t *alter = NULL;
        rd_kafka_event_t *ev = NULL;
        int status = PB_EXIT_FAIL, a;
        size_t i;
        if (!s->to_time)
                return pb_cli_usage_error(cmd, "--reset-group needs --to-time");
        if (pb_rsrc_parse_time(s->to_time, &when))
                return pb_cli_usage_error(cmd, "--to-time: not a time: %s",
                                          s->to_time);
        if (s->since || s->until || s->archive || s->to_topic || s->to_url ||
            s->out)
                return pb_cli_usage_error(cmd, "--reset-group takes only "
                                               "--topics, --to-time and "
                                               "--dry-run");
        if (!pb_cli_require_brokers(cmd, &s->cc))
                return PB_EXIT_USAGE;
        memset(&co, 0, sizeof(co));
        c = pb_consumer_new(&s->cc.kconf, &co, topics, ntopics, e, sizeof(e));
        if (!c) {
                fprintf(stderr, "partnerbus replay: %s\n", e);
                return PB_EXIT_FAIL;
        }
        rk = pb_consumer_rk(c);
        rd_kafka_assign(rk, NULL);
        a = group_active(rk, s->reset_group, why, sizeof(why));
        if (a != 0) {
                fprintf(stderr, "partnerbus replay: %s%s\n", why,
                        a > 0 ? "; refusing to move its offsets: stop its "
                                "consumers (relays) first"
                              : "");
                goto done;
        }
        l = rd_kafka_topic_partition_list_new(16);
        for (i = 0; i < ntopics; i++) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[i], NULL);
                int p;
                ke = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, 15000)
                         : rd_kafka_last_error();
                if (rkt)
                        rd_kafka_topic_destroy(rkt);
                if (!ke && md && md->topic_cnt == 1)
                        ke = md->topics[0].err;
                if (ke) {
                        fprintf(stderr, "partnerbus replay: topic %s: %s\n",
                                topics[i], rd_kafka_err2str(ke));
                        if (md)
                                rd_kafka_metadata_destroy(md);
                        goto done;
                }
                for (p = 0; p < md->topics[0].partition_cnt; p++)
                        rd_kafka_topic_partition_list_add(
                            l, topics[i], md->topics[0].partitions[p].id)
                            ->offset = when;
                rd_kafka_metadata_destroy(md);
        }
        ke = rd_kafka_offsets_for_times(rk, l, 15000);
        for (i = 0; !ke && i < (size_t)l->cnt; i++)
                ke = l->elems[i].err;
        if (ke) {
                fprintf(stderr,
                        "partnerbus replay: offsets by time (ListOffsets): %s; "
                        "the broker cannot look up offsets by time, nothing "
                        "changed\n",
                        rd_kafka_err2str(ke));
                goto done;
        }
        pb_rfc3339_format(when, ts, sizeof(ts));
        for (i = 0; i < (size_t)l->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &l->elems[i];
                if (tp->offset < 0) { /* nothing at or after the time */
                        int64_t lo, hi;
                        ke = rd_kafka_query_watermark_offsets(
                            rk, tp->topic, tp->partition, &lo, &hi, 15000);
                        if (ke) {
                                fprintf(stderr,
                                        "partnerbus replay: end offset of %s "
                                        "[%d]: %s\n",
                                        tp->topic, tp->partition,
                                        rd_kafka_err2str(ke));
                                goto done;
                        }
                        tp->offset = hi;
                }
                printf("%s\t%s\t%d\t%lld\n", s->reset_group, tp->topic,
                       tp->partition, (long long)tp->offset);
        }
        fflush(stdout);
        if (s->dry_run) {
                fprintf(stderr,
                        "partnerbus replay: dry run: group %s would restart "
                        "at %s (offsets above); nothing changed\n",
                        s->reset_group, ts);
                status = PB_EXIT_OK;
                goto done;
        }
        q = rd_kafka_queue_new(rk);
        alter = rd_kafka_AlterConsumerGroupOffsets_new(s->reset_group, l);
        rd_kafka_AlterConsumerGroupOffsets(rk, &alter, 1, NULL, q);
        ev = wait_result(q);
        if (!ev || rd_kafka_event_error(ev)) {
                fprintf(stderr,
                        "partnerbus replay: AlterConsumerGroupOffsets: "
                        "%s\n",
                        ev ? rd_kafka_event_error_string(ev) : "timed out");
                goto done;
        } else {
                size_t n = 0;
                const rd_kafka_group_result_t **gr =
                    rd_kafka_AlterConsumerGroupOffsets_result_groups(
                        rd_kafka_event_AlterConsumerGroupOffsets_result(ev),
                        &n);
                const rd_kafka_topic_partition_list_t *pl;
                if (n != 1) {
                        fprintf(stderr, "partnerbus replay: "
                                        "AlterConsumerGroupOffsets: no "
                                        "result\n");
                        goto done;
                }
                if (rd_kafka_group_result_error(gr[0])) {
                        fprintf(stderr,
                                "partnerbus replay: moving the offsets of %s: "
                                "%s\n",
                                s->reset_group,
                                rd_kafka_error_string(
                                    rd_kafka_group_result_error(gr[0])));
                        goto done;
                }
                pl = rd_kafka_group_result_partitions(gr[0]);
                for (i = 0; pl && i < (size_t)pl->cnt; i++)
                        if (pl->elems[i].err) {
                                fprintf(
                                    stderr, "partnerbus replay: %s [%d]: %s\n",
                                    pl->elems[i].topic, pl->elems[i].partition,
                                    rd_kafka_err2str(pl->elems[i].err));
                                goto done;
                        }
        }
        fprintf(stderr,
                "partnerbus replay: group %s moved to %s on %d partition(s)\n",
                s->reset_group, ts, l->cnt);
        status = PB_EXIT_OK;
done:
        if (ev)
                rd_kafka_event_destroy(ev);
        if (alter)
                rd_kafka_AlterConsumerGroupOffsets_destroy(alter);
        if (q)
                rd_kafka_queue_destroy(q);
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
        pb_consumer_destroy(c);
        (void)why;
        return status;
}
