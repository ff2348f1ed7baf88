/*
 * cmd_models.c - `fraud models list|show|diff|promote|rollback|canary|shadow`:
 * the model repository from the command line.  Release operations write
 * stages.json in the repository (fr_repository_*), or, with --server URL,
 * go through a running server's admin API, which writes it and swaps the
 * routing in the same step.
 */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fraud/model.h"
#include "fraud/serve.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: fraud models list    --repository DIR [--json]\n"
          "       fraud models show    --repository DIR NAME [VERSION]\n"
          "       fraud models diff    --repository DIR NAME V1 V2\n"
          "       fraud models promote  (--repository DIR | --server URL) NAME VERSION [--stage staging]\n"
          "       fraud models rollback (--repository DIR | --server URL) NAME\n"
          "       fraud models canary   (--repository DIR | --server URL) NAME (VERSION --weight W | --off)\n"
          "       fraud models shadow   (--repository DIR | --server URL) NAME [VERSION | --off]\n"
          "\n"
          "The repository holds DIR/<name>/<version>/ bundles (immutable: `fraud train\n"
          "--out` refuses an existing version) and DIR/<name>/stages.json with the\n"
          "release state: production, staging, canary (version and weight: the\n"
          "fraction of cards routed to it, sticky per card), shadow (scores the same\n"
          "traffic for metrics and logs only) and the history rollback uses.\n"
          "\n"
          "  list      every model and version with its stage, creation time and test\n"
          "            PR-AUC; a version the server refuses (its manifest names\n"
          "            another model or version than its directory, or the bundle\n"
          "            fails its load: a file's sha256 against the manifest, a model\n"
          "            whose objective is not binary:logistic...) has the stage\n"
          "            'invalid' and the reason at the end of its line (--json:\n"
          "            \"problem\"); without a promotion production is the newest\n"
          "            version the server loads, a bundle when the model has any (a\n"
          "            bare model file next to bundles never is); exits 1 (after\n"
          "            listing) when a stages.json does not parse, naming the file,\n"
          "            line and column\n"
          "  show      JSON: a version (default: the production one, as list gives\n"
          "            it) with its \"stage\" as list shows it (\"problem\" when\n"
          "            invalid), \"stages\": the model's stages.json as fraud writes\n"
          "            it (\"\" for an unset stage; all unset without one), and its\n"
          "            \"manifest\"\n"
          "  diff      parameters, thresholds and metrics that differ between versions\n"
          "  promote   make VERSION production (or staging with --stage staging)\n"

          "  rollback  production returns to the previous production version\n"
          "  canary    route the fraction W of cards to VERSION, 0 < W <= 1; --off ends\n"
          "            the canary\n"
          "  shadow    score traffic with VERSION too, for comparison; --off ends it\n"          "\n"
          "Release commands refuse a version the server could not serve as asked:\n"
          "one that does not load (manifest, sha256, model file), a directory not\n"
          "named by a number, and for production, canary, shadow and rollback one\n"
          "that cannot serve what production serves (a bare model where production\n"
          "is a bundle, another transaction schema or feature vector).\n"
          "\n"
          "--server URL --token T: act through a running server's admin API (token\n"
          "also from FRAUD_ADMIN_TOKEN); the server rewrites stages.json and swaps\n"
          "the new routing in without dropping a request.\n");
}

typedef struct opts {
  const char *repo, *server, *token, *stage;
  double weight;
  int has_weight, off, json;
  const char *pos[4];
  int npos;
} opts;

