/*
 * fraud/model.h - the forest engine (a compiled tree ensemble: flat node
 * arrays, predict margin and probability for 1..N rows) and the model bundle
 * (one model version on disk: manifest.json + schema + fitted feature spec +
 * model file).
 *
 * The forest reproduces XGBoost's prediction semantics exactly
 * (docs/forest.md): feature values are rounded to float32 before comparing;
 * a split sends x < threshold left (strict), x >= threshold right; NaN
 * follows the node's default direction; 0.0 is an ordinary value; leaf values
 * are summed in float32 in tree order; for binary:logistic the margin starts
 * at logit(base_score) and the probability is a numerically stable sigmoid.
 * It also loads LightGBM text models and ONNX TreeEnsemble models (their
 * splits converted exactly to that form), explains rows with exact TreeSHAP,
 * exports to ONNX, and finds bare model files in model-repository
 * directories laid out for Triton's FIL backend.
 */
#ifndef FRAUD_MODEL_H
#define FRAUD_MODEL_H

#include "fraud/common.h"
#include "fraud/data.h"
#include "fraud/features.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Forest engine (docs/forest.md)
 *
 * An fr_forest is immutable once loaded: every predict call only reads it,
 * so any number of threads may predict with one forest at the same time.
 * ------------------------------------------------------------------------ */

typedef struct fr_forest fr_forest;

typedef enum fr_forest_format {
  FR_FOREST_AUTO = 0,     /* by content */
  FR_FOREST_XGBOOST_JSON, /* XGBoost JSON model (save_model("*.json")) */
  FR_FOREST_LIGHTGBM_TEXT,
  FR_FOREST_ONNX
} fr_forest_format;

/* What the model's raw output means (from the objective). */
typedef enum fr_objective {
  FR_OBJ_BINARY_LOGISTIC = 0, /* probability = sigmoid(margin) */
  FR_OBJ_BINARY_LOGITRAW,     /* output is the margin */
  FR_OBJ_REG_SQUAREDERROR,    /* output is the margin */
  FR_OBJ_REG_LOGISTIC,        /* sigmoid(margin) */
  FR_OBJ_MULTI_SOFTPROB       /* softmax over per-class margins */
} fr_objective;

/* Loads a model file.  XGBoost JSON is documented at
 * https://xgboost.readthedocs.io/en/stable/tutorials/saving_model.html (schema
 * doc/model.schema in the XGBoost sources); both the 1.x/2.x form of
 * learner_model_param.base_score ("5E-1") and the 3.x one ("[5E-1]") are
 * read, and a malformed value is an error, never 0.  FR_FOREST_AUTO picks
 * the format by content: '{' opens XGBoost JSON, a first line "tree" or
 * "version=" LightGBM text, a protobuf tag 0x08 ONNX.  Errors: FR_EIO,
 * FR_EFORMAT with err naming the file and the JSON path or tree and node at
 * fault (truncated file, child index out of range, cycle, feature index out
 * of range, unknown objective, malformed base_score), FR_ELIMIT (more than
 * 2^28 nodes or features).  Free with fr_forest_free. */
FR_EXPORT fr_forest *fr_forest_load(const char *path, fr_forest_format fmt,
                                    fr_error *err);
/* As fr_forest_load from memory; `origin` names it in messages.  The buffer
 * is only read during the call. */
FR_EXPORT fr_forest *fr_forest_load_buffer(const void *data, size_t len,
                                           fr_forest_format fmt,
                                           const char *origin, fr_error *err);
/* NULL-safe. */
FR_EXPORT void fr_forest_free(fr_forest *f);

FR_EXPORT size_t fr_forest_nfeatures(const fr_forest *f);
FR_EXPORT size_t fr_forest_ntrees(const fr_forest *f);
/* Number of nodes (internal and leaves) after loading; unreachable nodes of
 * the file (XGBoost's deleted nodes) are not counted. */
