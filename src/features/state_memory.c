/*
 * state_memory.c - the in-process entity state store, and its snapshots.
 *
 * Entities are spread over FR__SHARDS shards by their keyed hash; each shard
 * has a mutex, a flat hash table and an LRU list.  A featurize call locks
 * one shard at a time, per entity, for the read-compute-insert of that entity,
 * so concurrent requests for the same card serialise and no update is lost,
 * while requests for different cards rarely contend.
 *
 * Memory is bounded by `max_entities` and `max_bytes` (the least recently
 * updated entity of the shard is evicted) and by `ttl_seconds` (entities
 * whose newest event is older than the newest event seen anywhere minus the
 * TTL are evicted, a few at a time as traffic passes).  Time here is event
 * time, so an offline replay and live traffic evict alike.
 *
 * Snapshots stream the shards one at a time (each under its lock) into a
 * temporary file that is fsync'ed and renamed over the previous snapshot, so
 * a crash at any moment leaves a complete snapshot behind; a SHA-256 trailer
 * lets a restore refuse a damaged file before touching the state.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "features/internal.h"

/* Table key: the entity's keyed hash and its slot (so a hash collision
 * between two entities of different layouts can never mix records). */
typedef struct mem_key {
  uint64_t h;
  uint64_t slot;
} mem_key;

#define FR__SHARDS 64

typedef struct mem_entry {
  mem_key key;
  size_t bytes;          /* bytes accounted for this entry */
  fr__entity ent;
  struct mem_entry *lru_prev, *lru_next;
} mem_entry;

/* One cell of a shard's table: the entry's mixed hash (see mix) and the
 * entry; e == NULL marks a free cell. */
typedef struct mem_cell {
  uint64_t hv;
  mem_entry *e;
} mem_cell;

/* Each shard's table is a flat open-addressing array with linear probing
 * (at most half full, so probes stay short), keyed by the mixed hash: a
 * lookup reads one cell and then the entry itself, which featurizing reads
 * anyway, where a chained table (uthash) reads a bucket, a chain handle and
 * the key, each a cache miss on a large state.  The keys are keyed SipHash
 * values already, so their low bits index the table as they are. */
typedef struct shard {
  pthread_mutex_t mu;
  mem_cell *cells;                /* cap cells, NULL until the first entry */
  size_t cap;                     /* a power of two, or 0 */
  /* cells and cap - 1 for mem_prefetch, which reads them without the lock:
   * a torn pair only makes it prefetch a useless address (a prefetch never
   * faults, even on memory since freed). */
  _Atomic(uintptr_t) hint_cells;
  atomic_size_t hint_mask;
  mem_entry *lru_head, *lru_tail; /* head = least recently updated */
  size_t count, bytes;
} shard;

typedef struct mem_state {
  fr_state base;
  shard shards[FR__SHARDS];
  size_t shard_cap;             /* entities per shard, 0 = unlimited */
  size_t shard_bytes_cap;       /* bytes per shard, 0 = unlimited */
  int lru;                      /* keep the LRU order (some eviction is
                                   configured); else the list stays in
                                   creation order, which saves touching two
                                   other entries per update */
  _Atomic double watermark;     /* newest event time seen */
  atomic_size_t entities, bytes;
  atomic_uint_fast64_t evicted_ttl, evicted_capacity, snapshots;
  _Atomic double last_snapshot;
  pthread_mutex_t snap_write;   /* one snapshot writer at a time */
  /* automatic snapshots */
  char *snap_path;
  double snap_interval;
  int snap_thread_on, snap_stop;
  pthread_t snap_thread;
  pthread_mutex_t snap_mu;
  pthread_cond_t snap_cv;
} mem_state;

/* The table hash of (entity hash, slot): slot 0 keeps the hash itself. */
static uint64_t mix(mem_key k) { return k.h ^ (k.slot * 0x9e3779b97f4a7c15ull); }

static mem_entry *table_find(const shard *sh, mem_key k) {
  if (!sh->cap)
    return NULL;
  uint64_t hv = mix(k);
  size_t mask = sh->cap - 1;
  for (size_t i = (size_t)hv & mask;; i = (i + 1) & mask) {
    const mem_cell *c = &sh->cells[i];
    if (!c->e)
      return NULL;
    if (c->hv == hv && c->e->key.h == k.h && c->e->key.slot == k.slot)
      return c->e;
  }
}

