/*
 * metrics.c - evaluation metrics of a binary classifier's probabilities, each
 * defined exactly as scikit-learn 1.2.1 computes it (the tests compare to
 * sklearn to 1e-9); docs/metrics-formulas.md gives every formula and its
 * source.  Counts are kept in doubles (exact up to 2^53 rows).
 */
#include "fraud/train.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/rank.h"

const double fr_metrics_fprs[FR_N_FPR] = {0.001, 0.01, 0.05};

/* Area under the ROC curve by the trapezoidal rule over one point per
 * distinct score, i.e. the Mann-Whitney U statistic with tied pairs counted
 * one half (Hanley & McNeil 1982; sklearn roc_auc_score). */
static double roc_auc(const fr__groups *g) {
  if (g->P == 0 || g->N == 0)
    return NAN;
  double tp = 0, area = 0;
  for (size_t k = 0; k < g->n; k++) {
    area += g->neg[k] * (tp + 0.5 * g->pos[k]);
    tp += g->pos[k];
  }
  return area / (g->P * g->N);
}

/* Average precision: sum over distinct thresholds of (R_k - R_{k-1}) P_k,
 * step-wise without interpolation (sklearn average_precision_score). */
static double average_precision(const fr__groups *g) {
  if (g->P == 0 || g->N == 0)
    return NAN;
  double tp = 0, fp = 0, ap = 0;
  for (size_t k = 0; k < g->n; k++) {
    tp += g->pos[k];
    fp += g->neg[k];
    if (g->pos[k] > 0)
      ap += (g->pos[k] / g->P) * (tp / (tp + fp));
  }
  return ap;
}

/* Largest TPR among ROC points (one per distinct score, plus (0,0)) whose
 * FPR = fp / N is <= target; the same test sklearn's roc_curve points
 * satisfy in the fixture script. */
static double recall_at_fpr(const fr__groups *g, double target) {
  if (g->P == 0 || g->N == 0)
    return NAN;
  double tp = 0, fp = 0, best = 0;
  for (size_t k = 0; k < g->n; k++) {
    tp += g->pos[k];
    fp += g->neg[k];
    if (fp / g->N <= target)
      best = tp / g->P;
    else
      break; /* FPR only grows */
  }
  return best;
}

int fr_metrics_compute(const float *y, const float *p, size_t n,
                       double threshold, fr_metrics *out, fr_error *err) {
  if (!out)
    return fr_error_set(err, FR_EINVAL, "metrics: NULL output");
  memset(out, 0, sizeof *out);
  if (isnan(threshold))
    return fr_error_set(err, FR_EINVAL, "metrics: threshold is NaN");
  fr__groups g;
  int rc = fr__groups_build(y, p, NULL, n, &g, err);
  if (rc)
    return rc;
  out->rows = n;
  out->positives = (size_t)g.P;
  out->roc_auc = roc_auc(&g);
  out->pr_auc = average_precision(&g);
  for (int i = 0; i < FR_N_FPR; i++)
    out->recall_at_fpr[i] = recall_at_fpr(&g, fr_metrics_fprs[i]);
  fr__groups_free(&g);

  /* sklearn log_loss(eps="auto") clips to [eps, 1-eps] with eps the machine
   * epsilon of the input's dtype; the float32 scores are widened to float64
   * first, so eps = DBL_EPSILON. */
  const double eps = DBL_EPSILON;
  fr__ksum ll = {0, 0}, br = {0, 0};
  for (size_t i = 0; i < n; i++) {
    double pi = p[i];
    double c = pi < eps ? eps : pi > 1 - eps ? 1 - eps : pi;
    fr__ksum_add(&ll, y[i] == 1.0f ? -log(c) : -log(1.0 - c));
    double d = pi - (double)y[i];
    fr__ksum_add(&br, d * d);
    int pred = pi >= threshold;
    if (y[i] == 1.0f) {
      if (pred)
        out->tp++;
      else
        out->fn++;
    } else {
      if (pred)
        out->fp++;
      else
        out->tn++;
    }
  }
  out->log_loss = fr__ksum_get(&ll) / (double)n;
  out->brier = fr__ksum_get(&br) / (double)n;
  out->threshold = threshold;
  /* sklearn's zero_division: an undefined ratio is reported as 0. */
  double tp = (double)out->tp, fp = (double)out->fp, fn = (double)out->fn;
  out->precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  out->recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  out->f1 = 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : 0;
  return 0;
}

