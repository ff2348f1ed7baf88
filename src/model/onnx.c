/*
 * onnx.c - loads an ONNX model holding an ai.onnx.ml TreeEnsembleClassifier
 * or TreeEnsembleRegressor into the forest builder.
 *
 * Operator semantics: the ONNX operator documentation of
 * TreeEnsembleClassifier / TreeEnsembleRegressor (ai.onnx.ml opset 1-3,
 * https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsembleClassifier.html).
 * Nodes are tuples of the nodes_* attributes, identified by (treeid,
 * nodeid); each internal node compares the feature with nodes_values (or the
 * double nodes_values_as_tensor) and goes to nodes_truenodeids when the
 * comparison holds, else nodes_falsenodeids:
 *
 *   BRANCH_LEQ x <= v      BRANCH_LT x < v      BRANCH_EQ  x == v
 *   BRANCH_GTE x >= v      BRANCH_GT x > v      BRANCH_NEQ x != v
 *
 * A NaN takes the true branch when nodes_missing_value_tracks_true is 1;
 * otherwise it goes where the comparison sends it (every comparison with
 * NaN is false, except !=).  Each becomes the canonical "left iff x < thr"
 * (forest_internal.h) exactly for float32 inputs: LEQ/GT through the
 * smallest float above v, LT/GTE through the smallest float >= v, with the
 * true branch put on the left (LEQ, LT) or on the right (GTE, GT); EQ/NEQ
 * are special nodes.  Leaves carry weights (class_* or target_*
 * attributes) for one or more outputs; a tree whose leaves feed several
 * outputs is split into one tree per output (same structure, that output's
 * weights).  The score of an output is base_values[output] plus the sum of
 * its weights; post_transform maps it: LOGISTIC (applied once, by our
 * transform), SOFTMAX, NONE.  A classifier with two class labels whose
 * weights all go to class id 0 has one score, that of the second label
 * (the convention of onnxmltools' XGBoost and LightGBM converters and of
 * onnxruntime's "binary case").  nodes_hitrates, when present, are the
 * covers for TreeSHAP.
 *
 * Only the tree ensemble is read: it must take a graph input directly
 * (preprocessing nodes in front of it would change the features); nodes
 * after it (ZipMap, Cast, Identity) do not change the probabilities.
 */
#include <stdlib.h>
#include <string.h>

#include "model/forest_internal.h"
#include "onnx.pb-c.h"

typedef struct ctx {
  const char *origin;
  fr_error *err;
} ctx;

static int fail(ctx *c, int code, const char *fmt, ...) FR_PRINTF(3, 4);
static int fail(ctx *c, int code, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return fr_error_set(c->err, code, "%s: %s", c->origin, msg);
}

/* ---- attributes --------------------------------------------------------- */

typedef struct ens_attrs {
  const Onnx__AttributeProto *treeids, *nodeids, *featureids, *modes, *values, *values_t, *truen,
      *falsen, *missing, *hitrates, *hitrates_t;
  const Onnx__AttributeProto *w_treeids, *w_nodeids, *w_ids, *w_weights, *w_weights_t;
  const Onnx__AttributeProto *base, *base_t, *post, *labels_i, *labels_s, *n_targets, *aggregate;
} ens_attrs;

