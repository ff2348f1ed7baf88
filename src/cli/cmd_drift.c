/*
 * cmd_drift.c - `fraud drift`: population stability index per column and
 * the label-rate shift between a reference and a current file
 * (src/data/drift.c).  Exit 1 when a column's PSI reaches 0.25.
 */
#include "cli.h"
#include "fraud/data.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: fraud drift --schema SCHEMA [--on-bad-row=fail|skip] [--json] REF CUR\n\n"
    "Compares CUR with REF (both .csv or .csv.gz, read with SCHEMA) column by\n"
    "column with the population stability index: numeric columns (amount,\n"
    "numeric, latitude, longitude) on the reference's deciles, categorical\n"
    "columns on category shares, missing values as their own bin; empty bins\n"
    "count as a share of 0.0001.  Also prints the label rates and their shift.\n"
    "PSI < 0.1 stable, 0.1-0.25 moderate, >= 0.25 significant.\n\n"
    "options:\n"
    "  --schema SCHEMA       schema name or path (required)\n"
    "  --on-bad-row=POLICY   fail (default) or skip unparseable rows\n"
    "  --json                print the report as one JSON object\n"
    "  -h, --help            show this help\n\n"
    "exit status: 0 no column reaches 0.25, 1 one does (or a file cannot be\n"
    "read), 2 usage error.\n";

int fr_cmd_drift(int argc, char **argv) {
  if (fr_cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return FR_EXIT_OK;
  }
  const char *schema = NULL, *files[2] = {NULL, NULL}, *policy = "fail";
  int json = 0, nfiles = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--schema") || !strcmp(a, "--on-bad-row")) {
      if (i + 1 >= argc)
        return fr_cli_usage_error("drift", "%s needs a value", a);
      *(a[2] == 's' ? &schema : &policy) = argv[++i];
    } else if (!strncmp(a, "--schema=", 9)) {
      schema = a + 9;
    } else if (!strncmp(a, "--on-bad-row=", 13)) {
      policy = a + 13;
    } else if (!strcmp(a, "--json")) {
      json = 1;
    } else if (a[0] == '-' && a[1]) {
      return fr_cli_usage_error("drift", "unknown option '%s'", a);
    } else if (nfiles == 2) {
      return fr_cli_usage_error("drift", "unexpected argument '%s'", a);
    } else {
      files[nfiles++] = a;
    }
  }
  if (!schema)
    return fr_cli_usage_error("drift", "--schema is required");
  if (nfiles != 2)
    return fr_cli_usage_error("drift", "expected two files, REF and CUR");
  fr_read_options opt = {0};
  if (!strcmp(policy, "skip"))
    opt.on_bad_row = FR_BAD_ROW_SKIP;
  else if (strcmp(policy, "fail") != 0)
    return fr_cli_usage_error("drift", "--on-bad-row must be fail or skip, not '%s'",
                              policy);
  fr_error err = {0};
  fr_schema *s = fr_schema_load(schema, &err);
  if (!s)
    return fr_cli_fail("drift", &err);
  fr_dataset *ref = fr_dataset_read_csv(s, files[0], &opt, &err);
  fr_dataset *cur = ref ? fr_dataset_read_csv(s, files[1], &opt, &err) : NULL;
  fr_drift *d = cur ? fr_drift_compute(ref, cur, &err) : NULL;
  int rc = FR_EXIT_FAIL;
  if (!d) {
    fr_cli_fail("drift", &err);
  } else {
    int w = json ? fr_drift_write_json(d, stdout) : fr_drift_write_text(d, stdout);
    if (w) {
      int e = fr_cli_stdout_errno();
      fr_error_set(&err, w, "standard output: cannot write the report: %s",
                   e ? strerror(e) : fr_strerror(w));
      fr_cli_fail("drift", &err);
    } else {
      rc = d->significant ? FR_EXIT_FAIL : FR_EXIT_OK;
    }
  }
  fr_drift_free(d);
  fr_dataset_free(cur);
  fr_dataset_free(ref);
  fr_schema_free(s);
  return rc;
}
