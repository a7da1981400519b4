/* partnerbus broker - the embedded development broker.
 *
 * librdkafka's mock cluster, in this process, on loopback, in memory: it
 * speaks enough of the Kafka protocol for producers (idempotent too),
 * consumers and consumer groups (join, sync, offset commit/fetch). Topics
 * are created on the first metadata request for them (by a producer or a
 * consumer), with 4 partitions. The mock coordinator starts a group's next
 * generation only after the session timeout of a member that left, even
 * after a clean LeaveGroup. Nothing survives a restart. For
 * anything beyond development and tests use a real Kafka cluster. It says
 * so at start, and whenever it dropped messages (watch_check). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "pb_opts.h"

static const char *cmd = "broker";

typedef struct broker_settings {
        long count;
        const char *bootstrap_file;
} broker_settings_t;

static const pb_opt_t broker_opts[] = {
    {"brokers-count", 'n', PB_OPT_INT, "1", "N", "number of mock brokers, 1-16",
     0, offsetof(broker_settings_t, count)},
    {"bootstrap-file", 'o', PB_OPT_STRING, NULL, "FILE",
     "also write the bootstrap address to FILE (removed on exit)", 0,
     offsetof(broker_settings_t, bootstrap_file)},
};

static const pb_cmd_spec_t broker_spec = {
    "broker",
    "Runs an embedded Kafka-compatible development broker (librdkafka's "
    "mock\ncluster) on loopback, in memory, until SIGINT or SIGTERM. Prints "
    "its bootstrap\naddress on stdout; pass it to other commands with "
    "--brokers (or\nPARTNERBUS_BROKERS). Topics are created on first use "
    "(4 partitions). Data is\nlost when the broker stops. Not for "
    "production: use a real Kafka cluster there.",
    "[options]",
    "A consumer group member that joins after another left waits for the "
    "session\ntimeout (45 s by default); use -X session.timeout.ms=6000 on "
    "the consumers.\n\nExamples:\n"
    "  partnerbus broker\n"
    "  partnerbus broker --bootstrap-file /tmp/pb.bootstrap &\n"
    "  partnerbus produce -t aid.dispatched -b \"$(cat /tmp/pb.bootstrap)\" "
    "< events.jsonl",
    broker_opts,
    sizeof(broker_opts) / sizeof(broker_opts[0]),
    0};

/* Writes the address to path atomically (temp file + rename) so a
 * reader polling for the file never sees it half written. */
static int write_bootstrap(const char *path, const char *addr) {
        char tmp[4096];
        FILE *fp;
        snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
        fp = fopen(tmp, "w");
        if (!fp)
                return -1;
        if (fprintf(fp, "%s\n", addr) < 0 || fclose(fp) != 0) {
                unlink(tmp);
                return -1;
        }
        if (rename(tmp, path) != 0) {
                unlink(tmp);
                return -1;
        }
        return 0;
}

/* --- retention watch ---
 *
 * The mock cluster keeps a partition's messages only up to about 5 MB (and
 * 100,000 message sets) and silently drops the oldest beyond: its log start
 * offset (the low watermark) moves up. Nothing else moves it (the mock has
 * no retention by time and no DeleteRecords), so a low watermark above 0
 * means messages are gone, and how many. A client of our own asks for the
 * watermarks of every partition every two seconds. */

#define WATCH_MAX 4096

typedef struct watch_part {
        char *topic;
        int32_t partition;
        int64_t low;
} watch_part_t;

typedef struct watch {
        rd_kafka_t *rk;
        watch_part_t p[WATCH_MAX];
        size_t n;
        int64_t dropped; /* in total */
} watch_t;

static int watch_init(watch_t *w, const char *bootstrap) {
        char why[256];
        rd_kafka_conf_t *rc = rd_kafka_conf_new();
        memset(w, 0, sizeof(*w));
        if (rd_kafka_conf_set(rc, "bootstrap.servers", bootstrap, why,
                              sizeof(why)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(rc, "log_level", "0", why, sizeof(why)) !=
                RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(rc);
                return -1;
        }
        w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rc, why, sizeof(why));
        if (!w->rk) {
                rd_kafka_conf_destroy(rc);
                return -1;
        }
        return 0;
}

static void watch_destroy(watch_t *w) {
        size_t i;
        for (i = 0; i < w->n; i++)
                free(w->p[i].topic);
        if (w->rk)
                rd_kafka_destroy(w->rk);
}

