/* partnerbus poll - record readers over a fetched body; see pb_feed.h. */
#include "pb_feed.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pb_csv.h"

struct pb_feed {
        pb_feed_format_t format;
        const char *body;
        size_t len;
        pb_feed_opts_t opts;
        /* JSON */
        pb_json_parser_t *jp;
        const pb_json_t *root, *cur;
        long index;
        pb_buf_t raw; /* re-serialized element */
        /* NDJSON */
        size_t pos;
        long line;
        /* CSV */
        pb_csv_t *csv;
        char **header;
        size_t *hlens;
        size_t nheader;
};

const pb_json_t *pb_pointer_get(const pb_json_t *root, const char *ptr) {
        const pb_json_t *v = root;
        char tok[512];
        if (!ptr)
                return NULL;
        if (!*ptr)
                return root;
        if (*ptr != '/')
                return NULL;
        while (v && *ptr == '/') {
                size_t n = 0;
                const pb_json_t *ch;
                ptr++;
                while (*ptr && *ptr != '/') {
                        char c = *ptr++;
                        if (c == '~') {
                                if (*ptr == '0')
                                        c = '~';
                                else if (*ptr == '1')
                                        c = '/';
                                else
                                        return NULL;
                                ptr++;
                        }
                        if (n + 1 >= sizeof(tok))
                                return NULL;
                        tok[n++] = c;
                }
                tok[n] = 0;
                if (v->type == PB_JSON_OBJECT) {
                        for (ch = v->child; ch; ch = ch->next)
                                if (ch->keylen == n && !memcmp(ch->key, tok, n))
                                        break;
                        v = ch;
                } else if (v->type == PB_JSON_ARRAY) {
                        size_t idx = 0, i;
                        if (!n || (n > 1 && tok[0] == '0') || n > 9)
                                return NULL;
                        for (i = 0; i < n; i++) {
                                if (!isdigit((unsigned char)tok[i]))
                                        return NULL;
                                idx = idx * 10 + (size_t)(tok[i] - '0');
                        }
                        for (ch = v->child; ch && idx; ch = ch->next)
                                idx--;
                        v = ch;
                } else {
                        return NULL;
                }
        }
        return v;
}

pb_feed_format_t pb_feed_format_from_type(const char *ctype, int *is_html) {
        char t[128];
        size_t n = 0;
        *is_html = 0;
        if (!ctype)
                return PB_FEED_AUTO;
        while (*ctype == ' ')
                ctype++;
        while (ctype[n] && ctype[n] != ';' && ctype[n] != ' ' &&
               n + 1 < sizeof(t)) {
                t[n] = (char)tolower((unsigned char)ctype[n]);
                n++;
        }
        t[n] = 0;
        if (!strcmp(t, "text/html") || !strcmp(t, "application/xhtml+xml")) {
                *is_html = 1;
                return PB_FEED_AUTO;
        }
        if (!strcmp(t, "application/x-ndjson") ||
            !strcmp(t, "application/ndjson") ||
            !strcmp(t, "application/jsonl") ||
            !strcmp(t, "application/x-jsonlines") ||
            !strcmp(t, "application/jsonlines"))
                return PB_FEED_NDJSON;
        if (!strcmp(t, "text/csv") || !strcmp(t, "application/csv") ||
            !strcmp(t, "text/comma-separated-values"))
                return PB_FEED_CSV;
        if (!strcmp(t, "application/json") ||
            (n > 5 && !strcmp(t + n - 5, "+json")))
                return PB_FEED_JSON;
        return PB_FEED_AUTO;
}

pb_feed_format_t pb_feed_format_parse(const char *name) {
        if (!name || !strcmp(name, "auto"))
                return PB_FEED_AUTO;
        if (!strcmp(name, "json"))
                return PB_FEED_JSON;
        if (!strcmp(name, "ndjson") || !strcmp(name, "jsonl"))
                return PB_FEED_NDJSON;
        if (!strcmp(name, "csv"))
                return PB_FEED_CSV;
        return (pb_feed_format_t)-1;
}

void pb_feed_destroy(pb_feed_t *f) {
        size_t i;
        if (!f)
                return;
        pb_json_parser_destroy(f->jp);
        pb_buf_free(&f->raw);
        pb_csv_destroy(f->csv);
        for (i = 0; i < f->nheader; i++)
                free(f->header[i]);
        free(f->header);
        free(f->hlens);
        free(f);
}

