/*
 * txnjson.c - the /v1/score body read with yajl's event (SAX) parser (see
 * txnjson.h).
 *
 * yajl validates the grammar and the UTF-8 structure and unescapes strings;
 * the callbacks below only track the nesting depth and record the members
 * of each transaction object.  An array inside a member is recorded as
 * FR__J_OTHER and its contents skipped, as the jansson path does.  A
 * callback that returns 0 cancels the parse: that is how the reader gives
 * up (see txnjson.h for when).
 *
 * Memory: yajl's handle, lexer, nesting stack and decode buffer come from
 * the connection's request pool through yajl's allocator hooks (realloc
 * copies; the pool frees everything at its next reset); decoded strings are
 * copied into the reader's `unescaped` buffer, reserved to the body's size
 * first (a decoded string is never longer than its JSON text), so the
 * pointers handed out stay put.
 */
#include "serve/txnjson.h"

#include <math.h>
#include <string.h>
#include <unistr.h>
#include <yajl/yajl_parse.h>

#include "fraud/common.h"

typedef struct reader {
  fr__txnjson *r;
  const char *body;
  size_t len;
  int depth;       /* containers open */
  int txn_depth;   /* depth inside the transaction being read, 0 = none */
  int pending_key; /* a member key was seen; its value is next */
  int oom;
  int ascii;       /* the body has no byte above 0x7f */
  uint64_t keys;   /* bit (khash % 64) of each key of the transaction being
                      read: a key whose bit is clear is no duplicate */
} reader;

uint64_t fr__txnjson_hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

/* ---- yajl's allocator: the request pool ---- */

/* Each block carries its size in front (16 bytes, keeping the pool's
 * alignment) so that realloc knows how much to copy. */
typedef struct block_head {
  size_t size;
  size_t pad;
} block_head;

static void *pool_malloc(void *ctx, size_t sz) {
  block_head *h = fr__reqpool_alloc(ctx, sizeof *h + sz);
  if (!h)
    return NULL; /* not reached: fr__txnjson_read reserves yajl's worst case */
  h->size = sz;
  return h + 1;
}

static void *pool_realloc(void *ctx, void *p, size_t sz) {
  if (!p)
    return pool_malloc(ctx, sz);
  block_head *old = (block_head *)p - 1;
  if (sz <= old->size)
    return p;
  void *q = pool_malloc(ctx, sz);
  if (q)
    memcpy(q, p, old->size);
  return q;
}

static void pool_free(void *ctx, void *p) {
  (void)ctx;
  (void)p; /* released with the pool */
}

/* An upper bound of what yajl allocates for a body of len bytes: the
 * handle, lexer and nesting stack (under 1 KiB at FR__TXNJSON_MAX_DEPTH),
 * and two doubling buffers (the decode buffer of escaped strings, the
 * lexer's buffer of a token cut by the end of input) that start at 2 KiB
 * and end below twice the longest text they hold; copied on each growth,
 * each costs under twice its final size: 4 * max(2048, 2 * (len + 1)). */
static size_t yajl_bound(size_t len) { return 2 * 4 * (2048 + 2 * (len + 1)) + 4096; }

/* ---- what the reader refuses (left to jansson) ---- */

/* 1 when the body holds a vertical tab or form feed byte, or a \u escape
 * of a surrogate or of U+0000.  Escapes come in pairs ("\\" is one), so
 * the scan skips the character after each backslash; a backslash outside a
 * string is a syntax error yajl reports anyway. */
static int needs_jansson(const char *body, size_t len) {
  if (memchr(body, '\v', len) || memchr(body, '\f', len))
    return 1;
  const char *p = body, *end = body + len;
  while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
    if (end - p >= 6 && p[1] == 'u') {
      char a = p[2], b = p[3];
      if ((a == 'd' || a == 'D') && b && strchr("89abcdefABCDEF", b))
        return 1; /* U+D800 .. U+DFFF */
      if (a == '0' && b == '0' && p[4] == '0' && p[5] == '0')
        return 1; /* U+0000 */
    }
    p += 2;
    if (p >= end)
      break;
  }
  return 0;
}

/* Keeps a string yajl handed over: text inside the body is used in place;
 * decoded text (in yajl's buffer, reused for the next string) is copied.
 * The Unicode check refuses what yajl's structural UTF-8 check lets by. */
