/* Tests src/common/number.c: locale-independent number parsing/printing. */
#include <criterion/criterion.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud/common.h"

static double parse(const char *s) {
  double v = -12345;
  cr_assert_eq(fr_parse_double(s, strlen(s), &v), 0, "failed to parse '%s'", s);
  return v;
}

Test(number, scientific_notation) {
  cr_assert_eq(parse("-1e1"), -10.0);
  cr_assert_eq(parse("0e1"), 0.0);
  cr_assert_eq(parse("1E+05"), 100000.0);
  cr_assert_eq(parse("6.000000e-03"), 0.006);
  cr_assert_eq(parse(" 149.62 "), 149.62);
}

Test(number, rejects_garbage) {
  double v;
  const char *bad[] = {"", " ", "abc", "1.2.3", "12abc", "0x10", "1,5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(fr_parse_double(bad[i], strlen(bad[i]), &v), FR_EPARSE,
                 "'%s' should not parse", bad[i]);
}

Test(number, decimal_comma_locale) {
  /* Under de_DE strtod would stop at '.', reading 149.62 as 149. */
  if (!setlocale(LC_ALL, "de_DE.UTF-8"))
    cr_skip_test("de_DE.UTF-8 locale not installed (package locales-all)");
  cr_assert_eq(parse("149.62"), 149.62);
  char buf[64];
  fr_fmt_double(buf, sizeof buf, 149.62);
  cr_assert_str_eq(buf, "149.62");
  fr_snprintf_c(buf, sizeof buf, "%.2f", 0.5);
  cr_assert_str_eq(buf, "0.50");
  setlocale(LC_ALL, "C");
}

Test(number, shortest_round_trip) {
  char buf[64];
  fr_fmt_float(buf, sizeof buf, 0.1f);
  cr_assert_str_eq(buf, "0.1");
  fr_fmt_double(buf, sizeof buf, 0.1);
  cr_assert_str_eq(buf, "0.1");
  fr_fmt_double(buf, sizeof buf, 1.0 / 3.0);
  cr_assert_eq(strtod(buf, NULL), 1.0 / 3.0);
  fr_fmt_double(buf, sizeof buf, NAN);
  cr_assert_str_eq(buf, "nan");
}

Test(number, int64) {
  int64_t v;
  cr_assert_eq(fr_parse_int64("9000000000000001", 16, &v), 0);
  cr_assert_eq(v, 9000000000000001LL);
  cr_assert_eq(fr_parse_int64("99999999999999999999", 20, &v), FR_ERANGE);
  cr_assert_eq(fr_parse_int64("1.5", 3, &v), FR_EPARSE);
}

/* ---- fr_parse_double's fast path against strtod_l ----------------------
 * The reference is the parser as it was before the fast path: the trimmed
 * text copied, hex refused, strtod_l in the C locale, whole text consumed.
 * Every input must give the same return code and, when accepted, the same
 * double bit for bit (so -0.0 and 0.0 differ, and NaN payloads count). */

static locale_t ref_locale(void) {
  static locale_t c;
  if (!c)
    c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  return c;
}

static int ref_parse(const char *s, size_t len, double *out) {
  while (len > 0 && (*s == ' ' || *s == '\t')) {
    s++;
    len--;
  }
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
    len--;
  char buf[128];
  if (len == 0 || len >= sizeof buf)
    return FR_EPARSE;
  memcpy(buf, s, len);
  buf[len] = '\0';
  const char *p = buf + (buf[0] == '+' || buf[0] == '-');
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    return FR_EPARSE;
  char *end;
  double v = strtod_l(buf, &end, ref_locale());
  if (end == buf || *end != '\0')
    return FR_EPARSE;
  *out = v;
  return 0;
}

/* Compares one input (a disagreement fails the test, naming it). */
static void check_same(const char *s, size_t len) {
  double a = 0, b = 0;
  int ra = fr_parse_double(s, len, &a), rb = ref_parse(s, len, &b);
  cr_assert_eq(ra, rb, "'%.*s': fr_parse_double returned %d, reference %d",
               (int)len, s, ra, rb);
  if (ra == 0) {
    uint64_t x, y;
    memcpy(&x, &a, 8);
    memcpy(&y, &b, 8);
    cr_assert_eq(x, y, "'%.*s': %a (fr_parse_double) != %a (strtod_l)",
                 (int)len, s, a, b);
  }
}

