/* Unit tests: option tables — precedence flag > env > config file >
 * default, types, lists, required options, usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pb_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pb_opts.h"

typedef struct settings {
        const char *listen;
        long max_events;
        int verbose;
        int64_t timeout;
        size_t max_body;
        pb_strlist_t where;
        const char *secret;
        const char *required;
} settings_t;

static const pb_opt_t opts[] = {
    {"listen", 'l', PB_OPT_STRING, "127.0.0.1:8080", "ADDR:PORT", "listen", 0,
     offsetof(settings_t, listen)},
    {"max-events", 0, PB_OPT_INT, "500", "N", "max", 0,
     offsetof(settings_t, max_events)},
    {"verbose", 'v', PB_OPT_BOOL, "false", NULL, "verbose", 0,
     offsetof(settings_t, verbose)},
    {"timeout", 0, PB_OPT_DURATION, "30s", "DURATION", "timeout", 0,
     offsetof(settings_t, timeout)},
    {"max-body", 0, PB_OPT_SIZE, "1MiB", "SIZE", "body", 0,
     offsetof(settings_t, max_body)},
    {"where", 'w', PB_OPT_LIST, NULL, "EXPR", "filter", 0,
     offsetof(settings_t, where)},
    {"secret", 0, PB_OPT_STRING, NULL, "S", "secret", PB_OPT_SECRET,
     offsetof(settings_t, secret)},
    {"required", 0, PB_OPT_STRING, NULL, "R", "required", PB_OPT_REQUIRED,
     offsetof(settings_t, required)},
};
static const pb_cmd_spec_t spec = {"testsvc",
                                   "A test service.",
                                   "[options]",
                                   NULL,
                                   opts,
                                   sizeof(opts) / sizeof(opts[0]),
                                   1};

static int parse(settings_t *s, pb_cli_common_t *c, int argc, char **argv) {
        int first = 0;
        memset(s, 0, sizeof(*s));
        return pb_opts_parse(&spec, s, c, argc, argv, &first);
}

/* A new file from the template path (its name written there) holding
 * text. */
static void tmp_file(char *path, const char *text) {
        int fd = mkstemp(path);
        size_t n = strlen(text);
        assert_true(fd >= 0);
        assert_true(write(fd, text, n) == (ssize_t)n);
        close(fd);
}

static void clear_env(void) {
        unsetenv("PARTNERBUS_LISTEN");
        unsetenv("PARTNERBUS_MAX_EVENTS");
        unsetenv("PARTNERBUS_CONFIG");
        unsetenv("PARTNERBUS_BROKERS");
        unsetenv("PARTNERBUS_WHERE");
}

static void test_defaults(void **state) {
        settings_t s;
        pb_cli_common_t c;
        char *argv[] = {"testsvc", "--required", "x", NULL};
        clear_env();
        assert_int_equal(parse(&s, &c, 3, argv), -1);
        assert_string_equal(s.listen, "127.0.0.1:8080");
        assert_int_equal(s.max_events, 500);
        assert_int_equal(s.verbose, 0);
        assert_int_equal(s.timeout, 30000);
        assert_int_equal(s.max_body, 1048576);
        assert_int_equal(s.where.n, 0);
        pb_opts_free();
}

static void test_precedence(void **state) {
        settings_t s;
        pb_cli_common_t c;
        char path[] = "/tmp/pb_test_opts_XXXXXX";
        tmp_file(path, "# comment\n[common]\nbrokers = file:9092\n"
                       "[testsvc]\nlisten = 0.0.0.0:1\nmax-events = 7\n"
                       "timeout = 5m\nwhere = a=1\nwhere = b=2\n"
                       "[othersvc]\nlisten = ignored:1\n"
                       "[kafka]\nsecurity.protocol = SASL_SSL\n");
        clear_env();
        setenv("PARTNERBUS_CONFIG", path, 1);
        setenv("PARTNERBUS_MAX_EVENTS", "9", 1);
        {
                char *argv[] = {"testsvc", "--required=x", "-l", "1.2.3.4:5",
                                "-X",      "linger.ms=7",  NULL};
                assert_int_equal(parse(&s, &c, 6, argv), -1);
        }
        assert_string_equal(s.listen, "1.2.3.4:5"); /* flag */
        assert_int_equal(s.max_events, 9);          /* env over file */
        assert_int_equal(s.timeout, 300000);        /* file over default */
        assert_int_equal(s.where.n, 2);             /* list from file */
        assert_string_equal(s.where.v[1], "b=2");
        assert_string_equal(c.brokers, "file:9092");
        assert_int_equal(c.kconf.nprops, 2);
        assert_string_equal(c.kconf.props[0], "security.protocol=SASL_SSL");
        assert_string_equal(c.kconf.props[1], "linger.ms=7");
        {
                /* flags replace the file's list, then append */
                char *argv[] = {"testsvc", "--required=x", "-w",
                                "c=3",     "--where",      "d=4",
                                "-b",      "flag:1",       NULL};
                assert_int_equal(parse(&s, &c, 8, argv), -1);
        }
        assert_int_equal(s.where.n, 2);
        assert_string_equal(s.where.v[0], "c=3");
        assert_string_equal(s.where.v[1], "d=4");
        assert_string_equal(c.brokers, "flag:1");
        unlink(path);
        clear_env();
        pb_opts_free();
}

