/* Integration test of pb_registry.c against a real Confluent-compatible
 * schema registry: Apicurio Registry (tests/registry/registry.sh), started
 * by this program and stopped when it ends (and by the script's watchdog if
 * this program is killed). With PB_REGISTRY_URL set, that registry is used
 * instead and nothing is started.
 *
 * Checks: every schema in $PARTNERBUS_SCHEMAS registers under
 * "<type>-value"; looking its id up returns a schema whose fingerprint, type
 * and key equal the local one; registering the same schema again gives the
 * same id; an evolved, compatible schema gets a new id; an incompatible one
 * is refused under BACKWARD compatibility with the registry's error; an
 * unknown id is PB_ERR_UNKNOWN_SCHEMA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "partnerbus/pb_serde.h"
#include "registry_fixture.h"

static char g_url[512];
static char g_dir[1024];
static int g_started;
static pb_schemas_t *g_catalog;

static const char *TYPES[] = {"aid.dispatched", "partnership.founded",
                              "funds.granted", "aid.delivered"};
#define NTYPES (sizeof(TYPES) / sizeof(TYPES[0]))

static int run_script(const char *cmd, char *out, size_t outsz) {
        const char *src = getenv("PB_SOURCE_DIR");
        char line[2048];
        FILE *p;
        int rc;
        snprintf(line, sizeof(line), "%s/tests/registry/registry.sh %s",
                 src ? src : "../..", cmd);
        p = popen(line, "r");
        if (!p)
                return -1;
        if (out && outsz) {
                out[0] = 0;
                if (fgets(out, (int)outsz, p))
                        out[strcspn(out, "\r\n")] = 0;
        }
        while (fgets(line, sizeof(line), p))
                ;
        rc = pclose(p);
        return rc;
}

static int setup(void **state) {
        const char *env = getenv("PB_REGISTRY_URL");
        const char *bin = getenv("PB_BINARY_DIR");
        const char *sdir = getenv("PARTNERBUS_SCHEMAS");
        char err[512] = "", cmd[1200];
        (void)state;
        g_catalog = pb_schemas_load_dir(sdir ? sdir : pb_schemas_default_dir(),
                                        err, sizeof(err));
        if (!g_catalog) {
                fprintf(stderr, "it_registry: loading schemas: %s\n", err);
                return -1;
        }
        if (env && *env) {
                snprintf(g_url, sizeof(g_url), "%s", env);
                return 0;
        }
        snprintf(g_dir, sizeof(g_dir), "%s/registry-it",
                 bin ? bin : "/tmp/partnerbus-it");
        snprintf(cmd, sizeof(cmd), "start --dir '%s' --owner %ld", g_dir,
                 (long)getpid());
        if (run_script(cmd, g_url, sizeof(g_url)) != 0 || !g_url[0]) {
                fprintf(stderr,
                        "it_registry: could not start the schema registry "
                        "(tests/registry/registry.sh start --dir %s)\n",
                        g_dir);
                return -1;
        }
        g_started = 1;
        fprintf(stderr, "it_registry: registry at %s\n", g_url);
        return 0;
}

static int teardown(void **state) {
        char cmd[1200];
        (void)state;
        if (g_started) {
                snprintf(cmd, sizeof(cmd), "stop --dir '%s'", g_dir);
                run_script(cmd, NULL, 0);
        }
        pb_schemas_destroy(g_catalog);
        return 0;
}

static pb_registry_t *client(const char *suffix) {
        char url[600], err[512] = "";
        pb_registry_t *r;
        snprintf(url, sizeof(url), "%s%s", g_url, suffix);
        r = pb_registry_new(url, err, sizeof(err));
        if (!r)
                fail_msg("pb_registry_new(%s): %s", url, err);
        return r;
}

static const pb_schema_t *local(const char *type) {
        const pb_schema_t *s = pb_schemas_find(g_catalog, type);
        if (!s)
                fail_msg("schema %s not in the local schemas", type);
        return s;
}

/* TopicNameStrategy: the subject of a topic's values is "<topic>-value",
 * and partnerbus's topic is the event type. */
