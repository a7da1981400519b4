/* Unit tests for pb_json.c: the strict parser, its limits, writing back,
 * JSON Pointer tokens and UTF-8 validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "partnerbus/pb_json.h"
#include "pb_test.h"

static pb_json_parser_t *P;
static char err[256];

static int setup(void **state) {
        (void)state;
        P = pb_json_parser_new(NULL);
        return P ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        pb_json_parser_destroy(P);
        P = NULL;
        return 0;
}

static const pb_json_t *parse_n(const char *s, size_t n) {
        err[0] = 'X';
        err[1] = 0;
        return pb_json_parse(P, s, n, err, sizeof(err));
}

static const pb_json_t *parse(const char *s) {
        return parse_n(s, strlen(s));
}

/* Serializes with pb_json_write into a static buffer. */
static const char *written(const pb_json_t *v) {
        static pb_buf_t b;
        static int init;
        if (!init) {
                pb_buf_init(&b, 0);
                init = 1;
        }
        pb_buf_reset(&b);
        assert_int_equal(pb_json_write(v, &b), PB_OK);
        return (const char *)b.data;
}

/* Expects rejection with `reason` in the message, at line/col if given. */
#define REJECT(text, reason)                                                   \
        do {                                                                   \
                const pb_json_t *r_ = parse(text);                             \
                if (r_)                                                        \
                        fail_msg("accepted: %s", text);                        \
                if (!strstr(err, reason))                                      \
                        fail_msg("input %s: message '%s' lacks '%s'", text,    \
                                 err, reason);                                 \
                assert_true(strncmp(err, "line ", 5) == 0);                    \
        } while (0)

#define REJECT_N(text, n, reason)                                              \
        do {                                                                   \
                const pb_json_t *r_ = parse_n(text, n);                        \
                if (r_)                                                        \
                        fail_msg("accepted input of %zu bytes", (size_t)(n));  \
                if (!strstr(err, reason))                                      \
                        fail_msg("message '%s' lacks '%s'", err, reason);      \
        } while (0)

#define ACCEPT(text, compact)                                                  \
        do {                                                                   \
                const pb_json_t *a_ = parse(text);                             \
                if (!a_)                                                       \
                        fail_msg("rejected %s: %s", text, err);                \
                assert_string_equal(written(a_), compact);                     \
        } while (0)

static void test_valid_documents(void **state) {
        (void)state;
        ACCEPT("null", "null");
        ACCEPT(" true ", "true");
        ACCEPT("\t\r\nfalse\n", "false");
        ACCEPT("0", "0");
        ACCEPT("-0", "-0");
        ACCEPT("-12.50e3", "-12.50e3");
        ACCEPT("1E+2", "1E+2");
        ACCEPT("1e-2", "1e-2");
        ACCEPT("0.5", "0.5");
        ACCEPT("\"\"", "\"\"");
        ACCEPT("[]", "[]");
        ACCEPT("{}", "{}");
        ACCEPT("[ 1 , [ ] , { } , \"x\" ]", "[1,[],{},\"x\"]");
        ACCEPT("{ \"a\" : 1 , \"b\" : [ true , null ] , \"c\" : { \"d\" : "
               "\"e\" } }",
               "{\"a\":1,\"b\":[true,null],\"c\":{\"d\":\"e\"}}");
        ACCEPT("\"a\\/b\"", "\"a/b\"");
}

