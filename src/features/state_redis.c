/*
 * state_redis.c - the entity state store in Redis (hiredis), for several
 * server replicas sharing one state.
 *
 * Layout: one Redis hash per entity, {v: version, d: fr__entity_encode
 * bytes}, under "<prefix><state digest, 16 hex>:<slot>:<keyed hash, 16 hex>".
 * Only the keyed hash of the entity key is ever sent: a card number never
 * reaches Redis.  The digest keeps models with different state layouts apart
 * in one Redis.
 *
 * Atomic read-modify-write: a transaction reads all its entities with one
 * pipelined round trip of HMGETs, computes its features and the updated
 * records locally (the same code as the in-process store), and writes them
 * back with one pipelined round trip of a Lua compare-and-set (EVAL: Redis
 * runs a script atomically) that stores the record only when the version is
 * still the one read.  A write that lost the race is retried from a fresh
 * read, so concurrent replicas never lose an update.  Every write sets the
 * key's TTL.
 *
 * Outages: connections live in a small pool; a connection that fails is
 * closed and the pool emptied, the store is marked unavailable, and no new
 * connection is attempted for retry_interval seconds (so requests fail or
 * degrade at once instead of each waiting for a timeout).  The first request
 * after that reconnects: recovery needs no restart.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "features/internal.h"

/* Compare-and-set of one entity: KEYS[1] key; ARGV: expected version,
 * new version, record bytes, TTL in milliseconds (0 = none).  Returns 1
 * when written, 0 when the version moved on (or the key expired). */
static const char cas_script[] =
    "local v = redis.call('HGET', KEYS[1], 'v')\n"
    "if (v or '0') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])\n"
    "local ttl = tonumber(ARGV[4])\n"
    "if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end\n"
    "return 1\n";

#define DEFAULT_TTL_MS (30.0 * 86400 * 1000)

typedef struct redis_state {
  fr_state base;
  char host[256];
  int port;
  char unix_path[512];
  char user[128], password[256];
  int db;
  char keyprefix[256];   /* prefix + digest16 + ":" */
  struct timeval tv;
  double retry_interval;
  long long ttl_ms;
  pthread_mutex_t mu;
  redisContext **idle;   /* pooled idle connections */
  size_t nidle, max_idle;
  _Atomic double down_until; /* monotonic seconds; no reconnect before */
  atomic_int available;
} redis_state;

static double mono(void) { return (double)fr_monotonic_ns() / 1e9; }

void fr_state_redis_options_default(fr_state_redis_options *r) {
  memset(r, 0, sizeof *r);
  r->url = "redis://127.0.0.1:6379";
  r->prefix = "fraud:";
  r->timeout = 0.05;
  r->on_outage = FR_STATE_OUTAGE_FAIL;
  r->retry_interval = 1.0;
  r->max_connections = 16;
  r->max_retries = 32;
}

/* redis://[[user]:password@]host[:port][/db] or unix:///path. */
static int parse_url(redis_state *rs, const char *url, fr_error *err) {
  rs->port = 6379;
  if (strncmp(url, "unix://", 7) == 0) {
    snprintf(rs->unix_path, sizeof rs->unix_path, "%s", url + 7);
    if (!rs->unix_path[0])
      goto bad;
    return 0;
  }
  if (strncmp(url, "redis://", 8) != 0)
    goto bad;
  const char *p = url + 8;
  const char *at = strrchr(p, '@');
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
      snprintf(rs->user, sizeof rs->user, "%.*s", (int)(colon - p), p);
      snprintf(rs->password, sizeof rs->password, "%.*s", (int)(at - colon - 1),
               colon + 1);
    } else {
      snprintf(rs->password, sizeof rs->password, "%.*s", (int)(at - p), p);
    }
    p = at + 1;
  }
  size_t hl = strcspn(p, ":/");
  if (hl == 0 || hl >= sizeof rs->host)
    goto bad;
  memcpy(rs->host, p, hl);
  rs->host[hl] = '\0';
  p += hl;
  if (*p == ':') {
    char *end;
    long port = strtol(p + 1, &end, 10);
    if (end == p + 1 || port <= 0 || port > 65535)
      goto bad;
    rs->port = (int)port;
    p = end;
  }
  if (*p == '/') {
    char *end;
    long db = strtol(p + 1, &end, 10);
    if (p[1] && (end == p + 1 || *end || db < 0 || db > 1000000))
      goto bad;
    rs->db = (int)db;
    p = end;
  }
  if (*p)
    goto bad;
  return 0;
