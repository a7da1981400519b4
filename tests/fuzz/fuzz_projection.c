/* libFuzzer target for pb_projection (the field projection of the relay
 * fleet): the input is lines "+POINTER" (include) and "-POINTER"
 * (exclude), then a line "=" and an event's JSON. Any pointers must be
 * compiled or refused without a crash or leak; a projection of a parsed
 * event must be JSON that parses again, keep event_id, and lack every
 * top-level member a one-token exclude pointer names. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_json.h"
#include "partnerbus/pb_projection.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *inc[PB_PROJECTION_MAX + 1], *exc[PB_PROJECTION_MAX + 1];
        size_t ninc = 0, nexc = 0, i = 0;
        char *text, err[256];
        const char *json = NULL;
        size_t jlen = 0;
        pb_projection_t *p;
        pb_json_parser_t *jp;
        const pb_json_t *ev, *again;
        pb_buf_t out;
        if (size > 65536)
                return 0;
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        while (i < size) {
                char *nl = memchr(text + i, '\n', size - i);
                size_t end = nl ? (size_t)(nl - text) : size;
                text[end] = 0;
                if (text[i] == '=') {
                        json = text + end + 1 <= text + size ? text + end + 1
                                                             : NULL;
                        jlen = json ? size - (end + 1 <= size ? end + 1 : size)
                                    : 0;
                        break;
                }
                if (text[i] == '+' && ninc <= PB_PROJECTION_MAX)
                        inc[ninc++] = text + i + 1;
                else if (text[i] == '-' && nexc <= PB_PROJECTION_MAX)
                        exc[nexc++] = text + i + 1;
                i = end + 1;
        }
        p = pb_projection_new(inc, ninc, exc, nexc, err, sizeof(err));
        if (!p || !json) {
                pb_projection_destroy(p);
                free(text);
                return 0;
        }
        jp = pb_json_parser_new(NULL);
        pb_buf_init(&out, 0);
        ev = jp ? pb_json_parse(jp, json, jlen, err, sizeof(err)) : NULL;
        if (ev && ev->type == PB_JSON_OBJECT &&
            pb_projection_apply(p, ev, &out) == PB_OK) {
                int had_id = pb_json_get(ev, "event_id") != NULL;
                again = pb_json_parse(jp, (const char *)out.data, out.len, err,
                                      sizeof(err));
                if (!again)
                        abort(); /* the projection is not JSON */
                if (had_id && !pb_json_get(again, "event_id"))
                        abort(); /* event_id must be kept */
                for (i = 0; i < nexc; i++) {
                        const char *n = exc[i] + 1;
                        if (exc[i][0] != '/' || strchr(n, '/') ||
                            strchr(n, '~') || !strcmp(n, "event_id") ||
                            !strcmp(n, "type"))
                                continue;
                        if (pb_json_get(again, n))
                                abort(); /* an excluded member is there */
                }
        }
        pb_buf_free(&out);
        pb_json_parser_destroy(jp);
        pb_projection_destroy(p);
        free(text);
        return 0;
}
