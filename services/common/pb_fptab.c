/* partnerbus services - fingerprint tables (see pb_fptab.h).
 *
 * One segmented open-addressing engine serves both tables. It works on
 * slots of a given size whose first 8 bytes are 0 when the slot is empty;
 * a slot kind (kind_t) says how big a slot is, how to tell whether a slot
 * holds a probe key and the mixed key (k * MIX) a held slot came from,
 * which gives its segment (top 6 bits) and home (the next 32). The engine
 * functions are always inlined with a constant kind, so each table gets
 * its own specialised code, as fast as a hand-written copy. */
#include "pb_fptab.h"

#include <stdlib.h>
#include <string.h>

#define NSEG    64
#define SEG_MIN 16
#define MIX     0x9E3779B97F4A7C15ull

#define ENGINE static inline __attribute__((always_inline))

typedef struct seg {
        unsigned char *s; /* cap slots of the kind's size */
        uint32_t cap, n;
} seg_t;

typedef struct segtab {
        seg_t seg[NSEG];
        size_t n;
} segtab_t;

/* Each public table is a segtab_t of its slot kind; a pointer to it is
 * one to its segtab_t, its first member. */
struct pb_fptab {
        segtab_t t;
};

struct pb_idtab {
        segtab_t t;
};

typedef struct kind {
        size_t size;
        /* whether the held slot s is the one of probe key q */
        int (*holds)(const unsigned char *s, uint64_t q);
        /* the mixed key of the held slot s */
        uint64_t (*mixed)(const unsigned char *s);
} kind_t;

static void tab_free(segtab_t *t) {
        int i;
        if (!t)
                return;
        for (i = 0; i < NSEG; i++)
                free(t->seg[i].s);
        free(t);
}

/* A table of empty segments of slots of size bytes, or NULL. */
static segtab_t *tab_new(size_t size) {
        segtab_t *t = calloc(1, sizeof(*t));
        int i;
        for (i = 0; t && i < NSEG; i++) {
                if (!(t->seg[i].s = calloc(SEG_MIN, size))) {
                        tab_free(t);
                        return NULL;
                }
                t->seg[i].cap = SEG_MIN;
        }
        return t;
}

static size_t tab_bytes(const segtab_t *t, size_t size) {
        size_t b = sizeof(*t);
        int i;
        for (i = 0; i < NSEG; i++)
                b += (size_t)t->seg[i].cap * size;
        return b;
}

ENGINE unsigned char *at(const kind_t *kd, const seg_t *g, uint32_t i) {
        return g->s + (size_t)i * kd->size;
}

ENGINE int empty(const unsigned char *s) {
        uint64_t w;
        memcpy(&w, s, sizeof(w));
        return !w;
}

/* the home of mixed key m in a segment of cap slots: bits 26-57, scaled */
ENGINE uint32_t home(uint64_t m, uint32_t cap) {
        return (uint32_t)((((m >> 26) & 0xffffffffu) * cap) >> 32);
}

ENGINE uint32_t next(uint32_t i, uint32_t cap) {
        return i + 1 == cap ? 0 : i + 1;
}

/* The slot of g where probe key q (mixed key m) is, or where it would
 * go. */
ENGINE uint32_t find(const kind_t *kd, const seg_t *g, uint64_t m, uint64_t q) {
        uint32_t i = home(m, g->cap);
        while (!empty(at(kd, g, i)) && !kd->holds(at(kd, g, i), q))
                i = next(i, g->cap);
        return i;
}

ENGINE seg_t *seg_of(const segtab_t *t, uint64_t m) {
        return (seg_t *)&t->seg[m >> 58];
}

/* Grows g by a quarter. 0, or -1 without memory (g unchanged). */
ENGINE int grow(const kind_t *kd, seg_t *g) {
        seg_t ng = {NULL, g->cap + g->cap / 4, g->n};
        uint32_t i;
        if (ng.cap < g->cap || ng.cap > (1u << 30))
                return -1;
        if (!(ng.s = calloc(ng.cap, kd->size)))
                return -1;
        for (i = 0; i < g->cap; i++) {
                const unsigned char *s = at(kd, g, i);
                uint32_t j;
                if (empty(s))
                        continue;
                for (j = home(kd->mixed(s), ng.cap); !empty(at(kd, &ng, j));)
                        j = next(j, ng.cap);
                memcpy(at(kd, &ng, j), s, kd->size);
        }
        free(g->s);
        *g = ng;
        return 0;
}

/* Claims the free slot i of g for probe key q (mixed key m), growing g
 * first at 80 %: the slot to fill, or NULL without memory. */
ENGINE unsigned char *claim(const kind_t *kd, segtab_t *t, seg_t *g, uint32_t i,
                            uint64_t m, uint64_t q) {
        if (((uint64_t)g->n + 1) * 5 > (uint64_t)g->cap * 4) {
                if (grow(kd, g) != 0)
                        return NULL;
                i = find(kd, g, m, q);
        }
        g->n++;
        t->n++;
        return at(kd, g, i);
}

/* Removes the held slot i of g: backward shift, a later member of the
 * run moves into the hole when the hole lies (cyclically) between its
 * home and it. */
ENGINE void drop(const kind_t *kd, segtab_t *t, seg_t *g, uint32_t i) {
        uint32_t j, cap = g->cap;
        for (j = i;;) {
                uint32_t h;
                j = next(j, cap);
                if (empty(at(kd, g, j)))
                        break;
                h = home(kd->mixed(at(kd, g, j)), cap);
                if ((j + cap - h) % cap >= (j + cap - i) % cap) {
                        memcpy(at(kd, g, i), at(kd, g, j), kd->size);
                        i = j;
                }
        }
        memset(at(kd, g, i), 0, kd->size);
        g->n--;
        t->n--;
}

