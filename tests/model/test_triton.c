/* Tests src/model/triton.c: the Triton model repository writer, and
 * `fraud export triton` (src/cli/cmd_export.c) over it.
 *
 * Independent checks: every config.pbtxt is parsed by protobuf's own text
 * format parser (protoc --encode, then --decode to canonical text) against
 * the fields of Triton's ModelConfig schema (tests/fixtures/deploy/
 * triton_model_config.proto); the feature count comes from a model XGBoost
 * wrote (tests/fixtures/deploy/make_fixtures.py: 6 features); the ONNX
 * declaration is compared with the graph by python3-onnx.  The exported
 * model files must give our probabilities: xgboost.json scored by XGBoost
 * itself (python3-xgboost), model.onnx by an interpreter written from the
 * ONNX operator specification (tests/fixtures/deploy/check_triton_repo.py),
 * on XGBoost's own rows (xgb_binary.rows) and on a bundle trained by
 * `fraud train` from the Sparkov sample. */
#include <criterion/criterion.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fr_test.h"
#include "fraud/data.h"
#include "fraud/model.h"

/* Runs a shell command; returns its exit status (or -1). */
static int run(const char *cmd) {
  int st = system(cmd);
  return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

/* Parses dir/config.pbtxt with protoc against Triton's ModelConfig fields
 * and returns protoc's canonical text of it (caller frees), or NULL. */
static char *protoc_canonical(const char *model_dir) {
  char cmd[4096], out[1024];
  snprintf(out, sizeof out, "%s/decoded.txt", model_dir);
  snprintf(cmd, sizeof cmd,
           "protoc --proto_path='%s' --encode=inference.ModelConfig "
           "triton_model_config.proto < '%s/config.pbtxt' > '%s/encoded.bin' "
           "&& protoc --proto_path='%s' --decode=inference.ModelConfig "
           "triton_model_config.proto < '%s/encoded.bin' > '%s'",
           fr_test_fixture("deploy"), model_dir, model_dir,
           fr_test_fixture("deploy"), model_dir, out);
  if (run(cmd) != 0) return NULL;
  size_t len;
  char *text = fr_file_read_all(out, &len, NULL);
  remove(out);
  char enc[1024];
  snprintf(enc, sizeof enc, "%s/encoded.bin", model_dir);
  remove(enc);
  return text;
}

/* a "/" b in a buffer that lives until the end of the enclosing block. */
static const char *pj(char *buf, const char *a, const char *b) {
  snprintf(buf, 4096, "%s/%s", a, b);
  return buf;
}
#define path2(a, b) pj((char[4096]){0}, (a), (b))

Test(triton, fil_repository_layout_and_config) {
  const char *tmp = fr_test_tmpdir();
  cr_assert_not_null(tmp);
  const char *repo = path2(tmp, "repo");
  const char *model = fr_test_fixture("deploy/xgb_binary.json");
  fr_triton_options o;
  fr_triton_options_default(&o);
  o.name = "fraud";
  o.threshold = 0.7;
  fr_error err = {0};
  cr_assert_eq(fr_triton_write_fil(model, &o, repo, &err), 0, "%s", err.msg);

  /* The model file is copied byte for byte under the FIL default name. */
  char want[65], got[65];
  cr_assert_eq(fr_sha256_file(model, want, NULL), 0);
  cr_assert_eq(fr_sha256_file(path2(repo, "fraud/1/xgboost.json"), got, NULL),
               0);
  cr_assert_str_eq(got, want);

  char *text = protoc_canonical(path2(repo, "fraud"));
  cr_assert_not_null(text, "protoc could not parse the generated config");
  /* The canonical text of the parsed message: each expectation is one
   * field as protobuf prints it. */
  const char *expect[] = {
      "name: \"fraud\"\n",
      "max_batch_size: 8192\n",
      "input {\n  name: \"input__0\"\n  data_type: TYPE_FP32\n  dims: 6\n}\n",
      "output {\n  name: \"output__0\"\n  data_type: TYPE_FP32\n  dims: 1\n}\n",
      "instance_group {\n  count: 2\n  kind: KIND_CPU\n}\n",
      "dynamic_batching {\n  preferred_batch_size: 64\n  "
      "preferred_batch_size: 256\n  preferred_batch_size: 1024\n  "
      "max_queue_delay_microseconds: 100\n}\n",
      "key: \"model_type\"\n  value {\n    string_value: \"xgboost_json\"\n",
      "key: \"output_class\"\n  value {\n    string_value: \"true\"\n",
      "key: \"is_classifier\"\n  value {\n    string_value: \"true\"\n",
      "key: \"predict_proba\"\n  value {\n    string_value: \"false\"\n",
      "key: \"threshold\"\n  value {\n    string_value: \"0.7\"\n",
      "backend: \"fil\"\n",
  };
  for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
    cr_assert(strstr(text, expect[i]) != NULL, "missing:\n%s\nin:\n%s",
              expect[i], text);
  free(text);

  /* No temporary directory is left behind. */
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep -v '^fraud$')\"",
           repo);
  cr_assert_eq(run(cmd), 0, "stray files in %s", repo);

  /* A model directory is written once. */
  cr_assert_eq(fr_triton_write_fil(model, &o, repo, &err), FR_EEXIST);
  cr_assert(strstr(err.msg, "fraud") != NULL, "%s", err.msg);
  fr_rm_rf(tmp, NULL);
}

