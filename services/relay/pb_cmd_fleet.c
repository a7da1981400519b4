/* partnerbus fleet (also `partnerbus relay --fleet`) - runs every active
 * subscription of the self-service records (docs/relay.md, "Fleet").
 *
 * The control thread reads the compacted topics partnerbus.admin.orgs and
 * partnerbus.admin.subscriptions from the beginning, without a group (every
 * process reads all of them), and stays caught up. About four times a
 * second it reconciles: each subscription that is active, whose
 * organisation exists and is not disabled, has a worker; a worker is a
 * thread running the relay's delivery core (pb_cmd_relay.c) with its own
 * consumer in group partnerbus.sub.<id> and its own webhook sink, so
 * several fleet processes share each subscription's partitions through
 * Kafka, and a slow receiver holds up only its own thread.
 *
 * A changed record is built into a new delivery configuration (filters per
 * type: the subscription's where AND the organisation's mandatory read
 * filter; projection; sink; batch; rate; retry) and handed to the running
 * worker, which swaps it in between two batches; only a change of topics
 * restarts the worker. Suspended, deleted, or the organisation disabled:
 * the worker is stopped (it commits what was delivered and leaves the
 * group). A growing retransmit.seq makes the worker seek its partitions to
 * retransmit.from.
 *
 * Status: once a second the statistics of every worker are turned into a
 * status record; it is written to partnerbus.admin.subscription-status
 * when it changed (at most every --status-interval) or every 30 s, by the
 * member that holds partition 0 of the subscription's first topic. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "partnerbus/pb_filter.h"
#include "partnerbus/pb_json.h"
#include "partnerbus/pb_metrics.h"
#include "partnerbus/pb_projection.h"
#include "partnerbus/pb_util.h"
#include "pb_cli.h"
#include "pb_connector.h"
#include "pb_optgroups.h"
#include "pb_opts.h"
#include "pb_relay_int.h"

static const char *cmd = "fleet";

typedef struct fleet_settings {
        const char *subscriptions_topic, *orgs_topic, *status_topic;
        const char *member;
        const char *dlq_suffix;
        int64_t retry_initial, retry_max_backoff, batch_linger, commit_interval,
            status_interval, session_timeout;
        int64_t webhook_timeout, webhook_connect_timeout;
        long max_subscriptions, max_batch;
        size_t queue_kbytes;
        const char *ops_listen;
} fleet_settings_t;

#define O(f) offsetof(fleet_settings_t, f)
static const pb_opt_t fleet_opts[] = {
    PB_OPTG_SUBSCRIPTIONS_TOPIC(O(subscriptions_topic)),
    PB_OPTG_ORGS_TOPIC(O(orgs_topic)),
    PB_OPTG_STATUS_TOPIC(O(status_topic)),
    {"member", 0, PB_OPT_STRING, NULL, "NAME",
     "this process's name in status records (default: HOSTNAME-PID)", 0,
     O(member)},
    PB_OPTG_DLQ_SUFFIX(O(dlq_suffix)),
    PB_OPTG_RETRY_INITIAL(O(retry_initial)),
    PB_OPTG_RETRY_MAX_BACKOFF(O(retry_max_backoff)),
    PB_OPTG_BATCH_LINGER(O(batch_linger)),
    PB_OPTG_COMMIT_INTERVAL(O(commit_interval)),
    {"status-interval", 0, PB_OPT_DURATION, "2s", "DURATION",
     "write a subscription's changed status at most this often", 0,
     O(status_interval)},
    {"session-timeout", 0, PB_OPT_DURATION, "10s", "DURATION",
     "consumer session timeout: how soon the others take over a killed "
     "process's partitions",
     0, O(session_timeout)},
    {"webhook-timeout", 0, PB_OPT_DURATION, "10s", "DURATION",
     "whole request timeout", 0, O(webhook_timeout)},
    {"webhook-connect-timeout", 0, PB_OPT_DURATION, "5s", "DURATION",
     "connect timeout", 0, O(webhook_connect_timeout)},
    {"max-subscriptions", 0, PB_OPT_INT, "1000", "N",
     "run at most N subscriptions (the others are logged and left alone)", 0,
     O(max_subscriptions)},
    {"max-batch", 0, PB_OPT_INT, "1000", "N",
     "largest batch_size a subscription may ask for", 0, O(max_batch)},
    {"queue-size", 0, PB_OPT_SIZE, "1MiB", "SIZE",
     "events fetched ahead per subscription (librdkafka "
     "queued.max.messages.kbytes)",
     0, O(queue_kbytes)},
    PB_OPTG_OPS_LISTEN(O(ops_listen)),
};
#undef O

static const pb_cmd_spec_t fleet_spec = {
    "fleet",
    "run every active subscription of the self-service records",
    "--brokers B [--subscriptions-topic T] [--orgs-topic T]",
    "Reads the subscription and organisation records (compacted topics, "
    "written by\n`partnerbus admin`) and delivers every active "
    "subscription to its webhook, one\nconsumer group "
    "partnerbus.sub.<id> each. Run several for more capacity and\n"
    "fail-over; changes apply within seconds without a restart.\n"
    "\n"
    "Example:\n"
    "  partnerbus fleet -b k1:9092 --ops-listen :9092\n",
    fleet_opts,
    sizeof(fleet_opts) / sizeof(fleet_opts[0]),
    1,
};

/* --- records --- */
typedef struct rec {
        char *id;
        char *text; /* the record's JSON */
        struct rec *next;
} rec_t;

typedef struct worker worker_t;

