/*
 * validate.c - the data-quality checks a schema declares, run over a whole
 * file: rows that do not parse, row-count and label-rate bounds, numeric
 * ranges, allowed categories, null rates, unique ids and plausible event
 * times.  Each check reports how many rows offend and the source lines of the
 * first few, so a report points straight at the bad data.
 */
#include "data_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct fr_validation {
  fr_dataset *owned; /* read by fr_validate_csv, or NULL */
  const fr_dataset *d;
  fr_check *checks;
  size_t n, cap;
  int passed;
};

static fr_check *add(fr_validation *v, const char *name, const char *column) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 16;
    fr_check *c = realloc(v->checks, cap * sizeof *c);
    if (!c)
      return NULL;
    v->checks = c;
    v->cap = cap;
  }
  fr_check *c = &v->checks[v->n++];
  memset(c, 0, sizeof *c);
  c->name = name;
  c->column = column;
  c->value = c->limit = NAN;
  return c;
}

static void example(fr_check *c, size_t line) {
  c->violations++;
  if (c->nexamples < FR_CHECK_EXAMPLES)
    c->example_lines[c->nexamples++] = line;
}

static void finish(fr_validation *v, fr_check *c, int passed) {
  /* The detail's numbers are the program's own (counts, rates, bounds; the
   * data's extremes printed with 10 significant digits): not masked, or
   * a rate's digits would be starred.  The one cell quoted from the data
   * (the allowed check's "first: '...'") is masked where it is quoted. */
  c->passed = passed;
  if (!passed)
    v->passed = 0;
}

/* Report numbers: 10 significant digits are plenty for a human. */
static void fmt(char *buf, size_t cap, double x) {
  fr_snprintf_c(buf, cap, "%.10g", x);
}

/* Range check of one NUMBER column (or of event times) against lo/hi. */
static int check_range(fr_validation *v, const fr_column_info *ci,
                       const double *x, const char *name, double bound,
                       int is_min) {
  const fr_dataset *d = v->d;
  size_t rows = fr_dataset_rows(d);
  fr_check *c = add(v, name, ci->name);
  if (!c)
    return FR_ENOMEM;
  c->limit = bound;
  double extreme = NAN;
  for (size_t r = 0; r < rows; r++) {
    double a = x[r];
    if (isnan(a))
      continue;
    if (isnan(extreme) || (is_min ? a < extreme : a > extreme))
      extreme = a;
    if (is_min ? a < bound : a > bound)
      example(c, fr_dataset_line(d, r));
  }
  c->value = extreme;
  char b[32], e[32];
  fmt(b, sizeof b, bound);
  fmt(e, sizeof e, extreme);
  if (c->violations)
    snprintf(c->detail, sizeof c->detail, "%zu row%s %s %s %s (%s seen %s)",
             c->violations, c->violations == 1 ? "" : "s",
             is_min ? "below" : "above", name, b, is_min ? "lowest" : "highest",
             e);
  else
    snprintf(c->detail, sizeof c->detail, "%s seen %s, %s %s",
             is_min ? "lowest" : "highest", rows ? e : "none", name, b);
  finish(v, c, c->violations == 0);
  return 0;
}

static int check_time_range(fr_validation *v, const fr_column_info *ci) {
  const fr_dataset *d = v->d;
  size_t rows = fr_dataset_rows(d);
  double lo, hi;
  fr_schema_time_range(fr_dataset_schema(d), &lo, &hi);
  fr_check *c = add(v, "time_range", ci->name);
  if (!c)
    return FR_ENOMEM;
  double tmin = NAN, tmax = NAN;
  for (size_t r = 0; r < rows; r++) {
    double t = fr_dataset_event_time(d, r);
    if (isnan(t))
      continue;
    if (isnan(tmin) || t < tmin)
      tmin = t;
    if (isnan(tmax) || t > tmax)
      tmax = t;
    if (t < lo || t > hi)
      example(c, fr_dataset_line(d, r));
  }
  char a[40], b[40], e1[40], e2[40];
  fr_fmt_iso8601(a, sizeof a, lo);
  fr_fmt_iso8601(b, sizeof b, hi);
  if (rows) {
    fr_fmt_iso8601(e1, sizeof e1, tmin);
    fr_fmt_iso8601(e2, sizeof e2, tmax);
  } else {
    snprintf(e1, sizeof e1, "-");
    snprintf(e2, sizeof e2, "-");
  }
  c->value = tmax;
  c->limit = hi;
  snprintf(c->detail, sizeof c->detail,
           "%zu event time%s outside %s .. %s (seen %s .. %s)", c->violations,
           c->violations == 1 ? "" : "s", a, b, e1, e2);
  finish(v, c, c->violations == 0);
  return 0;
}

