/* partnerbus admin - the REST API under /v1/admin (docs/admin.md).
 *
 * Every call: authenticate (operator token, or a token of the tokens topic
 * with role org-admin), route, validate the whole request (body, path
 * ids, permissions) before anything is written, write to Kafka and wait
 * for the acknowledgement and the read-back, answer. Every call that
 * changes something, and every such call refused after authentication,
 * writes an audit record (secrets, digests and bearer replaced by "***").
 * Errors: {"error":CODE,"message":...,"pointer":P,"errors":[{pointer,
 * message}]}; pointers into the body start with "/", those naming a path
 * parameter with "/path/" (e.g. /path/subscription). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "partnerbus/pb_util.h"
#include "pb_adm.h"
#include "pb_cli.h"

typedef struct actor {
        int op;         /* the operator */
        char org[64];   /* the token's organisation ("" for operator) */
        char name[128]; /* token name or "operator" */
        char role[16];  /* the token's role ("" for operator) */
} actor_t;

typedef struct call {
        pb_adm_t *adm;
        const pb_adm_request_t *rq;
        pb_adm_response_t *rs;
        actor_t who;
        int authed;
        int mutating;
        const char *action;
        const char *object_type;
        char object_id[80];
        char object_org[64];
        cJSON *before, *after; /* for the audit record; owned */
} call_t;

/* ------------------------------------------------------------ answers */

static void answer(call_t *c, unsigned status, cJSON *body) {
        c->rs->status = status;
        free(c->rs->body);
        c->rs->body = body ? cJSON_PrintUnformatted(body) : strdup("{}");
        cJSON_Delete(body);
}

static void fail(call_t *c, unsigned status, const char *code,
                 const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail(call_t *c, unsigned status, const char *code,
                 const char *pointer, const char *fmt, ...) {
        char msg[400];
        va_list ap;
        cJSON *b = cJSON_CreateObject(), *errs, *e;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        cJSON_AddStringToObject(b, "error", code);
        cJSON_AddStringToObject(b, "message", msg);
        if (!pointer)
                pointer = ""; /* the request as a whole */
        {
                cJSON_AddStringToObject(b, "pointer", pointer);
                errs = cJSON_AddArrayToObject(b, "errors");
                e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "pointer", pointer);
                cJSON_AddStringToObject(e, "message", msg);
                cJSON_AddItemToArray(errs, e);
        }
        answer(c, status, b);
}

static void fail_errs(call_t *c, const pb_adm_errors_t *errs) {
        cJSON *b = cJSON_CreateObject(), *a;
        size_t i;
        unsigned st = 400;
        cJSON_AddStringToObject(b, "error", "invalid");
        cJSON_AddStringToObject(b, "message",
                                errs->n ? errs->e[0].message : "invalid");
        cJSON_AddStringToObject(b, "pointer",
                                errs->n ? errs->e[0].pointer : "");
        a = cJSON_AddArrayToObject(b, "errors");
        for (i = 0; i < errs->n; i++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "pointer", errs->e[i].pointer);
                cJSON_AddStringToObject(e, "message", errs->e[i].message);
                cJSON_AddItemToArray(a, e);
        }
        answer(c, st, b);
}

/* ------------------------------------------------------------ helpers */

static const char *sget(const cJSON *o, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void now_text(char *buf, size_t size) {
        pb_rfc3339_format(pb_now_ms(), buf, size);
}

static void set_item(cJSON *o, const char *name, cJSON *v) {
        if (cJSON_GetObjectItemCaseSensitive(o, name))
                cJSON_ReplaceItemInObjectCaseSensitive(o, name, v);
        else
                cJSON_AddItemToObject(o, name, v);
}

/* A copy without secrets: digest, secret, bearer -> "***" (when set). */
static cJSON *redact(const cJSON *v) {
        static const char *const secret[] = {"digest", "secret", "bearer",
                                             "token", NULL};
        cJSON *r;
        size_t i;
        if (!v)
                return cJSON_CreateNull();
        r = cJSON_Duplicate(v, 1);
        for (i = 0; secret[i]; i++) {
                cJSON *x = cJSON_GetObjectItemCaseSensitive(r, secret[i]);
                if (x && !cJSON_IsNull(x))
                        set_item(r, secret[i], cJSON_CreateString("***"));
        }
        return r;
}

static void random_text(const char *prefix, char *out, size_t size) {
        uint8_t rnd[32];
        char b64[64];
        char *p;
        RAND_bytes(rnd, sizeof(rnd));
        pb_base64_encode(rnd, sizeof(rnd), b64, sizeof(b64));
        for (p = b64; *p; p++)
                if (*p == '+')
                        *p = '-';
                else if (*p == '/')
                        *p = '_';
                else if (*p == '=')
                        *p = 0;
        snprintf(out, size, "%s%s", prefix, b64);
}

static int write_rec(call_t *c, int topic, const char *key, const cJSON *v) {
        char err[300];
        if (pb_adm_state_write(c->adm->state, topic, key, v, err, sizeof(err)) <
            0) {
                const char *labels[] = {"kind", "state", NULL};
                pb_log("warn", "cmd=admin msg=\"write failed: %s\"", err);
                pb_metrics_add(c->adm->metrics,
                               "partnerbus_admin_writes_failed_total", labels,
                               1);
                fail(c, 503, "unavailable", NULL, "Kafka: %s", err);
                return -1;
        }
        return 0;
}

/* ----------------------------------------------------- authentication */

/* GET /v1/admin/whoami: operator, or organisation, token name and role;
 * with org (the organisation's record) also what it may publish and read */
static cJSON *whoami(call_t *c, const cJSON *org) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "operator", c->who.op);
        if (!c->who.op)
                cJSON_AddStringToObject(o, "org", c->who.org);
        cJSON_AddStringToObject(o, "token", c->who.name);
        cJSON_AddStringToObject(o, "role",
                                c->who.op ? "operator" : c->who.role);
        if (org) {
                static const char *const keep[] = {"name", "publish", "read",
                                                   NULL};
                size_t i;
                for (i = 0; keep[i]; i++) {
                        const cJSON *x =
                            cJSON_GetObjectItemCaseSensitive(org, keep[i]);
                        if (x)
                                cJSON_AddItemToObject(o,
                                                      i ? keep[i] : "org_name",
                                                      cJSON_Duplicate(x, 1));
                }
        }
        return o;
}

