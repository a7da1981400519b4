/* partnerbus gateway - HTTP on libmicrohttpd: routes, checks in the order
 * a client can fix them, limits while reading, suspend/resume.
 *
 * Threading: MHD's internal epoll thread(s) (a pool of --threads) run
 * the access handler; each thread keeps its own codec and JSON parser
 * (pb_gw_worker_t, created on first use, freed by pb_gw_workers_free).
 * A request waiting for Kafka is suspended and costs no thread.
 *
 * Request memory: headers live in MHD's per-connection pool
 * (--conn-memory); the body is copied into req->body, bounded by
 * --max-body per request and --max-inflight-bytes for the process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "partnerbus/pb_httpd.h"
#include "pb_cli.h"
#include "pb_cli_http.h"
#include "pb_gw_server.h"

enum {
        R_EVENTS = 0,
        R_SCHEMAS,
        R_SCHEMA,
        R_OPENAPI,
        R_HEALTHZ,
        R_READYZ,
        R_LANDING,
        R_NONE,
};

/* Every route the gateway serves; docs/openapi.json must list exactly
 * these (tests/integration/gateway_tls_openapi.sh checks it). */
const pb_gw_route_t pb_gw_routes[] = {
    [R_EVENTS] = {"POST", "/v1/events/{type}"},
    [R_SCHEMAS] = {"GET", "/v1/schemas"},
    [R_SCHEMA] = {"GET", "/v1/schemas/{type}"},
    [R_OPENAPI] = {"GET", "/v1/openapi.json"},
    [R_HEALTHZ] = {"GET", "/healthz"},
    [R_READYZ] = {"GET", "/readyz"},
    [R_LANDING] = {"GET", "/"},
};
/* /metrics and the reason why /readyz is 503 are served only on
 * --ops-listen (pb_ops): they name every organisation and Kafka's own
 * error text, which the public port does not give to anyone. */
const size_t pb_gw_nroutes = sizeof(pb_gw_routes) / sizeof(pb_gw_routes[0]);

static __thread pb_gw_worker_t *tls_worker;

/* JSON values one parse may hold: a value takes at least 2 bytes of the
 * body ("0,"), and a node 64 bytes of the parser's arena, so the cap
 * keeps the arena of one parse near --max-body (not 64 MB for a 2 MB
 * "[0,0,...]"), with room for any real event (at least 4096 values). */
size_t pb_gw_json_max_nodes(const pb_gw_t *gw) {
        size_t n = gw->set.http.max_body / 64;
        return n < 4096 ? 4096 : n;
}

/* Bodies at least this large have their memory handed back to the
 * system after the request (parser arena trimmed, malloc_trim). */
#define PB_GW_TRIM_BODY  (256u << 10)
#define PB_GW_ARENA_KEEP (256u << 10)

static pb_gw_worker_t *worker_get(pb_gw_t *gw) {
        pb_gw_worker_t *w = tls_worker;
        if (w)
                return w;
        w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->codec = pb_codec_new();
        {
                /* both parse request bodies (the codec when the first
                 * parse failed, for its error message) */
                pb_json_limits_t lim = {0, pb_gw_json_max_nodes(gw)};
                w->parser = pb_json_parser_new(&lim);
                if (w->codec &&
                    pb_codec_set_json_limits(w->codec, &lim) != PB_OK) {
                        pb_codec_destroy(w->codec);
                        w->codec = NULL;
                }
        }
        if (!w->codec || !w->parser) {
                pb_codec_destroy(w->codec);
                pb_json_parser_destroy(w->parser);
                free(w);
                return NULL;
        }
        pthread_mutex_lock(&gw->workers_lock);
        w->next = gw->workers;
        gw->workers = w;
        pthread_mutex_unlock(&gw->workers_lock);
        tls_worker = w;
        return w;
}

/* Route of url; *param points at the {type} part (NUL-terminated by
 * MHD's url), or NULL. */
static int match_route(const char *url, const char **param) {
        *param = NULL;
        if (!strncmp(url, "/v1/events/", 11) && url[11] &&
            !strchr(url + 11, '/')) {
                *param = url + 11;
                return R_EVENTS;
        }
        if (!strcmp(url, "/v1/schemas"))
                return R_SCHEMAS;
        if (!strncmp(url, "/v1/schemas/", 12) && url[12] &&
            !strchr(url + 12, '/')) {
                *param = url + 12;
                return R_SCHEMA;
        }
        if (!strcmp(url, "/v1/openapi.json"))
                return R_OPENAPI;
        if (!strcmp(url, "/healthz"))
                return R_HEALTHZ;
        if (!strcmp(url, "/readyz"))
                return R_READYZ;
        if (!strcmp(url, "/"))
                return R_LANDING;
        return R_NONE;
}

static int find_type(pb_gw_t *gw, const char *type, size_t *idx) {
        size_t i;
        for (i = 0; i < gw->ntypes; i++)
                if (!strcmp(pb_schema_type(gw->types[i].schema), type)) {
                        *idx = i;
                        return 1;
                }
        return 0;
}

