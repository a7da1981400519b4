/* bench_codec: the codec on one core, side by side with avro-c's generic
 * path doing the same work, per event type.
 *
 *   pb-encode:    JSON text -> pb_json parse + schema-driven encode
 *                 + 10-byte single-object header
 *   pb-decode:    framed Avro -> header check + decode to natural JSON
 *   avroc-encode: cJSON_Parse + fill a generic avro_value_t (same
 *                 logical-type conversions) + avro_value_write
 *   avroc-json:   avro_value_read + avro_value_to_json (Avro's own JSON
 *                 encoding through jansson: not the same output as
 *                 pb-decode, so NOT a decode peer; only with
 *                 BENCH_AVROC_JSON=1). The decode peer is Apache Avro for
 *                 Java (bench/java-avro, run by bench/codec.sh).
 *
 * Input: the valid examples of each type (schemas/examples/valid/<type>),
 * turned into RING distinct events (event_id and key varied), cycled until
 * N events. BENCH_ROUNDS rounds (default 5); in each the sides run in turn,
 * A/B interleaved, the order rotating from round to round (BENCH_ROUND0
 * shifts it, for bench/codec.sh which runs one round per process). Time is
 * the thread's CPU time. Prints a "raw ROUND TYPE SIDE EVENTS_PER_S" line
 * per measurement and, per type, the median (min-max) of each side and the
 * median of the per-round ratios. Each side's per-event work is one
 * non-inlined function (bench_pb_encode_one, bench_pb_decode_one,
 * bench_avroc_encode_one, bench_avroc_json_one) for callgrind's
 * --toggle-collect. BENCH_SIDES=pb-encode,... runs only those sides.
 * Usage: bench_codec [N] [type]. */
#include <avro.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROUNDS 64

#include "avroc_fill.h"
#include "codec_examples.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_serde.h"
#include "pb_schema_int.h"

#define RING 1024

/* CPU time of this thread: the machine the figures come from is shared,
 * and wall time would count the time other processes had the core. */
static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* RING variants of the type's examples: event_id and key made unique. */
static char **make_events(const pb_schema_t *s, const char *type,
                          size_t *total_bytes) {
        char dir[1024], sub[1536], path[2048];
        size_t nf;
        ex_dir(dir, sizeof(dir), "valid");
        snprintf(sub, sizeof(sub), "%s/%s", dir, type);
        char **files = ex_list(sub, ".json", &nf);
        if (!nf)
                return NULL;
        cJSON **tmpl = calloc(nf, sizeof(*tmpl));
        for (size_t i = 0; i < nf; i++) {
                snprintf(path, sizeof(path), "%s/%s", sub, files[i]);
                char *txt = ex_read_file(path, NULL);
                tmpl[i] = txt ? cJSON_Parse(txt) : NULL;
                free(txt);
                if (!tmpl[i]) {
                        fprintf(stderr, "cannot read %s\n", path);
                        exit(1);
                }
        }
        char **ev = calloc(RING, sizeof(*ev));
        *total_bytes = 0;
        for (size_t k = 0; k < RING; k++) {
                cJSON *j = cJSON_Duplicate(tmpl[k % nf], 1);
                char id[64], key[300];
                snprintf(id, sizeof(id), "3f1c9a52-6b1e-4c07-9d2a-%012zx",
                         k * 7919);
                cJSON_ReplaceItemInObject(j, "event_id",
                                          cJSON_CreateString(id));
                if (s->key_field) {
                        cJSON *kv = cJSON_GetObjectItem(j, s->key_field);
                        snprintf(key, sizeof(key), "%s-%zu",
                                 kv && cJSON_IsString(kv) ? kv->valuestring
                                                          : "k",
                                 k);
                        cJSON_ReplaceItemInObject(j, s->key_field,
                                                  cJSON_CreateString(key));
                }
                ev[k] = cJSON_PrintUnformatted(j);
                *total_bytes += strlen(ev[k]);
                cJSON_Delete(j);
        }
        for (size_t i = 0; i < nf; i++)
                cJSON_Delete(tmpl[i]);
        free(tmpl);
        ex_free_list(files, nf);
        return ev;
}

/* one type's state, shared by the per-event functions */
struct bench {
        const pb_schema_t *s;
        pb_codec_t *c;
        pb_buf_t out, js;
        pb_errors_t errs;
        char **ev;
        uint8_t **enc;
        size_t *enclen;
        avro_value_t val;
        avro_writer_t w;
        avro_reader_t r;
};

__attribute__((noinline)) int bench_pb_encode_one(struct bench *b,
                                                  const char *j) {
        pb_buf_reset(&b->out);
        pb_frame_write_soe(&b->out, b->s->fingerprint);
        return pb_codec_json_to_avro(b->c, b->s, j, strlen(j), NULL, &b->out,
                                     NULL, &b->errs) != PB_OK;
}