typedef struct sub {
        char *id;
        char *text;       /* the record, NULL after a tombstone */
        char *applied;    /* record + org record the worker got last */
        char *topics_key; /* the worker's topics, joined */
        int64_t rt_seq;   /* retransmit.seq last seen, -1 none */
        int seen;         /* rt_seq is a baseline */
        int changed;      /* the record changed since the last look */
        unsigned org_gen; /* f->org_gen at the last look */
        int suspended;
        char *error;      /* why it cannot run (bad record), for status */
        int64_t retry_at; /* mono ms: a failed worker starts again */
        worker_t *w;
        /* status */
        char *last_status; /* without updated_at */
        int64_t last_status_ms;
        const char *last_state;
        struct sub *next;
} sub_t;

struct worker {
        pthread_t th;
        pb_relay_link_t link;
        pb_relay_worker_spec_t spec;
        pb_relay_subconf_t *initial;
        char *group;
        char **topics;
        size_t ntopics;
        const char *props[7];
        char propbuf[5][64];
        volatile int exited;
        int failed;
        worker_t *next; /* in the stopping list */
};

typedef struct fleet {
        fleet_settings_t set;
        pb_cli_common_t cc;
        char member[128];
        pb_schemas_t *catalog;
        pb_metrics_t *metrics;
        pb_ops_server_t *ops;
        pb_consumer_t *ctl;
        pb_producer_t *status;
        pb_json_parser_t *jp;
        rec_t *orgs;
        sub_t *subs;
        size_t nsubs_running;
        worker_t *stopping;
        int dirty;
        unsigned org_gen; /* counts organisation record changes */
        int ready;
        pthread_mutex_t sink_mu; /* sink init (curl global init) */
} fleet_t;

static rec_t *rec_find(rec_t *l, const char *id) {
        for (; l; l = l->next)
                if (!strcmp(l->id, id))
                        return l;
        return NULL;
}

static sub_t *sub_find(fleet_t *f, const char *id) {
        sub_t *s;
        for (s = f->subs; s; s = s->next)
                if (!strcmp(s->id, id))
                        return s;
        return NULL;
}

/* --- JSON access --- */
static const char *jstr(const pb_json_t *o, const char *name) {
        const pb_json_t *v = pb_json_get(o, name);
        return v && v->type == PB_JSON_STRING && !memchr(v->str, 0, v->len)
                   ? v->str
                   : NULL;
}

static int jnum(const pb_json_t *o, const char *name, double *out) {
        const pb_json_t *v = pb_json_get(o, name);
        char b[64];
        if (!v || v->type != PB_JSON_NUMBER || v->len >= sizeof(b))
                return 0;
        memcpy(b, v->str, v->len);
        b[v->len] = 0;
        *out = strtod(b, NULL);
        return 1;
}

/* adds "where" (a string or an array of strings) to filter f; 0, or -1 */
static int add_where(pb_filter_t *f, const pb_json_t *w, const char *ptr,
                     char *err, size_t errsz) {
        const pb_json_t *c;
        char e[256];
        if (!w || w->type == PB_JSON_NULL)
                return 0;
        if (w->type == PB_JSON_STRING) {
                if (!w->len)
                        return 0;
                if (memchr(w->str, 0, w->len) ||
                    pb_filter_add(f, w->str, e, sizeof(e)) != PB_OK) {
                        snprintf(err, errsz, "%s: %s", ptr, e);
                        return -1;
                }
                return 0;
        }
        if (w->type != PB_JSON_ARRAY) {
                snprintf(err, errsz, "%s: expected a string", ptr);
                return -1;
        }
        for (c = w->child; c; c = c->next)
                if (add_where(f, c, ptr, err, errsz))
                        return -1;
        return 0;
}

/* strings of an array member into v (at most max), NULL entries skipped */
static size_t jstrings(const pb_json_t *a, const char **v, size_t max,
                       int *too_many) {
        const pb_json_t *c;
        size_t n = 0;
        *too_many = 0;
        if (!a || a->type != PB_JSON_ARRAY)
                return 0;
        for (c = a->child; c; c = c->next) {
                if (c->type != PB_JSON_STRING || memchr(c->str, 0, c->len))
                        continue;
                if (n == max) {
                        *too_many = 1;
                        break;
                }
                v[n++] = c->str;
        }
        return n;
}

/* The delivery configuration of subscription sub of organisation org.
 * NULL with err (a JSON Pointer into the subscription record). */
