/* partnerbus poll - a strict, bounded CSV reader (RFC 4180 as spreadsheets
 * export it) over a body held in memory.
 *
 *  - separator ',' or ';' (or any single byte but '"', CR, LF);
 *  - a UTF-8 byte order mark at the very start is skipped;
 *  - records end with LF or CRLF; a quoted field may hold separators,
 *    newlines and doubled quotes ("" -> ");
 *  - strict: a quote inside an unquoted field, or anything but a separator
 *    or line end after a closing quote, is an error of that record; the
 *    reader then resynchronises at the next line end and goes on;
 *  - a quoted field still open at the end of the body means the body was
 *    truncated: that is fatal (PB_CSV_FATAL), the feed is not trusted;
 *  - bounded: a record longer than max_record bytes or with more than
 *    max_columns fields is an error of that record; fields must be valid
 *    UTF-8; completely empty lines are skipped.
 * The reader does not copy the body; fields live in its own buffer until the
 * next call. */
#ifndef PB_CSV_H
#define PB_CSV_H

#include <stddef.h>

#include "partnerbus/pb_common.h"

typedef struct pb_csv_limits {
        size_t max_record;  /* bytes of one record's fields (default 1 MiB) */
        size_t max_columns; /* fields per record (default 1024) */
} pb_csv_limits_t;

typedef struct pb_csv_row {
        const char *const *fields; /* NUL-terminated field texts */
        const size_t *lens;
        size_t n;
        long line;       /* physical line (1-based) where the record starts */
        const char *raw; /* the record's bytes in the body (for dead letters) */
        size_t raw_len;
} pb_csv_row_t;

typedef enum pb_csv_result {
        PB_CSV_ROW = 1,    /* *row holds the next record */
        PB_CSV_END = 0,    /* no more records */
        PB_CSV_BAD = -1,   /* this record is malformed (errstr, row->line,
                              row->raw set); call again for the next */
        PB_CSV_FATAL = -2, /* the body cannot be read further (truncated) */
} pb_csv_result_t;

typedef struct pb_csv pb_csv_t;

/* data must outlive the reader. limits NULL = defaults. NULL on ENOMEM. */
pb_csv_t *pb_csv_new(const char *data, size_t len, char sep,
                     const pb_csv_limits_t *limits);
void pb_csv_destroy(pb_csv_t *c);
pb_csv_result_t pb_csv_next(pb_csv_t *c, pb_csv_row_t *row, char *errstr,
                            size_t errstr_size);

/* Guesses the separator from the header line: ';' when it has more
 * semicolons than commas outside quotes, else ','. */
char pb_csv_sniff(const char *data, size_t len);

#endif