__attribute__((noinline)) int
bench_pb_decode_one(struct bench *b, const uint8_t *e, size_t len) {
        pb_frame_t f;
        char err[256];
        if (pb_frame_parse(e, len, &f, err, sizeof(err)) != PB_OK)
                return 1;
        pb_buf_reset(&b->js);
        if (pb_codec_avro_to_json(b->c, b->s, NULL, f.body, f.body_len, &b->js,
                                  NULL, err, sizeof(err)) != PB_OK) {
                fprintf(stderr, "decode: %s\n", err);
                return 1;
        }
        return 0;
}

__attribute__((noinline)) int bench_avroc_encode_one(struct bench *b,
                                                     const char *text) {
        cJSON *j = cJSON_Parse(text);
        avro_value_reset(&b->val);
        avro_writer_reset(b->w);
        uint8_t hdr[10] = {0xc3, 0x01};
        uint64_t fp = b->s->fingerprint;
        for (int k = 0; k < 8; k++)
                hdr[2 + k] = (uint8_t)(fp >> (8 * k));
        avro_write(b->w, hdr, 10);
        if (!j || avroc_fill(&b->val, b->s->root, j) ||
            avro_value_write(b->w, &b->val)) {
                fprintf(stderr, "avro-c encode failed: %s\n", avro_strerror());
                cJSON_Delete(j);
                return 1;
        }
        cJSON_Delete(j);
        return 0;
}

__attribute__((noinline)) int
bench_avroc_json_one(struct bench *b, const uint8_t *e, size_t len) {
        char *text = NULL;
        avro_reader_memory_set_source(b->r, (const char *)e + 10,
                                      (int64_t)len - 10);
        avro_value_reset(&b->val);
        if (avro_value_read(b->r, &b->val) ||
            avro_value_to_json(&b->val, 1, &text)) {
                fprintf(stderr, "avro-c decode failed: %s\n", avro_strerror());
                return 1;
        }
        free(text);
        return 0;
}

enum { S_PB_ENC, S_AVROC_ENC, S_PB_DEC, S_AVROC_JSON, NSIDES };
static const char *side_name[NSIDES] = {"pb-encode", "avroc-encode",
                                        "pb-decode", "avroc-json"};
static int side_on[NSIDES];

/* N events of one side; returns the CPU seconds, or -1 */
static double run_side(struct bench *b, int side, long n) {
        double t0 = now_s();
        for (long i = 0; i < n; i++) {
                size_t k = (size_t)i % RING;
                int bad = 0;
                switch (side) {
                case S_PB_ENC:
                        bad = bench_pb_encode_one(b, b->ev[k]);
                        break;
                case S_AVROC_ENC:
                        bad = bench_avroc_encode_one(b, b->ev[k]);
                        break;
                case S_PB_DEC:
                        bad = bench_pb_decode_one(b, b->enc[k], b->enclen[k]);
                        break;
                default:
                        bad = bench_avroc_json_one(b, b->enc[k], b->enclen[k]);
                }
                if (bad)
                        return -1;
        }
        return now_s() - t0;
}

