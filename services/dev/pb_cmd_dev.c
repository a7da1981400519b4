/* partnerbus dev - the whole bus on one machine, in one command.
 *
 * Starts, as child processes that die with dev:
 *   - a real single-node Apache Kafka (KRaft) with its data under
 *     DIR/kafka, kept across restarts (pb_dev_kafka.c); or, with --mock,
 *     librdkafka's in-memory mock cluster (partnerbus broker), which loses
 *     everything at a restart and drops old messages, and says so;
 *   - a gateway on 127.0.0.1 with development tokens kept in DIR;
 *   - a relay archiving every topic to DIR/archive;
 *   - a relay whose events dev prints one short line each.
 * The services are this same binary, so each piece is what production runs.
 * dev prints a compact banner (URLs, the operator token, three next steps,
 * also in DIR/NEXT-STEPS.txt); --demo then publishes the seed examples
 * through the gateway. Ctrl-C stops everything: relays and gateway first,
 * so they commit and flush, the broker last. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_metrics.h"
#include "pb_dev.h"
#include "pb_opts.h"

#define DEFAULT_JVM_OPTS                                                       \
        "-Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "           \
        "-XX:-UsePerfData -Djava.awt.headless=true -Dfile.encoding=UTF-8"

typedef struct dev_settings {
        const char *listen;
        const char *admin_listen;
        const char *dir;
        int demo;
        int tail;
        int64_t start_timeout;
        int mock;
        long kafka_port;
        long kafka_controller_port;
        const char *kafka_libs;
        const char *java;
        const char *jvm_opts;
} dev_settings_t;

#define O(f) offsetof(dev_settings_t, f)
static const pb_opt_t dev_opts[] = {
    {"listen", 'l', PB_OPT_STRING, "127.0.0.1:8080", "ADDR:PORT",
     "where the gateway listens (port 0: any free port)", 0, O(listen)},
    {"admin-listen", 0, PB_OPT_STRING, NULL, "ADDR:PORT",
     "where partnerbus admin (the management API) listens (default: the "
     "gateway's host, port 8090, or any free port when --listen has port 0; "
     "not with --mock)",
     0, O(admin_listen)},
    {"dir", 'd', PB_OPT_STRING, "./var", "DIR",
     "working directory: Kafka's data, archive, tokens, logs (kept)", 0,
     O(dir)},
    {"demo", 0, PB_OPT_BOOL, "false", NULL,
     "publish the seed examples through the gateway once it is up", 0, O(demo)},
    {"tail", 0, PB_OPT_BOOL, "true", NULL,
     "print every event as it arrives, one short line each", 0, O(tail)},
    {"start-timeout", 0, PB_OPT_DURATION, "180s", "DURATION",
     "give up when Kafka and the services are not up within this time", 0,
     O(start_timeout)},
    {"mock", 0, PB_OPT_BOOL, "false", NULL,
     "librdkafka's in-memory mock broker instead of Kafka: starts faster, "
     "loses everything at a restart and drops a partition's oldest "
     "messages beyond about 5 MB",
     0, O(mock)},
    {"kafka-port", 0, PB_OPT_INT, "0", "PORT",
     "Kafka's port on 127.0.0.1 (0: the previous run's if free, else any "
     "free port)",
     0, O(kafka_port)},
    {"kafka-controller-port", 0, PB_OPT_INT, "0", "PORT",
     "Kafka's KRaft controller port on 127.0.0.1 (0: as --kafka-port)", 0,
     O(kafka_controller_port)},
    {"kafka-libs", 0, PB_OPT_STRING, NULL, "DIR",
     "Apache Kafka's jars (default ~/.cache/partnerbus/kafka-3.9.1/libs, "
     "where scripts/setup.sh --kafka puts them)",
     0, O(kafka_libs)},
    {"java", 0, PB_OPT_STRING, "java", "PATH", "the Java runtime for Kafka", 0,
     O(java)},
    {"kafka-jvm-opts", 0, PB_OPT_STRING, DEFAULT_JVM_OPTS, "OPTS",
     "JVM options of the Kafka broker (space-separated)", 0, O(jvm_opts)},
};
#undef O

static const pb_cmd_spec_t dev_spec = {
    "dev",
    "Run the whole bus on this machine: Apache Kafka (data kept in DIR), a\n"
    "gateway, a relay archiving every topic and a relay printing every "
    "event.",
    "[--demo] [--listen ADDR:PORT] [--dir DIR] [--mock]",
    "Kafka's data, the archive and the tokens stay in DIR across restarts;\n"
    "Ctrl-C stops it all. The next steps are in DIR/NEXT-STEPS.txt.\n"
    "Examples:\n"
    "  partnerbus dev --demo\n"
    "  partnerbus dev --listen 127.0.0.1:8081 --dir /tmp/pbdev\n"
    "  partnerbus dev --kafka-port 9092\n"
    "  partnerbus dev --mock      # in memory: for quick trials only",
    dev_opts,
    sizeof(dev_opts) / sizeof(dev_opts[0]),
    0};

/* --- child processes ---
 *
 * Every service dev runs is a child in this table, started in order and
 * stopped in reverse. A new service (admin, the relay fleet) is one more
 * pb_dev_spawn() call in start_services() below. */

#define DEV_MAX_CHILDREN 12

typedef struct dev_child {
        const char *name;
        pid_t pid;
        int64_t stop_ms;
        int own_group;
} dev_child_t;

