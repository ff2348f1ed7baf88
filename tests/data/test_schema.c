/* Tests src/data/schema.c: the shipped schemas, name lookup, every schema
 * error naming file:line, cell parsing and time formats. */
#include <math.h>
#include <stdlib.h>

#include "data_test.h"

static fr_schema *load_text(const char *yaml, fr_error *err) {
  return fr_schema_load_string(yaml, strlen(yaml), "t.yaml", err);
}

/* Asserts that `yaml` fails with FR_ESCHEMA and a message containing `want`. */
static void expect_error(const char *yaml, const char *want) {
  fr_error err = {0};
  fr_schema *s = load_text(yaml, &err);
  cr_assert_null(s, "should fail: %s", want);
  cr_assert(err.code == FR_ESCHEMA || err.code == FR_EPARSE, "code %d", err.code);
  cr_assert(strstr(err.msg, want) != NULL, "got '%s', want '%s'", err.msg, want);
}

Test(schema, shipped_schemas_load_by_name) {
  static const char *names[] = {"ulb", "paysim", "sparkov", "synthetic"};
  for (size_t i = 0; i < 4; i++) {
    fr_error err = {0};
    fr_schema *s = fr_schema_load(names[i], &err);
    cr_assert_not_null(s, "%s: %s", names[i], err.msg);
    cr_assert_str_eq(fr_schema_name(s), names[i]);
    cr_assert_geq(fr_schema_role_column(s, FR_ROLE_EVENT_TIME), 0);
    cr_assert_geq(fr_schema_role_column(s, FR_ROLE_LABEL), 0);
    cr_assert_geq(fr_schema_role_column(s, FR_ROLE_AMOUNT), 0);
    const char *spec = fr_schema_default_spec(s);
    char want[64];
    snprintf(want, sizeof want, "/%s.features.yaml", names[i]);
    cr_assert_not_null(spec);
    cr_assert(strstr(spec, want) != NULL, "%s", spec);
    size_t len;
    cr_assert_not_null(fr_schema_source(s, &len));
    cr_assert_gt(len, 100);
    fr_schema_free(s);
  }
}

Test(schema, ulb_roles_and_time) {
  fr_schema *s = fr_schema_load("ulb", NULL);
  cr_assert_not_null(s);
  cr_assert_eq(fr_schema_ncols(s), 31);
  cr_assert_eq(fr_schema_role_column(s, FR_ROLE_ID), -1);
  cr_assert_eq(fr_schema_nentities(s), 0);
  const fr_time_format *tf = fr_schema_time_format(s);
  cr_assert_eq(tf->kind, FR_TIME_OFFSET_SECONDS);
  cr_assert_eq(tf->origin, 1377993600.0); /* date -u -d 2013-09-01 +%s */
  const fr_column_info *v7 = fr_schema_column(s, (size_t)fr_schema_find(s, "V7"));
  cr_assert_eq(v7->role, FR_ROLE_NUMERIC);
  cr_assert_eq(v7->type, FR_COL_NUMBER);
  fr_schema_free(s);
}

Test(schema, sparkov_entities_points_and_ignore) {
  fr_schema *s = fr_schema_load("sparkov", NULL);
  cr_assert_not_null(s);
  int card = fr_schema_find_entity(s, "card");
  cr_assert_geq(card, 0);
  size_t n;
  const int *cols = fr_schema_entity_columns(s, (size_t)card, &n);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(fr_schema_column(s, (size_t)cols[0])->name, "cc_num");
  int cm = fr_schema_find_entity(s, "card_merchant");
  cols = fr_schema_entity_columns(s, (size_t)cm, &n);
  cr_assert_eq(n, 2);
  cr_assert_str_eq(fr_schema_column(s, (size_t)cols[1])->name, "merchant");
  const fr_column_info *et =
      fr_schema_column(s, (size_t)fr_schema_role_column(s, FR_ROLE_EVENT_TIME));
  cr_assert_str_eq(et->name, "unix_time");
  cr_assert_eq(fr_schema_column(s, (size_t)fr_schema_find(s, "trans_date_trans_time"))->role,
               FR_ROLE_IGNORE);
  const fr_column_info *lat = fr_schema_column(s, (size_t)fr_schema_find(s, "merch_lat"));
  cr_assert_str_eq(lat->point, "merchant");
  cr_assert(fr_schema_column(s, (size_t)fr_schema_find(s, "trans_num"))->checks.unique);
  fr_schema_free(s);
}

