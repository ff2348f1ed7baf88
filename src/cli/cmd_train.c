/*
 * cmd_train.c - `fraud train`: read, featurize, split by time, train XGBoost,
 * write a model bundle (fr_train_run does the work).  Parameters come from
 * the defaults, then a YAML file (--params), then the flags, each overriding
 * the one before.  On a terminal, stderr shows the stages and a live line per
 * boosting round; otherwise nothing is drawn (logs and CI stay clean).
 * Interrupting signals (SIGINT, SIGTERM, SIGHUP) are taken by one watcher
 * thread, blocked in every other thread from before XGBoost starts its
 * workers (fr_cli_interrupts_start): before the bundle is written one ends
 * the command at once ("no bundle was written"); from the write stage on it
 * waits until the bundle is complete or has failed, so an interruption never
 * leaves a temporary directory, and the message says whether the bundle was
 * written.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fraud/train.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: fraud train --schema SCHEMA [--spec SPEC] --out DIR [options] DATA\n\n"
          "Trains a gradient-boosted model (XGBoost, binary:logistic) on DATA (.csv or\n"
          ".csv.gz) and writes a model bundle to DIR (which must not exist).\n"
          "Rows are split by event time: the earliest train, then a validation\n"
          "slice (early stopping on PR-AUC, threshold choice), then the latest test\n"
          "slice (reported metrics).  The bundle is written to a temporary directory\n"
          "and renamed into place when complete.\n\n"
          "Parameters: the defaults, overridden by --params FILE (YAML or JSON map\n"
          "of XGBoost names, see docs/training.md), overridden by the flags.\n\n"
          "options:\n"
          "  --schema SCHEMA        shipped schema name (ulb, paysim, sparkov, synthetic) or path\n"
          "  --spec SPEC            feature spec YAML (default: the schema's)\n"
          "  --out DIR              bundle directory to create, e.g. models/sparkov/1\n"
          "  --name NAME            model name (default: the directory above a version\n"
          "                         directory in --out, e.g. sparkov in models/sparkov/2,\n"
          "                         else the schema's name)\n"
          "  --version V            model version (default: the last component of --out\n"
          "                         when it is a version number, e.g. 2, else 1); with\n"
          "                         such an --out, --name and --version must match it\n"
          "  --valid-fraction F     validation share of rows (default 0.15)\n"
          "  --test-fraction F      test share of rows (default 0.15)\n"
          "  --params FILE          training parameters from a YAML file\n"
          "  --n-estimators N       maximum boosting rounds (default 500)\n"
          "  --early-stopping N     rounds without validation PR-AUC gain (default 50; 0 off)\n"
          "  --max-depth N          (default 6)\n"
          "  --eta X                learning rate (default 0.1)\n"
          "  --min-child-weight X   (default 1)\n"
          "  --subsample X          row share per tree (default 0.8)\n"
          "  --colsample-bytree X   column share per tree (default 0.8)\n"
          "  --lambda X             L2 regularisation (default 1)\n"
          "  --alpha X              L1 regularisation (default 0)\n"
          "  --gamma X              minimum split loss (default 0)\n"
          "  --scale-pos-weight X   weight of frauds (default: negatives / positives)\n"
          "  --max-bin N            histogram bins (default 256)\n"
          "  --tree-method M        hist, exact or approx (default hist)\n"
          "  --seed N               random seed (default 42)\n"
          "  --nthread N            XGBoost threads (default 0: all cores)\n"
          "  --on-bad-row fail|skip what to do with a malformed row (default fail)\n"
          "  --progress             draw progress on stderr even when it is not a terminal\n"
          "  --no-progress          never draw progress\n"
          "  --quiet                no summary on stdout\n");
}

/* ---- progress on a terminal --------------------------------------------- */

typedef struct progress {
  int on;
  double train_aucpr; /* the last evaluated, NaN before */
  int early_stopping;
  double t0;
  int drew;       /* a round line is on screen */
  double last;    /* when it was drawn */
} progress;

