/*
 * test_trainer.c - fr_train_xgboost against python-xgboost 1.7.4 trained by
 * generate.py with the same parameters on the same rows (same libxgboost, so
 * the trees must agree): best iteration, rounds run, validation aucpr and the
 * truncated model's predictions; without early stopping, every tree kept
 * and the whole model's predictions.  Also: byte-identical JSON for a seed,
 * progress and cancellation, parameter and label refusals, the missing
 * library message.  The model and its C-API predictions are left in
 * $FRAUD_BUILD_DIR/train-fixture/ for check_model.py, which loads the same
 * JSON in python-xgboost (ctest fixture "train_model").
 */
#include <criterion/criterion.h>
#include <sys/stat.h>

#include "fraud/train.h"
#include "train_fixture.h"

/* The parameters of generate.py's PARAMS. */
static void fixture_params(fr_train_params *p) {
  fr_train_params_default(p);
  p->n_estimators = 60;
  p->early_stopping_rounds = 10;
  p->max_depth = 4;
  p->eta = 0.2;
  p->min_child_weight = 1;
  p->subsample = 0.8;
  p->colsample_bytree = 0.8;
  p->lambda = 1;
  p->alpha = 0;
  p->gamma = 0;
  p->max_bin = 64;
  p->tree_method = "hist";
  p->nthread = 1;
  p->seed = 7;
}

static fr_table *g_t;
static fr_split g_s;

static void setup(void) {
  g_t = fx_table_load();
  cr_assert(g_t, "table.csv missing");
  cr_assert_eq(fr_split_by_time(g_t, 0.2, 0.2, &g_s, NULL), 0);
}
static void teardown(void) { fx_table_free(g_t); }

static void write_file(const char *dir, const char *name, const void *data,
                       size_t len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  cr_assert_eq(fr_file_write_atomic(path, data, len, NULL), 0, "%s", path);
}

Test(trainer, matches_python_xgboost, .init = setup, .fini = teardown) {
  json_t *j = fx_json("train/trainer.json");
  cr_assert(j);
  fr_train_params p;
  fixture_params(&p);
  char *model = NULL;
  size_t len = 0;
  fr_train_result res;
  fr_error err = {0};
  cr_assert_eq(fr_train_xgboost(g_t, &g_s, &p, &model, &len, &res, &err), 0,
               "%s", err.msg);
  cr_expect_str_eq(res.xgboost_version,
                   json_string_value(json_object_get(j, "xgboost_version")));
  cr_expect_eq(res.scale_pos_weight,
               fx_num(json_object_get(j, "scale_pos_weight")));
  cr_expect_eq(res.best_iteration,
               json_integer_value(json_object_get(j, "best_iteration")));
  cr_expect_eq(res.rounds_run,
               json_integer_value(json_object_get(j, "rounds_run")));
  cr_expect(fx_close(res.best_valid_aucpr,
                     fx_num(json_object_get(j, "best_valid_aucpr")), 1e-6),
            "valid aucpr %.17g vs python %.17g", res.best_valid_aucpr,
            fx_num(json_object_get(j, "best_valid_aucpr")));

  /* The returned model holds best_iteration + 1 trees and the names. */
  json_t *mj = json_loadb(model, len, 0, NULL);
  cr_assert(mj, "model is not JSON");
  json_t *gbm = json_object_get(
      json_object_get(json_object_get(mj, "learner"), "gradient_booster"),
      "model");
  cr_expect_eq(json_array_size(json_object_get(gbm, "trees")),
               (size_t)res.best_iteration + 1);
  json_t *names = json_object_get(json_object_get(mj, "learner"),
                                  "feature_names");
  cr_expect_eq(json_array_size(names), g_t->cols);
  cr_expect_str_eq(json_string_value(json_array_get(names, 0)), "amount");
  json_decref(mj);

  /* Predictions of the cut model (by XGBoost's C API) equal python's. */
  const char *slices[2] = {"valid_pred", "test_pred"};
  size_t from[2] = {g_s.train_end, g_s.valid_end};
  size_t to[2] = {g_s.valid_end, g_t->rows};
  float *test_pred = NULL;
  for (int k = 0; k < 2; k++) {
    size_t n, rows = to[k] - from[k];
    float *want = fx_floats(json_object_get(j, slices[k]), &n);
    cr_assert_eq(n, rows);
    float *got = malloc(rows * sizeof *got);
    cr_assert_eq(fr_xgboost_predict(model, len, g_t->x + from[k] * g_t->cols,
                                    rows, g_t->cols, 1, got, &err),
                 0, "%s", err.msg);
    size_t bad = 0;
    for (size_t i = 0; i < rows; i++)
      bad += !(fabsf(got[i] - want[i]) <= 1e-6f);
    cr_expect_eq(bad, 0, "%s: %zu of %zu predictions differ from python",
                 slices[k], bad, rows);
    if (k == 0) {
      /* Validation PR-AUC (average precision) of the C model's scores equals
       * sklearn's on python's scores. */
      fr_metrics m;
      cr_assert_eq(fr_metrics_compute(g_t->y + from[k], got, rows, 0.5, &m,
                                      &err),
                   0, "%s", err.msg);
      double ap = fx_num(json_object_get(j, "valid_average_precision"));
      cr_expect(fx_close(m.pr_auc, ap, 1e-9), "AP %.17g vs sklearn %.17g",
                m.pr_auc, ap);
      free(got);
    } else {
      test_pred = got;
    }
    free(want);
  }

  /* Leave the model for check_model.py (ctest fixture train_model). */
  const char *bd = getenv("FRAUD_BUILD_DIR");
  if (bd) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/train-fixture", bd);
    cr_assert_eq(fr_mkdir_p(dir, NULL), 0);
    write_file(dir, "model.json", model, len);
    size_t rows = g_t->rows - g_s.valid_end;
    char *csv = malloc(rows * 40 + 64), *w = csv;
    w += sprintf(w, "row,prediction\n");
    for (size_t i = 0; i < rows; i++) {
      char b[32];
      fr_fmt_float(b, sizeof b, test_pred[i]);
      w += sprintf(w, "%zu,%s\n", g_s.valid_end + i, b);
    }
    write_file(dir, "c_predictions.csv", csv, (size_t)(w - csv));
    free(csv);
  }
  free(test_pred);
  free(model);
  json_decref(j);
}