/* Queues the answer. body is copied, unless owned is given: then *owned
 * (malloc'd, holding body) is handed to MHD, which frees it, and set to
 * NULL; on failure it stays the caller's. */
static enum MHD_Result respond_ex(pb_gw_req_t *req, unsigned status,
                                  const char *ctype, const void *body,
                                  size_t len, int64_t retry_after_ms,
                                  const char *hname, const char *hval,
                                  uint8_t **owned) {
        pb_gw_t *gw = req->gw;
        struct MHD_Response *resp;
        enum MHD_Result ret;
        char code[8];
        const char *labels[] = {"route", "other", "code", code, NULL};
        if (owned && *owned) {
                resp = MHD_create_response_from_buffer(len, *owned,
                                                       MHD_RESPMEM_MUST_FREE);
                if (resp)
                        *owned = NULL;
        } else {
                resp = MHD_create_response_from_buffer(len, (void *)body,
                                                       MHD_RESPMEM_MUST_COPY);
        }
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        if (retry_after_ms > 0) {
                char ra[32];
                snprintf(ra, sizeof(ra), "%lld",
                         (long long)((retry_after_ms + 999) / 1000));
                MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
        }
        if (hname)
                MHD_add_response_header(resp, hname, hval);
        if (atomic_load(&gw->stopping))
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
                                        "close");
        ret = MHD_queue_response(req->conn, status, resp);
        MHD_destroy_response(resp);
        req->responded = 1;
        snprintf(code, sizeof(code), "%u", status);
        if (req->route != R_NONE)
                labels[1] = pb_gw_routes[req->route].path;
        pb_metrics_add(gw->metrics, "partnerbus_gateway_requests_total", labels,
                       1);
        if (status >= 500)
                pb_log("warn", "cmd=gateway route=%s status=%u org=%s",
                       labels[1], status, req->org[0] ? req->org : "-");
        else
                pb_log("debug", "cmd=gateway route=%s status=%u org=%s",
                       labels[1], status, req->org[0] ? req->org : "-");
        return ret;
}

static enum MHD_Result respond(pb_gw_req_t *req, unsigned status,
                               const char *ctype, const void *body, size_t len,
                               int64_t retry_after_ms, const char *hname,
                               const char *hval) {
        return respond_ex(req, status, ctype, body, len, retry_after_ms, hname,
                          hval, NULL);
}

static enum MHD_Result respond_json(pb_gw_req_t *req, unsigned status,
                                    const pb_buf_t *b, int64_t retry_ms,
                                    const char *hname, const char *hval) {
        return respond(req, status, "application/json",
                       b->data ? (const char *)b->data : "", b->len, retry_ms,
                       hname, hval);
}

static enum MHD_Result respond_error(pb_gw_req_t *req, unsigned status,
                                     const char *code, const char *msg,
                                     int64_t retry_ms, const char *hname,
                                     const char *hval) {
        pb_buf_t b;
        enum MHD_Result r;
        pb_buf_init(&b, 0);
        pb_gw_error_body(&b, code, msg);
        r = respond_json(req, status, &b, retry_ms, hname, hval);
        pb_buf_free(&b);
        return r;
}

/* Bearer token -> org allowed to publish type. Returns 0, or the HTTP
 * status (401/403) with msg. */
static unsigned authorize(pb_gw_req_t *req, const char *type, char *msg,
                          size_t msgsz) {
        pb_gw_t *gw = req->gw;
        const char *h = NULL;
        size_t hlen = 0;
        const pb_gw_token_t *e;
        unsigned st = 0;
        /* the value's full length: "Bearer <token>\0junk" must not match
         * <token> (check_head refuses NUL already; this holds anyway) */
        if (MHD_lookup_connection_value_n(
                req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION,
                strlen(MHD_HTTP_HEADER_AUTHORIZATION), &h, &hlen) != MHD_YES)
                h = NULL;
        if (!h || hlen < 7 || strncasecmp(h, "Bearer ", 7)) {
                snprintf(msg, msgsz,
                         "missing 'Authorization: Bearer "
                         "<token>' header");
                return 401;
        }
        h += 7;
        hlen -= 7;
        while (hlen && *h == ' ') {
                h++;
                hlen--;
        }
        if (memchr(h, 0, hlen))
                hlen = 0;
        if (gw->admin && hlen) {
                /* tokens issued through partnerbus admin first */
                char org[PB_GW_ORG_MAX];
                switch (pb_gw_admin_find(gw->admin, h, hlen, type, org,
                                         sizeof(org))) {
                case PB_GW_ADMIN_OK:
                        snprintf(req->org, sizeof(req->org), "%s", org);
                        return 0;
                case PB_GW_ADMIN_REVOKED:
                        snprintf(msg, msgsz, "bearer token revoked");
                        return 401;
                case PB_GW_ADMIN_ORG_DISABLED:
                        snprintf(msg, msgsz,
                                 "organisation %s is disabled or unknown", org);
                        return 401;
                case PB_GW_ADMIN_NO_PUBLISH_ROLE:
                        snprintf(req->org, sizeof(req->org), "%s", org);
                        snprintf(msg, msgsz,
                                 "a subscriber token may not publish");
                        return 403;
                case PB_GW_ADMIN_TYPE_FORBIDDEN:
                        snprintf(req->org, sizeof(req->org), "%s", org);
                        snprintf(msg, msgsz,
                                 "organisation %s may not publish %s", org,
                                 type);
                        return 403;
                case PB_GW_ADMIN_UNKNOWN:
                        break;
                }
        }
        pthread_rwlock_rdlock(&gw->tokens_lock);
        e = hlen && gw->tokens ? pb_gw_tokens_find(gw->tokens, h, hlen) : NULL;
        if (!e) {
                snprintf(msg, msgsz, "unknown bearer token");
                st = 401;
        } else {
                snprintf(req->org, sizeof(req->org), "%s", e->org);
                if (type && !pb_gw_token_allows(e, type)) {
                        snprintf(msg, msgsz,
                                 "organisation %s may not publish %s", e->org,
                                 type);
                        st = 403;
                }
        }
        pthread_rwlock_unlock(&gw->tokens_lock);
        return st;
}

