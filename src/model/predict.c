/*
 * predict.c - the portable prediction kernels.
 *
 * Every tree is walked for exactly tree_depth[t] steps: leaves point to
 * themselves (forest_internal.h), so a row that reaches a shallow leaf early
 * just stays there.  With no "is this a leaf" branch in the loop, a step is
 * one load of the node, one load of the feature value, a compare and an add,
 * and several walks can run in lock-step to give the CPU independent work
 * while each waits for its next node.
 *
 *   - one row: several trees are walked in lock-step (the latency of one
 *     walk hides behind the others);
 *   - several rows: a block of rows walks each group of trees, so a group's
 *     nodes are loaded once per block while hot.
 *
 * The wide-layout kernels (16-byte nodes) serve forests with special nodes
 * or too many features for the compact one; the compact kernel (8-byte
 * nodes, integer keys, forest_internal.h) serves the rest, except forests of
 * shallow trees, which the complete-tree kernel (predict_heap.c) walks
 * with fewer instructions per step.
 *
 * Leaf values are always added to the margin in tree order, one tree at a
 * time, in float32: the same sum, rounding for rounding, as XGBoost's.
 *
 * This file also holds the predict entry points: kernel choice (instruction
 * set detected once, at run time) and the split of large batches over
 * threads.
 */
#include "model/forest_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FR__TREE_LANES 8
#define FR__ROW_LANES 8

/* Numeric-only step (no special nodes in the forest). */
static inline uint32_t step_numeric(const fr__node *nodes, uint32_t i,
                                    const float *x) {
  const fr__node *n = &nodes[i];
  uint32_t feat = n->feat;
  float v = x[feat & FR__NODE_FEAT_MASK];
  return n->left + ((uint32_t)(v >= n->thr) | ((uint32_t)(v != v) & (feat >> 31)));
}

static inline uint32_t step_any(const fr_forest *f, uint32_t i, const float *x,
                                int general) {
  if (general)
    return fr__step(f, &f->nodes[i], x);
  return step_numeric(f->nodes, i, x);
}

/* One row: trees in groups of FR__TREE_LANES walked together. */
static inline void one_row(const fr_forest *f, const float *x, float *margin,
                           int general) {
  const fr__node *nodes = f->nodes;
  const uint32_t *root = f->tree_root, *depth = f->tree_depth;
  const uint32_t *group = f->tree_group;
  size_t T = f->ntrees, t = 0;
  int single = f->noutputs == 1;
  float acc = margin[0];
  for (; t + FR__TREE_LANES <= T; t += FR__TREE_LANES) {
    uint32_t idx[FR__TREE_LANES];
    uint32_t dmax = 0;
    for (int j = 0; j < FR__TREE_LANES; j++) {
      idx[j] = root[t + j];
      if (depth[t + j] > dmax)
        dmax = depth[t + j];
    }
    for (uint32_t d = 0; d < dmax; d++)
      for (int j = 0; j < FR__TREE_LANES; j++)
        idx[j] = step_any(f, idx[j], x, general);
    if (single) {
      for (int j = 0; j < FR__TREE_LANES; j++)
        acc += nodes[idx[j]].u.value;
    } else {
      for (int j = 0; j < FR__TREE_LANES; j++)
        margin[group[t + j]] += nodes[idx[j]].u.value;
    }
  }
  for (; t < T; t++) {
    uint32_t i = root[t];
    for (uint32_t d = depth[t]; d; d--)
      i = step_any(f, i, x, general);
    if (single)
      acc += nodes[i].u.value;
    else
      margin[group[t]] += nodes[i].u.value;
  }
  if (single)
    margin[0] = acc;
}

/* A block of nb <= FR__ROW_LANES rows, each tree walked for all of them. */
static inline void row_block(const fr_forest *f, const float *x, size_t nb,
                             float *margin, int general) {
  const fr__node *nodes = f->nodes;
  size_t nf = f->nfeatures, k = f->noutputs;
  const float *rows[FR__ROW_LANES];
  for (size_t r = 0; r < FR__ROW_LANES; r++)
    rows[r] = x + (r < nb ? r : 0) * nf; /* spare lanes repeat row 0 */
  for (size_t t = 0; t < f->ntrees; t++) {
    uint32_t idx[FR__ROW_LANES];
    uint32_t root = f->tree_root[t];
    for (int r = 0; r < FR__ROW_LANES; r++)
      idx[r] = root;
    for (uint32_t d = f->tree_depth[t]; d; d--)
      for (int r = 0; r < FR__ROW_LANES; r++)
        idx[r] = step_any(f, idx[r], rows[r], general);
    uint32_t g = f->tree_group[t];
    for (size_t r = 0; r < nb; r++)
      margin[r * k + g] += nodes[idx[r]].u.value;
  }
}

