/*
 * flatjson.h - a fast path for the body of POST /v1/score: one JSON object
 * (RFC 8259) whose values are all scalars, scanned in place into a member
 * list without building a tree.  Measured with callgrind, jansson spends
 * about 110,000 instructions on a 490-byte transaction (70 % of the request's
 * user-space work); this scanner about 5,000.
 *
 * It only ever accepts; it never reports errors.  Anything it does not
 * handle - a nested value, a non-ASCII byte, an escape other than the simple
 * ones and \u00XX, an integer outside the 64-bit range, a duplicate key,
 * any syntax error - makes it give up, and the caller parses the body with
 * jansson, which then accepts it or gives the error message.  So the
 * accepted language is a subset of jansson's, with the same values: the
 * members it returns are exactly those json_loadb(JSON_REJECT_DUPLICATES)
 * gives (tests/serve/test_flatjson.c checks this on a corpus).
 */
#ifndef FRAUD_SERVE_FLATJSON_H
#define FRAUD_SERVE_FLATJSON_H

#include <stddef.h>
#include <stdint.h>

#include "serve/buf.h"

typedef enum fr__jkind {
  FR__J_STRING = 0,
  FR__J_INTEGER,   /* a number without fraction or exponent (jansson's integer) */
  FR__J_REAL,
  FR__J_TRUE,
  FR__J_FALSE,
  FR__J_NULL,
  FR__J_OTHER      /* an object or array (jansson path only) */
} fr__jkind;

/* One member of a transaction object.  Strings point into the body or, when
 * they held escapes, into the scratch buffer; they are not NUL-terminated. */
typedef struct fr__member {
  const char *key;
  size_t klen;
  fr__jkind kind;
  const char *str;   /* FR__J_STRING */
  size_t slen;
  int64_t i;         /* FR__J_INTEGER */
  double num;        /* FR__J_INTEGER and FR__J_REAL: the value as a double */
  uint64_t khash;    /* FNV-1a of the key */
} fr__member;

/* FNV-1a 64 of a key (fr__member.khash). */
uint64_t fr__flatjson_hash(const char *s, size_t n);

/* Scans body[0..len) as one flat object into out[0..max).  Unescaped
 * strings are written to `scratch` (reset by the caller; reserved so that
 * pointers stay valid).  Returns the member count, or -1 to give up. */
long fr__flatjson_scan(const char *body, size_t len, fr__member *out, size_t max,
                       fr__buf *scratch);

#endif
