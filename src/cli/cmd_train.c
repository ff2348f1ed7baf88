/*
 * cmd_train.c - `fraud train`: read, featurize, split by time, train XGBoost,
 * write a model bundle (fr_train_run does the work).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fraud/train.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: fraud train --schema SCHEMA [--spec SPEC] --out DIR [options] DATA\n\n"
          "Trains a gradient-boosted model (XGBoost, binary:logistic) on DATA (.csv or\n"
          ".csv.gz) and writes a model bundle to DIR (which must not exist).\n"
          "Rows are split by event time: the earliest train, then a validation\n"
          "slice (early stopping on PR-AUC, threshold choice), then the latest test\n"
          "slice (reported metrics).\n\n"
          "options:\n"
          "  --schema SCHEMA        shipped schema name (ulb, paysim, sparkov, synthetic) or path\n"
          "  --spec SPEC            feature spec YAML (default: the schema's)\n"
          "  --out DIR              bundle directory to create, e.g. models/sparkov/1\n"
          "  --name NAME            model name (default: the schema's name)\n"
          "  --version V            model version (default: 1)\n"
          "  --valid-fraction F     validation share of rows (default 0.15)\n"
          "  --test-fraction F      test share of rows (default 0.15)\n"
          "  --n-estimators N       maximum boosting rounds (default 500)\n"
          "  --early-stopping N     rounds without validation PR-AUC gain (default 50)\n"
          "  --max-depth N          (default 6)\n"
          "  --eta X                learning rate (default 0.1)\n"
          "  --seed N               random seed (default 42)\n"
          "  --nthread N            XGBoost threads (default: all cores)\n"
          "  --on-bad-row fail|skip what to do with a malformed row (default fail)\n"
          "  --quiet                no summary on stdout\n");
}

int fr_cmd_train(int argc, char **argv) {
  static const struct option opts[] = {
      {"schema", required_argument, 0, 's'},
      {"spec", required_argument, 0, 'S'},
      {"out", required_argument, 0, 'o'},
      {"name", required_argument, 0, 'n'},
      {"version", required_argument, 0, 'v'},
      {"valid-fraction", required_argument, 0, 'V'},
      {"test-fraction", required_argument, 0, 'T'},
      {"n-estimators", required_argument, 0, 'N'},
      {"early-stopping", required_argument, 0, 'E'},
      {"max-depth", required_argument, 0, 'D'},
      {"eta", required_argument, 0, 'e'},
      {"seed", required_argument, 0, 'r'},
      {"nthread", required_argument, 0, 't'},
      {"on-bad-row", required_argument, 0, 'b'},
      {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  fr_train_job job;
  fr_train_job_default(&job);
  int quiet = 0, c;
  long v;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1) {
    switch (c) {
    case 's': job.schema = optarg; break;
    case 'S': job.spec = optarg; break;
    case 'o': job.out_dir = optarg; break;
    case 'n': job.name = optarg; break;
    case 'v': job.version = optarg; break;
    case 'V':
      if (fr_cli_double("train", "--valid-fraction", optarg, &job.valid_fraction))
        return FR_EXIT_USAGE;
      break;
    case 'T':
      if (fr_cli_double("train", "--test-fraction", optarg, &job.test_fraction))
        return FR_EXIT_USAGE;
      break;
    case 'N':
      if (fr_cli_int("train", "--n-estimators", optarg, 1, 100000, &v))
        return FR_EXIT_USAGE;
      job.params.n_estimators = (int)v;
      break;
    case 'E':
      if (fr_cli_int("train", "--early-stopping", optarg, 0, 100000, &v))
        return FR_EXIT_USAGE;
      job.params.early_stopping_rounds = (int)v;
      break;
    case 'D':
      if (fr_cli_int("train", "--max-depth", optarg, 1, 64, &v))
        return FR_EXIT_USAGE;
      job.params.max_depth = (int)v;
      break;
    case 'e':
      if (fr_cli_double("train", "--eta", optarg, &job.params.eta))
        return FR_EXIT_USAGE;
      break;
    case 'r':
      if (fr_cli_int("train", "--seed", optarg, 0, 2147483647L, &v))
        return FR_EXIT_USAGE;
      job.params.seed = (uint64_t)v;
      break;
    case 't':
      if (fr_cli_int("train", "--nthread", optarg, 0, 1024, &v))
        return FR_EXIT_USAGE;
      job.params.nthread = (int)v;
      break;
    case 'b':
      if (fr_cli_bad_row("train", optarg, &job.read))
        return FR_EXIT_USAGE;
      break;
    case 'q': quiet = 1; break;
    case 'h': usage(stdout); return FR_EXIT_OK;
    default:
      return fr_cli_usage_error("train", "unknown or incomplete option '%s'",
                                argv[optind - 1]);
    }
  }
  if (optind != argc - 1)
    return fr_cli_usage_error("train", optind >= argc ? "missing DATA file"
                                                      : "expected one DATA file");
  job.data = argv[optind];
  if (!job.schema)
    return fr_cli_usage_error("train", "--schema is required");
  if (!job.out_dir)
    return fr_cli_usage_error("train", "--out is required");
  fr_error err = {0};
  fr_train_report rep;
  if (fr_train_run(&job, &rep, &err))
    return fr_cli_fail("train", &err);
  if (!quiet) {
    const fr_metrics *m = &rep.test;
    printf("trained %s: %zu rows (%zu skipped), %zu features\n", job.out_dir, rep.rows,
           rep.skipped, rep.features);
    printf("split by event time: train %zu, valid %zu, test %zu rows\n",
           rep.split.train_end, rep.split.valid_end - rep.split.train_end,
           rep.split.rows - rep.split.valid_end);
    printf("trees: %d (best iteration of %d rounds), scale_pos_weight %.4g\n",
           rep.train.best_iteration + 1, rep.train.rounds_run, rep.train.scale_pos_weight);
    printf("thresholds: review %.6g, decline %.6g\n", rep.thresholds.review,
           rep.thresholds.decline);
    printf("test slice: rows %zu, frauds %zu, ROC-AUC %.4f, PR-AUC %.4f, recall@1%%FPR %.4f\n",
           m->rows, m->positives, m->roc_auc, m->pr_auc, m->recall_at_fpr[1]);
    printf("time: read %.2fs, features %.2fs, xgboost %.2fs, total %.2fs\n",
           rep.read_seconds, rep.featurize_seconds, rep.train_seconds, rep.total_seconds);
  }
  return FR_EXIT_OK;
}
