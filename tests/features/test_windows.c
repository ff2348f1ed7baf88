/*
 * Tests the window aggregates of src/features/featurize.c (exact and
 * bucketed) against independent references: pandas' time-based rolling
 * windows and a brute-force Python loop (tests/fixtures/features/
 * make_windows.py -> windows_expected.csv), and, for bucketed windows, a
 * brute-force loop in this file over the raw rows with the documented
 * bucket rule.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "fr_test.h"
#include "fraud/features.h"

static const char *schema_yaml =
    "name: win\n"
    "columns:\n"
    "  - {name: id, role: id}\n"
    "  - {name: card, role: entity, entity: card}\n"
    "  - {name: ts, role: event_time, format: epoch_seconds}\n"
    "  - {name: merchant, role: entity, entity: merchant, required: false}\n"
    "  - {name: amt, role: amount}\n"
    "composite_entities:\n"
    "  card_merchant: [card, merchant]\n";

static const char *spec_yaml =
    "features:\n"
    "  - {name: n_10m, kind: count, entity: card, window: 10m}\n"
    "  - {name: sum_10m, kind: sum, entity: card, column: amt, window: 10m}\n"
    "  - {name: n_1h, kind: count, entity: card, window: 1h}\n"
    "  - {name: sum_1h, kind: sum, entity: card, column: amt, window: 1h}\n"
    "  - {name: mean_1h, kind: mean, entity: card, column: amt, window: 1h}\n"
    "  - {name: min_1h, kind: min, entity: card, column: amt, window: 1h}\n"
    "  - {name: max_1h, kind: max, entity: card, column: amt, window: 1h}\n"
    "  - {name: std_1h, kind: std, entity: card, column: amt, window: 1h}\n"
    "  - {name: n_1d, kind: count, entity: card, window: 1d}\n"
    "  - {name: sum_1d, kind: sum, entity: card, column: amt, window: 1d}\n"
    "  - {name: mean_1d, kind: mean, entity: card, column: amt, window: 1d}\n"
    "  - {name: std_1d, kind: std, entity: card, column: amt, window: 1d}\n"
    "  - {name: merchants_1h, kind: distinct_count, entity: card, column: merchant, window: 1h}\n"
    "  - {name: merchants_1d, kind: distinct_count, entity: card, column: merchant, window: 1d}\n"
    "  - {name: since, kind: time_since_prev, entity: card}\n"
    "  - {name: new_pair, kind: first_seen, entity: card_merchant}\n";

typedef struct setup {
  fr_schema *s;
  fr_featurizer *f;
  fr_dataset *d;
  fr_table *t;
} setup;

static void load(setup *x, const char *spec) {
  fr_error err = {0};
  x->s = fr_schema_load_string(schema_yaml, strlen(schema_yaml), "win.yaml", &err);
  cr_assert_not_null(x->s, "%s", err.msg);
  x->f = fr_featurizer_load_string(x->s, spec, strlen(spec), "spec.yaml", &err);
  cr_assert_not_null(x->f, "%s", err.msg);
  x->d = fr_dataset_read_csv(x->s, fr_test_fixture("features/windows_data.csv"),
                             NULL, &err);
  cr_assert_not_null(x->d, "%s", err.msg);
  x->t = fr_featurize_dataset(x->f, x->d, &err);
  cr_assert_not_null(x->t, "%s", err.msg);
}

static void unload(setup *x) {
  fr_table_free(x->t);
  fr_dataset_free(x->d);
  fr_featurizer_free(x->f);
  fr_schema_free(x->s);
}

/* Table row of the transaction with id `id`. */
static size_t row_of(const setup *x, const char *id) {
  int idcol = fr_schema_role_column(x->s, FR_ROLE_ID);
  for (size_t i = 0; i < x->t->rows; i++) {
    size_t len;
    const char *s = fr_dataset_string(x->d, (size_t)idcol, x->t->source_row[i], &len);
    if (s && strlen(id) == len && memcmp(s, id, len) == 0)
      return i;
  }
  cr_assert_fail("no transaction %s", id);
  return 0;
}

