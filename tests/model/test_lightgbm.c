/* Tests src/model/lightgbm.c on hand-written LightGBM text models
 * (tests/fixtures/model/lightgbm/, README there) whose outputs are worked
 * out by hand below from the format's decision rules, and on broken files. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>

#include "fr_test.h"
#include "fraud/model.h"

static fr_forest *load(const char *name) {
  fr_error err;
  fr_forest *f = fr_forest_load(fr_test_fixture(name), FR_FOREST_AUTO, &err);
  cr_assert_not_null(f, "%s: %s", name, err.msg);
  cr_assert_eq(fr_forest_format_of(f), FR_FOREST_LIGHTGBM_TEXT);
  return f;
}

static double sigmoid(double m) { return 1.0 / (1.0 + exp(-m)); }

/* binary.txt, features (amount, hour, velocity):
 *   tree 0: amount <= 100.5 (NaN: default left) ? [hour <= 6 (None: NaN
 *           is 0) ? -0.5 : 0.25] : 1.0
 *   tree 1: velocity <= 10 (Zero: NaN and |v| <= 1e-35 default right)
 *           ? -0.2 : [hour in {1, 3, 22} ? 0.7 : -0.1]
 *   tree 2: amount <= inf (NaN: default right) ? 0.05 : -0.05
 *   tree 3: 0.125 */
Test(lightgbm, binary_hand_worked) {
  fr_forest *f = load("model/lightgbm/binary.txt");
  cr_assert_eq(fr_forest_nfeatures(f), 3);
  cr_assert_eq(fr_forest_ntrees(f), 4);
  cr_assert_eq(fr_forest_objective(f), FR_OBJ_BINARY_LOGISTIC);
  cr_assert_str_eq(fr_forest_feature_name(f, 1), "hour");
  struct {
    float amount, hour, velocity;
    double margin;
    const char *why;
  } rows[] = {
      {50, 3, 5, -0.5 - 0.2 + 0.05 + 0.125, "all left"},
      {100.5f, 7, 0, 0.25 - 0.1 + 0.05 + 0.125,
       "amount == threshold goes left; velocity 0 is in the zero band -> default right; hour 7 "
       "not in set"},
      {NAN, NAN, NAN, -0.5 - 0.1 - 0.05 + 0.125,
       "NaN: default left / as 0.0 / zero band right / categorical right / default right"},
      {100.50001f, 22, 1e-36f, 1.0 + 0.7 + 0.05 + 0.125, "just above; 1e-36 is zero; 22 in set"},
      {INFINITY, 3.9f, -1e-30f, 1.0 - 0.2 + 0.05 + 0.125,
       "inf > 100.5; -1e-30 is outside the zero band; inf <= inf"},
      {-INFINITY, -0.5f, 10.000001f, -0.5 - 0.1 + 0.05 + 0.125,
       "-0.5 truncates to category 0, not in set"},
      {200, 3.9f, 20, 1.0 + 0.7 + 0.05 + 0.125, "3.9 truncates to category 3"},
      {200, -1, 20, 1.0 - 0.1 + 0.05 + 0.125, "negative category goes right"},
      {200, 1e10f, 20, 1.0 - 0.1 + 0.05 + 0.125, "category beyond int range goes right"},
      {200, 33, 20, 1.0 - 0.1 + 0.05 + 0.125, "category past the bitset goes right"},
      {200, 1, 10, 1.0 - 0.2 + 0.05 + 0.125, "velocity == 10 goes left"},
  };
  size_t n = sizeof rows / sizeof rows[0];
  float x[3 * 16], m[16], p[16];
  for (size_t i = 0; i < n; i++) {
    x[3 * i] = rows[i].amount;
    x[3 * i + 1] = rows[i].hour;
    x[3 * i + 2] = rows[i].velocity;
  }
  cr_assert_eq(fr_forest_predict_margin(f, x, n, m), 0);
  cr_assert_eq(fr_forest_predict(f, x, n, p), 0);
  for (size_t i = 0; i < n; i++) {
    cr_assert_float_eq(m[i], rows[i].margin, 1e-6, "row %zu (%s): %.8g", i, rows[i].why, m[i]);
    cr_assert_float_eq(p[i], sigmoid(rows[i].margin), 1e-6, "row %zu", i);
  }
  /* TreeSHAP works on LightGBM covers (the counts): contributions and bias
   * add up to the margin. */
  float c[4 * 16];
  cr_assert_eq(fr_forest_shap(f, x, n, c), 0);
  for (size_t i = 0; i < n; i++)
    cr_assert_float_eq(c[4 * i] + c[4 * i + 1] + c[4 * i + 2] + c[4 * i + 3], m[i], 1e-5);
  fr_forest_free(f);
}