static int authenticate(call_t *c) {
        const char *h = c->rq->auth;
        size_t n;
        cJSON *t, *o;
        if (!h || strncasecmp(h, "Bearer ", 7)) {
                fail(c, 401, "unauthorized", NULL,
                     "missing 'Authorization: Bearer <token>' header");
                return -1;
        }
        h += 7;
        while (*h == ' ')
                h++;
        n = strlen(h);
        if (n == 0 || n > 512) {
                fail(c, 401, "unauthorized", NULL, "unknown bearer token");
                return -1;
        }
        if (c->adm->have_operator) {
                uint8_t d[32];
                pb_sha256(h, n, d);
                if (CRYPTO_memcmp(d, c->adm->operator_digest, 32) == 0) {
                        c->who.op = 1;
                        snprintf(c->who.name, sizeof(c->who.name), "operator");
                        c->authed = 1;
                        return 0;
                }
        }
        t = pb_adm_state_token_by_secret(c->adm->state, h, n);
        if (!t) {
                fail(c, 401, "unauthorized", NULL, "unknown bearer token");
                return -1;
        }
        {
                const cJSON *rev =
                    cJSON_GetObjectItemCaseSensitive(t, "revoked_at");
                const char *org = sget(t, "org"), *role = sget(t, "role");
                o = org ? pb_adm_state_get(c->adm->state, PB_ADM_T_ORGS, org)
                        : NULL;
                if ((rev && !cJSON_IsNull(rev)) || !o ||
                    cJSON_IsTrue(
                        cJSON_GetObjectItemCaseSensitive(o, "disabled"))) {
                        cJSON_Delete(o);
                        cJSON_Delete(t);
                        fail(c, 401, "unauthorized", NULL,
                             "bearer token revoked, or its organisation is "
                             "disabled");
                        return -1;
                }
                snprintf(c->who.org, sizeof(c->who.org), "%s", org);
                snprintf(c->who.name, sizeof(c->who.name), "%s",
                         sget(t, "name") ? sget(t, "name") : "");
                snprintf(c->who.role, sizeof(c->who.role), "%s",
                         role ? role : "");
                c->authed = 1;
                if (role && strcmp(role, "org-admin") &&
                    !strcmp(c->rq->method, "GET") &&
                    !strcmp(c->rq->path, "/v1/admin/whoami")) {
                        /* any valid token learns who it is and what its
                         * organisation may publish and read (the console
                         * signs publishers in with it); nothing else here */
                        answer(c, 200, whoami(c, o));
                        cJSON_Delete(o);
                        cJSON_Delete(t);
                        return -1;
                }
                cJSON_Delete(o);
                if (!role || strcmp(role, "org-admin")) {
                        /* role points into t: answer, then free */
                        fail(c, 403, "forbidden", NULL,
                             "the management API needs an org-admin token "
                             "(this one is a %s token)",
                             role ? role : "?");
                        cJSON_Delete(t);
                        return -1;
                }
        }
        cJSON_Delete(t);
        return 0;
}

/* The org of the path must be the caller's own, unless operator. */
static int may_manage(call_t *c, const char *org) {
        if (c->who.op || !strcmp(c->who.org, org))
                return 1;
        fail(c, 403, "forbidden", "/path/org", "organisation %s is not yours",
             org);
        return 0;
}

static int need_operator(call_t *c) {
        if (c->who.op)
                return 1;
        fail(c, 403, "forbidden", NULL, "only the operator may do this");
        return 0;
}

static int type_known_state(void *opaque, const char *type) {
        pb_adm_t *adm = opaque;
        return adm->type_known ? adm->type_known(adm->type_opaque, type) : 1;
}

static cJSON *parse_body(call_t *c, pb_adm_body_kind_t kind) {
        pb_adm_errors_t errs;
        cJSON *b;
        if (c->rq->body_too_large) {
                fail(c, 413, "body_too_large", "",
                     "request body larger than --max-body (%zu bytes)",
                     c->adm->set.http.max_body);
                return NULL;
        }
        b = pb_adm_body_parse(kind, c->rq->body ? c->rq->body : "",
                              c->rq->body_len, type_known_state, c->adm, &errs);
        if (!b)
                fail_errs(c, &errs);
        return b;
}

/* ------------------------------------------------------ organisations */

static cJSON *get_org(call_t *c, const char *id) {
        cJSON *o = pb_adm_state_get(c->adm->state, PB_ADM_T_ORGS, id);
        if (!o)
                fail(c, 404, "not_found", "/path/org",
                     "no organisation '%.63s'", id);
        return o;
}

static void org_create(call_t *c) {
        cJSON *b, *o;
        char now[40];
        c->action = "org.create";
        c->object_type = "organisation";
        if (!need_operator(c) || !(b = parse_body(c, PB_ADM_BODY_ORG_CREATE)))
                return;
        snprintf(c->object_id, sizeof(c->object_id), "%s", sget(b, "id"));
        snprintf(c->object_org, sizeof(c->object_org), "%s", sget(b, "id"));
        if ((o = pb_adm_state_get(c->adm->state, PB_ADM_T_ORGS,
                                  sget(b, "id")))) {
                cJSON_Delete(o);
                cJSON_Delete(b);
                fail(c, 409, "exists", "/id", "organisation exists already");
                return;
        }
        now_text(now, sizeof(now));
        if (!cJSON_GetObjectItem(b, "publish"))
                cJSON_AddItemToObject(b, "publish", cJSON_CreateArray());
        if (!cJSON_GetObjectItem(b, "read"))
                cJSON_AddItemToObject(b, "read", cJSON_CreateArray());
        cJSON_AddBoolToObject(b, "disabled", 0);
        cJSON_AddStringToObject(b, "created_at", now);
        cJSON_AddStringToObject(b, "updated_at", now);
        cJSON_AddNumberToObject(b, "version", 1);
        if (write_rec(c, PB_ADM_T_ORGS, c->object_id, b) < 0) {
                cJSON_Delete(b);
                return;
        }
        c->after = redact(b);
        answer(c, 201, b);
}

