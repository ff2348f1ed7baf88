/*
 * xgboost_json.c - loads an XGBoost JSON model (Booster.save_model("*.json"))
 * into the forest builder.
 *
 * Format: XGBoost's doc/model.schema and "Introduction to Model IO"
 * (https://xgboost.readthedocs.io/en/stable/tutorials/saving_model.html).
 * The parts we read:
 *
 *   learner.learner_model_param  num_feature, num_class, num_target and
 *       base_score, a string: "5E-1" (1.x, 2.x) or "[5E-1]" (3.x, a list with
 *       one entry per output).  Malformed is an error, never 0.
 *   learner.objective.name       binary:logistic, binary:logitraw,
 *       reg:logistic, reg:squarederror (reg:linear), multi:softprob.
 *   learner.gradient_booster     gbtree {model}, or dart {gbtree{model},
 *       weight_drop}, where model = {trees[], tree_info[]}.
 *   trees[i]  left_children, right_children (-1 for a leaf), split_indices,
 *       split_conditions (threshold, or the leaf value at a leaf),
 *       default_left, split_type (0 numeric, 1 categorical), categories,
 *       categories_nodes, categories_segments, categories_sizes (the
 *       categories of categorical node categories_nodes[j] are
 *       categories[segments[j] .. +sizes[j]]), sum_hessian (the cover).
 *
 * Non-finite numbers: XGBoost's JSON writer prints NaN, Infinity and
 * -Infinity as bare words (categorical splits have a NaN split_condition),
 * which RFC 8259 and jansson reject.  quote_nonfinite() turns those tokens
 * into the strings "NaN", "Infinity", "-Infinity" before parsing, and
 * num_value() reads them back.
 *
 * Base margin: for the logistic objectives base_score is a probability and
 * the margin starts at its logit, computed as XGBoost does in float32
 * (-logf(1/b - 1): src/objective/regression_loss.h,
 * LogisticRegression::ProbToMargin); binary:logitraw, whose output is the
 * margin, takes base_score as a margin (LogisticRaw::ProbToMargin is the
 * identity since 1.x), as do reg:squarederror and multi:softprob (whose
 * 3.x list holds one margin per class).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "model/forest_internal.h"

typedef struct ctx {
  const char *origin;
  fr_error *err;
  int code; /* first failure, so callers need not read err (may be NULL) */
} ctx;

static int fail(ctx *c, int code, const char *fmt, ...) FR_PRINTF(3, 4);
static int fail(ctx *c, int code, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->code = code;
  return fr_error_set(c->err, code, "%s: %s", c->origin, msg);
}

/* A number, or one of the strings quote_nonfinite() made. */
static int num_value(const json_t *v, double *out) {
  if (json_is_number(v)) {
    *out = json_number_value(v);
    return 0;
  }
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (strcmp(s, "NaN") == 0) {
      *out = NAN;
      return 0;
    }
    if (strcmp(s, "Infinity") == 0) {
      *out = INFINITY;
      return 0;
    }
    if (strcmp(s, "-Infinity") == 0) {
      *out = -INFINITY;
      return 0;
    }
  }
  return -1;
}

/* Copies the text with the bare tokens NaN, Infinity and -Infinity outside
 * strings put in quotes.  Returns a new buffer (caller frees) and its
 * length, or NULL when out of memory. */
static char *quote_nonfinite(const char *in, size_t len, size_t *outlen) {
  static const char *const words[] = {"-Infinity", "Infinity", "NaN"};
  size_t extra = 0;
  for (int pass = 0; pass < 2; pass++) {
    char *out = NULL;
    if (pass == 1 && !(out = malloc(len + extra + 1)))
      return NULL;
    size_t o = 0;
    int in_str = 0;
    for (size_t i = 0; i < len;) {
      char ch = in[i];
      if (in_str) {
        if (ch == '\\' && i + 1 < len) {
          if (out) {
            out[o] = ch;
            out[o + 1] = in[i + 1];
          }
          o += 2;
          i += 2;
          continue;
        }
        if (ch == '"')
          in_str = 0;
      } else if (ch == '"') {
        in_str = 1;
      } else if (ch == 'N' || ch == 'I' || ch == '-') {
        size_t k = 0;
        for (; k < 3; k++) {
          size_t wl = strlen(words[k]);
          if (len - i >= wl && memcmp(in + i, words[k], wl) == 0)
            break;
        }
        if (k < 3) {
          size_t wl = strlen(words[k]);
          if (out) {
            out[o] = '"';
            memcpy(out + o + 1, words[k], wl);
            out[o + 1 + wl] = '"';
          }
          o += wl + 2;
          i += wl;
          if (!out)
            extra += 2;
          continue;
        }
      }
      if (out)
        out[o] = ch;
      o++;
      i++;
    }
    if (out) {
      out[o] = 0;
      *outlen = o;
      return out;
    }
    if (extra == 0) { /* nothing to quote: plain copy */
      out = malloc(len + 1);
      if (!out)
        return NULL;
      memcpy(out, in, len);
      out[len] = 0;
      *outlen = len;
      return out;
    }
  }
  return NULL;
}

