/* partnerbus - webhook sink: POSTs events to an HTTP(S) URL with libcurl.
 *
 * One event per request (batch-size 1, the default): the body is the
 * event's natural JSON, with the CloudEvents HTTP binding headers
 * (binary mode) ce-specversion 1.0, ce-id, ce-type, ce-source, ce-time,
 * ce-subject (the Kafka key), and Idempotency-Key = event id.
 * Batches (batch-size N > 1): the body is a JSON array of the events, no
 * ce-* headers (they describe one event), Idempotency-Key = "batch-" + the
 * first 32 hex digits of SHA-256 over the events' ids (the same batch gets
 * the same key); receivers deduplicate each element by its event_id.
 *
 * Every request carries two signatures under the subscription's secret
 * (secret or secret-file; PARTNERBUS_WEBHOOK_SECRET in the environment):
 *   X-Partnerbus-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
 * of the string "<t>.<body>" (kept for existing receivers), and
 *   X-Partnerbus-Signature-V2: t=<unix seconds>,v2=<hex HMAC-SHA256>
 * of "v2\n<t>\n<Idempotency-Key>\n<ce-type>\n<body>", which also binds
 * the event id and type headers (ce-type is empty for a batch, which has
 * none; newlines cannot occur in header values, so no field can shift
 * into another). The receiver can check sender and freshness; optional bearer
 * token (token / token-file) and client certificate (client-cert, client-key,
 * ca-file).
 *
 * Requests run in parallel on one libcurl multi handle: up to max-in-flight
 * requests and max-in-flight-bytes of bodies at once (submit/poll of
 * pb_connector.h; the relay keeps one event per key in flight). Connections
 * are kept alive and reused (HTTP/1.1 by default, one connection per
 * request in flight); http-version auto uses HTTP/2 over https when the
 * receiver offers it (ALPN), h2c HTTP/2 without TLS, and then the requests
 * share one connection (multiplexed) - but libcurl 7.88.1 (Debian 12)
 * fails multiplexed HTTP/2 POSTs with "Error in the HTTP2 framing layer"
 * (its own command line tool does too, with --parallel), so HTTP/2 is not
 * the default. write() is submit + wait for that one request.
 *
 * Outcome: 2xx OK; 408, 425, 429, 5xx and transport errors (connect,
 * timeout, reset) RETRY, with Retry-After (seconds or HTTP date) passed
 * on; any other status PERMANENT. Reasons name the status and the first
 * bytes of the answer, never the secret or token. */
#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "partnerbus/pb_util.h"
#include "pb_connector.h"

#define PB_WEBHOOK_REASON_BODY 160

/* one request slot: an easy handle kept for reuse, its body and headers */
#define PB_WEBHOOK_MAX_HEADERS 20
typedef struct wh_req {
        CURL *easy;
        /* the request's headers: lines in hbuf, the list curl reads built
         * over them in place (no allocation per request) */
        struct curl_slist *hdrs;
        struct curl_slist nodes[PB_WEBHOOK_MAX_HEADERS];
        size_t nh, hlen;
        char hbuf[4096];
        pb_buf_t body;
        uint64_t tag;
        int busy;
        int64_t started_ms;
        char resp[PB_WEBHOOK_REASON_BODY + 1];
        size_t resp_len;
        int64_t retry_after_ms;
        char errbuf[CURL_ERROR_SIZE];
} wh_req_t;

struct pb_sink {
        CURLM *multi;
        char *url;
        char *secret;
        size_t secret_len;
        char *token;
        size_t batch;
        long timeout_ms, connect_timeout_ms;
        long http_version; /* CURL_HTTP_VERSION_* */
        const char *cert, *key, *ca;
        /* headers on every request: X-Partnerbus-Agreement (agreement),
         * then the one of `header`; names split from values at init */
        char xh_name[2][128];
        char *xh_value[2];
        size_t nxh;
        EVP_MAC *mac;
        EVP_MAC_CTX *mac_ctx; /* keyed once, re-initialised per request */
        wh_req_t *reqs;
        size_t nreqs; /* = max in flight */
        size_t max_bytes;
        size_t inflight, inflight_bytes;
        pb_sink_done_t *done; /* finished, not yet returned by poll */
        size_t ndone;
        pb_buf_t scratch; /* signed string, id list */
};

