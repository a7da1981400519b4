/* partnerbus services - entity ownership, shared by the gateway and poll.
 *
 *   pb_ownmap.c   bounded "type/entity id" -> owner organisation map
 *   pb_owners.c   the ownership topic: load, follow, claim, check
 *
 * The organisation that first publishes a grant, shipment or partnership
 * owns it; an event about it from another organisation is refused (the
 * gateway: 409 not_owner; poll: a dead letter naming the owner). The state
 * is a compacted Kafka topic (--owners-topic, pb_optgroups.h), so every
 * gateway and poller agrees, across restarts. */
#ifndef PB_OWNERS_H
#define PB_OWNERS_H

#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_kafka.h"

#define PB_OWNERS_ORG_MAX 128 /* owner organisation, including NUL */

/* ------------------------------------------------------ ownership map
 *
 * "type/entity id" -> the organisation that owns it, as read from the
 * ownership topic: the first claim read for a key wins, later different
 * claims are conflicts (the key is marked for re-assertion, see
 * pb_owners.c). Bounded: when capacity keys are held, new keys are
 * dropped (counted); the caller must then refuse unknown entities. */

typedef enum pb_own {
        PB_OWN_NEW = 0,      /* first claim for the key: stored */
        PB_OWN_SAME = 1,     /* the owner again (clears a re-assertion) */
        PB_OWN_CONFLICT = 2, /* another organisation: ignored, marked */
        PB_OWN_FULL = 3,     /* not held: the map is full */
        PB_OWN_INVALID = 4,  /* empty or too long key or owner */
} pb_own_t;

typedef struct pb_ownmap pb_ownmap_t;

/* A key's identity in the map: the first 96 bits of its SHA-256. */
typedef struct pb_keyfp {
        uint64_t k; /* bits 0-63, never 0 */
        uint32_t x; /* bits 64-95 */
} pb_keyfp_t;
void pb_ownmap_keyfp(const char *key, size_t klen, pb_keyfp_t *fp);

pb_ownmap_t *pb_ownmap_new(size_t capacity);
/* The same for a poller of organisation self: the entities self owns are
 * kept in 20-byte slots that also hold the poller's state for the same
 * key (pb_ownmap_state_*), so an entity the poller published costs one
 * slot, not one in each table. */
pb_ownmap_t *pb_ownmap_new_self(size_t capacity, const char *self);
/* The poller's state in the map made by pb_ownmap_new_self: the content
 * fingerprint h (never 0) of the record keyed fp ("type/record key").
 * _get: 1 and *h when held, 0 when not, -1 when another key with the
 * same first 64 bits is held (the caller keeps this one elsewhere).
 * _put: h 0 forgets it; 0, -1 without memory, -2 as _get's -1.
 * Thread-safe (the ownership consumer writes the same table). */
int pb_ownmap_state_get(pb_ownmap_t *m, const pb_keyfp_t *fp, uint64_t *h);
int pb_ownmap_state_put(pb_ownmap_t *m, const pb_keyfp_t *fp, uint64_t h);
void pb_ownmap_destroy(pb_ownmap_t *m);
/* A claim read from the topic. Thread-safe. */
pb_own_t pb_ownmap_apply(pb_ownmap_t *m, const char *key, size_t klen,
                         const char *owner, size_t olen);
/* 1 and the owner (NUL-terminated) into owner when key is held, else 0. */
int pb_ownmap_get(pb_ownmap_t *m, const char *key, size_t klen, char *owner,
                  size_t owner_size);
/* Calls fn for every key whose latest claim read is not its owner's
 * (after a conflicting claim), and unmarks it. Returns how many. */
size_t pb_ownmap_reassert(pb_ownmap_t *m,
                          void (*fn)(void *opaque, const char *key,
                                     const char *owner),
                          void *opaque);
size_t pb_ownmap_count(pb_ownmap_t *m);
/* Keys dropped because the map was full. */
uint64_t pb_ownmap_dropped(pb_ownmap_t *m);
/* Bytes the map's tables hold (16 a slot, 20 for the slots shared with
 * a poller's state; load 0.64-0.8). */
size_t pb_ownmap_bytes(pb_ownmap_t *m);

/* ------------------------------------------------- the ownership topic */

typedef struct pb_owners pb_owners_t;

/* Creates the compacted topic (prefix applied) if missing, a producer for
 * claims and a consumer that reads it from the beginning and then follows
 * it (its own thread). conf: brokers, prefix and -X properties; cmd: the
 * service name in log lines ("gateway", "poll"). */
pb_owners_t *pb_owners_new(const pb_kafka_conf_t *conf, const char *topic,
                           size_t capacity, const char *cmd, char *errstr,
                           size_t errstr_size);
/* The same for a poller of organisation self: its map keeps self's
 * entities in the slots it shares with the poller's state
 * (pb_ownmap_new_self, pb_owners_map). */
