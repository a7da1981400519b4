/* partnerbus - option tables: flags, PARTNERBUS_* environment, config file.
 * See pb_opts.h for the precedence and the file format. */
#include "pb_opts.h"
#include "partnerbus/pb_util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_filter.h"

/* Built-in options shared by every service; the values land in
 * pb_cli_common_t, not in the service's settings. */
enum {
        PB_CO_CONFIG = 1000,
        PB_CO_BROKERS,
        PB_CO_SCHEMAS,
        PB_CO_REGISTRY,
        PB_CO_PREFIX,
        PB_CO_LOGLEVEL,
        PB_CO_PRINT,
        PB_CO_HELP,
        PB_CO_MARKDOWN,
        PB_CO_X,
        PB_CO_TABLE = 2000, /* + index into spec->opts */
};

typedef struct pb_common_opt {
        const char *name;
        int id;
        const char *metavar;
        const char *help;
        int kafka; /* only for services that talk to Kafka */
} pb_common_opt_t;

static const pb_common_opt_t common_opts[] = {
    {"brokers", PB_CO_BROKERS, "HOST:PORT,...",
     "Kafka bootstrap servers (default: none; see 'partnerbus broker')", 1},
    {"schemas", PB_CO_SCHEMAS, "DIR", "directory of the event schemas (*.avsc)",
     0},
    {"schema-registry", PB_CO_REGISTRY, "URL",
     "Confluent-compatible schema registry; switches the framing to the "
     "Confluent wire format",
     1},
    {"topic-prefix", PB_CO_PREFIX, "PREFIX",
     "prefix of every topic name (topic = prefix + event type)", 1},
    {"config", PB_CO_CONFIG, "FILE", "config file (see docs/configuration.md)",
     0},
    {"log-level", PB_CO_LOGLEVEL, "LEVEL", "debug, info, warn or error", 0},
    {"print-config", PB_CO_PRINT, NULL,
     "print the effective configuration (secrets masked) and exit", 0},
    {"help", PB_CO_HELP, NULL, "show this help and exit", 0},
    {"help-markdown", PB_CO_MARKDOWN, NULL, NULL, 0}, /* hidden: docs/ */
};
#define NCOMMON (sizeof(common_opts) / sizeof(common_opts[0]))

/* Short forms of common options: the letter and the long option's id. */
typedef struct pb_common_short {
        char c;
        int id;
        int kafka;
} pb_common_short_t;

static const pb_common_short_t common_shorts[] = {
    {'X', 'X', 1},           {'b', PB_CO_BROKERS, 1},
    {'p', PB_CO_PREFIX, 1},  {'r', PB_CO_REGISTRY, 1},
    {'s', PB_CO_SCHEMAS, 0},
};

static int table_has_short(const pb_cmd_spec_t *spec, char c) {
        size_t i;
        for (i = 0; i < spec->nopts; i++)
                if (spec->opts[i].short_name == c)
                        return 1;
        return 0;
}

/* The long option id a common short letter stands for, 0 if none. */
static int common_short_id(const pb_cmd_spec_t *spec, int c) {
        size_t i;
        if (c <= 0 || c > 127 || table_has_short(spec, (char)c))
                return 0;
        for (i = 0; i < sizeof(common_shorts) / sizeof(common_shorts[0]); i++)
                if (common_shorts[i].c == c &&
                    (!common_shorts[i].kafka || spec->kafka))
                        return common_shorts[i].id;
        return 0;
}

/* Strings read from the config file live here until pb_opts_free(). */
static char **owned;
static size_t nowned, capowned;

static const char *keep(const char *s, size_t n) {
        char *p;
        if (PB_ARRAY_RESERVE(owned, capowned, nowned, 1, 32))
                return NULL;
        p = strndup(s, n);
        if (p)
                owned[nowned++] = p;
        return p;
}

