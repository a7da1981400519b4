/* partnerbus - archive sink: Avro object container files, one per topic
 * and period, under DIR/<topic>/:
 *
 *     DIR/<topic>/<topic>-<YYYYMMDDTHHMMSSZ>-<NNNNNN>.avro
 *
 * the time being the UTC start of the period the file was opened in and
 * NNNNNN a sequence number, so a plain directory listing sorts by time.
 * A file is closed and a new one started when the period ends
 * (roll-interval, default 1h), when it reaches roll-size (default 128MiB),
 * or when events arrive written with another schema (schema evolution:
 * each file holds one writer schema, embedded verbatim). Files are created
 * with O_EXCL, so several relays (or a restarted one) never share a file.
 *
 * The raw Avro body of each event is appended as it came from Kafka - no
 * re-encoding (see pb_avrofile.h). flush() writes the pending block and
 * fsyncs every open file; the relay commits offsets only after it.
 * At start the newest files of every topic are recovered: a partial block
 * a crash left behind is cut off (files another live writer holds are
 * skipped). Recovery looks only at files named as above in a directory
 * named as a legal topic, and moves one whose header cannot be read aside
 * to NAME.damaged; it deletes nothing. Topic names that are not legal
 * Kafka topic names (which could climb out of DIR) are refused. A failed write
 * breaks the sink: flush() then fails and the relay stops without committing,
 * so nothing uncommitted is lost. */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "partnerbus/pb_avrofile.h"
#include "partnerbus/pb_util.h"
#include "pb_connector.h"

#define PB_ARCHIVE_MAX_TOPICS     256
#define PB_ARCHIVE_RECOVER_NEWEST 16 /* files per topic checked at start */

typedef struct pb_arch_file {
        char *topic;
        pb_avrofile_writer_t *w;
        const pb_schema_t *schema;
        int64_t period; /* start, seconds since epoch */
        unsigned seq;
} pb_arch_file_t;

struct pb_sink {
        char *dir;
        int64_t roll_ms;
        int64_t roll_size;
        int64_t block_size;
        pb_arch_file_t files[PB_ARCHIVE_MAX_TOPICS];
        size_t nfiles;
        int broken;
        char broken_why[256];
};

static int pb_mkdir_p(const char *path) {
        char tmp[4096], *p;
        snprintf(tmp, sizeof(tmp), "%s", path);
        for (p = tmp + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(tmp, 0755) && errno != EEXIST)
                        return -1;
                *p = '/';
        }
        if (mkdir(tmp, 0755) && errno != EEXIST)
                return -1;
        return 0;
}

static int pb_name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is name one of ours in the directory of topic: the scheme above,
 * <topic>-<YYYYMMDDTHHMMSSZ>-<NNNNNN>.avro? Recovery touches nothing else. */
static int archive_own_name(const char *topic, const char *name) {
        size_t t = strlen(topic), i;
        static const char shape[] = "-99999999T999999Z-999999.avro";
        if (strncmp(name, topic, t) || strlen(name + t) != sizeof(shape) - 1)
                return 0;
        for (i = 0; shape[i]; i++) {
                char c = name[t + i];
                if (shape[i] == '9' ? (c < '0' || c > '9') : c != shape[i])
                        return 0;
        }
        return 1;
}

/* A file of ours whose header cannot be read is moved aside to
 * NAME.damaged (never deleted: it may hold something of value). */
static void archive_move_aside(const char *path) {
        char to[4700];
        snprintf(to, sizeof(to), "%s.damaged", path);
        if (rename(path, to) == 0)
                fprintf(stderr,
                        "level=warn sink=archive msg=\"moved aside a file "
                        "whose header cannot be read\" file=%s to=%s\n",
                        path, to);
        else
                fprintf(stderr,
                        "level=warn sink=archive msg=\"cannot move aside a "
                        "file whose header cannot be read\" file=%s "
                        "reason=\"%s\"\n",
                        path, strerror(errno));
}

