/*
 * fraud/serve.h - the scoring server: KServe V2 / Open Inference Protocol
 * over REST, the raw-transaction scoring API (/v1/score) with online
 * features, dynamic batching, a model repository with hot swap, canary and
 * shadow releases, health probes and Prometheus metrics, on libmicrohttpd.
 * docs/server.md describes the behaviour, docs/api.md the endpoints,
 * docs/metrics.md the metrics.
 *
 * Also here: the on-disk model repository (DIR/<name>/<version>/ bundles and
 * DIR/<name>/stages.json) used by both the server and `fraud models`, and the
 * small admin client that `fraud models ... --server URL` uses.
 */
#ifndef FRAUD_SERVE_H
#define FRAUD_SERVE_H

#include "fraud/common.h"
#include "fraud/features.h"
#include "fraud/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Configuration (config.example.yaml documents every key).
 *
 * Precedence: built-in defaults < config file < environment < flags.  Every
 * key `section.name` can be set from the environment as FRAUD_SECTION_NAME
 * (dots become underscores, upper case: server.port -> FRAUD_SERVER_PORT,
 * model_defaults.batching.enabled -> FRAUD_MODEL_DEFAULTS_BATCHING_ENABLED)
 * and from the command line with `--set section.name=value`.
 * ------------------------------------------------------------------------ */

/* Which versions of a model the server keeps loaded (Triton's
 * version_policy): the newest N by numeric order, all, or a given list.
 * Versions named in stages.json (production, staging, canary, shadow) are
 * loaded in addition. */
typedef enum fr_version_policy_kind {
  FR_VERSIONS_LATEST = 0,
  FR_VERSIONS_ALL = 1,
  FR_VERSIONS_SPECIFIC = 2
} fr_version_policy_kind;

#define FR_MAX_SPECIFIC_VERSIONS 16
#define FR_MAX_PREFERRED_BATCH 8

typedef struct fr_version_policy {
  fr_version_policy_kind kind;
  int latest;                                     /* LATEST: N >= 1 */
  size_t nspecific;
  char specific[FR_MAX_SPECIFIC_VERSIONS][32];    /* SPECIFIC: version names */
} fr_version_policy;

/* Dynamic batching of one model (Triton's dynamic_batching block): requests
 * from many connections are queued and scored together; a batch is run as
 * soon as it reaches a preferred size (or max_batch_size), or when its oldest
 * request has waited max_queue_delay_us.  A request with more rows than
 * max_batch_size is rejected with 400.  Disabled: each request is scored on
 * its HTTP thread with no queue hop. */
typedef struct fr_batching_config {
  int enabled;
  int max_batch_size;                      /* rows, >= 1 */
  size_t npreferred;
  int preferred[FR_MAX_PREFERRED_BATCH];   /* rows, increasing */
  int64_t max_queue_delay_us;              /* microseconds, >= 0 */
} fr_batching_config;

/* Settings of one model (or the defaults for every model). */
typedef struct fr_model_config {
  char name[128];
  fr_version_policy versions;
  fr_batching_config batching;
  unsigned set_mask; /* models.<name>: keys set explicitly (the others follow
                        model_defaults, whenever those are set) */
} fr_model_config;

typedef enum fr_repository_mode {
  FR_REPO_POLL = 0,     /* rescan every poll_interval, load/swap/unload */
  FR_REPO_EXPLICIT = 1, /* load/unload only through the repository API */
  FR_REPO_NONE = 2      /* load once at start */
} fr_repository_mode;

typedef enum fr_state_backend {
  FR_STATE_MEMORY = 0,
  FR_STATE_REDIS = 1
} fr_state_backend;

/* The effective configuration.  Every char * field is owned by the config
 * (set it with fr_server_config_set, or assign a malloc'ed string after
 * freeing the old one); fr_server_config_close frees them. */
