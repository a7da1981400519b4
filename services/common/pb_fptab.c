/* partnerbus services - fingerprint table (see pb_fptab.h). */
#include "pb_fptab.h"

#include <stdlib.h>
#include <string.h>

#define NSEG    64
#define SEG_MIN 16
#define MIX     0x9E3779B97F4A7C15ull

typedef struct slot {
        uint64_t k; /* 0: empty */
        uint64_t v;
} slot_t;
_Static_assert(sizeof(slot_t) == 16, "16-byte slots");

typedef struct seg {
        slot_t *s;
        uint32_t cap, n;
} seg_t;

struct pb_fptab {
        seg_t seg[NSEG];
        size_t n;
};

pb_fptab_t *pb_fptab_new(void) {
        pb_fptab_t *t = calloc(1, sizeof(*t));
        int i;
        if (!t)
                return NULL;
        for (i = 0; i < NSEG; i++) {
                t->seg[i].s = calloc(SEG_MIN, sizeof(slot_t));
                if (!t->seg[i].s) {
                        pb_fptab_destroy(t);
                        return NULL;
                }
                t->seg[i].cap = SEG_MIN;
        }
        return t;
}

void pb_fptab_destroy(pb_fptab_t *t) {
        int i;
        if (!t)
                return;
        for (i = 0; i < NSEG; i++)
                free(t->seg[i].s);
        free(t);
}

/* segment: the top 6 bits of the mixed key; home in it: the next 32,
 * scaled to the segment's size */
static seg_t *seg_of(const pb_fptab_t *t, uint64_t k) {
        return (seg_t *)&t->seg[(k * MIX) >> 58];
}

static uint32_t home(uint64_t k, uint32_t cap) {
        return (uint32_t)((((k * MIX) >> 26) & 0xffffffffu) * cap >> 32);
}

static uint32_t find(const slot_t *s, uint32_t cap, uint64_t k) {
        uint32_t i = home(k, cap);
        while (s[i].k && s[i].k != k)
                i = i + 1 == cap ? 0 : i + 1;
        return i;
}

/* The segment of key k (0 is kept as 1) and in *i the slot where k is, or
 * where it would go. */
static seg_t *locate(const pb_fptab_t *t, uint64_t *k, uint32_t *i) {
        seg_t *g;
        if (!*k)
                *k = 1;
        g = seg_of(t, *k);
        *i = find(g->s, g->cap, *k);
        return g;
}

uint64_t *pb_fptab_get(const pb_fptab_t *t, uint64_t k) {
        uint32_t i;
        seg_t *g = locate(t, &k, &i);
        return g->s[i].k ? &g->s[i].v : NULL;
}

static int grow(seg_t *g) {
        uint32_t ncap = g->cap + g->cap / 4, i;
        slot_t *ns;
        if (ncap < g->cap || ncap > (1u << 30))
                return -1;
        if (!(ns = calloc(ncap, sizeof(*ns))))
                return -1;
        for (i = 0; i < g->cap; i++)
                if (g->s[i].k)
                        ns[find(ns, ncap, g->s[i].k)] = g->s[i];
        free(g->s);
        g->s = ns;
        g->cap = ncap;
        return 0;
}

int pb_fptab_put(pb_fptab_t *t, uint64_t k, uint64_t v) {
        uint32_t i;
        seg_t *g = locate(t, &k, &i);
        if (g->s[i].k) {
                g->s[i].v = v;
                return 0;
        }
        if (((uint64_t)g->n + 1) * 5 > (uint64_t)g->cap * 4) {
                if (grow(g) != 0)
                        return -1;
                i = find(g->s, g->cap, k);
        }
        g->s[i].k = k;
        g->s[i].v = v;
        g->n++;
        t->n++;
        return 0;
}

void pb_fptab_del(pb_fptab_t *t, uint64_t k) {
        uint32_t i, j, cap;
        seg_t *g = locate(t, &k, &i);
        cap = g->cap;
        if (!g->s[i].k)
                return;
        /* backward shift: a later member of the run moves into the hole
         * when the hole lies (cyclically) between its home and it */
        for (j = i;;) {
                uint32_t h;
                j = j + 1 == cap ? 0 : j + 1;
                if (!g->s[j].k)
                        break;
                h = home(g->s[j].k, cap);
                if ((j + cap - h) % cap >= (j + cap - i) % cap) {
                        g->s[i] = g->s[j];
                        i = j;
                }
        }
        g->s[i].k = 0;
        g->s[i].v = 0;
        g->n--;
        t->n--;
}

size_t pb_fptab_count(const pb_fptab_t *t) {
        return t->n;
}

size_t pb_fptab_bytes(const pb_fptab_t *t) {
        size_t b = sizeof(*t);
        int i;
        for (i = 0; i < NSEG; i++)
                b += (size_t)t->seg[i].cap * sizeof(slot_t);
        return b;
}

/* --- identity table (see pb_fptab.h) --- */

#define LOW58 ((1ull << 58) - 1)
#define USED  (1ull << 63) /* above the caller's 5 flag bits (58-62) */

