/*
 * test_tune.c - the search space (YAML parsing and refusals, sampling), the
 * Hyperband schedule (planned trials and budgets from Li et al. 2018's
 * formulas worked by hand, promotions recomputed from the trials table),
 * determinism across degrees of parallelism, resuming after a time box, a
 * cancellation and a torn log line, refusing another search's log, failing
 * trials, and a real XGBoost search on the fixture table.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include "fraud/train.h"
#include "train_fixture.h"

static const char *SPACE =
    "# test space\n"
    "max_depth: {low: 2, high: 8}\n"
    "eta: {low: 0.01, high: 0.5, log: true}\n"
    "subsample: {low: 0.5, high: 1.0}\n"
    "alpha: {choice: [0, 0.5, 2]}\n"
    "gamma: 0.25\n"
    "n_estimators: {low: 5, high: 45}\n";

static fr_search_space *space(const char *text) {
  fr_error err = {0};
  fr_search_space *s = fr_search_space_parse(text, strlen(text), "space.yaml",
                                             &err);
  cr_assert(s, "%s", err.msg);
  return s;
}

Test(space, sample_is_deterministic_and_in_range) {
  fr_search_space *s = space(SPACE);
  fr_train_params base, a, b;
  fr_train_params_default(&base);
  int lo, hi;
  fr_search_space_rounds(s, &lo, &hi);
  cr_expect_eq(lo, 5);
  cr_expect_eq(hi, 45);
  double sum_sub = 0;
  int seen_alpha[3] = {0, 0, 0}, seen_depth[9] = {0};
  for (uint64_t i = 0; i < 2000; i++) {
    fr_search_space_sample(s, 42, i, &base, &a);
    fr_search_space_sample(s, 42, i, &base, &b);
    cr_assert(memcmp(&a, &b, sizeof a) == 0);
    cr_assert(a.max_depth >= 2 && a.max_depth <= 8, "%d", a.max_depth);
    cr_assert(a.eta >= 0.01 && a.eta <= 0.5);
    cr_assert(a.subsample >= 0.5 && a.subsample <= 1.0);
    cr_assert(a.alpha == 0 || a.alpha == 0.5 || a.alpha == 2);
    cr_assert_eq(a.gamma, 0.25);
    cr_assert_eq(a.max_bin, base.max_bin); /* not in the space: kept */
    seen_alpha[a.alpha == 0 ? 0 : a.alpha == 0.5 ? 1 : 2]++;
    seen_depth[a.max_depth]++;
    sum_sub += a.subsample;
  }
  /* Uniform on [0.5, 1]: mean 0.75, sd 0.144/sqrt(2000) = 0.0032. */
  cr_expect(fabs(sum_sub / 2000 - 0.75) < 0.02, "%g", sum_sub / 2000);
  for (int k = 0; k < 3; k++)
    cr_expect(seen_alpha[k] > 500, "choice %d drawn %d times", k,
              seen_alpha[k]);
  for (int d = 2; d <= 8; d++)
    cr_expect(seen_depth[d] > 200, "depth %d drawn %d times", d,
              seen_depth[d]);
  fr_search_space_sample(s, 43, 0, &base, &b);
  fr_search_space_sample(s, 42, 0, &base, &a);
  cr_expect(a.eta != b.eta, "the seed must change the draw");
  fr_search_space_free(s);
}

