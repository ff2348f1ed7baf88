/*
 * forest.c - the forest engine's core: compiling the trees that a loader
 * describes (forest_internal.h's builder) into flat breadth-first node
 * arrays, validating them on the way (child indices, cycles, feature
 * indices), the accessors, format detection and the predict entry points
 * with their output transforms (sigmoid, softmax).
 *
 * Prediction semantics are XGBoost's (docs/forest.md): the margin of output
 * g starts at base_margin[g] and adds, in float32 and in tree order, the
 * leaf value of every tree of group g.  Keeping that order and precision is
 * what makes our margins bit-identical to XGBoost's, not just close.
 */
#include "model/forest_internal.h"

#include <errno.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Builder
 * ------------------------------------------------------------------------ */

void fr__builder_init(fr__builder *b, const char *origin) {
  memset(b, 0, sizeof *b);
  b->origin = origin ? origin : "model";
  b->sigmoid_scale = 1.0f;
  b->format = FR_FOREST_AUTO;
}

void fr__builder_close(fr__builder *b) {
  if (!b)
    return;
  free(b->nodes);
  free(b->tree_start);
  free(b->tree_len);
  free(b->tree_group);
  free(b->cat_words);
  free(b->base_margin);
  if (b->feature_names) {
    for (size_t i = 0; i < b->nfeatures; i++)
      free(b->feature_names[i]);
    free(b->feature_names);
  }
  memset(b, 0, sizeof *b);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap : 16;
  while (c < need) {
    if (c > SIZE_MAX / 2 / elem)
      return FR_ENOMEM;
    c *= 2;
  }
  void *q = realloc(*p, c * elem);
  if (!q)
    return FR_ENOMEM;
  *p = q;
  *cap = c;
  return 0;
}

fr__raw_node *fr__builder_add_tree(fr__builder *b, size_t n, uint32_t group,
                                   fr_error *err) {
  if (n == 0) {
    fr_error_set(err, FR_EFORMAT, "%s: tree %zu has no nodes", b->origin,
                 b->ntrees);
    return NULL;
  }
  if (n > FR__MAX_NODES || b->nnodes + n > FR__MAX_NODES) {
    fr_error_set(err, FR_ELIMIT, "%s: more than %u nodes in the forest",
                 b->origin, FR__MAX_NODES);
    return NULL;
  }
  size_t cs = b->cap_trees;
  if (grow((void **)&b->tree_start, &cs, b->ntrees + 1, sizeof(size_t)) ||
      (cs = b->cap_trees,
       grow((void **)&b->tree_len, &cs, b->ntrees + 1, sizeof(size_t))) ||
      (cs = b->cap_trees,
       grow((void **)&b->tree_group, &cs, b->ntrees + 1, sizeof(uint32_t)))) {
    fr_error_set(err, FR_ENOMEM, "%s: out of memory", b->origin);
    return NULL;
  }
  b->cap_trees = cs;
  if (grow((void **)&b->nodes, &b->cap_nodes, b->nnodes + n,
           sizeof(fr__raw_node))) {
    fr_error_set(err, FR_ENOMEM, "%s: out of memory", b->origin);
    return NULL;
  }
  fr__raw_node *t = b->nodes + b->nnodes;
  memset(t, 0, n * sizeof *t);
  for (size_t i = 0; i < n; i++)
    t[i].left = t[i].right = -1;
  b->tree_start[b->ntrees] = b->nnodes;
  b->tree_len[b->ntrees] = n;
  b->tree_group[b->ntrees] = group;
  b->ntrees++;
  b->nnodes += n;
  return t;
}

int64_t fr__builder_add_cat_words(fr__builder *b, const uint32_t *w, size_t n,
                                  fr_error *err) {
  if (n > UINT32_MAX || b->ncat_words + n > UINT32_MAX) {
    fr_error_set(err, FR_ELIMIT, "%s: categorical sets too large", b->origin);
    return -1;
  }
  if (grow((void **)&b->cat_words, &b->cap_cat_words, b->ncat_words + n,
           sizeof(uint32_t))) {
    fr_error_set(err, FR_ENOMEM, "%s: out of memory", b->origin);
    return -1;
  }
  int64_t off = (int64_t)b->ncat_words;
  if (n)
    memcpy(b->cat_words + b->ncat_words, w, n * sizeof *w);
  b->ncat_words += n;
  return off;
}

