/* partnerbus poll - the poller's state: the key -> content fingerprint
 * table in memory (see pb_poll_state.h), and, at start, its replay from
 * the compacted state topic, read_committed, together with the feed's
 * validators. */
#include "pb_poll_state.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_fptab.h"
#include "pb_poll.h"

struct pb_poll_state {
        pb_fptab_t *t;    /* own table (not shared) */
        pb_ownmap_t *m;   /* shared: the ownership map's table */
        pb_fptab_t *over; /* shared: keys whose first 64 bits another key
                             of the map holds, by all 96 bits mixed */
        size_t strip;
        size_t n, max;
};

pb_poll_state_t *pb_poll_state_new(size_t max_keys) {
        pb_poll_state_t *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->max = max_keys ? max_keys : (size_t)-1;
        if (!(s->t = pb_fptab_new()) || !(s->over = pb_fptab_new())) {
                pb_poll_state_destroy(s);
                return NULL;
        }
        return s;
}

void pb_poll_state_destroy(pb_poll_state_t *s) {
        if (!s)
                return;
        pb_fptab_destroy(s->t);
        pb_fptab_destroy(s->over);
        free(s);
}

void pb_poll_state_share(pb_poll_state_t *s, pb_ownmap_t *m, size_t strip) {
        s->m = m;
        s->strip = strip;
}

void pb_poll_state_key(const pb_poll_state_t *s, const char *skey, size_t len,
                       pb_keyfp_t *fp) {
        size_t strip = s->m && s->strip < len ? s->strip : 0;
        pb_ownmap_keyfp(skey + strip, len - strip, fp);
}

/* the overflow table's key: all 96 bits */
static uint64_t over_key(const pb_keyfp_t *fp) {
        return fp->k ^ ((uint64_t)fp->x * 0xC2B2AE3D27D4EB4Full + fp->x);
}

/* shared: the overflow table's value for fp, or NULL */
static uint64_t *over_get(const pb_poll_state_t *s, const pb_keyfp_t *fp) {
        return pb_fptab_count(s->over) ? pb_fptab_get(s->over, over_key(fp))
                                       : NULL;
}

int pb_poll_state_get(const pb_poll_state_t *s, const pb_keyfp_t *fp,
                      uint64_t *hash) {
        const uint64_t *v;
        if (s->m) {
                if (pb_ownmap_state_get(s->m, fp, hash) == 1)
                        return 1;
                v = over_get(s, fp);
        } else {
                v = pb_fptab_get(s->t, fp->k);
        }
        if (!v)
                return 0;
        *hash = *v;
        return 1;
}

pb_resp_t pb_poll_state_put(pb_poll_state_t *s, const pb_keyfp_t *fp,
                            uint64_t hash) {
        uint64_t old;
        int had = pb_poll_state_get(s, fp, &old), r;
        if (!hash)
                hash = 1;
        if (!had && s->n >= s->max)
                return PB_ERR_LIMIT;
        if (!s->m)
                r = pb_fptab_put(s->t, fp->k, hash);
        else if (over_get(s, fp) ||
                 (r = pb_ownmap_state_put(s->m, fp, hash)) == -2)
                r = pb_fptab_put(s->over, over_key(fp), hash);
        if (r != 0)
                return PB_ERR_NOMEM;
        if (!had)
                s->n++;
        return PB_OK;
}

void pb_poll_state_del(pb_poll_state_t *s, const pb_keyfp_t *fp) {
        uint64_t old;
        if (!pb_poll_state_get(s, fp, &old))
                return;
        if (!s->m)
                pb_fptab_del(s->t, fp->k);
        else if (over_get(s, fp))
                pb_fptab_del(s->over, over_key(fp));
        else
                pb_ownmap_state_put(s->m, fp, 0);
        s->n--;
}

size_t pb_poll_state_count(const pb_poll_state_t *s) {
        return s->n;
}

size_t pb_poll_state_bytes(const pb_poll_state_t *s) {
        return sizeof(*s) + pb_fptab_bytes(s->over) +
               (s->m ? pb_ownmap_bytes(s->m) : pb_fptab_bytes(s->t));
}

