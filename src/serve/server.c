/*
 * server.c - the server's life cycle and its generic endpoints: the two
 * listeners and their route tables, the metric table of docs/metrics.md,
 * health and server metadata, /metrics, request accounting and logs, the
 * repository thread (initial load, polling, draining freed versions),
 * SIGHUP reload and graceful shutdown.  The model endpoints live in
 * infer.c (V2), score.c (/v1/score) and admin.c (repository and releases).
 */
#include "serve/server.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve/models.h"

/* ---- metrics (docs/metrics.md is the contract) ---- */

static const double b_latency[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                   0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1,    2.5};
static const double b_fast[] = {0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005,
                                0.0001,   0.00025,   0.0005,   0.001,   0.0025,   0.005,
                                0.01,     0.05};
static const double b_batch[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
static const double b_score[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.3,
                                 0.5,   0.7,   0.9,  0.95, 0.99};
#define NB(a) (sizeof a / sizeof a[0])

static const fr__metric_def metric_defs[M_COUNT] = {
    [M_BUILD_INFO] = {"fraud_build_info", FR__GAUGE, "Build of the running server.", {"version"}, NULL, 0},
    [M_READY] = {"fraud_ready", FR__GAUGE, "1 when /v2/health/ready answers 200.", {NULL}, NULL, 0},
    [M_REQUESTS] = {"fraud_http_requests_total", FR__COUNTER, "Requests answered, by route pattern and HTTP status.", {"endpoint", "status", "model", "version"}, NULL, 0},
    [M_REQUEST_DURATION] = {"fraud_http_request_duration_seconds", FR__HISTOGRAM, "Time from request start to response queued.", {"endpoint"}, b_latency, NB(b_latency)},
    [M_IN_FLIGHT] = {"fraud_http_requests_in_flight", FR__GAUGE, "Requests being processed.", {NULL}, NULL, 0},
    [M_ERRORS] = {"fraud_request_errors_total", FR__COUNTER, "4xx/5xx answers by reason.", {"endpoint", "reason"}, NULL, 0},
    [M_INFERENCE_DURATION] = {"fraud_inference_duration_seconds", FR__HISTOGRAM, "Time inside the forest engine per executed batch.", {"model"}, b_fast, NB(b_fast)},
    [M_FEATURIZE_DURATION] = {"fraud_featurize_duration_seconds", FR__HISTOGRAM, "Online feature computation and state update per transaction.", {"model"}, b_fast, NB(b_fast)},
    [M_QUEUE_WAIT] = {"fraud_queue_wait_seconds", FR__HISTOGRAM, "Dynamic batching: time a request waited in the queue.", {"model"}, b_latency, NB(b_latency)},
    [M_BATCH_SIZE] = {"fraud_batch_size", FR__HISTOGRAM, "Rows per executed batch.", {"model"}, b_batch, NB(b_batch)},
    [M_MODEL_LOADS] = {"fraud_model_loads_total", FR__COUNTER, "Model version loads.", {"model", "result"}, NULL, 0},
    [M_MODEL_READY] = {"fraud_model_ready", FR__GAUGE, "1 for each loaded, ready version.", {"model", "version"}, NULL, 0},
    [M_DECISIONS] = {"fraud_decisions_total", FR__COUNTER, "Scoring decisions.", {"model", "version", "decision"}, NULL, 0},
    [M_SCORED_AMOUNT] = {"fraud_scored_amount_total", FR__COUNTER, "Sum of transaction amounts by decision.", {"model", "decision"}, NULL, 0},
    [M_SCORE] = {"fraud_score", FR__HISTOGRAM, "Fraud probability of scored transactions.", {"model"}, b_score, NB(b_score)},
    [M_SCORE_PSI] = {"fraud_score_psi", FR__GAUGE, "Population stability index of recent scores against the reference (NaN without one).", {"model"}, NULL, 0},
    [M_FEATURE_PSI] = {"fraud_feature_psi", FR__GAUGE, "Population stability index of each feature's recent values against the reference (NaN without one).", {"model", "feature"}, NULL, 0},
    [M_RSS] = {"process_resident_memory_bytes", FR__GAUGE, "Resident set size in bytes.", {NULL}, NULL, 0},
    [M_OPEN_FDS] = {"process_open_fds", FR__GAUGE, "Number of open file descriptors.", {NULL}, NULL, 0},
    [M_START_TIME] = {"process_start_time_seconds", FR__GAUGE, "Start time of the process since the Unix epoch in seconds.", {NULL}, NULL, 0},
};

/* ---- shared helpers ---- */

/* The metric table: the static families above, then one family per
 * distinct name of the state store's table (fr_state_metrics), labelled by
 * backend and, where the table says so, one more label. */
static int build_metric_defs(fr_server *s) {
  s->stm = fr_state_metrics(&s->nstm);
  s->defs = calloc(M_COUNT + s->nstm, sizeof *s->defs);
  s->stm_family = calloc(s->nstm ? s->nstm : 1, sizeof *s->stm_family);
  if (!s->defs || !s->stm_family)
    return FR_ENOMEM;
  memcpy(s->defs, metric_defs, sizeof metric_defs);
  s->ndefs = M_COUNT;
  for (size_t e = 0; e < s->nstm; e++) {
    size_t f = M_COUNT;
    while (f < s->ndefs && strcmp(s->defs[f].name, s->stm[e].name) != 0)
      f++;
    if (f == s->ndefs) {
      fr__metric_def *d = &s->defs[s->ndefs++];
      d->name = s->stm[e].name;
      d->kind = strcmp(s->stm[e].type, "counter") == 0 ? FR__COUNTER : FR__GAUGE;
      d->help = s->stm[e].help;
      d->labels[0] = "backend";
      d->labels[1] = s->stm[e].label;
    }
    s->stm_family[e] = f;
  }
  return 0;
}

fr__series *fr__state_series(fr_server *s, size_t e, const char *backend) {
  const char *l[] = {backend, s->stm[e].label_value};
  return fr__metrics_get(s->metrics, s->stm_family[e], l);
}

int fr__grow_floats(float **p, size_t *cap, size_t n) {
  if (n <= *cap)
    return 0;
  size_t c = *cap ? *cap : 64;
  while (c < n)
    c *= 2;
  float *q = realloc(*p, c * sizeof *q);
  if (!q)
    return FR_ENOMEM;
  *p = q;
  *cap = c;
  return 0;
}

void fr__server_default_model(fr_server *s, char *out, size_t cap) {
  pthread_mutex_lock(&s->cfg_mu);
  fr__str_copy(out, cap, s->cfg.default_model ? s->cfg.default_model : "");
  pthread_mutex_unlock(&s->cfg_mu);
}

void fr__server_model_config(fr_server *s, const char *name, fr_model_config *out) {
  pthread_mutex_lock(&s->cfg_mu);
  fr_server_config_model(&s->cfg, name, out);
  pthread_mutex_unlock(&s->cfg_mu);
}

int fr_server_ready(const fr_server *s) {
  fr_server *m = (fr_server *)s;
  if (!s || atomic_load(&m->draining) || !atomic_load(&m->loaded))
    return 0;
  char names[1][128];
  return fr__registry_loaded(m->registry, names, 1) > 0;
}

/* ---- per-connection scratch ---- */

static void *scratch_new(void *app) {
  (void)app;
  return calloc(1, sizeof(fr__scratch));
}

static void scratch_free(void *app, void *p) {
  (void)app;
  fr__scratch *sc = p;
  if (!sc)
    return;
  fr__score_free(sc);
  fr__v2_request_close(&sc->v2);
  fr__reqpool_free(&sc->arena);
  fr__v2_response_close(&sc->v2out);
  free(sc->f);
  free(sc->prob);
  free(sc->margin);
  free(sc->labels);
  free(sc->tmp_row);
  free(sc->contrib);
  free(sc);
}

/* ---- generic endpoints ---- */

static void h_live(fr__req *r) { fr__buf_puts(&r->out, "{\"live\":true}"); }

static void h_ready(fr__req *r) {
  fr_server *s = r->app;
  if (fr_server_ready(s)) {
    fr__buf_puts(&r->out, "{\"ready\":true}");
    return;
  }
  const char *why = atomic_load(&s->draining) ? "shutting down"
                    : !atomic_load(&s->loaded) ? "loading models"
                                               : "no model loaded";
  fr__req_error(r, 503, "not_ready", "not ready: %s", why);
}

static void h_server_metadata(fr__req *r) {
  fr__buf_printf(&r->out,
                 "{\"name\":\"fraud\",\"version\":\"%s\",\"extensions\":[\"binary_tensor_data\","
                 "\"model_repository\",\"fraud_scoring\"]}",
                 fr_version());
}

static double read_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (!f)
    return NAN;
  int n = fscanf(f, "%ld %ld", &pages, &rss);
  fclose(f);
  return n == 2 ? (double)rss * (double)sysconf(_SC_PAGESIZE) : NAN;
}

