/*
 * Tests src/features/state_memory.c and state.c: concurrent featurizing
 * equals the offline matrix bit for bit, no lost update under contention,
 * eviction by capacity, bytes and TTL (counted), snapshots (round trip,
 * atomic replacement, a crash in the middle of a write, SIGKILL after a
 * snapshot, refusal of damaged files and of another state layout).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fr_test.h"
#include "fraud/features.h"

static const char *schema_yaml =
    "name: st\n"
    "columns:\n"
    "  - {name: id, role: id}\n"
    "  - {name: ts, role: event_time, format: epoch_seconds}\n"
    "  - {name: card, role: entity, entity: card}\n"
    "  - {name: merchant, role: entity, entity: merchant}\n"
    "  - {name: amt, role: amount}\n"
    "  - {name: mlat, role: latitude, point: shop}\n"
    "  - {name: mlon, role: longitude, point: shop}\n"
    "composite_entities:\n"
    "  card_merchant: [card, merchant]\n";

/* Features of the card and of card x merchant only: each card's events
 * arrive in order whichever thread carries them. */
static const char *card_spec =
    "features:\n"
    "  - {name: n10m, kind: count, entity: card, window: 10m}\n"
    "  - {name: s1h, kind: sum, entity: card, column: amt, window: 1h}\n"
    "  - {name: z1d, kind: zscore, entity: card, column: amt, window: 1d}\n"
    "  - {name: mx1d, kind: max, entity: card, column: amt, window: 1d}\n"
    "  - {name: sb7d, kind: sum, entity: card, column: amt, window: 7d, bucket: 1h}\n"
    "  - {name: d1d, kind: distinct_count, entity: card, column: merchant, window: 1d}\n"
    "  - {name: since, kind: time_since_prev, entity: card}\n"
    "  - {name: kmh, kind: geo_velocity, entity: card, point: shop}\n"
    "  - {name: new, kind: first_seen, entity: card_merchant}\n"
    "  - {name: pair_n, kind: count, entity: card_merchant, window: 1d}\n";

typedef struct world {
  fr_schema *s;
  fr_featurizer *f;
  fr_dataset *d;
  fr_table *t;  /* offline matrix */
  char dir[256];
} world;

/* A pseudo-random stream: `rows` events of `cards` cards over ~10 days. */
static void make_world(world *w, const char *spec, int rows, int cards) {
  fr_error err = {0};
  memset(w, 0, sizeof *w);
  w->s = fr_schema_load_string(schema_yaml, strlen(schema_yaml), "st.yaml", &err);
  cr_assert_not_null(w->s, "%s", err.msg);
  w->f = fr_featurizer_load_string(w->s, spec, strlen(spec), "spec.yaml", &err);
  cr_assert_not_null(w->f, "%s", err.msg);
  snprintf(w->dir, sizeof w->dir, "%s", fr_test_tmpdir());
  char path[512];
  snprintf(path, sizeof path, "%s/data.csv", w->dir);
  FILE *fp = fopen(path, "w");
  cr_assert_not_null(fp);
  fprintf(fp, "id,ts,card,merchant,amt,mlat,mlon\n");
  uint64_t seed = 4242;
  for (int i = 0; i < rows; i++) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned r = (unsigned)(seed >> 33);
    long ts = 1600000000L + (long)i * 864000L / rows + (long)(r % 5) * 60;
    unsigned m = (r >> 10) % 40;
    if ((r >> 20) % 10 == 0)
      fprintf(fp, "t%d,%ld,C%u,M%u,%u.%02u,,\n", i, ts, r % (unsigned)cards, m,
              (r >> 4) % 300, r % 100);
    else
      fprintf(fp, "t%d,%ld,C%u,M%u,%u.%02u,%.4f,%.4f\n", i, ts, r % (unsigned)cards, m,
              (r >> 4) % 300, r % 100, 40 + m * 0.1, -3 + m * 0.05);
  }
  fclose(fp);
  w->d = fr_dataset_read_csv(w->s, path, NULL, &err);
  cr_assert_not_null(w->d, "%s", err.msg);
  w->t = fr_featurize_dataset(w->f, w->d, &err);
  cr_assert_not_null(w->t, "%s", err.msg);
}

