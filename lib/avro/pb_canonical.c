/* partnerbus - Avro Parsing Canonical Form and the CRC-64-AVRO (Rabin)
 * fingerprint, as in the Avro 1.11 specification ("Parsing Canonical Form
 * for Schemas", "Schema Fingerprints").
 *
 * The form is written from the compiled tree, which already did the work
 * of the transformations:
 *  [PRIMITIVES] primitives are kinds, written as "int" whatever the input;
 *  [FULLNAMES]  every named type carries its full name, no namespace;
 *  [STRIP]      only type, name, fields, symbols, items, values, size;
 *  [ORDER]      written in the order name, type, fields, symbols, items,
 *               values, size;
 *  [STRINGS]    names and symbols are [A-Za-z0-9_.] only (validated), so
 *               no escapes can occur;
 *  [INTEGERS]   size is written as a plain decimal;
 *  [WHITESPACE] none is written.
 * A named type is defined at its first occurrence (depth first, in field
 * order) and written as its full name afterwards. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_schema_priv.h"

#define PB_CRC64_EMPTY 0xc15d213aa4d7a795ULL

static uint64_t pb_crc64_table[256];
static pthread_once_t pb_crc64_once = PTHREAD_ONCE_INIT;

static void pb_crc64_init(void) {
        int i, j;
        for (i = 0; i < 256; i++) {
                uint64_t fp = (uint64_t)i;
                for (j = 0; j < 8; j++)
                        fp = (fp >> 1) ^ (PB_CRC64_EMPTY & (0 - (fp & 1)));
                pb_crc64_table[i] = fp;
        }
}

uint64_t pb_crc64_avro(const void *data, size_t len) {
        const uint8_t *p = data;
        uint64_t fp = PB_CRC64_EMPTY;
        size_t i;
        pthread_once(&pb_crc64_once, pb_crc64_init);
        for (i = 0; i < len; i++)
                fp = (fp >> 8) ^ pb_crc64_table[(fp ^ p[i]) & 0xff];
        return fp;
}

typedef struct pb_pcf {
        pb_buf_t out;
        const pb_type_t **seen; /* open-addressing set of defined types */
        size_t nseen, capseen;  /* capseen: 0 or a power of two */
        int failed;
} pb_pcf_t;

static void pb_pcf_puts(pb_pcf_t *c, const char *s) {
        if (!c->failed && pb_buf_puts(&c->out, s) != PB_OK)
                c->failed = 1;
}

static void pb_pcf_quoted(pb_pcf_t *c, const char *s) {
        pb_pcf_puts(c, "\"");
        pb_pcf_puts(c, s);
        pb_pcf_puts(c, "\"");
}

static size_t pb_ptr_hash(const void *p, size_t mask) {
        uint64_t x = (uint64_t)(uintptr_t)p;
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return (size_t)x & mask;
}

static int pb_pcf_insert(const pb_type_t **tab, size_t cap,
                         const pb_type_t *t) {
        size_t i = pb_ptr_hash(t, cap - 1);
        while (tab[i]) {
                if (tab[i] == t)
                        return 1;
                i = (i + 1) & (cap - 1);
        }
        tab[i] = t;
        return 0;
}

/* 1 if t was defined already; else remembers it and returns 0. */
static int pb_pcf_seen(pb_pcf_t *c, const pb_type_t *t) {
        if (2 * (c->nseen + 1) > c->capseen) {
                size_t cap = c->capseen ? c->capseen * 2 : 64, i;
                const pb_type_t **a = calloc(cap, sizeof(*a));
                if (!a) {
                        c->failed = 1;
                        return 1;
                }
                for (i = 0; i < c->capseen; i++)
                        if (c->seen[i])
                                pb_pcf_insert(a, cap, c->seen[i]);
                free(c->seen);
                c->seen = a;
                c->capseen = cap;
        }
        if (pb_pcf_insert(c->seen, c->capseen, t))
                return 1;
        c->nseen++;
        return 0;
}

static void pb_pcf_type(pb_pcf_t *c, const pb_type_t *t) {
        size_t i;
        char num[32];
        if (c->failed)
                return;
        switch (t->kind) {
        case PB_T_RECORD:
        case PB_T_ENUM:
        case PB_T_FIXED:
                if (pb_pcf_seen(c, t)) {
                        pb_pcf_quoted(c, t->fullname);
                        return;
                }
                pb_pcf_puts(c, "{\"name\":");
                pb_pcf_quoted(c, t->fullname);
                pb_pcf_puts(c, ",\"type\":");
                pb_pcf_quoted(c, pb_schema_kind_name(t->kind));
                if (t->kind == PB_T_RECORD) {
                        pb_pcf_puts(c, ",\"fields\":[");
                        for (i = 0; i < t->nfields; i++) {
                                if (i)
                                        pb_pcf_puts(c, ",");
                                pb_pcf_puts(c, "{\"name\":");
                                pb_pcf_quoted(c, t->fields[i].name);
                                pb_pcf_puts(c, ",\"type\":");
                                pb_pcf_type(c, t->fields[i].type);
                                pb_pcf_puts(c, "}");
                        }
                        pb_pcf_puts(c, "]}");
                } else if (t->kind == PB_T_ENUM) {
                        pb_pcf_puts(c, ",\"symbols\":[");
                        for (i = 0; i < t->nsymbols; i++) {
                                if (i)
                                        pb_pcf_puts(c, ",");
                                pb_pcf_quoted(c, t->symbols[i]);
                        }
                        pb_pcf_puts(c, "]}");
                } else {
                        snprintf(num, sizeof(num), "%zu", t->size);
                        pb_pcf_puts(c, ",\"size\":");
                        pb_pcf_puts(c, num);
                        pb_pcf_puts(c, "}");
                }
                return;
        case PB_T_ARRAY:
        case PB_T_MAP:
                pb_pcf_puts(c, t->kind == PB_T_ARRAY
                                   ? "{\"type\":\"array\",\"items\":"
                                   : "{\"type\":\"map\",\"values\":");
                pb_pcf_type(c, t->items);
                pb_pcf_puts(c, "}");
                return;
        case PB_T_UNION:
                pb_pcf_puts(c, "[");
                for (i = 0; i < t->nbranches; i++) {
                        if (i)
                                pb_pcf_puts(c, ",");
                        pb_pcf_type(c, t->branches[i]);
                }
                pb_pcf_puts(c, "]");
                return;
        default:
                pb_pcf_quoted(c, pb_schema_kind_name(t->kind));
                return;
        }
}

char *pb_schema_canonical_of(const pb_type_t *root) {
        pb_pcf_t c;
        memset(&c, 0, sizeof(c));
        pb_buf_init(&c.out, 0);
        pb_pcf_type(&c, root);
        free(c.seen);
        if (c.failed || !c.out.data) {
                pb_buf_free(&c.out);
                return NULL;
        }
        return (char *)c.out.data; /* caller frees */
}
