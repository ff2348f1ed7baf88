/*
 * fraud/features.h - the featurizer: one piece of code that turns raw
 * transactions into feature vectors offline (replaying history in event-time
 * order) and online (one request at a time), so training/serving skew cannot
 * happen by construction.
 *
 * Semantics (docs/features.md): a transaction's features use only events of
 * its entities strictly before its event time, so transactions with equal
 * timestamps never see each other whatever their order; the transaction is
 * added to the state after its features are computed.  Windows are
 * [t - w, t) on epoch seconds, exact; a window the spec marks as bucketed
 * (docs/features.md) is exact over [ceil((t - w) / W) * W, t) for its bucket
 * width W, so it can miss only events of its oldest W seconds.
 */
#ifndef FRAUD_FEATURES_H
#define FRAUD_FEATURES_H

#include "fraud/common.h"
#include "fraud/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A compiled feature spec bound to a schema.  Immutable after
 * fr_featurizer_fit, so one featurizer may be shared by any number of threads
 * (the mutable part is the fr_state). */
typedef struct fr_featurizer fr_featurizer;

/* Per-entity state (windowed events, last seen...), in process or in Redis.
 * Thread-safe: concurrent fr_featurize calls on one state serialise per
 * entity (in-process: a shard mutex; Redis: compare-and-set), never lose an
 * update. */
typedef struct fr_state fr_state;

/* Compiles the feature spec at `spec_path` (YAML; docs/features.md) against
 * schema `s` (which must outlive the featurizer).  spec_path NULL uses the
 * schema's default spec.  Errors: FR_ESCHEMA naming "spec.yaml:line: ..."
 * (unknown kind, unknown column or entity, window "5 parsecs"), FR_EIO. */
FR_EXPORT fr_featurizer *fr_featurizer_load(const fr_schema *s,
                                            const char *spec_path,
                                            fr_error *err);
/* As fr_featurizer_load from YAML text; `origin` names it in messages. */
FR_EXPORT fr_featurizer *fr_featurizer_load_string(const fr_schema *s,
                                                   const char *yaml, size_t len,
                                                   const char *origin,
                                                   fr_error *err);
FR_EXPORT void fr_featurizer_free(fr_featurizer *f);

/* Fits the parts learned from data (categorical vocabularies and codes,
 * frequency and target encodings) on rows[0..n) of `d` (the training slice
 * only).  A featurizer loaded from a fitted spec (a model bundle's) needs no
 * fit.  Errors: FR_EINVAL. */
FR_EXPORT int fr_featurizer_fit(fr_featurizer *f, const fr_dataset *d,
                                const size_t *rows, size_t n, fr_error *err);

/* Serialises the fitted spec (YAML, including learned vocabularies) so that
 * fr_featurizer_load of the text reproduces the featurizer exactly.  Returns a
 * new NUL-terminated string the caller frees, or NULL with err. */
FR_EXPORT char *fr_featurizer_dump(const fr_featurizer *f, size_t *len,
                                   fr_error *err);

FR_EXPORT size_t fr_featurizer_nfeatures(const fr_featurizer *f);
FR_EXPORT const char *fr_featurizer_name(const fr_featurizer *f, size_t i);
FR_EXPORT const fr_schema *fr_featurizer_schema(const fr_featurizer *f);
/* 1 when some feature reads per-entity state. */
FR_EXPORT int fr_featurizer_stateful(const fr_featurizer *f);

/* Options of the state store.  Zero (memset) is a valid default for every
 * field but hash_key: fill that with fr_state_options_default or
 * fr_hash_key_from_secret. */