static double count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return NAN;
  double n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the directory handle itself */
}

static void h_metrics(fr__req *r) {
  fr_server *s = r->app;
  fr__metrics *m = s->metrics;
  fr__series_set(fr__metrics_get(m, M_READY, NULL), fr_server_ready(s) ? 1 : 0);
  fr__series_set(fr__metrics_get(m, M_IN_FLIGHT, NULL),
                 (double)fr__http_in_flight(s->http) + (double)fr__http_in_flight(s->admin));
  fr__registry_scrape(s->registry);
  fr__series_set(fr__metrics_get(m, M_RSS, NULL), read_rss());
  fr__series_set(fr__metrics_get(m, M_OPEN_FDS, NULL), count_fds());
  fr__metrics_render(m, &r->out);
  r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* Route tables (CONVENTIONS.md rule 9).  Model endpoints accept an optional
 * /versions/{v} segment, as the protocol specifies. */
static const fr__route inference_routes[] = {
    {"GET", "/v2", h_server_metadata},
    {"GET", "/v2/health/live", h_live},
    {"GET", "/v2/health/ready", h_ready},
    {"GET", "/v2/models/{m}", fr__h_model_metadata},
    {"GET", "/v2/models/{m}/versions/{v}", fr__h_model_metadata},
    {"GET", "/v2/models/{m}/ready", fr__h_model_ready},
    {"GET", "/v2/models/{m}/versions/{v}/ready", fr__h_model_ready},
    {"POST", "/v2/models/{m}/infer", fr__h_infer},
    {"POST", "/v2/models/{m}/versions/{v}/infer", fr__h_infer},
    {"POST", "/v1/score", fr__h_score},
    {"GET", "/metrics", h_metrics},
};

static const fr__route admin_routes[] = {
    {"GET", "/v2/health/live", h_live},
    {"GET", "/v2/health/ready", h_ready},
    {"POST", "/v2/repository/index", fr__h_repo_index},
    {"POST", "/v2/repository/models/{m}/load", fr__h_repo_load},
    {"POST", "/v2/repository/models/{m}/unload", fr__h_repo_unload},
    {"GET", "/admin/models", fr__h_releases},
    {"GET", "/admin/models/{m}", fr__h_releases},
    {"POST", "/admin/models/{m}/promote", fr__h_promote},
    {"POST", "/admin/models/{m}/rollback", fr__h_rollback},
    {"POST", "/admin/models/{m}/canary", fr__h_canary},
    {"POST", "/admin/models/{m}/shadow", fr__h_shadow},
    {"POST", "/admin/reload", fr__h_reload},
    {"GET", "/metrics", h_metrics},
};

/* Constant-time comparison, so the token cannot be guessed byte by byte
 * from response times. */
static int token_equal(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char d = (unsigned char)(la != lb);
  for (size_t i = 0; i < la; i++)
    d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
  return d == 0;
}

static int admin_authorize(fr__req *r) {
  fr_server *s = r->app;
  if (strcmp(r->endpoint, "/v2/health/live") == 0 || strcmp(r->endpoint, "/v2/health/ready") == 0)
    return 0;
  pthread_mutex_lock(&s->cfg_mu);
  char token[512];
  snprintf(token, sizeof token, "%s", s->cfg.admin_token ? s->cfg.admin_token : "");
  pthread_mutex_unlock(&s->cfg_mu);
  if (!token[0]) {
    fr__req_error(r, 403, "unauthorized",
                  "the admin API is disabled: no admin token is configured (admin.token, "
                  "admin.token_file or FRAUD_ADMIN_TOKEN)");
    return 1;
  }
  const char *h = fr__req_header(r, "Authorization");
  if (!h || strncmp(h, "Bearer ", 7) != 0 || !token_equal(h + 7, token)) {
    fr__req_error(r, 401, "unauthorized", "missing or wrong bearer token");
    return 1;
  }
  return 0;
}

/* The request counter and duration series of the last few label sets seen
 * by this thread: steady traffic hits the same few, so the registry's
 * hash lookup (and its lock) is skipped on most requests. */
typedef struct series_cache {
  uint64_t server;      /* fr_server.id: a registry address may be reused */
  const char *endpoint; /* route pattern: a static string, compared by address */
  int status;
  char model[128], version[64];
  fr__series *requests, *duration;
} series_cache;
static _Thread_local series_cache tl_series[4];
static _Thread_local unsigned tl_series_next;

static void request_series(fr_server *s, const fr__req *r, fr__series **req, fr__series **dur) {
  fr__metrics *m = s->metrics;
  for (int i = 0; i < 4; i++) {
    series_cache *c = &tl_series[i];
    if (c->server == s->id && c->endpoint == r->endpoint && c->status == r->status &&
        strcmp(c->model, r->model) == 0 && strcmp(c->version, r->version) == 0) {
      *req = c->requests;
      *dur = c->duration;
      return;
    }
  }
  char status[12];
  snprintf(status, sizeof status, "%d", r->status);
  const char *l[] = {r->endpoint, status, r->model, r->version};
  const char *le[] = {r->endpoint};
  *req = fr__metrics_get(m, M_REQUESTS, l);
  *dur = fr__metrics_get(m, M_REQUEST_DURATION, le);
  series_cache *c = &tl_series[tl_series_next++ & 3];
  c->server = s->id;
  c->endpoint = r->endpoint;
  c->status = r->status;
  snprintf(c->model, sizeof c->model, "%s", r->model);
  snprintf(c->version, sizeof c->version, "%s", r->version);
  c->requests = *req;
  c->duration = *dur;
}

static void on_response(fr__req *r) {
  fr_server *s = r->app;
  fr__metrics *m = s->metrics;
  fr__series *sreq, *sdur;
  request_series(s, r, &sreq, &sdur);
  fr__series_add(sreq, 1);
  double secs = (double)(fr_monotonic_ns() - r->t0_ns) * 1e-9;
  fr__series_observe(sdur, secs);
  if (r->status >= 400) {
    const char *lr[] = {r->endpoint, r->reason ? r->reason : "internal"};
    fr__series_add(fr__metrics_get(m, M_ERRORS, lr), 1);
  }
  /* Server faults are errors; a 503 "not ready" (starting, draining) is an
   * expected answer, logged like a client error: at debug level. */
  int fault = r->status >= 500 && r->status != 503;
  int log_it = atomic_load_explicit(&s->access_log, memory_order_relaxed) || fault;
  if (!log_it && r->status >= 400 && fr_log_get_level() <= FR_LOG_DEBUG)
    log_it = 1;
  if (log_it) {
    char fields[1024];
    char ep[300], mod[300];
    fr_json_escape(ep, sizeof ep, r->endpoint, strlen(r->endpoint));
    fr_json_escape(mod, sizeof mod, r->model, strlen(r->model));
    snprintf(fields, sizeof fields,
             "\"request_id\":\"%s\",\"method\":\"%s\",\"endpoint\":\"%s\",\"status\":%d,"
             "\"duration_us\":%.1f,\"model\":\"%s\",\"version\":\"%s\"",
             r->request_id, r->method, ep, r->status, secs * 1e6, mod, r->version);
    fr_log_level lvl = fault                                               ? FR_LOG_ERROR
                       : r->status >= 400 && !atomic_load(&s->access_log) ? FR_LOG_DEBUG
                                                                           : FR_LOG_INFO;
    const char *msg = r->status >= 400 && r->out.data ? r->out.data : "";
    fr_log(lvl, "request", fields, "%s", msg);
  }
}

/* ---- repository thread ---- */

static double poll_interval(fr_server *s, int *mode) {
  pthread_mutex_lock(&s->cfg_mu);
  double p = s->cfg.poll_interval;
  *mode = (int)s->cfg.repository_mode;
  pthread_mutex_unlock(&s->cfg_mu);
  return p;
}

static void *repo_thread(void *arg) {
  fr_server *s = arg;
  int mode;
  poll_interval(s, &mode);
  uint64_t t0 = fr_monotonic_ns();
  char only[1024] = "";
  if (mode == FR_REPO_EXPLICIT) {
    pthread_mutex_lock(&s->cfg_mu);
    snprintf(only, sizeof only, "%s", s->cfg.startup_models ? s->cfg.startup_models : "");
    pthread_mutex_unlock(&s->cfg_mu);
  }
  fr__registry_sync_all(s->registry, only[0] ? only : NULL);
  atomic_store(&s->loaded, 1);
  char names[64][128];
  size_t n = fr__registry_loaded(s->registry, names, 64);
  char fields[128];
  snprintf(fields, sizeof fields, "\"models\":%zu,\"seconds\":%.3f", n,
           (double)(fr_monotonic_ns() - t0) * 1e-9);
  if (n)
    fr_log(FR_LOG_INFO, "ready", fields, "%zu model(s) loaded; ready", n);
  else
    fr_log(FR_LOG_WARN, "not_ready", fields, "no model could be loaded from %s",
           s->cfg.model_repository);
  pthread_mutex_lock(&s->repo_mu);
  while (!s->repo_stop) {
    double interval = poll_interval(s, &mode);
    if (mode != FR_REPO_POLL || !(interval > 0))
      interval = 1; /* still wake up to free drained versions */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double until = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + interval;
    ts.tv_sec = (time_t)until;
    ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
    while (!s->repo_stop && !s->repo_kick) {
      if (pthread_cond_timedwait(&s->repo_cv, &s->repo_mu, &ts) == ETIMEDOUT)
        break;
    }
    if (s->repo_stop)
      break;
    int kicked = s->repo_kick;
    s->repo_kick = 0;
    pthread_mutex_unlock(&s->repo_mu);
    fr__registry_collect(s->registry);
    poll_interval(s, &mode);
    if (mode == FR_REPO_POLL && !atomic_load(&s->draining))
      fr__registry_sync_all(s->registry, NULL);
    else if (kicked)
      fr__registry_configure(s->registry);
    fr__registry_collect(s->registry);
    pthread_mutex_lock(&s->repo_mu);
  }
  pthread_mutex_unlock(&s->repo_mu);
  return NULL;
}

static void kick_repo(fr_server *s) {
  pthread_mutex_lock(&s->repo_mu);
  s->repo_kick = 1;
  pthread_cond_signal(&s->repo_cv);
  pthread_mutex_unlock(&s->repo_mu);
}

/* ---- start / stop ---- */

static char *read_secret_file(const char *path, fr_error *err) {
  size_t len;
  char *t = fr_file_read_all(path, &len, err);
  if (!t)
    return NULL;
  while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
    t[--len] = '\0';
  return t;
}

static int resolve_admin_token(fr_server_config *c, fr_error *err) {
  if (c->admin_token_file && c->admin_token_file[0]) {
    char *t = read_secret_file(c->admin_token_file, err);
    if (!t)
      return fr_error_prefix(err, "admin.token_file");
    free(c->admin_token);
    c->admin_token = t;
  }
  return 0;
}

static int apply_logging(const fr_server_config *c) {
  if (c->log_level && c->log_level[0]) {
    fr_log_level l;
    if (fr_log_level_parse(c->log_level, &l) == 0)
      fr_log_set_level(l);
  }
  return 0;
}

fr_server *fr_server_start(const fr_server_config *c, fr_error *err) {
  fr_server *s = calloc(1, sizeof *s);
  if (!s) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&s->cfg_mu, NULL);
  pthread_mutex_init(&s->repo_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->repo_cv, &ca);
  pthread_condattr_destroy(&ca);
  if (fr_server_config_copy(&s->cfg, c)) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    free(s);
    return NULL;
  }
  char *tls_cert = NULL, *tls_key = NULL;
  if (fr_server_config_validate(&s->cfg, err) || resolve_admin_token(&s->cfg, err))
    goto fail;
  apply_logging(&s->cfg);
  atomic_store(&s->access_log, s->cfg.access_log);
  atomic_store(&s->max_tensor_elements, s->cfg.max_tensor_elements);
  atomic_store(&s->reasons, s->cfg.reasons);
  atomic_store(&s->reason_order, s->cfg.reason_order);
  atomic_store(&s->reasons_for, s->cfg.reasons_for);
  atomic_store(&s->max_future_skew, s->cfg.max_future_skew);
  if (!fr_is_dir(s->cfg.model_repository)) {
    fr_error_set(err, FR_ENOTFOUND, "model repository %s: no such directory",
                 s->cfg.model_repository);
    goto fail;
  }
  /* The entity-key hash key: the configured secret, else FRAUD_HASH_SECRET
   * as everywhere else in fraud (fr_state_options_default). */
  fr_hash_key_from_secret(s->cfg.state_hash_secret[0] ? s->cfg.state_hash_secret
                                                      : getenv("FRAUD_HASH_SECRET"),
                          s->cfg.state.hash_key);
  memcpy(s->hash_key, s->cfg.state.hash_key, sizeof s->hash_key);
  s->start_time = fr_now();
  static _Atomic uint64_t next_id = 1;
  s->id = atomic_fetch_add(&next_id, 1);
  fr__reqpool_install();
  if (build_metric_defs(s) || !(s->metrics = fr__metrics_new(s->defs, s->ndefs))) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    goto fail;
  }
  const char *bv[] = {fr_version()};
  fr__series_set(fr__metrics_get(s->metrics, M_BUILD_INFO, bv), 1);
  fr__series_set(fr__metrics_get(s->metrics, M_START_TIME, NULL), s->start_time);
  fr__series_set(fr__metrics_get(s->metrics, M_READY, NULL), 0);
  /* The state store's families exist from the start for the configured
   * backend: counters at 0, gauges at rest (available 1). */
  for (size_t e = 0; e < s->nstm; e++) {
    const char *be = s->cfg.state_backend == FR_STATE_REDIS ? "redis" : "memory";
    fr__series *x = fr__state_series(s, e, be);
    fr__series_set(x, strcmp(s->stm[e].name, "fraud_state_available") == 0 ? 1 : 0);
  }
  /* Error counters of the scoring endpoints start at zero for every reason,
   * so that rates and alerts work before the first error (the Prometheus
   * practice of initialising known label values). */
  static const char *const eps[] = {"/v1/score", "/v2/models/{m}/infer"};
  static const char *const reasons[] = {"bad_json",      "bad_shape",     "bad_type",
                                        "missing_field", "out_of_range",  "unknown_model",
                                        "not_ready",     "too_large",     "state_unavailable",
                                        "internal"};
  for (size_t e = 0; e < 2; e++)
    for (size_t k = 0; k < sizeof reasons / sizeof reasons[0]; k++) {
      const char *l[] = {eps[e], reasons[k]};
      fr__series_add(fr__metrics_get(s->metrics, M_ERRORS, l), 0);
    }
  if (!(s->registry = fr__registry_new(s, err)))
    goto fail;
  if (s->cfg.tls_cert[0]) {
    size_t n;
    if (!(tls_cert = fr_file_read_all(s->cfg.tls_cert, &n, err)) ||
        !(tls_key = fr_file_read_all(s->cfg.tls_key, &n, err))) {
      fr_error_prefix(err, "server.tls");
      goto fail;
    }
  }
  int threads = s->cfg.threads > 0 ? s->cfg.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (threads < 1)
    threads = 1;
  fr__http_config hc = {0};
  hc.name = "inference";
  hc.address = s->cfg.listen_address;
  hc.port = s->cfg.port;
  hc.threads = threads;
  hc.max_connections = s->cfg.max_connections;
  hc.max_connections_per_ip = s->cfg.max_connections_per_ip;
  hc.idle_timeout_s = (unsigned)ceil(s->cfg.idle_timeout);
  hc.tls_cert_pem = tls_cert;
  hc.tls_key_pem = tls_key;
  hc.routes = inference_routes;
  hc.nroutes = sizeof inference_routes / sizeof inference_routes[0];
  hc.app = s;
  hc.on_response = on_response;
  hc.scratch_new = scratch_new;
  hc.scratch_free = scratch_free;
  if (!(s->http = fr__http_start(&hc, err)))
    goto fail;
  fr__http_set_limits(s->http, s->cfg.max_body_bytes, s->cfg.read_timeout);
  if (s->cfg.admin_enabled) {
    fr__http_config ac = hc;
    ac.name = "admin";
    ac.address = s->cfg.admin_listen;
    ac.port = s->cfg.admin_port;
    ac.threads = 1;
    ac.max_connections = 64;
    ac.routes = admin_routes;
    ac.nroutes = sizeof admin_routes / sizeof admin_routes[0];
    ac.authorize = admin_authorize;
    if (!(s->admin = fr__http_start(&ac, err)))
      goto fail;
    fr__http_set_limits(s->admin, 1 << 20, s->cfg.read_timeout);
  }
  free(tls_cert);
  free(tls_key);
  tls_cert = tls_key = NULL;
  char fields[512];
  snprintf(fields, sizeof fields,
           "\"listener\":\"inference\",\"address\":\"%s\",\"port\":%d,\"threads\":%d,\"tls\":%s",
           s->cfg.listen_address, fr__http_port(s->http), threads,
           s->cfg.tls_cert[0] ? "true" : "false");
  fr_log(FR_LOG_INFO, "listening", fields, "inference API on %s:%d", s->cfg.listen_address,
         fr__http_port(s->http));
  if (s->admin) {
    snprintf(fields, sizeof fields, "\"listener\":\"admin\",\"address\":\"%s\",\"port\":%d",
             s->cfg.admin_listen, fr__http_port(s->admin));
    fr_log(FR_LOG_INFO, "listening", fields, "admin API on %s:%d", s->cfg.admin_listen,
           fr__http_port(s->admin));
  }
  if (pthread_create(&s->repo_thread, NULL, repo_thread, s) != 0) {
    fr_error_set(err, FR_ENOMEM, "cannot start the repository thread");
    goto fail;
  }
  s->repo_thread_started = 1;
  return s;