static int pb_curl_global_done;

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *read_secret_file(const char *path, size_t *len, char *errstr,
                              size_t errstr_size) {
        FILE *fp = fopen(path, "rb");
        char buf[8192];
        size_t n;
        if (!fp) {
                snprintf(errstr, errstr_size, "webhook: cannot read %s", path);
                return NULL;
        }
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
        buf[n] = 0;
        *len = n;
        return strndup(buf, n);
}

typedef struct webhook_settings {
        long batch;
        int64_t timeout, connect_timeout;
        const char *secret, *secret_file, *token, *token_file;
        const char *cert, *key, *ca;
        int allow_unsigned;
        const char *agreement;
        long max_in_flight;
        size_t max_in_flight_bytes;
        const char *http_version;
        const char *header;
} webhook_settings_t;

#define O(f) offsetof(webhook_settings_t, f)
static const pb_opt_t webhook_opts[] = {
    {"batch-size", 0, PB_OPT_INT, "1", "N",
     "events per HTTP request (1: one event, CloudEvents headers; N: JSON "
     "array)",
     0, O(batch)},
    {"timeout", 0, PB_OPT_DURATION, "10s", "DURATION", "whole request timeout",
     0, O(timeout)},
    {"connect-timeout", 0, PB_OPT_DURATION, "5s", "DURATION", "connect timeout",
     0, O(connect_timeout)},
    {"secret", 0, PB_OPT_STRING, NULL, "SECRET",
     "HMAC-SHA256 signing secret (use the environment or "
     "--webhook-secret-file)",
     PB_OPT_SECRET, O(secret)},
    {"secret-file", 0, PB_OPT_STRING, NULL, "FILE",
     "file holding the signing secret", 0, O(secret_file)},
    {"token", 0, PB_OPT_STRING, NULL, "TOKEN",
     "bearer token towards the receiver (use the environment or "
     "--webhook-token-file)",
     PB_OPT_SECRET, O(token)},
    {"token-file", 0, PB_OPT_STRING, NULL, "FILE",
     "file holding the bearer token", 0, O(token_file)},
    {"client-cert", 0, PB_OPT_STRING, NULL, "PEM",
     "client certificate (mutual TLS)", 0, O(cert)},
    {"client-key", 0, PB_OPT_STRING, NULL, "PEM", "client certificate key", 0,
     O(key)},
    {"ca-file", 0, PB_OPT_STRING, NULL, "PEM",
     "CA bundle for the receiver's certificate", 0, O(ca)},
    {"allow-unsigned", 0, PB_OPT_BOOL, "false", NULL,
     "allow a webhook without signing secret", 0, O(allow_unsigned)},
    {"agreement", 0, PB_OPT_STRING, NULL, "ID",
     "data-sharing agreement id, sent as header X-Partnerbus-Agreement", 0,
     O(agreement)},
    {"max-in-flight", 0, PB_OPT_INT, "64", "N",
     "HTTP requests in flight at once (1: one at a time; order per key is "
     "kept either way)",
     0, O(max_in_flight)},
    {"max-in-flight-bytes", 0, PB_OPT_SIZE, "16MiB", "SIZE",
     "request bodies in flight at once (one larger request still goes "
     "alone)",
     0, O(max_in_flight_bytes)},
    {"http-version", 0, PB_OPT_STRING, "1.1", "1.1|auto|h2c",
     "1.1: HTTP/1.1, a kept-alive connection per request in flight; auto: "
     "HTTP/2 over https when the receiver offers it; h2c: HTTP/2 without "
     "TLS (prior knowledge) - see docs/relay.md before using HTTP/2",
     0, O(http_version)},
    {"header", 0, PB_OPT_STRING, NULL, "NAME:VALUE",
     "one extra header on every request (e.g. X-Partnerbus-Agreement: ID)", 0,
     O(header)},
};
#undef O

