/* partnerbus gateway - the token-bucket table of pb_gw_ratelimit.c, seen
 * by its unit test. Not for other files. */
#ifndef PB_GW_RATELIMIT_INT_H
#define PB_GW_RATELIMIT_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pb_gw.h"

#define PB_GW_RL_SLOTS 4096 /* power of two */

typedef struct pb_gw_bucket {
        char org[PB_GW_ORG_MAX]; /* "" = free slot */
        double tokens;
        int64_t last_ms;
} pb_gw_bucket_t;

struct pb_gw_ratelimit {
        pthread_mutex_t lock;
        double rate, burst;
        size_t used;
        pb_gw_bucket_t overflow;
        pb_gw_bucket_t slots[PB_GW_RL_SLOTS];
};

#endif
