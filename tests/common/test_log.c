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

/* Review finding: digit runs inside hexadecimal tokens (digests, hashed
 * keys) were masked too, corrupting them in the logs. */
Test(log, mask_leaves_hex_tokens_alone) {
  /* A sha256 digest (64 hex digits) holding a run of 16 decimal digits, and
   * a 16-hex-digit hashed key that is all digits but one letter. */
  char a[] = "bundle sha256 9f86d081884c7d659a2feaa0c55ad0154111111111111111a4b0e2e3f2a6c8d0 ok";
  char a0[sizeof a];
  memcpy(a0, a, sizeof a);
  cr_assert_eq(fr_mask_card_numbers(a), 0);
  cr_assert_str_eq(a, a0);
  char b[] = "key=1234567890123456f,key2=e1234567890123456";
  cr_assert_eq(fr_mask_card_numbers(b), 0);
  cr_assert_str_eq(b, "key=1234567890123456f,key2=e1234567890123456");
  /* The same digits standing alone, or glued to a non-hex letter, are. */
  char c[] = "a 1234567890123456 b x1234567890123456";
  cr_assert_eq(fr_mask_card_numbers(c), 2);
  cr_assert_str_eq(c, "a ************3456 b x************3456");
}

Test(log, mask_card_numbers_with_separators) {
  char a[] = "cc '4111 1111 1111 1111' and 5500-0055-5555-5559.";
  cr_assert_eq(fr_mask_card_numbers(a), 2);
  cr_assert_str_eq(a, "cc '**** **** **** 1111' and ****-****-****-5559.");
  /* American Express 4-6-5 (15 digits), a 19-digit PAN in 4-4-4-4-3. */
  char b[] = "3782 822463 10005 / 6011-0009-9013-9424-123";
  cr_assert_eq(fr_mask_card_numbers(b), 2);
  cr_assert_str_eq(b, "**** ****** *0005 / ****-****-****-***4-123");
  /* Dates, times, short groups, 12 digits in groups: not card numbers. */
  char c[] = "2026-11-29 12:30:00 id 1234 5678 9012 v 12 34 56 78 90 12";
  cr_assert_eq(fr_mask_card_numbers(c), 0);
  cr_assert_str_eq(c, "2026-11-29 12:30:00 id 1234 5678 9012 v 12 34 56 78 90 12");
}

/* Review finding: card numbers written with other separators, mixed ones,
 * two in a row, or in groups of other sizes reached the logs in clear. */
