/*
 * internal.h - what the files of the features module share: the compiled
 * feature program, fitted categorical encoders, the per-entity record (an
 * exact event log plus optional time buckets), its binary encoding, and the
 * state-store vtable that the in-process and Redis stores implement.
 *
 * Nothing here is public; names carry the fr__ prefix.
 */
#ifndef FRAUD_FEATURES_INTERNAL_H
#define FRAUD_FEATURES_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fraud/features.h"

/* Feature kinds.  The table in spec.c maps YAML names to these. */
typedef enum fr__kind {
  /* stateless */
  FR__K_NUMERIC = 0,   /* pass-through of a numeric column */
  FR__K_LOG1P,         /* ln(1 + x), NaN for x <= -1 */
  FR__K_CLIP,          /* min(max(x, lo), hi) */
  FR__K_RATIO,         /* a / b (NaN when b == 0) */
  FR__K_HOUR,          /* hour of day 0..23 */
  FR__K_DOW,           /* day of week 0 = Monday .. 6 = Sunday */
  FR__K_HOUR_SIN,
  FR__K_HOUR_COS,
  FR__K_DOW_SIN,
  FR__K_DOW_COS,
  FR__K_HAVERSINE,     /* great-circle km between two geo points */
  /* categorical (fitted) */
  FR__K_CATEGORY_CODE,
  FR__K_ONE_HOT,
  FR__K_FREQUENCY,
  FR__K_TARGET_ENCODING,
  /* entity aggregates (stateful) */
  FR__K_COUNT,
  FR__K_SUM,
  FR__K_MEAN,
  FR__K_MIN,
  FR__K_MAX,
  FR__K_STD,
  FR__K_DISTINCT,
  FR__K_TIME_SINCE_PREV,
  FR__K_RATIO_TO_MEAN,
  FR__K_ZSCORE,
  FR__K_FIRST_SEEN,
  FR__K_GEO_VELOCITY,
  FR__K_COUNT_KINDS
} fr__kind;

/* A fitted vocabulary of one categorical column: category text -> index into
 * per-category arrays (code, count, target sum). */
typedef struct fr__vocab_entry fr__vocab_entry;

typedef struct fr__encoder {
  int column;            /* schema column */
  size_t n;              /* categories kept */
  char **values;         /* n category texts, in code order */
  double *count;         /* n training rows per category */
  double *pos;           /* n positive labels per category */
  double total, total_pos; /* training rows with a value / positives */
  fr__vocab_entry *index; /* uthash: text -> position */
} fr__encoder;

/* One compiled feature. */
typedef struct fr__op {
  fr__kind kind;
  char *name;            /* output name (first output for one-hot) */
  int line;              /* spec line, for messages */
  size_t out;            /* first output index */
  size_t nout;           /* outputs (1, or K for one-hot) */
  int col, col2;         /* schema columns (col2: ratio denominator) */
  int lat1, lon1, lat2, lon2; /* geo points (schema columns) */
  int slot;              /* entity slot for stateful kinds, else -1 */
  int vidx;              /* index of the value in the slot's event tuple */
  int hidx;              /* index of the hash in the slot's event tuple */
  int gidx;              /* index of (lat,lon) in the slot's event tuple */
  double window;         /* seconds; 0 = unbounded (time_since_prev...) */
  int bucketed;          /* window served by the slot's time buckets */
  int widx;              /* index of the window in the slot's window list */
  double lo, hi;         /* clip bounds */
  double smoothing;      /* target encoding m */
  int32_t utc_offset;    /* seconds added to event time for hour/dow */
  int offset_col;        /* numeric column with a UTC offset in minutes, or -1 */
  fr_tz *tz;             /* IANA zone for hour/dow (owned), or NULL */
  int max_categories;    /* one-hot K / category cap (0 = unlimited) */
  int min_count;         /* categories seen fewer times map to "unseen" */
  int enc;               /* encoder index, or -1 */
} fr__op;

/* A window of a slot: length, whether it is bucketed, and which values need
 * a sum of squared deviations (std, zscore). */
typedef struct fr__window {
  double w;
  int bucketed;
  uint64_t m2mask;       /* bit k: value k needs M2 in this window */
} fr__window;

