/*
 * shap.c - exact path-dependent TreeSHAP and top-k reasons.
 *
 * The values are those of Algorithm 2 of S. M. Lundberg, G. G. Erion,
 * S.-I. Lee, "Consistent Individualized Feature Attribution for Tree
 * Ensembles" (2018, arXiv:1802.03888), where the "expected value" of a
 * subtree is taken under the training distribution recorded in the node
 * covers (XGBoost's sum_hessian, LightGBM's counts, ONNX hitrates).  The
 * contributions of a row plus the bias (the base margin plus every tree's
 * cover-weighted mean leaf value) sum to the row's margin; that identity,
 * and equality with XGBoost's pred_contribs, are what
 * tests/model/test_shap.c checks.
 *
 * Two algorithms compute them:
 *
 * - Linear TreeSHAP (below, "Linear TreeSHAP"), for trees up to depth 32:
 *   the polynomial form of P. Yu, A. Bifet, J. Read, C. Xu, "Linear
 *   TreeShap" (NeurIPS 2022, arXiv:2209.08192), with the polynomials held
 *   by their values at Gauss-Legendre points; O(nodes x q) per tree and row
 *   with q = 4 up to depth 8, vector arithmetic, no exponential table.
 *   It replaced a per-leaf table of the 2^m subset coefficients (Fast
 *   TreeSHAP v2, J. Yang 2021, arXiv:2109.09847), which for 500 trees of
 *   depth 6 held 49 MB and made every row wait on memory.
 * - the direct Algorithm 2 otherwise (deeper trees), O(leaves x depth^2)
 *   per tree.  Its recursion keeps, for the path from the root to the
 *   current node, one element per distinct feature split on so far: the
 *   fraction of "zero" paths (feature unknown: follow the covers) and "one"
 *   paths (feature known: follow x) that flow through, and the permutation
 *   weights of subsets of each size (EXTEND adds a feature, UNWIND removes
 *   one).  Each level of the recursion copies the path into its own slice
 *   of one triangular array of (D+1)(D+2)/2 elements.
 *
 * Arithmetic is in double (XGBoost uses float; the two agree far inside the
 * 1e-5 tolerance).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/forest_internal.h"

typedef struct path_elem {
  int32_t feature;
  double zero; /* fraction of "feature unknown" paths */
  double one;  /* 1 if x follows this branch, else 0 */
  double w;    /* permutation weight */
} path_elem;

/* Limits: the triangular path array grows with depth^2 and the recursion
 * with depth; past this the computation is refused (FR_ELIMIT).  Fraud
 * models have depth 4..12. */
#define FR__SHAP_MAX_DEPTH 512

/* 1/k for k = 1 .. FR__SHAP_MAX_DEPTH + 2: the recursion's weights are
 * ratios of small integers, and a multiplication by a reciprocal costs a
 * fraction of a division on the long dependent chains below. */
static double inv_tab[FR__SHAP_MAX_DEPTH + 3];
static pthread_once_t inv_once = PTHREAD_ONCE_INIT;
static void inv_init(void) {
  for (int k = 1; k < FR__SHAP_MAX_DEPTH + 3; k++)
    inv_tab[k] = 1.0 / k;
}

/* EXTEND: adds a feature with fractions (pz, po) to a path of len
 * elements. */
static void extend(path_elem *m, int len, double pz, double po, int32_t pi) {
  m[len].feature = pi;
  m[len].zero = pz;
  m[len].one = po;
  m[len].w = len == 0 ? 1.0 : 0.0;
  double r = inv_tab[len + 1];
  for (int i = len - 1; i >= 0; i--) {
    m[i + 1].w += po * m[i].w * (double)(i + 1) * r;
    m[i].w = pz * m[i].w * (double)(len - i) * r;
  }
}

/* UNWIND: removes element i of a path of len elements (undoes its
 * EXTEND). */
