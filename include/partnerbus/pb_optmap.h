/* partnerbus_base - option maps: typed option tables and the one grammar of
 * their values (durations, sizes, booleans), shared by the services' option
 * tables (services/common/pb_opts.h: flags, PARTNERBUS_* environment, config
 * file) and the connectors, which declare their options here so that a sink
 * can be configured from a flag, a config key or a JSON object alike.
 *
 * A table is an array of pb_opt_t whose offsets point into one settings
 * struct; pb_optmap_store() parses a text value into its field. Values are
 * never printed back into text for a second parser.
 *
 * Grammar (docs/configuration.md, "Values"):
 *   duration  a number with a unit ms, s, m, h or d ("250ms", "1.5s", "7d");
 *             a bare number is SECONDS ("30" = 30s) everywhere.
 *   size      a whole number with an optional unit B, K/KB/KiB, M/MB/MiB,
 *             G/GB/GiB (all powers of 1024); a bare number is BYTES.
 *   bool      true/false, yes/no, on/off, 1/0 (case-insensitive). */
#ifndef PB_OPTMAP_H
#define PB_OPTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "pb_json.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* "30s" -> 30000, "30" -> 30000 (bare number: seconds); -1 if invalid. */
int64_t pb_optmap_parse_duration(const char *s);
/* "1MiB" -> 1048576, "512" -> 512; (size_t)-1 if invalid. */
size_t pb_optmap_parse_size(const char *s);
/* 1 / 0, -1 if not a boolean. */
int pb_optmap_parse_bool(const char *s);
/* The former names (pb_opts_ is services/common's prefix), kept until
 * the branches still using them are merged; new code uses pb_optmap_. */
#define pb_opts_parse_duration pb_optmap_parse_duration
#define pb_opts_parse_size     pb_optmap_parse_size
#define pb_opts_parse_bool     pb_optmap_parse_bool

/* Option `name` of the table, NULL if none. */
const pb_opt_t *pb_optmap_find(const pb_opt_t *opts, size_t n,
                               const char *name);

/* Parses text value v into the field of opt (settings + opt->offset); v is
 * kept by pointer for strings and lists. `append`: a list value adds
 * instead of replacing. 0, or -1 with "--NAME: 'v' is not ..." in err. */
int pb_optmap_store(const pb_opt_t *opt, void *settings, const char *v,
                    int append, char *err, size_t errsz);

/* Stores every default of the table. 0, or -1 with err. */
int pb_optmap_defaults(const pb_opt_t *opts, size_t n, void *settings,
                       char *err, size_t errsz);

/* Applies a JSON object to a table: each member names an option; strings
 * go through the same grammar as flags, numbers are taken as their text
 * (so a bare number is seconds for a duration and bytes for a size), true
 * and false set booleans, arrays of strings fill lists. Strings stay
 * pointers into the JSON tree, which must outlive `settings`.
 * Returns the number of errors (0: all applied); each error is one line
 * "POINTER: message" in err (JSON Pointer of the offending member, e.g.
 * "/timeout: 'soon' is not a duration"), "" when there were none.
 * Unknown members are errors. `ptr` is the pointer of `obj` itself ("" for
 * the root). */
int pb_optmap_apply_json(const pb_opt_t *opts, size_t n, void *settings,
                         const pb_json_t *obj, const char *ptr, char *err,
                         size_t errsz);

/* Text of a field for --print-config ("30000ms", "true", "********" for a
 * set secret); lists: the values joined by ", ". */
void pb_optmap_format(const pb_opt_t *o, const void *settings, char *out,
                      size_t outsz);

/* Type name for docs: "string", "int", "bool", "duration", "size", "list". */
const char *pb_optmap_type_name(pb_opt_type_t t);

#ifdef __cplusplus
}
#endif
#endif
