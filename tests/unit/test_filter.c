/* Unit tests: the --where expression engine (pb_filter.c): grammar,
 * exact decimal comparison, paths through objects and arrays, type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pb_test.h"
#include <stdio.h>
#include <string.h>

#include "partnerbus/pb_filter.h"
#include "partnerbus/pb_json.h"

static const char *ev_text =
    "{\"event_id\":\"7d3f\",\"amount\":\"143000.00\",\"count\":12,"
    "\"destination\":{\"oblast\":\"Dnipropetrowsk\",\"city\":\"Dnipro\"},"
    "\"items\":[{\"category\":\"MEDICAL\",\"quantity\":3},"
    "{\"category\":\"ENERGY\",\"quantity\":40}],"
    "\"confirmed\":true,\"note\":null,\"type\":\"inner\","
    "\"occurred_at\":\"2023-02-28T10:00:00.000Z\"}";

/* 1/0 = match result, -1 = the expression must not parse */
static int eval(const char *expr, const char *type) {
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        pb_filter_t *f = pb_filter_new();
        char err[256];
        const pb_json_t *ev;
        int r;
        assert_non_null(p);
        assert_non_null(f);
        ev = pb_json_parse(p, ev_text, strlen(ev_text), err, sizeof(err));
        assert_non_null(ev);
        if (pb_filter_add(f, expr, err, sizeof(err)) != PB_OK) {
                assert_true(err[0] != 0);
                r = -1;
        } else {
                r = pb_filter_match(f, type, ev);
        }
        pb_filter_destroy(f);
        pb_json_parser_destroy(p);
        return r;
}

static int dcmp(const char *a, const char *b) {
        int c = 99;
        if (pb_decimal_cmp(a, strlen(a), b, strlen(b), &c) != 0)
                return 99;
        return c;
}

static void test_decimal(void **state) {
        (void)state;
        /* {a, b, pb_decimal_cmp's verdict wanted; 99: not decimals} */
        static const struct {
                const char *a, *b;
                int want;
        } cases[] = {
            /* equal */
            {"143000.00", "143000", 0},
            {"-0.00", "0", 0},
            {"0007", "7.000", 0},
            {"1e3", "1000", 0},
            {"1.5E-1", "0.15", 0},
            /* greater (beyond double precision: still exact) */
            {"100000", "99999.99", 1},
            {"0.1", "0.09", 1},
            {"9007199254740993", "9007199254740992", 1},
            /* less */
            {"99999.99", "100000", -1},
            {"-1.5", "-1.25", -1},
            {"-2", "1", -1},
            {"12345678901234567890.01", "12345678901234567890.02", -1},
            /* not decimals */
            {"abc", "1", 99},
            {"1.2.3", "1", 99},
            {"", "1", 99},
            {"1e", "1", 99},
            {"1e9999999", "1", 99},
        };
        size_t i;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (dcmp(cases[i].a, cases[i].b) != cases[i].want)
                        fail_msg("%s vs %s: want %d", cases[i].a, cases[i].b,
                                 cases[i].want);
}

enum group { EQUALITY, ORDER, ARRAYS, TYPE, SYNTAX };