static void table_put(mem_cell *cells, size_t cap, uint64_t hv, mem_entry *e) {
  size_t mask = cap - 1, i = (size_t)hv & mask;
  while (cells[i].e)
    i = (i + 1) & mask;
  cells[i].hv = hv;
  cells[i].e = e;
}

/* Adds e (absent from the table); FR_ENOMEM when the table cannot grow. */
static int table_add(shard *sh, mem_entry *e) {
  if (2 * (sh->count + 1) > sh->cap) {
    size_t cap = sh->cap ? 2 * sh->cap : 64;
    mem_cell *cells = calloc(cap, sizeof *cells);
    if (!cells)
      return FR_ENOMEM;
    for (size_t i = 0; i < sh->cap; i++)
      if (sh->cells[i].e)
        table_put(cells, cap, sh->cells[i].hv, sh->cells[i].e);
    free(sh->cells);
    sh->cells = cells;
    sh->cap = cap;
    atomic_store_explicit(&sh->hint_cells, (uintptr_t)cells, memory_order_relaxed);
    atomic_store_explicit(&sh->hint_mask, cap - 1, memory_order_relaxed);
  }
  table_put(sh->cells, sh->cap, mix(e->key), e);
  return 0;
}

/* Removes e (present in the table) by backward shift: every later cell of
 * the probe run that could sit in the freed cell moves into it, so no
 * tombstones are needed and lookups stay as short as on a fresh table
 * (Knuth, TAOCP vol. 3, 6.4, Algorithm R). */
static void table_del(shard *sh, const mem_entry *e) {
  size_t mask = sh->cap - 1;
  size_t i = (size_t)mix(e->key) & mask;
  while (sh->cells[i].e != e)
    i = (i + 1) & mask;
  for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    if (!sh->cells[j].e)
      break;
    size_t home = (size_t)sh->cells[j].hv & mask;
    /* Cell j may move to the hole i when its home is not in (i, j]. */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      sh->cells[i] = sh->cells[j];
      i = j;
    }
  }
  sh->cells[i].e = NULL;
  sh->cells[i].hv = 0;
}

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

/* An entry's bytes: the record, its logs, and its share of the shard's
 * table (at most half full: two cells or more per entry). */
static size_t entry_bytes(const mem_state *ms, const mem_entry *e) {
  const fr__slot *sl = &ms->base.f->slots[e->key.slot];
  return sizeof *e - sizeof e->ent + 2 * sizeof(mem_cell) + fr__entity_bytes(&e->ent, sl);
}

static void account(mem_state *ms, shard *sh, mem_entry *e) {
  size_t nb = entry_bytes(ms, e);
  if (nb >= e->bytes) {
    sh->bytes += nb - e->bytes;
    atomic_fetch_add(&ms->bytes, nb - e->bytes);
  } else {
    sh->bytes -= e->bytes - nb;
    atomic_fetch_sub(&ms->bytes, e->bytes - nb);
  }
  e->bytes = nb;
}

static void entry_free(mem_state *ms, shard *sh, mem_entry *e) {
  table_del(sh, e);
  lru_unlink(sh, e);
  sh->bytes -= e->bytes;
  atomic_fetch_sub(&ms->bytes, e->bytes);
  fr__entity_clear(&e->ent);
  free(e);
  sh->count--;
  atomic_fetch_sub(&ms->entities, 1);
}

static shard *shard_of(mem_state *ms, uint64_t h) {
  return &ms->shards[(h >> 58) % FR__SHARDS];
}

/* Adds a new empty entry (the shard is locked); NULL on ENOMEM. */
static mem_entry *entry_new(mem_state *ms, shard *sh, mem_key key) {
  mem_entry *e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  e->key = key;
  fr__entity_init(&e->ent);
  if (table_add(sh, e)) {
    free(e);
    return NULL;
  }
  lru_push_tail(sh, e);
  sh->count++;
  atomic_fetch_add(&ms->entities, 1);
  account(ms, sh, e);
  return e;
}

