/* partnerbus gateway - organisations and tokens from the admin topics
 * (--admin-topics; docs/admin.md, "Records in Kafka").
 *
 * A follower thread (services/common/pb_follow.c) reads the compacted
 * organisations and tokens topics from the beginning and keeps them in two
 * arrays under a rwlock: a change written by `partnerbus admin` is applied
 * as soon as it is read (well within 5 s), without SIGHUP. A presented
 * bearer token is hashed and compared with every token's digest
 * (CRYPTO_memcmp, no early exit), as for the tokens file.
 *
 * Usage: the last use of each token is written to the token-usage topic
 * at most every 60 s per token (the send is asynchronous; a failure is
 * logged and the next use tries again). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "partnerbus/pb_util.h"
#include "pb_cli.h"
#include "pb_follow.h"
#include "pb_gw_server.h"

#define USAGE_EVERY_MS 60000

typedef struct adm_token {
        char id[64];
        char org[PB_GW_ORG_MAX];
        char name[128];
        int role; /* PB_GW_ROLE_* */
        int revoked;
        uint8_t digest[32];
        int64_t usage_written; /* pb_mono_ms of the last usage record, 0 */
} adm_token_t;

typedef struct adm_org {
        char id[PB_GW_ORG_MAX];
        int disabled;
        char *publish; /* ",t1,t2," */
} adm_org_t;

struct pb_gw_admin {
        pthread_rwlock_t lock;
        adm_token_t *tok;
        size_t ntok, captok;
        adm_org_t *org;
        size_t norg, caporg;
        pb_follow_t *follow;
        pb_producer_t *producer; /* token usage */
        char usage_topic[256];
        pthread_mutex_t usage_lock;
};

static int role_of(const char *s) {
        if (!s)
                return -1;
        if (!strcmp(s, "publisher"))
                return PB_GW_ROLE_PUBLISHER;
        if (!strcmp(s, "subscriber"))
                return PB_GW_ROLE_SUBSCRIBER;
        if (!strcmp(s, "org-admin"))
                return PB_GW_ROLE_ORG_ADMIN;
        return -1;
}

