/* partnerbus - JSON-lines sink: one event per line, natural JSON, to a
 * file (rotated by size) or stdout ("jsonl:-").
 *
 * Settings: max-size (rotate when the file would grow past it; 0 = never,
 * default 100MiB), keep (rotated files kept as PATH.1 .. PATH.N, newest
 * first; default 5), meta (wrap each event as {"topic","partition",
 * "offset","key","event"}).
 * flush() = fflush + fsync (stdout: fflush only). A write error (disk full)
 * is retriable: the relay holds the partition and tries again. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pb_connector.h"

#define JSONL_IOBUF (1 << 20)

struct pb_sink {
        FILE *fp;
        char *iobuf; /* fp's buffer: glibc would write 4 KiB at a time */
        char *path;  /* NULL for stdout */
        int64_t max_size;
        long keep;
        int meta;
        int64_t size;
        pb_buf_t line;
};

typedef struct jsonl_settings {
        size_t max_size;
        long keep;
        int meta;
} jsonl_settings_t;

#define O(f) offsetof(jsonl_settings_t, f)
static const pb_opt_t jsonl_opts[] = {
    {"max-size", 0, PB_OPT_SIZE, "100MiB", "SIZE",
     "rotate the file at SIZE (0: never)", 0, O(max_size)},
    {"keep", 0, PB_OPT_INT, "5", "N", "rotated files kept (PATH.1..N)", 0,
     O(keep)},
    {"meta", 0, PB_OPT_BOOL, "false", NULL,
     "wrap each line with topic, partition, offset, key and type", 0, O(meta)},
};
#undef O

