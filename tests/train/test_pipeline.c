/*
 * test_pipeline.c - the offline jobs of src/train/pipeline.c and derive.c on
 * a small generated data set (fr_generate_csv, schema "synthetic", the
 * train fixtures' feature spec):
 *
 * - fr_train_run's manifest: row, fraud and slice counts, event-time range
 *   and checksum, checked against the CSV read line by line here;
 * - the bad inputs of the issue (empty file, header only, every label 0 or 1,
 *   a missing label, an existing version, bad parameters): each refused with
 *   its message, and nothing left in the model repository;
 * - fr_evaluate_run re-featurizing the file from the bundle: the test and
 *   validation slices' metrics equal those recorded at training;
 * - fr_bundle_derive_thresholds: a new immutable version, model bytes
 *   unchanged, provenance recorded, refusals leave nothing behind;
 * - fr_tune_job_run: the best trial retrained is the bundle's model (same
 *   validation PR-AUC), trials.jsonl stored with its checksum, a time box
 *   resumes to the same table;
 * - fr_bundle_write's extra files, and its removal of stale temporaries;
 * - the drift reference in the manifest, against the server's own binning
 *   of the same rows; every tree kept with early stopping off.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fraud/train.h"
#include "fr_test.h"
#include "serve/drift.h"

static char g_dir[256], g_data[512];

static void setup(void) {
  const char *d = fr_test_tmpdir();
  cr_assert(d);
  snprintf(g_dir, sizeof g_dir, "%s", d);
  snprintf(g_data, sizeof g_data, "%s/g.csv", g_dir);
  fr_gen_config c;
  fr_gen_config_default(&c);
  c.rows = 8000;
  c.cards = 400;
  c.merchants = 100;
  c.days = 14;
  c.fraud_rate = 0.03;
  c.seed = 11;
  fr_error err = {0};
  cr_assert_eq(fr_generate_csv(&c, g_data, &err), 0, "%s", err.msg);
}

static void teardown(void) { fr_rm_rf(g_dir, NULL); }

static const char *path_in(const char *name) {
  static char buf[8][600];
  static int slot;
  char *out = buf[slot++ & 7];
  snprintf(out, 600, "%s/%s", g_dir, name);
  return out;
}

static void job_for(fr_train_job *job, const char *data, const char *out) {
  fr_train_job_default(job);
  job->schema = "synthetic";
  job->spec = fr_test_fixture("train/synthetic.features.yaml");
  job->data = data;
  job->out_dir = out;
  job->params.n_estimators = 60;
  job->params.early_stopping_rounds = 15;
  job->params.nthread = 1;
}

static json_t *manifest(const char *dir) {
  char p[700];
  snprintf(p, sizeof p, "%s/manifest.json", dir);
  json_error_t je;
  json_t *m = json_load_file(p, 0, &je);
  cr_assert(m, "%s: %s", p, je.text);
  return m;
}

static double jnum(json_t *o, const char *path) {
  /* "a.b.c" */
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  json_t *v = o;
  for (char *s = strtok(buf, "."); s && v; s = strtok(NULL, "."))
    v = json_object_get(v, s);
  cr_assert(json_is_number(v), "%s is not a number", path);
  return json_number_value(v);
}

static const char *jstr(json_t *o, const char *a, const char *b) {
  json_t *v = json_object_get(json_object_get(o, a), b);
  cr_assert(json_is_string(v), "%s.%s is not a string", a, b);
  return json_string_value(v);
}

/* Entries of the directory other than . and .., for "nothing left behind". */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

