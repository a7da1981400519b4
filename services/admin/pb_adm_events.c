/* partnerbus admin - the history of events for the console
 * (GET /v1/admin/orgs/{org}/events, docs/admin.md "History").
 *
 * One short-lived consumer per request: no group, nothing committed,
 * partitions assigned with explicit start offsets. For each partition of
 * the asked topics the watermarks are read; the scan starts a bounded
 * number of messages before the high watermark and ends at it (captured
 * at the start, so a busy topic cannot keep a request running). Every
 * request is bounded three ways: messages read (--history-scan-max),
 * wall time (--history-timeout) and requests running at once
 * (PB_ADM_EVENTS_MAX_ACTIVE; more get 503). When a bound cut the scan
 * short, or a partition was not read back to its first message, the
 * answer says "truncated": true. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_filter.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_serde.h"
#include "partnerbus/pb_util.h"
#include "pb_adm.h"
#include "pb_cli.h"

#define MAX_PARTS      256
#define MAX_EVENT_JSON (1u << 20)
#define MAX_KEPT_JSON  (8u << 20) /* the events of one answer, as JSON */

typedef struct part {
        size_t ti; /* index into q->types */
        int32_t partition;
        int64_t low, high, start;
        int done;
} part_t;

typedef struct item {
        int64_t ts;
        size_t ti;
        int32_t partition;
        int64_t offset;
        size_t bytes; /* its event's JSON */
        cJSON *ev;    /* the answer's entry */
} item_t;

typedef struct scan {
        pb_adm_t *adm;
        const pb_adm_events_query_t *q;
        char topics[PB_ADM_EVENTS_MAX_TYPES][256];
        part_t parts[MAX_PARTS];
        size_t nparts;
        item_t *items;
        size_t nitems, cap;
        size_t scanned, undecodable, kept_bytes;
        int truncated; /* a bound cut the scan short */
        int partial;   /* some partition was not read from its start */
        pb_serde_t *sd;
        pb_json_parser_t *jp;
        pb_buf_t json;
} scan_t;

static int64_t remaining(int64_t deadline) {
        int64_t r = deadline - pb_mono_ms();
        return r > 0 ? r : 0;
}

/* Sets low (which == RD_KAFKA_OFFSET_BEGINNING) or high of every
 * partition. 0, or -1 with err. */
static int watermarks(scan_t *s, rd_kafka_t *rk, int64_t which,
                      int64_t deadline, char *err, size_t errsz) {
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_resp_err_t e;
        size_t i;
        if (!s->nparts)
                return 0;
        l = rd_kafka_topic_partition_list_new((int)s->nparts);
        for (i = 0; i < s->nparts; i++)
                rd_kafka_topic_partition_list_add(l, s->topics[s->parts[i].ti],
                                                  s->parts[i].partition)
                    ->offset = which;
        e = rd_kafka_offsets_for_times(rk, l, (int)remaining(deadline) + 1);
        for (i = 0; !e && i < s->nparts; i++) {
                const rd_kafka_topic_partition_t *r = &l->elems[i];
                if (r->err)
                        e = r->err;
                else if (which == RD_KAFKA_OFFSET_BEGINNING)
                        s->parts[i].low = r->offset;
                else
                        s->parts[i].high = r->offset;
        }
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
                snprintf(err, errsz, "offsets: %s", rd_kafka_err2str(e));
                return -1;
        }
        return 0;
}

/* Partitions and watermarks of every topic that exists: one metadata
 * request for the cluster's topics (one per topic cost up to half a
 * second each on an idle client). */
static int plan(scan_t *s, rd_kafka_t *rk, int64_t deadline, char *err,
                size_t errsz) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e;
        size_t t;
        int k, i;
        e = rd_kafka_metadata(rk, 1, NULL, &md, (int)remaining(deadline) + 1);
        if (e) {
                snprintf(err, errsz, "metadata: %s", rd_kafka_err2str(e));
                return -1;
        }
        for (t = 0; t < s->q->ntypes; t++)
                for (k = 0; k < md->topic_cnt; k++) {
                        const struct rd_kafka_metadata_topic *mt =
                            &md->topics[k];
                        /* no such topic: nothing was published yet */
                        if (mt->err || strcmp(mt->topic, s->topics[t]))
                                continue;
                        for (i = 0; i < mt->partition_cnt; i++) {
                                part_t *p;
                                if (s->nparts == MAX_PARTS) {
                                        s->truncated = 1;
                                        break;
                                }
                                p = &s->parts[s->nparts++];
                                p->ti = t;
                                p->partition = mt->partitions[i].id;
                        }
                }
        rd_kafka_metadata_destroy(md);
        /* the watermarks of all partitions in one request per broker
         * (ListOffsets for the times "earliest" and "latest"); one
         * rd_kafka_query_watermark_offsets call per partition took up to
         * half a second each */
        return watermarks(s, rk, RD_KAFKA_OFFSET_BEGINNING, deadline, err,
                          errsz) ||
               watermarks(s, rk, RD_KAFKA_OFFSET_END, deadline, err, errsz);
}

