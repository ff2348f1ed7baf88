/*
 * test_calibration.c - fr_calibration against scikit-learn 1.2.1's
 * calibration_curve (uniform and quantile strategies) on the vectors of
 * tests/fixtures/train/report.json, plus sklearn's docstring example.
 */
#include <criterion/criterion.h>

#include "fraud/train.h"
#include "train_fixture.h"

static void check(const char *name, const float *y, const float *p, size_t n,
                  int nb, fr_calib_strategy s, const json_t *e) {
  fr_calib_bin bins[16];
  size_t k = 0;
  double ece;
  fr_error err = {0};
  cr_assert_eq(fr_calibration(y, p, n, nb, s, bins, &k, &ece, &err), 0, "%s",
               err.msg);
  const json_t *pt = json_object_get(e, "prob_true"),
               *pp = json_object_get(e, "prob_pred"),
               *ct = json_object_get(e, "count");
  cr_assert_eq(k, json_array_size(pt), "%s: %zu bins vs sklearn %zu", name, k,
               json_array_size(pt));
  for (size_t i = 0; i < k; i++) {
    cr_expect(fx_close(bins[i].frac_pos, fx_num(json_array_get(pt, i)), 1e-9),
              "%s bin %zu", name, i);
    cr_expect(fx_close(bins[i].mean_pred, fx_num(json_array_get(pp, i)), 1e-9),
              "%s bin %zu: %.17g vs %.17g", name, i, bins[i].mean_pred,
              fx_num(json_array_get(pp, i)));
    cr_expect_eq(bins[i].count,
                 (size_t)json_integer_value(json_array_get(ct, i)),
                 "%s bin %zu", name, i);
    cr_expect(fx_close(bins[i].lo,
                       fx_num(json_array_get(json_object_get(e, "lo"), i)),
                       1e-12),
              "%s bin %zu lo", name, i);
  }
  cr_expect(fx_close(ece, fx_num(json_object_get(e, "ece")), 1e-9), "%s ece",
            name);
}

Test(calibration, agrees_with_sklearn) {
  json_t *root = fx_json("train/report.json");
  cr_assert(root);
  const json_t *cases = json_object_get(root, "cases");
  for (size_t ci = 0; ci < json_array_size(cases); ci++) {
    const json_t *c = json_array_get(cases, ci);
    const char *name = json_string_value(json_object_get(c, "name"));
    size_t n, n2;
    float *y = fx_floats(json_object_get(c, "y"), &n);
    float *p = fx_floats(json_object_get(c, "p"), &n2);
    const json_t *e = json_object_get(c, "expected");
    check(name, y, p, n, 10, FR_CALIB_UNIFORM,
          json_object_get(e, "calibration_uniform_10"));
    check(name, y, p, n, 5, FR_CALIB_QUANTILE,
          json_object_get(e, "calibration_quantile_5"));
    free(y);
    free(p);
  }
  json_decref(root);
}

/* sklearn's docstring: y 0 0 0 0 1 1 1 1 1, p .1 .2 .3 .4 .65 .7 .8 .9 1,
 * 3 bins -> prob_true 0, .5, 1 and prob_pred .2, .525, .85. */
Test(calibration, sklearn_docstring_example) {
  float y[] = {0, 0, 0, 0, 1, 1, 1, 1, 1};
  float p[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.65f, 0.7f, 0.8f, 0.9f, 1.0f};
  fr_calib_bin b[3];
  size_t k;
  cr_assert_eq(fr_calibration(y, p, 9, 3, FR_CALIB_UNIFORM, b, &k, NULL, NULL),
               0);
  cr_assert_eq(k, 3);
  cr_expect_float_eq(b[0].frac_pos, 0.0, 1e-12);
  cr_expect_float_eq(b[1].frac_pos, 0.5, 1e-12);
  cr_expect_float_eq(b[2].frac_pos, 1.0, 1e-12);
  cr_expect_float_eq(b[0].mean_pred, 0.2, 1e-7);
  cr_expect_float_eq(b[1].mean_pred, 0.525, 1e-7);
  cr_expect_float_eq(b[2].mean_pred, 0.85, 1e-7);
  cr_expect_eq(b[0].count + b[1].count + b[2].count, 9);
}

Test(calibration, bad_input) {
  float y[] = {0, 1}, p[] = {0.2f, 0.9f};
  fr_calib_bin b[2];
  size_t k;
  fr_error err = {0};
  cr_expect_eq(fr_calibration(y, p, 2, 0, FR_CALIB_UNIFORM, b, &k, NULL, &err),
               FR_EINVAL);
  p[0] = -0.5f;
  cr_expect_eq(fr_calibration(y, p, 2, 2, FR_CALIB_UNIFORM, b, &k, NULL, &err),
               FR_EINVAL);
  cr_expect(strstr(err.msg, "row 0"), "%s", err.msg);
}
