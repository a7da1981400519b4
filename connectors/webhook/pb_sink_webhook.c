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
 * ca-file). The handle is kept, so connections are reused (HTTP keep-alive).
 *
 * Outcome: 2xx OK; 408, 425, 429, 5xx and transport errors (connect,
 * timeout, reset) RETRY, with Retry-After (seconds or HTTP date) passed
 * on; any other status PERMANENT. Reasons name the status and the first
 * bytes of the answer, never the secret or token. */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pb_connector.h"

#define PB_WEBHOOK_REASON_BODY 160

struct pb_sink {
        CURL *curl;
        char *url;
        char *secret;
        size_t secret_len;
        char *token;
        char *agreement; /* X-Partnerbus-Agreement, NULL if none */
        size_t batch;
        long timeout_ms, connect_timeout_ms;
        pb_buf_t body;
        pb_buf_t scratch; /* signed string, id list */
        char resp[PB_WEBHOOK_REASON_BODY + 1];
        size_t resp_len;
        int64_t retry_after_ms;
        char errbuf[CURL_ERROR_SIZE];
};

static int pb_curl_global_done;

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
        pb_sink_t *s = ud;
        size_t len = sz * n, take = PB_WEBHOOK_REASON_BODY - s->resp_len;
        if (take > len)
                take = len;
        memcpy(s->resp + s->resp_len, p, take);
        s->resp_len += take;
        s->resp[s->resp_len] = 0;
        return len; /* the rest is read and dropped */
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
        pb_sink_t *s = ud;
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
                        s->retry_after_ms = (int64_t)secs * 1000;
                } else {
                        time_t t = curl_getdate(v + strspn(v, " "), NULL);
                        time_t now = time(NULL);
                        if (t > now && t - now < 86400)
                                s->retry_after_ms = (int64_t)(t - now) * 1000;
                }
        }
        return len;
}

static pb_sink_t *webhook_init(const char *target, const void *settings,
                               char *errstr, size_t errstr_size) {
        const webhook_settings_t *st = settings;
        pb_sink_t *s;
        int err = 0;
        size_t toklen = 0;
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
        pb_buf_init(&s->body, 0);
        pb_buf_init(&s->scratch, 0);
        s->url = strdup(target);
        s->timeout_ms = (long)st->timeout;
        s->connect_timeout_ms = (long)st->connect_timeout;
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
        s->token = setting_secret(st->token, st->token_file, &toklen, &err,
                                  errstr, errstr_size);
        if (err)
                goto fail;
        if (st->agreement && *st->agreement &&
            !(s->agreement = strdup(st->agreement))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        s->curl = curl_easy_init();
        if (!s->url || !s->curl) {
                snprintf(errstr, errstr_size, "webhook: curl init failed");
                goto fail;
        }
        curl_easy_setopt(s->curl, CURLOPT_URL, s->url);
        curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(s->curl, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, s->timeout_ms);
        curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS,
                         s->connect_timeout_ms);
        curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, s);
        curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->errbuf);
        curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "partnerbus-relay/1");
        if (st->cert && *st->cert)
                curl_easy_setopt(s->curl, CURLOPT_SSLCERT, st->cert);
        if (st->key && *st->key)
                curl_easy_setopt(s->curl, CURLOPT_SSLKEY, st->key);
        if (st->ca && *st->ca)
                curl_easy_setopt(s->curl, CURLOPT_CAINFO, st->ca);
        return s;
fail:
        if (s->curl)
                curl_easy_cleanup(s->curl);
        free(s->url);
        free(s->secret);
        free(s->token);
        free(s->agreement);
        pb_buf_free(&s->body);
        pb_buf_free(&s->scratch);
        free(s);
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

/* appends "Name: value" unless value has CR/LF (it would split headers) */
static struct curl_slist *hdr(struct curl_slist *l, const char *name,
                              const char *value, size_t vlen) {
        char line[1024];
        struct curl_slist *n;
        if (!l || !value || memchr(value, '\r', vlen) ||
            memchr(value, '\n', vlen) || vlen > 900)
                return l;
        snprintf(line, sizeof(line), "%s: %.*s", name, (int)vlen, value);
        n = curl_slist_append(l, line);
        if (!n) {
                curl_slist_free_all(l);
                return NULL;
        }
        return n;
}