Test(schema, synthetic_time_format) {
  fr_schema *s = fr_schema_load("synthetic", NULL);
  cr_assert_not_null(s);
  const fr_time_format *tf = fr_schema_time_format(s);
  cr_assert_eq(tf->kind, FR_TIME_STRFTIME);
  int col = fr_schema_role_column(s, FR_ROLE_EVENT_TIME);
  fr_field f;
  cr_assert_eq(fr_schema_parse_cell(s, (size_t)col, "2024-02-29T12:00:01Z", 20, &f, NULL), 0);
  cr_assert_eq(f.num, 1709208001.0); /* date -u -d 2024-02-29T12:00:01Z +%s */
  cr_assert_eq(fr_schema_column(s, (size_t)fr_schema_find(s, "fraud_scenario"))->role,
               FR_ROLE_IGNORE);
  fr_schema_free(s);
}

Test(schema, lookup_env_dir_and_unknown_name) {
  const char *dir = fr_test_tmpdir();
  fr_test_write(dir, "mine.yaml", "name: mine\ncolumns:\n  - {name: a, role: numeric}\n");
  setenv("FRAUD_SCHEMA_DIR", dir, 1);
  fr_error err = {0};
  fr_schema *s = fr_schema_load("mine", &err);
  cr_assert_not_null(s, "%s", err.msg);
  fr_schema_free(s);
  unsetenv("FRAUD_SCHEMA_DIR");
  cr_assert_null(fr_schema_load("nosuch", &err));
  cr_assert_eq(err.code, FR_ENOTFOUND);
  cr_assert(strstr(err.msg, "unknown schema 'nosuch'"), "%s", err.msg);
  cr_assert(strstr(err.msg, "paysim, sparkov, synthetic, ulb"), "%s", err.msg);
}

Test(schema, missing_feature_spec_is_fine) {
  fr_error err = {0};
  fr_schema *s = load_text("name: x\nfeatures: nowhere.features.yaml\ncolumns:\n"
                           "  - {name: a, role: numeric}\n", &err);
  cr_assert_not_null(s, "%s", err.msg);
  cr_assert_str_eq(fr_schema_default_spec(s), "nowhere.features.yaml");
  fr_schema_free(s);
}

