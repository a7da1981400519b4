/* partnerbus poll - HTTP GET of a feed page; see pb_fetch.h. */
#include "pb_fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

void pb_fetch_result_init(pb_fetch_result_t *r, size_t max_body) {
        memset(r, 0, sizeof(*r));
        r->fd = -1;
        r->data = "";
        pb_buf_init(&r->body, max_body);
}

static void unmap(pb_fetch_result_t *r) {
        if (r->map)
                munmap(r->map, r->len + 1);
        r->map = NULL;
        r->released = 0;
        r->data = "";
        r->len = 0;
}

void pb_fetch_result_free(pb_fetch_result_t *r) {
        unmap(r);
        if (r->fd >= 0)
                close(r->fd);
        r->fd = -1;
        pb_buf_free(&r->body);
}

void pb_fetch_release(pb_fetch_result_t *r, const char *upto) {
        const char *base = r->map;
        size_t off, page = (size_t)sysconf(_SC_PAGESIZE);
        if (!base || upto < base || upto > base + r->len)
                return;
        off = (size_t)(upto - base) / page * page;
        if (off <= r->released)
                return;
        madvise((char *)r->map + r->released, off - r->released, MADV_DONTNEED);
        r->released = off;
}

typedef struct wctx {
        pb_fetch_result_t *res;
        size_t max_body;
        int too_big, write_failed;
        long retry_after_s;
        char link[4096];
} wctx_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
        wctx_t *w = ud;
        pb_fetch_result_t *r = w->res;
        size_t len = sz * n, done = 0;
        if (r->fd < 0) {
                if (pb_buf_append(&r->body, p, len) != PB_OK) {
                        w->too_big = 1;
                        return 0; /* aborts the transfer */
                }
                return len;
        }
        if (w->max_body && len > w->max_body - r->spooled) {
                w->too_big = 1;
                return 0;
        }
        while (done < len) {
                ssize_t k = write(r->fd, p + done, len - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        w->write_failed = errno ? errno : EIO;
                        return 0;
                }
                done += (size_t)k;
        }
        r->spooled += len;
        return len;
}

/* An unlinked temporary file for the body. 0 or -1 (errno). */
static int spool_open(pb_fetch_result_t *r) {
        const char *dir = getenv("TMPDIR");
        char path[4096];
        if (!dir || !*dir)
                dir = "/tmp";
        snprintf(path, sizeof(path), "%s/partnerbus-poll-XXXXXX", dir);
        r->fd = mkstemp(path);
        if (r->fd < 0)
                return -1;
        unlink(path);
        return 0;
}

/* Before an attempt: an empty body. */
static int body_reset(pb_fetch_result_t *r) {
        pb_buf_reset(&r->body);
        unmap(r);
        r->spooled = 0;
        if (r->fd >= 0 &&
            (ftruncate(r->fd, 0) || lseek(r->fd, 0, SEEK_SET) != 0))
                return -1;
        return 0;
}

/* After a complete 2xx body: data and len. 0 or -1 (errno). */
static int body_finish(pb_fetch_result_t *r) {
        if (r->fd < 0) {
                r->data = r->body.data ? (const char *)r->body.data : "";
                r->len = r->body.len;
                return 0;
        }
        r->len = r->spooled;
        if (!r->len) {
                r->data = "";
                return 0;
        }
        /* a NUL after the body, as a body in memory has */
        if (write(r->fd, "", 1) != 1)
                return -1;
        r->map = mmap(NULL, r->len + 1, PROT_READ, MAP_PRIVATE, r->fd, 0);
        if (r->map == MAP_FAILED) {
                r->map = NULL;
                r->len = 0;
                return -1;
        }
        madvise(r->map, r->len + 1, MADV_SEQUENTIAL);
        r->data = r->map;
        return 0;
}

static void copy_value(const char *v, size_t n, char *out, size_t size) {
        while (n && (*v == ' ' || *v == '\t')) {
                v++;
                n--;
        }
        while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' ||
                     v[n - 1] == '\t'))
                n--;
        if (n >= size) /* too long to keep: keep nothing, not a prefix */
                n = 0;
        memcpy(out, v, n);
        out[n] = 0;
}

