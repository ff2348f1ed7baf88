/* Tests src/data/csv.c (and the CSV side of dataset.c): every edge case a real
 * export produces, each with a hand-written fixture in
 * tests/fixtures/data/csv/, and the exact messages of bad rows. */
#include <locale.h>
#include <math.h>
#include <unistd.h>

#include "data_test.h"

/* Asserts the data set equals plain.csv's three rows exactly. */
static void assert_plain(const fr_dataset *d, const char *what) {
  const fr_schema *s = fr_dataset_schema(d);
  cr_assert_eq(fr_dataset_rows(d), 3, "%s", what);
  static const char *ids[] = {"r1", "r2", "r3"};
  static const char *cards[] = {"c1", "c2", "c1"};
  static const double amt[] = {1.5, 20, 0.25};
  static const int label[] = {0, 1, 0};
  int id = fr_schema_find(s, "id"), card = fr_schema_find(s, "card"),
      am = fr_schema_find(s, "amt");
  for (size_t r = 0; r < 3; r++) {
    size_t len;
    const char *v = fr_dataset_string(d, (size_t)id, r, &len);
    cr_assert_str_eq(v, ids[r], "%s row %zu", what, r);
    cr_assert_eq(len, 2);
    v = fr_dataset_string(d, (size_t)card, r, &len);
    cr_assert_str_eq(v, cards[r], "%s row %zu: no \\r may be left", what, r);
    cr_assert_eq(fr_dataset_number(d, (size_t)am, r), amt[r], "%s", what);
    cr_assert_eq(fr_dataset_label(d, r), label[r], "%s", what);
    cr_assert_eq(fr_dataset_event_time(d, r), 100.0 + (double)r, "%s", what);
    cr_assert_eq(fr_dataset_line(d, r), r + 2, "%s", what);
  }
}

static void read_and_compare(const char *name) {
  fr_schema *s = mini_schema();
  fr_dataset *d = mini_read(s, name, FR_BAD_ROW_FAIL);
  assert_plain(d, name);
  fr_dataset_free(d);
  fr_schema_free(s);
}

Test(csv, plain) { read_and_compare("plain.csv"); }
Test(csv, gzip_equals_plain) { read_and_compare("plain.csv.gz"); }
Test(csv, crlf_leaves_no_cr) { read_and_compare("crlf.csv"); }
Test(csv, utf8_bom) { read_and_compare("bom.csv"); }
Test(csv, last_line_without_newline) { read_and_compare("no_final_newline.csv"); }
Test(csv, quoted_headers_and_numbers) { read_and_compare("quoted.csv"); }

Test(csv, raw_records_quotes_escapes_newlines) {
  fr_error err = {0};
  fr_csv *c = fr_csv_open(fr_test_fixture("data/csv/embedded.csv"), &err);
  cr_assert_not_null(c, "%s", err.msg);
  char **f;
  size_t *lens, n;
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1);
  cr_assert_eq(n, 6);
  cr_assert_eq(fr_csv_line(c), 1);
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1);
  cr_assert_str_eq(f[0], "say \"hi\"");
  cr_assert_eq(lens[0], 8);
  cr_assert_str_eq(f[3], "c,d");
  cr_assert_eq(fr_csv_line(c), 2);
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1);
  cr_assert_str_eq(f[0], "two\nlines");
  cr_assert_eq(fr_csv_line(c), 3);
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1);
  cr_assert_str_eq(f[0], "three\r\nlines\nhere");
  cr_assert_eq(fr_csv_line(c), 5);
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1);
  cr_assert_str_eq(f[0], "last");
  cr_assert_eq(fr_csv_line(c), 8, "physical line after two multi-line records");
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 0);
  fr_csv_close(c);
}

Test(csv, blank_lines_are_skipped_but_counted) {
  fr_schema *s = mini_schema();
  fr_dataset *d = mini_read(s, "blank_lines.csv", FR_BAD_ROW_FAIL);
  cr_assert_eq(fr_dataset_rows(d), 3);
  cr_assert_eq(fr_dataset_line(d, 0), 2);
  cr_assert_eq(fr_dataset_line(d, 1), 4);
  cr_assert_eq(fr_dataset_line(d, 2), 7);
  fr_dataset_free(d);
  fr_schema_free(s);
}