FR_EXPORT size_t fr_forest_nnodes(const fr_forest *f);
/* Splits on the longest root-to-leaf path of any tree. */
FR_EXPORT size_t fr_forest_max_depth(const fr_forest *f);
/* Outputs per row: 1, or the number of classes for multi:softprob. */
FR_EXPORT size_t fr_forest_noutputs(const fr_forest *f);
FR_EXPORT fr_objective fr_forest_objective(const fr_forest *f);
/* The format the forest was loaded from. */
FR_EXPORT fr_forest_format fr_forest_format_of(const fr_forest *f);
/* Where the margin of `output` starts before any tree is added: for
 * logistic objectives the logit of base_score (base_score 0.4 gives
 * ln(0.4/0.6) = -0.405465), else base_score itself.  NaN when out of range. */
FR_EXPORT float fr_forest_base_margin(const fr_forest *f, size_t output);
/* Feature names stored in the model file, or NULL when it has none.  Owned
 * by f. */
FR_EXPORT const char *fr_forest_feature_name(const fr_forest *f, size_t i);

/* "binary:logistic", ...; "unknown" outside the enum. */
FR_EXPORT const char *fr_objective_name(fr_objective o);
/* "auto", "xgboost_json", "lightgbm", "onnx". */
FR_EXPORT const char *fr_forest_format_name(fr_forest_format fmt);
/* Parses the names above (also "json", "xgboost-json", "lightgbm_text").
 * Returns 0 or FR_EINVAL. */
FR_EXPORT int fr_forest_format_parse(const char *name, fr_forest_format *out);

/* Raw scores of n rows.  x: n x nfeatures float32, row-major, NaN = missing.
 * margin: n x noutputs.  Semantics are XGBoost's: a split sends x < threshold
 * left and x >= threshold right (a value equal to the threshold goes right);
 * NaN follows the node's default direction; 0.0 is an ordinary value; +-inf
 * are ordinary values too (+inf goes right of every finite threshold, -inf
 * left); leaf values are added to the base margin in float32 in tree order,
 * so margins of XGBoost models are bit-identical to XGBoost's own.
 * Thread-safe; allocates nothing.  Errors: FR_EINVAL (NULL pointers). */
FR_EXPORT int fr_forest_predict_margin(const fr_forest *f, const float *x,
                                       size_t n, float *margin);

/* Transformed scores of n rows (probability for logistic objectives, class
 * probabilities for softprob, identity otherwise).  Shapes as above. */
FR_EXPORT int fr_forest_predict(const fr_forest *f, const float *x, size_t n,
                                float *out);

/* Instruction sets of the prediction kernels. */
typedef enum fr_simd {
  FR_SIMD_AUTO = 0, /* chosen at run time: AVX-512, else AVX2, else
                       scalar, except on AMD CPUs (slow microcoded gathers)
                       where the portable kernel is faster; the environment
                       variable FRAUD_SIMD=scalar|avx2|avx512 overrides */
  FR_SIMD_SCALAR,   /* portable C */
  FR_SIMD_AVX2,     /* 8 lanes, gathers */
  FR_SIMD_AVX512    /* 16 lanes, gathers and mask registers */
} fr_simd;

/* 1 when this CPU (and OS) can run kernels of `s`; FR_SIMD_AUTO and
 * FR_SIMD_SCALAR always can. */
FR_EXPORT int fr_simd_supported(fr_simd s);
/* "auto", "scalar", "avx2", "avx512". */
FR_EXPORT const char *fr_simd_name(fr_simd s);
/* What FR_SIMD_AUTO resolves to on this machine (after FRAUD_SIMD). */
FR_EXPORT fr_simd fr_simd_best(void);

/* Options of the _ex predict calls; zero-initialised means "auto, calling
 * thread only". */
typedef struct fr_predict_opts {
  fr_simd simd;      /* instruction set; every set gives bit-identical output */
  unsigned nthreads; /* 0 or 1: the calling thread only.  More: the rows are
                        split in contiguous chunks over up to this many
                        threads (the caller's and nthreads - 1 started for
                        the call and joined before return), at least 256 rows
                        per thread, so small batches never pay for a thread
                        hand-off */
} fr_predict_opts;

