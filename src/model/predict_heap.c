/*
 * predict_heap.c - the complete-tree layout (forest_internal.h, fr__hnode)
 * and its kernel: the portable kernel for forests of shallow trees, which
 * is what gradient boosting usually produces (XGBoost's max_depth is 6 by
 * default).
 *
 * Why a second compact layout.  The compact kernel's step (predict.c) is
 * six instructions and four loads: the key index, the row's key, the child
 * offset and the threshold key.  In a complete tree stored in heap order the
 * children of slot j are 2j and 2j + 1, so the child offset disappears and
 * the step is four instructions with three loads (key index, key, and the
 * threshold key as the memory operand of the compare) ending in one
 * add-with-carry, j = j + j + carry.  With the depth D and the number of
 * lanes (trees walked in lock-step) fixed at compile time, every walk is
 * unrolled and each lane's node address is a constant displacement plus 8j,
 * so the twelve lanes, the node base and the row's keys all stay in
 * registers (the 16-lane compact walk spills six of its indices to the stack).
 * The price is padding: a tree shallower than its group's deepest tree, or
 * not complete, walks D steps anyway, and the layout holds 2^D slots per
 * tree; fr__heap_build leaves the layout out when that would more than
 * quadruple the memory of the compact one.
 *
 * Rows.  A batch is cut into blocks of rows whose keys (fr__row_keys) are
 * computed once; each group of trees then walks every row of the block, so
 * its nodes are read from L1/L2 while hot.  Leaf values are added to the
 * margin in tree order, one tree at a time, in float32: the same sum,
 * rounding for rounding, as XGBoost's and every other kernel's.
 */
#include "model/forest_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Layout
 * ------------------------------------------------------------------------ */

/* Lanes of a group holding `left` remaining trees: 12 while at least 9
 * remain, then the smallest of 4 or 8 that holds the rest. */
static unsigned lanes_for(size_t left) {
  if (left > 8)
    return 12;
  return left > 4 ? 8 : 4;
}

void fr__heap_build(fr_forest *f) {
  if (!f->cnodes || f->ntrees == 0 || f->max_depth > FR__H_MAX_DEPTH)
    return;
  /* Size the layout first. */
  size_t ngroups = 0, nslots = 0;
  for (size_t t = 0; t < f->ntrees;) {
    unsigned L = lanes_for(f->ntrees - t);
    size_t nt = f->ntrees - t < L ? f->ntrees - t : L;
    uint32_t d = 1;
    for (size_t i = t; i < t + nt; i++)
      d = f->tree_depth[i] > d ? f->tree_depth[i] : d;
    nslots += (size_t)L << d;
    ngroups++;
    t += nt;
  }
  /* Compact layout: 8-byte node plus 4-byte leaf value per node. */
  if (nslots * (sizeof(fr__hnode) + sizeof(float)) >
      4 * f->nnodes * (sizeof(fr__cnode) + sizeof(float)) + 65536)
    return;
  if (nslots > UINT32_MAX)
    return;
  size_t bytes = (nslots * sizeof(fr__hnode) + 63) & ~(size_t)63;
  fr__hnode *hn = aligned_alloc(64, bytes);
  float *hl = calloc(nslots, sizeof(float));
  fr__hgroup *hg = calloc(ngroups, sizeof *hg);
  /* src[j]: the node of the forest slot j of the tree being laid out
   * stands for (a leaf repeats down its always-left chain), or UINT32_MAX
   * for a slot no walk reaches. */
  uint32_t *src = malloc(((size_t)2 << (f->max_depth ? f->max_depth : 1)) *
                         sizeof(uint32_t)); /* D >= 1 even if every tree is a leaf */
  if (!hn || !hl || !hg || !src) {
    free(hn);
    free(hl);
    free(hg);
    free(src);
    return;
  }
  const fr__hnode always_left = {0, UINT32_MAX};
  for (size_t s = 0; s < nslots; s++)
    hn[s] = always_left;
  size_t g = 0, off = 0;
  for (size_t t = 0; t < f->ntrees; g++) {
    unsigned L = lanes_for(f->ntrees - t);
    size_t nt = f->ntrees - t < L ? f->ntrees - t : L;
    uint32_t D = 1;
    for (size_t i = t; i < t + nt; i++)
      D = f->tree_depth[i] > D ? f->tree_depth[i] : D;
    size_t S = (size_t)1 << D;
    hg[g] = (fr__hgroup){(uint32_t)off, (uint32_t)off, (uint32_t)t, (uint8_t)D,
                         (uint8_t)L, (uint8_t)nt, 1};
    for (size_t lane = 0; lane < nt; lane++) {
      fr__hnode *tn = hn + off + lane * S;
      float *tl = hl + off + lane * S;
      src[1] = f->tree_root[t + lane];
      for (size_t j = 1; j < 2 * S; j++) {
        if (j >= 2) {
          uint32_t p = src[j / 2];
          if (p == UINT32_MAX)
            src[j] = UINT32_MAX;
          else if (f->nodes[p].left == p) /* a leaf: its chain goes left */
            src[j] = (j & 1) ? UINT32_MAX : p;
          else
            src[j] = f->nodes[p].left + (uint32_t)(j & 1);
        }
        uint32_t i = src[j];
        if (i == UINT32_MAX)
          continue;
        if (j >= S) { /* leaf level: the builder guarantees a leaf here */
          tl[j - S] = f->leaf_value[i];
          continue;
        }
        if (f->nodes[i].left == i)
          continue; /* a leaf above depth D: always left (already set) */
        tn[j].kidx = FR__C_KEY(f->cnodes[i].meta);
        tn[j].tkm1 = f->cnodes[i].tkey - 1u;
      }
    }
    off += L * S;
    t += nt;
  }
  free(src);
  /* Runs of same-shaped full groups, walked by one call each. */
  for (size_t i = ngroups; i-- > 0;) {
    hg[i].run = 1;
    if (i + 1 < ngroups && hg[i].ntrees == hg[i].lanes &&
        hg[i + 1].ntrees == hg[i + 1].lanes && hg[i + 1].depth == hg[i].depth &&
        hg[i + 1].lanes == hg[i].lanes)
      hg[i].run = hg[i + 1].run + 1;
  }
  f->hnodes = hn;
  f->hleaf = hl;
  f->hgroups = hg;
  f->nhgroups = ngroups;
}

