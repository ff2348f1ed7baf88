/*
 * metrics.h - a small Prometheus registry: counters, gauges and histograms
 * with labels, driven by a static table of metric families, rendered in the
 * Prometheus text exposition format version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * The request path only touches atomics: a series is looked up (or created)
 * once under a read/write lock and its pointer may be cached by the caller,
 * since series are never freed before the registry.  Values are doubles kept
 * in 64-bit atomics (compare-and-swap on the bit pattern).  Histograms store
 * per-bucket (non-cumulative) counts; the exposition accumulates them and
 * derives `_count` from the same counts, so `le="+Inf"` always equals
 * `_count` even while other threads observe.
 */
#ifndef FRAUD_SERVE_METRICS_H
#define FRAUD_SERVE_METRICS_H

#include "serve/buf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define FR__METRIC_MAX_LABELS 4
#define FR__METRIC_MAX_BUCKETS 24

typedef enum fr__metric_kind {
  FR__COUNTER = 0,
  FR__GAUGE = 1,
  FR__HISTOGRAM = 2
} fr__metric_kind;

/* One family: its name, type, HELP text, label names (NULL-terminated, at
 * most FR__METRIC_MAX_LABELS) and, for histograms, the upper bounds of the
 * buckets in increasing order (the +Inf bucket is implicit). */
typedef struct fr__metric_def {
  const char *name;
  fr__metric_kind kind;
  const char *help;
  const char *labels[FR__METRIC_MAX_LABELS + 1];
  const double *buckets;
  size_t nbuckets;
} fr__metric_def;

typedef struct fr__series fr__series;
typedef struct fr__metrics fr__metrics;

/* A registry for `n` families described by defs[0..n) (borrowed: the table
 * must outlive the registry).  NULL on ENOMEM or an invalid table (too many
 * labels or buckets, unsorted buckets). */
fr__metrics *fr__metrics_new(const fr__metric_def *defs, size_t n);
void fr__metrics_free(fr__metrics *m);

/* The series of family `family` (index into defs) with the given label
 * values (one per label name of the family; NULL entries count as "").  The
 * series is created at zero on first use.  The pointer stays valid until
 * fr__metrics_free, so callers may cache it.  Thread-safe.  NULL on ENOMEM or
 * a family index out of range. */
fr__series *fr__metrics_get(fr__metrics *m, size_t family,
                            const char *const *label_values);

/* Counter: adds v (>= 0).  Gauge: adds v (any sign).  Thread-safe, lock-free.
 * NULL-safe (a series that could not be created is simply not counted). */
void fr__series_add(fr__series *s, double v);
/* Gauge: sets v. */
void fr__series_set(fr__series *s, double v);
/* Histogram: one observation of v. */
void fr__series_observe(fr__series *s, double v);
/* Current value (counter/gauge) or, for a histogram, the observation count. */
double fr__series_value(const fr__series *s);

/* Appends the whole registry in text format 0.0.4 to out: for each family
 * with at least one series, "# HELP", "# TYPE" and one line per series (per
 * bucket, _sum and _count for histograms), families in table order, series in
 * creation order.  Numbers are printed locale-independently: shortest
 * round-trip decimal, "+Inf", "-Inf", "NaN".  Label values are escaped
 * (backslash, double quote, newline) as the format requires. */
void fr__metrics_render(fr__metrics *m, fr__buf *out);

/* Appends one number as the exposition format writes it. */
void fr__metrics_fmt_value(fr__buf *out, double v);

#endif
