/*
 * cmd_tune.c - `fraud tune`: hyper-parameter search (random configurations
 * raced by Hyperband's successive halving on validation PR-AUC, in parallel
 * worker processes), then the best configuration written as a model bundle
 * with the trials table (fr_tune_job_run does the work).
 *
 * Ctrl-C (or SIGTERM) during the search stops it cleanly: the workers are
 * killed, the finished trials stay in the log, and the same command resumes.
 * While the bundle is being written the signals are held until it is
 * complete, so an interruption never leaves half a version behind.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fraud/train.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: fraud tune --schema SCHEMA --space SPACE.yaml --out DIR [options] DATA\n\n"
          "Searches XGBoost's parameters on DATA: random configurations from the\n"
          "search space (YAML, docs/training.md) raced by successive halving in\n"
          "Hyperband's brackets, the budget being boosting rounds (with early\n"
          "stopping) and the score the validation slice's PR-AUC.  Trials run in\n"
          "parallel worker processes with the cores divided between them; each\n"
          "finished trial is appended to the trials log as a JSON line.  The search\n"
          "is deterministic for a seed, and an interrupted search (Ctrl-C, a crash,\n"
          "--max-trials) resumes where it stopped when run again with the same log.\n"
          "When every trial has finished, the best configuration is trained again and\n"
          "written to DIR like `fraud train` would, with the trials log as\n"
          "DIR/trials.jsonl.\n\n"
          "options:\n"
          "  --schema SCHEMA        shipped schema name or path\n"
          "  --spec SPEC            feature spec YAML (default: the schema's)\n"
          "  --space FILE           search space (YAML)\n"
          "  --out DIR              bundle directory to create (must not exist)\n"
          "  --log FILE             trials log (default: DIR.trials.jsonl, removed once the\n"
          "                         bundle holds its copy); resumed if present\n"
          "  --name NAME            model name (default: the directory above a version\n"
          "                         directory in --out, e.g. sparkov in models/sparkov/2,\n"
          "                         else the schema's name)\n"
          "  --version V            model version (default: the last component of --out\n"
          "                         when it is a version number, e.g. 2, else 1); with\n"
          "                         such an --out, --name and --version must match it\n"
          "  --params FILE          base parameters (YAML) for what the space does not search\n"
          "  --seed N               seed of the search and of XGBoost (default 42)\n"
          "  --parallel N           trials at once (default: the number of cores)\n"
          "  --trial-threads N      XGBoost threads per trial (default: cores / parallel)\n"
          "  --min-rounds N         smallest budget (default: the space's n_estimators low, or 20)\n"
          "  --max-rounds N         largest budget (default: the space's n_estimators)\n"
          "  --reduction N          keep 1/N of a rung for the next (default 3)\n"
          "  --brackets N           only the N most exploratory brackets (default: all)\n"
          "  --max-trials N         stop after N new trials (a time box; rerun to continue)\n"
          "  --valid-fraction F     validation share of rows (default 0.15)\n"
          "  --test-fraction F      test share of rows (default 0.15)\n"
          "  --on-bad-row fail|skip what to do with a malformed row (default fail)\n"
          "  --progress / --no-progress  draw progress on stderr (default: on a terminal)\n"
          "  --quiet                no summary on stdout\n");
}

static volatile int g_cancel;

static void on_signal(int sig) {
  (void)sig;
  g_cancel = 1;
}

typedef struct tctx {
  int show;
  double t0;
  double best;
  int drew;
} tctx;

static void on_stage(const char *stage, void *ctx) {
  tctx *tc = ctx;
  if (strcmp(stage, "write") == 0)
    fr_cli_hold_signals(1); /* released once the bundle is complete */
  if (!tc->show)
    return;
  if (tc->drew)
    fputc('\n', stderr);
  tc->drew = 0;
  fprintf(stderr, "[%6.1fs] %s\n", fr_now() - tc->t0,
          strcmp(stage, "read") == 0       ? "reading the data"
          : strcmp(stage, "features") == 0 ? "splitting by event time and computing features"
          : strcmp(stage, "search") == 0   ? "searching"
          : strcmp(stage, "train") == 0    ? "training the best configuration again"
          : strcmp(stage, "evaluate") == 0 ? "choosing thresholds and measuring the held-out slices"
          : strcmp(stage, "write") == 0    ? "writing the bundle"
                                           : stage);
}

