/* partnerbus replay - a time range of topics, from Kafka or the archive,
 * in event-time order, to JSON lines, CSV or an Avro container file, back
 * into a topic, or into a webhook; and --reset-group to move a consumer
 * group to a point in time. See docs/replay.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "partnerbus/pb_avrofile.h"
#include "partnerbus/pb_codec_visit.h"
#include "partnerbus/pb_filter.h"
#include "partnerbus/pb_util.h"
#include "pb_connector.h"
#include "pb_history.h"
#include "pb_optgroups.h"
#include "pb_opts.h"
#include "pb_replay.h"
#include "pb_replay_cmd.h"
#include "pb_replay_src.h"

static const char *cmd = "replay";

#define O(f) offsetof(pb_replay_settings_t, f)
static const pb_opt_t replay_opts[] = {
    PB_OPTG_TOPICS(O(topics)),
    PB_OPTG_HISTORY_RANGE(O(h)),
    PB_OPTG_WHERE(O(where)),
    {"format", 'f', PB_OPT_STRING, "jsonl", "jsonl|csv|avro", "output format",
     0, O(format)},
    {"dialect", 0, PB_OPT_STRING, "rfc4180", "rfc4180|excel-de",
     "CSV dialect: rfc4180 (`,`, `.` decimals, no BOM) or excel-de (`;`, "
     "decimal comma, UTF-8 with BOM, CRLF: opens in German Excel)",
     0, O(dialect)},
    {"out", 'o', PB_OPT_STRING, NULL, "FILE|DIR",
     "output file (default stdout; avro needs a file); a directory gets "
     "one file per type (required for csv/avro of several topics)",
     0, O(out)},
    PB_OPTG_FROM_ARCHIVE(O(h.archive)),
    {"to-topic", 0, PB_OPT_STRING, NULL, "TOPIC",
     "re-publish the events (same bytes, key and CloudEvents headers) to "
     "TOPIC",
     0, O(to_topic)},
    {"to", 0, PB_OPT_STRING, NULL, "URL",
     "re-drive the events into a webhook (the relay's webhook sink)", 0,
     O(to_url)},
    {"reset-group", 0, PB_OPT_STRING, NULL, "GROUP",
     "move GROUP's committed offsets on --topics to --to-time (refused "
     "while the group has members)",
     0, O(reset_group)},
    {"to-time", 0, PB_OPT_STRING, NULL, "TIME",
     "with --reset-group: the first Kafka timestamp to re-deliver", 0,
     O(to_time)},
    {"dry-run", 0, PB_OPT_BOOL, "false", NULL,
     "with --reset-group: print the new offsets, change nothing", 0,
     O(dry_run)},
    {"window", 0, PB_OPT_INT, "1000", "N",
     "events buffered per partition for the event-time merge", 0, O(window)},
    PB_OPTG_HISTORY_SCAN(O(h)),
    {"webhook-retry-max-time", 0, PB_OPT_DURATION, "5m", "DURATION",
     "give up (exit 1) when a batch is still refused after this long", 0,
     O(wh_retry_max)},
};
#undef O

static pb_cmd_spec_t replay_spec = {
    "replay",
    "a time range of topics from Kafka or the archive, in event-time order",
    "--topics T[,T...] [--since TIME] [--until TIME] [--where EXPR]... "
    "[--format jsonl|csv|avro] [--dialect excel-de] [--out FILE|DIR] "
    "[--from-archive DIR] [--to-topic T | --to URL]\n"
    "       partnerbus replay --reset-group G --to-time TIME --topics "
    "T[,T...]",
    "The range [--since, --until) applies to the events' occurred_at. Events "
    "of\nseveral topics are merged by occurred_at (ties: topic, event_id). "
    "The\nreplay ends at the end offsets the partitions had when it "
    "started.\n\nExamples:\n"
    "  partnerbus replay -b k1:9092 -t funds.granted --since 2023-01-01 "
    "--until 2024-01-01 -f csv -o grants-2023.csv\n"
    "  partnerbus replay -b k1:9092 -t funds.granted -f csv --dialect "
    "excel-de -o grants.csv\n"
    "  partnerbus replay --from-archive /srv/archive -t "
    "aid.dispatched,aid.delivered -f avro -o /tmp/aid/\n"
    "  partnerbus replay -b k1:9092 -t aid.dispatched --since 2024-03-01 "
    "--to https://agency.example/hooks --webhook-secret-file s.txt\n"
    "  partnerbus replay -b k1:9092 --reset-group sk-aid --to-time "
    "2024-03-01T00:00:00Z -t aid.dispatched\n",
    NULL, /* composed by replay_opts_compose() */
    0,
    1,
};