fail:
  free(tls_cert);
  free(tls_key);
  atomic_store(&s->shut_down, 1);
  fr_server_stop(s);
  return NULL;
}

int fr_server_port(const fr_server *s) { return s && s->http ? fr__http_port(s->http) : -1; }

int fr_server_admin_port(const fr_server *s) {
  return s && s->admin ? fr__http_port(s->admin) : -1;
}

int fr_server_wait_ready(fr_server *s, double timeout) {
  uint64_t end = fr_monotonic_ns() + (uint64_t)(timeout * 1e9);
  while (!fr_server_ready(s)) {
    if (fr_monotonic_ns() >= end)
      return FR_ETIMEDOUT;
    if (atomic_load(&s->loaded)) {
      /* Loaded but nothing ready: in poll mode a version may still come. */
    }
    usleep(5000);
  }
  return 0;
}

int fr_server_loaded(const fr_server *s) { return s && atomic_load(&s->loaded); }

int fr_server_startup_error(fr_server *s, fr_error *err) {
  if (!s || !atomic_load(&s->startup_failed))
    return 0;
  if (err)
    *err = s->startup_err;
  return s->startup_err.code ? s->startup_err.code : FR_EIO;
}

int fr_server_shutdown(fr_server *s, double grace) {
  if (!s)
    return 0;
  if (atomic_exchange(&s->shut_down, 1))
    return 0;
  if (grace < 0) {
    pthread_mutex_lock(&s->cfg_mu);
    grace = s->cfg.shutdown_grace;
    pthread_mutex_unlock(&s->cfg_mu);
  }
  atomic_store(&s->draining, 1);
  uint64_t t0 = fr_monotonic_ns();
  fr_log(FR_LOG_INFO, "draining", NULL, "shutting down: no new connections, finishing in-flight "
                                        "requests (grace %.3g s)",
         grace);
  fr__http_quiesce(s->http);
  fr__http_quiesce(s->admin);
  /* Wait until nothing has been in flight for a short while (a request may
   * still arrive on a kept-alive connection right after the last one). */
  uint64_t deadline = t0 + (uint64_t)(grace * 1e9);
  uint64_t quiet_since = 0;
  int rc = 0;
  for (;;) {
    size_t inflight = fr__http_in_flight(s->http) + fr__http_in_flight(s->admin);
    uint64_t now = fr_monotonic_ns();
    if (inflight == 0) {
      if (!quiet_since)
        quiet_since = now;
      if (now - quiet_since >= 100000000ull ||
          now - fr__http_last_start(s->http) >= 100000000ull)
        break;
    } else {
      quiet_since = 0;
    }
    if (now >= deadline) {
      rc = inflight ? FR_ETIMEDOUT : 0;
      if (inflight)
        fr_log(FR_LOG_WARN, "drain_timeout", NULL,
               "grace period over with %zu request(s) still in flight", inflight);
      break;
    }
    usleep(2000);
  }
  char fields[96];
  snprintf(fields, sizeof fields, "\"seconds\":%.3f", (double)(fr_monotonic_ns() - t0) * 1e-9);
  fr_log(FR_LOG_INFO, "drained", fields, "in-flight requests finished");
  return rc;
}