static void org_update(call_t *c, const char *id, pb_adm_body_kind_t kind,
                       int disabled) {
        cJSON *b = NULL, *o, *m;
        char now[40];
        snprintf(c->object_id, sizeof(c->object_id), "%s", id);
        snprintf(c->object_org, sizeof(c->object_org), "%s", id);
        if (!need_operator(c))
                return;
        if (!(b = parse_body(c, kind)))
                return;
        if (!(o = get_org(c, id))) {
                cJSON_Delete(b);
                return;
        }
        c->before = redact(o);
        if (kind == PB_ADM_BODY_EMPTY)
                set_item(o, "disabled", cJSON_CreateBool(disabled));
        else
                for (m = b->child; m; m = m->next)
                        set_item(o, m->string, cJSON_Duplicate(m, 1));
        now_text(now, sizeof(now));
        set_item(o, "updated_at", cJSON_CreateString(now));
        {
                const cJSON *v = cJSON_GetObjectItem(o, "version");
                set_item(o, "version",
                         cJSON_CreateNumber(
                             cJSON_IsNumber(v) ? v->valuedouble + 1 : 1));
        }
        cJSON_Delete(b);
        if (write_rec(c, PB_ADM_T_ORGS, id, o) < 0) {
                cJSON_Delete(o);
                return;
        }
        c->after = redact(o);
        answer(c, 200, o);
}

/* --------------------------------------------------------------- tokens */

static cJSON *token_view(pb_adm_state_t *s, const cJSON *t) {
        cJSON *v = cJSON_CreateObject(), *u;
        static const char *const keep[] = {"id",         "org",    "name",
                                           "role",       "prefix", "created_at",
                                           "revoked_at", NULL};
        size_t i;
        for (i = 0; keep[i]; i++) {
                const cJSON *x = cJSON_GetObjectItemCaseSensitive(t, keep[i]);
                cJSON_AddItemToObject(
                    v, keep[i], x ? cJSON_Duplicate(x, 1) : cJSON_CreateNull());
        }
        u = sget(t, "id") ? pb_adm_state_get(s, PB_ADM_T_USAGE, sget(t, "id"))
                          : NULL;
        cJSON_AddItemToObject(v, "last_used_at",
                              sget(u, "last_used_at")
                                  ? cJSON_CreateString(sget(u, "last_used_at"))
                                  : cJSON_CreateNull());
        cJSON_Delete(u);
        return v;
}

static void token_issue(call_t *c, const char *org) {
        cJSON *b, *o, *all, *t;
        char id[37], tok[80], hex[65], prefix[16], now[40];
        c->action = "token.issue";
        c->object_type = "token";
        snprintf(c->object_org, sizeof(c->object_org), "%s", org);
        if (!may_manage(c, org) ||
            !(b = parse_body(c, PB_ADM_BODY_TOKEN_CREATE)))
                return;
        if (!(o = get_org(c, org))) {
                cJSON_Delete(b);
                return;
        }
        cJSON_Delete(o);
        /* a name is unique among the org's tokens not revoked */
        all = pb_adm_state_list(c->adm->state, PB_ADM_T_TOKENS, org);
        cJSON_ArrayForEach(t, all) {
                const cJSON *r = cJSON_GetObjectItem(t, "revoked_at");
                if (sget(t, "name") &&
                    !strcmp(sget(t, "name"), sget(b, "name")) &&
                    (!r || cJSON_IsNull(r))) {
                        cJSON_Delete(all);
                        cJSON_Delete(b);
                        fail(c, 409, "exists", "/name",
                             "a token of that name exists (revoke it first)");
                        return;
                }
        }
        cJSON_Delete(all);
        pb_uuid_v4(id);
        random_text("pbt_", tok, sizeof(tok));
        pb_sha256_hex(tok, strlen(tok), hex);
        snprintf(prefix, sizeof(prefix), "%.10s", tok);
        now_text(now, sizeof(now));
        snprintf(c->object_id, sizeof(c->object_id), "%s", id);
        t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "id", id);
        cJSON_AddStringToObject(t, "org", org);
        cJSON_AddStringToObject(t, "name", sget(b, "name"));
        cJSON_AddStringToObject(t, "role", sget(b, "role"));
        cJSON_AddStringToObject(t, "digest", hex);
        cJSON_AddStringToObject(t, "prefix", prefix);
        cJSON_AddStringToObject(t, "created_at", now);
        cJSON_AddNullToObject(t, "revoked_at");
        cJSON_Delete(b);
        if (write_rec(c, PB_ADM_T_TOKENS, id, t) < 0) {
                cJSON_Delete(t);
                return;
        }
        c->after = redact(t);
        b = token_view(c->adm->state, t);
        cJSON_AddStringToObject(b, "token", tok);
        cJSON_Delete(t);
        answer(c, 201, b);
}

/* GET /v1/admin/orgs/ORG/NAME: the organisation's records of one topic,
 * each as view shows it, in an array named name */
