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
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "serve/buf.h"

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
  if (!version || !fr_repository_name_ok(version))
    return fr_error_set(err, FR_ENOTFOUND, "invalid version name '%s'", version ? version : "");
  char *d1 = fr_path_join(repo, name);
  char *d2 = d1 ? fr_path_join(d1, version) : NULL;
  int ok = d2 && fr_is_dir(d2);
  int model_ok = d1 && fr_is_dir(d1);
  free(d1);
  free(d2);
  if (!model_ok)
    return fr_error_set(err, FR_ENOTFOUND, "model '%s' not found in repository %s", name, repo);
  if (!ok)
    return fr_error_set(err, FR_ENOTFOUND, "version '%s' of model '%s' not found in %s",
                        version, name, repo);
  return 0;
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

/* version_exists, fr_repository_manifest_check, and for a bundle what the
 * server's load verifies (fr_bundle_open: every file's sha256, schema, spec,
 * model).  FR_ESTATE naming the version and the reason. */
static int version_servable(const char *repo, const char *name, const char *version,
                            fr_error *err) {
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
  if (fr_is_file(mp)) {
    fr_bundle *b = fr_bundle_open(d2, &e);
    if (!b)
      rc = fr_error_set(err, FR_ESTATE, "version '%s' of model '%s' cannot be served: %s",
                        version, name, e.msg);
    fr_bundle_unref(b);
  }
  free(mp);
  free(d2);
  return rc;
}

/* The newest version of a model (the implicit production), "" if none. */
static void newest_version(const char *repo, const char *name, char *out, size_t cap) {
  out[0] = '\0';
  char **vs = fr_repository_versions(repo, name, NULL);
  size_t n = 0;
  while (vs && vs[n])
    n++;
  if (n)
    snprintf(out, cap, "%s", vs[n - 1]);
  fr_strv_free(vs);
}

/* A canary or shadow ("role") for `version`: a version the server loads,
 * other than the one serving as production (the promoted one, else the
 * newest).  0, or the error of version_servable / FR_ESTATE. */
static int side_version_ok(const char *repo, const char *name, const fr_stages *st,
                           const char *version, const char *role, fr_error *err) {
  int rc = version_servable(repo, name, version, err);
  if (rc)
    return rc;
  char prod[sizeof st->production];
  snprintf(prod, sizeof prod, "%s", st->production);
  if (!prod[0])
    newest_version(repo, name, prod, sizeof prod);
  if (strcmp(prod, version) == 0)
    return fr_error_set(err, FR_ESTATE,
                        "version '%s' of model '%s' is production: a %s must be another "
                        "version",
                        version, name, role);
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

int fr_repository_promote(const char *repo, const char *name, const char *version,
                          const char *stage, fr_stages *out, fr_error *err) {
  int rc = version_servable(repo, name, version, err);
  if (rc)
    return rc;
  fr_stages st;
  if ((rc = fr_stages_read(repo, name, &st, err)))
    return rc;
  if (stage && strcmp(stage, "staging") == 0) {
    snprintf(st.staging, sizeof st.staging, "%s", version);
  } else if (!stage || strcmp(stage, "production") == 0) {
    if (st.production[0] && strcmp(st.production, version) != 0) {
      if (st.nhistory == 32) {
        memmove(st.history[0], st.history[1], sizeof st.history[0] * 31);
        st.nhistory--;
      }
      memcpy(st.history[st.nhistory++], st.production, sizeof st.production);
    } else if (!st.production[0]) {
      /* Nothing was promoted before: the newest version was serving; keep it
       * as the rollback target. */
      char newest[sizeof st.production];
      newest_version(repo, name, newest, sizeof newest);
      if (newest[0] && strcmp(newest, version) != 0)
        snprintf(st.history[st.nhistory++], sizeof st.history[0], "%s", newest);
    }
    snprintf(st.production, sizeof st.production, "%s", version);
    clear_other_stages(&st);
  } else {
    return fr_error_set(err, FR_EINVAL, "unknown stage '%s' (expected production or staging)",
                        stage);
  }
  if ((rc = fr_stages_write(repo, name, &st, err)))
    return rc;
  if (out)
    *out = st;
  return 0;
}

int fr_repository_rollback(const char *repo, const char *name, fr_stages *out,
                           fr_error *err) {
  fr_stages st;
  int rc = fr_stages_read(repo, name, &st, err);
  if (rc)
    return rc;
  if (st.nhistory == 0) {
    /* Never promoted: production was implicitly the newest version; roll back
     * to the one before it. */
    char **vs = fr_repository_versions(repo, name, err);
    if (!vs)
      return err ? err->code : FR_ENOTFOUND;
    size_t n = 0;
    while (vs[n])
      n++;
    if (st.production[0] || n < 2) {
      fr_strv_free(vs);
      return fr_error_set(err, FR_ESTATE, "model '%s': no earlier production version to roll "
                                          "back to", name);
    }
    snprintf(st.production, sizeof st.production, "%s", vs[n - 2]);
    fr_strv_free(vs);
  } else {
    memcpy(st.production, st.history[--st.nhistory], sizeof st.production);
    if ((rc = version_servable(repo, name, st.production, err)))
      return rc;
  }
  clear_other_stages(&st);
  if ((rc = fr_stages_write(repo, name, &st, err)))
    return rc;
  if (out)
    *out = st;
  return 0;
}

int fr_repository_set_canary(const char *repo, const char *name, const char *version,
                             double weight, fr_stages *out, fr_error *err) {
  if (!(weight >= 0 && weight <= 1))
    return fr_error_set(err, FR_EINVAL, "canary weight must be between 0 and 1");
  int rc;
  fr_stages st;
  if ((rc = fr_stages_read(repo, name, &st, err)))
    return rc;
  if (weight == 0 || !version || !version[0]) {
    st.canary[0] = '\0';
    st.canary_weight = 0;
  } else {
    if ((rc = side_version_ok(repo, name, &st, version, "canary", err)))
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

int fr_repository_set_shadow(const char *repo, const char *name, const char *version,
                             fr_stages *out, fr_error *err) {
  int rc;
  fr_stages st;
  if ((rc = fr_stages_read(repo, name, &st, err)))
    return rc;
  if (!version || !version[0]) {
    st.shadow[0] = '\0';
  } else {
    if ((rc = side_version_ok(repo, name, &st, version, "shadow", err)))
      return rc;
    snprintf(st.shadow, sizeof st.shadow, "%s", version);
  }
  if ((rc = fr_stages_write(repo, name, &st, err)))
    return rc;
  if (out)
    *out = st;
  return 0;
}