static int keep_string(reader *x, const unsigned char *s, size_t n, const char **out) {
  uintptr_t b = (uintptr_t)x->body, p = (uintptr_t)s;
  if (p >= b && p + n <= b + x->len) {
    /* Text of an ASCII body is valid UTF-8 as it is. */
    if (!x->ascii && u8_check(s, n) != NULL)
      return 0;
    *out = (const char *)s;
    return 1;
  }
  if (u8_check(s, n) != NULL)
    return 0;
  fr__buf *u = &x->r->unescaped;
  if (u->len + n + 1 > u->cap)
    return 0; /* not reached: reserved to the body's size */
  char *dst = u->data + u->len;
  memcpy(dst, s, n);
  dst[n] = '\0';
  u->len += n + 1;
  *out = dst;
  return 1;
}

/* 1 when no byte of s[0..n) is above 0x7f (eight bytes at a time). */
static int is_ascii(const char *s, size_t n) {
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    acc |= w;
  }
  for (; i < n; i++)
    acc |= (unsigned char)s[i];
  return (acc & 0x8080808080808080ull) == 0;
}

/* The slot of the next value: 1 and *m when it is a member of the
 * transaction being read, 0 when it is elsewhere (nested, or not in a
 * transaction), -1 on an array element that is not an object. */
static int value_slot(reader *x, fr__member **m) {
  fr__txnjson *r = x->r;
  *m = NULL;
  if (x->txn_depth == 1 && x->pending_key) {
    x->pending_key = 0;
    *m = &r->mem[r->nmem - 1];
    return 1;
  }
  if (x->depth == 1 && r->shape == FR__TXN_ARRAY) {
    if (r->first_bad < 0)
      r->first_bad = (long)r->n;
    r->n++;
    return -1;
  }
  return 0;
}

static int on_scalar(reader *x, fr__jkind kind) {
  fr__member *m;
  if (x->depth == 0)
    return 0; /* a bare scalar: jansson's error (it decodes only containers) */
  if (value_slot(x, &m) == 1)
    m->kind = kind;
  return 1;
}

static int cb_null(void *ctx) { return on_scalar(ctx, FR__J_NULL); }

static int cb_boolean(void *ctx, int v) { return on_scalar(ctx, v ? FR__J_TRUE : FR__J_FALSE); }

static int cb_number(void *ctx, const char *s, size_t n) {
  reader *x = ctx;
  fr__member *m = NULL;
  if (x->depth == 0)
    return 0; /* a bare scalar: jansson's error */
  if (value_slot(x, &m) != 1)
    return 1;
  if (memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n)) {
    /* jansson refuses a real that overflows (underflow gives 0 in both). */
    if (fr_parse_double(s, n, &m->num) || !isfinite(m->num))
      return 0;
    m->kind = FR__J_REAL;
    return 1;
  }
  if (fr_parse_int64(s, n, &m->i))
    return 0; /* out of the int64 range: jansson's "too big integer" */
  m->kind = FR__J_INTEGER;
  m->num = (double)m->i;
  return 1;
}

static int cb_string(void *ctx, const unsigned char *s, size_t n) {
  reader *x = ctx;
  fr__member *m = NULL;
  const char *kept;
  /* Every string is checked, used or not: jansson refuses bad text
   * anywhere in the body. */
  if (!keep_string(x, s, n, &kept) || x->depth == 0)
    return 0; /* bad text, or a bare string (jansson's error) */
  if (value_slot(x, &m) == 1) {
    m->kind = FR__J_STRING;
    m->str = kept;
    m->slen = n;
  }
  return 1;
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t n) {
  reader *x = ctx;
  const char *kept;
  if (!keep_string(x, s, n, &kept))
    return 0;
  if (x->txn_depth != 1)
    return 1; /* a key of a nested object */
  fr__txnjson *r = x->r;
  if (r->nmem - r->span[r->n - 1].m0 >= FR__TXNJSON_MAX_MEMBERS)
    return 0; /* left to jansson: see FR__TXNJSON_MAX_MEMBERS */
  if (r->nmem == r->mcap) {
    size_t cap = r->mcap ? 2 * r->mcap : 64;
    fr__member *p = realloc(r->mem, cap * sizeof *p);
    if (!p) {
      x->oom = 1;
      return 0;
    }
    r->mem = p;
    r->mcap = cap;
  }
  uint64_t h = fr__txnjson_hash(kept, n);
  uint64_t bit = (uint64_t)1 << (h % 64);
  if (x->keys & bit) { /* maybe a duplicate key: jansson's error */
    const fr__txnspan *sp = &r->span[r->n - 1];
    for (size_t k = sp->m0; k < r->nmem; k++)
      if (r->mem[k].khash == h && r->mem[k].klen == n && memcmp(r->mem[k].key, kept, n) == 0)
        return 0;
  }
  x->keys |= bit;
  fr__member *m = &r->mem[r->nmem++];
  memset(m, 0, sizeof *m);
  m->key = kept;
  m->klen = n;
  m->khash = h;
  x->pending_key = 1;
  return 1;
}

