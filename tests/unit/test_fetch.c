/* Tests of the poll connector's HTTP fetch (services/poll/pb_fetch.c)
 * against a small fake server in a thread on a loopback port: the
 * server's headers are untrusted input. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pb_test.h"

#include "pb_fetch.h"

/* --- fake server: answers the i-th connection with resp[i] --- */

typedef struct fake {
        int lfd, port;
        pthread_t thr;
        const char *resp[4];
        int nresp;
        char req[4][8192]; /* the request head of each connection */
} fake_t;

static void *fake_main(void *ud) {
        fake_t *f = ud;
        int i;
        for (i = 0; i < f->nresp; i++) {
                char buf[8192];
                size_t len = 0;
                buf[0] = 0;
                int fd = accept(f->lfd, NULL, NULL);
                if (fd < 0)
                        return NULL;
                for (;;) { /* a GET: headers only */
                        struct pollfd p = {fd, POLLIN, 0};
                        ssize_t n;
                        if (poll(&p, 1, 5000) <= 0)
                                break;
                        n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
                        if (n <= 0)
                                break;
                        len += (size_t)n;
                        buf[len] = 0;
                        if (strstr(buf, "\r\n\r\n") || len >= sizeof(buf) - 1)
                                break;
                }
                memcpy(f->req[i], buf, len + 1);
                if (send(fd, f->resp[i], strlen(f->resp[i]), MSG_NOSIGNAL) <
                    0) {
                        close(fd);
                        return NULL;
                }
                close(fd);
        }
        return NULL;
}

static void fake_start(fake_t *f) {
        struct sockaddr_in a;
        socklen_t al = sizeof(a);
        int one = 1;
        f->lfd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(f->lfd >= 0);
        setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(f->lfd, 8), 0);
        assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
        f->port = ntohs(a.sin_port);
        assert_int_equal(pthread_create(&f->thr, NULL, fake_main, f), 0);
}

static void fake_stop(fake_t *f) {
        pthread_join(f->thr, NULL);
        close(f->lfd);
}

/* Starts f answering its connections with the n responses that follow. */
static void fake_serve(fake_t *f, int n, ...) {
        va_list ap;
        memset(f, 0, sizeof(*f));
        va_start(ap, n);
        for (int i = 0; i < n; i++)
                f->resp[i] = va_arg(ap, const char *);
        va_end(ap);
        f->nresp = n;
        fake_start(f);
}

/* The URL of path on f. */
static char *fake_url(const fake_t *f, const char *path, char *url, size_t n) {
        snprintf(url, n, "http://127.0.0.1:%d%s", f->port, path);
        return url;
}

/* GET url with o into res (initialised here; the caller frees it); wants
 * the result want. */
static void fetch(const pb_fetch_opts_t *o, const char *url,
                  pb_fetch_result_t *res, pb_resp_t want) {
        char err[256];
        pb_fetch_result_init(res, o->max_body);
        assert_int_equal(pb_fetch(o, url, NULL, NULL, res, err, sizeof(err)),
                         want);
}

static long now_ms(void) {
        return (long)pb_mono_ms();
}

/* fetch_retry: GET /feed from F with one retry, a first backoff of
 * BACKOFF ms and at most BACKOFF_MAX ms; wants PB_OK; how long it took in
 * *TOOK (ms). The caller frees RES. */
static void fetch_retry(const fake_t *f, long backoff, long backoff_max,
                        pb_fetch_result_t *res, long *took) {
        pb_fetch_opts_t o;
        char url[64];
        long t0;
        memset(&o, 0, sizeof(o));
        o.retries = 1;
        o.backoff_ms = backoff;
        o.backoff_max_ms = backoff_max;
        o.max_body = 1024;
        fake_url(f, "/feed", url, sizeof(url));
        t0 = now_ms();
        fetch(&o, url, res, PB_OK);
        *took = now_ms() - t0;
}

