/*
 * shap.c - exact path-dependent TreeSHAP and top-k reasons.
 *
 * Algorithm 2 of S. M. Lundberg, G. G. Erion, S.-I. Lee, "Consistent
 * Individualized Feature Attribution for Tree Ensembles" (2018,
 * arXiv:1802.03888): SHAP values of one tree in O(L D^2) for L leaves and
 * depth D, where the "expected value" of a subtree is taken under the
 * training distribution recorded in the node covers (XGBoost's sum_hessian,
 * LightGBM's counts, ONNX hitrates).  The contributions of a row plus the
 * bias (the base margin plus every tree's cover-weighted mean leaf value)
 * sum to the row's margin; that identity, and equality with XGBoost's
 * pred_contribs, are what tests/model/test_shap.c checks.
 *
 * The recursion keeps, for the path from the root to the current node, one
 * element per distinct feature split on so far: the fraction of "zero"
 * paths (feature unknown: follow the covers) and "one" paths (feature known:
 * follow x) that flow through, and the permutation weights of subsets of
 * each size (EXTEND adds a feature, UNWIND removes one).  Each level of the
 * recursion copies the path into its own slice of one triangular array of
 * (D+1)(D+2)/2 elements, so the whole computation uses that array and the
 * stack, nothing else.  Arithmetic is in double (XGBoost uses float; the
 * two agree far inside the 1e-5 tolerance).
 */
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
/* Depth up to which the path array lives on the stack (595 elements,
 * 19 KiB). */
#define FR__SHAP_STACK_DEPTH 32

static void extend(path_elem *m, int len, double pz, double po, int32_t pi) {
  m[len].feature = pi;
  m[len].zero = pz;
  m[len].one = po;
  m[len].w = len == 0 ? 1.0 : 0.0;
  for (int i = len - 1; i >= 0; i--) {
    m[i + 1].w += po * m[i].w * (double)(i + 1) / (double)(len + 1);
    m[i].w = pz * m[i].w * (double)(len - i) / (double)(len + 1);
  }
}

/* Removes element i of a path of len elements (undoes its EXTEND). */
static void unwind(path_elem *m, int len, int i) {
  int ud = len - 1;
  double one = m[i].one, zero = m[i].zero, next = m[ud].w;
  for (int j = ud - 1; j >= 0; j--) {
    if (one != 0) {
      double t = m[j].w;
      m[j].w = next * (double)(ud + 1) / ((double)(j + 1) * one);
      next = t - m[j].w * zero * (double)(ud - j) / (double)(ud + 1);
    } else if (zero != 0) {
      m[j].w = m[j].w * (double)(ud + 1) / (zero * (double)(ud - j));
    }
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
  if (one != 0) {
    for (int j = ud - 1; j >= 0; j--) {
      double t = next * (double)(ud + 1) / ((double)(j + 1) * one);
      total += t;
      next = m[j].w - t * zero * (double)(ud - j) / (double)(ud + 1);
    }
  } else if (zero != 0) {
    for (int j = ud - 1; j >= 0; j--)
      total += m[j].w * (double)(ud + 1) / (zero * (double)(ud - j));
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

/* SHAP of one row for the trees of output `group` (all outputs when group
 * is SIZE_MAX, into phi[g * (nf + 1) ...]). */
static void shap_row(const fr_forest *f, const float *x, size_t group,
                     double *phi, path_elem *paths) {
  size_t nf = f->nfeatures;
  shap_ctx c = {f, x, NULL};
  for (size_t t = 0; t < f->ntrees; t++) {
    size_t g = f->tree_group[t];
    if (group != SIZE_MAX && g != group)
      continue;
    double *ph = phi + (group == SIZE_MAX ? g : 0) * (nf + 1);
    uint32_t root = f->tree_root[t];
    ph[nf] += f->node_mean[root];
    if (f->nodes[root].left == root)
      continue; /* a single leaf explains nothing */
    c.phi = ph;
    recurse(&c, root, paths, 0, 1.0, 1.0, -1);
  }
}

static int shap_check(const fr_forest *f) {
  if (!f->has_cover)
    return FR_EUNAVAIL;
  if (f->max_depth > FR__SHAP_MAX_DEPTH)
    return FR_ELIMIT;
  return 0;
}

static size_t path_elems(const fr_forest *f) {
  size_t d = f->max_depth + 2;
  return d * (d + 1) / 2;
}

int fr_forest_shap(const fr_forest *f, const float *x, size_t n,
                   float *contrib) {
  if (!f || (!x && n) || (!contrib && n))
    return FR_EINVAL;
  int rc = shap_check(f);
  if (rc)
    return rc;
  size_t nf = f->nfeatures, k = f->noutputs, width = k * (nf + 1);
  path_elem stack_paths[(FR__SHAP_STACK_DEPTH + 2) * (FR__SHAP_STACK_DEPTH + 3) / 2];
  double stack_phi[1024];
  path_elem *paths = stack_paths;
  double *phi = stack_phi;
  if (f->max_depth > FR__SHAP_STACK_DEPTH &&
      !(paths = malloc(path_elems(f) * sizeof *paths)))
    return FR_ENOMEM;
  if (width > sizeof stack_phi / sizeof stack_phi[0] &&
      !(phi = malloc(width * sizeof *phi))) {
    if (paths != stack_paths)
      free(paths);
    return FR_ENOMEM;
  }
  for (size_t r = 0; r < n; r++) {
    memset(phi, 0, width * sizeof *phi);
    for (size_t g = 0; g < k; g++)
      phi[g * (nf + 1) + nf] = f->base_margin[g];
    shap_row(f, x + r * nf, SIZE_MAX, phi, paths);
    float *out = contrib + r * width;
    for (size_t i = 0; i < width; i++)
      out[i] = (float)phi[i];
  }
  if (paths != stack_paths)
    free(paths);
  if (phi != stack_phi)
    free(phi);
  return 0;
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
  path_elem stack_paths[(FR__SHAP_STACK_DEPTH + 2) * (FR__SHAP_STACK_DEPTH + 3) / 2];
  double stack_phi[512];
  float stack_c[512];
  path_elem *paths = stack_paths;
  double *phi = stack_phi;
  float *c = stack_c;
  int heap_phi = nf + 1 > 512;
  if (f->max_depth > FR__SHAP_STACK_DEPTH &&
      !(paths = malloc(path_elems(f) * sizeof *paths)))
    return FR_ENOMEM;
  if (heap_phi) {
    phi = malloc((nf + 1) * sizeof *phi);
    c = malloc((nf + 1) * sizeof *c);
    if (!phi || !c) {
      free(phi);
      free(c);
      if (paths != stack_paths)
        free(paths);
      return FR_ENOMEM;
    }
  }
  memset(phi, 0, (nf + 1) * sizeof *phi);
  shap_row(f, x, output, phi, paths);
  for (size_t j = 0; j <= nf; j++)
    c[j] = (float)phi[j];
  size_t got = fr_shap_top_k(c, x, nf, k, order, out);
  if (nout)
    *nout = got;
  if (heap_phi) {
    free(phi);
    free(c);
  }
  if (paths != stack_paths)
    free(paths);
  return 0;
}
