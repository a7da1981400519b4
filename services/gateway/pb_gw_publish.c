/* partnerbus gateway - the publish path of POST /v1/events/{type}.
 *
 * All or nothing (docs/gateway.md, "Batches"): every event of a request
 * is parsed, checked against the schema and encoded before anything is
 * sent. One invalid event, a repeated event_id inside the batch, the rate
 * limit, an event_id another request is publishing right now, or a full
 * producer queue answers the whole request and publishes nothing. Then
 * each new event is sent; events whose event_id was published within the
 * dedup window are answered with their original result and not sent.
 *
 * The answer waits for every delivery report, up to --publish-timeout:
 * the connection is suspended (MHD_suspend_connection) and resumed either
 * from the delivery callback (last report), which runs on the producer's
 * poll thread, or by pb_gw_deadlines_run on that same thread when the
 * deadline passed first; no HTTP thread waits for Kafka. req->lock orders
 * them: sends and the suspend happen under it; the callback takes it
 * before it records a report, counts down and resumes; the deadline resume
 * and the answer built after it (pb_gw_publish_answer) take it too.
 *
 * At the deadline the messages stay in the producer (their own timeout is
 * --delivery-timeout, librdkafka's message.timeout.ms), and so do their
 * event_id claims in the dedup window: a retry meanwhile gets 409, and the
 * delivery report decides what a later retry gets. A success completes the
 * claim (retry: 200 duplicate, original offset), a definite failure
 * (PB_ERR_KAFKA: not stored) releases it (retry: published), an unknown
 * outcome (PB_ERR_UNCERTAIN) holds it for --dedup-ttl (retry: 409
 * outcome_unknown; docs/gateway.md says why). The request itself lives on
 * (pb_gw_req_t's references) until that last report. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_cli.h"
#include "pb_gw_server.h"

void pb_gw_error_body(pb_buf_t *b, const char *code, const char *msg) {
        pb_buf_reset(b);
        pb_buf_puts(b, "{\"error\":");
        pb_buf_json_str(b, code, strlen(code));
        pb_buf_puts(b, ",\"message\":");
        pb_buf_json_str(b, msg, strlen(msg));
        pb_buf_puts(b, "}");
}

static unsigned answer_error(pb_gw_answer_t *ans, unsigned status,
                             const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static unsigned answer_error(pb_gw_answer_t *ans, unsigned status,
                             const char *code, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        pb_gw_error_body(&ans->body, code, msg);
        ans->status = status;
        return status;
}

/* Appends e's errors to agg, each marked with line. */
static void merge_errors(pb_errors_t *agg, const pb_errors_t *e, long line) {
        size_t i;
        for (i = 0; i < e->count; i++) {
                size_t before = agg->count;
                pb_errors_add_code(agg, e->items[i].pointer, e->items[i].code,
                                   e->items[i].params, "%s",
                                   e->items[i].message);
                if (agg->count > before)
                        agg->items[agg->count - 1].line = line;
        }
        agg->dropped += e->dropped;
}

/* Parses, checks, encodes and frames one event into req->enc (one parse,
 * one codec pass). 0 ok, -1 invalid (errors in w->errs), -2 server-side
 * failure (registry). */
static int encode_one(pb_gw_req_t *req, pb_gw_worker_t *w, pb_gw_ev_t *ev,
                      const char *text, size_t len) {
        pb_gw_t *gw = req->gw;
        const pb_gw_type_t *t = &gw->types[req->type_idx];
        pb_encode_opts_t eo;
        pb_serde_enc_t se;
        const pb_json_t *id;
        size_t start = req->enc.len;
        pb_resp_t r;

        memset(&eo, 0, sizeof(eo));
        eo.force_source = req->org;
        eo.fill_event_id = 1;
        eo.fill_occurred_at = 1;
        memset(&se, 0, sizeof(se));
        se.schema = t->schema;
        se.topic = t->topic;
        se.opts = &eo;
        se.codec = w->codec;
        pb_errors_init(&w->errs);
        r = pb_serde_encode_text(gw->serde, &se, w->parser, text, len,
                                 &req->enc, &ev->meta, &w->errs);
        if (se.tree && se.tree->type == PB_JSON_OBJECT &&
            (id = pb_json_get(se.tree, "event_id")) &&
            id->type == PB_JSON_STRING &&
            pb_uuid_parse(id->str, id->len, ev->id) == 0) {
                /* dedup per organisation: another's id is not a duplicate */
                pb_gw_dedup_scope(gw->dedup, req->org, ev->id);
                ev->has_id = 1;
        }
        if (r != PB_OK) {
                if (se.registry_failed)
                        return -2;
                if (w->errs.count == 0)
                        pb_errors_add(&w->errs, "", "%s", pb_err2str(r));
                return -1;
        }
        ev->off = start;
        ev->len = req->enc.len - start;
        return 0;
}

