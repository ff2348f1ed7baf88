/*
 * test_params.c - training parameters from a YAML (or JSON) file: only the
 * keys given change, every key of fr_train_params_json is accepted (so a
 * trials-log line's params object reads back to the same parameters), and
 * unknown keys, wrong types and out-of-range values are refused naming
 * file:line without touching the parameters.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "fraud/train.h"
#include "fr_test.h"

static int parse(const char *text, fr_train_params *p, fr_error *err) {
  return fr_train_params_parse(text, strlen(text), "params.yaml", p, err);
}

Test(params, overrides_only_the_given_keys) {
  fr_train_params p, d;
  fr_train_params_default(&p);
  fr_train_params_default(&d);
  fr_error err = {0};
  cr_assert_eq(parse("# tuned\nmax_depth: 4\neta: 0.05\ntree_method: exact\n"
                     "seed: 7\nscale_pos_weight: 12.5\n",
                     &p, &err),
               0, "%s", err.msg);
  cr_expect_eq(p.max_depth, 4);
  cr_expect_eq(p.eta, 0.05);
  cr_expect_str_eq(p.tree_method, "exact");
  cr_expect_eq(p.seed, 7);
  cr_expect_eq(p.scale_pos_weight, 12.5);
  /* Untouched keys keep the defaults. */
  cr_expect_eq(p.n_estimators, d.n_estimators);
  cr_expect_eq(p.subsample, d.subsample);
  cr_expect_eq(p.early_stopping_rounds, d.early_stopping_rounds);
  cr_expect_eq(fr_train_params_check(&p, &err), 0, "%s", err.msg);
}

Test(params, empty_file_changes_nothing) {
  fr_train_params p, d;
  fr_train_params_default(&p);
  fr_train_params_default(&d);
  cr_assert_eq(parse("# nothing\n", &p, NULL), 0);
  cr_expect(memcmp(&p, &d, sizeof p) == 0);
}

Test(params, json_round_trip) {
  /* Every field away from its default, written by fr_train_params_json,
   * read back: the same parameters. */
  fr_train_params a, b;
  fr_train_params_default(&a);
  a.n_estimators = 321;
  a.early_stopping_rounds = 17;
  a.max_depth = 9;
  a.eta = 0.0712;
  a.min_child_weight = 3.5;
  a.subsample = 0.61;
  a.colsample_bytree = 0.73;
  a.lambda = 2.25;
  a.alpha = 0.125;
  a.gamma = 1.5;
  a.scale_pos_weight = 40;
  a.base_score = 0.2;
  a.max_bin = 64;
  a.tree_method = "approx";
  a.nthread = 3;
  a.seed = 123456789;
  char *js = fr_train_params_json(&a);
  cr_assert(js);
  fr_train_params_default(&b);
  fr_error err = {0};
  cr_assert_eq(fr_train_params_parse(js, strlen(js), "trials.jsonl", &b, &err), 0, "%s: %s",
               js, err.msg);
  free(js);
  cr_expect_eq(b.n_estimators, 321);
  cr_expect_eq(b.early_stopping_rounds, 17);
  cr_expect_eq(b.max_depth, 9);
  cr_expect_eq(b.eta, 0.0712);
  cr_expect_eq(b.min_child_weight, 3.5);
  cr_expect_eq(b.subsample, 0.61);
  cr_expect_eq(b.colsample_bytree, 0.73);
  cr_expect_eq(b.lambda, 2.25);
  cr_expect_eq(b.alpha, 0.125);
  cr_expect_eq(b.gamma, 1.5);
  cr_expect_eq(b.scale_pos_weight, 40);
  cr_expect_eq(b.base_score, 0.2);
  cr_expect_eq(b.max_bin, 64);
  cr_expect_str_eq(b.tree_method, "approx");
  cr_expect_eq(b.nthread, 3);
  cr_expect_eq(b.seed, 123456789);
}

/* A refused file: the error names the line and leaves p unchanged. */
static void refused(const char *text, const char *where, const char *what) {
  fr_train_params p, d;
  fr_train_params_default(&p);
  fr_train_params_default(&d);
  fr_error err = {0};
  int rc = parse(text, &p, &err);
  cr_expect_neq(rc, 0, "accepted: %s", text);
  cr_expect(strstr(err.msg, where), "'%s' lacks '%s'", err.msg, where);
  cr_expect(strstr(err.msg, what), "'%s' lacks '%s'", err.msg, what);
  cr_expect(memcmp(&p, &d, sizeof p) == 0, "parameters changed by a refused file");
}

Test(params, refusals_name_the_line) {
  refused("max_depth: 4\nlearning_rate: 0.1\n", "params.yaml:2", "learning_rate");
  refused("eta: 0\n", "params.yaml:1", "eta");
  refused("eta: 1.5\n", "params.yaml:1", "eta");
  refused("subsample: 0\n", "params.yaml:1", "subsample");
  refused("max_depth: 4\nmax_depth_x: 3\n", "params.yaml:2", "max_depth_x");
  refused("max_depth: deep\n", "params.yaml:1", "max_depth");
  refused("max_depth: 2.5\n", "params.yaml:1", "max_depth");
  refused("n_estimators: 0\n", "params.yaml:1", "n_estimators");
  refused("lambda: -1\n", "params.yaml:1", "lambda");
  refused("base_score: 1\n", "params.yaml:1", "base_score");
  refused("tree_method: gpu_hist\n", "params.yaml:1", "gpu_hist");
  refused("seed: -3\n", "params.yaml:1", "seed");
  refused("- max_depth\n", "params.yaml:1", "map");
  /* A later bad key leaves the earlier good ones unapplied too. */
  refused("max_depth: 3\neta: 7\n", "params.yaml:2", "eta");
}

Test(params, load_from_file_and_missing_file) {
  const char *dir = fr_test_tmpdir();
  cr_assert(dir);
  const char *path = fr_test_write(dir, "p.yaml", "gamma: 0.5\nnthread: 1\n");
  fr_train_params p;
  fr_train_params_default(&p);
  fr_error err = {0};
  cr_assert_eq(fr_train_params_load(path, &p, &err), 0, "%s", err.msg);
  cr_expect_eq(p.gamma, 0.5);
  cr_expect_eq(p.nthread, 1);
  cr_expect_neq(fr_train_params_load("/nonexistent/p.yaml", &p, &err), 0);
  cr_expect(strstr(err.msg, "/nonexistent/p.yaml"), "%s", err.msg);
}

Test(params, check_names_the_parameter) {
  fr_train_params p;
  fr_train_params_default(&p);
  fr_error err = {0};
  cr_assert_eq(fr_train_params_check(&p, &err), 0);
  p.colsample_bytree = 1.5;
  cr_expect_eq(fr_train_params_check(&p, &err), FR_EINVAL);
  cr_expect(strstr(err.msg, "colsample_bytree"), "%s", err.msg);
  fr_train_params_default(&p);
  p.tree_method = "gpu_hist";
  cr_expect_eq(fr_train_params_check(&p, &err), FR_EINVAL);
  cr_expect(strstr(err.msg, "gpu_hist"), "%s", err.msg);
}
