/*
 * pipeline.c - the offline jobs behind `fraud train`, `fraud tune`,
 * `fraud evaluate` and `fraud predict`: read, split by event time, fit
 * encoders on the training slice, featurize, train with early stopping (or
 * search the parameters), choose thresholds on the validation slice,
 * measure the test slice, write the bundle; and scoring a file with a
 * bundle.
 *
 * The split is decided on event times alone (before any feature exists), so
 * that categorical encoders see the training slice only and nothing from the
 * validation or test slices leaks into the features.  Reading and
 * featurizing are shared by train and tune (prepare()), and so is the last
 * step (finish(): train, thresholds, metrics, bundle), so a tuned bundle is
 * made exactly like a trained one.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml.h>
#include <zlib.h>

#include "fraud/features.h"
#include "fraud/model.h"
#include "fraud/serve.h"
#include "fraud/train.h"

void fr_train_job_default(fr_train_job *job) {
  memset(job, 0, sizeof *job);
  fr_train_params_default(&job->params);
  job->valid_fraction = 0.15;
  job->test_fraction = 0.15;
  job->read.on_bad_row = FR_BAD_ROW_FAIL;
}

void fr_tune_job_default(fr_tune_job *job) {
  memset(job, 0, sizeof *job);
  fr_train_job_default(&job->train);
  job->tune.seed = 42;
}

static void stage(const fr_train_job *job, const char *what) {
  if (job->on_stage)
    job->on_stage(what, job->stage_ctx);
}

static json_t *metrics_obj(const fr_metrics *m) {
  char *s = fr_metrics_json(m);
  json_t *o = s ? json_loads(s, 0, NULL) : NULL;
  free(s);
  return o ? o : json_object();
}

static json_t *time_value(double epoch) {
  char b[40];
  fr_fmt_iso8601(b, sizeof b, epoch);
  return json_string(b);
}

/* ---- reading, splitting, featurizing ------------------------------------ */

/* What train and tune share after reading: the featurized table in
 * event-time order, with its schema and fitted featurizer. */
typedef struct prepared {
  fr_schema *schema;
  fr_featurizer *f;
  fr_dataset *d;
  fr_table *t;
} prepared;

static void prepared_free(prepared *pp) {
  fr_table_free(pp->t);
  fr_dataset_free(pp->d);
  fr_featurizer_free(pp->f);
  fr_schema_free(pp->schema);
  memset(pp, 0, sizeof *pp);
}

/* The path component that ends at `end` (exclusive), after trailing
 * slashes were skipped: [*b, end). */
static size_t component_start(const char *s, size_t end) {
  size_t b = end;
  while (b > 0 && s[b - 1] != '/')
    b--;
  return b;
}

