/* Unit tests for the schema module: parsing, names and references, logical
 * types, defaults pre-encoded as Avro, errors for bad schemas, the project's
 * schemas (also through avro-c), Parsing Canonical Form and CRC-64-AVRO
 * against the Avro specification's vectors, resolution and the
 * compatibility matrix of tests/unit/data/evolution/. */
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

#include "pb_test.h"

#include <avro.h>

#include "partnerbus/pb_schema.h"
#include "pb_schema_int.h"

static const char *src_dir(void) {
        const char *d = getenv("PB_SOURCE_DIR");
        /* set by ctest; without it the data cannot be found: fail */
        assert_non_null(d);
        return d;
}

static pb_schema_t *parse(const char *json) {
        char err[512] = "";
        pb_schema_t *s = pb_schema_new(json, strlen(json), err, sizeof(err));
        if (!s)
                fail_msg("schema rejected: %s\n%s", err, json);
        return s;
}

/* Asserts that json is rejected with an error containing `want`. */
static void rejects(const char *json, const char *want) {
        char err[512] = "";
        pb_schema_t *s = pb_schema_new(json, strlen(json), err, sizeof(err));
        if (s) {
                pb_schema_destroy(s);
                fail_msg("accepted but must be rejected (%s):\n%s", want, json);
        }
        if (!strstr(err, want))
                fail_msg("error \"%s\" lacks \"%s\" for\n%s", err, want, json);
}

/* --- CRC-64-AVRO and canonical form vectors --- */

static void test_crc64(void **state) {
        (void)state;
        /* the fingerprint of nothing is EMPTY itself */
        assert_true(pb_crc64_avro("", 0) == 0xc15d213aa4d7a795ULL);
        /* "int": 8247732601305521295 in the spec's vectors */
        assert_true(pb_crc64_avro("\"int\"", 5) == 0x7275d51a3f395c8fULL);
        assert_true(pb_crc64_avro("\"null\"", 6) ==
                    (uint64_t)7195948357588979594LL);
}

static void test_spec_vectors(void **state) {
        char path[1024], line[4096];
        FILE *fp;
        int n = 0, strict_ok = 0;
        uint64_t prev_fp = 0;
        (void)state;
        snprintf(path, sizeof(path), "%s/tests/unit/data/avro_schema_tests.tsv",
                 src_dir());
        fp = fopen(path, "r");
        assert_non_null(fp);
        while (fgets(line, sizeof(line), fp)) {
                char *id, *in, *canon, *fps, *save = NULL, err[256] = "";
                char *got;
                uint64_t want_fp;
                pb_schema_t *s;
                if (line[0] == '#' || line[0] == '\n')
                        continue;
                line[strcspn(line, "\n")] = 0;
                id = strtok_r(line, "\t", &save);
                in = strtok_r(NULL, "\t", &save);
                canon = strtok_r(NULL, "\t", &save);
                fps = strtok_r(NULL, "\t", &save);
                assert_non_null(fps);
                got =
                    pb_schema_canonical_form(in, strlen(in), err, sizeof(err));
                if (!got)
                        fail_msg("vector %s: %s", id, err);
                if (strcmp(got, canon))
                        fail_msg("vector %s: canonical %s, want %s", id, got,
                                 canon);
                want_fp = strcmp(fps, "-") ? (uint64_t)strtoll(fps, NULL, 10)
                                           : prev_fp;
                if (pb_crc64_avro(got, strlen(got)) != want_fp)
                        fail_msg(
                            "vector %s: fingerprint %016llx, want "
                            "%016llx",
                            id,
                            (unsigned long long)pb_crc64_avro(got, strlen(got)),
                            (unsigned long long)want_fp);
                prev_fp = want_fp;
                free(got);
                /* the compiled schema agrees, except for the two vectors
                 * the strict parser must refuse (see the data file) */
                s = pb_schema_new(in, strlen(in), err, sizeof(err));
                if (!strcmp(id, "016") || !strcmp(id, "026")) {
                        assert_null(s);
                } else {
                        if (!s)
                                fail_msg("vector %s: %s", id, err);
                        assert_string_equal(pb_schema_canonical(s), canon);
                        assert_true(pb_schema_fingerprint(s) == want_fp);
                        pb_schema_destroy(s);
                        strict_ok++;
                }
                n++;
        }
        fclose(fp);
        assert_int_equal(n, 34);
        assert_int_equal(strict_ok, 32);
}

