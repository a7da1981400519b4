/* bench_codec: the codec on one core, side by side with avro-c's generic
 * path doing the same work, per event type.
 *
 *   partnerbus encode: JSON text -> pb_json parse + schema-driven encode
 *                      + 10-byte single-object header
 *   partnerbus decode: framed Avro -> header check + decode to natural JSON
 *   avro-c encode:     cJSON_Parse + fill a generic avro_value_t (same
 *                      logical-type conversions) + avro_value_write
 *   avro-c decode:     avro_value_read + avro_value_to_json
 *
 * Input: the valid examples of each type (schemas/examples/valid/<type>),
 * turned into RING distinct events (event_id and key varied), cycled until
 * N events; each measurement is repeated ROUNDS times and the best taken.
 * Time is the thread's CPU time. Usage: bench_codec [N] [type]. Prints one
 * line per type and direction: events/s, MB/s of JSON, and the ratio to
 * avro-c. */
#include <avro.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avroc_fill.h"
#include "codec_examples.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_serde.h"
#include "pb_schema_int.h"

#define RING   1024
#define ROUNDS 3

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

static void report(const char *type, const char *what, long n, double secs,
                   double json_bytes) {
        printf("%-20s %-18s %10.0f events/s %8.1f MB/s (JSON)\n", type, what,
               (double)n / secs, json_bytes / secs / 1e6);
}