Test(csv, empty_fields_are_missing_not_zero) {
  fr_schema *s = mini_schema();
  fr_dataset *d = mini_read(s, "empty_fields.csv", FR_BAD_ROW_FAIL);
  int amt = fr_schema_find(s, "amt"), card = fr_schema_find(s, "card"),
      cat = fr_schema_find(s, "cat");
  cr_assert(isnan(fr_dataset_number(d, (size_t)amt, 0)));
  cr_assert_null(fr_dataset_string(d, (size_t)card, 1, NULL));
  cr_assert_null(fr_dataset_string(d, (size_t)cat, 1, NULL));
  cr_assert_eq(fr_dataset_label(d, 1), -1, "an empty label is unknown");
  cr_assert_eq(fr_dataset_number(d, (size_t)amt, 2), 0.0);
  fr_field fields[6];
  fr_txn txn;
  fr_dataset_txn(d, 0, fields, &txn);
  cr_assert_eq(fields[amt].present, 0);
  cr_assert(isnan(fields[amt].num));
  cr_assert_eq(fields[card].present, 1);
  cr_assert_eq(fields[card].len, 2);
  cr_assert_eq(txn.line, 2);
  cr_assert_eq(txn.event_time, 100.0);
  fr_dataset_free(d);
  fr_schema_free(s);
}

Test(csv, scientific_notation) {
  fr_schema *s = mini_schema();
  fr_dataset *d = mini_read(s, "scientific.csv", FR_BAD_ROW_FAIL);
  int amt = fr_schema_find(s, "amt");
  cr_assert_eq(fr_dataset_number(d, (size_t)amt, 0), 1000.0);
  cr_assert_eq(fr_dataset_number(d, (size_t)amt, 1), 0.015);
  cr_assert_eq(fr_dataset_number(d, (size_t)amt, 2), -25.0);
  cr_assert_eq(fr_dataset_number(d, (size_t)amt, 3), 0.006);
  cr_assert_eq(fr_dataset_event_time(d, 0), 100.0);
  cr_assert_eq(fr_dataset_event_time(d, 1), 101.0);
  fr_dataset_free(d);
  fr_schema_free(s);
}

Test(csv, decimal_comma_locale) {
  cr_assert_not_null(setlocale(LC_ALL, "de_DE.UTF-8"),
                     "locale de_DE.UTF-8 missing (locales-all)");
  fr_schema *s = mini_schema();
  fr_dataset *d = mini_read(s, "plain.csv", FR_BAD_ROW_FAIL);
  assert_plain(d, "under de_DE");
  fr_dataset *e = mini_read(s, "scientific.csv", FR_BAD_ROW_FAIL);
  cr_assert_eq(fr_dataset_number(e, (size_t)fr_schema_find(s, "amt"), 1), 0.015);
  fr_dataset_free(e);
  fr_dataset_free(d);
  fr_schema_free(s);
  setlocale(LC_ALL, "C");
}

Test(csv, bad_number_exact_message) {
  fr_schema *s = mini_schema();
  fr_error err = mini_fail(s, "bad_number.csv");
  char want[512];
  snprintf(want, sizeof want, "%s:3:5: column 'amt': cannot parse 'abc' as a number",
           fr_test_fixture("data/csv/bad_number.csv"));
  cr_assert_str_eq(err.msg, want);
  cr_assert_eq(err.code, FR_EPARSE);
  fr_schema_free(s);
}

Test(csv, wrong_field_count_is_a_bad_row) {
  fr_schema *s = mini_schema();
  fr_error err = mini_fail(s, "wrong_fields.csv");
  char want[512];
  snprintf(want, sizeof want, "%s:3: row has 5 fields, the header has 6",
           fr_test_fixture("data/csv/wrong_fields.csv"));
  cr_assert_str_eq(err.msg, want);
  fr_schema_free(s);
}

Test(csv, bad_label_and_bad_time) {
  fr_schema *s = mini_schema();
  fr_error err = mini_fail(s, "bad_label.csv");
  cr_assert(strstr(err.msg, "bad_label.csv:3:6: column 'label': label must be 0 or 1, got '2'"),
            "%s", err.msg);
  err = mini_fail(s, "bad_time.csv");
  cr_assert(strstr(err.msg, "bad_time.csv:3:2: column 't': missing event time"), "%s",
            err.msg);
  fr_schema_free(s);
}

Test(csv, skip_bad_rows_counts_them) {
  fr_schema *s = mini_schema();
  fr_dataset *d = mini_read(s, "bad_time.csv", FR_BAD_ROW_SKIP);
  cr_assert_eq(fr_dataset_rows(d), 1);
  cr_assert_eq(fr_dataset_skipped(d), 2);
  fr_dataset_free(d);
  d = mini_read(s, "bad_number.csv", FR_BAD_ROW_SKIP);
  cr_assert_eq(fr_dataset_rows(d), 2);
  cr_assert_eq(fr_dataset_skipped(d), 1);
  cr_assert_eq(fr_dataset_line(d, 1), 4);
  fr_dataset_free(d);
  fr_schema_free(s);
}