static void org_list(call_t *c, const char *org, int topic, const char *name,
                     cJSON *(*view)(pb_adm_state_t *, const cJSON *)) {
        cJSON *all, *e, *out, *a;
        if (!may_manage(c, org))
                return;
        if (!(e = get_org(c, org)))
                return;
        cJSON_Delete(e);
        all = pb_adm_state_list(c->adm->state, topic, org);
        out = cJSON_CreateObject();
        a = cJSON_AddArrayToObject(out, name);
        cJSON_ArrayForEach(e, all)
            cJSON_AddItemToArray(a, view(c->adm->state, e));
        cJSON_Delete(all);
        answer(c, 200, out);
}

static void token_list(call_t *c, const char *org) {
        org_list(c, org, PB_ADM_T_TOKENS, "tokens", token_view);
}

static void token_revoke(call_t *c, const char *org, const char *id) {
        cJSON *b, *t;
        char now[40];
        c->action = "token.revoke";
        c->object_type = "token";
        snprintf(c->object_org, sizeof(c->object_org), "%s", org);
        snprintf(c->object_id, sizeof(c->object_id), "%.79s", id);
        if (!may_manage(c, org) || !(b = parse_body(c, PB_ADM_BODY_EMPTY)))
                return;
        cJSON_Delete(b);
        t = pb_adm_state_get(c->adm->state, PB_ADM_T_TOKENS, id);
        if (!t || !sget(t, "org") || strcmp(sget(t, "org"), org)) {
                cJSON_Delete(t);
                fail(c, 404, "not_found", "/path/token",
                     "organisation %s has no token '%.40s'", org, id);
                return;
        }
        c->before = redact(t);
        {
                const cJSON *r = cJSON_GetObjectItem(t, "revoked_at");
                if (r && !cJSON_IsNull(r)) {
                        c->after = redact(t);
                        answer(c, 200, token_view(c->adm->state, t));
                        cJSON_Delete(t);
                        return;
                }
        }
        now_text(now, sizeof(now));
        set_item(t, "revoked_at", cJSON_CreateString(now));
        if (write_rec(c, PB_ADM_T_TOKENS, id, t) < 0) {
                cJSON_Delete(t);
                return;
        }
        c->after = redact(t);
        answer(c, 200, token_view(c->adm->state, t));
        cJSON_Delete(t);
}

/* -------------------------------------------------------- subscriptions */

/* Every topic must be readable by org: 0, or -1 answered 403. */
static int check_readable(call_t *c, const cJSON *org, const cJSON *topics) {
        const cJSON *t, *r;
        int i = 0;
        cJSON_ArrayForEach(t, topics) {
                int ok = 0;
                cJSON_ArrayForEach(
                    r, cJSON_GetObjectItem(
                           org, "read")) if (sget(r, "type") &&
                                             !strcmp(sget(r, "type"),
                                                     t->valuestring)) ok = 1;
                if (!ok) {
                        char p[32];
                        snprintf(p, sizeof(p), "/topics/%d", i);
                        fail(c, 403, "forbidden", p,
                             "organisation %s may not read %s", sget(org, "id"),
                             t->valuestring);
                        return -1;
                }
                i++;
        }
        return 0;
}

static cJSON *sub_view(const cJSON *s) {
        return redact(s);
}

static cJSON *get_sub(call_t *c, const char *org, const char *id) {
        cJSON *s = pb_adm_state_get(c->adm->state, PB_ADM_T_SUBS, id);
        if (!s || !sget(s, "org") || strcmp(sget(s, "org"), org)) {
                cJSON_Delete(s);
                fail(c, 404, "not_found", "/path/subscription",
                     "organisation %s has no subscription '%.40s'", org, id);
                return NULL;
        }
        return s;
}

static int endpoint_ok(call_t *c, const char *url, const char *id,
                       const char *org) {
        pb_adm_endpoint_opts_t eo;
        char why[400];
        unsigned st;
        eo.allow_http = c->adm->set.allow_http_endpoints;
        eo.allow_private = c->adm->set.allow_private_endpoints;
        eo.verify = c->adm->set.verify_endpoints;
        eo.verify_timeout = c->adm->set.verify_timeout;
        st = pb_adm_endpoint_check(&eo, url, id, org, why, sizeof(why));
        if (st) {
                fail(c, st, st == 422 ? "verification_failed" : "bad_endpoint",
                     "/endpoint", "%s", why);
                return -1;
        }
        return 0;
}

static void bump(cJSON *s) {
        char now[40];
        const cJSON *v = cJSON_GetObjectItem(s, "version");
        now_text(now, sizeof(now));
        set_item(s, "updated_at", cJSON_CreateString(now));
        set_item(
            s, "version",
            cJSON_CreateNumber(cJSON_IsNumber(v) ? v->valuedouble + 1 : 1));
}

