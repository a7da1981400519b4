/* gw_load: HTTP/1.1 load generator for bench/gateway.sh.
 *
 *   gw_load --url http://HOST:PORT/PATH --token T --template FILE
 *           [--batch K] [--rate REQ_PER_S] [--seconds S] [--connections C]
 *           [--threads N] [--keys K]
 *   gw_load --create-topic NAME --partitions P --brokers HOST:PORT
 *
 * FILE holds one event (one JSON line) in which every "@K@" is replaced by
 * a 12-character counter per event, so every event has its own Kafka key
 * (a new entity); with --keys K the keys cycle through K fixed values
 * (the same in every run: entities known after the first pass).
 * --batch 1 posts application/json, --batch K > 1 posts K events per
 * request as application/x-ndjson.
 *
 * --rate 0 (default): closed loop, each connection sends its next request
 * when the previous answer arrived (the maximum throughput). --rate R: open
 * loop at a constant R requests/s over all threads: request i is due at
 * start + i/R whether or not earlier ones were answered; a due request
 * goes out on an idle keep-alive connection, or waits for one. Its latency
 * is counted from the time it was due (not from when it was sent), so a
 * stalled server shows up in the percentiles instead of slowing the load
 * (no coordinated omission). Latencies go into a log-linear histogram
 * (64 sub-buckets per power of two, <= 1.6 % error).
 *
 * Prints one line of key=value pairs: requests, ok (2xx), non2xx, errors,
 * req_s, events_s, p50/p90/p95/p99/p999/max in ms, late (requests that
 * waited for a connection). Exit status 1 when any request failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NBUCKETS (64 * 40)

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bucket(uint64_t us) {
        if (us < 128)
                return (int)us;
        int msb = 63 - __builtin_clzll(us), shift = msb - 6;
        int i = (shift + 1) * 64 + (int)(us >> shift) - 64;
        return i < NBUCKETS ? i : NBUCKETS - 1;
}

static double bucket_ms(int i) {
        if (i < 128)
                return i / 1000.0;
        int shift = i / 64 - 1;
        uint64_t m = (uint64_t)(i % 64 + 64);
        return (double)((m << shift) + (1ull << shift) / 2) / 1000.0;
}

struct conn {
        int fd;
        int busy;     /* a request is out */
        uint64_t due; /* when that request was due */
        char *out;    /* request being sent */
        size_t out_len, out_off;
        char *in; /* answers read, not yet parsed */
        size_t in_len, in_cap;
};

struct worker {
        pthread_t th;
        int nconn;
        double rate; /* requests/s of this worker, 0: closed loop */
        uint64_t start, end;
        struct conn *c;
        uint64_t hist[NBUCKETS];
        uint64_t requests, ok, non2xx, errors, late;
        uint64_t key; /* next key counter */
        unsigned id;
};

static struct sockaddr_storage addr;
static socklen_t addrlen;
static char *head_fmt; /* request head up to Content-Length value */
static char **tparts;  /* template split at "@K@" */
static size_t ntparts, body_len;
static int batch = 1;
static uint64_t nkeys; /* --keys K: cycle through K keys (0: a new one each) */

static int connect_one(void) {
        int fd = socket(addr.ss_family, SOCK_STREAM, 0), one = 1;
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, addrlen) < 0) {
                perror("connect");
                exit(1);
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        return fd;
}

/* the next request into c->out: head + K events, each with its own key */
static void build(struct worker *w, struct conn *c) {
        size_t hl = strlen(head_fmt), cap = hl + 32 + body_len;
        if (!c->out)
                c->out = malloc(cap);
        size_t n = (size_t)sprintf(c->out, "%s%zu\r\n\r\n", head_fmt, body_len);
        for (int e = 0; e < batch; e++) {
                char k[16];
                if (nkeys) /* known entities: the same K keys again */
                        snprintf(k, sizeof(k), "kk%010llx",
                                 (unsigned long long)(w->key++ % nkeys));
                else
                        snprintf(k, sizeof(k), "%04x%08llx", w->id & 0xffff,
                                 (unsigned long long)(w->key++ & 0xffffffffu));
                for (size_t p = 0; p < ntparts; p++) {
                        size_t l = strlen(tparts[p]);
                        memcpy(c->out + n, tparts[p], l);
                        n += l;
                        if (p + 1 < ntparts) {
                                memcpy(c->out + n, k, 12);
                                n += 12;
                        }
                }
                c->out[n++] = '\n';
        }
        c->out_len = n;
        c->out_off = 0;
}

