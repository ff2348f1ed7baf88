/*
 * test_repository.c - the on-disk model repository: numeric version order,
 * listing, stages.json round trip and validation, and the release
 * operations (promote, staging, rollback, canary, shadow).
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fr_test.h"
#include "fraud/serve.h"

/* Copies the bare XGBoost model of tests/fixtures/serve (make_fixture.py)
 * into dir as xgboost.json, so the server (and the release checks) can load
 * the version. */
static void put_model(const char *dir) {
  FILE *in = fopen(fr_test_fixture("serve/xgb_small.json"), "rb");
  char p[600];
  snprintf(p, sizeof p, "%s/xgboost.json", dir);
  FILE *out = fopen(p, "wb");
  cr_assert(in && out, "cannot copy the fixture model to %s", p);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    fwrite(buf, 1, n, out);
  fclose(in);
  fclose(out);
}

static const char *make_repo(void) {
  const char *dir = fr_test_tmpdir();
  char p[512];
  const char *vs[] = {"1", "2", "10", "9"};
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/fraud/%s", dir, vs[i]);
    fr_mkdir_p(p, NULL);
    put_model(p);
  }
  snprintf(p, sizeof p, "%s/fraud/11.tmp-42-1", dir); /* a bundle being written */
  fr_mkdir_p(p, NULL);
  snprintf(p, sizeof p, "%s/fraud/.hidden", dir);
  fr_mkdir_p(p, NULL);
  snprintf(p, sizeof p, "%s/other/1", dir);
  fr_mkdir_p(p, NULL);
  put_model(p);
  fr_test_write(dir, "README", "not a model");
  return dir;
}

Test(repository, version_order) {
  cr_assert_lt(fr_version_cmp("9", "10"), 0);
  cr_assert_gt(fr_version_cmp("10", "9"), 0);
  cr_assert_eq(fr_version_cmp("007", "7"), 0);
  cr_assert_lt(fr_version_cmp("99", "a"), 0); /* numeric before named */
  cr_assert_lt(fr_version_cmp("alpha", "beta"), 0);
  cr_assert(fr_repository_name_ok("fraud-v2.1_x"));
  cr_assert_not(fr_repository_name_ok(".hidden"));
  cr_assert_not(fr_repository_name_ok("a/b"));
  cr_assert_not(fr_repository_name_ok(""));
}

Test(repository, listing) {
  const char *dir = make_repo();
  fr_error err;
  char **m = fr_repository_models(dir, &err);
  cr_assert_not_null(m, "%s", err.msg);
  cr_assert_str_eq(m[0], "fraud");
  cr_assert_str_eq(m[1], "other");
  cr_assert_null(m[2]);
  fr_strv_free(m);
  char **v = fr_repository_versions(dir, "fraud", &err);
  cr_assert_not_null(v);
  cr_assert_str_eq(v[0], "1");
  cr_assert_str_eq(v[1], "2");
  cr_assert_str_eq(v[2], "9");
  cr_assert_str_eq(v[3], "10");
  cr_assert_null(v[4]);
  fr_strv_free(v);
  cr_assert_null(fr_repository_versions(dir, "nope", &err));
  cr_assert_eq(err.code, FR_ENOTFOUND);
  cr_assert_null(fr_repository_models("/nonexistent/dir", &err));
  cr_assert_eq(err.code, FR_ENOTFOUND);
}

