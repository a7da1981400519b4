/* libFuzzer target for the one-pass JSON -> Avro encoder
 * (lib/avro/pb_codec_fast.c). Differential: every input is encoded with
 * the one-pass encoder on and off (pb_codec_set_fast(c, 0): the tree
 * walk alone); both must give the same result code, the same bytes (after
 * what was in the buffer before), the same meta and the same errors
 * (pointer, code, params, message) - through pb_codec_json_to_avro() and,
 * for the event schemas, through pb_serde_encode() with its framing.
 * Input: byte 0 picks the schema (the four event schemas of
 * fuzz_common_codec.h, then the schemas below: every type the encoder
 * knows, a map and a union with a record branch, a root that is not a
 * record); byte 1 the options: bit 0 force_source, bit 1 meta NULL,
 * bit 2 fill_event_id and fill_occurred_at (random and the clock: then
 * only code, errors and length are compared), bit 3 an output buffer
 * bounded to 200 bytes, bit 4 the parser limits depth 4 and 60 values.
 * The rest is the JSON text. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common_codec.h"
#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_serde.h"

static const char *const fz_extra[] = {
    FZ_EVERY_HEAD
    "{\"name\":\"num\",\"type\":[\"string\",\"long\"],\"default\":\"\"},"
    "{\"name\":\"b\",\"type\":\"boolean\",\"default\":true},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":[\"double\",\"null\"]},"
    "{\"name\":\"raw\",\"type\":\"bytes\",\"default\":\"\"},"
    "{\"name\":\"amount\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
    "\"decimal\",\"precision\":12,\"scale\":2}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F3\","
    "\"size\":3}},"
    "{\"name\":\"fd\",\"type\":[\"null\",{\"type\":\"fixed\",\"name\":"
    "\"FD\",\"size\":5,\"logicalType\":\"decimal\",\"precision\":10,"
    "\"scale\":3}]},"
    "{\"name\":\"day\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
    "{\"name\":\"at\",\"type\":{\"type\":\"int\",\"logicalType\":"
    "\"time-millis\"},\"default\":0},"
    "{\"name\":\"n\",\"type\":\"int\",\"default\":7},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
    "\"symbols\":[\"A\",\"BB\",\"CCC\"],\"default\":\"A\"}},"
    "{\"name\":\"grid\",\"type\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"array\",\"items\":[\"int\",\"string\",{\"type\":\"record\","
    "\"name\":\"P\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"},"
    "{\"name\":\"label\",\"type\":[\"null\",\"string\"]}]}]}},"
    "\"default\":[]},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"P\",{\"type\":\"array\","
    "\"items\":\"long\"}],\"default\":null},"
    "{\"name\":\"tags\",\"type\":[\"null\",{\"type\":\"map\",\"values\":"
    "\"string\"}],\"default\":null},"
    "{\"name\":\"ts\",\"type\":[\"null\",{\"type\":\"long\","
    "\"logicalType\":\"timestamp-millis\"}]}]}",
    "{\"type\":\"array\",\"items\":[\"null\",\"long\",\"string\"]}",
};
#define FZ_NEXTRA (sizeof(fz_extra) / sizeof(fz_extra[0]))

/* [limits][fast off/on] */
static pb_codec_t *fz_pair[2][2];
static pb_serde_t *fz_serde[2];
static pb_schema_t *fz_own[FZ_NEXTRA];

static void fz_init(void) {
        char err[512];
        pb_json_limits_t lim = {4, 60};
        if (fz_pair[0][0])
                return;
        fz_load_schemas();
        fz_compile(fz_extra, FZ_NEXTRA, fz_own);
        for (int l = 0; l < 2; l++)
                for (int f = 0; f < 2; f++) {
                        fz_pair[l][f] = pb_codec_new();
                        if (!fz_pair[l][f] ||
                            (l && pb_codec_set_json_limits(fz_pair[l][f],
                                                           &lim) != PB_OK))
                                abort();
                        pb_codec_set_fast(fz_pair[l][f], f);
                }
        for (int f = 0; f < 2; f++) {
                fz_serde[f] = pb_serde_new(fz_cat, NULL, err, sizeof(err));
                if (!fz_serde[f])
                        abort();
                pb_codec_set_fast(pb_serde_codec(fz_serde[f]), f);
        }
}

