/* partnerbus poll - the in-memory view of the poller's state: per record
 * key a 64-bit key fingerprint and a 64-bit content fingerprint (16 bytes
 * a slot) in a segmented open-addressing table (services/common/
 * pb_fptab.h: load 0.64-0.8, growing a sixty-fourth at a time). 1,000,000
 * keys take ~21 MiB (at most 25 MiB). max_keys bounds it: past it
 * pb_poll_state_put fails with PB_ERR_LIMIT instead of growing (see
 * docs/poll.md, "State").
 *
 * Fingerprints are the first 8 bytes of SHA-256: a wrong "unchanged"
 * needs two different keys (or two versions of one record) to collide in
 * 64 bits; for 10^7 keys that is about 3e-6 over the table's life. */
#ifndef PB_POLL_STATE_H
#define PB_POLL_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_common.h"

typedef struct pb_poll_state pb_poll_state_t;

pb_poll_state_t *pb_poll_state_new(size_t max_keys);
void pb_poll_state_destroy(pb_poll_state_t *s);
/* 1 and *hash if the key is known, else 0. */
int pb_poll_state_get(const pb_poll_state_t *s, uint64_t kfp, uint64_t *hash);
pb_resp_t pb_poll_state_put(pb_poll_state_t *s, uint64_t kfp, uint64_t hash);
void pb_poll_state_del(pb_poll_state_t *s, uint64_t kfp);
size_t pb_poll_state_count(const pb_poll_state_t *s);
size_t pb_poll_state_bytes(const pb_poll_state_t *s);

/* First 8 bytes of SHA-256(data) as a number (never 0), and the first 16
 * bytes as 32 lowercase hex digits into hex[33] (may be NULL). */
uint64_t pb_poll_state_fingerprint(const void *data, size_t len, char *hex);
/* 32 (or 16) hex digits back to the 64-bit fingerprint; 0 if malformed. */
uint64_t pb_poll_state_fingerprint_parse(const char *hex, size_t len);

#endif
