/* partnerbus gateway - NGOs and municipalities push events over HTTP(S).
 *
 * Startup: options (pb_opts: flag > PARTNERBUS_* > config file > default),
 * schemas, tokens, producer (idempotent, acks=all, message.timeout.ms =
 * --delivery-timeout), the producer's poll thread (delivery reports resume
 * suspended requests, and so do their --publish-timeout deadlines), a
 * readiness thread (Kafka metadata every second), then libmicrohttpd.
 *
 * Signals: SIGHUP re-reads the tokens file (connections stay; a bad file
 * keeps the old tokens). SIGTERM/SIGINT: stop accepting
 * (MHD_quiesce_daemon), answer new requests on open connections with 503
 * + Connection: close, wait for requests in flight, flush the producer,
 * exit 0. See docs/gateway.md. */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "pb_cli.h"
#include "pb_cli_http.h"
#include "pb_gw_server.h"
#include "pb_optgroups.h"
#include "pb_opts.h"

#define CMD    "gateway"
#define OFF(f) offsetof(pb_gw_settings_t, f)

static const pb_opt_t gw_opts[] = {
    PB_OPTG_LISTEN("127.0.0.1:8080", OFF(http.listen)),
    {"tokens", 't', PB_OPT_STRING, NULL, "FILE",
     "tokens file: lines 'ORG SHA256-HEX TYPES' (docs/gateway.md); re-read "
     "on SIGHUP (required unless --admin-topics)",
     0, OFF(tokens)},
    PB_OPTG_TLS(OFF(http)),
    {"threads", 0, PB_OPT_INT, "2", "N",
     "HTTP threads (an epoll set each; 1: one thread with poll())", 0,
     OFF(http.threads)},
    {"max-connections", 0, PB_OPT_INT, "1024", "N",
     "open connections at most; more are refused", 0, OFF(max_connections)},
    {"max-connections-per-address", 0, PB_OPT_INT, "-1", "N",
     "open connections from one client address at most (-1: "
     "max(4, --max-connections/8); 0: no limit, e.g. behind a proxy)",
     0, OFF(max_conn_per_address)},
    {"header-timeout", 0, PB_OPT_DURATION, "10s", "DURATION",
     "close a connection whose request head is not complete this long after "
     "it was opened (however slowly bytes trickle in)",
     0, OFF(header_timeout)},
    {"ops-listen", 0, PB_OPT_STRING, NULL, "ADDR:PORT",
     "serve /metrics and /readyz with its reason on this address (never on "
     "--listen)",
     0, OFF(http.ops_listen)},
    PB_OPTG_CONN_TIMEOUT(OFF(http.conn_timeout)),
    {"conn-memory", 0, PB_OPT_SIZE, "32KiB", "SIZE",
     "memory per connection for headers and read buffers", 0, OFF(conn_memory)},
    {"max-body", 0, PB_OPT_SIZE, "4MiB", "SIZE",
     "largest request body; larger ones get 413 while being read", 0,
     OFF(http.max_body)},
    {"max-batch-events", 0, PB_OPT_INT, "1000", "N",
     "most events in one application/x-ndjson batch (413 above)", 0,
     OFF(max_batch_events)},
    {"rate", 0, PB_OPT_INT, "2000", "EVENTS/S",
     "events per second per organisation (token bucket; 0 = unlimited)", 0,
     OFF(rate)},
    {"burst", 0, PB_OPT_INT, "10000", "EVENTS",
     "token bucket size (raised to --max-batch-events if smaller)", 0,
     OFF(burst)},
    {"dedup-ttl", 0, PB_OPT_DURATION, "24h", "DURATION",
     "how long an accepted event_id is answered as a duplicate", 0,
     OFF(dedup_ttl)},
    {"dedup-capacity", 0, PB_OPT_INT, "1000000", "N",
     "event_ids remembered at most (oldest dropped first; ~72 bytes each)", 0,
     OFF(dedup_capacity)},
    {"publish-timeout", 0, PB_OPT_DURATION, "10s", "DURATION",
     "answer 503 when Kafka has not acknowledged every event of a request "
     "within this time (the events stay queued; retries get 409 until "
     "their outcome is known)",
     0, OFF(publish_timeout)},
    {"delivery-timeout", 0, PB_OPT_DURATION, "5m", "DURATION",
     "how long the producer keeps trying to deliver an event "
     "(message.timeout.ms; at least --publish-timeout)",
     0, OFF(delivery_timeout)},
    {"retry-after", 0, PB_OPT_DURATION, "5s", "DURATION",
     "Retry-After sent with 503 answers (and 409 in_flight)", 0,
     OFF(retry_after)},
    {"max-inflight-events", 0, PB_OPT_INT, "200000", "N",
     "events waiting for Kafka at most; more get 503", 0,
     OFF(max_inflight_events)},
    {"max-inflight-bytes", 0, PB_OPT_SIZE, "256MiB", "SIZE",
     "request bodies held in memory at most, all connections together", 0,
     OFF(max_inflight_bytes)},
    {"drain-timeout", 0, PB_OPT_DURATION, "30s", "DURATION",
     "on SIGTERM, wait this long for requests in flight", 0,
     OFF(drain_timeout)},
    {"openapi", 0, PB_OPT_STRING, NULL, "FILE",
     "OpenAPI document served at /v1/openapi.json (default: "
     "SCHEMAS/../docs/openapi.json)",
     0, OFF(openapi)},
    {"console-url", 0, PB_OPT_STRING, NULL, "URL",
     "the web console (partnerbus admin's /console/) that the page at / "
     "links to",
     0, OFF(console_url)},
    PB_OPTG_PORT_FILE(OFF(http.port_file)),
    PB_OPTG_OWNERS_TOPIC(OFF(owners_topic)),
    PB_OPTG_OWNERS_CAPACITY(OFF(owners_capacity)),
    {"admin-topics", 0, PB_OPT_BOOL, "false", NULL,
     "also take organisations and tokens from the admin topics written by "
     "partnerbus admin (applied within seconds, no SIGHUP; --tokens is then "
     "optional)",
     0, OFF(admin_topics)},
    PB_OPTG_ORGS_TOPIC(OFF(orgs_topic)),
    PB_OPTG_TOKENS_TOPIC(OFF(tokens_topic)),
    PB_OPTG_TOKEN_USAGE_TOPIC(OFF(usage_topic)),
    PB_OPTG_PRINT_ROUTES(OFF(http.print_routes)),
};

