/*
 * buf.c - growable byte buffer (see buf.h).  Growth doubles the capacity so
 * that building a body of n bytes costs O(n) amortised.
 */
#include "serve/buf.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fr__buf_init(fr__buf *b) { memset(b, 0, sizeof *b); }

void fr__buf_close(fr__buf *b) {
  if (!b)
    return;
  free(b->data);
  memset(b, 0, sizeof *b);
}

void fr__buf_reset(fr__buf *b) {
  b->len = 0;
  b->oom = 0;
  if (b->data)
    b->data[0] = '\0';
}

int fr__buf_reserve(fr__buf *b, size_t extra) {
  if (b->oom)
    return FR_ENOMEM;
  if (extra > SIZE_MAX / 2 - b->len) {
    b->oom = 1;
    return FR_ENOMEM;
  }
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) {
    b->oom = 1;
    return FR_ENOMEM;
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

void fr__buf_append(fr__buf *b, const void *p, size_t n) {
  if (fr__buf_reserve(b, n))
    return;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void fr__buf_puts(fr__buf *b, const char *s) { fr__buf_append(b, s, strlen(s)); }

void fr__buf_putc(fr__buf *b, char c) {
  if (fr__buf_reserve(b, 1))
    return;
  b->data[b->len++] = c;
  b->data[b->len] = '\0';
}

void fr__buf_printf(fr__buf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = fr_vsnprintf_c(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof small) {
    fr__buf_append(b, small, (size_t)n);
    return;
  }
  if (fr__buf_reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  fr_vsnprintf_c(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void fr__buf_json_str(fr__buf *b, const char *s, size_t n) {
  /* Worst case every byte becomes \u00XX (6 bytes). */
  if (n > (SIZE_MAX - 3) / 6 || fr__buf_reserve(b, n * 6 + 2)) {
    b->oom = 1;
    return;
  }
  b->data[b->len++] = '"';
  size_t w = fr_json_escape(b->data + b->len, b->cap - b->len, s, n);
  b->len += w;
  b->data[b->len++] = '"';
  b->data[b->len] = '\0';
}

void fr__buf_json_double(fr__buf *b, double v) {
  if (!isfinite(v)) {
    fr__buf_append(b, "null", 4);
    return;
  }
  char tmp[40];
  int n = fr_fmt_double(tmp, sizeof tmp, v);
  fr__buf_append(b, tmp, (size_t)n);
}

/* The shortest "%.Ng" text (6 <= N <= 9) that reads back to v, exactly as
 * fr_fmt_float gives it, with one printf call instead of up to five: a
 * float32 always round-trips with 9 significant digits, and if N digits
 * round-trip so do N + 1 (closer to v), so the answer is found by trying 8
 * first and then walking down, or taking 9.
 *
 * The 9 digits come from "%.8e", correctly rounded from v's exact value;
 * the N-digit candidates are rounded from them.  Rounding twice gives the
 * correctly rounded N digits unless the dropped digits are exactly 5 then
 * zeros (v's exact value may lie on either side of that midpoint, or on
 * it): then printf rounds v itself.  The candidates are written the way
 * "%.Ng" writes them (C17 7.21.6.1: fixed notation when -4 <= exponent < N,
 * else d.ddde+XX; trailing zeros and a bare point removed).
 * Locale-independent: the decimal point is ours, printf runs in "C". */
static locale_t g_c_locale;
static pthread_once_t g_c_once = PTHREAD_ONCE_INIT;
static void init_c_locale(void) { g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* Writes digits d[0..n) times 10^(x - n + 1), with a sign, in "%.Ng" form
 * for N = n.  Returns the length (at most 1 + 9 + 5 + 5 < 24). */
static int g_format(char *out, int neg, const char *d, int n, int x) {
  char *o = out;
  if (neg)
    *o++ = '-';
  int last = n; /* significant digits left after removing trailing zeros */
  while (last > 1 && d[last - 1] == '0')
    last--;
  if (x >= -4 && x < n) {
    if (x < 0) {
      *o++ = '0';
      *o++ = '.';
      for (int k = -1; k > x; k--)
        *o++ = '0';
      for (int k = 0; k < last; k++)
        *o++ = d[k];
    } else {
      for (int k = 0; k <= x; k++)
        *o++ = d[k];
      if (last > x + 1) {
        *o++ = '.';
        for (int k = x + 1; k < last; k++)
          *o++ = d[k];
      }
    }
  } else {
    *o++ = d[0];
    if (last > 1) {
      *o++ = '.';
      for (int k = 1; k < last; k++)
        *o++ = d[k];
    }
    *o++ = 'e';
    *o++ = x < 0 ? '-' : '+';
    int ax = x < 0 ? -x : x;
    if (ax >= 100)
      *o++ = (char)('0' + ax / 100);
    *o++ = (char)('0' + ax / 10 % 10);
    *o++ = (char)('0' + ax % 10);
  }
  *o = '\0';
  return (int)(o - out);
}

/* The first n of the 9 digits d9 (exponent x9) rounded to nearest into d
 * (exponent *x); 0, or -1 when the dropped digits are exactly 5 then
 * zeros (see above). */
static int round_digits(const char *d9, int x9, int n, char *d, int *x) {
  int up = d9[n] > '5';
  if (d9[n] == '5') {
    int rest = 0;
    for (int k = n + 1; k < 9; k++)
      rest |= d9[k] != '0';
    if (!rest)
      return -1;
    up = 1;
  }
  memcpy(d, d9, (size_t)n);
  *x = x9;
  if (up) {
    int k = n - 1;
    while (k >= 0 && d[k] == '9')
      d[k--] = '0';
    if (k >= 0) {
      d[k]++;
    } else { /* 99..9 rounded up: 10..0, one more in the exponent */
      d[0] = '1';
      (*x)++;
    }
  }
  return 0;
}

/* Parses "[-]d.dddddddde[+-]XX[X]" into sign, 9 digits and exponent. */
static int parse_e(const char *s, int *neg, char *d9, int *x) {
  *neg = *s == '-';
  s += *neg;
  d9[0] = *s++;
  if (*s++ != '.')
    return -1;
  for (int k = 1; k < 9; k++)
    d9[k] = *s++;
  if (*s++ != 'e')
    return -1;
  int sign = *s == '-' ? -1 : 1;
  s++;
  int e = 0;
  while (*s >= '0' && *s <= '9')
    e = e * 10 + (*s++ - '0');
  *x = sign * e;
  return 0;
}

static int fmt_float_short(char *out, size_t cap, float v) {
  pthread_once(&g_c_once, init_c_locale);
  char e9[40], cand[32], best[32], d9[9], d[9];
  int neg, x9, x, best_len = -1;
  fr_snprintf_c(e9, sizeof e9, "%.8e", (double)v);
  if (parse_e(e9, &neg, d9, &x9) != 0) /* not reached: printf's %e form */
    return snprintf(out, cap, "%.9g", (double)v);
  for (int prec = 8; prec >= 6; prec--) {
    int len;
    if (round_digits(d9, x9, prec, d, &x) == 0) {
      len = g_format(cand, neg, d, prec, x);
    } else {
      len = fr_snprintf_c(cand, sizeof cand, "%.*g", prec, (double)v);
    }
    if (strtof_l(cand, NULL, g_c_locale) != v)
      break;
    memcpy(best, cand, (size_t)len + 1);
    best_len = len;
  }
  if (best_len < 0)
    best_len = g_format(best, neg, d9, 9, x9);
  if ((size_t)best_len >= cap)
    return snprintf(out, cap, "%s", best);
  memcpy(out, best, (size_t)best_len + 1);
  return best_len;
}

void fr__buf_json_float(fr__buf *b, float v) {
  if (!isfinite(v)) {
    fr__buf_append(b, "null", 4);
    return;
  }
  char tmp[40];
  int n = fmt_float_short(tmp, sizeof tmp, v);
  fr__buf_append(b, tmp, (size_t)n);
}

void fr__buf_uint(fr__buf *b, uint64_t v) {
  char tmp[24];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  fr__buf_append(b, tmp + i, sizeof tmp - i);
}

const char *fr__buf_cstr(fr__buf *b) {
  if (!b->data)
    return "";
  return b->data;
}

char *fr__buf_take(fr__buf *b, size_t *len) {
  if (b->oom || !b->data) {
    if (len)
      *len = 0;
    fr__buf_close(b);
    return NULL;
  }
  char *p = b->data;
  if (len)
    *len = b->len;
  memset(b, 0, sizeof *b);
  return p;
}
