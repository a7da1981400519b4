/* Unit tests: Avro container files (pb_avrofile.c), the archive sink's
 * storage. Files written from real example events are read back by avro-c
 * (an independent reader) and compared field by field with the codec's own
 * decoding; the schema is embedded verbatim (logical types kept); a file
 * cut off inside its last block still yields every complete block to
 * avro-c after pb_avrofile_recover(), and nothing before it is lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <avro.h>
#include <cmocka.h>

#include "pb_test.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "partnerbus/pb_avrofile.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_schema.h"

typedef struct fx {
        char dir[64];
        char path[128];
        pb_schema_t *schema;
        pb_codec_t *codec;
        pb_buf_t body;
} fx_t;

static int setup(void **state) {
        fx_t *f = calloc(1, sizeof(*f));
        char p[1024], err[256];
        const char *src = getenv("PB_SOURCE_DIR");
        snprintf(f->dir, sizeof(f->dir), "/tmp/pbarch.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/a.avro", f->dir);
        snprintf(p, sizeof(p), "%s/schemas/funds.granted.avsc",
                 src ? src : ".");
        f->schema = pb_schema_new_file(p, err, sizeof(err));
        if (!f->schema)
                fail_msg("schema %s: %s (set PB_SOURCE_DIR)", p, err);
        f->codec = pb_codec_new();
        pb_buf_init(&f->body, 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx_t *f = *state;
        char cmd[200];
        pb_buf_free(&f->body);
        pb_codec_destroy(f->codec);
        pb_schema_destroy(f->schema);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

/* encodes the example with amount and grant_id varied by i */
static void encode_event(fx_t *f, int i) {
        char json[2048], err[256];
        pb_errors_t errs;
        pb_event_meta_t meta;
        pb_resp_t r;
        snprintf(json, sizeof(json),
                 "{\"event_id\":\"2b3c4d5e-6f70-4182-93a4-%012d\","
                 "\"occurred_at\":\"2022-12-05T12:00:00.000Z\","
                 "\"source\":\"staatskanzlei-nrw\",\"grant_id\":\"G-%d\","
                 "\"grantor\":{\"name\":\"Staatskanzlei\",\"kind\":"
                 "\"STATE_GOVERNMENT\",\"city\":\"Düsseldorf\",\"region\":"
                 "\"Nordrhein-Westfalen\",\"country\":\"DE\"},"
                 "\"recipient\":{\"name\":\"Blau-Gelbes Kreuz\",\"kind\":"
                 "\"NGO\",\"city\":\"Köln\",\"region\":null,\"country\":"
                 "\"DE\"},\"programme\":null,\"purpose\":\"Generatoren\","
                 "\"amount\":\"%d.%02d\",\"currency\":\"EUR\","
                 "\"recurrence\":\"ONCE\",\"granted_on\":\"2022-12-05\","
                 "\"note\":null}",
                 i, i, 1000 + i, i % 100);
        (void)err;
        pb_errors_init(&errs);
        pb_buf_reset(&f->body);
        r = pb_codec_json_to_avro(f->codec, f->schema, json, strlen(json), NULL,
                                  &f->body, &meta, &errs);
        if (r != PB_OK) {
                char e[1024];
                pb_errors_format(&errs, e, sizeof(e));
                fail_msg("encode: %s", e);
        }
}

/* a new container file at f->path for f->schema with blocks of block_size
 * bytes (0: the default); *exists as pb_avrofile_create sets it */
static pb_avrofile_writer_t *create(fx_t *f, size_t block_size, int *exists) {
        char err[256];
        pb_avrofile_writer_t *w =
            pb_avrofile_create(f->path, pb_schema_json(f->schema), block_size,
                               exists, err, sizeof(err));
        if (!w)
                fail_msg("create %s: %s", f->path, err);
        return w;
}

/* appends event i (encode_event) to w */
static void append_event(fx_t *f, pb_avrofile_writer_t *w, int i) {
        char err[256];
        encode_event(f, i);
        assert_int_equal(
            pb_avrofile_append(w, f->body.data, f->body.len, err, sizeof(err)),
            PB_OK);
}

/* cuts the last n bytes off the file at path (a crash mid-write) */
static void cut_tail(const char *path, size_t n) {
        size_t len;
        char *data = pb_test_slurp(path, &len);
        int fd = open(path, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len - n), (ssize_t)(len - n));
        close(fd);
        free(data);
}

