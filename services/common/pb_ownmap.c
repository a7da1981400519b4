/* partnerbus services - the ownership map: "type/entity id" -> owner.
 *
 * Compact: one 16-byte slot per entity in a fingerprint table
 * (pb_fptab.h: load 0.64-0.8, ~22 bytes an entity, 1,000,000 entities
 * ~21 MiB, where a malloc'd entry per key with its text cost ~95 MiB):
 * the first 64 bits of the key's SHA-256 are the table's key, the value
 * holds the next 32 bits and the owner as an index into a table of the
 * distinct owner organisations (interned once each). An entity is only
 * taken for a held one when all 96 bits match (for 10 M keys the chance
 * that two differ is ~10^-15, and SHA-256 cannot be steered to hit a
 * given key's bits); two keys that share the first 64 bits but not the
 * rest cannot both be held, and the second is refused as if the map
 * were full (dropped, so callers answer "cannot tell").
 *
 * A poller (pb_ownmap_new_self) keeps the entities its own organisation
 * owns in a second table, of 20-byte slots (pb_idtab, pb_fptab.h) that
 * hold the 96 bits, the flags "owned" and "to re-assert", and the
 * poller's content fingerprint of the record with the same key
 * (pb_ownmap_state_*): the poller's state and the ownership of the
 * entities it published share one slot (~28 bytes a key instead of ~44
 * in two tables). The state's keys are "type/record key", the map's
 * "type/entity id": for the default mapping they are the same.
 *
 * The key text is not kept; the few keys whose latest claim read is
 * another organisation's (conflicts, to be re-asserted) are kept with
 * their text in a side list until re-asserted. One rwlock (lookups from
 * the HTTP threads, inserts from the ownership consumer); the digest is
 * computed outside it. Nothing is ever removed: ownership does not
 * expire, so the map is bounded by count (capacity), not by age. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_fptab.h"
#include "pb_owners.h"

#define OWNER_MAX PB_OWNERS_ORG_MAX
#define KEY_MAX   512
/* value: fingerprint bits 64-95 << 32 | REASSERT | owner index + 1 */
#define REASSERT 0x80000000u
#define OWN_MASK 0x7fffffffu

typedef pb_keyfp_t fp_t;

/* flags of the self table's slots */
#define F_OWN 1u /* self owns the entity */
#define F_RE  2u /* to re-assert (as REASSERT) */

/* a key marked for re-assertion, with its text */
typedef struct re_e {
        struct re_e *next;
        fp_t fp;
        char key[];
} re_e_t;

struct pb_ownmap {
        pthread_rwlock_t lock;
        pb_fptab_t *t;
        pb_idtab_t *own; /* self's entities and the poller's state */
        char *self;
        size_t capacity;
        /* distinct owners, and an index of them by name (owner index + 1,
         * open addressing, power of two) */
        char **owners;
        size_t nowners, capowners;
        uint32_t *oidx;
        size_t capoidx;
        re_e_t *re; /* keys to re-assert */
        /* written under the lock, read without it */
        atomic_size_t n;
        atomic_uint_least64_t dropped;
};

void pb_ownmap_keyfp(const char *key, size_t klen, pb_keyfp_t *fp) {
        unsigned char d[32];
        int i;
        pb_sha256(key, klen, d);
        fp->k = 0;
        fp->x = 0;
        for (i = 0; i < 8; i++)
                fp->k = (fp->k << 8) | d[i];
        for (; i < 12; i++)
                fp->x = (fp->x << 8) | d[i];
        if (!fp->k)
                fp->k = 1;
}

/* The slot's value for fp, or NULL (not held, or another key with the
 * same first 64 bits: *other set). */
static uint64_t *lookup(const pb_ownmap_t *m, const fp_t *fp, int *other) {
        uint64_t *v = pb_fptab_get(m->t, fp->k);
        *other = 0;
        if (v && (uint32_t)(*v >> 32) != fp->x) {
                *other = 1;
                return NULL;
        }
        return v;
}

