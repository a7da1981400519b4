/* partnerbus produce - JSON lines in, schema-checked Avro events out to
 * Kafka.
 *
 * Each non-blank input line is one event of --type. It is validated and
 * encoded by the serde (single-object encoding, or the Confluent wire
 * format with --schema-registry); an invalid line is reported as
 * "line N: /pointer: message" and not published. Every published event is
 * waited for: the command ends only when Kafka acknowledged (or refused)
 * each one. Exit status 1 if any line was rejected or any delivery failed. */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_opts.h"

#define PB_PRODUCE_MAX_LINE (1u << 20) /* bytes per input line */

static const char *cmd = "produce";

typedef struct produce_settings {
        const char *type;
        const char *file;
        int fill;
} produce_settings_t;

static const pb_opt_t produce_opts[] = {
    {"type", 't', PB_OPT_STRING, NULL, "TYPE",
     "event type, e.g. aid.dispatched", PB_OPT_REQUIRED,
     offsetof(produce_settings_t, type)},
    {"file", 'f', PB_OPT_STRING, "-", "FILE",
     "read FILE instead of stdin ('-' = stdin)", 0,
     offsetof(produce_settings_t, file)},
    {"fill", 0, PB_OPT_BOOL, "false", NULL,
     "set event_id (random UUID) and occurred_at (now) when a line lacks "
     "them",
     0, offsetof(produce_settings_t, fill)},
};

static const pb_cmd_spec_t produce_spec = {
    "produce",
    "Reads events as JSON lines (one event per line) from stdin or --file,\n"
    "validates each against the schema of TYPE, encodes it as Avro and "
    "publishes\nit to the topic TYPE (with --topic-prefix: PREFIX+TYPE), "
    "keyed by the entity\nid the schema names. An invalid line is reported "
    "on stderr as\n  line N: /pointer: message\nand is not published. "
    "Blank lines are skipped; a line longer than 1 MiB is\nrejected. At the "
    "end \"published N, rejected M\" goes to stderr, after Kafka\n"
    "acknowledged every published event (idempotent producer, acks=all).",
    "--type TYPE [options]",
    "Exit status: 0 all published, 1 a line was rejected or a delivery "
    "failed,\n2 usage error.\n\n"
    "Examples:\n"
    "  partnerbus produce --type aid.dispatched --brokers 127.0.0.1:9092 < "
    "events.jsonl\n"
    "  partnerbus produce -t funds.granted -f grants.jsonl --fill\n"
    "  PARTNERBUS_BROKERS=kafka:9092 partnerbus produce -t aid.delivered \\\n"
    "      --schema-registry http://registry:8081 < deliveries.jsonl",
    produce_opts,
    sizeof(produce_opts) / sizeof(produce_opts[0]),
    1};

typedef struct produce_state {
        long published; /* acknowledged by Kafka */
        long failed;    /* delivery failed */
        long rejected;  /* invalid input lines */
} produce_state_t;

static void produce_dr(void *opaque, void *msg_opaque, pb_resp_t err,
                       const char *errstr, const char *topic, int32_t partition,
                       int64_t offset) {
        produce_state_t *st = opaque;
        (void)partition;
        (void)offset;
        if (err == PB_OK) {
                st->published++;
                return;
        }
        st->failed++;
        fprintf(stderr, "line %ld: delivery to %s failed: %s\n",
                (long)(intptr_t)msg_opaque, topic, errstr ? errstr : "");
}

/* Bounded line reader over fread blocks: one buffer of
 * PB_PRODUCE_MAX_LINE + one block, allocated once; lines are handed out in
 * place. A line longer than PB_PRODUCE_MAX_LINE is skipped up to its
 * newline and reported as too long. */
#define PB_PRODUCE_BLOCK (64u << 10)

typedef struct line_reader {
        FILE *fp;
        char *buf;
        size_t start, end, cap;
        int eof, skipping;
} line_reader_t;

/* Returns 1 with *line and *len (NUL-terminated, without "\n" or a
 * trailing "\r"), 0 at end of input, -1 for an over-long line. */