static void test_canonical_transforms(void **state) {
        char err[256];
        char *c;
        /* [STRINGS] escapes resolved, [INTEGERS] size as plain number,
         * [FULLNAMES] inherited namespaces, refs as full names, logical
         * types and custom attributes stripped */
        const char *in =
            "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\","
            "\"x-custom\":1,\"fields\":[{\"name\":\"\\u0066\",\"type\":"
            "{\"type\":\"fixed\",\"name\":\"F\",\"size\":16,"
            "\"logicalType\":\"decimal\",\"precision\":4}},"
            "{\"name\":\"g\",\"type\":\"F\"},"
            "{\"name\":\"h\",\"type\":{\"type\":\"enum\",\"name\":\"c.E\","
            "\"symbols\":[\"X\"]}},"
            "{\"name\":\"i\",\"type\":{\"type\":\"array\",\"items\":"
            "{\"type\":\"record\",\"name\":\"N\",\"fields\":[]}}},"
            "{\"name\":\"j\",\"type\":{\"type\":\"long\",\"logicalType\":"
            "\"timestamp-millis\"}}]}";
        (void)state;
        c = pb_schema_canonical_form(in, strlen(in), err, sizeof(err));
        assert_non_null(c);
        assert_string_equal(
            c, "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":["
               "{\"name\":\"f\",\"type\":{\"name\":\"a.b.F\",\"type\":"
               "\"fixed\",\"size\":16}},"
               "{\"name\":\"g\",\"type\":\"a.b.F\"},"
               "{\"name\":\"h\",\"type\":{\"name\":\"c.E\",\"type\":\"enum\","
               "\"symbols\":[\"X\"]}},"
               "{\"name\":\"i\",\"type\":{\"type\":\"array\",\"items\":"
               "{\"name\":\"a.b.N\",\"type\":\"record\",\"fields\":[]}}},"
               "{\"name\":\"j\",\"type\":\"long\"}]}");
        free(c);
        /* invalid input gives NULL and a reason */
        err[0] = 0;
        assert_null(pb_schema_canonical_form("{", 1, err, sizeof(err)));
        assert_true(err[0] != 0);
}

/* --- names, namespaces, references --- */

static void test_names(void **state) {
        pb_schema_t *s;
        const pb_type_t *r, *inner;
        (void)state;
        s = parse("{\"type\":\"record\",\"name\":\"Outer\",\"namespace\":"
                  "\"x.y\",\"fields\":["
                  "{\"name\":\"a\",\"type\":{\"type\":\"record\",\"name\":"
                  "\"Inner\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"}]}},"
                  "{\"name\":\"b\",\"type\":\"Inner\"},"
                  "{\"name\":\"c\",\"type\":\"x.y.Inner\"},"
                  "{\"name\":\"d\",\"type\":{\"type\":\"enum\",\"name\":"
                  "\"p.q.E\",\"symbols\":[\"A\"]}},"
                  "{\"name\":\"e\",\"type\":{\"type\":\"record\",\"name\":"
                  "\"G\",\"namespace\":\"\",\"fields\":[{\"name\":\"w\","
                  "\"type\":{\"type\":\"fixed\",\"name\":\"H\",\"size\":2}}"
                  "]}},"
                  "{\"name\":\"f\",\"type\":\"H\"}]}");
        r = s->root;
        assert_string_equal(pb_schema_fullname(s), "x.y.Outer");
        assert_string_equal(pb_schema_type(s), "x.y.Outer");
        assert_null(pb_schema_key_field(s));
        assert_int_equal(r->nfields, 6);
        inner = r->fields[0].type;
        assert_string_equal(inner->fullname, "x.y.Inner");
        assert_string_equal(inner->name, "Inner");
        /* references share the node */
        assert_ptr_equal(r->fields[1].type, inner);
        assert_ptr_equal(r->fields[2].type, inner);
        assert_string_equal(r->fields[3].type->fullname, "p.q.E");
        /* explicit empty namespace: the null namespace, inherited by H */
        assert_string_equal(r->fields[4].type->fullname, "G");
        assert_string_equal(r->fields[4].type->fields[0].type->fullname, "H");
        /* "H" from namespace x.y falls back to the null namespace */
        assert_ptr_equal(r->fields[5].type, r->fields[4].type->fields[0].type);
        assert_int_equal(pb_type_field_index(r, "d", 1), 3);
        assert_int_equal(pb_type_field_index(r, "zz", 2), -1);
        assert_int_equal(s->idx_event_id, -1);
        pb_schema_destroy(s);

        /* aliases become full names in the type's namespace */
        s = parse("{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\","
                  "\"aliases\":[\"Old\",\"o.Older\"],\"fields\":[{\"name\":"
                  "\"a\",\"aliases\":[\"b\"],\"type\":\"int\"}]}");
        assert_int_equal(s->root->naliases, 2);
        assert_string_equal(s->root->aliases[0], "n.Old");
        assert_string_equal(s->root->aliases[1], "o.Older");
        assert_int_equal(s->root->fields[0].naliases, 1);
        assert_string_equal(s->root->fields[0].aliases[0], "b");
        pb_schema_destroy(s);

        /* a recursive record refers to itself */
        s = parse("{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":"
                  "\"next\",\"type\":[\"null\",\"L\"],\"default\":null}]}");
        assert_ptr_equal(s->root->fields[0].type->branches[1], s->root);
        assert_int_equal(s->root->fields[0].type->null_branch, 0);
        pb_schema_destroy(s);
}

/* --- logical types --- */

static const pb_type_t *field_type(const pb_schema_t *s, const char *name) {
        int i = pb_type_field_index(s->root, name, strlen(name));
        assert_true(i >= 0);
        return s->root->fields[i].type;
}

