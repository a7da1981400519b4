/* partnerbus - result codes, growable byte buffers, bounded error lists.
 *
 * pb_buf_t: every append either succeeds completely or leaves the buffer
 * exactly as it was (len, contents, NUL terminator). The buffer owns `data`;
 * pb_buf_free() releases it. */
#include "partnerbus/pb_common.h"
#include "partnerbus/pb_json.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *pb_err2str(pb_resp_t r) {
        switch (r) {
        case PB_OK:
                return "success";
        case PB_ERR_INVALID:
                return "invalid input";
        case PB_ERR_PARSE:
                return "parse error";
        case PB_ERR_TRUNCATED:
                return "truncated input";
        case PB_ERR_LIMIT:
                return "limit exceeded";
        case PB_ERR_UNKNOWN_SCHEMA:
                return "unknown schema";
        case PB_ERR_NOMEM:
                return "out of memory";
        case PB_ERR_IO:
                return "I/O error";
        case PB_ERR_KAFKA:
                return "Kafka error";
        case PB_ERR_HTTP:
                return "HTTP error";
        case PB_ERR_INCOMPATIBLE:
                return "incompatible schemas";
        case PB_ERR_ARG:
                return "invalid argument";
        case PB_ERR_UNCERTAIN:
                return "outcome unknown (may have been stored)";
        case PB_END:
                return "end of stream";
        case PB_ERR_TIMEOUT:
                return "timed out";
        case PB_ERR_QUEUE_FULL:
                return "queue full";
        }
        return "unknown error";
}

/* --- clocks --- */

