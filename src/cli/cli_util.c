/*
 * cli_util.c - option-value parsing shared by the subcommands, so each gives
 * the same messages and exit codes.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

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

int fr_cli_double(const char *cmd, const char *opt, const char *value,
                  double *out) {
  if (fr_parse_double(value, strlen(value), out))
    return fr_cli_usage_error(cmd, "%s takes a number, not '%s'", opt, value);
  return 0;
}

int fr_cli_int(const char *cmd, const char *opt, const char *value, long lo,
               long hi, long *out) {
  int64_t v;
  if (fr_parse_int64(value, strlen(value), &v) || v < lo || v > hi)
    return fr_cli_usage_error(cmd, "%s takes an integer from %ld to %ld, not '%s'",
                              opt, lo, hi, value);
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