bad:;
  /* The URL may hold a password: the message quotes it redacted, since it
   * reaches logs and the model readiness answers. */
  char shown[512];
  fr_url_redact(shown, sizeof shown, url);
  return fr_error_set(err, FR_EINVAL,
                      "redis url '%s': expected redis://[[user]:password@]host[:port]"
                      "[/db] or unix:///path",
                      shown);
}

int fr_state_redis_url_check(const char *url, fr_error *err) {
  if (!url)
    return fr_error_set(err, FR_EINVAL, "redis url: NULL");
  redis_state *rs = calloc(1, sizeof *rs);
  if (!rs)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  int rc = parse_url(rs, url, err);
  free(rs);
  return rc;
}

static void mark_down(redis_state *rs) {
  atomic_store(&rs->available, 0);
  atomic_store(&rs->down_until, mono() + rs->retry_interval);
}

/* Sends one command and reads its reply; 0 when the reply is not an error. */
static int simple_command(redisContext *c, int argc, const char **argv) {
  size_t lens[4];
  for (int i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  redisReply *r = redisCommandArgv(c, argc, argv, lens);
  int ok = r && r->type != REDIS_REPLY_ERROR;
  if (r)
    freeReplyObject(r);
  return ok ? 0 : -1;
}

static redisContext *connect_one(redis_state *rs) {
  redisContext *c = rs->unix_path[0]
                        ? redisConnectUnixWithTimeout(rs->unix_path, rs->tv)
                        : redisConnectWithTimeout(rs->host, rs->port, rs->tv);
  if (!c || c->err) {
    if (c)
      redisFree(c);
    return NULL;
  }
  redisSetTimeout(c, rs->tv);
  if (!rs->unix_path[0])
    redisEnableKeepAlive(c);
  if (rs->password[0]) {
    const char *a[3] = {"AUTH", rs->user[0] ? rs->user : rs->password,
                        rs->password};
    if (simple_command(c, rs->user[0] ? 3 : 2, a)) {
      redisFree(c);
      return NULL;
    }
  }
  if (rs->db) {
    char db[16];
    snprintf(db, sizeof db, "%d", rs->db);
    const char *a[2] = {"SELECT", db};
    if (simple_command(c, 2, a)) {
      redisFree(c);
      return NULL;
    }
  }
  return c;
}

static redisContext *acquire(redis_state *rs, fr_error *err) {
  pthread_mutex_lock(&rs->mu);
  if (rs->nidle > 0) {
    redisContext *c = rs->idle[--rs->nidle];
    pthread_mutex_unlock(&rs->mu);
    return c;
  }
  pthread_mutex_unlock(&rs->mu);
  double wait = atomic_load(&rs->down_until) - mono();
  if (wait > 0) {
    fr_error_set(err, FR_EUNAVAIL,
                 "redis state store %s%s:%d is down (next attempt in %.1f s)",
                 rs->unix_path, rs->unix_path[0] ? "" : rs->host,
                 rs->unix_path[0] ? 0 : rs->port, wait);
    return NULL;
  }
  redisContext *c = connect_one(rs);
  if (!c) {
    mark_down(rs);
    fr_error_set(err, FR_EUNAVAIL, "redis state store %s%s:%d: cannot connect",
                 rs->unix_path, rs->unix_path[0] ? "" : rs->host,
                 rs->unix_path[0] ? 0 : rs->port);
    return NULL;
  }
  if (!atomic_exchange(&rs->available, 1))
    fr_log(FR_LOG_INFO, "state_store_up", NULL, "redis state store reachable");
  return c;
}

/* Returns a connection to the pool; a broken one is closed together with
 * every idle one (they most likely broke too). */
static void release(redis_state *rs, redisContext *c, int broken) {
  if (broken || c->err) {
    redisFree(c);
    pthread_mutex_lock(&rs->mu);
    while (rs->nidle > 0)
      redisFree(rs->idle[--rs->nidle]);
    pthread_mutex_unlock(&rs->mu);
    if (atomic_exchange(&rs->available, 0))
      fr_log(FR_LOG_WARN, "state_store_down", NULL,
             "redis state store unreachable; retrying every %.1f s",
             rs->retry_interval);
    atomic_store(&rs->down_until, mono() + rs->retry_interval);
    return;
  }
  pthread_mutex_lock(&rs->mu);
  if (rs->nidle < rs->max_idle) {
    rs->idle[rs->nidle++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&rs->mu);
  if (c)
    redisFree(c);
}

static void item_key(const redis_state *rs, const fr__remote_item *it,
                     char *buf, size_t cap) {
  char hex[17];
  fr_hash_hex(it->key, hex);
  snprintf(buf, cap, "%s%d:%s", rs->keyprefix, it->slot, hex);
}


static int redis_fetch(fr_state *st, fr__remote_item *items, size_t n,
                       fr_error *err) {
  redis_state *rs = (redis_state *)st;
  redisContext *c = acquire(rs, err);
  if (!c)
    return FR_EUNAVAIL;
  char key[512];
  for (size_t i = 0; i < n; i++) {
    item_key(rs, &items[i], key, sizeof key);
    const char *argv[4] = {"HMGET", key, "v", "d"};
    size_t lens[4] = {5, strlen(key), 1, 1};
    redisAppendCommandArgv(c, 4, argv, lens);
  }
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
      if (!rc)
        rc = fr_error_set(err, FR_EUNAVAIL, "redis state store: %s",
                          c->errstr[0] ? c->errstr : "no reply");
      release(rs, c, 1);
      return rc;
    }
    if (rc == 0) {
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        rc = fr_error_set(err, FR_EFORMAT, "redis state store: unexpected reply "
                          "to HMGET%s%s", r->type == REDIS_REPLY_ERROR ? ": " : "",
                          r->type == REDIS_REPLY_ERROR ? r->str : "");
      } else {
        redisReply *v = r->element[0], *d = r->element[1];
        fr__entity *e = items[i].ent;
        fr__entity_reset(e);
        items[i].version = 0;
        if (v->type == REDIS_REPLY_STRING && d->type == REDIS_REPLY_STRING) {
          int64_t ver;
          if (fr_parse_int64(v->str, v->len, &ver) ||
              fr__entity_decode(e, &st->f->slots[items[i].slot],
                                (const uint8_t *)d->str, d->len)) {
            char hex[17];
            fr_hash_hex(items[i].key, hex);
            rc = fr_error_set(err, FR_EFORMAT,
                              "redis state store: corrupt record of entity %s "
                              "(%s)", hex, st->f->slots[items[i].slot].name);
          } else {
            items[i].version = ver;
          }
        }
      }
    }
    freeReplyObject(r);
  }
  release(rs, c, 0);
  return rc;
}

