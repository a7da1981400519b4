/* partnerbus poll - the in-memory view of the poller's state: per record
 * key the key's 96-bit fingerprint and a 64-bit content fingerprint.
 *
 * For a type with owners (grants, shipments, partnerships) the state
 * lives in the ownership map's table of the poller's own entities
 * (pb_ownmap_new_self, pb_poll_state_share): one 20-byte slot holds a
 * key's fingerprint, its content fingerprint and whether the poller's
 * organisation owns the entity, so an entity the poller published costs
 * one slot (~28 bytes a key at load 0.64-0.8), not one in the state and
 * one in the map (~44). Otherwise (aid.delivered, --check) a table of
 * its own, 16 bytes a slot (services/common/pb_fptab.h, ~22 bytes a
 * key). Both grow a sixty-fourth at a time. max_keys bounds it: past it
 * pb_poll_state_put fails with PB_ERR_LIMIT instead of growing (see
 * docs/poll.md, "State").
 *
 * Fingerprints are the first bytes of SHA-256: a wrong "unchanged"
 * needs two versions of one record to collide in 64 bits, or two keys in
 * 64 (own table) or 96 bits (shared) and their contents in 64; for 10^7
 * keys that is about 3e-6 over the table's life at most. */
#ifndef PB_POLL_STATE_H
#define PB_POLL_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_common.h"
#include "pb_owners.h"

typedef struct pb_poll_state pb_poll_state_t;

pb_poll_state_t *pb_poll_state_new(size_t max_keys);
void pb_poll_state_destroy(pb_poll_state_t *s);
/* Keeps the state in m's table of its own entities (m made by
 * pb_ownmap_new_self; outlives s) from now on; the state must be empty.
 * The state keys are "<source>/<type>/<record key>"; the map's key is
 * that without the first strip bytes ("<source>/"). */
void pb_poll_state_share(pb_poll_state_t *s, pb_ownmap_t *m, size_t strip);
/* The fingerprint of the state key skey (len bytes). */
void pb_poll_state_key(const pb_poll_state_t *s, const char *skey, size_t len,
                       pb_keyfp_t *fp);
/* 1 and *hash if the key is known, else 0. */
int pb_poll_state_get(const pb_poll_state_t *s, const pb_keyfp_t *fp,
                      uint64_t *hash);
pb_resp_t pb_poll_state_put(pb_poll_state_t *s, const pb_keyfp_t *fp,
                            uint64_t hash);
void pb_poll_state_del(pb_poll_state_t *s, const pb_keyfp_t *fp);
size_t pb_poll_state_count(const pb_poll_state_t *s);
size_t pb_poll_state_bytes(const pb_poll_state_t *s);

/* First 8 bytes of SHA-256(data) as a number (never 0), and the first 16
 * bytes as 32 lowercase hex digits into hex[33] (may be NULL). */
uint64_t pb_poll_state_fingerprint(const void *data, size_t len, char *hex);
/* 32 (or 16) hex digits back to the 64-bit fingerprint; 0 if malformed. */
uint64_t pb_poll_state_fingerprint_parse(const char *hex, size_t len);

#endif
