/* partnerbus admin - endpoint safety for subscriptions (docs/admin.md,
 * "Endpoint safety").
 *
 * A subscription's endpoint is user input: the bus must not become a way
 * to reach internal hosts, nor be pointed at somebody else's server.
 *  1. https only, unless --allow-http-endpoints; no user:password@.
 *  2. The host is resolved; every address must be public (not loopback,
 *     private, link-local, CGNAT, unspecified, multicast, reserved),
 *     unless --allow-private-endpoints.
 *  3. Verification: a POST with a random challenge, to the address just
 *     checked (pinned, so a second DNS answer cannot differ), redirects
 *     not followed; the receiver must answer 2xx with the challenge: the
 *     body {"challenge":"<it>"} or the challenge as plain text. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "partnerbus/pb_util.h"
#include "pb_adm.h"

static int v4_private(uint32_t a) {
        return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
               (a & 0xffc00000u) == 0x64400000u || /* 100.64/10 */
               (a & 0xffff0000u) == 0xa9fe0000u || /* 169.254/16 */
               (a & 0xfff00000u) == 0xac100000u || /* 172.16/12 */
               (a & 0xffffff00u) == 0xc0000000u || /* 192.0.0/24 */
               (a & 0xffffff00u) == 0xc0000200u || /* 192.0.2/24 */
               (a & 0xffff0000u) == 0xc0a80000u || /* 192.168/16 */
               (a & 0xfffe0000u) == 0xc6120000u || /* 198.18/15 */
               (a & 0xffffff00u) == 0xc6336400u || /* 198.51.100/24 */
               (a & 0xffffff00u) == 0xcb007100u || /* 203.0.113/24 */
               (a >> 28) >= 14;                    /* multicast, 240/4 */
}

int pb_adm_addr_private(const struct sockaddr *sa) {
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const void *)sa;
                return v4_private(ntohl(in->sin_addr.s_addr));
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in = (const void *)sa;
                const uint8_t *b = in->sin6_addr.s6_addr;
                static const uint8_t zero[16];
                static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                                   0, 0, 0, 0, 0xff, 0xff};
                static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
                uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                              (uint32_t)b[14] << 8 | b[15];
                if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1))
                        return 1; /* :: and ::1 */
                if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12) ||
                    !memcmp(b, zero, 12))
                        return v4_private(v4);
                if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 */
                        return 1;
                if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 */
                        return 1;
                if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10 */
                        return 1;
                if (b[0] == 0xff) /* multicast */
                        return 1;
                if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d &&
                    b[3] == 0xb8) /* 2001:db8::/32 */
                        return 1;
                return 0;
        }
        return 1;
}

typedef struct body {
        char buf[4096];
        size_t n;
} body_t;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
        body_t *b = ud;
        size_t n = sz * nm, room = sizeof(b->buf) - 1 - b->n;
        if (n > room)
                return 0; /* too long: not an echo */
        memcpy(b->buf + b->n, p, n);
        b->n += n;
        b->buf[b->n] = 0;
        return n;
}

static int echoed(const body_t *b, const char *challenge) {
        cJSON *j;
        const cJSON *c;
        int ok;
        size_t n = b->n;
        while (n && (b->buf[n - 1] == '\n' || b->buf[n - 1] == '\r' ||
                     b->buf[n - 1] == ' '))
                n--;
        if (n == strlen(challenge) && !memcmp(b->buf, challenge, n))
                return 1;
        j = cJSON_ParseWithLength(b->buf, b->n);
        c = cJSON_GetObjectItemCaseSensitive(j, "challenge");
        ok = cJSON_IsString(c) && !strcmp(c->valuestring, challenge);
        cJSON_Delete(j);
        return ok;
}