static void unwind(path_elem *m, int len, int i) {
  int ud = len - 1;
  double one = m[i].one, zero = m[i].zero, next = m[ud].w;
  double r = inv_tab[ud + 1];
  if (one != 0) {
    double inv_one = 1.0 / one;
    for (int j = ud - 1; j >= 0; j--) {
      double t = m[j].w;
      m[j].w = next * (double)(ud + 1) * inv_tab[j + 1] * inv_one;
      next = t - m[j].w * zero * (double)(ud - j) * r;
    }
  } else if (zero != 0) {
    double inv_zero = 1.0 / zero;
    for (int j = ud - 1; j >= 0; j--)
      m[j].w = m[j].w * (double)(ud + 1) * inv_zero * inv_tab[ud - j];
  }
  for (int j = i; j < ud; j++) {
    m[j].feature = m[j + 1].feature;
    m[j].zero = m[j + 1].zero;
    m[j].one = m[j + 1].one;
  }
}

/* Total permutation weight the path would have with element i unwound,
 * without changing it. */
static double unwound_sum(const path_elem *m, int len, int i) {
  int ud = len - 1;
  double one = m[i].one, zero = m[i].zero, next = m[ud].w, total = 0;
  double r = inv_tab[ud + 1];
  if (one != 0) {
    double inv_one = 1.0 / one;
    for (int j = ud - 1; j >= 0; j--) {
      double t = next * (double)(ud + 1) * inv_tab[j + 1] * inv_one;
      total += t;
      next = m[j].w - t * zero * (double)(ud - j) * r;
    }
  } else if (zero != 0) {
    double s = 0;
    for (int j = ud - 1; j >= 0; j--)
      s += m[j].w * inv_tab[ud - j];
    total = s * (double)(ud + 1) / zero;
  }
  return total;
}

typedef struct shap_ctx {
  const fr_forest *f;
  const float *x;
  double *phi; /* nfeatures + 1 */
} shap_ctx;

static void recurse(shap_ctx *c, uint32_t node, path_elem *parent, int plen,
                    double pz, double po, int32_t pi) {
  const fr__node *n = &c->f->nodes[node];
  path_elem *m = parent + plen; /* this level's slice, after the parent's */
  if (plen)
    memcpy(m, parent, (size_t)plen * sizeof *m);
  extend(m, plen, pz, po, pi);
  int len = plen + 1;
  if (n->left == node) { /* leaf */
    double v = n->u.value;
    for (int i = 1; i < len; i++) {
      double w = unwound_sum(m, len, i);
      c->phi[m[i].feature] += w * (m[i].one - m[i].zero) * v;
    }
    return;
  }
  uint32_t hot = fr__step(c->f, n, c->x);
  uint32_t cold = hot == n->left ? n->left + 1 : n->left;
  const double *cover = c->f->cover;
  double cj = cover[node];
  double hz = cj > 0 ? cover[hot] / cj : 0, cz = cj > 0 ? cover[cold] / cj : 0;
  int32_t feat = (int32_t)(n->feat & FR__NODE_FEAT_MASK);
  double iz = 1, io = 1;
  /* A feature met again on the path: undo its earlier extension and carry
   * its fractions into this split. */
  for (int k = 1; k < len; k++) {
    if (m[k].feature == feat) {
      iz = m[k].zero;
      io = m[k].one;
      unwind(m, len, k);
      len--;
      break;
    }
  }
  recurse(c, hot, m, len, hz * iz, io, feat);
  recurse(c, cold, m, len, cz * iz, 0, feat);
}

