/*
 * data_test.h - helpers shared by the data module's tests: loading the
 * fixtures' mini schema and reading a fixture CSV with it.
 */
#ifndef DATA_TEST_H
#define DATA_TEST_H

#include <criterion/criterion.h>

#include "fr_test.h"
#include "fraud/data.h"

static inline fr_schema *mini_schema(void) {
  fr_error err = {0};
  fr_schema *s = fr_schema_load(fr_test_fixture("data/csv/mini.yaml"), &err);
  cr_assert_not_null(s, "%s", err.msg);
  return s;
}

/* Reads fixture data/csv/<name> with the mini schema; asserts success. */
static inline fr_dataset *mini_read(const fr_schema *s, const char *name,
                                    fr_bad_row policy) {
  char rel[256];
  snprintf(rel, sizeof rel, "data/csv/%s", name);
  fr_error err = {0};
  fr_read_options opt = {.on_bad_row = policy};
  fr_dataset *d = fr_dataset_read_csv(s, fr_test_fixture(rel), &opt, &err);
  cr_assert_not_null(d, "%s: %s", name, err.msg);
  return d;
}

/* Reads and expects failure; returns the error. */
static inline fr_error mini_fail(const fr_schema *s, const char *name) {
  char rel[256];
  snprintf(rel, sizeof rel, "data/csv/%s", name);
  fr_error err = {0};
  fr_dataset *d = fr_dataset_read_csv(s, fr_test_fixture(rel), NULL, &err);
  cr_assert_null(d, "%s should not read", name);
  return err;
}

#endif