static dev_child_t children[DEV_MAX_CHILDREN];
static size_t nchildren;
volatile sig_atomic_t pb_dev_stop;

static void on_signal(int sig) {
        (void)sig;
        pb_dev_stop = 1;
}

/* In the child: die with dev, output to log (or the fds dev keeps). */
static void child_setup(pid_t parent, const char *log, int flags,
                        int stdout_fd) {
        /* die with dev, however it ends (SIGKILL, a closed terminal): the
         * kernel sends SIGTERM when the parent goes, so the child still
         * drains; if dev is already gone, go */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(1);
        if (flags & PB_DEV_OWN_GROUP)
                setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        if (stdout_fd >= 0)
                dup2(stdout_fd, STDOUT_FILENO);
        if (log) {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) {
                        if (!(flags & PB_DEV_KEEP_STDERR))
                                dup2(fd, STDERR_FILENO);
                        if (stdout_fd < 0 && !(flags & PB_DEV_KEEP_STDOUT))
                                dup2(fd, STDOUT_FILENO);
                        close(fd);
                }
        }
        {
                int null = open("/dev/null", O_RDONLY);
                if (null >= 0) {
                        dup2(null, STDIN_FILENO);
                        close(null);
                }
        }
}

pid_t pb_dev_spawn(const char *name, const char *exe, char *const argv[],
                   const char *log, int flags, int64_t stop_ms, int stdout_fd) {
        pid_t parent = getpid(), pid;
        if (nchildren == DEV_MAX_CHILDREN) {
                errno = ENOSPC;
                return -1;
        }
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                child_setup(parent, log, flags, stdout_fd);
                if (exe)
                        execvp(exe, argv);
                else
                        execv("/proc/self/exe", argv);
                _exit(127);
        }
        if (flags & PB_DEV_OWN_GROUP)
                setpgid(pid, pid); /* also here: no race with a Ctrl-C */
        children[nchildren].name = name;
        children[nchildren].pid = pid;
        children[nchildren].stop_ms = stop_ms;
        children[nchildren].own_group = !!(flags & PB_DEV_OWN_GROUP);
        nchildren++;
        return pid;
}

