/*
 * admin.c - the admin API (its own listener, bearer token): the Triton-style
 * model repository extension (index, load, unload) and the release
 * operations (promote, rollback, canary, shadow), which write stages.json in
 * the repository (so a restart keeps them) and then re-sync the model, so
 * the new routing is swapped in atomically: requests in flight finish on the
 * snapshot they started with, none is dropped.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "serve/models.h"
#include "serve/repocheck.h"

static json_t *body_json(fr__req *r, int required) {
  if (r->body.len == 0) {
    if (required)
      fr__req_error(r, 400, FR__REASON_MISSING, "a JSON body is required");
    return required ? NULL : json_object();
  }
  json_error_t je;
  json_t *j = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je);
  if (!j || !json_is_object(j)) {
    fr__req_error(r, 400, FR__REASON_BAD_JSON, "invalid JSON body%s%s",
                  j ? ": expected an object" : ": ", j ? "" : je.text);
    json_decref(j);
    return NULL;
  }
  return j;
}

void fr__h_repo_index(fr__req *r) {
  fr_server *s = r->app;
  json_t *b = body_json(r, 0);
  if (!b)
    return;
  json_t *ready = json_object_get(b, "ready");
  if (ready && !json_is_boolean(ready)) {
    fr__req_error(r, 400, FR__REASON_BAD_TYPE, "ready: must be true or false");
    json_decref(b);
    return;
  }
  fr__registry_index(s->registry, json_is_true(ready), &r->out);
  json_decref(b);
}

void fr__h_repo_load(fr__req *r) {
  fr_server *s = r->app;
  const char *name = fr__route_capture(&r->match, "m");
  fr_error err;
  if (!fr_repository_name_ok(name)) {
    fr__req_error(r, 400, FR__REASON_BAD_JSON, "invalid model name '%s'", name);
    return;
  }
  snprintf(r->model, sizeof r->model, "%s", name);
  if (fr__registry_sync(s->registry, name, 1, &err)) {
    int unknown = err.code == FR_ENOTFOUND && !strstr(err.msg, "no version");
    if (unknown)
      r->model[0] = '\0';
    char pub[sizeof err.msg];
    fr__public_reason(s, err.msg, pub, sizeof pub);
    fr__req_error(r, unknown ? 404 : 400, unknown ? "unknown_model" : "load_failed", "%s", pub);
    return;
  }
  fr__buf_puts(&r->out, "{}");
}

void fr__h_repo_unload(fr__req *r) {
  fr_server *s = r->app;
  const char *name = fr__route_capture(&r->match, "m");
  if (fr__registry_unload(s->registry, name)) {
    fr__req_error(r, 404, "unknown_model", "model '%s' is not loaded", name);
    return;
  }
  snprintf(r->model, sizeof r->model, "%s", name);
  fr__buf_puts(&r->out, "{}");
}

static void put_release(fr_server *s, const char *name, fr__buf *o) {
  fr_stages st;
  fr_error err;
  int ok = fr_stages_read(s->cfg.model_repository, name, &st, &err) == 0;
  fr__buf_puts(o, "{\"name\":");
  fr__buf_json_str(o, name, strlen(name));
  fr__buf_puts(o, ",\"stages\":");
  if (!ok) {
    char pub[sizeof err.msg];
    fr__public_reason(s, err.msg, pub, sizeof pub);
    fr__buf_puts(o, "{\"error\":");
    fr__buf_json_str(o, pub, strlen(pub));
    fr__buf_putc(o, '}');
  } else {
    fr__buf_puts(o, "{\"production\":");
    fr__buf_json_str(o, st.production, strlen(st.production));
    fr__buf_puts(o, ",\"staging\":");
    fr__buf_json_str(o, st.staging, strlen(st.staging));
    fr__buf_puts(o, ",\"canary\":");
    if (st.canary[0]) {
      fr__buf_puts(o, "{\"version\":");
      fr__buf_json_str(o, st.canary, strlen(st.canary));
      fr__buf_puts(o, ",\"weight\":");
      fr__buf_json_double(o, st.canary_weight);
      fr__buf_putc(o, '}');
    } else {
      fr__buf_puts(o, "null");
    }
    fr__buf_puts(o, ",\"shadow\":");
    fr__buf_json_str(o, st.shadow, strlen(st.shadow));
    fr__buf_puts(o, ",\"history\":[");
    for (size_t i = 0; i < st.nhistory; i++) {
      if (i)
        fr__buf_putc(o, ',');
      fr__buf_json_str(o, st.history[i], strlen(st.history[i]));
    }
    fr__buf_puts(o, "]}");
  }
  fr__snapshot *snap = fr__registry_acquire(s->registry, name);
  fr__buf_puts(o, ",\"serving\":");
  if (!snap) {
    fr__buf_puts(o, "null}");
    return;
  }
  fr__buf_puts(o, "{\"production\":");
  fr__buf_json_str(o, snap->primary->version, strlen(snap->primary->version));
  fr__buf_puts(o, ",\"canary\":");
  if (snap->canary) {
    fr__buf_json_str(o, snap->canary->version, strlen(snap->canary->version));
    fr__buf_puts(o, ",\"canary_weight\":");
    fr__buf_json_double(o, snap->canary_weight);
  } else {
    fr__buf_puts(o, "null");
  }
  fr__buf_puts(o, ",\"shadow\":");
  if (snap->shadow)
    fr__buf_json_str(o, snap->shadow->version, strlen(snap->shadow->version));
  else
    fr__buf_puts(o, "null");
  fr__buf_puts(o, ",\"loaded\":[");
  for (size_t i = 0; i < snap->n; i++) {
    if (i)
      fr__buf_putc(o, ',');
    fr__buf_json_str(o, snap->v[i]->version, strlen(snap->v[i]->version));
  }
  fr__buf_puts(o, "]}}");
  fr__snapshot_release(snap);
}

void fr__h_releases(fr__req *r) {
  fr_server *s = r->app;
  const char *one = fr__route_capture(&r->match, "m");
  if (one) {
    char **vs = fr_repository_versions(s->cfg.model_repository, one, NULL);
    if (!vs) {
      fr__req_error(r, 404, "unknown_model", "unknown model '%s'", one);
      return;
    }
    fr_strv_free(vs);
    put_release(s, one, &r->out);
    return;
  }
  fr_error err;
  char **names = fr_repository_models(s->cfg.model_repository, &err);
  if (!names) {
    char pub[sizeof err.msg];
    fr__public_reason(s, err.msg, pub, sizeof pub);
    fr__req_error(r, 500, "internal", "%s", pub);
    return;
  }
  fr__buf_putc(&r->out, '[');
  for (size_t i = 0; names[i]; i++) {
    if (i)
      fr__buf_putc(&r->out, ',');
    put_release(s, names[i], &r->out);
  }
  fr__buf_putc(&r->out, ']');
  fr_strv_free(names);
}

static const char *const release_ops[] = {"promote", "rollback", "canary", "shadow"};

/* Answers a refused release with `status` and the reason, and logs it:
 * the log line carries the full message (it may name files), the answer
 * its public form (fr__public_reason). */