void pb_opts_free(void) {
        size_t i;
        for (i = 0; i < nowned; i++)
                free(owned[i]);
        free(owned);
        owned = NULL;
        nowned = capowned = 0;
}

char *pb_opts_read_secret(const char *path, char *errstr, size_t errstr_size) {
        FILE *fp = fopen(path, "r");
        char buf[4096];
        size_t n;
        if (!fp) {
                snprintf(errstr, errstr_size, "cannot open %s: %s", path,
                         strerror(errno));
                return NULL;
        }
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = 0;
        buf[strcspn(buf, "\r\n")] = 0;
        if (!buf[0]) {
                snprintf(errstr, errstr_size, "%s is empty", path);
                return NULL;
        }
        return strdup(buf);
}

static void env_name(const char *name, char *buf, size_t size) {
        size_t i, j = 0;
        const char *p = "PARTNERBUS_";
        for (i = 0; p[i] && j + 1 < size; i++)
                buf[j++] = p[i];
        for (i = 0; name[i] && j + 1 < size; i++)
                buf[j++] = name[i] == '-'
                               ? '_'
                               : (char)toupper((unsigned char)name[i]);
        buf[j] = 0;
}

/* Stores text value v into the field of opt (the one grammar of
 * pb_optmap.h). */
static int store(const pb_opt_t *opt, void *settings, const char *v, int append,
                 char *err, size_t errsz) {
        return pb_optmap_store(opt, settings, v, append, err, errsz);
}

static const pb_opt_t *find_opt(const pb_cmd_spec_t *spec, const char *name,
                                size_t len) {
        size_t i;
        for (i = 0; i < spec->nopts; i++)
                if (strlen(spec->opts[i].name) == len &&
                    !strncmp(spec->opts[i].name, name, len))
                        return &spec->opts[i];
        return NULL;
}

static void trim(const char **s, const char **e) {
        while (*s < *e && isspace((unsigned char)**s))
                (*s)++;
        while (*e > *s && isspace((unsigned char)(*e)[-1]))
                (*e)--;
}

static const char *log_level_value;

/* Where a common option's value goes (NULL: it has none, or is handled
 * on its own: --config, -X, --help ...). */
static const char **common_slot(pb_cli_common_t *c, int id) {
        switch (id) {
        case PB_CO_BROKERS:
                return &c->brokers;
        case PB_CO_SCHEMAS:
                return &c->schemas_dir;
        case PB_CO_REGISTRY:
                return &c->schema_registry;
        case PB_CO_PREFIX:
                return &c->topic_prefix;
        case PB_CO_LOGLEVEL:
                return &log_level_value;
        default:
                return NULL;
        }
}

/* Common settings by name, for the config file. */
static const char **common_field(pb_cli_common_t *c, const char *name) {
        size_t i;
        for (i = 0; i < NCOMMON; i++)
                if (!strcmp(name, common_opts[i].name))
                        return common_slot(c, common_opts[i].id);
        return NULL;
}

