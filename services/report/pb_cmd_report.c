/* partnerbus report - exact totals over a time range of the four event
 * topics, from Kafka or the archive, written as DIR/summary.json and one
 * self-contained DIR/report.html. See docs/report.md. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "partnerbus/pb_filter.h"
#include "partnerbus/pb_labels.h"
#include "partnerbus/pb_util.h"
#include "pb_history.h"
#include "pb_optgroups.h"
#include "pb_opts.h"
#include "pb_replay_src.h"
#include "pb_report.h"
#include "pb_report_exp.h"

static const char *cmd = "report";

typedef struct report_settings {
        pb_cli_common_t cc;
        pb_strlist_t topics;
        pb_history_opts_t h;
        pb_strlist_t where;
        const char *out;
        const char *as_of;
        pb_strlist_t formats;
        const char *lang;
        const char *trace;
        const char *iati_org_ref, *iati_org_name, *iati_org_type;
} report_settings_t;

#define O(f) offsetof(report_settings_t, f)
static const pb_opt_t report_opts[] = {
    {"out", 'o', PB_OPT_STRING, NULL, "DIR",
     "directory for summary.json and report.html (created)", PB_OPT_REQUIRED,
     O(out)},
    {"topics", 't', PB_OPT_LIST,
     "funds.granted,aid.dispatched,aid.delivered,partnership.founded",
     "TYPE[,TYPE...]", "event types to read (the topic prefix applies)", 0,
     O(topics)},
    PB_OPTG_HISTORY_RANGE(O(h)),
    PB_OPTG_WHERE(O(where)),
    PB_OPTG_FROM_ARCHIVE(O(h.archive)),
    {"as-of", 0, PB_OPT_STRING, NULL, "TIME",
     "instant the age of unconfirmed shipments is measured at (default: "
     "--until, else now)",
     0, O(as_of)},
    PB_OPTG_HISTORY_SCAN(O(h)),
    {"lang", 0, PB_OPT_STRING, "de", "de|uk|en",
     "language of report.html and report.xlsx (labels from schemas/labels/)", 0,
     O(lang)},
    {"trace", 0, PB_OPT_STRING, NULL, "FILE",
     "where trace.json goes (the event ids behind every figure; default "
     "DIR/trace.json)",
     0, O(trace)},
    {"format", 'f', PB_OPT_LIST, "html", "html|xlsx|iati[,...]",
     "what to write besides summary.json: html (report.html), xlsx "
     "(report.xlsx, a summary sheet and line items per area), iati "
     "(iati-activities.xml, IATI 2.03)",
     0, O(formats)},
    {"iati-org-ref", 0, PB_OPT_STRING, NULL, "ID",
     "--format iati: IATI organisation identifier of the reporting "
     "organisation (required with iati)",
     0, O(iati_org_ref)},
    {"iati-org-name", 0, PB_OPT_STRING,
     "Staatskanzlei des Landes Nordrhein-Westfalen", "NAME",
     "--format iati: name of the reporting organisation", 0, O(iati_org_name)},
    {"iati-org-type", 0, PB_OPT_STRING, "10", "CODE",
     "--format iati: its IATI OrganisationType code (10 government)", 0,
     O(iati_org_type)},
};
#undef O

static const pb_cmd_spec_t report_spec = {
    "report",
    "exact totals and charts: summary.json and a self-contained report.html",
    "--out DIR [--lang de|uk|en] [--format html,xlsx,iati] [--since TIME] "
    "[--until TIME] [--brokers B | --from-archive DIR]",
    "Totals to the cent: funds by programme, grantor, recipient and month;\n"
    "aid by destination oblast and city, item category and month; "
    "deliveries\nconfirmed vs dispatched; partnerships by kind and party and "
    "their\ncumulative count. The same figures from Kafka or the archive.\n\n"
    "Example:\n  partnerbus report -b k1:9092 --since 2022-02-01 --until "
    "2024-07-01 --out /tmp/report\n",
    report_opts,
    sizeof(report_opts) / sizeof(report_opts[0]),
    1,
};

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the archive files of each topic, in the reader's (name) order */
static int note_archive_files(pb_report_t *rep, const char *dir, char **topics,
                              size_t ntopics) {
        size_t t, i;
        for (t = 0; t < ntopics; t++) {
                char path[4096], **names = NULL;
                size_t n = 0, cap = 0;
                struct dirent *e;
                DIR *d;
                snprintf(path, sizeof(path), "%s/%s", dir, topics[t]);
                if (!(d = opendir(path)))
                        continue; /* a missing topic is an empty topic */
                while ((e = readdir(d))) {
                        size_t l = strlen(e->d_name);
                        if (l < 6 || e->d_name[0] == '.' ||
                            strcmp(e->d_name + l - 5, ".avro"))
                                continue;
                        if (n == cap) {
                                char **nn = realloc(
                                    names, (cap ? cap * 2 : 16) * sizeof(*nn));
                                if (!nn)
                                        break;
                                names = nn;
                                cap = cap ? cap * 2 : 16;
                        }
                        if (!(names[n] = strdup(e->d_name)))
                                break;
                        n++;
                }
                closedir(d);
                if (n)
                        qsort(names, n, sizeof(*names), name_cmp);
                for (i = 0; i < n; i++) {
                        char fp[4400];
                        struct stat st;
                        snprintf(fp, sizeof(fp), "%s/%s/%s", dir, topics[t],
                                 names[i]);
                        if (!stat(fp, &st))
                                pb_report_note_file(rep, fp,
                                                    (int64_t)st.st_size);
                        free(names[i]);
                }
                free(names);
        }
        return 0;
}

