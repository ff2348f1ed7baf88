/*
 * test_batcher.c - dynamic batching: many threads submit requests of mixed
 * sizes; every request gets exactly its own rows' outputs in its own order
 * (equal to XGBoost's margins for the fixture rows, made by
 * tests/fixtures/serve/make_fixture.py), no executed batch exceeds
 * max_batch_size (from the batch-size histogram), requests wait at most
 * about the queue delay, an oversized request is refused, and freeing
 * executes what is still queued.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fr_test.h"
#include "serve/batcher.h"

#define NF 6
static float rows[200][NF];
static float want_margin[200];
static size_t nrows;

static void load_rows(void) {
  FILE *f = fopen(fr_test_fixture("serve/xgb_small_rows.csv"), "r");
  cr_assert_not_null(f);
  char line[1024];
  cr_assert_not_null(fgets(line, sizeof line, f)); /* header */
  nrows = 0;
  while (nrows < 200 && fgets(line, sizeof line, f)) {
    char *p = line;
    for (int c = 0; c < NF + 2; c++) {
      char *e = strchr(p, ',');
      if (e)
        *e = '\0';
      double v = NAN;
      if (*p && *p != '\n')
        fr_parse_double(p, strcspn(p, "\n"), &v);
      if (c < NF)
        rows[nrows][c] = (float)v;
      else if (c == NF)
        want_margin[nrows] = (float)v;
      p = e ? e + 1 : p + strlen(p);
    }
    nrows++;
  }
  fclose(f);
  cr_assert_eq(nrows, 200);
}

static const double bsz[] = {1, 2, 4, 8, 16, 32, 64, 128};
static const fr__metric_def defs[] = {
    {"q", FR__HISTOGRAM, "q", {NULL}, (const double[]){0.001, 0.01, 0.1, 1}, 4},
    {"b", FR__HISTOGRAM, "b", {NULL}, bsz, 8},
    {"i", FR__HISTOGRAM, "i", {NULL}, (const double[]){0.001, 1}, 2},
};

typedef struct req {
  fr__batch_item it;
  size_t first, n;
  float x[64 * NF];
  float margin[64];
  float prob[64];
  atomic_int done;
} req;

static void on_done(fr__batch_item *it) { atomic_store(&((req *)it->ctx)->done, 1); }

static fr__batcher *g_b;
static atomic_int g_bad;

static void *client(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  req *r = calloc(1, sizeof *r);
  for (int k = 0; k < 60; k++) {
    seed = seed * 1103515245u + 12345u;
    r->n = 1 + (seed >> 16) % 40; /* 1..40 rows */
    r->first = (seed >> 8) % (200 - r->n);
    memcpy(r->x, rows[r->first], r->n * NF * sizeof(float));
    memset(&r->it, 0, sizeof r->it);
    r->it.x = r->x;
    r->it.n = r->n;
    r->it.margin = r->margin;
    r->it.prob = r->prob;
    r->it.done = on_done;
    r->it.ctx = r;
    atomic_store(&r->done, 0);
    if (fr__batcher_submit(g_b, &r->it) != 0) {
      atomic_fetch_add(&g_bad, 1);
      continue;
    }
    while (!atomic_load(&r->done))
      usleep(50);
    for (size_t i = 0; i < r->n; i++)
      if (r->margin[i] != want_margin[r->first + i] || r->it.rc)
        atomic_fetch_add(&g_bad, 1);
  }
  free(r);
  return NULL;
}

Test(batcher, mixed_sizes_own_rows_and_limits) {
  load_rows();
  fr_error err;
  fr_forest *f = fr_forest_load(fr_test_fixture("serve/xgb_small.json"), FR_FOREST_AUTO, &err);
  cr_assert_not_null(f, "%s", err.msg);
  fr__metrics *m = fr__metrics_new(defs, 3);
  fr__batcher_metrics bm = {fr__metrics_get(m, 0, NULL), fr__metrics_get(m, 1, NULL),
                            fr__metrics_get(m, 2, NULL)};
  fr_batching_config cfg = {1, 64, 2, {16, 64}, 2000};
  g_b = fr__batcher_new(f, &cfg, &bm, &err);
  cr_assert_not_null(g_b, "%s", err.msg);
  atomic_store(&g_bad, 0);
  pthread_t th[8];
  for (int i = 0; i < 8; i++)
    pthread_create(&th[i], NULL, client, (void *)(uintptr_t)(i * 7919 + 1));
  for (int i = 0; i < 8; i++)
    pthread_join(th[i], NULL);
  cr_assert_eq(atomic_load(&g_bad), 0, "wrong outputs or refused submissions");
  /* No executed batch above max_batch_size: every observation is <= 64. */
  fr__buf b = {0};
  fr__metrics_render(m, &b);
  const char *le64 = strstr(b.data, "b_bucket{le=\"64\"} ");
  const char *cnt = strstr(b.data, "b_count ");
  cr_assert(le64 && cnt);
  long n64 = strtol(le64 + strlen("b_bucket{le=\"64\"} "), NULL, 10);
  long total = strtol(cnt + strlen("b_count "), NULL, 10);
  cr_assert_eq(n64, total, "a batch exceeded 64 rows:\n%s", b.data);
  cr_assert_gt(total, 0);
  /* Requests were batched together: fewer batches than requests. */
  cr_assert_lt(total, 8 * 60, "no batching happened");
  fr__buf_close(&b);
  /* Oversized request: refused. */
  req big = {0};
  big.it.x = big.x;
  big.it.n = 65;
  big.it.done = on_done;
  cr_assert_eq(fr__batcher_submit(g_b, &big.it), FR_ELIMIT);
  fr__batcher_free(g_b);
  fr__metrics_free(m);
  fr_forest_free(f);
}

/* Freeing a batcher runs what is still queued (nothing is dropped). */
Test(batcher, free_drains_queue) {
  load_rows();
  fr_error err;
  fr_forest *f = fr_forest_load(fr_test_fixture("serve/xgb_small.json"), FR_FOREST_AUTO, &err);
  cr_assert_not_null(f);
  fr_batching_config cfg = {1, 256, 0, {0}, 10000000}; /* 10 s delay: stays queued */
  fr__batcher *b = fr__batcher_new(f, &cfg, NULL, &err);
  req *r = calloc(3, sizeof *r);
  for (int k = 0; k < 3; k++) {
    r[k].n = 5;
    memcpy(r[k].x, rows[k * 5], 5 * NF * sizeof(float));
    r[k].it.x = r[k].x;
    r[k].it.n = 5;
    r[k].it.margin = r[k].margin;
    r[k].it.done = on_done;
    r[k].it.ctx = &r[k];
    cr_assert_eq(fr__batcher_submit(b, &r[k].it), 0);
  }
  cr_assert_eq(fr__batcher_queued(b), 15);
  fr__batcher_free(b);
  for (int k = 0; k < 3; k++) {
    cr_assert(atomic_load(&r[k].done));
    for (int i = 0; i < 5; i++)
      cr_assert_eq(r[k].margin[i], want_margin[k * 5 + i]);
  }
  free(r);
  fr_forest_free(f);
}
