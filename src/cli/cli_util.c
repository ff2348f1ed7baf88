/*
 * cli_util.c - option-value parsing shared by the subcommands, so each gives
 * the same messages and exit codes.
 */
#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fraud/train.h"

int fr_cli_bad_row(const char *cmd, const char *value, fr_read_options *ro) {
  if (strcmp(value, "fail") == 0)
    ro->on_bad_row = FR_BAD_ROW_FAIL;
  else if (strcmp(value, "skip") == 0)
    ro->on_bad_row = FR_BAD_ROW_SKIP;
  else
    return fr_cli_usage_error(cmd, "--on-bad-row takes 'fail' or 'skip', not '%s'",
                              value);
  return 0;
}

const char *fr_cli_skip_note(const fr_read_options *ro, const fr_read_summary *s, char *buf,
                             size_t cap) {
  if (!cap)
    return buf;
  buf[0] = '\0';
  if (ro->on_bad_row != FR_BAD_ROW_SKIP)
    return buf;
  if (s->skipped && s->first_reason[0])
    snprintf(buf, cap, " (%zu skipped, the first: %s)", s->skipped, s->first_reason);
  else
    snprintf(buf, cap, " (%zu skipped)", s->skipped);
  return buf;
}

int fr_cli_number_text_ok(const char *value) {
  size_t n = strlen(value);
  return n && !isspace((unsigned char)value[0]) && !isspace((unsigned char)value[n - 1]);
}

int fr_cli_double(const char *cmd, const char *opt, const char *value,
                  double *out) {
  if (!fr_cli_number_text_ok(value) || fr_parse_double(value, strlen(value), out))
    return fr_cli_usage_error(cmd, "%s takes a number, not '%s'", opt, value);
  return 0;
}

int fr_cli_int(const char *cmd, const char *opt, const char *value, long lo,
               long hi, long *out) {
  int64_t v;
  if (!fr_cli_number_text_ok(value) || fr_parse_int64(value, strlen(value), &v) || v < lo ||
      v > hi) {
    char what[160];
    snprintf(what, sizeof what, "%s takes an integer", opt);
    return fr_cli_usage_error_range(cmd, what, lo, hi, value);
  }
  *out = (long)v;
  return 0;
}

void fr_cli_hold_signals(int hold) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGHUP);
  sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &s, NULL);
}

/* ---- interruptions while a version is written ------------------------------
 * One watcher thread owns SIGINT, SIGTERM and SIGHUP (blocked everywhere
 * else); the mutex orders its check of `deferring` against the main
 * thread's switch, so a signal is either acted on before the write starts
 * or recorded for the end, never lost in between. */
static pthread_mutex_t intr_mu = PTHREAD_MUTEX_INITIALIZER;
static sigset_t intr_set;
static int intr_deferring, intr_pending;
static int intr_line_open; /* __atomic: written by the main thread */
static const char *intr_cmd = "", *intr_idle_msg = "";

static const char *sig_name(int sig) {
  switch (sig) {
  case SIGINT:
    return "SIGINT";
  case SIGTERM:
    return "SIGTERM";
  case SIGHUP:
    return "SIGHUP";
  default:
    return "a signal";
  }
}

/* Ends the process by sig with its default action, so the parent sees a
 * death by that signal (what a shell expects of an interrupted command). */
static void die_by(int sig) {
  fflush(NULL);
  signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, NULL);
  raise(sig);
  _exit(128 + sig); /* not reached: the default action of all three ends it */
}

static void *intr_watch(void *arg) {
  (void)arg;
  for (;;) {
    int sig;
    if (sigwait(&intr_set, &sig) != 0)
      continue;
    pthread_mutex_lock(&intr_mu);
    int deferring = intr_deferring;
    if (deferring && !intr_pending)
      intr_pending = sig;
    pthread_mutex_unlock(&intr_mu);
    if (deferring)
      continue;
    fprintf(stderr, "%sfraud %s: interrupted by %s; %s\n",
            __atomic_load_n(&intr_line_open, __ATOMIC_RELAXED) ? "\n" : "", intr_cmd,
            sig_name(sig), intr_idle_msg);
    die_by(sig);
  }
  return NULL;
}

int fr_cli_interrupts_start(const char *cmd, const char *idle_msg) {
  intr_cmd = cmd;
  intr_idle_msg = idle_msg;
  /* A signal the process was started with ignored (nohup's SIGHUP, SIGINT
   * of a background job in a shell without job control) stays ignored. */
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  sigemptyset(&intr_set);
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
    struct sigaction cur;
    if (sigaction(sigs[i], NULL, &cur) == 0 && cur.sa_handler == SIG_IGN)
      continue;
    sigaddset(&intr_set, sigs[i]);
  }
  if (sigisemptyset(&intr_set))
    return 0; /* nothing to watch */
  sigset_t old;
  if (pthread_sigmask(SIG_BLOCK, &intr_set, &old) != 0)
    return -1;
  pthread_t t;
  pthread_attr_t a;
  int rc = pthread_attr_init(&a);
  if (rc == 0) {
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &a, intr_watch, NULL);
    pthread_attr_destroy(&a);
  }
  if (rc != 0) {
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -1;
  }
  return 0;
}