void fr_server_stop(fr_server *s) {
  if (!s)
    return;
  if (!atomic_load(&s->shut_down))
    fr_server_shutdown(s, -1);
  /* Requests still waiting for a batch (the grace period ran out) are
   * completed by their batcher within its queue delay: let them finish
   * before the listener goes, since a suspended connection cannot be
   * answered once libmicrohttpd has stopped. */
  for (int i = 0; i < 500 && fr__http_suspended(s->http) + fr__http_suspended(s->admin) > 0; i++)
    usleep(10000);
  if (s->repo_thread_started) {
    pthread_mutex_lock(&s->repo_mu);
    s->repo_stop = 1;
    pthread_cond_signal(&s->repo_cv);
    pthread_mutex_unlock(&s->repo_mu);
    pthread_join(s->repo_thread, NULL);
  }
  fr__http_stop(s->http);
  fr__http_stop(s->admin);
  fr__registry_free(s->registry);
  fr__metrics_free(s->metrics);
  free(s->defs);
  free(s->stm_family);
  fr_server_config_close(&s->cfg);
  pthread_mutex_destroy(&s->cfg_mu);
  pthread_mutex_destroy(&s->repo_mu);
  pthread_cond_destroy(&s->repo_cv);
  free(s);
}

/* ---- reload (SIGHUP) ---- */

