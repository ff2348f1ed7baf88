/*
 * rank.h - internal: scores sorted in decreasing order and grouped by equal
 * value, the shared first step of every ranking metric (ROC, PR, recall at
 * FPR), threshold choice, cost curves and report plots.  Grouping ties is
 * what makes the metrics independent of the order of tied rows, as
 * scikit-learn's _binary_clf_curve does (it keeps one point per distinct
 * score).
 */
#ifndef FRAUD_TRAIN_RANK_H
#define FRAUD_TRAIN_RANK_H

#include <stddef.h>

#include "fraud/common.h"

typedef struct fr__groups {
  size_t n;       /* distinct scores */
  double *score;  /* n, strictly decreasing */
  double *pos;    /* n, positives with that score */
  double *neg;    /* n, negatives with that score */
  double *wpos;   /* n, sum of weights of those positives (NULL unless w) */
  double *wneg;   /* n, sum of weights of those negatives (NULL unless w) */
  double P, N;    /* totals */
  double WP, WN;  /* weighted totals (0 unless w) */
} fr__groups;

/* Validates y (0/1), p (probabilities in [0,1], not NaN) and optional
 * weights w (finite, >= 0) of n rows and builds the groups.  Errors:
 * FR_EINVAL naming the first bad row, FR_ENOMEM.  Free with
 * fr__groups_free. */
int fr__groups_build(const float *y, const float *p, const double *w, size_t n,
                     fr__groups *g, fr_error *err);
void fr__groups_free(fr__groups *g);

/* Compensated (Neumaier) summation, so that means over millions of rows
 * agree with numpy's pairwise sums to well below 1e-12. */
typedef struct fr__ksum {
  double s, c;
} fr__ksum;
static inline void fr__ksum_add(fr__ksum *k, double v) {
  double t = k->s + v;
  if ((k->s >= 0 ? k->s : -k->s) >= (v >= 0 ? v : -v))
    k->c += (k->s - t) + v;
  else
    k->c += (v - t) + k->s;
  k->s = t;
}
static inline double fr__ksum_get(const fr__ksum *k) { return k->s + k->c; }

#endif
