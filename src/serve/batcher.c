/*
 * batcher.c - dynamic batching (see batcher.h).
 *
 * One thread per batched model version.  The queue is a FIFO list under a
 * mutex; submitters signal a condition variable.  The thread waits for work,
 * then for "enough" work or the oldest request's deadline, takes whole
 * requests up to max_batch_size rows, copies their rows into one contiguous
 * matrix (allocated once at max_batch_size rows), predicts, and hands each
 * request its slice of the outputs.  Prediction runs outside the lock, so
 * submitters never wait for the forest.
 */
#include "serve/batcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fr__batcher {
  const fr_forest *forest;
  size_t nf;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int running;
  int stopping;
  fr_batching_config cfg;
  fr__batch_item *head, *tail;
  size_t queued_rows;
  fr__batcher_metrics m;
  float *x, *prob, *margin; /* cap rows */
  size_t cap;
};

static int ensure_cap(fr__batcher *b, size_t rows) {
  if (rows <= b->cap)
    return 0;
  float *x = realloc(b->x, rows * b->nf * sizeof *x);
  if (!x)
    return FR_ENOMEM;
  b->x = x;
  float *p = realloc(b->prob, rows * sizeof *p);
  if (!p)
    return FR_ENOMEM;
  b->prob = p;
  float *mg = realloc(b->margin, rows * sizeof *mg);
  if (!mg)
    return FR_ENOMEM;
  b->margin = mg;
  b->cap = rows;
  return 0;
}

/* Rows at which a batch runs at once: the largest preferred size, or
 * max_batch_size without preferences. */
static int ready_now(const fr__batcher *b) {
  size_t q = b->queued_rows;
  if (q >= (size_t)b->cfg.max_batch_size)
    return 1;
  for (size_t i = 0; i < b->cfg.npreferred; i++)
    if (q == (size_t)b->cfg.preferred[i])
      return 1;
  if (b->cfg.npreferred && q >= (size_t)b->cfg.preferred[b->cfg.npreferred - 1])
    return 1;
  return 0;
}

static void execute(fr__batcher *b, fr__batch_item *items, size_t rows) {
  uint64_t t0 = fr_monotonic_ns();
  int rc = ensure_cap(b, rows);
  int want_prob = 0, want_margin = 0;
  size_t off = 0;
  for (fr__batch_item *it = items; it; it = it->next) {
    fr__series_observe(b->m.queue_wait, (double)(t0 - it->t_enqueue) * 1e-9);
    want_prob |= it->prob != NULL;
    want_margin |= it->margin != NULL;
    if (!rc)
      memcpy(b->x + off * b->nf, it->x, it->n * b->nf * sizeof(float));
    off += it->n;
  }
  uint64_t t1 = fr_monotonic_ns();
  if (!rc && want_prob)
    rc = fr_forest_predict(b->forest, b->x, rows, b->prob);
  if (!rc && want_margin)
    rc = fr_forest_predict_margin(b->forest, b->x, rows, b->margin);
  uint64_t t2 = fr_monotonic_ns();
  fr__series_observe(b->m.inference, (double)(t2 - t1) * 1e-9);
  fr__series_observe(b->m.batch_size, (double)rows);
  off = 0;
  fr__batch_item *it = items;
  while (it) {
    fr__batch_item *next = it->next; /* done() may reuse the item */
    it->rc = rc;
    if (!rc && it->prob)
      memcpy(it->prob, b->prob + off, it->n * sizeof(float));
    if (!rc && it->margin)
      memcpy(it->margin, b->margin + off, it->n * sizeof(float));
    off += it->n;
    it->next = NULL;
    it->done(it);
    it = next;
  }
}

static void deadline_ts(uint64_t mono_ns, struct timespec *ts) {
  /* Condition variables use CLOCK_MONOTONIC (set at init). */
  ts->tv_sec = (time_t)(mono_ns / 1000000000ull);
  ts->tv_nsec = (long)(mono_ns % 1000000000ull);
}

