/* relay_receiver: the fastest honest webhook receiver for bench/relay.sh:
 * libmicrohttpd with an epoll thread pool, reads each POST body completely,
 * counts requests, bytes and events (a JSON array counts its top-level
 * elements: commas at depth 1 + 1), answers 204. Prints
 * "requests=N events=N bytes=N" to the file given on SIGTERM.
 *     relay_receiver PORT STATS_FILE */
#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_long reqs, events, bytes;
static volatile sig_atomic_t stop;

typedef struct conn {
        int depth, in_str, esc;
        long elems;
        int array, any;
} conn_t;

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
                atomic_fetch_add(&bytes, (long)*size);
                *size = 0;
                return MHD_YES;
        }
        {
                struct MHD_Response *r = MHD_create_response_from_buffer(
                    0, "", MHD_RESPMEM_PERSISTENT);
                enum MHD_Result ret;
                atomic_fetch_add(&reqs, 1);
                atomic_fetch_add(&events, st->array ? st->elems + 1 : 1);
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
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
        d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                             (uint16_t)atoi(argv[1]), NULL, NULL, handler, NULL,
                             MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
                             MHD_OPTION_THREAD_POOL_SIZE, 2,
                             MHD_OPTION_CONNECTION_TIMEOUT, 60, MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "relay_receiver: cannot listen on %s\n",
                        argv[1]);
                return 1;
        }
        while (!stop)
                pause();
        MHD_stop_daemon(d);
        fp = fopen(argv[2], "w");
        if (fp) {
                fprintf(fp, "requests=%ld events=%ld bytes=%ld\n",
                        atomic_load(&reqs), atomic_load(&events),
                        atomic_load(&bytes));
                fclose(fp);
        }
        return 0;
}
