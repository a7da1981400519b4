/* Unit tests for the gateway's tokens file (services/gateway/
 * pb_gw_tokens.c, linked from partnerbus_svc_gateway): format, errors with line
 * numbers, lookup by SHA-256, allowed types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pb_test.h"
#include <openssl/sha.h>

#include "pb_gw.h"

static void hex_of(const char *tok, char out[65]) {
        uint8_t d[32];
        int i;
        SHA256((const unsigned char *)tok, strlen(tok), d);
        for (i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02x", d[i]);
}

static pb_gw_tokens_t *parse(const char *text, char *err, size_t n) {
        return pb_gw_tokens_parse(text, strlen(text), "tokens", err, n);
}

static void test_parse_and_find(void **state) {
        char h1[65], h2[65], h3[65], text[1024], err[256];
        pb_gw_tokens_t *t;
        const pb_gw_token_t *e;
        (void)state;
        hex_of("secret-bgk", h1);
        hex_of("secret-koeln", h2);
        hex_of("secret-bgk-next", h3);
        snprintf(text, sizeof(text),
                 "# org  sha256  types\n"
                 "\n"
                 "blau-gelbes-kreuz  %s  aid.dispatched,funds.granted\r\n"
                 "   stadt-koeln\t sha256:%s\t*\n"
                 "blau-gelbes-kreuz %s aid.dispatched\n",
                 h1, h2, h3);
        t = parse(text, err, sizeof(err));
        assert_non_null(t);
        assert_int_equal(t->n, 3);

        e = pb_gw_tokens_find(t, "secret-bgk", 10);
        assert_non_null(e);
        assert_string_equal(e->org, "blau-gelbes-kreuz");
        assert_true(pb_gw_token_allows(e, "aid.dispatched"));
        assert_true(pb_gw_token_allows(e, "funds.granted"));
        assert_false(pb_gw_token_allows(e, "aid.delivered"));
        /* substrings and prefixes of allowed types are not allowed */
        assert_false(pb_gw_token_allows(e, "aid"));
        assert_false(pb_gw_token_allows(e, "dispatched"));
        assert_false(pb_gw_token_allows(e, "aid.dispatched,funds.granted"));
        assert_false(pb_gw_token_allows(e, ""));

        e = pb_gw_tokens_find(t, "secret-koeln", 12);
        assert_non_null(e);
        assert_string_equal(e->org, "stadt-koeln");
        assert_true(pb_gw_token_allows(e, "partnership.founded"));

        /* second token of the same org (rotation) has its own types */
        e = pb_gw_tokens_find(t, "secret-bgk-next", 15);
        assert_non_null(e);
        assert_string_equal(e->org, "blau-gelbes-kreuz");
        assert_false(pb_gw_token_allows(e, "funds.granted"));

        /* wrong, empty, prefix, and the digest itself are not tokens */
        assert_null(pb_gw_tokens_find(t, "secret-bg", 9));
        assert_null(pb_gw_tokens_find(t, "secret-bgkx", 11));
        assert_null(pb_gw_tokens_find(t, "", 0));
        assert_null(pb_gw_tokens_find(t, h1, 64));
        pb_gw_tokens_destroy(t);
}

static void expect_error(const char *text, const char *fragment) {
        char err[256] = "";
        pb_gw_tokens_t *t = parse(text, err, sizeof(err));
        if (t || !strstr(err, fragment)) {
                print_error("text <%s>: got %s, error <%s>, wanted <%s>\n",
                            text, t ? "success" : "failure", err, fragment);
                pb_gw_tokens_destroy(t);
                fail();
        }
}

static void test_errors(void **state) {
        char h[65], line[512];
        (void)state;
        hex_of("x", h);
        expect_error("", "no entries");
        expect_error("# only a comment\n", "no entries");
        /* a plain token instead of its digest */
        expect_error("org my-plain-token aid.dispatched\n", "tokens:1:");
        expect_error("org my-plain-token aid.dispatched\n", "SHA-256");
        snprintf(line, sizeof(line), "\n\norg %s\n", h);
        expect_error(line, "tokens:3: event types missing");
        snprintf(line, sizeof(line), "bad/org %s *\n", h);
        expect_error(line, "organisation id");
        snprintf(line, sizeof(line), "org %s a,,b\n", h);
        expect_error(line, "empty event type");
        snprintf(line, sizeof(line), "org %s a,b,\n", h);
        expect_error(line, "empty event type");
        snprintf(line, sizeof(line), "org %s a extra\n", h);
        expect_error(line, "fourth column");
        snprintf(line, sizeof(line), "org %.63sg *\n", h);
        expect_error(line, "hexadecimal");
        snprintf(line, sizeof(line), "org %s a;b\n", h);
        expect_error(line, "bad character");
}

static void test_load_file(void **state) {
        char path[] = "/tmp/pb_test_tokens_XXXXXX", h[65], err[256];
        int fd = mkstemp(path);
        FILE *fp;
        pb_gw_tokens_t *t;
        (void)state;
        assert_true(fd >= 0);
        fp = fdopen(fd, "w");
        hex_of("tok", h);
        fprintf(fp, "stadt-essen %s partnership.founded\n", h);
        fclose(fp);
        t = pb_gw_tokens_load(path, err, sizeof(err));
        assert_non_null(t);
        assert_non_null(pb_gw_tokens_find(t, "tok", 3));
        pb_gw_tokens_destroy(t);
        unlink(path);
        assert_null(pb_gw_tokens_load(path, err, sizeof(err)));
        assert_non_null(strstr(err, "cannot open"));
}

PB_TEST_MAIN(cmocka_unit_test(test_parse_and_find),
             cmocka_unit_test(test_errors), cmocka_unit_test(test_load_file))
