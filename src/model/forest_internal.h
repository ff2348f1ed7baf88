/*
 * forest_internal.h - the insides of fr_forest shared by the files of the
 * model module: the compiled node layout the prediction kernels walk, and the
 * builder through which every loader (XGBoost JSON, LightGBM text, ONNX)
 * hands over its trees in one canonical form.
 *
 * Canonical split semantics.  Every numeric split of every format is turned
 * into "go right iff !(x < thr)" on the float32 input x, with NaN following
 * the node's default direction.  XGBoost's own rule is exactly that; the
 * other formats' "x <= t" (LightGBM in double, ONNX BRANCH_LEQ in float) are
 * converted exactly at load by taking the smallest float32 above t (see
 * fr__thr_leq_to_lt), and a threshold of NaN encodes "every number goes
 * left" (x >= NaN is false).  Splits that cannot be written that way
 * (categorical sets, ONNX BRANCH_EQ/NEQ, LightGBM's zero band) are "special"
 * nodes with their own slower decision (fr__special_right).
 */
#ifndef FRAUD_MODEL_FOREST_INTERNAL_H
#define FRAUD_MODEL_FOREST_INTERNAL_H

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "fraud/model.h"

/* Node flags kept in the top bits of fr__node.feat. */
#define FR__NODE_NAN_RIGHT 0x80000000u /* NaN goes right (else left) */
#define FR__NODE_SPECIAL 0x40000000u   /* decide with fr__special_right */
#define FR__NODE_FEAT_MASK 0x3fffffffu
/* Limits that keep index arithmetic (node index * 4 in SIMD gathers) inside
 * 32 bits. */
#define FR__MAX_NODES (1u << 28)
#define FR__MAX_FEATURES (1u << 28)

/* One node of the compiled forest: 16 bytes, four to a cache line.  Trees
 * are laid out breadth-first so that the two children of a node are
 * adjacent (right = left + 1) and the top levels of a tree share lines.
 *
 *   internal: feat = feature | flags, thr = threshold, left = left child
 *   leaf:     feat = 0, thr = NaN, left = itself, u.value = leaf value
 *
 * A leaf points to itself and, because x >= NaN is false, every step from it
 * goes "left" back to it: a walk may take more steps than the leaf's depth
 * and stay put.  That is what lets the kernels walk every tree for a fixed
 * number of steps (its depth) with no test for "is this a leaf" inside the
 * loop, and walk trees or rows of different depths in lock-step. */
typedef struct fr__node {
  uint32_t feat;
  float thr;
  uint32_t left;
  union {
    float value;      /* leaf: its value */
    uint32_t special; /* special internal node: index into f->specials */
  } u;
} fr__node;

/* The compact twin of fr__node used by the fast kernels: 8 bytes, so a
 * 500-tree depth-6 forest walks 0.5 MB instead of 1 MB and stays in a 1 MB
 * L2 cache, and its decision is one unsigned integer compare.
 *
 * Order-preserving keys.  Each row is first turned into 2 x nfeatures
 * uint32 keys (fr__row_keys): key(v) orders like v for every non-NaN float
 * (the IEEE bit pattern with its sign bit flipped for positives and every
 * bit flipped for negatives, -0 made +0), and a NaN becomes 0 in the first
 * half ("lo": below every number) and FR__KEY_NAN_HI in the second ("hi":
 * above every number).  A node whose NaN goes left reads the lo key of its
 * feature, one whose NaN goes right the hi key, so "go right iff key >=
 * tkey" is XGBoost's decision including the missing-value rule, with no NaN
 * test in the walk: a step is two loads, a compare and an add.
 *
 *   meta bits 0..15  key index: feature, + nfeatures when NaN goes right
 *            16..31  right child minus this node's index (left = right - 1):
 *                    the step is i + (meta >> 16) - (key < tkey)
 *   tkey     key of the threshold (a NaN threshold, "every number left":
 *            UINT32_MAX, or FR__KEY_NAN_HI when NaN goes right)
 *   leaf:    tkey = UINT32_MAX, meta = 1 << 16: no key reaches UINT32_MAX,
 *            so the step always subtracts 1 and the leaf points to itself,
 *            as in fr__node; its value is in f->leaf_value
 *
 * A forest gets one only when every node fits: no special nodes, at most
 * 32768 features, every right child within 65535 slots of its parent. */
