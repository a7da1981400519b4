/* partnerbus - libmicrohttpd set-up shared by the HTTP API servers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_httpd.h"
#include "partnerbus/pb_metrics.h"
#include "partnerbus/pb_util.h"

void pb_httpd_option(pb_httpd_setup_t *s, enum MHD_OPTION option,
                     intptr_t value, void *ptr_value) {
        if (s->no + 1 >= PB_HTTPD_MAX_OPTIONS)
                return;
        s->ops[s->no++] = (struct MHD_OptionItem){option, value, ptr_value};
}

int pb_httpd_setup(pb_httpd_setup_t *s, const pb_httpd_conf_t *c,
                   unsigned flags, char *errstr, size_t errstr_size) {
        unsigned sslen = 0;
        memset(s, 0, sizeof(*s));
        s->flags = flags;
        if (pb_parse_listen(c->listen, &s->ss, &sslen, errstr, errstr_size) < 0)
                return -1;
        if (s->ss.ss_family == AF_INET6)
                s->flags |= MHD_USE_IPv6;
        if (c->tls_cert) {
                if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
                        snprintf(errstr, errstr_size,
                                 "libmicrohttpd was built without TLS");
                        return -1;
                }
                s->cert_pem =
                    pb_httpd_read_file(c->tls_cert, errstr, errstr_size);
                if (!s->cert_pem)
                        return -1;
                s->key_pem =
                    pb_httpd_read_file(c->tls_key, errstr, errstr_size);
                if (!s->key_pem) {
                        free(s->cert_pem);
                        s->cert_pem = NULL;
                        return -1;
                }
                s->flags |= MHD_USE_TLS;
                /* TLS 1.2 and 1.3 only, AEAD ciphers, forward secrecy
                 * (--tls-priorities) */
                pb_httpd_option(s, MHD_OPTION_HTTPS_PRIORITIES, 0,
                                (void *)c->tls_priorities);
                pb_httpd_option(s, MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem);
                pb_httpd_option(s, MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem);
        }
        pb_httpd_option(s, MHD_OPTION_SOCK_ADDR, 0, &s->ss);
        if (c->threads > 1)
                pb_httpd_option(s, MHD_OPTION_THREAD_POOL_SIZE,
                                (intptr_t)c->threads, NULL);
        pb_httpd_option(s, MHD_OPTION_CONNECTION_TIMEOUT,
                        (intptr_t)((c->conn_timeout_ms + 999) / 1000), NULL);
        return 0;
}

struct MHD_Daemon *pb_httpd_start(pb_httpd_setup_t *s,
                                  MHD_AccessHandlerCallback handler, void *cls,
                                  MHD_LogCallback log, void *log_cls,
                                  const char *listen, char *errstr,
                                  size_t errstr_size) {
        struct MHD_Daemon *d;
        if (log)
                pb_httpd_option(s, MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)log,
                                log_cls);
        s->ops[s->no] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        d = MHD_start_daemon(s->flags, 0, NULL, NULL, handler, cls,
                             MHD_OPTION_ARRAY, s->ops, MHD_OPTION_END);
        if (!d)
                snprintf(errstr, errstr_size,
                         "cannot listen on %s (address in use, bad TLS "
                         "certificate or key?)",
                         listen);
        return d;
}

char *pb_httpd_read_file(const char *path, char *errstr, size_t errstr_size) {
        size_t n;
        return pb_read_file(path, PB_HTTPD_MAX_FILE, &n, errstr, errstr_size);
}

void pb_httpd_print_routes(const pb_httpd_route_t *routes, size_t n) {
        size_t i;
        for (i = 0; i < n; i++)
                printf("%s %s\n", routes[i].method, routes[i].path);
}

int pb_httpd_port(struct MHD_Daemon *d) {
        const union MHD_DaemonInfo *i =
            d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
        return i ? (int)i->port : -1;
}

int pb_httpd_write_port_file(const char *path, int port, char *errstr,
                             size_t errstr_size) {
        char tmp[1100];
        FILE *fp;
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        fp = fopen(tmp, "w");
        if (!fp || fprintf(fp, "%d\n", port) < 0 || fclose(fp) != 0 ||
            rename(tmp, path) != 0) {
                snprintf(errstr, errstr_size, "--port-file %s: %s", path,
                         strerror(errno));
                return -1;
        }
        return 0;
}

int pb_httpd_announce(const pb_httpd_announce_t *a, pb_ops_server_t **ops,
                      char *errstr, size_t errstr_size) {
        char e[512];
        *ops = NULL;
        if (a->ops_listen) {
                *ops = pb_ops_server_new2(a->ops_listen, a->metrics, a->ready,
                                          a->render, a->opaque, e, sizeof(e));
                if (!*ops) {
                        snprintf(errstr, errstr_size, "--ops-listen: %s", e);
                        return -1;
                }
                a->log("info", "cmd=%s msg=\"ops endpoint\" port=%d", a->cmd,
                       pb_ops_server_port(*ops));
        }
        a->log("info",
               "cmd=%s msg=\"listening\" listen=%s port=%d scheme=%s "
               "brokers=%s%s",
               a->cmd, a->listen, a->port, a->tls ? "https" : "http",
               a->brokers, a->extra ? a->extra : "");
        if (a->port_file && pb_httpd_write_port_file(a->port_file, a->port,
                                                     errstr, errstr_size) < 0)
                return -1;
        return 0;
}
