/* partnerbus poll - the record pipeline: per record of a parsed page,
 * map it (pb_mapping), fingerprint the mapped JSON and compare it with the
 * state table, derive the event id, encode and frame it (codec + serde)
 * and produce it with its state record (pb_poll_tx.c); a record that does
 * not map or validate, or that is about an entity another organisation
 * owns (pb_owners.h), becomes a dead letter with its position and the
 * failing JSON Pointer, once per distinct bad record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_poll.h"

/* the buffers one record goes through, reused across records */
/* A record about an entity not yet in the ownership map, held until a
 * batch of claims decides it (flush_deferred): what publish() and
 * dead_letter() need, copied. */
typedef struct deferred {
        /* state key, raw record (both NUL-terminated) and the framed
         * event, in the batch's arena (bufs_t.arena) */
        size_t skey_off, raw_off, raw_len, avro_off, avro_len;
        pb_keyfp_t kfp;
        uint64_t h;
        char hex[33];
        long position;
        const char *pos_name;
        page_t *pg;
        pb_event_meta_t meta;
} deferred_t;

/* Records per batch of claims: a batch costs a few round trips to Kafka
 * (the claims' produce requests, acks=all, then the read-back), whatever
 * its size; 2,048 held records are ~2 MiB of the arena. */
#define DEFER_MAX 2048
/* A batch of held records is claimed after at most HOLD_MAX_MS, and an
 * open transaction committed after at most TXN_MAX_AGE_MS, also when few
 * records change among many unchanged ones: a transaction open longer than
 * transaction.timeout.ms (60 s by default) is aborted by the broker, which
 * fences the poller. */
#define HOLD_MAX_MS    1000
#define TXN_MAX_AGE_MS 10000

typedef struct bufs {
        pb_buf_t json, key, ev, avro, skey;
        pb_buf_t arena; /* the held records' bytes: no allocation each */
        deferred_t *dv;
        size_t nd;
        int64_t held_since_ms; /* when the first held record was held */
} bufs_t;

/* --check: what would be rejected, as a JSON line on stdout. */
static void print_reject(const pb_record_t *rec, const char *why,
                         const char *pointer) {
        pb_buf_t b;
        pb_buf_init(&b, 0);
        pb_buf_printf(&b,
                      "{\"would\":\"reject\",\"%s\":%ld,"
                      "\"pointer\":",
                      rec->pos_name ? rec->pos_name : "record", rec->position);
        pb_buf_json_str(&b, pointer ? pointer : "",
                        pointer ? strlen(pointer) : 0);
        pb_buf_puts(&b, ",\"error\":");
        pb_buf_json_str(&b, why, strlen(why));
        pb_buf_puts(&b, ",\"record\":");
        if (pb_utf8_valid(rec->raw ? rec->raw : "", rec->raw_len))
                pb_buf_json_str(&b, rec->raw ? rec->raw : "", rec->raw_len);
        else
                pb_buf_puts(&b, "null");
        pb_buf_puts(&b, "}\n");
        fwrite(b.data, 1, b.len, stdout);
        fflush(stdout);
        pb_buf_free(&b);
}

/* How long one record waits for the ownership topic (loading at start,
 * reading a claim back) before it is left for the next poll. */
#define OWNER_WAIT_MS 30000

/* owner: the organisation owning the entity (header partnerbus_owner),
 * NULL for a record that is not about another's entity. */
