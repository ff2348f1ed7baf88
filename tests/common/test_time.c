/* Tests src/common/time.c: event-time parsing, durations, civil dates. */
#include <criterion/criterion.h>
#include <math.h>

#include "fraud/common.h"

static double parse_fmt(fr_time_kind kind, const char *fmt, int32_t off,
                        const char *s) {
  fr_time_format tf = {.kind = kind, .utc_offset_seconds = off};
  snprintf(tf.format, sizeof tf.format, "%s", fmt ? fmt : "");
  double t = NAN;
  cr_assert_eq(fr_time_parse(&tf, s, strlen(s), &t), 0, "cannot parse '%s'", s);
  return t;
}

Test(time, civil_dates) {
  /* `date -u -d 2012-01-01 +%s` = 1325376000 */
  cr_assert_eq(fr_days_from_civil(1970, 1, 1), 0);
  cr_assert_eq(fr_days_from_civil(2012, 1, 1) * 86400, 1325376000);
  cr_assert_eq(fr_days_from_civil(2000, 3, 1), 11017);
}

Test(time, strftime_formats) {
  /* Sparkov: trans_date_trans_time "2019-01-01 00:00:18" (UTC). */
  cr_assert_eq(parse_fmt(FR_TIME_STRFTIME, "%Y-%m-%d %H:%M:%S", 0,
                         "2019-01-01 00:00:18"),
               1546300818.0);
  cr_assert_eq(parse_fmt(FR_TIME_STRFTIME, "%FT%T%z", 0, "2019-01-01T01:00:18+01:00"),
               1546300818.0);
  cr_assert_eq(parse_fmt(FR_TIME_STRFTIME, "%FT%T%z", 0, "2019-01-01T00:00:18Z"),
               1546300818.0);
  /* A fixed offset of -5 h: 2019-01-01 00:00:00 local = 05:00 UTC. */
  cr_assert_eq(parse_fmt(FR_TIME_STRFTIME, "%F %T", -5 * 3600, "2019-01-01 00:00:00"),
               1546318800.0);
  cr_assert_float_eq(parse_fmt(FR_TIME_STRFTIME, "%F %T", 0, "1970-01-01 00:00:01.25"),
                     1.25, 1e-9);
}

Test(time, numeric_kinds) {
  fr_time_format tf = {.kind = FR_TIME_OFFSET_HOURS, .origin = 1000.0};
  double t;
  cr_assert_eq(fr_time_parse(&tf, "3", 1, &t), 0);
  cr_assert_eq(t, 1000.0 + 3 * 3600);
  tf.kind = FR_TIME_EPOCH_MILLIS;
  cr_assert_eq(fr_time_parse(&tf, "1500", 4, &t), 0);
  cr_assert_eq(t, 1.5);
}

Test(time, rejects_bad_times) {
  fr_time_format tf = {.kind = FR_TIME_STRFTIME};
  snprintf(tf.format, sizeof tf.format, "%%F %%T");
  const char *bad[] = {"", "2019-13-01 00:00:00", "2019-02-30 00:00:00",
                       "2019-01-01 25:00:00", "2019-01-01", "2019-01-01 00:00:00x"};
  double t;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(fr_time_parse(&tf, bad[i], strlen(bad[i]), &t), FR_EPARSE,
                 "'%s' should be rejected", bad[i]);
}

Test(time, durations) {
  double s;
  cr_assert_eq(fr_parse_duration("1h", &s), 0);
  cr_assert_eq(s, 3600);
  cr_assert_eq(fr_parse_duration("24h", &s), 0);
  cr_assert_eq(s, 86400);
  cr_assert_eq(fr_parse_duration("7d", &s), 0);
  cr_assert_eq(s, 604800);
  cr_assert_eq(fr_parse_duration("500ms", &s), 0);
  cr_assert_eq(s, 0.5);
  cr_assert_eq(fr_parse_duration("5 parsecs", &s), FR_EPARSE);
  cr_assert_eq(fr_parse_duration("10", &s), FR_EPARSE);
  cr_assert_eq(fr_parse_duration("-1h", &s), FR_EPARSE);
}

Test(time, iso8601) {
  char buf[40];
  fr_fmt_iso8601(buf, sizeof buf, 1546300818.0);
  cr_assert_str_eq(buf, "2019-01-01T00:00:18Z");
  fr_fmt_iso8601(buf, sizeof buf, 1.5);
  cr_assert_str_eq(buf, "1970-01-01T00:00:01.500Z");
}

/* The hard event-time range: what int64 nanoseconds hold.  The bounds'
 * dates come from Python's datetime (1970-01-01 +- 9223372036 s =
 * 1677-09-21T00:12:44Z and 2262-04-11T23:47:16Z; 2**63 ns = 9223372036.85 s). */
