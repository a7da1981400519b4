/* libFuzzer target for the validate-only walk (pb_codec_check,
 * pb_serde_check), which the relay uses instead of the decoder when the
 * sink keeps the Avro body as it is. Input as fuzz_avro_decode: byte 0
 * picks the event schema (fuzz_common_codec.h), byte 1 the path:
 *   0-3  the rest is a body written with that schema
 *   4    the rest is a framed message for the serde
 * Check and full decode must agree on every input: the same code, the
 * same error text and the same meta (and, framed, the same type). The
 * envelope check (pb_codec_check_envelope, pb_serde_read_envelope, replay
 * to CSV) must accept what the check accepts, with the same meta, and
 * where it refuses, say what the check says. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common_codec.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_serde.h"

static pb_serde_t *fz_serde;

static void fz_init(void) {
        if (fz_first_call())
                fz_serde = fz_serde_new();
}

static void fz_differ(const char *what, pb_resp_t r1, const char *e1,
                      pb_resp_t r2, const char *e2) {
        fprintf(stderr, "%s: decode %s '%s', check %s '%s'\n", what,
                pb_err2str(r1), e1, pb_err2str(r2), e2);
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        pb_buf_t json;
        pb_event_meta_t m1, m2;
        char e1[512], e2[512];
        const pb_schema_t *t1 = NULL, *t2 = NULL, *w = NULL;
        size_t off = 0;
        pb_resp_t r1, r2;

        if (size < 2)
                return 0;
        fz_init();
        const pb_schema_t *s = fz_schemas[data[0] % fz_nschemas];
        const uint8_t *body = data + 2;
        size_t blen = size - 2;
        pb_buf_init(&json, 0);
        memset(&m1, 0, sizeof(m1));
        memset(&m2, 0, sizeof(m2));
        if (data[1] % 5 == 4) {
                r1 = pb_serde_decode(fz_serde, body, blen, &t1, &json, &m1, e1,
                                     sizeof(e1));
                r2 = pb_serde_check(fz_serde, body, blen, &t2, &w, &off, &m2,
                                    e2, sizeof(e2));
                if (r1 != r2 || strcmp(e1, e2))
                        fz_differ("framed", r1, e1, r2, e2);
                if (t1 != t2 || (r2 == PB_OK && (!w || off > blen)))
                        abort();
        } else {
                r1 = pb_codec_avro_to_json(fz_codec, s, NULL, body, blen, &json,
                                           &m1, e1, sizeof(e1));
                r2 = pb_codec_check(fz_codec, s, NULL, body, blen, &m2, e2,
                                    sizeof(e2));
                if (r1 != r2 || strcmp(e1, e2))
                        fz_differ("body", r1, e1, r2, e2);
        }
        if (memcmp(&m1, &m2, sizeof(m1)))
                abort();
        {
                pb_event_meta_t m3;
                char e3[512];
                pb_serde_msg_t msg;
                pb_resp_t r3 =
                    data[1] % 5 == 4
                        ? pb_serde_read_envelope(fz_serde, body, blen, &msg,
                                                 &m3, e3, sizeof(e3))
                        : pb_codec_check_envelope(fz_codec, s, NULL, body, blen,
                                                  &m3, e3, sizeof(e3));
                if ((r2 == PB_OK || r3 != PB_OK) &&
                    (r3 != r2 || strcmp(e3, e2) ||
                     (r3 == PB_OK && memcmp(&m3, &m2, sizeof(m3)))))
                        fz_differ("envelope (decode: check)", r2, e2, r3, e3);
        }
        pb_buf_free(&json);
        return 0;
}
