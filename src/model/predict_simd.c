/*
 * predict_simd.c - AVX2 and AVX-512 prediction kernels, chosen at run time.
 *
 * The library is built for plain x86-64; these functions alone are compiled
 * for AVX2 or AVX-512F through __attribute__((target)), and predict.c calls
 * them only after __builtin_cpu_supports (which also checks that the OS
 * saves the wide registers) says the CPU has them.  Never -march=native: the
 * binary must run on any x86-64.
 *
 * Two shapes of work, as in the portable kernels:
 *
 *   rows across lanes (n >= 2): 8 (AVX2) or 16 (AVX-512) rows walk the same
 *     tree together; each step gathers the lanes' nodes (feature, threshold,
 *     left child: three gathers from the 16-byte node array), gathers the
 *     lanes' feature values, compares, and moves every lane to left or
 *     left + 1.  Each lane's margin is a float32 vector element to which
 *     the trees' leaves are added in tree order, so the sum is the scalar
 *     kernel's, bit for bit.
 *   trees across lanes (n == 1): 8 or 16 trees walk the one row together;
 *     their leaf values are then added one by one in tree order.
 *
 * Only forests without special nodes (categorical, EQ/NEQ, LightGBM zero
 * band) use these kernels; predict.c routes the others to the portable
 * general kernel.  Each exists for both node layouts: the wide 16-byte one
 * (four gathers per step) and the compact 8-byte one with integer keys
 * (three gathers per step, two vectors in flight).  On CPUs whose gathers
 * are microcoded (AMD Zen) the portable compact kernel is faster, and
 * FR_SIMD_AUTO picks it there (predict.c).
 */
#include "model/forest_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define FR__HAVE_X86_SIMD 1
#include <immintrin.h>
#include <string.h>

/* Node fields as 32-bit words: node i occupies words 4i .. 4i+3. */
enum { W_FEAT = 0, W_THR = 1, W_LEFT = 2, W_VALUE = 3 };

/* ------------------------------------------------------------------------
 * AVX-512
 * ------------------------------------------------------------------------ */

__attribute__((target("avx512f"))) static inline __m512i
step16(const int *base, __m512i idx, const float *x, __m512i rowoff) {
  __m512i w = _mm512_slli_epi32(idx, 2);
  __m512i feat = _mm512_i32gather_epi32(w, base, 4);
  __m512 thr = _mm512_i32gather_ps(_mm512_add_epi32(w, _mm512_set1_epi32(W_THR)), base, 4);
  __m512i left = _mm512_i32gather_epi32(_mm512_add_epi32(w, _mm512_set1_epi32(W_LEFT)), base, 4);
  __m512i fidx = _mm512_and_epi32(feat, _mm512_set1_epi32((int)FR__NODE_FEAT_MASK));
  __m512 v = _mm512_i32gather_ps(_mm512_add_epi32(rowoff, fidx), x, 4);
  __mmask16 ge = _mm512_cmp_ps_mask(v, thr, _CMP_GE_OQ);
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  __mmask16 dr = _mm512_test_epi32_mask(feat, _mm512_set1_epi32((int)FR__NODE_NAN_RIGHT));
  __mmask16 right = ge | (nan & dr);
  return _mm512_mask_add_epi32(left, right, left, _mm512_set1_epi32(1));
}