static pb_relay_subconf_t *build_conf(fleet_t *f, const pb_json_t *sub,
                                      const pb_json_t *org, char *err,
                                      size_t errsz) {
        pb_relay_subconf_t *c = calloc(1, sizeof(*c));
        const char *types[PB_RELAY_TYPES_MAX], *inc[PB_PROJECTION_MAX],
            *exc[PB_PROJECTION_MAX];
        const pb_json_t *proj, *read, *retry;
        const char *endpoint = jstr(sub, "endpoint");
        const char *secret = jstr(sub, "secret");
        const char *bearer = jstr(sub, "bearer");
        const char *agreement = jstr(sub, "agreement");
        size_t nt, ninc, nexc, i;
        int many;
        double d;
        long batch = 1;
        pb_buf_t sj;
        const pb_json_t *sjdoc;
        char e2[512];
        if (!c) {
                snprintf(err, errsz, "out of memory");
                return NULL;
        }
        pb_buf_init(&sj, 0);
        nt = jstrings(pb_json_get(sub, "topics"), types, PB_RELAY_TYPES_MAX,
                      &many);
        if (many || nt == 0) {
                snprintf(err, errsz, "/topics: expected 1 to %d types",
                         PB_RELAY_TYPES_MAX);
                goto fail;
        }
        read = pb_json_get(org, "read");
        for (i = 0; i < nt; i++) {
                const pb_json_t *grant = NULL, *g;
                pb_filter_t *flt;
                char ptr[32];
                /* the organisation's read grant for the type: without one
                 * the type is not delivered at all */
                if (read && read->type == PB_JSON_ARRAY)
                        for (g = read->child; g; g = g->next) {
                                const char *gt = jstr(g, "type");
                                if (gt && !strcmp(gt, types[i]))
                                        grant = g;
                        }
                if (!grant) {
                        pb_log("warn",
                               "subscription=%s type=%s msg=\"the "
                               "organisation may not read this type; it is "
                               "not delivered\"",
                               jstr(sub, "id"), types[i]);
                        continue;
                }
                flt = pb_filter_new();
                c->types[c->ntypes] = strdup(types[i]);
                c->filters[c->ntypes] = flt;
                c->ntypes++;
                if (!flt || !c->types[c->ntypes - 1]) {
                        snprintf(err, errsz, "out of memory");
                        goto fail;
                }
                if (add_where(flt, pb_json_get(sub, "where"), "/where", err,
                              errsz))
                        goto fail;
                /* the mandatory filter: ANDed, so the subscription's own
                 * filter can narrow it but never widen it */
                snprintf(ptr, sizeof(ptr), "org /read/%s/where", "*");
                if (add_where(flt, pb_json_get(grant, "where"), ptr, err,
                              errsz))
                        goto fail;
        }
        proj = pb_json_get(sub, "projection");
        if (proj && proj->type == PB_JSON_OBJECT) {
                int m1, m2;
                ninc = jstrings(pb_json_get(proj, "include"), inc,
                                PB_PROJECTION_MAX, &m1);
                nexc = jstrings(pb_json_get(proj, "exclude"), exc,
                                PB_PROJECTION_MAX, &m2);
                if (m1 || m2) {
                        snprintf(err, errsz,
                                 "/projection: at most %d pointers per list",
                                 PB_PROJECTION_MAX);
                        goto fail;
                }
                if ((ninc || nexc) && !(c->proj = pb_projection_new(
                                            inc, ninc, exc, nexc, err, errsz)))
                        goto fail;
        }
        if (jnum(sub, "batch_size", &d)) {
                if (d < 1 || d > (double)f->set.max_batch) {
                        snprintf(err, errsz, "/batch_size: expected 1..%ld",
                                 f->set.max_batch);
                        goto fail;
                }
                batch = (long)d;
        }
        c->batch_max = (size_t)batch;
        if (jnum(sub, "rate_limit_per_s", &d) && d > 0)
                c->rate_per_s = d;
        c->retry_max_time = 3600 * 1000;
        retry = pb_json_get(sub, "retry");
        if (retry && jnum(retry, "max_elapsed_s", &d) && d >= 0 && d < 1e9)
                c->retry_max_time = (int64_t)(d * 1000);
        if (!endpoint || (strncmp(endpoint, "https://", 8) &&
                          strncmp(endpoint, "http://", 7))) {
                snprintf(err, errsz, "/endpoint: expected an http(s) URL");
                goto fail;
        }
        if (!secret || !*secret) {
                snprintf(err, errsz,
                         "/secret: missing (deliveries are "
                         "always signed)");
                goto fail;
        }
        /* the sink's options from the record, through its own table */
        pb_buf_printf(&sj,
                      "{\"batch-size\":%ld,\"timeout\":\"%lldms\","
                      "\"connect-timeout\":\"%lldms\",\"secret\":",
                      batch, (long long)f->set.webhook_timeout,
                      (long long)f->set.webhook_connect_timeout);
        pb_buf_json_str(&sj, secret, strlen(secret));
        if (bearer && *bearer) {
                pb_buf_puts(&sj, ",\"token\":");
                pb_buf_json_str(&sj, bearer, strlen(bearer));
        }
        if (agreement && *agreement) {
                pb_buf_puts(&sj, ",\"agreement\":");
                pb_buf_json_str(&sj, agreement, strlen(agreement));
        }
        if (pb_buf_putc(&sj, '}') != PB_OK) {
                snprintf(err, errsz, "out of memory");
                goto fail;
        }
        c->plugin = &pb_sink_webhook;
        c->sink_jp = pb_json_parser_new(NULL);
        c->sink_settings = pb_sink_settings_new(c->plugin, e2, sizeof(e2));
        if (!c->sink_jp || !c->sink_settings) {
                snprintf(err, errsz, "sink settings: %s", e2);
                goto fail;
        }
        sjdoc = pb_json_parse(c->sink_jp, (const char *)sj.data, sj.len, e2,
                              sizeof(e2));
        if (!sjdoc || pb_sink_settings_json(c->plugin, c->sink_settings, sjdoc,
                                            "", e2, sizeof(e2))) {
                snprintf(err, errsz, "sink settings: %s", e2);
                goto fail;
        }
        pthread_mutex_lock(&f->sink_mu);
        c->sink = c->plugin->init(endpoint, c->sink_settings, e2, sizeof(e2));
        pthread_mutex_unlock(&f->sink_mu);
        if (!c->sink) {
                snprintf(err, errsz, "/endpoint: %s", e2);
                goto fail;
        }
        pb_buf_free(&sj);
        return c;
fail:
        pb_buf_free(&sj);
        pb_relay_subconf_free(c);
        return NULL;
}