/* multiclass.txt: class 0: x0 <= -1e-35 ? 1 : -1; class 1: x1 <= 0.5
 * (None) ? 0.5 : 2; class 2: -0.5.  Probabilities: softmax. */
Test(lightgbm, multiclass_softmax) {
  fr_forest *f = load("model/lightgbm/multiclass.txt");
  cr_assert_eq(fr_forest_noutputs(f), 3);
  cr_assert_eq(fr_forest_objective(f), FR_OBJ_MULTI_SOFTPROB);
  float x[8] = {-1, 0, 0, 1, NAN, NAN, -1e-35f, 0.5f};
  double want[4][3] = {{1, 0.5, -0.5}, {-1, 2, -0.5}, {-1, 0.5, -0.5}, {1, 0.5, -0.5}};
  float m[12], p[12];
  cr_assert_eq(fr_forest_predict_margin(f, x, 4, m), 0);
  cr_assert_eq(fr_forest_predict(f, x, 4, p), 0);
  for (int r = 0; r < 4; r++) {
    double z = exp(want[r][0]) + exp(want[r][1]) + exp(want[r][2]);
    for (int k = 0; k < 3; k++) {
      cr_assert_float_eq(m[3 * r + k], want[r][k], 1e-7, "row %d class %d", r, k);
      cr_assert_float_eq(p[3 * r + k], exp(want[r][k]) / z, 1e-6, "row %d class %d", r, k);
    }
  }
  fr_forest_free(f);
}

/* sigmoid2_average.txt: (x <= -inf ? 3 : 1) and -2, averaged over the 2
 * iterations; probability sigmoid(2 * margin). */
Test(lightgbm, sigmoid_parameter_and_average_output) {
  fr_forest *f = load("model/lightgbm/sigmoid2_average.txt");
  float x[3] = {0, -INFINITY, NAN}, m[3], p[3];
  double want[3] = {(1 - 2) / 2.0, (3 - 2) / 2.0, (1 - 2) / 2.0};
  fr_forest_predict_margin(f, x, 3, m);
  fr_forest_predict(f, x, 3, p);
  for (int i = 0; i < 3; i++) {
    cr_assert_float_eq(m[i], want[i], 1e-7, "row %d", i);
    cr_assert_float_eq(p[i], sigmoid(2 * want[i]), 1e-7, "row %d", i);
  }
  fr_forest_free(f);
}

/* Replaces `from` by `to` in a fixture and loads the result from memory. */
static fr_forest *load_patched(const char *name, const char *from, const char *to, fr_error *err) {
  size_t len;
  char *text = fr_file_read_all(fr_test_fixture(name), &len, NULL);
  cr_assert_not_null(text);
  char *p = strstr(text, from);
  cr_assert_not_null(p, "%s not in %s", from, name);
  size_t out_len = len - strlen(from) + strlen(to);
  char *out = malloc(out_len + 1);
  memcpy(out, text, (size_t)(p - text));
  memcpy(out + (p - text), to, strlen(to));
  memcpy(out + (p - text) + strlen(to), p + strlen(from), len - (size_t)(p - text) - strlen(from));
  fr_forest *f = fr_forest_load_buffer(out, out_len, FR_FOREST_LIGHTGBM_TEXT, "patched.txt", err);
  free(out);
  free(text);
  return f;
}