/* ------------------------------------------------------------------------
 * Kernel
 * ------------------------------------------------------------------------ */

/* Keys of a block of rows on the stack (64 KiB, as the compact kernel), at
 * most FR__H_BLOCK rows. */
#define FR__H_KEYS 16384
#define FR__H_BLOCK 64

/* One step of lane t in a group of depth D: j = 2j + (tkm1 < key[kidx]).
 * On x86-64 it is written out as the four instructions it should be (GCC
 * turns the C form into seven with a setb and two lea): load the key index,
 * load the row's key, compare it with the threshold in memory (the carry is
 * tkm1 < key) and add j to itself with that carry.  The lane's node address
 * is the constant displacement (t << D) * 8 plus 8j, so the twelve j's,
 * the node base and the keys pointer are all the registers a walk needs.
 * The asm reads nodes and keys that nothing in the walker writes (the
 * caller fills the keys before the call, and the walkers are never
 * inlined), so it declares no memory operand. */
#if defined(__x86_64__) && defined(__GNUC__)
#define FR__HSTEP(t, D)                                                        \
  do {                                                                         \
    size_t k_;                                                                 \
    __asm__ volatile("movl %c[disp](%[nb],%[j],8), %k[k]\n\t"                  \
                     "movl (%[keys],%[k],4), %k[k]\n\t"                         \
                     "cmpl %k[k], %c[disp]+4(%[nb],%[j],8)\n\t"                 \
                     "adcq %[j], %[j]"                                         \
                     : [j] "+r"(j##t), [k] "=&r"(k_)                           \
                     : [nb] "r"(nb), [keys] "r"(keys),                         \
                       [disp] "i"(((t)*8) << (D))                              \
                     : "cc");                                                  \
  } while (0)
#else
#define FR__HSTEP(t, D)                                                        \
  do {                                                                         \
    const fr__hnode *n_ = nb + ((size_t)(t) << (D)) + j##t;                    \
    j##t = j##t + j##t + (n_->tkm1 < keys[n_->kidx]);                          \
  } while (0)
#endif

#define FR__HL4(X, D) X(0, D) X(1, D) X(2, D) X(3, D)
#define FR__HL8(X, D) FR__HL4(X, D) X(4, D) X(5, D) X(6, D) X(7, D)
#define FR__HL12(X, D) FR__HL8(X, D) X(8, D) X(9, D) X(10, D) X(11, D)
#define FR__HDECL(t, D) size_t j##t = 1;
#define FR__HSTEP_(t, D) FR__HSTEP(t, D);
#define FR__HLEAF(t, D) lb[((size_t)(t) << (D)) + j##t - ((size_t)1 << (D))]
#define FR__HADD(t, D)                                                         \
  if ((t) < nt)                                                                \
    a += FR__HLEAF(t, D);
#define FR__HSTORE(t, D) v[t] = FR__HLEAF(t, D);

/* hw_D_L walks ng consecutive groups of depth D and L lanes (stored one
 * after the other) for nrows rows whose keys are kw apart, group after group
 * (each group's nodes stay hot while every row walks it); one call per run
 * of same-shaped groups saves a call, a return and the reload of the sum per
 * group, which at one row is a tenth of the time.  With acc (one output) it
 * adds the nt leaf values of each row to acc[r] in tree order (nt < L only
 * for a lone last group); otherwise (ng = 1) it stores the L values in
 * vals[r * L + t] for the caller to add to each tree's output. */
typedef void (*hwalk_fn)(const fr__hnode *nb, const float *lb, size_t ng,
                         const uint32_t *keys, size_t kw, size_t nrows,
                         unsigned nt, float *acc, float *vals);

#define FR__HW(D, L)                                                           \
  static __attribute__((noinline)) void hw_##D##_##L(                         \
      const fr__hnode *nb, const float *lb, size_t ng, const uint32_t *keys0,  \
      size_t kw, size_t nrows, unsigned nt, float *acc, float *vals) {         \
    for (; ng; ng--, nb += (size_t)(L) << (D), lb += (size_t)(L) << (D)) {     \
      const uint32_t *keys = keys0;                                            \
      for (size_t r = 0; r < nrows; r++, keys += kw) {                         \
        FR__HL##L(FR__HDECL, D)                                                \
        _Pragma("GCC unroll 10") for (unsigned d = 0; d < (D); d++) {          \
          FR__HL##L(FR__HSTEP_, D)                                             \
        }                                                                      \
        if (acc) {                                                             \
          float a = acc[r];                                                    \
          FR__HL##L(FR__HADD, D)                                               \
          acc[r] = a;                                                          \
        } else {                                                               \
          float *v = vals + r * (L);                                           \
          FR__HL##L(FR__HSTORE, D)                                             \
        }                                                                      \
      }                                                                        \
    }                                                                          \
  }