int fr__builder_set_outputs(fr__builder *b, size_t noutputs, fr_error *err) {
  if (noutputs == 0 || noutputs > 1000000)
    return fr_error_set(err, FR_EFORMAT, "%s: invalid number of outputs %zu",
                        b->origin, noutputs);
  float *bm = calloc(noutputs, sizeof *bm);
  if (!bm)
    return fr_error_set(err, FR_ENOMEM, "%s: out of memory", b->origin);
  free(b->base_margin);
  b->base_margin = bm;
  b->noutputs = noutputs;
  return 0;
}

float fr__thr_leq_to_lt(double t) {
  if (isnan(t))
    return NAN;
  if (t == INFINITY)
    return NAN; /* x <= +inf holds for every number: "always left" */
  /* Largest float <= t, then the next float up. */
  float f = (float)t; /* round to nearest */
  if ((double)f > t)
    f = nextafterf(f, -INFINITY);
  return nextafterf(f, INFINITY);
}

void fr_forest_free(fr_forest *f) {
  if (!f)
    return;
  free(f->nodes);
  free(f->cnodes);
  free(f->leaf_value);
  free(f->hnodes);
  free(f->hleaf);
  free(f->hgroups);
  free(f->tree_root);
  free(f->tree_depth);
  free(f->tree_group);
  free(f->base_margin);
  if (f->feature_names) {
    for (size_t i = 0; i < f->nfeatures; i++)
      free(f->feature_names[i]);
    free(f->feature_names);
  }
  free(f->specials);
  free(f->cat_words);
  free(f->cover);
  free(f->node_mean);
  fr__shap_cache_free(f->shap);
  pthread_mutex_destroy(&f->shap_lock);
  free(f);
}

/* Cover-weighted mean of the leaves below each node (the expected value of
 * the subtree under the model's own data distribution, as TreeSHAP's bias
 * term uses it).  Computed bottom-up: breadth-first order puts children
 * after parents, so a reverse sweep sees children first. */
static void compute_node_means(fr_forest *f) {
  for (size_t t = 0; t < f->ntrees; t++) {
    size_t lo = f->tree_root[t];
    size_t hi = (t + 1 < f->ntrees) ? f->tree_root[t + 1] : f->nnodes;
    for (size_t i = hi; i-- > lo;) {
      const fr__node *n = &f->nodes[i];
      if (n->left == i) {
        f->node_mean[i] = n->u.value;
      } else {
        double c = f->cover[i];
        double l = f->node_mean[n->left], r = f->node_mean[n->left + 1];
        double cl = f->cover[n->left], cr = f->cover[n->left + 1];
        f->node_mean[i] = c > 0 ? (l * cl + r * cr) / c : 0.5 * (l + r);
      }
    }
  }
}

/* Builds the compact 8-byte twin of the node array when every node fits
 * (forest_internal.h).  Out of memory just leaves it out: the wide kernels
 * give the same results. */
static void build_compact(fr_forest *f) {
  if (f->has_special || f->nfeatures > FR__C_MAX_FEATURES || f->nnodes == 0)
    return;
  for (size_t i = 0; i < f->nnodes; i++) {
    const fr__node *n = &f->nodes[i];
    if (n->left != i && n->left + 1 - i > FR__C_MAX_ROFF)
      return;
  }
  size_t bytes = (f->nnodes * sizeof(fr__cnode) + 63) & ~(size_t)63;
  f->cnodes = aligned_alloc(64, bytes);
  f->leaf_value = calloc(f->nnodes, sizeof(float));
  if (!f->cnodes || !f->leaf_value) {
    free(f->cnodes);
    free(f->leaf_value);
    f->cnodes = NULL;
    f->leaf_value = NULL;
    return;
  }
  uint32_t nf = (uint32_t)f->nfeatures;
  for (size_t i = 0; i < f->nnodes; i++) {
    const fr__node *n = &f->nodes[i];
    fr__cnode *c = &f->cnodes[i];
    if (n->left == i) {
      c->tkey = UINT32_MAX;
      c->meta = 1u << 16;
      f->leaf_value[i] = n->u.value;
      continue;
    }
    int nan_right = (n->feat & FR__NODE_NAN_RIGHT) != 0;
    uint32_t key = (n->feat & FR__NODE_FEAT_MASK) + (nan_right ? nf : 0);
    c->meta = key | ((n->left + 1 - (uint32_t)i) << 16);
    if (isnan(n->thr)) /* every number left; NaN by its default */
      c->tkey = nan_right ? FR__KEY_NAN_HI : UINT32_MAX;
    else
      c->tkey = fr__key(n->thr);
  }
}

