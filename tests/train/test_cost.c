/*
 * test_cost.c - cost-based thresholds, cost curves, amount-weighted recall
 * and curve points against tests/fixtures/train/report.json (generate.py:
 * a brute force over every pair of thresholds, sklearn recall_score with
 * sample_weight, sklearn's _binary_clf_curve), plus a hand-computed case.
 */
#include <criterion/criterion.h>

#include "fraud/train.h"
#include "train_fixture.h"

static double *fx_doubles(const json_t *a, size_t *n) {
  *n = json_array_size(a);
  double *v = malloc((*n + 1) * sizeof *v);
  for (size_t i = 0; i < *n; i++)
    v[i] = json_number_value(json_array_get(a, i));
  return v;
}

static void check_cost(const char *name, const float *y, const float *p,
                       const double *amt, size_t n, const fr_cost_params *c,
                       const json_t *e, int exact_thresholds) {
  fr_cost_result r;
  fr_error err = {0};
  cr_assert_eq(fr_cost_thresholds(y, p, amt, n, c, &r, &err), 0, "%s",
               err.msg);
  double want = fx_num(json_object_get(e, "cost"));
  cr_expect(fx_close(r.cost, want, 1e-9 * (1 + fabs(want))),
            "%s: cost %.17g, brute force %.17g", name, r.cost, want);
  cr_expect(fx_close(r.cost_approve_all,
                     fx_num(json_object_get(e, "cost_approve_all")), 1e-6),
            "%s", name);
  /* Recomputing the cost at the chosen thresholds gives the same. */
  double again;
  cr_assert_eq(fr_cost_at(y, p, amt, n, c, &r.thresholds, &again, &err), 0);
  cr_expect(fx_close(again, r.cost, 1e-9 * (1 + fabs(want))), "%s", name);
  if (exact_thresholds) {
    cr_expect_eq(r.thresholds.review, fx_num(json_object_get(e, "review")),
                 "%s: review %.9g vs %.9g", name, r.thresholds.review,
                 fx_num(json_object_get(e, "review")));
    cr_expect_eq(r.thresholds.decline, fx_num(json_object_get(e, "decline")),
                 "%s: decline %.9g vs %.9g", name, r.thresholds.decline,
                 fx_num(json_object_get(e, "decline")));
    cr_expect_eq(r.approved,
                 (size_t)json_integer_value(json_object_get(e, "approved")),
                 "%s", name);
    cr_expect_eq(r.reviewed,
                 (size_t)json_integer_value(json_object_get(e, "reviewed")),
                 "%s", name);
    cr_expect_eq(r.declined,
                 (size_t)json_integer_value(json_object_get(e, "declined")),
                 "%s", name);
    cr_expect(fx_close(r.fraud_amount_stopped,
                       fx_num(json_object_get(e, "fraud_amount_stopped")),
                       1e-6),
              "%s", name);
  }
  cr_expect_leq(r.thresholds.review, r.thresholds.decline);
}

Test(cost, agrees_with_brute_force_and_sklearn) {
  json_t *root = fx_json("train/report.json");
  cr_assert(root, "report.json missing");
  const json_t *cases = json_object_get(root, "cases");
  cr_assert_geq(json_array_size(cases), 4);
  for (size_t ci = 0; ci < json_array_size(cases); ci++) {
    const json_t *c = json_array_get(cases, ci);
    const char *name = json_string_value(json_object_get(c, "name"));
    size_t n, n2, n3;
    float *y = fx_floats(json_object_get(c, "y"), &n);
    float *p = fx_floats(json_object_get(c, "p"), &n2);
    double *amt = fx_doubles(json_object_get(c, "amount"), &n3);
    cr_assert(n == n2 && n == n3);
    const json_t *e = json_object_get(c, "expected");
    fr_cost_params cp = {fx_num(json_object_get(c, "review_cost")),
                         fx_num(json_object_get(c, "decline_cost")), 1};
    int exact = strcmp(name, "real_amounts") != 0;
    check_cost(name, y, p, amt, n, &cp, json_object_get(e, "cost_review"),
               exact);
    cp.allow_review = 0;
    check_cost(name, y, p, amt, n, &cp,
               json_object_get(e, "cost_decline_only"), exact);

    /* Amount-weighted recall = sklearn recall_score(sample_weight=amount). */
    double ar;
    fr_error err = {0};
    cr_assert_eq(fr_amount_recall(y, p, amt, n,
                                  fx_num(json_object_get(c, "threshold")), &ar,
                                  &err),
                 0, "%s", err.msg);
    cr_expect(fx_close(ar, fx_num(json_object_get(e, "amount_recall")), 1e-9),
              "%s: amount recall %.17g vs %.17g", name, ar,
              fx_num(json_object_get(e, "amount_recall")));

    /* Curve points = sklearn _binary_clf_curve. */
    fr_curve_point *pts;
    size_t k;
    double P, N;
    cr_assert_eq(fr_curve_points(y, p, n, &pts, &k, &P, &N, &err), 0);
    const json_t *cv = json_object_get(e, "curve");
    cr_assert_eq(k, json_array_size(json_object_get(cv, "threshold")), "%s",
                 name);
    for (size_t i = 0; i < k; i++) {
      cr_expect_eq(pts[i].threshold,
                   json_number_value(
                       json_array_get(json_object_get(cv, "threshold"), i)));
      cr_expect_eq(pts[i].tp, json_number_value(
                                  json_array_get(json_object_get(cv, "tp"), i)));
      cr_expect_eq(pts[i].fp, json_number_value(
                                  json_array_get(json_object_get(cv, "fp"), i)));
    }
    cr_expect_eq(pts[k - 1].tp, P);
    cr_expect_eq(pts[k - 1].fp, N);
    free(pts);

    /* The cost curve's minimum over decline-only policies is the optimum. */
    double *thr, *dec, *rev;
    size_t m;
    cr_assert_eq(fr_cost_curve(y, p, amt, n, &cp, &thr, &dec, &rev, &m, &err),
                 0);
    cr_expect_eq(m, k + 1);
    double mn = INFINITY;
    for (size_t i = 0; i < m; i++)
      mn = dec[i] < mn ? dec[i] : mn;
    double want =
        fx_num(json_object_get(json_object_get(e, "cost_decline_only"), "cost"));
    cr_expect(fx_close(mn, want, 1e-9 * (1 + want)), "%s: %.17g vs %.17g",
              name, mn, want);
    free(thr);
    free(dec);
    free(rev);
    free(y);
    free(p);
    free(amt);
  }
  json_decref(root);
}