/* ------------------------------------------------------------------------
 * Linear TreeSHAP: the same values in O(nodes x q) per tree and row.
 *
 * For one leaf l with value v and distinct path features P, where feature
 * i has "zero" fraction z_i (product of the cover ratios of the path's
 * edges on i) and "one" fraction o_i (1 iff x follows every edge on i),
 * the Shapley weights |T|! (m - |T| - 1)! / m! are Beta integrals, so
 *
 *   phi_u(l) = v (o_u - z_u) Integral_0^1 prod_{i in P, i != u} F_i(t) dt,
 *   F_i(t) = z_i (1 - t) + o_i t,
 *
 * the integrand a polynomial of degree |P| - 1 <= depth - 1.  This is the
 * polynomial form of P. Yu, A. Bifet, J. Read, C. Xu, "Linear TreeShap"
 * (NeurIPS 2022, arXiv:2209.08192), written here from that idea: because
 * the integrand is a polynomial of low degree, it is held by its values at
 * q Gauss-Legendre points of [0, 1], which integrate every polynomial of
 * degree <= 2q - 1 exactly (q = 4 up to depth 8, 8 up to 16, 16 up to 32).
 * Products and sums of polynomials are then pointwise, and the sum over the
 * leaves below a node factors into a top-down product A (the factors of the
 * edges above the node, quadrature weight folded in) and a bottom-up sum S
 * (the leaf values times the factors of the edges below it), so that a row
 * costs one pass down and one pass up over the tree's nodes with q-vector
 * arithmetic, whatever the depth:
 *
 *   S(leaf) = v,   S(j) = M(L) S(L) + M(R) S(R)
 *   phi_u  += sum_k A_k(j) [C_k(L) S_k(L) + C_k(R) S_k(R)]  (node j splits u)
 *
 * where, for the edge into child c of j, M(c) = F_c and C(c) = o_c - z_c
 * when u is not met above j on the path.  When it is (last at the edge into
 * node p), the feature's factor changes from F_p to F_c (z_c = z_p x ratio,
 * o_c = o_p AND follows), so M(c) = F_c / F_p, and the contribution
 * telescopes: the edges on u together must add v (o - z)_last / F_last x the
 * leaf's product; the edge into c adds (o_c - z_c) / F_c - (o_p - z_p) / F_p
 * of it, i.e. C(c) = [(o_c - z_c) - (o_p - z_p) F_c / F_p] / F_p with A(j)
 * still holding F_p.  The terms are rational functions of t, but the
 * quadrature of their sum is the quadrature of the polynomial, which is
 * exact.  A factor F_p is 0 only when z_p = o_p = 0, and then every leaf
 * below has product 0 and o - z = 0: those terms are 0.
 *
 * The tables built once per forest are small (a double and a uint32 per
 * node: z of the edge into the node and the node below the previous edge on
 * the same feature); a row needs 4 q doubles of scratch per node of its
 * largest tree (on the stack up to 32 KiB).
 * ------------------------------------------------------------------------ */

#define FR__SHAP_NO_PREV UINT32_MAX
/* Linear TreeSHAP up to this depth (q = depth / 2 rounded up to 4, 8, 16);
 * deeper forests use the direct algorithm. */
#define FR__SHAP_LIN_MAX_DEPTH 32
/* Largest per-row scratch (4 q doubles per node of the largest tree) the
 * linear algorithm may allocate; beyond it the direct algorithm runs. */
#define FR__SHAP_LIN_MAX_SCRATCH (64u << 20)
/* Per-row scratch kept on the stack (32 KiB). */
#define FR__SHAP_STACK_DOUBLES 4096

typedef struct fr__shap_cache {
  double *zc;      /* nnodes: zero fraction z of the edge into the node */
  uint32_t *prev;  /* nnodes: node below the previous edge on the same
                      feature on the path, or FR__SHAP_NO_PREV */
  size_t max_nodes; /* nodes of the largest tree */
  int nq;           /* quadrature points: 4, 8 or 16 */
} fr__shap_cache;

void fr__shap_cache_free(fr__shap_cache *c) {
  if (!c)
    return;
  free(c->zc);
  free(c->prev);
  free(c);
}

/* Gauss-Legendre points and weights on [0, 1] for q = 4, 8, 16 (index
 * q / 8), from Newton's iteration on the Legendre polynomial P_q with the
 * three-term recurrence (W. H. Press et al., Numerical Recipes, 3rd ed.,
 * section 4.6), computed once. */
typedef double v4d __attribute__((vector_size(32)));
static v4d gl_tv[3][4], gl_wv[3][4];
static pthread_once_t gl_once = PTHREAD_ONCE_INIT;

/* P_n(z) and P_{n-1}(z), the Legendre polynomials, by their three-term
 * recurrence. */
static void legendre(int n, double z, double *pn, double *pn1) {
  double p1 = 1, p2 = 0;
  for (int j = 1; j <= n; j++) {
    double p3 = p2;
    p2 = p1;
    p1 = ((2.0 * j - 1.0) * z * p2 - (j - 1.0) * p3) / j;
  }
  *pn = p1;
  *pn1 = p2;
}