static int check_nulls(fr_validation *v, size_t col, const fr_column_info *ci) {
  const fr_dataset *d = v->d;
  size_t rows = fr_dataset_rows(d);
  fr_check *c = add(v, "null_rate", ci->name);
  if (!c)
    return FR_ENOMEM;
  const double *x = fr__dataset_numbers(d, col);
  const uint32_t *ids = fr__dataset_string_ids(d, col);
  for (size_t r = 0; r < rows; r++) {
    int missing = x ? isnan(x[r]) : ids ? ids[r] == FR__NO_STRING : 1;
    if (missing)
      example(c, fr_dataset_line(d, r));
  }
  c->value = rows ? (double)c->violations / (double)rows : 0.0;
  c->limit = ci->checks.max_null_rate;
  char a[32], b[32];
  fmt(a, sizeof a, c->value);
  fmt(b, sizeof b, c->limit);
  int ok = c->value <= c->limit;
  snprintf(c->detail, sizeof c->detail, "%zu missing of %zu (rate %s, max %s)",
           c->violations, rows, a, b);
  /* Missing cells are not offences while the rate is within bounds. */
  if (ok)
    c->nexamples = 0;
  finish(v, c, ok);
  return 0;
}

static int check_allowed(fr_validation *v, size_t col, const fr_column_info *ci) {
  const fr_dataset *d = v->d;
  size_t rows = fr_dataset_rows(d), ndict;
  const fr__str *dict = fr__dataset_dict(d, col, &ndict);
  const uint32_t *ids = fr__dataset_string_ids(d, col);
  fr_check *c = add(v, "allowed", ci->name);
  if (!c)
    return FR_ENOMEM;
  if (!ids) {
    finish(v, c, 1);
    return 0;
  }
  /* Decide once per distinct value, then count rows. */
  uint8_t *ok = malloc(ndict ? ndict : 1);
  if (!ok)
    return FR_ENOMEM;
  for (size_t k = 0; k < ndict; k++) {
    ok[k] = 0;
    for (char **a = ci->checks.allowed; *a; a++)
      if (strlen(*a) == dict[k].len && memcmp(*a, dict[k].ptr, dict[k].len) == 0)
        ok[k] = 1;
  }
  const char *first = NULL;
  for (size_t r = 0; r < rows; r++) {
    uint32_t id = ids[r];
    if (id == FR__NO_STRING || ok[id])
      continue;
    if (!first)
      first = dict[id].ptr;
    example(c, fr_dataset_line(d, r));
  }
  free(ok);
  if (c->violations) {
    /* The cell may be a card number in the wrong column. */
    char cell[64];
    snprintf(cell, sizeof cell, "%.60s", first);
    fr_mask_card_numbers(cell);
    snprintf(c->detail, sizeof c->detail,
             "%zu row%s with a value not in the allowed list (first: '%s')",
             c->violations, c->violations == 1 ? "" : "s", cell);
  }
  else
    snprintf(c->detail, sizeof c->detail, "every value is allowed");
  finish(v, c, c->violations == 0);
  return 0;
}

typedef struct seen {
  const char *key;
  uint32_t len;
  UT_hash_handle hh;
} seen;

static int cmp_num_row(const void *a, const void *b) {
  const double *x = a, *y = b;
  if (x[0] != y[0])
    return x[0] < y[0] ? -1 : 1;
  return x[1] < y[1] ? -1 : x[1] > y[1];
}

