/*
 * score_csv.c - the model-file side of `fraud predict --features`,
 * `fraud explain` and `fraud export`: opening whatever a --model path names
 * (a bundle, a model-repository version directory with a bare model file,
 * or a model file), matching a feature-matrix CSV's columns to the model's
 * features, and writing scores or top-k reasons as CSV.
 *
 * A feature matrix is a CSV with a header of column names, one row per
 * example, an empty cell for a missing value.  Only the model's feature
 * columns are read (each number parsed as a double and rounded to float32
 * once, as XGBoost's DMatrix does), so the output of `fraud features`, with
 * its transaction_id and label columns, scores as it is.  Columns are
 * selected by name when the model knows its feature names (a bundle's
 * featurizer, XGBoost's feature_names, LightGBM's feature_names; any
 * order, other columns ignored), else by position (the columns other than
 * transaction_id and label, as many as the model has features); a missing
 * feature column or a wrong count is an error naming the column.
 */
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "model/forest_internal.h"

/* ---- --model paths ---------------------------------------------------------- */

int fr_model_source_open(const char *path, fr_model_source *m, fr_error *err) {
  if (!m)
    return fr_error_set(err, FR_EINVAL, "fr_model_source_open: NULL argument");
  memset(m, 0, sizeof *m);
  if (!path)
    return fr_error_set(err, FR_EINVAL, "no model path");
  if (fr_is_dir(path)) {
    char *manifest = fr_path_join(path, "manifest.json");
    int is_bundle = manifest && fr_is_file(manifest);
    free(manifest);
    if (is_bundle) {
      if (!(m->bundle = fr_bundle_open(path, err)))
        return err ? err->code : FR_EIO;
      m->forest = fr_bundle_forest(m->bundle);
      return 0;
    }
    if (!(m->forest_owned = fr_forest_dir_load(path, NULL, err)))
      return err ? err->code : FR_EIO;
  } else if (!(m->forest_owned = fr_forest_load(path, FR_FOREST_AUTO, err))) {
    return err ? err->code : FR_EIO;
  }
  m->forest = m->forest_owned;
  return 0;
}

void fr_model_source_close(fr_model_source *m) {
  if (!m)
    return;
  fr_forest_free(m->forest_owned);
  fr_bundle_unref(m->bundle);
  memset(m, 0, sizeof *m);
}

const char *fr_model_source_feature_name(const fr_model_source *m, size_t i) {
  if (!m || !m->forest)
    return NULL;
  if (m->bundle) {
    const fr_featurizer *fz = fr_bundle_featurizer(m->bundle);
    if (fz && i < fr_featurizer_nfeatures(fz))
      return fr_featurizer_name(fz, i);
  }
  return fr_forest_feature_name(m->forest, i);
}

/* ---- column matching ------------------------------------------------------- */

/* Columns that are never features when columns are taken by position: the
 * label, and the id column `fraud features` writes first. */
static int non_feature_column(const char *name) {
  return name && (strcmp(name, "label") == 0 || strcmp(name, "transaction_id") == 0);
}

int fr_model_source_match(const fr_model_source *m, const fr_table *t, size_t *map,
                          const char *what, fr_error *err) {
  if (!m || !m->forest || !t || (!map && m->forest->nfeatures))
    return fr_error_set(err, FR_EINVAL, "fr_model_source_match: NULL argument");
  const fr_forest *f = m->forest;
  size_t nf = f->nfeatures;
  int named = 1;
  for (size_t j = 0; j < nf && named; j++)
    named = fr_model_source_feature_name(m, j) != NULL;
  if (!named) {
    size_t nc = 0;
    for (size_t c = 0; c < t->cols; c++)
      if (!non_feature_column(t->names[c])) {
        if (nc < nf)
          map[nc] = c;
        nc++;
      }
    if (nc != nf)
      return fr_error_set(err, FR_ESCHEMA,
                          "%s: %zu feature columns, the model expects %zu (it has no feature "
                          "names, so columns other than transaction_id and label are taken in "
                          "order)",
                          what, nc, nf);
    return 0;
  }
  /* By name: the other columns (an id, the label, anything else) are left
   * out, so the output of `fraud features` scores as it is. */
  for (size_t j = 0; j < nf; j++) {
    const char *name = fr_model_source_feature_name(m, j);
    size_t c = 0;
    while (c < t->cols && !(t->names[c] && strcmp(t->names[c], name) == 0))
      c++;
    if (c == t->cols)
      return fr_error_set(err, FR_ESCHEMA, "%s: no column '%s' (feature %zu of the model)", what,
                          name, j);
    for (size_t c2 = c + 1; c2 < t->cols; c2++)
      if (t->names[c2] && strcmp(t->names[c2], name) == 0)
        return fr_error_set(err, FR_ESCHEMA,
                            "%s: column '%s' appears twice (columns %zu and %zu)", what, name,
                            c + 1, c2 + 1);
    map[j] = c;
  }
  return 0;
}

