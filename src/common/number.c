/*
 * number.c - number parsing and printing that never depends on the process
 * locale (CONVENTIONS.md rule 11).  strtod and printf honour LC_NUMERIC, so a
 * program run under de_DE would read "149.62" as 149; we use the *_l variants
 * with a C locale object created once.
 *
 * Reading numbers is most of the work of loading a CSV file, so
 * fr_parse_double first tries Clinger's fast path on the text in place (no
 * copy, no locale): plain decimal text whose significant digits fit in 2^53
 * and whose power of ten is exact is converted with one IEEE multiplication
 * or division, which is correctly rounded and therefore the very double
 * strtod_l returns.  Anything else (more digits, large exponents, "inf",
 * "nan", malformed text) goes to strtod_l as before.
 */
#include "fraud/common.h"

#include <errno.h>
#include <float.h>
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

/* Clinger's fast path (W. D. Clinger, "How to Read Floating Point Numbers
 * Accurately", PLDI 1990, section 7): when the decimal significand m is an
 * integer with m <= 2^53 and the power of ten 10^|e| with |e| <= 22 is itself
 * exactly a double, m * 10^e (or m / 10^-e) is one IEEE-754 operation on
 * exact operands, hence correctly rounded: the value strtod computes with
 * its arbitrary-precision algorithm.  The sign is applied before the
 * operation so that a directed rounding mode rounds the signed value, as
 * strtod does.  Needs double arithmetic evaluated in double
 * (FLT_EVAL_METHOD 0: SSE2 on x86-64, AArch64); on x87 the path is off.
 *
 * Accepts exactly [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
 * over the whole of s[0..len); returns 1 with *out set, or 0 for anything
 * else (the caller then asks strtod_l, which also handles what this path
 * declines: more than 19 significant digits, m > 2^53, |e| > 22). */
static int parse_fast(const char *s, size_t len, double *out) {
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
  static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                   1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
                                   1e18, 1e19, 1e20, 1e21, 1e22};
  const char *p = s, *end = s + len;
  int neg = 0;
  if (p < end && (*p == '+' || *p == '-')) {
    neg = *p == '-';
    p++;
  }
  uint64_t m = 0;
  int nd = 0;  /* significant digits in m (leading zeros do not count) */
  int e10 = 0; /* decimal exponent of m */
  const char *d0 = p;
  for (; p < end && (unsigned)(*p - '0') < 10; p++) {
    if (m == 0 && *p == '0')
      continue;
    if (++nd > 19) /* m could overflow 64 bits */
      return 0;
    m = m * 10 + (uint64_t)(*p - '0');
  }
  int ndig = (int)(p - d0);
  if (p < end && *p == '.') {
    const char *f0 = ++p;
    for (; p < end && (unsigned)(*p - '0') < 10; p++) {
      e10--;
      if (m == 0 && *p == '0')
        continue;
      if (++nd > 19)
        return 0;
      m = m * 10 + (uint64_t)(*p - '0');
    }
    ndig += (int)(p - f0);
  }
  if (ndig == 0) /* "", ".", "+", "e5": not a number */
    return 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    int eneg = 0;
    if (p < end && (*p == '+' || *p == '-')) {
      eneg = *p == '-';
      p++;
    }
    const char *x0 = p;
    int x = 0;
    for (; p < end && (unsigned)(*p - '0') < 10; p++)
      if (x < 100000) /* saturates: anything this large declines below */
        x = x * 10 + (*p - '0');
    if (p == x0)
      return 0;
    e10 += eneg ? -x : x;
  }
  if (p != end || m > (UINT64_C(1) << 53) || e10 < -22 || e10 > 22)
    return 0;
  double v = neg ? -(double)m : (double)m;
  *out = e10 < 0 ? v / pow10[-e10] : v * pow10[e10];
  return 1;
#else
  (void)s;
  (void)len;
  (void)out;
  return 0;
#endif
}

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
  if (parse_fast(s, len, out))
    return 0;
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