/* Where each partition's scan starts: the latest list needs at most
 * `limit` messages of a partition (fewer than that cannot hold the newest
 * `limit` events of all) unless a read filter may skip some; the
 * timeline has to look at every message. Each partition gets an equal
 * share of the scan budget. */
static void set_starts(scan_t *s) {
        size_t i, share = s->nparts ? s->q->scan_max / s->nparts : 0;
        int filtered = 0;
        for (i = 0; i < s->q->ntypes; i++)
                if (s->q->where[i])
                        filtered = 1;
        if (share < 1)
                share = 1;
        for (i = 0; i < s->nparts; i++) {
                part_t *p = &s->parts[i];
                int64_t want = (int64_t)share;
                if (!s->q->entity && !filtered && (int64_t)s->q->limit < want)
                        want = (int64_t)s->q->limit;
                p->start = p->high - want > p->low ? p->high - want : p->low;
                /* older messages are not read: more may exist */
                if (p->start > p->low &&
                    (s->q->entity || filtered || want < (int64_t)s->q->limit))
                        s->partial = 1;
                p->done = p->start >= p->high;
        }
}

static part_t *find_part(scan_t *s, const char *topic, int32_t partition) {
        size_t i;
        for (i = 0; i < s->nparts; i++)
                if (s->parts[i].partition == partition &&
                    !strcmp(s->topics[s->parts[i].ti], topic))
                        return &s->parts[i];
        return NULL;
}

static int older(const item_t *a, int64_t ts, size_t ti, int32_t partition,
                 int64_t offset) {
        if (a->ts != ts)
                return a->ts < ts;
        if (a->ti != ti)
                return a->ti < ti;
        if (a->partition != partition)
                return a->partition < partition;
        return a->offset < offset;
}

/* The index of the item the latest list would drop first. */
static size_t oldest(const scan_t *s) {
        size_t i, o = 0;
        for (i = 1; i < s->nitems; i++)
                if (older(&s->items[i], s->items[o].ts, s->items[o].ti,
                          s->items[o].partition, s->items[o].offset))
                        o = i;
        return o;
}