static void test_logical(void **state) {
        pb_schema_t *s;
        const pb_type_t *t;
        (void)state;
        s = parse(
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
            "{\"name\":\"d1\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
            "\"decimal\",\"precision\":14,\"scale\":2}},"
            "{\"name\":\"d2\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
            "\"decimal\",\"precision\":4,\"scale\":5}},"
            "{\"name\":\"d3\",\"type\":{\"type\":\"fixed\",\"name\":\"F\","
            "\"size\":2,\"logicalType\":\"decimal\",\"precision\":4}},"
            "{\"name\":\"d4\",\"type\":{\"type\":\"fixed\",\"name\":\"F2\","
            "\"size\":2,\"logicalType\":\"decimal\",\"precision\":5}},"
            "{\"name\":\"d5\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
            "\"decimal\"}},"
            "{\"name\":\"d6\",\"type\":{\"type\":\"string\",\"logicalType\":"
            "\"decimal\",\"precision\":3}},"
            "{\"name\":\"day\",\"type\":{\"type\":\"int\",\"logicalType\":"
            "\"date\"}},"
            "{\"name\":\"day2\",\"type\":{\"type\":\"long\",\"logicalType\":"
            "\"date\"}},"
            "{\"name\":\"tm\",\"type\":{\"type\":\"int\",\"logicalType\":"
            "\"time-millis\"}},"
            "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":"
            "\"timestamp-millis\"}},"
            "{\"name\":\"tu\",\"type\":{\"type\":\"long\",\"logicalType\":"
            "\"timestamp-micros\"}},"
            "{\"name\":\"id\",\"type\":{\"type\":\"string\",\"logicalType\":"
            "\"uuid\"}},"
            "{\"name\":\"x\",\"type\":{\"type\":\"string\",\"logicalType\":"
            "\"no-such-thing\"}}]}");
        t = field_type(s, "d1");
        assert_int_equal(t->logical, PB_L_DECIMAL);
        assert_int_equal(t->precision, 14);
        assert_int_equal(t->scale, 2);
        /* scale > precision: invalid, ignored */
        assert_int_equal(field_type(s, "d2")->logical, PB_L_NONE);
        /* 2 bytes hold 4 digits (32767) but not 5 */
        t = field_type(s, "d3");
        assert_int_equal(t->logical, PB_L_DECIMAL);
        assert_int_equal(t->scale, 0);
        assert_int_equal(field_type(s, "d4")->logical, PB_L_NONE);
        /* no precision; on a string: ignored */
        assert_int_equal(field_type(s, "d5")->logical, PB_L_NONE);
        assert_int_equal(field_type(s, "d6")->logical, PB_L_NONE);
        assert_int_equal(field_type(s, "day")->logical, PB_L_DATE);
        assert_int_equal(field_type(s, "day2")->logical, PB_L_NONE);
        assert_int_equal(field_type(s, "tm")->logical, PB_L_TIME_MILLIS);
        assert_int_equal(field_type(s, "ts")->logical, PB_L_TIMESTAMP_MILLIS);
        assert_int_equal(field_type(s, "tu")->logical, PB_L_TIMESTAMP_MICROS);
        assert_int_equal(field_type(s, "id")->logical, PB_L_UUID);
        assert_int_equal(field_type(s, "x")->logical, PB_L_NONE);
        assert_int_equal(field_type(s, "x")->kind, PB_T_STRING);
        pb_schema_destroy(s);

        s = parse("{\"type\":\"bytes\",\"logicalType\":\"decimal\","
                  "\"precision\":76,\"scale\":76}");
        assert_int_equal(s->root->logical, PB_L_DECIMAL);
        pb_schema_destroy(s);
        rejects("{\"type\":\"bytes\",\"logicalType\":\"decimal\","
                "\"precision\":77}",
                "precision 77 is above the supported 76");
}

/* --- defaults --- */

/* Compiles a record with one field of `type` and default `def`, checks
 * the pre-encoded bytes. */
static void default_is(const char *type, const char *def, const char *hex) {
        char json[2048], got[1024] = "";
        pb_schema_t *s;
        const pb_field_t *f;
        size_t i;
        snprintf(json, sizeof(json),
                 "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                 "\"f\",\"type\":%s,\"default\":%s}]}",
                 type, def);
        s = parse(json);
        f = &s->root->fields[0];
        assert_true(f->has_default);
        assert_non_null(f->default_avro);
        for (i = 0; i < f->default_avro_len; i++)
                snprintf(got + 2 * i, sizeof(got) - 2 * i, "%02x",
                         f->default_avro[i]);
        if (strcmp(got, hex))
                fail_msg("default %s of %s: got %s, want %s", def, type, got,
                         hex);
        pb_schema_destroy(s);
}

static void default_rejected(const char *type, const char *def,
                             const char *want) {
        char json[2048];
        snprintf(json, sizeof(json),
                 "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                 "\"f\",\"type\":%s,\"default\":%s}]}",
                 type, def);
        rejects(json, want);
}

