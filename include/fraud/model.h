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
 * Forest engine
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
 * doc/model.schema in the XGBoost sources).  Errors: FR_EIO, FR_EFORMAT with
 * err naming the file and the JSON path at fault (truncated file, child index
 * out of range, cycle, unknown objective, malformed base_score).  Free with
 * fr_forest_free. */
FR_EXPORT fr_forest *fr_forest_load(const char *path, fr_forest_format fmt,
                                    fr_error *err);
/* As fr_forest_load from memory; `origin` names it in messages. */
FR_EXPORT fr_forest *fr_forest_load_buffer(const void *data, size_t len,
                                           fr_forest_format fmt,
                                           const char *origin, fr_error *err);
FR_EXPORT void fr_forest_free(fr_forest *f);

FR_EXPORT size_t fr_forest_nfeatures(const fr_forest *f);
FR_EXPORT size_t fr_forest_ntrees(const fr_forest *f);
/* Outputs per row: 1, or the number of classes for multi:softprob. */
FR_EXPORT size_t fr_forest_noutputs(const fr_forest *f);
FR_EXPORT fr_objective fr_forest_objective(const fr_forest *f);
/* Feature names stored in the model file, or NULL when it has none. */
FR_EXPORT const char *fr_forest_feature_name(const fr_forest *f, size_t i);

/* Raw scores of n rows.  x: n x nfeatures float32, row-major, NaN = missing.
 * margin: n x noutputs.  Thread-safe; allocates nothing.  Errors: FR_EINVAL
 * (NULL pointers). */
FR_EXPORT int fr_forest_predict_margin(const fr_forest *f, const float *x,
                                       size_t n, float *margin);

/* Transformed scores of n rows (probability for logistic objectives, class
 * probabilities for softprob, identity otherwise).  Shapes as above. */
FR_EXPORT int fr_forest_predict(const fr_forest *f, const float *x, size_t n,
                                float *out);

/* The logistic function 1 / (1 + exp(-margin)), computed so that large
 * negative margins do not underflow to 0 early (margin -17.31 -> 3.03e-8). */
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
} fr_bundle_spec;

/* Writes a bundle to `dir` atomically: everything goes to a temporary
 * sibling directory, then rename(2); an existing `dir` is an error
 * (FR_EEXIST) because versions are immutable.  Errors: FR_EIO, FR_EEXIST. */
FR_EXPORT int fr_bundle_write(const fr_bundle_spec *spec, const char *dir,
                              fr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_MODEL_H */