/* ---- reading a feature matrix ------------------------------------------------ */

/* A feature matrix in the model's feature order. */
typedef struct matrix {
  size_t rows;
  float *x;   /* rows x nfeatures; NaN = missing */
  char **ids; /* rows cells of the transaction_id column, or NULL (none,
                 or not asked for) */
} matrix;

static void matrix_free(matrix *mx) {
  if (mx->ids)
    for (size_t r = 0; r < mx->rows; r++)
      free(mx->ids[r]);
  free(mx->ids);
  free(mx->x);
  memset(mx, 0, sizeof *mx);
}

/* Reads `path` (header of column names, one row per example, empty cell =
 * missing) keeping only the model's feature columns (fr_model_source_match),
 * each cell parsed as a double and rounded to float32 once, as XGBoost's
 * DMatrix does; the other columns are not parsed.  With want_ids, the
 * transaction_id column's cells are kept too. */
static int read_matrix(const fr_model_source *m, const char *path, int want_ids, matrix *mx,
                       fr_error *err) {
  memset(mx, 0, sizeof *mx);
  size_t nf = m->forest->nfeatures;
  fr_csv *c = fr_csv_open(path, err);
  if (!c)
    return err ? err->code : FR_EIO;
  char **f;
  size_t *lens, n;
  int rc = fr_csv_next(c, &f, &lens, &n, err);
  if (rc <= 0) {
    fr_csv_close(c);
    return rc == 0 ? fr_error_set(err, FR_EPARSE, "%s: empty file (no header line)", path) : rc;
  }
  size_t nhead = n, cap = 0;
  long idcol = -1;
  size_t *map = malloc((nf ? nf : 1) * sizeof *map);
  fr_table *hdr = fr_table_new(0, nhead);
  if (!map || !hdr) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t j = 0; j < nhead; j++) {
    if ((rc = fr_table_set_name(hdr, j, f[j]))) {
      rc = fr_error_set(err, rc, "out of memory");
      goto out;
    }
    if (want_ids && idcol < 0 && strcmp(f[j], "transaction_id") == 0)
      idcol = (long)j;
  }
  if ((rc = fr_model_source_match(m, hdr, map, path, err)))
    goto out;
  while ((rc = fr_csv_next(c, &f, &lens, &n, err)) == 1) {
    size_t line = fr_csv_line(c);
    if (n != nhead) {
      rc = fr_error_set(err, FR_EPARSE, "%s:%zu: row has %zu fields, the header has %zu", path,
                        line, n, nhead);
      goto out;
    }
    if (mx->rows == cap) {
      size_t ncap = cap ? 2 * cap : 1024;
      float *nx = nf && ncap > SIZE_MAX / sizeof *nx / nf
                      ? NULL
                      : realloc(mx->x, ncap * (nf ? nf : 1) * sizeof *nx);
      if (nx)
        mx->x = nx;
      char **ni = nx && idcol >= 0 ? realloc(mx->ids, ncap * sizeof *ni) : NULL;
      if (ni)
        mx->ids = ni;
      if (!nx || (idcol >= 0 && !ni)) {
        rc = fr_error_set(err, FR_ENOMEM, "out of memory");
        goto out;
      }
      cap = ncap;
    }
    float *row = mx->x + mx->rows * nf;
    for (size_t j = 0; j < nf; j++) {
      size_t col = map[j];
      double v = NAN;
      if (lens[col] > 0 && fr_parse_double(f[col], lens[col], &v) != 0) {
        rc = fr_error_set(err, FR_EPARSE,
                          "%s:%zu:%zu: column '%s': cannot parse '%.60s' as a number", path,
                          line, col + 1, hdr->names[col], f[col]);
        goto out;
      }
      row[j] = (float)v;
    }
    if (idcol >= 0 && !(mx->ids[mx->rows] = strndup(f[idcol], lens[idcol]))) {
      rc = fr_error_set(err, FR_ENOMEM, "out of memory");
      goto out;
    }
    mx->rows++;
  }
  if (rc == 0 && !mx->x && !(mx->x = malloc((nf ? nf : 1) * sizeof *mx->x)))
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
out:
  free(map);
  fr_table_free(hdr);
  fr_csv_close(c);
  if (rc)
    matrix_free(mx);
  return rc;
}