/* Trees in an XGBoost JSON model text. */
static size_t model_trees(const char *model, size_t len) {
  json_t *mj = json_loadb(model, len, 0, NULL);
  cr_assert(mj, "model is not JSON");
  json_t *gbm = json_object_get(
      json_object_get(json_object_get(mj, "learner"), "gradient_booster"),
      "model");
  size_t n = json_array_size(json_object_get(gbm, "trees"));
  json_decref(mj);
  return n;
}

/* Early stopping off: python-xgboost's xgb.train without
 * early_stopping_rounds keeps all 60 rounds although the validation aucpr
 * peaks at round 51; so must we (a model cut to best_iteration + 1 = 52
 * trees would predict differently). */
Test(trainer, early_stopping_off_keeps_every_tree, .init = setup,
     .fini = teardown) {
  json_t *root = fx_json("train/trainer.json");
  json_t *all = json_object_get(root, "no_early_stopping");
  cr_assert(all, "trainer.json has no no_early_stopping case");
  fr_train_params p;
  fixture_params(&p);
  p.early_stopping_rounds = 0;
  cr_assert_eq(p.n_estimators,
               json_integer_value(json_object_get(all, "n_estimators")));
  char *model = NULL;
  size_t len = 0;
  fr_train_result res;
  fr_error err = {0};
  cr_assert_eq(fr_train_xgboost(g_t, &g_s, &p, &model, &len, &res, &err), 0,
               "%s", err.msg);
  int want_trees = (int)json_integer_value(json_object_get(all, "trees"));
  cr_expect_eq(want_trees, p.n_estimators);
  cr_expect_eq(res.trees, want_trees);
  cr_expect_eq(res.rounds_run, p.n_estimators);
  cr_expect_eq(model_trees(model, len), (size_t)want_trees);
  /* The best round is still reported, and is not the last one here, so the
   * case does tell a cut model from a whole one. */
  int best = (int)json_integer_value(json_object_get(all, "best_iteration"));
  cr_expect_eq(res.best_iteration, best);
  cr_expect_lt(best + 1, p.n_estimators);
  cr_expect(fx_close(res.best_valid_aucpr,
                     fx_num(json_object_get(all, "best_valid_aucpr")), 1e-6));

  const char *slices[2] = {"valid_pred", "test_pred"};
  size_t from[2] = {g_s.train_end, g_s.valid_end};
  size_t to[2] = {g_s.valid_end, g_t->rows};
  for (int k = 0; k < 2; k++) {
    size_t n, rows = to[k] - from[k];
    float *want = fx_floats(json_object_get(all, slices[k]), &n);
    cr_assert_eq(n, rows);
    float *got = malloc(rows * sizeof *got);
    cr_assert_eq(fr_xgboost_predict(model, len, g_t->x + from[k] * g_t->cols,
                                    rows, g_t->cols, 1, got, &err),
                 0, "%s", err.msg);
    size_t bad = 0;
    for (size_t i = 0; i < rows; i++)
      bad += !(fabsf(got[i] - want[i]) <= 1e-6f);
    cr_expect_eq(bad, 0, "%s: %zu of %zu predictions differ from python",
                 slices[k], bad, rows);
    free(got);
    free(want);
  }

  /* Early stopping on keeps best_iteration + 1 trees, and says so. */
  free(model);
  fixture_params(&p);
  cr_assert_eq(fr_train_xgboost(g_t, &g_s, &p, &model, &len, &res, &err), 0,
               "%s", err.msg);
  cr_expect_eq(res.trees, res.best_iteration + 1);
  cr_expect_eq(model_trees(model, len), (size_t)res.trees);
  free(model);
  json_decref(root);
}