Test(schema, errors_name_file_and_line) {
  expect_error("name: x\ncolumns:\n  - {name: a, role: numeric}\n  - {name: b, role: bogus}\n",
               "t.yaml:4:");
  expect_error("name: x\ncolumns:\n  - {name: a, role: numeric}\n  - {name: b, role: bogus}\n",
               "unknown role 'bogus'");
  expect_error("name: x\ncolumns:\n  - {name: a, role: numeric}\n  - {name: a, role: amount}\n",
               "t.yaml:4:12: duplicate column 'a' (first declared on line 3)");
  expect_error("name: x\ncolumns:\n  - {name: t1, role: event_time}\n"
               "  - {name: t2, role: event_time}\n",
               "t.yaml:4:");
  expect_error("name: x\ncolumns:\n  - {name: t1, role: event_time}\n"
               "  - {name: t2, role: event_time}\n",
               "second event_time column 't2' (the first is 't1' on line 3)");
  expect_error("name: x\ncolumns:\n  - {name: a, role: id}\n  - {name: b, role: id}\n",
               "second id column 'b'");
  expect_error("name: x\ncolumns:\n  - {name: a, role: amount}\n  - {name: b, role: amount}\n",
               "second amount column 'b'");
  expect_error("name: x\ncolumns:\n  - {name: a, role: label}\n  - {name: b, role: label}\n",
               "second label column 'b'");
  expect_error("name: x\ncolumns:\n  - {name: a, role: numeric, colour: red}\n",
               "t.yaml:3: unknown key 'colour' in column");
  expect_error("name: x\nextra: 1\ncolumns:\n  - {name: a, role: numeric}\n",
               "t.yaml:2: unknown key 'extra' in schema");
  expect_error("name: x\ncolumns:\n  - {name: a, role: numeric, type: int}\n",
               "unknown type 'int'");
  expect_error("name: x\ncolumns:\n  - {name: t, role: event_time, format: weird}\n",
               "unknown time format 'weird'");
  expect_error("name: x\ncolumns:\n  - {name: t, role: event_time, format: offset_hours}\n",
               "needs an 'origin'");
  expect_error("name: x\ncolumns:\n  - {name: t, role: event_time, format: \"%Y %q\"}\n",
               "unsupported conversion '%q'");
  expect_error("name: x\ncolumns:\n  - {name: t, role: event_time, format: \"%Y-%m-%d\","
               " timezone: Mars/Olympus_Mons}\n",
               "t.yaml:3:63: timezone 'Mars/Olympus_Mons': not UTC, a fixed offset such as "
               "+05:30, or a known IANA zone");
  expect_error("name: x\ncolumns:\n  - {name: lat, role: latitude}\n", "needs a 'point'");
  expect_error("name: x\ncolumns:\n  - {name: lat, role: latitude, point: p}\n",
               "point 'p' needs exactly one latitude and one longitude");
  expect_error("name: x\ncolumns:\n  - {name: c, role: categorical, min: 1}\n",
               "'min' applies only to number columns");
  expect_error("name: x\ncolumns:\n  - {name: a, role: entity}\n"
               "composite_entities:\n  ab: [a, zz]\n",
               "t.yaml:5:11: composite entity 'ab': no column 'zz'");
  expect_error("name: x\ncolumns:\n  - {name: a, role: numeric}\nextra_columns: maybe\n",
               "extra_columns must be 'error' or 'ignore'");
  expect_error("name: x\ncolumns:\n  - {name: a, role: numeric}\nchecks: {rows: {minimum: 1}}\n",
               "unknown key 'minimum' in checks.rows");
  expect_error("columns:\n  - {name: a, role: numeric}\n", "missing 'name'");
  expect_error("name: x\ncolumns: []\n", "'columns' must be a non-empty list");
  expect_error("name: x\ncolumns:\n  - {name: a, role: label, type: string}\n",
               "a label is a number");
  expect_error("", "t.yaml: empty schema");
  expect_error("name: x\ncolumns: [\n", "t.yaml:");
}

Test(schema, error_from_file_names_path) {
  const char *dir = fr_test_tmpdir();
  const char *p = fr_test_write(dir, "bad.yaml",
                                "name: bad\ncolumns:\n  - {name: a, role: numeric}\n"
                                "  - {name: b, role: amout}\n");
  fr_error err = {0};
  cr_assert_null(fr_schema_load(p, &err));
  char want[512];
  snprintf(want, sizeof want, "%s:4:", p);
  cr_assert(strstr(err.msg, want) == err.msg, "%s", err.msg);
}

