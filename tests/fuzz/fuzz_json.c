/* libFuzzer target for pb_json_parse: any input must be parsed or rejected
 * without a crash, leak or unbounded allocation; an accepted document must
 * serialize (pb_json_write), re-parse, and serialize to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"

static pb_json_parser_t *pb_fz_p1, *pb_fz_p2;

/* Structural equality of two trees (key order is preserved by the parser). */
static int pb_fz_equal(const pb_json_t *a, const pb_json_t *b) {
        const pb_json_t *x, *y;
        if (a->type != b->type || a->len != b->len || a->count != b->count ||
            a->keylen != b->keylen)
                return 0;
        if ((a->key == NULL) != (b->key == NULL))
                return 0;
        if (a->key && memcmp(a->key, b->key, a->keylen))
                return 0;
        if (a->str && memcmp(a->str, b->str, a->len))
                return 0;
        for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
                if (!pb_fz_equal(x, y))
                        return 0;
        return x == NULL && y == NULL;
}

/* Every string and key in an accepted document is valid UTF-8 and
 * NUL-terminated; counts match the children. */
static int pb_fz_sane(const pb_json_t *v) {
        const pb_json_t *c;
        size_t n = 0;
        if (v->key && (!pb_utf8_valid(v->key, v->keylen) || v->key[v->keylen]))
                return 0;
        if (v->type == PB_JSON_STRING &&
            (!pb_utf8_valid(v->str, v->len) || v->str[v->len]))
                return 0;
        for (c = v->child; c; c = c->next, n++)
                if (!pb_fz_sane(c))
                        return 0;
        return n == v->count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[256];
        const pb_json_t *v, *w;
        pb_buf_t b1, b2;

        if (!pb_fz_p1) {
                pb_fz_p1 = pb_json_parser_new(NULL);
                pb_fz_p2 = pb_json_parser_new(NULL);
                if (!pb_fz_p1 || !pb_fz_p2)
                        abort();
        }
        v = pb_json_parse(pb_fz_p1, (const char *)data, size, err, sizeof(err));
        if (!v) {
                if (strncmp(err, "line ", 5) != 0)
                        abort(); /* every rejection says where */
                return 0;
        }
        pb_buf_init(&b1, 0);
        pb_buf_init(&b2, 0);
        if (pb_json_write(v, &b1) != PB_OK)
                abort();
        w = pb_json_parse(pb_fz_p2, (const char *)b1.data, b1.len, err,
                          sizeof(err));
        if (!w || !pb_fz_equal(v, w))
                abort();
        if (pb_json_write(w, &b2) != PB_OK || b1.len != b2.len ||
            memcmp(b1.data, b2.data, b1.len) != 0)
                abort();
        if (!pb_fz_sane(v))
                abort();
        pb_buf_free(&b1);
        pb_buf_free(&b2);
        return 0;
}