static int cmp_ev_id(const void *a, const void *b) {
        const pb_gw_ev_t *x = *(pb_gw_ev_t *const *)a;
        const pb_gw_ev_t *y = *(pb_gw_ev_t *const *)b;
        int c = memcmp(x->id, y->id, 16);
        if (c)
                return c;
        return x->line < y->line ? -1 : x->line > y->line;
}

static void count_events(pb_gw_t *gw, const char *type, const char *org,
                         const char *outcome, double n) {
        const char *labels[] = {"type",    type,    "org", org,
                                "outcome", outcome, NULL};
        if (n > 0)
                pb_metrics_add(gw->metrics, "partnerbus_gateway_events_total",
                               labels, n);
}

/* The answer for event ev whose ownership check said c (PB_OWN_UNSURE:
 * 503, PB_FOREIGN: 409 naming the owner); 0 for PB_OWNED. */
static unsigned owner_answer(pb_gw_req_t *req, pb_gw_answer_t *ans,
                             const char *type, const char *ptr,
                             const pb_gw_ev_t *ev, pb_own_check_t c,
                             const char *owner, const char *why) {
        pb_gw_t *gw = req->gw;
        if (c == PB_OWN_UNSURE) {
                ans->retry_after_ms = gw->set.retry_after;
                return answer_error(ans, 503, "ownership_unavailable",
                                    "cannot tell who owns %s %.*s (%s); "
                                    "nothing was published, retry",
                                    ptr + 1, (int)ev->meta.key_len,
                                    ev->meta.key, why);
        }
        if (c != PB_FOREIGN)
                return 0;
        count_events(gw, type, req->org, "not_owner", 1);
        answer_error(ans, 409, "not_owner",
                     "%s %.*s belongs to organisation %s: "
                     "only it may publish events about it; "
                     "nothing was published",
                     ptr + 1, (int)ev->meta.key_len, ev->meta.key, owner);
        ans->body.len--; /* the closing brace */
        pb_buf_puts(&ans->body, ",\"owner\":");
        pb_buf_json_str(&ans->body, owner, strlen(owner));
        pb_buf_puts(&ans->body, ",\"pointer\":");
        pb_buf_json_str(&ans->body, ptr, strlen(ptr));
        if (ev->line)
                pb_buf_printf(&ans->body, ",\"line\":%ld", ev->line);
        pb_buf_puts(&ans->body, "}");
        return 409;
}

/* The answer for the verdicts items[0..req->nev) of the ownership
 * claims: the first refused event answers the request; 0 when every event
 * may be published. */
static unsigned own_verdicts(pb_gw_req_t *req, pb_gw_answer_t *ans,
                             const pb_owners_item_t *items, const char *why) {
        pb_gw_t *gw = req->gw;
        const char *type = pb_schema_type(gw->types[req->type_idx].schema);
        const char *ptr = pb_owners_pointer(type);
        unsigned st = 0;
        size_t i;
        for (i = 0; i < req->nev && !st; i++)
                st =
                    owner_answer(req, ans, type, ptr, &req->ev[i], items[i].res,
                                 items[i].owner, why[0] ? why : "unknown");
        return st;
}

/* pb_owners_claim_async's callback, on an ownership thread: the
 * verdicts are in req->own; the request is resumed (on_request then calls
 * pb_gw_publish_claimed). req->lock orders it after the suspend. */
static void claims_done(void *opaque, pb_owners_item_t *items, size_t n,
                        const char *why) {
        pb_gw_req_t *req = opaque;
        pb_gw_t *gw = req->gw;
        (void)items;
        (void)n;
        pthread_mutex_lock(&req->lock);
        snprintf(req->own_why, sizeof(req->own_why), "%s", why ? why : "");
        req->state = PB_GW_ST_CLAIMED;
        if (req->suspended) {
                req->suspended = 0;
                atomic_fetch_sub(&gw->suspended, 1);
                MHD_resume_connection(req->conn);
        }
        pthread_mutex_unlock(&req->lock);
        pb_gw_req_unref(req); /* the claims' reference */
}

#define OWN_SUSPENDED 1 /* check_owners: not an HTTP status */

