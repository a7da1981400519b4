/* partnerbus poll - strict, bounded CSV reader; see pb_csv.h. */
#include "pb_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h" /* pb_utf8_valid */

struct pb_csv {
        const char *data;
        size_t len, pos;
        long line; /* physical line of data[pos] */
        char sep;
        pb_csv_limits_t lim;
        char *fb; /* field bytes, NUL-separated: max_record + ncols */
        size_t fbcap;
        size_t *offs; /* field start offsets in fb */
        size_t *lens;
        const char **fields;
};

/* 3 if data starts with the UTF-8 byte order mark (as spreadsheets
 * export it), else 0. */
static size_t bom_len(const char *data, size_t len) {
        return len >= 3 && (unsigned char)data[0] == 0xEF &&
                       (unsigned char)data[1] == 0xBB &&
                       (unsigned char)data[2] == 0xBF
                   ? 3
                   : 0;
}

pb_csv_t *pb_csv_new(const char *data, size_t len, char sep,
                     const pb_csv_limits_t *limits) {
        pb_csv_t *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->data = data;
        c->len = len;
        c->line = 1;
        c->sep = sep;
        c->lim.max_record =
            limits && limits->max_record ? limits->max_record : (1u << 20);
        c->lim.max_columns =
            limits && limits->max_columns ? limits->max_columns : 1024;
        /* the fields' bytes plus one NUL per field */
        c->fbcap = c->lim.max_record + c->lim.max_columns + 1;
        c->fb = malloc(c->fbcap);
        c->offs = calloc(c->lim.max_columns, sizeof(*c->offs));
        c->lens = calloc(c->lim.max_columns, sizeof(*c->lens));
        c->fields = calloc(c->lim.max_columns, sizeof(*c->fields));
        if (!c->fb || !c->offs || !c->lens || !c->fields) {
                pb_csv_destroy(c);
                return NULL;
        }
        c->pos = bom_len(data, len);
        return c;
}

void pb_csv_destroy(pb_csv_t *c) {
        if (!c)
                return;
        free(c->fb);
        free(c->offs);
        free(c->lens);
        free(c->fields);
        free(c);
}

/* Line end at data[p]: returns its length (1 for LF, 2 for CRLF) or 0. */
static size_t eol_at(const pb_csv_t *c, size_t p) {
        if (p >= c->len)
                return 0;
        if (c->data[p] == '\n')
                return 1;
        if (c->data[p] == '\r' && p + 1 < c->len && c->data[p + 1] == '\n')
                return 2;
        return 0;
}

/* After an error inside the record that began at start (on line `line`):
 * skip to just past its end, scanning it again the way the reader does, so
 * that a line end inside a quoted field does not end it. Without this, text
 * inside an over-long quoted field (a "Bemerkung" with line breaks) was
 * read as the next rows. A quoted field never closed runs to the end. */
static void resync(pb_csv_t *c, size_t start, long line) {
        size_t p = start, e;
        int field_start = 1;
        c->line = line;
        while (p < c->len) {
                if (field_start && c->data[p] == '"') {
                        for (p++; p < c->len; p++) {
                                if (c->data[p] == '\n')
                                        c->line++;
                                else if (c->data[p] == '"') {
                                        if (p + 1 < c->len &&
                                            c->data[p + 1] == '"')
                                                p++;
                                        else
                                                break;
                                }
                        }
                        if (p < c->len)
                                p++; /* the closing quote */
                        field_start = 0;
                        continue;
                }
                field_start = 0;
                if (c->data[p] == c->sep) {
                        field_start = 1;
                        p++;
                } else if ((e = eol_at(c, p)) != 0) {
                        c->pos = p + e;
                        c->line++;
                        return;
                } else {
                        p++;
                }
        }
        c->pos = c->len;
}

static pb_csv_result_t bad(pb_csv_t *c, pb_csv_row_t *row, size_t start,
                           char *errstr, size_t errstr_size, const char *why) {
        snprintf(errstr, errstr_size, "line %ld: %s", row->line, why);
        resync(c, start, row->line);
        row->raw = c->data + start;
        row->raw_len = c->pos - start;
        while (row->raw_len && (row->raw[row->raw_len - 1] == '\n' ||
                                row->raw[row->raw_len - 1] == '\r'))
                row->raw_len--;
        row->fields = NULL;
        row->lens = NULL;
        row->n = 0;
        return PB_CSV_BAD;
}

