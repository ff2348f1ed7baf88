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

/* Length of the all-digit token at p (0 unless p starts one that ends at a
 * non-alphanumeric character). */
static size_t digit_token(const char *p) {
  size_t n = 0;
  while (is_digit(p[n]))
    n++;
  return n && !is_alnum(p[n]) ? n : 0;
}

size_t fr_mask_card_numbers(char *s) {
  size_t runs = 0;
  char *p = s;
  while (*p) {
    if (!is_alnum(*p)) {
      p++;
      continue;
    }
    /* One token: a maximal run of ASCII letters and digits. */
    char *e = p;
    int letters = 0, hex_only = 1;
    while (is_alnum(*e)) {
      if (!is_digit(*e)) {
        letters = 1;
        hex_only &= is_hex_letter(*e);
      }
      e++;
    }
    if (letters && hex_only) {
      /* A hexadecimal string (a digest, a hashed key, a request id): its
       * digit runs are not card numbers. */
      p = e;
      continue;
    }
    if (letters) {
      /* Digits glued to other text ("4111111111111111x", "card4111..."):
       * any run of 13 or more is masked. */
      for (char *q = p; q < e;) {
        if (!is_digit(*q)) {
          q++;
          continue;
        }
        char *r = q;
        while (r < e && is_digit(*r))
          r++;
        if (r - q >= 13) {
          mask_digits(q, (size_t)(r - q));
          runs++;
        }
        q = r;
      }
      p = e;
      continue;
    }
    size_t len = (size_t)(e - p);
    if (len >= 13) {
      mask_digits(p, len);
      runs++;
      p = e;
      continue;
    }
    /* A card number written in groups ("4111 1111 1111 1111",
     * "3782-822463-10005"): digit tokens of 3 to 6 digits joined by one
     * space or one hyphen (the same throughout), 13 digits or more in all. */
    size_t total = len, groups = 1;
    char *end = e;
    if (len >= 3 && len <= 6 && (*e == ' ' || *e == '-')) {
      char sep = *e;
      for (;;) {
        if (*end != sep)
          break;
        size_t g = digit_token(end + 1);
        if (g < 3 || g > 6)
          break;
        total += g;
        groups++;
        end += 1 + g;
      }
    }
    if (groups > 1 && total >= 13) {
      mask_digits(p, total);
      runs++;
      p = end;
    } else {
      p = e;
    }
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
  fr_fmt_iso8601(ts, sizeof ts, fr_now());
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
