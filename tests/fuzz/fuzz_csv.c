/* libFuzzer target: the poll connector's CSV reader and the CSV feed on top
 * of it (header row, column counts). Input byte 0 picks the separator and
 * tight limits, the rest is the body. Every record must stay within the
 * body and the limits; nothing may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb_csv.h"
#include "pb_feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        pb_csv_limits_t lim;
        pb_feed_opts_t fo;
        pb_csv_t *c;
        pb_csv_row_t row;
        pb_feed_t *f;
        pb_record_t rec;
        char err[256], *body;
        size_t i, n = 0;
        int r;
        if (size < 1)
                return 0;
        lim.max_record = (data[0] & 0x80) ? 64 : 4096;
        lim.max_columns = (data[0] & 0x40) ? 4 : 256;
        body = malloc(size - 1 + 1); /* exact size: ASan sees overreads */
        if (!body)
                return 0;
        memcpy(body, data + 1, size - 1);
        c = pb_csv_new(body, size - 1, (data[0] & 1) ? ';' : ',', &lim);
        while (c && n++ < 100000) {
                r = pb_csv_next(c, &row, err, sizeof(err));
                if (r == PB_CSV_END || r == PB_CSV_FATAL)
                        break;
                if (row.raw &&
                    (row.raw < body || row.raw + row.raw_len > body + size - 1))
                        abort();
                if (r == PB_CSV_ROW) {
                        size_t tot = 0;
                        if (row.n > lim.max_columns)
                                abort();
                        for (i = 0; i < row.n; i++) {
                                if (strlen(row.fields[i]) > row.lens[i])
                                        abort();
                                tot += row.lens[i];
                        }
                        if (tot > lim.max_record)
                                abort();
                }
        }
        pb_csv_destroy(c);
        memset(&fo, 0, sizeof(fo));
        fo.separator = (data[0] & 2) ? 0 : ';';
        fo.max_record = lim.max_record;
        fo.max_columns = lim.max_columns;
        f = pb_feed_new(body, size - 1, PB_FEED_CSV, &fo, err, sizeof(err));
        n = 0;
        while (f && n++ < 100000) {
                r = pb_feed_next(f, &rec, err, sizeof(err));
                if (r == PB_FEED_END || r == PB_FEED_FATAL)
                        break;
                if (r == PB_FEED_RECORD && rec.ncols != rec.nheader)
                        abort();
        }
        pb_feed_destroy(f);
        free(body);
        return 0;
}