Test(repository, releases) {
  const char *dir = make_repo();
  fr_error err;
  fr_stages st;
  cr_assert_eq(fr_stages_read(dir, "fraud", &st, &err), 0);
  cr_assert_str_eq(st.production, "");
  /* First promotion: the newest version (10) was serving implicitly, so it
   * becomes the rollback target. */
  cr_assert_eq(fr_repository_promote(dir, "fraud", "9", NULL, &st, &err), 0, "%s", err.msg);
  cr_assert_str_eq(st.production, "9");
  cr_assert_eq(st.nhistory, 1);
  cr_assert_str_eq(st.history[0], "10");
  cr_assert_eq(fr_repository_promote(dir, "fraud", "2", "staging", &st, &err), 0);
  cr_assert_eq(fr_repository_set_canary(dir, "fraud", "2", 0.25, &st, &err), 0);
  cr_assert_eq(fr_repository_set_shadow(dir, "fraud", "1", &st, &err), 0);
  fr_stages back;
  cr_assert_eq(fr_stages_read(dir, "fraud", &back, &err), 0, "%s", err.msg);
  cr_assert_str_eq(back.production, "9");
  cr_assert_str_eq(back.staging, "2");
  cr_assert_str_eq(back.canary, "2");
  cr_assert_eq(back.canary_weight, 0.25);
  cr_assert_str_eq(back.shadow, "1");
  /* Promoting the canary clears the entries that named it. */
  cr_assert_eq(fr_repository_promote(dir, "fraud", "2", NULL, &st, &err), 0);
  cr_assert_str_eq(st.production, "2");
  cr_assert_str_eq(st.canary, "");
  cr_assert_str_eq(st.staging, "");
  cr_assert_eq(st.nhistory, 2);
  cr_assert_eq(fr_repository_rollback(dir, "fraud", &st, &err), 0);
  cr_assert_str_eq(st.production, "9");
  cr_assert_eq(fr_repository_rollback(dir, "fraud", &st, &err), 0);
  cr_assert_str_eq(st.production, "10");
  cr_assert_lt(fr_repository_rollback(dir, "fraud", &st, &err), 0);
  cr_assert_eq(err.code, FR_ESTATE);
  /* Errors. */
  cr_assert_lt(fr_repository_promote(dir, "fraud", "77", NULL, &st, &err), 0);
  cr_assert_eq(err.code, FR_ENOTFOUND);
  cr_assert_not_null(strstr(err.msg, "version '77' of model 'fraud' not found"));
  cr_assert_lt(fr_repository_set_canary(dir, "fraud", "2", 1.5, &st, &err), 0);
  cr_assert_lt(fr_repository_promote(dir, "fraud", "2", "qa", &st, &err), 0);
}

Test(repository, rollback_without_history) {
  const char *dir = make_repo();
  fr_error err;
  fr_stages st;
  cr_assert_eq(fr_repository_rollback(dir, "fraud", &st, &err), 0, "%s", err.msg);
  cr_assert_str_eq(st.production, "9"); /* the version before the newest */
  cr_assert_lt(fr_repository_rollback(dir, "other", &st, &err), 0);
}

Test(repository, bad_stages_file) {
  const char *dir = make_repo();
  char p[512];
  snprintf(p, sizeof p, "%s/fraud", dir);
  fr_test_write(p, "stages.json", "{\"production\": \"9\", \"prod\": 1}");
  fr_stages st;
  fr_error err;
  cr_assert_lt(fr_stages_read(dir, "fraud", &st, &err), 0);
  cr_assert_not_null(strstr(err.msg, "unknown field 'prod'"), "%s", err.msg);
  fr_test_write(p, "stages.json", "{\"canary\": {\"version\": \"2\", \"weight\": 2}}");
  cr_assert_lt(fr_stages_read(dir, "fraud", &st, &err), 0);
  cr_assert_not_null(strstr(err.msg, "canary"), "%s", err.msg);
  fr_test_write(p, "stages.json", "{\"production\": ");
  cr_assert_lt(fr_stages_read(dir, "fraud", &st, &err), 0);
  cr_assert_eq(err.code, FR_EPARSE);
}

/* Review finding: a directory that is not a numeric version (the server
 * never loads it) was accepted by the release operations. */
Test(repository, non_numeric_version_refused) {
  const char *dir = make_repo();
  char p[512];
  snprintf(p, sizeof p, "%s/fraud/beta", dir);
  fr_mkdir_p(p, NULL);
  put_model(p);
  fr_error err;
  fr_stages st;
  cr_assert_eq(fr_repository_promote(dir, "fraud", "beta", NULL, &st, &err), FR_EINVAL);
  cr_assert_not_null(strstr(err.msg, p), "%s", err.msg);
  cr_assert_not_null(strstr(err.msg, "named by a number"), "%s", err.msg);
  cr_assert_eq(fr_repository_promote(dir, "fraud", "beta", "staging", &st, &err), FR_EINVAL);
  cr_assert_eq(fr_repository_set_canary(dir, "fraud", "beta", 0.5, &st, &err), FR_EINVAL);
  cr_assert_eq(fr_repository_set_shadow(dir, "fraud", "beta", &st, &err), FR_EINVAL);
  cr_assert_not_null(strstr(err.msg, p), "%s", err.msg);
  /* Nothing was written. */
  snprintf(p, sizeof p, "%s/fraud/stages.json", dir);
  cr_assert_not(fr_is_file(p));
}

/* Review finding: the first promotion recorded the newest directory as the
 * rollback target without checking that it loads.  Version 10 has no model
 * file, so the server serves 9: 9 is what a rollback must return to. */
