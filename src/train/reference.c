/*
 * reference.c - the drift reference a bundle carries: where the scores and
 * every feature of a model version fell on held-out data at training time,
 * so that the server can report how far live traffic has moved from it
 * (fraud_score_psi, fraud_feature_psi) from its first request on.
 *
 * The binning must be the server's (src/serve/drift.c, which reads this
 * object back): edges are the deciles of the non-missing values at ranks
 * floor(k m / 10), k = 1..9, equal deciles merged; a value falls in the bin
 * numbered by how many edges are <= it; NaN has its own last bin.  The
 * shares are counts over all rows, missing ones included, so they sum to 1.
 * `fraud drift` (src/data/drift.c) bins data sets the same way.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fraud/data.h"
#include "fraud/train.h"

#define MAX_EDGES 9 /* deciles */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* {"edges": [...], "shares": [...]} of the n values v[i * stride]; buf
 * has room for n doubles.  NULL on ENOMEM. */
static json_t *distribution(const float *v, size_t stride, size_t n, double *buf) {
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    double x = v[i * stride];
    if (!isnan(x))
      buf[m++] = x;
  }
  qsort(buf, m, sizeof *buf, cmp_double);
  double edges[MAX_EDGES];
  size_t ne = 0;
  for (size_t k = 1; m && k <= MAX_EDGES; k++) {
    double e = buf[(k * m) / 10];
    /* JSON has no infinity: an infinite decile is left out, so infinite
     * values share the outermost bin.  The shares below are counted with
     * the edges as written, which are the edges the server bins with. */
    if (!isfinite(e))
      continue;
    if (!ne || e > edges[ne - 1])
      edges[ne++] = e;
  }
  size_t counts[MAX_EDGES + 2] = {0};
  for (size_t i = 0; i < m; i++)
    counts[fr_psi_bin(edges, ne, buf[i])]++;
  counts[ne + 1] = n - m;
  json_t *je = json_array(), *js = json_array(), *o = json_object();
  if (!je || !js || !o) {
    json_decref(je);
    json_decref(js);
    json_decref(o);
    return NULL;
  }
  int bad = 0;
  for (size_t b = 0; b < ne; b++)
    bad |= json_array_append_new(je, json_real(edges[b]));
  for (size_t b = 0; b < ne + 2; b++)
    bad |= json_array_append_new(js, json_real((double)counts[b] / (double)n));
  bad |= json_object_set_new(o, "edges", je);
  bad |= json_object_set_new(o, "shares", js);
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

char *fr_drift_reference_json(const float *x, const float *p, size_t rows, size_t cols,
                              const char *const *names, fr_error *err) {
  if (!rows || !p || (cols && (!x || !names))) {
    fr_error_set(err, FR_EINVAL,
                 "drift reference: %s", !rows ? "no rows: a reference needs data"
                                               : "NULL scores, features or names");
    return NULL;
  }
  for (size_t j = 0; j < cols; j++) {
    if (!names[j] || !names[j][0]) {
      fr_error_set(err, FR_EINVAL, "drift reference: feature %zu has no name", j);
      return NULL;
    }
    for (size_t k = 0; k < j; k++)
      if (strcmp(names[k], names[j]) == 0) {
        fr_error_set(err, FR_EINVAL,
                     "drift reference: features %zu and %zu are both named '%s'", k, j,
                     names[j]);
        return NULL;
      }
  }
  double *buf = malloc(rows * sizeof *buf);
  json_t *root = json_object(), *feats = json_object();
  char *out = NULL;
  int bad = !buf || !root || !feats;
  if (!bad) {
    bad |= json_object_set_new(root, "rows", json_integer((json_int_t)rows));
    bad |= json_object_set_new(root, "score", distribution(p, 1, rows, buf));
    for (size_t j = 0; !bad && j < cols; j++)
      bad |= json_object_set_new(feats, names[j], distribution(x + j, cols, rows, buf));
    bad |= json_object_set(root, "features", feats);
  }
  /* 17 significant digits: every edge and share reads back as the same
   * double, so the server bins exactly as here. */
  if (!bad)
    out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(feats);
  json_decref(root);
  free(buf);
  if (!out)
    fr_error_set(err, FR_ENOMEM, "drift reference: out of memory");
  return out;
}
