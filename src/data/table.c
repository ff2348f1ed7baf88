/*
 * table.c - the feature table handed from the featurizer to the trainer:
 * allocation, and a CSV form for inspection and for tools outside the
 * project (floats printed shortest-round-trip so that reading the file back
 * gives the same float32 bits; missing values as empty cells, never 0).
 */
#include "fraud/data.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

fr_table *fr_table_new(size_t rows, size_t cols) {
  fr_table *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->rows = rows;
  t->cols = cols;
  if (cols && rows > SIZE_MAX / sizeof(float) / cols) {
    free(t);
    return NULL;
  }
  size_t r = rows ? rows : 1, c = cols ? cols : 1;
  t->x = calloc(r * c, sizeof *t->x);
  t->y = calloc(r, sizeof *t->y);
  t->event_time = calloc(r, sizeof *t->event_time);
  t->source_row = calloc(r, sizeof *t->source_row);
  t->names = calloc(c, sizeof *t->names);
  if (!t->x || !t->y || !t->event_time || !t->source_row || !t->names) {
    fr_table_free(t);
    return NULL;
  }
  return t;
}

void fr_table_free(fr_table *t) {
  if (!t)
    return;
  if (t->names)
    for (size_t i = 0; i < t->cols; i++)
      free(t->names[i]);
  free(t->names);
  free(t->x);
  free(t->y);
  free(t->event_time);
  free(t->source_row);
  free(t);
}

int fr_table_set_name(fr_table *t, size_t i, const char *name) {
  if (!t || i >= t->cols || !name)
    return FR_EINVAL;
  char *c = strdup(name);
  if (!c)
    return FR_ENOMEM;
  free(t->names[i]);
  t->names[i] = c;
  return 0;
}

/* Writes a CSV cell, quoting it when it holds a comma, quote or newline. */
static void put_cell(FILE *f, const char *s) {
  if (!s)
    return;
  if (strpbrk(s, ",\"\r\n")) {
    fputc('"', f);
    for (const char *p = s; *p; p++) {
      if (*p == '"')
        fputc('"', f);
      fputc(*p, f);
    }
    fputc('"', f);
  } else {
    fputs(s, f);
  }
}

