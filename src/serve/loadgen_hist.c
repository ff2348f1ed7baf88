/*
 * loadgen_hist.c - a high-dynamic-range histogram for latencies.
 *
 * The bucket layout follows Gil Tene's HdrHistogram (http://hdrhistogram.org/;
 * the reference Java AbstractHistogram documents it): with S = 2^k linear
 * sub-buckets, where k = ceil(log2(2 * 10^sigfigs)), bucket 0 covers
 * [0, S << unit) in steps of 1 << unit, and bucket b >= 1 covers
 * [S/2 << (b + unit), S << (b + unit)) in steps of 1 << (b + unit): the upper
 * half of each bucket's sub-buckets is all that is stored for b >= 1, since
 * the lower half overlaps the previous bucket.  So a value is known to within
 * 1 part in S/2 >= 10^sigfigs, i.e. `sigfigs` significant digits, at any
 * magnitude, and recording is a count-leading-zeros and an increment.
 *
 * Debian packages no C HdrHistogram, hence this small one; only what a load
 * client needs (record, merge, percentiles) is here.
 */
#include "fraud/loadgen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fr_hist {
  int64_t lowest, highest;
  int sigfigs;
  int unit_magnitude;            /* floor(log2(lowest)) */
  int sub_bucket_half_magnitude; /* log2(S) - 1 */
  int64_t sub_bucket_count;      /* S */
  int64_t sub_bucket_half;       /* S / 2 */
  int64_t sub_bucket_mask;       /* (S - 1) << unit_magnitude */
  int bucket_count;
  size_t counts_len;
  uint64_t total;
  uint64_t saturated;
  int64_t min, max;
  double sum, sumsq;
  uint64_t *counts;
};

static int bucket_index(const fr_hist *h, int64_t v) {
  /* Position of the highest set bit of v, at least that of the mask, so that
   * values below S << unit land in bucket 0. */
  int pow2ceiling = 64 - __builtin_clzll((uint64_t)(v | h->sub_bucket_mask));
  return pow2ceiling - h->unit_magnitude - (h->sub_bucket_half_magnitude + 1);
}

static int64_t sub_bucket_index(const fr_hist *h, int64_t v, int b) {
  return v >> (b + h->unit_magnitude);
}

static size_t counts_index(const fr_hist *h, int b, int64_t sb) {
  /* Bucket b's stored sub-buckets [S/2, S) follow bucket 0's [0, S). */
  int64_t base = (int64_t)(b + 1) << h->sub_bucket_half_magnitude;
  return (size_t)(base + (sb - h->sub_bucket_half));
}

static size_t counts_index_for(const fr_hist *h, int64_t v) {
  int b = bucket_index(h, v);
  return counts_index(h, b, sub_bucket_index(h, v, b));
}

/* Lowest value of the sub-bucket stored at counts index i. */
static int64_t value_at_index(const fr_hist *h, size_t i) {
  int b = (int)(i >> h->sub_bucket_half_magnitude) - 1;
  int64_t sb = (int64_t)(i & (size_t)(h->sub_bucket_half - 1)) + h->sub_bucket_half;
  if (b < 0) {
    sb -= h->sub_bucket_half;
    b = 0;
  }
  return sb << (b + h->unit_magnitude);
}

/* Width of the sub-bucket holding v. */
static int64_t equivalent_range(const fr_hist *h, int64_t v) {
  int b = bucket_index(h, v);
  int64_t sb = sub_bucket_index(h, v, b);
  int adjusted = sb >= h->sub_bucket_count ? b + 1 : b;
  return (int64_t)1 << (h->unit_magnitude + adjusted);
}

int64_t fr_hist_lowest_equivalent(const fr_hist *h, int64_t v) {
  if (v < 0)
    v = 0;
  int b = bucket_index(h, v);
  int64_t sb = sub_bucket_index(h, v, b);
  return sb << (b + h->unit_magnitude);
}

int64_t fr_hist_highest_equivalent(const fr_hist *h, int64_t v) {
  if (v < 0)
    v = 0;
  return fr_hist_lowest_equivalent(h, v) + equivalent_range(h, v) - 1;
}