/* --- workers --- */
static void *worker_main(void *arg) {
        worker_t *w = arg;
        char err[512];
        relay_t *r = pb_relay_worker_new(&w->spec, w->initial, &w->link, err,
                                         sizeof(err));
        w->initial = NULL; /* the worker's now, also after a failure */
        if (!r) {
                pb_log("error", "group=%s msg=\"worker: %s\"", w->group, err);
                w->failed = 1;
        } else {
                if (pb_relay_worker_run(r))
                        w->failed = 1;
                pb_relay_worker_destroy(r);
        }
        __atomic_store_n(&w->exited, 1, __ATOMIC_RELEASE);
        return NULL;
}

static void worker_free(worker_t *w) {
        size_t i;
        pb_relay_subconf_free(w->initial);
        pb_relay_subconf_free(w->link.pending);
        pthread_mutex_destroy(&w->link.mu);
        for (i = 0; i < w->ntopics; i++)
                free(w->topics[i]);
        free(w->topics);
        free(w->group);
        free(w);
}

static worker_t *worker_start(fleet_t *f, const char *id,
                              const pb_json_t *topics, pb_relay_subconf_t *c) {
        worker_t *w = calloc(1, sizeof(*w));
        const char *tv[PB_RELAY_TYPES_MAX];
        size_t n, i;
        int many;
        pthread_attr_t at;
        if (!w) {
                pb_relay_subconf_free(c);
                return NULL;
        }
        pthread_mutex_init(&w->link.mu, NULL);
        w->link.retransmit_from = -1;
        w->initial = c;
        n = jstrings(topics, tv, PB_RELAY_TYPES_MAX, &many);
        w->topics = calloc(n ? n : 1, sizeof(char *));
        w->group = malloc(strlen(id) + 32);
        if (!w->topics || !w->group)
                goto fail;
        sprintf(w->group, "partnerbus.sub.%s", id);
        for (i = 0; i < n; i++) {
                char buf[512];
                pb_kafka_topic(&f->cc.kconf, tv[i], buf, sizeof(buf));
                if (!(w->topics[w->ntopics] = strdup(buf)))
                        goto fail;
                w->ntopics++;
        }
        {
                /* what a subscription fetches ahead stays near
                 * --queue-size: the local queue, and each fetch (at least
                 * librdkafka's message.max.bytes) */
                size_t q = f->set.queue_kbytes;
                size_t fmax = q < 1048576 ? 1048576 : q;
                snprintf(w->propbuf[0], sizeof(w->propbuf[0]),
                         "queued.max.messages.kbytes=%zu",
                         q / 1024 ? q / 1024 : 1);
                snprintf(w->propbuf[1], sizeof(w->propbuf[1]),
                         "fetch.max.bytes=%zu", fmax);
                snprintf(w->propbuf[2], sizeof(w->propbuf[2]),
                         "max.partition.fetch.bytes=%zu",
                         q / 4 > 65536 ? q / 4 : 65536);
                snprintf(w->propbuf[3], sizeof(w->propbuf[3]),
                         "session.timeout.ms=%lld",
                         (long long)f->set.session_timeout);
                snprintf(w->propbuf[4], sizeof(w->propbuf[4]),
                         "heartbeat.interval.ms=%lld",
                         (long long)(f->set.session_timeout / 4 > 100
                                         ? f->set.session_timeout / 4
                                         : 100));
                for (i = 0; i < 5; i++)
                        w->props[i] = w->propbuf[i];
                w->props[5] = "queued.min.messages=10000";
                /* a topic that appears after the subscription (no event
                 * of the type published yet) is found within a minute */
                w->props[6] = "topic.metadata.refresh.interval.ms=60000";
        }
        w->spec.cc = &f->cc;
        w->spec.group = w->group;
        w->spec.topics = (const char *const *)w->topics;
        w->spec.ntopics = w->ntopics;
        w->spec.catalog = f->catalog;
        w->spec.metrics = f->metrics;
        w->spec.dlq_suffix = f->set.dlq_suffix;
        w->spec.retry_initial = f->set.retry_initial;
        w->spec.retry_max_backoff = f->set.retry_max_backoff;
        w->spec.batch_linger = f->set.batch_linger;
        w->spec.commit_interval = f->set.commit_interval;
        /* the pipeline holds about what --queue-size fetches ahead */
        w->spec.max_pending = 10000;
        w->spec.max_pending_bytes = f->set.queue_kbytes;
        w->spec.props = w->props;
        w->spec.nprops = 7;
        pthread_attr_init(&at);
        /* the core's frames are small; librdkafka's threads are its own */
        pthread_attr_setstacksize(&at, 512 * 1024);
        if (pthread_create(&w->th, &at, worker_main, w)) {
                pthread_attr_destroy(&at);
                goto fail;
        }
        pthread_attr_destroy(&at);
        return w;
fail:
        pb_log("error", "subscription=%s msg=\"cannot start a worker\"", id);
        worker_free(w);
        return NULL;
}

/* Asks w to stop; it is joined later (reap), so a slow receiver's last
 * attempt never holds up the control thread. */
static void worker_stop(fleet_t *f, worker_t *w) {
        if (!w)
                return;
        w->link.stop = 1;
        w->next = f->stopping;
        f->stopping = w;
}

static void reap(fleet_t *f, int wait) {
        worker_t **pp = &f->stopping;
        while (*pp) {
                worker_t *w = *pp;
                if (wait || __atomic_load_n(&w->exited, __ATOMIC_ACQUIRE)) {
                        pthread_join(w->th, NULL);
                        *pp = w->next;
                        worker_free(w);
                } else {
                        pp = &w->next;
                }
        }
}

/* --- status --- */
static void iso(int64_t ms, char *out, size_t n) {
        pb_rfc3339_format(ms, out, n);
}