static const char *owner_of(const pb_ownmap_t *m, uint64_t v) {
        return m->owners[((uint32_t)v & OWN_MASK) - 1];
}

pb_ownmap_t *pb_ownmap_new(size_t capacity) {
        pb_ownmap_t *m = calloc(1, sizeof(*m));
        if (!m || capacity < 1 || capacity >= OWN_MASK)
                goto fail;
        m->capoidx = 64;
        m->t = pb_fptab_new();
        m->oidx = calloc(m->capoidx, sizeof(*m->oidx));
        if (!m->t || !m->oidx)
                goto fail;
        m->capacity = capacity;
        pthread_rwlock_init(&m->lock, NULL);
        return m;
fail:
        if (m) {
                pb_fptab_destroy(m->t);
                free(m->oidx);
        }
        free(m);
        return NULL;
}

pb_ownmap_t *pb_ownmap_new_self(size_t capacity, const char *self) {
        pb_ownmap_t *m = pb_ownmap_new(capacity);
        if (!m || !self || !*self || strlen(self) >= OWNER_MAX)
                goto fail;
        if (!(m->own = pb_idtab_new()) || !(m->self = strdup(self)))
                goto fail;
        return m;
fail:
        pb_ownmap_destroy(m);
        return NULL;
}

void pb_ownmap_destroy(pb_ownmap_t *m) {
        size_t i;
        re_e_t *r, *nx;
        if (!m)
                return;
        for (i = 0; i < m->nowners; i++)
                free(m->owners[i]);
        free(m->owners);
        free(m->oidx);
        for (r = m->re; r; r = nx) {
                nx = r->next;
                free(r);
        }
        pb_fptab_destroy(m->t);
        pb_idtab_destroy(m->own);
        free(m->self);
        pthread_rwlock_destroy(&m->lock);
        free(m);
}

static size_t oslot(const pb_ownmap_t *m, const char *o, size_t olen) {
        size_t mask = m->capoidx - 1, i = pb_fnv1a32(o, olen) & mask;
        for (; m->oidx[i]; i = (i + 1) & mask) {
                const char *x = m->owners[m->oidx[i] - 1];
                if (!strncmp(x, o, olen) && !x[olen])
                        break;
        }
        return i;
}

/* The owner's index + 1, interned on first sight; 0 when out of memory. */
static uint32_t intern(pb_ownmap_t *m, const char *o, size_t olen) {
        size_t i = oslot(m, o, olen);
        char *copy;
        if (m->oidx[i])
                return m->oidx[i];
        if ((m->nowners + 1) * 2 > m->capoidx) {
                size_t ncap = m->capoidx * 2, j, mask = ncap - 1;
                uint32_t *ni = calloc(ncap, sizeof(*ni));
                if (!ni)
                        return 0;
                for (j = 0; j < m->nowners; j++) {
                        size_t k =
                            pb_fnv1a32(m->owners[j], strlen(m->owners[j])) &
                            mask;
                        while (ni[k])
                                k = (k + 1) & mask;
                        ni[k] = (uint32_t)j + 1;
                }
                free(m->oidx);
                m->oidx = ni;
                m->capoidx = ncap;
                i = oslot(m, o, olen);
        }
        if (m->nowners == m->capowners) {
                size_t nc = m->capowners ? m->capowners * 2 : 16;
                char **no = realloc(m->owners, nc * sizeof(*no));
                if (!no)
                        return 0;
                m->owners = no;
                m->capowners = nc;
        }
        if (!(copy = malloc(olen + 1)))
                return 0;
        memcpy(copy, o, olen);
        copy[olen] = 0;
        m->owners[m->nowners++] = copy;
        m->oidx[i] = (uint32_t)m->nowners;
        return m->oidx[i];
}