static _Thread_local uint8_t *tl_enc;
static _Thread_local size_t tl_enc_cap;
static pthread_key_t enc_key;
static pthread_once_t enc_once = PTHREAD_ONCE_INIT;

/* Frees the exiting thread's encode buffer (pthread key destructor). */
static void enc_free(void *unused) {
  (void)unused;
  free(tl_enc);
  tl_enc = NULL;
  tl_enc_cap = 0;
}

static void enc_make_key(void) { pthread_key_create(&enc_key, enc_free); }

static int redis_store(fr_state *st, fr__remote_item *items, size_t n,
                       fr_error *err) {
  redis_state *rs = (redis_state *)st;
  size_t total = 0, sent = 0;
  for (size_t i = 0; i < n; i++) {
    items[i].conflict = 0;
    if (items[i].modified)
      total += fr__entity_encoded_size(items[i].ent, &st->f->slots[items[i].slot]);
  }
  if (total == 0)
    return 0;
  if (total > tl_enc_cap) {
    if (!tl_enc) {
      pthread_once(&enc_once, enc_make_key);
      pthread_setspecific(enc_key, &tl_enc_cap);
    }
    uint8_t *nb = realloc(tl_enc, total * 2);
    if (!nb)
      return fr_error_set(err, FR_ENOMEM, "out of memory");
    tl_enc = nb;
    tl_enc_cap = total * 2;
  }
  redisContext *c = acquire(rs, err);
  if (!c)
    return FR_EUNAVAIL;
  char key[512], ver[24], nver[24], ttl[24];
  snprintf(ttl, sizeof ttl, "%lld", rs->ttl_ms);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (!items[i].modified)
      continue;
    const fr__slot *sl = &st->f->slots[items[i].slot];
    size_t len = fr__entity_encoded_size(items[i].ent, sl);
    fr__entity_encode(items[i].ent, sl, tl_enc + o);
    item_key(rs, &items[i], key, sizeof key);
    snprintf(ver, sizeof ver, "%lld", (long long)items[i].version);
    snprintf(nver, sizeof nver, "%lld", (long long)items[i].version + 1);
    const char *argv[8] = {"EVAL", cas_script, "1", key, ver, nver,
                           (const char *)tl_enc + o, ttl};
    size_t lens[8] = {4, sizeof cas_script - 1, 1, strlen(key), strlen(ver),
                      strlen(nver), len, strlen(ttl)};
    redisAppendCommandArgv(c, 8, argv, lens);
    o += len;
    sent++;
  }
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    if (!items[i].modified)
      continue;
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
      rc = fr_error_set(err, FR_EUNAVAIL, "redis state store: %s",
                        c->errstr[0] ? c->errstr : "no reply");
      release(rs, c, 1);
      return rc;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
      items[i].conflict = r->integer == 0;
      if (r->integer == 1)
        items[i].version += 1;
    } else if (!rc) {
      rc = fr_error_set(err, FR_EUNAVAIL, "redis state store: compare-and-set "
                        "failed: %s", r->type == REDIS_REPLY_ERROR ? r->str
                                                                   : "unexpected reply");
    }
    freeReplyObject(r);
  }
  (void)sent;
  release(rs, c, 0);
  return rc;
}

