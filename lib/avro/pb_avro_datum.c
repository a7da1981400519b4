/* partnerbus - length of one Avro datum (for splitting container-file
 * blocks into objects): the decoder's own skip (pb_dec_skip), so it is
 * bounded exactly like decoding: never past len, depth and item counts
 * limited. */
#include <string.h>

#include "partnerbus/pb_codec.h"
#include "pb_codec_dec.h"
#include "pb_schema_int.h"

pb_resp_t pb_avro_datum_len(pb_codec_t *c, const pb_schema_t *sc,
                            const uint8_t *data, size_t len, size_t *used) {
        pb_dec_t d;
        if (!c || !sc || !sc->root || (!data && len))
                return PB_ERR_ARG;
        memset(&d, 0, sizeof(d));
        d.c = c;
        d.p = data;
        d.end = data + len;
        d.err = PB_OK;
        c->depth = 0;
        if (pb_dec_skip(&d, sc->root))
                return d.err;
        *used = (size_t)(d.p - data);
        return PB_OK;
}
