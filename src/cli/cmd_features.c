/*
 * cmd_features.c - `fraud features`: the feature matrix of a raw data file,
 * as CSV with a header of feature names.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fraud/features.h"
#include "fraud/model.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: fraud features --schema SCHEMA [--spec SPEC] DATA -o OUT.csv\n"
          "       fraud features --model DIR DATA -o OUT.csv\n\n"
          "Computes the feature matrix of DATA by replaying it in event-time order\n"
          "(ties in file order) through the featurizer with an empty state, and\n"
          "writes OUT.csv: a transaction_id column, then one column per feature\n"
          "(header = feature names), one line per input row in that replay order;\n"
          "an empty cell is a missing value.\n\n"
          "With --model the bundle's schema and fitted feature spec are used (the\n"
          "exact features the model sees), and DATA may lack the label column (its\n"
          "label cells are then empty).  Without it, categorical encoders are\n"
          "fitted on all rows of DATA, which then needs the label.\n\n"
          "options:\n"
          "  --schema SCHEMA        shipped schema name or path\n"
          "  --spec SPEC            feature spec YAML (default: the schema's)\n"
          "  --model DIR            take schema and spec from a model bundle\n"
          "  -o, --output OUT.csv   output file (written atomically); '-' for standard\n"
          "                         output\n"
          "  --on-bad-row fail|skip what to do with a malformed row (default fail)\n");
}

int fr_cmd_features(int argc, char **argv) {
  static const struct option opts[] = {{"schema", required_argument, 0, 's'},
                                       {"spec", required_argument, 0, 'S'},
                                       {"model", required_argument, 0, 'm'},
                                       {"output", required_argument, 0, 'o'},
                                       {"on-bad-row", required_argument, 0, 'b'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *schema_arg = NULL, *spec = NULL, *model = NULL, *out = NULL;
  fr_read_options ro = {0};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
    switch (c) {
    case 's': schema_arg = optarg; break;
    case 'S': spec = optarg; break;
    case 'm': model = optarg; break;
    case 'o': out = optarg; break;
    case 'b':
      if (fr_cli_bad_row("features", optarg, &ro))
        return FR_EXIT_USAGE;
      break;
    case 'h': usage(stdout); return FR_EXIT_OK;
    default:
      return fr_cli_usage_error("features", "unknown or incomplete option '%s'",
                                argv[optind - 1]);
    }
  }
  if (!model && !schema_arg)
    return fr_cli_usage_error("features", "--schema or --model is required");
  if (model && (schema_arg || spec))
    return fr_cli_usage_error("features", "--model takes schema and spec from the "
                                          "bundle: drop --schema/--spec");
  if (!out)
    return fr_cli_usage_error("features", "-o OUT.csv is required");
  if (optind != argc - 1)
    return fr_cli_usage_error("features", optind >= argc ? "missing DATA file"
                                                         : "expected one DATA file");
  const char *data = argv[optind];
  if (fr_cli_output_check("features", out, &data, 1, model))
    return FR_EXIT_USAGE;
  fr_error err = {0};
  int rc = FR_EXIT_FAIL;
  fr_bundle *b = NULL;
  fr_schema *own_schema = NULL;
  fr_featurizer *own_f = NULL;
  const fr_featurizer *f = NULL;
  fr_dataset *d = NULL;
  fr_table *t = NULL;
  char **ids = NULL;
  if (model) {
    if (!(b = fr_bundle_open(model, &err)))
      goto done;
    f = fr_bundle_featurizer(b);
  } else {
    if (!(own_schema = fr_schema_load(schema_arg, &err)) ||
        !(own_f = fr_featurizer_load(own_schema, spec, &err)))
      goto done;
    f = own_f;
  }
  /* A bundle's featurizer is fitted already, so new, unlabelled
   * transactions can be featurized; fitting encoders here needs the label
   * (target encodings count the positives). */
  ro.label_optional = model != NULL;
  if (!(d = fr_dataset_read_csv(fr_featurizer_schema(f), data, &ro, &err)))
    goto done;
  if (own_f) {
    const size_t *order = fr_dataset_time_order(d);
    if (fr_featurizer_fit(own_f, d, order, fr_dataset_rows(d), &err))
      goto done;
  }
  if (!(t = fr_featurize_dataset(f, d, &err)))
    goto done;
  int idcol = fr_schema_role_column(fr_featurizer_schema(f), FR_ROLE_ID);
  ids = calloc(t->rows ? t->rows : 1, sizeof *ids);
  if (!ids) {
    fr_error_set(&err, FR_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < t->rows; i++) {
    size_t r = t->source_row[i], len = 0;
    const char *s = idcol >= 0 ? fr_dataset_string(d, (size_t)idcol, r, &len) : NULL;
    char buf[32];
    if (idcol < 0)
      snprintf(buf, sizeof buf, "%zu", fr_dataset_row_number(d, r));
    ids[i] = idcol < 0 ? strdup(buf) : strndup(s ? s : "", s ? len : 0);
    if (!ids[i]) {
      fr_error_set(&err, FR_ENOMEM, "out of memory");
      goto done;
    }
  }
  if (fr_table_write_csv(t, out, "transaction_id", (const char *const *)ids, &err))
    goto done;
  fr_read_summary sum;
  fr_dataset_read_summary(d, &sum);
  char note[640];
  fprintf(stderr, "fraud features: wrote %zu rows x %zu features to %s%s\n", t->rows,
          t->cols, fr_cli_is_stdout(out) ? "standard output" : out,
          fr_cli_skip_note(&ro, &sum, note, sizeof note));
  rc = FR_EXIT_OK;
done:
  if (rc != FR_EXIT_OK)
    fr_cli_fail("features", &err);
  if (ids)
    for (size_t i = 0; t && i < t->rows; i++)
      free(ids[i]);
  free(ids);
  fr_table_free(t);
  fr_dataset_free(d);
  fr_featurizer_free(own_f);
  fr_schema_free(own_schema);
  fr_bundle_unref(b);
  return rc;
}
