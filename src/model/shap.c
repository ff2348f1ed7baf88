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
/* Depth up to which the path array lives on the stack (595 elements,
 * 19 KiB). */
#define FR__SHAP_STACK_DEPTH 32

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
 * Coefficient cache: the same values, O(nodes + leaves x depth) per row.
 *
 * With x fixed, every "one" fraction is 0 or 1, so what a leaf adds to the
 * SHAP values depends only on which of the distinct features on its path x
 * satisfies (the subset S: x follows the path at every split on that
 * feature), given the leaf's value and "zero" fractions, which the model
 * fixes.  So the coefficients of all 2^m subsets of a leaf with m distinct
 * path features are computed once, with the EXTEND / UNWIND routines above,
 * and a row then only finds S for each leaf (one depth-first walk of the
 * tree) and adds m stored numbers.  This is the precomputation of "Fast
 * TreeSHAP v2" (J. Yang, 2021, arXiv:2109.09847), written here from that
 * idea.  The cache costs sum over leaves of 2^m * m floats, so it is only
 * built when that stays under FR__SHAP_CACHE_FLOATS and every tree is at
 * most FR__SHAP_CACHE_DEPTH deep; otherwise the direct algorithm runs.
 * ------------------------------------------------------------------------ */

#define FR__SHAP_CACHE_FLOATS (16u << 20) /* 64 MiB */
#define FR__SHAP_CACHE_DEPTH 64
#define FR__SHAP_CACHE_SLOTS 16

typedef struct fr__shap_cache {
  uint32_t *leaf_id;   /* nnodes: dense id of each leaf node */
  uint8_t *node_slot;  /* nnodes: slot of an internal node's feature on its path */
  uint8_t *leaf_m;     /* per leaf: distinct features on its path */
  uint32_t *leaf_foff; /* per leaf: first of its m features in feat */
  uint64_t *leaf_coff; /* per leaf: first of its 2^m * m coefficients */
  uint32_t *feat;
  float *coef;         /* leaf value x (o - z) x permutation weight */
} fr__shap_cache;

void fr__shap_cache_free(fr__shap_cache *c) {
  if (!c)
    return;
  free(c->leaf_id);
  free(c->node_slot);
  free(c->leaf_m);
  free(c->leaf_foff);
  free(c->leaf_coff);
  free(c->feat);
  free(c->coef);
  free(c);
}

typedef struct build_ctx {
  const fr_forest *f;
  fr__shap_cache *c;
  int fill;            /* 0: count only, 1: fill */
  int too_big;
  uint64_t nleaves, nfeat, ncoef;
  uint32_t slot_feat[FR__SHAP_CACHE_SLOTS];
  double slot_zero[FR__SHAP_CACHE_SLOTS];
  path_elem path[FR__SHAP_CACHE_SLOTS + 2];
} build_ctx;

static void leaf_coefficients(build_ctx *b, int m, double v, float *out) {
  path_elem *p = b->path;
  for (uint32_t S = 0; S < (1u << m); S++) {
    extend(p, 0, 1.0, 1.0, -1);
    for (int u = 0; u < m; u++)
      extend(p, u + 1, b->slot_zero[u], (double)((S >> u) & 1u), u);
    for (int u = 0; u < m; u++) {
      double w = unwound_sum(p, m + 1, u + 1);
      out[(size_t)S * m + u] = (float)(w * ((double)((S >> u) & 1u) - b->slot_zero[u]) * v);
    }
  }
}