static void test_tree_shape(void **state) {
        const pb_json_t *v, *c;
        (void)state;
        v = parse("{\"amount\":\"143000.00\",\"n\":370,\"tags\":[\"a\",\"b\","
                  "\"c\"],\"ok\":true,\"none\":null,\"f\":false}");
        assert_non_null(v);
        assert_int_equal(v->type, PB_JSON_OBJECT);
        assert_int_equal(v->count, 6);
        assert_null(v->key);
        c = pb_json_get(v, "amount");
        assert_non_null(c);
        assert_int_equal(c->type, PB_JSON_STRING);
        assert_string_equal(c->str, "143000.00");
        assert_int_equal(c->len, 9);
        assert_string_equal(c->key, "amount");
        assert_int_equal(c->keylen, 6);
        c = pb_json_get(v, "n");
        assert_int_equal(c->type, PB_JSON_NUMBER);
        assert_string_equal(c->str, "370");
        assert_int_equal(c->len, 3);
        c = pb_json_get(v, "tags");
        assert_int_equal(c->type, PB_JSON_ARRAY);
        assert_int_equal(c->count, 3);
        assert_string_equal(c->child->str, "a");
        assert_null(c->child->key);
        assert_string_equal(c->child->next->next->str, "c");
        assert_null(c->child->next->next->next);
        assert_int_equal(pb_json_get(v, "ok")->type, PB_JSON_TRUE);
        assert_int_equal(pb_json_get(v, "f")->type, PB_JSON_FALSE);
        assert_int_equal(pb_json_get(v, "none")->type, PB_JSON_NULL);
        assert_null(pb_json_get(v, "missing"));
        assert_null(pb_json_get(v, "amoun"));
        assert_null(pb_json_get(c, "a")); /* not an object */
        assert_null(pb_json_get(NULL, "a"));
}

static void test_type_names(void **state) {
        (void)state;
        assert_string_equal(pb_json_type_name(PB_JSON_NULL), "null");
        assert_string_equal(pb_json_type_name(PB_JSON_TRUE), "boolean");
        assert_string_equal(pb_json_type_name(PB_JSON_FALSE), "boolean");
        assert_string_equal(pb_json_type_name(PB_JSON_NUMBER), "number");
        assert_string_equal(pb_json_type_name(PB_JSON_STRING), "string");
        assert_string_equal(pb_json_type_name(PB_JSON_ARRAY), "array");
        assert_string_equal(pb_json_type_name(PB_JSON_OBJECT), "object");
}

