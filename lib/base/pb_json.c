/* partnerbus - strict RFC 8259 JSON parser into a per-parser arena.
 *
 * Memory: nodes and string bytes come from a chain of chunks owned by the
 * parser. pb_json_parse() rewinds the chain, so after warm-up a parse makes
 * no malloc. Everything a parse allocates is bounded by the input: one node
 * per value (and at most max_nodes of them) plus a copy of each string.
 *
 * Nesting is handled with an explicit stack (no recursion), bounded by
 * max_depth. Duplicate keys are found by linear search in small objects and
 * by a per-parser hash set once an object has many members, so a hostile
 * object with 10^6 keys costs O(n), not O(n^2).
 *
 * Error messages are "line L col C: reason"; L and C are 1-based, C counts
 * characters (UTF-8 sequences), and both are computed only on failure. */
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define PB_JSON_DEFAULT_DEPTH 64
#define PB_JSON_DEFAULT_NODES 1000000
#define PB_JSON_HARD_DEPTH    4096 /* max_depth is clamped to this */
#define PB_JSON_CHUNK         16384
#define PB_JSON_KEEP_BYTES    (4u << 20) /* arena kept across parses */
#define PB_JSON_DUP_LINEAR    16   /* members searched linearly for dups */
#define PB_JSON_DUP_KEEP      4096 /* hash set slots kept across parses */

typedef struct pb_chunk {
        struct pb_chunk *next;
        size_t size;
        /* data follows, 16-byte aligned */
} pb_chunk_t;

#define PB_CHUNK_HDR ((sizeof(pb_chunk_t) + 15) & ~(size_t)15)

typedef struct pb_frame {
        pb_json_t *node;
        pb_json_t *last;
        uint64_t keybits; /* objects: one bit per key seen (a filter) */
} pb_frame_t;

typedef struct pb_dupent {
        const pb_json_t *obj; /* NULL = empty slot */
        const char *key;
        size_t keylen;
        uint32_t hash;
} pb_dupent_t;

struct pb_json_parser {
        pb_json_limits_t lim;
        /* arena */
        pb_chunk_t *head;
        pb_chunk_t *cur;
        char *pos;
        char *end;
        /* nesting stack, lim.max_depth entries */
        pb_frame_t *stack;
        /* duplicate-key hash set for large objects */
        pb_dupent_t *dup;
        size_t dup_cap;
        size_t dup_used;
        /* per parse */
        const char *text;
        size_t len;
        size_t nodes;
        char *errstr;
        size_t errsize;
};

/* --- arena --- */

static void pb_arena_free_all(pb_chunk_t *c) {
        while (c) {
                pb_chunk_t *n = c->next;
                free(c);
                c = n;
        }
}

/* Slow path: move to (or create) a chunk with at least n free bytes. */
static void *pb_arena_grow(pb_json_parser_t *p, size_t n) {
        pb_chunk_t *c = p->cur ? p->cur->next : p->head;
        char *d;

        if (c && c->size >= n) {
                p->cur = c;
        } else {
                size_t size = n > PB_JSON_CHUNK ? n : PB_JSON_CHUNK;
                pb_chunk_t *nc = malloc(PB_CHUNK_HDR + size);
                if (!nc)
                        return NULL;
                nc->size = size;
                /* insert after cur so the rest of the chain stays usable */
                if (p->cur) {
                        nc->next = p->cur->next;
                        p->cur->next = nc;
                } else {
                        nc->next = p->head;
                        p->head = nc;
                }
                p->cur = nc;
        }
        d = (char *)p->cur + PB_CHUNK_HDR;
        p->pos = d + n;
        p->end = d + p->cur->size;
        return d;
}

static inline void *pb_arena_bytes(pb_json_parser_t *p, size_t n) {
        if ((size_t)(p->end - p->pos) >= n) {
                char *r = p->pos;
                p->pos += n;
                return r;
        }
        return pb_arena_grow(p, n);
}

static inline pb_json_t *pb_arena_node(pb_json_parser_t *p) {
        uintptr_t a = ((uintptr_t)p->pos + 7) & ~(uintptr_t)7;
        if (p->pos && a + sizeof(pb_json_t) <= (uintptr_t)p->end) {
                p->pos = (char *)(a + sizeof(pb_json_t));
                return (pb_json_t *)a;
        }
        return pb_arena_grow(p, sizeof(pb_json_t)); /* chunk start aligned */
}

static void pb_arena_keep(pb_json_parser_t *p, size_t keep) {
        size_t total = 0;
        pb_chunk_t *c, **pp = &p->head;

        while ((c = *pp)) {
                if (total + c->size > keep) {
                        *pp = c->next;
                        free(c);
                        continue;
                }
                total += c->size;
                pp = &c->next;
        }
        p->cur = NULL;
        p->pos = NULL;
        p->end = NULL;
}

