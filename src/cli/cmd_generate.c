/*
 * cmd_generate.c - `fraud generate`: synthetic card transactions in
 * schemas/synthetic.yaml's format (src/data/generate.c does the work).
 */
#include "cli.h"
#include "fraud/data.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: fraud generate [--rows N] [--cards N] [--merchants N] [--days N]\n"
    "                      [--fraud-rate R] [--seed S] [--noise-fraud R]\n"
    "                      [--noise-legit R] [--start TIME] [-o FILE]\n\n"
    "Writes synthetic card transactions (schema 'synthetic') in event-time\n"
    "order: cardholders with a home city, spending level, active hours and\n"
    "favourite merchants; merchants with an MCC and a city; chip, swipe,\n"
    "contactless and e-commerce channels; daily and weekly cycles; and fraud\n"
    "scenarios (card testing, stolen card, account takeover, merchant\n"
    "compromise) with label noise.  The same options and seed give the same\n"
    "bytes.  See docs/data.md.\n\n"
    "options:\n"
    "  --rows N          transactions to write (default 100000)\n"
    "  --cards N         cards (default 5000)\n"
    "  --merchants N     merchants (default 1000)\n"
    "  --days N          days the traffic spans (default 30)\n"
    "  --fraud-rate R    share of rows made by fraud scenarios (default 0.01)\n"
    "  --seed S          random seed (default 1)\n"
    "  --noise-fraud R   share of fraud rows labelled 0 (default 0.02)\n"
    "  --noise-legit R   share of legitimate rows labelled 1 (default 0.0002)\n"
    "  --start TIME      first day, ISO 8601 UTC (default 2024-01-01T00:00:00Z);\n"
    "                    the days must lie in 1677-09-21T00:12:44Z ..\n"
    "                    2262-04-11T23:47:16Z, the event times the reader accepts\n"
    "  -o FILE           output file, gzip-compressed when it ends in .gz\n"
    "                    (default: standard output)\n"
    "  -h, --help        show this help\n";

static int want_value(const char *opt, const char *v) {
  if (!v)
    return fr_cli_usage_error("generate", "%s needs a value", opt);
  return 0;
}

static int parse_count(const char *opt, const char *v, uint64_t max, uint64_t *out) {
  int64_t x;
  if (want_value(opt, v))
    return FR_EXIT_USAGE;
  if (fr_parse_int64(v, strlen(v), &x) != 0 || x < 1 || (uint64_t)x > max)
  {
    char what[160];
    snprintf(what, sizeof what, "%s: expected a whole number", opt);
    return fr_cli_usage_error_range("generate", what, 1, (long long)max, v);
  }
  *out = (uint64_t)x;
  return 0;
}

static int parse_rate(const char *opt, const char *v, double *out) {
  double x;
  if (want_value(opt, v))
    return FR_EXIT_USAGE;
  if (fr_parse_double(v, strlen(v), &x) != 0 || !(x >= 0 && x <= 0.5))
    return fr_cli_usage_error("generate", "%s: expected a rate from 0 to 0.5, got '%s'",
                              opt, v);
  *out = x;
  return 0;
}

int fr_cmd_generate(int argc, char **argv) {
  if (fr_cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return FR_EXIT_OK;
  }
  fr_gen_config c;
  fr_gen_config_default(&c);
  const char *out = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char *eq = strchr(a, '=');
    char name[64];
    if (a[0] == '-' && a[1] == '-' && eq && (size_t)(eq - a) < sizeof name) {
      memcpy(name, a, (size_t)(eq - a));
      name[eq - a] = '\0';
      a = name;
      v = eq + 1;
    } else if (a[0] == '-') {
      i++; /* the value is the next argument */
    }
    uint64_t n;
    int rc = 0;
    if (!strcmp(a, "--rows")) {
      rc = parse_count(a, v, UINT64_MAX >> 1, &c.rows);
    } else if (!strcmp(a, "--cards")) {
      rc = parse_count(a, v, 9999999, &n);
      c.cards = (uint32_t)n;
    } else if (!strcmp(a, "--merchants")) {
      rc = parse_count(a, v, 999999, &n);
      c.merchants = (uint32_t)n;
    } else if (!strcmp(a, "--days")) {
      rc = parse_count(a, v, 36500, &n);
      c.days = (uint32_t)n;
    } else if (!strcmp(a, "--seed")) {
      int64_t s;
      if (!(rc = want_value(a, v)) && fr_parse_int64(v, strlen(v), &s) != 0)
        rc = fr_cli_usage_error("generate", "--seed: expected an integer, got '%s'", v);
      c.seed = (uint64_t)s;
    } else if (!strcmp(a, "--fraud-rate")) {
      rc = parse_rate(a, v, &c.fraud_rate);
    } else if (!strcmp(a, "--noise-fraud")) {
      rc = parse_rate(a, v, &c.noise_fraud_as_legit);
    } else if (!strcmp(a, "--noise-legit")) {
      rc = parse_rate(a, v, &c.noise_legit_as_fraud);
    } else if (!strcmp(a, "--start")) {
      fr_time_format tf = {.kind = FR_TIME_STRFTIME, .format = "%Y-%m-%dT%H:%M:%S%z"};
      int prc = 0;
      if (!(rc = want_value(a, v)) && (prc = fr_time_parse(&tf, v, strlen(v), &c.start_time)))
        /* FR_ERANGE: the text is a time, outside what an event time can
         * be (FR_TIME_MIN_SECONDS .. FR_TIME_MAX_SECONDS). */
        rc = prc == FR_ERANGE
                 ? fr_cli_usage_error("generate", "--start '%s' is outside the supported "
                                      "range of event times, 1677-09-21T00:12:44Z .. "
                                      "2262-04-11T23:47:16Z", v)
                 : fr_cli_usage_error("generate", "--start: expected an ISO 8601 time such "
                                      "as 2024-01-01T00:00:00Z, got '%s'", v);
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!(rc = want_value(a, v)))
        out = v;
    } else if (a[0] == '-') {
      return fr_cli_usage_error("generate", "unknown option '%s'", argv[i - (eq == NULL)]);
    } else {
      return fr_cli_usage_error("generate", "unexpected argument '%s'", a);
    }
    if (rc)
      return rc;
  }
  if (fr_cli_output_check("generate", out, NULL, 0, NULL))
    return FR_EXIT_USAGE;
  /* The last day must end inside the event-time range the reader accepts
   * (a start before 1677-09-21T00:12:44Z is refused above as out of
   * range). */
  if (!(c.start_time + (double)c.days * 86400.0 <= FR_TIME_MAX_SECONDS)) {
    char st[40];
    fr_fmt_iso8601(st, sizeof st, c.start_time);
    return fr_cli_usage_error("generate",
                              "--start %s with --days %u ends after 2262-04-11T23:47:16Z, the "
                              "last event time the reader accepts",
                              st, (unsigned)c.days);
  }
  fr_error err = {0};
  if (fr_generate_csv(&c, out, &err) != 0)
    return fr_cli_fail("generate", &err);
  return FR_EXIT_OK;
}
