/* partnerbus gateway - the tokens file: who may publish what.
 *
 * Only SHA-256 digests of bearer tokens are stored; a presented token is
 * hashed and compared with every entry in constant time (CRYPTO_memcmp,
 * no early exit). See pb_gw.h for the format and docs/gateway.md. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "partnerbus/pb_common.h" /* pb_hex_value */
#include "partnerbus/pb_util.h"
#include "pb_gw.h"

static int org_char(int c) {
        return isalnum(c) || c == '.' || c == '_' || c == '-';
}

static int type_char(int c) {
        return isalnum(c) || c == '.' || c == '_' || c == '-';
}

/* Next whitespace-separated field of [*p, end); NULL at the end. */
static const char *next_field(const char **p, const char *end, size_t *n) {
        const char *s = *p, *f;
        while (s < end && (*s == ' ' || *s == '\t'))
                s++;
        if (s >= end)
                return NULL;
        f = s;
        while (s < end && *s != ' ' && *s != '\t')
                s++;
        *n = (size_t)(s - f);
        *p = s;
        return f;
}

/* Parses one non-comment line into e. 0 or -1 with why. */
static int parse_line(const char *s, const char *end, pb_gw_token_t *e,
                      const char **why) {
        const char *f;
        size_t n, i, o;
        memset(e, 0, sizeof(*e));
        /* org */
        f = next_field(&s, end, &n);
        if (!f || n >= PB_GW_ORG_MAX) {
                *why = "organisation id missing or longer than 127 bytes";
                return -1;
        }
        for (i = 0; i < n; i++)
                if (!org_char((unsigned char)f[i])) {
                        *why = "organisation id may hold only letters, "
                               "digits, '.', '_' and '-'";
                        return -1;
                }
        memcpy(e->org, f, n);
        /* digest */
        f = next_field(&s, end, &n);
        if (f && n > 7 && !strncmp(f, "sha256:", 7)) {
                f += 7;
                n -= 7;
        }
        if (!f || n != 64) {
                *why = "expected the SHA-256 of the token as 64 hex digits "
                       "(sha256sum), never the token itself";
                return -1;
        }
        for (i = 0; i < 32; i++) {
                int hi = pb_hex_value((unsigned char)f[2 * i]);
                int lo = pb_hex_value((unsigned char)f[2 * i + 1]);
                if (hi < 0 || lo < 0) {
                        *why = "digest is not hexadecimal";
                        return -1;
                }
                e->digest[i] = (uint8_t)(hi << 4 | lo);
        }
        /* types */
        f = next_field(&s, end, &n);
        if (!f) {
                *why = "event types missing (comma-separated, or *)";
                return -1;
        }
        if (n == 1 && f[0] == '*') {
                e->all_types = 1;
        } else {
                if (n + 3 > sizeof(e->types)) {
                        *why = "types column too long";
                        return -1;
                }
                o = 0;
                e->types[o++] = ',';
                for (i = 0; i < n; i++) {
                        int c = (unsigned char)f[i];
                        if (c == ',') {
                                if (e->types[o - 1] == ',') {
                                        *why = "empty event type in list";
                                        return -1;
                                }
                        } else if (!type_char(c)) {
                                *why = "bad character in event types";
                                return -1;
                        }
                        e->types[o++] = (char)c;
                }
                if (e->types[o - 1] == ',') {
                        *why = "empty event type in list";
                        return -1;
                }
                e->types[o++] = ',';
                e->types[o] = 0;
        }
        if (next_field(&s, end, &n)) {
                *why = "unexpected fourth column";
                return -1;
        }
        return 0;
}

pb_gw_tokens_t *pb_gw_tokens_parse(const char *text, size_t len,
                                   const char *name, char *errstr,
                                   size_t errstr_size) {
        pb_gw_tokens_t *t = calloc(1, sizeof(*t));
        const char *p = text, *end = text + len;
        size_t cap = 0;
        long lineno = 0;
        if (!t) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end, *s = p, *why = NULL;
                pb_gw_token_t e;
                lineno++;
                p = nl ? nl + 1 : end;
                if (le > s && le[-1] == '\r')
                        le--;
                while (s < le && (*s == ' ' || *s == '\t'))
                        s++;
                if (s == le || *s == '#')
                        continue;
                if (memchr(s, 0, (size_t)(le - s))) {
                        snprintf(errstr, errstr_size, "%s:%ld: NUL byte", name,
                                 lineno);
                        goto fail;
                }
                if (parse_line(s, le, &e, &why) < 0) {
                        snprintf(errstr, errstr_size, "%s:%ld: %s", name,
                                 lineno, why);
                        goto fail;
                }
                if (t->n == cap) {
                        size_t nc = cap ? cap * 2 : 16;
                        pb_gw_token_t *nv;
                        if (t->n >= PB_GW_TOKENS_MAX) {
                                snprintf(errstr, errstr_size,
                                         "%s: more than %d entries", name,
                                         PB_GW_TOKENS_MAX);
                                goto fail;
                        }
                        nv = realloc(t->v, nc * sizeof(*nv));
                        if (!nv) {
                                snprintf(errstr, errstr_size, "out of memory");
                                goto fail;
                        }
                        t->v = nv;
                        cap = nc;
                }
                t->v[t->n++] = e;
        }
        if (t->n == 0) {
                snprintf(errstr, errstr_size,
                         "%s: no entries (expected lines 'ORG SHA256-HEX "
                         "TYPES')",
                         name);
                goto fail;
        }
        return t;
fail:
        pb_gw_tokens_destroy(t);
        return NULL;
}

pb_gw_tokens_t *pb_gw_tokens_load(const char *path, char *errstr,
                                  size_t errstr_size) {
        size_t n;
        pb_gw_tokens_t *t;
        char *buf =
            pb_read_file(path, PB_GW_TOKENS_FILE_MAX, &n, errstr, errstr_size);
        if (!buf)
                return NULL;
        t = pb_gw_tokens_parse(buf, n, path, errstr, errstr_size);
        free(buf);
        return t;
}

void pb_gw_tokens_destroy(pb_gw_tokens_t *t) {
        if (!t)
                return;
        free(t->v);
        free(t);
}

const pb_gw_token_t *pb_gw_tokens_find(const pb_gw_tokens_t *t,
                                       const char *token, size_t len) {
        uint8_t d[32];
        const pb_gw_token_t *found = NULL;
        size_t i;
        if (!t || !token || len == 0)
                return NULL;
        pb_sha256(token, len, d);
        for (i = 0; i < t->n; i++) {
                /* no early exit: every entry costs the same */
                int eq = CRYPTO_memcmp(d, t->v[i].digest, 32) == 0;
                if (eq && !found)
                        found = &t->v[i];
        }
        return found;
}

int pb_gw_token_allows(const pb_gw_token_t *e, const char *type) {
        const char *p;
        size_t n;
        if (!e || !type)
                return 0;
        if (e->all_types)
                return 1;
        n = strlen(type);
        if (n == 0 || strchr(type, ','))
                return 0;
        for (p = e->types; (p = strstr(p, type)); p++)
                if (p > e->types && p[-1] == ',' && p[n] == ',')
                        return 1;
        return 0;
}
