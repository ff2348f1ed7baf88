/*
 * trainer.c - gradient-boosted trees with XGBoost's C API: binary:logistic on
 * the training slice, early stopping on the validation slice's aucpr, the
 * model cut to its best round and returned as XGBoost JSON (the format the
 * forest engine and every XGBoost binding load).
 *
 * The boosting loop is ours (XGBoosterUpdateOneIter + XGBoosterEvalOneIter)
 * rather than a library callback, so that progress, cancellation and early
 * stopping are plain C; the stopping rule copies python-xgboost's
 * EarlyStopping callback so that the two agree round for round (tested).
 */
#include "fraud/train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/xgb.h"

void fr_train_params_default(fr_train_params *p) {
  memset(p, 0, sizeof *p);
  p->n_estimators = 500;
  p->early_stopping_rounds = 50;
  p->max_depth = 6;
  p->eta = 0.1;
  p->min_child_weight = 1;
  p->subsample = 0.8;
  p->colsample_bytree = 0.8;
  p->lambda = 1;
  p->alpha = 0;
  p->gamma = 0;
  p->scale_pos_weight = 0; /* from the class ratio */
  p->base_score = 0;       /* XGBoost's default */
  p->max_bin = 256;
  p->tree_method = "hist";
  p->nthread = 0;
  p->seed = 42;
}

/* Appends `"key":value` with a shortest-round-trip number. */
static void json_num(FILE *f, const char *key, double v, int *first) {
  char b[40];
  if (isfinite(v))
    fr_fmt_double(b, sizeof b, v);
  else
    snprintf(b, sizeof b, "null");
  fprintf(f, "%s\"%s\":%s", *first ? "" : ",", key, b);
  *first = 0;
}

char *fr_train_params_json(const fr_train_params *p) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return NULL;
  int first = 1;
  fputc('{', f);
  json_num(f, "n_estimators", p->n_estimators, &first);
  json_num(f, "early_stopping_rounds", p->early_stopping_rounds, &first);
  json_num(f, "max_depth", p->max_depth, &first);
  json_num(f, "eta", p->eta, &first);
  json_num(f, "min_child_weight", p->min_child_weight, &first);
  json_num(f, "subsample", p->subsample, &first);
  json_num(f, "colsample_bytree", p->colsample_bytree, &first);
  json_num(f, "lambda", p->lambda, &first);
  json_num(f, "alpha", p->alpha, &first);
  json_num(f, "gamma", p->gamma, &first);
  json_num(f, "scale_pos_weight", p->scale_pos_weight, &first);
  json_num(f, "base_score", p->base_score, &first);
  json_num(f, "max_bin", p->max_bin, &first);
  char esc[128];
  const char *tm = p->tree_method ? p->tree_method : "hist";
  fr_json_escape(esc, sizeof esc, tm, strlen(tm));
  fprintf(f, ",\"tree_method\":\"%s\"", esc);
  json_num(f, "nthread", p->nthread, &first);
  fprintf(f, ",\"seed\":%llu", (unsigned long long)p->seed);
  fputc('}', f);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* Labels of rows [from, to) must be 0 or 1; counts them. */
static int check_labels(const fr_table *t, size_t from, size_t to,
                        const char *slice, size_t *pos, size_t *neg,
                        fr_error *err) {
  *pos = *neg = 0;
  for (size_t i = from; i < to; i++) {
    float y = t->y[i];
    if (y == 1.0f)
      (*pos)++;
    else if (y == 0.0f)
      (*neg)++;
    else {
      char b[32];
      fr_fmt_float(b, sizeof b, y);
      return fr_error_set(err, FR_EDATA,
                          "train: row %zu of the %s slice (data-set row %zu) "
                          "has label %s; labels must be 0 or 1",
                          i, slice, t->source_row ? t->source_row[i] : i, b);
    }
  }
  if (*pos == 0)
    return fr_error_set(err, FR_EDATA,
                        "train: every label in the %s slice is 0 (%zu rows): "
                        "PR-AUC is undefined without a positive",
                        slice, to - from);
  if (*neg == 0)
    return fr_error_set(err, FR_EDATA,
                        "train: every label in the %s slice is 1 (%zu rows): "
                        "a classifier needs negatives too",
                        slice, to - from);
  return 0;
}