static void build_rec(build_ctx *b, uint32_t node, int m, int depth) {
  if (b->too_big)
    return;
  const fr_forest *f = b->f;
  const fr__node *n = &f->nodes[node];
  if (n->left == node) {
    if (!b->fill) {
      b->nleaves++;
      b->nfeat += (uint64_t)m;
      b->ncoef += ((uint64_t)1 << m) * (uint64_t)m;
      if (b->ncoef > FR__SHAP_CACHE_FLOATS)
        b->too_big = 1;
      return;
    }
    fr__shap_cache *c = b->c;
    uint64_t id = b->nleaves++;
    c->leaf_id[node] = (uint32_t)id;
    c->leaf_m[id] = (uint8_t)m;
    c->leaf_foff[id] = (uint32_t)b->nfeat;
    c->leaf_coff[id] = b->ncoef;
    memcpy(c->feat + b->nfeat, b->slot_feat, (size_t)m * sizeof(uint32_t));
    leaf_coefficients(b, m, n->u.value, c->coef + b->ncoef);
    b->nfeat += (uint64_t)m;
    b->ncoef += ((uint64_t)1 << m) * (uint64_t)m;
    return;
  }
  if (depth >= FR__SHAP_CACHE_DEPTH) {
    b->too_big = 1;
    return;
  }
  uint32_t feat = n->feat & FR__NODE_FEAT_MASK;
  int slot = 0;
  while (slot < m && b->slot_feat[slot] != feat)
    slot++;
  if (slot == m && m == FR__SHAP_CACHE_SLOTS) {
    b->too_big = 1;
    return;
  }
  if (b->fill)
    b->c->node_slot[node] = (uint8_t)slot;
  double cj = f->cover[node];
  for (uint32_t child = n->left; child <= n->left + 1; child++) {
    double ratio = cj > 0 ? f->cover[child] / cj : 0;
    if (slot == m) {
      b->slot_feat[m] = feat;
      b->slot_zero[m] = ratio;
      build_rec(b, child, m + 1, depth + 1);
    } else {
      double old = b->slot_zero[slot];
      b->slot_zero[slot] = old * ratio;
      build_rec(b, child, m, depth + 1);
      b->slot_zero[slot] = old;
    }
  }
}

static fr__shap_cache *cache_build(const fr_forest *f) {
  build_ctx b;
  memset(&b, 0, sizeof b);
  b.f = f;
  for (size_t t = 0; t < f->ntrees && !b.too_big; t++)
    build_rec(&b, f->tree_root[t], 0, 0);
  if (b.too_big)
    return NULL;
  fr__shap_cache *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  size_t nn = f->nnodes ? f->nnodes : 1;
  c->leaf_id = calloc(nn, sizeof *c->leaf_id);
  c->node_slot = calloc(nn, 1);
  c->leaf_m = malloc((b.nleaves ? b.nleaves : 1) * sizeof *c->leaf_m);
  c->leaf_foff = malloc((b.nleaves ? b.nleaves : 1) * sizeof *c->leaf_foff);
  c->leaf_coff = malloc((b.nleaves ? b.nleaves : 1) * sizeof *c->leaf_coff);
  c->feat = malloc((b.nfeat ? b.nfeat : 1) * sizeof *c->feat);
  c->coef = malloc((b.ncoef ? b.ncoef : 1) * sizeof *c->coef);
  if (!c->leaf_id || !c->node_slot || !c->leaf_m || !c->leaf_foff || !c->leaf_coff || !c->feat ||
      !c->coef) {
    fr__shap_cache_free(c);
    return NULL;
  }
  b.c = c;
  b.fill = 1;
  b.nleaves = b.nfeat = b.ncoef = 0;
  for (size_t t = 0; t < f->ntrees; t++)
    build_rec(&b, f->tree_root[t], 0, 0);
  return c;
}

/* The cache, built on first use; NULL when it cannot be (too large, out of
 * memory): the direct algorithm then runs. */
