/* Helpers of the dedup window tests (test_gateway_dedup*.c): ids made from
 * a number, claim and complete one id. The includer defines, before
 * including: DEDUP_ID_TAG, the last byte of every id; DEDUP_PARTITION and
 * DEDUP_TYPE_TAG, the partition and type index done1 stores. */
#ifndef PB_TEST_GW_DEDUP_FIXTURE_H
#define PB_TEST_GW_DEDUP_FIXTURE_H

#include <stdint.h>
#include <string.h>

#include "pb_gw.h"

/* id_of N ID: the id of number N */
static inline void id_of(unsigned n, uint8_t id[16]) {
        memset(id, 0, 16);
        memcpy(id, &n, sizeof(n));
        id[15] = DEDUP_ID_TAG;
}

/* claim1: claim the id of N alone at NOW; its result in *RES if RES */
static inline pb_gw_claim_t claim1(pb_gw_dedup_t *d, unsigned n, int64_t now,
                                   pb_gw_result_t *res) {
        uint8_t id[16];
        const uint8_t *ids[1] = {id};
        pb_gw_claim_t c;
        pb_gw_result_t r;
        id_of(n, id);
        memset(&r, 0, sizeof(r));
        pb_gw_dedup_claim(d, ids, 1, now, &c, &r);
        if (res)
                *res = r;
        return c;
}

/* done1: complete the id of N at NOW, stored at offset OFF */
static inline void done1(pb_gw_dedup_t *d, unsigned n, int64_t off,
                         int64_t now) {
        uint8_t id[16];
        pb_gw_result_t r = {DEDUP_PARTITION, off, DEDUP_TYPE_TAG};
        id_of(n, id);
        pb_gw_dedup_complete(d, id, &r, now);
}

#endif