uint64_t pb_poll_state_fingerprint(const void *data, size_t len, char *hex) {
        unsigned char d[32];
        uint64_t v = 0;
        int i;
        static const char hx[] = "0123456789abcdef";
        pb_sha256(data, len, d);
        for (i = 0; i < 8; i++)
                v = (v << 8) | d[i];
        if (hex) {
                for (i = 0; i < 16; i++) {
                        hex[2 * i] = hx[d[i] >> 4];
                        hex[2 * i + 1] = hx[d[i] & 15];
                }
                hex[32] = 0;
        }
        return v ? v : 1;
}

uint64_t pb_poll_state_fingerprint_parse(const char *hex, size_t len) {
        uint64_t v = 0;
        size_t i;
        if (len != 32 && len != 16)
                return 0;
        for (i = 0; i < 16; i++) {
                char c = hex[i];
                int d = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                               : -1;
                if (d < 0)
                        return 0;
                v = (v << 4) | (uint64_t)d;
        }
        for (; i < len; i++)
                if (!((hex[i] >= '0' && hex[i] <= '9') ||
                      (hex[i] >= 'a' && hex[i] <= 'f')))
                        return 0;
        return v ? v : 1;
}

/* --- the state topic --- */

static void load_validators(pollctx_t *p, const char *v, size_t n) {
        pb_json_parser_t *jp = pb_json_parser_new(NULL);
        const pb_json_t *root, *x;
        char err[128];
        if (!jp)
                return;
        root = pb_json_parse(jp, v, n, err, sizeof(err));
        p->etag[0] = p->last_modified[0] = p->cursor[0] = 0;
        p->have_validators = 0;
        if (root && root->type == PB_JSON_OBJECT) {
                if ((x = pb_json_get(root, "etag")) &&
                    x->type == PB_JSON_STRING && x->len < sizeof(p->etag))
                        memcpy(p->etag, x->str, x->len + 1);
                if ((x = pb_json_get(root, "last_modified")) &&
                    x->type == PB_JSON_STRING &&
                    x->len < sizeof(p->last_modified))
                        memcpy(p->last_modified, x->str, x->len + 1);
                if ((x = pb_json_get(root, "cursor")) &&
                    x->type == PB_JSON_STRING && x->len < sizeof(p->cursor))
                        memcpy(p->cursor, x->str, x->len + 1);
                p->have_validators = 1;
        }
        pb_json_parser_destroy(jp);
}

/* Applies one state record of this poller's prefix. 0, or -1 when the
 * table is full. */
static int apply_state(pollctx_t *p, const char *k, size_t klen, const void *v,
                       size_t vlen, long *n, long *tomb) {
        size_t plen = strlen(p->prefix);
        pb_keyfp_t kfp;
        uint64_t h;
        if (!k || klen < plen || memcmp(k, p->prefix, plen))
                return 0;
        if (klen == plen) {
                if (v && vlen)
                        load_validators(p, v, vlen);
                else
                        p->have_validators = 0;
                return 0;
        }
        if (k[plen] != '/')
                return 0;
        pb_poll_state_key(p->st, k, klen, &kfp);
        h = v ? pb_poll_state_fingerprint_parse(v, vlen) : 0;
        (*n)++;
        if (!v || !vlen) {
                pb_poll_state_del(p->st, &kfp);
                (*tomb)++;
        } else if (h && pb_poll_state_put(p->st, &kfp, h) != PB_OK) {
                pb_log("error",
                       "msg=\"state holds more than --max-keys=%ld "
                       "keys\"",
                       p->set.max_keys);
                return -1;
        }
        return 0;
}

/* Partition `partition` reached `next` (the offset after the last record
 * read, or the EOF offset): done once that is the mark. */
static void reached(const pb_kafka_offsets_t *o, char *done, int *left,
                    int32_t partition, int64_t next) {
        size_t i;
        for (i = 0; i < o->n; i++)
                if (o->p[i].partition == partition && !done[i] &&
                    next >= o->p[i].high) {
                        done[i] = 1;
                        (*left)--;
                }
}