Test(schema, time_formats_and_offsets) {
  fr_error err = {0};
  fr_schema *s = load_text("name: x\ncolumns:\n"
                           "  - {name: t, role: event_time, format: \"%Y-%m-%d %H:%M:%S\","
                           " timezone: \"+05:30\"}\n", &err);
  cr_assert_not_null(s, "%s", err.msg);
  fr_field f;
  cr_assert_eq(fr_schema_parse_cell(s, 0, "2020-01-01 05:30:00", 19, &f, &err), 0);
  cr_assert_eq(f.num, 1577836800.0); /* 2020-01-01T00:00:00Z */
  cr_assert_eq(fr_schema_parse_cell(s, 0, "2020-13-01 05:30:00", 19, &f, &err), FR_EPARSE);
  cr_assert(strstr(err.msg, "column 't': cannot parse '2020-13-01 05:30:00' as an event time"),
            "%s", err.msg);
  fr_schema_free(s);
  s = load_text("name: x\ncolumns:\n  - {name: t, role: event_time, format: epoch_millis}\n",
                &err);
  cr_assert_not_null(s, "%s", err.msg);
  cr_assert_eq(fr_schema_parse_cell(s, 0, "1325376018250", 13, &f, &err), 0);
  cr_assert_eq(f.num, 1325376018.25);
  cr_assert_eq(fr_schema_column(s, 0)->type, FR_COL_NUMBER);
  fr_schema_free(s);
  s = load_text("name: x\ncolumns:\n  - {name: step, role: event_time, format: offset_hours,"
                " origin: \"2017-01-01T00:00:00Z\"}\n", &err);
  cr_assert_not_null(s, "%s", err.msg);
  cr_assert_eq(fr_schema_parse_cell(s, 0, "2", 1, &f, &err), 0);
  cr_assert_eq(f.num, 1483228800.0 + 7200.0);
  fr_schema_free(s);
}

Test(schema, parse_cell) {
  fr_schema *s = mini_schema();
  fr_field f;
  fr_error err = {0};
  int amt = fr_schema_find(s, "amt"), label = fr_schema_find(s, "label"),
      card = fr_schema_find(s, "card");
  cr_assert_eq(fr_schema_parse_cell(s, (size_t)amt, "149.62", 6, &f, &err), 0);
  cr_assert_eq(f.num, 149.62);
  cr_assert_eq(f.present, 1);
  cr_assert_null(f.str);
  cr_assert_eq(fr_schema_parse_cell(s, (size_t)amt, "", 0, &f, &err), 0);
  cr_assert_eq(f.present, 0);
  cr_assert(isnan(f.num));
  cr_assert_eq(fr_schema_parse_cell(s, (size_t)amt, "1,5", 3, &f, &err), FR_EPARSE);
  cr_assert_str_eq(err.msg, "column 'amt': cannot parse '1,5' as a number");
  cr_assert_eq(fr_schema_parse_cell(s, (size_t)label, "1.0", 3, &f, &err), 0);
  cr_assert_eq(f.num, 1.0);
  cr_assert_eq(fr_schema_parse_cell(s, (size_t)label, "yes", 3, &f, &err), FR_EPARSE);
  cr_assert_eq(fr_schema_parse_cell(s, (size_t)card, "c 1", 3, &f, &err), 0);
  cr_assert_eq(f.len, 3);
  cr_assert_eq(memcmp(f.str, "c 1", 3), 0);
  fr_schema_free(s);
}

/* Newcomer review: label_rate bounds outside [0, 1] were accepted; they
 * are rates.  Columns counted by hand in "checks: {label_rate: {min: -1"
 * (the value at 28) and "checks: {label_rate: {min: 0.5, max: 2}}" (38). */
Test(schema, label_rate_bounds_are_rates) {
  const char *head = "name: x\ncolumns:\n  - {name: a, role: amount}\n";
  char y[256];
  snprintf(y, sizeof y, "%schecks: {label_rate: {min: -1, max: 2}}\n", head);
  expect_error(y, "t.yaml:4:28: checks.label_rate: min is a rate, between 0 and 1");
  snprintf(y, sizeof y, "%schecks: {label_rate: {min: 0.5, max: 2}}\n", head);
  expect_error(y, "t.yaml:4:38: checks.label_rate: max is a rate, between 0 and 1");
  snprintf(y, sizeof y, "%schecks: {label_rate: {min: 0.5, max: 0.1}}\n", head);
  expect_error(y, "t.yaml:4:22: checks.label_rate: min is greater than max");
  fr_error err = {0};
  snprintf(y, sizeof y, "%schecks: {label_rate: {min: 0, max: 1}}\n", head);
  fr_schema *s = load_text(y, &err);
  cr_assert_not_null(s, "%s", err.msg);
  fr_schema_free(s);
}
