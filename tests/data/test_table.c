/* Tests src/data/table.c: allocation, names, and the CSV round trip (the
 * exact float32 bits must survive; NaN must stay missing, never 0). */
#include <math.h>

#include "data_test.h"

Test(table, new_free_names) {
  fr_table *t = fr_table_new(3, 2);
  cr_assert_not_null(t);
  cr_assert_eq(t->x[5], 0.0f);
  cr_assert_eq(fr_table_set_name(t, 1, "amount_log"), 0);
  cr_assert_str_eq(t->names[1], "amount_log");
  cr_assert_eq(fr_table_set_name(t, 2, "x"), FR_EINVAL);
  fr_table_free(t);
  fr_table_free(NULL);
}

Test(table, csv_round_trip_is_exact) {
  fr_table *t = fr_table_new(4, 3);
  fr_table_set_name(t, 0, "a");
  fr_table_set_name(t, 1, "b,with comma");
  fr_table_set_name(t, 2, "c");
  float vals[12] = {0.1f, 1e-30f, 3.4028235e38f, -0.0f, NAN, 123456.789f,
                    1.0f / 3.0f, 16777217.0f, 2.5f, -7.25e-5f, 0.0f, NAN};
  memcpy(t->x, vals, sizeof vals);
  t->y[0] = 0;
  t->y[1] = 1;
  t->y[2] = NAN;
  t->y[3] = 1;
  const char *dir = fr_test_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/t.csv", dir);
  fr_error err = {0};
  cr_assert_eq(fr_table_write_csv(t, path, NULL, NULL, &err), 0, "%s", err.msg);
  fr_table *r = fr_table_read_csv(path, &err);
  cr_assert_not_null(r, "%s", err.msg);
  cr_assert_eq(r->rows, 4);
  cr_assert_eq(r->cols, 3);
  cr_assert_str_eq(r->names[1], "b,with comma");
  for (size_t i = 0; i < 12; i++) {
    if (isnan(vals[i]))
      cr_assert(isnan(r->x[i]), "cell %zu must stay missing", i);
    else
      cr_assert_eq(memcmp(&r->x[i], &vals[i], sizeof(float)), 0, "cell %zu: %.9g != %.9g",
                   i, r->x[i], vals[i]);
  }
  cr_assert_eq(r->y[1], 1.0f);
  cr_assert(isnan(r->y[2]));
  cr_assert_eq(r->source_row[3], 3);
  fr_table_free(r);
  /* The text itself: header, shortest round-trip floats, empty for NaN. */
  size_t len;
  char *text = fr_file_read_all(path, &len, &err);
  cr_assert_not_null(text);
  cr_assert(strncmp(text, "a,\"b,with comma\",c,label\n0.1,1e-30,3.4028235e+38,0\n", 50) == 0,
            "%s", text);
  cr_assert(strstr(text, "\n-0,,123456.79,1\n") != NULL, "%s", text);
  free(text);
  /* With an id column. */
  const char *ids[] = {"t1", "t,2", "t3", "t4"};
  cr_assert_eq(fr_table_write_csv(t, path, "transaction_id", ids, &err), 0);
  text = fr_file_read_all(path, &len, &err);
  cr_assert(strncmp(text, "transaction_id,a,", 17) == 0, "%s", text);
  cr_assert(strstr(text, "\n\"t,2\",-0,") != NULL, "%s", text);
  free(text);
  fr_table_free(t);
  remove(path);
}

Test(table, read_errors) {
  const char *dir = fr_test_tmpdir();
  const char *p = fr_test_write(dir, "bad.csv", "a,label\n1,0\nx,1\n");
  fr_error err = {0};
  cr_assert_null(fr_table_read_csv(p, &err));
  char want[512];
  snprintf(want, sizeof want, "%s:3:1: column 'a': cannot parse 'x' as a number", p);
  cr_assert_str_eq(err.msg, want);
  p = fr_test_write(dir, "short.csv", "a,b\n1\n");
  cr_assert_null(fr_table_read_csv(p, &err));
  cr_assert(strstr(err.msg, "short.csv:2: row has 1 fields"), "%s", err.msg);
  p = fr_test_write(dir, "empty.csv", "");
  cr_assert_null(fr_table_read_csv(p, &err));
  cr_assert(strstr(err.msg, "empty file"), "%s", err.msg);
}
