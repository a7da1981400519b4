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
        static const char *refused[] = {"aid.delivered", "aid", "dispatched",
                                        "aid.dispatched,funds.granted", ""};
        char h1[65], h2[65], h3[65], text[1024], err[256];
        size_t i;
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
        /* another type; substrings and prefixes of allowed types */
        for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
                if (pb_gw_token_allows(e, refused[i]))
                        fail_msg("\"%s\" allowed", refused[i]);

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

/* The tokens file made from fmt and its arguments is refused with an error
 * containing fragment. */
__attribute__((format(printf, 2, 3))) static void
expect_error(const char *fragment, const char *fmt, ...) {
        char err[256] = "", text[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        pb_gw_tokens_t *t = parse(text, err, sizeof(err));
        if (t || !strstr(err, fragment)) {
                print_error("text <%s>: got %s, error <%s>, wanted <%s>\n",
                            text, t ? "success" : "failure", err, fragment);
                pb_gw_tokens_destroy(t);
                fail();
        }
}

static void test_errors(void **state) {
        char h[65];
        (void)state;
        hex_of("x", h);
        expect_error("no entries", "%s", "");
        expect_error("no entries", "# only a comment\n");
        /* a plain token instead of its digest */
        expect_error("tokens:1:", "org my-plain-token aid.dispatched\n");
        expect_error("SHA-256", "org my-plain-token aid.dispatched\n");
        expect_error("tokens:3: event types missing", "\n\norg %s\n", h);
        expect_error("organisation id", "bad/org %s *\n", h);
        expect_error("empty event type", "org %s a,,b\n", h);
        expect_error("empty event type", "org %s a,b,\n", h);
        expect_error("fourth column", "org %s a extra\n", h);
        expect_error("hexadecimal", "org %.63sg *\n", h);
        expect_error("bad character", "org %s a;b\n", h);
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
