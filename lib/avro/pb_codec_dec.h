/* partnerbus - the Avro reader state of pb_codec_decode.c, shared with the
 * validate-only walk in pb_codec_check.c so that both read, bound and
 * report errors the same way. Not a public header.
 *
 * Every reader returns 0, or -1 after recording the first error in d (code
 * and "<json pointer>: what" in d->errstr); later errors are ignored. */
#ifndef PB_CODEC_DEC_H
#define PB_CODEC_DEC_H

#include <stdint.h>
#include <string.h>

#include "pb_codec_int.h"

typedef struct pb_dec {
        pb_codec_t *c;
        const uint8_t *p, *end;
        char *errstr;
        size_t errsize;
        pb_resp_t err;
        long zero_items; /* items of zero-size types read so far */
} pb_dec_t;

/* Starts reading data[0..len) at the top of the path. */
static inline void pb_dec_start(pb_dec_t *d, pb_codec_t *c, const uint8_t *data,
                                size_t len, char *errstr, size_t errsize) {
        memset(d, 0, sizeof(*d));
        d->c = c;
        d->p = data;
        d->end = data + len;
        d->errstr = errstr;
        d->errsize = errsize;
        c->depth = 0;
}

/* Records an error at the current path (c->path[0..c->depth)). */
int pb_dec_fail(pb_dec_t *d, pb_resp_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Enters a member (name) or array item (name NULL, len = index); fails
 * beyond PB_CODEC_MAX_DEPTH. Leave with d->c->depth--. */
int pb_dec_push(pb_dec_t *d, const char *name, size_t len);
/* Steps over one value of type t (bounds-checked like reading it). */
int pb_dec_skip(pb_dec_t *d, const pb_type_t *t);
/* Avro long (zigzag varint, at most 64 bits). */
int pb_dec_long(pb_dec_t *d, int64_t *v);
/* A string/bytes length: non-negative and within the bytes left. */
int pb_dec_len(pb_dec_t *d, const char *what, size_t *n);
/* Count of the next array/map block (0 at the end), bounded by the bytes
 * left (each item at least its minimal size + extra) or, for items of
 * zero size, by PB_CODEC_MAX_ZERO_ITEMS per decode. */
int pb_dec_block(pb_dec_t *d, const pb_type_t *item, size_t extra,
                 int64_t *count);
/* One value of type t (no resolution) as the decoder's JSON text,
 * appended to o: what pb_codec_visit() reports for scalars. */
int pb_dec_value(pb_dec_t *d, const pb_type_t *t, pb_buf_t *o);
/* Copies the envelope field fi of top-level record w, whose encoding is
 * [p, end), into meta when it is event_id, source, occurred_at or the
 * key field. */
/* The error for an enum symbol or union branch index v out of t's range. */
int pb_dec_bad_index(pb_dec_t *d, const pb_type_t *t, int64_t v);
/* Checks the enum symbol or union branch index v of t against n, t's
 * symbol or branch count: 0, or -1. */
static inline int pb_dec_index(pb_dec_t *d, const pb_type_t *t, int64_t v,
                               size_t n) {
        return v >= 0 && (uint64_t)v < n ? 0 : pb_dec_bad_index(d, t, v);
}

/* rc of a walk of the whole body, or (when it succeeded but left bytes)
 * the trailing-bytes error. */
int pb_dec_finish(pb_dec_t *d, int rc);
void pb_dec_meta_take(const pb_schema_t *w, pb_event_meta_t *meta, size_t fi,
                      const pb_type_t *t, const uint8_t *p, const uint8_t *end);

/* For the decode plans (pb_codec_plan.c): the tree walk's own formatters,
 * so both write the same text. */
int pb_dec_emit_float(pb_dec_t *d, float v, pb_buf_t *o);
int pb_dec_emit_double(pb_dec_t *d, double v, pb_buf_t *o);
/* days since 1970-01-01 (years 0001..9999) -> 10 bytes "YYYY-MM-DD" */
void pb_dec_fmt_date(int64_t days, char *b);
/* ms since the epoch (years 0001..9999) -> 24 bytes of RFC 3339 */
void pb_dec_fmt_instant(int64_t ms, char *b);
/* The smallest encoding of a value of t in bytes (0: can be empty), as the
 * bound of block counts uses it. */
size_t pb_dec_min_size(const pb_type_t *t);

#endif