Test(pipeline, train_records_data_split_and_versions, .init = setup, .fini = teardown) {
  /* The CSV line by line: rows, frauds (is_fraud is field 15), first and
   * last event time (field 2; the generator writes in event-time order). */
  size_t len = 0;
  char *text = fr_file_read_all(g_data, &len, NULL);
  cr_assert(text);
  size_t rows = 0, frauds = 0;
  char first[32] = "", last[32] = "";
  char *save = NULL;
  strtok_r(text, "\n", &save); /* header */
  for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *f[16];
    int nf = 0;
    for (char *c = line; nf < 16; c++) {
      f[nf++] = c;
      c = strchr(c, ',');
      if (!c)
        break;
      *c = '\0';
    }
    cr_assert_eq(nf, 16);
    rows++;
    frauds += strcmp(f[14], "1") == 0;
    if (!first[0])
      snprintf(first, sizeof first, "%s", f[1]);
    snprintf(last, sizeof last, "%s", f[1]);
  }
  free(text);

  fr_train_job job;
  const char *out = path_in("repo/synthetic/1");
  job_for(&job, g_data, out);
  fr_train_report rep;
  fr_error err = {0};
  cr_assert_eq(fr_train_run(&job, &rep, &err), 0, "%s", err.msg);
  cr_expect_eq(rep.rows, rows);
  cr_expect_eq(rep.positives, frauds);
  json_t *m = manifest(out);
  cr_expect_eq(jnum(m, "training_data.rows"), (double)rows);
  cr_expect_eq(jnum(m, "training_data.frauds"), (double)frauds);
  cr_expect_eq(jnum(m, "training_data.skipped_rows"), 0);
  cr_expect_str_eq(jstr(m, "training_data", "first_event_time"), first);
  cr_expect_str_eq(jstr(m, "training_data", "last_event_time"), last);
  cr_expect_str_eq(jstr(m, "training_data", "file"), "g.csv");
  char sha[65];
  cr_assert_eq(fr_sha256_file(g_data, sha, NULL), 0);
  cr_expect_str_eq(jstr(m, "training_data", "sha256"), sha);
  /* Slices add up, in rows and in frauds. */
  cr_expect_eq(jnum(m, "split.train_rows") + jnum(m, "split.valid_rows") +
                   jnum(m, "split.test_rows"),
               (double)rows);
  cr_expect_eq(jnum(m, "split.train_frauds") + jnum(m, "split.valid_frauds") +
                   jnum(m, "split.test_frauds"),
               (double)frauds);
  cr_expect_eq(jnum(m, "split.test_rows"), (double)rep.test.rows);
  cr_expect_eq(jnum(m, "split.test_frauds"), (double)rep.test.positives);
  cr_expect(jnum(m, "split.valid_start_time") < jnum(m, "split.test_start_time"));
  /* Library versions: the loaded XGBoost's, and the linked libraries'. */
  char xv[32];
  cr_assert_eq(fr_xgboost_version(xv, sizeof xv, NULL), 0);
  cr_expect_str_eq(jstr(m, "libraries", "xgboost"), xv);
  cr_expect_str_eq(jstr(m, "libraries", "fraud"), fr_version());
  const char *libs[] = {"jansson", "libsodium", "zlib", "libyaml"};
  for (int i = 0; i < 4; i++)
    cr_expect(strlen(jstr(m, "libraries", libs[i])) > 0, "%s", libs[i]);
  cr_expect_eq(jnum(m, "parameters.n_estimators"), 60);
  cr_expect_eq(jnum(m, "parameters.nthread"), 1);
  json_decref(m);
  /* Nothing but the version in the model directory. */
  cr_expect_eq(entries(path_in("repo/synthetic")), 1);

  /* Re-featurizing the file from the bundle reproduces the training-time
   * metrics of both held-out slices exactly. */
  fr_score_job sj = {0};
  sj.model_dir = out;
  sj.data = g_data;
  sj.test_slice = 1;
  fr_evaluation ev;
  cr_assert_eq(fr_evaluate_run(&sj, NULL, &ev, &err), 0, "%s", err.msg);
  cr_expect_eq(ev.metrics.rows, rep.test.rows);
  cr_expect_eq(ev.metrics.positives, rep.test.positives);
  cr_expect_eq(ev.metrics.pr_auc, rep.test.pr_auc);
  cr_expect_eq(ev.metrics.roc_auc, rep.test.roc_auc);
  cr_expect_eq(ev.metrics.tp, rep.test.tp);
  sj.test_slice = 0;
  sj.valid_slice = 1;
  cr_assert_eq(fr_evaluate_run(&sj, NULL, &ev, &err), 0, "%s", err.msg);
  cr_expect_eq(ev.metrics.rows, rep.valid.rows);
  cr_expect_eq(ev.metrics.pr_auc, rep.valid.pr_auc);
  cr_expect(ev.has_amount);
  cr_expect(ev.calibration_n >= 1 && ev.calibration_n <= 10);
  size_t binned = 0;
  for (size_t i = 0; i < ev.calibration_n; i++)
    binned += ev.calibration[i].count;
  cr_expect_eq(binned, ev.metrics.rows);
  /* The least-cost thresholds cost no more than the bundle's. */
  cr_expect(ev.cost.cost <= ev.cost_bundle + 1e-9, "%g > %g", ev.cost.cost, ev.cost_bundle);
  cr_expect(ev.cost.cost <= ev.cost.cost_approve_all + 1e-9);
  sj.test_slice = 1;
  cr_expect_eq(fr_evaluate_run(&sj, NULL, &ev, &err), FR_EINVAL);
}