static int read_line(line_reader_t *lr, char **line, size_t *len) {
        if (!lr->buf) {
                lr->cap = PB_PRODUCE_MAX_LINE + PB_PRODUCE_BLOCK + 1;
                lr->buf = malloc(lr->cap);
                if (!lr->buf)
                        return 0;
        }
        for (;;) {
                char *s = lr->buf + lr->start;
                size_t avail = lr->end - lr->start, got;
                char *nl = avail ? memchr(s, '\n', avail) : NULL;
                if (nl || (lr->eof && avail)) {
                        size_t n = nl ? (size_t)(nl - s) : avail;
                        lr->start += nl ? n + 1 : n;
                        if (lr->skipping) {
                                lr->skipping = 0;
                                return -1;
                        }
                        if (n > PB_PRODUCE_MAX_LINE)
                                return -1;
                        if (n && s[n - 1] == '\r')
                                n--;
                        s[n] = 0; /* over the newline, or the spare byte */
                        *line = s;
                        *len = n;
                        return 1;
                }
                if (lr->eof) {
                        if (lr->skipping) {
                                lr->skipping = 0;
                                return -1;
                        }
                        return 0;
                }
                if (avail > PB_PRODUCE_MAX_LINE) {
                        /* too long: drop what we have, find its end */
                        lr->skipping = 1;
                        lr->start = lr->end = 0;
                        avail = 0;
                }
                if (lr->start) {
                        memmove(lr->buf, lr->buf + lr->start, avail);
                        lr->start = 0;
                        lr->end = avail;
                }
                got =
                    fread(lr->buf + lr->end, 1, lr->cap - 1 - lr->end, lr->fp);
                if (got == 0)
                        lr->eof = 1;
                lr->end += got;
        }
}

static void report_errors(long lineno, const pb_errors_t *errs) {
        size_t i;
        for (i = 0; i < errs->count; i++) {
                if (errs->items[i].pointer[0])
                        fprintf(stderr, "line %ld: %s: %s\n", lineno,
                                errs->items[i].pointer, errs->items[i].message);
                else
                        fprintf(stderr, "line %ld: %s\n", lineno,
                                errs->items[i].message);
        }
        if (errs->dropped)
                fprintf(stderr, "line %ld: (%zu more errors)\n", lineno,
                        errs->dropped);
}