Test(triton, predict_proba_declares_two_probabilities) {
  const char *tmp = fr_test_tmpdir();
  const char *repo = path2(tmp, "repo");
  fr_triton_options o;
  fr_triton_options_default(&o);
  o.name = "fraud-proba";
  o.version = "3";
  o.predict_proba = 1;
  o.instance_count = 4;
  o.preferred_batch_sizes[0] = 32;
  o.preferred_batch_sizes[1] = 0;
  o.max_queue_delay_us = 250;
  fr_error err = {0};
  cr_assert_eq(fr_triton_write_fil(fr_test_fixture("deploy/xgb_binary.json"),
                                   &o, repo, &err),
               0, "%s", err.msg);
  cr_assert(fr_is_file(path2(repo, "fraud-proba/3/xgboost.json")));
  char *text = protoc_canonical(path2(repo, "fraud-proba"));
  cr_assert_not_null(text);
  cr_assert(strstr(text, "  name: \"output__0\"\n  data_type: TYPE_FP32\n"
                         "  dims: 2\n") != NULL, "%s", text);
  cr_assert(strstr(text, "count: 4\n") != NULL, "%s", text);
  cr_assert(strstr(text, "dynamic_batching {\n  preferred_batch_size: 32\n"
                         "  max_queue_delay_microseconds: 250\n}") != NULL,
            "%s", text);
  cr_assert(strstr(text, "key: \"predict_proba\"\n  value {\n"
                         "    string_value: \"true\"") != NULL,
            "%s", text);
  free(text);
  fr_rm_rf(tmp, NULL);
}

Test(triton, threshold_is_written_with_a_decimal_point_in_any_locale) {
  if (!setlocale(LC_ALL, "de_DE.UTF-8"))
    cr_skip_test("de_DE.UTF-8 locale not installed (locales-all)");
  const char *tmp = fr_test_tmpdir();
  const char *repo = path2(tmp, "repo");
  fr_triton_options o;
  fr_triton_options_default(&o);
  o.name = "fraud";
  o.threshold = 0.25;
  fr_error err = {0};
  int rc = fr_triton_write_fil(fr_test_fixture("deploy/xgb_binary.json"), &o,
                               repo, &err);
  setlocale(LC_ALL, "C");
  cr_assert_eq(rc, 0, "%s", err.msg);
  size_t len;
  char *cfg = fr_file_read_all(path2(repo, "fraud/config.pbtxt"), &len, NULL);
  cr_assert_not_null(cfg);
  cr_assert(strstr(cfg, "string_value: \"0.25\"") != NULL, "%s", cfg);
  free(cfg);
  fr_rm_rf(tmp, NULL);
}

