/* partnerbus - the HTTP API services (admin, gateway): their server
 * configured and announced from the flags they share (pb_cli_http_t). */
#ifndef PB_CLI_HTTP_H
#define PB_CLI_HTTP_H

#include "partnerbus/pb_httpd.h"
#include "pb_cli.h"

/* --listen, --tls-*, --threads and --conn-timeout as the server takes
 * them. */
pb_httpd_conf_t pb_cli_httpd_conf(const pb_cli_http_t *h);

/* pb_httpd_announce for the server listening on `port`: the listening
 * line (with extra, may be NULL), --ops-listen (*ops, the caller's to
 * destroy) and --port-file. 0, or -1 after printing why. */
int pb_cli_http_announce(const char *cmd, const pb_cli_http_t *h, int port,
                         const char *brokers, const char *extra,
                         pb_metrics_t *m, pb_ready_cb_t *ready,
                         pb_render_cb_t *render, void *opaque,
                         pb_ops_server_t **ops);

#endif
