/* Tests src/model/score_csv.c: feature-matrix CSVs scored with bare model
 * files reproduce XGBoost's predictions (golden cases), columns are matched
 * by name or position with clear errors, and explanations list XGBoost's
 * own largest SHAP contributions. */
#include <criterion/criterion.h>
#include <math.h>

#include "fraud/model.h"
#include "model_case.h"

/* Writes case c's rows as a feature matrix with the given header names
 * (NULL: f0..), columns in the order perm (NULL: identity). */
static void write_matrix(const model_case *c, const char *path, const fr_forest *f,
                         const size_t *perm, const char *extra_col) {
  FILE *out = fopen(path, "w");
  cr_assert_not_null(out);
  for (size_t j = 0; j < c->nf; j++) {
    size_t fj = perm ? perm[j] : j;
    const char *nm = fr_forest_feature_name(f, fj);
    if (nm)
      fprintf(out, "%s%s", j ? "," : "", nm);
    else
      fprintf(out, "%sf%zu", j ? "," : "", fj);
  }
  if (extra_col)
    fprintf(out, ",%s", extra_col);
  fprintf(out, "\n");
  for (size_t r = 0; r < c->n; r++) {
    for (size_t j = 0; j < c->nf; j++) {
      float v = c->x[r * c->nf + (perm ? perm[j] : j)];
      char buf[48] = "";
      if (!isnan(v))
        fr_fmt_float(buf, sizeof buf, v);
      fprintf(out, "%s%s", j ? "," : "", buf);
    }
    if (extra_col)
      fprintf(out, ",1");
    fprintf(out, "\n");
  }
  fclose(out);
}

/* Reads a CSV of numbers written by the library (no quoting needed). */
static size_t read_numbers(const char *path, float *out, size_t cap, size_t *cols) {
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  char line[65536];
  size_t n = 0;
  cr_assert_not_null(fgets(line, sizeof line, f)); /* header */
  *cols = 1;
  for (char *p = line; *p; p++)
    *cols += *p == ',';
  while (fgets(line, sizeof line, f)) {
    char *s = line;
    for (;;) {
      char *e = strpbrk(s, ",\n");
      double d;
      cr_assert_lt(n, cap);
      out[n++] = (e == s) ? NAN : (fr_parse_double(s, (size_t)(e - s), &d) == 0 ? (float)d : NAN);
      if (!e || *e == '\n')
        break;
      s = e + 1;
    }
  }
  fclose(f);
  return n;
}

static void check_scores(const char *cname, int shuffle) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", fr_test_fixture("model/xgb"));
  model_case c;
  cr_assert_eq(model_case_load(dir, cname, &c), 0);
  fr_model_source m;
  fr_error err;
  cr_assert_eq(fr_model_source_open(c.model_path, &m, &err), 0, "%s", err.msg);
  const char *tmp = fr_test_tmpdir();
  char in[512], out[512];
  snprintf(in, sizeof in, "%s/x.csv", tmp);
  snprintf(out, sizeof out, "%s/p.csv", tmp);
  size_t *perm = NULL;
  if (shuffle) { /* reverse the columns: matched back by name */
    perm = malloc(c.nf * sizeof *perm);
    for (size_t j = 0; j < c.nf; j++)
      perm[j] = c.nf - 1 - j;
  }
  write_matrix(&c, in, m.forest, perm, "label");
  size_t rows;
  cr_assert_eq(fr_model_source_score_csv(&m, in, out, NULL, &rows, &err), 0, "%s", err.msg);
  cr_assert_eq(rows, c.n);
  size_t cap = c.n * c.nout * 2 + 8, cols;
  float *v = malloc(cap * sizeof *v);
  size_t got = read_numbers(out, v, cap, &cols);
  cr_assert_eq(cols, 2 * c.nout);
  cr_assert_eq(got, c.n * 2 * c.nout);
  for (size_t r = 0; r < c.n; r++)
    for (size_t g = 0; g < c.nout; g++) {
      float p = v[r * 2 * c.nout + g], mg = v[r * 2 * c.nout + c.nout + g];
      cr_assert(fabs((double)p - c.pred[r * c.nout + g]) <= 1e-6, "%s row %zu", cname, r);
      /* +-inf rows: XGBoost's reference is at +-FLT_MAX, the same path */
      cr_assert(mg == c.margin[r * c.nout + g], "%s row %zu margin %.9g vs %.9g", cname, r, mg,
                c.margin[r * c.nout + g]);
    }
  free(v);
  free(perm);
  fr_model_source_close(&m);
  model_case_free(&c);
}

