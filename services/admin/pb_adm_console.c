/* partnerbus admin - the web console's publishing: the console's page may
 * talk only to its own origin (Content-Security-Policy connect-src 'self'),
 * and the gateway answers no cross-origin requests, so admin forwards
 * POST /v1/console/events/{type} to GATEWAY/v1/events/{type} with the
 * caller's own token. The gateway authenticates, validates and stores; its
 * answer (201 with where it was stored, or 400 with JSON Pointers) goes
 * back unchanged. No token is logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "partnerbus/pb_common.h"
#include "partnerbus/pb_serde.h"
#include "partnerbus/pb_util.h"
#include "pb_adm.h"
#include "pb_cli.h"

#define PB_CONSOLE_MAX_ANSWER (1u << 20)

static void fail(pb_adm_response_t *rs, unsigned status, const char *code,
                 const char *message) {
        char buf[512];
        rs->status = status;
        snprintf(buf, sizeof(buf),
                 "{\"error\":\"%s\",\"errors\":[{\"pointer\":\"\","
                 "\"code\":\"%s\",\"message\":\"%s\"}]}",
                 code, code, message);
        rs->body = strdup(buf);
}

static int type_ok(const char *t) {
        size_t n = strlen(t);
        if (!n || n > 100)
                return 0;
        for (; *t; t++)
                if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') ||
                      *t == '.' || *t == '_' || *t == '-'))
                        return 0;
        return 1;
}

void pb_adm_console_publish(pb_adm_t *adm, const char *type, const char *auth,
                            const char *body, size_t body_len,
                            pb_adm_response_t *rs) {
        CURL *c;
        struct curl_slist *hs = NULL;
        pb_http_body_t a;
        char url[2048], hdr[1100];
        long code = 0;
        CURLcode cr;
        rs->body = NULL;
        pb_uuid_v4(rs->request_id);
        a.over = 0;
        pb_buf_init(&a.buf, PB_CONSOLE_MAX_ANSWER);
        if (!adm->set.gateway_url) {
                fail(rs, 501, "not_configured",
                     "this admin has no --gateway-url: the console cannot "
                     "publish");
                return;
        }
        if (!type_ok(type)) {
                fail(rs, 404, "not_found", "no such event type");
                return;
        }
        if (!auth || strncmp(auth, "Bearer ", 7) || strlen(auth) > 1000) {
                fail(rs, 401, "unauthorized", "a Bearer token is required");
                return;
        }
        snprintf(url, sizeof(url), "%s/v1/events/%s", adm->set.gateway_url,
                 type);
        snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
        c = curl_easy_init();
        if (!c) {
                fail(rs, 500, "internal", "out of memory");
                return;
        }
        hs = curl_slist_append(hs, hdr);
        hs = curl_slist_append(hs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pb_http_body_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
        cr = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_slist_free_all(hs);
        curl_easy_cleanup(c);
        if (cr != CURLE_OK || code < 100 || code > 599) {
                pb_log("warn", "cmd=admin console publish to %s: %s",
                       adm->set.gateway_url,
                       a.over           ? "bad answer (too large)"
                       : cr != CURLE_OK ? curl_easy_strerror(cr)
                                        : "bad answer");
                pb_buf_free(&a.buf);
                fail(rs, 502, "bad_gateway", "the gateway did not answer");
                return;
        }
        rs->status = (unsigned)code;
        if (a.buf.data) {
                /* the JSON body without its trailing newline (respond()
                 * adds one) */
                while (a.buf.len && (a.buf.data[a.buf.len - 1] == '\n'))
                        a.buf.data[--a.buf.len] = 0;
                rs->body = (char *)a.buf.data;
        } else
                rs->body = strdup("{}");
}
