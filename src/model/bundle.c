/*
 * bundle.c - one model version on disk (docs/bundle.md): manifest.json plus
 * the raw schema, the fitted feature spec and the XGBoost JSON model.
 *
 * A bundle is written whole or not at all (temporary sibling directory, then
 * rename(2)), and opened only when the sha256 of every file matches the
 * manifest, so a server never serves a half-copied or tampered version.
 * Opened bundles are reference-counted so a hot reload can swap versions
 * while requests still hold the old one.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fraud/model.h"

#define BUNDLE_FORMAT "fraud-bundle/1"

struct fr_bundle {
  atomic_int refs;
  char *dir, *name, *version;
  fr_schema *schema;
  fr_featurizer *featurizer;
  fr_forest *forest;
  fr_thresholds thresholds;
  char *manifest_text;
};

const char *fr_decision_name(fr_decision d) {
  switch (d) {
  case FR_APPROVE:
    return "approve";
  case FR_REVIEW:
    return "review";
  case FR_DECLINE:
    return "decline";
  }
  return "approve";
}

fr_decision fr_thresholds_decide(const fr_thresholds *t, double p) {
  if (p >= t->decline)
    return FR_DECLINE;
  if (p >= t->review)
    return FR_REVIEW;
  return FR_APPROVE;
}

static void bundle_free(fr_bundle *b) {
  fr_forest_free(b->forest);
  fr_featurizer_free(b->featurizer);
  fr_schema_free(b->schema);
  free(b->manifest_text);
  free(b->dir);
  free(b->name);
  free(b->version);
  free(b);
}

fr_bundle *fr_bundle_ref(fr_bundle *b) {
  if (b)
    atomic_fetch_add(&b->refs, 1);
  return b;
}

void fr_bundle_unref(fr_bundle *b) {
  if (b && atomic_fetch_sub(&b->refs, 1) == 1)
    bundle_free(b);
}

const char *fr_bundle_name(const fr_bundle *b) { return b->name; }
const char *fr_bundle_version(const fr_bundle *b) { return b->version; }
const char *fr_bundle_dir(const fr_bundle *b) { return b->dir; }
const fr_schema *fr_bundle_schema(const fr_bundle *b) { return b->schema; }
const fr_featurizer *fr_bundle_featurizer(const fr_bundle *b) {
  return b->featurizer;
}
const fr_forest *fr_bundle_forest(const fr_bundle *b) { return b->forest; }
fr_thresholds fr_bundle_thresholds(const fr_bundle *b) { return b->thresholds; }
const char *fr_bundle_manifest_json(const fr_bundle *b) {
  return b->manifest_text;
}

/* A required string member of a JSON object. */
static const char *json_str(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Joins dir and a file name from the manifest, refusing names that would
 * leave the bundle directory. */
static char *bundle_file(const char *dir, const char *name, fr_error *err) {
  if (!name || !*name || strchr(name, '/') || strcmp(name, "..") == 0 ||
      strcmp(name, ".") == 0) {
    fr_error_set(err, FR_EFORMAT, "%s/manifest.json: bad file name '%s'", dir,
                 name ? name : "(missing)");
    return NULL;
  }
  char *p = fr_path_join(dir, name);
  if (!p)
    fr_error_set(err, FR_ENOMEM, "out of memory");
  return p;
}

fr_bundle *fr_bundle_open(const char *dir, fr_error *err) {
  if (!dir) {
    fr_error_set(err, FR_EINVAL, "fr_bundle_open: NULL directory");
    return NULL;
  }
  fr_bundle *b = calloc(1, sizeof *b);
  if (!b) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  atomic_init(&b->refs, 1);
  b->dir = strdup(dir);
  char *mpath = fr_path_join(dir, "manifest.json");
  char *schema_path = NULL, *spec_path = NULL, *model_path = NULL;
  json_t *m = NULL;
  size_t mlen = 0;
  if (!b->dir || !mpath) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    goto fail;
  }
  if (!fr_is_dir(dir)) {
    fr_error_set(err, FR_ENOTFOUND, "%s: no such bundle directory", dir);
    goto fail;
  }
  b->manifest_text = fr_file_read_all(mpath, &mlen, err);
  if (!b->manifest_text)
    goto fail;
  json_error_t je;
  m = json_loadb(b->manifest_text, mlen, 0, &je);
  if (!m || !json_is_object(m)) {
    fr_error_set(err, FR_EFORMAT, "%s:%d:%d: invalid manifest JSON: %s", mpath,
                 m ? 1 : je.line, m ? 1 : je.column,
                 m ? "not an object" : je.text);
    goto fail;
  }
  const char *fmt = json_str(m, "format");
  if (!fmt || strcmp(fmt, BUNDLE_FORMAT) != 0) {
    fr_error_set(err, FR_EFORMAT, "%s: field 'format': expected \"%s\", got %s%s%s",
                 mpath, BUNDLE_FORMAT, fmt ? "\"" : "", fmt ? fmt : "nothing",
                 fmt ? "\"" : "");
    goto fail;
  }
  const char *name = json_str(m, "name"), *version = json_str(m, "version");
  if (!name || !version) {
    fr_error_set(err, FR_EFORMAT, "%s: field '%s' missing or not a string", mpath,
                 name ? "version" : "name");
    goto fail;
  }
  b->name = strdup(name);
  b->version = strdup(version);

  /* Verify every listed file before reading any of them. */
  json_t *files = json_object_get(m, "files");
  if (!json_is_object(files) || json_object_size(files) == 0) {
    fr_error_set(err, FR_EFORMAT, "%s: field 'files' missing or empty", mpath);
    goto fail;
  }
  const char *fname;
  json_t *fent;
  json_object_foreach(files, fname, fent) {
    const char *want = json_str(fent, "sha256");
    if (!want || strlen(want) != 64) {
      fr_error_set(err, FR_EFORMAT, "%s: files.%s.sha256 missing or malformed",
                   mpath, fname);
      goto fail;
    }
    char *p = bundle_file(dir, fname, err);
    if (!p)
      goto fail;
    char got[65];
    int rc = fr_sha256_file(p, got, err);
    free(p);
    if (rc)
      goto fail;
    if (strcmp(got, want) != 0) {
      fr_error_set(err, FR_ECHECKSUM,
                   "%s/%s: sha256 %s does not match the manifest's %s (file "
                   "changed or corrupt)",
                   dir, fname, got, want);
      goto fail;
    }
  }
  json_t *schema_o = json_object_get(m, "schema");
  json_t *spec_o = json_object_get(m, "feature_spec");
  json_t *model_o = json_object_get(m, "model");
  const char *sf = json_str(schema_o, "file"), *ff = json_str(spec_o, "file"),
             *mf = json_str(model_o, "file");
  if (!sf || !ff || !mf) {
    fr_error_set(err, FR_EFORMAT, "%s: field '%s.file' missing", mpath,
                 !sf ? "schema" : !ff ? "feature_spec" : "model");
    goto fail;
  }
  const char *listed[] = {sf, ff, mf};
  for (int i = 0; i < 3; i++) {
    if (!json_object_get(files, listed[i])) {
      fr_error_set(err, FR_EFORMAT, "%s: '%s' is not covered by 'files' checksums",
                   mpath, listed[i]);
      goto fail;
    }
  }
  if (!(schema_path = bundle_file(dir, sf, err)) ||
      !(spec_path = bundle_file(dir, ff, err)) ||
      !(model_path = bundle_file(dir, mf, err)))
    goto fail;
  if (!(b->schema = fr_schema_load(schema_path, err)))
    goto fail;
  if (!(b->featurizer = fr_featurizer_load(b->schema, spec_path, err)))
    goto fail;
  if (!(b->forest = fr_forest_load(model_path, FR_FOREST_AUTO, err)))
    goto fail;
  /* Every scoring path (predict, explain, evaluate, the server) reads a
   * bundle's output as a fraud probability and compares it with the
   * decision thresholds: only binary:logistic means that (train writes
   * nothing else); a margin or a regression value would be decided on as
   * if it were one. */
  if (fr_forest_objective(b->forest) != FR_OBJ_BINARY_LOGISTIC) {
    fr_error_set(err, FR_EFORMAT,
                 "%s: the model's objective is %s, not binary:logistic: a bundle's "
                 "scores are fraud probabilities compared with its thresholds",
                 model_path, fr_objective_name(fr_forest_objective(b->forest)));
    goto fail;
  }
  size_t nf = fr_featurizer_nfeatures(b->featurizer);
  if (fr_forest_nfeatures(b->forest) != nf) {
    fr_error_set(err, FR_EFORMAT,
                 "%s: model uses %zu features but the feature spec makes %zu",
                 dir, fr_forest_nfeatures(b->forest), nf);
    goto fail;
  }
  json_t *names = json_object_get(m, "features");
  if (!json_is_array(names) || json_array_size(names) != nf) {
    fr_error_set(err, FR_EFORMAT,
                 "%s: field 'features' must list the %zu feature names", mpath, nf);
    goto fail;
  }
  for (size_t i = 0; i < nf; i++) {
    const char *n = json_string_value(json_array_get(names, i));
    if (!n || strcmp(n, fr_featurizer_name(b->featurizer, i)) != 0) {
      fr_error_set(err, FR_EFORMAT,
                   "%s: features[%zu] is '%s' but the feature spec makes '%s'",
                   mpath, i, n ? n : "(not a string)",
                   fr_featurizer_name(b->featurizer, i));
      goto fail;
    }
  }
  json_t *th = json_object_get(m, "thresholds");
  json_t *rv = json_object_get(th, "review"), *dv = json_object_get(th, "decline");
  if (!json_is_number(rv) || !json_is_number(dv)) {
    fr_error_set(err, FR_EFORMAT,
                 "%s: field 'thresholds' needs numbers 'review' and 'decline'", mpath);
    goto fail;
  }
  b->thresholds.review = json_number_value(rv);
  b->thresholds.decline = json_number_value(dv);
  if (!(b->thresholds.review >= 0 && b->thresholds.review <= b->thresholds.decline &&
        b->thresholds.decline <= 1)) {
    fr_error_set(err, FR_EFORMAT,
                 "%s: thresholds must satisfy 0 <= review <= decline <= 1", mpath);
    goto fail;
  }
  json_decref(m);
  free(mpath);
  free(schema_path);
  free(spec_path);
  free(model_path);
  return b;
fail:
  json_decref(m);
  free(mpath);
  free(schema_path);
  free(spec_path);
  free(model_path);
  bundle_free(b);
  return NULL;
}

