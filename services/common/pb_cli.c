/* partnerbus - what every subcommand shares: usage errors, settings from
 * flags or PARTNERBUS_* environment variables, key=value logging, signal
 * trapping. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pb_cli.h"

volatile int pb_cli_stop = 0;

int pb_cli_usage_error(const char *cmd, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "partnerbus %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'partnerbus %s --help'.\n", cmd);
        return PB_EXIT_USAGE;
}

const char *pb_cli_setting(const char *flag_value, const char *env_name,
                           const char *def) {
        char name[128];
        const char *v;
        if (flag_value)
                return flag_value;
        snprintf(name, sizeof(name), "PARTNERBUS_%s", env_name);
        v = getenv(name);
        if (v && *v)
                return v;
        return def;
}

void pb_cli_common_init(pb_cli_common_t *c) {
        memset(c, 0, sizeof(*c));
}

void pb_cli_common_finish(pb_cli_common_t *c) {
        c->brokers = pb_cli_setting(c->brokers, "BROKERS", NULL);
        c->schemas_dir = pb_cli_setting(c->schemas_dir, "SCHEMAS", NULL);
        c->schema_registry =
            pb_cli_setting(c->schema_registry, "SCHEMA_REGISTRY", NULL);
        c->topic_prefix = pb_cli_setting(c->topic_prefix, "TOPIC_PREFIX", NULL);
        c->kconf.brokers = c->brokers;
        c->kconf.topic_prefix = c->topic_prefix;
}

int pb_cli_require_brokers(const char *cmd, const pb_cli_common_t *c) {
        if (c->brokers && *c->brokers)
                return 1;
        fprintf(stderr,
                "partnerbus %s: no Kafka brokers given. Use --brokers "
                "host:9092 (or PARTNERBUS_BROKERS), or start a development "
                "broker with 'partnerbus broker' and use the address it "
                "prints.\n",
                cmd);
        return 0;
}

pb_schemas_t *pb_cli_load_schemas(const char *cmd, const pb_cli_common_t *c) {
        char err[512];
        const char *dir =
            c->schemas_dir ? c->schemas_dir : pb_schemas_default_dir();
        pb_schemas_t *s = pb_schemas_load_dir(dir, err, sizeof(err));
        if (!s)
                fprintf(stderr, "partnerbus %s: schemas in %s: %s\n", cmd, dir,
                        err);
        return s;
}

int pb_cli_open_serde(const char *cmd, const pb_cli_common_t *c,
                      const pb_schemas_t *catalog, pb_registry_t **registry,
                      pb_serde_t **serde) {
        char err[512];
        *registry = NULL;
        *serde = NULL;
        if (c->schema_registry &&
            !(*registry =
                  pb_registry_new(c->schema_registry, err, sizeof(err)))) {
                fprintf(stderr, "partnerbus %s: schema registry: %s\n", cmd,
                        err);
                return -1;
        }
        if (!(*serde = pb_serde_new(catalog, *registry, err, sizeof(err)))) {
                fprintf(stderr, "partnerbus %s: %s\n", cmd, err);
                return -1;
        }
        return 0;
}

static int pb_log_min = 1; /* info */

static int pb_log_rank(const char *level) {
        static const char *const names[] = {"debug", "info", "warn", "error"};
        int i;
        for (i = 0; i < 4; i++)
                if (level && !strcmp(level, names[i]))
                        return i;
        return -1;
}

int pb_log_set_level(const char *level) {
        int r = pb_log_rank(level);
        if (r < 0)
                return -1;
        pb_log_min = r;
        return 0;
}

void pb_log(const char *level, const char *fmt, ...) {
        char ts[32];
        struct timespec now;
        struct tm tm;
        va_list ap;
        int rank = pb_log_rank(level);
        if (rank >= 0 && rank < pb_log_min)
                return;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "ts=%s.%03ldZ level=%s ", ts, now.tv_nsec / 1000000,
                level);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void pb_log_mhd(void *cmd, const char *fmt, va_list ap) {
        char buf[512];
        size_t n;
        vsnprintf(buf, sizeof(buf), fmt, ap);
        n = strlen(buf);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = 0;
        pb_log("debug", "cmd=%s mhd=\"%s\"", (const char *)cmd, buf);
}

int pb_cli_check_tls(const char *cmd, const char *tls_cert, const char *tls_key,
                     int insecure_http) {
        if (!!tls_cert != !!tls_key) {
                pb_cli_usage_error(cmd, "--tls-cert and --tls-key go together");
                return 0;
        }
        if (!tls_cert && !insecure_http) {
                pb_cli_usage_error(cmd, "refusing to serve plain HTTP: give "
                                        "--tls-cert and --tls-key, or "
                                        "--insecure-http explicitly");
                return 0;
        }
        return 1;
}

static void pb_cli_on_signal(int sig) {
        (void)sig;
        pb_cli_stop = 1;
}

void pb_cli_trap_signals(void) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = pb_cli_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
}
