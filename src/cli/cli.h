/*
 * cli.h - what the subcommands share: the command table entry, exit codes and
 * small helpers for option parsing and error reporting.  Each subcommand
 * lives in cmd_<name>.c and is thin over libfraud.
 */
#ifndef FRAUD_CLI_H
#define FRAUD_CLI_H

#include "fraud/common.h"

/* Process exit codes (DESIGN.md): 0 ok, 1 runtime failure, 2 usage error. */
enum { FR_EXIT_OK = 0, FR_EXIT_FAIL = 1, FR_EXIT_USAGE = 2 };

typedef struct fr_cli_command {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
  const char *summary;
} fr_cli_command;

/* X-macro list of subcommands, in help order: X(name, summary). */
#include "commands.def"

#define FR__CLI_DECL(name, summary) int fr_cmd_##name(int argc, char **argv);
FR_CLI_COMMANDS(FR__CLI_DECL)
#undef FR__CLI_DECL

/* Prints "fraud <cmd>: message" to stderr and returns FR_EXIT_USAGE.  Card
 * numbers in the message (a flag's value it quotes) are masked
 * (fr_mask_card_numbers; decimal numbers are left alone). */
int fr_cli_usage_error(const char *cmd, const char *fmt, ...) FR_PRINTF(2, 3);

/* The usage error of a number flag out of its range: "<what> from <lo> to
 * <hi>, not '<value>'", with card numbers masked in value only, so that a
 * bound as long as a card number (2^63 - 1) is printed as it is.  Returns
 * FR_EXIT_USAGE. */
int fr_cli_usage_error_range(const char *cmd, const char *what, long long lo, long long hi,
                             const char *value);

/* Prints "fraud <cmd>: <err->msg>" (or the code's description) to stderr and
 * returns FR_EXIT_FAIL.  Card numbers in the message (a cell quoted by a
 * parser) are masked (fr_mask_card_numbers). */
int fr_cli_fail(const char *cmd, const fr_error *err);

/* 1 when argv contains -h or --help before a "--". */
int fr_cli_wants_help(int argc, char **argv);


#include "fraud/data.h"

/* Parses "fail" or "skip" for --on-bad-row into ro->on_bad_row.  Returns 0,
 * or prints a usage error for `cmd` and returns FR_EXIT_USAGE. */
int fr_cli_bad_row(const char *cmd, const char *value, fr_read_options *ro);

/* The skip note of a "wrote N rows" line, as `train` gives its count:
 * " (M skipped)" under --on-bad-row skip, with ", the first: REASON" (the
 * reader's message, which names path:line:column) when a row was skipped;
 * "" under fail.  Writes into buf (cap bytes) and returns it. */
const char *fr_cli_skip_note(const fr_read_options *ro, const fr_read_summary *s, char *buf,
                             size_t cap);

/* 1 when an option's number text has no blank at either end (and is not
 * empty): fr_parse_double and fr_parse_int64 allow surrounding blanks (a CSV
 * cell " 12.5" is a number), but on a command line ' 0.5' is a quoting
 * mistake, refused rather than read. */
int fr_cli_number_text_ok(const char *value);
/* Parses a floating-point option value (locale-independent, no surrounding
 * blanks); 0 or usage error naming the option. */
int fr_cli_double(const char *cmd, const char *opt, const char *value,
                  double *out);
/* Parses an integer option value (no surrounding blanks); 0 or usage error
 * naming the option. */
int fr_cli_int(const char *cmd, const char *opt, const char *value, long lo,
               long hi, long *out);

struct fr_train_job;
/* The checks `fraud train` and `fraud tune` make before reading any data,
 * as usage errors naming the flags: --valid-fraction and --test-fraction
 * each in (0, 1) and summing to less than 1, and --name/--version agreeing
 * with an --out path in a model repository layout
 * (fr_train_bundle_identity).  0 or FR_EXIT_USAGE (message printed). */
int fr_cli_train_job_check(const char *cmd, const struct fr_train_job *job);

/* The errno of the first write to standard output that failed while the
 * command ran, 0 if none (main.c keeps it: stdio does not). */
int fr_cli_stdout_errno(void);

/* 1 when an output path means standard output ("-"). */
int fr_cli_is_stdout(const char *path);

/* The usage checks of an output path `out` (-o) before any work: not empty;
 * not the same file as one of inputs[0..ninputs) (NULL entries skipped;
 * compared by st_dev/st_ino when both exist, so links and other spellings
 * count); and not inside the directory of `model` (NULL: none): a bundle or
 * version directory, or the directory of a model file that holds a
 * manifest.json, nor the model file itself, as a model version is
 * immutable.  "-" (standard output) and NULL pass.  0 or FR_EXIT_USAGE
 * (message printed). */
int fr_cli_output_check(const char *cmd, const char *out, const char *const *inputs,
                        size_t ninputs, const char *model);

/* Holds (hold = 1) or releases (0) SIGINT, SIGTERM and SIGHUP for this
 * process, around writing a model version: an interruption then takes
 * effect only once the version is complete, so no temporary directory is
 * left in the model repository.  A signal that arrived meanwhile acts on
 * release. */
void fr_cli_hold_signals(int hold);

/* Interruptions of a command that writes a model version while other
 * threads run (XGBoost's OpenMP workers).  A mask set with
 * fr_cli_hold_signals on the main thread does not reach threads created
 * before it, and a process-directed signal goes to any thread that does
 * not block it; so this blocks SIGINT, SIGTERM and SIGHUP in the calling
 * thread before any other thread exists (every thread created afterwards
 * inherits the mask) and starts one thread that takes them with sigwait:
 *   - before fr_cli_interrupts_defer, a signal prints
 *     "fraud CMD: interrupted by SIGxxx; IDLE_MSG" and ends the process
 *     by that signal (status 128 + signal number in a shell);
 *   - after it, the signal is recorded and acts in fr_cli_interrupts_finish.
 * A signal the process inherited as ignored (nohup) stays ignored.
 * Call fr_cli_interrupts_start first thing after the arguments are
 * checked, from the only thread; 0, or -1 when the thread cannot start
 * (then signals keep their default action).  idle_msg must outlive the
 * process (a string literal). */
int fr_cli_interrupts_start(const char *cmd, const char *idle_msg);

/* Tells the watcher whether a progress line without its newline is on
 * stderr (1) or not (0), so that its message starts on a line of its own. */
void fr_cli_interrupts_line_open(int open);

/* From here on, a signal waits for fr_cli_interrupts_finish (one-way: the
 * version being written is only final once the command reports it). */
void fr_cli_interrupts_defer(void);

/* When a signal arrived while deferred: prints "fraud CMD: interrupted by
 * SIGxxx while writing; " and the printf-style message (what was or was
 * not written), flushes stdio and ends the process by that signal; does
 * not return then.  Otherwise returns at once. */
void fr_cli_interrupts_finish(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
