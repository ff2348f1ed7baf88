/* Tests src/model/forest_dir.c: model-repository version directories with
 * bare model files, laid out as for Triton's FIL backend.  The config.pbtxt
 * files come from the project's own Triton writer (fr_triton_write_fil,
 * whose output its tests check with protoc) and from the FIL backend
 * documentation's example written out by hand. */
#include <criterion/criterion.h>
#include <math.h>
#include <sys/stat.h>

#include "fr_test.h"
#include "fraud/model.h"

static void copy_file(const char *from, const char *to) {
  size_t len;
  char *d = fr_file_read_all(from, &len, NULL);
  cr_assert_not_null(d, "%s", from);
  cr_assert_eq(fr_file_write_atomic(to, d, len, NULL), 0);
  free(d);
}

static char *join(const char *a, const char *b) {
  char *p = fr_path_join(a, b);
  cr_assert_not_null(p);
  return p;
}

Test(forest_dir, reads_what_the_triton_writer_writes) {
  const char *repo = fr_test_tmpdir();
  char model[4096];
  snprintf(model, sizeof model, "%s", fr_test_fixture("model/xgb/d3_base04.model.json"));
  fr_triton_options o;
  fr_triton_options_default(&o);
  o.name = "fraud";
  o.version = "3";
  o.threshold = 0.3;
  o.predict_proba = 1;
  fr_error err;
  cr_assert_eq(fr_triton_write_fil(model, &o, repo, &err), 0, "%s", err.msg);
  char vdir[4096];
  snprintf(vdir, sizeof vdir, "%s/fraud/3", repo);
  fr_forest_dir d;
  cr_assert_eq(fr_forest_dir_read(vdir, &d, &err), 0, "%s", err.msg);
  cr_assert(d.has_config);
  cr_assert_eq(d.format, FR_FOREST_XGBOOST_JSON);
  cr_assert(strstr(d.model_path, "/fraud/3/xgboost.json") != NULL, "%s", d.model_path);
  cr_assert(strstr(d.config_path, "/fraud/config.pbtxt") != NULL, "%s", d.config_path);
  cr_assert_eq(d.output_class, 1);
  cr_assert_eq(d.predict_proba, 1);
  cr_assert_float_eq(d.threshold, 0.3, 1e-12);
  cr_assert_eq(d.max_batch_size, 8192);
  fr_forest *f = fr_forest_dir_load(vdir, NULL, &err), *g = fr_forest_load(model, 0, NULL);
  cr_assert_not_null(f, "%s", err.msg);
  float x[8] = {0.5f, NAN, 1, 2, -1, 0, 3, 100}, a, b;
  fr_forest_predict(f, x, 1, &a);
  fr_forest_predict(g, x, 1, &b);
  cr_assert_eq(a, b);
  fr_forest_free(f);
  fr_forest_free(g);
}

/* The example of the FIL backend's docs/model_config.md, with a LightGBM
 * model. */
static const char *fil_doc_config =
    "backend: \"fil\"\n"
    "max_batch_size: 32768\n"
    "input [\n"
    " {\n"
    "    name: \"input__0\"\n"
    "    data_type: TYPE_FP32\n"
    "    dims: [ 2 ]\n"
    "  }\n"
    "]\n"
    "output [\n"
    " {\n"
    "    name: \"output__0\"\n"
    "    data_type: TYPE_FP32\n"
    "    dims: [ 3 ]\n"
    "  }\n"
    "]\n"
    "instance_group [{ kind: KIND_AUTO }]\n"
    "parameters [\n"
    "  {\n"
    "    key: \"model_type\"\n"
    "    value: { string_value: \"lightgbm\" }\n"
    "  },\n"
    "  {\n"
    "    key: \"predict_proba\"\n"
    "    value: { string_value: \"true\" }\n"
    "  },\n"
    "  {\n"
    "    key: \"output_class\"\n"
    "    value: { string_value: \"true\" }\n"
    "  },\n"
    "  {\n"
    "    key: \"threshold\"\n"
    "    value: { string_value: \"0.5\" }\n"
    "  }\n"
    "]\n"
    "# comments and the other fields are ignored\n"
    "dynamic_batching { max_queue_delay_microseconds: 100 }\n";

static const char *make_repo(const char *config, const char *fixture, const char *file) {
  static char vdir[4096];
  const char *repo = fr_test_tmpdir();
  char *m = join(repo, "m");
  snprintf(vdir, sizeof vdir, "%s/1", m);
  cr_assert_eq(fr_mkdir_p(vdir, NULL), 0);
  if (config)
    fr_test_write(m, "config.pbtxt", config);
  if (fixture) {
    char *dst = join(vdir, file);
    copy_file(fr_test_fixture(fixture), dst);
    free(dst);
  }
  free(m);
  return vdir;
}

Test(forest_dir, fil_documentation_example) {
  const char *vdir = make_repo(fil_doc_config, "model/lightgbm/multiclass.txt", "model.txt");
  fr_forest_dir d;
  fr_error err;
  fr_forest *f = fr_forest_dir_load(vdir, &d, &err);
  cr_assert_not_null(f, "%s", err.msg);
  cr_assert_eq(d.format, FR_FOREST_LIGHTGBM_TEXT);
  cr_assert_eq(d.max_batch_size, 32768);
  cr_assert(d.output_class && d.predict_proba);
  cr_assert_eq(fr_forest_noutputs(f), 3);
  fr_forest_free(f);
}