/* A gzip stream that stops before its end is an error of the file, under
 * either row policy.  The byte counts are what Python's zlib decompresses
 * from the same files (tests/fixtures/data/csv/make_truncated_gz.py prints
 * them); gzip -t reports "unexpected end of file" for both. */
static void assert_truncated(const char *name, unsigned long long bytes) {
  fr_schema *s = mini_schema();
  char rel[256], want[512];
  snprintf(rel, sizeof rel, "data/csv/%s", name);
  snprintf(want, sizeof want,
           "%s: truncated gzip stream (unexpected end of file after %llu bytes of data)",
           fr_test_fixture(rel), bytes);
  for (int skip = 0; skip < 2; skip++) {
    fr_error err = {0};
    fr_read_options opt = {.on_bad_row = skip ? FR_BAD_ROW_SKIP : FR_BAD_ROW_FAIL};
    fr_dataset *d = fr_dataset_read_csv(s, fr_test_fixture(rel), &opt, &err);
    cr_assert_null(d, "%s (skip=%d) read as complete", name, skip);
    cr_assert_eq(err.code, FR_EFORMAT, "%s: %s", name, err.msg);
    cr_assert_str_eq(err.msg, want);
  }
  /* The raw reader: records before the cut, then the error, and again. */
  fr_error err = {0};
  fr_csv *c = fr_csv_open(fr_test_fixture(rel), &err);
  cr_assert_not_null(c, "%s", err.msg);
  char **f;
  size_t *lens, n;
  int rc;
  size_t records = 0;
  while ((rc = fr_csv_next(c, &f, &lens, &n, &err)) == 1)
    records++;
  cr_assert_eq(rc, FR_EFORMAT, "%s: %d after %zu records", name, rc, records);
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), FR_EFORMAT, "the error sticks");
  fr_csv_close(c);
  fr_schema_free(s);
}

Test(csv, truncated_gzip_sync_flushed_without_end) {
  assert_truncated("truncated_sync.csv.gz", 8634);
}

Test(csv, truncated_gzip_cut_mid_record) { assert_truncated("truncated_cut.csv.gz", 4931); }

/* An event time outside the hard range (common.h FR_TIME_MIN_SECONDS ..
 * FR_TIME_MAX_SECONDS) is a bad row naming file:line:column and the column;
 * line 3 holds 1e300, line 4 -99999999999 (year -1199). */
Test(csv, absurd_event_time_is_a_bad_row) {
  fr_schema *s = mini_schema();
  fr_error err = mini_fail(s, "absurd_time.csv");
  cr_assert(strstr(err.msg, "absurd_time.csv:3:2: column 't': event time '1e300' is outside "
                            "the supported range 1677-09-21T00:12:44Z .. 2262-04-11T23:47:16Z"),
            "%s", err.msg);
  fr_dataset *d = mini_read(s, "absurd_time.csv", FR_BAD_ROW_SKIP);
  cr_assert_eq(fr_dataset_rows(d), 2);
  cr_assert_eq(fr_dataset_skipped(d), 2);
  cr_assert_eq(fr_dataset_line(d, 1), 5);
  cr_assert_eq(fr_dataset_event_time(d, 1), 103.0);
  fr_dataset_free(d);
  fr_schema_free(s);
}

Test(csv, unterminated_quote) {
  fr_schema *s = mini_schema();
  fr_error err = mini_fail(s, "unterminated.csv");
  cr_assert_eq(err.code, FR_EPARSE);
  cr_assert(strstr(err.msg, "unterminated.csv:3: unterminated quoted field"), "%s",
            err.msg);
  fr_schema_free(s);
}

Test(csv, empty_and_header_only) {
  fr_schema *s = mini_schema();
  fr_error err = mini_fail(s, "empty.csv");
  cr_assert(strstr(err.msg, "empty.csv: empty file (no header line)"), "%s", err.msg);
  fr_dataset *d = mini_read(s, "header_only.csv", FR_BAD_ROW_FAIL);
  cr_assert_eq(fr_dataset_rows(d), 0);
  cr_assert_not_null(fr_dataset_time_order(d));
  fr_dataset_free(d);
  fr_schema_free(s);
}

Test(csv, missing_file) {
  fr_error err = {0};
  cr_assert_null(fr_csv_open("/nonexistent/x.csv", &err));
  cr_assert_eq(err.code, FR_EIO);
  cr_assert(strstr(err.msg, "/nonexistent/x.csv: cannot open"), "%s", err.msg);
}

