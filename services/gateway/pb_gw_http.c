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

#include "pb_cli.h"
#include "pb_gw_server.h"

enum {
        R_EVENTS = 0,
        R_SCHEMAS,
        R_SCHEMA,
        R_OPENAPI,
        R_HEALTHZ,
        R_READYZ,
        R_METRICS,
        R_NONE,
};

/* Every route the gateway serves; docs/openapi.json must list exactly
 * these (tests/integration/gateway_openapi.sh checks it). */
const pb_gw_route_t pb_gw_routes[] = {
    [R_EVENTS] = {"POST", "/v1/events/{type}"},
    [R_SCHEMAS] = {"GET", "/v1/schemas"},
    [R_SCHEMA] = {"GET", "/v1/schemas/{type}"},
    [R_OPENAPI] = {"GET", "/v1/openapi.json"},
    [R_HEALTHZ] = {"GET", "/healthz"},
    [R_READYZ] = {"GET", "/readyz"},
    [R_METRICS] = {"GET", "/metrics"},
};
const size_t pb_gw_nroutes = sizeof(pb_gw_routes) / sizeof(pb_gw_routes[0]);

static __thread pb_gw_worker_t *tls_worker;

static pb_gw_worker_t *worker_get(pb_gw_t *gw) {
        pb_gw_worker_t *w = tls_worker;
        if (w)
                return w;
        w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->codec = pb_codec_new();
        w->parser = pb_json_parser_new(NULL);
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
        if (!strcmp(url, "/metrics"))
                return R_METRICS;
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
        const char *h = MHD_lookup_connection_value(
            req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        const pb_gw_token_t *e;
        unsigned st = 0;
        if (!h || strncasecmp(h, "Bearer ", 7)) {
                snprintf(msg, msgsz,
                         "missing 'Authorization: Bearer "
                         "<token>' header");
                return 401;
        }
        h += 7;
        while (*h == ' ')
                h++;
        pthread_rwlock_rdlock(&gw->tokens_lock);
        e = pb_gw_tokens_find(gw->tokens, h, strlen(h));
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

static enum MHD_Result serve_metrics(pb_gw_req_t *req) {
        pb_gw_t *gw = req->gw;
        pb_buf_t b;
        enum MHD_Result r;
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
        pb_buf_init(&b, 0);
        /* the request is counted before rendering so it shows itself */
        {
                const char *labels[] = {"route", "/metrics", "code", "200",
                                        NULL};
                pb_metrics_add(gw->metrics, "partnerbus_gateway_requests_total",
                               labels, 1);
        }
        pb_metrics_render(gw->metrics, &b);
        r = MHD_NO;
        {
                struct MHD_Response *resp = MHD_create_response_from_buffer(
                    b.len, b.data ? (void *)b.data : (void *)"",
                    MHD_RESPMEM_MUST_COPY);
                if (resp) {
                        MHD_add_response_header(
                            resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
                        r = MHD_queue_response(req->conn, 200, resp);
                        MHD_destroy_response(resp);
                        req->responded = 1;
                }
        }
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
                {
                        char why[300];
                        pthread_mutex_lock(&gw->workers_lock);
                        snprintf(why, sizeof(why), "%s\n",
                                 gw->ready_reason[0] ? gw->ready_reason
                                                     : "Kafka not reachable");
                        pthread_mutex_unlock(&gw->workers_lock);
                        return respond(req, 503, "text/plain", why, strlen(why),
                                       0, NULL, NULL);
                }
        case R_METRICS:
                return serve_metrics(req);
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
                if (!errno && end != cl && !*end && v <= gw->set.max_body)
                        cl_len = (size_t)v;
                if (!errno && end != cl && v > gw->set.max_body) {
                        snprintf(msg, sizeof(msg),
                                 "body of %llu bytes exceeds the limit of %zu "
                                 "bytes",
                                 v, gw->set.max_body);
                        return respond_error(req, 413, "body_too_large", msg, 0,
                                             NULL, NULL);
                }
        }
        wait = pb_gw_ratelimit_take(gw->rl, req->org, 1, pb_gw_mono_ms(), 0);
        if (wait > 0) {
                snprintf(msg, sizeof(msg),
                         "organisation %s exceeds %ld events/s; retry after "
                         "%lld ms",
                         req->org, gw->set.rate, (long long)wait);
                return defer_error(req, 429, "rate_limited", msg, wait, NULL,
                                   NULL);
        }
        pb_buf_init(&req->body, gw->set.max_body);
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
                req->route = match_route(url, &param);
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
                if (req->too_big || req->body.len + n > gw->set.max_body) {
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
                         gw->set.max_body, req->drained);
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
                st = pb_gw_publish(req, w, &ans);
                if (st == 0) { /* suspended until Kafka answered */
                        pb_buf_free(&ans.body);
                        return MHD_YES;
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
        (void)conn;
        (void)toe;
        if (!req)
                return;
        *con_cls = NULL;
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
        atomic_fetch_sub(&gw->inflight_requests, 1);
        /* MHD's reference; a delivery callback or the deadline run may
         * still hold theirs (they let go after unlocking req->lock), the
         * last one frees req */
        pb_gw_req_unref(req);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];
        size_t n;
        (void)cls;
        vsnprintf(buf, sizeof(buf), fmt, ap);
        n = strlen(buf);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = 0;
        pb_log("debug", "cmd=gateway mhd=\"%s\"", buf);
}

static char *read_file(const char *path, char *errstr, size_t errstr_size) {
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
                        if (cap > (16u << 20)) {
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

int pb_gw_http_start(pb_gw_t *gw, char *errstr, size_t errstr_size) {
        struct sockaddr_storage ss;
        unsigned sslen = 0;
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                         MHD_USE_TURBO;
        struct MHD_OptionItem ops[16];
        size_t no = 0;
        char *cert = NULL, *key = NULL;

        /* --threads 1: poll(), not epoll. libmicrohttpd 0.9.75 with one
         * epoll thread loses resumes of suspended connections under
         * concurrency (128 keep-alive clients: requests stall for
         * seconds, tests/integration/gateway_threads1.sh); its thread pool
         * (an epoll set per worker) does not. */
        if (gw->set.threads <= 1)
                flags = (flags & ~(unsigned)MHD_USE_EPOLL) | MHD_USE_POLL;
        if (pb_parse_listen(gw->set.listen, &ss, &sslen, errstr, errstr_size) <
            0)
                return -1;
        if (ss.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        if (gw->set.tls_cert) {
                if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
                        snprintf(errstr, errstr_size,
                                 "libmicrohttpd was built without TLS");
                        return -1;
                }
                cert = read_file(gw->set.tls_cert, errstr, errstr_size);
                if (!cert)
                        return -1;
                key = read_file(gw->set.tls_key, errstr, errstr_size);
                if (!key) {
                        free(cert);
                        return -1;
                }
                flags |= MHD_USE_TLS;
                ops[no++] =
                    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
                ops[no++] =
                    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
        }
        ops[no++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
        if (gw->set.threads > 1)
                ops[no++] =
                    (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                            (intptr_t)gw->set.threads, NULL};
        ops[no++] =
            (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                    (intptr_t)gw->set.max_connections, NULL};
        ops[no++] = (struct MHD_OptionItem){
            MHD_OPTION_CONNECTION_TIMEOUT,
            (intptr_t)((gw->set.conn_timeout + 999) / 1000), NULL};
        ops[no++] =
            (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                    (intptr_t)gw->set.conn_memory, NULL};
        ops[no++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                            (intptr_t)on_completed, gw};
        ops[no++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER,
                                            (intptr_t)on_mhd_log, gw};
        ops[no++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

        gw->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, gw,
                                      MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
        gw->tls_cert_pem = cert;
        gw->tls_key_pem = key;
        if (!gw->daemon) {
                snprintf(errstr, errstr_size,
                         "cannot listen on %s (address in use, bad TLS "
                         "certificate or key?)",
                         gw->set.listen);
                return -1;
        }
        return 0;
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
        const union MHD_DaemonInfo *i =
            MHD_get_daemon_info(gw->daemon, MHD_DAEMON_INFO_BIND_PORT);
        return i ? (int)i->port : -1;
}
