/* partnerbus consume - events from Kafka topics as JSON lines.
 *
 * Each message is decoded by its framing (single-object encoding against
 * the local schemas, or the Confluent wire format through
 * --schema-registry) into the natural JSON that `partnerbus produce`
 * accepts, one object per line on stdout. With --meta each line wraps the
 * event with its topic, partition, offset, timestamp, key and headers.
 *
 * With --group the offsets are committed only after the lines were written
 * out (stdout flushed): at least once. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pb_opts.h"

static const char *cmd = "consume";

#define PB_CONSUME_MAX_TOPICS 64

typedef struct consume_settings {
        const char *topics;
        const char *group;
        int from_beginning;
        long max;
        int meta;
} consume_settings_t;

static const pb_opt_t consume_opts[] = {
    {"topics", 't', PB_OPT_STRING, NULL, "TYPE[,TYPE...]",
     "comma-separated event types / topics", PB_OPT_REQUIRED,
     offsetof(consume_settings_t, topics)},
    {"group", 'g', PB_OPT_STRING, NULL, "GROUP",
     "join consumer group GROUP; offsets are committed after the events "
     "were written",
     0, offsetof(consume_settings_t, group)},
    {"from-beginning", 0, PB_OPT_BOOL, "false", NULL,
     "start at the oldest event (without a group: stop at the end the "
     "partitions had at the start)",
     0, offsetof(consume_settings_t, from_beginning)},
    {"max", 'n', PB_OPT_INT, "0", "N", "exit after N events (0: no limit)", 0,
     offsetof(consume_settings_t, max)},
    {"meta", 'm', PB_OPT_BOOL, "false", NULL,
     "wrap each event with its Kafka metadata", 0,
     offsetof(consume_settings_t, meta)},
};

static const pb_cmd_spec_t consume_spec = {
    "consume",
    "Reads events from Kafka and writes one JSON object per line to stdout: "
    "the\nevent as 'partnerbus produce' accepts it, or with --meta\n"
    "  {\"topic\":..,\"partition\":..,\"offset\":..,\"timestamp\":..,"
    "\"key\":..,\n   \"headers\":{..},\"event\":{..}}\n"
    "Both framings are read (single-object encoding and, with "
    "--schema-registry,\nthe Confluent wire format); events written with an "
    "older schema are resolved\nto the local one. A message that cannot be "
    "decoded is reported on stderr as\n  topic=T partition=P offset=O: "
    "reason\nand consuming goes on.\n\nTopics are event types; with "
    "--topic-prefix PREFIX the topic read is\nPREFIX+TYPE, as 'partnerbus "
    "produce' names it.",
    "--topics TYPE[,TYPE...] [options]",
    "Without --group and without --from-beginning, consume starts at the "
    "end\nand waits for new events until --max or SIGINT/SIGTERM. With "
    "--group and no\ncommitted offset it starts at the end unless "
    "--from-beginning.\n\nExit status: 0, or 1 if a message could not be "
    "decoded or Kafka failed,\n2 usage error.\n\nExamples:\n"
    "  partnerbus consume -b 127.0.0.1:9092 -t aid.dispatched "
    "--from-beginning\n"
    "  partnerbus consume -t funds.granted,aid.delivered -g chancellery "
    "--meta",
    consume_opts,
    sizeof(consume_opts) / sizeof(consume_opts[0]),
    1};

/* Appends s as a JSON string if it is valid UTF-8, else null. */
static void put_str_or_null(pb_buf_t *b, const void *s, size_t n) {
        if (s && pb_utf8_valid(s, n))
                pb_buf_json_str(b, s, n);
        else
                pb_buf_puts(b, "null");
}

/* {"topic":..,"partition":..,...,"event":<event>} into b. */
static void format_meta(pb_buf_t *b, const pb_message_t *m,
                        const pb_buf_t *event) {
        char ts[40];
        const char *name;
        const void *val;
        size_t vlen, i, j;
        int first = 1;
        pb_buf_puts(b, "{\"topic\":");
        pb_buf_json_str(b, m->topic, strlen(m->topic));
        pb_buf_printf(b, ",\"partition\":%d,\"offset\":%lld,\"timestamp\":",
                      (int)m->partition, (long long)m->offset);
        if (m->timestamp_ms >= 0) {
                pb_rfc3339_format(m->timestamp_ms, ts, sizeof(ts));
                pb_buf_printf(b, "\"%s\"", ts);
        } else {
                pb_buf_puts(b, "null");
        }
        pb_buf_puts(b, ",\"key\":");
        put_str_or_null(b, m->key, m->key_len);
        pb_buf_puts(b, ",\"headers\":{");
        /* one member per distinct name, its last value (as Kafka readers
         * usually treat headers) */
        for (i = 0; pb_message_header_at(m, i, &name, &val, &vlen); i++) {
                const char *n2;
                const void *v2;
                size_t l2;
                int later = 0;
                for (j = i + 1; pb_message_header_at(m, j, &n2, &v2, &l2); j++)
                        if (!strcmp(n2, name)) {
                                later = 1;
                                break;
                        }
                if (later)
                        continue;
                if (!first)
                        pb_buf_putc(b, ',');
                first = 0;
                pb_buf_json_str(b, name, strlen(name));
                pb_buf_putc(b, ':');
                put_str_or_null(b, val, vlen);
        }
        pb_buf_puts(b, "},\"event\":");
        pb_buf_append(b, event->data, event->len);
        pb_buf_putc(b, '}');
}