/* cut partial tails off the newest files of one topic directory */
static void archive_recover_dir(const char *dir, const char *topic) {
        DIR *d = opendir(dir);
        struct dirent *de;
        char **names = NULL;
        size_t n = 0, cap = 0, i;
        if (!d)
                return;
        while ((de = readdir(d))) {
                if (!archive_own_name(topic, de->d_name))
                        continue;
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 64;
                        char **nn = realloc(names, nc * sizeof(*nn));
                        if (!nn)
                                break;
                        names = nn;
                        cap = nc;
                }
                if (!(names[n] = strdup(de->d_name)))
                        break;
                n++;
        }
        closedir(d);
        if (n)
                qsort(names, n, sizeof(*names), pb_name_cmp);
        for (i = 0; i < n; i++) {
                if (i + PB_ARCHIVE_RECOVER_NEWEST >= n) {
                        char p[4600], err[256] = "";
                        int64_t cut = 0;
                        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
                        if (pb_avrofile_recover(p, &cut, err, sizeof(err)) ==
                            PB_ERR_INVALID)
                                archive_move_aside(p);
                        else if (cut == 0 && err[0])
                                fprintf(stderr,
                                        "level=warn sink=archive "
                                        "msg=\"cannot recover\" file=%s "
                                        "reason=\"%s\"\n",
                                        p, err);
                        else if (cut > 0)
                                fprintf(stderr,
                                        "level=warn sink=archive "
                                        "msg=\"cut partial last block left "
                                        "by a crash\" file=%s bytes=%lld\n",
                                        p, (long long)cut);
                }
                free(names[i]);
        }
        free(names);
}

static void archive_recover(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        if (!d)
                return;
        while ((de = readdir(d))) {
                char p[4400];
                struct stat st;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                if (pb_topic_name_valid(de->d_name) && lstat(p, &st) == 0 &&
                    S_ISDIR(st.st_mode))
                        archive_recover_dir(p, de->d_name);
        }
        closedir(d);
}

typedef struct archive_settings {
        int64_t roll_interval;
        size_t roll_size, block_size;
} archive_settings_t;

#define O(f) offsetof(archive_settings_t, f)
static const pb_opt_t archive_opts[] = {
    {"roll-interval", 0, PB_OPT_DURATION, "1h", "DURATION",
     "start a new file per topic every DURATION", 0, O(roll_interval)},
    {"roll-size", 0, PB_OPT_SIZE, "128MiB", "SIZE",
     "start a new file when one reaches SIZE", 0, O(roll_size)},
    {"block-size", 0, PB_OPT_SIZE, "1MiB", "SIZE", "Avro block size", 0,
     O(block_size)},
};
#undef O

