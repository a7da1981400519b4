/* partnerbus - Confluent Schema Registry client (libcurl + cJSON).
 *
 * Speaks the subset of the Confluent Schema Registry REST API that the
 * Confluent wire format needs:
 *   POST {url}/subjects/{subject}/versions  {"schema": "..."} -> {"id": N}
 *   GET  {url}/schemas/ids/{id}                               -> {"schema":
 * "..."} and works with any registry that implements it (Confluent's own,
 * Apicurio under /apis/ccompat/v7, Karapace, Redpanda).
 *
 * Caches (both bounded, entries never evicted):
 *  - (subject, fingerprint) -> id: a full cache only means more requests;
 *  - id -> compiled schema: the schema pointer handed out by
 *    pb_registry_lookup stays valid until pb_registry_destroy, so ids beyond
 *    PB_REGISTRY_MAX_SCHEMAS are refused (PB_ERR_LIMIT) rather than evicted.
 *
 * Credentials: user:password in the URL's userinfo, else the environment
 * variable PARTNERBUS_SCHEMA_REGISTRY_AUTH ("user:password"); sent as HTTP
 * basic auth and never written into an error message (errors name the URL
 * without its userinfo).
 *
 * Thread-safety: every call takes the registry's mutex, so one registry may
 * be shared by threads; requests are then serialised. */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "partnerbus/pb_serde.h"
#include "partnerbus/pb_util.h"

#define PB_REG_ID_SLOTS     2048 /* 2 x PB_REGISTRY_MAX_SUBJECT_IDS */
#define PB_REG_SCHEMA_SLOTS 2048 /* 2 x PB_REGISTRY_MAX_SCHEMAS */

typedef struct pb_reg_ident {
        char *subject; /* NULL: free slot */
        uint64_t fingerprint;
        uint32_t id;
} pb_reg_ident_t;

typedef struct pb_reg_sment {
        int used;
        uint32_t id;
        pb_schema_t *schema;
} pb_reg_sment_t;

struct pb_registry {
        pthread_mutex_t lock;
        CURL *curl;
        char *base;    /* URL without userinfo and trailing slash */
        char *userpwd; /* "user:password" or NULL; secret, never shown */
        long connect_timeout_ms;
        long timeout_ms;
        size_t max_body;
        pb_http_body_t body; /* response body of the last request */
        char curl_err[CURL_ERROR_SIZE];

        pb_reg_ident_t ids[PB_REG_ID_SLOTS];
        size_t nids;
        pb_reg_sment_t schemas[PB_REG_SCHEMA_SLOTS];
        size_t nschemas;
};

static pthread_once_t pb_reg_curl_once = PTHREAD_ONCE_INIT;
static CURLcode pb_reg_curl_init_rc = CURLE_OK;

static void pb_reg_curl_init(void) {
        pb_reg_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *pb_reg_strdup(const char *s) {
        size_t n = strlen(s);
        char *d = malloc(n + 1);
        if (d)
                memcpy(d, s, n + 1);
        return d;
}

/* Overwrites a secret before freeing it. */
static void pb_reg_free_secret(char *s) {
        if (!s)
                return;
        volatile char *p = s;
        while (*p)
                *p++ = 0;
        free(s);
}

/* --- construction --- */

/* Splits url into base (no userinfo, no trailing '/') and credentials.
 * Returns 0, or -1 with errstr set (which never contains the URL's
 * userinfo). */
static int pb_reg_parse_url(pb_registry_t *r, const char *url, char *errstr,
                            size_t errstr_size) {
        CURLU *u = curl_url();
        char *scheme = NULL, *user = NULL, *pass = NULL, *full = NULL;
        int ret = -1;
        if (!u) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
                snprintf(errstr, errstr_size,
                         "schema registry URL is not a valid absolute URL "
                         "(expected http://host:port[/path])");
                goto out;
        }
        if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
                snprintf(errstr, errstr_size,
                         "schema registry URL must be http:// or https://, "
                         "not %s://",
                         scheme);
                goto out;
        }
        if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) ==
            CURLUE_OK) {
                size_t ul = strlen(user), pl;
                if (curl_url_get(u, CURLUPART_PASSWORD, &pass,
                                 CURLU_URLDECODE) != CURLUE_OK)
                        pass = NULL;
                pl = pass ? strlen(pass) : 0;
                r->userpwd = malloc(ul + 1 + pl + 1);
                if (!r->userpwd) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto out;
                }
                memcpy(r->userpwd, user, ul);
                r->userpwd[ul] = ':';
                if (pl)
                        memcpy(r->userpwd + ul + 1, pass, pl);
                r->userpwd[ul + 1 + pl] = 0;
                curl_url_set(u, CURLUPART_USER, NULL, 0);
                curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
        }
        curl_url_set(u, CURLUPART_QUERY, NULL, 0);
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
        if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
                snprintf(errstr, errstr_size,
                         "schema registry URL is not a valid absolute URL");
                goto out;
        }
        r->base = pb_reg_strdup(full);
        if (!r->base) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        {
                size_t n = strlen(r->base);
                while (n > 0 && r->base[n - 1] == '/')
                        r->base[--n] = 0;
        }
        ret = 0;
