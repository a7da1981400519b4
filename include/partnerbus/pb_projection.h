/* Library: partnerbus_base (lib/base). */
/* partnerbus - field projection: an event's JSON restricted to the fields a
 * data-sharing agreement allows (relay fleet, docs/relay.md "Fleet").
 *
 * A projection is two lists of JSON Pointers (RFC 6901) into the event's
 * natural JSON: `include` (empty = every field) and `exclude`, applied after
 * include. On an array, a numeric reference token selects one element and
 * the token "*" every element. The top-level members event_id and type are
 * always kept. A member whose included part is empty (include /a/b on an
 * object a without b) is left out. Pointers are untrusted input: at most
 * PB_PROJECTION_MAX pointers per list, each at most PB_PROJECTION_MAX_LEN
 * bytes and PB_PROJECTION_MAX_DEPTH tokens. */
#ifndef PB_PROJECTION_H
#define PB_PROJECTION_H

#include "pb_common.h"
#include "pb_json.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PB_PROJECTION_MAX       64
#define PB_PROJECTION_MAX_LEN   512
#define PB_PROJECTION_MAX_DEPTH 16

typedef struct pb_projection pb_projection_t;

/* NULL with errstr naming the bad pointer ("/projection/include/2: ...",
 * from ptr_base) when a pointer is malformed or a limit is exceeded. */
pb_projection_t *pb_projection_new(const char *const *include, size_t ninc,
                                   const char *const *exclude, size_t nexc,
                                   char *errstr, size_t errstr_size);
void pb_projection_destroy(pb_projection_t *p); /* NULL is fine */

/* 1 when the projection keeps everything (no include, no exclude). */
int pb_projection_is_identity(const pb_projection_t *p);

/* Appends the projection of ev (any JSON value; members are looked at only
 * in objects) to out, compact. PB_OK or the buffer's error. */
pb_resp_t pb_projection_apply(const pb_projection_t *p, const pb_json_t *ev,
                              pb_buf_t *out);

#ifdef __cplusplus
}
#endif
#endif