/* {group, expression, event type, eval's result wanted} */
static const struct {
        enum group g;
        const char *expr, *type;
        int want;
} cases[] = {
    {EQUALITY, "destination.oblast=Dnipropetrowsk", NULL, 1},
    {EQUALITY, "destination.oblast=Poltawa", NULL, 0},
    {EQUALITY, "destination.oblast = \"Dnipropetrowsk\"", NULL, 1},
    {EQUALITY, "destination.oblast=Poltawa|Dnipropetrowsk", NULL, 1},
    {EQUALITY, "destination.oblast!=Poltawa", NULL, 1},
    {EQUALITY, "destination.oblast!=Dnipropetrowsk", NULL, 0},
    {EQUALITY, "amount=143000", NULL, 1},
    {EQUALITY, "count=12.0", NULL, 1},
    {EQUALITY, "confirmed=true", NULL, 1},
    {EQUALITY, "note=null", NULL, 1},
    /* missing: only != holds */
    {EQUALITY, "destination.region=X", NULL, 0},
    {EQUALITY, "destination.region!=X", NULL, 1},
    {EQUALITY, "destination.region>=0", NULL, 0},
    /* an object is not a scalar */
    {EQUALITY, "destination=Dnipro", NULL, 0},
    {ORDER, "amount>=100000", NULL, 1},
    {ORDER, "amount>=143000.00", NULL, 1},
    {ORDER, "amount>143000.00", NULL, 0},
    {ORDER, "amount>143000.001", NULL, 0},
    {ORDER, "amount<143000.01", NULL, 1},
    {ORDER, "amount<=99999", NULL, 0},
    {ORDER, "count<100", NULL, 1},
    /* text order for instants */
    {ORDER, "occurred_at>=2023-01-01", NULL, 1},
    {ORDER, "occurred_at<2023-02-28", NULL, 0},
    {ORDER, "occurred_at<2023-03-01", NULL, 1},
    {ARRAYS, "items.category=ENERGY", NULL, 1},
    {ARRAYS, "items.category=FOOD", NULL, 0},
    {ARRAYS, "items.0.category=MEDICAL", NULL, 1},
    {ARRAYS, "items.1.category=MEDICAL", NULL, 0},
    {ARRAYS, "items.5.category=MEDICAL", NULL, 0},
    {ARRAYS, "items.quantity>=40", NULL, 1},
    {ARRAYS, "items.quantity>40", NULL, 0},
    /* != is "no element equals" */
    {ARRAYS, "items.category!=ENERGY", NULL, 0},
    {ARRAYS, "items.category!=FOOD", NULL, 1},
    {TYPE, "type=aid.dispatched", "aid.dispatched", 1},
    {TYPE, "type=aid.dispatched", "funds.granted", 0},
    {TYPE, "type!=aid.dispatched", "funds.granted", 1},
    {TYPE, "type=funds.granted|aid.dispatched", "aid.dispatched", 1},
    {TYPE, "type=aid.dispatched", NULL, 0},
    /* a member named "type" */
    {TYPE, ".type=inner", "aid.dispatched", 1},
    {SYNTAX, "amount", NULL, -1},
    {SYNTAX, "=5", NULL, -1},
    {SYNTAX, "amount!5", NULL, -1},
    {SYNTAX, "a..b=1", NULL, -1},
    {SYNTAX, "a.=1", NULL, -1},
    {SYNTAX, "amount>=", NULL, -1},
    {SYNTAX, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q=1", NULL, -1},
};

/* The test of the group its initial state points to. */
static void test_group(void **state) {
        const enum group g = *(const enum group *)*state;
        size_t i, n = 0;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                if (cases[i].g != g)
                        continue;
                if (eval(cases[i].expr, cases[i].type) != cases[i].want)
                        fail_msg("%s (type %s): want %d", cases[i].expr,
                                 cases[i].type ? cases[i].type : "none",
                                 cases[i].want);
                n++;
        }
        assert_true(n > 0);
}

static void test_and_and_bounds(void **state) {
        pb_filter_t *f = pb_filter_new();
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        char err[256], big[PB_FILTER_MAX_EXPR + 10];
        const pb_json_t *ev;
        int i;
        (void)state;
        ev = pb_json_parse(p, ev_text, strlen(ev_text), err, sizeof(err));
        assert_int_equal(pb_filter_match(f, NULL, ev), 1); /* empty */
        assert_int_equal(pb_filter_needs_event(f), 0);
        assert_int_equal(
            pb_filter_add(f, "type=aid.dispatched", err, sizeof(err)), PB_OK);
        assert_int_equal(pb_filter_needs_event(f), 0);
        assert_int_equal(pb_filter_add(f, "amount>=100000", err, sizeof(err)),
                         PB_OK);
        assert_int_equal(pb_filter_needs_event(f), 1);
        assert_int_equal(pb_filter_match(f, "aid.dispatched", ev), 1);
        assert_int_equal(pb_filter_match(f, "funds.granted", ev), 0);
        assert_int_equal(pb_filter_add(f, "count>12", err, sizeof(err)), PB_OK);
        assert_int_equal(pb_filter_match(f, "aid.dispatched", ev), 0);
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        big[3] = '=';
        assert_int_equal(pb_filter_add(f, big, err, sizeof(err)), PB_ERR_LIMIT);
        for (i = (int)pb_filter_count(f); i < PB_FILTER_MAX_CONDS; i++)
                assert_int_equal(pb_filter_add(f, "a=1", err, sizeof(err)),
                                 PB_OK);
        assert_int_equal(pb_filter_add(f, "a=1", err, sizeof(err)),
                         PB_ERR_LIMIT);
        pb_filter_destroy(f);
        pb_json_parser_destroy(p);
}

static const enum group groups[] = {EQUALITY, ORDER, ARRAYS, TYPE, SYNTAX};
#define GROUP(name, i) PB_TEST_STATE(name, test_group, &groups[i])

PB_TEST_MAIN(cmocka_unit_test(test_decimal), GROUP("test_equality", 0),
             GROUP("test_order", 1), GROUP("test_arrays", 2),
             GROUP("test_type", 3), GROUP("test_syntax", 4),
             cmocka_unit_test(test_and_and_bounds))
