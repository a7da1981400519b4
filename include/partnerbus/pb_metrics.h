/* Library: partnerbus_ops (lib/ops). */
/* partnerbus - Prometheus metrics: counters, gauges and histograms with
 * labels, rendered in the text exposition format (version 0.0.4).
 *
 * Thread-safe (one mutex; updates are a hash lookup and an add). The number
 * of series is bounded (PB_METRICS_MAX_SERIES): past it new label sets are
 * counted in partnerbus_metrics_dropped_series_total instead, so label
 * values from input cannot grow memory without bound. Label values are
 * escaped on output; pass them raw. */
#ifndef PB_METRICS_H
#define PB_METRICS_H

#include "pb_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PB_METRICS_MAX_SERIES 4096

typedef struct pb_metrics pb_metrics_t;

pb_metrics_t *pb_metrics_new(void);
void pb_metrics_destroy(pb_metrics_t *m);

/* Declares a family once (type and help), before or after first use.
 * type: "counter", "gauge" or "histogram". For histograms, `buckets` are
 * the upper bounds in ascending order (NULL = default latency buckets in
 * seconds: 0.001 .. 10). */
void pb_metrics_declare(pb_metrics_t *m, const char *name, const char *type,
                        const char *help, const double *buckets,
                        size_t nbuckets);

/* labels: NULL-terminated "name", "value", ... pairs, or NULL. */
void pb_metrics_add(pb_metrics_t *m, const char *name,
                    const char *const *labels, double v);
void pb_metrics_set(pb_metrics_t *m, const char *name,
                    const char *const *labels, double v);
void pb_metrics_observe(pb_metrics_t *m, const char *name,
                        const char *const *labels, double v);
/* Current value of a counter/gauge series, 0 if absent (for tests and
 * readiness logic). */
double pb_metrics_get(pb_metrics_t *m, const char *name,
                      const char *const *labels);

pb_resp_t pb_metrics_render(pb_metrics_t *m, pb_buf_t *out);

/* --- the small ops HTTP endpoint of relay and poll (libmicrohttpd) ---
 * GET /healthz: 200 "ok" while the process runs;
 * GET /readyz: 200 when ready_cb returns 1, else 503 with its reason;
 * GET /metrics: pb_metrics_render. Anything else 404. */
typedef int(pb_ready_cb_t)(void *opaque, char *reason, size_t reason_size);
typedef struct pb_ops_server pb_ops_server_t;

/* listen: "127.0.0.1:9090" or ":9090" (all interfaces) or "[::1]:9090";
 * port 0 picks a free one (pb_ops_server_port tells which). */
pb_ops_server_t *pb_ops_server_new(const char *listen, pb_metrics_t *m,
                                   pb_ready_cb_t *ready, void *opaque,
                                   char *errstr, size_t errstr_size);
/* As pb_ops_server_new; render (may be NULL) is called with opaque before
 * every GET /metrics, to refresh gauges. */
typedef void(pb_render_cb_t)(void *opaque);
pb_ops_server_t *pb_ops_server_new2(const char *listen, pb_metrics_t *m,
                                    pb_ready_cb_t *ready,
                                    pb_render_cb_t *render, void *opaque,
                                    char *errstr, size_t errstr_size);
int pb_ops_server_port(const pb_ops_server_t *s);
void pb_ops_server_destroy(pb_ops_server_t *s);

/* Parses "host:port" / ":port" / "[v6]:port" into a sockaddr for
 * listeners. Returns 0 or -1 with errstr. */
struct sockaddr_storage;
int pb_parse_listen(const char *listen, struct sockaddr_storage *ss,
                    unsigned *sslen, char *errstr, size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
