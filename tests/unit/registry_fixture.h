/* partnerbus - a check shared by the schema-registry client's unit and
 * integration tests (include after <cmocka.h>). */
#ifndef PB_REGISTRY_FIXTURE_H
#define PB_REGISTRY_FIXTURE_H

#include <string.h>

#include "partnerbus/pb_serde.h"

/* A registry client for url cannot look up schema id 1: PB_ERR_HTTP, with
 * an error that contains want. */
static inline void registry_lookup_fails(const char *url, const char *want) {
        char err[512] = "";
        const pb_schema_t *got = NULL;
        pb_registry_t *r = pb_registry_new(url, err, sizeof(err));
        assert_non_null(r);
        assert_int_equal(pb_registry_lookup(r, 1, &got, err, sizeof(err)),
                         PB_ERR_HTTP);
        if (!strstr(err, want))
                fail_msg("error \"%s\" does not name %s", err, want);
        pb_registry_destroy(r);
}

#endif
