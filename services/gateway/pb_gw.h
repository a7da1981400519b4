/* partnerbus gateway - internal interfaces between the gateway's files.
 *
 *   pb_gw_tokens.c     tokens file: org -> SHA-256 of its bearer token and
 *                      the event types it may publish
 *   pb_gw_ratelimit.c  token bucket per organisation
 *   pb_gw_dedup.c      bounded event_id -> original result window
 *   pb_gw_http.c       libmicrohttpd: routes, limits, suspend/resume
 *   pb_gw_publish.c    validate, encode, send, delivery reports
 *   pb_cmd_gateway.c   options, start, signals, drain and exit
 *
 * The first three depend on the core and libcrypto only, so the unit tests
 * (tests/unit/test_gateway_*.c) compile them directly. */
#ifndef PB_GW_H
#define PB_GW_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ tokens */

#define PB_GW_ORG_MAX         128  /* org id length limit, including NUL */
#define PB_GW_TYPES_MAX       1024 /* length of the types column */
#define PB_GW_TOKENS_MAX      100000
#define PB_GW_TOKENS_FILE_MAX (16u << 20)

typedef struct pb_gw_token {
        char org[PB_GW_ORG_MAX];
        uint8_t digest[32];          /* SHA-256 of the bearer token */
        int all_types;               /* types column was "*" */
        char types[PB_GW_TYPES_MAX]; /* ",t1,t2," for a cheap lookup */
} pb_gw_token_t;

typedef struct pb_gw_tokens {
        pb_gw_token_t *v;
        size_t n;
} pb_gw_tokens_t;

/* Parses a tokens file's text. Format, one entry per line:
 *     ORG  SHA256-HEX  TYPES
 * ORG: [A-Za-z0-9._-]{1,127}; SHA256-HEX: 64 hex digits, optionally
 * prefixed "sha256:"; TYPES: comma-separated event types or "*". Blank
 * lines and lines starting with '#' are ignored. An org may have several
 * lines (token rotation). name is used in error messages ("FILE:LINE: ...").
 * NULL on error, errstr says which line and why. Caller destroys. */
pb_gw_tokens_t *pb_gw_tokens_parse(const char *text, size_t len,
                                   const char *name, char *errstr,
                                   size_t errstr_size);
pb_gw_tokens_t *pb_gw_tokens_load(const char *path, char *errstr,
                                  size_t errstr_size);
void pb_gw_tokens_destroy(pb_gw_tokens_t *t);
/* The entry whose digest equals SHA-256(token); NULL if none. Every entry
 * is compared with CRYPTO_memcmp, whether or not one matched earlier, so
 * the time taken does not depend on how much of a digest matched. */
const pb_gw_token_t *pb_gw_tokens_find(const pb_gw_tokens_t *t,
                                       const char *token, size_t len);
int pb_gw_token_allows(const pb_gw_token_t *e, const char *type);

/* ------------------------------------------------------- rate limits */

typedef struct pb_gw_ratelimit pb_gw_ratelimit_t;

/* rate: events per second per organisation (<= 0: unlimited); burst: the
 * bucket size (at least 1). Thread-safe. */
pb_gw_ratelimit_t *pb_gw_ratelimit_new(double rate, double burst);
void pb_gw_ratelimit_destroy(pb_gw_ratelimit_t *rl);
/* Takes n tokens from org's bucket at now_ms (monotonic). Returns 0 when
 * taken, otherwise the milliseconds until n tokens will be there (>= 1;
 * nothing taken). With take == 0 only checks. */
int64_t pb_gw_ratelimit_take(pb_gw_ratelimit_t *rl, const char *org, double n,
                             int64_t now_ms, int take);

/* ------------------------------------------------------ dedup window */

typedef struct pb_gw_result {
        int32_t partition;
        int64_t offset;
        uint16_t tag; /* caller's index of the event type (topic) */
} pb_gw_result_t;

typedef enum pb_gw_claim {
        PB_GW_NEW = 0,     /* not seen: now pending, caller publishes */
        PB_GW_PENDING = 1, /* another request is publishing it right now */
        PB_GW_DONE = 2,    /* published before: result holds where */
        PB_GW_UNKNOWN = 3, /* its publish ended with an unknown outcome
                              (pb_gw_dedup_hold): not published again
                              until ttl */
} pb_gw_claim_t;

typedef struct pb_gw_dedup pb_gw_dedup_t;

/* capacity: entries kept (oldest evicted first when full); ttl_ms: how
 * long a published event_id is remembered. Thread-safe. */
pb_gw_dedup_t *pb_gw_dedup_new(size_t capacity, int64_t ttl_ms);
void pb_gw_dedup_destroy(pb_gw_dedup_t *d);
/* Claims n ids at once (ids[i] == NULL: skipped, claims[i] = NEW). When
 * any id is PENDING or UNKNOWN, nothing is claimed and -1 is returned
 * (claims[] says which); otherwise the NEW ones become pending, results[]
 * is filled for DONE ones and 0 is returned. A pending id stays pending
 * until complete, release or hold (however long Kafka takes): when the
 * window is full, the oldest entry that is not pending is dropped. */
int pb_gw_dedup_claim(pb_gw_dedup_t *d, const uint8_t *const *ids, size_t n,
                      int64_t now_ms, pb_gw_claim_t *claims,
                      pb_gw_result_t *results);
/* A pending id was published: remember result from now_ms for ttl. */
void pb_gw_dedup_complete(pb_gw_dedup_t *d, const uint8_t id[16],
                          const pb_gw_result_t *res, int64_t now_ms);
/* A pending id failed to publish: forget it so a retry publishes. */
void pb_gw_dedup_release(pb_gw_dedup_t *d, const uint8_t id[16]);
/* A pending id's publish ended and Kafka may or may not have stored it:
 * keep it from now_ms for ttl, claims answer UNKNOWN (never NEW), so a
 * retry cannot store it a second time. */
void pb_gw_dedup_hold(pb_gw_dedup_t *d, const uint8_t id[16], int64_t now_ms);
/* Scopes an event_id to the organisation sending it, in place: id becomes
 * id XOR a per-organisation key derived from a secret chosen at random
 * when the window was made. So the same event_id from two organisations
 * are two entries (a duplicate answer only ever points at the caller's
 * own event), and nobody can compute an id that collides with another
 * organisation's. Call on every id before claim/complete/release/hold. */
void pb_gw_dedup_scope(pb_gw_dedup_t *d, const char *org, uint8_t id[16]);
size_t pb_gw_dedup_count(pb_gw_dedup_t *d);
/* Entries dropped before their ttl because the window was full. */
uint64_t pb_gw_dedup_evictions(pb_gw_dedup_t *d);

#endif
