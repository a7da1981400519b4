/* partnerbus - the event source shared by `replay` and `report`: topics
 * from Kafka (per-partition queues, start found by ListOffsets by time,
 * end offsets captured at start) or from the archive, decoded to natural
 * JSON, cut to [since, until) on occurred_at, filtered by --where and
 * merged in event-time order (pb_replay_merge, services/history/pb_replay.h).
 */
#ifndef PB_REPLAY_SRC_H
#define PB_REPLAY_SRC_H

#include "partnerbus/pb_filter.h"
#include "pb_cli.h"
#include "pb_optgroups.h"
#include "pb_opts.h"

typedef struct pb_replay_src_conf {
        const char *cmd;
        const char *archive_dir; /* NULL: Kafka (cc->kconf) */
        pb_cli_common_t *cc;
        const char *const *topics; /* full topic names */
        size_t ntopics;
        int has_since, has_until;
        int64_t since_ms, until_ms; /* occurred_at range [since, until) */
        int64_t skew_ms;            /* ListOffsets at since - skew */
        size_t window;              /* merge window per stream */
        const pb_filter_t *filter;  /* may be NULL */
        pb_serde_t *serde;
        const pb_schemas_t *catalog;
        int progress;            /* 1: progress bar on stderr */
        int64_t idle_timeout_ms; /* fail when no message arrives this long */
        /* 1: the caller reads the Avro body of events whose writer schema
         * is their reader schema (CSV): those come validated but without
         * JSON (ev->json "", json_len 0) unless the filter needs the
         * event; events to resolve still come with their JSON. */
        int json_to_resolve_only;
        /* 1 (with json_to_resolve_only): of those events only the envelope
         * is checked here (pb_codec_check_envelope: event_id, occurred_at,
         * source and key, what the range, the filter and the merge need);
         * they come with ev->checked 0, the caller's walk over the body
         * checks the rest and reports a body it refuses with
         * pb_replay_src_undecodable(). So each body is walked once. An
         * event outside the range or filtered out is then counted as that
         * even when the rest of its body is bad. Kafka only (the archive's
         * events are checked whole). */
        int envelope_only;
        /* 1: the caller reads only ev->json (and the metadata): the
         * message's bytes are not kept (ev->value_len 0) */
        int json_only;
        /* Kafka: read and decode on a thread of its own, so the caller's
         * thread only merges (and writes): 0 when more than one CPU is
         * online, 1 always, -1 never (--decode-thread auto|on|off) */
        int decode_thread;
} pb_replay_src_conf_t;

/* Zeroes *conf and fills it from the options: the command, the source
 * (h->archive or Kafka), the topics, the parsed --since/--until, the skew,
 * the idle timeout and --progress. The caller adds the window, filter,
 * serde and catalog. Returns -1 to go on, else PB_EXIT_USAGE after
 * printing why (a time that does not parse, an unknown --progress). */
int pb_replay_src_conf_init(pb_replay_src_conf_t *conf, const char *cmd,
                            pb_cli_common_t *cc, const pb_history_opts_t *h,
                            char **topics, size_t ntopics);

/* One event in output order; valid until the next pb_replay_src_next. */
typedef struct pb_revent {
        const char *topic;
        int32_t partition; /* -1 from the archive */
        int64_t offset;    /* Kafka offset, or position in the archive */
        int64_t timestamp_ms;
        const char *type; /* partnerbus type */
        const pb_schema_t *reader;
        const pb_schema_t *writer; /* the body's own schema */
        const void *key;
        size_t key_len;
        const uint8_t *value; /* framed bytes as on the wire (archive: SOE
                                 frame built from the file's body); ""
                                 with json_only */
        size_t value_len;
        size_t body_off;  /* the Avro body: value + body_off */
        int checked;      /* 1: the body was validated whole; 0: only its
                             envelope (conf.envelope_only) */
        const char *json; /* "" when not decoded (json_to_resolve_only) */
        size_t json_len;
        const pb_json_t *tree; /* parsed JSON (when parse_json was set) */
        pb_event_meta_t meta;
} pb_revent_t;

typedef struct pb_replay_src pb_replay_src_t;

/* NULL after printing the reason. parse_json: hand out ev->tree too. */
pb_replay_src_t *pb_replay_src_new(const pb_replay_src_conf_t *conf,
                                   int parse_json);
void pb_replay_src_destroy(pb_replay_src_t *s);
/* PB_OK with *ev; PB_END at the end; another code after printing
 * the reason (Kafka failure, interrupted). */
pb_resp_t pb_replay_src_next(pb_replay_src_t *s, pb_revent_t *ev);

typedef struct pb_replay_src_stats {
        uint64_t read;      /* messages read */
        uint64_t out_range; /* outside [since, until) */
        uint64_t filtered;  /* dropped by --where */
        uint64_t undecodable;
        uint64_t late; /* handed out after a later event (window) */
        uint64_t emitted;
        uint64_t total_hint;        /* messages between start and end offsets */
        int scanned_from_beginning; /* ListOffsets by time unavailable */
} pb_replay_src_stats_t;

void pb_replay_src_stats(const pb_replay_src_t *s, pb_replay_src_stats_t *st);
/* The caller found ev's body bad (with conf.envelope_only, ev->checked 0):
 * counted as undecodable instead of emitted, and printed like the events
 * the source refuses (the first ten of all), with why. The caller's
 * thread. */
void pb_replay_src_undecodable(pb_replay_src_t *s, const pb_revent_t *ev,
                               const char *why);
/* Ends the progress line (if any). */
void pb_replay_src_progress_done(pb_replay_src_t *s);

/* "2023-02-28", "2023-02-28T10:00:00Z" or ms since the epoch -> ms.
 * 0 / -1. A date alone means its midnight UTC. */
int pb_replay_src_parse_time(const char *s, int64_t *ms);

#endif