static void webhook_write(pb_sink_t *s, const pb_sink_event_t *ev, size_t n,
                          pb_sink_status_t *st) {
        struct curl_slist *h = NULL;
        char line[512], sig[2 * EVP_MAX_MD_SIZE + 1], ts[24];
        /* the signed values of the Idempotency-Key and ce-type headers */
        char idem[64] = "";
        const char *ctype = "";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        long status = 0;
        CURLcode cc;
        size_t i;

        memset(st, 0, sizeof(*st));
        pb_buf_reset(&s->body);
        if (n == 1 && s->batch == 1) {
                pb_buf_append(&s->body, ev[0].json, ev[0].json_len);
        } else {
                pb_buf_putc(&s->body, '[');
                for (i = 0; i < n; i++) {
                        if (i)
                                pb_buf_putc(&s->body, ',');
                        pb_buf_append(&s->body, ev[i].json, ev[i].json_len);
                }
                pb_buf_putc(&s->body, ']');
        }
        h = curl_slist_append(NULL, "Content-Type: application/json");
        h = hdr(h, "Expect", "", 0); /* no 100-continue round trip */
        if (n == 1 && s->batch == 1) {
                const pb_event_meta_t *m = ev[0].meta;
                char tbuf[40];
                snprintf(idem, sizeof(idem), "%s", m->event_id);
                ctype = ev[0].type;
                h = hdr(h, "Idempotency-Key", m->event_id, strlen(m->event_id));
                h = hdr(h, "ce-specversion", "1.0", 3);
                h = hdr(h, "ce-id", m->event_id, strlen(m->event_id));
                h = hdr(h, "ce-type", ev[0].type, strlen(ev[0].type));
                h = hdr(h, "ce-source", m->source, strlen(m->source));
                if (m->occurred_at_ms) {
                        pb_rfc3339_format(m->occurred_at_ms, tbuf,
                                          sizeof(tbuf));
                        h = hdr(h, "ce-time", tbuf, strlen(tbuf));
                }
                if (ev[0].key && ev[0].key_len)
                        h = hdr(h, "ce-subject", ev[0].key, ev[0].key_len);
        } else {
                unsigned char d[EVP_MAX_MD_SIZE];
                unsigned int dl = 0;
                char hx[2 * EVP_MAX_MD_SIZE + 1], k[48];
                pb_buf_reset(&s->scratch);
                for (i = 0; i < n; i++)
                        pb_buf_append(&s->scratch, ev[i].meta->event_id,
                                      strlen(ev[i].meta->event_id) + 1);
                if (!EVP_Digest(s->scratch.data, s->scratch.len, d, &dl,
                                EVP_sha256(), NULL))
                        memset(d, 0, sizeof(d));
                hexify(d, 16, hx);
                snprintf(k, sizeof(k), "batch-%s", hx);
                snprintf(idem, sizeof(idem), "%s", k);
                h = hdr(h, "Idempotency-Key", k, strlen(k));
                snprintf(k, sizeof(k), "%zu", n);
                h = hdr(h, "X-Partnerbus-Batch-Size", k, strlen(k));
        }
        if (s->secret) {
                snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
                pb_buf_reset(&s->scratch);
                mdlen = 0;
                if (pb_buf_printf(&s->scratch, "v2\n%s\n%s\n%s\n", ts, idem,
                                  ctype) == PB_OK &&
                    pb_buf_append(&s->scratch, s->body.data, s->body.len) ==
                        PB_OK &&
                    HMAC(EVP_sha256(), s->secret, (int)s->secret_len,
                         s->scratch.data, s->scratch.len, md, &mdlen)) {
                        hexify(md, mdlen, sig);
                        snprintf(line, sizeof(line), "t=%s,v2=%s", ts, sig);
                        h = hdr(h, "X-Partnerbus-Signature-V2", line,
                                strlen(line));
                }
                pb_buf_reset(&s->scratch);
                if (pb_buf_printf(&s->scratch, "%s.", ts) == PB_OK &&
                    pb_buf_append(&s->scratch, s->body.data, s->body.len) ==
                        PB_OK &&
                    HMAC(EVP_sha256(), s->secret, (int)s->secret_len,
                         s->scratch.data, s->scratch.len, md, &mdlen)) {
                        hexify(md, mdlen, sig);
                        snprintf(line, sizeof(line), "t=%s,v1=%s", ts, sig);
                        h = hdr(h, "X-Partnerbus-Signature", line,
                                strlen(line));
                }
        }
        if (s->agreement)
                h = hdr(h, "X-Partnerbus-Agreement", s->agreement,
                        strlen(s->agreement));
        if (s->token) {
                snprintf(line, sizeof(line), "Bearer %s", s->token);
                h = hdr(h, "Authorization", line, strlen(line));
        }
        if (!h) {
                st->result = PB_SINK_RETRY;
                snprintf(st->reason, sizeof(st->reason), "out of memory");
                return;
        }
        curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, (char *)s->body.data);
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)s->body.len);
        s->resp_len = 0;
        s->resp[0] = 0;
        s->retry_after_ms = 0;
        s->errbuf[0] = 0;
        cc = curl_easy_perform(s->curl);
        curl_slist_free_all(h);
        curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
        if (cc != CURLE_OK) {
                st->result = PB_SINK_RETRY;
                snprintf(st->reason, sizeof(st->reason), "%s",
                         s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
                return;
        }
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
        st->http_status = (int)status;
        if (status >= 200 && status < 300) {
                st->result = PB_SINK_OK;
                return;
        }
        for (i = 0; i < s->resp_len; i++)
                if ((unsigned char)s->resp[i] < 0x20 || s->resp[i] == '"')
                        s->resp[i] = ' ';
        snprintf(st->reason, sizeof(st->reason), "HTTP %ld: %s", status,
                 s->resp);
        if (status == 408 || status == 425 || status == 429 || status >= 500) {
                st->result = PB_SINK_RETRY;
                st->retry_after_ms = s->retry_after_ms;
        } else {
                st->result = PB_SINK_PERMANENT;
        }
}

static pb_resp_t webhook_flush(pb_sink_t *s, char *errstr, size_t errstr_size) {
        (void)s;
        (void)errstr;
        (void)errstr_size;
        return PB_OK; /* a 2xx is the receiver's confirmation */
}

static void webhook_destroy(pb_sink_t *s) {
        if (!s)
                return;
        curl_easy_cleanup(s->curl);
        free(s->url);
        if (s->secret)
                memset(s->secret, 0, s->secret_len);
        free(s->secret);
        free(s->token);
        free(s->agreement);
        pb_buf_free(&s->body);
        pb_buf_free(&s->scratch);
        free(s);
}

PB_SINK_PLUGIN(webhook,
               "HTTP(S) POST per event or batch, signed, CloudEvents headers",
               1);
