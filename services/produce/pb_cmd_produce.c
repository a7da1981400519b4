/* partnerbus produce - JSON lines in, schema-checked Avro events out to
 * Kafka.
 *
 * Each non-blank input line is one event of --type. It is validated and
 * encoded by the serde (single-object encoding, or the Confluent wire
 * format with --schema-registry); an invalid line is reported as
 * "line N: /pointer: message" and not published. Every published event is
 * waited for: the command ends only when Kafka acknowledged (or refused)
 * each one. Exit status 1 if any line was rejected or any delivery failed.
 *
 * Two threads: a worker reads, parses and encodes into a bounded ring, the
 * main thread publishes in file order and takes the delivery reports (see
 * "the pipeline" below). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
        void (*before_read)(void *); /* called before each fread */
        void *arg;
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
                if (lr->before_read)
                        lr->before_read(lr->arg);
                got =
                    fread(lr->buf + lr->end, 1, lr->cap - 1 - lr->end, lr->fp);
                if (got == 0)
                        lr->eof = 1;
                lr->end += got;
        }
}

/* The rejection report of one line, as it goes to stderr. */
static void format_errors(long lineno, const pb_errors_t *errs, pb_buf_t *b) {
        size_t i;
        for (i = 0; i < errs->count; i++) {
                if (errs->items[i].pointer[0])
                        pb_buf_printf(b, "line %ld: %s: %s\n", lineno,
                                      errs->items[i].pointer,
                                      errs->items[i].message);
                else
                        pb_buf_printf(b, "line %ld: %s\n", lineno,
                                      errs->items[i].message);
        }
        if (errs->dropped)
                pb_buf_printf(b, "line %ld: (%zu more errors)\n", lineno,
                              errs->dropped);
}

/* --- the pipeline ---
 *
 * A worker thread reads lines, parses, validates and encodes them into a
 * ring of slots; the main thread takes the slots in ring order (= file
 * order) and hands the events to librdkafka (or prints a line's rejection),
 * polls delivery reports and ends as before. The ring is single-producer
 * single-consumer: `tail` (slots filled) is written only by the worker,
 * `head` (slots handed on) only by the main thread. Memory is bounded: at
 * most PB_PRODUCE_SLOTS slots and, while more than one slot is used,
 * PB_PRODUCE_RING_BYTES of encoded bytes; a slot's buffer larger than
 * PB_PRODUCE_SLOT_KEEP is freed after use. In the steady state nothing is
 * allocated per line on either thread (librdkafka allocates its copy).
 *
 * Waking: each side sets its `*_waiting` flag before looking at the other's
 * counter, the other stores its counter before looking at the flag (both
 * sequentially consistent), so one of them always sees the other; a
 * sleeper is signalled only once a batch is ready (or the worker is about
 * to block on input, or is done), so the two threads do not wake each
 * other per event (batches of 128: with 32 the futex calls cost ~15 % more
 * CPU per event than the serial loop). Waits time out after 100 ms to
 * notice a signal. Worst case held: 1,024 slots of up to 16 KiB kept, plus
 * 16 MiB of larger events in flight. */
#define PB_PRODUCE_SLOTS      1024u
#define PB_PRODUCE_BATCH      128u
#define PB_PRODUCE_RING_BYTES (16u << 20)
#define PB_PRODUCE_SLOT_KEEP  (16u << 10)

enum { SLOT_EVENT, SLOT_REJECT };

typedef struct produce_slot {
        int kind;
        long lineno;
        pb_event_meta_t meta;
        pb_buf_t buf; /* SLOT_EVENT: the framed value; SLOT_REJECT: text */
} produce_slot_t;

typedef struct produce_pipe {
        produce_slot_t slots[PB_PRODUCE_SLOTS];
        /* written by the worker (its own cache line: the two threads do not
         * write the same line per event) */
        _Alignas(64) _Atomic size_t tail; /* slots filled */
        _Atomic size_t flushed;           /* tail when the worker flushed */
        _Atomic size_t bytes_in;          /* bytes of all filled slots */
        _Atomic int done;                 /* worker finished */
        _Atomic int worker_waiting;
        /* written by the main thread */
        _Alignas(64) _Atomic size_t head; /* slots handed on */
        _Atomic size_t bytes_out;         /* bytes of all handed-on slots */
        _Atomic int quit;                 /* main asks the worker to stop */
        _Atomic int main_waiting;
        _Alignas(64) pthread_mutex_t mu;
        pthread_cond_t can_take, can_fill;
        /* worker only */
        size_t w_head, w_bytes_out; /* last seen head and bytes_out */
        pb_serde_t *serde;
        const pb_schema_t *schema;
        const char *topic;
        const pb_encode_opts_t *eopts;
        line_reader_t *lr;
        pb_errors_t errs;
        int read_errno;
} produce_pipe_t;