static inline void kernel(const fr_forest *f, const float *x, size_t n,
                          float *margin, int general) {
  size_t nf = f->nfeatures, k = f->noutputs;
  if (n == 1) {
    one_row(f, x, margin, general);
    return;
  }
  for (size_t r = 0; r < n; r += FR__ROW_LANES) {
    size_t nb = n - r < FR__ROW_LANES ? n - r : FR__ROW_LANES;
    row_block(f, x + r * nf, nb, margin + r * k, general);
  }
}

void fr__kernel_scalar(const fr_forest *f, const float *x, size_t n,
                       float *margin) {
  kernel(f, x, n, margin, 0);
}

void fr__kernel_general(const fr_forest *f, const float *x, size_t n,
                        float *margin) {
  kernel(f, x, n, margin, 1);
}

/* ------------------------------------------------------------------------
 * Compact layout: 8-byte nodes and integer keys (forest_internal.h)
 * ------------------------------------------------------------------------ */

/* The keys of a block of rows live on the stack: 16384 uint32 (64 KiB),
 * so a block holds up to 128 rows when the forest has few features (8192 /
 * nfeatures, at least 32 at the 256-feature maximum).  Each group of trees
 * is walked for every row of the block while its nodes are in L1/L2, so a
 * forest larger than the caches is read once per block, not once per row. */
#define FR__C_KEYS 16384
#define FR__C_BLOCK_MAX 128
#define FR__C_GROUP 16

/* One step of one walk (i is a size_t so it indexes without a widening
 * move): to the right child, minus one (the left child) when key < tkey.
 * The key index and the child offset are read as the two 16-bit halves of
 * meta (little-endian), each by one zero-extending load, and GCC turns the
 * subtraction of the comparison into cmp + sbb: six instructions. */
#define FR__CSTEP(i)                                                           \
  do {                                                                         \
    uint32_t k_ = keys[cn16[4 * (i) + 2]];                                     \
    i = i + cn16[4 * (i) + 3] - (k_ < cn[2 * (i)]);                            \
  } while (0)

/* Walks 8 trees starting at roots r[0..8) for one row's keys, `dmax`
 * steps: eight independent chains the CPU overlaps. */
static inline void walk8(const uint32_t *cn, const uint32_t *keys,
                         const uint32_t *r, uint32_t dmax, size_t out[8]) {
  const uint16_t *cn16 = (const uint16_t *)cn;
  size_t i0 = r[0], i1 = r[1], i2 = r[2], i3 = r[3];
  size_t i4 = r[4], i5 = r[5], i6 = r[6], i7 = r[7];
  for (uint32_t d = 0; d < dmax; d++) {
    FR__CSTEP(i0);
    FR__CSTEP(i1);
    FR__CSTEP(i2);
    FR__CSTEP(i3);
    FR__CSTEP(i4);
    FR__CSTEP(i5);
    FR__CSTEP(i6);
    FR__CSTEP(i7);
  }
  out[0] = i0, out[1] = i1, out[2] = i2, out[3] = i3;
  out[4] = i4, out[5] = i5, out[6] = i6, out[7] = i7;
}

/* Walks 16 trees for one row: with a single row there is no other row to
 * overlap with, so twice the independent walks are kept in flight. */