static void free_world(world *w) {
  fr_table_free(w->t);
  fr_dataset_free(w->d);
  fr_featurizer_free(w->f);
  fr_schema_free(w->s);
  fr_error err;
  fr_rm_rf(w->dir, &err);
}

/* Featurizes table rows [from, to) online into st (time order). */
static void replay(world *w, fr_state *st, size_t from, size_t to) {
  fr_field fields[8];
  float row[32];
  fr_error err = {0};
  for (size_t i = from; i < to; i++) {
    fr_txn txn;
    fr_dataset_txn(w->d, w->t->source_row[i], fields, &txn);
    cr_assert_eq(fr_featurize(w->f, &txn, st, row, 1, &err), 0, "%s", err.msg);
  }
}

static fr_state *new_state(const fr_featurizer *f, const fr_state_options *o) {
  fr_error err = {0};
  fr_state_options dflt;
  fr_state_options_default(&dflt);
  fr_state *st = fr_state_new_memory(f, o ? o : &dflt, &err);
  cr_assert_not_null(st, "%s", err.msg);
  return st;
}

/* ---- concurrency -------------------------------------------------------- */

typedef struct worker {
  world *w;
  fr_state *st;
  int id, n;
  float *out; /* rows x cols, written at the table row */
  int failed;
} worker;

static void *work(void *arg) {
  worker *k = arg;
  world *w = k->w;
  int card_col = fr_schema_find(w->s, "card");
  fr_field fields[8];
  fr_error err = {0};
  for (size_t i = 0; i < w->t->rows; i++) {
    size_t src = w->t->source_row[i], len;
    const char *card = fr_dataset_string(w->d, (size_t)card_col, src, &len);
    if (atoi(card + 1) % k->n != k->id)
      continue; /* another thread's card */
    fr_txn txn;
    fr_dataset_txn(w->d, src, fields, &txn);
    if (fr_featurize(w->f, &txn, k->st, k->out + i * w->t->cols, 1, &err))
      k->failed = 1;
  }
  return NULL;
}

Test(state, concurrent_threads_equal_offline_bitwise) {
  world w;
  make_world(&w, card_spec, 20000, 61);
  fr_state *st = new_state(w.f, NULL);
  enum { N = 4 };
  float *out = calloc(w.t->rows * w.t->cols, sizeof *out);
  pthread_t th[N];
  worker k[N];
  for (int i = 0; i < N; i++) {
    k[i] = (worker){&w, st, i, N, out, 0};
    pthread_create(&th[i], NULL, work, &k[i]);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(k[i].failed, 0);
  }
  for (size_t i = 0; i < w.t->rows; i++)
    cr_assert_eq(memcmp(out + i * w.t->cols, w.t->x + i * w.t->cols,
                        w.t->cols * sizeof(float)), 0,
                 "row %zu differs from the offline matrix", i);
  /* The check can fail: the features are not trivially equal. */
  size_t nonzero = 0;
  for (size_t i = 0; i < w.t->rows * w.t->cols; i++)
    nonzero += w.t->x[i] != 0 && !isnan(w.t->x[i]);
  cr_assert_gt(nonzero, w.t->rows * 4);
  fr_state_free(st);
  free(out);
  free_world(&w);
}

typedef struct hammer {
  const fr_featurizer *f;
  const fr_schema *s;
  fr_state *st;
  int id, per;
  int failed;
} hammer;

/* One card, distinct times t = 8 k + id: the threads' events interleave in
 * time, so most arrive late (within the huge allowed lateness). */