static const pb_cmd_spec_t gw_spec = {
    CMD,
    "accept events over HTTP(S) and publish them to Kafka",
    "--brokers B --listen ADDR:PORT --tokens FILE (--tls-cert F --tls-key F "
    "| --insecure-http)",
    "POST /v1/events/{type} with Content-Type application/json (one event)\n"
    "or application/x-ndjson (a batch, all or nothing) and\n"
    "'Authorization: Bearer TOKEN'. The answer comes once Kafka acknowledged\n"
    "every event. See docs/gateway.md and GET /v1/openapi.json.\n\n"
    "Example:\n"
    "  printf 'blau-gelbes-kreuz %s *\\n' \\\n"
    "      \"$(printf %s \"$TOKEN\" | sha256sum | cut -d' ' -f1)\" > "
    "tokens\n"
    "  partnerbus gateway --brokers 127.0.0.1:9092 --tokens tokens \\\n"
    "      --tls-cert cert.pem --tls-key key.pem --listen 0.0.0.0:8443\n",
    gw_opts,
    sizeof(gw_opts) / sizeof(gw_opts[0]),
    1,
};

static volatile sig_atomic_t got_hup;
static void on_hup(int sig) {
        (void)sig;
        got_hup = 1;
}

/* --- threads: producer poll, readiness --- */
static atomic_int threads_stop;

/* Delivery reports, and the requests whose --publish-timeout passed
 * (checked at least every 50 ms). */
static void *poll_main(void *arg) {
        pb_gw_t *gw = arg;
        while (!atomic_load(&threads_stop)) {
                pb_producer_poll(gw->producer, 50);
                pb_gw_deadlines_run(gw, pb_mono_ms());
                pb_gw_heads_run(gw, pb_mono_ms());
        }
        return NULL;
}