/* ---- a CSV text buffer ----------------------------------------------------- */

typedef struct cbuf {
  char *p;
  size_t len, cap;
  int oom;
} cbuf;

static void cb_put(cbuf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 4096;
    while (c < b->len + n + 1)
      c *= 2;
    char *np = realloc(b->p, c);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = c;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void cb_str(cbuf *b, const char *s) { cb_put(b, s, strlen(s)); }

/* A CSV cell, quoted when it needs to be (RFC 4180). */
static void cb_cell(cbuf *b, const char *s, size_t n) {
  if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\n', n) && !memchr(s, '\r', n)) {
    cb_put(b, s, n);
    return;
  }
  cb_put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"')
      cb_put(b, "\"", 1);
    cb_put(b, s + i, 1);
  }
  cb_put(b, "\"", 1);
}

/* A float, shortest round trip; NaN (missing) as an empty cell. */
static void cb_float(cbuf *b, float v) {
  if (isnan(v))
    return;
  char t[48];
  int n = fr_fmt_float(t, sizeof t, v);
  cb_put(b, t, (size_t)n);
}

/* To `path` atomically, or to standard output when path is "-". */
static int cb_write(cbuf *b, const char *path, fr_error *err) {
  if (b->oom)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  if (strcmp(path, "-") == 0) {
    /* errno is the failing write's, read before any other call. */
    errno = 0;
    if ((b->len && fwrite(b->p, 1, b->len, stdout) != b->len) || fflush(stdout) != 0) {
      int e = errno ? errno : EIO;
      return fr_error_set(err, FR_EIO, "standard output: write failed: %s", strerror(e));
    }
    return 0;
  }
  return fr_file_write_atomic(path, b->p ? b->p : "", b->len, err);
}

/* ---- scores ----------------------------------------------------------------- */

int fr_model_source_score_csv(const fr_model_source *m, const char *matrix_csv,
                              const char *out_csv, const fr_predict_opts *opts, size_t *rows,
                              fr_error *err) {
  if (rows)
    *rows = 0;
  if (!m || !m->forest || !matrix_csv || !out_csv)
    return fr_error_set(err, FR_EINVAL, "model, feature matrix and output are required");
  const fr_forest *f = m->forest;
  size_t k = f->noutputs;
  matrix mx;
  int rc = read_matrix(m, matrix_csv, 0, &mx, err);
  if (rc)
    return rc;
  float *mg = malloc((mx.rows ? mx.rows : 1) * k * sizeof *mg);
  float *p = malloc((mx.rows ? mx.rows : 1) * k * sizeof *p);
  cbuf b = {0};
  if (!mg || !p) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = fr_forest_predict_margin_ex(f, mx.x, mx.rows, mg, opts))) {
    fr_error_set(err, rc, "%s: prediction failed: %s", matrix_csv, fr_strerror(rc));
    goto out;
  }
  fr_forest_transform(f, mg, mx.rows, p);
  char h[64];
  for (int part = 0; part < 2; part++)
    for (size_t g = 0; g < k; g++) {
      if (part || g)
        cb_str(&b, ",");
      if (k == 1)
        cb_str(&b, part ? "margin" : "probability");
      else {
        snprintf(h, sizeof h, "%s_%zu", part ? "margin" : "probability", g);
        cb_str(&b, h);
      }
    }
  cb_str(&b, "\n");
  for (size_t r = 0; r < mx.rows; r++) {
    for (size_t g = 0; g < k; g++) {
      if (g)
        cb_str(&b, ",");
      cb_float(&b, p[r * k + g]);
    }
    for (size_t g = 0; g < k; g++) {
      cb_str(&b, ",");
      cb_float(&b, mg[r * k + g]);
    }
    cb_str(&b, "\n");
  }
  if ((rc = cb_write(&b, out_csv, err)))
    goto out;
  if (rows)
    *rows = mx.rows;
