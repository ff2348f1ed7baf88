/*
 * train_fixture.h - loads the train module's golden data
 * (tests/fixtures/train/, made by generate.py with numpy, scikit-learn and
 * python-xgboost): the synthetic feature table as an fr_table built by hand
 * (the tests do not depend on the data module's CSV reader) and the JSON
 * expectations through jansson.
 */
#ifndef FR_TRAIN_FIXTURE_H
#define FR_TRAIN_FIXTURE_H

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fr_test.h"
#include "fraud/data.h"

static inline void fx_table_free(fr_table *t) {
  if (!t)
    return;
  if (t->names)
    for (size_t j = 0; j < t->cols; j++)
      free(t->names[j]);
  free(t->names);
  free(t->x);
  free(t->y);
  free(t->event_time);
  free(t->source_row);
  free(t);
}

static inline fr_table *fx_table_alloc(size_t rows, size_t cols) {
  fr_table *t = calloc(1, sizeof *t);
  t->rows = rows;
  t->cols = cols;
  t->x = calloc(rows * cols + 1, sizeof *t->x);
  t->y = calloc(rows + 1, sizeof *t->y);
  t->event_time = calloc(rows + 1, sizeof *t->event_time);
  t->source_row = calloc(rows + 1, sizeof *t->source_row);
  for (size_t i = 0; i < rows; i++)
    t->source_row[i] = i;
  return t;
}

/* table.csv: event_time,label,<features...>; empty cell = NaN. */
static inline fr_table *fx_table_load(void) {
  size_t len = 0;
  char *text = fr_file_read_all(fr_test_fixture("train/table.csv"), &len, NULL);
  if (!text)
    return NULL;
  size_t rows = 0;
  for (size_t i = 0; i < len; i++)
    rows += text[i] == '\n';
  rows -= 1; /* header */
  char *save = NULL;
  char *line = strtok_r(text, "\n", &save);
  size_t cols = 0;
  for (char *c = line; *c; c++)
    cols += *c == ',';
  cols -= 1; /* event_time,label,f... has cols+1 commas */
  fr_table *t = fx_table_alloc(rows, cols);
  t->names = calloc(cols, sizeof *t->names);
  char *hs = NULL, *h = strtok_r(line, ",", &hs);
  for (size_t j = 0; h; h = strtok_r(NULL, ",", &hs), j++)
    if (j >= 2)
      t->names[j - 2] = strdup(h);
  for (size_t r = 0; r < rows; r++) {
    line = strtok_r(NULL, "\n", &save);
    char *c = line;
    for (size_t j = 0; j < cols + 2; j++) {
      size_t n = strcspn(c, ",");
      double v = NAN;
      if (n)
        fr_parse_double(c, n, &v);
      if (j == 0)
        t->event_time[r] = v;
      else if (j == 1)
        t->y[r] = (float)v;
      else
        t->x[r * cols + j - 2] = (float)v;
      c += n + (c[n] == ',');
    }
  }
  free(text);
  return t;
}

static inline json_t *fx_json(const char *rel) {
  json_error_t je;
  json_t *j = json_load_file(fr_test_fixture(rel), 0, &je);
  return j;
}

/* A JSON number, or NaN for null. */
static inline double fx_num(const json_t *j) {
  return json_is_number(j) ? json_number_value(j) : NAN;
}

/* Array of numbers as new float / double arrays. */
static inline float *fx_floats(const json_t *a, size_t *n) {
  *n = json_array_size(a);
  float *v = malloc((*n + 1) * sizeof *v);
  for (size_t i = 0; i < *n; i++)
    v[i] = (float)json_number_value(json_array_get(a, i));
  return v;
}

static inline int fx_close(double a, double b, double tol) {
  if (isnan(a) || isnan(b))
    return isnan(a) && isnan(b);
  return fabs(a - b) <= tol;
}

#endif