/* application/json or application/x-ndjson, parameters ignored.
 * 1 json, 2 ndjson, 0 other. */
static int content_kind(const char *ct) {
        size_t n;
        if (!ct)
                return 0;
        while (*ct == ' ')
                ct++;
        n = strcspn(ct, "; \t");
        if (n == 16 && !strncasecmp(ct, "application/json", 16))
                return 1;
        if (n == 20 && !strncasecmp(ct, "application/x-ndjson", 20))
                return 2;
        return 0;
}

void pb_gw_metrics_refresh(pb_gw_t *gw) {
        pb_metrics_set(gw->metrics, "partnerbus_gateway_producer_queue_depth",
                       NULL, (double)pb_producer_outq_len(gw->producer));
        pb_metrics_set(gw->metrics, "partnerbus_gateway_inflight_requests",
                       NULL, (double)atomic_load(&gw->inflight_requests));
        pb_metrics_set(gw->metrics, "partnerbus_gateway_inflight_events", NULL,
                       (double)atomic_load(&gw->inflight_events));
        pb_metrics_set(gw->metrics, "partnerbus_gateway_dedup_entries", NULL,
                       (double)pb_gw_dedup_count(gw->dedup));
        pb_metrics_set(gw->metrics, "partnerbus_gateway_dedup_evictions_total",
                       NULL, (double)pb_gw_dedup_evictions(gw->dedup));
        pb_metrics_set(gw->metrics, "partnerbus_gateway_kafka_ready", NULL,
                       atomic_load(&gw->kafka_ready) ? 1 : 0);
        if (gw->owners) {
                pb_owners_stats_t os;
                pb_owners_stats(gw->owners, &os);
                pb_metrics_set(gw->metrics,
                               "partnerbus_gateway_owner_claims_total", NULL,
                               (double)os.claims);
                pb_metrics_set(gw->metrics,
                               "partnerbus_gateway_owner_refusals_total", NULL,
                               (double)os.refusals);
                pb_metrics_set(gw->metrics,
                               "partnerbus_gateway_owner_unavailable_total",
                               NULL, (double)os.unavailable);
                pb_metrics_set(gw->metrics, "partnerbus_gateway_owner_entries",
                               NULL, (double)os.entries);
                pb_metrics_set(gw->metrics,
                               "partnerbus_gateway_owner_dropped_total", NULL,
                               (double)os.dropped);
                pb_metrics_set(gw->metrics,
                               "partnerbus_gateway_owner_caught_up", NULL,
                               os.caught_up ? 1 : 0);
        }
}

/* GET /: a page linking to the web console (--console-url), the schemas
 * and the API description; no script, no style, nothing from elsewhere. */
static enum MHD_Result serve_landing(pb_gw_req_t *req) {
        pb_gw_t *gw = req->gw;
        pb_buf_t b;
        enum MHD_Result r;
        pb_buf_init(&b, 16384);
        pb_buf_puts(&b,
                    "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                    "<meta charset=\"utf-8\"><title>partnerbus</title>"
                    "</head><body><main><h1>partnerbus</h1>"
                    "<p lang=\"de\">Ereignisse zwischen Nordrhein-Westfalen "
                    "und der Ukraine.</p>"
                    "<p lang=\"uk\">Події між Північним Рейном-Вестфалією "
                    "та Україною.</p><ul>");
        if (gw->set.console_url) {
                pb_buf_puts(&b, "<li><a href=\"");
                pb_buf_xml_text(&b, gw->set.console_url);
                pb_buf_puts(&b, "\">Web console / Webkonsole / "
                                "Вебконсоль</a></li>");
        }
        pb_buf_puts(&b, "<li><a href=\"/v1/schemas\">/v1/schemas</a> "
                        "(event types, Avro schemas)</li>"
                        "<li><a href=\"/v1/openapi.json\">/v1/openapi.json</a> "
                        "(API description, OpenAPI 3)</li>"
                        "</ul></main></body></html>\n");
        r = respond(req, b.data ? 200 : 500, "text/html; charset=utf-8",
                    b.data ? (const char *)b.data : "", b.len, 0,
                    "Content-Security-Policy",
                    "default-src 'none'; frame-ancestors 'none'; "
                    "base-uri 'none'; form-action 'none'");
        pb_buf_free(&b);
        return r;
}