void fr_cli_interrupts_line_open(int open) {
  __atomic_store_n(&intr_line_open, open, __ATOMIC_RELAXED);
}

void fr_cli_interrupts_defer(void) {
  pthread_mutex_lock(&intr_mu);
  intr_deferring = 1;
  pthread_mutex_unlock(&intr_mu);
}

void fr_cli_interrupts_finish(const char *fmt, ...) {
  pthread_mutex_lock(&intr_mu);
  int sig = intr_pending;
  pthread_mutex_unlock(&intr_mu);
  if (!sig)
    return;
  fflush(stdout);
  fprintf(stderr, "fraud %s: interrupted by %s while writing; ", intr_cmd, sig_name(sig));
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  die_by(sig);
}

int fr_cli_train_job_check(const char *cmd, const fr_train_job *job) {
  char fv[32], ft[32], fs[32];
  fr_fmt_double(fv, sizeof fv, job->valid_fraction);
  fr_fmt_double(ft, sizeof ft, job->test_fraction);
  if (!(job->valid_fraction > 0 && job->valid_fraction < 1))
    return fr_cli_usage_error(cmd, "--valid-fraction must be in (0, 1), not %s", fv);
  if (!(job->test_fraction > 0 && job->test_fraction < 1))
    return fr_cli_usage_error(cmd, "--test-fraction must be in (0, 1), not %s", ft);
  if (!(job->valid_fraction + job->test_fraction < 1)) {
    fr_fmt_double(fs, sizeof fs, job->valid_fraction + job->test_fraction);
    return fr_cli_usage_error(cmd,
                              "--valid-fraction %s and --test-fraction %s sum to %s: they "
                              "must sum to less than 1 to leave rows to train on",
                              fv, ft, fs);
  }
  char n[128], v[128];
  fr_error err = {0};
  if (job->out_dir &&
      fr_train_bundle_identity(job->out_dir, job->name, job->version, n, sizeof n, v,
                               sizeof v, &err))
    return fr_cli_usage_error(cmd, "--%s and --out disagree: %s",
                              strncmp(err.msg, "version", 7) == 0 ? "version" : "name",
                              err.msg);
  return 0;
}

int fr_cli_is_stdout(const char *path) { return path && strcmp(path, "-") == 0; }

/* Canonical absolute path of `path`'s directory joined with its last
 * component (the file itself need not exist); 0, or -1 when the directory
 * does not resolve. */
static int canonical_out(const char *path, char *buf, size_t cap) {
  char *copy = strdup(path), *copy2 = strdup(path);
  int rc = -1;
  if (copy && copy2) {
    char *dir = dirname(copy), *base = basename(copy2);
    char *rd = realpath(dir, NULL);
    if (rd) {
      int n = snprintf(buf, cap, "%s/%s", strcmp(rd, "/") == 0 ? "" : rd, base);
      rc = n > 0 && (size_t)n < cap ? 0 : -1;
      free(rd);
    }
  }
  free(copy);
  free(copy2);
  return rc;
}

/* 1 when the canonical path `p` is `dir` or lies under it. */
static int path_under(const char *p, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/' || strcmp(dir, "/") == 0);
}

int fr_cli_output_check(const char *cmd, const char *out, const char *const *inputs,
                        size_t ninputs, const char *model) {
  if (!out)
    return 0;
  if (!*out)
    return fr_cli_usage_error(cmd, "-o: the output path is empty");
  if (fr_cli_is_stdout(out))
    return 0;
  struct stat so;
  int out_exists = stat(out, &so) == 0;
  for (size_t i = 0; i < ninputs; i++) {
    struct stat si;
    if (inputs[i] && out_exists && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev &&
        si.st_ino == so.st_ino)
      return fr_cli_usage_error(cmd, "-o %s is the input %s: it would be overwritten", out,
                                inputs[i]);
  }
  if (!model)
    return 0;
  /* The model's directory: a bundle or version directory, or the directory
   * of a model file when it is a version directory (holds manifest.json). */
  char *mdir = NULL;
  struct stat sm;
  if (stat(model, &sm) == 0 && S_ISDIR(sm.st_mode)) {
    mdir = realpath(model, NULL);
  } else {
    char *copy = strdup(model);
    if (copy) {
      char *d = dirname(copy);
      char *manifest = fr_path_join(d, "manifest.json");
      if (manifest && access(manifest, F_OK) == 0)
        mdir = realpath(d, NULL);
      free(manifest);
    }
    free(copy);
    if (out_exists && stat(model, &sm) == 0 && sm.st_dev == so.st_dev && sm.st_ino == so.st_ino) {
      free(mdir);
      return fr_cli_usage_error(cmd, "-o %s is the model file %s: it would be overwritten",
                                out, model);
    }
  }
  char canon[PATH_MAX + 256];
  int inside = mdir && canonical_out(out, canon, sizeof canon) == 0 && path_under(canon, mdir);
  free(mdir);
  if (inside)
    return fr_cli_usage_error(cmd,
                              "-o %s lies inside the model directory %s: a model version is "
                              "immutable (write the output elsewhere)",
                              out, model);
  return 0;
}
