/* partnerbus schemas - list, show, fingerprint and check event schemas.
 *
 *   partnerbus schemas list
 *   partnerbus schemas show TYPE|FILE [--canonical]
 *   partnerbus schemas fingerprint TYPE|FILE [--canonical]
 *   partnerbus schemas check OLD NEW [--require LEVEL]
 *
 * Options may stand anywhere after `schemas` (they are moved in front of
 * the positional words before the common option parser sees them). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pb_cli.h"
#include "pb_opts.h"

#define CMD "schemas"

typedef struct pb_schemas_settings {
        const char *require; /* none | backward | forward | full */
        int canonical;
} pb_schemas_settings_t;

static const pb_opt_t pb_schemas_opts[] = {
    {"require", 'r', PB_OPT_STRING, "backward", "LEVEL",
     "check: compatibility that must hold for exit status 0: none, "
     "backward, forward or full",
     0, offsetof(pb_schemas_settings_t, require)},
    {"canonical", 'c', PB_OPT_BOOL, "false", NULL,
     "show/fingerprint: also print the Parsing Canonical Form", 0,
     offsetof(pb_schemas_settings_t, canonical)},
};

static const pb_cmd_spec_t pb_schemas_spec = {
    CMD,
    "List, show, fingerprint and check the Avro schemas of the event types.",
    "list | show TYPE | fingerprint TYPE | check OLD NEW  [options]",
    "Actions:\n"
    "  list              one line per event type: type, Avro full name, key\n"
    "                    field (- if none), CRC-64-AVRO fingerprint (hex)\n"
    "  show TYPE         the schema JSON as loaded (with --canonical: its\n"
    "                    Parsing Canonical Form instead)\n"
    "  fingerprint TYPE  the CRC-64-AVRO fingerprint of the Parsing Canonical\n"
    "                    Form as 16 hex digits, the 64-bit value most\n"
    "                    significant digit first (the single-object header\n"
    "                    carries the same value little-endian, and tools\n"
    "                    that print the fingerprint's bytes, like fastavro\n"
    "                    or Java's parsingFingerprint, show them reversed);\n"
    "                    with --canonical the canonical form follows on a\n"
    "                    second line\n"
    "  check OLD NEW     compatibility of NEW with OLD, per the Avro\n"
    "                    specification's schema resolution:\n"
    "                      BACKWARD  NEW reads data written with OLD\n"
    "                      FORWARD   OLD reads data written with NEW\n"
    "                      FULL      both;  NONE  neither\n"
    "                    prints the level, then 'backward: REASON' and/or\n"
    "                    'forward: REASON' for each direction that fails.\n"
    "\n"
    "TYPE, OLD and NEW are event types from the schema directory\n"
    "(aid.dispatched) or Avro full names, or paths of .avsc files (anything\n"
    "containing '/' or ending in .avsc, or an existing file).\n"
    "\n"
    "Exit status: 0 success; for check, 0 only if the --require level holds\n"
    "(default backward: new readers can read all old data, the level Kafka\n"
    "schema registries use by default); 1 if it does not hold, or on an\n"
    "unknown type or an invalid schema; 2 on a usage error.\n"
    "\n"
    "Examples:\n"
    "  partnerbus schemas list\n"
    "  partnerbus schemas fingerprint aid.dispatched --canonical\n"
    "  partnerbus schemas check schemas/history/aid.dispatched.v1.avsc "
    "aid.dispatched\n"
    "  partnerbus schemas check old.avsc new.avsc --require full",
    pb_schemas_opts,
    sizeof(pb_schemas_opts) / sizeof(pb_schemas_opts[0]),
    0,
};

/* Options that take a value in the next word when written without '='. */
static int pb_schemas_opt_takes_value(const char *a) {
        static const char *const longs[] = {"--schemas", "--config",
                                            "--log-level", "--require"};
        size_t i;
        if (strchr(a, '='))
                return 0;
        if (!strcmp(a, "-r"))
                return 1;
        for (i = 0; i < sizeof(longs) / sizeof(longs[0]); i++)
                if (!strcmp(a, longs[i]))
                        return 1;
        return 0;
}

/* out = cmd, options..., positionals... (out has argc+1 slots). Returns
 * the number of option words placed. */