static void status_send(fleet_t *f, sub_t *s, const char *state,
                        const pb_relay_stats_t *st) {
        pb_buf_t b;
        char t[40], e[256];
        size_t k, n;
        int64_t now = pb_now_ms(), mono = pb_mono_ms();
        pb_buf_init(&b, 0);
        pb_buf_puts(&b, "{\"id\":");
        pb_buf_json_str(&b, s->id, strlen(s->id));
        pb_buf_printf(&b, ",\"state\":\"%s\"", state);
        if (st) {
                pb_buf_printf(&b, ",\"lag_events\":%lld,\"lag_seconds\":%lld",
                              (long long)st->lag_events,
                              (long long)st->lag_seconds);
                if (st->last_delivery_ms) {
                        iso(st->last_delivery_ms, t, sizeof(t));
                        pb_buf_printf(&b, ",\"last_delivery_at\":\"%s\"", t);
                } else {
                        pb_buf_puts(&b, ",\"last_delivery_at\":null");
                }
                if (st->last_success_ms) {
                        iso(st->last_success_ms, t, sizeof(t));
                        pb_buf_printf(&b, ",\"last_success_at\":\"%s\"", t);
                } else {
                        pb_buf_puts(&b, ",\"last_success_at\":null");
                }
                pb_buf_printf(&b, ",\"delivered\":%ld,\"failed\":%ld",
                              st->delivered, st->failed);
                pb_buf_puts(&b, ",\"errors\":[");
                n = st->nerrors < PB_RELAY_RING ? st->nerrors : PB_RELAY_RING;
                for (k = 0; k < n; k++) {
                        const pb_relay_err_t *er =
                            &st->errors[(st->nerrors - n + k) % PB_RELAY_RING];
                        iso(er->at_ms, t, sizeof(t));
                        pb_buf_printf(&b,
                                      "%s{\"at\":\"%s\",\"status\":%d,"
                                      "\"message\":",
                                      k ? "," : "", t, er->status);
                        pb_buf_json_str(&b, er->message, strlen(er->message));
                        pb_buf_putc(&b, '}');
                }
                pb_buf_puts(&b, "],\"dead_letters\":[");
                n = st->ndead < PB_RELAY_RING ? st->ndead : PB_RELAY_RING;
                for (k = 0; k < n; k++) {
                        const pb_relay_dead_t *d =
                            &st->dead[(st->ndead - n + k) % PB_RELAY_RING];
                        iso(d->at_ms, t, sizeof(t));
                        pb_buf_printf(&b, "%s{\"at\":\"%s\",\"event_id\":",
                                      k ? "," : "", t);
                        pb_buf_json_str(&b, d->event_id, strlen(d->event_id));
                        pb_buf_puts(&b, ",\"topic\":");
                        pb_buf_json_str(&b, d->topic, strlen(d->topic));
                        pb_buf_printf(&b,
                                      ",\"partition\":%d,\"offset\":%lld,"
                                      "\"reason\":",
                                      (int)d->partition, (long long)d->offset);
                        pb_buf_json_str(&b, d->reason, strlen(d->reason));
                        pb_buf_putc(&b, '}');
                }
                pb_buf_putc(&b, ']');
        } else if (s->error) {
                pb_buf_puts(&b, ",\"errors\":[{\"at\":null,\"status\":0,"
                                "\"message\":");
                pb_buf_json_str(&b, s->error, strlen(s->error));
                pb_buf_puts(&b, "}]");
        }
        pb_buf_puts(&b, ",\"member\":");
        pb_buf_json_str(&b, f->member, strlen(f->member));
        /* unchanged (but for updated_at) and recent: not written again */
        if (s->last_status && !strcmp(s->last_status, (char *)b.data) &&
            mono - s->last_status_ms < 30000) {
                pb_buf_free(&b);
                return;
        }
        if (s->last_status &&
            mono - s->last_status_ms < f->set.status_interval) {
                pb_buf_free(&b);
                return;
        }
        free(s->last_status);
        s->last_status = strdup((char *)b.data);
        s->last_status_ms = mono;
        if (s->last_state != state)
                pb_log("info", "subscription=%s state=%s", s->id, state);
        s->last_state = state;
        iso(now, t, sizeof(t));
        pb_buf_printf(&b, ",\"updated_at\":\"%s\"}", t);
        if (pb_producer_send_raw(f->status, f->set.status_topic, s->id,
                                 strlen(s->id), b.data, b.len, NULL, NULL, e,
                                 sizeof(e)) != PB_OK)
                pb_log("warn", "subscription=%s msg=\"status: %s\"", s->id, e);
        pb_producer_poll(f->status, 0);
        pb_buf_free(&b);
}

/* the state from a worker's statistics (docs/relay.md, "Status") */
static const char *status_state(const pb_relay_stats_t *st) {
        int64_t now = pb_now_ms();
        if (st->consecutive_failures >= 3 && st->last_failure_transport)
                return "UNREACHABLE";
        if (st->consecutive_failures >= 3 ||
            (st->last_dead_ms && now - st->last_dead_ms < 5 * 60 * 1000))
                return "MALFUNCTIONING";
        if (st->lag_seconds >= 60 || st->lag_events >= 10000)
                return "LAGGING";
        return "HEALTHY";
}

static void status_pass(fleet_t *f) {
        sub_t *s;
        for (s = f->subs; s; s = s->next) {
                pb_relay_stats_t st;
                if (!s->text)
                        continue;
                if (!s->w) {
                        /* suspended, organisation disabled or a bad record:
                         * every member says so (the same record) */
                        status_send(f, s,
                                    s->suspended || !s->error
                                        ? "SUSPENDED"
                                        : "MALFUNCTIONING",
                                    NULL);
                        continue;
                }
                pthread_mutex_lock(&s->w->link.mu);
                st = s->w->link.stats;
                pthread_mutex_unlock(&s->w->link.mu);
                if (!st.holds_first)
                        continue; /* another member reports */
                status_send(f, s, status_state(&st), &st);
        }
}

