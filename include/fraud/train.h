/*
 * fraud/train.h - time-based splits, the XGBoost trainer (XGBoost's C API,
 * loaded at run time so that nothing else in the process links libxgboost),
 * evaluation metrics and threshold choice.
 */
#ifndef FRAUD_TRAIN_H
#define FRAUD_TRAIN_H

#include "fraud/common.h"
#include "fraud/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Time split
 * ------------------------------------------------------------------------ */

/* Rows of a table in event-time order cut in three consecutive slices:
 * [0, train_end) train, [train_end, valid_end) validation, [valid_end, rows)
 * test.  Cuts never separate rows with the same event time. */
typedef struct fr_split {
  size_t train_end, valid_end, rows;
} fr_split;

/* Cuts table t (rows must be sorted by event time, as fr_featurize_dataset
 * returns them) so that the test slice holds the latest `test_fraction` of
 * rows and the validation slice the `valid_fraction` before it, moving each
 * cut forward past equal timestamps.  Errors: FR_EINVAL (fractions not in
 * (0,1) or summing to >= 1), FR_EDATA (a slice ends up empty or a training or
 * validation slice has no positive or no negative label). */
FR_EXPORT int fr_split_by_time(const fr_table *t, double valid_fraction,
                               double test_fraction, fr_split *out,
                               fr_error *err);

/* ------------------------------------------------------------------------
 * Trainer
 * ------------------------------------------------------------------------ */

typedef struct fr_train_params {
  int n_estimators;          /* boosting rounds (upper bound with early stop) */
  int early_stopping_rounds; /* on validation aucpr; 0 = off */
  int max_depth;
  double eta;
  double min_child_weight;
  double subsample;
  double colsample_bytree;
  double lambda;             /* L2 */
  double alpha;              /* L1 */
  double gamma;              /* min split loss */
  double scale_pos_weight;   /* <= 0: negatives / positives of training slice */
  double base_score;         /* <= 0: XGBoost default (0.5) */
  int max_bin;
  const char *tree_method;   /* "hist" (default), "exact", "approx" */
  int nthread;               /* 0 = all cores */
  uint64_t seed;
  int verbose;               /* 1: progress lines on stderr */
} fr_train_params;

/* Defaults: 500 rounds, early stop 50, depth 6, eta 0.1, min_child_weight 1,
 * subsample 0.8, colsample_bytree 0.8, lambda 1, alpha 0, gamma 0,
 * scale_pos_weight from the class ratio, hist, seed 42. */
FR_EXPORT void fr_train_params_default(fr_train_params *p);

/* Serialises the parameters as a JSON object (for the manifest); caller
 * frees. */
FR_EXPORT char *fr_train_params_json(const fr_train_params *p);

typedef struct fr_train_result {
  int best_iteration;        /* 0-based; the model is truncated to it + 1 trees */
  int rounds_run;
  double best_valid_aucpr;
  double scale_pos_weight;   /* the value used */
  double seconds;            /* wall time inside XGBoost */
  char xgboost_version[32];
} fr_train_result;

/* Trains binary:logistic on the train slice, early-stopping on the
 * validation slice's aucpr, and returns the XGBoost JSON model text (new
 * string, caller frees) with only the trees up to the best iteration.
 * Deterministic for a given seed and nthread.  libxgboost.so is loaded on the
 * first call.  Errors: FR_EDEP (libxgboost not installed: names the package),
 * FR_EDATA, FR_EINVAL; XGBoost's own message (XGBGetLastError) is copied into
 * err. */
FR_EXPORT int fr_train_xgboost(const fr_table *t, const fr_split *split,
                               const fr_train_params *p, char **model_json,
                               size_t *model_len, fr_train_result *res,
                               fr_error *err);

/* ------------------------------------------------------------------------
 * Metrics (docs/metrics.md gives each formula and its source).
 * ------------------------------------------------------------------------ */

/* False-positive rates at which recall is reported. */
#define FR_N_FPR 3
FR_EXPORT extern const double fr_metrics_fprs[FR_N_FPR]; /* 0.001 0.01 0.05 */

typedef struct fr_metrics {
  size_t rows, positives;
  double roc_auc;    /* area under ROC, ties averaged (= sklearn roc_auc_score) */
  double pr_auc;     /* average precision (= sklearn average_precision_score) */
  double log_loss;   /* mean -[y ln p + (1-y) ln(1-p)], p clipped to [1e-15, 1-1e-15] */
  double brier;      /* mean (p - y)^2 */
  double recall_at_fpr[FR_N_FPR]; /* max recall with FPR <= fpr */
  double threshold;  /* p >= threshold counts as positive */
  double precision, recall, f1;
  size_t tp, fp, tn, fn;
} fr_metrics;

/* Computes all metrics of scores p (probabilities in [0,1]) against labels y
 * (0/1) for n rows at `threshold`.  AUCs are NaN when one class is absent.
 * Errors: FR_EINVAL (n = 0, label not 0/1, probability outside [0,1] or
 * NaN). */
FR_EXPORT int fr_metrics_compute(const float *y, const float *p, size_t n,
                                 double threshold, fr_metrics *out,
                                 fr_error *err);

/* The metrics as a JSON object (keys of docs/metrics.md: rows, positives,
 * roc_auc, pr_auc, log_loss, recall_at_fpr {"0.001","0.01","0.05"},
 * precision, recall, f1, threshold, confusion...).  Caller frees. */
FR_EXPORT char *fr_metrics_json(const fr_metrics *m);

/* The threshold maximising F1 on (y, p): the lowest score among those that
 * reach the maximum.  Errors: FR_EINVAL, FR_EDATA (no positive). */
FR_EXPORT int fr_threshold_max_f1(const float *y, const float *p, size_t n,
                                  double *threshold, fr_error *err);

/* The lowest threshold whose false-positive rate on (y, p) is <= fpr. */
FR_EXPORT int fr_threshold_at_fpr(const float *y, const float *p, size_t n,
                                  double fpr, double *threshold, fr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_TRAIN_H */