/* The bundle's drift reference is what the server would build from the
 * validation slice's rows (features and forest scores, recomputed here from
 * the bundle as `fraud predict` does): trackers reading the manifest and
 * building from the rows give the same PSI, bit for bit, on the test
 * slice's traffic, and the validation rows themselves give PSI 0.  With
 * early stopping off the model keeps every one of n_estimators trees. */
Test(pipeline, train_writes_the_drift_reference, .init = setup, .fini = teardown) {
  fr_train_job job;
  const char *out = path_in("repo/r/1");
  job_for(&job, g_data, out);
  job.params.n_estimators = 25;
  job.params.early_stopping_rounds = 0;
  fr_train_report rep;
  fr_error err = {0};
  cr_assert_eq(fr_train_run(&job, &rep, &err), 0, "%s", err.msg);
  cr_expect_eq(rep.train.trees, 25);
  cr_expect_eq(rep.train.rounds_run, 25);
  json_t *m = manifest(out);
  cr_expect_eq(jnum(m, "parameters.trees"), 25);
  json_t *ref = json_object_get(m, "reference");
  cr_assert(json_is_object(ref), "no reference in the manifest");
  cr_expect_eq(jnum(m, "reference.rows"), jnum(m, "split.valid_rows"));
  cr_expect_str_eq(jstr(m, "reference", "slice"), "validation");

  fr_bundle *b = fr_bundle_open(out, &err);
  cr_assert(b, "%s", err.msg);
  cr_expect_eq(fr_forest_ntrees(fr_bundle_forest(b)), 25);
  fr_dataset *d = fr_dataset_read_csv(fr_bundle_schema(b), g_data, NULL, &err);
  cr_assert(d, "%s", err.msg);
  float *p = NULL;
  fr_table *t = fr_bundle_score_dataset(b, d, &p, &err);
  cr_assert(t, "%s", err.msg);
  double v0 = jnum(m, "split.valid_start_time"), t0 = jnum(m, "split.test_start_time");
  size_t from = 0, to = 0;
  while (from < t->rows && t->event_time[from] < v0)
    from++;
  to = from;
  while (to < t->rows && t->event_time[to] < t0)
    to++;
  cr_assert_eq((double)(to - from), jnum(m, "split.valid_rows"));

  size_t nf = fr_featurizer_nfeatures(fr_bundle_featurizer(b));
  const char **names = calloc(nf, sizeof *names);
  for (size_t j = 0; j < nf; j++)
    names[j] = fr_featurizer_name(fr_bundle_featurizer(b), j);
  cr_expect_eq(json_object_size(json_object_get(ref, "features")), nf);
  fr__drift *man = fr__drift_new(nf, names, ref, 1u << 30);
  fr__drift *rows = fr__drift_new(nf, names, NULL, 1u << 30);
  fr__drift *self = fr__drift_new(nf, names, ref, 1u << 30);
  cr_assert(fr__drift_has_reference(man), "the server refused the manifest's reference");
  cr_assert_eq(fr__drift_set_reference(rows, t->x + from * t->cols, p + from, to - from), 0);
  for (size_t i = to; i < t->rows; i++) {
    fr__drift_observe(man, t->x + i * t->cols, p[i]);
    fr__drift_observe(rows, t->x + i * t->cols, p[i]);
  }
  for (size_t i = from; i < to; i++)
    fr__drift_observe(self, t->x + i * t->cols, p[i]);
  double a = fr__drift_score_psi(man), c = fr__drift_score_psi(rows);
  cr_expect(a == c && isfinite(a), "score PSI %.17g (manifest) vs %.17g (rows)", a, c);
  cr_expect_eq(fr__drift_score_psi(self), 0.0);
  for (size_t j = 0; j < nf; j++) {
    a = fr__drift_feature_psi(man, j);
    c = fr__drift_feature_psi(rows, j);
    cr_expect(a == c && isfinite(a), "%s: PSI %.17g (manifest) vs %.17g (rows)", names[j], a,
              c);
    cr_expect_eq(fr__drift_feature_psi(self, j), 0.0, "%s", names[j]);
  }
  fr__drift_free(man);
  fr__drift_free(rows);
  fr__drift_free(self);
  free(names);
  free(p);
  fr_table_free(t);
  fr_dataset_free(d);
  fr_bundle_unref(b);
  json_decref(m);
}

