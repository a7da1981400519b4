/* partnerbus poll - records out of a fetched body: a JSON array (or the
 * array at a JSON Pointer inside an object), NDJSON, or CSV with a header
 * row. The body is untrusted: JSON is parsed with the strict, bounded
 * pb_json parser, CSV with pb_csv; every bound is in pb_feed_opts_t.
 *
 * Errors come in two kinds: a record that cannot be read (bad CSV row,
 * bad NDJSON line, an array element that is not an object) is reported
 * with its position and the feed goes on; a body that cannot be trusted as
 * a whole (not JSON, truncated, no header row) fails pb_feed_new or
 * pb_feed_next with PB_FEED_FATAL and the poll leaves its state alone. */
#ifndef PB_FEED_H
#define PB_FEED_H

#include <stddef.h>

#include "partnerbus/pb_common.h"
#include "partnerbus/pb_json.h"

typedef enum pb_feed_format {
        PB_FEED_AUTO = 0, /* from the Content-Type */
        PB_FEED_JSON,
        PB_FEED_NDJSON,
        PB_FEED_CSV,
} pb_feed_format_t;

typedef struct pb_feed_opts {
        pb_feed_format_t format;
        const char *records_pointer; /* JSON: where the array is ("" root) */
        char separator;              /* CSV: ',' ';' or 0 = guess */
        size_t max_record;           /* bytes per record (CSV/NDJSON line) */
        size_t max_columns;          /* CSV */
        size_t max_nodes;            /* JSON nodes in a body */
} pb_feed_opts_t;

/* One record. Exactly one of json / cols is set. */
typedef struct pb_record {
        long position;        /* JSON: array index (0-based); NDJSON, CSV:
                                 line in the body (1-based) */
        const char *pos_name; /* "index" or "line" */
        const pb_json_t *json;
        const char *const *header; /* CSV column names */
        const size_t *hlens;
        size_t nheader;
        const char *const *cols; /* CSV fields, same order as header */
        const size_t *lens;
        size_t ncols;
        const char *raw; /* the record's text, for dead letters */
        size_t raw_len;
} pb_record_t;

#define PB_FEED_RECORD 1
#define PB_FEED_END    0
#define PB_FEED_BAD    (-1) /* this record is unreadable; call again */
#define PB_FEED_FATAL  (-2) /* the body is unusable */

typedef struct pb_feed pb_feed_t;

/* body must outlive the feed. NULL with errstr if the body is unusable. */
pb_feed_t *pb_feed_new(const char *body, size_t len, pb_feed_format_t format,
                       const pb_feed_opts_t *opts, char *errstr,
                       size_t errstr_size);
void pb_feed_destroy(pb_feed_t *f);
/* On PB_FEED_BAD rec->position/pos_name/raw say which record. */
int pb_feed_next(pb_feed_t *f, pb_record_t *rec, char *errstr,
                 size_t errstr_size);
/* JSON bodies: the whole document (for a next link or cursor inside it);
 * NULL for NDJSON and CSV. Valid until pb_feed_destroy. */
const pb_json_t *pb_feed_root(const pb_feed_t *f);

/* Format from a Content-Type header value; PB_FEED_AUTO if unknown.
 * *is_html set for text/html and application/xhtml+xml. */
pb_feed_format_t pb_feed_format_from_type(const char *ctype, int *is_html);
pb_feed_format_t pb_feed_format_parse(const char *name); /* -1 if bad */

/* RFC 6901 JSON Pointer lookup; NULL if absent or ptr malformed. */
const pb_json_t *pb_pointer_get(const pb_json_t *root, const char *ptr);

#endif
