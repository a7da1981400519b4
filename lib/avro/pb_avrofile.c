/* partnerbus - Avro object container files: writer and block scanner.
 * See pb_avrofile.h for why this is not avro-c's writer.
 *
 * A full block is written by a helper thread of the writer while the
 * caller fills the next one (copying 1 MiB into the page cache costs
 * milliseconds that the relay would otherwise wait for): at most one block
 * is in flight, blocks go out in order, each in one writev(), and
 * pb_avrofile_flush() waits for the block in flight before it writes the
 * rest and fsyncs - so "flushed" still means "on disk". A failed write in
 * the thread is reported by the next append or flush. Without the thread
 * (pthread_create failed) blocks are written in the caller's thread. */
#include "partnerbus/pb_avrofile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "partnerbus/pb_util.h" /* pb_zz_encode */

static const uint8_t pb_avro_magic[4] = {'O', 'b', 'j', 1};

static pb_resp_t pb_zz_buf(pb_buf_t *b, int64_t v) {
        uint8_t t[10];
        return pb_buf_append(b, t, pb_zz_encode(t, v));
}

static pb_resp_t pb_str_buf(pb_buf_t *b, const char *s, size_t n) {
        pb_resp_t r = pb_zz_buf(b, (int64_t)n);
        return r ? r : pb_buf_append(b, s, n);
}

/* fsync of the directory holding path, so a new name survives a crash */
static int pb_fsync_dir(const char *path) {
        char tmp[4096];
        int fd, rc;
        snprintf(tmp, sizeof(tmp), "%s", path);
        fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY);
        if (fd < 0)
                return -1;
        rc = fsync(fd);
        close(fd);
        return rc;
}