out:
  free(mg);
  free(p);
  free(b.p);
  matrix_free(&mx);
  return rc;
}

/* ---- explanations ----------------------------------------------------------- */

/* The bias of each output, fr_forest_shap's last column: the base margin
 * plus every tree's cover-weighted expected value.  It does not depend on
 * the row (the same sums for any x), so one row of missing values gives it
 * for all.  bias: noutputs entries. */
static int explain_bias(const fr_forest *f, float *bias) {
  size_t nf = f->nfeatures, K = f->noutputs;
  float *x = malloc((nf ? nf : 1) * sizeof *x);
  float *c = malloc(K * (nf + 1) * sizeof *c);
  int rc = x && c ? 0 : FR_ENOMEM;
  for (size_t j = 0; rc == 0 && j < nf; j++)
    x[j] = NAN;
  if (rc == 0)
    rc = fr_forest_shap(f, x, 1, c);
  for (size_t g = 0; rc == 0 && g < K; g++)
    bias[g] = c[g * (nf + 1) + nf];
  free(x);
  free(c);
  return rc;
}

/* Writes one explained row: id, class (multi-output), probability, margin,
 * bias, k (name, value, contribution) triples. */
static int explain_row(const fr_model_source *m, const float *x, const char *id, size_t idlen,
                       size_t k, fr_reason_order order, const float *bias, fr_reason *rs,
                       cbuf *b) {
  const fr_forest *f = m->forest;
  size_t K = f->noutputs;
  float mg[256], p[256];
  float *mgp = K <= 256 ? mg : malloc(K * sizeof *mgp);
  float *pp = K <= 256 ? p : malloc(K * sizeof *pp);
  if (!mgp || !pp) {
    if (mgp != mg)
      free(mgp);
    if (pp != p)
      free(pp);
    return FR_ENOMEM;
  }
  fr_forest_predict_margin(f, x, 1, mgp);
  fr_forest_transform(f, mgp, 1, pp);
  size_t cls = 0;
  for (size_t g = 1; g < K; g++)
    if (pp[g] > pp[cls])
      cls = g;
  size_t got = 0;
  int rc = fr_forest_reasons(f, x, cls, k, order, rs, &got);
  if (rc == 0) {
    cb_cell(b, id, idlen);
    char t[32];
    if (K > 1) {
      snprintf(t, sizeof t, ",%zu", cls);
      cb_str(b, t);
    }
    cb_str(b, ",");
    cb_float(b, pp[cls]);
    cb_str(b, ",");
    cb_float(b, mgp[cls]);
    cb_str(b, ",");
    cb_float(b, bias[cls]);
    for (size_t i = 0; i < k; i++) {
      cb_str(b, ",");
      if (i < got) {
        const char *name = fr_model_source_feature_name(m, rs[i].feature);
        char fb[32];
        if (!name) {
          snprintf(fb, sizeof fb, "f%u", rs[i].feature);
          name = fb;
        }
        cb_cell(b, name, strlen(name));
        cb_str(b, ",");
        cb_float(b, rs[i].value);
        cb_str(b, ",");
        cb_float(b, rs[i].contribution);
      } else {
        cb_str(b, ",,");
      }
    }
    cb_str(b, "\n");
  }
  if (mgp != mg)
    free(mgp);
  if (pp != p)
    free(pp);
  return rc;
}

