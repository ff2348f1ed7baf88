/*
 * models.c - the loaded models and their routing snapshots (see models.h).
 *
 * Locking: `lock` (a rwlock) guards the pointer from each model entry to its
 * snapshot and the list of entries; requests hold it for reading only long
 * enough to take a reference.  `sync_mu` serialises repository syncs (the
 * poll thread and the admin API), so loading never races with itself; loads
 * run without `lock`, so traffic continues while a version is verified and
 * warmed.  Versions whose reference count drops to zero go to a graveyard
 * that the repository thread empties (a batcher thread cannot join itself).
 */
#include "serve/models.h"
#include "serve/repocheck.h"

#include "serve/txnjson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#define MAX_MODELS 256
#define MAX_FAILS 16

typedef struct failed {
  char version[32];
  int64_t stamp;
  char msg[600]; /* why it failed (for the admin API's 409) */
} failed;

typedef struct model_entry {
  char name[128];
  fr__snapshot *snap;
  int unloaded;
  failed fails[MAX_FAILS];
  size_t nfails;
  char last_error[600];
  /* Why stages.json does not parse ("" when it does): logged and counted
   * once per distinct error, not at every poll. */
  char stages_error[600];
  /* 1 once a bundle has served as production, for the life of the process:
   * its /v1/score clients need a schema and a feature spec, so the model
   * never falls to a bare model file implicitly (after an unload, say);
   * only a stages.json naming one does. */
  int served_bundle;
  /* The last release check of a stages.json routing (fr__repository_routing_check)
   * and what it depended on, so an unchanged file is not re-checked (which
   * opens bundles) at every poll. */
  int checked;
  fr_stages checked_st;
  char checked_serving[32];
  int64_t checked_stamp[3];
  int checked_rc, checked_prod_refused;
  char checked_msg[600];
  /* Why the stages.json routing is refused ("" when accepted): logged and
   * counted once per distinct reason. */
  char refused[1400];
  /* The bundle of the last production that served (a reference) and its
   * version, for the life of the process: when the promoted production is
   * gone, or none is promoted (the implicit production), only a version
   * that serves what it served (the same schema and model input:
   * fr__repository_serves_like) may take over. */
  fr_bundle *ref_bundle;
  char ref_version[32];
  /* Versions refused as such a fallback (with their directory stamp and the
   * production they were compared with), so that they are not loaded again
   * at every poll only to be refused again. */
  struct {
    char version[32], ref[32];
    int64_t stamp;
    char msg[600];
  } unlike[MAX_FAILS];
  size_t nunlike;
  /* The reference from before the interface changed: when a production
   * that does not serve what the reference served got in (named by
   * stages.json while nothing served, after an unload), the old reference
   * moves here, so a release back to a version serving what it served is
   * accepted (fr__registry_release_base), not locked out by the newcomer.
   * Cleared when a production serving what it served takes over again. */
  fr_bundle *base_bundle;
  char base_version[32];
} model_entry;

struct fr__registry {
  fr_server *s;
  pthread_mutex_t stats_mu;     /* state groups' `reported` counters */
  pthread_rwlock_t lock;
  model_entry *models[MAX_MODELS];
  size_t n;
  pthread_mutex_t sync_mu;
  pthread_mutex_t grave_mu;
  fr__mv *graveyard;
};

/* ---- reference counting ---- */

static double stat_value(const fr_state_metric *e, const fr_state_stats *st) {
  const char *p = (const char *)st + e->offset;
  if (e->is_int) {
    int v;
    memcpy(&v, p, sizeof v);
    return v;
  }
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return (double)v;
}

/* Adds what a state store counted since the last report to the counters of
 * fr_state_metrics (counters must never go down, even when the store is
 * freed), and returns its stats for the gauges. */
static void report_stats(fr__state_group *g, fr_state_stats *out) {
  fr__registry *r = g->reg;
  fr_server *s = r->s;
  fr_state_stats now;
  fr_state_get_stats(g->state, &now);
  pthread_mutex_lock(&r->stats_mu);
  for (size_t e = 0; e < s->nstm; e++) {
    if (strcmp(s->stm[e].type, "counter") != 0)
      continue;
    double d = stat_value(&s->stm[e], &now) - stat_value(&s->stm[e], &g->reported);
    if (d > 0)
      fr__series_add(fr__state_series(s, e, g->backend), d);
  }
  g->reported = now;
  pthread_mutex_unlock(&r->stats_mu);
  if (out)
    *out = now;
}

static void group_unref(fr__state_group *g) {
  if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
    return;
  if (g->state)
    report_stats(g, NULL);
  fr_state_free(g->state);
  fr_bundle_unref(g->owner);
  free(g);
}

static void mv_destroy(fr__mv *v) {
  fr__batcher_free(v->batcher); /* executes what is still queued */
  group_unref(v->sg);
  fr__drift_free(v->drift);
  free(v->col_hash);
  free(v->col_len);
  fr_bundle_unref(v->bundle);
  fr_forest_free(v->own_forest);
  free(v);
}

static void mv_unref(fr__mv *v) {
  if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
    return;
  fr__registry *r = v->reg;
  pthread_mutex_lock(&r->grave_mu);
  v->graveyard_next = r->graveyard;
  r->graveyard = v;
  pthread_mutex_unlock(&r->grave_mu);
}

static void snapshot_free(fr__snapshot *s) {
  for (size_t i = 0; i < s->n; i++)
    mv_unref(s->v[i]);
  free(s);
}

void fr__snapshot_release(fr__snapshot *s) {
  if (s && atomic_fetch_sub(&s->refs, 1) == 1)
    snapshot_free(s);
}

fr__mv *fr__snapshot_find(fr__snapshot *s, const char *v) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i]->version, v) == 0)
      return s->v[i];
  return NULL;
}

void fr__registry_collect(fr__registry *r) {
  pthread_mutex_lock(&r->grave_mu);
  fr__mv *g = r->graveyard;
  r->graveyard = NULL;
  pthread_mutex_unlock(&r->grave_mu);
  while (g) {
    fr__mv *next = g->graveyard_next;
    fr_log(FR_LOG_INFO, "model_unloaded", NULL, "model %s version %s drained and unloaded",
           g->name, g->version);
    mv_destroy(g);
    g = next;
  }
}

/* ---- registry ---- */

fr__registry *fr__registry_new(fr_server *s, fr_error *err) {
  fr__registry *r = calloc(1, sizeof *r);
  if (!r) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  r->s = s;
  pthread_rwlock_init(&r->lock, NULL);
  pthread_mutex_init(&r->stats_mu, NULL);
  pthread_mutex_init(&r->sync_mu, NULL);
  pthread_mutex_init(&r->grave_mu, NULL);
  return r;
}

void fr__registry_free(fr__registry *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->n; i++) {
    fr__snapshot_release(r->models[i]->snap);
    fr_bundle_unref(r->models[i]->ref_bundle);
    fr_bundle_unref(r->models[i]->base_bundle);
    free(r->models[i]);
  }
  fr__registry_collect(r);
  pthread_rwlock_destroy(&r->lock);
  pthread_mutex_destroy(&r->stats_mu);
  pthread_mutex_destroy(&r->sync_mu);
  pthread_mutex_destroy(&r->grave_mu);
  free(r);
}

static model_entry *find_entry(fr__registry *r, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->models[i]->name, name) == 0)
      return r->models[i];
  return NULL;
}

fr__snapshot *fr__registry_acquire(fr__registry *r, const char *name) {
  pthread_rwlock_rdlock(&r->lock);
  model_entry *e = find_entry(r, name);
  fr__snapshot *s = e ? e->snap : NULL;
  if (s)
    atomic_fetch_add(&s->refs, 1);
  pthread_rwlock_unlock(&r->lock);
  return s;
}

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

size_t fr__registry_loaded(fr__registry *r, char (*names)[128], size_t max) {
  size_t n = 0;
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n && n < max; i++)
    if (r->models[i]->snap)
      memcpy(names[n++], r->models[i]->name, 128);
  pthread_rwlock_unlock(&r->lock);
  qsort(names, n, 128, cmp_names);
  return n;
}

/* Swaps the snapshot of entry e (NULL = unload); the old one is released. */
static void swap_snapshot(fr__registry *r, model_entry *e, fr__snapshot *nw) {
  fr_bundle *old_ref = NULL, *old_base = NULL;
  pthread_rwlock_wrlock(&r->lock);
  fr__snapshot *old = e->snap;
  e->snap = nw;
  if (nw && nw->primary && nw->primary->bundle) {
    e->served_bundle = 1;
    fr__mv *p = nw->primary;
    if (e->ref_bundle != p->bundle) {
      /* Borrowed bundles, compared in memory (no file is opened). */
      int changed = e->ref_bundle &&
                    fr__repository_serves_like(e->name, p->version, p->bundle, NULL,
                                               e->ref_version, e->ref_bundle, NULL, NULL) != 0;
      int back = e->base_bundle &&
                 fr__repository_serves_like(e->name, p->version, p->bundle, NULL,
                                            e->base_version, e->base_bundle, NULL, NULL) == 0;
      old_ref = e->ref_bundle;
      if (back) {
        old_base = e->base_bundle;
        e->base_bundle = NULL;
        e->base_version[0] = '\0';
      } else if (changed && !e->base_bundle) {
        e->base_bundle = old_ref; /* ownership moves */
        snprintf(e->base_version, sizeof e->base_version, "%s", e->ref_version);
        old_ref = NULL;
      }
      e->ref_bundle = fr_bundle_ref(p->bundle);
    }
    snprintf(e->ref_version, sizeof e->ref_version, "%s", p->version);
  }
  pthread_rwlock_unlock(&r->lock);
  fr_bundle_unref(old_ref); /* outside the lock: it may free a model */
  fr_bundle_unref(old_base);
  fr__snapshot_release(old);
}