static inline void walk16(const uint32_t *cn, const uint32_t *keys, const uint32_t *r,
                          uint32_t dmax, size_t out[16]) {
  const uint16_t *cn16 = (const uint16_t *)cn;
  size_t i0 = r[0], i1 = r[1], i2 = r[2], i3 = r[3], i4 = r[4], i5 = r[5], i6 = r[6];
  size_t i7 = r[7], i8 = r[8], i9 = r[9], i10 = r[10], i11 = r[11], i12 = r[12];
  size_t i13 = r[13], i14 = r[14], i15 = r[15];
  for (uint32_t d = 0; d < dmax; d++) {
    FR__CSTEP(i0);
    FR__CSTEP(i1);
    FR__CSTEP(i2);
    FR__CSTEP(i3);
    FR__CSTEP(i4);
    FR__CSTEP(i5);
    FR__CSTEP(i6);
    FR__CSTEP(i7);
    FR__CSTEP(i8);
    FR__CSTEP(i9);
    FR__CSTEP(i10);
    FR__CSTEP(i11);
    FR__CSTEP(i12);
    FR__CSTEP(i13);
    FR__CSTEP(i14);
    FR__CSTEP(i15);
  }
  out[0] = i0, out[1] = i1, out[2] = i2, out[3] = i3, out[4] = i4, out[5] = i5;
  out[6] = i6, out[7] = i7, out[8] = i8, out[9] = i9, out[10] = i10, out[11] = i11;
  out[12] = i12, out[13] = i13, out[14] = i14, out[15] = i15;
}

/* One row (its keys computed): 16 trees at a time, then 8, then one by
 * one; leaves added in tree order. */
static void compact_one_row(const fr_forest *f, const uint32_t *keys, float *margin) {
  const uint32_t *cn = (const uint32_t *)f->cnodes;
  const uint16_t *cn16 = (const uint16_t *)f->cnodes;
  const float *lv = f->leaf_value;
  const uint32_t *root = f->tree_root, *depth = f->tree_depth, *group = f->tree_group;
  size_t T = f->ntrees, t = 0;
  int single = f->noutputs == 1;
  float acc = margin[0];
  size_t leaf[16];
  for (; t + 16 <= T; t += 16) {
    uint32_t dmax = 0;
    for (int j = 0; j < 16; j++)
      dmax = depth[t + j] > dmax ? depth[t + j] : dmax;
    walk16(cn, keys, root + t, dmax, leaf);
    if (single)
      for (int j = 0; j < 16; j++)
        acc += lv[leaf[j]];
    else
      for (int j = 0; j < 16; j++)
        margin[group[t + j]] += lv[leaf[j]];
  }
  for (; t < T; t++) {
    size_t i = root[t];
    for (uint32_t d = depth[t]; d; d--)
      FR__CSTEP(i);
    if (single)
      acc += lv[i];
    else
      margin[group[t]] += lv[i];
  }
  if (single)
    margin[0] = acc;
}

void fr__kernel_compact(const fr_forest *f, const float *x, size_t n,
                        float *margin) {
  const uint32_t *cn = (const uint32_t *)f->cnodes;
  const uint16_t *cn16 = (const uint16_t *)f->cnodes;
  const float *lv = f->leaf_value;
  const uint32_t *root = f->tree_root, *depth = f->tree_depth;
  const uint32_t *group = f->tree_group;
  size_t nf = f->nfeatures, kw = 2 * nf, k = f->noutputs, T = f->ntrees;
  uint32_t keys_all[FR__C_KEYS];
  float acc[FR__C_BLOCK_MAX];
  if (n == 1) {
    fr__row_keys(x, nf, keys_all);
    compact_one_row(f, keys_all, margin);
    return;
  }
  size_t block = FR__C_KEYS / kw;
  if (block > FR__C_BLOCK_MAX)
    block = FR__C_BLOCK_MAX;
  for (size_t r0 = 0; r0 < n; r0 += block) {
    size_t nb = n - r0 < block ? n - r0 : block;
    for (size_t r = 0; r < nb; r++) {
      fr__row_keys(x + (r0 + r) * nf, nf, keys_all + r * kw);
      acc[r] = margin[(r0 + r) * k];
    }
    size_t t = 0;
    for (; t + FR__C_GROUP <= T; t += FR__C_GROUP) {
      uint32_t dmax = 0;
      for (int j = 0; j < FR__C_GROUP; j++)
        dmax = depth[t + j] > dmax ? depth[t + j] : dmax;
      for (size_t r = 0; r < nb; r++) {
        size_t leaf[FR__C_GROUP];
        walk16(cn, keys_all + r * kw, root + t, dmax, leaf);
        if (k == 1) {
          float a = acc[r];
          for (int j = 0; j < FR__C_GROUP; j++)
            a += lv[leaf[j]];
          acc[r] = a;
        } else {
          float *mr = margin + (r0 + r) * k;
          for (int j = 0; j < FR__C_GROUP; j++)
            mr[group[t + j]] += lv[leaf[j]];
        }
      }
    }
    for (; t + 8 <= T; t += 8) {
      uint32_t dmax = 0;
      for (int j = 0; j < 8; j++)
        dmax = depth[t + j] > dmax ? depth[t + j] : dmax;
      for (size_t r = 0; r < nb; r++) {
        size_t leaf[8];
        walk8(cn, keys_all + r * kw, root + t, dmax, leaf);
        if (k == 1) {
          float a = acc[r];
          for (int j = 0; j < 8; j++)
            a += lv[leaf[j]];
          acc[r] = a;
        } else {
          float *mr = margin + (r0 + r) * k;
          for (int j = 0; j < 8; j++)
            mr[group[t + j]] += lv[leaf[j]];
        }
      }
    }
    for (; t < T; t++) { /* the last trees, one walk at a time */
      for (size_t r = 0; r < nb; r++) {
        const uint32_t *keys = keys_all + r * kw;
        size_t i = root[t];
        for (uint32_t d = depth[t]; d; d--)
          FR__CSTEP(i);
        if (k == 1)
          acc[r] += lv[i];
        else
          margin[(r0 + r) * k + group[t]] += lv[i];
      }
    }
    if (k == 1)
      for (size_t r = 0; r < nb; r++)
        margin[r0 + r] = acc[r];
  }
}

