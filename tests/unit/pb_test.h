/* partnerbus - scaffolding shared by the cmocka unit tests (include after
 * <cmocka.h>). */
#ifndef PB_TEST_H
#define PB_TEST_H

/* The main() of a test program: runs the given cmocka_unit_test(...)
 * entries as one group without group set-up or tear-down. */
#define PB_TEST_MAIN(...)                                                      \
        int main(void) {                                                       \
                const struct CMUnitTest tests[] = {__VA_ARGS__};               \
                return cmocka_run_group_tests(tests, NULL, NULL);              \
        }

#endif