/* Hand-computed: scores .9(F,100) .4(G,7) .4(F,30) .2(G,10); review 5,
 * decline 20.  Decline .9 (0), review the .4 pair (10), approve .2 (0):
 * cost 10.  Declining the .4 pair instead costs 20 (the good one); approving
 * it costs 30; reviewing everything costs 20. */
Test(cost, hand_computed) {
  float y[] = {0, 1, 1, 0}, p[] = {0.2f, 0.9f, 0.4f, 0.4f};
  double amt[] = {10, 100, 30, 7};
  fr_cost_params c = {5, 20, 1};
  fr_cost_result r;
  cr_assert_eq(fr_cost_thresholds(y, p, amt, 4, &c, &r, NULL), 0);
  cr_expect_eq(r.cost, 10);
  cr_expect_eq(r.thresholds.decline, (double)0.9f);
  cr_expect_eq(r.thresholds.review, (double)0.4f);
  cr_expect_eq(r.declined, 1);
  cr_expect_eq(r.reviewed, 2);
  cr_expect_eq(r.approved, 1);
  cr_expect_eq(r.fraud_amount_stopped, 130);
  cr_expect_eq(r.cost_approve_all, 130);
  /* Without reviews: decline .9 and .4 -> 20 (the good .4), or decline .9
   * only -> 30 (the missed fraud): 20. */
  c.allow_review = 0;
  cr_assert_eq(fr_cost_thresholds(y, p, amt, 4, &c, &r, NULL), 0);
  cr_expect_eq(r.cost, 20);
  cr_expect_eq(r.thresholds.decline, (double)0.4f);
  cr_expect_eq(r.thresholds.review, r.thresholds.decline);
  double ar;
  cr_assert_eq(fr_amount_recall(y, p, amt, 4, 0.5, &ar, NULL), 0);
  cr_expect_float_eq(ar, 100.0 / 130.0, 1e-15);
}

Test(cost, bad_input) {
  float y[] = {0, 1}, p[] = {0.2f, 0.9f};
  double amt[] = {10, -1};
  fr_cost_params c = {5, 20, 1};
  fr_cost_result r;
  fr_error err = {0};
  cr_expect_eq(fr_cost_thresholds(y, p, amt, 2, &c, &r, &err), FR_EINVAL);
  cr_expect(strstr(err.msg, "row 1") && strstr(err.msg, "weight"), "%s",
            err.msg);
  amt[1] = 3;
  c.review_cost = NAN;
  cr_expect_eq(fr_cost_thresholds(y, p, amt, 2, &c, &r, &err), FR_EINVAL);
  cr_expect(strstr(err.msg, "review cost"), "%s", err.msg);
  c.review_cost = 1;
  c.decline_cost = -2;
  cr_expect_eq(fr_cost_thresholds(y, p, amt, 2, &c, &r, &err), FR_EINVAL);
  cr_expect_eq(fr_cost_thresholds(y, p, amt, 0, &c, &r, &err), FR_EINVAL);
}
