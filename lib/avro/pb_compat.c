/* partnerbus - can a reader schema read what a writer schema wrote?
 * Avro 1.11 specification, "Schema Resolution":
 *  - records, enums, fixed match by full name, or the writer's full name is
 *    one of the reader's aliases;
 *  - record fields match by name or by a reader field alias; a reader field
 *    missing in the writer needs a default; writer fields missing in the
 *    reader are skipped;
 *  - a writer enum symbol missing in the reader is fine only if the reader
 *    enum has a default;
 *  - fixed sizes must be equal;
 *  - promotions int->long/float/double, long->float/double, float->double,
 *    string<->bytes;
 *  - writer union: every branch must be readable; reader union: some branch
 *    must read the writer's type.
 * Logical types do not take part (Java's SchemaCompatibility does the same).
 *
 * Recursive schemas: a (reader, writer) pair already being checked further
 * up is assumed compatible, which ends the recursion. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_schema_priv.h"

#define PB_COMPAT_MAX_DEPTH 1000 /* records being checked at once */
#define PB_COMPAT_PATH_MAX  1024

typedef struct pb_rpair {
        const pb_type_t *r, *w;
} pb_rpair_t;

/* memo entry: a (reader, writer) record pair already decided */
typedef struct pb_rmemo {
        const pb_type_t *r, *w;
        int ok; /* 1 compatible, 0 not */
} pb_rmemo_t;

typedef struct pb_rctx {
        pb_rpair_t *stack; /* record pairs being checked (recursion) */
        size_t n, cap;
        size_t low;       /* lowest stack index whose assumption was used */
        pb_rmemo_t *memo; /* open addressing; cap 0 or a power of two */
        size_t nmemo, capmemo;
        char path[PB_COMPAT_PATH_MAX];
        size_t plen;
        char *reason; /* NULL: quiet (trying union branches) */
        size_t rsize;
        int nomem;
} pb_rctx_t;