static int all_digits(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

int fr_train_bundle_identity(const char *out_dir, const char *name, const char *version,
                             char *name_out, size_t name_cap, char *version_out,
                             size_t version_cap, fr_error *err) {
  if (!out_dir || !name_out || !version_out)
    return fr_error_set(err, FR_EINVAL, "bundle identity: NULL argument");
  /* The last two components, trailing slashes ignored: "models/sparkov/2/"
   * gives "sparkov" and "2". */
  char last[128] = "", parent[128] = "";
  size_t n = strlen(out_dir);
  while (n > 1 && out_dir[n - 1] == '/')
    n--;
  size_t b = component_start(out_dir, n);
  if (n - b < sizeof last)
    snprintf(last, sizeof last, "%.*s", (int)(n - b), out_dir + b);
  if (b > 0) {
    size_t pn = b;
    while (pn > 1 && out_dir[pn - 1] == '/')
      pn--;
    size_t pb = component_start(out_dir, pn);
    if (pn - pb < sizeof parent && pn > pb && out_dir[pb] != '/')
      snprintf(parent, sizeof parent, "%.*s", (int)(pn - pb), out_dir + pb);
  }
  /* The repository lists only all-digit version directories of valid names
   * (src/serve/repository.c), so only those make a repository layout. */
  int layout = fr_repository_name_ok(last) && all_digits(last);
  const char *path_name = layout && fr_repository_name_ok(parent) ? parent : NULL;
  if (layout && version && strcmp(version, last) != 0)
    return fr_error_set(err, FR_EINVAL,
                        "version '%s' disagrees with %s, which a model repository serves "
                        "as version '%s'",
                        version, out_dir, last);
  if (path_name && name && strcmp(name, path_name) != 0)
    return fr_error_set(err, FR_EINVAL,
                        "name '%s' disagrees with %s, which a model repository serves "
                        "as model '%s'",
                        name, out_dir, path_name);
  const char *v = version ? version : layout ? last : "1";
  const char *nm = name ? name : path_name ? path_name : "";
  if (strlen(v) >= version_cap || strlen(nm) >= name_cap)
    return fr_error_set(err, FR_EINVAL, "bundle identity: name or version too long");
  snprintf(version_out, version_cap, "%s", v);
  snprintf(name_out, name_cap, "%s", nm);
  return 0;
}

static int prepare(const fr_train_job *job, prepared *pp, fr_train_report *rep,
                   fr_error *err) {
  memset(pp, 0, sizeof *pp);
  memset(rep, 0, sizeof *rep);
  if (!job || !job->schema || !job->data || !job->out_dir)
    return fr_error_set(err, FR_EINVAL, "train: schema, data and out_dir are required");
  double t0 = fr_now();
  int rc = 0;
  fr_table *times = NULL;
  size_t *train_rows = NULL;
  /* Refuse what would fail at the end before spending the time. */
  if (fr_is_dir(job->out_dir) || fr_is_file(job->out_dir))
    return fr_error_set(err, FR_EEXIST,
                        "%s already exists: model versions are immutable", job->out_dir);
  if ((rc = fr_train_params_check(&job->params, err)))
    return rc;
  if (!(job->valid_fraction > 0 && job->valid_fraction < 1) ||
      !(job->test_fraction > 0 && job->test_fraction < 1) ||
      !(job->valid_fraction + job->test_fraction < 1))
    return fr_error_set(err, FR_EINVAL,
                        "train: validation fraction %g and test fraction %g must each be in "
                        "(0, 1) and sum to less than 1",
                        job->valid_fraction, job->test_fraction);
  char idn[128], idv[128];
  if ((rc = fr_train_bundle_identity(job->out_dir, job->name, job->version, idn, sizeof idn,
                                     idv, sizeof idv, err)))
    return rc;
  if (!(pp->schema = fr_schema_load(job->schema, err)) ||
      !(pp->f = fr_featurizer_load(pp->schema, job->spec, err))) {
    rc = err ? err->code : FR_EINVAL;
    goto done;
  }
  if (fr_schema_role_column(pp->schema, FR_ROLE_LABEL) < 0) {
    rc = fr_error_set(err, FR_ESCHEMA, "schema '%s' has no label column: cannot train",
                      fr_schema_name(pp->schema));
    goto done;
  }
  stage(job, "read");
  if (!(pp->d = fr_dataset_read_csv(pp->schema, job->data, &job->read, err))) {
    rc = err ? err->code : FR_EIO;
    goto done;
  }
  fr_dataset *d = pp->d;
  rep->rows = fr_dataset_rows(d);
  rep->skipped = fr_dataset_skipped(d);
  rep->read_seconds = fr_now() - t0;
  if (rep->rows == 0) {
    rc = fr_error_set(err, FR_EDATA, "%s: no data rows (a header only%s)", job->data,
                      rep->skipped ? ", or every row skipped as bad" : "");
    goto done;
  }

  /* 1. Split on event times alone. */
  const size_t *order = fr_dataset_time_order(d);
  if (!(times = fr_table_new(rep->rows, 0))) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  size_t unlabelled = 0;
  for (size_t i = 0; i < rep->rows; i++) {
    int y = fr_dataset_label(d, order[i]);
    times->y[i] = y < 0 ? NAN : (float)y;
    times->event_time[i] = fr_dataset_event_time(d, order[i]);
    times->source_row[i] = order[i];
    rep->positives += y == 1;
    unlabelled += y < 0;
  }
  if (unlabelled) {
    for (size_t i = 0; i < rep->rows; i++)
      if (isnan(times->y[i])) {
        rc = fr_error_set(err, FR_EDATA,
                          "%s: %zu of %zu rows have no label (the first on line %zu); "
                          "training needs every label",
                          job->data, unlabelled, rep->rows,
                          fr_dataset_line(d, times->source_row[i]));
        break;
      }
    goto done;
  }
  if (rep->positives == 0 || rep->positives == rep->rows) {
    rc = fr_error_set(err, FR_EDATA,
                      "%s: every label is %d (%zu rows): %s", job->data,
                      rep->positives ? 1 : 0, rep->rows,
                      rep->positives ? "a classifier needs legitimate transactions too"
                                     : "there is no fraud to learn from and PR-AUC is "
                                       "undefined");
    goto done;
  }
  rep->first_time = times->event_time[0];
  rep->last_time = times->event_time[rep->rows - 1];
  if ((rc = fr_split_by_time(times, job->valid_fraction, job->test_fraction,
                             &rep->split, err))) {
    fr_error_prefix(err, "%s", job->data);
    goto done;
  }
  const fr_split *sp = &rep->split;
  rep->valid_start_time = times->event_time[sp->train_end];
  rep->test_start_time = times->event_time[sp->valid_end];
  for (size_t i = 0; i < rep->rows; i++)
    rep->slice_positives[i < sp->train_end ? 0 : i < sp->valid_end ? 1 : 2] +=
        times->y[i] == 1.0f;

  /* 2. Fit encoders on the training slice, then featurize everything. */
  stage(job, "features");
  double t1 = fr_now();
  train_rows = malloc((sp->train_end ? sp->train_end : 1) * sizeof *train_rows);
  if (!train_rows) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  memcpy(train_rows, order, sp->train_end * sizeof *train_rows);
  if ((rc = fr_featurizer_fit(pp->f, d, train_rows, sp->train_end, err)))
    goto done;
  if (!(pp->t = fr_featurize_dataset(pp->f, d, err))) {
    rc = err ? err->code : FR_ENOMEM;
    goto done;
  }
  rep->features = pp->t->cols;
  rep->featurize_seconds = fr_now() - t1;
done:
  free(train_rows);
  fr_table_free(times);
  if (rc)
    prepared_free(pp);
  return rc;
}

/* ---- training, thresholds, bundle ---------------------------------------- */

static json_t *libraries_obj(const char *xgboost_version) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "fraud", fr_version(), "xgboost",
                   xgboost_version, "jansson", jansson_version_str(), "libsodium",
                   sodium_version_string(), "zlib", zlibVersion(), "libyaml",
                   yaml_get_version_string());
}

