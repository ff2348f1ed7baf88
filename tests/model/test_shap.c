/* Tests src/model/shap.c: TreeSHAP (Linear TreeSHAP, and the direct
 * Algorithm 2 it falls back to) equals XGBoost's own
 * predict(pred_contribs=True) within 1e-5 on every golden case (NaNs and
 * default directions, categorical splits, multi-class, deep unbalanced
 * leaf-wise trees with features repeated along paths), the contributions
 * and bias sum to the margin, hand-worked examples (one with zero-cover
 * branches), and the top-k reasons helper. */
#include <criterion/criterion.h>
#include <math.h>

#include "fraud/model.h"
#include "model/forest_internal.h"
#include "model_case.h"

#define SHAP_TOL 1e-5

Test(shap, equals_xgboost_pred_contribs) {
  const char *dir = model_case_dir();
  json_t *names = model_case_names(dir);
  cr_assert_not_null(names);
  size_t checked = 0;
  for (size_t ci = 0; ci < json_array_size(names); ci++) {
    const char *name = json_string_value(json_array_get(names, ci));
    model_case c;
    cr_assert_eq(model_case_load(dir, name, &c), 0);
    if (!c.contribs) {
      model_case_free(&c);
      continue;
    }
    fr_forest *f = fr_forest_load(c.model_path, FR_FOREST_AUTO, NULL);
    cr_assert_not_null(f);
    /* Every golden model (depth <= 22) is explained by Linear TreeSHAP:
     * the values below are that algorithm's. */
    fr_error perr;
    cr_assert_eq(fr_forest_shap_prepare(f, &perr), 0, "%s: %s", name, perr.msg);
    size_t w = c.nout * (c.nf + 1);
    float *got = malloc(c.ncontrib * w * sizeof(float));
    cr_assert_eq(fr_forest_shap(f, c.x, c.ncontrib, got), 0, "%s", name);
    double worst = 0;
    for (size_t i = 0; i < c.ncontrib * w; i++) {
      double d = fabs((double)got[i] - c.contribs[i]);
      if (d > worst)
        worst = d;
      cr_assert(d <= SHAP_TOL, "%s row %zu output %zu column %zu: %.8g, XGBoost %.8g", name,
                i / w, (i % w) / (c.nf + 1), i % (c.nf + 1), got[i], c.contribs[i]);
    }
    /* Local accuracy: per row and output, contributions + bias = margin. */
    for (size_t r = 0; r < c.ncontrib; r++)
      for (size_t g = 0; g < c.nout; g++) {
        double sum = 0;
        for (size_t j = 0; j <= c.nf; j++)
          sum += got[r * w + g * (c.nf + 1) + j];
        double m = c.margin[r * c.nout + g];
        cr_assert(fabs(sum - m) <= 1e-4 * (1 + fabs(m)), "%s row %zu: sum %.8g, margin %.8g",
                  name, r, sum, m);
      }
    /* The direct algorithm (Algorithm 2 itself) gives the same values. */
    float *direct = malloc(c.ncontrib * w * sizeof(float));
    cr_assert_eq(fr__forest_shap(f, c.x, c.ncontrib, direct, 0), 0);
    for (size_t i = 0; i < c.ncontrib * w; i++)
      cr_assert(fabs((double)direct[i] - c.contribs[i]) <= SHAP_TOL,
                "%s (direct) value %zu: %.8g, XGBoost %.8g", name, i, direct[i], c.contribs[i]);
    /* So does the linear algorithm's kernel for CPUs without AVX2. */
    cr_assert_eq(fr__forest_shap(f, c.x, c.ncontrib, direct, 2), 0);
    for (size_t i = 0; i < c.ncontrib * w; i++)
      cr_assert(fabs((double)direct[i] - c.contribs[i]) <= SHAP_TOL,
                "%s (baseline kernel) value %zu: %.8g, XGBoost %.8g", name, i, direct[i],
                c.contribs[i]);
    free(direct);
    cr_log_info("%s: %zu rows, max |diff| %.3g", name, c.ncontrib, worst);
    checked += c.ncontrib;
    free(got);
    fr_forest_free(f);
    model_case_free(&c);
  }
  json_decref(names);
  cr_assert_gt(checked, 0);
}