/* Reads "<name>-aucpr:<value>" out of XGBoosterEvalOneIter's text
 * ("[3]\ttrain-aucpr:0.71\tvalid-aucpr:0.65"). */
static int parse_eval(const char *s, const char *name, double *out) {
  char key[64];
  snprintf(key, sizeof key, "\t%s-aucpr:", name);
  const char *at = strstr(s, key);
  if (!at)
    return FR_EPARSE;
  at += strlen(key);
  size_t n = strcspn(at, "\t\n ");
  return fr_parse_double(at, n, out);
}

static int create_dmatrix(const fr__xgb_api *api, const fr_table *t,
                          size_t from, size_t to, DMatrixHandle *out,
                          fr_error *err) {
  int rc = 0;
  DMatrixHandle h = NULL;
  FR_XGB_CHECK(api, err,
               XGDMatrixCreateFromMat(t->x + from * t->cols,
                                      (bst_ulong)(to - from),
                                      (bst_ulong)t->cols, NAN, &h));
  FR_XGB_CHECK(api, err,
               XGDMatrixSetFloatInfo(h, "label", t->y + from,
                                     (bst_ulong)(to - from)));
  if (t->names) {
    int all = 1;
    for (size_t j = 0; j < t->cols; j++)
      all = all && t->names[j];
    if (all)
      FR_XGB_CHECK(api, err,
                   XGDMatrixSetStrFeatureInfo(h, "feature_name",
                                              (const char **)t->names,
                                              (bst_ulong)t->cols));
  }
  *out = h;
  return 0;
done:
  if (h)
    api->XGDMatrixFree(h);
  return rc;
}

static int set_param(const fr__xgb_api *api, BoosterHandle b,
                     const char *name, const char *value, fr_error *err) {
  int rc = 0;
  FR_XGB_CHECK(api, err, XGBoosterSetParam(b, name, value));
done:
  if (rc)
    fr_error_prefix(err, "train: parameter %s = '%s'", name, value);
  return rc;
}

static int set_num(const fr__xgb_api *api, BoosterHandle b, const char *name,
                   double v, fr_error *err) {
  char buf[40];
  fr_fmt_double(buf, sizeof buf, v);
  return set_param(api, b, name, buf, err);
}

