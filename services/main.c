/* partnerbus - one binary, one subcommand per service. */
#include <stdio.h>
#include <string.h>

#include "pb_cli.h"

typedef struct pb_command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} pb_command_t;

static const pb_command_t commands[] = {
    {"dev", pb_cmd_dev, "run broker, gateway and relays on this machine"},
    {"produce", pb_cmd_produce, "publish JSON events from stdin or a file"},
    {"consume", pb_cmd_consume, "print events from topics as JSON lines"},
    {"schemas", pb_cmd_schemas, "list, show, fingerprint and check schemas"},
    {"broker", pb_cmd_broker, "run the embedded development broker"},
    {"relay", pb_cmd_relay,
     "deliver topics to a webhook, an archive or JSON lines"},
    {"fleet", pb_cmd_fleet,
     "run every subscription of the self-service records (relay fleet)"},
    {"replay", pb_cmd_replay,
     "replay a time range of topics to JSONL/CSV/Avro, a topic or a webhook"},
    {"report", pb_cmd_report,
     "exact totals and charts: summary.json and report.html"},
    {"gateway", pb_cmd_gateway, "accept events over HTTP(S) and publish them"},
    {"poll", pb_cmd_poll,
     "poll a JSON/NDJSON/CSV feed and publish its changes"},
    {"admin", pb_cmd_admin,
     "self-service API and CLI: organisations, tokens, subscriptions"},
};

static void usage(FILE *fp) {
        size_t i;
        fprintf(fp,
                "partnerbus %s - the event bus between NRW, its municipalities,"
                " NGOs and their\nUkrainian partners.\n\n"
                "Usage: partnerbus <command> [options]\n\nCommands:\n",
                PB_VERSION);
        for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(fp, "  %-10s %s\n", commands[i].name,
                        commands[i].summary);
        fprintf(fp, "\nRun 'partnerbus <command> --help' for a command's "
                    "options.\n");
}

int main(int argc, char **argv) {
        size_t i;
        if (argc < 2) {
                usage(stderr);
                return PB_EXIT_USAGE;
        }
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
            !strcmp(argv[1], "help")) {
                usage(stdout);
                return PB_EXIT_OK;
        }
        if (!strcmp(argv[1], "--version")) {
                printf("partnerbus %s\n", PB_VERSION);
                return PB_EXIT_OK;
        }
        for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (!strcmp(argv[1], commands[i].name))
                        return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "partnerbus: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return PB_EXIT_USAGE;
}
