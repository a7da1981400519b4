/* partnerbus - libmicrohttpd set-up shared by the HTTP API servers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_httpd.h"
#include "partnerbus/pb_metrics.h"

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
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        size_t n = 0, cap = 0;
        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return NULL;
        }
        for (;;) {
                size_t got;
                if (n + 4096 + 1 > cap) {
                        char *nb;
                        cap = cap ? cap * 2 : 8192;
                        if (cap > PB_HTTPD_MAX_FILE) {
                                snprintf(errstr, errstr_size, "%s: too large",
                                         path);
                                free(buf);
                                fclose(fp);
                                return NULL;
                        }
                        nb = realloc(buf, cap);
                        if (!nb) {
                                free(buf);
                                fclose(fp);
                                snprintf(errstr, errstr_size, "out of memory");
                                return NULL;
                        }
                        buf = nb;
                }
                got = fread(buf + n, 1, 4096, fp);
                n += got;
                if (got < 4096)
                        break;
        }
        fclose(fp);
        buf[n] = 0;
        return buf;
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