/* Keep up to PB_JSON_KEEP_BYTES of chunks; drop the rest so one huge
 * document does not pin its memory forever. */
static void pb_arena_reset(pb_json_parser_t *p) {
        pb_arena_keep(p, PB_JSON_KEEP_BYTES);
}

void pb_json_parser_trim(pb_json_parser_t *p, size_t keep) {
        if (!p)
                return;
        pb_arena_keep(p, keep);
        if (p->dup_cap > PB_JSON_DUP_KEEP) {
                free(p->dup);
                p->dup = NULL;
                p->dup_cap = 0;
                p->dup_used = 0;
        }
}

/* --- parser object --- */

pb_json_parser_t *pb_json_parser_new(const pb_json_limits_t *limits) {
        pb_json_parser_t *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->lim.max_depth = PB_JSON_DEFAULT_DEPTH;
        p->lim.max_nodes = PB_JSON_DEFAULT_NODES;
        if (limits) {
                if (limits->max_depth > 0)
                        p->lim.max_depth = limits->max_depth;
                if (limits->max_nodes > 0)
                        p->lim.max_nodes = limits->max_nodes;
        }
        if (p->lim.max_depth > PB_JSON_HARD_DEPTH)
                p->lim.max_depth = PB_JSON_HARD_DEPTH;
        p->stack = malloc(sizeof(*p->stack) * (size_t)p->lim.max_depth);
        if (!p->stack) {
                free(p);
                return NULL;
        }
        return p;
}

void pb_json_parser_destroy(pb_json_parser_t *p) {
        if (!p)
                return;
        pb_arena_free_all(p->head);
        free(p->stack);
        free(p->dup);
        free(p);
}

/* --- errors --- */

static void pb_json_fail(pb_json_parser_t *p, const char *at, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

static void pb_json_fail(pb_json_parser_t *p, const char *at, const char *fmt,
                         ...) {
        const unsigned char *s, *e = (const unsigned char *)at;
        long line = 1, col = 1;
        size_t off;
        va_list ap;
        int n;

        if (!p || !p->errstr || !p->errsize)
                return;
        s = (const unsigned char *)p->text;
        for (; s < e; s++) {
                if (*s == '\n') {
                        line++;
                        col = 1;
                } else if ((*s & 0xC0) != 0x80) {
                        col++;
                }
        }
        n = snprintf(p->errstr, p->errsize, "line %ld col %ld: ", line, col);
        if (n < 0)
                return;
        off = (size_t)n;
        if (off >= p->errsize)
                return;
        va_start(ap, fmt);
        vsnprintf(p->errstr + off, p->errsize - off, fmt, ap);
        va_end(ap);
}

/* --- UTF-8 --- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, <= U+10FFFF), or 0 if invalid or cut short. s[0] >= 0x80. */
static inline size_t pb_utf8_seq(const unsigned char *s, size_t avail) {
        unsigned char c = s[0];
        unsigned char lo = 0x80, hi = 0xBF;
        size_t n, i;

        if (c >= 0xC2 && c <= 0xDF)
                n = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
                n = 3;
                if (c == 0xE0)
                        lo = 0xA0;
                else if (c == 0xED)
                        hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
                n = 4;
                if (c == 0xF0)
                        lo = 0x90;
                else if (c == 0xF4)
                        hi = 0x8F;
        } else
                return 0;
        if (avail < n)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (i = 2; i < n; i++)
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
        return n;
}

/* Validates the run of non-ASCII UTF-8 starting at *qp (*qp[0] >= 0x80)
 * up to the next ASCII byte or ue, advancing *qp. Four 2-byte sequences at
 * a time while they last, else one sequence of any length. Returns 0, or
 * -1 with *qp at the first byte of the invalid sequence. */
static inline int pb_utf8_run(const unsigned char **qp,
                              const unsigned char *ue) {
        const unsigned char *q = *qp;
        size_t n;

        do {
                if ((size_t)(ue - q) >= 8) {
                        uint64_t w;
                        memcpy(&w, q, 8);
                        if (pb_utf8_2x4(w)) {
                                q += 8;
                                continue;
                        }
                }
                n = pb_utf8_seq(q, (size_t)(ue - q));
                if (!n) {
                        *qp = q;
                        return -1;
                }
                q += n;
        } while (q < ue && *q >= 0x80);
        *qp = q;
        return 0;
}