static int open_csv(pb_feed_t *f, char *errstr, size_t errstr_size) {
        pb_csv_limits_t lim = {f->opts.max_record, f->opts.max_columns};
        pb_csv_row_t row;
        char sep = f->opts.separator ? f->opts.separator
                                     : pb_csv_sniff(f->body, f->len);
        size_t i, j;
        int r;
        char why[256];
        f->csv = pb_csv_new(f->body, f->len, sep, &lim);
        if (!f->csv) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        r = pb_csv_next(f->csv, &row, why, sizeof(why));
        if (r != PB_CSV_ROW) {
                snprintf(errstr, errstr_size, "CSV header row: %s",
                         r == PB_CSV_END ? "body is empty" : why);
                return -1;
        }
        f->header = calloc(row.n, sizeof(*f->header));
        f->hlens = calloc(row.n, sizeof(*f->hlens));
        if (!f->header || !f->hlens) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (i = 0; i < row.n; i++) {
                /* trim spaces around names: spreadsheets leave them */
                const char *s = row.fields[i];
                size_t n = row.lens[i];
                while (n && (*s == ' ' || *s == '\t')) {
                        s++;
                        n--;
                }
                while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                        n--;
                /* not strndup: a name may hold a NUL byte */
                f->header[i] = malloc(n + 1);
                if (f->header[i]) {
                        memcpy(f->header[i], s, n);
                        f->header[i][n] = 0;
                }
                if (!f->header[i]) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                f->hlens[i] = n;
                f->nheader = i + 1;
                for (j = 0; j < i; j++)
                        if (n && f->hlens[j] == n &&
                            !memcmp(f->header[j], s, n)) {
                                snprintf(errstr, errstr_size,
                                         "CSV header row: column '%s' "
                                         "appears twice",
                                         f->header[i]);
                                return -1;
                        }
        }
        return 0;
}

pb_feed_t *pb_feed_new(const char *body, size_t len, pb_feed_format_t format,
                       const pb_feed_opts_t *opts, char *errstr,
                       size_t errstr_size) {
        pb_feed_t *f = calloc(1, sizeof(*f));
        pb_json_limits_t jl = {64, 0};
        char why[256];
        if (!f) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        f->format = format;
        f->body = body;
        f->len = len;
        f->opts = *opts;
        if (!f->opts.max_record)
                f->opts.max_record = 1u << 20;
        f->line = 1;
        pb_buf_init(&f->raw, f->opts.max_record * 4 + 1024);
        jl.max_nodes = f->opts.max_nodes ? f->opts.max_nodes : 10000000;
        if (format == PB_FEED_CSV) {
                if (open_csv(f, errstr, errstr_size)) {
                        pb_feed_destroy(f);
                        return NULL;
                }
                return f;
        }
        f->jp = pb_json_parser_new(&jl);
        if (!f->jp) {
                snprintf(errstr, errstr_size, "out of memory");
                pb_feed_destroy(f);
                return NULL;
        }
        if (format == PB_FEED_NDJSON) {
                if (len >= 3 && (unsigned char)body[0] == 0xEF &&
                    (unsigned char)body[1] == 0xBB &&
                    (unsigned char)body[2] == 0xBF)
                        f->pos = 3; /* UTF-8 byte order mark */
                return f;
        }
        if (format != PB_FEED_JSON) {
                snprintf(errstr, errstr_size, "unknown feed format");
                pb_feed_destroy(f);
                return NULL;
        }
        f->root = pb_json_parse(f->jp, body, len, why, sizeof(why));
        if (!f->root) {
                snprintf(errstr, errstr_size, "body is not valid JSON: %s",
                         why);
                pb_feed_destroy(f);
                return NULL;
        }
        {
                const char *ptr =
                    f->opts.records_pointer ? f->opts.records_pointer : "";
                const pb_json_t *a = pb_pointer_get(f->root, ptr);
                if (!a || a->type != PB_JSON_ARRAY) {
                        snprintf(errstr, errstr_size,
                                 "no array at JSON Pointer '%s' (%s)", ptr,
                                 a ? pb_json_type_name(a->type) : "absent");
                        pb_feed_destroy(f);
                        return NULL;
                }
                f->cur = a->child;
        }
        return f;
}

const pb_json_t *pb_feed_root(const pb_feed_t *f) {
        return f ? f->root : NULL;
}

/* A record whose value v is an object (PB_FEED_RECORD), or the complaint
 * "<pos_name> N: <what> <type>, not an object" (PB_FEED_BAD). */