Test(time, hard_range) {
  fr_time_format tf = {.kind = FR_TIME_EPOCH_SECONDS};
  const char *absurd[] = {"1e300", "99999999999999999999", "-99999999999", "1e19",
                          "9223372037", "-9223372037"};
  double t;
  for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++)
    cr_assert_eq(fr_time_parse(&tf, absurd[i], strlen(absurd[i]), &t), FR_ERANGE,
                 "'%s' should be out of range", absurd[i]);
  cr_assert_eq(fr_time_parse(&tf, "9223372036", 10, &t), 0);
  cr_assert_eq(t, 9223372036.0);
  cr_assert_eq(fr_time_parse(&tf, "-9223372036", 11, &t), 0);
  tf.kind = FR_TIME_EPOCH_MILLIS;
  cr_assert_eq(fr_time_parse(&tf, "9223372036000", 13, &t), 0);
  cr_assert_eq(fr_time_parse(&tf, "9223372037000", 13, &t), FR_ERANGE);
  tf.kind = FR_TIME_OFFSET_HOURS;
  tf.origin = 1483228800.0; /* PaySim's 2017-01-01 */
  cr_assert_eq(fr_time_parse(&tf, "1e12", 4, &t), FR_ERANGE);
  tf = (fr_time_format){.kind = FR_TIME_STRFTIME};
  snprintf(tf.format, sizeof tf.format, "%%FT%%T%%z");
  const char *lo = "1677-09-21T00:12:44Z", *hi = "2262-04-11T23:47:16Z";
  cr_assert_eq(fr_time_parse(&tf, lo, strlen(lo), &t), 0);
  cr_assert_eq(t, -9223372036.0);
  cr_assert_eq(fr_time_parse(&tf, hi, strlen(hi), &t), 0);
  cr_assert_eq(t, 9223372036.0);
  const char *out[] = {"1677-09-21T00:12:43Z", "2262-04-11T23:47:17Z", "9999-12-31T23:59:59Z",
                       "0000-01-01T00:00:00Z"};
  for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
    cr_assert_eq(fr_time_parse(&tf, out[i], strlen(out[i]), &t), FR_ERANGE, "%s", out[i]);
}

/* Every double formats without undefined behaviour (UBSan watches this test
 * in the sanitizer build): the bounds as dates, the rest as numbers. */
Test(time, iso8601_any_double) {
  char buf[48];
  fr_fmt_iso8601(buf, sizeof buf, -9223372036.0);
  cr_assert_str_eq(buf, "1677-09-21T00:12:44Z");
  fr_fmt_iso8601(buf, sizeof buf, 9223372036.0);
  cr_assert_str_eq(buf, "2262-04-11T23:47:16Z");
  fr_fmt_iso8601(buf, sizeof buf, -0.0004); /* rounds up to the epoch */
  cr_assert_str_eq(buf, "1970-01-01T00:00:00Z");
  fr_fmt_iso8601(buf, sizeof buf, NAN);
  cr_assert_str_eq(buf, "NaN");
  fr_fmt_iso8601(buf, sizeof buf, INFINITY);
  cr_assert_str_eq(buf, "+inf");
  fr_fmt_iso8601(buf, sizeof buf, -INFINITY);
  cr_assert_str_eq(buf, "-inf");
  fr_fmt_iso8601(buf, sizeof buf, 1e300);
  cr_assert_str_eq(buf, "1e+300s");
  fr_fmt_iso8601(buf, sizeof buf, 1e19);
  cr_assert_str_eq(buf, "1e+19s");
  fr_fmt_iso8601(buf, sizeof buf, -9223372036854775808.0);
  cr_assert_str_eq(buf, "-9.223372036854776e+18s");
  fr_fmt_iso8601(buf, sizeof buf, 1e15); /* the first value written as a number */
  cr_assert_str_eq(buf, "1e+15s");
}

/* Log timestamps: always three fraction digits, ".000" included (a whole
 * second lost them with fr_fmt_iso8601, one log line in a thousand). */
Test(time, iso8601_ms) {
  char buf[40];
  cr_assert_eq(fr_fmt_iso8601_ms(buf, sizeof buf, 1546300818.0), 24);
  cr_assert_str_eq(buf, "2019-01-01T00:00:18.000Z");
  fr_fmt_iso8601_ms(buf, sizeof buf, 1.5);
  cr_assert_str_eq(buf, "1970-01-01T00:00:01.500Z");
  fr_fmt_iso8601_ms(buf, sizeof buf, 1.0006); /* rounds to the nearest ms */
  cr_assert_str_eq(buf, "1970-01-01T00:00:01.001Z");
  fr_fmt_iso8601_ms(buf, sizeof buf, 59.9996); /* carries into the minute */
  cr_assert_str_eq(buf, "1970-01-01T00:01:00.000Z");
  fr_fmt_iso8601_ms(buf, sizeof buf, NAN);
  cr_assert_str_eq(buf, "NaN");
}
