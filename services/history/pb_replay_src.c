/* partnerbus - event source of replay and report (see pb_replay_src.h).
 *
 * Kafka: one stream per partition. At start the end offset (high
 * watermark) of every partition is captured; a partition is done when
 * the message before that offset was read (or EOF is reported), so a
 * replay ends while producers keep writing. The start is the first offset
 * whose Kafka timestamp is >= since - skew (ListOffsets by time); a broker
 * that cannot answer (the embedded development broker) makes us scan from
 * the beginning, and we say so. Each partition gets its own queue
 * (rd_kafka_queue_get_partition, not forwarded to the consumer queue), so
 * the merge can read exactly the partition it waits for.
 *
 * Archive: one stream per topic directory (files in name order). */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_archive.h"
#include "pb_replay.h"
#include "pb_replay_src.h"

typedef struct rbuf {
        struct rbuf *next_free; /* in pb_replay_src.free_bufs */
        size_t cap;             /* bytes in data[] */
        const char *topic;
        int32_t partition;
        int64_t offset, ts;
        const pb_schema_t *reader, *writer;
        size_t key_len, value_len, body_off;
        char *key, *value;
        /* the event's JSON (NUL-terminated when len > 0): the buffer it
         * was decoded into, swapped in rather than copied */
        pb_buf_t json;
        /* the event's metadata: its strings lead data[] (event id, source,
         * key field), so the header, they and the body are read in one
         * sweep when the event leaves the merge, long after it came */
        int64_t occurred_at_ms;
        size_t meta_key_len; /* as decoded (may exceed what is stored) */
        uint16_t id_len, src_len, mkey_len;
        uint8_t checked; /* 0: only the body's envelope was checked */
        char data[];
} rbuf_t;

/* Bytes meta_pack() writes at the start of data[] for meta. */
static size_t meta_packed_len(const pb_event_meta_t *meta, size_t *id_len,
                              size_t *src_len, size_t *mkey_len) {
        *id_len = strnlen(meta->event_id, sizeof(meta->event_id) - 1);
        *src_len = strnlen(meta->source, sizeof(meta->source) - 1);
        *mkey_len = meta->key_len < sizeof(meta->key) - 1
                        ? meta->key_len
                        : sizeof(meta->key) - 1;
        return *id_len + *src_len + *mkey_len;
}

/* meta's strings into the start of b->data, with the lengths
 * meta_packed_len gave (room for their sum) */
static void meta_pack(rbuf_t *b, const pb_event_meta_t *meta, size_t id_len,
                      size_t src_len, size_t mkey_len) {
        b->occurred_at_ms = meta->occurred_at_ms;
        b->meta_key_len = meta->key_len;
        b->id_len = (uint16_t)id_len;
        b->src_len = (uint16_t)src_len;
        b->mkey_len = (uint16_t)mkey_len;
        memcpy(b->data, meta->event_id, id_len);
        memcpy(b->data + id_len, meta->source, src_len);
        memcpy(b->data + id_len + src_len, meta->key, mkey_len);
}

/* what meta_pack stored, back as a pb_event_meta_t (only the bytes in
 * use are written) */
static void meta_unpack(const rbuf_t *b, pb_event_meta_t *m) {
        const char *d = b->data;
        memcpy(m->event_id, d, b->id_len);
        m->event_id[b->id_len] = 0;
        m->occurred_at_ms = b->occurred_at_ms;
        memcpy(m->source, d + b->id_len, b->src_len);
        m->source[b->src_len] = 0;
        memcpy(m->key, d + b->id_len + b->src_len, b->mkey_len);
        m->key[b->mkey_len] = 0;
        m->key_len = b->meta_key_len;
}

/* Messages taken from a partition's queue in one call and handed to the
 * merge one by one as it has room: the merge takes one event per stream
 * for each it hands out, and one queue call per event (a lock and two
 * clock reads in librdkafka) cost more than the event's own work. What is
 * staged is not in the merge, so its order and window are as before. */
#define STAGE 64

/* Decoded events per partition that the reader thread may hold for the
 * merge (beyond the merge's window). */
#define AHEAD 256

typedef struct rstream {
        const char *topic;
        int32_t partition;
        int64_t start, end; /* Kafka offsets */
        rd_kafka_queue_t *q;
        pb_archive_t *ar;
        rd_kafka_message_t *stage[STAGE];
        unsigned stage_n, stage_pos; /* stage[stage_pos..stage_n) waits */
        int done;                    /* its last message was read */
        /* with the reader thread: its decoded events in order, and 1 once
         * the last is among them (all under pb_replay_src.mu) */
        rbuf_t *ahead[AHEAD];
        unsigned ahead_head, ahead_n;
        int ahead_done;
        /* main thread: events taken from `ahead` in one lock, for the
         * merge; m_done once the reader's last is among them */
        rbuf_t *mstage[STAGE];
        unsigned mstage_n, mstage_pos;
        int m_done;
        int merge_ended; /* main thread: pb_replay_merge_end was called */
} rstream_t;

/* What reading counts (the reader's side of pb_replay_src_stats_t). */
typedef struct rcounts {
        uint64_t read, out_range, filtered, undecodable;
} rcounts_t;

