/* partnerbus report - IATI activity file (stub, replaced below). */
#include <stdio.h>

#include "pb_report_exp.h"

int pb_report_iati(pb_report_t *r, const pb_report_iati_conf_t *conf,
                   pb_buf_t *out, char *errstr, size_t errstr_size) {
        (void)r;
        (void)conf;
        (void)out;
        snprintf(errstr, errstr_size, "not yet");
        return -1;
}
