/* partnerbus poll - what the layers of the poller share: its settings,
 * its context, and the entry points of each layer.
 *
 *   pb_cmd_poll.c       options, setup and the main loop; one poll
 *                       (poll_once) calls the layers below in order
 *   pb_poll_page.c      fetch and open the pages one at a time (paging);
 *                       a page's body is spooled to a file and mapped
 *   pb_poll_pipeline.c  per record: map, fingerprint, compare, encode,
 *                       produce; dead letters
 *   pb_poll_tx.c        the producer, Kafka transactions (undo log,
 *                       fencing), state records and the validators record
 *   pb_poll_state.c     the state table in memory and its replay from the
 *                       state topic at start
 *
 * See docs/poll.md for the exactly-once argument. */
#ifndef PB_POLL_H
#define PB_POLL_H

#include <stddef.h>
#include <stdint.h>

#include "partnerbus/pb_kafka.h"
#include "partnerbus/pb_metrics.h"
#include "pb_cli.h"
#include "pb_feed.h"
#include "pb_fetch.h"
#include "pb_mapping.h"
#include "pb_opts.h"
#include "pb_owners.h"
#include "pb_poll_state.h"

/* the producer's queue.buffering.max.kbytes unless -X sets it */
#define PB_POLL_QUEUE_KB "2048"

/* namespace of the event ids (UUIDv5) the poller derives */
#define PB_POLL_NS "6f1c1a4e-3b9d-5c2a-9e4f-7a8b0c1d2e3f"

typedef struct poll_settings {
        const char *url, *type, *map;
        int64_t interval;
        const char *state_topic, *dlq_topic;
        int check, once;
        const char *format, *records, *separator;
        const char *next_pointer;
        int follow_link;
        const char *cursor_param, *cursor_pointer;
        int cursor_resume;
        long max_pages;
        const char *bearer, *bearer_file, *basic, *basic_file, *ca_file;
        const char *auth_allow;
        const char *organisation;
        int64_t connect_timeout, timeout, backoff, max_backoff;
        long retries;
        size_t max_response, max_record;
        long max_columns, max_records, max_keys;
        const char *ops_listen;
        long state_partitions, state_replication;
        int transactions;
        const char *txn_id;
        long txn_records;
        const char *owners_topic; /* before the topic prefix */
        long owners_capacity;
} poll_settings_t;

/* A message in flight: an event (then its state record follows), a state
 * record, a dead letter, or the validators record. */
enum { PM_EVENT, PM_STATE, PM_DLQ, PM_FEED };
typedef struct pmsg {
        int kind;
        pb_keyfp_t kfp;
        uint64_t hash;
        char *skey; /* state key, malloc'd */
        char hex[33];
        struct pmsg *next;
} pmsg_t;

/* A state table entry as it was before the open transaction changed it,
 * restored when the transaction aborts. */
typedef struct pb_undo {
        pb_keyfp_t kfp;
        uint64_t old;
        int had;
} pb_undo_t;

typedef struct pollctx {
        poll_settings_t set;
        pb_cli_common_t cc;
        pb_schemas_t *catalog;
        const pb_schema_t *schema;
        pb_serde_t *serde;
        pb_mapping_t *map;
        pb_producer_t *prod;
        pb_metrics_t *metrics;
        pb_ops_server_t *ops;
        pb_poll_state_t *st;
        pb_owners_t *owners; /* NULL: the type has no owner, or --check */
        char topic[512], state_topic[512], dlq_topic[512];
        char prefix[600]; /* "<source>/<type>" */
        pb_feed_format_t format;
        const char *records_ptr;
        char sep;
        pb_fetch_opts_t fo;
        char *bearer, *basic;
        /* validators */
        char etag[512], last_modified[128], cursor[1024];
        int have_validators;
        int ready;
        /* per poll */
        pmsg_t *to_state; /* acknowledged events whose state is due */
        long inflight;
        long ev_failed, st_failed;
        long published, unchanged, rejected, records;
        int owners_unsure; /* ownership could not be told in this poll */
        /* time this poll waited for claims to be read back and for
         * transactions to commit (the "poll done" line) */
        int64_t claims_ms, commit_ms;
        /* transactions (txn == 0: idempotent mode, state after the acks) */
        int txn, txn_open, txn_failed, fenced;
        long txn_records;     /* events and dead letters in the open one */
        long txn_published;   /* events in the open one */
        int64_t txn_begun_ms; /* when the open one began (pb_mono_ms) */
        pb_undo_t *undo;      /* state table before the open transaction */
        size_t nundo, capundo;
        char txn_id[1200];
} pollctx_t;

typedef struct page {
        pb_fetch_result_t res;
        pb_feed_t *feed;
        pb_feed_format_t fmt;
} page_t;

/* The pages of one poll (pb_poll_page.c), one at a time: a page's
 * records are published before the next page is fetched, and a page is
 * freed once the next is asked for. */
typedef struct pages {
        page_t cur;        /* the page being read (n >= 1) */
        size_t n;          /* pages fetched so far */
        char cursor[1024]; /* cursor of the last page fetched */
        char url[4096];    /* URL of the current page */
        /* validators of the first page */
        char etag[512], last_modified[128];
} pages_t;

void pb_poll_count(pollctx_t *p, const char *name, const char *k, const char *v,
                   double n);

/* pb_poll_page.c: fetches and opens the next page of the poll (the
 * first when pg->n is 0) into pg->cur, freeing the page before it. "ok",
 * "end" after the last page, or the poll's outcome label. */
const char *pb_poll_next_page(pollctx_t *p, pages_t *pg);
void pb_poll_pages_free(pages_t *pg);

/* pb_poll_pipeline.c: page by page, maps, checks and sends the records.
 * "ok", or the poll's outcome label. */
const char *pb_poll_records(pollctx_t *p, pages_t *pg);

/* pb_poll_tx.c */
void pb_poll_on_delivery(void *opaque, void *msg_opaque, pb_resp_t err,
                         const char *errstr, const char *topic,
                         int32_t partition, int64_t offset);
pb_resp_t pb_poll_send_raw(pollctx_t *p, const char *topic, const char *key,
                           const void *val, size_t len, const char *const *hdrs,
                           pmsg_t *m);
void pb_poll_drain_state(pollctx_t *p);
void pb_poll_settle(pollctx_t *p);
int pb_poll_undo_push(pollctx_t *p, const pb_keyfp_t *kfp);
int pb_poll_txn_begin(pollctx_t *p);
void pb_poll_txn_abort(pollctx_t *p);
int pb_poll_txn_commit(pollctx_t *p);
int pb_poll_start_producer(pollctx_t *p);
void pb_poll_create_state_topic(pollctx_t *p);
/* Ends the poll on the Kafka side: the last transaction with the
 * validators, or an abort; without transactions, waits for every ack,
 * then writes the validators. Returns the outcome. */
const char *pb_poll_finish(pollctx_t *p, const char *outcome,
                           const pages_t *pg);

/* pb_poll_state.c: reads the state topic to its end. 0 or -1. */
int pb_poll_read_state(pollctx_t *p);

#endif
