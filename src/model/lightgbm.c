/*
 * lightgbm.c - loads a LightGBM text model (Booster.save_model(),
 * "model.txt") into the forest builder.
 *
 * Format (LightGBM's src/io/gbdt_model_text.cpp and src/io/tree.cpp; there
 * is no formal spec): a header of key=value lines (version, num_class,
 * num_tree_per_iteration, max_feature_idx, objective, feature_names, and
 * the bare word average_output for random-forest mode), then one block per
 * tree opened by "Tree=<i>" with key=value lines of space-separated arrays:
 *
 *   num_leaves, num_cat            L leaves, L-1 internal nodes
 *   split_feature, threshold,      per internal node
 *   decision_type, left_child,     (a child < 0 is the leaf ~child)
 *   right_child, internal_count
 *   leaf_value, leaf_count         per leaf
 *   cat_boundaries, cat_threshold  categorical bitsets (num_cat > 0)
 *   is_linear                      linear trees are not supported
 *
 * and "end of trees".  Semantics (include/LightGBM/tree.h, Tree::Decision):
 *
 *   decision_type bit 0   categorical split
 *                 bit 1   default left
 *                 bits 2-3 missing type: 0 None, 1 Zero, 2 NaN
 *   numeric:  x <= threshold goes left, compared in double.  Our rows are
 *             float32, and for every float x, x <= t exactly when
 *             x < fr__thr_leq_to_lt(t), so the threshold becomes the
 *             canonical strict float one with no loss.  Missing type None:
 *             a NaN is treated as 0.0 (so it goes where 0.0 goes);
 *             NaN: a NaN takes the default direction; Zero: a NaN and any
 *             value within LightGBM's zero band |x| <= kZeroThreshold =
 *             1e-35 take the default direction (a special node).
 *             Thresholds may be inf / -inf.
 *   categorical: the category is the integer part of x; categories whose
 *             bit is set in the node's bitset go LEFT; a negative category
 *             (x <= -1; -1 < x < 0 truncates to 0), a category beyond the
 *             bitset, and NaN go right (LightGBM sends missing values right;
 *             on x86-64 the int conversion of NaN is negative, so NaN goes
 *             right for every missing type).
 *
 * Objectives: binary and cross_entropy (probability = sigmoid(k * margin),
 * k from "sigmoid:k"), multiclass (softmax), multiclassova (per-class
 * sigmoid), and the identity-output regressions (regression, regression_l1,
 * huber, fair, quantile, mape).  Leaf values are doubles in the file and
 * are rounded to float32 and summed in float32 (LightGBM sums doubles: the
 * difference is around 1e-7 relative).  The node counts become the covers
 * that TreeSHAP uses (LightGBM's own PredictContrib does the same).
 */
#include <stdlib.h>
#include <string.h>

#include "model/forest_internal.h"

typedef struct span {
  const char *p;
  size_t n;
} span;

typedef struct lgb {
  const char *origin;
  fr_error *err;
  const char *buf;
  size_t len, pos;
  size_t line; /* 1-based number of the line last read */
} lgb;

static int fail(lgb *c, int code, const char *fmt, ...) FR_PRINTF(3, 4);
static int fail(lgb *c, int code, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return fr_error_set(c->err, code, "%s:%zu: %s", c->origin, c->line, msg);
}

/* Next line without its end of line; 0 at the end of the buffer. */
static int next_line(lgb *c, span *out) {
  if (c->pos >= c->len)
    return 0;
  const char *s = c->buf + c->pos;
  const char *e = memchr(s, '\n', c->len - c->pos);
  size_t n = e ? (size_t)(e - s) : c->len - c->pos;
  c->pos += n + (e ? 1 : 0);
  if (n && s[n - 1] == '\r')
    n--;
  out->p = s;
  out->n = n;
  c->line++;
  return 1;
}

