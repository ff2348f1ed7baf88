/*
 * time.c - event-time parsing and clocks.
 *
 * Every time the system reasons about is seconds since the Unix epoch in UTC,
 * so deltas and windows are plain subtraction and a daylight-saving change can
 * never make a delta negative.  Naive local times in an IANA zone are
 * converted through the zone's rules (tz.c).  Civil dates are converted with H. Hinnant's
 * days_from_civil algorithm (public domain), which avoids timegm()/mktime()
 * and their dependence on the TZ environment variable.
 */
#include "fraud/common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t fr_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = (int64_t)yoe + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

static int is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Reads exactly up to `maxd` digits (at least 1) into *v. */
static int read_int(const char **p, const char *end, int maxd, int64_t *v) {
  int64_t x = 0;
  int nd = 0;
  while (*p < end && nd < maxd && **p >= '0' && **p <= '9') {
    x = x * 10 + (**p - '0');
    (*p)++;
    nd++;
  }
  if (nd == 0)
    return -1;
  *v = x;
  return 0;
}

static int parse_strftime(const char *fmt, int32_t default_offset,
                          const fr_tz *zone, double hint, const char *s,
                          size_t len, double *out) {
  const char *p = s, *end = s + len;
  int64_t Y = 1970, mo = 1, D = 1, H = 0, Mi = 0, S = 0;
  double frac = 0.0;
  int have_z = 0;
  int32_t offset = default_offset;
  char expanded[160];
  /* Expand %T and %F first so the main loop only sees atoms. */
  size_t o = 0;
  for (const char *f = fmt; *f && o + 12 < sizeof expanded; f++) {
    if (f[0] == '%' && f[1] == 'T') {
      memcpy(expanded + o, "%H:%M:%S", 8);
      o += 8;
      f++;
    } else if (f[0] == '%' && f[1] == 'F') {
      memcpy(expanded + o, "%Y-%m-%d", 8);
      o += 8;
      f++;
    } else {
      expanded[o++] = *f;
    }
  }
  expanded[o] = '\0';

  for (const char *f = expanded; *f; f++) {
    if (*f != '%') {
      if (p >= end || *p != *f)
        return FR_EPARSE;
      p++;
      continue;
    }
    f++;
    switch (*f) {
    case 'Y':
      if (read_int(&p, end, 4, &Y))
        return FR_EPARSE;
      break;
    case 'm':
      if (read_int(&p, end, 2, &mo))
        return FR_EPARSE;
      break;
    case 'd':
      if (read_int(&p, end, 2, &D))
        return FR_EPARSE;
      break;
    case 'H':
      if (read_int(&p, end, 2, &H))
        return FR_EPARSE;
      break;
    case 'M':
      if (read_int(&p, end, 2, &Mi))
        return FR_EPARSE;
      break;
    case 'S':
      if (read_int(&p, end, 2, &S))
        return FR_EPARSE;
      if (p < end && *p == '.') {
        const char *q = ++p;
        double scale = 0.1;
        while (p < end && *p >= '0' && *p <= '9') {
          frac += (*p - '0') * scale;
          scale /= 10;
          p++;
        }
        if (p == q)
          return FR_EPARSE;
      }
      break;
    case 'z': {
      if (p < end && (*p == 'Z' || *p == 'z')) {
        p++;
        offset = 0;
      } else {
        if (p >= end || (*p != '+' && *p != '-'))
          return FR_EPARSE;
        int sign = *p == '-' ? -1 : 1;
        p++;
        int64_t hh, mm = 0;
        if (read_int(&p, end, 2, &hh))
          return FR_EPARSE;
        if (p < end && *p == ':')
          p++;
        if (p < end && *p >= '0' && *p <= '9' && read_int(&p, end, 2, &mm))
          return FR_EPARSE;
        if (hh > 23 || mm > 59)
          return FR_EPARSE;
        offset = (int32_t)(sign * (hh * 3600 + mm * 60));
      }
      have_z = 1;
      break;
    }
    case '%':
      if (p >= end || *p != '%')
        return FR_EPARSE;
      p++;
      break;
    default:
      return FR_EPARSE;
    }
  }
  if (p != end)
    return FR_EPARSE;
  if (mo < 1 || mo > 12 || D < 1 || D > (int64_t)days_in_month(Y, (unsigned)mo) ||
      H > 23 || Mi > 59 || S > 60)
    return FR_EPARSE;
  int64_t days = fr_days_from_civil(Y, (unsigned)mo, (unsigned)D);
  double t = (double)(days * 86400 + H * 3600 + Mi * 60 + S) + frac;
  if (!have_z && zone) {
    /* Naive civil time in an IANA zone: the zone's rules decide the offset,
     * including the repeated hour of a fall-back night (see tz.c). */
    double whole = (double)(days * 86400 + H * 3600 + Mi * 60 + S), u;
    if (fr_tz_local_to_utc(zone, whole, isnan(hint) ? hint : hint - frac, &u))
      return FR_EPARSE;
    *out = u + frac;
    return 0;
  }
  *out = t - offset;
  return 0;
}

