/*
 * drift.c - online PSI (see drift.h).  Each distribution (the score, each
 * feature) keeps its reference edges and shares and two windows of atomic
 * bin counts; observing a row is one binary search and one relaxed atomic
 * increment per distribution.  The current window's counts are striped:
 * each thread increments its own copy (on cache lines of its own), and
 * readers add the copies up, so the HTTP threads scoring at the same time
 * do not pass the counters' cache lines back and forth on every request.
 */
#include "serve/drift.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fraud/data.h"

#define NBINS (FR__DRIFT_MAX_EDGES + 2) /* value bins + missing */
#define NSTRIPES 8                      /* copies of the current counts */

/* One thread's copy of the current window's counts, alone on its cache
 * lines. */
typedef struct stripe {
  _Alignas(64) _Atomic uint64_t c[NBINS];
} stripe;

typedef struct dist {
  size_t nedges;
  double edges[FR__DRIFT_MAX_EDGES];
  double ref[NBINS]; /* shares: nedges + 1 value bins, then missing */
  int has_ref;
  stripe cur[NSTRIPES];
  uint64_t prev[NBINS]; /* written at scrape only (under the window lock) */
} dist;

/* The stripe of the calling thread, given out round robin. */
static _Atomic unsigned g_next_stripe;
static _Thread_local unsigned tl_stripe = NSTRIPES;

static unsigned my_stripe(void) {
  if (tl_stripe == NSTRIPES)
    tl_stripe = atomic_fetch_add_explicit(&g_next_stripe, 1, memory_order_relaxed) % NSTRIPES;
  return tl_stripe;
}

/* Bin b of the current window, all stripes added up. */
static uint64_t cur_count(dist *x, size_t b) {
  uint64_t n = 0;
  for (int k = 0; k < NSTRIPES; k++)
    n += atomic_load_explicit(&x->cur[k].c[b], memory_order_relaxed);
  return n;
}

struct fr__drift {
  size_t nf;
  size_t window;
  dist score;
  dist *feat;
  _Atomic int rotating;
};

static size_t nbins(const dist *d) { return d->nedges + 2; }

static size_t bin_of(const dist *d, double v) {
  if (isnan(v))
    return d->nedges + 1;
  return fr_psi_bin(d->edges, d->nedges, v);
}

static int parse_dist(const json_t *j, dist *d) {
  const json_t *e = json_object_get(j, "edges"), *s = json_object_get(j, "shares");
  if (!json_is_array(e) || !json_is_array(s) || json_array_size(e) > FR__DRIFT_MAX_EDGES ||
      json_array_size(s) != json_array_size(e) + 2)
    return -1;
  d->nedges = json_array_size(e);
  for (size_t i = 0; i < d->nedges; i++) {
    if (!json_is_number(json_array_get(e, i)))
      return -1;
    d->edges[i] = json_number_value(json_array_get(e, i));
    if (i && !(d->edges[i] > d->edges[i - 1]))
      return -1;
  }
  for (size_t i = 0; i < d->nedges + 2; i++) {
    if (!json_is_number(json_array_get(s, i)))
      return -1;
    d->ref[i] = json_number_value(json_array_get(s, i));
  }
  d->has_ref = 1;
  return 0;
}

/* Zeroed memory for n objects of a 64-byte-aligned type (the stripes). */
static void *zalloc64(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size)
    return NULL;
  void *p = aligned_alloc(64, n * size); /* size is a multiple of 64 */
  if (p)
    memset(p, 0, n * size);
  return p;
}

fr__drift *fr__drift_new(size_t nf, const char *const *names, const json_t *ref, size_t window) {
  fr__drift *d = zalloc64(1, sizeof *d);
  if (!d)
    return NULL;
  d->nf = nf;
  d->window = window ? window : 10000;
  d->feat = zalloc64(nf ? nf : 1, sizeof *d->feat);
  if (!d->feat) {
    free(d);
    return NULL;
  }
  if (json_is_object(ref)) {
    int ok = parse_dist(json_object_get(ref, "score"), &d->score) == 0;
    const json_t *fs = json_object_get(ref, "features");
    for (size_t i = 0; ok && i < nf; i++)
      ok = names && names[i] && parse_dist(json_object_get(fs, names[i]), &d->feat[i]) == 0;
    if (!ok) { /* an unusable reference is no reference */
      memset(&d->score, 0, sizeof d->score);
      memset(d->feat, 0, (nf ? nf : 1) * sizeof *d->feat);
    }
  }
  return d;
}