/* replay's rows plus the webhook sink's table as --webhook-*. 0 or -1. */
static int replay_opts_compose(void) {
        const pb_sink_plugin_t *wh = pb_sink_plugin_find("webhook");
        pb_opts_part_t parts[2] = {
            {replay_opts, sizeof(replay_opts) / sizeof(replay_opts[0]), NULL,
             0},
            {wh->opts, wh->nopts, wh->opt_prefix,
             offsetof(pb_replay_settings_t, webhook)}};
        if (wh->settings_size > sizeof(((pb_replay_settings_t *)0)->webhook))
                return -1;
        return pb_opts_compose_spec(&replay_spec, parts, 2);
}

/* --- outputs --- */
typedef struct typed_out {
        char type[128];
        pb_replay_csv_t *csv;
        pb_avrofile_writer_t *avro;
        char path[4096];
} typed_out_t;

#define MAX_TYPES 64

typedef struct out {
        pb_replay_settings_t *set;
        int fmt; /* 0 jsonl, 1 csv, 2 avro */
        pb_csv_dialect_t dialect;
        int is_dir;
        FILE *fp;    /* jsonl, single csv */
        char *iobuf; /* fp's buffer (a file; stdout uses a static one) */
        typed_out_t types[MAX_TYPES];
        size_t ntypes;
        pb_codec_t *codec;
        pb_json_parser_t *jp; /* csv: events read with another schema */
        pb_replay_src_t *src; /* csv: told of bodies the walk refuses */
        pb_buf_t body;
        pb_producer_t *prod;
        uint64_t delivered, failed;
        const pb_sink_plugin_t *sink_plugin;
        pb_sink_t *sink;
        pb_sink_event_t *batch;
        pb_revent_t *batch_ev;
        char **batch_json;
        size_t nbatch, batch_max;
        uint64_t sent;
} out_t;

static void on_delivery(void *opaque, void *msg_opaque, pb_resp_t e,
                        const char *errstr, const char *topic,
                        int32_t partition, int64_t offset) {
        out_t *o = opaque;
        if (e == PB_OK)
                o->delivered++;
        else {
                if (!o->failed)
                        fprintf(stderr, "partnerbus replay: %s: %s\n", topic,
                                errstr);
                o->failed++;
        }
}

static typed_out_t *typed(out_t *o, const char *type) {
        size_t i;
        for (i = 0; i < o->ntypes; i++)
                if (!strcmp(o->types[i].type, type))
                        return &o->types[i];
        if (o->ntypes == MAX_TYPES)
                return NULL;
        memset(&o->types[o->ntypes], 0, sizeof(o->types[0]));
        snprintf(o->types[o->ntypes].type, sizeof(o->types[0].type), "%s",
                 type);
        if (o->is_dir)
                snprintf(o->types[o->ntypes].path, sizeof(o->types[0].path),
                         "%s/%s.%s", o->set->out, type,
                         o->fmt == 1 ? "csv" : "avro");
        else if (o->set->out)
                snprintf(o->types[o->ntypes].path, sizeof(o->types[0].path),
                         "%s", o->set->out);
        return &o->types[o->ntypes++];
}

/* webhook: write the pending batch, retrying transient failures */
static int flush_webhook(out_t *o) {
        pb_sink_status_t st;
        int64_t backoff = 500, waited = 0;
        size_t i;
        if (!o->nbatch)
                return 0;
        for (;;) {
                memset(&st, 0, sizeof(st));
                o->sink_plugin->write(o->sink, o->batch, o->nbatch, &st);
                if (st.result == PB_SINK_OK)
                        break;
                if (st.result == PB_SINK_PERMANENT || pb_cli_stop ||
                    waited >= o->set->wh_retry_max) {
                        fprintf(stderr,
                                "partnerbus replay: webhook refused %zu "
                                "event(s) (%s): %s\n",
                                o->nbatch, pb_sink_result_name(st.result),
                                st.reason);
                        return -1;
                }
                {
                        int64_t d =
                            st.retry_after_ms > 0 ? st.retry_after_ms : backoff;
                        struct timespec ts = {d / 1000, (d % 1000) * 1000000};
                        nanosleep(&ts, NULL);
                        waited += d;
                        backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
                }
        }
        o->sent += o->nbatch;
        for (i = 0; i < o->nbatch; i++)
                free(o->batch_json[i]);
        o->nbatch = 0;
        return 0;
}

