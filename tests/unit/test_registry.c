/* Unit tests for pb_registry.c, the Confluent Schema Registry client.
 *
 * A small fake HTTP server runs in a thread on an ephemeral loopback port
 * and answers each request with the response the test set up (status,
 * body, or misbehaviour: stall, oversized body, close without answer). It
 * records every request so the tests can check what the client sent. The
 * real-registry test is tests/integration/registry_e2e.sh. */
#include <arpa/inet.h>
#include <errno.h>
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

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "partnerbus/pb_serde.h"
#include "pb_test.h"
#include "registry_fixture.h"

/* --- fake server --- */

typedef enum fake_mode {
        FAKE_ANSWER,     /* status + body with Content-Length */
        FAKE_HUGE_CL,    /* 200, 5 MiB body with Content-Length */
        FAKE_HUGE_CLOSE, /* 200, 5 MiB body, no length, ends by close */
        FAKE_STALL,      /* no answer until the client gives up (max 5 s) */
        FAKE_CLOSE,      /* closes without answering */
} fake_mode_t;

typedef struct fake {
        int lfd;
        int port;
        pthread_t thr;
        pthread_mutex_t lock;
        volatile int stop;
        /* response, set by the test */
        fake_mode_t mode;
        int status;
        char body[8192];
        /* last request, recorded by the server */
        int nreq;
        char method[16];
        char path[1024];
        char headers[8192];
        char reqbody[65536];
} fake_t;

static fake_t F;

static void send_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w <= 0)
                        return;
                p += w;
                n -= (size_t)w;
        }
}