Test(score_csv, matrix_scores_equal_xgboost) {
  check_scores("ulb", 0);      /* named features (V1..Amount) */
  check_scores("ulb", 1);      /* the same, columns reversed */
  check_scores("d3_base04", 0); /* no names: by position */
  check_scores("softprob3", 0); /* per-class columns */
}

Test(score_csv, column_errors) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", fr_test_fixture("model/xgb"));
  model_case c;
  cr_assert_eq(model_case_load(dir, "ulb", &c), 0);
  fr_model_source m;
  cr_assert_eq(fr_model_source_open(c.model_path, &m, NULL), 0);
  const char *tmp = fr_test_tmpdir();
  char in[512], out[512];
  snprintf(in, sizeof in, "%s/x.csv", tmp);
  snprintf(out, sizeof out, "%s/p.csv", tmp);
  fr_error err;
  fr_test_write(tmp, "y.csv", "V1,V2\n1,2\n");
  snprintf(in, sizeof in, "%s/y.csv", tmp);
  cr_assert_eq(fr_model_source_score_csv(&m, in, out, NULL, NULL, &err), FR_ESCHEMA);
  cr_assert(strstr(err.msg, "no column 'V3'") != NULL, "%s", err.msg);
  /* A feature column twice: which one is meant is unknown. */
  write_matrix(&c, in, m.forest, NULL, "V2");
  cr_assert_eq(fr_model_source_score_csv(&m, in, out, NULL, NULL, &err), FR_ESCHEMA);
  cr_assert(strstr(err.msg, "column 'V2' appears twice") != NULL, "%s", err.msg);
  fr_model_source_close(&m);
  model_case_free(&c);
  /* By position: the count must agree (transaction_id and label aside); a
   * short row is a parse error, a cell that is not a number too. */
  cr_assert_eq(fr_model_source_open(fr_test_fixture("model/xgb/d3_base04.model.json"), &m, NULL),
               0);
  fr_test_write(tmp, "z.csv", "a,b\n1,2\n");
  snprintf(in, sizeof in, "%s/z.csv", tmp);
  cr_assert_eq(fr_model_source_score_csv(&m, in, out, NULL, NULL, &err), FR_ESCHEMA);
  cr_assert(strstr(err.msg, "2 feature columns, the model expects 8") != NULL, "%s", err.msg);
  fr_test_write(tmp, "z.csv", "transaction_id,a,b,label\nt1,1,2,0\n");
  cr_assert_eq(fr_model_source_score_csv(&m, in, out, NULL, NULL, &err), FR_ESCHEMA);
  cr_assert(strstr(err.msg, "2 feature columns, the model expects 8") != NULL, "%s", err.msg);
  fr_test_write(tmp, "u.csv", "a,b,c,d,e,f,g,h\n1,2,3,4,x5,6,7,8\n");
  snprintf(in, sizeof in, "%s/u.csv", tmp);
  cr_assert_eq(fr_model_source_score_csv(&m, in, out, NULL, NULL, &err), FR_EPARSE);
  cr_assert(strstr(err.msg, "u.csv:2:5: column 'e': cannot parse 'x5'") != NULL, "%s", err.msg);
  fr_test_write(tmp, "w.csv", "a,b,c,d,e,f,g,h\n1,2,3,4,5,6,7,8\n1,2,3\n");
  snprintf(in, sizeof in, "%s/w.csv", tmp);
  cr_assert_eq(fr_model_source_score_csv(&m, in, out, NULL, NULL, &err), FR_EPARSE);
  cr_assert(strstr(err.msg, "w.csv:3") != NULL, "names the line: %s", err.msg);
  fr_model_source_close(&m);
}