/* fr_forest_predict_margin with options.  Forests with categorical, EQ/NEQ
 * or LightGBM zero-band splits always use the portable kernel.  Output is
 * bit-identical for every simd and nthreads value.  Thread-safe; allocates
 * nothing when nthreads <= 1.  Errors: FR_EINVAL (NULL pointers),
 * FR_EUNAVAIL (the CPU lacks the requested instruction set). */
FR_EXPORT int fr_forest_predict_margin_ex(const fr_forest *f, const float *x,
                                          size_t n, float *margin,
                                          const fr_predict_opts *opts);
/* fr_forest_predict with options (see fr_forest_predict_margin_ex). */
FR_EXPORT int fr_forest_predict_ex(const fr_forest *f, const float *x,
                                   size_t n, float *out,
                                   const fr_predict_opts *opts);

/* Applies the objective's transform to n rows of margins (n x noutputs)
 * into out (which may be margin itself): sigmoid for the logistic
 * objectives, softmax per row for multi:softprob (shifted by the row's
 * maximum so exp cannot overflow), identity otherwise. */
FR_EXPORT void fr_forest_transform(const fr_forest *f, const float *margin,
                                   size_t n, float *out);

/* The logistic function 1 / (1 + exp(-margin)), computed so that large
 * negative margins do not underflow to 0 early (margin -17.31 -> 3.03e-8):
 * e^m / (1 + e^m) for m < 0, in double, rounded once to float. */
FR_EXPORT float fr_sigmoid(float margin);

/* ------------------------------------------------------------------------
 * Bare model files in a model repository (Triton FIL layout)
 * ------------------------------------------------------------------------ */

/* What a version directory holds when it has a bare model file instead of
 * a bundle. */
typedef struct fr_forest_dir {
  fr_forest_format format; /* from config.pbtxt, or FR_FOREST_AUTO (by
                              content) when no config names one */
  char model_path[4096];   /* the model file */
  int has_config;          /* a config.pbtxt was found and read */
  char config_path[4096];  /* its path, when has_config */
  int output_class;        /* FIL output_class / is_classifier "true" */
  int predict_proba;       /* FIL predict_proba "true" */
  double threshold;        /* FIL threshold (default 0.5) */
  size_t max_batch_size;   /* ModelConfig max_batch_size, 0 if absent */
} fr_forest_dir;

/* Finds the model file of a model-repository version directory
 * (REPO/<name>/<version>) the way Triton's FIL backend does.  The optional
 * config is REPO/<name>/config.pbtxt (Triton's place) or
 * <version>/config.pbtxt, in the Protocol Buffers text format of Triton's
 * ModelConfig; read from it: parameters model_type ("xgboost_json" ->
 * xgboost.json, "lightgbm" -> model.txt, and our "onnx" -> model.onnx; FIL's
 * binary "xgboost", "xgboost_ubj" and "treelite_checkpoint" are refused),
 * backend "onnxruntime" / platform "onnxruntime_onnx" (-> model.onnx),
 * default_model_filename (overrides the file name), output_class or
 * is_classifier, predict_proba, threshold and max_batch_size (FIL backend
 * docs/model_config.md).  Without a config, the first of xgboost.json,
 * model.json, model.txt, model.onnx that exists, format by content.
 * Errors: FR_ENOTFOUND (no model file, naming the directory), FR_EPARSE
 * (config.pbtxt syntax, naming path:line), FR_EFORMAT (an unsupported
 * model_type or a bad parameter value), FR_EIO.  Reads files only. */
FR_EXPORT int fr_forest_dir_read(const char *version_dir, fr_forest_dir *out,
                                 fr_error *err);
/* Triton FIL's output__0 for rows already transformed by fr_forest_predict
 * (pred: n x noutputs), per the FIL backend's docs/model_config.md:
 *   output_class and predict_proba: class probabilities, [P(0), P(1)] for a
 *     binary model (width 2), one per class otherwise;
 *   output_class only: the class id as a float: 1 when P(1) >= threshold
 *     for a binary model, the most probable class otherwise (width 1);
 *   neither: the prediction itself (width noutputs).
 * out: n x fr_forest_dir_output_width().  treeshap_output is
 * fr_forest_shap's [n, nfeatures + 1] for a single-output model. */
