/* partnerbus - instants, dates, decimals, base64 and UUIDs (see pb_util.h).
 *
 * Nothing here allocates. Every parser checks the exact syntax and the
 * value range and never reads past the given length; every formatter
 * checks `size` before writing.
 *
 * RFC 3339 notes: years 0001-9999 only; a leap second (":60") is rejected
 * rather than folded into ":59", since Avro timestamp-millis cannot hold it
 * and silently changing an instant is worse than refusing it. */
#include "partnerbus/pb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* --- calendar --- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t pb_days_from_civil(int64_t y, unsigned m, unsigned d) {
        int64_t era;
        unsigned yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = (unsigned)(y - era * 400);
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

static void pb_civil_from_days(int64_t z, int64_t *y, unsigned *m,
                               unsigned *d) {
        int64_t era;
        unsigned doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = (unsigned)(z - era * 146097);
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int pb_is_leap(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int pb_month_days(int y, int m) {
        static const unsigned char md[12] = {31, 28, 31, 30, 31, 30,
                                             31, 31, 30, 31, 30, 31};
        return m == 2 && pb_is_leap(y) ? 29 : md[m - 1];
}

/* n decimal digits at s into *v; -1 if any is not a digit. */
static int pb_digits(const char *s, int n, int *v) {
        int x = 0, i;
        for (i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                x = x * 10 + (s[i] - '0');
        }
        *v = x;
        return 0;
}

/* "YYYY-MM-DD" at s (10 bytes available). */
static int pb_ymd(const char *s, int *y, int *m, int *d) {
        if (pb_digits(s, 4, y) || s[4] != '-' || pb_digits(s + 5, 2, m) ||
            s[7] != '-' || pb_digits(s + 8, 2, d))
                return -1;
        if (*y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > pb_month_days(*y, *m))
                return -1;
        return 0;
}

int pb_rfc3339_parse(const char *s, size_t len, int64_t *ms) {
        int y, mo, d, h, mi, sec, frac_ms = 0, oh, om;
        size_t i;
        int64_t off_min, t;

        if (len < 20 || pb_ymd(s, &y, &mo, &d))
                return -1;
        if (s[10] != 'T' && s[10] != 't')
                return -1;
        if (pb_digits(s + 11, 2, &h) || s[13] != ':' ||
            pb_digits(s + 14, 2, &mi) || s[16] != ':' ||
            pb_digits(s + 17, 2, &sec))
                return -1;
        if (h > 23 || mi > 59 || sec > 59)
                return -1;
        i = 19;
        if (s[i] == '.') {
                int nd = 0;
                i++;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                        if (nd < 3)
                                frac_ms = frac_ms * 10 + (s[i] - '0');
                        nd++;
                        i++;
                }
                if (nd == 0 || nd > 9)
                        return -1;
                for (; nd < 3; nd++)
                        frac_ms *= 10;
        }
        if (i >= len)
                return -1; /* offset is mandatory */
        if (s[i] == 'Z' || s[i] == 'z') {
                off_min = 0;
                i++;
        } else if (s[i] == '+' || s[i] == '-') {
                if (len - i < 6 || pb_digits(s + i + 1, 2, &oh) ||
                    s[i + 3] != ':' || pb_digits(s + i + 4, 2, &om) ||
                    oh > 23 || om > 59)
                        return -1;
                off_min = oh * 60 + om;
                if (s[i] == '-')
                        off_min = -off_min;
                i += 6;
        } else {
                return -1;
        }
        if (i != len)
                return -1;
        t = pb_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
            h * 3600 + mi * 60 + sec - off_min * 60;
        *ms = t * 1000 + frac_ms;
        return 0;
}

/* Floor division for negative instants. */
static int64_t pb_floordiv(int64_t a, int64_t b) {
        int64_t q = a / b;
        if ((a % b) && ((a < 0) != (b < 0)))
                q--;
        return q;
}

/* the n lowest decimal digits of v at p, zero-padded; p + n */
static char *put_digits(char *p, unsigned v, int n) {
        int i;
        for (i = n - 1; i >= 0; i--) {
                p[i] = (char)('0' + v % 10);
                v /= 10;
        }
        return p + n;
}

size_t pb_rfc3339_format(int64_t ms, char *buf, size_t size) {
        int64_t secs = pb_floordiv(ms, 1000), days, y;
        int64_t msr = ms % 1000, sod;
        unsigned m, d;
        int n;

        if (msr < 0)
                msr += 1000;
        days = pb_floordiv(secs, 86400);
        sod = secs - days * 86400;
        pb_civil_from_days(days, &y, &m, &d);
        if (y >= 0 && y <= 9999 && size > 24) {
                /* what the snprintf below prints, without stdio (this is
                 * on every produced message's ce_time header) */
                char *p = buf;
                p = put_digits(p, (unsigned)y, 4);
                *p++ = '-';
                p = put_digits(p, (unsigned)m, 2);
                *p++ = '-';
                p = put_digits(p, (unsigned)d, 2);
                *p++ = 'T';
                p = put_digits(p, (unsigned)(sod / 3600), 2);
                *p++ = ':';
                p = put_digits(p, (unsigned)(sod / 60 % 60), 2);
                *p++ = ':';
                p = put_digits(p, (unsigned)(sod % 60), 2);
                *p++ = '.';
                p = put_digits(p, (unsigned)msr, 3);
                *p++ = 'Z';
                *p = 0;
                return (size_t)(p - buf);
        }
        n = snprintf(buf, size, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                     (long long)y, m, d, (int)(sod / 3600),
                     (int)(sod / 60 % 60), (int)(sod % 60), (int)msr);
        if (n < 0 || (size_t)n >= size) {
                if (size)
                        buf[0] = 0;
                return 0;
        }
        return (size_t)n;
}

int pb_date_parse(const char *s, size_t len, int32_t *days) {
        int y, m, d;
        if (len != 10 || pb_ymd(s, &y, &m, &d))
                return -1;
        *days = (int32_t)pb_days_from_civil(y, (unsigned)m, (unsigned)d);
        return 0;
}

size_t pb_date_format(int32_t days, char *buf, size_t size) {
        int64_t y;
        unsigned m, d;
        int n;

        pb_civil_from_days(days, &y, &m, &d);
        n = snprintf(buf, size, "%04lld-%02u-%02u", (long long)y, m, d);
        if (n < 0 || (size_t)n >= size) {
                if (size)
                        buf[0] = 0;
                return 0;
        }
        return (size_t)n;
}

/* --- decimals --- */

#define PB_DEC_MAX_PRECISION 76
#define PB_DEC_BYTES         32

static const char *const pb_dec_frac_msg[PB_DEC_MAX_PRECISION + 1] = {
    "more than 0 fraction digits",  "more than 1 fraction digit",
    "more than 2 fraction digits",  "more than 3 fraction digits",
    "more than 4 fraction digits",  "more than 5 fraction digits",
    "more than 6 fraction digits",  "more than 7 fraction digits",
    "more than 8 fraction digits",  "more than 9 fraction digits",
    "more than 10 fraction digits", "more than 11 fraction digits",
    "more than 12 fraction digits", "more than 13 fraction digits",
    "more than 14 fraction digits", "more than 15 fraction digits",
    "more than 16 fraction digits", "more than 17 fraction digits",
    "more than 18 fraction digits", "more than 19 fraction digits",
    "more than 20 fraction digits", "more than 21 fraction digits",
    "more than 22 fraction digits", "more than 23 fraction digits",
    "more than 24 fraction digits", "more than 25 fraction digits",
    "more than 26 fraction digits", "more than 27 fraction digits",
    "more than 28 fraction digits", "more than 29 fraction digits",
    "more than 30 fraction digits", "more than 31 fraction digits",
    "more than 32 fraction digits", "more than 33 fraction digits",
    "more than 34 fraction digits", "more than 35 fraction digits",
    "more than 36 fraction digits", "more than 37 fraction digits",
    "more than 38 fraction digits", "more than 39 fraction digits",
    "more than 40 fraction digits", "more than 41 fraction digits",
    "more than 42 fraction digits", "more than 43 fraction digits",
    "more than 44 fraction digits", "more than 45 fraction digits",
    "more than 46 fraction digits", "more than 47 fraction digits",
    "more than 48 fraction digits", "more than 49 fraction digits",
    "more than 50 fraction digits", "more than 51 fraction digits",
    "more than 52 fraction digits", "more than 53 fraction digits",
    "more than 54 fraction digits", "more than 55 fraction digits",
    "more than 56 fraction digits", "more than 57 fraction digits",
    "more than 58 fraction digits", "more than 59 fraction digits",
    "more than 60 fraction digits", "more than 61 fraction digits",
    "more than 62 fraction digits", "more than 63 fraction digits",
    "more than 64 fraction digits", "more than 65 fraction digits",
    "more than 66 fraction digits", "more than 67 fraction digits",
    "more than 68 fraction digits", "more than 69 fraction digits",
    "more than 70 fraction digits", "more than 71 fraction digits",
    "more than 72 fraction digits", "more than 73 fraction digits",
    "more than 74 fraction digits", "more than 75 fraction digits",
    "more than 76 fraction digits",
};
static const char *const pb_dec_int_msg[PB_DEC_MAX_PRECISION + 1] = {
    "more than 0 integer digits",  "more than 1 integer digit",
    "more than 2 integer digits",  "more than 3 integer digits",
    "more than 4 integer digits",  "more than 5 integer digits",
    "more than 6 integer digits",  "more than 7 integer digits",
    "more than 8 integer digits",  "more than 9 integer digits",
    "more than 10 integer digits", "more than 11 integer digits",
    "more than 12 integer digits", "more than 13 integer digits",
    "more than 14 integer digits", "more than 15 integer digits",
    "more than 16 integer digits", "more than 17 integer digits",
    "more than 18 integer digits", "more than 19 integer digits",
    "more than 20 integer digits", "more than 21 integer digits",
    "more than 22 integer digits", "more than 23 integer digits",
    "more than 24 integer digits", "more than 25 integer digits",
    "more than 26 integer digits", "more than 27 integer digits",
    "more than 28 integer digits", "more than 29 integer digits",
    "more than 30 integer digits", "more than 31 integer digits",
    "more than 32 integer digits", "more than 33 integer digits",
    "more than 34 integer digits", "more than 35 integer digits",
    "more than 36 integer digits", "more than 37 integer digits",
    "more than 38 integer digits", "more than 39 integer digits",
    "more than 40 integer digits", "more than 41 integer digits",
    "more than 42 integer digits", "more than 43 integer digits",
    "more than 44 integer digits", "more than 45 integer digits",
    "more than 46 integer digits", "more than 47 integer digits",
    "more than 48 integer digits", "more than 49 integer digits",
    "more than 50 integer digits", "more than 51 integer digits",
    "more than 52 integer digits", "more than 53 integer digits",
    "more than 54 integer digits", "more than 55 integer digits",
    "more than 56 integer digits", "more than 57 integer digits",
    "more than 58 integer digits", "more than 59 integer digits",
    "more than 60 integer digits", "more than 61 integer digits",
    "more than 62 integer digits", "more than 63 integer digits",
    "more than 64 integer digits", "more than 65 integer digits",
    "more than 66 integer digits", "more than 67 integer digits",
    "more than 68 integer digits", "more than 69 integer digits",
    "more than 70 integer digits", "more than 71 integer digits",
    "more than 72 integer digits", "more than 73 integer digits",
    "more than 74 integer digits", "more than 75 integer digits",
    "more than 76 integer digits",
};
static const char pb_dec_not_number[] = "not a decimal number";
static const char pb_dec_bad_schema[] = "unsupported decimal precision/scale";

/* mag (32 bytes big-endian) = mag * 10 + dig */
static void pb_mag_muladd(uint8_t *mag, unsigned dig) {
        unsigned carry = dig;
        int i;
        for (i = PB_DEC_BYTES - 1; i >= 0; i--) {
                unsigned v = (unsigned)mag[i] * 10 + carry;
                mag[i] = (uint8_t)v;
                carry = v >> 8;
        }
}

/* Two's complement negation in place. */
static void pb_mag_negate(uint8_t *b, size_t n) {
        unsigned carry = 1;
        size_t i = n;
        while (i--) {
                unsigned v = (uint8_t)~b[i] + carry;
                b[i] = (uint8_t)v;
                carry = v >> 8;
        }
}

/* Copies the minimal two's-complement form of full[32] into out. */
static int pb_minimal(const uint8_t *full, uint8_t *out) {
        size_t i = 0;
        while (i < PB_DEC_BYTES - 1 &&
               ((full[i] == 0x00 && !(full[i + 1] & 0x80)) ||
                (full[i] == 0xFF && (full[i + 1] & 0x80))))
                i++;
        memcpy(out, full + i, PB_DEC_BYTES - i);
        return (int)(PB_DEC_BYTES - i);
}

int pb_decimal_parse(const char *s, size_t len, int precision, int scale,
                     uint8_t *out, const char **why) {
        const char *e = s + len, *ip, *fp = NULL;
        size_t ni = 0, nf = 0, i;
        int neg = 0;
        uint8_t full[PB_DEC_BYTES];
        const char *dummy;

        if (!why)
                why = &dummy;
        if (precision < 1 || precision > PB_DEC_MAX_PRECISION || scale < 0 ||
            scale > precision) {
                *why = pb_dec_bad_schema;
                return -1;
        }
        if (s < e && *s == '-') {
                neg = 1;
                s++;
        }
        ip = s;
        while (s < e && *s >= '0' && *s <= '9')
                s++;
        ni = (size_t)(s - ip);
        if (ni == 0) {
                *why = pb_dec_not_number;
                return -1;
        }
        if (s < e && *s == '.') {
                fp = ++s;
                while (s < e && *s >= '0' && *s <= '9')
                        s++;
                nf = (size_t)(s - fp);
                if (nf == 0) {
                        *why = pb_dec_not_number;
                        return -1;
                }
        }
        if (s != e) {
                *why = pb_dec_not_number;
                return -1;
        }
        /* leading zeros carry no precision: "007.50" has 1 integer digit */
        while (ni > 0 && *ip == '0') {
                ip++;
                ni--;
        }
        if (nf > (size_t)scale) {
                *why = pb_dec_frac_msg[scale];
                return -1;
        }
        if (ni > (size_t)(precision - scale)) {
                *why = pb_dec_int_msg[precision - scale];
                return -1;
        }
        /* unscaled value = integer digits, fraction digits, zero padding */
        if (ni + (size_t)scale <= 18) {
                uint64_t v = 0;
                for (i = 0; i < ni; i++)
                        v = v * 10 + (uint64_t)(ip[i] - '0');
                for (i = 0; i < (size_t)scale; i++)
                        v = v * 10 + (i < nf ? (uint64_t)(fp[i] - '0') : 0);
                for (i = 0; i < 8; i++)
                        full[PB_DEC_BYTES - 1 - i] = (uint8_t)(v >> (8 * i));
                memset(full, 0, PB_DEC_BYTES - 8);
        } else {
                memset(full, 0, sizeof(full));
                for (i = 0; i < ni; i++)
                        pb_mag_muladd(full, (unsigned)(ip[i] - '0'));
                for (i = 0; i < (size_t)scale; i++)
                        pb_mag_muladd(full,
                                      i < nf ? (unsigned)(fp[i] - '0') : 0);
        }
        if (neg)
                pb_mag_negate(full, PB_DEC_BYTES);
        return pb_minimal(full, out);
}

int pb_decimal_format(const uint8_t *b, size_t n, int scale, char *buf,
                      size_t size) {
        uint8_t full[PB_DEC_BYTES];
        uint32_t limb[PB_DEC_BYTES / 4];
        char dig[96]; /* decimal digits, least significant first */
        size_t nd = 0, i, need, o = 0;
        int neg, nz, k;

        if (n > PB_DEC_BYTES || scale < 0 || scale > PB_DEC_MAX_PRECISION)
                return -1;
        neg = n > 0 && (b[0] & 0x80);
        memset(full, neg ? 0xFF : 0x00, sizeof(full));
        if (n)
                memcpy(full + PB_DEC_BYTES - n, b, n);
        if (neg)
                pb_mag_negate(full, PB_DEC_BYTES); /* |-2^255| fits unsigned */
        for (i = 0; i < PB_DEC_BYTES / 4; i++)
                limb[i] = (uint32_t)full[4 * i] << 24 |
                          (uint32_t)full[4 * i + 1] << 16 |
                          (uint32_t)full[4 * i + 2] << 8 | full[4 * i + 3];
        /* repeated division by 10^9, 9 digits per round */
        do {
                uint64_t rem = 0;
                nz = 0;
                for (i = 0; i < PB_DEC_BYTES / 4; i++) {
                        uint64_t cur = (rem << 32) | limb[i];
                        limb[i] = (uint32_t)(cur / 1000000000u);
                        rem = cur % 1000000000u;
                        nz |= limb[i] != 0;
                }
                for (k = 0; k < 9; k++) {
                        dig[nd++] = (char)('0' + rem % 10);
                        rem /= 10;
                }
        } while (nz);
        while (nd > 1 && dig[nd - 1] == '0')
                nd--;
        /* at least one integer digit */
        while (nd < (size_t)scale + 1)
                dig[nd++] = '0';
        need = (size_t)neg + nd + (scale ? 1 : 0);
        if (need + 1 > size)
                return -1;
        if (neg)
                buf[o++] = '-';
        for (i = nd; i-- > 0;) {
                buf[o++] = dig[i];
                if (scale && i == (size_t)scale)
                        buf[o++] = '.';
        }
        buf[o] = 0;
        return (int)o;
}

/* --- base64 --- */

static const char pb_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Returns the text length (without NUL), or 0 if out cannot hold it plus
 * the NUL terminator. */
size_t pb_base64_encode(const uint8_t *in, size_t n, char *out, size_t size) {
        size_t need = (n + 2) / 3 * 4, i, o = 0;

        if (n > (SIZE_MAX - 3) / 4 * 3 || need + 1 > size) {
                if (size)
                        out[0] = 0;
                return 0;
        }
        for (i = 0; i + 3 <= n; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
                             in[i + 2];
                out[o++] = pb_b64[v >> 18];
                out[o++] = pb_b64[(v >> 12) & 63];
                out[o++] = pb_b64[(v >> 6) & 63];
                out[o++] = pb_b64[v & 63];
        }
        if (n - i == 1) {
                uint32_t v = (uint32_t)in[i] << 16;
                out[o++] = pb_b64[v >> 18];
                out[o++] = pb_b64[(v >> 12) & 63];
                out[o++] = '=';
                out[o++] = '=';
        } else if (n - i == 2) {
                uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
                out[o++] = pb_b64[v >> 18];
                out[o++] = pb_b64[(v >> 12) & 63];
                out[o++] = pb_b64[(v >> 6) & 63];
                out[o++] = '=';
        }
        out[o] = 0;
        return o;
}

static int pb_b64val(unsigned char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/* Strict: length a multiple of 4, '=' only as final padding, no
 * whitespace, unused bits of the last symbol zero (canonical form). */
long pb_base64_decode(const char *in, size_t n, uint8_t *out, size_t size) {
        const unsigned char *s = (const unsigned char *)in;
        size_t i, o = 0, pad = 0, outlen;

        if (n % 4)
                return -1;
        if (n && s[n - 1] == '=')
                pad = (n >= 2 && s[n - 2] == '=') ? 2 : 1;
        outlen = n / 4 * 3 - pad;
        if (outlen > size || outlen > (size_t)LONG_MAX)
                return -1;
        for (i = 0; i < n; i += 4) {
                int a = pb_b64val(s[i]), b = pb_b64val(s[i + 1]), c, d;
                int last = i + 4 == n;
                if (a < 0 || b < 0)
                        return -1;
                if (last && pad == 2) {
                        if (b & 15)
                                return -1;
                        out[o++] = (uint8_t)(a << 2 | b >> 4);
                        break;
                }
                c = pb_b64val(s[i + 2]);
                if (c < 0)
                        return -1;
                if (last && pad == 1) {
                        if (c & 3)
                                return -1;
                        out[o++] = (uint8_t)(a << 2 | b >> 4);
                        out[o++] = (uint8_t)((b & 15) << 4 | c >> 2);
                        break;
                }
                d = pb_b64val(s[i + 3]);
                if (d < 0)
                        return -1;
                out[o++] = (uint8_t)(a << 2 | b >> 4);
                out[o++] = (uint8_t)((b & 15) << 4 | c >> 2);
                out[o++] = (uint8_t)((c & 3) << 6 | d);
        }
        return (long)o;
}

/* --- hex digits and UUIDs --- */

int pb_hex_value(int c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int pb_uuid_parse(const char *s, size_t len, uint8_t u[16]) {
        size_t i, k = 0;
        if (len != 36)
                return -1;
        for (i = 0; i < 36;) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return -1;
                        i++;
                        continue;
                }
                int hi = pb_hex_value((unsigned char)s[i]);
                int lo = pb_hex_value((unsigned char)s[i + 1]);
                if (hi < 0 || lo < 0)
                        return -1;
                u[k++] = (uint8_t)(hi << 4 | lo);
                i += 2;
        }
        return 0;
}

/* pb_uuid_parse's rule without the conversion to bytes (the encoder checks
 * every uuid field): one table lookup per digit, the loop unrolled by the
 * compiler with the dash positions known. */
static const unsigned char pb_hex_digit[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1};

int pb_uuid_valid(const char *s, size_t len) {
        unsigned ok = 1;
        if (len != 36)
                return 0;
        for (size_t i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23)
                        ok &= s[i] == '-';
                else
                        ok &= pb_hex_digit[(unsigned char)s[i]];
        }
        return (int)ok;
}