unsigned pb_adm_endpoint_check(const pb_adm_endpoint_opts_t *o, const char *url,
                               const char *sub_id, const char *org, char *why,
                               size_t why_size) {
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
        struct addrinfo hints, *res = NULL, *ai;
        char pinned[600] = "", addr[INET6_ADDRSTRLEN + 2];
        unsigned st = 400;
        int gai;
        if (!u) {
                snprintf(why, why_size, "out of memory");
                return 503;
        }
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                snprintf(why, why_size, "not an absolute http(s) URL");
                goto out;
        }
        if (strcmp(scheme, "https") &&
            !(o->allow_http && !strcmp(scheme, "http"))) {
                snprintf(why, why_size,
                         o->allow_http ? "scheme must be https or http"
                                       : "scheme must be https (http is "
                                         "allowed only with "
                                         "--allow-http-endpoints)");
                goto out;
        }
        if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user) {
                snprintf(why, why_size,
                         "no user:password@ in the URL (use \"bearer\")");
                goto out;
        }
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        {
                /* brackets of an IPv6 literal off for getaddrinfo */
                char h[300];
                size_t hl = strlen(host);
                if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' &&
                    hl - 2 < sizeof(h)) {
                        memcpy(h, host + 1, hl - 2);
                        h[hl - 2] = 0;
                } else
                        snprintf(h, sizeof(h), "%s", host);
                gai = getaddrinfo(h, port ? port : "443", &hints, &res);
        }
        if (gai != 0 || !res) {
                snprintf(why, why_size, "host %.200s does not resolve: %s",
                         host, gai_strerror(gai));
                goto out;
        }
        for (ai = res; ai; ai = ai->ai_next) {
                if (!o->allow_private && pb_adm_addr_private(ai->ai_addr)) {
                        getnameinfo(ai->ai_addr, ai->ai_addrlen, addr,
                                    sizeof(addr), NULL, 0, NI_NUMERICHOST);
                        snprintf(why, why_size,
                                 "host %.200s resolves to %s, a loopback, "
                                 "private, link-local or reserved address "
                                 "(allowed only with "
                                 "--allow-private-endpoints)",
                                 host, addr);
                        goto out;
                }
        }
        if (getnameinfo(res->ai_addr, res->ai_addrlen, addr, sizeof(addr), NULL,
                        0, NI_NUMERICHOST) == 0) {
                if (res->ai_family == AF_INET6)
                        snprintf(pinned, sizeof(pinned), "%s:%s:[%s]", host,
                                 port ? port : "443", addr);
                else
                        snprintf(pinned, sizeof(pinned), "%s:%s:%s", host,
                                 port ? port : "443", addr);
        }
        st = 0;
        if (o->verify) {
                uint8_t rnd[24];
                char challenge[64], hdr[128], *payload;
                CURL *c = curl_easy_init();
                struct curl_slist *hs = NULL, *rs = NULL;
                body_t b;
                long code = 0;
                CURLcode cr;
                cJSON *p = cJSON_CreateObject();
                RAND_bytes(rnd, sizeof(rnd));
                pb_base64_encode(rnd, sizeof(rnd), challenge,
                                 sizeof(challenge));
                for (char *q = challenge; *q; q++)
                        if (*q == '+')
                                *q = '-';
                        else if (*q == '/')
                                *q = '_';
                cJSON_AddStringToObject(p, "type", "partnerbus.verification");
                cJSON_AddStringToObject(p, "challenge", challenge);
                cJSON_AddStringToObject(p, "subscription", sub_id);
                cJSON_AddStringToObject(p, "organisation", org);
                payload = cJSON_PrintUnformatted(p);
                cJSON_Delete(p);
                snprintf(hdr, sizeof(hdr), "X-Partnerbus-Challenge: %s",
                         challenge);
                hs = curl_slist_append(hs, "Content-Type: application/json");
                hs = curl_slist_append(hs, hdr);
                if (pinned[0])
                        rs = curl_slist_append(rs, pinned);
                memset(&b, 0, sizeof(b));
                if (!c || !payload) {
                        snprintf(why, why_size, "out of memory");
                        st = 503;
                } else {
                        curl_easy_setopt(c, CURLOPT_URL, url);
                        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
                        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
                        curl_easy_setopt(c, CURLOPT_RESOLVE, rs);
                        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
                        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
                                         "http,https");
                        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
                        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                                         (long)o->verify_timeout);
                        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
                        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
                        curl_easy_setopt(c, CURLOPT_USERAGENT,
                                         "partnerbus-admin/verification");
                        cr = curl_easy_perform(c);
                        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
                        if (cr != CURLE_OK) {
                                snprintf(why, why_size,
                                         "verification request failed: %s",
                                         curl_easy_strerror(cr));
                                st = 422;
                        } else if (code < 200 || code > 299) {
                                snprintf(why, why_size,
                                         "verification request answered "
                                         "HTTP %ld (want 2xx echoing the "
                                         "challenge)",
                                         code);
                                st = 422;
                        } else if (!echoed(&b, challenge)) {
                                snprintf(why, why_size,
                                         "the endpoint did not echo the "
                                         "verification challenge");
                                st = 422;
                        }
                }
                curl_slist_free_all(hs);
                curl_slist_free_all(rs);
                curl_easy_cleanup(c);
                free(payload);
        }
out:
        if (res)
                freeaddrinfo(res);
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_free(user);
        curl_url_cleanup(u);
        return st;
}