/* Integer-valued JSON number (XGBoost writes integers; a float with an
 * integral value is accepted too). */
static int as_int(const json_t *v, int64_t *out) {
  if (json_is_integer(v)) {
    *out = (int64_t)json_integer_value(v);
    return 0;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(int64_t)d) {
      *out = (int64_t)d;
      return 0;
    }
  }
  if (json_is_boolean(v)) {
    *out = json_is_true(v) ? 1 : 0;
    return 0;
  }
  return -1;
}

/* A parameter XGBoost stores as a string ("3"), or a plain number. */
static int param_int(ctx *c, const json_t *obj, const char *key,
                     const char *where, int64_t dflt, int64_t *out) {
  const json_t *v = json_object_get(obj, key);
  if (!v) {
    *out = dflt;
    return 0;
  }
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (fr_parse_int64(s, strlen(s), out) == 0)
      return 0;
    return fail(c, FR_EFORMAT, "%s.%s: '%s' is not an integer", where, key, s);
  }
  if (as_int(v, out) == 0)
    return 0;
  return fail(c, FR_EFORMAT, "%s.%s: expected an integer", where, key);
}

/* base_score: "5E-1", "[5E-1]", "[1E-1,2E-1,7E-1]" or a number.  Fills up
 * to cap values and their count. */
static int parse_base_score(ctx *c, const json_t *v, double *vals, size_t cap,
                            size_t *n) {
  const char *where = "learner.learner_model_param.base_score";
  *n = 0;
  if (json_is_number(v)) {
    vals[0] = json_number_value(v);
    *n = 1;
    return 0;
  }
  if (!json_is_string(v))
    return fail(c, FR_EFORMAT, "%s: expected a string", where);
  const char *s = json_string_value(v);
  size_t len = strlen(s);
  size_t i = 0, end = len;
  while (i < end && (s[i] == ' ' || s[i] == '\t'))
    i++;
  while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
    end--;
  int bracketed = 0;
  if (i < end && s[i] == '[') {
    if (s[end - 1] != ']')
      return fail(c, FR_EFORMAT, "%s: malformed list '%s'", where, s);
    bracketed = 1;
    i++;
    end--;
  }
  for (;;) {
    size_t j = i;
    while (j < end && s[j] != ',')
      j++;
    if (*n >= cap)
      return fail(c, FR_EFORMAT, "%s: more than %zu values", where, cap);
    if (fr_parse_double(s + i, j - i, &vals[*n]) != 0 || !isfinite(vals[*n]))
      return fail(c, FR_EFORMAT, "%s: '%s' is not a number%s", where, s,
                  bracketed ? " list" : "");
    (*n)++;
    if (j >= end)
      break;
    if (!bracketed)
      return fail(c, FR_EFORMAT, "%s: '%s' is not a number", where, s);
    i = j + 1;
  }
  return 0;
}

/* A tree's array member with exactly `*n` entries (*n = 0: take its
 * length).  *out is NULL when the member is absent and not required. */
static int tree_array(ctx *c, const json_t *tree, size_t t, const char *key,
                      size_t *n, int required, const json_t **out) {
  *out = NULL;
  const json_t *a = json_object_get(tree, key);
  if (!a)
    return required ? fail(c, FR_EFORMAT, "trees[%zu]: missing '%s'", t, key) : 0;
  if (!json_is_array(a))
    return fail(c, FR_EFORMAT, "trees[%zu].%s: expected an array", t, key);
  if (*n == 0)
    *n = json_array_size(a);
  else if (json_array_size(a) != *n)
    return fail(c, FR_EFORMAT, "trees[%zu].%s: %zu entries, expected %zu", t, key,
                json_array_size(a), *n);
  *out = a;
  return 0;
}

