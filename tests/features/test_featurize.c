/*
 * Tests src/features/featurize.c (and spec.c, entity.c, state_memory.c) on
 * hand-computed examples: point-in-time windows, equal timestamps, window
 * boundaries, composite keys, every feature kind, leakage, online == offline.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "features/internal.h"
#include "fr_test.h"
#include "fraud/features.h"

static const char *schema_yaml =
    "name: toy\n"
    "columns:\n"
    "  - {name: id, role: id}\n"
    "  - {name: ts, role: event_time, format: epoch_seconds}\n"
    "  - {name: card, role: entity, entity: card}\n"
    "  - {name: merchant, role: entity, entity: merchant}\n"
    "  - {name: amt, role: amount}\n"
    "  - {name: cat, role: categorical}\n"
    "  - {name: lat, role: latitude, point: home}\n"
    "  - {name: lon, role: longitude, point: home}\n"
    "  - {name: mlat, role: latitude, point: shop}\n"
    "  - {name: mlon, role: longitude, point: shop}\n"
    "  - {name: label, role: label}\n"
    "composite_entities:\n"
    "  card_merchant: [card, merchant]\n";

static const char *header = "id,ts,card,merchant,amt,cat,lat,lon,mlat,mlon,label\n";

typedef struct fixture {
  fr_schema *s;
  fr_featurizer *f;
  fr_dataset *d;
  fr_table *t;
} fixture;

static void load(fixture *fx, const char *spec, const char *rows) {
  fr_error err = {0};
  memset(fx, 0, sizeof *fx);
  fx->s = fr_schema_load_string(schema_yaml, strlen(schema_yaml), "toy.yaml", &err);
  cr_assert_not_null(fx->s, "%s", err.msg);
  fx->f = fr_featurizer_load_string(fx->s, spec, strlen(spec), "spec.yaml", &err);
  cr_assert_not_null(fx->f, "%s", err.msg);
  const char *dir = fr_test_tmpdir();
  size_t n = strlen(header) + strlen(rows) + 1;
  char *text = malloc(n);
  snprintf(text, n, "%s%s", header, rows);
  const char *path = fr_test_write(dir, "data.csv", text);
  free(text);
  fx->d = fr_dataset_read_csv(fx->s, path, NULL, &err);
  cr_assert_not_null(fx->d, "%s", err.msg);
  const size_t *order = fr_dataset_time_order(fx->d);
  cr_assert_eq(fr_featurizer_fit(fx->f, fx->d, order, fr_dataset_rows(fx->d), &err), 0,
               "%s", err.msg);
  fx->t = fr_featurize_dataset(fx->f, fx->d, &err);
  cr_assert_not_null(fx->t, "%s", err.msg);
}

static void unload(fixture *fx) {
  fr_table_free(fx->t);
  fr_dataset_free(fx->d);
  fr_featurizer_free(fx->f);
  fr_schema_free(fx->s);
}

/* Feature `name` of the row whose file position is `row`. */
static float feat(const fixture *fx, size_t row, const char *name) {
  size_t col = (size_t)-1;
  for (size_t j = 0; j < fx->t->cols; j++)
    if (strcmp(fx->t->names[j], name) == 0)
      col = j;
  cr_assert_neq(col, (size_t)-1, "no feature %s", name);
  for (size_t i = 0; i < fx->t->rows; i++)
    if (fx->t->source_row[i] == row)
      return fx->t->x[i * fx->t->cols + col];
  cr_assert_fail("no row %zu", row);
  return NAN;
}

#define ASSERT_NAN(x) cr_assert(isnan(x), "expected NaN, got %g", (double)(x))

static const char *window_spec =
    "features:\n"
    "  - {name: n1h, kind: count, entity: card, window: 1h}\n"
    "  - {name: s1h, kind: sum, entity: card, column: amt, window: 1h}\n"
    "  - {name: n24h, kind: count, entity: card, window: 24h}\n"
    "  - {name: since, kind: time_since_prev, entity: card}\n";

Test(featurize, equal_timestamps_and_window_boundary) {
  /* Hand-computed: rows 0 and 1 share t=1000 (neither sees the other); row 2
   * is exactly one hour later (the window [t-1h, t) includes both at 1000);
   * row 3 one second after that (the 1000s have left the hour). */
  fixture fx;
  load(&fx, window_spec,
       "a,1000,C1,M1,10,x,,,,,0\n"
       "b,1000,C1,M2,20,x,,,,,0\n"
       "c,4600,C1,M1,30,y,,,,,1\n"
       "d,4601,C1,M1,5,y,,,,,0\n"
       "e,4601,C2,M1,7,y,,,,,0\n");
  cr_assert_eq(feat(&fx, 0, "n1h"), 0);
  cr_assert_eq(feat(&fx, 0, "s1h"), 0);
  ASSERT_NAN(feat(&fx, 0, "since"));
  cr_assert_eq(feat(&fx, 1, "n1h"), 0);
  cr_assert_eq(feat(&fx, 1, "s1h"), 0);
  ASSERT_NAN(feat(&fx, 1, "since"));
  cr_assert_eq(feat(&fx, 2, "n1h"), 2);
  cr_assert_eq(feat(&fx, 2, "s1h"), 30);
  cr_assert_eq(feat(&fx, 2, "since"), 3600);
  cr_assert_eq(feat(&fx, 3, "n1h"), 1);
  cr_assert_eq(feat(&fx, 3, "s1h"), 30);
  cr_assert_eq(feat(&fx, 3, "n24h"), 3);
  cr_assert_eq(feat(&fx, 3, "since"), 1);
  cr_assert_eq(feat(&fx, 4, "n24h"), 0); /* another card */
  unload(&fx);
}

Test(featurize, file_order_of_equal_timestamps_does_not_matter) {
  const char *a = "a,1000,C1,M1,10,x,,,,,0\nb,1000,C1,M2,20,x,,,,,0\nc,2000,C1,M1,30,y,,,,,1\n";
  const char *b = "c,2000,C1,M1,30,y,,,,,1\nb,1000,C1,M2,20,x,,,,,0\na,1000,C1,M1,10,x,,,,,0\n";
  fixture x, y;
  load(&x, window_spec, a);
  load(&y, window_spec, b);
  /* Same transaction ids, same features. */
  size_t map[3] = {2, 1, 0}; /* row i of a is row map[i] of b */
  for (size_t i = 0; i < 3; i++) {
    cr_assert_eq(feat(&x, i, "n1h"), feat(&y, map[i], "n1h"));
    cr_assert_eq(feat(&x, i, "s1h"), feat(&y, map[i], "s1h"));
  }
  cr_assert_eq(feat(&x, 2, "s1h"), 30);
  unload(&x);
  unload(&y);
}