Test(csv, header_order_extra_and_missing_columns) {
  fr_schema *s = mini_schema();
  fr_dataset *d = mini_read(s, "reordered.csv", FR_BAD_ROW_FAIL);
  cr_assert_eq(fr_dataset_number(d, (size_t)fr_schema_find(s, "amt"), 0), 1.5);
  cr_assert_str_eq(fr_dataset_string(d, (size_t)fr_schema_find(s, "card"), 0, NULL), "c1");
  fr_dataset_free(d);
  fr_error err = mini_fail(s, "extra_column.csv");
  cr_assert_eq(err.code, FR_ESCHEMA);
  cr_assert(strstr(err.msg, "extra_column.csv:1:7: column 'extra' is not in schema 'mini'"),
            "%s", err.msg);
  fr_read_options opt = {.allow_extra_columns = 1};
  d = fr_dataset_read_csv(s, fr_test_fixture("data/csv/extra_column.csv"), &opt, &err);
  cr_assert_not_null(d, "%s", err.msg);
  cr_assert_eq(fr_dataset_rows(d), 1);
  fr_dataset_free(d);
  err = mini_fail(s, "missing_column.csv");
  cr_assert(strstr(err.msg, "missing_column.csv:1: missing column 'amt' required by schema 'mini'"),
            "%s", err.msg);
  fr_schema_free(s);
}

Test(csv, big_file_crosses_chunks) {
  /* 300k rows (> several 256 KiB read chunks) with a quoted multi-line field
   * every 1000 rows: records cut by a chunk boundary must come out whole and
   * line numbers must stay exact. */
  const char *dir = fr_test_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/big.csv", dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f, "id,t,card,cat,amt,label\n");
  size_t line = 2;
  for (int i = 0; i < 300000; i++) {
    if (i % 1000 == 7) {
      fprintf(f, "\"x%d\n\",%d,card%d,a,%d.5,%d\n", i, i, i % 97, i, i % 2);
      line += 2;
    } else {
      fprintf(f, "x%d,%d,card%d,b,%d.5,%d\n", i, i, i % 97, i, i % 2);
      line += 1;
    }
  }
  fclose(f);
  fr_schema *s = mini_schema();
  fr_error err = {0};
  fr_dataset *d = fr_dataset_read_csv(s, path, NULL, &err);
  cr_assert_not_null(d, "%s", err.msg);
  cr_assert_eq(fr_dataset_rows(d), 300000);
  int amt = fr_schema_find(s, "amt");
  size_t expect_line = 2, bad = 0, first_bad = 0;
  for (size_t r = 0; r < 300000; r++) {
    if (fr_dataset_number(d, (size_t)amt, r) != (double)r + 0.5 ||
        fr_dataset_line(d, r) != expect_line) {
      if (!bad++)
        first_bad = r;
    }
    expect_line += r % 1000 == 7 ? 2 : 1;
  }
  cr_assert_eq(bad, 0, "%zu rows differ, first %zu", bad, first_bad);
  cr_assert_eq(expect_line, line);
  fr_dataset_free(d);
  fr_schema_free(s);
  remove(path);
  rmdir(dir);
}

/* Line breaks inside quoted fields at every offset of the reader's 8-byte
 * scan (csv.c, has_line_break): each record's physical line must follow. */
Test(csv, line_breaks_at_every_offset) {
  const char *dir = fr_test_tmpdir();
  cr_assert_not_null(dir);
  char text[8192] = "a,b\n";
  size_t o = strlen(text);
  for (int k = 0; k < 20; k++) {
    /* field: k letters, a break, 5 letters; CR LF for odd k, LF else */
    text[o++] = '"';
    for (int i = 0; i < k; i++)
      text[o++] = 'x';
    if (k % 2)
      text[o++] = '\r';
    text[o++] = '\n';
    memcpy(text + o, "yyyyy\",1\n", 9);
    o += 9;
  }
  strcpy(text + o, "\"lone\rcr in a long field\",2\nlast,3\n");
  const char *path = fr_test_write(dir, "breaks.csv", text);
  fr_error err = {0};
  fr_csv *c = fr_csv_open(path, &err);
  cr_assert_not_null(c, "%s", err.msg);
  char **f;
  size_t *lens, n;
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1);
  for (int k = 0; k < 20; k++) {
    cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1);
    cr_assert_eq(lens[0], (size_t)k + 6 + (k % 2));
    cr_assert_eq(fr_csv_line(c), (size_t)(2 + 2 * k), "record %d", k);
  }
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1);
  cr_assert_str_eq(f[0], "lone\rcr in a long field");
  cr_assert_eq(fr_csv_line(c), 42);
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1);
  cr_assert_str_eq(f[0], "last");
  cr_assert_eq(fr_csv_line(c), 44, "a lone CR in a quoted field is a line break");
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 0);
  fr_csv_close(c);
  remove(path);
  rmdir(dir);
}