static void *hammer_main(void *arg) {
  hammer *h = arg;
  fr_field fields[7];
  fr_error err = {0};
  float row[16];
  for (int k = 0; k < h->per; k++) {
    char amt[32];
    snprintf(amt, sizeof amt, "%d", 1 + (k + h->id) % 7);
    const char *cells[7] = {"x", NULL, "C1", "M1", amt, "", ""};
    for (size_t c = 0; c < 7; c++)
      if (c != 1)
        fr_schema_parse_cell(h->s, c, cells[c], strlen(cells[c]), &fields[c], NULL);
    fr_txn txn = {.event_time = 1e6 + 8.0 * k + h->id, .fields = fields, .nfields = 7};
    fields[1] = (fr_field){.num = txn.event_time, .present = 1};
    if (fr_featurize(h->f, &txn, h->st, row, 1, &err))
      h->failed = 1;
  }
  return NULL;
}

Test(state, no_lost_update_on_one_entity) {
  const char *spec =
      "features:\n"
      "  - {name: n, kind: count, entity: card, window: 30d}\n"
      "  - {name: s, kind: sum, entity: card, column: amt, window: 30d}\n"
      "  - {name: nb, kind: count, entity: card, window: 30d, bucket: 1h}\n";
  fr_error err = {0};
  fr_schema *s = fr_schema_load_string(schema_yaml, strlen(schema_yaml), "st.yaml", &err);
  fr_featurizer *f = fr_featurizer_load_string(s, spec, strlen(spec), "spec", &err);
  cr_assert_not_null(f, "%s", err.msg);
  fr_state_options o;
  fr_state_options_default(&o);
  o.allowed_lateness = 1e9;
  fr_state *st = new_state(f, &o);
  enum { N = 8, PER = 3000 };
  pthread_t th[N];
  hammer h[N];
  long want_sum = 0;
  for (int i = 0; i < N; i++) {
    h[i] = (hammer){f, s, st, i, PER, 0};
    for (int k = 0; k < PER; k++)
      want_sum += 1 + (k + i) % 7;
    pthread_create(&th[i], NULL, hammer_main, &h[i]);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(h[i].failed, 0);
  }
  /* A query after everything sees every event. */
  fr_field fields[7];
  const char *cells[7] = {"q", NULL, "C1", "M1", "1", "", ""};
  for (size_t c = 0; c < 7; c++)
    if (c != 1)
      fr_schema_parse_cell(s, c, cells[c], strlen(cells[c]), &fields[c], NULL);
  fr_txn txn = {.event_time = 2e6, .fields = fields, .nfields = 7};
  float row[3];
  cr_assert_eq(fr_featurize(f, &txn, st, row, 0, &err), 0, "%s", err.msg);
  cr_assert_eq(row[0], (float)(N * PER));
  cr_assert_eq(row[1], (float)want_sum);
  cr_assert_eq(row[2], (float)(N * PER));
  fr_state_stats stats;
  fr_state_get_stats(st, &stats);
  cr_assert_eq(stats.late_dropped, 0);
  cr_assert_gt(stats.late_inserted, 0); /* the threads did interleave */
  fr_state_free(st);
  fr_featurizer_free(f);
  fr_schema_free(s);
}

/* ---- eviction ------------------------------------------------------------ */