static int pb_schemas_permute(int argc, char **argv, char **out) {
        int i, n = 1, npos = 0;
        char **pos = calloc((size_t)argc + 1, sizeof(char *));
        if (!pos)
                return -1;
        out[0] = argv[0];
        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (!strcmp(a, "--")) {
                        for (i++; i < argc; i++)
                                pos[npos++] = argv[i];
                        break;
                }
                if (a[0] == '-' && a[1]) {
                        out[n++] = argv[i];
                        if (pb_schemas_opt_takes_value(a) && i + 1 < argc)
                                out[n++] = argv[++i];
                } else {
                        pos[npos++] = argv[i];
                }
        }
        /* "--" keeps positionals that start with '-' out of getopt */
        out[n++] = "--";
        memcpy(out + n, pos, (size_t)npos * sizeof(char *));
        out[n + npos] = NULL;
        free(pos);
        return n + npos;
}

/* A schema named on the command line: a file, or a type of the catalog. */
typedef struct pb_named_schema {
        const pb_schema_t *s;
        pb_schema_t *owned; /* from a file; freed by the caller */
} pb_named_schema_t;

static int pb_looks_like_file(const char *a) {
        struct stat st;
        size_t n = strlen(a);
        if (strchr(a, '/') || (n > 5 && !strcmp(a + n - 5, ".avsc")))
                return 1;
        return stat(a, &st) == 0 && S_ISREG(st.st_mode);
}

/* Loads the catalog on first use; prints errors. 0 ok, -1 failed. */
static int pb_schemas_resolve(const char *arg, const pb_cli_common_t *common,
                              pb_schemas_t **cat, pb_named_schema_t *out) {
        char err[512];
        size_t i;
        memset(out, 0, sizeof(*out));
        if (pb_looks_like_file(arg)) {
                out->owned = pb_schema_new_file(arg, err, sizeof(err));
                if (!out->owned) {
                        fprintf(stderr, "partnerbus %s: %s\n", CMD, err);
                        return -1;
                }
                out->s = out->owned;
                return 0;
        }
        if (!*cat && !(*cat = pb_cli_load_schemas(CMD, common)))
                return -1;
        out->s = pb_schemas_find(*cat, arg);
        for (i = 0; !out->s && i < pb_schemas_count(*cat); i++)
                if (!strcmp(pb_schema_fullname(pb_schemas_at(*cat, i)), arg))
                        out->s = pb_schemas_at(*cat, i);
        if (out->s)
                return 0;
        fprintf(stderr, "partnerbus %s: unknown event type '%s'; known:", CMD,
                arg);
        for (i = 0; i < pb_schemas_count(*cat); i++)
                fprintf(stderr, " %s", pb_schema_type(pb_schemas_at(*cat, i)));
        fprintf(stderr, "\n");
        return -1;
}

static int pb_schemas_list(const pb_cli_common_t *common) {
        pb_schemas_t *cat = pb_cli_load_schemas(CMD, common);
        size_t i, wt = 4, wf = 8, wk = 3;
        if (!cat)
                return PB_EXIT_FAIL;
        for (i = 0; i < pb_schemas_count(cat); i++) {
                const pb_schema_t *s = pb_schemas_at(cat, i);
                const char *k = pb_schema_key_field(s);
                if (strlen(pb_schema_type(s)) > wt)
                        wt = strlen(pb_schema_type(s));
                if (strlen(pb_schema_fullname(s)) > wf)
                        wf = strlen(pb_schema_fullname(s));
                if (k && strlen(k) > wk)
                        wk = strlen(k);
        }
        for (i = 0; i < pb_schemas_count(cat); i++) {
                const pb_schema_t *s = pb_schemas_at(cat, i);
                const char *k = pb_schema_key_field(s);
                printf("%-*s  %-*s  %-*s  %016" PRIx64 "\n", (int)wt,
                       pb_schema_type(s), (int)wf, pb_schema_fullname(s),
                       (int)wk, k ? k : "-", pb_schema_fingerprint(s));
        }
        pb_schemas_destroy(cat);
        return PB_EXIT_OK;
}

