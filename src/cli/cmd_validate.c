/*
 * cmd_validate.c - `fraud validate`: reads a data file with a schema and runs
 * the schema's data-quality checks (src/data/validate.c), printing a human
 * report or JSON.  Exit 0 when every check passes, 1 when one fails or the
 * file cannot be read, 2 on a usage error.
 */
#include "cli.h"
#include "fraud/data.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: fraud validate --schema SCHEMA [--on-bad-row=fail|skip] [--json] "
    "DATA\n\n"
    "Reads DATA (.csv or .csv.gz) with SCHEMA (a shipped name such as ulb,\n"
    "paysim, sparkov, synthetic, or the path of a schema .yaml) and runs the\n"
    "checks the schema declares: every row parses (types, labels 0/1, event\n"
    "times), row-count and label-rate bounds, numeric min/max, allowed\n"
    "categories, null rates, unique ids and plausible event times.  Prints one\n"
    "line per check with example line numbers of offending rows.\n\n"
    "options:\n"
    "  --schema SCHEMA       schema name or path (required)\n"
    "  --on-bad-row=POLICY   fail (default): any unparseable row fails the\n"
    "                        'parse' check; skip: such rows are reported and\n"
    "                        left out, the check passes\n"
    "  --json                print the report as one JSON object\n"
    "  -h, --help            show this help\n\n"
    "exit status: 0 all checks pass, 1 a check fails or DATA cannot be read,\n"
    "2 usage error.\n";

/* Matches "--name VALUE" or "--name=VALUE"; advances *i past the value. */
static int opt_value(int argc, char **argv, int *i, const char *name,
                     const char **out) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0)
    return 0;
  if (argv[*i][n] == '=') {
    *out = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n] != '\0')
    return 0;
  if (*i + 1 >= argc) {
    *out = NULL;
    return 1;
  }
  *out = argv[++*i];
  return 1;
}

int fr_cmd_validate(int argc, char **argv) {
  if (fr_cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return FR_EXIT_OK;
  }
  const char *schema = NULL, *data = NULL, *policy = "fail";
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (opt_value(argc, argv, &i, "--schema", &v)) {
      if (!v)
        return fr_cli_usage_error("validate", "--schema needs a value");
      schema = v;
    } else if (opt_value(argc, argv, &i, "--on-bad-row", &v)) {
      if (!v)
        return fr_cli_usage_error("validate", "--on-bad-row needs a value");
      policy = v;
    } else if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      return fr_cli_usage_error("validate", "unknown option '%s'", argv[i]);
    } else if (data) {
      return fr_cli_usage_error("validate", "unexpected argument '%s'", argv[i]);
    } else {
      data = argv[i];
    }
  }
  if (!schema)
    return fr_cli_usage_error("validate", "--schema is required");
  if (!data)
    return fr_cli_usage_error("validate", "no DATA file given");
  fr_bad_row on_bad;
  if (strcmp(policy, "fail") == 0)
    on_bad = FR_BAD_ROW_FAIL;
  else if (strcmp(policy, "skip") == 0)
    on_bad = FR_BAD_ROW_SKIP;
  else
    return fr_cli_usage_error("validate",
                              "--on-bad-row must be fail or skip, not '%s'",
                              policy);
  fr_error err = {0};
  fr_schema *s = fr_schema_load(schema, &err);
  if (!s)
    return fr_cli_fail("validate", &err);
  fr_validation *v = fr_validate_csv(s, data, on_bad, &err);
  if (!v) {
    fr_schema_free(s);
    return fr_cli_fail("validate", &err);
  }
  int rc = json ? fr_validation_write_json(v, stdout)
                : fr_validation_write_text(v, stdout);
  int passed = fr_validation_passed(v);
  fr_validation_free(v);
  fr_schema_free(s);
  if (rc) {
    int e = fr_cli_stdout_errno();
    fr_error_set(&err, rc, "standard output: cannot write the report: %s",
                 e ? strerror(e) : fr_strerror(rc));
    return fr_cli_fail("validate", &err);
  }
  return passed ? FR_EXIT_OK : FR_EXIT_FAIL;
}