int pb_cmd_consume(int argc, char **argv) {
        consume_settings_t cs;
        pb_cli_common_t cc;
        const char *topics_arg, *group;
        int from_beginning, meta, rc = PB_EXIT_FAIL;
        long long max = -1, seen = 0, bad = 0, since_commit = 0;
        char *topics_buf = NULL, *tok, *save = NULL;
        char *topics[PB_CONSUME_MAX_TOPICS];
        size_t ntopics = 0, i;
        pb_schemas_t *catalog = NULL;
        pb_registry_t *registry = NULL;
        pb_serde_t *serde = NULL;
        pb_consumer_t *cons = NULL;
        pb_consumer_opts_t copts;
        pb_buf_t ev, line;
        char err[512], name[512];
        int kafka_failed = 0;

        memset(&cs, 0, sizeof(cs));
        memset(topics, 0, sizeof(topics));
        if ((rc = pb_opts_parse_args(&consume_spec, &cs, &cc, argc, argv)) >= 0)
                return rc;
        rc = PB_EXIT_FAIL;
        if (!*cs.topics)
                return pb_cli_usage_error(cmd, "--topics is required");
        if (cs.max < 0)
                return pb_cli_usage_error(cmd,
                                          "--max expects a positive number");
        topics_arg = cs.topics;
        group = cs.group;
        from_beginning = cs.from_beginning;
        meta = cs.meta;
        max = cs.max ? cs.max : -1;
        if (!pb_cli_require_brokers(cmd, &cc))
                return PB_EXIT_USAGE;

        topics_buf = strdup(topics_arg);
        if (!topics_buf)
                return PB_EXIT_FAIL;
        for (tok = strtok_r(topics_buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
                if (ntopics == PB_CONSUME_MAX_TOPICS) {
                        free(topics_buf);
                        for (i = 0; i < ntopics; i++)
                                free(topics[i]);
                        return pb_cli_usage_error(cmd, "at most %d topics",
                                                  PB_CONSUME_MAX_TOPICS);
                }
                pb_kafka_topic(&cc.kconf, tok, name, sizeof(name));
                topics[ntopics] = strdup(name);
                if (!topics[ntopics])
                        break;
                ntopics++;
        }
        free(topics_buf);
        pb_buf_init(&ev, PB_CODEC_MAX_JSON_OUT);
        pb_buf_init(&line, 0);
        if (ntopics == 0) {
                rc = pb_cli_usage_error(cmd, "--topics is empty");
                goto done;
        }

        catalog = pb_cli_load_schemas(cmd, &cc);
        if (!catalog)
                goto done;
        if (pb_cli_open_serde(cmd, &cc, catalog, &registry, &serde))
                goto done;
        memset(&copts, 0, sizeof(copts));
        copts.group = group;
        copts.from_beginning = from_beginning;
        copts.stop_at_end = from_beginning && !group;
        /* every event acknowledged before the start is read, even when
         * the fetcher reports an end below it */
        copts.end_taken_at_start = 1;
        cons = pb_consumer_new(&cc.kconf, &copts, (const char *const *)topics,
                               ntopics, err, sizeof(err));
        if (!cons) {
                fprintf(stderr, "partnerbus consume: %s\n", err);
                goto done;
        }
        pb_cli_trap_signals();

        while (!pb_cli_stop && (max < 0 || seen < max)) {
                pb_message_t m;
                pb_resp_t r = pb_consumer_poll(cons, &m, 500, err, sizeof(err));
                if (r == PB_END)
                        break; /* end of every partition */
                if (r == PB_ERR_TIMEOUT) {
                        /* idle: make what was printed visible, then commit */
                        if (fflush(stdout) == 0 && group && since_commit) {
                                pb_consumer_commit(cons, 1);
                                since_commit = 0;
                        }
                        continue;
                }
                if (r != PB_OK) {
                        fprintf(stderr, "partnerbus consume: %s\n", err);
                        kafka_failed = 1;
                        break;
                }
                pb_buf_reset(&ev);
                r = pb_serde_decode(serde, m.value, m.len, NULL, &ev, NULL, err,
                                    sizeof(err));
                if (r != PB_OK) {
                        fprintf(stderr,
                                "topic=%s partition=%d offset=%lld: %s\n",
                                m.topic, (int)m.partition, (long long)m.offset,
                                err);
                        bad++;
                } else {
                        const pb_buf_t *o = &ev;
                        if (meta) {
                                pb_buf_reset(&line);
                                format_meta(&line, &m, &ev);
                                o = &line;
                        }
                        fwrite(o->data, 1, o->len, stdout);
                        putchar('\n');
                        seen++;
                }
                /* an undecodable message is stored too: it will never
                 * decode, and the stream goes on */
                if (group) {
                        pb_consumer_store(cons, &m);
                        if (++since_commit >= 1000 && fflush(stdout) == 0) {
                                pb_consumer_commit(cons, 1);
                                since_commit = 0;
                        }
                }
                pb_message_release(&m);
        }
        if (fflush(stdout) != 0) {
                fprintf(stderr, "partnerbus consume: write error: %s\n",
                        strerror(errno));
                kafka_failed = 1;
        } else if (group && since_commit &&
                   pb_consumer_commit(cons, 0) != PB_OK) {
                fprintf(stderr, "partnerbus consume: commit failed\n");
                kafka_failed = 1;
        }
        rc = (kafka_failed || bad) ? PB_EXIT_FAIL : PB_EXIT_OK;
done:
        pb_consumer_destroy(cons);
        pb_serde_destroy(serde);
        pb_registry_destroy(registry);
        pb_schemas_destroy(catalog);
        pb_buf_free(&ev);
        pb_buf_free(&line);
        for (i = 0; i < ntopics; i++)
                free(topics[i]);
        return rc;
}
