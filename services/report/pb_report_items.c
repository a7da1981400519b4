/* partnerbus report - line items: the latest version of every entity in
 * the figures, sorted, for the exports (pb_report_exp.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partnerbus/pb_util.h"
#include "pb_report_exp.h"
#include "pb_report_int.h"

static int item_cmp(const void *pa, const void *pb) {
        const pb_report_item_t *a = pa, *b = pb;
        int c = strcmp(a->date, b->date);
        return c ? c : strcmp(a->id, b->id);
}

static void copy_str(char *dst, size_t size, const pb_json_t *v) {
        if (v && v->type == PB_JSON_STRING && v->len < size) {
                memcpy(dst, v->str, v->len);
                dst[v->len] = 0;
        } else
                dst[0] = 0;
}

pb_resp_t pb_report_items(const pb_report_t *r, const char *type,
                          pb_report_item_t **items, size_t *n) {
        const pb_entity_type_t *en = pb_owners_entity(type);
        pb_json_parser_t *jp;
        pb_report_item_t *out;
        size_t i, k = 0;
        *items = NULL;
        *n = 0;
        if (!en)
                return PB_ERR_ARG;
        if (!(out = calloc(r->latest.n ? r->latest.n : 1, sizeof(*out))))
                return PB_ERR_NOMEM;
        if (!(jp = pb_json_parser_new(NULL))) {
                free(out);
                return PB_ERR_NOMEM;
        }
        for (i = 0; i < r->latest.cap; i++) {
                const pb_latest_t *l = r->latest.vals[i];
                const pb_json_t *ev;
                if (!r->latest.keys[i] || !l || strcmp(l->type, type))
                        continue;
                if (k == r->latest.n ||
                    !(ev = pb_json_parse(jp, l->json, l->len, NULL, 0))) {
                        pb_json_parser_destroy(jp);
                        free(out);
                        return PB_ERR_INVALID;
                }
                out[k].json = l->json;
                out[k].len = l->len;
                out[k].owner = l->owner;
                copy_str(out[k].date, sizeof(out[k].date),
                         pb_json_get(ev, en->date_field));
                copy_str(out[k].id, sizeof(out[k].id),
                         pb_json_get(ev, en->pointer + 1));
                k++;
        }
        pb_json_parser_destroy(jp);
        qsort(out, k, sizeof(*out), item_cmp);
        *items = out;
        *n = k;
        return PB_OK;
}

int pb_report_delivery(const pb_report_t *r, const char *shipment_id,
                       char date[16], const char **condition) {
        static const char *conds[] = {"COMPLETE", "PARTIAL", "DAMAGED", ""};
        pb_ship_t *s = pb_report_smap_get((pb_report_smap_t *)&r->ships,
                                          shipment_id, strlen(shipment_id));
        date[0] = 0;
        *condition = "";
        if (!s || !s->delivered)
                return 0;
        pb_date_format(s->delivered_on, date, 16);
        *condition =
            conds[s->condition >= 0 && s->condition < 3 ? s->condition : 3];
        return 1;
}

const char *pb_report_str(const pb_json_t *o, const char *path) {
        char seg[64];
        const char *dot;
        while (o && (dot = strchr(path, '.'))) {
                snprintf(seg, sizeof(seg), "%.*s", (int)(dot - path), path);
                o = pb_json_get(o, seg);
                path = dot + 1;
        }
        o = o ? pb_json_get(o, path) : NULL;
        return o && o->type == PB_JSON_STRING ? o->str : NULL;
}