Test(featurize, composite_key_first_seen_and_distinct) {
  const char *spec =
      "features:\n"
      "  - {name: new_pair, kind: first_seen, entity: card_merchant}\n"
      "  - {name: merchants_24h, kind: distinct_count, entity: card, column: merchant, window: 24h}\n";
  fixture fx;
  load(&fx, spec,
       "a,0,C1,M1,1,x,,,,,0\n"
       "b,10,C1,M1,1,x,,,,,0\n"
       "c,20,C1,M2,1,x,,,,,0\n"
       "d,30,C2,M1,1,x,,,,,0\n"
       "e,30,C1,M3,1,x,,,,,0\n"
       "f,40,C1,M3,1,x,,,,,0\n");
  cr_assert_eq(feat(&fx, 0, "new_pair"), 1);
  cr_assert_eq(feat(&fx, 1, "new_pair"), 0);
  cr_assert_eq(feat(&fx, 2, "new_pair"), 1);
  cr_assert_eq(feat(&fx, 3, "new_pair"), 1); /* same merchant, other card */
  cr_assert_eq(feat(&fx, 5, "new_pair"), 0);
  cr_assert_eq(feat(&fx, 2, "merchants_24h"), 1); /* M1 twice */
  cr_assert_eq(feat(&fx, 4, "merchants_24h"), 2); /* M1, M2 */
  cr_assert_eq(feat(&fx, 5, "merchants_24h"), 3); /* M1, M2, M3 */
  unload(&fx);
}

Test(featurize, window_statistics) {
  const char *spec =
      "features:\n"
      "  - {name: mean, kind: mean, entity: card, column: amt, window: 1d}\n"
      "  - {name: min, kind: min, entity: card, column: amt, window: 1d}\n"
      "  - {name: max, kind: max, entity: card, column: amt, window: 1d}\n"
      "  - {name: std, kind: std, entity: card, column: amt, window: 1d}\n"
      "  - {name: ratio, kind: ratio_to_mean, entity: card, column: amt, window: 1d}\n"
      "  - {name: z, kind: zscore, entity: card, column: amt, window: 1d}\n";
  fixture fx;
  /* History 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample std sqrt(32/7). */
  load(&fx, spec,
       "a,1,C1,M,2,x,,,,,0\nb,2,C1,M,4,x,,,,,0\nc,3,C1,M,4,x,,,,,0\nd,4,C1,M,4,x,,,,,0\n"
       "e,5,C1,M,5,x,,,,,0\nf,6,C1,M,5,x,,,,,0\ng,7,C1,M,7,x,,,,,0\nh,8,C1,M,9,x,,,,,0\n"
       "i,9,C1,M,8,x,,,,,0\nj,9,C1,M,,x,,,,,0\n");
  cr_assert_float_eq(feat(&fx, 8, "mean"), 5.0f, 1e-6);
  cr_assert_eq(feat(&fx, 8, "min"), 2);
  cr_assert_eq(feat(&fx, 8, "max"), 9);
  cr_assert_float_eq(feat(&fx, 8, "std"), (float)sqrt(32.0 / 7.0), 1e-6);
  cr_assert_float_eq(feat(&fx, 8, "ratio"), 8.0f / 5.0f, 1e-6);
  cr_assert_float_eq(feat(&fx, 8, "z"), (float)(3.0 / sqrt(32.0 / 7.0)), 1e-6);
  ASSERT_NAN(feat(&fx, 9, "ratio")); /* missing amount */
  ASSERT_NAN(feat(&fx, 0, "mean"));  /* no history */
  ASSERT_NAN(feat(&fx, 1, "std"));   /* one value */
  unload(&fx);
}

Test(featurize, stateless_kinds) {
  const char *spec =
      "features:\n"
      "  - {name: amt_log, kind: log1p, column: amt}\n"
      "  - {name: amt_clip, kind: clip, column: amt, min: 0, max: 100}\n"
      "  - {name: hour, kind: hour_of_day}\n"
      "  - {name: dow, kind: day_of_week}\n"
      "  - {name: hour_ist, kind: hour_of_day, utc_offset: '+05:30'}\n"
      "  - {name: hsin, kind: hour_sin}\n"
      "  - {name: dist, kind: haversine, from: home, to: shop}\n"
      "  - {name: cat_code, kind: category_code, column: cat}\n"
      "  - {name: cat, kind: one_hot, column: cat, max_categories: 2}\n"
      "  - {name: cat_freq, kind: frequency, column: cat}\n"
      "  - {name: cat_te, kind: target_encoding, column: cat, smoothing: 2}\n";
  fixture fx;
  /* 1546300818 = 2019-01-01T00:00:18Z, a Tuesday.  Paris (48.8566, 2.3522)
   * to London (51.5074, -0.1278): 343.5 km by the haversine formula with
   * R = 6371.0088 km. */
  load(&fx, spec,
       "a,1546300818,C1,M,999,x,48.8566,2.3522,51.5074,-0.1278,1\n"
       "b,1546322400,C1,M,0,x,,,,,0\n"
       "c,1546322400,C1,M,-5,y,,,,,0\n"
       "d,1546322400,C1,M,,,,,,,0\n");
  cr_assert_float_eq(feat(&fx, 0, "amt_log"), (float)log(1000.0), 1e-6);
  cr_assert_eq(feat(&fx, 0, "amt_clip"), 100);
  cr_assert_eq(feat(&fx, 2, "amt_clip"), 0);
  ASSERT_NAN(feat(&fx, 3, "amt_clip"));
  cr_assert_eq(feat(&fx, 0, "hour"), 0);
  cr_assert_eq(feat(&fx, 0, "dow"), 1); /* Monday = 0 */
  cr_assert_eq(feat(&fx, 0, "hour_ist"), 5);
  cr_assert_eq(feat(&fx, 1, "hour"), 6); /* 06:00 UTC */
  cr_assert_float_eq(feat(&fx, 1, "hsin"), 1.0f, 1e-6); /* sin(pi/2) */
  cr_assert_float_eq(feat(&fx, 0, "dist"), 343.5f, 0.5);
  ASSERT_NAN(feat(&fx, 1, "dist"));
  /* Vocabulary by descending count: x (2 rows) = 0, y (1 row) = 1. */
  cr_assert_eq(feat(&fx, 0, "cat_code"), 0);
  cr_assert_eq(feat(&fx, 2, "cat_code"), 1);
  ASSERT_NAN(feat(&fx, 3, "cat_code"));
  cr_assert_eq(feat(&fx, 0, "cat=x"), 1);
  cr_assert_eq(feat(&fx, 0, "cat=y"), 0);
  cr_assert_eq(feat(&fx, 2, "cat=y"), 1);
  cr_assert_float_eq(feat(&fx, 0, "cat_freq"), 2.0f / 3.0f, 1e-6);
  /* Target encoding: prior 1/3; x: (1 + 2/3) / (2 + 2) = 5/12. */
  cr_assert_float_eq(feat(&fx, 0, "cat_te"), 5.0f / 12.0f, 1e-6);
  /* y: (0 + 2/3) / (1 + 2) = 2/9. */
  cr_assert_float_eq(feat(&fx, 2, "cat_te"), 2.0f / 9.0f, 1e-6);
  unload(&fx);
}

