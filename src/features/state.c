/*
 * state.c - what every state store shares: options, the counters behind
 * fr_state_stats, the metric table the server exports them from, and the
 * public entry points that dispatch to a backend (state_memory.c,
 * state_redis.c).
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "features/internal.h"

void fr_state_options_default(fr_state_options *o) {
  memset(o, 0, sizeof *o);
  fr_hash_key_from_secret(getenv("FRAUD_HASH_SECRET"), o->hash_key);
}

void fr__state_init_base(fr_state *st, const fr__state_vtable *vt,
                         const fr_featurizer *f, const fr_state_options *o) {
  st->vt = vt;
  st->f = f;
  if (o)
    st->opt = *o;
  else
    fr_state_options_default(&st->opt);
  st->opt.snapshot_path = NULL; /* the backend keeps its own copy */
  if (!(st->opt.allowed_lateness >= 0))
    st->opt.allowed_lateness = 0;
  atomic_init(&st->c.late_inserted, 0);
  atomic_init(&st->c.late_dropped, 0);
  atomic_init(&st->c.duplicates, 0);
  atomic_init(&st->c.errors, 0);
  atomic_init(&st->c.degraded, 0);
  atomic_init(&st->c.conflicts, 0);
  st->outage_empty = 0;
  st->max_retries = 32;
}

void fr_state_free(fr_state *st) {
  if (st)
    st->vt->free(st);
}

size_t fr_state_size(const fr_state *st) { return st ? st->vt->size(st) : 0; }

void fr_state_get_stats(const fr_state *st, fr_state_stats *out) {
  memset(out, 0, sizeof *out);
  out->last_snapshot = NAN;
  if (!st)
    return;
  out->backend = st->vt->name;
  fr_state *m = (fr_state *)st; /* atomics are read, not changed */
  out->late_inserted = atomic_load(&m->c.late_inserted);
  out->late_dropped = atomic_load(&m->c.late_dropped);
  out->duplicates = atomic_load(&m->c.duplicates);
  out->errors = atomic_load(&m->c.errors);
  out->degraded = atomic_load(&m->c.degraded);
  out->conflicts = atomic_load(&m->c.conflicts);
  out->available = 1;
  st->vt->stats(st, out);
}

#define U64(field) offsetof(fr_state_stats, field), 0

static const fr_state_metric metrics[] = {
    {"fraud_state_entities", "gauge", "entities held by the online state store",
     NULL, NULL, U64(entities)},
    {"fraud_state_bytes", "gauge",
     "heap bytes of entity records in the in-process state store", NULL, NULL,
     U64(bytes)},
    {"fraud_state_evictions_total", "counter", "evicted entities", "reason",
     "ttl", U64(evicted_ttl)},
    {"fraud_state_evictions_total", "counter", "evicted entities", "reason",
     "capacity", U64(evicted_capacity)},
    {"fraud_state_late_events_total", "counter",
     "events older than the entity's latest", "action", "inserted",
     U64(late_inserted)},
    {"fraud_state_late_events_total", "counter",
     "events older than the entity's latest", "action", "dropped",
     U64(late_dropped)},
    {"fraud_state_duplicate_events_total", "counter",
     "transactions whose event time and id an entity already holds (replays): "
     "scored, not inserted again", NULL, NULL, U64(duplicates)},
    {"fraud_state_errors_total", "counter",
     "state store failures (Redis unreachable, ...)", NULL, NULL, U64(errors)},
    {"fraud_state_degraded_total", "counter",
     "transactions featurized with an empty history while the store was down",
     NULL, NULL, U64(degraded)},
    {"fraud_state_conflicts_total", "counter",
     "compare-and-set retries of the Redis state store", NULL, NULL,
     U64(conflicts)},
    {"fraud_state_snapshots_total", "counter", "state snapshots written", NULL,
     NULL, U64(snapshots)},
    {"fraud_state_available", "gauge",
     "1 when the state store answers, 0 during an outage", NULL, NULL,
     offsetof(fr_state_stats, available), 1},
};

const fr_state_metric *fr_state_metrics(size_t *n) {
  if (n)
    *n = sizeof metrics / sizeof metrics[0];
  return metrics;
}

int fr_state_snapshot(fr_state *st, const char *path, fr_error *err) {
  if (!st || !path)
    return fr_error_set(err, FR_EINVAL, "fr_state_snapshot: NULL argument");
  if (!st->vt->snapshot)
    return fr_error_set(err, FR_EINVAL,
                        "the %s state store is not snapshotted (Redis "
                        "persists itself: RDB/AOF)", st->vt->name);
  return st->vt->snapshot(st, path, err);
}

int fr_state_restore(fr_state *st, const char *path, fr_error *err) {
  if (!st || !path)
    return fr_error_set(err, FR_EINVAL, "fr_state_restore: NULL argument");
  if (!st->vt->restore)
    return fr_error_set(err, FR_EINVAL,
                        "the %s state store is not restored from snapshots",
                        st->vt->name);
  return st->vt->restore(st, path, err);
}

char *fr_state_snapshot_path(const fr_featurizer *f, const char *dir) {
  if (!f || !dir)
    return NULL;
  char name[64];
  snprintf(name, sizeof name, "state-%.16s.snap", f->state_digest);
  return fr_path_join(dir, name);
}