static int parse(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof *o);
  o->token = getenv("FRAUD_ADMIN_TOKEN");
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char **dst = strcmp(a, "--repository") == 0 ? &o->repo
                       : strcmp(a, "--server") == 0   ? &o->server
                       : strcmp(a, "--token") == 0    ? &o->token
                       : strcmp(a, "--stage") == 0    ? &o->stage
                                                      : NULL;
    if (dst || strcmp(a, "--weight") == 0) {
      if (i + 1 >= argc)
        return fr_cli_usage_error("models", "%s needs a value", a);
      if (dst) {
        *dst = argv[++i];
      } else {
        /* DBL_MIN: "1e-400" reads as 0 and "1e-310" as a subnormal; both
         * are typos, not a request to end the canary (that is --off). */
        const char *w = argv[++i];
        if (!fr_cli_number_text_ok(w) || fr_parse_double(w, strlen(w), &o->weight) ||
            !(o->weight >= DBL_MIN && o->weight <= 1))
          return fr_cli_usage_error("models", "--weight is a fraction of cards in (0, 1], not "
                                              "'%s' (--off ends a canary)",
                                    w);
        o->has_weight = 1;
      }
    } else if (strcmp(a, "--off") == 0) {
      o->off = 1;
    } else if (strcmp(a, "--json") == 0) {
      o->json = 1;
    } else if (a[0] == '-' && a[1]) {
      return fr_cli_usage_error("models", "unknown option '%s'", a);
    } else {
      if (o->npos == 4)
        return fr_cli_usage_error("models", "unexpected argument '%s'", a);
      o->pos[o->npos++] = a;
    }
  }
  return 0;
}

/* 0 when REPO/NAME/VERSION is a directory; else FR_ENOTFOUND naming the
 * model or the version that is not there, as the release commands do (not a
 * missing manifest.json, which would suggest the version exists as a bare
 * model). */
static int version_there(const char *repo, const char *name, const char *version,
                         fr_error *err) {
  char path[4096];
  if (!fr_repository_name_ok(name))
    return fr_error_set(err, FR_ENOTFOUND, "invalid model name '%s'", name);
  if (!fr_repository_name_ok(version))
    return fr_error_set(err, FR_ENOTFOUND, "invalid version name '%s'", version);
  snprintf(path, sizeof path, "%s/%s", repo, name);
  if (!fr_is_dir(path))
    return fr_error_set(err, FR_ENOTFOUND, "model '%s' not found in repository %s", name, repo);
  snprintf(path, sizeof path, "%s/%s/%s", repo, name, version);
  if (!fr_is_dir(path))
    return fr_error_set(err, FR_ENOTFOUND, "model '%s' has no version '%s' in %s", name, version,
                        repo);
  return 0;
}

static json_t *manifest(const char *repo, const char *name, const char *version, fr_error *err) {
  char path[4096];
  if (version_there(repo, name, version, err))
    return NULL;
  snprintf(path, sizeof path, "%s/%s/%s/manifest.json", repo, name, version);
  json_error_t je;
  json_t *m = json_load_file(path, 0, &je);
  if (!m)
    fr_error_set(err, fr_is_file(path) ? FR_EPARSE : FR_ENOTFOUND, "%s: %s", path,
                 fr_is_file(path) ? je.text : "no manifest (a bare model file, or not a bundle)");
  return m;
}

/* Why the server would refuse version `version` of `name`, "" when it
 * would load it: the manifest rule (fr_repository_manifest_check: the
 * manifest names this model and version), then, for a bundle, the bundle
 * loader's own verification, fr_bundle_open (every file's sha256 against
 * the manifest, schema, feature spec, the model and its binary:logistic
 * objective), which is what the server's load runs.  A bare model file (no
 * manifest.json) is judged by the manifest rule only. */
static void version_problem(const char *repo, const char *name, const char *version,
                            char *out, size_t cap) {
  out[0] = '\0';
  fr_error e;
  if (fr_repository_manifest_check(repo, name, version, &e)) {
    snprintf(out, cap, "%s", e.msg);
    return;
  }
  char dir[4096], mp[4200];
  snprintf(dir, sizeof dir, "%s/%s/%s", repo, name, version);
  snprintf(mp, sizeof mp, "%s/manifest.json", dir);
  if (!fr_is_file(mp))
    return;
  fr_bundle *b = fr_bundle_open(dir, &e);
  if (!b)
    snprintf(out, cap, "%s", e.msg);
  fr_bundle_unref(b);
}