out:
        if (pass) {
                memset(pass, 0, strlen(pass));
                curl_free(pass);
        }
        if (user) {
                memset(user, 0, strlen(user));
                curl_free(user);
        }
        curl_free(scheme);
        curl_free(full);
        curl_url_cleanup(u);
        return ret;
}

size_t pb_http_body_write(char *p, size_t size, size_t n, void *ud) {
        pb_http_body_t *b = ud;
        pb_resp_t rc = pb_buf_append(&b->buf, p, size * n);
        if (rc == PB_ERR_LIMIT)
                b->over = 1;
        return rc == PB_OK ? size * n : 0; /* 0: CURLE_WRITE_ERROR */
}

pb_registry_t *pb_registry_new(const char *url, char *errstr,
                               size_t errstr_size) {
        pb_registry_t *r;
        if (!url || !*url) {
                snprintf(errstr, errstr_size, "no schema registry URL given");
                return NULL;
        }
        pthread_once(&pb_reg_curl_once, pb_reg_curl_init);
        if (pb_reg_curl_init_rc != CURLE_OK) {
                snprintf(errstr, errstr_size, "libcurl init failed: %s",
                         curl_easy_strerror(pb_reg_curl_init_rc));
                return NULL;
        }
        r = calloc(1, sizeof(*r));
        if (!r) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        r->connect_timeout_ms = PB_REGISTRY_CONNECT_TIMEOUT_MS;
        r->timeout_ms = PB_REGISTRY_TIMEOUT_MS;
        r->max_body = PB_REGISTRY_MAX_BODY;
        pb_buf_init(&r->body.buf, r->max_body);
        if (pthread_mutex_init(&r->lock, NULL) != 0) {
                free(r);
                snprintf(errstr, errstr_size, "mutex init failed");
                return NULL;
        }
        if (pb_reg_parse_url(r, url, errstr, errstr_size) != 0) {
                pb_registry_destroy(r);
                return NULL;
        }
        if (!r->userpwd) {
                const char *env = getenv("PARTNERBUS_SCHEMA_REGISTRY_AUTH");
                if (env && *env) {
                        if (!strchr(env, ':')) {
                                snprintf(errstr, errstr_size,
                                         "PARTNERBUS_SCHEMA_REGISTRY_AUTH "
                                         "must be user:password");
                                pb_registry_destroy(r);
                                return NULL;
                        }
                        r->userpwd = pb_reg_strdup(env);
                        if (!r->userpwd) {
                                snprintf(errstr, errstr_size, "out of memory");
                                pb_registry_destroy(r);
                                return NULL;
                        }
                }
        }
        r->curl = curl_easy_init();
        if (!r->curl) {
                snprintf(errstr, errstr_size, "curl_easy_init failed");
                pb_registry_destroy(r);
                return NULL;
        }
        return r;
}