fr_bundle *fr__registry_release_base(fr__registry *r, const char *name, char *version,
                                     size_t cap) {
  fr_bundle *b = NULL;
  if (cap)
    version[0] = '\0';
  pthread_rwlock_rdlock(&r->lock);
  model_entry *e = find_entry(r, name);
  if (e && e->base_bundle) {
    b = fr_bundle_ref(e->base_bundle);
    snprintf(version, cap, "%s", e->base_version);
  }
  pthread_rwlock_unlock(&r->lock);
  return b;
}

static model_entry *get_entry(fr__registry *r, const char *name) {
  pthread_rwlock_rdlock(&r->lock);
  model_entry *e = find_entry(r, name);
  pthread_rwlock_unlock(&r->lock);
  if (e)
    return e;
  e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  snprintf(e->name, sizeof e->name, "%s", name);
  pthread_rwlock_wrlock(&r->lock);
  if (r->n == MAX_MODELS) {
    pthread_rwlock_unlock(&r->lock);
    free(e);
    return NULL;
  }
  r->models[r->n++] = e;
  pthread_rwlock_unlock(&r->lock);
  return e;
}

/* ---- loading one version ---- */

/* splitmix64's finaliser (Steele, Lea, Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014): spreads one file's
 * (mtime, size, inode) over 64 bits so the sum below changes when any of
 * them does. */
static uint64_t stamp_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

static uint64_t stat_stamp(const struct stat *st) {
  uint64_t t = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
  return stamp_mix(t ^ stamp_mix((uint64_t)st->st_size) ^ stamp_mix((uint64_t)st->st_ino * 3u));
}

/* A fingerprint of a version directory: the mtime of the directory and the
 * mtime, size and inode of every regular file in it (a failed version is
 * retried, and a cached release check redone, when any changes).  The
 * files count, not only the directory: a file rewritten in place (`cp -r`
 * or `kubectl cp` over a directory that already exists, an editor) changes
 * no directory mtime.  A bundle holds a handful of files, so this is a few
 * stat calls per version and poll.  Order-independent (a sum), so the
 * order readdir lists them in does not matter. */
static int64_t dir_stamp(const char *dir) {
  struct stat a;
  uint64_t s = 0;
  if (stat(dir, &a) == 0)
    s = stat_stamp(&a);
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    char *f = fr_path_join(dir, de->d_name);
    struct stat b;
    if (f && stat(f, &b) == 0 && S_ISREG(b.st_mode))
      s += stat_stamp(&b);
    free(f);
  }
  if (d)
    closedir(d);
  return (int64_t)(s >> 1);
}

/* The state layout of a bundle's featurizer (fr_featurizer_state_digest):
 * versions with equal digests share one store. */
static int state_signature(const fr_bundle *b, char out[65], fr_error *err) {
  const char *d = fr_featurizer_state_digest(fr_bundle_featurizer(b));
  if (!d)
    return fr_error_set(err, FR_ESTATE, "featurizer without a state digest");
  snprintf(out, 65, "%s", d);
  return 0;
}

static fr__state_group *new_group(fr__registry *r, fr_bundle *b, const char *sig,
                                  fr_error *err) {
  fr_server *s = r->s;
  fr__state_group *g = calloc(1, sizeof *g);
  if (!g) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  atomic_store(&g->refs, 1);
  g->reg = r;
  memcpy(g->sig, sig, 65);
  g->owner = fr_bundle_ref(b);
  g->feat = fr_bundle_featurizer(b);
  g->schema = fr_bundle_schema(b);
  snprintf(g->backend, sizeof g->backend, "%s",
           s->cfg.state_backend == FR_STATE_REDIS ? "redis" : "memory");
  pthread_mutex_lock(&s->cfg_mu);
  fr_state_options opt = s->cfg.state;
  opt.max_bytes = s->cfg.state_max_bytes;
  opt.snapshot_interval = s->cfg.snapshot_interval;
  char *warm = s->cfg.warm_data && s->cfg.warm_data[0] ? strdup(s->cfg.warm_data) : NULL;
  double until = s->cfg.warm_until_value;
  fr_state_redis_options ro;
  fr_state_redis_options_default(&ro);
  char url[1024], prefix[256], snap[4200] = "";
  snprintf(url, sizeof url, "%s", s->cfg.redis_url);
  snprintf(prefix, sizeof prefix, "%s", s->cfg.redis_prefix);
  ro.url = url;
  ro.prefix = prefix;
  ro.timeout = s->cfg.redis_timeout;
  ro.on_outage = (fr_state_outage)s->cfg.redis_on_outage;
  ro.retry_interval = s->cfg.redis_retry_interval;
  ro.max_connections = s->cfg.redis_max_connections;
  ro.max_retries = s->cfg.redis_max_retries;
  int redis = s->cfg.state_backend == FR_STATE_REDIS;
  /* One snapshot file per model and state layout (<path>.<model>.<digest>),
   * so versions with another layout, or other models, never read each
   * other's. */
  if (!redis && s->cfg.snapshot_path[0])
    snprintf(snap, sizeof snap, "%s.%s.%.16s", s->cfg.snapshot_path, fr_bundle_name(b), sig);
  pthread_mutex_unlock(&s->cfg_mu);
  opt.snapshot_path = snap[0] ? snap : NULL;
  int restored = snap[0] && fr_is_file(snap);
  g->state = redis ? fr_state_new_redis(g->feat, &opt, &ro, err)
                   : fr_state_new_memory(g->feat, &opt, err);
  if (!g->state) {
    free(warm);
    group_unref(g);
    return NULL;
  }
  if (restored) {
    char fields[300];
    snprintf(fields, sizeof fields, "\"entities\":%zu", fr_state_size(g->state));
    fr_log(FR_LOG_INFO, "state_restored", fields, "state restored from snapshot %s", snap);
    if (warm)
      fr_log(FR_LOG_INFO, "warm_start_skipped", NULL,
             "warm start skipped: the snapshot is the state (replaying history again would "
             "count its events twice)");
    free(warm);
    warm = NULL;
  }
  if (warm) {
    /* Warm start: replay the history file through the same featurize path,
     * so the first live features equal the offline ones. */
    uint64_t t0 = fr_monotonic_ns();
    fr_read_options ro = {0};
    ro.allow_extra_columns = 1;
    fr_dataset *d = fr_dataset_read_csv(g->schema, warm, &ro, err);
    size_t replayed = 0;
    int rc = d ? fr_state_warm(g->state, g->feat, d, until, &replayed, err) : -1;
    fr_dataset_free(d);
    if (rc) {
      fr_error_prefix(err, "warm start from %s", warm);
      /* At startup an unreadable history is a configuration error: the
       * server would stay up and never become ready, so `fraud serve`
       * exits with it instead.  Later (a new version, or a SIGHUP reload
       * naming another file) the versions already loaded keep their state
       * and only the new version fails to load. */
      if (!atomic_load(&s->loaded) && !atomic_load(&s->startup_failed)) {
        if (err)
          s->startup_err = *err;
        else
          fr_error_set(&s->startup_err, FR_EIO, "warm start from %s failed", warm);
        atomic_store(&s->startup_failed, 1);
      }
      free(warm);
      group_unref(g);
      return NULL;
    }
    char fields[256];
    snprintf(fields, sizeof fields, "\"rows\":%zu,\"entities\":%zu,\"seconds\":%.3f", replayed,
             fr_state_size(g->state), (double)(fr_monotonic_ns() - t0) * 1e-9);
    fr_log(FR_LOG_INFO, "state_warmed", fields, "state warmed from %s", warm);
    free(warm);
  }
  return g;
}


static void cache_series(fr__registry *r, fr__mv *v) {
  fr__metrics *m = r->s->metrics;
  const char *l1[] = {v->name};
  v->m_featurize = fr__metrics_get(m, M_FEATURIZE_DURATION, l1);
  v->m_inference = fr__metrics_get(m, M_INFERENCE_DURATION, l1);
  v->m_score = fr__metrics_get(m, M_SCORE, l1);
  for (int d = 0; d < 3; d++) {
    const char *dn = fr_decision_name((fr_decision)d);
    const char *l3[] = {v->name, v->version, dn};
    v->m_decisions[d] = fr__metrics_get(m, M_DECISIONS, l3);
    const char *l2[] = {v->name, dn};
    v->m_amount[d] = fr__metrics_get(m, M_SCORED_AMOUNT, l2);
  }
}

/* The PSI tracker: reference from the manifest's "reference" object, else
 * built from the warm-start history (rows before warm_start.until, scored by
 * this version), else none (PSI is NaN). */
static int build_drift(fr__registry *r, fr__mv *v, fr_error *err) {
  size_t nf = v->nfeatures;
  const char **names = calloc(nf ? nf : 1, sizeof *names);
  if (!names)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  char fallback[16];
  for (size_t i = 0; i < nf; i++)
    names[i] = v->feat ? fr_featurizer_name(v->feat, i) : fr_forest_feature_name(v->forest, i);
  json_t *man = NULL;
  if (v->bundle) {
    const char *t = fr_bundle_manifest_json(v->bundle);
    man = t ? json_loads(t, 0, NULL) : NULL;
  }
  v->drift = fr__drift_new(nf, names, json_object_get(man, "reference"), 10000);
  json_decref(man);
  free(names);
  (void)fallback;
  if (!v->drift)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  fr_server *s = r->s;
  pthread_mutex_lock(&s->cfg_mu);
  char *warm = s->cfg.warm_data && s->cfg.warm_data[0] ? strdup(s->cfg.warm_data) : NULL;
  double until = s->cfg.warm_until_value;
  pthread_mutex_unlock(&s->cfg_mu);
  if (fr__drift_has_reference(v->drift) || !warm || !v->feat) {
    free(warm);
    return 0;
  }
  fr_read_options ro = {0};
  ro.allow_extra_columns = 1;
  fr_dataset *d = fr_dataset_read_csv(v->schema, warm, &ro, err);
  fr_table *t = d ? fr_featurize_dataset(v->feat, d, err) : NULL;
  int rc = t ? 0 : (err ? err->code : FR_EIO);
  if (t) {
    size_t n = 0;
    while (n < t->rows && (isnan(until) || t->event_time[n] < until))
      n++;
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
      rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    else if (n && !(rc = fr_forest_predict(v->forest, t->x, n, p)))
      rc = fr__drift_set_reference(v->drift, t->x, p, n);
    free(p);
  }
  fr_table_free(t);
  fr_dataset_free(d);
  if (rc)
    fr_error_prefix(err, "PSI reference from %s", warm);
  free(warm);
  return rc;
}