/* retried_after: F answers first, then a 200 with an empty array; GET
 * /feed with one retry after a backoff of backoff ms (at most backoff_max)
 * takes two attempts, at least at_least and less than below ms. */
static void retried_after(const char *first, long backoff, long backoff_max,
                          long at_least, long below) {
        fake_t f;
        pb_fetch_result_t res;
        long took;
        fake_serve(&f, 2, first,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   "Content-Length: 2\r\nConnection: close\r\n\r\n[]");
        fetch_retry(&f, backoff, backoff_max, &res, &took);
        assert_int_equal(res.status, 200);
        assert_int_equal(res.attempts, 2);
        assert_true(took >= at_least);
        assert_true(took < below);
        pb_fetch_result_free(&res);
        fake_stop(&f);
}

/* A Retry-After too large to turn into milliseconds must not wrap around
 * into "retry at once" (nor be undefined behaviour): the backoff holds
 * (at least the backoff, not 0, and not the peer's absurd delay). */
static void test_huge_retry_after_keeps_backoff(void **state) {
        (void)state;
        retried_after("HTTP/1.1 503 Service Unavailable\r\n"
                      "Retry-After: 9223372036854776\r\n"
                      "Content-Length: 0\r\nConnection: close\r\n\r\n",
                      300, 2000, 300, 1900);
}

/* A Retry-After within backoff_max is honoured (shorter than backoff). */
static void test_small_retry_after_honoured(void **state) {
        (void)state;
        retried_after("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n"
                      "Content-Length: 0\r\nConnection: close\r\n\r\n",
                      3000, 5000, 1000, 2900);
}

/* Fetches url with o (wants PB_OK): were the credentials withheld? */
static int creds_withheld(const pb_fetch_opts_t *o, const char *url) {
        pb_fetch_result_t res;
        int withheld;
        fetch(o, url, &res, PB_OK);
        withheld = res.creds_withheld;
        pb_fetch_result_free(&res);
        return withheld;
}

/* A next page on another origin (another port here) gets neither the
 * bearer token nor basic credentials, unless that origin is allowed. */
static void test_credentials_only_to_origin(void **state) {
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                 "Connection: close\r\n\r\n[]";
        fake_t a, b;
        pb_fetch_opts_t o;
        char ua[64], ub[64], allow[64];
        (void)state;
        fake_serve(&a, 1, ok);
        fake_serve(&b, 3, ok, ok, ok);
        fake_url(&a, "/feed", ua, sizeof(ua));
        fake_url(&b, "/page2", ub, sizeof(ub));
        snprintf(allow, sizeof(allow), "https://x.example, HTTP://127.0.0.1:%d",
                 b.port);
        memset(&o, 0, sizeof(o));
        o.max_body = 1024;
        o.bearer = "sekret-token";
        o.auth_origin = ua;
        /* the feed's own origin: the token goes */
        assert_int_equal(creds_withheld(&o, ua), 0);
        /* another origin: fetched, without the token */
        assert_int_equal(creds_withheld(&o, ub), 1);
        /* basic credentials likewise */
        o.bearer = NULL;
        o.userpwd = "user:pass";
        assert_int_equal(creds_withheld(&o, ub), 1);
        /* an allowed origin receives them */
        o.auth_allow = allow;
        assert_int_equal(creds_withheld(&o, ub), 0);
        fake_stop(&a);
        fake_stop(&b);
        assert_non_null(strstr(a.req[0], "Authorization: Bearer sekret-token"));
        assert_null(strstr(b.req[0], "Authorization"));
        assert_null(strstr(b.req[0], "sekret"));
        assert_null(strstr(b.req[1], "Authorization"));
        assert_non_null(strstr(b.req[2], "Authorization: Basic "));
}