typedef struct fr_state_options {
  size_t max_entities;       /* in-process: cap on entities kept (0 =
                                unlimited), one key of one entity type each;
                                enforced per shard: each of the 64 shards
                                keeps at most ceil(max_entities / 64), so the
                                total is at most 64 x that and eviction can
                                start in a full shard before the total is
                                reached; the least recently updated entity of
                                the shard is evicted (counted as
                                "capacity").  Ignored by Redis. */
  double ttl_seconds;        /* in-process: evict entities whose newest event
                                is this much older (event time) than the
                                newest event seen (0 = never); Redis: key TTL
                                in wall-clock seconds (0 = 30 days) */
  double allowed_lateness;   /* seconds; an event older than its entity's
                                newest by more is scored, not inserted */
  uint8_t hash_key[FR_HASH_KEY_BYTES]; /* key of the entity-key hash */
  size_t max_bytes;          /* in-process: cap on the heap bytes of entity
                                records (0 = unlimited), per shard like
                                max_entities: ceil(max_bytes / 64) each; LRU
                                eviction counted as "capacity" */
  const char *snapshot_path; /* in-process: restore from this file when the
                                state is created (if it exists), write it
                                every snapshot_interval seconds and when the
                                state is freed.  NULL = none.  Copied. */
  double snapshot_interval;  /* seconds between automatic snapshots (0 =
                                only at fr_state_free) */
} fr_state_options;

/* Default options: no cap, no TTL, lateness 0, hash key from the
 * FRAUD_HASH_SECRET environment variable (development key when unset). */
FR_EXPORT void fr_state_options_default(fr_state_options *o);

/* In-process state for featurizer f (which must outlive it): 64 shards, each
 * a mutex, a uthash table and an LRU list.  When o->snapshot_path names an
 * existing snapshot it is restored first (see fr_state_restore).  Errors:
 * FR_ENOMEM; those of fr_state_restore. */
FR_EXPORT fr_state *fr_state_new_memory(const fr_featurizer *f,
                                        const fr_state_options *o,
                                        fr_error *err);

/* What a transaction gets when the Redis store cannot be reached. */
typedef enum fr_state_outage {
  FR_STATE_OUTAGE_FAIL = 0,  /* fr_featurize fails with FR_EUNAVAIL (the
                                server answers 503): fail closed */
  FR_STATE_OUTAGE_EMPTY = 1  /* entity features from an empty history, the
                                state is not updated, and the call reports
                                FR_FEATURIZE_DEGRADED */
} fr_state_outage;

/* Options of the Redis store. */
typedef struct fr_state_redis_options {
  const char *url;           /* "redis://[:password@]host[:port][/db]" or
                                "unix:///path/to/socket"; default
                                redis://127.0.0.1:6379 */
  const char *prefix;        /* key prefix, default "fraud:" */
  double timeout;            /* seconds per connect and per round trip,
                                default 0.05 */
  fr_state_outage on_outage; /* default FR_STATE_OUTAGE_FAIL */
  double retry_interval;     /* seconds between reconnection attempts while
                                Redis is down (requests in between fail or
                                degrade at once), default 1 */
  int max_connections;       /* pooled connections, default 16 */
  int max_retries;           /* compare-and-set retries per entity before
                                FR_EUNAVAIL, default 32 */
} fr_state_redis_options;

/* Fills the defaults listed above. */
FR_EXPORT void fr_state_redis_options_default(fr_state_redis_options *r);

/* Checks that url is one the Redis store accepts (the url field above):
 * redis://[[user]:password@]host[:port][/db] with a port in 1..65535 and a
 * db number in 0..1000000, or unix:///path; no connection is made.  The
 * message of an error quotes the URL with its password redacted
 * (fr_url_redact), as every message of the store does.  Returns 0,
 * FR_EINVAL or FR_ENOMEM.  Thread-safe. */
FR_EXPORT int fr_state_redis_url_check(const char *url, fr_error *err);

/* State kept in Redis (hiredis), shared by any number of server processes.
 * Each entity is one hash {v: version, d: encoded record} under
 * prefix + state digest (16 hex) + ":" + keyed hash (16 hex): no entity key
 * (card number) is ever sent.  A transaction reads its entities in one
 * pipelined round trip and writes them back in another through a Lua
 * compare-and-set on the version (so a concurrent update of the same entity
 * by another replica is retried, never lost); every write refreshes the key's
 * TTL.  A broken connection is dropped and re-established on a later
 * request (after retry_interval), so Redis can restart under a running
 * server.  The store is created even when Redis is down at that moment.
 * Errors: FR_EINVAL (bad URL, quoted with its password redacted), FR_ENOMEM. */
