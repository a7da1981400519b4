/* Unit tests: option maps - the one value grammar (durations, sizes,
 * booleans), typed stores, JSON settings with JSON Pointer errors (the
 * sinks' tables), composed tables and the generated Markdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pb_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_optmap.h"
#include "pb_connector.h"
#include "pb_opts.h"

enum grammar { D, S, B };

/* {grammar, text, value wanted: milliseconds, bytes, 1 or 0; -1 rejected} */
static const struct {
        enum grammar g;
        const char *text;
        long long want;
} grammar_cases[] = {
    /* accepted */
    /* a bare number: seconds */
    {D, "30", 30000},
    {D, "30s", 30000},
    {D, "250ms", 250},
    {D, "1.5s", 1500},
    {D, "5m", 300000},
    {D, "24h", 86400000},
    {D, "7d", 604800000},
    {D, "0", 0},
    /* a bare number: bytes */
    {S, "512", 512},
    {S, "512B", 512},
    {S, "64KiB", 65536},
    {S, "64K", 65536},
    {S, "1MiB", 1048576},
    {S, "1MB", 1048576},
    {S, "2GiB", 2147483648LL},
    {B, "true", 1},
    {B, "YES", 1},
    {B, "on", 1},
    {B, "1", 1},
    {B, "off", 0},
    {B, "0", 0},
    /* rejected */
    {B, "maybe", -1},
    {B, NULL, -1},
    {D, "", -1},
    {D, "-1s", -1},
    {D, "10x", -1},
    {D, "s", -1},
    {D, "nan", -1},
    {D, "1e30d", -1},
    {S, "-1", -1},
    {S, "1TiB", -1},
    {S, " 1", -1},
    {S, "", -1},
    {S, "99999999999999999999", -1},
};

static void check_grammar(enum grammar g) {
        size_t i;
        for (i = 0; i < sizeof(grammar_cases) / sizeof(grammar_cases[0]); i++) {
                const char *t = grammar_cases[i].text;
                long long want = grammar_cases[i].want;
                if (grammar_cases[i].g != g)
                        continue;
                if (g == D)
                        assert_int_equal(pb_optmap_parse_duration(t), want);
                else if (g == S)
                        assert_true(pb_optmap_parse_size(t) == (size_t)want);
                else
                        assert_int_equal(pb_optmap_parse_bool(t), want);
        }
}

static void test_duration_grammar(void **state) {
        (void)state;
        check_grammar(D);
}

static void test_size_grammar(void **state) {
        (void)state;
        check_grammar(S);
}

static void test_bool_grammar(void **state) {
        (void)state;
        check_grammar(B);
}

typedef struct conf {
        const char *url;
        long n;
        int on;
        int64_t wait;
        size_t max;
        pb_strlist_t tags;
        const char *key;
} conf_t;

#define O(f) offsetof(conf_t, f)
static const pb_opt_t conf_opts[] = {
    {"url", 0, PB_OPT_STRING, NULL, "URL", "where", PB_OPT_REQUIRED, O(url)},
    {"n", 0, PB_OPT_INT, "3", "N", "count", 0, O(n)},
    {"on", 0, PB_OPT_BOOL, "false", NULL, "switch | pipe", 0, O(on)},
    {"wait", 0, PB_OPT_DURATION, "10s", "DURATION", "wait", 0, O(wait)},
    {"max", 0, PB_OPT_SIZE, "1MiB", "SIZE", "max", 0, O(max)},
    {"tags", 0, PB_OPT_LIST, NULL, "T", "tags", 0, O(tags)},
    {"key", 0, PB_OPT_STRING, NULL, "K", "key", PB_OPT_SECRET, O(key)},
};
#undef O
#define NCONF (sizeof(conf_opts) / sizeof(conf_opts[0]))

