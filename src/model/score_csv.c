/*
 * score_csv.c - the model-file side of `fraud predict --features`,
 * `fraud explain` and `fraud export`: opening whatever a --model path names
 * (a bundle, a model-repository version directory with a bare model file,
 * or a model file), matching a feature-matrix CSV's columns to the model's
 * features, and writing scores or top-k reasons as CSV.
 *
 * Feature matrices are read with fr_table_read_csv (header of names, one
 * row per example, empty cell = missing, an optional `label` column); each
 * number is parsed as a double and rounded to float32 once, as XGBoost's
 * DMatrix does.  Columns are matched by name when the model knows its
 * feature names (a bundle's featurizer, XGBoost's feature_names, LightGBM's
 * feature_names), else by position; a missing or unknown column, or a
 * wrong number of them, is an error naming the column.
 */
#include <stdlib.h>
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

int fr_model_source_match(const fr_model_source *m, const fr_table *t, size_t *map,
                          const char *what, fr_error *err) {
  const fr_forest *f = m->forest;
  size_t nf = f->nfeatures;
  int named = 1;
  for (size_t j = 0; j < nf && named; j++)
    named = fr_model_source_feature_name(m, j) != NULL;
  if (!named) {
    if (t->cols != nf)
      return fr_error_set(err, FR_ESCHEMA,
                          "%s: %zu feature columns, the model expects %zu (it has no feature "
                          "names, so columns are taken in order)",
                          what, t->cols, nf);
    for (size_t j = 0; j < nf; j++)
      map[j] = j;
    return 0;
  }
  for (size_t j = 0; j < nf; j++) {
    const char *name = fr_model_source_feature_name(m, j);
    size_t c = 0;
    while (c < t->cols && !(t->names[c] && strcmp(t->names[c], name) == 0))
      c++;
    if (c == t->cols)
      return fr_error_set(err, FR_ESCHEMA, "%s: no column '%s' (feature %zu of the model)", what,
                          name, j);
    map[j] = c;
  }
  for (size_t c = 0; c < t->cols; c++) {
    size_t j = 0;
    while (j < nf && map[j] != c)
      j++;
    if (j == nf)
      return fr_error_set(err, FR_ESCHEMA, "%s: column '%s' is not a feature of the model", what,
                          t->names[c] ? t->names[c] : "");
  }
  return 0;
}

/* Rows of t rearranged into the model's feature order (new array). */
static float *aligned_rows(const fr_table *t, const size_t *map, size_t nf) {
  float *x = malloc((t->rows ? t->rows : 1) * nf * sizeof *x);
  if (!x)
    return NULL;
  for (size_t r = 0; r < t->rows; r++)
    for (size_t j = 0; j < nf; j++)
      x[r * nf + j] = t->x[r * t->cols + map[j]];
  return x;
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
    if (b->len && fwrite(b->p, 1, b->len, stdout) != b->len)
      return fr_error_set(err, FR_EIO, "standard output: write failed");
    return fflush(stdout) ? fr_error_set(err, FR_EIO, "standard output: write failed") : 0;
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
  size_t nf = f->nfeatures, k = f->noutputs;
  fr_table *t = fr_table_read_csv(matrix_csv, err);
  if (!t)
    return err ? err->code : FR_EIO;
  int rc = 0;
  size_t *map = malloc(nf * sizeof *map);
  float *x = NULL, *mg = NULL, *p = NULL;
  cbuf b = {0};
  if (!map) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = fr_model_source_match(m, t, map, matrix_csv, err)))
    goto out;
  x = aligned_rows(t, map, nf);
  mg = malloc((t->rows ? t->rows : 1) * k * sizeof *mg);
  p = malloc((t->rows ? t->rows : 1) * k * sizeof *p);
  if (!x || !mg || !p) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = fr_forest_predict_margin_ex(f, x, t->rows, mg, opts))) {
    fr_error_set(err, rc, "%s: prediction failed: %s", matrix_csv, fr_strerror(rc));
    goto out;
  }
  fr_forest_transform(f, mg, t->rows, p);
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
  for (size_t r = 0; r < t->rows; r++) {
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
    *rows = t->rows;
out:
  free(map);
  free(x);
  free(mg);
  free(p);
  free(b.p);
  fr_table_free(t);
  return rc;
}

/* ---- explanations ----------------------------------------------------------- */

/* Writes one explained row: id, class (multi-output), probability, margin,
 * k (name, value, contribution) triples. */
static int explain_row(const fr_model_source *m, const float *x, const char *id, size_t idlen,
                       size_t k, fr_reason_order order, fr_reason *rs, cbuf *b) {
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
  fr_reason *rs = malloc(k * sizeof *rs);
  cbuf b = {0};
  fr_table *t = NULL;
  fr_dataset *d = NULL;
  float *x = NULL, *prob = NULL;
  size_t *map = NULL, *order = NULL;
  if (!rs) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto out;
  }
  cb_str(&b, "transaction_id");
  if (f->noutputs > 1)
    cb_str(&b, ",class");
  cb_str(&b, ",probability,margin");
  for (size_t i = 1; i <= k; i++) {
    char h[96];
    snprintf(h, sizeof h, ",reason_%zu,value_%zu,contribution_%zu", i, i, i);
    cb_str(&b, h);
  }
  cb_str(&b, "\n");
  if (job->features) {
    if (!(t = fr_table_read_csv(job->features, err))) {
      rc = err ? err->code : FR_EIO;
      goto out;
    }
    if (!(map = malloc(nf * sizeof *map))) {
      rc = fr_error_set(err, FR_ENOMEM, "out of memory");
      goto out;
    }
    if ((rc = fr_model_source_match(&m, t, map, job->features, err)))
      goto out;
    if (!(x = aligned_rows(t, map, nf))) {
      rc = fr_error_set(err, FR_ENOMEM, "out of memory");
      goto out;
    }
    for (size_t r = 0; r < t->rows; r++) {
      char id[32];
      int n = snprintf(id, sizeof id, "%zu", r + 1);
      if ((rc = explain_row(&m, x + r * nf, id, (size_t)n, k, job->order, rs, &b))) {
        fr_error_set(err, rc, "%s: row %zu: %s", job->features, r + 1,
                     rc == FR_EUNAVAIL ? "the model file has no node covers for TreeSHAP"
                                       : fr_strerror(rc));
        goto out;
      }
    }
    if (rows)
      *rows = t->rows;
  } else {
    if (!m.bundle) {
      rc = fr_error_set(err, FR_EINVAL,
                        "%s: a raw data file needs a model bundle (its schema and features); "
                        "give a bare model file a feature matrix with --features",
                        job->model);
      goto out;
    }
    if (!(d = fr_dataset_read_csv(fr_bundle_schema(m.bundle), job->data, &job->read, err))) {
      rc = err ? err->code : FR_EIO;
      goto out;
    }
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
        idlen = (size_t)snprintf(idbuf, sizeof idbuf, "%zu", r + 1);
        id = idbuf;
      } else if (!id) {
        id = "";
        idlen = 0;
      }
      if ((rc = explain_row(&m, t->x + i * t->cols, id, idlen, k, job->order, rs, &b))) {
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
  free(b.p);
  free(x);
  free(map);
  free(order);
  free(prob);
  fr_table_free(t);
  fr_dataset_free(d);
  fr_model_source_close(&m);
  return rc;
}
