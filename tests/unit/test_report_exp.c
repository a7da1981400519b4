/* report exports: line items, the IATI writer (escaping, grouping,
 * sector percentages, transactions) and the xlsx writer (a workbook is
 * written, also with a cell longer than Excel allows). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_labels.h"
#include "pb_report.h"
#include "pb_report_exp.h"
#include "pb_test.h"

static void add(pb_report_t *r, const char *type, const char *json) {
        pb_json_parser_t *p = pb_json_parser_new(NULL);
        char err[256];
        const pb_json_t *v =
            pb_json_parse(p, json, strlen(json), err, sizeof(err));
        if (!v)
                fail_msg("%s: %s", err, json);
        if (pb_report_add(r, type, v, err, sizeof(err)) != PB_OK)
                fail_msg("%s", err);
        pb_json_parser_destroy(p);
}

#define ORG(n, k, c)                                                           \
        "{\"name\":\"" n "\",\"kind\":\"" k "\",\"city\":null,\"region\":"     \
        "null,\"country\":\"" c "\"}"

static void grant(pb_report_t *r, const char *eid, const char *gid,
                  const char *prog, const char *purpose, const char *amount,
                  const char *cur, const char *rec, const char *on) {
        char buf[70000];
        snprintf(
            buf, sizeof(buf),
            "{\"event_id\":\"%s\",\"occurred_at\":\"%sT10:00:00.000Z\","
            "\"source\":\"sk\",\"grant_id\":\"%s\",\"grantor\":" ORG(
                "A & B <\\\"x\\\">", "STATE_GOVERNMENT",
                "DE") ",\"recipient\":" ORG("Kinder in Not", "NGO",
                                            "DE") ","
                                                  "\"programme\":%s%s%s,"
                                                  "\"purpose\":\"%s\","
                                                  "\"amount\":"
                                                  "\"%s\",\"currency\":\"%s\","
                                                  "\"recurrence\":\"%s\","
                                                  "\"granted_on\":\"%s\","
                                                  "\"note\":null}",
            eid, on, gid, prog ? "\"" : "", prog ? prog : "null",
            prog ? "\"" : "", purpose, amount, cur, rec, on);
        add(r, "funds.granted", buf);
}

static void shipment(pb_report_t *r, const char *eid, const char *sid,
                     const char *on, const char *value, const char *cur) {
        char buf[4096];
        snprintf(buf, sizeof(buf),
                 "{\"event_id\":\"%s\",\"occurred_at\":\"%sT06:00:00.000Z\","
                 "\"source\":\"bgk\",\"shipment_id\":\"%s\",\"sender\":" ORG(
                     "Blau-Gelbes Kreuz", "NGO",
                     "DE") ",\"destination\":{\"facility\":null,\"city\":"
                           "\"Дніпро\",\"oblast\":\"Dnipropetrowsk\","
                           "\"country\":\"UA\"},\"dispatched_on\":\"%s\","
                           "\"transport\":null,\"items\":["
                           "{\"category\":\"MEDICINES\",\"description\":"
                           "\"a\",\"quantity\":5,\"unit\":\"pallets\"},"
                           "{\"category\":\"FOOD\",\"description\":\"b\","
                           "\"quantity\":1,\"unit\":null},"
                           "{\"category\":\"GENERATORS\",\"description\":"
                           "\"c\",\"quantity\":2,\"unit\":null}],"
                           "\"declared_value\":%s%s%s,\"currency\":\"%s\","
                           "\"gross_weight_kg\":null,\"note\":null}",
                 eid, on, sid, on, value ? "\"" : "", value ? value : "null",
                 value ? "\"" : "", cur);
        add(r, "aid.dispatched", buf);
}

static size_t count(const char *s, const char *needle) {
        size_t n = 0;
        while ((s = strstr(s, needle))) {
                n++;
                s += strlen(needle);
        }
        return n;
}

static pb_report_t *sample(void) {
        pb_report_t *r = pb_report_new(0);
        assert_non_null(r);
        grant(r, "00000000-0000-4000-8000-000000000001", "G-2",
              "Prog \\u00c4/1", "first", "100.00", "EUR", "ONCE", "2023-02-01");
        grant(r, "00000000-0000-4000-8000-000000000002", "G-1",
              "Prog \\u00c4/1", "second", "0.50", "EUR", "ONCE", "2023-01-01");
        grant(r, "00000000-0000-4000-8000-000000000003", "G-3", NULL,
              "ctl\\u0001 & <tag>", "2600.00", "UAH", "MONTHLY", "2023-03-01");
        shipment(r, "00000000-0000-4000-8000-000000000004", "S-1", "2023-04-01",
                 "10.00", "UAH");
        shipment(r, "00000000-0000-4000-8000-000000000005", "S-2", "2023-04-02",
                 NULL, "EUR");
        return r;
}

static void test_items_sorted(void **st) {
        pb_report_t *r = sample();
        pb_report_item_t *it;
        size_t n;
        char err[128], on[16];
        const char *cond;
        (void)st;
        assert_int_equal(pb_report_finish(r, err, sizeof(err)), PB_OK);
        assert_int_equal(pb_report_items(r, "funds.granted", &it, &n), PB_OK);
        assert_int_equal(n, 3);
        assert_string_equal(it[0].id, "G-1");
        assert_string_equal(it[0].date, "2023-01-01");
        assert_string_equal(it[1].id, "G-2");
        assert_string_equal(it[2].id, "G-3");
        assert_string_equal(it[2].owner, "sk");
        free(it);
        assert_int_equal(pb_report_items(r, "aid.dispatched", &it, &n), PB_OK);
        assert_int_equal(n, 2);
        free(it);
        assert_int_equal(pb_report_delivery(r, "S-1", on, &cond), 0);
        pb_report_destroy(r);
}

static void test_iati(void **st) {
        pb_report_t *r = sample();
        pb_report_iati_conf_t c = {"XI-TEST", "Staatskanzlei", "10",
                                   "2024-01-01T00:00:00.000Z"};
        pb_buf_t b;
        char err[256];
        const char *x;
        (void)st;
        pb_buf_init(&b, 0);
        assert_int_equal(pb_report_iati(r, &c, &b, err, sizeof(err)), 0);
        assert_non_null(b.data);
        x = (const char *)b.data;
        /* a programme (two grants), a grant without one, one sender */
        assert_int_equal(count(x, "<iati-activity "), 3);
        assert_int_equal(count(x, "<transaction-type code=\"2\"/>"), 3);
        assert_int_equal(count(x, "<transaction-type code=\"3\"/>"), 1);
        assert_non_null(strstr(x, "A &amp; B &lt;&quot;x&quot;&gt;"));
        assert_non_null(strstr(x, "ctl &amp; &lt;tag&gt;")); /* \x01 gone */
        assert_null(strchr(x, '\x01'));
        assert_non_null(strstr(x, "XI-TEST-PROG-Prog----1-"));
        assert_non_null(strstr(x, "XI-TEST-GRANT-G-3</iati-identifier>"));
        assert_non_null(strstr(x, "(Betrag je Monat)"));
        assert_non_null(strstr(
            x, "<value currency=\"UAH\" value-date=\"2023-03-01\">2600.00"));
        assert_non_null(strstr(
            x, "<value currency=\"UAH\" value-date=\"2023-04-01\">10.00"));
        /* three item lines: 34 + 33 + 33 */
        assert_non_null(strstr(x, "code=\"72011\" percentage=\"34\""));
        assert_non_null(strstr(x, "code=\"72040\" percentage=\"33\""));
        assert_non_null(strstr(x, "code=\"72010\" percentage=\"33\""));
        assert_non_null(strstr(x, "davon 1 ohne angegebenen Warenwert"));
        assert_non_null(
            strstr(x, "generated-datetime=\"2024-01-01T00:00:00Z\""));
        pb_buf_free(&b);
        pb_report_destroy(r);
}

