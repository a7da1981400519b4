/* partnerbus - one option table per service: every setting is a flag, an
 * environment variable and a config-file key, with one precedence:
 *
 *     flag  >  PARTNERBUS_<NAME>  >  config file  >  built-in default
 *
 * Modelled on Fluent Bit's config maps: a service declares a const table of
 * pb_opt_t (name, type, default, help, offset into its settings struct) and
 * pb_opts_parse() fills the struct, prints --help from the table and
 * --print-config (secrets masked).
 *
 * Config file (--config FILE or PARTNERBUS_CONFIG): lines `key = value`,
 * `#` comments, sections `[common]` (every service), `[<service>]` (that
 * service only) and `[kafka]` (librdkafka properties, like -X). Keys are
 * the option names (`listen`, `max-batch-events`); list options may repeat.
 *
 * Common options every service gets: --config, -b/--brokers, --schemas,
 * --schema-registry, --topic-prefix, -X key=value, --log-level,
 * --print-config, --help (and the hidden --help-markdown, which prints the
 * option table as Markdown for docs/: scripts/gen-option-docs.sh). */
#ifndef PB_OPTS_H
#define PB_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "partnerbus/pb_optmap.h"
#include "pb_cli.h"

typedef struct pb_cmd_spec {
        const char *name;    /* "gateway" */
        const char *summary; /* one line */
        const char *usage; /* "--brokers B --listen ADDR:PORT --tokens FILE" */
        const char *details; /* more --help text (examples), may be NULL */
        const pb_opt_t *opts;
        size_t nopts;
        int kafka; /* 1: takes the common Kafka options */
} pb_cmd_spec_t;

/* Parses argv (argv[0] is the command name) into `settings` (the struct the
 * table's offsets point into) and `common`. Returns -1 when the caller
 * should go on (*first_arg = index of the first positional argument), or an
 * exit status: 0 after --help / --print-config, 2 on a usage error (the
 * message is printed). Strings point into argv, the environment or memory
 * kept until pb_opts_free(). */
int pb_opts_parse(const pb_cmd_spec_t *spec, void *settings,
                  pb_cli_common_t *common, int argc, char **argv,
                  int *first_arg);
void pb_opts_free(void);
/* pb_opts_parse for a command that takes no positional argument: one is
 * a usage error. Returns -1 to go on, else the exit status (what
 * pb_opts_parse kept is freed by the caller, as after --help). */
int pb_opts_parse_args(const pb_cmd_spec_t *spec, void *settings,
                       pb_cli_common_t *common, int argc, char **argv);

/* pb_opts_parse for an HTTP API service whose settings hold *http, then
 * its common checks: --print-routes (print_routes() prints them), no
 * stray argument, --tls-cert with --tls-key or --insecure-http, 1 to 64
 * --threads. Returns -1 to go on, else the exit status (the options
 * freed). */
int pb_opts_parse_serve(const pb_cmd_spec_t *spec, void *settings,
                        const pb_cli_http_t *http, pb_cli_common_t *common,
                        int argc, char **argv, void (*print_routes)(void));

/* Run-time composition of a table from parts (a service's rows, a shared
 * group, a sink's table): names get `prefix` (NULL: none), offsets are
 * shifted by `base` (where the part's struct sits inside the settings).
 * Returns a malloc'd table of *n rows (pb_opts_compose_free), NULL when
 * out of memory. */
typedef struct pb_opts_part {
        const pb_opt_t *opts;
        size_t n;
        const char *prefix;
        size_t base;
} pb_opts_part_t;
pb_opt_t *pb_opts_compose(const pb_opts_part_t *parts, size_t nparts,
                          size_t *n);
void pb_opts_compose_free(pb_opt_t *opts, size_t n);
/* A service whose table is composed at run time: spec->opts and nopts
 * from the parts (0, or -1 when out of memory); the _free gives back the
 * table and what pb_opts_parse kept (pb_opts_free). */
int pb_opts_compose_spec(pb_cmd_spec_t *spec, const pb_opts_part_t *parts,
                         size_t nparts);
void pb_opts_compose_spec_free(pb_cmd_spec_t *spec);

/* The Markdown table of a service's options (flag, environment, config key,
 * type, default, meaning), as --help-markdown prints it and docs/ holds it
 * between <!-- options:NAME begin --> and <!-- options:NAME end -->. */
void pb_opts_print_markdown(const pb_cmd_spec_t *spec, FILE *fp);

/* pb_optmap_parse_duration() and pb_optmap_parse_size(): pb_optmap.h. */
/* Reads a secret from a file (first line, trailing newline stripped);
 * malloc'd, NULL with errstr on failure. */
char *pb_opts_read_secret(const char *path, char *errstr, size_t errstr_size);

/* Splits --topics (repeatable, comma-separated) into full topic names
 * (prefix applied); malloc'd array of malloc'd strings, *n set. NULL if
 * empty or out of memory. Used by relay, replay and report. */
char **pb_opts_topics(const pb_cli_common_t *cc, const pb_strlist_t *l,
                      size_t *n);
void pb_opts_topics_free(char **t, size_t n);

/* --where EXPR (repeatable): *out the filter of every expression (NULL
 * when there is none; the caller destroys it, also after a failure).
 * -1, or PB_EXIT_USAGE after printing why. Used by relay, replay and
 * report. */
typedef struct pb_filter pb_filter_t;
int pb_opts_where(const char *cmd, const pb_strlist_t *where,
                  pb_filter_t **out);

#endif
