/* partnerbus dev - the whole bus on one machine, in one command.
 *
 * Starts, as child processes of this same binary (so each piece is exactly
 * what production runs):
 *   - the embedded development broker (partnerbus broker),
 *   - a gateway on 127.0.0.1 with development tokens it prints,
 *   - a relay archiving every topic to DIR/archive,
 *   - a relay writing every event as JSON lines to the terminal.
 * --demo then publishes the seed examples through the gateway. Ctrl-C stops
 * everything (relays and gateway first, so they commit and flush, the
 * broker last). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_metrics.h"
#include "pb_opts.h"

typedef struct dev_settings {
        const char *listen;
        const char *dir;
        int demo;
        int tail;
        int64_t start_timeout;
} dev_settings_t;

static const pb_opt_t dev_opts[] = {
    {"listen", 'l', PB_OPT_STRING, "127.0.0.1:8080", "ADDR:PORT",
     "where the gateway listens (port 0: any free port)", 0,
     offsetof(dev_settings_t, listen)},
    {"dir", 'd', PB_OPT_STRING, "./var", "DIR",
     "working directory: archive, development tokens, logs", 0,
     offsetof(dev_settings_t, dir)},
    {"demo", 0, PB_OPT_BOOL, "false", NULL,
     "publish the seed examples through the gateway once it is up", 0,
     offsetof(dev_settings_t, demo)},
    {"tail", 0, PB_OPT_BOOL, "true", NULL,
     "run the relay that prints every event to the terminal", 0,
     offsetof(dev_settings_t, tail)},
    {"start-timeout", 0, PB_OPT_DURATION, "30s", "DURATION",
     "give up when the services are not up within this time", 0,
     offsetof(dev_settings_t, start_timeout)},
};

static const pb_cmd_spec_t dev_spec = {
    "dev",
    "Run the whole bus on this machine: the embedded broker, a gateway, a\n"
    "relay archiving every topic and a relay printing every event.",
    "[--demo] [--listen ADDR:PORT] [--dir DIR]",
    "Everything runs in memory except DIR/archive; Ctrl-C stops it all.\n"
    "Examples:\n"
    "  partnerbus dev --demo\n"
    "  partnerbus dev --listen 127.0.0.1:8081 --dir /tmp/pbdev",
    dev_opts,
    sizeof(dev_opts) / sizeof(dev_opts[0]),
    0};

#define DEV_MAX_CHILDREN 4
#define DEV_MAX_ORGS     32

typedef struct dev_child {
        const char *name;
        pid_t pid;
} dev_child_t;

typedef struct dev_org {
        char id[128];
        char token[80];
} dev_org_t;

static dev_child_t children[DEV_MAX_CHILDREN];
static size_t nchildren;
static volatile sig_atomic_t dev_stop;

static void on_signal(int sig) {
        (void)sig;
        dev_stop = 1;
}

static int mkdirs(const char *path) {
        char tmp[4096];
        size_t i;
        snprintf(tmp, sizeof(tmp), "%s", path);
        for (i = 1; tmp[i]; i++) {
                if (tmp[i] != '/')
                        continue;
                tmp[i] = 0;
                if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                        return -1;
                tmp[i] = '/';
        }
        return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* Is the gateway's address free? Binding it ourselves is the only honest
 * test; the socket is closed again at once. */
static int port_busy(const char *listen, char *errstr, size_t errsz) {
        struct sockaddr_storage ss;
        unsigned len;
        int fd, one = 1, busy;
        if (pb_parse_listen(listen, &ss, &len, errstr, errsz) < 0)
                return -1;
        fd = socket(ss.ss_family, SOCK_STREAM, 0);
        if (fd < 0)
                return 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        busy = bind(fd, (struct sockaddr *)&ss, len) < 0 && errno == EADDRINUSE;
        close(fd);
        return busy;
}

static pid_t spawn(const char *name, char *const argv[], const char *log) {
        pid_t parent = getpid(), pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                /* die with dev, however it ends (SIGKILL, a closed
                 * terminal): the kernel sends SIGTERM when the parent goes,
                 * so the child still drains; if dev is already gone, go */
                if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                        _exit(1);
                if (log) {
                        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                        if (fd >= 0) {
                                dup2(fd, STDERR_FILENO);
                                if (strcmp(name, "relay-tail"))
                                        dup2(fd, STDOUT_FILENO);
                                close(fd);
                        }
                }
                execv("/proc/self/exe", argv);
                _exit(127);
        }
        if (nchildren < DEV_MAX_CHILDREN) {
                children[nchildren].name = name;
                children[nchildren].pid = pid;
                nchildren++;
        }
        return pid;
}