typedef struct fr_server_config {
  /* server: the inference listener */
  char *listen_address;         /* "0.0.0.0" (default) */
  int port;                     /* 8080; 0 = ephemeral (see fr_server_port) */
  int threads;                  /* HTTP worker threads; 0 = number of cores */
  unsigned max_connections;     /* 1024 */
  unsigned max_connections_per_ip; /* from one client address; 0 (default) = no limit */
  size_t max_body_bytes;        /* 8 MiB */
  size_t max_tensor_elements;   /* elements per V2 request, 16,777,216 */
  double read_timeout;          /* seconds a request may take to arrive, 30 */
  double idle_timeout;          /* seconds a keep-alive connection may idle, 60 */
  double shutdown_grace;        /* seconds SIGTERM waits for in-flight work, 30 */
  char *tls_cert;               /* PEM files; TLS when both are set */
  char *tls_key;
  /* admin: repository and release API on its own listener */
  int admin_enabled;            /* 1 */
  char *admin_listen;           /* "127.0.0.1" */
  int admin_port;               /* 8081; 0 = ephemeral */
  char *admin_token;            /* bearer token (secret); empty = admin API refuses */
  char *admin_token_file;       /* file holding the token (read at start) */
  /* repository */
  char *model_repository;       /* directory of <name>/<version>/ bundles */
  fr_repository_mode repository_mode;
  double poll_interval;         /* seconds, 10 */
  char *default_model;          /* /v1/score model without ?model= */
  char *startup_models;         /* explicit mode: comma-separated names, "" = all */
  /* models */
  fr_model_config model_defaults;
  fr_model_config *models;      /* per-model overrides */
  size_t nmodels;
  /* scoring */
  char *routing_entity;         /* entity that keys canary stickiness, "" = first */
  int reasons;                  /* top-k reasons per /v1/score answer, 3 (0 = none) */
  int reasons_for;              /* 0 flagged (review/decline) answers only, 1 all */
  int reason_order;             /* 0 toward fraud (positive contributions), 1 by magnitude */
  /* state */
  fr_state_backend state_backend;
  fr_state_options state;       /* online feature state (hash_key derived at start) */
  double max_future_skew;       /* state.max_future_skew, seconds (default 1 day;
                                   0 = off): /v1/score refuses (400
                                   out_of_range) an event time further ahead
                                   of the server's wall clock, which would
                                   make every later event of its entities
                                   "late" */
  char *state_hash_secret;      /* secret of the entity-key hash; "" = the
                                   FRAUD_HASH_SECRET environment variable */
  size_t state_max_bytes;       /* state.max_bytes: heap cap of the in-process store */
  char *snapshot_path;          /* state.snapshot.path: in-process state is
                                   restored from / saved to
                                   <path>.<model>.<layout digest, 16 hex>;
                                   "" = none */
  double snapshot_interval;     /* state.snapshot.interval, seconds (0 = at stop only) */
  char *redis_url;              /* state.redis.url */
  char *redis_prefix;           /* state.redis.prefix */
  double redis_timeout;         /* state.redis.timeout, seconds */
  int redis_on_outage;          /* state.redis.on_outage: 0 fail (503), 1 empty */
  double redis_retry_interval;  /* state.redis.retry_interval, seconds */
  int redis_max_connections;    /* state.redis.max_connections */
  int redis_max_retries;        /* state.redis.max_retries */
  char *warm_data;              /* state.warm_start.data: history CSV replayed
                                   into each new state store, "" = none */
  char *warm_until;             /* state.warm_start.until: epoch seconds;
                                   only rows before it ("" = every row) */
  double warm_until_value;      /* parsed warm_until (NaN = every row); set
                                   by fr_server_config_validate */
  /* logging */
  char *log_level;              /* "" = FRAUD_LOG_LEVEL or info */
  int access_log;               /* one JSON line per request, 0 */
  /* Not keys: the file this config was loaded from, and the command line's
   * --set overrides as "key=value" lines, both re-applied by a reload. */
  char *config_path;
  char *overrides;
} fr_server_config;

/* Fills c with the defaults above.  Call fr_server_config_close when done. */
FR_EXPORT void fr_server_config_default(fr_server_config *c);
/* Frees the owned strings and model list; c may be reused after
 * fr_server_config_default.  NULL-safe. */
FR_EXPORT void fr_server_config_close(fr_server_config *c);
/* Deep copy of src into dst (dst uninitialised).  Errors: FR_ENOMEM. */
FR_EXPORT int fr_server_config_copy(fr_server_config *dst,
                                    const fr_server_config *src);