FR_EXPORT fr_state *fr_state_new_redis(const fr_featurizer *f,
                                       const fr_state_options *o,
                                       const fr_state_redis_options *r,
                                       fr_error *err);

/* Stops the snapshot thread (writing a last snapshot when
 * o->snapshot_path was set), frees everything.  NULL-safe. */
FR_EXPORT void fr_state_free(fr_state *st);
/* Number of entities currently held (0 for Redis, which is not scanned). */
FR_EXPORT size_t fr_state_size(const fr_state *st);

/* Counters and gauges of a state store, for metrics (docs/metrics.md).
 * Counters only grow over the store's life. */
typedef struct fr_state_stats {
  const char *backend;        /* "memory" or "redis" (static) */
  uint64_t entities;          /* gauge: entities held (in-process) */
  uint64_t bytes;             /* gauge: heap bytes of entity records and
                                 their table entries (in-process) */
  uint64_t evicted_ttl;       /* counter: entities evicted as idle */
  uint64_t evicted_capacity;  /* counter: evicted by max_entities/max_bytes */
  uint64_t late_inserted;     /* counter: events older than their entity's
                                 newest, within the lateness: inserted */
  uint64_t late_dropped;      /* counter: older than the lateness: scored,
                                 not inserted */
  uint64_t duplicates;        /* counter: transactions that some entity
                                 already held (same event time and id):
                                 scored, not inserted into that entity;
                                 once per transaction */
  uint64_t errors;            /* counter: store failures (Redis unreachable,
                                 protocol or encoding errors, snapshot write
                                 failures) */
  uint64_t degraded;          /* counter: transactions featurized with an
                                 empty history because the store was down */
  uint64_t conflicts;         /* counter: compare-and-set retries (Redis) */
  uint64_t snapshots;         /* counter: snapshots written */
  double last_snapshot;       /* wall-clock epoch seconds of the last
                                 snapshot written, NaN = none */
  int available;              /* gauge: 1 when the store answers (Redis: last
                                 round trip succeeded) */
} fr_state_stats;

/* Fills *out.  Thread-safe (counters are read without stopping traffic). */
FR_EXPORT void fr_state_get_stats(const fr_state *st, fr_state_stats *out);

/* One exported metric of fr_state_stats: a table for the server's
 * /metrics, so metric names live in one place (docs/metrics.md).  The value
 * is the uint64_t (or int, for "fraud_state_available") at `offset` in
 * fr_state_stats; the server adds its own `backend` label. */
typedef struct fr_state_metric {
  const char *name;        /* e.g. "fraud_state_evictions_total" */
  const char *type;        /* "counter" or "gauge" */
  const char *help;
  const char *label;       /* extra label name, or NULL */
  const char *label_value; /* its value, e.g. "ttl" */
  size_t offset;           /* offsetof(fr_state_stats, field) */
  int is_int;              /* field is an int, not a uint64_t */
} fr_state_metric;

/* The table above; *n receives its length.  Static storage. */
FR_EXPORT const fr_state_metric *fr_state_metrics(size_t *n);

/* Writes a snapshot of an in-process state to `path` atomically: a
 * temporary file in the same directory, fsync, rename(2), fsync of the
 * directory, so a crash at any point leaves the previous snapshot intact.
 * Format (docs/features.md): header (magic "FRSTATE1", format version, byte
 * order mark, the featurizer's state digest), one record per entity (slot,
 * keyed hash, encoded record, in each shard's LRU order), trailer (count,
 * SHA-256 of everything before it).  Shards are copied one at a time under
 * their lock, so traffic continues; each entity is consistent.  Errors:
 * FR_EIO naming the path, FR_EINVAL (a Redis state: Redis persists itself). */
