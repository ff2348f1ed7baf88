/*
 * test_metrics.c - fr_metrics_compute, fr_metrics_json and the threshold
 * choices against scikit-learn 1.2.1 (tests/fixtures/train/metrics.json,
 * made by generate.py: roc_auc_score, average_precision_score, log_loss,
 * brier_score_loss, roc_curve, precision/recall/f1_score, confusion_matrix)
 * to 1e-9, plus hand-computed cases and bad input.
 */
#include <criterion/criterion.h>
#include <locale.h>

#include "fraud/train.h"
#include "train_fixture.h"

#define TOL 1e-9

static void check_case(const json_t *c) {
  const char *name = json_string_value(json_object_get(c, "name"));
  size_t n, n2;
  float *y = fx_floats(json_object_get(c, "y"), &n);
  float *p = fx_floats(json_object_get(c, "p"), &n2);
  cr_assert_eq(n, n2);
  const json_t *e = json_object_get(c, "expected");
  double thr = fx_num(json_object_get(e, "threshold"));
  fr_metrics m;
  fr_error err = {0};
  cr_assert_eq(fr_metrics_compute(y, p, n, thr, &m, &err), 0, "%s: %s", name,
               err.msg);
  cr_expect_eq(m.rows, (size_t)json_integer_value(json_object_get(e, "rows")),
               "%s rows", name);
  cr_expect_eq(m.positives,
               (size_t)json_integer_value(json_object_get(e, "positives")),
               "%s positives", name);
#define NUM(field, key)                                                      \
  cr_expect(fx_close(m.field, fx_num(json_object_get(e, key)), TOL),         \
            "%s: %s = %.17g, sklearn %.17g", name, key, m.field,             \
            fx_num(json_object_get(e, key)))
  NUM(roc_auc, "roc_auc");
  NUM(pr_auc, "pr_auc");
  NUM(log_loss, "log_loss");
  NUM(brier, "brier");
  NUM(precision, "precision");
  NUM(recall, "recall");
  NUM(f1, "f1");
#undef NUM
  const json_t *rec = json_object_get(e, "recall_at_fpr");
  const char *keys[FR_N_FPR] = {"0.001", "0.01", "0.05"};
  for (int i = 0; i < FR_N_FPR; i++) {
    double want = fx_num(json_object_get(rec, keys[i]));
    cr_expect(fx_close(m.recall_at_fpr[i], want, TOL),
              "%s: recall at FPR %s = %.17g, sklearn roc_curve %.17g", name,
              keys[i], m.recall_at_fpr[i], want);
  }
  const json_t *cm = json_object_get(e, "confusion");
  cr_expect_eq(m.tp, (size_t)json_integer_value(json_object_get(cm, "tp")),
               "%s tp", name);
  cr_expect_eq(m.fp, (size_t)json_integer_value(json_object_get(cm, "fp")),
               "%s fp", name);
  cr_expect_eq(m.tn, (size_t)json_integer_value(json_object_get(cm, "tn")),
               "%s tn", name);
  cr_expect_eq(m.fn, (size_t)json_integer_value(json_object_get(cm, "fn")),
               "%s fn", name);

  /* Thresholds, where both classes are present. */
  const json_t *mf = json_object_get(e, "threshold_max_f1");
  if (mf) {
    double t;
    cr_assert_eq(fr_threshold_max_f1(y, p, n, &t, &err), 0, "%s", err.msg);
    cr_expect_eq(t, json_number_value(mf), "%s: max-F1 threshold %.9g vs %.9g",
                 name, t, json_number_value(mf));
    const json_t *at = json_object_get(e, "threshold_at_fpr");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)at, k, v) {
      double f = 0;
      fr_parse_double(k, strlen(k), &f);
      cr_assert_eq(fr_threshold_at_fpr(y, p, n, f, &t, &err), 0, "%s",
                   err.msg);
      if (json_is_null(v)) {
        /* sklearn's sentinel (max + 1): nothing may be flagged. */
        float mx = 0;
        for (size_t i = 0; i < n; i++)
          mx = p[i] > mx ? p[i] : mx;
        cr_expect_gt(t, mx, "%s: at-FPR %s threshold %.9g must exceed %.9g",
                     name, k, t, (double)mx);
      } else {
        cr_expect_eq(t, json_number_value(v),
                     "%s: at-FPR %s threshold %.9g, roc_curve %.9g", name, k,
                     t, json_number_value(v));
      }
    }
  }
  free(y);
  free(p);
}