/* Writes case c's rows as `fraud features` lays them out: a transaction_id
 * column of text ids first, the features, then a label; with `extra`, a
 * text column between the features ("a, b" quoted, as RFC 4180 does). */
static void write_features_like(const model_case *c, const char *path, const fr_forest *f,
                                int extra) {
  FILE *out = fopen(path, "w");
  cr_assert_not_null(out);
  fprintf(out, "transaction_id");
  for (size_t j = 0; j < c->nf; j++) {
    const char *nm = fr_forest_feature_name(f, j);
    if (nm)
      fprintf(out, ",%s", nm);
    else
      fprintf(out, ",f%zu", j);
    if (extra && j == 0)
      fprintf(out, ",merchant");
  }
  fprintf(out, ",label\n");
  for (size_t r = 0; r < c->n; r++) {
    fprintf(out, "tx-%zu", r);
    for (size_t j = 0; j < c->nf; j++) {
      float v = c->x[r * c->nf + j];
      char buf[48] = "";
      if (!isnan(v))
        fr_fmt_float(buf, sizeof buf, v);
      fprintf(out, ",%s", buf);
      if (extra && j == 0)
        fprintf(out, ",\"fraud_Kirlin, Inc\"");
    }
    fprintf(out, ",%d\n", (int)(r % 2));
  }
  fclose(out);
}

/* Review finding: `fraud predict --features` failed on the output of
 * `fraud features` ("column 'transaction_id': cannot parse ... as a
 * number").  The id, label and other columns are now left out, by name or
 * (models without names) by position, and the scores are XGBoost's. */
Test(score_csv, features_output_scores_as_is) {
  static const struct {
    const char *name;
    int extra;
  } cases[] = {{"ulb", 1}, {"d3_base04", 0}};
  for (size_t i = 0; i < 2; i++) {
    model_case c;
    cr_assert_eq(model_case_load(fr_test_fixture("model/xgb"), cases[i].name, &c), 0);
    fr_model_source m;
    fr_error err;
    cr_assert_eq(fr_model_source_open(c.model_path, &m, &err), 0, "%s", err.msg);
    const char *tmp = fr_test_tmpdir();
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/fx.csv", tmp);
    snprintf(out, sizeof out, "%s/fp.csv", tmp);
    write_features_like(&c, in, m.forest, cases[i].extra);
    size_t rows;
    cr_assert_eq(fr_model_source_score_csv(&m, in, out, NULL, &rows, &err), 0, "%s: %s",
                 cases[i].name, err.msg);
    cr_assert_eq(rows, c.n);
    size_t cap = c.n * 2 + 8, cols;
    float *v = malloc(cap * sizeof *v);
    cr_assert_eq(read_numbers(out, v, cap, &cols), c.n * 2);
    for (size_t r = 0; r < c.n; r++) {
      cr_assert(fabs((double)v[2 * r] - c.pred[r]) <= 1e-6, "%s row %zu", cases[i].name, r);
      cr_assert(v[2 * r + 1] == c.margin[r], "%s row %zu margin", cases[i].name, r);
    }
    free(v);
    /* explain: the ids come from the transaction_id column. */
    fr_explain_job job = {0};
    job.model = c.model_path;
    job.features = in;
    job.k = 1;
    job.order = FR_REASONS_BY_MAGNITUDE;
    cr_assert_eq(fr_explain_run(&job, out, &rows, &err), 0, "%s", err.msg);
    FILE *f = fopen(out, "r");
    char line[4096];
    cr_assert_not_null(fgets(line, sizeof line, f));
    for (size_t r = 0; r < c.n; r++) {
      char want[32];
      snprintf(want, sizeof want, "tx-%zu,", r);
      cr_assert_not_null(fgets(line, sizeof line, f));
      cr_assert(strncmp(line, want, strlen(want)) == 0, "row %zu: %s", r, line);
    }
    fclose(f);
    fr_model_source_close(&m);
    model_case_free(&c);
  }
}

