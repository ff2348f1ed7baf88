/*
 * test_split.c - fr_split_by_time: hand-computed cuts, ties never separated,
 * the fixture table's split equal to generate.py's independent rewrite of the
 * rule, and refusals (bad fractions, unsorted rows, a slice without
 * positives).
 */
#include <criterion/criterion.h>

#include "fraud/train.h"
#include "train_fixture.h"

static fr_table *mk(const double *t, const float *y, size_t n) {
  fr_table *tb = fx_table_alloc(n, 1);
  memcpy(tb->event_time, t, n * sizeof *t);
  memcpy(tb->y, y, n * sizeof *y);
  return tb;
}

Test(split, hand_computed) {
  double t[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  float y[10] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  fr_table *tb = mk(t, y, 10);
  fr_split s;
  fr_error err = {0};
  cr_assert_eq(fr_split_by_time(tb, 0.2, 0.2, &s, &err), 0, "%s", err.msg);
  cr_expect_eq(s.train_end, 6);
  cr_expect_eq(s.valid_end, 8);
  cr_expect_eq(s.rows, 10);
  fx_table_free(tb);
}

/* times 1 1 2 2 2 3 3 4 4 4, valid .3, test .3: the test cut at row 7 falls
 * between 3 and 4 and stays; the validation cut at row 10-6 = 4 sits inside
 * the block of 2s (rows 2..4) and moves forward to 5. */
Test(split, ties_never_separated) {
  double t[10] = {1, 1, 2, 2, 2, 3, 3, 4, 4, 4};
  float y[10] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  fr_table *tb = mk(t, y, 10);
  fr_split s;
  fr_error err = {0};
  cr_assert_eq(fr_split_by_time(tb, 0.3, 0.3, &s, &err), 0, "%s", err.msg);
  cr_expect_eq(s.train_end, 5);
  cr_expect_eq(s.valid_end, 7);
  /* A test cut inside the last block (rows 7..9) would empty the test
   * slice: test 0.2 -> cut at 8 -> moves to 10. */
  cr_expect_eq(fr_split_by_time(tb, 0.3, 0.2, &s, &err), FR_EDATA);
  cr_expect(strstr(err.msg, "empty"), "%s", err.msg);
  fx_table_free(tb);
}

Test(split, matches_fixture_rule) {
  fr_table *t = fx_table_load();
  cr_assert(t, "table.csv missing");
  json_t *j = fx_json("train/trainer.json");
  cr_assert(j);
  fr_split s;
  fr_error err = {0};
  cr_assert_eq(fr_split_by_time(t, fx_num(json_object_get(j, "valid_fraction")),
                                fx_num(json_object_get(j, "test_fraction")),
                                &s, &err),
               0, "%s", err.msg);
  cr_expect_eq(s.train_end,
               (size_t)json_integer_value(json_object_get(j, "train_end")));
  cr_expect_eq(s.valid_end,
               (size_t)json_integer_value(json_object_get(j, "valid_end")));
  /* And no timestamp straddles a cut. */
  cr_expect_neq(t->event_time[s.train_end], t->event_time[s.train_end - 1]);
  cr_expect_neq(t->event_time[s.valid_end], t->event_time[s.valid_end - 1]);
  json_decref(j);
  fx_table_free(t);
}

Test(split, refusals) {
  double t[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  float y[10] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  fr_table *tb = mk(t, y, 10);
  fr_split s;
  fr_error err = {0};
  cr_expect_eq(fr_split_by_time(tb, 0, 0.2, &s, &err), FR_EINVAL);
  cr_expect_eq(fr_split_by_time(tb, 0.5, 0.5, &s, &err), FR_EINVAL);
  cr_expect_eq(fr_split_by_time(tb, 0.2, 1.2, &s, &err), FR_EINVAL);
  tb->event_time[4] = 100;
  cr_expect_eq(fr_split_by_time(tb, 0.2, 0.2, &s, &err), FR_EINVAL);
  cr_expect(strstr(err.msg, "event-time order"), "%s", err.msg);
  tb->event_time[4] = 5;
  for (int i = 0; i < 10; i++)
    tb->y[i] = 0;
  cr_expect_eq(fr_split_by_time(tb, 0.2, 0.2, &s, &err), FR_EDATA);
  cr_expect(strstr(err.msg, "PR-AUC is undefined"), "%s", err.msg);
  tb->rows = 0;
  cr_expect_eq(fr_split_by_time(tb, 0.2, 0.2, &s, &err), FR_EDATA);
  fx_table_free(tb);
}
