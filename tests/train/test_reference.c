/*
 * test_reference.c - fr_drift_reference_json (src/train/reference.c), the
 * drift reference a bundle carries for the server's PSI gauges:
 *
 * - hand-worked columns: 1..20 (edges at the deciles 3, 5, ..., 19, every
 *   share 0.1), ties and missing values (deciles merged, a missing share),
 *   every value missing (no edge), infinities (left out of the edges);
 * - the server's side (src/serve/drift.c): a tracker reading the JSON and
 *   one building its reference from the same rows (fr__drift_set_reference)
 *   give the same PSI for any traffic, bit for bit, and the reference rows
 *   themselves give PSI 0;
 * - refusals: no rows, repeated or empty names.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>

#include "fraud/train.h"
#include "serve/drift.h"

static json_t *parse(char *text) {
  cr_assert_not_null(text);
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  cr_assert_not_null(j, "%s: %s", text, je.text);
  free(text);
  return j;
}

/* Expects D.edges == edges[0..ne) and D.shares == shares[0..ne + 2). */
static void expect_dist(const json_t *d, const char *what, const double *edges, size_t ne,
                        const double *shares) {
  const json_t *e = json_object_get(d, "edges"), *s = json_object_get(d, "shares");
  cr_assert(json_is_array(e) && json_is_array(s), "%s: no edges/shares", what);
  cr_assert_eq(json_array_size(e), ne, "%s: %zu edges, want %zu", what, json_array_size(e),
               ne);
  cr_assert_eq(json_array_size(s), ne + 2, "%s: %zu shares", what, json_array_size(s));
  for (size_t i = 0; i < ne; i++)
    cr_expect_eq(json_number_value(json_array_get(e, i)), edges[i], "%s: edge %zu = %.17g",
                 what, i, json_number_value(json_array_get(e, i)));
  for (size_t i = 0; i < ne + 2; i++)
    cr_expect(fabs(json_number_value(json_array_get(s, i)) - shares[i]) < 1e-15,
              "%s: share %zu = %.17g, want %.17g", what, i,
              json_number_value(json_array_get(s, i)), shares[i]);
}

Test(reference, hand_worked_columns) {
  /* 20 rows, 4 columns:
   *   a: 1..20          -> ranks floor(20k/10) = 2k hold 3, 5, ..., 19;
   *                        two values per bin: every share 0.1
   *   b: 0 x6, 1 x2, NaN x12 -> m = 8, ranks 0,1,2,3,4,4,5,6,7 hold
   *                        0,0,0,0,0,0,0,1,1: edges {0, 1}; 0 has one edge
   *                        <= it (bin 1), 1 two (bin 2): shares 0, 6/20,
   *                        2/20, missing 12/20
   *   c: NaN everywhere -> no edge: shares [0, 1]
   *   d: -inf, then 1..18, then +inf -> ranks 2k hold 2, 4, ..., 16, 18
   *                        (inf sits at rank 19, never a decile); the one
   *                        at rank 0 (-inf) is not a decile either */
  enum { N = 20, C = 4 };
  float x[N * C], p[N];
  for (int i = 0; i < N; i++) {
    x[i * C + 0] = (float)(i + 1);
    x[i * C + 1] = i < 6 ? 0.0f : i < 8 ? 1.0f : NAN;
    x[i * C + 2] = NAN;
    x[i * C + 3] = i == 0 ? -INFINITY : i == N - 1 ? INFINITY : (float)i;
    p[i] = (float)(N - i) / 32.0f; /* 20/32 .. 1/32, exact in float */
  }
  const char *names[C] = {"a", "b", "c", "d"};
  fr_error err = {0};
  json_t *r = parse(fr_drift_reference_json(x, p, N, C, names, &err));
  cr_expect_eq(json_integer_value(json_object_get(r, "rows")), N);
  const json_t *f = json_object_get(r, "features");
  cr_assert_eq(json_object_size(f), C);

  double ea[9], sa[11];
  for (int k = 0; k < 9; k++)
    ea[k] = 2 * (k + 1) + 1;
  for (int b = 0; b < 10; b++)
    sa[b] = 0.1;
  sa[10] = 0;
  expect_dist(json_object_get(f, "a"), "a", ea, 9, sa);
  expect_dist(json_object_get(f, "b"), "b", (double[]){0, 1}, 2,
              (double[]){0, 6.0 / 20, 2.0 / 20, 12.0 / 20});
  expect_dist(json_object_get(f, "c"), "c", NULL, 0, (double[]){0, 1});
  /* d: values -inf, 1..18, inf; sorted rank j holds -inf (j=0), j (1..18),
   * inf (19); deciles at ranks 2, 4, ..., 18: 2, 4, ..., 18.  Bins: -inf
   * and 1 below 2; then pairs; 18 and inf at or above 18. */
  double ed[9], sd[11];
  for (int k = 0; k < 9; k++)
    ed[k] = 2 * (k + 1);
  for (int b = 0; b < 10; b++)
    sd[b] = 0.1;
  sd[10] = 0;
  expect_dist(json_object_get(f, "d"), "d", ed, 9, sd);
  /* Scores 1/32 .. 20/32: the same ranks as column a, so the deciles are
   * 3/32, 5/32, ..., 19/32. */
  double es[9];
  for (int k = 0; k < 9; k++)
    es[k] = (2 * (k + 1) + 1) / 32.0;
  expect_dist(json_object_get(r, "score"), "score", es, 9, sa);
  json_decref(r);
}