/* the value itself, or the content of the file naming it */
static char *setting_secret(const char *v, const char *file, size_t *len,
                            int *err, char *errstr, size_t errstr_size) {
        *err = 0;
        if (v && *v) {
                *len = strlen(v);
                return strdup(v);
        }
        if (file && *file) {
                char *s = read_secret_file(file, len, errstr, errstr_size);
                if (!s)
                        *err = 1;
                return s;
        }
        return NULL;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
        wh_req_t *q = ud;
        size_t len = sz * n, take = PB_WEBHOOK_REASON_BODY - q->resp_len;
        if (take > len)
                take = len;
        memcpy(q->resp + q->resp_len, p, take);
        q->resp_len += take;
        q->resp[q->resp_len] = 0;
        return len; /* the rest is read and dropped */
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
        wh_req_t *q = ud;
        size_t len = sz * n;
        if (len > 12 && !strncasecmp(p, "retry-after:", 12)) {
                char v[128];
                size_t vl = len - 12;
                char *end;
                long secs;
                if (vl >= sizeof(v))
                        vl = sizeof(v) - 1;
                memcpy(v, p + 12, vl);
                v[vl] = 0;
                v[strcspn(v, "\r\n")] = 0;
                secs = strtol(v, &end, 10);
                if (end != v && secs >= 0 && secs < 86400 &&
                    (*end == 0 || *end == ' ')) {
                        q->retry_after_ms = (int64_t)secs * 1000;
                } else {
                        time_t t = curl_getdate(v + strspn(v, " "), NULL);
                        time_t now = time(NULL);
                        if (t > now && t - now < 86400)
                                q->retry_after_ms = (int64_t)(t - now) * 1000;
                }
        }
        return len;
}

static void webhook_destroy(pb_sink_t *s);

/* "Name: value" with a token name and no CR/LF, or NULL */
static int header_ok(const char *h) {
        const char *c = strchr(h, ':');
        const char *p;
        if (!c || c == h || c - h >= 128 || strlen(h) > 900)
                return 0;
        for (p = h; p < c; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
                        return 0;
        return !strpbrk(h, "\r\n");
}

/* one more header for every request: name (nl bytes, under 128) and a
 * copy of value. -1 out of memory. */
static int add_xh(pb_sink_t *s, const char *name, size_t nl,
                  const char *value) {
        if (s->nxh == 2 || nl >= sizeof(s->xh_name[0]))
                return 0; /* cannot happen: two callers, names checked */
        if (!(s->xh_value[s->nxh] = strdup(value)))
                return -1;
        memcpy(s->xh_name[s->nxh], name, nl);
        s->xh_name[s->nxh][nl] = 0;
        s->nxh++;
        return 0;
}

static int req_setup(pb_sink_t *s, wh_req_t *q) {
        CURL *c = curl_easy_init();
        if (!c)
                return -1;
        q->easy = c;
        pb_buf_init(&q->body, 0);
        curl_easy_setopt(c, CURLOPT_URL, s->url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, q->errbuf);
        curl_easy_setopt(c, CURLOPT_PRIVATE, q);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "partnerbus-relay/1");
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, s->http_version);
        /* over HTTP/2 wait for the connection being set up and share it
         * instead of opening one per request */
        if (s->http_version == CURL_HTTP_VERSION_2TLS &&
            !strncmp(s->url, "https://", 8))
                curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
        if (s->cert && *s->cert)
                curl_easy_setopt(c, CURLOPT_SSLCERT, s->cert);
        if (s->key && *s->key)
                curl_easy_setopt(c, CURLOPT_SSLKEY, s->key);
        if (s->ca && *s->ca)
                curl_easy_setopt(c, CURLOPT_CAINFO, s->ca);
        return 0;
}