static uint64_t rng_next(uint64_t *st) { /* splitmix64 */
  uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* A random text in one of several shapes: decimal with a random number of
 * digits around a random point, with leading/trailing zeros, exponents, a
 * sign, blanks; printf renderings of random doubles; near-boundary
 * significands (2^53 +- small); and random junk from the number alphabet. */
static size_t random_text(uint64_t *st, char *buf, size_t cap) {
  uint64_t r = rng_next(st);
  size_t n = 0;
  switch (r % 8) {
  case 0:
  case 1:
  case 2: {
    if (rng_next(st) % 4 == 0)
      buf[n++] = rng_next(st) % 2 ? '-' : '+';
    int lz = (int)(rng_next(st) % 4 == 0 ? rng_next(st) % 6 : 0);
    for (int i = 0; i < lz; i++)
      buf[n++] = '0';
    int nd = 1 + (int)(rng_next(st) % 22);
    int point = (int)(rng_next(st) % (nd + 2)) - 1; /* -1: no point */
    for (int i = 0; i < nd; i++) {
      if (i == point)
        buf[n++] = '.';
      buf[n++] = (char)('0' + rng_next(st) % 10);
    }
    if (point == nd)
      buf[n++] = '.';
    int tz = (int)(rng_next(st) % 4 == 0 ? rng_next(st) % 5 : 0);
    for (int i = 0; i < tz; i++)
      buf[n++] = '0';
    if (rng_next(st) % 3 == 0) {
      buf[n++] = rng_next(st) % 2 ? 'e' : 'E';
      uint64_t k = rng_next(st) % 4;
      if (k == 1)
        buf[n++] = '-';
      else if (k == 2)
        buf[n++] = '+';
      int e = (int)(rng_next(st) % 4 == 0 ? rng_next(st) % 400
                                          : rng_next(st) % 30);
      n += (size_t)snprintf(buf + n, cap - n, "%d", e);
    }
    break;
  }
  case 3: { /* a random double, as a program would print it */
    uint64_t bits = rng_next(st);
    double v;
    memcpy(&v, &bits, 8);
    static const char *fmts[] = {"%.17g", "%.15g", "%.6f", "%.2f", "%g",
                                 "%.3e", "%.16e", "%.1f"};
    const char *fmt = fmts[rng_next(st) % 8];
    if (rng_next(st) % 2) { /* a moderate magnitude, like real data */
      v = (double)(int64_t)(rng_next(st) % 2000000001) / 1000.0 - 1000000.0;
      if (rng_next(st) % 2)
        v /= (double)(1 + rng_next(st) % 100000);
    }
    n = (size_t)fr_snprintf_c(buf, cap, fmt, v);
    if (n >= cap)
      n = cap - 1;
    break;
  }
  case 4: { /* around the 2^53 boundary, scaled by a power of ten */
    uint64_t m = (UINT64_C(1) << 53) - 8 + rng_next(st) % 17;
    int e = (int)(rng_next(st) % 51) - 25;
    n = (size_t)snprintf(buf, cap, "%s%llue%d", rng_next(st) % 2 ? "-" : "",
                         (unsigned long long)m, e);
    break;
  }
  case 5: { /* small integers times exact and inexact powers of ten */
    uint64_t m = rng_next(st) % 100000000;
    int e = (int)(rng_next(st) % 61) - 30;
    n = (size_t)snprintf(buf, cap, "%llue%d", (unsigned long long)m, e);
    break;
  }
  case 6: { /* junk over the number alphabet */
    static const char alpha[] = "0123456789+-.eE xXinfa\t,";
    size_t len = rng_next(st) % 12;
    for (size_t i = 0; i < len; i++)
      buf[n++] = alpha[rng_next(st) % (sizeof alpha - 1)];
    break;
  }
  default: { /* a decimal with blanks around it */
    double v = (double)(rng_next(st) % 100000000) / 100.0;
    n = (size_t)fr_snprintf_c(buf, cap, "%s%.2f%s",
                              rng_next(st) % 2 ? " " : "\t", v,
                              rng_next(st) % 2 ? "  " : "");
    break;
  }
  }
  buf[n] = '\0';
  return n;
}

static const char *edge_inputs[] = {
    "0", "-0", "+0", "0.0", "-0.0", "00000.00000", "0e0", "-0e-5", "0e999",
    ".5", "5.", "+.5e+1", "-5.e-1", ".", "+", "-", "e5", ".e5", "1e", "1e+",
    "1e-", "1..2", "1.2.3", "--1", "+-1", "1 2", "1e5.5", " 1", "1 ", "\t-3\t",
    "9007199254740992", "9007199254740993", "9007199254740991",
    "-9007199254740993", "9007199254740992e22", "9007199254740992e-22",
    "9007199254740993e-22", "1e22", "1e23", "1e-22", "1e-23", "123456789e22",
    "1234567890123456789", "12345678901234567890", "0.1", "0.2", "0.3",
    "149.62", "6.000000e-03", "1.7976931348623157e308", "1.8e308",
    "4.9e-324", "2.2250738585072014e-308", "2.2250738585072011e-308",
    "0.000000000000000000000000000001", "100000000000000000000000",
    "1000000000000000000000", "4503599627370497.5", "2.5", "3.5",
    "0.30000000000000004", "8.589973e9", "1.00000000000000011102230246251565",
    "inf", "-inf", "INF", "infinity", "nan", "NaN", "-nan", "nan(123)",
    "0x10", "-0X1p3", "1,5", "1_000", "١٢٣", "1e0000000000000000000005",
    "1e-0000000000000000000005", "0000000000000000000000000000000000001",
};

static void check_all(size_t random_n, uint64_t seed) {
  for (size_t i = 0; i < sizeof edge_inputs / sizeof *edge_inputs; i++)
    check_same(edge_inputs[i], strlen(edge_inputs[i]));
  char long_text[200];
  memset(long_text, '1', sizeof long_text);
  check_same(long_text, 127);
  check_same(long_text, 128); /* the length limit */
  uint64_t st = seed;
  char buf[256];
  for (size_t i = 0; i < random_n; i++) {
    size_t n = random_text(&st, buf, sizeof buf);
    check_same(buf, n);
  }
}

/* FR_NUMBER_CHECK_N raises the count for a longer run (the default keeps the
 * suite quick, also under the sanitizers). */
static size_t random_count(void) {
  const char *e = getenv("FR_NUMBER_CHECK_N");
  return e ? (size_t)strtoull(e, NULL, 10) : 1000000;
}

Test(number, fast_path_equals_strtod_l) {
  check_all(random_count(), 42);
}

Test(number, fast_path_equals_strtod_l_decimal_comma) {
  if (!setlocale(LC_ALL, "de_DE.UTF-8"))
    cr_skip_test("de_DE.UTF-8 locale not installed (package locales-all)");
  check_all(random_count(), 4242);
  setlocale(LC_ALL, "C");
}

Test(number, fast_path_examples) {
  /* Values known independently of any parser: exact binary fractions and
   * integers, and the correctly rounded neighbours of 2^53. */
  cr_assert_eq(parse("0.5"), 0.5);
  cr_assert_eq(parse("-2.25e1"), -22.5);
  cr_assert_eq(parse("9007199254740992"), 9007199254740992.0);
  cr_assert_eq(parse("9007199254740993"), 9007199254740992.0); /* ties to even */
  cr_assert_eq(parse("9007199254740995"), 9007199254740996.0);
  cr_assert_eq(parse("1e22"), 1e22);
  cr_assert(signbit(parse("-0")));
  cr_assert(signbit(parse("-0.000")));
  cr_assert_eq(parse(".5"), 0.5);
  cr_assert_eq(parse("5."), 5.0);
}