static int hex32(const char *s, uint8_t out[32]) {
        size_t i;
        if (!s || strlen(s) != 64)
                return -1;
        for (i = 0; i < 32; i++) {
                int hi = pb_hex_value((unsigned char)s[2 * i]);
                int lo = pb_hex_value((unsigned char)s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -1;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
}

static const char *str_of(const cJSON *o, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void remove_token(pb_gw_admin_t *a, const char *id, size_t len) {
        size_t i;
        for (i = 0; i < a->ntok; i++)
                if (strlen(a->tok[i].id) == len &&
                    !memcmp(a->tok[i].id, id, len)) {
                        a->tok[i] = a->tok[--a->ntok];
                        return;
                }
}

static void remove_org(pb_gw_admin_t *a, const char *id, size_t len) {
        size_t i;
        for (i = 0; i < a->norg; i++)
                if (strlen(a->org[i].id) == len &&
                    !memcmp(a->org[i].id, id, len)) {
                        free(a->org[i].publish);
                        a->org[i] = a->org[--a->norg];
                        return;
                }
}

/* a record's "id" is its key and fits in size bytes */
static int id_is_key(const char *id, const char *key, size_t klen,
                     size_t size) {
        return id && strlen(id) == klen && !memcmp(id, key, klen) &&
               klen < size;
}

static void malformed(const char *what, const char *key, size_t klen) {
        pb_log("warn",
               "cmd=gateway msg=\"malformed %s record ignored\" key=\"%.*s\"",
               what, (int)(klen > 64 ? 64 : klen), key);
}

static void apply_token(pb_gw_admin_t *a, const char *key, size_t klen,
                        const cJSON *v) {
        adm_token_t t;
        const char *id = str_of(v, "id"), *org = str_of(v, "org");
        const char *name = str_of(v, "name");
        const cJSON *rev = cJSON_GetObjectItemCaseSensitive(v, "revoked_at");
        size_t i;
        memset(&t, 0, sizeof(t));
        if (!id_is_key(id, key, klen, sizeof(t.id)) || !org ||
            strlen(org) >= sizeof(t.org) ||
            hex32(str_of(v, "digest"), t.digest) < 0 ||
            (t.role = role_of(str_of(v, "role"))) < 0) {
                malformed("token", key, klen);
                remove_token(a, key, klen);
                return;
        }
        snprintf(t.id, sizeof(t.id), "%s", id);
        snprintf(t.org, sizeof(t.org), "%s", org);
        snprintf(t.name, sizeof(t.name), "%s", name ? name : "");
        t.revoked = rev && !cJSON_IsNull(rev);
        for (i = 0; i < a->ntok; i++)
                if (!strcmp(a->tok[i].id, t.id)) {
                        t.usage_written = a->tok[i].usage_written;
                        a->tok[i] = t;
                        return;
                }
        if (PB_ARRAY_RESERVE(a->tok, a->captok, a->ntok, 1, 64)) {
                pb_log("error", "cmd=gateway msg=\"out of memory: "
                                "token record dropped\"");
                return;
        }
        a->tok[a->ntok++] = t;
}

static void apply_org(pb_gw_admin_t *a, const char *key, size_t klen,
                      const cJSON *v) {
        adm_org_t o;
        const char *id = str_of(v, "id");
        const cJSON *pub = cJSON_GetObjectItemCaseSensitive(v, "publish"), *e;
        const cJSON *dis = cJSON_GetObjectItemCaseSensitive(v, "disabled");
        size_t i, len = 2;
        memset(&o, 0, sizeof(o));
        if (!id_is_key(id, key, klen, sizeof(o.id)) ||
            (pub && !cJSON_IsArray(pub))) {
                malformed("organisation", key, klen);
                remove_org(a, key, klen);
                return;
        }
        snprintf(o.id, sizeof(o.id), "%s", id);
        o.disabled = cJSON_IsTrue(dis);
        cJSON_ArrayForEach(e, pub) if (cJSON_IsString(e)) len +=
            strlen(e->valuestring) + 1;
        o.publish = malloc(len + 1);
        if (!o.publish)
                return;
        strcpy(o.publish, ",");
        cJSON_ArrayForEach(e, pub) if (cJSON_IsString(e) &&
                                       !strchr(e->valuestring, ',')) {
                strcat(o.publish, e->valuestring);
                strcat(o.publish, ",");
        }
        for (i = 0; i < a->norg; i++)
                if (!strcmp(a->org[i].id, o.id)) {
                        free(a->org[i].publish);
                        a->org[i] = o;
                        return;
                }
        if (PB_ARRAY_RESERVE(a->org, a->caporg, a->norg, 1, 32)) {
                free(o.publish);
                return;
        }
        a->org[a->norg++] = o;
}

static void on_record(void *opaque, size_t topic, const char *key, size_t klen,
                      const char *value, size_t vlen, int64_t ts) {
        pb_gw_admin_t *a = opaque;
        cJSON *v = NULL;
        (void)ts;
        if (!key || klen == 0)
                return;
        if (value)
                v = cJSON_ParseWithLength(value, vlen);
        pthread_rwlock_wrlock(&a->lock);
        if (!value) { /* tombstone */
                if (topic == 0)
                        remove_org(a, key, klen);
                else
                        remove_token(a, key, klen);
        } else if (!cJSON_IsObject(v)) {
                pb_log("warn", "cmd=gateway msg=\"admin record is not a JSON "
                               "object: ignored\"");
        } else if (topic == 0) {
                apply_org(a, key, klen, v);
        } else {
                apply_token(a, key, klen, v);
        }
        pthread_rwlock_unlock(&a->lock);
        cJSON_Delete(v);
}

pb_gw_admin_t *pb_gw_admin_new(const pb_kafka_conf_t *conf,
                               const char *orgs_topic, const char *tokens_topic,
                               const char *usage_topic, char *errstr,
                               size_t errstr_size) {
        static const char *const pdefaults[] = {"linger.ms=100"};
        pb_gw_admin_t *a = calloc(1, sizeof(*a));
        pb_follow_topic_t t[2];
        char on[256], tn[256];
        pb_kafka_conf_t pc;
        if (!a) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_rwlock_init(&a->lock, NULL);
        pthread_mutex_init(&a->usage_lock, NULL);
        pb_kafka_topic(conf, orgs_topic, on, sizeof(on));
        pb_kafka_topic(conf, tokens_topic, tn, sizeof(tn));
        pb_kafka_topic(conf, usage_topic, a->usage_topic,
                       sizeof(a->usage_topic));
        pb_kafka_conf_layer(&pc, conf, pdefaults, 1, NULL);
        a->producer = pb_producer_new(&pc, NULL, NULL, errstr, errstr_size);
        if (!a->producer)
                goto fail;
        t[0].name = on;
        t[0].compact = 1;
        t[1].name = tn;
        t[1].compact = 1;
        a->follow = pb_follow_new("gateway", conf, t, 2, on_record, a, errstr,
                                  errstr_size);
        if (!a->follow)
                goto fail;
        return a;
fail:
        pb_gw_admin_destroy(a);
        return NULL;
}

void pb_gw_admin_destroy(pb_gw_admin_t *a) {
        size_t i;
        if (!a)
                return;
        pb_follow_destroy(a->follow);
        pb_producer_destroy(a->producer);
        for (i = 0; i < a->norg; i++)
                free(a->org[i].publish);
        free(a->org);
        free(a->tok);
        pthread_rwlock_destroy(&a->lock);
        pthread_mutex_destroy(&a->usage_lock);
        free(a);
}

int pb_gw_admin_ready(pb_gw_admin_t *a) {
        return !a || pb_follow_ready(a->follow);
}

size_t pb_gw_admin_count(pb_gw_admin_t *a, size_t *orgs) {
        size_t n;
        if (!a) {
                *orgs = 0;
                return 0;
        }
        pthread_rwlock_rdlock(&a->lock);
        n = a->ntok;
        *orgs = a->norg;
        pthread_rwlock_unlock(&a->lock);
        return n;
}

static void write_usage(pb_gw_admin_t *a, const char *id) {
        char now[40], err[256];
        pb_buf_t b;
        pb_rfc3339_format(pb_now_ms(), now, sizeof(now));
        pb_buf_init(&b, 0);
        pb_buf_puts(&b, "{\"id\":");
        pb_buf_json_str(&b, id, strlen(id));
        pb_buf_puts(&b, ",\"last_used_at\":");
        pb_buf_json_str(&b, now, strlen(now));
        pb_buf_putc(&b, '}');
        if (b.data && pb_producer_send_raw(a->producer, a->usage_topic, id,
                                           strlen(id), b.data, b.len, NULL,
                                           NULL, err, sizeof(err)) != PB_OK)
                pb_log("warn", "cmd=gateway msg=\"token usage: %s\"", err);
        pb_producer_poll(a->producer, 0);
        pb_buf_free(&b);
}

pb_gw_admin_auth_t pb_gw_admin_find(pb_gw_admin_t *a, const char *token,
                                    size_t len, const char *type, char *org,
                                    size_t org_size) {
        uint8_t d[32];
        size_t i, found = (size_t)-1;
        pb_gw_admin_auth_t res = PB_GW_ADMIN_UNKNOWN;
        char usage_id[64] = "";
        if (!a || !token || len == 0)
                return PB_GW_ADMIN_UNKNOWN;
        pb_sha256(token, len, d);
        pthread_rwlock_rdlock(&a->lock);
        for (i = 0; i < a->ntok; i++) {
                int eq = CRYPTO_memcmp(d, a->tok[i].digest, 32) == 0;
                if (eq && found == (size_t)-1)
                        found = i;
        }
        if (found != (size_t)-1) {
                adm_token_t *t = &a->tok[found];
                adm_org_t *o = NULL;
                for (i = 0; i < a->norg; i++)
                        if (!strcmp(a->org[i].id, t->org))
                                o = &a->org[i];
                snprintf(org, org_size, "%s", t->org);
                if (t->revoked)
                        res = PB_GW_ADMIN_REVOKED;
                else if (!o || o->disabled)
                        res = PB_GW_ADMIN_ORG_DISABLED;
                else if (t->role == PB_GW_ROLE_SUBSCRIBER)
                        res = PB_GW_ADMIN_NO_PUBLISH_ROLE;
                else if (type) {
                        const char *p;
                        size_t n = strlen(type);
                        res = PB_GW_ADMIN_TYPE_FORBIDDEN;
                        for (p = o->publish; n && (p = strstr(p, type)); p++)
                                if (p > o->publish && p[-1] == ',' &&
                                    p[n] == ',') {
                                        res = PB_GW_ADMIN_OK;
                                        break;
                                }
                } else
                        res = PB_GW_ADMIN_OK;
                if (res == PB_GW_ADMIN_OK) {
                        /* racy read: the lock below decides */
                        int64_t now = pb_mono_ms();
                        if (!t->usage_written ||
                            now - t->usage_written >= USAGE_EVERY_MS)
                                snprintf(usage_id, sizeof(usage_id), "%s",
                                         t->id);
                }
        }
        pthread_rwlock_unlock(&a->lock);
        if (usage_id[0]) {
                int write = 0;
                pthread_rwlock_wrlock(&a->lock);
                for (i = 0; i < a->ntok; i++)
                        if (!strcmp(a->tok[i].id, usage_id)) {
                                int64_t now = pb_mono_ms();
                                if (!a->tok[i].usage_written ||
                                    now - a->tok[i].usage_written >=
                                        USAGE_EVERY_MS) {
                                        a->tok[i].usage_written = now;
                                        write = 1;
                                }
                        }
                pthread_rwlock_unlock(&a->lock);
                if (write) {
                        pthread_mutex_lock(&a->usage_lock);
                        write_usage(a, usage_id);
                        pthread_mutex_unlock(&a->usage_lock);
                }
        }
        return res;
}
