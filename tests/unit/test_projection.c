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

static const char *ev_text =
    "{\"event_id\":\"e1\",\"type\":\"t\",\"shipment_id\":\"S-1\","
    "\"sender\":{\"name\":\"BGK\",\"contact\":{\"phone\":\"+49\"}},"
    "\"items\":[{\"category\":\"MEDICAL\",\"price\":\"3.00\"},"
    "{\"category\":\"ENERGY\",\"price\":\"4.00\"}],"
    "\"a/b\":1,\"m~n\":2,\"note\":null}";

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

static void test_identity(void **state) {
        (void)state;
        assert_string_equal(project(NULL, 0, NULL, 0), ev_text);
}

static void test_include(void **state) {
        const char *inc[] = {"/shipment_id", "/sender/name"};
        (void)state;
        assert_string_equal(project(inc, 2, NULL, 0),
                            "{\"event_id\":\"e1\",\"type\":\"t\","
                            "\"shipment_id\":\"S-1\","
                            "\"sender\":{\"name\":\"BGK\"}}");
}

static void test_exclude(void **state) {
        const char *exc[] = {"/sender/contact", "/items/*/price", "/note"};
        (void)state;
        assert_string_equal(
            project(NULL, 0, exc, 3),
            "{\"event_id\":\"e1\",\"type\":\"t\",\"shipment_id\":\"S-1\","
            "\"sender\":{\"name\":\"BGK\"},"
            "\"items\":[{\"category\":\"MEDICAL\"},{\"category\":"
            "\"ENERGY\"}],\"a/b\":1,\"m~n\":2}");
}

static void test_include_then_exclude(void **state) {
        const char *inc[] = {"/sender", "/items/1"};
        const char *exc[] = {"/sender/contact/phone", "/event_id", "/type"};
        (void)state;
        /* event_id and type stay; an emptied object stays when included
         * whole */
        assert_string_equal(project(inc, 2, exc, 3),
                            "{\"event_id\":\"e1\",\"type\":\"t\","
                            "\"sender\":{\"name\":\"BGK\",\"contact\":{}},"
                            "\"items\":[{\"category\":\"ENERGY\","
                            "\"price\":\"4.00\"}]}");
}

static void test_partial_empty_dropped(void **state) {
        const char *inc[] = {"/sender/missing", "/items/7", "/nothing"};
        (void)state;
        assert_string_equal(project(inc, 3, NULL, 0),
                            "{\"event_id\":\"e1\",\"type\":\"t\"}");
}

static void test_escapes(void **state) {
        const char *inc[] = {"/a~1b", "/m~0n"};
        (void)state;
        assert_string_equal(project(inc, 2, NULL, 0),
                            "{\"event_id\":\"e1\",\"type\":\"t\","
                            "\"a/b\":1,\"m~n\":2}");
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

PB_TEST_MAIN(cmocka_unit_test(test_identity), cmocka_unit_test(test_include),
             cmocka_unit_test(test_exclude),
             cmocka_unit_test(test_include_then_exclude),
             cmocka_unit_test(test_partial_empty_dropped),
             cmocka_unit_test(test_escapes), cmocka_unit_test(test_malformed))
