/* Tests src/model/onnx.c and onnx_export.c.
 *
 * - ONNX files converted from XGBoost models by make_fixtures.py (with
 *   onnx.helper, in BRANCH_LT / LEQ / GTE / GT and double-threshold
 *   encodings) predict what XGBoost predicts, and their hitrates give
 *   XGBoost's SHAP values;
 * - our export of every golden XGBoost model passes onnx.checker
 *   (python3-onnx) and loads back to bit-identical margins;
 * - categorical splits refuse to export; corrupt files fail cleanly. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "fraud/model.h"
#include "model_case.h"

Test(onnx, converted_xgboost_models_match_xgboost) {
  json_t *list = json_load_file(fr_test_fixture("model/onnx/cases.json"), 0, NULL);
  cr_assert_not_null(list);
  char xgb_dir[4096]; /* fr_test_fixture's buffers are reused */
  snprintf(xgb_dir, sizeof xgb_dir, "%s", fr_test_fixture("model/xgb"));
  for (size_t i = 0; i < json_array_size(list); i++) {
    const char *file = json_string_value(json_array_get(json_array_get(list, i), 0));
    const char *cname = json_string_value(json_array_get(json_array_get(list, i), 1));
    model_case c;
    cr_assert_eq(model_case_load(xgb_dir, cname, &c), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", fr_test_fixture("model/onnx"), file);
    fr_error err;
    fr_forest *f = fr_forest_load(path, FR_FOREST_AUTO, &err);
    cr_assert_not_null(f, "%s: %s", file, err.msg);
    cr_assert_eq(fr_forest_format_of(f), FR_FOREST_ONNX);
    cr_assert_eq(fr_forest_nfeatures(f), c.nf, "%s", file);
    cr_assert_eq(fr_forest_noutputs(f), c.nout, "%s", file);
    float *p = malloc(c.n * c.nout * sizeof(float));
    float *m = malloc(c.n * c.nout * sizeof(float));
    cr_assert_eq(fr_forest_predict(f, c.x, c.n, p), 0);
    cr_assert_eq(fr_forest_predict_margin(f, c.x, c.n, m), 0);
    for (size_t k = 0; k < c.n * c.nout; k++) {
      cr_assert(fabs((double)p[k] - c.pred[k]) <= 1e-6, "%s row %zu: %.9g, XGBoost %.9g", file,
                k / c.nout, p[k], c.pred[k]);
      /* Same thresholds and order; base_values come from the converter's
       * own float32 logit (numpy's logf may differ from libm's by an ulp). */
      cr_assert(fabs((double)m[k] - c.margin[k]) <= 1e-6 * (1 + fabs(c.margin[k])),
                "%s row %zu: margin %.9g, XGBoost %.9g", file, k / c.nout, m[k], c.margin[k]);
    }
    size_t w = c.nout * (c.nf + 1);
    float *s = malloc(c.ncontrib * w * sizeof(float));
    cr_assert_eq(fr_forest_shap(f, c.x, c.ncontrib, s), 0, "%s: hitrates are covers", file);
    for (size_t k = 0; k < c.ncontrib * w; k++)
      cr_assert(fabs((double)s[k] - c.contribs[k]) <= 1e-5, "%s SHAP %zu: %.8g vs %.8g", file, k,
                s[k], c.contribs[k]);
    free(s);
    free(p);
    free(m);
    fr_forest_free(f);
    model_case_free(&c);
  }
  json_decref(list);
}

/* Exports every numeric golden model, reloads it, and collects the files
 * for onnx.checker. */
