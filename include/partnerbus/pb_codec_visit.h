/* partnerbus - a walk over one Avro body that reports every value to a
 * visitor instead of writing JSON (lib/avro/pb_codec_visit.c).
 *
 * The walk reads the body with the writer schema alone (no resolution)
 * with the decoder's readers, bounds and value checks, so it accepts and
 * refuses what pb_codec_avro_to_json() does with reader == writer, with
 * the same error code and message (only the decoder's bound of
 * PB_CODEC_MAX_JSON_OUT bytes of JSON does not apply: nothing is written;
 * pb_codec_check() gives that verdict too). What the visitor sees is the
 * natural JSON of the event, one step at a time, as a walk over the
 * caller's tree of nodes (a trie of the paths seen so far):
 *
 *   step FIELD (name, i)   record member i (every member, null ones too)
 *   step ITEM (-, i)       array element i
 *   step KEY (key, i)      map entry i (key: its UTF-8 bytes, not escaped)
 *   step BRANCH (-, b)     the union branch b (no step in the JSON; with
 *                          PB_VISIT_FLAT_UNIONS only for branches that
 *                          are records, arrays or maps)
 *   leaf (kind, text)      a scalar: its JSON text, strings unquoted and
 *                          unescaped (raw UTF-8, may contain NUL)
 *
 * A step from node n goes to n->kids[i] when i < n->nkids and that is
 * not NULL (never for KEY steps), else to the node the visitor's child()
 * returns. A leaf at a node whose cell is >= 0 is appended by the walk
 * itself to `cells` - uint32 cell id, uint32 length (| PB_VISIT_NUMBER_CELL
 * for a NUMBER), the text - when it fits in the room the buffer has (a
 * NULL leaf appends nothing); every other leaf goes to the visitor's
 * leaf(). So a flattener that remembers its nodes is called back only for
 * what it has not seen before.
 *
 * Leaf kinds: NULL (text ""), BOOL ("true"/"false"), NUMBER (the JSON
 * number text: int, long, float, double), TEXT (string, enum symbol,
 * decimal, date, time, instant, base64 of bytes/fixed, NaN/Infinity).
 * A callback failing stops the walk with its code. */
#ifndef PB_CODEC_VISIT_H
#define PB_CODEC_VISIT_H

#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_codec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pb_visit_step {
        PB_VISIT_FIELD,
        PB_VISIT_ITEM,
        PB_VISIT_KEY,
        PB_VISIT_BRANCH
} pb_visit_step_t;

typedef enum pb_visit_leaf {
        PB_VISIT_NULL,
        PB_VISIT_BOOL,
        PB_VISIT_NUMBER,
        PB_VISIT_TEXT
} pb_visit_leaf_t;

/* A node of the caller's trie; the caller may embed it first in its own
 * node type. */
typedef struct pb_visit_node {
        struct pb_visit_node **kids; /* by member ordinal, index, branch */
        size_t nkids;
        int32_t cell; /* >= 0: the walk appends the leaf's cell itself */
} pb_visit_node_t;

/* in a cell's length word: the leaf is a NUMBER */
#define PB_VISIT_NUMBER_CELL 0x80000000u

typedef struct pb_codec_visitor {
        /* the node a step from n goes to (kept or not, the caller's
         * choice; it must stay valid while the walk is below it); NULL
         * with *code set stops the walk */
        pb_visit_node_t *(*child)(void *ctx, pb_visit_node_t *n,
                                  pb_visit_step_t step, const char *name,
                                  size_t namelen, size_t index,
                                  pb_resp_t *code);
        /* a leaf the walk does not append itself */
        pb_resp_t (*leaf)(void *ctx, pb_visit_node_t *n, pb_visit_leaf_t kind,
                          const char *text, size_t len);
} pb_codec_visitor_t;

/* flags of pb_codec_visit: the body already passed pb_codec_check() (or
 * the decoder) with this writer, so text is not checked for valid UTF-8
 * again (every other bound still is) */
#define PB_VISIT_CHECKED 1u
/* flags of pb_codec_visit: a union whose value is of a scalar branch (not
 * a record, array or map) is not reported as a BRANCH step: its leaf comes
 * directly under the enclosing step (a flattener that names a value by its
 * path, which has no step for a branch, needs no node per branch) */
#define PB_VISIT_FLAT_UNIONS 2u

/* Walks data[0..len) written with `writer` (c: the codec's scratch) from
 * node `root`, appending known cells to `cells`. PB_OK, a callback's code,
 * or the decoder's error (errstr: "<pointer>: what"). After an error the
 * visitor and `cells` may have seen part of the event. */
pb_resp_t pb_codec_visit(pb_codec_t *c, const pb_schema_t *writer,
                         const uint8_t *data, size_t len, unsigned flags,
                         const pb_codec_visitor_t *v, void *ctx,
                         pb_visit_node_t *root, pb_buf_t *cells, char *errstr,
                         size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
