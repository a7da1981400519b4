/* partnerbus - one binary, one subcommand per service. */
#include <stdio.h>
#include <string.h>

#include "pb_cli.h"

typedef struct pb_command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} pb_command_t;

#define PB_CMD_ROW(name, summary) {#name, pb_cmd_##name, summary},
static const pb_command_t commands[] = {PB_COMMANDS(PB_CMD_ROW)};
#undef PB_CMD_ROW

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