/* --- fingerprint table: 16-byte slots, k kept as it is --- */

typedef struct slot {
        uint64_t k; /* 0: empty */
        uint64_t v;
} slot_t;
_Static_assert(sizeof(slot_t) == 16, "16-byte slots");

static int fp_holds(const unsigned char *s, uint64_t k) {
        return ((const slot_t *)s)->k == k;
}

static uint64_t fp_mixed(const unsigned char *s) {
        return ((const slot_t *)s)->k * MIX;
}

static const kind_t FP = {sizeof(slot_t), fp_holds, fp_mixed};

/* The segment of key k (0 is kept as 1) and in *i the slot where k is, or
 * where it would go. */
static seg_t *locate(const pb_fptab_t *t, uint64_t *k, uint32_t *i) {
        seg_t *g;
        if (!*k)
                *k = 1;
        g = seg_of(&t->t, *k * MIX);
        *i = find(&FP, g, *k * MIX, *k);
        return g;
}

uint64_t *pb_fptab_get(const pb_fptab_t *t, uint64_t k) {
        uint32_t i;
        seg_t *g = locate(t, &k, &i);
        slot_t *s = (slot_t *)at(&FP, g, i);
        return s->k ? &s->v : NULL;
}

int pb_fptab_put(pb_fptab_t *t, uint64_t k, uint64_t v) {
        uint32_t i;
        seg_t *g = locate(t, &k, &i);
        slot_t *s = (slot_t *)at(&FP, g, i);
        if (!s->k && !(s = (slot_t *)claim(&FP, &t->t, g, i, k * MIX, k)))
                return -1;
        s->k = k;
        s->v = v;
        return 0;
}

void pb_fptab_del(pb_fptab_t *t, uint64_t k) {
        uint32_t i;
        seg_t *g = locate(t, &k, &i);
        if (((slot_t *)at(&FP, g, i))->k)
                drop(&FP, &t->t, g, i);
}

/* --- identity table: 20-byte slots, k kept mixed (see pb_fptab.h) --- */

#define LOW58 ((1ull << 58) - 1)
#define USED  (1ull << 63) /* above the caller's 5 flag bits (58-62) */

typedef struct __attribute__((packed, aligned(4))) idslot {
        uint64_t m; /* 0: empty; else bits 0-57 of k * MIX, flags above */
        uint64_t v;
        uint32_t x;
} idslot_t;
_Static_assert(sizeof(idslot_t) == 20, "20-byte slots");

static int id_holds(const unsigned char *s, uint64_t m) {
        return !((((const idslot_t *)s)->m ^ m) & LOW58);
}

static uint64_t id_mixed(const unsigned char *s) {
        return ((const idslot_t *)s)->m; /* bits 26-57 give the home */
}

static const kind_t ID = {sizeof(idslot_t), id_holds, id_mixed};

static uint64_t idmix(uint64_t k) {
        return (k ? k : 1) * MIX;
}

int pb_idtab_get(const pb_idtab_t *t, uint64_t k, uint32_t x, uint64_t *v,
                 unsigned *flags) {
        uint64_t m = idmix(k);
        const seg_t *g = seg_of(&t->t, m);
        const idslot_t *s = (const idslot_t *)at(&ID, g, find(&ID, g, m, m));
        if (!s->m)
                return 0;
        if (s->x != x)
                return -1;
        *v = s->v;
        *flags = (unsigned)(s->m >> 58) & PB_IDTAB_FLAGS;
        return 1;
}

int pb_idtab_set(pb_idtab_t *t, uint64_t k, uint32_t x, uint64_t v,
                 unsigned flags) {
        uint64_t m = idmix(k);
        seg_t *g = seg_of(&t->t, m);
        uint32_t i = find(&ID, g, m, m);
        idslot_t *s = (idslot_t *)at(&ID, g, i);
        flags &= PB_IDTAB_FLAGS;
        if (s->m) {
                if (s->x != x)
                        return -2;
                if (!v && !flags) {
                        drop(&ID, &t->t, g, i);
                        return 0;
                }
        } else {
                if (!v && !flags)
                        return 0;
                if (!(s = (idslot_t *)claim(&ID, &t->t, g, i, m, m)))
                        return -1;
                s->x = x;
        }
        s->m = (m & LOW58) | USED | ((uint64_t)flags << 58);
        s->v = v;
        return 0;
}

/* --- both tables --- */

pb_fptab_t *pb_fptab_new(void) {
        return (pb_fptab_t *)tab_new(sizeof(slot_t));
}

pb_idtab_t *pb_idtab_new(void) {
        return (pb_idtab_t *)tab_new(sizeof(idslot_t));
}

void pb_fptab_destroy(pb_fptab_t *t) {
        tab_free((segtab_t *)t);
}

void pb_idtab_destroy(pb_idtab_t *t) {
        tab_free((segtab_t *)t);
}

size_t pb_fptab_count(const pb_fptab_t *t) {
        return t->t.n;
}

size_t pb_idtab_count(const pb_idtab_t *t) {
        return t->t.n;
}

size_t pb_fptab_bytes(const pb_fptab_t *t) {
        return tab_bytes(&t->t, sizeof(slot_t));
}

size_t pb_idtab_bytes(const pb_idtab_t *t) {
        return tab_bytes(&t->t, sizeof(idslot_t));
}