__attribute__((target("avx512f"))) void
fr__kernel_avx512_rows(const fr_forest *f, const float *x, size_t n,
                       float *margin) {
  const int *base = (const int *)f->nodes;
  size_t nf = f->nfeatures, k = f->noutputs;
  for (size_t r0 = 0; r0 < n; r0 += 16) {
    size_t nb = n - r0 < 16 ? n - r0 : 16;
    const float *xb = x + r0 * nf;
    int off[16];
    for (int r = 0; r < 16; r++)
      off[r] = (int)(((size_t)r < nb ? (size_t)r : 0) * nf);
    __m512i rowoff = _mm512_loadu_si512(off);
    __mmask16 live = (__mmask16)((1u << nb) - 1u);
    if (k == 1) {
      float acc0[16];
      for (size_t r = 0; r < nb; r++)
        acc0[r] = margin[r0 + r];
      __m512 acc = _mm512_maskz_loadu_ps(live, acc0);
      for (size_t t = 0; t < f->ntrees; t++) {
        __m512i idx = _mm512_set1_epi32((int)f->tree_root[t]);
        for (uint32_t d = f->tree_depth[t]; d; d--)
          idx = step16(base, idx, xb, rowoff);
        __m512 leaf = _mm512_i32gather_ps(
            _mm512_add_epi32(_mm512_slli_epi32(idx, 2), _mm512_set1_epi32(W_VALUE)), base, 4);
        acc = _mm512_add_ps(acc, leaf);
      }
      _mm512_mask_storeu_ps(acc0, live, acc);
      for (size_t r = 0; r < nb; r++)
        margin[r0 + r] = acc0[r];
    } else {
      float leaves[16];
      for (size_t t = 0; t < f->ntrees; t++) {
        __m512i idx = _mm512_set1_epi32((int)f->tree_root[t]);
        for (uint32_t d = f->tree_depth[t]; d; d--)
          idx = step16(base, idx, xb, rowoff);
        __m512 leaf = _mm512_i32gather_ps(
            _mm512_add_epi32(_mm512_slli_epi32(idx, 2), _mm512_set1_epi32(W_VALUE)), base, 4);
        _mm512_storeu_ps(leaves, leaf);
        uint32_t g = f->tree_group[t];
        for (size_t r = 0; r < nb; r++)
          margin[(r0 + r) * k + g] += leaves[r];
      }
    }
  }
}

__attribute__((target("avx512f"))) void
fr__kernel_avx512_trees(const fr_forest *f, const float *x, size_t n,
                        float *margin) {
  const int *base = (const int *)f->nodes;
  size_t nf = f->nfeatures, k = f->noutputs, T = f->ntrees;
  const __m512i zero = _mm512_setzero_si512();
  float leaves[16];
  for (size_t r = 0; r < n; r++) {
    const float *xr = x + r * nf;
    float *mr = margin + r * k;
    float acc = mr[0];
    for (size_t t = 0; t < T; t += 16) {
      size_t nt = T - t < 16 ? T - t : 16;
      __mmask16 live = (__mmask16)((1u << nt) - 1u);
      /* Spare lanes walk tree t again; their leaves are ignored. */
      __m512i idx = _mm512_mask_loadu_epi32(_mm512_set1_epi32((int)f->tree_root[t]), live,
                                            f->tree_root + t);
      uint32_t dmax = 0;
      for (size_t j = 0; j < nt; j++)
        if (f->tree_depth[t + j] > dmax)
          dmax = f->tree_depth[t + j];
      for (uint32_t d = 0; d < dmax; d++)
        idx = step16(base, idx, xr, zero);
      __m512 leaf = _mm512_i32gather_ps(
          _mm512_add_epi32(_mm512_slli_epi32(idx, 2), _mm512_set1_epi32(W_VALUE)), base, 4);
      _mm512_storeu_ps(leaves, leaf);
      if (k == 1) {
        for (size_t j = 0; j < nt; j++)
          acc += leaves[j];
      } else {
        for (size_t j = 0; j < nt; j++)
          mr[f->tree_group[t + j]] += leaves[j];
      }
    }
    if (k == 1)
      mr[0] = acc;
  }
}

/* ------------------------------------------------------------------------
 * AVX2
 * ------------------------------------------------------------------------ */

__attribute__((target("avx2"))) static inline __m256i
step8(const int *base, __m256i idx, const float *x, __m256i rowoff) {
  __m256i w = _mm256_slli_epi32(idx, 2);
  __m256i feat = _mm256_i32gather_epi32(base, w, 4);
  __m256 thr = _mm256_i32gather_ps((const float *)base,
                                   _mm256_add_epi32(w, _mm256_set1_epi32(W_THR)), 4);
  __m256i left = _mm256_i32gather_epi32(base, _mm256_add_epi32(w, _mm256_set1_epi32(W_LEFT)), 4);
  __m256i fidx = _mm256_and_si256(feat, _mm256_set1_epi32((int)FR__NODE_FEAT_MASK));
  __m256 v = _mm256_i32gather_ps(x, _mm256_add_epi32(rowoff, fidx), 4);
  __m256 ge = _mm256_cmp_ps(v, thr, _CMP_GE_OQ);
  __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  __m256 dr = _mm256_castsi256_ps(_mm256_srai_epi32(feat, 31)); /* all ones if NaN goes right */
  __m256i right = _mm256_castps_si256(_mm256_or_ps(ge, _mm256_and_ps(nan, dr)));
  return _mm256_sub_epi32(left, right); /* right is -1 (go right) or 0 */
}