Test(trainer, deterministic_for_a_seed, .init = setup, .fini = teardown) {
  fr_train_params p;
  fixture_params(&p);
  p.n_estimators = 15;
  char *a = NULL, *b = NULL, *c = NULL;
  size_t la, lb, lc;
  fr_error err = {0};
  cr_assert_eq(fr_train_xgboost(g_t, &g_s, &p, &a, &la, NULL, &err), 0, "%s",
               err.msg);
  cr_assert_eq(fr_train_xgboost(g_t, &g_s, &p, &b, &lb, NULL, &err), 0, "%s",
               err.msg);
  cr_expect(la == lb && memcmp(a, b, la) == 0,
            "same seed, different JSON");
  p.seed = 8; /* subsampling differs: so must the trees */
  cr_assert_eq(fr_train_xgboost(g_t, &g_s, &p, &c, &lc, NULL, &err), 0, "%s",
               err.msg);
  cr_expect(la != lc || memcmp(a, c, la) != 0, "seed ignored");
  free(a);
  free(b);
  free(c);
}

typedef struct prog {
  int calls, stop_at, last_it;
  int saw_train;
} prog;

static int on_round(const fr_train_progress *pr, void *ctx) {
  prog *g = ctx;
  g->calls++;
  g->last_it = pr->iteration;
  g->saw_train += !isnan(pr->train_aucpr) && pr->train_aucpr > 0;
  cr_expect(pr->best_iteration <= pr->iteration);
  cr_expect(pr->elapsed >= 0);
  return pr->iteration == g->stop_at;
}

Test(trainer, progress_and_stop, .init = setup, .fini = teardown) {
  fr_train_params p;
  fixture_params(&p);
  prog g = {0, 5, -1, 0};
  p.progress = on_round;
  p.progress_ctx = &g;
  p.eval_train = 1;
  char *m = NULL;
  size_t len;
  fr_train_result res;
  fr_error err = {0};
  cr_assert_eq(fr_train_xgboost(g_t, &g_s, &p, &m, &len, &res, &err), 0, "%s",
               err.msg);
  cr_expect_eq(g.calls, 6);
  cr_expect_eq(res.rounds_run, 6);
  cr_expect_eq(g.saw_train, 6);
  cr_expect_leq(res.best_iteration, 5);
  free(m);
}