static void pb_uuid_text(const uint8_t u[16], char out[37]) {
        static const char hex[] = "0123456789abcdef";
        size_t i, o = 0;
        for (i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        out[o++] = '-';
                out[o++] = hex[u[i] >> 4];
                out[o++] = hex[u[i] & 15];
        }
        out[o] = 0;
}

/* Fills buf with n random bytes from the kernel; -1 if unavailable. */
static int pb_random(uint8_t *buf, size_t n) {
        size_t got = 0;
        while (got < n) {
                ssize_t r = getrandom(buf + got, n - got, 0);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                got += (size_t)r;
        }
        if (got == n)
                return 0;
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        got = 0;
        while (got < n) {
                ssize_t r = read(fd, buf + got, n - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                got += (size_t)r;
        }
        close(fd);
        return got == n ? 0 : -1;
}

void pb_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, long ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(cond, lock, &ts);
}

void pb_uuid_v4(char out[37]) {
        uint8_t u[16];

        if (pb_random(u, sizeof(u)) != 0) {
                /* No kernel randomness: unique but not unpredictable
                 * (time, pid, counter through splitmix64). */
                static uint64_t ctr;
                struct timespec ts;
                uint64_t x, i;
                clock_gettime(CLOCK_REALTIME, &ts);
                x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
                x ^= (uint64_t)getpid() << 32;
                x += __atomic_add_fetch(&ctr, 1, __ATOMIC_RELAXED) *
                     0x9E3779B97F4A7C15ULL;
                for (i = 0; i < 2; i++) {
                        uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
                        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
                        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
                        z ^= z >> 31;
                        memcpy(u + 8 * i, &z, 8);
                }
        }
        u[6] = (uint8_t)((u[6] & 0x0F) | 0x40);
        u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
        pb_uuid_text(u, out);
}

