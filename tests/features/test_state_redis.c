/*
 * Tests src/features/state_redis.c against a real redis-server started by
 * the test (fr_redis_test.h): online features through Redis equal the
 * offline matrix bit for bit, also with two processes sharing one Redis and
 * cards split between them; no lost update on one entity from two stores and
 * many threads; keys are keyed hashes with a TTL, never a card number; an
 * outage fails closed (FR_EUNAVAIL) or degrades (empty history, flagged) as
 * configured, is counted, and recovers without a restart when Redis comes
 * back.
 */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <pthread.h>

#include "fr_redis_test.h"
#include "fr_test.h"
#include "fraud/features.h"

static const char *schema_yaml =
    "name: rs\n"
    "columns:\n"
    "  - {name: id, role: id}\n"
    "  - {name: ts, role: event_time, format: epoch_seconds}\n"
    "  - {name: card, role: entity, entity: card}\n"
    "  - {name: merchant, role: entity, entity: merchant}\n"
    "  - {name: amt, role: amount}\n"
    "composite_entities:\n"
    "  card_merchant: [card, merchant]\n";

static const char *card_spec =
    "features:\n"
    "  - {name: n10m, kind: count, entity: card, window: 10m}\n"
    "  - {name: s1h, kind: sum, entity: card, column: amt, window: 1h}\n"
    "  - {name: z1d, kind: zscore, entity: card, column: amt, window: 1d}\n"
    "  - {name: sb7d, kind: sum, entity: card, column: amt, window: 7d, bucket: 1h}\n"
    "  - {name: d1d, kind: distinct_count, entity: card, column: merchant, window: 1d}\n"
    "  - {name: since, kind: time_since_prev, entity: card}\n"
    "  - {name: new, kind: first_seen, entity: card_merchant}\n";

typedef struct world {
  fr_schema *s;
  fr_featurizer *f;
  fr_dataset *d;
  fr_table *t;
  char dir[256];
  fr_redis_test redis;
} world;

static void make_world(world *w, int rows, int cards) {
  fr_error err = {0};
  memset(w, 0, sizeof *w);
  cr_assert_eq(fr_redis_start(&w->redis), 0,
               "cannot start redis-server (Debian package redis-server)");
  w->s = fr_schema_load_string(schema_yaml, strlen(schema_yaml), "rs.yaml", &err);
  cr_assert_not_null(w->s, "%s", err.msg);
  w->f = fr_featurizer_load_string(w->s, card_spec, strlen(card_spec), "spec", &err);
  cr_assert_not_null(w->f, "%s", err.msg);
  snprintf(w->dir, sizeof w->dir, "%s", fr_test_tmpdir());
  char path[512];
  snprintf(path, sizeof path, "%s/data.csv", w->dir);
  FILE *fp = fopen(path, "w");
  fprintf(fp, "id,ts,card,merchant,amt\n");
  uint64_t seed = 777;
  for (int i = 0; i < rows; i++) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned r = (unsigned)(seed >> 33);
    long ts = 1600000000L + (long)i * 400000L / rows + (long)(r % 3) * 60;
    fprintf(fp, "t%d,%ld,card-%u,shop-%u,%u.%02u\n", i, ts, r % (unsigned)cards,
            (r >> 10) % 20, (r >> 4) % 300, r % 100);
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
  fr_redis_cleanup(&w->redis);
}

static fr_state *redis_state(world *w, fr_state_outage outage, fr_error *err) {
  fr_state_options o;
  fr_state_options_default(&o);
  fr_state_redis_options r;
  fr_state_redis_options_default(&r);
  r.url = w->redis.url;
  r.prefix = "fraud-test:";
  r.timeout = 0.5;
  r.retry_interval = 0.1;
  r.on_outage = outage;
  return fr_state_new_redis(w->f, &o, &r, err);
}

static int card_of(const world *w, size_t src) {
  size_t len;
  const char *s = fr_dataset_string(w->d, 2, src, &len);
  return atoi(s + 5);
}

