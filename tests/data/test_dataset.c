/* Tests src/data/dataset.c: every bundled sample read in full with its
 * shipped schema, checked against statistics that Python's csv module
 * computed independently (tests/fixtures/data/make_fixtures.py ->
 * expected_samples.txt / expected_slices.txt), and the stable time order. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "data/data_internal.h"
#include "data_test.h"

typedef struct expected {
  char path[256];
  size_t rows, frauds, entities;
  double amount_sum, tmin, tmax;
} expected;

static size_t load_expected(const char *file, expected *out, size_t max) {
  FILE *f = fopen(fr_test_fixture(file), "r");
  cr_assert_not_null(f, "%s", file);
  size_t n = 0;
  while (n < max && fscanf(f, "%255s %zu %zu %lf %lf %lf %zu", out[n].path, &out[n].rows,
                           &out[n].frauds, &out[n].amount_sum, &out[n].tmin,
                           &out[n].tmax, &out[n].entities) == 7)
    n++;
  fclose(f);
  return n;
}

static const char *schema_for(const char *path) {
  if (strstr(path, "ulb"))
    return "ulb";
  if (strstr(path, "paysim"))
    return "paysim";
  return "sparkov";
}

static void check_file(const expected *e) {
  fr_error err = {0};
  fr_schema *s = fr_schema_load(schema_for(e->path), &err);
  cr_assert_not_null(s, "%s", err.msg);
  fr_dataset *d = fr_dataset_read_csv(s, fr_test_source(e->path), NULL, &err);
  cr_assert_not_null(d, "%s", err.msg);
  size_t rows = fr_dataset_rows(d), frauds = 0;
  cr_assert_eq(rows, e->rows, "%s: rows %zu != %zu", e->path, rows, e->rows);
  int amt = fr_schema_role_column(s, FR_ROLE_AMOUNT);
  double sum = 0, tmin = INFINITY, tmax = -INFINITY;
  for (size_t r = 0; r < rows; r++) {
    frauds += fr_dataset_label(d, r) == 1;
    sum += fr_dataset_number(d, (size_t)amt, r);
    double t = fr_dataset_event_time(d, r);
    tmin = t < tmin ? t : tmin;
    tmax = t > tmax ? t : tmax;
  }
  cr_assert_eq(frauds, e->frauds, "%s: frauds %zu != %zu", e->path, frauds, e->frauds);
  /* Same values summed in the same order: equal to rounding noise only. */
  cr_assert(fabs(sum - e->amount_sum) <= 1e-9 * fabs(e->amount_sum), "%s: sum %.17g != %.17g",
            e->path, sum, e->amount_sum);
  cr_assert_eq(tmin, e->tmin, "%s", e->path);
  cr_assert_eq(tmax, e->tmax, "%s", e->path);
  if (fr_schema_nentities(s) > 0) {
    size_t n;
    const int *cols = fr_schema_entity_columns(s, 0, &n);
    /* Distinct values through the data set's own interning: count distinct
     * pointers (equal strings share one). */
    const char **seen = calloc(rows, sizeof *seen);
    size_t distinct = 0;
    for (size_t r = 0; r < rows; r++) {
      const char *v = fr_dataset_string(d, (size_t)cols[0], r, NULL);
      int dup = 0;
      for (size_t k = 0; k < distinct && !dup; k++)
        dup = seen[k] == v;
      if (!dup && distinct < 5000)
        seen[distinct++] = v;
      else if (!dup)
        distinct++;
      if (distinct >= 5000)
        break;
    }
    free(seen);
    if (e->entities < 5000)
      cr_assert_eq(distinct, e->entities, "%s: entities", e->path);
  }
  /* The time order is a permutation sorted by event time. */
  const size_t *o = fr_dataset_time_order(d);
  cr_assert_not_null(o);
  size_t unsorted = 0;
  for (size_t i = 1; i < rows; i++)
    unsorted += fr_dataset_event_time(d, o[i - 1]) > fr_dataset_event_time(d, o[i]) ||
                (fr_dataset_event_time(d, o[i - 1]) == fr_dataset_event_time(d, o[i]) &&
                 o[i - 1] > o[i]);
  cr_assert_eq(unsorted, 0, "%s", e->path);
  fr_dataset_free(d);
  fr_schema_free(s);
}