static int64_t pb_clock_ms(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pb_now_ms(void) {
        return pb_clock_ms(CLOCK_REALTIME);
}

int64_t pb_mono_ms(void) {
        return pb_clock_ms(CLOCK_MONOTONIC);
}

#if defined(__SANITIZE_ADDRESS__)
#define PB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PB_ASAN 1
#endif
#endif

void pb_heap_trim(void) {
#ifndef PB_ASAN
        malloc_trim(0);
#endif
}

/* --- pb_buf_t --- */

void pb_buf_init(pb_buf_t *b, size_t max) {
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
        b->max = max;
}

void pb_buf_free(pb_buf_t *b) {
        if (!b)
                return;
        free(b->data);
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
}

/* Ensures room for `extra` more bytes plus the NUL terminator. Fails with
 * PB_ERR_LIMIT if len + extra would exceed max (when max != 0), with
 * PB_ERR_NOMEM if realloc fails; the buffer is unchanged on failure. */
pb_resp_t pb_buf_reserve(pb_buf_t *b, size_t extra) {
        size_t need, ncap;
        uint8_t *nd;

        if (extra > SIZE_MAX - 1 - b->len)
                return PB_ERR_LIMIT;
        need = b->len + extra;
        if (b->max && need > b->max)
                return PB_ERR_LIMIT;
        if (need + 1 <= b->cap)
                return PB_OK;
        ncap = b->cap ? b->cap : 64;
        while (ncap < need + 1) {
                if (ncap > SIZE_MAX / 2) {
                        ncap = need + 1;
                        break;
                }
                ncap *= 2;
        }
        /* Do not allocate far beyond the bound. */
        if (b->max && ncap > b->max + 1)
                ncap = b->max + 1;
        nd = realloc(b->data, ncap);
        if (!nd)
                return PB_ERR_NOMEM;
        if (!b->data)
                nd[0] = 0;
        b->data = nd;
        b->cap = ncap;
        return PB_OK;
}

int pb_array_reserve(void *parr, size_t *cap, size_t used, size_t n,
                     size_t elem, size_t first) {
        size_t ncap = *cap ? *cap : (first ? first : 1);
        void *v, *nv;
        if (*cap >= used && *cap - used >= n)
                return 0;
        if (used > SIZE_MAX - n)
                return -1;
        while (ncap < used + n) {
                if (ncap > SIZE_MAX / 2 / elem)
                        return -1;
                ncap *= 2;
        }
        /* the pointer is copied, not accessed as void *, whatever T is */
        memcpy(&v, parr, sizeof(v));
        nv = realloc(v, ncap * elem);
        if (!nv)
                return -1;
        memcpy(parr, &nv, sizeof(nv));
        *cap = ncap;
        return 0;
}

pb_resp_t pb_buf_append(pb_buf_t *b, const void *p, size_t n) {
        pb_resp_t r = pb_buf_reserve(b, n);
        if (r != PB_OK)
                return r;
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
        return PB_OK;
}

pb_resp_t pb_buf_putc(pb_buf_t *b, uint8_t c) {
        if (b->len + 1 < b->cap) {
                b->data[b->len++] = c;
                b->data[b->len] = 0;
                return PB_OK;
        }
        return pb_buf_append(b, &c, 1);
}

pb_resp_t pb_buf_puts(pb_buf_t *b, const char *s) {
        return pb_buf_append(b, s, strlen(s));
}

pb_resp_t pb_buf_printf(pb_buf_t *b, const char *fmt, ...) {
        va_list ap;
        int n;
        pb_resp_t r;
        size_t avail = b->cap > b->len ? b->cap - b->len : 0;

        va_start(ap, fmt);
        n = vsnprintf(avail ? (char *)b->data + b->len : NULL, avail, fmt, ap);
        va_end(ap);
        if (n < 0) {
                if (b->data)
                        b->data[b->len] = 0;
                return PB_ERR_ARG;
        }
        if ((size_t)n < avail) {
                b->len += (size_t)n;
                return PB_OK;
        }
        /* Did not fit: restore the terminator vsnprintf may have moved. */
        if (b->data)
                b->data[b->len] = 0;
        r = pb_buf_reserve(b, (size_t)n);
        if (r != PB_OK)
                return r;
        va_start(ap, fmt);
        vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
        return PB_OK;
}

/* 0: pass through; 'u': \u00XX; other: \<c>. */
static const char pb_json_esc[256] = {
    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't',
    [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u',  [0x04] = 'u',
    [0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u',  [0x0e] = 'u',
    [0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u',  [0x13] = 'u',
    [0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u',  [0x18] = 'u',
    [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u',  [0x1d] = 'u',
    [0x1e] = 'u', [0x1f] = 'u', ['"'] = '"',  ['\\'] = '\\',
};

pb_resp_t pb_buf_xml_text(pb_buf_t *b, const char *s) {
        pb_resp_t rc = PB_OK;
        for (; s && *s && rc == PB_OK; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '&')
                        rc = pb_buf_puts(b, "&amp;");
                else if (c == '<')
                        rc = pb_buf_puts(b, "&lt;");
                else if (c == '>')
                        rc = pb_buf_puts(b, "&gt;");
                else if (c == '"')
                        rc = pb_buf_puts(b, "&quot;");
                else if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r')
                        rc = pb_buf_putc(b, c);
        }
        return rc;
}

/* Bytes of p[0..n) before the first one JSON must escape, 8 at a time
 * (pb_json_escape8), the tail one by one. */
static size_t json_plain_span(const uint8_t *p, size_t n) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
                uint64_t w, m;
                memcpy(&w, p + i, 8);
                if ((m = pb_json_escape8(w)) != 0) {
                        i += pb_json_first8(m);
                        break;
                }
        }
        while (i < n && !pb_json_esc[p[i]])
                i++;
        return i;
}

/* Reserves exactly what the escaped string needs (so a failure leaves the
 * buffer unchanged and `max` is respected), copying the plain run before
 * the first byte to escape at once. */
pb_resp_t pb_buf_json_str(pb_buf_t *b, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        const uint8_t *p = (const uint8_t *)s;
        size_t plain = json_plain_span(p, n), need = 2 + n, i;
        uint8_t *o;
        pb_resp_t r;

        for (i = plain; i < n; i++) {
                char e = pb_json_esc[p[i]];
                need += e == 0 ? 0 : e == 'u' ? 5 : 1;
        }
        r = pb_buf_reserve(b, need);
        if (r != PB_OK)
                return r;
        o = b->data + b->len;
        *o++ = '"';
        if (plain)
                memcpy(o, p, plain);
        o += plain;
        for (i = plain; i < n; i++) {
                uint8_t c = p[i];
                char e = pb_json_esc[c];
                if (!e) {
                        *o++ = c;
                } else if (e == 'u') {
                        *o++ = '\\';
                        *o++ = 'u';
                        *o++ = '0';
                        *o++ = '0';
                        *o++ = (uint8_t)hex[c >> 4];
                        *o++ = (uint8_t)hex[c & 15];
                } else {
                        *o++ = '\\';
                        *o++ = (uint8_t)e;
                }
        }
        *o++ = '"';
        b->len = (size_t)(o - b->data);
        b->data[b->len] = 0;
        return PB_OK;
}

/* --- pb_errors_t --- */

void pb_errors_init(pb_errors_t *e) {
        e->count = 0;
        e->dropped = 0;
}

/* one error item: pointer, message, and the optional code and params
 * (params that do not fit are left out whole, never cut) */
static void errors_vadd(pb_errors_t *e, const char *pointer, const char *code,
                        const char *params, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static void errors_vadd(pb_errors_t *e, const char *pointer, const char *code,
                        const char *params, const char *fmt, va_list ap) {
        pb_error_t *it;
        size_t pl = params ? strlen(params) : 0;

        if (e->count >= PB_ERRORS_MAX) {
                e->dropped++;
                return;
        }
        it = &e->items[e->count++];
        snprintf(it->pointer, sizeof(it->pointer), "%s",
                 pointer ? pointer : "");
        vsnprintf(it->message, sizeof(it->message), fmt, ap);
        it->code = code;
        if (pl && pl < sizeof(it->params))
                memcpy(it->params, params, pl + 1);
        else
                it->params[0] = 0;
        it->line = 0;
}

void pb_errors_add(pb_errors_t *e, const char *pointer, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        errors_vadd(e, pointer, NULL, NULL, fmt, ap);
        va_end(ap);
}

void pb_errors_add_code(pb_errors_t *e, const char *pointer, const char *code,
                        const char *params, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        errors_vadd(e, pointer, code, params, fmt, ap);
        va_end(ap);
}

void pb_errors_format(const pb_errors_t *e, char *buf, size_t size) {
        size_t off = 0, i;
        int n;

        if (!size)
                return;
        buf[0] = 0;
        for (i = 0; i < e->count && off < size; i++) {
                const pb_error_t *it = &e->items[i];
                /* The root pointer is "": print the message alone. */
                n = snprintf(buf + off, size - off, "%s%s%s%s", i ? "; " : "",
                             it->pointer, it->pointer[0] ? ": " : "",
                             it->message);
                if (n < 0)
                        break;
                off += (size_t)n;
        }
        if (e->dropped && off < size)
                snprintf(buf + off, size - off, "; and %zu more", e->dropped);
}

pb_resp_t pb_errors_to_json(const pb_errors_t *e, pb_buf_t *out) {
        size_t start = out->len, i;
        pb_resp_t r;

#define PB_TRY(x)                                                              \
        do {                                                                   \
                if ((r = (x)) != PB_OK)                                        \
                        goto fail;                                             \
        } while (0)
        PB_TRY(pb_buf_putc(out, '['));
        for (i = 0; i < e->count; i++) {
                const pb_error_t *it = &e->items[i];
                if (i)
                        PB_TRY(pb_buf_putc(out, ','));
                PB_TRY(pb_buf_puts(out, "{\"pointer\":"));
                PB_TRY(pb_buf_json_str(out, it->pointer, strlen(it->pointer)));
                PB_TRY(pb_buf_puts(out, ",\"message\":"));
                PB_TRY(pb_buf_json_str(out, it->message, strlen(it->message)));
                if (it->code) {
                        PB_TRY(pb_buf_puts(out, ",\"code\":"));
                        PB_TRY(
                            pb_buf_json_str(out, it->code, strlen(it->code)));
                        if (it->params[0]) {
                                PB_TRY(pb_buf_puts(out, ",\"params\":"));
                                PB_TRY(pb_buf_puts(out, it->params));
                        }
                }
                if (it->line)
                        PB_TRY(pb_buf_printf(out, ",\"line\":%ld", it->line));
                PB_TRY(pb_buf_putc(out, '}'));
        }
        PB_TRY(pb_buf_putc(out, ']'));
#undef PB_TRY
        return PB_OK;
fail:
        /* Leave the buffer as it was before the call. */
        out->len = start;
        if (out->data)
                out->data[start] = 0;
        return r;
}
