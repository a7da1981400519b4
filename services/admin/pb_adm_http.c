/* partnerbus admin - libmicrohttpd glue: a thread pool (--threads), the
 * body read up to --max-body (413 beyond, the rest drained), one call to
 * pb_adm_handle per request. Answers carry Cache-Control: no-store (a
 * token or secret is shown once) and X-Request-Id (also in the audit
 * record). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "partnerbus/pb_common.h"
#include "partnerbus/pb_httpd.h"
#include "partnerbus/pb_util.h"
#include "pb_adm.h"
#include "pb_adm_assets.h"
#include "pb_cli.h"
#include "pb_cli_http.h"

typedef struct hreq {
        pb_buf_t body;
        int too_big;
} hreq_t;

/* Every answer: the console may load only its own files and talk only to
 * this server; nothing runs inline; nothing frames it. */
#define PB_ADM_CSP                                                             \
        "default-src 'self'; script-src 'self'; style-src 'self'; "            \
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; "        \
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static void security_headers(struct MHD_Response *r) {
        MHD_add_response_header(r, "Content-Security-Policy", PB_ADM_CSP);
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

const pb_adm_asset_t *pb_adm_asset_find(const char *url) {
        const pb_adm_asset_t *a;
        if (!strcmp(url, "/console/") || !strcmp(url, "/console"))
                url = "/console/index.html";
        for (a = pb_adm_assets; a->url; a++)
                if (!strcmp(a->url, url))
                        return a;
        return NULL;
}

/* ["aid.delivered",...]: the names of /console/schemas/TYPE.avsc. */
static char *types_json(void) {
        const pb_adm_asset_t *a;
        size_t n = 3, at = 0;
        char *j;
        for (a = pb_adm_assets; a->url; a++)
                n += strlen(a->url) + 3;
        j = malloc(n);
        if (!j)
                return NULL;
        j[at++] = '[';
        for (a = pb_adm_assets; a->url; a++) {
                const char *t = a->url;
                size_t len;
                if (strncmp(t, "/console/schemas/", 17))
                        continue;
                t += 17;
                len = strlen(t);
                if (len < 6 || strcmp(t + len - 5, ".avsc"))
                        continue;
                if (at > 1)
                        j[at++] = ',';
                j[at++] = '"';
                memcpy(j + at, t, len - 5);
                at += len - 5;
                j[at++] = '"';
        }
        j[at++] = ']';
        j[at] = 0;
        return j;
}

/* GET / and /console/...: the web console's files (no token needed: they
 * hold no data; the page asks for the token and sends it as a Bearer
 * header to /v1/admin/...). 0 if url is not the console's. */
static int serve_console(struct MHD_Connection *conn, const char *method,
                         const char *url, enum MHD_Result *ret) {
        const pb_adm_asset_t *a;
        struct MHD_Response *r;
        unsigned status = 200;
        static const char nf[] = "not found\n";
        if (strcmp(url, "/") && strncmp(url, "/console", 8))
                return 0;
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
                return 0;
        a = pb_adm_asset_find(url);
        if (!strcmp(url, "/console/types.json")) {
                /* the event types of the built-in schemas: a new schema
                 * gets its form without a change to the page */
                char *j = types_json();
                r = j ? MHD_create_response_from_buffer(strlen(j), j,
                                                        MHD_RESPMEM_MUST_FREE)
                      : NULL;
                if (r)
                        MHD_add_response_header(r, "Content-Type",
                                                "application/json");
                else
                        free(j);
        } else if (!strcmp(url, "/")) {
                status = 302;
                r = MHD_create_response_from_buffer(0, (void *)"",
                                                    MHD_RESPMEM_PERSISTENT);
                if (r)
                        MHD_add_response_header(r, "Location", "/console/");
        } else if (a) {
                r = MHD_create_response_from_buffer(a->len, (void *)a->data,
                                                    MHD_RESPMEM_PERSISTENT);
                if (r)
                        MHD_add_response_header(r, "Content-Type",
                                                a->content_type);
        } else {
                status = 404;
                r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf,
                                                    MHD_RESPMEM_PERSISTENT);
                if (r)
                        MHD_add_response_header(r, "Content-Type",
                                                "text/plain; charset=utf-8");
        }
        if (!r) {
                *ret = MHD_NO;
                return 1;
        }
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        security_headers(r);
        pb_log("debug", "cmd=admin method=%s path=\"%.200s\" status=%u", method,
               url, status);
        *ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return 1;
}

