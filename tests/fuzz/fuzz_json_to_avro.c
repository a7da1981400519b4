/* libFuzzer target for the JSON -> Avro encoder. Input: the first byte
 * picks the event schema (see fuzz_common_codec.h), the rest is the JSON
 * event. Any input must be encoded or rejected without a crash, leak or
 * unbounded allocation; whenever encoding succeeds, the bytes must decode,
 * and the decoded JSON must encode again to exactly the same bytes (the
 * decoder's canonical output is a fixed point); a rejected one's errors
 * render as JSON that parses, each with a code. abort() otherwise. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common_codec.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_json.h"

static pb_json_parser_t *fz_parser;

/* The errors as the gateway answers them must be JSON, and every error
 * of the codec must carry its code. */
static void check_errors_json(const pb_errors_t *errs) {
        char err[256];
        pb_buf_t b;
        size_t i;
        for (i = 0; i < errs->count; i++)
                if (!errs->items[i].code)
                        abort();
        if (!fz_parser && !(fz_parser = pb_json_parser_new(NULL)))
                abort();
        pb_buf_init(&b, 0);
        if (pb_errors_to_json(errs, &b) != PB_OK)
                abort();
        if (!pb_json_parse(fz_parser, (const char *)b.data, b.len, err,
                           sizeof(err))) {
                fprintf(stderr, "errors are not JSON (%s): %s\n", err,
                        (const char *)b.data);
                abort();
        }
        pb_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        pb_buf_t avro, json, again;
        pb_errors_t errs;
        pb_event_meta_t m1, m2;
        char err[512];

        if (size < 1)
                return 0;
        fz_first_call();
        const pb_schema_t *s = fz_schemas[data[0] % fz_nschemas];
        pb_buf_init(&avro, 0);
        pb_buf_init(&json, 0);
        pb_buf_init(&again, 0);
        pb_errors_init(&errs);
        pb_resp_t r = pb_codec_json_to_avro(fz_codec, s, (const char *)data + 1,
                                            size - 1, NULL, &avro, &m1, &errs);
        if (r != PB_OK) {
                /* a rejected event leaves nothing behind and says why */
                if (avro.len != 0 || (errs.count == 0 && r != PB_ERR_NOMEM))
                        abort();
                check_errors_json(&errs);
                goto out;
        }
        r = pb_codec_avro_to_json(fz_codec, s, NULL, avro.data, avro.len, &json,
                                  &m2, err, sizeof(err));
        if (r != PB_OK) {
                fprintf(stderr, "encoded but does not decode: %s\n", err);
                abort();
        }
        if (strcmp(m1.event_id, m2.event_id) || strcmp(m1.key, m2.key) ||
            m1.occurred_at_ms != m2.occurred_at_ms)
                abort();
        pb_errors_init(&errs);
        r = pb_codec_json_to_avro(fz_codec, s, (const char *)json.data,
                                  json.len, NULL, &again, NULL, &errs);
        if (r != PB_OK || again.len != avro.len ||
            memcmp(again.data, avro.data, avro.len)) {
                pb_errors_format(&errs, err, sizeof(err));
                fprintf(stderr,
                        "decoded JSON does not re-encode the same: "
                        "%s\n%s\n",
                        err, (char *)json.data);
                abort();
        }
out:
        pb_buf_free(&avro);
        pb_buf_free(&json);
        pb_buf_free(&again);
        return 0;
}
