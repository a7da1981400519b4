/* partnerbus poll - one HTTP GET of a feed page with libcurl: conditional
 * headers, auth, timeouts, retries with exponential backoff, a bounded
 * body, and the response's validators and next link.
 *
 * Retried (up to retries times, backoff doubling up to backoff_max, or the
 * peer's Retry-After when shorter than backoff_max): transport errors
 * (refused, timeout, a body shorter than its Content-Length), 408, 429 and
 * 5xx. Not retried: other 4xx, a body larger than max_body. Credentials
 * never appear in errors or logs. */
#ifndef PB_FETCH_H
#define PB_FETCH_H

#include <stddef.h>

#include "partnerbus/pb_common.h"

typedef struct pb_fetch_opts {
        long connect_timeout_ms;
        long timeout_ms;
        size_t max_body;
        const char *ca_file; /* NULL: the system store */
        const char *bearer;  /* token, or NULL */
        const char *userpwd; /* "user:password" for basic auth, or NULL */
        /* Credentials (bearer, userpwd) go only to the origin (scheme, host,
         * port) of auth_origin and of the comma-separated origins in
         * auth_allow; a next page elsewhere is fetched without them. NULL
         * auth_origin: the origin of the URL being fetched. */
        const char *auth_origin;
        const char *auth_allow;
        int retries;         /* extra attempts after the first */
        long backoff_ms;     /* first delay */
        long backoff_max_ms; /* longest delay */
        volatile int *stop;  /* when set, give up between attempts */
        /* 1: the body goes to an unlinked temporary file ($TMPDIR, else
         * /tmp) instead of memory and is mapped read-only once complete;
         * pb_fetch_release gives back the pages a reader is done with, so
         * the memory a big page holds stays flat in its size. */
        int spool;
} pb_fetch_opts_t;

typedef struct pb_fetch_result {
        long status;      /* final HTTP status: 200, 304, ... */
        const char *data; /* the body after PB_OK (NUL after its end), */
        size_t len;       /* in memory or mapped; valid until _free */
        pb_buf_t body;    /* the body in memory (not spooled) */
        int fd;           /* spool file, or -1 */
        size_t spooled;   /* bytes written to it */
        void *map;        /* its mapping (len + 1 bytes), or NULL */
        size_t released;  /* bytes of the mapping given back */
        char content_type[128];
        char etag[512];
        char last_modified[128];
        char link_next[4096]; /* rel="next" of the Link header, resolved */
        char url[4096];       /* effective URL (after redirects) */
        int attempts;
        int creds_withheld; /* credentials set but not sent: other origin */
} pb_fetch_result_t;

void pb_fetch_result_init(pb_fetch_result_t *r, size_t max_body);
void pb_fetch_result_free(pb_fetch_result_t *r);
/* A spooled body's pages before upto (a pointer into data) are not read
 * again: they leave the process's memory (the file keeps them). No-op for
 * a body in memory or a pointer outside it. */
void pb_fetch_release(pb_fetch_result_t *r, const char *upto);

/* 1 when a and b have the same origin: scheme, host (case-insensitive)
 * and port (the scheme's default when absent); 0 otherwise or when either
 * is not an http(s) URL. */
int pb_url_same_origin(const char *a, const char *b);

/* GET url. if_none_match / if_modified_since may be NULL. PB_OK with a
 * 2xx or 304 status; PB_ERR_HTTP (status or transport, errstr) after the
 * retries; PB_ERR_LIMIT for an oversized body. */
pb_resp_t pb_fetch(const pb_fetch_opts_t *o, const char *url,
                   const char *if_none_match, const char *if_modified_since,
                   pb_fetch_result_t *res, char *errstr, size_t errstr_size);

/* rel resolved against base into out (absolute). 0 or -1. */
int pb_url_resolve(const char *base, const char *rel, char *out, size_t size);
/* url with name=value set in its query (URL-encoded) into out. 0 or -1. */
int pb_url_with_param(const char *url, const char *name, const char *value,
                      char *out, size_t size);
/* The rel="next" target of a Link header value, into out; 0 or -1. */
int pb_link_next(const char *value, size_t len, char *out, size_t size);

#endif