static pb_sink_t *webhook_init(const char *target, const void *settings,
                               char *errstr, size_t errstr_size) {
        const webhook_settings_t *st = settings;
        pb_sink_t *s;
        int err = 0;
        size_t toklen = 0, i;
        if (!target ||
            (strncmp(target, "http://", 7) && strncmp(target, "https://", 8))) {
                snprintf(errstr, errstr_size,
                         "webhook: expected webhook:http(s)://HOST/PATH");
                return NULL;
        }
        if (strchr(target + 8, '@')) {
                snprintf(errstr, errstr_size,
                         "webhook: credentials in the URL are not accepted; "
                         "use token-file or client-cert");
                return NULL;
        }
        if (!pb_curl_global_done) {
                curl_global_init(CURL_GLOBAL_DEFAULT);
                pb_curl_global_done = 1;
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pb_buf_init(&s->scratch, 0);
        s->url = strdup(target);
        s->timeout_ms = (long)st->timeout;
        s->connect_timeout_ms = (long)st->connect_timeout;
        s->cert = st->cert;
        s->key = st->key;
        s->ca = st->ca;
        s->batch = st->batch > 0 ? (size_t)st->batch : 0;
        if (s->batch < 1 || s->batch > 100000) {
                snprintf(errstr, errstr_size,
                         "webhook: batch-size must be 1..100000");
                goto fail;
        }
        if (s->timeout_ms <= 0 || s->connect_timeout_ms <= 0) {
                snprintf(errstr, errstr_size, "webhook: timeouts must be > 0");
                goto fail;
        }
        if (st->max_in_flight < 1 || st->max_in_flight > 4096) {
                snprintf(errstr, errstr_size,
                         "webhook: max-in-flight must be 1..4096");
                goto fail;
        }
        s->nreqs = (size_t)st->max_in_flight;
        s->max_bytes = st->max_in_flight_bytes;
        if (!st->http_version || !strcmp(st->http_version, "auto"))
                s->http_version = CURL_HTTP_VERSION_2TLS;
        else if (!strcmp(st->http_version, "1.1"))
                s->http_version = CURL_HTTP_VERSION_1_1;
        else if (!strcmp(st->http_version, "h2c"))
                s->http_version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
        else {
                snprintf(errstr, errstr_size,
                         "webhook: http-version must be auto, 1.1 or h2c");
                goto fail;
        }
        if (st->agreement && *st->agreement &&
            add_xh(s, "X-Partnerbus-Agreement", 22, st->agreement) < 0) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        if (st->header && *st->header) {
                const char *c = strchr(st->header, ':');
                if (!header_ok(st->header)) {
                        snprintf(errstr, errstr_size,
                                 "webhook: header must be NAME: VALUE "
                                 "(token name under 128 bytes, no line "
                                 "breaks, < 900 bytes)");
                        goto fail;
                }
                if (add_xh(s, st->header, (size_t)(c - st->header),
                           c + 1 + strspn(c + 1, " \t")) < 0) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto fail;
                }
        }
        s->secret = setting_secret(st->secret, st->secret_file, &s->secret_len,
                                   &err, errstr, errstr_size);
        if (err)
                goto fail;
        if (!s->secret && !st->allow_unsigned) {
                snprintf(errstr, errstr_size,
                         "webhook: no signing secret: set webhook-secret-file "
                         "or PARTNERBUS_WEBHOOK_SECRET (or "
                         "--webhook-allow-unsigned)");
                goto fail;
        }
        if (s->secret) {
                OSSL_PARAM params[2];
                params[0] = OSSL_PARAM_construct_utf8_string(
                    OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
                params[1] = OSSL_PARAM_construct_end();
                s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
                s->mac_ctx = s->mac ? EVP_MAC_CTX_new(s->mac) : NULL;
                if (!s->mac_ctx ||
                    !EVP_MAC_init(s->mac_ctx, (const unsigned char *)s->secret,
                                  s->secret_len, params)) {
                        snprintf(errstr, errstr_size,
                                 "webhook: HMAC-SHA256 not available");
                        goto fail;
                }
        }
        s->token = setting_secret(st->token, st->token_file, &toklen, &err,
                                  errstr, errstr_size);
        if (err)
                goto fail;
        s->multi = curl_multi_init();
        s->reqs = calloc(s->nreqs, sizeof(*s->reqs));
        s->done = calloc(s->nreqs + 1, sizeof(*s->done));
        if (!s->url || !s->multi || !s->reqs || !s->done) {
                snprintf(errstr, errstr_size, "webhook: curl init failed");
                goto fail;
        }
        for (i = 0; i < s->nreqs; i++)
                if (req_setup(s, &s->reqs[i]) < 0) {
                        snprintf(errstr, errstr_size,
                                 "webhook: curl init failed");
                        goto fail;
                }
        curl_multi_setopt(s->multi, CURLMOPT_PIPELINING,
                          (long)CURLPIPE_MULTIPLEX);
        /* HTTP/1.1 needs a connection per request in flight */
        curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          (long)s->nreqs);
        curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->nreqs);
        return s;