static int mem_begin(fr_state *st, int slot, uint64_t key, int create,
                     fr__entity_ref *ref, fr_error *err) {
  mem_state *ms = (mem_state *)st;
  shard *sh = shard_of(ms, key);
  mem_key k = {key, (uint64_t)slot};
  pthread_mutex_lock(&sh->mu);
  mem_entry *e = table_find(sh, k);
  ref->created = 0;
  if (!e && create) {
    if (ms->shard_cap && sh->count >= ms->shard_cap && sh->lru_head) {
      entry_free(ms, sh, sh->lru_head);
      atomic_fetch_add(&ms->evicted_capacity, 1);
    }
    e = entry_new(ms, sh, k);
    if (!e) {
      pthread_mutex_unlock(&sh->mu);
      return fr_error_set(err, FR_ENOMEM, "out of memory for entity state");
    }
    ref->created = 1;
  }
  ref->ent = e ? &e->ent : NULL;
  ref->handle = sh;
  /* The shard stays locked until commit; the entry rides in ent. */
  return 0;
}

static void mem_prefetch(const fr_state *st, int slot, uint64_t key) {
  mem_state *ms = (mem_state *)st;
  shard *sh = shard_of(ms, key);
  uintptr_t cells = atomic_load_explicit(&sh->hint_cells, memory_order_relaxed);
  size_t mask = atomic_load_explicit(&sh->hint_mask, memory_order_relaxed);
  if (!cells)
    return;
  mem_key k = {key, (uint64_t)slot};
  /* Integer arithmetic: the array may have been replaced meanwhile. */
  cells += ((size_t)mix(k) & mask) * sizeof(mem_cell);
  __builtin_prefetch((const void *)cells);
}

static mem_entry *entry_of(fr__entity *ent) {
  return (mem_entry *)((char *)ent - offsetof(mem_entry, ent));
}

static int mem_commit(fr_state *st, fr__entity_ref *ref, int modified,
                      fr_error *err) {
  (void)err;
  mem_state *ms = (mem_state *)st;
  shard *sh = ref->handle;
  mem_entry *e = ref->ent ? entry_of(ref->ent) : NULL;
  if (e) {
    if (modified) {
      if (ms->lru && sh->lru_tail != e) {
        lru_unlink(sh, e);
        lru_push_tail(sh, e);
      }
      account(ms, sh, e);
      double wm = atomic_load(&ms->watermark);
      while ((isnan(wm) || e->ent.latest_ts > wm) &&
             !atomic_compare_exchange_weak(&ms->watermark, &wm, e->ent.latest_ts))
        ;
    } else if (ref->created && e->ent.n == 0 && isnan(e->ent.latest_ts)) {
      /* Created for an update that inserted nothing: do not keep it. */
      entry_free(ms, sh, e);
      e = NULL;
    }
    /* Byte cap: evict least recently updated entities of this shard. */
    while (ms->shard_bytes_cap && sh->bytes > ms->shard_bytes_cap &&
           sh->lru_head && sh->lru_head != e) {
      entry_free(ms, sh, sh->lru_head);
      atomic_fetch_add(&ms->evicted_capacity, 1);
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
        atomic_fetch_add(&ms->evicted_ttl, 1);
      }
    }
  }
  if (sh)
    pthread_mutex_unlock(&sh->mu);
  ref->ent = NULL;
  ref->handle = NULL;
  return 0;
}

static size_t mem_size(const fr_state *st) {
  mem_state *ms = (mem_state *)st;
  return atomic_load(&ms->entities);
}

static void mem_stats(const fr_state *st, fr_state_stats *out) {
  mem_state *ms = (mem_state *)st;
  out->entities = atomic_load(&ms->entities);
  out->bytes = atomic_load(&ms->bytes);
  out->evicted_ttl = atomic_load(&ms->evicted_ttl);
  out->evicted_capacity = atomic_load(&ms->evicted_capacity);
  out->snapshots = atomic_load(&ms->snapshots);
  out->last_snapshot = atomic_load(&ms->last_snapshot);
  out->available = 1;
}

/* ---- snapshots ----------------------------------------------------------
 * header   "FRSTATE1", u32 format version (1), u32 byte-order mark
 *          0x01020304, char digest[64] (fr_featurizer_state_digest), u32
 *          slots, u32 0, f64 watermark                         (96 bytes)
 * records  u32 slot, u32 length, u64 keyed hash, length bytes of
 *          fr__entity_encode                                   (per entity)
 * trailer  u32 0xffffffff, u32 0, u64 records, u8 sha256[32] of every byte
 *          before the sha256 itself
 */