static enum MHD_Result serve_get(pb_gw_req_t *req, const char *param) {
        pb_gw_t *gw = req->gw;
        size_t idx;
        switch (req->route) {
        case R_HEALTHZ:
                return respond(req, 200, "text/plain", "ok\n", 3, 0, NULL,
                               NULL);
        case R_READYZ:
                if (atomic_load(&gw->stopping))
                        return respond(req, 503, "text/plain",
                                       "shutting down\n", 14, 0, NULL, NULL);
                if (atomic_load(&gw->kafka_ready))
                        return respond(req, 200, "text/plain", "ready\n", 6, 0,
                                       NULL, NULL);
                /* the reason (Kafka's error text) only on --ops-listen */
                return respond(req, 503, "text/plain", "not ready\n", 10, 0,
                               NULL, NULL);
        case R_SCHEMAS:
                return respond(req, 200, "application/json", gw->schemas_json,
                               strlen(gw->schemas_json), 0, NULL, NULL);
        case R_SCHEMA:
                if (!find_type(gw, param, &idx))
                        return respond_error(req, 404, "unknown_type",
                                             "no such event type; GET "
                                             "/v1/schemas lists them",
                                             0, NULL, NULL);
                return respond(req, 200, "application/json",
                               gw->types[idx].info_json,
                               strlen(gw->types[idx].info_json), 0, NULL, NULL);
        case R_LANDING:
                return serve_landing(req);
        case R_OPENAPI:
                if (!gw->openapi_json)
                        return respond_error(req, 404, "no_openapi",
                                             "this gateway was started "
                                             "without its OpenAPI document",
                                             0, NULL, NULL);
                return respond(req, 200, "application/json", gw->openapi_json,
                               gw->openapi_len, 0, NULL, NULL);
        }
        return respond_error(req, 404, "not_found", "no such route", 0, NULL,
                             NULL);
}

/* Records an answer to give once the body was read (and dropped): an
 * answer queued before the body is read makes MHD close the connection,
 * and clients that retry (401 after a token change, 429) keep theirs. */
static enum MHD_Result defer_error(pb_gw_req_t *req, unsigned status,
                                   const char *code, const char *msg,
                                   int64_t retry_ms, const char *hname,
                                   const char *hval) {
        pb_buf_init(&req->deferred, 0);
        pb_gw_error_body(&req->deferred, code, msg);
        req->deferred_status = status;
        req->deferred_retry_ms = retry_ms;
        req->deferred_hname = hname;
        req->deferred_hval = hval;
        req->too_big = 1; /* read without storing */
        return MHD_YES;
}

#define PB_GW_HEAD_SCAN 128 /* header lines whose ends are checked */

/* What check_head finds in the request's header lines. */
typedef struct head_scan {
        const char *key[PB_GW_HEAD_SCAN];  /* where each line starts */
        const char *vend[PB_GW_HEAD_SCAN]; /* where MHD says its value ends */
        size_t n;
        int nul;        /* a name or value contains NUL */
        int n_cl;       /* Content-Length lines */
        int cl_differ;  /* ... with different values */
        int te;         /* a Transfer-Encoding line */
        const char *cl; /* the first Content-Length value */
        size_t cl_len;
} head_scan_t;

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind,
                                   const char *key, size_t key_size,
                                   const char *value, size_t value_size) {
        head_scan_t *h = cls;
        (void)kind;
        if ((key && memchr(key, 0, key_size)) ||
            (value && memchr(value, 0, value_size)))
                h->nul = 1;
        if (!key)
                return MHD_YES;
        if (h->n < PB_GW_HEAD_SCAN && value) {
                h->key[h->n] = key;
                h->vend[h->n] = value + value_size;
                h->n++;
        }
        if (key_size == 14 && !strncasecmp(key, "Content-Length", 14)) {
                if (h->n_cl++ == 0) {
                        h->cl = value;
                        h->cl_len = value_size;
                } else if (value_size != h->cl_len ||
                           (value && memcmp(value, h->cl, value_size))) {
                        h->cl_differ = 1;
                }
        } else if (key_size == 17 &&
                   !strncasecmp(key, "Transfer-Encoding", 17)) {
                h->te = 1;
        }
        return MHD_YES;
}