static void on_trial(const fr_trial *t, size_t finished, size_t planned, void *ctx) {
  tctx *tc = ctx;
  if (t->status == 0 && t->score > tc->best)
    tc->best = t->score;
  if (!tc->show)
    return;
  double el = fr_now() - tc->t0;
  char line[256];
  if (t->status == 0)
    fr_snprintf_c(line, sizeof line,
                  "trial %zu/%zu  bracket %d rung %d  %d rounds  valid PR-AUC %.4f  "
                  "best %.4f  elapsed %.0fs",
                  finished, planned, t->bracket, t->rung, t->rounds, t->score, tc->best, el);
  else
    fr_snprintf_c(line, sizeof line, "trial %zu/%zu  failed: %.120s", finished, planned,
                  t->error);
  fprintf(stderr, "\r\033[K%s", line);
  fflush(stderr);
  tc->drew = 1;
}

int fr_cmd_tune(int argc, char **argv) {
  static const struct option opts[] = {
      {"schema", required_argument, 0, 's'},
      {"spec", required_argument, 0, 'S'},
      {"space", required_argument, 0, 'X'},
      {"out", required_argument, 0, 'o'},
      {"log", required_argument, 0, 'l'},
      {"name", required_argument, 0, 'n'},
      {"version", required_argument, 0, 'v'},
      {"params", required_argument, 0, 'P'},
      {"seed", required_argument, 0, 'r'},
      {"parallel", required_argument, 0, 'j'},
      {"trial-threads", required_argument, 0, 't'},
      {"min-rounds", required_argument, 0, 1001},
      {"max-rounds", required_argument, 0, 1002},
      {"reduction", required_argument, 0, 1003},
      {"brackets", required_argument, 0, 1004},
      {"max-trials", required_argument, 0, 1005},
      {"valid-fraction", required_argument, 0, 'V'},
      {"test-fraction", required_argument, 0, 'T'},
      {"on-bad-row", required_argument, 0, 'b'},
      {"progress", no_argument, 0, 1010},
      {"no-progress", no_argument, 0, 1011},
      {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  fr_tune_job job;
  fr_tune_job_default(&job);
  fr_train_job *tj = &job.train;
  fr_tune_options *to = &job.tune;
  const char *space_path = NULL, *params_path = NULL;
  int quiet = 0, show = -1, c, seed_set = 0;
  long v, seed = 42;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1) {
    long *ip = NULL;
    int *dst = NULL;
    const char *iname = NULL;
    long lo = 0, hi = 0;
    switch (c) {
    case 's': tj->schema = optarg; break;
    case 'S': tj->spec = optarg; break;
    case 'X': space_path = optarg; break;
    case 'o': tj->out_dir = optarg; break;
    case 'l': to->log_path = optarg; break;
    case 'n': tj->name = optarg; break;
    case 'v': tj->version = optarg; break;
    case 'P': params_path = optarg; break;
    case 'r':
      ip = &seed; iname = "--seed"; lo = 0; hi = 2147483647L; seed_set = 1;
      break;
    case 'j': dst = &to->parallel; iname = "--parallel"; lo = 1; hi = 64; break;
    case 't': dst = &to->trial_threads; iname = "--trial-threads"; lo = 1; hi = 1024; break;
    case 1001: dst = &to->min_rounds; iname = "--min-rounds"; lo = 1; hi = 10000000; break;
    case 1002: dst = &to->max_rounds; iname = "--max-rounds"; lo = 1; hi = 10000000; break;
    case 1003: dst = &to->reduction; iname = "--reduction"; lo = 2; hi = 100; break;
    case 1004: dst = &to->brackets; iname = "--brackets"; lo = 1; hi = 100; break;
    case 1005: dst = &to->max_new_trials; iname = "--max-trials"; lo = 1; hi = 10000000; break;
    case 'V':
      if (fr_cli_double("tune", "--valid-fraction", optarg, &tj->valid_fraction))
        return FR_EXIT_USAGE;
      break;
    case 'T':
      if (fr_cli_double("tune", "--test-fraction", optarg, &tj->test_fraction))
        return FR_EXIT_USAGE;
      break;
    case 'b':
      if (fr_cli_bad_row("tune", optarg, &tj->read))
        return FR_EXIT_USAGE;
      break;
    case 1010: show = 1; break;
    case 1011: show = 0; break;
    case 'q': quiet = 1; break;
    case 'h': usage(stdout); return FR_EXIT_OK;
    default:
      return fr_cli_usage_error("tune", "unknown or incomplete option '%s'",
                                argv[optind - 1]);
    }
    if (iname) {
      if (fr_cli_int("tune", iname, optarg, lo, hi, &v))
        return FR_EXIT_USAGE;
      if (ip)
        *ip = v;
      if (dst)
        *dst = (int)v;
    }
  }
  if (optind != argc - 1)
    return fr_cli_usage_error("tune", optind >= argc ? "missing DATA file"
                                                     : "expected one DATA file");
  tj->data = argv[optind];
  if (!tj->schema)
    return fr_cli_usage_error("tune", "--schema is required");
  if (!space_path)
    return fr_cli_usage_error("tune", "--space is required");
  if (!tj->out_dir)
    return fr_cli_usage_error("tune", "--out is required");
  if (fr_cli_train_job_check("tune", tj))
    return FR_EXIT_USAGE;
  if (to->min_rounds > 0 && to->max_rounds > 0 && to->min_rounds > to->max_rounds)
    return fr_cli_usage_error("tune", "--min-rounds %d is more than --max-rounds %d",
                              to->min_rounds, to->max_rounds);
  fr_error err = {0};
  if (params_path && fr_train_params_load(params_path, &tj->params, &err))
    return fr_cli_fail("tune", &err);
  if (seed_set || !params_path)
    tj->params.seed = (uint64_t)seed;
  to->seed = (uint64_t)seed;
  if (to->parallel == 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    to->parallel = cores < 1 ? 1 : cores > 64 ? 64 : (int)cores;
  }
  char *log_default = NULL;
  if (!to->log_path) {
    size_t n = strlen(tj->out_dir);
    while (n > 1 && tj->out_dir[n - 1] == '/')
      n--;
    log_default = malloc(n + 16);
    if (!log_default) {
      fr_error_set(&err, FR_ENOMEM, "out of memory");
      return fr_cli_fail("tune", &err);
    }
    snprintf(log_default, n + 16, "%.*s.trials.jsonl", (int)n, tj->out_dir);
    to->log_path = log_default;
  }
  fr_search_space *space = fr_search_space_load(space_path, &err);
  if (!space) {
    free(log_default);
    return fr_cli_fail("tune", &err);
  }
  job.space = space;
  /* --min-rounds against the maximum the space sets (its n_estimators
   * high) when --max-rounds does not: the same rule fr_tune_run applies,
   * checked here as the usage error it is. */
  if (to->min_rounds > 0 && to->max_rounds <= 0) {
    int smin, smax;
    fr_search_space_rounds(space, &smin, &smax);
    int max = smax > 0 ? smax : tj->params.n_estimators;
    if (to->min_rounds > max) {
      fr_search_space_free(space);
      free(log_default);
      return fr_cli_usage_error("tune",
                                "--min-rounds %d is more than the maximum rounds %d (%s)",
                                to->min_rounds, max,
                                smax > 0 ? "the space's n_estimators high; set --max-rounds"
                                         : "n_estimators; set --max-rounds");
    }
  }

  tctx tc = {0};
  tc.show = show >= 0 ? show : isatty(STDERR_FILENO);
  tc.t0 = fr_now();
  tc.best = -INFINITY;
  tj->on_stage = on_stage;
  tj->stage_ctx = &tc;
  to->on_trial = on_trial;
  to->on_trial_ctx = &tc;
  to->cancel = &g_cancel;
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  fr_tune_report rep;
  int rc = fr_tune_job_run(&job, &rep, &err);
  if (tc.drew)
    fputc('\n', stderr);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  const fr_tune_result *r = &rep.result;
  int exit_code = FR_EXIT_OK;
  if (rc) {
    exit_code = fr_cli_fail("tune", &err);
  } else if (!rep.written) {
    fprintf(stderr,
            "fraud tune: stopped after %zu new trials (--max-trials); %zu of %zu trials "
            "are in %s: run the same command again to continue\n",
            r->n_run, r->n_trials, r->n_planned, to->log_path);
  } else {
    /* The bundle holds the log now; a log this command named itself is
     * removed from the model repository, one given with --log is kept. */
    if (log_default)
      unlink(log_default);
  }
  if (!rc && rep.written && !quiet) {
    const fr_trial *b = &r->trials[r->best];
    const fr_train_report *tr = &rep.train;
    char *pj = fr_train_params_json(&b->params);
    printf("searched %zu trials (%zu resumed from %s, %zu run now)\n", r->n_trials,
           r->n_resumed, to->log_path, r->n_run);
    printf("best: trial %d (bracket %d, rung %d, configuration %d, %d rounds): "
           "validation PR-AUC %.4f\n",
           b->id, b->bracket, b->rung, b->config, b->rounds, b->score);
    printf("parameters: %s\n", pj ? pj : "?");
    printf("wrote %s (with trials.jsonl): %zu rows, %zu features, %d trees\n", tj->out_dir,
           tr->rows, tr->features, tr->train.trees);
    printf("test slice: rows %zu, frauds %zu, ROC-AUC %.4f, PR-AUC %.4f, recall@1%%FPR %.4f\n",
           tr->test.rows, tr->test.positives, tr->test.roc_auc, tr->test.pr_auc,
           tr->test.recall_at_fpr[1]);
    free(pj);
  }
  fr_tune_result_free(&rep.result);
  fr_search_space_free(space);
  free(log_default);
  fr_cli_hold_signals(0); /* a signal held during a write acts now */
  return exit_code;
}