static void sub_create(call_t *c, const char *org) {
        cJSON *b, *o, *s, *m;
        char id[37], secret[80], now[40];
        c->action = "subscription.create";
        c->object_type = "subscription";
        snprintf(c->object_org, sizeof(c->object_org), "%s", org);
        if (!may_manage(c, org) || !(b = parse_body(c, PB_ADM_BODY_SUB_CREATE)))
                return;
        if (!(o = get_org(c, org))) {
                cJSON_Delete(b);
                return;
        }
        if (check_readable(c, o, cJSON_GetObjectItem(b, "topics")) < 0) {
                cJSON_Delete(o);
                cJSON_Delete(b);
                return;
        }
        cJSON_Delete(o);
        pb_uuid_v4(id);
        snprintf(c->object_id, sizeof(c->object_id), "%s", id);
        if (endpoint_ok(c, sget(b, "endpoint"), id, org) < 0) {
                cJSON_Delete(b);
                return;
        }
        random_text("pbs_", secret, sizeof(secret));
        now_text(now, sizeof(now));
        s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "id", id);
        cJSON_AddStringToObject(s, "org", org);
        for (m = b->child; m; m = m->next)
                cJSON_AddItemToObject(s, m->string, cJSON_Duplicate(m, 1));
        if (!cJSON_GetObjectItem(s, "batch_size"))
                cJSON_AddNumberToObject(s, "batch_size", 1);
        if (!cJSON_GetObjectItem(s, "rate_limit_per_s"))
                cJSON_AddNumberToObject(s, "rate_limit_per_s", 0);
        if (!cJSON_GetObjectItem(s, "retry")) {
                cJSON *r = cJSON_AddObjectToObject(s, "retry");
                cJSON_AddNumberToObject(r, "max_elapsed_s", 3600);
        }
        if (!cJSON_GetObjectItem(s, "bearer"))
                cJSON_AddNullToObject(s, "bearer");
        cJSON_AddStringToObject(s, "secret", secret);
        cJSON_AddStringToObject(s, "state", "active");
        cJSON_AddStringToObject(s, "verified_at", now);
        cJSON_AddStringToObject(s, "created_at", now);
        cJSON_AddStringToObject(s, "updated_at", now);
        cJSON_AddNumberToObject(s, "version", 1);
        cJSON_Delete(b);
        if (write_rec(c, PB_ADM_T_SUBS, id, s) < 0) {
                cJSON_Delete(s);
                return;
        }
        c->after = redact(s);
        b = sub_view(s);
        cJSON_ReplaceItemInObjectCaseSensitive(b, "secret",
                                               cJSON_CreateString(secret));
        cJSON_Delete(s);
        answer(c, 201, b);
}

static void sub_change(call_t *c, const char *org, const char *id,
                       const char *what) {
        cJSON *b = NULL, *s, *o, *m;
        char secret[80] = "";
        pb_adm_body_kind_t kind = PB_ADM_BODY_EMPTY;
        static char action[64];
        c->object_type = "subscription";
        snprintf(c->object_org, sizeof(c->object_org), "%s", org);
        snprintf(c->object_id, sizeof(c->object_id), "%.79s", id);
        if (!strcmp(what, "patch")) {
                c->action = "subscription.change";
                kind = PB_ADM_BODY_SUB_PATCH;
        } else if (!strcmp(what, "retransmit")) {
                c->action = "subscription.retransmit";
                kind = PB_ADM_BODY_RETRANSMIT;
        } else if (!strcmp(what, "delete"))
                c->action = "subscription.delete";
        else if (!strcmp(what, "suspend"))
                c->action = "subscription.suspend";
        else if (!strcmp(what, "resume"))
                c->action = "subscription.resume";
        else
                c->action = "subscription.rotate_secret";
        (void)action;
        if (!may_manage(c, org) || !(b = parse_body(c, kind)))
                return;
        if (!(s = get_sub(c, org, id))) {
                cJSON_Delete(b);
                return;
        }
        c->before = redact(s);
        if (!strcmp(what, "delete")) {
                cJSON_Delete(b);
                cJSON_Delete(s);
                if (write_rec(c, PB_ADM_T_SUBS, id, NULL) < 0)
                        return;
                c->after = cJSON_CreateNull();
                answer(c, 200, cJSON_CreateObject());
                return;
        }
        if (!strcmp(what, "patch")) {
                const cJSON *topics = cJSON_GetObjectItem(b, "topics");
                const char *ep = sget(b, "endpoint");
                if (topics) {
                        if (!(o = get_org(c, org)))
                                goto out;
                        if (check_readable(c, o, topics) < 0) {
                                cJSON_Delete(o);
                                goto out;
                        }
                        cJSON_Delete(o);
                }
                if (ep && strcmp(ep, sget(s, "endpoint") ? sget(s, "endpoint")
                                                         : "")) {
                        char now[40];
                        if (endpoint_ok(c, ep, id, org) < 0)
                                goto out;
                        now_text(now, sizeof(now));
                        set_item(s, "verified_at", cJSON_CreateString(now));
                }
                for (m = b->child; m; m = m->next)
                        set_item(s, m->string, cJSON_Duplicate(m, 1));
        } else if (!strcmp(what, "suspend")) {
                set_item(s, "state", cJSON_CreateString("suspended"));
        } else if (!strcmp(what, "resume")) {
                set_item(s, "state", cJSON_CreateString("active"));
        } else if (!strcmp(what, "retransmit")) {
                const cJSON *r = cJSON_GetObjectItem(s, "retransmit");
                const cJSON *q = cJSON_GetObjectItem(r, "seq");
                cJSON *n = cJSON_CreateObject();
                cJSON_AddStringToObject(n, "from", sget(b, "from"));
                cJSON_AddNumberToObject(
                    n, "seq", cJSON_IsNumber(q) ? q->valuedouble + 1 : 1);
                set_item(s, "retransmit", n);
        } else {
                random_text("pbs_", secret, sizeof(secret));
                set_item(s, "secret", cJSON_CreateString(secret));
        }
        bump(s);
        if (write_rec(c, PB_ADM_T_SUBS, id, s) < 0)
                goto out;
        c->after = redact(s);
        {
                cJSON *v = sub_view(s);
                if (secret[0])
                        cJSON_ReplaceItemInObjectCaseSensitive(
                            v, "secret", cJSON_CreateString(secret));
                answer(c, 200, v);
        }
out:
        cJSON_Delete(b);
        cJSON_Delete(s);
}

static cJSON *sub_view_of(pb_adm_state_t *st, const cJSON *s) {
        return sub_view(s);
}

static void sub_list(call_t *c, const char *org) {
        org_list(c, org, PB_ADM_T_SUBS, "subscriptions", sub_view_of);
}

