/* partnerbus - the sink registry and settings helpers (pb_connector.h). */
#include "pb_connector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

void pb_sink_settings_set(pb_sink_settings_t *s, const char *key,
                          const char *value) {
        if (s->n < PB_SINK_MAX_SETTINGS && key && value) {
                s->key[s->n] = key;
                s->value[s->n] = value;
                s->n++;
        }
}

const char *pb_sink_setting(const pb_sink_settings_t *s, const char *key,
                            const char *def) {
        size_t i;
        const char *v = def;
        for (i = 0; s && i < s->n; i++)
                if (!strcmp(s->key[i], key))
                        v = s->value[i];
        return v;
}

int64_t pb_sink_setting_ms(const pb_sink_settings_t *s, const char *key,
                           const char *def, char *errstr, size_t errstr_size) {
        const char *v = pb_sink_setting(s, key, def);
        char *end;
        double x, mul = 1;
        if (!v)
                return -1;
        errno = 0;
        x = strtod(v, &end);
        if (!strcmp(end, "s"))
                mul = 1000;
        else if (!strcmp(end, "m"))
                mul = 60000;
        else if (!strcmp(end, "h"))
                mul = 3600000;
        else if (!strcmp(end, "d"))
                mul = 86400000;
        else if (*end && strcmp(end, "ms"))
                end = (char *)v; /* bad suffix */
        if (errno || end == v || x < 0 || x * mul > 9e15) {
                snprintf(errstr, errstr_size, "%s: '%s' is not a duration", key,
                         v);
                return -1;
        }
        return (int64_t)(x * mul);
}

int64_t pb_sink_setting_bytes(const pb_sink_settings_t *s, const char *key,
                              const char *def, char *errstr,
                              size_t errstr_size) {
        const char *v = pb_sink_setting(s, key, def);
        char *end;
        unsigned long long x, mul = 1;
        if (!v)
                return -1;
        errno = 0;
        x = strtoull(v, &end, 10);
        if (!strcmp(end, "KiB") || !strcmp(end, "K"))
                mul = 1024;
        else if (!strcmp(end, "MiB") || !strcmp(end, "M"))
                mul = 1024 * 1024;
        else if (!strcmp(end, "GiB") || !strcmp(end, "G"))
                mul = 1024ull * 1024 * 1024;
        else if (*end)
                end = (char *)v;
        if (errno || end == v || *v == '-' || x > (1ull << 50) / mul) {
                snprintf(errstr, errstr_size, "%s: '%s' is not a size", key, v);
                return -1;
        }
        return (int64_t)(x * mul);
}

int pb_sink_setting_bool(const pb_sink_settings_t *s, const char *key,
                         int def) {
        const char *v = pb_sink_setting(s, key, NULL);
        if (!v)
                return def;
        if (!strcasecmp(v, "1") || !strcasecmp(v, "true") ||
            !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
                return 1;
        if (!strcasecmp(v, "0") || !strcasecmp(v, "false") ||
            !strcasecmp(v, "no") || !strcasecmp(v, "off"))
                return 0;
        return def;
}