static int read_config(const pb_cmd_spec_t *spec, void *settings,
                       pb_cli_common_t *common, const char *path, char *err,
                       size_t errsz) {
        FILE *fp = fopen(path, "r");
        char line[4096];
        int lineno = 0;
        int active = 1; /* before any section: common */
        int kafka = 0;
        /* list options named in the file replace the defaults once */
        unsigned char list_seen[256] = {0};
        if (!fp) {
                snprintf(err, errsz, "cannot open config file %s: %s", path,
                         strerror(errno));
                return -1;
        }
        while (fgets(line, sizeof(line), fp)) {
                const char *s = line, *e = line + strlen(line), *eq;
                const char *k, *ke, *v, *ve;
                lineno++;
                if (e > s && e[-1] != '\n' && !feof(fp)) {
                        snprintf(err, errsz, "%s:%d: line too long", path,
                                 lineno);
                        fclose(fp);
                        return -1;
                }
                trim(&s, &e);
                if (s == e || *s == '#' || *s == ';')
                        continue;
                if (*s == '[') {
                        size_t n;
                        if (e[-1] != ']') {
                                snprintf(err, errsz, "%s:%d: bad section", path,
                                         lineno);
                                fclose(fp);
                                return -1;
                        }
                        s++;
                        n = (size_t)(e - 1 - s);
                        kafka = n == 5 && !strncmp(s, "kafka", 5);
                        active = kafka ||
                                 (n == 6 && !strncmp(s, "common", 6)) ||
                                 (n == strlen(spec->name) &&
                                  !strncmp(s, spec->name, n));
                        continue;
                }
                if (!active)
                        continue;
                eq = memchr(s, '=', (size_t)(e - s));
                if (!eq) {
                        snprintf(err, errsz, "%s:%d: expected key = value",
                                 path, lineno);
                        fclose(fp);
                        return -1;
                }
                k = s;
                ke = eq;
                v = eq + 1;
                ve = e;
                trim(&k, &ke);
                trim(&v, &ve);
                if (kafka) {
                        /* librdkafka property: stored as "key=value" */
                        char kv[4096];
                        const char *p;
                        snprintf(kv, sizeof(kv), "%.*s=%.*s", (int)(ke - k), k,
                                 (int)(ve - v), v);
                        if (!(p = keep(kv, strlen(kv))) ||
                            pb_kafka_conf_add(&common->kconf, p) != PB_OK) {
                                snprintf(err, errsz,
                                         "%s:%d: bad Kafka property", path,
                                         lineno);
                                fclose(fp);
                                return -1;
                        }
                        continue;
                }
                {
                        char name[128];
                        const pb_opt_t *opt;
                        const char **cf;
                        const char *val;
                        snprintf(name, sizeof(name), "%.*s", (int)(ke - k), k);
                        val = keep(v, (size_t)(ve - v));
                        if (!val) {
                                fclose(fp);
                                return -1;
                        }
                        if ((cf = common_field(common, name))) {
                                *cf = val;
                                continue;
                        }
                        opt = find_opt(spec, name, strlen(name));
                        if (!opt) {
                                /* a [common] key meant for another service
                                 * is fine; in our own section it is not */
                                continue;
                        }
                        {
                                size_t idx = (size_t)(opt - spec->opts);
                                int append = opt->type == PB_OPT_LIST &&
                                             idx < sizeof(list_seen) &&
                                             list_seen[idx];
                                if (idx < sizeof(list_seen))
                                        list_seen[idx] = 1;
                                if (store(opt, settings, val, append, err,
                                          errsz) < 0) {
                                        char tmp[512];
                                        snprintf(tmp, sizeof(tmp), "%s:%d: %s",
                                                 path, lineno, err);
                                        snprintf(err, errsz, "%s", tmp);
                                        fclose(fp);
                                        return -1;
                                }
                        }
                }
        }
        fclose(fp);
        return 0;
}