fr_forest *fr__builder_finish(fr__builder *b, fr_error *err) {
  const char *o = b->origin;
  if (b->noutputs == 0 || !b->base_margin) {
    fr_error_set(err, FR_EFORMAT, "%s: number of outputs not set", o);
    return NULL;
  }
  if (b->nfeatures == 0 || b->nfeatures > FR__MAX_FEATURES) {
    fr_error_set(err, FR_EFORMAT, "%s: invalid number of features %zu", o,
                 b->nfeatures);
    return NULL;
  }
  fr_forest *f = calloc(1, sizeof *f);
  if (!f) {
    fr_error_set(err, FR_ENOMEM, "%s: out of memory", o);
    return NULL;
  }
  pthread_mutex_init(&f->shap_lock, NULL);
  f->ntrees = b->ntrees;
  f->nnodes = b->nnodes;
  f->nfeatures = b->nfeatures;
  f->noutputs = b->noutputs;
  f->objective = b->objective;
  f->format = b->format;
  f->sigmoid_scale = b->sigmoid_scale;
  f->has_cover = b->has_cover;
  size_t nalloc = f->nnodes ? f->nnodes : 1;
  size_t bytes = (nalloc * sizeof(fr__node) + 63) & ~(size_t)63;
  f->nodes = aligned_alloc(64, bytes);
  f->tree_root = calloc(f->ntrees ? f->ntrees : 1, sizeof(uint32_t));
  f->tree_depth = calloc(f->ntrees ? f->ntrees : 1, sizeof(uint32_t));
  f->tree_group = calloc(f->ntrees ? f->ntrees : 1, sizeof(uint32_t));
  f->base_margin = malloc(f->noutputs * sizeof(float));
  f->cover = calloc(nalloc, sizeof(double));
  f->node_mean = calloc(nalloc, sizeof(double));
  /* Scratch: BFS queue of local indices and visited marks, sized for the
   * largest tree. */
  size_t maxlen = 1;
  size_t nspecial = 0;
  for (size_t t = 0; t < b->ntrees; t++)
    if (b->tree_len[t] > maxlen)
      maxlen = b->tree_len[t];
  for (size_t i = 0; i < b->nnodes; i++)
    if (b->nodes[i].kind && b->nodes[i].left >= 0)
      nspecial++;
  int64_t *queue = malloc(maxlen * sizeof *queue);
  uint32_t *depth = malloc(maxlen * sizeof *depth);
  uint8_t *seen = malloc(maxlen);
  if (nspecial) {
    f->specials = calloc(nspecial, sizeof *f->specials);
    f->cat_words = malloc((b->ncat_words ? b->ncat_words : 1) * sizeof(uint32_t));
  }
  if (!f->nodes || !f->tree_root || !f->tree_depth || !f->tree_group ||
      !f->base_margin || !f->cover || !f->node_mean || !queue || !depth ||
      !seen || (nspecial && (!f->specials || !f->cat_words))) {
    fr_error_set(err, FR_ENOMEM, "%s: out of memory", o);
    goto fail;
  }
  memset(f->nodes, 0, bytes);
  memcpy(f->base_margin, b->base_margin, f->noutputs * sizeof(float));
  for (size_t g = 0; g < f->noutputs; g++)
    if (!isfinite(f->base_margin[g])) {
      fr_error_set(err, FR_EFORMAT, "%s: base margin of output %zu is not finite",
                   o, g);
      goto fail;
    }
  if (nspecial && b->ncat_words)
    memcpy(f->cat_words, b->cat_words, b->ncat_words * sizeof(uint32_t));
  f->ncat_words = b->ncat_words;
  if (b->feature_names) {
    f->feature_names = b->feature_names; /* take ownership */
    b->feature_names = NULL;
  }

  size_t out = 0; /* next free global node slot */
  for (size_t t = 0; t < b->ntrees; t++) {
    const fr__raw_node *rn = b->nodes + b->tree_start[t];
    size_t len = b->tree_len[t];
    if (b->tree_group[t] >= f->noutputs) {
      fr_error_set(err, FR_EFORMAT, "%s: tree %zu adds to output %u but the model has %zu",
                   o, t, b->tree_group[t], f->noutputs);
      goto fail;
    }
    f->tree_group[t] = b->tree_group[t];
    f->tree_root[t] = (uint32_t)out;
    memset(seen, 0, len);
    /* Breadth-first: queue[k] is the local index that lands in global slot
     * out + k.  Children of an internal node are appended together, so
     * right = left + 1. */
    size_t head = 0, tail = 0;
    queue[tail] = 0;
    depth[tail++] = 0;
    seen[0] = 1;
    uint32_t tdepth = 0;
    while (head < tail) {
      int64_t li = queue[head];
      uint32_t d = depth[head];
      const fr__raw_node *r = &rn[li];
      fr__node *n = &f->nodes[out + head];
      size_t gi = out + head;
      head++;
      f->cover[gi] = r->cover;
      if (r->left < 0 && r->right < 0) {
        if (!isfinite(r->value)) {
          fr_error_set(err, FR_EFORMAT, "%s: tree %zu node %lld: leaf value is not finite",
                       o, t, (long long)li);
          goto fail;
        }
        n->feat = 0;
        n->thr = NAN;
        n->left = (uint32_t)gi;
        n->u.value = r->value;
        continue;
      }
      if (r->left < 0 || r->right < 0 || r->left >= (int64_t)len ||
          r->right >= (int64_t)len) {
        fr_error_set(err, FR_EFORMAT,
                     "%s: tree %zu node %lld: child index out of range (left %lld, right %lld, tree has %zu nodes)",
                     o, t, (long long)li, (long long)r->left,
                     (long long)r->right, len);
        goto fail;
      }
      if (seen[r->left] || seen[r->right] || r->left == r->right) {
        fr_error_set(err, FR_EFORMAT,
                     "%s: tree %zu node %lld: a child is reached twice (cycle or shared node)",
                     o, t, (long long)li);
        goto fail;
      }
      if (r->feature >= f->nfeatures) {
        fr_error_set(err, FR_EFORMAT,
                     "%s: tree %zu node %lld: feature index %u out of range (model has %zu features)",
                     o, t, (long long)li, r->feature, f->nfeatures);
        goto fail;
      }
      seen[r->left] = seen[r->right] = 1;
      queue[tail] = r->left;
      depth[tail++] = d + 1;
      queue[tail] = r->right;
      depth[tail++] = d + 1;
      if (d + 1 > tdepth)
        tdepth = d + 1;
      n->feat = r->feature | (r->nan_right ? FR__NODE_NAN_RIGHT : 0);
      n->thr = r->thr;
      n->left = (uint32_t)(out + tail - 2);
      if (r->kind) {
        if (r->kind == FR__SPECIAL_CAT &&
            ((uint64_t)r->cat_off + r->cat_nwords > b->ncat_words)) {
          fr_error_set(err, FR_EFORMAT, "%s: tree %zu node %lld: category set out of range",
                       o, t, (long long)li);
          goto fail;
        }
        fr__special *s = &f->specials[f->nspecials];
        s->kind = r->kind;
        s->flags = r->cat_flags;
        s->cat_off = r->cat_off;
        s->cat_nwords = r->cat_nwords;
        n->feat |= FR__NODE_SPECIAL;
        n->u.special = (uint32_t)f->nspecials++;
        f->has_special = 1;
      }
    }
    f->tree_depth[t] = tdepth;
    if (tdepth > f->max_depth)
      f->max_depth = tdepth;
    out += tail; /* unreachable nodes (XGBoost's deleted ones) are dropped */
  }
  f->nnodes = out;
  compute_node_means(f);
  build_compact(f);
  fr__heap_build(f);
  free(queue);
  free(depth);
  free(seen);
  return f;
fail:
  free(queue);
  free(depth);
  free(seen);
  fr_forest_free(f);
  return NULL;
}

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

