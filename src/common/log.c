/*
 * log.c - structured logs: one JSON object per line on stderr.
 *
 * Each line is formatted into a stack buffer and written with one write(2), so
 * lines from concurrent threads never interleave.  The level is an atomic so
 * it can be changed (SIGHUP reload) while threads log.
 */
#include "fraud/common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static _Atomic int g_level = -1;
static FILE *g_stream;

int fr_log_level_parse(const char *s, fr_log_level *out) {
  static const char *names[] = {"debug", "info", "warn", "error", "off"};
  for (int i = 0; i < 5; i++) {
    if (s && strcasecmp(s, names[i]) == 0) {
      *out = (fr_log_level)i;
      return 0;
    }
  }
  if (s && strcasecmp(s, "warning") == 0) {
    *out = FR_LOG_WARN;
    return 0;
  }
  return FR_EINVAL;
}

fr_log_level fr_log_get_level(void) {
  int l = atomic_load(&g_level);
  if (l < 0) {
    fr_log_level parsed = FR_LOG_INFO;
    const char *env = getenv("FRAUD_LOG_LEVEL");
    if (env)
      fr_log_level_parse(env, &parsed);
    l = (int)parsed;
    atomic_store(&g_level, l);
  }
  return (fr_log_level)l;
}

void fr_log_set_level(fr_log_level level) { atomic_store(&g_level, (int)level); }

void fr_log_set_stream(FILE *f) { g_stream = f; }

/* Appends n bytes of s at offset o of buf (cap bytes), truncating; returns
 * the offset the whole text would reach. */
static size_t put(char *buf, size_t cap, size_t o, const char *s, size_t n) {
  if (o < cap) {
    size_t k = cap - 1 - o < n ? cap - 1 - o : n;
    memcpy(buf + o, s, k);
    buf[o + k] = '\0';
  }
  return o + n;
}

/* The redaction rule is the one the redis store's URL parser
 * (src/features/state_redis.c) splits the user info by: keep both in step. */
size_t fr_url_redact(char *buf, size_t cap, const char *url) {
  if (cap)
    buf[0] = '\0';
  if (!url)
    return 0;
  size_t n = strlen(url);
  const char *sch = strstr(url, "://");
  const char *auth = sch ? sch + 3 : url;
  const char *at = strrchr(auth, '@');
  if (!at)
    return put(buf, cap, 0, url, n);
  const char *colon = memchr(auth, ':', (size_t)(at - auth));
  const char *keep = colon ? colon + 1 : auth;
  size_t o = put(buf, cap, 0, url, (size_t)(keep - url));
  o = put(buf, cap, o, "***", 3);
  return put(buf, cap, o, at, n - (size_t)(at - url));
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (2 to 4 bytes, the
 * lead byte s[0] >= 0x80), or minus the length of its maximal ill-formed
 * subpart (1 to 3 bytes) that one U+FFFD replaces.  The byte ranges are
 * the Unicode Standard's Table 3-7 (Well-Formed UTF-8 Byte Sequences),
 * which excludes overlong forms, surrogates (ED A0..BF) and code points
 * above U+10FFFF; the replacement is its section 3.9 "U+FFFD Substitution
 * of Maximal Subparts" (as WHATWG's and Python's decoders do). */
static int utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  int len;
  unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else
    return -1; /* 80..C1 (continuation, overlong lead) or F5..FF */
  for (int k = 1; k < len; k++) {
    if ((size_t)k >= n || s[k] < lo || s[k] > hi)
      return -k;
    lo = 0x80;
    hi = 0xBF;
  }
  return len;
}

size_t fr_json_escape(char *buf, size_t cap, const char *s, size_t n) {
  size_t o = 0;
#define PUT(c)                  \
  do {                          \
    if (o + 1 < cap)            \
      buf[o] = (char)(c);       \
    o++;                        \
  } while (0)
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
      int k = utf8_seq((const unsigned char *)s + i, n - i);
      if (k > 0) {
        for (int j = 0; j < k; j++)
          PUT(s[i + j]);
      } else {
        PUT(0xEF); PUT(0xBF); PUT(0xBD); /* U+FFFD */
        k = -k;
      }
      i += (size_t)k - 1;
      continue;
    }
    switch (c) {
    case '"':
      PUT('\\'); PUT('"'); break;
    case '\\':
      PUT('\\'); PUT('\\'); break;
    case '\n':
      PUT('\\'); PUT('n'); break;
    case '\r':
      PUT('\\'); PUT('r'); break;
    case '\t':
      PUT('\\'); PUT('t'); break;
    default:
      if (c < 0x20) {
        static const char hex[] = "0123456789abcdef";
        PUT('\\'); PUT('u'); PUT('0'); PUT('0');
        PUT(hex[c >> 4]); PUT(hex[c & 15]);
      } else {
        PUT(c);
      }
    }
  }
#undef PUT
  if (cap > 0)
    buf[o < cap ? o : cap - 1] = '\0';
  return o;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_hex_letter(char c) { return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* Masks all but the last 4 of the `ndigits` digits from p on (separators
 * between them are kept). */
static void mask_digits(char *p, size_t ndigits) {
  for (size_t left = ndigits; left > 4; p++)
    if (is_digit(*p)) {
      *p = '*';
      left--;
    }
}

/* Length of the separator at p allowed between the digit groups of a
 * written card number, 0 if none: "4111 1111", "4111-1111", "4111.1111",
 * "4111_1111", a tab, newline or carriage return, and those three as JSON
 * escapes (backslash + t, n or r: a message that quotes a JSON text, such as
 * the access log's copy of an error body, holds them in that form). */
static size_t group_sep_len(const char *p) {
  char c = p[0];
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '-' || c == '.' || c == '_')
    return 1;
  if (c == '\\' && (p[1] == 't' || p[1] == 'n' || p[1] == 'r'))
    return 2;
  return 0;
}