/* reads every record with avro-c; returns the count, fills grant ids */
static int avroc_read(const char *path, int expect_ok_end, char ids[][32],
                      int max) {
        avro_file_reader_t rd;
        avro_schema_t ws;
        avro_value_iface_t *iface;
        avro_value_t v, fld;
        int n = 0, rc;
        assert_int_equal(avro_file_reader(path, &rd), 0);
        ws = avro_file_reader_get_writer_schema(rd);
        iface = avro_generic_class_from_schema(ws);
        avro_generic_value_new(iface, &v);
        while ((rc = avro_file_reader_read_value(rd, &v)) == 0) {
                const char *s;
                size_t sl;
                assert_int_equal(
                    avro_value_get_by_name(&v, "grant_id", &fld, NULL), 0);
                assert_int_equal(avro_value_get_string(&fld, &s, &sl), 0);
                if (n < max)
                        snprintf(ids[n], 32, "%s", s);
                n++;
        }
        if (expect_ok_end)
                assert_int_equal(rc, EOF);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(ws);
        avro_file_reader_close(rd);
        return n;
}

static void test_write_read_avroc(void **state) {
        fx_t *f = *state;
        char err[256], ids[300][32];
        pb_avrofile_writer_t *w;
        pb_avrofile_reader_t *r;
        int i, n, exists = 0, partial;
        const uint8_t *d;
        size_t l;
        int64_t cnt, total = 0;
        w = create(f, 4096, &exists);
        for (i = 0; i < 250; i++) {
                append_event(f, w, i);
                if (i % 37 == 0)
                        assert_int_equal(
                            pb_avrofile_flush(w, 1, err, sizeof(err)), PB_OK);
        }
        assert_int_equal(pb_avrofile_count(w), 250);
        assert_int_equal(pb_avrofile_close(w, err, sizeof(err)), PB_OK);
        /* O_EXCL: never overwrite */
        assert_null(pb_avrofile_create(f->path, pb_schema_json(f->schema), 0,
                                       &exists, err, sizeof(err)));
        assert_int_equal(exists, 1);

        n = avroc_read(f->path, 1, ids, 300);
        assert_int_equal(n, 250);
        for (i = 0; i < 250; i++) {
                char want[32];
                snprintf(want, sizeof(want), "G-%d", i);
                assert_string_equal(ids[i], want);
        }
        /* schema embedded verbatim: logical types and our attributes */
        r = pb_avrofile_open(f->path, err, sizeof(err));
        assert_non_null(r);
        assert_string_equal(pb_avrofile_schema(r), pb_schema_json(f->schema));
        assert_non_null(strstr(pb_avrofile_schema(r), "\"logicalType\""));
        assert_string_equal(pb_avrofile_codec(r), "null");
        while (pb_avrofile_next_block(r, &d, &l, &cnt, &partial) == PB_OK)
                total += cnt;
        assert_int_equal(partial, 0);
        assert_int_equal(total, 250);
        pb_avrofile_reader_destroy(r);
}

/* blocks decode with the codec to the same JSON as the published event */
static void test_codec_roundtrip(void **state) {
        fx_t *f = *state;
        char err[256];
        pb_avrofile_writer_t *w;
        pb_avrofile_reader_t *r;
        pb_buf_t js;
        const uint8_t *d;
        size_t l;
        int64_t cnt;
        int partial;
        w = create(f, 0, NULL);
        append_event(f, w, 7);
        assert_int_equal(pb_avrofile_close(w, err, sizeof(err)), PB_OK);
        r = pb_avrofile_open(f->path, err, sizeof(err));
        assert_non_null(r);
        assert_int_equal(pb_avrofile_next_block(r, &d, &l, &cnt, &partial),
                         PB_OK);
        assert_int_equal(cnt, 1);
        assert_int_equal(l, f->body.len);
        assert_memory_equal(d, f->body.data, l);
        pb_buf_init(&js, 0);
        assert_int_equal(pb_codec_avro_to_json(f->codec, f->schema, NULL, d, l,
                                               &js, NULL, err, sizeof(err)),
                         PB_OK);
        assert_non_null(strstr((char *)js.data, "\"amount\":\"1007.07\""));
        assert_non_null(strstr((char *)js.data, "\"grant_id\":\"G-7\""));
        pb_buf_free(&js);
        pb_avrofile_reader_destroy(r);
}