static fr_forest_format detect(const unsigned char *p, size_t len) {
  size_t i = 0;
  if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
    i = 3; /* UTF-8 byte order mark */
  while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
    i++;
  if (i < len && p[i] == '{')
    return FR_FOREST_XGBOOST_JSON;
  /* LightGBM's model.txt opens with a line "tree" then key=value lines. */
  if (len - i >= 4 && memcmp(p + i, "tree", 4) == 0 &&
      (len - i == 4 || p[i + 4] == '\n' || p[i + 4] == '\r'))
    return FR_FOREST_LIGHTGBM_TEXT;
  if (len - i >= 8 && memcmp(p + i, "version=", 8) == 0)
    return FR_FOREST_LIGHTGBM_TEXT;
  /* ONNX ModelProto: protobuf, first field is ir_version (field 1, varint:
   * tag byte 0x08) in every exporter we know. */
  if (len > 0 && p[0] == 0x08)
    return FR_FOREST_ONNX;
  return FR_FOREST_AUTO;
}

fr_forest *fr_forest_load_buffer(const void *data, size_t len,
                                 fr_forest_format fmt, const char *origin,
                                 fr_error *err) {
  /* Loaders may rely on a non-NULL err to read the code of a failure. */
  fr_error local;
  if (!err)
    err = &local;
  fr_error_clear(err);
  if (!origin)
    origin = "model";
  if (!data) {
    fr_error_set(err, FR_EINVAL, "%s: no data", origin);
    return NULL;
  }
  if (fmt == FR_FOREST_AUTO) {
    fmt = detect(data, len);
    if (fmt == FR_FOREST_AUTO) {
      fr_error_set(err, FR_EFORMAT,
                   "%s: not a recognised model file (expected XGBoost JSON, LightGBM text or ONNX)",
                   origin);
      return NULL;
    }
  }
  fr_forest *f = NULL;
  switch (fmt) {
  case FR_FOREST_XGBOOST_JSON:
    f = fr__load_xgboost_json(data, len, origin, err);
    break;
  case FR_FOREST_LIGHTGBM_TEXT:
    f = fr__load_lightgbm(data, len, origin, err);
    break;
  case FR_FOREST_ONNX:
    f = fr__load_onnx(data, len, origin, err);
    break;
  default:
    fr_error_set(err, FR_EINVAL, "%s: unknown model format %d", origin, (int)fmt);
    return NULL;
  }
  if (f)
    f->format = fmt;
  return f;
}