__attribute__((target("avx2"))) void
fr__kernel_avx2_rows(const fr_forest *f, const float *x, size_t n,
                     float *margin) {
  const int *base = (const int *)f->nodes;
  size_t nf = f->nfeatures, k = f->noutputs;
  for (size_t r0 = 0; r0 < n; r0 += 8) {
    size_t nb = n - r0 < 8 ? n - r0 : 8;
    const float *xb = x + r0 * nf;
    int off[8];
    for (int r = 0; r < 8; r++)
      off[r] = (int)(((size_t)r < nb ? (size_t)r : 0) * nf);
    __m256i rowoff = _mm256_loadu_si256((const __m256i *)off);
    float buf[8];
    if (k == 1) {
      for (size_t r = 0; r < 8; r++)
        buf[r] = r < nb ? margin[r0 + r] : 0.0f;
      __m256 acc = _mm256_loadu_ps(buf);
      for (size_t t = 0; t < f->ntrees; t++) {
        __m256i idx = _mm256_set1_epi32((int)f->tree_root[t]);
        for (uint32_t d = f->tree_depth[t]; d; d--)
          idx = step8(base, idx, xb, rowoff);
        __m256 leaf = _mm256_i32gather_ps(
            (const float *)base,
            _mm256_add_epi32(_mm256_slli_epi32(idx, 2), _mm256_set1_epi32(W_VALUE)), 4);
        acc = _mm256_add_ps(acc, leaf);
      }
      _mm256_storeu_ps(buf, acc);
      for (size_t r = 0; r < nb; r++)
        margin[r0 + r] = buf[r];
    } else {
      for (size_t t = 0; t < f->ntrees; t++) {
        __m256i idx = _mm256_set1_epi32((int)f->tree_root[t]);
        for (uint32_t d = f->tree_depth[t]; d; d--)
          idx = step8(base, idx, xb, rowoff);
        __m256 leaf = _mm256_i32gather_ps(
            (const float *)base,
            _mm256_add_epi32(_mm256_slli_epi32(idx, 2), _mm256_set1_epi32(W_VALUE)), 4);
        _mm256_storeu_ps(buf, leaf);
        uint32_t g = f->tree_group[t];
        for (size_t r = 0; r < nb; r++)
          margin[(r0 + r) * k + g] += buf[r];
      }
    }
  }
}

__attribute__((target("avx2"))) void
fr__kernel_avx2_trees(const fr_forest *f, const float *x, size_t n,
                      float *margin) {
  const int *base = (const int *)f->nodes;
  size_t nf = f->nfeatures, k = f->noutputs, T = f->ntrees;
  const __m256i zero = _mm256_setzero_si256();
  float leaves[8];
  for (size_t r = 0; r < n; r++) {
    const float *xr = x + r * nf;
    float *mr = margin + r * k;
    float acc = mr[0];
    for (size_t t = 0; t < T; t += 8) {
      size_t nt = T - t < 8 ? T - t : 8;
      int roots[8];
      uint32_t dmax = 0;
      for (size_t j = 0; j < 8; j++) {
        size_t tj = j < nt ? t + j : t;
        roots[j] = (int)f->tree_root[tj];
        if (f->tree_depth[tj] > dmax)
          dmax = f->tree_depth[tj];
      }
      __m256i idx = _mm256_loadu_si256((const __m256i *)roots);
      for (uint32_t d = 0; d < dmax; d++)
        idx = step8(base, idx, xr, zero);
      __m256 leaf = _mm256_i32gather_ps(
          (const float *)base,
          _mm256_add_epi32(_mm256_slli_epi32(idx, 2), _mm256_set1_epi32(W_VALUE)), 4);
      _mm256_storeu_ps(leaves, leaf);
      if (k == 1) {
        for (size_t j = 0; j < nt; j++)
          acc += leaves[j];
      } else {
        for (size_t j = 0; j < nt; j++)
          mr[f->tree_group[t + j]] += leaves[j];
      }
    }
    if (k == 1)
      mr[0] = acc;
  }
}

/* ------------------------------------------------------------------------
 * Compact layout (8-byte nodes, integer keys): forest_internal.h
 * ------------------------------------------------------------------------ */

/* One step of 16 lanes: gather the nodes' key index/offset and threshold
 * key, gather the lanes' keys, compare, move. */