static const char *stage_of(const fr_stages *st, const char *v, char *buf, size_t cap) {
  buf[0] = '\0';
  const char *parts[4];
  int n = 0;
  if (strcmp(st->production, v) == 0)
    parts[n++] = "production";
  if (strcmp(st->staging, v) == 0)
    parts[n++] = "staging";
  if (strcmp(st->canary, v) == 0)
    parts[n++] = "canary";
  if (strcmp(st->shadow, v) == 0)
    parts[n++] = "shadow";
  for (int i = 0; i < n; i++)
    snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? "," : "", parts[i]);
  return n ? buf : "-";
}

/* The release state in the form fr_stages_write gives stages.json
 * (docs/server.md, "Releases"): "" for an unset stage, canary null when
 * there is none.  What the file says, not what serves. */
static json_t *stages_json(const fr_stages *st) {
  json_t *hist = json_array();
  for (size_t i = 0; i < st->nhistory; i++)
    json_array_append_new(hist, json_string(st->history[i]));
  json_t *canary = st->canary[0] ? json_pack("{s:s, s:f}", "version", st->canary, "weight",
                                             st->canary_weight)
                                 : json_null();
  return json_pack("{s:s, s:s, s:o, s:s, s:o}", "production", st->production, "staging",
                   st->staging, "canary", canary, "shadow", st->shadow, "history", hist);
}

static int cmd_list(const opts *o) {
  fr_error err;
  char **names = fr_repository_models(o->repo, &err);
  if (!names)
    return fr_cli_fail("models", &err);
  json_t *all = json_array();
  if (!o->json)
    printf("%-20s %-8s %-22s %-21s %s\n", "MODEL", "VERSION", "STAGE", "CREATED", "TEST PR-AUC");
  int failed = 0;
  for (size_t i = 0; names[i]; i++) {
    fr_stages st;
    int stages_bad = fr_stages_read(o->repo, names[i], &st, &err) != 0;
    if (stages_bad) {
      /* The other models are still listed (and this one's versions, with
       * no stage: a server keeps the routing it had and guesses none), but
       * the command fails: the release state on disk is not one anybody can
       * act on. */
      fprintf(stderr, "fraud models: %s\n", err.msg);
      failed = 1;
    }
    char **vs = fr_repository_versions(o->repo, names[i], &err);
    size_t nv = 0;
    while (vs && vs[nv])
      nv++;
    json_t **ms = calloc(nv ? nv : 1, sizeof *ms);
    char(*problem)[512] = calloc(nv ? nv : 1, sizeof *problem);
    if (!ms || !problem) {
      free(ms);
      free(problem);
      fr_strv_free(vs);
      continue;
    }
    for (size_t k = 0; k < nv; k++) {
      ms[k] = manifest(o->repo, names[i], vs[k], NULL);
      /* The server's checks: "" when servable. */
      version_problem(o->repo, names[i], vs[k], problem[k], sizeof problem[k]);
    }
    /* Without a promotion, the implicit production serves: the newest
     * version the server loads, a bundle when the model has any (the
     * server's rule). */
    if (!stages_bad && !st.production[0])
      fr_repository_implicit_production(o->repo, names[i], st.production, sizeof st.production,
                                        NULL);
    for (size_t k = 0; k < nv; k++) {
      json_t *m = ms[k];
      const char *created = m ? json_string_value(json_object_get(m, "created")) : NULL;
      /* The manifest's metrics are {"test": {...}, "valid": {...}}
       * (docs/bundle.md); the test slice's is the one listed. */
      json_t *pr = m ? json_object_get(
                           json_object_get(json_object_get(m, "metrics"), "test"), "pr_auc")
                     : NULL;
      char stage[64];
      stage_of(&st, vs[k], stage, sizeof stage);
      /* A version the server refuses serves nothing, whatever stages.json
       * says: it is listed as invalid, with the reason. */
      if (problem[k][0])
        snprintf(stage, sizeof stage, "invalid");
      if (o->json) {
        json_array_append_new(
            all, json_pack("{s:s, s:s, s:s, s:s?, s:O?, s:s?}", "model", names[i], "version",
                           vs[k], "stage", stage[0] ? stage : "-", "created", created,
                           "test_pr_auc", pr, "problem", problem[k][0] ? problem[k] : NULL));
      } else {
        char prs[32] = "-";
        if (json_is_number(pr))
          fr_snprintf_c(prs, sizeof prs, "%.4f", json_number_value(pr));
        printf("%-20s %-8s %-22s %-21s %-*s%s%s\n", names[i], vs[k], stage[0] ? stage : "-",
               created ? created : (m ? "-" : "(not a bundle)"), problem[k][0] ? 11 : 0, prs,
               problem[k][0] ? "  " : "", problem[k]);
      }
      json_decref(m);
    }
    free(ms);
    free(problem);
    fr_strv_free(vs);
  }
  if (o->json) {
    char *t = json_dumps(all, JSON_INDENT(2));
    if (t)
      puts(t);
    free(t);
  }
  json_decref(all);
  fr_strv_free(names);
  return failed ? FR_EXIT_FAIL : FR_EXIT_OK;
}