Test(repository, rollback_target_is_servable) {
  const char *dir = make_repo();
  char p[512];
  snprintf(p, sizeof p, "%s/fraud/10/xgboost.json", dir);
  cr_assert_eq(remove(p), 0);
  fr_error err;
  fr_stages st;
  cr_assert_eq(fr_repository_promote(dir, "fraud", "2", NULL, &st, &err), 0, "%s", err.msg);
  cr_assert_eq(st.nhistory, 1);
  cr_assert_str_eq(st.history[0], "9");
  cr_assert_eq(fr_repository_rollback(dir, "fraud", &st, &err), 0, "%s", err.msg);
  cr_assert_str_eq(st.production, "9");
  /* Promoting the version that serves records no rollback target. */
  const char *d2 = make_repo();
  snprintf(p, sizeof p, "%s/fraud/10/xgboost.json", d2);
  cr_assert_eq(remove(p), 0);
  cr_assert_eq(fr_repository_promote(d2, "fraud", "9", NULL, &st, &err), 0, "%s", err.msg);
  cr_assert_eq(st.nhistory, 0);
  /* The broken version itself cannot be promoted, and a rollback without
   * history skips it as well (10 -> the servable version before 9). */
  cr_assert_eq(fr_repository_promote(d2, "fraud", "10", NULL, &st, &err), FR_ESTATE);
  cr_assert_not_null(strstr(err.msg, "version '10' of model 'fraud' cannot be served"), "%s",
                     err.msg);
  const char *d3 = make_repo();
  snprintf(p, sizeof p, "%s/fraud/9/xgboost.json", d3);
  cr_assert_eq(remove(p), 0);
  cr_assert_eq(fr_repository_rollback(d3, "fraud", &st, &err), 0, "%s", err.msg);
  cr_assert_str_eq(st.production, "2");
}

/* The implicit production (no promotion): in a model of bare model files
 * the newest that loads; once any version holds a bundle (manifest.json),
 * only a bundle that loads, never the bare files next to it (review
 * finding: a bare 4 above bundles 1-3 locked promote and rollback out). */
Test(repository, implicit_production_kind) {
  const char *dir = make_repo();
  fr_error err;
  char v[32];
  cr_assert_eq(fr_repository_implicit_production(dir, "fraud", v, sizeof v, &err), 0);
  cr_assert_str_eq(v, "10");
  char p[512];
  snprintf(p, sizeof p, "%s/fraud/10/xgboost.json", dir);
  cr_assert_eq(remove(p), 0);
  cr_assert_eq(fr_repository_implicit_production(dir, "fraud", v, sizeof v, &err), 0);
  cr_assert_str_eq(v, "9");
  /* Version 2 becomes a bundle that does not load: no bundle is servable,
   * and the bare 9 is not taken in its place. */
  snprintf(p, sizeof p, "%s/fraud/2", dir);
  fr_test_write(p, "manifest.json", "{\"name\": \"fraud\", \"version\": \"2\"}");
  cr_assert_eq(fr_repository_implicit_production(dir, "fraud", v, sizeof v, &err), 0);
  cr_assert_str_eq(v, "");
  cr_assert_eq(fr_repository_implicit_production(dir, "nope", v, sizeof v, &err), FR_ENOTFOUND);
}

/* Review finding: a weight that underflows to 0 (1e-400) silently ended the
 * canary.  Weights are in (0, 1]; no version is the way to end it. */
Test(repository, canary_weight_range) {
  const char *dir = make_repo();
  fr_error err;
  fr_stages st;
  cr_assert_eq(fr_repository_set_canary(dir, "fraud", "2", 0.25, &st, &err), 0, "%s", err.msg);
  double w_underflow = DBL_MIN / 4; /* what "1e-310" reads as: subnormal */
  double bad[] = {0.0, -0.1, 1.0000001, w_underflow, NAN, INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_eq(fr_repository_set_canary(dir, "fraud", "2", bad[i], &st, &err), FR_EINVAL,
                 "weight %g", bad[i]);
    cr_assert_not_null(strstr(err.msg, "(0, 1]"), "%s", err.msg);
  }
  fr_stages back;
  cr_assert_eq(fr_stages_read(dir, "fraud", &back, &err), 0);
  cr_assert_str_eq(back.canary, "2");
  cr_assert_eq(back.canary_weight, 0.25);
  cr_assert_eq(fr_repository_set_canary(dir, "fraud", "2", 1.0, &st, &err), 0, "%s", err.msg);
  cr_assert_eq(fr_repository_set_canary(dir, "fraud", NULL, 0, &st, &err), 0, "%s", err.msg);
  cr_assert_str_eq(st.canary, "");
}