Test(triton, bad_options_name_the_field) {
  const char *tmp = fr_test_tmpdir();
  const char *repo = path2(tmp, "repo");
  const char *model = fr_test_fixture("deploy/xgb_binary.json");
  fr_triton_options o;
  fr_error err = {0};

  fr_triton_options_default(&o);
  o.name = "../escape";
  cr_assert_eq(fr_triton_write_fil(model, &o, repo, &err), FR_EINVAL);
  cr_assert(strstr(err.msg, "'name'") != NULL, "%s", err.msg);

  fr_triton_options_default(&o);
  o.name = "fraud";
  o.version = "0";
  cr_assert_eq(fr_triton_write_fil(model, &o, repo, &err), FR_EINVAL);
  cr_assert(strstr(err.msg, "'version'") != NULL, "%s", err.msg);

  fr_triton_options_default(&o);
  o.name = "fraud";
  o.max_batch_size = 100;
  cr_assert_eq(fr_triton_write_fil(model, &o, repo, &err), FR_EINVAL);
  cr_assert(strstr(err.msg, "preferred_batch_sizes[1]") != NULL, "%s",
            err.msg);

  fr_triton_options_default(&o);
  o.name = "fraud";
  o.threshold = 1.5;
  cr_assert_eq(fr_triton_write_fil(model, &o, repo, &err), FR_EINVAL);
  cr_assert(strstr(err.msg, "'threshold'") != NULL, "%s", err.msg);

  fr_triton_options_default(&o);
  o.name = "fraud";
  o.instance_count = 0;
  cr_assert_eq(fr_triton_write_fil(model, &o, repo, &err), FR_EINVAL);
  cr_assert(strstr(err.msg, "'instance_count'") != NULL, "%s", err.msg);

  /* Nothing was written by any refused call. */
  cr_assert(!fr_is_dir(path2(repo, "fraud")));
  fr_rm_rf(tmp, NULL);
}

Test(triton, bad_models_are_refused) {
  const char *tmp = fr_test_tmpdir();
  const char *repo = path2(tmp, "repo");
  fr_triton_options o;
  fr_triton_options_default(&o);
  o.name = "fraud";
  fr_error err = {0};

  cr_assert_eq(fr_triton_write_fil(path2(tmp, "missing.json"), &o, repo, &err),
               FR_EIO);
  cr_assert(strstr(err.msg, "missing.json") != NULL, "%s", err.msg);

  const char *trunc = fr_test_write(tmp, "trunc.json", "{\"learner\": {");
  cr_assert_eq(fr_triton_write_fil(trunc, &o, repo, &err), FR_EFORMAT);
  cr_assert(strstr(err.msg, "trunc.json:") != NULL, "%s", err.msg);

  const char *nofeat = fr_test_write(
      tmp, "nofeat.json",
      "{\"learner\": {\"learner_model_param\": {\"num_feature\": \"x\"}, "
      "\"objective\": {\"name\": \"binary:logistic\"}}}");
  cr_assert_eq(fr_triton_write_fil(nofeat, &o, repo, &err), FR_EFORMAT);
  cr_assert(strstr(err.msg, "num_feature") != NULL, "%s", err.msg);

  const char *multi = fr_test_write(
      tmp, "multi.json",
      "{\"learner\": {\"learner_model_param\": {\"num_feature\": \"3\", "
      "\"num_class\": \"4\"}, \"objective\": {\"name\": "
      "\"multi:softprob\"}}}");
  cr_assert_eq(fr_triton_write_fil(multi, &o, repo, &err), FR_EFORMAT);
  cr_assert(strstr(err.msg, "multi:softprob") != NULL, "%s", err.msg);
  cr_assert(!fr_is_dir(path2(repo, "fraud")));
  fr_rm_rf(tmp, NULL);
}