/* --- reconcile --- */
static void sub_stop(fleet_t *f, sub_t *s) {
        if (s->w) {
                pb_log("info", "subscription=%s msg=\"stopping\"", s->id);
                worker_stop(f, s->w);
                s->w = NULL;
                f->nsubs_running--;
        }
        free(s->applied);
        s->applied = NULL;
        free(s->topics_key);
        s->topics_key = NULL;
}

static void set_error(sub_t *s, const char *e) {
        free(s->error);
        s->error = e ? strdup(e) : NULL;
}

static void reconcile_one(fleet_t *f, sub_t *s) {
        const pb_json_t *doc, *org = NULL, *rt, *topics;
        rec_t *orec;
        const char *state, *orgid;
        char err[512], *key, *tkey;
        pb_buf_t kb, tb;
        pb_relay_subconf_t *c;
        int64_t seq = -1;
        double d;
        int exited = s->w && __atomic_load_n(&s->w->exited, __ATOMIC_ACQUIRE);
        /* nothing to look at: the common case, kept cheap for many
         * subscriptions */
        if (!s->changed && s->org_gen == f->org_gen && !exited &&
            !(s->retry_at && pb_mono_ms() >= s->retry_at))
                return;
        s->changed = 0;
        s->org_gen = f->org_gen;
        s->retry_at = 0;
        if (exited) {
                /* a worker that failed (Kafka, sink flush): again in 5 s */
                pb_log("warn",
                       "subscription=%s msg=\"worker ended; "
                       "restarting in 5 s\"",
                       s->id);
                sub_stop(f, s);
                s->retry_at = pb_mono_ms() + 5000;
                return;
        }
        if (!s->text) {
                sub_stop(f, s);
                if (s->last_status) {
                        /* deleted: so is its status */
                        char e[256];
                        if (pb_producer_send_raw(f->status, f->set.status_topic,
                                                 s->id, strlen(s->id), NULL, 0,
                                                 NULL, NULL, e,
                                                 sizeof(e)) != PB_OK)
                                pb_log("warn",
                                       "subscription=%s msg=\"status: %s\"",
                                       s->id, e);
                        free(s->last_status);
                        s->last_status = NULL;
                        s->last_state = NULL;
                }
                return;
        }
        doc = pb_json_parse(f->jp, s->text, strlen(s->text), err, sizeof(err));
        if (!doc || doc->type != PB_JSON_OBJECT) {
                set_error(s, "the record is not a JSON object");
                sub_stop(f, s);
                return;
        }
        state = jstr(doc, "state");
        orgid = jstr(doc, "org");
        orec = orgid ? rec_find(f->orgs, orgid) : NULL;
        if (orec && !orec->text)
                orec = NULL; /* deleted */
        s->suspended = state && strcmp(state, "active");
        rt = pb_json_get(doc, "retransmit");
        if (rt && jnum(rt, "seq", &d))
                seq = (int64_t)d;
        topics = pb_json_get(doc, "topics");
        /* the retransmit baseline: what the record said when first seen */
        if (!s->seen) {
                s->seen = 1;
                s->rt_seq = seq;
        }
        if (s->suspended) {
                sub_stop(f, s);
                /* a retransmit asked for while suspended is done when it
                 * runs again */
                set_error(s, NULL);
                return;
        }
        pb_buf_init(&kb, 0);
        pb_buf_init(&tb, 0);
        pb_buf_puts(&kb, s->text);
        pb_buf_putc(&kb, '\n');
        if (orec)
                pb_buf_puts(&kb, orec->text);
        /* the retransmit fields alone do not rebuild the settings */
        pb_buf_printf(&tb, "%s", "");
        if (topics)
                pb_json_write(topics, &tb);
        key = (char *)kb.data;
        tkey = (char *)tb.data;
        if (!key || !tkey) {
                pb_buf_free(&kb);
                pb_buf_free(&tb);
                return;
        }
        if (s->w && s->applied && !strcmp(s->applied, key))
                goto retransmit; /* nothing changed */
        if (!orec) {
                set_error(s, "organisation unknown");
                s->suspended = 1; /* reported as SUSPENDED, with why */
                sub_stop(f, s);
                goto out;
        }
        {
                pb_json_parser_t *ojp = pb_json_parser_new(NULL);
                char e2[256];
                const pb_json_t *dis;
                if (!ojp)
                        goto out;
                /* the subscription's tree lives in f->jp; the org's here */
                org = pb_json_parse(ojp, orec->text, strlen(orec->text), e2,
                                    sizeof(e2));
                dis = org ? pb_json_get(org, "disabled") : NULL;
                if (!org || org->type != PB_JSON_OBJECT ||
                    (dis && dis->type == PB_JSON_TRUE)) {
                        pb_json_parser_destroy(ojp);
                        set_error(s, "organisation disabled");
                        s->suspended = 1;
                        sub_stop(f, s);
                        goto out;
                }
                if (!s->w &&
                    f->nsubs_running >= (size_t)f->set.max_subscriptions) {
                        pb_json_parser_destroy(ojp);
                        s->retry_at = pb_mono_ms() + 5000;
                        set_error(s, "this fleet process runs its maximum "
                                     "of subscriptions");
                        goto out;
                }
                c = build_conf(f, doc, org, err, sizeof(err));
                pb_json_parser_destroy(ojp);
        }
        if (!c) {
                pb_log("warn", "subscription=%s msg=\"not run: %s\"", s->id,
                       err);
                set_error(s, err);
                sub_stop(f, s);
                /* remembered, so the same bad record is not built again */
                s->applied = strdup(key);
                goto out;
        }
        set_error(s, NULL);
        if (s->w && s->topics_key && !strcmp(s->topics_key, tkey)) {
                /* same topics: the running worker swaps the settings in */
                pthread_mutex_lock(&s->w->link.mu);
                pb_relay_subconf_free(s->w->link.pending);
                s->w->link.pending = c;
                pthread_mutex_unlock(&s->w->link.mu);
                pb_log("info", "subscription=%s msg=\"settings changed\"",
                       s->id);
        } else {
                sub_stop(f, s);
                s->w = worker_start(f, s->id, topics, c);
                if (!s->w) {
                        s->retry_at = pb_mono_ms() + 5000;
                        goto out;
                }
                f->nsubs_running++;
                s->topics_key = strdup(tkey);
        }
        free(s->applied);
        s->applied = strdup(key);
retransmit:
        if (seq > s->rt_seq && s->w) {
                const char *from = rt ? jstr(rt, "from") : NULL;
                int64_t ms;
                if (from && pb_rfc3339_parse(from, strlen(from), &ms) == 0) {
                        pthread_mutex_lock(&s->w->link.mu);
                        s->w->link.retransmit_from = ms;
                        pthread_mutex_unlock(&s->w->link.mu);
                        pb_log("info",
                               "subscription=%s seq=%lld msg=\"retransmit\" "
                               "from=%s",
                               s->id, (long long)seq, from);
                } else {
                        pb_log("warn",
                               "subscription=%s msg=\"retransmit "
                               "without a valid from\"",
                               s->id);
                }
        }
        if (seq > s->rt_seq || !s->w)
                s->rt_seq = seq;
out:
        pb_buf_free(&kb);
        pb_buf_free(&tb);
}

