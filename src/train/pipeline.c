/*
 * pipeline.c - the offline job behind `fraud train`: read, split by event
 * time, fit encoders on the training slice, featurize, train with early
 * stopping, choose thresholds on the validation slice, measure the test
 * slice, write the bundle.
 *
 * The split is decided on event times alone (before any feature exists), so
 * that categorical encoders see the training slice only and nothing from the
 * validation or test slices leaks into the features.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fraud/features.h"
#include "fraud/model.h"
#include "fraud/train.h"

void fr_train_job_default(fr_train_job *job) {
  memset(job, 0, sizeof *job);
  fr_train_params_default(&job->params);
  job->valid_fraction = 0.15;
  job->test_fraction = 0.15;
  job->read.on_bad_row = FR_BAD_ROW_FAIL;
}

/* Metrics of rows [from, to) of the table. */
static int slice_metrics(const fr_table *t, const float *p, size_t from,
                         size_t to, double threshold, fr_metrics *m,
                         fr_error *err) {
  return fr_metrics_compute(t->y + from, p + from, to - from, threshold, m, err);
}

static json_t *metrics_obj(const fr_metrics *m) {
  char *s = fr_metrics_json(m);
  json_t *o = s ? json_loads(s, 0, NULL) : NULL;
  free(s);
  return o ? o : json_object();
}