FR_EXPORT size_t fr_forest_dir_output_width(const fr_forest *f,
                                            const fr_forest_dir *d);
FR_EXPORT void fr_forest_dir_output(const fr_forest *f, const fr_forest_dir *d,
                                    const float *pred, size_t n, float *out);
/* fr_forest_dir_read then fr_forest_load.  info may be NULL. */
FR_EXPORT fr_forest *fr_forest_dir_load(const char *version_dir,
                                        fr_forest_dir *info, fr_error *err);

/* ------------------------------------------------------------------------
 * ONNX export
 * ------------------------------------------------------------------------ */

/* Serialises the forest as an ONNX model (IR 8) with one ai.onnx.ml
 * (opset 3) TreeEnsembleClassifier (binary:logistic: labels [0, 1], one
 * score, post_transform LOGISTIC; multi:softprob: one label per class,
 * SOFTMAX) or TreeEnsembleRegressor (reg:logistic: LOGISTIC; others: NONE).
 * Input "input" float [N, nfeatures]; outputs "label" and "probabilities"
 * [N, classes] (classifier) or "variable" [N, outputs] (regressor).  Splits
 * keep their float32 thresholds: XGBoost's x < t becomes BRANCH_LT t, NaN
 * directions become nodes_missing_value_tracks_true, base_values carry the
 * base margin (the logit of base_score for logistic objectives), node covers
 * go to nodes_hitrates and feature names to metadata_props.  Loading the
 * result with fr_forest_load gives the same margins and probabilities.  The
 * file passes onnx.checker (tests/model/test_onnx.c).  *data is a new
 * buffer of *len bytes (caller frees).  Errors: FR_EINVAL, FR_ENOMEM,
 * FR_EUNAVAIL (a categorical or LightGBM zero-band split, which opset 3
 * cannot express). */
FR_EXPORT int fr_forest_to_onnx(const fr_forest *f, uint8_t **data,
                                size_t *len, fr_error *err);
/* fr_forest_to_onnx written to `path` atomically.  Errors as above, FR_EIO. */
FR_EXPORT int fr_forest_export_onnx(const fr_forest *f, const char *path,
                                    fr_error *err);

/* ------------------------------------------------------------------------
 * Explanations: exact TreeSHAP and top-k reasons
 * ------------------------------------------------------------------------ */

/* SHAP values of n rows: exact path-dependent TreeSHAP (Lundberg, Erion &
 * Lee 2018, "Consistent Individualized Feature Attribution for Tree
 * Ensembles", Algorithm 2), with subtree expectations weighted by the node
 * covers of the model file (XGBoost sum_hessian, LightGBM counts, ONNX
 * nodes_hitrates).  contrib: n x noutputs x (nfeatures + 1) float32; for
 * each row and output, nfeatures contributions then the bias (base margin
 * plus every tree's expected value); they sum to the row's margin (margin
 * units: log-odds for the logistic objectives).  Equal to XGBoost's
 * predict(pred_contribs=True) within 1e-5.  Computed with Linear TreeSHAP
 * (Yu et al. 2022, arXiv:2209.08192; see fr_forest_shap_prepare) in
 * O(nodes x q) per tree, q = 4 quadrature points up to depth 8 (8 up to 16,
 * 16 up to 32); deeper models use Algorithm 2 itself, O(leaves x depth^2)
 * per tree (costs in docs/benchmarks-forest.md).  Thread-safe; allocates
 * nothing when noutputs x (nfeatures + 1) <= 1024 and 4 q x (nodes of the
 * largest tree) <= 4096 (e.g. every tree of depth <= 7), else one scratch
 * block per call.  Errors: FR_EINVAL, FR_EUNAVAIL (the model file has no
 * covers, e.g. an ONNX model without nodes_hitrates), FR_ELIMIT (depth >
 * 512), FR_ENOMEM. */
FR_EXPORT int fr_forest_shap(const fr_forest *f, const float *x, size_t n,
                             float *contrib);