/* The reasons written for each row are XGBoost's largest positive
 * contributions (pred_contribs), with the row's values. */
Test(score_csv, explain_matches_xgboost_contribs) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", fr_test_fixture("model/xgb"));
  model_case c;
  cr_assert_eq(model_case_load(dir, "paysim", &c), 0);
  fr_model_source m;
  cr_assert_eq(fr_model_source_open(c.model_path, &m, NULL), 0);
  const char *tmp = fr_test_tmpdir();
  char in[512], out[512];
  snprintf(in, sizeof in, "%s/x.csv", tmp);
  snprintf(out, sizeof out, "%s/e.csv", tmp);
  write_matrix(&c, in, m.forest, NULL, NULL);
  fr_explain_job job = {0};
  job.model = c.model_path;
  job.features = in;
  job.k = 3;
  fr_error err;
  size_t rows;
  cr_assert_eq(fr_explain_run(&job, out, &rows, &err), 0, "%s", err.msg);
  cr_assert_eq(rows, c.n);
  FILE *f = fopen(out, "r");
  char line[4096];
  cr_assert_not_null(fgets(line, sizeof line, f));
  cr_assert_str_eq(line, "transaction_id,probability,margin,bias,reason_1,value_1,contribution_1,"
                         "reason_2,value_2,contribution_2,reason_3,value_3,contribution_3\n");
  size_t r = 0;
  while (fgets(line, sizeof line, f) && r < c.ncontrib) {
    char *cells[16];
    size_t nc = 0;
    for (char *s = line; nc < 16;) {
      cells[nc++] = s;
      char *e = strpbrk(s, ",\n");
      if (!e || *e == '\n') {
        if (e)
          *e = 0;
        break;
      }
      *e = 0;
      s = e + 1;
    }
    cr_assert_eq(nc, 13, "row %zu has %zu cells", r, nc);
    cr_assert_eq((size_t)atol(cells[0]), r + 1);
    const float *xc = c.contribs + r * (c.nf + 1);
    double p;
    fr_parse_double(cells[1], strlen(cells[1]), &p);
    cr_assert(fabs(p - c.pred[r]) <= 1e-6);
    /* The bias is XGBoost's last pred_contribs column. */
    double bias;
    cr_assert_eq(fr_parse_double(cells[3], strlen(cells[3]), &bias), 0, "bias '%s'", cells[3]);
    cr_assert(fabs(bias - xc[c.nf]) <= 1e-5, "row %zu bias %.9g vs XGBoost %.9g", r, bias,
              xc[c.nf]);
    double prev = INFINITY;
    for (int i = 0; i < 3; i++) {
      const char *name = cells[4 + 3 * i];
      if (!*name)
        break;
      size_t j = 0;
      while (j < c.nf && strcmp(fr_forest_feature_name(m.forest, j), name) != 0)
        j++;
      cr_assert_lt(j, c.nf, "unknown reason '%s'", name);
      double contrib;
      fr_parse_double(cells[6 + 3 * i], strlen(cells[6 + 3 * i]), &contrib);
      cr_assert(fabs(contrib - xc[j]) <= 1e-5, "row %zu %s: %g vs XGBoost %g", r, name, contrib,
                xc[j]);
      cr_assert_gt(contrib, 0);
      cr_assert_leq(contrib, prev + 1e-6, "best first");
      prev = contrib;
      /* no unlisted feature contributes more (beyond rounding) */
      if (i == 2)
        for (size_t q = 0; q < c.nf; q++) {
          int listed = 0;
          for (int t = 0; t < 3; t++)
            listed |= strcmp(cells[4 + 3 * t], fr_forest_feature_name(m.forest, q)) == 0;
          if (!listed)
            cr_assert_leq(xc[q], contrib + 1e-5, "row %zu: %s was left out", r,
                          fr_forest_feature_name(m.forest, q));
        }
    }
    r++;
  }
  fclose(f);
  cr_assert_eq(r, c.ncontrib);
  fr_model_source_close(&m);
  model_case_free(&c);
}