int fr_train_run(const fr_train_job *job, fr_train_report *rep, fr_error *err) {
  if (!job || !rep || !job->schema || !job->data || !job->out_dir)
    return fr_error_set(err, FR_EINVAL, "fr_train_run: schema, data and out_dir are required");
  memset(rep, 0, sizeof *rep);
  double t0 = fr_now();
  int rc = 0;
  fr_schema *schema = NULL;
  fr_featurizer *f = NULL;
  fr_dataset *d = NULL;
  fr_table *times = NULL, *t = NULL;
  size_t *train_rows = NULL;
  float *p = NULL;
  char *model = NULL, *params_json = NULL;
  fr_forest *forest = NULL;

  if (!(schema = fr_schema_load(job->schema, err)) ||
      !(f = fr_featurizer_load(schema, job->spec, err))) {
    rc = err ? err->code : FR_EINVAL;
    goto done;
  }
  if (fr_is_dir(job->out_dir) || fr_is_file(job->out_dir)) {
    rc = fr_error_set(err, FR_EEXIST,
                      "%s already exists: model versions are immutable", job->out_dir);
    goto done;
  }
  if (fr_schema_role_column(schema, FR_ROLE_LABEL) < 0) {
    rc = fr_error_set(err, FR_ESCHEMA, "schema '%s' has no label column: cannot train",
                      fr_schema_name(schema));
    goto done;
  }
  if (!(d = fr_dataset_read_csv(schema, job->data, &job->read, err))) {
    rc = err ? err->code : FR_EIO;
    goto done;
  }
  rep->rows = fr_dataset_rows(d);
  rep->skipped = fr_dataset_skipped(d);
  rep->read_seconds = fr_now() - t0;
  if (rep->rows == 0) {
    rc = fr_error_set(err, FR_EDATA, "%s: no data rows", job->data);
    goto done;
  }

  /* 1. Split on event times alone. */
  const size_t *order = fr_dataset_time_order(d);
  if (!(times = fr_table_new(rep->rows, 0))) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < rep->rows; i++) {
    int y = fr_dataset_label(d, order[i]);
    times->y[i] = y < 0 ? NAN : (float)y;
    times->event_time[i] = fr_dataset_event_time(d, order[i]);
    times->source_row[i] = order[i];
  }
  if ((rc = fr_split_by_time(times, job->valid_fraction, job->test_fraction,
                             &rep->split, err))) {
    fr_error_prefix(err, "%s", job->data);
    goto done;
  }
  rep->test_start_time = times->event_time[rep->split.valid_end];

  /* 2. Fit encoders on the training slice, then featurize everything. */
  double t1 = fr_now();
  train_rows = malloc((rep->split.train_end ? rep->split.train_end : 1) * sizeof *train_rows);
  if (!train_rows) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  memcpy(train_rows, order, rep->split.train_end * sizeof *train_rows);
  if ((rc = fr_featurizer_fit(f, d, train_rows, rep->split.train_end, err)))
    goto done;
  if (!(t = fr_featurize_dataset(f, d, err))) {
    rc = err ? err->code : FR_ENOMEM;
    goto done;
  }
  rep->features = t->cols;
  rep->featurize_seconds = fr_now() - t1;

  /* 3. Train. */
  double t2 = fr_now();
  size_t model_len = 0;
  if ((rc = fr_train_xgboost(t, &rep->split, &job->params, &model, &model_len,
                             &rep->train, err)))
    goto done;
  rep->train_seconds = fr_now() - t2;

  /* 4. Score every row with our own engine (what the server will do). */
  if (!(forest = fr_forest_load_buffer(model, model_len, FR_FOREST_XGBOOST_JSON,
                                       "trained model", err))) {
    rc = err ? err->code : FR_EFORMAT;
    goto done;
  }
  if (!(p = malloc(t->rows * sizeof *p))) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = fr_forest_predict(forest, t->x, t->rows, p))) {
    fr_error_set(err, rc, "prediction with the trained model failed");
    goto done;
  }

  /* 5. Thresholds on the validation slice. */
  const fr_split *sp = &rep->split;
  size_t nv = sp->valid_end - sp->train_end;
  double decline, review;
  if ((rc = fr_threshold_max_f1(t->y + sp->train_end, p + sp->train_end, nv,
                                &decline, err)) ||
      (rc = fr_threshold_at_fpr(t->y + sp->train_end, p + sp->train_end, nv, 0.01,
                                &review, err))) {
    fr_error_prefix(err, "choosing thresholds on the validation slice");
    goto done;
  }
  rep->thresholds.decline = decline;
  rep->thresholds.review = review < decline ? review : decline;
  if ((rc = slice_metrics(t, p, sp->train_end, sp->valid_end, decline, &rep->valid, err)) ||
      (rc = slice_metrics(t, p, sp->valid_end, sp->rows, decline, &rep->test, err)))
    goto done;

  /* 6. Bundle. */
  params_json = fr_train_params_json(&job->params);
  json_t *extra = json_object();
  json_t *params = params_json ? json_loads(params_json, 0, NULL) : json_object();
  if (!params)
    params = json_object();
  json_object_set_new(params, "scale_pos_weight_used", json_real(rep->train.scale_pos_weight));
  json_object_set_new(params, "best_iteration", json_integer(rep->train.best_iteration));
  json_object_set_new(params, "rounds_run", json_integer(rep->train.rounds_run));
  json_t *split = json_pack("{s:f, s:f, s:I, s:I, s:I, s:f}", "valid_fraction",
                            job->valid_fraction, "test_fraction", job->test_fraction,
                            "train_rows", (json_int_t)sp->train_end, "valid_rows",
                            (json_int_t)nv, "test_rows",
                            (json_int_t)(sp->rows - sp->valid_end), "test_start_time",
                            rep->test_start_time);
  json_object_set_new(extra, "split", split);
  const char *base = strrchr(job->data, '/');
  char data_sha[65] = "";
  fr_sha256_file(job->data, data_sha, NULL);
  json_object_set_new(extra, "training_data",
                      json_pack("{s:s, s:s, s:I, s:I}", "file", base ? base + 1 : job->data,
                                "sha256", data_sha, "rows", (json_int_t)rep->rows,
                                "skipped_rows", (json_int_t)rep->skipped));
  json_object_set_new(extra, "libraries",
                      json_pack("{s:s}", "xgboost", rep->train.xgboost_version));
  json_t *metrics = json_object();
  json_object_set_new(metrics, "test", metrics_obj(&rep->test));
  json_object_set_new(metrics, "valid", metrics_obj(&rep->valid));
  char *metrics_text = json_dumps(metrics, JSON_REAL_PRECISION(17));
  char *params_text = json_dumps(params, JSON_REAL_PRECISION(17));
  char *extra_text = json_dumps(extra, JSON_REAL_PRECISION(17));
  json_decref(metrics);
  json_decref(params);
  json_decref(extra);
  fr_bundle_spec bs = {
      .name = job->name ? job->name : fr_schema_name(schema),
      .version = job->version ? job->version : "1",
      .schema = schema,
      .featurizer = f,
      .model_json = model,
      .model_json_len = model_len,
      .thresholds = rep->thresholds,
      .params_json = params_text,
      .metrics_json = metrics_text,
      .extra_json = extra_text,
  };
  rc = fr_bundle_write(&bs, job->out_dir, err);
  free(metrics_text);
  free(params_text);
  free(extra_text);
done:
  rep->total_seconds = fr_now() - t0;
  fr_forest_free(forest);
  free(p);
  free(model);
  free(params_json);
  free(train_rows);
  fr_table_free(times);
  fr_table_free(t);
  fr_dataset_free(d);
  fr_featurizer_free(f);
  fr_schema_free(schema);
  return rc;
}

/* Reads the test-slice start time recorded in a bundle's manifest. */
static int manifest_test_start(const fr_bundle *b, double *out, fr_error *err) {
  json_t *m = json_loads(fr_bundle_manifest_json(b), 0, NULL);
  json_t *v = json_object_get(json_object_get(m, "split"), "test_start_time");
  int ok = json_is_number(v);
  if (ok)
    *out = json_number_value(v);
  json_decref(m);
  if (!ok)
    return fr_error_set(err, FR_EFORMAT,
                        "%s/manifest.json: no split.test_start_time (was the "
                        "bundle made by fraud train?)",
                        fr_bundle_dir(b));
  return 0;
}

typedef struct scored {
  fr_bundle *b;
  fr_dataset *d;
  fr_table *t;
  float *p;
} scored;

