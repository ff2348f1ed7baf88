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
 * fr_fmt_float gives it, mostly without libc's conversions (fr_fmt_float
 * takes up to four printf and four strtof calls): a float32 always
 * round-trips with 9 significant digits, and if N digits round-trip so do
 * N + 1 (closer to v), so N walks down from 9 until a candidate fails.
 *
 * The N-digit candidates are v's exact value rounded to nearest (ties to
 * even, as printf rounds in the default rounding mode), and whether one
 * reads back is decided exactly too (see exact): v = m * 2^e exactly (IEEE
 * 754 binary32, m < 2^24), so v * 10^(8 - x) is computed in 128-bit
 * integers as long as 10^|8 - x| < 2^100, which holds from |v| of about
 * 1e-22 up; below, printf and strtof do it.  Candidates are written the way
 * "%.Ng" writes them (C17 7.21.6.1: fixed notation when -4 <= exponent < N,
 * else d.ddde+XX; trailing zeros and a bare point removed).
 * Locale-independent: the decimal point is ours, printf and strtof run in
 * "C". */
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

/* v's exact value (finite, not zero) as v * 10^(8 - x) = q + rem / den,
 * with q an integer in [10^8, 10^9), and what decides whether a decimal
 * reads back to v (strtof rounds to nearest, ties to even): v's neighbours
 * lie 2^e above and 2^e below (2^(e - 1) below when v is a power of two
 * above the subnormals), so a decimal reads back to v when it is nearer
 * than half those gaps, or at exactly half and v's mantissa is even.  In
 * units of 1 / (2 * den) at the same scale, the gap above is `gap`. */
typedef unsigned __int128 u128;
typedef __int128 i128;
typedef struct exact {
  uint32_t q;
  int x;
  u128 rem, den, gap;
  int even;      /* v's mantissa is even: a decimal at half a gap reads back */
  int half_low;  /* the gap below is half the gap above */
} exact;

/* Fills *ex; -1 when |v| is too small for the 128-bit arithmetic (see
 * above). */
static int exact9(float v, exact *ex) {
  uint32_t bits;
  memcpy(&bits, &v, 4);
  uint32_t be = (bits >> 23) & 0xff, frac = bits & 0x7fffff;
  uint64_t m = be ? (frac | 0x800000u) : frac;
  int e = be ? (int)be - 150 : -149;
  int x = (int)floor(log10(fabs((double)v)));
  for (int tries = 0; tries < 4; tries++) { /* log10 may miss by one */
    int s = 8 - x;
    if (s > 30 || s < -30 || e < -100)
      return -1;
    u128 p10 = 1;
    for (int k = 0; k < (s < 0 ? -s : s); k++)
      p10 *= 10;
    u128 q, rem, den, gap;
    if (s >= 0) {
      u128 n = (u128)m * p10; /* < 2^24 * 2^100 */
      if (e >= 0) {
        /* v >= 2^23 here, so s <= 2: n << e and the gap stay small */
        q = n << e;
        rem = 0;
        den = 1;
        gap = ((u128)1 << e) * p10; /* 2 * (2^(e-1) * 10^s) */
      } else {
        den = (u128)1 << -e;
        q = n >> -e;
        rem = n & (den - 1);
        gap = p10; /* 2 * den * 2^(e-1) * 10^s */
      }
    } else { /* v >= 10^9, so e > 0, and m * 2^e < 2^128 */
      u128 n = (u128)m << e;
      den = p10;
      q = n / den;
      rem = n % den;
      gap = (u128)1 << e; /* 2 * den * 2^(e-1) / 10^-s */
    }
    if (q >= 1000000000u) {
      x++;
      continue;
    }
    if (q < 100000000u) {
      x--;
      continue;
    }
    ex->q = (uint32_t)q;
    ex->x = x;
    ex->rem = rem;
    ex->den = den;
    ex->gap = gap;
    ex->even = (m & 1) == 0;
    ex->half_low = frac == 0 && be > 1;
    return 0;
  }
  return -1;
}

static const uint32_t g_p10[] = {1,      10,      100,      1000,      10000,
                                 100000, 1000000, 10000000, 100000000, 1000000000};

/* The n significant digits (1 <= n <= 9) of v, rounded to nearest, ties to
 * even: the digit integer *c and its exponent *x (one more than ex->x when
 * the rounding carries into a new digit). */
static void round_exact(const exact *ex, int n, uint32_t *c, int *x) {
  uint32_t div = g_p10[9 - n];
  uint32_t q = ex->q / div, r = ex->q % div;
  int up;
  if (n == 9) { /* the fraction rem / den against 1/2 */
    u128 other = ex->den - ex->rem;
    up = ex->rem > other || (ex->rem == other && (q & 1));
  } else { /* the dropped digits r + rem / den against div / 2 */
    uint32_t h = div / 2;
    up = r > h || (r == h && (ex->rem != 0 || (q & 1)));
  }
  *x = ex->x;
  if (up && ++q == g_p10[n]) {
    q = g_p10[n - 1];
    (*x)++;
  }
  *c = q;
}

/* 1 when the decimal c * 10^(x - n + 1) (from round_exact) reads back to v
 * (see exact). */
static int reads_back(const exact *ex, int n, uint32_t c, int x) {
  /* The decimal at v's scale: c * 10^(9 - n) digits, one more power of ten
   * after a carry; its distance from q + rem / den, times 2 * den. */
  i128 cs = (i128)c * g_p10[9 - n + (x - ex->x)];
  i128 d2 = 2 * ((cs - (i128)ex->q) * (i128)ex->den - (i128)ex->rem);
  if (d2 >= 0)
    return (u128)d2 < ex->gap || ((u128)d2 == ex->gap && ex->even);
  u128 below = (u128)(-d2) * (ex->half_low ? 2 : 1);
  return below < ex->gap || (below == ex->gap && ex->even);
}

static int fmt_float_short(char *out, size_t cap, float v) {
  pthread_once(&g_c_once, init_c_locale);
  char cand[40], best[40], d[9];
  int neg = signbit(v) != 0, best_len = -1;
  exact ex = {0};
  int is_exact = v == 0 ? 1 : exact9(v, &ex) == 0;
  for (int prec = 9; prec >= 6; prec--) {
    int len, back;
    if (!is_exact) {
      len = fr_snprintf_c(cand, sizeof cand, "%.*g", prec, (double)v);
      back = prec == 9 || strtof_l(cand, NULL, g_c_locale) == v;
    } else if (v == 0) {
      memset(d, '0', 9);
      len = g_format(cand, neg, d, prec, 0);
      back = 1;
    } else {
      uint32_t c;
      int x;
      round_exact(&ex, prec, &c, &x);
      for (uint32_t t = c, k = (uint32_t)prec; k-- > 0; t /= 10)
        d[k] = (char)('0' + t % 10);
      len = g_format(cand, neg, d, prec, x);
      back = reads_back(&ex, prec, c, x); /* 9 digits always do */
    }
    if (!back)
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