static void gauss_legendre(int n, double *t, double *w) {
  const double pi = acos(-1.0);
  for (int i = 0; i < n; i++) {
    double z = cos(pi * (i + 0.75) / (n + 0.5)), p1, p2, dp;
    for (int it = 0; it < 100; it++) {
      legendre(n, z, &p1, &p2);
      dp = n * (z * p1 - p2) / (z * z - 1.0);
      double z1 = z;
      z = z1 - p1 / dp;
      if (fabs(z - z1) <= 1e-16)
        break;
    }
    legendre(n, z, &p1, &p2);
    dp = n * (z * p1 - p2) / (z * z - 1.0);
    t[i] = 0.5 * (1.0 - z);
    w[i] = 1.0 / ((1.0 - z * z) * dp * dp); /* half the [-1, 1] weight */
  }
}

static void gl_init(void) {
  for (int g = 0; g < 3; g++) {
    int n = 4 << g;
    double t[16], w[16];
    gauss_legendre(n, t, w);
    for (int k = 0; k < n; k++) {
      gl_tv[g][k / 4][k % 4] = t[k];
      gl_wv[g][k / 4][k % 4] = w[k];
    }
  }
}

static int gl_index(int nq) { return nq == 4 ? 0 : nq == 8 ? 1 : 2; }

static fr__shap_cache *cache_build(const fr_forest *f) {
  if (f->max_depth > FR__SHAP_LIN_MAX_DEPTH)
    return NULL;
  int nq = f->max_depth <= 8 ? 4 : f->max_depth <= 16 ? 8 : 16;
  size_t max_nodes = 1;
  for (size_t t = 0; t < f->ntrees; t++) {
    size_t lo = f->tree_root[t], hi = t + 1 < f->ntrees ? f->tree_root[t + 1] : f->nnodes;
    if (hi - lo > max_nodes)
      max_nodes = hi - lo;
  }
  if (max_nodes > FR__SHAP_LIN_MAX_SCRATCH / (4 * (size_t)nq * sizeof(double)))
    return NULL;
  fr__shap_cache *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  size_t nn = f->nnodes ? f->nnodes : 1;
  c->zc = malloc(nn * sizeof *c->zc);
  c->prev = malloc(nn * sizeof *c->prev);
  if (!c->zc || !c->prev) {
    fr__shap_cache_free(c);
    return NULL;
  }
  c->nq = nq;
  c->max_nodes = max_nodes;
  /* Parents come before their children (breadth-first layout), so one pass
   * in node order sees every edge's parent edge first.  The previous edge
   * on the same feature is found by walking up the path: a parent array,
   * then O(depth) per node. */
  uint32_t *parent = malloc(nn * sizeof *parent);
  if (!parent) {
    fr__shap_cache_free(c);
    return NULL;
  }
  for (size_t i = 0; i < f->nnodes; i++) {
    c->zc[i] = 1.0;
    c->prev[i] = FR__SHAP_NO_PREV;
    parent[i] = UINT32_MAX;
  }
  for (size_t t = 0; t < f->ntrees; t++) {
    size_t lo = f->tree_root[t], hi = t + 1 < f->ntrees ? f->tree_root[t + 1] : f->nnodes;
    for (size_t j = lo; j < hi; j++) {
      const fr__node *n = &f->nodes[j];
      if (n->left == j)
        continue;
      uint32_t feat = n->feat & FR__NODE_FEAT_MASK;
      /* the edge above j on the same feature: walk up from j */
      uint32_t p = FR__SHAP_NO_PREV;
      for (uint32_t a = (uint32_t)j; parent[a] != UINT32_MAX; a = parent[a])
        if ((f->nodes[parent[a]].feat & FR__NODE_FEAT_MASK) == feat) {
          p = a;
          break;
        }
      double cj = f->cover[j];
      for (uint32_t s = n->left; s <= n->left + 1; s++) {
        parent[s] = (uint32_t)j;
        double ratio = cj > 0 ? f->cover[s] / cj : 0;
        c->prev[s] = p;
        c->zc[s] = p == FR__SHAP_NO_PREV ? ratio : ratio * c->zc[p];
      }
    }
  }
  free(parent);
  return c;
}