Test(dataset, bundled_samples_match_python) {
  expected e[8];
  size_t n = load_expected("data/expected_samples.txt", e, 8);
  cr_assert_eq(n, 4);
  for (size_t i = 0; i < n; i++)
    check_file(&e[i]);
  /* The PROVENANCE figures, stated independently. */
  cr_assert_eq(e[0].rows, 32843);
  cr_assert_eq(e[0].frauds, 355);
  cr_assert_eq(e[1].rows, 38694);
  cr_assert_eq(e[1].frauds, 1690);
  cr_assert_eq(e[2].rows, 13109);
  cr_assert_eq(e[2].frauds, 53);
  cr_assert_eq(e[3].rows, 5705);
  cr_assert_eq(e[3].frauds, 5218);
}

Test(dataset, fixture_slices_match_python) {
  expected e[8];
  size_t n = load_expected("data/expected_slices.txt", e, 8);
  cr_assert_eq(n, 3);
  for (size_t i = 0; i < n; i++)
    check_file(&e[i]);
}

Test(dataset, time_order_is_stable_with_equal_timestamps) {
  fr_schema *s = mini_schema();
  fr_dataset *d = mini_read(s, "equal_times.csv", FR_BAD_ROW_FAIL);
  /* t = 200,100,200,100,150,200 -> rows 1,3 (t=100), 4 (150), 0,2,5 (200) */
  static const size_t want[] = {1, 3, 4, 0, 2, 5};
  const size_t *o = fr_dataset_time_order(d);
  for (size_t i = 0; i < 6; i++)
    cr_assert_eq(o[i], want[i], "position %zu: %zu", i, o[i]);
  cr_assert_eq(fr_dataset_time_order(d), o, "computed once and cached");
  fr_dataset_free(d);
  fr_schema_free(s);
}

Test(dataset, time_order_of_a_large_shuffled_set) {
  /* 50k rows, times drawn from only 100 values: many ties across merges. */
  const char *dir = fr_test_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/shuffled.csv", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "id,t,card,cat,amt,label\n");
  unsigned x = 12345;
  for (int i = 0; i < 50000; i++) {
    x = x * 1103515245u + 12345u;
    fprintf(f, "r%d,%u,c,a,%d,0\n", i, (x >> 16) % 100, i);
  }
  fclose(f);
  fr_schema *s = mini_schema();
  fr_dataset *d = fr_dataset_read_csv(s, path, NULL, NULL);
  cr_assert_not_null(d);
  const size_t *o = fr_dataset_time_order(d);
  size_t bad = 0;
  for (size_t i = 1; i < 50000; i++) {
    double a = fr_dataset_event_time(d, o[i - 1]), b = fr_dataset_event_time(d, o[i]);
    bad += a > b || (a == b && o[i - 1] >= o[i]);
  }
  cr_assert_eq(bad, 0);
  fr_dataset_free(d);
  fr_schema_free(s);
  remove(path);
}

Test(dataset, interned_strings_and_txn_view) {
  fr_schema *s = mini_schema();
  fr_dataset *d = mini_read(s, "plain.csv", FR_BAD_ROW_FAIL);
  int card = fr_schema_find(s, "card");
  cr_assert_eq(fr_dataset_string(d, (size_t)card, 0, NULL),
               fr_dataset_string(d, (size_t)card, 2, NULL), "c1 is stored once");
  cr_assert_null(fr_dataset_string(d, (size_t)fr_schema_find(s, "amt"), 0, NULL));
  cr_assert(isnan(fr_dataset_number(d, (size_t)card, 0)));
  fr_field fields[6];
  fr_txn txn;
  fr_dataset_txn(d, 1, fields, &txn);
  cr_assert_eq(txn.nfields, 6);
  cr_assert_eq(txn.event_time, 101.0);
  cr_assert_eq(txn.line, 3);
  cr_assert_eq(fields[card].len, 2);
  cr_assert_eq(memcmp(fields[card].str, "c2", 2), 0);
  cr_assert_eq(fields[fr_schema_find(s, "amt")].num, 20.0);
  cr_assert_str_eq(fr_dataset_path(d), fr_test_fixture("data/csv/plain.csv"));
  cr_assert_eq(fr_dataset_schema(d), s);
  fr_dataset_free(d);
  fr_schema_free(s);
}

Test(dataset, max_rows) {
  fr_schema *s = mini_schema();
  fr_read_options opt = {.max_rows = 2};
  fr_dataset *d = fr_dataset_read_csv(s, fr_test_fixture("data/csv/plain.csv"), &opt, NULL);
  cr_assert_not_null(d);
  cr_assert_eq(fr_dataset_rows(d), 2);
  fr_dataset_free(d);
  fr_schema_free(s);
}

