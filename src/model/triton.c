/*
 * triton.c - writes a Triton Inference Server model repository for a model,
 * so that the same XGBoost model the fraud server scores can be served by
 * Triton's FIL backend (or, from its ONNX export, by the ONNX Runtime
 * backend) when a platform team already runs Triton.
 *
 * Formats: config.pbtxt is the Protocol Buffers text format of Triton's
 * ModelConfig message (triton-inference-server/common,
 * protobuf/model_config.proto); FIL's parameters (model_type, output_class /
 * is_classifier, predict_proba, threshold) and file names (xgboost.json) come
 * from the FIL backend's docs/model_config.md.  Each model directory is
 * assembled in a temporary sibling and renamed into place, so Triton polling
 * the repository never sees half a model.
 */
#include "fraud/model.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A growing text buffer for config.pbtxt; numbers go through the C-locale
 * printf so a decimal-comma locale cannot change the file. */
typedef struct tbuf {
  char *p;
  size_t len, cap;
  int oom;
} tbuf;

static void tb_printf(tbuf *b, const char *fmt, ...) FR_PRINTF(2, 3);

static void tb_printf(tbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = fr_vsnprintf_c(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt,
                           ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if (b->p && (size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    size_t want = b->len + (size_t)n + 1;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < want) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
}

void fr_triton_options_default(fr_triton_options *o) {
  memset(o, 0, sizeof *o);
  o->version = "1";
  /* A fraud score is one row per request; batches form only under load, so
   * the limit matters for memory, not latency: 8192 rows of a few hundred
   * features is a few MiB. */
  o->max_batch_size = 8192;
  o->preferred_batch_sizes[0] = 64;
  o->preferred_batch_sizes[1] = 256;
  o->preferred_batch_sizes[2] = 1024;
  /* 100 us keeps the queueing cost well under the server's p99 target while
   * still letting concurrent requests share one forest traversal. */
  o->max_queue_delay_us = 100;
  o->instance_count = 2;
  o->threshold = 0.5;
  o->predict_proba = 0;
}

static int valid_name(const char *s) {
  if (!s || !*s || strlen(s) > 200 || s[0] == '.') return 0;
  for (const char *c = s; *c; c++) {
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
          (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.'))
      return 0;
  }
  return 1;
}

static int valid_version(const char *s) {
  if (!s || !*s || strlen(s) > 18) return 0;
  for (const char *c = s; *c; c++)
    if (*c < '0' || *c > '9') return 0;
  /* Triton reads version directories as positive integers. */
  return strspn(s, "0") != strlen(s);
}

int fr_triton_options_check(const fr_triton_options *o, fr_error *err) {
  if (!o) return fr_error_set(err, FR_EINVAL, "triton: options are NULL");
  if (!valid_name(o->name))
    return fr_error_set(err, FR_EINVAL,
                        "triton: field 'name': '%s' is not a model directory "
                        "name (letters, digits, '_', '-', '.'; not starting "
                        "with '.')",
                        o->name ? o->name : "(null)");
  if (!valid_version(o->version))
    return fr_error_set(err, FR_EINVAL,
                        "triton: field 'version': '%s' is not a positive "
                        "integer",
                        o->version ? o->version : "(null)");
  if (o->max_batch_size < 1)
    return fr_error_set(err, FR_EINVAL,
                        "triton: field 'max_batch_size': %d must be >= 1",
                        o->max_batch_size);
  for (size_t i = 0; i < 4 && o->preferred_batch_sizes[i]; i++) {
    int s = o->preferred_batch_sizes[i];
    if (s < 0 || s > o->max_batch_size)
      return fr_error_set(err, FR_EINVAL,
                          "triton: field 'preferred_batch_sizes[%zu]': %d "
                          "must be in 1..max_batch_size (%d)",
                          i, s, o->max_batch_size);
  }
  if (o->instance_count < 1)
    return fr_error_set(err, FR_EINVAL,
                        "triton: field 'instance_count': %d must be >= 1",
                        o->instance_count);
  if (!(o->threshold >= 0.0 && o->threshold <= 1.0))
    return fr_error_set(err, FR_EINVAL,
                        "triton: field 'threshold': must be a probability "
                        "in [0, 1]");
  if (o->predict_proba != 0 && o->predict_proba != 1)
    return fr_error_set(err, FR_EINVAL,
                        "triton: field 'predict_proba': %d must be 0 or 1",
                        o->predict_proba);
  return 0;
}

/* The parts of config.pbtxt that both backends share, after the I/O. */
static void write_scheduling(tbuf *b, const fr_triton_options *o) {
  tb_printf(b, "instance_group [\n  {\n    kind: KIND_CPU\n    count: %d\n"
               "  }\n]\n",
            o->instance_count);
  tb_printf(b, "dynamic_batching {\n");
  if (o->preferred_batch_sizes[0] > 0) {
    tb_printf(b, "  preferred_batch_size: [ ");
    for (size_t i = 0; i < 4 && o->preferred_batch_sizes[i]; i++)
      tb_printf(b, "%s%d", i ? ", " : "", o->preferred_batch_sizes[i]);
    tb_printf(b, " ]\n");
  }
  tb_printf(b, "  max_queue_delay_microseconds: %llu\n}\n",
            (unsigned long long)o->max_queue_delay_us);
}

static void write_param(tbuf *b, const char *key, const char *value,
                        int last) {
  tb_printf(b, "  {\n    key: \"%s\"\n    value: { string_value: \"%s\" }\n"
               "  }%s\n",
            key, value, last ? "" : ",");
}

/* Reads num_feature and the objective's name from an XGBoost JSON model
 * (learner.learner_model_param.num_feature is a decimal string;
 * learner.objective.name e.g. "binary:logistic"). */
static int read_xgboost_meta(const char *path, size_t *nfeatures,
                             char *objective, size_t objcap, fr_error *err) {
  size_t len = 0;
  char *text = fr_file_read_all(path, &len, err);
  if (!text) return err ? err->code : FR_EIO;
  json_error_t jerr;
  json_t *root = json_loadb(text, len, 0, &jerr);
  free(text);
  if (!root)
    return fr_error_set(err, FR_EFORMAT,
                        "%s:%d:%d: not an XGBoost JSON model: %s", path,
                        jerr.line, jerr.column, jerr.text);
  int rc = 0;
  json_t *learner = json_object_get(root, "learner");
  json_t *param = json_object_get(learner, "learner_model_param");
  json_t *nf = json_object_get(param, "num_feature");
  json_t *obj = json_object_get(json_object_get(learner, "objective"), "name");
  int64_t n = 0;
  if (!json_is_string(nf) ||
      fr_parse_int64(json_string_value(nf), json_string_length(nf), &n) ||
      n < 1) {
    rc = fr_error_set(err, FR_EFORMAT,
                      "%s: not an XGBoost JSON model: "
                      "learner.learner_model_param.num_feature is missing or "
                      "not a positive integer",
                      path);
  } else if (!json_is_string(obj)) {
    rc = fr_error_set(err, FR_EFORMAT,
                      "%s: not an XGBoost JSON model: learner.objective.name "
                      "is missing",
                      path);
  } else {
    *nfeatures = (size_t)n;
    snprintf(objective, objcap, "%s", json_string_value(obj));
  }
  json_decref(root);
  return rc;
}

static int copy_file(const char *from, const char *to, fr_error *err) {
  size_t len = 0;
  char *data = fr_file_read_all(from, &len, err);
  if (!data) return err ? err->code : FR_EIO;
  int rc = fr_file_write_atomic(to, data, len, err);
  free(data);
  return rc;
}

/* Assembles REPO/<name>/ in a temporary sibling, then renames it into
 * place.  `model_src` is copied to <version>/<model_file>. */
static int write_model_dir(const char *repo, const fr_triton_options *o,
                           const char *model_src, const char *model_file,
                           const tbuf *config, fr_error *err) {
  int rc = fr_mkdir_p(repo, err);
  if (rc) return rc;
  char *final = fr_path_join(repo, o->name);
  char tmpname[256];
  snprintf(tmpname, sizeof tmpname, ".%s.tmp.%ld", o->name, (long)getpid());
  char *tmp = fr_path_join(repo, tmpname);
  char *vdir = tmp ? fr_path_join(tmp, o->version) : NULL;
  char *cfg = tmp ? fr_path_join(tmp, "config.pbtxt") : NULL;
  char *dst = vdir ? fr_path_join(vdir, model_file) : NULL;
  struct stat st;
  if (!final || !tmp || !vdir || !cfg || !dst) {
    rc = fr_error_set(err, FR_ENOMEM, "triton: out of memory");
    goto out;
  }
  if (lstat(final, &st) == 0) {
    rc = fr_error_set(err, FR_EEXIST,
                      "triton: %s already exists (a model directory is "
                      "written once; remove it or choose another name)",
                      final);
    goto out;
  }
  (void)fr_rm_rf(tmp, NULL); /* a leftover of a crashed run */
  if ((rc = fr_mkdir_p(vdir, err)) != 0) goto out;
  if ((rc = copy_file(model_src, dst, err)) != 0) goto out;
  if ((rc = fr_file_write_atomic(cfg, config->p, config->len, err)) != 0)
    goto out;
  if (rename(tmp, final) != 0) {
    rc = fr_error_set(err, FR_EIO, "triton: cannot rename %s to %s: %s", tmp,
                      final, strerror(errno));
    goto out;
  }
out:
  if (rc && tmp) (void)fr_rm_rf(tmp, NULL);
  free(final);
  free(tmp);
  free(vdir);
  free(cfg);
  free(dst);
  return rc;
}

static void write_header(tbuf *b, const char *what, const char *src) {
  const char *base = strrchr(src, '/');
  base = base ? base + 1 : src;
  tb_printf(b, "# Triton model configuration (%s), written by fraud %s\n"
               "# from %s.  Protocol Buffers text format of Triton's\n"
               "# ModelConfig; see docs/deploy.md.\n",
            what, fr_version(), base);
}

int fr_triton_write_fil(const char *model_json_path,
                        const fr_triton_options *o, const char *repo,
                        fr_error *err) {
  if (!model_json_path || !repo)
    return fr_error_set(err, FR_EINVAL,
                        "triton: model path and repository are required");
  int rc = fr_triton_options_check(o, err);
  if (rc) return rc;
  size_t nfeatures = 0;
  char objective[64];
  rc = read_xgboost_meta(model_json_path, &nfeatures, objective,
                         sizeof objective, err);
  if (rc) return rc;
  /* FIL's classifier output (class id at a threshold, or [P(0), P(1)]) is
   * what a fraud client wants; other objectives would need a different
   * output declaration, so they are refused rather than mis-described. */
  if (strcmp(objective, "binary:logistic") != 0 &&
      strcmp(objective, "binary:logitraw") != 0)
    return fr_error_set(err, FR_EFORMAT,
                        "%s: objective '%s' is not supported for the Triton "
                        "FIL export (binary:logistic or binary:logitraw)",
                        model_json_path, objective);

  char thr[32];
  fr_fmt_double(thr, sizeof thr, o->threshold);
  tbuf b = {0};
  write_header(&b, "FIL backend", model_json_path);
  tb_printf(&b, "name: \"%s\"\nbackend: \"fil\"\nmax_batch_size: %d\n",
            o->name, o->max_batch_size);
  tb_printf(&b, "input [\n  {\n    name: \"input__0\"\n"
                "    data_type: TYPE_FP32\n    dims: [ %zu ]\n  }\n]\n",
            nfeatures);
  tb_printf(&b, "output [\n  {\n    name: \"output__0\"\n"
                "    data_type: TYPE_FP32\n    dims: [ %d ]\n  }\n]\n",
            o->predict_proba ? 2 : 1);
  write_scheduling(&b, o);
  tb_printf(&b, "parameters [\n");
  write_param(&b, "model_type", "xgboost_json", 0);
  /* output_class is the name FIL releases before 25.09 read; from 25.09 on
   * it is is_classifier and the old name is still honoured with a warning.
   * Writing both keeps one repository loadable by either. */
  write_param(&b, "output_class", "true", 0);
  write_param(&b, "is_classifier", "true", 0);
  write_param(&b, "predict_proba", o->predict_proba ? "true" : "false", 0);
  write_param(&b, "threshold", thr, 1);
  tb_printf(&b, "]\n");
  if (b.oom) {
    free(b.p);
    return fr_error_set(err, FR_ENOMEM, "triton: out of memory");
  }
  rc = write_model_dir(repo, o, model_json_path, "xgboost.json", &b, err);
  free(b.p);
  return rc;
}

static int valid_tensor_name(const char *s) {
  if (!s || !*s) return 0;
  for (const char *c = s; *c; c++)
    if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) return 0;
  return 1;
}

int fr_triton_write_onnx(const char *onnx_path, size_t nfeatures,
                         const char *input_name, const char *label_name,
                         const char *proba_name, const fr_triton_options *o,
                         const char *repo, fr_error *err) {
  if (!onnx_path || !repo)
    return fr_error_set(err, FR_EINVAL,
                        "triton: model path and repository are required");
  int rc = fr_triton_options_check(o, err);
  if (rc) return rc;
  if (nfeatures == 0)
    return fr_error_set(err, FR_EINVAL, "triton: nfeatures must be >= 1");
  if (!valid_tensor_name(input_name) || !valid_tensor_name(proba_name) ||
      (label_name && !valid_tensor_name(label_name)))
    return fr_error_set(err, FR_EINVAL,
                        "triton: tensor names must be non-empty and free of "
                        "quotes, backslashes and control characters");
  if (!fr_is_file(onnx_path))
    return fr_error_set(err, FR_EIO, "triton: %s: no such file", onnx_path);

  tbuf b = {0};
  write_header(&b, "ONNX Runtime backend", onnx_path);
  tb_printf(&b, "name: \"%s\"\nbackend: \"onnxruntime\"\nmax_batch_size: %d\n",
            o->name, o->max_batch_size);
  tb_printf(&b, "input [\n  {\n    name: \"%s\"\n"
                "    data_type: TYPE_FP32\n    dims: [ %zu ]\n  }\n]\n",
            input_name, nfeatures);
  tb_printf(&b, "output [\n");
  if (label_name)
    /* The graph's label is 1-D [N]; with batching Triton needs a non-empty
     * per-row shape, so it is declared [1] and reshaped to []. */
    tb_printf(&b, "  {\n    name: \"%s\"\n    data_type: TYPE_INT64\n"
                  "    dims: [ 1 ]\n    reshape: { shape: [ ] }\n  },\n",
              label_name);
  tb_printf(&b, "  {\n    name: \"%s\"\n    data_type: TYPE_FP32\n"
                "    dims: [ 2 ]\n  }\n]\n",
            proba_name);
  write_scheduling(&b, o);
  if (b.oom) {
    free(b.p);
    return fr_error_set(err, FR_ENOMEM, "triton: out of memory");
  }
  rc = write_model_dir(repo, o, onnx_path, "model.onnx", &b, err);
  free(b.p);
  return rc;
}