static void subject_for(char *buf, size_t n, const char *type) {
        snprintf(buf, n, "%s-value", type);
}

static void test_register_and_lookup_every_schema(void **state) {
        pb_registry_t *w = client(""), *rd = client("/");
        uint32_t ids[NTYPES];
        size_t i, j;
        (void)state;
        for (i = 0; i < NTYPES; i++) {
                char subject[256], err[512] = "";
                const pb_schema_t *s = local(TYPES[i]), *got = NULL;
                subject_for(subject, sizeof(subject), TYPES[i]);
                if (pb_registry_register(w, subject, s, &ids[i], err,
                                         sizeof(err)) != PB_OK)
                        fail_msg("register %s: %s", subject, err);
                /* a separate client: the schema really comes from the
                 * registry, not from a cache filled by register */
                if (pb_registry_lookup(rd, ids[i], &got, err, sizeof(err)) !=
                    PB_OK)
                        fail_msg("lookup id %u: %s", (unsigned)ids[i], err);
                assert_true(pb_schema_fingerprint(got) ==
                            pb_schema_fingerprint(s));
                assert_string_equal(pb_schema_canonical(got),
                                    pb_schema_canonical(s));
                assert_string_equal(pb_schema_type(got), TYPES[i]);
                assert_non_null(pb_schema_key_field(got));
                assert_string_equal(pb_schema_key_field(got),
                                    pb_schema_key_field(s));
                fprintf(stderr, "it_registry: %s -> id %u\n", subject,
                        (unsigned)ids[i]);
        }
        for (i = 0; i < NTYPES; i++)
                for (j = i + 1; j < NTYPES; j++)
                        assert_true(ids[i] != ids[j]);
        pb_registry_destroy(w);
        pb_registry_destroy(rd);
}

static void test_same_schema_same_id(void **state) {
        /* two clients, so the second registration is a real request */
        pb_registry_t *a = client(""), *b = client("");
        const pb_schema_t *s = local("funds.granted");
        char subject[256], err[512] = "";
        uint32_t id1 = 0, id2 = 0, id3 = 0;
        (void)state;
        subject_for(subject, sizeof(subject), "funds.granted");
        assert_int_equal(
            pb_registry_register(a, subject, s, &id1, err, sizeof(err)), PB_OK);
        assert_int_equal(
            pb_registry_register(b, subject, s, &id2, err, sizeof(err)), PB_OK);
        assert_int_equal(id1, id2);
        /* cached in a: same answer without asking */
        assert_int_equal(
            pb_registry_register(a, subject, s, &id3, err, sizeof(err)), PB_OK);
        assert_int_equal(id1, id3);
        pb_registry_destroy(a);
        pb_registry_destroy(b);
}

/* The local schema plus one optional field with a default. malloc'd. */
static char *evolve(const pb_schema_t *s, const char *field) {
        cJSON *j = cJSON_Parse(pb_schema_json(s)), *fields, *f, *t;
        char *out;
        assert_non_null(j);
        fields = cJSON_GetObjectItemCaseSensitive(j, "fields");
        assert_true(cJSON_IsArray(fields));
        f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", field);
        t = cJSON_CreateArray();
        cJSON_AddItemToArray(t, cJSON_CreateString("null"));
        cJSON_AddItemToArray(t, cJSON_CreateString("string"));
        cJSON_AddItemToObject(f, "type", t);
        cJSON_AddNullToObject(f, "default");
        cJSON_AddStringToObject(f, "doc", "added by it_registry");
        cJSON_AddItemToArray(fields, f);
        out = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        return out;
}

/* PUT {url}/config/{subject} {"compatibility": level} with libcurl. */
static void set_compat(const char *subject, const char *level) {
        CURL *c = curl_easy_init();
        struct curl_slist *h = curl_slist_append(
            NULL, "Content-Type: application/vnd.schemaregistry.v1+json");
        char url[1024], body[128];
        long status = 0;
        assert_non_null(c);
        snprintf(url, sizeof(url), "%s/config/%s", g_url, subject);
        snprintf(body, sizeof(body), "{\"compatibility\":\"%s\"}", level);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, stderr);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        fprintf(stderr, "\n");
        if (status != 200)
                fail_msg("PUT %s: HTTP %ld", url, status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
}