static void scored_free(scored *s) {
  free(s->p);
  fr_table_free(s->t);
  fr_dataset_free(s->d);
  fr_bundle_unref(s->b);
}

static int score_all(const fr_score_job *job, scored *s, fr_error *err) {
  memset(s, 0, sizeof *s);
  if (!job || !job->model_dir || !job->data)
    return fr_error_set(err, FR_EINVAL, "model directory and data file are required");
  if (!(s->b = fr_bundle_open(job->model_dir, err)))
    return err ? err->code : FR_EIO;
  if (!(s->d = fr_dataset_read_csv(fr_bundle_schema(s->b), job->data, &job->read, err)))
    return err ? err->code : FR_EIO;
  if (!(s->t = fr_bundle_score_dataset(s->b, s->d, &s->p, err)))
    return err ? err->code : FR_ENOMEM;
  return 0;
}

int fr_evaluate_run(const fr_score_job *job, fr_metrics *m, fr_error *err) {
  scored s;
  int rc = score_all(job, &s, err);
  float *y = NULL, *p = NULL;
  if (rc)
    goto done;
  double from = -INFINITY;
  if (job->test_slice && (rc = manifest_test_start(s.b, &from, err)))
    goto done;
  y = malloc((s.t->rows ? s.t->rows : 1) * sizeof *y);
  p = malloc((s.t->rows ? s.t->rows : 1) * sizeof *p);
  if (!y || !p) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  size_t n = 0;
  for (size_t i = 0; i < s.t->rows; i++) {
    if (s.t->event_time[i] < from || isnan(s.t->y[i]))
      continue;
    y[n] = s.t->y[i];
    p[n] = s.p[i];
    n++;
  }
  if (n == 0) {
    rc = fr_error_set(err, FR_EDATA, "%s: no labelled rows%s", job->data,
                      job->test_slice ? " in the test slice" : "");
    goto done;
  }
  fr_thresholds th = fr_bundle_thresholds(s.b);
  rc = fr_metrics_compute(y, p, n, th.decline, m, err);
done:
  free(y);
  free(p);
  scored_free(&s);
  return rc;
}

int fr_predict_run(const fr_score_job *job, const char *out_csv, size_t *rows,
                   fr_error *err) {
  scored s;
  int rc = score_all(job, &s, err);
  char *buf = NULL;
  float *by_row = NULL;
  if (rc)
    goto done;
  size_t n = s.t->rows;
  by_row = malloc((n ? n : 1) * sizeof *by_row);
  if (!by_row) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++)
    by_row[s.t->source_row[i]] = s.p[i];
  const fr_schema *schema = fr_bundle_schema(s.b);
  int idcol = fr_schema_role_column(schema, FR_ROLE_ID);
  fr_thresholds th = fr_bundle_thresholds(s.b);
  size_t cap = 64 + n * 64, len = 0;
  buf = malloc(cap);
  if (!buf) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  len = (size_t)snprintf(buf, cap, "transaction_id,probability,decision%s\n",
                         job->with_event_time ? ",event_time" : "");
  for (size_t r = 0; r < n; r++) {
    size_t idlen = 0;
    const char *id = idcol >= 0 ? fr_dataset_string(s.d, (size_t)idcol, r, &idlen) : NULL;
    char idbuf[32];
    if (idcol < 0) {
      idlen = (size_t)snprintf(idbuf, sizeof idbuf, "%zu", r + 1);
      id = idbuf;
    } else if (!id) {
      id = "";
      idlen = 0;
    }
    if (len + idlen * 2 + 96 > cap) {
      cap = (len + idlen * 2 + 96) * 2;
      char *nb = realloc(buf, cap);
      if (!nb) {
        rc = fr_error_set(err, FR_ENOMEM, "out of memory");
        goto done;
      }
      buf = nb;
    }
    /* Quote ids that need it (RFC 4180). */
    int quote = memchr(id, ',', idlen) || memchr(id, '"', idlen) ||
                memchr(id, '\n', idlen) || memchr(id, '\r', idlen);
    if (quote) {
      buf[len++] = '"';
      for (size_t k = 0; k < idlen; k++) {
        if (id[k] == '"')
          buf[len++] = '"';
        buf[len++] = id[k];
      }
      buf[len++] = '"';
    } else {
      memcpy(buf + len, id, idlen);
      len += idlen;
    }
    char num[40];
    fr_fmt_float(num, sizeof num, by_row[r]);
    len += (size_t)snprintf(buf + len, cap - len, ",%s,%s", num,
                            fr_decision_name(fr_thresholds_decide(&th, by_row[r])));
    if (job->with_event_time) {
      char et[40];
      fr_fmt_double(et, sizeof et, fr_dataset_event_time(s.d, r));
      len += (size_t)snprintf(buf + len, cap - len, ",%s", et);
    }
    buf[len++] = '\n';
  }
  rc = fr_file_write_atomic(out_csv, buf, len, err);
  if (!rc && rows)
    *rows = n;
done:
  free(buf);
  free(by_row);
  scored_free(&s);
  return rc;
}
