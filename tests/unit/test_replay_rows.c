/* Unit tests: the CSV rows of replay read back from the spool
 * (pb_replay_csv_finish). A row whose cells come in column order is
 * written in one pass; any other row (members in another order than the
 * first event's) by position. Both must give the line an independent
 * reference builds cell by cell with pb_replay_csv_cell_dialect: many
 * random events (fixed seed), cells that need quoting, formula guards and
 * decimal commas, missing and null members, in both dialects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first */
#include <cmocka.h>

#include "pb_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_common.h"
#include "partnerbus/pb_json.h"
#include "pb_replay.h"

#define NFIELDS 7
#define NEVENTS 3000
#define SEED    20261207u

static uint32_t rnd_state;
static uint32_t rnd(void) {
        rnd_state = rnd_state * 1664525u + 1013904223u;
        return rnd_state >> 8;
}

/* a random cell: text (raw and as JSON) or a JSON number */
typedef struct cell {
        char raw[96];
        char json[200];
        int number; /* 1: a JSON number, 0: a string, -1: null, -2: absent */
} cell_t;

static void random_cell(cell_t *c, int must) {
        static const char *const parts[] = {
            "a", "Köln", "Дніпро", ",", ";",   "\"",  "\n", "\r", "=",
            "+", "-",    "@",      ".", "1.5", "x y", "\t", "0",  "ab,cd"};
        size_t rl = 0, jl = 0, n, i;
        uint32_t k = rnd() % 10;
        memset(c, 0, sizeof(*c));
        if (!must && k == 0) {
                c->number = -2;
                return;
        }
        if (!must && k == 1) {
                c->number = -1;
                strcpy(c->json, "null");
                return;
        }
        if (k < 4) {
                snprintf(c->raw, sizeof(c->raw), "%s%u.%02u",
                         rnd() % 2 ? "-" : "", rnd() % 100000, rnd() % 100);
                strcpy(c->json, c->raw);
                c->number = 1;
                return;
        }
        c->json[jl++] = '"';
        n = rnd() % 8; /* 0..7 parts; empty strings too */
        for (i = 0; i < n; i++) {
                const char *p =
                    parts[rnd() % (sizeof(parts) / sizeof(parts[0]))];
                size_t l = strlen(p);
                memcpy(c->raw + rl, p, l);
                rl += l;
                for (; *p; p++) {
                        if (*p == '"' || *p == '\n' || *p == '\r' ||
                            *p == '\t') {
                                c->json[jl++] = '\\';
                                c->json[jl++] = *p == '"'    ? '"'
                                                : *p == '\n' ? 'n'
                                                : *p == '\r' ? 'r'
                                                             : 't';
                        } else
                                c->json[jl++] = *p;
                }
        }
        c->json[jl++] = '"';
}

