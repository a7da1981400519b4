/* Unit tests: field projection (pb_projection.c): include, exclude after
 * include, event_id and type always kept, arrays (index and "*"), escaped
 * tokens, empty partial members left out, malformed pointers refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_projection.h"
#include "pb_test.h"

#define EV_TEXT                                                                \
        "{\"event_id\":\"e1\",\"type\":\"t\",\"shipment_id\":\"S-1\","         \
        "\"sender\":{\"name\":\"BGK\",\"contact\":{\"phone\":\"+49\"}},"       \
        "\"items\":[{\"category\":\"MEDICAL\",\"price\":\"3.00\"},"            \
        "{\"category\":\"ENERGY\",\"price\":\"4.00\"}],"                       \
        "\"a/b\":1,\"m~n\":2,\"note\":null}"
static const char *ev_text = EV_TEXT;

/* the projection of ev_text as text (static buffer), or NULL when the
 * projection does not compile */
static const char *project(const char *const *inc, size_t ninc,
                           const char *const *exc, size_t nexc) {
        static char res[2048];
        pb_json_parser_t *jp = pb_json_parser_new(NULL);
        char err[256];
        const pb_json_t *ev;
        pb_projection_t *p;
        pb_buf_t out;
        assert_non_null(jp);
        ev = pb_json_parse(jp, ev_text, strlen(ev_text), err, sizeof(err));
        assert_non_null(ev);
        p = pb_projection_new(inc, ninc, exc, nexc, err, sizeof(err));
        if (!p) {
                assert_true(err[0] == '/');
                pb_json_parser_destroy(jp);
                return NULL;
        }
        pb_buf_init(&out, 0);
        assert_int_equal(pb_projection_apply(p, ev, &out), PB_OK);
        snprintf(res, sizeof(res), "%s", (char *)out.data);
        pb_buf_free(&out);
        pb_projection_destroy(p);
        pb_json_parser_destroy(jp);
        return res;
}

/* Projections of ev_text: pointers included and excluded (each list ends
 * at its first NULL), the text wanted. */
struct projection_case {
        const char *inc[4], *exc[4], *want;
};

static const struct projection_case cases[] = {
    {{NULL}, {NULL}, EV_TEXT},
    {{"/shipment_id", "/sender/name"},
     {NULL},
     "{\"event_id\":\"e1\",\"type\":\"t\","
     "\"shipment_id\":\"S-1\","
     "\"sender\":{\"name\":\"BGK\"}}"},
    {{NULL},
     {"/sender/contact", "/items/*/price", "/note"},
     "{\"event_id\":\"e1\",\"type\":\"t\",\"shipment_id\":\"S-1\","
     "\"sender\":{\"name\":\"BGK\"},"
     "\"items\":[{\"category\":\"MEDICAL\"},{\"category\":"
     "\"ENERGY\"}],\"a/b\":1,\"m~n\":2}"},
    /* event_id and type stay; an emptied object stays when included
     * whole */
    {{"/sender", "/items/1"},
     {"/sender/contact/phone", "/event_id", "/type"},
     "{\"event_id\":\"e1\",\"type\":\"t\","
     "\"sender\":{\"name\":\"BGK\",\"contact\":{}},"
     "\"items\":[{\"category\":\"ENERGY\","
     "\"price\":\"4.00\"}]}"},
    {{"/sender/missing", "/items/7", "/nothing"},
     {NULL},
     "{\"event_id\":\"e1\",\"type\":\"t\"}"},
    {{"/a~1b", "/m~0n"},
     {NULL},
     "{\"event_id\":\"e1\",\"type\":\"t\","
     "\"a/b\":1,\"m~n\":2}"},
};

static size_t count(const char *const *v) {
        size_t n = 0;
        while (n < 4 && v[n])
                n++;
        return n;
}

/* The test whose initial state points to one of cases. */
static void test_case(void **state) {
        const struct projection_case *c = *state;
        size_t ninc = count(c->inc), nexc = count(c->exc);
        assert_string_equal(
            project(ninc ? c->inc : NULL, ninc, nexc ? c->exc : NULL, nexc),
            c->want);
}

static void test_malformed(void **state) {
        const char *bad1[] = {"shipment_id"};
        const char *bad2[] = {"/a~2"};
        const char *bad3[] = {""};
        char deep[200], err[128];
        const char *bad4[] = {deep};
        const char *many[PB_PROJECTION_MAX + 1];
        size_t i;
        (void)state;
        assert_null(project(bad1, 1, NULL, 0));
        assert_null(project(NULL, 0, bad2, 1));
        assert_null(project(bad3, 1, NULL, 0));
        deep[0] = 0;
        for (i = 0; i < PB_PROJECTION_MAX_DEPTH + 1; i++)
                strcat(deep, "/x");
        assert_null(project(bad4, 1, NULL, 0));
        for (i = 0; i <= PB_PROJECTION_MAX; i++)
                many[i] = "/x";
        assert_null(pb_projection_new(many, PB_PROJECTION_MAX + 1, NULL, 0, err,
                                      sizeof(err)));
}

#define CASE(name, i) PB_TEST_STATE(name, test_case, &cases[i])

PB_TEST_MAIN(CASE("test_identity", 0), CASE("test_include", 1),
             CASE("test_exclude", 2), CASE("test_include_then_exclude", 3),
             CASE("test_partial_empty_dropped", 4), CASE("test_escapes", 5),
             cmocka_unit_test(test_malformed))