static void *ready_main(void *arg) {
        pb_gw_t *gw = arg;
        rd_kafka_t *rk = pb_producer_rk(gw->producer);
        while (!atomic_load(&threads_stop)) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_resp_err_t err =
                    rd_kafka_metadata(rk, 0, NULL, &md, 2000);
                int ok = err == RD_KAFKA_RESP_ERR_NO_ERROR && md &&
                         md->broker_cnt > 0;
                if (ok && !pb_owners_ready(gw->owners)) {
                        /* not ready before the ownership topic was read */
                        ok = 0;
                        pthread_mutex_lock(&gw->workers_lock);
                        snprintf(gw->ready_reason, sizeof(gw->ready_reason),
                                 "the ownership topic is still being read");
                        pthread_mutex_unlock(&gw->workers_lock);
                } else if (ok && !pb_gw_admin_ready(gw->admin)) {
                        ok = 0;
                        pthread_mutex_lock(&gw->workers_lock);
                        snprintf(gw->ready_reason, sizeof(gw->ready_reason),
                                 "the admin topics are still being read");
                        pthread_mutex_unlock(&gw->workers_lock);
                } else if (!ok) {
                        pthread_mutex_lock(&gw->workers_lock);
                        snprintf(gw->ready_reason, sizeof(gw->ready_reason),
                                 "Kafka not reachable: %s",
                                 err ? rd_kafka_err2str(err)
                                     : "no brokers in metadata");
                        pthread_mutex_unlock(&gw->workers_lock);
                }
                if (ok != atomic_load(&gw->kafka_ready))
                        pb_log(ok ? "info" : "warn",
                               "cmd=gateway kafka_ready=%d", ok);
                atomic_store(&gw->kafka_ready, ok);
                if (md)
                        rd_kafka_metadata_destroy(md);
                {
                        int i;
                        for (i = 0; i < 10 && !atomic_load(&threads_stop); i++)
                                usleep(100 * 1000);
                }
        }
        return NULL;
}

/* --- the ops listener (--ops-listen) --- */

static int ops_ready(void *opaque, char *reason, size_t reason_size) {
        pb_gw_t *gw = opaque;
        if (atomic_load(&gw->stopping)) {
                snprintf(reason, reason_size, "shutting down");
                return 0;
        }
        if (atomic_load(&gw->kafka_ready))
                return 1;
        pthread_mutex_lock(&gw->workers_lock);
        snprintf(reason, reason_size, "%s",
                 gw->ready_reason[0] ? gw->ready_reason
                                     : "Kafka not reachable");
        pthread_mutex_unlock(&gw->workers_lock);
        return 0;
}

static void ops_render(void *opaque) {
        pb_gw_metrics_refresh(opaque);
}

/* --- startup helpers --- */

/* First (by name) example of type under DIR/examples/valid/TYPE/, compact,
 * malloc'd; NULL if none. */
static char *load_example(const char *dir, const char *type) {
        char path[1024], best[256] = "";
        DIR *d;
        struct dirent *de;
        FILE *fp;
        char *text = NULL, *out = NULL;
        size_t n;
        pb_json_parser_t *jp;
        const pb_json_t *v;
        char err[128];
        pb_buf_t b;
        snprintf(path, sizeof(path), "%s/examples/valid/%s", dir, type);
        if (!(d = opendir(path)))
                return NULL;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l > 5 && !strcmp(de->d_name + l - 5, ".json") &&
                    l < sizeof(best) &&
                    (!best[0] || strcmp(de->d_name, best) < 0))
                        snprintf(best, sizeof(best), "%s", de->d_name);
        }
        closedir(d);
        if (!best[0])
                return NULL;
        snprintf(path, sizeof(path), "%s/examples/valid/%s/%s", dir, type,
                 best);
        if (!(fp = fopen(path, "rb")))
                return NULL;
        text = malloc(1 << 20);
        n = text ? fread(text, 1, (1 << 20) - 1, fp) : 0;
        fclose(fp);
        if (!text)
                return NULL;
        jp = pb_json_parser_new(NULL);
        v = jp ? pb_json_parse(jp, text, n, err, sizeof(err)) : NULL;
        if (v && v->type == PB_JSON_OBJECT) {
                /* without event_id (a copied fixed id would be answered
                 * as a duplicate of the example: the gateway generates
                 * one when absent) and without source (set from the
                 * token; the example's is another organisation) */
                const pb_json_t *m;
                int first = 1, ok = 1;
                pb_buf_init(&b, 0);
                pb_buf_putc(&b, '{');
                for (m = v->child; m && ok; m = m->next) {
                        if ((m->keylen == 8 &&
                             !memcmp(m->key, "event_id", 8)) ||
                            (m->keylen == 6 && !memcmp(m->key, "source", 6)))
                                continue;
                        if (!first)
                                pb_buf_putc(&b, ',');
                        first = 0;
                        pb_buf_json_str(&b, m->key, m->keylen);
                        pb_buf_putc(&b, ':');
                        ok = pb_json_write(m, &b) == PB_OK;
                }
                if (ok && pb_buf_putc(&b, '}') == PB_OK)
                        out = (char *)b.data;
                else
                        pb_buf_free(&b);
        }
        pb_json_parser_destroy(jp);
        free(text);
        return out;
}

