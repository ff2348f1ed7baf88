/*
 * txnjson.h - reads the body of POST /v1/score (one transaction object, or
 * an array of them) into flat member lists with yajl's event parser, without
 * building a tree.  jansson's DOM parse of a 490-byte transaction costs
 * about 110,000 instructions, which was 70 % of the request's own work;
 * yajl's parser (RFC 8259 grammar, UTF-8 validation and string unescaping
 * done by the library, our callbacks only record members) costs a small
 * fraction of that (figures in docs/server.md, "Cost per request").
 *
 * The reader accepts exactly what jansson accepts (json_loadb with
 * JSON_REJECT_DUPLICATES), with the same values, or gives up; whoever calls
 * it then parses the body with jansson, which accepts it or words the error
 * message.  It gives up on every syntax error and on the few inputs where
 * yajl and jansson differ:
 *   - a \u escape of a surrogate or of U+0000 (yajl decodes a lone or
 *     mismatched surrogate to other text, and U+0000 to a NUL byte, where
 *     jansson refuses both);
 *   - a vertical tab or form feed byte (yajl takes them as white space,
 *     RFC 8259 section 2 does not);
 *   - text that yajl's UTF-8 check lets through but the Unicode standard
 *     (and jansson) does not: overlong forms, encoded surrogates, code points
 *     above U+10FFFF (checked with libunistring's u8_check);
 *   - a body that is a bare string, number, true, false or null (jansson
 *     decodes only objects and arrays without JSON_DECODE_ANY);
 *   - duplicate keys in a transaction, an integer outside the int64 range
 *     or a real that overflows (jansson's errors);
 *   - an object anywhere but at the top or as an element of the top-level
 *     array (jansson refuses duplicate keys in it too; the reader does not
 *     keep their keys), nesting deeper than FR__TXNJSON_MAX_DEPTH (jansson
 *     allows 2048 levels; a transaction has two);
 *   - a number longer than fr_parse_double takes (127 characters);
 *   - a transaction with more than FR__TXNJSON_MAX_MEMBERS members (see
 *     there: keeps the duplicate check linear).
 * tests/serve/test_txnjson.c checks this on a corpus and on random
 * mutations of real bodies.
 *
 * Numbers are taken from yajl as text (its own conversion is strtod in the
 * process locale) and converted with fr_parse_double / fr_parse_int64:
 * the correctly rounded double of the token in the C locale, as jansson
 * computes it, and for integers the int64 value (jansson's json_int_t).
 */
#ifndef FRAUD_SERVE_TXNJSON_H
#define FRAUD_SERVE_TXNJSON_H

#include <stddef.h>
#include <stdint.h>

#include "serve/buf.h"
#include "serve/reqpool.h"

/* Deepest nesting the reader follows (an object in an array is depth 2). */
#define FR__TXNJSON_MAX_DEPTH 64

/* Most members the reader keeps in one transaction object.  Its duplicate
 * check is a 64-bit filter of key hashes plus a scan of the earlier keys
 * when the filter hits; past ~64 keys every key hits, so the scan alone
 * would make a body of k keys cost k^2 / 2 comparisons (300,000 keys:
 * 52 s of CPU).  A transaction has a few dozen fields: beyond this count
 * the body goes to jansson, whose hash table refuses duplicates in linear
 * time, and each key costs at most this many comparisons here. */
#define FR__TXNJSON_MAX_MEMBERS 128

typedef enum fr__jkind {
  FR__J_STRING = 0,
  FR__J_INTEGER,   /* a number without fraction or exponent (jansson's integer) */
  FR__J_REAL,
  FR__J_TRUE,
  FR__J_FALSE,
  FR__J_NULL,
  FR__J_OTHER      /* an array (an object is left to jansson) or, from the
                      jansson path, an object */
} fr__jkind;

/* One member of a transaction object.  Keys and strings point into the body
 * or, when they held escapes, into the reader's `unescaped` buffer; they are
 * not NUL-terminated. */
typedef struct fr__member {
  const char *key;
  size_t klen;
  fr__jkind kind;
  const char *str;   /* FR__J_STRING */
  size_t slen;
  int64_t i;         /* FR__J_INTEGER */
  double num;        /* FR__J_INTEGER and FR__J_REAL: the value as a double */
  uint64_t khash;    /* fr__txnjson_hash of the key */
} fr__member;

/* Members [m0, m0 + nm) of one transaction. */
typedef struct fr__txnspan {
  size_t m0, nm;
} fr__txnspan;

typedef enum fr__txnshape {
  FR__TXN_OBJECT = 0, /* the body is one object: n = 1 */
  FR__TXN_ARRAY       /* an array: n elements */
} fr__txnshape;

/* The reader and what it read.  Zero-initialise, then call
 * fr__txnjson_read for each body; the arrays are kept and reused (one
 * reader per connection: nothing is allocated in the steady state).  Not
 * thread-safe; free with fr__txnjson_close. */
typedef struct fr__txnjson {
  fr__txnshape shape;
  size_t n;           /* transactions (array elements, objects or not) */
  long first_bad;     /* index of the first array element that is not an
                         object, or -1 */
  fr__member *mem;    /* every transaction's members, in body order */
  size_t nmem, mcap;
  fr__txnspan *span;  /* span[i] for transaction i < n (objects only) */
  size_t scap;
  fr__buf unescaped;  /* strings with escapes, decoded (reserved to the
                         body's size before parsing, so it never moves) */
} fr__txnjson;

/* FNV-1a 64 of a key (fr__member.khash; also the column hashes of a model
 * version, models.h). */
uint64_t fr__txnjson_hash(const char *s, size_t n);

/* Reads body[0..len).  yajl's own memory comes from `pool` (reserved up
 * front for its worst case, so the library never meets an allocation
 * failure); the caller resets the pool between requests.  Returns 1 when
 * the body was read (shape, n, first_bad, mem, span filled; pointers valid
 * until the next call or until the body or pool is released), 0 when it is
 * left to jansson (see above), or FR_ENOMEM. */
int fr__txnjson_read(fr__txnjson *r, const char *body, size_t len, fr__reqpool *pool);

/* Frees the reader's arrays.  NULL-safe. */
void fr__txnjson_close(fr__txnjson *r);

#endif
