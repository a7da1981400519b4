/* partnerbus gateway - the dedup window: event_id -> where it was
 * published, for ttl, in one gateway process.
 *
 * Entries live in a fixed slot array, chained in the order they were
 * claimed or last completed (a doubly linked list: expired ones are
 * dropped from its head, and when every slot is in use the oldest entry
 * that is not pending is evicted; a pending one met on the way moves to
 * the tail, since its event may still be in Kafka's hands and a retry must
 * not publish it again); unused slots form a free list. An open-addressing
 * index (linear probing, backward-shift deletion) maps the 16-byte UUID to its
 * slot. Memory is fixed at creation: capacity * sizeof(entry) + 2 * capacity *
 * 4 bytes or so. The hash is seeded at random so chosen event_ids cannot pile
 * up in one probe chain. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "partnerbus/pb_util.h"
#include "pb_gw.h"

#define PB_DD_NONE        UINT32_MAX
#define PB_DD_SCOPE_CACHE 1024 /* organisations whose scope key is kept */
#define PB_DD_SCOPE_PROBE 8

enum { PB_DD_FREE = 0, PB_DD_PENDING = 1, PB_DD_DONE = 2, PB_DD_UNKNOWN = 3 };

typedef struct pb_dd_entry {
        uint8_t id[16];
        uint8_t state;
        uint32_t prev, next; /* insertion order, or free list (next) */
        int64_t t_ms;        /* when completed (DONE) or held (UNKNOWN) */
        pb_gw_result_t res;
} pb_dd_entry_t;

struct pb_gw_dedup {
        pthread_mutex_t lock;
        size_t cap;
        uint32_t head, tail; /* oldest, newest live entry */
        uint32_t free_head;
        atomic_size_t live; /* written under the lock, read without */
        pb_dd_entry_t *slots;
        uint32_t *index; /* slot or PB_DD_NONE */
        size_t mask;     /* index size - 1 */
        int64_t ttl_ms;
        uint64_t seed;
        atomic_uint_least64_t evictions;
        uint8_t scope_secret[32]; /* pb_gw_dedup_scope */
        /* organisation -> its 16-byte scope key: the HMAC costs ~20,000
         * instructions, an event's whole publish path about as much */
        pthread_mutex_t scope_lock;
        struct pb_dd_scope {
                char *org;
                uint8_t key[16];
        } scope[PB_DD_SCOPE_CACHE];
};

pb_gw_dedup_t *pb_gw_dedup_new(size_t capacity, int64_t ttl_ms) {
        pb_gw_dedup_t *d;
        size_t isz = 16, i;
        if (capacity < 1)
                capacity = 1;
        if (capacity > (size_t)1 << 30)
                return NULL;
        while (isz < capacity * 2)
                isz <<= 1;
        d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        d->slots = calloc(capacity, sizeof(*d->slots));
        d->index = malloc(isz * sizeof(*d->index));
        if (!d->slots || !d->index) {
                free(d->slots);
                free(d->index);
                free(d);
                return NULL;
        }
        for (i = 0; i < isz; i++)
                d->index[i] = PB_DD_NONE;
        for (i = 0; i < capacity; i++)
                d->slots[i].next =
                    i + 1 < capacity ? (uint32_t)(i + 1) : PB_DD_NONE;
        d->free_head = 0;
        d->head = d->tail = PB_DD_NONE;
        d->cap = capacity;
        d->mask = isz - 1;
        d->ttl_ms = ttl_ms;
        if (RAND_bytes((unsigned char *)&d->seed, sizeof(d->seed)) != 1 ||
            RAND_bytes(d->scope_secret, sizeof(d->scope_secret)) != 1) {
                free(d->slots);
                free(d->index);
                free(d);
                return NULL; /* no randomness: ids could be made to collide */
        }
        pthread_mutex_init(&d->lock, NULL);
        pthread_mutex_init(&d->scope_lock, NULL);
        return d;
}

void pb_gw_dedup_destroy(pb_gw_dedup_t *d) {
        size_t i;
        if (!d)
                return;
        for (i = 0; i < PB_DD_SCOPE_CACHE; i++)
                free(d->scope[i].org);
        pthread_mutex_destroy(&d->scope_lock);
        pthread_mutex_destroy(&d->lock);
        free(d->slots);
        free(d->index);
        free(d);
}

static uint64_t mix(uint64_t x) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ull;
        x ^= x >> 33;
        return x;
}

static size_t hash_id(const pb_gw_dedup_t *d, const uint8_t id[16]) {
        uint64_t a, b;
        memcpy(&a, id, 8);
        memcpy(&b, id + 8, 8);
        return (size_t)(mix(a ^ d->seed) ^ mix(b + d->seed)) & d->mask;
}

/* Index position of id, or the free position where it would go (then
 * *found = 0). The index is at most half full, so this ends. */