fr_forest *fr_forest_load(const char *path, fr_forest_format fmt,
                          fr_error *err) {
  if (!path) {
    fr_error_set(err, FR_EINVAL, "no model path");
    return NULL;
  }
  size_t len = 0;
  char *data = fr_file_read_all(path, &len, err);
  if (!data)
    return NULL;
  fr_forest *f = fr_forest_load_buffer(data, len, fmt, path, err);
  free(data);
  return f;
}

/* ------------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------------ */

size_t fr_forest_nfeatures(const fr_forest *f) { return f ? f->nfeatures : 0; }
size_t fr_forest_ntrees(const fr_forest *f) { return f ? f->ntrees : 0; }
size_t fr_forest_noutputs(const fr_forest *f) { return f ? f->noutputs : 0; }
size_t fr_forest_nnodes(const fr_forest *f) { return f ? f->nnodes : 0; }
size_t fr_forest_max_depth(const fr_forest *f) { return f ? f->max_depth : 0; }
fr_objective fr_forest_objective(const fr_forest *f) {
  return f ? f->objective : FR_OBJ_BINARY_LOGISTIC;
}
fr_forest_format fr_forest_format_of(const fr_forest *f) {
  return f ? f->format : FR_FOREST_AUTO;
}
float fr_forest_base_margin(const fr_forest *f, size_t output) {
  return (f && output < f->noutputs) ? f->base_margin[output] : NAN;
}
const char *fr_forest_feature_name(const fr_forest *f, size_t i) {
  if (!f || !f->feature_names || i >= f->nfeatures)
    return NULL;
  return f->feature_names[i];
}