static void dead_letter(pollctx_t *p, const page_t *pg, const pb_record_t *rec,
                        const char *key, const char *why, const char *pointer,
                        const char *owner) {
        char pos[64], hex[33], *skey;
        uint64_t h, old;
        pb_keyfp_t kfp;
        size_t l;
        pmsg_t *m;
        const char *hdrs[] = {"partnerbus_error",
                              why,
                              "partnerbus_error_pointer",
                              pointer ? pointer : "",
                              "partnerbus_position",
                              pos,
                              "partnerbus_feed_url",
                              pg->res.url,
                              "partnerbus_type",
                              p->set.type,
                              owner ? "partnerbus_owner" : NULL,
                              owner,
                              NULL};
        snprintf(pos, sizeof(pos), "%s %ld",
                 rec->pos_name ? rec->pos_name : "record", rec->position);
        p->rejected++;
        pb_poll_count(p, "partnerbus_poll_records_total", "outcome", "rejected",
                      1);
        if (p->set.check) {
                print_reject(rec, why, pointer);
                return;
        }
        pb_log("warn", "msg=\"record rejected\" %s error=\"%s\"", pos, why);
        /* one dead letter per distinct bad record, not one per poll */
        h = pb_poll_state_fingerprint(rec->raw ? rec->raw : "", rec->raw_len,
                                      hex);
        l = strlen(p->prefix) + 48;
        skey = malloc(l);
        if (!skey)
                return;
        snprintf(skey, l, "%s/!rejected/%s", p->prefix, hex);
        pb_poll_state_key(p->st, skey, strlen(skey), &kfp);
        if (pb_poll_state_get(p->st, &kfp, &old)) {
                free(skey);
                return;
        }
        pb_poll_count(p, "partnerbus_poll_dead_letters_total", NULL, NULL, 1);
        if (p->txn) {
                /* the dead letter and its state record in the open
                 * transaction */
                if (pb_poll_txn_begin(p) || pb_poll_undo_push(p, &kfp) ||
                    pb_poll_state_put(p->st, &kfp, h) != PB_OK) {
                        free(skey);
                        return;
                }
                if (pb_poll_send_raw(p, p->dlq_topic, key,
                                     rec->raw ? rec->raw : "", rec->raw_len,
                                     hdrs, NULL) != PB_OK ||
                    pb_poll_send_raw(p, p->state_topic, skey, hex, 32, NULL,
                                     NULL) != PB_OK)
                        p->txn_failed = 1;
                p->txn_records++;
                free(skey);
                return;
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                free(skey);
                return;
        }
        m->kind = PM_DLQ;
        m->skey = skey;
        m->kfp = kfp;
        m->hash = h;
        memcpy(m->hex, hex, 33);
        if (pb_poll_state_put(p->st, &kfp, h) != PB_OK ||
            pb_poll_send_raw(p, p->dlq_topic, key, rec->raw ? rec->raw : "",
                             rec->raw_len, hdrs, m) != PB_OK) {
                pb_poll_state_del(p->st, &kfp);
                free(m);
                free(skey);
                return;
        }
        /* its state record follows once Kafka acknowledged it */
}

/* --check: what would be published, as a JSON line on stdout. */
static void print_publish(pollctx_t *p, const pb_record_t *rec,
                          const pb_buf_t *key, const pb_buf_t *ev,
                          const pb_keyfp_t *kfp) {
        pb_buf_t b;
        uint64_t old;
        pb_buf_init(&b, 0);
        pb_buf_printf(&b,
                      "{\"would\":\"publish\",\"%s\":%ld,"
                      "\"key\":",
                      rec->pos_name, rec->position);
        pb_buf_json_str(&b, (const char *)key->data, key->len);
        pb_buf_printf(&b, ",\"change\":\"%s\",\"event\":",
                      pb_poll_state_get(p->st, kfp, &old) ? "changed" : "new");
        pb_buf_append(&b, ev->data, ev->len);
        pb_buf_puts(&b, "}\n");
        fwrite(b.data, 1, b.len, stdout);
        fflush(stdout);
        pb_buf_free(&b);
}

/* parts[0..n) joined by '\n' into o, cut to size - 1 bytes and
 * NUL-terminated as snprintf("%s\n%s...") would; the length written. */
