/*
 * models.h - the models the server has loaded: for each model name, an
 * immutable routing snapshot (its loaded versions, which one is production,
 * the canary and its weight, the shadow) swapped atomically when the
 * repository changes.  A request takes a reference to the snapshot of its
 * model, so a hot swap never disturbs a request in flight; a version left out
 * of the new snapshot is freed once its last request has finished (drained).
 *
 * Versions of one model whose schema and fitted feature spec are identical
 * share one online state store (a "state group"), so a new version takes
 * over the entity history of the old one; a version with a different spec
 * gets its own store, fed with every transaction the model sees from the
 * moment it is loaded (and warmed from the warm-start file when configured).
 */
#ifndef FRAUD_SERVE_MODELS_H
#define FRAUD_SERVE_MODELS_H

#include "serve/drift.h"
#include "serve/server.h"

#define FR__MAX_LOADED 32

typedef struct fr__state_group {
  _Atomic int refs;
  char sig[65];                 /* sha256(schema text, fitted spec) */
  fr_state *state;
  fr_bundle *owner;             /* keeps feat/schema alive */
  const fr_featurizer *feat;
  const fr_schema *schema;
  char backend[16];             /* metric label */
  struct fr__registry *reg;
  fr_state_stats reported;      /* counters already added to the metrics */
} fr__state_group;

typedef struct fr__mv {
  _Atomic int refs;
  struct fr__registry *reg;
  char name[128];
  char version[32];
  char dir[1024];
  fr_bundle *bundle;            /* NULL for a bare model file */
  fr_forest *own_forest;        /* bare model file */
  const fr_forest *forest;
  const fr_featurizer *feat;    /* NULL for a bare model file */
  const fr_schema *schema;
  fr_thresholds th;
  size_t nfeatures;
  const char *input_name;       /* "features" (bundle) or "input__0" (bare) */
  const char *prob_name;        /* "probability" or "output__0" */
  const char *contrib_name;     /* "contributions" or "treeshap_output" */
  int bare;                     /* a bare model file (Triton FIL layout) */
  fr_forest_dir fil;            /* bare: what its config says */
  size_t out_width;             /* bare: output__0 values per row */
  fr__state_group *sg;          /* NULL for a bare model file */
  fr__batcher *batcher;
  _Atomic int batching;         /* dynamic batching on */
  fr__drift *drift;             /* online PSI of scores and features */
  double loaded_at;
  /* The fingerprint of dir when it was loaded (models.c, dir_stamp): a
   * version whose directory changed since is loaded again, so a version
   * first seen half-copied (model.json before manifest.json) is not kept as
   * what it was then. */
  int64_t stamp;
  /* schema roles (-1 when absent) */
  int id_col, amount_col, time_col, label_col;
  int route_entity;             /* entity index for canary stickiness, -1 */
  uint64_t *col_hash;           /* fr__txnjson_hash of each column name */
  size_t *col_len;              /* strlen of each column name */
  /* cached metric series */
  fr__series *m_featurize, *m_inference, *m_score;
  fr__series *m_decisions[3], *m_amount[3];
  struct fr__mv *graveyard_next;
} fr__mv;

typedef struct fr__snapshot {
  _Atomic int refs;
  char name[128];
  fr__mv *primary;              /* production */
  fr__mv *canary;               /* or NULL */
  double canary_weight;
  fr__mv *shadow;               /* or NULL */
  size_t n;
  fr__mv *v[FR__MAX_LOADED];    /* loaded versions, numeric order */
  size_t ngroups;
  fr__mv *group_rep[FR__MAX_LOADED]; /* one version per distinct state group */
} fr__snapshot;

typedef struct fr__registry fr__registry;

fr__registry *fr__registry_new(fr_server *s, fr_error *err);
/* Unloads everything (batchers drained) and frees.  NULL-safe. */
void fr__registry_free(fr__registry *r);

/* The snapshot of model `name` with a reference, or NULL when it has no
 * loaded version.  Thread-safe, lock held only for the pointer copy. */
fr__snapshot *fr__registry_acquire(fr__registry *r, const char *name);
void fr__snapshot_release(fr__snapshot *s);
/* Version `v` of a snapshot, or NULL. */
fr__mv *fr__snapshot_find(fr__snapshot *s, const char *v);

/* Names of the models with a loaded version (sorted); returns the count. */
size_t fr__registry_loaded(fr__registry *r, char (*names)[128], size_t max);

