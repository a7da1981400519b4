/* Unit tests of the admin service's pure parts: which addresses count as
 * private (endpoint safety) and the request-body validators (pointers,
 * normalised values). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "pb_adm.h"
#include "pb_test.h"

static int is_private(const char *text) {
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        memset(&in4, 0, sizeof(in4));
        memset(&in6, 0, sizeof(in6));
        if (inet_pton(AF_INET, text, &in4.sin_addr) == 1) {
                in4.sin_family = AF_INET;
                return pb_adm_addr_private((struct sockaddr *)&in4);
        }
        assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
        in6.sin6_family = AF_INET6;
        return pb_adm_addr_private((struct sockaddr *)&in6);
}

static void test_private_ranges(void **state) {
        static const char *const priv[] = {"127.0.0.1",
                                           "127.255.0.9",
                                           "10.0.0.1",
                                           "172.16.0.1",
                                           "172.31.255.255",
                                           "192.168.1.1",
                                           "169.254.169.254",
                                           "100.64.0.1",
                                           "0.0.0.0",
                                           "224.0.0.1",
                                           "255.255.255.255",
                                           "::1",
                                           "::",
                                           "fe80::1",
                                           "fc00::1",
                                           "fd12:3456::1",
                                           "ff02::1",
                                           "::ffff:127.0.0.1",
                                           "::ffff:10.1.2.3",
                                           "64:ff9b::a00:1",
                                           "2001:db8::1",
                                           "192.0.2.10",
                                           "198.18.0.1"};
        static const char *const pub[] = {
            "1.1.1.1",     "8.8.8.8",      "172.32.0.1",     "100.128.0.1",
            "192.169.0.1", "2a00:1450::1", "::ffff:8.8.8.8", "2001:4860::8888"};
        size_t i;
        (void)state;
        for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
                if (!is_private(priv[i]))
                        fail_msg("%s should be private", priv[i]);
        for (i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
                if (is_private(pub[i]))
                        fail_msg("%s should be public", pub[i]);
}

static cJSON *parse(pb_adm_body_kind_t k, const char *s,
                    pb_adm_errors_t *errs) {
        return pb_adm_body_parse(k, s, strlen(s), NULL, NULL, errs);
}

static void want_error(pb_adm_body_kind_t k, const char *body,
                       const char *pointer) {
        pb_adm_errors_t errs;
        cJSON *v = parse(k, body, &errs);
        size_t i;
        int found = 0;
        if (v)
                fail_msg("accepted: %s", body);
        for (i = 0; i < errs.n; i++)
                if (!strcmp(errs.e[i].pointer, pointer))
                        found = 1;
        if (!found)
                fail_msg("%s: no error at '%s' (first: '%s' %s)", body, pointer,
                         errs.n ? errs.e[0].pointer : "-",
                         errs.n ? errs.e[0].message : "");
}

static void test_bodies(void **state) {
        pb_adm_errors_t errs;
        cJSON *v;
        (void)state;
        v = parse(PB_ADM_BODY_ORG_CREATE,
                  "{\"id\":\"oblast-dnipro\",\"name\":\"Oblast\",\"kind\":"
                  "\"ua_partner\",\"read\":[{\"type\":\"aid.dispatched\","
                  "\"where\":\"destination.oblast=Dnipropetrowsk\"}]}",
                  &errs);
        assert_non_null(v);
        assert_string_equal(
            cJSON_GetObjectItem(
                cJSON_GetArrayItem(cJSON_GetObjectItem(v, "read"), 0), "where")
                ->valuestring,
            "destination.oblast=Dnipropetrowsk");
        cJSON_Delete(v);
        v = parse(PB_ADM_BODY_RETRANSMIT, "{\"from\":\"2026-12-01T00:00:00Z\"}",
                  &errs);
        assert_non_null(v);
        /* normalised to milliseconds */
        assert_string_equal(cJSON_GetObjectItem(v, "from")->valuestring,
                            "2026-12-01T00:00:00.000Z");
        cJSON_Delete(v);
        v = parse(PB_ADM_BODY_SUB_PATCH,
                  "{\"where\":[\"items.category=FOOD\",\"amount>=10\"]}",
                  &errs);
        assert_non_null(v);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(v, "where")),
                         2);
        cJSON_Delete(v);
        v = parse(PB_ADM_BODY_EMPTY, "  ", &errs);
        assert_non_null(v);
        cJSON_Delete(v);

        want_error(PB_ADM_BODY_ORG_CREATE, "{\"id\":\"a\",\"name\":\"A\"}",
                   "/kind");
        want_error(PB_ADM_BODY_ORG_CREATE,
                   "{\"id\":\"a\",\"name\":\"A\",\"kind\":\"ngo\",\"x\":1}",
                   "/x");
        want_error(PB_ADM_BODY_ORG_CREATE,
                   "{\"id\":\"a\",\"name\":\"A\",\"kind\":\"ngo\","
                   "\"read\":[{\"type\":\"t\",\"where\":\"bad\"}]}",
                   "/read/0/where");
        want_error(PB_ADM_BODY_ORG_CREATE,
                   "{\"id\":\"a\",\"name\":\"A\",\"kind\":\"ngo\","
                   "\"a/b~c\":1}",
                   "/a~1b~0c");
        want_error(PB_ADM_BODY_ORG_PATCH, "{}", "");
        want_error(PB_ADM_BODY_TOKEN_CREATE, "{\"name\":\"t\",\"role\":1}",
                   "/role");
        want_error(PB_ADM_BODY_SUB_CREATE,
                   "{\"name\":\"s\",\"topics\":[\"t\"],\"endpoint\":\"x\","
                   "\"retry\":{\"max_elapsed_s\":0}}",
                   "/retry/max_elapsed_s");
        want_error(PB_ADM_BODY_SUB_CREATE,
                   "{\"name\":\"s\",\"topics\":[\"t\",\"t\"],\"endpoint\":"
                   "\"x\"}",
                   "/topics/1");
        want_error(PB_ADM_BODY_SUB_PATCH, "{\"secret\":\"x\"}", "/secret");
        want_error(PB_ADM_BODY_SUB_PATCH, "{\"where\":[\"a=1\",\"b\"]}",
                   "/where/1");
        want_error(PB_ADM_BODY_RETRANSMIT, "{\"from\":\"2026-13-01\"}",
                   "/from");
        want_error(PB_ADM_BODY_EMPTY, "{\"a\":1}", "/a");
        want_error(PB_ADM_BODY_EMPTY, "{\"a\":1,\"a\":2}", "");
        assert_true(pb_adm_org_id_valid("blau-gelbes-kreuz"));
        assert_false(pb_adm_org_id_valid("Blau"));
        assert_false(pb_adm_org_id_valid("-x"));
        assert_false(pb_adm_org_id_valid(""));
        assert_false(pb_adm_org_id_valid("a123456789012345678901234567890123456"
                                         "789012345678901234567890123"));
}

PB_TEST_MAIN(cmocka_unit_test(test_private_ranges),
             cmocka_unit_test(test_bodies))