static int check_unique(fr_validation *v, size_t col, const fr_column_info *ci) {
  const fr_dataset *d = v->d;
  size_t rows = fr_dataset_rows(d);
  fr_check *c = add(v, "unique", ci->name);
  if (!c)
    return FR_ENOMEM;
  const uint32_t *ids = fr__dataset_string_ids(d, col);
  const double *x = fr__dataset_numbers(d, col);
  /* Offending rows are the second and later occurrences; collect their row
   * indexes, then report them in file order. */
  uint8_t *dup = calloc(rows ? rows : 1, 1);
  if (!dup)
    return FR_ENOMEM;
  if (ids) {
    size_t ndict;
    const fr__str *dict = fr__dataset_dict(d, col, &ndict);
    seen *head = NULL, *items = calloc(ndict ? ndict : 1, sizeof *items);
    uint8_t *hit = calloc(ndict ? ndict : 1, 1);
    if (!items || !hit) {
      free(items);
      free(hit);
      free(dup);
      return FR_ENOMEM;
    }
    /* Interned columns: one dictionary entry per distinct value; id
     * columns: one entry per row, so hash their text. */
    uint32_t *canon = malloc((ndict ? ndict : 1) * sizeof *canon);
    if (!canon) {
      free(items);
      free(hit);
      free(dup);
      return FR_ENOMEM;
    }
    for (size_t k = 0; k < ndict; k++) {
      seen *s = NULL;
      HASH_FIND(hh, head, dict[k].ptr, dict[k].len, s);
      if (s) {
        canon[k] = (uint32_t)(s - items);
      } else {
        items[k].key = dict[k].ptr;
        items[k].len = dict[k].len;
        HASH_ADD_KEYPTR(hh, head, items[k].key, items[k].len, &items[k]);
        canon[k] = (uint32_t)k;
      }
    }
    for (size_t r = 0; r < rows; r++) {
      if (ids[r] == FR__NO_STRING)
        continue;
      uint32_t k = canon[ids[r]];
      if (hit[k])
        dup[r] = 1;
      hit[k] = 1;
    }
    HASH_CLEAR(hh, head);
    free(items);
    free(hit);
    free(canon);
  } else if (x) {
    double *pairs = malloc((rows ? rows : 1) * 2 * sizeof *pairs);
    if (!pairs) {
      free(dup);
      return FR_ENOMEM;
    }
    size_t m = 0;
    for (size_t r = 0; r < rows; r++)
      if (!isnan(x[r])) {
        pairs[2 * m] = x[r];
        pairs[2 * m + 1] = (double)r;
        m++;
      }
    qsort(pairs, m, 2 * sizeof *pairs, cmp_num_row);
    for (size_t i = 1; i < m; i++)
      if (pairs[2 * i] == pairs[2 * i - 2])
        dup[(size_t)pairs[2 * i + 1]] = 1;
    free(pairs);
  }
  for (size_t r = 0; r < rows; r++)
    if (dup[r])
      example(c, fr_dataset_line(d, r));
  free(dup);
  c->value = (double)c->violations;
  snprintf(c->detail, sizeof c->detail, "%zu duplicate value%s", c->violations,
           c->violations == 1 ? "" : "s");
  finish(v, c, c->violations == 0);
  return 0;
}

