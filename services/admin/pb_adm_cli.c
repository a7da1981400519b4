/* partnerbus admin - the CLI for operators' scripts: each subcommand is
 * one call of the REST API (libcurl); the answer's JSON goes to stdout,
 * an error answer to stderr with exit status 1 (usage errors: 2). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "partnerbus/pb_serde.h"
#include "pb_adm.h"
#include "pb_cli.h"
#include "pb_opts.h"

static const char cli_usage[] =
    "Usage: partnerbus admin COMMAND ... [--url URL] [--token-file FILE]\n"
    "\n"
    "Calls the management API of a running 'partnerbus admin serve'.\n"
    "  --url URL          the API (env PARTNERBUS_ADMIN_URL; default\n"
    "                     http://127.0.0.1:8090)\n"
    "  --token-file FILE  the bearer token: the operator token or an\n"
    "                     org-admin token (env PARTNERBUS_ADMIN_TOKEN_FILE,\n"
    "                     or the token itself in PARTNERBUS_ADMIN_TOKEN)\n"
    "  --cacert FILE      CA certificate(s) to check an https URL with\n"
    "\n"
    "Commands:\n"
    "  org create ID --name NAME --kind KIND [--publish T1,T2]\n"
    "             [--read TYPE[:WHERE]]...\n"
    "  org list | org show ID | org disable ID | org enable ID\n"
    "  org change ID --data JSON|@FILE\n"
    "  token issue ORG --name NAME --role publisher|subscriber|org-admin\n"
    "  token list ORG | token revoke ORG TOKEN-ID\n"
    "  sub create ORG --data JSON|@FILE\n"
    "  sub list ORG | sub show|status|delete|suspend|resume|rotate-secret "
    "ORG ID\n"
    "  sub change ORG ID --data JSON|@FILE\n"
    "  sub retransmit ORG ID --from TIME\n"
    "  audit [--org ORG] [--limit N]\n"
    "  call METHOD PATH [--data JSON|@FILE]\n"
    "\n"
    "The answer is printed as JSON; an issued token or a subscription's\n"
    "signing secret is shown this once. Exit status: 0 ok, 1 the API\n"
    "refused (its message on stderr), 2 usage.\n"
    "\n"
    "Deutsch: Ruft die Verwaltungs-API auf (Organisationen, Tokens,\n"
    "Abonnements, Audit). Ein ausgestelltes Token und ein Signatur-\n"
    "geheimnis werden nur einmal angezeigt.\n"
    "Українською: викликає API керування (організації, токени, підписки,\n"
    "аудит). Виданий токен і секрет підпису показуються лише один раз.\n";

int pb_adm_cli_is_command(const char *w) {
        static const char *const cmds[] = {"org",   "token", "sub",
                                           "audit", "call",  NULL};
        size_t i;
        for (i = 0; cmds[i]; i++)
                if (!strcmp(w, cmds[i]))
                        return 1;
        return 0;
}

typedef struct cli {
        const char *url, *token_file, *cacert, *data, *name, *kind, *role;
        const char *publish, *from, *org, *limit;
        const char *read[64];
        size_t nread;
        const char *pos[6];
        size_t npos;
} cli_t;

/* the options that take a value, and the field it goes to */
static const struct {
        const char *name;
        size_t off;
} cli_opts[] = {
    {"--url", offsetof(cli_t, url)},
    {"--token-file", offsetof(cli_t, token_file)},
    {"--cacert", offsetof(cli_t, cacert)},
    {"--data", offsetof(cli_t, data)},
    {"--name", offsetof(cli_t, name)},
    {"--kind", offsetof(cli_t, kind)},
    {"--role", offsetof(cli_t, role)},
    {"--publish", offsetof(cli_t, publish)},
    {"--from", offsetof(cli_t, from)},
    {"--org", offsetof(cli_t, org)},
    {"--limit", offsetof(cli_t, limit)},
};

