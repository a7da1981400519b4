/* libFuzzer target: Avro schemas from outside (a schema registry's
 * GET /schemas/ids/N response, the schema embedded in an archive file) and
 * datums written with them. Input: schema JSON, a NUL byte, then an Avro
 * body. The schema must compile or be refused with a message; a compiled
 * schema must decode, check and skip any body without crashing, reading
 * out of bounds or allocating without bound. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_schema.h"

static pb_codec_t *fz_codec;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t slen = nul ? (size_t)(nul - data) : size, used = 0;
        const uint8_t *body = nul ? nul + 1 : data + size;
        size_t blen = nul ? size - slen - 1 : 0;
        char err[512];
        pb_schema_t *s;
        pb_buf_t out;
        pb_event_meta_t meta;
        if (!fz_codec && !(fz_codec = pb_codec_new()))
                abort();
        err[0] = 0;
        s = pb_schema_new((const char *)data, slen, err, sizeof(err));
        if (!s) {
                if (!err[0])
                        abort(); /* refused without a reason */
                return 0;
        }
        (void)pb_schema_fingerprint(s);
        (void)pb_schema_json(s);
        pb_buf_init(&out, 1u << 20);
        memset(&meta, 0, sizeof(meta));
        (void)pb_codec_avro_to_json(fz_codec, s, NULL, body, blen, &out, &meta,
                                    err, sizeof(err));
        memset(&meta, 0, sizeof(meta));
        (void)pb_codec_check(fz_codec, s, NULL, body, blen, &meta, err,
                             sizeof(err));
        if (pb_avro_datum_len(fz_codec, s, body, blen, &used) == PB_OK &&
            used > blen)
                abort();
        pb_buf_free(&out);
        pb_schema_destroy(s);
        /* the decode plan the codec cached for s goes with it: a run then
         * frees what it allocated, and libFuzzer's leak check (an LSan
         * scan after every run that did not) runs only on a real leak */
        pb_codec_set_plans(fz_codec, 0);
        pb_codec_set_plans(fz_codec, 1);
        return 0;
}