static void reconcile(fleet_t *f) {
        sub_t *s;
        for (s = f->subs; s; s = s->next)
                reconcile_one(f, s);
        reap(f, 0);
}

/* --- records from the control consumer --- */
static void record(fleet_t *f, const pb_message_t *m) {
        char id[256];
        int is_sub = !strcmp(m->topic, f->set.subscriptions_topic);
        if (!m->key || m->key_len == 0 || m->key_len >= sizeof(id) ||
            memchr(m->key, 0, m->key_len))
                return;
        memcpy(id, m->key, m->key_len);
        id[m->key_len] = 0;
        if (m->value && m->len > 4 * 1024 * 1024)
                return; /* far beyond any record admin writes */
        if (is_sub) {
                sub_t *s = sub_find(f, id);
                if (!s) {
                        if (!m->value || !m->len)
                                return;
                        s = calloc(1, sizeof(*s));
                        if (!s || !(s->id = strdup(id))) {
                                free(s);
                                return;
                        }
                        s->rt_seq = -1;
                        s->next = f->subs;
                        f->subs = s;
                }
                free(s->text);
                s->text = m->value && m->len ? strndup(m->value, m->len) : NULL;
                s->changed = 1;
        } else {
                rec_t *r = rec_find(f->orgs, id);
                if (!r) {
                        if (!m->value || !m->len)
                                return;
                        r = calloc(1, sizeof(*r));
                        if (!r || !(r->id = strdup(id))) {
                                free(r);
                                return;
                        }
                        r->next = f->orgs;
                        f->orgs = r;
                }
                free(r->text);
                r->text = m->value && m->len ? strndup(m->value, m->len) : NULL;
                f->org_gen++;
        }
        f->dirty = 1;
}

static int fleet_ready(void *opaque, char *reason, size_t reason_size) {
        fleet_t *f = opaque;
        return pb_cli_ready(f->ready, "reading the records", reason,
                            reason_size);
}

static void status_cb(void *opaque, void *msg_opaque, pb_resp_t err,
                      const char *errstr, const char *topic, int32_t partition,
                      int64_t offset) {
        (void)opaque;
        (void)msg_opaque;
        (void)partition;
        (void)offset;
        if (err != PB_OK)
                pb_log("warn", "topic=%s msg=\"status not written: %s\"", topic,
                       errstr ? errstr : "");
}

static int ensure_topics(fleet_t *f) {
        static const char *const compact[] = {"cleanup.policy", "compact",
                                              NULL};
        const char *names[3] = {f->set.subscriptions_topic, f->set.orgs_topic,
                                f->set.status_topic};
        size_t i;
        for (i = 0; i < 3; i++) {
                pb_topic_spec_t sp = {names[i], 1, -1, compact, 10000};
                char err[256];
                pb_topic_res_t r = pb_kafka_topic_ensure(
                    pb_producer_rk(f->status), &sp, err, sizeof(err));
                if (r == PB_TOPIC_ERROR || r == PB_TOPIC_REFUSED) {
                        pb_log("error", "topic=%s msg=\"cannot create: %s\"",
                               names[i], err);
                        return -1;
                }
        }
        return 0;
}