int pb_link_next(const char *v, size_t len, char *out, size_t size) {
        size_t i = 0;
        /* entries: <uri> *( ; param ) separated by ',' */
        while (i < len) {
                size_t us, ue, pe;
                while (i < len && (v[i] == ' ' || v[i] == ',' || v[i] == '\t'))
                        i++;
                if (i >= len || v[i] != '<')
                        return -1;
                us = ++i;
                while (i < len && v[i] != '>')
                        i++;
                if (i >= len)
                        return -1;
                ue = i++;
                pe = i;
                while (pe < len && v[pe] != ',' && v[pe] != '<')
                        pe++;
                /* look for rel=next / rel="next" / rel="prev next" */
                {
                        size_t k;
                        for (k = i; k + 3 < pe; k++) {
                                if (strncasecmp(v + k, "rel", 3))
                                        continue;
                                k += 3;
                                while (k < pe && v[k] == ' ')
                                        k++;
                                if (k >= pe || v[k] != '=')
                                        continue;
                                k++;
                                while (k < pe && v[k] != ';') {
                                        if (k + 4 <= pe &&
                                            !strncasecmp(v + k, "next", 4) &&
                                            (k == 0 ||
                                             !isalnum(
                                                 (unsigned char)v[k - 1])) &&
                                            (k + 4 == pe ||
                                             !isalnum(
                                                 (unsigned char)v[k + 4]))) {
                                                if (ue - us >= size)
                                                        return -1;
                                                memcpy(out, v + us, ue - us);
                                                out[ue - us] = 0;
                                                return 0;
                                        }
                                        k++;
                                }
                        }
                }
                i = pe;
        }
        return -1;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
        wctx_t *w = ud;
        size_t len = sz * n, nl;
        const char *colon;
        if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
                /* a new response (redirect, 100-continue): forget the
                 * previous one's headers */
                w->res->etag[0] = 0;
                w->res->last_modified[0] = 0;
                w->res->content_type[0] = 0;
                w->link[0] = 0;
                w->retry_after_s = -1;
                return len;
        }
        colon = memchr(p, ':', len);
        if (!colon)
                return len;
        nl = (size_t)(colon - p);
        colon++;
        if (nl == 4 && !strncasecmp(p, "etag", 4))
                copy_value(colon, len - nl - 1, w->res->etag,
                           sizeof(w->res->etag));
        else if (nl == 13 && !strncasecmp(p, "last-modified", 13))
                copy_value(colon, len - nl - 1, w->res->last_modified,
                           sizeof(w->res->last_modified));
        else if (nl == 12 && !strncasecmp(p, "content-type", 12))
                copy_value(colon, len - nl - 1, w->res->content_type,
                           sizeof(w->res->content_type));
        else if (nl == 4 && !strncasecmp(p, "link", 4)) {
                char v[4096];
                copy_value(colon, len - nl - 1, v, sizeof(v));
                if (!w->link[0])
                        pb_link_next(v, strlen(v), w->link, sizeof(w->link));
        } else if (nl == 11 && !strncasecmp(p, "retry-after", 11)) {
                char v[64];
                char *end;
                long s;
                copy_value(colon, len - nl - 1, v, sizeof(v));
                s = strtol(v, &end, 10);
                if (end != v && !*end && s >= 0)
                        w->retry_after_s = s;
        }
        return len;
}

static void sleep_ms(long ms, volatile int *stop) {
        while (ms > 0 && !(stop && *stop)) {
                long step = ms > 100 ? 100 : ms;
                struct timespec ts = {0, step * 1000000L};
                nanosleep(&ts, NULL);
                ms -= step;
        }
}

