/* Library: partnerbus_base (lib/base). */
/* partnerbus - a strict, bounded JSON parser into an arena-allocated tree.
 *
 * Why not cJSON for untrusted input: cJSON accepts invalid UTF-8 and
 * duplicate keys and mallocs per node. This parser
 *  - validates UTF-8 (rejects overlong forms, surrogates, > U+10FFFF),
 *    including the result of \u escapes (unpaired surrogates are errors);
 *  - rejects duplicate object keys, trailing garbage, leading zeros, NaN;
 *  - bounds nesting depth and total nodes/bytes (pb_json_limits_t);
 *  - allocates from one arena that is reset between documents, so parsing
 *    many events costs no malloc in the steady state.
 * cJSON is still fine for trusted config files. */
#ifndef PB_JSON_H
#define PB_JSON_H

#include <stdint.h>
#include <string.h>

#include "pb_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pb_json_type {
        PB_JSON_NULL,
        PB_JSON_FALSE,
        PB_JSON_TRUE,
        PB_JSON_NUMBER, /* str/len hold the literal text, e.g. "-12.50e3" */
        PB_JSON_STRING, /* str/len hold the unescaped UTF-8 (NUL-terminated,
                           may contain embedded NUL from \u0000) */
        PB_JSON_ARRAY,
        PB_JSON_OBJECT,
} pb_json_type_t;

typedef struct pb_json pb_json_t;
struct pb_json {
        pb_json_type_t type;
        const char *str; /* NUMBER and STRING */
        size_t len;
        const char *key; /* member name when the parent is an OBJECT */
        size_t keylen;
        pb_json_t *child; /* first element / member (ARRAY, OBJECT) */
        pb_json_t *next;  /* next sibling */
        size_t count;     /* number of children (ARRAY, OBJECT) */
};

typedef struct pb_json_limits {
        int max_depth;    /* default 64 */
        size_t max_nodes; /* default 1,000,000 */
} pb_json_limits_t;

typedef struct pb_json_parser pb_json_parser_t;

/* limits NULL = defaults. */
pb_json_parser_t *pb_json_parser_new(const pb_json_limits_t *limits);
void pb_json_parser_destroy(pb_json_parser_t *p);

/* Drops the last tree and frees the arena's chunks beyond keep bytes (0:
 * all of them), so memory taken by one large document goes back to the
 * allocator now rather than at the next parse. */
void pb_json_parser_trim(pb_json_parser_t *p, size_t keep);

/* Parses text[0..len) as exactly one JSON value (surrounding whitespace
 * allowed). The returned tree lives until the next parse or destroy.
 * On error returns NULL and writes "line L col C: reason" into errstr. */
const pb_json_t *pb_json_parse(pb_json_parser_t *p, const char *text,
                               size_t len, char *errstr, size_t errstr_size);

/* The limits p parses with (the defaults filled in). */
void pb_json_parser_limits(const pb_json_parser_t *p, pb_json_limits_t *lim);

/* For readers that walk JSON text in one pass without a tree (the codec's
 * one-pass encoder), with exactly pb_json_parse()'s checks:
 * pb_json_string_close: s at a string's opening quote (s < e); returns its
 * closing quote, or NULL when pb_json_parse() would refuse the string
 * (unterminated, invalid UTF-8, a raw control character); *has_esc says
 * whether the body holds escapes, which pb_json_unescape_to decodes from
 * the body s[0..n) into d (room for n + 1 bytes, NUL-terminated, *dlen
 * bytes): 0, or -1 for an escape pb_json_parse() would refuse.
 * pb_json_number_close: the end of the number literal at s, or NULL when
 * it is not one (what follows it is the caller's to check). */
const char *pb_json_string_close(const char *s, const char *e, int *has_esc);
/* The same from at, inside a string's body after printable ASCII only
 * (no backslash, quote or control character between the opening quote
 * and at): the rest is checked without scanning the start again. */
const char *pb_json_string_resume(const char *at, const char *e, int *has_esc);
int pb_json_unescape_to(const char *s, size_t n, char *d, size_t *dlen);
const char *pb_json_number_close(const char *s, const char *e);
/* The bytes of w (8 bytes loaded from memory) that JSON must escape:
 * < 0x20, '"', '\\', each flagged in its high bit. The subtractions can
 * flag a byte falsely only above (more significant than) a true match, so
 * on little-endian the lowest flagged byte is real. pb_buf_json_str's
 * scan (UTF-8 goes out as it is there). */
