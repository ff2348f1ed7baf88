/*
 * flatjson.c - in-place scanner of a flat JSON object (see flatjson.h).
 *
 * Grammar (RFC 8259 section 2), restricted: ws '{' ws [ member *( ws ','
 * ws member ) ] ws '}' ws, member = string ws ':' ws scalar.  Numbers follow
 * the RFC's grammar exactly (no leading zeros, no '+', digits after '.' and
 * 'e'); their value is the correctly rounded double of the token (strtod in
 * the C locale, as jansson computes it) and, for integers, the int64 value
 * (jansson's json_int_t).
 */
#include "serve/flatjson.h"

#include <errno.h>
#include <string.h>

#include "fraud/common.h"

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && is_ws(*p))
    p++;
  return p;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Scans a string starting after its opening quote.  ASCII only (any byte >=
 * 0x80 gives up: jansson validates UTF-8); control characters give up as
 * jansson refuses them.  Returns the position after the closing quote, or
 * NULL. */
static const char *scan_string(const char *p, const char *end, const char **s, size_t *slen,
                               fr__buf *scratch) {
  const char *start = p;
  while (p < end && *p != '"' && *p != '\\') {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20 || c >= 0x80)
      return NULL;
    p++;
  }
  if (p >= end)
    return NULL;
  if (*p == '"') {
    *s = start;
    *slen = (size_t)(p - start);
    return p + 1;
  }
  /* Escapes: copy into the scratch buffer. */
  size_t off = scratch->len;
  fr__buf_append(scratch, start, (size_t)(p - start));
  while (p < end && *p != '"') {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20 || c >= 0x80)
      return NULL;
    if (c != '\\') {
      fr__buf_putc(scratch, (char)c);
      p++;
      continue;
    }
    if (++p >= end)
      return NULL;
    char e = *p++;
    switch (e) {
    case '"':
    case '\\':
    case '/':
      fr__buf_putc(scratch, e);
      break;
    case 'b':
      fr__buf_putc(scratch, '\b');
      break;
    case 'f':
      fr__buf_putc(scratch, '\f');
      break;
    case 'n':
      fr__buf_putc(scratch, '\n');
      break;
    case 'r':
      fr__buf_putc(scratch, '\r');
      break;
    case 't':
      fr__buf_putc(scratch, '\t');
      break;
    case 'u': {
      /* \u0001 .. \u007f only (one ASCII byte); anything else, including
       * \u0000 which jansson refuses by default, is left to jansson. */
      if (end - p < 4)
        return NULL;
      int v = 0;
      for (int k = 0; k < 4; k++) {
        int h = hexval(p[k]);
        if (h < 0)
          return NULL;
        v = v * 16 + h;
      }
      if (v == 0 || v >= 0x80)
        return NULL;
      fr__buf_putc(scratch, (char)v);
      p += 4;
      break;
    }
    default:
      return NULL;
    }
  }
  if (p >= end || scratch->oom)
    return NULL;
  *s = scratch->data + off;
  *slen = scratch->len - off;
  return p + 1;
}

/* Scans a number token per RFC 8259; sets kind, num and (integers) i. */
static const char *scan_number(const char *p, const char *end, fr__member *m) {
  const char *start = p;
  if (p < end && *p == '-')
    p++;
  if (p >= end)
    return NULL;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  } else {
    return NULL;
  }
  int real = 0;
  if (p < end && *p == '.') {
    real = 1;
    p++;
    if (p >= end || *p < '0' || *p > '9')
      return NULL;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    real = 1;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p >= end || *p < '0' || *p > '9')
      return NULL;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  size_t n = (size_t)(p - start);
  if (real) {
    if (fr_parse_double(start, n, &m->num))
      return NULL;
    /* jansson refuses a real that overflows to infinity. */
    if (m->num > 1.7976931348623157e308 || m->num < -1.7976931348623157e308)
      return NULL;
    m->kind = FR__J_REAL;
    return p;
  }
  int64_t v;
  if (fr_parse_int64(start, n, &v))
    return NULL; /* out of range: jansson's "too big integer" error */
  m->kind = FR__J_INTEGER;
  m->i = v;
  m->num = (double)v;
  return p;
}

uint64_t fr__flatjson_hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

long fr__flatjson_scan(const char *body, size_t len, fr__member *out, size_t max,
                       fr__buf *scratch) {
  const char *p = body, *end = body + len;
  /* A NUL anywhere is left to jansson (which refuses it). */
  if (memchr(body, '\0', len))
    return -1;
  p = skip_ws(p, end);
  if (p >= end || *p != '{')
    return -1;
  p = skip_ws(p + 1, end);
  size_t n = 0;
  if (p < end && *p == '}') {
    p = skip_ws(p + 1, end);
    return p == end ? 0 : -1;
  }
  for (;;) {
    if (n == max || p >= end || *p != '"')
      return -1;
    fr__member *m = &out[n];
    memset(m, 0, sizeof *m);
    if (!(p = scan_string(p + 1, end, &m->key, &m->klen, scratch)))
      return -1;
    m->khash = fr__flatjson_hash(m->key, m->klen);
    for (size_t k = 0; k < n; k++) /* duplicate keys: jansson's error */
      if (out[k].khash == m->khash && out[k].klen == m->klen &&
          memcmp(out[k].key, m->key, m->klen) == 0)
        return -1;
    p = skip_ws(p, end);
    if (p >= end || *p != ':')
      return -1;
    p = skip_ws(p + 1, end);
    if (p >= end)
      return -1;
    switch (*p) {
    case '"':
      m->kind = FR__J_STRING;
      if (!(p = scan_string(p + 1, end, &m->str, &m->slen, scratch)))
        return -1;
      break;
    case 't':
      if (end - p < 4 || memcmp(p, "true", 4) != 0)
        return -1;
      m->kind = FR__J_TRUE;
      p += 4;
      break;
    case 'f':
      if (end - p < 5 || memcmp(p, "false", 5) != 0)
        return -1;
      m->kind = FR__J_FALSE;
      p += 5;
      break;
    case 'n':
      if (end - p < 4 || memcmp(p, "null", 4) != 0)
        return -1;
      m->kind = FR__J_NULL;
      p += 4;
      break;
    default:
      if (!(p = scan_number(p, end, m)))
        return -1;
    }
    n++;
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
      continue;
    }
    if (p < end && *p == '}') {
      p = skip_ws(p + 1, end);
      return p == end ? (long)n : -1;
    }
    return -1;
  }
}