/* One tree, worked by hand from the definition of SHAP values:
 *
 *            x0 < 0 (cover 10)
 *           /                 \
 *     x1 < 0 (cover 6)       leaf 4 (cover 4)
 *     /          \
 *  leaf 1 (2)   leaf 2 (4)
 *
 * E[f] = (2*1 + 4*2 + 4*4) / 10 = 2.6.  For x = (-1, 1): f(x) = 2.
 *   f with only x0 known: E[f | x0 < 0] = (2*1 + 4*2)/6 = 5/3
 *   f with only x1 known: x1 >= 0 -> left branch gives 2, right 4:
 *                         (6*2 + 4*4)/10 = 2.8
 * phi0 = 1/2 [(5/3 - 2.6) + (2 - 2.8)] = -0.86667
 * phi1 = 1/2 [(2.8 - 2.6) + (2 - 5/3)] =  0.26667 */
Test(shap, hand_worked_example) {
  const char *json =
      "{\"learner\":{\"feature_names\":[\"a\",\"b\"],\"feature_types\":[],"
      "\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\","
      "\"num_trees\":\"1\",\"size_leaf_vector\":\"0\"},\"tree_info\":[0],\"trees\":[{"
      "\"left_children\":[1,3,-1,-1,-1],\"right_children\":[2,4,-1,-1,-1],"
      "\"split_indices\":[0,1,0,0,0],\"split_conditions\":[0,0,4,1,2],"
      "\"default_left\":[1,1,0,0,0],\"sum_hessian\":[10,6,4,2,4],"
      "\"tree_param\":{\"num_nodes\":\"5\",\"num_feature\":\"2\",\"size_leaf_vector\":\"0\"}}]},"
      "\"name\":\"gbtree\"},\"learner_model_param\":{\"base_score\":\"0\",\"num_class\":\"0\","
      "\"num_feature\":\"2\"},\"objective\":{\"name\":\"reg:squarederror\"}}}";
  fr_error err;
  fr_forest *f = fr_forest_load_buffer(json, strlen(json), FR_FOREST_AUTO, "hand", &err);
  cr_assert_not_null(f, "%s", err.msg);
  float x[2] = {-1.0f, 1.0f}, c[3];
  cr_assert_eq(fr_forest_shap(f, x, 1, c), 0);
  cr_assert_float_eq(c[0], -0.8666667f, 1e-6);
  cr_assert_float_eq(c[1], 0.2666667f, 1e-6);
  cr_assert_float_eq(c[2], 2.6f, 1e-6);
  /* Missing x1 follows the default (left): f = 1, only x0 known matters. */
  x[1] = NAN;
  cr_assert_eq(fr_forest_shap(f, x, 1, c), 0);
  cr_assert_float_eq(c[0] + c[1] + c[2], 1.0f, 1e-6);

  fr_reason r[2];
  size_t got = 0;
  x[1] = 1.0f;
  cr_assert_eq(fr_forest_reasons(f, x, 0, 2, FR_REASONS_BY_MAGNITUDE, r, &got), 0);
  cr_assert_eq(got, 2);
  cr_assert_eq(r[0].feature, 0);
  cr_assert_float_eq(r[0].contribution, -0.8666667f, 1e-6);
  cr_assert_eq(r[0].value, -1.0f);
  cr_assert_eq(r[1].feature, 1);
  cr_assert_eq(fr_forest_reasons(f, x, 0, 2, FR_REASONS_TOWARD_POSITIVE, r, &got), 0);
  cr_assert_eq(got, 1, "only x1 pushes the score up");
  cr_assert_eq(r[0].feature, 1);
  cr_assert_eq(fr_forest_reasons(f, x, 1, 2, FR_REASONS_TOWARD_POSITIVE, r, &got), FR_EINVAL,
               "output out of range");
  fr_forest_free(f);
}