static void sub_show(call_t *c, const char *org, const char *id, int status) {
        cJSON *s, *st;
        if (!may_manage(c, org) || !(s = get_sub(c, org, id)))
                return;
        if (!status) {
                answer(c, 200, sub_view(s));
                cJSON_Delete(s);
                return;
        }
        st = pb_adm_state_get(c->adm->state, PB_ADM_T_STATUS, id);
        if (!st) {
                /* the fleet has not reported yet */
                st = cJSON_CreateObject();
                cJSON_AddStringToObject(st, "id", id);
                cJSON_AddStringToObject(
                    st, "state",
                    !strcmp(sget(s, "state") ? sget(s, "state") : "",
                            "suspended")
                        ? "SUSPENDED"
                        : "UNKNOWN");
                cJSON_AddNullToObject(st, "updated_at");
        }
        cJSON_Delete(s);
        answer(c, 200, st);
}

/* --------------------------------------------------------------- audit */

static void audit_get(call_t *c) {
        const char *org = c->rq->query_org;
        long limit = 100;
        cJSON *out;
        if (c->rq->query_limit) {
                char *end;
                limit = strtol(c->rq->query_limit, &end, 10);
                if (*end || limit < 1 || limit > 10000) {
                        fail(c, 400, "invalid", "/query/limit",
                             "limit: a number from 1 to 10000");
                        return;
                }
        }
        if (org && !pb_adm_org_id_valid(org)) {
                fail(c, 400, "invalid", "/query/org", "not an organisation id");
                return;
        }
        if (!c->who.op) {
                if (org && strcmp(org, c->who.org)) {
                        fail(c, 403, "forbidden", "/query/org",
                             "organisation %s is not yours", org);
                        return;
                }
                org = c->who.org;
        }
        out = cJSON_CreateObject();
        cJSON_AddItemToObject(
            out, "entries",
            pb_adm_state_audit(c->adm->state, org, (size_t)limit));
        answer(c, 200, out);
}

static void write_audit(call_t *c) {
        cJSON *a = cJSON_CreateObject();
        char now[40], err[200];
        int ok = c->rs->status >= 200 && c->rs->status < 300;
        const char *key = c->who.op ? "operator" : c->who.org;
        now_text(now, sizeof(now));
        cJSON_AddStringToObject(a, "at", now);
        cJSON_AddStringToObject(a, "request_id", c->rs->request_id);
        if (c->who.op)
                cJSON_AddNullToObject(a, "actor_org");
        else
                cJSON_AddStringToObject(a, "actor_org", c->who.org);
        cJSON_AddStringToObject(a, "actor_token", c->who.name);
        cJSON_AddStringToObject(a, "action", c->action);
        cJSON_AddStringToObject(a, "object_type",
                                c->object_type ? c->object_type : "");
        cJSON_AddStringToObject(a, "object_id", c->object_id);
        if (c->object_org[0] && pb_adm_org_id_valid(c->object_org))
                cJSON_AddStringToObject(a, "org", c->object_org);
        cJSON_AddItemToObject(a, "before",
                              c->before ? c->before : cJSON_CreateNull());
        cJSON_AddItemToObject(a, "after",
                              ok && c->after ? c->after : cJSON_CreateNull());
        if (!ok)
                cJSON_Delete(c->after);
        c->before = c->after = NULL;
        cJSON_AddStringToObject(a, "result", ok ? "ok" : "refused");
        cJSON_AddNumberToObject(a, "status", c->rs->status);
        if (pb_adm_state_write(c->adm->state, PB_ADM_T_AUDIT, key, a, err,
                               sizeof(err)) < 0) {
                const char *labels[] = {"kind", "audit", NULL};
                pb_log("error",
                       "cmd=admin msg=\"audit record not written: %s\" "
                       "request_id=%s action=%s",
                       err, c->rs->request_id, c->action);
                pb_metrics_add(c->adm->metrics,
                               "partnerbus_admin_writes_failed_total", labels,
                               1);
        }
        cJSON_Delete(a);
}

/* --------------------------------------------------------------- history */

/* ?entity=: an entity id as the Kafka key holds it (shipment, grant,
 * partnership id): 1 to 128 printable ASCII characters without spaces,
 * quotes, backslash or angle brackets. */
static int entity_valid(const char *s) {
        size_t n = strlen(s), i;
        if (n < 1 || n > 128)
                return 0;
        for (i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (ch <= ' ' || ch >= 127 || strchr("\"'\\<>`", ch))
                        return 0;
        }
        return 1;
}

/* Adds type (readable, with its where filter) to q; -1 after an answer. */
static int add_type(call_t *c, pb_adm_events_query_t *q, const char *type,
                    const cJSON *where) {
        const cJSON *w;
        char err[200];
        if (q->ntypes == PB_ADM_EVENTS_MAX_TYPES)
                return 0;
        q->types[q->ntypes] = type;
        q->where[q->ntypes] = NULL;
        if (where && !cJSON_IsNull(where)) {
                pb_filter_t *f = pb_filter_new();
                if (!f) {
                        fail(c, 500, "internal", NULL, "out of memory");
                        return -1;
                }
                q->where[q->ntypes] = f;
                if (cJSON_IsString(where))
                        w = where;
                else
                        w = where->child;
                for (; w; w = cJSON_IsString(where) ? NULL : w->next)
                        if (!cJSON_IsString(w) ||
                            pb_filter_add(f, w->valuestring, err,
                                          sizeof(err)) != PB_OK) {
                                q->ntypes++;
                                fail(c, 500, "internal", NULL,
                                     "the read filter of %s: %s", type,
                                     cJSON_IsString(w) ? err : "not text");
                                return -1;
                        }
        }
        q->ntypes++;
        return 0;
}

/* GET /v1/admin/orgs/{org}/events (org NULL: /v1/admin/events, the
 * operator's view of every type): ?type=T&limit=N, the newest N events;
 * ?entity=ID, every version of one entity. Only the types the
 * organisation may read, through its read filters. */