static void print_help(const pb_cmd_spec_t *spec) {
        size_t i;
        printf("Usage: partnerbus %s %s\n\n%s\n\nOptions:\n", spec->name,
               spec->usage ? spec->usage : "[options]", spec->summary);
        for (i = 0; i < spec->nopts; i++) {
                const pb_opt_t *o = &spec->opts[i];
                char flag[96], env[96];
                if (o->short_name)
                        snprintf(flag, sizeof(flag), "-%c, --%s%s%s",
                                 o->short_name, o->name, o->metavar ? " " : "",
                                 o->metavar ? o->metavar : "");
                else
                        snprintf(flag, sizeof(flag), "    --%s%s%s", o->name,
                                 o->metavar ? " " : "",
                                 o->metavar ? o->metavar : "");
                env_name(o->name, env, sizeof(env));
                printf("  %-34s %s\n", flag, o->help);
                printf("  %-34s [env %s", "", env);
                if (o->def)
                        printf(", default %s", o->def);
                if (o->flags & PB_OPT_REQUIRED)
                        printf(", required");
                printf("]\n");
        }
        printf("\nCommon options:\n");
        for (i = 0; i < NCOMMON; i++) {
                const pb_common_opt_t *c = &common_opts[i];
                char flag[96];
                if ((c->kafka && !spec->kafka) || !c->help)
                        continue;
                {
                        char sh[8] = "    ";
                        size_t k;
                        for (k = 0; k < sizeof(common_shorts) /
                                            sizeof(common_shorts[0]);
                             k++)
                                if (common_shorts[k].id == c->id &&
                                    common_short_id(spec, common_shorts[k].c))
                                        snprintf(sh, sizeof(sh), "-%c, ",
                                                 common_shorts[k].c);
                        snprintf(flag, sizeof(flag), "%s--%s%s%s", sh, c->name,
                                 c->metavar ? " " : "",
                                 c->metavar ? c->metavar : "");
                }
                printf("  %-34s %s\n", flag, c->help);
        }
        if (spec->kafka)
                printf("  %-34s %s\n", "-X KEY=VALUE",
                       "any librdkafka property, e.g. -X security.protocol=SSL"
                       " (repeatable)");
        printf(
            "\nEvery option is also an environment variable PARTNERBUS_<NAME>"
            " and a key in\nthe config file; a flag wins over the "
            "environment, which wins over the file.\n");
        if (spec->details)
                printf("\n%s\n", spec->details);
}

/* A value as --print-config shows it: credentials inside URLs masked
 * (pb_redact_url: user:password@, secret query parameters). */
static const char *shown(const char *s) {
        static char buf[4096];
        return s ? pb_redact_url(s, buf, sizeof(buf)) : "";
}

static void print_value(const pb_opt_t *o, const void *settings) {
        const char *field = (const char *)settings + o->offset;
        if (o->flags & PB_OPT_SECRET) {
                printf("%s = %s\n", o->name,
                       *(const char *const *)field ? "********" : "");
                return;
        }
        switch (o->type) {
        case PB_OPT_STRING: {
                const char *s = *(const char *const *)field;
                printf("%s = %s\n", o->name, shown(s));
                break;
        }
        case PB_OPT_INT:
                printf("%s = %ld\n", o->name, *(const long *)field);
                break;
        case PB_OPT_BOOL:
                printf("%s = %s\n", o->name,
                       *(const int *)field ? "true" : "false");
                break;
        case PB_OPT_DURATION:
                printf("%s = %lldms\n", o->name,
                       (long long)*(const int64_t *)field);
                break;
        case PB_OPT_SIZE:
                printf("%s = %zu\n", o->name, *(const size_t *)field);
                break;
        case PB_OPT_LIST: {
                const pb_strlist_t *l = (const pb_strlist_t *)field;
                size_t j;
                if (!l->n)
                        printf("%s =\n", o->name);
                for (j = 0; j < l->n; j++)
                        printf("%s = %s\n", o->name, shown(l->v[j]));
                break;
        }
        }
}

/* Masks the value of librdkafka properties that hold secrets. */
static int kafka_prop_secret(const char *kv) {
        return strstr(kv, "password") || strstr(kv, "secret") ||
               strstr(kv, "sasl.oauthbearer.config") ||
               strstr(kv, "ssl.key.pem") || strstr(kv, "ssl_key");
}