/* Reads until every partition reached its mark. 0 or -1. */
static int consume_to_end(pollctx_t *p, rd_kafka_t *rk,
                          const pb_kafka_offsets_t *o, char *done, int left,
                          long *n, long *tomb) {
        int64_t next_note = pb_mono_ms() + 10000;
        while (left > 0) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
                int rc = 0;
                if (pb_cli_stop)
                        return -1;
                if (pb_mono_ms() > next_note) {
                        pb_log("info",
                               "msg=\"reading the state topic; "
                               "waiting for its end (a transaction "
                               "of another poller may be open)\" "
                               "records=%ld partitions_left=%d",
                               *n, left);
                        next_note = pb_mono_ms() + 10000;
                }
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        reached(o, done, &left, m->partition, m->offset);
                } else if (m->err) {
                        char fe[256];
                        if (rd_kafka_fatal_error(rk, fe, sizeof(fe))) {
                                pb_log("error", "msg=\"reading state: %s\"",
                                       fe);
                                rc = -1;
                        }
                } else if (apply_state(p, m->key, m->key ? m->key_len : 0,
                                       m->payload, m->payload ? m->len : 0, n,
                                       tomb)) {
                        rc = -1;
                } else {
                        reached(o, done, &left, m->partition, m->offset + 1);
                }
                rd_kafka_message_destroy(m);
                if (rc)
                        return -1;
        }
        return 0;
}

/* Reads the state topic to its end, read_committed: records of aborted
 * transactions are never seen. "The end" is the high watermark of every
 * partition as it was when reading began (after init_transactions aborted
 * the open transaction of a fenced predecessor); a read_committed reader
 * gets EOF at the last stable offset, which stays below that mark while
 * another poller sharing the topic has a transaction open, so EOF below
 * the mark means "wait", not "done". */
int pb_poll_read_state(pollctx_t *p) {
        pb_consumer_opts_t co = {.from_beginning = 1, .stop_at_end = 1};
        const char *topics[1] = {p->state_topic};
        pb_kafka_conf_t kc = p->cc.kconf;
        pb_consumer_t *c;
        pb_kafka_offsets_t *o = NULL;
        char *done = NULL;
        char err[512];
        long n = 0, tomb = 0;
        int64_t t0 = pb_mono_ms();
        int left = 0, rc = -1;
        size_t i;
        /* after the caller's -X: readers of transactional topics must not
         * see uncommitted or aborted records */
        if (pb_kafka_conf_add(&kc, "isolation.level=read_committed") != PB_OK) {
                pb_log("error", "msg=\"too many -X properties\"");
                return -1;
        }
        c = pb_consumer_new(&kc, &co, topics, 1, err, sizeof(err));
        if (!c) {
                pb_log("error", "msg=\"state topic %s: %s\"", p->state_topic,
                       err);
                return -1;
        }
        /* the partitions the consumer was given, with their watermarks */
        o = pb_kafka_offsets_new(pb_consumer_rk(c), topics, 1, 10000, err,
                                 sizeof(err));
        if (!o || o->n < 1) {
                pb_log("error", "msg=\"state topic %s: %s\"", p->state_topic,
                       o ? "no partitions" : err);
                goto out;
        }
        done = calloc(o->n, 1);
        if (!done)
                goto out;
        for (i = 0; i < o->n; i++) {
                if (o->p[i].high <= o->p[i].low)
                        done[i] = 1;
                else
                        left++;
        }
        if (consume_to_end(p, pb_consumer_rk(c), o, done, left, &n, &tomb))
                goto out;
        rc = 0;
        pb_log("info",
               "msg=\"state loaded\" topic=%s isolation=read_committed "
               "records=%ld tombstones=%ld keys=%zu table_bytes=%zu "
               "etag=\"%s\" ms=%lld",
               p->state_topic, n, tomb, pb_poll_state_count(p->st),
               pb_poll_state_bytes(p->st), p->etag,
               (long long)(pb_mono_ms() - t0));
out:
        pb_kafka_offsets_destroy(o);
        free(done);
        pb_consumer_destroy(c);
        /* the consumer's fetched batches are freed: give their pages back
         * (the steady poller needs the table, not the replay's buffers) */
        pb_heap_trim();
        return rc;
}