void fr__drift_free(fr__drift *d) {
  if (!d)
    return;
  free(d->feat);
  free(d);
}

int fr__drift_has_reference(const fr__drift *d) { return d && d->score.has_ref; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Reference of one column: deciles of its non-missing values. */
static void build(dist *d, double *v, size_t n) {
  size_t m = 0, missing = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(v[i]))
      missing++;
    else
      v[m++] = v[i];
  }
  qsort(v, m, sizeof *v, cmp_double);
  d->nedges = 0;
  for (size_t k = 1; m && k <= 9; k++) {
    double e = v[(k * m) / 10 < m ? (k * m) / 10 : m - 1];
    if (!d->nedges || e > d->edges[d->nedges - 1])
      d->edges[d->nedges++] = e;
  }
  double counts[NBINS] = {0};
  for (size_t i = 0; i < m; i++)
    counts[bin_of(d, v[i])]++;
  counts[d->nedges + 1] = (double)missing;
  for (size_t b = 0; b < nbins(d); b++)
    d->ref[b] = n ? counts[b] / (double)n : 0;
  d->has_ref = 1;
}

int fr__drift_set_reference(fr__drift *d, const float *x, const float *p, size_t n) {
  if (!n)
    return FR_EDATA;
  double *v = malloc(n * sizeof *v);
  if (!v)
    return FR_ENOMEM;
  for (size_t i = 0; i < n; i++)
    v[i] = p[i];
  build(&d->score, v, n);
  for (size_t f = 0; f < d->nf; f++) {
    for (size_t i = 0; i < n; i++)
      v[i] = x[i * d->nf + f];
    build(&d->feat[f], v, n);
  }
  free(v);
  return 0;
}

void fr__drift_observe(fr__drift *d, const float *row, float p) {
  if (!d || !d->score.has_ref)
    return;
  unsigned k = my_stripe();
  atomic_fetch_add_explicit(&d->score.cur[k].c[bin_of(&d->score, p)], 1, memory_order_relaxed);
  for (size_t f = 0; f < d->nf; f++)
    atomic_fetch_add_explicit(&d->feat[f].cur[k].c[bin_of(&d->feat[f], row[f])], 1,
                              memory_order_relaxed);
}

static double psi_of(fr__drift *d, dist *x) {
  if (!x->has_ref)
    return NAN;
  size_t nb = nbins(x);
  uint64_t c[NBINS];
  uint64_t total = 0, cur_total = 0;
  for (size_t b = 0; b < nb; b++) {
    uint64_t cur = cur_count(x, b);
    cur_total += cur;
    c[b] = cur + x->prev[b];
    total += c[b];
  }
  (void)d;
  if (!total)
    return NAN;
  double ref[NBINS], now[NBINS];
  for (size_t b = 0; b < nb; b++) {
    ref[b] = x->ref[b];
    now[b] = (double)c[b] / (double)total;
  }
  (void)cur_total;
  return fr_psi(ref, now, nb);
}

/* Closes the window of every distribution when the score's is full. */
static void maybe_rotate(fr__drift *d) {
  uint64_t cur = 0;
  for (size_t b = 0; b < nbins(&d->score); b++)
    cur += cur_count(&d->score, b);
  if (cur < d->window || atomic_exchange(&d->rotating, 1))
    return;
  dist *all[1] = {&d->score};
  for (size_t k = 0; k <= d->nf; k++) {
    dist *x = k == 0 ? all[0] : &d->feat[k - 1];
    for (size_t b = 0; b < NBINS; b++) {
      uint64_t n = 0;
      for (int k = 0; k < NSTRIPES; k++)
        n += atomic_exchange_explicit(&x->cur[k].c[b], 0, memory_order_relaxed);
      x->prev[b] = n;
    }
  }
  atomic_store(&d->rotating, 0);
}

double fr__drift_score_psi(fr__drift *d) {
  if (!d)
    return NAN;
  maybe_rotate(d);
  return psi_of(d, &d->score);
}

double fr__drift_feature_psi(fr__drift *d, size_t i) {
  if (!d || i >= d->nf)
    return NAN;
  return psi_of(d, &d->feat[i]);
}