/* Ownership (services/common/pb_owners.c): first every event is looked up, so
 * an event about another organisation's entity refuses the request before
 * anything is claimed; then entities nobody owns are claimed for the
 * caller, all of a request at once and together with those of every
 * concurrent request (pb_owners_claim_async): the request is suspended
 * until the ownership consumer read its claims back, and no HTTP thread
 * waits for Kafka. 0 when every event may be published, OWN_SUSPENDED
 * when the request waits for its claims, else the status. */
static unsigned check_owners(pb_gw_req_t *req, pb_gw_answer_t *ans) {
        pb_gw_t *gw = req->gw;
        const char *type = pb_schema_type(gw->types[req->type_idx].schema);
        const char *ptr = pb_owners_pointer(type);
        int64_t deadline = pb_mono_ms() + gw->set.publish_timeout;
        char owner[PB_OWNERS_ORG_MAX], why[256];
        pb_owners_item_t *items;
        unsigned st = 0;
        size_t i, unknown = 0;
        int r;
        if (!ptr || !gw->owners)
                return 0;
        for (i = 0; i < req->nev; i++) {
                const pb_gw_ev_t *ev = &req->ev[i];
                pb_own_check_t c;
                r = pb_owners_lookup(gw->owners, type, ev->meta.key,
                                     ev->meta.key_len, owner);
                if (r > 0) {
                        c = strcmp(owner, req->org) ? PB_FOREIGN : PB_OWNED;
                        if (c == PB_FOREIGN)
                                pb_owners_note_refusal(gw->owners);
                } else if (r == 0) {
                        unknown++;
                        continue;
                } else {
                        /* not loaded yet (waits), map full, id too long */
                        c = pb_owners_check(gw->owners, type, ev->meta.key,
                                            ev->meta.key_len, req->org, 0,
                                            deadline, owner, why, sizeof(why));
                        if (c == PB_OWNED)
                                unknown++; /* loaded meanwhile */
                }
                if ((st = owner_answer(req, ans, type, ptr, ev, c, owner, why)))
                        return st;
        }
        if (!unknown)
                return 0; /* every entity known, and the caller's */
        items = calloc(req->nev, sizeof(*items));
        if (!items) {
                ans->retry_after_ms = gw->set.retry_after;
                return answer_error(ans, 503, "ownership_unavailable",
                                    "out of memory; nothing was published, "
                                    "retry");
        }
        for (i = 0; i < req->nev; i++) {
                items[i].key = req->ev[i].meta.key;
                items[i].klen = req->ev[i].meta.key_len;
        }
        /* the callback may come before the suspend: it waits for the lock */
        pthread_mutex_lock(&req->lock);
        r = pb_owners_claim_async(gw->owners, type, items, req->nev, req->org,
                                  deadline, claims_done, req, why, sizeof(why));
        if (r == 1) {
                req->own = items;
                req->state = PB_GW_ST_CLAIMING;
                req->suspended = 1;
                atomic_fetch_add(&gw->suspended, 1);
                atomic_fetch_add(&req->refs, 1); /* the claims' reference */
                MHD_suspend_connection(req->conn);
                pthread_mutex_unlock(&req->lock);
                return OWN_SUSPENDED;
        }
        pthread_mutex_unlock(&req->lock);
        st = own_verdicts(req, ans, items, why);
        free(items);
        return st;
}

static unsigned publish_send(pb_gw_req_t *req, pb_gw_answer_t *ans);

unsigned pb_gw_publish_claimed(pb_gw_req_t *req, pb_gw_answer_t *ans) {
        unsigned st = own_verdicts(req, ans, req->own, req->own_why);
        free(req->own);
        req->own = NULL;
        return st ? st : publish_send(req, ans);
}

