/*
 * quire_metrics — a registry that is appended to under a mutex and read under the same mutex at
 * scrape time; values themselves are atomics so the hot path never takes the lock.
 */
#include "quire_metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 16
static const double bucket_le[NBUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                           0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                           1,      2.5,     5,      10};

struct quire_metric_s {
    quire_metric_kind_t kind;
    char *name, *labels, *help;
    _Atomic int64_t value;
    _Atomic uint64_t buckets[NBUCKETS + 1]; /* last = +Inf */
    _Atomic uint64_t sum_ns;
    double (*fn)(void *);
    void *opaque;
    struct quire_metric_s *next;
};

struct quire_metrics_s {
    pthread_mutex_t lock;
    quire_metric_t *head, *tail;
};

quire_metrics_t *quire_metrics_new(void)
{
    quire_metrics_t *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void quire_metrics_destroy(quire_metrics_t *m)
{
    if (!m)
        return;
    for (quire_metric_t *s = m->head, *n; s; s = n) {
        n = s->next;
        free(s->name);
        free(s->labels);
        free(s->help);
        free(s);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static quire_metric_t *add(quire_metrics_t *m, quire_metric_kind_t kind, const char *name,
                           const char *labels, const char *help)
{
    if (!m)
        return NULL;
    if (!labels)
        labels = "";
    pthread_mutex_lock(&m->lock);
    for (quire_metric_t *s = m->head; s; s = s->next) {
        if (strcmp(s->name, name) == 0 && strcmp(s->labels, labels) == 0) {
            pthread_mutex_unlock(&m->lock);
            return s;
        }
    }
    quire_metric_t *s = calloc(1, sizeof *s);
    if (s) {
        s->kind = kind;
        s->name = strdup(name);
        s->labels = strdup(labels);
        s->help = strdup(help ? help : "");
        if (!s->name || !s->labels || !s->help) {
            free(s->name);
            free(s->labels);
            free(s->help);
            free(s);
            s = NULL;
        } else {
            if (m->tail)
                m->tail->next = s;
            else
                m->head = s;
            m->tail = s;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return s;
}

quire_metric_t *quire_metrics_add(quire_metrics_t *m, quire_metric_kind_t kind, const char *name,
                                  const char *labels, const char *help)
{
    return add(m, kind, name, labels, help);
}

quire_metric_t *quire_metrics_add_fn(quire_metrics_t *m, const char *name, const char *labels,
                                     const char *help, double (*fn)(void *opaque), void *opaque)
{
    quire_metric_t *s = add(m, QUIRE_METRIC_GAUGE, name, labels, help);
    if (s) {
        s->fn = fn;
        s->opaque = opaque;
    }
    return s;
}

void quire_metric_add(quire_metric_t *s, int64_t delta)
{
    if (s)
        atomic_fetch_add_explicit(&s->value, delta, memory_order_relaxed);
}

void quire_metric_set(quire_metric_t *s, int64_t value)
{
    if (s)
        atomic_store_explicit(&s->value, value, memory_order_relaxed);
}

int64_t quire_metric_value(const quire_metric_t *s)
{
    return s ? atomic_load_explicit(&s->value, memory_order_relaxed) : 0;
}

void quire_metric_observe(quire_metric_t *s, double seconds)
{
    if (!s)
        return;
    int b = 0;
    while (b < NBUCKETS && seconds > bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->value, 1, memory_order_relaxed);
    if (seconds > 0)
        atomic_fetch_add_explicit(&s->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
}

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} sbuf_t;

static void sb_printf(sbuf_t *sb, const char *fmt, ...) QUIRE_PRINTF(2, 3);
static void sb_printf(sbuf_t *sb, const char *fmt, ...)
{
    if (sb->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            sb->failed = 1;
            return;
        }
        if ((size_t)n < sb->cap - sb->len) {
            sb->len += (size_t)n;
            return;
        }
        size_t ncap = sb->cap * 2 + (size_t)n + 64;
        char *nb = realloc(sb->buf, ncap);
        if (!nb) {
            sb->failed = 1;
            return;
        }
        sb->buf = nb;
        sb->cap = ncap;
    }
}

static const char *kind_name(quire_metric_kind_t k)
{
    return k == QUIRE_METRIC_COUNTER ? "counter" : k == QUIRE_METRIC_GAUGE ? "gauge" : "histogram";
}

quire_err_t quire_metrics_render(quire_metrics_t *m, char **ret_text, size_t *ret_len)
{
    sbuf_t sb = {.buf = malloc(1024), .cap = 1024};
    if (!sb.buf)
        return QUIRE_ERR_NOMEM;
    sb.buf[0] = '\0';
    pthread_mutex_lock(&m->lock);
    for (quire_metric_t *s = m->head; s; s = s->next) {
        bool first = true;
        for (quire_metric_t *p = m->head; p != s; p = p->next)
            if (strcmp(p->name, s->name) == 0)
                first = false;
        if (first)
            sb_printf(&sb, "# HELP %s %s\n# TYPE %s %s\n", s->name, s->help, s->name,
                      kind_name(s->kind));
        const char *l = s->labels;
        if (s->kind == QUIRE_METRIC_HISTOGRAM) {
            uint64_t cum = 0;
            for (int b = 0; b <= NBUCKETS; b++) {
                cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
                char le[32];
                if (b < NBUCKETS)
                    snprintf(le, sizeof le, "%g", bucket_le[b]);
                else
                    snprintf(le, sizeof le, "+Inf");
                sb_printf(&sb, "%s_bucket{%s%sle=\"%s\"} %llu\n", s->name, l, *l ? "," : "", le,
                          (unsigned long long)cum);
            }
            sb_printf(&sb, "%s_sum%s%s%s %.9f\n", s->name, *l ? "{" : "", l, *l ? "}" : "",
                      (double)atomic_load_explicit(&s->sum_ns, memory_order_relaxed) / 1e9);
            sb_printf(&sb, "%s_count%s%s%s %llu\n", s->name, *l ? "{" : "", l, *l ? "}" : "",
                      (unsigned long long)cum);
        } else if (s->fn) {
            sb_printf(&sb, "%s%s%s%s %.17g\n", s->name, *l ? "{" : "", l, *l ? "}" : "",
                      s->fn(s->opaque));
        } else {
            sb_printf(&sb, "%s%s%s%s %lld\n", s->name, *l ? "{" : "", l, *l ? "}" : "",
                      (long long)atomic_load_explicit(&s->value, memory_order_relaxed));
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (sb.failed) {
        free(sb.buf);
        return QUIRE_ERR_NOMEM;
    }
    *ret_text = sb.buf;
    *ret_len = sb.len;
    return QUIRE_OK;
}