Test(shap, prepare_and_models_without_covers) {
  /* prepare builds the Linear TreeSHAP tables once (idempotent). */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", fr_test_fixture("model/xgb"));
  model_case c;
  cr_assert_eq(model_case_load(dir, "ulb", &c), 0);
  fr_forest *f = fr_forest_load(c.model_path, FR_FOREST_AUTO, NULL);
  fr_error err;
  cr_assert_eq(fr_forest_shap_prepare(f, &err), 0, "%s", err.msg);
  cr_assert_eq(fr_forest_shap_prepare(f, &err), 0, "idempotent");
  fr_forest_free(f);
  model_case_free(&c);
  /* A model file without covers (no sum_hessian): FR_EUNAVAIL, said. */
  const char *nocover =
      "{\"learner\":{\"gradient_booster\":{\"model\":{\"tree_info\":[0],\"trees\":[{"
      "\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],\"split_indices\":[0,0,0],"
      "\"split_conditions\":[0,1,2],\"default_left\":[1,0,0]}]},\"name\":\"gbtree\"},"
      "\"learner_model_param\":{\"base_score\":\"0\",\"num_feature\":\"1\"},"
      "\"objective\":{\"name\":\"reg:squarederror\"}}}";
  f = fr_forest_load_buffer(nocover, strlen(nocover), FR_FOREST_AUTO, "nocover", &err);
  cr_assert_not_null(f, "%s", err.msg);
  float x = 1, out[2];
  cr_assert_eq(fr_forest_shap(f, &x, 1, out), FR_EUNAVAIL);
  cr_assert_eq(fr_forest_shap_prepare(f, &err), FR_EUNAVAIL);
  cr_assert(strstr(err.msg, "covers") != NULL, "%s", err.msg);
  fr_forest_free(f);
}

Test(shap, top_k_order_and_ties) {
  float c[6] = {0.5f, -2.0f, 0.5f, 0.0f, 1.5f, 9.0f /* bias, ignored */};
  float x[5] = {1, 2, 3, 4, 5};
  fr_reason r[5];
  size_t n = fr_shap_top_k(c, x, 5, 3, FR_REASONS_TOWARD_POSITIVE, r);
  cr_assert_eq(n, 3);
  cr_assert_eq(r[0].feature, 4);
  cr_assert_eq(r[1].feature, 0, "ties go to the lower feature index");
  cr_assert_eq(r[2].feature, 2);
  cr_assert_eq(r[2].value, 3.0f);
  n = fr_shap_top_k(c, x, 5, 5, FR_REASONS_BY_MAGNITUDE, r);
  cr_assert_eq(n, 4, "the zero contribution is left out");
  cr_assert_eq(r[0].feature, 1);
  cr_assert_eq(r[0].contribution, -2.0f);
  cr_assert_eq(r[1].feature, 4);
  n = fr_shap_top_k(c, NULL, 5, 1, FR_REASONS_BY_MAGNITUDE, r);
  cr_assert_eq(n, 1);
  cr_assert(isnan(r[0].value), "no row: value NaN");
  cr_assert_eq(fr_shap_top_k(c, x, 5, 0, FR_REASONS_BY_MAGNITUDE, r), 0);
}

