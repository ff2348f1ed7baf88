/*
 * Tests src/serve/loadgen_csv.c: /v1/score bodies from a CSV sample.  The
 * expected bodies were made by Python's csv and json modules
 * (tests/fixtures/loadgen/make_csv_fixture.py) from a file with quoted
 * commas, doubled quotes, an embedded newline, non-ASCII text, a tab, an
 * empty cell, CRLF line ends, an unknown column and the label.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fr_test.h"
#include "fraud/data.h"
#include "fraud/loadgen.h"

static fr_schema *tiny_schema(void) {
  fr_error err = {0};
  fr_schema *s = fr_schema_load(fr_test_fixture("loadgen/tiny.yaml"), &err);
  cr_assert_not_null(s, "%s", err.msg);
  return s;
}

Test(csv_bodies, match_pythons_csv_and_json) {
  fr_schema *s = tiny_schema();
  fr_loadgen_bodies *b = fr_loadgen_bodies_new();
  fr_error err = {0};
  cr_assert_eq(fr_loadgen_bodies_add_csv(b, s, fr_test_fixture("loadgen/tiny.csv"), 0, &err),
               0, "%s", err.msg);
  FILE *f = fopen(fr_test_fixture("loadgen/tiny.expected.jsonl"), "r");
  cr_assert_not_null(f);
  char line[4096];
  size_t i = 0;
  while (fgets(line, sizeof line, f)) {
    cr_assert_lt(i, fr_loadgen_bodies_count(b), "fewer bodies than expected");
    size_t len;
    const char *body = fr_loadgen_bodies_get(b, i, &len);
    json_error_t jerr;
    json_t *got = json_loadb(body, len, 0, &jerr);
    json_t *want = json_loads(line, 0, &jerr);
    cr_assert_not_null(got, "body %zu is not JSON: %s", i, body);
    cr_assert_not_null(want);
    cr_assert(json_equal(got, want), "body %zu:\n got  %s\n want %s", i, body, line);
    /* Members in header order, as the file has them. */
    const char *order[] = {"\"id\"", "\"ts\"", "\"card\"", "\"amt\"", "\"merchant\""};
    const char *prev = body;
    for (size_t k = 0; k < 5; k++) {
      const char *at = strstr(body, order[k]);
      cr_assert(at && at >= prev, "body %zu: %s out of order", i, order[k]);
      prev = at;
    }
    cr_assert_null(strstr(body, "\"fraud\""), "the label is left out");
    cr_assert_null(strstr(body, "\"extra\""), "unknown columns are left out");
    json_decref(got);
    json_decref(want);
    i++;
  }
  fclose(f);
  cr_assert_eq(i, 4);
  cr_assert_eq(fr_loadgen_bodies_count(b), 4);
  fr_loadgen_bodies_free(b);
  fr_schema_free(s);
}

Test(csv_bodies, max_rows_and_errors_leave_the_set_unchanged) {
  fr_schema *s = tiny_schema();
  fr_loadgen_bodies *b = fr_loadgen_bodies_new();
  fr_error err = {0};
  cr_assert_eq(fr_loadgen_bodies_add_csv(b, s, fr_test_fixture("loadgen/tiny.csv"), 2, &err),
               0);
  cr_assert_eq(fr_loadgen_bodies_count(b), 2);

  const char *dir = fr_test_tmpdir();
  /* A row with a missing field, after a good one. */
  const char *short_row = fr_test_write(dir, "short.csv",
                                        "id,ts,card,amt,merchant,fraud\n"
                                        "a,1,c1,2.5,m,0\n"
                                        "b,2,c2,3.5,m\n");
  cr_assert_eq(fr_loadgen_bodies_add_csv(b, s, short_row, 0, &err), FR_EPARSE);
  cr_assert(strstr(err.msg, "short.csv:3") != NULL, "%s", err.msg);
  cr_assert_eq(fr_loadgen_bodies_count(b), 2, "the good row was taken back");

  /* The header lacks a required column. */
  const char *no_amt = fr_test_write(dir, "no_amt.csv", "id,ts,card,merchant\na,1,c,m\n");
  cr_assert_eq(fr_loadgen_bodies_add_csv(b, s, no_amt, 0, &err), FR_ESCHEMA);
  cr_assert(strstr(err.msg, "'amt'") != NULL, "%s", err.msg);

  /* No rows, no file, bad quoting. */
  const char *empty = fr_test_write(dir, "empty.csv", "id,ts,card,amt,merchant,fraud\n");
  cr_assert_eq(fr_loadgen_bodies_add_csv(b, s, empty, 0, &err), FR_EPARSE);
  cr_assert_eq(fr_loadgen_bodies_add_csv(b, s, "/nonexistent/t.csv", 0, &err), FR_EIO);
  const char *bad = fr_test_write(dir, "bad.csv",
                                  "id,ts,card,amt,merchant,fraud\na,1,c,2,\"unterminated\n");
  cr_assert_lt(fr_loadgen_bodies_add_csv(b, s, bad, 0, &err), 0);
  cr_assert_eq(fr_loadgen_bodies_count(b), 2);
  fr_loadgen_bodies_free(b);
  fr_schema_free(s);
}