fail:
        webhook_destroy(s);
        return NULL;
}

static size_t webhook_batch_hint(pb_sink_t *s) {
        return s->batch;
}

static void hexify(const unsigned char *d, size_t n, char *out) {
        static const char hx[] = "0123456789abcdef";
        size_t i;
        for (i = 0; i < n; i++) {
                out[2 * i] = hx[d[i] >> 4];
                out[2 * i + 1] = hx[d[i] & 15];
        }
        out[2 * n] = 0;
}

/* adds "Name: value" unless value has CR/LF (it would split headers) or
 * is too long; an empty value gives "Name:", which tells curl to leave out
 * a header of its own. -1 when the request has no room left. */
static int hdr(wh_req_t *q, const char *name, const char *value, size_t vlen) {
        size_t nl = strlen(name), need = nl + 2 + vlen + 1;
        char *line;
        if (!value || memchr(value, '\r', vlen) || memchr(value, '\n', vlen) ||
            vlen > 900)
                return 0;
        if (q->nh == PB_WEBHOOK_MAX_HEADERS || need > sizeof(q->hbuf) - q->hlen)
                return -1;
        line = q->hbuf + q->hlen;
        memcpy(line, name, nl);
        line[nl] = ':';
        if (vlen) {
                line[nl + 1] = ' ';
                memcpy(line + nl + 2, value, vlen);
                line[nl + 2 + vlen] = 0;
        } else {
                line[nl + 1] = 0;
        }
        q->hlen += need;
        q->nodes[q->nh].data = line;
        q->nodes[q->nh].next = NULL;
        if (q->nh)
                q->nodes[q->nh - 1].next = &q->nodes[q->nh];
        q->nh++;
        return 0;
}

static size_t dec(char *out, long long v) {
        char t[24];
        size_t n = 0, i;
        do {
                t[n++] = (char)('0' + v % 10);
                v /= 10;
        } while (v > 0 && n < sizeof(t));
        for (i = 0; i < n; i++)
                out[i] = t[n - 1 - i];
        out[n] = 0;
        return n;
}

/* HMAC-SHA256 of the scratch buffer into hex; 0 or -1 */
static int sign(pb_sink_t *s, char *hex) {
        unsigned char md[EVP_MAX_MD_SIZE];
        size_t mdlen = 0;
        if (!EVP_MAC_init(s->mac_ctx, NULL, 0, NULL) ||
            !EVP_MAC_update(s->mac_ctx, s->scratch.data, s->scratch.len) ||
            !EVP_MAC_final(s->mac_ctx, md, &mdlen, sizeof(md)))
                return -1;
        hexify(md, mdlen, hex);
        return 0;
}

/* Body and headers of one request into q; 0, or -1 out of memory. */
/* Signs the scratch buffer and adds the header "t=TS,VER=HEX" (no
 * header when signing failed, as before). */
static int sign_header(pb_sink_t *s, wh_req_t *q, const char *name,
                       const char *ver, const char *ts, size_t tl) {
        char sig[2 * EVP_MAX_MD_SIZE + 1], line[128];
        int n;
        if (sign(s, sig) != 0)
                return 0;
        n = snprintf(line, sizeof(line), "t=%.*s,%s=%s", (int)tl, ts, ver, sig);
        if (n < 0 || (size_t)n >= sizeof(line))
                return -1;
        return hdr(q, name, line, (size_t)n);
}

