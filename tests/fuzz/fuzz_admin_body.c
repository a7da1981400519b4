/* libFuzzer target: the admin API's request-body parser and validators
 * (services/admin/pb_adm_body.c). Input byte 0 picks the kind of body
 * (organisation, change, token, subscription, retransmit, empty), the rest
 * is the body. A body is either accepted as a JSON object or refused with
 * 1..PB_ADM_MAX_ERRORS errors, each with a pointer that is "" or starts
 * with '/'; nothing may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb_adm.h"

static int known(void *opaque, const char *type) {
        (void)opaque;
        return !strcmp(type, "aid.dispatched") ||
               !strcmp(type, "aid.delivered") || !strcmp(type, "funds.granted");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        pb_adm_errors_t errs;
        cJSON *out;
        char *body;
        size_t i;
        if (size < 1)
                return 0;
        body = malloc(size); /* exact size: ASan sees overreads */
        if (!body)
                return 0;
        memcpy(body, data + 1, size - 1);
        out =
            pb_adm_body_parse((pb_adm_body_kind_t)(data[0] % 7), body, size - 1,
                              (data[0] & 0x80) ? known : NULL, NULL, &errs);
        if (out) {
                char *txt;
                if (errs.n != 0 || !cJSON_IsObject(out))
                        abort();
                txt = cJSON_PrintUnformatted(out);
                if (!txt)
                        abort();
                free(txt);
                cJSON_Delete(out);
        } else {
                if (errs.n < 1 || errs.n > PB_ADM_MAX_ERRORS)
                        abort();
                for (i = 0; i < errs.n; i++) {
                        const char *p = errs.e[i].pointer;
                        if (!memchr(p, 0, sizeof(errs.e[i].pointer)) ||
                            !memchr(errs.e[i].message, 0,
                                    sizeof(errs.e[i].message)) ||
                            (p[0] && p[0] != '/'))
                                abort();
                }
        }
        free(body);
        return 0;
}