static fr__mv *load_version(fr__registry *r, const char *name, const char *version,
                            const fr__snapshot *cur, const fr__snapshot *nw,
                            const fr_model_config *mc, fr_error *err) {
  fr_server *s = r->s;
  fr__mv *v = calloc(1, sizeof *v);
  if (!v) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  atomic_store(&v->refs, 1);
  v->reg = r;
  snprintf(v->name, sizeof v->name, "%s", name);
  snprintf(v->version, sizeof v->version, "%s", version);
  snprintf(v->dir, sizeof v->dir, "%s/%s/%s", s->cfg.model_repository, name, version);
  v->id_col = v->amount_col = v->time_col = v->label_col = v->route_entity = -1;
  char *manifest = fr_path_join(v->dir, "manifest.json");
  int is_bundle = manifest && fr_is_file(manifest);
  free(manifest);
  if (is_bundle) {
    v->bundle = fr_bundle_open(v->dir, err);
    if (!v->bundle)
      goto fail;
    if (strcmp(fr_bundle_name(v->bundle), name) != 0 ||
        strcmp(fr_bundle_version(v->bundle), version) != 0) {
      fr_error_set(err, FR_ESCHEMA,
                   "%s: manifest names model '%s' version '%s', but the bundle is in the "
                   "repository as '%s/%s'",
                   v->dir, fr_bundle_name(v->bundle), fr_bundle_version(v->bundle), name,
                   version);
      goto fail;
    }
    v->forest = fr_bundle_forest(v->bundle);
    v->feat = fr_bundle_featurizer(v->bundle);
    v->schema = fr_bundle_schema(v->bundle);
    v->th = fr_bundle_thresholds(v->bundle);
    v->input_name = "features";
    v->prob_name = "probability";
  } else {
    /* A bare model file, found (and its optional config.pbtxt read) the way
     * Triton's FIL backend does. */
    v->own_forest = fr_forest_dir_load(v->dir, &v->fil, err);
    if (!v->own_forest)
      goto fail;
    v->bare = 1;
    v->forest = v->own_forest;
    v->th.review = v->fil.threshold;
    v->th.decline = v->fil.threshold;
    v->input_name = "input__0";
    v->prob_name = "output__0";
    v->out_width = fr_forest_dir_output_width(v->forest, &v->fil);
  }
  v->contrib_name = v->bare ? "treeshap_output" : "contributions";
  v->nfeatures = fr_forest_nfeatures(v->forest);
  if (fr_forest_noutputs(v->forest) != 1) {
    fr_error_set(err, FR_EFORMAT, "%s: the model has %zu outputs per row; the server serves "
                                  "binary classifiers (one output)",
                 v->dir, fr_forest_noutputs(v->forest));
    goto fail;
  }
  if (v->schema) {
    size_t nc = fr_schema_ncols(v->schema);
    v->col_hash = calloc(nc ? nc : 1, sizeof *v->col_hash);
    v->col_len = calloc(nc ? nc : 1, sizeof *v->col_len);
    if (!v->col_hash || !v->col_len) {
      fr_error_set(err, FR_ENOMEM, "out of memory");
      goto fail;
    }
    for (size_t c = 0; c < nc; c++) {
      const char *cn = fr_schema_column(v->schema, c)->name;
      v->col_len[c] = strlen(cn);
      v->col_hash[c] = fr__txnjson_hash(cn, v->col_len[c]);
    }
    v->id_col = fr_schema_role_column(v->schema, FR_ROLE_ID);
    v->amount_col = fr_schema_role_column(v->schema, FR_ROLE_AMOUNT);
    v->time_col = fr_schema_role_column(v->schema, FR_ROLE_EVENT_TIME);
    v->label_col = fr_schema_role_column(v->schema, FR_ROLE_LABEL);
    pthread_mutex_lock(&s->cfg_mu);
    const char *re = s->cfg.routing_entity;
    v->route_entity = re && re[0] ? fr_schema_find_entity(v->schema, re)
                                  : (fr_schema_nentities(v->schema) ? 0 : -1);
    int bad_entity = re && re[0] && v->route_entity < 0;
    pthread_mutex_unlock(&s->cfg_mu);
    if (bad_entity) {
      fr_error_set(err, FR_ESCHEMA, "%s: scoring.routing_entity names no entity of the schema",
                   v->dir);
      goto fail;
    }
  }
  /* Warm-up: run the forest once on a missing-valued and a zero row so the
   * first request does not pay for paging the trees in. */
  {
    size_t nf = v->nfeatures ? v->nfeatures : 1;
    float *x = calloc(2 * nf, sizeof *x);
    float out[2];
    if (!x) {
      fr_error_set(err, FR_ENOMEM, "out of memory");
      goto fail;
    }
    for (size_t i = 0; i < nf; i++)
      x[i] = NAN;
    int rc = fr_forest_predict(v->forest, x, 2, out);
    free(x);
    if (rc) {
      fr_error_set(err, rc, "%s: warm-up prediction failed", v->dir);
      goto fail;
    }
  }
  /* TreeSHAP's tables are built now, not by the first request that asks
   * for reasons; a model too deep for them still explains (slower). */
  {
    fr_error serr;
    int src = fr_forest_shap_prepare(v->forest, &serr);
    if (src && src != FR_EUNAVAIL)
      fr_log(FR_LOG_INFO, "shap_cache", NULL, "%s: TreeSHAP without its tables: %s", v->dir,
             serr.msg);
  }
  /* Online state: share the group of a loaded version with the same layout. */
  if (v->feat) {
    char sig[65];
    if (state_signature(v->bundle, sig, err))
      goto fail;
    const fr__snapshot *look[2] = {nw, cur};
    for (int k = 0; k < 2; k++) {
      for (size_t i = 0; look[k] && i < look[k]->n && !v->sg; i++) {
        fr__state_group *g = look[k]->v[i]->sg;
        if (g && strcmp(g->sig, sig) == 0) {
          atomic_fetch_add(&g->refs, 1);
          v->sg = g;
        }
      }
    }
    if (!v->sg && !(v->sg = new_group(r, v->bundle, sig, err)))
      goto fail;
  }
  if (build_drift(r, v, err))
    goto fail;
  cache_series(r, v);
  fr__batcher_metrics bm;
  const char *l1[] = {name};
  bm.queue_wait = fr__metrics_get(s->metrics, M_QUEUE_WAIT, l1);
  bm.batch_size = fr__metrics_get(s->metrics, M_BATCH_SIZE, l1);
  bm.inference = v->m_inference;
  v->batcher = fr__batcher_new(v->forest, &mc->batching, &bm, err);
  if (!v->batcher)
    goto fail;
  atomic_store(&v->batching, mc->batching.enabled);
  v->loaded_at = fr_now();
  return v;
fail:
  fr_error_prefix(err, "model %s version %s", name, version);
  mv_destroy(v);
  return NULL;
}

/* ---- which versions, which routes ---- */

static int in_list(char **list, const char *v) {
  for (size_t i = 0; list && list[i]; i++)
    if (strcmp(list[i], v) == 0)
      return 1;
  return 0;
}

/* Marks the versions the policy selects in `want` (same indexes as vs). */
static void apply_policy(char **vs, size_t n, const fr_version_policy *p, int *want) {
  for (size_t i = 0; i < n; i++)
    want[i] = 0;
  switch (p->kind) {
  case FR_VERSIONS_ALL:
    for (size_t i = 0; i < n; i++)
      want[i] = 1;
    break;
  case FR_VERSIONS_LATEST:
    for (size_t i = n > (size_t)p->latest ? n - (size_t)p->latest : 0; i < n; i++)
      want[i] = 1;
    break;
  case FR_VERSIONS_SPECIFIC:
    for (size_t i = 0; i < n; i++)
      for (size_t k = 0; k < p->nspecific; k++)
        if (fr_version_cmp(vs[i], p->specific[k]) == 0)
          want[i] = 1;
    break;
  }
}

static int cmp_mv(const void *a, const void *b) {
  return fr_version_cmp((*(fr__mv *const *)a)->version, (*(fr__mv *const *)b)->version);
}

static void note_failure(model_entry *e, const char *version, int64_t stamp, const char *msg) {
  for (size_t i = 0; i < e->nfails; i++) {
    if (strcmp(e->fails[i].version, version) == 0) {
      e->fails[i].stamp = stamp;
      snprintf(e->fails[i].msg, sizeof e->fails[i].msg, "%s", msg);
      snprintf(e->last_error, sizeof e->last_error, "%s", msg);
      return;
    }
  }
  if (e->nfails == MAX_FAILS) {
    memmove(&e->fails[0], &e->fails[1], sizeof e->fails[0] * (MAX_FAILS - 1));
    e->nfails--;
  }
  snprintf(e->fails[e->nfails].version, sizeof e->fails[0].version, "%s", version);
  snprintf(e->fails[e->nfails].msg, sizeof e->fails[0].msg, "%s", msg);
  e->fails[e->nfails++].stamp = stamp;
  snprintf(e->last_error, sizeof e->last_error, "%s", msg);
}