int pb_utf8_valid(const char *str, size_t len) {
        const unsigned char *s = (const unsigned char *)str;
        const unsigned char *e = s + len;

        while (s < e) {
                if ((size_t)(e - s) >= 8) {
                        uint64_t w;
                        memcpy(&w, s, 8);
                        if (!(w & 0x8080808080808080ULL)) {
                                s += 8;
                                continue;
                        }
                }
                if (*s < 0x80) {
                        s++;
                        continue;
                }
                if (pb_utf8_run(&s, e))
                        return 0;
        }
        return 1;
}

size_t pb_utf8_span(const char *s, size_t len) {
        const unsigned char *q = (const unsigned char *)s;
        if (pb_utf8_run(&q, q + len))
                return 0;
        return (size_t)(q - (const unsigned char *)s);
}

/* --- strings --- */

static unsigned char pb_hexval[256]; /* 0xFF = not hex */
static pthread_once_t pb_tables_once = PTHREAD_ONCE_INIT;

static void pb_tables_init(void) {
        int i;
        for (i = 0; i < 256; i++)
                pb_hexval[i] = 0xFF;
        for (i = 0; i < 10; i++)
                pb_hexval['0' + i] = (unsigned char)i;
        for (i = 0; i < 6; i++) {
                pb_hexval['a' + i] = (unsigned char)(10 + i);
                pb_hexval['A' + i] = (unsigned char)(10 + i);
        }
}

/* Advances q over plain string bytes (printable ASCII other than '"' and
 * '\\') to the first byte that needs a look, or to where fewer than 8
 * bytes are left before ue (the caller's byte loop goes on from there).
 * With SSE2 (every x86-64) 16 bytes per step: a signed compare with 0x20
 * catches both control characters and bytes >= 0x80 (negative as signed
 * char); the mask has no false positives. Then 8 bytes per step with
 * pb_json_special8. */
static inline const unsigned char *pb_skip_plain(const unsigned char *q,
                                                 const unsigned char *ue) {
#ifdef __SSE2__
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i bslash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20);
        while ((size_t)(ue - q) >= 16) {
                __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
                __m128i m =
                    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                              _mm_cmpeq_epi8(x, bslash)),
                                 _mm_cmplt_epi8(x, space));
                unsigned bits = (unsigned)_mm_movemask_epi8(m);
                if (bits)
                        return q + __builtin_ctz(bits);
                q += 16;
        }
#endif
        while ((size_t)(ue - q) >= 8) {
                uint64_t w, m;
                memcpy(&w, q, 8);
                m = pb_json_special8(w);
                if (m) {
                        /* bytes below the first special one are never
                         * flagged, so skip straight to it */
                        return q + pb_json_first8(m);
                }
                q += 8;
        }
        return q;
}

static int pb_hex4(const unsigned char *s, uint32_t *out) {
        uint32_t v = 0;
        int i;
        for (i = 0; i < 4; i++) {
                unsigned char h = pb_hexval[s[i]];
                if (h == 0xFF)
                        return -1;
                v = (v << 4) | h;
        }
        *out = v;
        return 0;
}

/* Decodes the escapes of a string body [start, q) into d: q is at the
 * closing quote, the scan stepped over every backslash pair, d is the
 * arena's newest allocation with room for q - start + 1 bytes (the output
 * is never longer than the input). Checks each escape; returns 0, or
 * reports and returns -1. Out of line: most strings have no escape. */