/* The interning index (dataset.c): texts that share their first 8 bytes,
 * differ only in length or in a trailing blank, long texts, pairs of texts
 * whose index slots collide (same hash tag, same probe start: only the
 * comparison of the whole text tells them apart), and enough distinct values
 * to grow the index many times.  The truth is the list the test wrote:
 * equal text <=> equal dictionary id, each distinct text stored once. */
typedef struct hkey {
  uint64_t key;
  uint32_t i;
} hkey;

static int cmp_hkey(const void *a, const void *b) {
  uint64_t x = ((const hkey *)a)->key, y = ((const hkey *)b)->key;
  return x < y ? -1 : x > y;
}

/* Finds pairs "merchant%08d" (16 bytes, same first 8) whose hashes agree
 * in the 16-bit tag and the low 20 bits (the probe start of any index of up
 * to 2^20 slots); returns how many pairs were written to out. */
static size_t colliding_pairs(char (*out)[48], size_t max_pairs) {
  enum { N = 1 << 20 };
  hkey *k = malloc(N * sizeof *k);
  cr_assert_not_null(k);
  char t[32];
  for (uint32_t i = 0; i < N; i++) {
    snprintf(t, sizeof t, "merchant%08u", i);
    uint64_t h = fr__text_hash(t, 16);
    k[i] = (hkey){((h >> 48) << 20) | (h & 0xfffff), i};
  }
  qsort(k, N, sizeof *k, cmp_hkey);
  size_t n = 0;
  for (size_t i = 1; i < N && n + 2 <= 2 * max_pairs; i++)
    if (k[i].key == k[i - 1].key) {
      snprintf(out[n++], 48, "merchant%08u", k[i - 1].i);
      snprintf(out[n++], 48, "merchant%08u", k[i].i);
      i++;
    }
  free(k);
  return n / 2;
}

Test(dataset, interning_distinct_texts) {
  enum { DISTINCT = 40000, ROWS = 120000, PAIRS = 8 };
  static char texts[DISTINCT + 2 * PAIRS][48];
  for (int i = 0; i < DISTINCT; i++) {
    switch (i % 6) {
    case 0: snprintf(texts[i], sizeof texts[i], "c%07d", i); break; /* 8 bytes */
    case 1: snprintf(texts[i], sizeof texts[i], "merchant_%d", i); break;
    case 2: snprintf(texts[i], sizeof texts[i], "fraud_Kub and Mann %d", i); break;
    case 3: snprintf(texts[i], sizeof texts[i], "c%07d ", i - 3); break; /* + blank */
    case 4: snprintf(texts[i], sizeof texts[i], "%d", i); break;
    default: snprintf(texts[i], sizeof texts[i], "c%07dX%030d", i - 5, i); break;
    }
  }
  size_t pairs = colliding_pairs(texts + DISTINCT, PAIRS);
  cr_assert_geq(pairs, 1, "no colliding pair found among 2^20 texts");
  int distinct = DISTINCT + 2 * (int)pairs;
  const char *dir = fr_test_tmpdir();
  cr_assert_not_null(dir);
  char path[512];
  snprintf(path, sizeof path, "%s/intern.csv", dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f, "id,t,card,cat,amt,label\n");
  uint64_t st = 12345;
  int *which = malloc(ROWS * sizeof *which);
  for (int r = 0; r < ROWS; r++) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    which[r] = r < distinct ? (int)((r * 7919L) % distinct) : (int)((st >> 33) % distinct);
    fprintf(f, "r%d,%d,\"%s\",a,1,0\n", r, r, texts[which[r]]);
  }
  fclose(f);
  fr_schema *s = mini_schema();
  fr_error err = {0};
  fr_dataset *d = fr_dataset_read_csv(s, path, NULL, &err);
  cr_assert_not_null(d, "%s", err.msg);
  cr_assert_eq(fr_dataset_rows(d), ROWS);
  size_t card = (size_t)fr_schema_find(s, "card"), nd;
  fr__dataset_dict(d, card, &nd);
  cr_assert_eq(nd, (size_t)distinct, "%zu distinct texts interned, %d written", nd, distinct);
  const uint32_t *ids = fr__dataset_string_ids(d, card);
  uint32_t *id_of = malloc((size_t)distinct * sizeof *id_of);
  for (int i = 0; i < distinct; i++)
    id_of[i] = UINT32_MAX;
  for (int r = 0; r < ROWS; r++) {
    size_t len;
    const char *v = fr_dataset_string(d, card, (size_t)r, &len);
    cr_assert(v && len == strlen(texts[which[r]]) && memcmp(v, texts[which[r]], len) == 0,
              "row %d: read '%s', wrote '%s'", r, v ? v : "(null)", texts[which[r]]);
    if (id_of[which[r]] == UINT32_MAX)
      id_of[which[r]] = ids[r];
    cr_assert_eq(ids[r], id_of[which[r]], "row %d: '%s' has two ids", r, texts[which[r]]);
  }
  free(id_of);
  free(which);
  fr_dataset_free(d);
  fr_schema_free(s);
  remove(path);
  rmdir(dir);
}