static void test_evolution(void **state) {
        pb_registry_t *r = client("");
        const pb_schema_t *v1 = local("aid.dispatched"), *got = NULL;
        char subject[256], err[512] = "", *json;
        pb_schema_t *v2, *bad;
        uint32_t id1 = 0, id2 = 0, idbad = 0;
        cJSON *j, *fields, *f;
        char *badjson;
        (void)state;
        /* its own subject: the compatibility setting stays there */
        snprintf(subject, sizeof(subject), "aid.dispatched-evolution-value");
        assert_int_equal(
            pb_registry_register(r, subject, v1, &id1, err, sizeof(err)),
            PB_OK);
        set_compat(subject, "BACKWARD");

        /* compatible: an optional field with a default -> new id */
        json = evolve(v1, "handling_note");
        v2 = pb_schema_new(json, strlen(json), err, sizeof(err));
        if (!v2)
                fail_msg("evolved schema: %s", err);
        free(json);
        assert_true(pb_schema_fingerprint(v2) != pb_schema_fingerprint(v1));
        if (pb_registry_register(r, subject, v2, &id2, err, sizeof(err)) !=
            PB_OK)
                fail_msg("register evolved: %s", err);
        assert_true(id2 != id1);
        assert_int_equal(pb_registry_lookup(r, id2, &got, err, sizeof(err)),
                         PB_OK);
        assert_true(pb_schema_fingerprint(got) == pb_schema_fingerprint(v2));
        /* the new version reads data of the old one */
        assert_int_equal(pb_schema_can_read(got, v1, err, sizeof(err)), PB_OK);

        /* incompatible under BACKWARD: a new required field, no default */
        j = cJSON_Parse(pb_schema_json(v1));
        fields = cJSON_GetObjectItemCaseSensitive(j, "fields");
        f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", "mandatory_extra");
        cJSON_AddStringToObject(f, "type", "string");
        cJSON_AddItemToArray(fields, f);
        badjson = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        bad = pb_schema_new(badjson, strlen(badjson), err, sizeof(err));
        free(badjson);
        assert_non_null(bad);
        err[0] = 0;
        assert_int_equal(
            pb_registry_register(r, subject, bad, &idbad, err, sizeof(err)),
            PB_ERR_HTTP);
        fprintf(stderr, "it_registry: incompatible schema refused: %s\n", err);
        assert_non_null(strstr(err, "HTTP 409"));
        assert_non_null(strstr(err, subject));
        pb_schema_destroy(bad);
        pb_schema_destroy(v2);
        pb_registry_destroy(r);
}

static void test_unknown_id(void **state) {
        pb_registry_t *r = client("");
        const pb_schema_t *got = NULL;
        char err[512] = "";
        (void)state;
        assert_int_equal(
            pb_registry_lookup(r, 987654321u, &got, err, sizeof(err)),
            PB_ERR_UNKNOWN_SCHEMA);
        fprintf(stderr, "it_registry: unknown id: %s\n", err);
        assert_non_null(strstr(err, "40403"));
        assert_null(got);
        pb_registry_destroy(r);
}

static void test_wrong_base_path_is_http_error(void **state) {
        /* the server's root instead of the ccompat API */
        char root[600], *p;
        (void)state;
        snprintf(root, sizeof(root), "%s", g_url);
        p = strstr(root, "/apis/ccompat");
        if (!p)
                return; /* PB_REGISTRY_URL names another registry */
        snprintf(p, sizeof(root) - (size_t)(p - root), "/nothing-here");
        registry_lookup_fails(root, "HTTP 404");
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_register_and_lookup_every_schema),
            cmocka_unit_test(test_same_schema_same_id),
            cmocka_unit_test(test_evolution),
            cmocka_unit_test(test_unknown_id),
            cmocka_unit_test(test_wrong_base_path_is_http_error),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