typedef struct fr__cnode {
  uint32_t tkey;
  uint32_t meta;
} fr__cnode;
#define FR__C_KEY(m) ((m)&0xffffu)
#define FR__C_ROFF(m) ((m) >> 16)
#define FR__C_MAX_FEATURES 32768u
#define FR__C_MAX_ROFF 65535u
#define FR__KEY_NAN_LO 0u
#define FR__KEY_NAN_HI 0xfffffffeu

/* Order-preserving uint32 key of a non-NaN float (see above). */
static inline uint32_t fr__key(float v) {
  union {
    float f;
    uint32_t u;
  } b = {v == 0.0f ? 0.0f : v};
  return (b.u & 0x80000000u) ? ~b.u : (b.u | 0x80000000u);
}

/* Fills keys[0 .. 2nf) for row x (lo keys, then hi keys).  SSE2 (part of
 * every x86-64) four features at a time, with the same result as the scalar
 * tail: key = bits ^ (sign ? 0xffffffff : 0x80000000) after -0 -> +0, NaN
 * -> FR__KEY_NAN_LO / FR__KEY_NAN_HI. */
static inline void fr__row_keys(const float *x, size_t nf, uint32_t *keys) {
  size_t j = 0;
#if defined(__SSE2__)
  const __m128i top = _mm_set1_epi32((int)0x80000000u);
  const __m128i nan_hi = _mm_set1_epi32((int)FR__KEY_NAN_HI);
  for (; j + 4 <= nf; j += 4) {
    __m128 v = _mm_loadu_ps(x + j);
    __m128 zero = _mm_cmpeq_ps(v, _mm_setzero_ps());
    __m128 nan = _mm_cmpunord_ps(v, v);
    __m128i bits = _mm_castps_si128(_mm_andnot_ps(zero, v)); /* -0 -> +0 */
    __m128i key = _mm_xor_si128(bits, _mm_or_si128(_mm_srai_epi32(bits, 31), top));
    __m128i nanm = _mm_castps_si128(nan);
    __m128i lo = _mm_andnot_si128(nanm, key); /* NaN: 0 */
    __m128i hi = _mm_or_si128(lo, _mm_and_si128(nanm, nan_hi));
    _mm_storeu_si128((__m128i *)(keys + j), lo);
    _mm_storeu_si128((__m128i *)(keys + nf + j), hi);
  }
#endif
  for (; j < nf; j++) {
    float v = x[j];
    if (v != v) {
      keys[j] = FR__KEY_NAN_LO;
      keys[nf + j] = FR__KEY_NAN_HI;
    } else {
      keys[j] = keys[nf + j] = fr__key(v);
    }
  }
}

/* The complete-tree layout (predict_heap.c) used by the fastest portable
 * kernel when every tree is shallow.  Trees are cut into groups of 4, 8 or
 * 12 consecutive trees ("lanes"); every tree of a group is padded to the
 * same complete depth D (the deepest tree of the group) and stored in heap
 * order: internal slot j in 1 .. 2^D - 1 has its children at 2j and 2j + 1,
 * so a step needs no child offset:
 *
 *   j = 2j + (tkm1 < key[kidx])     (one compare and one add-with-carry)
 *
 * where tkm1 is the compact layout's tkey minus one (tkey is never 0: the
 * smallest key of a number, that of -inf, is 0x007fffff), so "key >= tkey"
 * is "tkm1 < key".  Lane t of a group occupies slots t * 2^D .. (t + 1) *
 * 2^D - 1 (its slot 0 unused), so with D and the lane count known at compile
 * time a lane's node address is a constant displacement plus 8j.
 *
 * Padding.  A leaf above depth D becomes a chain of always-left slots
 * (tkm1 = UINT32_MAX: no key is above it) down to leaf slot 2^D times
 * further left, which holds its value; the slots beside such a chain and
 * the spare lanes of a short last group are never reached (or never added)
 * and hold the same always-left node.  After D steps j is in 2^D .. 2^(D+1)
 * - 1 and the leaf value is at leaf_off + t * 2^D + (j - 2^D). */
