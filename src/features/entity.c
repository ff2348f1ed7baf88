/*
 * entity.c - the per-entity event log: tuples of doubles (event time first,
 * then the values the entity's features aggregate), kept sorted by event time
 * and stable among equal times, trimmed to the longest window the spec asks
 * of this entity.  The same record is used by every state backend (the Redis
 * backend serialises it), so windows are computed by one piece of code.
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

int fr__entity_insert(fr__entity *e, const fr__slot *sl, const double *tuple,
                      double lateness) {
  size_t stride = sl->stride;
  double horizon = sl->horizon;
  double t = tuple[0];
  if (e->n == e->cap) {
    uint32_t ncap = e->cap ? e->cap * 2 : 4;
    double *nev = realloc(e->ev, (size_t)ncap * stride * sizeof *nev);
    if (!nev)
      return FR_ENOMEM;
    e->ev = nev;
    e->cap = ncap;
  }
  /* Position after every event with ts <= t (stable for equal times). */
  uint32_t pos = e->n;
  while (pos > 0 && e->ev[(size_t)(pos - 1) * stride] > t)
    pos--;
  if (pos < e->n)
    memmove(e->ev + (size_t)(pos + 1) * stride, e->ev + (size_t)pos * stride,
            (size_t)(e->n - pos) * stride * sizeof(double));
  memcpy(e->ev + (size_t)pos * stride, tuple, stride * sizeof(double));
  e->n++;
  if (isnan(e->first_ts) || t < e->first_ts)
    e->first_ts = t;
  if (isnan(e->latest_ts) || t > e->latest_ts)
    e->latest_ts = t;
  /* Keep events a later query can still need: anything within the horizon
   * of the newest event, widened by the allowed lateness (a late event at
   * latest - lateness still sees a full window). */
  double keep_from = e->latest_ts - horizon - lateness;
  uint32_t drop = 0;
  while (drop < e->n && e->ev[(size_t)drop * stride] < keep_from)
    drop++;
  if (drop > 0) {
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

void fr__entity_clear(fr__entity *e) {
  free(e->ev);
  fr__entity_init(e);
}

size_t fr__entity_bytes(const fr__entity *e, size_t stride) {
  return sizeof *e + (size_t)e->cap * stride * sizeof(double);
}