static void re_drop(pb_ownmap_t *m, const fp_t *fp) {
        re_e_t **pp, *r;
        for (pp = &m->re; (r = *pp); pp = &r->next)
                if (r->fp.k == fp->k && r->fp.x == fp->x) {
                        *pp = r->next;
                        free(r);
                        return;
                }
}

/* Where the ownership of a key is held: in the table of all owners (tv),
 * or in self's table (own: with its state h and flags fl). */
typedef struct held {
        uint64_t *tv;
        int own;
        uint64_t h;
        unsigned fl;
} held_t;

/* 1 when fp's owner is held (hd filled), else 0; *other: the table of
 * all owners holds another key with the same first 64 bits. */
static int find_held(const pb_ownmap_t *m, const fp_t *fp, held_t *hd,
                     int *other) {
        memset(hd, 0, sizeof(*hd));
        if ((hd->tv = lookup(m, fp, other)))
                return 1;
        if (m->own &&
            pb_idtab_get(m->own, fp->k, fp->x, &hd->h, &hd->fl) == 1 &&
            (hd->fl & F_OWN)) {
                hd->own = 1;
                return 1;
        }
        return 0;
}

static const char *held_owner(const pb_ownmap_t *m, const held_t *hd) {
        return hd->own ? m->self : owner_of(m, *hd->tv);
}

static int held_re(const held_t *hd) {
        return hd->own ? (hd->fl & F_RE) != 0 : (*hd->tv & REASSERT) != 0;
}

/* Sets or clears the re-assertion mark (replacing a held slot's flags
 * needs no memory). */
static void held_mark(pb_ownmap_t *m, const fp_t *fp, held_t *hd, int on) {
        if (hd->own) {
                hd->fl = on ? hd->fl | F_RE : hd->fl & ~F_RE;
                pb_idtab_set(m->own, fp->k, fp->x, hd->h, hd->fl);
        } else if (on) {
                *hd->tv |= REASSERT;
        } else {
                *hd->tv &= ~(uint64_t)REASSERT;
        }
}

/* Stores a first claim. 0, or -1 (not held: full, out of memory, or the
 * first 64 bits taken by another key). */
static int store_new(pb_ownmap_t *m, const fp_t *fp, const char *owner,
                     size_t olen, int other) {
        uint32_t o;
        if (m->own && !strncmp(m->self, owner, olen) && !m->self[olen]) {
                /* self's: in the slot of the poller's state of the key
                 * if there is one */
                uint64_t h = 0;
                unsigned fl = 0;
                int r = pb_idtab_get(m->own, fp->k, fp->x, &h, &fl);
                if (r >= 0 && pb_idtab_set(m->own, fp->k, fp->x, r == 1 ? h : 0,
                                           (r == 1 ? fl : 0) | F_OWN) == 0)
                        return 0;
        }
        if (other || !(o = intern(m, owner, olen)))
                return -1;
        return pb_fptab_put(m->t, fp->k, ((uint64_t)fp->x << 32) | o);
}

pb_own_t pb_ownmap_apply(pb_ownmap_t *m, const char *key, size_t klen,
                         const char *owner, size_t olen) {
        fp_t fp;
        held_t hd;
        int other;
        pb_own_t r;
        if (klen == 0 || klen >= KEY_MAX || olen == 0 || olen >= OWNER_MAX ||
            memchr(key, 0, klen) || memchr(owner, 0, olen))
                return PB_OWN_INVALID;
        pb_ownmap_keyfp(key, klen, &fp);
        pthread_rwlock_wrlock(&m->lock);
        if (find_held(m, &fp, &hd, &other)) {
                const char *cur = held_owner(m, &hd);
                int same = !strncmp(cur, owner, olen) && !cur[olen];
                if (same && held_re(&hd)) {
                        held_mark(m, &fp, &hd, 0);
                        re_drop(m, &fp);
                } else if (!same && !held_re(&hd)) {
                        /* remembered with its text for pb_ownmap_reassert;
                         * without memory the mark is not set (the next
                         * conflicting claim read tries again) */
                        re_e_t *e = malloc(sizeof(*e) + klen + 1);
                        if (e) {
                                e->fp = fp;
                                memcpy(e->key, key, klen);
                                e->key[klen] = 0;
                                e->next = m->re;
                                m->re = e;
                                held_mark(m, &fp, &hd, 1);
                        }
                }
                r = same ? PB_OWN_SAME : PB_OWN_CONFLICT;
        } else if (m->n >= m->capacity ||
                   store_new(m, &fp, owner, olen, other) != 0) {
                m->dropped++;
                r = PB_OWN_FULL;
        } else {
                m->n++;
                r = PB_OWN_NEW;
        }
        pthread_rwlock_unlock(&m->lock);
        return r;
}

