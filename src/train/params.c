/*
 * params.c - training parameters read from a YAML file (`fraud train
 * --params FILE`) and their range checks.
 *
 * The keys are the XGBoost names fr_train_params_json writes, so the
 * `params` object of a trials-log line (JSON is YAML) can be given back to
 * `fraud train`.  Only the keys present change the parameters: a file holds
 * what differs from the defaults, and flags on the command line override it.
 */
#include "fraud/train.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

int fr_train_params_check(const fr_train_params *p, fr_error *err) {
  if (!p)
    return fr_error_set(err, FR_EINVAL, "train: NULL parameters");
#define BAD(cond, name, fmt, v)                                              \
  if (cond)                                                                  \
    return fr_error_set(err, FR_EINVAL, "train: parameter %s = " fmt " %s", \
                        name, v, "is out of range");
  BAD(p->n_estimators < 1, "n_estimators", "%d", p->n_estimators)
  BAD(p->early_stopping_rounds < 0, "early_stopping_rounds", "%d",
      p->early_stopping_rounds)
  BAD(p->max_depth < 0, "max_depth", "%d", p->max_depth)
  BAD(!(p->eta > 0 && p->eta <= 1), "eta", "%g", p->eta)
  BAD(!(p->min_child_weight >= 0), "min_child_weight", "%g",
      p->min_child_weight)
  BAD(!(p->subsample > 0 && p->subsample <= 1), "subsample", "%g",
      p->subsample)
  BAD(!(p->colsample_bytree > 0 && p->colsample_bytree <= 1),
      "colsample_bytree", "%g", p->colsample_bytree)
  BAD(!(p->lambda >= 0), "lambda", "%g", p->lambda)
  BAD(!(p->alpha >= 0), "alpha", "%g", p->alpha)
  BAD(!(p->gamma >= 0), "gamma", "%g", p->gamma)
  BAD(isnan(p->scale_pos_weight) || isinf(p->scale_pos_weight), "scale_pos_weight", "%g",
      p->scale_pos_weight)
  BAD(!(p->base_score < 1) || isnan(p->base_score), "base_score", "%g",
      p->base_score)
  BAD(p->max_bin < 2, "max_bin", "%d", p->max_bin)
  BAD(p->nthread < 0, "nthread", "%d", p->nthread)
  BAD(p->seed > (uint64_t)INT64_MAX, "seed", "%llu",
      (unsigned long long)p->seed)
#undef BAD
  const char *tm = p->tree_method ? p->tree_method : "hist";
  if (strcmp(tm, "hist") && strcmp(tm, "exact") && strcmp(tm, "approx"))
    return fr_error_set(err, FR_EINVAL,
                        "train: parameter tree_method = '%s' is not one of "
                        "hist, exact, approx",
                        tm);
  return 0;
}

/* Parameters a file may set.  tree_method is a string; the others are
 * numbers, `is_int` ones integers within [lo, hi]. */
enum ptype { P_INT, P_DOUBLE, P_U64, P_METHOD };
static const struct pkey {
  const char *name;
  enum ptype type;
  size_t off;
  double lo, hi;
} KEYS[] = {
    {"n_estimators", P_INT, offsetof(fr_train_params, n_estimators), 1, 1e7},
    {"early_stopping_rounds", P_INT,
     offsetof(fr_train_params, early_stopping_rounds), 0, 1e7},
    {"max_depth", P_INT, offsetof(fr_train_params, max_depth), 0, 64},
    {"eta", P_DOUBLE, offsetof(fr_train_params, eta), 0, 1},
    {"min_child_weight", P_DOUBLE, offsetof(fr_train_params, min_child_weight),
     0, INFINITY},
    {"subsample", P_DOUBLE, offsetof(fr_train_params, subsample), 0, 1},
    {"colsample_bytree", P_DOUBLE, offsetof(fr_train_params, colsample_bytree),
     0, 1},
    {"lambda", P_DOUBLE, offsetof(fr_train_params, lambda), 0, INFINITY},
    {"alpha", P_DOUBLE, offsetof(fr_train_params, alpha), 0, INFINITY},
    {"gamma", P_DOUBLE, offsetof(fr_train_params, gamma), 0, INFINITY},
    {"scale_pos_weight", P_DOUBLE, offsetof(fr_train_params, scale_pos_weight),
     -INFINITY, INFINITY},
    {"base_score", P_DOUBLE, offsetof(fr_train_params, base_score), -INFINITY,
     1},
    {"max_bin", P_INT, offsetof(fr_train_params, max_bin), 2, 1e7},
    {"tree_method", P_METHOD, offsetof(fr_train_params, tree_method), 0, 0},
    {"nthread", P_INT, offsetof(fr_train_params, nthread), 0, 4096},
    {"seed", P_U64, offsetof(fr_train_params, seed), 0, 0},
};
#define NKEYS (sizeof KEYS / sizeof *KEYS)

