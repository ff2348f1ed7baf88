/*
 * loadgen_csv.c - /v1/score bodies from a CSV sample of raw transactions: one
 * JSON object per row whose members are the schema's column names and whose
 * values are strings holding each cell's text exactly as in the file.  The
 * server parses such strings with the CSV reader's own cell parser
 * (fr_schema_parse_cell), so a row sent this way scores exactly as it does
 * offline.  The file is read with the data module's CSV reader (libcsv:
 * quoting, CRLF, gzip).  Also the feature-matrix reader for V2 bodies.
 */
#include "fraud/loadgen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fraud/data.h"
#include "serve/loadgen_internal.h"

/* A growable text buffer; `oom` latches an allocation failure. */
typedef struct tbuf {
  char *p;
  size_t len, cap;
  int oom;
} tbuf;

static void tb_reserve(tbuf *t, size_t extra) {
  if (t->oom || t->len + extra + 1 <= t->cap)
    return;
  size_t cap = t->cap ? t->cap : 512;
  while (cap < t->len + extra + 1)
    cap *= 2;
  char *p = realloc(t->p, cap);
  if (!p) {
    t->oom = 1;
    return;
  }
  t->p = p;
  t->cap = cap;
}

static void tb_put(tbuf *t, const char *s, size_t n) {
  tb_reserve(t, n);
  if (t->oom)
    return;
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

/* Appends s[0..n) as a JSON string (RFC 8259 escaping via fr_json_escape). */
static void tb_json(tbuf *t, const char *s, size_t n) {
  size_t need = fr_json_escape(NULL, 0, s, n);
  tb_put(t, "\"", 1);
  tb_reserve(t, need);
  if (t->oom)
    return;
  fr_json_escape(t->p + t->len, t->cap - t->len, s, n);
  t->len += need;
  tb_put(t, "\"", 1);
}

int fr_loadgen_bodies_add_csv(fr_loadgen_bodies *b, const fr_schema *s,
                              const char *path, size_t max_rows, fr_error *err) {
  fr_csv *c = fr_csv_open(path, err);
  if (!c)
    return err ? err->code : FR_EIO;
  char **cells;
  size_t *lens, n;
  int rc = fr_csv_next(c, &cells, &lens, &n, err);
  if (rc <= 0) {
    fr_csv_close(c);
    return rc < 0 ? rc : fr_error_set(err, FR_EPARSE, "%s: empty file (no header)", path);
  }
  /* Which header columns go into the bodies: those the schema knows, except
   * the label, which a scoring client does not have. */
  size_t ncols = n;
  int *keep = calloc(ncols, sizeof *keep);
  char **names = calloc(ncols, sizeof *names);
  size_t *header_of = calloc(fr_schema_ncols(s) + 1, sizeof *header_of);
  tbuf t = {0};
  size_t before = fr_loadgen_bodies_count(b), rows = 0;
  if (!keep || !names || !header_of) {
    rc = fr_error_set(err, FR_ENOMEM, "%s: out of memory", path);
    goto done;
  }
  for (size_t i = 0; i < fr_schema_ncols(s); i++)
    header_of[i] = SIZE_MAX;
  for (size_t i = 0; i < ncols; i++) {
    names[i] = strdup(cells[i]);
    if (!names[i]) {
      rc = fr_error_set(err, FR_ENOMEM, "%s: out of memory", path);
      goto done;
    }
    int col = fr_schema_find(s, cells[i]);
    if (col >= 0) {
      header_of[col] = i;
      keep[i] = fr_schema_column(s, (size_t)col)->role != FR_ROLE_LABEL;
    }
  }
  for (size_t i = 0; i < fr_schema_ncols(s); i++) {
    const fr_column_info *ci = fr_schema_column(s, i);
    if (header_of[i] == SIZE_MAX && ci->required && ci->role != FR_ROLE_LABEL) {
      rc = fr_error_set(err, FR_ESCHEMA,
                        "%s:1: header has no column '%s', which schema '%s' requires", path,
                        ci->name, fr_schema_name(s));
      goto done;
    }
  }
  while ((max_rows == 0 || rows < max_rows) &&
         (rc = fr_csv_next(c, &cells, &lens, &n, err)) == 1) {
    if (n != ncols) {
      rc = fr_error_set(err, FR_EPARSE, "%s:%zu: %zu fields, the header has %zu", path,
                        fr_csv_line(c), n, ncols);
      goto done;
    }
    t.len = 0;
    tb_put(&t, "{", 1);
    int first = 1;
    for (size_t i = 0; i < ncols; i++) {
      if (!keep[i])
        continue;
      if (!first)
        tb_put(&t, ",", 1);
      first = 0;
      tb_json(&t, names[i], strlen(names[i]));
      tb_put(&t, ":", 1);
      tb_json(&t, cells[i], lens[i]);
    }
    tb_put(&t, "}", 1);
    if (t.oom) {
      rc = fr_error_set(err, FR_ENOMEM, "%s: out of memory", path);
      goto done;
    }
    if ((rc = fr_loadgen_bodies_add(b, t.p, t.len, NULL, NULL, err)) != 0)
      goto done;
    rows++;
  }
  if (rc < 0)
    goto done;
  rc = rows ? 0 : fr_error_set(err, FR_EPARSE, "%s: no rows after the header", path);
done:
  if (rc < 0) {
    /* Leave the set as it was. */
    while (fr_loadgen_bodies_count(b) > before)
      fr__loadgen_bodies_pop(b);
  }
  if (names)
    for (size_t i = 0; i < ncols; i++)
      free(names[i]);
  free(names);
  free(keep);
  free(header_of);
  free(t.p);
  fr_csv_close(c);
  return rc;
}

float *fr_loadgen_read_matrix(const char *path, size_t *rows_out, size_t *cols_out,
                              fr_error *err) {
  *rows_out = 0;
  *cols_out = 0;
  fr_csv *c = fr_csv_open(path, err);
  if (!c)
    return NULL;
  char **cells;
  size_t *lens, n;
  int rc = fr_csv_next(c, &cells, &lens, &n, err);
  float *x = NULL;
  unsigned char *skip = NULL;
  size_t ncols = 0, nhead = n, rows = 0, cap = 0;
  if (rc <= 0) {
    if (rc == 0)
      fr_error_set(err, FR_EPARSE, "%s: empty file (no header)", path);
    goto fail;
  }
  skip = calloc(nhead, 1);
  if (!skip)
    goto oom;
  for (size_t j = 0; j < nhead; j++) {
    skip[j] = strcmp(cells[j], "transaction_id") == 0 || strcmp(cells[j], "label") == 0;
    ncols += !skip[j];
  }
  if (ncols == 0) {
    fr_error_set(err, FR_EPARSE, "%s:1: no feature column", path);
    goto fail;
  }
  while ((rc = fr_csv_next(c, &cells, &lens, &n, err)) == 1) {
    size_t line = fr_csv_line(c);
    if (n != nhead) {
      fr_error_set(err, FR_EPARSE, "%s:%zu: %zu fields, the header has %zu", path, line, n,
                   nhead);
      goto fail;
    }
    if (rows == cap) {
      cap = cap ? 2 * cap : 1024;
      if (cap > SIZE_MAX / sizeof *x / ncols)
        goto oom;
      float *nx = realloc(x, cap * ncols * sizeof *nx);
      if (!nx)
        goto oom;
      x = nx;
    }
    float *row = x + rows * ncols;
    for (size_t j = 0, k = 0; j < n; j++) {
      if (skip[j])
        continue;
      double v = NAN;
      if (lens[j] > 0 && fr_parse_double(cells[j], lens[j], &v) != 0) {
        fr_error_set(err, FR_EPARSE, "%s:%zu:%zu: cannot parse '%.60s' as a number", path,
                     line, j + 1, cells[j]);
        goto fail;
      }
      row[k++] = (float)v;
    }
    rows++;
  }
  if (rc < 0)
    goto fail;
  if (rows == 0) {
    fr_error_set(err, FR_EPARSE, "%s: no rows after the header", path);
    goto fail;
  }
  free(skip);
  fr_csv_close(c);
  *rows_out = rows;
  *cols_out = ncols;
  return x;
oom:
  fr_error_set(err, FR_ENOMEM, "%s: out of memory", path);
fail:
  free(x);
  free(skip);
  fr_csv_close(c);
  return NULL;
}