/* An entity used by the spec, and what its event tuples carry. */
typedef struct fr__slot {
  int entity;            /* schema entity index */
  const char *name;      /* entity name */
  const int *cols;       /* key columns */
  size_t ncols;
  size_t nvals;          /* numeric values per event */
  int *val_cols;         /* their schema columns */
  size_t nhash;          /* hashed values per event (distinct counts) */
  int *hash_cols;
  size_t ngeo;           /* geo points per event */
  int *geo_lat, *geo_lon;
  int id_col;            /* the schema's transaction id column, -1 = none */
  size_t stride;         /* doubles per event: 1 (ts) + nvals + nhash +
                            2*ngeo, + 1 (the id's hash bits) with an id */
  double exact_horizon;  /* the log keeps events this old (plus lateness) */
  double bucket_width;   /* 0 = no buckets */
  double bucket_horizon; /* longest bucketed window */
  size_t bstride;        /* doubles per bucket: 2 + 5 * nvals */
  size_t *op_idx;        /* ops reading this slot */
  size_t nop_idx;
  fr__window *win;       /* exact windows ascending, then bucketed ascending */
  size_t nexact, nwin;
} fr__slot;

/* Geo points per entity whose "previous located event" survives pruning. */
#define FR__MAX_GEO 2
/* Values aggregated per entity (numeric columns; hashed columns). */
#define FR__MAX_VALS 64
#define FR__MAX_TUPLE (1 + 2 * FR__MAX_VALS + 2 * FR__MAX_GEO + 1)

struct fr_featurizer {
  const fr_schema *schema;
  char *origin;          /* spec file name for messages */
  fr__op *ops;
  size_t nops;
  size_t nfeatures;
  char **names;          /* nfeatures */
  fr__slot *slots;
  size_t nslots;
  fr__encoder *encs;
  size_t nencs;
  int fitted;            /* encoders fitted or loaded */
  int needs_time;        /* some feature reads the event time */
  char *spec_yaml;       /* the spec text as loaded (unfitted part) */
  char state_digest[65]; /* SHA-256 hex of the state layout (spec.c) */
  int *used_cols;        /* schema columns any feature or key reads */
  size_t nused;
};

/* Per-entity record: a time-sorted log of event tuples (ts first) kept for
 * the slot's exact horizon, time buckets of every event for bucketed
 * windows, plus what outlives the log. */
typedef struct fr__entity {
  double first_ts;       /* earliest event ever seen (NaN = none) */
  double latest_ts;      /* newest event seen */
  double pruned_ts;      /* newest event dropped from the log (NaN = none) */
  double anchor[3 * FR__MAX_GEO]; /* per geo point: (ts, lat, lon) of the
                                     newest located event dropped from the
                                     log; ts NaN = none */
  uint32_t n, cap;       /* events in the log / capacity (in events) */
  double *ev;            /* n * stride doubles, sorted by ts (stable) */
  uint32_t nb, capb;     /* buckets / capacity */
  double *bk;            /* nb * bstride doubles, sorted by start: start,
                            count, then per value n, sum, m2, min, max */
} fr__entity;

/* A locked (memory) or fetched (Redis) entity record, between begin and
 * commit. */
typedef struct fr__entity_ref {
  fr__entity *ent;
  void *handle;          /* backend-specific */
  int created;
} fr__entity_ref;

/* One entity of a transaction on the batched (remote) path. */
typedef struct fr__remote_item {
  int slot;
  uint64_t key;          /* keyed hash of the entity key */
  fr__entity *ent;       /* decoded record (scratch owned by the caller) */
  int64_t version;       /* version read (0 = absent) */
  int modified;
  int late;              /* 0 in order, 1 late inserted, 2 late dropped,
                            3 duplicate (not inserted) */
  int conflict;          /* set by store: someone else wrote first */
} fr__remote_item;

typedef struct fr__state_vtable {
  const char *name;      /* "memory", "redis" */
  /* Per-entity locking path (in-process).  Locks/finds the record of
   * (slot, key), creating an empty one when absent and `create` is set;
   * ref->ent is NULL when absent and !create. */
  int (*begin)(fr_state *st, int slot, uint64_t key, int create,
               fr__entity_ref *ref, fr_error *err);
  /* Releases it; `modified` says whether the record changed. */
  int (*commit)(fr_state *st, fr__entity_ref *ref, int modified, fr_error *err);
  /* Optional hint, no lock taken and nothing changed: starts loading the
   * memory that a begin of (slot, key) will read, so that the cache misses
   * of a transaction's entities overlap instead of coming one by one. */
  void (*prefetch)(const fr_state *st, int slot, uint64_t key);
  /* Batched path (remote): reads items[0..n) in one round trip (absent =
   * empty record, version 0); FR_EUNAVAIL when the store cannot be reached. */
  int (*fetch)(fr_state *st, fr__remote_item *items, size_t n, fr_error *err);
  /* Writes the modified items with compare-and-set on their versions, in one
   * round trip; sets item->conflict where another writer came first. */
  int (*store)(fr_state *st, fr__remote_item *items, size_t n, fr_error *err);
  size_t (*size)(const fr_state *st);
  void (*stats)(const fr_state *st, fr_state_stats *out);
  int (*snapshot)(fr_state *st, const char *path, fr_error *err);
  int (*restore)(fr_state *st, const char *path, fr_error *err);
  void (*free)(fr_state *st);
} fr__state_vtable;

