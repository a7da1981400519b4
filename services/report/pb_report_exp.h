/* partnerbus report - the exports for analysts' tools: the .xlsx workbook
 * (pb_report_xlsx.c) and the IATI activity file (pb_report_iati.c), and
 * the line items they share (pb_report_items.c). Not a public header. */
#ifndef PB_REPORT_EXP_H
#define PB_REPORT_EXP_H

#include <stdint.h>

#include "partnerbus/pb_labels.h"
#include "pb_report.h"

/* One entity (grant, shipment dispatch, partnership) in the figures: its
 * latest version. */
typedef struct pb_report_item {
        const char *json; /* compact natural JSON of the latest version */
        size_t len;
        const char *owner; /* the source of its first version */
        char date[16];     /* granted_on / dispatched_on / founded_on */
        char id[640];      /* grant_id / shipment_id / partnership_id (keys are
                            * at most ~590 bytes: pb_report_agg.c) */
} pb_report_item_t;

/* The entities of `type` that enter the figures, sorted by business date,
 * then id. *items is malloc'ed (free it); the JSON points into r and lives
 * as long as r. Call after pb_report_finish. PB_ERR_NOMEM, PB_ERR_INVALID
 * when a kept version cannot be parsed. */
pb_resp_t pb_report_items(const pb_report_t *r, const char *type,
                          pb_report_item_t **items, size_t *n);

/* A shipment's confirmation: 1 and the delivery date (YYYY-MM-DD) and
 * condition (COMPLETE, PARTIAL, DAMAGED, "" other) when confirmed in the
 * range, else 0. */
int pb_report_delivery(const pb_report_t *r, const char *shipment_id,
                       char date[16], const char **condition);

/* The string member at a dotted path ("sender.name") of o, or NULL. */
const char *pb_report_str(const pb_json_t *o, const char *path);

/* The report as an .xlsx workbook at path: a summary sheet (key figures,
 * funds and aid by month, funds by programme, from summary.json) and one
 * sheet of line items per area, amounts as numbers with a currency format;
 * texts from labels (headers in its language). 0, or -1 with errstr. */
int pb_report_xlsx(pb_report_t *r, const pb_labels_t *labels, const char *path,
                   char *errstr, size_t errstr_size);

/* The IATI organisation that reports (reporting-org). */
typedef struct pb_report_iati_conf {
        const char *org_ref;   /* IATI organisation identifier, e.g. DE-... */
        const char *org_name;  /* its name */
        const char *org_type;  /* OrganisationType code, default "10" */
        const char *generated; /* generated-datetime (RFC 3339), required */
} pb_report_iati_conf_t;

/* Funds and aid of the range as an IATI 2.03 activity file into out: one
 * activity per programme (its grants as commitments and disbursements)
 * and per grant outside a programme, and one per sending organisation's
 * aid in kind. 0, or -1 with errstr. */
int pb_report_iati(pb_report_t *r, const pb_report_iati_conf_t *conf,
                   pb_buf_t *out, char *errstr, size_t errstr_size);

#endif
