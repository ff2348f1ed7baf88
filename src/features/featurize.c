/*
 * featurize.c - the feature program, run once per transaction, identically
 * offline (fr_featurize_dataset replays a data set in event-time order with a
 * fresh state) and online (fr_featurize, one request at a time against the
 * live state).  There is no second implementation anywhere: that is what
 * makes training/serving skew impossible.
 *
 * Entity features read only events strictly before the transaction's event
 * time and windows are [t - w, t), so equal timestamps never see each other;
 * the transaction is inserted after its features are computed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "features/internal.h"

#define FR__PI 3.14159265358979323846
/* Mean Earth radius R1 = 6371.0088 km (IUGG; H. Moritz, "Geodetic Reference
 * System 1980", Bulletin Geodesique 54, 1980). */
#define FR__EARTH_RADIUS_KM 6371.0088

double fr__haversine_km(double lat1, double lon1, double lat2, double lon2) {
  /* Haversine formula (R. W. Sinnott, "Virtues of the Haversine", Sky and
   * Telescope 68(2), 1984), stable for small distances. */
  double r = FR__PI / 180.0;
  double dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r;
  double a = sin(dlat / 2) * sin(dlat / 2) +
             cos(lat1 * r) * cos(lat2 * r) * sin(dlon / 2) * sin(dlon / 2);
  if (a > 1)
    a = 1;
  return 2 * FR__EARTH_RADIUS_KM * asin(sqrt(a));
}

static double floor_mod(double a, double m) {
  double r = fmod(a, m);
  return r < 0 ? r + m : r;
}

/* Per-thread scratch for distinct counts; grows, never shrinks. */
static _Thread_local uint64_t *tl_hashes;
static _Thread_local size_t tl_hashes_cap;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double field_num(const fr_txn *txn, int col) {
  if (col < 0 || (size_t)col >= txn->nfields || !txn->fields[col].present)
    return NAN;
  return txn->fields[col].num;
}

/* Hash of a cell for distinct counts: text for strings, bits for numbers. */
static int field_hash(const fr_txn *txn, int col, uint64_t *out) {
  const fr_field *fl = &txn->fields[col];
  if (!fl->present)
    return 0;
  if (fl->str) {
    *out = fr_hash_fnv1a(fl->str, fl->len);
  } else {
    double v = fl->num == 0 ? 0.0 : fl->num; /* -0 == 0 */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    *out = fr_hash_fnv1a(&bits, sizeof bits);
  }
  return 1;
}