static int span_eq(span s, const char *lit) {
  size_t n = strlen(lit);
  return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Splits "key=value". */
static int key_value(span line, span *key, span *val) {
  const char *eq = memchr(line.p, '=', line.n);
  if (!eq)
    return 0;
  key->p = line.p;
  key->n = (size_t)(eq - line.p);
  val->p = eq + 1;
  val->n = line.n - key->n - 1;
  return 1;
}

/* Next space-separated token of *s. */
static int token(span *s, span *tok) {
  size_t i = 0;
  while (i < s->n && (s->p[i] == ' ' || s->p[i] == '\t'))
    i++;
  if (i == s->n)
    return 0;
  size_t j = i;
  while (j < s->n && s->p[j] != ' ' && s->p[j] != '\t')
    j++;
  tok->p = s->p + i;
  tok->n = j - i;
  s->p += j;
  s->n -= j;
  return 1;
}

/* Parses exactly `n` numbers of `val` into out (doubles). */
static int parse_doubles(lgb *c, span val, const char *key, size_t n, double *out) {
  span tok;
  size_t k = 0;
  while (token(&val, &tok)) {
    if (k == n)
      return fail(c, FR_EFORMAT, "%s: more than %zu values", key, n);
    if (fr_parse_double(tok.p, tok.n, &out[k]))
      return fail(c, FR_EFORMAT, "%s: '%.*s' is not a number", key, (int)(tok.n > 40 ? 40 : tok.n),
                  tok.p);
    k++;
  }
  if (k != n)
    return fail(c, FR_EFORMAT, "%s: %zu values, expected %zu", key, k, n);
  return 0;
}

static int parse_ints(lgb *c, span val, const char *key, size_t n, int64_t *out) {
  span tok;
  size_t k = 0;
  while (token(&val, &tok)) {
    if (k == n)
      return fail(c, FR_EFORMAT, "%s: more than %zu values", key, n);
    if (fr_parse_int64(tok.p, tok.n, &out[k]))
      return fail(c, FR_EFORMAT, "%s: '%.*s' is not an integer", key,
                  (int)(tok.n > 40 ? 40 : tok.n), tok.p);
    k++;
  }
  if (k != n)
    return fail(c, FR_EFORMAT, "%s: %zu values, expected %zu", key, k, n);
  return 0;
}

static int parse_int(lgb *c, span val, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  span tok, rest = val;
  if (!token(&rest, &tok) || fr_parse_int64(tok.p, tok.n, out) || token(&rest, &tok))
    return fail(c, FR_EFORMAT, "%s: '%.*s' is not an integer", key, (int)(val.n > 40 ? 40 : val.n),
                val.p);
  if (*out < lo || *out > hi)
    return fail(c, FR_EFORMAT, "%s: %lld out of range [%lld, %lld]", key, (long long)*out,
                (long long)lo, (long long)hi);
  return 0;
}

/* The fields of one tree block (spans into the buffer). */
enum {
  K_NUM_LEAVES, K_NUM_CAT, K_SPLIT_FEATURE, K_THRESHOLD, K_DECISION_TYPE, K_LEFT, K_RIGHT,
  K_LEAF_VALUE, K_LEAF_COUNT, K_INTERNAL_COUNT, K_CAT_BOUNDARIES, K_CAT_THRESHOLD, K_IS_LINEAR,
  K_COUNT
};
static const char *const tree_keys[K_COUNT] = {
    "num_leaves", "num_cat",    "split_feature", "threshold",      "decision_type",
    "left_child", "right_child", "leaf_value",   "leaf_count",     "internal_count",
    "cat_boundaries", "cat_threshold", "is_linear"};

typedef struct tree_fields {
  span v[K_COUNT];
  int have[K_COUNT];
  size_t line; /* of "Tree=" */
} tree_fields;

typedef struct header {
  int64_t num_class, per_iter, max_feature;
  int average_output;
  span objective, feature_names;
} header;

static int objective_of(lgb *c, span obj, fr__builder *b, const header *h) {
  span rest = obj, name, tok;
  if (!token(&rest, &name))
    return fail(c, FR_EFORMAT, "objective: empty");
  double sigmoid = 1.0;
  int sqrt_out = 0;
  while (token(&rest, &tok)) {
    if (tok.n > 8 && memcmp(tok.p, "sigmoid:", 8) == 0) {
      if (fr_parse_double(tok.p + 8, tok.n - 8, &sigmoid) || !(sigmoid > 0) || !isfinite(sigmoid))
        return fail(c, FR_EFORMAT, "objective: bad sigmoid parameter '%.*s'", (int)tok.n, tok.p);
    } else if (span_eq(tok, "sqrt")) {
      sqrt_out = 1;
    }
  }
  static const char *const identity[] = {"regression", "regression_l2", "l2", "mean_squared_error",
                                         "mse", "regression_l1", "l1", "mean_absolute_error",
                                         "mae", "huber", "fair", "quantile", "mape"};
  for (size_t i = 0; i < sizeof identity / sizeof identity[0]; i++)
    if (span_eq(name, identity[i])) {
      if (sqrt_out)
        return fail(c, FR_EFORMAT, "objective: '%.*s sqrt' (squared output) is not supported",
                    (int)name.n, name.p);
      b->objective = FR_OBJ_REG_SQUAREDERROR;
      return 0;
    }
  if (span_eq(name, "binary") || span_eq(name, "multiclassova") || span_eq(name, "multiova") ||
      span_eq(name, "ova")) {
    b->objective = FR_OBJ_BINARY_LOGISTIC;
    b->sigmoid_scale = (float)sigmoid;
    return 0;
  }
  if (span_eq(name, "cross_entropy") || span_eq(name, "xentropy")) {
    b->objective = FR_OBJ_REG_LOGISTIC;
    return 0;
  }
  if (span_eq(name, "multiclass") || span_eq(name, "softmax")) {
    if (h->num_class < 2)
      return fail(c, FR_EFORMAT, "objective multiclass with num_class %lld", (long long)h->num_class);
    b->objective = FR_OBJ_MULTI_SOFTPROB;
    return 0;
  }
  return fail(c, FR_EFORMAT,
              "objective: unsupported LightGBM objective '%.*s' (supported: binary, "
              "cross_entropy, multiclass, multiclassova, regression, regression_l1, huber, fair, "
              "quantile, mape)",
              (int)(name.n > 60 ? 60 : name.n), name.p);
}

static int add_tree(lgb *c, fr__builder *b, const tree_fields *tf, size_t t, uint32_t group,
                    double scale) {
  c->line = tf->line;
  for (int k = 0; k < K_COUNT; k++)
    if (!tf->have[k] && (k == K_NUM_LEAVES || k == K_LEAF_VALUE))
      return fail(c, FR_EFORMAT, "tree %zu: missing %s", t, tree_keys[k]);
  int64_t nl, ncat = 0, linear = 0;
  if (parse_int(c, tf->v[K_NUM_LEAVES], "num_leaves", 1, 1 << 26, &nl))
    return c->err->code;
  if (tf->have[K_NUM_CAT] && parse_int(c, tf->v[K_NUM_CAT], "num_cat", 0, 1 << 26, &ncat))
    return c->err->code;
  if (tf->have[K_IS_LINEAR] && parse_int(c, tf->v[K_IS_LINEAR], "is_linear", 0, 1, &linear))
    return c->err->code;
  if (linear)
    return fail(c, FR_EFORMAT, "tree %zu: linear trees (linear_tree=true) are not supported", t);
  size_t L = (size_t)nl, ni = L - 1;
  if (ni > 0)
    for (int k = K_SPLIT_FEATURE; k <= K_RIGHT; k++)
      if (!tf->have[k])
        return fail(c, FR_EFORMAT, "tree %zu: missing %s", t, tree_keys[k]);
  int rc = 0;
  double *thr = calloc(ni + 1, sizeof *thr), *leaf = calloc(L, sizeof *leaf);
  int64_t *feat = calloc(ni + 1, sizeof *feat), *dt = calloc(ni + 1, sizeof *dt);
  int64_t *lc = calloc(ni + 1, sizeof *lc), *rcd = calloc(ni + 1, sizeof *rcd);
  int64_t *icnt = calloc(ni + 1, sizeof *icnt), *lcnt = calloc(L, sizeof *lcnt);
  int64_t *cb = calloc((size_t)ncat + 1, sizeof *cb);
  uint32_t *words = NULL;
  if (!thr || !leaf || !feat || !dt || !lc || !rcd || !icnt || !lcnt || !cb) {
    rc = fail(c, FR_ENOMEM, "out of memory");
    goto out;
  }
  if (parse_doubles(c, tf->v[K_LEAF_VALUE], "leaf_value", L, leaf) ||
      (ni && (parse_ints(c, tf->v[K_SPLIT_FEATURE], "split_feature", ni, feat) ||
              parse_doubles(c, tf->v[K_THRESHOLD], "threshold", ni, thr) ||
              parse_ints(c, tf->v[K_LEFT], "left_child", ni, lc) ||
              parse_ints(c, tf->v[K_RIGHT], "right_child", ni, rcd))) ||
      (ni && tf->have[K_DECISION_TYPE] &&
       parse_ints(c, tf->v[K_DECISION_TYPE], "decision_type", ni, dt))) {
    rc = c->err->code;
    goto out;
  }
  int covers = tf->have[K_LEAF_COUNT] && (ni == 0 || tf->have[K_INTERNAL_COUNT]);
  if (covers && (parse_ints(c, tf->v[K_LEAF_COUNT], "leaf_count", L, lcnt) ||
                 (ni && parse_ints(c, tf->v[K_INTERNAL_COUNT], "internal_count", ni, icnt)))) {
    rc = c->err->code;
    goto out;
  }
  if (!covers)
    b->has_cover = 0;
  size_t nwords = 0;
  if (ncat > 0) {
    if (!tf->have[K_CAT_BOUNDARIES] || !tf->have[K_CAT_THRESHOLD]) {
      rc = fail(c, FR_EFORMAT, "tree %zu: num_cat %lld but no cat_boundaries/cat_threshold", t,
                (long long)ncat);
      goto out;
    }
    if (parse_ints(c, tf->v[K_CAT_BOUNDARIES], "cat_boundaries", (size_t)ncat + 1, cb)) {
      rc = c->err->code;
      goto out;
    }
    for (int64_t i = 0; i < ncat; i++)
      if (cb[0] != 0 || cb[i + 1] < cb[i] || cb[i + 1] > (1 << 26)) {
        rc = fail(c, FR_EFORMAT, "tree %zu: cat_boundaries not increasing from 0", t);
        goto out;
      }
    nwords = (size_t)cb[ncat];
    int64_t *w64 = calloc(nwords + 1, sizeof *w64);
    words = calloc(nwords + 1, sizeof *words);
    if (!w64 || !words) {
      free(w64);
      rc = fail(c, FR_ENOMEM, "out of memory");
      goto out;
    }
    if (parse_ints(c, tf->v[K_CAT_THRESHOLD], "cat_threshold", nwords, w64)) {
      free(w64);
      rc = c->err->code;
      goto out;
    }
    for (size_t i = 0; i < nwords; i++) {
      if (w64[i] < 0 || w64[i] > UINT32_MAX) {
        free(w64);
        rc = fail(c, FR_EFORMAT, "tree %zu: cat_threshold[%zu] is not a 32-bit word", t, i);
        goto out;
      }
      words[i] = (uint32_t)w64[i];
    }
    free(w64);
  }
  int64_t cat_base = 0;
  if (nwords && (cat_base = fr__builder_add_cat_words(b, words, nwords, c->err)) < 0) {
    rc = c->err->code;
    goto out;
  }

  /* Internal node i keeps index i; leaf j goes to ni + j.  The root is
   * internal node 0, or the single leaf. */
  fr__raw_node *nodes = fr__builder_add_tree(b, ni + L, group, c->err);
  if (!nodes) {
    rc = c->err->code;
    goto out;
  }
  for (size_t j = 0; j < L; j++) {
    fr__raw_node *r = &nodes[ni + j];
    r->value = (float)(scale == 1.0 ? leaf[j] : leaf[j] * scale);
    r->cover = (double)lcnt[j];
  }
  for (size_t i = 0; i < ni; i++) {
    fr__raw_node *r = &nodes[i];
    int64_t kids[2] = {lc[i], rcd[i]};
    int64_t mapped[2];
    for (int s = 0; s < 2; s++) {
      int64_t k = kids[s];
      if (k >= 0 && (size_t)k < ni)
        mapped[s] = k; /* 0 (the root) is caught as a cycle by the builder */
      else if (k < 0 && (size_t)(~k) < L)
        mapped[s] = (int64_t)ni + (~k);
      else {
        rc = fail(c, FR_EFORMAT, "tree %zu: node %zu: %s child %lld out of range", t, i,
                  s ? "right" : "left", (long long)k);
        goto out;
      }
    }
    if (feat[i] < 0 || feat[i] >= (int64_t)b->nfeatures) {
      rc = fail(c, FR_EFORMAT, "tree %zu: node %zu: split_feature %lld out of range (%zu features)",
                t, i, (long long)feat[i], b->nfeatures);
      goto out;
    }
    if (dt[i] < 0 || dt[i] > 127) {
      rc = fail(c, FR_EFORMAT, "tree %zu: node %zu: decision_type %lld", t, i, (long long)dt[i]);
      goto out;
    }
    r->left = mapped[0];
    r->right = mapped[1];
    r->feature = (uint32_t)feat[i];
    r->cover = (double)icnt[i];
    int categorical = (dt[i] & 1) != 0;
    int default_left = (dt[i] & 2) != 0;
    int missing = (int)((dt[i] >> 2) & 3);
    if (categorical) {
      double ci = thr[i];
      if (!(ci >= 0) || ci >= (double)ncat || ci != (double)(int64_t)ci) {
        rc = fail(c, FR_EFORMAT, "tree %zu: node %zu: category set %g out of range (num_cat %lld)",
                  t, i, ci, (long long)ncat);
        goto out;
      }
      size_t k = (size_t)ci;
      r->kind = FR__SPECIAL_CAT;
      r->cat_flags = FR__CAT_TRUNC_NEG; /* listed categories go left */
      r->cat_off = (uint32_t)(cat_base + cb[k]);
      r->cat_nwords = (uint32_t)(cb[k + 1] - cb[k]);
      r->nan_right = 1;
      continue;
    }
    if (isnan(thr[i])) {
      rc = fail(c, FR_EFORMAT, "tree %zu: node %zu: threshold is NaN", t, i);
      goto out;
    }
    r->thr = fr__thr_leq_to_lt(thr[i]);
    switch (missing) {
    case 0: /* None: NaN is 0.0 */
      r->nan_right = !(0.0 <= thr[i]);
      break;
    case 1: /* Zero: NaN and the zero band take the default */
      r->kind = FR__SPECIAL_ZERO;
      r->nan_right = !default_left;
      break;
    case 2: /* NaN */
      r->nan_right = !default_left;
      break;
    default:
      rc = fail(c, FR_EFORMAT, "tree %zu: node %zu: unknown missing type %d", t, i, missing);
      goto out;
    }
  }
out:
  free(thr);
  free(leaf);
  free(feat);
  free(dt);
  free(lc);
  free(rcd);
  free(icnt);
  free(lcnt);
  free(cb);
  free(words);
  return rc;
}

fr_forest *fr__load_lightgbm(const void *data, size_t len, const char *origin, fr_error *err) {
  lgb c = {origin, err, data, len, 0, 0};
  fr__builder b;
  fr__builder_init(&b, origin);
  b.format = FR_FOREST_LIGHTGBM_TEXT;
  b.has_cover = 1;
  fr_forest *f = NULL;
  tree_fields *trees = NULL;
  size_t ntrees = 0, cap = 0;
  header h = {1, 1, -1, 0, {NULL, 0}, {NULL, 0}};
  int have_obj = 0, have_names = 0, ended = 0;
  span line;

  /* Header */
  int first = 1;
  while (next_line(&c, &line)) {
    if (first && !span_eq(line, "tree")) {
      fail(&c, FR_EFORMAT, "not a LightGBM text model (first line is not 'tree')");
      goto out;
    }
    first = 0;
    span key, val;
    if (line.n >= 5 && memcmp(line.p, "Tree=", 5) == 0)
      break;
    if (span_eq(line, "average_output")) {
      h.average_output = 1;
      continue;
    }
    if (span_eq(line, "end of trees")) {
      ended = 1;
      break;
    }
    if (!key_value(line, &key, &val))
      continue;
    if (span_eq(key, "num_class")) {
      if (parse_int(&c, val, "num_class", 1, 100000, &h.num_class))
        goto out;
    } else if (span_eq(key, "num_tree_per_iteration")) {
      if (parse_int(&c, val, "num_tree_per_iteration", 1, 100000, &h.per_iter))
        goto out;
    } else if (span_eq(key, "max_feature_idx")) {
      if (parse_int(&c, val, "max_feature_idx", 0, FR__MAX_FEATURES - 1, &h.max_feature))
        goto out;
    } else if (span_eq(key, "objective")) {
      h.objective = val;
      have_obj = 1;
    } else if (span_eq(key, "feature_names")) {
      h.feature_names = val;
      have_names = 1;
    }
  }
  if (first) {
    fail(&c, FR_EFORMAT, "empty file");
    goto out;
  }
  if (h.max_feature < 0) {
    fail(&c, FR_EFORMAT, "missing max_feature_idx in the header");
    goto out;
  }
  if (!have_obj) {
    fail(&c, FR_EFORMAT, "missing objective in the header");
    goto out;
  }
  b.nfeatures = (size_t)h.max_feature + 1;
  size_t nout = (size_t)h.per_iter;
  if (fr__builder_set_outputs(&b, nout, err) || objective_of(&c, h.objective, &b, &h))
    goto out;
  if (b.objective == FR_OBJ_MULTI_SOFTPROB && (int64_t)nout != h.num_class) {
    fail(&c, FR_EFORMAT, "multiclass with num_class %lld but %zu trees per iteration",
         (long long)h.num_class, nout);
    goto out;
  }
  if (have_names) {
    b.feature_names = calloc(b.nfeatures, sizeof(char *));
    if (!b.feature_names) {
      fail(&c, FR_ENOMEM, "out of memory");
      goto out;
    }
    span rest = h.feature_names, tok;
    size_t k = 0;
    while (token(&rest, &tok)) {
      if (k == b.nfeatures || !(b.feature_names[k] = strndup(tok.p, tok.n))) {
        fail(&c, k == b.nfeatures ? FR_EFORMAT : FR_ENOMEM, "feature_names: %s",
             k == b.nfeatures ? "more names than features" : "out of memory");
        goto out;
      }
      k++;
    }
    if (k != b.nfeatures) {
      fail(&c, FR_EFORMAT, "feature_names: %zu names for %zu features", k, b.nfeatures);
      goto out;
    }
  }

  /* Tree blocks: collect the spans first (the number of trees fixes the
   * average_output scale). */
  while (!ended) {
    if (!(line.n >= 5 && memcmp(line.p, "Tree=", 5) == 0)) {
      fail(&c, FR_EFORMAT, "expected 'Tree=%zu'", ntrees);
      goto out;
    }
    if (ntrees == cap) {
      size_t nc = cap ? cap * 2 : 64;
      tree_fields *nt = realloc(trees, nc * sizeof *nt);
      if (!nt) {
        fail(&c, FR_ENOMEM, "out of memory");
        goto out;
      }
      trees = nt;
      cap = nc;
    }
    tree_fields *tf = &trees[ntrees++];
    memset(tf, 0, sizeof *tf);
    tf->line = c.line;
    int more = 0;
    while ((more = next_line(&c, &line))) {
      if (line.n >= 5 && memcmp(line.p, "Tree=", 5) == 0)
        break;
      if (span_eq(line, "end of trees")) {
        ended = 1;
        break;
      }
      span key, val;
      if (!key_value(line, &key, &val))
        continue;
      for (int k = 0; k < K_COUNT; k++)
        if (span_eq(key, tree_keys[k])) {
          if (tf->have[k]) {
            fail(&c, FR_EFORMAT, "tree %zu: duplicate '%s' (a missing 'Tree=' line?)",
                 ntrees - 1, tree_keys[k]);
            goto out;
          }
          tf->v[k] = val;
          tf->have[k] = 1;
        }
    }
    if (!more && !ended) {
      fail(&c, FR_EFORMAT, "truncated: no 'end of trees' after tree %zu", ntrees - 1);
      goto out;
    }
  }
  if (ntrees % nout != 0) {
    fail(&c, FR_EFORMAT, "%zu trees is not a multiple of num_tree_per_iteration %zu", ntrees, nout);
    goto out;
  }
  double scale = h.average_output && ntrees ? 1.0 / (double)(ntrees / nout) : 1.0;
  for (size_t t = 0; t < ntrees; t++)
    if (add_tree(&c, &b, &trees[t], t, (uint32_t)(t % nout), scale))
      goto out;
  f = fr__builder_finish(&b, err);
out:
  free(trees);
  fr__builder_close(&b);
  return f;
}
