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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_schema_priv.h"

typedef struct pb_rpair {
        const pb_type_t *r, *w;
} pb_rpair_t;

typedef struct pb_rctx {
        pb_rpair_t *stack;
        size_t n, cap;
        char *reason; /* may be NULL: quiet */
        size_t rsize;
        int nomem;
} pb_rctx_t;

static int pb_rfail(pb_rctx_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int pb_rfail(pb_rctx_t *c, const char *path, const char *fmt, ...) {
        char msg[384];
        va_list ap;
        if (!c->reason || !c->rsize)
                return -1;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(c->reason, c->rsize, "%s: %s", *path ? path : "/", msg);
        return -1;
}

static const char *pb_tname(const pb_type_t *t) {
        return t->fullname ? t->fullname : pb_kind_name(t->kind);
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

static int pb_can_read(pb_rctx_t *c, const pb_type_t *r, const pb_type_t *w,
                       const char *path);

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
                              const pb_type_t *w, const char *path) {
        size_t i;
        char sub[1024];
        for (i = 0; i < r->nfields; i++) {
                const pb_field_t *rf = &r->fields[i];
                const pb_field_t *wf = pb_writer_field(w, rf);
                snprintf(sub, sizeof(sub), "%s/%s", path, rf->name);
                if (!wf) {
                        if (!rf->has_default)
                                return pb_rfail(c, sub,
                                                "reader field is missing in "
                                                "the writer and has no "
                                                "default");
                        continue;
                }
                if (pb_can_read(c, rf->type, wf->type, sub))
                        return -1;
        }
        return 0;
}

static int pb_can_read_named(pb_rctx_t *c, const pb_type_t *r,
                             const pb_type_t *w, const char *path) {
        size_t i, j;
        int rc;
        if (!pb_names_match(r, w))
                return pb_rfail(c, path,
                                "reader %s %s does not match writer %s "
                                "(name or alias)",
                                pb_kind_name(r->kind), r->fullname,
                                w->fullname);
        if (r->kind == PB_T_FIXED) {
                if (r->size != w->size)
                        return pb_rfail(c, path,
                                        "fixed %s has size %zu in the reader "
                                        "but %zu in the writer",
                                        r->fullname, r->size, w->size);
                return 0;
        }
        if (r->kind == PB_T_ENUM) {
                for (i = 0; i < w->nsymbols; i++) {
                        for (j = 0; j < r->nsymbols; j++)
                                if (!strcmp(w->symbols[i], r->symbols[j]))
                                        break;
                        if (j == r->nsymbols && r->enum_default < 0)
                                return pb_rfail(c, path,
                                                "reader enum lacks symbol %s "
                                                "and has no default",
                                                w->symbols[i]);
                }
                return 0;
        }
        /* record: guard against recursion */
        for (i = 0; i < c->n; i++)
                if (c->stack[i].r == r && c->stack[i].w == w)
                        return 0;
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 16;
                pb_rpair_t *a = realloc(c->stack, cap * sizeof(*a));
                if (!a) {
                        c->nomem = 1;
                        return pb_rfail(c, path, "out of memory");
                }
                c->stack = a;
                c->cap = cap;
        }
        c->stack[c->n].r = r;
        c->stack[c->n].w = w;
        c->n++;
        rc = pb_can_read_record(c, r, w, path);
        c->n--;
        return rc;
}

static int pb_can_read(pb_rctx_t *c, const pb_type_t *r, const pb_type_t *w,
                       const char *path) {
        size_t i;
        if (w->kind == PB_T_UNION) {
                for (i = 0; i < w->nbranches; i++)
                        if (pb_can_read(c, r, w->branches[i], path))
                                return -1;
                return 0;
        }
        if (r->kind == PB_T_UNION) {
                char *saved = c->reason;
                c->reason = NULL; /* trying branches: keep quiet */
                for (i = 0; i < r->nbranches; i++)
                        if (!pb_can_read(c, r->branches[i], w, path)) {
                                c->reason = saved;
                                return 0;
                        }
                c->reason = saved;
                /* the nearest reason: the first branch of the same kind */
                for (i = 0; i < r->nbranches; i++)
                        if (r->branches[i]->kind == w->kind)
                                return pb_can_read(c, r->branches[i], w,
                                                   path);
                return pb_rfail(c, path,
                                "reader union has no branch for the "
                                "writer's %s",
                                pb_tname(w));
        }
        if (r->kind == w->kind) {
                switch (r->kind) {
                case PB_T_RECORD:
                case PB_T_ENUM:
                case PB_T_FIXED:
                        return pb_can_read_named(c, r, w, path);
                case PB_T_ARRAY:
                case PB_T_MAP:
                        return pb_can_read(c, r->items, w->items, path);
                default:
                        return 0;
                }
        }
        if (pb_promotes(w->kind, r->kind))
                return 0;
        return pb_rfail(c, path, "writer's %s cannot be read as %s",
                        pb_tname(w), pb_tname(r));
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
        rc = pb_can_read(&c, reader->root, writer->root, "");
        free(c.stack);
        if (c.nomem)
                return PB_ERR_NOMEM;
        return rc ? PB_ERR_INCOMPATIBLE : PB_OK;
}

pb_compat_t pb_schema_compat(const pb_schema_t *old_s,
                             const pb_schema_t *new_s, char *backward_reason,
                             char *forward_reason, size_t reason_size) {
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