__attribute__((target("avx512f"))) static inline __m512i
cstep16(const int *cn, __m512i idx, const uint32_t *keys, __m512i rowoff) {
  __m512i w = _mm512_add_epi32(idx, idx);
  __m512i tkey = _mm512_i32gather_epi32(w, cn, 4);
  __m512i meta = _mm512_i32gather_epi32(_mm512_add_epi32(w, _mm512_set1_epi32(1)), cn, 4);
  __m512i kidx = _mm512_add_epi32(rowoff, _mm512_and_epi32(meta, _mm512_set1_epi32(0xffff)));
  __m512i key = _mm512_i32gather_epi32(kidx, keys, 4);
  __mmask16 left = _mm512_cmplt_epu32_mask(key, tkey);
  __m512i next = _mm512_add_epi32(idx, _mm512_srli_epi32(meta, 16)); /* right child */
  return _mm512_mask_sub_epi32(next, left, next, _mm512_set1_epi32(1));
}

/* Rows across lanes: 32 rows (two vectors of 16, independent chains that
 * hide each other's gather latency) walk each tree. */
__attribute__((target("avx512f"))) void
fr__kernel_avx512_crows(const fr_forest *f, const float *x, size_t n,
                        float *margin) {
  enum { L = 16, G = 2, B = L * G };
  const int *cn = (const int *)f->cnodes;
  const float *lv = f->leaf_value;
  size_t nf = f->nfeatures, kw = 2 * nf, k = f->noutputs;
  uint32_t keys[B * 2 * FR__KEY_MAX_FEATURES];
  for (size_t r0 = 0; r0 < n; r0 += B) {
    size_t nb = n - r0 < B ? n - r0 : B;
    for (size_t r = 0; r < nb; r++)
      fr__row_keys(x + (r0 + r) * nf, nf, keys + r * kw);
    int off[B];
    for (int r = 0; r < B; r++)
      off[r] = (int)(((size_t)r < nb ? (size_t)r : 0) * kw);
    __m512i ro0 = _mm512_loadu_si512(off), ro1 = _mm512_loadu_si512(off + L);
    float buf[B];
    if (k == 1) {
      for (size_t r = 0; r < B; r++)
        buf[r] = r < nb ? margin[r0 + r] : 0.0f;
      __m512 a0 = _mm512_loadu_ps(buf), a1 = _mm512_loadu_ps(buf + L);
      for (size_t t = 0; t < f->ntrees; t++) {
        __m512i i0 = _mm512_set1_epi32((int)f->tree_root[t]), i1 = i0;
        for (uint32_t d = f->tree_depth[t]; d; d--) {
          i0 = cstep16(cn, i0, keys, ro0);
          i1 = cstep16(cn, i1, keys, ro1);
        }
        a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(i0, lv, 4));
        a1 = _mm512_add_ps(a1, _mm512_i32gather_ps(i1, lv, 4));
      }
      _mm512_storeu_ps(buf, a0);
      _mm512_storeu_ps(buf + L, a1);
      for (size_t r = 0; r < nb; r++)
        margin[r0 + r] = buf[r];
    } else {
      for (size_t t = 0; t < f->ntrees; t++) {
        __m512i i0 = _mm512_set1_epi32((int)f->tree_root[t]), i1 = i0;
        for (uint32_t d = f->tree_depth[t]; d; d--) {
          i0 = cstep16(cn, i0, keys, ro0);
          i1 = cstep16(cn, i1, keys, ro1);
        }
        _mm512_storeu_ps(buf, _mm512_i32gather_ps(i0, lv, 4));
        _mm512_storeu_ps(buf + L, _mm512_i32gather_ps(i1, lv, 4));
        uint32_t g = f->tree_group[t];
        for (size_t r = 0; r < nb; r++)
          margin[(r0 + r) * k + g] += buf[r];
      }
    }
  }
}

/* Trees across lanes for one row at a time: 32 trees (two vectors) walk
 * together; their leaves are then added in tree order. */