static int load_categories(ctx *c, fr__builder *b, fr__raw_node *nodes,
                           size_t nn, const json_t *tree, size_t t) {
  size_t ncn = 0, nseg = 0, nsz = 0, ncat = 0;
  const json_t *cn, *seg, *sz, *cats;
  if (tree_array(c, tree, t, "categories_nodes", &ncn, 0, &cn))
    return c->code;
  if (!cn || ncn == 0)
    return 0;
  nseg = ncn;
  nsz = ncn;
  if (tree_array(c, tree, t, "categories_segments", &nseg, 1, &seg) ||
      tree_array(c, tree, t, "categories_sizes", &nsz, 1, &sz) ||
      tree_array(c, tree, t, "categories", &ncat, 1, &cats))
    return c->code;
  uint32_t *words = NULL;
  size_t wcap = 0;
  int rc = 0;
  for (size_t j = 0; j < ncn; j++) {
    int64_t node, s0, sn;
    if (as_int(json_array_get(cn, j), &node) || as_int(json_array_get(seg, j), &s0) ||
        as_int(json_array_get(sz, j), &sn)) {
      rc = fail(c, FR_EFORMAT, "trees[%zu]: categories_*[%zu]: expected integers", t, j);
      break;
    }
    if (node < 0 || (size_t)node >= nn || s0 < 0 || sn < 0 ||
        (uint64_t)s0 + (uint64_t)sn > ncat) {
      rc = fail(c, FR_EFORMAT,
                "trees[%zu]: categorical split %zu (node %lld, segment %lld+%lld) out of range",
                t, j, (long long)node, (long long)s0, (long long)sn);
      break;
    }
    fr__raw_node *r = &nodes[node];
    if (r->kind != FR__SPECIAL_CAT) {
      rc = fail(c, FR_EFORMAT,
                "trees[%zu]: node %lld has categories but split_type is not categorical",
                t, (long long)node);
      break;
    }
    int64_t maxc = -1;
    for (int64_t k = 0; k < sn; k++) {
      int64_t cv;
      if (as_int(json_array_get(cats, (size_t)(s0 + k)), &cv) || cv < 0 ||
          cv >= 16777216) {
        rc = fail(c, FR_EFORMAT,
                  "trees[%zu].categories[%lld]: category must be an integer in [0, 2^24)",
                  t, (long long)(s0 + k));
        goto out;
      }
      if (cv > maxc)
        maxc = cv;
    }
    size_t nw = maxc < 0 ? 0 : (size_t)(maxc / 32 + 1);
    if (nw > wcap) {
      uint32_t *nwp = realloc(words, nw * sizeof *words);
      if (!nwp) {
        rc = fail(c, FR_ENOMEM, "out of memory");
        goto out;
      }
      words = nwp;
      wcap = nw;
    }
    if (nw)
      memset(words, 0, nw * sizeof *words);
    for (int64_t k = 0; k < sn; k++) {
      int64_t cv = 0; /* checked by the pass above */
      as_int(json_array_get(cats, (size_t)(s0 + k)), &cv);
      words[cv >> 5] |= 1u << (cv & 31);
    }
    int64_t off = fr__builder_add_cat_words(b, words, nw, c->err);
    if (off < 0) {
      rc = c->code = c->err->code;
      break;
    }
    r->cat_off = (uint32_t)off;
    r->cat_nwords = (uint32_t)nw;
    r->cat_flags = FR__CAT_IN_SET_RIGHT;
    r->thr = 0; /* not used by categorical splits */
  }
out:
  free(words);
  return rc;
}