static void print_config(const pb_cmd_spec_t *spec, const void *settings,
                         const pb_cli_common_t *common) {
        size_t i;
        printf("[common]\n");
        if (spec->kafka) {
                printf("brokers = %s\n",
                       common->brokers ? common->brokers : "");
                printf("schema-registry = %s\n",
                       shown(common->schema_registry));
                printf("topic-prefix = %s\n",
                       common->topic_prefix ? common->topic_prefix : "");
        }
        printf("schemas = %s\n",
               common->schemas_dir ? common->schemas_dir : "");
        printf("log-level = %s\n", log_level_value ? log_level_value : "info");
        printf("\n[%s]\n", spec->name);
        for (i = 0; i < spec->nopts; i++)
                print_value(&spec->opts[i], settings);
        if (spec->kafka) {
                printf("\n[kafka]\n");
                for (i = 0; i < common->kconf.nprops; i++) {
                        const char *kv = common->kconf.props[i];
                        const char *eq = strchr(kv, '=');
                        if (kafka_prop_secret(kv) && eq)
                                printf("%.*s = ********\n", (int)(eq - kv), kv);
                        else if (eq)
                                printf("%.*s = %s\n", (int)(eq - kv), kv,
                                       shown(eq + 1));
                }
        }
}

static int usage_error(const pb_cmd_spec_t *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const pb_cmd_spec_t *spec, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "partnerbus %s: ", spec->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'partnerbus %s --help'.\n", spec->name);
        return PB_EXIT_USAGE;
}