/* A bad input: fr_train_run refuses it with `code` and a message holding
 * `needle`, and the model repository stays empty. */
static void refuses(const char *data, const char *needle, int code) {
  fr_train_job job;
  const char *repo = path_in("repo");
  cr_assert_eq(fr_mkdir_p(repo, NULL), 0);
  job_for(&job, data, path_in("repo/1"));
  fr_train_report rep;
  fr_error err = {0};
  int rc = fr_train_run(&job, &rep, &err);
  cr_expect_eq(rc, code, "%s: rc %d (%s), message '%s'", data, rc, fr_errname(rc), err.msg);
  cr_expect(strstr(err.msg, needle), "%s: '%s' lacks '%s'", data, err.msg, needle);
  cr_expect_eq(entries(repo), 0, "%s: something was left in the repository", data);
}

/* The generated file with every label replaced by `label`, or with the
 * label of data line `blank` emptied. */
static const char *relabel(const char *name, const char *label, size_t blank) {
  size_t len = 0;
  char *text = fr_file_read_all(g_data, &len, NULL);
  cr_assert(text);
  const char *out = path_in(name);
  FILE *f = fopen(out, "w");
  cr_assert(f);
  size_t lineno = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (lineno++ == 0) {
      fprintf(f, "%s\n", line);
      continue;
    }
    /* is_fraud is the 15th field, fraud_scenario the 16th. */
    char *c = line;
    for (int k = 0; k < 14; k++)
      c = strchr(c, ',') + 1;
    char *end = strchr(c, ',');
    const char *lab = label ? label : (lineno - 1 == blank ? "" : NULL);
    if (lab)
      fprintf(f, "%.*s%s%s\n", (int)(c - line), line, lab, end);
    else
      fprintf(f, "%s\n", line);
  }
  fclose(f);
  free(text);
  return out;
}

Test(pipeline, bad_inputs_leave_nothing_behind, .init = setup, .fini = teardown) {
  refuses(fr_test_write(g_dir, "empty.csv", ""), "empty", FR_EPARSE);
  char header[512];
  snprintf(header, sizeof header, "%s", fr_gen_header());
  refuses(fr_test_write(g_dir, "header.csv", header), "no data rows", FR_EDATA);
  refuses(relabel("zeros.csv", "0", 0), "every label is 0", FR_EDATA);
  refuses(relabel("zeros.csv", "0", 0), "PR-AUC is undefined", FR_EDATA);
  refuses(relabel("ones.csv", "1", 0), "every label is 1", FR_EDATA);
  refuses(relabel("blank.csv", NULL, 17), "line 18", FR_EDATA); /* 17th row, after the header */
  refuses(path_in("missing.csv"), "missing.csv", FR_EIO);
}

Test(pipeline, existing_version_and_bad_parameters, .init = setup, .fini = teardown) {
  fr_train_job job;
  const char *out = path_in("repo/7");
  cr_assert_eq(fr_mkdir_p(out, NULL), 0);
  job_for(&job, g_data, out);
  fr_error err = {0};
  fr_train_report rep;
  cr_expect_eq(fr_train_run(&job, &rep, &err), FR_EEXIST);
  cr_expect(strstr(err.msg, "immutable"), "%s", err.msg);
  cr_expect_eq(entries(out), 0);
  job_for(&job, g_data, path_in("repo/8"));
  job.params.eta = 0;
  cr_expect_eq(fr_train_run(&job, &rep, &err), FR_EINVAL);
  cr_expect(strstr(err.msg, "eta"), "%s", err.msg);
  cr_expect_eq(entries(path_in("repo")), 1); /* only the pre-existing 7 */
}