/* A new transaction object: its span starts at the next member. */
static int begin_txn(reader *x) {
  fr__txnjson *r = x->r;
  if (r->n == r->scap) {
    size_t cap = r->scap ? 2 * r->scap : 16;
    fr__txnspan *p = realloc(r->span, cap * sizeof *p);
    if (!p) {
      x->oom = 1;
      return 0;
    }
    r->span = p;
    r->scap = cap;
  }
  r->span[r->n].m0 = r->nmem;
  r->span[r->n].nm = 0;
  r->n++;
  x->txn_depth = 1;
  x->keys = 0;
  return 1;
}

static int on_open(reader *x, int is_map) {
  if (x->depth >= FR__TXNJSON_MAX_DEPTH)
    return 0;
  fr__txnjson *r = x->r;
  fr__member *m;
  int ok = 1;
  if (x->depth == 0) {
    r->shape = is_map ? FR__TXN_OBJECT : FR__TXN_ARRAY;
    if (is_map)
      ok = begin_txn(x);
  } else if (x->depth == 1 && r->shape == FR__TXN_ARRAY && !x->txn_depth) {
    if (is_map)
      ok = begin_txn(x);
    else
      value_slot(x, &m); /* an array element that is an array */
  } else if (is_map) {
    /* An object inside a member or inside an array element: jansson
     * refuses duplicate keys in it too, which the reader does not track. */
    return 0;
  } else if (x->txn_depth) {
    if (value_slot(x, &m) == 1)
      m->kind = FR__J_OTHER;
    x->txn_depth++;
  }
  x->depth++;
  return ok;
}

static int on_close(reader *x) {
  x->depth--;
  if (x->txn_depth) {
    if (--x->txn_depth == 0) {
      fr__txnspan *sp = &x->r->span[x->r->n - 1];
      sp->nm = x->r->nmem - sp->m0;
    }
  }
  return 1;
}

static int cb_start_map(void *ctx) { return on_open(ctx, 1); }
static int cb_start_array(void *ctx) { return on_open(ctx, 0); }
static int cb_end(void *ctx) { return on_close(ctx); }

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number, /* numbers as text: no locale-dependent strtod */
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end,
};

int fr__txnjson_read(fr__txnjson *r, const char *body, size_t len, fr__reqpool *pool) {
  r->shape = FR__TXN_OBJECT;
  r->n = 0;
  r->first_bad = -1;
  r->nmem = 0;
  fr__buf_reset(&r->unescaped);
  if (needs_jansson(body, len))
    return 0;
  if (fr__buf_reserve(&r->unescaped, len + 1) ||
      fr__reqpool_reserve(pool, yajl_bound(len)))
    return FR_ENOMEM;
  reader x = {.r = r, .body = body, .len = len, .ascii = is_ascii(body, len)};
  yajl_alloc_funcs af = {pool_malloc, pool_realloc, pool_free, pool};
  yajl_handle h = yajl_alloc(&callbacks, &af, &x);
  if (!h)
    return FR_ENOMEM;
  /* yajl's defaults are RFC 8259's: no comments, one value, nothing after
   * it, strings checked for UTF-8. */
  yajl_status st = yajl_parse(h, (const unsigned char *)body, len);
  if (st == yajl_status_ok)
    st = yajl_complete_parse(h);
  yajl_free(h);
  if (x.oom)
    return FR_ENOMEM;
  return st == yajl_status_ok ? 1 : 0;
}

void fr__txnjson_close(fr__txnjson *r) {
  if (!r)
    return;
  free(r->mem);
  free(r->span);
  fr__buf_close(&r->unescaped);
  memset(r, 0, sizeof *r);
}