static int cmd_show(const opts *o) {
  if (o->npos < 1 || o->npos > 2)
    return fr_cli_usage_error("models", "show takes NAME [VERSION]");
  fr_error err;
  fr_stages st;
  if (fr_stages_read(o->repo, o->pos[0], &st, &err))
    return fr_cli_fail("models", &err);
  char version[32];
  if (o->npos == 2) {
    snprintf(version, sizeof version, "%s", o->pos[1]);
  } else if (st.production[0]) {
    snprintf(version, sizeof version, "%s", st.production);
  } else {
    if (fr_repository_implicit_production(o->repo, o->pos[0], version, sizeof version, &err))
      return fr_cli_fail("models", &err);
    if (!version[0]) {
      fr_error_set(&err, FR_ENOTFOUND, "model '%s' has no version the server can load",
                   o->pos[0]);
      return fr_cli_fail("models", &err);
    }
  }
  json_t *m = manifest(o->repo, o->pos[0], version, &err);
  if (!m)
    return fr_cli_fail("models", &err);
  /* The stage as `list` gives it: stages.json's, with the implicit
   * production when nothing is promoted, and "invalid" (with the reason)
   * for a version the server refuses. */
  json_t *stages = stages_json(&st);
  fr_stages eff = st;
  if (!eff.production[0])
    fr_repository_implicit_production(o->repo, o->pos[0], eff.production,
                                      sizeof eff.production, NULL);
  char stage[64], buf[64], problem[512];
  snprintf(stage, sizeof stage, "%s", stage_of(&eff, version, buf, sizeof buf));
  version_problem(o->repo, o->pos[0], version, problem, sizeof problem);
  if (problem[0])
    snprintf(stage, sizeof stage, "invalid");
  json_t *out = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:O}", "model", o->pos[0], "version",
                          version, "stage", stage, "problem", problem[0] ? problem : NULL,
                          "stages", stages, "manifest", m);
  char *t = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
  if (t)
    puts(t);
  free(t);
  json_decref(out);
  json_decref(m);
  return FR_EXIT_OK;
}

/* Prints the leaves of a and b under `path` that differ. */
static void diff_json(const char *path, json_t *a, json_t *b, int *n) {
  if (json_is_object(a) && json_is_object(b)) {
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v) {
      char p[512];
      snprintf(p, sizeof p, "%s.%s", path, k);
      diff_json(p, v, json_object_get(b, k), n);
    }
    json_object_foreach(b, k, v) {
      if (!json_object_get(a, k)) {
        char p[512];
        snprintf(p, sizeof p, "%s.%s", path, k);
        diff_json(p, NULL, v, n);
      }
    }
    return;
  }
  if (a && b && json_equal(a, b))
    return;
  char *ta = a ? json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  char *tb = b ? json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  printf("%-40s %-24s %s\n", path, ta ? ta : "(absent)", tb ? tb : "(absent)");
  free(ta);
  free(tb);
  (*n)++;
}