/* Builds the Linear TreeSHAP tables now rather than on the first
 * explanation (a server preparing a model at load, so the first request
 * does not pay for it): per node, the cover fraction of the edge into it
 * (multiplied along the path when its feature was split on above) and the
 * previous edge on the same feature: 12 bytes per node, built in
 * O(nodes x depth).  Thread-safe (built once under
 * a lock).  Errors: FR_EUNAVAIL (no covers), FR_ELIMIT (a tree deeper than
 * 32, or per-row scratch over 64 MiB: SHAP still works, with the direct
 * algorithm), FR_EINVAL. */
FR_EXPORT int fr_forest_shap_prepare(const fr_forest *f, fr_error *err);

/* One reason for a score: a feature, the row's value of it and its SHAP
 * contribution (margin units). */
typedef struct fr_reason {
  uint32_t feature;   /* index into the row */
  float value;        /* the row's value (NaN = missing) */
  float contribution; /* SHAP value */
} fr_reason;

typedef enum fr_reason_order {
  FR_REASONS_TOWARD_POSITIVE = 0, /* largest positive contributions: what
                                     pushed the score toward fraud; features
                                     with contribution <= 0 are left out */
  FR_REASONS_BY_MAGNITUDE         /* largest |contribution|, either sign;
                                     zero contributions left out */
} fr_reason_order;

/* Picks up to k reasons from one row's contributions (contrib: nfeatures
 * values, the bias after them is ignored; x: the row, or NULL) into out[k],
 * best first, ties by lower feature index.  Returns how many were written
 * (fewer than k when fewer features qualify). */
FR_EXPORT size_t fr_shap_top_k(const float *contrib, const float *x,
                               size_t nfeatures, size_t k,
                               fr_reason_order order, fr_reason *out);

/* TreeSHAP of one row for one output (only that output's trees are
 * walked), then fr_shap_top_k.  out: k entries; *nout gets the number
 * written.  Feature names come from the caller's featurizer or
 * fr_forest_feature_name.  Thread-safe; allocates nothing for depth <= 32
 * and nfeatures < 512.  Errors as fr_forest_shap. */
FR_EXPORT int fr_forest_reasons(const fr_forest *f, const float *x,
                                size_t output, size_t k, fr_reason_order order,
                                fr_reason *out, size_t *nout);

/* ------------------------------------------------------------------------
 * Model bundle: one model version on disk (docs/bundle.md).
 *
 *   DIR/manifest.json   name, version, created, schema & spec file names,
 *                       feature names, parameters, thresholds, metrics,
 *                       sha256 of every other file
 *   DIR/schema.yaml     the raw schema
 *   DIR/features.yaml   the fitted feature spec
 *   DIR/model.json      the XGBoost JSON model
 * ------------------------------------------------------------------------ */

typedef struct fr_bundle fr_bundle;

/* Decision thresholds on the fraud probability p: decline when p >=
 * decline, review when review <= p < decline, else approve. */
typedef struct fr_thresholds {
  double review;
  double decline;
} fr_thresholds;

typedef enum fr_decision {
  FR_APPROVE = 0,
  FR_REVIEW = 1,
  FR_DECLINE = 2
} fr_decision;

/* "approve", "review", "decline". */
FR_EXPORT const char *fr_decision_name(fr_decision d);
FR_EXPORT fr_decision fr_thresholds_decide(const fr_thresholds *t, double p);

/* Opens a bundle directory: reads manifest.json, verifies the sha256 of every
 * listed file, loads schema, featurizer and forest, and checks that the
 * forest's feature count equals the featurizer's and that its objective is
 * binary:logistic (a bundle's scores are probabilities compared with its
 * thresholds; another objective is FR_EFORMAT naming it).  Errors: FR_EIO,
 * FR_EFORMAT, FR_ECHECKSUM (naming the file), FR_ESCHEMA.  The bundle is
 * reference-counted: fr_bundle_open returns one reference. */
FR_EXPORT fr_bundle *fr_bundle_open(const char *dir, fr_error *err);
/* Adds a reference (for a request holding a model while a hot reload swaps
 * it).  Thread-safe. Returns b. */
FR_EXPORT fr_bundle *fr_bundle_ref(fr_bundle *b);
/* Drops a reference; frees on the last. NULL-safe. Thread-safe. */
FR_EXPORT void fr_bundle_unref(fr_bundle *b);

