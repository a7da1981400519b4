/* libFuzzer target: the poll connector's record readers over a fetched
 * body (untrusted: any web server). Byte 0 picks the format (JSON array,
 * NDJSON, CSV) and byte 1 the JSON Pointer to the records; the rest is the
 * body. Every record must come out bounded; a JSON record must write out
 * as JSON the strict parser accepts again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb_csv.h"
#include "pb_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const pb_feed_format_t fmts[3] = {PB_FEED_JSON, PB_FEED_NDJSON,
                                                 PB_FEED_CSV};
        static const char *const ptrs[4] = {"", "/records", "/data/0/items",
                                            "/a~1b"};
        char err[256], *body;
        pb_feed_opts_t fo;
        pb_feed_t *f;
        pb_record_t rec;
        pb_json_parser_t *jp;
        pb_buf_t w;
        int r, n = 0;
        size_t i;
        if (size < 2)
                return 0;
        memset(&fo, 0, sizeof(fo));
        fo.format = fmts[data[0] % 3];
        fo.records_pointer = ptrs[data[1] % 4];
        fo.separator = (data[1] & 0x10) ? ';' : 0;
        fo.max_record = 4096;
        fo.max_columns = 64;
        fo.max_nodes = 10000;
        /* a copy without slack so reads past the end are caught */
        body = malloc(size - 2 ? size - 2 : 1);
        if (!body)
                return 0;
        memcpy(body, data + 2, size - 2);
        jp = pb_json_parser_new(NULL);
        pb_buf_init(&w, 1u << 22);
        f = pb_feed_new(body, size - 2, fo.format, &fo, err, sizeof(err));
        while (f && jp && n++ < 10000) {
                r = pb_feed_next(f, &rec, err, sizeof(err));
                if (r == PB_FEED_END || r == PB_FEED_FATAL)
                        break;
                if (rec.raw_len && !rec.raw)
                        abort();
                if (r != PB_FEED_RECORD)
                        continue;
                if (rec.json) {
                        pb_buf_reset(&w);
                        if (pb_json_write(rec.json, &w) == PB_OK &&
                            !pb_json_parse(jp, (const char *)w.data, w.len, err,
                                           sizeof(err)))
                                abort();
                } else {
                        if (rec.ncols != rec.nheader)
                                abort();
                        for (i = 0; i < rec.ncols; i++)
                                if (rec.lens[i] > fo.max_record ||
                                    !pb_utf8_valid(rec.cols[i], rec.lens[i]))
                                        abort();
                }
        }
        pb_feed_destroy(f);
        pb_json_parser_destroy(jp);
        pb_buf_free(&w);
        free(body);
        return 0;
}