Test(windows, exact_windows_match_pandas_and_brute_force) {
  setup x;
  load(&x, spec_yaml);
  FILE *fp = fopen(fr_test_fixture("features/windows_expected.csv"), "r");
  cr_assert_not_null(fp);
  char line[4096], names[64][32];
  size_t nn = 0;
  cr_assert_not_null(fgets(line, sizeof line, fp));
  for (char *tok = strtok(line, ",\n"); tok; tok = strtok(NULL, ",\n"))
    snprintf(names[nn++], sizeof names[0], "%s", tok);
  size_t col[64];
  for (size_t k = 1; k < nn; k++) {
    col[k] = (size_t)-1;
    for (size_t j = 0; j < x.t->cols; j++)
      if (strcmp(x.t->names[j], names[k]) == 0)
        col[k] = j;
    cr_assert_neq(col[k], (size_t)-1, "no feature %s", names[k]);
  }
  size_t checked = 0, nonzero = 0;
  while (fgets(line, sizeof line, fp)) {
    char *p = line, *cells[64];
    size_t nc = 0;
    for (;;) {
      cells[nc++] = p;
      char *c = strpbrk(p, ",\n");
      if (!c)
        break;
      int last = *c == '\n';
      *c = '\0';
      p = c + 1;
      if (last)
        break;
    }
    cr_assert_eq(nc, nn);
    size_t r = row_of(&x, cells[0]);
    for (size_t k = 1; k < nn; k++) {
      float got = x.t->x[r * x.t->cols + col[k]];
      if (!cells[k][0]) {
        cr_assert(isnan(got), "%s %s: expected missing, got %.9g", cells[0],
                  names[k], (double)got);
        continue;
      }
      double want = strtod(cells[k], NULL);
      cr_assert(!isnan(got), "%s %s: got NaN, want %.9g", cells[0], names[k], want);
      /* float32 output of double arithmetic summed in another order. */
      double tol = 2e-6 * fmax(1.0, fabs(want));
      cr_assert(fabs((double)got - want) <= tol, "%s %s: got %.9g, want %.9g",
                cells[0], names[k], (double)got, want);
      nonzero += want != 0;
      checked++;
    }
  }
  fclose(fp);
  cr_assert_gt(checked, 30000);
  cr_assert_gt(nonzero, 20000);
  unload(&x);
}

/* Brute force over the raw rows: events of `card` with ts in [from, to). */
typedef struct ref {
  double n, sum, min, max, m2, mean, nv;
} ref;

static ref brute(const fr_dataset *d, const char *card, double from, double to) {
  ref r = {0, 0, INFINITY, -INFINITY, 0, 0, 0};
  size_t n = fr_dataset_rows(d);
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      size_t len;
      const char *c = fr_dataset_string(d, 1, i, &len);
      double ts = fr_dataset_event_time(d, i);
      if (len != strlen(card) || memcmp(c, card, len) || ts < from || ts >= to)
        continue;
      double v = fr_dataset_number(d, 4, i);
      if (pass == 0) {
        r.n++;
        if (isnan(v))
          continue;
        r.nv++;
        r.sum += v;
        r.min = fmin(r.min, v);
        r.max = fmax(r.max, v);
      } else if (!isnan(v)) {
        r.m2 += (v - r.mean) * (v - r.mean);
      }
    }
    r.mean = r.nv > 0 ? r.sum / r.nv : NAN;
  }
  return r;
}

Test(windows, bucketed_windows_are_exact_from_the_first_bucket_boundary) {
  /* 1-day windows with 1-hour buckets (explicit, and through the top-level
   * buckets block), next to the exact 1-day and 23-hour windows. */
  const char *spec =
      "buckets: {from: 20h, width: 1h}\n"
      "features:\n"
      "  - {name: nb, kind: count, entity: card, window: 1d}\n"
      "  - {name: sb, kind: sum, entity: card, column: amt, window: 1d, bucket: 1h}\n"
      "  - {name: meanb, kind: mean, entity: card, column: amt, window: 1d}\n"
      "  - {name: minb, kind: min, entity: card, column: amt, window: 1d}\n"
      "  - {name: maxb, kind: max, entity: card, column: amt, window: 1d}\n"
      "  - {name: stdb, kind: std, entity: card, column: amt, window: 1d}\n"
      "  - {name: ne, kind: count, entity: card, window: 1d, bucket: none}\n"
      "  - {name: ne23, kind: count, entity: card, window: 23h}\n"
      "  - {name: n10m, kind: count, entity: card, window: 10m}\n";
  setup x;
  load(&x, spec);
  const double W = 3600, w = 86400;
  size_t fewer = 0;
  for (size_t i = 0; i < x.t->rows; i++) {
    const float *row = x.t->x + i * x.t->cols;
    size_t src = x.t->source_row[i], len;
    const char *cs = fr_dataset_string(x.d, 1, src, &len);
    char card[32];
    snprintf(card, sizeof card, "%.*s", (int)len, cs);
    double t = fr_dataset_event_time(x.d, src);
    /* The documented rule: exact over [ceil((t - w) / W) * W, t). */
    double from = ceil((t - w) / W) * W;
    ref r = brute(x.d, card, from, t);
    cr_assert_eq(row[0], (float)r.n, "row %zu count %g want %g", i, (double)row[0], r.n);
    cr_assert_float_eq(row[1], (float)r.sum, 2e-6 * fmax(1, r.sum));
    if (r.nv > 0) {
      cr_assert_float_eq(row[2], (float)r.mean, 2e-6 * fmax(1, r.mean));
      cr_assert_eq(row[3], (float)r.min);
      cr_assert_eq(row[4], (float)r.max);
    } else {
      cr_assert(isnan(row[2]) && isnan(row[3]) && isnan(row[4]));
    }
    if (r.nv > 1) {
      double sd = sqrt(r.m2 / (r.nv - 1));
      cr_assert_float_eq(row[5], (float)sd, 2e-5 * fmax(1, sd), "row %zu std %g want %g",
                         i, (double)row[5], sd);
    }
    /* The error bound: between the exact windows of w - W and w. */
    cr_assert_eq(row[6], (float)brute(x.d, card, t - w, t).n);
    cr_assert(row[7] <= row[0] && row[0] <= row[6], "row %zu: %g not in [%g, %g]",
              i, (double)row[0], (double)row[7], (double)row[6]);
    fewer += row[0] < row[6];
    /* An exact window next to bucketed ones stays exact. */
    cr_assert_eq(row[8], (float)brute(x.d, card, t - 600, t).n);
  }
  cr_assert_gt(fewer, 100); /* the bucket edge did cut some events */
  unload(&x);
}

