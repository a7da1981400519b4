/* Unit tests for pb_avrofile.c's block thread: many blocks handed over
 * while the next one fills come out complete and in order, and a write
 * that fails in the thread (file size limit, EFBIG) is reported by the
 * next append or flush and by close - never reported as flushed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pb_test.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "partnerbus/pb_avrofile.h"

static const char *schema_json = "{\"type\":\"record\",\"name\":\"T\","
                                 "\"fields\":[{\"name\":\"s\",\"type\":"
                                 "\"string\"}]}";

/* A new file of schema_json records, blocks of up to block bytes, at a
 * path of its own made from name (written to p, n bytes). */
static pb_avrofile_writer_t *create(char *p, size_t n, const char *name,
                                    size_t block) {
        char err[256];
        pb_avrofile_writer_t *w;
        snprintf(p, n, "%s/pb-avrofile-async-%d-%s.avro",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
                 name);
        unlink(p);
        w = pb_avrofile_create(p, schema_json, block, NULL, err, sizeof(err));
        if (!w)
                fail_msg("%s: %s", p, err);
        return w;
}

/* datum i: a string "item-<i>" padded to 100 bytes (zigzag length 200) */
static size_t datum(uint8_t *b, unsigned i) {
        b[0] = 0xc8;
        b[1] = 0x01; /* 100 */
        memset(b + 2, '.', 100);
        snprintf((char *)b + 2, 100, "item-%08u", i);
        b[2 + 13] = '.';
        return 102;
}

static void test_order(void **state) {
        char path[512], err[256];
        uint8_t b[128];
        unsigned next = 0;
        const uint8_t *d;
        size_t l;
        int64_t cnt, blocks = 0;
        int partial;
        (void)state;
        pb_avrofile_writer_t *w = create(path, sizeof(path), "order", 1000);
        for (unsigned i = 0; i < 20000; i++) {
                assert_int_equal(
                    pb_avrofile_append(w, b, datum(b, i), err, sizeof(err)),
                    PB_OK);
                if (i % 7919 == 0)
                        assert_int_equal(
                            pb_avrofile_flush(w, 1, err, sizeof(err)), PB_OK);
        }
        assert_int_equal(pb_avrofile_count(w), 20000);
        assert_int_equal(pb_avrofile_close(w, err, sizeof(err)), PB_OK);
        pb_avrofile_reader_t *r = pb_avrofile_open(path, err, sizeof(err));
        assert_non_null(r);
        while (pb_avrofile_next_block(r, &d, &l, &cnt, &partial) == PB_OK) {
                assert_int_equal(l, (size_t)cnt * 102);
                for (int64_t k = 0; k < cnt; k++, next++) {
                        uint8_t want[128];
                        datum(want, next);
                        assert_memory_equal(d + k * 102, want, 102);
                }
                blocks++;
        }
        assert_int_equal(partial, 0);
        assert_int_equal(next, 20000);
        assert_true(blocks > 1000); /* went through the thread */
        pb_avrofile_reader_destroy(r);
        unlink(path);
}

static void test_write_failure(void **state) {
        char path[512], err[256];
        uint8_t b[128];
        struct rlimit old, lim;
        pb_resp_t rc = PB_OK;
        unsigned i;
        (void)state;
        pb_avrofile_writer_t *w = create(path, sizeof(path), "efbig", 4096);
        /* from now on the file may not grow beyond 64 KiB */
        signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
        lim = old;
        lim.rlim_cur = 64 * 1024;
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        for (i = 0; i < 5000 && rc == PB_OK; i++)
                rc = pb_avrofile_append(w, b, datum(b, i), err, sizeof(err));
        if (rc == PB_OK)
                rc = pb_avrofile_flush(w, 1, err, sizeof(err));
        assert_int_equal(rc, PB_ERR_IO);
        assert_non_null(strstr(err, "write"));
        /* stays failed: nothing after it is ever called flushed */
        assert_int_not_equal(pb_avrofile_flush(w, 1, err, sizeof(err)), PB_OK);
        assert_int_not_equal(pb_avrofile_close(w, err, sizeof(err)), PB_OK);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        signal(SIGXFSZ, SIG_DFL);
        /* what did reach the file reads back up to a clean end or a
         * partial last block */
        {
                int64_t cut = 0;
                assert_int_equal(
                    pb_avrofile_recover(path, &cut, err, sizeof(err)), PB_OK);
                pb_avrofile_reader_t *r =
                    pb_avrofile_open(path, err, sizeof(err));
                const uint8_t *d;
                size_t l;
                int64_t cnt;
                int partial;
                unsigned next = 0;
                assert_non_null(r);
                while (pb_avrofile_next_block(r, &d, &l, &cnt, &partial) ==
                       PB_OK)
                        next += (unsigned)cnt;
                assert_int_equal(partial, 0);
                assert_true(next > 0 && next < i);
                pb_avrofile_reader_destroy(r);
        }
        unlink(path);
}

PB_TEST_MAIN(cmocka_unit_test(test_order), cmocka_unit_test(test_write_failure))