fr_hist *fr_hist_new(int64_t lowest, int64_t highest, int sigfigs,
                     fr_error *err) {
  if (lowest < 1 || highest < 2 * lowest || sigfigs < 1 || sigfigs > 5 ||
      highest > INT64_MAX / 4) {
    fr_error_set(err, FR_EINVAL,
                 "histogram: need 1 <= lowest, 2*lowest <= highest and 1 <= "
                 "sigfigs <= 5 (got %lld, %lld, %d)",
                 (long long)lowest, (long long)highest, sigfigs);
    return NULL;
  }
  fr_hist *h = calloc(1, sizeof *h);
  if (!h) {
    fr_error_set(err, FR_ENOMEM, "histogram: out of memory");
    return NULL;
  }
  h->lowest = lowest;
  h->highest = highest;
  h->sigfigs = sigfigs;
  int64_t largest_single_unit = 2;
  for (int i = 0; i < sigfigs; i++)
    largest_single_unit *= 10;
  /* k = ceil(log2(2 * 10^sigfigs)) */
  int k = 0;
  while (((int64_t)1 << k) < largest_single_unit)
    k++;
  h->sub_bucket_half_magnitude = k - 1;
  h->sub_bucket_count = (int64_t)1 << k;
  h->sub_bucket_half = h->sub_bucket_count / 2;
  h->unit_magnitude = 63 - __builtin_clzll((uint64_t)lowest);
  h->sub_bucket_mask = (h->sub_bucket_count - 1) << h->unit_magnitude;
  /* Buckets needed so that S << (unit + buckets - 1) > highest. */
  int64_t untrackable = h->sub_bucket_count << h->unit_magnitude;
  int buckets = 1;
  while (untrackable <= highest) {
    untrackable <<= 1;
    buckets++;
  }
  h->bucket_count = buckets;
  h->counts_len = (size_t)(buckets + 1) * (size_t)h->sub_bucket_half;
  h->counts = calloc(h->counts_len, sizeof *h->counts);
  if (!h->counts) {
    free(h);
    fr_error_set(err, FR_ENOMEM, "histogram: out of memory");
    return NULL;
  }
  fr_hist_reset(h);
  return h;
}

void fr_hist_free(fr_hist *h) {
  if (!h)
    return;
  free(h->counts);
  free(h);
}

void fr_hist_reset(fr_hist *h) {
  memset(h->counts, 0, h->counts_len * sizeof *h->counts);
  h->total = 0;
  h->saturated = 0;
  h->min = INT64_MAX;
  h->max = 0;
  h->sum = 0;
  h->sumsq = 0;
}

int fr_hist_record_n(fr_hist *h, int64_t value, uint64_t count) {
  if (value < 0)
    return FR_ERANGE;
  if (count == 0)
    return 0;
  if (value > h->highest) {
    value = h->highest;
    h->saturated += count;
  }
  size_t i = counts_index_for(h, value);
  h->counts[i] += count;
  h->total += count;
  if (value < h->min)
    h->min = value;
  if (value > h->max)
    h->max = value;
  double v = (double)value;
  h->sum += v * (double)count;
  h->sumsq += v * v * (double)count;
  return 0;
}

int fr_hist_record(fr_hist *h, int64_t value) {
  return fr_hist_record_n(h, value, 1);
}

int fr_hist_merge(fr_hist *dst, const fr_hist *src) {
  if (dst->lowest != src->lowest || dst->highest != src->highest ||
      dst->sigfigs != src->sigfigs)
    return FR_EINVAL;
  for (size_t i = 0; i < dst->counts_len; i++)
    dst->counts[i] += src->counts[i];
  dst->total += src->total;
  dst->saturated += src->saturated;
  if (src->total) {
    if (src->min < dst->min)
      dst->min = src->min;
    if (src->max > dst->max)
      dst->max = src->max;
  }
  dst->sum += src->sum;
  dst->sumsq += src->sumsq;
  return 0;
}

uint64_t fr_hist_count(const fr_hist *h) { return h->total; }
int64_t fr_hist_min(const fr_hist *h) { return h->total ? h->min : 0; }
int64_t fr_hist_max(const fr_hist *h) { return h->total ? h->max : 0; }
uint64_t fr_hist_saturated(const fr_hist *h) { return h->saturated; }

double fr_hist_mean(const fr_hist *h) {
  return h->total ? h->sum / (double)h->total : 0.0;
}

double fr_hist_stdev(const fr_hist *h) {
  if (!h->total)
    return 0.0;
  double mean = h->sum / (double)h->total;
  double var = h->sumsq / (double)h->total - mean * mean;
  return var > 0 ? sqrt(var) : 0.0;
}

int64_t fr_hist_percentile(const fr_hist *h, double p) {
  if (!h->total)
    return 0;
  if (!(p > 0))
    return h->min;
  if (p >= 100)
    return h->max;
  /* Nearest rank: the smallest rank r with r >= p/100 * n.  The small
   * tolerance keeps 99.9 % of 1000 values at rank 999, not 1000, when the
   * product comes out as 999.0000000000001 in binary floating point. */
  double want = p / 100.0 * (double)h->total;
  uint64_t rank = (uint64_t)ceil(want - 1e-9 * want);
  if (rank < 1)
    rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < h->counts_len; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      int64_t v = fr_hist_highest_equivalent(h, value_at_index(h, i));
      if (v > h->max)
        v = h->max;
      if (v < h->min)
        v = h->min;
      return v;
    }
  }
  return h->max;
}

uint64_t fr_hist_count_at_or_below(const fr_hist *h, int64_t value) {
  if (value < 0 || !h->total)
    return 0;
  if (value >= h->highest)
    return h->total;
  size_t last = counts_index_for(h, value);
  uint64_t n = 0;
  for (size_t i = 0; i <= last && i < h->counts_len; i++)
    n += h->counts[i];
  return n;
}
