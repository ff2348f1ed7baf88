/*
 * model_case.h - reads the golden cases that
 * tests/fixtures/model/make_fixtures.py writes: a model file plus input rows
 * and XGBoost's own margins, predictions and SHAP contributions for them.
 *
 * The directory is $FRAUD_MODEL_CASES when set (the large set generated at
 * test time by tests/model/tests.cmake), else tests/fixtures/model/xgb.
 */
#ifndef FR_MODEL_CASE_H
#define FR_MODEL_CASE_H

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fr_test.h"
#include "fraud/common.h"

typedef struct model_case {
  char name[128];
  char model_path[4096];
  char objective[64];
  size_t n, nf, nout;
  float *x;      /* n x nf */
  float *margin; /* n x nout */
  float *pred;   /* n x nout */
  size_t ncontrib; /* rows with contributions (may be < n) */
  float *contribs; /* ncontrib x nout x (nf + 1) */
} model_case;

static inline const char *model_case_dir(void) {
  const char *d = getenv("FRAUD_MODEL_CASES");
  return d && *d ? d : fr_test_fixture("model/xgb");
}

static inline int model_case_num(const json_t *v, float *out) {
  if (json_is_number(v)) {
    *out = (float)json_number_value(v);
    return 0;
  }
  if (json_is_string(v)) {
    double d;
    const char *s = json_string_value(v);
    if (fr_parse_double(s, strlen(s), &d) == 0) {
      *out = (float)d;
      return 0;
    }
  }
  return -1;
}

/* Flattens a nested JSON array of numbers into out (count must match). */
static inline int model_case_flatten(const json_t *a, float *out, size_t cap,
                                     size_t *k) {
  if (json_is_array(a)) {
    for (size_t i = 0; i < json_array_size(a); i++)
      if (model_case_flatten(json_array_get(a, i), out, cap, k))
        return -1;
    return 0;
  }
  if (*k >= cap || model_case_num(a, &out[*k]))
    return -1;
  (*k)++;
  return 0;
}

static inline void model_case_free(model_case *c) {
  free(c->x);
  free(c->margin);
  free(c->pred);
  free(c->contribs);
  memset(c, 0, sizeof *c);
}

/* Loads case `name` from dir.  Returns 0 or -1. */
static inline int model_case_load(const char *dir, const char *name,
                                  model_case *c) {
  memset(c, 0, sizeof *c);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.case.json", dir, name);
  json_error_t je;
  json_t *root = json_load_file(path, 0, &je);
  if (!root)
    return -1;
  snprintf(c->name, sizeof c->name, "%s", name);
  snprintf(c->model_path, sizeof c->model_path, "%s/%s", dir,
           json_string_value(json_object_get(root, "model")));
  snprintf(c->objective, sizeof c->objective, "%s",
           json_string_value(json_object_get(root, "objective")));
  c->nf = (size_t)json_integer_value(json_object_get(root, "nfeatures"));
  c->nout = (size_t)json_integer_value(json_object_get(root, "noutputs"));
  json_t *x = json_object_get(root, "x");
  c->n = json_array_size(x);
  c->x = malloc(c->n * c->nf * sizeof(float) + 1);
  c->margin = malloc(c->n * c->nout * sizeof(float) + 1);
  c->pred = malloc(c->n * c->nout * sizeof(float) + 1);
  size_t k = 0, km = 0, kp = 0;
  int bad = model_case_flatten(x, c->x, c->n * c->nf, &k) ||
            k != c->n * c->nf ||
            model_case_flatten(json_object_get(root, "margin"), c->margin,
                               c->n * c->nout, &km) ||
            km != c->n * c->nout ||
            model_case_flatten(json_object_get(root, "pred"), c->pred,
                               c->n * c->nout, &kp) ||
            kp != c->n * c->nout;
  json_t *ct = json_object_get(root, "contribs");
  if (!bad && ct) {
    c->ncontrib = json_array_size(ct);
    size_t cap = c->ncontrib * c->nout * (c->nf + 1);
    size_t kc = 0;
    c->contribs = malloc(cap * sizeof(float) + 1);
    bad = model_case_flatten(ct, c->contribs, cap, &kc) || kc != cap;
  }
  json_decref(root);
  if (bad) {
    model_case_free(c);
    return -1;
  }
  return 0;
}

/* Names listed in dir/cases.json; returns a json array (caller decrefs). */
static inline json_t *model_case_names(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/cases.json", dir);
  json_error_t je;
  return json_load_file(path, 0, &je);
}

#endif
