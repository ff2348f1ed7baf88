/*
 * fuzz_model.c - libFuzzer driver for every model-file parser: the XGBoost
 * JSON, LightGBM text and ONNX loaders (src/model) and the config.pbtxt
 * reader of model-repository directories.
 *
 * The first byte of the input picks the parser (so one corpus drives all of
 * them and mutations can cross formats); the rest is the file.  A model that
 * loads is then used: predicted on rows of NaN, zeros, +-inf and values
 * taken from the input, through every instruction set, explained with
 * TreeSHAP and exported to ONNX and reloaded.  Any crash, sanitizer report
 * or leak is a bug, and so is a failed load whose error record says
 * nothing; a clean error return is the expected outcome for garbage.
 *
 * Build and run: fuzz/README.md.  replay_main.c turns this driver into a
 * plain program that `make check` runs over the checked-in corpus.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fraud/model.h"
#include "model/forest_internal.h"

static void exercise(fr_forest *f, const uint8_t *data, size_t size) {
  size_t nf = fr_forest_nfeatures(f), k = fr_forest_noutputs(f);
  if (nf > 4096 || k > 64)
    return; /* keep each run fast; shapes this large were checked at load */
  enum { ROWS = 5 };
  float *x = malloc(ROWS * nf * sizeof *x), *m = malloc(ROWS * k * sizeof *m);
  float *c = malloc(k * (nf + 1) * sizeof *c);
  if (!x || !m || !c)
    goto out;
  for (size_t j = 0; j < nf; j++) {
    x[j] = NAN;
    x[nf + j] = 0.0f;
    x[2 * nf + j] = INFINITY;
    x[3 * nf + j] = -INFINITY;
    float v = 0;
    if (size >= 4)
      memcpy(&v, data + (j * 4) % (size - 3), 4);
    x[4 * nf + j] = v;
  }
  fr_simd sets[] = {FR_SIMD_SCALAR, FR_SIMD_AVX2, FR_SIMD_AVX512};
  for (int s = 0; s < 3; s++) {
    fr_predict_opts o = {sets[s], 1};
    if (fr_simd_supported(sets[s])) {
      fr_forest_predict_ex(f, x, ROWS, m, &o);
      fr_forest_predict_ex(f, x + 4 * nf, 1, m, &o);
    }
  }
  if (fr_forest_max_depth(f) <= 64)
    fr_forest_shap(f, x + 4 * nf, 1, c);
  fr_reason r[3];
  size_t got;
  fr_forest_reasons(f, x, 0, 3, FR_REASONS_BY_MAGNITUDE, r, &got);
  uint8_t *onnx;
  size_t len;
  if (fr_forest_nnodes(f) < 100000 && fr_forest_to_onnx(f, &onnx, &len, NULL) == 0) {
    fr_forest *g = fr_forest_load_buffer(onnx, len, FR_FOREST_ONNX, "re-export", NULL);
    fr_forest_free(g);
    free(onnx);
  }
out:
  free(x);
  free(m);
  free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t which = data[0] % 5;
  data++;
  size--;
  if (which == 4) {
    fr__pbtxt_check((const char *)data, size, NULL);
    return 0;
  }
  static const fr_forest_format fmts[] = {FR_FOREST_AUTO, FR_FOREST_XGBOOST_JSON,
                                          FR_FOREST_LIGHTGBM_TEXT, FR_FOREST_ONNX};
  fr_error err;
  fr_forest *f = fr_forest_load_buffer(data, size, fmts[which], "fuzz", &err);
  if (f) {
    exercise(f, data, size);
    fr_forest_free(f);
  } else if (err.code == 0 || err.msg[0] == 0) {
    abort(); /* a failure must say what failed */
  }
  return 0;
}
