/*
 * calibration.c - the reliability table: are the model's probabilities
 * frequencies?  Binned exactly as scikit-learn 1.2.1's calibration_curve
 * bins (so the table can be checked against it), with the counts that
 * calibration_curve drops and the expected calibration error.
 */
#include "fraud/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/rank.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, z = *(const double *)b;
  return (x > z) - (x < z);
}

/* numpy 1.24's _lerp (numpy/lib/function_base.py): a + (b-a) t, computed
 * from the nearer end so that it is exact at t = 0 and t = 1 and monotone. */
static double np_lerp(double a, double b, double t) {
  double d = b - a;
  double v = t >= 0.5 ? b - d * (1 - t) : a + d * t;
  return a == b ? a : v;
}

/* np.percentile(x, q, method="linear") of sorted x[0..n). */
static double np_percentile(const double *x, size_t n, double q) {
  double idx = q / 100.0 * (double)(n - 1);
  double lo = floor(idx);
  size_t i = (size_t)lo;
  if (i >= n - 1)
    return x[n - 1];
  return np_lerp(x[i], x[i + 1], idx - lo);
}

int fr_calibration(const float *y, const float *p, size_t n, int nbins,
                   fr_calib_strategy strategy, fr_calib_bin *bins,
                   size_t *nout, double *ece, fr_error *err) {
  if (!bins || !nout)
    return fr_error_set(err, FR_EINVAL, "calibration: NULL output");
  *nout = 0;
  if (nbins < 1)
    return fr_error_set(err, FR_EINVAL,
                        "calibration: %d bins; at least 1 is needed", nbins);
  if (strategy != FR_CALIB_UNIFORM && strategy != FR_CALIB_QUANTILE)
    return fr_error_set(err, FR_EINVAL, "calibration: unknown strategy %d",
                        (int)strategy);
  /* Validates the rows (labels 0/1, probabilities). */
  fr__groups g;
  int rc = fr__groups_build(y, p, NULL, n, &g, err);
  if (rc)
    return rc;
  fr__groups_free(&g);

  size_t nb = (size_t)nbins;
  double *edges = malloc((nb + 1) * sizeof *edges);
  double *sum = calloc(nb, sizeof *sum), *pos = calloc(nb, sizeof *pos);
  size_t *cnt = calloc(nb, sizeof *cnt);
  double *sorted = NULL;
  if (!edges || !sum || !pos || !cnt) {
    rc = fr_error_set(err, FR_ENOMEM, "calibration: out of memory");
    goto done;
  }
  if (strategy == FR_CALIB_UNIFORM) {
    /* np.linspace(0, 1, nbins + 1): start + i * step, last = stop. */
    double step = 1.0 / (double)nb;
    for (size_t i = 0; i <= nb; i++)
      edges[i] = (double)i * step;
    edges[nb] = 1.0;
  } else {
    sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
      rc = fr_error_set(err, FR_ENOMEM, "calibration: out of memory");
      goto done;
    }
    for (size_t i = 0; i < n; i++)
      sorted[i] = p[i];
    qsort(sorted, n, sizeof *sorted, cmp_double);
    for (size_t i = 0; i <= nb; i++) {
      /* np.linspace(0, 1, nbins + 1) * 100, as calibration_curve does. */
      double q = i == nb ? 1.0 : (double)i * (1.0 / (double)nb);
      edges[i] = np_percentile(sorted, n, q * 100.0);
    }
  }
  for (size_t r = 0; r < n; r++) {
    double v = p[r];
    /* np.searchsorted(edges[1:-1], v, side="left"): the number of inner
     * edges strictly below v. */
    size_t lo = 0, hi = nb - 1;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (edges[1 + mid] < v)
        lo = mid + 1;
      else
        hi = mid;
    }
    sum[lo] += v;
    pos[lo] += y[r];
    cnt[lo]++;
  }
  size_t k = 0;
  fr__ksum e = {0, 0};
  for (size_t i = 0; i < nb; i++) {
    if (!cnt[i])
      continue;
    fr_calib_bin *b = &bins[k++];
    b->lo = edges[i];
    b->hi = edges[i + 1];
    b->count = cnt[i];
    b->mean_pred = sum[i] / (double)cnt[i];
    b->frac_pos = pos[i] / (double)cnt[i];
    fr__ksum_add(&e, (double)cnt[i] / (double)n *
                         fabs(b->frac_pos - b->mean_pred));
  }
  *nout = k;
  if (ece)
    *ece = fr__ksum_get(&e);
  rc = 0;
done:
  free(edges);
  free(sum);
  free(pos);
  free(cnt);
  free(sorted);
  return rc;
}
