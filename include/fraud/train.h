/*
 * fraud/train.h - time-based splits, the XGBoost trainer (XGBoost's C API,
 * loaded at run time so that nothing else in the process links libxgboost),
 * evaluation metrics and threshold choice.
 */
#ifndef FRAUD_TRAIN_H
#define FRAUD_TRAIN_H

#include "fraud/common.h"
#include "fraud/data.h"
#include "fraud/model.h"

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

/* One boosting round's report to a progress callback. */
typedef struct fr_train_progress {
  int iteration;            /* 0-based round just finished */
  int n_estimators;         /* upper bound on rounds */
  double train_aucpr;       /* NaN unless fr_train_params.eval_train */
  double valid_aucpr;       /* XGBoost's aucpr on the validation slice */
  int best_iteration;       /* best round so far (early-stopping rule) */
  double best_valid_aucpr;
  double elapsed;           /* seconds since training started */
} fr_train_progress;

/* Called after every round from the training thread.  Return 0 to go on,
 * non-zero to stop now (the model keeps the best round so far). */
typedef int (*fr_train_progress_fn)(const fr_train_progress *pr, void *ctx);

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
  uint64_t seed;             /* <= INT64_MAX (XGBoost's seed is int64) */
  int verbose;               /* 1: a JSON log line per round on stderr */
  int eval_train;            /* 1: also evaluate aucpr on the training slice
                                each round (for progress; costs a sort of the
                                training slice per round) */
  fr_train_progress_fn progress; /* optional, see above */
  void *progress_ctx;
} fr_train_params;

/* Defaults: 500 rounds, early stop 50, depth 6, eta 0.1, min_child_weight 1,
 * subsample 0.8, colsample_bytree 0.8, lambda 1, alpha 0, gamma 0,
 * scale_pos_weight from the class ratio, hist, seed 42. */
FR_EXPORT void fr_train_params_default(fr_train_params *p);