Test(pipeline, derive_thresholds_makes_a_new_version, .init = setup, .fini = teardown) {
  fr_train_job job;
  const char *v1 = path_in("repo/m/1"), *v2 = path_in("repo/m/2");
  job_for(&job, g_data, v1);
  fr_train_report rep;
  fr_error err = {0};
  cr_assert_eq(fr_train_run(&job, &rep, &err), 0, "%s", err.msg);
  fr_thresholds t = {0.25, 0.75};
  cr_assert_eq(fr_bundle_derive_thresholds(v1, v2, NULL, &t,
                                           "{\"reason\":\"cost-based thresholds\","
                                           "\"costs\":{\"review_cost\":5}}",
                                           &err),
               0, "%s", err.msg);
  fr_bundle *b = fr_bundle_open(v2, &err);
  cr_assert(b, "%s", err.msg);
  cr_expect_eq(fr_bundle_thresholds(b).review, 0.25);
  cr_expect_eq(fr_bundle_thresholds(b).decline, 0.75);
  cr_expect_str_eq(fr_bundle_version(b), "2");
  fr_bundle_unref(b);
  /* The model and every other file: the same bytes. */
  const char *files[] = {"model.json", "features.yaml", "schema.yaml"};
  for (int i = 0; i < 3; i++) {
    char a[700], c[700];
    snprintf(a, sizeof a, "%s/%s", v1, files[i]);
    snprintf(c, sizeof c, "%s/%s", v2, files[i]);
    size_t la = 0, lc = 0;
    char *ta = fr_file_read_all(a, &la, NULL), *tc = fr_file_read_all(c, &lc, NULL);
    cr_assert(ta && tc);
    cr_expect(la == lc && memcmp(ta, tc, la) == 0, "%s differs", files[i]);
    free(ta);
    free(tc);
  }
  json_t *m = manifest(v2);
  json_t *d = json_object_get(m, "derived_from");
  cr_expect_str_eq(json_string_value(json_object_get(d, "version")), "1");
  cr_expect_str_eq(json_string_value(json_object_get(d, "reason")), "cost-based thresholds");
  cr_expect_eq(jnum(d, "costs.review_cost"), 5);
  cr_expect_eq(jnum(d, "thresholds.decline"), rep.thresholds.decline);
  json_decref(m);
  /* The source is untouched. */
  b = fr_bundle_open(v1, &err);
  cr_assert(b, "%s", err.msg);
  cr_expect_eq(fr_bundle_thresholds(b).decline, rep.thresholds.decline);
  fr_bundle_unref(b);

  /* Refusals leave nothing behind. */
  cr_expect_eq(fr_bundle_derive_thresholds(v1, v2, NULL, &t, NULL, &err), FR_EEXIST);
  fr_thresholds bad = {0.8, 0.5};
  cr_expect_eq(fr_bundle_derive_thresholds(v1, path_in("repo/m/3"), NULL, &bad, NULL, &err),
               FR_EINVAL);
  cr_expect_eq(fr_bundle_derive_thresholds(v1, path_in("repo/m/3"), NULL, &t, "[1]", &err),
               FR_EINVAL);
  /* A corrupt source: its checksum fails and no version appears. */
  char model[700];
  snprintf(model, sizeof model, "%s/model.json", v1);
  FILE *f = fopen(model, "a");
  cr_assert(f);
  fputs(" ", f);
  fclose(f);
  cr_expect_eq(fr_bundle_derive_thresholds(v1, path_in("repo/m/3"), "3", &t, NULL, &err),
               FR_ECHECKSUM);
  cr_expect_eq(entries(path_in("repo/m")), 2, "a refused derivation left something");
}

static const char *SPACE = "max_depth: {low: 2, high: 6}\n"
                           "eta: {low: 0.05, high: 0.3, log: true}\n"
                           "subsample: {low: 0.6, high: 1.0}\n"
                           "early_stopping_rounds: 10\n"
                           "n_estimators: {low: 5, high: 45}\n";

static fr_search_space *space(void) {
  fr_error err = {0};
  fr_search_space *s = fr_search_space_parse(SPACE, strlen(SPACE), "space.yaml", &err);
  cr_assert(s, "%s", err.msg);
  return s;
}

/* Trials without their timing, one line each. */
static char *table(const fr_tune_result *r) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  for (size_t i = 0; i < r->n_trials; i++) {
    fr_trial t = r->trials[i];
    t.seconds = 0;
    char *j = fr_trial_json(&t);
    fprintf(f, "%s\n", j);
    free(j);
  }
  fclose(f);
  return buf;
}

