/* partnerbus dev's files (services/dev): the development tokens kept across
 * restarts, with mode 0600, in a form the gateway loads; the helpers for
 * files, trees and ports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "pb_dev.h"
#include "pb_gw.h"
#include "pb_test.h"

static char dir[256];

static int setup(void **state) {
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/pb_test_dev.XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        return pb_dev_rmtree(dir);
}

static int mode_of(const char *name) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (stat(path, &st) < 0)
                return -1;
        return (int)(st.st_mode & 0777);
}

static void write_text(const char *name, const char *text, int mode) {
        char path[512];
        FILE *fp;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
        chmod(path, (mode_t)mode);
}

static int is_token(const char *t, const char *prefix) {
        size_t i, n = strlen(prefix);
        if (strncmp(t, prefix, n) || strlen(t) != n + 32)
                return 0;
        for (i = n; t[i]; i++)
                if (!strchr("0123456789abcdef", t[i]))
                        return 0;
        return 1;
}

/* A first start makes tokens; a second finds the same ones, files 0600. */
static void test_tokens_kept(void **state) {
        pb_dev_orgs_t a, b;
        char conf[512];
        size_t i;
        (void)state;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        /* an older file with a loose mode and a line that is no token */
        write_text("dev-tokens.txt", "old\nstadt-koeln not-a-token\n", 0644);
        pb_dev_tokens_load(&a, dir);
        assert_int_equal(a.n, 0);
        assert_true(is_token(a.operator_token, "pbdev_op_"));
        assert_non_null(pb_dev_org_add(&a, "dev-org"));
        assert_non_null(pb_dev_org_add(&a, "stadt-koeln"));
        assert_ptr_equal(pb_dev_org_add(&a, "dev-org"), &a.orgs[0]);
        assert_true(is_token(a.orgs[1].token, "pbdev_"));
        assert_string_not_equal(a.orgs[0].token, a.orgs[1].token);
        assert_int_equal(pb_dev_tokens_save(&a, dir, conf, sizeof(conf)), 0);
        assert_int_equal(mode_of("dev-tokens.txt"), 0600);
        assert_int_equal(mode_of("operator-token"), 0600);

        pb_dev_tokens_load(&b, dir);
        assert_int_equal(b.n, 2);
        assert_string_equal(b.operator_token, a.operator_token);
        for (i = 0; i < a.n; i++) {
                pb_dev_org_t *o = pb_dev_org_find(&b, a.orgs[i].id);
                assert_non_null(o);
                assert_string_equal(o->token, a.orgs[i].token);
        }
        /* a new organisation gets a token, the others keep theirs */
        assert_non_null(pb_dev_org_add(&b, "lvr"));
        assert_string_equal(pb_dev_org_find(&b, "stadt-koeln")->token,
                            a.orgs[1].token);
}

/* The gateway accepts dev's tokens file: digests only, every token found
 * under its organisation. */
static void test_gateway_loads_conf(void **state) {
        pb_dev_orgs_t o;
        char conf[512], err[256], *text;
        pb_gw_tokens_t *t;
        size_t i;
        FILE *fp;
        long n;
        (void)state;
        memset(&o, 0, sizeof(o));
        pb_dev_tokens_load(&o, dir);
        pb_dev_org_add(&o, "blau-gelbes-kreuz");
        pb_dev_org_add(&o, "staatskanzlei-nrw");
        assert_int_equal(pb_dev_tokens_save(&o, dir, conf, sizeof(conf)), 0);
        t = pb_gw_tokens_load(conf, err, sizeof(err));
        assert_non_null(t);
        for (i = 0; i < o.n; i++) {
                const pb_gw_token_t *e = pb_gw_tokens_find(
                    t, o.orgs[i].token, strlen(o.orgs[i].token));
                assert_non_null(e);
                assert_string_equal(e->org, o.orgs[i].id);
                assert_true(pb_gw_token_allows(e, "aid.dispatched"));
        }
        assert_null(
            pb_gw_tokens_find(t, o.operator_token, strlen(o.operator_token)));
        pb_gw_tokens_destroy(t);
        /* no plain token in the gateway's file */
        fp = fopen(conf, "rb");
        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        rewind(fp);
        text = calloc(1, (size_t)n + 1);
        assert_non_null(text);
        assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
        fclose(fp);
        assert_null(strstr(text, "pbdev_"));
        free(text);
}

static void test_write_file_and_rmtree(void **state) {
        char path[512], line[64], sub[512];
        (void)state;
        write_text("loose", "x\n", 0644);
        snprintf(path, sizeof(path), "%s/loose", dir);
        assert_int_equal(pb_dev_write_file(path, "secret\n", 0600), 0);
        assert_int_equal(mode_of("loose"), 0600);
        assert_int_equal(pb_dev_read_line(path, line, sizeof(line)), 0);
        assert_string_equal(line, "secret");
        snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
        assert_int_equal(pb_dev_mkdirs(sub), 0);
        snprintf(path, sizeof(path), "%s/a/b/c/f", dir);
        assert_int_equal(pb_dev_write_file(path, "1\n", 0644), 0);
        snprintf(sub, sizeof(sub), "%s/a", dir);
        assert_int_equal(pb_dev_rmtree(sub), 0);
        assert_int_equal(access(sub, F_OK), -1);
        assert_int_equal(pb_dev_rmtree(sub), 0); /* gone already: fine */
}

static void test_ports(void **state) {
        struct sockaddr_in sa;
        int port = pb_dev_free_port(), fd;
        (void)state;
        assert_true(port > 0);
        assert_true(pb_dev_port_free(port));
        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 1), 0);
        assert_false(pb_dev_port_free(port));
        close(fd);
}

PB_TEST_MAIN(cmocka_unit_test_setup_teardown(test_tokens_kept, setup, teardown),
             cmocka_unit_test_setup_teardown(test_gateway_loads_conf, setup,
                                             teardown),
             cmocka_unit_test_setup_teardown(test_write_file_and_rmtree, setup,
                                             teardown),
             cmocka_unit_test(test_ports))