FR_EXPORT const char *fr_bundle_name(const fr_bundle *b);
FR_EXPORT const char *fr_bundle_version(const fr_bundle *b);
FR_EXPORT const char *fr_bundle_dir(const fr_bundle *b);
FR_EXPORT const fr_schema *fr_bundle_schema(const fr_bundle *b);
FR_EXPORT const fr_featurizer *fr_bundle_featurizer(const fr_bundle *b);
FR_EXPORT const fr_forest *fr_bundle_forest(const fr_bundle *b);
FR_EXPORT fr_thresholds fr_bundle_thresholds(const fr_bundle *b);
/* The manifest as JSON text (owned by b). */
FR_EXPORT const char *fr_bundle_manifest_json(const fr_bundle *b);

/* Offline scoring with a bundle: replays data set d (read with the bundle's
 * schema) through the bundle's featurizer in event-time order with a fresh
 * state, then predicts every row.  Returns the feature table (rows in
 * event-time order, see fr_table.source_row) and sets *prob to a new array of
 * table->rows probabilities in the same order (caller frees both).  Errors:
 * those of fr_featurize_dataset, FR_ENOMEM. */
FR_EXPORT fr_table *fr_bundle_score_dataset(const fr_bundle *b,
                                            const fr_dataset *d, float **prob,
                                            fr_error *err);

/* A further file stored in a bundle (e.g. `fraud tune`'s trials.jsonl):
 * a plain file name (no '/'; not manifest.json, schema.yaml, features.yaml
 * or model.json) and its bytes. */
typedef struct fr_bundle_file {
  const char *name;
  const void *data;
  size_t len;
} fr_bundle_file;

/* Everything needed to write a bundle.  Strings are borrowed. */
typedef struct fr_bundle_spec {
  const char *name;           /* model name (repository directory name) */
  const char *version;        /* version ("1", "2", ...) */
  const fr_schema *schema;
  const fr_featurizer *featurizer; /* fitted */
  const char *model_json;     /* XGBoost JSON model text */
  size_t model_json_len;
  fr_thresholds thresholds;
  const char *params_json;    /* JSON object of training parameters, or NULL */
  const char *metrics_json;   /* JSON object of test-slice metrics, or NULL */
  const char *extra_json;     /* JSON object merged into the manifest, or NULL */
  const fr_bundle_file *extra_files; /* n_extra_files more files written
                                        into the bundle and listed in the
                                        manifest's `files`, or NULL */
  size_t n_extra_files;
} fr_bundle_spec;

/* Writes a bundle to `dir` atomically: everything goes to a temporary
 * sibling directory ("<dir>.tmp-PID-N"), then rename(2); an existing `dir`
 * is an error (FR_EEXIST) because versions are immutable.  First removes
 * the temporary siblings ("*.tmp-PID-N" directories next to `dir`) whose
 * process no longer runs, left by a writer killed outright.  Errors:
 * FR_EIO, FR_EEXIST, FR_EINVAL (an extra file with a bad or reserved name). */
FR_EXPORT int fr_bundle_write(const fr_bundle_spec *spec, const char *dir,
                              fr_error *err);

/* ------------------------------------------------------------------------
 * Model paths, feature matrices and explanations (the library side of
 * `fraud predict --features`, `fraud explain`, `fraud export`)
 * ------------------------------------------------------------------------ */

/* What a --model path names, opened: a bundle directory (manifest.json), a
 * model-repository version directory with a bare model file
 * (fr_forest_dir_read), or a model file (any format, by content).  Caller
 * owns the struct; close with fr_model_source_close. */
typedef struct fr_model_source {
  fr_bundle *bundle;        /* a bundle (one reference), else NULL */
  fr_forest *forest_owned;  /* a bare model, else NULL */
  const fr_forest *forest;  /* the forest either way */
} fr_model_source;

/* Errors: those of fr_bundle_open, fr_forest_dir_read and fr_forest_load. */
FR_EXPORT int fr_model_source_open(const char *path, fr_model_source *m,
                                   fr_error *err);