static void collect(const Onnx__NodeProto *n, int classifier, ens_attrs *a) {
  memset(a, 0, sizeof *a);
  const char *w = classifier ? "class_" : "target_";
  size_t wl = strlen(w);
  for (size_t i = 0; i < n->n_attribute; i++) {
    const Onnx__AttributeProto *p = n->attribute[i];
    const char *nm = p->name ? p->name : "";
    struct {
      const char *name;
      const Onnx__AttributeProto **slot;
    } map[] = {{"nodes_treeids", &a->treeids},
               {"nodes_nodeids", &a->nodeids},
               {"nodes_featureids", &a->featureids},
               {"nodes_modes", &a->modes},
               {"nodes_values", &a->values},
               {"nodes_values_as_tensor", &a->values_t},
               {"nodes_truenodeids", &a->truen},
               {"nodes_falsenodeids", &a->falsen},
               {"nodes_missing_value_tracks_true", &a->missing},
               {"nodes_hitrates", &a->hitrates},
               {"nodes_hitrates_as_tensor", &a->hitrates_t},
               {"base_values", &a->base},
               {"base_values_as_tensor", &a->base_t},
               {"post_transform", &a->post},
               {"classlabels_int64s", &a->labels_i},
               {"classlabels_strings", &a->labels_s},
               {"n_targets", &a->n_targets},
               {"aggregate_function", &a->aggregate}};
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
      if (strcmp(nm, map[k].name) == 0)
        *map[k].slot = p;
    if (strncmp(nm, w, wl) == 0) {
      const char *rest = nm + wl;
      if (strcmp(rest, "treeids") == 0)
        a->w_treeids = p;
      else if (strcmp(rest, "nodeids") == 0)
        a->w_nodeids = p;
      else if (strcmp(rest, "ids") == 0)
        a->w_ids = p;
      else if (strcmp(rest, "weights") == 0)
        a->w_weights = p;
      else if (strcmp(rest, "weights_as_tensor") == 0)
        a->w_weights_t = p;
    }
  }
}

/* Numbers of a FLOATS attribute or of its *_as_tensor twin (DOUBLE or
 * FLOAT tensor, typed fields or little-endian raw_data) as doubles.
 * *out is NULL when neither is present. */
static int attr_doubles(ctx *c, const Onnx__AttributeProto *fl, const Onnx__AttributeProto *tn,
                        const char *name, double **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (tn && tn->t) {
    const Onnx__TensorProto *t = tn->t;
    size_t k = 0;
    int dbl = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    if (!dbl && t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
      return fail(c, FR_EFORMAT, "%s_as_tensor: expected a double or float tensor", name);
    if (t->has_raw_data && t->raw_data.len)
      k = t->raw_data.len / (dbl ? 8 : 4);
    else
      k = dbl ? t->n_double_data : t->n_float_data;
    double *v = malloc((k ? k : 1) * sizeof *v);
    if (!v)
      return fail(c, FR_ENOMEM, "out of memory");
    for (size_t i = 0; i < k; i++) {
      if (t->has_raw_data && t->raw_data.len) {
        const uint8_t *p = t->raw_data.data + i * (dbl ? 8 : 4);
        uint64_t bits = 0;
        for (int b = (dbl ? 7 : 3); b >= 0; b--)
          bits = (bits << 8) | p[b];
        if (dbl) {
          memcpy(&v[i], &bits, 8);
        } else {
          uint32_t b32 = (uint32_t)bits;
          float fv;
          memcpy(&fv, &b32, 4);
          v[i] = fv;
        }
      } else {
        v[i] = dbl ? t->double_data[i] : t->float_data[i];
      }
    }
    *out = v;
    *n = k;
    return 0;
  }
  if (fl) {
    double *v = malloc((fl->n_floats ? fl->n_floats : 1) * sizeof *v);
    if (!v)
      return fail(c, FR_ENOMEM, "out of memory");
    for (size_t i = 0; i < fl->n_floats; i++)
      v[i] = fl->floats[i];
    *out = v;
    *n = fl->n_floats;
  }
  return 0;
}

static int attr_string_eq(const Onnx__AttributeProto *a, const char *s) {
  size_t n = strlen(s);
  return a && a->has_s && a->s.len == n && memcmp(a->s.data, s, n) == 0;
}

/* ---- node modes ----------------------------------------------------------- */

enum { M_LEAF, M_LEQ, M_LT, M_GTE, M_GT, M_EQ, M_NEQ };

static int mode_of(const ProtobufCBinaryData *s) {
  static const struct {
    const char *name;
    int mode;
  } modes[] = {{"LEAF", M_LEAF}, {"BRANCH_LEQ", M_LEQ}, {"BRANCH_LT", M_LT},
               {"BRANCH_GTE", M_GTE}, {"BRANCH_GT", M_GT}, {"BRANCH_EQ", M_EQ},
               {"BRANCH_NEQ", M_NEQ}};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    size_t n = strlen(modes[i].name);
    if (s->len == n && memcmp(s->data, modes[i].name, n) == 0)
      return modes[i].mode;
  }
  return -1;
}

