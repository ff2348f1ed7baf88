/*
 * test_metrics.c - the Prometheus registry: histogram cumulation (the issue's
 * worked example: buckets 0.1/0.5/1 after observing 0.05, 0.7, 5.0 give 1, 1,
 * 2, 3 and sum 5.75), label escaping as the exposition format specifies,
 * series identity, locale independence, and consistency under concurrent
 * observation.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <locale.h>
#include <pthread.h>
#include <string.h>

#include "serve/metrics.h"

static const double b3[] = {0.1, 0.5, 1};
static const fr__metric_def defs[] = {
    {"t_requests_total", FR__COUNTER, "Requests.", {"endpoint", "status"}, NULL, 0},
    {"t_latency_seconds", FR__HISTOGRAM, "Latency.", {NULL}, b3, 3},
    {"t_ready", FR__GAUGE, "Ready\\flag\nsecond line", {NULL}, NULL, 0},
    {"t_unused_total", FR__COUNTER, "Never used.", {"x"}, NULL, 0},
};

static char *render(fr__metrics *m) {
  fr__buf b = {0};
  fr__metrics_render(m, &b);
  char *t = fr__buf_take(&b, NULL);
  return t ? t : strdup(""); /* nothing rendered yet */
}

Test(metrics, histogram_issue_example) {
  fr__metrics *m = fr__metrics_new(defs, 4);
  cr_assert_not_null(m);
  fr__series *h = fr__metrics_get(m, 1, NULL);
  fr__series_observe(h, 0.05);
  fr__series_observe(h, 0.7);
  fr__series_observe(h, 5.0);
  char *t = render(m);
  cr_assert_not_null(strstr(t, "# TYPE t_latency_seconds histogram\n"));
  cr_assert_not_null(strstr(t,
                            "t_latency_seconds_bucket{le=\"0.1\"} 1\n"
                            "t_latency_seconds_bucket{le=\"0.5\"} 1\n"
                            "t_latency_seconds_bucket{le=\"1\"} 2\n"
                            "t_latency_seconds_bucket{le=\"+Inf\"} 3\n"
                            "t_latency_seconds_sum 5.75\n"
                            "t_latency_seconds_count 3\n"),
            "got:\n%s", t);
  free(t);
  fr__metrics_free(m);
}

Test(metrics, bucket_bound_is_inclusive) {
  fr__metrics *m = fr__metrics_new(defs, 4);
  fr__series *h = fr__metrics_get(m, 1, NULL);
  fr__series_observe(h, 0.5); /* le="0.5" counts observations <= 0.5 */
  char *t = render(m);
  cr_assert_not_null(strstr(t, "t_latency_seconds_bucket{le=\"0.1\"} 0\n"
                               "t_latency_seconds_bucket{le=\"0.5\"} 1\n"));
  free(t);
  fr__metrics_free(m);
}

Test(metrics, counters_labels_and_escaping) {
  fr__metrics *m = fr__metrics_new(defs, 4);
  const char *l1[] = {"/v1/score", "200"};
  const char *l2[] = {"a\"b\\c\nd", "400"};
  fr__series *s1 = fr__metrics_get(m, 0, l1);
  fr__series_add(s1, 1);
  fr__series_add(fr__metrics_get(m, 0, l1), 2);
  cr_assert_eq(fr__metrics_get(m, 0, l1), s1, "same labels, same series");
  fr__series_add(fr__metrics_get(m, 0, l2), 1);
  fr__series_set(fr__metrics_get(m, 2, NULL), 1);
  char *t = render(m);
  cr_assert_not_null(strstr(t, "# HELP t_requests_total Requests.\n"
                               "# TYPE t_requests_total counter\n"
                               "t_requests_total{endpoint=\"/v1/score\",status=\"200\"} 3\n"
                               "t_requests_total{endpoint=\"a\\\"b\\\\c\\nd\",status=\"400\"} 1\n"),
            "got:\n%s", t);
  /* HELP escapes backslash and newline only. */
  cr_assert_not_null(strstr(t, "# HELP t_ready Ready\\\\flag\\nsecond line\n"), "got:\n%s", t);
  cr_assert_not_null(strstr(t, "t_ready 1\n"));
  /* A family without series is not written at all. */
  cr_assert_null(strstr(t, "t_unused_total"));
  free(t);
  fr__metrics_free(m);
}

Test(metrics, special_values) {
  fr__buf b = {0};
  fr__metrics_fmt_value(&b, 1.0 / 0.0);
  fr__buf_putc(&b, ' ');
  fr__metrics_fmt_value(&b, -1.0 / 0.0);
  fr__buf_putc(&b, ' ');
  fr__metrics_fmt_value(&b, 0.0 / 0.0);
  fr__buf_putc(&b, ' ');
  fr__metrics_fmt_value(&b, 1e-7);
  cr_assert_str_eq(fr__buf_cstr(&b), "+Inf -Inf NaN 1e-07");
  fr__buf_close(&b);
}

Test(metrics, locale_independent) {
  if (!setlocale(LC_ALL, "de_DE.UTF-8"))
    cr_skip_test("de_DE.UTF-8 locale not installed (locales-all)");
  fr__metrics *m = fr__metrics_new(defs, 4);
  fr__series *h = fr__metrics_get(m, 1, NULL);
  fr__series_observe(h, 0.25);
  char *t = render(m);
  setlocale(LC_ALL, "C");
  cr_assert_not_null(strstr(t, "t_latency_seconds_bucket{le=\"0.1\"} 0\n"), "got:\n%s", t);
  cr_assert_not_null(strstr(t, "t_latency_seconds_sum 0.25\n"), "got:\n%s", t);
  free(t);
  fr__metrics_free(m);
}

