/*
 * entity.c - the per-entity record every state backend stores: a log of
 * event tuples (event time first, then the values the entity's features
 * aggregate), sorted by event time and stable among equal times, trimmed to
 * the longest exact window; and, for bucketed windows, fixed-width time
 * buckets (start, count, per value: n, sum, sum of squared deviations, min,
 * max) into which every event is folded as it arrives.  The same record, in
 * the same binary encoding, lives in process memory, in snapshots and in
 * Redis, so windows are computed by one piece of code whatever the backend.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "features/internal.h"

uint32_t fr__entity_before(const fr__entity *e, size_t stride, double t) {
  /* Almost always every event is older than t: check the end first, then
   * binary-search for the first event with ts >= t. */
  uint32_t n = e->n;
  if (n == 0 || e->ev[(size_t)(n - 1) * stride] < t)
    return n;
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (e->ev[(size_t)mid * stride] < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void fr__entity_init(fr__entity *e) {
  memset(e, 0, sizeof *e);
  e->first_ts = e->latest_ts = e->pruned_ts = NAN;
  for (int g = 0; g < FR__MAX_GEO; g++)
    e->anchor[3 * g] = NAN;
}

void fr__entity_reset(fr__entity *e) {
  double *ev = e->ev, *bk = e->bk;
  uint32_t cap = e->cap, capb = e->capb;
  fr__entity_init(e);
  e->ev = ev;
  e->bk = bk;
  e->cap = cap;
  e->capb = capb;
}

void fr__entity_clear(fr__entity *e) {
  free(e->ev);
  free(e->bk);
  fr__entity_init(e);
}

static int grow(double **buf, uint32_t *cap, uint32_t need, size_t stride) {
  if (need <= *cap)
    return 0;
  uint32_t ncap = *cap ? *cap : 4;
  while (ncap < need)
    ncap *= 2;
  double *nb = realloc(*buf, (size_t)ncap * stride * sizeof *nb);
  if (!nb)
    return FR_ENOMEM;
  *buf = nb;
  *cap = ncap;
  return 0;
}

/* Folds one event into the bucket that holds its time (created in start
 * order when absent).  Per value: n, sum, M2 by Welford's update
 * (B. P. Welford, Technometrics 4(3), 1962), min, max; NaN values are not
 * counted in their value's n, but the event is counted in `count`. */
static int bucket_fold(fr__entity *e, const fr__slot *sl, const double *tuple) {
  size_t bs = sl->bstride;
  double start = floor(tuple[0] / sl->bucket_width) * sl->bucket_width;
  uint32_t pos = e->nb;
  while (pos > 0 && e->bk[(size_t)(pos - 1) * bs] > start)
    pos--;
  double *b;
  if (pos > 0 && e->bk[(size_t)(pos - 1) * bs] == start) {
    b = e->bk + (size_t)(pos - 1) * bs;
  } else {
    if (grow(&e->bk, &e->capb, e->nb + 1, bs))
      return FR_ENOMEM;
    if (pos < e->nb)
      memmove(e->bk + (size_t)(pos + 1) * bs, e->bk + (size_t)pos * bs,
              (size_t)(e->nb - pos) * bs * sizeof(double));
    b = e->bk + (size_t)pos * bs;
    b[0] = start;
    b[1] = 0;
    for (size_t k = 0; k < sl->nvals; k++) {
      double *v = b + 2 + 5 * k;
      v[0] = v[1] = v[2] = 0;
      v[3] = INFINITY;
      v[4] = -INFINITY;
    }
    e->nb++;
  }
  b[1] += 1;
  for (size_t k = 0; k < sl->nvals; k++) {
    double x = tuple[1 + k];
    if (isnan(x))
      continue;
    double *v = b + 2 + 5 * k;
    double mean0 = v[0] > 0 ? v[1] / v[0] : 0;
    v[0] += 1;
    v[1] += x;
    v[2] += (x - mean0) * (x - v[1] / v[0]);
    if (x < v[3])
      v[3] = x;
    if (x > v[4])
      v[4] = x;
  }
  return 0;
}

int fr__entity_insert(fr__entity *e, const fr__slot *sl, const double *tuple,
                      double lateness) {
  size_t stride = sl->stride;
  double t = tuple[0];
  /* Position after every event with ts <= t (stable for equal times). */
  uint32_t pos = e->n;
  while (pos > 0 && e->ev[(size_t)(pos - 1) * stride] > t)
    pos--;
  if (sl->id_col >= 0) {
    /* A replay (a retried request, a re-sent batch) of a transaction the log
     * holds: same event time, same id hash.  Compared bit for bit. */
    uint64_t id;
    memcpy(&id, &tuple[stride - 1], sizeof id);
    for (uint32_t i = pos; id != 0 && i > 0 && e->ev[(size_t)(i - 1) * stride] == t; i--)
      if (memcmp(&e->ev[(size_t)i * stride - 1], &id, sizeof id) == 0)
        return 1;
  }
  if (grow(&e->ev, &e->cap, e->n + 1, stride))
    return FR_ENOMEM;
  if (sl->bucket_width > 0 && bucket_fold(e, sl, tuple))
    return FR_ENOMEM;
  if (pos < e->n)
    memmove(e->ev + (size_t)(pos + 1) * stride, e->ev + (size_t)pos * stride,
            (size_t)(e->n - pos) * stride * sizeof(double));
  memcpy(e->ev + (size_t)pos * stride, tuple, stride * sizeof(double));
  e->n++;
  if (isnan(e->first_ts) || t < e->first_ts)
    e->first_ts = t;
  if (isnan(e->latest_ts) || t > e->latest_ts)
    e->latest_ts = t;
  /* Keep events a later query can still need: anything within the exact
   * horizon of the newest event, widened by the allowed lateness (a late
   * event at latest - lateness still sees a full window). */
  double keep_from = e->latest_ts - sl->exact_horizon - lateness;
  uint32_t drop = 0;
  while (drop < e->n && e->ev[(size_t)drop * stride] < keep_from)
    drop++;
  /* Pruning moves the whole log, so it waits until enough is stale.  The
   * stale events change no feature: windows stop at t - w before reaching
   * them, and the newest-before-t searches (time since previous, previous
   * located event) find in the log the same event they would find in
   * pruned_ts / the geo anchors. */
  if (drop > 0 && (drop >= 16 || 2 * drop >= e->n)) {
    /* What outlives the log: the newest dropped time (time_since_prev) and,
     * per geo point, the newest dropped located event (geo_velocity). */
    size_t g0 = 1 + sl->nvals + sl->nhash;
    for (size_t g = 0; g < sl->ngeo; g++) {
      for (uint32_t i = drop; i-- > 0;) {
        const double *ev = e->ev + (size_t)i * stride;
        if (isnan(ev[g0 + 2 * g]) || isnan(ev[g0 + 2 * g + 1]))
          continue;
        if (isnan(e->anchor[3 * g]) || ev[0] >= e->anchor[3 * g]) {
          e->anchor[3 * g] = ev[0];
          e->anchor[3 * g + 1] = ev[g0 + 2 * g];
          e->anchor[3 * g + 2] = ev[g0 + 2 * g + 1];
        }
        break;
      }
    }
    double newest_dropped = e->ev[(size_t)(drop - 1) * stride];
    if (isnan(e->pruned_ts) || newest_dropped > e->pruned_ts)
      e->pruned_ts = newest_dropped;
    memmove(e->ev, e->ev + (size_t)drop * stride,
            (size_t)(e->n - drop) * stride * sizeof(double));
    e->n -= drop;
  }
  if (sl->bucket_width > 0) {
    /* A bucketed window of a query at t >= latest - lateness reads buckets
     * starting at or after t - w: older ones are never read again. */
    double bkeep = e->latest_ts - lateness - sl->bucket_horizon;
    uint32_t bdrop = 0;
    while (bdrop < e->nb && e->bk[(size_t)bdrop * sl->bstride] < bkeep)
      bdrop++;
    if (bdrop > 0) {
      memmove(e->bk, e->bk + (size_t)bdrop * sl->bstride,
              (size_t)(e->nb - bdrop) * sl->bstride * sizeof(double));
      e->nb -= bdrop;
    }
  }
  /* Give memory back when the log shrank a lot (long-idle entity). */
  if (e->cap > 64 && e->n < e->cap / 4) {
    uint32_t ncap = e->cap / 2;
    double *nev = realloc(e->ev, (size_t)ncap * stride * sizeof *nev);
    if (nev) {
      e->ev = nev;
      e->cap = ncap;
    }
  }
  return 0;
}

size_t fr__entity_bytes(const fr__entity *e, const fr__slot *sl) {
  return sizeof *e + (size_t)e->cap * sl->stride * sizeof(double) +
         (size_t)e->capb * sl->bstride * sizeof(double);
}

/* ---- encoding ------------------------------------------------------------
 * u32 n, u32 nb, f64 first_ts, latest_ts, pruned_ts, anchor[2 * 3],
 * f64 ev[n * stride], f64 bk[nb * bstride].  Host byte order: the snapshot
 * header carries a byte-order mark, and a Redis store is read by servers of
 * one architecture. */

#define HEAD_DOUBLES (3 + 3 * FR__MAX_GEO)

size_t fr__entity_encoded_size(const fr__entity *e, const fr__slot *sl) {
  return 8 + HEAD_DOUBLES * 8 + (size_t)e->n * sl->stride * 8 +
         (size_t)e->nb * sl->bstride * 8;
}

void fr__entity_encode(const fr__entity *e, const fr__slot *sl, uint8_t *buf) {
  memcpy(buf, &e->n, 4);
  memcpy(buf + 4, &e->nb, 4);
  double head[HEAD_DOUBLES] = {e->first_ts, e->latest_ts, e->pruned_ts};
  memcpy(head + 3, e->anchor, sizeof e->anchor);
  memcpy(buf + 8, head, sizeof head);
  size_t o = 8 + sizeof head;
  size_t lb = (size_t)e->n * sl->stride * 8;
  if (lb)
    memcpy(buf + o, e->ev, lb);
  o += lb;
  size_t bb = (size_t)e->nb * sl->bstride * 8;
  if (bb)
    memcpy(buf + o, e->bk, bb);
}

int fr__entity_decode(fr__entity *e, const fr__slot *sl, const uint8_t *buf,
                      size_t len) {
  if (len < 8 + HEAD_DOUBLES * 8)
    return FR_EFORMAT;
  uint32_t n, nb;
  memcpy(&n, buf, 4);
  memcpy(&nb, buf + 4, 4);
  size_t lb = (size_t)n * sl->stride * 8, bb = (size_t)nb * sl->bstride * 8;
  if (n > (1u << 30) || nb > (1u << 30) ||
      len != 8 + HEAD_DOUBLES * 8 + lb + bb || (nb > 0 && sl->bucket_width <= 0))
    return FR_EFORMAT;
  if (grow(&e->ev, &e->cap, n, sl->stride) ||
      (nb && grow(&e->bk, &e->capb, nb, sl->bstride)))
    return FR_ENOMEM;
  double head[HEAD_DOUBLES];
  memcpy(head, buf + 8, sizeof head);
  size_t o = 8 + sizeof head;
  if (lb)
    memcpy(e->ev, buf + o, lb);
  o += lb;
  if (bb)
    memcpy(e->bk, buf + o, bb);
  /* The log must be sorted, or windows would read garbage. */
  for (uint32_t i = 1; i < n; i++)
    if (!(e->ev[(size_t)i * sl->stride] >= e->ev[(size_t)(i - 1) * sl->stride]))
      return FR_EFORMAT;
  for (uint32_t i = 1; i < nb; i++)
    if (!(e->bk[(size_t)i * sl->bstride] > e->bk[(size_t)(i - 1) * sl->bstride]))
      return FR_EFORMAT;
  e->n = n;
  e->nb = nb;
  e->first_ts = head[0];
  e->latest_ts = head[1];
  e->pruned_ts = head[2];
  memcpy(e->anchor, head + 3, sizeof e->anchor);
  return 0;
}
