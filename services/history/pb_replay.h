/* partnerbus - building blocks of `partnerbus replay` and `report` that
 * need no Kafka: the event-time merge and CSV flattening (services/history).
 * The length of one Avro datum is in partnerbus/pb_codec.h, the archive
 * reader in connectors/archive/pb_archive.h. Nothing here prints or exits. */
#ifndef PB_REPLAY_H
#define PB_REPLAY_H

#include <stdint.h>
#include <stdio.h>

#include "partnerbus/pb_codec.h"
#include "partnerbus/pb_common.h"
#include "partnerbus/pb_json.h"

/* --- event-time merge over several streams ---
 * Each stream (a Kafka partition, an archive topic) delivers events in its
 * own order. The merge keeps up to `window` events per stream and hands out
 * the smallest buffered event by (time, topic, event id, stream, seq) only
 * when every stream that has not ended holds `window` events. So the output
 * is exactly sorted when no event arrives `window` or more places after an
 * event of its stream with a later time; otherwise it is still complete and
 * each late event is counted in pb_replay_merge_late(). Memory: at most
 * window x streams items. */
typedef struct pb_replay_merge_item {
        int64_t time_ms;   /* occurred_at */
        const char *topic; /* not copied: must outlive the item */
        char event_id[40];
        uint32_t stream;
        int64_t seq;     /* Kafka offset, or position in the stream */
        void *payload;   /* owned by the caller */
        uint64_t id_key; /* set by push: event_id's first 8 bytes */
} pb_replay_merge_item_t;

typedef struct pb_replay_merge pb_replay_merge_t;

pb_replay_merge_t *pb_replay_merge_new(size_t nstreams, size_t window);
void pb_replay_merge_destroy(pb_replay_merge_t *m); /* payloads are not freed */
/* PB_ERR_QUEUE_FULL when the item's stream already holds `window` items,
 * PB_ERR_ARG for an unknown or ended stream, PB_ERR_NOMEM. */
pb_resp_t pb_replay_merge_push(pb_replay_merge_t *m,
                               const pb_replay_merge_item_t *it);
/* No more items will come from stream s. */
void pb_replay_merge_end(pb_replay_merge_t *m, uint32_t s);
/* 1 when stream s has not ended and holds fewer than `window` items. */
int pb_replay_merge_wants(const pb_replay_merge_t *m, uint32_t s);
/* Items stream s may still take (0 when ended or full). */
size_t pb_replay_merge_room(const pb_replay_merge_t *m, uint32_t s);
/* 1 when pb_replay_merge_pop may hand out an item now. */
int pb_replay_merge_ready(const pb_replay_merge_t *m);
/* Removes the smallest item into *it: PB_OK, or PB_END when
 * nothing is buffered. Call only when pb_replay_merge_ready() (else ordering is
 * not guaranteed). */
pb_resp_t pb_replay_merge_pop(pb_replay_merge_t *m, pb_replay_merge_item_t *it);
size_t pb_replay_merge_buffered(const pb_replay_merge_t *m);
int pb_replay_merge_all_ended(const pb_replay_merge_t *m);
/* Items handed out with a time earlier than an item handed out before. */
uint64_t pb_replay_merge_late(const pb_replay_merge_t *m);
/* Total order used by the merge: <0, 0, >0. */
int pb_replay_merge_cmp(const pb_replay_merge_item_t *a,
                        const pb_replay_merge_item_t *b);

/* --- CSV: one row per event, nested fields as dotted columns ---
 * A record member becomes `parent.child`; array element i of `items`
 * becomes `items.<i>` (`items.0.category`, `items.1.category`, and
 * `areas.0`, `areas.1` for arrays of strings); a map entry `m.<key>`.
 * Columns are ordered as the fields are in the schema (the decoder writes
 * them in that order), array elements by index. Because the widest array
 * (and which columns are ever non-null) is known only at the end, rows
 * are spooled to a temporary file, one write per row, and the CSV (header
 * and rows) is written by pb_replay_csv_finish. Cells: strings as
 * they are (decimals are strings, so exact), numbers as their JSON text,
 * true/false, null and absent as an empty cell. Quoting per RFC 4180: a
 * cell with `,` `"` CR or LF is quoted, quotes doubled; CRLF line ends. */