static const char *const objective_names[] = {
    "binary:logistic", "binary:logitraw", "reg:squarederror", "reg:logistic",
    "multi:softprob"};

const char *fr_objective_name(fr_objective o) {
  if ((unsigned)o < sizeof objective_names / sizeof objective_names[0])
    return objective_names[o];
  return "unknown";
}

static const char *const format_names[] = {"auto", "xgboost_json", "lightgbm",
                                           "onnx"};

const char *fr_forest_format_name(fr_forest_format fmt) {
  if ((unsigned)fmt < sizeof format_names / sizeof format_names[0])
    return format_names[fmt];
  return "unknown";
}

int fr_forest_format_parse(const char *s, fr_forest_format *out) {
  static const struct {
    const char *name;
    fr_forest_format fmt;
  } names[] = {{"auto", FR_FOREST_AUTO},
               {"xgboost_json", FR_FOREST_XGBOOST_JSON},
               {"xgboost-json", FR_FOREST_XGBOOST_JSON},
               {"json", FR_FOREST_XGBOOST_JSON},
               {"lightgbm", FR_FOREST_LIGHTGBM_TEXT},
               {"lightgbm_text", FR_FOREST_LIGHTGBM_TEXT},
               {"onnx", FR_FOREST_ONNX}};
  if (!s || !out)
    return FR_EINVAL;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(s, names[i].name) == 0) {
      *out = names[i].fmt;
      return 0;
    }
  return FR_EINVAL;
}

/* ------------------------------------------------------------------------
 * Transforms
 * ------------------------------------------------------------------------ */

float fr_sigmoid(float margin) {
  /* 1/(1+e^-m) for m >= 0 and e^m/(1+e^m) for m < 0: neither form
   * overflows, and for very negative m the second keeps full relative
   * precision (e^-17.31 = 3.03e-8) instead of computing 1 - (1 - p).
   * Evaluated in double, rounded once to float. */
  double m = margin;
  if (m >= 0)
    return (float)(1.0 / (1.0 + exp(-m)));
  double e = exp(m);
  return (float)(e / (1.0 + e));
}

/* Softmax of k margins into out (may alias), shifted by the maximum so that
 * exp never overflows. */
static void softmax(const float *m, size_t k, float *out) {
  double mx = -INFINITY;
  for (size_t j = 0; j < k; j++)
    if (m[j] > mx)
      mx = m[j];
  double sum = 0;
  double e[64];
  if (k <= 64) {
    for (size_t j = 0; j < k; j++)
      sum += (e[j] = exp((double)m[j] - mx));
    for (size_t j = 0; j < k; j++)
      out[j] = (float)(e[j] / sum);
    return;
  }
  for (size_t j = 0; j < k; j++)
    sum += exp((double)m[j] - mx);
  for (size_t j = 0; j < k; j++)
    out[j] = (float)(exp((double)m[j] - mx) / sum);
}

void fr_forest_transform(const fr_forest *f, const float *margin, size_t n,
                         float *out) {
  if (!f || !margin || !out)
    return;
  size_t k = f->noutputs;
  switch (f->objective) {
  case FR_OBJ_BINARY_LOGISTIC:
  case FR_OBJ_REG_LOGISTIC: {
    float s = f->sigmoid_scale;
    for (size_t i = 0; i < n * k; i++)
      out[i] = fr_sigmoid(s == 1.0f ? margin[i] : s * margin[i]);
    break;
  }
  case FR_OBJ_MULTI_SOFTPROB:
    for (size_t i = 0; i < n; i++)
      softmax(margin + i * k, k, out + i * k);
    break;
  default:
    if (out != margin)
      memmove(out, margin, n * k * sizeof(float));
    break;
  }
}