static int flush_out(struct conn *c) {
        while (c->out_off < c->out_len) {
                ssize_t r =
                    write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
                if (r < 0)
                        return errno == EAGAIN ? 0 : -1;
                c->out_off += (size_t)r;
        }
        return 0;
}

static void send_req(struct worker *w, struct conn *c, uint64_t due) {
        build(w, c);
        c->busy = 1;
        c->due = due;
        w->requests++;
        if (flush_out(c) < 0) {
                w->errors++;
                c->busy = 0;
        }
}

/* a complete answer in c->in? returns its length and the status, or 0 */
static size_t parse_answer(struct conn *c, int *status) {
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end)
                return 0;
        size_t hl = (size_t)(end - c->in) + 4, cl = 0;
        *status = atoi(c->in + 9);
        for (char *p = c->in; p < end; p++) {
                if ((*p == 'c' || *p == 'C') &&
                    !strncasecmp(p, "content-length:", 15)) {
                        cl = (size_t)strtoul(p + 15, NULL, 10);
                        break;
                }
        }
        return c->in_len >= hl + cl ? hl + cl : 0;
}

static void *run(void *arg) {
        struct worker *w = arg;
        int ep = epoll_create1(0);
        w->c = calloc((size_t)w->nconn, sizeof(*w->c));
        for (int i = 0; i < w->nconn; i++) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                                         .data.ptr = &w->c[i]};
                w->c[i].fd = connect_one();
                epoll_ctl(ep, EPOLL_CTL_ADD, w->c[i].fd, &ev);
        }
        uint64_t sent = 0, t = now_ns(), next_idle = 0;
        if (w->rate <= 0)
                for (int i = 0; i < w->nconn; i++)
                        send_req(w, &w->c[i], t);
        struct epoll_event evs[256];
        for (;;) {
                t = now_ns();
                if (t >= w->end)
                        break;
                int blocked = 0; /* due requests wait for a connection */
                if (w->rate > 0) {
                        /* send every request that is due on idle connections */
                        for (;;) {
                                uint64_t due =
                                    w->start +
                                    (uint64_t)((double)sent * 1e9 / w->rate);
                                if (due > t || due >= w->end)
                                        break;
                                struct conn *idle = NULL;
                                for (int k = 0; k < w->nconn && !idle; k++) {
                                        struct conn *c =
                                            &w->c[(next_idle + (uint64_t)k) %
                                                  (uint64_t)w->nconn];
                                        if (!c->busy)
                                                idle = c;
                                }
                                if (!idle) {
                                        blocked = 1;
                                        break;
                                }
                                next_idle = (uint64_t)(idle - w->c) + 1;
                                if (t - due > 1000000)
                                        w->late++;
                                send_req(w, idle, due);
                                sent++;
                        }
                }
                int timeout = 100;
                if (w->rate > 0 && !blocked) {
                        uint64_t due =
                            w->start + (uint64_t)((double)sent * 1e9 / w->rate);
                        /* rounded up: a timeout of 0 while the next
                         * request is less than 1 ms away would spin and
                         * take the CPU the gateway needs; sending up to
                         * 1 ms late is counted in the latency */
                        timeout =
                            due > t ? (int)((due - t + 999999) / 1000000) : 0;
                }
                int n = epoll_wait(ep, evs, 256, timeout);
                for (int i = 0; i < n; i++) {
                        struct conn *c = evs[i].data.ptr;
                        if (evs[i].events & EPOLLOUT && c->busy &&
                            flush_out(c) < 0) {
                                w->errors++;
                                exit(1);
                        }
                        if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                                continue;
                        for (;;) {
                                if (c->in_cap - c->in_len < 16384) {
                                        c->in_cap =
                                            c->in_cap ? 2 * c->in_cap : 65536;
                                        c->in = realloc(c->in, c->in_cap);
                                        if (!c->in)
                                                exit(1);
                                }
                                ssize_t r = read(c->fd, c->in + c->in_len,
                                                 c->in_cap - c->in_len);
                                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                                        fprintf(stderr, "connection closed\n");
                                        w->errors++;
                                        exit(1);
                                }
                                if (r < 0)
                                        break;
                                c->in_len += (size_t)r;
                                int status;
                                size_t used;
                                while ((used = parse_answer(c, &status))) {
                                        uint64_t done = now_ns();
                                        memmove(c->in, c->in + used,
                                                c->in_len - used);
                                        c->in_len -= used;
                                        if (!c->busy)
                                                continue;
                                        c->busy = 0;
                                        if (status >= 200 && status < 300) {
                                                w->ok++;
                                        } else {
                                                if (w->non2xx++ < 3)
                                                        fprintf(stderr,
                                                                "status %d\n",
                                                                status);
                                        }
                                        w->hist[bucket((done - c->due) /
                                                       1000)]++;
                                        if (w->rate <= 0 && done < w->end)
                                                send_req(w, c, done);
                                }
                        }
                }
        }
        for (int i = 0; i < w->nconn; i++) {
                close(w->c[i].fd);
                free(w->c[i].out);
                free(w->c[i].in);
        }
        free(w->c);
        close(ep);
        return NULL;
}

