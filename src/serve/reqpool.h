/*
 * reqpool.h - a bump allocator per connection (the request pool), and jansson routed through it
 * while a request body is parsed, so that decoding a request allocates
 * nothing in the steady state and its whole JSON tree is released in one
 * step (CONVENTIONS.md rule 8: per-request memory from a pool freed in one
 * call).
 *
 * jansson takes one process-wide pair of allocation functions
 * (json_set_alloc_funcs); ours serve the calling thread's current arena when
 * one is set (fr__reqpool_enter) and fall back to malloc/free otherwise, so
 * every other jansson user in the process is unaffected.  A free of memory
 * that lies in the current arena is a no-op.  JSON values parsed in an arena
 * must never be freed with json_decref outside it: they are simply dropped
 * and the arena is reset when the connection's next request starts.  The
 * /v1/score body reader gives yajl the same pool through yajl's own
 * allocator hooks (txnjson.c).
 */
#ifndef FRAUD_SERVE_REQPOOL_H
#define FRAUD_SERVE_REQPOOL_H

#include <stddef.h>

typedef struct fr__reqpool_chunk fr__reqpool_chunk;

typedef struct fr__reqpool {
  fr__reqpool_chunk *head; /* chunk being filled; older ones follow */
  size_t used;           /* bytes used in head */
} fr__reqpool;

/* Installs the jansson allocation functions (once per process). */
void fr__reqpool_install(void);
/* Makes `a` the calling thread's current arena (NULL: none). */
void fr__reqpool_enter(fr__reqpool *a);
/* Frees every chunk but the newest (kept for reuse, unless it is larger
 * than 1 MiB: one huge body must not pin its memory to the connection) and
 * empties it. */
void fr__reqpool_reset(fr__reqpool *a);
/* Frees everything.  NULL-safe. */
void fr__reqpool_free(fr__reqpool *a);
/* Allocates n bytes (16-byte aligned) from a; NULL on ENOMEM. */
void *fr__reqpool_alloc(fr__reqpool *a, size_t n);
/* Makes sure the next allocations totalling n bytes (each rounded up to
 * 16) succeed without a new chunk: for a library that does not check its
 * allocations (yajl).  0 or FR_ENOMEM. */
int fr__reqpool_reserve(fr__reqpool *a, size_t n);

#endif
