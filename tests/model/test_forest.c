/* Tests src/model/forest.c and predict.c: XGBoost's prediction semantics on
 * hand-built models whose outputs are worked out by hand (threshold
 * equality, NaN default direction, 0.0, +-inf, base_score, sigmoid), the
 * compiled layout (deep trees, deleted nodes), and the predict API's edge
 * cases. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fraud/model.h"

/* ---- a tiny XGBoost JSON writer for hand-made models ------------------ */

typedef struct hnode {
  int left, right; /* -1 for leaves */
  int feature;
  const char *cond; /* threshold or leaf value, as XGBoost would print it */
  int default_left;
} hnode;

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
    va_end(ap);
    if ((size_t)n < *cap - *len) {
      *len += (size_t)n;
      return;
    }
    *cap = *cap * 2 + (size_t)n;
    *buf = realloc(*buf, *cap);
  }
}

/* JSON text of a gbtree model with `ntrees` trees; tree t has sizes[t]
 * nodes in trees[t] and adds to group groups[t] (NULL: all 0). */
static char *model_json(const char *objective, const char *base_score,
                        int nfeat, int nclass, size_t ntrees,
                        const hnode *const *trees, const size_t *sizes,
                        const int *groups) {
  size_t cap = 1 << 16, len = 0;
  char *b = malloc(cap);
  b[0] = 0;
  append(&b, &len, &cap,
         "{\"learner\":{\"feature_names\":[],\"feature_types\":[],\"gradient_booster\":"
         "{\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\",\"num_trees\":"
         "\"%zu\",\"size_leaf_vector\":\"0\"},\"tree_info\":[",
         ntrees);
  for (size_t t = 0; t < ntrees; t++)
    append(&b, &len, &cap, "%s%d", t ? "," : "", groups ? groups[t] : 0);
  append(&b, &len, &cap, "],\"trees\":[");
  for (size_t t = 0; t < ntrees; t++) {
    const hnode *n = trees[t];
    size_t k = sizes[t];
    const char *keys[] = {"left_children", "right_children", "split_indices",
                          "default_left", "split_conditions", "sum_hessian"};
    append(&b, &len, &cap, "%s{", t ? "," : "");
    for (int a = 0; a < 6; a++) {
      append(&b, &len, &cap, "\"%s\":[", keys[a]);
      for (size_t i = 0; i < k; i++) {
        const char *sep = i ? "," : "";
        switch (a) {
        case 0: append(&b, &len, &cap, "%s%d", sep, n[i].left); break;
        case 1: append(&b, &len, &cap, "%s%d", sep, n[i].right); break;
        case 2: append(&b, &len, &cap, "%s%d", sep, n[i].feature); break;
        case 3: append(&b, &len, &cap, "%s%d", sep, n[i].default_left); break;
        case 4: append(&b, &len, &cap, "%s%s", sep, n[i].cond); break;
        case 5: append(&b, &len, &cap, "%s1", sep); break;
        }
      }
      append(&b, &len, &cap, "],");
    }
    append(&b, &len, &cap, "\"id\":%zu,\"tree_param\":{\"num_nodes\":\"%zu\","
                           "\"num_feature\":\"%d\",\"size_leaf_vector\":\"0\"}}",
           t, k, nfeat);
  }
  append(&b, &len, &cap,
         "]},\"name\":\"gbtree\"},\"learner_model_param\":{\"base_score\":\"%s\","
         "\"num_class\":\"%d\",\"num_feature\":\"%d\",\"num_target\":\"1\"},"
         "\"objective\":{\"name\":\"%s\"}},\"version\":[1,7,4]}",
         base_score, nclass, nfeat, objective);
  return b;
}

static fr_forest *load(char *json) {
  fr_error err;
  fr_forest *f = fr_forest_load_buffer(json, strlen(json), FR_FOREST_AUTO, "hand.json", &err);
  cr_assert_not_null(f, "%s", err.msg);
  free(json);
  return f;
}