static inline uint64_t pb_json_escape8(uint64_t w) {
        const uint64_t ones = 0x0101010101010101ULL;
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
                ((b - ones) & ~b)) &
               0x8080808080808080ULL;
}

/* pb_json_escape8 and the bytes >= 0x80 (UTF-8 to check): what a JSON
 * string cannot hold as it is without a look. Shared by the parser's
 * string scan and the codec's string output. */
static inline uint64_t pb_json_special8(uint64_t w) {
        return pb_json_escape8(w) | (w & 0x8080808080808080ULL);
}

/* Bytes before the first flagged one of a pb_json_special8 or
 * pb_json_escape8 mask m != 0 (big-endian: 0, the caller's byte loop
 * finds it). */
static inline size_t pb_json_first8(uint64_t m) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return (size_t)__builtin_ctzll(m) >> 3;
#else
        (void)m;
        return 0;
#endif
}

/* true, false or null at *sp (which holds 't', 'f' or 'n'): its type into
 * *t and *sp past it; 0 if the word is not there. */
static inline int pb_json_literal(const char **sp, const char *e,
                                  pb_json_type_t *t) {
        static const struct {
                const char *word;
                size_t n;
                pb_json_type_t type;
        } lits[] = {{"true", 4, PB_JSON_TRUE},
                    {"false", 5, PB_JSON_FALSE},
                    {"null", 4, PB_JSON_NULL}};
        size_t i = **sp == 't' ? 0 : **sp == 'f' ? 1 : 2;
        if ((size_t)(e - *sp) < lits[i].n ||
            memcmp(*sp, lits[i].word, lits[i].n))
                return 0;
        *t = lits[i].type;
        *sp += lits[i].n;
        return 1;
}

/* Object member by name, NULL if absent (or o is not an object). */
const pb_json_t *pb_json_get(const pb_json_t *o, const char *name);

/* Appends the value re-serialized compactly (for error messages, passing
 * through). */
pb_resp_t pb_json_write(const pb_json_t *v, pb_buf_t *out);

/* Name of a type for messages: "null", "boolean", "number", ... */
const char *pb_json_type_name(pb_json_type_t t);

/* Appends one JSON Pointer reference token to ptr (escaping ~ and /),
 * truncating safely. Returns the previous length so the caller can restore
 * with ptr[prev] = 0. */
size_t pb_pointer_push(char *ptr, size_t size, const char *tok, size_t toklen);
size_t pb_pointer_push_index(char *ptr, size_t size, size_t index);

/* Non-zero if the 8 bytes in w (loaded from memory, little-endian) are
 * four complete 2-byte UTF-8 sequences: leads C2..DF at even offsets,
 * continuation bytes 80..BF at odd ones. That is how Cyrillic, Greek and
 * most Latin-extended text looks, and such bytes are never '"', '\\' or a
 * control character, so a string scan may step over all 8 at once. Per
 * 16-bit lane: (w & 0xC0E0) == 0x80C0 checks the bit patterns 110xxxxx /
 * 10xxxxxx; lead & 0x1E != 0 excludes the overlong leads C0 and C1 (the
 * addition sets bit 15 of a lane iff its low bits are non-zero and cannot
 * carry into the next lane). Big-endian: always 0, the slow path runs. */
static inline int pb_utf8_2x4(uint64_t w) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        const uint64_t lane_hi = 0x8000800080008000ULL;
        uint64_t lead = w & 0x001E001E001E001EULL;
        return (w & 0xC0E0C0E0C0E0C0E0ULL) == 0x80C080C080C080C0ULL &&
               ((lead + 0x7FFF7FFF7FFF7FFFULL) & lane_hi) == lane_hi;
#else
        (void)w;
        return 0;
#endif
}

/* UTF-8 validation (RFC 3629), shared by the codec's binary decoder. */
int pb_utf8_valid(const char *s, size_t len);
/* The run of non-ASCII UTF-8 at s (s[0] >= 0x80, len >= 1) up to the next
 * ASCII byte or s + len: its length in bytes when every sequence in it is
 * valid, else 0. pb_utf8_valid(s, len) is the same as spanning every run
 * between the ASCII bytes of s. */
size_t pb_utf8_span(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
