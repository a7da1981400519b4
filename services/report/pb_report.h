/* partnerbus - the figures of `partnerbus report`: exact totals over
 * decoded events, summary.json and a self-contained report.html. Not a
 * public header; services/report and the unit tests use it.
 *
 * Money and weights are summed as scaled 128-bit integers parsed from the
 * decimal strings of the natural JSON (never floating point): amounts at
 * scale 2, weights at scale 1, quantities as integers. A sum that would
 * overflow is an error, not a wrong figure. Events are counted once per
 * event_id: a repeated id (at-least-once delivery into the archive, a
 * retried publish) is skipped and counted as a duplicate. And entities are
 * counted once: of several events about one grant, shipment dispatch or
 * partnership (the schema's key: grant_id, shipment_id, partnership_id) —
 * an update polled from a feed, the same fact reported twice — only the
 * latest by occurred_at (ties: the one added last) enters the figures; the
 * others are counted as superseded. The latest version of each entity is
 * kept (as compact JSON) until pb_report_finish(), so memory grows with the
 * number of entities in the range, about 1 KiB each. */
#ifndef PB_REPORT_H
#define PB_REPORT_H

#include <stdint.h>

#include "partnerbus/pb_common.h"
#include "partnerbus/pb_json.h"

typedef struct pb_report pb_report_t;

/* asof_ms: the instant the age of unconfirmed shipments is measured at
 * (the end of the range, or now). */
pb_report_t *pb_report_new(int64_t asof_ms);
void pb_report_destroy(pb_report_t *r);

/* Adds one event of `type` (its natural JSON). Unknown types are counted
 * and otherwise ignored. PB_ERR_INVALID (errstr) when a field the report
 * needs is missing or malformed, PB_ERR_LIMIT on overflow. */
pb_resp_t pb_report_add(pb_report_t *r, const char *type,
                        const pb_json_t *event, char *errstr,
                        size_t errstr_size);

/* Aggregates the latest version of every entity. Called once, after the
 * last pb_report_add (the writers below call it if the caller did not;
 * then an error in an entity's event shows only as their return code).
 * PB_ERR_INVALID with errstr when a field the report needs is missing or
 * malformed, PB_ERR_LIMIT on overflow. */
pb_resp_t pb_report_finish(pb_report_t *r, char *errstr, size_t errstr_size);

/* Describes the run in summary.json's "report" member (strings may be
 * NULL): where the events came from and the range. */
void pb_report_set_meta(pb_report_t *r, const char *source, const char *since,
                        const char *until);

/* The range as instants (for the text of the report). */
void pb_report_set_range(pb_report_t *r, int has_since, int64_t since_ms,
                         int has_until, int64_t until_ms);
/* Language of report.html (labels from schemas/labels, pb_labels.h); the
 * labels must outlive the report. NULL: message keys and English number
 * formats (tests). */
struct pb_labels;
void pb_report_set_labels(pb_report_t *r, const struct pb_labels *l);
/* Provenance, stated in summary.json ("report") and report.html: each
 * event read (topic, partition, offset; partition -1 from the archive),
 * each archive file, each schema's fingerprint. */
pb_resp_t pb_report_note_read(pb_report_t *r, const char *topic,
                              int32_t partition, int64_t offset);
pb_resp_t pb_report_note_file(pb_report_t *r, const char *path, int64_t size);
void pb_report_note_schema(pb_report_t *r, const char *type,
                           uint64_t fingerprint);

/* summary.json: every figure (see docs/report.md for the layout). */
pb_resp_t pb_report_summary_json(pb_report_t *r, pb_buf_t *out);
/* report.html: one file, inline CSS and SVG, no scripts, no external
 * references. */
pb_resp_t pb_report_html(pb_report_t *r, pb_buf_t *out);

/* trace.json: for every row of summary.json the event ids that make it,
 * and for every entity the id counted, the superseded and the conflicting
 * ones. */
pb_resp_t pb_report_trace_json(pb_report_t *r, pb_buf_t *out);

/* --- exact decimals (exposed for the unit tests) --- */
__extension__ typedef __int128 pb_report_dec_t;
/* "143000.5" at `scale` -> unscaled value. 0, or -1 if not a decimal with
 * at most `scale` fraction digits and 36 digits in all. */
int pb_report_dec_parse(const char *s, size_t len, int scale,
                        pb_report_dec_t *v);
/* Unscaled value -> text with exactly `scale` fraction digits; length. */
int pb_report_dec_format(pb_report_dec_t v, int scale, char *buf, size_t size);

#endif