static int failed_before(model_entry *e, const char *version, int64_t stamp) {
  for (size_t i = 0; i < e->nfails; i++)
    if (strcmp(e->fails[i].version, version) == 0)
      return e->fails[i].stamp == stamp;
  return 0;
}

static void forget_failure(model_entry *e, const char *version) {
  for (size_t i = 0; i < e->nfails; i++) {
    if (strcmp(e->fails[i].version, version) == 0) {
      e->fails[i] = e->fails[--e->nfails];
      return;
    }
  }
}

/* The message of a version refused as a fallback (entry->unlike) for its
 * directory stamp and the current reference production, or NULL. */
static const char *unlike_cached(model_entry *e, const char *version, int64_t stamp) {
  for (size_t i = 0; i < e->nunlike; i++)
    if (strcmp(e->unlike[i].version, version) == 0 && e->unlike[i].stamp == stamp &&
        strcmp(e->unlike[i].ref, e->ref_version) == 0)
      return e->unlike[i].msg;
  return NULL;
}

static void unlike_note(model_entry *e, const char *version, int64_t stamp, const char *msg) {
  size_t k = 0;
  while (k < e->nunlike && strcmp(e->unlike[k].version, version) != 0)
    k++;
  if (k == MAX_FAILS) {
    memmove(&e->unlike[0], &e->unlike[1], sizeof e->unlike[0] * (MAX_FAILS - 1));
    k = MAX_FAILS - 1;
  }
  if (k == e->nunlike)
    e->nunlike++;
  snprintf(e->unlike[k].version, sizeof e->unlike[k].version, "%s", version);
  snprintf(e->unlike[k].ref, sizeof e->unlike[k].ref, "%s", e->ref_version);
  snprintf(e->unlike[k].msg, sizeof e->unlike[k].msg, "%s", msg);
  e->unlike[k].stamp = stamp;
}

static void set_ready_gauge(fr__registry *r, const char *name, const char *version, double v) {
  const char *l[] = {name, version};
  fr__series_set(fr__metrics_get(r->s->metrics, M_MODEL_READY, l), v);
}

static int same_routing(const fr__snapshot *a, const fr__snapshot *b) {
  if (!a || !b || a->n != b->n || a->primary != b->primary || a->canary != b->canary ||
      a->shadow != b->shadow || a->canary_weight != b->canary_weight)
    return 0;
  for (size_t i = 0; i < a->n; i++)
    if (a->v[i] != b->v[i])
      return 0;
  return 1;
}

/* 1 when the directory of snapshot n's production version is gone. */
static int primary_gone(fr__registry *r, const fr__snapshot *n) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/%s/%s", r->s->cfg.model_repository, n->name,
           n->primary->version);
  return !fr_is_dir(dir);
}

/* 1 when snapshot n's production was loaded as another kind than its
 * directory holds now (a bare model file made a bundle in place, or the
 * reverse): it is loaded again at this sync, or fails, and never keeps
 * serving as what it was. */
static int primary_kind_changed(fr__registry *r, const fr__snapshot *n) {
  char mf[1300];
  snprintf(mf, sizeof mf, "%s/%s/%s/manifest.json", r->s->cfg.model_repository, n->name,
           n->primary->version);
  return fr_is_file(mf) != (n->primary->bundle != NULL);
}

/* A routing of stages.json refused by the release checks (msg): logged
 * (release_refused, at error level, with `tail` saying what is served
 * instead) and counted as a failed load once per distinct reason
 * (e->refused). */
static void note_refused(fr_server *s, model_entry *e, const char *name, const fr_stages *st,
                         const char *msg, const char *tail) {
  if (strcmp(e->refused, msg) == 0)
    return;
  snprintf(e->refused, sizeof e->refused, "%s", msg);
  const char *ll[] = {name, "failure"};
  fr__series_add(fr__metrics_get(s->metrics, M_MODEL_LOADS, ll), 1);
  char fields[400];
  snprintf(fields, sizeof fields,
           "\"model\":\"%s\",\"production\":\"%s\",\"canary\":\"%s\",\"shadow\":\"%s\"",
           name, st->production, st->canary, st->shadow);
  fr_log(FR_LOG_ERROR, "release_refused", fields,
         "model %s: %s/%s/stages.json: refused by the release checks: %s; %s", name,
         s->cfg.model_repository, name, msg, tail);
}

/* A stages.json edited by hand must pass the checks the release commands
 * apply (fr__repository_routing_check): otherwise a hand edit could route
 * /v1/score traffic to a bare model file or to another schema, and every
 * request would be answered 400.  A refused routing while the model serves:
 * the last good routing stays as it is (like a stages.json that does not
 * parse), and FR_ESTATE is returned.  Nothing serving yet (startup, or after
 * an unload): production alone (its canary and shadow are dropped from *st)
 * and 0.  Logged at error level (release_refused) and counted as a failed
 * load once per distinct reason. */
static int check_routing(fr__registry *r, model_entry *e, const char *name, fr_stages *st,
                         int *prod_out, fr_error *err) {
  fr_server *s = r->s;
  *prod_out = 0;
  fr__snapshot *now = fr__registry_acquire(r, name);
  int serves = now != NULL; /* the model serves (whatever its production is now) */
  if (now && (primary_gone(r, now) || primary_kind_changed(r, now))) {
    /* The serving production's directory is gone: it is going (a version
     * whose directory is gone never keeps serving), so it is not what the
     * file's routing is checked against, nor a routing to keep: the checks
     * are those of a model that serves nothing.  The same when its
     * directory now holds the other kind: what is loaded is not what is on
     * disk (and is not served as such once the sync reloads it), and
     * comparing with it would refuse, at every poll, a release that the
     * release commands (which read the disk) accept. */
    fr__snapshot_release(now);
    now = NULL;
  }
  const char *serving = now ? now->primary->version : "";
  /* A bundle served this model and stages.json names a bare model file as
   * production (a hand edit, or the production's manifest.json removed or
   * not copied yet by a file-by-file copy: cp, kubectl cp, rsync): a bundle
   * is never replaced by a bare model file, since its /v1/score clients
   * need a schema and a feature spec.  One message for every case, so it is
   * logged and counted once however the situation then evolves. */
  char bare_msg[600] = "";
  if (e->served_bundle && st->production[0] && strcmp(serving, st->production) != 0) {
    char mf[1300], dir[1200];
    snprintf(dir, sizeof dir, "%s/%s/%s", s->cfg.model_repository, name, st->production);
    snprintf(mf, sizeof mf, "%s/manifest.json", dir);
    if (fr_is_dir(dir) && !fr_is_file(mf))
      snprintf(bare_msg, sizeof bare_msg,
               "production: version '%s' of model '%s' is a bare model file (V2 tensors only, "
               "no feature spec for /v1/score) and a bundle served this model: a bare model "
               "file never replaces a bundle",
               st->production, name);
  }
  if (bare_msg[0] && !serves) {
    /* Nothing serves (after an unload, or once every bundle is gone): the
     * model stays unserved, with the reason. */
    note_refused(s, e, name, st, bare_msg, "the model is not served");
    e->checked = 0; /* the cached answer was for another situation */
    return fr_error_set(err, FR_ESTATE, "model %s: stages.json refused: %s", name, bare_msg);
  }
  if (bare_msg[0] && now) {
    /* Another production serves (a hand edit, or the fallback below at an
     * earlier poll): it keeps serving, like any refused routing. */
    char tail[80];
    snprintf(tail, sizeof tail, "keeping the last good routing (production %s)", serving);
    note_refused(s, e, name, st, bare_msg, tail);
    fr__snapshot_release(now);
    return fr_error_set(err, FR_ESTATE, "model %s: stages.json refused: %s", name, bare_msg);
  }
  /* The model serves, but the production it serves is the one that turned
   * into a bare model file under it: that production is unavailable, as if
   * its directory were removed, and the fallback of sync_locked serves a
   * version that serves what it served (*prod_out); the model is never
   * taken down for it.  The canary and shadow are checked as with no
   * production named (against that fallback), not against the bare file. */
  fr_stages chk = *st;
  if (bare_msg[0]) {
    *prod_out = 1;
    chk.production[0] = '\0';
  }
  const char *named[3] = {chk.production, chk.canary, chk.shadow};
  int64_t stamps[3] = {0, 0, 0};
  for (int k = 0; k < 3; k++) {
    if (!named[k][0])
      continue;
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s/%s", s->cfg.model_repository, name, named[k]);
    stamps[k] = dir_stamp(dir);
  }
  if (!e->checked || memcmp(&e->checked_st, &chk, sizeof chk) != 0 ||
      strcmp(e->checked_serving, serving) != 0 ||
      memcmp(e->checked_stamp, stamps, sizeof stamps) != 0) {
    fr_error cerr;
    int pr = 0;
    e->checked_rc = fr__repository_routing_check(
        s->cfg.model_repository, name, &chk, serving, now ? now->primary->bundle : NULL,
        now ? now->primary->forest : NULL, &pr, &cerr);
    if (e->checked_rc && pr && e->base_bundle) {
      /* A release back: the production serves what the model served before
       * an incompatible production got in (e->base_bundle). */
      fr_error berr;
      int bpr = 0;
      if (fr__repository_routing_check(s->cfg.model_repository, name, &chk, e->base_version,
                                       e->base_bundle, NULL, &bpr, &berr) == 0)
        e->checked_rc = pr = 0;
    }
    e->checked_prod_refused = pr;
    snprintf(e->checked_msg, sizeof e->checked_msg, "%s", e->checked_rc ? cerr.msg : "");
    e->checked_st = chk;
    snprintf(e->checked_serving, sizeof e->checked_serving, "%s", serving);
    memcpy(e->checked_stamp, stamps, sizeof stamps);
    e->checked = 1;
  }
  if (!e->checked_rc && bare_msg[0]) {
    note_refused(s, e, name, st, bare_msg,
                 "production falls back to a version serving what it served");
    fr__snapshot_release(now);
    return 0;
  }
  if (!e->checked_rc) {
    if (e->refused[0])
      fr_log(FR_LOG_INFO, "release_accepted", NULL,
             "model %s: the routing of stages.json passes the release checks again", name);
    e->refused[0] = '\0';
    fr__snapshot_release(now);
    return 0;
  }
  int keep = now != NULL;
  if (keep) {
    char tail[80];
    snprintf(tail, sizeof tail, "keeping the last good routing (production %s)", serving);
    note_refused(s, e, name, st, e->checked_msg, tail);
  } else if (bare_msg[0]) {
    char both[1300];
    snprintf(both, sizeof both, "%s; %s", bare_msg, e->checked_msg);
    note_refused(s, e, name, st, both,
                 "production falls back to a version serving what it served, alone");
  } else {
    note_refused(s, e, name, st, e->checked_msg, "serving production alone");
  }
  fr__snapshot_release(now);
  if (!keep) {
    st->canary[0] = '\0';
    st->canary_weight = 0;
    st->shadow[0] = '\0';
    return 0;
  }
  return fr_error_set(err, FR_ESTATE, "model %s: stages.json refused: %s", name, e->checked_msg);
}