static size_t join_lines(char *o, size_t size, const char *const *parts,
                         size_t n) {
        size_t at = 0, i;
        for (i = 0; i < n && at + 1 < size; i++) {
                size_t l = strlen(parts[i]);
                if (i)
                        o[at++] = '\n';
                if (l > size - 1 - at)
                        l = size - 1 - at;
                memcpy(o + at, parts[i], l);
                at += l;
        }
        o[at] = 0;
        return at;
}

/* The event of a mapped record: event_id (UUIDv5 of source, type, key and
 * content version), occurred_at unless mapped, the mapped fields; then
 * encoded and framed into b->avro. PB_OK, or the error with why. */
static pb_resp_t encode_event(pollctx_t *p, bufs_t *b, const char *hex,
                              pb_event_meta_t *meta, pb_errors_t *errs,
                              char *why, size_t whysz) {
        pb_encode_opts_t eo;
        char eid[37], ts[40], name[1200];
        const char *parts[4];
        pb_resp_t rc;
        parts[0] = pb_mapping_source(p->map);
        parts[1] = p->set.type;
        parts[2] = (const char *)b->key.data;
        parts[3] = hex;
        pb_uuid_v5(PB_POLL_NS, name, join_lines(name, sizeof(name), parts, 4),
                   eid);
        pb_buf_reset(&b->ev);
        pb_buf_puts(&b->ev, "{\"event_id\":\"");
        pb_buf_puts(&b->ev, eid);
        pb_buf_puts(&b->ev, "\",");
        if (!pb_mapping_maps(p->map, "/occurred_at")) {
                pb_rfc3339_format(pb_now_ms(), ts, sizeof(ts));
                pb_buf_puts(&b->ev, "\"occurred_at\":\"");
                pb_buf_puts(&b->ev, ts);
                pb_buf_puts(&b->ev, "\",");
        }
        pb_buf_append(&b->ev, b->json.data + 1, b->json.len - 1);
        pb_errors_init(errs);
        memset(&eo, 0, sizeof(eo));
        pb_buf_reset(&b->avro);
        rc = pb_serde_encode(p->serde, p->schema, p->topic,
                             (const char *)b->ev.data, b->ev.len, &eo, &b->avro,
                             meta, errs);
        if (rc != PB_OK) {
                if (errs->count)
                        pb_errors_format(errs, why, whysz);
                else
                        snprintf(why, whysz, "encode: %s", pb_err2str(rc));
        }
        return rc;
}

/* The event and its state record in the open transaction: both committed
 * or neither. */
static void send_in_txn(pollctx_t *p, const char *skey, const char *hex,
                        const pb_event_meta_t *meta, const pb_buf_t *avro) {
        char why[1024];
        pb_resp_t rc;
        for (;;) {
                rc = pb_producer_send(p->prod, p->topic, p->set.type, meta,
                                      avro->data, avro->len, NULL, NULL, why,
                                      sizeof(why));
                if (rc != PB_ERR_QUEUE_FULL)
                        break;
                pb_producer_poll(p->prod, 50);
        }
        if (rc != PB_OK) {
                pb_log("error", "msg=\"send: %s\"", why);
                p->txn_failed = 1;
        } else {
                p->inflight++;
                if (pb_poll_send_raw(p, p->state_topic, skey, hex, 32, NULL,
                                     NULL) != PB_OK)
                        p->txn_failed = 1;
                p->txn_published++;
        }
        p->txn_records++;
        if ((p->inflight & 63) == 0)
                pb_producer_poll(p->prod, 0);
}

/* Without transactions: the event now, its state record once Kafka
 * acknowledged it (pb_poll_on_delivery, pb_poll_drain_state). */