static watch_part_t *watch_find(watch_t *w, const char *topic, int32_t part) {
        size_t i;
        for (i = 0; i < w->n; i++)
                if (w->p[i].partition == part && !strcmp(w->p[i].topic, topic))
                        return &w->p[i];
        if (w->n == WATCH_MAX || !(w->p[w->n].topic = strdup(topic)))
                return NULL;
        w->p[w->n].partition = part;
        w->p[w->n].low = 0;
        return &w->p[w->n++];
}

static void watch_check(watch_t *w) {
        const struct rd_kafka_metadata *md = NULL;
        int t, i;
        if (!w->rk || rd_kafka_metadata(w->rk, 1, NULL, &md, 2000) !=
                          RD_KAFKA_RESP_ERR_NO_ERROR)
                return;
        for (t = 0; t < md->topic_cnt && !pb_cli_stop; t++) {
                const rd_kafka_metadata_topic_t *mt = &md->topics[t];
                if (!mt->topic || !strncmp(mt->topic, "__", 2))
                        continue;
                for (i = 0; i < mt->partition_cnt; i++) {
                        int64_t lo = 0, hi = 0;
                        watch_part_t *wp;
                        if (rd_kafka_query_watermark_offsets(
                                w->rk, mt->topic, mt->partitions[i].id, &lo,
                                &hi, 1000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                                continue;
                        wp = watch_find(w, mt->topic, mt->partitions[i].id);
                        if (!wp || lo <= wp->low)
                                continue;
                        w->dropped += lo - wp->low;
                        fprintf(stderr,
                                "partnerbus broker: WARNING: the mock broker "
                                "DROPPED %" PRId64 " message(s) of %s [%d] "
                                "(offsets %" PRId64 "-%" PRId64 "; %" PRId64
                                " lost in all): it keeps only about 5 MB "
                                "per partition. Use Apache Kafka to keep "
                                "history.\n",
                                lo - wp->low, mt->topic, (int)wp->partition,
                                wp->low, lo - 1, w->dropped);
                        wp->low = lo;
                }
        }
        rd_kafka_metadata_destroy(md);
}

int pb_cmd_broker(int argc, char **argv) {
        broker_settings_t bs;
        pb_cli_common_t cc;
        const char *file, *addr;
        long count;
        char err[512];
        pb_mock_broker_t *mb;
        int rc;
        unsigned ticks = 0;
        static watch_t w;

        memset(&bs, 0, sizeof(bs));
        if ((rc = pb_opts_parse_args(&broker_spec, &bs, &cc, argc, argv)) >= 0)
                return rc;
        count = bs.count;
        file = bs.bootstrap_file;
        if (count < 1 || count > 16)
                return pb_cli_usage_error(
                    cmd,
                    "--brokers-count expects a number from 1 to 16, "
                    "got %ld",
                    count);

        pb_cli_trap_signals();
        mb = pb_mock_broker_new((int)count, err, sizeof(err));
        if (!mb) {
                fprintf(stderr, "partnerbus broker: %s\n", err);
                return PB_EXIT_FAIL;
        }
        addr = pb_mock_broker_bootstraps(mb);
        if (file && write_bootstrap(file, addr) != 0) {
                fprintf(stderr, "partnerbus broker: %s: %s\n", file,
                        strerror(errno));
                pb_mock_broker_destroy(mb);
                return PB_EXIT_FAIL;
        }
        printf("%s\n", addr);
        fflush(stdout);
        fprintf(stderr,
                "partnerbus broker: WARNING: librdkafka's mock cluster keeps "
                "events in memory only: they are gone when it stops, and it "
                "drops a partition's oldest messages beyond about 5 MB. For "
                "trials and tests; to keep history use Apache Kafka "
                "('partnerbus dev' without --mock).\n");
        watch_init(&w, addr);
        pb_log("info",
               "cmd=broker msg=\"embedded broker running\" "
               "bootstrap=%s brokers=%ld",
               addr, count);
        while (!pb_cli_stop) {
                struct timespec ts = {0, 200 * 1000000L};
                nanosleep(&ts, NULL);
                if (++ticks % 10 == 0)
                        watch_check(&w);
        }
        watch_destroy(&w);
        pb_log("info", "cmd=broker msg=\"stopping\"");
        if (file)
                unlink(file);
        pb_mock_broker_destroy(mb);
        return PB_EXIT_OK;
}
