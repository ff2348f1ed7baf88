/*
 * bench_features.c - featurizer benchmarks (docs/benchmarks-features.md):
 *
 *   offline   fr_featurize_dataset over a data set already in memory:
 *             transactions per CPU-second of the calling thread (per core);
 *   online    fr_featurize + state update, one transaction at a time in
 *             event-time order, against the in-process store (and Redis
 *             with --redis URL): nanoseconds per transaction (CPU time for
 *             the in-process store; wall time for Redis, which waits on the
 *             network);
 *   memory    heap bytes per entity of the in-process store after the online
 *             replay (fr_state_stats), overall and per entity kind;
 *   read      fr_dataset_read_csv of the whole file (always measured, once
 *             per --repeat with --mode read): rows per CPU-second of the
 *             calling thread.
 *
 * usage: bench_features --schema S [--spec SPEC] [--rows N] [--redis URL]
 *                       [--redis-rows N] [--repeat K]
 *                       [--mode all|offline|online|read] DATA.csv
 * Prints one "key value" line per figure (the run script turns them into
 * the benchmark page).  Times are the best of --repeat runs (default 3).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fraud/features.h"

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const char *what, const fr_error *err) {
  fprintf(stderr, "bench_features: %s: %s\n", what, err->msg);
  return 1;
}

/* Replays rows[0..n) of d (time order) through fr_featurize against st;
 * returns seconds (CPU or wall). */