static void test_usage_errors(void **state) {
        settings_t s;
        pb_cli_common_t c;
        clear_env();
        {
                char *argv[] = {"testsvc", NULL};
                assert_int_equal(parse(&s, &c, 1, argv), PB_EXIT_USAGE);
        }
        {
                char *argv[] = {"testsvc", "--required", "x", "--bogus", NULL};
                assert_int_equal(parse(&s, &c, 4, argv), PB_EXIT_USAGE);
        }
        {
                char *argv[] = {"testsvc",      "--required", "x",
                                "--max-events", "many",       NULL};
                assert_int_equal(parse(&s, &c, 5, argv), PB_EXIT_USAGE);
        }
        {
                char *argv[] = {"testsvc",   "--required", "x",
                                "--timeout", "soon",       NULL};
                assert_int_equal(parse(&s, &c, 5, argv), PB_EXIT_USAGE);
        }
        {
                char *argv[] = {"testsvc", "--required", "x",
                                "-X",      "novalue",    NULL};
                assert_int_equal(parse(&s, &c, 5, argv), PB_EXIT_USAGE);
        }
        {
                char *argv[] = {"testsvc", "--required", NULL};
                assert_int_equal(parse(&s, &c, 2, argv), PB_EXIT_USAGE);
        }
        {
                char *argv[] = {"testsvc",    "--config", "/nonexistent/x.conf",
                                "--required", "x",        NULL};
                assert_int_equal(parse(&s, &c, 5, argv), PB_EXIT_USAGE);
        }
        pb_opts_free();
}

static void test_help_and_print_config(void **state) {
        settings_t s;
        pb_cli_common_t c;
        clear_env();
        {
                char *argv[] = {"testsvc", "--help", NULL};
                assert_int_equal(parse(&s, &c, 2, argv), PB_EXIT_OK);
        }
        {
                char *argv[] = {"testsvc",
                                "--secret",
                                "hunter2",
                                "-X",
                                "sasl.password=hunter3",
                                "--print-config",
                                NULL};
                assert_int_equal(parse(&s, &c, 6, argv), PB_EXIT_OK);
        }
        pb_opts_free();
}

static void test_sasl_password_file(void **state) {
        settings_t s;
        pb_cli_common_t c;
        char path[] = "/tmp/pb_test_pw_XXXXXX";
        char *argv[] = {"testsvc", "--required", "x", NULL};
        tmp_file(path, "s3cret\n");
        clear_env();
        setenv("PARTNERBUS_SASL_PASSWORD_FILE", path, 1);
        assert_int_equal(parse(&s, &c, 3, argv), -1);
        assert_int_equal(c.kconf.nprops, 1);
        assert_string_equal(c.kconf.props[0], "sasl.password=s3cret");
        setenv("PARTNERBUS_SASL_PASSWORD_FILE", "/nonexistent/pw", 1);
        assert_int_equal(parse(&s, &c, 3, argv), PB_EXIT_USAGE);
        unsetenv("PARTNERBUS_SASL_PASSWORD_FILE");
        unlink(path);
        pb_opts_free();
}

static void test_units(void **state) {
        assert_int_equal(pb_optmap_parse_duration("250ms"), 250);
        assert_int_equal(pb_optmap_parse_duration("2"), 2000);
        assert_int_equal(pb_optmap_parse_duration("24h"), 86400000);
        assert_int_equal(pb_optmap_parse_duration("1.5s"), 1500);
        assert_int_equal(pb_optmap_parse_duration("-1s"), -1);
        assert_int_equal(pb_optmap_parse_duration("5 parsecs"), -1);
        assert_int_equal(pb_optmap_parse_size("64KiB"), 65536);
        assert_int_equal(pb_optmap_parse_size("2GiB"), 2147483648ull);
        assert_true(pb_optmap_parse_size("-5") == (size_t)-1);
        assert_true(pb_optmap_parse_size("5XB") == (size_t)-1);
        assert_true(pb_optmap_parse_size("99999999999999999999GiB") ==
                    (size_t)-1);
}

PB_TEST_MAIN(cmocka_unit_test(test_defaults), cmocka_unit_test(test_precedence),
             cmocka_unit_test(test_usage_errors),
             cmocka_unit_test(test_help_and_print_config),
             cmocka_unit_test(test_sasl_password_file),
             cmocka_unit_test(test_units))