Test(windows, bucketed_online_equals_offline_with_lateness) {
  /* The bucketed result does not depend on what the log still holds: an
   * online store with a generous allowed lateness (a longer log) gives the
   * offline features bit for bit. */
  const char *spec =
      "features:\n"
      "  - {name: sb, kind: sum, entity: card, column: amt, window: 1d, bucket: 1h}\n"
      "  - {name: stdb, kind: std, entity: card, column: amt, window: 1d, bucket: 1h}\n"
      "  - {name: n1h, kind: count, entity: card, window: 1h}\n"
      "  - {name: d1d, kind: distinct_count, entity: card, column: merchant, window: 1d}\n";
  setup x;
  load(&x, spec);
  fr_error err = {0};
  fr_state_options o;
  fr_state_options_default(&o);
  o.allowed_lateness = 6 * 3600;
  fr_state *st = fr_state_new_memory(x.f, &o, &err);
  cr_assert_not_null(st, "%s", err.msg);
  fr_field fields[8];
  float row[8];
  for (size_t i = 0; i < x.t->rows; i++) {
    fr_txn txn;
    fr_dataset_txn(x.d, x.t->source_row[i], fields, &txn);
    cr_assert_eq(fr_featurize(x.f, &txn, st, row, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(row, x.t->x + i * x.t->cols, x.t->cols * sizeof(float)), 0,
                 "row %zu differs online", i);
  }
  fr_state_free(st);
  unload(&x);
}

Test(windows, bucket_spec_errors) {
  fr_error err = {0};
  fr_schema *s = fr_schema_load_string(schema_yaml, strlen(schema_yaml), "win.yaml", &err);
  cr_assert_not_null(s);
  struct {
    const char *spec, *want;
  } cases[] = {
      {"features:\n  - {name: a, kind: count, entity: card, window: 1h, bucket: 2h}\n",
       "bad.yaml:2:"},
      {"features:\n  - {name: a, kind: count, entity: card, window: 1h, bucket: 2h}\n",
       "bucket width must be shorter than the window"},
      {"features:\n  - {name: a, kind: distinct_count, entity: card, column: merchant,"
       " window: 1d, bucket: 1h}\n",
       "takes no 'bucket'"},
      {"features:\n  - {name: a, kind: count, entity: card, window: 1d, bucket: 1h}\n"
       "  - {name: b, kind: count, entity: card, window: 7d, bucket: 2h}\n",
       "entity 'card' already uses buckets of another width (line 2)"},
      {"features:\n  - {name: a, kind: count, entity: card, window: 1d, bucket: 5 parsecs}\n",
       "bucket '5 parsecs'"},
      {"buckets: {from: 7d}\nfeatures:\n  - {name: a, kind: count, entity: card, window: 1d}\n",
       "buckets needs 'width'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fr_featurizer *f =
        fr_featurizer_load_string(s, cases[i].spec, strlen(cases[i].spec), "bad.yaml", &err);
    cr_assert_null(f, "accepted: %s", cases[i].spec);
    cr_assert(strstr(err.msg, cases[i].want) != NULL, "'%s' lacks '%s'", err.msg,
              cases[i].want);
  }
  fr_schema_free(s);
}
