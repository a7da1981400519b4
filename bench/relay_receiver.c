/* relay_receiver: the fastest honest webhook receiver for bench/relay.sh
 * and bench/webhook.sh: libmicrohttpd with an epoll thread pool, reads each
 * POST body completely, counts requests, bytes and events (a JSON array
 * counts its top-level elements: commas at depth 1 + 1), answers 204.
 *
 * It also checks order per key: every event of tests/relay/gen_events.py
 * carries "seq=<i> key=<k>" in its note, and the bytes of that text are the
 * same in the JSON the relay posts and in the Avro value another sink may
 * post as it is. For a single-event request (a body that is no array, or
 * an array without a comma at its top level) the receiver finds the first
 * "seq=" in the body and remembers the highest seq per key: a seq below it
 * is an order violation ("out_of_order"), an equal one a redelivery
 * ("repeats"); "in_order" counts the rest (so, without repeats, the number
 * of distinct events). Requests are answered in any order (a thread pool
 * of 4): the check is on what arrived, in arrival order per key, which is
 * the order a receiver processes them.
 *
 * Prints "requests=N events=N bytes=N in_order=N out_of_order=N repeats=N
 * unchecked=N span_s=S" (S: seconds from the first request to the latest,
 * so a rate leaves out every side's start-up) to the file given on SIGTERM, and
 * the same line to STATS_FILE.live every second (so a script can wait for a
 * count). relay_receiver PORT STATS_FILE */
#define _GNU_SOURCE
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long reqs, events, bytes, in_order, out_of_order, repeats,
    unchecked;
/* CLOCK_MONOTONIC microseconds of the first and the latest request */
static atomic_long first_us, last_us;

static long mono_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static volatile sig_atomic_t stop;

/* highest seq seen per key (keys 0..PB_RECV_KEYS-1), -1 none */
#define PB_RECV_KEYS 1000000
static long *last_seq;
static pthread_mutex_t seq_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct conn {
        int depth, in_str, esc;
        long elems;
        int array, any;
        /* "seq=<i> key=<k>" found across chunk boundaries */
        char tail[48];
        size_t tail_len;
        long seq, key;
        int found;
} conn_t;

/* looks for "seq=<digits> key=<digits>" in the text; the key's digits
 * may end the text only when it is the end of the body (final) */
static void find_seq(conn_t *st, const char *p, size_t n, int final) {
        const char *q = p, *end = p + n;
        while (!st->found && (q = memmem(q, (size_t)(end - q), "seq=", 4))) {
                char *e;
                long seq = strtol(q + 4, &e, 10), key;
                if (e > q + 4 && e + 5 < end && !memcmp(e, " key=", 5)) {
                        char *e2;
                        key = strtol(e + 5, &e2, 10);
                        if (e2 > e + 5 && (e2 < end || final)) {
                                st->seq = seq;
                                st->key = key;
                                st->found = 1;
                        }
                }
                q += 4;
        }
}

static void scan_seq(conn_t *st, const char *data, size_t n) {
        char buf[96];
        size_t k;
        if (st->found)
                return;
        /* the last bytes of the previous chunk joined with the first of
         * this one, then the chunk itself */
        if (st->tail_len) {
                k = n < sizeof(buf) - st->tail_len ? n
                                                   : sizeof(buf) - st->tail_len;
                memcpy(buf, st->tail, st->tail_len);
                memcpy(buf + st->tail_len, data, k);
                find_seq(st, buf, st->tail_len + k, 0);
        }
        find_seq(st, data, n, 0);
        k = n < sizeof(st->tail) ? n : sizeof(st->tail);
        memcpy(st->tail, data + n - k, k);
        st->tail_len = k;
}

static void check_seq(conn_t *st) {
        if (!st->found)
                find_seq(st, st->tail, st->tail_len, 1);
        if (!st->found || st->key < 0 || st->key >= PB_RECV_KEYS) {
                atomic_fetch_add(&unchecked, 1);
                return;
        }
        pthread_mutex_lock(&seq_lock);
        if (st->seq > last_seq[st->key]) {
                last_seq[st->key] = st->seq;
                atomic_fetch_add(&in_order, 1);
        } else if (st->seq == last_seq[st->key]) {
                atomic_fetch_add(&repeats, 1);
        } else {
                atomic_fetch_add(&out_of_order, 1);
        }
        pthread_mutex_unlock(&seq_lock);
}