static int build_types(pb_gw_t *gw, const pb_cli_common_t *cc,
                       const char *dir) {
        size_t i;
        pb_buf_t all;
        gw->ntypes = pb_schemas_count(gw->catalog);
        gw->types = calloc(gw->ntypes ? gw->ntypes : 1, sizeof(*gw->types));
        if (!gw->types)
                return -1;
        pb_buf_init(&all, 0);
        pb_buf_puts(&all, "{\"types\":[");
        for (i = 0; i < gw->ntypes; i++) {
                pb_gw_type_t *t = &gw->types[i];
                const char *type, *key;
                char *example;
                pb_buf_t b;
                t->schema = pb_schemas_at(gw->catalog, i);
                type = pb_schema_type(t->schema);
                key = pb_schema_key_field(t->schema);
                pb_kafka_topic(&cc->kconf, type, t->topic, sizeof(t->topic));
                pb_buf_init(&b, 0);
                pb_buf_puts(&b, "{\"type\":");
                pb_buf_json_str(&b, type, strlen(type));
                pb_buf_puts(&b, ",\"topic\":");
                pb_buf_json_str(&b, t->topic, strlen(t->topic));
                pb_buf_puts(&b, ",\"key\":");
                if (key)
                        pb_buf_json_str(&b, key, strlen(key));
                else
                        pb_buf_puts(&b, "null");
                pb_buf_printf(
                    &b, ",\"fingerprint\":\"%016llx\"",
                    (unsigned long long)pb_schema_fingerprint(t->schema));
                if (i)
                        pb_buf_putc(&all, ',');
                pb_buf_append(&all, b.data, b.len);
                pb_buf_puts(&all, ",\"href\":");
                {
                        char href[300];
                        snprintf(href, sizeof(href), "/v1/schemas/%s", type);
                        pb_buf_json_str(&all, href, strlen(href));
                }
                pb_buf_putc(&all, '}');
                pb_buf_puts(&b, ",\"schema\":");
                pb_buf_puts(&b, pb_schema_json(t->schema));
                pb_buf_puts(&b, ",\"example\":");
                example = load_example(dir, type);
                pb_buf_puts(&b, example ? example : "null");
                pb_buf_puts(&b, ",\"example_note\":\"event_id and source are "
                                "left out: without event_id the gateway "
                                "generates one and returns it (send your own "
                                "UUID, new for each event, to make retries "
                                "safe); source is always set from your "
                                "token\"");
                free(example);
                if (pb_buf_puts(&b, "}") != PB_OK) {
                        pb_buf_free(&b);
                        pb_buf_free(&all);
                        return -1;
                }
                t->info_json = (char *)b.data;
        }
        if (pb_buf_puts(&all, "]}") != PB_OK) {
                pb_buf_free(&all);
                return -1;
        }
        gw->schemas_json = (char *)all.data;
        return 0;
}

static void load_openapi(pb_gw_t *gw, const char *dir) {
        char path[1100];
        FILE *fp;
        long sz;
        if (gw->set.openapi)
                snprintf(path, sizeof(path), "%s", gw->set.openapi);
        else
                snprintf(path, sizeof(path), "%s/../docs/openapi.json", dir);
        fp = fopen(path, "rb");
        if (!fp) {
                pb_log("warn",
                       "cmd=gateway msg=\"no OpenAPI document at %s: %s; GET "
                       "/v1/openapi.json answers 404 (use --openapi)\"",
                       path, strerror(errno));
                return;
        }
        if (fseek(fp, 0, SEEK_END) == 0 && (sz = ftell(fp)) > 0 &&
            sz < (8 << 20) && fseek(fp, 0, SEEK_SET) == 0) {
                gw->openapi_json = malloc((size_t)sz + 1);
                if (gw->openapi_json &&
                    fread(gw->openapi_json, 1, (size_t)sz, fp) == (size_t)sz) {
                        gw->openapi_json[sz] = 0;
                        gw->openapi_len = (size_t)sz;
                } else {
                        free(gw->openapi_json);
                        gw->openapi_json = NULL;
                }
        }
        fclose(fp);
}