int fr_time_parse(const fr_time_format *fmt, const char *s, size_t len,
                  double *epoch_seconds) {
  return fr_time_parse_hint(fmt, s, len, NAN, epoch_seconds);
}

static int parse_any(const fr_time_format *fmt, const char *s, size_t len,
                     double hint, double *epoch_seconds);

int fr_time_parse_hint(const fr_time_format *fmt, const char *s, size_t len,
                       double hint, double *epoch_seconds) {
  double t;
  int rc = parse_any(fmt, s, len, hint, &t);
  if (rc)
    return rc;
  /* One check for every format: a NaN cannot get here (each parser refuses
   * it), and the negated test keeps any that ever did out too. */
  if (!(t >= FR_TIME_MIN_SECONDS && t <= FR_TIME_MAX_SECONDS))
    return FR_ERANGE;
  *epoch_seconds = t;
  return 0;
}

static int parse_any(const fr_time_format *fmt, const char *s, size_t len,
                     double hint, double *epoch_seconds) {
  double v;
  switch (fmt->kind) {
  case FR_TIME_EPOCH_SECONDS:
    if (fr_parse_double(s, len, &v) || !isfinite(v))
      return FR_EPARSE;
    *epoch_seconds = v;
    return 0;
  case FR_TIME_EPOCH_MILLIS:
    if (fr_parse_double(s, len, &v) || !isfinite(v))
      return FR_EPARSE;
    *epoch_seconds = v / 1000.0;
    return 0;
  case FR_TIME_OFFSET_SECONDS:
    if (fr_parse_double(s, len, &v) || !isfinite(v))
      return FR_EPARSE;
    *epoch_seconds = fmt->origin + v;
    return 0;
  case FR_TIME_OFFSET_HOURS:
    if (fr_parse_double(s, len, &v) || !isfinite(v))
      return FR_EPARSE;
    *epoch_seconds = fmt->origin + v * 3600.0;
    return 0;
  case FR_TIME_STRFTIME:
    while (len > 0 && (*s == ' ' || *s == '\t')) {
      s++;
      len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
      len--;
    if (len == 0)
      return FR_EPARSE;
    return parse_strftime(fmt->format, fmt->utc_offset_seconds, fmt->zone,
                          hint, s, len, epoch_seconds);
  }
  return FR_EINVAL;
}

static int fmt_iso8601(char *buf, size_t cap, double t, int always_ms) {
  /* Outside +-1e15 s the day arithmetic below would still fit int64, but
   * the cast of floor(t) to int64 and the negation of INT64_MIN would not
   * (undefined behaviour), and a date of year 31,690,000 means nothing. */
  if (isnan(t))
    return fr_snprintf_c(buf, cap, "NaN");
  if (isinf(t))
    return fr_snprintf_c(buf, cap, t > 0 ? "+inf" : "-inf");
  if (!(fabs(t) < 1e15)) {
    char num[40];
    fr_fmt_double(num, sizeof num, t);
    return fr_snprintf_c(buf, cap, "%ss", num);
  }
  double fl = floor(t);
  int64_t secs = (int64_t)fl;
  int ms = (int)llround((t - fl) * 1000.0);
  if (ms >= 1000) {
    secs += 1;
    ms -= 1000;
  }
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  int hh = (int)(rem / 3600), mm = (int)(rem % 3600 / 60), ss = (int)(rem % 60);
  if (ms || always_ms)
    return snprintf(buf, cap, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                    (long long)y, m, d, hh, mm, ss, ms);
  return snprintf(buf, cap, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m,
                  d, hh, mm, ss);
}

int fr_fmt_iso8601(char *buf, size_t cap, double t) { return fmt_iso8601(buf, cap, t, 0); }

int fr_fmt_iso8601_ms(char *buf, size_t cap, double t) { return fmt_iso8601(buf, cap, t, 1); }

int fr_parse_duration(const char *s, double *seconds) {
  if (!s)
    return FR_EPARSE;
  while (*s == ' ')
    s++;
  const char *p = s;
  while ((*p >= '0' && *p <= '9') || *p == '.')
    p++;
  if (p == s)
    return FR_EPARSE;
  double v;
  if (fr_parse_double(s, (size_t)(p - s), &v) || !(v > 0) || !isfinite(v))
    return FR_EPARSE;
  const char *u = p;
  size_t ul = strlen(u);
  while (ul > 0 && u[ul - 1] == ' ')
    ul--;
  static const struct {
    const char *name;
    double mult;
  } units[] = {{"ms", 0.001}, {"s", 1},     {"m", 60},
               {"h", 3600},   {"d", 86400}, {"w", 604800}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strlen(units[i].name) == ul && strncmp(u, units[i].name, ul) == 0) {
      *seconds = v * units[i].mult;
      return 0;
    }
  }
  return FR_EPARSE;
}

double fr_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t fr_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
