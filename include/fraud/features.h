/*
 * fraud/features.h - the featurizer: one piece of code that turns raw
 * transactions into feature vectors offline (replaying history in event-time
 * order) and online (one request at a time), so training/serving skew cannot
 * happen by construction.
 *
 * Semantics (docs/features.md): a transaction's features use only events of
 * its entities strictly before its event time, so transactions with equal
 * timestamps never see each other whatever their order; the transaction is
 * added to the state after its features are computed.  Windows are (t - w, t)
 * on epoch seconds.
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

/* Per-entity state (windowed events, last seen...).  Thread-safe: concurrent
 * fr_featurize calls on one state serialise per entity, never lose an update. */
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

/* Options of the state store. */
typedef struct fr_state_options {
  size_t max_entities;       /* cap on entities kept (0 = unlimited) */
  double ttl_seconds;        /* evict entities idle this long (0 = never) */
  double allowed_lateness;   /* seconds; older events are not inserted */
  uint8_t hash_key[FR_HASH_KEY_BYTES]; /* key of the entity-key hash */
} fr_state_options;

/* Default options: no cap, no TTL, lateness 0, development hash key. */
FR_EXPORT void fr_state_options_default(fr_state_options *o);

/* In-process state for featurizer f.  Errors: FR_ENOMEM. */
FR_EXPORT fr_state *fr_state_new_memory(const fr_featurizer *f,
                                        const fr_state_options *o,
                                        fr_error *err);
FR_EXPORT void fr_state_free(fr_state *st);
/* Number of entities currently held. */
FR_EXPORT size_t fr_state_size(const fr_state *st);

/* Counters of a state store since its creation, for the server's metrics
 * (fraud_state_evictions_total, fraud_state_late_events_total in
 * docs/metrics.md).  A late event is one older than the newest event of its
 * entity: inserted when within allowed_lateness of it, else scored but not
 * inserted (dropped). */
typedef struct fr_state_stats {
  uint64_t evicted_ttl;      /* entities evicted by ttl_seconds */
  uint64_t evicted_capacity; /* entities evicted by max_entities */
  uint64_t late_inserted;
  uint64_t late_dropped;
} fr_state_stats;

/* Reads the counters.  Thread-safe; st NULL gives zeros. */
FR_EXPORT void fr_state_get_stats(const fr_state *st, fr_state_stats *out);

/* Online path: computes the features of `txn` from `st` into out_row (array of
 * fr_featurizer_nfeatures floats; NaN = missing), then adds txn to the state.
 * `update` 0 computes without adding (explain / dry runs).  Allocates nothing
 * in the steady state.  Errors: FR_EINVAL (event time missing when the spec
 * needs it), FR_EUNAVAIL (remote state unreachable). */
FR_EXPORT int fr_featurize(const fr_featurizer *f, const fr_txn *txn,
                           fr_state *st, float *out_row, int update,
                           fr_error *err);

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
