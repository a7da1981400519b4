/* partnerbus - k-way event-time merge with a bounded window per stream
 * (see pb_replay.h for the exact guarantee). One binary heap over every
 * buffered item; per stream a count and an ended flag. */
#include <stdlib.h>
#include <string.h>

#include "pb_replay.h"

typedef struct mstream {
        size_t buffered;
        int ended;
} mstream_t;

struct pb_replay_merge {
        mstream_t *streams;
        size_t nstreams, window, nactive_short;
        pb_replay_merge_item_t *heap;
        size_t n, cap;
        int64_t last_time;
        int have_last;
        uint64_t late;
};

int pb_replay_merge_cmp(const pb_replay_merge_item_t *a,
                        const pb_replay_merge_item_t *b) {
        int c;
        if (a->time_ms != b->time_ms)
                return a->time_ms < b->time_ms ? -1 : 1;
        /* the streams of one topic share its name: no strcmp */
        if (a->topic != b->topic) {
                c = strcmp(a->topic ? a->topic : "", b->topic ? b->topic : "");
                if (c)
                        return c;
        }
        c = strcmp(a->event_id, b->event_id);
        if (c)
                return c;
        if (a->stream != b->stream)
                return a->stream < b->stream ? -1 : 1;
        if (a->seq != b->seq)
                return a->seq < b->seq ? -1 : 1;
        return 0;
}

pb_replay_merge_t *pb_replay_merge_new(size_t nstreams, size_t window) {
        pb_replay_merge_t *m;
        if (nstreams == 0 || window == 0)
                return NULL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        m->streams = calloc(nstreams, sizeof(*m->streams));
        if (!m->streams) {
                free(m);
                return NULL;
        }
        m->nstreams = nstreams;
        m->window = window;
        m->nactive_short = nstreams; /* streams neither ended nor full */
        return m;
}

void pb_replay_merge_destroy(pb_replay_merge_t *m) {
        if (!m)
                return;
        free(m->streams);
        free(m->heap);
        free(m);
}

/* The first 8 bytes of the event id (zeros after its end), big-endian:
 * two keys compare as strcmp compares those bytes. */
static uint64_t id_key(const char *id) {
        uint64_t k = 0;
        size_t i = 0;
        for (; i < 8 && id[i]; i++)
                k = k << 8 | (uint8_t)id[i];
        return i == 8 ? k : i ? k << (8 * (8 - i)) : 0;
}

/* pb_replay_merge_cmp for pushed items: ties on time and topic are
 * decided by the id keys and only equal keys call strcmp */
static inline int hcmp(const pb_replay_merge_item_t *a,
                       const pb_replay_merge_item_t *b) {
        if (a->time_ms != b->time_ms)
                return a->time_ms < b->time_ms ? -1 : 1;
        if (a->topic == b->topic && a->id_key != b->id_key)
                return a->id_key < b->id_key ? -1 : 1;
        return pb_replay_merge_cmp(a, b);
}

static int is_short(const pb_replay_merge_t *m, const mstream_t *s) {
        return !s->ended && s->buffered < m->window;
}

static void sift_up(pb_replay_merge_t *m, size_t i) {
        pb_replay_merge_item_t it = m->heap[i];
        while (i > 0) {
                size_t p = (i - 1) / 2;
                if (hcmp(&m->heap[p], &it) <= 0)
                        break;
                m->heap[i] = m->heap[p];
                i = p;
        }
        m->heap[i] = it;
}

static void sift_down(pb_replay_merge_t *m, size_t i) {
        pb_replay_merge_item_t it = m->heap[i];
        for (;;) {
                size_t l = 2 * i + 1, c;
                if (l >= m->n)
                        break;
                c = l;
                if (l + 1 < m->n && hcmp(&m->heap[l + 1], &m->heap[l]) < 0)
                        c = l + 1;
                if (hcmp(&m->heap[c], &it) >= 0)
                        break;
                m->heap[i] = m->heap[c];
                i = c;
        }
        m->heap[i] = it;
}

pb_resp_t pb_replay_merge_push(pb_replay_merge_t *m,
                               const pb_replay_merge_item_t *it) {
        mstream_t *s;
        if (!m || !it || it->stream >= m->nstreams)
                return PB_ERR_ARG;
        s = &m->streams[it->stream];
        if (s->ended)
                return PB_ERR_ARG;
        if (s->buffered >= m->window)
                return PB_ERR_QUEUE_FULL;
        if (PB_ARRAY_RESERVE(m->heap, m->cap, m->n, 1, 64))
                return PB_ERR_NOMEM;
        m->heap[m->n] = *it;
        m->heap[m->n].id_key = id_key(it->event_id);
        sift_up(m, m->n++);
        s->buffered++;
        if (s->buffered == m->window)
                m->nactive_short--;
        return PB_OK;
}

void pb_replay_merge_end(pb_replay_merge_t *m, uint32_t si) {
        mstream_t *s;
        if (!m || si >= m->nstreams)
                return;
        s = &m->streams[si];
        if (s->ended)
                return;
        if (is_short(m, s))
                m->nactive_short--;
        s->ended = 1;
}

int pb_replay_merge_wants(const pb_replay_merge_t *m, uint32_t si) {
        return m && si < m->nstreams && is_short(m, &m->streams[si]);
}

size_t pb_replay_merge_room(const pb_replay_merge_t *m, uint32_t si) {
        if (!pb_replay_merge_wants(m, si))
                return 0;
        return m->window - m->streams[si].buffered;
}

int pb_replay_merge_ready(const pb_replay_merge_t *m) {
        return m && m->n > 0 && m->nactive_short == 0;
}

pb_resp_t pb_replay_merge_pop(pb_replay_merge_t *m,
                              pb_replay_merge_item_t *it) {
        mstream_t *s;
        if (!m || m->n == 0)
                return PB_END;
        *it = m->heap[0];
        m->heap[0] = m->heap[--m->n];
        if (m->n)
                sift_down(m, 0);
        s = &m->streams[it->stream];
        if (!s->ended && s->buffered == m->window)
                m->nactive_short++;
        s->buffered--;
        if (m->have_last && it->time_ms < m->last_time)
                m->late++;
        else
                m->last_time = it->time_ms;
        m->have_last = 1;
        return PB_OK;
}

size_t pb_replay_merge_buffered(const pb_replay_merge_t *m) {
        return m ? m->n : 0;
}

int pb_replay_merge_all_ended(const pb_replay_merge_t *m) {
        size_t i;
        for (i = 0; i < m->nstreams; i++)
                if (!m->streams[i].ended)
                        return 0;
        return 1;
}

uint64_t pb_replay_merge_late(const pb_replay_merge_t *m) {
        return m ? m->late : 0;
}