Test(metrics, agree_with_sklearn) {
  json_t *root = fx_json("train/metrics.json");
  cr_assert(root, "metrics.json missing");
  const json_t *cases = json_object_get(root, "cases");
  cr_assert_geq(json_array_size(cases), 10);
  for (size_t i = 0; i < json_array_size(cases); i++)
    check_case(json_array_get(cases, i));
  json_decref(root);
}

/* Hand-computed: y = 0 0 1 1, p = .1 .4 .35 .8 (sklearn's docstring
 * example).  Pairs (pos, neg): (.35,.1) ok, (.35,.4) wrong, (.8,*) ok ->
 * ROC-AUC 3/4.  Ranked .8+ .4- .35+ .1-: AP = 1/2*1 + 1/2*2/3 = 5/6. */
Test(metrics, hand_computed) {
  float y[] = {0, 0, 1, 1}, p[] = {0.1f, 0.4f, 0.35f, 0.8f};
  fr_metrics m;
  cr_assert_eq(fr_metrics_compute(y, p, 4, 0.4, &m, NULL), 0);
  cr_expect_float_eq(m.roc_auc, 0.75, 1e-15);
  cr_expect_float_eq(m.pr_auc, 5.0 / 6.0, 1e-15);
  /* p >= 0.4: .4 (neg) and .8 (pos) flagged. */
  cr_expect_eq(m.tp, 1);
  cr_expect_eq(m.fp, 1);
  cr_expect_eq(m.tn, 1);
  cr_expect_eq(m.fn, 1);
  cr_expect_float_eq(m.brier, (0.01 + 0.16 + 0.4225 + 0.04) / 4, 1e-7);
}