static size_t redis_size(const fr_state *st) {
  (void)st;
  return 0;
}

static void redis_stats(const fr_state *st, fr_state_stats *out) {
  redis_state *rs = (redis_state *)st;
  out->available = atomic_load(&rs->available);
}

static void redis_free(fr_state *st) {
  redis_state *rs = (redis_state *)st;
  while (rs->nidle > 0)
    redisFree(rs->idle[--rs->nidle]);
  free(rs->idle);
  pthread_mutex_destroy(&rs->mu);
  free(rs);
}

static const fr__state_vtable redis_vtable = {
    .name = "redis",
    .fetch = redis_fetch,
    .store = redis_store,
    .size = redis_size,
    .stats = redis_stats,
    .free = redis_free,
};

fr_state *fr_state_new_redis(const fr_featurizer *f, const fr_state_options *o,
                             const fr_state_redis_options *r, fr_error *err) {
  if (!f) {
    fr_error_set(err, FR_EINVAL, "fr_state_new_redis: NULL featurizer");
    return NULL;
  }
  fr_state_redis_options dflt;
  fr_state_redis_options_default(&dflt);
  if (!r)
    r = &dflt;
  redis_state *rs = calloc(1, sizeof *rs);
  if (!rs) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  fr__state_init_base(&rs->base, &redis_vtable, f, o);
  pthread_mutex_init(&rs->mu, NULL);
  if (parse_url(rs, r->url ? r->url : dflt.url, err)) {
    redis_free(&rs->base);
    return NULL;
  }
  const char *prefix = r->prefix ? r->prefix : dflt.prefix;
  if (strlen(prefix) > 200) {
    fr_error_set(err, FR_EINVAL, "redis key prefix longer than 200 bytes");
    redis_free(&rs->base);
    return NULL;
  }
  snprintf(rs->keyprefix, sizeof rs->keyprefix, "%s%.16s:", prefix,
           f->state_digest);
  double timeout = r->timeout > 0 ? r->timeout : dflt.timeout;
  rs->tv.tv_sec = (time_t)timeout;
  rs->tv.tv_usec = (suseconds_t)((timeout - (double)rs->tv.tv_sec) * 1e6);
  rs->retry_interval = r->retry_interval > 0 ? r->retry_interval : dflt.retry_interval;
  rs->max_idle = (size_t)(r->max_connections > 0 ? r->max_connections
                                                 : dflt.max_connections);
  rs->base.max_retries = r->max_retries > 0 ? r->max_retries : dflt.max_retries;
  rs->base.outage_empty = r->on_outage == FR_STATE_OUTAGE_EMPTY;
  double ttl = rs->base.opt.ttl_seconds;
  rs->ttl_ms = (long long)(ttl > 0 ? ttl * 1000.0 : DEFAULT_TTL_MS);
  rs->idle = calloc(rs->max_idle, sizeof *rs->idle);
  if (!rs->idle) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    redis_free(&rs->base);
    return NULL;
  }
  atomic_init(&rs->down_until, 0.0);
  atomic_init(&rs->available, 0);
  /* Connect once now so that a reachable Redis reports available at once;
   * an unreachable one is not an error here (see the outage policy). */
  fr_error e2 = {0};
  redisContext *c = acquire(rs, &e2);
  if (c)
    release(rs, c, 0);
  else
    fr_log(FR_LOG_WARN, "state_store_down", NULL, "%s", e2.msg);
  return &rs->base;
}
