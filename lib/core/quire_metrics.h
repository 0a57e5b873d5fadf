/*
 * quire_metrics — counters, gauges and histograms rendered in Prometheus text format.
 *
 * Series are registered (usually at start-up) and then updated lock-free with atomics from any
 * thread. A series is a name plus a fixed label string (`partition="3"`); series sharing a name
 * share their HELP and TYPE lines. Histograms use fixed latency buckets from 100 µs to 10 s.
 * Ownership: the registry owns every series; pointers stay valid until quire_metrics_destroy.
 */
#ifndef QUIRE_METRICS_H
#define QUIRE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "quire_err.h"

typedef struct quire_metrics_s quire_metrics_t;
typedef struct quire_metric_s quire_metric_t;

typedef enum quire_metric_kind_e {
    QUIRE_METRIC_COUNTER,
    QUIRE_METRIC_GAUGE,
    QUIRE_METRIC_HISTOGRAM,
} quire_metric_kind_t;

quire_metrics_t *quire_metrics_new(void);
void quire_metrics_destroy(quire_metrics_t *m);

/* Registers a series. `labels` may be NULL ("") or `key="value",...`; strings are copied.
 * Returns NULL only when out of memory. Registering the same name and labels twice returns the
 * existing series. */
quire_metric_t *quire_metrics_add(quire_metrics_t *m, quire_metric_kind_t kind, const char *name,
                                  const char *labels, const char *help);
/* A gauge whose value is computed at scrape time; fn runs on the scraping thread. */
quire_metric_t *quire_metrics_add_fn(quire_metrics_t *m, const char *name, const char *labels,
                                     const char *help, double (*fn)(void *opaque), void *opaque);

/* Updates; all accept NULL (a series that failed to register is ignored). */
void quire_metric_add(quire_metric_t *s, int64_t delta);
void quire_metric_set(quire_metric_t *s, int64_t value);
void quire_metric_observe(quire_metric_t *s, double seconds);
int64_t quire_metric_value(const quire_metric_t *s);

/* Renders every series. *ret_text is heap memory the caller frees. */
quire_err_t quire_metrics_render(quire_metrics_t *m, char **ret_text, size_t *ret_len);

#endif
