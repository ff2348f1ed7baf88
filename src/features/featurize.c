/*
 * featurize.c - the feature program, run once per transaction, identically
 * offline (fr_featurize_dataset replays a data set in event-time order with a
 * fresh state) and online (fr_featurize, one request at a time against the
 * live state).  The feature arithmetic (stateless transforms, window
 * aggregates, entity updates) exists once; the two paths differ only in how
 * they find an entity's record: online through the keyed hash of its key in
 * a state store, offline through dense per-row entity numbers computed once
 * from the data set's string dictionaries (no hashing or locking per row),
 * replaying one slot at a time (see "Offline replay" below).  Both
 * partition transactions into entities by the same key text and feed each
 * entity its events in the same order, so they give the same features bit
 * for bit; the tests replay streams both ways.
 *
 * Entity features read only events strictly before the transaction's event
 * time and windows are [t - w, t), so equal timestamps never see each other;
 * the transaction is inserted after its features are computed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "data/data_internal.h"
#include "features/internal.h"

#define FR__PI 3.14159265358979323846
/* Mean Earth radius R1 = 6371.0088 km (IUGG; H. Moritz, "Geodetic Reference
 * System 1980", Bulletin Geodesique 54, 1980). */
#define FR__EARTH_RADIUS_KM 6371.0088

/* cos of a latitude in degrees, through small per-thread caches (same
 * value as calling cos).  Two of them, by the point's role: the first point
 * of a haversine feature (a cardholder's home: a few thousand values that
 * come back) and its second (a merchant point, which in Sparkov is drawn
 * anew for every transaction), so that the stream of points that never come
 * back does not evict the ones that do.  Each entry holds the latitude and
 * its cosine; a zero cosine marks an empty entry. */
typedef struct coslat_entry {
  double lat, c;
} coslat_entry;
static _Thread_local coslat_entry tl_coslat_a[2048], tl_coslat_b[512];

static inline double cos_deg(double lat) { return cos(lat * (FR__PI / 180.0)); }

static double cos_lat(coslat_entry *cache, unsigned shift, double lat) {
  uint64_t bits;
  memcpy(&bits, &lat, sizeof bits);
  size_t i = (size_t)((bits * 0x9e3779b97f4a7c15ull) >> shift);
  if (cache[i].lat == lat && cache[i].c != 0)
    return cache[i].c;
  double c = cos_deg(lat);
  cache[i].lat = lat;
  cache[i].c = c;
  return c;
}

/* The haversine distance with cos(lat1) = c1 and cos(lat2) = c2 given. */
static double haversine_c(double lat1, double lon1, double c1, double lat2,
                          double lon2, double c2) {
  /* Haversine formula (R. W. Sinnott, "Virtues of the Haversine", Sky and
   * Telescope 68(2), 1984), stable for small distances. */
  double r = FR__PI / 180.0;
  double dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r;
  double sa = sin(dlat / 2), so = sin(dlon / 2);
  double a = sa * sa + c1 * c2 * so * so;
  if (a > 1)
    a = 1;
  return 2 * FR__EARTH_RADIUS_KM * asin(sqrt(a));
}

double fr__haversine_km(double lat1, double lon1, double lat2, double lon2) {
  return haversine_c(lat1, lon1, cos_lat(tl_coslat_a, 53, lat1), lat2, lon2,
                     cos_lat(tl_coslat_b, 55, lat2));
}

/* geo_velocity's previous point is, nearly always, the point its entity's
 * previous transaction had as current point: per thread, by the address of
 * the entity's record, the last current point's latitude and cosine.  A
 * hit compares the latitude, so a record that moved or another entity
 * sharing the entry can only cost a miss. */
static _Thread_local coslat_entry tl_geo_last[2048];

static coslat_entry *geo_last_of(const fr__entity *e) {
  uintptr_t p = (uintptr_t)e;
  return &tl_geo_last[(size_t)(((uint64_t)p * 0x9e3779b97f4a7c15ull) >> 53)];
}

/* a mod 7 in [0, 7) for an integer-valued a (a day number).  Integer
 * arithmetic when a is exactly an int64 (always, for any event time):
 * fmod of integer-valued doubles is exact, so both give the same value, and
 * glibc's fmod costs a hundred instructions. */
static double floor_mod7(double a) {
  if (fabs(a) < 9007199254740992.0) { /* 2^53: integers are exact */
    int64_t q = (int64_t)a % 7;
    if (q == 0)
      return signbit(a) ? -0.0 : 0.0; /* fmod keeps the sign of a zero result */
    return (double)(q < 0 ? q + 7 : q);
  }
  double r = fmod(a, 7.0);
  return r < 0 ? r + 7.0 : r;
}

/* ---- per-thread scratch ---------------------------------------------------
 * Grown on first use and kept: the request path allocates nothing in the
 * steady state.  Freed by the thread's exit only (a few KB per thread). */
static _Thread_local uint64_t *tl_hashes;
static _Thread_local size_t tl_hashes_cap;
static _Thread_local double *tl_res;
static _Thread_local size_t tl_res_cap;
static _Thread_local fr__entity *tl_ents;
static _Thread_local size_t tl_nents;
static _Thread_local int tl_registered;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

/* Runs in an exiting thread (pthread key destructor), while its
 * thread-local variables are still there: frees its scratch. */
static void scratch_free(void *unused) {
  (void)unused;
  free(tl_hashes);
  free(tl_res);
  for (size_t i = 0; i < tl_nents; i++)
    fr__entity_clear(&tl_ents[i]);
  free(tl_ents);
  tl_hashes = NULL;
  tl_res = NULL;
  tl_ents = NULL;
  tl_hashes_cap = tl_res_cap = tl_nents = 0;
  tl_registered = 0;
}

static void make_key(void) { pthread_key_create(&tl_key, scratch_free); }

/* Arranges for scratch_free at this thread's exit (once per thread). */
static void scratch_register(void) {
  if (tl_registered)
    return;
  pthread_once(&tl_once, make_key);
  pthread_setspecific(tl_key, &tl_registered); /* any non-NULL value */
  tl_registered = 1;
}

static double *res_scratch(size_t n) {
  if (n > tl_res_cap) {
    scratch_register();
    size_t nc = n < 256 ? 256 : n * 2;
    double *nb = realloc(tl_res, nc * sizeof *nb);
    if (!nb)
      return NULL;
    tl_res = nb;
    tl_res_cap = nc;
  }
  return tl_res;
}

static double field_num(const fr_txn *txn, int col) {
  if (col < 0 || (size_t)col >= txn->nfields || !txn->fields[col].present)
    return NAN;
  return txn->fields[col].num;
}

/* Hash of a cell for distinct counts: text for strings, bits for numbers. */
static int field_value_hash(const fr_field *fl, uint64_t *out) {
  if (!fl->present)
    return 0;
  if (fl->str) {
    *out = fr_hash_fnv1a(fl->str, fl->len);
  } else {
    double v = fl->num == 0 ? 0.0 : fl->num; /* -0 == 0 */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    *out = fr_hash_fnv1a(&bits, sizeof bits);
  }
  return 1;
}

static int field_hash(const fr_txn *txn, int col, uint64_t *out) {
  return field_value_hash(&txn->fields[col], out);
}

/* Local calendar position of a time, cached per thread: the hour, day and
 * cyclic features of one transaction share one computation. */
static _Thread_local double tl_local = NAN, tl_sod, tl_dow;
static _Thread_local double tl_sc_local = NAN, tl_sin, tl_cos;

/* pos: the category's position in the vocabulary (-1 unseen), or -2 when
 * the cell is missing; categorical ops only. */
static void stateless(const fr_featurizer *f, const fr__op *op, const fr_txn *txn,
                      float *out, long pos) {
  double t = txn->event_time, v = NAN;
  switch (op->kind) {
  case FR__K_NUMERIC:
    v = field_num(txn, op->col);
    break;
  case FR__K_LOG1P: {
    double x = field_num(txn, op->col);
    v = x > -1 ? log1p(x) : NAN;
    break;
  }
  case FR__K_CLIP: {
    double x = field_num(txn, op->col);
    v = isnan(x) ? NAN : fmin(fmax(x, op->lo), op->hi);
    break;
  }
  case FR__K_RATIO: {
    double a = field_num(txn, op->col), b = field_num(txn, op->col2);
    v = (b == 0 || isnan(a) || isnan(b)) ? NAN : a / b;
    break;
  }
  case FR__K_HOUR:
  case FR__K_DOW:
  case FR__K_HOUR_SIN:
  case FR__K_HOUR_COS:
  case FR__K_DOW_SIN:
  case FR__K_DOW_COS: {
    if (isnan(t))
      break;
    double local = t + op->utc_offset;
    if (op->tz)
      local = t + fr_tz_offset(op->tz, t); /* the zone's offset at t */
    if (op->offset_col >= 0) {
      double m = field_num(txn, op->offset_col);
      if (isnan(m))
        break;
      local += m * 60.0;
    }
    if (local != tl_local) {
      double days = floor(local / 86400.0);
      tl_sod = local - days * 86400.0;
      /* 1970-01-01 was a Thursday: Monday = 0 makes it 3. */
      tl_dow = floor_mod7(days + 3.0);
      tl_local = local;
    }
    double sod = tl_sod, dow = tl_dow;
    if (op->kind == FR__K_HOUR)
      v = floor(sod / 3600.0);
    else if (op->kind == FR__K_DOW)
      v = dow;
    else if (op->kind == FR__K_HOUR_SIN || op->kind == FR__K_HOUR_COS) {
      if (tl_sc_local != local) {
        /* hour_sin and hour_cos usually come together: one sincos. */
        sincos(2 * FR__PI * sod / 86400.0, &tl_sin, &tl_cos);
        tl_sc_local = local;
      }
      v = op->kind == FR__K_HOUR_SIN ? tl_sin : tl_cos;
    }
    else if (op->kind == FR__K_DOW_SIN)
      v = sin(2 * FR__PI * (dow * 86400.0 + sod) / 604800.0);
    else
      v = cos(2 * FR__PI * (dow * 86400.0 + sod) / 604800.0);
    break;
  }
  case FR__K_HAVERSINE: {
    double a = field_num(txn, op->lat1), b = field_num(txn, op->lon1);
    double c = field_num(txn, op->lat2), d = field_num(txn, op->lon2);
    if (!isnan(a) && !isnan(b) && !isnan(c) && !isnan(d))
      v = fr__haversine_km(a, b, c, d);
    break;
  }
  case FR__K_CATEGORY_CODE:
  case FR__K_ONE_HOT:
  case FR__K_FREQUENCY:
  case FR__K_TARGET_ENCODING: {
    const fr__encoder *enc = &f->encs[op->enc];
    if (pos == -2) {
      for (size_t j = 0; j < op->nout; j++)
        out[op->out + j] = NAN;
      return;
    }
    if (pos >= 0 && ((op->max_categories > 0 && pos >= op->max_categories) ||
                     enc->count[pos] < op->min_count))
      pos = -1; /* rare or beyond the cap: treated as unseen */
    if (op->kind == FR__K_CATEGORY_CODE) {
      v = pos >= 0 ? (double)pos : NAN;
    } else if (op->kind == FR__K_ONE_HOT) {
      for (size_t j = 0; j < op->nout; j++)
        out[op->out + j] = pos == (long)j ? 1.0f : 0.0f;
      return;
    } else if (op->kind == FR__K_FREQUENCY) {
      v = pos >= 0 && enc->total > 0 ? enc->count[pos] / enc->total : 0.0;
    } else {
      double prior = enc->total > 0 ? enc->total_pos / enc->total : NAN;
      v = pos >= 0 ? (enc->pos[pos] + op->smoothing * prior) /
                         (enc->count[pos] + op->smoothing)
                   : prior;
    }
    break;
  }
  default:
    break;
  }
  out[op->out] = (float)v;
}