static void test_store_and_defaults(void **state) {
        conf_t c;
        char err[256], out[256];
        (void)state;
        memset(&c, 0, sizeof(c));
        assert_int_equal(
            pb_optmap_defaults(conf_opts, NCONF, &c, err, sizeof(err)), 0);
        assert_int_equal(c.n, 3);
        assert_int_equal(c.wait, 10000);
        assert_int_equal(c.max, 1048576);
        assert_int_equal(
            pb_optmap_store(&conf_opts[3], &c, "2", 0, err, sizeof(err)), 0);
        assert_int_equal(c.wait, 2000); /* same grammar as every flag */
        assert_int_equal(
            pb_optmap_store(&conf_opts[2], &c, "maybe", 0, err, sizeof(err)),
            -1);
        assert_string_equal(err, "--on: 'maybe' is not a boolean (true/false)");
        assert_int_equal(c.on, 0); /* unchanged */
        assert_int_equal(
            pb_optmap_store(&conf_opts[1], &c, "3x", 0, err, sizeof(err)), -1);
        c.key = "hunter2";
        pb_optmap_format(&conf_opts[6], &c, out, sizeof(out));
        assert_string_equal(out, "********");
        pb_optmap_format(&conf_opts[3], &c, out, sizeof(out));
        assert_string_equal(out, "2000ms");
        assert_ptr_equal(pb_optmap_find(conf_opts, NCONF, "max"),
                         &conf_opts[4]);
        assert_null(pb_optmap_find(conf_opts, NCONF, "nope"));
}

static const pb_json_t *parse(pb_json_parser_t *p, const char *text) {
        char err[256];
        const pb_json_t *j =
            pb_json_parse(p, text, strlen(text), err, sizeof(err));
        assert_non_null(j);
        return j;
}

/* A conf_t applied from JSON texts: the parser that holds the texts, the
 * values, the error text of the last apply. */
typedef struct json_conf {
        pb_json_parser_t *p;
        conf_t c;
        char err[1024];
} json_conf_t;

static void json_conf_open(json_conf_t *j) {
        memset(j, 0, sizeof(*j));
        j->p = pb_json_parser_new(NULL);
        assert_non_null(j->p);
}

/* pb_optmap_apply_json of the JSON text at the pointer at into j->c. */
static int apply(json_conf_t *j, const char *text, const char *at) {
        return pb_optmap_apply_json(conf_opts, NCONF, &j->c, parse(j->p, text),
                                    at, j->err, sizeof(j->err));
}

static void test_apply_json(void **state) {
        json_conf_t j;
        (void)state;
        json_conf_open(&j);
        pb_optmap_defaults(conf_opts, NCONF, &j.c, j.err, sizeof(j.err));
        assert_int_equal(apply(&j,
                               "{\"url\":\"https://x\",\"n\":7,\"on\":true,"
                               "\"wait\":\"250ms\",\"max\":\"64KiB\","
                               "\"tags\":[\"a\",\"b\"]}",
                               ""),
                         0);
        assert_string_equal(j.err, "");
        assert_string_equal(j.c.url, "https://x");
        assert_int_equal(j.c.n, 7);
        assert_int_equal(j.c.on, 1);
        assert_int_equal(j.c.wait, 250);
        assert_int_equal(j.c.max, 65536);
        assert_int_equal(j.c.tags.n, 2);
        assert_string_equal(j.c.tags.v[1], "b");
        /* a bare number: seconds for a duration, bytes for a size */
        assert_int_equal(apply(&j,
                               "{\"wait\":3,"
                               "\"max\":100}",
                               ""),
                         0);
        assert_int_equal(j.c.wait, 3000);
        assert_int_equal(j.c.max, 100);
        pb_json_parser_destroy(j.p);
}

static void test_apply_json_errors(void **state) {
        json_conf_t j;
        (void)state;
        json_conf_open(&j);
        assert_int_equal(apply(&j,
                               "{\"wait\":\"soon\",\"on\":1,"
                               "\"a/b\":1,\"tags\":[1],"
                               "\"url\":5}",
                               "/sink"),
                         5);
        assert_string_equal(j.err, "/sink/wait: 'soon' is not a duration (e.g. "
                                   "500ms, 30s, 5m, 24h)\n"
                                   "/sink/on: number is not a bool\n"
                                   "/sink/a~1b: unknown option\n"
                                   "/sink/tags: expected an array of strings\n"
                                   "/sink/url: number is not a string");
        assert_int_equal(apply(&j, "[1]", ""), 1);
        assert_string_equal(j.err, ": expected an object");
        pb_json_parser_destroy(j.p);
}