static void pipe_deadline(struct timespec *ts) {
        clock_gettime(CLOCK_MONOTONIC, ts);
        ts->tv_nsec += 100 * 1000000L;
        if (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}

static void pipe_signal(produce_pipe_t *pp, pthread_cond_t *cv) {
        pthread_mutex_lock(&pp->mu);
        pthread_cond_signal(cv);
        pthread_mutex_unlock(&pp->mu);
}

/* Worker: lets a waiting main thread take what is filled (before a read
 * that may block, and when the ring is full). */
static void pipe_flush(produce_pipe_t *pp) {
        size_t t = atomic_load_explicit(&pp->tail, memory_order_relaxed);
        if (atomic_load_explicit(&pp->flushed, memory_order_relaxed) == t)
                return;
        atomic_store(&pp->flushed, t);
        if (atomic_load(&pp->main_waiting))
                pipe_signal(pp, &pp->can_take);
}

/* Worker: room for one more slot, with need_free slots free? With
 * reload, the main thread's counters are read again; otherwise the last
 * seen ones are used (they only lag: the room only grows). */
static int pipe_room(produce_pipe_t *pp, size_t need_free, int reload) {
        size_t used;
        if (reload) {
                pp->w_head = atomic_load(&pp->head);
                pp->w_bytes_out = atomic_load(&pp->bytes_out);
        }
        used =
            atomic_load_explicit(&pp->tail, memory_order_relaxed) - pp->w_head;
        return used == 0 ||
               (PB_PRODUCE_SLOTS - used >= need_free &&
                atomic_load_explicit(&pp->bytes_in, memory_order_relaxed) -
                        pp->w_bytes_out <
                    PB_PRODUCE_RING_BYTES);
}

/* Worker: the next slot to fill, waiting while the ring is full; NULL when
 * asked to stop. */
static produce_slot_t *pipe_acquire(produce_pipe_t *pp) {
        if (!pipe_room(pp, 1, 0) && !pipe_room(pp, 1, 1)) {
                pipe_flush(pp);
                pthread_mutex_lock(&pp->mu);
                atomic_store(&pp->worker_waiting, 1);
                while (!pipe_room(pp, PB_PRODUCE_BATCH, 1) &&
                       !atomic_load(&pp->quit) && !pb_cli_stop) {
                        struct timespec ts;
                        pipe_deadline(&ts);
                        pthread_cond_timedwait(&pp->can_fill, &pp->mu, &ts);
                }
                atomic_store(&pp->worker_waiting, 0);
                pthread_mutex_unlock(&pp->mu);
        }
        if (atomic_load_explicit(&pp->quit, memory_order_relaxed) ||
            pb_cli_stop)
                return NULL;
        return &pp->slots[atomic_load_explicit(&pp->tail,
                                               memory_order_relaxed) %
                          PB_PRODUCE_SLOTS];
}

static void pipe_publish(produce_pipe_t *pp, produce_slot_t *sl) {
        size_t t = atomic_load_explicit(&pp->tail, memory_order_relaxed) + 1;
        atomic_store_explicit(
            &pp->bytes_in,
            atomic_load_explicit(&pp->bytes_in, memory_order_relaxed) +
                sl->buf.len,
            memory_order_relaxed);
        atomic_store(&pp->tail, t); /* publishes the slot and bytes_in */
        if (atomic_load(&pp->main_waiting) &&
            t - atomic_load(&pp->head) >= PB_PRODUCE_BATCH)
                pipe_signal(pp, &pp->can_take);
}

static void pipe_before_read(void *arg) {
        pipe_flush(arg);
}

static void *produce_worker(void *arg) {
        produce_pipe_t *pp = arg;
        line_reader_t *lr = pp->lr;
        long lineno = 0;
        char *line;
        size_t len;
        int got;

        for (;;) {
                produce_slot_t *sl;
                pb_resp_t r;
                if (atomic_load(&pp->quit) || pb_cli_stop)
                        break;
                got = read_line(lr, &line, &len);
                if (got == 0)
                        break;
                lineno++;
                if (got > 0 && pb_blank_line(line, len))
                        continue;
                if (!(sl = pipe_acquire(pp)))
                        break;
                sl->lineno = lineno;
                pb_buf_reset(&sl->buf);
                if (got < 0) {
                        sl->kind = SLOT_REJECT;
                        pb_buf_printf(&sl->buf,
                                      "line %ld: line longer than %u bytes\n",
                                      lineno, PB_PRODUCE_MAX_LINE);
                        pipe_publish(pp, sl);
                        continue;
                }
                pb_errors_init(&pp->errs);
                r = pb_serde_encode(pp->serde, pp->schema, pp->topic, line, len,
                                    pp->eopts, &sl->buf, &sl->meta, &pp->errs);
                if (r != PB_OK) {
                        if (pp->errs.count == 0)
                                pb_errors_add(&pp->errs, "", "%s",
                                              pb_err2str(r));
                        pb_buf_reset(&sl->buf);
                        format_errors(lineno, &pp->errs, &sl->buf);
                        sl->kind = SLOT_REJECT;
                } else {
                        sl->kind = SLOT_EVENT;
                }
                pipe_publish(pp, sl);
        }
        if (lr->fp && ferror(lr->fp))
                pp->read_errno = errno ? errno : EIO;
        atomic_store(&pp->done, 1);
        atomic_store(&pp->flushed, atomic_load(&pp->tail));
        pipe_signal(pp, &pp->can_take);
        return NULL;
}

/* Main: waits until a batch is ready, the worker flushed or finished, or
 * 100 ms passed; returns how many slots can be taken now. */
static size_t pipe_wait(produce_pipe_t *pp, pb_producer_t *prod) {
        size_t h = atomic_load_explicit(&pp->head, memory_order_relaxed);
        size_t n = atomic_load(&pp->tail) - h;
        if (n >= PB_PRODUCE_BATCH || (n && atomic_load(&pp->flushed) > h))
                return n;
        pb_producer_poll(prod, 0);
        pthread_mutex_lock(&pp->mu);
        atomic_store(&pp->main_waiting, 1);
        for (;;) {
                struct timespec ts;
                int done = atomic_load(&pp->done);
                n = atomic_load(&pp->tail) - h;
                if (n >= PB_PRODUCE_BATCH ||
                    (n && atomic_load(&pp->flushed) > h) || done || pb_cli_stop)
                        break;
                pipe_deadline(&ts);
                if (pthread_cond_timedwait(&pp->can_take, &pp->mu, &ts) ==
                    ETIMEDOUT) {
                        n = atomic_load(&pp->tail) - h;
                        if (n)
                                break; /* take what there is */
                }
        }
        atomic_store(&pp->main_waiting, 0);
        pthread_mutex_unlock(&pp->mu);
        return n;
}

/* Main: the next n slots (taken, bytes bytes) are handed on; the worker may
 * refill them. */
static void pipe_release(produce_pipe_t *pp, size_t n, size_t bytes) {
        atomic_store(
            &pp->bytes_out,
            atomic_load_explicit(&pp->bytes_out, memory_order_relaxed) + bytes);
        atomic_store(&pp->head,
                     atomic_load_explicit(&pp->head, memory_order_relaxed) + n);
        if (atomic_load(&pp->worker_waiting)) {
                size_t used = atomic_load(&pp->tail) - atomic_load(&pp->head);
                if (used == 0 ||
                    (PB_PRODUCE_SLOTS - used >= PB_PRODUCE_BATCH &&
                     atomic_load(&pp->bytes_in) - atomic_load(&pp->bytes_out) <
                         PB_PRODUCE_RING_BYTES))
                        pipe_signal(pp, &pp->can_fill);
        }
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
        line_reader_t lr = {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL};
        produce_pipe_t *pp = NULL;
        pthread_t worker;
        int worker_started = 0;
        char topic[512], err[512];
        long sent = 0;
        size_t i;

        memset(&ps, 0, sizeof(ps));
        if ((rc = pb_opts_parse_args(&produce_spec, &ps, &cc, argc, argv)) >= 0)
                return rc;
        rc = PB_EXIT_FAIL;
        type = ps.type;
        file = ps.file;
        fill = ps.fill;
        if (!pb_cli_require_brokers(cmd, &cc))
                return PB_EXIT_USAGE;

        catalog = pb_cli_load_schemas(cmd, &cc);
        if (!catalog)
                return PB_EXIT_FAIL;
        schema = pb_schemas_find(catalog, type);
        if (!schema) {
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
        prod = pb_producer_new(&cc.kconf, produce_dr, &st, err, sizeof(err));
        if (!prod) {
                fprintf(stderr, "partnerbus produce: %s\n", err);
                goto done;
        }
        pb_kafka_topic(&cc.kconf, pb_schema_type(schema), topic, sizeof(topic));
        eopts.fill_event_id = fill;
        eopts.fill_occurred_at = fill;
        pp = calloc(1, sizeof(*pp));
        if (!pp) {
                fprintf(stderr, "partnerbus produce: out of memory\n");
                goto done;
        }
        for (i = 0; i < PB_PRODUCE_SLOTS; i++)
                pb_buf_init(&pp->slots[i].buf, 0);
        {
                pthread_condattr_t ca;
                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                pthread_mutex_init(&pp->mu, NULL);
                pthread_cond_init(&pp->can_take, &ca);
                pthread_cond_init(&pp->can_fill, &ca);
                pthread_condattr_destroy(&ca);
        }
        pp->serde = serde;
        pp->schema = schema;
        pp->topic = topic;
        pp->eopts = &eopts;
        pp->lr = &lr;
        lr.before_read = pipe_before_read;
        lr.arg = pp;
        /* the topic's partitions known before the first burst; a topic that
         * is not there (yet) is reported by the sends as before */
        pb_producer_warm(prod, topic, 5000);
        pb_cli_trap_signals();
        if (pthread_create(&worker, NULL, produce_worker, pp) != 0) {
                fprintf(stderr, "partnerbus produce: cannot start a thread\n");
                goto done;
        }
        worker_started = 1;
        {
                /* SIGINT/SIGTERM go to the worker, so that a read blocked
                 * on stdin is interrupted as before; the main thread sees
                 * pb_cli_stop within 100 ms */
                sigset_t ss;
                sigemptyset(&ss);
                sigaddset(&ss, SIGINT);
                sigaddset(&ss, SIGTERM);
                pthread_sigmask(SIG_BLOCK, &ss, NULL);
        }

        while (!pb_cli_stop) {
                size_t n = pipe_wait(pp, prod), h, taken = 0, bytes = 0;
                if (n == 0 && atomic_load(&pp->done) &&
                    atomic_load(&pp->tail) == atomic_load(&pp->head))
                        break;
                h = atomic_load_explicit(&pp->head, memory_order_relaxed);
                for (; taken < n && !pb_cli_stop; taken++) {
                        produce_slot_t *sl =
                            &pp->slots[(h + taken) % PB_PRODUCE_SLOTS];
                        pb_resp_t r = PB_OK;
                        if (taken && taken % PB_PRODUCE_BATCH == 0) {
                                /* let the worker refill what is done */
                                pipe_release(pp, PB_PRODUCE_BATCH, bytes);
                                bytes = 0;
                        }
                        bytes += sl->buf.len;
                        if (sl->kind == SLOT_REJECT) {
                                fwrite(sl->buf.data, 1, sl->buf.len, stderr);
                                st.rejected++;
                        } else {
                                for (;;) {
                                        r = pb_producer_send(
                                            prod, topic, pb_schema_type(schema),
                                            &sl->meta, sl->buf.data,
                                            sl->buf.len, NULL,
                                            (void *)(intptr_t)sl->lineno, err,
                                            sizeof(err));
                                        if (r != PB_ERR_QUEUE_FULL ||
                                            pb_cli_stop)
                                                break;
                                        /* queue full */
                                        pb_producer_poll(prod, 100);
                                }
                                if (r != PB_OK) {
                                        fprintf(stderr, "line %ld: %s\n",
                                                sl->lineno, err);
                                        st.failed++;
                                } else if ((++sent & 255) == 0) {
                                        pb_producer_poll(prod, 0);
                                }
                        }
                        if (sl->buf.cap > PB_PRODUCE_SLOT_KEEP)
                                pb_buf_free(&sl->buf);
                }
                if (taken)
                        pipe_release(pp, (taken - 1) % PB_PRODUCE_BATCH + 1,
                                     bytes);
        }
        atomic_store(&pp->quit, 1);
        pipe_signal(pp, &pp->can_fill);
        pthread_join(worker, NULL);
        worker_started = 0;
        if (pp->read_errno)
                fprintf(stderr, "partnerbus produce: read error: %s\n",
                        strerror(pp->read_errno));

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
        rc = (st.rejected || st.failed || pb_cli_stop || pp->read_errno)
                 ? PB_EXIT_FAIL
                 : PB_EXIT_OK;
done:
        if (worker_started) {
                atomic_store(&pp->quit, 1);
                pthread_join(worker, NULL);
        }
        pb_producer_destroy(prod);
        pb_serde_destroy(serde);
        pb_registry_destroy(registry);
        if (lr.fp && lr.fp != stdin)
                fclose(lr.fp);
        free(lr.buf);
        if (pp) {
                for (i = 0; i < PB_PRODUCE_SLOTS; i++)
                        pb_buf_free(&pp->slots[i].buf);
                pthread_mutex_destroy(&pp->mu);
                pthread_cond_destroy(&pp->can_take);
                pthread_cond_destroy(&pp->can_fill);
                free(pp);
        }
        pb_schemas_destroy(catalog);
        return rc;
}
