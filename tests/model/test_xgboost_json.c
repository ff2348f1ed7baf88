/* Tests src/model/xgboost_json.c: XGBoost JSON models load and predict what
 * XGBoost itself predicts (golden cases from
 * tests/fixtures/model/make_fixtures.py), base_score in every form, and
 * malformed files fail with a message instead of crashing. */
#include <criterion/criterion.h>
#include <math.h>

#include "fraud/model.h"
#include "model_case.h"

/* Probability tolerance of issue 2/4: 1e-6 absolute on every row. */
#define PROB_TOL 1e-6

static int objective_matches(const char *name, fr_objective o) {
  return strcmp(name, fr_objective_name(o)) == 0;
}

/* Every case of the directory: margins bit-identical to XGBoost's,
 * probabilities within 1e-6. */
Test(xgboost_json, parity_with_xgboost_predictions) {
  const char *dir = model_case_dir();
  json_t *names = model_case_names(dir);
  cr_assert_not_null(names, "no cases.json in %s", dir);
  size_t ncases = json_array_size(names);
  cr_assert_gt(ncases, 0);
  size_t rows = 0;
  for (size_t ci = 0; ci < ncases; ci++) {
    const char *name = json_string_value(json_array_get(names, ci));
    model_case c;
    cr_assert_eq(model_case_load(dir, name, &c), 0, "cannot read case %s", name);
    fr_error err;
    fr_forest *f = fr_forest_load(c.model_path, FR_FOREST_AUTO, &err);
    cr_assert_not_null(f, "%s: %s", name, err.msg);
    cr_assert_eq(fr_forest_nfeatures(f), c.nf, "%s", name);
    cr_assert_eq(fr_forest_noutputs(f), c.nout, "%s", name);
    cr_assert(objective_matches(c.objective, fr_forest_objective(f)),
              "%s: objective %s vs %s", name, c.objective,
              fr_objective_name(fr_forest_objective(f)));
    float *m = malloc(c.n * c.nout * sizeof(float));
    float *p = malloc(c.n * c.nout * sizeof(float));
    cr_assert_eq(fr_forest_predict_margin(f, c.x, c.n, m), 0);
    cr_assert_eq(fr_forest_predict(f, c.x, c.n, p), 0);
    double worst_m = 0, worst_p = 0;
    for (size_t i = 0; i < c.n * c.nout; i++) {
      double dm = fabs((double)m[i] - c.margin[i]);
      double dp = fabs((double)p[i] - c.pred[i]);
      if (dm > worst_m)
        worst_m = dm;
      if (dp > worst_p)
        worst_p = dp;
      cr_assert(dp <= PROB_TOL, "%s row %zu output %zu: prediction %.9g, XGBoost %.9g",
                name, i / c.nout, i % c.nout, p[i], c.pred[i]);
    }
    /* Margins: bit-identical.  Our sum is XGBoost's, in the same order and
     * precision, from the same float32 base margin. */
    for (size_t i = 0; i < c.n * c.nout; i++)
      cr_assert(m[i] == c.margin[i], "%s row %zu output %zu: margin %.9g, XGBoost %.9g", name,
                i / c.nout, i % c.nout, m[i], c.margin[i]);
    rows += c.n;
    cr_log_info("%s: %zu rows, %zu trees, max |margin diff| %.3g, max |prob diff| %.3g",
                name, c.n, fr_forest_ntrees(f), worst_m, worst_p);
    free(m);
    free(p);
    fr_forest_free(f);
    model_case_free(&c);
  }
  json_decref(names);
  cr_log_info("%zu cases, %zu rows", ncases, rows);
}

/* ---- base_score forms ------------------------------------------------- */

/* A one-stump binary:logistic model whose base_score text is `bs` (a JSON
 * value, e.g. "\"5E-1\"" or "\"[4E-1]\""). */