__attribute__((target("avx512f"))) void
fr__kernel_avx512_ctrees(const fr_forest *f, const float *x, size_t n,
                         float *margin) {
  enum { L = 16, G = 2, B = L * G };
  const int *cn = (const int *)f->cnodes;
  const float *lv = f->leaf_value;
  size_t nf = f->nfeatures, k = f->noutputs, T = f->ntrees;
  const __m512i zero = _mm512_setzero_si512();
  uint32_t keys[2 * FR__KEY_MAX_FEATURES];
  float leaves[B];
  for (size_t r = 0; r < n; r++) {
    fr__row_keys(x + r * nf, nf, keys);
    float *mr = margin + r * k;
    float acc = mr[0];
    for (size_t t = 0; t < T; t += B) {
      size_t nt = T - t < B ? T - t : B;
      int roots[B];
      uint32_t dmax = 0;
      for (size_t j = 0; j < B; j++) {
        size_t tj = j < nt ? t + j : t; /* spare lanes repeat tree t */
        roots[j] = (int)f->tree_root[tj];
        dmax = f->tree_depth[tj] > dmax ? f->tree_depth[tj] : dmax;
      }
      __m512i i0 = _mm512_loadu_si512(roots), i1 = _mm512_loadu_si512(roots + L);
      for (uint32_t d = 0; d < dmax; d++) {
        i0 = cstep16(cn, i0, keys, zero);
        i1 = cstep16(cn, i1, keys, zero);
      }
      _mm512_storeu_ps(leaves, _mm512_i32gather_ps(i0, lv, 4));
      _mm512_storeu_ps(leaves + L, _mm512_i32gather_ps(i1, lv, 4));
      if (k == 1) {
        for (size_t j = 0; j < nt; j++)
          acc += leaves[j];
      } else {
        for (size_t j = 0; j < nt; j++)
          mr[f->tree_group[t + j]] += leaves[j];
      }
    }
    if (k == 1)
      mr[0] = acc;
  }
}

__attribute__((target("avx2"))) static inline __m256i
cstep8(const int *cn, __m256i idx, const uint32_t *keys, __m256i rowoff) {
  __m256i w = _mm256_add_epi32(idx, idx);
  __m256i tkey = _mm256_i32gather_epi32(cn, w, 4);
  __m256i meta = _mm256_i32gather_epi32(cn, _mm256_add_epi32(w, _mm256_set1_epi32(1)), 4);
  __m256i kidx = _mm256_add_epi32(rowoff, _mm256_and_si256(meta, _mm256_set1_epi32(0xffff)));
  __m256i key = _mm256_i32gather_epi32((const int *)keys, kidx, 4);
  /* Unsigned key < tkey is a signed compare after flipping both sign bits
   * (AVX2 has no unsigned compare).  Adding its all-ones mask to the right
   * child's index gives the left child exactly when the lane goes left. */
  const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
  __m256i lt = _mm256_cmpgt_epi32(_mm256_xor_si256(tkey, sign), _mm256_xor_si256(key, sign));
  __m256i next = _mm256_add_epi32(idx, _mm256_srli_epi32(meta, 16));
  return _mm256_add_epi32(next, lt);
}

__attribute__((target("avx2"))) void
fr__kernel_avx2_crows(const fr_forest *f, const float *x, size_t n,
                      float *margin) {
  enum { L = 8, G = 2, B = L * G };
  const int *cn = (const int *)f->cnodes;
  const float *lv = f->leaf_value;
  size_t nf = f->nfeatures, kw = 2 * nf, k = f->noutputs;
  uint32_t keys[B * 2 * FR__KEY_MAX_FEATURES];
  for (size_t r0 = 0; r0 < n; r0 += B) {
    size_t nb = n - r0 < B ? n - r0 : B;
    for (size_t r = 0; r < nb; r++)
      fr__row_keys(x + (r0 + r) * nf, nf, keys + r * kw);
    int off[B];
    for (int r = 0; r < B; r++)
      off[r] = (int)(((size_t)r < nb ? (size_t)r : 0) * kw);
    __m256i ro0 = _mm256_loadu_si256((const __m256i *)off);
    __m256i ro1 = _mm256_loadu_si256((const __m256i *)(off + L));
    float buf[B];
    if (k == 1) {
      for (size_t r = 0; r < B; r++)
        buf[r] = r < nb ? margin[r0 + r] : 0.0f;
      __m256 a0 = _mm256_loadu_ps(buf), a1 = _mm256_loadu_ps(buf + L);
      for (size_t t = 0; t < f->ntrees; t++) {
        __m256i i0 = _mm256_set1_epi32((int)f->tree_root[t]), i1 = i0;
        for (uint32_t d = f->tree_depth[t]; d; d--) {
          i0 = cstep8(cn, i0, keys, ro0);
          i1 = cstep8(cn, i1, keys, ro1);
        }
        a0 = _mm256_add_ps(a0, _mm256_i32gather_ps(lv, i0, 4));
        a1 = _mm256_add_ps(a1, _mm256_i32gather_ps(lv, i1, 4));
      }
      _mm256_storeu_ps(buf, a0);
      _mm256_storeu_ps(buf + L, a1);
      for (size_t r = 0; r < nb; r++)
        margin[r0 + r] = buf[r];
    } else {
      for (size_t t = 0; t < f->ntrees; t++) {
        __m256i i0 = _mm256_set1_epi32((int)f->tree_root[t]), i1 = i0;
        for (uint32_t d = f->tree_depth[t]; d; d--) {
          i0 = cstep8(cn, i0, keys, ro0);
          i1 = cstep8(cn, i1, keys, ro1);
        }
        _mm256_storeu_ps(buf, _mm256_i32gather_ps(lv, i0, 4));
        _mm256_storeu_ps(buf + L, _mm256_i32gather_ps(lv, i1, 4));
        uint32_t g = f->tree_group[t];
        for (size_t r = 0; r < nb; r++)
          margin[(r0 + r) * k + g] += buf[r];
      }
    }
  }
}