static void events_get(call_t *c, const char *org) {
        pb_adm_events_query_t q;
        const char *type = c->rq->query_type, *entity = c->rq->query_entity;
        cJSON *o = NULL, *out = NULL, *r, *types;
        long limit = entity ? 1000 : 50, max = entity ? 1000 : 500;
        char err[300];
        size_t i;
        int busy;
        memset(&q, 0, sizeof(q));
        if (org ? !may_manage(c, org) : !need_operator(c))
                return;
        if (c->rq->query_limit) {
                char *end;
                limit = strtol(c->rq->query_limit, &end, 10);
                if (*end || limit < 1 || limit > max) {
                        fail(c, 400, "invalid", "/query/limit",
                             "limit: a number from 1 to %ld", max);
                        return;
                }
        }
        if (type && !type_known_state(c->adm, type)) {
                fail(c, 400, "invalid", "/query/type", "not an event type");
                return;
        }
        if (entity && !entity_valid(entity)) {
                fail(c, 400, "invalid", "/query/entity",
                     "entity: 1 to 128 printable characters, no spaces or "
                     "quotes");
                return;
        }
        if (org && !(o = get_org(c, org)))
                return;
        if (!org || !o) {
                /* the operator: every type of the catalog */
                const pb_schemas_t *cat = c->adm->catalog;
                size_t n = cat ? pb_schemas_count(cat) : 0;
                for (i = 0; i < n; i++) {
                        const char *t = pb_schema_type(pb_schemas_at(cat, i));
                        if (!type || !strcmp(t, type))
                                if (add_type(c, &q, t, NULL) < 0)
                                        goto out;
                }
        } else {
                int found = 0;
                cJSON_ArrayForEach(r, cJSON_GetObjectItem(o, "read")) {
                        const char *t = sget(r, "type");
                        if (!t || (type && strcmp(t, type)))
                                continue;
                        found = 1;
                        if (add_type(c, &q, t,
                                     cJSON_GetObjectItem(r, "where")) < 0)
                                goto out;
                }
                if (type && !found) {
                        fail(c, 403, "forbidden", "/query/type",
                             "organisation %s may not read %s", org, type);
                        goto out;
                }
        }
        q.entity = entity;
        q.limit = (size_t)limit;
        q.scan_max = (size_t)c->adm->set.history_scan_max;
        q.timeout_ms = c->adm->set.history_timeout;
        busy = atomic_fetch_add(&c->adm->history_active, 1);
        if (busy >= PB_ADM_EVENTS_MAX_ACTIVE) {
                atomic_fetch_sub(&c->adm->history_active, 1);
                fail(c, 503, "busy", NULL,
                     "%d history requests are running; try again shortly",
                     PB_ADM_EVENTS_MAX_ACTIVE);
                goto out;
        }
        out = q.ntypes ? pb_adm_events_scan(c->adm, &q, err, sizeof(err))
                       : cJSON_CreateObject();
        atomic_fetch_sub(&c->adm->history_active, 1);
        if (!out) {
                pb_log("warn", "cmd=admin msg=\"history: %s\"", err);
                fail(c, 503, "unavailable", NULL, "Kafka: %s", err);
                goto out;
        }
        if (!q.ntypes) {
                cJSON_AddItemToObject(out, "events", cJSON_CreateArray());
                cJSON_AddBoolToObject(out, "truncated", 0);
                cJSON_AddNumberToObject(out, "scanned", 0);
        }
        types = cJSON_CreateArray();
        for (i = 0; i < q.ntypes; i++)
                cJSON_AddItemToArray(types, cJSON_CreateString(q.types[i]));
        cJSON_AddItemToObject(out, "types", types);
        if (org)
                cJSON_AddStringToObject(out, "org", org);
        else
                cJSON_AddNullToObject(out, "org");
        if (entity)
                cJSON_AddStringToObject(out, "entity", entity);
        else
                cJSON_AddNullToObject(out, "entity");
        cJSON_AddNumberToObject(out, "limit", (double)limit);
        cJSON_AddNumberToObject(out, "scan_max", (double)q.scan_max);
        answer(c, 200, out);
out:
        for (i = 0; i < q.ntypes; i++)
                pb_filter_destroy(q.where[i]);
        cJSON_Delete(o);
}

/* --------------------------------------------------------------- routes */

#define ORG "/v1/admin/orgs/{org}"
#define SUB ORG "/subscriptions/{id}"
const pb_adm_route_t pb_adm_routes[] = {
    {"GET", "/v1/admin/whoami"},
    {"GET", "/v1/admin/audit"},
    {"GET", "/v1/admin/events"},
    {"GET", "/v1/admin/orgs"},
    {"POST", "/v1/admin/orgs"},
    {"GET", ORG},
    {"PATCH", ORG},
    {"POST", ORG "/disable"},
    {"POST", ORG "/enable"},
    {"GET", ORG "/events"},
    {"GET", ORG "/tokens"},
    {"POST", ORG "/tokens"},
    {"DELETE", ORG "/tokens/{id}"},
    {"GET", ORG "/subscriptions"},
    {"POST", ORG "/subscriptions"},
    {"GET", SUB},
    {"PATCH", SUB},
    {"DELETE", SUB},
    {"GET", SUB "/status"},
    {"POST", SUB "/suspend"},
    {"POST", SUB "/resume"},
    {"POST", SUB "/retransmit"},
    {"POST", SUB "/rotate-secret"},
};
const size_t pb_adm_nroutes = sizeof(pb_adm_routes) / sizeof(pb_adm_routes[0]);

/* Splits path after /v1/admin/ into at most 6 segments; -1 if too many
 * or a segment is too long. */
static int split(const char *path, char seg[6][128]) {
        int n = 0;
        const char *p = path;
        while (*p) {
                const char *e = strchr(p, '/');
                size_t l = e ? (size_t)(e - p) : strlen(p);
                if (n == 6 || l >= 128)
                        return -1;
                memcpy(seg[n], p, l);
                seg[n][l] = 0;
                n++;
                if (!e)
                        break;
                p = e + 1;
        }
        return n;
}