Test(log, mask_card_numbers_any_layout) {
  static const char *const cases[][2] = {
      {"a 4111.1111.1111.1111 b", "a ****.****.****.1111 b"},
      {"a 4111_1111_1111_1111 b", "a ****_****_****_1111 b"},
      {"a 4111 1111-1111 1111 b", "a **** ****-**** 1111 b"},
      {"a 4111  1111  1111  1111 b", "a ****  ****  ****  1111 b"},
      {"a 4111\t1111\t1111\t1111 b", "a ****\t****\t****\t1111 b"},
      {"a 4111 -1111._1111\t 1111 b", "a **** -****._****\t 1111 b"},
      {"a 41 11 11 11 11 11 11 11 b", "a ** ** ** ** ** ** 11 11 b"},
      {"a 4 1 1 1 1 1 1 1 1 1 1 1 1 b", "a * * * * * * * * * 1 1 1 1 b"},
      {"[3782-8224-6310-005]", "[****-****-***0-005]"},
      /* 19 digits, the longest PAN, in 4-4-4-4-3 with dots */
      {"6011.0009.9013.9424.123", "****.****.****.***4.123"},
      /* glued to text with a letter other than a-f, on either end */
      {"card4111 1111 1111 1111", "card**** **** **** 1111"},
      {"4111 1111 1111 1111x", "**** **** **** 1111x"},
      /* a 13-digit millisecond epoch: masked, by design (errs toward
       * masking) */
      {"at 1764460800123 ms", "at *********0123 ms"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", cases[i][0]);
    cr_assert_eq(fr_mask_card_numbers(buf), 1, "%s", cases[i][0]);
    cr_assert_str_eq(buf, cases[i][1]);
  }
  /* Two card numbers one space apart form one chain: 12 digits masked too
   * many, none shown that should not be. */
  char a[] = "4111111111111111 5500005555555559";
  cr_assert_eq(fr_mask_card_numbers(a), 1);
  cr_assert_str_eq(a, "**************** ************5559");
}

/* What ends a chain: three separator characters, another character, a
 * hexadecimal token, letters glued to the digits. */
Test(log, mask_chain_ends) {
  static const char *const kept[] = {
      "4111 - 1111 - 1111 - 1111", /* 3 characters between groups */
      "4111 1111 / 1111 1111",     /* '/' is not a separator */
      "4111,1111,1111,1111",
      "4111:1111:1111:1111",
      "1234 5678 ab12 9012 3456", /* a hex token in the middle */
      "4111 1111x 1111 1111",     /* letters glued to a group */
      "12 34 56 78 90 12",        /* 12 digits */
  };
  for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", kept[i]);
    cr_assert_eq(fr_mask_card_numbers(buf), 0, "%s", kept[i]);
    cr_assert_str_eq(buf, kept[i]);
  }
  /* A hexadecimal token followed by a card number: the digest stays, the
   * card number is masked. */
  char b[] = "sha 9f86d0818 4111 1111 1111 1111";
  cr_assert_eq(fr_mask_card_numbers(b), 1);
  cr_assert_str_eq(b, "sha 9f86d0818 **** **** **** 1111");
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

/* Re-check finding: a card number split by tabs, newlines or carriage
 * returns, raw or as the JSON escapes an error body quoted in the access log
 * holds, reached the log in clear; so did one glued to hex letters. */
Test(log, mask_control_separators_and_hex_glued_cards) {
  char a[] = "m '4111\t1111\n1111\r1111' j '4111\\t1111\\n1111\\r1111'";
  cr_assert_eq(fr_mask_card_numbers(a), 2);
  cr_assert_str_eq(a, "m '****\t****\n****\r1111' j '****\\t****\\n****\\r1111'");
  /* 4111111111111111 passes the Luhn check (ISO/IEC 7812-1): masked inside
   * a hex token; 1234567890123456 does not (digits from the right doubled
   * at odd positions sum to 64): a digest-like token keeps it. */
  char b[] = "a4111111111111111 abc4111111111111111 4111111111111111abc e1234567890123456";
  cr_assert_eq(fr_mask_card_numbers(b), 3);
  cr_assert_str_eq(b, "a************1111 abc************1111 ************1111abc e1234567890123456");
  /* A backslash followed by another letter is no separator. */
  char c[] = "4111111\\x111111111";
  cr_assert_eq(fr_mask_card_numbers(c), 0);
}

/* fr_url_redact: the password of a URL's user info (RFC 3986 section
 * 3.2.1) becomes "***", split the way the redis store's parser splits it. */
Test(log, url_redact) {
  static const struct {
    const char *url, *want;
  } cases[] = {
      {"redis://:pw@h/0", "redis://:***@h/0"},
      {"redis://u:pw@h:1", "redis://u:***@h:1"},
      {"redis://pw@h", "redis://***@h"},           /* a lone user info is the password */
      {"redis://:p/w@x@h", "redis://:***@h"},      /* the last '@' ends it */
      {"redis://h:6379/0", "redis://h:6379/0"},    /* nothing to redact */
      {"u:pw@h", "u:***@h"},                       /* no scheme */
      {"", ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[64];
    size_t n = fr_url_redact(buf, sizeof buf, cases[i].url);
    cr_assert_str_eq(buf, cases[i].want, "%s", cases[i].url);
    cr_assert_eq(n, strlen(cases[i].want));
  }
  /* Truncation keeps the NUL and never shows the password; NULL is "". */
  char small[10];
  cr_assert_eq(fr_url_redact(small, sizeof small, "redis://:secretpw@host"), 17);
  cr_assert_str_eq(small, "redis://:");
  cr_assert_eq(fr_url_redact(small, sizeof small, NULL), 0);
  cr_assert_str_eq(small, "");
  cr_assert_eq(fr_url_redact(NULL, 0, "redis://:pw@h"), 14);
}

/* Every JSON text the server writes must be valid UTF-8 (RFC 8259 section
 * 8.1): ill-formed input is replaced by U+FFFD (EF BF BD), one per maximal
 * ill-formed subpart.  The expected outputs are the Unicode Standard's
 * example of section 3.9 (Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64
 * gives a, 3 x FFFD, b, FFFD, c, 2 x FFFD, d) and, for the rest, what
 * Python 3's bytes.decode("utf-8", "replace") gives for the same bytes. */
#define R "\xef\xbf\xbd"
Test(log, json_escape_replaces_invalid_utf8) {
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a" R R R "b" R "c" R R "d"},
      {"\xff\xfe", R R},
      {"a\xc3(b", "a" R "(b"},
      {"\xed\xa0\x80x", R R R "x"},            /* a surrogate, U+D800 */
      {"\xc0\x80", R R},                       /* overlong NUL */
      {"\xe0\x80\x80", R R R},                 /* overlong */
      {"\xf0\x80\x80\x80", R R R R},           /* overlong */
      {"\xf4\x90\x80\x80", R R R R},           /* above U+10FFFF */
      {"\xf5", R},
      {"/nowhere\xe2\x82", "/nowhere" R},      /* truncated at the end */
      {"\xe2\x82\"", R "\\\""},                /* truncated before a quote */
      /* Well-formed text is copied as is: the bounds of Table 3-7. */
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
      {"\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80", "\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80"},
      {R, R},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[256];
    size_t n = strlen(cases[i].in);
    size_t w = fr_json_escape(buf, sizeof buf, cases[i].in, n);
    cr_assert_str_eq(buf, cases[i].out, "case %zu", i);
    cr_assert_eq(w, strlen(cases[i].out), "case %zu", i);
    cr_assert_leq(w, 6 * n, "case %zu: more than 6 bytes per input byte", i);
    /* The length query (cap 0) agrees. */
    cr_assert_eq(fr_json_escape(NULL, 0, cases[i].in, n), w, "case %zu", i);
  }
}

/* A log line whose message holds invalid UTF-8 is valid UTF-8 JSON, and
 * its timestamp always has three fraction digits (fixed width). */
Test(log, line_is_utf8_with_millisecond_timestamp) {
  FILE *f = tmpfile();
  cr_assert_not_null(f);
  fr_log_set_level(FR_LOG_DEBUG);
  fr_log_set_stream(f);
  fr_log(FR_LOG_INFO, "request\xff", NULL, "unknown model '%s'", "\xff\xfe");
  fr_log_set_stream(NULL);
  rewind(f);
  char line[4096] = "";
  cr_assert_not_null(fgets(line, sizeof line, f));
  fclose(f);
  cr_assert_not_null(strstr(line, "\"event\":\"request" R "\""), "%s", line);
  cr_assert_not_null(strstr(line, "\"msg\":\"unknown model '" R R "'\""), "%s", line);
  /* {"ts":"YYYY-MM-DDTHH:MM:SS.mmmZ", */
  const char *ts = line + strlen("{\"ts\":\"");
  cr_assert_eq(strncmp(line, "{\"ts\":\"", 7), 0, "%s", line);
  cr_assert_eq(strcspn(ts, "\""), 24, "timestamp of 24 characters: %s", line);
  cr_assert_eq(ts[19], '.', "%s", line);
  cr_assert_eq(strspn(ts + 20, "0123456789"), 3, "%s", line);
  cr_assert_eq(ts[23], 'Z', "%s", line);
}
#undef R