Test(state_redis, online_through_redis_equals_offline) {
  world w;
  make_world(&w, 3000, 40);
  fr_error err = {0};
  fr_state *st = redis_state(&w, FR_STATE_OUTAGE_FAIL, &err);
  cr_assert_not_null(st, "%s", err.msg);
  fr_field fields[5];
  float row[16];
  for (size_t i = 0; i < w.t->rows; i++) {
    fr_txn txn;
    fr_dataset_txn(w.d, w.t->source_row[i], fields, &txn);
    cr_assert_eq(fr_featurize(w.f, &txn, st, row, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(row, w.t->x + i * w.t->cols, w.t->cols * sizeof(float)), 0,
                 "row %zu differs through Redis", i);
  }
  fr_state_stats s;
  fr_state_get_stats(st, &s);
  cr_assert_str_eq(s.backend, "redis");
  cr_assert_eq(s.available, 1);
  cr_assert_eq(s.errors, 0);
  /* What Redis holds: prefix + state digest + slot + 16 hex digits, each
   * with a TTL, and never a card number or merchant name. */
  redisContext *c = redisConnect("127.0.0.1", w.redis.port);
  cr_assert(c && !c->err);
  redisReply *keys = redisCommand(c, "KEYS *");
  cr_assert_eq(keys->type, REDIS_REPLY_ARRAY);
  cr_assert_gt(keys->elements, 40);
  char prefix[64];
  snprintf(prefix, sizeof prefix, "fraud-test:%.16s:", fr_featurizer_state_digest(w.f));
  for (size_t i = 0; i < keys->elements; i++) {
    const char *k = keys->element[i]->str;
    cr_assert(strncmp(k, prefix, strlen(prefix)) == 0, "key %s", k);
    const char *rest = k + strlen(prefix);
    cr_assert(rest[0] >= '0' && rest[0] <= '1' && rest[1] == ':', "key %s", k);
    cr_assert_eq(strlen(rest + 2), 16, "key %s", k);
    cr_assert_eq(strspn(rest + 2, "0123456789abcdef"), 16, "key %s", k);
    cr_assert_null(strstr(k, "card-"));
    cr_assert_null(strstr(k, "shop-"));
    redisReply *ttl = redisCommand(c, "PTTL %s", k);
    cr_assert_eq(ttl->type, REDIS_REPLY_INTEGER);
    cr_assert_gt(ttl->integer, 29LL * 86400 * 1000, "key %s has no TTL", k);
    freeReplyObject(ttl);
    redisReply *d = redisCommand(c, "HGET %s d", k);
    cr_assert_eq(d->type, REDIS_REPLY_STRING);
    cr_assert_null(memmem(d->str, d->len, "card-", 5), "a card number in a record");
    freeReplyObject(d);
  }
  freeReplyObject(keys);
  redisFree(c);
  fr_state_free(st);
  free_world(&w);
}

Test(state_redis, two_processes_share_one_redis) {
  /* Two "replicas" (processes), cards split between them, each card's
   * events in order: every feature vector equals the offline one. */
  world w;
  make_world(&w, 4000, 50);
  char out[2][512];
  pid_t pid[2];
  for (int k = 0; k < 2; k++) {
    snprintf(out[k], sizeof out[k], "%s/rows-%d.bin", w.dir, k);
    pid[k] = fork();
    cr_assert_geq(pid[k], 0);
    if (pid[k] == 0) {
      fr_error err = {0};
      fr_state *st = redis_state(&w, FR_STATE_OUTAGE_FAIL, &err);
      FILE *fp = fopen(out[k], "wb");
      if (!st || !fp)
        _exit(3);
      fr_field fields[5];
      float row[16];
      for (size_t i = 0; i < w.t->rows; i++) {
        if (card_of(&w, w.t->source_row[i]) % 2 != k)
          continue;
        fr_txn txn;
        fr_dataset_txn(w.d, w.t->source_row[i], fields, &txn);
        if (fr_featurize(w.f, &txn, st, row, 1, &err))
          _exit(4);
        uint64_t idx = i;
        fwrite(&idx, sizeof idx, 1, fp);
        fwrite(row, sizeof(float), w.t->cols, fp);
      }
      fclose(fp);
      fr_state_free(st);
      _exit(0);
    }
  }
  for (int k = 0; k < 2; k++) {
    int status;
    waitpid(pid[k], &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "replica %d failed", k);
  }
  size_t seen = 0;
  for (int k = 0; k < 2; k++) {
    FILE *fp = fopen(out[k], "rb");
    uint64_t idx;
    float row[16];
    while (fread(&idx, sizeof idx, 1, fp) == 1) {
      cr_assert_eq(fread(row, sizeof(float), w.t->cols, fp), w.t->cols);
      cr_assert_eq(memcmp(row, w.t->x + idx * w.t->cols, w.t->cols * sizeof(float)), 0,
                   "replica %d row %llu differs", k, (unsigned long long)idx);
      seen++;
    }
    fclose(fp);
  }
  cr_assert_eq(seen, w.t->rows);
  free_world(&w);
}

typedef struct hammer {
  world *w;
  fr_state *st;
  int id, per, failed;
} hammer;

static void *hammer_main(void *arg) {
  hammer *h = arg;
  fr_field fields[5];
  fr_error err = {0};
  float row[16];
  for (int k = 0; k < h->per; k++) {
    const char *cells[5] = {"x", "", "card-1", "shop-1", "2"};
    for (size_t c = 0; c < 5; c++)
      if (c != 1)
        fr_schema_parse_cell(h->w->s, c, cells[c], strlen(cells[c]), &fields[c], NULL);
    fr_txn txn = {.event_time = 1e6 + 8.0 * k + h->id, .fields = fields, .nfields = 5};
    fields[1] = (fr_field){.num = txn.event_time, .present = 1};
    if (fr_featurize(h->w->f, &txn, h->st, row, 1, &err)) {
      fprintf(stderr, "%s\n", err.msg);
      h->failed = 1;
    }
  }
  return NULL;
}

Test(state_redis, no_lost_update_across_replicas) {
  world w;
  make_world(&w, 10, 2);
  fr_error err = {0};
  fr_state_options o;
  fr_state_options_default(&o);
  o.allowed_lateness = 1e9; /* every interleaving is inserted */
  fr_state_redis_options r;
  fr_state_redis_options_default(&r);
  r.url = w.redis.url;
  r.timeout = 1;
  r.max_retries = 1000;
  fr_state *st[2];
  for (int k = 0; k < 2; k++) {
    st[k] = fr_state_new_redis(w.f, &o, &r, &err);
    cr_assert_not_null(st[k], "%s", err.msg);
  }
  enum { N = 6, PER = 150 };
  pthread_t th[N];
  hammer h[N];
  for (int i = 0; i < N; i++) {
    h[i] = (hammer){&w, st[i % 2], i, PER, 0};
    pthread_create(&th[i], NULL, hammer_main, &h[i]);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(h[i].failed, 0);
  }
  /* count over 10 min would miss events; read the 7-day bucketed sum. */
  fr_field fields[5];
  const char *cells[5] = {"q", "", "card-1", "shop-1", "2"};
  for (size_t c = 0; c < 5; c++)
    if (c != 1)
      fr_schema_parse_cell(w.s, c, cells[c], strlen(cells[c]), &fields[c], NULL);
  fr_txn txn = {.event_time = 1e6 + 8.0 * PER + 100000, .fields = fields, .nfields = 5};
  fields[1] = (fr_field){.num = txn.event_time, .present = 1};
  float row[16];
  cr_assert_eq(fr_featurize(w.f, &txn, st[0], row, 0, &err), 0, "%s", err.msg);
  cr_assert_eq(row[3], (float)(2 * N * PER), "sum %g, want %d", (double)row[3], 2 * N * PER);
  fr_state_stats s0, s1;
  fr_state_get_stats(st[0], &s0);
  fr_state_get_stats(st[1], &s1);
  fprintf(stderr, "compare-and-set retries: %llu\n",
          (unsigned long long)(s0.conflicts + s1.conflicts));
  cr_assert_gt(s0.late_inserted + s1.late_inserted, 0);
  fr_state_free(st[0]);
  fr_state_free(st[1]);
  free_world(&w);
}

Test(state_redis, outage_fails_closed_or_degrades_and_recovers) {
  world w;
  make_world(&w, 400, 10);
  fr_error err = {0};
  fr_state *closed = redis_state(&w, FR_STATE_OUTAGE_FAIL, &err);
  fr_state *open = redis_state(&w, FR_STATE_OUTAGE_EMPTY, &err);
  cr_assert(closed && open);
  fr_field fields[5];
  float row[16];
  unsigned flags;
  size_t i = 0;
  for (; i < 200; i++) {
    fr_txn txn;
    fr_dataset_txn(w.d, w.t->source_row[i], fields, &txn);
    cr_assert_eq(fr_featurize(w.f, &txn, closed, row, 1, &err), 0, "%s", err.msg);
  }
  /* Redis dies. */
  fr_redis_stop(&w.redis, SIGKILL);
  fr_txn txn;
  fr_dataset_txn(w.d, w.t->source_row[i], fields, &txn);
  cr_assert_eq(fr_featurize_ex(w.f, &txn, closed, row, 1, &flags, &err), FR_EUNAVAIL);
  cr_assert(strstr(err.msg, "redis") != NULL, "%s", err.msg);
  /* Fails fast while down (no connection attempt before retry_interval). */
  uint64_t t0 = fr_monotonic_ns();
  for (int k = 0; k < 50; k++)
    cr_assert_eq(fr_featurize(w.f, &txn, closed, row, 1, &err), FR_EUNAVAIL);
  cr_assert_lt(fr_monotonic_ns() - t0, 2000000000ull);
  cr_assert_eq(fr_featurize_ex(w.f, &txn, open, row, 1, &flags, &err), 0, "%s", err.msg);
  cr_assert_eq(flags, FR_FEATURIZE_DEGRADED);
  cr_assert_eq(row[0], 0); /* empty history */
  cr_assert(isnan(row[5]));
  cr_assert_eq(row[6], 1);
  fr_state_stats s;
  fr_state_get_stats(closed, &s);
  cr_assert_gt(s.errors, 0);
  cr_assert_eq(s.available, 0);
  fr_state_get_stats(open, &s);
  cr_assert_gt(s.degraded, 0);
  /* Redis comes back (empty: no persistence) on the same port: the same
   * stores recover without being recreated. */
  cr_assert_eq(fr_redis_start(&w.redis), 0);
  int ok = 0;
  for (int k = 0; k < 100 && !ok; k++) {
    ok = fr_featurize(w.f, &txn, closed, row, 1, &err) == 0;
    if (!ok)
      usleep(20000);
  }
  cr_assert(ok, "no recovery: %s", err.msg);
  fr_state_get_stats(closed, &s);
  cr_assert_eq(s.available, 1);
  /* The same transaction through the other store (same Redis): served from
   * the store again, and recognised as a replay of what `closed` wrote. */
  cr_assert_eq(fr_featurize_ex(w.f, &txn, open, row, 1, &flags, &err), 0);
  cr_assert_eq(flags, FR_FEATURIZE_DUPLICATE);
  fr_state_get_stats(open, &s);
  cr_assert_eq(s.duplicates, 1);
  fr_state_free(closed);
  fr_state_free(open);
  free_world(&w);
}

Test(state_redis, killed_and_restarted_in_the_middle_of_a_replay) {
  /* A replay keeps running while Redis is killed and restarted: requests
   * in between fail with FR_EUNAVAIL, later ones succeed again. */
  world w;
  make_world(&w, 3000, 30);
  fr_error err = {0};
  fr_state *st = redis_state(&w, FR_STATE_OUTAGE_FAIL, &err);
  cr_assert_not_null(st);
  fr_field fields[5];
  float row[16];
  size_t ok_before = 0, failed = 0, ok_after = 0;
  for (size_t i = 0; i < w.t->rows; i++) {
    if (i == 1000)
      fr_redis_stop(&w.redis, SIGKILL);
    if (i == 1500)
      cr_assert_eq(fr_redis_start(&w.redis), 0);
    fr_txn txn;
    fr_dataset_txn(w.d, w.t->source_row[i], fields, &txn);
    int rc = fr_featurize(w.f, &txn, st, row, 1, &err);
    if (rc == 0)
      *(i < 1000 ? &ok_before : &ok_after) += 1;
    else {
      cr_assert_eq(rc, FR_EUNAVAIL, "%s", err.msg);
      cr_assert(i >= 1000, "failure before the outage: %s", err.msg);
      failed++;
    }
    if (i >= 1500 && rc)
      usleep(2000); /* reconnect waits for retry_interval */
  }
  cr_assert_eq(ok_before, 1000);
  cr_assert_geq(failed, 500);
  cr_assert_gt(ok_after, 1000);
  fr_state_free(st);
  free_world(&w);
}

Test(state_redis, bad_urls_and_down_at_start) {
  world w;
  make_world(&w, 10, 2);
  fr_error err = {0};
  fr_state_redis_options r;
  fr_state_redis_options_default(&r);
  const char *bad[] = {"http://localhost", "redis://", "redis://host:99999",
                       "redis://host:12/x", "unix://"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r.url = bad[i];
    cr_assert_null(fr_state_new_redis(w.f, NULL, &r, &err), "%s accepted", bad[i]);
    cr_assert_eq(err.code, FR_EINVAL);
  }
  /* Nothing listens: the store is created, requests fail closed. */
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", fr_redis_free_port());
  r.url = url;
  r.timeout = 0.2;
  fr_state *st = fr_state_new_redis(w.f, NULL, &r, &err);
  cr_assert_not_null(st, "%s", err.msg);
  fr_field fields[5];
  fr_txn txn;
  fr_dataset_txn(w.d, 0, fields, &txn);
  float row[16];
  cr_assert_eq(fr_featurize(w.f, &txn, st, row, 1, &err), FR_EUNAVAIL);
  cr_assert_eq(fr_state_snapshot(st, "/tmp/x", &err), FR_EINVAL);
  cr_assert_eq(fr_state_size(st), 0);
  fr_state_free(st);
  free_world(&w);
}

/* Review finding: the store's bad-URL error quoted the whole URL, password
 * included, and it reached the log and the readiness answer of every model.
 * The message quotes it redacted; fr_state_redis_url_check (used by the
 * server's configuration check) gives the same verdict and message. */
Test(state_redis, bad_url_message_redacts_password) {
  world w;
  make_world(&w, 10, 2);
  fr_state_redis_options r;
  fr_state_redis_options_default(&r);
  r.url = "redis://:topsecret@127.0.0.1:1/0?x";
  fr_error err = {0};
  cr_assert_null(fr_state_new_redis(w.f, NULL, &r, &err));
  cr_assert_eq(err.code, FR_EINVAL);
  cr_assert_null(strstr(err.msg, "topsecret"), "%s", err.msg);
  cr_assert_not_null(strstr(err.msg, "'redis://:***@127.0.0.1:1/0?x'"), "%s", err.msg);
  fr_error e2 = {0};
  cr_assert_eq(fr_state_redis_url_check(r.url, &e2), FR_EINVAL);
  cr_assert_str_eq(e2.msg, err.msg);
  cr_assert_eq(fr_state_redis_url_check("redis://u:pw@h:6379/3", &e2), 0, "%s", e2.msg);
  cr_assert_eq(fr_state_redis_url_check("unix:///run/r.sock", &e2), 0, "%s", e2.msg);
  cr_assert_eq(fr_state_redis_url_check("redis://h:0", &e2), FR_EINVAL);
  free_world(&w);
}