static int create_topic(const char *brokers, const char *name, int parts) {
        char err[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
        rd_kafka_t *rk =
            rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (!rk) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        rd_kafka_NewTopic_t *nt =
            rd_kafka_NewTopic_new(name, parts, -1, err, sizeof(err));
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
        int rc = 1;
        const rd_kafka_CreateTopics_result_t *res =
            ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
        if (res) {
                size_t cnt;
                const rd_kafka_topic_result_t **tr =
                    rd_kafka_CreateTopics_result_topics(res, &cnt);
                rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(tr[0])
                                            : RD_KAFKA_RESP_ERR__FAIL;
                rc = e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
                if (rc)
                        fprintf(stderr, "create %s: %s\n", name,
                                rd_kafka_err2str(e));
        } else {
                fprintf(stderr, "create %s: no answer\n", name);
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_NewTopic_destroy(nt);
        rd_kafka_destroy(rk);
        return rc;
}

static char *read_file(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                perror(path);
                exit(2);
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        char *b = malloc((size_t)n + 1);
        if (fread(b, 1, (size_t)n, f) != (size_t)n)
                exit(2);
        b[n] = 0;
        while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
                b[--n] = 0;
        fclose(f);
        return b;
}

int main(int argc, char **argv) {
        const char *url = NULL, *token = "", *tmpl = NULL, *topic = NULL,
                   *brokers = NULL;
        double rate = 0, secs = 10;
        int conns = 64, threads = 1, parts = 6;
        /* each option with its variable: s text, i int, d double, u
         * uint64_t */
        const struct {
                const char *name;
                char kind;
                void *var;
        } opts[] = {
            {"--url", 's', &url},           {"--token", 's', &token},
            {"--template", 's', &tmpl},     {"--batch", 'i', &batch},
            {"--rate", 'd', &rate},         {"--seconds", 'd', &secs},
            {"--connections", 'i', &conns}, {"--keys", 'u', &nkeys},
            {"--threads", 'i', &threads},   {"--create-topic", 's', &topic},
            {"--partitions", 'i', &parts},  {"--brokers", 's', &brokers},
        };
        for (int i = 1; i + 1 < argc; i += 2) {
                const char *o = argv[i], *v = argv[i + 1];
                size_t k = 0;
                while (k < sizeof(opts) / sizeof(opts[0]) &&
                       strcmp(o, opts[k].name))
                        k++;
                if (k == sizeof(opts) / sizeof(opts[0])) {
                        fprintf(stderr, "unknown option %s\n", o);
                        return 2;
                }
                if (opts[k].kind == 's')
                        *(const char **)opts[k].var = v;
                else if (opts[k].kind == 'i')
                        *(int *)opts[k].var = atoi(v);
                else if (opts[k].kind == 'd')
                        *(double *)opts[k].var = atof(v);
                else
                        *(uint64_t *)opts[k].var = strtoull(v, NULL, 10);
        }
        if (topic && brokers)
                return create_topic(brokers, topic, parts);
        if (!url || !tmpl || batch < 1 || conns < 1 || threads < 1 ||
            conns < threads) {
                fprintf(stderr, "usage: see the head of gw_load.c\n");
                return 2;
        }
        /* http://host:port/path */
        char host[256], path[1024];
        int port = 80;
        if (sscanf(url, "http://%255[^:/]:%d%1023s", host, &port, path) != 3) {
                fprintf(stderr, "bad url %s\n", url);
                return 2;
        }
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
        char ps[16];
        snprintf(ps, sizeof(ps), "%d", port);
        if (getaddrinfo(host, ps, &hints, &ai)) {
                fprintf(stderr, "cannot resolve %s\n", host);
                return 2;
        }
        memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
        addrlen = ai->ai_addrlen;
        freeaddrinfo(ai);
        if (asprintf(&head_fmt,
                     "POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: "
                     "Bearer %s\r\nContent-Type: %s\r\nContent-Length: ",
                     path, host, port, token,
                     batch > 1 ? "application/x-ndjson" : "application/json") <
            0)
                return 1;
        /* split the template at @K@ */
        char *t = read_file(tmpl), *p = t, *q;
        size_t tl = 0;
        tparts = calloc(strlen(t) + 2, sizeof(*tparts));
        while ((q = strstr(p, "@K@"))) {
                *q = 0;
                tparts[ntparts++] = p;
                tl += strlen(p) + 12;
                p = q + 3;
        }
        tparts[ntparts++] = p;
        tl += strlen(p);
        body_len = (tl + 1) * (size_t)batch;

        struct worker *w = calloc((size_t)threads, sizeof(*w));
        uint64_t start = now_ns() + 50000000,
                 end = start + (uint64_t)(secs * 1e9);
        for (int i = 0; i < threads; i++) {
                w[i].nconn = conns / threads + (i < conns % threads);
                w[i].rate = rate / threads;
                w[i].start = start;
                w[i].end = end;
                w[i].id = (unsigned)getpid() * 8u + (unsigned)i;
                pthread_create(&w[i].th, NULL, run, &w[i]);
        }
        uint64_t hist[NBUCKETS] = {0}, requests = 0, ok = 0, non2xx = 0,
                 errors = 0, late = 0, total = 0;
        for (int i = 0; i < threads; i++) {
                pthread_join(w[i].th, NULL);
                requests += w[i].requests;
                ok += w[i].ok;
                non2xx += w[i].non2xx;
                errors += w[i].errors;
                late += w[i].late;
                for (int b = 0; b < NBUCKETS; b++)
                        hist[b] += w[i].hist[b];
        }
        for (int b = 0; b < NBUCKETS; b++)
                total += hist[b];
        double el = (double)(end - start) / 1e9;
        printf("requests=%llu ok=%llu non2xx=%llu errors=%llu late=%llu "
               "req_s=%.0f events_s=%.0f",
               (unsigned long long)requests, (unsigned long long)ok,
               (unsigned long long)non2xx, (unsigned long long)errors,
               (unsigned long long)late, (double)total / el,
               (double)total * batch / el);
        static const double pct[] = {50, 90, 95, 99, 99.9, 100};
        static const char *const name[] = {"p50", "p90",  "p95",
                                           "p99", "p999", "max"};
        for (int k = 0; k < 6 && total; k++) {
                uint64_t want = (uint64_t)((double)total * pct[k] / 100.0 +
                                           0.999999),
                         seen = 0;
                int b = 0;
                for (; b < NBUCKETS - 1; b++) {
                        seen += hist[b];
                        if (seen >= want && want)
                                break;
                }
                printf(" %s_ms=%.2f", name[k], bucket_ms(b));
        }
        printf("\n");
        return errors || non2xx ? 1 : 0;
}
