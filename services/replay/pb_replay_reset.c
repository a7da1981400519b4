/* partnerbus replay --reset-group G --to-time TIME: moves a consumer
 * group's committed offsets to a point in time, like
 * `kafka-consumer-groups --reset-offsets --to-datetime`. Order:
 *   1. DescribeConsumerGroups: refuse while the group has members (a
 *      running relay would overwrite the offsets with its next commit);
 *   2. per partition of --topics, ListOffsets by time: the first offset
 *      whose Kafka timestamp (publish time) is >= TIME, the end offset
 *      where there is none;
 *   3. AlterConsumerGroupOffsets (the broker refuses it too while the
 *      group is active), then every partition's result is checked.
 * The Kafka calls are lib/kafka's admin helpers (pb_kafka_group_active,
 * pb_kafka_offsets_new / _for_time, pb_kafka_group_commit), the same
 * time -> offsets lookup the history source uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_replay_cmd.h"
#include "pb_replay_src.h"

#define ADMIN_TIMEOUT_MS 30000

/* Refuses (usage or failure) before anything is asked of Kafka. -1 when
 * the options are fine, else the exit status. */
static int check_options(pb_replay_settings_t *s, int64_t *when) {
        const char *cmd = "replay";
        if (!s->to_time)
                return pb_cli_usage_error(cmd, "--reset-group needs --to-time");
        if (pb_replay_src_parse_time(s->to_time, when))
                return pb_cli_usage_error(cmd, "--to-time: not a time: %s",
                                          s->to_time);
        if (s->h.since || s->h.until || s->h.archive || s->to_topic ||
            s->to_url || s->out)
                return pb_cli_usage_error(cmd, "--reset-group takes only "
                                               "--topics, --to-time and "
                                               "--dry-run");
        if (!pb_cli_require_brokers(cmd, &s->cc))
                return PB_EXIT_USAGE;
        return -1;
}

int pb_replay_reset_group(pb_replay_settings_t *s, const char *const *topics,
                          size_t ntopics) {
        int64_t when;
        char e[512], why[512], ts[40];
        pb_consumer_t *c = NULL;
        pb_consumer_opts_t co;
        pb_kafka_offsets_t *o = NULL;
        void *rk;
        int status, active = 0;
        size_t i;
        status = check_options(s, &when);
        if (status >= 0)
                return status;
        status = PB_EXIT_FAIL;
        memset(&co, 0, sizeof(co));
        c = pb_consumer_new(&s->cc.kconf, &co, topics, ntopics, e, sizeof(e));
        if (!c) {
                fprintf(stderr, "partnerbus replay: %s\n", e);
                return PB_EXIT_FAIL;
        }
        rk = pb_consumer_rk(c);
        pb_consumer_unassign(c);
        if (pb_kafka_group_active(rk, s->reset_group, ADMIN_TIMEOUT_MS, &active,
                                  why, sizeof(why)) != PB_OK ||
            active) {
                fprintf(stderr, "partnerbus replay: %s%s\n", why,
                        active ? "; refusing to move its offsets: stop its "
                                 "consumers (relays) first"
                               : "");
                goto done;
        }
        o = pb_kafka_offsets_new(rk, topics, ntopics, 15000, e, sizeof(e));
        if (!o) {
                fprintf(stderr, "partnerbus replay: %s\n", e);
                goto done;
        }
        if (pb_kafka_offsets_for_time(rk, o, when, 15000, e, sizeof(e)) !=
            PB_OK) {
                fprintf(stderr,
                        "partnerbus replay: offsets by time (ListOffsets): %s; "
                        "the broker cannot look up offsets by time, nothing "
                        "changed\n",
                        e);
                goto done;
        }
        pb_rfc3339_format(when, ts, sizeof(ts));
        for (i = 0; i < o->n; i++)
                printf("%s\t%s\t%d\t%lld\n", s->reset_group, o->p[i].topic,
                       o->p[i].partition, (long long)o->p[i].offset);
        fflush(stdout);
        if (s->dry_run) {
                fprintf(stderr,
                        "partnerbus replay: dry run: group %s would restart "
                        "at %s (offsets above); nothing changed\n",
                        s->reset_group, ts);
                status = PB_EXIT_OK;
                goto done;
        }
        if (pb_kafka_group_commit(rk, s->reset_group, o, ADMIN_TIMEOUT_MS, e,
                                  sizeof(e)) != PB_OK) {
                fprintf(stderr, "partnerbus replay: %s\n", e);
                goto done;
        }
        fprintf(stderr,
                "partnerbus replay: group %s moved to %s on %zu partition(s)\n",
                s->reset_group, ts, o->n);
        status = PB_EXIT_OK;
done:
        pb_kafka_offsets_destroy(o);
        pb_consumer_destroy(c);
        return status;
}