int pb_opts_parse(const pb_cmd_spec_t *spec, void *settings,
                  pb_cli_common_t *common, int argc, char **argv,
                  int *first_arg) {
        struct option *lo;
        size_t i, n = 0;
        char shorts[128];
        size_t ns = 0;
        const char *config = NULL;
        int print = 0, c, ret = -1;
        char err[600];
        /* flags seen on the command line, so that list flags replace the
         * file/env values on first use and append after */
        unsigned char seen[256] = {0};

        pb_cli_common_init(common);
        lo = calloc(spec->nopts + NCOMMON + 2, sizeof(*lo));
        if (!lo)
                return PB_EXIT_FAIL;
        for (i = 0; i < NCOMMON; i++) {
                if (common_opts[i].kafka && !spec->kafka)
                        continue;
                lo[n].name = common_opts[i].name;
                lo[n].has_arg =
                    common_opts[i].metavar ? required_argument : no_argument;
                lo[n].val = common_opts[i].id;
                n++;
        }
        shorts[ns++] = '+'; /* stop at the first positional argument */
        shorts[ns++] = ':';
        /* short forms of the common options (as in kcat: -b, -X), unless
         * the service's own table claims the letter */
        for (i = 0; i < sizeof(common_shorts) / sizeof(common_shorts[0]); i++) {
                const pb_common_short_t *cs = &common_shorts[i];
                if (cs->kafka && !spec->kafka)
                        continue;
                if (table_has_short(spec, cs->c))
                        continue;
                shorts[ns++] = cs->c;
                shorts[ns++] = ':';
        }
        shorts[ns++] = 'h';
        for (i = 0; i < spec->nopts; i++) {
                const pb_opt_t *o = &spec->opts[i];
                lo[n].name = o->name;
                lo[n].has_arg = o->type == PB_OPT_BOOL ? optional_argument
                                                       : required_argument;
                lo[n].val = PB_CO_TABLE + (int)i;
                n++;
                if (o->short_name && ns + 3 < sizeof(shorts)) {
                        shorts[ns++] = o->short_name;
                        if (o->type != PB_OPT_BOOL)
                                shorts[ns++] = ':';
                }
        }
        shorts[ns] = 0;

        /* 1. defaults */
        for (i = 0; i < spec->nopts; i++)
                if (spec->opts[i].def &&
                    store(&spec->opts[i], settings, spec->opts[i].def, 0, err,
                          sizeof(err)) < 0) {
                        fprintf(stderr, "partnerbus %s: bad default: %s\n",
                                spec->name, err);
                        free(lo);
                        return PB_EXIT_FAIL;
                }

        /* 2. config file: --config wins over PARTNERBUS_CONFIG */
        for (i = 1; i < (size_t)argc; i++) {
                if (!strcmp(argv[i], "--"))
                        break;
                if (!strcmp(argv[i], "--config") && i + 1 < (size_t)argc)
                        config = argv[i + 1];
                else if (!strncmp(argv[i], "--config=", 9))
                        config = argv[i] + 9;
        }
        if (!config)
                config = getenv("PARTNERBUS_CONFIG");
        if (config && *config &&
            read_config(spec, settings, common, config, err, sizeof(err)) < 0) {
                ret = usage_error(spec, "%s", err);
                goto out;
        }

        /* 3. environment */
        for (i = 0; i < spec->nopts; i++) {
                char env[128];
                const char *v;
                env_name(spec->opts[i].name, env, sizeof(env));
                if ((v = getenv(env)) && *v &&
                    store(&spec->opts[i], settings, v, 0, err, sizeof(err)) <
                        0) {
                        ret = usage_error(spec, "%s: %s", env, err);
                        goto out;
                }
        }
        for (i = 0; i < NCOMMON; i++) {
                char env[128];
                const char *v;
                const char **slot = common_slot(common, common_opts[i].id);
                env_name(common_opts[i].name, env, sizeof(env));
                if (slot && (v = getenv(env)) && *v)
                        *slot = v;
        }

        /* 4. flags */
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
                const pb_opt_t *o = NULL;
                const char **slot;
                int cid;
                if (c >= PB_CO_TABLE)
                        o = &spec->opts[c - PB_CO_TABLE];
                else if ((cid = common_short_id(spec, c)))
                        c = cid;
                else if (c > 0 && c < 128 && c != '?' && c != ':' && c != 'h') {
                        for (i = 0; i < spec->nopts; i++)
                                if (spec->opts[i].short_name == c)
                                        o = &spec->opts[i];
                }
                if (o) {
                        size_t idx = (size_t)(o - spec->opts);
                        const char *v = optarg;
                        int append = o->type == PB_OPT_LIST &&
                                     idx < sizeof(seen) && seen[idx];
                        if (idx < sizeof(seen))
                                seen[idx] = 1;
                        if (o->type == PB_OPT_BOOL && !v)
                                v = "true";
                        if (store(o, settings, v, append, err, sizeof(err)) <
                            0) {
                                ret = usage_error(spec, "%s", err);
                                goto out;
                        }
                        continue;
                }
                if ((slot = common_slot(common, c))) {
                        *slot = optarg;
                        continue;
                }
                switch (c) {
                case PB_CO_CONFIG:
                        break; /* read above */
                case PB_CO_PRINT:
                        print = 1;
                        break;
                case PB_CO_MARKDOWN:
                        pb_opts_print_markdown(spec, stdout);
                        ret = PB_EXIT_OK;
                        goto out;
                case 'h':
                case PB_CO_HELP:
                        print_help(spec);
                        ret = PB_EXIT_OK;
                        goto out;
                case 'X':
                        if (pb_kafka_conf_add(&common->kconf, optarg) !=
                            PB_OK) {
                                ret = usage_error(
                                    spec, "-X %s: expected KEY=VALUE", optarg);
                                goto out;
                        }
                        break;
                case ':':
                        ret = usage_error(spec, "option %s needs a value",
                                          argv[optind - 1]);
                        goto out;
                default:
                        ret = usage_error(spec, "unknown option %s",
                                          argv[optind - 1]);
                        goto out;
                }
        }
        if (log_level_value && pb_log_set_level(log_level_value) < 0) {
                ret = usage_error(spec,
                                  "--log-level %s: expected debug, info, warn "
                                  "or error",
                                  log_level_value);
                goto out;
        }
        if (spec->kafka) {
                /* SASL password from a file, never from the command line */
                const char *pwfile = getenv("PARTNERBUS_SASL_PASSWORD_FILE");
                if (pwfile && *pwfile) {
                        char *pw =
                            pb_opts_read_secret(pwfile, err, sizeof(err));
                        char kv[4200];
                        const char *p;
                        if (!pw) {
                                ret = usage_error(
                                    spec, "PARTNERBUS_SASL_PASSWORD_FILE: %s",
                                    err);
                                goto out;
                        }
                        snprintf(kv, sizeof(kv), "sasl.password=%s", pw);
                        free(pw);
                        p = keep(kv, strlen(kv));
                        memset(kv, 0, sizeof(kv));
                        if (!p ||
                            pb_kafka_conf_add(&common->kconf, p) != PB_OK) {
                                ret = usage_error(spec,
                                                  "too many Kafka properties");
                                goto out;
                        }
                }
        }
        pb_cli_common_finish(common);
        if (print) {
                print_config(spec, settings, common);
                ret = PB_EXIT_OK;
                goto out;
        }
        for (i = 0; i < spec->nopts; i++) {
                const pb_opt_t *o = &spec->opts[i];
                const char *field = (const char *)settings + o->offset;
                if (!(o->flags & PB_OPT_REQUIRED))
                        continue;
                if ((o->type == PB_OPT_STRING &&
                     !*(const char *const *)field) ||
                    (o->type == PB_OPT_LIST &&
                     !((const pb_strlist_t *)field)->n)) {
                        ret = usage_error(spec, "--%s is required", o->name);
                        goto out;
                }
        }
        *first_arg = optind;