Test(triton, onnx_alternative_matches_the_graph) {
  const char *tmp = fr_test_tmpdir();
  const char *repo = path2(tmp, "repo");
  const char *onnx = fr_test_fixture("deploy/stump.onnx");
  fr_triton_options o;
  fr_triton_options_default(&o);
  o.name = "fraud-onnx";
  fr_error err = {0};
  cr_assert_eq(fr_triton_write_onnx(onnx, 6, "input", "label",
                                    "probabilities", &o, repo, &err),
               0, "%s", err.msg);
  char want[65], got[65];
  cr_assert_eq(fr_sha256_file(onnx, want, NULL), 0);
  cr_assert_eq(fr_sha256_file(path2(repo, "fraud-onnx/1/model.onnx"), got,
                              NULL),
               0);
  cr_assert_str_eq(got, want);

  char *text = protoc_canonical(path2(repo, "fraud-onnx"));
  cr_assert_not_null(text, "protoc could not parse the generated config");
  cr_assert(strstr(text, "backend: \"onnxruntime\"") != NULL, "%s", text);
  cr_assert(strstr(text, "output {\n  name: \"label\"\n  data_type: TYPE_INT64"
                         "\n  dims: 1\n  reshape {\n  }\n}") != NULL,
            "%s", text);
  free(text);

  /* python3-onnx reads the graph and checks each declared tensor exists
   * with the declared element type and per-row shape. */
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 '%s' '%s/fraud-onnx/1/model.onnx' "
           "'%s/fraud-onnx/config.pbtxt'",
           fr_test_fixture("deploy/check_onnx_config.py"), repo, repo);
  cr_assert_eq(run(cmd), 0, "declared tensors do not match the ONNX graph");

  cr_assert_eq(fr_triton_write_onnx(onnx, 0, "input", NULL, "probabilities",
                                    &o, path2(tmp, "r2"), &err),
               FR_EINVAL);
  cr_assert_eq(fr_triton_write_onnx(onnx, 6, "in\"put", NULL, "probabilities",
                                    &o, path2(tmp, "r2"), &err),
               FR_EINVAL);
  fr_rm_rf(tmp, NULL);
}

/* ---- fraud export triton ------------------------------------------------ */

/* Runs `fraud <args>` (args: printf format, shell-quoted by the caller)
 * with stderr in tmp/stderr.txt; returns the exit status. */
static int fraud(const char *tmp, const char *fmt, ...) FR_PRINTF(2, 3);
static int fraud(const char *tmp, const char *fmt, ...) {
  const char *bin = getenv("FRAUD_BIN");
  cr_assert_not_null(bin, "FRAUD_BIN is not set (run through ctest)");
  char args[3000], cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>'%s/stderr.txt'", bin, args, tmp);
  return run(cmd);
}

/* What the last fraud() printed on stderr (static buffer). */
static const char *fraud_stderr(const char *tmp) {
  static char buf[4096];
  char p[4096];
  snprintf(p, sizeof p, "%s/stderr.txt", tmp);
  size_t len = 0;
  char *t = fr_file_read_all(p, &len, NULL);
  snprintf(buf, sizeof buf, "%s", t ? t : "");
  free(t);
  return buf;
}

/* check_triton_repo.py on a version directory and a rows file. */
static int check_repo(const char *version_dir, const char *rows) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s'",
           fr_test_fixture("deploy/check_triton_repo.py"), version_dir, rows);
  return run(cmd);
}

/* Writes rows x (n x nf) with probabilities p in check_triton_repo.py's
 * format. */
static void write_rows(const char *path, const float *x, const float *p, size_t n,
                       size_t nf) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < nf; j++) {
      char b[40];
      float v = x[i * nf + j];
      if (isnan(v))
        snprintf(b, sizeof b, "nan");
      else
        fr_fmt_float(b, sizeof b, v);
      fprintf(f, "%s%s", j ? "," : "", b);
    }
    char b[40];
    fr_fmt_float(b, sizeof b, p[i]);
    fprintf(f, "#%s\n", b);
  }
  cr_assert_eq(fclose(f), 0);
}