static void refuse(fr__req *r, int op, const char *name, const char *version, int status,
                   const char *reason, const char *msg) {
  fr_server *s = r->app;
  char fields[400];
  snprintf(fields, sizeof fields, "\"model\":\"%s\",\"operation\":\"%s\",\"version\":\"%s\","
           "\"status\":%d",
           name, release_ops[op], version && fr_repository_name_ok(version) ? version : "",
           status);
  fr_log(FR_LOG_WARN, "release_refused", fields, "model %s: %s refused: %s", name,
         release_ops[op], msg);
  char pub[1000];
  fr__public_reason(s, msg, pub, sizeof pub);
  fr__req_error(r, status, reason, "%s", pub);
}

/* Why the model does not serve `want` in the role asked for after a sync
 * that raised no error: the version's load error, or what serves instead. */
static void why_not_serving(fr_server *s, const char *name, const char *role, const char *want,
                            const fr__snapshot *snap, char *out, size_t cap) {
  char lerr[600];
  if (fr__registry_version_error(s->registry, name, want, lerr, sizeof lerr)) {
    snprintf(out, cap, "version %s failed to load: %s", want, lerr);
  } else if (!snap) {
    fr__registry_last_error(s->registry, name, lerr, sizeof lerr);
    snprintf(out, cap, "no version of model %s is loaded%s%s", name, lerr[0] ? ": " : "", lerr);
  } else if (!fr__snapshot_find((fr__snapshot *)snap, want)) {
    snprintf(out, cap, "version %s is not loaded (production is version %s)", want,
             snap->primary->version);
  } else {
    snprintf(out, cap, "version %s is loaded but is not the %s (production %s, canary %s, "
             "shadow %s)",
             want, role, snap->primary->version, snap->canary ? snap->canary->version : "none",
             snap->shadow ? snap->shadow->version : "none");
  }
}