static char *load_data(const char *d) {
        FILE *fp;
        char *buf;
        size_t n;
        if (d[0] != '@')
                return strdup(d);
        fp = !strcmp(d, "@-") ? stdin : fopen(d + 1, "rb");
        if (!fp)
                return NULL;
        buf = malloc(4u << 20);
        n = buf ? fread(buf, 1, (4u << 20) - 1, fp) : 0;
        if (fp != stdin)
                fclose(fp);
        if (buf)
                buf[n] = 0;
        return buf;
}

static int call(const cli_t *c, const char *method, const char *path,
                const char *body) {
        CURL *h = curl_easy_init();
        struct curl_slist *hs = NULL;
        char url[2048], auth[700], *tok = NULL, err[256];
        const char *env_tok = getenv("PARTNERBUS_ADMIN_TOKEN");
        pb_http_body_t o = {.over = 0};
        const char *txt;
        long code = 0;
        CURLcode cr;
        int rc = 1;
        cJSON *j;
        pb_buf_init(&o.buf, 64u << 20);
        if (!h)
                return 1;
        if (c->token_file) {
                tok = pb_opts_read_secret(c->token_file, err, sizeof(err));
                if (!tok) {
                        fprintf(stderr, "partnerbus admin: %s\n", err);
                        curl_easy_cleanup(h);
                        return 2;
                }
        } else if (env_tok)
                tok = strdup(env_tok);
        if (!tok || !tok[0] || strlen(tok) > 600) {
                fprintf(stderr, "partnerbus admin: no token: give --token-file "
                                "FILE or PARTNERBUS_ADMIN_TOKEN\n");
                free(tok);
                curl_easy_cleanup(h);
                return 2;
        }
        snprintf(url, sizeof(url), "%s%s", c->url, path);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
        free(tok);
        hs = curl_slist_append(hs, auth);
        hs = curl_slist_append(hs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
        if (body)
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        if (c->cacert)
                curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, pb_http_body_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &o);
        cr = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        txt = (const char *)o.buf.data;
        memset(auth, 0, sizeof(auth));
        if (cr != CURLE_OK) {
                fprintf(stderr, "partnerbus admin: %s: %s\n", c->url,
                        curl_easy_strerror(cr));
        } else {
                j = txt ? cJSON_Parse(txt) : NULL;
                if (code >= 200 && code < 300) {
                        char *pretty = j ? cJSON_Print(j) : NULL;
                        printf("%s\n", pretty ? pretty : (txt ? txt : ""));
                        free(pretty);
                        rc = 0;
                } else {
                        const cJSON *m = cJSON_GetObjectItem(j, "message");
                        const cJSON *p = cJSON_GetObjectItem(j, "pointer");
                        fprintf(stderr,
                                "partnerbus admin: HTTP %ld: %s%s%s%s\n", code,
                                cJSON_IsString(m) ? m->valuestring
                                                  : (txt ? txt : ""),
                                cJSON_IsString(p) ? " (at " : "",
                                cJSON_IsString(p) ? p->valuestring : "",
                                cJSON_IsString(p) ? ")" : "");
                        if (txt)
                                fprintf(stderr, "%s", txt);
                }
                cJSON_Delete(j);
        }
        curl_slist_free_all(hs);
        curl_easy_cleanup(h);
        pb_buf_free(&o.buf);
        return rc;
}

static int usage_err(const char *msg) {
        fprintf(stderr, "partnerbus admin: %s\n(see partnerbus admin --help)\n",
                msg);
        return 2;
}

static int need(const cli_t *c, size_t n) {
        return c->npos == n;
}

/* org create ID: the object of --data (or a new one) with the ID and the
 * options that name, kind, publish and read; -1 after a usage message. */
