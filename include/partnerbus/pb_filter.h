/* Library: partnerbus_filter (lib/filter). */
/* partnerbus - the --where expression engine (relay, replay).
 *
 * A filter is a list of conditions; an event passes when every condition
 * holds (AND). One condition is
 *
 *     PATH OP VALUE
 *
 *   PATH   `type` (the event type, e.g. aid.dispatched) or a dotted path
 *          into the event's natural JSON: `destination.oblast`,
 *          `items.0.quantity`. A segment is a member name; on an array a
 *          numeric segment picks an element, any other segment applies to
 *          every element ("any element matches": `items.category=MEDICAL`).
 *          A member literally named `type` is reached as `.type`.
 *   OP     =  !=  >=  <=  >  <   (the first operator in the text counts;
 *          `=` and `!=` may carry several alternatives VALUE|VALUE)
 *   VALUE  the rest of the text, taken literally (no quotes needed;
 *          `"..."` around it are removed).
 *
 * Comparison: when both the field and VALUE are decimal numbers (a JSON
 * number, or a string such as "143000.00" as decimals are written), they
 * are compared exactly as decimals - digit strings, never doubles - so
 * `amount>=100000` holds for "100000.00". Otherwise the comparison is
 * bytewise on the text (ISO dates and RFC 3339 instants in UTC order
 * correctly). `true`, `false` and `null` match the JSON literals. A missing
 * field fails every condition except `!=`.
 *
 * Bounds: an expression is at most PB_FILTER_MAX_EXPR bytes with at most
 * PB_FILTER_MAX_SEGMENTS path segments and PB_FILTER_MAX_ALTS alternatives;
 * a filter has at most PB_FILTER_MAX_CONDS conditions. */
#ifndef PB_FILTER_H
#define PB_FILTER_H

#include "pb_common.h"
#include "pb_json.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PB_FILTER_MAX_EXPR     1024
#define PB_FILTER_MAX_SEGMENTS 16
#define PB_FILTER_MAX_ALTS     16
#define PB_FILTER_MAX_CONDS    64

typedef struct pb_filter pb_filter_t;

pb_filter_t *pb_filter_new(void);
void pb_filter_destroy(pb_filter_t *f);

/* Parses one condition and adds it. PB_ERR_PARSE (errstr says why) on a
 * malformed expression, PB_ERR_LIMIT past the bounds. */
pb_resp_t pb_filter_add(pb_filter_t *f, const char *expr, char *errstr,
                        size_t errstr_size);

size_t pb_filter_count(const pb_filter_t *f);
/* 1 when some condition looks into the event's fields (so the caller must
 * parse the JSON), 0 when only `type` is tested. */
int pb_filter_needs_event(const pb_filter_t *f);

/* 1 if the event passes (an empty filter passes everything). type may be
 * NULL (then `type` conditions see a missing field); event may be NULL
 * when pb_filter_needs_event() is 0. */
int pb_filter_match(const pb_filter_t *f, const char *type,
                    const pb_json_t *event);

/* Exact comparison of two decimal numbers in text form ("-12.50", "1e3",
 * "0007"); returns -1/0/1 in *cmp and 0, or -1 if either is not a decimal
 * number. Exposed for tests and the replay command. */
int pb_decimal_cmp(const char *a, size_t alen, const char *b, size_t blen,
                   int *cmp);

#ifdef __cplusplus
}
#endif
#endif
