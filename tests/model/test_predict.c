/* Tests src/model/predict.c and predict_simd.c: every prediction kernel
 * (portable wide and compact, general, AVX2 and AVX-512 on both layouts,
 * rows-across-lanes and trees-across-lanes) and every entry-point option
 * (instruction set, threads) gives margins bit-identical to XGBoost's on
 * every golden case, for batch sizes that leave partial blocks. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>

#include "fraud/model.h"
#include "model/forest_internal.h"
#include "model_case.h"

typedef struct kernel_entry {
  const char *name;
  fr__kernel fn;
  fr_simd needs;     /* instruction set the CPU must have */
  int compact;       /* needs f->cnodes and few enough features */
  int numeric;       /* needs a forest without special nodes */
  int heap;          /* needs the complete-tree layout (f->hnodes) */
} kernel_entry;

static const kernel_entry kernels[] = {
    {"scalar", fr__kernel_scalar, FR_SIMD_SCALAR, 0, 1, 0},
    {"general", fr__kernel_general, FR_SIMD_SCALAR, 0, 0, 0},
    {"compact", fr__kernel_compact, FR_SIMD_SCALAR, 1, 1, 0},
    {"heap", fr__kernel_heap, FR_SIMD_SCALAR, 1, 1, 1},
    {"avx2_rows", fr__kernel_avx2_rows, FR_SIMD_AVX2, 0, 1, 0},
    {"avx2_trees", fr__kernel_avx2_trees, FR_SIMD_AVX2, 0, 1, 0},
    {"avx2_crows", fr__kernel_avx2_crows, FR_SIMD_AVX2, 1, 1, 0},
    {"avx2_ctrees", fr__kernel_avx2_ctrees, FR_SIMD_AVX2, 1, 1, 0},
    {"avx512_rows", fr__kernel_avx512_rows, FR_SIMD_AVX512, 0, 1, 0},
    {"avx512_trees", fr__kernel_avx512_trees, FR_SIMD_AVX512, 0, 1, 0},
    {"avx512_crows", fr__kernel_avx512_crows, FR_SIMD_AVX512, 1, 1, 0},
    {"avx512_ctrees", fr__kernel_avx512_ctrees, FR_SIMD_AVX512, 1, 1, 0},
};

static void init_margin(const fr_forest *f, size_t n, float *m) {
  for (size_t i = 0; i < n; i++)
    for (size_t g = 0; g < f->noutputs; g++)
      m[i * f->noutputs + g] = f->base_margin[g];
}

/* Runs kernel k on rows [0, n) in batches of `batch` rows. */
static void run(const kernel_entry *k, const fr_forest *f, const float *x, size_t n, size_t batch,
                float *m) {
  init_margin(f, n, m);
  for (size_t r = 0; r < n; r += batch) {
    size_t b = n - r < batch ? n - r : batch;
    k->fn(f, x + r * f->nfeatures, b, m + r * f->noutputs);
  }
}

Test(predict, every_kernel_is_bit_identical_to_xgboost) {
  const char *dir = model_case_dir();
  json_t *names = model_case_names(dir);
  cr_assert_not_null(names);
  size_t batches[] = {1, 3, 16, 17, 33, 1000};
  size_t runs = 0, heap_cases = 0;
  for (size_t ci = 0; ci < json_array_size(names); ci++) {
    const char *name = json_string_value(json_array_get(names, ci));
    model_case c;
    cr_assert_eq(model_case_load(dir, name, &c), 0);
    fr_error err;
    fr_forest *f = fr_forest_load(c.model_path, FR_FOREST_AUTO, &err);
    cr_assert_not_null(f, "%s: %s", name, err.msg);
    float *m = malloc(c.n * c.nout * sizeof(float));
    if (f->hnodes)
      heap_cases++;
    for (size_t ki = 0; ki < sizeof kernels / sizeof kernels[0]; ki++) {
      const kernel_entry *k = &kernels[ki];
      if (!fr_simd_supported(k->needs))
        continue;
      if (k->numeric && f->has_special)
        continue;
      if (k->compact && (!f->cnodes || f->nfeatures > FR__KEY_MAX_FEATURES))
        continue;
      if (k->heap && !f->hnodes)
        continue;
      for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
        run(k, f, c.x, c.n, batches[bi], m);
        for (size_t i = 0; i < c.n * c.nout; i++)
          cr_assert(m[i] == c.margin[i],
                    "%s, kernel %s, batch %zu, row %zu: margin %.9g, XGBoost %.9g", name,
                    k->name, batches[bi], i / c.nout, m[i], c.margin[i]);
        runs++;
      }
    }
    free(m);
    fr_forest_free(f);
    model_case_free(&c);
  }
  json_decref(names);
  cr_log_info("%zu kernel runs, %zu cases with the complete-tree layout", runs, heap_cases);
  /* The complete-tree kernel is the one AUTO uses for shallow numeric
   * forests on this CPU: it must have been checked on some cases. */
  cr_assert_gt(heap_cases, 0);
}