static void stateless(const fr_featurizer *f, const fr__op *op, const fr_txn *txn,
                      float *out) {
  double t = txn->event_time, v = NAN;
  switch (op->kind) {
  case FR__K_NUMERIC:
    v = field_num(txn, op->col);
    break;
  case FR__K_LOG1P: {
    double x = field_num(txn, op->col);
    v = x > -1 ? log1p(x) : NAN;
    break;
  }
  case FR__K_CLIP: {
    double x = field_num(txn, op->col);
    v = isnan(x) ? NAN : fmin(fmax(x, op->lo), op->hi);
    break;
  }
  case FR__K_RATIO: {
    double a = field_num(txn, op->col), b = field_num(txn, op->col2);
    v = (b == 0 || isnan(a) || isnan(b)) ? NAN : a / b;
    break;
  }
  case FR__K_HOUR:
  case FR__K_DOW:
  case FR__K_HOUR_SIN:
  case FR__K_HOUR_COS:
  case FR__K_DOW_SIN:
  case FR__K_DOW_COS: {
    if (isnan(t))
      break;
    double local = t + op->utc_offset;
    if (op->offset_col >= 0) {
      double m = field_num(txn, op->offset_col);
      if (isnan(m))
        break;
      local += m * 60.0;
    }
    double sod = floor_mod(local, 86400.0);
    double days = floor(local / 86400.0);
    /* 1970-01-01 was a Thursday: Monday = 0 makes it 3. */
    double dow = floor_mod(days + 3.0, 7.0);
    if (op->kind == FR__K_HOUR)
      v = floor(sod / 3600.0);
    else if (op->kind == FR__K_DOW)
      v = dow;
    else if (op->kind == FR__K_HOUR_SIN)
      v = sin(2 * FR__PI * sod / 86400.0);
    else if (op->kind == FR__K_HOUR_COS)
      v = cos(2 * FR__PI * sod / 86400.0);
    else if (op->kind == FR__K_DOW_SIN)
      v = sin(2 * FR__PI * (dow * 86400.0 + sod) / 604800.0);
    else
      v = cos(2 * FR__PI * (dow * 86400.0 + sod) / 604800.0);
    break;
  }
  case FR__K_HAVERSINE: {
    double a = field_num(txn, op->lat1), b = field_num(txn, op->lon1);
    double c = field_num(txn, op->lat2), d = field_num(txn, op->lon2);
    if (!isnan(a) && !isnan(b) && !isnan(c) && !isnan(d))
      v = fr__haversine_km(a, b, c, d);
    break;
  }
  case FR__K_CATEGORY_CODE:
  case FR__K_ONE_HOT:
  case FR__K_FREQUENCY:
  case FR__K_TARGET_ENCODING: {
    const fr__encoder *enc = &f->encs[op->enc];
    const fr_field *fl = &txn->fields[op->col];
    if (!fl->present) {
      for (size_t j = 0; j < op->nout; j++)
        out[op->out + j] = NAN;
      return;
    }
    long pos = fr__encoder_find(enc, fl->str, fl->len);
    if (pos >= 0 && ((op->max_categories > 0 && pos >= op->max_categories) ||
                     enc->count[pos] < op->min_count))
      pos = -1; /* rare or beyond the cap: treated as unseen */
    if (op->kind == FR__K_CATEGORY_CODE) {
      v = pos >= 0 ? (double)pos : NAN;
    } else if (op->kind == FR__K_ONE_HOT) {
      for (size_t j = 0; j < op->nout; j++)
        out[op->out + j] = pos == (long)j ? 1.0f : 0.0f;
      return;
    } else if (op->kind == FR__K_FREQUENCY) {
      v = pos >= 0 && enc->total > 0 ? enc->count[pos] / enc->total : 0.0;
    } else {
      double prior = enc->total > 0 ? enc->total_pos / enc->total : NAN;
      v = pos >= 0 ? (enc->pos[pos] + op->smoothing * prior) /
                         (enc->count[pos] + op->smoothing)
                   : prior;
    }
    break;
  }
  default:
    break;
  }
  out[op->out] = (float)v;
}

/* Window aggregates of every value of a slot over [t - w, t). */
typedef struct agg {
  double count;
  double n[64], sum[64], mean[64], m2[64], min[64], max[64];
} agg;

static void aggregate(const fr__slot *sl, const fr__entity *e, uint32_t end,
                      double t, double w, agg *a) {
  size_t nv = sl->nvals;
  a->count = 0;
  for (size_t k = 0; k < nv; k++) {
    a->n[k] = a->sum[k] = a->mean[k] = a->m2[k] = 0;
    a->min[k] = INFINITY;
    a->max[k] = -INFINITY;
  }
  if (!e)
    return;
  double from = t - w;
  uint32_t start = end;
  while (start > 0 && e->ev[(size_t)(start - 1) * sl->stride] >= from)
    start--;
  /* Oldest to newest, so the sums are those of a forward pass. */
  for (uint32_t i = start; i < end; i++) {
    const double *ev = e->ev + (size_t)i * sl->stride;
    a->count += 1;
    for (size_t k = 0; k < nv; k++) {
      double x = ev[1 + k];
      if (isnan(x))
        continue;
      /* Welford's online update (B. P. Welford, Technometrics 4(3), 1962). */
      a->n[k] += 1;
      a->sum[k] += x;
      double d = x - a->mean[k];
      a->mean[k] += d / a->n[k];
      a->m2[k] += d * (x - a->mean[k]);
      if (x < a->min[k])
        a->min[k] = x;
      if (x > a->max[k])
        a->max[k] = x;
    }
  }
}

static double distinct_count(const fr__slot *sl, const fr__entity *e,
                             uint32_t end, double t, double w, int hidx) {
  if (!e)
    return 0;
  double from = t - w;
  size_t m = 0;
  size_t h0 = 1 + sl->nvals + (size_t)hidx;
  for (uint32_t i = end; i > 0; i--) {
    const double *ev = e->ev + (size_t)(i - 1) * sl->stride;
    if (ev[0] < from)
      break;
    uint64_t h;
    memcpy(&h, &ev[h0], sizeof h);
    if (h == 0)
      continue; /* missing value */
    if (m == tl_hashes_cap) {
      size_t nc = tl_hashes_cap ? tl_hashes_cap * 2 : 256;
      uint64_t *nb = realloc(tl_hashes, nc * sizeof *nb);
      if (!nb)
        return NAN;
      tl_hashes = nb;
      tl_hashes_cap = nc;
    }
    tl_hashes[m++] = h;
  }
  if (m == 0)
    return 0;
  qsort(tl_hashes, m, sizeof *tl_hashes, cmp_u64);
  size_t d = 1;
  for (size_t i = 1; i < m; i++)
    d += tl_hashes[i] != tl_hashes[i - 1];
  return (double)d;
}

