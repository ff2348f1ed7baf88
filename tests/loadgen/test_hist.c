/*
 * Tests src/serve/loadgen_hist.c: the HdrHistogram-layout latency histogram.
 * Truth comes from (1) the equivalent-value ranges that HdrHistogram's own
 * test suite asserts for 3 significant digits (HistogramTest.java:
 * lowestEquivalentValue / highestEquivalentValue), which follow from the
 * bucket layout by hand, and (2) numpy's exact nearest-rank percentiles of a
 * 10,007-value sample (tests/fixtures/loadgen/make_hist_fixture.py).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "fr_test.h"
#include "fraud/loadgen.h"

#define HOUR_NS ((int64_t)3600 * 1000000000LL)

static fr_hist *new_hist(void) {
  fr_error err = {0};
  fr_hist *h = fr_hist_new(1, HOUR_NS, 3, &err);
  cr_assert_not_null(h, "%s", err.msg);
  return h;
}

Test(hist, equivalent_ranges_match_hdrhistogram) {
  fr_hist *h = new_hist();
  /* Below 2048 (the sub-bucket count for 3 digits) every value is exact. */
  cr_assert_eq(fr_hist_lowest_equivalent(h, 2047), 2047);
  cr_assert_eq(fr_hist_highest_equivalent(h, 2047), 2047);
  /* HdrHistogram's HistogramTest values for (1, 1 h in ns... any highest), 3
   * digits: 10007 sits in [10000, 10007], a step of 8 from 8192 up. */
  cr_assert_eq(fr_hist_lowest_equivalent(h, 10007), 10000);
  cr_assert_eq(fr_hist_lowest_equivalent(h, 10009), 10008);
  cr_assert_eq(fr_hist_highest_equivalent(h, 8180), 8183);
  cr_assert_eq(fr_hist_highest_equivalent(h, 8191), 8191);
  cr_assert_eq(fr_hist_highest_equivalent(h, 8193), 8199);
  cr_assert_eq(fr_hist_highest_equivalent(h, 9995), 9999);
  cr_assert_eq(fr_hist_highest_equivalent(h, 10007), 10007);
  cr_assert_eq(fr_hist_highest_equivalent(h, 10008), 10015);
  /* 1 ms: 2^19 <= 1e6 < 2^20, steps of 2^9 = 512; 1953 * 512 = 999936. */
  cr_assert_eq(fr_hist_lowest_equivalent(h, 1000000), 999936);
  cr_assert_eq(fr_hist_highest_equivalent(h, 1000000), 1000447);
  fr_hist_free(h);
}

Test(hist, small_exact_example) {
  /* Values 1..100 once each: nearest rank p50 = 50, p90 = 90, p99 = 99,
   * p99.9 = 100 (rank ceil(99.9) = 100), all exact below 2048. */
  fr_hist *h = new_hist();
  for (int v = 1; v <= 100; v++)
    cr_assert_eq(fr_hist_record(h, v), 0);
  cr_assert_eq(fr_hist_count(h), 100);
  cr_assert_eq(fr_hist_percentile(h, 50), 50);
  cr_assert_eq(fr_hist_percentile(h, 90), 90);
  cr_assert_eq(fr_hist_percentile(h, 99), 99);
  cr_assert_eq(fr_hist_percentile(h, 99.9), 100);
  cr_assert_eq(fr_hist_percentile(h, 0), 1);
  cr_assert_eq(fr_hist_percentile(h, 100), 100);
  cr_assert_eq(fr_hist_min(h), 1);
  cr_assert_eq(fr_hist_max(h), 100);
  cr_assert_float_eq(fr_hist_mean(h), 50.5, 1e-12);
  /* Population variance of 1..100 is (100^2 - 1) / 12. */
  cr_assert_float_eq(fr_hist_stdev(h), sqrt(9999.0 / 12.0), 1e-9);
  cr_assert_eq(fr_hist_count_at_or_below(h, 10), 10);
  cr_assert_eq(fr_hist_count_at_or_below(h, 0), 0);
  cr_assert_eq(fr_hist_count_at_or_below(h, 1000), 100);
  /* 1000 values where 0.999 * 1000 is 999 in exact arithmetic but not in
   * binary: the rank must be 999, not 1000. */
  fr_hist_reset(h);
  for (int v = 1; v <= 1000; v++)
    fr_hist_record(h, v);
  cr_assert_eq(fr_hist_percentile(h, 99.9), 999);
  fr_hist_free(h);
}

typedef struct sample {
  int64_t *v;
  size_t n;
} sample;

static sample load_sample(void) {
  sample s = {0};
  FILE *f = fopen(fr_test_fixture("loadgen/hist_sample.txt"), "r");
  cr_assert_not_null(f, "missing fixture hist_sample.txt");
  s.v = malloc(20000 * sizeof *s.v);
  long long x;
  while (s.n < 20000 && fscanf(f, "%lld", &x) == 1)
    s.v[s.n++] = x;
  fclose(f);
  cr_assert_eq(s.n, 10007);
  return s;
}

/* numpy's answers: "p <percentile> <value>", "mean", "std", "min", "max". */
typedef struct expected {
  double p[32];
  int64_t v[32];
  int np;
  double mean, std;
  int64_t min, max;
} expected;