static void send_acked(pollctx_t *p, const char *skey0, const pb_keyfp_t *kfp,
                       uint64_t h, const char *hex, const pb_event_meta_t *meta,
                       const pb_buf_t *avro) {
        char why[1024];
        pb_resp_t rc;
        char *skey = strdup(skey0);
        pmsg_t *m = skey ? calloc(1, sizeof(*m)) : NULL;
        if (!m) {
                free(skey);
                p->ev_failed++;
                return;
        }
        m->kind = PM_EVENT;
        m->skey = skey;
        m->kfp = *kfp;
        m->hash = h;
        memcpy(m->hex, hex, 33);
        for (;;) {
                rc = pb_producer_send(p->prod, p->topic, p->set.type, meta,
                                      avro->data, avro->len, NULL, m, why,
                                      sizeof(why));
                if (rc != PB_ERR_QUEUE_FULL)
                        break;
                pb_producer_poll(p->prod, 50);
                pb_poll_drain_state(p);
        }
        if (rc != PB_OK) {
                pb_log("error", "msg=\"send: %s\"", why);
                pb_poll_state_del(p->st, kfp);
                p->ev_failed++;
                free(skey);
                free(m);
                return;
        }
        p->inflight++;
        if ((p->inflight & 63) == 0) {
                pb_producer_poll(p->prod, 0);
                pb_poll_drain_state(p);
        }
}

/* Sends the encoded event of a new or changed record with its state
 * record. */
static void publish(pollctx_t *p, const char *skey, const pb_keyfp_t *kfp,
                    uint64_t h, const char *hex, const pb_event_meta_t *meta,
                    const pb_buf_t *avro) {
        if (pb_poll_txn_begin(p) || pb_poll_undo_push(p, kfp)) {
                p->ev_failed++;
                return;
        }
        if (pb_poll_state_put(p->st, kfp, h) != PB_OK) {
                pb_log("error",
                       "msg=\"state is full (--max-keys=%ld); record not "
                       "published\" key=\"%s\"",
                       p->set.max_keys, skey);
                p->ev_failed++;
                return;
        }
        if (p->txn) {
                send_in_txn(p, skey, hex, meta, avro);
                return;
        }
        send_acked(p, skey, kfp, h, hex, meta, avro);
}

/* Entity ownership, as at the gateway: a record about a grant, shipment
 * or partnership another organisation owns is refused (a dead letter
 * naming the owner); one nobody owns is claimed for --organisation. Known
 * entities are decided at once; records about entities not in the map
 * are held and claimed in batches (flush_deferred), so n new entities
 * cost a few round trips to Kafka, not n. When ownership cannot be told
 * (Kafka away, topic not loaded), the records of owned entities are not
 * published and the poll fails, so the next one retries them. */
enum { GATE_PUBLISH, GATE_DONE, GATE_DEFER };

static void refuse_foreign(pollctx_t *p, page_t *pg, const pb_record_t *rec,
                           const pb_event_meta_t *meta, const char *owner) {
        const char *ptr = pb_owners_pointer(p->set.type);
        char msg[1024];
        snprintf(msg, sizeof(msg),
                 "not_owner: %s %.*s belongs to organisation %s: only it "
                 "may publish events about it",
                 ptr + 1, (int)meta->key_len, meta->key, owner);
        dead_letter(p, pg, rec, meta->key, msg, ptr, owner);
}

static void unsure(pollctx_t *p, const pb_event_meta_t *meta, const char *why) {
        if (!p->owners_unsure)
                pb_log("error",
                       "msg=\"cannot tell who owns %s %.*s (%s); records of "
                       "owned entities are not published by this poll, the "
                       "next poll retries\"",
                       pb_owners_pointer(p->set.type) + 1, (int)meta->key_len,
                       meta->key, why);
        p->owners_unsure = 1;
        p->ev_failed++;
}

