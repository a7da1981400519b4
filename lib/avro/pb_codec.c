/* partnerbus - the codec object: per-thread scratch shared by the encoder
 * (pb_codec_encode.c) and the decoder (pb_codec_decode.c).
 *
 * Everything here is reused from event to event so that steady-state
 * encoding and decoding do not call malloc: the JSON parser's arena, the
 * member slot stack, the segment buffer for resolved records and the cache
 * of writer->reader field mappings. */
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "pb_codec_int.h"

pb_codec_t *pb_codec_new(void) {
        pb_codec_t *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->parser = pb_json_parser_new(NULL);
        if (!c->parser) {
                free(c);
                return NULL;
        }
        pb_buf_init(&c->seg, PB_CODEC_MAX_JSON_OUT);
        pb_buf_init(&c->num, 4096);
        c->fmt_day = c->fmt_min = INT64_MIN;
        return c;
}

pb_resp_t pb_codec_set_json_limits(pb_codec_t *c, const pb_json_limits_t *lim) {
        pb_json_parser_t *p = pb_json_parser_new(lim);
        if (!p)
                return PB_ERR_NOMEM;
        pb_json_parser_destroy(c->parser);
        c->parser = p;
        return PB_OK;
}

void pb_codec_trim(pb_codec_t *c, size_t keep) {
        if (c)
                pb_json_parser_trim(c->parser, keep);
}

static void pb_codec_rmaps_clear(pb_codec_t *c) {
        for (size_t i = 0; i < c->nrmaps; i++) {
                free(c->rmaps[i].w2r);
                free(c->rmaps[i].r_from_w);
        }
        c->nrmaps = 0;
}

void pb_codec_destroy(pb_codec_t *c) {
        if (!c)
                return;
        pb_json_parser_destroy(c->parser);
        free(c->slots);
        free(c->segs);
        pb_buf_free(&c->seg);
        pb_buf_free(&c->num);
        pb_buf_free(&c->fesc);
        pb_buf_free(&c->frec);
        free(c->fspan);
        pb_codec_rmaps_clear(c);
        pb_codec_plans_clear(c);
        free(c);
}

void pb_codec_pointer(const pb_codec_t *c, int depth, char *ptr, size_t size) {
        if (!size)
                return;
        ptr[0] = 0;
        if (depth > (int)(sizeof(c->path) / sizeof(c->path[0])))
                depth = (int)(sizeof(c->path) / sizeof(c->path[0]));
        for (int i = 0; i < depth; i++) {
                if (c->path[i].name)
                        pb_pointer_push(ptr, size, c->path[i].name,
                                        c->path[i].len);
                else
                        pb_pointer_push_index(ptr, size, c->path[i].len);
        }
}

int pb_codec_slots_reserve(pb_codec_t *c, size_t n) {
        if (c->capslots - c->nslots >= n)
                return 0;
        return PB_ARRAY_RESERVE(c->slots, c->capslots, c->nslots, n, 64);
}

int pb_codec_segs_reserve(pb_codec_t *c, size_t n) {
        if (c->capsegs - c->nsegs >= n)
                return 0;
        return PB_ARRAY_RESERVE(c->segs, c->capsegs, c->nsegs, n, 64);
}

void pb_codec_rmaps_reset(pb_codec_t *c) {
        pb_codec_rmaps_clear(c);
}

void pb_codec_set_plans(pb_codec_t *c, int on) {
        if (!c)
                return;
        c->plans_off = !on;
        if (!on)
                pb_codec_plans_clear(c);
}

/* The general part of pb_codec_str() (see pb_codec_int.h): from input
 * byte i on, with '"' and s[0..i) already at o->data[o->len..]. Room is
 * kept for the rest of s copied as it is plus the closing quote; only an
 * escape asks for more. The plain bytes before a flagged one in a block of
 * 16 are copied with it; the bytes from the flagged one on are written
 * again. */
int pb_codec_str_rest(pb_buf_t *o, const uint8_t *s, size_t n, size_t i) {
        static const char hex[] = "0123456789abcdef";
        uint8_t *b = o->data;
        size_t at = o->len + 1 + i; /* where s[i] goes */
        while (i < n) {
                uint8_t ch;
                size_t k;
                for (; i + 16 <= n; i += 16, at += 16) {
                        unsigned m = pb_codec_special16(s + i);
                        memcpy(b + at, s + i, 16);
                        if (m) {
                                k = (size_t)__builtin_ctz(m);
                                i += k;
                                at += k;
                                break;
                        }
                }
                if (i + 16 > n && i + 8 <= n) {
                        /* fewer than 16 left: 8 of them at once */
                        uint64_t x, m;
                        memcpy(&x, s + i, 8);
                        memcpy(b + at, &x, 8);
                        k = (m = pb_json_special8(x)) ? pb_json_first8(m) : 8;
                        i += k;
                        at += k;
                }
                if (i >= n)
                        break;
                ch = s[i];
                if (ch >= 0x80) {
                        /* the run of non-ASCII characters: checked, copied.
                         * Two-byte sequences (Cyrillic, umlauts) four and
                         * then one at a time here, the rest of the run by
                         * pb_utf8_span. */
                        size_t j = i;
                        uint64_t x;
                        for (; j + 8 <= n; j += 8) {
                                memcpy(&x, s + j, 8);
                                if (!pb_utf8_2x4(x))
                                        break;
                        }
                        while (j + 2 <= n && s[j] >= 0xC2 && s[j] <= 0xDF &&
                               (s[j + 1] & 0xC0) == 0x80)
                                j += 2;
                        if (j < n && s[j] >= 0x80) {
                                if (!(k = pb_utf8_span((const char *)s + j,
                                                       n - j)))
                                        return -1;
                                j += k;
                        }
                        memcpy(b + at, s + i, j - i);
                        at += j - i;
                        i = j;
                        continue;
                }
                if (ch >= 0x20 && ch != '"' && ch != '\\') {
                        b[at++] = ch;
                        i++;
                        continue;
                }
                /* an escape: \X or \u00XX instead of one byte */
                k = ch == '"' || ch == '\\' || ch == '\b' || ch == '\f' ||
                            ch == '\n' || ch == '\r' || ch == '\t'
                        ? 2
                        : 6;
                if (o->cap - at - 1 < k + (n - i)) {
                        if (pb_buf_reserve(o, at - o->len + k + (n - i)) !=
                            PB_OK)
                                return -1;
                        b = o->data;
                }
                b[at] = '\\';
                if (k == 6) {
                        memcpy(b + at + 1, "u00", 3);
                        b[at + 4] = (uint8_t)hex[ch >> 4];
                        b[at + 5] = (uint8_t)hex[ch & 15];
                } else
                        b[at + 1] = ch == '\b'   ? 'b'
                                    : ch == '\f' ? 'f'
                                    : ch == '\n' ? 'n'
                                    : ch == '\r' ? 'r'
                                    : ch == '\t' ? 't'
                                                 : ch;
                at += k;
                i++;
        }
        b[at] = '"';
        o->len = at + 1;
        return 0;
}
