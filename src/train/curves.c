/*
 * curves.c - the points behind the ROC and precision-recall plots, and the
 * amount-weighted recall (how much of the fraud money a threshold stops,
 * which is what a fraud team is judged on, rather than the count of frauds).
 */
#include "fraud/train.h"

#include <math.h>
#include <stdlib.h>

#include "train/rank.h"

int fr_curve_points(const float *y, const float *p, size_t n,
                    fr_curve_point **points, size_t *k, double *P, double *N,
                    fr_error *err) {
  if (!points || !k)
    return fr_error_set(err, FR_EINVAL, "curve: NULL output");
  *points = NULL;
  *k = 0;
  fr__groups g;
  int rc = fr__groups_build(y, p, NULL, n, &g, err);
  if (rc)
    return rc;
  fr_curve_point *pts = malloc(g.n * sizeof *pts);
  if (!pts) {
    fr__groups_free(&g);
    return fr_error_set(err, FR_ENOMEM, "curve: out of memory");
  }
  double tp = 0, fp = 0;
  for (size_t i = 0; i < g.n; i++) {
    tp += g.pos[i];
    fp += g.neg[i];
    pts[i] = (fr_curve_point){g.score[i], tp, fp};
  }
  if (P)
    *P = g.P;
  if (N)
    *N = g.N;
  *points = pts;
  *k = g.n;
  fr__groups_free(&g);
  return 0;
}

int fr_amount_recall(const float *y, const float *p, const double *amount,
                     size_t n, double threshold, double *out, fr_error *err) {
  if (!out || !amount)
    return fr_error_set(err, FR_EINVAL, "amount recall: NULL argument");
  /* Validation of every row, as the other metrics do. */
  fr__groups g;
  int rc = fr__groups_build(y, p, amount, n, &g, err);
  if (rc)
    return rc;
  fr__ksum caught = {0, 0}, total = {0, 0};
  for (size_t i = 0; i < g.n; i++) {
    fr__ksum_add(&total, g.wpos[i]);
    if (g.score[i] >= threshold)
      fr__ksum_add(&caught, g.wpos[i]);
  }
  double t = fr__ksum_get(&total);
  *out = t > 0 ? fr__ksum_get(&caught) / t : NAN;
  fr__groups_free(&g);
  return 0;
}