static int owner_gate(pollctx_t *p, page_t *pg, const pb_record_t *rec,
                      const pb_event_meta_t *meta) {
        char owner[PB_OWNERS_ORG_MAX];
        if (!p->owners || !pb_owners_pointer(p->set.type))
                return GATE_PUBLISH;
        if (p->owners_unsure) {
                p->ev_failed++;
                return GATE_DONE;
        }
        if (pb_owners_lookup(p->owners, p->set.type, meta->key, meta->key_len,
                             owner) <= 0)
                return GATE_DEFER; /* unknown, or not loaded yet */
        if (!strcmp(owner, p->set.organisation))
                return GATE_PUBLISH;
        pb_owners_note_refusal(p->owners);
        refuse_foreign(p, pg, rec, meta, owner);
        return GATE_DONE;
}

static void publish(pollctx_t *p, const char *skey, const pb_keyfp_t *kfp,
                    uint64_t h, const char *hex, const pb_event_meta_t *meta,
                    const pb_buf_t *avro);

/* Appends n bytes and a NUL to the arena; their offset, or (size_t)-1. */
static size_t arena_put(pb_buf_t *a, const void *v, size_t n) {
        size_t off = a->len;
        if ((n && pb_buf_append(a, v, n) != PB_OK) ||
            pb_buf_append(a, "", 1) != PB_OK) {
                a->len = off;
                return (size_t)-1;
        }
        return off;
}

/* Holds a record: its bytes are copied into the batch's arena. */
static void defer(pollctx_t *p, bufs_t *b, page_t *pg, const pb_record_t *rec,
                  const char *skey, const pb_keyfp_t *kfp, uint64_t h,
                  const char *hex, const pb_event_meta_t *meta) {
        deferred_t *d;
        size_t mark = b->arena.len;
        if (!b->dv)
                b->dv = calloc(DEFER_MAX, sizeof(*b->dv));
        if (!b->dv) {
                p->ev_failed++;
                return;
        }
        d = &b->dv[b->nd];
        memset(d, 0, sizeof(*d));
        if (!b->nd)
                b->held_since_ms = pb_mono_ms();
        d->skey_off = arena_put(&b->arena, skey, strlen(skey));
        d->raw_off = arena_put(&b->arena, rec->raw ? rec->raw : "",
                               rec->raw ? rec->raw_len : 0);
        d->avro_off = arena_put(&b->arena, b->avro.data, b->avro.len);
        if (d->skey_off == (size_t)-1 || d->raw_off == (size_t)-1 ||
            d->avro_off == (size_t)-1) {
                b->arena.len = mark;
                p->ev_failed++;
                return;
        }
        d->raw_len = rec->raw ? rec->raw_len : 0;
        d->avro_len = b->avro.len;
        d->kfp = *kfp;
        d->h = h;
        memcpy(d->hex, hex, 33);
        d->position = rec->position;
        d->pos_name = rec->pos_name;
        d->pg = pg;
        pb_event_meta_copy(&d->meta, meta);
        b->nd++;
}

/* Claims the held records' entities in one batch, then publishes or
 * refuses each, in feed order. */