/* Sets one key from text, as the environment and --set do: "server.port",
 * "models.fraud.batching.max_batch_size", "model_defaults.version_policy"
 * (values "latest", "latest:2", "all", "specific:1,3").  Booleans accept
 * true/false/yes/no/on/off/1/0; durations "30s", "500ms", "1m" or plain
 * seconds; sizes bytes or with KiB/MiB/GiB; lists comma-separated.  Errors:
 * FR_ESCHEMA "unknown configuration key 'x'" or "server.port: expected an
 * integer from 0 to 65535, got 'abc'". */
FR_EXPORT int fr_server_config_set(fr_server_config *c, const char *key,
                                   const char *value, fr_error *err);

/* Reads a config.yaml over c (keys it does not mention keep their value;
 * `{}` sets none) and records path in c->config_path.  An empty file, or
 * one holding only comments, is refused (most likely a file caught
 * mid-write), c untouched.  Errors: FR_EIO, FR_EPARSE, FR_ESCHEMA naming
 * "config.yaml:12:5: unknown key 'prot' in server (expected one of: ...)",
 * the bad value, or "config.yaml: the configuration file is empty ...". */
FR_EXPORT int fr_server_config_load(fr_server_config *c, const char *path,
                                    fr_error *err);

/* Applies FRAUD_<SECTION>_<KEY> variables from the environment.  A variable
 * with a section prefix (FRAUD_SERVER_, FRAUD_ADMIN_, FRAUD_REPOSITORY_,
 * FRAUD_MODEL_DEFAULTS_, FRAUD_SCORING_, FRAUD_STATE_, FRAUD_LOGGING_) that
 * names no key is an error. */
FR_EXPORT int fr_server_config_apply_env(fr_server_config *c, fr_error *err);

/* Checks cross-key constraints (batch sizes, TLS pairs, ...) and the listen
 * addresses (numeric IPv4 or IPv6, as the listeners read them; admin.listen
 * only with the admin API enabled), and sets the
 * derived fields (warm_until_value).  Errors: FR_ESCHEMA naming the key. */
FR_EXPORT int fr_server_config_validate(fr_server_config *c, fr_error *err);

/* Writes the configuration as YAML that fr_server_config_load reads back
 * (secrets shown as "<redacted>").  Returns a new string (caller frees) or
 * NULL on ENOMEM. */
FR_EXPORT char *fr_server_config_dump(const fr_server_config *c);

/* The effective settings of model `name` into *out: model_defaults overlaid
 * with the keys its models.<name> entry sets. */
FR_EXPORT void fr_server_config_model(const fr_server_config *c,
                                      const char *name, fr_model_config *out);

/* ------------------------------------------------------------------------
 * Server
 * ------------------------------------------------------------------------ */

typedef struct fr_server fr_server;

/* Starts listening (inference port, and the admin port when enabled), then
 * loads the repository's models in the background: /v2/health/live answers
 * at once, /v2/health/ready turns 200 once every model found at start is
 * loaded and warmed up (at least one).  The config is copied.  Errors:
 * FR_EIO (cannot bind: names address and port), FR_ENOTFOUND (repository
 * missing), FR_ESCHEMA (invalid configuration), FR_EDEP (TLS asked but
 * libmicrohttpd lacks it).  Stop with fr_server_stop. */
FR_EXPORT fr_server *fr_server_start(const fr_server_config *c, fr_error *err);

/* The TCP port actually bound (useful with port 0), or -1. */
FR_EXPORT int fr_server_port(const fr_server *s);
/* The admin port actually bound, or -1 when the admin API is off. */
FR_EXPORT int fr_server_admin_port(const fr_server *s);

/* 1 when /v2/health/ready would answer 200. */
FR_EXPORT int fr_server_ready(const fr_server *s);

/* 1 once the initial load of the model repository (in the background after
 * fr_server_start) has finished, whatever it loaded; else 0.  Thread-safe. */
FR_EXPORT int fr_server_loaded(const fr_server *s);

/* Waits up to timeout seconds for readiness.  Returns 0, or FR_ETIMEDOUT. */
FR_EXPORT int fr_server_wait_ready(fr_server *s, double timeout);

/* A configuration error found by the initial load of the model repository,
 * which runs in the background after fr_server_start returns: the
 * warm-start history (state.warm_start.data) could not be read or replayed.
 * Returns 0 (none so far: the load is still running, or went well), or the
 * negative FR_E* code of the first such error, copied with its message
 * (naming the file, and line:column when the reader gives one) into err.
 * A caller treats it as a failed start (`fraud serve` exits 1).  Only the
 * initial load sets it: a bad history met later (a new version, a SIGHUP
 * reload) fails that version's load and the loaded versions keep their
 * state.  Thread-safe. */