Test(state, eviction_by_capacity_bytes_and_ttl) {
  world w;
  make_world(&w, card_spec, 6000, 3000);
  /* Capacity: 128 entities (2 per shard). */
  fr_state_options o;
  fr_state_options_default(&o);
  o.max_entities = 128;
  fr_state *st = new_state(w.f, &o);
  replay(&w, st, 0, w.t->rows);
  fr_state_stats s1;
  fr_state_get_stats(st, &s1);
  cr_assert_leq(fr_state_size(st), 128);
  cr_assert_gt(s1.evicted_capacity, 1000);
  cr_assert_eq(s1.entities, fr_state_size(st));
  fr_state_free(st);
  /* Bytes: about 64 KiB. */
  fr_state_options_default(&o);
  o.max_bytes = 64 * 1024;
  st = new_state(w.f, &o);
  replay(&w, st, 0, w.t->rows);
  fr_state_get_stats(st, &s1);
  cr_assert_gt(s1.evicted_capacity, 1000);
  cr_assert_leq(s1.bytes, 64 * 1024 + 64 * 4096, "%llu bytes", (unsigned long long)s1.bytes);
  fr_state_free(st);
  /* TTL: one day of event time; the stream spans ten. */
  fr_state_options_default(&o);
  o.ttl_seconds = 86400;
  st = new_state(w.f, &o);
  replay(&w, st, 0, w.t->rows);
  fr_state_get_stats(st, &s1);
  cr_assert_gt(s1.evicted_ttl, 1000);
  fr_state *full = new_state(w.f, NULL);
  replay(&w, full, 0, w.t->rows);
  cr_assert_lt(fr_state_size(st), fr_state_size(full) / 2);
  /* Memory per entity is measured: bytes / entities. */
  fr_state_stats s2;
  fr_state_get_stats(full, &s2);
  cr_assert_gt(s2.bytes, s2.entities * 100);
  cr_assert_lt(s2.bytes, s2.entities * 4096);
  fr_state_free(full);
  fr_state_free(st);
  free_world(&w);
}

/* ---- snapshots ----------------------------------------------------------- */

static char *slurp(const char *path, size_t *len) {
  fr_error err = {0};
  char *p = fr_file_read_all(path, len, &err);
  cr_assert_not_null(p, "%s", err.msg);
  return p;
}

Test(state, snapshot_round_trip_and_continuation) {
  world w;
  make_world(&w, card_spec, 8000, 97);
  size_t half = w.t->rows / 2;
  fr_state *a = new_state(w.f, NULL);
  replay(&w, a, 0, half);
  char p1[512], p2[512];
  snprintf(p1, sizeof p1, "%s/a.snap", w.dir);
  snprintf(p2, sizeof p2, "%s/b.snap", w.dir);
  fr_error err = {0};
  cr_assert_eq(fr_state_snapshot(a, p1, &err), 0, "%s", err.msg);
  fr_state *b = new_state(w.f, NULL);
  cr_assert_eq(fr_state_restore(b, p1, &err), 0, "%s", err.msg);
  cr_assert_eq(fr_state_size(b), fr_state_size(a));
  cr_assert_eq(fr_state_snapshot(b, p2, &err), 0, "%s", err.msg);
  size_t l1, l2;
  char *s1 = slurp(p1, &l1), *s2 = slurp(p2, &l2);
  cr_assert_eq(l1, l2);
  cr_assert_eq(memcmp(s1, s2, l1), 0, "the restored state snapshots differently");
  free(s1);
  free(s2);
  /* Both continue identically, and as the offline matrix. */
  fr_field fields[8];
  float ra[32], rb[32];
  for (size_t i = half; i < w.t->rows; i++) {
    fr_txn txn;
    fr_dataset_txn(w.d, w.t->source_row[i], fields, &txn);
    cr_assert_eq(fr_featurize(w.f, &txn, a, ra, 1, &err), 0);
    cr_assert_eq(fr_featurize(w.f, &txn, b, rb, 1, &err), 0);
    cr_assert_eq(memcmp(ra, w.t->x + i * w.t->cols, w.t->cols * sizeof(float)), 0);
    cr_assert_eq(memcmp(rb, w.t->x + i * w.t->cols, w.t->cols * sizeof(float)), 0,
                 "restored state: row %zu differs", i);
  }
  fr_state_stats st;
  fr_state_get_stats(a, &st);
  cr_assert_eq(st.snapshots, 1);
  cr_assert(!isnan(st.last_snapshot));
  fr_state_free(a);
  fr_state_free(b);
  free_world(&w);
}

/* The shard tables under heavy churn: TTL eviction deletes entities all
 * through the tables while new ones arrive (tables grow, deletions shift
 * probe runs back).  An entity the table lost would be found by the
 * snapshot (which walks the LRU lists) but not by the live state, so the
 * live state and its restored copy would diverge: same size, the same
 * snapshot bytes, and the same features for every later transaction. */
