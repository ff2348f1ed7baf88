/*
 * rank.c - sorting scores into groups of equal value (see rank.h).
 */
#include "train/rank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct item {
  float p;
  float y;
  double w;
} item;

/* Decreasing score; ties in any order (groups merge them). */
static int cmp_desc(const void *a, const void *b) {
  float x = ((const item *)a)->p, z = ((const item *)b)->p;
  return (x < z) - (x > z);
}

void fr__groups_free(fr__groups *g) {
  if (!g)
    return;
  free(g->score);
  free(g->pos);
  free(g->neg);
  free(g->wpos);
  free(g->wneg);
  memset(g, 0, sizeof *g);
}

int fr__groups_build(const float *y, const float *p, const double *w, size_t n,
                     fr__groups *g, fr_error *err) {
  memset(g, 0, sizeof *g);
  if (!y || !p)
    return fr_error_set(err, FR_EINVAL, "metrics: NULL labels or scores");
  if (n == 0)
    return fr_error_set(err, FR_EINVAL, "metrics: no rows");
  for (size_t i = 0; i < n; i++) {
    if (y[i] != 0.0f && y[i] != 1.0f) {
      char b[32];
      fr_fmt_float(b, sizeof b, y[i]);
      return fr_error_set(err, FR_EINVAL,
                          "metrics: row %zu has label %s; labels must be 0 "
                          "or 1",
                          i, b);
    }
    if (!(p[i] >= 0.0f && p[i] <= 1.0f)) {
      char b[32];
      fr_fmt_float(b, sizeof b, p[i]);
      return fr_error_set(err, FR_EINVAL,
                          "metrics: row %zu has score %s; scores must be "
                          "probabilities in [0, 1]",
                          i, b);
    }
    if (w && !(isfinite(w[i]) && w[i] >= 0)) {
      char b[32];
      fr_fmt_double(b, sizeof b, w[i]);
      return fr_error_set(err, FR_EINVAL,
                          "metrics: row %zu has weight %s; weights must be "
                          "finite and >= 0",
                          i, b);
    }
  }
  item *it = malloc(n * sizeof *it);
  if (!it)
    return fr_error_set(err, FR_ENOMEM, "metrics: out of memory");
  for (size_t i = 0; i < n; i++) {
    it[i].p = p[i];
    it[i].y = y[i];
    it[i].w = w ? w[i] : 0;
  }
  qsort(it, n, sizeof *it, cmp_desc);
  size_t groups = 1;
  for (size_t i = 1; i < n; i++)
    groups += it[i].p != it[i - 1].p;
  g->score = malloc(groups * sizeof *g->score);
  g->pos = calloc(groups, sizeof *g->pos);
  g->neg = calloc(groups, sizeof *g->neg);
  if (w) {
    g->wpos = calloc(groups, sizeof *g->wpos);
    g->wneg = calloc(groups, sizeof *g->wneg);
  }
  if (!g->score || !g->pos || !g->neg || (w && (!g->wpos || !g->wneg))) {
    free(it);
    fr__groups_free(g);
    return fr_error_set(err, FR_ENOMEM, "metrics: out of memory");
  }
  size_t k = 0;
  g->score[0] = it[0].p;
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && it[i].p != it[i - 1].p)
      g->score[++k] = it[i].p;
    if (it[i].y == 1.0f) {
      g->pos[k] += 1;
      g->P += 1;
      if (w) {
        g->wpos[k] += it[i].w;
        g->WP += it[i].w;
      }
    } else {
      g->neg[k] += 1;
      g->N += 1;
      if (w) {
        g->wneg[k] += it[i].w;
        g->WN += it[i].w;
      }
    }
  }
  g->n = groups;
  free(it);
  return 0;
}