static int run_checks(fr_validation *v, fr_bad_row policy) {
  const fr_dataset *d = v->d;
  const fr_schema *s = fr_dataset_schema(d);
  const fr__schema_checks *sc = fr__schema_checks_of(s);
  size_t rows = fr_dataset_rows(d), bad = fr_dataset_skipped(d);
  int rc;
  v->passed = 1;

  fr_check *c = add(v, "parse", NULL);
  if (!c)
    return FR_ENOMEM;
  const char *const *msgs;
  const size_t *lines;
  size_t nb = fr__dataset_bad_examples(d, &msgs, &lines);
  for (size_t i = 0; i < nb; i++)
    c->example_lines[c->nexamples++] = lines[i];
  c->violations = bad;
  c->value = (double)bad;
  if (bad == 0)
    snprintf(c->detail, sizeof c->detail, "every row parses");
  else
    snprintf(c->detail, sizeof c->detail, "%zu bad row%s%s", bad,
             bad == 1 ? "" : "s",
             policy == FR_BAD_ROW_SKIP ? " skipped (allowed by on_bad_row=skip)"
                                       : "");
  finish(v, c, bad == 0 || policy == FR_BAD_ROW_SKIP);

  if (!isnan(sc->rows_min) || !isnan(sc->rows_max)) {
    if (!(c = add(v, "rows", NULL)))
      return FR_ENOMEM;
    c->value = (double)rows;
    int ok = 1;
    if (!isnan(sc->rows_min) && (double)rows < sc->rows_min) {
      ok = 0;
      c->limit = sc->rows_min;
    } else if (!isnan(sc->rows_max) && (double)rows > sc->rows_max) {
      ok = 0;
      c->limit = sc->rows_max;
    } else {
      c->limit = !isnan(sc->rows_min) ? sc->rows_min : sc->rows_max;
    }
    char lo[32] = "-", hi[32] = "-";
    if (!isnan(sc->rows_min))
      fmt(lo, sizeof lo, sc->rows_min);
    if (!isnan(sc->rows_max))
      fmt(hi, sizeof hi, sc->rows_max);
    snprintf(c->detail, sizeof c->detail, "%zu rows (allowed %s .. %s)", rows,
             lo, hi);
    finish(v, c, ok);
  }

  int label_col = fr_schema_role_column(s, FR_ROLE_LABEL);
  if ((!isnan(sc->label_rate_min) || !isnan(sc->label_rate_max)) &&
      label_col >= 0) {
    if (!(c = add(v, "label_rate", NULL)))
      return FR_ENOMEM;
    size_t pos = 0, labelled = 0;
    for (size_t r = 0; r < rows; r++) {
      int l = fr_dataset_label(d, r);
      if (l >= 0) {
        labelled++;
        pos += (size_t)l;
      }
    }
    double rate = labelled ? (double)pos / (double)labelled : NAN;
    c->value = rate;
    int ok = labelled > 0;
    if (!isnan(sc->label_rate_min) && !(rate >= sc->label_rate_min)) {
      ok = 0;
      c->limit = sc->label_rate_min;
    } else if (!isnan(sc->label_rate_max) && !(rate <= sc->label_rate_max)) {
      ok = 0;
      c->limit = sc->label_rate_max;
    } else {
      c->limit = !isnan(sc->label_rate_min) ? sc->label_rate_min
                                            : sc->label_rate_max;
    }
    char a[32], lo[32] = "-", hi[32] = "-";
    fmt(a, sizeof a, rate);
    if (!isnan(sc->label_rate_min))
      fmt(lo, sizeof lo, sc->label_rate_min);
    if (!isnan(sc->label_rate_max))
      fmt(hi, sizeof hi, sc->label_rate_max);
    snprintf(c->detail, sizeof c->detail,
             "%zu positive of %zu labelled rows: rate %s (allowed %s .. %s)",
             pos, labelled, labelled ? a : "undefined", lo, hi);
    finish(v, c, ok);
  }

  for (size_t k = 0; k < fr_schema_ncols(s); k++) {
    const fr_column_info *ci = fr_schema_column(s, k);
    if (!fr__dataset_has_column(d, k) || ci->role == FR_ROLE_IGNORE)
      continue;
    if (ci->role == FR_ROLE_EVENT_TIME) {
      if ((rc = check_time_range(v, ci)))
        return rc;
    } else {
      const double *x = fr__dataset_numbers(d, k);
      if (x && !isnan(ci->checks.min) &&
          (rc = check_range(v, ci, x, "min", ci->checks.min, 1)))
        return rc;
      if (x && !isnan(ci->checks.max) &&
          (rc = check_range(v, ci, x, "max", ci->checks.max, 0)))
        return rc;
    }
    if (!isnan(ci->checks.max_null_rate) && (rc = check_nulls(v, k, ci)))
      return rc;
    if (ci->checks.allowed && (rc = check_allowed(v, k, ci)))
      return rc;
    if (ci->checks.unique && (rc = check_unique(v, k, ci)))
      return rc;
  }
  return 0;
}

fr_validation *fr_validate_dataset(const fr_dataset *d, fr_bad_row on_bad_row,
                                   fr_error *err) {
  fr_validation *v = calloc(1, sizeof *v);
  if (!v) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  v->d = d;
  if (run_checks(v, on_bad_row)) {
    fr_error_set(err, FR_ENOMEM, "out of memory while validating %s",
                 fr_dataset_path(d));
    fr_validation_free(v);
    return NULL;
  }
  return v;
}

fr_validation *fr_validate_csv(const fr_schema *s, const char *path,
                               fr_bad_row on_bad_row, fr_error *err) {
  fr_read_options opt = {.on_bad_row = FR_BAD_ROW_SKIP};
  fr_dataset *d = fr_dataset_read_csv(s, path, &opt, err);
  if (!d)
    return NULL;
  fr_validation *v = fr_validate_dataset(d, on_bad_row, err);
  if (!v) {
    fr_dataset_free(d);
    return NULL;
  }
  v->owned = d;
  return v;
}

void fr_validation_free(fr_validation *v) {
  if (!v)
    return;
  fr_dataset_free(v->owned);
  free(v->checks);
  free(v);
}