Test(state, entities_stay_findable_through_evictions) {
  world w;
  make_world(&w, card_spec, 20000, 4000);
  fr_state_options o;
  fr_state_options_default(&o);
  o.ttl_seconds = 6 * 3600;
  size_t half = w.t->rows / 2;
  fr_state *a = new_state(w.f, &o);
  replay(&w, a, 0, half);
  fr_state_stats sa;
  fr_state_get_stats(a, &sa);
  cr_assert_gt(sa.evicted_ttl, 5000);
  char p1[512], p2[512];
  snprintf(p1, sizeof p1, "%s/a.snap", w.dir);
  snprintf(p2, sizeof p2, "%s/b.snap", w.dir);
  fr_error err = {0};
  cr_assert_eq(fr_state_snapshot(a, p1, &err), 0, "%s", err.msg);
  fr_state *b = new_state(w.f, &o);
  cr_assert_eq(fr_state_restore(b, p1, &err), 0, "%s", err.msg);
  cr_assert_eq(fr_state_size(b), fr_state_size(a));
  fr_field fields[8];
  float ra[32], rb[32];
  for (size_t i = half; i < w.t->rows; i++) {
    fr_txn txn;
    fr_dataset_txn(w.d, w.t->source_row[i], fields, &txn);
    cr_assert_eq(fr_featurize(w.f, &txn, a, ra, 1, &err), 0);
    cr_assert_eq(fr_featurize(w.f, &txn, b, rb, 1, &err), 0);
    cr_assert_eq(memcmp(ra, rb, w.t->cols * sizeof(float)), 0, "row %zu differs", i);
  }
  cr_assert_eq(fr_state_size(b), fr_state_size(a));
  cr_assert_eq(fr_state_snapshot(a, p1, &err), 0, "%s", err.msg);
  cr_assert_eq(fr_state_snapshot(b, p2, &err), 0, "%s", err.msg);
  size_t l1, l2;
  char *s1 = slurp(p1, &l1), *s2 = slurp(p2, &l2);
  cr_assert_eq(l1, l2);
  cr_assert_eq(memcmp(s1, s2, l1), 0, "the live and the restored state differ");
  free(s1);
  free(s2);
  fr_state_free(a);
  fr_state_free(b);
  free_world(&w);
}

Test(state, damaged_or_foreign_snapshots_are_refused) {
  world w;
  make_world(&w, card_spec, 3000, 50);
  fr_state *a = new_state(w.f, NULL);
  replay(&w, a, 0, w.t->rows);
  char p[512], q[512];
  snprintf(p, sizeof p, "%s/s.snap", w.dir);
  snprintf(q, sizeof q, "%s/bad.snap", w.dir);
  fr_error err = {0};
  cr_assert_eq(fr_state_snapshot(a, p, &err), 0, "%s", err.msg);
  size_t len;
  char *data = slurp(p, &len);
  fr_state *b = new_state(w.f, NULL);
  /* Every truncation and a flipped byte anywhere: FR_EFORMAT, nothing
   * applied. */
  size_t cuts[] = {0, 7, 96, 100, len / 2, len - 33, len - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    fr_file_write_atomic(q, data, cuts[i], &err);
    cr_assert_eq(fr_state_restore(b, q, &err), FR_EFORMAT, "cut %zu: %s", cuts[i], err.msg);
  }
  for (size_t at = 100; at < len; at += len / 7) {
    data[at] ^= 0x20;
    fr_file_write_atomic(q, data, len, &err);
    cr_assert_eq(fr_state_restore(b, q, &err), FR_EFORMAT, "flip at %zu", at);
    data[at] ^= 0x20;
  }
  cr_assert_eq(fr_state_size(b), 0);
  cr_assert_eq(fr_state_restore(b, "/nonexistent/x.snap", &err), FR_ENOTFOUND);
  /* Another state layout: refused, naming both digests. */
  const char *other = "features:\n  - {name: n, kind: count, entity: card, window: 2h}\n";
  fr_featurizer *g = fr_featurizer_load_string(w.s, other, strlen(other), "o", &err);
  fr_state *c = new_state(g, NULL);
  cr_assert_eq(fr_state_restore(c, p, &err), FR_ESTATE);
  cr_assert(strstr(err.msg, "another state layout") != NULL, "%s", err.msg);
  char want[17];
  snprintf(want, sizeof want, "%.16s", fr_featurizer_state_digest(g));
  cr_assert(strstr(err.msg, want) != NULL, "%s", err.msg);
  /* The snapshot path carries the digest. */
  char *sp = fr_state_snapshot_path(w.f, "/var/lib/fraud");
  char expect[64];
  snprintf(expect, sizeof expect, "/var/lib/fraud/state-%.16s.snap",
           fr_featurizer_state_digest(w.f));
  cr_assert_str_eq(sp, expect);
  free(sp);
  free(data);
  fr_state_free(c);
  fr_featurizer_free(g);
  fr_state_free(a);
  fr_state_free(b);
  free_world(&w);
}