/* With label_optional (predict, explain, features --model) a label cell
 * that does not parse is a missing label, not a bad row; without it (train,
 * evaluate, validate) it fails the row, naming the column at its line.  Also
 * fr_dataset_first_skipped: the first skipped row's line and message. */
Test(dataset, unparseable_label_is_missing_when_label_optional) {
  const char *dir = fr_test_tmpdir();
  cr_assert_not_null(dir);
  char path[512];
  snprintf(path, sizeof path, "%s/badlabel.csv", dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  /* Lines 2..6: labels 0, 'abc', 7 (a label is 0 or 1), 1, 1; line 5
   * has a bad amount. */
  fprintf(f, "id,t,card,cat,amt,label\nr1,100,c1,a,1.5,0\nr2,101,c2,b,2,abc\n"
             "r3,102,c1,a,4,7\nr4,103,c2,b,x,1\nr5,104,c1,a,3,1\n");
  fclose(f);
  fr_schema *s = mini_schema();
  fr_error err = {0};
  fr_read_options opt = {.label_optional = 1, .on_bad_row = FR_BAD_ROW_SKIP};
  fr_dataset *d = fr_dataset_read_csv(s, path, &opt, &err);
  cr_assert_not_null(d, "%s", err.msg);
  /* Only r4 is skipped, for its amount. */
  cr_assert_eq(fr_dataset_rows(d), 4, "%zu rows", fr_dataset_rows(d));
  cr_assert_eq(fr_dataset_skipped(d), 1);
  cr_assert_eq(fr_dataset_label(d, 0), 0);
  cr_assert_eq(fr_dataset_label(d, 1), -1, "'abc' is a missing label");
  cr_assert_eq(fr_dataset_label(d, 2), -1, "7 is a missing label");
  cr_assert_eq(fr_dataset_label(d, 3), 1);
  cr_assert(isnan(fr_dataset_number(d, 5, 1)));
  size_t line = 0;
  const char *why = fr_dataset_first_skipped(d, &line);
  cr_assert_eq(line, 5);
  cr_assert(why && strstr(why, "badlabel.csv:5:5: column 'amt'"), "%s", why ? why : "(null)");
  fr_dataset_free(d);

  /* Without label_optional: 'abc' (line 3) fails the file. */
  fr_read_options strict = {0};
  cr_assert_null(fr_dataset_read_csv(s, path, &strict, &err));
  cr_assert(strstr(err.msg, "badlabel.csv:3:6: column 'label'"), "%s", err.msg);
  /* Skipping: lines 3 (label 'abc'), 4 (label 7) and 5 (amount 'x'). */
  strict.on_bad_row = FR_BAD_ROW_SKIP;
  d = fr_dataset_read_csv(s, path, &strict, &err);
  cr_assert_not_null(d, "%s", err.msg);
  cr_assert_eq(fr_dataset_rows(d), 2);
  cr_assert_eq(fr_dataset_skipped(d), 3, "%zu skipped", fr_dataset_skipped(d));
  why = fr_dataset_first_skipped(d, &line);
  cr_assert_eq(line, 3);
  cr_assert(why && strstr(why, "column 'label'"), "%s", why ? why : "(null)");
  fr_dataset_free(d);
  d = mini_read(s, "plain.csv", FR_BAD_ROW_SKIP);
  cr_assert_null(fr_dataset_first_skipped(d, &line));
  cr_assert_eq(line, 0);
  fr_dataset_free(d);
  fr_schema_free(s);
  remove(path);
  rmdir(dir);
}