static size_t find_pos(const pb_gw_dedup_t *d, const uint8_t id[16],
                       int *found) {
        size_t i = hash_id(d, id);
        for (;;) {
                uint32_t s = d->index[i];
                if (s == PB_DD_NONE) {
                        *found = 0;
                        return i;
                }
                if (!memcmp(d->slots[s].id, id, 16)) {
                        *found = 1;
                        return i;
                }
                i = (i + 1) & d->mask;
        }
}

/* Removes index position i, shifting later members of the cluster back
 * so lookups never stop early at a hole. */
static void index_delete(pb_gw_dedup_t *d, size_t i) {
        size_t j = i;
        d->index[i] = PB_DD_NONE;
        for (;;) {
                size_t k;
                j = (j + 1) & d->mask;
                if (d->index[j] == PB_DD_NONE)
                        return;
                k = hash_id(d, d->slots[d->index[j]].id);
                /* leave j where it is if its home k lies cyclically in
                 * (i, j] */
                if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
                        continue;
                d->index[i] = d->index[j];
                d->index[j] = PB_DD_NONE;
                i = j;
        }
}

/* Unlinks slot s, drops it from the index, returns it to the free list. */
static void entry_remove(pb_gw_dedup_t *d, uint32_t s) {
        pb_dd_entry_t *e = &d->slots[s];
        int found;
        size_t pos;
        if (e->state == PB_DD_FREE)
                return;
        pos = find_pos(d, e->id, &found);
        if (found)
                index_delete(d, pos);
        if (e->prev != PB_DD_NONE)
                d->slots[e->prev].next = e->next;
        else
                d->head = e->next;
        if (e->next != PB_DD_NONE)
                d->slots[e->next].prev = e->prev;
        else
                d->tail = e->prev;
        e->state = PB_DD_FREE;
        e->next = d->free_head;
        d->free_head = s;
        d->live--;
}

static int expired(const pb_gw_dedup_t *d, const pb_dd_entry_t *e,
                   int64_t now_ms) {
        return (e->state == PB_DD_DONE || e->state == PB_DD_UNKNOWN) &&
               now_ms - e->t_ms >= d->ttl_ms;
}

/* Moves live slot s to the tail of the order (newest). */
static void move_to_tail(pb_gw_dedup_t *d, uint32_t s) {
        pb_dd_entry_t *e = &d->slots[s];
        if (d->tail == s)
                return;
        if (e->prev != PB_DD_NONE)
                d->slots[e->prev].next = e->next;
        else
                d->head = e->next;
        d->slots[e->next].prev = e->prev; /* not the tail: next exists */
        e->prev = d->tail;
        e->next = PB_DD_NONE;
        d->slots[d->tail].next = s;
        d->tail = s;
}

/* Drops expired entries from the head (oldest first). */
static void trim_head(pb_gw_dedup_t *d, int64_t now_ms) {
        while (d->head != PB_DD_NONE && expired(d, &d->slots[d->head], now_ms))
                entry_remove(d, d->head);
}

static void insert_pending(pb_gw_dedup_t *d, const uint8_t id[16]) {
        uint32_t s;
        pb_dd_entry_t *e;
        int found;
        size_t pos;
        if (d->free_head == PB_DD_NONE) {
                /* full: evict the oldest entry that is not pending; the
                 * pending ones passed move to the tail (each at most once
                 * here, so this ends; if all are pending the oldest goes) */
                size_t k;
                for (k = 0;
                     k < d->live && d->slots[d->head].state == PB_DD_PENDING;
                     k++)
                        move_to_tail(d, d->head);
                d->evictions++;
                entry_remove(d, d->head);
        }
        s = d->free_head;
        e = &d->slots[s];
        d->free_head = e->next;
        memcpy(e->id, id, 16);
        e->state = PB_DD_PENDING;
        e->t_ms = 0;
        e->prev = d->tail;
        e->next = PB_DD_NONE;
        if (d->tail != PB_DD_NONE)
                d->slots[d->tail].next = s;
        else
                d->head = s;
        d->tail = s;
        pos = find_pos(d, id, &found);
        d->index[pos] = s;
        d->live++;
}

int pb_gw_dedup_claim(pb_gw_dedup_t *d, const uint8_t *const *ids, size_t n,
                      int64_t now_ms, pb_gw_claim_t *claims,
                      pb_gw_result_t *results) {
        size_t i;
        int conflict = 0;
        pthread_mutex_lock(&d->lock);
        trim_head(d, now_ms);
        for (i = 0; i < n; i++) {
                int found;
                size_t pos;
                claims[i] = PB_GW_NEW;
                if (!ids[i])
                        continue;
                pos = find_pos(d, ids[i], &found);
                if (!found)
                        continue;
                if (d->slots[d->index[pos]].state == PB_DD_PENDING) {
                        claims[i] = PB_GW_PENDING;
                        conflict = 1;
                } else if (d->slots[d->index[pos]].state == PB_DD_UNKNOWN &&
                           !expired(d, &d->slots[d->index[pos]], now_ms)) {
                        claims[i] = PB_GW_UNKNOWN;
                        conflict = 1;
                } else if (expired(d, &d->slots[d->index[pos]], now_ms)) {
                        entry_remove(d, d->index[pos]);
                } else {
                        claims[i] = PB_GW_DONE;
                        results[i] = d->slots[d->index[pos]].res;
                }
        }
        if (!conflict) {
                for (i = 0; i < n; i++) {
                        int found;
                        if (!ids[i] || claims[i] != PB_GW_NEW)
                                continue;
                        (void)find_pos(d, ids[i], &found);
                        if (found) {
                                /* the same id twice in one call: the
                                 * caller rejects such batches before */
                                claims[i] = PB_GW_PENDING;
                                conflict = 1;
                                continue;
                        }
                        insert_pending(d, ids[i]);
                }
                if (conflict) /* undo this call's claims */
                        for (i = 0; i < n; i++)
                                if (ids[i] && claims[i] == PB_GW_NEW) {
                                        int found;
                                        size_t pos =
                                            find_pos(d, ids[i], &found);
                                        if (found)
                                                entry_remove(d, d->index[pos]);
                                }
        }
        pthread_mutex_unlock(&d->lock);
        return conflict ? -1 : 0;
}

