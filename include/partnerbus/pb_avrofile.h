/* Library: partnerbus_avro (lib/avro). */
/* partnerbus - Avro object container files (Avro 1.11 spec, "Object
 * Container Files"), written and scanned block by block.
 *
 * Why not avro-c's writer: avro-c 1.11.1 re-serialises the schema it
 * embeds from its own parse and drops every attribute it does not know -
 * logicalType (decimal, date, timestamp-millis, uuid), precision, scale and
 * our partnerbus.type / partnerbus.key. Files written by it read back as
 * bytes and ints in other readers. This writer embeds the schema JSON
 * exactly as given (the .avsc text) and appends already-encoded Avro
 * bodies, so nothing is re-encoded. avro-c (and fastavro) read the files.
 *
 * Crash safety: each block goes out in one writev() of
 * count|size|data|sync; pb_avrofile_flush(w, 1) fsyncs. A crash can leave
 * at most one partial block at the end; pb_avrofile_recover() cuts it off,
 * and readers stop at it. The writer holds an exclusive flock() on the file
 * while it is open, so recovery never touches a file someone still writes.
 *
 * Codec: "null" (uncompressed). */
#ifndef PB_AVROFILE_H
#define PB_AVROFILE_H

#include <stdint.h>

#include "pb_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PB_AVROFILE_SYNC_LEN   16
#define PB_AVROFILE_MAX_SCHEMA (1u << 20)  /* bytes of schema JSON */
#define PB_AVROFILE_MAX_BLOCK  (64u << 20) /* bytes of one block (reader) */

typedef struct pb_avrofile_writer pb_avrofile_writer_t;

/* Creates `path` (O_EXCL: fails with PB_ERR_IO/EEXIST semantics if it
 * exists), writes and fsyncs the header (schema_json embedded verbatim)
 * and fsyncs the directory. block_max: pending bytes after which append
 * writes a block by itself (0 = 1 MiB). NULL with errstr on failure;
 * *exists (may be NULL) is set to 1 when the file was already there. */
pb_avrofile_writer_t *pb_avrofile_create(const char *path,
                                         const char *schema_json,
                                         size_t block_max, int *exists,
                                         char *errstr, size_t errstr_size);
/* Appends one encoded datum (the Avro binary body). */
pb_resp_t pb_avrofile_append(pb_avrofile_writer_t *w, const void *body,
                             size_t len, char *errstr, size_t errstr_size);
/* Writes the pending block (if any); with do_fsync, fsync()s the file. */
pb_resp_t pb_avrofile_flush(pb_avrofile_writer_t *w, int do_fsync, char *errstr,
                            size_t errstr_size);
/* Bytes in the file including the pending block. */
uint64_t pb_avrofile_size(const pb_avrofile_writer_t *w);
/* Objects appended so far. */
uint64_t pb_avrofile_count(const pb_avrofile_writer_t *w);
const char *pb_avrofile_path(const pb_avrofile_writer_t *w);
/* Flushes, fsyncs and closes; PB_OK when everything reached the disk.
 * Frees w in every case (NULL accepted). */
pb_resp_t pb_avrofile_close(pb_avrofile_writer_t *w, char *errstr,
                            size_t errstr_size);

/* --- scanning --- */
typedef struct pb_avrofile_reader pb_avrofile_reader_t;

/* Opens and reads the header. NULL with errstr when the file is not an
 * Avro container (or its header is incomplete). */
pb_avrofile_reader_t *pb_avrofile_open(const char *path, char *errstr,
                                       size_t errstr_size);
void pb_avrofile_reader_destroy(pb_avrofile_reader_t *r);
/* The embedded schema (NUL-terminated) and codec name. */
const char *pb_avrofile_schema(const pb_avrofile_reader_t *r);
const char *pb_avrofile_codec(const pb_avrofile_reader_t *r);
/* Next complete block: *data (valid until the next call) holds *count
 * concatenated encoded objects. PB_OK; PB_END at the end of the file;
 * PB_ERR_TRUNCATED (and *partial set to 1) when bytes of an incomplete or
 * damaged block follow the last good one; PB_ERR_IO on a read error. */
pb_resp_t pb_avrofile_next_block(pb_avrofile_reader_t *r, const uint8_t **data,
                                 size_t *len, int64_t *count, int *partial);
/* File offset just after the last complete block read. */
uint64_t pb_avrofile_good_end(const pb_avrofile_reader_t *r);

/* Cuts a partial last block off `path` unless another process holds the
 * file's lock (then PB_OK and *cut = 0). *cut = bytes removed. A file whose
 * header cannot be read (incomplete, or not a container this reader takes)
 * is left as it is: PB_ERR_INVALID with errstr. Nothing is ever deleted. */
pb_resp_t pb_avrofile_recover(const char *path, int64_t *cut, char *errstr,
                              size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