static int sync_locked(fr__registry *r, const char *name, int force, fr_error *err) {
  fr_server *s = r->s;
  model_entry *e = get_entry(r, name);
  if (!e)
    return fr_error_set(err, FR_ENOMEM, "too many models");
  fr_error lerr;
  char **vs = fr_repository_versions(s->cfg.model_repository, name, &lerr);
  if (!vs) {
    if (e->snap) {
      fr_log(FR_LOG_WARN, "model_gone", NULL, "model %s: %s; unloading", name, lerr.msg);
      swap_snapshot(r, e, NULL);
    }
    snprintf(e->last_error, sizeof e->last_error, "%s", lerr.msg);
    if (err)
      *err = lerr;
    return lerr.code;
  }
  size_t n = 0;
  while (vs[n])
    n++;
  fr_stages st;
  if (fr_stages_read(s->cfg.model_repository, name, &st, &lerr)) {
    /* A damaged stages.json (a hand edit cut short, a bad merge) says
     * nothing about what should serve.  Guessing (the version policy alone)
     * could move traffic to a version nobody released, or to one that cannot
     * serve /v1/score at all; so the routing in force stays exactly as it is
     * (production, canary, shadow, their loaded versions) until the file
     * parses, and without one (startup, or after an unload) the model is not
     * served.  Logged and counted as a failed load once per distinct error. */
    int fresh = strcmp(e->stages_error, lerr.msg) != 0;
    fr__snapshot *keep = fr__registry_acquire(r, name);
    if (fresh) {
      snprintf(e->stages_error, sizeof e->stages_error, "%s", lerr.msg);
      const char *ll[] = {name, "failure"};
      fr__series_add(fr__metrics_get(s->metrics, M_MODEL_LOADS, ll), 1);
      char fields[400];
      snprintf(fields, sizeof fields, "\"model\":\"%s\",\"production\":\"%s\",\"canary\":\"%s\","
               "\"shadow\":\"%s\"",
               name, keep ? keep->primary->version : "",
               keep && keep->canary ? keep->canary->version : "",
               keep && keep->shadow ? keep->shadow->version : "");
      if (keep)
        fr_log(FR_LOG_ERROR, "stages_invalid", fields,
               "model %s: %s; keeping the last good routing (production %s) until the file "
               "parses",
               name, lerr.msg, keep->primary->version);
      else
        fr_log(FR_LOG_ERROR, "stages_invalid", fields,
               "model %s: %s; the model is not served until the file parses (no earlier "
               "routing to keep)",
               name, lerr.msg);
    }
    if (!keep)
      snprintf(e->last_error, sizeof e->last_error, "%s", lerr.msg);
    e->unloaded = 0;
    fr__snapshot_release(keep);
    fr_strv_free(vs);
    if (err)
      *err = lerr;
    return lerr.code;
  }
  if (e->stages_error[0]) {
    fr_log(FR_LOG_INFO, "stages_valid", NULL, "model %s: stages.json parses again", name);
    e->stages_error[0] = '\0';
  }
  int prod_out = 0;
  if (check_routing(r, e, name, &st, &prod_out, &lerr)) {
    fr__snapshot *gone = fr__registry_acquire(r, name);
    int changed = gone && !primary_gone(r, gone) && primary_kind_changed(r, gone);
    if (gone && (changed || primary_gone(r, gone))) {
      /* No routing to keep: the serving production's directory is gone, or
       * holds the other kind now (what is loaded is not what is there). */
      for (size_t i = 0; i < gone->n; i++)
        set_ready_gauge(r, name, gone->v[i]->version, 0);
      fr_log(FR_LOG_WARN, "model_routing", NULL,
             "%s; production version %s is %s: the model is no longer served", lerr.msg,
             gone->primary->version,
             changed ? (gone->primary->bundle ? "no longer a bundle on disk"
                                              : "a bundle on disk now, not the bare model file "
                                                "that was loaded")
                     : "gone");
      swap_snapshot(r, e, NULL);
    }
    fr__snapshot_release(gone);
    if (!e->snap) {
      /* Not served: the answers give the reason (not "unloaded"). */
      snprintf(e->last_error, sizeof e->last_error, "%s", lerr.msg);
      e->unloaded = 0;
    }
    fr_strv_free(vs);
    if (err)
      *err = lerr;
    return lerr.code;
  }
  fr_model_config mc;
  fr__server_model_config(s, name, &mc);
  if (n > 1024)
    n = 1024;
  /* A version that fails to load is invisible to the policy, so with
   * {latest: 1} a corrupt newest version leaves the current one serving.
   * Rounds: select, load what is missing; when a load fails, select again
   * without it. */
  int failed[1024] = {0}, want[1024] = {0}, policy_want[1024] = {0};
  int64_t vstamp[1024];
  fr__mv *pool[1024] = {0};
  for (size_t i = 0; i < n; i++) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s/%s", s->cfg.model_repository, name, vs[i]);
    vstamp[i] = dir_stamp(dir);
    failed[i] = !force && failed_before(e, vs[i], vstamp[i]);
  }
  fr__snapshot *cur = fr__registry_acquire(r, name);
  fr__snapshot *nw = calloc(1, sizeof *nw);
  if (!nw) {
    fr__snapshot_release(cur);
    fr_strv_free(vs);
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  }
  atomic_store(&nw->refs, 1);
  snprintf(nw->name, sizeof nw->name, "%s", name);
  const char *stage_versions[] = {st.production, st.staging, st.canary, st.shadow};
  /* Which kind of version may answer when stages.json names no production
   * that loads (the implicit production, or the fallback when the promoted
   * one is gone): a bundle whenever the model has bundles, since /v1/score
   * clients need its schema and feature spec and a bare model file would
   * answer every one of them 400; when the promoted production is missing,
   * the kind of the version that was serving.  Only a model of bare model
   * files alone serves a bare one this way. */
  int is_bundle[1024] = {0}, has_bundles = 0;
  for (size_t i = 0; i < n; i++) {
    char mf[1300];
    snprintf(mf, sizeof mf, "%s/%s/%s/manifest.json", s->cfg.model_repository, name, vs[i]);
    is_bundle[i] = fr_is_file(mf);
    has_bundles |= is_bundle[i];
  }
  /* A loaded version whose directory changed since it was loaded (written
   * in place: model.json first, manifest.json last) is loaded again below.
   * Until that succeeds the loaded object keeps serving only while it is of
   * the kind on disk now; one of another kind (a bare model file whose
   * directory became a bundle, or the reverse) is never served or routed
   * to, whether or not its reload failed before: the version counts as
   * failing, so the kind selection below, which reads the kind from disk,
   * never picks an object of the other kind. */
  for (size_t i = 0; i < n; i++) {
    fr__mv *have = cur ? fr__snapshot_find(cur, vs[i]) : NULL;
    if (have && have->stamp != vstamp[i] && (have->bundle != NULL) == is_bundle[i])
      failed[i] = 0; /* a failed reload leaves the loaded object serving */
  }
  int kind_bundle = st.production[0] && cur && cur->primary ? cur->primary->bundle != NULL
                                                            : has_bundles || e->served_bundle;
  /* The promoted production left out: a bare model file where a bundle
   * serves (check_routing), or a bundle that was refused, at this directory
   * stamp, as not serving what the model serves (below).  It is then
   * unavailable, like a removed directory, and the fallback applies. */
  int prod_vet = kind_bundle && e->ref_bundle && cur && st.production[0];
  int prod_excluded = 0;
  for (size_t i = 0; i < n && st.production[0]; i++)
    if (strcmp(vs[i], st.production) == 0 &&
        (prod_out || (prod_vet && is_bundle[i] && unlike_cached(e, vs[i], vstamp[i]))))
      failed[i] = prod_excluded = 1;
  /* Nothing of that kind on disk and the promoted production is not there
   * either: nothing can serve, so nothing is loaded (not a bare version
   * loaded and dropped again at every poll). */
  int promoted_present = 0;
  for (size_t i = 0; i < n && st.production[0]; i++)
    promoted_present |= strcmp(vs[i], st.production) == 0;
  int hopeless = kind_bundle && !has_bundles && !promoted_present;
  /* The promoted production gone (or failing to load), the version taking
   * over must serve what the last production served (the same transaction
   * schema and model input; fr__repository_serves_like): a newer bundle of
   * another schema would answer every /v1/score request 400.  `unlike`
   * marks the versions refused for that (cached per directory stamp, so
   * they are not loaded again at every poll); with none left the model is
   * not served. */
  /* The implicit production (stages.json names none) is held to the same
   * rule once a bundle has served (for the life of the process, like the
   * kind): the newest version takes over only if it serves what the last
   * production served (the check of `fraud models promote`), so a newer
   * bundle of another interface never switches traffic on its own (and
   * then locks releases back out); refusals are counted as failed loads,
   * like a refused stages.json. */
  int implicit_guard = !st.production[0] && kind_bundle && e->ref_bundle;
  int guard = kind_bundle && e->ref_bundle && (st.production[0] || implicit_guard);
  int unlike[1024] = {0}, vetted[1024] = {0};
  const char *unlike_why = NULL;
  char why_buf[600] = "";
  int any_candidate = 0, promoted_loadable = 0;
  for (size_t i = 0; i < n && guard; i++) {
    const char *m = is_bundle[i] ? unlike_cached(e, vs[i], vstamp[i]) : NULL;
    unlike[i] = m != NULL;
    if (m && !unlike_why)
      unlike_why = m;
    if (strcmp(vs[i], st.production) == 0)
      promoted_loadable = !failed[i];
    else
      any_candidate |= is_bundle[i] && !failed[i] && !unlike[i];
  }
  if (guard && !promoted_loadable && !any_candidate && unlike_why)
    hopeless = 1;
  for (int round = 0; round < 8 && !hopeless; round++) {
    char *ok[1025];
    size_t map[1024], nok = 0;
    for (size_t i = 0; i < n; i++)
      if (!failed[i]) {
        map[nok] = i;
        ok[nok++] = vs[i];
      }
    ok[nok] = NULL;
    int sel[1024];
    apply_policy(ok, nok, &mc.versions, sel);
    memset(want, 0, n * sizeof *want);
    memset(policy_want, 0, n * sizeof *policy_want);
    for (size_t k = 0; k < nok; k++)
      want[map[k]] = policy_want[map[k]] = sel[k];
    for (int k = 0; k < 4; k++)
      for (size_t i = 0; i < n; i++)
        if (stage_versions[k][0] && !failed[i] && strcmp(vs[i], stage_versions[k]) == 0)
          want[i] = 1;
    /* Without a promoted production that can load, the newest version of
     * the right kind is wanted too, unless the policy already selects one
     * (a bare newest version must not push the bundles out). */
    int prod_ok = 0, kind_wanted = 0;
    for (size_t i = 0; i < n; i++)
      prod_ok |= st.production[0] && !failed[i] && strcmp(vs[i], st.production) == 0;
    int fb = guard && !prod_ok;
    for (size_t i = 0; i < n; i++)
      kind_wanted |= policy_want[i] && is_bundle[i] == kind_bundle && !(fb && unlike[i]);
    for (size_t i = n; !prod_ok && !kind_wanted && i-- > 0;)
      if (!failed[i] && is_bundle[i] == kind_bundle && !(fb && unlike[i])) {
        want[i] = 1;
        break;
      }
    int new_failure = 0;
    for (size_t i = 0; i < n; i++) {
      if (!want[i] || pool[i])
        continue;
      fr__mv *have = cur ? fr__snapshot_find(cur, vs[i]) : NULL;
      /* Same kind as on disk (else failed[i] would be set, see above). */
      int keep_have = have && (have->stamp == vstamp[i] ||
                               (!force && failed_before(e, vs[i], vstamp[i])));
      if (keep_have) {
        atomic_fetch_add(&have->refs, 1);
        pool[i] = have;
        continue;
      }
      int64_t stamp = vstamp[i];
      uint64_t t0 = fr_monotonic_ns();
      /* Look for a shared state group among what is loaded so far. */
      nw->n = 0;
      for (size_t k = 0; k < n && nw->n < FR__MAX_LOADED; k++)
        if (pool[k])
          nw->v[nw->n++] = pool[k];
      fr__mv *v = load_version(r, name, vs[i], cur, nw, &mc, &lerr);
      nw->n = 0;
      const char *res = v ? "success" : "failure";
      const char *ll[] = {name, res};
      fr__series_add(fr__metrics_get(s->metrics, M_MODEL_LOADS, ll), 1);
      char fields[300];
      snprintf(fields, sizeof fields, "\"model\":\"%s\",\"version\":\"%s\",\"seconds\":%.3f", name,
               vs[i], (double)(fr_monotonic_ns() - t0) * 1e-9);
      if (!v) {
        fr_log(FR_LOG_ERROR, "model_load_failed", fields, "%s", lerr.msg);
        note_failure(e, vs[i], stamp, lerr.msg);
        if (have && (have->bundle != NULL) == is_bundle[i]) {
          /* A reload that failed (a bundle rewritten in place, its files
           * not all there yet): the loaded object is still of the kind on
           * disk, so it keeps serving until the directory changes again. */
          fr_log(FR_LOG_WARN, "model_reload_failed", fields,
                 "model %s version %s changed on disk and does not load; the version loaded "
                 "before keeps serving until its directory changes again",
                 name, vs[i]);
          atomic_fetch_add(&have->refs, 1);
          pool[i] = have;
          continue;
        }
        failed[i] = 1;
        new_failure = 1;
        continue;
      }
      v->stamp = stamp;
      if (have)
        fr_log(FR_LOG_INFO, "model_loaded", fields,
               "model %s version %s changed on disk: loaded again (%s), verified and warm; the "
               "version loaded before drains",
               name, vs[i], v->bundle ? "a bundle" : "a bare model file");
      else
        fr_log(FR_LOG_INFO, "model_loaded", fields,
               "model %s version %s loaded, verified and warm", name, vs[i]);
      forget_failure(e, vs[i]);
      pool[i] = v;
    }
    /* The promoted production itself, loaded while the model serves (its
     * directory rewritten in place, file by file, with another schema, or
     * a release): it must serve what the model serves, or what it served
     * before an incompatible production got in (the release checks
     * compared with the disk; this compares with what is loaded).  One
     * that does not is left out, like a bare model file, and the fallback
     * serves; never the model taken down for it. */
    for (size_t i = 0; prod_vet && i < n; i++) {
      if (!pool[i] || vetted[i] || !pool[i]->bundle || strcmp(vs[i], st.production) != 0 ||
          (cur && pool[i] == cur->primary))
        continue;
      vetted[i] = 1;
      fr_error cerr;
      if (!fr__repository_serves_like(name, vs[i], pool[i]->bundle, NULL, e->ref_version,
                                      e->ref_bundle, NULL, &cerr) ||
          (e->base_bundle &&
           !fr__repository_serves_like(name, vs[i], pool[i]->bundle, NULL, e->base_version,
                                       e->base_bundle, NULL, NULL)))
        continue;
      unlike_note(e, vs[i], vstamp[i], cerr.msg);
      char msg[700];
      snprintf(msg, sizeof msg, "production: %s", cerr.msg);
      note_refused(s, e, name, &st, msg,
                   "production falls back to a version serving what it served");
      failed[i] = prod_excluded = 1;
      new_failure = 1;
    }
    /* A fallback must serve what the last production served. */
    for (size_t i = 0; fb && i < n; i++) {
      if (!pool[i] || !pool[i]->bundle || unlike[i] || vetted[i])
        continue;
      vetted[i] = 1;
      fr_error cerr;
      if (!fr__repository_serves_like(name, vs[i], pool[i]->bundle, NULL, e->ref_version,
                                      e->ref_bundle, NULL, &cerr))
        continue;
      unlike[i] = 1;
      unlike_note(e, vs[i], vstamp[i], cerr.msg);
      if (!unlike_why) {
        snprintf(why_buf, sizeof why_buf, "%s", cerr.msg);
        unlike_why = why_buf;
      }
      char fields[300];
      snprintf(fields, sizeof fields, "\"model\":\"%s\",\"version\":\"%s\"", name, vs[i]);
      if (implicit_guard) {
        /* Counted as a refused routing (release_refused counts the same). */
        const char *ll[] = {name, "failure"};
        fr__series_add(fr__metrics_get(s->metrics, M_MODEL_LOADS, ll), 1);
        fr_log(FR_LOG_WARN, "model_switch_refused", fields,
               "model %s: version %s does not become the implicit production (no production "
               "in stages.json): %s; it does not take over from version %s",
               name, vs[i], cerr.msg, e->ref_version);
      } else {
        fr_log(FR_LOG_WARN, "model_fallback_refused", fields,
               "model %s: production version %s (stages.json) is not available, and %s: it "
               "does not take over",
               name, st.production, cerr.msg);
      }
      new_failure = 1;
    }
    if (!new_failure)
      break;
  }
  /* The snapshot: the wanted versions; anything else loaded in passing goes. */
  for (size_t i = 0; i < n; i++) {
    if (!pool[i])
      continue;
    if (want[i] && nw->n < FR__MAX_LOADED)
      nw->v[nw->n++] = pool[i];
    else
      mv_unref(pool[i]);
  }
  qsort(nw->v, nw->n, sizeof nw->v[0], cmp_mv);
  /* Production: the promoted version when loaded, else of the kind above,
   * the newest loaded version the policy selects, else the newest loaded. */
  if (st.production[0])
    nw->primary = fr__snapshot_find(nw, st.production);
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = n; !nw->primary && i-- > 0;) {
      fr__mv *v = (pass || policy_want[i]) ? fr__snapshot_find(nw, vs[i]) : NULL;
      if (v && (v->bundle != NULL) == kind_bundle && !(guard && unlike[i]))
        nw->primary = v;
    }
  if (st.canary[0] && st.canary_weight > 0) {
    nw->canary = fr__snapshot_find(nw, st.canary);
    nw->canary_weight = nw->canary && nw->canary != nw->primary ? st.canary_weight : 0;
    if (!nw->canary_weight)
      nw->canary = NULL;
  }
  if (st.shadow[0]) {
    nw->shadow = fr__snapshot_find(nw, st.shadow);
    if (nw->shadow == nw->primary)
      nw->shadow = NULL;
  }
  for (size_t i = 0; i < nw->n; i++) {
    fr__state_group *g = nw->v[i]->sg;
    int seen = 0;
    for (size_t k = 0; k < nw->ngroups; k++)
      seen |= nw->group_rep[k]->sg == g;
    if (g && !seen)
      nw->group_rep[nw->ngroups++] = nw->v[i];
  }
  int rc = 0;
  fr_error perr;
  if (!nw->primary && prod_excluded && e->refused[0]) {
    /* The answers (503) give why: the production refused, nothing else. */
    rc = fr_error_set(&perr, FR_ENOTFOUND,
                      "model %s: stages.json: %s; and no version serves what it served", name,
                      e->refused);
    snprintf(e->last_error, sizeof e->last_error, "%s", perr.msg);
  } else if (!nw->primary && implicit_guard && unlike_why) {
    rc = fr_error_set(&perr, FR_ENOTFOUND,
                      "model %s: version %s is not available, and no version serves what it "
                      "served (%s)",
                      name, e->ref_version, unlike_why);
    snprintf(e->last_error, sizeof e->last_error, "%s", perr.msg);
  } else if (!nw->primary && guard && unlike_why) {
    rc = fr_error_set(&perr, FR_ENOTFOUND,
                      "model %s: production version %s (stages.json) is not available, and no "
                      "version serves what version %s served (%s)",
                      name, st.production, e->ref_version, unlike_why);
    snprintf(e->last_error, sizeof e->last_error, "%s", perr.msg);
  } else if (!nw->primary && (nw->n || hopeless)) {
    rc = fr_error_set(&perr, FR_ENOTFOUND, "model %s: no %s version could be loaded (%s)%s%s",
                      name, kind_bundle ? "bundle" : "bare model file",
                      kind_bundle ? "a bare model file is never served in a bundle's place: it "
                                    "has no feature spec for /v1/score"
                                  : "production was a bare model file",
                      e->last_error[0] ? ": " : "", e->last_error);
    if (!e->last_error[0])
      snprintf(e->last_error, sizeof e->last_error, "%s", perr.msg);
  } else if (!nw->primary) {
    rc = fr_error_set(&perr, FR_ENOTFOUND, "model %s: no version could be loaded%s%s", name,
                      e->last_error[0] ? ": " : "", e->last_error);
  }
  if (rc && err)
    *err = perr;
  if (!nw->primary) {
    /* Nothing may answer: the model is not served (its versions drain). */
    for (size_t i = 0; cur && i < cur->n; i++)
      set_ready_gauge(r, name, cur->v[i]->version, 0);
    if (cur)
      fr_log(FR_LOG_WARN, "model_routing", NULL, "%s; the model is no longer served", perr.msg);
    fr__snapshot_release(nw);
    if (cur)
      swap_snapshot(r, e, NULL);
  } else if (same_routing(cur, nw)) {
    fr__snapshot_release(nw);
  } else {
    /* Versions leaving: their gauge drops to 0 (they drain). */
    for (size_t i = 0; cur && i < cur->n; i++)
      if (!fr__snapshot_find(nw, cur->v[i]->version))
        set_ready_gauge(r, name, cur->v[i]->version, 0);
    for (size_t i = 0; i < nw->n; i++)
      set_ready_gauge(r, name, nw->v[i]->version, 1);
    char fields[400];
    snprintf(fields, sizeof fields,
             "\"model\":\"%s\",\"production\":\"%s\",\"canary\":\"%s\",\"canary_weight\":%g,"
             "\"shadow\":\"%s\",\"loaded\":%zu",
             name, nw->primary->version, nw->canary ? nw->canary->version : "",
             nw->canary_weight, nw->shadow ? nw->shadow->version : "", nw->n);
    /* The promoted production, canary or shadow version is not among the
     * loaded ones (its directory was removed, or it fails to load): serving
     * without it is a fallback, and an operator must hear of it. */
    int fallback = st.production[0] && strcmp(nw->primary->version, st.production) != 0;
    int no_canary = st.canary[0] && st.canary_weight > 0 && !fr__snapshot_find(nw, st.canary);
    int no_shadow = st.shadow[0] && !fr__snapshot_find(nw, st.shadow);
    if (fallback)
      fr_log(FR_LOG_WARN, "model_routing", fields,
             "model %s: production version %s (stages.json) is not available; serving "
             "version %s instead",
             name, st.production, nw->primary->version);
    if (no_canary)
      fr_log(FR_LOG_WARN, "model_routing", fields,
             "model %s: canary version %s (stages.json) is not available; no canary (every "
             "card goes to production version %s)",
             name, st.canary, nw->primary->version);
    if (no_shadow)
      fr_log(FR_LOG_WARN, "model_routing", fields,
             "model %s: shadow version %s (stages.json) is not available; no shadow", name,
             st.shadow);
    if (!fallback && !no_canary && !no_shadow)
      fr_log(FR_LOG_INFO, "model_routing", fields, "model %s now serves version %s", name,
             nw->primary->version);
    swap_snapshot(r, e, nw);
  }
  e->unloaded = 0;
  fr__snapshot_release(cur);
  fr_strv_free(vs);
  return rc;
}