unsigned pb_gw_publish(pb_gw_req_t *req, pb_gw_worker_t *w,
                       pb_gw_answer_t *ans) {
        pb_gw_t *gw = req->gw;
        const pb_gw_type_t *t = &gw->types[req->type_idx];
        const char *type = pb_schema_type(t->schema);
        const char *p, *end;
        size_t n = 0, i, ninvalid = 0;
        long line = 0;
        pb_errors_t *agg = NULL;
        pb_gw_ev_t **sorted = NULL;
        int64_t wait;
        unsigned status;

        p = (const char *)req->body.data;
        end = p ? p + req->body.len : p;
        /* 1. count the events */
        if (!req->batch) {
                n = (p && !pb_blank_line(p, req->body.len)) ? 1 : 0;
        } else {
                const char *q = p;
                while (q && q < end) {
                        const char *nl = memchr(q, '\n', (size_t)(end - q));
                        const char *le = nl ? nl : end;
                        if (!pb_blank_line(q, (size_t)(le - q)))
                                n++;
                        q = nl ? nl + 1 : end;
                }
        }
        if (n == 0)
                return answer_error(ans, 400, "empty",
                                    "the body holds no event");
        if (req->batch && n > (size_t)gw->set.max_batch_events)
                return answer_error(
                    ans, 413, "batch_too_large",
                    "the batch holds %zu events, at most %ld are allowed", n,
                    gw->set.max_batch_events);
        req->ev = calloc(n, sizeof(*req->ev));
        if (!req->ev)
                return answer_error(ans, 503, "overloaded", "out of memory");
        pb_buf_init(&req->enc, 0);
        if (pb_buf_reserve(&req->enc, req->body.len + n * 16) != PB_OK)
                return answer_error(ans, 503, "overloaded", "out of memory");

        /* 2. parse, check, encode every event */
        for (i = 0; p && p < end && i < n;) {
                const char *le;
                const char *nl =
                    req->batch ? memchr(p, '\n', (size_t)(end - p)) : NULL;
                pb_gw_ev_t *ev;
                int rc;
                le = nl ? nl : end;
                line++;
                if (pb_blank_line(p, (size_t)(le - p))) {
                        p = nl ? nl + 1 : end;
                        continue;
                }
                ev = &req->ev[i++];
                ev->req = req;
                ev->line = req->batch ? line : 0;
                rc = encode_one(req, w, ev, p, (size_t)(le - p));
                p = nl ? nl + 1 : end;
                if (rc == -2) {
                        char msg[PB_ERRMSG_MAX + 32];
                        pb_errors_format(&w->errs, msg, sizeof(msg));
                        free(agg);
                        return answer_error(ans, 503, "registry_unavailable",
                                            "%s", msg);
                }
                if (rc < 0) {
                        ninvalid++;
                        if (!agg && !(agg = malloc(sizeof(*agg))))
                                return answer_error(ans, 503, "overloaded",
                                                    "out of memory");
                        if (ninvalid == 1)
                                pb_errors_init(agg);
                        merge_errors(agg, &w->errs, ev->line);
                }
        }
        req->nev = i;

        /* 3. the same event_id twice in one batch */
        if (!ninvalid && req->nev > 1) {
                size_t k = 0;
                sorted = malloc(req->nev * sizeof(*sorted));
                if (!sorted)
                        return answer_error(ans, 503, "overloaded",
                                            "out of memory");
                for (i = 0; i < req->nev; i++)
                        if (req->ev[i].has_id)
                                sorted[k++] = &req->ev[i];
                qsort(sorted, k, sizeof(*sorted), cmp_ev_id);
                for (i = 1; i < k; i++)
                        if (!memcmp(sorted[i - 1]->id, sorted[i]->id, 16)) {
                                size_t before;
                                if (!agg && !(agg = malloc(sizeof(*agg)))) {
                                        free(sorted);
                                        return answer_error(ans, 503,
                                                            "overloaded",
                                                            "out of memory");
                                }
                                if (!ninvalid)
                                        pb_errors_init(agg);
                                ninvalid++;
                                before = agg->count;
                                pb_errors_add(agg, "/event_id",
                                              "the same event_id as line %ld "
                                              "of this batch",
                                              sorted[i - 1]->line);
                                if (agg->count > before)
                                        agg->items[agg->count - 1].line =
                                            sorted[i]->line;
                        }
                free(sorted);
        }
        if (ninvalid) {
                count_events(gw, type, req->org, "rejected", (double)ninvalid);
                ans->status = 400;
                pb_buf_reset(&ans->body);
                pb_buf_printf(&ans->body,
                              "{\"error\":\"invalid\",\"message\":\"%zu of "
                              "%zu events invalid; nothing was published\","
                              "\"errors\":",
                              ninvalid, n);
                pb_errors_to_json(agg, &ans->body);
                if (agg->dropped)
                        pb_buf_printf(&ans->body, ",\"more_errors\":%zu",
                                      agg->dropped);
                pb_buf_puts(&ans->body, "}");
                free(agg);
                return 400;
        }
        free(agg);

        /* 4. rate limit: one token per event */
        wait = pb_gw_ratelimit_take(gw->rl, req->org, (double)req->nev,
                                    pb_mono_ms(), 1);
        if (wait > 0) {
                ans->retry_after_ms = wait;
                return answer_error(ans, 429, "rate_limited",
                                    "organisation %s exceeds %ld events/s "
                                    "(burst %ld); retry after %lld ms",
                                    req->org, gw->set.rate, gw->set.burst,
                                    (long long)wait);
        }

        /* 4b. entity ownership: 409 not_owner, nothing published; new
         * entities are claimed while the request is suspended */
        status = check_owners(req, ans);
        if (status == OWN_SUSPENDED)
                return 0;
        if (status)
                return status;
        return publish_send(req, ans);
}