Test(pipeline, tune_writes_the_best_trial_with_its_log, .init = setup, .fini = teardown) {
  fr_search_space *s = space();
  fr_tune_job job;
  fr_tune_job_default(&job);
  job_for(&job.train, g_data, path_in("repo/t/1"));
  job.space = s;
  job.tune.seed = 5;
  job.tune.parallel = 2;
  job.tune.trial_threads = 1;
  job.tune.log_path = path_in("trials.jsonl");
  fr_tune_report rep;
  fr_error err = {0};
  cr_assert_eq(fr_tune_job_run(&job, &rep, &err), 0, "%s", err.msg);
  cr_assert(rep.written);
  const fr_tune_result *r = &rep.result;
  cr_assert(r->complete && r->best >= 0);
  cr_expect_eq(r->n_trials, 9 + 3 + 1 + 5 + 1 + 3); /* r=5, R=45, eta 3 */
  const fr_trial *best = &r->trials[r->best];
  json_t *m = manifest(path_in("repo/t/1"));
  /* Retrained with the trial's parameters and threads: the same model, so
   * the same validation PR-AUC (the trial scored it with XGBoost's
   * predictions, the bundle with the forest engine's, which are equal). */
  cr_expect(fabs(jnum(m, "metrics.valid.pr_auc") - best->score) < 1e-12, "%.17g vs %.17g",
            jnum(m, "metrics.valid.pr_auc"), best->score);
  cr_expect_eq(jnum(m, "tuning.best_trial"), best->id);
  cr_expect_eq(jnum(m, "tuning.trials"), (double)r->n_trials);
  cr_expect_eq(jnum(m, "tuning.seed"), 5);
  cr_expect_eq(jnum(m, "parameters.n_estimators"), best->rounds);
  cr_expect_eq(jnum(m, "parameters.max_depth"), best->params.max_depth);
  char sha[65];
  cr_assert_eq(fr_sha256_file(job.tune.log_path, sha, NULL), 0);
  cr_expect_str_eq(jstr(json_object_get(m, "files"), "trials.jsonl", "sha256"), sha);
  /* The tuned bundle has its drift reference like a trained one. */
  cr_expect_eq(jnum(m, "reference.rows"), jnum(m, "split.valid_rows"));
  cr_expect(json_is_object(json_object_get(json_object_get(m, "reference"), "score")));
  json_decref(m);
  fr_bundle *b = fr_bundle_open(path_in("repo/t/1"), &err); /* checksums verified */
  cr_expect(b, "%s", err.msg);
  fr_bundle_unref(b);
  char *full = table(r);
  fr_tune_result_free(&rep.result);

  /* Same search, time-boxed to 7 new trials a call: not written until
   * complete, then the same trials table. */
  job.train.out_dir = path_in("repo/t/2");
  job.tune.log_path = path_in("boxed.jsonl");
  job.tune.max_new_trials = 7;
  int calls = 0;
  do {
    cr_assert_eq(fr_tune_job_run(&job, &rep, &err), 0, "%s", err.msg);
    calls++;
    if (!rep.written) {
      cr_expect_eq(fr_is_dir(path_in("repo/t/2")), 0);
      fr_tune_result_free(&rep.result);
    }
  } while (!rep.written && calls < 10);
  cr_expect_eq(calls, 4); /* 22 trials, 7 a call */
  char *boxed = table(&rep.result);
  cr_expect_str_eq(boxed, full);
  free(boxed);
  free(full);
  fr_tune_result_free(&rep.result);

  /* An existing version is refused before any trial runs. */
  job.tune.log_path = path_in("third.jsonl");
  job.tune.max_new_trials = 0;
  cr_expect_eq(fr_tune_job_run(&job, &rep, &err), FR_EEXIST);
  cr_expect_eq(fr_is_file(path_in("third.jsonl")), 0);
  fr_tune_result_free(&rep.result);
  fr_search_space_free(s);
}