/* x0 < 0.5 ? -1 : +1 (XGBoost prints 0.5 as 5E-1), NaN default as given. */
static fr_forest *stump(int default_left, const char *thr) {
  hnode t[3] = {{1, 2, 0, thr, default_left}, {-1, -1, 0, "-1E0", 0}, {-1, -1, 0, "1E0", 0}};
  const hnode *trees[] = {t};
  size_t sizes[] = {3};
  return load(model_json("reg:squarederror", "0E0", 2, 0, 1, trees, sizes, NULL));
}

static float margin1(const fr_forest *f, float x0, float x1) {
  float x[2] = {x0, x1}, m = NAN;
  cr_assert_eq(fr_forest_predict_margin(f, x, 1, &m), 0);
  return m;
}

Test(forest, value_equal_to_threshold_goes_right) {
  fr_forest *f = stump(1, "5E-1");
  cr_assert_eq(margin1(f, 0.5f, 0), 1.0f, "x == threshold must go right (x < t is false)");
  cr_assert_eq(margin1(f, nextafterf(0.5f, 0.0f), 0), -1.0f, "just below goes left");
  cr_assert_eq(margin1(f, nextafterf(0.5f, 1.0f), 0), 1.0f);
  fr_forest_free(f);
}

Test(forest, threshold_is_rounded_to_float32) {
  /* XGBoost stores 0.1 as the float 0.100000001490116...; a feature value
   * equal to that float goes right, the float below it left. */
  fr_forest *f = stump(1, "1E-1");
  cr_assert_eq(margin1(f, 0.1f, 0), 1.0f);
  cr_assert_eq(margin1(f, nextafterf(0.1f, 0.0f), 0), -1.0f);
  fr_forest_free(f);
}

Test(forest, nan_follows_default_direction) {
  fr_forest *l = stump(1, "5E-1"), *r = stump(0, "5E-1");
  cr_assert_eq(margin1(l, NAN, 0), -1.0f, "default_left=1: NaN goes left");
  cr_assert_eq(margin1(r, NAN, 0), 1.0f, "default_left=0: NaN goes right");
  cr_assert_eq(margin1(r, -NAN, 0), 1.0f, "the sign of NaN does not matter");
  fr_forest_free(l);
  fr_forest_free(r);
}

Test(forest, zero_is_an_ordinary_value) {
  /* 0.0 < 0.5 goes left even when NaN would go right; at a threshold of 0,
   * 0.0 and -0.0 go right (neither is < 0). */
  fr_forest *f = stump(0, "5E-1");
  cr_assert_eq(margin1(f, 0.0f, 0), -1.0f);
  fr_forest_free(f);
  f = stump(1, "0E0");
  cr_assert_eq(margin1(f, 0.0f, 0), 1.0f);
  cr_assert_eq(margin1(f, -0.0f, 0), 1.0f);
  cr_assert_eq(margin1(f, -FLT_MIN, 0), -1.0f);
  fr_forest_free(f);
}

Test(forest, infinities_are_ordinary_floats) {
  /* Documented behaviour (docs/forest.md): as in XGBoost, +inf is larger
   * than every finite threshold and -inf smaller; neither is missing. */
  fr_forest *f = stump(1, "5E-1");
  cr_assert_eq(margin1(f, INFINITY, 0), 1.0f);
  cr_assert_eq(margin1(f, -INFINITY, 0), -1.0f);
  cr_assert_eq(margin1(f, FLT_MAX, 0), 1.0f);
  fr_forest_free(f);
  /* An infinite threshold: +inf is not < +inf, so it goes right. */
  f = stump(1, "Infinity");
  cr_assert_eq(margin1(f, FLT_MAX, 0), -1.0f);
  cr_assert_eq(margin1(f, INFINITY, 0), 1.0f);
  fr_forest_free(f);
}