static const fr__shap_cache *shap_cache(const fr_forest *f) {
  int st = __atomic_load_n(&f->shap_state, __ATOMIC_ACQUIRE);
  if (st)
    return st > 0 ? f->shap : NULL;
  fr_forest *mf = (fr_forest *)f; /* the cache is logically part of the const forest */
  pthread_mutex_lock(&mf->shap_lock);
  if (!mf->shap_state) {
    mf->shap = cache_build(f);
    __atomic_store_n(&mf->shap_state, mf->shap ? 1 : -1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&mf->shap_lock);
  return mf->shap_state > 0 ? mf->shap : NULL;
}

/* Leaves found by the walks, waiting to be added: their coefficient rows
 * are prefetched as they are found and added in batches, so that for a
 * cache too large for the CPU caches the memory accesses overlap instead of
 * being paid one after another. */
#define FR__SHAP_PENDING 256
typedef struct pending {
  const float *row[FR__SHAP_PENDING];
  const uint32_t *feat[FR__SHAP_PENDING];
  double *ph[FR__SHAP_PENDING];
  unsigned m[FR__SHAP_PENDING];
  int n;
} pending;

static void pending_flush(pending *p) {
  for (int i = 0; i < p->n; i++) {
    const float *row = p->row[i];
    const uint32_t *fe = p->feat[i];
    double *ph = p->ph[i];
    for (unsigned u = 0; u < p->m[i]; u++)
      ph[fe[u]] += row[u];
  }
  p->n = 0;
}

/* One tree with the cache: a depth-first walk carrying the satisfied-slot
 * mask; each leaf queues its m coefficients for that mask. */
static void tree_cached(const fr_forest *f, const fr__shap_cache *c, uint32_t root,
                        const float *x, double *ph, pending *p) {
  uint32_t stack_node[FR__SHAP_CACHE_DEPTH + 2];
  uint32_t stack_mask[FR__SHAP_CACHE_DEPTH + 2];
  int sp = 0;
  stack_node[sp] = root;
  stack_mask[sp++] = ~0u;
  while (sp) {
    sp--;
    uint32_t node = stack_node[sp], S = stack_mask[sp];
    const fr__node *n = &f->nodes[node];
    if (n->left == node) {
      uint32_t id = c->leaf_id[node];
      unsigned m = c->leaf_m[id];
      const float *row = c->coef + c->leaf_coff[id] + (size_t)(S & ((1u << m) - 1u)) * m;
      __builtin_prefetch(row);
      if (p->n == FR__SHAP_PENDING)
        pending_flush(p);
      p->row[p->n] = row;
      p->feat[p->n] = c->feat + c->leaf_foff[id];
      p->ph[p->n] = ph;
      p->m[p->n++] = m;
      continue;
    }
    uint32_t right = fr__step(f, n, x) - n->left;
    uint32_t bit = 1u << c->node_slot[node];
    stack_node[sp] = n->left;
    stack_mask[sp++] = right ? S & ~bit : S;
    stack_node[sp] = n->left + 1;
    stack_mask[sp++] = right ? S : S & ~bit;
  }
}

/* SHAP of one row for the trees of output `group` (all outputs when group
 * is SIZE_MAX, into phi[g * (nf + 1) ...]); `c` is the coefficient cache or
 * NULL for the direct algorithm. */
static void shap_row(const fr_forest *f, const float *x, size_t group,
                     double *phi, path_elem *paths, const fr__shap_cache *c) {
  size_t nf = f->nfeatures;
  shap_ctx ctx = {f, x, NULL};
  pending pend;
  pend.n = 0;
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
      tree_cached(f, c, root, x, ph, &pend);
      continue;
    }
    ctx.phi = ph;
    recurse(&ctx, root, paths, 0, 1.0, 1.0, -1);
  }
  pending_flush(&pend);
}

static int shap_check(const fr_forest *f) {
  pthread_once(&inv_once, inv_init);
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

/* fr_forest_shap, with the coefficient cache when `allow_cache` (the
 * tests run both). */
int fr__forest_shap(const fr_forest *f, const float *x, size_t n, float *contrib,
                    int allow_cache) {
  if (!f || (!x && n) || (!contrib && n))
    return FR_EINVAL;
  int rc = shap_check(f);
  if (rc)
    return rc;
  const fr__shap_cache *cache = allow_cache ? shap_cache(f) : NULL;
  size_t nf = f->nfeatures, k = f->noutputs, width = k * (nf + 1);
  path_elem stack_paths[(FR__SHAP_STACK_DEPTH + 2) * (FR__SHAP_STACK_DEPTH + 3) / 2];
  double stack_phi[1024];
  path_elem *paths = stack_paths;
  double *phi = stack_phi;
  if (!cache && f->max_depth > FR__SHAP_STACK_DEPTH &&
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
    shap_row(f, x + r * nf, SIZE_MAX, phi, paths, cache);
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
                        "TreeSHAP coefficient cache not built (more than %u floats, a tree deeper "
                        "than %d or more than %d distinct features on a path): the direct "
                        "algorithm will be used",
                        FR__SHAP_CACHE_FLOATS, FR__SHAP_CACHE_DEPTH, FR__SHAP_CACHE_SLOTS);
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
  path_elem stack_paths[(FR__SHAP_STACK_DEPTH + 2) * (FR__SHAP_STACK_DEPTH + 3) / 2];
  double stack_phi[512];
  float stack_c[512];
  path_elem *paths = stack_paths;
  double *phi = stack_phi;
  float *c = stack_c;
  int heap_phi = nf + 1 > 512;
  const fr__shap_cache *cache = shap_cache(f);
  if (!cache && f->max_depth > FR__SHAP_STACK_DEPTH &&
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
  shap_row(f, x, output, phi, paths, cache);
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