static void reload_tokens(pb_gw_t *gw) {
        char err[512];
        const char *ok[] = {"outcome", "ok", NULL};
        const char *bad[] = {"outcome", "error", NULL};
        pb_gw_tokens_t *t = pb_gw_tokens_load(gw->set.tokens, err, sizeof(err));
        pb_gw_tokens_t *old;
        if (!t) {
                pb_log("error",
                       "cmd=gateway msg=\"SIGHUP: keeping the old tokens: "
                       "%s\"",
                       err);
                pb_metrics_add(gw->metrics,
                               "partnerbus_gateway_token_reloads_total", bad,
                               1);
                return;
        }
        pthread_rwlock_wrlock(&gw->tokens_lock);
        old = gw->tokens;
        gw->tokens = t;
        pthread_rwlock_unlock(&gw->tokens_lock);
        pb_gw_tokens_destroy(old);
        pb_metrics_add(gw->metrics, "partnerbus_gateway_token_reloads_total",
                       ok, 1);
        pb_log("info", "cmd=gateway msg=\"tokens re-read\" entries=%zu", t->n);
}

static void declare_metrics(pb_metrics_t *m) {
        static const double lat[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,  0.1,    0.25,  0.5,  1,
                                     2.5,   5,      10,    30};
        pb_metrics_declare(m, "partnerbus_gateway_requests_total", "counter",
                           "HTTP requests by route and status code", NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_events_total", "counter",
                           "events by type, organisation and outcome "
                           "(published, duplicate, rejected, failed)",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_publish_latency_seconds",
                           "histogram",
                           "time from handing a request's events to the "
                           "producer until Kafka acknowledged all of them",
                           lat, sizeof(lat) / sizeof(lat[0]));
        pb_metrics_declare(m, "partnerbus_gateway_producer_queue_depth",
                           "gauge",
                           "messages in the producer queue, not yet "
                           "acknowledged",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_inflight_requests", "gauge",
                           "HTTP requests being handled", NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_inflight_events", "gauge",
                           "events waiting for Kafka", NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_dedup_entries", "gauge",
                           "event_ids in the dedup window", NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_dedup_evictions_total",
                           "counter",
                           "event_ids dropped before their ttl because the "
                           "window was full",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_kafka_ready", "gauge",
                           "1 when Kafka answered the last metadata request",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_token_reloads_total",
                           "counter", "tokens file re-reads (SIGHUP)", NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_owner_claims_total",
                           "counter",
                           "entities (grant, shipment, partnership) this "
                           "gateway claimed for the organisation sending "
                           "their first event",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_owner_refusals_total",
                           "counter",
                           "requests refused with 409 not_owner (another "
                           "organisation owns the entity)",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_owner_unavailable_total",
                           "counter",
                           "requests answered 503 ownership_unavailable "
                           "(ownership topic not loaded, Kafka away, map "
                           "full)",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_owner_entries", "gauge",
                           "entities in the ownership map", NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_owner_dropped_total",
                           "counter",
                           "entities not held because the ownership map was "
                           "full (--owners-capacity)",
                           NULL, 0);
        pb_metrics_declare(m, "partnerbus_gateway_owner_caught_up", "gauge",
                           "1 when the ownership topic was read to its end "
                           "(loaded at start, no claim Kafka reported left "
                           "unread)",
                           NULL, 0);
}

static void print_routes(void) {
        pb_httpd_print_routes(pb_gw_routes, pb_gw_nroutes);
}