#define SNAP_MAGIC "FRSTATE1"
#define SNAP_VERSION 1u
#define SNAP_BOM 0x01020304u
#define SNAP_HEADER 96
#define SNAP_END 0xffffffffu

typedef struct wbuf {
  uint8_t *p;
  size_t len, cap;
} wbuf;

static int wbuf_put(wbuf *b, const void *data, size_t n) {
  if (b->len + n > b->cap) {
    size_t nc = (b->len + n) * 2;
    uint8_t *np = realloc(b->p, nc);
    if (!np)
      return FR_ENOMEM;
    b->p = np;
    b->cap = nc;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  return 0;
}

static int write_all(int fd, const void *data, size_t n) {
  const uint8_t *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Serialises one shard (locked) into b: records in LRU order. */
static int shard_dump(mem_state *ms, shard *sh, wbuf *b, uint64_t *count) {
  const fr_featurizer *f = ms->base.f;
  for (mem_entry *e = sh->lru_head; e; e = e->lru_next) {
    const fr__slot *sl = &f->slots[e->key.slot];
    size_t len = fr__entity_encoded_size(&e->ent, sl);
    if (len > UINT32_MAX)
      return FR_ELIMIT;
    uint32_t head[2] = {(uint32_t)e->key.slot, (uint32_t)len};
    if (wbuf_put(b, head, 8) || wbuf_put(b, &e->key.h, 8))
      return FR_ENOMEM;
    if (b->len + len > b->cap) {
      size_t nc = (b->len + len) * 2;
      uint8_t *np = realloc(b->p, nc);
      if (!np)
        return FR_ENOMEM;
      b->p = np;
      b->cap = nc;
    }
    fr__entity_encode(&e->ent, sl, b->p + b->len);
    b->len += len;
    (*count)++;
  }
  return 0;
}

static int mem_snapshot(fr_state *st, const char *path, fr_error *err) {
  mem_state *ms = (mem_state *)st;
  const fr_featurizer *f = st->f;
  char *tmp = malloc(strlen(path) + 64);
  char *dcopy = strdup(path);
  if (!tmp || !dcopy) {
    free(tmp);
    free(dcopy);
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  }
  pthread_mutex_lock(&ms->snap_write);
  sprintf(tmp, "%s.tmp.%ld", path, (long)getpid());
  int rc = 0;
  wbuf b = {0};
  uint64_t count = 0;
  crypto_hash_sha256_state sha;
  crypto_hash_sha256_init(&sha);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    rc = fr_error_set(err, FR_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    goto done;
  }
  uint8_t head[SNAP_HEADER] = {0};
  uint32_t u[2] = {SNAP_VERSION, SNAP_BOM};
  memcpy(head, SNAP_MAGIC, 8);
  memcpy(head + 8, u, 8);
  memcpy(head + 16, f->state_digest, 64);
  uint32_t ns[2] = {(uint32_t)f->nslots, 0};
  memcpy(head + 80, ns, 8);
  double wm = atomic_load(&ms->watermark);
  memcpy(head + 88, &wm, 8);
  crypto_hash_sha256_update(&sha, head, sizeof head);
  if (write_all(fd, head, sizeof head))
    goto io_error;
  for (int i = 0; i < FR__SHARDS; i++) {
    shard *sh = &ms->shards[i];
    b.len = 0;
    pthread_mutex_lock(&sh->mu);
    rc = shard_dump(ms, sh, &b, &count);
    pthread_mutex_unlock(&sh->mu);
    if (rc) {
      fr_error_set(err, rc, "%s: out of memory writing a snapshot", path);
      goto done;
    }
    crypto_hash_sha256_update(&sha, b.p, b.len);
    if (b.len && write_all(fd, b.p, b.len))
      goto io_error;
  }
  uint8_t tail[16 + crypto_hash_sha256_BYTES];
  uint32_t end[2] = {SNAP_END, 0};
  memcpy(tail, end, 8);
  memcpy(tail + 8, &count, 8);
  crypto_hash_sha256_update(&sha, tail, 16);
  crypto_hash_sha256_final(&sha, tail + 16);
  if (write_all(fd, tail, sizeof tail) || fsync(fd))
    goto io_error;
  if (close(fd)) {
    fd = -1;
    goto io_error;
  }
  fd = -1;
  if (rename(tmp, path)) {
    rc = fr_error_set(err, FR_EIO, "%s: cannot rename %s over it: %s", path,
                      tmp, strerror(errno));
    goto done;
  }
  /* The rename is durable once the directory is. */
  int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  atomic_fetch_add(&ms->snapshots, 1);
  atomic_store(&ms->last_snapshot, fr_now());
  goto done;
io_error:
  rc = fr_error_set(err, FR_EIO, "%s: cannot write: %s", tmp, strerror(errno));
done:
  if (fd >= 0)
    close(fd);
  if (rc) {
    unlink(tmp);
    atomic_fetch_add(&st->c.errors, 1);
  }
  pthread_mutex_unlock(&ms->snap_write);
  free(b.p);
  free(tmp);
  free(dcopy);
  return rc;
}

/* Reads exactly n bytes, hashing them; -1 at EOF or error. */
static int read_hashed(FILE *fp, void *buf, size_t n,
                       crypto_hash_sha256_state *sha) {
  if (n && fread(buf, 1, n, fp) != n)
    return -1;
  if (sha)
    crypto_hash_sha256_update(sha, buf, n);
  return 0;
}

/* One pass over a snapshot.  apply = 0: verify structure, every record's
 * encoding and the checksum; apply = 1: load the records (file verified). */
static int snapshot_pass(mem_state *ms, FILE *fp, const char *path, int apply,
                         fr_error *err) {
  const fr_featurizer *f = ms->base.f;
  crypto_hash_sha256_state sha;
  crypto_hash_sha256_init(&sha);
  uint8_t head[SNAP_HEADER];
  if (read_hashed(fp, head, sizeof head, &sha) || memcmp(head, SNAP_MAGIC, 8))
    return fr_error_set(err, FR_EFORMAT, "%s: not a state snapshot", path);
  uint32_t u[2];
  memcpy(u, head + 8, 8);
  if (u[0] != SNAP_VERSION)
    return fr_error_set(err, FR_EFORMAT, "%s: snapshot format %u, this build "
                        "reads %u", path, u[0], SNAP_VERSION);
  if (u[1] != SNAP_BOM)
    return fr_error_set(err, FR_EFORMAT, "%s: snapshot written on a machine of "
                        "another byte order", path);
  if (memcmp(head + 16, f->state_digest, 64) != 0)
    return fr_error_set(err, FR_ESTATE,
                        "%s: snapshot of another state layout (digest %.16s, "
                        "this feature spec's is %.16s); it cannot be restored "
                        "into this featurizer",
                        path, (const char *)(head + 16), f->state_digest);
  double wm;
  memcpy(&wm, head + 88, 8);
  /* One scratch record per slot: capacities count events of one layout. */
  fr__entity *scratch = calloc(f->nslots ? f->nslots : 1, sizeof *scratch);
  if (!scratch)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  for (size_t i = 0; i < f->nslots; i++)
    fr__entity_init(&scratch[i]);
  uint8_t *rec = NULL;
  size_t rec_cap = 0;
  uint64_t count = 0;
  int rc = 0;
  for (;;) {
    uint32_t rh[2];
    uint64_t key;
    if (read_hashed(fp, rh, 8, &sha)) {
      rc = fr_error_set(err, FR_EFORMAT, "%s: truncated snapshot", path);
      break;
    }
    if (rh[0] == SNAP_END) {
      uint64_t n;
      uint8_t want[crypto_hash_sha256_BYTES], got[crypto_hash_sha256_BYTES];
      if (read_hashed(fp, &n, 8, &sha) || read_hashed(fp, got, sizeof got, NULL)) {
        rc = fr_error_set(err, FR_EFORMAT, "%s: truncated snapshot", path);
        break;
      }
      crypto_hash_sha256_final(&sha, want);
      if (n != count || memcmp(want, got, sizeof want) != 0 || fgetc(fp) != EOF)
        rc = fr_error_set(err, FR_EFORMAT,
                          "%s: snapshot checksum mismatch (damaged file)", path);
      break;
    }
    if (rh[0] >= f->nslots || read_hashed(fp, &key, 8, &sha)) {
      rc = fr_error_set(err, FR_EFORMAT, "%s: corrupt snapshot record %llu",
                        path, (unsigned long long)count);
      break;
    }
    if (rh[1] > rec_cap) {
      uint8_t *nr = realloc(rec, rh[1]);
      if (!nr) {
        rc = fr_error_set(err, FR_ENOMEM, "out of memory");
        break;
      }
      rec = nr;
      rec_cap = rh[1];
    }
    if (read_hashed(fp, rec, rh[1], &sha)) {
      rc = fr_error_set(err, FR_EFORMAT, "%s: truncated snapshot", path);
      break;
    }
    const fr__slot *sl = &f->slots[rh[0]];
    if (!apply) {
      if (fr__entity_decode(&scratch[rh[0]], sl, rec, rh[1])) {
        rc = fr_error_set(err, FR_EFORMAT, "%s: corrupt snapshot record %llu",
                          path, (unsigned long long)count);
        break;
      }
    } else {
      shard *sh = shard_of(ms, key);
      mem_key k = {key, rh[0]};
      pthread_mutex_lock(&sh->mu);
      mem_entry *e = table_find(sh, k);
      if (e)
        entry_free(ms, sh, e);
      e = entry_new(ms, sh, k);
      if (!e || fr__entity_decode(&e->ent, sl, rec, rh[1])) {
        if (e)
          entry_free(ms, sh, e);
        pthread_mutex_unlock(&sh->mu);
        rc = fr_error_set(err, FR_ENOMEM, "out of memory restoring %s", path);
        break;
      }
      account(ms, sh, e);
      pthread_mutex_unlock(&sh->mu);
    }
    count++;
  }
  for (size_t i = 0; i < f->nslots; i++)
    fr__entity_clear(&scratch[i]);
  free(scratch);
  free(rec);
  if (!rc && apply && !isnan(wm)) {
    double cur = atomic_load(&ms->watermark);
    if (isnan(cur) || wm > cur)
      atomic_store(&ms->watermark, wm);
  }
  return rc;
}

static int mem_restore(fr_state *st, const char *path, fr_error *err) {
  mem_state *ms = (mem_state *)st;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return fr_error_set(err, errno == ENOENT ? FR_ENOTFOUND : FR_EIO,
                        "%s: cannot open: %s", path, strerror(errno));
  int rc = snapshot_pass(ms, fp, path, 0, err);
  if (!rc) {
    rewind(fp);
    rc = snapshot_pass(ms, fp, path, 1, err);
  }
  fclose(fp);
  return rc;
}

static void *snap_main(void *arg) {
  mem_state *ms = arg;
  pthread_mutex_lock(&ms->snap_mu);
  while (!ms->snap_stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double when = (double)ts.tv_sec + ts.tv_nsec / 1e9 + ms->snap_interval;
    ts.tv_sec = (time_t)when;
    ts.tv_nsec = (long)((when - (double)ts.tv_sec) * 1e9);
    int w = 0;
    while (!ms->snap_stop && w == 0)
      w = pthread_cond_timedwait(&ms->snap_cv, &ms->snap_mu, &ts);
    if (ms->snap_stop)
      break;
    pthread_mutex_unlock(&ms->snap_mu);
    fr_error err = {0};
    if (mem_snapshot(&ms->base, ms->snap_path, &err))
      fr_log(FR_LOG_ERROR, "state_snapshot_failed", NULL, "%s", err.msg);
    pthread_mutex_lock(&ms->snap_mu);
  }
  pthread_mutex_unlock(&ms->snap_mu);
  return NULL;
}

static void mem_free(fr_state *st) {
  mem_state *ms = (mem_state *)st;
  if (ms->snap_thread_on) {
    pthread_mutex_lock(&ms->snap_mu);
    ms->snap_stop = 1;
    pthread_cond_signal(&ms->snap_cv);
    pthread_mutex_unlock(&ms->snap_mu);
    pthread_join(ms->snap_thread, NULL);
  }
  if (ms->snap_path) {
    /* The shutdown snapshot (the server's stop frees its stores): logged
     * either way, since an operator restarting the server needs to know
     * whether the state will be restored.  Entities and bytes only: the
     * file holds keyed hashes of the entity keys, never card numbers. */
    fr_error err = {0};
    if (mem_snapshot(st, ms->snap_path, &err)) {
      fr_log(FR_LOG_ERROR, "state_snapshot_failed", NULL, "%s", err.msg);
    } else {
      struct stat sb;
      char path[2048], fields[2300];
      fr_json_escape(path, sizeof path, ms->snap_path, strlen(ms->snap_path));
      snprintf(fields, sizeof fields, "\"path\":\"%s\",\"entities\":%zu,\"bytes\":%lld", path,
               mem_size(st), stat(ms->snap_path, &sb) == 0 ? (long long)sb.st_size : -1LL);
      fr_log(FR_LOG_INFO, "state_snapshot_written", fields,
             "state snapshot written to %s (%zu entities)", ms->snap_path, mem_size(st));
    }
  }
  for (int i = 0; i < FR__SHARDS; i++) {
    shard *sh = &ms->shards[i];
    for (size_t c = 0; c < sh->cap; c++) {
      mem_entry *e = sh->cells[c].e;
      if (e) {
        fr__entity_clear(&e->ent);
        free(e);
      }
    }
    free(sh->cells);
    pthread_mutex_destroy(&sh->mu);
  }
  pthread_mutex_destroy(&ms->snap_write);
  pthread_mutex_destroy(&ms->snap_mu);
  pthread_cond_destroy(&ms->snap_cv);
  free(ms->snap_path);
  free(ms);
}

static const fr__state_vtable mem_vtable = {
    .name = "memory",
    .begin = mem_begin,
    .prefetch = mem_prefetch,
    .commit = mem_commit,
    .size = mem_size,
    .stats = mem_stats,
    .snapshot = mem_snapshot,
    .restore = mem_restore,
    .free = mem_free,
};

fr_state *fr_state_new_memory(const fr_featurizer *f, const fr_state_options *o,
                              fr_error *err) {
  if (!f) {
    fr_error_set(err, FR_EINVAL, "fr_state_new_memory: NULL featurizer");
    return NULL;
  }
  mem_state *ms = calloc(1, sizeof *ms);
  if (!ms) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  fr__state_init_base(&ms->base, &mem_vtable, f, o);
  const fr_state_options *opt = &ms->base.opt;
  if (opt->max_entities)
    ms->shard_cap = (opt->max_entities + FR__SHARDS - 1) / FR__SHARDS;
  if (opt->max_bytes)
    ms->shard_bytes_cap = (opt->max_bytes + FR__SHARDS - 1) / FR__SHARDS;
  ms->lru = opt->max_entities || opt->max_bytes || opt->ttl_seconds > 0;
  atomic_init(&ms->watermark, NAN);
  atomic_init(&ms->entities, 0);
  atomic_init(&ms->bytes, 0);
  atomic_init(&ms->evicted_ttl, 0);
  atomic_init(&ms->evicted_capacity, 0);
  atomic_init(&ms->snapshots, 0);
  atomic_init(&ms->last_snapshot, NAN);
  for (int i = 0; i < FR__SHARDS; i++)
    pthread_mutex_init(&ms->shards[i].mu, NULL);
  pthread_mutex_init(&ms->snap_write, NULL);
  pthread_mutex_init(&ms->snap_mu, NULL);
  pthread_cond_init(&ms->snap_cv, NULL);
  if (o && o->snapshot_path && *o->snapshot_path) {
    if (!(ms->snap_path = strdup(o->snapshot_path))) {
      fr_error_set(err, FR_ENOMEM, "out of memory");
      mem_free(&ms->base);
      return NULL;
    }
    ms->snap_interval = o->snapshot_interval;
    if (fr_is_file(ms->snap_path)) {
      int rc = mem_restore(&ms->base, ms->snap_path, err);
      if (rc) {
        free(ms->snap_path); /* no shutdown snapshot over the kept file */
        ms->snap_path = NULL;
        mem_free(&ms->base);
        return NULL;
      }
    }
    if (ms->snap_interval > 0) {
      if (pthread_create(&ms->snap_thread, NULL, snap_main, ms) != 0) {
        fr_error_set(err, FR_ENOMEM, "cannot start the snapshot thread");
        free(ms->snap_path);
        ms->snap_path = NULL;
        mem_free(&ms->base);
        return NULL;
      }
      ms->snap_thread_on = 1;
    }
  }
  return &ms->base;
}