static void send_huge(int fd, int with_length) {
        static char chunk[65536];
        const size_t total = 5u << 20;
        char hdr[256];
        size_t sent = 0;
        memset(chunk, ' ', sizeof(chunk));
        chunk[0] = '{';
        if (with_length)
                snprintf(hdr, sizeof(hdr),
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json"
                         "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                         total);
        else
                snprintf(hdr, sizeof(hdr),
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json"
                         "\r\nConnection: close\r\n\r\n");
        send_all(fd, hdr, strlen(hdr));
        while (sent < total) {
                ssize_t w = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
                if (w <= 0)
                        return; /* the client hung up, as it should */
                sent += (size_t)w;
                chunk[0] = ' ';
        }
}

/* Reads one request (headers + Content-Length body) and records it. */
static int read_request(int fd) {
        static char buf[65536 + 8192];
        size_t len = 0, need = 0;
        char *eoh = NULL;
        for (;;) {
                struct pollfd p = {fd, POLLIN, 0};
                ssize_t n;
                if (poll(&p, 1, 5000) <= 0)
                        return -1;
                n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
                if (n <= 0)
                        return -1;
                len += (size_t)n;
                buf[len] = 0;
                if (!eoh && (eoh = strstr(buf, "\r\n\r\n"))) {
                        const char *cl = strcasestr(buf, "\r\ncontent-length:");
                        need = (size_t)(eoh + 4 - buf);
                        if (cl && cl < eoh)
                                need += (size_t)strtoul(cl + 17, NULL, 10);
                }
                if (eoh && len >= need)
                        break;
                if (len >= sizeof(buf) - 1)
                        return -1;
        }
        pthread_mutex_lock(&F.lock);
        F.nreq++;
        sscanf(buf, "%15s %1023s", F.method, F.path);
        snprintf(F.headers, sizeof(F.headers), "%.*s", (int)(eoh - buf), buf);
        snprintf(F.reqbody, sizeof(F.reqbody), "%s", eoh + 4);
        pthread_mutex_unlock(&F.lock);
        return 0;
}

static void *fake_main(void *arg) {
        (void)arg;
        while (!F.stop) {
                struct pollfd p = {F.lfd, POLLIN, 0};
                int fd;
                if (poll(&p, 1, 50) <= 0)
                        continue;
                fd = accept(F.lfd, NULL, NULL);
                if (fd < 0)
                        continue;
                if (read_request(fd) == 0) {
                        fake_mode_t mode;
                        char resp[9000];
                        pthread_mutex_lock(&F.lock);
                        mode = F.mode;
                        snprintf(resp, sizeof(resp),
                                 "HTTP/1.1 %d X\r\nContent-Type: "
                                 "application/vnd.schemaregistry.v1+json\r\n"
                                 "Content-Length: %zu\r\nConnection: close"
                                 "\r\n\r\n%s",
                                 F.status, strlen(F.body), F.body);
                        pthread_mutex_unlock(&F.lock);
                        if (mode == FAKE_ANSWER) {
                                send_all(fd, resp, strlen(resp));
                        } else if (mode == FAKE_HUGE_CL ||
                                   mode == FAKE_HUGE_CLOSE) {
                                send_huge(fd, mode == FAKE_HUGE_CL);
                        } else if (mode == FAKE_STALL) {
                                /* wait for the client to hang up */
                                struct pollfd q = {fd, POLLIN, 0};
                                char c;
                                if (poll(&q, 1, 5000) > 0)
                                        (void)recv(fd, &c, 1, 0);
                        }
                }
                close(fd);
        }
        return NULL;
}

static int fake_start(void **state) {
        struct sockaddr_in a;
        socklen_t al = sizeof(a);
        int one = 1;
        (void)state;
        memset(&F, 0, sizeof(F));
        pthread_mutex_init(&F.lock, NULL);
        F.lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (F.lfd < 0)
                return -1;
        setsockopt(F.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(F.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
            listen(F.lfd, 16) != 0 ||
            getsockname(F.lfd, (struct sockaddr *)&a, &al) != 0)
                return -1;
        F.port = ntohs(a.sin_port);
        return pthread_create(&F.thr, NULL, fake_main, NULL) == 0 ? 0 : -1;
}

static int fake_stop(void **state) {
        (void)state;
        F.stop = 1;
        pthread_join(F.thr, NULL);
        close(F.lfd);
        pthread_mutex_destroy(&F.lock);
        return 0;
}

static void fake_answer(int status, const char *body) {
        pthread_mutex_lock(&F.lock);
        F.mode = FAKE_ANSWER;
        F.status = status;
        snprintf(F.body, sizeof(F.body), "%s", body);
        pthread_mutex_unlock(&F.lock);
}

static void fake_mode(fake_mode_t m) {
        pthread_mutex_lock(&F.lock);
        F.mode = m;
        pthread_mutex_unlock(&F.lock);
}

static int fake_nreq(void) {
        int n;
        pthread_mutex_lock(&F.lock);
        n = F.nreq;
        pthread_mutex_unlock(&F.lock);
        return n;
}

/* --- helpers --- */

static const char *SCHEMA_V1 =
    "{\"type\":\"record\",\"name\":\"Probe\",\"namespace\":\"pb.test\","
    "\"partnerbus.type\":\"probe.sent\",\"partnerbus.key\":\"id\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"n\",\"type\":\"int\"}]}";

/* http://<userinfo>127.0.0.1:<fake port><path> */
static pb_registry_t *new_registry(const char *userinfo, const char *path) {
        char url[256], err[256] = "";
        pb_registry_t *r;
        snprintf(url, sizeof(url), "http://%s127.0.0.1:%d%s", userinfo, F.port,
                 path);
        r = pb_registry_new(url, err, sizeof(err));
        if (!r)
                fail_msg("pb_registry_new(%s): %s", url, err);
        pb_registry_set_timeouts(r, 2000, 5000);
        return r;
}

static pb_schema_t *compile(const char *json) {
        char err[256] = "";
        pb_schema_t *s = pb_schema_new(json, strlen(json), err, sizeof(err));
        if (!s)
                fail_msg("pb_schema_new: %s", err);
        return s;
}

/* Answers the next requests with 200 and {"schema": SCHEMA_V1}, plus
 * "schemaType": type unless type is NULL. */
static void fake_answer_schema(const char *type) {
        cJSON *j = cJSON_CreateObject();
        char *p;
        cJSON_AddStringToObject(j, "schema", SCHEMA_V1);
        if (type)
                cJSON_AddStringToObject(j, "schemaType", type);
        p = cJSON_PrintUnformatted(j);
        fake_answer(200, p);
        free(p);
        cJSON_Delete(j);
}

/* A client on the fake server, SCHEMA_V1 compiled, and what
 * pb_registry_register and pb_registry_lookup return through it. */
typedef struct client {
        pb_registry_t *r;
        pb_schema_t *s;
        uint32_t id;
        const pb_schema_t *got;
        char err[512];
} client_t;

static void client_open(client_t *c, const char *userinfo, const char *path) {
        memset(c, 0, sizeof(*c));
        c->r = new_registry(userinfo, path);
        c->s = compile(SCHEMA_V1);
}

static void client_close(client_t *c) {
        pb_schema_destroy(c->s);
        pb_registry_destroy(c->r);
}

static pb_resp_t client_register(client_t *c, const char *subject) {
        return pb_registry_register(c->r, subject, c->s, &c->id, c->err,
                                    sizeof(c->err));
}

static pb_resp_t client_lookup(client_t *c, uint32_t id) {
        return pb_registry_lookup(c->r, id, &c->got, c->err, sizeof(c->err));
}

/* c's last error names each of the fragments frags (NULL-terminated). */
static void err_has(const client_t *c, const char *const *frags) {
        for (; *frags; frags++)
                if (!strstr(c->err, *frags))
                        fail_msg("error \"%s\" does not name \"%s\"", c->err,
                                 *frags);
}

/* client_open, the fake server then answering status with body. */
static void client_answered(client_t *c, const char *userinfo, const char *path,
                            int status, const char *body) {
        client_open(c, userinfo, path);
        fake_answer(status, body);
}

/* Registering subject gives id, and the fake server has seen nreq requests
 * in all. */
static void registered(client_t *c, const char *subject, uint32_t id,
                       int nreq) {
        assert_int_equal(client_register(c, subject), PB_OK);
        assert_int_equal(c->id, id);
        assert_int_equal(fake_nreq(), nreq);
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- tests --- */

static void test_new_rejects_bad_urls(void **state) {
        const char *bad[] = {"", "not a url", "ftp://127.0.0.1/",
                             "file:///etc/passwd", "127.0.0.1:8081"};
        char err[256];
        size_t i;
        (void)state;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = 0;
                assert_null(pb_registry_new(bad[i], err, sizeof(err)));
                assert_true(strlen(err) > 0);
        }
        err[0] = 0;
        assert_null(pb_registry_new(NULL, err, sizeof(err)));
        assert_true(strlen(err) > 0);
        pb_registry_destroy(NULL);
}

static void test_url_normalised_and_credentials_hidden(void **state) {
        pb_registry_t *r;
        char want[128];
        (void)state;
        r = new_registry("alice:s3cret@", "/apis/ccompat/v7///");
        snprintf(want, sizeof(want), "http://127.0.0.1:%d/apis/ccompat/v7",
                 F.port);
        assert_string_equal(pb_registry_url(r), want);
        pb_registry_destroy(r);
}

static void test_register_request_and_cache(void **state) {
        client_t c;
        int n0;
        cJSON *j, *js;
        (void)state;
        client_open(&c, "", "/");

        fake_answer(200, "{\"id\": 7}");
        n0 = fake_nreq();
        registered(&c, "probe.sent-value", 7, n0 + 1);
        assert_string_equal(F.method, "POST");
        assert_string_equal(F.path, "/subjects/probe.sent-value/versions");
        assert_non_null(strcasestr(
            F.headers,
            "\r\nContent-Type: application/vnd.schemaregistry.v1+json"));
        assert_null(strcasestr(F.headers, "\r\nAuthorization:"));
        /* body: {"schema": "<the schema as loaded>"} and nothing else */
        j = cJSON_Parse(F.reqbody);
        assert_non_null(j);
        js = cJSON_GetObjectItemCaseSensitive(j, "schema");
        assert_true(cJSON_IsString(js));
        assert_string_equal(js->valuestring, pb_schema_json(c.s));
        assert_int_equal(cJSON_GetArraySize(j), 1);
        cJSON_Delete(j);

        /* cached per (subject, fingerprint): no second request, even if
         * the server would now answer differently */
        fake_answer(200, "{\"id\": 99}");
        c.id = 0;
        registered(&c, "probe.sent-value", 7, n0 + 1);
        /* another subject is another request */
        registered(&c, "other-value", 99, n0 + 2);
        client_close(&c);
}

static void test_subject_is_escaped(void **state) {
        client_t c;
        (void)state;
        client_answered(&c, "", "/base", 200, "{\"id\": 1}");
        assert_int_equal(client_register(&c, "a b/c?d"), PB_OK);
        assert_string_equal(F.path, "/base/subjects/a%20b%2Fc%3Fd/versions");
        client_close(&c);
}

static void test_basic_auth_from_url_never_in_errors(void **state) {
        client_t c;
        (void)state;
        client_answered(&c, "alice:s3cret@", "", 401,
                        "{\"error_code\":401,\"message\":\"Unauthorized\"}");
        assert_int_equal(client_register(&c, "x-value"), PB_ERR_HTTP);
        assert_non_null(
            strstr(F.headers, "\r\nAuthorization: Basic YWxpY2U6czNjcmV0"));
        err_has(&c, (const char *[]){"HTTP 401", "Unauthorized", NULL});
        assert_null(strstr(c.err, "s3cret"));
        assert_null(strstr(c.err, "alice"));
        /* a transport error does not show them either */
        fake_mode(FAKE_CLOSE);
        c.err[0] = 0;
        assert_int_equal(client_lookup(&c, 5), PB_ERR_HTTP);
        assert_true(strlen(c.err) > 0);
        assert_null(strstr(c.err, "s3cret"));
        assert_null(strstr(c.err, "alice"));
        client_close(&c);
}

static void test_basic_auth_from_env(void **state) {
        client_t c;
        char err[512] = "";
        (void)state;
        setenv("PARTNERBUS_SCHEMA_REGISTRY_AUTH", "bob:p@ss:word", 1);
        client_open(&c, "", "");
        unsetenv("PARTNERBUS_SCHEMA_REGISTRY_AUTH");
        fake_answer(404, "{\"error_code\":40403,\"message\":\"Schema not "
                         "found\"}");
        assert_int_equal(client_lookup(&c, 1), PB_ERR_UNKNOWN_SCHEMA);
        assert_non_null(
            strstr(F.headers, "\r\nAuthorization: Basic Ym9iOnBAc3M6d29yZA=="));
        assert_null(strstr(c.err, "p@ss"));
        client_close(&c);
        /* malformed value is refused */
        setenv("PARTNERBUS_SCHEMA_REGISTRY_AUTH", "nocolon", 1);
        assert_null(pb_registry_new("http://127.0.0.1:1", err, sizeof(err)));
        assert_non_null(strstr(err, "user:password"));
        assert_null(strstr(err, "nocolon"));
        unsetenv("PARTNERBUS_SCHEMA_REGISTRY_AUTH");
}

static void test_register_conflict_error_body(void **state) {
        client_t c;
        int n0;
        (void)state;
        client_answered(&c, "", "", 409,
                        "{\"error_code\":409,\"message\":\"Schema being "
                        "registered is incompatible with an earlier "
                        "schema\"}");
        n0 = fake_nreq();
        assert_int_equal(client_register(&c, "c-value"), PB_ERR_HTTP);
        err_has(&c, (const char *[]){"HTTP 409", "error_code 409",
                                     "incompatible with an earlier schema",
                                     "c-value", NULL});
        /* failures are not cached */
        fake_answer(200, "{\"id\": 3}");
        registered(&c, "c-value", 3, n0 + 2);
        client_close(&c);
}

static void test_lookup_compiles_and_caches(void **state) {
        client_t c;
        const pb_schema_t *got;
        int n0;
        (void)state;
        client_open(&c, "", "");
        fake_answer_schema(NULL);
        n0 = fake_nreq();
        assert_int_equal(client_lookup(&c, 42), PB_OK);
        got = c.got;
        assert_non_null(got);
        assert_string_equal(F.method, "GET");
        assert_string_equal(F.path, "/schemas/ids/42");
        assert_true(pb_schema_fingerprint(got) == pb_schema_fingerprint(c.s));
        assert_string_equal(pb_schema_type(got), "probe.sent");
        /* cached: same pointer, no request */
        fake_answer(500, "boom");
        assert_int_equal(client_lookup(&c, 42), PB_OK);
        assert_ptr_equal(got, c.got);
        assert_int_equal(fake_nreq(), n0 + 1);
        client_close(&c);
}

static void test_lookup_not_found_then_found(void **state) {
        client_t c;
        (void)state;
        client_answered(
            &c, "", "", 404,
            "{\"error_code\":40403,\"message\":\"Schema not found\"}");
        assert_int_equal(client_lookup(&c, 9), PB_ERR_UNKNOWN_SCHEMA);
        err_has(&c, (const char *[]){"HTTP 404", "40403", "Schema not found",
                                     "schema id 9", NULL});
        /* a 404 with another code (e.g. wrong base path) is an HTTP error */
        fake_answer(404, "{\"error_code\":404,\"message\":\"HTTP 404 Not "
                         "Found\"}");
        assert_int_equal(client_lookup(&c, 9), PB_ERR_HTTP);
        /* the miss was not cached */
        fake_answer_schema("AVRO");
        assert_int_equal(client_lookup(&c, 9), PB_OK);
        assert_non_null(c.got);
        client_close(&c);
}

static void test_server_error_without_body(void **state) {
        client_t c;
        (void)state;
        client_answered(&c, "", "", 500,
                        "<html><body>Internal Server Error</body></html>");
        assert_int_equal(client_lookup(&c, 1), PB_ERR_HTTP);
        err_has(&c, (const char *[]){"HTTP 500", "no error body", NULL});
        assert_null(c.got);
        client_close(&c);
}

static void test_error_message_sanitised(void **state) {
        client_t c;
        size_t i;
        (void)state;
        client_answered(&c, "", "", 422,
                        "{\"error_code\":42201,\"message\":\"bad\\u0007\\n"
                        "\\u001b[31mred\"}");
        assert_int_equal(client_lookup(&c, 1), PB_ERR_HTTP);
        assert_non_null(strstr(c.err, "bad???[31mred"));
        for (i = 0; c.err[i]; i++)
                assert_true((unsigned char)c.err[i] >= 0x20);
        client_close(&c);
}

static void test_garbage_responses(void **state) {
        static const struct {
                const char *body;
                int lookup; /* 1: lookup, 0: register */
                pb_resp_t want;
        } cases[] = {
            {"this is not json", 0, PB_ERR_PARSE},
            {"", 0, PB_ERR_PARSE},
            {"[1,2]", 0, PB_ERR_PARSE},
            {"{\"id\":\"7\"}", 0, PB_ERR_PARSE},
            {"{\"id\":-1}", 0, PB_ERR_PARSE},
            {"{\"id\":1.5}", 0, PB_ERR_PARSE},
            {"{\"id\":4294967296}", 0, PB_ERR_PARSE},
            {"{\"idx\":1}", 0, PB_ERR_PARSE},
            {"{\"id\":1", 0, PB_ERR_PARSE},
            {"{\"schema\":5}", 1, PB_ERR_PARSE},
            {"{}", 1, PB_ERR_PARSE},
            {"{\"schema\":\"{\\\"type\\\":\\\"nonsense\\\"}\"}", 1,
             PB_ERR_INVALID},
            {"{\"schema\":\"not json at all\"}", 1, PB_ERR_INVALID},
            {"{\"schema\":\"syntax = \\\"proto3\\\";\",\"schemaType\":"
             "\"PROTOBUF\"}",
             1, PB_ERR_INVALID},
        };
        client_t c;
        size_t i;
        (void)state;
        client_open(&c, "", "");
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                pb_resp_t rc;
                char subject[32];
                c.err[0] = 0;
                fake_answer(200, cases[i].body);
                if (cases[i].lookup) {
                        rc = client_lookup(&c, (uint32_t)(100 + i));
                } else {
                        snprintf(subject, sizeof(subject), "g%zu-value", i);
                        rc = client_register(&c, subject);
                }
                if (rc != cases[i].want)
                        fail_msg("case %zu (%s): got %d (%s), want %d", i,
                                 cases[i].body, rc, c.err, cases[i].want);
                assert_true(strlen(c.err) > 0);
        }
        client_close(&c);
}

static void test_oversized_body(void **state) {
        client_t c;
        (void)state;
        client_open(&c, "", "");
        fake_mode(FAKE_HUGE_CL);
        assert_int_equal(client_lookup(&c, 1), PB_ERR_LIMIT);
        assert_non_null(strstr(c.err, "larger than"));
        fake_mode(FAKE_HUGE_CLOSE);
        c.err[0] = 0;
        assert_int_equal(client_lookup(&c, 1), PB_ERR_LIMIT);
        assert_non_null(strstr(c.err, "larger than"));
        /* the client is still usable afterwards */
        fake_answer(404,
                    "{\"error_code\":40403,\"message\":\"Schema not found\"}");
        assert_int_equal(client_lookup(&c, 1), PB_ERR_UNKNOWN_SCHEMA);
        client_close(&c);
}

static void test_timeout(void **state) {
        client_t c;
        double t0;
        (void)state;
        client_open(&c, "", "");
        pb_registry_set_timeouts(c.r, 1000, 300);
        fake_mode(FAKE_STALL);
        t0 = now_s();
        assert_int_equal(client_lookup(&c, 1), PB_ERR_HTTP);
        assert_true(now_s() - t0 < 3.0);
        assert_non_null(strstr(c.err, "timed out"));
        client_close(&c);
}

static void test_connection_refused(void **state) {
        char url[64];
        int fd, port;
        struct sockaddr_in a;
        socklen_t al = sizeof(a);
        (void)state;
        /* a port that was free a moment ago and has no listener */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
        port = ntohs(a.sin_port);
        close(fd);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
        registry_lookup_fails(url, "127.0.0.1");
}

/* Two threads share one registry: the cache and the curl handle are
 * guarded by its mutex. */
typedef struct thr_arg {
        pb_registry_t *r;
        int ok;
} thr_arg_t;

static void *lookup_thread(void *p) {
        thr_arg_t *a = p;
        int i;
        for (i = 0; i < 20; i++) {
                const pb_schema_t *got = NULL;
                char err[256];
                if (pb_registry_lookup(a->r, (uint32_t)(500 + i % 5), &got, err,
                                       sizeof(err)) == PB_OK &&
                    got && strcmp(pb_schema_type(got), "probe.sent") == 0)
                        a->ok++;
        }
        return NULL;
}

static void test_shared_between_threads(void **state) {
        pb_registry_t *r = new_registry("", "");
        pthread_t t1, t2;
        thr_arg_t a1, a2;
        int n0;
        (void)state;
        fake_answer_schema(NULL);
        n0 = fake_nreq();
        a1.r = a2.r = r;
        a1.ok = a2.ok = 0;
        pthread_create(&t1, NULL, lookup_thread, &a1);
        pthread_create(&t2, NULL, lookup_thread, &a2);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        assert_int_equal(a1.ok, 20);
        assert_int_equal(a2.ok, 20);
        /* five distinct ids, each fetched once */
        assert_int_equal(fake_nreq(), n0 + 5);
        pb_registry_destroy(r);
}

PB_TEST_MAIN_WITH(fake_start, fake_stop,
                  cmocka_unit_test(test_new_rejects_bad_urls),
                  cmocka_unit_test(test_url_normalised_and_credentials_hidden),
                  cmocka_unit_test(test_register_request_and_cache),
                  cmocka_unit_test(test_subject_is_escaped),
                  cmocka_unit_test(test_basic_auth_from_url_never_in_errors),
                  cmocka_unit_test(test_basic_auth_from_env),
                  cmocka_unit_test(test_register_conflict_error_body),
                  cmocka_unit_test(test_lookup_compiles_and_caches),
                  cmocka_unit_test(test_lookup_not_found_then_found),
                  cmocka_unit_test(test_server_error_without_body),
                  cmocka_unit_test(test_error_message_sanitised),
                  cmocka_unit_test(test_garbage_responses),
                  cmocka_unit_test(test_oversized_body),
                  cmocka_unit_test(test_timeout),
                  cmocka_unit_test(test_connection_refused),
                  cmocka_unit_test(test_shared_between_threads))
