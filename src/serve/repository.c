/*
 * repository.c - the model repository on disk (see serve.h): listing models
 * and versions in numeric order, and the release state in
 * DIR/<name>/stages.json, shared by the server (which reads it on every poll
 * and writes it through the admin API) and `fraud models` (which writes it
 * directly).  Writes are atomic (temporary file + rename), so a reader sees
 * the old or the new state, never half of one.
 */
#include "fraud/serve.h"

#include <ctype.h>
#include <dirent.h>
#include <float.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "serve/buf.h"
#include "serve/repocheck.h"

int fr_repository_name_ok(const char *s) {
  if (!s || !s[0] || s[0] == '.' || strlen(s) > 100)
    return 0;
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
      return 0;
  return 1;
}

static int all_digits(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s))
      return 0;
  return 1;
}

int fr_version_cmp(const char *a, const char *b) {
  int da = all_digits(a), db = all_digits(b);
  if (da && db) {
    while (*a == '0' && a[1])
      a++;
    while (*b == '0' && b[1])
      b++;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
      return la < lb ? -1 : 1;
    return strcmp(a, b);
  }
  if (da != db)
    return da ? -1 : 1;
  return strcmp(a, b);
}

void fr_strv_free(char **v) {
  if (!v)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_version(const void *a, const void *b) {
  return fr_version_cmp(*(char *const *)a, *(char *const *)b);
}

/* Sub-directories of dir with valid names (version directories: digits
 * only), sorted by cmp. */
static char **list_dirs(const char *dir, int (*cmp)(const void *, const void *),
                        int versions, fr_error *err) {
  DIR *d = opendir(dir);
  if (!d) {
    fr_error_set(err, fr_is_dir(dir) ? FR_EIO : FR_ENOTFOUND, "%s: cannot open directory",
                 dir);
    return NULL;
  }
  size_t n = 0, cap = 8;
  char **v = calloc(cap + 1, sizeof *v);
  struct dirent *e;
  while (v && (e = readdir(d))) {
    if (!fr_repository_name_ok(e->d_name) || (versions && !all_digits(e->d_name)))
      continue;
    char *full = fr_path_join(dir, e->d_name);
    int isdir = full && fr_is_dir(full);
    free(full);
    if (!isdir)
      continue;
    if (n == cap) {
      char **nv = realloc(v, (cap * 2 + 1) * sizeof *v);
      if (!nv) {
        fr_strv_free(v);
        v = NULL;
        break;
      }
      v = nv;
      cap *= 2;
    }
    v[n] = strdup(e->d_name);
    if (!v[n]) {
      fr_strv_free(v);
      v = NULL;
      break;
    }
    v[++n] = NULL;
  }
  closedir(d);
  if (!v) {
    fr_error_set(err, FR_ENOMEM, "out of memory listing %s", dir);
    return NULL;
  }
  qsort(v, n, sizeof *v, cmp);
  return v;
}

char **fr_repository_models(const char *repo, fr_error *err) {
  return list_dirs(repo, cmp_name, 0, err);
}

char **fr_repository_versions(const char *repo, const char *name, fr_error *err) {
  if (!fr_repository_name_ok(name)) {
    fr_error_set(err, FR_ENOTFOUND, "invalid model name '%s'", name);
    return NULL;
  }
  char *dir = fr_path_join(repo, name);
  if (!dir) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  if (!fr_is_dir(dir)) {
    fr_error_set(err, FR_ENOTFOUND, "model '%s' not found in repository %s", name, repo);
    free(dir);
    return NULL;
  }
  char **v = list_dirs(dir, cmp_version, 1, err);
  free(dir);
  return v;
}

static char *stages_path(const char *repo, const char *name) {
  char *dir = fr_path_join(repo, name);
  char *p = dir ? fr_path_join(dir, "stages.json") : NULL;
  free(dir);
  return p;
}

static int get_version_field(json_t *root, const char *field, char *out, size_t cap,
                             const char *path, fr_error *err) {
  json_t *v = json_object_get(root, field);
  out[0] = '\0';
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_string(v) || strlen(json_string_value(v)) >= cap ||
      (json_string_value(v)[0] && !fr_repository_name_ok(json_string_value(v))))
    return fr_error_set(err, FR_ESCHEMA, "%s: field '%s' must be a version name", path, field);
  snprintf(out, cap, "%s", json_string_value(v));
  return 0;
}

