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
 * --print-config, --help. */
#ifndef PB_OPTS_H
#define PB_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "pb_cli.h"

typedef enum pb_opt_type {
        PB_OPT_STRING,   /* const char * */
        PB_OPT_INT,      /* long */
        PB_OPT_BOOL,     /* int; a flag without value sets 1 */
        PB_OPT_DURATION, /* int64_t milliseconds: 250ms, 30s, 5m, 24h, 7d */
        PB_OPT_SIZE,     /* size_t bytes: 512, 64KiB, 1MiB, 2GiB */
        PB_OPT_LIST,     /* pb_strlist_t; repeatable (values are kept as
                            given: a service splits T1,T2 itself where a
                            comma-separated form makes sense) */
} pb_opt_type_t;

#define PB_OPT_SECRET   0x1 /* masked in --print-config, never logged */
#define PB_OPT_REQUIRED 0x2 /* error (exit 2) if unset after all sources */

typedef struct pb_opt {
        const char *name; /* "listen": --listen, PARTNERBUS_LISTEN, listen */
        char short_name;  /* 'l' or 0 */
        pb_opt_type_t type;
        const char *def;     /* default as text, NULL = unset */
        const char *metavar; /* "ADDR:PORT" for --help */
        const char *help;
        int flags;
        size_t offset; /* offsetof(settings struct, field) */
} pb_opt_t;

#define PB_STRLIST_MAX 64
typedef struct pb_strlist {
        const char *v[PB_STRLIST_MAX];
        size_t n;
} pb_strlist_t;

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

/* "30s" -> 30000; -1 if invalid. */
int64_t pb_opts_parse_duration(const char *s);
/* "1MiB" -> 1048576; (size_t)-1 if invalid. */
size_t pb_opts_parse_size(const char *s);
/* Reads a secret from a file (first line, trailing newline stripped);
 * malloc'd, NULL with errstr on failure. */
char *pb_opts_read_secret(const char *path, char *errstr, size_t errstr_size);

#endif