/* id's pending entry, if any, becomes `state` (DONE with res, or
 * UNKNOWN) as of now_ms */
static void settle(pb_gw_dedup_t *d, const uint8_t id[16], uint8_t state,
                   const pb_gw_result_t *res, int64_t now_ms) {
        int found;
        size_t pos;
        pthread_mutex_lock(&d->lock);
        pos = find_pos(d, id, &found);
        if (found && d->slots[d->index[pos]].state == PB_DD_PENDING) {
                uint32_t s = d->index[pos];
                pb_dd_entry_t *e = &d->slots[s];
                e->state = state;
                e->t_ms = now_ms;
                if (res)
                        e->res = *res;
                /* ordered by t_ms from now on, for trim_head */
                move_to_tail(d, s);
        }
        pthread_mutex_unlock(&d->lock);
}

void pb_gw_dedup_complete(pb_gw_dedup_t *d, const uint8_t id[16],
                          const pb_gw_result_t *res, int64_t now_ms) {
        settle(d, id, PB_DD_DONE, res, now_ms);
}

void pb_gw_dedup_hold(pb_gw_dedup_t *d, const uint8_t id[16], int64_t now_ms) {
        settle(d, id, PB_DD_UNKNOWN, NULL, now_ms);
}

void pb_gw_dedup_release(pb_gw_dedup_t *d, const uint8_t id[16]) {
        int found;
        size_t pos;
        pthread_mutex_lock(&d->lock);
        pos = find_pos(d, id, &found);
        if (found && d->slots[d->index[pos]].state == PB_DD_PENDING)
                entry_remove(d, d->index[pos]);
        pthread_mutex_unlock(&d->lock);
}

size_t pb_gw_dedup_count(pb_gw_dedup_t *d) {
        return atomic_load(&d->live);
}

uint64_t pb_gw_dedup_evictions(pb_gw_dedup_t *d) {
        return atomic_load(&d->evictions);
}

/* The organisation's scope key: from the cache, or HMAC-SHA256(secret,
 * org) cut to 16 bytes (kept when a slot in its probe window is free). */
static int scope_key(pb_gw_dedup_t *d, const char *org, uint8_t key[16]) {
        uint8_t k[EVP_MAX_MD_SIZE];
        unsigned kl = 0;
        size_t i, n = strlen(org), slot, free_slot = PB_DD_SCOPE_CACHE;
        uint64_t h = pb_fnv1a(org, n);
        pthread_mutex_lock(&d->scope_lock);
        for (i = 0; i < PB_DD_SCOPE_PROBE; i++) {
                slot = (size_t)(h + i) & (PB_DD_SCOPE_CACHE - 1);
                if (!d->scope[slot].org) {
                        if (free_slot == PB_DD_SCOPE_CACHE)
                                free_slot = slot;
                } else if (!strcmp(d->scope[slot].org, org)) {
                        memcpy(key, d->scope[slot].key, 16);
                        pthread_mutex_unlock(&d->scope_lock);
                        return 0;
                }
        }
        pthread_mutex_unlock(&d->scope_lock);
        if (!HMAC(EVP_sha256(), d->scope_secret, sizeof(d->scope_secret),
                  (const unsigned char *)org, n, k, &kl) ||
            kl < 16)
                return -1;
        memcpy(key, k, 16);
        if (free_slot == PB_DD_SCOPE_CACHE)
                return 0; /* window full: computed each time */
        pthread_mutex_lock(&d->scope_lock);
        if (!d->scope[free_slot].org && (d->scope[free_slot].org = strdup(org)))
                memcpy(d->scope[free_slot].key, key, 16);
        pthread_mutex_unlock(&d->scope_lock);
        return 0;
}

void pb_gw_dedup_scope(pb_gw_dedup_t *d, const char *org, uint8_t id[16]) {
        uint8_t k[16];
        size_t i;
        if (scope_key(d, org ? org : "", k))
                return; /* cannot happen with SHA-256; then unscoped */
        for (i = 0; i < 16; i++)
                id[i] ^= k[i];
}
