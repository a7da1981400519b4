/* partnerbus admin - the management service and its CLI.
 *
 *   partnerbus admin serve [options]      run the REST API (also: options
 *                                         without a command)
 *   partnerbus admin org|token|sub|audit|call ...   call it (pb_adm_cli.c)
 *
 * The service is stateless: organisations, tokens, token usage,
 * subscriptions, subscription status and the audit log live in Kafka
 * topics (docs/admin.md, "Records in Kafka"), read into memory at start
 * and followed. Several copies can run behind a load balancer. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "partnerbus/pb_common.h"
#include "partnerbus/pb_schema.h"
#include "partnerbus/pb_util.h"
#include "pb_adm.h"
#include "pb_cli.h"
#include "pb_cli_http.h"
#include "pb_optgroups.h"
#include "pb_opts.h"

#define CMD    "admin"
#define OFF(f) offsetof(pb_adm_settings_t, f)

static const pb_opt_t adm_opts[] = {
    PB_OPTG_LISTEN("127.0.0.1:8090", OFF(http.listen)),
    {"operator-token-file", 0, PB_OPT_STRING, NULL, "FILE",
     "the operator's token: its first line is the token itself, or "
     "sha256:HEX of it (required)",
     0, OFF(operator_token_file)},
    PB_OPTG_TLS(OFF(http)),
    {"threads", 0, PB_OPT_INT, "4", "N", "HTTP threads", 0, OFF(http.threads)},
    {"max-body", 0, PB_OPT_SIZE, "64KiB", "SIZE",
     "largest request body; larger ones get 413", 0, OFF(http.max_body)},
    PB_OPTG_CONN_TIMEOUT(OFF(http.conn_timeout)),
    PB_OPTG_OPS_LISTEN(OFF(http.ops_listen)),
    PB_OPTG_PORT_FILE(OFF(http.port_file)),
    {"allow-http-endpoints", 0, PB_OPT_BOOL, "false", NULL,
     "accept subscription endpoints with http:// (default: https only)", 0,
     OFF(allow_http_endpoints)},
    {"allow-private-endpoints", 0, PB_OPT_BOOL, "false", NULL,
     "accept endpoints whose host resolves to loopback, private, link-local "
     "or reserved addresses (development only)",
     0, OFF(allow_private_endpoints)},
    {"verify-endpoints", 0, PB_OPT_BOOL, "true", NULL,
     "send a new endpoint the verification request and refuse it unless it "
     "echoes the challenge",
     0, OFF(verify_endpoints)},
    {"verify-timeout", 0, PB_OPT_DURATION, "5s", "DURATION",
     "how long the verification request may take", 0, OFF(verify_timeout)},
    {"gateway-url", 0, PB_OPT_STRING, NULL, "URL",
     "the gateway the web console publishes through "
     "(POST /v1/console/events/TYPE is forwarded to URL/v1/events/TYPE "
     "with the caller's token; unset: the console cannot publish)",
     0, OFF(gateway_url)},
    {"audit-keep", 0, PB_OPT_INT, "100000", "N",
     "newest audit records held in memory for GET /v1/admin/audit", 0,
     OFF(audit_keep)},
    PB_OPTG_ORGS_TOPIC(OFF(orgs_topic)),
    PB_OPTG_TOKENS_TOPIC(OFF(tokens_topic)),
    PB_OPTG_TOKEN_USAGE_TOPIC(OFF(usage_topic)),
    PB_OPTG_SUBSCRIPTIONS_TOPIC(OFF(subs_topic)),
    PB_OPTG_STATUS_TOPIC(OFF(status_topic)),
    {"audit-topic", 0, PB_OPT_STRING, "partnerbus.admin.audit", "NAME",
     "append-only audit topic", 0, OFF(audit_topic)},
    {"history-scan-max", 0, PB_OPT_INT, "20000", "N",
     "messages a history request (GET .../events) reads at most; beyond, "
     "its answer says truncated",
     0, OFF(history_scan_max)},
    {"history-timeout", 0, PB_OPT_DURATION, "5s", "DURATION",
     "how long a history request may read Kafka", 0, OFF(history_timeout)},
    PB_OPTG_PRINT_ROUTES(OFF(http.print_routes)),
};

static const pb_cmd_spec_t adm_spec = {
    CMD,
    "self-service management API: organisations, tokens, subscriptions, "
    "audit",
    "[serve] --brokers B --operator-token-file F (--tls-cert F --tls-key F "
    "| --insecure-http)\n"
    "       partnerbus admin org|token|sub|audit|call ... (see "
    "'partnerbus admin org --help')",
    "Serves the JSON API under /v1/admin (docs/admin.md, docs/openapi.json).\n"
    "State lives in Kafka topics only; run as many copies as you like.\n"
    "Gateways started with --admin-topics apply organisations and tokens\n"
    "within seconds; 'partnerbus relay --fleet' runs the subscriptions.\n\n"
    "Example:\n"
    "  head -c 32 /dev/urandom | base64 > operator.token\n"
    "  partnerbus admin serve --brokers 127.0.0.1:9092 --insecure-http \\\n"
    "      --operator-token-file operator.token\n"
    "  partnerbus admin org create blau-gelbes-kreuz --name 'Blau-Gelbes "
    "Kreuz' \\\n"
    "      --kind ngo --publish aid.dispatched --token-file operator.token\n\n"
    "Deutsch: Verwaltungsdienst für Organisationen, Tokens, Abonnements\n"
    "und Audit; der Zustand liegt nur in Kafka.\n"
    "Українською: служба керування організаціями, токенами, підписками й\n"
    "аудитом; стан зберігається лише в Kafka.\n",
    adm_opts,
    sizeof(adm_opts) / sizeof(adm_opts[0]),
    1,
};

static int type_known(void *opaque, const char *type) {
        pb_schemas_t *cat = opaque;
        size_t i, n = pb_schemas_count(cat);
        for (i = 0; i < n; i++)
                if (!strcmp(pb_schema_type(pb_schemas_at(cat, i)), type))
                        return 1;
        return 0;
}

static int ops_ready(void *opaque, char *reason, size_t reason_size) {
        pb_adm_t *adm = opaque;
        return pb_cli_ready(pb_adm_state_ready(adm->state),
                            "the admin topics are still being read", reason,
                            reason_size);
}

static int load_operator(pb_adm_t *adm, char *err, size_t errsz) {
        char *t = pb_opts_read_secret(adm->set.operator_token_file, err, errsz);
        size_t i, n;
        if (!t)
                return -1;
        n = strlen(t);
        if (n == 71 && !strncmp(t, "sha256:", 7)) {
                for (i = 0; i < 32; i++) {
                        int hi = pb_hex_value((unsigned char)t[7 + 2 * i]);
                        int lo = pb_hex_value((unsigned char)t[8 + 2 * i]);
                        if (hi < 0 || lo < 0) {
                                snprintf(err, errsz,
                                         "%s: sha256: is not followed by 64 "
                                         "hex digits",
                                         adm->set.operator_token_file);
                                free(t);
                                return -1;
                        }
                        adm->operator_digest[i] = (uint8_t)(hi << 4 | lo);
                }
        } else if (n < 16) {
                snprintf(err, errsz,
                         "%s: the operator token must have at least 16 "
                         "characters",
                         adm->set.operator_token_file);
                memset(t, 0, n);
                free(t);
                return -1;
        } else {
                pb_sha256(t, n, adm->operator_digest);
        }
        memset(t, 0, n);
        free(t);
        adm->have_operator = 1;
        return 0;
}

static void print_routes(void) {
        pb_httpd_print_routes(pb_adm_routes, pb_adm_nroutes);
}

static int serve(int argc, char **argv) {
        pb_adm_t adm;
        pb_cli_common_t cc;
        pb_schemas_t *cat = NULL;
        pb_ops_server_t *ops = NULL;
        int rc;
        char err[512];
        const char *topics[PB_ADM_NTOPICS];

        memset(&adm, 0, sizeof(adm));
        memset(&cc, 0, sizeof(cc));
        rc = pb_opts_parse_serve(&adm_spec, &adm.set, &adm.set.http, &cc, argc,
                                 argv, print_routes);
        if (rc >= 0)
                return rc;
        rc = PB_EXIT_USAGE;
        if (!adm.set.operator_token_file) {
                pb_cli_usage_error(CMD, "--operator-token-file is required");
                goto out;
        }
        if (adm.set.http.max_body < 64 || adm.set.http.max_body > (16u << 20) ||
            adm.set.audit_keep < 1 || adm.set.audit_keep > 10000000 ||
            adm.set.verify_timeout < 100 || adm.set.history_scan_max < 1 ||
            adm.set.history_scan_max > 10000000 ||
            adm.set.history_timeout < 100 || adm.set.history_timeout > 600000) {
                pb_cli_usage_error(CMD, "a numeric option is out of range");
                goto out;
        }
        pb_cli_common_finish(&cc);
        if (!pb_cli_require_brokers(CMD, &cc))
                goto out;
        rc = PB_EXIT_FAIL;
        if (load_operator(&adm, err, sizeof(err)) < 0) {
                fprintf(stderr, "partnerbus %s: %s\n", CMD, err);
                goto out;
        }
        cat = pb_cli_load_schemas(CMD, &cc);
        if (!cat)
                goto out;
        adm.type_known = type_known;
        adm.type_opaque = cat;
        adm.catalog = cat;
        adm.kconf = &cc.kconf;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        topics[PB_ADM_T_ORGS] = adm.set.orgs_topic;
        topics[PB_ADM_T_TOKENS] = adm.set.tokens_topic;
        topics[PB_ADM_T_USAGE] = adm.set.usage_topic;
        topics[PB_ADM_T_SUBS] = adm.set.subs_topic;
        topics[PB_ADM_T_STATUS] = adm.set.status_topic;
        topics[PB_ADM_T_AUDIT] = adm.set.audit_topic;
        adm.state = pb_adm_state_new(
            &cc.kconf, topics, (size_t)adm.set.audit_keep, err, sizeof(err));
        if (!adm.state) {
                fprintf(stderr, "partnerbus %s: %s\n", CMD, err);
                goto out;
        }
        adm.metrics = pb_metrics_new();
        if (!adm.metrics) {
                fprintf(stderr, "partnerbus %s: out of memory\n", CMD);
                goto out;
        }
        pb_metrics_declare(adm.metrics, "partnerbus_admin_requests_total",
                           "counter", "API requests by method and status code",
                           NULL, 0);
        pb_metrics_declare(adm.metrics, "partnerbus_admin_writes_failed_total",
                           "counter",
                           "records Kafka did not acknowledge (kind: state "
                           "or audit)",
                           NULL, 0);
        pb_cli_trap_signals();
        if (pb_adm_http_start(&adm, err, sizeof(err)) < 0) {
                fprintf(stderr, "partnerbus %s: %s\n", CMD, err);
                goto out;
        }
        if (pb_cli_http_announce(CMD, &adm.set.http, pb_adm_http_port(&adm),
                                 cc.brokers, NULL, adm.metrics, ops_ready, NULL,
                                 &adm, &ops) < 0)
                goto out;
        while (!pb_cli_stop)
                usleep(100 * 1000);
        pb_log("info", "cmd=admin msg=\"stopping\"");
        rc = PB_EXIT_OK;
out:
        pb_ops_server_destroy(ops);
        if (adm.daemon)
                MHD_stop_daemon(adm.daemon);
        pb_adm_state_destroy(adm.state);
        pb_metrics_destroy(adm.metrics);
        pb_schemas_destroy(cat);
        free(adm.tls_cert_pem);
        free(adm.tls_key_pem);
        pb_opts_free();
        return rc;
}

int pb_cmd_admin(int argc, char **argv) {
        if (argc >= 2 && pb_adm_cli_is_command(argv[1]))
                return pb_adm_cli(argc, argv);
        if (argc >= 2 && !strcmp(argv[1], "serve")) {
                argv[1] = argv[0];
                return serve(argc - 1, argv + 1);
        }
        return serve(argc, argv);
}
