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
 * forest's feature count equals the featurizer's.  Errors: FR_EIO,
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
 * sibling directory, then rename(2); an existing `dir` is an error
 * (FR_EEXIST) because versions are immutable.  Errors: FR_EIO, FR_EEXIST,
 * FR_EINVAL (an extra file with a bad or reserved name). */
FR_EXPORT int fr_bundle_write(const fr_bundle_spec *spec, const char *dir,
                              fr_error *err);

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