/* Serialises the parameters as a JSON object (for the manifest): every
 * XGBoost-relevant field under its XGBoost name (n_estimators,
 * early_stopping_rounds, max_depth, eta, ..., tree_method, nthread, seed),
 * numbers shortest-round-trip and locale-independent.  The callback fields
 * are not included.  New string, caller frees; NULL on ENOMEM. */
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
 * Deterministic for a given seed and nthread: same table, split and
 * parameters give byte-identical JSON.
 *
 * Early stopping follows python-xgboost's EarlyStopping callback (1.7): a
 * round improves when its validation aucpr, as XGBoost prints it, is strictly
 * greater than the best so far; training stops when
 * `early_stopping_rounds` rounds in a row have not improved.  The model is
 * then cut to rounds [0, best_iteration] with XGBoosterSlice.
 *
 * t: rows x cols float32 (NaN = missing), labels 0/1 in the train and
 * validation slices; feature names, when set, are stored in the model.
 * libxgboost.so.0 is loaded on the first call.  Thread-safe (each call has
 * its own booster).  Errors: FR_EDEP (libxgboost not installed: names the
 * package), FR_EDATA (a label not 0/1, a slice without positives or
 * negatives: "PR-AUC is undefined"), FR_EINVAL (a parameter out of range,
 * naming it; or XGBoost's own message from XGBGetLastError). */
FR_EXPORT int fr_train_xgboost(const fr_table *t, const fr_split *split,
                               const fr_train_params *p, char **model_json,
                               size_t *model_len, fr_train_result *res,
                               fr_error *err);

/* ------------------------------------------------------------------------
 * Metrics (docs/metrics-formulas.md gives each formula and its source).
 * ------------------------------------------------------------------------ */

/* False-positive rates at which recall is reported. */
#define FR_N_FPR 3
FR_EXPORT extern const double fr_metrics_fprs[FR_N_FPR]; /* 0.001 0.01 0.05 */

typedef struct fr_metrics {
  size_t rows, positives;
  double roc_auc;    /* area under ROC, ties averaged (= sklearn roc_auc_score) */
  double pr_auc;     /* average precision (= sklearn average_precision_score) */
  double log_loss;   /* mean -[y ln p + (1-y) ln(1-p)], p clipped to
                        [eps, 1-eps], eps = DBL_EPSILON (sklearn 1.2.1's
                        "auto" for float64 input) */
  double brier;      /* mean (p - y)^2 */
  double recall_at_fpr[FR_N_FPR]; /* max TPR over the ROC points (one per
                                     distinct score, plus (0,0)) with FPR
                                     <= fpr; NaN when a class is absent */
  double threshold;  /* p >= threshold counts as positive */
  double precision, recall, f1;
  size_t tp, fp, tn, fn;
} fr_metrics;

/* Computes all metrics of scores p (probabilities in [0,1]) against labels y
 * (0/1) for n rows at `threshold`.  AUCs and recall at FPR are NaN when one
 * class is absent; precision, recall and F1 are 0 when their denominator is
 * (sklearn's zero_division=0).  Each value equals scikit-learn 1.2.1's on
 * the float32 scores widened to float64 (tested to 1e-9).  O(n log n), one
 * temporary copy of the rows.  Thread-safe.  Errors: FR_EINVAL (n = 0,
 * label not 0/1, probability outside [0,1] or NaN, naming the row; NaN
 * threshold), FR_ENOMEM. */
FR_EXPORT int fr_metrics_compute(const float *y, const float *p, size_t n,
                                 double threshold, fr_metrics *out,
                                 fr_error *err);

/* The metrics as one JSON object (docs/metrics-formulas.md): rows,
 * positives, roc_auc, pr_auc, log_loss, brier, recall_at_fpr {"0.001",
 * "0.01", "0.05"}, threshold, precision, recall, f1, confusion {tp, fp, tn,
 * fn}.  Numbers print shortest-round-trip whatever the locale; an undefined
 * (NaN) metric prints as null.  New string, caller frees; NULL on ENOMEM. */
FR_EXPORT char *fr_metrics_json(const fr_metrics *m);

/* The threshold maximising F1 of "p >= threshold" on (y, p): candidates are
 * the distinct scores; F1 values are compared exactly (as fractions) and the
 * lowest score among those that reach the maximum wins.  Errors: FR_EINVAL
 * (as fr_metrics_compute), FR_EDATA (no positive). */
FR_EXPORT int fr_threshold_max_f1(const float *y, const float *p, size_t n,
                                  double *threshold, fr_error *err);

/* The lowest threshold (among the distinct scores) whose false-positive rate
 * of "p >= threshold" on (y, p) is <= fpr; when even the highest score's is
 * above fpr, a value just above the highest score (nothing flagged).  The
 * recall there is fr_metrics.recall_at_fpr.  Errors: FR_EINVAL (fpr outside
 * [0,1], bad rows as fr_metrics_compute), FR_EDATA (no negative). */
FR_EXPORT int fr_threshold_at_fpr(const float *y, const float *p, size_t n,
                                  double fpr, double *threshold, fr_error *err);

/* Probabilities of n rows from an XGBoost JSON model, computed by XGBoost
 * itself (XGBoosterPredictFromDMatrix, all trees).  x: rows x cols float32,
 * NaN = missing; out: rows float32.  For cross-checks against the forest
 * engine and for the tuner.  Thread-safe.  Errors: FR_EDEP, FR_EINVAL
 * (XGBoost rejected the model or the shape). */
FR_EXPORT int fr_xgboost_predict(const char *model_json, size_t model_len,
                                 const float *x, size_t rows, size_t cols,
                                 int nthread, float *out, fr_error *err);

/* Version of the loaded libxgboost as "1.7.4" into buf (32 bytes suffice).
 * Errors: FR_EDEP. */
FR_EXPORT int fr_xgboost_version(char *buf, size_t cap, fr_error *err);

/* ------------------------------------------------------------------------
 * Pipeline: the whole offline job behind `fraud train` and `fraud evaluate`
 * (src/train/pipeline.c).
 * ------------------------------------------------------------------------ */

typedef struct fr_train_job {
  const char *schema;        /* shipped schema name or path */
  const char *spec;          /* feature spec path; NULL = schema default */
  const char *data;          /* CSV / CSV.gz path */
  const char *out_dir;       /* bundle directory to create (must not exist) */
  const char *name;          /* model name; NULL = schema name */
  const char *version;       /* version; NULL = "1" */
  fr_read_options read;
  fr_train_params params;
  double valid_fraction;     /* default 0.15 */
  double test_fraction;      /* default 0.15 */
} fr_train_job;

typedef struct fr_train_report {
  size_t rows, skipped, features;
  fr_split split;
  double test_start_time;    /* event time where the test slice starts */
  fr_train_result train;
  fr_thresholds thresholds;
  fr_metrics valid, test;    /* at the decline threshold */
  double read_seconds, featurize_seconds, train_seconds, total_seconds;
} fr_train_report;

/* Fills a job with defaults (params from fr_train_params_default, fractions
 * 0.15/0.15, fail on bad rows). */
FR_EXPORT void fr_train_job_default(fr_train_job *job);

/* Reads job->data with the schema, fits the feature spec's encoders on the
 * training slice, featurizes every row in event-time order, splits by time,
 * trains XGBoost with early stopping on the validation slice, picks the
 * thresholds on the validation slice (decline: maximum F1; review: the score
 * at 1 % false-positive rate, capped at decline), measures the test slice and
 * writes the bundle atomically.  The split is made on the featurized table
 * before fitting: encoders are fitted on the training slice only.  Errors:
 * those of every stage, each naming its input. */
FR_EXPORT int fr_train_run(const fr_train_job *job, fr_train_report *rep,
                           fr_error *err);

/* Offline evaluation / scoring of a data file with a bundle. */
typedef struct fr_score_job {
  const char *model_dir;     /* bundle directory */
  const char *data;          /* CSV / CSV.gz read with the bundle's schema */
  fr_read_options read;
  int test_slice;            /* 1: only rows at or after the bundle's recorded
                                test-slice start time (manifest split) */
  int with_event_time;       /* fr_predict_run: add an event_time column
                                (epoch seconds) */
} fr_score_job;

/* Scores every row of job->data (featurized in event-time order from an
 * empty state, as at training) and computes the metrics of the selected rows
 * at the bundle's decline threshold.  Errors: FR_EDATA (no labelled rows),
 * and those of the bundle, reader and featurizer. */
FR_EXPORT int fr_evaluate_run(const fr_score_job *job, fr_metrics *m,
                              fr_error *err);

/* Scores every row and writes `out_csv` with the header
 * transaction_id,probability,decision (plus event_time when
 * job->with_event_time), one line per input row in input order.  transaction_id is the schema's id column, or the 1-based data row
 * number when the schema has none.  Probabilities are float32 printed
 * shortest-round-trip.  Atomic write.  Errors: as fr_evaluate_run, FR_EIO. */
FR_EXPORT int fr_predict_run(const fr_score_job *job, const char *out_csv,
                             size_t *rows, fr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_TRAIN_H */