static enum MHD_Result respond(struct MHD_Connection *conn,
                               pb_adm_response_t *rs) {
        struct MHD_Response *r;
        enum MHD_Result ret;
        size_t n = strlen(rs->body);
        char *b = malloc(n + 2);
        if (!b)
                return MHD_NO;
        memcpy(b, rs->body, n);
        b[n] = '\n';
        b[n + 1] = 0;
        r = MHD_create_response_from_buffer(n + 1, b, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(b);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        MHD_add_response_header(r, "X-Request-Id", rs->request_id);
        security_headers(r);
        if (rs->status == 401)
                MHD_add_response_header(r, "WWW-Authenticate",
                                        "Bearer realm=\"partnerbus-admin\"");
        ret = MHD_queue_response(conn, rs->status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **ctx) {
        pb_adm_t *adm = cls;
        hreq_t *h = *ctx;
        pb_adm_request_t rq;
        pb_adm_response_t rs;
        enum MHD_Result ret;
        (void)version;
        if (!h) {
                h = calloc(1, sizeof(*h));
                if (!h)
                        return MHD_NO;
                pb_buf_init(&h->body, adm->set.http.max_body);
                *ctx = h;
                return MHD_YES;
        }
        if (*upload_size) {
                if (!h->too_big &&
                    pb_buf_append(&h->body, upload, *upload_size) != PB_OK) {
                        h->too_big = 1;
                        pb_buf_free(&h->body);
                }
                *upload_size = 0;
                return MHD_YES;
        }
        if (serve_console(conn, method, url, &ret))
                return ret;
        memset(&rq, 0, sizeof(rq));
        rq.method = method;
        rq.path = url;
        rq.query_org =
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "org");
        rq.query_limit =
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
        rq.query_type =
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "type");
        rq.query_entity =
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "entity");
        rq.auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_AUTHORIZATION);
        rq.body = h->body.data ? (const char *)h->body.data : "";
        rq.body_len = h->body.len;
        rq.body_too_large = h->too_big;
        if (!strncmp(url, "/v1/console/events/", 19)) {
                if (strcmp(method, "POST")) {
                        rs.status = 405;
                        rs.body = strdup("{\"error\":\"method_not_allowed\"}");
                        pb_uuid_v4(rs.request_id);
                } else if (h->too_big) {
                        rs.status = 413;
                        rs.body = strdup("{\"error\":\"too_large\"}");
                        pb_uuid_v4(rs.request_id);
                } else
                        pb_adm_console_publish(adm, url + 19, rq.auth, rq.body,
                                               rq.body_len, &rs);
                if (!rs.body) {
                        rs.status = 500;
                        rs.body = strdup("{\"error\":\"internal\"}");
                }
        } else
                pb_adm_handle(adm, &rq, &rs);
        pb_log(rs.status >= 500 ? "warn" : "info",
               "cmd=admin method=%s path=\"%.200s\" status=%u request_id=%s",
               method, url, rs.status, rs.request_id);
        {
                char code[8];
                const char *labels[] = {"method", method, "code", code, NULL};
                snprintf(code, sizeof(code), "%u", rs.status);
                pb_metrics_add(adm->metrics, "partnerbus_admin_requests_total",
                               labels, 1);
        }
        ret = respond(conn, &rs);
        free(rs.body);
        return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
                         enum MHD_RequestTerminationCode toe) {
        hreq_t *h = *ctx;
        (void)cls;
        (void)conn;
        (void)toe;
        if (h) {
                pb_buf_free(&h->body);
                free(h);
                *ctx = NULL;
        }
}

int pb_adm_http_start(pb_adm_t *adm, char *errstr, size_t errstr_size) {
        pb_httpd_setup_t hs;
        const pb_httpd_conf_t hc = pb_cli_httpd_conf(&adm->set.http);
        if (pb_httpd_setup(&hs, &hc,
                           MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                               MHD_USE_ERROR_LOG,
                           errstr, errstr_size) < 0)
                return -1;
        adm->tls_cert_pem = hs.cert_pem;
        adm->tls_key_pem = hs.key_pem;
        pb_httpd_option(&hs, MHD_OPTION_CONNECTION_LIMIT, 256, NULL);
        pb_httpd_option(&hs, MHD_OPTION_NOTIFY_COMPLETED,
                        (intptr_t)on_completed, NULL);
        adm->daemon =
            pb_httpd_start(&hs, on_request, adm, pb_log_mhd, (void *)"admin",
                           adm->set.http.listen, errstr, errstr_size);
        return adm->daemon ? 0 : -1;
}

int pb_adm_http_port(pb_adm_t *adm) {
        return pb_httpd_port(adm->daemon);
}