static void test_same_origin(void **state) {
        (void)state;
        assert_true(pb_url_same_origin("http://Feed.example/a",
                                       "http://feed.example:80/b?c"));
        assert_true(pb_url_same_origin("https://feed.example/",
                                       "https://feed.example:443/x"));
        assert_false(pb_url_same_origin("https://feed.example/",
                                        "http://feed.example/"));
        assert_false(pb_url_same_origin("https://feed.example/",
                                        "https://feed.example:8443/"));
        assert_false(pb_url_same_origin("https://feed.example/",
                                        "https://feed.example.evil/"));
        assert_false(pb_url_same_origin("https://feed.example/",
                                        "https://evil@other.example/"));
        assert_false(
            pb_url_same_origin("ftp://feed.example/", "ftp://feed.example/"));
        assert_false(pb_url_same_origin("https://feed.example/", "not a url"));
        assert_false(pb_url_same_origin(NULL, "https://feed.example/"));
}

/* A spooled body (the poller's way: a temporary file, mapped) is the
 * body, NUL after its end; a retried attempt starts the file afresh, so
 * nothing of a cut-off first answer stays in it; the pages given back with
 * pb_fetch_release read the same afterwards (from the file). */
static void test_spooled_body(void **state) {
        fake_t f;
        pb_fetch_opts_t o;
        pb_fetch_result_t res;
        char url[64], *ok, *body;
        size_t i, n = 3 * 4096 + 123, head;
        (void)state;
        body = malloc(n + 1);
        ok = malloc(n + 256);
        assert_non_null(body);
        assert_non_null(ok);
        for (i = 0; i < n; i++)
                body[i] = (char)('a' + i % 26);
        body[n] = 0;
        head = (size_t)snprintf(ok, 256,
                                "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n"
                                "Content-Length: %zu\r\nConnection: "
                                "close\r\n\r\n",
                                n);
        memcpy(ok + head, body, n + 1);
        /* announces 100 bytes, sends 10: a transport error, retried */
        fake_serve(&f, 2,
                   "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                   "Connection: close\r\n\r\nXXXXXXXXXX",
                   ok);
        memset(&o, 0, sizeof(o));
        o.retries = 1;
        o.backoff_ms = 10;
        o.max_body = 1 << 20;
        o.spool = 1;
        fetch(&o, fake_url(&f, "/feed", url, sizeof(url)), &res, PB_OK);
        assert_int_equal(res.attempts, 2);
        assert_true(res.fd >= 0);
        assert_non_null(res.map);
        assert_int_equal(res.body.len, 0); /* nothing in memory */
        assert_int_equal(res.len, n);
        assert_memory_equal(res.data, body, n);
        assert_int_equal(res.data[n], 0);
        pb_fetch_release(&res, res.data + 2 * 4096 + 5);
        assert_int_equal(res.released, 2 * 4096);
        pb_fetch_release(&res, res.data + 10); /* behind: nothing */
        pb_fetch_release(&res, body);          /* not in it: nothing */
        assert_int_equal(res.released, 2 * 4096);
        assert_memory_equal(res.data, body, n);
        pb_fetch_result_free(&res);
        assert_int_equal(res.fd, -1);
        fake_stop(&f);
        free(ok);
        free(body);
}

/* A spooled body is bounded like one in memory, also without a
 * Content-Length. */
static void test_spooled_body_bounded(void **state) {
        fake_t f;
        pb_fetch_opts_t o;
        pb_fetch_result_t res;
        char url[64];
        (void)state;
        fake_serve(&f, 1,
                   "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                   "0123456789012345678901234567890123456789");
        memset(&o, 0, sizeof(o));
        o.max_body = 16;
        o.spool = 1;
        fetch(&o, fake_url(&f, "/feed", url, sizeof(url)), &res, PB_ERR_LIMIT);
        assert_true(res.spooled <= 16);
        pb_fetch_result_free(&res);
        fake_stop(&f);
}

PB_TEST_MAIN(cmocka_unit_test(test_spooled_body),
             cmocka_unit_test(test_spooled_body_bounded),
             cmocka_unit_test(test_huge_retry_after_keeps_backoff),
             cmocka_unit_test(test_small_retry_after_honoured),
             cmocka_unit_test(test_credentials_only_to_origin),
             cmocka_unit_test(test_same_origin))