static int build(pb_sink_t *s, wh_req_t *q, const pb_sink_event_t *ev,
                 size_t n) {
        char line[512], ts[24];
        /* the signed values of the Idempotency-Key and ce-type headers */
        char idem[64] = "";
        const char *ctype = "";
        size_t i, tl;
        int err = 0;

        pb_buf_reset(&q->body);
        q->nh = q->hlen = 0;
        q->hdrs = NULL;
        if (n == 1 && s->batch == 1) {
                if (pb_buf_append(&q->body, ev[0].json, ev[0].json_len) !=
                    PB_OK)
                        return -1;
        } else {
                pb_buf_putc(&q->body, '[');
                for (i = 0; i < n; i++) {
                        if (i)
                                pb_buf_putc(&q->body, ',');
                        pb_buf_append(&q->body, ev[i].json, ev[i].json_len);
                }
                if (pb_buf_putc(&q->body, ']') != PB_OK)
                        return -1;
        }
        err |= hdr(q, "Content-Type", "application/json", 16);
        err |= hdr(q, "Expect", "", 0); /* no 100-continue round trip */
        if (n == 1 && s->batch == 1) {
                const pb_event_meta_t *m = ev[0].meta;
                size_t il = strlen(m->event_id);
                char tbuf[40];
                if (il >= sizeof(idem))
                        il = sizeof(idem) - 1;
                memcpy(idem, m->event_id, il);
                idem[il] = 0;
                ctype = ev[0].type;
                err |= hdr(q, "Idempotency-Key", idem, il);
                err |= hdr(q, "ce-specversion", "1.0", 3);
                err |= hdr(q, "ce-id", idem, il);
                err |= hdr(q, "ce-type", ev[0].type, strlen(ev[0].type));
                err |= hdr(q, "ce-source", m->source, strlen(m->source));
                if (m->occurred_at_ms) {
                        pb_rfc3339_format(m->occurred_at_ms, tbuf,
                                          sizeof(tbuf));
                        err |= hdr(q, "ce-time", tbuf, strlen(tbuf));
                }
                if (ev[0].key && ev[0].key_len)
                        err |= hdr(q, "ce-subject", ev[0].key, ev[0].key_len);
        } else {
                unsigned char d[32];
                char hx[2 * 16 + 1], k[48];
                pb_buf_reset(&s->scratch);
                for (i = 0; i < n; i++)
                        pb_buf_append(&s->scratch, ev[i].meta->event_id,
                                      strlen(ev[i].meta->event_id) + 1);
                pb_sha256(s->scratch.data, s->scratch.len, d);
                hexify(d, 16, hx);
                snprintf(k, sizeof(k), "batch-%s", hx);
                snprintf(idem, sizeof(idem), "%s", k);
                err |= hdr(q, "Idempotency-Key", k, strlen(k));
                snprintf(k, sizeof(k), "%zu", n);
                err |= hdr(q, "X-Partnerbus-Batch-Size", k, strlen(k));
        }
        if (s->secret) {
                size_t il = strlen(idem), cl = strlen(ctype);
                tl = dec(ts, (long long)time(NULL));
                /* v2: "v2" LF t LF Idempotency-Key LF ce-type LF body */
                pb_buf_reset(&s->scratch);
                if (pb_buf_reserve(&s->scratch,
                                   q->body.len + tl + il + cl + 8) != PB_OK)
                        return -1;
                pb_buf_append(&s->scratch, "v2\n", 3);
                pb_buf_append(&s->scratch, ts, tl);
                pb_buf_putc(&s->scratch, '\n');
                pb_buf_append(&s->scratch, idem, il);
                pb_buf_putc(&s->scratch, '\n');
                pb_buf_append(&s->scratch, ctype, cl);
                pb_buf_putc(&s->scratch, '\n');
                pb_buf_append(&s->scratch, q->body.data, q->body.len);
                err |= sign_header(s, q, "X-Partnerbus-Signature-V2", "v2", ts,
                                   tl);
                /* v1: t "." body */
                pb_buf_reset(&s->scratch);
                pb_buf_append(&s->scratch, ts, tl);
                pb_buf_putc(&s->scratch, '.');
                pb_buf_append(&s->scratch, q->body.data, q->body.len);
                err |=
                    sign_header(s, q, "X-Partnerbus-Signature", "v1", ts, tl);
        }
        if (s->token) {
                snprintf(line, sizeof(line), "Bearer %s", s->token);
                err |= hdr(q, "Authorization", line, strlen(line));
        }
        for (i = 0; i < s->nxh; i++)
                err |= hdr(q, s->xh_name[i], s->xh_value[i],
                           strlen(s->xh_value[i]));
        if (err)
                return -1;
        q->hdrs = &q->nodes[0];
        return 0;
}

