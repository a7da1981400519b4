/* partnerbus - scaffolding shared by the cmocka unit tests (include after
 * <cmocka.h>). */
#ifndef PB_TEST_H
#define PB_TEST_H

#include <stdio.h>
#include <stdlib.h>

/* The main() of a test program: runs the given cmocka_unit_test(...)
 * entries as one group, with the group set-up and tear-down functions
 * setup and teardown (PB_TEST_MAIN_WITH) or without (PB_TEST_MAIN). */
#define PB_TEST_MAIN_WITH(setup, teardown, ...)                                \
        int main(void) {                                                       \
                const struct CMUnitTest tests[] = {__VA_ARGS__};               \
                return cmocka_run_group_tests(tests, setup, teardown);         \
        }
#define PB_TEST_MAIN(...) PB_TEST_MAIN_WITH(NULL, NULL, __VA_ARGS__)

/* An entry of PB_TEST_MAIN: the test function fn under the name name,
 * started with *state == initial (one group of a table of cases). */
#define PB_TEST_STATE(name, fn, initial)                                       \
        { name, fn, NULL, NULL, (void *)(initial) }

/* The whole file at path, NUL-terminated (free it); its length in *len if
 * len. Fails the test if it cannot be read. */
static inline char *pb_test_slurp(const char *path, size_t *len) {
        FILE *fp = fopen(path, "rb");
        char *b;
        long n;
        if (!fp)
                fail_msg("cannot open %s", path);
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        b = malloc((size_t)n + 1);
        assert_non_null(b);
        assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
        b[n] = 0;
        fclose(fp);
        if (len)
                *len = (size_t)n;
        return b;
}

#endif