void pb_registry_set_timeouts(pb_registry_t *r, long connect_timeout_ms,
                              long timeout_ms) {
        if (!r)
                return;
        pthread_mutex_lock(&r->lock);
        if (connect_timeout_ms > 0)
                r->connect_timeout_ms = connect_timeout_ms;
        if (timeout_ms > 0)
                r->timeout_ms = timeout_ms;
        pthread_mutex_unlock(&r->lock);
}

const char *pb_registry_url(const pb_registry_t *r) {
        return r ? r->base : NULL;
}

void pb_registry_destroy(pb_registry_t *r) {
        size_t i;
        if (!r)
                return;
        if (r->curl)
                curl_easy_cleanup(r->curl);
        for (i = 0; i < PB_REG_ID_SLOTS; i++)
                free(r->ids[i].subject);
        for (i = 0; i < PB_REG_SCHEMA_SLOTS; i++)
                pb_schema_destroy(r->schemas[i].schema);
        pb_buf_free(&r->body.buf);
        pb_reg_free_secret(r->userpwd);
        free(r->base);
        pthread_mutex_destroy(&r->lock);
        free(r);
}

/* --- caches (open addressing, linear probing, no deletion) --- */

static uint64_t pb_reg_hash(const char *s, uint64_t seed) {
        uint64_t h = pb_fnv1a_more(PB_FNV1A64_INIT ^ seed, s, strlen(s));
        h ^= h >> 29;
        return h;
}

static pb_reg_ident_t *pb_reg_ids_slot(pb_registry_t *r, const char *subject,
                                       uint64_t fp) {
        size_t i = (size_t)(pb_reg_hash(subject, fp) % PB_REG_ID_SLOTS), k;
        for (k = 0; k < PB_REG_ID_SLOTS; k++) {
                pb_reg_ident_t *e = &r->ids[(i + k) % PB_REG_ID_SLOTS];
                if (!e->subject ||
                    (e->fingerprint == fp && strcmp(e->subject, subject) == 0))
                        return e;
        }
        return NULL; /* cannot happen: the table is at most half full */
}

static pb_reg_sment_t *pb_reg_schemas_slot(pb_registry_t *r, uint32_t id) {
        size_t i = (size_t)((id * 2654435761u) % PB_REG_SCHEMA_SLOTS), k;
        for (k = 0; k < PB_REG_SCHEMA_SLOTS; k++) {
                pb_reg_sment_t *e = &r->schemas[(i + k) % PB_REG_SCHEMA_SLOTS];
                if (!e->used || e->id == id)
                        return e;
        }
        return NULL;
}

/* --- HTTP --- */

/* Copies an untrusted message from the registry into dst as printable
 * text: control characters become '?', length bounded by size. */
