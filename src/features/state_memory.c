/*
 * state_memory.c - the in-process entity state store.
 *
 * Entities are spread over FR__SHARDS shards by their keyed hash; each shard
 * has a mutex, a hash table (uthash) and an LRU list.  A featurize call locks
 * one shard at a time, per entity, for the read-compute-insert of that entity,
 * so concurrent requests for the same card serialise and no update is lost,
 * while requests for different cards rarely contend.
 *
 * Memory is bounded by `max_entities` (the least recently updated entity of
 * the shard is evicted) and by `ttl_seconds` (entities whose newest event is
 * older than the newest event seen anywhere minus the TTL are evicted, a few
 * at a time as traffic passes).  Time here is event time, so an offline
 * replay and live traffic evict alike.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "features/internal.h"

/* The entity keys are already keyed SipHash values: use them as they are. */
#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv)  \
  do {                                        \
    uint64_t k_;                              \
    memcpy(&k_, keyptr, sizeof k_);           \
    (hashv) = (unsigned)(k_ ^ (k_ >> 32));    \
  } while (0)
#include <uthash.h>

#define FR__SHARDS 64

typedef struct mem_entry {
  uint64_t key;
  int slot;
  fr__entity ent;
  struct mem_entry *lru_prev, *lru_next;
  UT_hash_handle hh;
} mem_entry;

typedef struct shard {
  pthread_mutex_t mu;
  mem_entry *table;
  mem_entry *lru_head, *lru_tail; /* head = least recently updated */
  size_t count;
} shard;

typedef struct mem_state {
  fr_state base;
  shard shards[FR__SHARDS];
  size_t shard_cap;             /* 0 = unlimited */
  _Atomic double watermark;     /* newest event time seen */
  atomic_size_t entities;
} mem_state;

static void lru_unlink(shard *sh, mem_entry *e) {
  if (e->lru_prev)
    e->lru_prev->lru_next = e->lru_next;
  else
    sh->lru_head = e->lru_next;
  if (e->lru_next)
    e->lru_next->lru_prev = e->lru_prev;
  else
    sh->lru_tail = e->lru_prev;
  e->lru_prev = e->lru_next = NULL;
}

static void lru_push_tail(shard *sh, mem_entry *e) {
  e->lru_prev = sh->lru_tail;
  e->lru_next = NULL;
  if (sh->lru_tail)
    sh->lru_tail->lru_next = e;
  else
    sh->lru_head = e;
  sh->lru_tail = e;
}

static void entry_free(mem_state *ms, shard *sh, mem_entry *e) {
  HASH_DEL(sh->table, e);
  lru_unlink(sh, e);
  fr__entity_clear(&e->ent);
  free(e);
  sh->count--;
  atomic_fetch_sub(&ms->entities, 1);
}

static shard *shard_of(mem_state *ms, uint64_t key) {
  return &ms->shards[(key >> 58) % FR__SHARDS];
}

static int mem_begin(fr_state *st, int slot, uint64_t key, int create,
                     fr__entity_ref *ref, fr_error *err) {
  mem_state *ms = (mem_state *)st;
  shard *sh = shard_of(ms, key);
  pthread_mutex_lock(&sh->mu);
  mem_entry *e = NULL;
  HASH_FIND(hh, sh->table, &key, sizeof key, e);
  ref->created = 0;
  if (!e && create) {
    if (ms->shard_cap && sh->count >= ms->shard_cap && sh->lru_head) {
      entry_free(ms, sh, sh->lru_head);
      atomic_fetch_add(&ms->base.evicted_capacity, 1);
    }
    e = calloc(1, sizeof *e);
    if (!e) {
      pthread_mutex_unlock(&sh->mu);
      return fr_error_set(err, FR_ENOMEM, "out of memory for entity state");
    }
    e->key = key;
    e->slot = slot;
    fr__entity_init(&e->ent);
    HASH_ADD(hh, sh->table, key, sizeof key, e);
    lru_push_tail(sh, e);
    sh->count++;
    atomic_fetch_add(&ms->entities, 1);
    ref->created = 1;
  }
  ref->ent = e ? &e->ent : NULL;
  ref->handle = e;
  return 0;
}

