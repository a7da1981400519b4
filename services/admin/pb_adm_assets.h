/* partnerbus admin - the web console's files, built into the binary
 * (cmake/PbEmbed.cmake writes pb_adm_assets.c; docs/console.md). */
#ifndef PB_ADM_ASSETS_H
#define PB_ADM_ASSETS_H

#include <stddef.h>

typedef struct pb_adm_asset {
        const char *url;          /* "/console/index.html" */
        const char *content_type; /* "text/html; charset=utf-8" */
        const unsigned char *data;
        size_t len;
} pb_adm_asset_t;

/* Ends with an entry whose url is NULL. */
extern const pb_adm_asset_t pb_adm_assets[];

/* The asset served at url ("/console/" is index.html), or NULL. */
const pb_adm_asset_t *pb_adm_asset_find(const char *url);

#endif
