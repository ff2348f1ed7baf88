/*
 * space.c - the hyper-parameter search space (YAML) and the random search's
 * sampler.  Each configuration is a pure function of (seed, configuration
 * number, parameter), so worker processes, resumed runs and different
 * degrees of parallelism all see the same configurations.
 */
#include "fraud/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_NONE = 0, K_FIXED, K_RANGE, K_CHOICE };

/* Every tunable parameter with its domain.  The order is the canonical one
 * (digest, sampling streams): append only. */
static const struct pdef {
  const char *name;
  int is_int;
  double lo, hi; /* domain, inclusive unless lo_open */
  int lo_open;
} PARAMS[] = {
    {"max_depth", 1, 0, 64, 0},
    {"eta", 0, 0, 1, 1},
    {"min_child_weight", 0, 0, 1e12, 0},
    {"subsample", 0, 0, 1, 1},
    {"colsample_bytree", 0, 0, 1, 1},
    {"lambda", 0, 0, 1e12, 0},
    {"alpha", 0, 0, 1e12, 0},
    {"gamma", 0, 0, 1e12, 0},
    {"n_estimators", 1, 1, 1e7, 0},
    {"early_stopping_rounds", 1, 0, 1e7, 0},
};
#define NPARAMS (sizeof PARAMS / sizeof *PARAMS)
#define P_N_ESTIMATORS 8

typedef struct pspec {
  enum kind kind;
  double value;     /* FIXED */
  double lo, hi;    /* RANGE */
  int log, is_int;  /* RANGE */
  double *choices;  /* CHOICE */
  size_t nchoices;
} pspec;

struct fr_search_space {
  pspec p[NPARAMS];
};

void fr_search_space_free(fr_search_space *s) {
  if (!s)
    return;
  for (size_t i = 0; i < NPARAMS; i++)
    free(s->p[i].choices);
  free(s);
}

static int in_domain(const struct pdef *d, double v) {
  if (!isfinite(v) || v > d->hi || v < d->lo || (d->lo_open && v <= d->lo))
    return 0;
  return !d->is_int || v == floor(v);
}

static int num(const fr_yaml_doc *doc, const fr_yaml_node *n,
               const struct pdef *d, const char *what, double *out,
               fr_error *err) {
  int rc = fr_yaml_as_double(doc, n, what, out, err);
  if (rc)
    return rc;
  if (!in_domain(d, *out))
    return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                         "%s = %g is outside the domain of %s: %s%g, %g]%s",
                         what, *out, d->name, d->lo_open ? "(" : "[", d->lo,
                         d->hi, d->is_int ? ", integer" : "");
  return 0;
}

static int parse_param(const fr_yaml_doc *doc, const fr_yaml_node *n,
                       const struct pdef *d, pspec *ps, fr_error *err) {
  int rc;
  if (n->type == FR_YAML_SCALAR) {
    ps->kind = K_FIXED;
    return num(doc, n, d, d->name, &ps->value, err);
  }
  if (n->type != FR_YAML_MAP)
    return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                         "%s: expected a number, {low, high} or {choice: "
                         "[...]}",
                         d->name);
  const fr_yaml_node *ch = fr_yaml_get(n, "choice");
  if (ch) {
    static const char *const allowed[] = {"choice", NULL};
    if ((rc = fr_yaml_check_keys(doc, n, d->name, allowed, err)))
      return rc;
    if (ch->type != FR_YAML_SEQ || ch->n == 0)
      return fr_yaml_error(doc, ch, err, FR_ESCHEMA,
                           "%s: choice must be a non-empty list", d->name);
    if (d - PARAMS == P_N_ESTIMATORS)
      return fr_yaml_error(doc, ch, err, FR_ESCHEMA,
                           "n_estimators is the search's budget: give a "
                           "number or {low, high}, not a choice");
    ps->kind = K_CHOICE;
    ps->choices = calloc(ch->n, sizeof *ps->choices);
    if (!ps->choices)
      return fr_error_set(err, FR_ENOMEM, "out of memory");
    ps->nchoices = ch->n;
    for (size_t i = 0; i < ch->n; i++)
      if ((rc = num(doc, ch->items[i], d, d->name, &ps->choices[i], err)))
        return rc;
    return 0;
  }
  static const char *const allowed[] = {"low", "high", "log", "int", NULL};
  if ((rc = fr_yaml_check_keys(doc, n, d->name, allowed, err)))
    return rc;
  const fr_yaml_node *lo = fr_yaml_get(n, "low"), *hi = fr_yaml_get(n, "high");
  if (!lo || !hi)
    return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                         "%s: a range needs both low and high", d->name);
  ps->kind = K_RANGE;
  if ((rc = num(doc, lo, d, "low", &ps->lo, err)) ||
      (rc = num(doc, hi, d, "high", &ps->hi, err)))
    return rc;
  if (ps->lo > ps->hi)
    return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                         "%s: low %g is greater than high %g", d->name, ps->lo,
                         ps->hi);
  const fr_yaml_node *lg = fr_yaml_get(n, "log"), *it = fr_yaml_get(n, "int");
  if (lg && (rc = fr_yaml_as_bool(doc, lg, "log", &ps->log, err)))
    return rc;
  if (it && (rc = fr_yaml_as_bool(doc, it, "int", &ps->is_int, err)))
    return rc;
  ps->is_int = ps->is_int || d->is_int;
  if (ps->log && !(ps->lo > 0))
    return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                         "%s: a log range needs low > 0 (got %g)", d->name,
                         ps->lo);
  return 0;
}