Test(onnx, export_round_trip_and_checker) {
  const char *dir = model_case_dir();
  json_t *names = model_case_names(dir);
  cr_assert_not_null(names);
  const char *tmp = fr_test_tmpdir();
  cr_assert_not_null(tmp);
  char cmd[65536];
  size_t cl = (size_t)snprintf(cmd, sizeof cmd,
                               "/usr/bin/python3 -c 'import onnx, sys\n"
                               "for p in sys.argv[1:]:\n"
                               "    onnx.checker.check_model(onnx.load(p), full_check=True)\n"
                               "print(len(sys.argv) - 1, \"models pass onnx.checker\")'");
  size_t exported = 0;
  for (size_t ci = 0; ci < json_array_size(names); ci++) {
    const char *name = json_string_value(json_array_get(names, ci));
    model_case c;
    cr_assert_eq(model_case_load(dir, name, &c), 0);
    fr_forest *f = fr_forest_load(c.model_path, FR_FOREST_AUTO, NULL);
    cr_assert_not_null(f);
    uint8_t *data;
    size_t len;
    fr_error err;
    int rc = fr_forest_to_onnx(f, &data, &len, &err);
    if (strstr(name, "cat")) {
      cr_assert_eq(rc, FR_EUNAVAIL, "%s: categorical splits cannot be exported", name);
      cr_assert(strstr(err.msg, "categorical") != NULL, "%s", err.msg);
      fr_forest_free(f);
      model_case_free(&c);
      continue;
    }
    cr_assert_eq(rc, 0, "%s: %s", name, err.msg);
    fr_forest *g = fr_forest_load_buffer(data, len, FR_FOREST_AUTO, name, &err);
    cr_assert_not_null(g, "%s: reload: %s", name, err.msg);
    cr_assert_eq(fr_forest_nfeatures(g), c.nf);
    cr_assert_eq(fr_forest_noutputs(g), c.nout);
    float *m = malloc(c.n * c.nout * sizeof(float)), *p = malloc(c.n * c.nout * sizeof(float));
    float *p0 = malloc(c.n * c.nout * sizeof(float));
    fr_forest_predict_margin(g, c.x, c.n, m);
    fr_forest_predict(g, c.x, c.n, p);
    fr_forest_predict(f, c.x, c.n, p0);
    for (size_t k = 0; k < c.n * c.nout; k++) {
      cr_assert(m[k] == c.margin[k], "%s row %zu: reloaded margin %.9g, XGBoost %.9g", name,
                k / c.nout, m[k], c.margin[k]);
      cr_assert(p[k] == p0[k], "%s row %zu: probability changed", name, k / c.nout);
    }
    if (fr_forest_feature_name(f, 0))
      cr_assert_str_eq(fr_forest_feature_name(g, 0), fr_forest_feature_name(f, 0));
    /* SHAP survives through nodes_hitrates. */
    float s0[64], s1[64];
    if (c.nout * (c.nf + 1) <= 64) {
      cr_assert_eq(fr_forest_shap(f, c.x, 1, s0), 0);
      cr_assert_eq(fr_forest_shap(g, c.x, 1, s1), 0);
      for (size_t k = 0; k < c.nout * (c.nf + 1); k++)
        cr_assert_float_eq(s0[k], s1[k], 1e-6, "%s SHAP %zu", name, k);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s.onnx", tmp, name);
    cr_assert_eq(fr_forest_export_onnx(f, path, &err), 0, "%s", err.msg);
    cl += (size_t)snprintf(cmd + cl, sizeof cmd - cl, " '%s'", path);
    exported++;
    free(data);
    free(m);
    free(p);
    free(p0);
    fr_forest_free(f);
    fr_forest_free(g);
    model_case_free(&c);
  }
  json_decref(names);
  cr_assert_gt(exported, 5);
  cr_assert_lt(cl, sizeof cmd - 1);
  int status = system(cmd);
  cr_assert_eq(status, 0, "onnx.checker rejected an exported model (python3-onnx installed?)");
}

Test(onnx, lightgbm_models_export_too) {
  /* Numeric LightGBM models (sigmoid:2 folded into the weights, softmax)
   * round-trip to the same probabilities. */
  const char *files[] = {"model/lightgbm/multiclass.txt", "model/lightgbm/sigmoid2_average.txt"};
  float x[6] = {-1, 0, 0.5f, NAN, -INFINITY, 2};
  for (int i = 0; i < 2; i++) {
    fr_forest *f = fr_forest_load(fr_test_fixture(files[i]), FR_FOREST_AUTO, NULL);
    cr_assert_not_null(f);
    uint8_t *d;
    size_t len;
    cr_assert_eq(fr_forest_to_onnx(f, &d, &len, NULL), 0);
    fr_forest *g = fr_forest_load_buffer(d, len, FR_FOREST_ONNX, "lgb.onnx", NULL);
    cr_assert_not_null(g);
    size_t nf = fr_forest_nfeatures(f), k = fr_forest_noutputs(f), n = 6 / nf;
    float a[18], b[18];
    fr_forest_predict(f, x, n, a);
    fr_forest_predict(g, x, n, b);
    for (size_t j = 0; j < n * k; j++)
      cr_assert_float_eq(a[j], b[j], 1e-6, "%s output %zu", files[i], j);
    free(d);
    fr_forest_free(f);
    fr_forest_free(g);
  }
  /* binary.txt has categorical and zero-band splits: not expressible. */
  fr_forest *f = fr_forest_load(fr_test_fixture("model/lightgbm/binary.txt"), FR_FOREST_AUTO, NULL);
  uint8_t *d;
  size_t len;
  cr_assert_eq(fr_forest_to_onnx(f, &d, &len, NULL), FR_EUNAVAIL);
  fr_forest_free(f);
}

Test(onnx, corrupt_files_fail_cleanly) {
  char path[4096];
  snprintf(path, sizeof path, "%s/d3_base04_lt.onnx", fr_test_fixture("model/onnx"));
  size_t len;
  char *data = fr_file_read_all(path, &len, NULL);
  cr_assert_not_null(data);
  /* Every truncation and a byte flipped at many positions: an error or a
   * valid model, never a crash (ASan checks the memory side). */
  for (size_t cut = 0; cut < len; cut += 37) {
    fr_forest *f = fr_forest_load_buffer(data, cut, FR_FOREST_ONNX, "cut.onnx", NULL);
    fr_forest_free(f);
  }
  char *copy = malloc(len);
  for (size_t pos = 0; pos < len; pos += 13) {
    memcpy(copy, data, len);
    copy[pos] ^= 0x5a;
    fr_error err;
    fr_forest *f = fr_forest_load_buffer(copy, len, FR_FOREST_ONNX, "flip.onnx", &err);
    if (f) {
      float x[8] = {0, NAN, 1, -1, 2, 3, 0.5f, INFINITY}, m[8];
      cr_assert_eq(fr_forest_predict_margin(f, x, 1, m), 0);
    } else {
      cr_assert(strstr(err.msg, "flip.onnx") != NULL, "%s", err.msg);
    }
    fr_forest_free(f);
  }
  fr_error err;
  cr_assert_null(fr_forest_load_buffer("\x08\x07garbage", 9, FR_FOREST_AUTO, "g.onnx", &err));
  cr_assert_eq(err.code, FR_EFORMAT);
  free(copy);
  free(data);
}