/* Review finding: without a bias column "contributions plus bias sum to the
 * margin" could not be checked.  With every feature listed (-k nfeatures,
 * by magnitude), bias + contributions = margin on every row, for a binary
 * and a 3-class model (the class explained), and the bias is the same on
 * every row. */
Test(score_csv, explain_bias_plus_contributions_is_margin) {
  static const char *const names[] = {"paysim", "softprob3"};
  for (size_t ci = 0; ci < 2; ci++) {
    model_case c;
    cr_assert_eq(model_case_load(fr_test_fixture("model/xgb"), names[ci], &c), 0);
    fr_model_source m;
    cr_assert_eq(fr_model_source_open(c.model_path, &m, NULL), 0);
    const char *tmp = fr_test_tmpdir();
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/x.csv", tmp);
    snprintf(out, sizeof out, "%s/e.csv", tmp);
    write_matrix(&c, in, m.forest, NULL, NULL);
    fr_explain_job job = {0};
    job.model = c.model_path;
    job.features = in;
    job.k = c.nf;
    job.order = FR_REASONS_BY_MAGNITUDE;
    fr_error err;
    cr_assert_eq(fr_explain_run(&job, out, NULL, &err), 0, "%s", err.msg);
    FILE *f = fopen(out, "r");
    static char line[1 << 16];
    cr_assert_not_null(fgets(line, sizeof line, f));
    int multi = c.nout > 1;
    const char *want = multi ? "transaction_id,class,probability,margin,bias,reason_1,"
                             : "transaction_id,probability,margin,bias,reason_1,";
    cr_assert(strncmp(line, want, strlen(want)) == 0, "%s", line);
    size_t r = 0;
    double first_bias[64];
    for (size_t g = 0; g < 64; g++)
      first_bias[g] = NAN;
    while (fgets(line, sizeof line, f)) {
      /* cells: id, [class], probability, margin, bias, (name, value, contribution)... */
      double v[4096];
      size_t nc = 0;
      char *s = line;
      for (;;) {
        char *e = strpbrk(s, ",\n");
        double d = NAN;
        if (e != s)
          fr_parse_double(s, e ? (size_t)(e - s) : strlen(s), &d);
        cr_assert_lt(nc, 4096);
        v[nc++] = d;
        if (!e || *e == '\n')
          break;
        s = e + 1;
      }
      size_t o = multi ? 2 : 1;
      cr_assert_eq(nc, o + 3 + 3 * c.nf, "row %zu: %zu cells", r, nc);
      size_t cls = multi ? (size_t)v[1] : 0;
      double margin = v[o + 1], bias = v[o + 2], sum = bias, mag = fabs(bias);
      for (size_t i = 0; i < c.nf; i++) {
        double ct = v[o + 3 + 3 * i + 2];
        if (!isnan(ct)) { /* an empty triple: a zero contribution left out */
          sum += ct;
          mag += fabs(ct);
        }
      }
      cr_assert(fabs(sum - margin) <= 1e-5 * (1 + mag),
                "%s row %zu: bias %.9g + contributions = %.9g, margin %.9g", names[ci], r, bias,
                sum, margin);
      /* the margin is XGBoost's, the bias its pred_contribs' last column */
      cr_assert(fabs(margin - c.margin[r * c.nout + cls]) <= 1e-5 * (1 + fabs(margin)));
      if (r < c.ncontrib)
        cr_assert(fabs(bias - c.contribs[(r * c.nout + cls) * (c.nf + 1) + c.nf]) <= 1e-5,
                  "%s row %zu bias %.9g", names[ci], r, bias);
      if (isnan(first_bias[cls]))
        first_bias[cls] = bias;
      cr_assert(bias == first_bias[cls], "the bias depends on the row");
      r++;
    }
    fclose(f);
    cr_assert_eq(r, c.n);
    fr_model_source_close(&m);
    model_case_free(&c);
  }
}