static void test_defaults(void **state) {
        /* types used more than once below */
        static const char *fixed2 =
            "{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}";
        static const char *ints = "{\"type\":\"array\",\"items\":\"int\"}";
        static const char *long_map = "{\"type\":\"map\",\"values\":\"long\"}";
        static const char *uuid =
            "{\"type\":\"string\",\"logicalType\":\"uuid\"}";
        static const char *rec_ab =
            "{\"type\":\"record\",\"name\":\"P\",\"fields\":["
            "{\"name\":\"a\",\"type\":\"int\"},"
            "{\"name\":\"b\",\"type\":\"string\",\"default\":\"z\"}]}";
        static const char *rec_a =
            "{\"type\":\"record\",\"name\":\"P\",\"fields\":["
            "{\"name\":\"a\",\"type\":\"int\"}]}";
        (void)state;
        /* {type, default, its Avro encoding in hex or NULL, the error
         * message wanted when the default is rejected} */
        const struct {
                const char *type, *def, *hex, *err;
        } cases[] = {
            {"\"null\"", "null", "", NULL},
            {"\"boolean\"", "true", "01", NULL},
            {"\"boolean\"", "false", "00", NULL},
            {"\"int\"", "0", "00", NULL},
            {"\"int\"", "1", "02", NULL},
            {"\"int\"", "-1", "01", NULL},
            {"\"int\"", "-64", "7f", NULL},
            {"\"int\"", "64", "8001", NULL},
            {"\"int\"", "2147483647", "feffffff0f", NULL},
            {"\"int\"", "-2147483648", "ffffffff0f", NULL},
            {"\"long\"", "9007199254740992", "8080808080808020", NULL},
            {"\"float\"", "1.5", "0000c03f", NULL},
            {"\"double\"", "-2", "00000000000000c0", NULL},
            {"\"string\"", "\"UA\"", "045541", NULL},
            {"\"string\"", "\"K\\u00f6ln\"", "0a4bc3b66c6e", NULL},
            {"\"bytes\"", "\"\\u00ff\\u0001A\"", "06ff0141", NULL},
            {fixed2, "\"\\u00ab\\u00cd\"", "abcd", NULL},
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\","
             "\"B\",\"C\"]}",
             "\"C\"", "04", NULL},
            {ints, "[]", "00", NULL},
            {ints, "[1,2]", "04020400", NULL},
            {long_map, "{\"a\":1}", "0202610200", NULL},
            {long_map, "{}", "00", NULL},
            /* union: branch 0, then the value */
            {"[\"null\",\"string\"]", "null", "00", NULL},
            {"[\"string\",\"null\"]", "\"x\"", "000278", NULL},
            {uuid, "\"6f1c2a9e-0d3b-4c5e-8f7a-1b2c3d4e5f60\"",
             "4836663163326139652d306433622d346335652d386637612d31623263"
             "3364346535663630",
             NULL},
            /* record: fields in schema order; a missing field takes its own
             * default */
            {rec_ab, "{\"a\":3}", "06027a", NULL},
            {rec_ab, "{\"b\":\"q\",\"a\":-1}", "010271", NULL},

            {"[\"null\",\"string\"]", "\"x\"", NULL,
             "a union's default must match its first branch "
             "(null)"},
            {"[\"string\",\"null\"]", "null", NULL, "first branch"},
            {"\"int\"", "2147483648", NULL, "out of range for int"},
            {"\"int\"", "1.5", NULL, "must be an integer"},
            {"\"int\"", "\"1\"", NULL, "must be a number"},
            {"\"long\"", "1e300", NULL, "out of range"},
            {"\"float\"", "1e300", NULL, "finite number in range"},
            {"\"boolean\"", "\"true\"", NULL, "true or false"},
            {"\"string\"", "3", NULL, "must be a string"},
            {"\"bytes\"", "\"\\u0100\"", NULL, "above 255"},
            {fixed2, "\"a\"", NULL, "has 1 bytes, not 2"},
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":["
             "\"A\"]}",
             "\"B\"", NULL, "not a symbol"},
            {uuid, "\"nope\"", NULL, "not a UUID"},
            {ints, "[\"a\"]", NULL, "f/0"},
            {rec_a, "{}", NULL, "R/f/a: default lacks this field"},
            {rec_a, "{\"a\":1,\"b\":2}", NULL, "unknown field \"b\""},
            {"{\"type\":\"map\",\"values\":\"int\"}", "{\"a\":1,\"a\":2}", NULL,
             "duplicate map key"},
        };
        size_t i;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                if (cases[i].hex)
                        default_is(cases[i].type, cases[i].def, cases[i].hex);
                else
                        default_rejected(cases[i].type, cases[i].def,
                                         cases[i].err);
        }
        /* a record whose default needs its own default: bounded */
        rejects("{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":"
                "\"a\",\"type\":\"A\",\"default\":{}}]}",
                "nested deeper");
        /* a field without default has none encoded */
        {
                pb_schema_t *s =
                    parse("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{"
                          "\"name\":\"f\",\"type\":\"int\"}]}");
                assert_false(s->root->fields[0].has_default);
                assert_null(s->root->fields[0].default_avro);
                pb_schema_destroy(s);
        }
}

/* --- invalid schemas --- */

static void test_bad_schemas(void **state) {
        char deep[4096];
        size_t i, n = 0;
        (void)state;
        rejects("", "invalid JSON");
        rejects("{\"type\":", "invalid JSON");
        rejects("\"int\" x", "trailing data");
        rejects("\"nope\"", "unknown type \"nope\"");
        rejects("42", "must be a string, object or array");
        rejects("{\"type\":3}", "string \"type\"");
        rejects("{\"type\":\"record\",\"fields\":[]}",
                "needs a string \"name\"");
        rejects("{\"type\":\"record\",\"name\":\"1a\",\"fields\":[]}",
                "invalid name \"1a\"");
        rejects("{\"type\":\"record\",\"name\":\"a..b\",\"fields\":[]}",
                "invalid name");
        rejects("{\"type\":\"record\",\"name\":\"a-b\",\"fields\":[]}",
                "invalid name");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"1x\","
                "\"fields\":[]}",
                "invalid namespace");
        rejects("{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}",
                "primitive type name");
        rejects("{\"type\":\"record\",\"name\":\"R\"}", "\"fields\" array");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                "\"a\",\"type\":\"int\"},{\"name\":\"a\",\"type\":\"int\"}]}",
                "R/a: field defined twice");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                "\"a b\",\"type\":\"int\"}]}",
                "invalid name");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                "\"a\"}]}",
                "R/a: field has no type");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                "\"a\",\"type\":\"int\",\"order\":\"up\"}]}",
                "order must be");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                "\"a\",\"type\":\"int\",\"name\":\"b\"}]}",
                "duplicate key \"name\"");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                "\"a\",\"type\":{\"type\":\"record\",\"name\":\"R\","
                "\"fields\":[]}}]}",
                "type R is defined twice");
        rejects("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}",
                "duplicate symbol A");
        rejects("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"1\"]}",
                "invalid enum symbol 1");
        rejects("{\"type\":\"enum\",\"name\":\"E\"}", "\"symbols\" array");
        rejects("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],"
                "\"default\":\"B\"}",
                "enum default B is not one of its symbols");
        rejects("{\"type\":\"fixed\",\"name\":\"F\"}", "integer \"size\"");
        rejects("{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "size");
        rejects("{\"type\":\"fixed\",\"name\":\"F\",\"size\":1.5}", "size");
        rejects("{\"type\":\"fixed\",\"name\":\"F\",\"size\":99999999999}",
                "size");
        rejects("{\"type\":\"array\"}", "array needs \"items\"");
        rejects("{\"type\":\"map\"}", "map needs \"values\"");
        rejects("[]", "at least one branch");
        rejects("[\"int\",[\"null\"]]", "may not contain a union");
        rejects("[\"int\",\"int\"]", "two int branches");
        rejects("[{\"type\":\"array\",\"items\":\"int\"},{\"type\":\"array\","
                "\"items\":\"long\"}]",
                "two array branches");
        rejects("[{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]},"
                "\"E\"]",
                "two E branches");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"aliases\":\"x\","
                "\"fields\":[]}",
                "aliases must be an array");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
                "\"s\",\"type\":\"string\",\"default\":\"a\\u0000b\"}]}",
                "\\u0000");
        /* partnerbus attributes */
        rejects("{\"type\":\"record\",\"name\":\"R\",\"partnerbus.key\":"
                "\"id\",\"fields\":[{\"name\":\"x\",\"type\":\"string\"}]}",
                "\"id\" is not a top-level field");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"partnerbus.key\":"
                "\"id\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}",
                "field \"id\" is not a string");
        rejects("{\"type\":\"record\",\"name\":\"R\",\"partnerbus.type\":"
                "\"a b\",\"fields\":[]}",
                "partnerbus.type: must be a topic name");
        /* nesting beyond the bound */
        for (i = 0; i < 100; i++)
                n += (size_t)snprintf(deep + n, sizeof(deep) - n,
                                      "{\"type\":\"array\",\"items\":");
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "\"int\"");
        for (i = 0; i < 100; i++)
                deep[n++] = '}';
        deep[n] = 0;
        rejects(deep, "nested deeper than 64");
}

