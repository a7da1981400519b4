/* partnerbus poll - paging: fetch the pages of the feed one at a time (a
 * conditional request on the first), follow the next page (a JSON pointer,
 * a Link header or a cursor) and open each page for its records. A page's
 * body is spooled to a temporary file and mapped (pb_fetch.h, spool), so
 * the memory a page holds does not grow with its size; the records of a
 * page are published before the next page is fetched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_util.h"
#include "pb_poll.h"

/* Decides the page's format and parses it. 0 or -1 with errstr. */
static int open_page(pollctx_t *p, page_t *pg, char *errstr, size_t n) {
        int html = 0;
        pb_feed_format_t ct =
            pb_feed_format_from_type(pg->res.content_type, &html);
        pb_feed_opts_t fo;
        const char *b = pg->res.data;
        size_t len = pg->res.len, i = 0;
        while (i < len &&
               (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
                i++;
        if (html || (i < len && b[i] == '<')) {
                snprintf(errstr, n,
                         "the feed answered with HTML (Content-Type '%s'), "
                         "not data",
                         pg->res.content_type);
                return -1;
        }
        pg->fmt = p->format != PB_FEED_AUTO ? p->format : ct;
        if (pg->fmt == PB_FEED_AUTO) {
                if (i < len && (b[i] == '[' || b[i] == '{'))
                        pg->fmt = PB_FEED_JSON;
                else {
                        snprintf(errstr, n,
                                 "cannot tell the feed's format from "
                                 "Content-Type '%s'; set --format",
                                 pg->res.content_type);
                        return -1;
                }
        }
        memset(&fo, 0, sizeof(fo));
        fo.format = pg->fmt;
        fo.records_pointer = p->records_ptr;
        fo.separator = p->sep;
        fo.max_record = p->set.max_record;
        fo.max_columns = (size_t)p->set.max_columns;
        fo.max_nodes = 0;
        pg->feed = pb_feed_new(b, len, pg->fmt, &fo, errstr, n);
        return pg->feed ? 0 : -1;
}

/* The URL of the page after pg (into nextbuf, cursor updated), or NULL
 * when pg is the last. */
static const char *next_page(pollctx_t *p, page_t *pg, char *cursor,
                             size_t cursor_size, char *nextbuf,
                             size_t nextsize) {
        const char *next = NULL;
        if (p->set.next_pointer && pb_feed_root(pg->feed)) {
                const pb_json_t *n =
                    pb_pointer_get(pb_feed_root(pg->feed), p->set.next_pointer);
                if (n && n->type == PB_JSON_STRING && n->len &&
                    !pb_url_resolve(pg->res.url, n->str, nextbuf, nextsize))
                        next = nextbuf;
        }
        if (!next && p->set.follow_link && pg->res.link_next[0])
                next = pg->res.link_next;
        if (!next && p->set.cursor_param && p->set.cursor_pointer &&
            pb_feed_root(pg->feed)) {
                const pb_json_t *n = pb_pointer_get(pb_feed_root(pg->feed),
                                                    p->set.cursor_pointer);
                if (n &&
                    (n->type == PB_JSON_STRING || n->type == PB_JSON_NUMBER) &&
                    n->len && n->len < cursor_size && strcmp(n->str, cursor) &&
                    !pb_url_with_param(p->set.url, p->set.cursor_param, n->str,
                                       nextbuf, nextsize)) {
                        memcpy(cursor, n->str, n->len + 1);
                        next = nextbuf;
                }
        }
        return next;
}

/* Fetches and opens page number `number` (1 = first). "ok" or the
 * outcome label. */
static const char *fetch_page(pollctx_t *p, page_t *pg, size_t number,
                              const char *url) {
        char err[1024];
        int cond = number == 1 && p->have_validators && !p->set.check;
        pb_resp_t rc;
        pb_fetch_result_init(&pg->res, p->set.max_response);
        rc = pb_fetch(&p->fo, url, cond ? p->etag : NULL,
                      cond ? p->last_modified : NULL, &pg->res, err,
                      sizeof(err));
        if (rc != PB_OK) {
                char shown[1024];
                pb_log("error",
                       "msg=\"fetch failed; state untouched, retried "
                       "next poll\" url=\"%s\" attempts=%d "
                       "error=\"%s\"",
                       pb_redact_url(url, shown, sizeof(shown)),
                       pg->res.attempts, err);
                return rc == PB_ERR_LIMIT ? "too_large" : "unreachable";
        }
        if (pg->res.creds_withheld)
                pb_log("warn",
                       "msg=\"page on another origin fetched without "
                       "the feed's credentials (see "
                       "--auth-allow-origin)\" page=%zu",
                       number);
        if (pg->res.status == 304)
                return "not_modified";
        if (open_page(p, pg, err, sizeof(err))) {
                char shown[1024];
                pb_log("error",
                       "msg=\"feed unusable; state untouched, "
                       "retried next poll\" url=\"%s\" error=\"%s\"",
                       pb_redact_url(url, shown, sizeof(shown)), err);
                return "malformed";
        }
        return "ok";
}

static void page_free(page_t *pg) {
        pb_feed_destroy(pg->feed);
        pg->feed = NULL;
        pb_fetch_result_free(&pg->res);
}

const char *pb_poll_next_page(pollctx_t *p, pages_t *pgs) {
        char nextbuf[4096];
        const char *outcome;
        if (!pgs->n) {
                pgs->cursor[0] = 0;
                pgs->etag[0] = pgs->last_modified[0] = 0;
                if (p->set.cursor_param && p->set.cursor_resume &&
                    p->cursor[0]) {
                        snprintf(pgs->cursor, sizeof(pgs->cursor), "%s",
                                 p->cursor);
                        if (pb_url_with_param(p->set.url, p->set.cursor_param,
                                              pgs->cursor, pgs->url,
                                              sizeof(pgs->url)))
                                return "error";
                } else {
                        snprintf(pgs->url, sizeof(pgs->url), "%s", p->set.url);
                }
        } else {
                const char *next =
                    next_page(p, &pgs->cur, pgs->cursor, sizeof(pgs->cursor),
                              nextbuf, sizeof(nextbuf));
                if (!next)
                        return "end";
                if (!strcmp(next, pgs->url)) {
                        pb_log("error", "msg=\"next page is the same URL\"");
                        return "malformed";
                }
                snprintf(pgs->url, sizeof(pgs->url), "%s", next);
                page_free(&pgs->cur);
        }
        if (pgs->n == (size_t)p->set.max_pages) {
                pb_log("error",
                       "msg=\"more than --max-pages=%ld "
                       "pages; poll abandoned\"",
                       p->set.max_pages);
                return "limit";
        }
        pgs->n++;
        outcome = fetch_page(p, &pgs->cur, pgs->n, pgs->url);
        if (pgs->n == 1) {
                snprintf(pgs->etag, sizeof(pgs->etag), "%s", pgs->cur.res.etag);
                snprintf(pgs->last_modified, sizeof(pgs->last_modified), "%s",
                         pgs->cur.res.last_modified);
        }
        if (!strcmp(outcome, "not_modified") && pgs->n > 1) {
                pb_log("error", "msg=\"304 on page %zu\"", pgs->n);
                return "error";
        }
        return outcome;
}

void pb_poll_pages_free(pages_t *pgs) {
        if (pgs->n)
                page_free(&pgs->cur);
        pgs->n = 0;
}
