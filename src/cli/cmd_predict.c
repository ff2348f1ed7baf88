/*
 * cmd_predict.c - `fraud predict`: score a raw data file with a bundle and
 * write transaction_id,probability,decision per input row, in input order.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "fraud/model.h"
#include "fraud/train.h"

/* --features: a feature matrix scored with any model (bare model file,
 * version directory or bundle); the library does it. */
static int predict_features(const char *model, const char *matrix, const char *out) {
  fr_error err = {0};
  fr_model_source m;
  size_t rows = 0;
  if (fr_model_source_open(model, &m, &err))
    return fr_cli_fail("predict", &err);
  int rc = fr_model_source_score_csv(&m, matrix, out, NULL, &rows, &err);
  fr_model_source_close(&m);
  if (rc)
    return fr_cli_fail("predict", &err);
  fprintf(stderr, "fraud predict: wrote %zu rows to %s\n", rows,
          fr_cli_is_stdout(out) ? "standard output" : out);
  return FR_EXIT_OK;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: fraud predict --model DIR DATA -o OUT.csv\n"
          "       fraud predict --model FILE --features MATRIX.csv -o OUT.csv\n\n"
          "Scores every row of DATA (.csv or .csv.gz, the bundle's schema) with the\n"
          "model bundle DIR and writes OUT.csv with the columns\n"
          "transaction_id,probability,decision, one line per input row in input\n"
          "order.  Features are computed in event-time order from an empty state,\n"
          "exactly as the server computes them live.  DATA may lack the schema's\n"
          "label column (new transactions have no label).\n\n"
          "With --features, MATRIX.csv is a feature matrix (header row of column\n"
          "names, one row per example, empty cell = missing; the output of 'fraud\n"
          "features' as it is) scored with a bare model file (XGBoost JSON, LightGBM\n"
          "text, ONNX), a version directory holding one, or a bundle.  When the model\n"
          "has feature names, its feature columns are taken by name, in any order,\n"
          "and other columns (transaction_id, label, ...) are ignored; a missing one\n"
          "is an error naming it.  Without names, the columns other than\n"
          "transaction_id and label are taken in order and must be as many as the\n"
          "model's features.  OUT.csv has the columns probability,margin (per-class\n"
          "probability_<k>, margin_<k> for multi-class models), one line per matrix\n"
          "row in file order.\n\n"
          "options:\n"
          "  --model DIR            model bundle directory (with --features: also a\n"
          "                         model file or version directory)\n"
          "  --features MATRIX.csv  score a feature matrix instead of raw data\n"
          "  -o, --output OUT.csv   output file (written atomically); '-' for standard\n"
          "                         output\n"
          "  --event-time           add an event_time column (epoch seconds, UTC)\n"
          "  --on-bad-row fail|skip what to do with a malformed row (default fail)\n");
}

int fr_cmd_predict(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"output", required_argument, 0, 'o'},
                                       {"on-bad-row", required_argument, 0, 'b'},
                                       {"event-time", no_argument, 0, 'E'},
                                       {"features", required_argument, 0, 'F'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  fr_score_job job = {0};
  const char *out = NULL, *features = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "hm:o:", opts, NULL)) != -1) {
    switch (c) {
    case 'm': job.model_dir = optarg; break;
    case 'o': out = optarg; break;
    case 'E': job.with_event_time = 1; break;
    case 'F': features = optarg; break;
    case 'b':
      if (fr_cli_bad_row("predict", optarg, &job.read))
        return FR_EXIT_USAGE;
      break;
    case 'h': usage(stdout); return FR_EXIT_OK;
    default:
      return fr_cli_usage_error("predict", "unknown or incomplete option '%s'",
                                argv[optind - 1]);
    }
  }
  if (!job.model_dir)
    return fr_cli_usage_error("predict", "--model is required");
  if (!out)
    return fr_cli_usage_error("predict", "-o OUT.csv is required");
  if (features) {
    if (optind != argc)
      return fr_cli_usage_error("predict", "give either DATA or --features, not both");
    if (fr_cli_output_check("predict", out, &features, 1, job.model_dir))
      return FR_EXIT_USAGE;
    return predict_features(job.model_dir, features, out);
  }
  if (optind != argc - 1)
    return fr_cli_usage_error("predict", optind >= argc ? "missing DATA file"
                                                        : "expected one DATA file");
  job.data = argv[optind];
  if (fr_cli_output_check("predict", out, &job.data, 1, job.model_dir))
    return FR_EXIT_USAGE;
  fr_error err = {0};
  size_t rows = 0;
  fr_read_summary sum;
  job.summary = &sum;
  if (fr_predict_run(&job, out, &rows, &err))
    return fr_cli_fail("predict", &err);
  char note[640];
  fprintf(stderr, "fraud predict: wrote %zu rows to %s%s\n", rows,
          fr_cli_is_stdout(out) ? "standard output" : out,
          fr_cli_skip_note(&job.read, &sum, note, sizeof note));
  return FR_EXIT_OK;
}