static int webhook_submit(pb_sink_t *s, const pb_sink_event_t *ev, size_t n,
                          uint64_t tag) {
        wh_req_t *q = NULL;
        size_t i, bytes = 0;
        if (s->inflight >= s->nreqs)
                return 0;
        for (i = 0; i < n; i++)
                bytes += ev[i].json_len + 1;
        if (s->inflight && s->inflight_bytes + bytes > s->max_bytes)
                return 0;
        for (i = 0; i < s->nreqs; i++)
                if (!s->reqs[i].busy) {
                        q = &s->reqs[i];
                        break;
                }
        if (!q)
                return 0;
        q->busy = 1;
        q->tag = tag;
        q->started_ms = mono_ms();
        q->resp_len = 0;
        q->resp[0] = 0;
        q->retry_after_ms = 0;
        q->errbuf[0] = 0;
        s->inflight++;
        if (build(s, q, ev, n) < 0) {
                /* reported by poll, like any other outcome */
                pb_sink_done_t *d = &s->done[s->ndone++];
                memset(d, 0, sizeof(*d));
                d->tag = tag;
                d->status.result = PB_SINK_RETRY;
                snprintf(d->status.reason, sizeof(d->status.reason),
                         "out of memory");
                q->busy = 0;
                return 1;
        }
        s->inflight_bytes += q->body.len;
        curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->hdrs);
        curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, (char *)q->body.data);
        curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)q->body.len);
        if (curl_multi_add_handle(s->multi, q->easy) != CURLM_OK) {
                pb_sink_done_t *d = &s->done[s->ndone++];
                memset(d, 0, sizeof(*d));
                d->tag = tag;
                d->status.result = PB_SINK_RETRY;
                snprintf(d->status.reason, sizeof(d->status.reason),
                         "curl: cannot start the request");
                s->inflight_bytes -= q->body.len;
                q->hdrs = NULL;
                q->busy = 0;
        }
        return 1;
}

/* the outcome of a finished transfer into the done queue */
static void finish(pb_sink_t *s, wh_req_t *q, CURLcode cc) {
        pb_sink_done_t *d = &s->done[s->ndone++];
        pb_sink_status_t *st = &d->status;
        long status = 0;
        size_t i;
        memset(d, 0, sizeof(*d));
        d->tag = q->tag;
        d->elapsed_ms = mono_ms() - q->started_ms;
        curl_multi_remove_handle(s->multi, q->easy);
        q->hdrs = NULL;
        curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, NULL);
        s->inflight_bytes -= q->body.len;
        q->busy = 0;
        if (q->body.cap > 65536) { /* one big batch does not stay */
                pb_buf_free(&q->body);
                pb_buf_init(&q->body, 0);
        }
        if (cc != CURLE_OK) {
                st->result = PB_SINK_RETRY;
                snprintf(st->reason, sizeof(st->reason), "%s",
                         q->errbuf[0] ? q->errbuf : curl_easy_strerror(cc));
                return;
        }
        curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
        st->http_status = (int)status;
        if (status >= 200 && status < 300) {
                st->result = PB_SINK_OK;
                return;
        }
        for (i = 0; i < q->resp_len; i++)
                if ((unsigned char)q->resp[i] < 0x20 || q->resp[i] == '"')
                        q->resp[i] = ' ';
        snprintf(st->reason, sizeof(st->reason), "HTTP %ld: %s", status,
                 q->resp);
        if (status == 408 || status == 425 || status == 429 || status >= 500) {
                st->result = PB_SINK_RETRY;
                st->retry_after_ms = q->retry_after_ms;
        } else {
                st->result = PB_SINK_PERMANENT;
        }
}