static int same_errors(const pb_errors_t *a, const pb_errors_t *b) {
        if (a->count != b->count || a->dropped != b->dropped)
                return 0;
        for (size_t i = 0; i < a->count; i++) {
                const pb_error_t *x = &a->items[i], *y = &b->items[i];
                if (strcmp(x->pointer, y->pointer) ||
                    strcmp(x->message, y->message) ||
                    strcmp(x->params, y->params) ||
                    (x->code != y->code &&
                     (!x->code || !y->code || strcmp(x->code, y->code))))
                        return 0;
        }
        return 1;
}

static pb_resp_t fz_run(int serde, int lim, int fast, const pb_schema_t *s,
                        const char *json, size_t len, const pb_encode_opts_t *o,
                        size_t max, pb_buf_t *out, pb_event_meta_t *m,
                        pb_errors_t *errs) {
        pb_buf_init(out, max);
        pb_buf_append(out, "x", 1); /* the encoders append */
        if (m)
                memset(m, 0xa5, sizeof(*m));
        pb_errors_init(errs);
        if (serde)
                return pb_serde_encode(fz_serde[fast], s, "t", json, len, o,
                                       out, m, errs);
        return pb_codec_json_to_avro(fz_pair[lim][fast], s, json, len, o, out,
                                     m, errs);
}

static void fz_compare(int serde, int lim, const pb_schema_t *s,
                       const char *json, size_t len, const pb_encode_opts_t *o,
                       int nometa, size_t max) {
        static pb_errors_t e1, e2;
        pb_event_meta_t m1, m2;
        pb_buf_t b1, b2;
        pb_resp_t r1, r2;
        int random = o->fill_event_id;

        r1 = fz_run(serde, lim, 1, s, json, len, o, max, &b1,
                    nometa ? NULL : &m1, &e1);
        r2 = fz_run(serde, lim, 0, s, json, len, o, max, &b2,
                    nometa ? NULL : &m2, &e2);
        if (r1 != r2 || b1.len != b2.len || !same_errors(&e1, &e2) ||
            (!random && (memcmp(b1.data, b2.data, b1.len) ||
                         (!nometa && memcmp(&m1, &m2, sizeof(m1)))))) {
                char t1[512], t2[512];
                pb_errors_format(&e1, t1, sizeof(t1));
                pb_errors_format(&e2, t2, sizeof(t2));
                fprintf(stderr,
                        "one pass and tree walk differ (%s, %s):\n"
                        "one pass %s %zu bytes '%s'\ntree     %s %zu bytes "
                        "'%s'\n",
                        serde ? "serde" : "codec", pb_schema_type(s),
                        pb_err2str(r1), b1.len, t1, pb_err2str(r2), b2.len, t2);
                abort();
        }
        pb_buf_free(&b1);
        pb_buf_free(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        pb_encode_opts_t o;
        const pb_schema_t *s;
        size_t si, max;
        int opt, lim;
        const char *json = (const char *)data + 2;

        if (size < 2)
                return 0;
        fz_init();
        si = data[0] % (fz_nschemas + FZ_NEXTRA);
        s = si < fz_nschemas ? fz_schemas[si] : fz_own[si - fz_nschemas];
        opt = data[1];
        memset(&o, 0, sizeof(o));
        if (opt & 1)
                o.force_source = "blau-gelbes-kreuz";
        o.fill_event_id = o.fill_occurred_at = (opt & 4) != 0;
        max = opt & 8 ? 200 : 0;
        lim = (opt & 16) != 0;
        fz_compare(0, lim, s, json, size - 2, &o, opt & 2, max);
        if (si < fz_nschemas && !lim)
                fz_compare(1, 0, s, json, size - 2, &o, opt & 2, max);
        return 0;
}