/* ---- writing ------------------------------------------------------------ */

static int write_file(const char *dir, const char *name, const char *data,
                      size_t len, json_t *files, fr_error *err) {
  char *p = fr_path_join(dir, name);
  if (!p)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  int rc = fr_file_write_atomic(p, data, len, err);
  free(p);
  if (rc)
    return rc;
  char hex[65];
  fr_sha256_hex(data, len, hex);
  json_object_set_new(files, name, json_pack("{s:s, s:I}", "sha256", hex,
                                             "bytes", (json_int_t)len));
  return 0;
}

static json_t *parse_object(const char *text, const char *what, fr_error *err) {
  if (!text)
    return json_object();
  json_error_t je;
  json_t *o = json_loads(text, 0, &je);
  if (!o || !json_is_object(o)) {
    json_decref(o);
    fr_error_set(err, FR_EINVAL, "bundle %s: not a JSON object (%s)", what,
                 o ? "wrong type" : je.text);
    return NULL;
  }
  return o;
}

/* The process id of a temporary bundle directory's name, "<v>.tmp-PID-N"
 * (what fr_bundle_write and the threshold derivation create), else 0. */
static long temp_owner(const char *name) {
  const char *t = strstr(name, ".tmp-");
  if (!t || t == name)
    return 0;
  const char *p = t + 5, *q = p;
  long pid = 0;
  while (*q >= '0' && *q <= '9' && pid < 100000000)
    pid = pid * 10 + (*q++ - '0');
  if (q == p || *q != '-' || !q[1])
    return 0;
  for (q++; *q; q++)
    if (*q < '0' || *q > '9')
      return 0;
  return pid;
}