/* xgb_binary.rows: 4 rows of 6 features and XGBoost's probabilities. */
static size_t read_fixture_rows(float x[4 * 6], float p[4]) {
  size_t len;
  char *text = fr_file_read_all(fr_test_fixture("deploy/xgb_binary.rows"), &len, NULL);
  cr_assert_not_null(text);
  size_t n = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line && n < 4;
       line = strtok_r(NULL, "\n", &save), n++) {
    char *c = line;
    for (int j = 0; j < 7; j++) {
      size_t k = strcspn(c, ",#");
      double v;
      cr_assert_eq(fr_parse_double(c, k, &v), 0, "%s", line);
      if (j < 6)
        x[n * 6 + j] = (float)v;
      else
        p[n] = (float)v;
      c += k + (c[k] != '\0');
    }
  }
  free(text);
  return n;
}

Test(triton_cli, bare_xgboost_model_for_fil_and_onnx) {
  const char *tmp = fr_test_tmpdir();
  const char *repo = path2(tmp, "repo");
  const char *model = fr_test_fixture("deploy/xgb_binary.json");
  cr_assert_eq(fraud(tmp,
                     "export triton --model '%s' --out '%s' --name fil --threshold 0.7 "
                     "--max-batch-size 512 --preferred-batch-size 16,128 "
                     "--max-queue-delay-us 50 --instances 3",
                     model, repo),
               0, "%s", fraud_stderr(tmp));
  cr_assert(strstr(fraud_stderr(tmp), "wrote") != NULL, "%s", fraud_stderr(tmp));
  char want[65], got[65];
  cr_assert_eq(fr_sha256_file(model, want, NULL), 0);
  cr_assert_eq(fr_sha256_file(path2(repo, "fil/1/xgboost.json"), got, NULL), 0);
  cr_expect_str_eq(got, want);
  char *text = protoc_canonical(path2(repo, "fil"));
  cr_assert_not_null(text, "protoc could not parse the generated config");
  const char *expect[] = {
      "name: \"fil\"\n",
      "max_batch_size: 512\n",
      "input {\n  name: \"input__0\"\n  data_type: TYPE_FP32\n  dims: 6\n}\n",
      "instance_group {\n  count: 3\n  kind: KIND_CPU\n}\n",
      "dynamic_batching {\n  preferred_batch_size: 16\n  preferred_batch_size: 128\n  "
      "max_queue_delay_microseconds: 50\n}\n",
      "key: \"threshold\"\n  value {\n    string_value: \"0.7\"\n",
      "backend: \"fil\"\n",
  };
  for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
    cr_expect(strstr(text, expect[i]) != NULL, "missing:\n%s\nin:\n%s", expect[i], text);
  free(text);

  /* The repository read back the way the server reads a FIL layout, and
   * XGBoost itself on the exported file: XGBoost's recorded probabilities. */
  float x[24], p[4], ours[4];
  cr_assert_eq(read_fixture_rows(x, p), 4);
  fr_forest_dir info;
  fr_error err = {0};
  fr_forest *f = fr_forest_dir_load(path2(repo, "fil/1"), &info, &err);
  cr_assert_not_null(f, "%s", err.msg);
  cr_expect(info.has_config && info.output_class && !info.predict_proba);
  cr_expect_eq(info.threshold, 0.7);
  cr_assert_eq(fr_forest_predict(f, x, 4, ours), 0);
  for (int i = 0; i < 4; i++)
    cr_expect(fabsf(ours[i] - p[i]) <= 1e-6f, "row %d: %.9g vs XGBoost %.9g", i, ours[i], p[i]);
  fr_forest_free(f);
  const char *rows = path2(tmp, "rows.txt");
  write_rows(rows, x, ours, 4, 6);
  cr_expect_eq(check_repo(path2(repo, "fil/1"), rows), 0,
               "python3-xgboost on xgboost.json disagrees");

  /* --onnx: the ONNX Runtime backend's entry, "<name>-onnx" by default. */
  cr_assert_eq(fraud(tmp, "export triton --model '%s' --out '%s' --onnx --version 4", model, repo),
               0, "%s", fraud_stderr(tmp));
  cr_assert(fr_is_file(path2(repo, "fraud-onnx/4/model.onnx")));
  text = protoc_canonical(path2(repo, "fraud-onnx"));
  cr_assert_not_null(text, "protoc could not parse the ONNX config");
  cr_expect(strstr(text, "backend: \"onnxruntime\"") && strstr(text, "name: \"fraud-onnx\"") &&
                strstr(text, "dims: 6\n"),
            "%s", text);
  free(text);
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s/fraud-onnx/4/model.onnx' "
           "'%s/fraud-onnx/config.pbtxt'",
           fr_test_fixture("deploy/check_onnx_config.py"), repo, repo);
  cr_expect_eq(run(cmd), 0, "declared tensors do not match the ONNX graph");
  cr_expect_eq(check_repo(path2(repo, "fraud-onnx/4"), rows), 0,
               "the ONNX graph, evaluated per the operator spec, disagrees");
  /* Nothing else in the repository (no temporary file or directory). */
  snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s' | tr '\\n' ' ')\" = 'fil fraud-onnx '", repo);
  cr_expect_eq(run(cmd), 0, "stray files in %s", repo);
  fr_rm_rf(tmp, NULL);
}

