/* partnerbus - reads one topic of the relay's archive (Avro container
 * files written by connectors/archive) object by object, in file-name
 * order. Each file's embedded schema is compiled once per file. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_avrofile.h"
#include "partnerbus/pb_codec.h"
#include "pb_archive.h"

struct pb_archive {
        char **files;
        size_t nfiles, next;
        size_t partial;
        pb_avrofile_reader_t *rd;
        pb_schema_t *writer;
        pb_codec_t *codec; /* scratch of pb_avro_datum_len */
        const uint8_t *blk;
        size_t blk_len, blk_pos;
        int64_t blk_left;
        int64_t seq;
        const char *cur;
};

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suf) {
        size_t a = strlen(s), b = strlen(suf);
        return a >= b && !strcmp(s + a - b, suf);
}

pb_archive_t *pb_archive_open(const char *dir, const char *topic, int *missing,
                              char *errstr, size_t errstr_size) {
        pb_archive_t *a = calloc(1, sizeof(*a));
        char path[4096];
        DIR *d;
        struct dirent *de;
        size_t cap = 0;
        if (missing)
                *missing = 0;
        if (!a) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (strchr(topic, '/') || !strcmp(topic, "..") || !strcmp(topic, ".")) {
                snprintf(errstr, errstr_size, "bad topic name '%s'", topic);
                free(a);
                return NULL;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, topic);
        d = opendir(path);
        if (!d) {
                if (errno == ENOENT) {
                        if (missing)
                                *missing = 1;
                        return a;
                }
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                free(a);
                return NULL;
        }
        while ((de = readdir(d))) {
                char *full;
                if (de->d_name[0] == '.' || !ends_with(de->d_name, ".avro"))
                        continue;
                if (PB_ARRAY_RESERVE(a->files, cap, a->nfiles, 1, 16))
                        goto nomem;
                full = malloc(strlen(path) + strlen(de->d_name) + 2);
                if (!full)
                        goto nomem;
                sprintf(full, "%s/%s", path, de->d_name);
                a->files[a->nfiles++] = full;
        }
        closedir(d);
        if (a->nfiles)
                qsort(a->files, a->nfiles, sizeof(*a->files), name_cmp);
        return a;
nomem:
        closedir(d);
        pb_archive_destroy(a);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
}

static void close_file(pb_archive_t *a) {
        pb_avrofile_reader_destroy(a->rd);
        a->rd = NULL;
        pb_schema_destroy(a->writer);
        a->writer = NULL;
        a->blk = NULL;
        a->blk_len = a->blk_pos = 0;
        a->blk_left = 0;
}

void pb_archive_destroy(pb_archive_t *a) {
        size_t i;
        if (!a)
                return;
        close_file(a);
        pb_codec_destroy(a->codec);
        for (i = 0; i < a->nfiles; i++)
                free(a->files[i]);
        free(a->files);
        free(a);
}

size_t pb_archive_files(const pb_archive_t *a) {
        return a ? a->nfiles : 0;
}

size_t pb_archive_partial_files(const pb_archive_t *a) {
        return a ? a->partial : 0;
}

/* opens the next file: 1 opened, 0 none left, -1 error */
static int open_next(pb_archive_t *a, char *errstr, size_t errstr_size) {
        const char *schema;
        char why[512];
        close_file(a);
        if (a->next >= a->nfiles)
                return 0;
        a->cur = a->files[a->next++];
        a->rd = pb_avrofile_open(a->cur, why, sizeof(why));
        if (!a->rd) {
                snprintf(errstr, errstr_size, "%s: %s", a->cur, why);
                return -1;
        }
        if (strcmp(pb_avrofile_codec(a->rd), "null")) {
                snprintf(errstr, errstr_size, "%s: codec '%s' not supported",
                         a->cur, pb_avrofile_codec(a->rd));
                return -1;
        }
        schema = pb_avrofile_schema(a->rd);
        a->writer = pb_schema_new(schema, strlen(schema), why, sizeof(why));
        if (!a->writer) {
                snprintf(errstr, errstr_size, "%s: embedded schema: %s", a->cur,
                         why);
                return -1;
        }
        return 1;
}

pb_resp_t pb_archive_next(pb_archive_t *a, pb_archive_event_t *ev, char *errstr,
                          size_t errstr_size) {
        for (;;) {
                size_t used = 0;
                pb_resp_t r;
                if (a->rd && a->blk_left > 0) {
                        if (!a->codec && !(a->codec = pb_codec_new())) {
                                snprintf(errstr, errstr_size, "out of memory");
                                return PB_ERR_NOMEM;
                        }
                        r = pb_avro_datum_len(a->codec, a->writer,
                                              a->blk + a->blk_pos,
                                              a->blk_len - a->blk_pos, &used);
                        if (r != PB_OK) {
                                snprintf(errstr, errstr_size,
                                         "%s: object %lld of a block: %s",
                                         a->cur, (long long)a->seq,
                                         pb_err2str(r));
                                return PB_ERR_INVALID;
                        }
                        ev->writer = a->writer;
                        ev->body = a->blk + a->blk_pos;
                        ev->body_len = used;
                        ev->file = a->cur;
                        ev->seq = a->seq++;
                        a->blk_pos += used;
                        a->blk_left--;
                        return PB_OK;
                }
                if (a->rd) {
                        int partial = 0;
                        int64_t count = 0;
                        r = pb_avrofile_next_block(a->rd, &a->blk, &a->blk_len,
                                                   &count, &partial);
                        if (r == PB_OK) {
                                if (count < 0) {
                                        snprintf(errstr, errstr_size,
                                                 "%s: negative block count",
                                                 a->cur);
                                        return PB_ERR_INVALID;
                                }
                                a->blk_pos = 0;
                                a->blk_left = count;
                                continue;
                        }
                        if (r != PB_END && r != PB_ERR_TRUNCATED) {
                                snprintf(errstr, errstr_size, "%s: read error",
                                         a->cur);
                                return PB_ERR_IO;
                        }
                        if (partial)
                                a->partial++;
                }
                switch (open_next(a, errstr, errstr_size)) {
                case 0:
                        return PB_END;
                case -1:
                        return PB_ERR_IO;
                default:
                        break;
                }
        }
}
