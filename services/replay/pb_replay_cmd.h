/* partnerbus replay - settings shared by the command's files. */
#ifndef PB_REPLAY_CMD_H
#define PB_REPLAY_CMD_H

#include "pb_cli.h"
#include "pb_opts.h"
#include "pb_replay_src.h"

typedef struct pb_replay_settings {
        pb_cli_common_t cc;
        pb_strlist_t topics;
        pb_history_opts_t h;
        pb_strlist_t where;
        const char *format;
        const char *dialect;
        const char *out;
        const char *to_topic;
        const char *to_url;
        const char *reset_group;
        const char *to_time;
        int dry_run;
        long window;
        int64_t wh_retry_max;
        /* --to: the webhook sink's settings (its own option table,
         * composed in as --webhook-*) */
        _Alignas(16) unsigned char webhook[256];
} pb_replay_settings_t;

/* --reset-group: moves the group's committed offsets on `topics` to the
 * first offset with a Kafka timestamp >= --to-time (the end offset where
 * there is none). Refuses (exit 1) while the group has members. Returns
 * the exit status. */
int pb_replay_reset_group(pb_replay_settings_t *s, const char *const *topics,
                          size_t ntopics);

#endif