Test(trainer, refuses_bad_labels_and_params, .init = setup,
     .fini = teardown) {
  fr_train_params p;
  fixture_params(&p);
  char *m = NULL;
  fr_error err = {0};
  p.eta = 0;
  cr_expect_eq(fr_train_xgboost(g_t, &g_s, &p, &m, NULL, NULL, &err),
               FR_EINVAL);
  cr_expect(strstr(err.msg, "eta"), "%s", err.msg);
  fixture_params(&p);
  p.tree_method = "gpu_magic";
  cr_expect_eq(fr_train_xgboost(g_t, &g_s, &p, &m, NULL, NULL, &err),
               FR_EINVAL);
  cr_expect(strstr(err.msg, "gpu_magic"), "%s", err.msg);
  fixture_params(&p);
  p.subsample = 1.5;
  cr_expect_eq(fr_train_xgboost(g_t, &g_s, &p, &m, NULL, NULL, &err),
               FR_EINVAL);
  cr_expect(strstr(err.msg, "subsample"), "%s", err.msg);
  fixture_params(&p);

  /* A label that is neither 0 nor 1, named with its row. */
  float keep = g_t->y[10];
  g_t->y[10] = 2;
  cr_expect_eq(fr_train_xgboost(g_t, &g_s, &p, &m, NULL, NULL, &err),
               FR_EDATA);
  cr_expect(strstr(err.msg, "row 10") && strstr(err.msg, "label 2"), "%s",
            err.msg);
  g_t->y[10] = keep;

  /* Every training label 0: PR-AUC is undefined. */
  float *ys = malloc(g_s.train_end * sizeof *ys);
  memcpy(ys, g_t->y, g_s.train_end * sizeof *ys);
  for (size_t i = 0; i < g_s.train_end; i++)
    g_t->y[i] = 0;
  cr_expect_eq(fr_train_xgboost(g_t, &g_s, &p, &m, NULL, NULL, &err),
               FR_EDATA);
  cr_expect(strstr(err.msg, "every label in the training slice is 0") &&
                strstr(err.msg, "PR-AUC is undefined"),
            "%s", err.msg);
  memcpy(g_t->y, ys, g_s.train_end * sizeof *ys);
  free(ys);

  fr_split bad = g_s;
  bad.valid_end = g_t->rows + 1;
  cr_expect_eq(fr_train_xgboost(g_t, &bad, &p, &m, NULL, NULL, &err),
               FR_EINVAL);
  cr_expect_null(m);
}

Test(trainer, xgboost_errors_are_copied) {
  const char junk[] = "{\"learner\": 12}";
  float x[2] = {1, 2}, out[1];
  fr_error err = {0};
  cr_expect_eq(fr_xgboost_predict(junk, sizeof junk - 1, x, 1, 2, 1, out, &err),
               FR_EINVAL);
  cr_expect(strstr(err.msg, "xgboost: XGBoosterLoadModelFromBuffer failed: ") &&
                strlen(err.msg) > 50,
            "%s", err.msg);
}

Test(trainer, missing_library_names_the_package) {
  /* Criterion runs each test in its own process, so this process has not
   * loaded libxgboost yet. */
  setenv("FRAUD_XGBOOST_LIBRARY", "/nonexistent/libxgboost.so.0", 1);
  char v[32];
  fr_error err = {0};
  cr_expect_eq(fr_xgboost_version(v, sizeof v, &err), FR_EDEP);
  cr_expect(strstr(err.msg, "fraud train needs libxgboost (apt-get install "
                            "libxgboost0)"),
            "%s", err.msg);
}

Test(trainer, params_json) {
  fr_train_params p;
  fr_train_params_default(&p);
  p.eta = 0.1;
  p.seed = 12345678901234ULL;
  char *s = fr_train_params_json(&p);
  json_t *j = json_loads(s, 0, NULL);
  cr_assert(j, "%s", s);
  cr_expect_eq(json_number_value(json_object_get(j, "eta")), 0.1);
  cr_expect_eq(json_integer_value(json_object_get(j, "n_estimators")), 500);
  cr_expect_eq(json_integer_value(json_object_get(j, "seed")),
               12345678901234LL);
  cr_expect_str_eq(json_string_value(json_object_get(j, "tree_method")),
                   "hist");
  cr_expect(strstr(s, "\"eta\":0.1,"), "%s", s);
  json_decref(j);
  free(s);
}