/* The tables, built on first use; NULL when they cannot be (too deep, out
 * of memory): the direct algorithm then runs. */
static const fr__shap_cache *shap_cache(const fr_forest *f) {
  int st = __atomic_load_n(&f->shap_state, __ATOMIC_ACQUIRE);
  if (st)
    return st > 0 ? f->shap : NULL;
  fr_forest *mf = (fr_forest *)f; /* the tables are logically part of the const forest */
  pthread_mutex_lock(&mf->shap_lock);
  if (!mf->shap_state) {
    mf->shap = cache_build(f);
    __atomic_store_n(&mf->shap_state, mf->shap ? 1 : -1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&mf->shap_lock);
  return mf->shap_state > 0 ? mf->shap : NULL;
}


/* fr__step's decision (1: x goes right), forced inline into the kernels
 * below, which the compiler otherwise calls out of line. */
static inline __attribute__((always_inline)) uint32_t go_right(const fr_forest *f,
                                                               const fr__node *n,
                                                               const float *x) {
  uint32_t feat = n->feat;
  float v = x[feat & FR__NODE_FEAT_MASK];
  if (feat & FR__NODE_SPECIAL)
    return fr__special_right(f, n, v);
  return (uint32_t)(v >= n->thr) | ((uint32_t)(v != v) & (feat >> 31));
}

/* One tree [lo, hi) for row x, adding to ph.  scratch: 4 x NQ x (hi - lo)
 * doubles, 32-byte aligned; o_of: hi - lo bytes.  Written for a constant
 * NQ so that the inner loops unroll into straight vector arithmetic. */
static inline __attribute__((always_inline)) void
tree_linear(const fr_forest *f, const fr__shap_cache *c, size_t lo, size_t hi, const float *x,
            double *ph, double *scratch, uint8_t *o_of, const int NQ) {
  enum { MAXV = 4 };
  const int NV = NQ / 4, gi = gl_index(NQ);
  v4d tv[MAXV], omt[MAXV];
  for (int k = 0; k < NV; k++) {
    tv[k] = gl_tv[gi][k];
    omt[k] = 1.0 - tv[k];
  }
  size_t nn = hi - lo;
  v4d *restrict A = (v4d *)scratch, *restrict M = A + nn * NV, *restrict C = M + nn * NV,
                *restrict S = C + nn * NV;
  const double *zc = c->zc + lo;
  const uint32_t *prev = c->prev;
  for (int k = 0; k < NV; k++)
    A[k] = gl_wv[gi][k];
  o_of[0] = 1;
  /* Down: the factors of the edges and the products above each node.  The
   * two children of a node share their path, so they have the same
   * previous edge on the node's feature (or none): one test per node, and
   * none on the direction x takes, a coin flip for the branch predictor. */
  for (size_t i = lo; i < hi; i++) {
    const fr__node *n = &f->nodes[i];
    if (n->left == i)
      continue;
    const v4d *Aj = A + (i - lo) * NV;
    uint32_t right = go_right(f, n, x);
    size_t l = n->left - lo;
    uint32_t p = prev[n->left];
    double zl = zc[l], zr = zc[l + 1];
    v4d *Ml = M + l * NV, *Cl = C + l * NV, *Al = A + l * NV;
    v4d *Mr = Ml + NV, *Ar = Al + NV;
    if (p == FR__SHAP_NO_PREV) {
      o_of[l] = (uint8_t)(right ^ 1u);
      o_of[l + 1] = (uint8_t)right;
      double orr = right, ol = 1.0 - orr;
      for (int k = 0; k < NV; k++) {
        v4d FL = zl * omt[k] + ol * tv[k], FR = zr * omt[k] + orr * tv[k];
        Ml[k] = FL;
        Mr[k] = FR;
        Al[k] = Aj[k] * FL;
        Ar[k] = Aj[k] * FR;
      }
      continue;
    }
    size_t pl = p - lo;
    uint8_t opb = o_of[pl];
    double op = opb, zp = zc[pl], dp = op - zp;
    for (uint32_t side = 0; side < 2; side++) {
      uint8_t ob = (uint8_t)(opb & (side == right));
      o_of[l + side] = ob;
      double z = side ? zr : zl, o = ob, d = o - z;
      v4d *Ms = Ml + side * NV, *Cs = Cl + side * NV, *As = Al + side * NV;
      for (int k = 0; k < NV; k++) {
        v4d F = z * omt[k] + o * tv[k], Fp = zp * omt[k] + op * tv[k];
        /* Fp = 0 only when zp = op = 0, and then A(j) = 0: the terms are
         * 0, so any finite r does (0 / 0 must not be formed). */
        v4d r = 1.0 / (Fp - __builtin_convertvector(Fp == 0, v4d));
        v4d m = F * r;
        Ms[k] = m;
        Cs[k] = (d - dp * m) * r;
        As[k] = Aj[k] * m;
      }
    }
  }
  /* Up: the sums below each node, and each split's contribution. */
  for (size_t i = hi; i-- > lo;) {
    const fr__node *n = &f->nodes[i];
    v4d *Sj = S + (i - lo) * NV;
    if (n->left == i) {
      double v = n->u.value;
      for (int k = 0; k < NV; k++)
        Sj[k] = (v4d){v, v, v, v};
      continue;
    }
    size_t l = n->left - lo;
    const v4d *Aj = A + (i - lo) * NV;
    const v4d *Ml = M + l * NV, *Mr = Ml + NV, *Cl = C + l * NV, *Cr = Cl + NV;
    const v4d *Sl = S + l * NV, *Sr = Sl + NV;
    v4d acc = {0, 0, 0, 0};
    if (prev[n->left] == FR__SHAP_NO_PREV) {
      /* C = o - z, the same at every point */
      double orr = o_of[l + 1], dl = 1.0 - orr - zc[l], dr = orr - zc[l + 1];
      for (int k = 0; k < NV; k++) {
        Sj[k] = Ml[k] * Sl[k] + Mr[k] * Sr[k];
        acc += Aj[k] * (dl * Sl[k] + dr * Sr[k]);
      }
    } else {
      for (int k = 0; k < NV; k++) {
        Sj[k] = Ml[k] * Sl[k] + Mr[k] * Sr[k];
        acc += Aj[k] * (Cl[k] * Sl[k] + Cr[k] * Sr[k]);
      }
    }
    ph[n->feat & FR__NODE_FEAT_MASK] += (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }
}

typedef void (*tree_fn)(const fr_forest *f, const fr__shap_cache *c, size_t lo, size_t hi,
                        const float *x, double *ph, double *scratch, uint8_t *o_of);

#define FR__SHAP_TREE_FN(name, attr, nq)                                                     \
  attr static void name(const fr_forest *f, const fr__shap_cache *c, size_t lo, size_t hi,  \
                        const float *x, double *ph, double *scratch, uint8_t *o_of) {       \
    tree_linear(f, c, lo, hi, x, ph, scratch, o_of, nq);                                     \
  }
FR__SHAP_TREE_FN(tree_linear4, , 4)
FR__SHAP_TREE_FN(tree_linear8, , 8)
FR__SHAP_TREE_FN(tree_linear16, , 16)
#if defined(__x86_64__) && defined(__GNUC__)
#define FR__SHAP_AVX2 __attribute__((target("avx2,fma")))
FR__SHAP_TREE_FN(tree_linear4_avx2, FR__SHAP_AVX2, 4)
FR__SHAP_TREE_FN(tree_linear8_avx2, FR__SHAP_AVX2, 8)
FR__SHAP_TREE_FN(tree_linear16_avx2, FR__SHAP_AVX2, 16)
#endif

/* The kernel for nq points: AVX2 + FMA when the CPU has them, unless
 * `generic` (the tests run both). */
static tree_fn pick_tree_fn(int nq, int generic) {
#if defined(FR__SHAP_AVX2)
  if (!generic && fr__cpu_has_avx2())
    return nq == 4 ? tree_linear4_avx2 : nq == 8 ? tree_linear8_avx2 : tree_linear16_avx2;
#endif
  return nq == 4 ? tree_linear4 : nq == 8 ? tree_linear8 : tree_linear16;
}

/* Per-row scratch of the linear algorithm or the direct one's path array:
 * on the stack when small, else on the heap. */
typedef struct scratch {
  _Alignas(32) double stack[FR__SHAP_STACK_DOUBLES];
  uint8_t stack_o[FR__SHAP_STACK_DOUBLES / 16];
  double *buf;
  uint8_t *o;
  void *heap;
} scratch;

static int scratch_init(scratch *s, const fr_forest *f, const fr__shap_cache *c) {
  s->heap = NULL;
  size_t doubles, bytes_o;
  if (c) {
    doubles = c->max_nodes * 4 * (size_t)c->nq;
    bytes_o = c->max_nodes;
  } else {
    size_t d = f->max_depth + 2;
    doubles = d * (d + 1) / 2 * (sizeof(path_elem) / sizeof(double));
    bytes_o = 0;
  }
  if (doubles <= FR__SHAP_STACK_DOUBLES && bytes_o <= sizeof s->stack_o) {
    s->buf = s->stack;
    s->o = s->stack_o;
    return 0;
  }
  size_t bytes = (doubles * sizeof(double) + bytes_o + 32) & ~(size_t)31;
  if (!(s->heap = aligned_alloc(32, bytes)))
    return FR_ENOMEM;
  s->buf = s->heap;
  s->o = (uint8_t *)(s->buf + doubles);
  return 0;
}

/* SHAP of one row for the trees of output `group` (all outputs when group
 * is SIZE_MAX, into phi[g * (nf + 1) ...]); `c` is the linear algorithm's
 * tables or NULL for the direct algorithm. */
static void shap_row(const fr_forest *f, const float *x, size_t group, double *phi,
                     scratch *sc, const fr__shap_cache *c, tree_fn fn) {
  size_t nf = f->nfeatures;
  shap_ctx ctx = {f, x, NULL};
  for (size_t t = 0; t < f->ntrees; t++) {
    size_t g = f->tree_group[t];
    if (group != SIZE_MAX && g != group)
      continue;
    double *ph = phi + (group == SIZE_MAX ? g : 0) * (nf + 1);
    uint32_t root = f->tree_root[t];
    ph[nf] += f->node_mean[root];
    if (f->nodes[root].left == root)
      continue; /* a single leaf explains nothing */
    if (c) {
      size_t hi = t + 1 < f->ntrees ? f->tree_root[t + 1] : f->nnodes;
      fn(f, c, root, hi, x, ph, sc->buf, sc->o);
      continue;
    }
    ctx.phi = ph;
    recurse(&ctx, root, (path_elem *)sc->buf, 0, 1.0, 1.0, -1);
  }
}

static int shap_check(const fr_forest *f) {
  pthread_once(&inv_once, inv_init);
  pthread_once(&gl_once, gl_init);
  if (!f->has_cover)
    return FR_EUNAVAIL;
  if (f->max_depth > FR__SHAP_MAX_DEPTH)
    return FR_ELIMIT;
  return 0;
}

/* fr_forest_shap, with the linear algorithm when `allow_fast` (the tests
 * run both; 2: its kernel compiled for the baseline instruction set). */
int fr__forest_shap(const fr_forest *f, const float *x, size_t n, float *contrib,
                    int allow_fast) {
  if (!f || (!x && n) || (!contrib && n))
    return FR_EINVAL;
  int rc = shap_check(f);
  if (rc)
    return rc;
  const fr__shap_cache *cache = allow_fast ? shap_cache(f) : NULL;
  tree_fn fn = cache ? pick_tree_fn(cache->nq, allow_fast == 2) : NULL;
  size_t nf = f->nfeatures, k = f->noutputs, width = k * (nf + 1);
  scratch sc;
  if (scratch_init(&sc, f, cache))
    return FR_ENOMEM;
  double stack_phi[1024];
  double *phi = stack_phi;
  if (width > sizeof stack_phi / sizeof stack_phi[0] && !(phi = malloc(width * sizeof *phi))) {
    free(sc.heap);
    return FR_ENOMEM;
  }
  for (size_t r = 0; r < n; r++) {
    memset(phi, 0, width * sizeof *phi);
    for (size_t g = 0; g < k; g++)
      phi[g * (nf + 1) + nf] = f->base_margin[g];
    shap_row(f, x + r * nf, SIZE_MAX, phi, &sc, cache, fn);
    float *out = contrib + r * width;
    for (size_t i = 0; i < width; i++)
      out[i] = (float)phi[i];
  }
  free(sc.heap);
  if (phi != stack_phi)
    free(phi);
  return 0;
}

int fr_forest_shap(const fr_forest *f, const float *x, size_t n, float *contrib) {
  return fr__forest_shap(f, x, n, contrib, 1);
}

int fr_forest_shap_prepare(const fr_forest *f, fr_error *err) {
  if (!f)
    return fr_error_set(err, FR_EINVAL, "fr_forest_shap_prepare: NULL forest");
  int rc = shap_check(f);
  if (rc == FR_EUNAVAIL)
    return fr_error_set(err, rc, "the model file has no node covers for TreeSHAP");
  if (rc == 0 && !shap_cache(f))
    rc = FR_ELIMIT;
  if (rc == FR_ELIMIT)
    return fr_error_set(err, rc,
                        "Linear TreeSHAP tables not built (a tree deeper than %d, or per-row "
                        "scratch over %u bytes): the direct algorithm will be used",
                        FR__SHAP_LIN_MAX_DEPTH, FR__SHAP_LIN_MAX_SCRATCH);
  return rc;
}

/* ------------------------------------------------------------------------
 * Reasons
 * ------------------------------------------------------------------------ */

/* Does a rank before b? */
static int before(const fr_reason *a, const fr_reason *b, fr_reason_order order) {
  float ka = order == FR_REASONS_BY_MAGNITUDE ? fabsf(a->contribution) : a->contribution;
  float kb = order == FR_REASONS_BY_MAGNITUDE ? fabsf(b->contribution) : b->contribution;
  if (ka != kb)
    return ka > kb;
  return a->feature < b->feature; /* ties: the lower feature index first */
}

size_t fr_shap_top_k(const float *contrib, const float *x, size_t nfeatures,
                     size_t k, fr_reason_order order, fr_reason *out) {
  if (!contrib || !out || k == 0)
    return 0;
  size_t m = 0;
  for (size_t j = 0; j < nfeatures; j++) {
    float c = contrib[j];
    if (!(order == FR_REASONS_BY_MAGNITUDE ? c != 0 : c > 0))
      continue; /* only features that move the score (toward positive) */
    fr_reason r = {(uint32_t)j, x ? x[j] : NAN, c};
    if (m == k && !before(&r, &out[m - 1], order))
      continue;
    /* insertion into the sorted top-k */
    size_t i = m < k ? m++ : k - 1;
    while (i > 0 && before(&r, &out[i - 1], order)) {
      out[i] = out[i - 1];
      i--;
    }
    out[i] = r;
  }
  return m;
}

int fr_forest_reasons(const fr_forest *f, const float *x, size_t output,
                      size_t k, fr_reason_order order, fr_reason *out,
                      size_t *nout) {
  if (nout)
    *nout = 0;
  if (!f || !x || (!out && k) || output >= f->noutputs)
    return FR_EINVAL;
  int rc = shap_check(f);
  if (rc)
    return rc;
  size_t nf = f->nfeatures;
  double stack_phi[512];
  float stack_c[512];
  double *phi = stack_phi;
  float *c = stack_c;
  int heap_phi = nf + 1 > 512;
  const fr__shap_cache *cache = shap_cache(f);
  scratch sc;
  if (scratch_init(&sc, f, cache))
    return FR_ENOMEM;
  if (heap_phi) {
    phi = malloc((nf + 1) * sizeof *phi);
    c = malloc((nf + 1) * sizeof *c);
    if (!phi || !c) {
      free(phi);
      free(c);
      free(sc.heap);
      return FR_ENOMEM;
    }
  }
  memset(phi, 0, (nf + 1) * sizeof *phi);
  shap_row(f, x, output, phi, &sc, cache, cache ? pick_tree_fn(cache->nq, 0) : NULL);
  for (size_t j = 0; j <= nf; j++)
    c[j] = (float)phi[j];
  size_t got = fr_shap_top_k(c, x, nf, k, order, out);
  if (nout)
    *nout = got;
  if (heap_phi) {
    free(phi);
    free(c);
  }
  free(sc.heap);
  return 0;
}