static void flush_deferred(pollctx_t *p, bufs_t *b) {
        pb_owners_item_t *items;
        char why[256] = "";
        size_t i;
        if (!b->nd)
                return;
        items = calloc(b->nd, sizeof(*items));
        for (i = 0; items && i < b->nd; i++) {
                items[i].key = b->dv[i].meta.key;
                items[i].klen = b->dv[i].meta.key_len;
                items[i].res = PB_OWN_UNSURE;
        }
        if (!items)
                snprintf(why, sizeof(why), "out of memory");
        else if (!p->owners_unsure) {
                int64_t t0 = pb_mono_ms();
                pb_owners_check_many(p->owners, p->set.type, items, b->nd,
                                     p->set.organisation, t0 + OWNER_WAIT_MS,
                                     why, sizeof(why));
                p->claims_ms += pb_mono_ms() - t0;
        }
        for (i = 0; i < b->nd; i++) {
                deferred_t *d = &b->dv[i];
                pb_own_check_t r = items ? items[i].res : PB_OWN_UNSURE;
                const char *skey = (const char *)b->arena.data + d->skey_off;
                uint64_t old;
                if (r == PB_OWNED && !p->owners_unsure) {
                        /* an identical earlier row of this batch */
                        if (pb_poll_state_get(p->st, &d->kfp, &old) &&
                            old == d->h) {
                                p->unchanged++;
                                pb_poll_count(p,
                                              "partnerbus_poll_records_total",
                                              "outcome", "unchanged", 1);
                        } else {
                                pb_buf_t avro;
                                memset(&avro, 0, sizeof(avro));
                                avro.data = b->arena.data + d->avro_off;
                                avro.len = avro.cap = d->avro_len;
                                publish(p, skey, &d->kfp, d->h, d->hex,
                                        &d->meta, &avro);
                        }
                } else if (r == PB_FOREIGN) {
                        pb_record_t rec;
                        memset(&rec, 0, sizeof(rec));
                        rec.position = d->position;
                        rec.pos_name = d->pos_name;
                        rec.raw = (const char *)b->arena.data + d->raw_off;
                        rec.raw_len = d->raw_len;
                        refuse_foreign(p, d->pg, &rec, &d->meta,
                                       items[i].owner);
                } else {
                        unsure(p, &d->meta, why[0] ? why : "unknown");
                }
        }
        free(items);
        b->nd = 0;
        pb_buf_reset(&b->arena);
}

/* Drops held records (a poll that ends early publishes nothing more). */
static void drop_deferred(bufs_t *b) {
        b->nd = 0;
        pb_buf_reset(&b->arena);
        free(b->dv);
        b->dv = NULL;
}

/* Maps, checks and sends one record. */
static void one_record(pollctx_t *p, page_t *pg, const pb_record_t *rec,
                       bufs_t *b) {
        pb_errors_t errs;
        pb_event_meta_t meta;
        char hex[33], why[1024];
        uint64_t h, old;
        pb_keyfp_t kfp;
        const char *skey;
        size_t klen;
        pb_resp_t rc;
        pb_buf_reset(&b->json);
        pb_buf_reset(&b->key);
        pb_errors_init(&errs);
        rc = pb_mapping_apply(p->map, rec, &b->json, &b->key, &errs);
        if (rc != PB_OK) {
                if (errs.count)
                        pb_errors_format(&errs, why, sizeof(why));
                else
                        snprintf(why, sizeof(why), "mapping: %s",
                                 pb_err2str(rc));
                dead_letter(p, pg, rec, NULL, why,
                            errs.count ? errs.items[0].pointer : "", NULL);
                return;
        }
        h = pb_poll_state_fingerprint(b->json.data, b->json.len, hex);
        /* "<source>/<type>/<record key>", NUL-terminated (the key up to a
         * NUL in it, as the state topic's keys are) */
        klen = b->key.data ? strnlen((const char *)b->key.data, b->key.len) : 0;
        pb_buf_reset(&b->skey);
        if (pb_buf_append(&b->skey, p->prefix, strlen(p->prefix)) != PB_OK ||
            pb_buf_append(&b->skey, "/", 1) != PB_OK ||
            (klen && pb_buf_append(&b->skey, b->key.data, klen) != PB_OK) ||
            pb_buf_append(&b->skey, "", 1) != PB_OK) {
                p->ev_failed++;
                return;
        }
        skey = (const char *)b->skey.data;
        pb_poll_state_key(p->st, skey, b->skey.len - 1, &kfp);
        if (pb_poll_state_get(p->st, &kfp, &old) && old == h) {
                p->unchanged++;
                pb_poll_count(p, "partnerbus_poll_records_total", "outcome",
                              "unchanged", 1);
                return;
        }
        if (encode_event(p, b, hex, &meta, &errs, why, sizeof(why)) != PB_OK) {
                dead_letter(p, pg, rec, (const char *)b->key.data, why,
                            errs.count ? errs.items[0].pointer : "", NULL);
                return;
        }
        switch (owner_gate(p, pg, rec, &meta)) {
        case GATE_DONE:
                return;
        case GATE_DEFER:
                defer(p, b, pg, rec, skey, &kfp, h, hex, &meta);
                return;
        default:
                break;
        }
        if (p->set.check) {
                print_publish(p, rec, &b->key, &b->ev, &kfp);
                p->published++;
                return;
        }
        publish(p, skey, &kfp, h, hex, &meta, &b->avro);
}