pb_owners_t *pb_owners_new_self(const pb_kafka_conf_t *conf, const char *topic,
                                size_t capacity, const char *cmd,
                                const char *self, char *errstr,
                                size_t errstr_size);
void pb_owners_destroy(pb_owners_t *o);
/* Its map (for pb_ownmap_state_*). */
pb_ownmap_t *pb_owners_map(pb_owners_t *o);
/* 1 once the topic was read up to its end as of the start. */
int pb_owners_ready(pb_owners_t *o);
/* An entity type: its events describe one entity each (versions of it),
 * keyed by one field, owned by the organisation that published it first;
 * the report counts its entities by their business date. */
typedef struct pb_entity_type {
        const char *type;
        const char *pointer;    /* the key field ("/grant_id") */
        const char *date_field; /* the business date ("granted_on") */
} pb_entity_type_t;
/* The entity type named type, NULL for a type without entities
 * (aid.delivered). */
const pb_entity_type_t *pb_owners_entity(const char *type);
/* The field whose value keys an owned entity of type ("/grant_id"), NULL
 * for a type without ownership (aid.delivered). */
const char *pb_owners_pointer(const char *type);
typedef enum pb_own_check {
        PB_OWNED = 0,     /* org owns it (now, or claimed it now) */
        PB_FOREIGN = 1,   /* another organisation owns it: owner */
        PB_OWN_UNSURE = 2 /* cannot tell (Kafka, not loaded, full): why */
} pb_own_check_t;
/* Looks up type/key; with claim, an entity nobody owns is claimed for
 * org (produced with acks=all, then read back until the consumer passed
 * the claim: the first claim in the partition wins). Waits at most until
 * deadline_ms (monotonic). owner: PB_OWNERS_ORG_MAX bytes. Thread-safe. */
pb_own_check_t pb_owners_check(pb_owners_t *o, const char *type,
                               const char *key, size_t klen, const char *org,
                               int claim, int64_t deadline_ms, char *owner,
                               char *why, size_t why_size);
size_t pb_owners_count(pb_owners_t *o);

/* Without waiting or claiming: 1 and the owner when type/key is held, 0
 * when it is not (or type has no owner: owner ""), -1 when the answer
 * could not be trusted yet (not loaded, map full). */
int pb_owners_lookup(pb_owners_t *o, const char *type, const char *key,
                     size_t klen, char *owner);

/* Many entities of one type at once (poll): as pb_owners_check with claim
 * for each, but every claim is produced before any is waited for, so n
 * new entities cost one round trip, not n. */
typedef struct pb_owners_item {
        const char *key; /* in */
        size_t klen;
        pb_own_check_t res; /* out */
        char owner[PB_OWNERS_ORG_MAX];
} pb_owners_item_t;
void pb_owners_check_many(pb_owners_t *o, const char *type,
                          pb_owners_item_t *items, size_t n, const char *org,
                          int64_t deadline_ms, char *why, size_t why_size);

/* The same without waiting (the gateway): entities nobody owns are
 * claimed, and instead of waiting for the claims' delivery reports and
 * their read-back on the caller's thread, the claims of all concurrent
 * callers are produced together (the claim producer's linger) and read
 * back by the ownership consumer, which passes every waiting claim at
 * once. Returns 0 when every item is decided now (items[].res and
 * owner set; done is not called), 1 when claims are in flight: done is
 * then called exactly once, on another thread (possibly before this
 * returns: the caller synchronises), with every items[].res set and why
 * naming the reason of a PB_OWN_UNSURE; not later than deadline_ms plus
 * about 100 ms. items must stay valid until then; keys are copied. */
typedef void(pb_owners_done_t)(void *opaque, pb_owners_item_t *items, size_t n,
                               const char *why);
int pb_owners_claim_async(pb_owners_t *o, const char *type,
                          pb_owners_item_t *items, size_t n, const char *org,
                          int64_t deadline_ms, pb_owners_done_t *done,
                          void *opaque, char *why, size_t why_size);

/* Counters for the services' metrics. */
typedef struct pb_owners_stats {
        uint64_t claims;      /* entities claimed (claims that won) */
        uint64_t refusals;    /* checks answered PB_FOREIGN */
        uint64_t unavailable; /* checks answered PB_OWN_UNSURE */
        uint64_t dropped;     /* keys not held: the map was full */
        size_t entries;       /* entities in the map */
        int caught_up;        /* loaded, and the consumer has read every claim
                                 Kafka reported (cached high watermarks) */
} pb_owners_stats_t;
void pb_owners_stats(pb_owners_t *o, pb_owners_stats_t *st);
/* Counts a refusal decided by the caller from pb_owners_lookup. */
void pb_owners_note_refusal(pb_owners_t *o);

#endif