typedef struct fr__hnode {
  uint32_t kidx; /* key index, as in fr__cnode: feature (+ nfeatures when NaN goes right) */
  uint32_t tkm1; /* threshold key minus one; UINT32_MAX: always left */
} fr__hnode;

typedef struct fr__hgroup {
  uint32_t node_off; /* first slot (lane 0, slot 0) in f->hnodes */
  uint32_t leaf_off; /* first value (lane 0, leaf 0) in f->hleaf */
  uint32_t tree0;    /* first tree of the group */
  uint8_t depth;     /* D, 1 .. FR__H_MAX_DEPTH */
  uint8_t lanes;     /* 4, 8 or 12 trees in the layout */
  uint8_t ntrees;    /* real trees, 1 .. lanes (the rest are padding) */
  uint32_t run;      /* groups from this one on with the same depth and
                        lanes, all full (walked by one call; >= 1) */
} fr__hgroup;
#define FR__H_MAX_DEPTH 10
#define FR__H_MAX_LANES 12

/* The key kernels keep one block's keys on the stack: up to 32 rows x 2 x
 * 256 features = 64 KiB.  Wider forests use the float kernels. */
#define FR__KEY_MAX_FEATURES 256u

/* Kinds of special node. */
enum {
  FR__SPECIAL_CAT = 1, /* categorical set */
  FR__SPECIAL_EQ,      /* ONNX BRANCH_EQ: x == thr is the true (left) branch */
  FR__SPECIAL_NEQ,     /* ONNX BRANCH_NEQ: x != thr is the true (left) branch */
  FR__SPECIAL_ZERO     /* LightGBM missing type Zero: |x| <= 1e-35 -> default */
};

/* Categorical flags. */
#define FR__CAT_IN_SET_RIGHT 1u /* listed categories go right (XGBoost); else left (LightGBM) */
#define FR__CAT_TRUNC_NEG 2u    /* -1 < x < 0 truncates to category 0 (LightGBM) */

typedef struct fr__special {
  uint8_t kind;
  uint8_t flags;
  uint32_t cat_off;    /* CAT: first word in f->cat_words */
  uint32_t cat_nwords; /* CAT: number of 32-bit words of the bitset */
} fr__special;

/* The forest.  Immutable after fr__builder_finish: every predict call only
 * reads it, which is what makes concurrent predictions safe. */
struct fr_forest {
  fr__node *nodes; /* 64-byte aligned */
  size_t nnodes;
  fr__cnode *cnodes;  /* compact layout, 64-byte aligned; NULL if not eligible */
  float *leaf_value;  /* nnodes; with cnodes */
  fr__hnode *hnodes;   /* complete-tree layout, 64-byte aligned; NULL if not built */
  float *hleaf;        /* its leaf values */
  fr__hgroup *hgroups; /* its groups, in tree order */
  size_t nhgroups;
  uint32_t *tree_root;  /* ntrees */
  uint32_t *tree_depth; /* ntrees: number of splits on the longest path */
  uint32_t *tree_group; /* ntrees: output the tree adds to */
  size_t ntrees;
  uint32_t max_depth;
  size_t nfeatures;
  size_t noutputs;
  fr_objective objective;
  fr_forest_format format;
  float *base_margin;  /* noutputs: where the margin starts */
  float sigmoid_scale; /* probability = sigmoid(scale * margin); 1 except LightGBM */
  char **feature_names; /* nfeatures strings, or NULL */
  fr__special *specials;
  size_t nspecials;
  uint32_t *cat_words;
  size_t ncat_words;
  double *cover; /* nnodes, node cover (sum of hessians / counts); NULL if unknown */
  double *node_mean; /* nnodes: cover-weighted mean of the leaves below (SHAP) */
  int has_special;
  int has_cover;
  /* Linear TreeSHAP tables (shap.c), built once on first use or by
   * fr_forest_shap_prepare; shap_state is read with acquire semantics so
   * predict threads never see it half built. */
  pthread_mutex_t shap_lock;
  int shap_state; /* 0 not built, 1 built, -1 not possible (too deep) */
  struct fr__shap_cache *shap;
};

void fr__shap_cache_free(struct fr__shap_cache *c);
/* fr_forest_shap; allow_fast = 0 forces the direct algorithm, 2 the linear
 * algorithm's baseline (non-AVX2) kernel (tests). */