/* scheme://host:port of an http(s) URL, lower case, into out */
static int origin_of(const char *url, char *out, size_t size) {
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL;
        int ok = 0;
        size_t i;
        if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
                CURLUE_OK &&
            (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https"))) {
                int n = snprintf(out, size, "%s://%s:%s", scheme, host, port);
                ok = n > 0 && (size_t)n < size;
                for (i = 0; ok && out[i]; i++)
                        out[i] = (char)tolower((unsigned char)out[i]);
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return ok;
}

int pb_url_same_origin(const char *a, const char *b) {
        char oa[1024], ob[1024];
        return a && b && origin_of(a, oa, sizeof(oa)) &&
               origin_of(b, ob, sizeof(ob)) && !strcmp(oa, ob);
}

/* May credentials go to url? (see pb_fetch_opts_t.auth_origin) */
static int creds_allowed(const pb_fetch_opts_t *o, const char *url) {
        const char *p = o->auth_allow;
        if (!o->auth_origin || pb_url_same_origin(o->auth_origin, url))
                return 1;
        while (p && *p) {
                char one[1024];
                size_t n = strcspn(p, ",");
                while (n && (*p == ' ' || *p == '\t')) {
                        p++;
                        n--;
                }
                if (n && n < sizeof(one)) {
                        memcpy(one, p, n);
                        while (n && (one[n - 1] == ' ' || one[n - 1] == '\t'))
                                n--;
                        one[n] = 0;
                        if (pb_url_same_origin(one, url))
                                return 1;
                }
                p += strcspn(p, ",");
                if (*p == ',')
                        p++;
        }
        return 0;
}

pb_resp_t pb_fetch(const pb_fetch_opts_t *o, const char *url,
                   const char *if_none_match, const char *if_modified_since,
                   pb_fetch_result_t *res, char *errstr, size_t errstr_size) {
        CURL *c;
        struct curl_slist *hdrs = NULL;
        char ebuf[CURL_ERROR_SIZE], line[1024];
        long backoff = o->backoff_ms > 0 ? o->backoff_ms : 500;
        int attempt, creds;
        pb_resp_t rc = PB_ERR_HTTP;
        wctx_t w;
        memset(&w, 0, sizeof(w));
        w.res = res;
        w.max_body = o->max_body;
        if (o->spool && res->fd < 0 && spool_open(res)) {
                snprintf(errstr, errstr_size, "temporary file for the body: %s",
                         strerror(errno));
                return PB_ERR_IO;
        }
        c = curl_easy_init();
        if (!c) {
                snprintf(errstr, errstr_size, "curl_easy_init failed");
                return PB_ERR_NOMEM;
        }
        hdrs = curl_slist_append(hdrs, "Accept: application/json, "
                                       "application/x-ndjson, text/csv;q=0.9, "
                                       "*/*;q=0.1");
        if (if_none_match && *if_none_match) {
                snprintf(line, sizeof(line), "If-None-Match: %s",
                         if_none_match);
                hdrs = curl_slist_append(hdrs, line);
        }
        if (if_modified_since && *if_modified_since) {
                snprintf(line, sizeof(line), "If-Modified-Since: %s",
                         if_modified_since);
                hdrs = curl_slist_append(hdrs, line);
        }
        creds = creds_allowed(o, url);
        res->creds_withheld = !creds && (o->bearer || o->userpwd);
        if (o->bearer && creds) {
                char *h = malloc(strlen(o->bearer) + 32);
                if (h) {
                        sprintf(h, "Authorization: Bearer %s", o->bearer);
                        hdrs = curl_slist_append(hdrs, h);
                        memset(h, 0, strlen(h));
                        free(h);
                }
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &w);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &w);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* gzip etc. */
        curl_easy_setopt(c, CURLOPT_USERAGENT,
                         "partnerbus-poll/"
                         "0.1");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                   : 10000L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                         o->timeout_ms > 0 ? o->timeout_ms : 60000L);
        if (o->max_body)
                curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                                 (curl_off_t)o->max_body);
        if (o->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
        if (o->userpwd && creds) {
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                curl_easy_setopt(c, CURLOPT_USERPWD, o->userpwd);
                /* credentials only to the feed's own host */
                curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
        }
        for (attempt = 0; attempt <= o->retries; attempt++) {
                CURLcode cc;
                long status = 0, wait;
                char *eff = NULL;
                int retry = 0;
                if (attempt) {
                        wait = backoff;
                        /* divide, not multiply: Retry-After is the
                         * peer's number and may be near LONG_MAX */
                        if (w.retry_after_s >= 0 && o->backoff_max_ms >= 0 &&
                            w.retry_after_s <= o->backoff_max_ms / 1000)
                                wait = w.retry_after_s * 1000;
                        sleep_ms(wait, o->stop);
                        if (o->stop && *o->stop)
                                break;
                        backoff *= 2;
                        if (o->backoff_max_ms > 0 &&
                            backoff > o->backoff_max_ms)
                                backoff = o->backoff_max_ms;
                }
                res->attempts = attempt + 1;
                if (body_reset(res)) {
                        snprintf(errstr, errstr_size,
                                 "temporary file for the body: %s",
                                 strerror(errno));
                        rc = PB_ERR_IO;
                        break;
                }
                w.too_big = w.write_failed = 0;
                w.retry_after_s = -1;
                w.link[0] = 0;
                ebuf[0] = 0;
                cc = curl_easy_perform(c);
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                res->status = status;
                if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) ==
                        CURLE_OK &&
                    eff)
                        snprintf(res->url, sizeof(res->url), "%s", eff);
                if (w.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
                        snprintf(errstr, errstr_size,
                                 "response larger than %zu bytes", o->max_body);
                        rc = PB_ERR_LIMIT;
                        break;
                }
                if (w.write_failed) {
                        snprintf(errstr, errstr_size,
                                 "temporary file for the body: %s",
                                 strerror(w.write_failed));
                        rc = PB_ERR_IO;
                        break;
                }
                if (cc != CURLE_OK) {
                        snprintf(errstr, errstr_size, "%s",
                                 ebuf[0] ? ebuf : curl_easy_strerror(cc));
                        retry = 1;
                } else if (status == 304 || (status >= 200 && status < 300)) {
                        res->link_next[0] = 0;
                        if (w.link[0] &&
                            pb_url_resolve(res->url[0] ? res->url : url, w.link,
                                           res->link_next,
                                           sizeof(res->link_next)))
                                res->link_next[0] = 0;
                        rc = PB_OK;
                        if (body_finish(res)) {
                                snprintf(errstr, errstr_size,
                                         "mapping the body: %s",
                                         strerror(errno));
                                rc = PB_ERR_IO;
                        }
                        break;
                } else {
                        snprintf(errstr, errstr_size, "HTTP status %ld",
                                 status);
                        retry = status == 408 || status == 429 || status >= 500;
                }
                if (!retry)
                        break;
        }
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(c);
        return rc;
}

/* url with one part set (rel resolved against it, or a query appended)
 * into out; -1 when curl refuses it or it does not fit */
static int url_set(const char *url, CURLUPart part, const char *val,
                   unsigned int flags, char *out, size_t size) {
        CURLU *u = curl_url();
        char *s = NULL;
        int r = -1;
        if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_set(u, part, val, flags) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK &&
            strlen(s) < size) {
                strcpy(out, s);
                r = 0;
        }
        curl_free(s);
        curl_url_cleanup(u);
        return r;
}

int pb_url_resolve(const char *base, const char *rel, char *out, size_t size) {
        return url_set(base, CURLUPART_URL, rel, 0, out, size);
}

int pb_url_with_param(const char *url, const char *name, const char *value,
                      char *out, size_t size) {
        char *q = malloc(strlen(name) + strlen(value) + 2);
        int r;
        if (!q)
                return -1;
        sprintf(q, "%s=%s", name, value);
        r = url_set(url, CURLUPART_QUERY, q,
                    CURLU_APPENDQUERY | CURLU_URLENCODE, out, size);
        free(q);
        return r;
}