static pb_sink_t *jsonl_init(const char *target, const void *settings,
                             char *errstr, size_t errstr_size) {
        const jsonl_settings_t *st = settings;
        pb_sink_t *s;
        if (!target || !*target) {
                snprintf(errstr, errstr_size,
                         "jsonl: expected jsonl:PATH or jsonl:-");
                return NULL;
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pb_buf_init(&s->line, 0);
        s->max_size = (int64_t)st->max_size;
        s->keep = st->keep;
        s->meta = st->meta;
        if (s->max_size < 0 || s->keep < 1 || s->keep > 1000) {
                snprintf(errstr, errstr_size,
                         "jsonl: keep must be 1..1000, max-size below 8EiB");
                free(s);
                return NULL;
        }
        if (!strcmp(target, "-")) {
                s->fp = stdout;
        } else {
                s->iobuf = malloc(JSONL_IOBUF);
                struct stat sb;
                s->path = strdup(target);
                s->fp = s->path ? fopen(target, "a") : NULL;
                if (!s->fp) {
                        snprintf(errstr, errstr_size, "jsonl: open %s: %s",
                                 target, strerror(errno));
                        free(s->iobuf);
                        free(s->path);
                        free(s);
                        return NULL;
                }
                if (s->iobuf)
                        setvbuf(s->fp, s->iobuf, _IOFBF, JSONL_IOBUF);
                if (fstat(fileno(s->fp), &sb) == 0) {
                        s->size = sb.st_size;
                        /* a pipe or device (/dev/null, a FIFO) cannot be
                         * renamed away: never rotate it */
                        if (!S_ISREG(sb.st_mode))
                                s->max_size = 0;
                }
        }
        return s;
}

static size_t jsonl_batch_hint(pb_sink_t *s) {
        (void)s;
        return 1000;
}

static int jsonl_rotate(pb_sink_t *s, char *why, size_t whysz) {
        char from[4200], to[4200];
        long k;
        if (fflush(s->fp) || fsync(fileno(s->fp))) {
                snprintf(why, whysz, "jsonl: %.160s: %.60s", s->path,
                         strerror(errno));
                return -1;
        }
        fclose(s->fp);
        s->fp = NULL;
        for (k = s->keep; k >= 1; k--) {
                if (k == 1)
                        snprintf(from, sizeof(from), "%s", s->path);
                else
                        snprintf(from, sizeof(from), "%s.%ld", s->path, k - 1);
                snprintf(to, sizeof(to), "%s.%ld", s->path, k);
                if (rename(from, to) && errno != ENOENT) {
                        snprintf(why, whysz, "jsonl: rename %.160s: %.60s",
                                 from, strerror(errno));
                        break;
                }
        }
        s->fp = fopen(s->path, "a");
        if (!s->fp) {
                snprintf(why, whysz, "jsonl: open %.160s: %.60s", s->path,
                         strerror(errno));
                return -1;
        }
        if (s->iobuf)
                setvbuf(s->fp, s->iobuf, _IOFBF, JSONL_IOBUF);
        s->size = 0;
        return 0;
}

static void jsonl_format(pb_sink_t *s, const pb_sink_event_t *e) {
        pb_buf_reset(&s->line);
        if (s->meta) {
                pb_buf_puts(&s->line, "{\"topic\":");
                pb_buf_json_str(&s->line, e->topic, strlen(e->topic));
                pb_buf_printf(&s->line,
                              ",\"partition\":%d,\"offset\":%lld,"
                              "\"key\":",
                              (int)e->partition, (long long)e->offset);
                if (e->key)
                        pb_buf_json_str(&s->line, e->key, e->key_len);
                else
                        pb_buf_puts(&s->line, "null");
                pb_buf_puts(&s->line, ",\"type\":");
                pb_buf_json_str(&s->line, e->type, strlen(e->type));
                pb_buf_puts(&s->line, ",\"event\":");
                pb_buf_append(&s->line, e->json, e->json_len);
                pb_buf_putc(&s->line, '}');
        } else {
                pb_buf_append(&s->line, e->json, e->json_len);
        }
        pb_buf_putc(&s->line, '\n');
}

/* The line of e: formatted into s->line with --meta, else the event's
 * JSON as it is (its newline is written after it). */
static size_t jsonl_line(pb_sink_t *s, const pb_sink_event_t *e,
                         const char **p) {
        if (s->meta) {
                jsonl_format(s, e);
                *p = (const char *)s->line.data;
                return s->line.len - 1;
        }
        *p = e->json;
        return e->json_len;
}

static void jsonl_write(pb_sink_t *s, const pb_sink_event_t *ev, size_t n,
                        pb_sink_status_t *st) {
        size_t i;
        st->result = PB_SINK_OK;
        for (i = 0; i < n; i++) {
                const char *p;
                size_t len = jsonl_line(s, &ev[i], &p);
                if (s->path && s->max_size > 0 && s->size > 0 &&
                    s->size + (int64_t)len + 1 > s->max_size &&
                    jsonl_rotate(s, st->reason, sizeof(st->reason))) {
                        st->result = PB_SINK_RETRY;
                        return;
                }
                if (!s->fp || fwrite(p, 1, len, s->fp) != len ||
                    putc('\n', s->fp) == EOF) {
                        st->result = PB_SINK_RETRY;
                        snprintf(st->reason, sizeof(st->reason),
                                 "jsonl: write: %s", strerror(errno));
                        return;
                }
                s->size += (int64_t)len + 1;
        }
}

static pb_resp_t jsonl_flush(pb_sink_t *s, char *errstr, size_t errstr_size) {
        /* EINVAL: a special file such as /dev/null cannot be synced */
        if (!s->fp || fflush(s->fp) ||
            (s->path && fsync(fileno(s->fp)) && errno != EINVAL)) {
                snprintf(errstr, errstr_size, "jsonl: flush: %s",
                         strerror(errno));
                return PB_ERR_IO;
        }
        return PB_OK;
}

static void jsonl_destroy(pb_sink_t *s) {
        if (!s)
                return;
        if (s->fp) {
                fflush(s->fp);
                if (s->path) {
                        fsync(fileno(s->fp));
                        fclose(s->fp);
                }
        }
        pb_buf_free(&s->line);
        free(s->iobuf);
        free(s->path);
        free(s);
}

PB_SINK_PLUGIN(jsonl, "JSON lines to a file (rotated by size) or stdout", 1);