int fr_table_write_csv(const fr_table *t, const char *path,
                       const char *id_column, const char *const *ids,
                       fr_error *err) {
  /* "-" and standard output's other names are standard output; a device or
   * FIFO (/dev/full) is written in place (a rename would replace the node
   * itself); a symbolic link is followed to the file it names. */
  const char *out = path;
  char resolved[PATH_MAX];
  fr_output_kind kind = fr_file_output_target(out, resolved, sizeof resolved);
  int to_stdout = kind == FR_OUTPUT_STDOUT, in_place = kind == FR_OUTPUT_IN_PLACE;
  path = resolved;
  size_t pl = strlen(path);
  char *tmp = malloc(pl + 32);
  if (!tmp)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  snprintf(tmp, pl + 32, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = to_stdout ? stdout : fopen(in_place ? path : tmp, "wb");
  if (!f) {
    int rc = fr_error_set(err, FR_EIO, "%s: cannot create: %s", in_place ? path : tmp,
                          strerror(errno));
    free(tmp);
    return rc;
  }
  if (!to_stdout)
    setvbuf(f, NULL, _IOFBF, 1 << 20);
  if (id_column) {
    put_cell(f, id_column);
    if (t->cols)
      fputc(',', f);
  }
  for (size_t j = 0; j < t->cols; j++) {
    char def[32];
    const char *name = t->names[j];
    if (!name) {
      snprintf(def, sizeof def, "f%zu", j);
      name = def;
    }
    if (j)
      fputc(',', f);
    put_cell(f, name);
  }
  fputs(id_column || t->cols ? ",label\n" : "label\n", f);
  char buf[40];
  for (size_t i = 0; i < t->rows; i++) {
    if (id_column) {
      put_cell(f, ids ? ids[i] : NULL);
      if (t->cols)
        fputc(',', f);
    }
    const float *row = t->x + i * t->cols;
    for (size_t j = 0; j < t->cols; j++) {
      if (j)
        fputc(',', f);
      if (!isnan(row[j])) {
        fr_fmt_float(buf, sizeof buf, row[j]);
        fputs(buf, f);
      }
    }
    fputc(',', f);
    if (!isnan(t->y[i])) {
      fr_fmt_float(buf, sizeof buf, t->y[i]);
      fputs(buf, f);
    }
    fputc('\n', f);
  }
  int bad = ferror(f);
  if (to_stdout) {
    free(tmp);
    if (bad || fflush(f) != 0)
      return fr_error_set(err, FR_EIO, "standard output: write failed: %s", strerror(errno));
    return 0;
  }
  if (fflush(f) != 0 || (!in_place && fsync(fileno(f)) != 0))
    bad = 1;
  if (fclose(f) != 0)
    bad = 1;
  if (bad || (!in_place && rename(tmp, path) != 0)) {
    int rc = fr_error_set(err, FR_EIO, "%s: write failed: %s", path,
                          strerror(errno));
    if (!in_place)
      unlink(tmp);
    free(tmp);
    return rc;
  }
  free(tmp);
  return 0;
}

fr_table *fr_table_read_csv(const char *path, fr_error *err) {
  fr_csv *c = fr_csv_open(path, err);
  if (!c)
    return NULL;
  char **f;
  size_t *lens, n;
  fr_table *t = NULL;
  float *x = NULL, *y = NULL;
  size_t rows = 0, cap = 0;
  int rc = fr_csv_next(c, &f, &lens, &n, err);
  if (rc <= 0) {
    if (rc == 0)
      fr_error_set(err, FR_EPARSE, "%s: empty file (no header line)", path);
    fr_csv_close(c);
    return NULL;
  }
  size_t nhead = n;
  long label = -1;
  for (size_t j = 0; j < n; j++)
    if (strcmp(f[j], "label") == 0)
      label = (long)j;
  size_t ncols = nhead - (label >= 0);
  char **names = calloc(ncols ? ncols : 1, sizeof *names);
  if (!names) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    fr_csv_close(c);
    return NULL;
  }
  for (size_t j = 0, k = 0; j < n; j++)
    if ((long)j != label && !(names[k++] = strdup(f[j])))
      goto oom;
  while ((rc = fr_csv_next(c, &f, &lens, &n, err)) == 1) {
    size_t line = fr_csv_line(c);
    if (n != nhead) {
      fr_error_set(err, FR_EPARSE, "%s:%zu: row has %zu fields, the header has %zu",
                   path, line, n, nhead);
      goto fail;
    }
    if (rows == cap) {
      cap = cap ? cap * 2 : 1024;
      float *nx = realloc(x, cap * (ncols ? ncols : 1) * sizeof *nx);
      if (nx)
        x = nx;
      float *ny = nx ? realloc(y, cap * sizeof *ny) : NULL;
      if (!ny)
        goto oom;
      y = ny;
    }
    y[rows] = NAN;
    for (size_t j = 0, k = 0; j < n; j++) {
      double v = NAN;
      if (lens[j] > 0 && fr_parse_double(f[j], lens[j], &v) != 0) {
        fr_error_set(err, FR_EPARSE,
                     "%s:%zu:%zu: column '%s': cannot parse '%.60s' as a number",
                     path, line, j + 1, (long)j == label ? "label" : names[k],
                     f[j]);
        goto fail;
      }
      if ((long)j == label)
        y[rows] = (float)v;
      else
        x[rows * ncols + k++] = (float)v;
    }
    rows++;
  }
  if (rc < 0)
    goto fail;
  t = fr_table_new(rows, ncols);
  if (!t)
    goto oom;
  if (rows) {
    memcpy(t->x, x, rows * ncols * sizeof *x);
    memcpy(t->y, y, rows * sizeof *y);
  }
  for (size_t i = 0; i < rows; i++) {
    t->source_row[i] = i;
    t->event_time[i] = NAN;
  }
  for (size_t j = 0; j < ncols; j++) {
    t->names[j] = names[j];
    names[j] = NULL;
  }
  free(names);
  free(x);
  free(y);
  fr_csv_close(c);
  return t;
oom:
  fr_error_set(err, FR_ENOMEM, "out of memory");
fail:
  for (size_t j = 0; j < ncols; j++)
    free(names[j]);
  free(names);
  free(x);
  free(y);
  fr_csv_close(c);
  return NULL;
}