int pb_ownmap_get(pb_ownmap_t *m, const char *key, size_t klen, char *owner,
                  size_t owner_size) {
        fp_t fp;
        held_t hd;
        int found = 0, other;
        if (klen == 0 || klen >= KEY_MAX)
                return 0;
        pb_ownmap_keyfp(key, klen, &fp);
        pthread_rwlock_rdlock(&m->lock);
        if (find_held(m, &fp, &hd, &other)) {
                const char *o = held_owner(m, &hd);
                size_t olen = strlen(o);
                if (owner_size > olen) {
                        memcpy(owner, o, olen + 1);
                        found = 1;
                }
        }
        pthread_rwlock_unlock(&m->lock);
        return found;
}

size_t pb_ownmap_reassert(pb_ownmap_t *m,
                          void (*fn)(void *opaque, const char *key,
                                     const char *owner),
                          void *opaque) {
        size_t k = 0;
        re_e_t *r, *nx;
        pthread_rwlock_wrlock(&m->lock);
        for (r = m->re; r; r = nx) {
                int other;
                held_t hd;
                nx = r->next;
                if (find_held(m, &r->fp, &hd, &other) && held_re(&hd)) {
                        held_mark(m, &r->fp, &hd, 0);
                        fn(opaque, r->key, held_owner(m, &hd));
                        k++;
                }
                free(r);
        }
        m->re = NULL;
        pthread_rwlock_unlock(&m->lock);
        return k;
}

int pb_ownmap_state_get(pb_ownmap_t *m, const pb_keyfp_t *fp, uint64_t *h) {
        uint64_t v = 0;
        unsigned fl = 0;
        int r;
        pthread_rwlock_rdlock(&m->lock);
        r = m->own ? pb_idtab_get(m->own, fp->k, fp->x, &v, &fl) : 0;
        pthread_rwlock_unlock(&m->lock);
        if (r == 1 && v) {
                *h = v;
                return 1;
        }
        return r < 0 ? -1 : 0;
}

int pb_ownmap_state_put(pb_ownmap_t *m, const pb_keyfp_t *fp, uint64_t h) {
        uint64_t v = 0;
        unsigned fl = 0;
        int r;
        if (!m->own)
                return -1;
        pthread_rwlock_wrlock(&m->lock);
        r = pb_idtab_get(m->own, fp->k, fp->x, &v, &fl);
        r = r < 0 ? -2 : pb_idtab_set(m->own, fp->k, fp->x, h, r ? fl : 0);
        pthread_rwlock_unlock(&m->lock);
        return r;
}

size_t pb_ownmap_count(pb_ownmap_t *m) {
        return atomic_load(&m->n);
}

uint64_t pb_ownmap_dropped(pb_ownmap_t *m) {
        return atomic_load(&m->dropped);
}

size_t pb_ownmap_bytes(pb_ownmap_t *m) {
        size_t b;
        pthread_rwlock_rdlock(&m->lock);
        b = pb_fptab_bytes(m->t) + m->capoidx * sizeof(uint32_t) +
            (m->own ? pb_idtab_bytes(m->own) : 0);
        pthread_rwlock_unlock(&m->lock);
        return b;
}