static int set_key(const fr_yaml_doc *doc, const fr_yaml_node *n,
                   const struct pkey *k, fr_train_params *p, fr_error *err) {
  char *base = (char *)p + k->off;
  int rc;
  switch (k->type) {
  case P_METHOD: {
    /* The parameters borrow the string: point at static ones. */
    static const char *const methods[] = {"hist", "exact", "approx"};
    const char *s;
    if ((rc = fr_yaml_as_string(doc, n, k->name, &s, err)))
      return rc;
    for (size_t i = 0; i < 3; i++)
      if (strcmp(s, methods[i]) == 0) {
        memcpy(base, &methods[i], sizeof(const char *));
        return 0;
      }
    return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                         "tree_method '%s' is not one of hist, exact, approx",
                         s);
  }
  case P_U64: {
    int64_t v;
    if ((rc = fr_yaml_as_int(doc, n, k->name, &v, err)))
      return rc;
    if (v < 0)
      return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                           "seed %lld must be >= 0", (long long)v);
    uint64_t u = (uint64_t)v;
    memcpy(base, &u, sizeof u);
    return 0;
  }
  case P_INT: {
    int64_t v;
    if ((rc = fr_yaml_as_int(doc, n, k->name, &v, err)))
      return rc;
    if ((double)v < k->lo || (double)v > k->hi)
      return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                           "%s = %lld is outside [%g, %g]", k->name,
                           (long long)v, k->lo, k->hi);
    int iv = (int)v;
    memcpy(base, &iv, sizeof iv);
    return 0;
  }
  case P_DOUBLE: {
    double v;
    if ((rc = fr_yaml_as_double(doc, n, k->name, &v, err)))
      return rc;
    /* eta and the sampling ratios exclude 0; base_score excludes 1. */
    int open_lo = strcmp(k->name, "eta") == 0 ||
                  strcmp(k->name, "subsample") == 0 ||
                  strcmp(k->name, "colsample_bytree") == 0;
    int open_hi = strcmp(k->name, "base_score") == 0;
    if (isnan(v) || v < k->lo || v > k->hi || (open_lo && v <= k->lo) ||
        (open_hi && v >= k->hi))
      return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                           "%s = %g is outside %s%g, %g%s", k->name, v,
                           open_lo ? "(" : "[", k->lo, k->hi,
                           open_hi ? ")" : "]");
    memcpy(base, &v, sizeof v);
    return 0;
  }
  }
  return FR_EINVAL;
}

static int from_doc(const fr_yaml_doc *doc, fr_train_params *p,
                    fr_error *err) {
  const fr_yaml_node *root = doc->root;
  if (!root)
    return 0; /* an empty file changes nothing */
  if (root->type != FR_YAML_MAP)
    return fr_yaml_error(doc, root, err, FR_ESCHEMA,
                         "training parameters must be a map of name: value");
  const char *allowed[NKEYS + 1];
  for (size_t i = 0; i < NKEYS; i++)
    allowed[i] = KEYS[i].name;
  allowed[NKEYS] = NULL;
  int rc = fr_yaml_check_keys(doc, root, "training parameters", allowed, err);
  if (rc)
    return rc;
  fr_train_params q = *p; /* all or nothing */
  for (size_t i = 0; i < NKEYS; i++) {
    const fr_yaml_node *n = fr_yaml_get(root, KEYS[i].name);
    if (n && (rc = set_key(doc, n, &KEYS[i], &q, err)))
      return rc;
  }
  *p = q;
  return 0;
}

int fr_train_params_parse(const char *yaml, size_t len, const char *origin,
                          fr_train_params *p, fr_error *err) {
  if (!yaml || !p)
    return fr_error_set(err, FR_EINVAL, "train: NULL parameters text");
  fr_yaml_doc *doc = fr_yaml_load_string(yaml, len, origin ? origin : "params",
                                         err);
  if (!doc)
    return err ? err->code : FR_EPARSE;
  int rc = from_doc(doc, p, err);
  fr_yaml_free(doc);
  return rc;
}

int fr_train_params_load(const char *path, fr_train_params *p, fr_error *err) {
  if (!path || !p)
    return fr_error_set(err, FR_EINVAL, "train: NULL parameters file");
  fr_yaml_doc *doc = fr_yaml_load_file(path, err);
  if (!doc)
    return err ? err->code : FR_EIO;
  int rc = from_doc(doc, p, err);
  fr_yaml_free(doc);
  return rc;
}
