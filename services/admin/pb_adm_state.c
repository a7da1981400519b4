/* partnerbus admin - the records of the admin topics in memory.
 *
 * One follower thread (services/common/pb_follow.c) reads all six topics
 * from the beginning: compacted ones into cJSON objects keyed by record
 * id (a tombstone deletes), the audit topic into a bounded list of the
 * newest entries. A write is produced with acks=all, its delivery report
 * awaited, then the follower's progress past its offset: after a 2xx
 * answer every later read of this process sees the change, and every
 * other admin process once it read it (milliseconds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "partnerbus/pb_util.h"
#include "pb_adm.h"
#include "pb_cli.h"
#include "pb_follow.h"

struct pb_adm_state {
        pthread_mutex_t lock;
        cJSON *rec[PB_ADM_NTOPICS]; /* objects id -> record; audit: array */
        size_t audit_keep;
        char topics[PB_ADM_NTOPICS][256];
        pb_follow_t *follow;
        pb_producer_t *producer;
};

typedef struct wr {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int done;
        pb_resp_t err;
        int32_t partition;
        int64_t offset;
        char errstr[200];
} wr_t;

static void on_delivery(void *opaque, void *msg_opaque, pb_resp_t err,
                        const char *errstr, const char *topic,
                        int32_t partition, int64_t offset) {
        wr_t *w = msg_opaque;
        (void)opaque;
        (void)topic;
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->err = err;
        w->partition = partition;
        w->offset = offset;
        snprintf(w->errstr, sizeof(w->errstr), "%s",
                 errstr ? errstr : pb_err2str(err));
        w->done = 1;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

static void on_record(void *opaque, size_t t, const char *key, size_t klen,
                      const char *value, size_t vlen, int64_t ts) {
        pb_adm_state_t *s = opaque;
        cJSON *v = NULL;
        char k[256];
        (void)ts;
        if (t >= PB_ADM_NTOPICS)
                return;
        if (value) {
                v = cJSON_ParseWithLength(value, vlen);
                if (!cJSON_IsObject(v)) {
                        cJSON_Delete(v);
                        pb_log("warn",
                               "cmd=admin topic=%s msg=\"record is "
                               "not a JSON object: ignored\"",
                               s->topics[t]);
                        return;
                }
        }
        pthread_mutex_lock(&s->lock);
        if (t == PB_ADM_T_AUDIT) {
                if (v) {
                        cJSON_AddItemToArray(s->rec[t], v);
                        v = NULL;
                        while ((size_t)cJSON_GetArraySize(s->rec[t]) >
                               s->audit_keep)
                                cJSON_DeleteItemFromArray(s->rec[t], 0);
                }
        } else if (key && klen > 0 && klen < sizeof(k)) {
                memcpy(k, key, klen);
                k[klen] = 0;
                if (!memchr(key, 0, klen)) {
                        cJSON_DeleteItemFromObjectCaseSensitive(s->rec[t], k);
                        if (v) {
                                cJSON_AddItemToObject(s->rec[t], k, v);
                                v = NULL;
                        }
                }
        }
        pthread_mutex_unlock(&s->lock);
        cJSON_Delete(v);
}

pb_adm_state_t *pb_adm_state_new(const pb_kafka_conf_t *conf,
                                 const char *const *topics, size_t audit_keep,
                                 char *errstr, size_t errstr_size) {
        static const char *const pdefaults[] = {"linger.ms=0",
                                                "message.timeout.ms=10000"};
        pb_adm_state_t *s = calloc(1, sizeof(*s));
        pb_follow_topic_t ft[PB_ADM_NTOPICS];
        pb_kafka_conf_t pc;
        size_t i;
        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&s->lock, NULL);
        s->audit_keep = audit_keep ? audit_keep : 1;
        for (i = 0; i < PB_ADM_NTOPICS; i++) {
                s->rec[i] = i == PB_ADM_T_AUDIT ? cJSON_CreateArray()
                                                : cJSON_CreateObject();
                pb_kafka_topic(conf, topics[i], s->topics[i],
                               sizeof(s->topics[i]));
                ft[i].name = s->topics[i];
                ft[i].compact = i != PB_ADM_T_AUDIT;
                if (!s->rec[i]) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto fail;
                }
        }
        pb_kafka_conf_layer(&pc, conf, pdefaults, 2, NULL);
        s->producer = pb_producer_new(&pc, on_delivery, s, errstr, errstr_size);
        if (!s->producer)
                goto fail;
        s->follow = pb_follow_new("admin", conf, ft, PB_ADM_NTOPICS, on_record,
                                  s, errstr, errstr_size);
        if (!s->follow)
                goto fail;
        return s;
fail:
        pb_adm_state_destroy(s);
        return NULL;
}

void pb_adm_state_destroy(pb_adm_state_t *s) {
        size_t i;
        if (!s)
                return;
        pb_follow_destroy(s->follow);
        pb_producer_destroy(s->producer);
        for (i = 0; i < PB_ADM_NTOPICS; i++)
                cJSON_Delete(s->rec[i]);
        pthread_mutex_destroy(&s->lock);
        free(s);
}