int fr__registry_sync(fr__registry *r, const char *name, int force, fr_error *err) {
  if (!fr_repository_name_ok(name))
    return fr_error_set(err, FR_ENOTFOUND, "invalid model name '%s'", name);
  pthread_mutex_lock(&r->sync_mu);
  pthread_rwlock_rdlock(&r->lock);
  model_entry *e = find_entry(r, name);
  int unloaded = e && e->unloaded;
  pthread_rwlock_unlock(&r->lock);
  /* Only an explicit load brings back a model unloaded through the
   * repository API (docs/api.md), not a release's sync. */
  int rc = !force && unloaded
               ? fr_error_set(err, FR_ESTATE,
                              "model %s was unloaded through the repository API: load it "
                              "first (POST /v2/repository/models/%s/load)",
                              name, name)
               : sync_locked(r, name, force, err);
  pthread_mutex_unlock(&r->sync_mu);
  return rc;
}

void fr__registry_sync_all(fr__registry *r, const char *only) {
  fr_server *s = r->s;
  fr_error err;
  char **names = fr_repository_models(s->cfg.model_repository, &err);
  if (!names) {
    fr_log(FR_LOG_ERROR, "repository_unreadable", NULL, "%s", err.msg);
    return;
  }
  pthread_mutex_lock(&r->sync_mu);
  for (size_t i = 0; names[i]; i++) {
    if (only && only[0]) {
      char list[1024];
      snprintf(list, sizeof list, ",%s,", only);
      for (char *p = list; *p; p++)
        if (*p == ' ')
          *p = ',';
      char key[160];
      snprintf(key, sizeof key, ",%s,", names[i]);
      if (!strstr(list, key))
        continue;
    }
    model_entry *e = get_entry(r, names[i]);
    if (e && e->unloaded)
      continue;
    sync_locked(r, names[i], 0, NULL);
  }
  /* Models whose directory is gone. */
  for (size_t i = 0; i < r->n; i++) {
    model_entry *e = r->models[i];
    if (e->snap && !in_list(names, e->name))
      sync_locked(r, e->name, 0, NULL);
  }
  pthread_mutex_unlock(&r->sync_mu);
  fr_strv_free(names);
}