int fr__forest_shap(const fr_forest *f, const float *x, size_t n, float *contrib,
                    int allow_fast);

/* ------------------------------------------------------------------------
 * Builder: loaders describe each tree as an array of raw nodes, local
 * indices, root at index 0.
 * ------------------------------------------------------------------------ */

typedef struct fr__raw_node {
  int64_t left, right; /* local child indices; both -1 for a leaf */
  uint32_t feature;
  uint8_t kind;        /* 0 numeric, else FR__SPECIAL_* */
  uint8_t nan_right;   /* NaN goes right */
  uint8_t cat_flags;   /* FR__CAT_* */
  float thr;           /* numeric / EQ / NEQ / ZERO: see the file comment */
  float value;         /* leaf value */
  double cover;        /* for TreeSHAP; 0 when unknown */
  uint32_t cat_off, cat_nwords; /* CAT: words in the builder's cat_words */
} fr__raw_node;

typedef struct fr__builder {
  const char *origin; /* for messages */
  fr__raw_node *nodes;
  size_t nnodes, cap_nodes;
  size_t *tree_start, *tree_len;
  uint32_t *tree_group;
  size_t ntrees, cap_trees;
  uint32_t *cat_words;
  size_t ncat_words, cap_cat_words;
  size_t nfeatures, noutputs;
  fr_objective objective;
  fr_forest_format format;
  float *base_margin; /* noutputs, owned */
  float sigmoid_scale;
  char **feature_names; /* nfeatures, owned, or NULL */
  int has_cover;
} fr__builder;

void fr__builder_init(fr__builder *b, const char *origin);
void fr__builder_close(fr__builder *b);
/* Starts a tree of n raw nodes that add to output `group`; returns a pointer
 * to its zeroed nodes (valid until the next builder call), or NULL (ENOMEM /
 * ELIMIT filled in err). */
fr__raw_node *fr__builder_add_tree(fr__builder *b, size_t n, uint32_t group,
                                   fr_error *err);
/* Appends n bitset words; returns the offset of the first, or -1 (err). */
int64_t fr__builder_add_cat_words(fr__builder *b, const uint32_t *w, size_t n,
                                  fr_error *err);
/* Sets noutputs and allocates base_margin (zeros). */
int fr__builder_set_outputs(fr__builder *b, size_t noutputs, fr_error *err);
/* Validates every tree (child indices in range, each node reached once from
 * the root so no cycle or shared child, features < nfeatures, groups <
 * noutputs, finite leaf values) and compiles the forest.  The builder stays
 * owned by the caller (close it after).  NULL with err on failure. */
fr_forest *fr__builder_finish(fr__builder *b, fr_error *err);

/* The smallest float32 strictly above the double t, so that for every
 * float32 x: (x <= t) == (x < result).  t = +inf gives NaN (everything goes
 * left, see the file comment); t = -inf gives -FLT_MAX. */
float fr__thr_leq_to_lt(double t);

/* forest_dir.c: parses a config.pbtxt from memory and discards it (the
 * fuzzer's entry into that parser). */
int fr__pbtxt_check(const char *text, size_t len, fr_error *err);

/* Format loaders (one file each).  fr_forest_load_buffer always passes a
 * non-NULL err, so loaders may read err->code after a failed call. */
fr_forest *fr__load_xgboost_json(const void *data, size_t len,
                                 const char *origin, fr_error *err);
fr_forest *fr__load_lightgbm(const void *data, size_t len, const char *origin,
                             fr_error *err);
fr_forest *fr__load_onnx(const void *data, size_t len, const char *origin,
                         fr_error *err);

/* ------------------------------------------------------------------------
 * Decisions
 * ------------------------------------------------------------------------ */