static int org_create(const cli_t *c, const char *body) {
        cJSON *o = body ? cJSON_Parse(body) : cJSON_CreateObject();
        cJSON *pub, *rd;
        char *txt;
        size_t k;
        int rc;
        if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                usage_err("--data is not a JSON object");
                return -1;
        }
        cJSON_AddStringToObject(o, "id", c->pos[2]);
        if (c->name)
                cJSON_AddStringToObject(o, "name", c->name);
        if (c->kind)
                cJSON_AddStringToObject(o, "kind", c->kind);
        if (c->publish) {
                char *dup = strdup(c->publish), *save = NULL, *t;
                pub = cJSON_AddArrayToObject(o, "publish");
                for (t = strtok_r(dup, ",", &save); t;
                     t = strtok_r(NULL, ",", &save))
                        cJSON_AddItemToArray(pub, cJSON_CreateString(t));
                free(dup);
        }
        if (c->nread) {
                rd = cJSON_AddArrayToObject(o, "read");
                for (k = 0; k < c->nread; k++) {
                        cJSON *e = cJSON_CreateObject();
                        const char *colon = strchr(c->read[k], ':');
                        char t[256];
                        snprintf(t, sizeof(t), "%.*s",
                                 colon ? (int)(colon - c->read[k])
                                       : (int)strlen(c->read[k]),
                                 c->read[k]);
                        cJSON_AddStringToObject(e, "type", t);
                        if (colon)
                                cJSON_AddStringToObject(e, "where", colon + 1);
                        cJSON_AddItemToArray(rd, e);
                }
        }
        txt = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        rc = call(c, "POST", "/v1/admin/orgs", txt);
        free(txt);
        return rc;
}

/* What a route sends: nothing, an empty body, --data (required), or a
 * small object of the named options (--from required). */
enum { B_NONE, B_EMPTY, B_DATA, B_TOKEN, B_FROM };

/* The commands that are one call: the path is /v1/admin/orgs, then /ORG
 * (the third word), mid, /ID (the fourth word), tail. */
static const struct route {
        const char *cmd, *sub;
        size_t npos;
        const char *method, *mid, *tail;
        int body;
} routes[] = {
    {"org", "list", 2, "GET", "", "", B_NONE},
    {"org", "show", 3, "GET", "", "", B_NONE},
    {"org", "disable", 3, "POST", "", "/disable", B_EMPTY},
    {"org", "enable", 3, "POST", "", "/enable", B_EMPTY},
    {"org", "change", 3, "PATCH", "", "", B_DATA},
    {"token", "list", 3, "GET", "/tokens", "", B_NONE},
    {"token", "revoke", 4, "DELETE", "/tokens", "", B_NONE},
    {"token", "issue", 3, "POST", "/tokens", "", B_TOKEN},
    {"sub", "list", 3, "GET", "/subscriptions", "", B_NONE},
    {"sub", "create", 3, "POST", "/subscriptions", "", B_DATA},
    {"sub", "show", 4, "GET", "/subscriptions", "", B_NONE},
    {"sub", "delete", 4, "DELETE", "/subscriptions", "", B_NONE},
    {"sub", "change", 4, "PATCH", "/subscriptions", "", B_DATA},
    {"sub", "status", 4, "GET", "/subscriptions", "/status", B_NONE},
    {"sub", "suspend", 4, "POST", "/subscriptions", "/suspend", B_EMPTY},
    {"sub", "resume", 4, "POST", "/subscriptions", "/resume", B_EMPTY},
    {"sub", "rotate-secret", 4, "POST", "/subscriptions", "/rotate-secret",
     B_EMPTY},
    {"sub", "retransmit", 4, "POST", "/subscriptions", "/retransmit", B_FROM},
};

static void path_add(char *path, size_t size, const char *s) {
        strncat(path, s, size - strlen(path) - 1);
}

static int route_call(const cli_t *c, const struct route *r, const char *data) {
        char path[1024] = "/v1/admin/orgs", *txt = NULL;
        int rc;
        if (c->npos > 2) {
                path_add(path, sizeof(path), "/");
                path_add(path, sizeof(path), c->pos[2]);
        }
        path_add(path, sizeof(path), r->mid);
        if (c->npos > 3) {
                path_add(path, sizeof(path), "/");
                path_add(path, sizeof(path), c->pos[3]);
        }
        path_add(path, sizeof(path), r->tail);
        if (r->body == B_TOKEN || r->body == B_FROM) {
                cJSON *o = cJSON_CreateObject();
                if (r->body == B_FROM)
                        cJSON_AddStringToObject(o, "from", c->from);
                if (r->body == B_TOKEN && c->name)
                        cJSON_AddStringToObject(o, "name", c->name);
                if (r->body == B_TOKEN && c->role)
                        cJSON_AddStringToObject(o, "role", c->role);
                txt = cJSON_PrintUnformatted(o);
                cJSON_Delete(o);
                data = txt;
        } else if (r->body == B_EMPTY)
                data = "";
        else if (r->body == B_NONE)
                data = NULL;
        rc = call(c, r->method, path, data);
        free(txt);
        return rc;
}