/* ------------------------------------------------------------------------
 * Kernel choice
 * ------------------------------------------------------------------------ */

static const char *const simd_names[] = {"auto", "scalar", "avx2", "avx512"};

const char *fr_simd_name(fr_simd s) {
  if ((unsigned)s < sizeof simd_names / sizeof simd_names[0])
    return simd_names[s];
  return "unknown";
}

int fr_simd_supported(fr_simd s) {
  switch (s) {
  case FR_SIMD_AUTO:
  case FR_SIMD_SCALAR:
    return 1;
  case FR_SIMD_AVX2:
    return fr__cpu_has_avx2();
  case FR_SIMD_AVX512:
    return fr__cpu_has_avx512();
  default:
    return 0;
  }
}

static fr_simd best_simd;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

/* AUTO's choice.  FRAUD_SIMD=scalar|avx2|avx512 picks a set explicitly
 * (the best supported one at or below it).  Otherwise: AVX-512, else AVX2,
 * except on AMD CPUs, where gathers are microcoded and cost about one
 * cycle per element: measured on an EPYC (Zen 4) the portable kernels
 * (6 or, complete-tree, 4 instructions per step with no gather) are 2-3x
 * faster than either SIMD kernel at every batch size
 * (docs/benchmarks-forest.md). */
static void detect_best(void) {
  fr_simd best = FR_SIMD_SCALAR;
  int amd = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  amd = __builtin_cpu_is("amd");
#endif
  if (fr__cpu_has_avx512())
    best = FR_SIMD_AVX512;
  else if (fr__cpu_has_avx2())
    best = FR_SIMD_AVX2;
  const char *env = getenv("FRAUD_SIMD");
  if (env && *env) {
    for (unsigned i = FR_SIMD_SCALAR; i <= FR_SIMD_AVX512; i++)
      if (strcmp(env, simd_names[i]) == 0 && i < (unsigned)best)
        best = (fr_simd)i;
  } else if (amd) {
    best = FR_SIMD_SCALAR;
  }
  best_simd = best;
}

fr_simd fr_simd_best(void) {
  pthread_once(&best_once, detect_best);
  return best_simd;
}