/* Day of week on both sides of the epoch (featurize.c computes the day
 * number modulo 7 in integers): noon UTC of dates whose weekdays Python's
 * datetime gives (Monday = 0). */
Test(featurize, day_of_week_across_the_epoch) {
  const char *spec = "features:\n  - {name: dow, kind: day_of_week}\n";
  fixture fx;
  load(&fx, spec,
       "a,-2208945600,C1,M,1,x,,,,,0\n"  /* 1900-01-01 */
       "b,-820800,C1,M,1,x,,,,,0\n"      /* 1969-12-22 */
       "c,-43200,C1,M,1,x,,,,,0\n"       /* 1969-12-31 */
       "d,43200,C1,M,1,x,,,,,0\n"        /* 1970-01-01 */
       "e,388800,C1,M,1,x,,,,,0\n"       /* 1970-01-05 */
       "f,951825600,C1,M,1,x,,,,,0\n"    /* 2000-02-29 */
       "g,1710072000,C1,M,1,x,,,,,0\n"   /* 2024-03-10 */
       "h,4133937600,C1,M,1,x,,,,,0\n"); /* 2100-12-31 */
  const int want[] = {0, 0, 2, 3, 0, 1, 6, 4};
  for (size_t r = 0; r < 8; r++)
    cr_assert_eq(feat(&fx, r, "dow"), (float)want[r], "row %zu: dow %g, want %d", r,
                 (double)feat(&fx, r, "dow"), want[r]);
  unload(&fx);
}

Test(featurize, geo_velocity) {
  const char *spec =
      "features:\n"
      "  - {name: kmh, kind: geo_velocity, entity: card, point: shop}\n";
  fixture fx;
  /* Paris then London 1 h later: 343.5 km/h; then an unlocated event; then
   * London again 1 h after the first London: 0 km/h. */
  load(&fx, spec,
       "a,0,C1,M,1,x,,,48.8566,2.3522,0\n"
       "b,3600,C1,M,1,x,,,51.5074,-0.1278,0\n"
       "c,5000,C1,M,1,x,,,,,0\n"
       "d,7200,C1,M,1,x,,,51.5074,-0.1278,0\n");
  ASSERT_NAN(feat(&fx, 0, "kmh"));
  cr_assert_float_eq(feat(&fx, 1, "kmh"), 343.5f, 0.5);
  ASSERT_NAN(feat(&fx, 2, "kmh"));
  cr_assert_float_eq(feat(&fx, 3, "kmh"), 0.0f, 1e-6);
  unload(&fx);
}