static int out_open(out_t *o, size_t ntopics) {
        pb_replay_settings_t *s = o->set;
        char e[512];
        struct stat sb;
        o->fmt = !strcmp(s->format, "jsonl")  ? 0
                 : !strcmp(s->format, "csv")  ? 1
                 : !strcmp(s->format, "avro") ? 2
                                              : -1;
        if (o->fmt < 0) {
                pb_cli_usage_error(cmd, "--format expects jsonl, csv or avro");
                return PB_EXIT_USAGE;
        }
        if (pb_replay_csv_dialect_parse(s->dialect, &o->dialect)) {
                pb_cli_usage_error(cmd,
                                   "--dialect expects rfc4180 or excel-de");
                return PB_EXIT_USAGE;
        }
        if (o->dialect != PB_CSV_RFC4180 && o->fmt != 1) {
                pb_cli_usage_error(cmd, "--dialect goes with --format csv");
                return PB_EXIT_USAGE;
        }
        if (s->to_topic) {
                o->prod =
                    pb_producer_new(&s->cc.kconf, on_delivery, o, e, sizeof(e));
                if (!o->prod) {
                        fprintf(stderr, "partnerbus replay: %s\n", e);
                        return PB_EXIT_FAIL;
                }
                return -1;
        }
        if (s->to_url) {
                o->sink_plugin = pb_sink_plugin_find("webhook");
                if (!o->sink_plugin) {
                        fprintf(stderr, "partnerbus replay: no webhook sink "
                                        "built in\n");
                        return PB_EXIT_FAIL;
                }
                o->sink =
                    o->sink_plugin->init(s->to_url, s->webhook, e, sizeof(e));
                if (!o->sink) {
                        fprintf(stderr, "partnerbus replay: %s\n", e);
                        return PB_EXIT_USAGE;
                }
                o->batch_max = o->sink_plugin->batch_hint(o->sink);
                if (o->batch_max > 10000)
                        o->batch_max = 10000;
                o->batch = calloc(o->batch_max, sizeof(*o->batch));
                o->batch_ev = calloc(o->batch_max, sizeof(*o->batch_ev));
                o->batch_json = calloc(o->batch_max, sizeof(*o->batch_json));
                if (!o->batch || !o->batch_ev || !o->batch_json)
                        return PB_EXIT_FAIL;
                return -1;
        }
        o->is_dir = s->out && ((!stat(s->out, &sb) && S_ISDIR(sb.st_mode)) ||
                               s->out[strlen(s->out) - 1] == '/');
        if (o->fmt && ntopics > 1 && !o->is_dir) {
                pb_cli_usage_error(cmd,
                                   "--format %s of several topics needs "
                                   "--out DIR (one file per type)",
                                   s->format);
                return PB_EXIT_USAGE;
        }
        if (o->fmt == 2 && !s->out) {
                pb_cli_usage_error(cmd, "--format avro needs --out FILE|DIR");
                return PB_EXIT_USAGE;
        }
        if (o->is_dir && mkdir(s->out, 0755) && errno != EEXIST) {
                fprintf(stderr, "partnerbus replay: %s: %s\n", s->out,
                        strerror(errno));
                return PB_EXIT_FAIL;
        }
        if (o->fmt == 0) {
                if (o->is_dir) {
                        pb_cli_usage_error(cmd, "--format jsonl writes one "
                                                "file: --out FILE");
                        return PB_EXIT_USAGE;
                }
                o->fp = s->out ? fopen(s->out, "w") : stdout;
                if (!o->fp) {
                        fprintf(stderr, "partnerbus replay: %s: %s\n", s->out,
                                strerror(errno));
                        return PB_EXIT_FAIL;
                }
                /* glibc ignores the size without a buffer and writes
                 * 4 KiB at a time: give it one of 1 MiB */
                if (o->fp == stdout) {
                        static char stdout_buf[1 << 20];
                        setvbuf(o->fp, stdout_buf, _IOFBF, sizeof(stdout_buf));
                } else if ((o->iobuf = malloc(1 << 20)) != NULL)
                        setvbuf(o->fp, o->iobuf, _IOFBF, 1 << 20);
        }
        o->codec = pb_codec_new();
        o->jp = o->fmt == 1 ? pb_json_parser_new(NULL) : NULL;
        pb_buf_init(&o->body, 0);
        return o->codec && (o->fmt != 1 || o->jp) ? -1 : PB_EXIT_FAIL;
}