static void test_strings_and_escapes(void **state) {
        const pb_json_t *v;
        (void)state;
        v = parse("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"");
        assert_non_null(v);
        assert_string_equal(v->str, "a\"b\\c/d\be\ff\ng\rh\ti");
        v = parse("\"\\u0041\\u00e4\\u0416\\u20AC\"");
        assert_non_null(v);
        assert_string_equal(v->str, "A\xc3\xa4\xd0\x96\xe2\x82\xac");
        /* surrogate pair: U+1F600 */
        v = parse("\"x\\ud83d\\ude00y\"");
        assert_non_null(v);
        assert_string_equal(v->str, "x\xf0\x9f\x98\x80y");
        assert_int_equal(v->len, 6);
        /* U+10FFFF, the largest code point */
        v = parse("\"\\uDBFF\\uDFFF\"");
        assert_non_null(v);
        assert_string_equal(v->str, "\xf4\x8f\xbf\xbf");
        /* embedded NUL from \u0000 */
        v = parse("\"a\\u0000b\"");
        assert_non_null(v);
        assert_int_equal(v->len, 3);
        assert_memory_equal(v->str, "a\0b", 4);
        assert_string_equal(written(v), "\"a\\u0000b\"");
        /* raw UTF-8 (umlauts, Cyrillic, 4-byte) passes through */
        v = parse("\"D\xc3\xbcsseldorf \xd0\xa0\xd1\x96\xd0\xb2\xd0\xbd\xd0\xb5"
                  " \xf0\x9f\x98\x80\"");
        assert_non_null(v);
        assert_string_equal(v->str, "D\xc3\xbcsseldorf \xd0\xa0\xd1\x96\xd0"
                                    "\xb2\xd0\xbd\xd0\xb5 \xf0\x9f\x98\x80");
        /* escaped keys are unescaped too */
        v = parse("{\"k\\u00e9y\":1}");
        assert_non_null(v);
        assert_non_null(pb_json_get(v, "k\xc3\xa9y"));
        /* long strings (exercise the 8-byte scan) with an escape at the end
         * and a quote right at a word boundary */
        char buf[300];
        memset(buf, 'a', sizeof(buf));
        buf[0] = '"';
        buf[296] = '\\';
        buf[297] = 'n';
        buf[298] = '"';
        buf[299] = 0;
        v = parse(buf);
        assert_non_null(v);
        assert_int_equal(v->len, 296);
        assert_int_equal(v->str[295], '\n');
        assert_int_equal(v->str[296], 0);
        for (int n = 0; n < 40; n++) {
                memset(buf, 'b', sizeof(buf));
                buf[0] = '"';
                buf[n + 1] = '"';
                v = parse_n(buf, (size_t)n + 2);
                assert_non_null(v);
                assert_int_equal(v->len, (size_t)n);
        }
}

static void test_reject_syntax(void **state) {
        (void)state;
        REJECT("", "unexpected end of input");
        REJECT("   ", "unexpected end of input");
        REJECT("[1,2,]", "trailing comma");
        REJECT("{\"a\":1,}", "trailing comma");
        REJECT("[1 2]", "expected ',' or ']'");
        REJECT("{\"a\":1 \"b\":2}", "expected ',' or '}'");
        REJECT("{\"a\" 1}", "expected ':'");
        REJECT("{a:1}", "expected a string key");
        REJECT("{1:1}", "expected a string key");
        REJECT("{'a':1}", "double quotes");
        REJECT("[", "unexpected end of input");
        REJECT("[1", "unexpected end of input");
        REJECT("{\"a\":", "unexpected end of input");
        REJECT("{\"a\"", "unexpected end of input");
        REJECT("]", "unexpected ']'");
        REJECT("[1]]", "after the JSON value");
        REJECT("1 2", "after the JSON value");
        REJECT("{} x", "after the JSON value");
        REJECT("null;", "after the JSON value");
        REJECT("nul", "invalid literal");
        REJECT("True", "unexpected 'T'");
        REJECT("tru e", "invalid literal");
        REJECT("[,1]", "unexpected ','");
        REJECT("\xef\xbb\xbf{}", "unexpected byte 0xEF");
        REJECT("/* c */ 1", "unexpected '/'");
        REJECT_N("[1,\0]", 5, "unexpected byte 0x00");
        REJECT_N("1\0", 2, "after the JSON value");
        REJECT("\v1", "unexpected byte 0x0B");
}

static void test_reject_numbers(void **state) {
        (void)state;
        REJECT("01", "leading zeros");
        REJECT("-01", "leading zeros");
        REJECT("[00]", "leading zeros");
        REJECT("+1", "leading '+'");
        REJECT("[-]", "expected a digit after '-'");
        REJECT("-", "expected a digit after '-'");
        REJECT("- 1", "expected a digit after '-'");
        REJECT("1.", "expected a digit after '.'");
        REJECT("1.e5", "expected a digit after '.'");
        REJECT(".5", "must start with a digit");
        REJECT("1e", "expected a digit in the exponent");
        REJECT("1e+", "expected a digit in the exponent");
        REJECT("1E-x", "expected a digit in the exponent");
        REJECT("NaN", "NaN and Infinity");
        REJECT("Infinity", "NaN and Infinity");
        REJECT("-Infinity", "expected a digit after '-'");
        REJECT("0x10", "after the JSON value");
        REJECT("1.5.2", "after the JSON value");
}

static void test_reject_strings(void **state) {
        (void)state;
        REJECT("\"abc", "unterminated string");
        REJECT("\"abc\\\"", "unterminated string");
        REJECT("\"\\", "unterminated string");
        REJECT("\"a\nb\"", "control character U+000A");
        REJECT("\"a\tb\"", "control character U+0009");
        REJECT("\"\x1f\"", "control character U+001F");
        REJECT_N("\"a\0b\"", 5, "control character U+0000");
        REJECT("\"\\x41\"", "invalid escape '\\x'");
        REJECT("\"\\a\"", "invalid escape '\\a'");
        REJECT("\"\\'\"", "invalid escape '\\''");
        REJECT("\"\\u12\"", "invalid \\u escape");
        REJECT("\"\\u12g4\"", "invalid \\u escape");
        REJECT("\"\\U0041\"", "invalid escape '\\U'");
        /* unpaired surrogates */
        REJECT("\"\\ud800\"", "unpaired surrogate \\uD800");
        REJECT("\"\\ud83dx\"", "unpaired surrogate");
        REJECT("\"\\ud83d\\u0041\"", "unpaired surrogate");
        REJECT("\"\\ud83d\\ud83d\"", "unpaired surrogate");
        REJECT("\"\\ude00\"", "unpaired surrogate \\uDE00");
        REJECT("\"\\ude00\\ud83d\"", "unpaired surrogate");
        REJECT("\"\\ud83d\\n\"", "unpaired surrogate");
}

static void test_reject_utf8(void **state) {
        (void)state;
        /* lone continuation byte */
        REJECT("\"\x80\"", "invalid UTF-8");
        REJECT("\"a\xbf\"", "invalid UTF-8");
        /* overlong encodings */
        REJECT("\"\xc0\xaf\"", "invalid UTF-8");
        REJECT("\"\xc1\xbf\"", "invalid UTF-8");
        REJECT("\"\xe0\x80\xaf\"", "invalid UTF-8");
        REJECT("\"\xe0\x9f\xbf\"", "invalid UTF-8");
        REJECT("\"\xf0\x80\x80\xaf\"", "invalid UTF-8");
        REJECT("\"\xf0\x8f\xbf\xbf\"", "invalid UTF-8");
        /* UTF-16 surrogates encoded in UTF-8 */
        REJECT("\"\xed\xa0\x80\"", "invalid UTF-8");
        REJECT("\"\xed\xbf\xbf\"", "invalid UTF-8");
        /* beyond U+10FFFF */
        REJECT("\"\xf4\x90\x80\x80\"", "invalid UTF-8");
        REJECT("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
        REJECT("\"\xff\"", "invalid UTF-8");
        /* truncated sequences */
        REJECT("\"\xc3\"", "invalid UTF-8");
        REJECT("\"\xe2\x82\"", "invalid UTF-8");
        REJECT("\"\xf0\x9f\x98\"", "invalid UTF-8");
        REJECT_N("\"\xe2\x82", 3, "invalid UTF-8");
        /* in keys too */
        REJECT("{\"\xc0\x80\":1}", "invalid UTF-8");
        /* a raw non-ASCII byte outside strings */
        REJECT("\xc3\xa4", "unexpected byte 0xC3");
        /* valid boundaries are accepted */
        assert_non_null(parse("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf"
                              "\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80"
                              "\xf4\x8f\xbf\xbf\""));
}

static void test_duplicate_keys(void **state) {
        (void)state;
        REJECT("{\"a\":1,\"a\":2}", "duplicate key \"a\"");
        REJECT("{\"a\":1,\"b\":{\"a\":1,\"a\":2}}", "duplicate key \"a\"");
        /* equal after unescaping */
        REJECT("{\"a\":1,\"\\u0061\":2}", "duplicate key \"a\"");
        /* same key in different objects is fine */
        assert_non_null(parse("{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}"));
        /* prefix keys are different */
        assert_non_null(parse("{\"a\":1,\"ab\":2,\"\":3}"));
        assert_null(parse("{\"\":1,\"\":2}"));
        assert_non_null(strstr(err, "duplicate key \"\""));

        /* large objects use the hash set: build one with 5000 members,
         * then the same plus a duplicate at various positions */
        pb_buf_t b;
        pb_buf_init(&b, 0);
        for (int dup = -1; dup < 5000; dup += 1237) {
                pb_buf_reset(&b);
                pb_buf_putc(&b, '{');
                for (int i = 0; i < 5000; i++)
                        pb_buf_printf(&b, "%s\"key%d\":[%d]", i ? "," : "", i,
                                      i);
                if (dup >= 0)
                        pb_buf_printf(&b, ",\"key%d\":0", dup);
                /* a nested large object with the same keys is fine */
                pb_buf_puts(&b, ",\"nested\":{");
                for (int i = 0; i < 100; i++)
                        pb_buf_printf(&b, "%s\"key%d\":%d", i ? "," : "", i, i);
                pb_buf_puts(&b, "}}");
                const pb_json_t *v = parse_n((char *)b.data, b.len);
                if (dup < 0) {
                        assert_non_null(v);
                        assert_int_equal(v->count, 5001);
                        assert_int_equal(pb_json_get(v, "key4999")->child->len,
                                         4);
                } else {
                        char want[64];
                        assert_null(v);
                        snprintf(want, sizeof(want), "duplicate key \"key%d\"",
                                 dup);
                        assert_non_null(strstr(err, want));
                }
        }
        /* and the parser is fine with small objects afterwards */
        assert_non_null(parse("{\"key1\":1,\"key2\":2}"));
        REJECT("{\"x\":1,\"x\":1}", "duplicate key");
        pb_buf_free(&b);
}

static void test_error_positions(void **state) {
        (void)state;
        assert_null(parse("{\n  \"a\": 1,\n  \"b\": 01\n}"));
        assert_string_equal(err, "line 3 col 8: leading zeros are not allowed");
        assert_null(parse("[1,]"));
        assert_string_equal(err, "line 1 col 4: trailing comma before ']'");
        /* columns count characters, not bytes */
        assert_null(parse("[\"\xd0\xa0\xd1\x96\", x]"));
        assert_string_equal(err,
                            "line 1 col 8: unexpected 'x', expected a value");
        assert_null(parse("{\"a\":1,\n\"a\":2}"));
        assert_string_equal(err, "line 2 col 1: duplicate key \"a\"");
        /* tiny error buffers are truncated, not overflowed */
        char small[8];
        memset(small, 'Z', sizeof(small));
        assert_null(pb_json_parse(P, "[1,]", 4, small, sizeof(small)));
        assert_string_equal(small, "line 1 ");
        assert_null(pb_json_parse(P, "[1,]", 4, NULL, 0));
}

static void test_depth_limit(void **state) {
        const size_t n = 100000;
        char *deep = malloc(2 * n + 1);
        const pb_json_t *v;
        (void)state;
        assert_non_null(deep);
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        deep[2 * n] = 0;
        v = parse_n(deep, 2 * n);
        assert_null(v);
        assert_non_null(strstr(err, "nesting deeper than 64 levels"));
        assert_non_null(strstr(err, "line 1 col 65:"));
        /* objects too */
        pb_buf_t b;
        pb_buf_init(&b, 0);
        for (size_t i = 0; i < n; i++)
                pb_buf_puts(&b, "{\"a\":");
        v = parse_n((char *)b.data, b.len);
        assert_null(v);
        assert_non_null(strstr(err, "nesting deeper than 64 levels"));
        pb_buf_free(&b);
        /* exactly 64 is fine */
        deep[64] = 0;
        memset(deep + 64, ']', 64);
        v = parse_n(deep, 128);
        assert_non_null(v);
        deep[2 * n] = 0;

        /* a configured, larger depth; values above the hard cap are capped
         * (no unbounded recursion or stack) */
        pb_json_limits_t lim = {.max_depth = 1000000, .max_nodes = 0};
        pb_json_parser_t *q = pb_json_parser_new(&lim);
        assert_non_null(q);
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        assert_null(pb_json_parse(q, deep, 2 * n, err, sizeof(err)));
        assert_non_null(strstr(err, "nesting deeper than 4096"));
        assert_non_null(
            pb_json_parse(q, deep + n - 4000, 8000, err, sizeof(err)));
        pb_json_parser_destroy(q);
        free(deep);
}

static void test_node_limit(void **state) {
        pb_json_limits_t lim = {.max_depth = 8, .max_nodes = 10};
        pb_json_parser_t *q = pb_json_parser_new(&lim);
        (void)state;
        assert_non_null(q);
        /* 1 array + 9 elements = 10 nodes */
        assert_non_null(
            pb_json_parse(q, "[1,2,3,4,5,6,7,8,9]", 19, err, sizeof(err)));
        assert_null(
            pb_json_parse(q, "[1,2,3,4,5,6,7,8,9,0]", 21, err, sizeof(err)));
        assert_non_null(strstr(err, "more than 10 values"));
        assert_null(
            pb_json_parse(q, "[[[[[[[[[]]]]]]]]]", 18, err, sizeof(err)));
        assert_non_null(strstr(err, "nesting deeper than 8"));
        pb_json_parser_destroy(q);
}

/* Many documents through one parser: the tree of the latest parse is
 * intact, arena chunks are reused, and big documents work. */
static void test_arena_reuse(void **state) {
        pb_buf_t b;
        (void)state;
        pb_buf_init(&b, 0);
        for (int round = 0; round < 3; round++) {
                pb_buf_reset(&b);
                pb_buf_putc(&b, '[');
                int n = round == 1 ? 200000 : 50;
                for (int i = 0; i < n; i++)
                        pb_buf_printf(&b, "%s{\"id\":%d,\"s\":\"v\\u00e4%d\"}",
                                      i ? "," : "", i, i);
                pb_buf_putc(&b, ']');
                const pb_json_t *v = parse_n((char *)b.data, b.len);
                assert_non_null(v);
                assert_int_equal(v->count, (size_t)n);
                const pb_json_t *c = v->child;
                for (int i = 0; i < n; i++, c = c->next) {
                        char want[32];
                        snprintf(want, sizeof(want), "v\xc3\xa4%d", i);
                        assert_string_equal(pb_json_get(c, "s")->str, want);
                }
                assert_null(c);
                /* round trip writes the same compact text back */
                pb_buf_t w;
                pb_buf_init(&w, 0);
                assert_int_equal(pb_json_write(v, &w), PB_OK);
                const pb_json_t *v2 = parse_n((char *)w.data, w.len);
                assert_non_null(v2);
                assert_int_equal(v2->count, (size_t)n);
                pb_buf_free(&w);
        }
        /* a single string larger than a chunk */
        pb_buf_reset(&b);
        pb_buf_putc(&b, '"');
        for (int i = 0; i < 100000; i++)
                pb_buf_putc(&b, (uint8_t)('a' + i % 26));
        pb_buf_putc(&b, '"');
        const pb_json_t *v = parse_n((char *)b.data, b.len);
        assert_non_null(v);
        assert_int_equal(v->len, 100000);
        assert_int_equal(strlen(v->str), 100000);
        pb_buf_free(&b);
}

static void test_write_limits(void **state) {
        const pb_json_t *v;
        pb_buf_t b;
        (void)state;
        v = parse("{\"name\":\"Blau-Gelbes Kreuz\",\"n\":[1,2,3]}");
        assert_non_null(v);
        pb_buf_init(&b, 20);
        assert_int_equal(pb_buf_puts(&b, "pre:"), PB_OK);
        assert_int_equal(pb_json_write(v, &b), PB_ERR_LIMIT);
        assert_string_equal((char *)b.data, "pre:");
        assert_int_equal(pb_json_write(pb_json_get(v, "n"), &b), PB_OK);
        assert_string_equal((char *)b.data, "pre:[1,2,3]");
        assert_int_equal(pb_json_write(NULL, &b), PB_ERR_ARG);
        pb_buf_free(&b);
        /* control characters come back escaped, UTF-8 raw */
        v = parse("[\"\\u0001\\t\\\"\xc3\xa4\"]");
        assert_non_null(v);
        assert_string_equal(written(v), "[\"\\u0001\\t\\\"\xc3\xa4\"]");
}

static void test_pointer(void **state) {
        char p[PB_POINTER_MAX] = "";
        size_t prev;
        (void)state;
        prev = pb_pointer_push(p, sizeof(p), "items", 5);
        assert_int_equal(prev, 0);
        prev = pb_pointer_push_index(p, sizeof(p), 12);
        assert_int_equal(prev, 6);
        assert_string_equal(p, "/items/12");
        prev = pb_pointer_push(p, sizeof(p), "a/b~c", 5);
        assert_string_equal(p, "/items/12/a~1b~0c");
        p[prev] = 0;
        assert_string_equal(p, "/items/12");
        pb_pointer_push(p, sizeof(p), "", 0);
        assert_string_equal(p, "/items/12/");
        /* toklen is honoured (not NUL-terminated input) */
        p[0] = 0;
        pb_pointer_push(p, sizeof(p), "abcdef", 3);
        assert_string_equal(p, "/abc");

        /* truncation: never past size, never half an escape or UTF-8 */
        char s[8] = "";
        pb_pointer_push(s, sizeof(s), "abcdefghij", 10);
        assert_string_equal(s, "/abcdef");
        prev = pb_pointer_push(s, sizeof(s), "x", 1);
        assert_int_equal(prev, 7);
        assert_string_equal(s, "/abcdef");
        char t[6] = "/ab";
        pb_pointer_push(t, sizeof(t), "~", 1); /* needs 2, 1 free after / */
        assert_string_equal(t, "/ab/");
        char u[6] = "/a";
        pb_pointer_push(u, sizeof(u), "\xd0\xa0\xd1\x96", 4);
        assert_string_equal(u, "/a/\xd0\xa0");
        char w[1] = "";
        assert_int_equal(pb_pointer_push(w, sizeof(w), "a", 1), 0);
        assert_string_equal(w, "");
        assert_int_equal(pb_pointer_push(w, 0, "a", 1), 0);
}

static void test_utf8_valid(void **state) {
        (void)state;
        assert_true(pb_utf8_valid("", 0));
        assert_true(pb_utf8_valid("plain ascii text, long enough", 29));
        assert_true(pb_utf8_valid("Rivne \xd0\xa0\xd1\x96\xd0\xb2\xd0\xbd\xd0"
                                  "\xb5 Essen",
                                  22));
        assert_true(pb_utf8_valid("\xf4\x8f\xbf\xbf", 4));
        assert_true(pb_utf8_valid("a\0b", 3)); /* NUL is valid UTF-8 */
        assert_false(pb_utf8_valid("\xf4\x90\x80\x80", 4));
        assert_false(pb_utf8_valid("\xed\xa0\x80", 3));
        assert_false(pb_utf8_valid("\xc0\x80", 2));
        assert_false(pb_utf8_valid("\xe0\x9f\xbf", 3));
        assert_false(pb_utf8_valid("abcdefgh\x80", 9));
        assert_false(pb_utf8_valid("abcdefgh\xc3", 9));
        /* length is honoured: a sequence cut by len is invalid */
        assert_false(pb_utf8_valid("\xc3\xa4", 1));
        assert_true(pb_utf8_valid("\xc3\xa4\xff", 2));
        /* exhaustive 2-byte check against the definition */
        for (int a = 0x80; a < 0x100; a++)
                for (int c = 0; c < 0x100; c++) {
                        char s2[2] = {(char)a, (char)c};
                        int want =
                            a >= 0xC2 && a <= 0xDF && c >= 0x80 && c <= 0xBF;
                        assert_int_equal(pb_utf8_valid(s2, 2), want);
                }
}

PB_TEST_MAIN_WITH(
    setup, teardown, cmocka_unit_test(test_valid_documents),
    cmocka_unit_test(test_tree_shape), cmocka_unit_test(test_type_names),
    cmocka_unit_test(test_strings_and_escapes),
    cmocka_unit_test(test_reject_syntax), cmocka_unit_test(test_reject_numbers),
    cmocka_unit_test(test_reject_strings), cmocka_unit_test(test_reject_utf8),
    cmocka_unit_test(test_duplicate_keys),
    cmocka_unit_test(test_error_positions), cmocka_unit_test(test_depth_limit),
    cmocka_unit_test(test_node_limit), cmocka_unit_test(test_arena_reuse),
    cmocka_unit_test(test_write_limits), cmocka_unit_test(test_pointer),
    cmocka_unit_test(test_utf8_valid))
