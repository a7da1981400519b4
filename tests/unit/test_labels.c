/* Unit tests for pb_labels.c: the labels beside the schemas. Every enum
 * symbol and every field of the schemas in the .avsc files of schemas/ has a
 * label in German, Ukrainian and English (read from the files themselves, not
 * through the English fallback), every message exists in all three, and
 * numbers, money and dates follow each language's conventions. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_labels.h"
#include "pb_test.h"

#define NBSP "\xc2\xa0"

static const char *schemas_dir(void) {
        const char *d = getenv("PARTNERBUS_SCHEMAS");
        if (!d)
                fail_msg("PARTNERBUS_SCHEMAS not set");
        return d;
}

static pb_labels_t *load(const char *lang) {
        char dir[4096], err[256];
        pb_labels_t *l;
        snprintf(dir, sizeof(dir), "%s/labels", schemas_dir());
        l = pb_labels_load(dir, lang, err, sizeof(err));
        if (!l)
                fail_msg("%s: %s", lang, err);
        return l;
}

static void money_is(const pb_labels_t *l, const char *dec, const char *cur,
                     const char *want) {
        char b[128];
        assert_true(pb_labels_money(l, dec, cur, b, sizeof(b)) > 0);
        assert_string_equal(b, want);
}

/* The label of symbol sym of the enum de.nrw.partnerbus.<type> is want. */
static void enum_is(const pb_labels_t *l, const char *type, const char *sym,
                    const char *want) {
        char full[128];
        snprintf(full, sizeof(full), "de.nrw.partnerbus.%s", type);
        assert_string_equal(pb_labels_enum(l, full, sym), want);
}

static void test_formats(void **st) {
        pb_labels_t *de = load("de"), *uk = load("uk"), *en = load("en");
        char b[128];
        (void)st;
        assert_string_equal(pb_labels_lang(uk), "uk");
        money_is(de, "143000.00", "EUR", "143.000,00" NBSP "€");
        money_is(uk, "143000.00", "EUR", "143" NBSP "000,00" NBSP "€");
        money_is(en, "143000.00", "EUR", "€143,000.00");
        money_is(de, "895600.00", "EUR", "895.600,00" NBSP "€");
        money_is(de, "-1234567.5", "EUR", "-1.234.567,5" NBSP "€");
        money_is(en, "-0.01", "EUR", "-€0.01");
        money_is(en, "999.99", "EUR", "€999.99");
        money_is(en, "1000", "CHF", "CHF" NBSP "1,000");
        money_is(de, "1000.00", "UAH", "1.000,00" NBSP "₴");
        money_is(de, "5.00", "XYZ", "5,00" NBSP "XYZ");
        assert_true(pb_labels_number(de, "1000000", b, sizeof(b)) > 0);
        assert_string_equal(b, "1.000.000");
        assert_true(pb_labels_number(en, "1234.5", b, sizeof(b)) > 0);
        assert_string_equal(b, "1,234.5");
        assert_true(pb_labels_number(uk, "100", b, sizeof(b)) > 0);
        assert_string_equal(b, "100");
        /* malformed and too small */
        assert_int_equal(pb_labels_number(de, "1.2.3", b, sizeof(b)), -1);
        assert_int_equal(pb_labels_number(de, "", b, sizeof(b)), -1);
        assert_int_equal(pb_labels_number(de, "12a", b, sizeof(b)), -1);
        assert_int_equal(pb_labels_number(de, "1.", b, sizeof(b)), -1);
        assert_int_equal(pb_labels_money(de, "143000.00", "EUR", b, 5), -1);
        /* dates and months */
        assert_true(pb_labels_date(de, "2023-02-28", b, sizeof(b)) > 0);
        assert_string_equal(b, "28.02.2023");
        assert_true(pb_labels_date(uk, "2023-02-28", b, sizeof(b)) > 0);
        assert_string_equal(b, "28.02.2023");
        assert_true(pb_labels_date(en, "2023-02-28", b, sizeof(b)) > 0);
        assert_string_equal(b, "28" NBSP "Feb" NBSP "2023");
        assert_true(pb_labels_date(en, "2022-12-05", b, sizeof(b)) > 0);
        assert_string_equal(b, "5" NBSP "Dec" NBSP "2022");
        assert_true(pb_labels_month(de, "2023-03", b, sizeof(b)) > 0);
        assert_string_equal(b, "März" NBSP "2023");
        assert_true(pb_labels_month(en, "2023-09", b, sizeof(b)) > 0);
        assert_string_equal(b, "Sep" NBSP "2023");
        assert_int_equal(pb_labels_date(de, "2023-13-01", b, sizeof(b)), -1);
        assert_int_equal(pb_labels_date(de, "2023-02", b, sizeof(b)), -1);
        assert_int_equal(pb_labels_month(de, "unknown", b, sizeof(b)), -1);
        pb_labels_destroy(de);
        pb_labels_destroy(uk);
        pb_labels_destroy(en);
}