static void test_iati_empty(void **st) {
        pb_report_t *r = pb_report_new(0);
        pb_report_iati_conf_t c = {"XI-TEST", "S", NULL,
                                   "2024-01-01T00:00:00.000Z"};
        pb_buf_t b;
        char err[256];
        (void)st;
        pb_buf_init(&b, 0);
        assert_int_equal(pb_report_iati(r, &c, &b, err, sizeof(err)), 1);
        assert_non_null(strstr(err, "no activity"));
        c.org_ref = NULL;
        assert_int_equal(pb_report_iati(r, &c, &b, err, sizeof(err)), -1);
        pb_buf_free(&b);
        pb_report_destroy(r);
}

static void test_xlsx(void **st) {
        pb_report_t *r = sample();
        pb_labels_t *L;
        char dir[4096], path[] = "/tmp/pb-xlsx-XXXXXX", err[512], *big;
        const char *sd = getenv("PARTNERBUS_SCHEMAS");
        unsigned char head[2] = {0, 0};
        FILE *fp;
        int fd;
        (void)st;
        snprintf(dir, sizeof(dir), "%s/labels", sd ? sd : "schemas");
        L = pb_labels_load(dir, "de", err, sizeof(err));
        if (!L)
                fail_msg("%s", err);
        /* a purpose longer than an Excel cell holds is cut, not refused */
        big = malloc(40001);
        assert_non_null(big);
        memset(big, 'x', 40000);
        big[40000] = 0;
        grant(r, "00000000-0000-4000-8000-000000000009", "G-9", NULL, big,
              "1.00", "EUR", "ONCE", "2023-05-01");
        free(big);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(pb_report_xlsx(r, L, path, err, sizeof(err)), 0);
        fp = fopen(path, "rb");
        assert_non_null(fp);
        assert_int_equal(fread(head, 1, 2, fp), 2);
        fclose(fp);
        assert_memory_equal(head, "PK", 2); /* a zip container */
        unlink(path);
        /* a directory that does not exist: an error, no crash */
        assert_int_equal(
            pb_report_xlsx(r, L, "/nonexistent/dir/r.xlsx", err, sizeof(err)),
            -1);
        pb_labels_destroy(L);
        pb_report_destroy(r);
}

PB_TEST_MAIN(cmocka_unit_test(test_items_sorted), cmocka_unit_test(test_iati),
             cmocka_unit_test(test_iati_empty), cmocka_unit_test(test_xlsx))