/* Steps 5-7 of pb_gw_publish: dedup window, bound, send. */
static unsigned publish_send(pb_gw_req_t *req, pb_gw_answer_t *ans) {
        pb_gw_t *gw = req->gw;
        const char *type = pb_schema_type(gw->types[req->type_idx].schema);
        const uint8_t **ids = NULL;
        pb_gw_claim_t *claims = NULL;
        pb_gw_result_t *results = NULL;
        size_t i, nnew = 0;
        unsigned status = 0;
        long inflight;

        /* 5. dedup window: claim every client event_id at once */
        ids = calloc(req->nev, sizeof(*ids));
        claims = calloc(req->nev, sizeof(*claims));
        results = calloc(req->nev, sizeof(*results));
        if (!ids || !claims || !results) {
                status = answer_error(ans, 503, "overloaded", "out of memory");
                goto out;
        }
        for (i = 0; i < req->nev; i++)
                ids[i] = req->ev[i].has_id ? req->ev[i].id : NULL;
        if (pb_gw_dedup_claim(gw->dedup, ids, req->nev, pb_mono_ms(), claims,
                              results) < 0) {
                for (i = 0; i < req->nev; i++)
                        if (claims[i] == PB_GW_UNKNOWN)
                                break;
                if (i < req->nev) {
                        /* no Retry-After: retrying does not help */
                        status = answer_error(
                            ans, 409, "outcome_unknown",
                            "event_id %s: an earlier publish of it ended "
                            "without knowing whether Kafka stored it (no "
                            "acknowledgement within --delivery-timeout); "
                            "the gateway does not publish it again for "
                            "--dedup-ttl, so it is never stored twice. "
                            "Look for it in the topic",
                            req->ev[i].meta.event_id);
                        goto out;
                }
                for (i = 0; i < req->nev; i++)
                        if (claims[i] == PB_GW_PENDING)
                                break;
                /* pending may mean Kafka trouble (an earlier attempt
                 * answered 503 at its deadline whose event is still
                 * queued, up to --delivery-timeout): the same back-off
                 * as that 503 */
                ans->retry_after_ms = gw->set.retry_after;
                status = answer_error(
                    ans, 409, "in_flight",
                    "event_id %s is being published by another request "
                    "right now; retry to get its result",
                    i < req->nev ? req->ev[i].meta.event_id : "?");
                goto out;
        }
        for (i = 0; i < req->nev; i++) {
                req->ev[i].claim = claims[i];
                if (claims[i] == PB_GW_DONE)
                        req->ev[i].res = results[i];
                else
                        nnew++;
        }

        /* 6. bound what waits for Kafka */
        inflight =
            atomic_fetch_add(&gw->inflight_events, (long)nnew) + (long)nnew;
        req->reserved_events = (long)nnew;
        if (nnew && inflight > gw->set.max_inflight_events) {
                ans->retry_after_ms = gw->set.retry_after;
                status = answer_error(
                    ans, 503, "overloaded",
                    "%ld events are waiting for Kafka; nothing was "
                    "published, retry later",
                    inflight - (long)nnew);
                goto out_release;
        }

        /* 7. send; the lock keeps delivery reports from finishing the
         * request before it is suspended. The gate (senders, closed: see
         * pb_gw_t) keeps sends from starting after the drain's final
         * flush; seq_cst on both sides, so either the drain sees us in
         * senders or we see closed. */
        atomic_fetch_add(&gw->senders, 1);
        if (nnew && atomic_load(&gw->closed)) {
                atomic_fetch_sub(&gw->senders, 1);
                ans->retry_after_ms = gw->set.retry_after;
                status = answer_error(ans, 503, "shutting_down",
                                      "the gateway is shutting down; nothing "
                                      "was published, retry (another "
                                      "instance)");
                goto out_release;
        }
        pthread_mutex_lock(&req->lock);
        req->t_send_ms = pb_mono_ms();
        for (i = 0; i < req->nev; i++) {
                pb_gw_ev_t *ev = &req->ev[i];
                char err[256];
                pb_resp_t r;
                if (ev->claim != PB_GW_NEW)
                        continue;
                r = pb_producer_send(gw->producer,
                                     gw->types[req->type_idx].topic, type,
                                     &ev->meta, req->enc.data + ev->off,
                                     ev->len, NULL, ev, err, sizeof(err));
                if (r != PB_OK) {
                        ev->failed = 1;
                        snprintf(ev->error, sizeof(ev->error), "%s", err);
                        if (ev->has_id)
                                pb_gw_dedup_release(gw->dedup, ev->id);
                        continue;
                }
                ev->sent = 1;
                req->pending++;
        }
        if (req->pending == 0) {
                req->state = PB_GW_ST_DONE;
                pthread_mutex_unlock(&req->lock);
                atomic_fetch_sub(&gw->senders, 1);
                pb_gw_publish_answer(req, ans);
                status = ans->status;
                goto out;
        }
        req->state = PB_GW_ST_WAITING;
        req->suspended = 1;
        atomic_fetch_add(&gw->suspended, 1);
        /* the reports' reference, dropped by the last one */
        atomic_fetch_add(&req->refs, 1);
        atomic_fetch_add(&gw->awaiting, 1);
        /* the deadline list's reference */
        atomic_fetch_add(&req->refs, 1);
        pthread_mutex_lock(&gw->dl_lock);
        req->deadline_ms = pb_mono_ms() + gw->set.publish_timeout;
        req->in_dl = 1;
        req->dl_next = NULL;
        req->dl_prev = gw->dl_tail;
        if (gw->dl_tail)
                gw->dl_tail->dl_next = req;
        else
                gw->dl_head = req;
        gw->dl_tail = req;
        pthread_mutex_unlock(&gw->dl_lock);
        MHD_suspend_connection(req->conn);
        pthread_mutex_unlock(&req->lock);
        atomic_fetch_sub(&gw->senders, 1);
        status = 0;
        goto out;

out_release:
        for (i = 0; i < req->nev; i++)
                if (req->ev[i].has_id && req->ev[i].claim == PB_GW_NEW)
                        pb_gw_dedup_release(gw->dedup, req->ev[i].id);
out:
        free(ids);
        free(claims);
        free(results);
        return status;
}