static int write_file(const char *dir, const char *name, const pb_buf_t *b) {
        char path[4096], tmp[4200];
        FILE *fp;
        if (name)
                snprintf(path, sizeof(path), "%s/%s", dir, name);
        else
                snprintf(path, sizeof(path), "%s", dir);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        fp = fopen(tmp, "w");
        if (!fp || fwrite(b->data, 1, b->len, fp) != b->len || fclose(fp)) {
                fprintf(stderr, "partnerbus report: %s: %s\n", tmp,
                        strerror(errno));
                return -1;
        }
        if (rename(tmp, path)) {
                fprintf(stderr, "partnerbus report: %s: %s\n", path,
                        strerror(errno));
                return -1;
        }
        return 0;
}

static int write_xlsx(const report_settings_t *s, pb_report_t *rep) {
        char dir[4096], path[4200], e[600];
        pb_labels_t *L;
        const char *sd =
            s->cc.schemas_dir ? s->cc.schemas_dir : pb_schemas_default_dir();
        int rc;
        snprintf(dir, sizeof(dir), "%s/labels", sd);
        if (!(L = pb_labels_load(dir, s->lang, e, sizeof(e)))) {
                fprintf(stderr, "partnerbus report: %s\n", e);
                return -1;
        }
        snprintf(path, sizeof(path), "%s/report.xlsx", s->out);
        rc = pb_report_xlsx(rep, L, path, e, sizeof(e));
        if (rc)
                fprintf(stderr, "partnerbus report: %s\n", e);
        pb_labels_destroy(L);
        return rc;
}

static int write_iati(const report_settings_t *s, pb_report_t *rep) {
        pb_report_iati_conf_t ic;
        char now[40], e[600];
        pb_buf_t b;
        int rc;
        pb_rfc3339_format(pb_now_ms(), now, sizeof(now));
        ic.org_ref = s->iati_org_ref;
        ic.org_name = s->iati_org_name;
        ic.org_type = s->iati_org_type;
        ic.generated = now;
        pb_buf_init(&b, 0);
        rc = pb_report_iati(rep, &ic, &b, e, sizeof(e));
        if (rc > 0) { /* nothing to publish: said, not an error */
                fprintf(stderr, "partnerbus report: %s\n", e);
                rc = 0;
        } else if (rc)
                fprintf(stderr, "partnerbus report: %s\n", e);
        else
                rc = write_file(s->out, "iati-activities.xml", &b);
        pb_buf_free(&b);
        return rc;
}

