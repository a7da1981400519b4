/* partnerbus - the JSON text of a string, byte by byte: the reference the
 * unit tests hold the word-at-a-time writers against (the codec's string
 * output, pb_buf_json_str). Every byte as it is, except '"', '\\' and the
 * control characters. */
#ifndef PB_JSON_REF_H
#define PB_JSON_REF_H

#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_common.h"

static inline void ref_json_str(const uint8_t *s, size_t n, pb_buf_t *b) {
        static const char hex[] = "0123456789abcdef";
        pb_buf_putc(b, '"');
        for (size_t i = 0; i < n; i++) {
                uint8_t c = s[i];
                const char *e = c == '"'    ? "\\\""
                                : c == '\\' ? "\\\\"
                                : c == '\b' ? "\\b"
                                : c == '\f' ? "\\f"
                                : c == '\n' ? "\\n"
                                : c == '\r' ? "\\r"
                                : c == '\t' ? "\\t"
                                            : NULL;
                if (e)
                        pb_buf_puts(b, e);
                else if (c < 0x20)
                        pb_buf_printf(b, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
                else
                        pb_buf_putc(b, c);
        }
        pb_buf_putc(b, '"');
}

#endif