/* Removes the temporary bundle directories in `parent` of processes that
 * no longer run: a writer killed outright (SIGKILL, power loss) cannot
 * clean up after itself.  A live owner (kill(pid, 0) succeeds or answers
 * EPERM), this process's own, and anything not named like one are left
 * alone; failures are ignored (the write goes on regardless). */
static void remove_stale_temporaries(const char *parent) {
  DIR *d = opendir(parent);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    long pid = temp_owner(e->d_name);
    if (pid <= 0 || pid == (long)getpid())
      continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
      continue;
    char *path = fr_path_join(parent, e->d_name);
    if (path && fr_is_dir(path))
      fr_rm_rf(path, NULL);
    free(path);
  }
  closedir(d);
}

int fr_bundle_write(const fr_bundle_spec *spec, const char *dir, fr_error *err) {
  if (!spec || !dir || !spec->name || !spec->version || !spec->schema ||
      !spec->featurizer || !spec->model_json)
    return fr_error_set(err, FR_EINVAL, "fr_bundle_write: missing argument");
  if (fr_is_dir(dir) || fr_is_file(dir))
    return fr_error_set(err, FR_EEXIST,
                        "%s already exists: model versions are immutable, "
                        "write a new version", dir);
  /* The temporary directory is a sibling of dir: "models/s/2/" must give
   * "models/s/2.tmp-...", not a directory inside the one to create. */
  size_t dl = strlen(dir);
  while (dl > 1 && dir[dl - 1] == '/')
    dl--;
  char *tmp = malloc(dl + 64);
  if (!tmp)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  snprintf(tmp, dl + 64, "%.*s.tmp-%ld-%ld", (int)dl, dir, (long)getpid(),
           (long)(fr_monotonic_ns() % 1000000));
  {
    const char *slash = memrchr(dir, '/', dl);
    char *parent = slash ? strndup(dir, slash == dir ? 1 : (size_t)(slash - dir))
                         : strdup(".");
    if (parent)
      remove_stale_temporaries(parent);
    free(parent);
  }
  json_t *man = NULL, *files = json_object();
  char *spec_text = NULL;
  int rc = fr_mkdir_p(tmp, err);
  if (rc)
    goto done;
  size_t slen;
  const char *schema_text = fr_schema_source(spec->schema, &slen);
  if ((rc = write_file(tmp, "schema.yaml", schema_text, slen, files, err)))
    goto done;
  size_t splen;
  spec_text = fr_featurizer_dump(spec->featurizer, &splen, err);
  if (!spec_text) {
    rc = err ? err->code : FR_EINVAL;
    goto done;
  }
  if ((rc = write_file(tmp, "features.yaml", spec_text, splen, files, err)))
    goto done;
  if ((rc = write_file(tmp, "model.json", spec->model_json, spec->model_json_len,
                       files, err)))
    goto done;
  for (size_t i = 0; i < spec->n_extra_files; i++) {
    const fr_bundle_file *x = &spec->extra_files[i];
    const char *nm = x->name;
    if (!nm || !*nm || strchr(nm, '/') || strcmp(nm, ".") == 0 ||
        strcmp(nm, "..") == 0 || json_object_get(files, nm) ||
        strcmp(nm, "manifest.json") == 0 || (!x->data && x->len)) {
      rc = fr_error_set(err, FR_EINVAL, "fr_bundle_write: extra file name '%s' "
                        "is empty, has a '/', or is reserved", nm ? nm : "(null)");
      goto done;
    }
    if ((rc = write_file(tmp, nm, x->data ? x->data : "", x->len, files, err)))
      goto done;
  }

  json_t *params = parse_object(spec->params_json, "parameters", err);
  json_t *metrics = parse_object(spec->metrics_json, "metrics", err);
  json_t *extra = parse_object(spec->extra_json, "extra fields", err);
  if (!params || !metrics || !extra) {
    json_decref(params);
    json_decref(metrics);
    json_decref(extra);
    rc = FR_EINVAL;
    goto done;
  }
  char created[40];
  fr_fmt_iso8601(created, sizeof created, (double)time(NULL));
  json_t *names = json_array();
  for (size_t i = 0; i < fr_featurizer_nfeatures(spec->featurizer); i++)
    json_array_append_new(names, json_string(fr_featurizer_name(spec->featurizer, i)));
  man = json_pack("{s:s, s:s, s:s, s:s, s:s}", "format", BUNDLE_FORMAT, "name",
                  spec->name, "version", spec->version, "created", created,
                  "fraud_version", fr_version());
  json_object_set_new(man, "schema",
                      json_pack("{s:s, s:s}", "name", fr_schema_name(spec->schema),
                                "file", "schema.yaml"));
  json_object_set_new(man, "feature_spec", json_pack("{s:s}", "file", "features.yaml"));
  json_object_set_new(man, "features", names);
  json_object_set_new(man, "model",
                      json_pack("{s:s, s:s}", "file", "model.json", "format",
                                "xgboost_json"));
  json_object_set_new(man, "thresholds",
                      json_pack("{s:f, s:f}", "review", spec->thresholds.review,
                                "decline", spec->thresholds.decline));
  json_object_set_new(man, "parameters", params);
  json_object_set_new(man, "metrics", metrics);
  json_object_update(man, extra);
  json_decref(extra);
  json_object_set(man, "files", files);
  char *mtext = json_dumps(man, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
  if (!mtext) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory writing manifest");
    goto done;
  }
  size_t mlen = strlen(mtext);
  char *mpath = fr_path_join(tmp, "manifest.json");
  rc = mpath ? fr_file_write_atomic(mpath, mtext, mlen, err) : FR_ENOMEM;
  free(mpath);
  free(mtext);
  if (rc)
    goto done;
  if (rename(tmp, dir) != 0) {
    rc = fr_error_set(err, FR_EIO, "cannot move %s to %s", tmp, dir);
    goto done;
  }
done:
  if (rc)
    fr_rm_rf(tmp, NULL);
  json_decref(man);
  json_decref(files);
  free(spec_text);
  free(tmp);
  return rc;
}

fr_table *fr_bundle_score_dataset(const fr_bundle *b, const fr_dataset *d,
                                  float **prob, fr_error *err) {
  if (!b || !d || !prob) {
    fr_error_set(err, FR_EINVAL, "fr_bundle_score_dataset: NULL argument");
    return NULL;
  }
  fr_table *t = fr_featurize_dataset(b->featurizer, d, err);
  if (!t)
    return NULL;
  size_t no = fr_forest_noutputs(b->forest);
  float *out = malloc((t->rows ? t->rows : 1) * no * sizeof *out);
  if (!out) {
    fr_table_free(t);
    fr_error_set(err, FR_ENOMEM, "out of memory for %zu predictions", t->rows);
    return NULL;
  }
  int rc = fr_forest_predict(b->forest, t->x, t->rows, out);
  if (rc) {
    free(out);
    fr_table_free(t);
    fr_error_set(err, rc, "prediction failed");
    return NULL;
  }
  *prob = out;
  return t;
}