int fr__registry_unload(fr__registry *r, const char *name) {
  pthread_mutex_lock(&r->sync_mu);
  pthread_rwlock_rdlock(&r->lock);
  model_entry *e = find_entry(r, name);
  pthread_rwlock_unlock(&r->lock);
  int rc = FR_ENOTFOUND;
  if (e && e->snap) {
    for (size_t i = 0; i < e->snap->n; i++)
      set_ready_gauge(r, name, e->snap->v[i]->version, 0);
    swap_snapshot(r, e, NULL);
    fr_log(FR_LOG_INFO, "model_unload", NULL, "model %s unloaded on request (versions drain)",
           name);
    rc = 0;
  }
  if (e)
    e->unloaded = 1;
  pthread_mutex_unlock(&r->sync_mu);
  return rc;
}

int fr__registry_is_unloaded(fr__registry *r, const char *name) {
  pthread_rwlock_rdlock(&r->lock);
  model_entry *e = find_entry(r, name);
  int u = e && e->unloaded;
  pthread_rwlock_unlock(&r->lock);
  return u;
}

void fr__registry_configure(fr__registry *r) {
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++) {
    fr__snapshot *s = r->models[i]->snap;
    if (!s)
      continue;
    fr_model_config mc;
    fr__server_model_config(r->s, s->name, &mc);
    for (size_t k = 0; k < s->n; k++) {
      fr__batcher_configure(s->v[k]->batcher, &mc.batching);
      atomic_store(&s->v[k]->batching, mc.batching.enabled);
    }
  }
  pthread_rwlock_unlock(&r->lock);
}

void fr__registry_last_error(fr__registry *r, const char *name, char *out, size_t cap) {
  pthread_rwlock_rdlock(&r->lock);
  model_entry *e = find_entry(r, name);
  snprintf(out, cap, "%s", e ? e->last_error : "");
  pthread_rwlock_unlock(&r->lock);
}

