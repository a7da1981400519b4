/* partnerbus - the ops endpoint of the commands without an HTTP API
 * (pb_cli.h) and the servers of those with one (pb_cli_http.h). */
#include <stddef.h>
#include <stdio.h>

#include "pb_cli.h"
#include "pb_cli_http.h"

int pb_cli_ops_start(const char *listen, pb_metrics_t *m, pb_ready_cb_t *ready,
                     void *opaque, pb_ops_server_t **out) {
        char err[512];
        *out = NULL;
        if (!listen)
                return 0;
        *out = pb_ops_server_new(listen, m, ready, opaque, err, sizeof(err));
        if (!*out) {
                pb_log("error", "msg=\"ops endpoint: %s\"", err);
                return -1;
        }
        pb_log("info", "msg=\"ops endpoint\" port=%d",
               pb_ops_server_port(*out));
        return 0;
}

int pb_cli_ready(int ready, const char *why, char *reason, size_t reason_size) {
        if (!ready)
                snprintf(reason, reason_size, "%s", why);
        return ready != 0;
}

pb_httpd_conf_t pb_cli_httpd_conf(const pb_cli_http_t *h) {
        const pb_httpd_conf_t c = {h->listen,  h->tls_cert,
                                   h->tls_key, h->tls_priorities,
                                   h->threads, h->conn_timeout};
        return c;
}

int pb_cli_http_announce(const char *cmd, const pb_cli_http_t *h, int port,
                         const char *brokers, const char *extra,
                         pb_metrics_t *m, pb_ready_cb_t *ready,
                         pb_render_cb_t *render, void *opaque,
                         pb_ops_server_t **ops) {
        const pb_httpd_announce_t an = {
            cmd,     h->listen, port,          h->tls_cert != NULL,
            brokers, extra,     h->ops_listen, m,
            ready,   render,    opaque,        h->port_file,
            pb_log};
        char err[512];
        if (pb_httpd_announce(&an, ops, err, sizeof(err)) < 0) {
                fprintf(stderr, "partnerbus %s: %s\n", cmd, err);
                return -1;
        }
        return 0;
}