Test(forest, base_score_04_starts_at_its_logit) {
  hnode t[1] = {{-1, -1, 0, "0E0", 0}};
  const hnode *trees[] = {t};
  size_t sizes[] = {1};
  fr_forest *f = load(model_json("binary:logistic", "4E-1", 1, 0, 1, trees, sizes, NULL));
  float x = 0, m, p;
  fr_forest_predict_margin(f, &x, 1, &m);
  fr_forest_predict(f, &x, 1, &p);
  /* ln(0.4 / 0.6) = -0.405465108... */
  cr_assert_float_eq(m, -0.405465108f, 1e-7);
  cr_assert_float_eq(p, 0.4f, 1e-7);
  fr_forest_free(f);
}

Test(forest, sigmoid_is_stable) {
  /* 1/(1+exp(17.31)) = 3.03643e-8 (exp(17.31) = 3.29334e7): the small
   * tail keeps its relative precision. */
  float p = fr_sigmoid(-17.31f);
  cr_assert_float_eq(p, 3.03643e-8f, 0.00001e-8, "sigmoid(-17.31) = %g", p);
  cr_assert_eq(fr_sigmoid(0.0f), 0.5f);
  cr_assert_float_eq(fr_sigmoid(2.0f), 0.880797078f, 1e-7);
  cr_assert_float_eq(fr_sigmoid(-2.0f), 0.119202922f, 1e-8);
  /* Far tails: exp(-80) = 1.8e-35 is still a float; 1 at +80; no NaN. */
  cr_assert_float_eq(fr_sigmoid(-80.0f), 1.80485e-35f, 0.0001e-35);
  cr_assert_eq(fr_sigmoid(80.0f), 1.0f);
  cr_assert_eq(fr_sigmoid(-INFINITY), 0.0f);
  cr_assert_eq(fr_sigmoid(INFINITY), 1.0f);
  cr_assert(isnan(fr_sigmoid(NAN)));
}

/* Two-level tree, hand computed:
 *         x0 < 1 (NaN right)
 *        /                   \
 *   x1 < 2 (NaN left)        leaf 0.25
 *    /       \
 * -0.5      0.125
 */
static const hnode two_level[] = {{1, 2, 0, "1E0", 0},
                                  {3, 4, 1, "2E0", 1},
                                  {-1, -1, 0, "2.5E-1", 0},
                                  {-1, -1, 0, "-5E-1", 0},
                                  {-1, -1, 0, "1.25E-1", 0}};

Test(forest, hand_computed_two_level_tree) {
  const hnode *trees[] = {two_level, two_level};
  size_t sizes[] = {5, 5};
  fr_forest *f = load(model_json("binary:logistic", "5E-1", 2, 0, 2, trees, sizes, NULL));
  cr_assert_eq(fr_forest_max_depth(f), 2);
  struct {
    float x0, x1, margin;
  } rows[] = {
      {0, 0, -1.0f},      /* left, left, twice */
      {0, 2, 0.25f},      /* left, x1 == 2 goes right */
      {0, NAN, -1.0f},    /* NaN at node 1 goes left */
      {NAN, 0, 0.5f},     /* NaN at the root goes right */
      {1, NAN, 0.5f},     /* x0 == 1 goes right */
      {-INFINITY, INFINITY, 0.25f},
  };
  size_t n = sizeof rows / sizeof rows[0];
  float x[12], m[6], p[6];
  for (size_t i = 0; i < n; i++) {
    x[2 * i] = rows[i].x0;
    x[2 * i + 1] = rows[i].x1;
  }
  cr_assert_eq(fr_forest_predict_margin(f, x, n, m), 0);
  cr_assert_eq(fr_forest_predict(f, x, n, p), 0);
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(m[i], rows[i].margin, "row %zu: %g", i, m[i]);
    cr_assert_float_eq(p[i], 1.0 / (1.0 + exp(-rows[i].margin)), 1e-7);
    /* one row at a time takes the single-row path: same numbers */
    float m1;
    fr_forest_predict_margin(f, x + 2 * i, 1, &m1);
    cr_assert_eq(m1, m[i]);
  }
  fr_forest_free(f);
}