Test(predict, entry_point_options_agree) {
  const char *dir = model_case_dir();
  json_t *names = model_case_names(dir);
  cr_assert_not_null(names);
  fr_simd sets[] = {FR_SIMD_AUTO, FR_SIMD_SCALAR, FR_SIMD_AVX2, FR_SIMD_AVX512};
  unsigned threads[] = {0, 1, 2, 3};
  for (size_t ci = 0; ci < json_array_size(names); ci++) {
    const char *name = json_string_value(json_array_get(names, ci));
    model_case c;
    cr_assert_eq(model_case_load(dir, name, &c), 0);
    fr_forest *f = fr_forest_load(c.model_path, FR_FOREST_AUTO, NULL);
    cr_assert_not_null(f);
    /* Enough rows that 2 and 3 threads really split the batch. */
    size_t reps = 1200 / c.n + 1, n = c.n * reps;
    float *x = malloc(n * c.nf * sizeof(float));
    for (size_t r = 0; r < reps; r++)
      memcpy(x + r * c.n * c.nf, c.x, c.n * c.nf * sizeof(float));
    float *m = malloc(n * c.nout * sizeof(float));
    for (size_t si = 0; si < 4; si++) {
      for (size_t ti = 0; ti < 4; ti++) {
        fr_predict_opts o = {sets[si], threads[ti]};
        int rc = fr_forest_predict_margin_ex(f, x, n, m, &o);
        if (!fr_simd_supported(sets[si])) {
          cr_assert_eq(rc, FR_EUNAVAIL);
          continue;
        }
        cr_assert_eq(rc, 0);
        for (size_t i = 0; i < n * c.nout; i++)
          cr_assert(m[i] == c.margin[i % (c.n * c.nout)], "%s, %s, %u threads, value %zu", name,
                    fr_simd_name(sets[si]), threads[ti], i);
      }
    }
    free(x);
    free(m);
    fr_forest_free(f);
    model_case_free(&c);
  }
  json_decref(names);
}

Test(predict, simd_names_and_best) {
  cr_assert_str_eq(fr_simd_name(FR_SIMD_AVX512), "avx512");
  cr_assert_str_eq(fr_simd_name(FR_SIMD_SCALAR), "scalar");
  cr_assert(fr_simd_supported(fr_simd_best()));
  cr_assert(fr_simd_supported(FR_SIMD_SCALAR));
  cr_assert_neq(fr_simd_best(), FR_SIMD_AUTO);
}

/* Keys order like floats: the compact kernels' decision "key >= tkey" must
 * equal "x >= threshold" for every pair, and NaN must fall below (lo key)
 * or above (hi key) every number. */
Test(predict, order_preserving_keys) {
  float vals[] = {-INFINITY, -FLT_MAX, -1e30f, -2.5f, -1.0f, -FLT_MIN, -1e-45f, -0.0f,
                  0.0f,      1e-45f,   FLT_MIN, 0.1f,  1.0f,  2.5f,     1e30f,   FLT_MAX,
                  INFINITY};
  size_t nv = sizeof vals / sizeof vals[0];
  for (size_t i = 0; i < nv; i++) {
    for (size_t j = 0; j < nv; j++) {
      int want = vals[i] >= vals[j];
      int got = fr__key(vals[i]) >= fr__key(vals[j]);
      cr_assert_eq(got, want, "%g >= %g", vals[i], vals[j]);
    }
    cr_assert_gt(fr__key(vals[i]), FR__KEY_NAN_LO);
    cr_assert_lt(fr__key(vals[i]), FR__KEY_NAN_HI);
  }
}

/* The SSE2 row-key conversion equals the scalar definition on every kind
 * of value, for widths that leave a scalar tail. */
Test(predict, row_keys_vector_equals_scalar) {
  float special[] = {0.0f, -0.0f, NAN, -NAN, INFINITY, -INFINITY, 1e-45f, -1e-45f,
                     FLT_MIN, -FLT_MIN, FLT_MAX, -FLT_MAX, 1.0f, -1.0f, 0.1f, -2.5f, 3e38f};
  size_t ns = sizeof special / sizeof special[0];
  for (size_t nf = 1; nf <= 19; nf++) {
    float x[19];
    uint32_t keys[38];
    for (size_t rot = 0; rot < ns; rot++) {
      for (size_t j = 0; j < nf; j++)
        x[j] = special[(j + rot) % ns];
      fr__row_keys(x, nf, keys);
      for (size_t j = 0; j < nf; j++) {
        uint32_t lo = isnan(x[j]) ? FR__KEY_NAN_LO : fr__key(x[j]);
        uint32_t hi = isnan(x[j]) ? FR__KEY_NAN_HI : fr__key(x[j]);
        cr_assert_eq(keys[j], lo, "nf %zu feature %zu (%g)", nf, j, x[j]);
        cr_assert_eq(keys[nf + j], hi, "nf %zu feature %zu (%g)", nf, j, x[j]);
      }
    }
  }
}