static char *stump_model(const char *objective, const char *bs) {
  static char buf[4096];
  snprintf(buf, sizeof buf,
           "{\"learner\":{\"feature_names\":[],\"feature_types\":[],"
           "\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\","
           "\"num_trees\":\"1\",\"size_leaf_vector\":\"0\"},\"tree_info\":[0],\"trees\":[{"
           "\"base_weights\":[0,0,0],\"categories\":[],\"categories_nodes\":[],"
           "\"categories_segments\":[],\"categories_sizes\":[],\"default_left\":[1,0,0],\"id\":0,"
           "\"left_children\":[1,-1,-1],\"loss_changes\":[1,0,0],\"parents\":[2147483647,0,0],"
           "\"right_children\":[2,-1,-1],\"split_conditions\":[5E-1,-1E0,1E0],"
           "\"split_indices\":[0,0,0],\"split_type\":[0,0,0],\"sum_hessian\":[4E0,2E0,2E0],"
           "\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"2\",\"num_nodes\":\"3\","
           "\"size_leaf_vector\":\"0\"}}]},\"name\":\"gbtree\"},"
           "\"learner_model_param\":{\"base_score\":%s,\"num_class\":\"0\",\"num_feature\":\"2\","
           "\"num_target\":\"1\"},\"objective\":{\"name\":\"%s\",\"reg_loss_param\":"
           "{\"scale_pos_weight\":\"1\"}}},\"version\":[1,7,4]}",
           bs, objective);
  return buf;
}

static fr_forest *load_text(const char *text, fr_error *err) {
  return fr_forest_load_buffer(text, strlen(text), FR_FOREST_AUTO, "test.json", err);
}

Test(xgboost_json, base_score_forms) {
  /* 1.x/2.x plain string, 3.x bracketed list, plain JSON number, spaces. */
  const char *forms[] = {"\"4E-1\"", "\"[4E-1]\"", "0.4", "\"[ 4E-1 ]\"", "\"0.4\""};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    fr_error err;
    fr_forest *f = load_text(stump_model("binary:logistic", forms[i]), &err);
    cr_assert_not_null(f, "%s: %s", forms[i], err.msg);
    /* ln(0.4 / 0.6) = -0.4054651 */
    cr_assert_float_eq(fr_forest_base_margin(f, 0), -0.405465108f, 1e-6, "%s", forms[i]);
    float x[2] = {0.0f, 0.0f}, m;
    fr_forest_predict_margin(f, x, 1, &m);
    cr_assert_float_eq(m, -0.405465108f - 1.0f, 1e-6);
    fr_forest_free(f);
  }
}

Test(xgboost_json, base_score_identity_for_regression) {
  fr_error err;
  fr_forest *f = load_text(stump_model("reg:squarederror", "\"[1.5E0]\""), &err);
  cr_assert_not_null(f, "%s", err.msg);
  cr_assert_eq(fr_forest_base_margin(f, 0), 1.5f);
  fr_forest_free(f);
}

Test(xgboost_json, malformed_base_score_is_an_error_not_zero) {
  const char *bad[] = {"\"\"", "\"[]\"", "\"abc\"", "\"[5E-1\"", "\"5E-1]\"",
                       "\"[5E-1,]\"", "\"5E-1,6E-1\"", "\"nan\"", "\"inf\"",
                       "null", "[0.5]", "\"1.5\"" /* not a probability */,
                       "\"0\"", "\"[0.5,0.5]\"" /* 2 values, 1 output */};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fr_error err;
    fr_forest *f = load_text(stump_model("binary:logistic", bad[i]), &err);
    cr_assert_null(f, "base_score %s should not load", bad[i]);
    cr_assert_eq(err.code, FR_EFORMAT, "%s", bad[i]);
    cr_assert(strstr(err.msg, "base_score") != NULL, "message names the field: %s", err.msg);
  }
}

Test(xgboost_json, unknown_objective_and_booster) {
  fr_error err;
  cr_assert_null(load_text(stump_model("rank:pairwise", "\"5E-1\""), &err));
  cr_assert(strstr(err.msg, "rank:pairwise") != NULL, "%s", err.msg);
  const char *lin = "{\"learner\":{\"gradient_booster\":{\"name\":\"gblinear\",\"model\":{}},"
                    "\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_feature\":\"2\"},"
                    "\"objective\":{\"name\":\"binary:logistic\"}}}";
  cr_assert_null(load_text(lin, &err));
  cr_assert(strstr(err.msg, "gblinear") != NULL, "%s", err.msg);
}