/* Smallest float >= t (so that for float x: x < t <=> x < result). */
static float thr_lt(double t) {
  float f = (float)t;
  if ((double)f < t)
    f = nextafterf(f, INFINITY);
  return f;
}

/* ---- (treeid, nodeid) index ------------------------------------------------ */

typedef struct key {
  int64_t tree, node;
  size_t idx; /* into the attribute arrays */
} key;

static int key_cmp(const void *a, const void *b) {
  const key *x = a, *y = b;
  if (x->tree != y->tree)
    return x->tree < y->tree ? -1 : 1;
  if (x->node != y->node)
    return x->node < y->node ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Position of (tree, node) in keys[lo, hi), or -1. */
static int64_t key_find(const key *keys, size_t lo, size_t hi, int64_t tree, int64_t node) {
  size_t end = hi;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const key *k = &keys[mid];
    if (k->tree < tree || (k->tree == tree && k->node < node))
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < end && keys[lo].tree == tree && keys[lo].node == node)
    return (int64_t)lo;
  return -1;
}

typedef struct tree_span {
  size_t lo, hi;    /* in the sorted keys */
  size_t first_idx; /* first appearance in the attribute order */
} tree_span;

static int span_cmp(const void *a, const void *b) {
  const tree_span *x = a, *y = b;
  return x->first_idx < y->first_idx ? -1 : x->first_idx > y->first_idx;
}

/* ---- loading ---------------------------------------------------------------- */

