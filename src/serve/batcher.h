/*
 * batcher.h - dynamic batching of one model version, in the manner of
 * Triton's dynamic batcher (docs/user_guide/model_configuration.md,
 * "Dynamic Batcher"): requests from many connections wait in one queue and
 * are run through the forest together.  A batch is executed as soon as the
 * queued rows reach a preferred batch size (or max_batch_size, or the
 * largest preferred size), or when the oldest queued request has waited
 * max_queue_delay_us.  Requests are never split: a batch takes whole
 * requests in arrival order while they fit in max_batch_size, so no executed
 * batch exceeds it, and each request gets back exactly its own rows in its
 * own order.
 */
#ifndef FRAUD_SERVE_BATCHER_H
#define FRAUD_SERVE_BATCHER_H

#include "fraud/model.h"
#include "fraud/serve.h"
#include "serve/metrics.h"

typedef struct fr__batch_item fr__batch_item;

/* One queued request.  The memory behind x, prob and margin belongs to the
 * caller and must stay valid until `done` is called. */
struct fr__batch_item {
  const float *x;       /* n x nfeatures rows */
  size_t n;
  float *prob;          /* n outputs (fr_forest_predict), or NULL */
  float *margin;        /* n margins, or NULL */
  int rc;               /* 0, or the FR_E* code of the prediction */
  uint64_t t_enqueue;   /* set by submit */
  void (*done)(fr__batch_item *it); /* called on the batcher thread */
  void *ctx;
  fr__batch_item *next;
};

typedef struct fr__batcher fr__batcher;

/* Metric series a batcher feeds (any may be NULL). */
typedef struct fr__batcher_metrics {
  fr__series *queue_wait;  /* seconds from submit to execution */
  fr__series *batch_size;  /* rows per executed batch */
  fr__series *inference;   /* seconds inside the forest per batch */
} fr__batcher_metrics;

/* Starts a batcher thread for forest f (borrowed: must outlive the
 * batcher).  Errors: FR_ENOMEM. */
fr__batcher *fr__batcher_new(const fr_forest *f, const fr_batching_config *cfg,
                             const fr__batcher_metrics *m, fr_error *err);
/* Changes the parameters (SIGHUP); the next batch uses them.  A smaller
 * max_batch_size than a queued request's rows does not fail it. */
void fr__batcher_configure(fr__batcher *b, const fr_batching_config *cfg);
int fr__batcher_max_batch(fr__batcher *b);
/* Queues a request.  Returns 0 (done will be called), FR_ELIMIT when
 * it->n exceeds max_batch_size, FR_ESTATE when the batcher is stopping. */
int fr__batcher_submit(fr__batcher *b, fr__batch_item *it);
/* Rows waiting. */
size_t fr__batcher_queued(fr__batcher *b);
/* Executes everything still queued, stops the thread, frees.  NULL-safe. */
void fr__batcher_free(fr__batcher *b);

#endif