FR_EXPORT int fr_server_startup_error(fr_server *s, fr_error *err);

/* Re-reads the configuration file the server was started with (SIGHUP),
 * applies environment overrides and `overrides` (NULL-terminated "key=value"
 * strings; NULL = the config's `overrides` lines, i.e. the command line's
 * --set pairs the server was started with), and applies what
 * can change live: logging, access log, batching, version policies, poll
 * interval, default model, reasons, admin token, timeouts and limits.  Keys
 * that need a restart (listen addresses, ports, threads, TLS, state backend)
 * are logged and left as they were.  On a bad file the old configuration
 * stays.  Thread-safe. */
FR_EXPORT int fr_server_reload(fr_server *s, const char *const *overrides,
                               fr_error *err);

/* Graceful shutdown: readiness turns 503, listeners stop accepting, requests
 * already accepted (in flight or queued for batching) are answered, state is
 * flushed; returns when that is done or after grace seconds (< 0: the
 * configured shutdown_grace).  Returns 0, or FR_ETIMEDOUT when requests were
 * still in flight at the deadline.  fr_server_stop must still be called. */
FR_EXPORT int fr_server_shutdown(fr_server *s, double grace);

/* Stops (after fr_server_shutdown when not yet done, with its grace) and
 * frees everything.  NULL-safe. */
FR_EXPORT void fr_server_stop(fr_server *s);

/* ------------------------------------------------------------------------
 * Model repository on disk: DIR/<name>/<version>/ (bundles: manifest.json;
 * bare model files: xgboost.json, model.txt, model.onnx) and
 * DIR/<name>/stages.json holding the release state, written atomically:
 *   {"production": "3", "staging": "4", "canary": {"version": "4",
 *    "weight": 0.1}, "shadow": "5", "history": ["1", "2"]}
 * Model names match [A-Za-z0-9_.-]+ (no leading dot); versions are
 * directories named by a number (as in Triton), ordered numerically ("10"
 * after "9").  Other entries (such as the "3.tmp-..." directory of a bundle
 * being written) are ignored, so a version appears only once complete.
 * ------------------------------------------------------------------------ */

/* Release state of one model (stages.json).  Empty strings mean unset. */
typedef struct fr_stages {
  char production[32];
  char staging[32];
  char canary[32];
  double canary_weight;       /* fraction 0..1 of cards routed to canary */
  char shadow[32];
  size_t nhistory;
  char history[32][32];       /* earlier production versions, oldest first */
} fr_stages;

/* Reads DIR/<name>/stages.json; a missing file yields empty stages.  Errors:
 * FR_EPARSE / FR_ESCHEMA naming the file and field. */
FR_EXPORT int fr_stages_read(const char *repo, const char *name, fr_stages *st,
                             fr_error *err);
/* Writes it atomically (fr_file_write_atomic).  Errors: FR_EIO. */
FR_EXPORT int fr_stages_write(const char *repo, const char *name,
                              const fr_stages *st, fr_error *err);

/* Lists the model names (sorted) or the versions of one model (numeric
 * order).  Returns a new NULL-terminated array of new strings (free with
 * fr_strv_free), or NULL with err (FR_ENOTFOUND, FR_EIO). */
FR_EXPORT char **fr_repository_models(const char *repo, fr_error *err);
FR_EXPORT char **fr_repository_versions(const char *repo, const char *name,
                                        fr_error *err);
FR_EXPORT void fr_strv_free(char **v);

/* Whether the server would load version `version` of model `name` as far
 * as its manifest goes: a directory with manifest.json must name this model
 * and version (the server refuses any other bundle, src/serve/models.c); one
 * without (a bare model file) passes.  The one rule of `fraud models list`
 * ("invalid") and of the release operations below.  Returns 0, or FR_ESTATE
 * with "manifest names A/B, not NAME/VERSION" (or "manifest is not valid
 * JSON"), FR_ENOMEM.  Does not check that the directory exists. */
FR_EXPORT int fr_repository_manifest_check(const char *repo, const char *name,
                                           const char *version, fr_error *err);

