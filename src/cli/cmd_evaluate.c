/*
 * cmd_evaluate.c - `fraud evaluate`: metrics, money, calibration and the HTML
 * report of a bundle on a labelled file (fr_evaluate_run does the work), and
 * optionally a new version with cost-based thresholds
 * (fr_bundle_derive_thresholds).  This file parses options and prints.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fraud/train.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: fraud evaluate --model DIR [options] DATA\n\n"
          "Scores DATA with the model bundle DIR (features computed in event-time\n"
          "order from an empty state, exactly as at training) and prints rows,\n"
          "frauds, ROC-AUC, PR-AUC (average precision), log loss, Brier score,\n"
          "recall at 0.1%%, 1%% and 5%% false-positive rate, precision, recall, F1 and\n"
          "the confusion matrix at the bundle's decline threshold; the share of\n"
          "fraud money caught (amount-weighted recall); the cost of the bundle's\n"
          "thresholds and the review and decline thresholds of least cost (a missed\n"
          "fraud costs its amount, a review --review-cost, a declined legitimate\n"
          "transaction --decline-cost); and the calibration table.\n\n"
          "options:\n"
          "  --model DIR            model bundle directory\n"
          "  --json                 print one JSON object instead of text\n"
          "  --test-slice           only rows at or after the test-slice start time\n"
          "                         recorded at training (the held-out latest slice)\n"
          "  --valid-slice          only rows of the validation slice recorded at\n"
          "                         training (where thresholds should be chosen)\n"
          "  --review-cost X        cost of one manual review (default 5)\n"
          "  --decline-cost X       cost of declining a legitimate transaction (default 25)\n"
          "  --no-review            choose a decline threshold only (no review band)\n"
          "  --calibration-bins N   calibration table bins (default 10, at most %d)\n"
          "  --quantile-bins        calibration bins at score quantiles (default: uniform)\n"
          "  --report FILE.html     write a self-contained HTML report with plots\n"
          "  --save-thresholds DIR  write a NEW model version DIR: a copy of the bundle\n"
          "                         with the cost-optimal thresholds (needs an amount column);\n"
          "                         in a repository layout (models/NAME/N) NAME must be the\n"
          "                         bundle's name and N the version, as for train --out\n"
          "  --version V            version name of that new bundle (default: DIR's name)\n"
          "  --on-bad-row fail|skip what to do with a malformed row (default fail)\n",
          FR_EVAL_MAX_BINS);
}

static void print_text(const fr_evaluation *ev) {
  const fr_metrics *m = &ev->metrics;
  printf("rows            %zu\n", m->rows);
  printf("frauds          %zu (%.4f%%)\n", m->positives,
         m->rows ? 100.0 * (double)m->positives / (double)m->rows : 0.0);
  printf("ROC-AUC         %.6f\n", m->roc_auc);
  printf("PR-AUC          %.6f   (average precision)\n", m->pr_auc);
  printf("log loss        %.6f\n", m->log_loss);
  printf("Brier score     %.6f\n", m->brier);
  for (int i = 0; i < FR_N_FPR; i++)
    printf("recall @ %4.1f%% FPR  %.4f\n", 100 * fr_metrics_fprs[i], m->recall_at_fpr[i]);
  printf("at threshold %.6g: precision %.4f, recall %.4f, F1 %.4f\n", m->threshold,
         m->precision, m->recall, m->f1);
  printf("confusion       TP %zu  FP %zu  TN %zu  FN %zu\n", m->tp, m->fp, m->tn, m->fn);
  if (ev->has_amount) {
    const fr_cost_result *c = &ev->cost;
    printf("\nfraud money     %.2f\n", ev->fraud_amount);
    printf("money caught    %.4f at decline (p >= %.6g), %.4f at review (p >= %.6g)\n",
           ev->amount_recall, ev->bundle_thresholds.decline, ev->amount_recall_review,
           ev->bundle_thresholds.review);
    printf("cost model      missed fraud = its amount, review = %.2f, declined "
           "legitimate = %.2f%s\n",
           ev->cost_params.review_cost, ev->cost_params.decline_cost,
           ev->cost_params.allow_review ? "" : ", no review band");
    printf("cost            %.2f with the bundle's thresholds (review %.6g, decline %.6g)\n",
           ev->cost_bundle, ev->bundle_thresholds.review, ev->bundle_thresholds.decline);
    printf("                %.2f approving everything\n", c->cost_approve_all);
    printf("                %.2f at the least-cost thresholds: review %.6g, decline %.6g\n",
           c->cost, c->thresholds.review, c->thresholds.decline);
    printf("                (approve %zu, review %zu, decline %zu; fraud money stopped %.2f)\n",
           c->approved, c->reviewed, c->declined, c->fraud_amount_stopped);
  }
  printf("\ncalibration (expected calibration error %.4f)\n", ev->ece);
  printf("  %-17s %8s %12s %12s\n", "bin", "rows", "mean p", "fraud rate");
  for (size_t i = 0; i < ev->calibration_n; i++) {
    const fr_calib_bin *b = &ev->calibration[i];
    printf("  [%.4f, %.4f] %8zu %12.6f %12.6f\n", b->lo, b->hi, b->count, b->mean_pred,
           b->frac_pos);
  }
}

int fr_cmd_evaluate(int argc, char **argv) {
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"json", no_argument, 0, 'j'},
                                       {"test-slice", no_argument, 0, 't'},
                                       {"valid-slice", no_argument, 0, 'V'},
                                       {"review-cost", required_argument, 0, 'R'},
                                       {"decline-cost", required_argument, 0, 'D'},
                                       {"no-review", no_argument, 0, 'n'},
                                       {"calibration-bins", required_argument, 0, 'c'},
                                       {"quantile-bins", no_argument, 0, 'Q'},
                                       {"report", required_argument, 0, 'r'},
                                       {"save-thresholds", required_argument, 0, 's'},
                                       {"version", required_argument, 0, 'v'},
                                       {"on-bad-row", required_argument, 0, 'b'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  fr_score_job job = {0};
  fr_evaluate_options o;
  fr_evaluate_options_default(&o);
  const char *save = NULL, *version = NULL;
  int json = 0, c;
  long v;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "hm:", opts, NULL)) != -1) {
    switch (c) {
    case 'm': job.model_dir = optarg; break;
    case 'j': json = 1; break;
    case 't': job.test_slice = 1; break;
    case 'V': job.valid_slice = 1; break;
    case 'R':
      if (fr_cli_double("evaluate", "--review-cost", optarg, &o.cost.review_cost))
        return FR_EXIT_USAGE;
      break;
    case 'D':
      if (fr_cli_double("evaluate", "--decline-cost", optarg, &o.cost.decline_cost))
        return FR_EXIT_USAGE;
      break;
    case 'n': o.cost.allow_review = 0; break;
    case 'c':
      if (fr_cli_int("evaluate", "--calibration-bins", optarg, 1, FR_EVAL_MAX_BINS, &v))
        return FR_EXIT_USAGE;
      o.calibration_bins = (int)v;
      break;
    case 'Q': o.calibration_strategy = FR_CALIB_QUANTILE; break;
    case 'r': o.report_path = optarg; break;
    case 's': save = optarg; break;
    case 'v': version = optarg; break;
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
  if (job.test_slice && job.valid_slice)
    return fr_cli_usage_error("evaluate", "--test-slice and --valid-slice exclude each other");
  char cb[40];
  if (!(o.cost.review_cost >= 0 && isfinite(o.cost.review_cost))) {
    fr_fmt_double(cb, sizeof cb, o.cost.review_cost);
    return fr_cli_usage_error("evaluate", "--review-cost must be a finite number >= 0 (costs must "
                              "be finite and >= 0), not %s", cb);
  }
  if (!(o.cost.decline_cost >= 0 && isfinite(o.cost.decline_cost))) {
    fr_fmt_double(cb, sizeof cb, o.cost.decline_cost);
    return fr_cli_usage_error("evaluate", "--decline-cost must be a finite number >= 0 (costs "
                              "must be finite and >= 0), not %s", cb);
  }
  if (version && !save)
    return fr_cli_usage_error("evaluate", "--version names the bundle of --save-thresholds");
  job.data = argv[optind];
  fr_error err = {0};
  if (save) {
    /* The new version keeps the bundle's model name: a repository path
     * (models/<name>/<version>) must agree with it and with --version, as
     * train --out must, before any work. */
    fr_bundle *src = fr_bundle_open(job.model_dir, &err);
    if (!src)
      return fr_cli_fail("evaluate", &err);
    char n[128], v[128];
    int bad = fr_train_bundle_identity(save, fr_bundle_name(src), version, n, sizeof n, v,
                                       sizeof v, &err);
    fr_bundle_unref(src);
    if (bad)
      return fr_cli_usage_error("evaluate", "--save-thresholds %s: %s", save, err.msg);
  }
  fr_evaluation ev;
  if (fr_evaluate_run(&job, &o, &ev, &err))
    return fr_cli_fail("evaluate", &err);
  if (save) {
    if (!ev.has_amount) {
      fr_error_set(&err, FR_ESCHEMA,
                   "--save-thresholds: the schema has no amount column, so there are no "
                   "cost-based thresholds");
      return fr_cli_fail("evaluate", &err);
    }
    const char *base = strrchr(job.data, '/');
    char sha[65] = "";
    if (fr_sha256_file(job.data, sha, &err))
      return fr_cli_fail("evaluate", &err);
    json_t *d = json_pack(
        "{s:s, s:{s:f, s:f, s:b}, s:{s:s, s:s, s:s, s:I, s:I}, s:f, s:f}", "reason",
        "cost-based thresholds", "costs", "review_cost", o.cost.review_cost, "decline_cost",
        o.cost.decline_cost, "allow_review", o.cost.allow_review, "evaluated_on", "file",
        base ? base + 1 : job.data, "sha256", sha, "slice",
        job.test_slice    ? "test"
        : job.valid_slice ? "validation"
                          : "all",
        "rows", (json_int_t)ev.metrics.rows, "frauds", (json_int_t)ev.metrics.positives,
        "cost", ev.cost.cost, "cost_with_previous_thresholds", ev.cost_bundle);
    char *dtext = d ? json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(d);
    fr_thresholds th = ev.cost.thresholds;
    /* "Never" is a threshold just above the highest score; a bundle's
     * thresholds are probabilities. */
    if (th.decline > 1)
      th.decline = 1;
    if (th.review > th.decline)
      th.review = th.decline;
    fr_cli_hold_signals(1); /* no half-copied version on Ctrl-C */
    int rc = dtext ? fr_bundle_derive_thresholds(job.model_dir, save, version, &th, dtext, &err)
                   : fr_error_set(&err, FR_ENOMEM, "out of memory");
    fr_cli_hold_signals(0);
    free(dtext);
    if (rc)
      return fr_cli_fail("evaluate", &err);
  }
  if (json) {
    char *s = fr_evaluation_json(&ev);
    if (!s) {
      fr_error_set(&err, FR_ENOMEM, "out of memory");
      return fr_cli_fail("evaluate", &err);
    }
    printf("%s\n", s);
    free(s);
  } else {
    print_text(&ev);
  }
  if (!json && o.report_path)
    printf("\nreport: %s\n", o.report_path);
  if (!json && save)
    printf("new version with the least-cost thresholds: %s\n", save);
  return FR_EXIT_OK;
}