/* Random corruptions of a real schema must give a schema or an error,
 * never a crash, a leak or a sanitizer report. */
static void test_garbage(void **state) {
        char path[1024], err[256];
        size_t len, i;
        char *orig, *buf;
        unsigned seed = 12345;
        int accepted = 0, rejected = 0;
        (void)state;
        snprintf(path, sizeof(path), "%s/schemas/aid.dispatched.avsc",
                 src_dir());
        orig = pb_test_slurp(path, &len);
        buf = malloc(len + 1);
        assert_non_null(buf);
        for (i = 0; i < 3000; i++) {
                int k, muts = 1 + (int)(rand_r(&seed) % 4);
                size_t cut = len;
                pb_schema_t *s;
                memcpy(buf, orig, len);
                for (k = 0; k < muts; k++) {
                        size_t at = (size_t)rand_r(&seed) % len;
                        static const char pool[] = "{}[]\",:0a\\ .-1";
                        buf[at] = pool[rand_r(&seed) % (sizeof(pool) - 1)];
                }
                if (rand_r(&seed) % 5 == 0)
                        cut = (size_t)rand_r(&seed) % len;
                s = pb_schema_new(buf, cut, err, sizeof(err));
                if (s) {
                        accepted++;
                        assert_non_null(pb_schema_canonical(s));
                        pb_schema_destroy(s);
                } else {
                        assert_true(err[0] != 0);
                        rejected++;
                }
        }
        /* both outcomes occur, so the loop exercised both paths */
        assert_true(accepted > 0);
        assert_true(rejected > 0);
        free(buf);
        free(orig);
}

/* Schemas built to make a naive compiler or checker take exponential time
 * or deep recursion: each must finish quickly with a result or an error. */
static void append(char **b, size_t *n, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char **b, size_t *n, size_t *cap, const char *fmt, ...) {
        va_list ap;
        int k;
        for (;;) {
                va_start(ap, fmt);
                k = vsnprintf(*b + *n, *cap - *n, fmt, ap);
                va_end(ap);
                assert_true(k >= 0);
                if ((size_t)k < *cap - *n)
                        break;
                *cap *= 2;
                *b = realloc(*b, *cap);
                assert_non_null(*b);
        }
        *n += (size_t)k;
}

/* Into b from the start: a record R of count fields f0, f1, ... whose
 * types are records T0 (empty), T1, ...; record Tk has a field of type
 * T(k-1) for each letter of refs, with the default {} if defaults. */
static void records(char **b, size_t *n, size_t *cap, char f, char t, int count,
                    const char *refs, int defaults) {
        const char *r;
        int k;
        *n = 0;
        append(b, n, cap,
               "{\"type\":\"record\",\"name\":\"R\","
               "\"fields\":[{\"name\":\"%c0\",\"type\":{\"type\""
               ":\"record\",\"name\":\"%c0\",\"fields\":[]}}",
               f, t);
        for (k = 1; k < count; k++) {
                append(b, n, cap,
                       ",{\"name\":\"%c%d\",\"type\":{\"type\":\"record\","
                       "\"name\":\"%c%d\",\"fields\":[",
                       f, k, t, k);
                for (r = refs; *r; r++)
                        append(b, n, cap,
                               "%s{\"name\":\"%c\",\"type\":\"%c%d\"%s}",
                               r == refs ? "" : ",", *r, t, k - 1,
                               defaults ? ",\"default\":{}" : "");
                append(b, n, cap, "]}}");
        }
        append(b, n, cap, "]}");
}

/* The schema b compiles and can read its own data. */
static void reads_itself(const char *b, size_t n) {
        char err[512];
        pb_schema_t *s = pb_schema_new(b, n, err, sizeof(err));
        assert_non_null(s);
        assert_int_equal(pb_schema_can_read(s, s, err, sizeof(err)), PB_OK);
        pb_schema_destroy(s);
}