/* Takes req off the deadline list if it is on it; the list's reference
 * is then the caller's. 1 if it was. Under gw->dl_lock. */
static int dl_unlink(pb_gw_t *gw, pb_gw_req_t *req) {
        if (!req->in_dl)
                return 0;
        if (req->dl_prev)
                req->dl_prev->dl_next = req->dl_next;
        else
                gw->dl_head = req->dl_next;
        if (req->dl_next)
                req->dl_next->dl_prev = req->dl_prev;
        else
                gw->dl_tail = req->dl_prev;
        req->dl_prev = req->dl_next = NULL;
        req->in_dl = 0;
        return 1;
}

void pb_gw_delivery_cb(void *opaque, void *msg_opaque, pb_resp_t err,
                       const char *errstr, const char *topic, int32_t partition,
                       int64_t offset) {
        pb_gw_ev_t *ev = msg_opaque;
        pb_gw_req_t *req = ev->req;
        pb_gw_t *gw = opaque;
        int last = 0;
        (void)topic;
        /* everything under req->lock: an answer built at the deadline
         * reads these fields while reports still arrive */
        pthread_mutex_lock(&req->lock);
        ev->done = 1;
        if (err == PB_OK) {
                ev->res.partition = partition;
                ev->res.offset = offset;
                ev->res.tag = (uint16_t)req->type_idx;
                if (ev->has_id)
                        pb_gw_dedup_complete(gw->dedup, ev->id, &ev->res,
                                             pb_mono_ms());
        } else {
                ev->failed = 1;
                snprintf(ev->error, sizeof(ev->error), "%s",
                         errstr ? errstr : pb_err2str(err));
                if (err == PB_ERR_UNCERTAIN) {
                        /* may be in Kafka: a retry must not store it
                         * again (docs/gateway.md, "Kafka trouble") */
                        ev->uncertain = 1;
                        if (ev->has_id)
                                pb_gw_dedup_hold(gw->dedup, ev->id,
                                                 pb_mono_ms());
                        pb_log("warn",
                               "cmd=gateway event_id=%s msg=\"outcome "
                               "unknown: %s; held in the dedup window\"",
                               ev->meta.event_id, ev->error);
                } else if (ev->has_id) {
                        pb_gw_dedup_release(gw->dedup, ev->id);
                }
        }
        if (req->answered_early)
                count_events(gw,
                             pb_schema_type(gw->types[req->type_idx].schema),
                             req->org,
                             err == PB_OK              ? "late_published"
                             : err == PB_ERR_UNCERTAIN ? "late_unknown"
                                                       : "late_failed",
                             1);
        if (req->pending > 0 && --req->pending == 0) {
                last = 1;
                req->state = PB_GW_ST_DONE;
                pthread_mutex_lock(&gw->dl_lock);
                if (dl_unlink(gw, req))
                        /* not the last reference: ours is still held */
                        atomic_fetch_sub(&req->refs, 1);
                pthread_mutex_unlock(&gw->dl_lock);
                if (req->suspended) {
                        req->suspended = 0;
                        atomic_fetch_sub(&gw->suspended, 1);
                        MHD_resume_connection(req->conn);
                }
        }
        pthread_mutex_unlock(&req->lock);
        if (last) {
                /* after the unlock: this may free req (answered at its
                 * deadline and completed by MHD already) */
                atomic_fetch_sub(&gw->awaiting, 1);
                pb_gw_req_unref(req);
        }
}