Test(state, crash_in_the_middle_of_a_write_keeps_the_previous_snapshot) {
  world w;
  make_world(&w, card_spec, 4000, 50);
  fr_state *a = new_state(w.f, NULL);
  replay(&w, a, 0, 2000);
  char p[512];
  snprintf(p, sizeof p, "%s/s.snap", w.dir);
  fr_error err = {0};
  cr_assert_eq(fr_state_snapshot(a, p, &err), 0, "%s", err.msg);
  size_t len;
  char *good = slurp(p, &len);
  /* A writer that died half-way leaves its temporary file: the snapshot
   * itself is untouched and loads. */
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", p, 999999);
  FILE *fp = fopen(tmp, "wb");
  fwrite(good, 1, len / 2, fp);
  fclose(fp);
  fr_state *b = new_state(w.f, NULL);
  cr_assert_eq(fr_state_restore(b, p, &err), 0, "%s", err.msg);
  cr_assert_eq(fr_state_size(b), fr_state_size(a));
  fr_state_free(b);
  /* A process killed (SIGKILL) while writing snapshot after snapshot of a
   * changing state: whenever it dies, the file is a complete snapshot. */
  for (int round = 0; round < 6; round++) {
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
      size_t i = 2000;
      for (;;) {
        replay(&w, a, i, i + 50 <= w.t->rows ? i + 50 : w.t->rows);
        i = i + 50 <= w.t->rows ? i + 50 : 2000;
        fr_state_snapshot(a, p, NULL);
      }
    }
    usleep(20000 + 37000 * (unsigned)round);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    b = new_state(w.f, NULL);
    cr_assert_eq(fr_state_restore(b, p, &err), 0, "round %d: %s", round, err.msg);
    cr_assert_gt(fr_state_size(b), 0);
    fr_state_free(b);
  }
  free(good);
  fr_state_free(a);
  free_world(&w);
}

