/* Tests src/data/validate.c on tests/fixtures/data/csv/checks.csv, whose
 * offences are hand-placed: line 3 has category 'zzz' (not allowed) and amount
 * -3 (below min 0); line 4 repeats id 'r1'; line 5 has amount 'x' (bad row). */
#include <math.h>

#include "data_test.h"

static const fr_check *find(const fr_validation *v, const char *name, const char *col) {
  for (size_t i = 0; i < fr_validation_count(v); i++) {
    const fr_check *c = fr_validation_check(v, i);
    if (strcmp(c->name, name) == 0 &&
        ((!col && !c->column) || (col && c->column && strcmp(col, c->column) == 0)))
      return c;
  }
  cr_assert_fail("no check %s/%s", name, col ? col : "-");
  return NULL;
}

Test(validate, hand_placed_offences) {
  fr_schema *s = mini_schema();
  fr_error err = {0};
  fr_validation *v = fr_validate_csv(s, fr_test_fixture("data/csv/checks.csv"),
                                     FR_BAD_ROW_FAIL, &err);
  cr_assert_not_null(v, "%s", err.msg);
  cr_assert_eq(fr_validation_passed(v), 0);
  cr_assert_eq(fr_validation_rows(v), 3);
  cr_assert_eq(fr_validation_bad_rows(v), 1);
  const fr_check *c = find(v, "parse", NULL);
  cr_assert_eq(c->passed, 0);
  cr_assert_eq(c->violations, 1);
  cr_assert_eq(c->example_lines[0], 5);
  c = find(v, "min", "amt");
  cr_assert_eq(c->passed, 0);
  cr_assert_eq(c->violations, 1);
  cr_assert_eq(c->example_lines[0], 3);
  cr_assert_eq(c->value, -3.0);
  c = find(v, "allowed", "cat");
  cr_assert_eq(c->passed, 0);
  cr_assert_eq(c->example_lines[0], 3);
  cr_assert(strstr(c->detail, "'zzz'"), "%s", c->detail);
  c = find(v, "unique", "id");
  cr_assert_eq(c->passed, 0);
  cr_assert_eq(c->violations, 1);
  cr_assert_eq(c->example_lines[0], 4, "the second occurrence offends");
  c = find(v, "rows", NULL);
  cr_assert_eq(c->passed, 1);
  c = find(v, "time_range", "t");
  cr_assert_eq(c->passed, 1);
  fr_validation_free(v);
  /* skip: the bad row no longer fails the parse check */
  v = fr_validate_csv(s, fr_test_fixture("data/csv/checks.csv"), FR_BAD_ROW_SKIP, &err);
  cr_assert_eq(find(v, "parse", NULL)->passed, 1);
  cr_assert_eq(fr_validation_passed(v), 0, "the other checks still fail");
  fr_validation_free(v);
  fr_schema_free(s);
}

Test(validate, clean_file_passes_and_reports) {
  fr_schema *s = mini_schema();
  fr_validation *v = fr_validate_csv(s, fr_test_fixture("data/csv/plain.csv"),
                                     FR_BAD_ROW_FAIL, NULL);
  cr_assert_not_null(v);
  cr_assert_eq(fr_validation_passed(v), 1);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_eq(fr_validation_write_text(v, f), 0);
  fclose(f);
  cr_assert(strstr(buf, "PASS  amt: min") != NULL, "%s", buf);
  cr_assert(strstr(buf, "result: PASS (0 of ") != NULL, "%s", buf);
  free(buf);
  f = open_memstream(&buf, &len);
  cr_assert_eq(fr_validation_write_json(v, f), 0);
  fclose(f);
  cr_assert(strstr(buf, "\"passed\": true") != NULL, "%s", buf);
  cr_assert(strstr(buf, "\"check\": \"unique\"") != NULL, "%s", buf);
  free(buf);
  fr_validation_free(v);
  fr_schema_free(s);
}

Test(validate, row_and_label_rate_bounds) {
  const char *dir = fr_test_tmpdir();
  const char *sp = fr_test_write(dir, "s.yaml",
                                 "name: s\ncolumns:\n  - {name: t, role: event_time,"
                                 " min: \"2020-01-01T00:00:00Z\"}\n"
                                 "  - {name: y, role: label}\n"
                                 "  - {name: c, role: categorical, max_null_rate: 0.25}\n"
                                 "checks: {rows: {min: 5}, label_rate: {max: 0.2}}\n");
  const char *dp = fr_test_write(dir, "d.csv", "t,y,c\n1577836800,1,a\n1577836801,0,\n"
                                               "1000,1,b\n");
  fr_error err = {0};
  fr_schema *s = fr_schema_load(sp, &err);
  cr_assert_not_null(s, "%s", err.msg);
  fr_validation *v = fr_validate_csv(s, dp, FR_BAD_ROW_FAIL, &err);
  cr_assert_not_null(v, "%s", err.msg);
  const fr_check *c = find(v, "rows", NULL);
  cr_assert_eq(c->passed, 0);
  cr_assert_eq(c->value, 3.0);
  c = find(v, "label_rate", NULL);
  cr_assert_eq(c->passed, 0);
  cr_assert(fabs(c->value - 2.0 / 3.0) < 1e-15);
  c = find(v, "time_range", "t");
  cr_assert_eq(c->passed, 0);
  cr_assert_eq(c->example_lines[0], 4);
  c = find(v, "null_rate", "c");
  cr_assert_eq(c->passed, 0);
  cr_assert(fabs(c->value - 1.0 / 3.0) < 1e-15);
  fr_validation_free(v);
  fr_schema_free(s);
}

Test(validate, unreadable_file_is_an_error) {
  fr_schema *s = mini_schema();
  fr_error err = {0};
  cr_assert_null(fr_validate_csv(s, fr_test_fixture("data/csv/missing_column.csv"),
                                 FR_BAD_ROW_FAIL, &err));
  cr_assert_eq(err.code, FR_ESCHEMA);
  fr_schema_free(s);
}