Test(xgboost_json, truncated_files_fail_cleanly) {
  const char *full = stump_model("binary:logistic", "\"5E-1\"");
  size_t len = strlen(full);
  /* Every prefix must fail with a message, never crash. */
  for (size_t cut = 0; cut < len; cut += 7) {
    fr_error err;
    fr_forest *f = fr_forest_load_buffer(full, cut, FR_FOREST_XGBOOST_JSON, "cut.json", &err);
    cr_assert_null(f, "prefix of %zu bytes loaded", cut);
    cr_assert_neq(err.code, 0);
    cr_assert(strstr(err.msg, "cut.json") != NULL, "%s", err.msg);
  }
}

/* Replaces the first occurrence of `from` in the stump model by `to`. */
static const char *patched(const char *from, const char *to) {
  static char out[8192];
  const char *base = stump_model("binary:logistic", "\"5E-1\"");
  const char *p = strstr(base, from);
  cr_assert_not_null(p, "pattern %s", from);
  snprintf(out, sizeof out, "%.*s%s%s", (int)(p - base), base, to, p + strlen(from));
  return out;
}

Test(xgboost_json, corrupt_trees_are_errors) {
  struct {
    const char *from, *to, *expect;
  } cases[] = {
      {"\"left_children\":[1,-1,-1]", "\"left_children\":[5,-1,-1]", "out of range"},
      {"\"left_children\":[1,-1,-1]", "\"left_children\":[0,-1,-1]", "twice"}, /* cycle */
      {"\"right_children\":[2,-1,-1]", "\"right_children\":[1,-1,-1]", "twice"},
      {"\"split_indices\":[0,0,0]", "\"split_indices\":[7,0,0]", "feature index"},
      {"\"split_indices\":[0,0,0]", "\"split_indices\":[-1,0,0]", "feature"},
      {"\"left_children\":[1,-1,-1]", "\"left_children\":[1,-1]", "entries"},
      {"\"split_conditions\":[5E-1,-1E0,1E0]", "\"split_conditions\":[5E-1,NaN,1E0]", "leaf"},
      {"\"split_conditions\":[5E-1,-1E0,1E0]", "\"split_conditions\":[\"x\",-1E0,1E0]",
       "split_conditions"},
      {"\"tree_info\":[0]", "\"tree_info\":[3]", "tree_info"},
      {"\"tree_info\":[0]", "\"tree_info\":[]", "tree_info"},
      {"\"num_feature\":\"2\",\"num_target\"", "\"num_feature\":\"0\",\"num_target\"",
       "num_feature"},
      {"\"split_type\":[0,0,0]", "\"split_type\":[2,0,0]", "split type"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fr_error err;
    fr_forest *f = load_text(patched(cases[i].from, cases[i].to), &err);
    cr_assert_null(f, "case %zu (%s) loaded", i, cases[i].to);
    cr_assert_eq(err.code, FR_EFORMAT, "case %zu: %s", i, err.msg);
    cr_assert(strstr(err.msg, cases[i].expect) != NULL, "case %zu: '%s' lacks '%s'", i,
              err.msg, cases[i].expect);
  }
}

Test(xgboost_json, nonfinite_tokens_outside_strings_only) {
  /* "NaN" inside a feature name is text, not a number. */
  const char *text = patched("\"feature_names\":[]", "\"feature_names\":[\"NaN\",\"Infinity\"]");
  fr_error err;
  fr_forest *f = load_text(text, &err);
  cr_assert_not_null(f, "%s", err.msg);
  cr_assert_str_eq(fr_forest_feature_name(f, 0), "NaN");
  cr_assert_str_eq(fr_forest_feature_name(f, 1), "Infinity");
  fr_forest_free(f);
}