static void test_hostile(void **state) {
        size_t cap = 1 << 16, n = 0;
        char *b = malloc(cap), err[512];
        pb_schema_t *s;
        int k;
        (void)state;
        assert_non_null(b);

        /* T_k has two fields of type T_(k-1): 2^40 paths through the tree,
         * 40 distinct record pairs for the resolution check */
        records(&b, &n, &cap, 't', 'T', 41, "ab", 0);
        reads_itself(b, n);

        /* the same with defaults {} everywhere: encoding the defaults
         * would take 2^40 steps, so it is refused */
        records(&b, &n, &cap, 't', 'T', 41, "ab", 1);
        err[0] = 0;
        assert_null(pb_schema_new(b, n, err, sizeof(err)));
        assert_non_null(strstr(err, "too costly"));
        /* without defaults validation the canonical form is still there */
        {
                char *c = pb_schema_canonical_form(b, n, err, sizeof(err));
                assert_non_null(c);
                free(c);
        }

        /* a chain of 3000 records, each referring to the one before */
        records(&b, &n, &cap, 'c', 'C', 3000, "p", 0);
        reads_itself(b, n);

        /* 50,000 custom attributes and a 20,000-symbol enum: duplicate
         * checks are not quadratic */
        n = 0;
        append(&b, &n, &cap, "{\"type\":\"enum\",\"name\":\"E\"");
        for (k = 0; k < 50000; k++)
                append(&b, &n, &cap, ",\"x%d\":%d", k, k);
        append(&b, &n, &cap, ",\"symbols\":[\"S0\"");
        for (k = 1; k < 20000; k++)
                append(&b, &n, &cap, ",\"S%d\"", k);
        append(&b, &n, &cap, "]}");
        s = pb_schema_new(b, n, err, sizeof(err));
        assert_non_null(s);
        assert_int_equal(s->root->nsymbols, 20000);
        pb_schema_destroy(s);
        /* ...and a duplicate among them is still found */
        memcpy(b + n - 10, "\"S0\"]}    ", 10);
        assert_null(pb_schema_new(b, n, err, sizeof(err)));
        assert_non_null(strstr(err, "duplicate symbol S0"));
        free(b);
}

/* --- the project's schemas --- */

static void test_project_schemas(void **state) {
        char dir[1024], err[512] = "";
        pb_schemas_t *c;
        const pb_schema_t *s;
        const pb_type_t *t;
        size_t i, j;
        static const struct {
                const char *type, *fullname, *key;
        } want[] = {
            {"aid.delivered", "de.nrw.partnerbus.AidDelivered", "shipment_id"},
            {"aid.dispatched", "de.nrw.partnerbus.AidDispatched",
             "shipment_id"},
            {"funds.granted", "de.nrw.partnerbus.FundsGranted", "grant_id"},
            {"partnership.founded", "de.nrw.partnerbus.PartnershipFounded",
             "partnership_id"},
        };
        (void)state;
        snprintf(dir, sizeof(dir), "%s/schemas", src_dir());
        c = pb_schemas_load_dir(dir, err, sizeof(err));
        if (!c)
                fail_msg("%s", err);
        assert_int_equal(pb_schemas_count(c), 4);
        for (i = 0; i < 4; i++) {
                s = pb_schemas_find(c, want[i].type);
                assert_non_null(s);
                assert_string_equal(pb_schema_type(s), want[i].type);
                assert_string_equal(pb_schema_fullname(s), want[i].fullname);
                assert_string_equal(pb_schema_key_field(s), want[i].key);
                assert_string_equal(s->root->fields[s->key_index].name,
                                    want[i].key);
                assert_int_equal(s->idx_event_id, 0);
                assert_int_equal(s->idx_occurred_at, 1);
                assert_int_equal(s->idx_source, 2);
                assert_int_equal(s->root->fields[0].type->logical, PB_L_UUID);
                assert_int_equal(s->root->fields[1].type->logical,
                                 PB_L_TIMESTAMP_MILLIS);
                assert_ptr_equal(
                    pb_schemas_find_fingerprint(c, pb_schema_fingerprint(s)),
                    s);
                assert_true(pb_crc64_avro(pb_schema_canonical(s),
                                          strlen(pb_schema_canonical(s))) ==
                            pb_schema_fingerprint(s));
                /* canonical form strips doc and custom attributes */
                assert_null(strstr(pb_schema_canonical(s), "doc"));
                assert_null(strstr(pb_schema_canonical(s), "partnerbus.key"));
                assert_non_null(strstr(pb_schema_json(s), "partnerbus.key"));
                /* every schema resolves against itself */
                assert_int_equal(pb_schema_can_read(s, s, err, sizeof(err)),
                                 PB_OK);
                for (j = 0; j < i; j++)
                        assert_true(pb_schema_fingerprint(s) !=
                                    pb_schema_fingerprint(
                                        pb_schemas_find(c, want[j].type)));
        }
        assert_null(pb_schemas_find(c, "no.such.type"));
        assert_null(pb_schemas_find_fingerprint(c, 0));

        /* funds.granted: a decimal amount, a shared Organisation, an enum
         * default and a field default */
        s = pb_schemas_find(c, "funds.granted");
        t = field_type(s, "amount");
        assert_int_equal(t->logical, PB_L_DECIMAL);
        assert_int_equal(t->precision, 14);
        assert_int_equal(t->scale, 2);
        assert_ptr_equal(field_type(s, "grantor"), field_type(s, "recipient"));
        t = field_type(s, "grantor");
        assert_int_equal(t->fields[1].type->kind, PB_T_ENUM);
        assert_string_equal(
            t->fields[1].type->symbols[t->fields[1].type->enum_default],
            "OTHER");
        i = (size_t)pb_type_field_index(s->root, "recurrence", 10);
        assert_true(s->root->fields[i].has_default);
        assert_int_equal(s->root->fields[i].default_avro_len, 1);
        assert_int_equal(s->root->fields[i].default_avro[0], 0); /* ONCE */
        /* partnership.founded: "areas" default [] is one 0 byte */
        s = pb_schemas_find(c, "partnership.founded");
        i = (size_t)pb_type_field_index(s->root, "areas", 5);
        assert_int_equal(s->root->fields[i].default_avro_len, 1);
        assert_int_equal(s->root->fields[i].default_avro[0], 0);
        /* aid.dispatched: destination.country defaults to "UA" */
        s = pb_schemas_find(c, "aid.dispatched");
        t = field_type(s, "destination");
        assert_int_equal(t->fields[3].default_avro_len, 3);
        assert_memory_equal(t->fields[3].default_avro, "\x04UA", 3);
        pb_schemas_destroy(c);
}

