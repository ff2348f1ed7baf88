/*
 * test_repository.c - the on-disk model repository: numeric version order,
 * listing, stages.json round trip and validation, and the release
 * operations (promote, staging, rollback, canary, shadow).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fr_test.h"
#include "fraud/serve.h"

static const char *make_repo(void) {
  const char *dir = fr_test_tmpdir();
  char p[512];
  const char *vs[] = {"1", "2", "10", "9"};
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/fraud/%s", dir, vs[i]);
    fr_mkdir_p(p, NULL);
  }
  snprintf(p, sizeof p, "%s/fraud/11.tmp-42-1", dir); /* a bundle being written */
  fr_mkdir_p(p, NULL);
  snprintf(p, sizeof p, "%s/fraud/.hidden", dir);
  fr_mkdir_p(p, NULL);
  snprintf(p, sizeof p, "%s/other/1", dir);
  fr_mkdir_p(p, NULL);
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