static void check_dialect(pb_csv_dialect_t d) {
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        pb_replay_csv_t *w = pb_replay_csv_new();
        pb_buf_t want, ev;
        char err[256], *got = NULL;
        size_t gotlen = 0, i, j;
        FILE *mem = open_memstream(&got, &gotlen);
        const char sep = d == PB_CSV_EXCEL_DE ? ';' : ',';
        assert_non_null(p);
        assert_non_null(w);
        assert_non_null(mem);
        assert_int_equal(pb_replay_csv_set_dialect(w, d, NULL), PB_OK);
        pb_buf_init(&want, 0);
        pb_buf_init(&ev, 0);
        if (d == PB_CSV_EXCEL_DE)
                assert_int_equal(pb_buf_append(&want, "\xEF\xBB\xBF", 3),
                                 PB_OK);
        for (j = 0; j < NFIELDS; j++) {
                char h[8];
                snprintf(h, sizeof(h), "%.*sf%zu", j ? 1 : 0, &sep, j);
                assert_int_equal(pb_buf_append(&want, h, strlen(h)), PB_OK);
        }
        assert_int_equal(pb_buf_append(&want, "\r\n", 2), PB_OK);
        for (i = 0; i < NEVENTS; i++) {
                cell_t cells[NFIELDS];
                size_t order[NFIELDS], first = 1;
                const pb_json_t *v;
                for (j = 0; j < NFIELDS; j++) {
                        /* the first event has every column, in order */
                        random_cell(&cells[j], i == 0);
                        order[j] = j;
                }
                /* every third event: its members in a random order */
                if (i && i % 3 == 0)
                        for (j = NFIELDS - 1; j > 0; j--) {
                                size_t k = rnd() % (j + 1), t = order[j];
                                order[j] = order[k];
                                order[k] = t;
                        }
                pb_buf_reset(&ev);
                assert_int_equal(pb_buf_putc(&ev, '{'), PB_OK);
                for (j = 0; j < NFIELDS; j++) {
                        const cell_t *c = &cells[order[j]];
                        char k[16];
                        if (c->number == -2)
                                continue;
                        snprintf(k, sizeof(k), "%s\"f%zu\":", first ? "" : ",",
                                 order[j]);
                        first = 0;
                        assert_int_equal(pb_buf_append(&ev, k, strlen(k)),
                                         PB_OK);
                        assert_int_equal(
                            pb_buf_append(&ev, c->json, strlen(c->json)),
                            PB_OK);
                }
                assert_int_equal(pb_buf_putc(&ev, '}'), PB_OK);
                v = pb_json_parse(p, (const char *)ev.data, ev.len, err,
                                  sizeof(err));
                if (!v)
                        fail_msg("event %zu: %s: %s", i, err,
                                 (const char *)ev.data);
                assert_int_equal(pb_replay_csv_add(w, v), PB_OK);
                /* the reference line */
                for (j = 0; j < NFIELDS; j++) {
                        const cell_t *c = &cells[j];
                        if (j)
                                assert_int_equal(pb_buf_putc(&want, sep),
                                                 PB_OK);
                        if (c->number < 0)
                                continue;
                        assert_int_equal(
                            pb_replay_csv_cell_dialect(
                                &want, d, c->raw, strlen(c->raw), c->number),
                            PB_OK);
                }
                assert_int_equal(pb_buf_append(&want, "\r\n", 2), PB_OK);
        }
        assert_int_equal(pb_replay_csv_finish(w, mem), PB_OK);
        fclose(mem);
        assert_int_equal(gotlen, want.len);
        if (memcmp(got, want.data, want.len)) {
                for (i = 0; i < want.len && got[i] == (char)want.data[i]; i++)
                        ;
                fail_msg("dialect %d: first difference at byte %zu:\n"
                         "got  %.200s\nwant %.200s",
                         (int)d, i, got + (i > 80 ? i - 80 : 0),
                         (const char *)want.data + (i > 80 ? i - 80 : 0));
        }
        free(got);
        pb_buf_free(&want);
        pb_buf_free(&ev);
        pb_replay_csv_destroy(w);
        pb_json_parser_destroy(p);
}

static void test_rows_rfc4180(void **st) {
        (void)st;
        rnd_state = SEED;
        print_message("seed %u\n", SEED);
        check_dialect(PB_CSV_RFC4180);
}

static void test_rows_excel_de(void **st) {
        (void)st;
        rnd_state = SEED + 1;
        print_message("seed %u\n", SEED + 1);
        check_dialect(PB_CSV_EXCEL_DE);
}

/* cells of one row out of column order: by position */
static void test_row_out_of_order(void **st) {
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        pb_replay_csv_t *w = pb_replay_csv_new();
        const char *ev[] = {"{\"a\":\"1\",\"b\":\"x,y\",\"c\":3}",
                            "{\"c\":4.5,\"a\":\"=2\"}", "{\"b\":\"z\"}", "{}"};
        char err[256], *got = NULL;
        size_t gotlen = 0, i;
        FILE *mem = open_memstream(&got, &gotlen);
        (void)st;
        assert_int_equal(pb_replay_csv_set_dialect(w, PB_CSV_EXCEL_DE, NULL),
                         PB_OK);
        for (i = 0; i < 4; i++) {
                const pb_json_t *v =
                    pb_json_parse(p, ev[i], strlen(ev[i]), err, sizeof(err));
                assert_non_null(v);
                assert_int_equal(pb_replay_csv_add(w, v), PB_OK);
        }
        assert_int_equal(pb_replay_csv_finish(w, mem), PB_OK);
        fclose(mem);
        assert_string_equal(got, "\xEF\xBB\xBF"
                                 "a;b;c\r\n"
                                 "1;x,y;3\r\n"
                                 "'=2;;4,5\r\n"
                                 ";z;\r\n"
                                 ";;\r\n");
        free(got);
        pb_replay_csv_destroy(w);
        pb_json_parser_destroy(p);
}

PB_TEST_MAIN(cmocka_unit_test(test_rows_rfc4180),
             cmocka_unit_test(test_rows_excel_de),
             cmocka_unit_test(test_row_out_of_order))