FR_EXPORT int fr_state_snapshot(fr_state *st, const char *path, fr_error *err);

/* Loads a snapshot written by fr_state_snapshot into `st` (entities present
 * in both are replaced).  The whole file is verified (SHA-256) before
 * anything is applied.  Errors: FR_EIO, FR_EFORMAT (not a snapshot,
 * truncated, checksum mismatch), FR_ESTATE (written for another state
 * layout: its digest names both), FR_ENOMEM. */
FR_EXPORT int fr_state_restore(fr_state *st, const char *path, fr_error *err);

/* "dir/state-<first 16 hex digits of the state digest>.snap", a new string
 * the caller frees (NULL on ENOMEM): one snapshot per state layout, so model
 * versions with another layout never read each other's snapshot. */
FR_EXPORT char *fr_state_snapshot_path(const fr_featurizer *f,
                                       const char *dir);

/* SHA-256 (64 hex digits) of the featurizer's state layout: every entity it
 * keeps state for, the columns of its event tuples, its horizons and bucket
 * width.  Snapshots and Redis keys carry it; featurizers with equal digests
 * can share state.  Static storage owned by f. */
FR_EXPORT const char *fr_featurizer_state_digest(const fr_featurizer *f);

/* Flags reported by fr_featurize_ex. */
#define FR_FEATURIZE_DEGRADED 1u /* state store down: entity features from an
                                    empty history (FR_STATE_OUTAGE_EMPTY) */
#define FR_FEATURIZE_LATE 2u     /* older than an entity's newest event by
                                    more than the allowed lateness: scored,
                                    not inserted */
#define FR_FEATURIZE_DUPLICATE 4u /* a replay for at least one entity:
                                     that entity (the card, the merchant,
                                     ...) already holds an event with this
                                     event time and transaction id and does
                                     not insert it again; an entity that
                                     holds no such event (another card
                                     reusing the id) still inserts it
                                     (docs/features.md) */

/* Online path: computes the features of `txn` from `st` into out_row (array of
 * fr_featurizer_nfeatures floats; NaN = missing), then adds txn to the state.
 * `update` 0 computes without adding (explain / dry runs).  Allocates nothing
 * in the steady state.  Errors: FR_EINVAL (event time missing when the spec
 * needs it), FR_EUNAVAIL (remote state unreachable). */
FR_EXPORT int fr_featurize(const fr_featurizer *f, const fr_txn *txn,
                           fr_state *st, float *out_row, int update,
                           fr_error *err);

/* As fr_featurize, and *flags (when not NULL) receives FR_FEATURIZE_* bits
 * saying how the transaction was handled (0 = normally). */
FR_EXPORT int fr_featurize_ex(const fr_featurizer *f, const fr_txn *txn,
                              fr_state *st, float *out_row, int update,
                              unsigned *flags, fr_error *err);

/* Warm start: replays the rows of `d` whose event time is before `until`
 * (every row when `until` is NaN) into `st` in (event time, file order),
 * through the same fr_featurize path as live traffic, so that the first live
 * features equal the offline ones.  *replayed receives the number of rows
 * replayed (may be NULL).  `d` must use the featurizer's schema.  Errors: as
 * fr_featurize, naming the data line. */
FR_EXPORT int fr_state_warm(fr_state *st, const fr_featurizer *f,
                            const fr_dataset *d, double until, size_t *replayed,
                            fr_error *err);

/* Offline path: replays the whole data set in (event time, file order) with a
 * fresh state and returns the feature table (rows in that order, labels,
 * event times, source rows, feature names).  Identical, bit for bit, to
 * calling fr_featurize on the same transactions in the same order.  Errors:
 * FR_ENOMEM, FR_EINVAL. */
FR_EXPORT fr_table *fr_featurize_dataset(const fr_featurizer *f,
                                         const fr_dataset *d, fr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_FEATURES_H */
