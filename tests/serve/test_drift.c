/*
 * test_drift.c - online PSI: binning as `fraud drift` does (a value equal to
 * an edge goes to the upper bin, missing values have their own bin), PSI
 * worked out by hand from the formula sum (cur - ref) ln(cur / ref) with
 * empty shares replaced by 1e-4, a reference read from a manifest object and
 * one built from rows (deciles), and NaN without a reference.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "serve/drift.h"

Test(drift, reference_from_manifest_and_hand_computed_psi) {
  json_t *ref = json_loads("{\"score\":{\"edges\":[0.1,0.5],\"shares\":[0.5,0.3,0.2,0]},"
                           "\"features\":{\"a\":{\"edges\":[1,2],\"shares\":[0.25,0.5,0.25,0]}}}",
                           0, NULL);
  const char *names[] = {"a"};
  fr__drift *d = fr__drift_new(1, names, ref, 1000);
  cr_assert(fr__drift_has_reference(d));
  /* Feature values 0.5 | 1 1.5 | 3 give shares 0.25 0.5 0.25 0: equal to the
   * reference (1 lands in the upper bin), PSI 0. */
  float rows[4] = {0.5f, 1.0f, 1.5f, 3.0f};
  float scores[4] = {0.05f, 0.1f, 0.7f, 0.9f}; /* bins 0, 1, 2, 2 */
  for (int i = 0; i < 4; i++)
    fr__drift_observe(d, &rows[i], scores[i]);
  cr_assert_float_eq(fr__drift_feature_psi(d, 0), 0.0, 1e-15);
  /* Scores: current shares 0.25 0.25 0.5 0 vs reference 0.5 0.3 0.2 0. */
  double want = (0.25 - 0.5) * log(0.25 / 0.5) + (0.25 - 0.3) * log(0.25 / 0.3) +
                (0.5 - 0.2) * log(0.5 / 0.2) + 0.0;
  cr_assert_float_eq(fr__drift_score_psi(d), want, 1e-12);
  /* One missing value more: of five rows, one is in the missing bin. */
  float nan = NAN;
  fr__drift_observe(d, &nan, 0.05f);
  double c0 = 0.2, c1 = 0.4, c2 = 0.2, c3 = 0.2;
  double w2 = (c0 - 0.25) * log(c0 / 0.25) + (c1 - 0.5) * log(c1 / 0.5) +
              (c2 - 0.25) * log(c2 / 0.25) + (c3 - 1e-4) * log(c3 / 1e-4);
  cr_assert_float_eq(fr__drift_feature_psi(d, 0), w2, 1e-12);
  fr__drift_free(d);
  json_decref(ref);
}

Test(drift, no_reference_is_nan_and_bad_reference_ignored) {
  fr__drift *d = fr__drift_new(1, (const char *[]){"a"}, NULL, 10);
  float x = 1;
  fr__drift_observe(d, &x, 0.5f);
  cr_assert(isnan(fr__drift_score_psi(d)));
  cr_assert(isnan(fr__drift_feature_psi(d, 0)));
  fr__drift_free(d);
  json_t *bad = json_loads("{\"score\":{\"edges\":[0.5,0.1],\"shares\":[0.5,0.3,0.2,0]}}", 0, NULL);
  d = fr__drift_new(1, (const char *[]){"a"}, bad, 10);
  cr_assert_not(fr__drift_has_reference(d), "unsorted edges must be refused");
  fr__drift_free(d);
  json_decref(bad);
}

/* Reference built from 10 rows 0..9: deciles at ranks 1..9 -> edges 1..9,
 * each value its own bin with share 0.1; the same rows observed give 0. */
Test(drift, reference_from_rows) {
  fr__drift *d = fr__drift_new(1, (const char *[]){"a"}, NULL, 100);
  float x[10], p[10];
  for (int i = 0; i < 10; i++) {
    x[i] = (float)i;
    p[i] = (float)i / 10.0f;
  }
  cr_assert_eq(fr__drift_set_reference(d, x, p, 10), 0);
  for (int i = 0; i < 10; i++)
    fr__drift_observe(d, &x[i], p[i]);
  cr_assert_float_eq(fr__drift_feature_psi(d, 0), 0.0, 1e-15);
  cr_assert_float_eq(fr__drift_score_psi(d), 0.0, 1e-15);
  /* All observations in the top bin: PSI against 0.1 shares. */
  fr__drift *e = fr__drift_new(1, (const char *[]){"a"}, NULL, 100);
  fr__drift_set_reference(e, x, p, 10);
  float nine = 9;
  for (int i = 0; i < 10; i++)
    fr__drift_observe(e, &nine, 0.95f);
  double want = 9 * (1e-4 - 0.1) * log(1e-4 / 0.1) + (1 - 0.1) * log(1 / 0.1);
  cr_assert_float_eq(fr__drift_feature_psi(e, 0), want, 1e-12);
  fr__drift_free(d);
  fr__drift_free(e);
}