Test(space, refusals_name_the_line) {
  fr_error err = {0};
  const char *bad[][2] = {
      {"eta: {low: 0.1, high: 0.5}\nmax_dept: 3\n", "unknown key 'max_dept'"},
      {"eta: {low: 0.5, high: 0.1}\n", "greater than high"},
      {"lambda: {low: 0, high: 1, log: true}\n", "log range needs low > 0"},
      {"n_estimators: {choice: [10, 20]}\n", "budget"},
      {"subsample: {low: 0.5, high: 1.5}\n", "outside the domain"},
      {"eta: {low: 0.1}\n", "needs both low and high"},
      {"max_depth: 2.5\n", "integer"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    fr_search_space *s = fr_search_space_parse(bad[i][0], strlen(bad[i][0]),
                                               "space.yaml", &err);
    cr_expect_null(s, "accepted: %s", bad[i][0]);
    cr_expect(strstr(err.msg, bad[i][1]) && strstr(err.msg, "space.yaml:"),
              "'%s' -> %s", bad[i][0], err.msg);
    fr_search_space_free(s);
  }
}

/* A deterministic stand-in for training: best at eta 0.1, depth 6, and
 * better with more rounds; depth 2 fails. */
static int fake(const fr_train_params *p, fr_trial *out, void *ctx) {
  int *sleep_us = ctx;
  if (sleep_us && *sleep_us)
    usleep((useconds_t)*sleep_us);
  if (p->max_depth == 2) {
    snprintf(out->error, sizeof out->error, "depth 2 refused");
    return FR_EINVAL;
  }
  double le = log(p->eta / 0.1);
  out->score = 1 - 0.1 * le * le - 0.01 * (p->max_depth - 6) *
               (p->max_depth - 6) - 1.0 / p->n_estimators;
  out->best_iteration = p->n_estimators - 1;
  out->rounds_run = p->n_estimators;
  return 0;
}

static fr_tune_options opts(const char *log) {
  fr_tune_options o;
  memset(&o, 0, sizeof o);
  o.seed = 7;
  o.reduction = 3;
  o.parallel = 1;
  o.trial_threads = 1;
  o.log_path = log;
  return o;
}

static char g_log[8][512], g_dir[8][512];
static const char *logpath(int k) {
  const char *d = fr_test_tmpdir();
  snprintf(g_dir[k], sizeof g_dir[k], "%s", d);
  snprintf(g_log[k], sizeof g_log[k], "%s/trials.jsonl", d);
  return g_log[k];
}

static void cleanup(void) {
  for (int k = 0; k < 8; k++)
    if (g_dir[k][0])
      fr_rm_rf(g_dir[k], NULL);
}
TestSuite(tune, .fini = cleanup);

static void same_tables(const fr_tune_result *a, const fr_tune_result *b) {
  cr_assert_eq(a->n_trials, b->n_trials);
  for (size_t i = 0; i < a->n_trials; i++) {
    const fr_trial *x = &a->trials[i], *y = &b->trials[i];
    cr_expect(x->id == y->id && x->bracket == y->bracket &&
                  x->rung == y->rung && x->config == y->config &&
                  x->rounds == y->rounds && x->status == y->status &&
                  x->best_iteration == y->best_iteration,
              "trial %zu differs", i);
    cr_expect(x->score == y->score || (isinf(x->score) && isinf(y->score)),
              "trial %zu score %.17g vs %.17g", i, x->score, y->score);
    cr_expect(memcmp(&x->params, &y->params, sizeof x->params) == 0,
              "trial %zu params differ", i);
  }
  cr_expect_eq(a->best, b->best);
}

/* Hyperband with R/r = 45/5 = 9, eta = 3: s_max = 2.  Bracket 2: n = 9
 * configs at 5 rounds, 3 at 15, 1 at 45; bracket 1: n = ceil(3*3/2) = 5 at
 * 15, 1 at 45; bracket 0: n = 3 at 45.  22 trials, 17 configurations. */
Test(tune, hyperband_schedule) {
  fr_search_space *s = space(SPACE);
  fr_train_params base;
  fr_train_params_default(&base);
  fr_tune_options o = opts(logpath(0));
  fr_tune_result r;
  fr_error err = {0};
  cr_assert_eq(fr_tune_run(s, &base, &o, fake, NULL, &r, &err), 0, "%s",
               err.msg);
  cr_expect_eq(r.n_planned, 22);
  cr_expect_eq(r.n_trials, 22);
  cr_expect_eq(r.n_run, 22);
  cr_expect(r.complete);
  int per[3][3] = {{0}}, rounds[3][3] = {{0}}, maxcfg = 0;
  for (size_t i = 0; i < r.n_trials; i++) {
    const fr_trial *t = &r.trials[i];
    cr_expect_eq(t->id, (int)i);
    per[t->bracket][t->rung]++;
    rounds[t->bracket][t->rung] = t->rounds;
    cr_expect_eq(t->params.n_estimators, t->rounds);
    maxcfg = t->config > maxcfg ? t->config : maxcfg;
  }
  cr_expect(per[2][0] == 9 && per[2][1] == 3 && per[2][2] == 1);
  cr_expect(per[1][0] == 5 && per[1][1] == 1);
  cr_expect(per[0][0] == 3);
  cr_expect(rounds[2][0] == 5 && rounds[2][1] == 15 && rounds[2][2] == 45);
  cr_expect(rounds[1][0] == 15 && rounds[1][1] == 45 && rounds[0][0] == 45);
  cr_expect_eq(maxcfg, 16);
  /* Promotions: bracket 2's rung 1 holds the 3 best of rung 0. */
  double thr = INFINITY;
  for (size_t i = 0; i < r.n_trials; i++)
    if (r.trials[i].bracket == 2 && r.trials[i].rung == 1) {
      int cfg = r.trials[i].config;
      for (size_t j = 0; j < r.n_trials; j++)
        if (r.trials[j].bracket == 2 && r.trials[j].rung == 0 &&
            r.trials[j].config == cfg)
          thr = r.trials[j].score < thr ? r.trials[j].score : thr;
    }
  int better = 0;
  for (size_t j = 0; j < r.n_trials; j++)
    if (r.trials[j].bracket == 2 && r.trials[j].rung == 0 &&
        r.trials[j].score > thr)
      better++;
  cr_expect_leq(better, 2, "a promoted config is not among the best 3");
  /* The best is the highest score; failed trials are never best. */
  cr_assert_geq(r.best, 0);
  for (size_t i = 0; i < r.n_trials; i++) {
    cr_expect_leq(r.trials[i].score, r.trials[r.best].score);
    if (r.trials[i].params.max_depth == 2)
      cr_expect(r.trials[i].status != 0 && isinf(r.trials[i].score) &&
                strstr(r.trials[i].error, "depth 2 refused"));
  }
  fr_tune_result_free(&r);
  fr_search_space_free(s);
}

Test(tune, deterministic_across_parallelism) {
  fr_search_space *s = space(SPACE);
  fr_train_params base;
  fr_train_params_default(&base);
  fr_tune_options o1 = opts(logpath(0)), o2 = opts(logpath(1));
  o2.parallel = 2;
  fr_tune_result a, b;
  cr_assert_eq(fr_tune_run(s, &base, &o1, fake, NULL, &a, NULL), 0);
  cr_assert_eq(fr_tune_run(s, &base, &o2, fake, NULL, &b, NULL), 0);
  same_tables(&a, &b);
  fr_tune_result_free(&a);
  fr_tune_result_free(&b);
  fr_search_space_free(s);
}

Test(tune, resumes_after_a_time_box_and_a_torn_line) {
  fr_search_space *s = space(SPACE);
  fr_train_params base;
  fr_train_params_default(&base);
  fr_tune_options full = opts(logpath(0)), part = opts(logpath(1));
  fr_tune_result a, b, c;
  cr_assert_eq(fr_tune_run(s, &base, &full, fake, NULL, &a, NULL), 0);
  part.max_new_trials = 7;
  part.parallel = 2;
  cr_assert_eq(fr_tune_run(s, &base, &part, fake, NULL, &b, NULL), 0);
  cr_expect_eq(b.n_run, 7);
  cr_expect(!b.complete);
  cr_expect_eq(b.n_trials, 7);
  fr_tune_result_free(&b);
  /* A crash in the middle of writing a line. */
  FILE *f = fopen(part.log_path, "ab");
  fputs("{\"trial\":7,\"bracket\":2,\"ru", f);
  fclose(f);
  part.max_new_trials = 0;
  fr_error err = {0};
  cr_assert_eq(fr_tune_run(s, &base, &part, fake, NULL, &c, &err), 0, "%s",
               err.msg);
  cr_expect_eq(c.n_resumed, 7);
  cr_expect_eq(c.n_run, 15);
  cr_expect(c.complete);
  same_tables(&a, &c);
  /* Every line of the log is whole JSON now: 1 header + 22 trials. */
  size_t len;
  char *text = fr_file_read_all(part.log_path, &len, NULL);
  size_t lines = 0;
  for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n"), lines++)
    cr_expect(json_loads(p, 0, NULL) != NULL, "bad line: %s", p);
  cr_expect_eq(lines, 23);
  free(text);
  fr_tune_result_free(&a);
  fr_tune_result_free(&c);
  fr_search_space_free(s);
}

static volatile int g_cancel;
static void on_alarm(int sig) {
  (void)sig;
  g_cancel = 1;
}

Test(tune, cancel_then_resume) {
  fr_search_space *s = space(SPACE);
  fr_train_params base;
  fr_train_params_default(&base);
  fr_tune_options o = opts(logpath(0));
  o.parallel = 2;
  o.cancel = &g_cancel;
  int sleep_us = 40000; /* 22 trials take ~0.45 s; interrupted at 0.15 s */
  signal(SIGALRM, on_alarm);
  struct itimerval it = {{0, 0}, {0, 150000}};
  setitimer(ITIMER_REAL, &it, NULL);
  fr_tune_result r;
  fr_error err = {0};
  cr_expect_eq(fr_tune_run(s, &base, &o, fake, &sleep_us, &r, &err),
               FR_ESTATE);
  cr_expect(strstr(err.msg, "interrupted") &&
                strstr(err.msg, "rerun with the same log to resume"),
            "%s", err.msg);
  cr_expect(!r.complete);
  size_t done = r.n_trials;
  fr_tune_result_free(&r);
  g_cancel = 0;
  sleep_us = 0;
  cr_assert_eq(fr_tune_run(s, &base, &o, fake, &sleep_us, &r, &err), 0, "%s",
               err.msg);
  cr_expect_eq(r.n_resumed, done);
  cr_expect(r.complete);
  fr_tune_result ref;
  fr_tune_options o2 = opts(logpath(1));
  cr_assert_eq(fr_tune_run(s, &base, &o2, fake, NULL, &ref, NULL), 0);
  same_tables(&ref, &r);
  fr_tune_result_free(&r);
  fr_tune_result_free(&ref);
  fr_search_space_free(s);
}

Test(tune, refuses_another_searchs_log) {
  fr_search_space *s = space(SPACE);
  fr_train_params base;
  fr_train_params_default(&base);
  fr_tune_options o = opts(logpath(0));
  o.max_new_trials = 2;
  fr_tune_result r;
  fr_error err = {0};
  cr_assert_eq(fr_tune_run(s, &base, &o, fake, NULL, &r, NULL), 0);
  fr_tune_result_free(&r);
  o.seed = 8;
  cr_expect_eq(fr_tune_run(s, &base, &o, fake, NULL, &r, &err), FR_ESTATE);
  cr_expect(strstr(err.msg, "different search"), "%s", err.msg);
  fr_tune_result_free(&r);
  o.seed = 7;
  base.max_bin = 32; /* a fixed parameter changed */
  cr_expect_eq(fr_tune_run(s, &base, &o, fake, NULL, &r, &err), FR_ESTATE);
  fr_tune_result_free(&r);
  base.tree_method = "gpu_magic";
  cr_expect_eq(fr_tune_run(s, &base, &o, fake, NULL, &r, &err), FR_EINVAL);
  fr_tune_result_free(&r);
  fr_search_space_free(s);
}

Test(tune, trial_json_line) {
  fr_trial t;
  memset(&t, 0, sizeof t);
  fr_train_params_default(&t.params);
  t.id = 3;
  t.rounds = 15;
  t.score = 0.25;
  char *s = fr_trial_json(&t);
  json_t *j = json_loads(s, 0, NULL);
  cr_assert(j, "%s", s);
  cr_expect_eq(json_number_value(json_object_get(j, "valid_pr_auc")), 0.25);
  cr_expect_str_eq(json_string_value(json_object_get(j, "status")), "ok");
  cr_expect(json_is_object(json_object_get(j, "params")));
  json_decref(j);
  free(s);
}

/* The real objective on the fixture table: R/r = 15/5, eta 3 -> s_max 1:
 * bracket 1: 3 configs at 5 rounds, 1 at 15; bracket 0: 2 at 15. */
Test(tune, xgboost_search_on_fixture) {
  fr_table *t = fx_table_load();
  cr_assert(t);
  fr_split sp;
  cr_assert_eq(fr_split_by_time(t, 0.2, 0.2, &sp, NULL), 0);
  fr_tune_xgboost_ctx ctx = {t, &sp};
  const char *text = "max_depth: {low: 2, high: 5}\n"
                     "eta: {low: 0.1, high: 0.4, log: true}\n"
                     "n_estimators: {low: 5, high: 15}\n";
  fr_search_space *s = space(text);
  fr_train_params base;
  fr_train_params_default(&base);
  base.max_bin = 64;
  base.early_stopping_rounds = 5;
  fr_tune_options o1 = opts(logpath(0)), o2 = opts(logpath(1));
  o2.parallel = 2;
  fr_tune_result a, b;
  fr_error err = {0};
  cr_assert_eq(fr_tune_run(s, &base, &o1, fr_tune_objective_xgboost, &ctx, &a,
                           &err),
               0, "%s", err.msg);
  cr_assert_eq(fr_tune_run(s, &base, &o2, fr_tune_objective_xgboost, &ctx, &b,
                           &err),
               0, "%s", err.msg);
  cr_expect_eq(a.n_trials, 6);
  for (size_t i = 0; i < a.n_trials; i++)
    cr_expect(a.trials[i].status == 0 && a.trials[i].score > 0.1 &&
                  a.trials[i].score <= 1,
              "trial %zu: %s score %g", i, a.trials[i].error,
              a.trials[i].score);
  same_tables(&a, &b);
  fr_tune_result_free(&a);
  fr_tune_result_free(&b);
  fr_search_space_free(s);
  fx_table_free(t);
}