/* The digests: each algorithm fetched once, one context per thread
 * (freed when the thread ends) re-initialised for each digest. */
enum { MD_SHA1, MD_SHA256, MD_N };
static EVP_MD *md_algs[MD_N];
static pthread_key_t md_ctx_key;
static int md_key_ok;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_ctx_free(void *ctx) {
        EVP_MD_CTX_free(ctx);
}

static void md_fetch(void) {
        md_algs[MD_SHA1] = EVP_MD_fetch(NULL, "SHA1", NULL);
        md_algs[MD_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
        md_key_ok = pthread_key_create(&md_ctx_key, md_ctx_free) == 0;
}

/* The digest of a then b into md; 0, or -1 when libcrypto fails. */
static int digest2(int alg, const void *a, size_t alen, const void *b,
                   size_t blen, unsigned char *md) {
        EVP_MD_CTX *ctx, *own = NULL;
        unsigned n = 0;
        int ok;
        pthread_once(&md_once, md_fetch);
        if (!md_algs[alg])
                return -1;
        ctx = md_key_ok ? pthread_getspecific(md_ctx_key) : NULL;
        if (!ctx) {
                if (!(ctx = EVP_MD_CTX_new()))
                        return -1;
                if (!md_key_ok || pthread_setspecific(md_ctx_key, ctx))
                        own = ctx; /* not kept: freed below */
        }
        ok = EVP_DigestInit_ex2(ctx, md_algs[alg], NULL) == 1 &&
             (!alen || EVP_DigestUpdate(ctx, a, alen) == 1) &&
             (!blen || EVP_DigestUpdate(ctx, b, blen) == 1) &&
             EVP_DigestFinal_ex(ctx, md, &n) == 1;
        EVP_MD_CTX_free(own);
        return ok ? 0 : -1;
}

void pb_sha256(const void *data, size_t len, unsigned char md[32]) {
        /* out of memory: the slow way; a digest left unset would match
         * keys and tokens at random (ownership, authentication), so with
         * none at all the process stops */
        if (digest2(MD_SHA256, data, len, NULL, 0, md) &&
            !SHA256(data, len, md)) {
                fputs("partnerbus: SHA-256 unavailable (out of memory)\n",
                      stderr);
                abort();
        }
}

void pb_sha256_hex(const void *data, size_t len, char out[65]) {
        static const char hx[] = "0123456789abcdef";
        unsigned char d[32];
        size_t i;
        pb_sha256(data, len, d);
        for (i = 0; i < 32; i++) {
                out[2 * i] = hx[d[i] >> 4];
                out[2 * i + 1] = hx[d[i] & 15];
        }
        out[64] = 0;
}

/* RFC 4122 section 4.3: SHA-1 over namespace bytes then name. Returns 0, or
 * -1 if ns is not a UUID or libcrypto fails (out is then ""). */
int pb_uuid_v5(const char *ns, const void *name, size_t len, char out[37]) {
        uint8_t u[16], md[20];

        out[0] = 0;
        if (!ns || pb_uuid_parse(ns, strlen(ns), u) ||
            digest2(MD_SHA1, u, sizeof(u), name, len, md))
                return -1;
        memcpy(u, md, 16);
        u[6] = (uint8_t)((u[6] & 0x0F) | 0x50);
        u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
        pb_uuid_text(u, out);
        return 0;
}

int pb_topic_name_valid(const char *s) {
        size_t n, i;
        if (!s)
                return 0;
        n = strlen(s);
        if (n == 0 || n > 249 || !strcmp(s, ".") || !strcmp(s, ".."))
                return 0;
        for (i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                      c == '-'))
                        return 0;
        }
        return 1;
}