void pb_gw_deadlines_run(pb_gw_t *gw, int64_t now_ms) {
        for (;;) {
                pb_gw_req_t *req;
                pthread_mutex_lock(&gw->dl_lock);
                req = gw->dl_head;
                if (!req || req->deadline_ms > now_ms) {
                        pthread_mutex_unlock(&gw->dl_lock);
                        return;
                }
                /* the list's reference becomes ours: req stays valid
                 * after dl_lock is let go */
                dl_unlink(gw, req);
                pthread_mutex_unlock(&gw->dl_lock);
                pthread_mutex_lock(&req->lock);
                if (req->suspended) {
                        req->timed_out = 1;
                        req->suspended = 0;
                        atomic_fetch_sub(&gw->suspended, 1);
                        MHD_resume_connection(req->conn);
                }
                pthread_mutex_unlock(&req->lock);
                pb_gw_req_unref(req);
        }
}

/* Decimal v (a batch answer has two per event: no printf). */
static void put_int(pb_buf_t *b, int64_t v) {
        char tmp[PB_I64_TEXT_MAX], *s = pb_i64_text(tmp + sizeof(tmp), v);
        pb_buf_append(b, s, (size_t)(tmp + sizeof(tmp) - s));
}

static void result_json(pb_buf_t *b, pb_gw_t *gw, const pb_gw_ev_t *ev,
                        int with_status) {
        pb_buf_puts(b, "{\"event_id\":");
        pb_buf_json_str(b, ev->meta.event_id, strlen(ev->meta.event_id));
        if (ev->failed) {
                pb_buf_puts(b, ev->uncertain
                                   ? ",\"status\":\"unknown\",\"error\":"
                                   : ",\"status\":\"failed\",\"error\":");
                pb_buf_json_str(b, ev->error, strlen(ev->error));
                pb_buf_puts(b, "}");
                return;
        }
        if (ev->sent && !ev->done) {
                pb_buf_puts(b, ",\"status\":\"pending\"}");
                return;
        }
        pb_buf_puts(b, ",\"topic\":");
        pb_buf_json_str(b, gw->types[ev->res.tag].topic,
                        strlen(gw->types[ev->res.tag].topic));
        pb_buf_puts(b, ",\"partition\":");
        put_int(b, ev->res.partition);
        pb_buf_puts(b, ",\"offset\":");
        put_int(b, ev->res.offset);
        if (with_status)
                pb_buf_puts(b, ev->claim == PB_GW_DONE
                                   ? ",\"status\":\"duplicate\""
                                   : ",\"status\":\"published\"");
        pb_buf_puts(b, ev->claim == PB_GW_DONE ? ",\"duplicate\":true}"
                                               : ",\"duplicate\":false}");
}