Test(lightgbm, broken_files_are_errors) {
  struct {
    const char *from, *to, *expect;
  } cases[] = {
      {"left_child=1 -1", "left_child=7 -1", "out of range"},
      {"left_child=1 -1", "left_child=0 -1", "twice"}, /* cycle back to the root */
      {"left_child=1 -1", "left_child=1 -9", "out of range"},
      {"split_feature=0 1", "split_feature=0 3", "split_feature"},
      {"threshold=100.5 6", "threshold=100.5 abc", "not a number"},
      {"threshold=100.5 6", "threshold=100.5", "expected 2"},
      {"leaf_value=-0.5 0.25 1", "leaf_value=-0.5 0.25", "expected 3"},
      {"cat_threshold=4194314", "cat_threshold=-1", "32-bit"},
      {"cat_boundaries=0 1", "cat_boundaries=0 5", "cat_threshold"},
      {"threshold=10 0", "threshold=10 3", "category set"},
      {"objective=binary sigmoid:1", "objective=lambdarank", "lambdarank"},
      {"objective=binary sigmoid:1", "objective=regression sqrt", "sqrt"},
      {"objective=binary sigmoid:1", "objective=binary sigmoid:-1", "sigmoid"},
      {"max_feature_idx=2", "max_feature_idx=x", "max_feature_idx"},
      {"feature_names=amount hour velocity", "feature_names=amount hour", "names"},
      {"is_linear=0\nshrinkage=1\n\n\nTree=1", "is_linear=1\nshrinkage=1\n\n\nTree=1", "linear"},
      {"end of trees", "end of tress", "truncated"},
      {"Tree=1", "Tree-1", "duplicate"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fr_error err;
    fr_forest *f = load_patched("model/lightgbm/binary.txt", cases[i].from, cases[i].to, &err);
    cr_assert_null(f, "case %zu (%s) loaded", i, cases[i].to);
    cr_assert(strstr(err.msg, cases[i].expect) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg,
              cases[i].expect);
    cr_assert(strstr(err.msg, "patched.txt:") != NULL, "names the file and line: %s", err.msg);
  }
}

Test(lightgbm, every_truncation_fails_cleanly) {
  size_t len;
  char *text = fr_file_read_all(fr_test_fixture("model/lightgbm/binary.txt"), &len, NULL);
  cr_assert_not_null(text);
  /* Cuts before "end of trees" must fail; after it the model is whole. */
  size_t end = (size_t)(strstr(text, "end of trees") - text);
  for (size_t cut = 0; cut < end; cut += 3) {
    fr_error err;
    fr_forest *f = fr_forest_load_buffer(text, cut, FR_FOREST_LIGHTGBM_TEXT, "cut.txt", &err);
    cr_assert_null(f, "a %zu-byte prefix loaded", cut);
  }
  fr_forest *f = fr_forest_load_buffer(text, end + 12, FR_FOREST_AUTO, "whole.txt", NULL);
  cr_assert_not_null(f);
  fr_forest_free(f);
  free(text);
}

/* Every instruction set gives the same margins (a numeric-only model with
 * +-inf thresholds runs the compact kernels, whose "always left" encoding
 * of a +inf threshold is exercised here). */
Test(lightgbm, kernels_agree) {
  const char *files[] = {"model/lightgbm/binary.txt", "model/lightgbm/multiclass.txt",
                         "model/lightgbm/sigmoid2_average.txt"};
  float vals[] = {-INFINITY, -1e3f, -1, -0.5f, -1e-35f, 0, 1e-36f, 0.5f, 3, 6, 10, 22, 100.5f,
                  1e4f, INFINITY, NAN};
  size_t nv = sizeof vals / sizeof vals[0];
  for (size_t fi = 0; fi < 3; fi++) {
    fr_forest *f = load(files[fi]);
    size_t nf = fr_forest_nfeatures(f), k = fr_forest_noutputs(f), n = 300;
    float *x = malloc(n * nf * sizeof(float));
    float *ref = malloc(n * k * sizeof(float)), *m = malloc(n * k * sizeof(float));
    for (size_t i = 0; i < n * nf; i++)
      x[i] = vals[(i * 7 + i / 5) % nv];
    fr_predict_opts o = {FR_SIMD_SCALAR, 1};
    cr_assert_eq(fr_forest_predict_margin_ex(f, x, n, ref, &o), 0);
    /* one row at a time, the general path */
    for (size_t r = 0; r < n; r++) {
      float one[8];
      fr_forest_predict_margin_ex(f, x + r * nf, 1, one, &o);
      for (size_t g = 0; g < k; g++)
        cr_assert(one[g] == ref[r * k + g], "%s row %zu", files[fi], r);
    }
    fr_simd sets[] = {FR_SIMD_AVX2, FR_SIMD_AVX512};
    for (int s = 0; s < 2; s++) {
      if (!fr_simd_supported(sets[s]))
        continue;
      for (size_t batch = 1; batch <= n; batch += 299) {
        o.simd = sets[s];
        for (size_t r = 0; r < n; r += batch) {
          size_t b = n - r < batch ? n - r : batch;
          cr_assert_eq(fr_forest_predict_margin_ex(f, x + r * nf, b, m + r * k, &o), 0);
        }
        for (size_t i = 0; i < n * k; i++)
          cr_assert(m[i] == ref[i], "%s %s batch %zu value %zu", files[fi], fr_simd_name(sets[s]),
                    batch, i);
      }
    }
    free(x);
    free(ref);
    free(m);
    fr_forest_free(f);
  }
}