/* The event's Avro body in its reader schema into o->body. When the body
 * was written with the reader schema itself it is copied as it is (the
 * source validated it); otherwise it is resolved through its JSON. */
static int avro_body(out_t *o, const pb_revent_t *ev) {
        pb_errors_t errs;
        char e[512];
        pb_buf_reset(&o->body);
        if (ev->writer &&
            (ev->writer == ev->reader ||
             strcmp(pb_schema_json(ev->writer), pb_schema_json(ev->reader)) ==
                 0) &&
            ev->body_off <= ev->value_len) {
                if (pb_buf_append(&o->body, ev->value + ev->body_off,
                                  ev->value_len - ev->body_off) == PB_OK)
                        return 0;
                fprintf(stderr, "partnerbus replay: avro: out of memory\n");
                return -1;
        }
        pb_errors_init(&errs);
        if (pb_codec_json_to_avro(o->codec, ev->reader, ev->json, ev->json_len,
                                  NULL, &o->body, NULL, &errs) != PB_OK) {
                pb_errors_format(&errs, e, sizeof(e));
                fprintf(stderr, "partnerbus replay: avro: %s\n", e);
                return -1;
        }
        return 0;
}

/* 0 ok, -1 failed (printed) */
static int out_write(out_t *o, const pb_revent_t *ev) {
        char e[512];
        typed_out_t *t;
        if (o->prod) {
                pb_resp_t r;
                for (;;) {
                        r = pb_producer_send(
                            o->prod, o->set->to_topic, ev->type, &ev->meta,
                            ev->value, ev->value_len, NULL, NULL, e, sizeof(e));
                        if (r != PB_ERR_QUEUE_FULL)
                                break;
                        pb_producer_poll(o->prod, 100);
                }
                if (r != PB_OK) {
                        fprintf(stderr, "partnerbus replay: %s\n", e);
                        return -1;
                }
                pb_producer_poll(o->prod, 0);
                return 0;
        }
        if (o->sink) {
                pb_sink_event_t *se = &o->batch[o->nbatch];
                char *j = malloc(ev->json_len + 1);
                if (!j)
                        return -1;
                memcpy(j, ev->json, ev->json_len + 1);
                o->batch_ev[o->nbatch] = *ev;
                o->batch_json[o->nbatch] = j;
                memset(se, 0, sizeof(*se));
                se->topic = ev->topic;
                se->partition = ev->partition;
                se->offset = ev->offset;
                se->timestamp_ms = ev->timestamp_ms;
                se->key = o->batch_ev[o->nbatch].meta.key;
                se->key_len = o->batch_ev[o->nbatch].meta.key_len;
                se->type = ev->type;
                se->writer = ev->reader;
                se->json = j;
                se->json_len = ev->json_len;
                se->meta = &o->batch_ev[o->nbatch].meta;
                o->nbatch++;
                return o->nbatch >= o->batch_max ? flush_webhook(o) : 0;
        }
        if (o->fmt == 0) {
                if (fwrite(ev->json, 1, ev->json_len, o->fp) != ev->json_len ||
                    putc('\n', o->fp) == EOF) {
                        fprintf(stderr, "partnerbus replay: write: %s\n",
                                strerror(errno));
                        return -1;
                }
                return 0;
        }
        t = typed(o, ev->type);
        if (!t) {
                fprintf(stderr, "partnerbus replay: more than %d types\n",
                        MAX_TYPES);
                return -1;
        }
        if (o->fmt == 1) {
                pb_resp_t r;
                if (!t->csv) {
                        if (!(t->csv = pb_replay_csv_new())) {
                                fprintf(stderr,
                                        "partnerbus replay: temporary file: "
                                        "%s\n",
                                        strerror(errno));
                                return -1;
                        }
                        r = pb_replay_csv_set_dialect(
                            t->csv, o->dialect,
                            ev->reader ? pb_schema_json(ev->reader) : NULL);
                        if (r != PB_OK) {
                                fprintf(stderr, "partnerbus replay: csv: %s\n",
                                        pb_err2str(r));
                                return -1;
                        }
                }
                e[0] = 0;
                if (ev->writer && ev->reader &&
                    (ev->writer == ev->reader ||
                     pb_schema_fingerprint(ev->writer) ==
                         pb_schema_fingerprint(ev->reader)) &&
                    ev->body_off <= ev->value_len)
                        r = pb_replay_csv_add_avro(
                            t->csv, o->codec, ev->writer,
                            ev->value + ev->body_off,
                            ev->value_len - ev->body_off,
                            ev->checked ? PB_VISIT_CHECKED : 0, e, sizeof(e));
                else {
                        /* read with another schema: flattened from the
                         * resolved event's JSON */
                        const pb_json_t *tree = pb_json_parse(
                            o->jp, ev->json, ev->json_len, e, sizeof(e));
                        r = tree ? pb_replay_csv_add(t->csv, tree)
                                 : PB_ERR_PARSE;
                }
                if (r != PB_OK && !ev->checked &&
                    pb_replay_csv_error(t->csv) == PB_OK) {
                        /* only its envelope was checked before: a bad body
                         * is found here, and left out as the source leaves
                         * out the ones it refuses */
                        pb_replay_src_undecodable(o->src, ev,
                                                  e[0] ? e : pb_err2str(r));
                        return 0;
                }
                if (r != PB_OK) {
                        fprintf(stderr, "partnerbus replay: csv: %s%s%s\n",
                                pb_err2str(r), e[0] ? ": " : "", e);
                        return -1;
                }
                return 0;
        }
        /* avro: the body in the reader schema, the file embeds its JSON */
        if (!t->avro) {
                unlink(t->path);
                t->avro = pb_avrofile_create(
                    t->path, pb_schema_json(ev->reader), 0, NULL, e, sizeof(e));
                if (!t->avro) {
                        fprintf(stderr, "partnerbus replay: %s\n", e);
                        return -1;
                }
        }
        if (avro_body(o, ev) != 0)
                return -1;
        if (pb_avrofile_append(t->avro, o->body.data, o->body.len, e,
                               sizeof(e)) != PB_OK) {
                fprintf(stderr, "partnerbus replay: %s\n", e);
                return -1;
        }
        return 0;
}