static int cmp_d(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static double median(const double *v, int n, double *lo, double *hi) {
        double t[MAX_ROUNDS];
        memcpy(t, v, sizeof(double) * (size_t)n);
        qsort(t, (size_t)n, sizeof(double), cmp_d);
        *lo = t[0];
        *hi = t[n - 1];
        return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static int bench_type(const pb_schema_t *s, long n, int rounds, int round0) {
        const char *type = pb_schema_type(s);
        size_t ring_bytes;
        struct bench b = {.s = s};
        char err[512];
        b.ev = make_events(s, type, &ring_bytes);
        if (!b.ev) {
                fprintf(stderr, "%s: no examples\n", type);
                return -1;
        }
        double avg = (double)ring_bytes / RING;
        b.c = pb_codec_new();
        pb_buf_init(&b.out, 0);
        pb_buf_init(&b.js, 0);
        pb_errors_init(&b.errs);

        /* encoded ring for the decoders (ours and avro-c's agree: the
         * cross-check test asserts that) */
        b.enc = calloc(RING, sizeof(*b.enc));
        b.enclen = calloc(RING, sizeof(*b.enclen));
        for (size_t k = 0; k < RING; k++) {
                if (bench_pb_encode_one(&b, b.ev[k])) {
                        pb_errors_format(&b.errs, err, sizeof(err));
                        fprintf(stderr, "%s: %s\n", type, err);
                        return -1;
                }
                b.enc[k] = malloc(b.out.len);
                memcpy(b.enc[k], b.out.data, b.out.len);
                b.enclen[k] = b.out.len;
        }

        avro_schema_t as;
        if (avro_schema_from_json_length(pb_schema_json(s),
                                         strlen(pb_schema_json(s)), &as)) {
                fprintf(stderr, "avro-c: %s\n", avro_strerror());
                return -1;
        }
        avro_value_iface_t *iface = avro_generic_class_from_schema(as);
        avro_generic_value_new(iface, &b.val);
        static char wbuf[1 << 16];
        b.w = avro_writer_memory(wbuf, sizeof(wbuf));
        b.r = avro_reader_memory((const char *)b.enc[0], 1);

        /* warm-up: one pass of the ring per side (caches, allocator) */
        for (int sd = 0; sd < NSIDES; sd++)
                if (side_on[sd] && run_side(&b, sd, RING) < 0)
                        return -1;

        double rate[NSIDES][MAX_ROUNDS];
        for (int r = 0; r < rounds; r++) {
                /* rotate the order: round r starts with side (r + round0) */
                for (int i = 0; i < NSIDES; i++) {
                        int sd = (i + r + round0) % NSIDES;
                        if (!side_on[sd])
                                continue;
                        double dt = run_side(&b, sd, n);
                        if (dt < 0)
                                return -1;
                        rate[sd][r] = (double)n / dt;
                        printf("raw %d %s %s %.0f\n", r + round0, type,
                               side_name[sd], rate[sd][r]);
                }
        }
        printf("# %s: avg JSON %.0f B, Avro %zu B (with header)\n", type, avg,
               b.enclen[0]);
        if (rounds > 1) {
                for (int sd = 0; sd < NSIDES; sd++) {
                        double lo, hi, m;
                        if (!side_on[sd])
                                continue;
                        m = median(rate[sd], rounds, &lo, &hi);
                        printf("%-20s %-13s median %9.0f events/s "
                               "(%.0f-%.0f) %7.1f MB/s JSON\n",
                               type, side_name[sd], m, lo, hi, m * avg / 1e6);
                }
                if (side_on[S_PB_ENC] && side_on[S_AVROC_ENC]) {
                        double q[MAX_ROUNDS], lo, hi, m;
                        for (int r = 0; r < rounds; r++)
                                q[r] = rate[S_PB_ENC][r] / rate[S_AVROC_ENC][r];
                        m = median(q, rounds, &lo, &hi);
                        printf("%-20s encode pb/avro-c median of per-round "
                               "ratios %.2fx (%.2f-%.2f)\n",
                               type, m, lo, hi);
                }
        }
        fflush(stdout);

        avro_reader_free(b.r);
        avro_writer_free(b.w);
        avro_value_decref(&b.val);
        avro_value_iface_decref(iface);
        avro_schema_decref(as);
        for (size_t k = 0; k < RING; k++) {
                free(b.ev[k]);
                free(b.enc[k]);
        }
        free(b.ev);
        free(b.enc);
        free(b.enclen);
        pb_buf_free(&b.out);
        pb_buf_free(&b.js);
        pb_codec_destroy(b.c);
        return 0;
}

int main(int argc, char **argv) {
        long n = argc > 1 ? atol(argv[1]) : 200000;
        const char *only = argc > 2 ? argv[2] : NULL;
        char err[512];
        pb_schemas_t *cat =
            pb_schemas_load_dir(pb_schemas_default_dir(), err, sizeof(err));
        if (!cat) {
                fprintf(stderr, "schemas: %s\n", err);
                return 1;
        }
        const char *e = getenv("BENCH_ROUNDS");
        int rounds = e ? atoi(e) : 5;
        if (rounds < 1 || rounds > MAX_ROUNDS)
                rounds = 5;
        e = getenv("BENCH_ROUND0");
        int round0 = e ? atoi(e) : 0;
        const char *sides = getenv("BENCH_SIDES");
        for (int sd = 0; sd < NSIDES; sd++)
                side_on[sd] = sides ? strstr(sides, side_name[sd]) != NULL
                                    : sd != S_AVROC_JSON;
        e = getenv("BENCH_AVROC_JSON");
        if (e && *e == '1')
                side_on[S_AVROC_JSON] = 1;
        printf("# bench_codec: %ld events per type and side, %d round(s), "
               "one thread\n",
               n, rounds);
        int rc = 0;
        for (size_t i = 0; i < pb_schemas_count(cat); i++) {
                const pb_schema_t *s = pb_schemas_at(cat, i);
                if (only && strcmp(only, pb_schema_type(s)))
                        continue;
                if (bench_type(s, n, rounds, round0))
                        rc = 1;
        }
        pb_schemas_destroy(cat);
        return rc;
}