Test(shap, every_tree_depth_and_output_of_a_multiclass_model) {
  /* fr_forest_reasons walks one output's trees only; its contributions must
   * equal that output's slice of fr_forest_shap. */
  const char *dir = fr_test_fixture("model/xgb");
  model_case c;
  cr_assert_eq(model_case_load(dir, "softprob3", &c), 0);
  fr_forest *f = fr_forest_load(c.model_path, FR_FOREST_AUTO, NULL);
  cr_assert_not_null(f);
  size_t w = c.nout * (c.nf + 1);
  float *all = malloc(w * sizeof(float));
  for (size_t r = 0; r < 20; r++) {
    cr_assert_eq(fr_forest_shap(f, c.x + r * c.nf, 1, all), 0);
    for (size_t g = 0; g < c.nout; g++) {
      fr_reason rs[16];
      size_t got;
      cr_assert_eq(fr_forest_reasons(f, c.x + r * c.nf, g, c.nf, FR_REASONS_BY_MAGNITUDE, rs,
                                     &got),
                   0);
      for (size_t i = 0; i < got; i++)
        cr_assert_float_eq(rs[i].contribution, all[g * (c.nf + 1) + rs[i].feature], 1e-6);
    }
  }
  free(all);
  fr_forest_free(f);
  model_case_free(&c);
}

/* Zero covers and a feature repeated below a zero-cover edge, worked by
 * hand.  One feature x0:
 *
 *              x0 < 0 (cover 10)
 *             /                 \
 *   x0 < -1 (cover 0)         leaf 2: 5 (cover 10)
 *     /          \
 *  leaf 3: 1 (0)  leaf 4: 3 (0)
 *
 * E[f] = (0 * E[node 1] + 10 * 5) / 10 = 5.  With a single feature its SHAP
 * value is f(x) - E[f]: x0 = 0.5 -> 0; x0 = -0.5 -> 3 - 5 = -2; x0 = -2 ->
 * 1 - 5 = -4.  For x0 = 0.5 the repeated split's previous factor
 * z (1 - t) + o t is 0 at every point (z = 0: no cover, o = 0: x goes
 * right), the case where a careless division gives 0/0 = NaN. */
Test(shap, zero_cover_and_repeated_feature) {
  const char *json =
      "{\"learner\":{\"feature_names\":[\"a\",\"b\"],\"feature_types\":[],"
      "\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\","
      "\"num_trees\":\"1\",\"size_leaf_vector\":\"0\"},\"tree_info\":[0],\"trees\":[{"
      "\"left_children\":[1,3,-1,-1,-1],\"right_children\":[2,4,-1,-1,-1],"
      "\"split_indices\":[0,0,0,0,0],\"split_conditions\":[0,-1,5,1,3],"
      "\"default_left\":[1,1,0,0,0],\"sum_hessian\":[10,0,10,0,0],"
      "\"tree_param\":{\"num_nodes\":\"5\",\"num_feature\":\"2\",\"size_leaf_vector\":\"0\"}}]},"
      "\"name\":\"gbtree\"},\"learner_model_param\":{\"base_score\":\"0\",\"num_class\":\"0\","
      "\"num_feature\":\"2\"},\"objective\":{\"name\":\"reg:squarederror\"}}}";
  fr_error err;
  fr_forest *f = fr_forest_load_buffer(json, strlen(json), FR_FOREST_AUTO, "zero", &err);
  cr_assert_not_null(f, "%s", err.msg);
  cr_assert_eq(fr_forest_shap_prepare(f, &err), 0, "%s", err.msg);
  const float xs[4] = {0.5f, -0.5f, -2.0f, NAN};
  const float want[4] = {0.0f, -2.0f, -4.0f, -4.0f}; /* NaN: default left twice */
  for (int i = 0; i < 4; i++) {
    float x[2] = {xs[i], 7.0f}, c[3], d[3];
    cr_assert_eq(fr_forest_shap(f, x, 1, c), 0);
    cr_assert_eq(fr__forest_shap(f, x, 1, d, 0), 0);
    cr_assert_float_eq(c[0], want[i], 1e-6, "x0 = %g: %g", xs[i], c[0]);
    cr_assert_eq(c[1], 0.0f, "b is never split on");
    cr_assert_float_eq(c[2], 5.0f, 1e-6);
    cr_assert_float_eq(d[0], want[i], 1e-6, "direct, x0 = %g: %g", xs[i], d[0]);
  }
  fr_forest_free(f);
}