#define FR__HW_D(D) FR__HW(D, 4) FR__HW(D, 8) FR__HW(D, 12)
FR__HW_D(1)
FR__HW_D(2)
FR__HW_D(3)
FR__HW_D(4)
FR__HW_D(5)
FR__HW_D(6)
FR__HW_D(7)
FR__HW_D(8)
FR__HW_D(9)
FR__HW_D(10)

#define FR__HW_ROW(D) {hw_##D##_4, hw_##D##_8, hw_##D##_12}
static const hwalk_fn walkers[FR__H_MAX_DEPTH + 1][3] = {
    {NULL, NULL, NULL}, FR__HW_ROW(1), FR__HW_ROW(2), FR__HW_ROW(3),
    FR__HW_ROW(4),      FR__HW_ROW(5), FR__HW_ROW(6), FR__HW_ROW(7),
    FR__HW_ROW(8),      FR__HW_ROW(9), FR__HW_ROW(10)};

void fr__kernel_heap(const fr_forest *f, const float *x, size_t n,
                     float *margin) {
  size_t nf = f->nfeatures, kw = 2 * nf, k = f->noutputs;
  const uint32_t *group = f->tree_group;
  uint32_t keys[FR__H_KEYS];
  float acc[FR__H_BLOCK];
  float vals[FR__H_BLOCK * FR__H_MAX_LANES];
  size_t block = FR__H_KEYS / kw;
  if (block > FR__H_BLOCK)
    block = FR__H_BLOCK;
  for (size_t r0 = 0; r0 < n; r0 += block) {
    size_t nb = n - r0 < block ? n - r0 : block;
    for (size_t r = 0; r < nb; r++)
      fr__row_keys(x + (r0 + r) * nf, nf, keys + r * kw);
    if (k == 1)
      for (size_t r = 0; r < nb; r++)
        acc[r] = margin[r0 + r];
    for (size_t gi = 0; gi < f->nhgroups;) {
      const fr__hgroup *g = &f->hgroups[gi];
      hwalk_fn w = walkers[g->depth][g->lanes / 4 - 1];
      const fr__hnode *nbase = f->hnodes + g->node_off;
      const float *lbase = f->hleaf + g->leaf_off;
      if (k == 1) {
        w(nbase, lbase, g->run, keys, kw, nb, g->ntrees, acc, NULL);
        gi += g->run;
        continue;
      }
      w(nbase, lbase, 1, keys, kw, nb, g->ntrees, NULL, vals);
      for (size_t r = 0; r < nb; r++) {
        float *mr = margin + (r0 + r) * k;
        for (unsigned t = 0; t < g->ntrees; t++)
          mr[group[g->tree0 + t]] += vals[r * g->lanes + t];
      }
      gi++;
    }
    if (k == 1)
      for (size_t r = 0; r < nb; r++)
        margin[r0 + r] = acc[r];
  }
}