static int bench_type(const pb_schema_t *s, long n) {
        const char *type = pb_schema_type(s);
        size_t ring_bytes;
        char **ev = make_events(s, type, &ring_bytes);
        if (!ev) {
                fprintf(stderr, "%s: no examples\n", type);
                return -1;
        }
        double avg = (double)ring_bytes / RING, jb = avg * (double)n;
        pb_codec_t *c = pb_codec_new();
        pb_buf_t out, js;
        pb_errors_t errs;
        char err[512];
        pb_buf_init(&out, 0);
        pb_buf_init(&js, 0);

        /* encoded ring for the decoders (ours and avro-c's agree: the
         * cross-check test asserts that) */
        uint8_t **enc = calloc(RING, sizeof(*enc));
        size_t *enclen = calloc(RING, sizeof(*enclen));
        for (size_t k = 0; k < RING; k++) {
                pb_buf_reset(&out);
                pb_errors_init(&errs);
                pb_frame_write_soe(&out, pb_schema_fingerprint(s));
                if (pb_codec_json_to_avro(c, s, ev[k], strlen(ev[k]), NULL,
                                          &out, NULL, &errs) != PB_OK) {
                        pb_errors_format(&errs, err, sizeof(err));
                        fprintf(stderr, "%s: %s\n", type, err);
                        return -1;
                }
                enc[k] = malloc(out.len);
                memcpy(enc[k], out.data, out.len);
                enclen[k] = out.len;
        }

        /* ours: encode */
        double t0, pe = 1e30, pd = 1e30, ae = 1e30, ad = 1e30, dt;
        for (int round = 0; round < ROUNDS; round++) {
                t0 = now_s();
                for (long i = 0; i < n; i++) {
                        const char *j = ev[i % RING];
                        pb_buf_reset(&out);
                        pb_frame_write_soe(&out, s->fingerprint);
                        if (pb_codec_json_to_avro(c, s, j, strlen(j), NULL,
                                                  &out, NULL, &errs) != PB_OK)
                                return -1;
                }
                dt = now_s() - t0;
                if (dt < pe)
                        pe = dt;

                /* ours: decode */
                t0 = now_s();
                for (long i = 0; i < n; i++) {
                        pb_frame_t f;
                        size_t k = (size_t)i % RING;
                        if (pb_frame_parse(enc[k], enclen[k], &f, err,
                                           sizeof(err)) != PB_OK)
                                return -1;
                        pb_buf_reset(&js);
                        if (pb_codec_avro_to_json(c, s, NULL, f.body,
                                                  f.body_len, &js, NULL, err,
                                                  sizeof(err)) != PB_OK) {
                                fprintf(stderr, "decode: %s\n", err);
                                return -1;
                        }
                }
                dt = now_s() - t0;
                if (dt < pd)
                        pd = dt;
        }
        report(type, "partnerbus encode", n, pe, jb);
        report(type, "partnerbus decode", n, pd, jb);

        /* avro-c: encode */
        avro_schema_t as;
        if (avro_schema_from_json_length(pb_schema_json(s),
                                         strlen(pb_schema_json(s)), &as)) {
                fprintf(stderr, "avro-c: %s\n", avro_strerror());
                return -1;
        }
        avro_value_iface_t *iface = avro_generic_class_from_schema(as);
        avro_value_t val;
        avro_generic_value_new(iface, &val);
        static char wbuf[1 << 16];
        avro_writer_t w = avro_writer_memory(wbuf, sizeof(wbuf));
        avro_reader_t r = avro_reader_memory((const char *)enc[0], 1);
        for (int round = 0; round < ROUNDS; round++) {
                t0 = now_s();
                for (long i = 0; i < n; i++) {
                        cJSON *j = cJSON_Parse(ev[i % RING]);
                        avro_value_reset(&val);
                        avro_writer_reset(w);
                        uint8_t hdr[10] = {0xc3, 0x01};
                        uint64_t fp = s->fingerprint;
                        for (int b = 0; b < 8; b++)
                                hdr[2 + b] = (uint8_t)(fp >> (8 * b));
                        avro_write(w, hdr, 10);
                        if (!j || avroc_fill(&val, s->root, j) ||
                            avro_value_write(w, &val)) {
                                fprintf(stderr, "avro-c encode failed: %s\n",
                                        avro_strerror());
                                return -1;
                        }
                        cJSON_Delete(j);
                }
                dt = now_s() - t0;
                if (dt < ae)
                        ae = dt;

                /* avro-c: decode */
                t0 = now_s();
                for (long i = 0; i < n; i++) {
                        size_t k = (size_t)i % RING;
                        char *text = NULL;
                        avro_reader_memory_set_source(r,
                                                      (const char *)enc[k] + 10,
                                                      (int64_t)enclen[k] - 10);
                        avro_value_reset(&val);
                        if (avro_value_read(r, &val) ||
                            avro_value_to_json(&val, 1, &text)) {
                                fprintf(stderr, "avro-c decode failed: %s\n",
                                        avro_strerror());
                                return -1;
                        }
                        free(text);
                }
                dt = now_s() - t0;
                if (dt < ad)
                        ad = dt;
        }
        report(type, "avro-c encode", n, ae, jb);
        report(type, "avro-c decode", n, ad, jb);
        printf("%-20s ratio              encode %.2fx   decode %.2fx   "
               "(avg JSON %.0f B, Avro %zu B)\n",
               type, ae / pe, ad / pd, avg, enclen[0]);
        fflush(stdout);

        avro_reader_free(r);
        avro_writer_free(w);
        avro_value_decref(&val);
        avro_value_iface_decref(iface);
        avro_schema_decref(as);
        for (size_t k = 0; k < RING; k++) {
                free(ev[k]);
                free(enc[k]);
        }
        free(ev);
        free(enc);
        free(enclen);
        pb_buf_free(&out);
        pb_buf_free(&js);
        pb_codec_destroy(c);
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
        printf("bench_codec: %ld events per type and direction, one thread\n",
               n);
        int rc = 0;
        for (size_t i = 0; i < pb_schemas_count(cat); i++) {
                const pb_schema_t *s = pb_schemas_at(cat, i);
                if (only && strcmp(only, pb_schema_type(s)))
                        continue;
                if (bench_type(s, n))
                        rc = 1;
        }
        pb_schemas_destroy(cat);
        return rc;
}