/* NULL-safe; zeroes *m. */
FR_EXPORT void fr_model_source_close(fr_model_source *m);
/* Name of feature i: the bundle featurizer's, else the model file's, else
 * NULL.  Owned by m. */
FR_EXPORT const char *fr_model_source_feature_name(const fr_model_source *m,
                                                   size_t i);
/* Matches the columns of a feature matrix (t's column names; t may have no
 * rows) to the model's features: map[j] = the column of feature j (map has
 * nfeatures entries).  By name when every feature has one: each feature
 * must be a column, in any order, and no feature twice; the other columns
 * (transaction_id, label, anything else) are ignored.  Else by position:
 * the columns other than `transaction_id` and `label`, in order, must be as
 * many as the model's features.  Errors: FR_ESCHEMA naming `what` (the
 * file) and the column (a missing feature, one named twice) or the counts;
 * FR_EINVAL. */
FR_EXPORT int fr_model_source_match(const fr_model_source *m, const fr_table *t,
                                    size_t *map, const char *what,
                                    fr_error *err);
/* Scores every row of a feature-matrix CSV (header of column names, one row
 * per example, empty cell = missing; the model's feature columns selected
 * as fr_model_source_match does, the others not read, so the output of
 * `fraud features` scores as it is) and writes out_csv atomically ("-":
 * standard output) with the columns
 * `probability,margin`, or
 * `probability_0..probability_K-1,margin_0..margin_K-1` for K outputs, one
 * line per row in input order, floats shortest round trip.  *rows gets the
 * count.  Errors: FR_EIO, FR_EPARSE (a row with the wrong number of cells,
 * a feature cell that is not a number: path:line:column), FR_ESCHEMA
 * (columns versus model features). */
FR_EXPORT int fr_model_source_score_csv(const fr_model_source *m,
                                        const char *matrix_csv,
                                        const char *out_csv,
                                        const fr_predict_opts *opts,
                                        size_t *rows, fr_error *err);

/* An explanation run: per row, the probability, the margin and the top-k
 * TreeSHAP reasons. */
typedef struct fr_explain_job {
  const char *model;    /* bundle directory, version directory or model file */
  const char *data;     /* raw data file read with the bundle's schema and
                           featurized as `fraud predict` does, or NULL */
  const char *features; /* a feature matrix CSV instead of data, or NULL */
  size_t k;             /* reasons per row (0: 3); more than the model's
                           number of features is lowered to that number */
  fr_reason_order order;
  fr_read_options read; /* for data (label_optional is implied: the
                           label column may be absent) */
  fr_read_summary *summary; /* optional out (NULL: not wanted): with data,
                               what its read skipped under read.on_bad_row
                               SKIP (zeroed first; a feature matrix skips
                               nothing) */
} fr_explain_job;

/* Writes out_csv atomically ("-": standard output): transaction_id (with
 * data: the schema's id column; with features: the matrix's transaction_id
 * column, as `fraud features` writes it; else the 1-based data row number,
 * fr_dataset_row_number), class (multi-class models: the most probable
 * class, whose reasons are given), probability, margin, bias (the SHAP
 * base value of that output, fr_forest_shap's last column: the base margin
 * plus every tree's cover-weighted expected value, the same for every row),
 * then k triples reason_i (feature name), value_i (the row's value, empty
 * when missing), contribution_i (SHAP, margin units); bias plus the
 * contributions of all features equals the margin (with k = nfeatures and
 * FR_REASONS_BY_MAGNITUDE every nonzero one is listed).  One line per input
 * row in input order (a feature matrix: file order), empty triples when
 * fewer features qualify.  Errors: FR_EINVAL (not
 * exactly one of data / features; raw data with a bare model file), those of
 * the readers, featurizer and fr_forest_reasons (FR_EUNAVAIL: no covers). */
FR_EXPORT int fr_explain_run(const fr_explain_job *job, const char *out_csv,
                             size_t *rows, fr_error *err);

