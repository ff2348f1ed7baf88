/*
 * number.c - number parsing and printing that never depends on the process
 * locale (CONVENTIONS.md rule 11).  strtod and printf honour LC_NUMERIC, so a
 * program run under de_DE would read "149.62" as 149; we use the *_l variants
 * with a C locale object created once.
 */
#include "fraud/common.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static locale_t g_c_locale;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_c_locale(void) {
  g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t c_locale(void) {
  pthread_once(&g_once, init_c_locale);
  return g_c_locale;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

int fr_parse_double(const char *s, size_t len, double *out) {
  while (len > 0 && is_blank(*s)) {
    s++;
    len--;
  }
  while (len > 0 && is_blank(s[len - 1]))
    len--;
  if (len == 0)
    return FR_EPARSE;
  char buf[128];
  if (len >= sizeof buf)
    return FR_EPARSE;
  memcpy(buf, s, len);
  buf[len] = '\0';
  /* strtod accepts hexadecimal floats and "infinity"/"nan(...)"; CSV exports
   * never mean those, so reject hex to keep "0x10" from parsing as 16. */
  const char *p = buf;
  if (*p == '+' || *p == '-')
    p++;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    return FR_EPARSE;
  char *end = NULL;
  double v = strtod_l(buf, &end, c_locale());
  if (end == buf || *end != '\0')
    return FR_EPARSE;
  *out = v;
  return 0;
}

int fr_parse_int64(const char *s, size_t len, int64_t *out) {
  while (len > 0 && is_blank(*s)) {
    s++;
    len--;
  }
  while (len > 0 && is_blank(s[len - 1]))
    len--;
  if (len == 0 || len >= 32)
    return FR_EPARSE;
  char buf[32];
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *end = NULL;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (end == buf || *end != '\0')
    return FR_EPARSE;
  if (errno == ERANGE)
    return FR_ERANGE;
  *out = (int64_t)v;
  return 0;
}

int fr_vsnprintf_c(char *buf, size_t cap, const char *fmt, va_list ap) {
  locale_t old = uselocale(c_locale());
  int n = vsnprintf(buf, cap, fmt, ap);
  uselocale(old);
  return n;
}

int fr_snprintf_c(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = fr_vsnprintf_c(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}

static int fmt_special(char *buf, size_t cap, double v) {
  if (isnan(v))
    return snprintf(buf, cap, "nan");
  if (isinf(v))
    return snprintf(buf, cap, v > 0 ? "inf" : "-inf");
  return -1;
}

int fr_fmt_double(char *buf, size_t cap, double v) {
  int n = fmt_special(buf, cap, v);
  if (n >= 0)
    return n;
  /* Shortest precision that round-trips: try 15, 16, 17 significant digits. */
  char tmp[40];
  for (int prec = 15; prec <= 17; prec++) {
    fr_snprintf_c(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod_l(tmp, NULL, c_locale()) == v)
      break;
  }
  return snprintf(buf, cap, "%s", tmp);
}

int fr_fmt_float(char *buf, size_t cap, float v) {
  int n = fmt_special(buf, cap, (double)v);
  if (n >= 0)
    return n;
  char tmp[40];
  for (int prec = 6; prec <= 9; prec++) {
    fr_snprintf_c(tmp, sizeof tmp, "%.*g", prec, (double)v);
    if (strtof_l(tmp, NULL, c_locale()) == v)
      break;
  }
  return snprintf(buf, cap, "%s", tmp);
}