void pb_gw_publish_answer(pb_gw_req_t *req, pb_gw_answer_t *ans) {
        pb_gw_t *gw = req->gw;
        const char *type = pb_schema_type(gw->types[req->type_idx].schema);
        size_t i, published = 0, dups = 0, failed = 0, pending = 0, unknown = 0;
        for (i = 0; i < req->nev; i++) {
                const pb_gw_ev_t *ev = &req->ev[i];
                if (ev->failed) {
                        failed++;
                        if (ev->uncertain)
                                unknown++;
                } else if (ev->claim == PB_GW_DONE) {
                        dups++;
                } else if (ev->sent && !ev->done) {
                        pending++;
                } else {
                        published++;
                }
        }
        count_events(gw, type, req->org, "published", (double)published);
        count_events(gw, type, req->org, "duplicate", (double)dups);
        count_events(gw, type, req->org, "failed", (double)(failed - unknown));
        count_events(gw, type, req->org, "unknown", (double)unknown);
        count_events(gw, type, req->org, "pending", (double)pending);
        if (pending)
                req->answered_early = 1;
        if (req->t_send_ms && published + failed + pending > 0)
                pb_metrics_observe(
                    gw->metrics, "partnerbus_gateway_publish_latency_seconds",
                    NULL, (double)(pb_mono_ms() - req->t_send_ms) / 1000.0);
        pb_buf_reset(&ans->body);
        /* about 150 bytes per result: one allocation (fails softly) */
        pb_buf_reserve(&ans->body, req->nev * 160 + 256);
        for (i = 0; i < req->nev; i++) /* a result names its topic */
                if (req->ev[i].claim != PB_GW_DONE)
                        req->ev[i].res.tag = (uint16_t)req->type_idx;
        if (failed || pending) {
                char why[200];
                const char *w = why;
                why[0] = 0;
                for (i = 0; i < req->nev; i++)
                        if (req->ev[i].failed) {
                                w = req->ev[i].error;
                                break;
                        }
                if (!failed)
                        snprintf(why, sizeof(why),
                                 "no acknowledgement within %lld ms",
                                 (long long)gw->set.publish_timeout);
                ans->status = 503;
                ans->retry_after_ms = gw->set.retry_after;
                pb_buf_printf(&ans->body,
                              "{\"error\":\"kafka_unavailable\",\"message\":"
                              "\"Kafka did not acknowledge %zu of %zu events "
                              "(",
                              failed + pending, req->nev);
                /* why is from librdkafka: escape it into the message */
                {
                        pb_buf_t tmp;
                        pb_buf_init(&tmp, 0);
                        pb_buf_json_str(&tmp, w, strlen(w));
                        if (tmp.len >= 2)
                                pb_buf_append(&ans->body, tmp.data + 1,
                                              tmp.len - 2);
                        pb_buf_free(&tmp);
                }
                pb_buf_puts(&ans->body,
                            "); retry with the same event_ids: events "
                            "already published are then answered as "
                            "duplicates");
                if (pending)
                        pb_buf_puts(&ans->body,
                                    "; events still pending stay queued "
                                    "for Kafka, a retry meanwhile gets 409");
                pb_buf_printf(&ans->body,
                              "\",\"published\":%zu,\"failed\":%zu,"
                              "\"pending\":%zu,\"results\":[",
                              published + dups, failed, pending);
                for (i = 0; i < req->nev; i++) {
                        if (i)
                                pb_buf_putc(&ans->body, ',');
                        result_json(&ans->body, gw, &req->ev[i], 1);
                }
                pb_buf_puts(&ans->body, "]}");
                return;
        }
        if (!req->batch) {
                ans->status = dups ? 200 : 201;
                result_json(&ans->body, gw, &req->ev[0], 0);
                return;
        }
        ans->status = 200;
        pb_buf_printf(&ans->body,
                      "{\"published\":%zu,\"duplicates\":%zu,\"results\":[",
                      published, dups);
        for (i = 0; i < req->nev; i++) {
                if (i)
                        pb_buf_putc(&ans->body, ',');
                result_json(&ans->body, gw, &req->ev[i], 1);
        }
        pb_buf_puts(&ans->body, "]}");
}

void pb_gw_req_release(pb_gw_req_t *req) {
        pb_gw_t *gw = req->gw;
        if (req->reserved_events) {
                atomic_fetch_sub(&gw->inflight_events, req->reserved_events);
                req->reserved_events = 0;
        }
        if (req->counted_bytes) {
                atomic_fetch_sub(&gw->inflight_bytes, (long)req->counted_bytes);
                req->counted_bytes = 0;
        }
}

void pb_gw_req_unref(pb_gw_req_t *req) {
        pb_gw_t *gw = req->gw;
        if (atomic_fetch_sub(&req->refs, 1) != 1)
                return;
        /* the last reference: no connection, no report, no deadline
         * refers to req any more */
        pb_gw_req_release(req);
        pb_buf_free(&req->body);
        pb_buf_free(&req->enc);
        pb_buf_free(&req->deferred);
        free(req->ev);
        free(req->own);
        pthread_mutex_destroy(&req->lock);
        free(req);
        atomic_fetch_sub(&gw->live_reqs, 1);
}