static int pb_schemas_check(const pb_named_schema_t *o,
                            const pb_named_schema_t *n, const char *require) {
        char back[1024], fwd[1024];
        pb_compat_t c = pb_schema_compat(o->s, n->s, back, fwd, sizeof(back));
        int need = PB_COMPAT_NONE;
        if (!strcmp(require, "backward"))
                need = PB_COMPAT_BACKWARD;
        else if (!strcmp(require, "forward"))
                need = PB_COMPAT_FORWARD;
        else if (!strcmp(require, "full"))
                need = PB_COMPAT_FULL;
        printf("%s\n", pb_compat_name(c));
        if (!(c & PB_COMPAT_BACKWARD))
                printf("backward: %s\n", back);
        if (!(c & PB_COMPAT_FORWARD))
                printf("forward: %s\n", fwd);
        return ((int)c & need) == need ? PB_EXIT_OK : PB_EXIT_FAIL;
}

int pb_cmd_schemas(int argc, char **argv) {
        pb_schemas_settings_t set;
        pb_cli_common_t common;
        pb_schemas_t *cat = NULL;
        pb_named_schema_t a = {0}, b = {0};
        char **args;
        const char *action;
        int first = 0, rc, nargs, npos;

        memset(&set, 0, sizeof(set));
        args = calloc((size_t)argc + 2, sizeof(char *));
        if (!args) {
                fprintf(stderr, "partnerbus %s: out of memory\n", CMD);
                return PB_EXIT_FAIL;
        }
        nargs = pb_schemas_permute(argc, argv, args);
        if (nargs < 0) {
                free(args);
                fprintf(stderr, "partnerbus %s: out of memory\n", CMD);
                return PB_EXIT_FAIL;
        }
        rc =
            pb_opts_parse(&pb_schemas_spec, &set, &common, nargs, args, &first);
        if (rc >= 0)
                goto out;
        rc = PB_EXIT_OK;
        if (strcmp(set.require, "none") && strcmp(set.require, "backward") &&
            strcmp(set.require, "forward") && strcmp(set.require, "full")) {
                rc = pb_cli_usage_error(CMD,
                                        "--require %s: expected none, "
                                        "backward, forward or full",
                                        set.require);
                goto out;
        }
        npos = nargs - first;
        if (npos < 1) {
                rc = pb_cli_usage_error(CMD, "missing action: list, show, "
                                             "fingerprint or check");
                goto out;
        }
        action = args[first];
        if (!strcmp(action, "list")) {
                if (npos != 1) {
                        rc = pb_cli_usage_error(CMD, "list takes no "
                                                     "arguments");
                        goto out;
                }
                rc = pb_schemas_list(&common);
        } else if (!strcmp(action, "show") || !strcmp(action, "fingerprint")) {
                if (npos != 2) {
                        rc = pb_cli_usage_error(CMD, "%s takes one TYPE",
                                                action);
                        goto out;
                }
                if (pb_schemas_resolve(args[first + 1], &common, &cat, &a)) {
                        rc = PB_EXIT_FAIL;
                        goto out;
                }
                if (action[0] == 's') {
                        const char *j = set.canonical ? pb_schema_canonical(a.s)
                                                      : pb_schema_json(a.s);
                        size_t n = strlen(j);
                        fputs(j, stdout);
                        if (!n || j[n - 1] != '\n')
                                putchar('\n');
                } else {
                        printf("%016" PRIx64 "\n", pb_schema_fingerprint(a.s));
                        if (set.canonical)
                                printf("%s\n", pb_schema_canonical(a.s));
                }
        } else if (!strcmp(action, "check")) {
                if (npos != 3) {
                        rc = pb_cli_usage_error(CMD, "check takes OLD and "
                                                     "NEW");
                        goto out;
                }
                if (pb_schemas_resolve(args[first + 1], &common, &cat, &a) ||
                    pb_schemas_resolve(args[first + 2], &common, &cat, &b)) {
                        rc = PB_EXIT_FAIL;
                        goto out;
                }
                rc = pb_schemas_check(&a, &b, set.require);
        } else {
                rc = pb_cli_usage_error(CMD,
                                        "unknown action '%s': expected list, "
                                        "show, fingerprint or check",
                                        action);
        }
out:
        if (fflush(stdout) != 0 && rc == PB_EXIT_OK)
                rc = PB_EXIT_FAIL;
        pb_schema_destroy(a.owned);
        pb_schema_destroy(b.owned);
        pb_schemas_destroy(cat);
        pb_opts_free();
        free(args);
        return rc;
}
