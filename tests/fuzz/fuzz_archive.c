/* libFuzzer target: reading back the relay's archive (Avro container
 * files; a damaged disk or a foreign file in the directory makes them
 * untrusted). The input is written as the only file of a topic and read
 * with pb_archive_next; each object is decoded with the file's embedded
 * schema. Reading must end (events bounded by the file's bytes), and never
 * crash, read out of bounds or allocate without bound. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "partnerbus/pb_codec.h"
#include "pb_archive.h"

static char fz_dir[64];
static char fz_file[128];
static pb_codec_t *fz_codec;

static void fz_setup(void) {
        char topic[128];
        snprintf(fz_dir, sizeof(fz_dir), "/tmp/pb-fuzz-archive.XXXXXX");
        if (!mkdtemp(fz_dir))
                abort();
        snprintf(topic, sizeof(topic), "%s/t", fz_dir);
        if (mkdir(topic, 0700))
                abort();
        snprintf(fz_file, sizeof(fz_file), "%s/t/0.avro", fz_dir);
        if (!(fz_codec = pb_codec_new()))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[512];
        pb_archive_t *a;
        pb_archive_event_t ev;
        pb_buf_t out;
        FILE *fp;
        int64_t n = 0;
        if (!fz_codec)
                fz_setup();
        fp = fopen(fz_file, "wb");
        if (!fp || fwrite(data, 1, size, fp) != size || fclose(fp))
                abort();
        a = pb_archive_open(fz_dir, "t", NULL, err, sizeof(err));
        if (!a)
                abort();
        pb_buf_init(&out, 1u << 20);
        while (pb_archive_next(a, &ev, err, sizeof(err)) == PB_OK) {
                /* an object takes at least one byte, unless its schema
                 * writes nothing; never more objects than bytes + blocks */
                if (++n > (int64_t)size * 8 + 64)
                        abort();
                pb_buf_reset(&out);
                (void)pb_codec_avro_to_json(fz_codec, ev.writer, NULL, ev.body,
                                            ev.body_len, &out, NULL, err,
                                            sizeof(err));
        }
        pb_buf_free(&out);
        pb_archive_destroy(a);
        return 0;
}