/* One event into the figures (and its schema into the list of those
 * read): 0, or -1 after printing why not. */
static int add_event(void *rep, const pb_revent_t *ev) {
        char e[512];
        if (ev->writer)
                pb_report_note_schema(rep, ev->type,
                                      pb_schema_fingerprint(ev->writer));
        if (pb_report_note_read(rep, ev->topic, ev->partition, ev->offset) ==
                PB_OK &&
            pb_report_add(rep, ev->type, ev->tree, e, sizeof(e)) == PB_OK)
                return 0;
        fprintf(stderr, "partnerbus report: %s [%d] offset %lld: %s\n",
                ev->topic, ev->partition, (long long)ev->offset, e);
        return -1;
}

int pb_cmd_report(int argc, char **argv) {
        report_settings_t *s = calloc(1, sizeof(*s));
        pb_history_t hs;
        pb_replay_src_stats_t st;
        pb_report_t *rep = NULL;
        pb_labels_t *labels = NULL;
        pb_buf_t buf;
        char e[512];
        int r, status = PB_EXIT_FAIL;
        int want_html = 0, want_xlsx = 0, want_iati = 0;
        size_t fi;
        int64_t asof;
        pb_buf_init(&buf, 0);
        memset(&hs, 0, sizeof(hs));
        if (!s)
                return PB_EXIT_FAIL;
        r = pb_opts_parse_args(&report_spec, s, &s->cc, argc, argv);
        if (r >= 0) {
                free(s);
                pb_opts_free();
                return r;
        }
        if (!s->h.archive && !pb_cli_require_brokers(cmd, &s->cc)) {
                status = PB_EXIT_USAGE;
                goto done;
        }
        if (!(hs.topics = pb_opts_topics(&s->cc, &s->topics, &hs.ntopics))) {
                status = pb_cli_usage_error(cmd, "--topics is empty");
                goto done;
        }
        if ((r = pb_replay_src_conf_init(&hs.conf, cmd, &s->cc, &s->h,
                                         hs.topics, hs.ntopics)) >= 0) {
                status = r;
                goto done;
        }
        asof = s->h.until ? hs.conf.until_ms : pb_now_ms();
        if (s->as_of && pb_replay_src_parse_time(s->as_of, &asof)) {
                status = pb_cli_usage_error(cmd, "--as-of: not a time");
                goto done;
        }
        for (fi = 0; fi < s->formats.n; fi++) {
                const char *f = s->formats.v[fi];
                while (*f) { /* --format html,xlsx or repeated */
                        size_t n = strcspn(f, ",");
                        if (n == 4 && !strncmp(f, "html", 4))
                                want_html = 1;
                        else if (n == 4 && !strncmp(f, "xlsx", 4))
                                want_xlsx = 1;
                        else if (n == 4 && !strncmp(f, "iati", 4))
                                want_iati = 1;
                        else if (n) {
                                status = pb_cli_usage_error(
                                    cmd,
                                    "--format expects html, xlsx or iati, "
                                    "not '%.*s'",
                                    (int)n, f);
                                goto done;
                        }
                        f += n + (f[n] == ',');
                }
        }
        if (want_iati && !s->iati_org_ref) {
                status = pb_cli_usage_error(cmd, "--format iati needs "
                                                 "--iati-org-ref");
                goto done;
        }
        if (strcmp(s->lang, "de") && strcmp(s->lang, "uk") &&
            strcmp(s->lang, "en")) {
                status = pb_cli_usage_error(
                    cmd, "--lang: '%s' is not de, uk or en", s->lang);
                goto done;
        }
        if ((r = pb_opts_where(cmd, &s->where, &hs.filter)) >= 0) {
                status = r;
                goto done;
        }
        if (mkdir(s->out, 0755) && errno != EEXIST) {
                fprintf(stderr, "partnerbus report: %s: %s\n", s->out,
                        strerror(errno));
                goto done;
        }
        if (pb_history_load(&hs, cmd, &s->cc))
                goto done;
        {
                char ldir[4096], lerr[512];
                snprintf(ldir, sizeof(ldir), "%s/labels",
                         s->cc.schemas_dir ? s->cc.schemas_dir
                                           : pb_schemas_default_dir());
                if (!(labels =
                          pb_labels_load(ldir, s->lang, lerr, sizeof(lerr)))) {
                        fprintf(stderr, "partnerbus report: %s\n", lerr);
                        goto done;
                }
        }
        if (!(rep = pb_report_new(asof)))
                goto done;
        pb_report_set_meta(rep, s->h.archive ? "archive" : "kafka", s->h.since,
                           s->h.until);
        pb_report_set_range(rep, s->h.since != NULL, hs.conf.since_ms,
                            s->h.until != NULL, hs.conf.until_ms);
        pb_report_set_labels(rep, labels);
        {
                size_t i;
                for (i = 0; i < hs.ntopics; i++) {
                        const char *ty = hs.topics[i];
                        const pb_schema_t *sc;
                        if (s->cc.topic_prefix &&
                            !strncmp(ty, s->cc.topic_prefix,
                                     strlen(s->cc.topic_prefix)))
                                ty += strlen(s->cc.topic_prefix);
                        if ((sc = pb_schemas_find(hs.catalog, ty)))
                                pb_report_note_schema(
                                    rep, ty, pb_schema_fingerprint(sc));
                }
        }
        if (s->h.archive)
                note_archive_files(rep, s->h.archive, hs.topics, hs.ntopics);
        if (pb_history_start(&hs, 1, 1)) /* order does not change a sum */
                goto done;
        if (!pb_history_each(&hs, add_event, rep, &st))
                goto done;
        if (st.undecodable) {
                fprintf(stderr,
                        "partnerbus report: %llu message(s) could not be "
                        "decoded: the figures would be incomplete, no report "
                        "written\n",
                        (unsigned long long)st.undecodable);
                goto done;
        }
        if (pb_report_finish(rep, e, sizeof(e)) != PB_OK) {
                fprintf(stderr, "partnerbus report: %s\n", e);
                goto done;
        }
        if (pb_report_summary_json(rep, &buf) != PB_OK ||
            write_file(s->out, "summary.json", &buf))
                goto done;
        pb_buf_reset(&buf);
        if (want_html && (pb_report_html(rep, &buf) != PB_OK ||
                          write_file(s->out, "report.html", &buf)))
                goto done;
        if (want_xlsx && write_xlsx(s, rep))
                goto done;
        if (want_iati && write_iati(s, rep))
                goto done;
        pb_buf_reset(&buf);
        if (pb_report_trace_json(rep, &buf) != PB_OK ||
            write_file(s->trace ? s->trace : s->out,
                       s->trace ? NULL : "trace.json", &buf))
                goto done;
        fprintf(stderr,
                "partnerbus report: %llu events (read %llu, outside the range "
                "%llu, filtered %llu) -> %s/summary.json%s%s%s\n",
                (unsigned long long)st.emitted, (unsigned long long)st.read,
                (unsigned long long)st.out_range,
                (unsigned long long)st.filtered, s->out,
                want_html ? ", report.html" : "",
                want_xlsx ? ", report.xlsx" : "",
                want_iati ? ", iati-activities.xml" : "");
        status = PB_EXIT_OK;
done:
        pb_buf_free(&buf);
        pb_report_destroy(rep);
        pb_labels_destroy(labels);
        pb_history_close(&hs);
        free(s);
        pb_opts_free();
        return status;
}