struct pb_replay_src {
        pb_replay_src_conf_t c;
        int parse_json;
        int json_always; /* decode every event to JSON */
        pb_consumer_t *cons;
        rd_kafka_t *rk;
        rstream_t *st;
        size_t nst;
        pb_replay_merge_t *merge;
        pb_buf_t json, frame;
        pb_json_parser_t *jp, *jp_out;
        rbuf_t *cur;
        rbuf_t *free_bufs; /* handed-out buffers, reused by take() */
        /* bodies the caller found bad after an envelope check
         * (pb_replay_src_undecodable; the caller's thread) */
        uint64_t undecodable_later;
        /* undecodable events printed so far, by the reader thread and the
         * caller's: the first ten of all are */
        atomic_uint warned;
        /* copies of archive files' writer schemas that the catalog does not
         * hold: an archive's own is valid only until its next event, but a
         * buffered event outlives that (one per distinct schema read) */
        pb_schema_t **own;
        size_t nown;
        size_t wait_next; /* the stream fill waits on next */
        pb_replay_src_stats_t stats;
        int64_t last_progress, started, last_data;
        int progress_shown;
        int got_data; /* a message came since the idle clock was read */
        rcounts_t rc; /* counted where messages are read */
        /* The reader thread (Kafka, more than one CPU): it takes messages
         * from the partition queues, decodes them into buffers and queues
         * those per partition (rstream_t.ahead); the main thread merges
         * and writes. Under mu: the ahead queues, `returned`, rc_pub,
         * stop, reader_failed and the waiting flags. */
        int threaded;
        pthread_t reader;
        int reader_started;
        pthread_mutex_t mu;
        pthread_cond_t cv_main, cv_reader;
        int mu_init;
        int stop, reader_failed, reader_exited, main_waits, reader_waits;
        rbuf_t *returned;  /* buffers the main thread is done with */
        rbuf_t *main_free; /* main thread: given back at its next lock */
        rcounts_t rc_pub;  /* the reader's counts as last published */
};

static void reader_start(pb_replay_src_t *s);
static void reader_stop(pb_replay_src_t *s);

static void rbuf_free(rbuf_t *b) {
        if (b) {
                pb_buf_free(&b->json);
                free(b);
        }
}

int pb_replay_src_parse_time(const char *s, int64_t *ms) {
        size_t n = strlen(s);
        int32_t days;
        char *end;
        long long v;
        if (!pb_rfc3339_parse(s, n, ms))
                return 0;
        if (n == 10 && !pb_date_parse(s, n, &days)) {
                *ms = (int64_t)days * 86400000;
                return 0;
        }
        errno = 0;
        v = strtoll(s, &end, 10);
        if (n && !*end && !errno && v >= 0) {
                *ms = v;
                return 0;
        }
        return -1;
}

int pb_replay_src_conf_init(pb_replay_src_conf_t *conf, const char *cmd,
                            pb_cli_common_t *cc, const pb_history_opts_t *h,
                            char **topics, size_t ntopics) {
        memset(conf, 0, sizeof(*conf));
        if (h->since && pb_replay_src_parse_time(h->since, &conf->since_ms))
                return pb_cli_usage_error(cmd, "--since: not a time: %s",
                                          h->since);
        if (h->until && pb_replay_src_parse_time(h->until, &conf->until_ms))
                return pb_cli_usage_error(cmd, "--until: not a time: %s",
                                          h->until);
        if (strcmp(h->progress, "auto") && strcmp(h->progress, "always") &&
            strcmp(h->progress, "never"))
                return pb_cli_usage_error(cmd, "--progress expects auto, "
                                               "always or never");
        if (strcmp(h->decode_thread, "auto")) { /* else 0 */
                int on = pb_optmap_parse_bool(h->decode_thread);
                if (on < 0)
                        return pb_cli_usage_error(cmd, "--decode-thread "
                                                       "expects auto, on or "
                                                       "off");
                conf->decode_thread = on ? 1 : -1;
        }
        conf->cmd = cmd;
        conf->archive_dir = h->archive;
        conf->cc = cc;
        conf->topics = (const char *const *)topics;
        conf->ntopics = ntopics;
        conf->has_since = h->since != NULL;
        conf->has_until = h->until != NULL;
        conf->skew_ms = h->skew;
        conf->idle_timeout_ms = h->idle_timeout;
        conf->progress = !strcmp(h->progress, "always") ||
                         (!strcmp(h->progress, "auto") && isatty(2));
        return -1;
}