/* A depth beyond Linear TreeSHAP's 32 (a chain of 40 splits on alternating
 * features): fr_forest_shap_prepare says the direct algorithm is used, and
 * the values still add up to the margin. */
Test(shap, deeper_than_linear_falls_back_to_direct) {
  enum { D = 40, NN = 2 * D + 1 };
  char *json = malloc(65536);
  size_t o = 0;
  o += (size_t)snprintf(json + o, 65536 - o,
                        "{\"learner\":{\"gradient_booster\":{\"model\":{\"tree_info\":[0],"
                        "\"trees\":[{\"left_children\":[");
  /* node 2k splits (feature k % 2, threshold k), left child 2k+1 a leaf
   * of value k, right child 2k+2 the next split; node 2D the last leaf. */
  for (int i = 0; i < NN; i++)
    o += (size_t)snprintf(json + o, 65536 - o, "%s%d", i ? "," : "",
                          i % 2 == 0 && i < 2 * D ? i + 1 : -1);
  o += (size_t)snprintf(json + o, 65536 - o, "],\"right_children\":[");
  for (int i = 0; i < NN; i++)
    o += (size_t)snprintf(json + o, 65536 - o, "%s%d", i ? "," : "",
                          i % 2 == 0 && i < 2 * D ? i + 2 : -1);
  o += (size_t)snprintf(json + o, 65536 - o, "],\"split_indices\":[");
  for (int i = 0; i < NN; i++)
    o += (size_t)snprintf(json + o, 65536 - o, "%s%d", i ? "," : "", (i / 2) % 2);
  o += (size_t)snprintf(json + o, 65536 - o, "],\"split_conditions\":[");
  for (int i = 0; i < NN; i++)
    o += (size_t)snprintf(json + o, 65536 - o, "%s%d", i ? "," : "", i / 2);
  o += (size_t)snprintf(json + o, 65536 - o, "],\"default_left\":[");
  for (int i = 0; i < NN; i++)
    o += (size_t)snprintf(json + o, 65536 - o, "%s%d", i ? "," : "", i % 4 == 0);
  o += (size_t)snprintf(json + o, 65536 - o, "],\"sum_hessian\":[");
  for (int i = 0; i < NN; i++) /* each split sends 1 of its cover left */
    o += (size_t)snprintf(json + o, 65536 - o, "%s%d", i ? "," : "",
                          i % 2 == 1 ? 1 : D + 1 - i / 2);
  o += (size_t)snprintf(json + o, 65536 - o,
                        "]}]},\"name\":\"gbtree\"},\"learner_model_param\":{\"base_score\":"
                        "\"0\",\"num_feature\":\"2\"},\"objective\":{\"name\":"
                        "\"reg:squarederror\"}}}");
  fr_error err;
  fr_forest *f = fr_forest_load_buffer(json, o, FR_FOREST_AUTO, "chain", &err);
  free(json);
  cr_assert_not_null(f, "%s", err.msg);
  cr_assert_eq(fr_forest_shap_prepare(f, &err), FR_ELIMIT);
  cr_assert(strstr(err.msg, "direct") != NULL, "%s", err.msg);
  const float rows[3][2] = {{100, 100}, {17.5f, 30}, {NAN, 3}};
  for (int r = 0; r < 3; r++) {
    float c[3], m;
    cr_assert_eq(fr_forest_shap(f, rows[r], 1, c), 0);
    cr_assert_eq(fr_forest_predict_margin(f, rows[r], 1, &m), 0);
    cr_assert_float_eq(c[0] + c[1] + c[2], m, 1e-4, "row %d: %g + %g + %g vs %g", r, c[0],
                       c[1], c[2], m);
  }
  fr_forest_free(f);
}