/* Counters every backend shares (featurize.c updates them). */
typedef struct fr__state_counters {
  atomic_uint_fast64_t late_inserted, late_dropped, duplicates;
  atomic_uint_fast64_t errors, degraded, conflicts;
} fr__state_counters;

struct fr_state {
  const fr__state_vtable *vt;
  const fr_featurizer *f;
  fr_state_options opt;
  fr__state_counters c;
  int outage_empty;      /* remote: score with empty history when down */
  int max_retries;       /* remote: compare-and-set retries */
};

/* entity.c */
void fr__entity_init(fr__entity *e);
void fr__entity_clear(fr__entity *e);
/* Empties a record of a slot but keeps its buffers (for the next entity of
 * the same slot). */
void fr__entity_reset(fr__entity *e);
/* Index one past the last event with ts < t (events are sorted by ts). */
uint32_t fr__entity_before(const fr__entity *e, size_t stride, double t);
/* Inserts an event tuple (stride doubles, ts first) after every event with
 * ts <= its ts, folds it into its time bucket, then drops log events older
 * than latest - exact_horizon - lateness (recording pruned_ts and geo
 * anchors) and buckets no bucketed window can reach.  When the slot has a
 * transaction id (id_col >= 0) and the log already holds an event with the
 * same ts and the same id hash (the tuple's last double, 0 = no id), the
 * tuple is a replay of that transaction: nothing changes and 1 is returned.
 * 0 inserted, 1 duplicate, FR_ENOMEM. */
int fr__entity_insert(fr__entity *e, const fr__slot *sl, const double *tuple,
                      double lateness);
/* Heap bytes held by a record (struct, log and bucket capacity). */
size_t fr__entity_bytes(const fr__entity *e, const fr__slot *sl);
/* Binary encoding (host byte order, checked by the snapshot header): the
 * scalar fields, the log, the buckets.  encode writes exactly
 * fr__entity_encoded_size bytes. */
size_t fr__entity_encoded_size(const fr__entity *e, const fr__slot *sl);
void fr__entity_encode(const fr__entity *e, const fr__slot *sl, uint8_t *buf);
/* Replaces *e (initialised) with the decoded record, reusing its buffers
 * (so *e must only ever hold records of this slot: capacities count its
 * events).  FR_EFORMAT when the bytes are not a record of this slot's
 * layout. */
int fr__entity_decode(fr__entity *e, const fr__slot *sl, const uint8_t *buf,
                      size_t len);

/* encoders.c */
int fr__encoder_fit(fr__encoder *enc, const fr_dataset *d, const size_t *rows,
                    size_t n, int min_count, int max_categories, fr_error *err);
/* Position of `text` in the vocabulary, or -1 (unseen / missing). */
long fr__encoder_find(const fr__encoder *enc, const char *text, size_t len);
int fr__encoder_add(fr__encoder *enc, const char *text, double count,
                    double pos);
void fr__encoder_free(fr__encoder *enc);

/* spec.c: names one-hot outputs "<feature>=<category>" once fitted. */
void fr__featurizer_name_one_hot(fr_featurizer *f);

/* featurize.c: the per-transaction program, shared by both paths. */
int fr__featurize_one(const fr_featurizer *f, const fr_txn *txn, fr_state *st,
                      float *out, int update, unsigned *flags, fr_error *err);
/* Builds "entity\0key1\x1fkey2..." and returns its keyed hash in *h: 1, or 0
 * when a key column is missing; FR_EINVAL when the key is too long. */
int fr__entity_hash(const fr__slot *sl, const fr_txn *txn,
                    const uint8_t key[FR_HASH_KEY_BYTES], uint64_t *h,
                    fr_error *err);

/* featurize.c: the offline replay of a slot keeps all its entities'
 * records side by side and replays rows in time order when their estimated
 * size is at most this many bytes (default 8 MiB, about what stays in
 * cache), else it replays entity by entity on one record.  Both give the
 * same features; tests set it to force either way. */
extern size_t fr__offline_inorder_bytes;

/* haversine distance in km between two (lat, lon) points in degrees. */
double fr__haversine_km(double lat1, double lon1, double lat2, double lon2);

/* state_memory.c: base initialisation shared by the backends. */
void fr__state_init_base(fr_state *st, const fr__state_vtable *vt,
                         const fr_featurizer *f, const fr_state_options *o);

#endif