/* Trains `params` on the prepared table, chooses thresholds on the
 * validation slice, measures both held-out slices and writes the bundle
 * with `extra` (a JSON object merged into the manifest, consumed) and the
 * extra files. */
static int finish(const fr_train_job *job, prepared *pp, const fr_train_params *params,
                  json_t *extra, const fr_bundle_file *files, size_t nfiles,
                  fr_train_report *rep, fr_error *err) {
  int rc = 0;
  char *model = NULL, *params_json = NULL;
  char *metrics_text = NULL, *params_text = NULL, *extra_text = NULL;
  fr_forest *forest = NULL;
  float *p = NULL;
  fr_table *t = pp->t;
  const fr_split *sp = &rep->split;
  if (!extra)
    extra = json_object();

  stage(job, "train");
  double t2 = fr_now();
  size_t model_len = 0;
  if ((rc = fr_train_xgboost(t, sp, params, &model, &model_len, &rep->train, err)))
    goto done;
  rep->train_seconds = fr_now() - t2;

  /* Score the held-out rows with our own engine (what the server will do);
   * the training slice's scores are never used. */
  stage(job, "evaluate");
  if (!(forest = fr_forest_load_buffer(model, model_len, FR_FOREST_XGBOOST_JSON,
                                       "trained model", err))) {
    rc = err ? err->code : FR_EFORMAT;
    goto done;
  }
  size_t held = t->rows - sp->train_end;
  if (!(p = malloc((held ? held : 1) * sizeof *p))) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = fr_forest_predict(forest, t->x + sp->train_end * t->cols, held, p))) {
    fr_error_set(err, rc, "prediction with the trained model failed");
    goto done;
  }

  /* Thresholds on the validation slice: p[0, nv) is the validation slice,
   * p[nv, held) the test slice. */
  size_t nv = sp->valid_end - sp->train_end;
  double decline, review;
  if ((rc = fr_threshold_max_f1(t->y + sp->train_end, p, nv, &decline, err)) ||
      (rc = fr_threshold_at_fpr(t->y + sp->train_end, p, nv, 0.01, &review, err))) {
    fr_error_prefix(err, "choosing thresholds on the validation slice");
    goto done;
  }
  /* A threshold above every score ("never") can exceed 1; a bundle's
   * thresholds are probabilities. */
  rep->thresholds.decline = decline > 1 ? 1 : decline;
  rep->thresholds.review = review < rep->thresholds.decline ? review : rep->thresholds.decline;
  if ((rc = fr_metrics_compute(t->y + sp->train_end, p, nv, rep->thresholds.decline,
                               &rep->valid, err)) ||
      (rc = fr_metrics_compute(t->y + sp->valid_end, p + nv, sp->rows - sp->valid_end,
                               rep->thresholds.decline, &rep->test, err)))
    goto done;

  /* The drift reference the server's PSI gauges compare live traffic with:
   * the validation slice, as scored above (the test slice stays a pure
   * measurement; the training slice's scores are optimistic). */
  {
    size_t nf = fr_featurizer_nfeatures(pp->f);
    if (nf != t->cols) {
      rc = fr_error_set(err, FR_EINVAL,
                        "drift reference: the featurizer names %zu features, the table "
                        "has %zu",
                        nf, t->cols);
      goto done;
    }
    const char **names = calloc(nf ? nf : 1, sizeof *names);
    if (!names) {
      rc = fr_error_set(err, FR_ENOMEM, "out of memory");
      goto done;
    }
    for (size_t j = 0; j < nf; j++)
      names[j] = fr_featurizer_name(pp->f, j);
    char *ref = fr_drift_reference_json(t->x + sp->train_end * t->cols, p, nv, t->cols,
                                        names, err);
    free(names);
    if (!ref) {
      rc = err ? err->code : FR_ENOMEM;
      fr_error_prefix(err, "the validation slice");
      goto done;
    }
    json_t *rj = json_loads(ref, 0, NULL);
    free(ref);
    if (!rj) {
      rc = fr_error_set(err, FR_ENOMEM, "out of memory");
      goto done;
    }
    json_object_set_new(rj, "slice", json_string("validation"));
    json_object_set_new(extra, "reference", rj);
  }

  /* The manifest. */
  stage(job, "write");
  params_json = fr_train_params_json(params);
  json_t *pj = params_json ? json_loads(params_json, 0, NULL) : NULL;
  if (!pj)
    pj = json_object();
  json_object_set_new(pj, "scale_pos_weight_used", json_real(rep->train.scale_pos_weight));
  json_object_set_new(pj, "best_iteration", json_integer(rep->train.best_iteration));
  json_object_set_new(pj, "rounds_run", json_integer(rep->train.rounds_run));
  json_object_set_new(pj, "trees", json_integer(rep->train.trees));
  json_t *split = json_pack(
      "{s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}", "valid_fraction",
      job->valid_fraction, "test_fraction", job->test_fraction, "train_rows",
      (json_int_t)sp->train_end, "valid_rows", (json_int_t)nv, "test_rows",
      (json_int_t)(sp->rows - sp->valid_end), "train_frauds",
      (json_int_t)rep->slice_positives[0], "valid_frauds",
      (json_int_t)rep->slice_positives[1], "test_frauds",
      (json_int_t)rep->slice_positives[2], "valid_start_time", rep->valid_start_time,
      "test_start_time", rep->test_start_time);
  json_object_set_new(split, "valid_start", time_value(rep->valid_start_time));
  json_object_set_new(split, "test_start", time_value(rep->test_start_time));
  json_object_set_new(extra, "split", split);
  const char *base = strrchr(job->data, '/');
  char data_sha[65] = "";
  if ((rc = fr_sha256_file(job->data, data_sha, err)))
    goto done;
  json_t *td = json_pack("{s:s, s:s, s:I, s:I, s:I}", "file", base ? base + 1 : job->data,
                         "sha256", data_sha, "rows", (json_int_t)rep->rows,
                         "skipped_rows", (json_int_t)rep->skipped, "frauds",
                         (json_int_t)rep->positives);
  json_object_set_new(td, "first_event_time", time_value(rep->first_time));
  json_object_set_new(td, "last_event_time", time_value(rep->last_time));
  json_object_set_new(extra, "training_data", td);
  json_object_set_new(extra, "libraries", libraries_obj(rep->train.xgboost_version));
  json_t *metrics = json_object();
  json_object_set_new(metrics, "test", metrics_obj(&rep->test));
  json_object_set_new(metrics, "valid", metrics_obj(&rep->valid));
  metrics_text = json_dumps(metrics, JSON_REAL_PRECISION(17));
  params_text = json_dumps(pj, JSON_REAL_PRECISION(17));
  extra_text = json_dumps(extra, JSON_REAL_PRECISION(17));
  json_decref(metrics);
  json_decref(pj);
  if (!metrics_text || !params_text || !extra_text) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory writing the manifest");
    goto done;
  }
  char idn[128], idv[128];
  if ((rc = fr_train_bundle_identity(job->out_dir, job->name, job->version, idn, sizeof idn,
                                     idv, sizeof idv, err)))
    goto done;
  fr_bundle_spec bs = {
      .name = idn[0] ? idn : fr_schema_name(pp->schema),
      .version = idv,
      .schema = pp->schema,
      .featurizer = pp->f,
      .model_json = model,
      .model_json_len = model_len,
      .thresholds = rep->thresholds,
      .params_json = params_text,
      .metrics_json = metrics_text,
      .extra_json = extra_text,
      .extra_files = files,
      .n_extra_files = nfiles,
  };
  rc = fr_bundle_write(&bs, job->out_dir, err);