Test(forest, multiclass_groups_and_softmax) {
  /* Three classes, one stump each (tree_info 0,1,2) then a second round:
   * class margins are sums over their own trees only. */
  hnode a[3] = {{1, 2, 0, "0E0", 1}, {-1, -1, 0, "1E0", 0}, {-1, -1, 0, "2E0", 0}};
  hnode b[1] = {{-1, -1, 0, "5E-1", 0}};
  hnode c[1] = {{-1, -1, 0, "-5E-1", 0}};
  const hnode *trees[] = {a, b, c, a, b, c};
  size_t sizes[] = {3, 1, 1, 3, 1, 1};
  int groups[] = {0, 1, 2, 0, 1, 2};
  fr_forest *f =
      load(model_json("multi:softprob", "5E-1", 1, 3, 6, trees, sizes, groups));
  cr_assert_eq(fr_forest_noutputs(f), 3);
  float x[2] = {-1.0f, 1.0f}, m[6], p[6];
  cr_assert_eq(fr_forest_predict_margin(f, x, 2, m), 0);
  /* base 0.5 (identity for softprob) + two trees */
  float want[6] = {2.5f, 1.5f, -0.5f, 4.5f, 1.5f, -0.5f};
  for (int i = 0; i < 6; i++)
    cr_assert_eq(m[i], want[i], "output %d: %g", i, m[i]);
  fr_forest_predict(f, x, 2, p);
  double z = exp(2.5) + exp(1.5) + exp(-0.5);
  cr_assert_float_eq(p[0], exp(2.5) / z, 1e-7);
  cr_assert_float_eq(p[1], exp(1.5) / z, 1e-7);
  cr_assert_float_eq(p[2], exp(-0.5) / z, 1e-7);
  cr_assert_float_eq(p[3] + p[4] + p[5], 1.0f, 1e-6);
  fr_forest_free(f);
}

Test(forest, very_deep_tree) {
  /* A chain 20000 splits deep: node 2k tests x0 < k, goes left to leaf
   * 2k+1 (value k), right to 2k+2.  x0 = 1234.5 ends in leaf 1235. */
  size_t depth = 20000, nn = 2 * depth + 1;
  hnode *t = calloc(nn, sizeof *t);
  char(*conds)[32] = calloc(nn, 32);
  for (size_t k = 0; k < depth; k++) {
    snprintf(conds[2 * k], 32, "%zu", k);
    t[2 * k] = (hnode){(int)(2 * k + 1), (int)(2 * k + 2), 0, conds[2 * k], 1};
    snprintf(conds[2 * k + 1], 32, "%zu", k);
    t[2 * k + 1] = (hnode){-1, -1, 0, conds[2 * k + 1], 0};
  }
  snprintf(conds[nn - 1], 32, "-1");
  t[nn - 1] = (hnode){-1, -1, 0, conds[nn - 1], 0};
  const hnode *trees[] = {t};
  size_t sizes[] = {nn};
  fr_forest *f = load(model_json("reg:squarederror", "0E0", 1, 0, 1, trees, sizes, NULL));
  cr_assert_eq(fr_forest_max_depth(f), depth);
  float x[3] = {1234.5f, 0.0f, 1e9f}, m[3];
  cr_assert_eq(fr_forest_predict_margin(f, x, 3, m), 0);
  cr_assert_eq(m[0], 1235.0f);
  cr_assert_eq(m[1], 1.0f); /* 0 < 0 false, 0 < 1 true: leaf of k=1 */
  cr_assert_eq(m[2], -1.0f);
  fr_forest_free(f);
  free(t);
  free(conds);
}