int pb_cmd_gateway(int argc, char **argv) {
        pb_gw_t gw;
        pb_cli_common_t cc;
        pb_kafka_conf_t kc;
        int rc, port;
        size_t i;
        char err[512], p_timeout[64], p_queue[64];
        const char *dir;
        pthread_t poll_thr, ready_thr;
        int threads_started = 0;
        struct sigaction sa;

        memset(&gw, 0, sizeof(gw));
        memset(&cc, 0, sizeof(cc));
        rc = pb_opts_parse_serve(&gw_spec, &gw.set, &gw.set.http, &cc, argc,
                                 argv, print_routes);
        if (rc >= 0)
                return rc;
        rc = PB_EXIT_USAGE;
        if (!gw.set.tokens && !gw.set.admin_topics) {
                pb_cli_usage_error(CMD, "--tokens FILE (or --admin-topics) is "
                                        "required");
                goto out_opts;
        }
        if (gw.set.max_connections < 1 || gw.set.max_batch_events < 1 ||
            gw.set.dedup_capacity < 1 || gw.set.dedup_capacity > (1L << 28) ||
            gw.set.max_inflight_events < 1 ||
            gw.set.max_inflight_events > (1L << 27) || gw.set.rate < 0 ||
            gw.set.publish_timeout < 1 || gw.set.conn_memory < 4096 ||
            gw.set.http.max_body < 1 || gw.set.delivery_timeout > INT32_MAX ||
            gw.set.max_conn_per_address < -1 || gw.set.header_timeout < 1 ||
            gw.set.owners_capacity < 1 || gw.set.owners_capacity > (1L << 28) ||
            !gw.set.owners_topic || !gw.set.owners_topic[0]) {
                pb_cli_usage_error(CMD, "a numeric option is out of range");
                goto out_opts;
        }
        if (gw.set.delivery_timeout < gw.set.publish_timeout) {
                pb_cli_usage_error(CMD, "--delivery-timeout must be at least "
                                        "--publish-timeout");
                goto out_opts;
        }
        /* room for every pending claim (at most --max-inflight-events,
         * they are never evicted) and a batch more */
        if (gw.set.dedup_capacity <
            gw.set.max_inflight_events + gw.set.max_batch_events)
                gw.set.dedup_capacity =
                    gw.set.max_inflight_events + gw.set.max_batch_events;
        if (gw.set.burst < gw.set.max_batch_events)
                gw.set.burst = gw.set.max_batch_events;
        pb_cli_common_finish(&cc);
        if (!pb_cli_require_brokers(CMD, &cc))
                goto out_opts;

        rc = PB_EXIT_FAIL;
        /* Request bodies (up to --max-body) and large answers straight
         * from mmap, returned to the system when freed. Left to itself,
         * glibc raises the threshold to the largest block freed so far,
         * later bodies come from the HTTP threads' malloc arenas, and
         * malloc_trim does not shrink the top of those arenas: a few
         * large requests kept tens of MB (gateway_parser_memory.sh). */
        mallopt(M_MMAP_THRESHOLD, 256 * 1024);
        pthread_rwlock_init(&gw.tokens_lock, NULL);
        pthread_mutex_init(&gw.workers_lock, NULL);
        pthread_mutex_init(&gw.dl_lock, NULL);
        pthread_mutex_init(&gw.heads_lock, NULL);
        gw.tokens = gw.set.tokens
                        ? pb_gw_tokens_load(gw.set.tokens, err, sizeof(err))
                        : NULL;
        if (gw.set.tokens && !gw.tokens) {
                fprintf(stderr, "partnerbus %s: %s\n", CMD, err);
                goto out;
        }
        gw.catalog = pb_cli_load_schemas(CMD, &cc);
        if (!gw.catalog)
                goto out;
        dir = cc.schemas_dir ? cc.schemas_dir : pb_schemas_default_dir();
        gw.metrics = pb_metrics_new();
        gw.rl = pb_gw_ratelimit_new((double)gw.set.rate, (double)gw.set.burst);
        gw.dedup =
            pb_gw_dedup_new((size_t)gw.set.dedup_capacity, gw.set.dedup_ttl);
        if (!gw.metrics || !gw.rl || !gw.dedup ||
            build_types(&gw, &cc, dir) < 0) {
                fprintf(stderr, "partnerbus %s: out of memory\n", CMD);
                goto out;
        }
        declare_metrics(gw.metrics);
        load_openapi(&gw, dir);
        if (cc.schema_registry) {
                gw.registry =
                    pb_registry_new(cc.schema_registry, err, sizeof(err));
                if (!gw.registry) {
                        fprintf(stderr, "partnerbus %s: schema registry: %s\n",
                                CMD, err);
                        goto out;
                }
        }
        gw.serde = pb_serde_new(gw.catalog, gw.registry, err, sizeof(err));
        if (!gw.serde) {
                fprintf(stderr, "partnerbus %s: %s\n", CMD, err);
                goto out;
        }
        /* our producer settings first, -X after them so they can win */
        snprintf(p_timeout, sizeof(p_timeout), "message.timeout.ms=%lld",
                 (long long)gw.set.delivery_timeout);
        snprintf(p_queue, sizeof(p_queue), "queue.buffering.max.messages=%ld",
                 gw.set.max_inflight_events * 2 + 10000 > 10000000
                     ? 10000000L
                     : gw.set.max_inflight_events * 2 + 10000);
        {
                const char *const pdef[] = {p_timeout, p_queue};
                pb_kafka_conf_layer(&kc, &cc.kconf, pdef, 2, NULL);
                kc.topic_prefix = cc.kconf.topic_prefix;
        }
        gw.producer =
            pb_producer_new(&kc, pb_gw_delivery_cb, &gw, err, sizeof(err));
        if (!gw.producer) {
                fprintf(stderr, "partnerbus %s: %s\n", CMD, err);
                goto out;
        }
        gw.owners = pb_owners_new(&cc.kconf, gw.set.owners_topic,
                                  (size_t)gw.set.owners_capacity, CMD, err,
                                  sizeof(err));
        if (!gw.owners) {
                fprintf(stderr, "partnerbus %s: %s\n", CMD, err);
                goto out;
        }
        if (gw.set.admin_topics) {
                gw.admin = pb_gw_admin_new(
                    &cc.kconf, gw.set.orgs_topic, gw.set.tokens_topic,
                    gw.set.usage_topic, err, sizeof(err));
                if (!gw.admin) {
                        fprintf(stderr, "partnerbus %s: admin topics: %s\n",
                                CMD, err);
                        goto out;
                }
        }
        atomic_store(&threads_stop, 0);
        if (pthread_create(&poll_thr, NULL, poll_main, &gw) != 0) {
                fprintf(stderr, "partnerbus %s: cannot start a thread\n", CMD);
                goto out;
        }
        if (pthread_create(&ready_thr, NULL, ready_main, &gw) != 0) {
                atomic_store(&threads_stop, 1);
                pthread_join(poll_thr, NULL);
                fprintf(stderr, "partnerbus %s: cannot start a thread\n", CMD);
                goto out;
        }
        threads_started = 1;

        pb_cli_trap_signals();
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_hup;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGHUP, &sa, NULL);

        if (pb_gw_http_start(&gw, err, sizeof(err)) < 0) {
                fprintf(stderr, "partnerbus %s: %s\n", CMD, err);
                goto out;
        }
        port = pb_gw_http_port(&gw);
        {
                char extra[64];
                snprintf(extra, sizeof(extra), " types=%zu orgs=%zu", gw.ntypes,
                         gw.tokens ? gw.tokens->n : 0);
                if (pb_cli_http_announce(CMD, &gw.set.http, port, cc.brokers,
                                         extra, gw.metrics, ops_ready,
                                         ops_render, &gw, &gw.ops) < 0)
                        goto out;
        }

        while (!pb_cli_stop) {
                if (got_hup) {
                        got_hup = 0;
                        if (gw.set.tokens)
                                reload_tokens(&gw);
                }
                usleep(100 * 1000);
        }

        /* --- drain --- */
        {
                int64_t deadline = pb_mono_ms() + gw.set.drain_timeout;
                MHD_socket lfd;
                pb_resp_t fr;
                atomic_store(&gw.stopping, 1);
                pb_log("info", "cmd=gateway msg=\"stopping: no new "
                               "connections, finishing requests in flight\"");
                lfd = MHD_quiesce_daemon(gw.daemon);
                if (lfd != MHD_INVALID_SOCKET)
                        close(lfd);
                while (atomic_load(&gw.inflight_requests) > 0 &&
                       pb_mono_ms() < deadline)
                        usleep(20 * 1000);
                /* close the send gate: requests still reading their body
                 * get 503 from now on, none sends after the flush */
                atomic_store(&gw.closed, 1);
                while (atomic_load(&gw.senders) > 0)
                        usleep(1000);
                /* Flush for --publish-timeout: by then every request sent
                 * before the gate closed passed its deadline and was
                 * answered (by its reports, or 503 at the deadline by the
                 * poll thread, which keeps running). */
                deadline = pb_mono_ms() + gw.set.publish_timeout;
                do {
                        fr = pb_producer_flush(gw.producer, 1000);
                } while (fr != PB_OK && pb_mono_ms() < deadline);
                if (fr != PB_OK) {
                        /* Kafka still has not acknowledged some (they
                         * wait up to --delivery-timeout): purge, so every
                         * message gets its report now: requests still
                         * waiting are answered (MHD cannot stop with a
                         * connection suspended) and those answered at
                         * their deadline are freed. A purged message
                         * that was in flight may be in Kafka anyway
                         * (PB_ERR_UNCERTAIN); its client, told 503,
                         * retries, and a gateway started anew no longer
                         * remembers its event_id (docs/gateway.md) */
                        pb_log("warn",
                               "cmd=gateway msg=\"%d messages not "
                               "acknowledged within --publish-timeout: "
                               "purged\"",
                               pb_producer_outq_len(gw.producer));
                        rd_kafka_purge(pb_producer_rk(gw.producer),
                                       RD_KAFKA_PURGE_F_QUEUE |
                                           RD_KAFKA_PURGE_F_INFLIGHT);
                        while ((atomic_load(&gw.suspended) > 0 ||
                                atomic_load(&gw.awaiting) > 0) &&
                               pb_mono_ms() < deadline + 5000)
                                pb_producer_poll(gw.producer, 100);
                }
                /* answers of requests resumed by the last reports */
                deadline = pb_mono_ms() + 2000;
                while (atomic_load(&gw.inflight_requests) > 0 &&
                       pb_mono_ms() < deadline)
                        usleep(20 * 1000);
                if (atomic_load(&gw.inflight_requests) > 0)
                        pb_log("warn",
                               "cmd=gateway msg=\"%ld requests still "
                               "open at exit\"",
                               atomic_load(&gw.inflight_requests));
                if (atomic_load(&gw.awaiting) > 0)
                        pb_log("warn",
                               "cmd=gateway msg=\"%ld requests "
                               "still wait for delivery reports at "
                               "exit\"",
                               atomic_load(&gw.awaiting));
                if (atomic_load(&gw.suspended) > 0) {
                        /* cannot happen once every report came; if it
                         * does, MHD_stop_daemon would abort: leave */
                        pb_log("error",
                               "cmd=gateway msg=\"%ld requests "
                               "still wait for Kafka at exit\"",
                               atomic_load(&gw.suspended));
                        _exit(PB_EXIT_FAIL);
                }
                rc = fr == PB_OK ? PB_EXIT_OK : PB_EXIT_FAIL;
                pb_log("info", "cmd=gateway msg=\"stopped\" flushed=%s",
                       fr == PB_OK ? "yes" : "no");
        }