static void *run(void *arg) {
  fr__batcher *b = arg;
  pthread_mutex_lock(&b->mu);
  for (;;) {
    while (!b->head && !b->stopping)
      pthread_cond_wait(&b->cv, &b->mu);
    if (!b->head && b->stopping)
      break;
    uint64_t deadline = b->head->t_enqueue + (uint64_t)b->cfg.max_queue_delay_us * 1000ull;
    while (!b->stopping && !ready_now(b) && fr_monotonic_ns() < deadline) {
      struct timespec ts;
      deadline_ts(deadline, &ts);
      int w = pthread_cond_timedwait(&b->cv, &b->mu, &ts);
      if (w == ETIMEDOUT)
        break;
    }
    /* Take whole requests while they fit; the first one always goes (a
     * request larger than a since-lowered max_batch_size runs alone). */
    size_t max = (size_t)b->cfg.max_batch_size, rows = 0;
    fr__batch_item *first = b->head, *last = NULL, *it = b->head;
    while (it && (rows == 0 || rows + it->n <= max)) {
      rows += it->n;
      last = it;
      it = it->next;
    }
    b->head = it;
    if (!it)
      b->tail = NULL;
    last->next = NULL;
    b->queued_rows -= rows;
    pthread_mutex_unlock(&b->mu);
    execute(b, first, rows);
    pthread_mutex_lock(&b->mu);
  }
  pthread_mutex_unlock(&b->mu);
  return NULL;
}

fr__batcher *fr__batcher_new(const fr_forest *f, const fr_batching_config *cfg,
                             const fr__batcher_metrics *m, fr_error *err) {
  fr__batcher *b = calloc(1, sizeof *b);
  if (!b) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  b->forest = f;
  b->nf = fr_forest_nfeatures(f);
  b->cfg = *cfg;
  if (m)
    b->m = *m;
  pthread_mutex_init(&b->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&b->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (ensure_cap(b, (size_t)cfg->max_batch_size) ||
      pthread_create(&b->thread, NULL, run, b) != 0) {
    fr_error_set(err, FR_ENOMEM, "cannot start the batcher of %d rows", cfg->max_batch_size);
    free(b->x);
    free(b->prob);
    free(b->margin);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
    return NULL;
  }
  b->running = 1;
  return b;
}

void fr__batcher_configure(fr__batcher *b, const fr_batching_config *cfg) {
  pthread_mutex_lock(&b->mu);
  b->cfg = *cfg;
  pthread_cond_signal(&b->cv);
  pthread_mutex_unlock(&b->mu);
}

int fr__batcher_max_batch(fr__batcher *b) {
  pthread_mutex_lock(&b->mu);
  int m = b->cfg.max_batch_size;
  pthread_mutex_unlock(&b->mu);
  return m;
}

int fr__batcher_submit(fr__batcher *b, fr__batch_item *it) {
  pthread_mutex_lock(&b->mu);
  if (b->stopping) {
    pthread_mutex_unlock(&b->mu);
    return FR_ESTATE;
  }
  if (it->n > (size_t)b->cfg.max_batch_size) {
    pthread_mutex_unlock(&b->mu);
    return FR_ELIMIT;
  }
  it->t_enqueue = fr_monotonic_ns();
  it->next = NULL;
  it->rc = 0;
  if (b->tail)
    b->tail->next = it;
  else
    b->head = it;
  b->tail = it;
  b->queued_rows += it->n;
  pthread_cond_signal(&b->cv);
  pthread_mutex_unlock(&b->mu);
  return 0;
}

size_t fr__batcher_queued(fr__batcher *b) {
  pthread_mutex_lock(&b->mu);
  size_t q = b->queued_rows;
  pthread_mutex_unlock(&b->mu);
  return q;
}

void fr__batcher_free(fr__batcher *b) {
  if (!b)
    return;
  pthread_mutex_lock(&b->mu);
  b->stopping = 1;
  pthread_cond_signal(&b->cv);
  pthread_mutex_unlock(&b->mu);
  if (b->running)
    pthread_join(b->thread, NULL);
  pthread_mutex_destroy(&b->mu);
  pthread_cond_destroy(&b->cv);
  free(b->x);
  free(b->prob);
  free(b->margin);
  free(b);
}