Test(csv_bodies, real_sample_rows) {
  /* The bundled ULB sample: 31 columns, the label "Class" left out, so 30
   * members per body, values the file's text ("Time" of the first row is
   * "0"). */
  fr_error err = {0};
  fr_schema *s = fr_schema_load("ulb", &err);
  cr_assert_not_null(s, "%s", err.msg);
  fr_loadgen_bodies *b = fr_loadgen_bodies_new();
  cr_assert_eq(fr_loadgen_bodies_add_csv(b, s, fr_test_source("data/samples/ulb/creditcard.csv.gz"),
                                         100, &err),
               0, "%s", err.msg);
  cr_assert_eq(fr_loadgen_bodies_count(b), 100);
  size_t len;
  const char *body = fr_loadgen_bodies_get(b, 0, &len);
  json_t *o = json_loadb(body, len, 0, NULL);
  cr_assert_not_null(o);
  cr_assert_eq(json_object_size(o), 30);
  cr_assert_null(json_object_get(o, "Class"));
  cr_assert_str_eq(json_string_value(json_object_get(o, "Time")), "0");
  cr_assert_str_eq(json_string_value(json_object_get(o, "V1")), "-1.3598071336738");
  json_decref(o);
  fr_loadgen_bodies_free(b);
  fr_schema_free(s);
}

Test(feature_matrix, reads_fraud_features_output) {
  /* The shape `fraud features` writes: id first, label last, an empty cell
   * for a missing value, numbers in any notation. */
  const char *dir = fr_test_tmpdir();
  const char *p = fr_test_write(dir, "m.csv",
                                "transaction_id,a,b,label\n"
                                "t1,1.5,,0\n"
                                "\"t,2\",-2e-3,149.62,1\n");
  size_t rows = 0, cols = 0;
  fr_error err = {0};
  float *x = fr_loadgen_read_matrix(p, &rows, &cols, &err);
  cr_assert_not_null(x, "%s", err.msg);
  cr_assert_eq(rows, 2);
  cr_assert_eq(cols, 2);
  cr_assert_eq(x[0], 1.5f);
  cr_assert(isnan(x[1]));
  cr_assert_eq(x[2], -2e-3f);
  cr_assert_eq(x[3], 149.62f);
  free(x);

  const char *bad = fr_test_write(dir, "bad.csv", "a,b\n1,2\n3,x7\n");
  cr_assert_null(fr_loadgen_read_matrix(bad, &rows, &cols, &err));
  cr_assert_eq(err.code, FR_EPARSE);
  cr_assert(strstr(err.msg, "bad.csv:3:2") != NULL, "%s", err.msg);
  const char *narrow = fr_test_write(dir, "narrow.csv", "a,b\n1,2\n3\n");
  cr_assert_null(fr_loadgen_read_matrix(narrow, &rows, &cols, &err));
  cr_assert(strstr(err.msg, "narrow.csv:3") != NULL, "%s", err.msg);
  const char *only_ids = fr_test_write(dir, "ids.csv", "transaction_id,label\nt1,0\n");
  cr_assert_null(fr_loadgen_read_matrix(only_ids, &rows, &cols, &err));
  const char *no_rows = fr_test_write(dir, "none.csv", "a,b\n");
  cr_assert_null(fr_loadgen_read_matrix(no_rows, &rows, &cols, &err));
  cr_assert_eq(rows, 0);
}
