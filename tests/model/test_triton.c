/* Tests src/model/triton.c: the Triton model repository writer.
 *
 * Independent checks: every config.pbtxt is parsed by protobuf's own text
 * format parser (protoc --encode, then --decode to canonical text) against
 * the fields of Triton's ModelConfig schema (tests/fixtures/deploy/
 * triton_model_config.proto); the feature count comes from a model XGBoost
 * wrote (tests/fixtures/deploy/make_fixtures.py: 6 features); the ONNX
 * declaration is compared with the graph by python3-onnx. */
#include <criterion/criterion.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fr_test.h"
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