void pb_dev_stop_children(void) {
        size_t i;
        for (i = nchildren; i-- > 0;) {
                int64_t deadline = pb_mono_ms() + children[i].stop_ms;
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
const char *pb_dev_child_died(void) {
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

int pb_dev_run(const char *exe, char *const argv[], const char *log,
               int64_t timeout_ms) {
        pid_t parent = getpid(), pid = fork();
        int64_t deadline = pb_mono_ms() + timeout_ms;
        int status;
        if (pid < 0)
                return -1;
        if (pid == 0) {
                child_setup(parent, log, 0, -1);
                execvp(exe, argv);
                _exit(127);
        }
        while (waitpid(pid, &status, WNOHANG) != pid) {
                if (pb_dev_stop || pb_mono_ms() > deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        return -1;
                }
                usleep(50000);
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- small file and port helpers --- */

int pb_dev_mkdirs(const char *path) {
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

static int bind_test(const struct sockaddr *sa, socklen_t len, int *port) {
        int fd = socket(sa->sa_family, SOCK_STREAM, 0), one = 1, ok;
        if (fd < 0)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        ok = bind(fd, sa, len) == 0;
        if (ok && port) {
                struct sockaddr_in got;
                socklen_t gl = sizeof(got);
                if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0)
                        *port = ntohs(got.sin_port);
        }
        close(fd);
        return ok;
}

int pb_dev_port_free(int port) {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return bind_test((struct sockaddr *)&sa, sizeof(sa), NULL) == 1;
}

int pb_dev_free_port(void) {
        struct sockaddr_in sa;
        int port = 0;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return bind_test((struct sockaddr *)&sa, sizeof(sa), &port) == 1 ? port
                                                                         : 0;
}

/* Is the gateway's address free? Binding it ourselves is the only honest
 * test; the socket is closed again at once. */
static int listen_busy(const char *listen, char *errstr, size_t errsz) {
        struct sockaddr_storage ss;
        unsigned len;
        int r;
        if (pb_parse_listen(listen, &ss, &len, errstr, errsz) < 0)
                return -1;
        r = bind_test((struct sockaddr *)&ss, len, NULL);
        return r == 0 && errno == EADDRINUSE;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw) {
        (void)sb;
        (void)flag;
        (void)ftw;
        return remove(path);
}

int pb_dev_rmtree(const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -1;
        return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int pb_dev_read_line(const char *path, char *buf, size_t size) {
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

int pb_dev_write_file(const char *path, const char *text, int mode) {
        char tmp[4200];
        size_t n = strlen(text);
        int fd;
        snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -1;
        if (fchmod(fd, (mode_t)mode) < 0 || write(fd, text, n) != (ssize_t)n ||
            close(fd) < 0) {
                unlink(tmp);
                return -1;
        }
        if (rename(tmp, path) < 0) {
                unlink(tmp);
                return -1;
        }
        return 0;
}

void pb_dev_random_hex(const char *prefix, size_t nbytes, char *out,
                       size_t size) {
        unsigned char b[64];
        size_t i, len;
        FILE *fp = fopen("/dev/urandom", "rb");
        if (nbytes > sizeof(b))
                nbytes = sizeof(b);
        if (!fp || fread(b, 1, nbytes, fp) != nbytes) {
                /* fall back to the clock: fine for a development token */
                for (i = 0; i < nbytes; i++)
                        b[i] = (unsigned char)(rand() ^ (pb_mono_ms() >> i));
        }
        if (fp)
                fclose(fp);
        snprintf(out, size, "%s", prefix);
        len = strlen(out);
        for (i = 0; i < nbytes && len + 3 <= size; i++, len += 2)
                snprintf(out + len, size - len, "%02x", b[i]);
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

/* --- the examples --- */

/* DIR/examples/valid/<type>/<name>.json under the schemas directory, in
 * name order. For each one, calls fn with its type, path and source. */
typedef void(example_fn)(void *ctx, const char *type, const char *path,
                         const char *source);

static int name_cmp(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

/* The demo tells the story in order: partnerships, grants, shipments,
 * deliveries; other types after them by name. */
static int story_rank(const char *type) {
        static const char *const order[] = {"partnership.founded",
                                            "funds.granted", "aid.dispatched",
                                            "aid.delivered"};
        int i;
        for (i = 0; i < 4; i++)
                if (!strcmp(type, order[i]))
                        return i;
        return 4;
}

static int type_cmp(const struct dirent **a, const struct dirent **b) {
        int ra = story_rank((*a)->d_name), rb = story_rank((*b)->d_name);
        return ra != rb ? ra - rb : name_cmp(a, b);
}

static size_t for_each_example(const char *schemas_dir, example_fn *fn,
                               void *ctx) {
        char base[4096];
        struct dirent **types = NULL;
        size_t count = 0;
        int nt, i;
        pb_json_parser_t *jp = pb_json_parser_new(NULL);
        snprintf(base, sizeof(base), "%s/examples/valid", schemas_dir);
        if (!jp || (nt = scandir(base, &types, NULL, type_cmp)) < 0) {
                pb_json_parser_destroy(jp);
                return 0;
        }
        for (i = 0; i < nt; i++) {
                char tdir[4200];
                struct dirent **files = NULL;
                int nf, j;
                if (types[i]->d_name[0] == '.')
                        goto next_type;
                snprintf(tdir, sizeof(tdir), "%s/%s", base, types[i]->d_name);
                if ((nf = scandir(tdir, &files, NULL, name_cmp)) < 0)
                        goto next_type;
                for (j = 0; j < nf; j++) {
                        char path[4500], err[128], *text;
                        const pb_json_t *doc, *src;
                        const char *name = files[j]->d_name;
                        size_t n, len = strlen(name);
                        if (len >= 6 && !strcmp(name + len - 5, ".json")) {
                                snprintf(path, sizeof(path), "%s/%s", tdir,
                                         name);
                                n = slurp(path, &text);
                                doc = n ? pb_json_parse(jp, text, n, err,
                                                        sizeof(err))
                                        : NULL;
                                src = doc ? pb_json_get(doc, "source") : NULL;
                                if (src && src->type == PB_JSON_STRING) {
                                        fn(ctx, types[i]->d_name, path,
                                           src->str);
                                        count++;
                                }
                                free(text);
                        }
                        free(files[j]);
                }
                free(files);
        next_type:
                free(types[i]);
        }
        free(types);
        pb_json_parser_destroy(jp);
        return count;
}

static void collect_org(void *ctx, const char *type, const char *path,
                        const char *source) {
        (void)type;
        (void)path;
        pb_dev_org_add(ctx, source);
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
        pb_dev_orgs_t *orgs;
        const char *base;
        CURL *curl;
        size_t ok, failed;
} demo_ctx_t;

static void publish_example(void *ctx, const char *type, const char *path,
                            const char *source) {
        demo_ctx_t *d = ctx;
        pb_dev_org_t *org = pb_dev_org_find(d->orgs, source);
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
        curl_easy_setopt(d->curl, CURLOPT_TIMEOUT_MS, 30000L);
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

/* --- the archive belongs to one Kafka ---
 *
 * DIR/archive/.partnerbus-dev names the Kafka cluster the archive was
 * filled from and the archiving relay's consumer group. An archive of
 * another cluster (Kafka's data was deleted; the mock's data is gone at
 * every restart) would hold events Kafka no longer has and get the new
 * ones on top: it is moved aside. A new archive gets a new group, which
 * starts at the beginning of the topics, so it holds all Kafka has. */
static int prepare_archive(const char *archive, const char *cluster,
                           char *group, size_t gsize) {
        char marker[4200], line[256], want[128], text[512], hex[16];
        DIR *d;
        struct dirent *e;
        int used = 0;
        snprintf(marker, sizeof(marker), "%s/.partnerbus-dev", archive);
        snprintf(want, sizeof(want), "cluster=%s ", cluster);
        if (pb_dev_read_line(marker, line, sizeof(line)) == 0 &&
            !strncmp(line, want, strlen(want)) &&
            sscanf(line + strlen(want), "group=%63s", text) == 1) {
                snprintf(group, gsize, "%s", text);
                return 0;
        }
        if ((d = opendir(archive))) {
                while ((e = readdir(d)))
                        if (e->d_name[0] != '.')
                                used = 1;
                closedir(d);
        }
        if (used) {
                char aside[4300], ts[32];
                time_t now = time(NULL);
                struct tm tm;
                gmtime_r(&now, &tm);
                strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
                snprintf(aside, sizeof(aside), "%s.old-%s", archive, ts);
                if (rename(archive, aside) < 0)
                        return -1;
                fprintf(stderr,
                        "partnerbus dev: %s was filled from another Kafka "
                        "(its data is gone); moved it to %s\n",
                        archive, aside);
        }
        if (pb_dev_mkdirs(archive) < 0)
                return -1;
        pb_dev_random_hex("", 4, hex, sizeof(hex));
        snprintf(group, gsize, "dev-archive-%s", hex);
        snprintf(text, sizeof(text), "cluster=%s group=%s\n", cluster, group);
        return pb_dev_write_file(marker, text, 0644);
}

/* --- the terminal: one short line per event --- */

typedef struct tail_reader {
        int fd;
        char buf[65536];
        size_t len;
        int skipping; /* inside a line too long for buf */
        pb_json_parser_t *jp;
} tail_reader_t;

static void tail_line(tail_reader_t *t, const char *line, size_t n) {
        char err[128];
        const pb_json_t *doc, *topic, *key, *ev, *src;
        if (!t->jp || !(doc = pb_json_parse(t->jp, line, n, err, sizeof(err))))
                return;
        topic = pb_json_get(doc, "topic");
        key = pb_json_get(doc, "key");
        ev = pb_json_get(doc, "event");
        src = ev ? pb_json_get(ev, "source") : NULL;
        fprintf(stdout, "  %-19.19s %-26.26s %.30s\n",
                topic && topic->type == PB_JSON_STRING ? topic->str : "?",
                key && key->type == PB_JSON_STRING ? key->str : "-",
                src && src->type == PB_JSON_STRING ? src->str : "");
}

/* Reads what the tail relay wrote, waiting up to timeout_ms. */
static void tail_pump(tail_reader_t *t, int timeout_ms) {
        struct pollfd pfd;
        ssize_t r;
        if (t->fd < 0) {
                usleep((useconds_t)timeout_ms * 1000);
                return;
        }
        pfd.fd = t->fd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, timeout_ms) <= 0)
                return;
        while ((r = read(t->fd, t->buf + t->len, sizeof(t->buf) - t->len)) >
               0) {
                size_t start = 0, i;
                t->len += (size_t)r;
                for (i = 0; i < t->len; i++) {
                        if (t->buf[i] != '\n')
                                continue;
                        if (!t->skipping)
                                tail_line(t, t->buf + start, i - start);
                        t->skipping = 0;
                        start = i + 1;
                }
                memmove(t->buf, t->buf + start, t->len - start);
                t->len -= start;
                if (t->len == sizeof(t->buf)) { /* a huge line: skip it */
                        t->len = 0;
                        t->skipping = 1;
                }
        }
        if (r == 0) { /* the relay closed its end */
                close(t->fd);
                t->fd = -1;
        }
        fflush(stdout);
}

/* --- banner and next steps --- */

/* An event no example holds: the gateway sets event_id, occurred_at and
 * source, so every run of the printed curl publishes a new event. */
static const char new_shipment[] =
    "{\n"
    "  \"shipment_id\": \"BGK-DEV-GENERATORS\",\n"
    "  \"sender\": {\"name\": \"Blau-Gelbes Kreuz Deutsch-Ukrainischer "
    "Verein e.V.\",\n"
    "             \"kind\": \"NGO\", \"city\": \"Köln\", \"region\": "
    "\"Nordrhein-Westfalen\",\n"
    "             \"country\": \"DE\"},\n"
    "  \"destination\": {\"facility\": \"Лікарня\", \"city\": "
    "\"Дніпро\",\n"
    "                  \"oblast\": \"Dnipropetrowsk\", \"country\": "
    "\"UA\"},\n"
    "  \"dispatched_on\": \"2024-02-01\",\n"
    "  \"items\": [{\"category\": \"GENERATORS\", \"description\": "
    "\"Notstromaggregate\",\n"
    "             \"quantity\": 20, \"unit\": null}],\n"
    "  \"currency\": \"EUR\"\n"
    "}\n";

typedef struct banner {
        const char *exe, *dir, *base, *bootstrap, *archive, *group;
        const char *broker_what, *token, *org, *org_token;
        const char *console; /* the console's URL once admin runs; NULL */
} banner_t;

/* The three next steps, as shell commands (also DIR/NEXT-STEPS.txt):
 * absolute paths, so that they work from any directory. */
static int next_steps(const banner_t *b, char *out, size_t size) {
        return snprintf(
            out, size,
            "# 1. Publish a new aid shipment as %s (each run a new event):\n"
            "curl -sS --fail-with-body -H 'Content-Type: application/json' "
            "\\\n"
            "  -H 'Authorization: Bearer %s' \\\n"
            "  --data-binary @%s/new-shipment.json \\\n"
            "  %s/v1/events/aid.dispatched\n"
            "# 2. The grants as CSV rows, from Kafka:\n"
            "%s replay \\\n"
            "  --brokers %s --topics funds.granted --format csv\n"
            "# 3. Totals and charts from the archive, in report/report.html:\n"
            "%s report \\\n"
            "  --from-archive %s \\\n"
            "  --out %s/report\n",
            b->org, b->org_token, b->dir, b->base, b->exe, b->bootstrap, b->exe,
            b->archive, b->dir);
}

/* path relative to the working directory when it lies below it */
static const char *shown(const char *path) {
        static char cwd[PATH_MAX];
        size_t n;
        if (!getcwd(cwd, sizeof(cwd)))
                return path;
        n = strlen(cwd);
        if (!strncmp(path, cwd, n) && path[n] == '/' && path[n + 1])
                return path + n + 1;
        return path;
}

/* First and compact: with the start line before it and the demo's line
 * after it, it fits a terminal of 80 x 24 (tests/integration/dev_demo.sh). */
static void print_banner(const banner_t *b, const char *steps) {
        const char *p;
        char d[PATH_MAX], arch[PATH_MAX];
        snprintf(d, sizeof(d), "%s", shown(b->dir));
        snprintf(arch, sizeof(arch), "%s", shown(b->archive));
        fprintf(
            stderr,
            "partnerbus dev is running (Ctrl-C stops it); data, tokens, logs: "
            "%s\n"
            "  gateway  %s  (API /v1/openapi.json)\n"
            "  kafka    %s  (%s; archive %s)\n"
            "  operator token  %s\n",
            d, b->base, b->bootstrap, b->broker_what, arch, b->token);
        if (b->console) /* one line more: the banner still fits 80 x 24 */
                fprintf(stderr,
                        "  admin    %s/v1/admin  (console: /console/, "
                        "operator token)\n",
                        b->console);
        fprintf(
            stderr,
            "Next steps, in another terminal (also in %s/NEXT-STEPS.txt):\n",
            d);
        /* the steps file, indented: comment lines become headings */
        for (p = steps; *p;) {
                const char *nl = strchr(p, '\n');
                int n = nl ? (int)(nl - p) : (int)strlen(p);
                if (p[0] == '#')
                        fprintf(stderr, "%.*s\n", n - 2, p + 2);
                else
                        fprintf(stderr, "   %.*s\n", n, p);
                p += n + (nl ? 1 : 0);
        }
        fflush(stderr);
}

/* --- main --- */

static void fail_msg(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void fail_msg(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "partnerbus dev: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
}

/* --admin-listen, or the gateway's host with port 8090 (0 when the
 * gateway's port is 0, so that tests on free ports never collide). */
static void admin_listen_of(const dev_settings_t *s, char *out, size_t size) {
        const char *colon = strrchr(s->listen, ':');
        if (s->admin_listen) {
                snprintf(out, size, "%s", s->admin_listen);
                return;
        }
        if (!colon) {
                snprintf(out, size, "127.0.0.1:8090");
                return;
        }
        snprintf(out, size, "%.*s:%s", (int)(colon - s->listen), s->listen,
                 atoi(colon + 1) == 0 ? "0" : "8090");
}

/* "http://HOST:PORT" for a listen address ("host:port", ":port",
 * "0.0.0.0:port"; no host or the wildcard: 127.0.0.1), with port instead
 * of the address's own when port is not NULL. */
static void base_url(char *out, size_t size, const char *listen,
                     const char *port) {
        const char *colon = strrchr(listen, ':');
        const char *host = listen;
        int hl = colon ? (int)(colon - listen) : 0;
        if (hl == 0 || (hl == 7 && !strncmp(host, "0.0.0.0", 7))) {
                host = "127.0.0.1";
                hl = 9;
        }
        snprintf(out, size, "http://%.*s:%s", hl, host,
                 port    ? port
                 : colon ? colon + 1
                         : "0");
}

/* Waits until a service dev started wrote its port into port_file and,
 * with `readyz`, answers GET /readyz with 200; then base is its
 * http://HOST:PORT (HOST from listen). 0, or -1 after saying that `what`
 * did not become ready (stopped, past the deadline, a child exited). */
static int wait_ready(const char *what, const char *port_file,
                      const char *listen, int readyz, int64_t deadline,
                      const char *logs, char *base, size_t base_size) {
        for (;;) {
                char port[32], url[400];
                if (pb_dev_stop || pb_mono_ms() > deadline ||
                    pb_dev_child_died()) {
                        fail_msg("%s did not become ready (see %s)", what,
                                 logs);
                        return -1;
                }
                if (pb_dev_read_line(port_file, port, sizeof(port)) == 0) {
                        base_url(base, base_size, listen, port);
                        snprintf(url, sizeof(url), "%s/readyz", base);
                        if (!readyz || http_get(url) == 200)
                                return 0;
                }
                usleep(100000);
        }
}

/* Starts the services on the broker at bootstrap. The place to add a
 * service dev runs: one pb_dev_spawn() each, in start order. */
static int start_services(const dev_settings_t *s, const char *dir,
                          const char *bootstrap, const char *tokens,
                          const char *port_file, const char *admin_listen,
                          const char *archive, const char *group,
                          const char *topics, const char *logs, int tail_fd) {
        char sink[4300], op_file[4300], admin_port[4300], gw_url[300];
        char console_url[400];
        if (!s->mock) {
                /* the management API and the relay fleet: organisations,
                 * tokens and subscriptions at run time (docs/admin.md);
                 * endpoints on this machine and plain http allowed, as
                 * befits a development stack */
                char *av[] = {"partnerbus",
                              "admin",
                              "serve",
                              "--brokers",
                              (char *)bootstrap,
                              "--listen",
                              (char *)admin_listen,
                              "--operator-token-file",
                              op_file,
                              "--insecure-http",
                              "--allow-http-endpoints",
                              "--allow-private-endpoints",
                              "--port-file",
                              admin_port,
                              NULL,
                              NULL,
                              NULL};
                char *fav[] = {"partnerbus", "fleet", "--brokers",
                               (char *)bootstrap, NULL};
                const char *colon = strrchr(s->listen, ':');
                snprintf(op_file, sizeof(op_file), "%s/operator-token", dir);
                if (colon && atoi(colon + 1) > 0) {
                        /* the console publishes through the gateway; its
                         * port is known up front unless it is 0 */
                        base_url(gw_url, sizeof(gw_url), s->listen, NULL);
                        av[14] = "--gateway-url";
                        av[15] = gw_url;
                }
                snprintf(admin_port, sizeof(admin_port), "%s/admin.port", dir);
                unlink(admin_port);
                if (pb_dev_spawn("admin", NULL, av, logs, 0, 30000, -1) < 0 ||
                    pb_dev_spawn("fleet", NULL, fav, logs, 0, 30000, -1) < 0)
                        return -1;
        }
        {
                /* with Kafka, the gateway also takes organisations and
                 * tokens from the admin topics */
                char *av[] = {"partnerbus",
                              "gateway",
                              "--brokers",
                              (char *)bootstrap,
                              "--listen",
                              (char *)s->listen,
                              "--tokens",
                              (char *)tokens,
                              "--insecure-http",
                              "--port-file",
                              (char *)port_file,
                              "--admin-topics",
                              NULL,
                              NULL,
                              NULL};
                const char *colon = strrchr(admin_listen, ':');
                if (s->mock) {
                        av[11] = NULL;
                } else if (colon && atoi(colon + 1) > 0) {
                        /* the page at / links to the console */
                        char b[300];
                        base_url(b, sizeof(b), admin_listen, NULL);
                        snprintf(console_url, sizeof(console_url),
                                 "%s/console/", b);
                        av[12] = "--console-url";
                        av[13] = console_url;
                }
                if (pb_dev_spawn("gateway", NULL, av, logs, 0, 30000, -1) < 0)
                        return -1;
        }
        {
                char *av[] = {"partnerbus", "relay",
                              "--brokers",  (char *)bootstrap,
                              "--group",    (char *)group,
                              "--topics",   (char *)topics,
                              "--sink",     sink,
                              "-X",         "allow.auto.create.topics=true",
                              NULL};
                snprintf(sink, sizeof(sink), "archive:%s", archive);
                if (pb_dev_spawn("relay-archive", NULL, av, logs, 0, 30000,
                                 -1) < 0)
                        return -1;
        }
        if (tail_fd >= 0) {
                char *av[] = {"partnerbus",
                              "relay",
                              "--brokers",
                              (char *)bootstrap,
                              "--group",
                              "dev-tail",
                              "--topics",
                              (char *)topics,
                              "--sink",
                              "jsonl:-",
                              "--jsonl-meta",
                              "-X",
                              "allow.auto.create.topics=true",
                              NULL};
                if (pb_dev_spawn("relay-tail", NULL, av, logs, 0, 30000,
                                 tail_fd) < 0)
                        return -1;
        }
        return 0;
}

int pb_cmd_dev(int argc, char **argv) {
        dev_settings_t s;
        pb_cli_common_t common;
        int ret, rc = PB_EXIT_FAIL;
        char err[1024], dir[PATH_MAX], exe[PATH_MAX], bootstrap[512];
        char tokens[4200], archive[4200], logs[4200], port_file[4200];
        char admin_listen[300], admin_base[300] = "", more[2048];
        char base[300], path[4300], libs[4200], group[80];
        char topics[1024] = "", broker_what[256], steps[8192];
        const char *topic_list[64];
        size_t ntopics = 0;
        const char *schemas_dir, *died;
        pb_schemas_t *catalog = NULL;
        pb_dev_orgs_t orgs;
        pb_dev_kafka_t kafka;
        int64_t deadline;
        size_t i;
        struct sigaction sa;
        tail_reader_t tail;
        int tail_pipe[2] = {-1, -1};
        int lock_fd = -1;

        memset(&s, 0, sizeof(s));
        memset(&orgs, 0, sizeof(orgs));
        memset(&kafka, 0, sizeof(kafka));
        memset(&tail, 0, sizeof(tail));
        tail.fd = -1;
        if ((ret = pb_opts_parse_args(&dev_spec, &s, &common, argc, argv)) >= 0)
                return ret;
        if (s.kafka_port < 0 || s.kafka_port > 65535 ||
            s.kafka_controller_port < 0 || s.kafka_controller_port > 65535)
                return pb_cli_usage_error("dev", "a port is 0 to 65535");

        if ((ret = listen_busy(s.listen, err, sizeof(err))) != 0) {
                const char *colon = strrchr(s.listen, ':');
                if (ret < 0)
                        return pb_cli_usage_error("dev", "--listen: %s", err);
                fprintf(stderr,
                        "partnerbus dev: %s is already in use (another "
                        "'partnerbus dev'?).\nChoose another port, e.g. "
                        "'partnerbus dev --listen 127.0.0.1:%d', or set "
                        "PARTNERBUS_LISTEN.\n",
                        s.listen, colon ? atoi(colon + 1) + 1 : 8081);
                pb_opts_free();
                return PB_EXIT_FAIL;
        }
        if (!(catalog = pb_cli_load_schemas("dev", &common))) {
                pb_opts_free();
                return PB_EXIT_FAIL;
        }
        schemas_dir =
            common.schemas_dir ? common.schemas_dir : pb_schemas_default_dir();
        for (i = 0; i < pb_schemas_count(catalog) &&
                    ntopics < sizeof(topic_list) / sizeof(topic_list[0]);
             i++) {
                const char *t = pb_schema_type(pb_schemas_at(catalog, i));
                if (strlen(topics) + strlen(t) + 2 >= sizeof(topics))
                        break;
                if (topics[0])
                        strcat(topics, ",");
                strcat(topics, t);
                topic_list[ntopics++] = t;
        }
        if (pb_dev_mkdirs(s.dir) < 0 || !realpath(s.dir, dir)) {
                fail_msg("cannot create %s: %s", s.dir, strerror(errno));
                goto out;
        }
        /* one dev per directory: a second would share Kafka's data */
        snprintf(path, sizeof(path), "%s/dev.lock", dir);
        lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
                char other[32] = "?";
                if (lock_fd >= 0) {
                        ssize_t n = pread(lock_fd, other, sizeof(other) - 1, 0);
                        other[n > 0 ? n : 0] = 0;
                        other[strcspn(other, "\n")] = 0;
                }
                fail_msg("another partnerbus dev (pid %s) uses %s; stop it "
                         "or choose another --dir",
                         other, dir);
                goto out;
        }
        snprintf(err, sizeof(err), "%ld\n", (long)getpid());
        if (ftruncate(lock_fd, 0) < 0 ||
            pwrite(lock_fd, err, strlen(err), 0) < 0)
                fail_msg("cannot write %s: %s", path, strerror(errno));
        if (!realpath("/proc/self/exe", exe))
                snprintf(exe, sizeof(exe), "partnerbus");
        snprintf(logs, sizeof(logs), "%s/dev.log", dir);
        snprintf(port_file, sizeof(port_file), "%s/gateway.port", dir);
        snprintf(path, sizeof(path), "%s/bootstrap", dir);
        unlink(path);
        unlink(port_file);

        /* tokens: one per organisation of the examples, plus one to try,
         * and the operator's; the same as last time where there was one */
        pb_dev_tokens_load(&orgs, dir);
        pb_dev_org_add(&orgs, "dev-org");
        for_each_example(schemas_dir, collect_org, &orgs);
        if (pb_dev_tokens_save(&orgs, dir, tokens, sizeof(tokens)) < 0) {
                fail_msg("cannot write the tokens in %s", dir);
                goto out;
        }
        snprintf(path, sizeof(path), "%s/new-shipment.json", dir);
        pb_dev_write_file(path, new_shipment, 0644);

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL); /* the terminal closed: stop as well */
        signal(SIGPIPE, SIG_IGN);
        setenv("PARTNERBUS_SCHEMAS", schemas_dir, 1);
        /* the children read their settings from flags only */
        unsetenv("PARTNERBUS_CONFIG");
        deadline = pb_mono_ms() + s.start_timeout;

        if (s.mock) {
                char bfile[4300];
                char *av[] = {"partnerbus", "broker",      "--bootstrap-file",
                              bfile,        "--log-level", "warn",
                              NULL};
                /* the broker warns on the terminal, at start and
                 * whenever it drops messages */
                snprintf(archive, sizeof(archive), "%s/mock/archive", dir);
                snprintf(bfile, sizeof(bfile), "%s/mock/bootstrap", dir);
                /* the mock's data is gone: so is its archive */
                if (pb_dev_rmtree(archive) < 0 || pb_dev_mkdirs(archive) < 0) {
                        fail_msg("cannot empty %s: %s", archive,
                                 strerror(errno));
                        goto out;
                }
                unlink(bfile);
                /* its warnings (dropped messages) go to the terminal */
                if (pb_dev_spawn("broker", NULL, av, logs,
                                 PB_DEV_OWN_GROUP | PB_DEV_KEEP_STDERR, 15000,
                                 -1) < 0) {
                        fail_msg("cannot start the mock broker: %s",
                                 strerror(errno));
                        goto out;
                }
                while (pb_dev_read_line(bfile, bootstrap, sizeof(bootstrap)) <
                       0) {
                        if (pb_dev_stop || pb_mono_ms() > deadline ||
                            pb_dev_child_died()) {
                                fail_msg("the mock broker did not start "
                                         "(see %s)",
                                         logs);
                                goto out;
                        }
                        usleep(50000);
                }
                snprintf(broker_what, sizeof(broker_what),
                         "MOCK broker, in memory: LOSES EVENTS");
                snprintf(group, sizeof(group), "dev-archive");
        } else {
                const char *home = getenv("HOME");
                if (s.kafka_libs)
                        snprintf(libs, sizeof(libs), "%s", s.kafka_libs);
                else
                        snprintf(libs, sizeof(libs),
                                 "%s/.cache/partnerbus/kafka-3.9.1/libs",
                                 home && *home ? home : "/tmp");
                fprintf(stderr,
                        "partnerbus dev: starting Apache Kafka (in %s/kafka), "
                        "the gateway and the relays ...\n",
                        shown(dir));
                if (pb_dev_kafka_prepare(&kafka, dir, libs, s.java, s.jvm_opts,
                                         s.kafka_port, s.kafka_controller_port,
                                         err, sizeof(err)) < 0 ||
                    pb_dev_kafka_start(&kafka, err, sizeof(err)) < 0 ||
                    pb_dev_kafka_wait_ready(&kafka, topic_list, ntopics,
                                            deadline, err, sizeof(err)) < 0) {
                        fprintf(stderr, "partnerbus dev: %s\n", err);
                        if (kafka.dir[0])
                                fprintf(stderr,
                                        "  Kafka's log: %s/server.log\n",
                                        kafka.dir);
                        goto out;
                }
                snprintf(bootstrap, sizeof(bootstrap), "%s", kafka.bootstrap);
                snprintf(broker_what, sizeof(broker_what), "Apache Kafka %s",
                         kafka.version);
                snprintf(archive, sizeof(archive), "%s/archive", dir);
                if (prepare_archive(archive, kafka.cluster_id, group,
                                    sizeof(group)) < 0) {
                        fail_msg("cannot prepare %s: %s", archive,
                                 strerror(errno));
                        goto out;
                }
        }
        snprintf(path, sizeof(path), "%s/bootstrap", dir);
        snprintf(err, sizeof(err), "%s\n", bootstrap);
        pb_dev_write_file(path, err, 0644);

        if (s.tail) {
                if (pipe2(tail_pipe, O_CLOEXEC) < 0) {
                        fail_msg("pipe: %s", strerror(errno));
                        goto out;
                }
                tail.fd = tail_pipe[0];
                fcntl(tail.fd, F_SETFL, O_NONBLOCK);
                tail.jp = pb_json_parser_new(NULL);
        }
        admin_listen_of(&s, admin_listen, sizeof(admin_listen));
        if (start_services(&s, dir, bootstrap, tokens, port_file, admin_listen,
                           archive, group, topics, logs, tail_pipe[1]) < 0) {
                fail_msg("cannot start the services: %s", strerror(errno));
                goto out;
        }
        if (tail_pipe[1] >= 0) {
                close(tail_pipe[1]);
                tail_pipe[1] = -1;
        }

        /* the gateway is up when it answers /readyz (Kafka reachable) */
        if (wait_ready("the gateway", port_file, s.listen, 1, deadline, logs,
                       base, sizeof(base)) < 0)
                goto out;
        /* and admin once it wrote its port (it has read its topics) */
        snprintf(path, sizeof(path), "%s/admin.port", dir);
        if (!s.mock &&
            wait_ready("partnerbus admin", path, admin_listen, 0, deadline,
                       logs, admin_base, sizeof(admin_base)) < 0)
                goto out;

        {
                banner_t b;
                pb_dev_org_t *show =
                    pb_dev_org_find(&orgs, "blau-gelbes-kreuz");
                if (!show)
                        show = &orgs.orgs[0];
                memset(&b, 0, sizeof(b));
                b.exe = exe;
                b.dir = dir;
                b.base = base;
                b.bootstrap = bootstrap;
                b.archive = archive;
                b.group = group;
                b.broker_what = broker_what;
                b.token = orgs.operator_token;
                if (admin_base[0])
                        b.console = admin_base;
                b.org = show->id;
                b.org_token = show->token;
                next_steps(&b, steps, sizeof(steps));
                snprintf(path, sizeof(path), "%s/NEXT-STEPS.txt", dir);
                snprintf(err, sizeof(err),
                         "# partnerbus dev: next steps (rewritten at every "
                         "start of dev)\n");
                more[0] = 0;
                if (admin_base[0])
                        snprintf(
                            more, sizeof(more),
                            "# More: organisations, tokens and subscriptions "
                            "at run time, without editing a\n"
                            "# file (docs/admin.md). The management API "
                            "is %s/v1/admin; the operator:\n"
                            "#   curl -sS -H \"Authorization: Bearer "
                            "$(cat %s/operator-token)\" \\\n"
                            "#     %s/v1/admin/orgs\n"
                            "# A first subscription: POST "
                            "%s/v1/admin/orgs/ORG/subscriptions\n"
                            "# (docs/admin.md, \"Walk-through with curl\"); "
                            "its endpoint must echo the verification "
                            "challenge.\n",
                            admin_base, dir, admin_base, admin_base);
                {
                        size_t n = strlen(err);
                        char *all =
                            malloc(n + strlen(steps) + strlen(more) + 1);
                        if (all) {
                                memcpy(all, err, n);
                                strcpy(all + n, steps);
                                strcat(all, more);
                                /* it holds a token */
                                pb_dev_write_file(path, all, 0600);
                                free(all);
                        }
                }
                print_banner(&b, steps);
        }

        /* The demo once per Kafka: its events keep their event ids, and
         * the gateway's duplicate window does not outlive a restart, so a
         * second demo would store every example twice. */
        snprintf(path, sizeof(path), "%s/kafka/demo-published", dir);
        if (s.demo && !s.mock &&
            pb_dev_read_line(path, err, sizeof(err)) == 0 &&
            !strcmp(err, kafka.cluster_id)) {
                fprintf(stderr, "demo: the examples are in Kafka since the "
                                "first start; not sent again\n");
        } else if (s.demo) {
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
                if (!s.mock && d.ok && !d.failed) {
                        snprintf(err, sizeof(err), "%s\n", kafka.cluster_id);
                        pb_dev_write_file(path, err, 0644);
                }
        }
        if (tail.fd >= 0)
                fprintf(stderr, "Events as they arrive (topic, key, "
                                "source):\n");

        while (!pb_dev_stop) {
                if ((died = pb_dev_child_died())) {
                        fprintf(stderr,
                                "partnerbus dev: %s exited unexpectedly (see "
                                "%s); stopping\n",
                                died, logs);
                        goto out;
                }
                tail_pump(&tail, 200);
        }
        fprintf(stderr, "\npartnerbus dev: stopping\n");
        rc = PB_EXIT_OK;
out:
        pb_dev_stop_children();
        if (tail.fd >= 0) {
                tail_pump(&tail, 0);
                close(tail.fd);
        }
        if (tail_pipe[1] >= 0)
                close(tail_pipe[1]);
        pb_json_parser_destroy(tail.jp);
        if (lock_fd >= 0)
                close(lock_fd);
        pb_schemas_destroy(catalog);
        pb_opts_free();
        return rc;
}