static int load_tree(ctx *c, fr__builder *b, const json_t *tree, size_t t,
                     uint32_t group, double weight) {
  if (!json_is_object(tree))
    return fail(c, FR_EFORMAT, "trees[%zu]: expected an object", t);
  const json_t *tp = json_object_get(tree, "tree_param");
  if (tp) {
    int64_t slv;
    if (param_int(c, tp, "size_leaf_vector", "tree_param", 0, &slv))
      return c->code;
    if (slv > 1)
      return fail(c, FR_EFORMAT,
                  "trees[%zu]: vector-leaf trees (size_leaf_vector %lld, multi_strategy=multi_output_tree) are not supported",
                  t, (long long)slv);
  }
  size_t nn = 0;
  const json_t *lc, *rc_, *si, *sc, *dl, *st, *sh;
  if (tree_array(c, tree, t, "left_children", &nn, 1, &lc))
    return c->code;
  if (nn == 0)
    return fail(c, FR_EFORMAT, "trees[%zu]: no nodes", t);
  if (tree_array(c, tree, t, "right_children", &nn, 1, &rc_) ||
      tree_array(c, tree, t, "split_indices", &nn, 1, &si) ||
      tree_array(c, tree, t, "split_conditions", &nn, 1, &sc) ||
      tree_array(c, tree, t, "default_left", &nn, 1, &dl) ||
      tree_array(c, tree, t, "split_type", &nn, 0, &st) ||
      tree_array(c, tree, t, "sum_hessian", &nn, 0, &sh))
    return c->code;
  if (!sh)
    b->has_cover = 0;

  fr__raw_node *nodes = fr__builder_add_tree(b, nn, group, c->err);
  if (!nodes)
    return c->code = c->err->code;
  for (size_t i = 0; i < nn; i++) {
    fr__raw_node *r = &nodes[i];
    int64_t l, rr, feat, d, stype = 0;
    if (as_int(json_array_get(lc, i), &l) || as_int(json_array_get(rc_, i), &rr))
      return fail(c, FR_EFORMAT, "trees[%zu].left_children/right_children[%zu]: expected an integer",
                  t, i);
    double cond;
    if (num_value(json_array_get(sc, i), &cond))
      return fail(c, FR_EFORMAT, "trees[%zu].split_conditions[%zu]: expected a number", t, i);
    if (sh && num_value(json_array_get(sh, i), &r->cover))
      return fail(c, FR_EFORMAT, "trees[%zu].sum_hessian[%zu]: expected a number", t, i);
    if (l == -1 && rr == -1) { /* leaf */
      float v = (float)cond;
      if (weight != 1.0)
        v = (float)(v * (float)weight); /* DART: w * leaf, in float */
      r->value = v;
      continue;
    }
    if (l < 0 || rr < 0 || l >= (int64_t)nn || rr >= (int64_t)nn)
      return fail(c, FR_EFORMAT,
                  "trees[%zu]: node %zu: child index out of range (left %lld, right %lld, %zu nodes)",
                  t, i, (long long)l, (long long)rr, nn);
    if (as_int(json_array_get(si, i), &feat) || feat < 0 || feat >= (int64_t)FR__MAX_FEATURES)
      return fail(c, FR_EFORMAT, "trees[%zu].split_indices[%zu]: invalid feature index", t, i);
    if (as_int(json_array_get(dl, i), &d))
      return fail(c, FR_EFORMAT, "trees[%zu].default_left[%zu]: expected 0 or 1", t, i);
    if (st && as_int(json_array_get(st, i), &stype))
      return fail(c, FR_EFORMAT, "trees[%zu].split_type[%zu]: expected an integer", t, i);
    r->left = l;
    r->right = rr;
    r->feature = (uint32_t)feat;
    r->nan_right = d ? 0 : 1;
    if (stype == 1) {
      r->kind = FR__SPECIAL_CAT;
    } else if (stype != 0) {
      return fail(c, FR_EFORMAT, "trees[%zu].split_type[%zu]: unknown split type %lld", t, i,
                  (long long)stype);
    } else {
      /* The threshold is a float32 in XGBoost; x < thr goes left. */
      r->thr = (float)cond;
      if (isnan(r->thr))
        return fail(c, FR_EFORMAT, "trees[%zu].split_conditions[%zu]: threshold is NaN", t, i);
    }
  }
  int rc = load_categories(c, b, nodes, nn, tree, t);
  if (rc)
    return rc;
  for (size_t i = 0; i < nn; i++)
    if (nodes[i].kind == FR__SPECIAL_CAT && nodes[i].left >= 0 &&
        nodes[i].cat_flags == 0)
      /* A categorical split with no category list: nothing goes right. */
      nodes[i].cat_flags = FR__CAT_IN_SET_RIGHT;
  return 0;
}

static int objective_of(ctx *c, const char *name, fr_objective *o) {
  static const struct {
    const char *name;
    fr_objective obj;
  } map[] = {{"binary:logistic", FR_OBJ_BINARY_LOGISTIC},
             {"binary:logitraw", FR_OBJ_BINARY_LOGITRAW},
             {"reg:logistic", FR_OBJ_REG_LOGISTIC},
             {"reg:squarederror", FR_OBJ_REG_SQUAREDERROR},
             {"reg:linear", FR_OBJ_REG_SQUAREDERROR},
             {"multi:softprob", FR_OBJ_MULTI_SOFTPROB}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(name, map[i].name) == 0) {
      *o = map[i].obj;
      return 0;
    }
  return fail(c, FR_EFORMAT,
              "learner.objective.name: unsupported objective '%s' (supported: binary:logistic, "
              "binary:logitraw, reg:logistic, reg:squarederror, multi:softprob)",
              name);
}