static pb_sink_t *archive_init(const char *target, const void *settings,
                               char *errstr, size_t errstr_size) {
        const archive_settings_t *st = settings;
        pb_sink_t *s;
        if (!target || !*target) {
                snprintf(errstr, errstr_size, "archive: expected archive:DIR");
                return NULL;
        }
        s = calloc(1, sizeof(*s));
        if (!s || !(s->dir = strdup(target))) {
                free(s);
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        s->roll_ms = st->roll_interval;
        s->roll_size = (int64_t)st->roll_size;
        s->block_size = (int64_t)st->block_size;
        if (s->roll_ms < 1000 || s->roll_size < 4096 || s->block_size < 1 ||
            st->roll_size > ((size_t)1 << 50) ||
            st->block_size > ((size_t)1 << 50)) {
                snprintf(errstr, errstr_size,
                         "archive: roll-interval must be >= 1s, "
                         "roll-size 4KiB..1PiB, block-size 1..1PiB");
                free(s->dir);
                free(s);
                return NULL;
        }
        if (pb_mkdir_p(s->dir)) {
                snprintf(errstr, errstr_size, "archive: mkdir %s: %s", s->dir,
                         strerror(errno));
                free(s->dir);
                free(s);
                return NULL;
        }
        archive_recover(s->dir);
        return s;
}

static size_t archive_batch_hint(pb_sink_t *s) {
        (void)s;
        return 10000;
}

static pb_resp_t archive_close_file(pb_sink_t *s, pb_arch_file_t *f) {
        char err[256];
        pb_resp_t r;
        if (!f->w)
                return PB_OK;
        r = pb_avrofile_close(f->w, err, sizeof(err));
        f->w = NULL;
        if (r) {
                s->broken = 1;
                snprintf(s->broken_why, sizeof(s->broken_why), "%s", err);
        }
        return r;
}

static pb_arch_file_t *archive_file(pb_sink_t *s, const pb_sink_event_t *e,
                                    int64_t now_ms, char *why, size_t whysz) {
        pb_arch_file_t *f = NULL;
        int64_t period = (now_ms / s->roll_ms) * s->roll_ms / 1000;
        size_t i;
        char dir[4400], path[4700], ts[32];
        struct tm tm;
        time_t t;
        for (i = 0; i < s->nfiles; i++)
                if (!strcmp(s->files[i].topic, e->topic)) {
                        f = &s->files[i];
                        break;
                }
        if (!f) {
                if (s->nfiles == PB_ARCHIVE_MAX_TOPICS) {
                        snprintf(why, whysz, "archive: more than %d topics",
                                 PB_ARCHIVE_MAX_TOPICS);
                        return NULL;
                }
                f = &s->files[s->nfiles];
                memset(f, 0, sizeof(*f));
                if (!(f->topic = strdup(e->topic))) {
                        snprintf(why, whysz, "out of memory");
                        return NULL;
                }
                s->nfiles++;
        }
        if (f->w && (f->period != period || f->schema != e->writer ||
                     pb_avrofile_size(f->w) >= (uint64_t)s->roll_size)) {
                if (archive_close_file(s, f))
                        return NULL;
        }
        if (f->w)
                return f;
        if (f->period != period)
                f->seq = 0;
        f->period = period;
        f->schema = e->writer;
        snprintf(dir, sizeof(dir), "%s/%s", s->dir, e->topic);
        if (pb_mkdir_p(dir)) {
                snprintf(why, whysz, "archive: mkdir %.160s: %.60s", dir,
                         strerror(errno));
                return NULL;
        }
        t = (time_t)period;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
        for (; f->seq < 1000000; f->seq++) {
                int exists = 0;
                char err[256];
                snprintf(path, sizeof(path), "%s/%s-%s-%06u.avro", dir,
                         e->topic, ts, f->seq);
                f->w = pb_avrofile_create(path, pb_schema_json(e->writer),
                                          (size_t)s->block_size, &exists, err,
                                          sizeof(err));
                if (f->w) {
                        f->seq++;
                        return f;
                }
                if (!exists) {
                        snprintf(why, whysz, "archive: %.200s", err);
                        return NULL;
                }
        }
        snprintf(why, whysz, "archive: no free file name in %.200s", dir);
        return NULL;
}

static void archive_write(pb_sink_t *s, const pb_sink_event_t *ev, size_t n,
                          pb_sink_status_t *st) {
        size_t i;
        int64_t now_ms = pb_now_ms();
        st->result = PB_SINK_OK;
        if (s->broken) {
                st->result = PB_SINK_RETRY;
                snprintf(st->reason, sizeof(st->reason),
                         "archive broken: %.200s", s->broken_why);
                return;
        }
        for (i = 0; i < n; i++) {
                const pb_sink_event_t *e = &ev[i];
                pb_arch_file_t *f;
                char err[256];
                if (!e->writer || !e->body) {
                        st->result = PB_SINK_PERMANENT;
                        snprintf(st->reason, sizeof(st->reason),
                                 "archive: event without writer schema");
                        return;
                }
                if (!pb_topic_name_valid(e->topic)) {
                        /* the name becomes a directory and file name */
                        st->result = PB_SINK_PERMANENT;
                        snprintf(st->reason, sizeof(st->reason),
                                 "archive: topic name not a legal Kafka "
                                 "topic name, not usable as a file name");
                        return;
                }
                f = archive_file(s, e, now_ms, st->reason, sizeof(st->reason));
                if (!f) {
                        st->result = PB_SINK_RETRY;
                        return;
                }
                if (pb_avrofile_append(f->w, e->body, e->body_len, err,
                                       sizeof(err))) {
                        s->broken = 1;
                        snprintf(s->broken_why, sizeof(s->broken_why), "%s",
                                 err);
                        st->result = PB_SINK_RETRY;
                        snprintf(st->reason, sizeof(st->reason), "%s", err);
                        return;
                }
        }
}

static pb_resp_t archive_flush(pb_sink_t *s, char *errstr, size_t errstr_size) {
        size_t i;
        if (s->broken) {
                snprintf(errstr, errstr_size, "archive: %s", s->broken_why);
                return PB_ERR_IO;
        }
        for (i = 0; i < s->nfiles; i++) {
                pb_arch_file_t *f = &s->files[i];
                if (f->w && pb_avrofile_flush(f->w, 1, errstr, errstr_size)) {
                        s->broken = 1;
                        snprintf(s->broken_why, sizeof(s->broken_why), "%s",
                                 errstr);
                        return PB_ERR_IO;
                }
        }
        return PB_OK;
}

static void archive_destroy(pb_sink_t *s) {
        size_t i;
        if (!s)
                return;
        for (i = 0; i < s->nfiles; i++) {
                archive_close_file(s, &s->files[i]);
                free(s->files[i].topic);
        }
        free(s->dir);
        free(s);
}

const pb_sink_plugin_t pb_sink_archive = {
    "archive",
    "Avro container files per topic and period, fsynced before commit",
    0,
    archive_batch_hint,
    archive_opts,
    sizeof(archive_opts) / sizeof(archive_opts[0]),
    sizeof(archive_settings_t),
    "archive-",
    archive_init,
    archive_write,
    archive_flush,
    archive_destroy,
    NULL,
    NULL,
    NULL,
};