/* Stops children in reverse start order: relays and gateway commit and
 * flush before the broker goes. */
static void stop_children(void) {
        size_t i;
        for (i = nchildren; i-- > 0;) {
                int64_t deadline = pb_mono_ms() + 15000;
                if (children[i].pid <= 0)
                        continue;
                kill(children[i].pid, SIGTERM);
                while (pb_mono_ms() < deadline) {
                        if (waitpid(children[i].pid, NULL, WNOHANG) ==
                            children[i].pid)
                                break;
                        usleep(50000);
                }
                if (pb_mono_ms() >= deadline) {
                        fprintf(stderr, "dev: %s did not stop, killing it\n",
                                children[i].name);
                        kill(children[i].pid, SIGKILL);
                        waitpid(children[i].pid, NULL, 0);
                }
                children[i].pid = 0;
        }
}

/* A child that exited on its own is a failure of the whole dev setup. */
static const char *child_died(void) {
        size_t i;
        int status;
        for (i = 0; i < nchildren; i++)
                if (children[i].pid > 0 &&
                    waitpid(children[i].pid, &status, WNOHANG) ==
                        children[i].pid) {
                        children[i].pid = 0;
                        return children[i].name;
                }
        return NULL;
}

static int read_file_line(const char *path, char *buf, size_t size) {
        FILE *fp = fopen(path, "r");
        if (!fp)
                return -1;
        if (!fgets(buf, (int)size, fp)) {
                fclose(fp);
                return -1;
        }
        fclose(fp);
        buf[strcspn(buf, "\r\n")] = 0;
        return buf[0] ? 0 : -1;
}

static void random_token(char *out, size_t size) {
        unsigned char b[24];
        size_t i;
        FILE *fp = fopen("/dev/urandom", "rb");
        if (!fp || fread(b, 1, sizeof(b), fp) != sizeof(b)) {
                /* fall back to the clock: fine for a development token */
                for (i = 0; i < sizeof(b); i++)
                        b[i] = (unsigned char)(rand() ^ (pb_mono_ms() >> i));
        }
        if (fp)
                fclose(fp);
        snprintf(out, size, "pbdev_");
        for (i = 0; i < sizeof(b) && strlen(out) + 3 < size; i++)
                sprintf(out + strlen(out), "%02x", b[i]);
}

static void sha256_hex(const char *s, char out[65]) {
        unsigned char md[32];
        unsigned int n = 0;
        size_t i;
        EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
        for (i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02x", md[i]);
}

static size_t slurp(const char *path, char **out) {
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        size_t n = 0, cap = 0, r;
        *out = NULL;
        if (!fp)
                return 0;
        do {
                if (n + 4096 > cap) {
                        char *nb;
                        cap = cap ? cap * 2 : 8192;
                        if (cap > (1u << 20) || !(nb = realloc(buf, cap)))
                                break;
                        buf = nb;
                }
                r = fread(buf + n, 1, cap - n - 1, fp);
                n += r;
        } while (r > 0);
        fclose(fp);
        if (buf)
                buf[n] = 0;
        *out = buf;
        return buf ? n : 0;
}

/* The examples: DIR/examples/valid/<type>/<name>.json under the schemas
 * directory. For each one, calls fn with its type, path and source. */
typedef void(example_fn)(void *ctx, const char *type, const char *path,
                         const char *source);

static size_t for_each_example(const char *schemas_dir, example_fn *fn,
                               void *ctx) {
        char base[4096];
        DIR *d;
        struct dirent *t;
        size_t count = 0;
        pb_json_parser_t *jp = pb_json_parser_new(NULL);
        snprintf(base, sizeof(base), "%s/examples/valid", schemas_dir);
        if (!jp || !(d = opendir(base))) {
                pb_json_parser_destroy(jp);
                return 0;
        }
        while ((t = readdir(d))) {
                char tdir[4200];
                DIR *td;
                struct dirent *e;
                if (t->d_name[0] == '.')
                        continue;
                snprintf(tdir, sizeof(tdir), "%s/%s", base, t->d_name);
                if (!(td = opendir(tdir)))
                        continue;
                while ((e = readdir(td))) {
                        char path[4500], err[128], *text;
                        const pb_json_t *doc, *src;
                        size_t n, len = strlen(e->d_name);
                        if (len < 6 || strcmp(e->d_name + len - 5, ".json"))
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", tdir, e->d_name);
                        n = slurp(path, &text);
                        doc = n ? pb_json_parse(jp, text, n, err, sizeof(err))
                                : NULL;
                        src = doc ? pb_json_get(doc, "source") : NULL;
                        if (src && src->type == PB_JSON_STRING) {
                                fn(ctx, t->d_name, path, src->str);
                                count++;
                        }
                        free(text);
                }
                closedir(td);
        }
        closedir(d);
        pb_json_parser_destroy(jp);
        return count;
}

typedef struct org_ctx {
        dev_org_t orgs[DEV_MAX_ORGS];
        size_t n;
} org_ctx_t;

static dev_org_t *org_find(org_ctx_t *o, const char *id) {
        size_t i;
        for (i = 0; i < o->n; i++)
                if (!strcmp(o->orgs[i].id, id))
                        return &o->orgs[i];
        return NULL;
}

static dev_org_t *org_add(org_ctx_t *o, const char *id) {
        dev_org_t *g = org_find(o, id);
        if (g || o->n == DEV_MAX_ORGS)
                return g;
        g = &o->orgs[o->n++];
        snprintf(g->id, sizeof(g->id), "%s", id);
        random_token(g->token, sizeof(g->token));
        return g;
}

static void collect_org(void *ctx, const char *type, const char *path,
                        const char *source) {
        (void)type;
        (void)path;
        org_add(ctx, source);
}

/* Opens path for writing with mode 0600, whatever mode an older file had
 * (fopen keeps the old mode of an existing file). */
static FILE *fopen_secret(const char *path) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        FILE *fp;
        if (fd < 0)
                return NULL;
        if (fchmod(fd, 0600) < 0 || !(fp = fdopen(fd, "w"))) {
                close(fd);
                return NULL;
        }
        return fp;
}