/* The records of one page. "ok" or the outcome that ends the poll. */
static const char *page_records(pollctx_t *p, page_t *pg, bufs_t *b) {
        char err[1024];
        pb_record_t rec;
        long n = 0;
        int r;
        while ((r = pb_feed_next(pg->feed, &rec, err, sizeof(err))) !=
               PB_FEED_END) {
                if (r == PB_FEED_FATAL) {
                        pb_log("error",
                               "msg=\"feed unusable (truncated?); "
                               "validators untouched\" error=\"%s\"",
                               err);
                        return "malformed";
                }
                if (++p->records > p->set.max_records) {
                        pb_log("error",
                               "msg=\"more than "
                               "--max-records=%ld records\"",
                               p->set.max_records);
                        return "limit";
                }
                if (r == PB_FEED_BAD)
                        dead_letter(p, pg, &rec, NULL, err, "", NULL);
                else
                        one_record(p, pg, &rec, b);
                /* the body before this record is not read again */
                if ((++n & 1023) == 0 && rec.raw)
                        pb_fetch_release(&pg->res, rec.raw);
                if (b->nd >= DEFER_MAX)
                        flush_deferred(p, b);
                /* bound the transaction: in records, and in time */
                if (p->txn && p->txn_open &&
                    p->txn_records >= p->set.txn_records)
                        pb_poll_txn_commit(p);
                if ((n & 255) == 0 && (b->nd || p->txn_open)) {
                        int64_t now = pb_mono_ms();
                        if (b->nd && now - b->held_since_ms >= HOLD_MAX_MS)
                                flush_deferred(p, b);
                        if (p->txn && p->txn_open &&
                            now - p->txn_begun_ms >= TXN_MAX_AGE_MS)
                                pb_poll_txn_commit(p);
                }
                if (p->txn_failed)
                        return p->fenced ? "fenced" : "kafka_error";
        }
        flush_deferred(p, b);
        if (p->txn_failed)
                return p->fenced ? "fenced" : "kafka_error";
        return "ok";
}

const char *pb_poll_records(pollctx_t *p, pages_t *pg) {
        const char *outcome;
        bufs_t b;
        pb_buf_init(&b.json, 4 * p->set.max_record + 4096);
        pb_buf_init(&b.key, 4096);
        pb_buf_init(&b.ev, 4 * p->set.max_record + 8192);
        pb_buf_init(&b.avro, 0);
        pb_buf_init(&b.skey, 0);
        pb_buf_init(&b.arena, 0);
        b.dv = NULL;
        b.nd = 0;
        b.held_since_ms = 0;
        p->ev_failed = p->st_failed = 0;
        p->owners_unsure = 0;
        p->claims_ms = p->commit_ms = 0;
        /* page by page: a page's records go out before the next page is
         * fetched (docs/poll.md, "Exactly once") */
        while (!strcmp(outcome = pb_poll_next_page(p, pg), "ok")) {
                outcome = page_records(p, &pg->cur, &b);
                if (strcmp(outcome, "ok"))
                        break;
        }
        if (!strcmp(outcome, "end"))
                outcome = "ok";
        drop_deferred(&b);
        pb_buf_free(&b.json);
        pb_buf_free(&b.key);
        pb_buf_free(&b.ev);
        pb_buf_free(&b.avro);
        pb_buf_free(&b.skey);
        pb_buf_free(&b.arena);
        return outcome;
}