int pb_adm_state_ready(pb_adm_state_t *s) {
        return pb_follow_ready(s->follow);
}

cJSON *pb_adm_state_get(pb_adm_state_t *s, int t, const char *id) {
        cJSON *r = NULL, *v;
        if (t < 0 || t >= PB_ADM_NTOPICS || t == PB_ADM_T_AUDIT || !id)
                return NULL;
        pthread_mutex_lock(&s->lock);
        v = cJSON_GetObjectItemCaseSensitive(s->rec[t], id);
        if (v)
                r = cJSON_Duplicate(v, 1);
        pthread_mutex_unlock(&s->lock);
        return r;
}

cJSON *pb_adm_state_list(pb_adm_state_t *s, int t, const char *org) {
        cJSON *a = cJSON_CreateArray(), *v;
        if (!a || t < 0 || t >= PB_ADM_NTOPICS || t == PB_ADM_T_AUDIT)
                return a;
        pthread_mutex_lock(&s->lock);
        cJSON_ArrayForEach(v, s->rec[t]) {
                const cJSON *o = cJSON_GetObjectItemCaseSensitive(v, "org");
                if (org && !(cJSON_IsString(o) && !strcmp(o->valuestring, org)))
                        continue;
                cJSON_AddItemToArray(a, cJSON_Duplicate(v, 1));
        }
        pthread_mutex_unlock(&s->lock);
        return a;
}

static int str_is(const cJSON *o, const char *name, const char *want) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsString(v) && !strcmp(v->valuestring, want);
}

cJSON *pb_adm_state_audit(pb_adm_state_t *s, const char *org, size_t limit) {
        cJSON *a = cJSON_CreateArray(), *v;
        size_t n = 0;
        if (!a)
                return NULL;
        pthread_mutex_lock(&s->lock);
        for (v = s->rec[PB_ADM_T_AUDIT]->child; v && v->next; v = v->next)
                ;
        for (; v && n < limit; v = v->prev) {
                if (org && !str_is(v, "actor_org", org) &&
                    !str_is(v, "org", org))
                        continue;
                cJSON_AddItemToArray(a, cJSON_Duplicate(v, 1));
                n++;
                if (v == s->rec[PB_ADM_T_AUDIT]->child)
                        break;
        }
        pthread_mutex_unlock(&s->lock);
        return a;
}

cJSON *pb_adm_state_token_by_secret(pb_adm_state_t *s, const char *token,
                                    size_t len) {
        uint8_t d[32], e[32];
        char hex[65];
        cJSON *v, *found = NULL;
        size_t i;
        pb_sha256(token, len, d);
        pthread_mutex_lock(&s->lock);
        cJSON_ArrayForEach(v, s->rec[PB_ADM_T_TOKENS]) {
                const cJSON *dg = cJSON_GetObjectItemCaseSensitive(v, "digest");
                int ok = cJSON_IsString(dg) && strlen(dg->valuestring) == 64;
                memset(e, 0, sizeof(e));
                for (i = 0; ok && i < 32; i++) {
                        int hi =
                            pb_hex_value((unsigned char)dg->valuestring[2 * i]);
                        int lo = pb_hex_value(
                            (unsigned char)dg->valuestring[2 * i + 1]);
                        if (hi < 0 || lo < 0)
                                ok = 0;
                        else
                                e[i] = (uint8_t)(hi << 4 | lo);
                }
                /* every record costs the same: no early exit */
                if (ok && CRYPTO_memcmp(d, e, 32) == 0 && !found)
                        found = v;
        }
        found = found ? cJSON_Duplicate(found, 1) : NULL;
        pthread_mutex_unlock(&s->lock);
        (void)hex;
        return found;
}

int pb_adm_state_write(pb_adm_state_t *s, int t, const char *key,
                       const cJSON *value, char *errstr, size_t errstr_size) {
        char *text = value ? cJSON_PrintUnformatted(value) : NULL;
        wr_t w;
        int rc = -1;
        int64_t deadline = pb_mono_ms() + 15000;
        if (value && !text) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        memset(&w, 0, sizeof(w));
        pthread_mutex_init(&w.lock, NULL);
        pthread_cond_init(&w.cond, NULL);
        if (pb_producer_send_raw(s->producer, s->topics[t], key, strlen(key),
                                 text, text ? strlen(text) : 0, NULL, &w,
                                 errstr, errstr_size) != PB_OK)
                goto out;
        for (;;) {
                int done;
                pb_producer_poll(s->producer, 20);
                pthread_mutex_lock(&w.lock);
                done = w.done;
                pthread_mutex_unlock(&w.lock);
                if (done)
                        break;
        }
        if (w.err != PB_OK) {
                snprintf(errstr, errstr_size, "Kafka did not store it: %s",
                         w.errstr);
                goto out;
        }
        if (pb_follow_wait(s->follow, (size_t)t, w.partition, w.offset,
                           deadline) < 0) {
                snprintf(errstr, errstr_size,
                         "stored in Kafka, but not read back in time");
                goto out;
        }
        rc = 0;
out:
        pthread_mutex_destroy(&w.lock);
        pthread_cond_destroy(&w.cond);
        free(text);
        return rc;
}