int fr__registry_version_error(fr__registry *r, const char *name, const char *version,
                               char *out, size_t cap) {
  int found = 0;
  out[0] = '\0';
  pthread_rwlock_rdlock(&r->lock);
  model_entry *e = find_entry(r, name);
  for (size_t f = 0; e && f < e->nfails && !found; f++)
    if (strcmp(e->fails[f].version, version) == 0) {
      snprintf(out, cap, "%s", e->fails[f].msg);
      found = 1;
    }
  pthread_rwlock_unlock(&r->lock);
  return found;
}

/* Characters that may end a path quoted in a message ("DIR: cannot open",
 * "'DIR'", "(DIR)", "DIR,"). */
static int path_end(char c) {
  return !c || c == ' ' || c == '\t' || c == '\n' || c == '\'' || c == '"' || c == ':' ||
         c == ',' || c == ')' || c == ';';
}

/* Whether p starts an API route ("/v1/score", "/v2/models/m/infer",
 * "/metrics", "/admin/models/m"): the server's own URL paths, which name no
 * file and stay as they are. */
static int api_route(const char *p) {
  static const char *const routes[] = {"/v1", "/v2", "/metrics", "/admin", NULL};
  for (int i = 0; routes[i]; i++) {
    size_t l = strlen(routes[i]);
    if (strncmp(p, routes[i], l) == 0 && (p[l] == '/' || p[l] == '?' || path_end(p[l])))
      return 1;
  }
  return 0;
}

void fr__public_reason(const fr_server *s, const char *msg, char *out, size_t cap) {
  const char *repo = s->cfg.model_repository ? s->cfg.model_repository : "";
  size_t rl = strlen(repo);
  while (rl > 1 && repo[rl - 1] == '/')
    rl--;
  size_t o = 0;
#define PUT(c)          \
  do {                  \
    if (o + 1 < cap)    \
      out[o++] = (c);   \
  } while (0)
  for (const char *p = msg; *p;) {
    int at_start = p == msg || strchr(" '\"(=[,", p[-1]) != NULL;
    if (at_start && rl && strncmp(p, repo, rl) == 0 && (p[rl] == '/' || path_end(p[rl]))) {
      if (p[rl] == '/') {
        p += rl + 1; /* "REPO/sparkov/3/..." -> "sparkov/3/..." */
      } else {
        /* "not found in repository REPO" -> "... in the model repository". */
        static const char tail[] = "repository ";
        size_t tl = sizeof tail - 1;
        if (o >= tl && strncmp(out + o - tl, tail, tl) == 0)
          o -= tl;
        for (const char *t = "the model repository"; *t; t++)
          PUT(*t);
        p += rl;
      }
      continue;
    }
    if (at_start && p[0] == '/' && p[1] && !path_end(p[1]) && !api_route(p)) {
      /* Another absolute path: only its last component. */
      const char *e = p, *last = p + 1;
      while (!path_end(*e)) {
        if (*e == '/' && !path_end(e[1]))
          last = e + 1;
        e++;
      }
      for (const char *t = last; t < e; t++)
        if (*t != '/')
          PUT(*t);
      p = e;
      continue;
    }
    PUT(*p);
    p++;
  }
#undef PUT
  if (cap)
    out[o < cap ? o : cap - 1] = '\0';
}

void fr__registry_index(fr__registry *r, int ready_only, fr__buf *out) {
  fr_server *s = r->s;
  fr_error err;
  char **names = fr_repository_models(s->cfg.model_repository, &err);
  fr__buf_putc(out, '[');
  int first = 1;
  for (size_t i = 0; names && names[i]; i++) {
    char **vs = fr_repository_versions(s->cfg.model_repository, names[i], NULL);
    fr__snapshot *snap = fr__registry_acquire(r, names[i]);
    for (size_t k = 0; vs && vs[k]; k++) {
      fr__mv *v = snap ? fr__snapshot_find(snap, vs[k]) : NULL;
      if (ready_only && !v)
        continue;
      if (!first)
        fr__buf_putc(out, ',');
      first = 0;
      fr__buf_puts(out, "{\"name\":");
      fr__buf_json_str(out, names[i], strlen(names[i]));
      fr__buf_puts(out, ",\"version\":");
      fr__buf_json_str(out, vs[k], strlen(vs[k]));
      fr__buf_printf(out, ",\"state\":\"%s\"", v ? "READY" : "UNAVAILABLE");
      if (!v) {
        char msg[700], pub[600];
        snprintf(msg, sizeof msg, "not loaded (version policy)");
        pthread_rwlock_rdlock(&r->lock);
        model_entry *e = find_entry(r, names[i]);
        if (e && e->unloaded) {
          snprintf(msg, sizeof msg, "unloaded");
        } else if (e && !snap && e->stages_error[0]) {
          fr__public_reason(s, e->stages_error, pub, sizeof pub);
          snprintf(msg, sizeof msg, "not loaded: stages.json does not parse: %s", pub);
        }
        int failed = 0;
        int64_t fstamp = 0;
        for (size_t f = 0; e && f < e->nfails; f++)
          if (strcmp(e->fails[f].version, vs[k]) == 0) {
            /* The reason as the admin API's 409 gives it: without paths. */
            fr__public_reason(s, e->fails[f].msg, pub, sizeof pub);
            failed = 1;
            fstamp = e->fails[f].stamp;
          }
        pthread_rwlock_unlock(&r->lock);
        if (failed) {
          /* The index describes the directory as it is now: a load error
           * recorded for other contents (the directory was restored or
           * rewritten since) no longer applies. */
          char dir[1200];
          snprintf(dir, sizeof dir, "%s/%s/%s", s->cfg.model_repository, names[i], vs[k]);
          if (dir_stamp(dir) == fstamp)
            snprintf(msg, sizeof msg, "failed to load: %s", pub);
          else
            snprintf(msg, sizeof msg,
                     "not loaded: its directory changed since it failed to load, so that "
                     "error no longer applies; it is loaded again when the version policy or "
                     "stages.json wants it (at the next repository poll)");
        }
        fr__buf_puts(out, ",\"reason\":");
        fr__buf_json_str(out, msg, strlen(msg));
      } else if (snap) {
        const char *role = v == snap->primary  ? "production"
                           : v == snap->canary ? "canary"
                           : v == snap->shadow ? "shadow"
                                               : "loaded";
        fr__buf_printf(out, ",\"role\":\"%s\"", role);
      }
      fr__buf_putc(out, '}');
    }
    fr__snapshot_release(snap);
    fr_strv_free(vs);
  }
  fr__buf_putc(out, ']');
  fr_strv_free(names);
}

void fr__registry_scrape(fr__registry *r) {
  fr__metrics *m = r->s->metrics;
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++) {
    fr__snapshot *s = r->models[i]->snap;
    if (!s)
      continue;
    fr__mv *v = s->primary;
    const char *l1[] = {s->name};
    fr__series_set(fr__metrics_get(m, M_SCORE_PSI, l1), fr__drift_score_psi(v->drift));
    for (size_t f = 0; f < v->nfeatures; f++) {
      char fb[24];
      const char *fn = v->feat ? fr_featurizer_name(v->feat, f) : fr_forest_feature_name(v->forest, f);
      if (!fn) {
        snprintf(fb, sizeof fb, "f%zu", f);
        fn = fb;
      }
      const char *l2[] = {s->name, fn};
      fr__series_set(fr__metrics_get(m, M_FEATURE_PSI, l2), fr__drift_feature_psi(v->drift, f));
    }
  }
  /* State stores: counters by delta, gauges summed per backend over the
   * distinct stores (a store shared by versions, or by models, counts once). */
  fr_server *srv = r->s;
  double sums[2][64] = {{0}};
  int seen_backend[2] = {0, 0};
  const fr_state *done[256];
  size_t ndone = 0;
  for (size_t i = 0; i < r->n; i++) {
    fr__snapshot *s = r->models[i]->snap;
    for (size_t g = 0; s && g < s->ngroups; g++) {
      fr__state_group *sg = s->group_rep[g]->sg;
      int dup = 0;
      for (size_t k = 0; k < ndone; k++)
        dup |= done[k] == sg->state;
      if (dup || ndone == 256)
        continue;
      done[ndone++] = sg->state;
      fr_state_stats st;
      report_stats(sg, &st);
      int b = strcmp(sg->backend, "redis") == 0;
      seen_backend[b] = 1;
      for (size_t e = 0; e < srv->nstm && e < 64; e++)
        if (strcmp(srv->stm[e].type, "gauge") == 0)
          sums[b][e] += strcmp(srv->stm[e].name, "fraud_state_available") == 0
                            ? (stat_value(&srv->stm[e], &st) ? 0 : 1) /* count unavailable */
                            : stat_value(&srv->stm[e], &st);
    }
  }
  for (int b = 0; b < 2; b++) {
    if (!seen_backend[b])
      continue;
    for (size_t e = 0; e < srv->nstm && e < 64; e++) {
      if (strcmp(srv->stm[e].type, "gauge") != 0)
        continue;
      double v = sums[b][e];
      if (strcmp(srv->stm[e].name, "fraud_state_available") == 0)
        v = v > 0 ? 0 : 1; /* 1 only when every store of the backend answers */
      fr__series_set(fr__state_series(srv, e, b ? "redis" : "memory"), v);
    }
  }
  pthread_rwlock_unlock(&r->lock);
}

size_t fr__registry_state_entities(fr__registry *r) {
  size_t total = 0;
  pthread_rwlock_rdlock(&r->lock);
  for (size_t i = 0; i < r->n; i++) {
    fr__snapshot *s = r->models[i]->snap;
    for (size_t k = 0; s && k < s->ngroups; k++)
      total += fr_state_size(s->group_rep[k]->sg->state);
  }
  pthread_rwlock_unlock(&r->lock);
  return total;
}