int fr_stages_read(const char *repo, const char *name, fr_stages *st, fr_error *err) {
  memset(st, 0, sizeof *st);
  char *path = stages_path(repo, name);
  if (!path)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  if (!fr_is_file(path)) {
    free(path);
    return 0;
  }
  json_error_t je;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  int rc = 0;
  if (!root) {
    rc = fr_error_set(err, FR_EPARSE, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    goto out;
  }
  if (!json_is_object(root)) {
    rc = fr_error_set(err, FR_ESCHEMA, "%s: must be a JSON object", path);
    goto out;
  }
  static const char *const known[] = {"production", "staging", "canary", "shadow", "history",
                                      NULL};
  const char *k;
  json_t *v;
  json_object_foreach(root, k, v) {
    int ok = 0;
    for (int i = 0; known[i]; i++)
      ok |= strcmp(k, known[i]) == 0;
    if (!ok) {
      rc = fr_error_set(err, FR_ESCHEMA,
                        "%s: unknown field '%s' (expected production, staging, canary, "
                        "shadow, history)",
                        path, k);
      goto out;
    }
  }
  if ((rc = get_version_field(root, "production", st->production, sizeof st->production, path,
                              err)) ||
      (rc = get_version_field(root, "staging", st->staging, sizeof st->staging, path, err)) ||
      (rc = get_version_field(root, "shadow", st->shadow, sizeof st->shadow, path, err)))
    goto out;
  json_t *c = json_object_get(root, "canary");
  if (c && !json_is_null(c)) {
    json_t *w = json_is_object(c) ? json_object_get(c, "weight") : NULL;
    if (!json_is_object(c) || !json_is_number(w) || json_number_value(w) < 0 ||
        json_number_value(w) > 1) {
      rc = fr_error_set(err, FR_ESCHEMA,
                        "%s: field 'canary' must be {\"version\": V, \"weight\": 0..1}", path);
      goto out;
    }
    if ((rc = get_version_field(c, "version", st->canary, sizeof st->canary, path, err)))
      goto out;
    st->canary_weight = json_number_value(w);
  }
  json_t *h = json_object_get(root, "history");
  if (h && !json_is_null(h)) {
    if (!json_is_array(h)) {
      rc = fr_error_set(err, FR_ESCHEMA, "%s: field 'history' must be an array", path);
      goto out;
    }
    size_t n = json_array_size(h);
    size_t first = n > 32 ? n - 32 : 0;
    for (size_t i = first; i < n; i++) {
      json_t *e = json_array_get(h, i);
      if (!json_is_string(e) || !fr_repository_name_ok(json_string_value(e)) ||
          strlen(json_string_value(e)) >= sizeof st->history[0]) {
        rc = fr_error_set(err, FR_ESCHEMA, "%s: history[%zu] must be a version name", path, i);
        goto out;
      }
      snprintf(st->history[st->nhistory++], sizeof st->history[0], "%s", json_string_value(e));
    }
  }
out:
  json_decref(root);
  free(path);
  return rc;
}

int fr_stages_write(const char *repo, const char *name, const fr_stages *st, fr_error *err) {
  fr__buf b = {0};
  fr__buf_puts(&b, "{\n  \"production\": ");
  fr__buf_json_str(&b, st->production, strlen(st->production));
  fr__buf_puts(&b, ",\n  \"staging\": ");
  fr__buf_json_str(&b, st->staging, strlen(st->staging));
  if (st->canary[0]) {
    fr__buf_puts(&b, ",\n  \"canary\": {\"version\": ");
    fr__buf_json_str(&b, st->canary, strlen(st->canary));
    fr__buf_puts(&b, ", \"weight\": ");
    fr__buf_json_double(&b, st->canary_weight);
    fr__buf_puts(&b, "}");
  } else {
    fr__buf_puts(&b, ",\n  \"canary\": null");
  }
  fr__buf_puts(&b, ",\n  \"shadow\": ");
  fr__buf_json_str(&b, st->shadow, strlen(st->shadow));
  fr__buf_puts(&b, ",\n  \"history\": [");
  for (size_t i = 0; i < st->nhistory; i++) {
    if (i)
      fr__buf_puts(&b, ", ");
    fr__buf_json_str(&b, st->history[i], strlen(st->history[i]));
  }
  fr__buf_puts(&b, "]\n}\n");
  char *path = stages_path(repo, name);
  int rc;
  if (!path || b.oom)
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
  else
    rc = fr_file_write_atomic(path, b.data, b.len, err);
  free(path);
  fr__buf_close(&b);
  return rc;
}

static int version_exists(const char *repo, const char *name, const char *version,
                          fr_error *err) {
  if (!fr_repository_name_ok(name))
    return fr_error_set(err, FR_ENOTFOUND, "invalid model name '%s'", name);
  /* A malformed name is the request's fault (the admin API's 400, like a
   * malformed weight), not a version that is missing (404). */
  if (!version || !fr_repository_name_ok(version))
    return fr_error_set(err, FR_EINVAL, "invalid version name '%s'", version ? version : "");
  char *d1 = fr_path_join(repo, name);
  char *d2 = d1 ? fr_path_join(d1, version) : NULL;
  int ok = d2 && fr_is_dir(d2);
  int model_ok = d1 && fr_is_dir(d1);
  int rc = 0;
  if (!model_ok)
    rc = fr_error_set(err, FR_ENOTFOUND, "model '%s' not found in repository %s", name, repo);
  else if (!ok)
    rc = fr_error_set(err, FR_ENOTFOUND, "version '%s' of model '%s' not found in %s", version,
                      name, repo);
  else if (!all_digits(version))
    /* The server lists, orders and loads numeric versions only (Triton's
     * rule): a release naming another directory would point at nothing it
     * serves. */
    rc = fr_error_set(err, FR_EINVAL,
                      "%s: not a version directory: versions are named by a number (the "
                      "server loads only those)",
                      d2);
  free(d1);
  free(d2);
  return rc;
}

int fr_repository_manifest_check(const char *repo, const char *name, const char *version,
                                 fr_error *err) {
  char *d1 = fr_path_join(repo, name);
  char *d2 = d1 ? fr_path_join(d1, version) : NULL;
  char *mp = d2 ? fr_path_join(d2, "manifest.json") : NULL;
  free(d1);
  free(d2);
  if (!mp)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  if (!fr_is_file(mp)) {
    free(mp);
    return 0;
  }
  json_error_t je;
  json_t *m = json_load_file(mp, 0, &je);
  free(mp);
  int rc = 0;
  if (!m) {
    rc = fr_error_set(err, FR_ESTATE, "manifest is not valid JSON");
  } else {
    const char *mn = json_string_value(json_object_get(m, "name"));
    const char *mv = json_string_value(json_object_get(m, "version"));
    if (!mn || !mv || strcmp(mn, name) != 0 || strcmp(mv, version) != 0)
      rc = fr_error_set(err, FR_ESTATE, "manifest names %s/%s, not %s/%s",
                        mn ? mn : "(no name)", mv ? mv : "(no version)", name, version);
  }
  json_decref(m);
  return rc;
}

/* What a loadable version serves, for the release checks: a bundle (raw
 * transactions on /v1/score through its schema and feature spec, and its
 * feature vector on V2) or a bare model file (a V2 tensor of nfeatures). */
typedef struct served {
  fr_bundle *bundle;
  fr_forest *bare;
} served;

static void served_close(served *s) {
  fr_bundle_unref(s->bundle);
  fr_forest_free(s->bare);
  memset(s, 0, sizeof *s);
}

static const fr_forest *served_forest(const served *s) {
  return s->bundle ? fr_bundle_forest(s->bundle) : s->bare;
}

/* version_exists, fr_repository_manifest_check, then what the server's load
 * verifies (src/serve/models.c): a bundle opens with fr_bundle_open (every
 * file's sha256, schema, spec, model), a bare model with fr_forest_dir_load,
 * and the model has one output per row.  On success fills *out when given
 * (close with served_close).  FR_ESTATE naming the version and the reason. */
static int version_servable(const char *repo, const char *name, const char *version,
                            served *out, fr_error *err) {
  int rc = version_exists(repo, name, version, err);
  if (rc)
    return rc;
  fr_error e;
  if ((rc = fr_repository_manifest_check(repo, name, version, &e)))
    return fr_error_set(err, rc, "version '%s' of model '%s' cannot be served: its %s", version,
                        name, e.msg);
  char *d1 = fr_path_join(repo, name);
  char *d2 = d1 ? fr_path_join(d1, version) : NULL;
  char *mp = d2 ? fr_path_join(d2, "manifest.json") : NULL;
  free(d1);
  if (!mp) {
    free(d2);
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  }
  served sv = {0};
  if (fr_is_file(mp))
    sv.bundle = fr_bundle_open(d2, &e);
  else
    sv.bare = fr_forest_dir_load(d2, NULL, &e);
  free(mp);
  free(d2);
  const fr_forest *f = served_forest(&sv);
  if (!f)
    rc = fr_error_set(err, FR_ESTATE, "version '%s' of model '%s' cannot be served: %s", version,
                      name, e.msg);
  else if (fr_forest_noutputs(f) != 1)
    rc = fr_error_set(err, FR_ESTATE,
                      "version '%s' of model '%s' cannot be served: the model has %zu outputs "
                      "per row; the server serves binary classifiers (one output)",
                      version, name, fr_forest_noutputs(f));
  if (rc || !out)
    served_close(&sv);
  else
    *out = sv;
  return rc;
}

/* 1 when version directory `version` holds a bundle (manifest.json), the
 * test the server's load makes (src/serve/models.c). */
static int is_bundle_dir(const char *repo, const char *name, const char *version) {
  char *d1 = fr_path_join(repo, name);
  char *d2 = d1 ? fr_path_join(d1, version) : NULL;
  char *mp = d2 ? fr_path_join(d2, "manifest.json") : NULL;
  int yes = mp && fr_is_file(mp);
  free(d1);
  free(d2);
  free(mp);
  return yes;
}

/* The newest version the server can load that is older than `below` (NULL:
 * any) and of kind `kind` (1 bundles, 0 bare model files, -1 either): the
 * implicit production when nothing is promoted (the server's policy skips a
 * version that fails to load), and the rollback target below it.  "" when
 * none. */
static void newest_servable(const char *repo, const char *name, const char *below, int kind,
                            char *out, size_t cap) {
  out[0] = '\0';
  char **vs = fr_repository_versions(repo, name, NULL);
  size_t n = 0;
  while (vs && vs[n])
    n++;
  for (size_t k = n; k-- > 0;) {
    if (below && fr_version_cmp(vs[k], below) >= 0)
      continue;
    if (kind >= 0 && is_bundle_dir(repo, name, vs[k]) != kind)
      continue;
    if (version_servable(repo, name, vs[k], NULL, NULL) == 0) {
      snprintf(out, cap, "%s", vs[k]);
      break;
    }
  }
  fr_strv_free(vs);
}

int fr_repository_implicit_production(const char *repo, const char *name, char *out,
                                      size_t cap, fr_error *err) {
  if (cap)
    out[0] = '\0';
  char **vs = fr_repository_versions(repo, name, err);
  if (!vs)
    return err ? err->code : FR_ENOTFOUND;
  /* A model with bundle versions serves /v1/score clients, which a bare
   * model file (no schema, no feature spec) would answer 400: only a bundle
   * takes production implicitly (the server's rule, src/serve/models.c). */
  int has_bundles = 0;
  for (size_t k = 0; vs[k] && !has_bundles; k++)
    has_bundles = is_bundle_dir(repo, name, vs[k]);
  fr_strv_free(vs);
  newest_servable(repo, name, NULL, has_bundles ? 1 : -1, out, cap);
  return 0;
}

/* The version serving as production: the promoted one, else the implicit
 * one.  "" when none. */
static void current_production(const char *repo, const char *name, const fr_stages *st,
                               const fr__release_base *b, char *out, size_t cap) {
  if (st->production[0])
    snprintf(out, cap, "%s", st->production);
  else if (b && b->serving && b->serving[0])
    /* Nothing promoted, and a server says what it serves: that one (it
     * may not be the newest on disk, whose switch it refused). */
    snprintf(out, cap, "%s", b->serving);
  else
    fr_repository_implicit_production(repo, name, out, cap, NULL);
}

/* Whether `cand` (version cv) can serve what production (version pv)
 * serves: the same kind (a bundle where production is a bundle: /v1/score
 * needs a schema and a feature spec; a bare model where production is bare),
 * the same transaction schema (column names, roles, types: what /v1/score
 * clients send) and the same model input (V2: the feature vector, by name
 * and order for bundles, by width for bare models).  FR_ESTATE naming the
 * first difference. */
static int same_signature(const char *name, const char *cv, const served *cand, const char *pv,
                          const served *prod, fr_error *err) {
#define REFUSE(...)                                                                          \
  do {                                                                                       \
    char why_[400];                                                                          \
    snprintf(why_, sizeof why_, __VA_ARGS__);                                                \
    return fr_error_set(err, FR_ESTATE,                                                      \
                        "version '%s' of model '%s' cannot serve what production version "   \
                        "'%s' serves: %s",                                                   \
                        cv, name, pv, why_);                                                 \
  } while (0)
  if (!cand->bundle != !prod->bundle)
    REFUSE("%s", cand->bundle ? "it is a bundle (raw transactions, /v1/score) and production is "
                                "a bare model (V2 tensors only)"
                              : "it is a bare model file (V2 tensors only, no feature spec for "
                                "/v1/score) and production is a bundle");
  size_t nc = fr_forest_nfeatures(served_forest(cand));
  size_t np = fr_forest_nfeatures(served_forest(prod));
  if (nc != np)
    REFUSE("its input has %zu features, production's %zu", nc, np);
  if (!cand->bundle)
    return 0;
  const fr_schema *sc = fr_bundle_schema(cand->bundle), *sp = fr_bundle_schema(prod->bundle);
  size_t cc = fr_schema_ncols(sc), cp = fr_schema_ncols(sp);
  for (size_t i = 0; i < cc || i < cp; i++) {
    const fr_column_info *a = i < cc ? fr_schema_column(sc, i) : NULL;
    const fr_column_info *b = i < cp ? fr_schema_column(sp, i) : NULL;
    if (!a || !b || strcmp(a->name, b->name) != 0 || a->role != b->role || a->type != b->type)
      REFUSE("its transaction schema differs at column %zu ('%s' vs production's '%s')", i + 1,
             a ? a->name : "(none)", b ? b->name : "(none)");
  }
  const fr_featurizer *fc = fr_bundle_featurizer(cand->bundle);
  const fr_featurizer *fp = fr_bundle_featurizer(prod->bundle);
  for (size_t i = 0; i < nc; i++) {
    const char *a = fr_featurizer_name(fc, i), *b = fr_featurizer_name(fp, i);
    if (strcmp(a ? a : "", b ? b : "") != 0)
      REFUSE("its feature %zu is '%s', production's '%s'", i + 1, a ? a : "", b ? b : "");
  }
  return 0;
#undef REFUSE
}

int fr__repository_serves_like(const char *name, const char *cv, const fr_bundle *cb,
                               const fr_forest *cf, const char *pv, const fr_bundle *pb,
                               const fr_forest *pf, fr_error *err) {
  /* Borrowed, never closed. */
  served cand = {(fr_bundle *)cb, cb ? NULL : (fr_forest *)cf};
  served prod = {(fr_bundle *)pb, pb ? NULL : (fr_forest *)pf};
  if (!served_forest(&cand) || !served_forest(&prod))
    return fr_error_set(err, FR_EINVAL, "fr__repository_serves_like: NULL argument");
  return same_signature(name, cv, &cand, pv, &prod, err);
}

/* A version about to serve live traffic (production, canary, shadow, or a
 * rollback target): servable, and serving what the current production
 * serves.  When the promoted production cannot be loaded (its directory is
 * gone, say) the comparison is with the implicit production, which is what
 * the server falls back to; with neither, only servability counts. */
static int release_ok(const char *repo, const char *name, const fr_stages *st,
                      const fr__release_base *b, const char *version, fr_error *err) {
  served cand = {0}, prod = {0};
  int rc = version_servable(repo, name, version, &cand, err);
  if (rc)
    return rc;
  char pv[sizeof st->production];
  current_production(repo, name, st, b, pv, sizeof pv);
  int have = pv[0] && version_servable(repo, name, pv, &prod, NULL) == 0;
  if (!have && st->production[0]) {
    fr_repository_implicit_production(repo, name, pv, sizeof pv, NULL);
    have = pv[0] && version_servable(repo, name, pv, &prod, NULL) == 0;
  }
  if (have && strcmp(pv, version) != 0)
    rc = same_signature(name, version, &cand, pv, &prod, err);
  if (rc && b && b->before_bundle) {
    /* A release back to what the model served before an incompatible
     * production got in. */
    served before = {(fr_bundle *)b->before_bundle, NULL};
    if (same_signature(name, version, &cand, b->before, &before, NULL) == 0)
      rc = 0;
  }
  served_close(&cand);
  served_close(&prod);
  return rc;
}

int fr__repository_routing_check(const char *repo, const char *name, const fr_stages *st,
                                 const char *serving, const fr_bundle *sb, const fr_forest *sf,
                                 int *production_refused, fr_error *err) {
  *production_refused = 0;
  /* Borrowed, never closed: what the server has loaded. */
  served now = {(fr_bundle *)sb, sb ? NULL : (fr_forest *)sf};
  int have_now = serving && serving[0] && (sb || sf);
  served prod = {0};
  int own = 0, rc = 0;
  char pv[sizeof st->production] = "";
  if (st->production[0] && (!have_now || strcmp(st->production, serving) != 0) &&
      version_servable(repo, name, st->production, &prod, NULL) == 0) {
    own = 1;
    snprintf(pv, sizeof pv, "%s", st->production);
    if (have_now && (rc = same_signature(name, st->production, &prod, serving, &now, err))) {
      served_close(&prod);
      *production_refused = 1;
      fr_error_prefix(err, "production");
      return rc;
    }
  } else if (have_now) {
    /* Production stays (or its named version is missing and the server
     * falls back to one of the serving kind): compare with what serves. */
    prod = now;
    snprintf(pv, sizeof pv, "%s", serving);
  } else {
    fr_repository_implicit_production(repo, name, pv, sizeof pv, NULL);
    own = pv[0] && version_servable(repo, name, pv, &prod, NULL) == 0;
    if (!own)
      pv[0] = '\0';
  }
  const char *side[2] = {st->canary_weight > 0 ? st->canary : "", st->shadow};
  for (int k = 0; k < 2 && !rc && pv[0]; k++) {
    served cand = {0};
    if (!side[k][0] || strcmp(side[k], pv) == 0 ||
        version_servable(repo, name, side[k], &cand, NULL) != 0)
      continue;
    if ((rc = same_signature(name, side[k], &cand, pv, &prod, err)))
      fr_error_prefix(err, "%s", k ? "shadow" : "canary");
    served_close(&cand);
  }
  if (own)
    served_close(&prod);
  return rc;
}

/* A canary or shadow ("role") for `version`: release_ok, and another version
 * than the one serving as production.  0, or the error of release_ok /
 * FR_ESTATE. */
static int side_version_ok(const char *repo, const char *name, const fr_stages *st,
                           const fr__release_base *b, const char *version, const char *role,
                           fr_error *err) {
  int rc = release_ok(repo, name, st, b, version, err);
  if (rc)
    return rc;
  char prod[sizeof st->production];
  current_production(repo, name, st, b, prod, sizeof prod);
  if (strcmp(prod, version) == 0)
    return fr_error_set(err, FR_ESTATE,
                        "version '%s' of model '%s' is production: a %s must be another "
                        "version",
                        version, name, role);
  return 0;
}

/* The model's directory exists (ending a canary or shadow names no version
 * to check, but must not create a stages.json for a model that is not
 * there).  0 or FR_ENOTFOUND. */
static int model_exists(const char *repo, const char *name, fr_error *err) {
  char **vs = fr_repository_versions(repo, name, err);
  if (!vs)
    return err ? err->code : FR_ENOTFOUND;
  fr_strv_free(vs);
  return 0;
}

/* A version taking production stops being staging, canary or shadow. */
static void clear_other_stages(fr_stages *st) {
  if (strcmp(st->staging, st->production) == 0)
    st->staging[0] = '\0';
  if (strcmp(st->canary, st->production) == 0) {
    st->canary[0] = '\0';
    st->canary_weight = 0;
  }
  if (strcmp(st->shadow, st->production) == 0)
    st->shadow[0] = '\0';
}

static int do_promote(const char *repo, const char *name, const char *version,
                      const char *stage, const fr__release_base *b, fr_stages *out,
                      fr_error *err) {
  int staging = stage && strcmp(stage, "staging") == 0;
  if (stage && !staging && strcmp(stage, "production") != 0)
    return fr_error_set(err, FR_EINVAL, "unknown stage '%s' (expected production or staging)",
                        stage);
  fr_stages st;
  int rc = fr_stages_read(repo, name, &st, err);
  if (rc)
    return rc;
  /* Staging serves no traffic of its own: it must load, nothing more. */
  rc = staging ? version_servable(repo, name, version, NULL, err)
               : release_ok(repo, name, &st, b, version, err);
  if (rc)
    return rc;
  if (staging) {
    snprintf(st.staging, sizeof st.staging, "%s", version);
  } else {
    char prev[sizeof st.production];
    /* The rollback target: the promoted production, or when nothing was
     * promoted the version the server serves, the newest one it can load
     * (a newer directory that fails to load never served). */
    current_production(repo, name, &st, b, prev, sizeof prev);
    if (prev[0] && strcmp(prev, version) != 0) {
      if (st.nhistory == 32) {
        memmove(st.history[0], st.history[1], sizeof st.history[0] * 31);
        st.nhistory--;
      }
      snprintf(st.history[st.nhistory++], sizeof st.history[0], "%s", prev);
    }
    snprintf(st.production, sizeof st.production, "%s", version);
    clear_other_stages(&st);
  }
  if ((rc = fr_stages_write(repo, name, &st, err)))
    return rc;
  if (out)
    *out = st;
  return 0;
}

static int do_rollback(const char *repo, const char *name, const fr__release_base *b,
                       fr_stages *out, fr_error *err) {
  fr_stages st;
  int rc = fr_stages_read(repo, name, &st, err);
  if (rc)
    return rc;
  char target[sizeof st.production];
  if (st.nhistory == 0) {
    /* Never promoted: production was implicitly the newest servable
     * version (a bundle when the model has any); roll back to the
     * servable one of the same kind before it. */
    char cur[sizeof st.production] = "";
    if (!st.production[0])
      current_production(repo, name, &st, b, cur, sizeof cur);
    target[0] = '\0';
    if (cur[0])
      newest_servable(repo, name, cur, is_bundle_dir(repo, name, cur), target, sizeof target);
    if (!target[0]) {
      char **vs = fr_repository_versions(repo, name, err);
      if (!vs)
        return err ? err->code : FR_ENOTFOUND;
      fr_strv_free(vs);
      return fr_error_set(err, FR_ESTATE,
                          "model '%s': no earlier production version to roll back to", name);
    }
  } else {
    snprintf(target, sizeof target, "%s", st.history[st.nhistory - 1]);
  }
  if ((rc = release_ok(repo, name, &st, b, target, err)))
    return rc;
  if (st.nhistory)
    st.nhistory--;
  snprintf(st.production, sizeof st.production, "%s", target);
  clear_other_stages(&st);
  if ((rc = fr_stages_write(repo, name, &st, err)))
    return rc;
  if (out)
    *out = st;
  return 0;
}

static int do_canary(const char *repo, const char *name, const char *version, double weight,
                     const fr__release_base *b, fr_stages *out, fr_error *err) {
  int clear = !version || !version[0];
  /* DBL_MIN: a weight that underflowed (1e-400 reads as 0, 1e-310 as a
   * subnormal) is a typo, not a request to end the canary. */
  if (!clear && !(weight >= DBL_MIN && weight <= 1))
    return fr_error_set(err, FR_EINVAL,
                        "canary weight must be a number in (0, 1]; a canary ends by naming no "
                        "version");
  int rc;
  fr_stages st;
  if ((clear && (rc = model_exists(repo, name, err))) ||
      (rc = fr_stages_read(repo, name, &st, err)))
    return rc;
  if (clear) {
    st.canary[0] = '\0';
    st.canary_weight = 0;
  } else {
    if ((rc = side_version_ok(repo, name, &st, b, version, "canary", err)))
      return rc;
    snprintf(st.canary, sizeof st.canary, "%s", version);
    st.canary_weight = weight;
  }
  if ((rc = fr_stages_write(repo, name, &st, err)))
    return rc;
  if (out)
    *out = st;
  return 0;
}

static int do_shadow(const char *repo, const char *name, const char *version,
                     const fr__release_base *b, fr_stages *out, fr_error *err) {
  int rc;
  fr_stages st;
  int clear = !version || !version[0];
  if ((clear && (rc = model_exists(repo, name, err))) ||
      (rc = fr_stages_read(repo, name, &st, err)))
    return rc;
  if (clear) {
    st.shadow[0] = '\0';
  } else {
    if ((rc = side_version_ok(repo, name, &st, b, version, "shadow", err)))
      return rc;
    snprintf(st.shadow, sizeof st.shadow, "%s", version);
  }
  if ((rc = fr_stages_write(repo, name, &st, err)))
    return rc;
  if (out)
    *out = st;
  return 0;
}

int fr_repository_promote(const char *repo, const char *name, const char *version,
                          const char *stage, fr_stages *out, fr_error *err) {
  return do_promote(repo, name, version, stage, NULL, out, err);
}

int fr_repository_rollback(const char *repo, const char *name, fr_stages *out,
                           fr_error *err) {
  return do_rollback(repo, name, NULL, out, err);
}

int fr_repository_set_canary(const char *repo, const char *name, const char *version,
                             double weight, fr_stages *out, fr_error *err) {
  return do_canary(repo, name, version, weight, NULL, out, err);
}

int fr_repository_set_shadow(const char *repo, const char *name, const char *version,
                             fr_stages *out, fr_error *err) {
  return do_shadow(repo, name, version, NULL, out, err);
}

int fr__repository_release(const char *repo, const char *name, int op, const char *version,
                           const char *stage, double weight, const fr__release_base *b,
                           fr_stages *out, fr_error *err) {
  switch (op) {
  case 0:
    return do_promote(repo, name, version, stage, b, out, err);
  case 1:
    return do_rollback(repo, name, b, out, err);
  case 2:
    return do_canary(repo, name, version, weight, b, out, err);
  case 3:
    return do_shadow(repo, name, version, b, out, err);
  }
  return fr_error_set(err, FR_EINVAL, "fr__repository_release: unknown operation %d", op);
}