/* avro-c (an independent parser) accepts every schema we ship and every
 * evolution fixture. */
static void avro_c_accepts(const char *path) {
        size_t len;
        char *json = pb_test_slurp(path, &len);
        avro_schema_t sch = NULL;
        if (avro_schema_from_json_length(json, len, &sch) != 0)
                fail_msg("avro-c rejects %s: %s", path, avro_strerror());
        assert_non_null(sch);
        avro_schema_decref(sch);
        free(json);
}

static void test_avro_c_accepts(void **state) {
        static const char *const files[] = {"aid.dispatched", "aid.delivered",
                                            "funds.granted",
                                            "partnership.founded"};
        char path[1024];
        size_t i;
        (void)state;
        for (i = 0; i < 4; i++) {
                snprintf(path, sizeof(path), "%s/schemas/%s.avsc", src_dir(),
                         files[i]);
                avro_c_accepts(path);
        }
        snprintf(path, sizeof(path),
                 "%s/tests/unit/data/evolution/int_to_long.new.avsc",
                 src_dir());
        avro_c_accepts(path);
}

/* --- resolution and compatibility --- */

static pb_schema_t *load_fixture(const char *name, const char *which) {
        char path[1024], err[512] = "";
        pb_schema_t *s;
        snprintf(path, sizeof(path), "%s/tests/unit/data/evolution/%s.%s.avsc",
                 src_dir(), name, which);
        s = pb_schema_new_file(path, err, sizeof(err));
        if (!s)
                fail_msg("%s", err);
        return s;
}

static void test_compat_matrix(void **state) {
        char path[1024], line[1024];
        FILE *fp;
        int n = 0, seen[4] = {0};
        (void)state;
        snprintf(path, sizeof(path),
                 "%s/tests/unit/data/evolution/expected.txt", src_dir());
        fp = fopen(path, "r");
        assert_non_null(fp);
        while (fgets(line, sizeof(line), fp)) {
                char *name, *want, *extra, *save = NULL;
                char back[512] = "", fwd[512] = "";
                pb_schema_t *o, *nw;
                pb_compat_t c;
                if (line[0] == '#' || line[0] == '\n')
                        continue;
                line[strcspn(line, "\n")] = 0;
                name = strtok_r(line, "\t", &save);
                want = strtok_r(NULL, "\t", &save);
                o = load_fixture(name, "old");
                nw = load_fixture(name, "new");
                c = pb_schema_compat(o, nw, back, fwd, sizeof(back));
                if (strcmp(pb_compat_name(c), want))
                        fail_msg("%s: %s, want %s (backward: %s; forward: %s)",
                                 name, pb_compat_name(c), want, back, fwd);
                seen[c]++;
                /* a failing direction always says why; a passing one not */
                assert_true(((c & PB_COMPAT_BACKWARD) != 0) == !back[0]);
                assert_true(((c & PB_COMPAT_FORWARD) != 0) == !fwd[0]);
                while ((extra = strtok_r(NULL, "\t", &save))) {
                        const char *reason =
                            !strncmp(extra, "backward=", 9) ? back : fwd;
                        const char *sub = strchr(extra, '=') + 1;
                        if (!strstr(reason, sub))
                                fail_msg("%s: reason \"%s\" lacks \"%s\"", name,
                                         reason, sub);
                }
                /* the directions agree with pb_schema_can_read */
                assert_int_equal(pb_schema_can_read(nw, o, NULL, 0) == PB_OK,
                                 (c & PB_COMPAT_BACKWARD) != 0);
                assert_int_equal(pb_schema_can_read(o, nw, NULL, 0) == PB_OK,
                                 (c & PB_COMPAT_FORWARD) != 0);
                pb_schema_destroy(o);
                pb_schema_destroy(nw);
                n++;
        }
        fclose(fp);
        assert_true(n >= 15);
        /* the fixtures cover every outcome */
        assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
        assert_string_equal(pb_compat_name(PB_COMPAT_FULL), "FULL");
        assert_string_equal(pb_compat_name(PB_COMPAT_NONE), "NONE");
}

static void test_can_read_unions(void **state) {
        char why[256];
        pb_schema_t *i = parse("\"int\""), *l = parse("\"long\""),
                    *s = parse("\"string\""),
                    *u = parse("[\"null\",\"long\",\"string\"]"),
                    *u2 = parse("[\"int\",\"string\"]"),
                    *d = parse("\"double\""), *b = parse("\"bytes\""),
                    *n = parse("\"null\"");
        (void)state;
        /* writer int into reader union: the long branch takes it */
        assert_int_equal(pb_schema_can_read(u, i, why, sizeof(why)), PB_OK);
        assert_int_equal(pb_schema_can_read(u, u2, why, sizeof(why)), PB_OK);
        /* writer union: every branch must be readable */
        assert_int_equal(pb_schema_can_read(d, u2, why, sizeof(why)),
                         PB_ERR_INCOMPATIBLE);
        assert_string_equal(why, "/: writer's string cannot be read as double");
        assert_int_equal(pb_schema_can_read(u2, u, why, sizeof(why)),
                         PB_ERR_INCOMPATIBLE);
        assert_string_equal(why,
                            "/: reader union has no branch for the writer's "
                            "null");
        assert_int_equal(pb_schema_can_read(l, i, why, sizeof(why)), PB_OK);
        assert_int_equal(pb_schema_can_read(d, l, why, sizeof(why)), PB_OK);
        assert_int_equal(pb_schema_can_read(i, l, why, sizeof(why)),
                         PB_ERR_INCOMPATIBLE);
        assert_int_equal(pb_schema_can_read(b, s, why, sizeof(why)), PB_OK);
        assert_int_equal(pb_schema_can_read(s, b, why, sizeof(why)), PB_OK);
        assert_int_equal(pb_schema_can_read(s, n, why, sizeof(why)),
                         PB_ERR_INCOMPATIBLE);
        assert_int_equal(pb_schema_can_read(NULL, n, why, sizeof(why)),
                         PB_ERR_ARG);
        pb_schema_destroy(i);
        pb_schema_destroy(l);
        pb_schema_destroy(s);
        pb_schema_destroy(u);
        pb_schema_destroy(u2);
        pb_schema_destroy(d);
        pb_schema_destroy(b);
        pb_schema_destroy(n);
}