Test(forest, unreachable_nodes_are_dropped) {
  /* Node 3 and 4 are "deleted" (not reachable from the root). */
  hnode t[5] = {{1, 2, 0, "0E0", 1},
                {-1, -1, 0, "1E0", 0},
                {-1, -1, 0, "2E0", 0},
                {-1, -1, 0, "7E0", 0},
                {-1, -1, 0, "8E0", 0}};
  const hnode *trees[] = {t};
  size_t sizes[] = {5};
  fr_forest *f = load(model_json("reg:squarederror", "0E0", 1, 0, 1, trees, sizes, NULL));
  cr_assert_eq(fr_forest_nnodes(f), 3);
  fr_forest_free(f);
}

Test(forest, many_trees_batch_equals_single_rows) {
  /* 37 trees (not a multiple of the 8-tree lock-step) x 29 rows (not a
   * multiple of the 8-row blocks): the batch and single-row paths must
   * give identical margins. */
  enum { T = 37, N = 29 };
  const hnode *trees[T];
  size_t sizes[T];
  for (int t = 0; t < T; t++) {
    trees[t] = two_level;
    sizes[t] = 5;
  }
  fr_forest *f = load(model_json("binary:logistic", "3E-1", 2, 0, T, trees, sizes, NULL));
  float x[2 * N], m[N];
  for (int i = 0; i < N; i++) {
    x[2 * i] = (float)(i % 5) * 0.5f - 0.5f;
    x[2 * i + 1] = (i % 7 == 0) ? NAN : (float)(i % 4);
  }
  fr_forest_predict_margin(f, x, N, m);
  for (int i = 0; i < N; i++) {
    float m1;
    fr_forest_predict_margin(f, x + 2 * i, 1, &m1);
    cr_assert_eq(m1, m[i], "row %d", i);
  }
  fr_forest_free(f);
}

Test(forest, predict_argument_errors) {
  fr_forest *f = stump(1, "5E-1");
  float x[2] = {0, 0}, m;
  cr_assert_eq(fr_forest_predict_margin(NULL, x, 1, &m), FR_EINVAL);
  cr_assert_eq(fr_forest_predict_margin(f, NULL, 1, &m), FR_EINVAL);
  cr_assert_eq(fr_forest_predict_margin(f, x, 1, NULL), FR_EINVAL);
  cr_assert_eq(fr_forest_predict(f, NULL, 1, &m), FR_EINVAL);
  cr_assert_eq(fr_forest_predict_margin(f, NULL, 0, NULL), 0, "n = 0 is a no-op");
  fr_forest_free(f);
  fr_forest_free(NULL);
}

Test(forest, load_errors_name_the_file) {
  fr_error err;
  cr_assert_null(fr_forest_load("/nonexistent/model.json", FR_FOREST_AUTO, &err));
  cr_assert_eq(err.code, FR_EIO);
  cr_assert(strstr(err.msg, "/nonexistent/model.json") != NULL, "%s", err.msg);
  cr_assert_null(fr_forest_load_buffer("hello", 5, FR_FOREST_AUTO, "x.bin", &err));
  cr_assert_eq(err.code, FR_EFORMAT);
  cr_assert(strstr(err.msg, "x.bin") != NULL, "%s", err.msg);
  cr_assert_null(fr_forest_load_buffer("", 0, FR_FOREST_AUTO, "empty", &err));
  cr_assert_null(fr_forest_load_buffer("{}", 2, FR_FOREST_AUTO, "empty", NULL),
                 "a NULL error record is allowed");
}

Test(forest, format_names_round_trip) {
  fr_forest_format fmts[] = {FR_FOREST_AUTO, FR_FOREST_XGBOOST_JSON, FR_FOREST_LIGHTGBM_TEXT,
                             FR_FOREST_ONNX};
  for (size_t i = 0; i < 4; i++) {
    fr_forest_format back;
    cr_assert_eq(fr_forest_format_parse(fr_forest_format_name(fmts[i]), &back), 0);
    cr_assert_eq(back, fmts[i]);
  }
  fr_forest_format out;
  cr_assert_eq(fr_forest_format_parse("pmml", &out), FR_EINVAL);
}