static fr_forest *load(ctx *c, const json_t *root) {
  fr__builder b;
  fr__builder_init(&b, c->origin);
  b.format = FR_FOREST_XGBOOST_JSON;
  b.has_cover = 1;
  fr_forest *f = NULL;
  double *bs = NULL;

  const json_t *learner = json_object_get(root, "learner");
  if (!json_is_object(learner)) {
    fail(c, FR_EFORMAT, "missing object 'learner' (not an XGBoost JSON model)");
    goto out;
  }
  const json_t *lmp = json_object_get(learner, "learner_model_param");
  if (!json_is_object(lmp)) {
    fail(c, FR_EFORMAT, "missing object 'learner.learner_model_param'");
    goto out;
  }
  int64_t nfeat, ncls, ntarget;
  const char *w = "learner.learner_model_param";
  if (param_int(c, lmp, "num_feature", w, -1, &nfeat) ||
      param_int(c, lmp, "num_class", w, 0, &ncls) ||
      param_int(c, lmp, "num_target", w, 1, &ntarget))
    goto out;
  if (nfeat <= 0 || nfeat > (int64_t)FR__MAX_FEATURES) {
    fail(c, FR_EFORMAT, "%s.num_feature: missing or out of range (%lld)", w, (long long)nfeat);
    goto out;
  }
  if (ncls < 0 || ncls > 100000 || ntarget < 1 || ntarget > 100000) {
    fail(c, FR_EFORMAT, "%s: num_class %lld / num_target %lld out of range", w,
         (long long)ncls, (long long)ntarget);
    goto out;
  }
  b.nfeatures = (size_t)nfeat;
  size_t nout = (size_t)(ncls > 1 ? ncls : 1);
  if ((size_t)ntarget > nout)
    nout = (size_t)ntarget;
  if (fr__builder_set_outputs(&b, nout, c->err))
    goto out;

  /* Objective */
  const json_t *obj = json_object_get(learner, "objective");
  const json_t *oname = obj ? json_object_get(obj, "name") : NULL;
  if (!json_is_string(oname)) {
    fail(c, FR_EFORMAT, "missing string 'learner.objective.name'");
    goto out;
  }
  if (objective_of(c, json_string_value(oname), &b.objective))
    goto out;
  if (b.objective == FR_OBJ_MULTI_SOFTPROB && ncls < 2) {
    fail(c, FR_EFORMAT, "multi:softprob with num_class %lld", (long long)ncls);
    goto out;
  }

  /* base_score -> base margin */
  bs = malloc(nout * sizeof *bs);
  if (!bs) {
    fail(c, FR_ENOMEM, "out of memory");
    goto out;
  }
  size_t nbs = 1;
  const json_t *bsv = json_object_get(lmp, "base_score");
  if (!bsv)
    bs[0] = 0.5; /* XGBoost's default */
  else if (parse_base_score(c, bsv, bs, nout, &nbs))
    goto out;
  if (nbs != 1 && nbs != nout) {
    fail(c, FR_EFORMAT, "%s.base_score: %zu values for %zu outputs", w, nbs, nout);
    goto out;
  }
  for (size_t g = 0; g < nout; g++) {
    float v = (float)bs[nbs == 1 ? 0 : g];
    if (b.objective == FR_OBJ_BINARY_LOGISTIC || b.objective == FR_OBJ_REG_LOGISTIC) {
      if (!(v > 0.0f && v < 1.0f)) {
        fail(c, FR_EFORMAT, "%s.base_score: %g must be in (0, 1) for %s", w, (double)v,
             json_string_value(oname));
        goto out;
      }
      b.base_margin[g] = -logf(1.0f / v - 1.0f);
    } else {
      b.base_margin[g] = v;
    }
  }

  /* Feature names */
  const json_t *fn = json_object_get(learner, "feature_names");
  if (json_is_array(fn) && json_array_size(fn) > 0) {
    if (json_array_size(fn) != b.nfeatures) {
      fail(c, FR_EFORMAT, "learner.feature_names: %zu names for %zu features",
           json_array_size(fn), b.nfeatures);
      goto out;
    }
    b.feature_names = calloc(b.nfeatures, sizeof(char *));
    if (!b.feature_names) {
      fail(c, FR_ENOMEM, "out of memory");
      goto out;
    }
    for (size_t i = 0; i < b.nfeatures; i++) {
      const json_t *s = json_array_get(fn, i);
      if (!json_is_string(s)) {
        fail(c, FR_EFORMAT, "learner.feature_names[%zu]: expected a string", i);
        goto out;
      }
      if (!(b.feature_names[i] = strdup(json_string_value(s)))) {
        fail(c, FR_ENOMEM, "out of memory");
        goto out;
      }
    }
  }

  /* Booster */
  const json_t *gb = json_object_get(learner, "gradient_booster");
  const json_t *gname = gb ? json_object_get(gb, "name") : NULL;
  if (!json_is_string(gname)) {
    fail(c, FR_EFORMAT, "missing string 'learner.gradient_booster.name'");
    goto out;
  }
  const json_t *model = NULL, *weights = NULL;
  if (strcmp(json_string_value(gname), "gbtree") == 0) {
    model = json_object_get(gb, "model");
  } else if (strcmp(json_string_value(gname), "dart") == 0) {
    const json_t *inner = json_object_get(gb, "gbtree");
    model = inner ? json_object_get(inner, "model") : NULL;
    weights = json_object_get(gb, "weight_drop");
    if (!json_is_array(weights)) {
      fail(c, FR_EFORMAT, "learner.gradient_booster.weight_drop: expected an array");
      goto out;
    }
  } else {
    fail(c, FR_EFORMAT, "learner.gradient_booster.name: unsupported booster '%s' (gbtree or dart)",
         json_string_value(gname));
    goto out;
  }
  if (!json_is_object(model)) {
    fail(c, FR_EFORMAT, "missing object 'gradient_booster.model'");
    goto out;
  }
  const json_t *trees = json_object_get(model, "trees");
  const json_t *info = json_object_get(model, "tree_info");
  if (!json_is_array(trees) || !json_is_array(info)) {
    fail(c, FR_EFORMAT, "gradient_booster.model: 'trees' and 'tree_info' must be arrays");
    goto out;
  }
  size_t nt = json_array_size(trees);
  if (json_array_size(info) != nt || (weights && json_array_size(weights) != nt)) {
    fail(c, FR_EFORMAT, "gradient_booster.model: %zu trees but %zu tree_info entries%s", nt,
         json_array_size(info), weights ? " (or weight_drop differs)" : "");
    goto out;
  }
  for (size_t t = 0; t < nt; t++) {
    int64_t g;
    if (as_int(json_array_get(info, t), &g) || g < 0 || (uint64_t)g >= nout) {
      fail(c, FR_EFORMAT, "gradient_booster.model.tree_info[%zu]: group out of range (%zu outputs)",
           t, nout);
      goto out;
    }
    double wt = 1.0;
    if (weights) {
      const json_t *wv = json_array_get(weights, t);
      if (!json_is_number(wv) || !isfinite(json_number_value(wv))) {
        fail(c, FR_EFORMAT, "gradient_booster.weight_drop[%zu]: expected a number", t);
        goto out;
      }
      wt = json_number_value(wv);
    }
    if (load_tree(c, &b, json_array_get(trees, t), t, (uint32_t)g, wt))
      goto out;
  }
  f = fr__builder_finish(&b, c->err);
  if (!f)
    c->code = c->err->code;
out:
  free(bs);
  fr__builder_close(&b);
  return f;
}

fr_forest *fr__load_xgboost_json(const void *data, size_t len,
                                 const char *origin, fr_error *err) {
  ctx c = {origin, err, 0};
  json_error_t jerr;
  size_t qlen = 0;
  char *quoted = quote_nonfinite(data, len, &qlen);
  if (!quoted) {
    fr_error_set(err, FR_ENOMEM, "%s: out of memory", origin);
    return NULL;
  }
  json_t *root = json_loadb(quoted, qlen, 0, &jerr);
  free(quoted);
  if (!root) {
    fr_error_set(err, FR_EFORMAT, "%s:%d:%d: invalid JSON: %s", origin, jerr.line,
                 jerr.column, jerr.text);
    return NULL;
  }
  fr_forest *f = NULL;
  if (!json_is_object(root))
    fail(&c, FR_EFORMAT, "expected a JSON object at the top level");
  else
    f = load(&c, root);
  json_decref(root);
  return f;
}