int fr_explain_run(const fr_explain_job *job, const char *out_csv, size_t *rows, fr_error *err) {
  if (rows)
    *rows = 0;
  if (job && job->summary)
    memset(job->summary, 0, sizeof *job->summary);
  if (!job || !job->model || !out_csv || (!job->data == !job->features))
    return fr_error_set(err, FR_EINVAL,
                        "a model, an output and exactly one of a data file or a feature matrix "
                        "are required");
  size_t k = job->k ? job->k : 3;
  fr_model_source m;
  int rc = fr_model_source_open(job->model, &m, err);
  if (rc)
    return rc;
  const fr_forest *f = m.forest;
  size_t nf = f->nfeatures;
  /* A row has at most nf reasons: more columns would always be empty. */
  if (k > nf && nf > 0)
    k = nf;
  fr_reason *rs = malloc((k ? k : 1) * sizeof *rs);
  float *bias = malloc(f->noutputs * sizeof *bias);
  cbuf b = {0};
  fr_table *t = NULL;
  fr_dataset *d = NULL;
  float *prob = NULL;
  size_t *order = NULL;
  matrix mx = {0};
  if (!rs || !bias) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = explain_bias(f, bias))) {
    fr_error_set(err, rc, "%s: %s", job->model,
                 rc == FR_EUNAVAIL ? "the model file has no node covers for TreeSHAP"
                                   : fr_strerror(rc));
    goto out;
  }
  cb_str(&b, "transaction_id");
  if (f->noutputs > 1)
    cb_str(&b, ",class");
  cb_str(&b, ",probability,margin,bias");
  for (size_t i = 1; i <= k; i++) {
    char h[96];
    snprintf(h, sizeof h, ",reason_%zu,value_%zu,contribution_%zu", i, i, i);
    cb_str(&b, h);
  }
  cb_str(&b, "\n");
  if (job->features) {
    if ((rc = read_matrix(&m, job->features, 1, &mx, err)))
      goto out;
    for (size_t r = 0; r < mx.rows; r++) {
      char num[32];
      const char *id = mx.ids ? mx.ids[r] : num;
      if (!mx.ids)
        snprintf(num, sizeof num, "%zu", r + 1);
      if ((rc = explain_row(&m, mx.x + r * nf, id, strlen(id), k, job->order, bias, rs, &b))) {
        fr_error_set(err, rc, "%s: row %zu: %s", job->features, r + 1,
                     rc == FR_EUNAVAIL ? "the model file has no node covers for TreeSHAP"
                                       : fr_strerror(rc));
        goto out;
      }
    }
    if (rows)
      *rows = mx.rows;
  } else {
    if (!m.bundle) {
      rc = fr_error_set(err, FR_EINVAL,
                        "%s: a raw data file needs a model bundle (its schema and features); "
                        "give a bare model file a feature matrix with --features",
                        job->model);
      goto out;
    }
    /* Explaining needs no label: a file of new transactions lacks it. */
    fr_read_options ro = job->read;
    ro.label_optional = 1;
    if (!(d = fr_dataset_read_csv(fr_bundle_schema(m.bundle), job->data, &ro, err))) {
      rc = err ? err->code : FR_EIO;
      goto out;
    }
    if (job->summary)
      fr_dataset_read_summary(d, job->summary);
    if (!(t = fr_bundle_score_dataset(m.bundle, d, &prob, err))) {
      rc = err ? err->code : FR_ENOMEM;
      goto out;
    }
    /* Input order: table row i came from data row source_row[i]. */
    size_t n = t->rows;
    if (!(order = malloc((n ? n : 1) * sizeof *order))) {
      rc = fr_error_set(err, FR_ENOMEM, "out of memory");
      goto out;
    }
    for (size_t i = 0; i < n; i++)
      order[t->source_row[i]] = i;
    int idcol = fr_schema_role_column(fr_bundle_schema(m.bundle), FR_ROLE_ID);
    for (size_t r = 0; r < n; r++) {
      size_t i = order[r], idlen = 0;
      char idbuf[32];
      const char *id = idcol >= 0 ? fr_dataset_string(d, (size_t)idcol, r, &idlen) : NULL;
      if (idcol < 0) {
        idlen = (size_t)snprintf(idbuf, sizeof idbuf, "%zu", fr_dataset_row_number(d, r));
        id = idbuf;
      } else if (!id) {
        id = "";
        idlen = 0;
      }
      if ((rc = explain_row(&m, t->x + i * t->cols, id, idlen, k, job->order, bias, rs, &b))) {
        fr_error_set(err, rc, "%s: row %zu: %s", job->data, r + 1, fr_strerror(rc));
        goto out;
      }
    }
    if (rows)
      *rows = n;
  }
  rc = cb_write(&b, out_csv, err);
out:
  free(rs);
  free(bias);
  free(b.p);
  matrix_free(&mx);
  free(order);
  free(prob);
  fr_table_free(t);
  fr_dataset_free(d);
  fr_model_source_close(&m);
  return rc;
}