out:
        free(lo);
        return ret;
}

pb_opt_t *pb_opts_compose(const pb_opts_part_t *parts, size_t nparts,
                          size_t *n) {
        size_t i, j, k = 0, total = 0;
        pb_opt_t *t;
        for (i = 0; i < nparts; i++)
                total += parts[i].n;
        if (!(t = calloc(total ? total : 1, sizeof(*t))))
                return NULL;
        for (i = 0; i < nparts; i++)
                for (j = 0; j < parts[i].n; j++, k++) {
                        const char *pre =
                            parts[i].prefix ? parts[i].prefix : "";
                        size_t l = strlen(pre) + strlen(parts[i].opts[j].name);
                        char *name = malloc(l + 1);
                        t[k] = parts[i].opts[j];
                        t[k].offset += parts[i].base;
                        if (!name) {
                                pb_opts_compose_free(t, k);
                                return NULL;
                        }
                        snprintf(name, l + 1, "%s%s", pre, t[k].name);
                        t[k].name = name;
                }
        *n = total;
        return t;
}

void pb_opts_compose_free(pb_opt_t *opts, size_t n) {
        size_t i;
        for (i = 0; opts && i < n; i++)
                free((char *)opts[i].name);
        free(opts);
}

int pb_opts_compose_spec(pb_cmd_spec_t *spec, const pb_opts_part_t *parts,
                         size_t nparts) {
        size_t n = 0;
        spec->opts = pb_opts_compose(parts, nparts, &n);
        spec->nopts = n;
        return spec->opts ? 0 : -1;
}

void pb_opts_compose_spec_free(pb_cmd_spec_t *spec) {
        pb_opts_compose_free((pb_opt_t *)spec->opts, spec->nopts);
        spec->opts = NULL;
        pb_opts_free();
}

/* Markdown cell text: '|' escaped. */
static void md_cell(FILE *fp, const char *s) {
        for (; s && *s; s++) {
                if (*s == '|')
                        fputc('\\', fp);
                fputc(*s == '\n' ? ' ' : *s, fp);
        }
}

void pb_opts_print_markdown(const pb_cmd_spec_t *spec, FILE *fp) {
        size_t i;
        char env[128];
        fprintf(fp, "| flag | environment / config key | type | default | "
                    "meaning |\n| --- | --- | --- | --- | --- |\n");
        for (i = 0; i < spec->nopts; i++) {
                const pb_opt_t *o = &spec->opts[i];
                env_name(o->name, env, sizeof(env));
                fprintf(fp, "| ");
                if (o->short_name)
                        fprintf(fp, "`-%c`, ", o->short_name);
                fprintf(fp, "`--%s%s", o->name, o->metavar ? " " : "");
                md_cell(fp, o->metavar);
                fprintf(fp, "` | `%s` / `%s` | %s%s | %s%s%s | ", env, o->name,
                        pb_optmap_type_name(o->type),
                        o->flags & PB_OPT_SECRET ? ", secret" : "",
                        o->def ? "`" : "", o->def ? o->def : "",
                        o->def                       ? "`"
                        : o->flags & PB_OPT_REQUIRED ? "required"
                                                     : "-");
                md_cell(fp, o->help);
                fprintf(fp, " |\n");
        }
}