__attribute__((target("avx2"))) void
fr__kernel_avx2_ctrees(const fr_forest *f, const float *x, size_t n,
                       float *margin) {
  enum { L = 8, G = 2, B = L * G };
  const int *cn = (const int *)f->cnodes;
  const float *lv = f->leaf_value;
  size_t nf = f->nfeatures, k = f->noutputs, T = f->ntrees;
  const __m256i zero = _mm256_setzero_si256();
  uint32_t keys[2 * FR__KEY_MAX_FEATURES];
  float leaves[B];
  for (size_t r = 0; r < n; r++) {
    fr__row_keys(x + r * nf, nf, keys);
    float *mr = margin + r * k;
    float acc = mr[0];
    for (size_t t = 0; t < T; t += B) {
      size_t nt = T - t < B ? T - t : B;
      int roots[B];
      uint32_t dmax = 0;
      for (size_t j = 0; j < B; j++) {
        size_t tj = j < nt ? t + j : t;
        roots[j] = (int)f->tree_root[tj];
        dmax = f->tree_depth[tj] > dmax ? f->tree_depth[tj] : dmax;
      }
      __m256i i0 = _mm256_loadu_si256((const __m256i *)roots);
      __m256i i1 = _mm256_loadu_si256((const __m256i *)(roots + L));
      for (uint32_t d = 0; d < dmax; d++) {
        i0 = cstep8(cn, i0, keys, zero);
        i1 = cstep8(cn, i1, keys, zero);
      }
      _mm256_storeu_ps(leaves, _mm256_i32gather_ps(lv, i0, 4));
      _mm256_storeu_ps(leaves + L, _mm256_i32gather_ps(lv, i1, 4));
      if (k == 1) {
        for (size_t j = 0; j < nt; j++)
          acc += leaves[j];
      } else {
        for (size_t j = 0; j < nt; j++)
          mr[f->tree_group[t + j]] += leaves[j];
      }
    }
    if (k == 1)
      mr[0] = acc;
  }
}

int fr__cpu_has_avx2(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

int fr__cpu_has_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

#else /* not x86-64 GCC/Clang: the portable kernels only */

void fr__kernel_avx512_rows(const fr_forest *f, const float *x, size_t n, float *margin) {
  fr__kernel_scalar(f, x, n, margin);
}
void fr__kernel_avx512_trees(const fr_forest *f, const float *x, size_t n, float *margin) {
  fr__kernel_scalar(f, x, n, margin);
}
void fr__kernel_avx2_rows(const fr_forest *f, const float *x, size_t n, float *margin) {
  fr__kernel_scalar(f, x, n, margin);
}
void fr__kernel_avx2_trees(const fr_forest *f, const float *x, size_t n, float *margin) {
  fr__kernel_scalar(f, x, n, margin);
}
void fr__kernel_avx512_crows(const fr_forest *f, const float *x, size_t n, float *margin) {
  fr__kernel_compact(f, x, n, margin);
}
void fr__kernel_avx512_ctrees(const fr_forest *f, const float *x, size_t n, float *margin) {
  fr__kernel_compact(f, x, n, margin);
}
void fr__kernel_avx2_crows(const fr_forest *f, const float *x, size_t n, float *margin) {
  fr__kernel_compact(f, x, n, margin);
}
void fr__kernel_avx2_ctrees(const fr_forest *f, const float *x, size_t n, float *margin) {
  fr__kernel_compact(f, x, n, margin);
}
int fr__cpu_has_avx2(void) { return 0; }
int fr__cpu_has_avx512(void) { return 0; }

#endif
