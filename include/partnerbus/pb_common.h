/* Library: partnerbus_base (lib/base). */
/* partnerbus - common result codes, byte buffers and error lists.
 *
 * Conventions:
 *  - every fallible core call returns pb_resp_t; constructors take an
 *    errstr buffer and return NULL on failure;
 *  - one _new/_destroy pair per object, _destroy accepts NULL;
 *  - nothing in the core exits or prints; callers decide. */
#ifndef PB_COMMON_H
#define PB_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pb_resp {
        PB_OK = 0,
        PB_ERR_INVALID,        /* input does not conform to the schema */
        PB_ERR_PARSE,          /* malformed JSON / syntax error */
        PB_ERR_TRUNCATED,      /* binary input ends early (never end of
                                  stream: that is PB_END) */
        PB_ERR_LIMIT,          /* a configured bound was exceeded (never a
                                  timeout or a full queue) */
        PB_ERR_UNKNOWN_SCHEMA, /* type / fingerprint / id not known */
        PB_ERR_NOMEM,          /* allocation failed */
        PB_ERR_IO,             /* file or socket error */
        PB_ERR_KAFKA,          /* Kafka client error */
        PB_ERR_HTTP,           /* HTTP peer error (registry, webhook) */
        PB_ERR_INCOMPATIBLE,   /* schemas cannot be resolved */
        PB_ERR_ARG,            /* bad argument from the caller */
        PB_ERR_UNCERTAIN,      /* a Kafka write failed after it may have been
                                  stored (timed out in flight): the outcome
                                  is unknown */
        PB_END,                /* not an error: the stream, file or queue has
                                  no more items (end of input) */
        PB_ERR_TIMEOUT,        /* nothing arrived before the deadline / idle */
        PB_ERR_QUEUE_FULL,     /* a bounded queue has no room; retry later */
} pb_resp_t;

const char *pb_err2str(pb_resp_t r);

/* Clocks, in milliseconds. pb_now_ms is the wall clock (since the Unix
 * epoch: timestamps, event times, log lines); pb_mono_ms is monotonic (an
 * arbitrary origin: durations, deadlines, timeouts, rate limits). Never
 * compare one with the other. */
int64_t pb_now_ms(void);
int64_t pb_mono_ms(void);
/* Formats ms since the epoch (negative: before 1970) as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC); returns the length, 0 when buf (>= 32)
 * is too small. */
size_t pb_rfc3339_format(int64_t ms, char *buf, size_t size);

/* Gives the C library's free heap pages back to the system
 * (malloc_trim(0)). A no-op under AddressSanitizer: its allocator replaces
 * the C library's, and glibc's malloc_trim, then called before glibc's heap
 * was ever set up, initialises it without a lock — two threads trimming at
 * once crashed there. */
void pb_heap_trim(void);

/* Value of the hex digit c (either case), -1 when c is not one. */
int pb_hex_value(int c);

/* UUID text: the canonical form 8-4-4-4-12 hex digits, either case.
 * pb_uuid_valid: 1 when s is one; pb_uuid_parse: its 16 bytes into out,
 * 0, or -1 when s is not one. */
int pb_uuid_valid(const char *s, size_t len);
int pb_uuid_parse(const char *s, size_t len, uint8_t out[16]);

/* Growable byte buffer. `max` (0 = unlimited) bounds growth: an append that
 * would exceed it fails with PB_ERR_LIMIT and leaves the buffer unchanged.
 * The buffer is always NUL-terminated after data[len] when data != NULL. */
typedef struct pb_buf {
        uint8_t *data;
        size_t len;
        size_t cap;
        size_t max;
} pb_buf_t;

void pb_buf_init(pb_buf_t *b, size_t max);
void pb_buf_free(pb_buf_t *b);
static inline void pb_buf_reset(pb_buf_t *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = 0;
}
pb_resp_t pb_buf_reserve(pb_buf_t *b, size_t extra);

/* Growable arrays: makes room for n more elements of elem bytes after the
 * used ones in the array whose pointer is at parr (a T ** passed as void
 * *) with *cap allocated; the capacity doubles, starting at first. 0, or
 * -1 when out of memory or too large (the array is then unchanged).
 * PB_ARRAY_RESERVE(ptr, cap, used, n, first) names the pointer and the
 * capacity themselves (and checks for room inline; its arguments are
 * evaluated more than once). */
int pb_array_reserve(void *parr, size_t *cap, size_t used, size_t n,
                     size_t elem, size_t first);
#define PB_ARRAY_RESERVE(ptr, cap, used, n, first)                             \
        ((cap) - (used) >= (n) ? 0                                             \
                               : pb_array_reserve(&(ptr), &(cap), (used), (n), \
                                                  sizeof(*(ptr)), (first)))
pb_resp_t pb_buf_append(pb_buf_t *b, const void *p, size_t n);
pb_resp_t pb_buf_putc(pb_buf_t *b, uint8_t c);
pb_resp_t pb_buf_puts(pb_buf_t *b, const char *s);
pb_resp_t pb_buf_printf(pb_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (with quotes), escaping as RFC 8259. */
pb_resp_t pb_buf_json_str(pb_buf_t *b, const char *s, size_t n);
/* Appends s (NULL: nothing) as XML or HTML text: &, <, > and " as entities,
 * the control characters XML 1.0 forbids (all but tab, LF, CR) left out. */
pb_resp_t pb_buf_xml_text(pb_buf_t *b, const char *s);

/* Validation errors: each names the JSON Pointer (RFC 6901) of the offending
 * value and what was expected. At most PB_ERRORS_MAX are kept; `dropped`
 * counts the rest so a hostile document cannot make the list grow. */
#define PB_ERRORS_MAX    64
#define PB_POINTER_MAX   256
#define PB_ERRMSG_MAX    256
#define PB_ERRPARAMS_MAX 256

/* `code` is a stable machine-readable name of the kind of error (see
 * docs/gateway.md, "Error codes"), a static string or NULL; `params` the
 * values a translation of it needs as a JSON object text, or "" for none.
 * The English `message` stays the text for people and logs. */
typedef struct pb_error {
        char pointer[PB_POINTER_MAX];
        char message[PB_ERRMSG_MAX];
        const char *code;
        char params[PB_ERRPARAMS_MAX];
        long line; /* 1-based line in a batch / input file, 0 when n/a */
} pb_error_t;

typedef struct pb_errors {
        pb_error_t items[PB_ERRORS_MAX];
        size_t count;
        size_t dropped;
} pb_errors_t;

void pb_errors_init(pb_errors_t *e);
void pb_errors_add(pb_errors_t *e, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As pb_errors_add, with a code (static string) and params: a complete JSON
 * object text or NULL. Params longer than PB_ERRPARAMS_MAX - 1 are left out
 * (never cut), so the item's JSON stays valid. */
void pb_errors_add_code(pb_errors_t *e, const char *pointer, const char *code,
                        const char *params, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* "pointer: message; pointer: message" into buf (truncated to size). */
void pb_errors_format(const pb_errors_t *e, char *buf, size_t size);
/* Appends the errors as a JSON array of
 * {"pointer","message"[,"code"[,"params"]][,"line"]}. */
pb_resp_t pb_errors_to_json(const pb_errors_t *e, pb_buf_t *out);

#ifdef __cplusplus
}
#endif
#endif