/* a crash inside the last block: every earlier block survives */
static void test_partial_tail(void **state) {
        fx_t *f = *state;
        char err[256], ids[100][32];
        pb_avrofile_writer_t *w;
        int i, n;
        int64_t cut = 0;
        struct stat st1, st2;
        w = create(f, 0, NULL);
        for (i = 0; i < 30; i++) {
                append_event(f, w, i);
                if (i == 19)
                        assert_int_equal(
                            pb_avrofile_flush(w, 1, err, sizeof(err)), PB_OK);
        }
        assert_int_equal(pb_avrofile_flush(w, 1, err, sizeof(err)), PB_OK);
        assert_int_equal(stat(f->path, &st1), 0);
        assert_int_equal(pb_avrofile_close(w, err, sizeof(err)), PB_OK);
        /* simulate the crash: keep only half of the second block */
        cut_tail(f->path, 200);
        /* avro-c still gets the first block */
        n = avroc_read(f->path, 0, ids, 100);
        assert_int_equal(n, 20);
        assert_int_equal(pb_avrofile_recover(f->path, &cut, err, sizeof(err)),
                         PB_OK);
        assert_true(cut > 0);
        assert_int_equal(stat(f->path, &st2), 0);
        assert_true(st2.st_size < st1.st_size);
        /* after recovery the file ends cleanly */
        n = avroc_read(f->path, 1, ids, 100);
        assert_int_equal(n, 20);
        assert_string_equal(ids[19], "G-19");
        /* nothing left to cut */
        assert_int_equal(pb_avrofile_recover(f->path, &cut, err, sizeof(err)),
                         PB_OK);
        assert_int_equal(cut, 0);
}

/* Reading path: ok blocks, then the result last with *partial as
 * partial. */
static void blocks_then(const char *path, int ok, pb_resp_t last, int partial) {
        char err[256];
        pb_avrofile_reader_t *r = pb_avrofile_open(path, err, sizeof(err));
        const uint8_t *d;
        size_t l;
        int64_t cnt;
        int got_partial = -1;
        assert_non_null(r);
        while (ok-- > 0)
                assert_int_equal(
                    pb_avrofile_next_block(r, &d, &l, &cnt, &got_partial),
                    PB_OK);
        assert_int_equal(pb_avrofile_next_block(r, &d, &l, &cnt, &got_partial),
                         last);
        assert_int_equal(got_partial, partial);
        pb_avrofile_reader_destroy(r);
}

/* the reader tells a clean end (PB_END) from a damaged tail
 * (PB_ERR_TRUNCATED with *partial) */
static void test_end_vs_truncated(void **state) {
        fx_t *f = *state;
        char err[256];
        pb_avrofile_writer_t *w = create(f, 0, NULL);
        append_event(f, w, 1);
        assert_int_equal(pb_avrofile_flush(w, 0, err, sizeof(err)), PB_OK);
        append_event(f, w, 2);
        assert_int_equal(pb_avrofile_close(w, err, sizeof(err)), PB_OK);
        blocks_then(f->path, 2, PB_END, 0);
        /* cut into the second block */
        cut_tail(f->path, 5);
        blocks_then(f->path, 1, PB_ERR_TRUNCATED, 1);
}

/* recovery leaves files alone that a writer still holds */
static void test_recover_skips_locked(void **state) {
        fx_t *f = *state;
        char err[256];
        pb_avrofile_writer_t *w;
        int64_t cut = 5;
        w = create(f, 0, NULL);
        append_event(f, w, 1);
        assert_int_equal(pb_avrofile_recover(f->path, &cut, err, sizeof(err)),
                         PB_OK);
        assert_int_equal(cut, 0);
        assert_int_equal(pb_avrofile_close(w, err, sizeof(err)), PB_OK);
        assert_int_equal(avroc_read(f->path, 1, (char(*)[32])err, 1), 1);
}

/* garbage and an empty file are not containers; recovery leaves them as
 * they are (it never deletes: the archive sink moves such a file aside) */
static void test_not_a_container(void **state) {
        fx_t *f = *state;
        char err[256];
        int64_t cut = 0;
        FILE *fp = fopen(f->path, "wb");
        assert_non_null(fp);
        fputs("Obj", fp);
        fclose(fp);
        assert_null(pb_avrofile_open(f->path, err, sizeof(err)));
        assert_int_equal(pb_avrofile_recover(f->path, &cut, err, sizeof(err)),
                         PB_ERR_INVALID);
        assert_int_equal(cut, 0);
        assert_int_equal(access(f->path, F_OK), 0);
        fp = fopen(f->path, "wb");
        fputs("Obj\001\377\377\377\377\377\377\377\377\377\377\377", fp);
        fclose(fp);
        assert_null(pb_avrofile_open(f->path, err, sizeof(err)));
}

PB_TEST_MAIN(
    cmocka_unit_test_setup_teardown(test_write_read_avroc, setup, teardown),
    cmocka_unit_test_setup_teardown(test_codec_roundtrip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_partial_tail, setup, teardown),
    cmocka_unit_test_setup_teardown(test_end_vs_truncated, setup, teardown),
    cmocka_unit_test_setup_teardown(test_recover_skips_locked, setup, teardown),
    cmocka_unit_test_setup_teardown(test_not_a_container, setup, teardown))