static double replay(const fr_featurizer *f, fr_state *st, const fr_dataset *d,
                     size_t n, int wall, fr_error *err, int *rc) {
  const size_t *order = fr_dataset_time_order(d);
  size_t ncols = fr_schema_ncols(fr_featurizer_schema(f));
  fr_field *fields = calloc(ncols, sizeof *fields);
  float *row = calloc(fr_featurizer_nfeatures(f), sizeof *row);
  double t0 = wall ? wall_now() : cpu_now();
  *rc = 0;
  for (size_t i = 0; i < n && !*rc; i++) {
    fr_txn txn;
    fr_dataset_txn(d, order[i], fields, &txn);
    *rc = fr_featurize(f, &txn, st, row, 1, err);
  }
  double dt = (wall ? wall_now() : cpu_now()) - t0;
  free(fields);
  free(row);
  return dt;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"schema", required_argument, 0, 's'},
                                       {"spec", required_argument, 0, 'S'},
                                       {"rows", required_argument, 0, 'n'},
                                       {"redis", required_argument, 0, 'r'},
                                       {"redis-rows", required_argument, 0, 'R'},
                                       {"repeat", required_argument, 0, 'k'},
                                       {"mode", required_argument, 0, 'm'},
                                       {0, 0, 0, 0}};
  const char *mode = "all";
  const char *schema_arg = NULL, *spec = NULL, *redis = NULL;
  size_t rows = 0, redis_rows = 100000;
  int repeat = 3, c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 's': schema_arg = optarg; break;
    case 'S': spec = optarg; break;
    case 'n': rows = strtoull(optarg, NULL, 10); break;
    case 'r': redis = optarg; break;
    case 'R': redis_rows = strtoull(optarg, NULL, 10); break;
    case 'k': repeat = atoi(optarg); break;
    case 'm': mode = optarg; break;
    default:
      fprintf(stderr, "usage: bench_features --schema S [--spec SPEC] [--rows N] "
                      "[--redis URL] [--redis-rows N] [--repeat K]\n"
                      "                      [--mode all|offline|online|read] "
                      "DATA.csv\n");
      return 2;
    }
  }
  if (!schema_arg || optind != argc - 1 || repeat < 1) {
    fprintf(stderr, "bench_features: --schema and one DATA file are required\n");
    return 2;
  }
  fr_log_set_level(FR_LOG_ERROR);
  fr_error err = {0};
  fr_schema *s = fr_schema_load(schema_arg, &err);
  if (!s)
    return die("schema", &err);
  fr_featurizer *f = fr_featurizer_load(s, spec, &err);
  if (!f)
    return die("spec", &err);
  fr_read_options ro = {0};
  ro.max_rows = rows;
  /* Reading: wall and CPU time of the calling thread (the reader is
   * single-threaded); --mode read repeats it. */
  int read_only = strcmp(mode, "read") == 0;
  fr_dataset *d = NULL;
  double read_wall = INFINITY, read_cpu = INFINITY;
  for (int k = 0; k < (read_only ? repeat : 1); k++) {
    fr_dataset_free(d);
    double t0 = wall_now(), c0 = cpu_now();
    d = fr_dataset_read_csv(s, argv[optind], &ro, &err);
    if (!d)
      return die("data", &err);
    double dc = cpu_now() - c0, dw = wall_now() - t0;
    if (dc < read_cpu)
      read_cpu = dc;
    if (dw < read_wall)
      read_wall = dw;
  }
  size_t n = fr_dataset_rows(d);
  printf("rows %zu\nfeatures %zu\nread_seconds %.3f\nread_cpu_seconds %.3f\n"
         "read_rows_per_cpu_second %.0f\n",
         n, fr_featurizer_nfeatures(f), read_wall, read_cpu, n / read_cpu);
  if (read_only) {
    fr_dataset_free(d);
    fr_featurizer_free(f);
    fr_schema_free(s);
    return 0;
  }
  const size_t *order = fr_dataset_time_order(d);
  if (fr_featurizer_fit(f, d, order, n, &err))
    return die("fit", &err);

  int offline = strcmp(mode, "online") != 0, online = strcmp(mode, "offline") != 0;
  /* Offline. */
  double best = INFINITY;
  for (int k = 0; offline && k < repeat; k++) {
    double c0 = cpu_now();
    fr_table *t = fr_featurize_dataset(f, d, &err);
    double dt = cpu_now() - c0;
    if (!t)
      return die("featurize", &err);
    fr_table_free(t);
    if (dt < best)
      best = dt;
  }
  if (offline)
    printf("offline_cpu_seconds %.4f\noffline_txn_per_cpu_second %.0f\n", best,
           n / best);

  /* Online, in-process. */
  fr_state_options o;
  fr_state_options_default(&o);
  best = INFINITY;
  fr_state_stats stats = {0};
  for (int k = 0; online && k < repeat; k++) {
    fr_state *st = fr_state_new_memory(f, &o, &err);
    if (!st)
      return die("state", &err);
    int rc;
    double dt = replay(f, st, d, n, 0, &err, &rc);
    if (rc)
      return die("online", &err);
    if (dt < best)
      best = dt;
    fr_state_get_stats(st, &stats);
    fr_state_free(st);
  }
  if (online)
    printf("online_memory_ns_per_txn %.0f\n", best / n * 1e9);
  if (online)
    printf("memory_entities %llu\nmemory_bytes %llu\nmemory_bytes_per_entity %.0f\n",
         (unsigned long long)stats.entities, (unsigned long long)stats.bytes,
         stats.entities ? (double)stats.bytes / stats.entities : 0.0);

  /* Online, Redis. */
  if (redis && online) {
    fr_state_redis_options r;
    fr_state_redis_options_default(&r);
    r.url = redis;
    r.timeout = 1.0;
    size_t m = redis_rows < n ? redis_rows : n;
    fr_state *st = fr_state_new_redis(f, &o, &r, &err);
    if (!st)
      return die("redis state", &err);
    int rc;
    double dt = replay(f, st, d, m, 1, &err, &rc);
    if (rc)
      return die("online redis", &err);
    fr_state_get_stats(st, &stats);
    fr_state_free(st);
    printf("redis_rows %zu\nonline_redis_us_per_txn %.1f\nredis_conflicts %llu\n",
           m, dt / m * 1e6, (unsigned long long)stats.conflicts);
  }
  fr_dataset_free(d);
  fr_featurizer_free(f);
  fr_schema_free(s);
  return 0;
}