/* The exit status of the command in c (2: bad arguments, -1: bad
 * arguments already told). */
static int run(const cli_t *c, const char *body) {
        const char *cmd = c->pos[0], *sub = c->npos > 1 ? c->pos[1] : NULL;
        char path[1024];
        size_t k;
        for (k = 0; sub && k < sizeof(routes) / sizeof(routes[0]); k++) {
                const struct route *r = &routes[k];
                if (strcmp(cmd, r->cmd) || strcmp(sub, r->sub) ||
                    c->npos != r->npos)
                        continue;
                if ((r->body == B_DATA && !body) ||
                    (r->body == B_FROM && !c->from))
                        return 2;
                return route_call(c, r, body);
        }
        if (!strcmp(cmd, "org") && sub && !strcmp(sub, "create") && need(c, 3))
                return org_create(c, body);
        if (!strcmp(cmd, "audit") && need(c, 1)) {
                snprintf(path, sizeof(path), "/v1/admin/audit%s%s%s%s%s",
                         c->org || c->limit ? "?" : "", c->org ? "org=" : "",
                         c->org ? c->org : "", c->org && c->limit ? "&" : "",
                         c->limit ? "limit=" : "");
                if (c->limit)
                        path_add(path, sizeof(path), c->limit);
                return call(c, "GET", path, NULL);
        }
        if (!strcmp(cmd, "call") && need(c, 3))
                return call(c, c->pos[1], c->pos[2], body);
        return 2;
}

int pb_adm_cli(int argc, char **argv) {
        cli_t c;
        int i, rc;
        char *body = NULL;
        const char *cmd, *sub = NULL;
        memset(&c, 0, sizeof(c));
        c.url = getenv("PARTNERBUS_ADMIN_URL");
        if (!c.url)
                c.url = "http://127.0.0.1:8090";
        c.token_file = getenv("PARTNERBUS_ADMIN_TOKEN_FILE");
        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char **slot = NULL;
                size_t k;
                if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                        fputs(cli_usage, stdout);
                        return 0;
                }
                for (k = 0; k < sizeof(cli_opts) / sizeof(cli_opts[0]); k++)
                        if (!strcmp(a, cli_opts[k].name))
                                slot = (const char **)((char *)&c +
                                                       cli_opts[k].off);
                if (slot) {
                        if (i + 1 >= argc) {
                                fprintf(stderr,
                                        "partnerbus admin: %s needs a value\n",
                                        a);
                                return 2;
                        }
                        *slot = argv[++i];
                } else if (!strcmp(a, "--read")) {
                        if (i + 1 >= argc || c.nread == 64)
                                return usage_err("--read needs TYPE[:WHERE]");
                        c.read[c.nread++] = argv[++i];
                } else if (a[0] == '-' && a[1]) {
                        fprintf(stderr, "partnerbus admin: unknown option %s\n",
                                a);
                        return 2;
                } else {
                        if (c.npos == 6)
                                return usage_err("too many arguments");
                        c.pos[c.npos++] = a;
                }
        }
        if (c.npos < 1)
                return usage_err("no command");
        cmd = c.pos[0];
        sub = c.npos > 1 ? c.pos[1] : NULL;
        if (c.data) {
                body = load_data(c.data);
                if (!body)
                        return usage_err("--data @FILE: cannot read FILE");
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = run(&c, body);
        if (rc == -1)
                rc = 2; /* told already */
        else if (rc == 2 && !(c.npos && !strcmp(cmd, "call")))
                fprintf(stderr,
                        "partnerbus admin: bad arguments for '%s%s%s' "
                        "(see partnerbus admin --help)\n",
                        cmd, sub ? " " : "", sub ? sub : "");
        free(body);
        curl_global_cleanup();
        return rc;
}