Test(reference, infinite_deciles_are_left_out) {
  /* Four rows 1, inf, inf, inf: ranks floor(4k/10) = 0,0,1,1,2,2,2,3,3 hold
   * 1,1,inf,...: the only finite decile is 1; 1 falls at or above it (bin
   * 1), and so does inf: shares 0, 1, missing 0. */
  float x[4] = {1.0f, INFINITY, INFINITY, INFINITY}, p[4] = {0.1f, 0.2f, 0.3f, 0.4f};
  const char *names[1] = {"v"};
  json_t *r = parse(fr_drift_reference_json(x, p, 4, 1, names, NULL));
  expect_dist(json_object_get(json_object_get(r, "features"), "v"), "v", (double[]){1}, 1,
              (double[]){0, 1, 0});
  json_decref(r);
}

/* A deterministic stream of test values: mixed scales, ties, NaNs. */
static float value(unsigned i, unsigned col) {
  unsigned h = (i * 2654435761u) ^ (col * 40503u + 7u);
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  switch (col) {
  case 0: return (float)(h % 100000) / 100.0f;        /* amounts */
  case 1: return (float)(h % 5);                      /* few distinct values */
  case 2: return h % 7 == 0 ? NAN : (float)(h % 1000) - 500.0f; /* with NaN */
  default: return 0.25f;                              /* constant */
  }
}

Test(reference, server_reads_what_it_would_have_built) {
  enum { N = 997, C = 4, M = 500 };
  const char *names[C] = {"amt", "count", "delta", "flat"};
  float *x = malloc(N * C * sizeof *x), p[N];
  for (unsigned i = 0; i < N; i++) {
    for (unsigned j = 0; j < C; j++)
      x[i * C + j] = value(i, j);
    p[i] = (float)((i * 7919u) % 1000u) / 1000.0f;
  }
  json_t *r = parse(fr_drift_reference_json(x, p, N, C, names, NULL));
  fr__drift *from_json = fr__drift_new(C, names, r, 100000);
  fr__drift *from_rows = fr__drift_new(C, names, NULL, 100000);
  fr__drift *same_rows = fr__drift_new(C, names, r, 100000);
  cr_assert(fr__drift_has_reference(from_json), "the server refused the reference");
  cr_assert_eq(fr__drift_set_reference(from_rows, x, p, N), 0);
  /* Shifted traffic: other rows, amounts doubled, scores squeezed up. */
  for (unsigned i = 0; i < M; i++) {
    float row[C];
    for (unsigned j = 0; j < C; j++)
      row[j] = value(N + 3 * i, j);
    row[0] *= 2;
    float s = 0.5f + 0.5f * (float)((i * 31u) % 100u) / 100.0f;
    fr__drift_observe(from_json, row, s);
    fr__drift_observe(from_rows, row, s);
  }
  for (unsigned i = 0; i < N; i++)
    fr__drift_observe(same_rows, x + i * C, p[i]);
  double a = fr__drift_score_psi(from_json), b = fr__drift_score_psi(from_rows);
  cr_expect(a == b && isfinite(a) && a > 0.25, "score PSI %.17g (manifest) vs %.17g (rows)", a,
            b);
  cr_expect_eq(fr__drift_score_psi(same_rows), 0.0);
  for (size_t j = 0; j < C; j++) {
    a = fr__drift_feature_psi(from_json, j);
    b = fr__drift_feature_psi(from_rows, j);
    cr_expect(a == b && isfinite(a), "%s: PSI %.17g (manifest) vs %.17g (rows)", names[j], a,
              b);
    cr_expect_eq(fr__drift_feature_psi(same_rows, j), 0.0, "%s", names[j]);
  }
  cr_expect(fr__drift_feature_psi(from_json, 0) > 0.25, "doubled amounts must drift");
  fr__drift_free(from_json);
  fr__drift_free(from_rows);
  fr__drift_free(same_rows);
  json_decref(r);
  free(x);
}

Test(reference, refusals) {
  float x[2] = {1, 2}, p[1] = {0.5f};
  fr_error err = {0};
  cr_expect_null(fr_drift_reference_json(x, p, 0, 2, (const char *[]){"a", "b"}, &err));
  cr_expect_eq(err.code, FR_EINVAL);
  cr_expect(strstr(err.msg, "no rows"), "%s", err.msg);
  cr_expect_null(fr_drift_reference_json(x, p, 1, 2, (const char *[]){"a", "a"}, &err));
  cr_expect(strstr(err.msg, "both named 'a'"), "%s", err.msg);
  cr_expect_null(fr_drift_reference_json(x, p, 1, 2, (const char *[]){"a", ""}, &err));
  cr_expect(strstr(err.msg, "feature 1 has no name"), "%s", err.msg);
  cr_expect_null(fr_drift_reference_json(NULL, p, 1, 2, (const char *[]){"a", "b"}, &err));
  /* No feature at all: the score alone. */
  json_t *r = parse(fr_drift_reference_json(NULL, p, 1, 0, NULL, &err));
  cr_expect_eq(json_object_size(json_object_get(r, "features")), 0);
  json_decref(r);
}