static fr_search_space *from_doc(const fr_yaml_doc *doc, fr_error *err) {
  fr_search_space *s = calloc(1, sizeof *s);
  if (!s) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  const fr_yaml_node *root = doc->root;
  if (!root || root->type != FR_YAML_MAP) {
    fr_error_set(err, FR_ESCHEMA,
                 "%s: a search space is a map of parameter: range",
                 doc->path ? doc->path : "search space");
    fr_search_space_free(s);
    return NULL;
  }
  const char *allowed[NPARAMS + 1];
  for (size_t i = 0; i < NPARAMS; i++)
    allowed[i] = PARAMS[i].name;
  allowed[NPARAMS] = NULL;
  if (fr_yaml_check_keys(doc, root, "search space", allowed, err)) {
    fr_search_space_free(s);
    return NULL;
  }
  for (size_t i = 0; i < NPARAMS; i++) {
    const fr_yaml_node *n = fr_yaml_get(root, PARAMS[i].name);
    if (n && parse_param(doc, n, &PARAMS[i], &s->p[i], err)) {
      fr_search_space_free(s);
      return NULL;
    }
  }
  return s;
}

fr_search_space *fr_search_space_load(const char *path, fr_error *err) {
  fr_yaml_doc *doc = fr_yaml_load_file(path, err);
  if (!doc)
    return NULL;
  fr_search_space *s = from_doc(doc, err);
  fr_yaml_free(doc);
  return s;
}

fr_search_space *fr_search_space_parse(const char *yaml, size_t len,
                                       const char *origin, fr_error *err) {
  fr_yaml_doc *doc = fr_yaml_load_string(yaml, len, origin, err);
  if (!doc)
    return NULL;
  fr_search_space *s = from_doc(doc, err);
  fr_yaml_free(doc);
  return s;
}

/* SplitMix64's output function (Steele, Lea & Flood 2014). */
static uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* A uniform double in [0, 1) for (seed, index, parameter). */
static double uniform(uint64_t seed, uint64_t index, size_t param) {
  uint64_t h = mix64(mix64(mix64(seed) ^ index) ^ (uint64_t)param);
  return (double)(h >> 11) * 0x1.0p-53;
}

static void set_param(fr_train_params *p, size_t i, double v) {
  switch (i) {
  case 0: p->max_depth = (int)v; break;
  case 1: p->eta = v; break;
  case 2: p->min_child_weight = v; break;
  case 3: p->subsample = v; break;
  case 4: p->colsample_bytree = v; break;
  case 5: p->lambda = v; break;
  case 6: p->alpha = v; break;
  case 7: p->gamma = v; break;
  case 8: p->n_estimators = (int)v; break;
  case 9: p->early_stopping_rounds = (int)v; break;
  default: break;
  }
}

void fr_search_space_sample(const fr_search_space *s, uint64_t seed,
                            uint64_t index, const fr_train_params *base,
                            fr_train_params *out) {
  *out = *base;
  for (size_t i = 0; i < NPARAMS; i++) {
    const pspec *ps = &s->p[i];
    double u = uniform(seed, index, i), v;
    switch (ps->kind) {
    case K_FIXED:
      v = ps->value;
      break;
    case K_CHOICE:
      v = ps->choices[(size_t)(u * (double)ps->nchoices)];
      break;
    case K_RANGE:
      if (i == P_N_ESTIMATORS)
        continue; /* the budget, set per trial */
      if (ps->is_int) {
        double lo = ceil(ps->lo), hi = floor(ps->hi);
        if (ps->log)
          v = floor(exp(log(lo) + u * (log(hi + 1) - log(lo))));
        else
          v = lo + floor(u * (hi - lo + 1));
        v = v > hi ? hi : v;
      } else if (ps->log) {
        v = exp(log(ps->lo) + u * (log(ps->hi) - log(ps->lo)));
      } else {
        v = ps->lo + u * (ps->hi - ps->lo);
      }
      break;
    default:
      continue;
    }
    set_param(out, i, v);
  }
}

void fr_search_space_rounds(const fr_search_space *s, int *min_rounds,
                            int *max_rounds) {
  const pspec *ps = &s->p[P_N_ESTIMATORS];
  *min_rounds = ps->kind == K_RANGE ? (int)ps->lo : 0;
  *max_rounds = ps->kind == K_RANGE   ? (int)ps->hi
                : ps->kind == K_FIXED ? (int)ps->value
                                      : 0;
}

void fr_search_space_digest(const fr_search_space *s, char hex[65]) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) {
    memset(hex, '0', 64);
    hex[64] = '\0';
    return;
  }
  for (size_t i = 0; i < NPARAMS; i++) {
    const pspec *ps = &s->p[i];
    char a[40], b[40];
    switch (ps->kind) {
    case K_FIXED:
      fr_fmt_double(a, sizeof a, ps->value);
      fprintf(f, "%s=%s\n", PARAMS[i].name, a);
      break;
    case K_RANGE:
      fr_fmt_double(a, sizeof a, ps->lo);
      fr_fmt_double(b, sizeof b, ps->hi);
      fprintf(f, "%s=[%s,%s]%s%s\n", PARAMS[i].name, a, b,
              ps->log ? "log" : "", ps->is_int ? "int" : "");
      break;
    case K_CHOICE:
      fprintf(f, "%s={", PARAMS[i].name);
      for (size_t k = 0; k < ps->nchoices; k++) {
        fr_fmt_double(a, sizeof a, ps->choices[k]);
        fprintf(f, "%s%s", k ? "," : "", a);
      }
      fputs("}\n", f);
      break;
    default:
      break;
    }
  }
  fclose(f);
  fr_sha256_hex(buf ? buf : "", buf ? len : 0, hex);
  free(buf);
}
