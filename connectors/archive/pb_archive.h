/* partnerbus - the reader of the relay's archive (Avro container files),
 * next to the writer (pb_sink_archive.c). Used by replay and report. */
#ifndef PB_ARCHIVE_H
#define PB_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_common.h"
#include "partnerbus/pb_schema.h"

/* --- archive: the relay's Avro container files ---
 * DIR/<topic>/<topic>-<YYYYMMDDTHHMMSSZ>-<NNNNNN>.avro (see
 * connectors/archive): the files of a topic are read in name order, i.e.
 * in the order they were written; files are listed once, when the reader
 * is created, so a replay ends even while a relay keeps writing. Only
 * complete blocks are read: a partial last block (a relay writing it or a
 * crash) is skipped. Each file embeds its writer schema. */
typedef struct pb_archive pb_archive_t;

typedef struct pb_archive_event {
        const pb_schema_t *writer; /* valid until the next call */
        const uint8_t *body;       /* the Avro body, no framing */
        size_t body_len;
        const char *file; /* current file's path */
        int64_t seq;      /* position in the topic, from 0 */
} pb_archive_event_t;

/* NULL with errstr when DIR/<topic> cannot be listed. A missing topic
 * directory is an empty topic (*missing set to 1). */
pb_archive_t *pb_archive_open(const char *dir, const char *topic, int *missing,
                              char *errstr, size_t errstr_size);
void pb_archive_destroy(pb_archive_t *a);
/* PB_OK with *ev; PB_END at the end; PB_ERR_IO / PB_ERR_INVALID
 * with errstr for an unreadable file, a schema that does not compile or a
 * datum that does not fit its block. */
pb_resp_t pb_archive_next(pb_archive_t *a, pb_archive_event_t *ev, char *errstr,
                          size_t errstr_size);
size_t pb_archive_files(const pb_archive_t *a);
/* Files in which bytes after the last complete block were skipped. */
size_t pb_archive_partial_files(const pb_archive_t *a);

#endif
