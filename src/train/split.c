/*
 * split.c - the time split: earlier rows train, a later slice validates, the
 * latest slice tests, as fraud models are used (trained on the past, scored
 * on the future).  A random split would leak a card's future behaviour into
 * its training rows through the windowed features.
 */
#include "fraud/train.h"

#include <math.h>

/* Moves a cut forward until it no longer separates two rows with the same
 * event time, so that one instant never lands in two slices. */
static size_t cut_forward(const double *t, size_t n, size_t cut) {
  while (cut > 0 && cut < n && t[cut] == t[cut - 1])
    cut++;
  return cut;
}

static void count_labels(const float *y, size_t from, size_t to, size_t *pos,
                         size_t *neg) {
  *pos = *neg = 0;
  for (size_t i = from; i < to; i++) {
    if (y[i] == 1.0f)
      (*pos)++;
    else if (y[i] == 0.0f)
      (*neg)++;
  }
}

int fr_split_by_time(const fr_table *t, double valid_fraction,
                     double test_fraction, fr_split *out, fr_error *err) {
  if (!t || !out)
    return fr_error_set(err, FR_EINVAL, "split: NULL table or output");
  if (!(valid_fraction > 0 && valid_fraction < 1) ||
      !(test_fraction > 0 && test_fraction < 1) ||
      !(valid_fraction + test_fraction < 1))
    return fr_error_set(err, FR_EINVAL,
                        "split: fractions must be in (0,1) and sum to less "
                        "than 1 (valid %g, test %g)",
                        valid_fraction, test_fraction);
  size_t n = t->rows;
  if (n == 0)
    return fr_error_set(err, FR_EDATA, "split: the table has no rows");
  if (!t->event_time || !t->y)
    return fr_error_set(err, FR_EINVAL,
                        "split: the table has no event times or labels");
  for (size_t i = 1; i < n; i++) {
    if (t->event_time[i] < t->event_time[i - 1])
      return fr_error_set(err, FR_EINVAL,
                          "split: rows are not in event-time order (row %zu "
                          "is earlier than row %zu)",
                          i, i - 1);
  }
  /* Slice sizes are rounded to the nearest row, then each cut moves forward
   * past ties: the test slice may shrink and training grow by a few rows. */
  size_t n_test = (size_t)llround(test_fraction * (double)n);
  size_t n_vt = (size_t)llround((valid_fraction + test_fraction) * (double)n);
  if (n_vt > n)
    n_vt = n;
  size_t valid_end = cut_forward(t->event_time, n, n - n_test);
  size_t train_end = cut_forward(t->event_time, n, n - n_vt);
  if (train_end > valid_end)
    train_end = valid_end;
  out->train_end = train_end;
  out->valid_end = valid_end;
  out->rows = n;
  if (train_end == 0 || valid_end == train_end || valid_end == n)
    return fr_error_set(err, FR_EDATA,
                        "split: a slice is empty (train %zu, valid %zu, test "
                        "%zu rows of %zu; equal event times are never split)",
                        train_end, valid_end - train_end, n - valid_end, n);
  size_t pos, neg;
  count_labels(t->y, 0, train_end, &pos, &neg);
  if (pos == 0 || neg == 0)
    return fr_error_set(err, FR_EDATA,
                        "split: the training slice (rows 0..%zu) has %zu "
                        "positive and %zu negative labels; both classes are "
                        "needed (PR-AUC is undefined otherwise)",
                        train_end, pos, neg);
  count_labels(t->y, train_end, valid_end, &pos, &neg);
  if (pos == 0 || neg == 0)
    return fr_error_set(err, FR_EDATA,
                        "split: the validation slice (rows %zu..%zu) has %zu "
                        "positive and %zu negative labels; both classes are "
                        "needed (PR-AUC is undefined otherwise)",
                        train_end, valid_end, pos, neg);
  return 0;
}