int pb_cmd_fleet(int argc, char **argv) {
        fleet_t *f = calloc(1, sizeof(*f));
        int rc, status = PB_EXIT_FAIL;
        char err[512], host[64];
        const char *ctl_topics[2];
        pb_consumer_opts_t copts;
        int64_t last_rec = 0, last_status = 0;
        if (!f)
                return PB_EXIT_FAIL;
        pthread_mutex_init(&f->sink_mu, NULL);
        rc = pb_opts_parse_args(&fleet_spec, &f->set, &f->cc, argc, argv);
        if (rc >= 0) {
                free(f);
                pb_opts_free();
                return rc;
        }
        if (!pb_cli_require_brokers(cmd, &f->cc)) {
                status = PB_EXIT_USAGE;
                goto done;
        }
        if (f->set.max_batch < 1 || f->set.max_batch > 100000 ||
            f->set.max_subscriptions < 1) {
                status =
                    pb_cli_usage_error(cmd, "--max-batch expects 1..100000 and "
                                            "--max-subscriptions at least 1");
                goto done;
        }
        if (f->set.member) {
                snprintf(f->member, sizeof(f->member), "%s", f->set.member);
        } else {
                if (gethostname(host, sizeof(host)))
                        snprintf(host, sizeof(host), "fleet");
                host[sizeof(host) - 1] = 0;
                snprintf(f->member, sizeof(f->member), "%s-%d", host,
                         (int)getpid());
        }
        {
                /* each subscription holds about 10 descriptors (broker
                 * connections, librdkafka's wake-up pipes, the receiver's
                 * connection): take the hard limit */
                struct rlimit rl;
                if (!getrlimit(RLIMIT_NOFILE, &rl) &&
                    rl.rlim_cur < rl.rlim_max) {
                        rl.rlim_cur = rl.rlim_max;
                        setrlimit(RLIMIT_NOFILE, &rl);
                }
                if (!getrlimit(RLIMIT_NOFILE, &rl) &&
                    rl.rlim_cur != RLIM_INFINITY &&
                    rl.rlim_cur / 12 < (rlim_t)f->set.max_subscriptions)
                        pb_log("warn",
                               "open_files=%llu max_subscriptions=%ld "
                               "msg=\"the open-file limit allows about %llu "
                               "subscriptions; raise it (LimitNOFILE=) or "
                               "lower --max-subscriptions\"",
                               (unsigned long long)rl.rlim_cur,
                               f->set.max_subscriptions,
                               (unsigned long long)(rl.rlim_cur / 12));
        }
        if (!(f->catalog = pb_cli_load_schemas(cmd, &f->cc)))
                goto done;
        if (!(f->metrics = pb_metrics_new()) ||
            !(f->jp = pb_json_parser_new(NULL)))
                goto done;
        pb_relay_declare_metrics(f->metrics);
        pb_metrics_declare(f->metrics, "partnerbus_fleet_subscriptions",
                           "gauge", "subscriptions this process runs", NULL, 0);
        if (pb_cli_ops_start(f->set.ops_listen, f->metrics, fleet_ready, f,
                             &f->ops))
                goto done;
        f->status =
            pb_producer_new(&f->cc.kconf, status_cb, f, err, sizeof(err));
        if (!f->status) {
                pb_log("error", "msg=\"status producer: %s\"", err);
                goto done;
        }
        if (ensure_topics(f))
                goto done;
        memset(&copts, 0, sizeof(copts));
        copts.group = NULL; /* every process reads every record */
        copts.from_beginning = 1;
        ctl_topics[0] = f->set.subscriptions_topic;
        ctl_topics[1] = f->set.orgs_topic;
        f->ctl = pb_consumer_new(&f->cc.kconf, &copts, ctl_topics, 2, err,
                                 sizeof(err));
        if (!f->ctl) {
                pb_log("error", "msg=\"records consumer: %s\"", err);
                goto done;
        }
        pb_cli_trap_signals();
        pb_log("info",
               "msg=\"fleet started\" member=%s subscriptions=%s "
               "orgs=%s",
               f->member, f->set.subscriptions_topic, f->set.orgs_topic);
        status = PB_EXIT_OK;
        while (!pb_cli_stop) {
                pb_message_t m;
                pb_resp_t pr;
                int64_t now;
                int n = 0;
                pr = pb_consumer_poll(f->ctl, &m, 100, err, sizeof(err));
                while (pr == PB_OK && n++ < 1000) {
                        record(f, &m);
                        pb_message_release(&m);
                        pr = pb_consumer_poll(f->ctl, &m, 0, err, sizeof(err));
                }
                if (pr == PB_OK) {
                        record(f, &m);
                        pb_message_release(&m);
                } else if (pr != PB_ERR_TIMEOUT) {
                        pb_log("warn", "msg=\"records consumer: %s\"", err);
                }
                f->ready = 1;
                now = pb_mono_ms();
                if (f->dirty || now - last_rec >= 250) {
                        f->dirty = 0;
                        last_rec = now;
                        reconcile(f);
                        pb_metrics_set(f->metrics,
                                       "partnerbus_fleet_subscriptions", NULL,
                                       (double)f->nsubs_running);
                }
                if (now - last_status >= 1000) {
                        last_status = now;
                        status_pass(f);
                }
                pb_producer_poll(f->status, 0);
        }
        pb_log("info", "msg=\"fleet stopping\" subscriptions=%zu",
               f->nsubs_running);
done : {
        sub_t *s, *sn;
        rec_t *r, *rn;
        for (s = f->subs; s; s = sn) {
                sn = s->next;
                if (s->w)
                        worker_stop(f, s->w);
                free(s->id);
                free(s->text);
                free(s->applied);
                free(s->topics_key);
                free(s->error);
                free(s->last_status);
                free(s);
        }
        for (r = f->orgs; r; r = rn) {
                rn = r->next;
                free(r->id);
                free(r->text);
                free(r);
        }
}
        reap(f, 1);
        pb_consumer_destroy(f->ctl);
        pb_producer_destroy(f->status);
        pb_ops_server_destroy(f->ops);
        pb_metrics_destroy(f->metrics);
        pb_schemas_destroy(f->catalog);
        pb_json_parser_destroy(f->jp);
        pthread_mutex_destroy(&f->sink_mu);
        free(f);
        pb_opts_free();
        return status;
}