fr__kernel fr__kernel_pick(const fr_forest *f, fr_simd simd, size_t n) {
  if (f->has_special)
    return fr__kernel_general;
  if (f->cnodes && f->nfeatures <= FR__KEY_MAX_FEATURES) {
    switch (simd) {
    case FR_SIMD_AVX512:
      return n == 1 ? fr__kernel_avx512_ctrees : fr__kernel_avx512_crows;
    case FR_SIMD_AVX2:
      return n == 1 ? fr__kernel_avx2_ctrees : fr__kernel_avx2_crows;
    default:
      return f->hnodes ? fr__kernel_heap : fr__kernel_compact;
    }
  }
  /* Wide layout.  Gather offsets are 32-bit: row * nfeatures + feature
   * must fit. */
  if (f->nfeatures >= (1u << 26))
    return fr__kernel_scalar;
  switch (simd) {
  case FR_SIMD_AVX512:
    return n == 1 ? fr__kernel_avx512_trees : fr__kernel_avx512_rows;
  case FR_SIMD_AVX2:
    return n == 1 ? fr__kernel_avx2_trees : fr__kernel_avx2_rows;
  default:
    return fr__kernel_scalar;
  }
}

/* ------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------ */

#define FR__MIN_ROWS_PER_THREAD 256
#define FR__MAX_THREADS 256

static void init_margin(const fr_forest *f, size_t n, float *margin) {
  size_t k = f->noutputs;
  if (k == 1) {
    float b = f->base_margin[0];
    for (size_t i = 0; i < n; i++)
      margin[i] = b;
  } else {
    for (size_t i = 0; i < n; i++)
      memcpy(margin + i * k, f->base_margin, k * sizeof(float));
  }
}

typedef struct chunk {
  const fr_forest *f;
  const float *x;
  size_t n;
  float *margin;
  fr__kernel kernel;
} chunk;

static void *run_chunk(void *arg) {
  chunk *c = arg;
  c->kernel(c->f, c->x, c->n, c->margin);
  return NULL;
}

int fr_forest_predict_margin_ex(const fr_forest *f, const float *x, size_t n,
                                float *margin, const fr_predict_opts *opts) {
  if (!f || (!x && n) || (!margin && n))
    return FR_EINVAL;
  if (n == 0)
    return 0;
  fr_simd simd = opts ? opts->simd : FR_SIMD_AUTO;
  if (simd == FR_SIMD_AUTO)
    simd = fr_simd_best();
  else if (!fr_simd_supported(simd))
    return FR_EUNAVAIL;
  init_margin(f, n, margin);
  size_t nt = opts && opts->nthreads > 1 ? opts->nthreads : 1;
  if (nt > FR__MAX_THREADS)
    nt = FR__MAX_THREADS;
  if (nt > n / FR__MIN_ROWS_PER_THREAD)
    nt = n / FR__MIN_ROWS_PER_THREAD;
  fr__kernel kernel = fr__kernel_pick(f, simd, n);
  if (nt <= 1) {
    kernel(f, x, n, margin);
    return 0;
  }
  /* Contiguous chunks, multiples of 16 rows so every SIMD block but the
   * last is full.  A thread that cannot be started leaves its chunk to the
   * calling thread: slower, never wrong. */
  chunk ch[FR__MAX_THREADS];
  pthread_t tid[FR__MAX_THREADS];
  int started[FR__MAX_THREADS];
  size_t per = ((n + nt - 1) / nt + 15) & ~(size_t)15;
  size_t nf = f->nfeatures, k = f->noutputs, used = 0;
  for (size_t i = 0; i < nt && i * per < n; i++) {
    size_t lo = i * per, cnt = n - lo < per ? n - lo : per;
    ch[i] = (chunk){f, x + lo * nf, cnt, margin + lo * k, kernel};
    used = i + 1;
  }
  for (size_t i = 1; i < used; i++)
    started[i] = pthread_create(&tid[i], NULL, run_chunk, &ch[i]) == 0;
  run_chunk(&ch[0]);
  for (size_t i = 1; i < used; i++) {
    if (started[i])
      pthread_join(tid[i], NULL);
    else
      run_chunk(&ch[i]);
  }
  return 0;
}

int fr_forest_predict_margin(const fr_forest *f, const float *x, size_t n,
                             float *margin) {
  return fr_forest_predict_margin_ex(f, x, n, margin, NULL);
}

int fr_forest_predict_ex(const fr_forest *f, const float *x, size_t n,
                         float *out, const fr_predict_opts *opts) {
  int rc = fr_forest_predict_margin_ex(f, x, n, out, opts);
  if (rc == 0)
    fr_forest_transform(f, out, n, out);
  return rc;
}

int fr_forest_predict(const fr_forest *f, const float *x, size_t n,
                      float *out) {
  return fr_forest_predict_ex(f, x, n, out, NULL);
}