int fr_train_xgboost(const fr_table *t, const fr_split *split,
                     const fr_train_params *p, char **model_json,
                     size_t *model_len, fr_train_result *res, fr_error *err) {
  if (!t || !split || !p || !model_json)
    return fr_error_set(err, FR_EINVAL, "train: NULL argument");
  *model_json = NULL;
  if (model_len)
    *model_len = 0;
  if (split->rows != t->rows || split->train_end == 0 ||
      split->train_end >= split->valid_end || split->valid_end > t->rows)
    return fr_error_set(err, FR_EINVAL,
                        "train: split (train_end %zu, valid_end %zu, rows "
                        "%zu) does not fit a table of %zu rows",
                        split->train_end, split->valid_end, split->rows,
                        t->rows);
  if (t->cols == 0 || !t->x || !t->y)
    return fr_error_set(err, FR_EINVAL, "train: the table has no features");
  int rc = fr_train_params_check(p, err);
  if (rc)
    return rc;
  size_t pos, neg, vpos, vneg;
  if ((rc = check_labels(t, 0, split->train_end, "training", &pos, &neg,
                         err)) ||
      (rc = check_labels(t, split->train_end, split->valid_end, "validation",
                         &vpos, &vneg, err)))
    return rc;

  const fr__xgb_api *api;
  if ((rc = fr__xgb_load(&api, err)))
    return rc;

  double spw = p->scale_pos_weight > 0 ? p->scale_pos_weight
                                       : (double)neg / (double)pos;
  uint64_t t0 = fr_monotonic_ns();
  DMatrixHandle dtrain = NULL, dvalid = NULL;
  BoosterHandle b = NULL, best = NULL;
  if ((rc = create_dmatrix(api, t, 0, split->train_end, &dtrain, err)) ||
      (rc = create_dmatrix(api, t, split->train_end, split->valid_end,
                           &dvalid, err)))
    goto done;
  DMatrixHandle cache[2] = {dtrain, dvalid};
  FR_XGB_CHECK(api, err, XGBoosterCreate(cache, 2, &b));

  /* The same parameters python-xgboost's Booster sets for xgb.train. */
  char seed[24];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->seed);
  if ((rc = set_param(api, b, "validate_parameters", "1", err)) ||
      (rc = set_param(api, b, "objective", "binary:logistic", err)) ||
      (rc = set_param(api, b, "eval_metric", "aucpr", err)) ||
      (rc = set_param(api, b, "tree_method",
                      p->tree_method ? p->tree_method : "hist", err)) ||
      (rc = set_num(api, b, "max_depth", p->max_depth, err)) ||
      (rc = set_num(api, b, "eta", p->eta, err)) ||
      (rc = set_num(api, b, "min_child_weight", p->min_child_weight, err)) ||
      (rc = set_num(api, b, "subsample", p->subsample, err)) ||
      (rc = set_num(api, b, "colsample_bytree", p->colsample_bytree, err)) ||
      (rc = set_num(api, b, "lambda", p->lambda, err)) ||
      (rc = set_num(api, b, "alpha", p->alpha, err)) ||
      (rc = set_num(api, b, "gamma", p->gamma, err)) ||
      (rc = set_num(api, b, "scale_pos_weight", spw, err)) ||
      (rc = set_num(api, b, "max_bin", p->max_bin, err)) ||
      (rc = set_num(api, b, "nthread", p->nthread, err)) ||
      (rc = set_param(api, b, "seed", seed, err)) ||
      (p->base_score > 0 &&
       (rc = set_num(api, b, "base_score", p->base_score, err))))
    goto done;
  if (t->names) {
    int all = 1;
    for (size_t j = 0; j < t->cols; j++)
      all = all && t->names[j];
    if (all)
      FR_XGB_CHECK(api, err,
                   XGBoosterSetStrFeatureInfo(b, "feature_name",
                                              (const char **)t->names,
                                              (bst_ulong)t->cols));
  }

  int best_it = -1, since_best = 0, rounds = 0;
  double best_score = -INFINITY;
  for (int it = 0; it < p->n_estimators; it++) {
    FR_XGB_CHECK(api, err, XGBoosterUpdateOneIter(b, it, dtrain));
    rounds = it + 1;
    DMatrixHandle evm[2];
    const char *evn[2];
    bst_ulong nev = 0;
    /* The last round is always among the evaluated ones. */
    int eval_tr = p->eval_train > 0 &&
                  (it % p->eval_train == 0 || it + 1 == p->n_estimators);
    if (eval_tr) {
      evm[nev] = dtrain;
      evn[nev++] = "train";
    }
    evm[nev] = dvalid;
    evn[nev++] = "valid";
    const char *evs = NULL;
    FR_XGB_CHECK(api, err, XGBoosterEvalOneIter(b, it, evm, evn, nev, &evs));
    double va = NAN, ta = NAN;
    if (parse_eval(evs, "valid", &va) != 0 ||
        (eval_tr && parse_eval(evs, "train", &ta) != 0)) {
      rc = fr_error_set(err, FR_EFORMAT,
                        "train: cannot read aucpr from XGBoost's evaluation "
                        "text '%s'",
                        evs);
      goto done;
    }
    /* python-xgboost's EarlyStopping(maximize=True, min_delta=0). */
    if (best_it < 0 || va > best_score) {
      best_it = it;
      best_score = va;
      since_best = 0;
    } else {
      since_best++;
    }
    double elapsed = (double)(fr_monotonic_ns() - t0) * 1e-9;
    if (p->verbose) {
      char fields[256], a[40], bb[40];
      fr_fmt_double(a, sizeof a, va);
      fr_fmt_double(bb, sizeof bb, best_score);
      snprintf(fields, sizeof fields,
               "\"iteration\":%d,\"valid_aucpr\":%s,\"best_iteration\":%d,"
               "\"best_valid_aucpr\":%s",
               it, a, best_it, bb);
      fr_log(FR_LOG_INFO, "train_round", fields, "round %d of %d", it + 1,
             p->n_estimators);
    }
    if (p->progress) {
      fr_train_progress pr = {it,        p->n_estimators, ta,     va,
                              best_it,   best_score,      elapsed};
      if (p->progress(&pr, p->progress_ctx) != 0)
        break;
    }
    if (p->early_stopping_rounds > 0 &&
        since_best >= p->early_stopping_rounds)
      break;
  }

  FR_XGB_CHECK(api, err, XGBoosterSlice(b, 0, best_it + 1, 1, &best));
  bst_ulong len = 0;
  const char *out = NULL;
  FR_XGB_CHECK(api, err,
               XGBoosterSaveModelToBuffer(best, "{\"format\":\"json\"}", &len,
                                          &out));
  char *copy = malloc((size_t)len + 1);
  if (!copy) {
    rc = fr_error_set(err, FR_ENOMEM, "train: out of memory for the model");
    goto done;
  }
  memcpy(copy, out, (size_t)len);
  copy[len] = '\0';
  *model_json = copy;
  if (model_len)
    *model_len = (size_t)len;
  if (res) {
    memset(res, 0, sizeof *res);
    res->best_iteration = best_it;
    res->rounds_run = rounds;
    res->best_valid_aucpr = best_score;
    res->scale_pos_weight = spw;
    res->seconds = (double)(fr_monotonic_ns() - t0) * 1e-9;
    snprintf(res->xgboost_version, sizeof res->xgboost_version, "%d.%d.%d",
             api->major, api->minor, api->patch);
  }
  rc = 0;
