/* Tests src/common/number.c: locale-independent number parsing/printing. */
#include <criterion/criterion.h>
#include <locale.h>
#include <math.h>

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