/* finishes every output; 0 ok, -1 failed */
static int out_close(out_t *o, int ok) {
        size_t i;
        char e[512];
        int rc = ok ? 0 : -1;
        if (o->prod) {
                if (pb_producer_flush(o->prod, 60000) != PB_OK || o->failed)
                        rc = -1;
                pb_producer_destroy(o->prod);
                o->prod = NULL;
        }
        if (o->sink) {
                if (ok && flush_webhook(o))
                        rc = -1;
                for (i = 0; i < o->nbatch; i++)
                        free(o->batch_json[i]);
                o->sink_plugin->destroy(o->sink);
        }
        free(o->batch);
        free(o->batch_ev);
        free(o->batch_json);
        for (i = 0; i < o->ntypes; i++) {
                typed_out_t *t = &o->types[i];
                if (t->csv && !pb_replay_csv_rows(t->csv)) {
                        /* every event of the type had a bad body: no file,
                         * as for a type without events */
                        pb_replay_csv_destroy(t->csv);
                } else if (t->csv) {
                        FILE *fp = t->path[0] ? fopen(t->path, "w") : stdout;
                        pb_resp_t r;
                        if (fp && fp != stdout)
                                setvbuf(fp, NULL, _IOFBF, 1 << 20);
                        r = fp ? pb_replay_csv_finish(t->csv, fp) : PB_ERR_IO;
                        if (r != PB_OK) {
                                fprintf(stderr, "partnerbus replay: %s: %s\n",
                                        t->path[0] ? t->path : "stdout",
                                        fp ? pb_err2str(r) : strerror(errno));
                                rc = -1;
                        }
                        if (fp && fp != stdout && fclose(fp))
                                rc = -1;
                        pb_replay_csv_destroy(t->csv);
                }
                if (t->avro &&
                    pb_avrofile_close(t->avro, e, sizeof(e)) != PB_OK) {
                        fprintf(stderr, "partnerbus replay: %s\n", e);
                        rc = -1;
                }
        }
        if (o->fp) {
                if (fflush(o->fp))
                        rc = -1;
                if (o->fp != stdout && fclose(o->fp))
                        rc = -1;
                o->fp = NULL;
        }
        free(o->iobuf);
        o->iobuf = NULL;
        pb_codec_destroy(o->codec);
        pb_json_parser_destroy(o->jp);
        pb_buf_free(&o->body);
        return rc;
}

static int write_event(void *o, const pb_revent_t *ev) {
        return out_write(o, ev);
}