Test(metrics, rejects_bad_tables) {
  static const double unsorted[] = {1, 0.5};
  fr__metric_def bad[] = {{"x", FR__HISTOGRAM, "x", {NULL}, unsorted, 2}};
  cr_assert_null(fr__metrics_new(bad, 1));
  fr__metric_def nob[] = {{"x", FR__HISTOGRAM, "x", {NULL}, NULL, 0}};
  cr_assert_null(fr__metrics_new(nob, 1));
  cr_assert_null(fr__metrics_get(NULL, 0, NULL));
  fr__series_add(NULL, 1); /* NULL-safe */
}

static fr__metrics *g_m;
static void *observer(void *arg) {
  (void)arg;
  for (int i = 0; i < 20000; i++) {
    fr__series_observe(fr__metrics_get(g_m, 1, NULL), (i % 4) * 0.3);
    const char *l[] = {"/x", (i & 1) ? "200" : "400"};
    fr__series_add(fr__metrics_get(g_m, 0, l), 1);
  }
  return NULL;
}

/* While two threads observe, every rendering still has +Inf == _count and
 * cumulative buckets; afterwards nothing was lost. */
Test(metrics, concurrent_consistency) {
  g_m = fr__metrics_new(defs, 4);
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, observer, NULL);
  for (int r = 0; r < 50; r++) {
    char *t = render(g_m);
    const char *inf = strstr(t, "le=\"+Inf\"} ");
    const char *cnt = strstr(t, "t_latency_seconds_count ");
    if (inf && cnt) {
      long a = strtol(inf + strlen("le=\"+Inf\"} "), NULL, 10);
      long b = strtol(cnt + strlen("t_latency_seconds_count "), NULL, 10);
      cr_assert_eq(a, b);
    }
    free(t);
  }
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  cr_assert_eq(fr__series_value(fr__metrics_get(g_m, 1, NULL)), 40000.0);
  const char *l[] = {"/x", "200"};
  cr_assert_eq(fr__series_value(fr__metrics_get(g_m, 0, l)), 20000.0);
  fr__metrics_free(g_m);
}

/* The response float formatter gives exactly fr_fmt_float's shortest text
 * (a different search order), including under a decimal-comma locale. */
Test(buf, float_format_matches_fr_fmt_float) {
  int de = setlocale(LC_ALL, "de_DE.UTF-8") != NULL;
  uint32_t x = 0x12345678u;
  for (int i = 0; i < 200000; i++) {
    x = x * 1664525u + 1013904223u;
    float v;
    uint32_t bits = x;
    memcpy(&v, &bits, 4);
    if (!isfinite(v))
      continue;
    if (i % 2)
      v = (float)(x >> 8) / 16777216.0f; /* probabilities in [0, 1) */
    char want[40];
    fr_fmt_float(want, sizeof want, v);
    fr__buf b = {0};
    fr__buf_json_float(&b, v);
    cr_assert_str_eq(fr__buf_cstr(&b), want, "value bits %08x (locale de: %d)", bits, de);
    fr__buf_close(&b);
  }
  /* Edge cases: zeros, the extremes, subnormals, the switch between fixed
   * and exponent notation, carries that add a digit (9.9999999e-5), and
   * every float near a few decimal midpoints (where the 9 printed digits
   * end in 5 then zeros and are rounded again). */
  float edge[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 0.1f, 1e-4f, 9.99999e-5f, 1e-5f, 123456.0f,
                  1234567.0f, 12345678.0f, 123456789.0f, 1e10f, FLT_MAX, -FLT_MAX, FLT_MIN,
                  1e-45f, 3e-44f, 0.099999994f, 0.99999994f, 9.9999999e-5f, 999999.94f,
                  0.000123449995f, 0.12345f, 1.5f, 2.5e-7f};
  for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
    for (int step = -64; step <= 64; step++) {
      float v = edge[i];
      for (int k = 0; k < (step < 0 ? -step : step); k++)
        v = nextafterf(v, step < 0 ? -INFINITY : INFINITY);
      if (!isfinite(v))
        continue;
      char want[40];
      fr_fmt_float(want, sizeof want, v);
      fr__buf b = {0};
      fr__buf_json_float(&b, v);
      cr_assert_str_eq(fr__buf_cstr(&b), want, "value %.9g (locale de: %d)", (double)v, de);
      fr__buf_close(&b);
    }
  }
  /* Floats with few significant bits, m * 2^-k: their exact decimal values
   * are short, so digits dropped in rounding are often exactly 5 then zeros
   * (ties, which printf rounds to even). */
  for (int k = 0; k <= 60; k += 1) {
    for (int mm = 1; mm <= 3000; mm++) {
      float v = ldexpf((float)mm, -k);
      char want[40];
      fr_fmt_float(want, sizeof want, v);
      fr__buf b = {0};
      fr__buf_json_float(&b, v);
      cr_assert_str_eq(fr__buf_cstr(&b), want, "value %d * 2^-%d", mm, k);
      fr__buf_close(&b);
    }
  }
  setlocale(LC_ALL, "C");
}