Test(metrics, json_keys_and_locale) {
  float y[] = {0, 0, 1, 1, 0}, p[] = {0.1f, 0.4f, 0.35f, 0.8f, 0.05f};
  fr_metrics m;
  cr_assert_eq(fr_metrics_compute(y, p, 5, 0.35, &m, NULL), 0);
  /* A decimal-comma locale must not change the output. */
  cr_assert(setlocale(LC_ALL, "de_DE.UTF-8"), "de_DE.UTF-8 locale missing");
  char *s = fr_metrics_json(&m);
  setlocale(LC_ALL, "C");
  cr_assert(s);
  json_error_t je;
  json_t *j = json_loads(s, 0, &je);
  cr_assert(j, "not JSON: %s (%s)", s, je.text);
  const char *keys[] = {"rows", "positives", "roc_auc", "pr_auc", "log_loss",
                        "brier", "recall_at_fpr", "precision", "recall",
                        "f1", "threshold", "confusion"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    cr_expect(json_object_get(j, keys[i]), "key %s missing in %s", keys[i], s);
  cr_expect_eq(json_integer_value(json_object_get(j, "rows")), 5);
  /* Round-trip precision: the parsed double is the computed one. */
  cr_expect_eq(json_number_value(json_object_get(j, "log_loss")), m.log_loss);
  cr_expect_eq(json_number_value(json_object_get(j, "roc_auc")), m.roc_auc);
  const json_t *r = json_object_get(j, "recall_at_fpr");
  cr_expect(json_object_get(r, "0.001") && json_object_get(r, "0.01") &&
            json_object_get(r, "0.05"), "%s", s);
  const json_t *c = json_object_get(j, "confusion");
  cr_expect_eq(json_integer_value(json_object_get(c, "tp")), (json_int_t)m.tp);
  cr_expect_eq(json_integer_value(json_object_get(c, "fn")), (json_int_t)m.fn);
  json_decref(j);
  free(s);
}

Test(metrics, undefined_is_null_in_json) {
  float y[] = {0, 0, 0}, p[] = {0.1f, 0.2f, 0.3f};
  fr_metrics m;
  cr_assert_eq(fr_metrics_compute(y, p, 3, 0.5, &m, NULL), 0);
  cr_expect(isnan(m.roc_auc) && isnan(m.pr_auc));
  char *s = fr_metrics_json(&m);
  json_t *j = json_loads(s, 0, NULL);
  cr_assert(j, "not JSON: %s", s);
  cr_expect(json_is_null(json_object_get(j, "roc_auc")), "%s", s);
  json_decref(j);
  free(s);
}

Test(metrics, bad_input) {
  float y[] = {0, 1, 2}, p[] = {0.1f, 0.2f, 0.3f};
  fr_metrics m;
  fr_error err = {0};
  cr_expect_eq(fr_metrics_compute(y, p, 0, 0.5, &m, &err), FR_EINVAL);
  cr_expect_eq(fr_metrics_compute(y, p, 3, 0.5, &m, &err), FR_EINVAL);
  cr_expect(strstr(err.msg, "row 2") && strstr(err.msg, "label 2"), "%s",
            err.msg);
  float y2[] = {0, 1}, p2[] = {NAN, 0.5f}, p3[] = {0.5f, 1.5f};
  cr_expect_eq(fr_metrics_compute(y2, p2, 2, 0.5, &m, &err), FR_EINVAL);
  cr_expect(strstr(err.msg, "row 0") && strstr(err.msg, "nan"), "%s", err.msg);
  cr_expect_eq(fr_metrics_compute(y2, p3, 2, 0.5, &m, &err), FR_EINVAL);
  cr_expect(strstr(err.msg, "row 1"), "%s", err.msg);
  cr_expect_eq(fr_metrics_compute(y2, p3, 2, NAN, &m, &err), FR_EINVAL);
  double t;
  float yn[] = {0, 0}, yp[] = {1, 1}, pp[] = {0.2f, 0.4f};
  cr_expect_eq(fr_threshold_max_f1(yn, pp, 2, &t, &err), FR_EDATA);
  cr_expect_eq(fr_threshold_at_fpr(yp, pp, 2, 0.01, &t, &err), FR_EDATA);
  cr_expect_eq(fr_threshold_at_fpr(yn, pp, 2, 1.5, &t, &err), FR_EINVAL);
}

/* Hand-computed thresholds: ranked .9- .8+ .7+ .6- .5+ (P=3, N=2).
 * F1 at cuts: .9: 0; .8: 2/(1+1+3)=.4; .7: 4/(2+1+3)=2/3; .6: 4/7=.571;
 * .5: 6/(3+2+3)=.75 -> .5.  FPR: .9 gives 1/2; at fpr .49 nothing qualifies
 * (threshold above .9); at fpr .5: .7 is the lowest with FPR .5. */
Test(metrics, hand_computed_thresholds) {
  float y[] = {0, 1, 1, 0, 1}, p[] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
  double t;
  cr_assert_eq(fr_threshold_max_f1(y, p, 5, &t, NULL), 0);
  cr_expect_eq(t, (double)0.5f);
  cr_assert_eq(fr_threshold_at_fpr(y, p, 5, 0.5, &t, NULL), 0);
  cr_expect_eq(t, (double)0.7f);
  cr_assert_eq(fr_threshold_at_fpr(y, p, 5, 0.49, &t, NULL), 0);
  cr_expect_gt(t, (double)0.9f);
  fr_metrics m;
  cr_assert_eq(fr_metrics_compute(y, p, 5, t, &m, NULL), 0);
  cr_expect_eq(m.tp + m.fp, 0);
}