Test(triton_cli, bundle_defaults_and_probabilities) {
  const char *tmp = fr_test_tmpdir();
  const char *bundle = path2(tmp, "models/sparkov/7");
  const char *data = fr_test_source("data/samples/sparkov/sparkov_windows.csv.gz");
  cr_assert_eq(fraud(tmp,
                     "train --schema sparkov --out '%s' --version 7 --n-estimators 20 "
                     "--early-stopping 0 --nthread 1 --quiet '%s'",
                     bundle, data),
               0, "%s", fraud_stderr(tmp));
  const char *repo = path2(tmp, "triton");
  cr_assert_eq(fraud(tmp, "export triton --model '%s' --out '%s'", bundle, repo), 0, "%s",
               fraud_stderr(tmp));
  cr_assert_eq(fraud(tmp, "export triton --model '%s' --out '%s' --onnx", bundle, repo), 0,
               "%s", fraud_stderr(tmp));

  fr_error err = {0};
  fr_bundle *b = fr_bundle_open(bundle, &err);
  cr_assert_not_null(b, "%s", err.msg);
  /* Name and version from the bundle, its decline threshold for FIL. */
  char *text = protoc_canonical(path2(repo, "sparkov"));
  cr_assert_not_null(text);
  char thr[64], line[128];
  fr_fmt_double(thr, sizeof thr, fr_bundle_thresholds(b).decline);
  snprintf(line, sizeof line, "key: \"threshold\"\n  value {\n    string_value: \"%s\"\n", thr);
  cr_expect(strstr(text, line) != NULL, "want %s in\n%s", line, text);
  snprintf(line, sizeof line, "dims: %zu\n", fr_forest_nfeatures(fr_bundle_forest(b)));
  cr_expect(strstr(text, "name: \"sparkov\"") && strstr(text, line), "%s", text);
  free(text);
  cr_assert(fr_is_file(path2(repo, "sparkov/7/xgboost.json")));
  cr_assert(fr_is_file(path2(repo, "sparkov-onnx/7/model.onnx")));
  char want[65], got[65];
  cr_assert_eq(fr_sha256_file(path2(bundle, "model.json"), want, NULL), 0);
  cr_assert_eq(fr_sha256_file(path2(repo, "sparkov/7/xgboost.json"), got, NULL), 0);
  cr_expect_str_eq(got, want);

  /* Our probabilities of the sample's rows (the bundle's featurizer and
   * forest, as `fraud predict` scores them), reproduced by both files. */
  fr_dataset *d = fr_dataset_read_csv(fr_bundle_schema(b), data, NULL, &err);
  cr_assert_not_null(d, "%s", err.msg);
  float *p = NULL;
  fr_table *t = fr_bundle_score_dataset(b, d, &p, &err);
  cr_assert_not_null(t, "%s", err.msg);
  size_t n = t->rows < 1500 ? t->rows : 1500;
  const char *rows = path2(tmp, "rows.txt");
  write_rows(rows, t->x, p, n, t->cols);
  cr_expect_eq(check_repo(path2(repo, "sparkov/7"), rows), 0,
               "python3-xgboost on the exported xgboost.json disagrees");
  cr_expect_eq(check_repo(path2(repo, "sparkov-onnx/7"), rows), 0,
               "the exported ONNX graph disagrees");
  free(p);
  fr_table_free(t);
  fr_dataset_free(d);
  fr_bundle_unref(b);
  fr_rm_rf(tmp, NULL);
}

