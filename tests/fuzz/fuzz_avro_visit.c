/* libFuzzer target for the visitor walk over an Avro body
 * (pb_codec_visit), which `replay --format csv` flattens events with
 * (pb_replay_csv_add_avro). Input as fuzz_avro_check: byte 0 picks the
 * event schema (fuzz_common_codec.h), byte 1 the dialect (even: RFC 4180,
 * odd: excel-de), the rest is a body written with that schema. The walk
 * and the decoder must agree on every input (the same code and error
 * text), and for a good body the CSV from the walk must be the CSV of the
 * decoded and parsed JSON, byte for byte - also for the event added a
 * second time, when the walk appends the cells of known paths itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common_codec.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_codec_visit.h"
#include "partnerbus/pb_json.h"
#include "pb_replay.h"

static pb_json_parser_t *fz_parser;

static void fz_init(void) {
        if (fz_first_call() && !(fz_parser = pb_json_parser_new(NULL)))
                abort();
}

/* the CSV of w (freed by the caller) */
static char *fz_finish(pb_replay_csv_t *w) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (!mem || pb_replay_csv_finish(w, mem) != PB_OK)
                abort();
        fclose(mem);
        return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        pb_buf_t json;
        char e1[512], e2[512];
        pb_resp_t r1, r2;
        pb_replay_csv_t *old, *neu;
        pb_csv_dialect_t d;
        const pb_schema_t *s;
        const pb_json_t *tree;

        if (size < 2)
                return 0;
        fz_init();
        s = fz_schemas[data[0] % fz_nschemas];
        d = data[1] & 1 ? PB_CSV_EXCEL_DE : PB_CSV_RFC4180;
        old = pb_replay_csv_new();
        neu = pb_replay_csv_new();
        if (!old || !neu ||
            pb_replay_csv_set_dialect(old, d, pb_schema_json(s)) != PB_OK ||
            pb_replay_csv_set_dialect(neu, d, pb_schema_json(s)) != PB_OK)
                abort();
        pb_buf_init(&json, 0);
        r1 = pb_codec_avro_to_json(fz_codec, s, NULL, data + 2, size - 2, &json,
                                   NULL, e1, sizeof(e1));
        r2 = pb_replay_csv_add_avro(neu, fz_codec, s, data + 2, size - 2, 0, e2,
                                    sizeof(e2));
        if (r1 != r2 || strcmp(e1, e2)) {
                fprintf(stderr, "decode %s '%s', walk %s '%s'\n",
                        pb_err2str(r1), e1, pb_err2str(r2), e2);
                abort();
        }
        if (r1 == PB_OK) {
                char *a, *b;
                tree = pb_json_parse(fz_parser, (const char *)json.data,
                                     json.len, e1, sizeof(e1));
                if (!tree || pb_replay_csv_add(old, tree) != PB_OK)
                        abort();
                /* the same event again: now the walk knows the paths and
                 * appends the cells itself (the odd inputs as checked) */
                if (pb_replay_csv_add(old, tree) != PB_OK ||
                    pb_replay_csv_add_avro(neu, fz_codec, s, data + 2, size - 2,
                                           data[1] & 2 ? PB_VISIT_CHECKED : 0,
                                           e2, sizeof(e2)) != PB_OK) {
                        fprintf(stderr, "second walk: %s\n", e2);
                        abort();
                }
                a = fz_finish(old);
                b = fz_finish(neu);
                if (strcmp(a, b)) {
                        fprintf(stderr, "from JSON:\n%s\nfrom Avro:\n%s\n", a,
                                b);
                        abort();
                }
                free(a);
                free(b);
        }
        pb_buf_free(&json);
        pb_replay_csv_destroy(old);
        pb_replay_csv_destroy(neu);
        return 0;
}