done:
  json_decref(extra);
  free(metrics_text);
  free(params_text);
  free(extra_text);
  fr_forest_free(forest);
  free(p);
  free(model);
  free(params_json);
  return rc;
}

int fr_train_run(const fr_train_job *job, fr_train_report *rep, fr_error *err) {
  fr_train_report scratch;
  if (!rep)
    rep = &scratch;
  double t0 = fr_now();
  prepared pp;
  int rc = prepare(job, &pp, rep, err);
  if (!rc)
    rc = finish(job, &pp, &job->params, NULL, NULL, 0, rep, err);
  prepared_free(&pp);
  rep->total_seconds = fr_now() - t0;
  return rc;
}

/* ---- hyper-parameter search ---------------------------------------------- */

/* What the final training sends back to the searching process. */
typedef struct finish_wire {
  int rc;
  fr_train_report rep;
  fr_error err;
} finish_wire;

/* finish() in a forked child, so that the calling process never starts
 * OpenMP (GNU OpenMP is not fork-safe: a process that has trained cannot
 * fork workers again, so a second search in the same process, a test suite
 * for one, would hang).  The child gets the default action for SIGINT and
 * SIGTERM: an interruption ends it, and a bundle being written is never
 * half there because fr_bundle_write renames a complete directory. */
static int finish_in_child(const fr_train_job *job, prepared *pp,
                           const fr_train_params *params, json_t *extra,
                           const fr_bundle_file *file, fr_train_report *rep,
                           fr_error *err) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    json_decref(extra);
    return fr_error_set(err, FR_EIO, "tune: pipe: %s", strerror(errno));
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    json_decref(extra);
    return fr_error_set(err, FR_EIO, "tune: fork: %s", strerror(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    finish_wire *w = calloc(1, sizeof *w);
    if (!w)
      _exit(3);
    w->rep = *rep;
    w->rc = finish(job, pp, params, extra, file, 1, &w->rep, &w->err);
    const char *b = (const char *)w;
    size_t off = 0;
    while (off < sizeof *w) {
      ssize_t n = write(fds[1], b + off, sizeof *w - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        _exit(2);
      off += (size_t)n;
    }
    fflush(NULL);
    _exit(0);
  }
  close(fds[1]);
  json_decref(extra); /* the child's copy was consumed there */
  finish_wire *w = calloc(1, sizeof *w);
  size_t off = 0;
  while (w && off < sizeof *w) {
    ssize_t n = read(fds[0], (char *)w + off, sizeof *w - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  close(fds[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  int rc;
  if (!w) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
  } else if (off == sizeof *w) {
    *rep = w->rep;
    rc = w->rc;
    if (rc && err)
      *err = w->err;
  } else {
    rc = fr_error_set(err, FR_ESTATE,
                      "tune: the final training of the best configuration was "
                      "interrupted (%s %d); the search is complete in the log: rerun "
                      "the same command to train and write it",
                      WIFSIGNALED(st) ? "signal" : "exit status",
                      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  }
  free(w);
  return rc;
}

int fr_tune_job_run(const fr_tune_job *job, fr_tune_report *rep, fr_error *err) {
  if (!rep)
    return fr_error_set(err, FR_EINVAL, "tune: NULL report");
  memset(rep, 0, sizeof *rep);
  rep->result.best = -1;
  if (!job || !job->space || !job->tune.log_path)
    return fr_error_set(err, FR_EINVAL, "tune: search space and trials log are required");
  double t0 = fr_now();
  const fr_train_job *tj = &job->train;
  prepared pp;
  char *log_text = NULL;
  int rc = prepare(tj, &pp, &rep->train, err);
  if (rc)
    return rc;
  /* The log's directory (by default the model's, next to the version). */
  const char *slash = strrchr(job->tune.log_path, '/');
  if (slash && slash != job->tune.log_path) {
    char *dir = strndup(job->tune.log_path, (size_t)(slash - job->tune.log_path));
    rc = dir ? fr_mkdir_p(dir, err) : fr_error_set(err, FR_ENOMEM, "out of memory");
    free(dir);
    if (rc)
      goto done;
  }
  stage(tj, "search");
  fr_tune_xgboost_ctx ctx = {pp.t, &rep->train.split};
  rc = fr_tune_run(job->space, &tj->params, &job->tune, fr_tune_objective_xgboost, &ctx,
                   &rep->result, err);
  const fr_tune_result *r = &rep->result;
  if (rc || !r->complete)
    goto done; /* cancelled, failed, or time-boxed: the log resumes it */
  if (r->best < 0) {
    const char *why = r->n_trials ? r->trials[0].error : "no trial ran";
    rc = fr_error_set(err, FR_EDATA, "tune: every one of the %zu trials failed; the first: %s",
                      r->n_trials, why);
    goto done;
  }
  /* The best configuration again, with the parameters and threads of its
   * trial, so the same trees. */
  const fr_trial *best = &r->trials[r->best];
  fr_train_params params = best->params;
  params.progress = tj->params.progress;
  params.progress_ctx = tj->params.progress_ctx;
  params.eval_train = tj->params.eval_train;
  params.verbose = tj->params.verbose;
  size_t log_len = 0;
  if (!(log_text = fr_file_read_all(job->tune.log_path, &log_len, err))) {
    rc = err ? err->code : FR_EIO;
    goto done;
  }
  /* The log's first line describes the search; the manifest repeats it. */
  json_t *tuning = NULL;
  const char *nl = memchr(log_text, '\n', log_len);
  json_t *head = nl ? json_loadb(log_text, (size_t)(nl - log_text), 0, NULL) : NULL;
  json_t *h = json_object_get(head, "tune");
  tuning = json_is_object(h) ? json_deep_copy(h) : json_object();
  json_decref(head);
  json_object_set_new(tuning, "log", json_string("trials.jsonl"));
  json_object_set_new(tuning, "trials", json_integer((json_int_t)r->n_trials));
  json_object_set_new(tuning, "best_trial", json_integer(best->id));
  json_object_set_new(tuning, "best_config", json_integer(best->config));
  json_object_set_new(tuning, "best_rounds", json_integer(best->rounds));
  json_object_set_new(tuning, "best_valid_pr_auc", json_real(best->score));
  json_t *extra = json_object();
  json_object_set_new(extra, "tuning", tuning);
  fr_bundle_file f = {"trials.jsonl", log_text, log_len};
  if (!(rc = finish_in_child(tj, &pp, &params, extra, &f, &rep->train, err)))
    rep->written = 1;
done:
  free(log_text);
  prepared_free(&pp);
  rep->train.total_seconds = fr_now() - t0;
  return rc;
}

/* ---- scoring a file with a bundle ----------------------------------------- */

/* A number of the manifest's split record. */
static int manifest_split_time(const fr_bundle *b, const char *key, double *out,
                               fr_error *err) {
  json_t *m = json_loads(fr_bundle_manifest_json(b), 0, NULL);
  json_t *v = json_object_get(json_object_get(m, "split"), key);
  int ok = json_is_number(v);
  if (ok)
    *out = json_number_value(v);
  json_decref(m);
  if (!ok)
    return fr_error_set(err, FR_EFORMAT,
                        "%s/manifest.json: no split.%s (was the bundle made by "
                        "fraud train?)",
                        fr_bundle_dir(b), key);
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

/* ro: the read options (job->read, or a copy that lets predict read a file
 * without the label column). */
static int score_all(const fr_score_job *job, const fr_read_options *ro, scored *s,
                     fr_error *err) {
  memset(s, 0, sizeof *s);
  if (job && job->summary)
    memset(job->summary, 0, sizeof *job->summary);
  if (!job || !job->model_dir || !job->data)
    return fr_error_set(err, FR_EINVAL, "model directory and data file are required");
  if (!(s->b = fr_bundle_open(job->model_dir, err)))
    return err ? err->code : FR_EIO;
  if (!(s->d = fr_dataset_read_csv(fr_bundle_schema(s->b), job->data, ro, err)))
    return err ? err->code : FR_EIO;
  if (job->summary)
    fr_dataset_read_summary(s->d, job->summary);
  if (!(s->t = fr_bundle_score_dataset(s->b, s->d, &s->p, err)))
    return err ? err->code : FR_ENOMEM;
  return 0;
}

void fr_evaluate_options_default(fr_evaluate_options *o) {
  memset(o, 0, sizeof *o);
  o->cost.review_cost = 5;
  o->cost.decline_cost = 25;
  o->cost.allow_review = 1;
  o->calibration_bins = 10;
  o->calibration_strategy = FR_CALIB_UNIFORM;
}

int fr_evaluate_run(const fr_score_job *job, const fr_evaluate_options *o,
                    fr_evaluation *ev, fr_error *err) {
  fr_evaluate_options defaults;
  if (!o) {
    fr_evaluate_options_default(&defaults);
    o = &defaults;
  }
  if (!ev)
    return fr_error_set(err, FR_EINVAL, "evaluate: NULL result");
  memset(ev, 0, sizeof *ev);
  ev->amount_recall = ev->amount_recall_review = ev->fraud_amount = NAN;
  ev->cost_bundle = ev->ece = NAN;
  if (o->calibration_bins < 1 || o->calibration_bins > FR_EVAL_MAX_BINS)
    return fr_error_set(err, FR_EINVAL, "evaluate: calibration bins %d not in 1..%d",
                        o->calibration_bins, FR_EVAL_MAX_BINS);
  if (job && job->test_slice && job->valid_slice)
    return fr_error_set(err, FR_EINVAL,
                        "evaluate: choose the validation or the test slice, not both");
  scored s;
  int rc = score_all(job, job ? &job->read : NULL, &s, err);
  float *y = NULL, *p = NULL;
  double *amount = NULL;
  if (rc)
    goto done;
  double from = -INFINITY, to = INFINITY;
  if (job->test_slice && (rc = manifest_split_time(s.b, "test_start_time", &from, err)))
    goto done;
  if (job->valid_slice &&
      ((rc = manifest_split_time(s.b, "valid_start_time", &from, err)) ||
       (rc = manifest_split_time(s.b, "test_start_time", &to, err))))
    goto done;
  size_t cap = s.t->rows ? s.t->rows : 1;
  y = malloc(cap * sizeof *y);
  p = malloc(cap * sizeof *p);
  amount = malloc(cap * sizeof *amount);
  if (!y || !p || !amount) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  int acol = fr_schema_role_column(fr_bundle_schema(s.b), FR_ROLE_AMOUNT);
  ev->has_amount = acol >= 0;
  size_t n = 0, in_slice = 0;
  double newest = -INFINITY;
  for (size_t i = 0; i < s.t->rows; i++) {
    double et = s.t->event_time[i];
    if (et > newest)
      newest = et;
    if (et < from || et >= to)
      continue;
    in_slice++;
    if (isnan(s.t->y[i]))
      continue;
    y[n] = s.t->y[i];
    p[n] = s.p[i];
    if (acol >= 0) {
      double a = fr_dataset_number(s.d, (size_t)acol, s.t->source_row[i]);
      if (!(a >= 0 && isfinite(a))) {
        rc = fr_error_set(err, FR_EDATA,
                          "%s:%zu: amount %g is missing or negative; the money "
                          "figures need every amount",
                          job->data, fr_dataset_line(s.d, s.t->source_row[i]), a);
        goto done;
      }
      amount[n] = a;
    }
    n++;
  }
  if (n == 0 && in_slice == 0 && (job->test_slice || job->valid_slice)) {
    /* The slice is a time range recorded at training: a file that holds
     * no row in it (another period, a small sample) is told so, not
     * "no labelled rows". */
    char a[40], b[80] = "", e[64] = "";
    fr_fmt_iso8601(a, sizeof a, from);
    if (isfinite(to)) {
      char t[40];
      fr_fmt_iso8601(t, sizeof t, to);
      snprintf(b, sizeof b, " and ends before test_start_time %s", t);
    }
    if (isfinite(newest)) {
      char t[40];
      fr_fmt_iso8601(t, sizeof t, newest);
      snprintf(e, sizeof e, " (the newest at %s)", t);
    }
    rc = fr_error_set(err, FR_EDATA,
                      "%s: no rows in the %s slice: it starts at the bundle's recorded %s "
                      "%s%s, and none of the file's %zu rows%s falls in it",
                      job->data, job->test_slice ? "test" : "validation",
                      job->test_slice ? "test_start_time" : "valid_start_time", a, b, s.t->rows,
                      e);
    goto done;
  }
  if (n == 0) {
    rc = fr_error_set(err, FR_EDATA, "%s: no labelled rows%s", job->data,
                      job->test_slice    ? " in the test slice"
                      : job->valid_slice ? " in the validation slice"
                                         : "");
    goto done;
  }
  fr_thresholds th = fr_bundle_thresholds(s.b);
  ev->bundle_thresholds = th;
  if ((rc = fr_metrics_compute(y, p, n, th.decline, &ev->metrics, err)))
    goto done;
  size_t nbins = 0;
  if ((rc = fr_calibration(y, p, n, o->calibration_bins, o->calibration_strategy,
                           ev->calibration, &nbins, &ev->ece, err)))
    goto done;
  ev->calibration_n = nbins;
  if (ev->has_amount) {
    ev->cost_params = o->cost;
    ev->fraud_amount = 0;
    for (size_t i = 0; i < n; i++)
      ev->fraud_amount += y[i] == 1.0f ? amount[i] : 0;
    if ((rc = fr_amount_recall(y, p, amount, n, th.decline, &ev->amount_recall, err)) ||
        (rc = fr_amount_recall(y, p, amount, n, th.review, &ev->amount_recall_review,
                               err)) ||
        (rc = fr_cost_at(y, p, amount, n, &o->cost, &th, &ev->cost_bundle, err)) ||
        (rc = fr_cost_thresholds(y, p, amount, n, &o->cost, &ev->cost, err)))
      goto done;
  }
  if (o->report_path) {
    char title[256], sub[1024];
    const char *base = strrchr(job->data, '/');
    snprintf(title, sizeof title, "Evaluation of %s version %s", fr_bundle_name(s.b),
             fr_bundle_version(s.b));
    snprintf(sub, sizeof sub, "%s, %s: %zu labelled rows, %zu frauds", base ? base + 1 : job->data,
             job->test_slice    ? "test slice"
             : job->valid_slice ? "validation slice"
                                : "all rows",
             n, ev->metrics.positives);
    fr_report_input in = {title, sub, y, p, ev->has_amount ? amount : NULL, n,
                          th.decline, ev->has_amount ? &o->cost : NULL,
                          o->calibration_bins};
    if ((rc = fr_report_write(&in, o->report_path, err)))
      goto done;
  }
done:
  free(y);
  free(p);
  free(amount);
  scored_free(&s);
  return rc;
}

/* A double as JSON, null when not finite. */
static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

char *fr_evaluation_json(const fr_evaluation *ev) {
  char *ms = fr_metrics_json(&ev->metrics);
  json_t *o = ms ? json_loads(ms, 0, NULL) : NULL;
  free(ms);
  if (!o)
    return NULL;
  json_object_set_new(o, "bundle_thresholds",
                      json_pack("{s:o, s:o}", "review", jnum(ev->bundle_thresholds.review),
                                "decline", jnum(ev->bundle_thresholds.decline)));
  if (ev->has_amount) {
    const fr_cost_result *c = &ev->cost;
    json_object_set_new(o, "fraud_amount", jnum(ev->fraud_amount));
    json_object_set_new(o, "amount_recall", jnum(ev->amount_recall));
    json_object_set_new(o, "amount_recall_review", jnum(ev->amount_recall_review));
    json_t *opt = json_pack(
        "{s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o}", "review", jnum(c->thresholds.review),
        "decline", jnum(c->thresholds.decline), "cost", jnum(c->cost), "approve_all",
        jnum(c->cost_approve_all), "approved", (json_int_t)c->approved, "reviewed",
        (json_int_t)c->reviewed, "declined", (json_int_t)c->declined,
        "fraud_amount_stopped", jnum(c->fraud_amount_stopped));
    json_object_set_new(
        o, "cost",
        json_pack("{s:o, s:o, s:b, s:o, s:o}", "review_cost",
                  jnum(ev->cost_params.review_cost), "decline_cost",
                  jnum(ev->cost_params.decline_cost), "allow_review",
                  ev->cost_params.allow_review, "bundle", jnum(ev->cost_bundle),
                  "optimal", opt));
  }
  json_t *bins = json_array();
  for (size_t i = 0; i < ev->calibration_n; i++) {
    const fr_calib_bin *b = &ev->calibration[i];
    json_array_append_new(bins, json_pack("{s:o, s:o, s:I, s:o, s:o}", "lo", jnum(b->lo),
                                          "hi", jnum(b->hi), "count", (json_int_t)b->count,
                                          "mean_pred", jnum(b->mean_pred), "frac_pos",
                                          jnum(b->frac_pos)));
  }
  json_object_set_new(o, "calibration", json_pack("{s:o, s:o}", "bins", bins, "ece",
                                                  jnum(ev->ece)));
  char *out = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(o);
  return out;
}

int fr_predict_run(const fr_score_job *job, const char *out_csv, size_t *rows,
                   fr_error *err) {
  scored s;
  /* New transactions have no label: predict reads a file without it. */
  fr_read_options ro = {0};
  if (job)
    ro = job->read;
  ro.label_optional = 1;
  int rc = score_all(job, &ro, &s, err);
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
      idlen = (size_t)snprintf(idbuf, sizeof idbuf, "%zu", fr_dataset_row_number(s.d, r));
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
  if (strcmp(out_csv, "-") == 0) {
    /* errno is the failing write's, read before any other call. */
    errno = 0;
    if ((len && fwrite(buf, 1, len, stdout) != len) || fflush(stdout) != 0) {
      int e = errno ? errno : EIO;
      rc = fr_error_set(err, FR_EIO, "standard output: write failed: %s", strerror(e));
    }
  } else {
    rc = fr_file_write_atomic(out_csv, buf, len, err);
  }
  if (!rc && rows)
    *rows = n;
done:
  free(buf);
  free(by_row);
  scored_free(&s);
  return rc;
}