typedef struct pb_replay_csv pb_replay_csv_t;

#define PB_CSVOUT_MAX_COLUMNS 100000

/* NULL when the spool file cannot be created (errno). */
pb_replay_csv_t *pb_replay_csv_new(void);
void pb_replay_csv_destroy(pb_replay_csv_t *w);
/* Adds the event (a JSON object) as one row. PB_ERR_LIMIT past
 * PB_CSVOUT_MAX_COLUMNS distinct columns or PB_CODEC_MAX_DEPTH nesting,
 * PB_ERR_IO when the spool cannot be written. */
pb_resp_t pb_replay_csv_add(pb_replay_csv_t *w, const pb_json_t *event);
/* The same row straight from the event's Avro body written with `writer`
 * (read with that schema itself, no resolution), flattened while it is
 * decoded (pb_codec_visit.h): the same columns and cells as
 * pb_replay_csv_add() of the event's natural JSON. c: a codec (scratch);
 * flags: PB_VISIT_CHECKED when the body was validated before.
 * Besides the errors above, the decoder's error for a bad body (errstr
 * says where), also when it reached PB_ERR_LIMIT before its error: no row
 * is added and the columns only that body brought are forgotten, so the
 * writer goes on as if it had not been given the event
 * (pb_replay_csv_error() stays PB_OK). */
pb_resp_t pb_replay_csv_add_avro(pb_replay_csv_t *w, pb_codec_t *c,
                                 const pb_schema_t *writer, const uint8_t *body,
                                 size_t len, unsigned flags, char *errstr,
                                 size_t errstr_size);
/* Writes header and rows to out. */
pb_resp_t pb_replay_csv_finish(pb_replay_csv_t *w, FILE *out);
uint64_t pb_replay_csv_rows(const pb_replay_csv_t *w);
/* The writer's own failure that stops every later call (PB_ERR_NOMEM,
 * PB_ERR_IO, PB_ERR_LIMIT), or PB_OK - also after a bad body, which
 * leaves the writer usable. */
pb_resp_t pb_replay_csv_error(const pb_replay_csv_t *w);
/* One cell, quoted when needed, appended to b. */
pb_resp_t pb_replay_csv_cell(pb_buf_t *b, const char *s, size_t n);

/* Dialects (`replay --dialect`):
 *   PB_CSV_RFC4180   the default above: `,`, `.` decimals, no BOM, CRLF.
 *   PB_CSV_EXCEL_DE  what German Excel opens by double-click: UTF-8 with a
 *                    byte-order mark, `;` between cells, decimal comma in
 *                    numbers (the schema's decimal fields and JSON
 *                    numbers: "143000.00" -> 143000,00), CRLF; a cell with
 *                    `;` `"` CR or LF is quoted; a text cell that Excel
 *                    would take for a formula (starting with = + - @ TAB
 *                    CR) gets a leading apostrophe. */
typedef enum pb_csv_dialect {
        PB_CSV_RFC4180 = 0,
        PB_CSV_EXCEL_DE = 1
} pb_csv_dialect_t;

/* "rfc4180" or "excel-de" -> *d; 0, or -1 for another name. */
int pb_replay_csv_dialect_parse(const char *name, pb_csv_dialect_t *d);
/* Sets the dialect before the first row. schema_json: the event type's
 * Avro schema (its decimal fields are numbers in excel-de); may be NULL
 * (then only JSON numbers are). PB_ERR_NOMEM, PB_ERR_PARSE for a schema
 * that is not JSON. */
pb_resp_t pb_replay_csv_set_dialect(pb_replay_csv_t *w, pb_csv_dialect_t d,
                                    const char *schema_json);
/* One cell in the dialect; numeric: the value is a number (decimal point
 * becomes the dialect's). */
pb_resp_t pb_replay_csv_cell_dialect(pb_buf_t *b, pb_csv_dialect_t d,
                                     const char *s, size_t n, int numeric);

#endif
