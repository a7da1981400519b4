/* partnerbus - report internals shared by pb_report_agg.c (collects) and
 * pb_report_out.c (writes). */
#ifndef PB_REPORT_INT_H
#define PB_REPORT_INT_H

#include "pb_owners.h"
#include "pb_report.h"

/* returns from the calling function when x is not PB_OK */
#define TRY(x)                                                                 \
        do {                                                                   \
                pb_resp_t _r = (x);                                            \
                if (_r != PB_OK)                                               \
                        return _r;                                             \
        } while (0)

/* string -> pointer, open addressing; keys copied */
typedef struct pb_report_smap {
        char **keys;
        size_t *lens;
        void **vals;
        size_t n, cap;
} pb_report_smap_t;

void *pb_report_smap_get(pb_report_smap_t *m, const char *k, size_t kl);
int pb_report_smap_put(pb_report_smap_t *m, const char *k, size_t kl, void *v);
void pb_report_smap_free(pb_report_smap_t *m, void (*free_val)(void *));
/* malloc'd array of m's keys (keys 1) or values (keys 0) sorted by cmp
 * (qsort's, over the array's elements); NULL (*n 0) if empty */
void **pb_report_smap_sorted(const pb_report_smap_t *m, int keys,
                             int (*cmp)(const void *, const void *), size_t *n);

/* sums per currency / unit, at most PB_SUM_MAX keys (then "(other)") */
#define PB_SUM_MAX 32
typedef struct pb_summap {
        size_t n;
        char *k[PB_SUM_MAX];
        pb_report_dec_t v[PB_SUM_MAX];
} pb_summap_t;

struct pb_latest;

typedef struct pb_agg {
        char *key, *key2;
        /* the entities counted in this row (their latest versions), for
         * trace.json */
        struct pb_latest **items;
        size_t nitems, capitems;
        uint64_t count;          /* grants / shipments / partnerships */
        uint64_t lines;          /* item lines (categories) */
        pb_summap_t money;       /* scale 2, by currency */
        uint64_t undeclared;     /* shipments without declared value */
        pb_report_dec_t weight;  /* scale 1, kg */
        uint64_t weight_unknown; /* shipments without weight */
        pb_summap_t qty;         /* scale 0, by unit ("" = none given) */
} pb_agg_t;

typedef struct pb_table {
        pb_report_smap_t map; /* "key\x1fkey2" -> pb_agg_t */
} pb_table_t;

typedef struct pb_ship {
        char *id, *city, *oblast;
        int dispatched, delivered;
        int32_t dispatched_on, delivered_on; /* days since 1970 */
        int condition;                       /* 0..2, 3 other */
        uint64_t deliveries;
        char delivered_id[40];  /* event id of the confirmation counted */
        char delivered_by[128]; /* its source */
        char **more_delivered;  /* ids of later confirmations (not counted) */
        size_t nmore;
} pb_ship_t;

/* where the events came from, for the report's provenance section */
typedef struct pb_report_part {
        char topic[200];
        int32_t partition;
        int64_t first, last; /* offsets of the first and last event read */
        uint64_t events;
} pb_report_part_t;

typedef struct pb_report_file {
        char *path;
        int64_t size;
} pb_report_file_t;

typedef struct pb_report_schema {
        char type[64];
        uint64_t fingerprint;
} pb_report_schema_t;

struct pb_report {
        int64_t asof_ms;
        char *source, *since, *until;
        int has_since, has_until;
        int64_t since_ms, until_ms;
        const struct pb_labels *labels; /* NULL: English keys */
        pb_report_smap_t sources;       /* source -> (uintptr_t) events */
        pb_report_part_t *parts;
        size_t nparts, capparts;
        pb_report_file_t *files;
        size_t nfiles, capfiles;
        pb_report_schema_t schemas[16];
        size_t nschemas;
        pb_table_t f_prog, f_grantor, f_recipient, f_month, f_total;
        pb_table_t a_oblast, a_city, a_cat, a_month, a_total;
        pb_table_t p_kind, p_nrw, p_ua, p_month;
        pb_table_t d_cond;
        pb_report_smap_t ships; /* shipment_id -> pb_ship_t */
        pb_report_smap_t seen;  /* event ids */
        /* "type\x1fentity key" -> pb_latest_t: the latest version of each
         * grant, shipment dispatch and partnership, aggregated by
         * pb_report_finish() so that an updated entity counts once */
        pb_report_smap_t latest;
        uint64_t superseded; /* older versions of an entity, not counted */
        /* events about an entity from another source than its owner (the
         * source of its first version): never supersede it, listed here */
        uint64_t conflicts;
        struct pb_conflict *conflict_list; /* the first PB_CONFLICTS_LISTED */
        size_t nconflict_list;
        int finished;
        uint64_t partnerships, duplicates, other_events;
        uint64_t n_funds, n_dispatched, n_delivered, n_partnerships;
};

#define PB_CONFLICTS_LISTED 1000
typedef struct pb_conflict {
        char type[32], entity[128], owner[128], source[128], event_id[40];
        char occurred_at[40];
} pb_conflict_t;

/* One entity's latest version, kept as compact JSON until finish. */
typedef struct pb_latest {
        char type[32];
        char occurred_at[40]; /* canonical RFC 3339, compares as text */
        char owner[128];      /* source of the entity's first version */
        char event_id[40];    /* of the version counted */
        char date[16];        /* its business date (granted_on, ...) */
        char *key;            /* the entity's id */
        char *json;
        size_t len;
        char **old_ids; /* event ids of superseded versions */
        size_t nold;
        char **conflict_ids; /* event ids of other organisations' versions */
        size_t nconflict;
        char conflict_by[128]; /* the first of them's source */
} pb_latest_t;

/* --- shared by the writers (pb_report_out.c, pb_report_html.c) --- */
pb_agg_t **pb_report_sorted(const pb_table_t *t, size_t *n);
pb_report_dec_t pb_report_money_in(const pb_summap_t *m, const char *cur);
const pb_agg_t *pb_report_total_of(const pb_table_t *t);

typedef struct pb_unconf {
        const pb_ship_t *s;
        int64_t age;
} pb_unconf_t;

typedef struct pb_dstat {
        uint64_t dispatched, confirmed, unconfirmed, orphan, cond[4];
        pb_unconf_t *list;
        size_t nlist;
} pb_dstat_t;
int pb_report_delivery_stats(const pb_report_t *r, pb_dstat_t *d);
/* the latest versions of one type, sorted by business date then key;
 * malloc'd, NULL when none (*n 0) or out of memory (*n set) */
pb_latest_t **pb_report_entities(const pb_report_t *r, const char *type,
                                 size_t *n);
pb_resp_t pb_report_html_doc(pb_report_t *r, pb_buf_t *o);

#endif