/* ------------------------------------------------------------------------
 * Triton export (docs/deploy.md): the same model as a Triton Inference
 * Server model repository, so it can be served by Triton directly.
 *
 *   REPO/<name>/config.pbtxt          FIL backend (backend "fil")
 *   REPO/<name>/<version>/xgboost.json  byte-for-byte copy of the model
 *   REPO/<onnx_name>/config.pbtxt     ONNX Runtime backend (alternative)
 *   REPO/<onnx_name>/<version>/model.onnx
 *
 * config.pbtxt is Protocol Buffers text format of Triton's ModelConfig
 * message (triton-inference-server/common, protobuf/model_config.proto);
 * the FIL parameters follow the FIL backend's docs/model_config.md.
 * ------------------------------------------------------------------------ */

/* What goes into config.pbtxt.  Initialise with fr_triton_options_default
 * and override.  Strings are borrowed for the duration of the call. */
typedef struct fr_triton_options {
  const char *name;        /* model directory name (required); letters,
                              digits, '_', '-', '.' only */
  const char *version;     /* version directory, digits only (default "1") */
  int max_batch_size;      /* rows per executed batch (default 8192) */
  int preferred_batch_sizes[4]; /* dynamic batching preferred sizes, each
                                   <= max_batch_size; 0 ends the list
                                   (default 64, 256, 1024) */
  uint64_t max_queue_delay_us; /* dynamic batching: longest time a request
                                  waits to be batched (default 100 us) */
  int instance_count;      /* model instances, KIND_CPU (default 2) */
  double threshold;        /* FIL: probability at or above which output__0
                              is class 1 when predict_proba is 0 (default
                              0.5; pass the bundle's decline threshold) */
  int predict_proba;       /* FIL: 0 (default) output__0 is the class id,
                              FP32 [1]; 1 output__0 is [P(0), P(1)], FP32
                              [2] */
} fr_triton_options;

FR_EXPORT void fr_triton_options_default(fr_triton_options *o);

/* The option checks fr_triton_write_fil and fr_triton_write_onnx make:
 * name a model directory name (letters, digits, '_', '-', '.'; not
 * starting with '.'), version a positive integer (Triton's version
 * directories), batch sizes and instances in range.  0 or FR_EINVAL naming
 * the field.  For callers (the CLI) that check user input before any
 * work. */
FR_EXPORT int fr_triton_options_check(const fr_triton_options *o, fr_error *err);

/* Writes REPO/<name>/ for Triton's FIL backend from an XGBoost JSON model
 * file (binary:logistic or binary:logitraw only: the FIL classifier output
 * is for binary models here).  input__0 is FP32 [F] with F the model's
 * learner_model_param.num_feature; parameters model_type "xgboost_json",
 * output_class "true" (FIL < 25.09) and is_classifier "true" (its name from
 * 25.09 on), predict_proba and threshold; dynamic_batching and one
 * KIND_CPU instance_group.  The model directory is written to a temporary
 * sibling and renamed into place, so a crash leaves no half repository.
 * Errors: FR_EINVAL (bad options, naming the field), FR_EIO (naming the
 * path), FR_EFORMAT (not an XGBoost JSON model, or not a binary
 * objective), FR_EEXIST (REPO/<name> exists).  Thread-safe for distinct
 * destinations. */
FR_EXPORT int fr_triton_write_fil(const char *model_json_path,
                                  const fr_triton_options *o,
                                  const char *repo, fr_error *err);

/* The ONNX alternative: REPO/<name>/ for Triton's ONNX Runtime backend
 * (backend "onnxruntime") with <version>/model.onnx a copy of `onnx_path`.
 * The tensors are those of an ai.onnx.ml TreeEnsembleClassifier graph:
 * `input_name` FP32 [nfeatures]; `label_name` INT64, one per row (dims [1]
 * reshaped to [] since the graph's label output is 1-D [N]); `proba_name`
 * FP32 [2].  label_name may be NULL to leave that output undeclared.
 * o->threshold and o->predict_proba do not apply.  Errors as
 * fr_triton_write_fil (FR_EINVAL when nfeatures is 0 or a name is empty). */
FR_EXPORT int fr_triton_write_onnx(const char *onnx_path, size_t nfeatures,
                                   const char *input_name,
                                   const char *label_name,
                                   const char *proba_name,
                                   const fr_triton_options *o,
                                   const char *repo, fr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_MODEL_H */
