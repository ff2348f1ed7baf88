/*
 * cmd_evaluate.c - `fraud evaluate`: metrics of a bundle on a labelled file
 * (fr_evaluate_run does the work; this file prints).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "fraud/train.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: fraud evaluate --model DIR [--json] [--test-slice] DATA\n\n"
          "Scores DATA with the model bundle DIR (features computed in event-time\n"
          "order from an empty state, exactly as at training) and prints rows,\n"
          "frauds, ROC-AUC, PR-AUC (average precision), log loss, Brier score,\n"
          "recall at 0.1%%, 1%% and 5%% false-positive rate, and precision, recall,\n"
          "F1 and the confusion matrix at the bundle's decline threshold.\n\n"
          "options:\n"
          "  --model DIR            model bundle directory\n"
          "  --json                 print one JSON object instead of text\n"
          "  --test-slice           only rows at or after the test-slice start time\n"
          "                         recorded at training (the held-out latest slice)\n"
          "  --on-bad-row fail|skip what to do with a malformed row (default fail)\n");
}

int fr_cmd_evaluate(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"json", no_argument, 0, 'j'},
                                       {"test-slice", no_argument, 0, 't'},
                                       {"on-bad-row", required_argument, 0, 'b'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  fr_score_job job = {0};
  int json = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "hm:", opts, NULL)) != -1) {
    switch (c) {
    case 'm': job.model_dir = optarg; break;
    case 'j': json = 1; break;
    case 't': job.test_slice = 1; break;
    case 'b':
      if (fr_cli_bad_row("evaluate", optarg, &job.read))
        return FR_EXIT_USAGE;
      break;
    case 'h': usage(stdout); return FR_EXIT_OK;
    default:
      return fr_cli_usage_error("evaluate", "unknown or incomplete option '%s'",
                                argv[optind - 1]);
    }
  }
  if (!job.model_dir)
    return fr_cli_usage_error("evaluate", "--model is required");
  if (optind != argc - 1)
    return fr_cli_usage_error("evaluate", optind >= argc ? "missing DATA file"
                                                         : "expected one DATA file");
  job.data = argv[optind];
  fr_error err = {0};
  fr_metrics m;
  if (fr_evaluate_run(&job, &m, &err))
    return fr_cli_fail("evaluate", &err);
  if (json) {
    char *s = fr_metrics_json(&m);
    if (!s) {
      fr_error_set(&err, FR_ENOMEM, "out of memory");
      return fr_cli_fail("evaluate", &err);
    }
    printf("%s\n", s);
    free(s);
    return FR_EXIT_OK;
  }
  printf("rows            %zu\n", m.rows);
  printf("frauds          %zu (%.4f%%)\n", m.positives,
         m.rows ? 100.0 * (double)m.positives / (double)m.rows : 0.0);
  printf("ROC-AUC         %.6f\n", m.roc_auc);
  printf("PR-AUC          %.6f   (average precision)\n", m.pr_auc);
  printf("log loss        %.6f\n", m.log_loss);
  printf("Brier score     %.6f\n", m.brier);
  for (int i = 0; i < FR_N_FPR; i++)
    printf("recall @ %4.1f%% FPR  %.4f\n", 100 * fr_metrics_fprs[i], m.recall_at_fpr[i]);
  printf("at threshold %.6g: precision %.4f, recall %.4f, F1 %.4f\n", m.threshold,
         m.precision, m.recall, m.f1);
  printf("confusion       TP %zu  FP %zu  TN %zu  FN %zu\n", m.tp, m.fp, m.tn, m.fn);
  return FR_EXIT_OK;
}
