/* libFuzzer target: the report over arbitrary events - pb_report_add with
 * whatever JSON the input holds (one event per line, the first byte of a
 * line picks its type), then summary.json, trace.json and the German
 * report.html (labels from $PARTNERBUS_SCHEMAS/labels when set). Event
 * text lands in HTML, so besides not crashing or leaking, no '<' from the
 * input may appear unescaped: every "<x" in the HTML is one of the
 * writer's own tags. Also the labels' number and date formatting of each
 * line's text. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_labels.h"
#include "pb_report.h"

static pb_labels_t *labels;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *d = getenv("PARTNERBUS_SCHEMAS");
        char dir[4096], err[256];
        (void)argc;
        (void)argv;
        if (d) {
                snprintf(dir, sizeof(dir), "%s/labels", d);
                labels = pb_labels_load(dir, "de", err, sizeof(err));
        }
        return 0;
}

static const char *types[] = {"funds.granted", "aid.dispatched",
                              "aid.delivered", "partnership.founded",
                              "other.type"};

/* a tag the writer emits: a letter, '/', '!' (DOCTYPE) follow '<' */
static void check_html(const pb_buf_t *b) {
        size_t i;
        for (i = 0; i + 1 < b->len; i++)
                if (b->data[i] == '<') {
                        uint8_t c = b->data[i + 1];
                        if (!((c >= 'a' && c <= 'z') || c == '/' || c == '!'))
                                abort();
                }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        pb_report_t *r = pb_report_new(1700000000000LL);
        pb_buf_t out;
        char err[256], fmt[512];
        size_t off = 0;
        int lines = 0;
        if (!p || !r)
                goto done;
        pb_buf_init(&out, 0);
        pb_report_set_labels(r, labels);
        pb_report_set_range(r, 1, 1600000000000LL, 1, 1700000000000LL);
        pb_report_note_schema(r, "funds.granted", 42);
        while (off < size && lines++ < 64) {
                const uint8_t *nl = memchr(data + off, '\n', size - off);
                size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
                const pb_json_t *ev;
                char *line;
                if (len >= 1 && (line = malloc(len))) {
                        memcpy(line, data + off + 1, len - 1);
                        line[len - 1] = 0;
                        pb_labels_number(labels, line, fmt, sizeof(fmt));
                        pb_labels_money(labels, line, "EUR", fmt, sizeof(fmt));
                        pb_labels_date(labels, line, fmt, sizeof(fmt));
                        pb_labels_month(labels, line, fmt, sizeof(fmt));
                        ev = pb_json_parse(p, line, len - 1, err, sizeof(err));
                        if (ev) {
                                pb_report_note_read(r, "t", data[off] & 3,
                                                    (int64_t)off);
                                pb_report_add(r, types[data[off] % 5], ev, err,
                                              sizeof(err));
                        }
                        free(line);
                }
                off += len + 1;
        }
        if (pb_report_finish(r, err, sizeof(err)) == PB_OK) {
                pb_report_summary_json(r, &out);
                pb_buf_reset(&out);
                pb_report_trace_json(r, &out);
                pb_buf_reset(&out);
                if (pb_report_html(r, &out) == PB_OK)
                        check_html(&out);
        }
        pb_buf_free(&out);
done:
        pb_report_destroy(r);
        pb_json_parser_destroy(p);
        return 0;
}