static int take_object(pb_record_t *rec, const pb_json_t *v, const char *what,
                       char *errstr, size_t errstr_size) {
        if (v->type != PB_JSON_OBJECT) {
                snprintf(errstr, errstr_size, "%s %ld: %s %s, not an object",
                         rec->pos_name, rec->position, what,
                         pb_json_type_name(v->type));
                return PB_FEED_BAD;
        }
        rec->json = v;
        return PB_FEED_RECORD;
}

static int next_json(pb_feed_t *f, pb_record_t *rec, char *errstr,
                     size_t errstr_size) {
        const pb_json_t *v = f->cur;
        if (!v)
                return PB_FEED_END;
        f->cur = v->next;
        rec->position = f->index++;
        rec->pos_name = "index";
        pb_buf_reset(&f->raw);
        if (pb_json_write(v, &f->raw) == PB_OK) {
                rec->raw = (const char *)f->raw.data;
                rec->raw_len = f->raw.len;
        } else {
                rec->raw = "";
                rec->raw_len = 0;
        }
        return take_object(rec, v, "element is a", errstr, errstr_size);
}

static int next_ndjson(pb_feed_t *f, pb_record_t *rec, char *errstr,
                       size_t errstr_size) {
        const char *s, *nl;
        size_t n;
        char why[256];
        const pb_json_t *v;
        for (;;) {
                if (f->pos >= f->len)
                        return PB_FEED_END;
                s = f->body + f->pos;
                nl = memchr(s, '\n', f->len - f->pos);
                n = nl ? (size_t)(nl - s) : f->len - f->pos;
                f->pos += n + (nl ? 1 : 0);
                rec->position = f->line++;
                rec->pos_name = "line";
                rec->raw = s;
                rec->raw_len = n;
                while (rec->raw_len && (s[rec->raw_len - 1] == '\r' ||
                                        s[rec->raw_len - 1] == ' ' ||
                                        s[rec->raw_len - 1] == '\t'))
                        rec->raw_len--;
                if (rec->raw_len)
                        break;
        }
        if (n > f->opts.max_record) {
                snprintf(errstr, errstr_size, "line %ld: longer than %zu bytes",
                         rec->position, f->opts.max_record);
                rec->raw_len = n < 256 ? n : 256; /* a prefix */
                return PB_FEED_BAD;
        }
        v = pb_json_parse(f->jp, s, n, why, sizeof(why));
        if (!v) {
                snprintf(errstr, errstr_size, "line %ld: %s", rec->position,
                         why);
                /* the last line without its newline that does not parse:
                 * the body was cut off */
                return nl ? PB_FEED_BAD : PB_FEED_FATAL;
        }
        return take_object(rec, v, "a", errstr, errstr_size);
}

static int next_csv(pb_feed_t *f, pb_record_t *rec, char *errstr,
                    size_t errstr_size) {
        pb_csv_row_t row;
        int r = pb_csv_next(f->csv, &row, errstr, errstr_size);
        rec->pos_name = "line";
        rec->position = row.line;
        rec->raw = row.raw;
        rec->raw_len = row.raw_len;
        if (r == PB_CSV_END)
                return PB_FEED_END;
        if (r == PB_CSV_FATAL)
                return PB_FEED_FATAL;
        if (r == PB_CSV_BAD)
                return PB_FEED_BAD;
        if (row.n != f->nheader) {
                snprintf(errstr, errstr_size,
                         "line %ld: %zu columns, the header row has %zu",
                         row.line, row.n, f->nheader);
                return PB_FEED_BAD;
        }
        rec->header = (const char *const *)f->header;
        rec->hlens = f->hlens;
        rec->nheader = f->nheader;
        rec->cols = row.fields;
        rec->lens = row.lens;
        rec->ncols = row.n;
        return PB_FEED_RECORD;
}

int pb_feed_next(pb_feed_t *f, pb_record_t *rec, char *errstr,
                 size_t errstr_size) {
        memset(rec, 0, sizeof(*rec));
        switch (f->format) {
        case PB_FEED_JSON:
                return next_json(f, rec, errstr, errstr_size);
        case PB_FEED_NDJSON:
                return next_ndjson(f, rec, errstr, errstr_size);
        case PB_FEED_CSV:
                return next_csv(f, rec, errstr, errstr_size);
        default:
                snprintf(errstr, errstr_size, "unknown feed format");
                return PB_FEED_FATAL;
        }
}