typedef struct __attribute__((packed, aligned(4))) idslot {
        uint64_t m; /* 0: empty; else bits 0-57 of k * MIX, flags above */
        uint64_t v;
        uint32_t x;
} idslot_t;
_Static_assert(sizeof(idslot_t) == 20, "20-byte slots");

typedef struct idseg {
        idslot_t *s;
        uint32_t cap, n;
} idseg_t;

struct pb_idtab {
        idseg_t seg[NSEG];
        size_t n;
};

pb_idtab_t *pb_idtab_new(void) {
        pb_idtab_t *t = calloc(1, sizeof(*t));
        int i;
        if (!t)
                return NULL;
        for (i = 0; i < NSEG; i++) {
                t->seg[i].s = calloc(SEG_MIN, sizeof(idslot_t));
                if (!t->seg[i].s) {
                        pb_idtab_destroy(t);
                        return NULL;
                }
                t->seg[i].cap = SEG_MIN;
        }
        return t;
}

void pb_idtab_destroy(pb_idtab_t *t) {
        int i;
        if (!t)
                return;
        for (i = 0; i < NSEG; i++)
                free(t->seg[i].s);
        free(t);
}

/* the home of a mixed key: bits 26-57 (below the flags), scaled */
static uint32_t idhome(uint64_t m, uint32_t cap) {
        return (uint32_t)((((m >> 26) & 0xffffffffu) * cap) >> 32);
}

static uint32_t idfind(const idslot_t *s, uint32_t cap, uint64_t m) {
        uint32_t i = idhome(m, cap);
        while (s[i].m && (s[i].m & LOW58) != (m & LOW58))
                i = i + 1 == cap ? 0 : i + 1;
        return i;
}

static uint64_t idmix(uint64_t k) {
        return (k ? k : 1) * MIX;
}

int pb_idtab_get(const pb_idtab_t *t, uint64_t k, uint32_t x, uint64_t *v,
                 unsigned *flags) {
        uint64_t m = idmix(k);
        const idseg_t *g = &t->seg[m >> 58];
        const idslot_t *s = &g->s[idfind(g->s, g->cap, m)];
        if (!s->m)
                return 0;
        if (s->x != x)
                return -1;
        *v = s->v;
        *flags = (unsigned)(s->m >> 58) & PB_IDTAB_FLAGS;
        return 1;
}

static int idgrow(idseg_t *g) {
        uint32_t ncap = g->cap + g->cap / 4, i;
        idslot_t *ns;
        if (ncap < g->cap || ncap > (1u << 30))
                return -1;
        if (!(ns = calloc(ncap, sizeof(*ns))))
                return -1;
        for (i = 0; i < g->cap; i++)
                if (g->s[i].m)
                        ns[idfind(ns, ncap, g->s[i].m)] = g->s[i];
        free(g->s);
        g->s = ns;
        g->cap = ncap;
        return 0;
}

/* removes slot i of g (backward shift, as pb_fptab_del) */
static void iddel(idseg_t *g, uint32_t i) {
        uint32_t j, cap = g->cap;
        for (j = i;;) {
                uint32_t h;
                j = j + 1 == cap ? 0 : j + 1;
                if (!g->s[j].m)
                        break;
                h = idhome(g->s[j].m, cap);
                if ((j + cap - h) % cap >= (j + cap - i) % cap) {
                        g->s[i] = g->s[j];
                        i = j;
                }
        }
        memset(&g->s[i], 0, sizeof(g->s[i]));
        g->n--;
}

int pb_idtab_set(pb_idtab_t *t, uint64_t k, uint32_t x, uint64_t v,
                 unsigned flags) {
        uint64_t m = idmix(k);
        idseg_t *g = &t->seg[m >> 58];
        uint32_t i = idfind(g->s, g->cap, m);
        uint64_t sm =
            (m & LOW58) | USED | ((uint64_t)(flags & PB_IDTAB_FLAGS) << 58);
        flags &= PB_IDTAB_FLAGS;
        if (g->s[i].m) {
                if (g->s[i].x != x)
                        return -2;
                if (!v && !flags) {
                        iddel(g, i);
                        t->n--;
                } else {
                        g->s[i].m = sm;
                        g->s[i].v = v;
                }
                return 0;
        }
        if (!v && !flags)
                return 0;
        if (((uint64_t)g->n + 1) * 5 > (uint64_t)g->cap * 4) {
                if (idgrow(g) != 0)
                        return -1;
                i = idfind(g->s, g->cap, m);
        }
        g->s[i].m = sm;
        g->s[i].v = v;
        g->s[i].x = x;
        g->n++;
        t->n++;
        return 0;
}

size_t pb_idtab_count(const pb_idtab_t *t) {
        return t->n;
}

size_t pb_idtab_bytes(const pb_idtab_t *t) {
        size_t b = sizeof(*t);
        int i;
        for (i = 0; i < NSEG; i++)
                b += (size_t)t->seg[i].cap * sizeof(idslot_t);
        return b;
}