Test(featurize, online_equals_offline_and_no_leakage) {
  /* A pseudo-random stream: replaying it one transaction at a time through
   * fr_featurize gives the offline matrix bit for bit, and rewriting every
   * row after time T changes no row at or before T. */
  const char *spec =
      "features:\n"
      "  - {name: n1h, kind: count, entity: card, window: 1h}\n"
      "  - {name: s1h, kind: sum, entity: card, column: amt, window: 1h}\n"
      "  - {name: m24h, kind: mean, entity: card, column: amt, window: 24h}\n"
      "  - {name: sd24h, kind: std, entity: card, column: amt, window: 24h}\n"
      "  - {name: d24h, kind: distinct_count, entity: card, column: merchant, window: 24h}\n"
      "  - {name: since, kind: time_since_prev, entity: card}\n"
      "  - {name: mcount, kind: count, entity: merchant, window: 10m}\n"
      "  - {name: new, kind: first_seen, entity: card_merchant}\n";
  char rows[2][200000];
  for (int v = 0; v < 2; v++) {
    size_t o = 0;
    uint64_t seed = 12345;
    for (int i = 0; i < 1000; i++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      unsigned r = (unsigned)(seed >> 33);
      long ts = 1000000 + i * 37 + (long)(r % 7) * 300 - 900;
      double amt = (r % 1000) / 10.0;
      if (v == 1 && ts > 1020000)
        amt = amt * 3 + 1; /* change every later row */
      o += (size_t)snprintf(rows[v] + o, sizeof rows[v] - o,
                            "t%d,%ld,C%u,M%u,%.1f,x,,,,,%u\n", i, ts, r % 13,
                            (r >> 8) % 5, amt, (r >> 12) % 2);
    }
  }
  fixture a, b;
  load(&a, spec, rows[0]);
  load(&b, spec, rows[1]);
  size_t cols = a.t->cols;
  for (size_t i = 0; i < a.t->rows; i++) {
    if (a.t->event_time[i] > 1020000)
      continue;
    cr_assert_eq(a.t->source_row[i], b.t->source_row[i]);
    cr_assert_eq(memcmp(a.t->x + i * cols, b.t->x + i * cols, cols * sizeof(float)), 0,
                 "row %zu changed when later rows changed", a.t->source_row[i]);
  }
  /* Online replay. */
  fr_error err = {0};
  fr_state_options o;
  fr_state_options_default(&o);
  fr_state *st = fr_state_new_memory(a.f, &o, &err);
  cr_assert_not_null(st);
  fr_field fields[16];
  float row[16];
  for (size_t i = 0; i < a.t->rows; i++) {
    fr_txn txn;
    fr_dataset_txn(a.d, a.t->source_row[i], fields, &txn);
    cr_assert_eq(fr_featurize(a.f, &txn, st, row, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(row, a.t->x + i * cols, cols * sizeof(float)), 0,
                 "online features of row %zu differ from offline", i);
  }
  cr_assert_eq(fr_state_size(st) > 0, 1);
  fr_state_free(st);
  unload(&a);
  unload(&b);
}

Test(featurize, both_offline_replays_equal_online) {
  /* The offline path replays a slot either in time order against an array
   * of records (few entities) or entity by entity on one record (many); the
   * threshold (fr__offline_inorder_bytes) is forced both ways here.  The
   * stream has equal event times, transactions sent twice (same id and
   * time: replays, not inserted) and missing amounts and points; both
   * replays must give the online features bit for bit. */
  const char *spec =
      "features:\n"
      "  - {name: n1h, kind: count, entity: card, window: 1h}\n"
      "  - {name: s1h, kind: sum, entity: card, column: amt, window: 1h}\n"
      "  - {name: mx24h, kind: max, entity: card, column: amt, window: 24h}\n"
      "  - {name: z24h, kind: zscore, entity: card, column: amt, window: 24h}\n"
      "  - {name: d24h, kind: distinct_count, entity: card, column: merchant, window: 24h}\n"
      "  - {name: since, kind: time_since_prev, entity: card}\n"
      "  - {name: kmh, kind: geo_velocity, entity: card, point: shop}\n"
      "  - {name: mcount, kind: count, entity: merchant, window: 10m}\n"
      "  - {name: new, kind: first_seen, entity: card_merchant}\n";
  static char rows[200000];
  size_t o = 0, prev = 0;
  uint64_t seed = 777;
  for (int i = 0; i < 1500; i++) {
    if (i % 7 == 6) {
      /* Every 7th row repeats the previous one whole: a replay. */
      size_t len = o - prev;
      memcpy(rows + o, rows + prev, len);
      prev = o;
      o += len;
      continue;
    }
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned r = (unsigned)(seed >> 33);
    long ts = 1000000 + (i / 3) * 240; /* three rows per event time */
    char amt[32] = "", pt[64] = ",";
    if (r % 11 != 0)
      snprintf(amt, sizeof amt, "%.2f", (r % 100000) / 100.0);
    if (r % 13 != 0)
      snprintf(pt, sizeof pt, "%.4f,%.4f", 30 + (r % 1000) / 100.0,
               -100 + ((r >> 10) % 1000) / 100.0);
    prev = o;
    o += (size_t)snprintf(rows + o, sizeof rows - o, "t%d,%ld,C%u,M%u,%s,x,,,%s,0\n",
                          i, ts, r % 3, (r >> 8) % 4, amt, pt);
  }
  rows[o] = '\0';
  fixture fx;
  load(&fx, spec, rows);
  size_t cols = fx.t->cols, saved = fr__offline_inorder_bytes;
  fr_table *tab[2];
  fr_error err = {0};
  for (int k = 0; k < 2; k++) {
    fr__offline_inorder_bytes = k == 0 ? 0 : SIZE_MAX;
    tab[k] = fr_featurize_dataset(fx.f, fx.d, &err);
    cr_assert_not_null(tab[k], "%s", err.msg);
  }
  fr__offline_inorder_bytes = saved;
  fr_state_options so;
  fr_state_options_default(&so);
  fr_state *st = fr_state_new_memory(fx.f, &so, &err);
  cr_assert_not_null(st);
  fr_field fields[16];
  float row[16];
  for (size_t i = 0; i < fx.t->rows; i++) {
    fr_txn txn;
    fr_dataset_txn(fx.d, fx.t->source_row[i], fields, &txn);
    cr_assert_eq(fr_featurize(fx.f, &txn, st, row, 1, &err), 0, "%s", err.msg);
    for (int k = 0; k < 2; k++)
      cr_assert_eq(memcmp(row, tab[k]->x + i * cols, cols * sizeof(float)), 0,
                   "row %zu: online features differ from the %s replay", i,
                   k == 0 ? "entity-by-entity" : "time-order");
  }
  fr_state_stats stats;
  fr_state_get_stats(st, &stats);
  cr_assert_gt(stats.duplicates, 0); /* the replay check was exercised */
  fr_state_free(st);
  fr_table_free(tab[0]);
  fr_table_free(tab[1]);
  unload(&fx);
}

Test(featurize, dump_and_reload_reproduces) {
  const char *spec =
      "version: 1\n"
      "features:\n"
      "  - {name: cat_code, kind: category_code, column: cat}\n"
      "  - {name: cat, kind: one_hot, column: cat, max_categories: 3}\n"
      "  - {name: te, kind: target_encoding, column: cat}\n"
      "  - {name: n1h, kind: count, entity: card, window: 1h}\n";
  fixture fx;
  load(&fx, spec,
       "a,1,C1,M,1,\"we, quote\",,,,,1\nb,2,C1,M,1,x,,,,,0\nc,3,C1,M,1,x,,,,,0\n"
       "d,4,C1,M,1,y,,,,,0\n");
  fr_error err = {0};
  size_t len;
  char *text = fr_featurizer_dump(fx.f, &len, &err);
  cr_assert_not_null(text, "%s", err.msg);
  fr_featurizer *g = fr_featurizer_load_string(fx.s, text, len, "dumped.yaml", &err);
  cr_assert_not_null(g, "%s\n---\n%s", err.msg, text);
  cr_assert_eq(fr_featurizer_nfeatures(g), fr_featurizer_nfeatures(fx.f));
  for (size_t i = 0; i < fr_featurizer_nfeatures(g); i++)
    cr_assert_str_eq(fr_featurizer_name(g, i), fr_featurizer_name(fx.f, i));
  fr_table *t2 = fr_featurize_dataset(g, fx.d, &err);
  cr_assert_not_null(t2, "%s", err.msg);
  cr_assert_eq(memcmp(t2->x, fx.t->x, t2->rows * t2->cols * sizeof(float)), 0);
  fr_table_free(t2);
  fr_featurizer_free(g);
  free(text);
  unload(&fx);
}

static void expect_spec_error(const char *spec, const char *needle) {
  fr_error err = {0};
  fr_schema *s = fr_schema_load_string(schema_yaml, strlen(schema_yaml), "toy.yaml", &err);
  cr_assert_not_null(s, "%s", err.msg);
  fr_featurizer *f = fr_featurizer_load_string(s, spec, strlen(spec), "bad.yaml", &err);
  cr_assert_null(f, "spec should be rejected: %s", spec);
  cr_assert(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
  fr_schema_free(s);
}

Test(featurize, bad_specs_name_the_line) {
  expect_spec_error("features:\n  - {name: a, kind: numeric, column: amt}\n"
                    "  - {name: b, kind: velocityy, entity: card}\n",
                    "bad.yaml:3:");
  expect_spec_error("features:\n  - {name: b, kind: velocityy, entity: card}\n",
                    "unknown feature kind 'velocityy'");
  expect_spec_error("features:\n  - {name: a, kind: sum, entity: card, column: amount_usd, window: 1h}\n",
                    "unknown column 'amount_usd'");
  expect_spec_error("features:\n  - {name: a, kind: count, entity: card, window: 5 parsecs}\n",
                    "bad.yaml:2:");
  expect_spec_error("features:\n  - {name: a, kind: count, entity: card, window: 5 parsecs}\n",
                    "window '5 parsecs'");
  expect_spec_error("features:\n  - {name: a, kind: count, entity: device, window: 1h}\n",
                    "unknown entity 'device'");
  expect_spec_error("features:\n  - {name: a, kind: count, entity: card}\n",
                    "needs a 'window'");
  expect_spec_error("features:\n  - {name: a, kind: numeric, column: amt, window: 1h}\n",
                    "takes no 'window'");
  expect_spec_error("features:\n  - {name: a, kind: numeric, column: amt}\n"
                    "  - {name: a, kind: log1p, column: amt}\n",
                    "duplicate feature name 'a'");
  expect_spec_error("feature:\n  - {name: a, kind: numeric, column: amt}\n",
                    "unknown key 'feature'");
}

/* Review findings: the duplicate name names its line (the second one's item
 * and the first one's line), a spec version other than 1 is refused at its
 * line, and a window longer than the documented 3650d is refused. */
Test(featurize, spec_duplicate_version_and_window_limits) {
  expect_spec_error("features:\n  - {name: a, kind: numeric, column: amt}\n"
                    "  - {name: b, kind: numeric, column: amt}\n"
                    "  - {name: a, kind: log1p, column: amt}\n",
                    "bad.yaml:4:5: duplicate feature name 'a' (first at line 2)");
  expect_spec_error("version: 2\nfeatures:\n  - {name: a, kind: numeric, column: amt}\n",
                    "bad.yaml:1:10: feature spec version 2 is not supported (this fraud reads "
                    "version 1)");
  expect_spec_error("version: one\nfeatures:\n  - {name: a, kind: numeric, column: amt}\n",
                    "bad.yaml:1:");
  expect_spec_error("features:\n  - {name: a, kind: count, entity: card, window: 100000d}\n",
                    "bad.yaml:2:");
  expect_spec_error("features:\n  - {name: a, kind: count, entity: card, window: 100000d}\n",
                    "window '100000d': longer than the largest window, 3650d");
  expect_spec_error("features:\n  - {name: a, kind: count, entity: card, window: 522w}\n",
                    "longer than the largest window");
  /* The bounds themselves are accepted. */
  fr_error err = {0};
  fr_schema *s = fr_schema_load_string(schema_yaml, strlen(schema_yaml), "toy.yaml", &err);
  cr_assert_not_null(s, "%s", err.msg);
  const char *ok = "version: 1\nfeatures:\n"
                   "  - {name: a, kind: count, entity: card, window: 3650d}\n";
  fr_featurizer *f = fr_featurizer_load_string(s, ok, strlen(ok), "ok.yaml", &err);
  cr_assert_not_null(f, "%s", err.msg);
  fr_featurizer_free(f);
  fr_schema_free(s);
}

Test(featurize, missing_event_time_is_rejected_online) {
  fixture fx;
  load(&fx, window_spec, "a,1000,C1,M1,10,x,,,,,0\n");
  fr_field fields[16];
  fr_txn txn;
  fr_dataset_txn(fx.d, 0, fields, &txn);
  txn.event_time = NAN;
  float row[8];
  fr_error err = {0};
  cr_assert_eq(fr_featurize(fx.f, &txn, NULL, row, 0, &err), FR_EINVAL);
  cr_assert(strstr(err.msg, "event time") != NULL, "%s", err.msg);
  unload(&fx);
}

Test(featurize, daylight_saving_fall_back_from_naive_local_times) {
  /* New York, 2024-11-03: clocks go back from 02:00 EDT to 01:00 EST.  The
   * file gives naive local times; the schema names the zone.  01:30 and
   * 01:50 are EDT, the following 01:10 is EST: 20 minutes after 01:50, not
   * 40 minutes before it.  hour_of_day in the zone reads the local hour. */
  const char *schema =
      "name: dst\n"
      "columns:\n"
      "  - {name: id, role: id}\n"
      "  - {name: ts, role: event_time, format: \"%Y-%m-%d %H:%M:%S\","
      " timezone: America/New_York}\n"
      "  - {name: card, role: entity, entity: card}\n"
      "  - {name: amt, role: amount}\n";
  const char *spec =
      "features:\n"
      "  - {name: since, kind: time_since_prev, entity: card}\n"
      "  - {name: n1h, kind: count, entity: card, window: 1h}\n"
      "  - {name: hour_ny, kind: hour_of_day, timezone: America/New_York}\n"
      "  - {name: hour_utc, kind: hour_of_day}\n";
  fr_error err = {0};
  fr_schema *s = fr_schema_load_string(schema, strlen(schema), "dst.yaml", &err);
  cr_assert_not_null(s, "%s", err.msg);
  fr_featurizer *f = fr_featurizer_load_string(s, spec, strlen(spec), "spec.yaml", &err);
  cr_assert_not_null(f, "%s", err.msg);
  const char *path = fr_test_write(fr_test_tmpdir(), "dst.csv",
                                   "id,ts,card,amt\n"
                                   "a,2024-11-03 01:30:00,C1,10\n"
                                   "b,2024-11-03 01:50:00,C1,20\n"
                                   "c,2024-11-03 01:10:00,C1,30\n");
  fr_dataset *d = fr_dataset_read_csv(s, path, NULL, &err);
  cr_assert_not_null(d, "%s", err.msg);
  cr_assert_eq(fr_dataset_event_time(d, 0), 1730611800.0); /* 05:30Z */
  cr_assert_eq(fr_dataset_event_time(d, 2), 1730614200.0); /* 06:10Z */
  fr_table *t = fr_featurize_dataset(f, d, &err);
  cr_assert_not_null(t, "%s", err.msg);
  /* Time order = file order here. */
  for (size_t i = 0; i < 3; i++)
    cr_assert_eq(t->source_row[i], i);
  cr_assert(isnan(t->x[0]));
  cr_assert_eq(t->x[1 * 4 + 0], 1200.0f);
  cr_assert_eq(t->x[2 * 4 + 0], 1200.0f); /* +20 min, not -40 min */
  cr_assert_eq(t->x[2 * 4 + 1], 2.0f);    /* both earlier ones in the hour */
  cr_assert_eq(t->x[0 * 4 + 2], 1.0f);    /* 01:30 EDT */
  cr_assert_eq(t->x[2 * 4 + 2], 1.0f);    /* 01:10 EST */
  cr_assert_eq(t->x[0 * 4 + 3], 5.0f);    /* 05:30Z */
  cr_assert_eq(t->x[2 * 4 + 3], 6.0f);    /* 06:10Z */
  fr_table_free(t);
  fr_dataset_free(d);
  fr_featurizer_free(f);
  fr_schema_free(s);
}

Test(featurize, missing_entity_key_means_no_entity) {
  /* Row b has no merchant: its card x merchant features are missing, not
   * "first time"; it is not added to that entity.  Its card features are
   * computed as usual. */
  const char *spec =
      "features:\n"
      "  - {name: new_pair, kind: first_seen, entity: card_merchant}\n"
      "  - {name: pair_n, kind: count, entity: card_merchant, window: 1d}\n"
      "  - {name: card_n, kind: count, entity: card, window: 1d}\n";
  fixture fx;
  load(&fx, spec,
       "a,10,C1,M1,1,x,,,,,0\n"
       "b,20,C1,,1,x,,,,,0\n"
       "c,30,C1,M1,1,x,,,,,0\n");
  cr_assert_eq(feat(&fx, 0, "new_pair"), 1);
  ASSERT_NAN(feat(&fx, 1, "new_pair"));
  ASSERT_NAN(feat(&fx, 1, "pair_n"));
  cr_assert_eq(feat(&fx, 1, "card_n"), 1);
  cr_assert_eq(feat(&fx, 2, "new_pair"), 0);
  cr_assert_eq(feat(&fx, 2, "pair_n"), 1);
  cr_assert_eq(feat(&fx, 2, "card_n"), 2);
  /* Online the same. */
  fr_error err = {0};
  fr_state_options o;
  fr_state_options_default(&o);
  fr_state *st = fr_state_new_memory(fx.f, &o, &err);
  fr_field fields[16];
  float row[3];
  for (size_t i = 0; i < 3; i++) {
    fr_txn txn;
    fr_dataset_txn(fx.d, fx.t->source_row[i], fields, &txn);
    cr_assert_eq(fr_featurize(fx.f, &txn, st, row, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(row, fx.t->x + i * 3, sizeof row), 0);
  }
  cr_assert_eq(fr_state_size(st), 2); /* C1 and (C1, M1) */
  fr_state_free(st);
  unload(&fx);
}

/* An entity key longer than the hashing buffer (4096 bytes) is refused
 * with the entity named, and the transaction changes no state: the next
 * transaction of the card sees only the earlier one. */
Test(featurize, overlong_entity_key_is_refused_online) {
  const char *spec =
      "features:\n"
      "  - {name: pair_n, kind: count, entity: card_merchant, window: 1d}\n"
      "  - {name: card_n, kind: count, entity: card, window: 1d}\n";
  fixture fx;
  load(&fx, spec,
       "a,10,C1,M1,1,x,,,,,0\n"
       "b,20,C1,M1,1,x,,,,,0\n");
  fr_error err = {0};
  fr_state_options o;
  fr_state_options_default(&o);
  fr_state *st = fr_state_new_memory(fx.f, &o, &err);
  cr_assert_not_null(st, "%s", err.msg);
  fr_field fields[16];
  float row[2];
  fr_txn txn;
  fr_dataset_txn(fx.d, fx.t->source_row[0], fields, &txn);
  cr_assert_eq(fr_featurize(fx.f, &txn, st, row, 1, &err), 0, "%s", err.msg);
  static char longkey[5000];
  memset(longkey, 'M', sizeof longkey);
  fr_dataset_txn(fx.d, fx.t->source_row[1], fields, &txn);
  int mcol = fr_schema_find(fx.s, "merchant");
  fields[mcol].str = longkey;
  fields[mcol].len = sizeof longkey;
  cr_assert_eq(fr_featurize(fx.f, &txn, st, row, 1, &err), FR_EINVAL);
  cr_assert(strstr(err.msg, "card_merchant") && strstr(err.msg, "key longer than"), "%s",
            err.msg);
  cr_assert_eq(fr_state_size(st), 2); /* C1 and (C1, M1) from row a only */
  fr_dataset_txn(fx.d, fx.t->source_row[1], fields, &txn);
  cr_assert_eq(fr_featurize(fx.f, &txn, st, row, 1, &err), 0, "%s", err.msg);
  /* Counts of the earlier events in the window: a only, not the refused
   * transaction (which would make them 2). */
  cr_assert_eq(row[0], 1, "pair_n %g", (double)row[0]);
  cr_assert_eq(row[1], 1, "card_n %g", (double)row[1]);
  fr_state_free(st);
  unload(&fx);
}

Test(featurize, late_events_online) {
  /* Allowed lateness 100 s.  After an event at 1000: one at 950 is late but
   * within the lateness: inserted in order (a later query counts it); one
   * at 800 is too late: scored with the current state, not inserted. */
  fixture fx;
  load(&fx, window_spec,
       "a,1000,C1,M1,10,x,,,,,0\n"
       "b,950,C1,M1,20,x,,,,,0\n"
       "c,800,C1,M1,40,x,,,,,0\n"
       "d,1100,C1,M1,5,x,,,,,0\n");
  fr_error err = {0};
  fr_state_options o;
  fr_state_options_default(&o);
  o.allowed_lateness = 100;
  fr_state *st = fr_state_new_memory(fx.f, &o, &err);
  cr_assert_not_null(st);
  fr_field fields[16];
  float row[4];
  unsigned flags[4];
  for (size_t r = 0; r < 4; r++) { /* file order = arrival order */
    fr_txn txn;
    fr_dataset_txn(fx.d, r, fields, &txn);
    cr_assert_eq(fr_featurize_ex(fx.f, &txn, st, row, 1, &flags[r], &err), 0, "%s",
                 err.msg);
    if (r == 1) {
      cr_assert_eq(row[0], 0); /* nothing before 950 */
      ASSERT_NAN(row[3]); /* nothing before 950 */
    }
    if (r == 2) {
      cr_assert_eq(row[0], 0); /* scored with what is before 800: nothing */
      ASSERT_NAN(row[3]);
    }
    if (r == 3) {
      cr_assert_eq(row[0], 2);  /* 950 and 1000 in [-2500, 1100), not 800 */
      cr_assert_eq(row[1], 30);
      cr_assert_eq(row[2], 2);
      cr_assert_eq(row[3], 100); /* since 1000 */
    }
  }
  cr_assert_eq(flags[0], 0);
  cr_assert_eq(flags[1], 0);
  cr_assert_eq(flags[2], FR_FEATURIZE_LATE);
  fr_state_stats stats;
  fr_state_get_stats(st, &stats);
  cr_assert_eq(stats.late_inserted, 1);
  cr_assert_eq(stats.late_dropped, 1);
  cr_assert_str_eq(stats.backend, "memory");
  fr_state_free(st);
  unload(&fx);
}

Test(featurize, replayed_transactions_are_not_counted_twice) {
  /* Hand-computed.  "a" at 1000 and "b" at 1000 (same card, same time,
   * different ids: two purchases).  "a" sent again at 1000 (a retry) is a
   * replay: scored like the first "a", flagged, not inserted.  "a" again at
   * 1200 is another event time: a new event.  At 1500 the hour holds a, b
   * and a@1200: 3 events, 10 + 20 + 10. */
  const char *rows = "a,1000,C1,M1,10,x,,,,,0\n"
                     "b,1000,C1,M1,20,x,,,,,0\n"
                     "a,1000,C1,M1,10,x,,,,,0\n"
                     "a,1200,C1,M1,10,x,,,,,0\n"
                     "e,1500,C1,M1,1,x,,,,,0\n";
  fixture fx;
  load(&fx, window_spec, rows);
  fr_error err = {0};
  fr_state_options o;
  fr_state_options_default(&o);
  o.allowed_lateness = 1000; /* the second pass below is within it */
  fr_state *st = fr_state_new_memory(fx.f, &o, &err);
  cr_assert_not_null(st, "%s", err.msg);
  fr_field fields[16];
  float row[4];
  unsigned flags[5];
  for (size_t r = 0; r < 5; r++) {
    fr_txn txn;
    fr_dataset_txn(fx.d, r, fields, &txn);
    cr_assert_eq(fr_featurize_ex(fx.f, &txn, st, row, 1, &flags[r], &err), 0, "%s",
                 err.msg);
    /* Offline (the same file replayed in time order) gives the same
     * features for every row, the repeated one included. */
    for (size_t j = 0; j < 4; j++)
      cr_assert(row[j] == feat(&fx, r, fx.t->names[j]) ||
                    (isnan(row[j]) && isnan(feat(&fx, r, fx.t->names[j]))),
                "row %zu feature %s: online %g offline %g", r, fx.t->names[j],
                (double)row[j], (double)feat(&fx, r, fx.t->names[j]));
    if (r == 4) {
      cr_assert_eq(row[0], 3);
      cr_assert_eq(row[1], 40);
      cr_assert_eq(row[3], 300); /* since 1200 */
    }
  }
  cr_assert_eq(flags[0], 0);
  cr_assert_eq(flags[1], 0);
  cr_assert_eq(flags[2], FR_FEATURIZE_DUPLICATE);
  cr_assert_eq(flags[3], 0);
  fr_state_stats stats;
  fr_state_get_stats(st, &stats);
  cr_assert_eq(stats.duplicates, 1);
  /* Sending the whole stream again (within the lateness, so each would be
   * inserted in order) changes nothing: every one is a replay. */
  size_t before = stats.bytes;
  for (size_t r = 0; r < 5; r++) {
    fr_txn txn;
    fr_dataset_txn(fx.d, r, fields, &txn);
    cr_assert_eq(fr_featurize_ex(fx.f, &txn, st, row, 1, &flags[r], &err), 0, "%s",
                 err.msg);
  }
  for (size_t r = 0; r < 5; r++)
    cr_assert_eq(flags[r], FR_FEATURIZE_DUPLICATE, "row %zu: flags %u", r, flags[r]);
  fr_state_get_stats(st, &stats);
  cr_assert_eq(stats.bytes, before);
  cr_assert_eq(stats.duplicates, 6);
  cr_assert_eq(stats.late_inserted, 0);
  fr_state_free(st);
  unload(&fx);
}

Test(featurize, any_file_order_gives_the_same_features) {
  /* Shuffling the whole file changes no transaction's features (rows are
   * processed by event time; equal times never see each other). */
  const char *spec =
      "features:\n"
      "  - {name: n1h, kind: count, entity: card, window: 1h}\n"
      "  - {name: s1h, kind: sum, entity: card, column: amt, window: 1h}\n"
      "  - {name: sd1h, kind: std, entity: card, column: amt, window: 1h}\n"
      "  - {name: d1h, kind: distinct_count, entity: card, column: merchant, window: 1h}\n"
      "  - {name: since, kind: time_since_prev, entity: card}\n"
      "  - {name: new, kind: first_seen, entity: card_merchant}\n"
      "  - {name: mn, kind: count, entity: merchant, window: 10m}\n";
  enum { N = 400 };
  static char lines[N][80];
  uint64_t seed = 99;
  for (int i = 0; i < N; i++) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned r = (unsigned)(seed >> 33);
    snprintf(lines[i], sizeof lines[i], "t%d,%u,C%u,M%u,%u,x,,,,,0\n", i,
             100000 + (r % 200) * 60, r % 5, (r >> 8) % 4, (r >> 12) % 100);
  }
  static char a[N * 80], b[N * 80];
  size_t oa = 0, ob = 0;
  int perm[N];
  for (int i = 0; i < N; i++)
    perm[i] = i;
  for (int i = N - 1; i > 0; i--) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    int j = (int)((seed >> 33) % (unsigned)(i + 1));
    int tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  for (int i = 0; i < N; i++) {
    oa += (size_t)snprintf(a + oa, sizeof a - oa, "%s", lines[i]);
    ob += (size_t)snprintf(b + ob, sizeof b - ob, "%s", lines[perm[i]]);
  }
  fixture x, y;
  load(&x, spec, a);
  load(&y, spec, b);
  size_t cols = x.t->cols;
  for (int i = 0; i < N; i++) {
    /* Row i of a is row inv(i) of b. */
    size_t rb = 0;
    while (perm[rb] != i)
      rb++;
    size_t ia = 0, ib = 0;
    while (x.t->source_row[ia] != (size_t)i)
      ia++;
    while (y.t->source_row[ib] != rb)
      ib++;
    cr_assert_eq(memcmp(x.t->x + ia * cols, y.t->x + ib * cols, cols * sizeof(float)), 0,
                 "transaction t%d differs between file orders", i);
  }
  unload(&x);
  unload(&y);
}

Test(featurize, more_stateless_kinds) {
  const char *spec =
      "features:\n"
      "  - {name: r, kind: ratio, numerator: amt, denominator: lat}\n"
      "  - {name: hcos, kind: hour_cos}\n"
      "  - {name: dsin, kind: dow_sin}\n"
      "  - {name: dcos, kind: dow_cos}\n"
      "  - {name: hoff, kind: hour_of_day, offset_column: lon}\n"
      "  - {name: num, kind: numeric, column: amt}\n";
  fixture fx;
  /* 1546300818 = Tuesday 2019-01-01T00:00:18Z: 1 day + 18 s into the week
   * (Monday 00:00 = 0).  lon holds an offset in minutes here: -90 -> 22:30
   * the previous day. */
  load(&fx, spec,
       "a,1546300818,C1,M,10,x,4,-90,,,0\n"
       "b,1546300818,C1,M,10,x,0,,,,0\n");
  cr_assert_float_eq(feat(&fx, 0, "r"), 2.5f, 1e-6);
  ASSERT_NAN(feat(&fx, 1, "r")); /* denominator 0 */
  cr_assert_float_eq(feat(&fx, 0, "hcos"), (float)cos(2 * M_PI * 18 / 86400.0), 1e-6);
  double wk = (86400.0 + 18) / 604800.0;
  cr_assert_float_eq(feat(&fx, 0, "dsin"), (float)sin(2 * M_PI * wk), 1e-6);
  cr_assert_float_eq(feat(&fx, 0, "dcos"), (float)cos(2 * M_PI * wk), 1e-6);
  cr_assert_eq(feat(&fx, 0, "hoff"), 22);
  ASSERT_NAN(feat(&fx, 1, "hoff")); /* no offset */
  cr_assert_eq(feat(&fx, 0, "num"), 10);
  unload(&fx);
}

Test(featurize, missing_event_time_names_the_data_line) {
  fr_error err = {0};
  fr_schema *s = fr_schema_load_string(schema_yaml, strlen(schema_yaml), "toy.yaml", &err);
  cr_assert_not_null(s);
  const char *path = fr_test_write(fr_test_tmpdir(), "bad.csv",
                                   "id,ts,card,merchant,amt,cat,lat,lon,mlat,mlon,label\n"
                                   "a,1000,C1,M1,10,x,,,,,0\n"
                                   "b,,C1,M1,10,x,,,,,0\n");
  fr_dataset *d = fr_dataset_read_csv(s, path, NULL, &err);
  cr_assert_null(d);
  cr_assert(strstr(err.msg, "bad.csv:3:") != NULL, "%s", err.msg);
  cr_assert(strstr(err.msg, "missing event time") != NULL, "%s", err.msg);
  path = fr_test_write(fr_test_tmpdir(), "bad2.csv",
                       "id,ts,card,merchant,amt,cat,lat,lon,mlat,mlon,label\n"
                       "a,yesterday,C1,M1,10,x,,,,,0\n");
  d = fr_dataset_read_csv(s, path, NULL, &err);
  cr_assert_null(d);
  cr_assert(strstr(err.msg, "bad2.csv:2:") != NULL, "%s", err.msg);
  fr_schema_free(s);
}

/* Features of every row computed online, one transaction at a time against
 * a fresh memory store, must equal the offline table bit for bit. */
static void assert_online_equals_offline(const fixture *fx) {
  fr_error err = {0};
  fr_state_options o;
  fr_state_options_default(&o);
  fr_state *st = fr_state_new_memory(fx->f, &o, &err);
  cr_assert_not_null(st, "%s", err.msg);
  fr_field fields[16];
  float row[16];
  size_t cols = fx->t->cols;
  cr_assert_leq(cols, 16);
  for (size_t i = 0; i < fx->t->rows; i++) {
    fr_txn txn;
    fr_dataset_txn(fx->d, fx->t->source_row[i], fields, &txn);
    cr_assert_eq(fr_featurize(fx->f, &txn, st, row, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(row, fx->t->x + i * cols, cols * sizeof(float)), 0,
                 "row %zu: online features differ from offline", i);
  }
  fr_state_free(st);
}

Test(featurize, first_seen_only_entity) {
  /* An entity whose only features are first_seen (the offline replay keeps
   * just its earliest time): a missing key, equal event times of one pair
   * (neither sees the other), a replayed transaction, two features. */
  const char *spec =
      "features:\n"
      "  - {name: new_pair, kind: first_seen, entity: card_merchant}\n"
      "  - {name: new_pair2, kind: first_seen, entity: card_merchant}\n";
  fixture fx;
  load(&fx, spec,
       "a,10,C1,M1,1,x,,,,,0\n"
       "b,20,C1,,1,x,,,,,0\n"
       "c,20,C1,M1,1,x,,,,,0\n"
       "d,30,C2,M1,1,x,,,,,0\n"
       "e,30,C2,M1,1,x,,,,,0\n"
       "e,30,C2,M1,1,x,,,,,0\n"
       "g,40,C2,M1,1,x,,,,,0\n");
  const float want[7] = {1, NAN, 0, 1, 1, 1, 0};
  for (size_t r = 0; r < 7; r++) {
    if (isnan(want[r])) {
      ASSERT_NAN(feat(&fx, r, "new_pair"));
      ASSERT_NAN(feat(&fx, r, "new_pair2"));
    } else {
      cr_assert_eq(feat(&fx, r, "new_pair"), want[r], "row %zu", r);
      cr_assert_eq(feat(&fx, r, "new_pair2"), want[r], "row %zu", r);
    }
  }
  assert_online_equals_offline(&fx);
  unload(&fx);
}

Test(featurize, distinct_count_over_long_windows) {
  /* 20 events of one card a minute apart (the 6th without a merchant), then
   * one three hours later.  m24 shares its window with the 24h count (its
   * start comes from there), m2h has a window of its own; more than 16
   * events in a window take the sorting path. */
  const char *spec =
      "features:\n"
      "  - {name: n24, kind: count, entity: card, window: 24h}\n"
      "  - {name: m24, kind: distinct_count, entity: card, column: merchant, window: 24h}\n"
      "  - {name: m2h, kind: distinct_count, entity: card, column: merchant, window: 2h}\n";
  static char rows[4096];
  size_t o = 0;
  for (int i = 0; i < 20; i++) {
    char m[8] = "";
    if (i != 5)
      snprintf(m, sizeof m, "M%d", i % 7);
    o += (size_t)snprintf(rows + o, sizeof rows - o, "t%d,%d,C1,%s,1,x,,,,,0\n",
                          i, i * 60, m);
  }
  snprintf(rows + o, sizeof rows - o, "t20,11940,C1,M1,1,x,,,,,0\n");
  fixture fx;
  load(&fx, spec, rows);
  /* row 10: events 0..9, merchants 0,1,2,3,4,-,6,0,1,2 */
  cr_assert_eq(feat(&fx, 10, "n24"), 10);
  cr_assert_eq(feat(&fx, 10, "m24"), 6);
  cr_assert_eq(feat(&fx, 10, "m2h"), 6);
  /* row 19: events 0..18, every merchant M0..M6 */
  cr_assert_eq(feat(&fx, 19, "n24"), 19);
  cr_assert_eq(feat(&fx, 19, "m24"), 7);
  cr_assert_eq(feat(&fx, 19, "m2h"), 7);
  /* row 20: all 20 events within 24h, none within 2h */
  cr_assert_eq(feat(&fx, 20, "n24"), 20);
  cr_assert_eq(feat(&fx, 20, "m24"), 7);
  cr_assert_eq(feat(&fx, 20, "m2h"), 0);
  assert_online_equals_offline(&fx);
  unload(&fx);
}

/* Newcomer review: the label as a feature input is target leakage (the
 * label of a new transaction is unknown when it is scored), and the feature
 * names 'label' and 'transaction_id' collide with the columns `fraud
 * features` writes around the features.  Positions counted by hand: in
 * "  - {name: leak, kind: numeric, column: label}" the value 'label' starts
 * at column 41, and in "  - {name: label, ..." the name at column 12. */
Test(featurize, spec_refuses_label_input_and_reserved_names) {
  expect_spec_error("features:\n  - {name: leak, kind: numeric, column: label}\n",
                    "bad.yaml:2:41: column 'label' is the schema's label");
  expect_spec_error("features:\n  - {name: a, kind: numeric, column: amt}\n"
                    "  - {name: r, kind: ratio, numerator: amt, denominator: label}\n",
                    "bad.yaml:3:57: column 'label' is the schema's label");
  expect_spec_error("features:\n  - {name: label, kind: numeric, column: amt}\n",
                    "bad.yaml:2:12: feature name 'label' is reserved");
  expect_spec_error("features:\n  - {name: transaction_id, kind: numeric, column: amt}\n",
                    "bad.yaml:2:12: feature name 'transaction_id' is reserved");
}