/* --- --topics lists --- */

char **pb_opts_topics(const pb_cli_common_t *cc, const pb_strlist_t *l,
                      size_t *n) {
        char **t = calloc(PB_STRLIST_MAX * 8 + 1, sizeof(*t));
        size_t i, k = 0;
        *n = 0;
        if (!t)
                return NULL;
        for (i = 0; i < l->n; i++) {
                const char *p = l->v[i];
                while (*p) {
                        size_t len = strcspn(p, ",");
                        char type[256], name[512];
                        if (len && len < sizeof(type) &&
                            k < PB_STRLIST_MAX * 8) {
                                memcpy(type, p, len);
                                type[len] = 0;
                                pb_kafka_topic(&cc->kconf, type, name,
                                               sizeof(name));
                                if (!(t[k] = strdup(name))) {
                                        pb_opts_topics_free(t, k);
                                        return NULL;
                                }
                                k++;
                        }
                        p += len;
                        if (*p == ',')
                                p++;
                }
        }
        if (!k) {
                free(t);
                return NULL;
        }
        *n = k;
        return t;
}

void pb_opts_topics_free(char **t, size_t n) {
        size_t i;
        if (!t)
                return;
        for (i = 0; i < n; i++)
                free(t[i]);
        free(t);
}

/* --- --where --- */

int pb_opts_where(const char *cmd, const pb_strlist_t *where,
                  pb_filter_t **out) {
        char e[512];
        size_t i;
        *out = NULL;
        if (!where->n)
                return -1;
        *out = pb_filter_new();
        for (i = 0; i < where->n; i++) {
                if (!*out)
                        return pb_cli_usage_error(cmd, "--where: out of "
                                                       "memory");
                if (pb_filter_add(*out, where->v[i], e, sizeof(e)) != PB_OK)
                        return pb_cli_usage_error(cmd, "--where: %s", e);
        }
        return -1;
}

int pb_opts_parse_args(const pb_cmd_spec_t *spec, void *settings,
                       pb_cli_common_t *common, int argc, char **argv) {
        int first = 0;
        int rc = pb_opts_parse(spec, settings, common, argc, argv, &first);
        if (rc < 0 && first < argc)
                rc = pb_cli_usage_error(spec->name, "unexpected argument '%s'",
                                        argv[first]);
        return rc;
}

int pb_opts_parse_serve(const pb_cmd_spec_t *spec, void *settings,
                        const pb_cli_http_t *http, pb_cli_common_t *common,
                        int argc, char **argv, void (*print_routes)(void)) {
        const char *cmd = spec->name;
        int first = 0, rc;
        rc = pb_opts_parse(spec, settings, common, argc, argv, &first);
        if (rc < 0 && http->print_routes) {
                print_routes();
                rc = PB_EXIT_OK;
        } else if (rc < 0 && first < argc) {
                rc = pb_cli_usage_error(cmd, "unexpected argument '%s'",
                                        argv[first]);
        } else if (rc < 0 &&
                   !pb_cli_check_tls(cmd, http->tls_cert, http->tls_key,
                                     http->insecure_http)) {
                rc = PB_EXIT_USAGE;
        } else if (rc < 0 && (http->threads < 1 || http->threads > 64)) {
                rc =
                    pb_cli_usage_error(cmd, "a numeric option is out of range");
        }
        if (rc >= 0)
                pb_opts_free();
        return rc;
}