static void test_lookup_and_fallback(void **st) {
        pb_labels_t *de = load("de"), *uk = load("uk"), *l;
        char dir[] = "/tmp/pb_labels_XXXXXX", path[4200], err[256];
        const char *args[] = {"3", "5"};
        pb_buf_t b;
        FILE *f;
        (void)st;
        enum_is(de, "ItemCategory", "MEDICAL_SUPPLIES", "Medizinprodukte");
        enum_is(uk, "PartnershipKind", "REGIONAL", "Регіональне партнерство");
        /* unknown symbol: the raw symbol */
        enum_is(de, "ItemCategory", "ROBOTS", "ROBOTS");
        assert_string_equal(
            pb_labels_field(de, "de.nrw.partnerbus.FundsGranted", "amount"),
            "Betrag");
        assert_non_null(
            pb_labels_help(de, "de.nrw.partnerbus.FundsGranted", "amount"));
        assert_string_equal(
            pb_labels_field(de, "de.nrw.partnerbus.FundsGranted", "nope"),
            "nope");
        assert_null(
            pb_labels_help(de, "de.nrw.partnerbus.FundsGranted", "nope"));
        assert_string_equal(
            pb_labels_record(de, "de.nrw.partnerbus.PartnershipFounded"),
            "Partnerschaft gegründet");
        assert_string_equal(pb_labels_record(de, "x.y.Unknown"), "Unknown");
        assert_string_equal(pb_labels_msg(de, "report.sec_funds"),
                            "Finanzielle Mittel");
        assert_string_equal(pb_labels_msg(de, "no.such.key"), "no.such.key");
        pb_buf_init(&b, 0);
        assert_int_equal(pb_labels_msgf(de, &b, "report.kf_of", args, 2),
                         PB_OK);
        assert_int_equal(pb_buf_putc(&b, 0), PB_OK);
        assert_string_equal((char *)b.data, "3 von 5");
        pb_buf_free(&b);
        /* a language file that lacks a text falls back to English */
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/xx.json", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("{\"lang\":\"xx\",\"format\":{\"decimal\":\",\"},\"enums\":{"
              "\"de.nrw.partnerbus.Recurrence\":{\"ONCE\":\"einmal-xx\"}}}",
              f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/labels/en.json", schemas_dir());
        {
                size_t n;
                char *t = pb_test_slurp(path, &n), p2[4200];
                snprintf(p2, sizeof(p2), "%s/en.json", dir);
                f = fopen(p2, "w");
                assert_non_null(f);
                fwrite(t, 1, n, f);
                fclose(f);
                free(t);
        }
        l = pb_labels_load(dir, "xx", err, sizeof(err));
        assert_non_null(l);
        enum_is(l, "Recurrence", "ONCE", "einmal-xx");
        enum_is(l, "Recurrence", "MONTHLY", "monthly");
        assert_string_equal(pb_labels_msg(l, "report.sec_funds"), "Funds");
        pb_labels_destroy(l);
        /* missing files and bad names are errors, not crashes */
        assert_null(pb_labels_load(dir, "zz", err, sizeof(err)));
        assert_null(pb_labels_load(dir, "../x", err, sizeof(err)));
        snprintf(path, sizeof(path), "%s/xx.json", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/en.json", dir);
        unlink(path);
        rmdir(dir);
        pb_labels_destroy(de);
        pb_labels_destroy(uk);
}

/* --- completeness against the schemas --- */
typedef struct langs {
        pb_json_parser_t *p[3];
        const pb_json_t *root[3];
        char *text[3];
        int checked;
} langs_t;

static const char *lang_names[3] = {"de", "uk", "en"};

/* v.a.b... for the member names up to the NULL */
static const pb_json_t *get_path(const pb_json_t *v, ...) {
        const char *name;
        va_list ap;
        va_start(ap, v);
        while (v && (name = va_arg(ap, const char *)))
                v = pb_json_get(v, name);
        va_end(ap);
        return v;
}

static void need_text(const pb_json_t *v, const char *lang, const char *what) {
        if (!v || v->type != PB_JSON_STRING || !v->len)
                fail_msg("%s.json: no text for %s", lang, what);
}

static void walk(langs_t *L, const pb_json_t *t, const char *ns);

static void walk_named(langs_t *L, const pb_json_t *t, const char *ns) {
        const pb_json_t *ty = pb_json_get(t, "type"),
                        *name = pb_json_get(t, "name"),
                        *nsv = pb_json_get(t, "namespace"), *f;
        char full[512], what[700];
        int i;
        if (nsv && nsv->type == PB_JSON_STRING)
                ns = nsv->str;
        if (!ty)
                return;
        if (ty->type != PB_JSON_STRING) {
                walk(L, ty, ns);
                return;
        }
        if (!strcmp(ty->str, "array")) {
                walk(L, pb_json_get(t, "items"), ns);
                return;
        }
        if (!name || name->type != PB_JSON_STRING)
                return;
        if (strchr(name->str, '.'))
                snprintf(full, sizeof(full), "%s", name->str);
        else
                snprintf(full, sizeof(full), "%s.%s", ns, name->str);
        if (!strcmp(ty->str, "enum")) {
                const pb_json_t *sym;
                for (sym = pb_json_get(t, "symbols")->child; sym;
                     sym = sym->next)
                        for (i = 0; i < 3; i++) {
                                snprintf(what, sizeof(what), "enum %s.%s", full,
                                         sym->str);
                                need_text(get_path(L->root[i], "enums", full,
                                                   sym->str, NULL),
                                          lang_names[i], what);
                                L->checked++;
                        }
        } else if (!strcmp(ty->str, "record")) {
                for (i = 0; i < 3; i++) {
                        snprintf(what, sizeof(what), "record %s", full);
                        need_text(get_path(L->root[i], "records", full, "label",
                                           NULL),
                                  lang_names[i], what);
                }
                for (f = pb_json_get(t, "fields")->child; f; f = f->next) {
                        const pb_json_t *fn = pb_json_get(f, "name");
                        for (i = 0; i < 3; i++) {
                                const pb_json_t *fo =
                                    get_path(L->root[i], "records", full,
                                             "fields", fn->str, NULL);
                                snprintf(what, sizeof(what), "field %s.%s",
                                         full, fn->str);
                                need_text(pb_json_get(fo, "label"),
                                          lang_names[i], what);
                                need_text(pb_json_get(fo, "help"),
                                          lang_names[i], what);
                        }
                        walk(L, pb_json_get(f, "type"), ns);
                }
        }
}

static void walk(langs_t *L, const pb_json_t *t, const char *ns) {
        const pb_json_t *c;
        if (!t)
                return;
        if (t->type == PB_JSON_ARRAY)
                for (c = t->child; c; c = c->next)
                        walk(L, c, ns);
        else if (t->type == PB_JSON_OBJECT)
                walk_named(L, t, ns);
}

static void test_complete(void **st) {
        langs_t L;
        char path[4200], err[256];
        DIR *d;
        struct dirent *e;
        int i, nschemas = 0;
        const pb_json_t *m;
        (void)st;
        memset(&L, 0, sizeof(L));
        for (i = 0; i < 3; i++) {
                size_t n;
                snprintf(path, sizeof(path), "%s/labels/%s.json", schemas_dir(),
                         lang_names[i]);
                L.text[i] = pb_test_slurp(path, &n);
                L.p[i] = pb_json_parser_new(NULL);
                L.root[i] =
                    pb_json_parse(L.p[i], L.text[i], n, err, sizeof(err));
                if (!L.root[i])
                        fail_msg("%s: %s", path, err);
        }
        d = opendir(schemas_dir());
        assert_non_null(d);
        while ((e = readdir(d))) {
                size_t n = strlen(e->d_name), tl;
                char *t;
                pb_json_parser_t *p;
                const pb_json_t *root;
                if (n < 6 || strcmp(e->d_name + n - 5, ".avsc"))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", schemas_dir(), e->d_name);
                t = pb_test_slurp(path, &tl);
                p = pb_json_parser_new(NULL);
                root = pb_json_parse(p, t, tl, err, sizeof(err));
                if (!root)
                        fail_msg("%s: %s", path, err);
                walk(&L, root, "");
                nschemas++;
                pb_json_parser_destroy(p);
                free(t);
        }
        closedir(d);
        assert_true(nschemas >= 4);
        /* ItemCategory alone has 11 symbols in 3 languages */
        assert_true(L.checked >= 3 * 11);
        /* every message of the English file exists in the other two */
        m = pb_json_get(L.root[2], "messages");
        assert_non_null(m);
        assert_true(m->count > 50);
        for (m = m->child; m; m = m->next)
                for (i = 0; i < 2; i++) {
                        char what[300];
                        snprintf(what, sizeof(what), "message %s", m->key);
                        need_text(get_path(L.root[i], "messages", m->key, NULL),
                                  lang_names[i], what);
                }
        for (i = 0; i < 3; i++) {
                pb_json_parser_destroy(L.p[i]);
                free(L.text[i]);
        }
}

PB_TEST_MAIN(cmocka_unit_test(test_formats),
             cmocka_unit_test(test_lookup_and_fallback),
             cmocka_unit_test(test_complete))