static expected load_expected(void) {
  expected e = {0};
  FILE *f = fopen(fr_test_fixture("loadgen/hist_expected.txt"), "r");
  cr_assert_not_null(f, "missing fixture hist_expected.txt");
  char key[16];
  char a[64], b[64];
  char line[256];
  while (fgets(line, sizeof line, f)) {
    int k = sscanf(line, "%15s %63s %63s", key, a, b);
    if (k == 3 && strcmp(key, "p") == 0 && e.np < 32) {
      fr_parse_double(a, strlen(a), &e.p[e.np]);
      fr_parse_int64(b, strlen(b), &e.v[e.np]);
      e.np++;
    } else if (k == 2 && strcmp(key, "mean") == 0) {
      fr_parse_double(a, strlen(a), &e.mean);
    } else if (k == 2 && strcmp(key, "std") == 0) {
      fr_parse_double(a, strlen(a), &e.std);
    } else if (k == 2 && strcmp(key, "min") == 0) {
      fr_parse_int64(a, strlen(a), &e.min);
    } else if (k == 2 && strcmp(key, "max") == 0) {
      fr_parse_int64(a, strlen(a), &e.max);
    }
  }
  fclose(f);
  cr_assert_eq(e.np, 13);
  return e;
}

static void check_against_numpy(const fr_hist *h, const expected *e) {
  for (int i = 0; i < e->np; i++) {
    int64_t got = fr_hist_percentile(h, e->p[i]);
    int64_t want = e->v[i];
    /* The histogram answers the top of the exact value's sub-bucket: never
     * below it, and off by less than 1 part in 1024 (3 digits). */
    cr_assert(got >= want && got <= fr_hist_highest_equivalent(h, want),
              "p%g: got %lld, numpy %lld (bucket [%lld, %lld])", e->p[i], (long long)got,
              (long long)want, (long long)fr_hist_lowest_equivalent(h, want),
              (long long)fr_hist_highest_equivalent(h, want));
    cr_assert_leq((double)(got - want), (double)want / 1024.0, "p%g", e->p[i]);
  }
  cr_assert_eq(fr_hist_min(h), e->min);
  cr_assert_eq(fr_hist_max(h), e->max);
  cr_assert_float_eq(fr_hist_mean(h), e->mean, e->mean * 1e-12);
  cr_assert_float_eq(fr_hist_stdev(h), e->std, e->std * 1e-9);
}

Test(hist, percentiles_match_numpy) {
  sample s = load_sample();
  expected e = load_expected();
  fr_hist *h = new_hist();
  for (size_t i = 0; i < s.n; i++)
    cr_assert_eq(fr_hist_record(h, s.v[i]), 0);
  cr_assert_eq(fr_hist_count(h), s.n);
  check_against_numpy(h, &e);
  fr_hist_free(h);
  free(s.v);
}

Test(hist, merge_equals_one_histogram) {
  /* Per-thread histograms merged must answer as one histogram of all. */
  sample s = load_sample();
  expected e = load_expected();
  fr_hist *a = new_hist(), *b = new_hist(), *all = new_hist();
  for (size_t i = 0; i < s.n; i++) {
    fr_hist_record(i % 3 ? a : b, s.v[i]);
    fr_hist_record(all, s.v[i]);
  }
  cr_assert_eq(fr_hist_merge(a, b), 0);
  cr_assert_eq(fr_hist_count(a), s.n);
  for (int i = 0; i < e.np; i++)
    cr_assert_eq(fr_hist_percentile(a, e.p[i]), fr_hist_percentile(all, e.p[i]));
  check_against_numpy(a, &e);
  /* Merging an empty histogram changes nothing (its min is not 0). */
  fr_hist *empty = new_hist();
  cr_assert_eq(fr_hist_merge(a, empty), 0);
  cr_assert_eq(fr_hist_min(a), e.min);
  fr_hist_free(a);
  fr_hist_free(b);
  fr_hist_free(all);
  fr_hist_free(empty);
  free(s.v);
}

Test(hist, saturation_and_bad_input) {
  fr_error err = {0};
  cr_assert_null(fr_hist_new(0, 100, 3, &err));
  cr_assert_eq(err.code, FR_EINVAL);
  cr_assert_null(fr_hist_new(10, 15, 3, NULL));
  cr_assert_null(fr_hist_new(1, 1000, 6, NULL));
  fr_hist *h = fr_hist_new(1, 1000000, 3, &err);
  cr_assert_not_null(h);
  cr_assert_eq(fr_hist_record(h, -1), FR_ERANGE);
  cr_assert_eq(fr_hist_count(h), 0);
  cr_assert_eq(fr_hist_percentile(h, 99), 0);
  cr_assert_eq(fr_hist_record(h, 5000000000LL), 0);
  cr_assert_eq(fr_hist_saturated(h), 1);
  cr_assert_eq(fr_hist_max(h), 1000000);
  cr_assert_eq(fr_hist_percentile(h, 50), 1000000);
  cr_assert_eq(fr_hist_record_n(h, 7, 9), 0);
  cr_assert_eq(fr_hist_count(h), 10);
  cr_assert_eq(fr_hist_percentile(h, 90), 7);
  fr_hist *other = new_hist();
  cr_assert_eq(fr_hist_merge(h, other), FR_EINVAL);
  cr_assert_eq(fr_hist_count(h), 10);
  fr_hist_free(h);
  fr_hist_free(other);
  fr_hist_free(NULL);
}