/* Request framing and header hygiene, for every route: a NUL inside a
 * header name or value (a value is otherwise read up to its NUL:
 * "Bearer <token>\0junk"), Content-Length together with
 * Transfer-Encoding, or Content-Length given more than once (equal or
 * not) are what request smuggling past a proxy is built from: 400, and
 * the connection is closed. Returns the status, 0 when fine. */
static int line_end_byte(char c) {
        return c == 0 || c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

/* libmicrohttpd 0.9.75 keeps a header value only up to a NUL inside it
 * (its size too): what follows the NUL is still in the request head it
 * read, between the end of the value and the next line. Every byte there
 * must belong to the line end (CR, LF, or the NULs MHD wrote over them)
 * or be trailing blanks. head/head_size: the request head as read. */
static int hidden_nul(const head_scan_t *h, const char *head,
                      size_t head_size) {
        const char *end = head + head_size;
        size_t i, j;
        if (!head || !head_size || !line_end_byte(end[-1]))
                return 0; /* not the layout expected: nothing to say */
        for (i = 0; i < h->n; i++) {
                const char *stop = end, *p;
                if (h->vend[i] < head || h->vend[i] >= end)
                        continue;
                for (j = 0; j < h->n; j++)
                        if (h->key[j] > h->vend[i] && h->key[j] < stop)
                                stop = h->key[j];
                for (p = h->vend[i]; p < stop; p++)
                        if (!line_end_byte(*p))
                                return 1;
        }
        return 0;
}

static unsigned check_head(pb_gw_req_t *req, const char *method,
                           const char **why) {
        head_scan_t h;
        const union MHD_ConnectionInfo *ci;
        memset(&h, 0, sizeof(h));
        MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, scan_header,
                                    &h);
        ci = MHD_get_connection_info(req->conn,
                                     MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        if (ci && hidden_nul(&h, method, ci->header_size))
                h.nul = 1;
        if (h.nul) {
                *why = "a header contains a NUL byte";
                return 400;
        }
        if (h.te && h.n_cl) {
                *why = "Content-Length together with Transfer-Encoding";
                return 400;
        }
        if (h.n_cl > 1) {
                *why = h.cl_differ ? "conflicting Content-Length headers"
                                   : "Content-Length given more than once";
                return 400;
        }
        return 0;
}

/* --- the request-head deadline (--header-timeout) ---
 * libmicrohttpd's --conn-timeout starts again with every byte, so a
 * client sending a header line every few seconds holds its connection
 * for ever. Every connection is listed from its accept until its request
 * head is complete (the first call of on_request), and again after each
 * answer until the next head is; the producer's poll thread shuts down
 * the socket of one past its deadline, and MHD closes it. */
static void heads_add(pb_gw_t *gw, pb_gw_conn_t *c, int64_t deadline) {
        pthread_mutex_lock(&gw->heads_lock);
        c->head_deadline = deadline;
        if (!c->waiting) {
                c->prev = NULL;
                c->next = gw->heads;
                if (gw->heads)
                        gw->heads->prev = c;
                gw->heads = c;
                c->waiting = 1;
        }
        pthread_mutex_unlock(&gw->heads_lock);
}

static void heads_del_locked(pb_gw_t *gw, pb_gw_conn_t *c) {
        if (!c->waiting)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                gw->heads = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        c->waiting = 0;
}

static pb_gw_conn_t *conn_ctx(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

void pb_gw_heads_run(pb_gw_t *gw, int64_t now_ms) {
        pb_gw_conn_t *c, *next;
        int n = 0;
        pthread_mutex_lock(&gw->heads_lock);
        for (c = gw->heads; c; c = next) {
                next = c->next;
                if (c->head_deadline > now_ms)
                        continue;
                heads_del_locked(gw, c);
                /* MHD closes the socket only after NOTIFY_CLOSED, which
                 * takes heads_lock: the fd is still this connection's */
                shutdown(c->fd, SHUT_RDWR);
                n++;
        }
        pthread_mutex_unlock(&gw->heads_lock);
        if (n)
                pb_log("info",
                       "cmd=gateway msg=\"request head not complete within "
                       "--header-timeout: connection closed\" connections=%d",
                       n);
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        pb_gw_t *gw = cls;
        pb_gw_conn_t *c = *socket_context;
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
                    conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                c = calloc(1, sizeof(*c));
                *socket_context = c;
                if (!c || !ci)
                        return; /* no deadline for this one */
                c->fd = ci->connect_fd;
                heads_add(gw, c, pb_mono_ms() + gw->set.header_timeout);
                return;
        }
        if (code == MHD_CONNECTION_NOTIFY_CLOSED && c) {
                pthread_mutex_lock(&gw->heads_lock);
                heads_del_locked(gw, c);
                pthread_mutex_unlock(&gw->heads_lock);
                free(c);
                *socket_context = NULL;
        }
}

long pb_gw_per_address_limit(const pb_gw_settings_t *s) {
        if (s->max_conn_per_address >= 0)
                return s->max_conn_per_address;
        return s->max_connections / 8 > 4 ? s->max_connections / 8 : 4;
}

/* First call for POST /v1/events/{type}: every check that needs only the
 * headers. Returns MHD_YES to go on reading the body. */
static enum MHD_Result events_headers(pb_gw_req_t *req, const char *type) {
        pb_gw_t *gw = req->gw;
        char msg[300];
        unsigned st;
        const char *cl;
        size_t cl_len = 0;
        int kind;
        int64_t wait;

        st = authorize(req, NULL, msg, sizeof(msg));
        if (st)
                return defer_error(req, st, "unauthorized", msg, 0,
                                   MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                   "Bearer realm=\"partnerbus\"");
        if (!find_type(gw, type, &req->type_idx))
                return defer_error(req, 404, "unknown_type",
                                   "no such event type; GET /v1/schemas "
                                   "lists them",
                                   0, NULL, NULL);
        st = authorize(req, type, msg, sizeof(msg));
        if (st)
                return defer_error(req, st,
                                   st == 403 ? "forbidden" : "unauthorized",
                                   msg, 0, NULL, NULL);
        kind = content_kind(MHD_lookup_connection_value(
            req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
        if (!kind)
                return defer_error(req, 415, "unsupported_media_type",
                                   "Content-Type must be application/json "
                                   "(one event) or application/x-ndjson "
                                   "(a batch, one event per line)",
                                   0, NULL, NULL);
        req->batch = kind == 2;
        cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
                char *end;
                unsigned long long v;
                errno = 0;
                v = strtoull(cl, &end, 10);
                if (!errno && end != cl && !*end && v <= gw->set.http.max_body)
                        cl_len = (size_t)v;
                if (!errno && end != cl && v > gw->set.http.max_body) {
                        snprintf(msg, sizeof(msg),
                                 "body of %llu bytes exceeds the limit of %zu "
                                 "bytes",
                                 v, gw->set.http.max_body);
                        return respond_error(req, 413, "body_too_large", msg, 0,
                                             NULL, NULL);
                }
        }
        wait = pb_gw_ratelimit_take(gw->rl, req->org, 1, pb_mono_ms(), 0);
        if (wait > 0) {
                snprintf(msg, sizeof(msg),
                         "organisation %s exceeds %ld events/s; retry after "
                         "%lld ms",
                         req->org, gw->set.rate, (long long)wait);
                return defer_error(req, 429, "rate_limited", msg, wait, NULL,
                                   NULL);
        }
        pb_buf_init(&req->body, gw->set.http.max_body);
        /* one allocation for the whole body when its length is announced
         * (at most --max-body, checked above), instead of doubling from
         * 64 bytes and copying (14 times for a batch of 500). It counts
         * against --max-inflight-bytes at once, so clients that announce
         * large bodies and stall cannot hold more than that. */
        if (cl_len > 0) {
                long total =
                    atomic_fetch_add(&gw->inflight_bytes, (long)cl_len) +
                    (long)cl_len;
                req->counted_bytes = cl_len;
                if ((size_t)total > gw->set.max_inflight_bytes)
                        return respond_error(
                            req, 503, "overloaded",
                            "too many request bodies in memory; retry",
                            gw->set.retry_after, NULL, NULL);
                if (pb_buf_reserve(&req->body, cl_len) != PB_OK)
                        return respond_error(req, 503, "overloaded",
                                             "out of memory",
                                             gw->set.retry_after, NULL, NULL);
        }
        return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        pb_gw_t *gw = cls;
        pb_gw_req_t *req = *con_cls;
        pb_gw_answer_t ans;
        int state;
        (void)version;

        if (!req) {
                const char *param;
                int is_get;
                req = calloc(1, sizeof(*req));
                if (!req)
                        return MHD_NO;
                req->gw = gw;
                req->conn = conn;
                atomic_init(&req->refs, 1); /* MHD's, until on_completed */
                pthread_mutex_init(&req->lock, NULL);
                atomic_fetch_add(&gw->live_reqs, 1);
                atomic_fetch_add(&gw->inflight_requests, 1);
                *con_cls = req;
                {
                        /* the head is complete: off the deadline list */
                        pb_gw_conn_t *c = conn_ctx(conn);
                        const char *why = NULL;
                        unsigned bad;
                        if (c) {
                                pthread_mutex_lock(&gw->heads_lock);
                                heads_del_locked(gw, c);
                                pthread_mutex_unlock(&gw->heads_lock);
                        }
                        req->route = match_route(url, &param);
                        if ((bad = check_head(req, method, &why)))
                                return respond_error(
                                    req, bad, "bad_request", why, 0,
                                    MHD_HTTP_HEADER_CONNECTION, "close");
                }
                if (req->route == R_NONE)
                        return respond_error(req, 404, "not_found",
                                             "no such route; see GET "
                                             "/v1/openapi.json",
                                             0, NULL, NULL);
                is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
                if (req->route == R_EVENTS && strcmp(method, "POST"))
                        return respond_error(req, 405, "method_not_allowed",
                                             "use POST", 0,
                                             MHD_HTTP_HEADER_ALLOW, "POST");
                if (req->route != R_EVENTS && !is_get)
                        return respond_error(
                            req, 405, "method_not_allowed", "use GET", 0,
                            MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
                if (req->route != R_EVENTS) {
                        /* answered on the next call: MHD closes the
                         * connection after an answer queued this early */
                        req->param = param;
                        return MHD_YES;
                }
                if (atomic_load(&gw->stopping))
                        return respond_error(req, 503, "shutting_down",
                                             "the gateway is shutting down; "
                                             "retry (another instance)",
                                             gw->set.retry_after, NULL, NULL);
                return events_headers(req, param);
        }
        if (req->responded) {
                /* answered early (413, 401, ...): drop the rest */
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (*upload_data_size) {
                size_t n = *upload_data_size;
                long total;
                *upload_data_size = 0;
                if (req->too_big || req->body.len + n > gw->set.http.max_body) {
                        /* MHD cannot answer in the middle of a body: keep
                         * reading without storing (the buffer is freed
                         * now), answer 413 at its end; a client that goes
                         * on past PB_GW_DRAIN_MAX more bytes is cut off */
                        if (!req->too_big) {
                                req->too_big = 1;
                                pb_gw_req_release(req);
                                pb_buf_free(&req->body);
                        }
                        req->drained += n;
                        if (req->drained > PB_GW_DRAIN_MAX) {
                                pb_log("info",
                                       "cmd=gateway org=%s msg=\"body over "
                                       "the limit still streaming: "
                                       "connection closed\"",
                                       req->org);
                                return MHD_NO;
                        }
                        return MHD_YES;
                }
                /* bytes beyond what was counted at the headers (all of
                 * them without Content-Length, chunked uploads) */
                if (req->body.len + n > req->counted_bytes) {
                        size_t extra = req->body.len + n - req->counted_bytes;
                        total =
                            atomic_fetch_add(&gw->inflight_bytes, (long)extra) +
                            (long)extra;
                        req->counted_bytes += extra;
                } else {
                        total = 0;
                }
                if ((size_t)total > gw->set.max_inflight_bytes ||
                    pb_buf_append(&req->body, upload_data, n) != PB_OK) {
                        /* MHD cannot answer in the middle of a body: free
                         * what we hold, read the rest without storing it
                         * and answer 503 at its end (as for 413) */
                        int over = (size_t)total > gw->set.max_inflight_bytes;
                        pb_gw_req_release(req);
                        pb_buf_free(&req->body);
                        return defer_error(
                            req, 503, "overloaded",
                            over ? "too many request bodies in memory; retry"
                                 : "out of memory",
                            gw->set.retry_after, NULL, NULL);
                }
                return MHD_YES;
        }
        /* the whole body is here, or we were resumed */
        if (req->route != R_EVENTS)
                return serve_get(req, req->param);
        if (req->deferred_status) {
                enum MHD_Result r =
                    respond_json(req, req->deferred_status, &req->deferred,
                                 req->deferred_retry_ms, req->deferred_hname,
                                 req->deferred_hval);
                pb_buf_free(&req->deferred);
                return r;
        }
        if (req->too_big) {
                char msg[160];
                snprintf(msg, sizeof(msg),
                         "body exceeds the limit of %zu bytes (%zu bytes "
                         "read and discarded)",
                         gw->set.http.max_body, req->drained);
                return respond_error(req, 413, "body_too_large", msg, 0,
                                     MHD_HTTP_HEADER_CONNECTION, "close");
        }
        memset(&ans, 0, sizeof(ans));
        pb_buf_init(&ans.body, 0);
        /* the delivery callback and the deadline resume us while holding
         * req->lock; after a deadline, reports still arrive: the answer
         * is built under the lock */
        pthread_mutex_lock(&req->lock);
        state = req->state;
        if (state == PB_GW_ST_DONE ||
            (state == PB_GW_ST_WAITING && req->timed_out)) {
                pb_gw_publish_answer(req, &ans);
                state = PB_GW_ST_DONE;
        }
        pthread_mutex_unlock(&req->lock);
        if (state == PB_GW_ST_READING) {
                pb_gw_worker_t *w = worker_get(gw);
                unsigned st;
                if (!w) {
                        pb_buf_free(&ans.body);
                        return respond_error(req, 503, "overloaded",
                                             "out of memory", 0, NULL, NULL);
                }
                int large = req->body.len >= PB_GW_TRIM_BODY;
                st = pb_gw_publish(req, w, &ans);
                if (large) {
                        /* a large body: its parse tree (up to 64 bytes a
                         * value) goes back to the system now, not at the
                         * next request of this thread, and so do the
                         * freed pages of every malloc arena */
                        pb_json_parser_trim(w->parser, PB_GW_ARENA_KEEP);
                        pb_codec_trim(w->codec, PB_GW_ARENA_KEEP);
                        pb_heap_trim();
                }
                if (st == 0) { /* suspended until Kafka answered */
                        pb_buf_free(&ans.body);
                        return MHD_YES;
                }
        } else if (state == PB_GW_ST_CLAIMED) {
                /* resumed with the verdicts of its ownership claims */
                if (pb_gw_publish_claimed(req, &ans) == 0) {
                        pb_buf_free(&ans.body);
                        return MHD_YES; /* suspended until Kafka answered */
                }
        } else if (state != PB_GW_ST_DONE) {
                pb_buf_free(&ans.body);
                return MHD_YES; /* still waiting */
        }
        {
                /* the answer (up to ~150 bytes per event of a batch) is
                 * handed to MHD rather than copied */
                enum MHD_Result r =
                    respond_ex(req, ans.status, "application/json",
                               ans.body.data ? (const char *)ans.body.data : "",
                               ans.body.len, ans.retry_after_ms, NULL, NULL,
                               &ans.body.data);
                pb_buf_free(&ans.body);
                return r;
        }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        pb_gw_t *gw = cls;
        pb_gw_req_t *req = *con_cls;
        int large;
        (void)toe;
        if (!req)
                return;
        *con_cls = NULL;
        {
                /* keep-alive: the next head is due within --conn-timeout
                 * (idle time, as before) plus --header-timeout */
                pb_gw_conn_t *c = conn_ctx(conn);
                if (c)
                        heads_add(gw, c,
                                  pb_mono_ms() + gw->set.http.conn_timeout +
                                      gw->set.header_timeout);
        }
        large =
            req->body.cap >= PB_GW_TRIM_BODY || req->enc.cap >= PB_GW_TRIM_BODY;
        /* the body, the encoded events (the producer has its own copies)
         * and the answer are done with: freed now, even when delivery
         * reports are still to come (answered at the deadline) */
        if (req->counted_bytes) {
                atomic_fetch_sub(&gw->inflight_bytes, (long)req->counted_bytes);
                req->counted_bytes = 0;
        }
        pb_buf_free(&req->body);
        pb_buf_free(&req->enc);
        pb_buf_free(&req->deferred);
        if (large)
                pb_heap_trim();
        atomic_fetch_sub(&gw->inflight_requests, 1);
        /* MHD's reference; a delivery callback or the deadline run may
         * still hold theirs (they let go after unlocking req->lock), the
         * last one frees req */
        pb_gw_req_unref(req);
}

int pb_gw_http_start(pb_gw_t *gw, char *errstr, size_t errstr_size) {
        pb_httpd_setup_t hs;
        const pb_httpd_conf_t hc = pb_cli_httpd_conf(&gw->set.http);
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                         MHD_USE_TURBO;

        /* --threads 1: poll(), not epoll. libmicrohttpd 0.9.75 with one
         * epoll thread loses resumes of suspended connections under
         * concurrency (128 keep-alive clients: requests stall for
         * seconds, tests/integration/gateway_threads1.sh); its thread pool
         * (an epoll set per worker) does not. */
        if (gw->set.http.threads <= 1)
                flags = (flags & ~(unsigned)MHD_USE_EPOLL) | MHD_USE_POLL;
        if (pb_httpd_setup(&hs, &hc, flags, errstr, errstr_size) < 0)
                return -1;
        gw->tls_cert_pem = hs.cert_pem;
        gw->tls_key_pem = hs.key_pem;
        pb_httpd_option(&hs, MHD_OPTION_CONNECTION_LIMIT,
                        (intptr_t)gw->set.max_connections, NULL);
        pb_httpd_option(&hs, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                        (intptr_t)gw->set.conn_memory, NULL);
        if (pb_gw_per_address_limit(&gw->set) > 0)
                pb_httpd_option(&hs, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                (intptr_t)pb_gw_per_address_limit(&gw->set),
                                NULL);
        pb_httpd_option(&hs, MHD_OPTION_NOTIFY_COMPLETED,
                        (intptr_t)on_completed, gw);
        pb_httpd_option(&hs, MHD_OPTION_NOTIFY_CONNECTION,
                        (intptr_t)on_connection, gw);
        gw->daemon =
            pb_httpd_start(&hs, on_request, gw, pb_log_mhd, (void *)"gateway",
                           gw->set.http.listen, errstr, errstr_size);
        return gw->daemon ? 0 : -1;
}

void pb_gw_workers_free(pb_gw_t *gw) {
        pb_gw_worker_t *w = gw->workers, *next;
        for (; w; w = next) {
                next = w->next;
                pb_codec_destroy(w->codec);
                pb_json_parser_destroy(w->parser);
                free(w);
        }
        gw->workers = NULL;
}

int pb_gw_http_port(pb_gw_t *gw) {
        return pb_httpd_port(gw->daemon);
}