Test(triton_cli, usage_errors_and_failures) {
  const char *tmp = fr_test_tmpdir();
  const char *repo = path2(tmp, "repo");
  const char *model = fr_test_fixture("deploy/xgb_binary.json");
  cr_expect_eq(fraud(tmp, "export triton --help"), 0);
  cr_expect_eq(fraud(tmp, "export triton --model '%s'", model), 2);
  cr_expect(strstr(fraud_stderr(tmp), "--out REPO is required"), "%s", fraud_stderr(tmp));
  cr_expect_eq(fraud(tmp, "export triton --out '%s'", repo), 2);
  cr_expect_eq(fraud(tmp, "export tensorrt --model '%s' --out '%s'", model, repo), 2);
  cr_expect(strstr(fraud_stderr(tmp), "onnx, triton"), "%s", fraud_stderr(tmp));
  cr_expect_eq(fraud(tmp, "export triton --model '%s' --out '%s' --bogus", model, repo), 2);
  cr_expect_eq(fraud(tmp, "export triton --model '%s' --out '%s' --threshold 1.5", model, repo),
               2);
  cr_expect_eq(fraud(tmp, "export triton --model '%s' --out '%s' --onnx --predict-proba", model,
                     repo),
               2);
  cr_expect_eq(fraud(tmp, "export triton --model '%s' --out '%s' --preferred-batch-size 8,x",
                     model, repo),
               2);
  cr_expect_eq(fraud(tmp, "export triton --model '%s' --out '%s' --max-batch-size 32 "
                          "--preferred-batch-size 64", model, repo),
               2);
  cr_expect(strstr(fraud_stderr(tmp), "exceeds --max-batch-size"), "%s", fraud_stderr(tmp));
  cr_expect(!fr_is_dir(repo), "a usage error wrote %s", repo);

  /* Failures (exit 1) name what is wrong. */
  cr_expect_eq(fraud(tmp, "export triton --model '%s/none.json' --out '%s'", tmp, repo), 1);
  cr_expect(strstr(fraud_stderr(tmp), "none.json"), "%s", fraud_stderr(tmp));
  /* A bad name or version is a usage error (exit 2), before any work. */
  cr_expect_eq(fraud(tmp, "export triton --model '%s' --out '%s' --name '../up'", model, repo),
               2);
  cr_expect(strstr(fraud_stderr(tmp), "'name'"), "%s", fraud_stderr(tmp));
  cr_expect_eq(fraud(tmp, "export triton --model '%s' --out '%s' --version 0", model, repo), 2);
  cr_expect(strstr(fraud_stderr(tmp), "'version'"), "%s", fraud_stderr(tmp));
  cr_assert_eq(fraud(tmp, "export triton --model '%s' --out '%s'", model, repo), 0);
  cr_expect_eq(fraud(tmp, "export triton --model '%s' --out '%s'", model, repo), 1);
  cr_expect(strstr(fraud_stderr(tmp), "already exists"), "%s", fraud_stderr(tmp));
  /* FIL takes XGBoost JSON; an ONNX model needs --onnx. */
  cr_expect_eq(fraud(tmp, "export triton --model '%s' --out '%s' --name s",
                     fr_test_fixture("deploy/stump.onnx"), repo),
               1);
  cr_expect(strstr(fraud_stderr(tmp), "use --onnx"), "%s", fraud_stderr(tmp));
  cr_expect(!fr_is_dir(path2(repo, "s")));
  fr_rm_rf(tmp, NULL);
}
