/* partnerbus broker - the embedded development broker.
 *
 * librdkafka's mock cluster, in this process, on loopback, in memory: it
 * speaks enough of the Kafka protocol for producers (idempotent too),
 * consumers and consumer groups (join, sync, offset commit/fetch). Topics
 * are created on the first metadata request for them (by a producer or a
 * consumer), with 4 partitions. The mock coordinator starts a group's next
 * generation only after the session timeout of a member that left, even
 * after a clean LeaveGroup. Nothing survives a restart. For
 * anything beyond development and tests use a real Kafka cluster. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int pb_cmd_broker(int argc, char **argv) {
        broker_settings_t bs;
        pb_cli_common_t cc;
        const char *file, *addr;
        long count;
        char err[512];
        pb_mock_broker_t *mb;
        int first = 0, rc;

        memset(&bs, 0, sizeof(bs));
        if ((rc = pb_opts_parse(&broker_spec, &bs, &cc, argc, argv, &first)) >=
            0)
                return rc;
        if (first < argc)
                return pb_cli_usage_error(cmd, "unexpected argument '%s'",
                                          argv[first]);
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
        pb_log("info",
               "cmd=broker msg=\"embedded broker running\" "
               "bootstrap=%s brokers=%ld",
               addr, count);
        while (!pb_cli_stop) {
                struct timespec ts = {0, 200 * 1000000L};
                nanosleep(&ts, NULL);
        }
        pb_log("info", "cmd=broker msg=\"stopping\"");
        if (file)
                unlink(file);
        pb_mock_broker_destroy(mb);
        return PB_EXIT_OK;
}