static void print_stats(FILE *fp) {
        fprintf(fp,
                "requests=%ld events=%ld bytes=%ld in_order=%ld "
                "out_of_order=%ld repeats=%ld unchecked=%ld span_s=%.3f\n",
                atomic_load(&reqs), atomic_load(&events), atomic_load(&bytes),
                atomic_load(&in_order), atomic_load(&out_of_order),
                atomic_load(&repeats), atomic_load(&unchecked),
                (double)(atomic_load(&last_us) - atomic_load(&first_us)) / 1e6);
}

static void on_term(int s) {
        (void)s;
        stop = 1;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
                               const char *url, const char *method,
                               const char *version, const char *data,
                               size_t *size, void **ctx) {
        conn_t *st = *ctx;
        size_t i;
        (void)cls;
        (void)url;
        (void)version;
        if (strcmp(method, "POST"))
                return MHD_NO;
        if (!st) {
                st = calloc(1, sizeof(*st));
                *ctx = st;
                return st ? MHD_YES : MHD_NO;
        }
        if (*size) {
                for (i = 0; i < *size; i++) {
                        char ch = data[i];
                        if (!st->any && ch != ' ' && ch != '\n') {
                                st->any = 1;
                                st->array = ch == '[';
                        }
                        if (st->in_str) {
                                if (st->esc)
                                        st->esc = 0;
                                else if (ch == '\\')
                                        st->esc = 1;
                                else if (ch == '"')
                                        st->in_str = 0;
                        } else if (ch == '"') {
                                st->in_str = 1;
                        } else if (ch == '[' || ch == '{') {
                                st->depth++;
                        } else if (ch == ']' || ch == '}') {
                                st->depth--;
                        } else if (ch == ',' && st->depth == 1) {
                                st->elems++;
                        }
                }
                scan_seq(st, data, *size);
                atomic_fetch_add(&bytes, (long)*size);
                *size = 0;
                return MHD_YES;
        }
        {
                struct MHD_Response *r = MHD_create_response_from_buffer(
                    0, "", MHD_RESPMEM_PERSISTENT);
                enum MHD_Result ret;
                long now = mono_us(), zero = 0;
                atomic_compare_exchange_strong(&first_us, &zero, now);
                atomic_store(&last_us, now);
                atomic_fetch_add(&reqs, 1);
                atomic_fetch_add(&events, st->array ? st->elems + 1 : 1);
                /* one event: a plain body or an array of one element
                 * (a peer's batch of one) */
                if (!st->array || st->elems == 0)
                        check_seq(st);
                ret = MHD_queue_response(c, 204, r);
                MHD_destroy_response(r);
                return ret;
        }
}

static void done(void *cls, struct MHD_Connection *c, void **ctx,
                 enum MHD_RequestTerminationCode t) {
        (void)cls;
        (void)c;
        (void)t;
        free(*ctx);
        *ctx = NULL;
}

int main(int argc, char **argv) {
        struct MHD_Daemon *d;
        FILE *fp;
        if (argc != 3) {
                fprintf(stderr, "usage: relay_receiver PORT STATS_FILE\n");
                return 2;
        }
        char live[4096];
        long i;
        last_seq = malloc(PB_RECV_KEYS * sizeof(*last_seq));
        if (!last_seq)
                return 1;
        for (i = 0; i < PB_RECV_KEYS; i++)
                last_seq[i] = -1;
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                             (uint16_t)atoi(argv[1]), NULL, NULL, handler, NULL,
                             MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
                             MHD_OPTION_THREAD_POOL_SIZE, 4,
                             MHD_OPTION_CONNECTION_TIMEOUT, 60, MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "relay_receiver: cannot listen on %s\n",
                        argv[1]);
                return 1;
        }
        snprintf(live, sizeof(live), "%s.live", argv[2]);
        while (!stop) {
                char tmp[4200];
                snprintf(tmp, sizeof(tmp), "%s.tmp", live);
                fp = fopen(tmp, "w");
                if (fp) {
                        print_stats(fp);
                        fclose(fp);
                        rename(tmp, live);
                }
                sleep(1);
        }
        MHD_stop_daemon(d);
        fp = fopen(argv[2], "w");
        if (fp) {
                print_stats(fp);
                fclose(fp);
        }
        return 0;
}
