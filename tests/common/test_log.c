/*
 * Tests src/common/log.c: the JSON line format and the card-number mask
 * (PCI DSS 3.4: at most the last four digits of a PAN may be shown).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fraud/common.h"

Test(log, mask_card_numbers) {
  char a[] = "cannot parse '4111111111111111x' in field amt";
  cr_assert_eq(fr_mask_card_numbers(a), 1);
  cr_assert_str_eq(a, "cannot parse '************1111x' in field amt");
  /* 12 digits: not a card number; 13 (shortest PAN) and 19 (longest) are. */
  char b[] = "id 123456789012 a 4222222222222 b 6011000990139424123 c 12";
  cr_assert_eq(fr_mask_card_numbers(b), 2);
  cr_assert_str_eq(b, "id 123456789012 a *********2222 b ***************4123 c 12");
  char c[] = "";
  cr_assert_eq(fr_mask_card_numbers(c), 0);
  char d[] = "9000000000000001";
  cr_assert_eq(fr_mask_card_numbers(d), 1);
  cr_assert_str_eq(d, "************0001");
}

Test(log, lines_never_hold_a_card_number) {
  FILE *f = tmpfile();
  cr_assert_not_null(f);
  fr_log_set_level(FR_LOG_DEBUG);
  fr_log_set_stream(f);
  fr_log(FR_LOG_INFO, "request", "\"status\":400", "%s",
         "{\"error\":\"field 'amt': cannot parse '5500005555555559'\"}");
  fr_log_set_stream(NULL);
  rewind(f);
  char line[4096] = "";
  cr_assert_not_null(fgets(line, sizeof line, f));
  fclose(f);
  cr_assert_null(strstr(line, "5500005555555559"), "%s", line);
  cr_assert_not_null(strstr(line, "cannot parse '************5559'"), "%s", line);
  cr_assert_not_null(strstr(line, "\"level\":\"info\",\"event\":\"request\""), "%s", line);
  cr_assert_not_null(strstr(line, ",\"status\":400}\n"), "%s", line);
}