/* Builds "entity\0key1\x1fkey2..." for the keyed hash. Returns length or -1
 * when a key column is missing, -2 when too long. */
static long entity_key(const fr__slot *sl, const fr_txn *txn, char *buf,
                       size_t cap) {
  size_t o = strlen(sl->name) + 1;
  if (o >= cap)
    return -2;
  memcpy(buf, sl->name, o);
  for (size_t i = 0; i < sl->ncols; i++) {
    const fr_field *fl = &txn->fields[sl->cols[i]];
    if (!fl->present)
      return -1;
    if (i > 0) {
      if (o + 1 >= cap)
        return -2;
      buf[o++] = '\x1f';
    }
    if (fl->str) {
      if (o + fl->len >= cap)
        return -2;
      memcpy(buf + o, fl->str, fl->len);
      o += fl->len;
    } else {
      char num[40];
      int n = fr_fmt_double(num, sizeof num, fl->num);
      if (o + (size_t)n >= cap)
        return -2;
      memcpy(buf + o, num, (size_t)n);
      o += (size_t)n;
    }
  }
  return (long)o;
}

static void slot_features(const fr_featurizer *f, const fr__slot *sl,
                          const fr__entity *e, const fr_txn *txn, float *out) {
  double t = txn->event_time;
  uint32_t end = e ? fr__entity_before(e, sl->stride, t) : 0;
  agg a;
  for (size_t wi = 0; wi < sl->nwindows; wi++) {
    double w = sl->windows[wi];
    int have = 0;
    for (size_t k = 0; k < sl->nop_idx; k++) {
      const fr__op *op = &f->ops[sl->op_idx[k]];
      if (op->window != w)
        continue;
      if (op->kind == FR__K_DISTINCT) {
        out[op->out] = (float)distinct_count(sl, e, end, t, w, op->hidx);
        continue;
      }
      if (!have) {
        aggregate(sl, e, end, t, w, &a);
        have = 1;
      }
      int vi = op->vidx;
      double v = NAN;
      switch (op->kind) {
      case FR__K_COUNT:
        v = a.count;
        break;
      case FR__K_SUM:
        v = a.sum[vi];
        break;
      case FR__K_MEAN:
        v = a.n[vi] > 0 ? a.mean[vi] : NAN;
        break;
      case FR__K_MIN:
        v = a.n[vi] > 0 ? a.min[vi] : NAN;
        break;
      case FR__K_MAX:
        v = a.n[vi] > 0 ? a.max[vi] : NAN;
        break;
      case FR__K_STD:
        v = a.n[vi] > 1 ? sqrt(a.m2[vi] / (a.n[vi] - 1)) : NAN;
        break;
      case FR__K_RATIO_TO_MEAN: {
        double x = field_num(txn, op->col);
        v = a.n[vi] > 0 && a.mean[vi] != 0 && !isnan(x) ? x / a.mean[vi] : NAN;
        break;
      }
      case FR__K_ZSCORE: {
        double x = field_num(txn, op->col);
        double sd = a.n[vi] > 1 ? sqrt(a.m2[vi] / (a.n[vi] - 1)) : NAN;
        v = sd > 0 && !isnan(x) ? (x - a.mean[vi]) / sd : NAN;
        break;
      }
      default:
        break;
      }
      out[op->out] = (float)v;
    }
  }
  /* Features without a window. */
  for (size_t k = 0; k < sl->nop_idx; k++) {
    const fr__op *op = &f->ops[sl->op_idx[k]];
    if (op->window > 0)
      continue;
    double v = NAN;
    switch (op->kind) {
    case FR__K_TIME_SINCE_PREV:
      if (e && end > 0)
        v = t - e->ev[(size_t)(end - 1) * sl->stride];
      else if (e && e->pruned_ts < t)
        v = t - e->pruned_ts;
      break;
    case FR__K_FIRST_SEEN:
      v = (!e || isnan(e->first_ts) || e->first_ts >= t) ? 1.0 : 0.0;
      break;
    case FR__K_GEO_VELOCITY: {
      double lat = field_num(txn, op->lat1), lon = field_num(txn, op->lon1);
      if (isnan(lat) || isnan(lon) || !e)
        break;
      size_t g0 = 1 + sl->nvals + sl->nhash + 2 * (size_t)op->gidx;
      double pt = NAN, plat = NAN, plon = NAN;
      for (uint32_t i = end; i > 0; i--) {
        const double *ev = e->ev + (size_t)(i - 1) * sl->stride;
        if (!isnan(ev[g0]) && !isnan(ev[g0 + 1])) {
          pt = ev[0];
          plat = ev[g0];
          plon = ev[g0 + 1];
          break;
        }
      }
      const double *an = &e->anchor[3 * op->gidx];
      if (isnan(pt) && an[0] < t) {
        pt = an[0];
        plat = an[1];
        plon = an[2];
      }
      if (!isnan(pt) && t > pt)
        v = fr__haversine_km(plat, plon, lat, lon) / ((t - pt) / 3600.0);
      break;
    }
    default:
      break;
    }
    out[op->out] = (float)v;
  }
}