static void route(call_t *c) {
        const char *m = c->rq->method, *path = c->rq->path;
        char seg[6][128];
        int n;
        if (strncmp(path, "/v1/admin/", 10)) {
                fail(c, 404, "not_found", NULL, "no such route");
                return;
        }
        n = split(path + 10, seg);
        if (n < 1) {
                fail(c, 404, "not_found", NULL, "no such route");
                return;
        }
        if (n == 1 && !strcmp(seg[0], "whoami") && !strcmp(m, "GET")) {
                answer(c, 200, whoami(c, NULL));
                return;
        }
        if (n == 1 && !strcmp(seg[0], "audit") && !strcmp(m, "GET")) {
                audit_get(c);
                return;
        }
        if (n == 1 && !strcmp(seg[0], "events")) {
                if (strcmp(m, "GET"))
                        goto nm;
                events_get(c, NULL);
                return;
        }
        if (strcmp(seg[0], "orgs"))
                goto nf;
        if (n == 1) {
                if (!strcmp(m, "POST")) {
                        org_create(c);
                } else if (!strcmp(m, "GET")) {
                        cJSON *out = cJSON_CreateObject();
                        cJSON_AddItemToObject(
                            out, "orgs",
                            c->who.op ? pb_adm_state_list(c->adm->state,
                                                          PB_ADM_T_ORGS, NULL)
                                      : cJSON_CreateArray());
                        if (!c->who.op) {
                                cJSON *o = pb_adm_state_get(
                                    c->adm->state, PB_ADM_T_ORGS, c->who.org);
                                if (o)
                                        cJSON_AddItemToArray(
                                            cJSON_GetObjectItem(out, "orgs"),
                                            o);
                        }
                        answer(c, 200, out);
                } else
                        goto nm;
                return;
        }
        if (!pb_adm_org_id_valid(seg[1])) {
                fail(c, 404, "not_found", "/path/org",
                     "not an organisation id");
                return;
        }
        if (n == 2) {
                if (!strcmp(m, "GET")) {
                        cJSON *o;
                        if (may_manage(c, seg[1]) && (o = get_org(c, seg[1])))
                                answer(c, 200, o);
                } else if (!strcmp(m, "PATCH")) {
                        c->action = "org.change";
                        c->object_type = "organisation";
                        org_update(c, seg[1], PB_ADM_BODY_ORG_PATCH, 0);
                } else
                        goto nm;
                return;
        }
        if (n == 3 &&
            (!strcmp(seg[2], "disable") || !strcmp(seg[2], "enable"))) {
                if (strcmp(m, "POST"))
                        goto nm;
                c->action =
                    !strcmp(seg[2], "disable") ? "org.disable" : "org.enable";
                c->object_type = "organisation";
                org_update(c, seg[1], PB_ADM_BODY_EMPTY,
                           !strcmp(seg[2], "disable"));
                return;
        }
        if (!strcmp(seg[2], "events")) {
                if (n != 3)
                        goto nf;
                if (strcmp(m, "GET"))
                        goto nm;
                events_get(c, seg[1]);
                return;
        }
        if (!strcmp(seg[2], "tokens")) {
                if (n == 3 && !strcmp(m, "POST"))
                        token_issue(c, seg[1]);
                else if (n == 3 && !strcmp(m, "GET"))
                        token_list(c, seg[1]);
                else if (n == 4 && !strcmp(m, "DELETE"))
                        token_revoke(c, seg[1], seg[3]);
                else if (n <= 4)
                        goto nm;
                else
                        goto nf;
                return;
        }
        if (!strcmp(seg[2], "subscriptions")) {
                if (n == 3 && !strcmp(m, "POST"))
                        sub_create(c, seg[1]);
                else if (n == 3 && !strcmp(m, "GET"))
                        sub_list(c, seg[1]);
                else if (n == 4 && !strcmp(m, "GET"))
                        sub_show(c, seg[1], seg[3], 0);
                else if (n == 4 && !strcmp(m, "PATCH"))
                        sub_change(c, seg[1], seg[3], "patch");
                else if (n == 4 && !strcmp(m, "DELETE"))
                        sub_change(c, seg[1], seg[3], "delete");
                else if (n == 5 && !strcmp(seg[4], "status") &&
                         !strcmp(m, "GET"))
                        sub_show(c, seg[1], seg[3], 1);
                else if (n == 5 && !strcmp(m, "POST") &&
                         (!strcmp(seg[4], "suspend") ||
                          !strcmp(seg[4], "resume") ||
                          !strcmp(seg[4], "retransmit") ||
                          !strcmp(seg[4], "rotate-secret")))
                        sub_change(c, seg[1], seg[3], seg[4]);
                else if (n <= 5)
                        goto nm;
                else
                        goto nf;
                return;
        }
nf:
        fail(c, 404, "not_found", NULL, "no such route");
        return;
nm:
        fail(c, 405, "method_not_allowed", NULL, "method %s not allowed here",
             m);
}

void pb_adm_handle(pb_adm_t *adm, const pb_adm_request_t *rq,
                   pb_adm_response_t *rs) {
        call_t c;
        memset(&c, 0, sizeof(c));
        c.adm = adm;
        c.rq = rq;
        c.rs = rs;
        rs->status = 500;
        rs->body = NULL;
        pb_uuid_v4(rs->request_id);
        atomic_fetch_add(&adm->requests, 1);
        if (!pb_adm_state_ready(adm->state)) {
                fail(&c, 503, "unavailable", NULL,
                     "the admin topics are still being read");
                return;
        }
        c.mutating = strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD");
        if (authenticate(&c) == 0)
                route(&c);
        if (c.authed && !c.action && c.mutating)
                c.action = "unknown"; /* refused before it was recognised */
        if (c.authed && c.action)
                write_audit(&c);
        cJSON_Delete(c.before);
        cJSON_Delete(c.after);
        if (!rs->body) {
                rs->status = 500;
                rs->body = strdup("{\"error\":\"internal\"}");
        }
}