static int pb_rfail(pb_rctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int pb_rfail(pb_rctx_t *c, const char *fmt, ...) {
        char msg[384];
        va_list ap;
        if (!c->reason || !c->rsize)
                return -1;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(c->reason, c->rsize, "%s: %s", c->plen ? c->path : "/", msg);
        return -1;
}

static const char *pb_tname(const pb_type_t *t) {
        return t->fullname ? t->fullname : pb_schema_kind_name(t->kind);
}

static int pb_names_match(const pb_type_t *r, const pb_type_t *w) {
        size_t i;
        if (!strcmp(r->fullname, w->fullname))
                return 1;
        for (i = 0; i < r->naliases; i++)
                if (!strcmp(r->aliases[i], w->fullname))
                        return 1;
        return 0;
}

static int pb_promotes(pb_kind_t w, pb_kind_t r) {
        switch (w) {
        case PB_T_INT:
                return r == PB_T_LONG || r == PB_T_FLOAT || r == PB_T_DOUBLE;
        case PB_T_LONG:
                return r == PB_T_FLOAT || r == PB_T_DOUBLE;
        case PB_T_FLOAT:
                return r == PB_T_DOUBLE;
        case PB_T_STRING:
                return r == PB_T_BYTES;
        case PB_T_BYTES:
                return r == PB_T_STRING;
        default:
                return 0;
        }
}

static size_t pb_pair_hash(const pb_type_t *r, const pb_type_t *w,
                           size_t mask) {
        uint64_t x = (uint64_t)(uintptr_t)r * 0x9e3779b97f4a7c15ULL ^
                     (uint64_t)(uintptr_t)w;
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return (size_t)x & mask;
}

static pb_rmemo_t *pb_memo_slot(pb_rmemo_t *tab, size_t cap, const pb_type_t *r,
                                const pb_type_t *w) {
        size_t i = pb_pair_hash(r, w, cap - 1);
        while (tab[i].r && !(tab[i].r == r && tab[i].w == w))
                i = (i + 1) & (cap - 1);
        return &tab[i];
}

/* -1 unknown, 0 incompatible, 1 compatible */
static int pb_memo_get(const pb_rctx_t *c, const pb_type_t *r,
                       const pb_type_t *w) {
        const pb_rmemo_t *e;
        if (!c->capmemo)
                return -1;
        e = pb_memo_slot(c->memo, c->capmemo, r, w);
        return e->r ? e->ok : -1;
}

static void pb_memo_put(pb_rctx_t *c, const pb_type_t *r, const pb_type_t *w,
                        int ok) {
        pb_rmemo_t *e;
        if (2 * (c->nmemo + 1) > c->capmemo) {
                size_t cap = c->capmemo ? c->capmemo * 2 : 64, i;
                pb_rmemo_t *a = calloc(cap, sizeof(*a));
                if (!a)
                        return; /* the memo only saves time */
                for (i = 0; i < c->capmemo; i++)
                        if (c->memo[i].r)
                                *pb_memo_slot(a, cap, c->memo[i].r,
                                              c->memo[i].w) = c->memo[i];
                free(c->memo);
                c->memo = a;
                c->capmemo = cap;
        }
        e = pb_memo_slot(c->memo, c->capmemo, r, w);
        if (!e->r)
                c->nmemo++;
        e->r = r;
        e->w = w;
        e->ok = ok;
}

static int pb_can_read(pb_rctx_t *c, const pb_type_t *r, const pb_type_t *w);

static const pb_field_t *pb_writer_field(const pb_type_t *w,
                                         const pb_field_t *rf) {
        int i = pb_type_field_index(w, rf->name, rf->namelen);
        size_t a;
        if (i >= 0)
                return &w->fields[i];
        for (a = 0; a < rf->naliases; a++) {
                i = pb_type_field_index(w, rf->aliases[a],
                                        strlen(rf->aliases[a]));
                if (i >= 0)
                        return &w->fields[i];
        }
        return NULL;
}

static int pb_can_read_record(pb_rctx_t *c, const pb_type_t *r,
                              const pb_type_t *w) {
        size_t i, saved = c->plen;
        int rc = 0;
        for (i = 0; i < r->nfields && !rc; i++) {
                const pb_field_t *rf = &r->fields[i];
                const pb_field_t *wf = pb_writer_field(w, rf);
                int n = snprintf(c->path + saved, sizeof(c->path) - saved,
                                 "/%s", rf->name);
                c->plen = saved + (n > 0 ? (size_t)n : 0);
                if (c->plen >= sizeof(c->path))
                        c->plen = sizeof(c->path) - 1;
                if (!wf) {
                        if (!rf->has_default)
                                rc = pb_rfail(c, "reader field is missing in "
                                                 "the writer and has no "
                                                 "default");
                        continue;
                }
                rc = pb_can_read(c, rf->type, wf->type);
        }
        c->plen = saved;
        c->path[saved] = 0;
        return rc;
}

/* Records are the only way a schema recurses: a pair already on the stack
 * is assumed compatible (co-inductively), and `low` tracks whether a result
 * leaned on such an assumption of a pair still open further down, in which
 * case it is not memoised. Failures never depend on assumptions (those only
 * make things more compatible), so they are always memoised. */
static int pb_can_read_rec_pair(pb_rctx_t *c, const pb_type_t *r,
                                const pb_type_t *w) {
        size_t i, k, saved_low;
        int rc, m = pb_memo_get(c, r, w);
        if (m == 1 || (m == 0 && !c->reason))
                return m == 1 ? 0 : -1;
        for (i = 0; i < c->n; i++)
                if (c->stack[i].r == r && c->stack[i].w == w) {
                        if (i < c->low)
                                c->low = i;
                        return 0;
                }
        if (c->n >= PB_COMPAT_MAX_DEPTH)
                return pb_rfail(c, "records nested deeper than %d",
                                PB_COMPAT_MAX_DEPTH);
        if (PB_ARRAY_RESERVE(c->stack, c->cap, c->n, 1, 16)) {
                c->nomem = 1;
                return pb_rfail(c, "out of memory");
        }
        k = c->n;
        c->stack[c->n].r = r;
        c->stack[c->n].w = w;
        c->n++;
        saved_low = c->low;
        c->low = SIZE_MAX;
        rc = pb_can_read_record(c, r, w);
        c->n--;
        if (rc)
                pb_memo_put(c, r, w, 0);
        else if (c->low >= k)
                pb_memo_put(c, r, w, 1);
        if (c->low >= k)
                c->low = SIZE_MAX;
        if (saved_low < c->low)
                c->low = saved_low;
        return rc;
}

static int pb_can_read_named(pb_rctx_t *c, const pb_type_t *r,
                             const pb_type_t *w) {
        size_t i, j;
        if (!pb_names_match(r, w))
                return pb_rfail(c,
                                "reader %s %s does not match writer %s "
                                "(name or alias)",
                                pb_schema_kind_name(r->kind), r->fullname,
                                w->fullname);
        if (r->kind == PB_T_FIXED) {
                if (r->size != w->size)
                        return pb_rfail(c,
                                        "fixed %s has size %zu in the reader "
                                        "but %zu in the writer",
                                        r->fullname, r->size, w->size);
                return 0;
        }
        if (r->kind == PB_T_ENUM) {
                if (r->enum_default >= 0)
                        return 0;
                for (i = 0; i < w->nsymbols; i++) {
                        for (j = 0; j < r->nsymbols; j++)
                                if (!strcmp(w->symbols[i], r->symbols[j]))
                                        break;
                        if (j == r->nsymbols)
                                return pb_rfail(c,
                                                "reader enum lacks symbol %s "
                                                "and has no default",
                                                w->symbols[i]);
                }
                return 0;
        }
        return pb_can_read_rec_pair(c, r, w);
}

static int pb_can_read(pb_rctx_t *c, const pb_type_t *r, const pb_type_t *w) {
        size_t i;
        if (w->kind == PB_T_UNION) {
                for (i = 0; i < w->nbranches; i++)
                        if (pb_can_read(c, r, w->branches[i]))
                                return -1;
                return 0;
        }
        if (r->kind == PB_T_UNION) {
                char *saved = c->reason;
                c->reason = NULL; /* trying branches: keep quiet */
                for (i = 0; i < r->nbranches; i++)
                        if (!pb_can_read(c, r->branches[i], w)) {
                                c->reason = saved;
                                return 0;
                        }
                c->reason = saved;
                /* the nearest reason: the first branch of the same kind */
                for (i = 0; i < r->nbranches; i++)
                        if (r->branches[i]->kind == w->kind)
                                return pb_can_read(c, r->branches[i], w);
                return pb_rfail(c,
                                "reader union has no branch for the "
                                "writer's %s",
                                pb_tname(w));
        }
        if (r->kind == w->kind) {
                switch (r->kind) {
                case PB_T_RECORD:
                case PB_T_ENUM:
                case PB_T_FIXED:
                        return pb_can_read_named(c, r, w);
                case PB_T_ARRAY:
                case PB_T_MAP:
                        return pb_can_read(c, r->items, w->items);
                default:
                        return 0;
                }
        }
        if (pb_promotes(w->kind, r->kind))
                return 0;
        return pb_rfail(c, "writer's %s cannot be read as %s", pb_tname(w),
                        pb_tname(r));
}

pb_resp_t pb_schema_can_read(const pb_schema_t *reader,
                             const pb_schema_t *writer, char *reason,
                             size_t reason_size) {
        pb_rctx_t c;
        int rc;
        if (reason && reason_size)
                reason[0] = 0;
        if (!reader || !writer) {
                if (reason && reason_size)
                        snprintf(reason, reason_size, "no schema");
                return PB_ERR_ARG;
        }
        memset(&c, 0, sizeof(c));
        c.reason = reason_size ? reason : NULL;
        c.rsize = reason_size;
        c.low = SIZE_MAX;
        rc = pb_can_read(&c, reader->root, writer->root);
        free(c.stack);
        free(c.memo);
        if (c.nomem)
                return PB_ERR_NOMEM;
        return rc ? PB_ERR_INCOMPATIBLE : PB_OK;
}

pb_compat_t pb_schema_compat(const pb_schema_t *old_s, const pb_schema_t *new_s,
                             char *backward_reason, char *forward_reason,
                             size_t reason_size) {
        int c = PB_COMPAT_NONE;
        if (pb_schema_can_read(new_s, old_s, backward_reason, reason_size) ==
            PB_OK)
                c |= PB_COMPAT_BACKWARD;
        if (pb_schema_can_read(old_s, new_s, forward_reason, reason_size) ==
            PB_OK)
                c |= PB_COMPAT_FORWARD;
        return (pb_compat_t)c;
}

const char *pb_compat_name(pb_compat_t c) {
        switch (c) {
        case PB_COMPAT_NONE:
                return "NONE";
        case PB_COMPAT_BACKWARD:
                return "BACKWARD";
        case PB_COMPAT_FORWARD:
                return "FORWARD";
        case PB_COMPAT_FULL:
                return "FULL";
        }
        return "UNKNOWN";
}