Test(pipeline, bundle_extra_file_names, .init = setup, .fini = teardown) {
  fr_train_job job;
  job_for(&job, g_data, path_in("repo/x/1"));
  fr_train_report rep;
  fr_error err = {0};
  cr_assert_eq(fr_train_run(&job, &rep, &err), 0, "%s", err.msg);
  fr_bundle *b = fr_bundle_open(path_in("repo/x/1"), &err);
  cr_assert(b, "%s", err.msg);
  const char *model = "{}";
  fr_bundle_spec bs = {.name = "x",
                       .version = "2",
                       .schema = fr_bundle_schema(b),
                       .featurizer = fr_bundle_featurizer(b),
                       .model_json = model,
                       .model_json_len = 2};
  const char *bad[] = {"model.json", "manifest.json", "a/b", "", ".."};
  for (int i = 0; i < 5; i++) {
    fr_bundle_file f = {bad[i], "x", 1};
    bs.extra_files = &f;
    bs.n_extra_files = 1;
    cr_expect_eq(fr_bundle_write(&bs, path_in("repo/x/2"), &err), FR_EINVAL, "'%s'", bad[i]);
  }
  cr_expect_eq(entries(path_in("repo/x")), 1);
  fr_bundle_file ok = {"notes.txt", "hello\n", 6};
  bs.extra_files = &ok;
  cr_assert_eq(fr_bundle_write(&bs, path_in("repo/x/2"), &err), 0, "%s", err.msg);
  json_t *m = manifest(path_in("repo/x/2"));
  char hex[65];
  fr_sha256_hex("hello\n", 6, hex);
  cr_expect_str_eq(jstr(json_object_get(m, "files"), "notes.txt", "sha256"), hex);
  json_decref(m);
  fr_bundle_unref(b);
}

/* A writer killed outright (SIGKILL) leaves its "<v>.tmp-PID-N": the next
 * fr_bundle_write next to it removes those of dead processes only. */
Test(pipeline, bundle_write_removes_stale_temporaries, .init = setup, .fini = teardown) {
  fr_train_job job;
  job_for(&job, g_data, path_in("repo/x/1"));
  fr_train_report rep;
  fr_error err = {0};
  cr_assert_eq(fr_train_run(&job, &rep, &err), 0, "%s", err.msg);
  fr_bundle *b = fr_bundle_open(path_in("repo/x/1"), &err);
  cr_assert(b, "%s", err.msg);
  /* A pid that certainly ran and no longer does: a reaped child's. */
  pid_t dead = fork();
  cr_assert(dead >= 0);
  if (dead == 0)
    _exit(0);
  cr_assert_eq(waitpid(dead, NULL, 0), dead);
  char stale[64], stale3[64], live[64], own[64];
  snprintf(stale, sizeof stale, "repo/x/2.tmp-%ld-77", (long)dead);
  snprintf(stale3, sizeof stale3, "repo/x/3.tmp-%ld-5", (long)dead);
  snprintf(live, sizeof live, "repo/x/2.tmp-%ld-8", (long)getppid());
  snprintf(own, sizeof own, "repo/x/2.tmp-%ld-9", (long)getpid());
  const char *made[] = {stale, stale3, live, own, "repo/x/notes.tmp-x-1"};
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(fr_mkdir_p(path_in(made[i]), &err), 0, "%s", err.msg);
    char f[700];
    snprintf(f, sizeof f, "%s/model.json", path_in(made[i]));
    cr_assert_eq(fr_file_write_atomic(f, "{", 1, &err), 0, "%s", err.msg);
  }
  fr_bundle_spec bs = {.name = "x",
                       .version = "2",
                       .schema = fr_bundle_schema(b),
                       .featurizer = fr_bundle_featurizer(b),
                       .model_json = "{}",
                       .model_json_len = 2};
  cr_assert_eq(fr_bundle_write(&bs, path_in("repo/x/2"), &err), 0, "%s", err.msg);
  cr_expect_eq(fr_is_dir(path_in(stale)), 0, "%s of a dead process is left", stale);
  cr_expect_eq(fr_is_dir(path_in(stale3)), 0, "%s of a dead process is left", stale3);
  cr_expect_eq(fr_is_dir(path_in(live)), 1, "%s of a running process was removed", live);
  cr_expect_eq(fr_is_dir(path_in(own)), 1, "this process's own %s was removed", own);
  cr_expect_eq(fr_is_dir(path_in("repo/x/notes.tmp-x-1")), 1, "a non-temporary name was removed");
  /* 1, 2, the live, own and other directories */
  cr_expect_eq(entries(path_in("repo/x")), 5);
  fr_bundle_unref(b);
}
