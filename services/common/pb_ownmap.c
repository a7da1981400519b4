/* partnerbus gateway - the ownership map: "type/entity id" -> owner.
 *
 * Chained hash table under one rwlock (lookups from the HTTP threads,
 * inserts from the ownership consumer). One allocation per key holds the
 * key and the owner. Nothing is ever removed: ownership does not expire,
 * so the map is bounded by count (capacity), not by age. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_owners.h"

#define OWNER_MAX PB_OWNERS_ORG_MAX
#define KEY_MAX   512

typedef struct own_e {
        struct own_e *next;
        uint32_t hash;
        uint16_t klen;
        uint8_t olen;
        uint8_t reassert; /* the latest claim read was another's */
        char data[];      /* key, NUL, owner, NUL */
} own_e_t;

struct pb_ownmap {
        pthread_rwlock_t lock;
        own_e_t **b;
        size_t nb; /* power of two */
        size_t capacity, nreassert;
        /* written under the lock, read without it */
        atomic_size_t n;
        atomic_uint_least64_t dropped;
};

pb_ownmap_t *pb_ownmap_new(size_t capacity) {
        pb_ownmap_t *m = calloc(1, sizeof(*m));
        size_t nb = 16;
        if (!m || capacity < 1)
                goto fail;
        while (nb < capacity / 2 && nb < ((size_t)1 << 30))
                nb <<= 1;
        m->b = calloc(nb, sizeof(*m->b));
        if (!m->b)
                goto fail;
        m->nb = nb;
        m->capacity = capacity;
        pthread_rwlock_init(&m->lock, NULL);
        return m;
fail:
        free(m);
        return NULL;
}

void pb_ownmap_destroy(pb_ownmap_t *m) {
        size_t i;
        if (!m)
                return;
        for (i = 0; i < m->nb; i++) {
                own_e_t *e = m->b[i], *nx;
                for (; e; e = nx) {
                        nx = e->next;
                        free(e);
                }
        }
        free(m->b);
        pthread_rwlock_destroy(&m->lock);
        free(m);
}

static own_e_t *find(pb_ownmap_t *m, const char *key, size_t klen, uint32_t h) {
        own_e_t *e;
        for (e = m->b[h & (m->nb - 1)]; e; e = e->next)
                if (e->hash == h && e->klen == klen &&
                    !memcmp(e->data, key, klen))
                        return e;
        return NULL;
}

pb_own_t pb_ownmap_apply(pb_ownmap_t *m, const char *key, size_t klen,
                         const char *owner, size_t olen) {
        uint32_t h;
        own_e_t *e;
        pb_own_t r;
        if (klen == 0 || klen >= KEY_MAX || olen == 0 || olen >= OWNER_MAX ||
            memchr(key, 0, klen) || memchr(owner, 0, olen))
                return PB_OWN_INVALID;
        h = pb_fnv1a32(key, klen);
        pthread_rwlock_wrlock(&m->lock);
        e = find(m, key, klen, h);
        if (e) {
                int same = e->olen == olen &&
                           !memcmp(e->data + e->klen + 1, owner, olen);
                if (same && e->reassert) {
                        e->reassert = 0;
                        m->nreassert--;
                } else if (!same && !e->reassert) {
                        e->reassert = 1;
                        m->nreassert++;
                }
                r = same ? PB_OWN_SAME : PB_OWN_CONFLICT;
        } else if (m->n >= m->capacity) {
                m->dropped++;
                r = PB_OWN_FULL;
        } else if (!(e = malloc(sizeof(*e) + klen + olen + 2))) {
                m->dropped++;
                r = PB_OWN_FULL;
        } else {
                size_t bi = h & (m->nb - 1);
                e->hash = h;
                e->klen = (uint16_t)klen;
                e->olen = (uint8_t)olen;
                e->reassert = 0;
                memcpy(e->data, key, klen);
                e->data[klen] = 0;
                memcpy(e->data + klen + 1, owner, olen);
                e->data[klen + 1 + olen] = 0;
                e->next = m->b[bi];
                m->b[bi] = e;
                m->n++;
                r = PB_OWN_NEW;
        }
        pthread_rwlock_unlock(&m->lock);
        return r;
}

int pb_ownmap_get(pb_ownmap_t *m, const char *key, size_t klen, char *owner,
                  size_t owner_size) {
        own_e_t *e;
        int found = 0;
        if (klen == 0 || klen >= KEY_MAX)
                return 0;
        pthread_rwlock_rdlock(&m->lock);
        e = find(m, key, klen, pb_fnv1a32(key, klen));
        if (e && owner_size > e->olen) {
                memcpy(owner, e->data + e->klen + 1, (size_t)e->olen + 1);
                found = 1;
        }
        pthread_rwlock_unlock(&m->lock);
        return found;
}

size_t pb_ownmap_reassert(pb_ownmap_t *m,
                          void (*fn)(void *opaque, const char *key,
                                     const char *owner),
                          void *opaque) {
        size_t i, k = 0;
        pthread_rwlock_wrlock(&m->lock);
        for (i = 0; i < m->nb && m->nreassert > 0; i++) {
                own_e_t *e;
                for (e = m->b[i]; e; e = e->next)
                        if (e->reassert) {
                                e->reassert = 0;
                                m->nreassert--;
                                fn(opaque, e->data, e->data + e->klen + 1);
                                k++;
                        }
        }
        pthread_rwlock_unlock(&m->lock);
        return k;
}

size_t pb_ownmap_count(pb_ownmap_t *m) {
        return atomic_load(&m->n);
}

uint64_t pb_ownmap_dropped(pb_ownmap_t *m) {
        return atomic_load(&m->dropped);
}