/* Go-right decision of a special node for input x. */
static inline uint32_t fr__special_right(const fr_forest *f, const fr__node *n,
                                         float x) {
  const fr__special *s = &f->specials[n->u.special];
  if (isnan(x))
    return (n->feat & FR__NODE_NAN_RIGHT) ? 1u : 0u;
  switch (s->kind) {
  case FR__SPECIAL_CAT: {
    uint32_t in_right = (s->flags & FR__CAT_IN_SET_RIGHT) ? 1u : 0u;
    /* A category is the integer part of x.  Negative codes are never in
     * the set (XGBoost: any x < 0 is invalid; LightGBM: the int cast of
     * -1 < x < 0 is 0, so only x <= -1 is negative). */
    int neg = (s->flags & FR__CAT_TRUNC_NEG) ? (x <= -1.0f) : (x < 0.0f);
    if (neg || x >= 2147483648.0f)
      return in_right ^ 1u;
    uint32_t c = (uint32_t)x; /* truncation, in range */
    uint32_t w = c >> 5;
    if (w >= s->cat_nwords)
      return in_right ^ 1u;
    uint32_t bit = (f->cat_words[s->cat_off + w] >> (c & 31u)) & 1u;
    return bit ? in_right : in_right ^ 1u;
  }
  case FR__SPECIAL_EQ:
    return x == n->thr ? 0u : 1u;
  case FR__SPECIAL_NEQ:
    return x != n->thr ? 0u : 1u;
  case FR__SPECIAL_ZERO: {
    /* LightGBM's kZeroThreshold = 1e-35f, compared in double. */
    double d = x;
    if (d >= -1e-35f && d <= 1e-35f)
      return (n->feat & FR__NODE_NAN_RIGHT) ? 1u : 0u;
    return !(x < n->thr);
  }
  default:
    return 0u;
  }
}

/* Index of the child of internal-or-leaf node `n` that row x goes to. */
static inline uint32_t fr__step(const fr_forest *f, const fr__node *n,
                                const float *x) {
  uint32_t feat = n->feat;
  float v = x[feat & FR__NODE_FEAT_MASK];
  if (feat & FR__NODE_SPECIAL)
    return n->left + fr__special_right(f, n, v);
  return n->left + ((uint32_t)(v >= n->thr) | ((uint32_t)(v != v) & (feat >> 31)));
}

/* Prediction kernels (predict.c, predict_simd.c): add the trees' leaf
 * values of rows x[0..n) to margin (n x noutputs, already holding the base
 * margin). */
typedef void (*fr__kernel)(const fr_forest *f, const float *x, size_t n,
                           float *margin);
void fr__kernel_scalar(const fr_forest *f, const float *x, size_t n,
                       float *margin);
void fr__kernel_general(const fr_forest *f, const float *x, size_t n,
                        float *margin);
/* Compact-layout kernels (predict.c): one row with trees in lock-step,
 * batches with rows in lock-step. */
void fr__kernel_compact(const fr_forest *f, const float *x, size_t n,
                        float *margin);
/* predict_heap.c: the complete-tree layout kernel (needs f->hnodes), and
 * the builder of that layout (called by fr__builder_finish after the
 * compact layout; leaves it out when a tree is deeper than FR__H_MAX_DEPTH,
 * when padding would more than quadruple the compact layout's memory, or
 * when out of memory). */
void fr__kernel_heap(const fr_forest *f, const float *x, size_t n,
                     float *margin);
void fr__heap_build(fr_forest *f);
/* predict_simd.c: rows across lanes (n >= 2) and trees across lanes (one
 * row); numeric forests only. */
void fr__kernel_avx2_rows(const fr_forest *f, const float *x, size_t n,
                          float *margin);
void fr__kernel_avx2_trees(const fr_forest *f, const float *x, size_t n,
                           float *margin);
void fr__kernel_avx512_rows(const fr_forest *f, const float *x, size_t n,
                            float *margin);
void fr__kernel_avx512_trees(const fr_forest *f, const float *x, size_t n,
                             float *margin);
void fr__kernel_avx2_crows(const fr_forest *f, const float *x, size_t n,
                           float *margin);
void fr__kernel_avx2_ctrees(const fr_forest *f, const float *x, size_t n,
                            float *margin);
void fr__kernel_avx512_crows(const fr_forest *f, const float *x, size_t n,
                             float *margin);
void fr__kernel_avx512_ctrees(const fr_forest *f, const float *x, size_t n,
                              float *margin);
int fr__cpu_has_avx2(void);
int fr__cpu_has_avx512(void);
/* The kernel predict uses for n rows with the given instruction set
 * (FR_SIMD_AUTO resolved by the caller). */
fr__kernel fr__kernel_pick(const fr_forest *f, fr_simd simd, size_t n);

#endif