Test(state, sigkill_after_a_snapshot_then_restart_restores_that_state) {
  world w;
  make_world(&w, card_spec, 6000, 80);
  char p[512];
  snprintf(p, sizeof p, "%s/s.snap", w.dir);
  int pipefd[2];
  cr_assert_eq(pipe(pipefd), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    /* The "server": snapshot after the first half (through the options'
     * periodic snapshot machinery), say so, keep changing the state. */
    fr_state_options o;
    fr_state_options_default(&o);
    fr_state *st = fr_state_new_memory(w.f, &o, NULL);
    replay(&w, st, 0, 3000);
    fr_state_snapshot(st, p, NULL);
    (void)!write(pipefd[1], "k", 1);
    for (;;)
      replay(&w, st, 3000, w.t->rows); /* late duplicates: still changes */
  }
  char c;
  cr_assert_eq(read(pipefd[0], &c, 1), 1);
  usleep(50000);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  close(pipefd[0]);
  close(pipefd[1]);
  /* Restart: a state created with snapshot_path restores it. */
  fr_state_options o;
  fr_state_options_default(&o);
  o.snapshot_path = p;
  fr_error err = {0};
  fr_state *b = fr_state_new_memory(w.f, &o, &err);
  cr_assert_not_null(b, "%s", err.msg);
  /* Equal to the state right after the snapshot: compare with a reference
   * that replayed the same first half. */
  fr_state *ref = new_state(w.f, NULL);
  replay(&w, ref, 0, 3000);
  char r1[512], r2[512];
  snprintf(r1, sizeof r1, "%s/ref.snap", w.dir);
  snprintf(r2, sizeof r2, "%s/restored.snap", w.dir);
  cr_assert_eq(fr_state_snapshot(ref, r1, &err), 0);
  cr_assert_eq(fr_state_snapshot(b, r2, &err), 0);
  size_t l1, l2;
  char *s1 = slurp(r1, &l1), *s2 = slurp(r2, &l2);
  cr_assert_eq(l1, l2);
  cr_assert_eq(memcmp(s1, s2, l1), 0, "restored state differs from the snapshotted one");
  free(s1);
  free(s2);
  /* Freeing a state with snapshot_path writes the shutdown snapshot. */
  replay(&w, b, 3000, 3100);
  size_t nb = fr_state_size(b);
  fr_state_free(b);
  b = fr_state_new_memory(w.f, &o, &err);
  cr_assert_not_null(b, "%s", err.msg);
  cr_assert_eq(fr_state_size(b), nb);
  fr_state_free(b);
  fr_state_free(ref);
  free_world(&w);
}

Test(state, periodic_snapshots) {
  world w;
  make_world(&w, card_spec, 2000, 30);
  char p[512];
  snprintf(p, sizeof p, "%s/auto.snap", w.dir);
  fr_state_options o;
  fr_state_options_default(&o);
  o.snapshot_path = p;
  o.snapshot_interval = 0.02;
  fr_error err = {0};
  fr_state *st = fr_state_new_memory(w.f, &o, &err);
  cr_assert_not_null(st, "%s", err.msg);
  replay(&w, st, 0, w.t->rows);
  fr_state_stats s;
  for (int i = 0; i < 500; i++) { /* up to 5 s */
    fr_state_get_stats(st, &s);
    if (s.snapshots >= 2)
      break;
    usleep(10000);
  }
  cr_assert_geq(s.snapshots, 2);
  cr_assert(fr_is_file(p));
  fr_state_free(st);
  /* No temporary file is left behind. */
  DIR *dir = opendir(w.dir);
  struct dirent *de;
  while ((de = readdir(dir)))
    cr_assert_null(strstr(de->d_name, ".tmp."), "left %s", de->d_name);
  closedir(dir);
  free_world(&w);
}

Test(state, metric_table_names) {
  size_t n;
  const fr_state_metric *m = fr_state_metrics(&n);
  cr_assert_gt(n, 5);
  int have_evict = 0, have_late = 0, have_entities = 0, have_errors = 0;
  for (size_t i = 0; i < n; i++) {
    cr_assert(strncmp(m[i].name, "fraud_state_", 12) == 0);
    cr_assert(strcmp(m[i].type, "counter") == 0 || strcmp(m[i].type, "gauge") == 0);
    have_evict += strcmp(m[i].name, "fraud_state_evictions_total") == 0;
    have_late += strcmp(m[i].name, "fraud_state_late_events_total") == 0;
    have_entities += strcmp(m[i].name, "fraud_state_entities") == 0;
    have_errors += strcmp(m[i].name, "fraud_state_errors_total") == 0;
    cr_assert_lt(m[i].offset, sizeof(fr_state_stats));
  }
  cr_assert_eq(have_evict, 2);
  cr_assert_eq(have_late, 2);
  cr_assert_eq(have_entities, 1);
  cr_assert_eq(have_errors, 1);
}
