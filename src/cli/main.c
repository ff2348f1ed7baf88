/*
 * main.c - `fraud <command> [options]`: dispatch through the command table in
 * commands.def, which also drives `fraud --help`.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define FR__CLI_ENTRY(name, summary) {#name, fr_cmd_##name, summary},
static const fr_cli_command commands[] = {FR_CLI_COMMANDS(FR__CLI_ENTRY)};
#undef FR__CLI_ENTRY
static const size_t ncommands = sizeof commands / sizeof commands[0];

static int usage_print(const char *cmd, char *msg) {
  fprintf(stderr, "fraud %s: %s\n(see 'fraud %s --help')\n", cmd, msg, cmd);
  return FR_EXIT_USAGE;
}

/* Usage messages often quote input text (a flag's value): card numbers in
 * them are masked (fr_mask_card_numbers) so that no command prints a full
 * one, whatever flag it came in. */
int fr_cli_usage_error(const char *cmd, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fr_mask_card_numbers(msg);
  return usage_print(cmd, msg);
}

int fr_cli_usage_error_range(const char *cmd, const char *what, long long lo, long long hi,
                             const char *value) {
  char shown[256], msg[2048];
  snprintf(shown, sizeof shown, "%s", value);
  fr_mask_card_numbers(shown);
  snprintf(msg, sizeof msg, "%s from %lld to %lld, not '%s'", what, lo, hi, shown);
  return usage_print(cmd, msg);
}

/* A library error message is formatted already, so its own numbers cannot
 * be told from quoted text: the whole message is masked (decimal numbers,
 * such as rates, are left alone by fr_mask_card_numbers). */
int fr_cli_fail(const char *cmd, const fr_error *err) {
  char msg[sizeof err->msg];
  snprintf(msg, sizeof msg, "%s",
           err && err->msg[0] ? err->msg : fr_strerror(err ? err->code : FR_EINVAL));
  fr_mask_card_numbers(msg);
  fprintf(stderr, "fraud %s: %s\n", cmd, msg);
  return FR_EXIT_FAIL;
}

int fr_cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      return 0;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
      return 1;
  }
  return 0;
}

static void print_help(FILE *f) {
  fprintf(f,
          "usage: fraud <command> [options]\n\n"
          "Real-time fraud transaction classification: train a gradient-boosted\n"
          "model on transaction history and score live transactions.\n\n"
          "commands:\n");
  for (size_t i = 0; i < ncommands; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nRun 'fraud <command> --help' for the options of one command.\n");
}

/* Standard output goes through write_stdout (a stdio cookie stream in
 * place of stdout) so that the errno of the first write that failed is
 * kept: stdio reports a failed write only as the stream's error flag, and
 * by the time a command checks it (or finish below flushes) errno holds
 * whatever came later ("I/O error" instead of ENOSPC on a full disk). */
static int stdout_errno;

int fr_cli_stdout_errno(void) { return stdout_errno; }

static ssize_t write_stdout(void *cookie, const char *buf, size_t n) {
  (void)cookie;
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(STDOUT_FILENO, buf + done, n - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      if (!stdout_errno)
        stdout_errno = w < 0 ? errno : EIO;
      errno = stdout_errno;
      break; /* a short count is stdio's error signal */
    }
    done += (size_t)w;
  }
  return (ssize_t)done;
}

/* Swaps stdout for the cookie stream, buffered as stdio buffers fd 1 (by
 * line on a terminal, fully otherwise).  On failure stdout stays as it is. */
static void wrap_stdout(void) {
  static const cookie_io_functions_t io = {.write = write_stdout};
  FILE *f = fopencookie(NULL, "w", io);
  if (!f)
    return;
  setvbuf(f, NULL, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, BUFSIZ);
  fflush(stdout);
  stdout = f;
}

/* What a command printed to standard output is still in stdio's buffer when
 * it returns: a write error (`fraud validate > /dev/full`, a closed pipe's
 * reader gone, a full disk) shows only on the flush, so it is checked here
 * once for every command, and turns a success into a failure (exit 1),
 * naming the errno of the write that failed (fr_cli_stdout_errno).  A
 * command that failed has said why already (often this very error). */
static int finish(const char *cmd, int rc) {
  if ((fflush(stdout) != 0 || ferror(stdout)) && rc == FR_EXIT_OK) {
    fprintf(stderr, "fraud %s: standard output: write failed: %s\n", cmd,
            strerror(stdout_errno ? stdout_errno : EIO));
    return FR_EXIT_FAIL;
  }
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_help(stderr);
    return FR_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 ||
      strcmp(name, "help") == 0) {
    if (argc > 2 && strcmp(name, "help") == 0) {
      char *sub[] = {argv[2], "--help", NULL};
      for (size_t i = 0; i < ncommands; i++)
        if (strcmp(commands[i].name, argv[2]) == 0)
          return commands[i].run(2, sub);
    }
    print_help(stdout);
    return FR_EXIT_OK;
  }
  if (strcmp(name, "--version") == 0)
    return fr_cmd_version(1, argv + 1);
  for (size_t i = 0; i < ncommands; i++)
    if (strcmp(commands[i].name, name) == 0) {
      wrap_stdout();
      return finish(name, commands[i].run(argc - 1, argv + 1));
    }
  fprintf(stderr, "fraud: unknown command '%s'\n\n", name);
  print_help(stderr);
  return FR_EXIT_USAGE;
}
