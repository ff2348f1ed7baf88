/*
 * test_report.c - the HTML/SVG evaluation report on the fixture model's
 * test-slice scores (tests/fixtures/train: python-xgboost's predictions,
 * the table's amount column as money): the page holds the five plots, the
 * metric values computed by the tested functions, no external reference,
 * and prints the same under a decimal-comma locale.  The page is left in
 * $FRAUD_BUILD_DIR/train-report/ for check_report.py, which renders it in
 * headless Chromium (ctest fixture "train_report").
 */
#include <criterion/criterion.h>
#include <locale.h>

#include "fraud/train.h"
#include "train_fixture.h"

static size_t count(const char *s, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

typedef struct data {
  float *y, *p;
  double *amount;
  size_t n;
} data;

static data load(void) {
  fr_table *t = fx_table_load();
  cr_assert(t);
  json_t *j = fx_json("train/trainer.json");
  cr_assert(j);
  size_t from = (size_t)json_integer_value(json_object_get(j, "valid_end"));
  data d;
  d.p = fx_floats(json_object_get(j, "test_pred"), &d.n);
  cr_assert_eq(d.n, t->rows - from);
  d.y = malloc(d.n * sizeof *d.y);
  d.amount = malloc(d.n * sizeof *d.amount);
  for (size_t i = 0; i < d.n; i++) {
    d.y[i] = t->y[from + i];
    d.amount[i] = t->x[(from + i) * t->cols + 0]; /* column "amount" */
  }
  json_decref(j);
  fx_table_free(t);
  return d;
}

Test(report, renders_everything) {
  data d = load();
  fr_cost_params cp = {5.0, 25.0, 1};
  fr_report_input in = {"Fixture model <test slice> & \"quotes\"",
                        "tests/fixtures/train/table.csv, rows after valid_end",
                        d.y, d.p, d.amount, d.n, 0.5, &cp, 10};
  char *html = NULL;
  size_t len = 0;
  fr_error err = {0};
  cr_assert_eq(fr_report_html(&in, &html, &len, &err), 0, "%s", err.msg);
  cr_assert_eq(strlen(html), len);
  cr_expect_eq(count(html, "<svg "), 5);
  cr_expect_eq(count(html, "</svg>"), 5);
  const char *ids[] = {"id=\"pr\"", "id=\"roc\"", "id=\"hist\"",
                       "id=\"calibration\"", "id=\"cost\""};
  for (int i = 0; i < 5; i++)
    cr_expect(strstr(html, ids[i]), "%s missing", ids[i]);
  /* Title escaped, never raw. */
  cr_expect(strstr(html, "Fixture model &lt;test slice&gt; &amp; "
                         "&quot;quotes&quot;"));
  cr_expect_null(strstr(html, "<test slice>"));
  /* Self-contained: the only URLs are the XML namespaces. */
  cr_expect_eq(count(html, "http"), 1 + 5, "external references in report");
  cr_expect_null(strstr(html, "<script"));
  cr_expect_null(strstr(html, "nan"));

  /* The figures are those of the tested functions. */
  fr_metrics m;
  cr_assert_eq(fr_metrics_compute(d.y, d.p, d.n, 0.5, &m, NULL), 0);
  char want[64];
  fr_snprintf_c(want, sizeof want, "<td>%.4f</td>", m.pr_auc);
  cr_expect(strstr(html, want), "PR-AUC cell %s missing", want);
  fr_snprintf_c(want, sizeof want, "<td>%zu</td><td>%zu</td>", m.rows,
                m.positives);
  cr_expect(strstr(html, want), "%s missing", want);
  fr_cost_result cr;
  cr_assert_eq(fr_cost_thresholds(d.y, d.p, d.amount, d.n, &cp, &cr, NULL), 0);
  fr_snprintf_c(want, sizeof want, "<td>%.2f</td>", cr.cost);
  cr_expect(strstr(html, want), "cost cell %s missing", want);

  /* A decimal-comma locale changes nothing. */
  cr_assert(setlocale(LC_ALL, "de_DE.UTF-8"));
  char *html2 = NULL;
  size_t len2 = 0;
  cr_assert_eq(fr_report_html(&in, &html2, &len2, &err), 0, "%s", err.msg);
  setlocale(LC_ALL, "C");
  cr_expect(len == len2 && memcmp(html, html2, len) == 0,
            "report differs under de_DE.UTF-8");
  free(html2);

  const char *bd = getenv("FRAUD_BUILD_DIR");
  if (bd) {
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/train-report", bd);
    cr_assert_eq(fr_mkdir_p(dir, NULL), 0);
    snprintf(path, sizeof path, "%s/report.html", dir);
    cr_assert_eq(fr_report_write(&in, path, &err), 0, "%s", err.msg);
  }
  free(html);
  free(d.y);
  free(d.p);
  free(d.amount);
}

Test(report, without_amounts_or_costs) {
  float y[] = {0, 1, 0, 1, 0}, p[] = {0.1f, 0.8f, 0.3f, 0.6f, 0.05f};
  fr_report_input in = {NULL, NULL, y, p, NULL, 5, 0.5, NULL, 0};
  char *html;
  size_t len;
  cr_assert_eq(fr_report_html(&in, &html, &len, NULL), 0);
  cr_expect_eq(count(html, "<svg "), 4); /* no cost plot */
  cr_expect_null(strstr(html, "amount recall"));
  free(html);
}

Test(report, bad_input) {
  float y[] = {0, 3}, p[] = {0.1f, 0.8f};
  fr_report_input in = {NULL, NULL, y, p, NULL, 2, 0.5, NULL, 0};
  char *html = (char *)1;
  fr_error err = {0};
  cr_expect_eq(fr_report_html(&in, &html, NULL, &err), FR_EINVAL);
  cr_expect_null(html);
  cr_expect(strstr(err.msg, "row 1"), "%s", err.msg);
  y[1] = 1;
  cr_expect_eq(fr_report_write(&in, "/nonexistent-dir/x/report.html", &err),
               FR_EIO);
}