static void err(const pb_replay_src_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void err(const pb_replay_src_t *s, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "partnerbus %s: ", s->c.cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* --- Kafka setup --- */

/* One stream per partition of the topics, from its low to its high
 * watermark; with --since, from the first offset at or after since - skew
 * (lib/kafka's time -> offsets lookup), or from the beginning when the
 * broker cannot say. 0 or -1. */
static int kafka_streams(pb_replay_src_t *s) {
        pb_kafka_offsets_t *o;
        char e[512];
        size_t i;
        o = pb_kafka_offsets_new(s->rk, s->c.topics, s->c.ntopics, 15000, e,
                                 sizeof(e));
        if (!o) {
                err(s, "%s", e);
                return -1;
        }
        if (s->c.has_since &&
            pb_kafka_offsets_for_time(s->rk, o,
                                      s->c.since_ms - s->c.skew_ms < 0
                                          ? 0
                                          : s->c.since_ms - s->c.skew_ms,
                                      15000, e, sizeof(e)) != PB_OK) {
                s->stats.scanned_from_beginning = 1;
                fprintf(stderr,
                        "partnerbus %s: the broker cannot look up "
                        "offsets by time (ListOffsets: %s); scanning "
                        "from the beginning of each partition\n",
                        s->c.cmd, e);
        }
        s->st = calloc(o->n ? o->n : 1, sizeof(*s->st));
        if (!s->st) {
                pb_kafka_offsets_destroy(o);
                return -1;
        }
        for (i = 0; i < o->n; i++) {
                rstream_t *r = &s->st[s->nst++];
                r->topic = o->p[i].topic;
                r->partition = o->p[i].partition;
                r->start = o->p[i].low;
                r->end = o->p[i].high;
                if (o->p[i].offset > r->start) /* -1 without --since */
                        r->start = o->p[i].offset;
        }
        pb_kafka_offsets_destroy(o);
        return 0;
}

static int kafka_setup(pb_replay_src_t *s) {
        pb_consumer_opts_t co;
        char e[512];
        size_t i;
        rd_kafka_topic_partition_list_t *assign = NULL;
        rd_kafka_resp_err_t ke;
        int ok = 0;
        memset(&co, 0, sizeof(co));
        co.from_beginning = 1;
        co.stop_at_end = 1; /* enable.partition.eof */
        s->cons = pb_consumer_new(&s->c.cc->kconf, &co, s->c.topics,
                                  s->c.ntopics, e, sizeof(e));
        if (!s->cons) {
                err(s, "%s", e);
                return -1;
        }
        s->rk = pb_consumer_rk(s->cons);
        /* drop the consumer's own assignment: we assign per partition */
        pb_consumer_unassign(s->cons);
        if (kafka_streams(s))
                return -1;
        assign = rd_kafka_topic_partition_list_new((int)s->nst);
        for (i = 0; i < s->nst; i++) {
                rstream_t *r = &s->st[i];
                if (r->start >= r->end)
                        continue;
                s->stats.total_hint += (uint64_t)(r->end - r->start);
                r->q =
                    rd_kafka_queue_get_partition(s->rk, r->topic, r->partition);
                if (!r->q) {
                        err(s, "no queue for %s [%d]", r->topic, r->partition);
                        goto done;
                }
                rd_kafka_queue_forward(r->q, NULL);
                rd_kafka_topic_partition_list_add(assign, r->topic,
                                                  r->partition)
                    ->offset = r->start;
        }
        if (assign->cnt && (ke = rd_kafka_assign(s->rk, assign))) {
                err(s, "assign: %s", rd_kafka_err2str(ke));
                goto done;
        }
        ok = 1;
done:
        rd_kafka_topic_partition_list_destroy(assign);
        return ok ? 0 : -1;
}

static int archive_setup(pb_replay_src_t *s) {
        size_t i;
        char e[512];
        s->st = calloc(s->c.ntopics, sizeof(*s->st));
        if (!s->st)
                return -1;
        for (i = 0; i < s->c.ntopics; i++) {
                int missing = 0;
                rstream_t *r = &s->st[s->nst++];
                r->topic = s->c.topics[i];
                r->partition = -1;
                r->ar = pb_archive_open(s->c.archive_dir, r->topic, &missing, e,
                                        sizeof(e));
                if (!r->ar) {
                        err(s, "archive: %s", e);
                        return -1;
                }
                if (missing)
                        fprintf(stderr,
                                "partnerbus %s: archive %s has no directory "
                                "for topic %s (no events)\n",
                                s->c.cmd, s->c.archive_dir, r->topic);
        }
        return 0;
}

pb_replay_src_t *pb_replay_src_new(const pb_replay_src_conf_t *conf,
                                   int parse_json) {
        pb_replay_src_t *s = calloc(1, sizeof(*s));
        size_t i;
        if (!s)
                return NULL;
        s->c = *conf;
        s->parse_json = parse_json;
        s->json_always = !s->c.json_to_resolve_only || parse_json ||
                         (s->c.filter && pb_filter_count(s->c.filter) &&
                          pb_filter_needs_event(s->c.filter));
        if (!s->c.window)
                s->c.window = 1;
        pb_buf_init(&s->json, 0);
        pb_buf_init(&s->frame, 0);
        s->jp = pb_json_parser_new(NULL);
        s->jp_out = pb_json_parser_new(NULL);
        if (!s->jp || !s->jp_out)
                goto fail;
        if (s->c.archive_dir ? archive_setup(s) : kafka_setup(s))
                goto fail;
        s->merge = pb_replay_merge_new(s->nst ? s->nst : 1, s->c.window);
        if (!s->merge)
                goto fail;
        for (i = 0; i < s->nst; i++)
                if (!s->c.archive_dir && !s->st[i].q)
                        pb_replay_merge_end(s->merge, (uint32_t)i);
        if (!s->nst)
                pb_replay_merge_end(s->merge, 0);
        s->started = s->last_data = pb_mono_ms();
        if (!s->c.archive_dir && s->nst &&
            (s->c.decode_thread > 0 ||
             (s->c.decode_thread == 0 && s->json_always &&
              sysconf(_SC_NPROCESSORS_ONLN) > 1)))
                reader_start(s);
        return s;
fail:
        pb_replay_src_destroy(s);
        return NULL;
}

void pb_replay_src_destroy(pb_replay_src_t *s) {
        size_t i;
        pb_replay_merge_item_t it;
        if (!s)
                return;
        reader_stop(s);
        for (i = 0; i < s->nst; i++) {
                rstream_t *r = &s->st[i];
                while (r->mstage_pos < r->mstage_n)
                        rbuf_free(r->mstage[r->mstage_pos++]);
        }
        for (i = 0; i < s->nst; i++)
                while (s->st[i].ahead_n) {
                        rbuf_free(s->st[i].ahead[s->st[i].ahead_head]);
                        s->st[i].ahead_head = (s->st[i].ahead_head + 1) % AHEAD;
                        s->st[i].ahead_n--;
                }
        if (s->mu_init) {
                pthread_mutex_destroy(&s->mu);
                pthread_cond_destroy(&s->cv_main);
                pthread_cond_destroy(&s->cv_reader);
        }
        while (s->merge && pb_replay_merge_pop(s->merge, &it) == PB_OK)
                rbuf_free(it.payload);
        pb_replay_merge_destroy(s->merge);
        rbuf_free(s->cur);
        while (s->free_bufs || s->returned || s->main_free) {
                rbuf_t **l = s->free_bufs  ? &s->free_bufs
                             : s->returned ? &s->returned
                                           : &s->main_free;
                rbuf_t *b = *l;
                *l = b->next_free;
                rbuf_free(b);
        }
        for (i = 0; i < s->nst; i++) {
                rstream_t *r = &s->st[i];
                while (r->stage_pos < r->stage_n)
                        rd_kafka_message_destroy(r->stage[r->stage_pos++]);
                if (r->q)
                        rd_kafka_queue_destroy(r->q);
                pb_archive_destroy(s->st[i].ar);
        }
        free(s->st);
        pb_consumer_destroy(s->cons);
        pb_buf_free(&s->json);
        pb_buf_free(&s->frame);
        pb_json_parser_destroy(s->jp);
        pb_json_parser_destroy(s->jp_out);
        while (s->nown)
                pb_schema_destroy(s->own[--s->nown]);
        free(s->own);
        free(s);
}

/* A buffer with room for `need` bytes of data: one handed out before
 * (the free list holds at most as many as were ever buffered at once, so
 * no more memory than before), or a new one with some headroom, so the
 * steady state allocates nothing per event. */
static rbuf_t *rbuf_get(pb_replay_src_t *s, size_t need) {
        rbuf_t *b = s->free_bufs, *grown;
        size_t cap = need + need / 4 + 64;
        if (!b) {
                b = malloc(sizeof(*b) + cap);
                if (!b)
                        return NULL;
                b->cap = cap;
                pb_buf_init(&b->json, 0);
                return b;
        }
        s->free_bufs = b->next_free;
        if (b->cap >= need)
                return b;
        grown = realloc(b, sizeof(*b) + cap); /* keeps its JSON buffer */
        if (!grown) {
                rbuf_free(b);
                return NULL;
        }
        grown->cap = cap;
        return grown;
}

static void rbuf_put(pb_replay_src_t *s, rbuf_t *b) {
        if (!b)
                return;
        if (s->threaded) { /* the main thread's; to the reader at its lock */
                b->next_free = s->main_free;
                s->main_free = b;
                return;
        }
        b->next_free = s->free_bufs;
        s->free_bufs = b;
}

/* 1 when a body written with w is read with r as it is */
static int same_schema(const pb_schema_t *w, const pb_schema_t *r) {
        return w && r &&
               (w == r || pb_schema_fingerprint(w) == pb_schema_fingerprint(r));
}

/* The buffer of a decoded event: NULL with *oom 0 when it is out of the
 * range or filtered (counted), NULL with *oom 1 when out of memory. Runs
 * on the thread that reads (s->jp, s->json, s->free_bufs are its own). */
static rbuf_t *make_buf(pb_replay_src_t *s, const char *topic, int32_t part,
                        int64_t off, int64_t ts, const void *key, size_t klen,
                        const uint8_t *value, size_t vlen,
                        const pb_serde_msg_t *msg, const pb_event_meta_t *meta,
                        int checked, int *oom) {
        rbuf_t *b;
        size_t id_len, src_len, mkey_len, mlen;
        const char *type = pb_schema_type(msg->reader);
        if ((s->c.has_since && meta->occurred_at_ms < s->c.since_ms) ||
            (s->c.has_until && meta->occurred_at_ms >= s->c.until_ms)) {
                s->rc.out_range++;
                return NULL;
        }
        if (s->c.filter && pb_filter_count(s->c.filter)) {
                const pb_json_t *tree = NULL;
                if (pb_filter_needs_event(s->c.filter)) {
                        char e[256];
                        tree = pb_json_parse(s->jp, (const char *)s->json.data,
                                             s->json.len, e, sizeof(e));
                        if (!tree) {
                                s->rc.undecodable++;
                                return NULL;
                        }
                }
                if (!pb_filter_match(s->c.filter, type, tree)) {
                        s->rc.filtered++;
                        return NULL;
                }
        }
        if (s->c.json_only) /* the caller reads the JSON alone */
                vlen = 0;
        mlen = meta_packed_len(meta, &id_len, &src_len, &mkey_len);
        b = rbuf_get(s, mlen + klen + vlen + 2);
        if (!b) {
                *oom = 1;
                return NULL;
        }
        b->topic = topic;
        b->partition = part;
        b->offset = off;
        b->ts = ts;
        b->reader = msg->reader;
        b->writer = msg->writer;
        b->body_off = msg->body_off;
        b->checked = (uint8_t)checked;
        meta_pack(b, meta, id_len, src_len, mkey_len);
        b->key = b->data + mlen;
        b->key_len = klen;
        if (klen)
                memcpy(b->key, key, klen);
        b->key[klen] = 0;
        b->value = b->key + klen + 1;
        b->value_len = vlen;
        if (vlen)
                memcpy(b->value, value, vlen);
        b->value[vlen] = 0;
        if (s->json.len && pb_buf_putc(&s->json, 0) != PB_OK) {
                rbuf_free(b);
                *oom = 1;
                return NULL;
        }
        if (s->json.len)
                s->json.len--; /* the NUL stays behind the text */
        { /* the decoded JSON moves into b, b's old buffer is the next one */
                pb_buf_t t = b->json;
                b->json = s->json;
                s->json = t;
        }
        return b;
}

/* b into the merge as stream si's next event. 0, or -1 out of memory
 * (b given back). */
static int push_buf(pb_replay_src_t *s, uint32_t si, rbuf_t *b) {
        pb_replay_merge_item_t it;
        size_t n = b->id_len < sizeof(it.event_id) - 1
                       ? b->id_len
                       : sizeof(it.event_id) - 1;
        memset(&it, 0, sizeof(it));
        it.time_ms = b->occurred_at_ms;
        it.topic = b->topic;
        memcpy(it.event_id, b->data, n);
        it.event_id[n] = 0;
        it.stream = si;
        it.seq = b->offset;
        it.payload = b;
        if (pb_replay_merge_push(s->merge, &it) != PB_OK) {
                rbuf_put(s, b);
                return -1;
        }
        return 0;
}

/* make_buf, then push_buf (the main thread reads). 0 ok, -1 out of
 * memory */
static int take(pb_replay_src_t *s, uint32_t si, const char *topic,
                int32_t part, int64_t off, int64_t ts, const void *key,
                size_t klen, const uint8_t *value, size_t vlen,
                const pb_serde_msg_t *msg, const pb_event_meta_t *meta,
                int checked) {
        int oom = 0;
        rbuf_t *b = make_buf(s, topic, part, off, ts, key, klen, value, vlen,
                             msg, meta, checked, &oom);
        if (!b)
                return oom ? -1 : 0;
        return push_buf(s, si, b);
}

/* A schema equal to w (an archive file's writer, valid only until the
 * archive's next event) that lives as long as s: the catalog's when it
 * has the same fingerprint, else a copy kept in s->own. NULL: no memory. */
static const pb_schema_t *stable_schema(pb_replay_src_t *s,
                                        const pb_schema_t *w,
                                        const pb_schema_t *catalog) {
        uint64_t fp = pb_schema_fingerprint(w);
        const char *j;
        pb_schema_t *copy, **grown;
        size_t i;
        if (catalog && pb_schema_fingerprint(catalog) == fp)
                return catalog;
        for (i = 0; i < s->nown; i++)
                if (pb_schema_fingerprint(s->own[i]) == fp)
                        return s->own[i];
        j = pb_schema_json(w);
        copy = pb_schema_new(j, strlen(j), NULL, 0);
        if (!copy)
                return NULL;
        grown = realloc(s->own, (s->nown + 1) * sizeof(*grown));
        if (!grown) {
                pb_schema_destroy(copy);
                return NULL;
        }
        s->own = grown;
        s->own[s->nown++] = copy;
        return copy;
}

/* Prints one undecodable event, if fewer than ten were printed before. */
static void print_undecodable(pb_replay_src_t *s, const char *topic,
                              int32_t part, int64_t off, const char *why) {
        if (atomic_fetch_add(&s->warned, 1) < 10)
                fprintf(stderr,
                        "partnerbus %s: %s [%d] offset %lld: cannot decode: "
                        "%s\n",
                        s->c.cmd, topic, part, (long long)off, why);
}

static void warn_undecodable(pb_replay_src_t *s, const char *topic,
                             int32_t part, int64_t off, const char *why) {
        s->rc.undecodable++;
        print_undecodable(s, topic, part, off, why);
}

void pb_replay_src_undecodable(pb_replay_src_t *s, const pb_revent_t *ev,
                               const char *why) {
        s->undecodable_later++;
        print_undecodable(s, ev->topic, ev->partition, ev->offset, why);
}

/* Takes up to `max` messages (at most STAGE) from stream si's partition
 * queue into its stage when none is staged, waiting up to timeout_ms
 * (rd_kafka_consume_batch_queue returns early only when all it asked for
 * are there, so a wait asks for one). 0, or -1 (fatal, printed). */
static int stage_kafka(pb_replay_src_t *s, rstream_t *r, int timeout_ms,
                       size_t max) {
        ssize_t n;
        if (r->stage_pos < r->stage_n)
                return 0;
        n = rd_kafka_consume_batch_queue(
            r->q, timeout_ms, r->stage,
            timeout_ms > 0 ? 1 : (max < STAGE ? max : STAGE));
        if (n < 0) {
                err(s, "%s [%d]: %s", r->topic, r->partition,
                    rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        r->stage_n = (unsigned)n;
        r->stage_pos = 0;
        return 0;
}

/* Stream r's next staged message, decoded into *out; *out NULL when it
 * gave no event (end of partition, an error reported by librdkafka, out
 * of the range, filtered, undecodable: each printed or counted). Sets
 * r->done after the stream's last message. 0, or -1 out of memory. */
static int read_kafka(pb_replay_src_t *s, rstream_t *r, rbuf_t **out) {
        rd_kafka_message_t *m = r->stage[r->stage_pos++];
        pb_serde_msg_t msg;
        pb_event_meta_t meta;
        char e[512];
        rd_kafka_timestamp_type_t tt;
        int64_t ts;
        int oom = 0, checked = 1;
        pb_resp_t rr;
        *out = NULL;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
            (!m->err && m->offset >= r->end)) { /* past the captured end */
                r->done = 1;
                rd_kafka_message_destroy(m);
                return 0;
        }
        if (m->err) {
                fprintf(stderr, "partnerbus %s: %s [%d]: %s\n", s->c.cmd,
                        r->topic, r->partition, rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                return 0;
        }
        s->rc.read++;
        ts = rd_kafka_message_timestamp(m, &tt);
        pb_buf_reset(&s->json);
        if (!s->json_always && s->c.envelope_only) {
                rr = pb_serde_read_envelope(s->c.serde, m->payload, m->len,
                                            &msg, &meta, e, sizeof(e));
                checked = !same_schema(msg.writer, msg.reader);
        } else
                rr = pb_serde_read(s->c.serde, m->payload, m->len, &msg,
                                   s->json_always ? &s->json : NULL, &meta, e,
                                   sizeof(e));
        if (rr != PB_OK ||
            (!s->json_always && !same_schema(msg.writer, msg.reader) &&
             pb_codec_avro_to_json(
                 pb_serde_codec(s->c.serde), msg.writer, msg.reader,
                 (const uint8_t *)m->payload + msg.body_off,
                 m->len - msg.body_off, &s->json, NULL, e, sizeof(e)) != PB_OK))
                warn_undecodable(s, r->topic, r->partition, m->offset, e);
        else
                *out = make_buf(s, r->topic, r->partition, m->offset, ts,
                                m->key, m->key ? m->key_len : 0, m->payload,
                                m->len, &msg, &meta, checked, &oom);
        if (m->offset + 1 >= r->end)
                r->done = 1;
        rd_kafka_message_destroy(m);
        return oom ? -1 : 0;
}

/* Hands stream si's messages to the merge while it has room, at most
 * `max`, staging them first (stage_kafka). The number of messages used,
 * or -1 (fatal). */
static ssize_t fill_kafka(pb_replay_src_t *s, uint32_t si, int timeout_ms,
                          size_t max) {
        rstream_t *r = &s->st[si];
        ssize_t used = 0;
        size_t want = pb_replay_merge_room(s->merge, si);
        if (want > max)
                want = max;
        if (!want)
                return 0;
        if (stage_kafka(s, r, timeout_ms, STAGE))
                return -1;
        if (r->stage_n)
                s->got_data = 1;
        while (r->stage_pos < r->stage_n &&
               pb_replay_merge_wants(s->merge, si) && (size_t)used < want) {
                rbuf_t *b;
                used++;
                if (read_kafka(s, r, &b) || (b && push_buf(s, si, b))) {
                        err(s, "out of memory");
                        return -1;
                }
                if (r->done)
                        pb_replay_merge_end(s->merge, si);
        }
        return used;
}

/* --- the reader thread --- */

/* Reader: stream r's staged messages decoded into its ahead queue while
 * it has room (`room` as seen at the last lock). The number of messages
 * read, or -1 (out of memory, printed). */
static ssize_t ahead_read(pb_replay_src_t *s, rstream_t *r, unsigned room) {
        rbuf_t *got[STAGE];
        unsigned n = 0, i;
        ssize_t used = 0;
        int oom = 0;
        while (r->stage_pos < r->stage_n && n < room && n < STAGE && !r->done) {
                used++;
                if (read_kafka(s, r, &got[n])) {
                        oom = 1;
                        break;
                }
                if (got[n])
                        n++;
        }
        pthread_mutex_lock(&s->mu);
        for (i = 0; i < n; i++)
                r->ahead[(r->ahead_head + r->ahead_n++) % AHEAD] = got[i];
        r->ahead_done = r->done;
        s->rc_pub = s->rc;
        if (s->main_waits && (n || r->done))
                pthread_cond_signal(&s->cv_main);
        pthread_mutex_unlock(&s->mu);
        if (oom)
                err(s, "out of memory");
        return oom ? -1 : used;
}

/* Reader: 1 when every stream it still reads has a full ahead queue
 * (under mu) */
static int ahead_all_full(const pb_replay_src_t *s) {
        size_t i;
        for (i = 0; i < s->nst; i++)
                if (s->st[i].q && !s->st[i].done && s->st[i].ahead_n < AHEAD)
                        return 0;
        return 1;
}

static void *reader_main(void *arg) {
        pb_replay_src_t *s = arg;
        size_t wait_next = 0;
        unsigned *room = calloc(s->nst, sizeof(*room));
        int failed = !room;
        while (!failed) {
                size_t i, open = 0, k;
                ssize_t got = 0, n;
                pthread_mutex_lock(&s->mu);
                if (s->stop || pb_cli_stop) {
                        pthread_mutex_unlock(&s->mu);
                        break;
                }
                while (s->returned) { /* buffers back from the main thread */
                        rbuf_t *b = s->returned;
                        s->returned = b->next_free;
                        b->next_free = s->free_bufs;
                        s->free_bufs = b;
                }
                for (i = 0; i < s->nst; i++)
                        room[i] = AHEAD - s->st[i].ahead_n;
                pthread_mutex_unlock(&s->mu);
                for (i = 0; i < s->nst && !failed; i++) {
                        rstream_t *r = &s->st[i];
                        if (!r->q || r->done)
                                continue;
                        open++;
                        if (!room[i])
                                continue;
                        if (stage_kafka(s, r, 0, room[i]) ||
                            (n = ahead_read(s, r, room[i])) < 0) {
                                failed = 1;
                                break;
                        }
                        got += n;
                }
                if (failed || !open)
                        break;
                if (got)
                        continue;
                /* nothing came without waiting: wait for the next message
                 * of a partition with room (in turn), or for room */
                for (k = 0; k < s->nst; k++) {
                        i = (wait_next + k) % s->nst;
                        if (s->st[i].q && !s->st[i].done && room[i])
                                break;
                }
                if (k < s->nst) {
                        wait_next = i + 1;
                        if (stage_kafka(s, &s->st[i], 20, 1) ||
                            ahead_read(s, &s->st[i], room[i]) < 0)
                                failed = 1;
                        continue;
                }
                pthread_mutex_lock(&s->mu);
                if (!s->stop && ahead_all_full(s)) { /* wait for room */
                        s->reader_waits = 1;
                        pthread_cond_wait(&s->cv_reader, &s->mu);
                        s->reader_waits = 0;
                }
                pthread_mutex_unlock(&s->mu);
        }
        free(room);
        pthread_mutex_lock(&s->mu);
        s->reader_failed = failed;
        s->reader_exited = 1;
        s->rc_pub = s->rc;
        pthread_cond_signal(&s->cv_main);
        pthread_mutex_unlock(&s->mu);
        return NULL;
}

/* Main thread, with the reader: its staged events into the merge while
 * it wants them, and the ends of streams the reader is done with.
 * *starved: a stream the merge waits for has nothing staged. The number
 * moved (ends included), or -1 out of memory (printed). */
static ssize_t push_staged(pb_replay_src_t *s, int *starved) {
        ssize_t moved = 0;
        size_t i;
        *starved = 0;
        for (i = 0; i < s->nst; i++) {
                rstream_t *r = &s->st[i];
                while (r->mstage_pos < r->mstage_n &&
                       pb_replay_merge_wants(s->merge, (uint32_t)i)) {
                        moved++;
                        if (push_buf(s, (uint32_t)i,
                                     r->mstage[r->mstage_pos++])) {
                                err(s, "out of memory");
                                return -1;
                        }
                }
                if (r->mstage_pos < r->mstage_n)
                        continue;
                if (r->m_done && !r->merge_ended) {
                        pb_replay_merge_end(s->merge, (uint32_t)i);
                        r->merge_ended = 1;
                        moved++;
                } else if (pb_replay_merge_wants(s->merge, (uint32_t)i))
                        *starved = 1;
        }
        return moved;
}

/* Main thread, under mu: every empty stage refilled from its stream's
 * ahead queue (up to STAGE), waking the reader when it waits for room.
 * The number of events and ends taken. */
static size_t take_ahead(pb_replay_src_t *s) {
        size_t i, got = 0;
        for (i = 0; i < s->nst; i++) {
                rstream_t *r = &s->st[i];
                unsigned k = 0;
                if (r->mstage_pos < r->mstage_n || r->m_done)
                        continue;
                while (r->ahead_n && k < STAGE) {
                        r->mstage[k++] = r->ahead[r->ahead_head];
                        r->ahead_head = (r->ahead_head + 1) % AHEAD;
                        r->ahead_n--;
                }
                r->mstage_n = k;
                r->mstage_pos = 0;
                r->m_done = !r->ahead_n && r->ahead_done;
                got += k + (size_t)r->m_done;
        }
        if (got && s->reader_waits)
                pthread_cond_signal(&s->cv_reader);
        return got;
}

/* Main thread, with the reader: moves the reader's decoded events into
 * the merge (push_staged), taking the lock only when a stream the merge
 * waits for has nothing staged; then waits up to 100 ms for the reader if
 * it had nothing either. The number moved (ends included), or -1 when the
 * reader stopped on an error or memory ran out (printed). */
static ssize_t fill_ahead(pb_replay_src_t *s) {
        ssize_t moved = 0, n;
        int starved, round, failed = 0;
        for (round = 0; round < 2; round++) {
                size_t got;
                n = push_staged(s, &starved);
                if (n < 0)
                        return -1;
                moved += n;
                if (moved || !starved || round)
                        break;
                pthread_mutex_lock(&s->mu);
                if (s->main_free) { /* buffers back to the reader */
                        rbuf_t *last = s->main_free;
                        while (last->next_free)
                                last = last->next_free;
                        last->next_free = s->returned;
                        s->returned = s->main_free;
                        s->main_free = NULL;
                }
                got = take_ahead(s);
                if (!got && !s->reader_exited) {
                        s->main_waits = 1;
                        pb_cond_wait_ms(&s->cv_main, &s->mu, 100);
                        s->main_waits = 0;
                        got = take_ahead(s);
                }
                failed = !got && s->reader_failed;
                pthread_mutex_unlock(&s->mu);
                if (!got)
                        break;
        }
        return moved ? moved : failed ? -1 : 0;
}

/* Starts the reader thread; without one (no thread, no mutex) the main
 * thread reads as before. */
static void reader_start(pb_replay_src_t *s) {
        if (pthread_mutex_init(&s->mu, NULL))
                return;
        if (pthread_cond_init(&s->cv_main, NULL)) {
                pthread_mutex_destroy(&s->mu);
                return;
        }
        if (pthread_cond_init(&s->cv_reader, NULL)) {
                pthread_cond_destroy(&s->cv_main);
                pthread_mutex_destroy(&s->mu);
                return;
        }
        s->mu_init = 1;
        s->threaded = 1;
        if (pthread_create(&s->reader, NULL, reader_main, s) == 0)
                s->reader_started = 1;
        else
                s->threaded = 0;
}

/* Stops the reader thread (if it runs) and waits for it. */
static void reader_stop(pb_replay_src_t *s) {
        if (!s->reader_started)
                return;
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->cv_reader);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->reader, NULL);
        s->reader_started = 0;
}

static int fill_archive(pb_replay_src_t *s, uint32_t si) {
        rstream_t *r = &s->st[si];
        while (pb_replay_merge_wants(s->merge, si)) {
                pb_archive_event_t ae;
                const pb_schema_t *reader;
                pb_serde_msg_t msg;
                pb_event_meta_t meta;
                char e[512];
                pb_resp_t rc = pb_archive_next(r->ar, &ae, e, sizeof(e));
                if (rc == PB_END) {
                        pb_replay_merge_end(s->merge, si);
                        if (pb_archive_partial_files(r->ar))
                                fprintf(stderr,
                                        "partnerbus %s: %s: skipped an "
                                        "incomplete last block in %zu "
                                        "file(s)\n",
                                        s->c.cmd, r->topic,
                                        pb_archive_partial_files(r->ar));
                        return 0;
                }
                if (rc != PB_OK) {
                        err(s, "archive: %s", e);
                        return -1;
                }
                s->rc.read++;
                reader =
                    pb_schemas_find(s->c.catalog, pb_schema_type(ae.writer));
                pb_buf_reset(&s->json);
                pb_buf_reset(&s->frame);
                memset(&meta, 0, sizeof(meta));
                if (!s->json_always &&
                            same_schema(ae.writer, reader ? reader : ae.writer)
                        ? pb_codec_check(pb_serde_codec(s->c.serde), ae.writer,
                                         NULL, ae.body, ae.body_len, &meta, e,
                                         sizeof(e)) != PB_OK
                        : pb_codec_avro_to_json(pb_serde_codec(s->c.serde),
                                                ae.writer, reader, ae.body,
                                                ae.body_len, &s->json, &meta, e,
                                                sizeof(e)) != PB_OK) {
                        warn_undecodable(s, r->topic, -1, ae.seq, e);
                        continue;
                }
                /* the wire form: single-object encoding of the writer */
                memset(&msg, 0, sizeof(msg));
                msg.writer = stable_schema(s, ae.writer, reader);
                msg.reader = reader ? reader : msg.writer;
                msg.body_off = PB_SOE_HEADER_LEN;
                if (!msg.writer) {
                        err(s, "out of memory");
                        return -1;
                }
                if (pb_frame_write_soe(
                        &s->frame, pb_schema_fingerprint(ae.writer)) != PB_OK ||
                    pb_buf_append(&s->frame, ae.body, ae.body_len) != PB_OK ||
                    take(s, si, r->topic, -1, ae.seq, -1, meta.key,
                         meta.key_len, s->frame.data, s->frame.len, &msg, &meta,
                         1)) {
                        err(s, "out of memory");
                        return -1;
                }
        }
        return 0;
}

/* What the thread that reads has counted so far. */
static rcounts_t read_counts(const pb_replay_src_t *s) {
        rcounts_t c;
        if (!s->threaded)
                return s->rc;
        pthread_mutex_lock((pthread_mutex_t *)&s->mu);
        c = s->rc_pub;
        pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
        return c;
}

static void progress(pb_replay_src_t *s, int force) {
        int64_t now = pb_mono_ms(), el;
        double rate;
        uint64_t read;
        if (!s->c.progress || (!force && now - s->last_progress < 250))
                return;
        read = read_counts(s).read;
        s->last_progress = now;
        el = now - s->started;
        rate = el > 0 ? read * 1000.0 / el : 0;
        if (s->stats.total_hint) {
                double f = (double)read / s->stats.total_hint;
                int i, w = 30, fill;
                char bar[40];
                if (f > 1)
                        f = 1;
                fill = (int)(f * w);
                for (i = 0; i < w; i++)
                        bar[i] = i < fill ? '#' : '.';
                bar[w] = 0;
                fprintf(stderr,
                        "\r[%s] %3.0f%% %llu/%llu  %.0f events/s  ETA %.0fs ",
                        bar, f * 100, (unsigned long long)read,
                        (unsigned long long)s->stats.total_hint, rate,
                        rate > 0 ? (s->stats.total_hint - read) / rate : 0);
        } else
                fprintf(stderr, "\r%llu events read  %.0f events/s ",
                        (unsigned long long)read, rate);
        s->progress_shown = 1;
}

void pb_replay_src_progress_done(pb_replay_src_t *s) {
        if (s && s->progress_shown) {
                progress(s, 1);
                fputc('\n', stderr);
                s->progress_shown = 0;
        }
}

/* Called when nothing came without waiting (the idle clock is read only
 * then: it restarts when something came since the last look). 1 when
 * nothing came for --idle-timeout (printed). */
static int idle_expired(pb_replay_src_t *s, size_t nwant) {
        int64_t now;
        if (s->c.idle_timeout_ms <= 0)
                return 0;
        now = pb_mono_ms();
        if (s->got_data) {
                s->got_data = 0;
                s->last_data = now;
                return 0;
        }
        if (now - s->last_data <= s->c.idle_timeout_ms)
                return 0;
        err(s,
            "no message for %lld ms while %zu partition(s) have not "
            "reached their end offset",
            (long long)s->c.idle_timeout_ms, nwant);
        return 1;
}

pb_resp_t pb_replay_src_next(pb_replay_src_t *s, pb_revent_t *ev) {
        pb_replay_merge_item_t it;
        rbuf_t *b;
        rbuf_put(s, s->cur);
        s->cur = NULL;
        while (!pb_replay_merge_ready(s->merge)) {
                size_t i, nwant = 0;
                if (pb_cli_stop) {
                        err(s, "interrupted");
                        return PB_ERR_IO;
                }
                if (pb_replay_merge_all_ended(s->merge) &&
                    !pb_replay_merge_buffered(s->merge))
                        return PB_END;
                for (i = 0; i < s->nst; i++)
                        nwant += pb_replay_merge_wants(s->merge, (uint32_t)i);
                if (s->c.archive_dir) {
                        for (i = 0; i < s->nst; i++)
                                if (pb_replay_merge_wants(s->merge,
                                                          (uint32_t)i) &&
                                    fill_archive(s, (uint32_t)i))
                                        return PB_ERR_IO;
                } else if (s->threaded) {
                        ssize_t n = fill_ahead(s);
                        if (n < 0)
                                return PB_ERR_IO;
                        if (n > 0)
                                s->got_data = 1;
                        else if (idle_expired(s, nwant))
                                return PB_ERR_KAFKA;
                } else {
                        /* take what every partition has without waiting;
                         * only when none had anything, wait for the next
                         * message of one that is short (in turn) */
                        ssize_t got = 0, n;
                        for (i = 0; i < s->nst; i++) {
                                if (!pb_replay_merge_wants(s->merge,
                                                           (uint32_t)i))
                                        continue;
                                n = fill_kafka(s, (uint32_t)i, 0, SIZE_MAX);
                                if (n < 0)
                                        return PB_ERR_IO;
                                got += n;
                        }
                        for (i = 0; !got && i < s->nst; i++) {
                                uint32_t k =
                                    (uint32_t)((s->wait_next + i) % s->nst);
                                if (!pb_replay_merge_wants(s->merge, k))
                                        continue;
                                s->wait_next = k + 1;
                                if (fill_kafka(s, k, nwant == 1 ? 200 : 20, 1) <
                                    0)
                                        return PB_ERR_IO;
                                break;
                        }
                        if (!got && idle_expired(s, nwant))
                                return PB_ERR_KAFKA;
                }
                progress(s, 0);
        }
        if (pb_replay_merge_pop(s->merge, &it) != PB_OK)
                return PB_END;
        s->stats.emitted++;
        b = s->cur = it.payload;
        memset(ev, 0, offsetof(pb_revent_t, meta));
        ev->topic = b->topic;
        ev->partition = b->partition;
        ev->offset = b->offset;
        ev->timestamp_ms = b->ts;
        ev->reader = b->reader;
        ev->writer = b->writer;
        ev->body_off = b->body_off;
        ev->checked = b->checked;
        ev->type = pb_schema_type(b->reader);
        ev->key = b->key;
        ev->key_len = b->key_len;
        ev->value = (const uint8_t *)b->value;
        ev->value_len = b->value_len;
        ev->json = b->json.len ? (const char *)b->json.data : "";
        ev->json_len = b->json.len;
        meta_unpack(b, &ev->meta);
        if (s->parse_json) {
                char e[256];
                ev->tree = pb_json_parse(s->jp_out, ev->json, ev->json_len, e,
                                         sizeof(e));
                if (!ev->tree) {
                        err(s, "event JSON: %s", e);
                        return PB_ERR_PARSE;
                }
        }
        return PB_OK;
}

void pb_replay_src_stats(const pb_replay_src_t *s, pb_replay_src_stats_t *st) {
        rcounts_t c = read_counts(s);
        *st = s->stats;
        st->read = c.read;
        st->out_range = c.out_range;
        st->filtered = c.filtered;
        st->undecodable = c.undecodable + s->undecodable_later;
        /* handed out by the merge, but refused by the caller's walk */
        st->emitted -= s->undecodable_later;
        st->late = pb_replay_merge_late(s->merge);
}
