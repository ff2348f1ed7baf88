/*
 * drift.h - online population stability index (PSI) of the scores and of
 * each feature of a model version, against a reference distribution
 * (fraud_score_psi, fraud_feature_psi in docs/metrics.md).
 *
 * Binning follows `fraud drift` (include/fraud/data.h, docs/data.md): up to
 * nine edges (the reference's deciles); a value goes to the number of edges
 * <= it (equal to an edge: upper bin); a missing value (NaN) has its own last
 * bin; PSI = sum (cur - ref) ln(cur / ref) with empty shares replaced by
 * FR_PSI_EPSILON (fr_psi).  "Recent" is the current window plus the previous
 * one: a window closes after `window` observations, at the next scrape.
 *
 * The reference comes from the bundle manifest's "reference" object
 * ({"score": {"edges": [...], "shares": [...]}, "features": {NAME: {...}}},
 * shares with one more entry than edges plus the missing bin), or is built
 * from the warm-start history.  Without one, PSI is NaN.
 */
#ifndef FRAUD_SERVE_DRIFT_H
#define FRAUD_SERVE_DRIFT_H

#include <jansson.h>
#include <stddef.h>

#include "fraud/common.h"

#define FR__DRIFT_MAX_EDGES 9

typedef struct fr__drift fr__drift;

/* A tracker for nfeatures features.  ref: the manifest's "reference" object
 * (borrowed, may be NULL: PSI is NaN until fr__drift_set_reference).
 * names: feature names (borrowed for the call).  NULL on ENOMEM. */
fr__drift *fr__drift_new(size_t nfeatures, const char *const *names, const json_t *ref,
                         size_t window);
void fr__drift_free(fr__drift *d);
/* Builds the reference from n rows of features (n x nfeatures) and their
 * scores: deciles at rank floor(k n / 10), k = 1..9, duplicates merged. */
int fr__drift_set_reference(fr__drift *d, const float *x, const float *p, size_t n);
/* 1 when a reference is set. */
int fr__drift_has_reference(const fr__drift *d);
/* Counts one scored row (lock-free). */
void fr__drift_observe(fr__drift *d, const float *row, float p);
/* PSI of recent scores (NaN without reference or observations) and of
 * feature i.  Closes the window when full. */
double fr__drift_score_psi(fr__drift *d);
double fr__drift_feature_psi(fr__drift *d, size_t i);

#endif