static __attribute__((noinline)) int
pb_json_unescape(pb_json_parser_t *p, const unsigned char *start,
                 const unsigned char *q, char *d, const char **out,
                 size_t *outlen) {
        const unsigned char *r = start;
        char *o = d;
        while (r < q) {
                const unsigned char *run = r;
                while (r < q && *r != '\\')
                        r++;
                memcpy(o, run, (size_t)(r - run));
                o += r - run;
                if (r >= q)
                        break;
                /* r at backslash; r + 1 < q + 1 since q was reached
                 * by stepping over escape pairs. */
                switch (r[1]) {
                case '"':
                        *o++ = '"';
                        break;
                case '\\':
                        *o++ = '\\';
                        break;
                case '/':
                        *o++ = '/';
                        break;
                case 'b':
                        *o++ = '\b';
                        break;
                case 'f':
                        *o++ = '\f';
                        break;
                case 'n':
                        *o++ = '\n';
                        break;
                case 'r':
                        *o++ = '\r';
                        break;
                case 't':
                        *o++ = '\t';
                        break;
                case 'u': {
                        uint32_t cp, lo;
                        if (q - r < 6 || pb_hex4(r + 2, &cp)) {
                                pb_json_fail(p, (const char *)r,
                                             "invalid \\u escape "
                                             "(expected 4 hex "
                                             "digits)");
                                return -1;
                        }
                        if (cp >= 0xDC00 && cp <= 0xDFFF) {
                                pb_json_fail(p, (const char *)r,
                                             "unpaired surrogate "
                                             "\\u%04X",
                                             (unsigned)cp);
                                return -1;
                        }
                        if (cp >= 0xD800 && cp <= 0xDBFF) {
                                if (q - r < 12 || r[6] != '\\' || r[7] != 'u' ||
                                    pb_hex4(r + 8, &lo) || lo < 0xDC00 ||
                                    lo > 0xDFFF) {
                                        pb_json_fail(p, (const char *)r,
                                                     "unpaired surrogate "
                                                     "\\u%04X",
                                                     (unsigned)cp);
                                        return -1;
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) +
                                     (lo - 0xDC00);
                                r += 6;
                        }
                        if (cp < 0x80) {
                                *o++ = (char)cp;
                        } else if (cp < 0x800) {
                                *o++ = (char)(0xC0 | (cp >> 6));
                                *o++ = (char)(0x80 | (cp & 0x3F));
                        } else if (cp < 0x10000) {
                                *o++ = (char)(0xE0 | (cp >> 12));
                                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                                *o++ = (char)(0x80 | (cp & 0x3F));
                        } else {
                                *o++ = (char)(0xF0 | (cp >> 18));
                                *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                                *o++ = (char)(0x80 | (cp & 0x3F));
                        }
                        r += 6;
                        continue;
                }
                default:
                        if (r + 1 < q && r[1] >= 0x20 && r[1] < 0x7F)
                                pb_json_fail(p, (const char *)r,
                                             "invalid escape '\\%c'", r[1]);
                        else
                                pb_json_fail(p, (const char *)r,
                                             "invalid escape");
                        return -1;
                }
                r += 2;
        }
        *o = 0;
        *out = d;
        *outlen = (size_t)(o - d);
        /* give back the unused tail (d is the newest allocation) */
        if (p)
                p->pos = o + 1;
        return 0;
}

/* Checks the string whose opening quote is at open: returns its closing
 * quote, or reports (p may be NULL: the one-pass readers) and returns NULL.
 * *has_esc is set when the body holds an escape.
 *
 * The scan alternates between two fast loops: plain ASCII 8 bytes at a
 * time up to the first byte that needs a look ('"', '\\', control or
 * >= 0x80), and a non-ASCII run (pb_utf8_run). Escapes are only stepped
 * over here and decoded, with their checks, after the closing quote
 * (pb_json_unescape). Inlined into the parser's two call sites (values and
 * keys): the call overhead was a fifth of the cost of a short string. */
static inline __attribute__((always_inline)) const unsigned char *
pb_json_string_scan(pb_json_parser_t *p, const char *open, const char *e,
                    int *has_esc) {
        const unsigned char *q = (const unsigned char *)open + 1;
        const unsigned char *ue = (const unsigned char *)e;

        for (;;) {
                unsigned char c;
                q = pb_skip_plain(q, ue);
                if (q >= ue) {
                        pb_json_fail(p, open, "unterminated string");
                        return NULL;
                }
                c = *q;
                if (c == '"')
                        return q;
                if (c >= 0x80) {
                        if (pb_utf8_run(&q, ue)) {
                                pb_json_fail(p, (const char *)q,
                                             "invalid UTF-8 in string");
                                return NULL;
                        }
                } else if (c == '\\') {
                        *has_esc = 1;
                        q += 2; /* the escape is checked when decoding */
                        if (q > ue)
                                q = ue;
                } else if (c < 0x20) {
                        pb_json_fail(p, (const char *)q,
                                     "control character U+%04X in string "
                                     "must be escaped",
                                     c);
                        return NULL;
                } else {
                        q++; /* < 8 bytes left, or big-endian */
                }
        }
}

/* Parses the string whose opening quote is at *sp (pb_json_string_scan).
 * On success stores the NUL-terminated unescaped copy in the arena,
 * advances *sp past the closing quote and returns 0; on failure reports
 * and returns -1. */
static inline __attribute__((always_inline)) int
pb_json_string(pb_json_parser_t *p, const char **sp, const char *e,
               const char **out, size_t *outlen) {
        const unsigned char *start = (const unsigned char *)*sp + 1;
        int has_esc = 0;
        size_t n;
        char *d;
        const unsigned char *q = pb_json_string_scan(p, *sp, e, &has_esc);

        if (!q)
                return -1;
        /* q at the closing quote */
        n = (size_t)(q - start);
        d = pb_arena_bytes(p, n + 1);
        if (!d) {
                pb_json_fail(p, *sp, "out of memory");
                return -1;
        }
        if (has_esc) {
                if (pb_json_unescape(p, start, q, d, out, outlen))
                        return -1;
        } else {
                memcpy(d, start, n);
                d[n] = 0;
                *out = d;
                *outlen = n;
        }
        *sp = (const char *)q + 1;
        return 0;
}

