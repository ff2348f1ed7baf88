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
  double train_aucpr;       /* NaN unless evaluated this round
                               (fr_train_params.eval_train) */
  double valid_aucpr;       /* XGBoost's aucpr on the validation slice */
  int best_iteration;       /* best round so far (early-stopping rule) */
  double best_valid_aucpr;
  double elapsed;           /* seconds since training started */
} fr_train_progress;

/* Called after every round from the training thread.  Return 0 to go on,
 * non-zero to stop now (the model keeps the best round so far, or every
 * round run when early stopping is off). */
typedef int (*fr_train_progress_fn)(const fr_train_progress *pr, void *ctx);

typedef struct fr_train_params {
  int n_estimators;          /* boosting rounds (upper bound with early stop) */
  int early_stopping_rounds; /* on validation aucpr; 0 = off (the model
                                keeps all n_estimators trees) */
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
  int eval_train;            /* k > 0: also evaluate aucpr on the training
                                slice every k rounds (rounds 0, k, 2k, ...
                                and the last; for progress displays: each
                                evaluation sorts the training slice) */
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

/* Checks every parameter's range (what fr_train_xgboost checks first).
 * Errors: FR_EINVAL "train: parameter eta = 0 is out of range" (or the
 * tree_method refusal), naming the first bad parameter. */
FR_EXPORT int fr_train_params_check(const fr_train_params *p, fr_error *err);

/* Overrides parameters of *p with those of a YAML map (docs/training.md,
 * "Parameters file"): keys are the XGBoost names of fr_train_params_json
 * (n_estimators, early_stopping_rounds, max_depth, eta, min_child_weight,
 * subsample, colsample_bytree, lambda, alpha, gamma, scale_pos_weight,
 * base_score, max_bin, tree_method, nthread, seed); keys absent keep their
 * value; a JSON object is accepted too (JSON is YAML).  All or nothing: on
 * error *p is unchanged.  tree_method points to a static string afterwards.
 * Errors: FR_EIO, FR_EPARSE, FR_ESCHEMA naming "file:line:col" (unknown
 * parameter, wrong type, value outside the parameter's range). */
FR_EXPORT int fr_train_params_load(const char *path, fr_train_params *p,
                                   fr_error *err);
/* As fr_train_params_load from text; `origin` names it in messages. */
FR_EXPORT int fr_train_params_parse(const char *yaml, size_t len,
                                    const char *origin, fr_train_params *p,
                                    fr_error *err);

typedef struct fr_train_result {
  int best_iteration;        /* 0-based round of the best validation aucpr */
  int rounds_run;
  int trees;                 /* trees in the returned model: best_iteration + 1
                                with early stopping, rounds_run without */
  double best_valid_aucpr;
  double scale_pos_weight;   /* the value used */
  double seconds;            /* wall time inside XGBoost */
  char xgboost_version[32];
} fr_train_result;

/* Trains binary:logistic on the train slice, early-stopping on the
 * validation slice's aucpr, and returns the XGBoost JSON model text (new
 * string, caller frees) with only the trees up to the best iteration
 * (every tree when early stopping is off, below).  Deterministic for a
 * given seed and nthread: same table, split and parameters give
 * byte-identical JSON.
 *
 * Early stopping follows python-xgboost's EarlyStopping callback (1.7): a
 * round improves when its validation aucpr, as XGBoost prints it, is strictly
 * greater than the best so far; training stops when
 * `early_stopping_rounds` rounds in a row have not improved.  The model is
 * then cut to rounds [0, best_iteration] with XGBoosterSlice.  With
 * early_stopping_rounds 0 nothing is cut: the model keeps every round run
 * (n_estimators trees, fewer only when the progress callback stopped it),
 * as python-xgboost's xgb.train without early_stopping_rounds does;
 * best_iteration is still reported.
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
 * Curves (for reports; docs/metrics-formulas.md)
 * ------------------------------------------------------------------------ */

/* One point per distinct score s_k (decreasing), after all rows with
 * p >= s_k are flagged: the ROC curve and the precision-recall curve are
 * both read from these counts. */
typedef struct fr_curve_point {
  double threshold;  /* s_k */
  double tp, fp;     /* rows with p >= s_k, by class */
} fr_curve_point;

/* The K distinct-score points of (y, p) in decreasing score order, with the
 * class totals: ROC point k is (fp/N, tp/P) (sklearn roc_curve with
 * drop_intermediate=False, without its leading (0,0)); precision-recall
 * point k is (tp/(tp+fp), tp/P) (sklearn precision_recall_curve before its
 * reversal and truncation at full recall).  *points is a new array of *k
 * entries the caller frees.  Errors: FR_EINVAL (as fr_metrics_compute),
 * FR_ENOMEM. */
FR_EXPORT int fr_curve_points(const float *y, const float *p, size_t n,
                              fr_curve_point **points, size_t *k, double *P,
                              double *N, fr_error *err);

/* Share of fraud money caught at `threshold`: sum of amount over frauds with
 * p >= threshold, divided by the sum of amount over all frauds (sklearn
 * recall_score with sample_weight = amount).  amount: n values in the
 * currency's major unit, finite and >= 0.  NaN when there is no fraud money.
 * Errors: FR_EINVAL (as fr_metrics_compute; bad amount, naming the row). */
FR_EXPORT int fr_amount_recall(const float *y, const float *p,
                               const double *amount, size_t n,
                               double threshold, double *out, fr_error *err);

/* ------------------------------------------------------------------------
 * Cost-based thresholds
 * ------------------------------------------------------------------------ */

/* What each decision costs, in the currency's major unit.  A fraud that is
 * approved costs its amount; a reviewed transaction costs `review_cost`
 * (fraud or not: an analyst looks at it, and a reviewed fraud is stopped); a
 * declined good transaction costs `decline_cost` (the customer's friction
 * and lost business); a declined fraud and an approved good transaction
 * cost nothing. */
typedef struct fr_cost_params {
  double review_cost;  /* >= 0 */
  double decline_cost; /* >= 0 */
  int allow_review;    /* 0: choose a decline threshold only */
} fr_cost_params;

typedef struct fr_cost_result {
  fr_thresholds thresholds; /* review <= decline; equal when no review band */
  double cost;              /* total cost at the chosen thresholds */
  double cost_approve_all;  /* total fraud amount: the do-nothing baseline */
  size_t approved, reviewed, declined;
  double fraud_amount_stopped; /* by review or decline */
} fr_cost_result;

/* Chooses the review and decline thresholds minimising the total cost of
 * (y, p, amount) under c: decline when p >= decline, review when review <= p
 * < decline, approve otherwise.  Exact over every pair of cuts between
 * distinct scores (O(n log n): sorted once, then a prefix minimum).  A
 * threshold above every score means "never".  Ties in cost prefer fewer
 * flagged (reviewed or declined) rows, then fewer declined rows.  Errors:
 * FR_EINVAL (bad rows or amounts, negative or NaN cost), FR_ENOMEM. */
FR_EXPORT int fr_cost_thresholds(const float *y, const float *p,
                                 const double *amount, size_t n,
                                 const fr_cost_params *c, fr_cost_result *out,
                                 fr_error *err);

/* Total cost at a given pair of thresholds (same cost model). */
FR_EXPORT int fr_cost_at(const float *y, const float *p, const double *amount,
                         size_t n, const fr_cost_params *c,
                         const fr_thresholds *t, double *cost, fr_error *err);

/* Cost versus threshold for a plot: for each of the K+1 cuts (nothing
 * flagged, then each distinct score s_k in decreasing order) the threshold,
 * the cost when every flagged row is declined, and the cost when every
 * flagged row is reviewed.  *thr, *decline_only, *review_only are new arrays
 * of *m entries the caller frees. */
FR_EXPORT int fr_cost_curve(const float *y, const float *p,
                            const double *amount, size_t n,
                            const fr_cost_params *c, double **thr,
                            double **decline_only, double **review_only,
                            size_t *m, fr_error *err);

/* ------------------------------------------------------------------------
 * Calibration (reliability table)
 * ------------------------------------------------------------------------ */

typedef enum fr_calib_strategy {
  FR_CALIB_UNIFORM = 0, /* nbins equal-width bins on [0, 1] */
  FR_CALIB_QUANTILE = 1 /* edges at the score quantiles (numpy "linear") */
} fr_calib_strategy;

typedef struct fr_calib_bin {
  double lo, hi;        /* bin edges */
  size_t count;         /* rows in the bin (empty bins are omitted) */
  double mean_pred;     /* mean p of the bin (sklearn prob_pred) */
  double frac_pos;      /* share of positives (sklearn prob_true) */
} fr_calib_bin;

/* The calibration table of (y, p) exactly as sklearn 1.2.1's
 * calibration_curve(y, p, n_bins, strategy) bins it: a score goes to bin i
 * with edge[i] < p <= edge[i+1] (numpy searchsorted on the inner edges; the
 * first bin also takes edge[0]), empty bins dropped.  Niculescu-Mizil &
 * Caruana, "Predicting good probabilities with supervised learning", ICML
 * 2005.  bins: room for nbins entries; *nout receives the non-empty ones.
 * *ece, when not NULL, receives the expected calibration error
 * sum_b count_b/n |frac_pos_b - mean_pred_b| (Naeini et al., AAAI 2015).
 * Errors: FR_EINVAL (nbins < 1, bad rows), FR_ENOMEM. */
FR_EXPORT int fr_calibration(const float *y, const float *p, size_t n,
                             int nbins, fr_calib_strategy strategy,
                             fr_calib_bin *bins, size_t *nout, double *ece,
                             fr_error *err);

/* ------------------------------------------------------------------------
 * Evaluation report: one self-contained HTML file with inline SVG plots
 * ------------------------------------------------------------------------ */

typedef struct fr_report_input {
  const char *title;          /* page title and heading (escaped) */
  const char *subtitle;       /* a line under it (model, data, date), or NULL */
  const float *y, *p;         /* n labels 0/1 and probabilities */
  const double *amount;       /* n amounts, or NULL: no money figures */
  size_t n;
  double threshold;           /* the decision threshold (p >= t flagged) */
  const fr_cost_params *cost; /* NULL: no cost section (needs amount) */
  int calibration_bins;       /* <= 0: 10 uniform bins */
} fr_report_input;

/* Renders the report: the metrics of fr_metrics_compute at the threshold,
 * the amount-weighted recall, the cost-optimal thresholds and their counts,
 * the calibration table, and five SVG plots - precision-recall curve, ROC
 * curve (with the 0.1 %/1 %/5 % FPR marks), score histograms by class,
 * calibration (reliability) diagram, cost versus threshold.  The page is
 * XHTML-compatible, needs no network, script or external file, and opens in
 * any browser.  Long curves are thinned to at most 2000 drawn points (the
 * figures in the tables use every row).  *html is a new NUL-terminated
 * string (caller frees), *len its length.  Errors: as fr_metrics_compute
 * and fr_cost_thresholds; FR_ENOMEM. */
FR_EXPORT int fr_report_html(const fr_report_input *in, char **html,
                             size_t *len, fr_error *err);

/* fr_report_html written to `path` atomically (temporary file + rename).
 * Errors: as fr_report_html; FR_EIO naming the path. */
FR_EXPORT int fr_report_write(const fr_report_input *in, const char *path,
                              fr_error *err);

/* ------------------------------------------------------------------------
 * Hyper-parameter search: random search plus successive halving
 * (Hyperband: Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar, "Hyperband:
 * a novel bandit-based approach to hyperparameter optimization", JMLR 18
 * (2018), Algorithm 1), the resource being boosting rounds.
 * docs/training.md describes the YAML search space and the schedule.
 * ------------------------------------------------------------------------ */

typedef struct fr_search_space fr_search_space;

/* Loads a search space: a YAML map whose keys are parameters (max_depth,
 * eta, min_child_weight, subsample, colsample_bytree, lambda, alpha, gamma,
 * n_estimators, early_stopping_rounds) and whose values are a fixed number,
 * a range {low: a, high: b} (with `log: true` for log-uniform, `int: true`
 * for integers; max_depth is always integer) or a list {choice: [a, b,
 * ...]}.  n_estimators is the resource: a number (the maximum rounds) or
 * {low: min rounds, high: max rounds}.  Errors: FR_EIO, FR_EPARSE,
 * FR_ESCHEMA naming "file:line:col" (unknown parameter, low > high, a log
 * range not > 0, a value outside the parameter's domain).  Free with
 * fr_search_space_free. */
FR_EXPORT fr_search_space *fr_search_space_load(const char *path,
                                                fr_error *err);
FR_EXPORT fr_search_space *fr_search_space_parse(const char *yaml, size_t len,
                                                 const char *origin,
                                                 fr_error *err);
FR_EXPORT void fr_search_space_free(fr_search_space *s);

/* Configuration number `index` of the random search for `seed`: `base` with
 * every searched parameter drawn independently (SplitMix64 of seed, index
 * and parameter; Steele, Lea & Flood, OOPSLA 2014).  Depends on nothing
 * else, so a trial's parameters are the same in any process and on resume.
 * Thread-safe. */
FR_EXPORT void fr_search_space_sample(const fr_search_space *s, uint64_t seed,
                                      uint64_t index,
                                      const fr_train_params *base,
                                      fr_train_params *out);

/* The resource bounds from n_estimators (min_rounds 0 when not given). */
FR_EXPORT void fr_search_space_rounds(const fr_search_space *s,
                                      int *min_rounds, int *max_rounds);

/* SHA-256 hex of the space's canonical text (parameters in a fixed order
 * with their ranges), recorded in the trials log to refuse resuming a
 * different search. */
FR_EXPORT void fr_search_space_digest(const fr_search_space *s, char hex[65]);

/* One trial: a configuration trained for a budget of rounds. */
typedef struct fr_trial {
  int id;                 /* 0-based, in schedule order */
  int bracket, rung;      /* Hyperband bracket s and successive-halving rung */
  int config;             /* configuration number within the search */
  int rounds;             /* budget: n_estimators for this trial */
  fr_train_params params; /* what was trained (tree_method points to a
                             static string; no callback) */
  int status;             /* 0 ok, or the FR_E* code of the failure */
  double score;           /* validation PR-AUC (-inf when failed) */
  int best_iteration, rounds_run;
  double seconds;
  char error[256];
} fr_trial;

/* Runs one trial in a worker process: trains `p` and fills score,
 * best_iteration, rounds_run (and error on failure).  Returns 0 or an
 * FR_E* code. */
typedef int (*fr_tune_objective)(const fr_train_params *p, fr_trial *out,
                                 void *ctx);

typedef struct fr_tune_options {
  uint64_t seed;
  int min_rounds;        /* smallest budget (0: the space's, else 20) */
  int max_rounds;        /* largest budget (0: the space's n_estimators) */
  int reduction;         /* eta of Hyperband: keep 1/eta per rung (0: 3) */
  int brackets;          /* 0: all of Hyperband's; k: the k most exploratory */
  int parallel;          /* worker processes at once (0: 1) */
  int trial_threads;     /* XGBoost threads per trial (0: cores / parallel) */
  const char *log_path;  /* trials log (JSON lines), appended and fsync'd
                            after each trial; an existing log is resumed */
  int max_new_trials;    /* 0: no limit; else stop after this many new
                            trials (a time box; rerun to continue) */
  volatile int *cancel;  /* optional: set (e.g. by a SIGINT handler) to stop;
                            running workers are killed */
  /* Optional: called in the calling process after each newly run trial is
   * logged, with the trial, the trials finished so far (resumed ones
   * included) and the planned total; for progress displays. */
  void (*on_trial)(const fr_trial *t, size_t finished, size_t planned,
                   void *ctx);
  void *on_trial_ctx;
} fr_tune_options;

typedef struct fr_tune_result {
  fr_trial *trials;   /* every trial of the schedule finished so far,
                         sorted by id (resumed and new) */
  size_t n_trials;
  size_t n_resumed;   /* read back from the log */
  size_t n_run;       /* run by this call */
  size_t n_planned;   /* trials in the whole schedule */
  int complete;       /* 1 when every planned trial has finished */
  int best;           /* index into trials of the best (highest score; ties:
                         larger budget, then lower id), -1 if none */
} fr_tune_result;

/* Runs (or resumes) the search.  The schedule, every trial's parameters and
 * every promotion depend only on the space, `base`, and the options' seed,
 * rounds and reduction: with the same threads per trial the trials table
 * is identical whatever `parallel` is, and after an interruption the same
 * log resumes where it stopped (finished trials are not rerun).  Each rung
 * finishes before the next starts (synchronous successive halving).
 * Workers are fork(2)ed: the caller must not have run OpenMP (XGBoost) in
 * this process before.  Errors: FR_EINVAL (options), FR_ESTATE (the log
 * belongs to a different search, or the search was cancelled: "rerun with
 * the same log to resume"), FR_EIO (log), FR_ENOMEM.  A cancelled or
 * time-boxed call still fills res.  Free res with fr_tune_result_free. */
FR_EXPORT int fr_tune_run(const fr_search_space *s,
                          const fr_train_params *base,
                          const fr_tune_options *o, fr_tune_objective obj,
                          void *ctx, fr_tune_result *res, fr_error *err);
FR_EXPORT void fr_tune_result_free(fr_tune_result *res);

/* A trial as one JSON line (no newline), the trials log's format:
 * {"trial":..,"bracket":..,"rung":..,"config":..,"rounds":..,"status":
 * "ok"|"failed","valid_pr_auc":..,"best_iteration":..,"rounds_run":..,
 * "seconds":..,"params":{...}[,"error":".."]}.  Caller frees. */
FR_EXPORT char *fr_trial_json(const fr_trial *t);

/* The objective `fraud tune` uses: fr_train_xgboost on ctx's table and
 * split, then the validation slice's average precision of the returned
 * model (fr_xgboost_predict, fr_metrics_compute). */
typedef struct fr_tune_xgboost_ctx {
  const fr_table *table;
  const fr_split *split;
} fr_tune_xgboost_ctx;
FR_EXPORT int fr_tune_objective_xgboost(const fr_train_params *p,
                                        fr_trial *out, void *ctx);

/* ------------------------------------------------------------------------
 * Pipeline: the whole offline jobs behind `fraud train`, `fraud tune` and
 * `fraud evaluate` (src/train/pipeline.c, docs/training.md,
 * docs/evaluation.md).
 * ------------------------------------------------------------------------ */

typedef struct fr_train_job {
  const char *schema;        /* shipped schema name or path */
  const char *spec;          /* feature spec path; NULL = schema default */
  const char *data;          /* CSV / CSV.gz path */
  const char *out_dir;       /* bundle directory to create (must not exist) */
  const char *name;          /* model name; NULL = see fr_train_bundle_identity */
  const char *version;       /* version; NULL = see fr_train_bundle_identity */
  fr_read_options read;
  fr_train_params params;
  double valid_fraction;     /* default 0.15 */
  double test_fraction;      /* default 0.15 */
  /* Optional: called as each stage starts ("read", "features", "train",
   * "evaluate", "write"), from the calling thread; for progress displays. */
  void (*on_stage)(const char *stage, void *ctx);
  void *stage_ctx;
} fr_train_job;

typedef struct fr_train_report {
  size_t rows, skipped, features;
  size_t positives;          /* frauds (label 1) among the rows */
  size_t slice_positives[3]; /* frauds in the train, validation, test slices */
  fr_split split;
  double first_time, last_time; /* event-time range of the rows (epoch s) */
  double valid_start_time;   /* event time where the validation slice starts */
  double test_start_time;    /* event time where the test slice starts */
  fr_train_result train;
  fr_thresholds thresholds;
  fr_metrics valid, test;    /* at the decline threshold */
  double read_seconds, featurize_seconds, train_seconds, total_seconds;
} fr_train_report;

/* Fills a job with defaults (params from fr_train_params_default, fractions
 * 0.15/0.15, fail on bad rows). */
FR_EXPORT void fr_train_job_default(fr_train_job *job);

/* The model name and version a new bundle at `out_dir` is written under, so
 * that a version trained straight into a model repository
 * (REPO/<name>/<version>/, docs/bundle.md) names itself as the server will
 * find it (the server refuses a manifest whose name or version differs from
 * its directory).  The path is in a repository layout when its last
 * component is a version name the repository lists (digits only, and a
 * valid name by fr_repository_name_ok; serve.h); then the version defaults
 * to that component and, when the component before it is a valid model
 * name, the name defaults to that one.  Otherwise the version defaults to
 * "1" and the name to "" (the caller uses the schema's name).  `name` and
 * `version` (NULL = not given) override the defaults, but in a repository
 * layout they must equal the path's components.  Writes NUL-terminated
 * strings into name_out (name_cap bytes) and version_out (version_cap).
 * Errors: FR_EINVAL (NULL out_dir; a given name or version disagrees with
 * the path: the message says which and what the path holds; a result does
 * not fit its buffer).  Pure, thread-safe. */
FR_EXPORT int fr_train_bundle_identity(const char *out_dir, const char *name,
                                       const char *version, char *name_out,
                                       size_t name_cap, char *version_out,
                                       size_t version_cap, fr_error *err);

/* Reads job->data with the schema, splits the rows by event time, fits the
 * feature spec's encoders on the training slice, featurizes every row in
 * event-time order, trains XGBoost with early stopping on the validation
 * slice, picks the thresholds on the validation slice (decline: maximum
 * F1; review: the score at 1 % false-positive rate, capped at decline),
 * measures the test slice and writes the bundle atomically (fr_bundle_write:
 * nothing is left behind on failure).  The manifest records the parameters,
 * the split (fractions, rows, frauds and start time of each slice), the
 * training data (file, sha256, rows, skipped rows, frauds, event-time
 * range), the library versions and the drift reference of the validation
 * slice (fr_drift_reference_json: scores of the forest engine, every
 * feature; docs/bundle.md).  Errors: those of every stage, each naming its
 * input; FR_EDATA "every label is 0" when the data hold no fraud (PR-AUC
 * is undefined), FR_EEXIST when out_dir exists. */
FR_EXPORT int fr_train_run(const fr_train_job *job, fr_train_report *rep,
                           fr_error *err);

/* The hyper-parameter search behind `fraud tune`: the data are read,
 * split and featurized once (as fr_train_run does) in the calling process,
 * the search runs in forked workers (fr_tune_run with
 * fr_tune_objective_xgboost), then the best configuration is trained again
 * in one more forked process with the threads of a trial (so its model is
 * the best trial's, tree for tree) and written as a bundle like
 * fr_train_run's,
 * with the trials log copied into it as `trials.jsonl` (listed in the
 * manifest's files, with a `tuning` record: seed, space digest, budgets,
 * trials, best trial). */
typedef struct fr_tune_job {
  fr_train_job train;            /* data, schema, out_dir, base parameters */
  const fr_search_space *space;  /* borrowed */
  fr_tune_options tune;          /* log_path is required */
} fr_tune_job;

typedef struct fr_tune_report {
  fr_tune_result result;  /* every trial; free with fr_tune_result_free */
  fr_train_report train;  /* data, split, and the best model's metrics
                             (train.test etc. set only when written) */
  int written;            /* 1: the search is complete and the bundle is
                             written */
} fr_tune_report;

/* Fills a tune job with fr_train_job_default and zeroed options (seed 42). */
FR_EXPORT void fr_tune_job_default(fr_tune_job *job);

/* Runs (or resumes) the search and, when every planned trial has finished,
 * writes the best bundle; a time-boxed call (max_new_trials) returns 0 with
 * rep->written = 0.  XGBoost never runs in the calling process, so it may
 * call this again; it must not have trained with XGBoost itself before
 * (fr_tune_run's fork constraint).  The job's progress and stage callbacks
 * of the final training run in that child process.  Errors: those of
 * fr_train_run's reading stages and of fr_tune_run (FR_ESTATE when
 * cancelled: "rerun with the same log to resume"); FR_EDATA when every
 * trial failed (the first failure's message); FR_EEXIST when out_dir
 * exists (checked before the search starts).  rep->result is filled even on
 * error. */
FR_EXPORT int fr_tune_job_run(const fr_tune_job *job, fr_tune_report *rep,
                              fr_error *err);

/* The drift reference of a model version: the manifest's `reference`
 * object (docs/bundle.md), which the server compares live traffic with
 * for fraud_score_psi and fraud_feature_psi (docs/server.md, "Metrics").
 * Compact JSON text
 *   {"rows": n, "score": D, "features": {"<name>": D, ...}}
 * where each D = {"edges": [e1 < ... < ek], "shares": [s0, ..., sk,
 * s_missing]} describes one column: the edges are the deciles of its
 * non-missing values (the value at rank floor(i m / 10) of the m sorted
 * ones, i = 1..9, equal deciles merged, infinite ones left out: k <= 9),
 * share b is the fraction of the n rows with exactly b edges <= the value
 * and s_missing that of NaN rows, so the k + 2 shares sum to 1.  This is
 * the binning of `fraud drift` (fr_drift_compute) and of the server's PSI,
 * PSI = sum (cur - ref) ln(cur / ref) (fr_psi).  Numbers are written with
 * 17 significant digits, so they read back as the same doubles.
 * x: rows x cols float32 (NaN = missing); p: the rows' scores (fraud
 * probabilities); names: cols distinct non-empty feature names (borrowed).
 * Returns a new string (caller frees) or NULL with FR_EINVAL (no rows,
 * NULL input, an empty or repeated name) or FR_ENOMEM.  Thread-safe. */
FR_EXPORT char *fr_drift_reference_json(const float *x, const float *p, size_t rows,
                                        size_t cols, const char *const *names,
                                        fr_error *err);

/* Offline evaluation / scoring of a data file with a bundle. */
typedef struct fr_score_job {
  const char *model_dir;     /* bundle directory */
  const char *data;          /* CSV / CSV.gz read with the bundle's schema */
  fr_read_options read;
  int test_slice;            /* 1: only rows at or after the bundle's recorded
                                test-slice start time (manifest split) */
  int valid_slice;           /* 1: only rows in the bundle's recorded
                                validation slice [valid_start_time,
                                test_start_time) */
  int with_event_time;       /* fr_predict_run: add an event_time column
                                (epoch seconds) */
  fr_read_summary *summary;  /* optional out (NULL: not wanted): what the
                                read skipped under read.on_bad_row SKIP,
                                zeroed, then filled once the data is read,
                                by fr_predict_run and fr_evaluate_run */
} fr_score_job;

/* What `fraud evaluate` computes besides the metrics. */
typedef struct fr_evaluate_options {
  fr_cost_params cost;       /* review and decline costs (currency units) */
  int calibration_bins;      /* 1..FR_EVAL_MAX_BINS (default 10) */
  fr_calib_strategy calibration_strategy; /* default FR_CALIB_UNIFORM */
  const char *report_path;   /* write the HTML report here (atomic), or NULL */
} fr_evaluate_options;

/* Defaults: review cost 5, decline cost 25, reviews allowed, 10 uniform
 * calibration bins, no report. */
FR_EXPORT void fr_evaluate_options_default(fr_evaluate_options *o);

#define FR_EVAL_MAX_BINS 100

typedef struct fr_evaluation {
  fr_metrics metrics;          /* at the bundle's decline threshold */
  fr_thresholds bundle_thresholds;
  int has_amount;              /* 1 when the schema has an amount column:
                                  the money figures below are set */
  double fraud_amount;         /* total amount of the frauds */
  double amount_recall;        /* share of fraud money with p >= decline */
  double amount_recall_review; /* share of fraud money with p >= review */
  fr_cost_params cost_params;
  double cost_bundle;          /* total cost at the bundle's thresholds */
  fr_cost_result cost;         /* the cost-optimal thresholds on these rows */
  fr_calib_bin calibration[FR_EVAL_MAX_BINS]; /* non-empty bins */
  size_t calibration_n;
  double ece;                  /* expected calibration error */
} fr_evaluation;

/* Scores every row of job->data (featurized in event-time order from an
 * empty state, as at training), keeps the labelled rows of the selected
 * slice and computes: the metrics at the bundle's decline threshold, the
 * amount-weighted recall at both thresholds (fr_amount_recall), the cost of
 * the bundle's thresholds and the cost-optimal review and decline
 * thresholds (fr_cost_thresholds), the calibration table (fr_calibration)
 * and, when o->report_path is set, the HTML report (fr_report_write).  o
 * NULL uses the defaults.  Errors: FR_EDATA (no labelled rows), FR_EINVAL
 * (bad options), and those of the bundle, reader, featurizer and report. */
FR_EXPORT int fr_evaluate_run(const fr_score_job *job,
                              const fr_evaluate_options *o, fr_evaluation *ev,
                              fr_error *err);

/* The evaluation as one JSON object: every field of fr_metrics_json at the
 * top level (so it reads like the manifest's metrics), then
 * "bundle_thresholds", and when has_amount "fraud_amount", "amount_recall",
 * "amount_recall_review", "cost" {review_cost, decline_cost, allow_review,
 * bundle, optimal {review, decline, cost, approve_all, approved, reviewed,
 * declined, fraud_amount_stopped}}; then "calibration" {bins: [{lo, hi,
 * count, mean_pred, frac_pos}], ece}.  NaN prints as null.  New string,
 * caller frees; NULL on ENOMEM. */
FR_EXPORT char *fr_evaluation_json(const fr_evaluation *ev);

/* Writes a NEW model version `dst_dir` that is the bundle `src_dir` with
 * other decision thresholds: every file listed in the source manifest is
 * copied byte for byte (the model is unchanged), and the manifest gets the
 * new thresholds, version (`version`, or the last path component of
 * dst_dir when NULL), creation time, recomputed checksums and
 * "derived_from": {"name", "version", "dir" of the source, "thresholds" it
 * had} merged with the JSON object `derived_json` (e.g. the reason and the
 * costs; may be NULL).  The source is opened with fr_bundle_open first, so
 * a corrupt source is refused.  Written like fr_bundle_write: a temporary
 * sibling directory renamed into place.  Errors: FR_EEXIST (dst_dir
 * exists: versions are immutable), FR_EINVAL (thresholds not 0 <= review
 * <= decline <= 1, derived_json not an object, or dst_dir in a model
 * repository layout naming another model or version than the source's name
 * and the new version: fr_train_bundle_identity), FR_EIO, and those of
 * fr_bundle_open. */
FR_EXPORT int fr_bundle_derive_thresholds(const char *src_dir,
                                          const char *dst_dir,
                                          const char *version,
                                          const fr_thresholds *t,
                                          const char *derived_json,
                                          fr_error *err);

/* Scores every row and writes `out_csv` with the header
 * transaction_id,probability,decision (plus event_time when
 * job->with_event_time), one line per input row in input order.
 * transaction_id is the schema's id column, or the 1-based data row number
 * (fr_dataset_row_number: rows skipped by job->read.on_bad_row keep their
 * numbers) when the schema has none.  The data file may lack the label
 * column (job->read is used with label_optional set).  Probabilities are float32 printed
 * shortest-round-trip.  Atomic write; out_csv "-" writes to standard
 * output instead.  Errors: as fr_evaluate_run, FR_EIO. */
FR_EXPORT int fr_predict_run(const fr_score_job *job, const char *out_csv,
                             size_t *rows, fr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_TRAIN_H */
