/*
 * cmd_explain.c - `fraud explain`: the probability of every row and the
 * features that drove it (exact TreeSHAP, top k), for a data file scored
 * with a bundle or a feature matrix scored with any model.  The library
 * does the work (fr_explain_run, docs/forest.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fraud/model.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: fraud explain --model DIR DATA.csv [-k N] [--by-magnitude] [-o OUT.csv]\n"
          "       fraud explain --model PATH --features MATRIX.csv [-k N] [-o OUT.csv]\n\n"
          "Scores every row and lists its top reasons: the features with the largest\n"
          "exact TreeSHAP contributions (Lundberg, Erion & Lee 2018), with the row's\n"
          "value of each.  Contributions are in margin units (log-odds for logistic\n"
          "models) and, with the bias, add up to the margin.  With a bundle DIR, DATA\n"
          "is raw data featurized as 'fraud predict' does (it may lack the label\n"
          "column); with --features, MATRIX is a\n"
          "feature matrix (header of column names, empty cell = missing; the output of\n"
          "'fraud features' as it is): columns are matched to the model's feature\n"
          "names, in any order, others ignored; without names, the columns other than\n"
          "transaction_id and label are taken in order.  transaction_id comes from\n"
          "the data's id column, or the matrix's transaction_id column, else it is\n"
          "the row number.\n\n"
          "Output columns: transaction_id, [class,] probability, margin, bias, then\n"
          "reason_i, value_i, contribution_i for i = 1..k.  bias is the SHAP base\n"
          "value (the base margin plus every tree's expected value; the same for\n"
          "every row): bias plus the contributions of all features is the margin,\n"
          "which -k N --by-magnitude with N = the number of features lets you check\n"
          "(a feature whose contribution is exactly 0 is never a reason: its\n"
          "reason_i cells stay empty, and it adds nothing to the sum).\n\n"
          "options:\n"
          "  --model PATH           bundle directory, version directory or model file\n"
          "  --features MATRIX.csv  explain a feature matrix instead of raw data\n"
          "  -k, --top N            reasons per row, 1 to 1000 (default 3); at most the\n"
          "                         model's number of features: a larger N is lowered\n"
          "                         to it\n"
          "  --by-magnitude         rank by |contribution| (default: the features that\n"
          "                         raised the score most; negative ones left out)\n"
          "  -o, --output OUT.csv   output file, written atomically (default, or '-':\n"
          "                         standard output)\n"
          "  --on-bad-row fail|skip what to do with a malformed data row (default fail)\n");
}

int fr_cmd_explain(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"features", required_argument, 0, 'F'},
                                       {"top", required_argument, 0, 'k'},
                                       {"by-magnitude", no_argument, 0, 'M'},
                                       {"output", required_argument, 0, 'o'},
                                       {"on-bad-row", required_argument, 0, 'b'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  fr_explain_job job = {0};
  job.k = 3;
  const char *out = "-";
  long k;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "hm:F:k:o:", opts, NULL)) != -1) {
    switch (c) {
    case 'm': job.model = optarg; break;
    case 'F': job.features = optarg; break;
    case 'k':
      if (fr_cli_int("explain", "--top", optarg, 1, 1000, &k))
        return FR_EXIT_USAGE;
      job.k = (size_t)k;
      break;
    case 'M': job.order = FR_REASONS_BY_MAGNITUDE; break;
    case 'o': out = optarg; break;
    case 'b':
      if (fr_cli_bad_row("explain", optarg, &job.read))
        return FR_EXIT_USAGE;
      break;
    case 'h': usage(stdout); return FR_EXIT_OK;
    default:
      return fr_cli_usage_error("explain", "unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (!job.model)
    return fr_cli_usage_error("explain", "--model is required");
  if (job.features) {
    if (optind != argc)
      return fr_cli_usage_error("explain", "give either DATA or --features, not both");
  } else {
    if (optind != argc - 1)
      return fr_cli_usage_error("explain", optind >= argc ? "missing DATA file (or --features)"
                                                          : "expected one DATA file");
    job.data = argv[optind];
  }
  const char *in = job.features ? job.features : job.data;
  if (fr_cli_output_check("explain", out, &in, 1, job.model))
    return FR_EXIT_USAGE;
  fr_error err = {0};
  size_t rows = 0;
  fr_read_summary sum;
  job.summary = &sum;
  if (fr_explain_run(&job, out, &rows, &err))
    return fr_cli_fail("explain", &err);
  /* On standard output the line is left out (the rows are the output),
   * unless rows were skipped: that is said on standard error. */
  char note[640];
  if (!fr_cli_is_stdout(out) || sum.skipped)
    fprintf(stderr, "fraud explain: wrote %zu rows to %s%s\n", rows,
            fr_cli_is_stdout(out) ? "standard output" : out,
            fr_cli_skip_note(&job.read, &sum, note, sizeof note));
  return FR_EXIT_OK;
}