static long category_pos(const fr_featurizer *f, const fr__op *op,
                         const fr_txn *txn) {
  if (op->enc < 0)
    return -1;
  const fr_field *fl = &txn->fields[op->col];
  if (!fl->present)
    return -2;
  return fr__encoder_find(&f->encs[op->enc], fl->str, fl->len);
}

/* ---- window aggregates ----------------------------------------------------
 * Per window the result block holds: count, then per value n, sum, min,
 * max, m2 (sum of squared deviations from the window mean, only for values
 * a std or zscore reads). */

#define R_N 0
#define R_SUM 1
#define R_MIN 2
#define R_MAX 3
#define R_M2 4

typedef struct running {
  double count;
  double v[FR__MAX_VALS][4]; /* n, sum, min, max */
} running;

static void run_init(running *r, size_t nv) {
  r->count = 0;
  for (size_t k = 0; k < nv; k++) {
    r->v[k][0] = r->v[k][1] = 0;
    r->v[k][2] = INFINITY;
    r->v[k][3] = -INFINITY;
  }
}

static inline void run_add_event(running *r, const double *ev, size_t nv) {
  r->count += 1;
  for (size_t k = 0; k < nv; k++) {
    double x = ev[1 + k];
    if (isnan(x))
      continue;
    double *a = r->v[k];
    a[0] += 1;
    a[1] += x;
    if (x < a[2])
      a[2] = x;
    if (x > a[3])
      a[3] = x;
  }
}

static inline void run_add_bucket(running *r, const double *b, size_t nv) {
  r->count += b[1];
  for (size_t k = 0; k < nv; k++) {
    const double *bv = b + 2 + 5 * k;
    if (bv[0] <= 0)
      continue;
    double *a = r->v[k];
    a[0] += bv[0];
    a[1] += bv[1];
    if (bv[3] < a[2])
      a[2] = bv[3];
    if (bv[4] > a[3])
      a[3] = bv[4];
  }
}