/* runs transfers; moves finished ones to the done queue */
static void drive(pb_sink_t *s, int timeout_ms) {
        int running = 0, left;
        CURLMsg *msg;
        curl_multi_perform(s->multi, &running);
        if (timeout_ms > 0 && s->ndone == 0) {
                int nfds = 0;
                curl_multi_poll(s->multi, NULL, 0, timeout_ms, &nfds);
                curl_multi_perform(s->multi, &running);
        }
        while ((msg = curl_multi_info_read(s->multi, &left))) {
                wh_req_t *q = NULL;
                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &q);
                if (q)
                        finish(s, q, msg->data.result);
        }
}

static size_t take_done(pb_sink_t *s, pb_sink_done_t *out, size_t max) {
        size_t n = s->ndone < max ? s->ndone : max;
        memcpy(out, s->done, n * sizeof(*out));
        memmove(s->done, s->done + n, (s->ndone - n) * sizeof(*s->done));
        s->ndone -= n;
        s->inflight -= n;
        return n;
}

static size_t webhook_poll(pb_sink_t *s, int timeout_ms, pb_sink_done_t *done,
                           size_t max) {
        if (s->inflight > s->ndone)
                drive(s, timeout_ms);
        return take_done(s, done, max);
}

static size_t webhook_in_flight(pb_sink_t *s) {
        return s->inflight;
}

/* one request, waited for; other requests' outcomes stay queued */
static void webhook_write(pb_sink_t *s, const pb_sink_event_t *ev, size_t n,
                          pb_sink_status_t *st) {
        const uint64_t tag = UINT64_MAX;
        size_t i;
        memset(st, 0, sizeof(*st));
        while (!webhook_submit(s, ev, n, tag)) {
                if (s->ndone >= s->inflight) {
                        /* every slot holds an outcome nobody polls */
                        st->result = PB_SINK_RETRY;
                        snprintf(st->reason, sizeof(st->reason),
                                 "webhook: every request slot is taken");
                        return;
                }
                drive(s, 100);
        }
        for (;;) {
                for (i = 0; i < s->ndone; i++)
                        if (s->done[i].tag == tag) {
                                *st = s->done[i].status;
                                memmove(&s->done[i], &s->done[i + 1],
                                        (s->ndone - i - 1) * sizeof(*s->done));
                                s->ndone--;
                                s->inflight--;
                                return;
                        }
                drive(s, 100);
        }
}

static pb_resp_t webhook_flush(pb_sink_t *s, char *errstr, size_t errstr_size) {
        (void)s;
        (void)errstr;
        (void)errstr_size;
        return PB_OK; /* a 2xx is the receiver's confirmation */
}

static void webhook_destroy(pb_sink_t *s) {
        size_t i;
        if (!s)
                return;
        for (i = 0; s->reqs && i < s->nreqs; i++) {
                wh_req_t *q = &s->reqs[i];
                if (q->easy) {
                        if (q->busy && s->multi)
                                curl_multi_remove_handle(s->multi, q->easy);
                        curl_easy_cleanup(q->easy);
                }
                pb_buf_free(&q->body);
        }
        free(s->reqs);
        free(s->done);
        if (s->multi)
                curl_multi_cleanup(s->multi);
        EVP_MAC_CTX_free(s->mac_ctx);
        EVP_MAC_free(s->mac);
        free(s->url);
        if (s->secret)
                memset(s->secret, 0, s->secret_len);
        free(s->secret);
        free(s->token);
        for (i = 0; i < s->nxh; i++)
                free(s->xh_value[i]);
        pb_buf_free(&s->scratch);
        free(s);
}

const pb_sink_plugin_t pb_sink_webhook = {
    "webhook",
    "HTTP(S) POST per event or batch, signed, CloudEvents headers; requests "
    "in parallel",
    1,
    webhook_batch_hint,
    webhook_opts,
    sizeof(webhook_opts) / sizeof(webhook_opts[0]),
    sizeof(webhook_settings_t),
    "webhook-",
    webhook_init,
    webhook_write,
    webhook_flush,
    webhook_destroy,
    webhook_submit,
    webhook_poll,
    webhook_in_flight,
};
