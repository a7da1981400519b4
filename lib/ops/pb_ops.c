/* partnerbus - the ops endpoint (/healthz, /readyz, /metrics) that relay
 * and poll serve on a small HTTP port, on libmicrohttpd's own thread. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "partnerbus/pb_metrics.h"

struct pb_ops_server {
        struct MHD_Daemon *d;
        pb_metrics_t *m;
        pb_ready_cb_t *ready;
        pb_render_cb_t *render;
        void *opaque;
        int port;
};

int pb_parse_listen(const char *listen, struct sockaddr_storage *ss,
                    unsigned *sslen, char *errstr, size_t errstr_size) {
        char host[256];
        const char *colon, *port_s;
        char *end;
        long port;
        memset(ss, 0, sizeof(*ss));
        if (!listen || !*listen) {
                snprintf(errstr, errstr_size, "empty listen address");
                return -1;
        }
        if (listen[0] == '[') {
                const char *rb = strchr(listen, ']');
                if (!rb || rb[1] != ':') {
                        snprintf(errstr, errstr_size,
                                 "'%s': expected [IPv6]:PORT", listen);
                        return -1;
                }
                snprintf(host, sizeof(host), "%.*s", (int)(rb - listen - 1),
                         listen + 1);
                port_s = rb + 2;
        } else {
                colon = strrchr(listen, ':');
                if (!colon) {
                        snprintf(errstr, errstr_size,
                                 "'%s': expected HOST:PORT or :PORT", listen);
                        return -1;
                }
                snprintf(host, sizeof(host), "%.*s", (int)(colon - listen),
                         listen);
                port_s = colon + 1;
        }
        port = strtol(port_s, &end, 10);
        if (end == port_s || *end || port < 0 || port > 65535) {
                snprintf(errstr, errstr_size, "'%s': bad port", listen);
                return -1;
        }
        if (!host[0] || !strcmp(host, "0.0.0.0") || !strcmp(host, "*")) {
                struct sockaddr_in *a = (struct sockaddr_in *)ss;
                a->sin_family = AF_INET;
                a->sin_addr.s_addr = htonl(INADDR_ANY);
                a->sin_port = htons((uint16_t)port);
                *sslen = sizeof(*a);
                return 0;
        }
        if (!strcmp(host, "localhost"))
                snprintf(host, sizeof(host), "127.0.0.1");
        {
                struct sockaddr_in *a = (struct sockaddr_in *)ss;
                struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
                if (inet_pton(AF_INET, host, &a->sin_addr) == 1) {
                        a->sin_family = AF_INET;
                        a->sin_port = htons((uint16_t)port);
                        *sslen = sizeof(*a);
                        return 0;
                }
                if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
                        a6->sin6_family = AF_INET6;
                        a6->sin6_port = htons((uint16_t)port);
                        *sslen = sizeof(*a6);
                        return 0;
                }
        }
        snprintf(errstr, errstr_size,
                 "'%s': host must be an IP address (or localhost)", listen);
        return -1;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *ctype, const void *body, size_t len) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            len, (void *)body, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, "Content-Type", ctype);
        ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls) {
        pb_ops_server_t *s = cls;
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
                return reply(conn, 405, "text/plain", "method not allowed\n",
                             19);
        if (!strcmp(url, "/healthz"))
                return reply(conn, 200, "text/plain", "ok\n", 3);
        if (!strcmp(url, "/readyz")) {
                char reason[256] = "not ready";
                if (!s->ready || s->ready(s->opaque, reason, sizeof(reason)))
                        return reply(conn, 200, "text/plain", "ready\n", 6);
                strncat(reason, "\n", sizeof(reason) - strlen(reason) - 1);
                return reply(conn, 503, "text/plain", reason, strlen(reason));
        }
        if (!strcmp(url, "/metrics")) {
                pb_buf_t b;
                enum MHD_Result ret;
                if (s->render)
                        s->render(s->opaque);
                pb_buf_init(&b, 0);
                pb_metrics_render(s->m, &b);
                ret = reply(conn, 200, "text/plain; version=0.0.4",
                            b.data ? (const char *)b.data : "", b.len);
                pb_buf_free(&b);
                return ret;
        }
        return reply(conn, 404, "text/plain", "not found\n", 10);
}

pb_ops_server_t *pb_ops_server_new(const char *listen, pb_metrics_t *m,
                                   pb_ready_cb_t *ready, void *opaque,
                                   char *errstr, size_t errstr_size) {
        return pb_ops_server_new2(listen, m, ready, NULL, opaque, errstr,
                                  errstr_size);
}

pb_ops_server_t *pb_ops_server_new2(const char *listen, pb_metrics_t *m,
                                    pb_ready_cb_t *ready,
                                    pb_render_cb_t *render, void *opaque,
                                    char *errstr, size_t errstr_size) {
        pb_ops_server_t *s;
        struct sockaddr_storage ss;
        unsigned sslen;
        const union MHD_DaemonInfo *info;
        /* poll(), not select(): a process with many sockets (the relay
         * fleet: several per subscription) gets descriptors beyond
         * FD_SETSIZE, which select() cannot watch */
        unsigned flags =
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
        if (pb_parse_listen(listen, &ss, &sslen, errstr, errstr_size) < 0)
                return NULL;
        if (!(s = calloc(1, sizeof(*s)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        s->m = m;
        s->ready = ready;
        s->render = render;
        s->opaque = opaque;
        if (ss.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        s->d = MHD_start_daemon(
            flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
        if (!s->d) {
                snprintf(errstr, errstr_size,
                         "cannot listen on %s (port in use? choose another "
                         "with --ops-listen)",
                         listen);
                free(s);
                return NULL;
        }
        info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : 0;
        return s;
}

int pb_ops_server_port(const pb_ops_server_t *s) {
        return s ? s->port : 0;
}

void pb_ops_server_destroy(pb_ops_server_t *s) {
        if (!s)
                return;
        if (s->d)
                MHD_stop_daemon(s->d);
        free(s);
}