/* Blanks are part of a cell's text wherever they fall relative to the
 * reader's blocks (csv.c, parse_blocks: blocks without a blank are parsed
 * with libcsv's default space test, the others keep every blank): rows of
 * random length, a few with leading, inner and trailing blanks and tabs in
 * unquoted and quoted cells, over several 16 KB blocks.  The truth is the
 * text the test wrote. */
Test(csv, blanks_kept_across_blocks) {
  enum { ROWS = 20000 };
  const char *dir = fr_test_tmpdir();
  cr_assert_not_null(dir);
  char path[512];
  snprintf(path, sizeof path, "%s/blanks.csv", dir);
  FILE *fp = fopen(path, "w");
  cr_assert_not_null(fp);
  static char cells[ROWS][2][40];
  uint64_t st = 99;
  fprintf(fp, "a,b\n");
  for (int r = 0; r < ROWS; r++) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    int len = 1 + (int)((st >> 40) % 30);
    int blank = (st >> 20) % 700 == 0;
    for (int k = 0; k < 2; k++) {
      char *t = cells[r][k];
      for (int i = 0; i < len; i++)
        t[i] = (char)('a' + (i + r + k) % 26);
      t[len] = '\0';
      if (blank) {
        t[0] = k ? '\t' : ' ';
        t[len / 2] = ' ';
        t[len - 1] = ' ';
      }
    }
    /* the second cell quoted every third row */
    fprintf(fp, r % 3 ? "%s,%s\n" : "%s,\"%s\"\n", cells[r][0], cells[r][1]);
  }
  fclose(fp);
  fr_error err = {0};
  fr_csv *c = fr_csv_open(path, &err);
  cr_assert_not_null(c, "%s", err.msg);
  char **f;
  size_t *lens, n;
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1);
  for (int r = 0; r < ROWS; r++) {
    cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 1, "row %d: %s", r, err.msg);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(f[0], cells[r][0], "row %d", r);
    cr_assert_str_eq(f[1], cells[r][1], "row %d", r);
    cr_assert_eq(fr_csv_line(c), (size_t)r + 2);
  }
  cr_assert_eq(fr_csv_next(c, &f, &lens, &n, &err), 0);
  fr_csv_close(c);
  remove(path);
  rmdir(dir);
}

/* Data row numbers count the skipped rows: bad_number.csv's rows are r1, r2
 * (bad amount), r3, so the kept rows are data rows 1 and 3; bad_time.csv
 * keeps only its first row; skips.csv skips 2, 3 and 5 of 7; a read without skips numbers rows 1..n. */
Test(csv, row_numbers_count_skipped_rows) {
  fr_schema *s = mini_schema();
  fr_dataset *d = mini_read(s, "bad_number.csv", FR_BAD_ROW_SKIP);
  cr_assert_eq(fr_dataset_rows(d), 2);
  cr_assert_eq(fr_dataset_row_number(d, 0), 1);
  cr_assert_eq(fr_dataset_row_number(d, 1), 3);
  fr_dataset_free(d);
  d = mini_read(s, "bad_time.csv", FR_BAD_ROW_SKIP);
  cr_assert_eq(fr_dataset_row_number(d, 0), 1);
  fr_dataset_free(d);
  /* skips.csv: rows 2, 3 and 5 have a bad amount; kept rows 1, 4, 6, 7. */
  d = mini_read(s, "skips.csv", FR_BAD_ROW_SKIP);
  cr_assert_eq(fr_dataset_rows(d), 4);
  static const size_t want[] = {1, 4, 6, 7};
  for (size_t r = 0; r < 4; r++)
    cr_assert_eq(fr_dataset_row_number(d, r), want[r], "row %zu: %zu", r,
                 fr_dataset_row_number(d, r));
  fr_dataset_free(d);
  d = mini_read(s, "plain.csv", FR_BAD_ROW_FAIL);
  for (size_t r = 0; r < fr_dataset_rows(d); r++)
    cr_assert_eq(fr_dataset_row_number(d, r), r + 1);
  fr_dataset_free(d);
  fr_schema_free(s);
}
