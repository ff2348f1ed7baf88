/*
 * xgb.h - internal: XGBoost's C API reached through a table of function
 * pointers filled once with dlopen/dlsym, so that libfraud (and therefore the
 * `fraud` binary, which is also the scoring server) never links libxgboost.
 * Only `fraud train`, `fraud tune` and `fraud evaluate` load it, on first use.
 *
 * Every pointer is typed from the real prototype in <xgboost/c_api.h>
 * (`__typeof__(XGBoosterCreate) *`), so a signature change in a new XGBoost
 * release is a compile error rather than a silent ABI mismatch.
 */
#ifndef FRAUD_TRAIN_XGB_H
#define FRAUD_TRAIN_XGB_H

#include <xgboost/c_api.h>

#include "fraud/common.h"

/* X(name): every XGBoost symbol the trainer uses. */
#define FR__XGB_FUNCS(X)          \
  X(XGBoostVersion)               \
  X(XGBGetLastError)              \
  X(XGDMatrixCreateFromMat)       \
  X(XGDMatrixSetFloatInfo)        \
  X(XGDMatrixSetStrFeatureInfo)   \
  X(XGDMatrixFree)                \
  X(XGBoosterCreate)              \
  X(XGBoosterFree)                \
  X(XGBoosterSetParam)            \
  X(XGBoosterSetStrFeatureInfo)   \
  X(XGBoosterUpdateOneIter)       \
  X(XGBoosterEvalOneIter)         \
  X(XGBoosterSlice)               \
  X(XGBoosterBoostedRounds)       \
  X(XGBoosterSaveModelToBuffer)   \
  X(XGBoosterLoadModelFromBuffer) \
  X(XGBoosterPredictFromDMatrix)

typedef struct fr__xgb_api {
#define FR__XGB_FIELD(name) __typeof__(name) *name;
  FR__XGB_FUNCS(FR__XGB_FIELD)
#undef FR__XGB_FIELD
  int major, minor, patch;
} fr__xgb_api;

/* The table, loaded once per process (pthread_once; thread-safe).  The
 * library is libxgboost.so.0 unless $FRAUD_XGBOOST_LIBRARY names another
 * file (read at the first call only).  Returns 0 and sets *api, or FR_EDEP
 * "fraud train needs libxgboost (apt-get install libxgboost0): ..." with the
 * dlerror() text.  The table lives until the process exits. */
int fr__xgb_load(const fr__xgb_api **api, fr_error *err);

/* Copies XGBGetLastError() into err at once (it is thread-local and the next
 * XGBoost call overwrites it), prefixed with the failed call's text.  Returns
 * FR_EINVAL: XGBoost fails on a rejected parameter or malformed input. */
int fr__xgb_fail(const fr__xgb_api *api, fr_error *err, const char *call);

/* The one check macro around every XGBoost call: on failure copies the
 * message, sets `rc` and jumps to the function's `done:` label. */
#define FR_XGB_CHECK(api, err, call)            \
  do {                                          \
    if ((api)->call != 0) {                     \
      rc = fr__xgb_fail((api), (err), #call);   \
      goto done;                                \
    }                                           \
  } while (0)

#endif
