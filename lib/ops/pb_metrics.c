/* partnerbus - Prometheus metrics registry (see pb_metrics.h).
 *
 * Families are kept in declaration order, series in creation order; a
 * series is found through an open-addressing hash of its key
 * "name\0labels". Memory is bounded by PB_METRICS_MAX_SERIES. */
#include "partnerbus/pb_metrics.h"
#include "partnerbus/pb_util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PB_METRICS_MAX_FAMILIES 128
#define PB_METRICS_MAX_BUCKETS  24
#define PB_METRICS_HASH_SIZE    (PB_METRICS_MAX_SERIES * 2) /* power of two */

static const double default_buckets[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

typedef struct pb_family {
        char *name;
        char *type; /* counter, gauge, histogram, or NULL if undeclared */
        char *help;
        double buckets[PB_METRICS_MAX_BUCKETS];
        size_t nbuckets;
} pb_family_t;

typedef struct pb_series {
        size_t family;
        char *key; /* name '\0' labels, for the hash */
        size_t keylen;
        char *labels; /* rendered: a="x",b="y" (escaped), may be "" */
        double value; /* counter / gauge; histogram: sum */
        uint64_t count;
        uint64_t *bucket_counts; /* histogram: per bucket (not cumulative) */
} pb_series_t;

struct pb_metrics {
        pthread_mutex_t lock;
        pb_family_t families[PB_METRICS_MAX_FAMILIES];
        size_t nfamilies;
        pb_series_t *series;
        size_t nseries;
        uint32_t *hash; /* index+1 into series, 0 = empty */
        uint64_t dropped;
};

pb_metrics_t *pb_metrics_new(void) {
        pb_metrics_t *m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        m->series = calloc(PB_METRICS_MAX_SERIES, sizeof(*m->series));
        m->hash = calloc(PB_METRICS_HASH_SIZE, sizeof(*m->hash));
        if (!m->series || !m->hash) {
                free(m->series);
                free(m->hash);
                free(m);
                return NULL;
        }
        pthread_mutex_init(&m->lock, NULL);
        return m;
}

void pb_metrics_destroy(pb_metrics_t *m) {
        size_t i;
        if (!m)
                return;
        for (i = 0; i < m->nfamilies; i++) {
                free(m->families[i].name);
                free(m->families[i].type);
                free(m->families[i].help);
        }
        for (i = 0; i < m->nseries; i++) {
                free(m->series[i].key);
                free(m->series[i].bucket_counts);
        }
        free(m->series);
        free(m->hash);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

/* Family index by name, created undeclared if new; -1 when full. */
static long family_get(pb_metrics_t *m, const char *name) {
        size_t i;
        for (i = 0; i < m->nfamilies; i++)
                if (!strcmp(m->families[i].name, name))
                        return (long)i;
        if (m->nfamilies == PB_METRICS_MAX_FAMILIES)
                return -1;
        m->families[m->nfamilies].name = strdup(name);
        if (!m->families[m->nfamilies].name)
                return -1;
        return (long)m->nfamilies++;
}

void pb_metrics_declare(pb_metrics_t *m, const char *name, const char *type,
                        const char *help, const double *buckets,
                        size_t nbuckets) {
        long f;
        pb_family_t *fam;
        pthread_mutex_lock(&m->lock);
        f = family_get(m, name);
        if (f < 0) {
                pthread_mutex_unlock(&m->lock);
                return;
        }
        fam = &m->families[f];
        if (!fam->type) {
                fam->type = strdup(type);
                fam->help = strdup(help ? help : "");
                if (!buckets) {
                        buckets = default_buckets;
                        nbuckets = sizeof(default_buckets) /
                                   sizeof(default_buckets[0]);
                }
                if (nbuckets > PB_METRICS_MAX_BUCKETS)
                        nbuckets = PB_METRICS_MAX_BUCKETS;
                memcpy(fam->buckets, buckets, nbuckets * sizeof(double));
                fam->nbuckets = nbuckets;
        }
        pthread_mutex_unlock(&m->lock);
}

/* Label values escaped as the exposition format requires: \\ \" \n. */
static void render_labels(const char *const *labels, pb_buf_t *b) {
        size_t i;
        if (!labels)
                return;
        for (i = 0; labels[i] && labels[i + 1]; i += 2) {
                const char *v;
                if (i)
                        pb_buf_putc(b, ',');
                pb_buf_puts(b, labels[i]);
                pb_buf_puts(b, "=\"");
                for (v = labels[i + 1]; *v; v++) {
                        if (*v == '\\' || *v == '"') {
                                pb_buf_putc(b, '\\');
                                pb_buf_putc(b, (uint8_t)*v);
                        } else if (*v == '\n')
                                pb_buf_puts(b, "\\n");
                        else
                                pb_buf_putc(b, (uint8_t)*v);
                }
                pb_buf_putc(b, '"');
        }
}

/* Series for name+labels, created if new; NULL when the bound is hit or
 * memory runs out. Called with the lock held. */
static pb_series_t *series_get(pb_metrics_t *m, const char *name,
                               const char *const *labels) {
        pb_buf_t key;
        uint32_t h, i;
        size_t namelen = strlen(name);
        pb_series_t *s = NULL;
        long f;

        pb_buf_init(&key, 64 * 1024);
        if (pb_buf_append(&key, name, namelen + 1) != PB_OK)
                goto out;
        render_labels(labels, &key);
        if (!key.data)
                goto out;
        h = pb_fnv1a32(key.data, key.len);
        for (i = h & (PB_METRICS_HASH_SIZE - 1);;
             i = (i + 1) & (PB_METRICS_HASH_SIZE - 1)) {
                uint32_t idx = m->hash[i];
                if (!idx)
                        break;
                if (m->series[idx - 1].keylen == key.len &&
                    !memcmp(m->series[idx - 1].key, key.data, key.len)) {
                        s = &m->series[idx - 1];
                        goto out;
                }
        }
        if (m->nseries == PB_METRICS_MAX_SERIES ||
            (f = family_get(m, name)) < 0) {
                m->dropped++;
                goto out;
        }
        s = &m->series[m->nseries];
        memset(s, 0, sizeof(*s));
        s->family = (size_t)f;
        s->key = malloc(key.len + 1);
        if (!s->key) {
                s = NULL;
                goto out;
        }
        memcpy(s->key, key.data, key.len);
        s->key[key.len] = 0;
        s->keylen = key.len;
        s->labels = s->key + namelen + 1;
        m->hash[i] = (uint32_t)++m->nseries;
out:
        pb_buf_free(&key);
        return s;
}

void pb_metrics_add(pb_metrics_t *m, const char *name,
                    const char *const *labels, double v) {
        pb_series_t *s;
        pthread_mutex_lock(&m->lock);
        if ((s = series_get(m, name, labels)))
                s->value += v;
        pthread_mutex_unlock(&m->lock);
}

void pb_metrics_set(pb_metrics_t *m, const char *name,
                    const char *const *labels, double v) {
        pb_series_t *s;
        pthread_mutex_lock(&m->lock);
        if ((s = series_get(m, name, labels)))
                s->value = v;
        pthread_mutex_unlock(&m->lock);
}

void pb_metrics_observe(pb_metrics_t *m, const char *name,
                        const char *const *labels, double v) {
        pb_series_t *s;
        pb_family_t *fam;
        size_t i;
        pthread_mutex_lock(&m->lock);
        if (!(s = series_get(m, name, labels)))
                goto out;
        fam = &m->families[s->family];
        if (!fam->nbuckets) { /* used before declared: default buckets */
                fam->nbuckets =
                    sizeof(default_buckets) / sizeof(default_buckets[0]);
                memcpy(fam->buckets, default_buckets, sizeof(default_buckets));
        }
        if (!s->bucket_counts &&
            !(s->bucket_counts =
                  calloc(PB_METRICS_MAX_BUCKETS, sizeof(*s->bucket_counts))))
                goto out;
        for (i = 0; i < fam->nbuckets; i++)
                if (v <= fam->buckets[i]) {
                        s->bucket_counts[i]++;
                        break;
                }
        s->value += v;
        s->count++;
out:
        pthread_mutex_unlock(&m->lock);
}

double pb_metrics_get(pb_metrics_t *m, const char *name,
                      const char *const *labels) {
        pb_series_t *s;
        double v = 0;
        pthread_mutex_lock(&m->lock);
        if ((s = series_get(m, name, labels)))
                v = s->bucket_counts ? (double)s->count : s->value;
        pthread_mutex_unlock(&m->lock);
        return v;
}

static void put_value(pb_buf_t *out, double v) {
        if (isnan(v))
                pb_buf_puts(out, "NaN");
        else if (isinf(v))
                pb_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
        else if (v == (double)(int64_t)v && fabs(v) < 9e15)
                pb_buf_printf(out, "%lld", (long long)v);
        else
                pb_buf_printf(out, "%.17g", v);
}

static void put_series_name(pb_buf_t *out, const char *name, const char *suffix,
                            const char *labels, const char *extra) {
        pb_buf_puts(out, name);
        pb_buf_puts(out, suffix);
        if (*labels || extra) {
                pb_buf_putc(out, '{');
                pb_buf_puts(out, labels);
                if (extra) {
                        if (*labels)
                                pb_buf_putc(out, ',');
                        pb_buf_puts(out, extra);
                }
                pb_buf_putc(out, '}');
        }
        pb_buf_putc(out, ' ');
}

pb_resp_t pb_metrics_render(pb_metrics_t *m, pb_buf_t *out) {
        size_t f, i, j;
        pthread_mutex_lock(&m->lock);
        for (f = 0; f < m->nfamilies; f++) {
                const pb_family_t *fam = &m->families[f];
                int hist = fam->type && !strcmp(fam->type, "histogram");
                pb_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam->name,
                              fam->help ? fam->help : "", fam->name,
                              fam->type ? fam->type : "untyped");
                for (i = 0; i < m->nseries; i++) {
                        const pb_series_t *s = &m->series[i];
                        if (s->family != f)
                                continue;
                        if (!hist) {
                                put_series_name(out, fam->name, "", s->labels,
                                                NULL);
                                put_value(out, s->value);
                                pb_buf_putc(out, '\n');
                                continue;
                        }
                        {
                                uint64_t cum = 0;
                                char le[64];
                                for (j = 0; j < fam->nbuckets; j++) {
                                        cum += s->bucket_counts
                                                   ? s->bucket_counts[j]
                                                   : 0;
                                        snprintf(le, sizeof(le), "le=\"%g\"",
                                                 fam->buckets[j]);
                                        put_series_name(out, fam->name,
                                                        "_bucket", s->labels,
                                                        le);
                                        pb_buf_printf(out, "%llu\n",
                                                      (unsigned long long)cum);
                                }
                                put_series_name(out, fam->name, "_bucket",
                                                s->labels, "le=\"+Inf\"");
                                pb_buf_printf(out, "%llu\n",
                                              (unsigned long long)s->count);
                                put_series_name(out, fam->name, "_sum",
                                                s->labels, NULL);
                                put_value(out, s->value);
                                pb_buf_putc(out, '\n');
                                put_series_name(out, fam->name, "_count",
                                                s->labels, NULL);
                                pb_buf_printf(out, "%llu\n",
                                              (unsigned long long)s->count);
                        }
                }
        }
        pb_buf_printf(out,
                      "# HELP partnerbus_metrics_dropped_series_total Label "
                      "sets not recorded because the series bound was hit.\n"
                      "# TYPE partnerbus_metrics_dropped_series_total "
                      "counter\npartnerbus_metrics_dropped_series_total "
                      "%llu\n",
                      (unsigned long long)m->dropped);
        pthread_mutex_unlock(&m->lock);
        return PB_OK;
}
