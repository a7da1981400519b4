/* partnerbus - the sink registry and settings helpers (pb_connector.h). */
#include "pb_connector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pb_sink_plugin_t *const pb_sinks[] = {
    &pb_sink_webhook,
    &pb_sink_archive,
    &pb_sink_jsonl,
};

const pb_sink_plugin_t *pb_sink_plugin_find(const char *name) {
        size_t i;
        for (i = 0; name && i < sizeof(pb_sinks) / sizeof(pb_sinks[0]); i++)
                if (!strcmp(pb_sinks[i]->name, name))
                        return pb_sinks[i];
        return NULL;
}

const pb_sink_plugin_t *pb_sink_plugin_at(size_t i) {
        return i < sizeof(pb_sinks) / sizeof(pb_sinks[0]) ? pb_sinks[i] : NULL;
}

const char *pb_sink_result_name(pb_sink_result_t r) {
        switch (r) {
        case PB_SINK_OK:
                return "ok";
        case PB_SINK_RETRY:
                return "retry";
        case PB_SINK_PERMANENT:
                return "permanent";
        }
        return "?";
}

void *pb_sink_settings_new(const pb_sink_plugin_t *p, char *errstr,
                           size_t errstr_size) {
        void *st = calloc(1, p->settings_size ? p->settings_size : 1);
        if (!st) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (pb_optmap_defaults(p->opts, p->nopts, st, errstr, errstr_size) <
            0) {
                free(st);
                return NULL;
        }
        return st;
}

int pb_sink_settings_json(const pb_sink_plugin_t *p, void *settings,
                          const pb_json_t *obj, const char *ptr, char *errstr,
                          size_t errstr_size) {
        return pb_optmap_apply_json(p->opts, p->nopts, settings, obj, ptr,
                                    errstr, errstr_size);
}
