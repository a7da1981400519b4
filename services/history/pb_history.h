/* partnerbus - what replay and report hold while they read a time range:
 * the topics, the --where filter, the schemas and serializer, the source
 * (pb_replay_src.h) and its configuration. */
#ifndef PB_HISTORY_H
#define PB_HISTORY_H

#include "partnerbus/pb_filter.h"
#include "pb_cli.h"
#include "pb_replay_src.h"

typedef struct pb_history {
        pb_replay_src_conf_t conf; /* pb_replay_src_conf_init */
        char **topics;             /* pb_opts_topics */
        size_t ntopics;
        pb_filter_t *filter; /* pb_opts_where */
        pb_schemas_t *catalog;
        pb_registry_t *registry;
        pb_serde_t *serde;
        pb_replay_src_t *src;
} pb_history_t;

/* The schemas and the serializer (with --schema-registry, its client).
 * 0, or -1 after printing why. */
int pb_history_load(pb_history_t *hs, const char *cmd,
                    const pb_cli_common_t *cc);
/* Completes the configuration (window, filter, serializer, schemas),
 * traps SIGINT/SIGTERM and opens the source: 0, or -1 after printing
 * why. parse_json as pb_replay_src_new. */
int pb_history_start(pb_history_t *hs, size_t window, int parse_json);
/* Reads the started source to its end, handing each event to
 * each(opaque, ev), and stops early at a read failure (already printed)
 * or when each() returns nonzero; then ends the progress line and fills
 * *st. 1 when every event was read and taken, else 0. */
int pb_history_each(pb_history_t *hs,
                    int (*each)(void *opaque, const pb_revent_t *ev),
                    void *opaque, pb_replay_src_stats_t *st);
/* Frees everything held (a zeroed or partly filled one too). */
void pb_history_close(pb_history_t *hs);

#endif