Test(forest_dir, onnx_by_platform_and_default_model_filename) {
  /* Triton's ONNX Runtime layout with a renamed file; single quotes,
   * '<>' message brackets and ';' separators are text format too. */
  const char *cfg = "platform: 'onnxruntime_onnx'; default_model_filename: \"custom.onnx\"\n"
                    "optimization < execution_accelerators { } >\n";
  const char *vdir = make_repo(cfg, "model/onnx/d3_base04_lt.onnx", "custom.onnx");
  fr_forest_dir d;
  fr_error err;
  fr_forest *f = fr_forest_dir_load(vdir, &d, &err);
  cr_assert_not_null(f, "%s", err.msg);
  cr_assert_eq(d.format, FR_FOREST_ONNX);
  cr_assert(strstr(d.model_path, "custom.onnx") != NULL);
  fr_forest_free(f);
}

Test(forest_dir, no_config_probes_the_usual_names) {
  const char *vdir = make_repo(NULL, "model/lightgbm/binary.txt", "model.txt");
  fr_forest_dir d;
  fr_error err;
  cr_assert_eq(fr_forest_dir_read(vdir, &d, &err), 0, "%s", err.msg);
  cr_assert_eq(d.has_config, 0);
  cr_assert_eq(d.format, FR_FOREST_AUTO);
  cr_assert(strstr(d.model_path, "model.txt") != NULL);
  cr_assert_float_eq(d.threshold, 0.5, 0);
  fr_forest *f = fr_forest_dir_load(vdir, NULL, &err);
  cr_assert_not_null(f, "%s", err.msg);
  cr_assert_eq(fr_forest_format_of(f), FR_FOREST_LIGHTGBM_TEXT);
  fr_forest_free(f);
}

Test(forest_dir, errors) {
  struct {
    const char *config;
    int code;
    const char *expect;
  } cases[] = {
      {"parameters { key: \"model_type\" value { string_value: \"xgboost\" } }", FR_EFORMAT,
       "not supported"},
      {"parameters { key: \"model_type\" value { string_value: \"treelite_checkpoint\" } }",
       FR_EFORMAT, "treelite"},
      {"backend: \"fil\"\nparameters { key: \"threshold\" value { string_value: \"abc\" } }",
       FR_EFORMAT, "threshold"},
      {"default_model_filename: \"../etc/passwd\"", FR_EFORMAT, "plain file name"},
      {"backend: \"fil\"\nmax_batch_size: -3", FR_EFORMAT, "max_batch_size"},
      {"backend: \"fil\"\ninput [ { name: \"x\" ", FR_EPARSE, "config.pbtxt:2"},
      {"backend \"fil\"", FR_EPARSE, "':'"},
      {"name: \"unterminated", FR_EPARSE, "value"},
      {"default_model_filename: \"missing.json\"", FR_ENOTFOUND, "missing.json"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *vdir = make_repo(cases[i].config, "model/lightgbm/binary.txt", "model.txt");
    fr_forest_dir d;
    fr_error err;
    int rc = fr_forest_dir_read(vdir, &d, &err);
    cr_assert_eq(rc, cases[i].code, "case %zu: rc %d (%s)", i, rc, err.msg);
    cr_assert(strstr(err.msg, cases[i].expect) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg,
              cases[i].expect);
  }
  const char *empty = make_repo(NULL, NULL, NULL);
  fr_forest_dir d;
  fr_error err;
  cr_assert_eq(fr_forest_dir_read(empty, &d, &err), FR_ENOTFOUND);
  cr_assert(strstr(err.msg, "no model file") != NULL, "%s", err.msg);
  /* Deep nesting is refused, not a stack overflow. */
  char deep[4096] = "a ";
  for (int i = 0; i < 1000; i++)
    strcat(deep, "{");
  const char *vd = make_repo(deep, "model/lightgbm/binary.txt", "model.txt");
  cr_assert_eq(fr_forest_dir_read(vd, &d, &err), FR_EPARSE);
}

Test(forest_dir, fil_output_semantics) {
  fr_forest *bin = fr_forest_load(fr_test_fixture("model/lightgbm/sigmoid2_average.txt"), 0, NULL);
  fr_forest *multi = fr_forest_load(fr_test_fixture("model/lightgbm/multiclass.txt"), 0, NULL);
  cr_assert(bin && multi);
  fr_forest_dir d = {0};
  d.threshold = 0.4;
  float p[3] = {0.25f, 0.4f, 0.9f}, out[9];
  /* neither flag: the prediction */
  cr_assert_eq(fr_forest_dir_output_width(bin, &d), 1);
  fr_forest_dir_output(bin, &d, p, 3, out);
  cr_assert(out[0] == 0.25f && out[2] == 0.9f);
  /* output_class: class id by threshold (0.4 is at the threshold: class 1) */
  d.output_class = 1;
  fr_forest_dir_output(bin, &d, p, 3, out);
  cr_assert(out[0] == 0 && out[1] == 1 && out[2] == 1);
  /* predict_proba: [1 - p, p] */
  d.predict_proba = 1;
  cr_assert_eq(fr_forest_dir_output_width(bin, &d), 2);
  fr_forest_dir_output(bin, &d, p, 3, out);
  cr_assert(out[0] == 0.75f && out[1] == 0.25f && out[5] == 0.9f);
  /* multi-class: probabilities as they are, or the argmax */
  float q[6] = {0.2f, 0.5f, 0.3f, 0.4f, 0.4f, 0.2f};
  cr_assert_eq(fr_forest_dir_output_width(multi, &d), 3);
  d.predict_proba = 0;
  fr_forest_dir_output(multi, &d, q, 2, out);
  cr_assert(out[0] == 1 && out[1] == 0, "argmax, first on ties");
  fr_forest_free(bin);
  fr_forest_free(multi);
}