done:
  if (best)
    api->XGBoosterFree(best);
  if (b)
    api->XGBoosterFree(b);
  if (dvalid)
    api->XGDMatrixFree(dvalid);
  if (dtrain)
    api->XGDMatrixFree(dtrain);
  return rc;
}

int fr_xgboost_predict(const char *model_json, size_t model_len,
                       const float *x, size_t rows, size_t cols, int nthread,
                       float *out, fr_error *err) {
  if (!model_json || (!x && rows) || !out)
    return fr_error_set(err, FR_EINVAL, "predict: NULL argument");
  const fr__xgb_api *api;
  int rc = fr__xgb_load(&api, err);
  if (rc)
    return rc;
  if (rows == 0)
    return 0;
  BoosterHandle b = NULL;
  DMatrixHandle d = NULL;
  FR_XGB_CHECK(api, err, XGBoosterCreate(NULL, 0, &b));
  FR_XGB_CHECK(api, err,
               XGBoosterLoadModelFromBuffer(b, model_json,
                                            (bst_ulong)model_len));
  FR_XGB_CHECK(api, err,
               XGDMatrixCreateFromMat(x, (bst_ulong)rows, (bst_ulong)cols, NAN,
                                      &d));
  char nt[16];
  snprintf(nt, sizeof nt, "%d", nthread);
  FR_XGB_CHECK(api, err, XGBoosterSetParam(b, "nthread", nt));
  /* type 0 = normal prediction (probability for binary:logistic); strict
   * shape so a model with several outputs is refused below. */
  const char *cfg = "{\"type\":0,\"training\":false,\"iteration_begin\":0,"
                    "\"iteration_end\":0,\"strict_shape\":true}";
  const bst_ulong *shape = NULL;
  bst_ulong dim = 0;
  const float *res = NULL;
  FR_XGB_CHECK(api, err,
               XGBoosterPredictFromDMatrix(b, d, cfg, &shape, &dim, &res));
  if (dim != 2 || shape[0] != rows || shape[1] != 1) {
    rc = fr_error_set(err, FR_EINVAL,
                      "predict: the model gives %llu outputs per row; a "
                      "binary classifier gives 1",
                      dim == 2 ? (unsigned long long)shape[1] : 0ULL);
    goto done;
  }
  memcpy(out, res, rows * sizeof *out);
  rc = 0;
done:
  if (d)
    api->XGDMatrixFree(d);
  if (b)
    api->XGBoosterFree(b);
  return rc;
}

int fr_xgboost_version(char *buf, size_t cap, fr_error *err) {
  const fr__xgb_api *api;
  int rc = fr__xgb_load(&api, err);
  if (rc)
    return rc;
  snprintf(buf, cap, "%d.%d.%d", api->major, api->minor, api->patch);
  return 0;
}