/* The implicit production of model `name`: the version the server serves
 * when stages.json promotes none.  When any version directory holds a bundle
 * (manifest.json), the newest version that loads as the server loads it (see
 * the release checks below: manifest, every file's sha256, one output per
 * row) and is a bundle: a bare model file next to bundles is never chosen,
 * since it has no schema or feature spec for /v1/score.  In a model of bare
 * model files only, the newest one that loads.  Writes the version to out
 * (cap bytes; "" when none loads) and returns 0, or FR_ENOTFOUND (no such
 * model), FR_EIO.  Reads the repository only; thread-safe. */
FR_EXPORT int fr_repository_implicit_production(const char *repo, const char *name,
                                                char *out, size_t cap, fr_error *err);

/* Orders version names: numeric ones by value, then the rest by strcmp.
 * Returns <0, 0, >0 like strcmp. */
FR_EXPORT int fr_version_cmp(const char *a, const char *b);

/* 1 when s is a valid model or version name. */
FR_EXPORT int fr_repository_name_ok(const char *s);

/* Release operations on stages.json (what `fraud models` and the admin API
 * do).  promote: `version` becomes production; the previous production goes
 * to history as the rollback target (when nothing was promoted before, the
 * version the server serves then: fr_repository_implicit_production; none
 * when that is `version` itself); canary/staging/shadow entries naming it
 * are cleared.  With stage "staging" it only becomes staging.  rollback:
 * production returns to the last history entry, or without history to the
 * newest loadable version of the same kind (bundle or bare model file)
 * before the implicit production (and, like
 * promote, stops being staging, canary or shadow).  canary: `version` gets
 * the fraction `weight` of cards, 0 < weight <= 1 (a weight below DBL_MIN,
 * what an underflowing literal such as 1e-400 reads as, is refused);
 * version NULL or "" ends the canary (weight ignored).  shadow: version NULL
 * or "" ends it.
 * Every version named must be a directory named by a number (the server
 * loads only those) that the server loads: a bundle whose manifest names
 * this model and version and that fr_bundle_open verifies, or a bare model
 * file that fr_forest_dir_load reads; one output per row.  A version taking
 * production, canary or shadow, or a rollback target, must also serve what
 * the current production (the promoted one, else, or when the promoted one
 * no longer loads, the implicit one) serves: a bundle where production is a bundle (a bare model has no
 * feature spec for /v1/score), a bare model where production is bare, the
 * same transaction schema (column names, roles, types) and the same model
 * input (feature names in order; width for bare models).  A canary or
 * shadow must not be the production version.  Nothing is written on error.
 * Errors: FR_ENOTFOUND (model or version), FR_EINVAL (a version name that
 * is not a name (empty, "..", a '/'); a version directory not named by a
 * number, naming the directory; weight outside (0, 1]; an unknown stage), FR_ESTATE (nothing to roll back to; a version that does
 * not load, or cannot serve what production serves, with the reason; canary
 * or shadow = the production version), FR_EPARSE/FR_ESCHEMA (stages.json),
 * FR_EIO.  Messages may name files (the admin API strips paths before
 * answering). */
FR_EXPORT int fr_repository_promote(const char *repo, const char *name,
                                    const char *version, const char *stage,
                                    fr_stages *out, fr_error *err);
FR_EXPORT int fr_repository_rollback(const char *repo, const char *name,
                                     fr_stages *out, fr_error *err);
FR_EXPORT int fr_repository_set_canary(const char *repo, const char *name,
                                       const char *version, double weight,
                                       fr_stages *out, fr_error *err);
FR_EXPORT int fr_repository_set_shadow(const char *repo, const char *name,
                                       const char *version, fr_stages *out,
                                       fr_error *err);

/* ------------------------------------------------------------------------
 * Admin client (libcurl), for `fraud models ... --server URL --token T`.
 * ------------------------------------------------------------------------ */

/* Sends `method` `base_url` + `path` with an optional JSON body and the
 * bearer token; returns the HTTP status (>= 100) and the response body in
 * *response (caller frees), or a negative FR_EIO naming the URL when the
 * server cannot be reached. */
FR_EXPORT int fr_admin_request(const char *base_url, const char *token,
                               const char *method, const char *path,
                               const char *json_body, char **response,
                               fr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_SERVE_H */