/* --- numbers --- */

static inline int pb_isdigit(unsigned char c) {
        return c >= '0' && c <= '9';
}

/* One or more digits at q: the end of them, or NULL after failing with
 * "expected a digit WHERE". */
static inline const unsigned char *pb_json_digits(pb_json_parser_t *p,
                                                  const unsigned char *q,
                                                  const unsigned char *ue,
                                                  const char *where) {
        if (q >= ue || !pb_isdigit(*q)) {
                pb_json_fail(p, (const char *)q, "expected a digit %s", where);
                return NULL;
        }
        while (q < ue && pb_isdigit(*q))
                q++;
        return q;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; s at the first char
 * ('-' or a digit). Returns the end of the literal, or reports (p may be
 * NULL) and returns NULL. */
static const unsigned char *pb_json_number_scan(pb_json_parser_t *p,
                                                const char *sp, const char *e) {
        const unsigned char *ue = (const unsigned char *)e;
        const unsigned char *q = (const unsigned char *)sp;

        if (*q == '-') {
                q++;
                if (q >= ue || !pb_isdigit(*q)) {
                        pb_json_fail(p, (const char *)q,
                                     "expected a digit after '-'");
                        return NULL;
                }
        }
        if (*q == '0') {
                q++;
                if (q < ue && pb_isdigit(*q)) {
                        pb_json_fail(p, (const char *)q - 1,
                                     "leading zeros are not allowed");
                        return NULL;
                }
        } else {
                while (q < ue && pb_isdigit(*q))
                        q++;
        }
        if (q < ue && *q == '.' &&
            !(q = pb_json_digits(p, q + 1, ue, "after '.'")))
                return NULL;
        if (q < ue && (*q == 'e' || *q == 'E')) {
                q++;
                if (q < ue && (*q == '+' || *q == '-'))
                        q++;
                if (!(q = pb_json_digits(p, q, ue, "in the exponent")))
                        return NULL;
        }
        return q;
}

static int pb_json_number(pb_json_parser_t *p, const char **sp, const char *e,
                          const char **out, size_t *outlen) {
        const unsigned char *s = (const unsigned char *)*sp;
        const unsigned char *q = pb_json_number_scan(p, *sp, e);
        size_t n;
        char *d;

        if (!q)
                return -1;
        n = (size_t)(q - s);
        d = pb_arena_bytes(p, n + 1);
        if (!d) {
                pb_json_fail(p, *sp, "out of memory");
                return -1;
        }
        memcpy(d, s, n);
        d[n] = 0;
        *out = d;
        *outlen = n;
        *sp = (const char *)q;
        return 0;
}

/* --- duplicate keys --- */

static inline uint32_t pb_keyhash(const pb_json_t *obj, const char *k,
                                  size_t n) {
        uint64_t h =
            pb_fnv1a_more(PB_FNV1A64_INIT ^ (uint64_t)(uintptr_t)obj, k, n);
        return (uint32_t)(h ^ (h >> 32));
}

/* Inserts (obj, key); returns 1 if already present, 0 if inserted, -1 on
 * out of memory. */
static int pb_dup_insert(pb_json_parser_t *p, const pb_json_t *obj,
                         const char *k, size_t n) {
        uint32_t h = pb_keyhash(obj, k, n);
        size_t i, mask;

        if ((p->dup_used + 1) * 2 > p->dup_cap) {
                size_t ncap = p->dup_cap ? p->dup_cap * 2 : 256;
                pb_dupent_t *nt = calloc(ncap, sizeof(*nt));
                if (!nt)
                        return -1;
                for (i = 0; i < p->dup_cap; i++) {
                        pb_dupent_t *o = &p->dup[i];
                        size_t j;
                        if (!o->obj)
                                continue;
                        for (j = o->hash & (ncap - 1); nt[j].obj;
                             j = (j + 1) & (ncap - 1))
                                ;
                        nt[j] = *o;
                }
                free(p->dup);
                p->dup = nt;
                p->dup_cap = ncap;
        }
        mask = p->dup_cap - 1;
        for (i = h & mask; p->dup[i].obj; i = (i + 1) & mask) {
                pb_dupent_t *d = &p->dup[i];
                if (d->hash == h && d->obj == obj && d->keylen == n &&
                    memcmp(d->key, k, n) == 0)
                        return 1;
        }
        p->dup[i].obj = obj;
        p->dup[i].key = k;
        p->dup[i].keylen = n;
        p->dup[i].hash = h;
        p->dup_used++;
        return 0;
}

/* Checks key k (not yet attached) against the members of obj. Returns 1 if
 * duplicate, 0 if new, -1 on out of memory. */
static int pb_dup_check(pb_json_parser_t *p, pb_frame_t *f, const char *k,
                        size_t n) {
        const pb_json_t *obj = f->node, *c;
        uint64_t bit;
        int r;

        if (obj->count < PB_JSON_DUP_LINEAR) {
                /* filter on length and first/last byte: most new keys
                 * cannot be duplicates and skip the scan */
                bit = (uint64_t)1 << ((n * 7 + (n ? (unsigned char)k[0] * 3u +
                                                        (unsigned char)k[n - 1]
                                                  : 0)) &
                                      63);
                if (!(f->keybits & bit)) {
                        f->keybits |= bit;
                        return 0;
                }
                for (c = obj->child; c; c = c->next)
                        if (c->keylen == n && memcmp(c->key, k, n) == 0)
                                return 1;
                return 0;
        }
        if (obj->count == PB_JSON_DUP_LINEAR) {
                /* switch this object to the hash set */
                for (c = obj->child; c; c = c->next)
                        if ((r = pb_dup_insert(p, obj, c->key, c->keylen)))
                                return r < 0 ? -1 : 1;
        }
        return pb_dup_insert(p, obj, k, n);
}

/* --- the parser --- */

static inline const char *pb_skip_ws(const char *s, const char *e) {
        if (s < e && (unsigned char)*s > ' ')
                return s; /* compact JSON: usually no whitespace at all */
        while (s < e && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
                s++;
        return s;
}

static void pb_json_unexpected(pb_json_parser_t *p, const char *s,
                               const char *e, const char *what) {
        unsigned char c;
        if (s >= e) {
                pb_json_fail(p, s, "unexpected end of input, expected %s",
                             what);
                return;
        }
        c = (unsigned char)*s;
        if (c == '+')
                pb_json_fail(p, s, "a leading '+' is not allowed");
        else if (c == 'N' || c == 'I')
                pb_json_fail(p, s, "NaN and Infinity are not JSON");
        else if (c == '\'')
                pb_json_fail(p, s, "strings must use double quotes");
        else if (c == '.')
                pb_json_fail(p, s, "a number must start with a digit");
        else if (c >= 0x21 && c < 0x7F)
                pb_json_fail(p, s, "unexpected '%c', expected %s", c, what);
        else
                pb_json_fail(p, s, "unexpected byte 0x%02X, expected %s", c,
                             what);
}

const pb_json_t *pb_json_parse(pb_json_parser_t *p, const char *text,
                               size_t len, char *errstr, size_t errstr_size) {
        const char *s = text, *e = text + len;
        pb_json_t *root = NULL, *v;
        const char *key = NULL;
        size_t keylen = 0;
        int depth = 0;
        pb_frame_t *top;

        if (errstr && errstr_size)
                errstr[0] = 0;
        if (!p || (!text && len)) {
                if (errstr && errstr_size)
                        snprintf(errstr, errstr_size,
                                 "line 1 col 1: invalid argument");
                return NULL;
        }
        pthread_once(&pb_tables_once, pb_tables_init);
        p->text = text;
        p->len = len;
        p->nodes = 0;
        p->errstr = errstr;
        p->errsize = errstr_size;
        pb_arena_reset(p);
        if (p->dup_used) {
                /* a hostile document may have grown the set: drop it */
                if (p->dup_cap > PB_JSON_DUP_KEEP) {
                        free(p->dup);
                        p->dup = NULL;
                        p->dup_cap = 0;
                } else {
                        memset(p->dup, 0, p->dup_cap * sizeof(*p->dup));
                }
                p->dup_used = 0;
        }

value:
        s = pb_skip_ws(s, e);
        if (s >= e) {
                pb_json_unexpected(p, s, e, "a value");
                return NULL;
        }
        if (++p->nodes > p->lim.max_nodes) {
                pb_json_fail(p, s, "more than %zu values", p->lim.max_nodes);
                return NULL;
        }
        v = pb_arena_node(p);
        if (!v) {
                pb_json_fail(p, s, "out of memory");
                return NULL;
        }
        v->str = NULL;
        v->len = 0;
        v->key = key;
        v->keylen = keylen;
        v->child = NULL;
        v->next = NULL;
        v->count = 0;
        /* attach to the parent */
        if (depth == 0) {
                root = v;
        } else {
                top = &p->stack[depth - 1];
                if (top->last)
                        top->last->next = v;
                else
                        top->node->child = v;
                top->last = v;
                top->node->count++;
        }
        switch (*s) {
        case '{':
        case '[':
                v->type = *s == '{' ? PB_JSON_OBJECT : PB_JSON_ARRAY;
                if (depth >= p->lim.max_depth) {
                        pb_json_fail(p, s, "nesting deeper than %d levels",
                                     p->lim.max_depth);
                        return NULL;
                }
                p->stack[depth].node = v;
                p->stack[depth].last = NULL;
                p->stack[depth].keybits = 0;
                depth++;
                s = pb_skip_ws(s + 1, e);
                if (v->type == PB_JSON_ARRAY) {
                        if (s < e && *s == ']') {
                                s++;
                                depth--;
                                goto after;
                        }
                        key = NULL;
                        keylen = 0;
                        goto value;
                }
                if (s < e && *s == '}') {
                        s++;
                        depth--;
                        goto after;
                }
                goto member;
        case '"':
                v->type = PB_JSON_STRING;
                if (pb_json_string(p, &s, e, &v->str, &v->len))
                        return NULL;
                break;
        case 't':
        case 'f':
        case 'n':
                if (!pb_json_literal(&s, e, &v->type))
                        goto bad_literal;
                break;
        case '-':
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
                v->type = PB_JSON_NUMBER;
                if (pb_json_number(p, &s, e, &v->str, &v->len))
                        return NULL;
                break;
        default:
                pb_json_unexpected(p, s, e, "a value");
                return NULL;
        }

after:
        if (depth == 0) {
                s = pb_skip_ws(s, e);
                if (s < e) {
                        pb_json_fail(p, s,
                                     "unexpected content after the "
                                     "JSON value");
                        return NULL;
                }
                return root;
        }
        s = pb_skip_ws(s, e);
        top = &p->stack[depth - 1];
        if (s < e && *s == ',') {
                s = pb_skip_ws(s + 1, e);
                if (top->node->type == PB_JSON_ARRAY) {
                        if (s < e && *s == ']') {
                                pb_json_fail(p, s,
                                             "trailing comma before "
                                             "']'");
                                return NULL;
                        }
                        key = NULL;
                        keylen = 0;
                        goto value;
                }
                if (s < e && *s == '}') {
                        pb_json_fail(p, s, "trailing comma before '}'");
                        return NULL;
                }
                goto member;
        }
        {
                int arr = top->node->type == PB_JSON_ARRAY;
                if (s < e && *s == (arr ? ']' : '}')) {
                        s++;
                        depth--;
                        goto after;
                }
                pb_json_unexpected(p, s, e, arr ? "',' or ']'" : "',' or '}'");
                return NULL;
        }

member:
        /* s at the key, whitespace skipped */
        if (s >= e || *s != '"') {
                pb_json_unexpected(p, s, e, "a string key");
                return NULL;
        }
        {
                const char *kat = s;
                int r;
                if (pb_json_string(p, &s, e, &key, &keylen))
                        return NULL;
                r = pb_dup_check(p, &p->stack[depth - 1], key, keylen);
                if (r) {
                        /* the key shown is cut at 64 bytes, never inside
                         * a UTF-8 sequence (the message must stay UTF-8) */
                        size_t shown = keylen > 64 ? 64 : keylen;
                        while (shown < keylen && shown > 0 &&
                               ((unsigned char)key[shown] & 0xC0) == 0x80)
                                shown--;
                        if (r < 0)
                                pb_json_fail(p, kat, "out of memory");
                        else
                                pb_json_fail(p, kat, "duplicate key \"%.*s\"",
                                             (int)shown, key);
                        return NULL;
                }
        }
        s = pb_skip_ws(s, e);
        if (s >= e || *s != ':') {
                pb_json_unexpected(p, s, e, "':'");
                return NULL;
        }
        s++;
        goto value;

bad_literal:
        pb_json_fail(p, s, "invalid literal (expected true, false or null)");
        return NULL;
}

/* --- access and output --- */

const pb_json_t *pb_json_get(const pb_json_t *o, const char *name) {
        const pb_json_t *c;
        size_t n;

        if (!o || o->type != PB_JSON_OBJECT || !name)
                return NULL;
        n = strlen(name);
        for (c = o->child; c; c = c->next)
                if (c->keylen == n && memcmp(c->key, name, n) == 0)
                        return c;
        return NULL;
}

const char *pb_json_type_name(pb_json_type_t t) {
        switch (t) {
        case PB_JSON_NULL:
                return "null";
        case PB_JSON_FALSE:
        case PB_JSON_TRUE:
                return "boolean";
        case PB_JSON_NUMBER:
                return "number";
        case PB_JSON_STRING:
                return "string";
        case PB_JSON_ARRAY:
                return "array";
        case PB_JSON_OBJECT:
                return "object";
        }
        return "unknown";
}

static pb_resp_t pb_json_write_rec(const pb_json_t *v, pb_buf_t *out,
                                   int depth) {
        const pb_json_t *c;
        pb_resp_t r;

        if (depth > PB_JSON_HARD_DEPTH)
                return PB_ERR_LIMIT;
        switch (v->type) {
        case PB_JSON_NULL:
                return pb_buf_append(out, "null", 4);
        case PB_JSON_FALSE:
                return pb_buf_append(out, "false", 5);
        case PB_JSON_TRUE:
                return pb_buf_append(out, "true", 4);
        case PB_JSON_NUMBER:
                return pb_buf_append(out, v->str, v->len);
        case PB_JSON_STRING:
                return pb_buf_json_str(out, v->str, v->len);
        case PB_JSON_ARRAY:
        case PB_JSON_OBJECT:
                if ((r = pb_buf_putc(out,
                                     v->type == PB_JSON_ARRAY ? '[' : '{')))
                        return r;
                for (c = v->child; c; c = c->next) {
                        if (c != v->child && (r = pb_buf_putc(out, ',')))
                                return r;
                        if (v->type == PB_JSON_OBJECT) {
                                if ((r = pb_buf_json_str(out, c->key,
                                                         c->keylen)) ||
                                    (r = pb_buf_putc(out, ':')))
                                        return r;
                        }
                        if ((r = pb_json_write_rec(c, out, depth + 1)))
                                return r;
                }
                return pb_buf_putc(out, v->type == PB_JSON_ARRAY ? ']' : '}');
        }
        return PB_ERR_ARG;
}

pb_resp_t pb_json_write(const pb_json_t *v, pb_buf_t *out) {
        size_t start = out->len;
        pb_resp_t r;

        if (!v)
                return PB_ERR_ARG;
        r = pb_json_write_rec(v, out, 0);
        if (r != PB_OK) {
                out->len = start;
                if (out->data)
                        out->data[start] = 0;
        }
        return r;
}

/* --- JSON Pointer --- */

size_t pb_pointer_push(char *ptr, size_t size, const char *tok, size_t toklen) {
        size_t prev, o, i;

        if (!size)
                return 0;
        prev = strnlen(ptr, size - 1);
        ptr[prev] = 0;
        o = prev;
        if (o + 1 >= size)
                return prev;
        ptr[o++] = '/';
        for (i = 0; i < toklen && tok[i]; i++) {
                unsigned char c = (unsigned char)tok[i];
                size_t need = 1;
                if (c == '~' || c == '/')
                        need = 2;
                else if (c >= 0xC0) /* whole UTF-8 sequence or nothing */
                        need = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : 2;
                if (o + need >= size)
                        break;
                if (c == '~') {
                        ptr[o++] = '~';
                        ptr[o++] = '0';
                } else if (c == '/') {
                        ptr[o++] = '~';
                        ptr[o++] = '1';
                } else if (need > 1) {
                        size_t k;
                        if (i + need > toklen)
                                break;
                        for (k = 0; k < need; k++)
                                ptr[o++] = tok[i + k];
                        i += need - 1;
                } else {
                        ptr[o++] = (char)c;
                }
        }
        ptr[o] = 0;
        return prev;
}

size_t pb_pointer_push_index(char *ptr, size_t size, size_t index) {
        char tmp[24];
        int n = snprintf(tmp, sizeof(tmp), "%zu", index);
        return pb_pointer_push(ptr, size, tmp, (size_t)n);
}

/* --- one-pass readers --- */

const char *pb_json_string_close(const char *s, const char *e, int *has_esc) {
        *has_esc = 0;
        if (!s || s >= e || *s != '"')
                return NULL;
        return (const char *)pb_json_string_scan(NULL, s, e, has_esc);
}

int pb_json_unescape_to(const char *s, size_t n, char *d, size_t *dlen) {
        const char *out;
        pthread_once(&pb_tables_once, pb_tables_init);
        return pb_json_unescape(NULL, (const unsigned char *)s,
                                (const unsigned char *)s + n, d, &out, dlen);
}

const char *pb_json_string_resume(const char *at, const char *e, int *has_esc) {
        *has_esc = 0;
        if (!at || at > e)
                return NULL;
        return (const char *)pb_json_string_scan(NULL, at - 1, e, has_esc);
}

const char *pb_json_number_close(const char *s, const char *e) {
        if (!s || s >= e || (*s != '-' && !pb_isdigit((unsigned char)*s)))
                return NULL;
        return (const char *)pb_json_number_scan(NULL, s, e);
}

void pb_json_parser_limits(const pb_json_parser_t *p, pb_json_limits_t *lim) {
        *lim = p->lim;
}
