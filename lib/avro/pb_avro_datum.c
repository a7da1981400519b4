/* partnerbus - length of one Avro datum (for splitting container-file
 * blocks into objects). Bounds: never reads past len, depth limited,
 * array/map item counts limited. */
#include <string.h>

#include "partnerbus/pb_codec.h"
#include "pb_schema_int.h"
#include "partnerbus/pb_util.h" /* pb_zz_decode */

#define PB_SKIP_MAX_ITEMS 10000000L

typedef struct skip {
        const uint8_t *p, *end;
        long items;
} skip_t;

static pb_resp_t rd_long(skip_t *s, int64_t *v) {
        size_t n;
        pb_resp_t r = pb_zz_decode(s->p, s->end, v, &n);
        if (r == PB_OK)
                s->p += n;
        return r;
}

static pb_resp_t advance(skip_t *s, int64_t n) {
        if (n < 0)
                return PB_ERR_INVALID;
        if ((uint64_t)n > (uint64_t)(s->end - s->p))
                return PB_ERR_TRUNCATED;
        s->p += n;
        return PB_OK;
}

static pb_resp_t skip_type(skip_t *s, const pb_type_t *t, int depth) {
        int64_t v;
        pb_resp_t r;
        size_t i;
        if (depth > PB_CODEC_MAX_DEPTH)
                return PB_ERR_LIMIT;
        switch (t->kind) {
        case PB_T_NULL:
                return PB_OK;
        case PB_T_BOOLEAN:
                return advance(s, 1);
        case PB_T_INT:
        case PB_T_LONG:
        case PB_T_ENUM:
                return rd_long(s, &v);
        case PB_T_FLOAT:
                return advance(s, 4);
        case PB_T_DOUBLE:
                return advance(s, 8);
        case PB_T_BYTES:
        case PB_T_STRING:
                if ((r = rd_long(s, &v)) != PB_OK)
                        return r;
                return advance(s, v);
        case PB_T_FIXED:
                return advance(s, (int64_t)t->size);
        case PB_T_RECORD:
                for (i = 0; i < t->nfields; i++)
                        if ((r = skip_type(s, t->fields[i].type, depth + 1)) !=
                            PB_OK)
                                return r;
                return PB_OK;
        case PB_T_UNION:
                if ((r = rd_long(s, &v)) != PB_OK)
                        return r;
                if (v < 0 || (uint64_t)v >= t->nbranches)
                        return PB_ERR_INVALID;
                return skip_type(s, t->branches[v], depth + 1);
        case PB_T_ARRAY:
        case PB_T_MAP:
                for (;;) {
                        int64_t n;
                        if ((r = rd_long(s, &n)) != PB_OK)
                                return r;
                        if (n == 0)
                                return PB_OK;
                        if (n < 0) { /* block with its byte size */
                                int64_t bytes;
                                if (n == INT64_MIN)
                                        return PB_ERR_INVALID;
                                n = -n;
                                if ((r = rd_long(s, &bytes)) != PB_OK)
                                        return r;
                                if (bytes < 0)
                                        return PB_ERR_INVALID;
                        }
                        if (n > PB_SKIP_MAX_ITEMS - s->items)
                                return PB_ERR_LIMIT;
                        s->items += (long)n;
                        while (n-- > 0) {
                                if (t->kind == PB_T_MAP) {
                                        if ((r = rd_long(s, &v)) != PB_OK ||
                                            (r = advance(s, v)) != PB_OK)
                                                return r;
                                }
                                if ((r = skip_type(s, t->items, depth + 1)) !=
                                    PB_OK)
                                        return r;
                        }
                }
        }
        return PB_ERR_INVALID;
}

pb_resp_t pb_avro_datum_len(const pb_schema_t *sc, const uint8_t *data,
                            size_t len, size_t *used) {
        skip_t s;
        pb_resp_t r;
        if (!sc || !sc->root || (!data && len))
                return PB_ERR_ARG;
        s.p = data;
        s.end = data + len;
        s.items = 0;
        r = skip_type(&s, sc->root, 0);
        if (r == PB_OK)
                *used = (size_t)(s.p - data);
        return r;
}
