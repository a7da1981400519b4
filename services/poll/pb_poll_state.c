/* partnerbus poll - key -> content fingerprint table; see pb_pollstate.h. */
#include "pb_pollstate.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
        uint64_t k; /* 0 = empty */
        uint64_t h;
} slot_t;

struct pb_pstate {
        slot_t *slots;
        size_t cap; /* power of two */
        size_t n;
        size_t max;
};

pb_pstate_t *pb_pstate_new(size_t max_keys) {
        pb_pstate_t *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->cap = 1024;
        s->max = max_keys ? max_keys : (size_t)-1;
        s->slots = calloc(s->cap, sizeof(*s->slots));
        if (!s->slots) {
                free(s);
                return NULL;
        }
        return s;
}

void pb_pstate_destroy(pb_pstate_t *s) {
        if (!s)
                return;
        free(s->slots);
        free(s);
}

static size_t find(const pb_pstate_t *s, uint64_t k) {
        size_t m = s->cap - 1, i = (size_t)(k * 0x9E3779B97F4A7C15ull) & m;
        while (s->slots[i].k && s->slots[i].k != k)
                i = (i + 1) & m;
        return i;
}

int pb_pstate_get(const pb_pstate_t *s, uint64_t kfp, uint64_t *hash) {
        size_t i = find(s, kfp);
        if (!s->slots[i].k)
                return 0;
        *hash = s->slots[i].h;
        return 1;
}

static pb_resp_t grow(pb_pstate_t *s) {
        size_t ncap = s->cap * 2, i;
        slot_t *old = s->slots;
        size_t ocap = s->cap;
        slot_t *ns = calloc(ncap, sizeof(*ns));
        if (!ns)
                return PB_ERR_NOMEM;
        s->slots = ns;
        s->cap = ncap;
        for (i = 0; i < ocap; i++)
                if (old[i].k)
                        s->slots[find(s, old[i].k)] = old[i];
        free(old);
        return PB_OK;
}

pb_resp_t pb_pstate_put(pb_pstate_t *s, uint64_t kfp, uint64_t hash) {
        size_t i;
        if (!kfp)
                kfp = 1;
        i = find(s, kfp);
        if (s->slots[i].k) {
                s->slots[i].h = hash;
                return PB_OK;
        }
        if (s->n >= s->max)
                return PB_ERR_LIMIT;
        if ((s->n + 1) * 10 > s->cap * 7) {
                if (grow(s) != PB_OK)
                        return PB_ERR_NOMEM;
                i = find(s, kfp);
        }
        s->slots[i].k = kfp;
        s->slots[i].h = hash;
        s->n++;
        return PB_OK;
}

void pb_pstate_del(pb_pstate_t *s, uint64_t kfp) {
        size_t m = s->cap - 1, i = find(s, kfp), j;
        if (!s->slots[i].k)
                return;
        /* backward shift: move later members of the run into the hole
         * when their home slot is not between the hole and them */
        j = i;
        for (;;) {
                size_t home;
                j = (j + 1) & m;
                if (!s->slots[j].k)
                        break;
                home = (size_t)(s->slots[j].k * 0x9E3779B97F4A7C15ull) & m;
                if ((j > i && (home <= i || home > j)) ||
                    (j < i && (home <= i && home > j))) {
                        s->slots[i] = s->slots[j];
                        i = j;
                }
        }
        s->slots[i].k = 0;
        s->slots[i].h = 0;
        s->n--;
}

size_t pb_pstate_count(const pb_pstate_t *s) {
        return s->n;
}

size_t pb_pstate_bytes(const pb_pstate_t *s) {
        return s->cap * sizeof(slot_t) + sizeof(*s);
}

uint64_t pb_fingerprint(const void *data, size_t len, char *hex) {
        unsigned char d[SHA256_DIGEST_LENGTH];
        uint64_t v = 0;
        int i;
        static const char hx[] = "0123456789abcdef";
        SHA256(data, len, d);
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

uint64_t pb_fingerprint_parse(const char *hex, size_t len) {
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
