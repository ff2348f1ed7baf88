/*
 * server.h - internals shared by the files of the server: the fr_server
 * struct, the metric table indexes, the per-connection scratch, and the
 * handlers that server.c puts in its route tables (infer.c, score.c,
 * admin.c).
 */
#ifndef FRAUD_SERVE_SERVER_H
#define FRAUD_SERVE_SERVER_H

#include "fraud/serve.h"
#include "serve/reqpool.h"
#include "serve/batcher.h"
#include "serve/buf.h"
#include "serve/http.h"
#include "serve/metrics.h"
#include "serve/v2.h"

#include <pthread.h>
#include <stdatomic.h>

/* Indexes into the metric table of server.c (docs/metrics.md). */
enum {
  M_BUILD_INFO = 0,
  M_READY,
  M_REQUESTS,
  M_REQUEST_DURATION,
  M_IN_FLIGHT,
  M_ERRORS,
  M_INFERENCE_DURATION,
  M_FEATURIZE_DURATION,
  M_QUEUE_WAIT,
  M_BATCH_SIZE,
  M_MODEL_LOADS,
  M_MODEL_READY,
  M_DECISIONS,
  M_SCORED_AMOUNT,
  M_SCORE,
  M_SCORE_PSI,
  M_FEATURE_PSI,
  M_RSS,
  M_OPEN_FDS,
  M_START_TIME,
  M_COUNT
};

typedef struct fr__registry fr__registry;

struct fr_server {
  uint64_t id;                   /* unique per process (metric caches) */
  /* metric table: the static families, then the state store's
   * (fr_state_metrics), one family per distinct name */
  fr__metric_def *defs;
  size_t ndefs;
  const fr_state_metric *stm;
  size_t nstm;
  size_t *stm_family;            /* family index of each fr_state_metrics entry */
  fr_server_config cfg;          /* guarded by cfg_mu for live changes */
  pthread_mutex_t cfg_mu;
  fr__http *http;
  fr__http *admin;
  fr__metrics *metrics;
  fr__registry *registry;
  uint8_t hash_key[FR_HASH_KEY_BYTES];
  double start_time;
  /* repository thread */
  pthread_t repo_thread;
  int repo_thread_started;
  pthread_mutex_t repo_mu;
  pthread_cond_t repo_cv;
  int repo_stop;
  int repo_kick;                 /* rescan now (reload, admin) */
  _Atomic int loaded;            /* initial load finished */
  /* Set once, by the first warm-start failure of the initial load (a
   * configuration error: fr_server_startup_error); startup_err is written
   * before the flag is stored, and read only after it is seen set. */
  _Atomic int startup_failed;
  fr_error startup_err;
  _Atomic int draining;
  _Atomic int shut_down;
  _Atomic size_t max_tensor_elements;
  _Atomic int reasons;           /* scoring.reasons */
  _Atomic int reason_order;
  _Atomic int reasons_for;
  _Atomic int access_log;
  _Atomic double max_future_skew; /* state.max_future_skew, seconds (0 = off) */
};

/* The configuration values read on the request path (copies). */
void fr__server_default_model(fr_server *s, char *out, size_t cap);
/* Effective settings of one model. */
void fr__server_model_config(fr_server *s, const char *name, fr_model_config *out);

struct fr__snapshot;
struct fr__mv;

/* A request waiting for its batch (kept in the connection's scratch while
 * the connection is suspended). */
typedef struct fr__pending {
  struct fr__snapshot *snap;   /* reference held until the answer is built */
  struct fr__mv *mv;
  size_t rows;
  int want_prob, want_label, want_margin, want_contrib;
  int bin_prob, bin_label, bin_margin, bin_contrib;
  int order[4];                /* output order: 0 prob, 1 label, 2 margin, 3 contributions */
  int norder;
} fr__pending;

struct fr__score_ctx;

/* Per-connection scratch: decoders, encoders and buffers reused by every
 * request of the connection. */
typedef struct fr__scratch {
  fr__reqpool arena;     /* request JSON trees (reset per request) */
  fr__v2_request v2;
  fr__v2_response v2out;
  float *f;            /* feature rows */
  size_t fcap;
  float *prob, *margin;/* outputs */
  size_t ocap, mcap;
  int32_t *labels;
  size_t lcap;
  float *tmp_row;      /* feeding other state groups, shadow */
  size_t tcap;
  float *contrib;      /* TreeSHAP contributions */
  size_t ccap;
  fr__batch_item item;
  fr__pending pend;
  struct fr__score_ctx *score; /* /v1/score parse state, reused */
} fr__scratch;

/* The series of fr_state_metrics entry `e` for a state backend. */
fr__series *fr__state_series(fr_server *s, size_t e, const char *backend);

/* Grows a float array to n elements.  0 or FR_ENOMEM. */
int fr__grow_floats(float **p, size_t *cap, size_t n);

/* Handlers (route tables in server.c). */
void fr__h_model_metadata(fr__req *r);
void fr__h_model_ready(fr__req *r);
void fr__h_infer(fr__req *r);
void fr__h_score(fr__req *r);
void fr__h_repo_index(fr__req *r);
void fr__h_repo_load(fr__req *r);
void fr__h_repo_unload(fr__req *r);
void fr__h_releases(fr__req *r);
void fr__h_promote(fr__req *r);
void fr__h_rollback(fr__req *r);
void fr__h_canary(fr__req *r);
void fr__h_shadow(fr__req *r);
void fr__h_reload(fr__req *r);

/* Resumed-request completion hooks (run on the HTTP thread after a batch). */
void fr__infer_finish(fr__req *r);
void fr__score_finish(fr__req *r);
void fr__score_free(fr__scratch *sc);

/* Resolves the model ({m} capture or `name`) and version ({v} capture, or
 * NULL for production) of a request: returns a snapshot reference and sets
 * *mv, and the request's metric labels; or answers 404/503 and returns
 * NULL. */
struct fr__snapshot *fr__resolve(fr__req *r, const char *name, const char *version,
                                 struct fr__mv **mv);

#endif
