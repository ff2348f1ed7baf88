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
 * fr_fmt_float gives it, mostly without printf (which takes up to four
 * calls there): a float32 always round-trips with 9 significant digits, and
 * if N digits round-trip so do N + 1 (closer to v), so the answer is found
 * by trying 8 first and then walking down, or taking 9.
 *
 * The N-digit candidates are v's exact value rounded to nearest (ties to
 * even, as printf rounds in the default rounding mode): v = m * 2^e
 * exactly (IEEE 754 binary32, m < 2^24), so v * 10^(8 - x) is computed
 * exactly in 128-bit integers as long as 10^|8 - x| < 2^100, which holds
 * from |v| of about 1e-22 up; below, printf writes the candidates.  They
 * are written the way "%.Ng" writes them (C17 7.21.6.1: fixed notation
 * when -4 <= exponent < N, else d.ddde+XX; trailing zeros and a bare point
 * removed).  Locale-independent: the decimal point is ours, and printf and
 * strtof run in "C". */
static locale_t g_c_locale;
static pthread_once_t g_c_once = PTHREAD_ONCE_INIT;
static void init_c_locale(void) { g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* Writes the n digits d[0..n) times 10^(x - n + 1), with a sign, in "%.Ng"
 * form for N = n.  Returns the length (at most 1 + 9 + 5 + 5 < 24). */
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

/* v's exact value (finite, not zero) as (q + f) * 10^(x - 8), with q an
 * integer in [10^8, 10^9) and f in [0, 1): q, x, and whether f is not zero
 * (*inexact) and how it compares with 1/2 (*half: -1, 0, 1).  -1 when
 * |v| is too small for the 128-bit arithmetic (see above). */
static int exact9(float v, uint32_t *q9, int *x9, int *inexact, int *half) {
  typedef unsigned __int128 u128;
  uint32_t bits;
  memcpy(&bits, &v, 4);
  uint32_t be = (bits >> 23) & 0xff, frac = bits & 0x7fffff;
  uint64_t m = be ? (frac | 0x800000u) : frac;
  int e = be ? (int)be - 150 : -149;
  int x = (int)floor(log10(fabs((double)v)));
  for (int tries = 0; tries < 4; tries++) { /* log10 may miss by one */
    int s = 8 - x;
    if (s > 30 || s < -30)
      return -1;
    u128 p10 = 1;
    for (int k = 0; k < (s < 0 ? -s : s); k++)
      p10 *= 10;
    u128 q, rem, den; /* v * 10^s = q + rem / den */
    if (s >= 0) {
      u128 n = (u128)m * p10; /* < 2^24 * 2^100 */
      if (e >= 0) {
        /* v >= 2^23 here, so s <= 2 and n << e stays below 2^128 */
        q = n << e;
        rem = 0;
        den = 1;
      } else {
        if (-e >= 127)
          return -1;
        den = (u128)1 << -e;
        q = n >> -e;
        rem = n & (den - 1);
      }
    } else { /* v >= 10^9, so e > 0, and m * 2^e < 2^128 */
      u128 n = (u128)m << e;
      den = p10;
      q = n / den;
      rem = n % den;
    }
    if (q >= 1000000000u) {
      x++;
      continue;
    }
    if (q < 100000000u) {
      x--;
      continue;
    }
    *q9 = (uint32_t)q;
    *x9 = x;
    *inexact = rem != 0;
    *half = rem > den - rem ? 1 : rem == den - rem ? 0 : -1;
    return 0;
  }
  return -1;
}

/* The n significant digits (1 <= n <= 9) of the exact value given by
 * exact9, rounded to nearest, ties to even, into d; *x is the exponent
 * (one more when the rounding carries into a new digit). */
static void round_exact(uint32_t q9, int x9, int inexact, int half, int n, char *d, int *x) {
  static const uint32_t p10[] = {1,      10,      100,      1000,      10000,
                                 100000, 1000000, 10000000, 100000000, 1000000000};
  uint32_t div = p10[9 - n];
  uint32_t q = q9 / div, r = q9 % div;
  int up;
  if (n == 9) {
    up = half > 0 || (half == 0 && (q & 1));
  } else {
    uint32_t h = div / 2; /* the dropped digits r + f against div / 2 */
    up = r > h || (r == h && (inexact || (q & 1)));
  }
  *x = x9;
  if (up && ++q == p10[n]) {
    q = p10[n - 1];
    (*x)++;
  }
  for (int k = n - 1; k >= 0; k--) {
    d[k] = (char)('0' + q % 10);
    q /= 10;
  }
}

static int fmt_float_short(char *out, size_t cap, float v) {
  pthread_once(&g_c_once, init_c_locale);
  char cand[40], best[40], d[9];
  int neg = signbit(v) != 0, x, best_len = -1;
  uint32_t q9 = 0;
  int x9 = 0, inexact = 0, half = -1;
  int exact = v == 0 ? 1 : exact9(v, &q9, &x9, &inexact, &half) == 0;
  for (int prec = 9; prec >= 6; prec--) {
    int len;
    if (!exact) {
      len = fr_snprintf_c(cand, sizeof cand, "%.*g", prec, (double)v);
    } else if (v == 0) {
      memset(d, '0', 9);
      len = g_format(cand, neg, d, prec, 0);
    } else {
      round_exact(q9, x9, inexact, half, prec, d, &x);
      len = g_format(cand, neg, d, prec, x);
    }
    /* 9 digits always read back; fewer are tried from 8 down. */
    if (prec < 9 && strtof_l(cand, NULL, g_c_locale) != v)
      break;
    memcpy(best, cand, (size_t)len + 1);
    best_len = len;
  }
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

size_t fr__str_copy(char *dst, size_t cap, const char *src) {
  if (!cap)
    return 0;
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
  return n;
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