static void put_num(FILE *f, const char *key, double v) {
  char b[40];
  if (isfinite(v))
    fr_fmt_double(b, sizeof b, v);
  else
    strcpy(b, "null"); /* JSON has no NaN: an undefined metric is null */
  fprintf(f, "\"%s\":%s", key, b);
}

char *fr_metrics_json(const fr_metrics *m) {
  if (!m)
    return NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return NULL;
  fprintf(f, "{\"rows\":%zu,\"positives\":%zu,", m->rows, m->positives);
  put_num(f, "roc_auc", m->roc_auc);
  fputc(',', f);
  put_num(f, "pr_auc", m->pr_auc);
  fputc(',', f);
  put_num(f, "log_loss", m->log_loss);
  fputc(',', f);
  put_num(f, "brier", m->brier);
  fputs(",\"recall_at_fpr\":{", f);
  for (int i = 0; i < FR_N_FPR; i++) {
    char key[16];
    fr_snprintf_c(key, sizeof key, "%g", fr_metrics_fprs[i]);
    if (i)
      fputc(',', f);
    put_num(f, key, m->recall_at_fpr[i]);
  }
  fputs("},", f);
  put_num(f, "threshold", m->threshold);
  fputc(',', f);
  put_num(f, "precision", m->precision);
  fputc(',', f);
  put_num(f, "recall", m->recall);
  fputc(',', f);
  put_num(f, "f1", m->f1);
  fprintf(f, ",\"confusion\":{\"tp\":%zu,\"fp\":%zu,\"tn\":%zu,\"fn\":%zu}}",
          m->tp, m->fp, m->tn, m->fn);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* A threshold above every score: nothing is flagged. */
static double above(double max_score) { return nextafter(max_score, INFINITY); }

int fr_threshold_max_f1(const float *y, const float *p, size_t n,
                        double *threshold, fr_error *err) {
  if (!threshold)
    return fr_error_set(err, FR_EINVAL, "threshold: NULL output");
  fr__groups g;
  int rc = fr__groups_build(y, p, NULL, n, &g, err);
  if (rc)
    return rc;
  if (g.P == 0) {
    fr__groups_free(&g);
    return fr_error_set(err, FR_EDATA,
                        "threshold: no positive label among %zu rows: F1 is "
                        "undefined",
                        n);
  }
  /* F1 at a cut = 2tp / (tp + fp + P).  Compared exactly by cross
   * multiplication of integers so that equal F1 values tie and the lowest
   * threshold among them wins, whatever the rounding of the division. */
  unsigned __int128 bn = 0, bd = 1;
  double tp = 0, fp = 0, best = g.score[0];
  for (size_t k = 0; k < g.n; k++) {
    tp += g.pos[k];
    fp += g.neg[k];
    unsigned __int128 num = (unsigned __int128)(2 * tp);
    unsigned __int128 den = (unsigned __int128)(tp + fp + g.P);
    if (num * bd >= bn * den) {
      bn = num;
      bd = den;
      best = g.score[k];
    }
  }
  *threshold = best;
  fr__groups_free(&g);
  return 0;
}

int fr_threshold_at_fpr(const float *y, const float *p, size_t n, double fpr,
                        double *threshold, fr_error *err) {
  if (!threshold)
    return fr_error_set(err, FR_EINVAL, "threshold: NULL output");
  if (!(fpr >= 0 && fpr <= 1))
    return fr_error_set(err, FR_EINVAL,
                        "threshold: false-positive rate %g is not in [0, 1]",
                        fpr);
  fr__groups g;
  int rc = fr__groups_build(y, p, NULL, n, &g, err);
  if (rc)
    return rc;
  if (g.N == 0) {
    fr__groups_free(&g);
    return fr_error_set(err, FR_EDATA,
                        "threshold: no negative label among %zu rows: the "
                        "false-positive rate is undefined",
                        n);
  }
  double fp = 0, best = above(g.score[0]);
  for (size_t k = 0; k < g.n; k++) {
    fp += g.neg[k];
    if (fp / g.N <= fpr)
      best = g.score[k];
    else
      break;
  }
  *threshold = best;
  fr__groups_free(&g);
  return 0;
}