static fr_forest *load_ensemble(ctx *c, const Onnx__NodeProto *node, int classifier,
                                size_t nfeat_hint) {
  ens_attrs a;
  collect(node, classifier, &a);
  fr__builder b;
  fr__builder_init(&b, c->origin);
  b.format = FR_FOREST_ONNX;
  fr_forest *f = NULL;
  double *values = NULL, *hit = NULL, *weights = NULL, *base = NULL;
  size_t nvalues = 0, nhit = 0, nweights = 0, nbase = 0;
  key *keys = NULL, *wkeys = NULL;
  tree_span *trees = NULL;
  int64_t *ids = NULL;
  uint8_t *referenced = NULL;
  double *acc = NULL;

  if (!a.treeids || !a.nodeids || !a.featureids || !a.modes || !a.truen || !a.falsen ||
      (!a.values && !a.values_t)) {
    fail(c, FR_EFORMAT, "%s: missing nodes_* attributes", node->op_type);
    goto out;
  }
  size_t n = a.treeids->n_ints;
  if (n == 0) {
    fail(c, FR_EFORMAT, "%s: no nodes", node->op_type);
    goto out;
  }
  if (attr_doubles(c, a.values, a.values_t, "nodes_values", &values, &nvalues) ||
      attr_doubles(c, a.hitrates, a.hitrates_t, "nodes_hitrates", &hit, &nhit) ||
      attr_doubles(c, a.w_weights, a.w_weights_t, classifier ? "class_weights" : "target_weights",
                   &weights, &nweights) ||
      attr_doubles(c, a.base, a.base_t, "base_values", &base, &nbase))
    goto out;
  if (a.nodeids->n_ints != n || a.featureids->n_ints != n || a.modes->n_strings != n ||
      a.truen->n_ints != n || a.falsen->n_ints != n || nvalues != n ||
      (a.missing && a.missing->n_ints && a.missing->n_ints != n) || (hit && nhit != n)) {
    fail(c, FR_EFORMAT, "%s: the nodes_* attributes differ in length (%zu tree ids)",
         node->op_type, n);
    goto out;
  }
  const char *wn = classifier ? "class" : "target";
  if (!a.w_treeids || !a.w_nodeids || !a.w_ids || !weights) {
    fail(c, FR_EFORMAT, "%s: missing %s_* attributes", node->op_type, wn);
    goto out;
  }
  size_t nw = a.w_treeids->n_ints;
  if (a.w_nodeids->n_ints != nw || a.w_ids->n_ints != nw || nweights != nw) {
    fail(c, FR_EFORMAT, "%s: the %s_* attributes differ in length", node->op_type, wn);
    goto out;
  }

  /* Outputs and objective. */
  int64_t max_id = -1;
  for (size_t i = 0; i < nw; i++) {
    if (a.w_ids->ints[i] < 0 || a.w_ids->ints[i] > 100000) {
      fail(c, FR_EFORMAT, "%s_ids[%zu] = %lld out of range", wn, i, (long long)a.w_ids->ints[i]);
      goto out;
    }
    if (a.w_ids->ints[i] > max_id)
      max_id = a.w_ids->ints[i];
  }
  size_t nout;
  int single_binary = 0;
  if (classifier) {
    size_t ncls = a.labels_i ? a.labels_i->n_ints : a.labels_s ? a.labels_s->n_strings : 0;
    if (ncls == 0) {
      fail(c, FR_EFORMAT, "TreeEnsembleClassifier: no classlabels_int64s or classlabels_strings");
      goto out;
    }
    if ((size_t)(max_id + 1) > ncls) {
      fail(c, FR_EFORMAT, "class_ids up to %lld but %zu class labels", (long long)max_id, ncls);
      goto out;
    }
    single_binary = ncls == 2 && max_id <= 0;
    nout = single_binary ? 1 : ncls;
  } else {
    int64_t nt = a.n_targets && a.n_targets->has_i ? a.n_targets->i : max_id + 1;
    if (nt < 1 || nt > 100000 || max_id + 1 > nt) {
      fail(c, FR_EFORMAT, "n_targets %lld does not cover target_ids up to %lld", (long long)nt,
           (long long)max_id);
      goto out;
    }
    nout = (size_t)nt;
    if (a.aggregate && !attr_string_eq(a.aggregate, "SUM") &&
        !attr_string_eq(a.aggregate, "AVERAGE")) {
      fail(c, FR_EFORMAT, "aggregate_function %.*s is not supported (SUM or AVERAGE)",
           (int)(a.aggregate->s.len > 20 ? 20 : a.aggregate->s.len), a.aggregate->s.data);
      goto out;
    }
  }
  if (fr__builder_set_outputs(&b, nout, c->err))
    goto out;
  const char *post = "NONE";
  if (a.post && a.post->has_s) {
    static const char *const posts[] = {"NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"};
    post = NULL;
    for (size_t i = 0; i < 5; i++)
      if (attr_string_eq(a.post, posts[i]))
        post = posts[i];
    if (!post) {
      fail(c, FR_EFORMAT, "unknown post_transform");
      goto out;
    }
  }
  if (strcmp(post, "LOGISTIC") == 0)
    b.objective = classifier ? FR_OBJ_BINARY_LOGISTIC : FR_OBJ_REG_LOGISTIC;
  else if (strcmp(post, "SOFTMAX") == 0 && nout >= 2)
    b.objective = FR_OBJ_MULTI_SOFTPROB;
  else if (strcmp(post, "NONE") == 0)
    b.objective = single_binary ? FR_OBJ_BINARY_LOGITRAW : FR_OBJ_REG_SQUAREDERROR;
  else {
    fail(c, FR_EFORMAT, "post_transform %s is not supported with %zu outputs", post, nout);
    goto out;
  }
  if (nbase == 1 && nout == 1)
    b.base_margin[0] = (float)base[0];
  else if (nbase == nout)
    for (size_t g = 0; g < nout; g++)
      b.base_margin[g] = (float)base[g];
  else if (nbase != 0) {
    fail(c, FR_EFORMAT, "base_values has %zu entries for %zu outputs", nbase, nout);
    goto out;
  }

  /* Features: the input's last dimension when known, else the largest
   * feature id + 1. */
  int64_t max_feat = -1;
  for (size_t i = 0; i < n; i++)
    if (a.featureids->ints[i] > max_feat)
      max_feat = a.featureids->ints[i];
  b.nfeatures = nfeat_hint ? nfeat_hint : (size_t)(max_feat + 1);
  if (b.nfeatures == 0)
    b.nfeatures = 1;

  /* Index the nodes by (tree, node) and the weights likewise. */
  keys = malloc(n * sizeof *keys);
  wkeys = malloc((nw ? nw : 1) * sizeof *wkeys);
  referenced = calloc(n, 1);
  if (!keys || !wkeys || !referenced) {
    fail(c, FR_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    keys[i] = (key){a.treeids->ints[i], a.nodeids->ints[i], i};
  qsort(keys, n, sizeof *keys, key_cmp);
  for (size_t i = 1; i < n; i++)
    if (keys[i].tree == keys[i - 1].tree && keys[i].node == keys[i - 1].node) {
      fail(c, FR_EFORMAT, "tree %lld: node id %lld appears twice", (long long)keys[i].tree,
           (long long)keys[i].node);
      goto out;
    }
  for (size_t i = 0; i < nw; i++)
    wkeys[i] = (key){a.w_treeids->ints[i], a.w_nodeids->ints[i], i};
  qsort(wkeys, nw, sizeof *wkeys, key_cmp);

  /* Trees in order of first appearance. */
  size_t ntrees = 0;
  trees = malloc(n * sizeof *trees);
  if (!trees) {
    fail(c, FR_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n;) {
    size_t j = i, first = keys[i].idx;
    while (j < n && keys[j].tree == keys[i].tree) {
      if (keys[j].idx < first)
        first = keys[j].idx;
      j++;
    }
    trees[ntrees++] = (tree_span){i, j, first};
    i = j;
  }
  qsort(trees, ntrees, sizeof *trees, span_cmp);
  double leaf_scale = 1.0;
  if (!classifier && attr_string_eq(a.aggregate, "AVERAGE"))
    leaf_scale = 1.0 / (double)ntrees;

  ids = malloc((nout + 1) * sizeof *ids);
  acc = malloc(n * sizeof *acc);
  if (!ids || !acc) {
    fail(c, FR_ENOMEM, "out of memory");
    goto out;
  }
  b.has_cover = hit != NULL;
  for (size_t ti = 0; ti < ntrees; ti++) {
    size_t lo = trees[ti].lo, hi = trees[ti].hi, len = hi - lo;
    int64_t tid = keys[lo].tree;
    /* Which outputs this tree feeds, and that every weight sits on a leaf
     * of it. */
    size_t wlo = 0;
    while (wlo < nw && wkeys[wlo].tree < tid)
      wlo++;
    size_t whi = wlo;
    while (whi < nw && wkeys[whi].tree == tid)
      whi++;
    size_t nids = 0;
    for (size_t w = wlo; w < whi; w++) {
      int64_t pos = key_find(keys, lo, hi, tid, wkeys[w].node);
      if (pos < 0 || mode_of(&a.modes->strings[keys[pos].idx]) != M_LEAF) {
        fail(c, FR_EFORMAT, "tree %lld: %s weight %zu is on node %lld, which is not a leaf",
             (long long)tid, wn, wkeys[w].idx, (long long)wkeys[w].node);
        goto out;
      }
      int64_t id = a.w_ids->ints[wkeys[w].idx];
      if (single_binary)
        id = 0;
      size_t k = 0;
      while (k < nids && ids[k] != id)
        k++;
      if (k == nids) /* ids < nout, so at most nout distinct */
        ids[nids++] = id;
    }
    /* Sort the ids (few) so trees are emitted in output order. */
    for (size_t i = 1; i < nids; i++)
      for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
        int64_t t = ids[j];
        ids[j] = ids[j - 1];
        ids[j - 1] = t;
      }
    /* Root: the one node no other node points to. */
    memset(referenced + lo, 0, len);
    for (size_t p = lo; p < hi; p++) {
      size_t i = keys[p].idx;
      int mode = mode_of(&a.modes->strings[i]);
      if (mode < 0) {
        fail(c, FR_EFORMAT, "tree %lld node %lld: unknown mode '%.*s'", (long long)tid,
             (long long)keys[p].node,
             (int)(a.modes->strings[i].len > 20 ? 20 : a.modes->strings[i].len),
             a.modes->strings[i].data);
        goto out;
      }
      if (mode == M_LEAF)
        continue;
      int64_t kids[2] = {a.truen->ints[i], a.falsen->ints[i]};
      for (int s = 0; s < 2; s++) {
        int64_t pos = key_find(keys, lo, hi, tid, kids[s]);
        if (pos < 0) {
          fail(c, FR_EFORMAT, "tree %lld node %lld: %s node id %lld does not exist",
               (long long)tid, (long long)keys[p].node, s ? "false" : "true", (long long)kids[s]);
          goto out;
        }
        referenced[pos] = 1;
      }
    }
    int64_t root = -1;
    for (size_t p = lo; p < hi; p++)
      if (!referenced[p]) {
        if (root >= 0) {
          fail(c, FR_EFORMAT, "tree %lld has more than one root (nodes %lld and %lld)",
               (long long)tid, (long long)keys[root].node, (long long)keys[p].node);
          goto out;
        }
        root = (int64_t)p;
      }
    if (root < 0) {
      fail(c, FR_EFORMAT, "tree %lld has no root (a cycle)", (long long)tid);
      goto out;
    }
    /* Local index: the root first, then the others in sorted order. */
    for (size_t k = 0; k < nids; k++) {
      int64_t id = ids[k];
      fr__raw_node *rn = fr__builder_add_tree(&b, len, (uint32_t)id, c->err);
      if (!rn)
        goto out;
      for (size_t p = lo; p < hi; p++)
        acc[p - lo] = 0;
      for (size_t w = wlo; w < whi; w++) {
        int64_t wid = single_binary ? 0 : a.w_ids->ints[wkeys[w].idx];
        if (wid == id)
          acc[key_find(keys, lo, hi, tid, wkeys[w].node) - (int64_t)lo] +=
              weights[wkeys[w].idx];
      }
#define LOCAL(pos) ((pos) == root ? 0 : ((pos) < root ? (pos) - (int64_t)lo + 1 : (pos) - (int64_t)lo))
      for (size_t p = lo; p < hi; p++) {
        size_t i = keys[p].idx;
        fr__raw_node *r = &rn[LOCAL((int64_t)p)];
        r->cover = hit ? hit[i] : 0;
        int mode = mode_of(&a.modes->strings[i]);
        if (mode == M_LEAF) {
          r->value = (float)(acc[p - lo] * leaf_scale);
          continue;
        }
        int64_t tpos = key_find(keys, lo, hi, tid, a.truen->ints[i]);
        int64_t fpos = key_find(keys, lo, hi, tid, a.falsen->ints[i]);
        int64_t fid = a.featureids->ints[i];
        if (fid < 0 || fid >= (int64_t)FR__MAX_FEATURES) {
          fail(c, FR_EFORMAT, "tree %lld node %lld: feature id %lld out of range", (long long)tid,
               (long long)keys[p].node, (long long)fid);
          goto out;
        }
        r->feature = (uint32_t)fid;
        double v = values[i];
        if (isnan(v)) {
          fail(c, FR_EFORMAT, "tree %lld node %lld: threshold is NaN", (long long)tid,
               (long long)keys[p].node);
          goto out;
        }
        int tracks_true = a.missing && a.missing->n_ints ? a.missing->ints[i] != 0 : 0;
        int nan_true = tracks_true || mode == M_NEQ;
        int true_left = 1;
        switch (mode) {
        case M_LEQ:
          r->thr = fr__thr_leq_to_lt(v);
          break;
        case M_LT:
          r->thr = thr_lt(v);
          break;
        case M_GTE:
          r->thr = thr_lt(v);
          true_left = 0;
          break;
        case M_GT:
          r->thr = fr__thr_leq_to_lt(v);
          true_left = 0;
          break;
        case M_EQ:
        case M_NEQ:
          r->kind = mode == M_EQ ? FR__SPECIAL_EQ : FR__SPECIAL_NEQ;
          /* A value no float equals: EQ never holds, NEQ always does. */
          r->thr = (double)(float)v == v ? (float)v : NAN;
          break;
        }
        int64_t lpos = true_left ? tpos : fpos, rpos = true_left ? fpos : tpos;
        r->left = LOCAL(lpos);
        r->right = LOCAL(rpos);
        r->nan_right = true_left ? !nan_true : nan_true;
      }
#undef LOCAL
    }
  }
  f = fr__builder_finish(&b, c->err);
out:
  free(values);
  free(hit);
  free(weights);
  free(base);
  free(keys);
  free(wkeys);
  free(trees);
  free(ids);
  free(referenced);
  free(acc);
  fr__builder_close(&b);
  return f;
}

static int is_ml_domain(const char *d) { return d && strcmp(d, "ai.onnx.ml") == 0; }

fr_forest *fr__load_onnx(const void *data, size_t len, const char *origin, fr_error *err) {
  ctx c = {origin, err};
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
  if (!m) {
    fail(&c, FR_EFORMAT, "not a valid ONNX model (protobuf decoding failed: truncated or corrupt)");
    return NULL;
  }
  fr_forest *f = NULL;
  const Onnx__GraphProto *g = m->graph;
  const Onnx__NodeProto *ens = NULL;
  int classifier = 0, count = 0;
  if (!g) {
    fail(&c, FR_EFORMAT, "ONNX model has no graph");
    goto out;
  }
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *nd = g->node[i];
    if (!nd->op_type || !is_ml_domain(nd->domain))
      continue;
    if (strcmp(nd->op_type, "TreeEnsembleClassifier") == 0 ||
        strcmp(nd->op_type, "TreeEnsembleRegressor") == 0) {
      ens = nd;
      classifier = nd->op_type[12] == 'C';
      count++;
    } else if (strcmp(nd->op_type, "TreeEnsemble") == 0) {
      fail(&c, FR_EFORMAT, "the ai.onnx.ml opset 5 TreeEnsemble operator is not supported "
                           "(TreeEnsembleClassifier / TreeEnsembleRegressor are)");
      goto out;
    }
  }
  if (count != 1) {
    fail(&c, FR_EFORMAT, "expected one ai.onnx.ml TreeEnsembleClassifier or TreeEnsembleRegressor "
                         "node, found %d",
         count);
    goto out;
  }
  if (ens->n_input != 1 || !ens->input[0]) {
    fail(&c, FR_EFORMAT, "%s: expected one input", ens->op_type);
    goto out;
  }
  const Onnx__ValueInfoProto *in = NULL;
  for (size_t i = 0; i < g->n_input; i++)
    if (g->input[i]->name && strcmp(g->input[i]->name, ens->input[0]) == 0)
      in = g->input[i];
  if (!in) {
    fail(&c, FR_EFORMAT, "%s: its input '%s' is not a graph input (preprocessing nodes before the "
                         "tree ensemble are not supported)",
         ens->op_type, ens->input[0]);
    goto out;
  }
  size_t nfeat = 0;
  if (in->type && in->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
      in->type->tensor_type && in->type->tensor_type->shape) {
    const Onnx__TensorShapeProto *sh = in->type->tensor_type->shape;
    if (sh->n_dim >= 1) {
      const Onnx__TensorShapeProto__Dimension *d = sh->dim[sh->n_dim - 1];
      if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
          d->dim_value > 0 && d->dim_value <= (int64_t)FR__MAX_FEATURES)
        nfeat = (size_t)d->dim_value;
    }
  }
  f = load_ensemble(&c, ens, classifier, nfeat);
  /* Feature names written by fr_forest_to_onnx. */
  if (f)
    for (size_t i = 0; i < m->n_metadata_props; i++) {
      const Onnx__StringStringEntryProto *p = m->metadata_props[i];
      if (!p->key || strcmp(p->key, "feature_names") != 0 || !p->value)
        continue;
      char **names = calloc(f->nfeatures, sizeof *names);
      size_t k = 0;
      const char *s = p->value;
      while (names && k < f->nfeatures) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (!(names[k++] = strndup(s, l)) || !e)
          break;
        s = e + 1;
      }
      if (names && k == f->nfeatures && names[k - 1]) {
        f->feature_names = names;
      } else if (names) {
        for (size_t j = 0; j < f->nfeatures; j++)
          free(names[j]);
        free(names);
      }
    }
out:
  onnx__model_proto__free_unpacked(m, NULL);
  return f;
}