pb_csv_result_t pb_csv_next(pb_csv_t *c, pb_csv_row_t *row, char *errstr,
                            size_t errstr_size) {
        size_t start, o = 0, nf = 0, e, i;
        memset(row, 0, sizeof(*row));
        /* skip empty lines */
        while ((e = eol_at(c, c->pos)) != 0) {
                c->pos += e;
                c->line++;
        }
        if (c->pos >= c->len)
                return PB_CSV_END;
        start = c->pos;
        row->line = c->line;
        for (;;) {
                if (nf == c->lim.max_columns)
                        return bad(c, row, start, errstr, errstr_size,
                                   "too many columns");
                c->offs[nf] = o;
                if (c->pos < c->len && c->data[c->pos] == '"') {
                        c->pos++;
                        for (;;) {
                                char ch;
                                if (c->pos >= c->len) {
                                        snprintf(errstr, errstr_size,
                                                 "line %ld: quoted field not "
                                                 "closed at the end of the "
                                                 "body (truncated?)",
                                                 row->line);
                                        c->pos = c->len;
                                        return PB_CSV_FATAL;
                                }
                                ch = c->data[c->pos];
                                if (ch == '"') {
                                        if (c->pos + 1 < c->len &&
                                            c->data[c->pos + 1] == '"') {
                                                c->pos += 2;
                                        } else {
                                                c->pos++;
                                                break;
                                        }
                                } else {
                                        if (ch == '\n')
                                                c->line++;
                                        c->pos++;
                                }
                                if (o - nf >= c->lim.max_record)
                                        return bad(c, row, start, errstr,
                                                   errstr_size,
                                                   "record too long");
                                c->fb[o++] = ch;
                        }
                        if (c->pos < c->len && c->data[c->pos] != c->sep &&
                            !eol_at(c, c->pos))
                                return bad(c, row, start, errstr, errstr_size,
                                           "unexpected character after a "
                                           "closing quote");
                } else {
                        while (c->pos < c->len) {
                                char ch = c->data[c->pos];
                                if (ch == c->sep || eol_at(c, c->pos))
                                        break;
                                if (ch == '"')
                                        return bad(c, row, start, errstr,
                                                   errstr_size,
                                                   "quote inside an unquoted "
                                                   "field");
                                if (o - nf >= c->lim.max_record)
                                        return bad(c, row, start, errstr,
                                                   errstr_size,
                                                   "record too long");
                                c->fb[o++] = ch;
                                c->pos++;
                        }
                }
                /* o - nf counts field bytes only; o < fbcap holds because
                 * field bytes <= max_record and NULs <= max_columns */
                c->lens[nf] = o - c->offs[nf];
                c->fb[o++] = 0;
                nf++;
                if (c->pos >= c->len)
                        break;
                if (c->data[c->pos] == c->sep) {
                        c->pos++;
                        continue;
                }
                e = eol_at(c, c->pos);
                c->pos += e;
                c->line++;
                break;
        }
        for (i = 0; i < nf; i++) {
                c->fields[i] = c->fb + c->offs[i];
                if (!pb_utf8_valid(c->fields[i], c->lens[i])) {
                        snprintf(errstr, errstr_size,
                                 "line %ld: column %zu is not valid UTF-8",
                                 row->line, i + 1);
                        row->raw = c->data + start;
                        row->raw_len = c->pos - start;
                        return PB_CSV_BAD;
                }
        }
        row->fields = c->fields;
        row->lens = c->lens;
        row->n = nf;
        row->raw = c->data + start;
        row->raw_len = c->pos - start;
        while (row->raw_len && (row->raw[row->raw_len - 1] == '\n' ||
                                row->raw[row->raw_len - 1] == '\r'))
                row->raw_len--;
        return PB_CSV_ROW;
}

char pb_csv_sniff(const char *data, size_t len) {
        size_t i, semi = 0, comma = 0;
        int q = 0;
        for (i = bom_len(data, len); i < len && (q || data[i] != '\n'); i++) {
                if (data[i] == '"')
                        q = !q;
                else if (!q && data[i] == ';')
                        semi++;
                else if (!q && data[i] == ',')
                        comma++;
        }
        return semi > comma ? ';' : ',';
}