static int secret_param(const char *name, size_t n) {
        static const char *names[] = {
            "token",     "access_token", "api_key", "apikey",
            "key",       "password",     "pass",    "secret",
            "signature", "sig",          "auth",    "client_secret"};
        size_t i;
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strlen(names[i]) == n && !strncasecmp(name, names[i], n))
                        return 1;
        return 0;
}

const char *pb_redact_url(const char *url, char *out, size_t size) {
        const char *p = url, *auth, *at, *end, *q;
        size_t o = 0;
#define PUT(s, n)                                                              \
        do {                                                                   \
                size_t n_ = (n);                                               \
                if (o + n_ >= size)                                            \
                        n_ = size - 1 - o;                                     \
                memcpy(out + o, (s), n_);                                      \
                o += n_;                                                       \
        } while (0)
        if (!size)
                return out;
        if (!url) {
                out[0] = 0;
                return out;
        }
        /* userinfo: between "://" and the first '@' before the path */
        auth = strstr(p, "://");
        if (auth) {
                auth += 3;
                end = auth + strcspn(auth, "/?#");
                at = NULL; /* the last '@' ends the userinfo */
                for (q = auth; q < end; q++)
                        if (*q == '@')
                                at = q;
                if (at) {
                        PUT(p, (size_t)(auth - p));
                        PUT("***", 3);
                        p = at;
                }
        }
        q = strchr(p, '?');
        if (!q) {
                PUT(p, strlen(p));
                out[o] = 0;
                return out;
        }
        PUT(p, (size_t)(q - p) + 1);
        p = q + 1;
        while (*p) {
                size_t n = strcspn(p, "&#"), k = strcspn(p, "=&#");
                if (k < n && secret_param(p, k)) {
                        PUT(p, k + 1);
                        PUT("***", 3);
                } else {
                        PUT(p, n);
                }
                p += n;
                if (*p == '#') {
                        PUT(p, strlen(p));
                        break;
                }
                if (*p == '&') {
                        PUT("&", 1);
                        p++;
                }
        }
        out[o] = 0;
        return out;
#undef PUT
}

char *pb_read_file(const char *path, size_t max, size_t *len, char *errstr,
                   size_t errstr_size) {
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        size_t n = 0, cap = 0;
        if (!fp) {
                snprintf(errstr, errstr_size, "cannot open %s: %s", path,
                         strerror(errno));
                return NULL;
        }
        for (;;) {
                size_t got;
                if (n > max)
                        break; /* too large: said below */
                if (cap - n < 4096 + 1) {
                        char *nb = realloc(buf, cap ? cap * 2 : 8192);
                        if (!nb) {
                                free(buf);
                                fclose(fp);
                                snprintf(errstr, errstr_size, "out of memory");
                                return NULL;
                        }
                        buf = nb;
                        cap = cap ? cap * 2 : 8192;
                }
                got = fread(buf + n, 1, 4096, fp);
                n += got;
                if (got < 4096)
                        break;
        }
        if (ferror(fp) || n > max) {
                snprintf(errstr, errstr_size, "%s: %s", path,
                         ferror(fp) ? strerror(errno) : "file too large");
                free(buf);
                fclose(fp);
                return NULL;
        }
        fclose(fp);
        buf[n] = 0;
        *len = n;
        return buf;
}
