/* Unit tests: Prometheus registry and the ops endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pb_test.h"
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "partnerbus/pb_metrics.h"

static const char *render(pb_metrics_t *m, pb_buf_t *b) {
        pb_buf_reset(b);
        assert_int_equal(pb_metrics_render(m, b), PB_OK);
        return (const char *)b->data;
}

static void test_counter_labels_escaped(void **state) {
        pb_metrics_t *m = pb_metrics_new();
        pb_buf_t b;
        const char *l1[] = {"org", "köln \"x\"\\", "status", "200", NULL};
        pb_buf_init(&b, 0);
        pb_metrics_declare(m, "pb_requests_total", "counter", "Requests.", NULL,
                           0);
        pb_metrics_add(m, "pb_requests_total", l1, 1);
        pb_metrics_add(m, "pb_requests_total", l1, 2);
        assert_true(pb_metrics_get(m, "pb_requests_total", l1) == 3);
        assert_non_null(strstr(render(m, &b),
                               "# TYPE pb_requests_total counter\n"
                               "pb_requests_total{org=\"köln \\\"x\\\"\\\\\","
                               "status=\"200\"} 3\n"));
        pb_buf_free(&b);
        pb_metrics_destroy(m);
}

static void test_histogram_cumulative(void **state) {
        pb_metrics_t *m = pb_metrics_new();
        pb_buf_t b;
        const double buckets[] = {0.01, 0.1, 1};
        pb_buf_init(&b, 0);
        pb_metrics_declare(m, "lat", "histogram", "Latency.", buckets, 3);
        pb_metrics_observe(m, "lat", NULL, 0.005);
        pb_metrics_observe(m, "lat", NULL, 0.05);
        pb_metrics_observe(m, "lat", NULL, 0.05);
        pb_metrics_observe(m, "lat", NULL, 5);
        render(m, &b);
        assert_non_null(strstr((char *)b.data, "lat_bucket{le=\"0.01\"} 1\n"));
        assert_non_null(strstr((char *)b.data, "lat_bucket{le=\"0.1\"} 3\n"));
        assert_non_null(strstr((char *)b.data, "lat_bucket{le=\"1\"} 3\n"));
        assert_non_null(strstr((char *)b.data, "lat_bucket{le=\"+Inf\"} 4\n"));
        assert_non_null(strstr((char *)b.data, "lat_count 4\n"));
        assert_non_null(strstr((char *)b.data, "lat_sum 5.105"));
        pb_buf_free(&b);
        pb_metrics_destroy(m);
}

static void test_series_bounded(void **state) {
        pb_metrics_t *m = pb_metrics_new();
        pb_buf_t b;
        char v[32];
        int i;
        pb_buf_init(&b, 0);
        for (i = 0; i < PB_METRICS_MAX_SERIES + 100; i++) {
                const char *l[] = {"id", v, NULL};
                snprintf(v, sizeof(v), "%d", i);
                pb_metrics_add(m, "c", l, 1);
        }
        assert_non_null(strstr(
            render(m, &b), "partnerbus_metrics_dropped_series_total 100\n"));
        pb_buf_free(&b);
        pb_metrics_destroy(m);
}

static int ready_flag;
static int ready_cb(void *opaque, char *reason, size_t size) {
        snprintf(reason, size, "kafka unreachable");
        return ready_flag;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud) {
        pb_buf_append(ud, p, sz * n);
        return sz * n;
}

static long get(int port, const char *path, pb_buf_t *body) {
        CURL *c = curl_easy_init();
        char url[128];
        long code = 0;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
        pb_buf_reset(body);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        return code;
}

static void test_ops_server(void **state) {
        pb_metrics_t *m = pb_metrics_new();
        char err[256];
        pb_buf_t b;
        pb_ops_server_t *s;
        pb_buf_init(&b, 0);
        pb_metrics_add(m, "pb_up", NULL, 1);
        s = pb_ops_server_new("127.0.0.1:0", m, ready_cb, NULL, err,
                              sizeof(err));
        assert_non_null(s);
        assert_true(pb_ops_server_port(s) > 0);
        assert_int_equal(get(pb_ops_server_port(s), "/healthz", &b), 200);
        ready_flag = 0;
        assert_int_equal(get(pb_ops_server_port(s), "/readyz", &b), 503);
        assert_non_null(strstr((char *)b.data, "kafka unreachable"));
        ready_flag = 1;
        assert_int_equal(get(pb_ops_server_port(s), "/readyz", &b), 200);
        assert_int_equal(get(pb_ops_server_port(s), "/metrics", &b), 200);
        assert_non_null(strstr((char *)b.data, "pb_up 1\n"));
        assert_int_equal(get(pb_ops_server_port(s), "/nope", &b), 404);
        pb_ops_server_destroy(s);
        pb_buf_free(&b);
        pb_metrics_destroy(m);
}

static void test_parse_listen(void **state) {
        struct sockaddr_storage ss;
        unsigned len;
        char err[128];
        assert_int_equal(
            pb_parse_listen("127.0.0.1:8080", &ss, &len, err, sizeof(err)), 0);
        assert_int_equal(pb_parse_listen(":9090", &ss, &len, err, sizeof(err)),
                         0);
        assert_int_equal(
            pb_parse_listen("[::1]:9090", &ss, &len, err, sizeof(err)), 0);
        assert_int_equal(
            pb_parse_listen("localhost:1", &ss, &len, err, sizeof(err)), 0);
        assert_int_equal(pb_parse_listen("9090", &ss, &len, err, sizeof(err)),
                         -1);
        assert_int_equal(
            pb_parse_listen("1.2.3.4:99999", &ss, &len, err, sizeof(err)), -1);
        assert_int_equal(
            pb_parse_listen("example.org:80", &ss, &len, err, sizeof(err)), -1);
        assert_int_equal(
            pb_parse_listen("[::1:80", &ss, &len, err, sizeof(err)), -1);
}

PB_TEST_MAIN(cmocka_unit_test(test_counter_labels_escaped),
             cmocka_unit_test(test_histogram_cumulative),
             cmocka_unit_test(test_series_bounded),
             cmocka_unit_test(test_ops_server),
             cmocka_unit_test(test_parse_listen))