int fr_validation_passed(const fr_validation *v) { return v->passed; }
size_t fr_validation_count(const fr_validation *v) { return v->n; }
const fr_check *fr_validation_check(const fr_validation *v, size_t i) {
  return i < v->n ? &v->checks[i] : NULL;
}
size_t fr_validation_rows(const fr_validation *v) {
  return fr_dataset_rows(v->d);
}
size_t fr_validation_bad_rows(const fr_validation *v) {
  return fr_dataset_skipped(v->d);
}

int fr_validation_write_text(const fr_validation *v, FILE *f) {
  const fr_schema *s = fr_dataset_schema(v->d);
  size_t failed = 0;
  fprintf(f, "%s (schema '%s'): %zu rows read, %zu bad\n",
          fr_dataset_path(v->d), fr_schema_name(s), fr_validation_rows(v),
          fr_validation_bad_rows(v));
  for (size_t i = 0; i < v->n; i++) {
    const fr_check *c = &v->checks[i];
    char what[160];
    if (c->column)
      snprintf(what, sizeof what, "%s: %s", c->column, c->name);
    else
      snprintf(what, sizeof what, "%s", c->name);
    failed += !c->passed;
    fprintf(f, "%s  %-28s %s", c->passed ? "PASS" : "FAIL", what, c->detail);
    if (c->nexamples && (!c->passed || c->violations)) {
      fprintf(f, "; line%s ", c->nexamples == 1 ? "" : "s");
      for (size_t k = 0; k < c->nexamples; k++)
        fprintf(f, "%s%zu", k ? ", " : "", c->example_lines[k]);
      if (c->violations > c->nexamples)
        fprintf(f, ", ...");
    }
    fputc('\n', f);
  }
  const char *const *msgs;
  const size_t *lines;
  size_t nb = fr__dataset_bad_examples(v->d, &msgs, &lines);
  for (size_t i = 0; i < nb; i++)
    fprintf(f, "  bad row: %s\n", msgs[i]);
  fprintf(f, "result: %s (%zu of %zu checks failed)\n",
          v->passed ? "PASS" : "FAIL", failed, v->n);
  return ferror(f) ? FR_EIO : 0;
}

static json_t *num_or_null(double x) {
  return isnan(x) || isinf(x) ? json_null() : json_real(x);
}

int fr_validation_write_json(const fr_validation *v, FILE *f) {
  json_t *root = json_object();
  json_t *checks = json_array();
  json_t *bad = json_array();
  if (!root || !checks || !bad) {
    json_decref(root);
    json_decref(checks);
    json_decref(bad);
    return FR_ENOMEM;
  }
  json_object_set_new(root, "path", json_string(fr_dataset_path(v->d)));
  json_object_set_new(root, "schema",
                      json_string(fr_schema_name(fr_dataset_schema(v->d))));
  json_object_set_new(root, "rows", json_integer((json_int_t)fr_validation_rows(v)));
  json_object_set_new(root, "bad_rows",
                      json_integer((json_int_t)fr_validation_bad_rows(v)));
  json_object_set_new(root, "passed", json_boolean(v->passed));
  for (size_t i = 0; i < v->n; i++) {
    const fr_check *c = &v->checks[i];
    json_t *o = json_object();
    json_t *ex = json_array();
    for (size_t k = 0; k < c->nexamples; k++)
      json_array_append_new(ex, json_integer((json_int_t)c->example_lines[k]));
    json_object_set_new(o, "check", json_string(c->name));
    json_object_set_new(o, "column", c->column ? json_string(c->column) : json_null());
    json_object_set_new(o, "passed", json_boolean(c->passed));
    json_object_set_new(o, "violations", json_integer((json_int_t)c->violations));
    json_object_set_new(o, "value", num_or_null(c->value));
    json_object_set_new(o, "limit", num_or_null(c->limit));
    json_object_set_new(o, "detail", json_string(c->detail));
    json_object_set_new(o, "example_lines", ex);
    json_array_append_new(checks, o);
  }
  json_object_set_new(root, "checks", checks);
  const char *const *msgs;
  const size_t *lines;
  size_t nb = fr__dataset_bad_examples(v->d, &msgs, &lines);
  for (size_t i = 0; i < nb; i++) {
    json_t *o = json_object();
    json_object_set_new(o, "line", json_integer((json_int_t)lines[i]));
    json_object_set_new(o, "message", json_string(msgs[i]));
    json_array_append_new(bad, o);
  }
  json_object_set_new(root, "bad_row_examples", bad);
  int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
  fputc('\n', f);
  json_decref(root);
  return rc == 0 && !ferror(f) ? 0 : FR_EIO;
}
