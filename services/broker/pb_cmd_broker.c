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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pb_cli.h"

static const char *cmd = "broker";

static void broker_usage(FILE *fp) {
        fprintf(fp,
                "Usage: partnerbus broker [options]\n"
                "\n"
                "Runs an embedded Kafka-compatible development broker "
                "(librdkafka's mock\ncluster) on loopback, in memory, until "
                "SIGINT or SIGTERM. Prints its bootstrap\naddress on stdout; "
                "pass it to other commands with --brokers (or\n"
                "PARTNERBUS_BROKERS). Topics are created when first produced "
                "to. Data is lost\nwhen the broker stops. Not for "
                "production: use a real Kafka cluster there.\n"
                "Consumer groups work, but after a member leaves, the next "
                "member's join\nwaits for the group's session timeout "
                "(45 s by default); consumers that\nrestart often can pass "
                "-X session.timeout.ms=6000.\n"
                "\n"
                "Options:\n"
                "  -n, --brokers-count N    number of mock brokers, 1-16 "
                "(default 1; env\n"
                "                           PARTNERBUS_BROKERS_COUNT)\n"
                "  -o, --bootstrap-file F   also write the bootstrap address "
                "to file F\n"
                "                           (env PARTNERBUS_BOOTSTRAP_FILE)\n"
                "  -h, --help               this help\n"
                "\n"
                "Examples:\n"
                "  partnerbus broker\n"
                "  partnerbus broker --bootstrap-file /tmp/pb.bootstrap &\n"
                "  partnerbus produce -t aid.dispatched -b \"$(cat "
                "/tmp/pb.bootstrap)\" < events.jsonl\n");
}

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
        static const struct option opts[] = {
            {"brokers-count", required_argument, NULL, 'n'},
            {"bootstrap-file", required_argument, NULL, 'o'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0}};
        const char *count_arg = NULL, *file = NULL, *addr;
        long count;
        char *end;
        char err[512];
        pb_mock_broker_t *mb;
        int c;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":n:o:h", opts, NULL)) != -1) {
                switch (c) {
                case 'n':
                        count_arg = optarg;
                        break;
                case 'o':
                        file = optarg;
                        break;
                case 'h':
                        broker_usage(stdout);
                        return PB_EXIT_OK;
                case ':':
                        return pb_cli_usage_error(
                            cmd, "option '%s' needs a value",
                            argv[optind - 1]);
                default:
                        return pb_cli_usage_error(cmd, "unknown option '%s'",
                                                  argv[optind - 1]);
                }
        }
        if (optind < argc)
                return pb_cli_usage_error(cmd, "unexpected argument '%s'",
                                          argv[optind]);
        count_arg = pb_cli_setting(count_arg, "BROKERS_COUNT", "1");
        file = pb_cli_setting(file, "BOOTSTRAP_FILE", NULL);
        errno = 0;
        count = strtol(count_arg, &end, 10);
        if (errno || *end || end == count_arg || count < 1 || count > 16)
                return pb_cli_usage_error(
                    cmd, "--brokers-count expects a number from 1 to 16, "
                         "got '%s'",
                    count_arg);

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
        pb_log("info", "cmd=broker msg=\"embedded broker running\" "
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