/* Tokens file for the gateway (digests only) and, for the developer, the
 * plain tokens beside it (mode 0600). */
static int write_tokens(const char *dir, org_ctx_t *orgs, char *tokens_path,
                        size_t tpsize) {
        char plain[4200];
        FILE *fp, *pp;
        size_t i;
        snprintf(tokens_path, tpsize, "%s/dev-tokens.conf", dir);
        snprintf(plain, sizeof(plain), "%s/dev-tokens.txt", dir);
        if (!(fp = fopen(tokens_path, "w")))
                return -1;
        pp = fopen_secret(plain);
        fprintf(fp, "# partnerbus dev: development tokens (SHA-256 digests)\n");
        if (pp)
                fprintf(pp, "# partnerbus dev: plain development tokens, "
                            "valid until dev stops\n");
        for (i = 0; i < orgs->n; i++) {
                char hex[65];
                sha256_hex(orgs->orgs[i].token, hex);
                fprintf(fp, "%s %s *\n", orgs->orgs[i].id, hex);
                if (pp)
                        fprintf(pp, "%s %s\n", orgs->orgs[i].id,
                                orgs->orgs[i].token);
        }
        if (pp)
                fclose(pp);
        return fclose(fp) == 0 ? 0 : -1;
}

static size_t discard(char *p, size_t sz, size_t n, void *ud) {
        (void)p;
        (void)ud;
        return sz * n;
}

static long http_get(const char *url) {
        CURL *c = curl_easy_init();
        long code = 0;
        if (!c)
                return 0;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        return code;
}

typedef struct demo_ctx {
        org_ctx_t *orgs;
        const char *base;
        CURL *curl;
        size_t ok, failed;
} demo_ctx_t;

static void publish_example(void *ctx, const char *type, const char *path,
                            const char *source) {
        demo_ctx_t *d = ctx;
        dev_org_t *org = org_find(d->orgs, source);
        char url[512], auth[256], *body;
        struct curl_slist *h = NULL;
        long code = 0;
        size_t n = slurp(path, &body);
        if (!n || !org) {
                d->failed++;
                free(body);
                return;
        }
        snprintf(url, sizeof(url), "%s/v1/events/%s", d->base, type);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", org->token);
        h = curl_slist_append(h, auth);
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(d->curl, CURLOPT_URL, url);
        curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE, (long)n);
        curl_easy_setopt(d->curl, CURLOPT_TIMEOUT_MS, 15000L);
        curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, discard);
        if (curl_easy_perform(d->curl) == CURLE_OK)
                curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300)
                d->ok++;
        else {
                d->failed++;
                fprintf(stderr, "dev: demo: %s answered %ld for %s\n", url,
                        code, path);
        }
        curl_slist_free_all(h);
        free(body);
}