static void on_stage(const char *stage, void *ctx) {
  progress *pg = ctx;
  if (strcmp(stage, "write") == 0)
    fr_cli_interrupts_defer(); /* acted on once the bundle is complete */
  if (!pg->on)
    return;
  static const struct {
    const char *key, *text;
  } names[] = {{"read", "reading the data"},
               {"features", "splitting by event time and computing features"},
               {"train", "training"},
               {"evaluate", "choosing thresholds and measuring the held-out slices"},
               {"write", "writing the bundle"},
               {"search", "searching"}};
  const char *text = stage;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (strcmp(names[i].key, stage) == 0)
      text = names[i].text;
  if (pg->drew)
    fputc('\n', stderr);
  pg->drew = 0;
  fr_cli_interrupts_line_open(0);
  fprintf(stderr, "[%6.1fs] %s\n", fr_now() - pg->t0, text);
}

static void fmt_secs(char *b, size_t cap, double s) {
  if (!isfinite(s) || s < 0)
    snprintf(b, cap, "?");
  else if (s < 60)
    snprintf(b, cap, "%.1fs", s);
  else
    snprintf(b, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

/* One line per round, redrawn in place: the ETA assumes no further
 * improvement, so it is the time to the early stop (or to the last round,
 * if that comes first) at the mean time per round so far. */
static int on_round(const fr_train_progress *pr, void *ctx) {
  progress *pg = ctx;
  if (!isnan(pr->train_aucpr))
    pg->train_aucpr = pr->train_aucpr;
  /* At most ten redraws a second: a terminal is slower than a round. */
  double now = fr_now();
  if (pg->drew && now - pg->last < 0.1)
    return 0;
  pg->last = now;
  int done = pr->iteration + 1;
  int last = pr->n_estimators;
  if (pg->early_stopping > 0 && pr->best_iteration + pg->early_stopping + 1 < last)
    last = pr->best_iteration + pg->early_stopping + 1;
  double eta = pr->elapsed / done * (last - done);
  char el[32], et[32], tr[32];
  fmt_secs(el, sizeof el, pr->elapsed);
  fmt_secs(et, sizeof et, eta);
  if (isnan(pg->train_aucpr))
    snprintf(tr, sizeof tr, "-");
  else
    fr_snprintf_c(tr, sizeof tr, "%.4f", pg->train_aucpr);
  char line[256];
  fr_snprintf_c(line, sizeof line,
                "round %d/%d  train PR-AUC %s  valid PR-AUC %.4f  best %.4f @ %d  "
                "elapsed %s  ETA %s",
                done, pr->n_estimators, tr, pr->valid_aucpr, pr->best_valid_aucpr,
                pr->best_iteration + 1, el, et);
  fprintf(stderr, "\r\033[K%s", line);
  fflush(stderr);
  pg->drew = 1;
  fr_cli_interrupts_line_open(1); /* a message then starts a new line */
  return 0;
}

/* ---- options ---------------------------------------------------------- */

int fr_cmd_train(int argc, char **argv) {
  static const struct option opts[] = {
      {"schema", required_argument, 0, 's'},
      {"spec", required_argument, 0, 'S'},
      {"out", required_argument, 0, 'o'},
      {"name", required_argument, 0, 'n'},
      {"version", required_argument, 0, 'v'},
      {"valid-fraction", required_argument, 0, 'V'},
      {"test-fraction", required_argument, 0, 'T'},
      {"params", required_argument, 0, 'P'},
      {"n-estimators", required_argument, 0, 'N'},
      {"early-stopping", required_argument, 0, 'E'},
      {"max-depth", required_argument, 0, 'D'},
      {"eta", required_argument, 0, 'e'},
      {"min-child-weight", required_argument, 0, 1001},
      {"subsample", required_argument, 0, 1002},
      {"colsample-bytree", required_argument, 0, 1003},
      {"lambda", required_argument, 0, 1004},
      {"alpha", required_argument, 0, 1005},
      {"gamma", required_argument, 0, 1006},
      {"scale-pos-weight", required_argument, 0, 1007},
      {"max-bin", required_argument, 0, 1008},
      {"tree-method", required_argument, 0, 1009},
      {"seed", required_argument, 0, 'r'},
      {"nthread", required_argument, 0, 't'},
      {"on-bad-row", required_argument, 0, 'b'},
      {"progress", no_argument, 0, 1010},
      {"no-progress", no_argument, 0, 1011},
      {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  fr_train_job job;
  fr_train_job_default(&job);
  int quiet = 0, show = -1, c;
  long v;
  fr_error err = {0};

  /* Pass 1: --help and --params, so that flags override the file whatever
   * their order. */
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1) {
    if (c == 'h') {
      usage(stdout);
      return FR_EXIT_OK;
    }
    if (c == 'P' && fr_train_params_load(optarg, &job.params, &err))
      return fr_cli_fail("train", &err);
  }
  optind = 0;
  while ((c = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1) {
    double *dp = NULL;
    const char *dname = NULL;
    switch (c) {
    case 's': job.schema = optarg; break;
    case 'S': job.spec = optarg; break;
    case 'o': job.out_dir = optarg; break;
    case 'n': job.name = optarg; break;
    case 'v': job.version = optarg; break;
    case 'P': break;
    case 'V': dp = &job.valid_fraction; dname = "--valid-fraction"; break;
    case 'T': dp = &job.test_fraction; dname = "--test-fraction"; break;
    case 'e': dp = &job.params.eta; dname = "--eta"; break;
    case 1001: dp = &job.params.min_child_weight; dname = "--min-child-weight"; break;
    case 1002: dp = &job.params.subsample; dname = "--subsample"; break;
    case 1003: dp = &job.params.colsample_bytree; dname = "--colsample-bytree"; break;
    case 1004: dp = &job.params.lambda; dname = "--lambda"; break;
    case 1005: dp = &job.params.alpha; dname = "--alpha"; break;
    case 1006: dp = &job.params.gamma; dname = "--gamma"; break;
    case 1007: dp = &job.params.scale_pos_weight; dname = "--scale-pos-weight"; break;
    case 'N':
      if (fr_cli_int("train", "--n-estimators", optarg, 1, 10000000, &v))
        return FR_EXIT_USAGE;
      job.params.n_estimators = (int)v;
      break;
    case 'E':
      if (fr_cli_int("train", "--early-stopping", optarg, 0, 10000000, &v))
        return FR_EXIT_USAGE;
      job.params.early_stopping_rounds = (int)v;
      break;
    case 'D':
      if (fr_cli_int("train", "--max-depth", optarg, 0, 64, &v))
        return FR_EXIT_USAGE;
      job.params.max_depth = (int)v;
      break;
    case 1008:
      if (fr_cli_int("train", "--max-bin", optarg, 2, 1 << 20, &v))
        return FR_EXIT_USAGE;
      job.params.max_bin = (int)v;
      break;
    case 1009:
      if (strcmp(optarg, "hist") == 0)
        job.params.tree_method = "hist";
      else if (strcmp(optarg, "exact") == 0)
        job.params.tree_method = "exact";
      else if (strcmp(optarg, "approx") == 0)
        job.params.tree_method = "approx";
      else
        return fr_cli_usage_error("train", "--tree-method takes hist, exact or approx, not '%s'",
                                  optarg);
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
    case 1010: show = 1; break;
    case 1011: show = 0; break;
    case 'q': quiet = 1; break;
    default:
      return fr_cli_usage_error("train", "unknown or incomplete option '%s'",
                                argv[optind - 1]);
    }
    if (dp && fr_cli_double("train", dname, optarg, dp))
      return FR_EXIT_USAGE;
    /* The library reads scale_pos_weight <= 0 as "from the class ratio";
     * on the command line that is what omitting the flag means, so a 0 or
     * negative value is a mistake, refused rather than silently replaced. */
    if (dp == &job.params.scale_pos_weight && !(*dp > 0 && isfinite(*dp)))
      return fr_cli_usage_error("train",
                                "--scale-pos-weight must be a finite number > 0, not '%s' "
                                "(omit it for negatives / positives of the training slice)",
                                optarg);
  }
  if (optind != argc - 1)
    return fr_cli_usage_error("train", optind >= argc ? "missing DATA file"
                                                      : "expected one DATA file");
  job.data = argv[optind];
  if (!job.schema)
    return fr_cli_usage_error("train", "--schema is required");
  if (!job.out_dir)
    return fr_cli_usage_error("train", "--out is required");
  if (fr_cli_train_job_check("train", &job))
    return FR_EXIT_USAGE;
  if (fr_train_params_check(&job.params, &err))
    return fr_cli_usage_error("train", "%s", err.msg);

  /* Before fr_train_run creates any thread, so that every thread inherits
   * the blocked signals. */
  if (fr_cli_interrupts_start("train", "no bundle was written"))
    fprintf(stderr, "fraud train: warning: cannot start the signal watcher; an "
                    "interruption while the bundle is written may leave a "
                    "temporary directory\n");
  progress pg = {0};
  pg.on = show >= 0 ? show : isatty(STDERR_FILENO);
  pg.early_stopping = job.params.early_stopping_rounds;
  pg.t0 = fr_now();
  pg.train_aucpr = NAN;
  job.on_stage = on_stage;
  job.stage_ctx = &pg;
  if (pg.on) {
    job.params.progress = on_round;
    job.params.progress_ctx = &pg;
    /* The train PR-AUC column, every 10 rounds: each evaluation sorts the
     * training slice, which is costly on large data. */
    job.params.eval_train = 10;
  }
  fr_train_report rep;
  int rc = fr_train_run(&job, &rep, &err);
  if (pg.drew)
    fputc('\n', stderr);
  if (rc) {
    int code = fr_cli_fail("train", &err);
    fr_cli_interrupts_finish("no bundle was written");
    return code;
  }
  if (!quiet) {
    const fr_metrics *m = &rep.test;
    char first[40], last[40];
    fr_fmt_iso8601(first, sizeof first, rep.first_time);
    fr_fmt_iso8601(last, sizeof last, rep.last_time);
    printf("trained %s: %zu rows (%zu skipped, %zu frauds), %zu features\n", job.out_dir,
           rep.rows, rep.skipped, rep.positives, rep.features);
    printf("event time %s .. %s\n", first, last);
    printf("split by event time: train %zu, valid %zu, test %zu rows (%zu, %zu, %zu frauds)\n",
           rep.split.train_end, rep.split.valid_end - rep.split.train_end,
           rep.split.rows - rep.split.valid_end, rep.slice_positives[0],
           rep.slice_positives[1], rep.slice_positives[2]);
    if (job.params.early_stopping_rounds > 0)
      printf("trees: %d (best iteration of %d rounds), scale_pos_weight %.4g\n",
             rep.train.trees, rep.train.rounds_run, rep.train.scale_pos_weight);
    else
      printf("trees: %d (every round; early stopping off, best iteration %d), "
             "scale_pos_weight %.4g\n",
             rep.train.trees, rep.train.best_iteration + 1, rep.train.scale_pos_weight);
    printf("thresholds: review %.6g, decline %.6g\n", rep.thresholds.review,
           rep.thresholds.decline);
    printf("test slice: rows %zu, frauds %zu, ROC-AUC %.4f, PR-AUC %.4f, recall@1%%FPR %.4f\n",
           m->rows, m->positives, m->roc_auc, m->pr_auc, m->recall_at_fpr[1]);
    printf("time: read %.2fs, features %.2fs, xgboost %.2fs, total %.2fs\n",
           rep.read_seconds, rep.featurize_seconds, rep.train_seconds, rep.total_seconds);
  }
  fflush(stdout);
  /* A signal that came during the write acts now, on a complete bundle. */
  fr_cli_interrupts_finish("the bundle %s is complete", job.out_dir);
  return FR_EXIT_OK;
}