int pb_cmd_produce(int argc, char **argv) {
        produce_settings_t ps;
        pb_cli_common_t cc;
        const char *type, *file;
        int fill, rc = PB_EXIT_FAIL;
        pb_schemas_t *catalog = NULL;
        const pb_schema_t *schema;
        pb_registry_t *registry = NULL;
        pb_serde_t *serde = NULL;
        pb_producer_t *prod = NULL;
        produce_state_t st = {0, 0, 0};
        pb_encode_opts_t eopts = {NULL, 0, 0};
        line_reader_t lr = {NULL, NULL, 0, 0, 0, 0, 0};
        pb_buf_t out;
        pb_errors_t errs;
        pb_event_meta_t meta;
        char topic[512], err[512];
        long lineno = 0, sent = 0;
        char *line;
        size_t len;
        int got;

        memset(&ps, 0, sizeof(ps));
        if ((rc = pb_opts_parse_args(&produce_spec, &ps, &cc, argc, argv)) >= 0)
                return rc;
        rc = PB_EXIT_FAIL;
        type = ps.type;
        file = ps.file;
        fill = ps.fill;
        pb_buf_init(&out, 0);
        if (!pb_cli_require_brokers(cmd, &cc))
                return PB_EXIT_USAGE;

        catalog = pb_cli_load_schemas(cmd, &cc);
        if (!catalog)
                return PB_EXIT_FAIL;
        schema = pb_schemas_find(catalog, type);
        if (!schema) {
                size_t i;
                fprintf(stderr,
                        "partnerbus produce: unknown event type '%s'. "
                        "Known types:",
                        type);
                for (i = 0; i < pb_schemas_count(catalog); i++)
                        fprintf(stderr, " %s",
                                pb_schema_type(pb_schemas_at(catalog, i)));
                fprintf(stderr, "\nTry 'partnerbus produce --help'.\n");
                pb_schemas_destroy(catalog);
                return PB_EXIT_USAGE;
        }
        if (file && strcmp(file, "-")) {
                lr.fp = fopen(file, "r");
                if (!lr.fp) {
                        fprintf(stderr, "partnerbus produce: %s: %s\n", file,
                                strerror(errno));
                        goto done;
                }
        } else {
                lr.fp = stdin;
        }
        if (pb_cli_open_serde(cmd, &cc, catalog, &registry, &serde))
                goto done;
        /* librdkafka allocates nine blocks per message as it is sent (the
         * message with a copy of its value, the header list, its array and
         * six headers) and frees them in bulk as the delivery reports
         * come: glibc's allocator took 44 % of the main thread's samples
         * at 500,000 events, fast bins being consolidated again and again
         * among it. Without fast bins (the per-thread cache stays) the
         * command spends 11-15 % less CPU per event (bench/README.md,
         * round eight). */
        mallopt(M_MXFAST, 0);
        prod = pb_producer_new(&cc.kconf, produce_dr, &st, err, sizeof(err));
        if (!prod) {
                fprintf(stderr, "partnerbus produce: %s\n", err);
                goto done;
        }
        pb_cli_trap_signals();
        pb_kafka_topic(&cc.kconf, pb_schema_type(schema), topic, sizeof(topic));
        /* the topic's partitions known before the first burst (librdkafka
         * 2.0 otherwise sometimes holds the first messages of an idempotent
         * producer about a second); a topic that is not there (yet) is
         * reported by the sends as before */
        pb_producer_warm(prod, topic, 5000);
        eopts.fill_event_id = fill;
        eopts.fill_occurred_at = fill;

        while (!pb_cli_stop && (got = read_line(&lr, &line, &len)) != 0) {
                pb_resp_t r;
                lineno++;
                if (got < 0) {
                        fprintf(stderr, "line %ld: line longer than %u bytes\n",
                                lineno, PB_PRODUCE_MAX_LINE);
                        st.rejected++;
                        continue;
                }
                if (pb_blank_line(line, len))
                        continue;
                pb_buf_reset(&out);
                pb_errors_init(&errs);
                r = pb_serde_encode(serde, schema, topic, line, len, &eopts,
                                    &out, &meta, &errs);
                if (r != PB_OK) {
                        if (errs.count == 0)
                                pb_errors_add(&errs, "", "%s", pb_err2str(r));
                        report_errors(lineno, &errs);
                        st.rejected++;
                        continue;
                }
                for (;;) {
                        r = pb_producer_send(
                            prod, topic, pb_schema_type(schema), &meta,
                            out.data, out.len, NULL, (void *)(intptr_t)lineno,
                            err, sizeof(err));
                        if (r != PB_ERR_QUEUE_FULL || pb_cli_stop)
                                break;
                        pb_producer_poll(prod, 100); /* queue full */
                }
                if (r != PB_OK) {
                        fprintf(stderr, "line %ld: %s\n", lineno, err);
                        st.failed++;
                        continue;
                }
                if ((++sent & 255) == 0)
                        pb_producer_poll(prod, 0);
        }
        if (ferror(lr.fp))
                fprintf(stderr, "partnerbus produce: read error: %s\n",
                        strerror(errno));

        /* wait for every delivery report; message.timeout.ms (default
         * 5 min) bounds how long a message can stay undelivered */
        while (pb_producer_outq_len(prod) > 0)
                pb_producer_flush(prod, 1000);
        pb_producer_poll(prod, 0);
        fprintf(stderr, "published %ld, rejected %ld", st.published,
                st.rejected);
        if (st.failed)
                fprintf(stderr, ", failed %ld", st.failed);
        fputc('\n', stderr);
        rc = (st.rejected || st.failed || pb_cli_stop || ferror(lr.fp))
                 ? PB_EXIT_FAIL
                 : PB_EXIT_OK;
done:
        pb_producer_destroy(prod);
        pb_serde_destroy(serde);
        pb_registry_destroy(registry);
        if (lr.fp && lr.fp != stdin)
                fclose(lr.fp);
        free(lr.buf);
        pb_buf_free(&out);
        pb_schemas_destroy(catalog);
        return rc;
}
