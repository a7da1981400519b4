/* partnerbus - the reading side shared by replay and report
 * (pb_history.h). */
#include "pb_history.h"

#include "pb_opts.h"

int pb_history_load(pb_history_t *hs, const char *cmd,
                    const pb_cli_common_t *cc) {
        if (!(hs->catalog = pb_cli_load_schemas(cmd, cc)))
                return -1;
        return pb_cli_open_serde(cmd, cc, hs->catalog, &hs->registry,
                                 &hs->serde);
}

int pb_history_start(pb_history_t *hs, size_t window, int parse_json) {
        hs->conf.window = window;
        hs->conf.filter = hs->filter;
        hs->conf.serde = hs->serde;
        hs->conf.catalog = hs->catalog;
        pb_cli_trap_signals();
        hs->src = pb_replay_src_new(&hs->conf, parse_json);
        return hs->src ? 0 : -1;
}

int pb_history_each(pb_history_t *hs,
                    int (*each)(void *opaque, const pb_revent_t *ev),
                    void *opaque, pb_replay_src_stats_t *st) {
        int ok = 1;
        for (;;) {
                pb_revent_t ev;
                pb_resp_t pr = pb_replay_src_next(hs->src, &ev);
                if (pr == PB_END)
                        break;
                if (pr != PB_OK || each(opaque, &ev)) {
                        ok = 0;
                        break;
                }
        }
        pb_replay_src_progress_done(hs->src);
        pb_replay_src_stats(hs->src, st);
        return ok;
}

void pb_history_close(pb_history_t *hs) {
        pb_replay_src_destroy(hs->src);
        pb_serde_destroy(hs->serde);
        pb_registry_destroy(hs->registry);
        pb_schemas_destroy(hs->catalog);
        pb_filter_destroy(hs->filter);
        pb_opts_topics_free(hs->topics, hs->ntopics);
}
