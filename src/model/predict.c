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
 *   - one row: FR__TREE_LANES trees are walked in lock-step (latency of one
 *     walk hides behind the others);
 *   - several rows: blocks of FR__ROW_LANES rows walk each tree in
 *     lock-step, so a tree's nodes are loaded once per block while hot.
 *
 * Leaf values are always added to the margin in tree order, one tree at a
 * time, in float32: the same sum, rounding for rounding, as XGBoost's.
 */
#include "model/forest_internal.h"

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