/* The event tuple this transaction adds to slot sl. */
static void make_tuple(const fr__slot *sl, const fr_txn *txn, double *tuple) {
  tuple[0] = txn->event_time;
  size_t o = 1;
  for (size_t k = 0; k < sl->nvals; k++)
    tuple[o++] = field_num(txn, sl->val_cols[k]);
  for (size_t k = 0; k < sl->nhash; k++) {
    uint64_t h = 0;
    if (!field_hash(txn, sl->hash_cols[k], &h))
      h = 0;
    else if (h == 0)
      h = 1; /* 0 marks "missing" */
    memcpy(&tuple[o++], &h, sizeof h);
  }
  for (size_t k = 0; k < sl->ngeo; k++) {
    tuple[o++] = field_num(txn, sl->geo_lat[k]);
    tuple[o++] = field_num(txn, sl->geo_lon[k]);
  }
}

int fr__featurize_one(const fr_featurizer *f, const fr_txn *txn, fr_state *st,
                      float *out, int update, fr_error *err) {
  if (!f->fitted)
    return fr_error_set(err, FR_ESTATE,
                        "feature spec has categorical encoders that are not "
                        "fitted (train a model, or load a bundle's spec)");
  if (txn->nfields != fr_schema_ncols(f->schema))
    return fr_error_set(err, FR_EINVAL,
                        "transaction has %zu fields, schema '%s' has %zu",
                        txn->nfields, fr_schema_name(f->schema),
                        fr_schema_ncols(f->schema));
  if (f->needs_time && isnan(txn->event_time))
    return fr_error_set(err, FR_EINVAL, "transaction has no event time");
  for (size_t i = 0; i < f->nops; i++)
    if (f->ops[i].slot < 0)
      stateless(f, &f->ops[i], txn, out);
  for (size_t s = 0; s < f->nslots; s++) {
    const fr__slot *sl = &f->slots[s];
    char key[4096];
    long klen = entity_key(sl, txn, key, sizeof key);
    if (klen == -2)
      return fr_error_set(err, FR_EINVAL, "entity '%s': key longer than %zu bytes",
                          sl->name, sizeof key);
    if (klen < 0 || !st) {
      /* No key (a key column is missing) or no state: no history. */
      slot_features(f, sl, NULL, txn, out);
      continue;
    }
    uint64_t h = fr_hash_keyed(st->opt.hash_key, key, (size_t)klen);
    fr__entity_ref ref = {0};
    int rc = st->vt->begin(st, (int)s, h, update, &ref, err);
    if (rc)
      return rc;
    slot_features(f, sl, ref.ent, txn, out);
    int modified = 0;
    if (update && ref.ent) {
      double tuple[1 + 64 + 64 + 2 * FR__MAX_GEO];
      make_tuple(sl, txn, tuple);
      double late = st->opt.allowed_lateness;
      if (!isnan(ref.ent->latest_ts) && txn->event_time < ref.ent->latest_ts - late) {
        /* Older than the allowed lateness: scored, not inserted. */
        atomic_fetch_add(&st->late_dropped, 1);
        rc = 0;
      } else {
        if (!isnan(ref.ent->latest_ts) && txn->event_time < ref.ent->latest_ts)
          atomic_fetch_add(&st->late_inserted, 1);
        rc = fr__entity_insert(ref.ent, sl, tuple, late);
        modified = rc == 0;
      }
      if (rc) {
        st->vt->commit(st, &ref, 0, NULL);
        return fr_error_set(err, rc, "out of memory updating entity state");
      }
    }
    rc = st->vt->commit(st, &ref, modified, err);
    if (rc)
      return rc;
  }
  return 0;
}