int pb_cmd_replay(int argc, char **argv) {
        pb_replay_settings_t *s = calloc(1, sizeof(*s));
        out_t o;
        pb_history_t hs;
        pb_replay_src_stats_t st;
        int r, status = PB_EXIT_FAIL, ok = 1;
        int64_t t0;
        memset(&o, 0, sizeof(o));
        memset(&hs, 0, sizeof(hs));
        if (!s)
                return PB_EXIT_FAIL;
        if (replay_opts_compose() < 0) {
                free(s);
                return PB_EXIT_FAIL;
        }
        r = pb_opts_parse_args(&replay_spec, s, &s->cc, argc, argv);
        if (r >= 0) {
                free(s);
                pb_opts_compose_spec_free(&replay_spec);
                return r;
        }
        o.set = s;
        hs.topics = pb_opts_topics(&s->cc, &s->topics, &hs.ntopics);
        if (!hs.topics) {
                status = pb_cli_usage_error(cmd, "--topics is empty");
                goto done;
        }
        if (s->reset_group) {
                status = pb_replay_reset_group(
                    s, (const char *const *)hs.topics, hs.ntopics);
                goto done;
        }
        if (s->to_time) {
                status = pb_cli_usage_error(cmd, "--to-time goes with "
                                                 "--reset-group");
                goto done;
        }
        if (!s->h.archive && !pb_cli_require_brokers(cmd, &s->cc)) {
                status = PB_EXIT_USAGE;
                goto done;
        }
        if ((s->to_topic || s->to_url) && strcmp(s->format, "jsonl")) {
                status = pb_cli_usage_error(cmd, "--format does not go with "
                                                 "--to-topic / --to");
                goto done;
        }
        if (s->to_topic && s->to_url) {
                status = pb_cli_usage_error(cmd, "--to-topic or --to, not "
                                                 "both");
                goto done;
        }
        if (s->to_topic && !pb_cli_require_brokers(cmd, &s->cc)) {
                status = PB_EXIT_USAGE;
                goto done;
        }
        if ((r = pb_replay_src_conf_init(&hs.conf, cmd, &s->cc, &s->h,
                                         hs.topics, hs.ntopics)) >= 0) {
                status = r;
                goto done;
        }
        if (s->window < 1 || s->window > 1000000) {
                status = pb_cli_usage_error(cmd, "--window expects 1..1000000");
                goto done;
        }
        if ((r = pb_opts_where(cmd, &s->where, &hs.filter)) >= 0) {
                status = r;
                goto done;
        }
        if ((r = out_open(&o, hs.ntopics)) >= 0) {
                status = r;
                goto done;
        }
        if (pb_history_load(&hs, cmd, &s->cc))
                goto done;
        t0 = pb_mono_ms();
        /* CSV flattens the Avro body; only events to resolve come as JSON */
        hs.conf.json_to_resolve_only = o.fmt == 1 && !s->to_topic && !s->to_url;
        /* ... and its walk checks the body: the source checks only the
         * envelope, so each body is walked once */
        hs.conf.envelope_only = hs.conf.json_to_resolve_only;
        /* JSON lines and webhooks write the JSON; --to-topic the bytes */
        hs.conf.json_only = o.fmt == 0 && !s->to_topic;
        if (pb_history_start(&hs, (size_t)s->window, 0))
                goto done;
        o.src = hs.src;
        ok = pb_history_each(&hs, write_event, &o, &st);
        if (out_close(&o, ok))
                ok = 0;
        memset(&o, 0, sizeof(o));
        {
                double secs = (pb_mono_ms() - t0) / 1000.0;
                fprintf(stderr,
                        "partnerbus replay: %llu events written (read %llu, "
                        "outside the range %llu, filtered %llu, undecodable "
                        "%llu, merged late %llu) in %.2f s, %.0f events/s%s\n",
                        (unsigned long long)st.emitted,
                        (unsigned long long)st.read,
                        (unsigned long long)st.out_range,
                        (unsigned long long)st.filtered,
                        (unsigned long long)st.undecodable,
                        (unsigned long long)st.late, secs,
                        secs > 0 ? st.read / secs : 0.0, ok ? "" : " - FAILED");
                if (st.late)
                        fprintf(stderr,
                                "partnerbus replay: %llu event(s) arrived more "
                                "than --window=%ld places late in their "
                                "partition and are out of event-time order\n",
                                (unsigned long long)st.late, s->window);
        }
        status = ok && !st.undecodable ? PB_EXIT_OK : PB_EXIT_FAIL;
done:
        if (o.set)
                out_close(&o, 0);
        pb_history_close(&hs);
        free(s);
        pb_opts_compose_spec_free(&replay_spec);
        return status;
}