/* The Luhn (mod 10) check digit test of ISO/IEC 7812-1, Annex B, on the n
 * digits at p: every payment card number passes it. */
static int luhn_ok(const char *p, size_t n) {
  unsigned sum = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(p[n - 1 - i] - '0');
    if (i & 1) {
      d *= 2;
      if (d > 9)
        d -= 9;
    }
    sum += d;
  }
  return sum % 10 == 0;
}

/* Masks the digit runs of the hexadecimal token [t, e) that may be a card
 * number glued to hex letters ("a4111111111111111"): 13 to 19 digits that
 * pass the Luhn check, or more than 19.  A digest's or hashed key's own
 * digit runs pass Luhn one time in ten, so nine in ten of the rare digests
 * with a 13-digit run stay readable.  Returns the runs masked. */
static size_t mask_in_hex_token(char *t, const char *e) {
  size_t runs = 0;
  for (char *q = t; q < e;) {
    if (!is_digit(*q)) {
      q++;
      continue;
    }
    char *r = q;
    while (r < e && is_digit(*r))
      r++;
    size_t n = (size_t)(r - q);
    if (n >= 13 && (n > 19 || luhn_ok(q, n))) {
      mask_digits(q, n);
      runs++;
    }
    q = r;
  }
  return runs;
}

/* Finds the end of the token (maximal run of ASCII letters and digits) that
 * starts at t; returns 1 when it is a hexadecimal string: letters a-f only
 * and at least one (a digest, a hashed key, a request id), whose digit runs
 * are not card numbers. */
static int hex_token(const char *t, const char **end) {
  int letters = 0, hex_only = 1;
  const char *e = t;
  for (; is_alnum(*e); e++)
    if (!is_digit(*e)) {
      letters = 1;
      hex_only &= is_hex_letter(*e);
    }
  *end = e;
  return letters && hex_only;
}

/* The rule (docs/server.md "log masking"): digit runs outside hexadecimal
 * tokens are chained while the next run follows after 1 or 2 separators
 * (group_sep_len), whatever the group sizes; a chain of 13 digits or more is
 * a card number.  Inside a hexadecimal token, see mask_in_hex_token.  Printed PANs come in many layouts (4-4-4-4, Amex 4-6-5,
 * pairs, dots, doubled spaces), so the rule errs toward masking: a
 * separator-joined run of short numbers of 13 digits in all is masked too. */
size_t fr_mask_card_numbers(char *s) {
  size_t runs = 0;
  const char *p = s;
  while (*p) {
    if (!is_alnum(*p)) {
      p++;
      continue;
    }
    const char *e;
    if (hex_token(p, &e)) {
      runs += mask_in_hex_token(s + (p - s), e);
      p = e;
      continue;
    }
    /* Each digit run of the token; one that ends the token may continue
     * past it into the following groups. */
    const char *q = p, *next = e;
    while (q < e) {
      if (!is_digit(*q)) {
        q++;
        continue;
      }
      const char *r = q;
      while (is_digit(*r))
        r++;
      size_t total = (size_t)(r - q);
      const char *end = r;
      if (r == e) {
        for (;;) {
          const char *n = end;
          int k = 0;
          for (size_t l; k < 2 && (l = group_sep_len(n)) > 0; k++)
            n += l;
          const char *ne = n;
          if (k == 0 || !is_digit(*n) || hex_token(n, &ne))
            break;
          const char *nr = n;
          while (is_digit(*nr))
            nr++;
          total += (size_t)(nr - n);
          end = nr;
          if (nr != ne) /* glued to letters ("1111x"): the chain ends here */
            break;
        }
      }
      if (total >= 13) {
        mask_digits(s + (q - s), total);
        runs++;
      }
      if (end != r) { /* the chain left this token: go on after it */
        next = end;
        break;
      }
      q = r;
    }
    p = next;
  }
  return runs;
}

void fr_log(fr_log_level level, const char *event, const char *fields,
            const char *fmt, ...) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  if (level < fr_log_get_level() || level >= FR_LOG_OFF)
    return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fr_mask_card_numbers(msg);

  char line[8192];
  char ts[40];
  fr_fmt_iso8601_ms(ts, sizeof ts, fr_now());
  size_t o = (size_t)snprintf(line, sizeof line,
                              "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"", ts,
                              names[level]);
  o += fr_json_escape(line + o, sizeof line - o, event ? event : "log",
                      strlen(event ? event : "log"));
  if (o < sizeof line)
    o += (size_t)snprintf(line + o, sizeof line - o, "\",\"msg\":\"");
  if (o < sizeof line)
    o += fr_json_escape(line + o, sizeof line - o, msg, strlen(msg));
  if (o < sizeof line)
    o += (size_t)snprintf(line + o, sizeof line - o, "\"%s%s}\n",
                          fields && *fields ? "," : "", fields ? fields : "");
  if (o >= sizeof line) { /* truncated: close the object properly */
    o = sizeof line - 4;
    memcpy(line + o, "\"}\n", 3);
    o += 3;
  }
  FILE *f = g_stream ? g_stream : stderr;
  if (f == stderr) {
    ssize_t w = write(STDERR_FILENO, line, o);
    (void)w;
  } else {
    fwrite(line, 1, o, f);
    fflush(f);
  }
}
