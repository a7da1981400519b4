/* Unit tests: small text helpers of lib/base shared by the codec and the
 * services (pb_i64_text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pb_test.h"

#include "partnerbus/pb_util.h"

/* pb_i64_text: the decimal text, ending where told, both extremes. */
static void test_i64_text(void **state) {
        static const struct {
                int64_t v;
                const char *text;
        } cases[] = {
            {0, "0"},
            {7, "7"},
            {-7, "-7"},
            {1234567890, "1234567890"},
            {INT64_MAX, "9223372036854775807"},
            {INT64_MIN, "-9223372036854775808"},
        };
        char b[PB_I64_TEXT_MAX + 1];
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                b[PB_I64_TEXT_MAX] = 0;
                char *s = pb_i64_text(b + PB_I64_TEXT_MAX, cases[i].v);
                assert_true(s >= b);
                assert_string_equal(s, cases[i].text);
        }
}

PB_TEST_MAIN(cmocka_unit_test(test_i64_text))