/* The sinks' own tables, configured from JSON as a subscription will. */
static void test_sink_tables_json(void **state) {
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        const pb_sink_plugin_t *wh = pb_sink_plugin_find("webhook");
        const pb_sink_plugin_t *pl;
        char err[1024];
        void *st;
        pb_sink_t *sink;
        size_t i;
        (void)state;
        for (i = 0; (pl = pb_sink_plugin_at(i)); i++) {
                assert_non_null(pl->opts);
                assert_true(pl->nopts > 0);
                assert_non_null(pl->opt_prefix);
                st = pb_sink_settings_new(pl, err, sizeof(err));
                assert_non_null(st);
                free(st);
        }
        assert_non_null(wh);
        st = pb_sink_settings_new(wh, err, sizeof(err));
        assert_int_equal(
            pb_sink_settings_json(wh, st,
                                  parse(p, "{\"batch-size\":20,"
                                           "\"timeout\":\"2s\","
                                           "\"allow-unsigned\":true}"),
                                  "/subscriptions/0/sink", err, sizeof(err)),
            0);
        sink = wh->init("http://127.0.0.1:9/hook", st, err, sizeof(err));
        assert_non_null(sink);
        assert_int_equal(wh->batch_hint(sink), 20);
        wh->destroy(sink);
        assert_int_equal(pb_sink_settings_json(
                             wh, st, parse(p, "{\"timeout\":\"x\",\"nope\":1}"),
                             "/subscriptions/0/sink", err, sizeof(err)),
                         2);
        assert_non_null(strstr(err, "/subscriptions/0/sink/timeout: 'x' is "
                                    "not a duration"));
        assert_non_null(strstr(err, "/subscriptions/0/sink/nope: unknown "
                                    "option"));
        free(st);
        /* no secret and not allow-unsigned: refused */
        st = pb_sink_settings_new(wh, err, sizeof(err));
        assert_null(wh->init("http://127.0.0.1:9/hook", st, err, sizeof(err)));
        assert_non_null(strstr(err, "no signing secret"));
        free(st);
        pb_json_parser_destroy(p);
}

static void test_compose_and_markdown(void **state) {
        static const pb_opt_t extra[] = {
            {"timeout", 0, PB_OPT_DURATION, "5s", "DURATION", "t", 0, 0},
        };
        pb_opts_part_t parts[] = {{conf_opts, NCONF, NULL, 0},
                                  {extra, 1, "hook-", sizeof(conf_t)}};
        size_t n = 0;
        pb_opt_t *t = pb_opts_compose(parts, 2, &n);
        pb_cmd_spec_t spec = {"svc", "s", NULL, NULL, NULL, 0, 0};
        char buf[4096];
        FILE *fp;
        size_t len;
        (void)state;
        assert_non_null(t);
        assert_int_equal(n, NCONF + 1);
        assert_string_equal(t[NCONF].name, "hook-timeout");
        assert_int_equal(t[NCONF].offset, sizeof(conf_t));
        assert_string_equal(t[0].name, "url");
        spec.opts = t;
        spec.nopts = n;
        fp = tmpfile();
        pb_opts_print_markdown(&spec, fp);
        rewind(fp);
        len = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[len] = 0;
        fclose(fp);
        assert_non_null(strstr(buf, "| `--hook-timeout DURATION` | "
                                    "`PARTNERBUS_HOOK_TIMEOUT` / "
                                    "`hook-timeout` | duration | `5s` | t |"));
        assert_non_null(strstr(buf, "| `--url URL` | `PARTNERBUS_URL` / `url` "
                                    "| string | required | where |"));
        assert_non_null(strstr(buf, "| string, secret | - | key |"));
        assert_non_null(strstr(buf, "switch \\| pipe"));
        pb_opts_compose_free(t, n);
}

PB_TEST_MAIN(cmocka_unit_test(test_duration_grammar),
             cmocka_unit_test(test_size_grammar),
             cmocka_unit_test(test_bool_grammar),
             cmocka_unit_test(test_store_and_defaults),
             cmocka_unit_test(test_apply_json),
             cmocka_unit_test(test_apply_json_errors),
             cmocka_unit_test(test_sink_tables_json),
             cmocka_unit_test(test_compose_and_markdown))
