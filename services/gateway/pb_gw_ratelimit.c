/* partnerbus gateway - one token bucket per organisation.
 *
 * Each event costs one token; a bucket holds at most `burst` tokens and
 * refills at `rate` per second. Organisations come from the tokens file,
 * so their number is bounded; the table is bounded anyway
 * (PB_GW_RL_SLOTS): past it, unknown orgs share one overflow bucket. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_gw.h"
#include "pb_gw_ratelimit_int.h"

pb_gw_ratelimit_t *pb_gw_ratelimit_new(double rate, double burst) {
        pb_gw_ratelimit_t *rl = calloc(1, sizeof(*rl));
        if (!rl)
                return NULL;
        pthread_mutex_init(&rl->lock, NULL);
        rl->rate = rate;
        rl->burst = burst < 1 ? 1 : burst;
        rl->overflow.tokens = rl->burst;
        rl->overflow.last_ms = -1;
        return rl;
}

void pb_gw_ratelimit_destroy(pb_gw_ratelimit_t *rl) {
        if (!rl)
                return;
        pthread_mutex_destroy(&rl->lock);
        free(rl);
}

static pb_gw_bucket_t *bucket_of(pb_gw_ratelimit_t *rl, const char *org) {
        uint32_t i = pb_fnv1a32(org, strlen(org)) & (PB_GW_RL_SLOTS - 1);
        size_t probes;
        for (probes = 0; probes < PB_GW_RL_SLOTS; probes++) {
                pb_gw_bucket_t *b = &rl->slots[i];
                if (!b->org[0]) {
                        /* keep a quarter free so probing stays short */
                        if (rl->used >= PB_GW_RL_SLOTS * 3 / 4)
                                return &rl->overflow;
                        snprintf(b->org, sizeof(b->org), "%s", org);
                        b->tokens = rl->burst;
                        b->last_ms = -1;
                        rl->used++;
                        return b;
                }
                if (!strcmp(b->org, org))
                        return b;
                i = (i + 1) & (PB_GW_RL_SLOTS - 1);
        }
        return &rl->overflow;
}

int64_t pb_gw_ratelimit_take(pb_gw_ratelimit_t *rl, const char *org, double n,
                             int64_t now_ms, int take) {
        pb_gw_bucket_t *b;
        int64_t wait = 0;
        if (!rl || rl->rate <= 0)
                return 0;
        pthread_mutex_lock(&rl->lock);
        b = bucket_of(rl, org ? org : "");
        if (b->last_ms >= 0 && now_ms > b->last_ms) {
                b->tokens += (double)(now_ms - b->last_ms) * rl->rate / 1000.0;
                if (b->tokens > rl->burst)
                        b->tokens = rl->burst;
        }
        if (b->last_ms < 0 || now_ms > b->last_ms)
                b->last_ms = now_ms;
        if (b->tokens >= n) {
                if (take)
                        b->tokens -= n;
        } else {
                /* n > burst can never be met: report the time to a full
                 * bucket; callers keep batches within the burst */
                double need = (n > rl->burst ? rl->burst : n) - b->tokens;
                wait = (int64_t)ceil(need * 1000.0 / rl->rate);
                if (wait < 1)
                        wait = 1;
        }
        pthread_mutex_unlock(&rl->lock);
        return wait;
}