int fr__config_restart_key(size_t i, const char **path, size_t *off, size_t *width,
                           int *is_str);

int fr_server_reload(fr_server *s, const char *const *overrides, fr_error *err) {
  fr_server_config nc;
  fr_server_config_default(&nc);
  int rc = 0;
  pthread_mutex_lock(&s->cfg_mu);
  char *cfg_path = s->cfg.config_path ? strdup(s->cfg.config_path) : NULL;
  pthread_mutex_unlock(&s->cfg_mu);
  /* The file stays the one the server started with, whatever the load
   * below makes of it: the next reload reads it again. */
  nc.config_path = cfg_path;
  rc = cfg_path ? fr_server_config_load(&nc, cfg_path, err) : 0;
  if (rc)
    goto out;
  if ((rc = fr_server_config_apply_env(&nc, err)))
    goto out;
  /* Overrides: the given list, else the lines the server started with. */
  fr__buf ov = {0};
  if (overrides) {
    for (size_t i = 0; overrides[i]; i++) {
      fr__buf_puts(&ov, overrides[i]);
      fr__buf_putc(&ov, '\n');
    }
  } else {
    pthread_mutex_lock(&s->cfg_mu);
    fr__buf_puts(&ov, s->cfg.overrides ? s->cfg.overrides : "");
    pthread_mutex_unlock(&s->cfg_mu);
  }
  char *keep = ov.len ? strdup(ov.data) : NULL;
  for (char *line = ov.data, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    if (!*line)
      continue;
    char *eq = strchr(line, '=');
    if (!eq) {
      rc = fr_error_set(err, FR_EINVAL, "override '%s' is not key=value", line);
      break;
    }
    *eq = '\0';
    if ((rc = fr_server_config_set(&nc, line, eq + 1, err)))
      break;
    *eq = '=';
  }
  free(nc.overrides);
  nc.overrides = keep;
  fr__buf_close(&ov);
  if (rc)
    goto out;
  if ((rc = fr_server_config_validate(&nc, err)) || (rc = resolve_admin_token(&nc, err)))
    goto out;
  /* Keys that need a restart keep their running value. */
  char changed[512] = "";
  pthread_mutex_lock(&s->cfg_mu);
  const char *path;
  size_t off, w;
  int is_str;
  for (size_t i = 0; fr__config_restart_key(i, &path, &off, &w, &is_str) >= 0; i++) {
    if (!fr__config_restart_key(i, &path, &off, &w, &is_str))
      continue;
    char *a = (char *)&s->cfg + off, *b = (char *)&nc + off;
    int differs;
    if (is_str) {
      char **pa = (char **)a, **pb = (char **)b;
      differs = strcmp(*pa ? *pa : "", *pb ? *pb : "") != 0;
      /* Keep the running string itself, not a copy: other threads read
       * restart-only strings (repository.path) without the lock, so their
       * pointers must stay valid; the new config's string is freed with the
       * old config below. */
      char *keep = *pa;
      *pa = *pb;
      *pb = keep;
    } else {
      differs = memcmp(a, b, w) != 0;
      if (differs)
        memcpy(b, a, w);
    }
    if (differs && strlen(changed) + strlen(path) + 3 < sizeof changed) {
      strcat(changed, changed[0] ? ", " : "");
      strcat(changed, path);
    }
  }
  nc.state = s->cfg.state; /* includes the derived hash key */
  fr_server_config tmp = s->cfg;
  s->cfg = nc;
  nc = tmp;
  pthread_mutex_unlock(&s->cfg_mu);
  apply_logging(&s->cfg);
  atomic_store(&s->access_log, s->cfg.access_log);
  atomic_store(&s->max_tensor_elements, s->cfg.max_tensor_elements);
  atomic_store(&s->reasons, s->cfg.reasons);
  atomic_store(&s->reason_order, s->cfg.reason_order);
  atomic_store(&s->reasons_for, s->cfg.reasons_for);
  atomic_store(&s->max_future_skew, s->cfg.max_future_skew);
  fr__http_set_limits(s->http, s->cfg.max_body_bytes, s->cfg.read_timeout);
  if (changed[0])
    fr_log(FR_LOG_WARN, "reload_needs_restart", NULL,
           "configuration reloaded; these keys changed but need a restart and keep their "
           "running value: %s",
           changed);
  else
    fr_log(FR_LOG_INFO, "reloaded", NULL, "configuration reloaded");
  fr__registry_configure(s->registry);
  kick_repo(s);
out:
  fr_server_config_close(&nc);
  return rc;
}