int fr_featurize(const fr_featurizer *f, const fr_txn *txn, fr_state *st,
                 float *out_row, int update, fr_error *err) {
  if (!f || !txn || !out_row)
    return fr_error_set(err, FR_EINVAL, "fr_featurize: NULL argument");
  return fr__featurize_one(f, txn, st, out_row, update, err);
}

int fr_featurizer_fit(fr_featurizer *f, const fr_dataset *d, const size_t *rows,
                      size_t n, fr_error *err) {
  if (!f || !d || (!rows && n))
    return fr_error_set(err, FR_EINVAL, "fr_featurizer_fit: NULL argument");
  if (fr_dataset_schema(d) != f->schema &&
      fr_schema_ncols(fr_dataset_schema(d)) != fr_schema_ncols(f->schema))
    return fr_error_set(err, FR_EINVAL, "data set and featurizer use different schemas");
  for (size_t i = 0; i < f->nencs; i++) {
    int rc = fr__encoder_fit(&f->encs[i], d, rows, n, 1, 0, err);
    if (rc)
      return rc;
  }
  f->fitted = 1;
  fr__featurizer_name_one_hot(f);
  return 0;
}

fr_table *fr_featurize_dataset(const fr_featurizer *f, const fr_dataset *d,
                               fr_error *err) {
  if (!f || !d) {
    fr_error_set(err, FR_EINVAL, "fr_featurize_dataset: NULL argument");
    return NULL;
  }
  size_t rows = fr_dataset_rows(d), cols = f->nfeatures;
  size_t ncols = fr_schema_ncols(f->schema);
  fr_table *t = fr_table_new(rows, cols);
  fr_field *fields = calloc(ncols ? ncols : 1, sizeof *fields);
  /* An offline replay's state lives only for this call: any fixed key will
   * do, and no production secret is needed. */
  fr_state_options o;
  memset(&o, 0, sizeof o);
  fr_hash_key_from_secret("offline-replay", o.hash_key);
  fr_state *st = f->nslots ? fr_state_new_memory(f, &o, err) : NULL;
  if (!t || !fields || (f->nslots && !st)) {
    fr_table_free(t);
    free(fields);
    fr_state_free(st);
    fr_error_set(err, FR_ENOMEM, "out of memory for a %zu x %zu feature table",
                 rows, cols);
    return NULL;
  }
  for (size_t j = 0; j < cols; j++)
    fr_table_set_name(t, j, f->names[j]);
  const size_t *order = fr_dataset_time_order(d);
  for (size_t i = 0; i < rows; i++) {
    size_t r = order[i];
    fr_txn txn;
    fr_dataset_txn(d, r, fields, &txn);
    int rc = fr__featurize_one(f, &txn, st, t->x + i * cols, 1, err);
    if (rc) {
      fr_error_prefix(err, "%s:%zu", fr_dataset_path(d), fr_dataset_line(d, r));
      fr_table_free(t);
      t = NULL;
      break;
    }
    int y = fr_dataset_label(d, r);
    t->y[i] = y < 0 ? NAN : (float)y;
    t->event_time[i] = txn.event_time;
    t->source_row[i] = r;
  }
  free(fields);
  fr_state_free(st);
  return t;
}

int fr_state_warm(fr_state *st, const fr_featurizer *f, const fr_dataset *d,
                  double until, size_t *replayed, fr_error *err) {
  if (!st || !f || !d)
    return fr_error_set(err, FR_EINVAL, "fr_state_warm: NULL argument");
  size_t rows = fr_dataset_rows(d), ncols = fr_schema_ncols(f->schema), n = 0;
  fr_field *fields = calloc(ncols ? ncols : 1, sizeof *fields);
  float *row = calloc(f->nfeatures ? f->nfeatures : 1, sizeof *row);
  int rc = 0;
  if (!fields || !row) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  const size_t *order = fr_dataset_time_order(d);
  for (size_t i = 0; i < rows; i++) {
    size_t r = order[i];
    if (!isnan(until) && !(fr_dataset_event_time(d, r) < until))
      break; /* time order: everything after is later */
    fr_txn txn;
    fr_dataset_txn(d, r, fields, &txn);
    if ((rc = fr__featurize_one(f, &txn, st, row, 1, err))) {
      fr_error_prefix(err, "%s:%zu", fr_dataset_path(d), fr_dataset_line(d, r));
      goto done;
    }
    n++;
  }
done:
  if (replayed)
    *replayed = n;
  free(fields);
  free(row);
  return rc;
}