static void pb_reg_sanitize(char *dst, size_t size, const char *src) {
        size_t i = 0;
        if (!size)
                return;
        for (; *src && i + 1 < size; src++) {
                unsigned char c = (unsigned char)*src;
                dst[i++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        }
        dst[i] = 0;
}

/* Builds the error for an HTTP status >= 300 from the registry's error
 * body {"error_code": N, "message": "..."} when it has one. Returns
 * the registry's error_code, or 0 when the body has none. */
/* "schema registry BASE: WHAT: <fmt ...>" into errstr. */
static void pb_reg_fail(const pb_registry_t *r, const char *what, char *errstr,
                        size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void pb_reg_fail(const pb_registry_t *r, const char *what, char *errstr,
                        size_t errstr_size, const char *fmt, ...) {
        int n = snprintf(errstr, errstr_size,
                         "schema registry %s: %s: ", r->base, what);
        va_list ap;
        if (n < 0 || (size_t)n >= errstr_size)
                return;
        va_start(ap, fmt);
        vsnprintf(errstr + n, errstr_size - (size_t)n, fmt, ap);
        va_end(ap);
}

static long pb_reg_http_error(pb_registry_t *r, const char *what, long status,
                              char *errstr, size_t errstr_size) {
        cJSON *j = NULL, *code, *msg;
        long ec = 0;
        char clean[256];
        if (r->body.buf.len)
                j = cJSON_ParseWithLength((const char *)r->body.buf.data,
                                          r->body.buf.len);
        code = j ? cJSON_GetObjectItemCaseSensitive(j, "error_code") : NULL;
        msg = j ? cJSON_GetObjectItemCaseSensitive(j, "message") : NULL;
        if (cJSON_IsNumber(code) && code->valuedouble >= 0 &&
            code->valuedouble < 1e9)
                ec = (long)code->valuedouble;
        if (cJSON_IsString(msg) && msg->valuestring) {
                pb_reg_sanitize(clean, sizeof(clean), msg->valuestring);
                if (ec)
                        pb_reg_fail(r, what, errstr, errstr_size,
                                    "HTTP %ld, error_code %ld: %s", status, ec,
                                    clean);
                else
                        pb_reg_fail(r, what, errstr, errstr_size,
                                    "HTTP %ld: %s", status, clean);
        } else {
                pb_reg_fail(r, what, errstr, errstr_size,
                            "HTTP %ld (no error body)", status);
        }
        cJSON_Delete(j);
        return ec;
}

/* Performs one request; body (may be NULL) is POSTed as JSON. On return
 * r->body holds the response (NUL-terminated). *status gets the HTTP
 * status. Fails (PB_ERR_HTTP / PB_ERR_LIMIT) on transport errors and
 * oversized bodies; HTTP error statuses are the caller's to judge. */
static pb_resp_t pb_reg_request(pb_registry_t *r, const char *url,
                                const char *post, const char *what,
                                long *status, char *errstr,
                                size_t errstr_size) {
        struct curl_slist *hdrs = NULL, *h2;
        CURLcode cc;
        CURL *c = r->curl;

        pb_buf_reset(&r->body.buf);
        r->body.over = 0;
        r->curl_err[0] = 0;
        *status = 0;

        curl_easy_reset(c); /* keeps the connection cache */
        hdrs = curl_slist_append(
            NULL, "Accept: application/vnd.schemaregistry.v1+json, "
                  "application/vnd.schemaregistry+json, "
                  "application/json");
        if (hdrs && post) {
                h2 = curl_slist_append(
                    hdrs,
                    "Content-Type: application/vnd.schemaregistry.v1+json");
                if (!h2) {
                        curl_slist_free_all(hdrs);
                        hdrs = NULL;
                } else {
                        hdrs = h2;
                }
        }
        if (!hdrs) {
                snprintf(errstr, errstr_size, "out of memory");
                return PB_ERR_NOMEM;
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(c, CURLOPT_PROTOCOLS,
                         (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, pb_http_body_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_err);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "partnerbus");
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        if (r->userpwd) {
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                curl_easy_setopt(c, CURLOPT_USERPWD, r->userpwd);
        }
        if (post) {
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                 (curl_off_t)strlen(post));
        }
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        /* drop references to memory the caller owns */
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(c, CURLOPT_USERPWD, NULL);
        curl_slist_free_all(hdrs);

        if (r->body.over || cc == CURLE_FILESIZE_EXCEEDED) {
                pb_reg_fail(r, what, errstr, errstr_size,
                            "response larger than %zu bytes", r->max_body);
                return PB_ERR_LIMIT;
        }
        if (cc != CURLE_OK) {
                /* curl's messages name host and port, never the userinfo
                 * (the URL we pass has none) */
                pb_reg_fail(r, what, errstr, errstr_size, "%s",
                            r->curl_err[0] ? r->curl_err
                                           : curl_easy_strerror(cc));
                return PB_ERR_HTTP;
        }
        return PB_OK;
}

/* Parses r->body as a JSON object; NULL with errstr on failure. */
static cJSON *pb_reg_parse_body(pb_registry_t *r, const char *what,
                                char *errstr, size_t errstr_size) {
        cJSON *j = NULL;
        if (r->body.buf.len)
                j = cJSON_ParseWithLength((const char *)r->body.buf.data,
                                          r->body.buf.len);
        if (!cJSON_IsObject(j)) {
                pb_reg_fail(r, what, errstr, errstr_size,
                            "response is not a JSON object");
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

/* URL for path segments: base + "/" + a + escaped(b) + c. malloc'd. */
static char *pb_reg_url(pb_registry_t *r, const char *a, const char *b,
                        const char *c) {
        char *esc = NULL, *u;
        size_t n;
        if (b) {
                esc = curl_easy_escape(r->curl, b, 0);
                if (!esc)
                        return NULL;
        }
        n = strlen(r->base) + strlen(a) + (esc ? strlen(esc) : 0) + strlen(c) +
            1;
        u = malloc(n);
        if (u)
                snprintf(u, n, "%s%s%s%s", r->base, a, esc ? esc : "", c);
        curl_free(esc);
        return u;
}

/* --- register --- */

static pb_resp_t pb_reg_register_locked(pb_registry_t *r, const char *subject,
                                        const pb_schema_t *s, uint32_t *id,
                                        char *errstr, size_t errstr_size) {
        uint64_t fp = pb_schema_fingerprint(s);
        pb_reg_ident_t *e = pb_reg_ids_slot(r, subject, fp);
        cJSON *req = NULL, *resp = NULL, *jid;
        char *url = NULL, *body = NULL, what[320];
        pb_resp_t ret;
        long status;

        if (e && e->subject) {
                *id = e->id;
                return PB_OK;
        }
        snprintf(what, sizeof(what), "registering subject '%.200s'", subject);
        req = cJSON_CreateObject();
        if (!req ||
            !cJSON_AddStringToObject(req, "schema", pb_schema_json(s)) ||
            !(body = cJSON_PrintUnformatted(req)) ||
            !(url = pb_reg_url(r, "/subjects/", subject, "/versions"))) {
                snprintf(errstr, errstr_size, "out of memory");
                ret = PB_ERR_NOMEM;
                goto out;
        }
        ret = pb_reg_request(r, url, body, what, &status, errstr, errstr_size);
        if (ret != PB_OK)
                goto out;
        if (status < 200 || status > 299) {
                pb_reg_http_error(r, what, status, errstr, errstr_size);
                ret = PB_ERR_HTTP;
                goto out;
        }
        if (!(resp = pb_reg_parse_body(r, what, errstr, errstr_size))) {
                ret = PB_ERR_PARSE;
                goto out;
        }
        jid = cJSON_GetObjectItemCaseSensitive(resp, "id");
        if (!cJSON_IsNumber(jid) || jid->valuedouble < 0 ||
            jid->valuedouble > 4294967295.0 ||
            jid->valuedouble != (double)(uint32_t)jid->valuedouble) {
                pb_reg_fail(r, what, errstr, errstr_size,
                            "response has no valid \"id\"");
                ret = PB_ERR_PARSE;
                goto out;
        }
        *id = (uint32_t)jid->valuedouble;
        if (e && r->nids < PB_REGISTRY_MAX_SUBJECT_IDS) {
                e->subject = pb_reg_strdup(subject);
                if (e->subject) {
                        e->fingerprint = fp;
                        e->id = *id;
                        r->nids++;
                }
        }
        ret = PB_OK;
out:
        cJSON_Delete(req);
        cJSON_Delete(resp);
        free(body);
        free(url);
        return ret;
}

pb_resp_t pb_registry_register(pb_registry_t *r, const char *subject,
                               const pb_schema_t *s, uint32_t *id, char *errstr,
                               size_t errstr_size) {
        pb_resp_t ret;
        if (!r || !subject || !*subject || !s || !id) {
                snprintf(errstr, errstr_size,
                         "pb_registry_register: bad argument");
                return PB_ERR_ARG;
        }
        pthread_mutex_lock(&r->lock);
        ret = pb_reg_register_locked(r, subject, s, id, errstr, errstr_size);
        pthread_mutex_unlock(&r->lock);
        return ret;
}

/* --- lookup --- */

static pb_resp_t pb_reg_lookup_locked(pb_registry_t *r, uint32_t id,
                                      const pb_schema_t **out, char *errstr,
                                      size_t errstr_size) {
        pb_reg_sment_t *e = pb_reg_schemas_slot(r, id);
        cJSON *resp = NULL, *js, *jt;
        char url_tail[32], what[64], why[256];
        char *url = NULL;
        pb_schema_t *s;
        pb_resp_t ret;
        long status;

        if (e && e->used) {
                *out = e->schema;
                return PB_OK;
        }
        if (!e || r->nschemas >= PB_REGISTRY_MAX_SCHEMAS) {
                snprintf(errstr, errstr_size,
                         "schema registry %s: more than %d schema ids in use "
                         "(cache full)",
                         r->base, PB_REGISTRY_MAX_SCHEMAS);
                return PB_ERR_LIMIT;
        }
        snprintf(what, sizeof(what), "looking up schema id %u", (unsigned)id);
        snprintf(url_tail, sizeof(url_tail), "%u", (unsigned)id);
        url = pb_reg_url(r, "/schemas/ids/", NULL, url_tail);
        if (!url) {
                snprintf(errstr, errstr_size, "out of memory");
                return PB_ERR_NOMEM;
        }
        ret = pb_reg_request(r, url, NULL, what, &status, errstr, errstr_size);
        free(url);
        if (ret != PB_OK)
                return ret;
        if (status < 200 || status > 299) {
                long ec =
                    pb_reg_http_error(r, what, status, errstr, errstr_size);
                /* 40403: schema not found - the id is unknown, not a
                 * transport problem */
                return (status == 404 && ec == 40403) ? PB_ERR_UNKNOWN_SCHEMA
                                                      : PB_ERR_HTTP;
        }
        if (!(resp = pb_reg_parse_body(r, what, errstr, errstr_size)))
                return PB_ERR_PARSE;
        jt = cJSON_GetObjectItemCaseSensitive(resp, "schemaType");
        if (cJSON_IsString(jt) && jt->valuestring &&
            strcmp(jt->valuestring, "AVRO") != 0) {
                char t[32];
                pb_reg_sanitize(t, sizeof(t), jt->valuestring);
                snprintf(errstr, errstr_size,
                         "schema registry %s: schema id %u is a %s schema, "
                         "not Avro",
                         r->base, (unsigned)id, t);
                cJSON_Delete(resp);
                return PB_ERR_INVALID;
        }
        js = cJSON_GetObjectItemCaseSensitive(resp, "schema");
        if (!cJSON_IsString(js) || !js->valuestring) {
                pb_reg_fail(r, what, errstr, errstr_size,
                            "response has no \"schema\" string");
                cJSON_Delete(resp);
                return PB_ERR_PARSE;
        }
        why[0] = 0;
        s = pb_schema_new(js->valuestring, strlen(js->valuestring), why,
                          sizeof(why));
        cJSON_Delete(resp);
        if (!s) {
                snprintf(errstr, errstr_size,
                         "schema registry %s: schema id %u is not a valid "
                         "Avro schema: %s",
                         r->base, (unsigned)id, why);
                return PB_ERR_INVALID;
        }
        e->used = 1;
        e->id = id;
        e->schema = s;
        r->nschemas++;
        *out = s;
        return PB_OK;
}

pb_resp_t pb_registry_lookup(pb_registry_t *r, uint32_t id,
                             const pb_schema_t **s, char *errstr,
                             size_t errstr_size) {
        pb_resp_t ret;
        if (!r || !s) {
                snprintf(errstr, errstr_size,
                         "pb_registry_lookup: bad argument");
                return PB_ERR_ARG;
        }
        pthread_mutex_lock(&r->lock);
        ret = pb_reg_lookup_locked(r, id, s, errstr, errstr_size);
        pthread_mutex_unlock(&r->lock);
        return ret;
}