static const char *json_str(const cJSON *o, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* One message: filtered, decoded and kept or not. */
static void take(scan_t *s, const rd_kafka_message_t *m, part_t *p) {
        const pb_adm_events_query_t *q = s->q;
        const pb_schema_t *reader = NULL;
        pb_event_meta_t meta;
        char err[256], when[40];
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        size_t slot;
        cJSON *ev, *e;
        if (q->entity && (m->key_len != strlen(q->entity) ||
                          memcmp(m->key, q->entity, m->key_len)))
                return;
        if (!q->entity && s->nitems == q->limit) {
                slot = oldest(s);
                if (!older(&s->items[slot], ts, p->ti, p->partition, m->offset))
                        return; /* older than all we keep */
        } else if (s->nitems == s->cap) {
                s->truncated = 1; /* more versions than the limit */
                return;
        } else
                slot = s->nitems;
        pb_buf_reset(&s->json);
        memset(&meta, 0, sizeof(meta));
        if (!m->payload ||
            pb_serde_decode(s->sd, m->payload, m->len, &reader, &s->json, &meta,
                            err, sizeof(err)) != PB_OK) {
                s->undecodable++;
                return;
        }
        if (q->where[p->ti]) {
                const pb_json_t *tree =
                    pb_json_parse(s->jp, (const char *)s->json.data,
                                  s->json.len, err, sizeof(err));
                if (!tree ||
                    !pb_filter_match(q->where[p->ti], q->types[p->ti], tree))
                        return;
        }
        if (s->kept_bytes + s->json.len -
                (slot < s->nitems ? s->items[slot].bytes : 0) >
            MAX_KEPT_JSON) {
                s->truncated = 1; /* the answer would grow too large */
                return;
        }
        ev = cJSON_ParseWithLength((const char *)s->json.data, s->json.len);
        if (!ev) {
                s->undecodable++;
                return;
        }
        e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", q->types[p->ti]);
        {
                /* the key (the entity id) as text; "" if it is not */
                char k[512];
                size_t n = m->key_len;
                if (!m->key || n >= sizeof(k) ||
                    !pb_utf8_valid((const char *)m->key, n) ||
                    memchr(m->key, 0, n))
                        n = 0;
                if (n)
                        memcpy(k, m->key, n);
                k[n] = 0;
                cJSON_AddStringToObject(e, "entity", k);
        }
        cJSON_AddStringToObject(
            e, "event_id",
            json_str(ev, "event_id") ? json_str(ev, "event_id") : "");
        cJSON_AddStringToObject(
            e, "source", json_str(ev, "source") ? json_str(ev, "source") : "");
        if (json_str(ev, "occurred_at"))
                cJSON_AddStringToObject(e, "occurred_at",
                                        json_str(ev, "occurred_at"));
        else
                cJSON_AddNullToObject(e, "occurred_at");
        if (ts >= 0 && pb_rfc3339_format(ts, when, sizeof(when)))
                cJSON_AddStringToObject(e, "stored_at", when);
        else
                cJSON_AddNullToObject(e, "stored_at");
        cJSON_AddStringToObject(e, "topic", s->topics[p->ti]);
        cJSON_AddNumberToObject(e, "partition", p->partition);
        cJSON_AddNumberToObject(e, "offset", (double)m->offset);
        cJSON_AddItemToObject(e, "event", ev);
        if (slot < s->nitems) {
                cJSON_Delete(s->items[slot].ev);
                s->kept_bytes -= s->items[slot].bytes;
        } else
                s->nitems++;
        s->kept_bytes += s->json.len;
        s->items[slot].bytes = s->json.len;
        s->items[slot].ts = ts;
        s->items[slot].ti = p->ti;
        s->items[slot].partition = p->partition;
        s->items[slot].offset = m->offset;
        s->items[slot].ev = e;
}

static int cmp_asc(const void *a, const void *b) {
        const item_t *x = a, *y = b;
        if (older(x, y->ts, y->ti, y->partition, y->offset))
                return -1;
        if (older(y, x->ts, x->ti, x->partition, x->offset))
                return 1;
        return 0;
}

static int cmp_desc(const void *a, const void *b) {
        return -cmp_asc(a, b);
}

static int consume(scan_t *s, rd_kafka_t *rk, int64_t deadline, char *err,
                   size_t errsz) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new((int)s->nparts + 1);
        rd_kafka_resp_err_t e;
        size_t i, open = 0;
        for (i = 0; i < s->nparts; i++)
                if (!s->parts[i].done) {
                        rd_kafka_topic_partition_list_add(
                            l, s->topics[s->parts[i].ti], s->parts[i].partition)
                            ->offset = s->parts[i].start;
                        open++;
                }
        if (!open) {
                rd_kafka_topic_partition_list_destroy(l);
                return 0;
        }
        e = rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
                snprintf(err, errsz, "assign: %s", rd_kafka_err2str(e));
                return -1;
        }
        while (open) {
                rd_kafka_message_t *m;
                part_t *p;
                int64_t left = remaining(deadline);
                if (!left) {
                        s->truncated = 1;
                        break;
                }
                m = rd_kafka_consumer_poll(rk, left < 100 ? (int)left : 100);
                if (!m)
                        continue;
                p = m->rkt ? find_part(s, rd_kafka_topic_name(m->rkt),
                                       m->partition)
                           : NULL;
                if (m->err) {
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && p &&
                            !p->done) {
                                p->done = 1;
                                open--;
                        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                pb_log("warn", "cmd=admin msg=\"history: %s\"",
                                       rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (p && !p->done && m->offset < p->high) {
                        take(s, m, p);
                        s->scanned++;
                }
                if (p && !p->done && m->offset + 1 >= p->high) {
                        p->done = 1;
                        open--;
                }
                rd_kafka_message_destroy(m);
                if (s->scanned >= s->q->scan_max && open) {
                        s->truncated = 1;
                        break;
                }
        }
        rd_kafka_assign(rk, NULL);
        return 0;
}

cJSON *pb_adm_events_scan(pb_adm_t *adm, const pb_adm_events_query_t *q,
                          char *err, size_t errsz) {
        scan_t *s;
        pb_consumer_t *cons = NULL;
        pb_consumer_opts_t co;
        pb_kafka_conf_t kc;
        char orgs[256];
        const char *first;
        int64_t started = pb_mono_ms(), deadline = started + q->timeout_ms;
        cJSON *out = NULL, *a;
        size_t i;
        int ok = 0;
        err[0] = 0;
        if (q->ntypes > PB_ADM_EVENTS_MAX_TYPES) {
                snprintf(err, errsz, "too many types");
                return NULL;
        }
        s = calloc(1, sizeof(*s));
        if (!s) {
                snprintf(err, errsz, "out of memory");
                return NULL;
        }
        s->adm = adm;
        s->q = q;
        s->cap = q->limit;
        s->items = calloc(q->limit ? q->limit : 1, sizeof(item_t));
        s->jp = pb_json_parser_new(NULL);
        s->sd = pb_serde_new(adm->catalog, NULL, err, errsz);
        pb_buf_init(&s->json, MAX_EVENT_JSON);
        if (!s->sd)
                goto out; /* err says why */
        if (!s->items || !s->jp) {
                snprintf(err, errsz, "out of memory");
                goto out;
        }
        for (i = 0; i < q->ntypes; i++)
                pb_kafka_topic(adm->kconf, q->types[i], s->topics[i],
                               sizeof(s->topics[i]));
        /* the consumer needs one topic to start with: the organisations
         * topic always exists; the assignment is replaced below */
        first =
            pb_kafka_topic(adm->kconf, adm->set.orgs_topic, orgs, sizeof(orgs));
        memset(&co, 0, sizeof(co));
        co.stop_at_end = 1; /* partition EOF events end an empty range */
        /* a fetch waits on the broker for up to fetch.wait.max.ms (500 ms
         * by default) and holds up every later request on the connection
         * (the watermarks, the next fetch): a request here wants its
         * answer at once */
        kc = *adm->kconf;
        if (pb_kafka_conf_add(&kc, "fetch.wait.max.ms=10") != PB_OK) {
                snprintf(err, errsz, "too many Kafka properties");
                goto out;
        }
        cons = pb_consumer_new(&kc, &co, &first, 1, err, errsz);
        if (!cons)
                goto out;
        if (plan(s, pb_consumer_rk(cons), deadline, err, errsz) < 0)
                goto out;
        set_starts(s);
        if (consume(s, pb_consumer_rk(cons), deadline, err, errsz) < 0)
                goto out;
        /* a timeline may lack older versions; a latest list only when it
         * found fewer events than asked for */
        if (s->partial && (q->entity || s->nitems < q->limit))
                s->truncated = 1;
        qsort(s->items, s->nitems, sizeof(item_t),
              q->entity ? cmp_asc : cmp_desc);
        out = cJSON_CreateObject();
        a = cJSON_AddArrayToObject(out, "events");
        for (i = 0; i < s->nitems; i++) {
                cJSON_AddItemToArray(a, s->items[i].ev);
                s->items[i].ev = NULL;
        }
        cJSON_AddBoolToObject(out, "truncated", s->truncated);
        cJSON_AddNumberToObject(out, "scanned", (double)s->scanned);
        cJSON_AddNumberToObject(out, "undecodable", (double)s->undecodable);
        cJSON_AddNumberToObject(out, "ms", (double)(pb_mono_ms() - started));
        ok = 1;
        pb_log("info",
               "cmd=admin msg=\"history\" types=%zu partitions=%zu "
               "scanned=%zu found=%zu truncated=%d ms=%lld",
               q->ntypes, s->nparts, s->scanned, s->nitems, s->truncated,
               (long long)(pb_mono_ms() - started));
out:
        if (!ok && !err[0])
                snprintf(err, errsz, "history scan failed");
        for (i = 0; i < s->nitems; i++)
                cJSON_Delete(s->items[i].ev);
        free(s->items);
        pb_consumer_destroy(cons);
        pb_serde_destroy(s->sd);
        pb_json_parser_destroy(s->jp);
        pb_buf_free(&s->json);
        free(s);
        return out;
}
