/*
 * buf.c - growable byte buffer (see buf.h).  Growth doubles the capacity so
 * that building a body of n bytes costs O(n) amortised.
 */
#include "serve/buf.h"

#include <math.h>
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

void fr__buf_json_float(fr__buf *b, float v) {
  if (!isfinite(v)) {
    fr__buf_append(b, "null", 4);
    return;
  }
  char tmp[40];
  int n = fr_fmt_float(tmp, sizeof tmp, v);
  fr__buf_append(b, tmp, (size_t)n);
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
