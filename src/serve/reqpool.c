/*
 * reqpool.c - per-connection bump allocator and jansson's allocation hooks
 * (see reqpool.h).
 */
#include "serve/reqpool.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "fraud/common.h"

struct fr__reqpool_chunk {
  fr__reqpool_chunk *next;
  size_t cap;
  _Alignas(16) unsigned char data[];
};

#define CHUNK_BYTES (64 * 1024)
#define KEEP_MAX (1024 * 1024)

static _Thread_local fr__reqpool *tl_current;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Makes the head chunk hold n more bytes (n a multiple of 16). */
static int room(fr__reqpool *a, size_t n) {
  if (a->head && a->used + n <= a->head->cap)
    return 0;
  size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
  /* Grow geometrically so a large body needs few chunks. */
  if (a->head && a->head->cap * 2 > cap && a->head->cap * 2 <= SIZE_MAX / 2)
    cap = a->head->cap * 2;
  if (cap > SIZE_MAX - sizeof(fr__reqpool_chunk))
    return FR_ENOMEM;
  fr__reqpool_chunk *c = malloc(sizeof *c + cap);
  if (!c)
    return FR_ENOMEM;
  c->cap = cap;
  c->next = a->head;
  a->head = c;
  a->used = 0;
  return 0;
}

int fr__reqpool_reserve(fr__reqpool *a, size_t n) {
  if (n > SIZE_MAX - 15)
    return FR_ENOMEM;
  return room(a, (n + 15) & ~(size_t)15);
}

void *fr__reqpool_alloc(fr__reqpool *a, size_t n) {
  if (n > SIZE_MAX - 15)
    return NULL;
  n = (n + 15) & ~(size_t)15;
  if (room(a, n))
    return NULL;
  void *p = a->head->data + a->used;
  a->used += n;
  return p;
}

static int owns(const fr__reqpool *a, const void *p) {
  for (const fr__reqpool_chunk *c = a->head; c; c = c->next)
    if ((const unsigned char *)p >= c->data && (const unsigned char *)p < c->data + c->cap)
      return 1;
  return 0;
}

void fr__reqpool_reset(fr__reqpool *a) {
  if (!a->head)
    return;
  /* Keep the largest (most recent) chunk: a connection's bodies tend to be
   * alike in size; but not a huge one. */
  fr__reqpool_chunk *c = a->head->next;
  a->head->next = NULL;
  if (a->head->cap > KEEP_MAX) {
    a->head->next = c;
    c = a->head;
    a->head = NULL;
  }
  while (c) {
    fr__reqpool_chunk *n = c->next;
    free(c);
    c = n;
  }
  a->used = 0;
}

void fr__reqpool_free(fr__reqpool *a) {
  if (!a)
    return;
  fr__reqpool_chunk *c = a->head;
  while (c) {
    fr__reqpool_chunk *n = c->next;
    free(c);
    c = n;
  }
  a->head = NULL;
  a->used = 0;
}

static void *j_malloc(size_t n) {
  fr__reqpool *a = tl_current;
  return a ? fr__reqpool_alloc(a, n) : malloc(n);
}

static void j_free(void *p) {
  fr__reqpool *a = tl_current;
  if (a && owns(a, p))
    return;
  free(p);
}

static void install(void) { json_set_alloc_funcs(j_malloc, j_free); }

void fr__reqpool_install(void) { pthread_once(&g_once, install); }

void fr__reqpool_enter(fr__reqpool *a) { tl_current = a; }