/* res = log part (+ bucket part when b != NULL). */
static void run_store(double *res, const running *l, const running *b,
                      size_t nv) {
  res[0] = l->count + (b ? b->count : 0);
  for (size_t k = 0; k < nv; k++) {
    double *o = res + 1 + 5 * k;
    const double *x = l->v[k];
    o[R_N] = x[0];
    o[R_SUM] = x[1];
    o[R_MIN] = x[2];
    o[R_MAX] = x[3];
    o[R_M2] = 0;
    if (b) {
      const double *y = b->v[k];
      o[R_N] += y[0];
      o[R_SUM] += y[1];
      if (y[2] < o[R_MIN])
        o[R_MIN] = y[2];
      if (y[3] > o[R_MAX])
        o[R_MAX] = y[3];
    }
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Distinct non-missing hashes (value hidx) among the log events in the
 * window [t - w, t) that ends at log index `end`.  known: when not NULL, the
 * log index where that window starts, as an exact window of the same length
 * found it (slot_features); else it is searched here. */
static double distinct_count(const fr__slot *sl, const fr__entity *e,
                             uint32_t end, double t, double w, int hidx,
                             const uint32_t *known) {
  if (!e)
    return 0;
  size_t h0 = 1 + sl->nvals + (size_t)hidx, stride = sl->stride;
  uint32_t start = end;
  if (known) {
    start = *known;
  } else {
    double from = t - w;
    while (start > 0 && e->ev[(size_t)(start - 1) * stride] >= from)
      start--;
  }
  if (end - start <= 16) {
    /* A window of at most 16 events, the common case: compare in place. */
    size_t d = 0;
    for (uint32_t i = start; i < end; i++) {
      uint64_t h;
      memcpy(&h, &e->ev[(size_t)i * stride + h0], sizeof h);
      if (h == 0)
        continue; /* missing value */
      uint32_t j = start;
      for (; j < i; j++) {
        uint64_t g;
        memcpy(&g, &e->ev[(size_t)j * stride + h0], sizeof g);
        if (g == h)
          break;
      }
      d += j == i;
    }
    return (double)d;
  }
  size_t m = 0;
  for (uint32_t i = end; i > start; i--) {
    uint64_t h;
    memcpy(&h, &e->ev[(size_t)(i - 1) * stride + h0], sizeof h);
    if (h == 0)
      continue; /* missing value */
    if (m == tl_hashes_cap) {
      scratch_register();
      size_t nc = tl_hashes_cap ? tl_hashes_cap * 2 : 256;
      uint64_t *nb = realloc(tl_hashes, nc * sizeof *nb);
      if (!nb)
        return NAN;
      tl_hashes = nb;
      tl_hashes_cap = nc;
    }
    tl_hashes[m++] = h;
  }
  if (m == 0)
    return 0;
  qsort(tl_hashes, m, sizeof *tl_hashes, cmp_u64);
  size_t d = 1;
  for (size_t i = 1; i < m; i++)
    d += tl_hashes[i] != tl_hashes[i - 1];
  return (double)d;
}

/* The exact windows of a slot with one value, as the loop in slot_features
 * computes them with run_add_event / run_store (same operations, same
 * order, so the same results), with the running count, n, sum, min and max
 * in registers rather than in a `running` block in memory, where each
 * event's additions wait for the previous event's stores.  Returns the log
 * index where the longest exact window starts. */
static uint32_t exact_windows_1(const fr__slot *sl, const fr__entity *e,
                                uint32_t end, double t, double *res,
                                double *rng) {
  size_t stride = sl->stride, rs = 1 + 5;
  double count = 0, n = 0, sum = 0, mn = INFINITY, mx = -INFINITY;
  uint32_t i = end;
  for (size_t k = 0; k < sl->nexact; k++) {
    double from = t - sl->win[k].w;
    while (i > 0 && e->ev[(size_t)(i - 1) * stride] >= from) {
      double x = e->ev[(size_t)(i - 1) * stride + 1];
      count += 1;
      if (!isnan(x)) {
        n += 1;
        sum += x;
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
      }
      i--;
    }
    double *o = res + k * rs;
    o[0] = count;
    o[1 + R_N] = n;
    o[1 + R_SUM] = sum;
    o[1 + R_MIN] = mn;
    o[1 + R_MAX] = mx;
    o[1 + R_M2] = 0;
    rng[3 * k] = i;
    rng[3 * k + 1] = rng[3 * k + 2] = 0;
  }
  return i;
}

/* Sum of squared deviations from `mean` of value k over log events
 * [from, end) and buckets [b0, b1). */
static double window_m2(const fr__slot *sl, const fr__entity *e, uint32_t from,
                        uint32_t end, uint32_t b0, uint32_t b1, size_t k,
                        double mean) {
  double m2 = 0;
  for (uint32_t i = end; i > from; i--) {
    double x = e->ev[(size_t)(i - 1) * sl->stride + 1 + k];
    if (!isnan(x))
      m2 += (x - mean) * (x - mean);
  }
  /* Buckets: their own M2 plus the shift of their mean (the decomposition of
   * T. F. Chan, G. H. Golub, R. J. LeVeque, "Algorithms for computing the
   * sample variance", The American Statistician 37(3), 1983). */
  for (uint32_t j = b1; j > b0; j--) {
    const double *bv = e->bk + (size_t)(j - 1) * sl->bstride + 2 + 5 * k;
    if (bv[0] <= 0)
      continue;
    double d = bv[1] / bv[0] - mean;
    m2 += bv[2] + bv[0] * d * d;
  }
  return m2;
}

/* The features of slot sl for the transaction whose event tuple (make_tuple:
 * event time, then the slot's values, hashes and geo points) is `tuple`,
 * from the entity's record e (NULL: no history), into out[op->out].  The
 * tuple holds every transaction value a slot feature reads (ratio_to_mean
 * and zscore read value op->vidx, geo_velocity point op->gidx). */
static void slot_features(const fr_featurizer *f, const fr__slot *sl,
                          const fr__entity *e, const double *tuple, float *out) {
  double t = tuple[0];
  size_t nv = sl->nvals, rs = 1 + 5 * nv, stride = sl->stride;
  uint32_t end = e ? fr__entity_before(e, stride, t) : 0;
  /* Per window: result block, and the log / bucket ranges it covers. */
  double *res = sl->nwin ? res_scratch(sl->nwin * (rs + 3)) : NULL;
  if (sl->nwin && !res) {
    for (size_t k = 0; k < sl->nop_idx; k++) {
      const fr__op *op = &f->ops[sl->op_idx[k]];
      out[op->out] = NAN;
    }
    return;
  }
  double *rng = res + sl->nwin * rs; /* log start, bucket b0, bucket b1 */
  running run;
  if (sl->nwin) {
    /* Exact windows, ascending: one backward pass over the log. */
    run_init(&run, nv);
    uint32_t i = end;
    if (nv == 1)
      i = exact_windows_1(sl, e, end, t, res, rng);
    for (size_t k = 0; nv != 1 && k < sl->nexact; k++) {
      double from = t - sl->win[k].w;
      while (i > 0 && e->ev[(size_t)(i - 1) * stride] >= from) {
        run_add_event(&run, e->ev + (size_t)(i - 1) * stride, nv);
        i--;
      }
      run_store(res + k * rs, &run, NULL, nv);
      rng[3 * k] = i;
      rng[3 * k + 1] = rng[3 * k + 2] = 0;
    }
    if (sl->nwin > sl->nexact) {
      /* Bucketed windows: the log for the newest, still open bucket
       * [cur, t), closed buckets [b, cur) with b = ceil((t - w) / W) * W,
       * so a window is exact over [b, t) whatever was folded when. */
      double W = sl->bucket_width, cur = floor(t / W) * W;
      running lrun, brun;
      run_init(&lrun, nv);
      run_init(&brun, nv);
      uint32_t li = end;
      while (li > 0 && e && e->ev[(size_t)(li - 1) * stride] >= cur) {
        run_add_event(&lrun, e->ev + (size_t)(li - 1) * stride, nv);
        li--;
      }
      uint32_t j = e ? e->nb : 0;
      while (j > 0 && e->bk[(size_t)(j - 1) * sl->bstride] >= cur)
        j--;
      uint32_t b1 = j;
      for (size_t k = sl->nexact; k < sl->nwin; k++) {
        double b = ceil((t - sl->win[k].w) / W) * W;
        while (j > 0 && e->bk[(size_t)(j - 1) * sl->bstride] >= b) {
          run_add_bucket(&brun, e->bk + (size_t)(j - 1) * sl->bstride, nv);
          j--;
        }
        run_store(res + k * rs, &lrun, &brun, nv);
        rng[3 * k] = li;
        rng[3 * k + 1] = j;
        rng[3 * k + 2] = b1;
      }
    }
    /* Squared deviations where a std or zscore needs them (two-pass, about
     * the window's own mean). */
    for (size_t k = 0; k < sl->nwin; k++) {
      uint64_t mask = sl->win[k].m2mask;
      for (size_t v = 0; mask && v < nv; v++, mask >>= 1) {
        if (!(mask & 1))
          continue;
        double *o = res + k * rs + 1 + 5 * v;
        if (o[R_N] > 1)
          o[R_M2] = window_m2(sl, e, (uint32_t)rng[3 * k], end,
                              (uint32_t)rng[3 * k + 1], (uint32_t)rng[3 * k + 2],
                              v, o[R_SUM] / o[R_N]);
      }
    }
  }
  for (size_t k = 0; k < sl->nop_idx; k++) {
    const fr__op *op = &f->ops[sl->op_idx[k]];
    double v = NAN;
    const double *r = op->widx >= 0 ? res + (size_t)op->widx * rs : NULL;
    const double *o = r && op->vidx >= 0 ? r + 1 + 5 * op->vidx : NULL;
    switch (op->kind) {
    case FR__K_COUNT:
      v = r[0];
      break;
    case FR__K_SUM:
      v = o[R_SUM];
      break;
    case FR__K_MEAN:
      v = o[R_N] > 0 ? o[R_SUM] / o[R_N] : NAN;
      break;
    case FR__K_MIN:
      v = o[R_N] > 0 ? o[R_MIN] : NAN;
      break;
    case FR__K_MAX:
      v = o[R_N] > 0 ? o[R_MAX] : NAN;
      break;
    case FR__K_STD:
      v = o[R_N] > 1 ? sqrt(o[R_M2] / (o[R_N] - 1)) : NAN;
      break;
    case FR__K_RATIO_TO_MEAN: {
      double x = tuple[1 + op->vidx];
      double mean = o[R_N] > 0 ? o[R_SUM] / o[R_N] : NAN;
      v = o[R_N] > 0 && mean != 0 && !isnan(x) ? x / mean : NAN;
      break;
    }
    case FR__K_ZSCORE: {
      double x = tuple[1 + op->vidx];
      double sd = o[R_N] > 1 ? sqrt(o[R_M2] / (o[R_N] - 1)) : NAN;
      v = sd > 0 && !isnan(x) ? (x - o[R_SUM] / o[R_N]) / sd : NAN;
      break;
    }
    case FR__K_DISTINCT: {
      /* An exact window of the same length has found where it starts. */
      uint32_t start, *known = NULL;
      for (size_t w = 0; w < sl->nexact; w++)
        if (sl->win[w].w == op->window) {
          start = (uint32_t)rng[3 * w];
          known = &start;
        }
      v = distinct_count(sl, e, end, t, op->window, op->hidx, known);
      break;
    }
    case FR__K_TIME_SINCE_PREV:
      if (e && end > 0)
        v = t - e->ev[(size_t)(end - 1) * stride];
      else if (e && e->pruned_ts < t)
        v = t - e->pruned_ts;
      break;
    case FR__K_FIRST_SEEN:
      v = (!e || isnan(e->first_ts) || e->first_ts >= t) ? 1.0 : 0.0;
      break;
    case FR__K_GEO_VELOCITY: {
      size_t g0 = 1 + sl->nvals + sl->nhash + 2 * (size_t)op->gidx;
      double lat = tuple[g0], lon = tuple[g0 + 1];
      if (isnan(lat) || isnan(lon) || !e)
        break;
      double pt = NAN, plat = NAN, plon = NAN;
      for (uint32_t i = end; i > 0; i--) {
        const double *ev = e->ev + (size_t)(i - 1) * stride;
        if (!isnan(ev[g0]) && !isnan(ev[g0 + 1])) {
          pt = ev[0];
          plat = ev[g0];
          plon = ev[g0 + 1];
          break;
        }
      }
      const double *an = &e->anchor[3 * op->gidx];
      if (isnan(pt) && an[0] < t) {
        pt = an[0];
        plat = an[1];
        plon = an[2];
      }
      if (!isnan(pt) && t > pt) {
        coslat_entry *m = geo_last_of(e);
        double c1 = m->lat == plat && m->c != 0 ? m->c : cos_deg(plat);
        double c2 = cos_lat(tl_coslat_b, 55, lat);
        m->lat = lat;
        m->c = c2;
        v = haversine_c(plat, plon, c1, lat, lon, c2) / ((t - pt) / 3600.0);
      }
      break;
    }
    default:
      break;
    }
    out[op->out] = (float)v;
  }
}

/* A transaction without the entity's key (a key column is missing) has no
 * such entity: every feature of the entity is missing. */
static void slot_missing(const fr_featurizer *f, const fr__slot *sl, float *out) {
  for (size_t k = 0; k < sl->nop_idx; k++)
    out[f->ops[sl->op_idx[k]].out] = NAN;
}

/* The event tuple this transaction adds to slot sl.  hashes: when not
 * NULL, the precomputed (field_hash) values of the slot's hashed columns
 * (offline path), 0 = missing.  idh: when not NULL, the precomputed hash of
 * the transaction id (as below). */
static void make_tuple(const fr__slot *sl, const fr_txn *txn, double *tuple,
                       const uint64_t *hashes, const uint64_t *idh) {
  tuple[0] = txn->event_time;
  size_t o = 1;
  for (size_t k = 0; k < sl->nvals; k++)
    tuple[o++] = field_num(txn, sl->val_cols[k]);
  for (size_t k = 0; k < sl->nhash; k++) {
    uint64_t h = 0;
    if (hashes)
      h = hashes[k];
    else if (!field_hash(txn, sl->hash_cols[k], &h))
      h = 0;
    else if (h == 0)
      h = 1; /* 0 marks "missing" */
    memcpy(&tuple[o++], &h, sizeof h);
  }
  for (size_t k = 0; k < sl->ngeo; k++) {
    tuple[o++] = field_num(txn, sl->geo_lat[k]);
    tuple[o++] = field_num(txn, sl->geo_lon[k]);
  }
  if (sl->id_col >= 0) {
    /* The transaction id's hash bits, 0 = no id (never a duplicate). */
    uint64_t h = 0;
    if (idh)
      h = *idh;
    else if (!field_hash(txn, sl->id_col, &h))
      h = 0;
    else if (h == 0)
      h = 1;
    memcpy(&tuple[o++], &h, sizeof h);
  }
}

int fr__entity_hash(const fr__slot *sl, const fr_txn *txn,
                    const uint8_t key[FR_HASH_KEY_BYTES], uint64_t *h,
                    fr_error *err) {
  /* "entity\0key1\x1fkey2...": the entity name keeps the card "42" and the
   * merchant "42" apart; the unit separator keeps ("ab","c") and ("a","bc")
   * apart. */
  char buf[4096];
  size_t o = strlen(sl->name) + 1;
  if (o >= sizeof buf)
    goto too_long;
  memcpy(buf, sl->name, o);
  for (size_t i = 0; i < sl->ncols; i++) {
    const fr_field *fl = &txn->fields[sl->cols[i]];
    if (!fl->present)
      return 0;
    if (i > 0) {
      if (o + 1 >= sizeof buf)
        goto too_long;
      buf[o++] = '\x1f';
    }
    if (fl->str) {
      if (o + fl->len >= sizeof buf)
        goto too_long;
      memcpy(buf + o, fl->str, fl->len);
      o += fl->len;
    } else {
      char num[40];
      int n = fr_fmt_double(num, sizeof num, fl->num == 0 ? 0.0 : fl->num);
      if (o + (size_t)n >= sizeof buf)
        goto too_long;
      memcpy(buf + o, num, (size_t)n);
      o += (size_t)n;
    }
  }
  *h = fr_hash_keyed(key, buf, o);
  return 1;
too_long:
  return fr_error_set(err, FR_EINVAL, "entity '%s': key longer than %zu bytes",
                      sl->name, sizeof buf);
}

/* Inserts the event tuple (make_tuple) into entity e unless it is later
 * than the allowed lateness or a replay of a transaction e holds.  *late: 0
 * in order, 1 late but inserted, 2 late and dropped, 3 duplicate (same event
 * time and transaction id as a held event: not inserted). */
static int apply_update(const fr__slot *sl, fr__entity *e, const double *tuple,
                        double lateness, int *modified, int *late) {
  double t = tuple[0];
  *modified = 0;
  *late = 0;
  if (!isnan(e->latest_ts) && t < e->latest_ts) {
    if (t < e->latest_ts - lateness) {
      *late = 2; /* scored with the current state, not inserted */
      return 0;
    }
    *late = 1;
  }
  int rc = fr__entity_insert(e, sl, tuple, lateness);
  if (rc == 1) {
    *late = 3;
    return 0;
  }
  *modified = rc == 0;
  return rc;
}

static void count_late(fr_state *st, int late, unsigned *flags) {
  if (late == 1)
    atomic_fetch_add(&st->c.late_inserted, 1);
  else if (late == 2) {
    atomic_fetch_add(&st->c.late_dropped, 1);
    *flags |= FR_FEATURIZE_LATE;
  } else if (late == 3) {
    *flags |= FR_FEATURIZE_DUPLICATE; /* counted once per transaction */
  }
}

/* ---- remote (batched) path ---------------------------------------------- */

static fr__entity *remote_scratch(size_t n) {
  if (n > tl_nents) {
    scratch_register();
    fr__entity *ne = realloc(tl_ents, n * sizeof *ne);
    if (!ne)
      return NULL;
    for (size_t i = tl_nents; i < n; i++)
      fr__entity_init(&ne[i]);
    tl_ents = ne;
    tl_nents = n;
  }
  return tl_ents;
}

static int featurize_remote(const fr_featurizer *f, const fr_txn *txn,
                            fr_state *st, float *out, int update,
                            unsigned *flags, fr_error *err) {
  size_t ns = f->nslots;
  fr__remote_item items[ns ? ns : 1];
  double tuple[FR__MAX_TUPLE];
  fr__entity *ents = remote_scratch(ns);
  if (!ents)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  size_t n = 0;
  int item_of[ns ? ns : 1];
  for (size_t s = 0; s < ns; s++) {
    uint64_t h;
    int rc = fr__entity_hash(&f->slots[s], txn, st->opt.hash_key, &h, err);
    if (rc < 0)
      return rc;
    item_of[s] = -1;
    if (rc == 0)
      continue;
    item_of[s] = (int)n;
    /* Scratch records are per slot: a record's capacity is counted in
     * events of its slot's layout. */
    items[n] = (fr__remote_item){.slot = (int)s, .key = h, .ent = &ents[s]};
    n++;
  }
  int rc = n ? st->vt->fetch(st, items, n, err) : 0;
  if (rc) {
    atomic_fetch_add(&st->c.errors, 1);
    if (rc != FR_EUNAVAIL || !st->outage_empty)
      return rc;
    /* Outage, configured to score anyway: no history, nothing stored. */
    atomic_fetch_add(&st->c.degraded, 1);
    *flags |= FR_FEATURIZE_DEGRADED;
    for (size_t s = 0; s < ns; s++) {
      if (item_of[s] >= 0) {
        make_tuple(&f->slots[s], txn, tuple, NULL, NULL);
        slot_features(f, &f->slots[s], NULL, tuple, out);
      } else {
        slot_missing(f, &f->slots[s], out);
      }
    }
    return 0;
  }
  for (size_t s = 0; s < ns; s++) {
    if (item_of[s] >= 0) {
      make_tuple(&f->slots[s], txn, tuple, NULL, NULL);
      slot_features(f, &f->slots[s], items[item_of[s]].ent, tuple, out);
    } else {
      slot_missing(f, &f->slots[s], out);
    }
  }
  if (!update || n == 0)
    return 0;
  for (size_t i = 0; i < n; i++) {
    const fr__slot *sl = &f->slots[items[i].slot];
    make_tuple(sl, txn, tuple, NULL, NULL);
    rc = apply_update(sl, items[i].ent, tuple, st->opt.allowed_lateness,
                      &items[i].modified, &items[i].late);
    if (rc)
      return fr_error_set(err, rc, "out of memory updating entity state");
  }
  rc = st->vt->store(st, items, n, err);
  for (int attempt = 0; rc == 0; attempt++) {
    /* Entities someone else updated between our read and write: read again,
     * recompute that entity's features, write again. */
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
      if (!items[i].conflict) {
        count_late(st, items[i].late, flags);
        continue;
      }
      items[nc++] = items[i];
    }
    if (nc == 0)
      return 0;
    atomic_fetch_add(&st->c.conflicts, nc);
    if (attempt >= st->max_retries)
      return fr_error_set(err, FR_EUNAVAIL,
                          "state store: %zu entities still contended after %d "
                          "compare-and-set retries", nc, attempt);
    n = nc;
    for (size_t i = 0; i < n; i++)
      items[i].conflict = 0;
    if ((rc = st->vt->fetch(st, items, n, err)))
      break;
    for (size_t i = 0; i < n; i++) {
      const fr__slot *sl = &f->slots[items[i].slot];
      make_tuple(sl, txn, tuple, NULL, NULL);
      slot_features(f, sl, items[i].ent, tuple, out);
      rc = apply_update(sl, items[i].ent, tuple, st->opt.allowed_lateness,
                        &items[i].modified, &items[i].late);
      if (rc)
        return fr_error_set(err, rc, "out of memory updating entity state");
    }
    rc = st->vt->store(st, items, n, err);
  }
  atomic_fetch_add(&st->c.errors, 1);
  if (rc == FR_EUNAVAIL && st->outage_empty) {
    /* Features were computed from the stored history; the update is lost. */
    atomic_fetch_add(&st->c.degraded, 1);
    *flags |= FR_FEATURIZE_DEGRADED;
    return 0;
  }
  return rc;
}

int fr__featurize_one(const fr_featurizer *f, const fr_txn *txn, fr_state *st,
                      float *out, int update, unsigned *flags, fr_error *err) {
  unsigned fl = 0;
  if (!flags)
    flags = &fl;
  *flags = 0;
  if (!f->fitted)
    return fr_error_set(err, FR_ESTATE,
                        "feature spec has categorical encoders that are not "
                        "fitted (train a model, or load a bundle's spec)");
  if (txn->nfields != fr_schema_ncols(f->schema))
    return fr_error_set(err, FR_EINVAL,
                        "transaction has %zu fields, schema '%s' has %zu",
                        txn->nfields, fr_schema_name(f->schema),
                        fr_schema_ncols(f->schema));
  if (f->needs_time && isnan(txn->event_time))
    return fr_error_set(err, FR_EINVAL, "transaction has no event time");
  for (size_t i = 0; i < f->nops; i++)
    if (f->ops[i].slot < 0)
      stateless(f, &f->ops[i], txn, out, category_pos(f, &f->ops[i], txn));
  if (st && st->f != f &&
      strcmp(st->f->state_digest, f->state_digest) != 0)
    return fr_error_set(err, FR_EINVAL,
                        "state store was made for another state layout");
  if (st && st->vt->fetch) {
    int rc = featurize_remote(f, txn, st, out, update, flags, err);
    if (*flags & FR_FEATURIZE_DUPLICATE)
      atomic_fetch_add(&st->c.duplicates, 1);
    return rc;
  }
  double tuple[FR__MAX_TUPLE];
  /* The entity hashes first (up to PREFETCH_SLOTS of them), each entity's
   * table memory prefetched, so that its cache misses overlap; a hash that
   * fails is computed again below, where its error is reported in slot
   * order as before. */
  enum { PREFETCH_SLOTS = 8 };
  uint64_t pre_h[PREFETCH_SLOTS];
  int pre_k[PREFETCH_SLOTS];
  size_t npre = 0;
  if (st && st->vt->prefetch) {
    for (; npre < f->nslots && npre < PREFETCH_SLOTS; npre++) {
      pre_h[npre] = 0;
      pre_k[npre] = fr__entity_hash(&f->slots[npre], txn, st->opt.hash_key, &pre_h[npre], NULL);
      if (pre_k[npre] < 0)
        break;
      if (pre_k[npre] > 0)
        st->vt->prefetch(st, (int)npre, pre_h[npre]);
    }
  }
  for (size_t s = 0; s < f->nslots; s++) {
    const fr__slot *sl = &f->slots[s];
    uint64_t h = 0;
    int k;
    if (s < npre) {
      h = pre_h[s];
      k = pre_k[s];
    } else {
      k = st ? fr__entity_hash(sl, txn, st->opt.hash_key, &h, err) : 0;
    }
    if (k < 0)
      return k;
    if (k == 0 && st) {
      /* No key (a key column is missing): no entity. */
      slot_missing(f, sl, out);
      continue;
    }
    make_tuple(sl, txn, tuple, NULL, NULL);
    if (k == 0) {
      /* No state: no history. */
      slot_features(f, sl, NULL, tuple, out);
      continue;
    }
    fr__entity_ref ref = {0};
    int rc = st->vt->begin(st, (int)s, h, update, &ref, err);
    if (rc)
      return rc;
    slot_features(f, sl, ref.ent, tuple, out);
    int modified = 0, late = 0;
    if (update && ref.ent) {
      rc = apply_update(sl, ref.ent, tuple, st->opt.allowed_lateness, &modified,
                        &late);
      if (rc) {
        st->vt->commit(st, &ref, 0, NULL);
        return fr_error_set(err, rc, "out of memory updating entity state");
      }
      count_late(st, late, flags);
    }
    if ((rc = st->vt->commit(st, &ref, modified, err)))
      return rc;
  }
  if (*flags & FR_FEATURIZE_DUPLICATE)
    atomic_fetch_add(&st->c.duplicates, 1);
  return 0;
}

int fr_featurize(const fr_featurizer *f, const fr_txn *txn, fr_state *st,
                 float *out_row, int update, fr_error *err) {
  return fr_featurize_ex(f, txn, st, out_row, update, NULL, err);
}

int fr_featurize_ex(const fr_featurizer *f, const fr_txn *txn, fr_state *st,
                    float *out_row, int update, unsigned *flags, fr_error *err) {
  if (flags)
    *flags = 0;
  if (!f || !txn || !out_row)
    return fr_error_set(err, FR_EINVAL, "fr_featurize: NULL argument");
  return fr__featurize_one(f, txn, st, out_row, update, flags, err);
}

int fr_featurizer_fit(fr_featurizer *f, const fr_dataset *d, const size_t *rows,
                      size_t n, fr_error *err) {
  if (!f || !d || (!rows && n))
    return fr_error_set(err, FR_EINVAL, "fr_featurizer_fit: NULL argument");
  if (fr_dataset_schema(d) != f->schema &&
      fr_schema_ncols(fr_dataset_schema(d)) != fr_schema_ncols(f->schema))
    return fr_error_set(err, FR_EINVAL, "data set and featurizer use different schemas");
  for (size_t i = 0; i < f->nencs; i++) {
    int rc = fr__encoder_fit(&f->encs[i], d, rows, n, 1, 0, err);
    if (rc)
      return rc;
  }
  f->fitted = 1;
  fr__featurizer_name_one_hot(f);
  return 0;
}

/* Asks the kernel to map the whole of a large, fresh buffer at once
 * (madvise(2) MADV_POPULATE_WRITE, Linux 5.14): cheaper than the one page
 * fault per 4 KiB page that writing it row by row costs (the CPU time is
 * still this thread's: the kernel does it in the call).  The pages are the
 * same zeroed pages either way; where the call is not supported (older
 * kernels: EINVAL, ignored) nothing changes. */
static void prefault(void *p, size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  uintptr_t page = 4096, a = ((uintptr_t)p + page - 1) & ~(page - 1);
  uintptr_t b = ((uintptr_t)p + bytes) & ~(page - 1);
  if (bytes >= ((size_t)1 << 20) && b > a)
    (void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)bytes;
#endif
}

/* ---- offline: dense entity numbers ---------------------------------------
 * Each row's entity of each slot as a number 0..n-1, from the data set's
 * string dictionaries (equal text = equal dictionary id), combined column by
 * column for composite keys.  Keys are made dense by an LSD radix sort of
 * (key, row) pairs, O(rows). */

typedef struct kr {
  uint64_t key;
  uint32_t row;
} kr;

/* keys[r] (UINT64_MAX = missing) -> ids[r] dense in sorted key order. */
static int densify(const uint64_t *keys, size_t rows, uint32_t *ids,
                   uint64_t *ndistinct) {
  /* Keys of a small range (composite keys of dictionary ids: at most the
   * product of the columns' distinct counts): number them through a table
   * indexed by key, one pass over the range, instead of sorting. */
  uint64_t lim = (uint64_t)rows * 4 + 65536, top = 0;
  for (size_t r = 0; r < rows && top < lim; r++)
    if (keys[r] != UINT64_MAX && keys[r] >= top)
      top = keys[r] + 1;
  if (top < lim) {
    uint32_t *map = calloc(top ? top : 1, sizeof *map);
    if (!map)
      return FR_ENOMEM;
    for (size_t r = 0; r < rows; r++)
      if (keys[r] != UINT64_MAX)
        map[keys[r]] = 1;
    uint32_t next = 0;
    for (uint64_t k = 0; k < top; k++)
      if (map[k])
        map[k] = ++next; /* id + 1, in key order as the sort gives */
    for (size_t r = 0; r < rows; r++)
      ids[r] = keys[r] == UINT64_MAX ? UINT32_MAX : map[keys[r]] - 1;
    *ndistinct = next;
    free(map);
    return 0;
  }
  kr *a = malloc((rows ? rows : 1) * sizeof *a);
  kr *b = malloc((rows ? rows : 1) * sizeof *b);
  size_t *cnt = malloc(65537 * sizeof *cnt);
  if (!a || !b || !cnt) {
    free(a);
    free(b);
    free(cnt);
    return FR_ENOMEM;
  }
  size_t m = 0;
  uint64_t maxk = 0;
  for (size_t r = 0; r < rows; r++) {
    ids[r] = UINT32_MAX;
    if (keys[r] == UINT64_MAX)
      continue;
    a[m].key = keys[r];
    a[m].row = (uint32_t)r;
    if (keys[r] > maxk)
      maxk = keys[r];
    m++;
  }
  for (int shift = 0; shift < 64 && (maxk >> shift) != 0; shift += 16) {
    memset(cnt, 0, 65537 * sizeof *cnt);
    for (size_t i = 0; i < m; i++)
      cnt[((a[i].key >> shift) & 0xffff) + 1]++;
    for (size_t i = 1; i <= 65536; i++)
      cnt[i] += cnt[i - 1];
    for (size_t i = 0; i < m; i++)
      b[cnt[(a[i].key >> shift) & 0xffff]++] = a[i];
    kr *tmp = a;
    a = b;
    b = tmp;
  }
  uint64_t next = 0;
  for (size_t i = 0; i < m; i++) {
    if (i > 0 && a[i].key != a[i - 1].key)
      next++;
    ids[a[i].row] = (uint32_t)next;
  }
  *ndistinct = m ? next + 1 : 0;
  free(a);
  free(b);
  free(cnt);
  return 0;
}

/* Dense ids of the rows' values of column col: 1 done, 0 when the column
 * cannot be numbered this way (strings not interned), <0 error. */
static int column_ids(const fr_dataset *d, int col, uint32_t *ids,
                      uint64_t *n) {
  size_t rows = fr_dataset_rows(d);
  const fr_schema *s = fr_dataset_schema(d);
  const fr_column_info *ci = fr_schema_column(s, (size_t)col);
  if (!fr__dataset_has_column(d, col)) {
    for (size_t r = 0; r < rows; r++)
      ids[r] = UINT32_MAX;
    *n = 0;
    return 1;
  }
  if (ci->type == FR_COL_STRING) {
    if (ci->role == FR_ROLE_ID || ci->role == FR_ROLE_EVENT_TIME)
      return 0; /* not interned: equal text may have several ids */
    const uint32_t *sid = fr__dataset_string_ids(d, (size_t)col);
    size_t nd;
    fr__dataset_dict(d, (size_t)col, &nd);
    if (!sid)
      return 0;
    memcpy(ids, sid, rows * sizeof *ids); /* FR__NO_STRING = UINT32_MAX */
    *n = nd;
    return 1;
  }
  const double *num = fr__dataset_numbers(d, (size_t)col);
  if (!num)
    return 0;
  uint64_t *keys = malloc((rows ? rows : 1) * sizeof *keys);
  if (!keys)
    return FR_ENOMEM;
  for (size_t r = 0; r < rows; r++) {
    double v = num[r] == 0 ? 0.0 : num[r];
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    /* Order-preserving map of the bits; NaN (missing) -> UINT64_MAX. */
    keys[r] = isnan(v) ? UINT64_MAX
                       : (bits >> 63 ? ~bits : bits | (1ull << 63)) >> 1;
  }
  int rc = densify(keys, rows, ids, n);
  free(keys);
  return rc ? rc : 1;
}

/* Slot ids: 1 done, 0 not possible, <0 error. */
static int slot_ids(const fr_dataset *d, const fr__slot *sl, uint32_t *ids,
                    uint64_t *nent) {
  size_t rows = fr_dataset_rows(d);
  int rc = column_ids(d, sl->cols[0], ids, nent);
  if (rc <= 0 || sl->ncols == 1)
    return rc;
  uint32_t *next = malloc((rows ? rows : 1) * sizeof *next);
  uint64_t *keys = malloc((rows ? rows : 1) * sizeof *keys);
  if (!next || !keys) {
    free(next);
    free(keys);
    return FR_ENOMEM;
  }
  for (size_t c = 1; c < sl->ncols && rc > 0; c++) {
    uint64_t nn;
    rc = column_ids(d, sl->cols[c], next, &nn);
    if (rc <= 0)
      break;
    for (size_t r = 0; r < rows; r++)
      keys[r] = ids[r] == UINT32_MAX || next[r] == UINT32_MAX
                    ? UINT64_MAX
                    : (uint64_t)ids[r] * (nn + 1) + next[r];
    int r2 = densify(keys, rows, ids, nent);
    if (r2)
      rc = r2;
  }
  free(next);
  free(keys);
  return rc;
}

/* Offline replay, slot by slot.  An entity's features depend only on its
 * own earlier events, so each slot is replayed on its own, in one of two
 * ways chosen by the estimated size of all its records at once
 * (inorder_bytes against fr__offline_inorder_bytes):
 *
 * - few entities (cards, merchants: records that fit in cache together):
 *   rows in time order against an array of records indexed by dense entity
 *   id (offline_slot_inorder), so the data set's columns are read and the
 *   feature table written in sequence;
 * - many entities: entity by entity (offline_slot): the slot's rows grouped
 *   by entity (a counting sort of the time-ordered rows by dense entity id,
 *   stable, so each entity's rows stay in event-time order, ties in file
 *   order), each entity's rows run on one scratch record that is emptied
 *   between entities and stays in cache, instead of a cache miss on some
 *   record per row and all records of the data set in memory.
 *
 * Both run the same slot_features + insert as online, and every record sees
 * exactly the events it would see in a time-ordered replay, in the same
 * order, so the features are the same bit for bit (the tests force both
 * ways).  Stateless features are computed in a separate pass in time order.
 *
 * Per-dictionary caches hold what the online path computes per row from the
 * text (category positions, distinct-count hashes), so each is computed once
 * per distinct value.  The values are the same, so are the features. */

/* Where the replay reads a schema column: a NUMBER column's values, or a
 * STRING column's per-row dictionary ids and dictionary (neither: absent). */
typedef struct src_col {
  int col;
  const double *num;
  const uint32_t *ids;
  const fr__str *dict;
} src_col;

typedef struct offline {
  uint32_t **ids;      /* per slot: per data row, dense entity id */
  uint64_t *nent;      /* per slot: entities */
  size_t nslots;
  long **catpos;       /* per encoder: dictionary id -> vocabulary position */
  const uint32_t **catids; /* per encoder: the column's per-row dict ids */
  uint64_t ***hcache;  /* per slot, per hashed column: dict id -> hash */
  const uint32_t ***hids; /* per slot, per hashed column: per-row dict ids */
  size_t nencs;
  src_col *scols;      /* columns the stateless features read */
  size_t nscols;
  src_col **slot_cols; /* per slot: columns its features and events read */
  size_t *nslot_cols;
  int has_id;          /* the slots' tuples carry a transaction id hash */
  src_col idc;         /* where to read the id (col = 0: one field) */
  /* Scratch of offline_slot, sized for the largest slot and reused by each
   * (so only the first slot's pass touches fresh pages). */
  char *inorder;       /* per slot: replayed in time order
                          (offline_slot_inorder), else entity by entity */
  uint32_t *first;     /* max entities + 1 */
  uint32_t *perm;      /* rows */
  double *tuples;      /* rows * largest stride */
} offline;

static void offline_free(offline *o) {
  for (size_t s = 0; s < o->nslots; s++) {
    if (o->ids)
      free(o->ids[s]);
    if (o->hcache && o->hcache[s]) {
      for (size_t k = 0; k < FR__MAX_VALS; k++)
        free(o->hcache[s][k]);
      free(o->hcache[s]);
    }
    if (o->hids)
      free(o->hids[s]);
    if (o->slot_cols)
      free(o->slot_cols[s]);
  }
  for (size_t e = 0; o->catpos && e < o->nencs; e++)
    free(o->catpos[e]);
  free(o->catpos);
  free(o->catids);
  free(o->hcache);
  free(o->hids);
  free(o->ids);
  free(o->nent);
  free(o->scols);
  free(o->slot_cols);
  free(o->nslot_cols);
  free(o->inorder);
  free(o->first);
  free(o->perm);
  free(o->tuples);
  memset(o, 0, sizeof *o);
}

/* Dictionary and per-row ids of an interned string column, or NULL. */
static const fr__str *interned(const fr_dataset *d, int col, size_t *nd,
                               const uint32_t **ids) {
  const fr_column_info *ci = fr_schema_column(fr_dataset_schema(d), (size_t)col);
  if (ci->type != FR_COL_STRING || ci->role == FR_ROLE_ID ||
      ci->role == FR_ROLE_EVENT_TIME || !fr__dataset_has_column(d, (size_t)col))
    return NULL;
  *ids = fr__dataset_string_ids(d, (size_t)col);
  const fr__str *dict = fr__dataset_dict(d, (size_t)col, nd);
  return *ids ? dict : NULL;
}

/* The read plan of the columns marked in used[0..ncols): *out, *n. */
static int plan_cols(const fr_dataset *d, const char *used, size_t ncols,
                     src_col **out, size_t *n) {
  *n = 0;
  *out = malloc((ncols ? ncols : 1) * sizeof **out);
  if (!*out)
    return FR_ENOMEM;
  for (size_t k = 0; k < ncols; k++) {
    if (!used[k])
      continue;
    src_col c = {(int)k, fr__dataset_numbers(d, k), NULL, NULL};
    if (!c.num && (c.ids = fr__dataset_string_ids(d, k)) != NULL) {
      size_t nd;
      c.dict = fr__dataset_dict(d, k, &nd);
    }
    (*out)[(*n)++] = c;
  }
  return 0;
}

/* Marks column col in used (ignoring -1). */
static void mark(char *used, size_t ncols, int col) {
  if (col >= 0 && (size_t)col < ncols)
    used[col] = 1;
}

static void fill_fields(const src_col *cols, size_t n, size_t r,
                        fr_field *fields);

size_t fr__offline_inorder_bytes = (size_t)8 << 20;

/* Rows ahead whose entity record the time-order replay prefetches. */
#define INORDER_AHEAD 8

/* The hash make_tuple computes online for the transaction id of data row
 * r (0 = no id). */
static uint64_t offline_id_hash(const offline *o, size_t r) {
  fr_field fl;
  fill_fields(&o->idc, 1, r, &fl);
  uint64_t h = 0;
  if (field_value_hash(&fl, &h) && h == 0)
    h = 1;
  return h;
}

/* Estimated bytes of all of slot sl's records at once, when the replay
 * keeps them side by side: per entity the record and a log of the events
 * within its horizon (the rows' share of the data set's time span `span`),
 * plus buckets. */
static double inorder_bytes(const fr__slot *sl, size_t n, size_t rows,
                            double span) {
  double share = span > 0 ? sl->exact_horizon / span : 1;
  if (!(share < 1))
    share = 1;
  double b = (double)n * (sizeof(fr__entity) + 4.0 * sl->stride * 8) +
             (double)rows * share * sl->stride * 8;
  if (sl->bucket_width > 0)
    b += (double)n * (sl->bucket_horizon / sl->bucket_width + 2) * sl->bstride * 8;
  return b;
}

/* 1 ready, 0 not possible (use the state-store path), <0 error. */
static int offline_init(offline *o, const fr_featurizer *f, const fr_dataset *d) {
  memset(o, 0, sizeof *o);
  size_t rows = fr_dataset_rows(d), ncols = fr_schema_ncols(f->schema);
  if (rows >= UINT32_MAX)
    return 0;
  size_t ns = f->nslots ? f->nslots : 1;
  o->nslots = f->nslots;
  o->nencs = f->nencs;
  o->ids = calloc(ns, sizeof *o->ids);
  o->nent = calloc(ns, sizeof *o->nent);
  o->hcache = calloc(ns, sizeof *o->hcache);
  o->hids = calloc(ns, sizeof *o->hids);
  o->slot_cols = calloc(ns, sizeof *o->slot_cols);
  o->nslot_cols = calloc(ns, sizeof *o->nslot_cols);
  o->catpos = calloc(f->nencs ? f->nencs : 1, sizeof *o->catpos);
  o->catids = calloc(f->nencs ? f->nencs : 1, sizeof *o->catids);
  char *used = calloc(ncols ? ncols : 1, 1);
  int rc = FR_ENOMEM;
  if (!o->ids || !o->nent || !o->hcache || !o->hids || !o->slot_cols ||
      !o->nslot_cols || !o->catpos || !o->catids || !used)
    goto done;
  for (size_t e = 0; e < f->nencs; e++) {
    size_t nd;
    const fr__str *dict = interned(d, f->encs[e].column, &nd, &o->catids[e]);
    if (!dict)
      continue; /* looked up per row */
    o->catpos[e] = malloc((nd ? nd : 1) * sizeof **o->catpos);
    if (!o->catpos[e])
      goto done;
    for (size_t i = 0; i < nd; i++)
      o->catpos[e][i] = fr__encoder_find(&f->encs[e], dict[i].ptr, dict[i].len);
  }
  for (size_t k = 0; k < f->nops; k++) {
    const fr__op *op = &f->ops[k];
    if (op->slot >= 0)
      continue;
    mark(used, ncols, op->col);
    mark(used, ncols, op->col2);
    mark(used, ncols, op->lat1);
    mark(used, ncols, op->lon1);
    mark(used, ncols, op->lat2);
    mark(used, ncols, op->lon2);
    mark(used, ncols, op->offset_col);
  }
  if ((rc = plan_cols(d, used, ncols, &o->scols, &o->nscols)))
    goto done;
  rc = FR_ENOMEM;
  for (size_t s = 0; s < f->nslots; s++) {
    const fr__slot *sl = &f->slots[s];
    o->ids[s] = malloc((rows ? rows : 1) * sizeof **o->ids);
    o->hcache[s] = calloc(FR__MAX_VALS, sizeof **o->hcache);
    o->hids[s] = calloc(FR__MAX_VALS, sizeof **o->hids);
    if (!o->ids[s] || !o->hcache[s] || !o->hids[s])
      goto done;
    int r = slot_ids(d, sl, o->ids[s], &o->nent[s]);
    if (r <= 0) {
      rc = r;
      goto done;
    }
    /* The columns slot_features and make_tuple read for this slot. */
    memset(used, 0, ncols ? ncols : 1);
    for (size_t k = 0; k < sl->nop_idx; k++) {
      const fr__op *op = &f->ops[sl->op_idx[k]];
      if (op->kind == FR__K_RATIO_TO_MEAN || op->kind == FR__K_ZSCORE)
        mark(used, ncols, op->col); /* the transaction's own value */
      if (op->kind == FR__K_GEO_VELOCITY) {
        mark(used, ncols, op->lat1);
        mark(used, ncols, op->lon1);
      }
    }
    for (size_t k = 0; k < sl->nvals; k++)
      mark(used, ncols, sl->val_cols[k]);
    for (size_t k = 0; k < sl->ngeo; k++) {
      mark(used, ncols, sl->geo_lat[k]);
      mark(used, ncols, sl->geo_lon[k]);
    }
    for (size_t k = 0; k < sl->nhash; k++) {
      size_t nd;
      const fr__str *dict = interned(d, sl->hash_cols[k], &nd, &o->hids[s][k]);
      if (!dict) {
        o->hids[s][k] = NULL;
        mark(used, ncols, sl->hash_cols[k]); /* hashed per row */
        continue;
      }
      uint64_t *hc = malloc((nd ? nd : 1) * sizeof *hc);
      if (!hc)
        goto done;
      for (size_t i = 0; i < nd; i++) {
        uint64_t h = fr_hash_fnv1a(dict[i].ptr, dict[i].len);
        hc[i] = h ? h : 1; /* as make_tuple: 0 marks "missing" */
      }
      o->hcache[s][k] = hc;
    }
    if ((rc = plan_cols(d, used, ncols, &o->slot_cols[s], &o->nslot_cols[s])))
      goto done;
    rc = FR_ENOMEM;
  }
  /* Which slots are replayed in time order; the others share one scratch
   * for the entity-by-entity replay. */
  const size_t *order = fr_dataset_time_order(d);
  double span = rows && order ? fr_dataset_event_time(d, order[rows - 1]) -
                                    fr_dataset_event_time(d, order[0])
                              : 0;
  if (!(o->inorder = calloc(ns, 1)))
    goto done;
  size_t maxent = 0, maxstride = 0;
  for (size_t s = 0; s < f->nslots; s++) {
    if (inorder_bytes(&f->slots[s], o->nent[s], rows, span) <=
        (double)fr__offline_inorder_bytes) {
      o->inorder[s] = 1;
      continue;
    }
    if (o->nent[s] > maxent)
      maxent = o->nent[s];
    if (f->slots[s].stride > maxstride)
      maxstride = f->slots[s].stride;
  }
  if (maxstride) {
    o->first = malloc((maxent + 1) * sizeof *o->first);
    o->perm = malloc((rows ? rows : 1) * sizeof *o->perm);
    o->tuples = malloc((rows ? rows : 1) * maxstride * sizeof *o->tuples);
    if (!o->first || !o->perm || !o->tuples)
      goto done;
  }
  /* The transaction id's column, hashed only where a replay check can read
   * the hash (see offline_slot). */
  int idc = f->nslots ? f->slots[0].id_col : -1;
  if (idc >= 0) {
    src_col c = {0, fr__dataset_numbers(d, (size_t)idc), NULL, NULL};
    if (!c.num && (c.ids = fr__dataset_string_ids(d, (size_t)idc)) != NULL) {
      size_t nd;
      c.dict = fr__dataset_dict(d, (size_t)idc, &nd);
    }
    o->idc = c;
    o->has_id = 1;
  }
  rc = 1;
done:
  free(used);
  return rc;
}

/* Fills the fields of row r that plan cols[0..n) names (the others keep
 * whatever they hold: the features about to run do not read them), as
 * fr_dataset_txn would. */
static void fill_fields(const src_col *cols, size_t n, size_t r,
                        fr_field *fields) {
  for (size_t i = 0; i < n; i++) {
    const src_col *c = &cols[i];
    fr_field *fl = &fields[c->col];
    if (c->num) {
      *fl = (fr_field){.num = c->num[r], .present = !isnan(c->num[r])};
    } else if (c->ids && c->ids[r] != UINT32_MAX) {
      const fr__str *v = &c->dict[c->ids[r]];
      *fl = (fr_field){.str = v->ptr, .len = v->len, .present = 1, .num = NAN};
    } else {
      *fl = (fr_field){.num = NAN};
    }
  }
}

/* Pass 1, rows in time order: stateless features, labels, times.
 * Flattened (stateless, field_num, the haversine... inlined into this
 * loop): a call per feature per row is a measurable part of the pass. */
__attribute__((flatten)) static int
offline_stateless(const fr_featurizer *f, const offline *o,
                  const fr_dataset *d, const size_t *order, fr_field *fields,
                  fr_table *t, size_t *bad) {
  size_t rows = fr_dataset_rows(d), cols = t->cols;
  for (size_t i = 0; i < rows; i++) {
    size_t r = order[i];
    fr_txn txn = {.event_time = fr_dataset_event_time(d, r),
                  .fields = fields,
                  .nfields = fr_schema_ncols(f->schema),
                  .line = fr_dataset_line(d, r)};
    if (f->needs_time && isnan(txn.event_time)) {
      *bad = r;
      return FR_EINVAL;
    }
    fill_fields(o->scols, o->nscols, r, fields);
    float *out = t->x + i * cols;
    for (size_t k = 0; k < f->nops; k++) {
      const fr__op *op = &f->ops[k];
      if (op->slot >= 0)
        continue;
      long pos = -1;
      if (op->enc >= 0) {
        if (o->catpos[op->enc]) {
          uint32_t id = o->catids[op->enc][r];
          pos = id == UINT32_MAX ? -2 : o->catpos[op->enc][id];
        } else {
          pos = category_pos(f, op, &txn);
        }
      }
      stateless(f, op, &txn, out, pos);
    }
    int y = fr_dataset_label(d, r);
    t->y[i] = y < 0 ? NAN : (float)y;
    t->event_time[i] = txn.event_time;
    t->source_row[i] = r;
  }
  return 0;
}

/* Rows ahead whose output the slot replay prefetches. */
#define PREFETCH_ROWS 32

/* Whether every hashed column of slot s has its per-dictionary-id hashes
 * cached (o->hcache), so rows need no hashing of their own. */
static int slot_hashes_cached(const offline *o, size_t s, const fr__slot *sl) {
  int cached = 1;
  for (size_t k = 0; k < sl->nhash; k++)
    cached &= o->hids[s][k] != NULL;
  return cached;
}

/* The cached hashes of row r's hashed columns of slot s (0 for a missing
 * value), into hashes[0 .. sl->nhash). */
static void row_hashes(const offline *o, size_t s, const fr__slot *sl, size_t r,
                       uint64_t *hashes) {
  for (size_t h = 0; h < sl->nhash; h++) {
    uint32_t hid = o->hids[s][h][r];
    hashes[h] = hid == UINT32_MAX ? 0 : o->hcache[s][h][hid];
  }
}

/* Pass 2 for slot s when its records fit in cache together
 * (inorder_bytes <= fr__offline_inorder_bytes: few entities, such as cards
 * or merchants): rows in time order, each entity's record in an array
 * indexed by its dense id, slot_features then insert, so the data set's
 * columns are read and the table written in sequence.  Every record sees
 * the events it sees in the entity-by-entity replay, in the same order.
 * Flattened like offline_stateless: slot_features and make_tuple inlined
 * into the row loop. */
__attribute__((flatten)) static int
offline_slot_inorder(const fr_featurizer *f, const offline *o, size_t s,
                     const size_t *order, fr_field *fields, fr_table *t,
                     size_t rows) {
  const fr__slot *sl = &f->slots[s];
  size_t cols = t->cols, n = o->nent[s], stride = sl->stride;
  const uint32_t *ids = o->ids[s];
  fr__entity *ents = malloc((n ? n : 1) * sizeof *ents);
  uint32_t *last = o->has_id ? malloc((n ? n : 1) * sizeof *last) : NULL;
  if (!ents || (o->has_id && !last)) {
    free(ents);
    free(last);
    return FR_ENOMEM;
  }
  for (size_t e = 0; e < n; e++)
    fr__entity_init(&ents[e]);
  const src_col *sc = o->slot_cols[s];
  size_t nsc = o->nslot_cols[s];
  int cached = slot_hashes_cached(o, s, sl);
  fr_txn txn = {.fields = fields, .nfields = fr_schema_ncols(f->schema)};
  double tuple[FR__MAX_TUPLE];
  int rc = 0;
  for (size_t i = 0; i < rows && !rc; i++) {
    /* The records of rows ahead, in two steps (the record, then the newest
     * events of its log, which the record points to): with thousands of
     * entities (card x merchant) they are not all in cache. */
    if (i + 2 * INORDER_AHEAD < rows) {
      uint32_t a = ids[order[i + 2 * INORDER_AHEAD]];
      if (a != UINT32_MAX)
        __builtin_prefetch(&ents[a].n); /* n, ev: the fields read first */
    }
    if (i + INORDER_AHEAD < rows) {
      uint32_t a = ids[order[i + INORDER_AHEAD]];
      if (a != UINT32_MAX && ents[a].n > 0)
        __builtin_prefetch(ents[a].ev + (size_t)(ents[a].n - 1) * stride);
    }
    size_t r = order[i];
    uint32_t id = ids[r];
    float *out = t->x + i * cols;
    if (id == UINT32_MAX) {
      slot_missing(f, sl, out);
      continue;
    }
    fill_fields(sc, nsc, r, fields);
    txn.event_time = t->event_time[i];
    uint64_t hashes[FR__MAX_VALS];
    if (cached)
      row_hashes(o, s, sl, r, hashes);
    uint64_t idh = 1; /* stand-in, as in offline_slot */
    fr__entity *ent = &ents[id];
    if (o->has_id && ent->n > 0 &&
        ent->ev[(size_t)(ent->n - 1) * stride] == txn.event_time) {
      /* The log's newest event has this event time (rows come in time
       * order, so it is the last inserted one, row last[id]): the replay
       * check compares the two ids, so both get their real hash.  Earlier
       * events of this time got theirs when their successor came. */
      uint64_t hp = offline_id_hash(o, last[id]);
      memcpy(&ent->ev[(size_t)ent->n * stride - 1], &hp, sizeof hp);
      idh = offline_id_hash(o, r);
    }
    make_tuple(sl, &txn, tuple, cached ? hashes : NULL, o->has_id ? &idh : NULL);
    slot_features(f, sl, ent, tuple, out);
    int ins = fr__entity_insert(ent, sl, tuple, 0.0);
    if (ins < 0)
      rc = FR_ENOMEM;
    else if (ins == 0 && last)
      last[id] = (uint32_t)r;
  }
  for (size_t e = 0; e < n; e++)
    fr__entity_clear(&ents[e]);
  free(ents);
  free(last);
  return rc;
}

/* Whether every feature of slot sl is a first_seen, so that the replay
 * needs of an entity's record only its first_ts (offline_slot_first_seen). */
static int slot_first_seen_only(const fr_featurizer *f, const fr__slot *sl) {
  if (sl->nwin || sl->nop_idx == 0)
    return 0;
  for (size_t k = 0; k < sl->nop_idx; k++)
    if (f->ops[sl->op_idx[k]].kind != FR__K_FIRST_SEEN)
      return 0;
  return 1;
}

/* Pass 2 for a slot whose features are all first_seen (card x merchant in
 * the shipped specs): such a feature reads of the record only first_ts, the
 * earliest event time inserted (fr__entity_insert: set when the log is
 * empty or the event is earlier, untouched by pruning and by a replay,
 * which has the time of a held event).  So the replay keeps per entity that
 * one double, in time order, with the same comparisons as slot_features
 * and fr__entity_insert: the same features as the full record, without
 * building event tuples or logs for entities that may number in the
 * hundreds of thousands. */
static int offline_slot_first_seen(const fr_featurizer *f, const offline *o,
                                   size_t s, fr_table *t, const size_t *order,
                                   size_t rows) {
  const fr__slot *sl = &f->slots[s];
  size_t cols = t->cols, n = o->nent[s];
  const uint32_t *ids = o->ids[s];
  double *first = malloc((n ? n : 1) * sizeof *first);
  if (!first)
    return FR_ENOMEM;
  for (size_t e = 0; e < n; e++)
    first[e] = NAN;
  for (size_t i = 0; i < rows; i++) {
    uint32_t id = ids[order[i]];
    float *out = t->x + i * cols;
    if (id == UINT32_MAX) {
      slot_missing(f, sl, out);
      continue;
    }
    double ts = t->event_time[i], ft = first[id];
    float v = (isnan(ft) || ft >= ts) ? 1.0f : 0.0f;
    for (size_t k = 0; k < sl->nop_idx; k++)
      out[f->ops[sl->op_idx[k]].out] = v;
    if (isnan(ft) || ts < ft)
      first[id] = ts;
  }
  free(first);
  return 0;
}

/* Pass 2 for slot s.  (a) A counting sort of the time positions by entity
 * (stable: each entity's rows stay in time order); (b) in time order, each
 * row's event tuple (make_tuple) written at its place in entity order, so
 * the data set's columns are read in sequence; (c) entity by entity, on one
 * scratch record: slot_features, then insert, reading the tuples in
 * sequence.  Flattened like the other passes. */
__attribute__((flatten)) static int
offline_slot(const fr_featurizer *f, const offline *o, size_t s,
             const fr_dataset *d, const size_t *order, fr_field *fields,
             fr_table *t) {
  const fr__slot *sl = &f->slots[s];
  size_t rows = fr_dataset_rows(d), cols = t->cols, n = o->nent[s];
  if (slot_first_seen_only(f, sl))
    return offline_slot_first_seen(f, o, s, t, order, rows);
  if (o->inorder[s])
    return offline_slot_inorder(f, o, s, order, fields, t, rows);
  size_t stride = sl->stride;
  const uint32_t *ids = o->ids[s];
  uint32_t *first = o->first, *perm = o->perm;
  double *tuples = o->tuples;
  memset(first, 0, (n + 1) * sizeof *first);
  for (size_t i = 0; i < rows; i++) {
    uint32_t id = ids[order[i]];
    if (id == UINT32_MAX)
      slot_missing(f, sl, t->x + i * cols);
    else
      first[id + 1]++;
  }
  for (size_t e = 0; e < n; e++)
    first[e + 1] += first[e];
  size_t m = first[n];
  const src_col *sc = o->slot_cols[s];
  size_t nsc = o->nslot_cols[s];
  int cached = slot_hashes_cached(o, s, sl);
  fr_txn txn = {.fields = fields, .nfields = fr_schema_ncols(f->schema)};
  for (size_t i = 0; i < rows; i++) {
    size_t r = order[i];
    uint32_t id = ids[r];
    if (id == UINT32_MAX)
      continue;
    fill_fields(sc, nsc, r, fields);
    txn.event_time = t->event_time[i];
    uint64_t hashes[FR__MAX_VALS];
    if (cached)
      row_hashes(o, s, sl, r, hashes);
    /* A stand-in for the id's hash (see below). */
    uint64_t idh = 1;
    size_t k = first[id]++;
    make_tuple(sl, &txn, tuples + k * stride, cached ? hashes : NULL,
               o->has_id ? &idh : NULL);
    perm[k] = (uint32_t)i;
  }
  /* first[e] now is the end of entity e's rows: shift back. */
  for (size_t e = n; e > 0; e--)
    first[e] = first[e - 1];
  first[0] = 0;
  size_t out0 = f->ops[sl->op_idx[0]].out;
  fr__entity ent;
  fr__entity_init(&ent);
  int rc = 0;
  for (size_t e = 0; e < n && !rc; e++) {
    fr__entity_reset(&ent);
    for (size_t k = first[e]; k < first[e + 1]; k++) {
      if (k + PREFETCH_ROWS < m)
        __builtin_prefetch(t->x + (size_t)perm[k + PREFETCH_ROWS] * cols + out0, 1);
      double *tp = tuples + k * stride;
      /* The id's hash is read only by the replay check of an insert, which
       * compares it with the logged events of the same event time: the
       * entity's neighbouring rows of equal time (its rows are in time
       * order, and an event of the newest time is never pruned).  Only
       * those rows need the hash make_tuple computes online; every other
       * row keeps the stand-in, which nothing compares. */
      if (o->has_id && ((k > first[e] && tp[-(ptrdiff_t)stride] == tp[0]) ||
                        (k + 1 < first[e + 1] && tp[stride] == tp[0]))) {
        uint64_t h = offline_id_hash(o, order[perm[k]]);
        memcpy(&tp[stride - 1], &h, sizeof h);
      }
      slot_features(f, sl, &ent, tp, t->x + (size_t)perm[k] * cols);
      if (fr__entity_insert(&ent, sl, tp, 0.0) < 0) {
        rc = FR_ENOMEM;
        break;
      }
    }
  }
  fr__entity_clear(&ent);
  return rc;
}

fr_table *fr_featurize_dataset(const fr_featurizer *f, const fr_dataset *d,
                               fr_error *err) {
  if (!f || !d) {
    fr_error_set(err, FR_EINVAL, "fr_featurize_dataset: NULL argument");
    return NULL;
  }
  if (!f->fitted) {
    fr_error_set(err, FR_ESTATE,
                 "feature spec has categorical encoders that are not fitted "
                 "(train a model, or load a bundle's spec)");
    return NULL;
  }
  size_t rows = fr_dataset_rows(d), cols = f->nfeatures;
  size_t ncols = fr_schema_ncols(f->schema);
  if (fr_schema_ncols(fr_dataset_schema(d)) != ncols) {
    fr_error_set(err, FR_EINVAL, "data set and featurizer use different schemas");
    return NULL;
  }
  fr_table *t = fr_table_new(rows, cols);
  if (t) /* every byte of it is written below */
    prefault(t->x, rows * cols * sizeof *t->x);
  fr_field *fields = calloc(ncols ? ncols : 1, sizeof *fields);
  const size_t *order = fr_dataset_time_order(d);
  offline o;
  memset(&o, 0, sizeof o);
  int fast = 0;
  fr_state *st = NULL;
  if (t && fields && order) {
    fast = offline_init(&o, f, d);
    if (fast == 0 && f->nslots) {
      /* Keys the dense numbering cannot handle: go through a state store
       * (any fixed hash key will do, no production secret is needed). */
      offline_free(&o);
      fr_state_options so;
      memset(&so, 0, sizeof so);
      fr_hash_key_from_secret("offline-replay", so.hash_key);
      st = fr_state_new_memory(f, &so, err);
      if (!st)
        fast = FR_ENOMEM;
    }
  }
  if (!t || !fields || !order || fast < 0) {
    offline_free(&o);
    fr_table_free(t);
    free(fields);
    fr_error_set(err, FR_ENOMEM, "out of memory for a %zu x %zu feature table",
                 rows, cols);
    return NULL;
  }
  for (size_t j = 0; j < cols; j++)
    fr_table_set_name(t, j, f->names[j]);
  for (size_t k = 0; k < ncols; k++)
    fields[k] = (fr_field){.num = NAN};
  if (fast > 0) {
    size_t bad = 0;
    int rc = offline_stateless(f, &o, d, order, fields, t, &bad);
    if (rc) {
      fr_error_set(err, rc, "%s:%zu: transaction has no event time",
                   fr_dataset_path(d), fr_dataset_line(d, bad));
    } else {
      for (size_t s = 0; s < f->nslots && !rc; s++)
        rc = offline_slot(f, &o, s, d, order, fields, t);
      if (rc)
        fr_error_set(err, rc, "%s: out of memory for entity state",
                     fr_dataset_path(d));
    }
    offline_free(&o);
    free(fields);
    if (rc) {
      fr_table_free(t);
      return NULL;
    }
    return t;
  }
  for (size_t i = 0; i < rows; i++) {
    size_t r = order[i];
    fr_txn txn;
    fr_dataset_txn(d, r, fields, &txn);
    int rc = fr__featurize_one(f, &txn, st, t->x + i * cols, 1, NULL, err);
    if (rc) {
      fr_error_prefix(err, "%s:%zu", fr_dataset_path(d), fr_dataset_line(d, r));
      fr_table_free(t);
      t = NULL;
      break;
    }
    int y = fr_dataset_label(d, r);
    t->y[i] = y < 0 ? NAN : (float)y;
    t->event_time[i] = txn.event_time;
    t->source_row[i] = r;
  }
  free(fields);
  fr_state_free(st);
  return t;
}

int fr_state_warm(fr_state *st, const fr_featurizer *f, const fr_dataset *d,
                  double until, size_t *replayed, fr_error *err) {
  if (!st || !f || !d)
    return fr_error_set(err, FR_EINVAL, "fr_state_warm: NULL argument");
  size_t rows = fr_dataset_rows(d), ncols = fr_schema_ncols(f->schema), n = 0;
  fr_field *fields = calloc(ncols ? ncols : 1, sizeof *fields);
  float *row = calloc(f->nfeatures ? f->nfeatures : 1, sizeof *row);
  int rc = 0;
  if (!fields || !row) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  const size_t *order = fr_dataset_time_order(d);
  for (size_t i = 0; i < rows; i++) {
    size_t r = order[i];
    if (!isnan(until) && !(fr_dataset_event_time(d, r) < until))
      break; /* time order: everything after is later */
    fr_txn txn;
    fr_dataset_txn(d, r, fields, &txn);
    if ((rc = fr__featurize_one(f, &txn, st, row, 1, NULL, err))) {
      fr_error_prefix(err, "%s:%zu", fr_dataset_path(d), fr_dataset_line(d, r));
      goto done;
    }
    n++;
  }
done:
  if (replayed)
    *replayed = n;
  free(fields);
  free(row);
  return rc;
}