/* Applies a stages.json change and re-syncs the model; when the model then
 * cannot serve as asked, restores the previous stages.json.  Every refusal
 * is answered with its reason and logged (event release_refused). */
static void release_op(fr__req *r, int op) {
  fr_server *s = r->app;
  const char *name = fr__route_capture(&r->match, "m");
  const char *repo = s->cfg.model_repository;
  if (!fr_repository_name_ok(name)) {
    /* A malformed name is a bad request (400, as for the repository load
     * and for a malformed version name), not an unknown model. */
    fr__req_error(r, 400, "bad_request", "invalid model name '%s'", name);
    return;
  }
  json_t *b = body_json(r, op != 1);
  if (!b)
    return;
  if (fr__registry_is_unloaded(s->registry, name)) {
    /* docs/api.md: an unloaded model stays unloaded until it is loaded
     * again; a release would load it as a side effect (and write a
     * stages.json the operator may not mean for a model taken out). */
    char msg[600];
    snprintf(msg, sizeof msg,
             "model %s was unloaded through the repository API: load it first "
             "(POST /v2/repository/models/%s/load)",
             name, name);
    refuse(r, op, name, NULL, 409, "conflict", msg);
    json_decref(b);
    return;
  }
  fr_stages before, after;
  fr_error err;
  int rc = fr_stages_read(repo, name, &before, &err);
  /* The checks compare with what this server serves (not the newest
   * version on disk, whose implicit switch it may have refused) and accept
   * a release back to what the model served before another interface got
   * in (repocheck.h). */
  char serving_v[32] = "", before_v[32] = "";
  fr__snapshot *now = fr__registry_acquire(s->registry, name);
  if (now)
    snprintf(serving_v, sizeof serving_v, "%s", now->primary->version);
  fr__snapshot_release(now);
  fr_bundle *before_b = fr__registry_release_base(s->registry, name, before_v, sizeof before_v);
  fr__release_base base = {serving_v, before_v, before_b};
  const char *version = NULL;
  json_t *jv = json_object_get(b, "version");
  if (jv && !json_is_null(jv)) {
    if (!json_is_string(jv)) {
      fr__req_error(r, 400, FR__REASON_BAD_TYPE, "version: must be a string");
      goto out;
    }
    version = json_string_value(jv);
  }
  /* Canary and shadow end with "version": null, said explicitly: a body
   * that forgot the version must not end a release by accident. */
  if ((op == 2 || op == 3) && !jv) {
    fr__req_error(r, 400, FR__REASON_MISSING, "version: missing (null ends the %s)",
                  release_ops[op]);
    goto out;
  }
  if (!rc) {
    switch (op) {
    case 0: { /* promote */
      json_t *stage = json_object_get(b, "stage");
      if (!version) {
        fr__req_error(r, 400, FR__REASON_MISSING, "version: missing");
        goto out;
      }
      if (stage && !json_is_string(stage)) {
        fr__req_error(r, 400, FR__REASON_BAD_TYPE, "stage: must be \"production\" or \"staging\"");
        goto out;
      }
      rc = fr__repository_release(repo, name, 0, version,
                                  stage ? json_string_value(stage) : NULL, 0, &base, &after,
                                  &err);
      break;
    }
    case 1: /* rollback */
      rc = fr__repository_release(repo, name, 1, NULL, NULL, 0, &base, &after, &err);
      break;
    case 2: { /* canary */
      json_t *w = json_object_get(b, "weight");
      if (version && !json_is_number(w)) {
        fr__req_error(r, 400, w ? FR__REASON_BAD_TYPE : FR__REASON_MISSING,
                      "weight: a number in (0, 1] is required");
        goto out;
      }
      rc = fr__repository_release(repo, name, 2, version, NULL,
                                  version ? json_number_value(w) : 0, &base, &after, &err);
      break;
    }
    case 3: /* shadow */
      rc = fr__repository_release(repo, name, 3, version, NULL, 0, &base, &after, &err);
      break;
    }
  }
  if (rc) {
    int st = rc == FR_ENOTFOUND ? 404 : rc == FR_EIO ? 500 : rc == FR_ESTATE ? 409 : 400;
    refuse(r, op, name, version, st,
           st == 404 ? "unknown_model" : st == 409 ? "conflict" : "bad_request", err.msg);
    goto out;
  }
  snprintf(r->model, sizeof r->model, "%s", name);
  fr_error serr;
  /* Not forced: a version that failed to load is retried only when its
   * directory changes (docs/server.md), so a release call does not load an
   * unchanged broken version again (a new model_load_failed and a failure
   * counted for the FraudModelLoadFailed alert at every call).  A release
   * naming such a version is answered 409 with its load error
   * (why_not_serving). */
  rc = fr__registry_sync(s->registry, name, 0, &serr);
  fr__snapshot *snap = fr__registry_acquire(s->registry, name);
  const char *want = op == 0 && strcmp(after.production, version ? version : "") == 0
                         ? after.production
                     : op == 1 ? after.production
                               : NULL;
  const char *role = "production";
  int serving_ok = snap && (!want || !want[0] || strcmp(snap->primary->version, want) == 0);
  if (op == 2 && after.canary[0]) {
    want = after.canary;
    role = "canary";
    serving_ok = snap && snap->canary && strcmp(snap->canary->version, after.canary) == 0;
  }
  if (op == 3 && after.shadow[0]) {
    want = after.shadow;
    role = "shadow";
    serving_ok = snap && snap->shadow && strcmp(snap->shadow->version, after.shadow) == 0;
  }
  char why[1000] = "";
  if (!serving_ok) {
    if (rc)
      snprintf(why, sizeof why, "%s", serr.msg);
    else if (want && want[0])
      why_not_serving(s, name, role, want, snap, why, sizeof why);
    else
      snprintf(why, sizeof why, "model %s has no loaded version", name);
  }
  fr__snapshot_release(snap);
  if (!serving_ok) {
    fr_error werr;
    fr_stages_write(repo, name, &before, &werr);
    fr__registry_sync(s->registry, name, 0, NULL);
    char msg[1200];
    snprintf(msg, sizeof msg,
             "model %s: the requested version could not be served (%s); stages.json restored",
             name, why);
    refuse(r, op, name, want ? want : version, 409, "load_failed", msg);
    goto out;
  }
  fr_log(FR_LOG_INFO, "release", NULL, "model %s: %s done (production %s)", name, release_ops[op],
         after.production[0] ? after.production : "newest");
  put_release(s, name, &r->out);
out:
  fr_bundle_unref(before_b);
  json_decref(b);
}

void fr__h_promote(fr__req *r) { release_op(r, 0); }
void fr__h_rollback(fr__req *r) { release_op(r, 1); }
void fr__h_canary(fr__req *r) { release_op(r, 2); }
void fr__h_shadow(fr__req *r) { release_op(r, 3); }

void fr__h_reload(fr__req *r) {
  fr_server *s = r->app;
  fr_error err;
  if (fr_server_reload(s, NULL, &err)) {
    char pub[sizeof err.msg];
    fr__public_reason(s, err.msg, pub, sizeof pub);
    fr__req_error(r, 400, "bad_request", "reload failed, previous configuration kept: %s", pub);
    return;
  }
  fr__buf_puts(&r->out, "{\"reloaded\":true}");
}