int pb_cmd_dev(int argc, char **argv) {
        dev_settings_t s;
        pb_cli_common_t common;
        int first = 0, ret;
        char err[512], path[4200], bootstrap[512], tokens[4200];
        char archive[4200], logs[4200], port_file[4200], base[300];
        char topics[1024] = "";
        const char *schemas_dir;
        pb_schemas_t *catalog;
        org_ctx_t orgs;
        int64_t deadline;
        size_t i;
        const char *died;
        struct sigaction sa;

        memset(&s, 0, sizeof(s));
        memset(&orgs, 0, sizeof(orgs));
        if ((ret = pb_opts_parse(&dev_spec, &s, &common, argc, argv, &first)) >=
            0)
                return ret;
        if (first < argc)
                return pb_cli_usage_error("dev", "unexpected argument '%s'",
                                          argv[first]);

        if ((ret = port_busy(s.listen, err, sizeof(err))) != 0) {
                if (ret < 0)
                        return pb_cli_usage_error("dev", "--listen: %s", err);
                fprintf(stderr,
                        "partnerbus dev: %s is already in use (another "
                        "'partnerbus dev'?).\nChoose another port, e.g. "
                        "'partnerbus dev --listen 127.0.0.1:%d', or set "
                        "PARTNERBUS_LISTEN.\n",
                        s.listen, atoi(strrchr(s.listen, ':') + 1) + 1);
                pb_opts_free();
                return PB_EXIT_FAIL;
        }
        if (!(catalog = pb_cli_load_schemas("dev", &common))) {
                pb_opts_free();
                return PB_EXIT_FAIL;
        }
        schemas_dir =
            common.schemas_dir ? common.schemas_dir : pb_schemas_default_dir();
        for (i = 0; i < pb_schemas_count(catalog); i++) {
                const char *t = pb_schema_type(pb_schemas_at(catalog, i));
                if (strlen(topics) + strlen(t) + 2 >= sizeof(topics))
                        break;
                if (topics[0])
                        strcat(topics, ",");
                strcat(topics, t);
        }
        snprintf(archive, sizeof(archive), "%s/archive", s.dir);
        snprintf(logs, sizeof(logs), "%s/dev.log", s.dir);
        snprintf(path, sizeof(path), "%s/bootstrap", s.dir);
        snprintf(port_file, sizeof(port_file), "%s/gateway.port", s.dir);
        if (mkdirs(archive) < 0) {
                fprintf(stderr, "partnerbus dev: cannot create %s: %s\n",
                        archive, strerror(errno));
                pb_schemas_destroy(catalog);
                pb_opts_free();
                return PB_EXIT_FAIL;
        }
        unlink(path);
        unlink(port_file);

        /* one token per organisation of the examples, plus one to try */
        org_add(&orgs, "dev-org");
        for_each_example(schemas_dir, collect_org, &orgs);
        if (write_tokens(s.dir, &orgs, tokens, sizeof(tokens)) < 0) {
                fprintf(stderr, "partnerbus dev: cannot write %s\n", tokens);
                pb_schemas_destroy(catalog);
                pb_opts_free();
                return PB_EXIT_FAIL;
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL); /* the terminal closed: stop as well */
        setenv("PARTNERBUS_SCHEMAS", schemas_dir, 1);
        /* the children read their settings from flags only */
        unsetenv("PARTNERBUS_CONFIG");

        {
                char *av[] = {"partnerbus", "broker", "--bootstrap-file", path,
                              NULL};
                spawn("broker", av, logs);
        }
        deadline = pb_mono_ms() + s.start_timeout;
        while (read_file_line(path, bootstrap, sizeof(bootstrap)) < 0) {
                if (dev_stop || pb_mono_ms() > deadline ||
                    (died = child_died())) {
                        fprintf(stderr,
                                "partnerbus dev: the embedded broker "
                                "did not start (see %s)\n",
                                logs);
                        goto fail;
                }
                usleep(50000);
        }
        {
                char *av[] = {"partnerbus",  "gateway",  "--brokers",
                              bootstrap,     "--listen", (char *)s.listen,
                              "--tokens",    tokens,     "--insecure-http",
                              "--port-file", port_file,  NULL};
                spawn("gateway", av, logs);
        }
        {
                char sink[4300];
                char *av[] = {
                    "partnerbus", "relay",   "--brokers",
                    bootstrap,    "--group", "dev-archive",
                    "--topics",   topics,    "--sink",
                    sink,         "-X",      "allow.auto.create.topics=true",
                    NULL};
                snprintf(sink, sizeof(sink), "archive:%s", archive);
                spawn("relay-archive", av, logs);
        }
        if (s.tail) {
                char *av[] = {
                    "partnerbus", "relay",   "--brokers",
                    bootstrap,    "--group", "dev-tail",
                    "--topics",   topics,    "--sink",
                    "jsonl:-",    "-X",      "allow.auto.create.topics=true",
                    NULL};
                spawn("relay-tail", av, logs);
        }

        /* the gateway is up when it answers /readyz (Kafka reachable) */
        for (;;) {
                char port[32];
                if (dev_stop || pb_mono_ms() > deadline ||
                    (died = child_died())) {
                        fprintf(stderr,
                                "partnerbus dev: the gateway did not become "
                                "ready (see %s)\n",
                                logs);
                        goto fail;
                }
                if (read_file_line(port_file, port, sizeof(port)) == 0) {
                        char url[400];
                        char host[256];
                        const char *colon = strrchr(s.listen, ':');
                        snprintf(host, sizeof(host), "%.*s",
                                 (int)(colon - s.listen), s.listen);
                        if (!host[0] || !strcmp(host, "0.0.0.0"))
                                snprintf(host, sizeof(host), "127.0.0.1");
                        snprintf(base, sizeof(base), "http://%s:%s", host,
                                 port);
                        snprintf(url, sizeof(url), "%s/readyz", base);
                        if (http_get(url) == 200)
                                break;
                }
                usleep(100000);
        }

        {
                dev_org_t *show = org_find(&orgs, "blau-gelbes-kreuz");
                if (!show)
                        show = &orgs.orgs[0];
                fprintf(stderr,
                        "\npartnerbus dev is running. Ctrl-C stops "
                        "everything.\n"
                        "  broker    %s (embedded, in memory: gone when dev "
                        "stops)\n"
                        "  gateway   %s  (API: %s/v1/openapi.json)\n"
                        "  archive   %s (relay group dev-archive)\n"
                        "  terminal  every event below as JSON (relay group "
                        "dev-tail)\n"
                        "  logs      %s\n"
                        "  tokens    %s/dev-tokens.txt (one per "
                        "organisation)\n\n"
                        "Publish an event as %s:\n"
                        "  curl -sS %s/v1/events/aid.dispatched \\\n"
                        "    -H 'Authorization: Bearer %s' \\\n"
                        "    -H 'Content-Type: application/json' \\\n"
                        "    --data-binary "
                        "@%s/examples/valid/aid.dispatched/"
                        "generators-bgk-2022-12.json\n\n",
                        bootstrap, base, base, archive, logs, s.dir, show->id,
                        base, show->token, schemas_dir);
        }

        if (s.demo) {
                demo_ctx_t d;
                memset(&d, 0, sizeof(d));
                d.orgs = &orgs;
                d.base = base;
                d.curl = curl_easy_init();
                if (d.curl) {
                        for_each_example(schemas_dir, publish_example, &d);
                        curl_easy_cleanup(d.curl);
                }
                fprintf(stderr,
                        "demo: published %zu example events through the "
                        "gateway (%zu failed)\n",
                        d.ok, d.failed);
                fprintf(stderr,
                        "\nTry next, in another terminal (the archive fills "
                        "within a second or two):\n"
                        "  partnerbus replay --from-archive %s --format csv "
                        "--topics %s\n"
                        "  partnerbus report --from-archive %s --out %s/report"
                        "   # then open %s/report/report.html\n"
                        "  partnerbus consume --brokers %s --topics "
                        "funds.granted --from-beginning\n\n",
                        archive, topics, archive, s.dir, s.dir, bootstrap);
        }

        while (!dev_stop) {
                if ((died = child_died())) {
                        fprintf(stderr,
                                "partnerbus dev: %s exited unexpectedly (see "
                                "%s); stopping\n",
                                died, logs);
                        goto fail;
                }
                usleep(200000);
        }
        fprintf(stderr, "\npartnerbus dev: stopping\n");
        stop_children();
        pb_schemas_destroy(catalog);
        pb_opts_free();
        return PB_EXIT_OK;
fail:
        stop_children();
        pb_schemas_destroy(catalog);
        pb_opts_free();
        return PB_EXIT_FAIL;
}