static int mem_commit(fr_state *st, fr__entity_ref *ref, int modified,
                      fr_error *err) {
  (void)err;
  mem_state *ms = (mem_state *)st;
  mem_entry *e = ref->handle;
  shard *sh = NULL;
  if (e) {
    sh = shard_of(ms, e->key);
    if (modified) {
      lru_unlink(sh, e);
      lru_push_tail(sh, e);
      double wm = atomic_load(&ms->watermark);
      while ((isnan(wm) || e->ent.latest_ts > wm) &&
             !atomic_compare_exchange_weak(&ms->watermark, &wm, e->ent.latest_ts))
        ;
    } else if (ref->created && e->ent.n == 0 && isnan(e->ent.latest_ts)) {
      /* Created for a read that inserted nothing: do not keep it. */
      entry_free(ms, sh, e);
      e = NULL;
    }
    /* TTL: evict up to two idle entities from the LRU head. */
    double ttl = st->opt.ttl_seconds;
    if (ttl > 0) {
      double wm = atomic_load(&ms->watermark);
      for (int i = 0; i < 2 && sh->lru_head && sh->lru_head != e; i++) {
        mem_entry *old = sh->lru_head;
        if (!(old->ent.latest_ts < wm - ttl))
          break;
        entry_free(ms, sh, old);
        atomic_fetch_add(&ms->base.evicted_ttl, 1);
      }
    }
    pthread_mutex_unlock(&sh->mu);
  }
  ref->ent = NULL;
  ref->handle = NULL;
  return 0;
}

static size_t mem_size(const fr_state *st) {
  const mem_state *ms = (const mem_state *)st;
  return atomic_load(&((mem_state *)ms)->entities);
}

static void mem_free(fr_state *st) {
  mem_state *ms = (mem_state *)st;
  for (int i = 0; i < FR__SHARDS; i++) {
    shard *sh = &ms->shards[i];
    mem_entry *e, *tmp;
    HASH_ITER(hh, sh->table, e, tmp) {
      HASH_DEL(sh->table, e);
      fr__entity_clear(&e->ent);
      free(e);
    }
    pthread_mutex_destroy(&sh->mu);
  }
  free(ms);
}

static const fr__state_vtable mem_vtable = {mem_begin, mem_commit, mem_size,
                                            mem_free};

void fr_state_options_default(fr_state_options *o) {
  memset(o, 0, sizeof *o);
  fr_hash_key_from_secret(getenv("FRAUD_HASH_SECRET"), o->hash_key);
}

fr_state *fr_state_new_memory(const fr_featurizer *f, const fr_state_options *o,
                              fr_error *err) {
  mem_state *ms = calloc(1, sizeof *ms);
  if (!ms) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  ms->base.vt = &mem_vtable;
  ms->base.f = f;
  if (o)
    ms->base.opt = *o;
  else
    fr_state_options_default(&ms->base.opt);
  if (ms->base.opt.max_entities)
    ms->shard_cap = (ms->base.opt.max_entities + FR__SHARDS - 1) / FR__SHARDS;
  atomic_init(&ms->watermark, NAN);
  for (int i = 0; i < FR__SHARDS; i++)
    pthread_mutex_init(&ms->shards[i].mu, NULL);
  return &ms->base;
}

void fr_state_free(fr_state *st) {
  if (st)
    st->vt->free(st);
}

size_t fr_state_size(const fr_state *st) { return st ? st->vt->size(st) : 0; }

void fr_state_get_stats(const fr_state *st, fr_state_stats *out) {
  memset(out, 0, sizeof *out);
  if (!st)
    return;
  fr_state *m = (fr_state *)st;
  out->evicted_ttl = atomic_load(&m->evicted_ttl);
  out->evicted_capacity = atomic_load(&m->evicted_capacity);
  out->late_inserted = atomic_load(&m->late_inserted);
  out->late_dropped = atomic_load(&m->late_dropped);
}