/* --- catalog --- */

static void write_file(const char *path, const char *text) {
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
}

static void test_catalog(void **state) {
        char dir[] = "/tmp/pb_test_schema_XXXXXX", p[512], err[512] = "";
        pb_schemas_t *c;
        pb_schema_t *v1;
        const pb_schema_t *cur;
        uint64_t fp1;
        const char *v1_json =
            "{\"type\":\"record\",\"name\":\"T\",\"partnerbus.type\":\"t.x\","
            "\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]}";
        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(p, sizeof(p), "%s/history", dir);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof(p), "%s/t.x.avsc", dir);
        write_file(p, "{\"type\":\"record\",\"name\":\"T\",\"partnerbus.type\":"
                      "\"t.x\",\"partnerbus.key\":\"id\",\"fields\":[{\"name\""
                      ":\"id\",\"type\":\"string\"},{\"name\":\"n\",\"type\":"
                      "\"int\",\"default\":0}]}");
        snprintf(p, sizeof(p), "%s/history/t.x.v1.avsc", dir);
        write_file(p, v1_json);
        snprintf(p, sizeof(p), "%s/README.txt", dir);
        write_file(p, "not a schema");

        c = pb_schemas_load_dir(dir, err, sizeof(err));
        if (!c)
                fail_msg("%s", err);
        assert_int_equal(pb_schemas_count(c), 1);
        cur = pb_schemas_at(c, 0);
        assert_non_null(cur);
        assert_null(pb_schemas_at(c, 1));
        assert_ptr_equal(pb_schemas_find(c, "t.x"), cur);
        v1 = parse(v1_json);
        fp1 = pb_schema_fingerprint(v1);
        pb_schema_destroy(v1);
        /* the old version is found by fingerprint only */
        assert_non_null(pb_schemas_find_fingerprint(c, fp1));
        assert_ptr_not_equal(pb_schemas_find_fingerprint(c, fp1), cur);
        assert_true(pb_schemas_find_fingerprint(c, fp1)->fingerprint == fp1);
        /* a duplicate type is refused (and the schema freed) */
        assert_int_equal(pb_schemas_add(c, parse(v1_json), err, sizeof(err)),
                         PB_ERR_INVALID);
        assert_non_null(strstr(err, "t.x"));
        pb_schemas_destroy(c);

        /* a broken file names itself */
        snprintf(p, sizeof(p), "%s/u.avsc", dir);
        write_file(p, "{\"type\":\"record\"}");
        assert_null(pb_schemas_load_dir(dir, err, sizeof(err)));
        assert_non_null(strstr(err, "u.avsc"));
        unlink(p);
        snprintf(p, sizeof(p), "%s/history/t.x.v1.avsc", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/history", dir);
        rmdir(p);
        snprintf(p, sizeof(p), "%s/t.x.avsc", dir);
        unlink(p);
        /* no schema at all, and no directory */
        assert_null(pb_schemas_load_dir(dir, err, sizeof(err)));
        assert_non_null(strstr(err, "no .avsc"));
        snprintf(p, sizeof(p), "%s/README.txt", dir);
        unlink(p);
        rmdir(dir);
        assert_null(pb_schemas_load_dir(dir, err, sizeof(err)));
        assert_non_null(strstr(err, dir));

        /* default dir follows PARTNERBUS_SCHEMAS */
        setenv("PARTNERBUS_SCHEMAS", "/some/where", 1);
        assert_string_equal(pb_schemas_default_dir(), "/some/where");
        unsetenv("PARTNERBUS_SCHEMAS");
        assert_non_null(pb_schemas_default_dir());
        assert_string_not_equal(pb_schemas_default_dir(), "/some/where");

        /* files: missing file, oversize guard not hit, NULL args */
        assert_null(
            pb_schema_new_file("/nonexistent/x.avsc", err, sizeof(err)));
        assert_non_null(strstr(err, "/nonexistent/x.avsc"));
        assert_null(pb_schema_new(NULL, 0, err, sizeof(err)));
        pb_schema_destroy(NULL);
        pb_schemas_destroy(NULL);
}

PB_TEST_MAIN(
    cmocka_unit_test(test_crc64), cmocka_unit_test(test_spec_vectors),
    cmocka_unit_test(test_canonical_transforms), cmocka_unit_test(test_names),
    cmocka_unit_test(test_logical), cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_bad_schemas), cmocka_unit_test(test_garbage),
    cmocka_unit_test(test_hostile), cmocka_unit_test(test_project_schemas),
    cmocka_unit_test(test_avro_c_accepts), cmocka_unit_test(test_compat_matrix),
    cmocka_unit_test(test_can_read_unions), cmocka_unit_test(test_catalog))