static int cmd_diff(const opts *o) {
  if (o->npos != 3)
    return fr_cli_usage_error("models", "diff takes NAME V1 V2");
  fr_error err;
  /* A version that is not there first, before a manifest that is missing. */
  if (version_there(o->repo, o->pos[0], o->pos[1], &err) ||
      version_there(o->repo, o->pos[0], o->pos[2], &err))
    return fr_cli_fail("models", &err);
  json_t *a = manifest(o->repo, o->pos[0], o->pos[1], &err);
  if (!a)
    return fr_cli_fail("models", &err);
  json_t *b = manifest(o->repo, o->pos[0], o->pos[2], &err);
  if (!b) {
    json_decref(a);
    return fr_cli_fail("models", &err);
  }
  printf("%-40s %-24s %s\n", "FIELD", o->pos[1], o->pos[2]);
  int n = 0;
  static const char *const parts[] = {"parameters", "thresholds", "metrics", "features",
                                      "created", "schema"};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    diff_json(parts[i], json_object_get(a, parts[i]), json_object_get(b, parts[i]), &n);
  if (!n)
    printf("(no differences in parameters, thresholds, metrics or features)\n");
  json_decref(a);
  json_decref(b);
  return FR_EXIT_OK;
}

static void print_stages(const char *name, const fr_stages *st) {
  printf("%s: production %s, staging %s, canary %s", name,
         st->production[0] ? st->production : "(newest)", st->staging[0] ? st->staging : "-",
         st->canary[0] ? st->canary : "-");
  if (st->canary[0]) {
    char w[32];
    fr_fmt_double(w, sizeof w, st->canary_weight);
    printf(" (weight %s)", w);
  }
  printf(", shadow %s", st->shadow[0] ? st->shadow : "-");
  /* Where a rollback goes (or that there is nowhere to go). */
  if (st->nhistory)
    printf(", rollback to %s\n", st->history[st->nhistory - 1]);
  else
    printf(", no rollback target\n");
}

/* The "stages" member of an admin API release answer (put_release in
 * src/serve/admin.c: production, staging, canary {version, weight} or null,
 * shadow, history) into *st.  0, or -1 when it is not there or not of that
 * shape. */
static int stages_from_json(json_t *j, fr_stages *st) {
  memset(st, 0, sizeof *st);
  json_t *o = json_object_get(j, "stages");
  if (!json_is_object(o) || json_object_get(o, "error"))
    return -1;
  struct {
    const char *key;
    char *dst;
  } f[] = {{"production", st->production}, {"staging", st->staging}, {"shadow", st->shadow}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    json_t *v = json_object_get(o, f[i].key);
    if (v && !json_is_string(v))
      return -1;
    snprintf(f[i].dst, sizeof st->production, "%s", v ? json_string_value(v) : "");
  }
  json_t *c = json_object_get(o, "canary");
  if (json_is_object(c)) {
    json_t *v = json_object_get(c, "version"), *w = json_object_get(c, "weight");
    if (!json_is_string(v) || !json_is_number(w))
      return -1;
    snprintf(st->canary, sizeof st->canary, "%s", json_string_value(v));
    st->canary_weight = json_number_value(w);
  } else if (c && !json_is_null(c)) {
    return -1;
  }
  json_t *h = json_object_get(o, "history");
  size_t k;
  json_t *v;
  json_array_foreach(h, k, v) {
    if (!json_is_string(v) || st->nhistory == sizeof st->history / sizeof st->history[0])
      return -1;
    snprintf(st->history[st->nhistory++], sizeof st->history[0], "%s", json_string_value(v));
  }
  return 0;
}

static int remote(const opts *o, const char *op, const char *name, json_t *body) {
  char path[300];
  snprintf(path, sizeof path, "/admin/models/%s/%s", name, op);
  char *text = json_dumps(body, JSON_COMPACT);
  char *resp = NULL;
  fr_error err;
  int status = fr_admin_request(o->server, o->token, "POST", path, text, &resp, &err);
  free(text);
  if (status < 0)
    return fr_cli_fail("models", &err);
  if (status != 200) {
    json_t *j = resp ? json_loads(resp, 0, NULL) : NULL;
    const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
    fr_error_set(&err, FR_EIO, "%s: HTTP %d: %s", o->server, status, msg ? msg : (resp ? resp : ""));
    json_decref(j);
    free(resp);
    return fr_cli_fail("models", &err);
  }
  /* The line the file mode prints, from the release state the server
   * answers with (the raw answer only if it is not of that shape). */
  json_t *j = resp ? json_loads(resp, 0, NULL) : NULL;
  fr_stages st;
  if (j && stages_from_json(j, &st) == 0)
    print_stages(name, &st);
  else
    printf("%s\n", resp ? resp : "");
  json_decref(j);
  free(resp);
  return FR_EXIT_OK;
}