static int pb_write_all(int fd, struct iovec *iov, int n) {
        while (n > 0) {
                ssize_t w = writev(fd, iov, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                while (n > 0 && (size_t)w >= iov->iov_len) {
                        w -= (ssize_t)iov->iov_len;
                        iov++;
                        n--;
                }
                if (n > 0) {
                        iov->iov_base = (uint8_t *)iov->iov_base + w;
                        iov->iov_len -= (size_t)w;
                }
        }
        return 0;
}

struct pb_avrofile_writer {
        int fd;
        char *path;
        uint8_t sync[PB_AVROFILE_SYNC_LEN];
        pb_buf_t block; /* pending encoded objects */
        int64_t nblock; /* objects in block */
        size_t block_max;
        uint64_t written; /* bytes on disk (written, maybe not fsynced) */
        uint64_t count;
        int failed; /* a write failed: the file's tail is unknown */
        /* the block writer thread; mu guards busy_*, stop and th_errno */
        pthread_t th;
        int th_state; /* 0 not started, 1 running, -1 no thread (mu, cv
                         initialised), -2 no thread (nothing initialised) */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        pb_buf_t busy;     /* the block in flight: hdr|data|sync, ready */
        uint64_t busy_off; /* its offset in the file */
        int busy_set;      /* 1 while the thread has (or writes) busy */
        int stop;
        int th_errno; /* the thread's write failed with this */
};

/* The block thread: writes each handed-over block, one at a time. */
static void *pb_avrofile_thread(void *arg) {
        pb_avrofile_writer_t *w = arg;
        pthread_mutex_lock(&w->mu);
        for (;;) {
                struct iovec iov[1];
                int rc;
                while (!w->busy_set && !w->stop)
                        pthread_cond_wait(&w->cv, &w->mu);
                if (!w->busy_set)
                        break; /* stop, nothing left */
                pthread_mutex_unlock(&w->mu);
                iov[0].iov_base = w->busy.data;
                iov[0].iov_len = w->busy.len;
                rc = w->th_errno ? -1 : pb_write_all(w->fd, iov, 1);
                /* start the block's writeback now, so that the fsync of
                 * the next flush has less left to wait for (a hint: errors
                 * are fsync's to report) */
                if (rc == 0)
                        (void)sync_file_range(w->fd, (off_t)w->busy_off,
                                              (off_t)iov[0].iov_len,
                                              SYNC_FILE_RANGE_WRITE);
                pthread_mutex_lock(&w->mu);
                if (rc && !w->th_errno)
                        w->th_errno = errno ? errno : EIO;
                w->busy_set = 0;
                pthread_cond_broadcast(&w->cv);
        }
        pthread_mutex_unlock(&w->mu);
        return NULL;
}

/* Waits until no block is in flight; -1 with errstr (and w->failed) if
 * the thread's last write failed. */
static int pb_avrofile_wait(pb_avrofile_writer_t *w, char *errstr,
                            size_t errstr_size) {
        int e;
        if (w->th_state != 1)
                return 0;
        pthread_mutex_lock(&w->mu);
        while (w->busy_set)
                pthread_cond_wait(&w->cv, &w->mu);
        e = w->th_errno;
        pthread_mutex_unlock(&w->mu);
        if (e) {
                w->failed = 1;
                snprintf(errstr, errstr_size, "write %s: %s", w->path,
                         strerror(e));
                return -1;
        }
        return 0;
}

static void pb_avrofile_stop(pb_avrofile_writer_t *w) {
        if (w->th_state == 1) {
                pthread_mutex_lock(&w->mu);
                w->stop = 1;
                pthread_cond_broadcast(&w->cv);
                pthread_mutex_unlock(&w->mu);
                pthread_join(w->th, NULL);
        }
        if (w->th_state == 1 || w->th_state == -1) {
                pthread_mutex_destroy(&w->mu);
                pthread_cond_destroy(&w->cv);
        }
        w->th_state = 0;
        pb_buf_free(&w->busy);
}

pb_avrofile_writer_t *pb_avrofile_create(const char *path,
                                         const char *schema_json,
                                         size_t block_max, int *exists,
                                         char *errstr, size_t errstr_size) {
        pb_avrofile_writer_t *w;
        pb_buf_t h;
        struct iovec iov[1];
        size_t slen = schema_json ? strlen(schema_json) : 0;
        if (exists)
                *exists = 0;
        if (!path || !schema_json || slen == 0 ||
            slen > PB_AVROFILE_MAX_SCHEMA) {
                snprintf(errstr, errstr_size, "bad path or schema");
                return NULL;
        }
        w = calloc(1, sizeof(*w));
        if (!w || !(w->path = strdup(path))) {
                free(w);
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        w->block_max = block_max ? block_max : (1u << 20);
        pb_buf_init(&w->block, 0);
        w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (w->fd < 0) {
                if (exists && errno == EEXIST)
                        *exists = 1;
                snprintf(errstr, errstr_size, "create %s: %s", path,
                         strerror(errno));
                free(w->path);
                free(w);
                return NULL;
        }
        /* held while we write; recovery skips locked files */
        (void)flock(w->fd, LOCK_EX | LOCK_NB);
        if (getrandom(w->sync, sizeof(w->sync), 0) != sizeof(w->sync)) {
                /* not secret, only has to be unlikely inside the data */
                size_t i;
                for (i = 0; i < sizeof(w->sync); i++)
                        w->sync[i] = (uint8_t)rand();
        }
        pb_buf_init(&h, 0);
        if (pb_buf_append(&h, pb_avro_magic, 4) || pb_zz_buf(&h, 2) ||
            pb_str_buf(&h, "avro.schema", 11) ||
            pb_str_buf(&h, schema_json, slen) ||
            pb_str_buf(&h, "avro.codec", 10) || pb_str_buf(&h, "null", 4) ||
            pb_zz_buf(&h, 0) || pb_buf_append(&h, w->sync, sizeof(w->sync))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        iov[0].iov_base = h.data;
        iov[0].iov_len = h.len;
        if (pb_write_all(w->fd, iov, 1) || fsync(w->fd) || pb_fsync_dir(path)) {
                snprintf(errstr, errstr_size, "write %s: %s", path,
                         strerror(errno));
                goto fail;
        }
        w->written = h.len;
        pb_buf_free(&h);
        return w;
fail:
        pb_buf_free(&h);
        close(w->fd);
        unlink(path);
        pb_buf_free(&w->block);
        free(w->path);
        free(w);
        return NULL;
}

static pb_resp_t pb_avrofile_write_block(pb_avrofile_writer_t *w, char *errstr,
                                         size_t errstr_size) {
        uint8_t hdr[20];
        size_t hl;
        struct iovec iov[3];
        if (w->nblock == 0)
                return PB_OK;
        if (w->failed) {
                snprintf(errstr, errstr_size, "%s: an earlier write failed",
                         w->path);
                return PB_ERR_IO;
        }
        hl = pb_zz_encode(hdr, w->nblock);
        hl += pb_zz_encode(hdr + hl, (int64_t)w->block.len);
        iov[0].iov_base = hdr;
        iov[0].iov_len = hl;
        iov[1].iov_base = w->block.data;
        iov[1].iov_len = w->block.len;
        iov[2].iov_base = w->sync;
        iov[2].iov_len = sizeof(w->sync);
        if (pb_write_all(w->fd, iov, 3)) {
                /* the tail may hold part of the block: never append
                 * after it */
                w->failed = 1;
                snprintf(errstr, errstr_size, "write %s: %s", w->path,
                         strerror(errno));
                return PB_ERR_IO;
        }
        w->written += hl + w->block.len + sizeof(w->sync);
        w->nblock = 0;
        pb_buf_reset(&w->block);
        return PB_OK;
}

/* Hands the pending block to the thread (started on first use), after
 * the previous one is out. Falls back to writing it here. */
static pb_resp_t pb_avrofile_hand_over(pb_avrofile_writer_t *w, char *errstr,
                                       size_t errstr_size) {
        uint8_t hdr[20];
        size_t hl;
        if (w->th_state == 0) {
                pb_buf_init(&w->busy, 0);
                if (pthread_mutex_init(&w->mu, NULL)) {
                        w->th_state = -2; /* nothing to destroy */
                } else if (pthread_cond_init(&w->cv, NULL)) {
                        pthread_mutex_destroy(&w->mu);
                        w->th_state = -2;
                } else {
                        w->th_state =
                            pthread_create(&w->th, NULL, pb_avrofile_thread, w)
                                ? -1
                                : 1;
                }
        }
        if (w->th_state != 1)
                return pb_avrofile_write_block(w, errstr, errstr_size);
        if (w->failed) {
                snprintf(errstr, errstr_size, "%s: an earlier write failed",
                         w->path);
                return PB_ERR_IO;
        }
        if (pb_avrofile_wait(w, errstr, errstr_size))
                return PB_ERR_IO;
        /* busy = count|size|data|sync, built here; the thread only writes */
        hl = pb_zz_encode(hdr, w->nblock);
        hl += pb_zz_encode(hdr + hl, (int64_t)w->block.len);
        pb_buf_reset(&w->busy);
        if (pb_buf_reserve(&w->busy, hl + w->block.len + sizeof(w->sync)) ||
            pb_buf_append(&w->busy, hdr, hl) ||
            pb_buf_append(&w->busy, w->block.data, w->block.len) ||
            pb_buf_append(&w->busy, w->sync, sizeof(w->sync)))
                return pb_avrofile_write_block(w, errstr, errstr_size);
        w->busy_off = w->written;
        w->written += w->busy.len;
        w->nblock = 0;
        pb_buf_reset(&w->block);
        pthread_mutex_lock(&w->mu);
        w->busy_set = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        return PB_OK;
}

pb_resp_t pb_avrofile_append(pb_avrofile_writer_t *w, const void *body,
                             size_t len, char *errstr, size_t errstr_size) {
        if (pb_buf_append(&w->block, body, len)) {
                snprintf(errstr, errstr_size, "out of memory");
                return PB_ERR_NOMEM;
        }
        w->nblock++;
        w->count++;
        if (w->block.len >= w->block_max)
                return pb_avrofile_hand_over(w, errstr, errstr_size);
        return PB_OK;
}

pb_resp_t pb_avrofile_flush(pb_avrofile_writer_t *w, int do_fsync, char *errstr,
                            size_t errstr_size) {
        pb_resp_t r;
        if (pb_avrofile_wait(w, errstr, errstr_size))
                return PB_ERR_IO;
        r = pb_avrofile_write_block(w, errstr, errstr_size);
        if (r)
                return r;
        if (do_fsync && fsync(w->fd)) {
                w->failed = 1;
                snprintf(errstr, errstr_size, "fsync %s: %s", w->path,
                         strerror(errno));
                return PB_ERR_IO;
        }
        return PB_OK;
}

uint64_t pb_avrofile_size(const pb_avrofile_writer_t *w) {
        return w->written + w->block.len + (w->nblock ? 20 : 0);
}

uint64_t pb_avrofile_count(const pb_avrofile_writer_t *w) {
        return w->count;
}

const char *pb_avrofile_path(const pb_avrofile_writer_t *w) {
        return w->path;
}

pb_resp_t pb_avrofile_close(pb_avrofile_writer_t *w, char *errstr,
                            size_t errstr_size) {
        pb_resp_t r;
        if (!w)
                return PB_OK;
        r = pb_avrofile_flush(w, 1, errstr, errstr_size);
        pb_avrofile_stop(w);
        if (close(w->fd) && r == PB_OK) {
                snprintf(errstr, errstr_size, "close %s: %s", w->path,
                         strerror(errno));
                r = PB_ERR_IO;
        }
        pb_buf_free(&w->block);
        free(w->path);
        free(w);
        return r;
}

/* --- scanning --- */

struct pb_avrofile_reader {
        FILE *fp;
        char *schema;
        char codec[32];
        uint8_t sync[PB_AVROFILE_SYNC_LEN];
        uint8_t *blk;
        size_t blkcap;
        uint64_t pos;      /* bytes consumed */
        uint64_t good_end; /* after the last complete block */
};

/* reads a zigzag long; 0 ok, -1 EOF/overlong */
static int pb_zz_read(pb_avrofile_reader_t *r, int64_t *v) {
        uint64_t u = 0;
        int shift = 0, c;
        for (;;) {
                c = getc(r->fp);
                if (c == EOF || shift > 63)
                        return -1;
                r->pos++;
                u |= (uint64_t)(c & 0x7f) << shift;
                if (!(c & 0x80))
                        break;
                shift += 7;
        }
        *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        return 0;
}

static int pb_read_n(pb_avrofile_reader_t *r, void *p, size_t n) {
        if (n && fread(p, 1, n, r->fp) != n)
                return -1;
        r->pos += n;
        return 0;
}

pb_avrofile_reader_t *pb_avrofile_open(const char *path, char *errstr,
                                       size_t errstr_size) {
        pb_avrofile_reader_t *r = calloc(1, sizeof(*r));
        uint8_t magic[4];
        int64_t n, i, kl, vl;
        char key[64];
        if (!r) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        r->fp = fopen(path, "rb");
        if (!r->fp) {
                snprintf(errstr, errstr_size, "open %s: %s", path,
                         strerror(errno));
                free(r);
                return NULL;
        }
        if (pb_read_n(r, magic, 4) || memcmp(magic, pb_avro_magic, 4)) {
                snprintf(errstr, errstr_size, "%s: not an Avro container",
                         path);
                goto fail;
        }
        snprintf(r->codec, sizeof(r->codec), "null");
        for (;;) {
                if (pb_zz_read(r, &n))
                        goto trunc;
                if (n == 0)
                        break;
                if (n < 0) { /* negative count: a byte size follows */
                        int64_t skip;
                        if (pb_zz_read(r, &skip))
                                goto trunc;
                        if (n == INT64_MIN)
                                goto bad; /* -n would overflow */
                        n = -n;
                }
                if (n > 1024)
                        goto bad;
                for (i = 0; i < n; i++) {
                        if (pb_zz_read(r, &kl) || kl < 0 ||
                            kl >= (int64_t)sizeof(key) ||
                            pb_read_n(r, key, (size_t)kl))
                                goto bad;
                        key[kl] = 0;
                        if (pb_zz_read(r, &vl) || vl < 0 ||
                            vl > PB_AVROFILE_MAX_SCHEMA)
                                goto bad;
                        if (!strcmp(key, "avro.schema")) {
                                free(r->schema);
                                r->schema = malloc((size_t)vl + 1);
                                if (!r->schema ||
                                    pb_read_n(r, r->schema, (size_t)vl))
                                        goto trunc;
                                r->schema[vl] = 0;
                        } else if (!strcmp(key, "avro.codec") &&
                                   vl < (int64_t)sizeof(r->codec)) {
                                if (pb_read_n(r, r->codec, (size_t)vl))
                                        goto trunc;
                                r->codec[vl] = 0;
                        } else if (fseek(r->fp, (long)vl, SEEK_CUR)) {
                                goto trunc;
                        } else {
                                r->pos += (uint64_t)vl;
                        }
                }
        }
        if (pb_read_n(r, r->sync, sizeof(r->sync)) || !r->schema)
                goto trunc;
        r->good_end = r->pos;
        return r;
trunc:
        snprintf(errstr, errstr_size, "%s: incomplete header", path);
        goto fail;
bad:
        snprintf(errstr, errstr_size, "%s: malformed header", path);
fail:
        pb_avrofile_reader_destroy(r);
        return NULL;
}

void pb_avrofile_reader_destroy(pb_avrofile_reader_t *r) {
        if (!r)
                return;
        if (r->fp)
                fclose(r->fp);
        free(r->schema);
        free(r->blk);
        free(r);
}

const char *pb_avrofile_schema(const pb_avrofile_reader_t *r) {
        return r->schema;
}

const char *pb_avrofile_codec(const pb_avrofile_reader_t *r) {
        return r->codec;
}

uint64_t pb_avrofile_good_end(const pb_avrofile_reader_t *r) {
        return r->good_end;
}

pb_resp_t pb_avrofile_next_block(pb_avrofile_reader_t *r, const uint8_t **data,
                                 size_t *len, int64_t *count, int *partial) {
        int64_t cnt, size;
        uint8_t sync[PB_AVROFILE_SYNC_LEN];
        int c;
        *partial = 0;
        c = getc(r->fp);
        if (c == EOF)
                return ferror(r->fp) ? PB_ERR_IO : PB_END;
        ungetc(c, r->fp);
        if (pb_zz_read(r, &cnt) || pb_zz_read(r, &size) || cnt < 0 ||
            size < 0 || size > PB_AVROFILE_MAX_BLOCK ||
            (cnt > 0 && size == 0) || cnt > size)
                goto partial;
        if ((size_t)size > r->blkcap) {
                uint8_t *nb = realloc(r->blk, (size_t)size);
                if (!nb)
                        return PB_ERR_NOMEM;
                r->blk = nb;
                r->blkcap = (size_t)size;
        }
        if (pb_read_n(r, r->blk, (size_t)size) ||
            pb_read_n(r, sync, sizeof(sync)) ||
            memcmp(sync, r->sync, sizeof(sync)))
                goto partial;
        r->good_end = r->pos;
        *data = r->blk;
        *len = (size_t)size;
        *count = cnt;
        return PB_OK;
partial:
        *partial = 1;
        return PB_ERR_TRUNCATED;
}

pb_resp_t pb_avrofile_recover(const char *path, int64_t *cut, char *errstr,
                              size_t errstr_size) {
        int fd;
        pb_avrofile_reader_t *r;
        const uint8_t *d;
        size_t l;
        int64_t n;
        int partial = 0;
        pb_resp_t rr;
        struct stat st;
        *cut = 0;
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                snprintf(errstr, errstr_size, "open %s: %s", path,
                         strerror(errno));
                return PB_ERR_IO;
        }
        if (flock(fd, LOCK_EX | LOCK_NB)) {
                close(fd); /* a live writer has it */
                return PB_OK;
        }
        r = pb_avrofile_open(path, errstr, errstr_size);
        if (!r) {
                /* a crash while creating, or not a file we can read: never
                 * removed here (the caller may move it aside) */
                close(fd);
                return PB_ERR_INVALID;
        }
        while ((rr = pb_avrofile_next_block(r, &d, &l, &n, &partial)) == PB_OK)
                ;
        if (rr == PB_ERR_TRUNCATED && partial && fstat(fd, &st) == 0) {
                uint64_t end = pb_avrofile_good_end(r);
                if (ftruncate(fd, (off_t)end) || fsync(fd)) {
                        snprintf(errstr, errstr_size, "truncate %s: %s", path,
                                 strerror(errno));
                        pb_avrofile_reader_destroy(r);
                        close(fd);
                        return PB_ERR_IO;
                }
                *cut = (int64_t)((uint64_t)st.st_size - end);
        }
        pb_avrofile_reader_destroy(r);
        close(fd);
        return rr == PB_END || rr == PB_ERR_TRUNCATED ? PB_OK : rr;
}
