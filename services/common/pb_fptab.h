/* partnerbus services - a compact table of 64-bit fingerprints -> 64-bit
 * values, for the poller's state (key -> content fingerprint) and the
 * ownership map (entity -> owner).
 *
 * 16 bytes a slot. The table is split into 64 segments by the
 * fingerprint's top bits, each an open-addressing table (linear probing)
 * of any size that grows by a quarter when it is 80 % full: the load
 * stays between 0.64 and 0.8 (~22 bytes a key: 1,000,000 keys ~21 MiB),
 * and a growth copies one segment, so the peak while growing is a
 * sixty-fourth above the table rather than twice it. Keys are
 * fingerprints (uniform bits, e.g. from SHA-256); 0 is stored as 1. Not
 * thread-safe. */
#ifndef PB_FPTAB_H
#define PB_FPTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct pb_fptab pb_fptab_t;

pb_fptab_t *pb_fptab_new(void);
void pb_fptab_destroy(pb_fptab_t *t);
/* The value stored for k (writable in place), or NULL. */
uint64_t *pb_fptab_get(const pb_fptab_t *t, uint64_t k);
/* Stores k -> v (replacing the value if k is held). 0, or -1 without
 * memory (nothing changed). */
int pb_fptab_put(pb_fptab_t *t, uint64_t k, uint64_t v);
/* Removes k if held. */
void pb_fptab_del(pb_fptab_t *t, uint64_t k);
size_t pb_fptab_count(const pb_fptab_t *t);
/* Bytes of its slots and segment table. */
size_t pb_fptab_bytes(const pb_fptab_t *t);

/* ------------------------------------------------- identity table
 *
 * The same layout (64 segments, linear probing, growing a segment by a
 * quarter at 80 %) for a 96-bit identity (k, x) -> a 64-bit value and up
 * to 5 flag bits, 20 bytes a slot: the poller keeps its state (key ->
 * content fingerprint) and the entities its own organisation owns in one
 * slot per key (pb_ownmap.c). The slot stores k mixed (a bijection), and
 * the mix's top 6 bits, which every key of a segment shares, hold the
 * flags, so no bit of the identity is given up. A key is held while its
 * value or a flag is set. */

typedef struct pb_idtab pb_idtab_t;

#define PB_IDTAB_FLAGS 0x1fu /* the flag bits a caller may use */

pb_idtab_t *pb_idtab_new(void);
void pb_idtab_destroy(pb_idtab_t *t);
/* 1 with *v and *flags when (k, x) is held; 0 when not; -1 when another
 * key with the same k but another x is held (it cannot be held as
 * well). */
int pb_idtab_get(const pb_idtab_t *t, uint64_t k, uint32_t x, uint64_t *v,
                 unsigned *flags);
/* Stores (k, x) -> v, flags, replacing what it held; v 0 and flags 0
 * remove the key. 0; -1 without memory; -2 when another key with the
 * same k is held (nothing changed in both cases). */
int pb_idtab_set(pb_idtab_t *t, uint64_t k, uint32_t x, uint64_t v,
                 unsigned flags);
size_t pb_idtab_count(const pb_idtab_t *t);
size_t pb_idtab_bytes(const pb_idtab_t *t);

#endif