out:
        pb_ops_server_destroy(gw.ops);
        if (gw.daemon)
                MHD_stop_daemon(gw.daemon);
        if (threads_started) {
                atomic_store(&threads_stop, 1);
                pthread_join(poll_thr, NULL);
                pthread_join(ready_thr, NULL);
        }
        pb_producer_destroy(gw.producer);
        pb_owners_destroy(gw.owners);
        pb_gw_admin_destroy(gw.admin);
        pb_gw_workers_free(&gw);
        if (atomic_load(&gw.live_reqs) > 0)
                /* reports that never came (producer destroyed with
                 * messages left): their requests are not freed, the
                 * process ends anyway */
                pb_log("warn", "cmd=gateway msg=\"%ld requests not freed\"",
                       atomic_load(&gw.live_reqs));
        pb_serde_destroy(gw.serde);
        pb_registry_destroy(gw.registry);
        for (i = 0; gw.types && i < gw.ntypes; i++)
                free(gw.types[i].info_json);
        free(gw.types);
        free(gw.schemas_json);
        free(gw.openapi_json);
        free(gw.tls_cert_pem);
        free(gw.tls_key_pem);
        pb_gw_dedup_destroy(gw.dedup);
        pb_gw_ratelimit_destroy(gw.rl);
        pb_metrics_destroy(gw.metrics);
        pb_schemas_destroy(gw.catalog);
        pb_gw_tokens_destroy(gw.tokens);
out_opts:
        pb_opts_free();
        return rc;
}
