/* Library: partnerbus_base (lib/base). */
/* partnerbus - small conversions shared by the libraries and services:
 * instants, dates, decimals, base64, UUIDs, hashes. All functions are
 * bounded: they never read past the given length nor write past size. */
#ifndef PB_UTIL_H
#define PB_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_common.h"

/* --- instants and dates --- */
/* RFC 3339 date-time ("2023-02-28T10:00:00Z", "...T10:00:00.123+02:00",
 * fraction up to 9 digits, truncated to ms; a lowercase t/z is accepted) to
 * ms since the epoch. Returns 0 on success, -1 if not valid (including
 * impossible dates like 2023-02-30 and a missing offset). */
int pb_rfc3339_parse(const char *s, size_t len, int64_t *ms);
/* pb_rfc3339_format (the reverse) is public: see pb_common.h. */
/* "YYYY-MM-DD" to days since 1970-01-01 (may be negative); 0 / -1. */
int pb_date_parse(const char *s, size_t len, int32_t *days);
size_t pb_date_format(int32_t days, char *buf, size_t size); /* buf >= 16 */
/* pb_now_ms (wall clock) and pb_mono_ms (monotonic): see pb_common.h. */
/* With lock held: waits on cond for at most ms milliseconds (a signal,
 * the time, or a spurious wake-up; the caller checks its condition). */
void pb_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, long ms);

/* Decimal text of v without printf, written so that it ends just before
 * `end` (at most PB_I64_TEXT_MAX bytes before it); returns its start. */
#define PB_I64_TEXT_MAX 20
static inline char *pb_i64_text(char *end, int64_t v) {
        uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        do {
                *--end = (char)('0' + m % 10);
                m /= 10;
        } while (m);
        if (v < 0)
                *--end = '-';
        return end;
}

/* --- Avro longs (zigzag varints): the one encoder and decoder --- */
/* Writes v into p (room for 10 bytes); returns the byte count. */
static inline size_t pb_zz_encode(uint8_t *p, int64_t v) {
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 0;
        while (z > 0x7f) {
                p[n++] = (uint8_t)(z | 0x80);
                z >>= 7;
        }
        p[n++] = (uint8_t)z;
        return n;
}
/* Reads one from [p, end) into *v and its length into *used: PB_OK,
 * PB_ERR_TRUNCATED when the input ends inside it, PB_ERR_INVALID when it
 * is longer than 64 bits. */
static inline pb_resp_t pb_zz_decode(const uint8_t *p, const uint8_t *end,
                                     int64_t *v, size_t *used) {
        uint64_t z = 0;
        if (p < end && *p < 0x80) {
                z = *p;
                *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
                *used = 1;
                return PB_OK;
        }
        for (size_t i = 0; i < 10; i++) {
                uint8_t b;
                if (p + i >= end)
                        return PB_ERR_TRUNCATED;
                b = p[i];
                if (i == 9 && b > 1)
                        return PB_ERR_INVALID;
                z |= (uint64_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80)) {
                        *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
                        *used = i + 1;
                        return PB_OK;
                }
        }
        return PB_ERR_INVALID;
}

/* --- decimals (Avro decimal: two's-complement big-endian unscaled int) --- */
/* Parses a decimal string ("-143000.5", "143000.00", no exponent, no
 * leading '+', at most `scale` fraction digits, at most precision-scale
 * integer digits) into the unscaled value as minimal two's-complement
 * big-endian bytes (out must hold 32 bytes; precision <= 76). Returns the
 * byte count, or -1 with *why set to a static message
 * ("more than 2 fraction digits", "more than 12 integer digits",
 * "not a decimal number"). */
int pb_decimal_parse(const char *s, size_t len, int precision, int scale,
                     uint8_t *out, const char **why);
/* Unscaled two's-complement bytes to text with exactly `scale` fraction
 * digits. Returns length or -1 if the bytes are longer than 32 (larger than
 * any precision the codec supports). buf >= 80. */
int pb_decimal_format(const uint8_t *b, size_t n, int scale, char *buf,
                      size_t size);

/* --- base64 (RFC 4648, with padding) --- */
size_t pb_base64_encode(const uint8_t *in, size_t n, char *out, size_t size);
/* Returns decoded length or -1 on invalid input; out >= 3*n/4. */
long pb_base64_decode(const char *in, size_t n, uint8_t *out, size_t size);

/* --- text --- */
/* 1 if s[0..n) holds only spaces, tabs and CRs (a blank NDJSON line). */
static inline int pb_blank_line(const char *s, size_t n) {
        size_t i;
        for (i = 0; i < n; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                        return 0;
        return 1;
}

/* --- hashes for in-memory tables: FNV-1a, the one implementation --- */
#define PB_FNV1A64_INIT 1469598103934665603ull
/* Continues a 64-bit FNV-1a hash h over n bytes (start with
 * PB_FNV1A64_INIT, or that value mixed with a seed). */
static inline uint64_t pb_fnv1a_more(uint64_t h, const void *p, size_t n) {
        const uint8_t *s = (const uint8_t *)p;
        while (n--)
                h = (h ^ *s++) * 1099511628211ull;
        return h;
}
/* 64-bit FNV-1a of n bytes. */
static inline uint64_t pb_fnv1a(const void *p, size_t n) {
        return pb_fnv1a_more(PB_FNV1A64_INIT, p, n);
}
/* 32-bit FNV-1a of n bytes. */
static inline uint32_t pb_fnv1a32(const void *p, size_t n) {
        const uint8_t *s = (const uint8_t *)p;
        uint32_t h = 2166136261u;
        while (n--)
                h = (h ^ *s++) * 16777619u;
        return h;
}

/* --- digests --- */
/* SHA-256 of the len bytes at data, into md. The algorithm is looked up
 * once per process and a digest context kept per thread: OpenSSL 3's
 * SHA256() looks the algorithm up and allocates a context on every call,
 * which costs more than hashing a short key. */
void pb_sha256(const void *data, size_t len, unsigned char md[32]);
/* The same as 64 lowercase hex digits and a NUL (token digests). */
void pb_sha256_hex(const void *data, size_t len, char out[65]);

/* --- UUIDs --- */
/* pb_uuid_valid and pb_uuid_parse (text form checks): see pb_common.h. */
/* Random version 4, lowercase text into out[37]. */
void pb_uuid_v4(char out[37]);
/* Name-based version 5 (SHA-1) in namespace ns (text form), out[37]. */
int pb_uuid_v5(const char *ns, const void *name, size_t len, char out[37]);

/* --- names from outside --- */
/* A legal Kafka topic name: [A-Za-z0-9._-]{1,249}, not "." or "..". Safe
 * as one path component (no '/', no control characters). */
int pb_topic_name_valid(const char *s);

/* A URL fit for logs and --print-config: user:password@ becomes ***@, and
 * the values of query parameters that carry secrets (token, access_token,
 * api_key, apikey, key, password, pass, secret, signature, sig; any case)
 * become ***. Always NUL-terminates out (cut if it is too small). Returns
 * out. Every log line and config print that shows a URL goes through it. */
const char *pb_redact_url(const char *url, char *out, size_t size);

/* --- files --- */
/* The whole file at path, NUL-terminated (*len bytes before the NUL), at
 * most max bytes; malloc'd, or NULL with errstr ("cannot open PATH: ...",
 * "PATH: reason"). */
char *pb_read_file(const char *path, size_t max, size_t *len, char *errstr,
                   size_t errstr_size);

#endif
