/*
 * drift.c - how far a current data set has moved from a reference one,
 * column by column, as the population stability index (PSI), plus the shift
 * of the label rate.  Numeric columns are binned on the reference's deciles,
 * categorical ones by category; the formula and its thresholds are in
 * include/fraud/data.h with their sources.
 */
#include "data_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

double fr_psi(const double *ref, const double *cur, size_t n) {
  double psi = 0;
  for (size_t i = 0; i < n; i++) {
    double r = ref[i] > 0 ? ref[i] : FR_PSI_EPSILON;
    double c = cur[i] > 0 ? cur[i] : FR_PSI_EPSILON;
    psi += (c - r) * log(c / r);
  }
  return psi;
}

static const char *level_of(double psi) {
  return psi >= FR_PSI_SIGNIFICANT ? "significant"
         : psi >= FR_PSI_MODERATE  ? "moderate"
                                   : "stable";
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

size_t fr_psi_bin(const double *edges, size_t ne, double x) {
  size_t lo = 0, hi = ne;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (edges[mid] <= x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* PSI of a NUMBER column; bins = deciles + 1 missing bin. */
static int numeric_psi(const double *rx, size_t rn, const double *cx, size_t cn,
                       fr_drift_column *out) {
  double *sorted = malloc((rn ? rn : 1) * sizeof *sorted);
  if (!sorted)
    return FR_ENOMEM;
  size_t m = 0;
  for (size_t i = 0; i < rn; i++)
    if (!isnan(rx[i]))
      sorted[m++] = rx[i];
  qsort(sorted, m, sizeof *sorted, cmp_double);
  double edges[9];
  size_t ne = 0;
  for (size_t k = 1; k <= 9 && m > 0; k++) {
    double e = sorted[k * m / 10];
    if (ne == 0 || e > edges[ne - 1])
      edges[ne++] = e;
  }
  free(sorted);
  size_t nb = ne + 2; /* ne + 1 value bins, then missing */
  double rs[11] = {0}, cs[11] = {0};
  for (size_t i = 0; i < rn; i++)
    rs[isnan(rx[i]) ? nb - 1 : fr_psi_bin(edges, ne, rx[i])] += 1.0 / (double)rn;
  for (size_t i = 0; i < cn; i++)
    cs[isnan(cx[i]) ? nb - 1 : fr_psi_bin(edges, ne, cx[i])] += 1.0 / (double)cn;
  /* The missing bin counts only when some cell is missing. */
  if (rs[nb - 1] == 0 && cs[nb - 1] == 0)
    nb--;
  out->bins = nb;
  out->psi = fr_psi(rs, cs, nb);
  return 0;
}

typedef struct cat {
  const char *key;
  uint32_t len, bin;
  UT_hash_handle hh;
} cat;

/* PSI of a STRING column over the union of categories + a missing bin. */
static int categorical_psi(const fr_dataset *ref, const fr_dataset *cur, size_t col,
                           fr_drift_column *out) {
  size_t nr, nc;
  const fr__str *rd = fr__dataset_dict(ref, col, &nr);
  const fr__str *cd = fr__dataset_dict(cur, col, &nc);
  const uint32_t *rid = fr__dataset_string_ids(ref, col);
  const uint32_t *cid = fr__dataset_string_ids(cur, col);
  cat *items = calloc(nr + nc + 1, sizeof *items), *head = NULL;
  uint32_t *rmap = calloc(nr + 1, sizeof *rmap), *cmap = calloc(nc + 1, sizeof *cmap);
  double *rs = calloc(nr + nc + 1, sizeof *rs), *cs = calloc(nr + nc + 1, sizeof *cs);
  int rc = 0;
  if (!items || !rmap || !cmap || !rs || !cs) {
    rc = FR_ENOMEM;
    goto done;
  }
  uint32_t nbins = 0;
  for (int side = 0; side < 2; side++) {
    const fr__str *dict = side ? cd : rd;
    uint32_t *map = side ? cmap : rmap;
    size_t n = side ? nc : nr;
    for (size_t k = 0; k < n; k++) {
      cat *c = NULL;
      HASH_FIND(hh, head, dict[k].ptr, dict[k].len, c);
      if (!c) {
        c = &items[nbins];
        c->key = dict[k].ptr;
        c->len = dict[k].len;
        c->bin = nbins++;
        HASH_ADD_KEYPTR(hh, head, c->key, c->len, c);
      }
      map[k] = c->bin;
    }
  }
  size_t rn = fr_dataset_rows(ref), cn = fr_dataset_rows(cur);
  int missing = 0;
  for (size_t i = 0; i < rn; i++) {
    uint32_t id = rid ? rid[i] : FR__NO_STRING;
    missing |= id == FR__NO_STRING;
    rs[id == FR__NO_STRING ? nbins : rmap[id]] += 1.0 / (double)rn;
  }
  for (size_t i = 0; i < cn; i++) {
    uint32_t id = cid ? cid[i] : FR__NO_STRING;
    missing |= id == FR__NO_STRING;
    cs[id == FR__NO_STRING ? nbins : cmap[id]] += 1.0 / (double)cn;
  }
  out->bins = nbins + (size_t)missing;
  out->psi = fr_psi(rs, cs, out->bins);
done:
  HASH_CLEAR(hh, head);
  free(items);
  free(rmap);
  free(cmap);
  free(rs);
  free(cs);
  return rc;
}

static double label_rate(const fr_dataset *d) {
  size_t pos = 0, n = 0;
  for (size_t r = 0; r < fr_dataset_rows(d); r++) {
    int l = fr_dataset_label(d, r);
    if (l >= 0) {
      n++;
      pos += (size_t)l;
    }
  }
  return n ? (double)pos / (double)n : NAN;
}

void fr_drift_free(fr_drift *d) {
  if (!d)
    return;
  free(d->cols);
  free(d);
}

fr_drift *fr_drift_compute(const fr_dataset *ref, const fr_dataset *cur, fr_error *err) {
  const fr_schema *s = fr_dataset_schema(ref);
  if (s != fr_dataset_schema(cur) &&
      strcmp(fr_schema_name(s), fr_schema_name(fr_dataset_schema(cur))) != 0) {
    fr_error_set(err, FR_EINVAL, "drift: %s and %s were read with different schemas",
                 fr_dataset_path(ref), fr_dataset_path(cur));
    return NULL;
  }
  const fr_dataset *sets[2] = {ref, cur};
  for (int i = 0; i < 2; i++)
    if (fr_dataset_rows(sets[i]) == 0) {
      fr_error_set(err, FR_EDATA, "%s: no data rows: the PSI needs a non-empty %s set",
                   fr_dataset_path(sets[i]), i ? "current" : "reference");
      return NULL;
    }
  fr_drift *d = calloc(1, sizeof *d);
  if (d)
    d->cols = calloc(fr_schema_ncols(s), sizeof *d->cols);
  if (!d || !d->cols) {
    fr_drift_free(d);
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  d->ref_rows = fr_dataset_rows(ref);
  d->cur_rows = fr_dataset_rows(cur);
  int has_label = fr_schema_role_column(s, FR_ROLE_LABEL) >= 0;
  d->ref_label_rate = has_label ? label_rate(ref) : NAN;
  d->cur_label_rate = has_label ? label_rate(cur) : NAN;
  for (size_t k = 0; k < fr_schema_ncols(s); k++) {
    const fr_column_info *ci = fr_schema_column(s, k);
    int numeric = ci->type == FR_COL_NUMBER &&
                  (ci->role == FR_ROLE_AMOUNT || ci->role == FR_ROLE_NUMERIC ||
                   ci->role == FR_ROLE_LATITUDE || ci->role == FR_ROLE_LONGITUDE);
    int categorical = ci->type == FR_COL_STRING && ci->role == FR_ROLE_CATEGORICAL;
    if (!numeric && !categorical)
      continue;
    if (!fr__dataset_has_column(ref, k) && !fr__dataset_has_column(cur, k))
      continue;
    fr_drift_column *c = &d->cols[d->ncols];
    c->column = ci->name;
    c->categorical = categorical;
    int rc;
    if (numeric) {
      const double *rx = fr__dataset_numbers(ref, k), *cx = fr__dataset_numbers(cur, k);
      /* An absent column is all missing. */
      double *nanr = NULL, *nanc = NULL;
      if (!rx || !cx) {
        size_t n = !rx ? d->ref_rows : d->cur_rows;
        double *z = malloc(n * sizeof *z);
        if (!z) {
          fr_drift_free(d);
          fr_error_set(err, FR_ENOMEM, "out of memory");
          return NULL;
        }
        for (size_t i = 0; i < n; i++)
          z[i] = NAN;
        if (!rx)
          rx = nanr = z;
        else
          cx = nanc = z;
      }
      rc = numeric_psi(rx, d->ref_rows, cx, d->cur_rows, c);
      free(nanr);
      free(nanc);
    } else {
      rc = categorical_psi(ref, cur, k, c);
    }
    if (rc) {
      fr_drift_free(d);
      fr_error_set(err, FR_ENOMEM, "out of memory");
      return NULL;
    }
    c->level = level_of(c->psi);
    d->significant |= c->psi >= FR_PSI_SIGNIFICANT;
    d->ncols++;
  }
  return d;
}

int fr_drift_write_text(const fr_drift *d, FILE *f) {
  char a[32], b[32];
  fprintf(f, "reference %zu rows, current %zu rows\n", d->ref_rows, d->cur_rows);
  if (!isnan(d->ref_label_rate) || !isnan(d->cur_label_rate)) {
    fr_snprintf_c(a, sizeof a, "%.6g", d->ref_label_rate);
    fr_snprintf_c(b, sizeof b, "%.6g", d->cur_label_rate);
    char s[32];
    fr_snprintf_c(s, sizeof s, "%+.6g", d->cur_label_rate - d->ref_label_rate);
    fprintf(f, "label rate: reference %s, current %s (shift %s)\n", a, b, s);
  }
  fprintf(f, "%-24s %-12s %5s %10s  %s\n", "column", "kind", "bins", "psi", "level");
  for (size_t i = 0; i < d->ncols; i++) {
    const fr_drift_column *c = &d->cols[i];
    fr_snprintf_c(a, sizeof a, "%.4f", c->psi);
    fprintf(f, "%-24s %-12s %5zu %10s  %s\n", c->column,
            c->categorical ? "categorical" : "numeric", c->bins, a, c->level);
  }
  fr_snprintf_c(a, sizeof a, "%g", FR_PSI_MODERATE);
  fr_snprintf_c(b, sizeof b, "%g", FR_PSI_SIGNIFICANT);
  fprintf(f, "result: %s (psi < %s stable, %s..%s moderate, >= %s significant)\n",
          d->significant ? "SIGNIFICANT DRIFT" : "no significant drift", a, a, b, b);
  return ferror(f) ? FR_EIO : 0;
}

static json_t *num_or_null(double x) { return isnan(x) ? json_null() : json_real(x); }

int fr_drift_write_json(const fr_drift *d, FILE *f) {
  json_t *root = json_object(), *cols = json_array();
  if (!root || !cols) {
    json_decref(root);
    json_decref(cols);
    return FR_ENOMEM;
  }
  json_object_set_new(root, "ref_rows", json_integer((json_int_t)d->ref_rows));
  json_object_set_new(root, "cur_rows", json_integer((json_int_t)d->cur_rows));
  json_object_set_new(root, "ref_label_rate", num_or_null(d->ref_label_rate));
  json_object_set_new(root, "cur_label_rate", num_or_null(d->cur_label_rate));
  json_object_set_new(root, "label_rate_shift",
                      num_or_null(d->cur_label_rate - d->ref_label_rate));
  json_object_set_new(root, "significant", json_boolean(d->significant));
  for (size_t i = 0; i < d->ncols; i++) {
    const fr_drift_column *c = &d->cols[i];
    json_t *o = json_object();
    json_object_set_new(o, "column", json_string(c->column));
    json_object_set_new(o, "kind", json_string(c->categorical ? "categorical" : "numeric"));
    json_object_set_new(o, "bins", json_integer((json_int_t)c->bins));
    json_object_set_new(o, "psi", json_real(c->psi));
    json_object_set_new(o, "level", json_string(c->level));
    json_array_append_new(cols, o);
  }
  json_object_set_new(root, "columns", cols);
  int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
  fputc('\n', f);
  json_decref(root);
  return rc == 0 && !ferror(f) ? 0 : FR_EIO;
}