static int cmd_release(const char *op, const opts *o) {
  int promote = strcmp(op, "promote") == 0, rollback = strcmp(op, "rollback") == 0;
  int canary = strcmp(op, "canary") == 0, shadow = strcmp(op, "shadow") == 0;
  int want = rollback ? 1 : ((shadow || canary) && o->off) ? 1 : 2;
  if (o->npos != want)
    return fr_cli_usage_error("models", "%s takes %s", op,
                              rollback                    ? "NAME"
                              : (shadow || canary) && o->off ? "NAME --off"
                              : (shadow || canary)           ? "NAME VERSION (or NAME --off)"
                                                             : "NAME VERSION");
  if (o->off && !(shadow || canary))
    return fr_cli_usage_error("models", "--off applies to canary and shadow only");
  if (canary && !o->off && !o->has_weight)
    return fr_cli_usage_error("models", "canary needs --weight W, 0 < W <= 1 (--off ends it)");
  if (canary && o->off && o->has_weight)
    return fr_cli_usage_error("models", "canary --off takes no --weight");
  if (o->stage && !promote)
    return fr_cli_usage_error("models", "--stage applies to promote only");
  /* The stages fr_repository_promote and the server's admin API know. */
  if (o->stage && strcmp(o->stage, "production") != 0 && strcmp(o->stage, "staging") != 0)
    return fr_cli_usage_error("models", "--stage takes production or staging, not '%s'",
                              o->stage);
  const char *name = o->pos[0], *version = o->npos > 1 ? o->pos[1] : NULL;
  if (o->server) {
    json_t *b = json_object();
    if (version)
      json_object_set_new(b, "version", json_string(version));
    if (o->off)
      json_object_set_new(b, "version", json_null());
    if (o->stage)
      json_object_set_new(b, "stage", json_string(o->stage));
    if (canary && !o->off)
      json_object_set_new(b, "weight", json_real(o->weight));
    int rc = remote(o, op, name, b);
    json_decref(b);
    return rc;
  }
  if (!o->repo)
    return fr_cli_usage_error("models", "%s needs --repository DIR or --server URL", op);
  fr_stages st;
  fr_error err;
  int rc = promote    ? fr_repository_promote(o->repo, name, version, o->stage, &st, &err)
           : rollback ? fr_repository_rollback(o->repo, name, &st, &err)
           : canary   ? fr_repository_set_canary(o->repo, name, o->off ? NULL : version,
                                                   o->weight, &st, &err)
                      : fr_repository_set_shadow(o->repo, name, o->off ? NULL : version, &st, &err);
  if (rc)
    return fr_cli_fail("models", &err);
  print_stages(name, &st);
  return FR_EXIT_OK;
}

int fr_cmd_models(int argc, char **argv) {
  if (fr_cli_wants_help(argc, argv) || argc < 2) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? FR_EXIT_USAGE : FR_EXIT_OK;
  }
  const char *sub = argv[1];
  opts o;
  int rc = parse(argc, argv, &o);
  if (rc)
    return rc;
  int local_only = strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0 || strcmp(sub, "diff") == 0;
  if (local_only && !o.repo)
    return fr_cli_usage_error("models", "%s needs --repository DIR", sub);
  if (strcmp(sub, "list") == 0)
    return o.npos ? fr_cli_usage_error("models", "list takes no argument") : cmd_list(&o);
  if (strcmp(sub, "show") == 0)
    return cmd_show(&o);
  if (strcmp(sub, "diff") == 0)
    return cmd_diff(&o);
  if (strcmp(sub, "promote") == 0 || strcmp(sub, "rollback") == 0 || strcmp(sub, "canary") == 0 ||
      strcmp(sub, "shadow") == 0)
    return cmd_release(sub, &o);
  return fr_cli_usage_error("models", "unknown subcommand '%s' (list, show, diff, promote, "
                                      "rollback, canary, shadow)",
                            sub);
}