/* Brings model `name` in line with the repository: loads the versions its
 * policy and stages.json want (verifying and warming each in the caller's
 * thread), then swaps the snapshot; versions no longer wanted drain.  A
 * version that failed to load is retried when its directory or a file in it
 * changes, or at once with `force` (an explicit repository load, which also
 * loads a model unloaded through the repository API; without `force` such a
 * model is left unloaded: FR_ESTATE).  A model whose directory vanished is
 * unloaded.
 * Production is the promoted version when it loads; else (none promoted,
 * or the promoted one is gone or fails) the newest loaded version the
 * policy selects, else the newest loaded, of one kind: a bundle when the
 * model has bundle versions (when the promoted one is gone: the kind of the
 * version that was serving), a bare model file only in a model of bare
 * files; when the promoted one is gone, or none is promoted and a bundle
 * has served, only a version that serves what the last production served
 * (same schema and model input: fr__repository_serves_like; refusals
 * logged as model_fallback_refused, or model_switch_refused for the
 * implicit production (also counted as failed loads), and cached per
 * version directory).  Without such a version the model is not served.
 * A serving production whose directory is gone is not kept: stages.json is
 * then checked as with nothing serving.  Once a bundle served, a stages.json naming a bare production
 * while nothing serves (after an unload) is refused (FR_ESTATE,
 * release_refused): the model stays unserved; while the model serves, the
 * routing in force stays, and when the serving production is the one that
 * turned into a bare model file (or was loaded again as a bundle that does
 * not serve what the model serves) it is unavailable and the fallback above
 * serves (release_refused, counted once).  A stages.json
 * that does not parse changes nothing: the routing in force stays (none at
 * startup: the model is not served), logged and counted in
 * fraud_model_loads_total{result="failure"} once per distinct error.
 * Returns 0 when the model routes by the repository afterwards, else an
 * FR_E* code with err naming the reason (FR_EPARSE / FR_ESCHEMA for
 * stages.json, even when the last good routing still serves).  Serialised
 * per registry. */
int fr__registry_sync(fr__registry *r, const char *name, int force, fr_error *err);
/* Syncs every model directory of the repository (poll mode) and unloads
 * models whose directory is gone.  With `only` (comma-separated names, or
 * NULL) limits the scan to those models. */
void fr__registry_sync_all(fr__registry *r, const char *only);
/* Unloads every version of `name` (explicit mode); it stays unloaded until
 * the next explicit load.  FR_ENOTFOUND when not loaded. */
int fr__registry_unload(fr__registry *r, const char *name);
/* 1 when `name` was explicitly unloaded. */
int fr__registry_is_unloaded(fr__registry *r, const char *name);
/* Frees versions that have drained.  Called by the repository thread. */
void fr__registry_collect(fr__registry *r);
/* Applies batching settings from the configuration to loaded versions. */
void fr__registry_configure(fr__registry *r);

/* JSON array for POST /v2/repository/index: every model directory and its
 * versions with state READY (and role) / UNAVAILABLE and a reason (a
 * failed load's reason through fr__public_reason). */
void fr__registry_index(fr__registry *r, int ready_only, fr__buf *out);
/* Last load error of a model, "" when none.  It may name files (logs
 * carry it as is); pass it through fr__public_reason before a response. */
void fr__registry_last_error(fr__registry *r, const char *name, char *out, size_t cap);
/* The load error of one version of a model: 1 with the message in out when
 * that version failed to load (and has not loaded since), else 0 and "". */
int fr__registry_version_error(fr__registry *r, const char *name, const char *version,
                               char *out, size_t cap);
/* `msg` as a response may carry it: responses name models and versions,
 * never filesystem paths (logs may).  Paths under the model repository
 * lose the repository's part ("/srv/models/sparkov/3/model.json: ..."
 * becomes "sparkov/3/model.json: ..."), the repository itself becomes "the
 * model repository", and any other absolute path is cut to its last
 * component ("/etc/fraud/config.yaml:3:5" becomes "config.yaml:3:5").
 * The server's own routes ("/v1/score", "/v2/...", "/metrics",
 * "/admin/...") are URL paths, not files, and stay as they are. */
void fr__public_reason(const fr_server *s, const char *msg, char *out, size_t cap);

/* Sums fr_state_size over the loaded state groups, per backend label. */
size_t fr__registry_state_entities(fr__registry *r);
/* At scrape time: PSI gauges of every model's production version, and the
 * state stores' eviction and late-event counters. */
void fr__registry_scrape(fr__registry *r);

#endif
