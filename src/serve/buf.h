/*
 * buf.h - a growable byte buffer for building response bodies (JSON,
 * Prometheus text) on the request path.  A buffer is reused across the
 * requests of one connection, so in the steady state appending allocates
 * nothing; on allocation failure the buffer remembers it (`oom`) and later
 * appends are no-ops, so a handler can check once at the end instead of after
 * every call.
 */
#ifndef FRAUD_SERVE_BUF_H
#define FRAUD_SERVE_BUF_H

#include "fraud/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fr__buf {
  char *data; /* NUL-terminated when len > 0 or after fr__buf_cstr */
  size_t len;
  size_t cap;
  int oom;    /* an append failed for lack of memory */
} fr__buf;

/* Zero-initialisation ({0}) is a valid empty buffer. */
void fr__buf_init(fr__buf *b);
/* Frees the storage.  NULL-safe. */
void fr__buf_close(fr__buf *b);
/* Empties the buffer, keeping its storage for reuse. */
void fr__buf_reset(fr__buf *b);
/* Makes room for `extra` more bytes (plus a NUL).  0 or FR_ENOMEM. */
int fr__buf_reserve(fr__buf *b, size_t extra);
void fr__buf_append(fr__buf *b, const void *p, size_t n);
void fr__buf_puts(fr__buf *b, const char *s);
void fr__buf_putc(fr__buf *b, char c);
/* printf-style append in the C locale (fr_vsnprintf_c). */
void fr__buf_printf(fr__buf *b, const char *fmt, ...) FR_PRINTF(2, 3);
/* Appends s[0..n) as a JSON string literal, quotes included (RFC 8259 s.7). */
void fr__buf_json_str(fr__buf *b, const char *s, size_t n);
/* Appends a number in JSON: shortest round-trip text (fr_fmt_double /
 * fr_fmt_float); NaN and infinities, which JSON cannot carry, become null. */
void fr__buf_json_double(fr__buf *b, double v);
void fr__buf_json_float(fr__buf *b, float v);
/* Appends an unsigned integer in decimal. */
void fr__buf_uint(fr__buf *b, uint64_t v);
/* Copies src into dst[0..cap) as snprintf(dst, cap, "%s", src) does
 * (truncated to cap - 1 bytes, NUL-terminated; nothing when cap is 0),
 * without printf's format parsing: it runs on every request.  Returns the
 * bytes copied. */
size_t fr__str_copy(char *dst, size_t cap, const char *src);
/* The contents as a C string ("" when empty).  Valid until the next append. */
const char *fr__buf_cstr(fr__buf *b);
/* Hands the storage to the caller (who frees it with free()) and leaves the
 * buffer empty.  Returns NULL when empty or after an allocation failure. */
char *fr__buf_take(fr__buf *b, size_t *len);

#endif
