/* libFuzzer target: the poll mapping. The input is a mapping file, a NUL
 * byte, then a record (JSON object, or a CSV header and row when the
 * mapping says "format":"csv"). Loading must reject bad mappings with a
 * message; applying must stay bounded and emit JSON that the strict
 * parser accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb_csv.h"
#include "pb_feed.h"
#include "pb_mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t mlen, rlen;
        char err[256], *rbody;
        pb_mapping_t *m;
        pb_feed_opts_t fo;
        pb_feed_t *f;
        pb_record_t rec;
        pb_buf_t out, key;
        pb_errors_t errs;
        int r, n = 0;
        if (!nul)
                return 0;
        mlen = (size_t)(nul - data);
        rlen = size - mlen - 1;
        m = pb_mapping_new((const char *)data, mlen, err, sizeof(err));
        if (!m) {
                if (!err[0])
                        abort();
                return 0;
        }
        pb_mapping_set_default_key(m, "/id");
        rbody = malloc(rlen + 1);
        if (!rbody) {
                pb_mapping_destroy(m);
                return 0;
        }
        memcpy(rbody, nul + 1, rlen);
        memset(&fo, 0, sizeof(fo));
        fo.format = pb_mapping_format(m) && !strcmp(pb_mapping_format(m), "csv")
                        ? PB_FEED_CSV
                        : PB_FEED_JSON;
        fo.records_pointer = pb_mapping_records(m);
        fo.separator = pb_mapping_separator(m);
        fo.max_record = 4096;
        fo.max_columns = 64;
        fo.max_nodes = 10000;
        pb_buf_init(&out, 1u << 20);
        pb_buf_init(&key, 4096);
        f = pb_feed_new(rbody, rlen, fo.format, &fo, err, sizeof(err));
        while (f && n++ < 1000) {
                r = pb_feed_next(f, &rec, err, sizeof(err));
                if (r == PB_FEED_END || r == PB_FEED_FATAL)
                        break;
                if (r != PB_FEED_RECORD)
                        continue;
                pb_buf_reset(&out);
                pb_buf_reset(&key);
                pb_errors_init(&errs);
                if (pb_mapping_apply(m, &rec, &out, &key, &errs) == PB_OK) {
                        pb_json_parser_t *jp = pb_json_parser_new(NULL);
                        if (jp && !pb_json_parse(jp, (const char *)out.data,
                                                 out.len, err, sizeof(err)))
                                abort(); /* the mapping wrote bad JSON */
                        pb_json_parser_destroy(jp);
                } else if (errs.count == 0 && out.len != 0) {
                        abort();
                }
        }
        pb_feed_destroy(f);
        pb_buf_free(&out);
        pb_buf_free(&key);
        free(rbody);
        pb_mapping_destroy(m);
        return 0;
}
