/*
 * metrics.c - Prometheus registry (see metrics.h).
 *
 * Series of a family live in a singly linked list in creation order (for
 * stable exposition) and in a uthash table keyed by the label values joined
 * with a 0x1f separator (for lookup).  Lookups take the registry's rwlock for
 * reading; the first use of a label combination takes it for writing.  Values
 * never need the lock: they are atomics.
 */
#include "serve/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct fr__series {
  const fr__metric_def *def;
  char *key;                         /* joined label values (hash key) */
  char *values[FR__METRIC_MAX_LABELS];
  _Atomic uint64_t value;            /* counter/gauge: double bits; histogram: sum bits */
  _Atomic uint64_t buckets[FR__METRIC_MAX_BUCKETS + 1]; /* last = +Inf */
  fr__series *next;                  /* creation order */
  UT_hash_handle hh;
};

typedef struct family {
  const fr__metric_def *def;
  size_t nlabels;
  fr__series *head, *tail;
  fr__series *table; /* uthash head */
} family;

struct fr__metrics {
  family *fams;
  size_t n;
  pthread_rwlock_t lock;
};

static uint64_t dbits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static double bitsd(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

fr__metrics *fr__metrics_new(const fr__metric_def *defs, size_t n) {
  fr__metrics *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->fams = calloc(n ? n : 1, sizeof *m->fams);
  if (!m->fams) {
    free(m);
    return NULL;
  }
  m->n = n;
  for (size_t i = 0; i < n; i++) {
    const fr__metric_def *d = &defs[i];
    size_t nl = 0;
    while (nl <= FR__METRIC_MAX_LABELS && d->labels[nl])
      nl++;
    int bad = nl > FR__METRIC_MAX_LABELS;
    if (d->kind == FR__HISTOGRAM) {
      bad |= d->nbuckets == 0 || d->nbuckets > FR__METRIC_MAX_BUCKETS || !d->buckets;
      for (size_t b = 1; !bad && b < d->nbuckets; b++)
        bad |= !(d->buckets[b] > d->buckets[b - 1]);
    }
    if (bad) {
      free(m->fams);
      free(m);
      return NULL;
    }
    m->fams[i].def = d;
    m->fams[i].nlabels = nl;
  }
  pthread_rwlock_init(&m->lock, NULL);
  return m;
}

void fr__metrics_free(fr__metrics *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->n; i++) {
    family *f = &m->fams[i];
    HASH_CLEAR(hh, f->table);
    fr__series *s = f->head;
    while (s) {
      fr__series *next = s->next;
      free(s->key);
      for (size_t l = 0; l < f->nlabels; l++)
        free(s->values[l]);
      free(s);
      s = next;
    }
  }
  pthread_rwlock_destroy(&m->lock);
  free(m->fams);
  free(m);
}

/* Joins label values into key (0x1f-separated).  Returns the length, or the
 * needed length when it does not fit. */
static size_t join_key(const family *f, const char *const *vals, char *key,
                       size_t cap) {
  size_t o = 0;
  for (size_t l = 0; l < f->nlabels; l++) {
    const char *v = vals && vals[l] ? vals[l] : "";
    size_t n = strlen(v);
    if (o + n + 1 < cap) {
      memcpy(key + o, v, n);
      key[o + n] = '\x1f';
    }
    o += n + 1;
  }
  if (o < cap)
    key[o] = '\0';
  return o;
}

fr__series *fr__metrics_get(fr__metrics *m, size_t family_idx,
                            const char *const *vals) {
  if (!m || family_idx >= m->n)
    return NULL;
  family *f = &m->fams[family_idx];
  char stack[512];
  char *key = stack;
  size_t klen = join_key(f, vals, stack, sizeof stack);
  if (klen >= sizeof stack) {
    key = malloc(klen + 1);
    if (!key)
      return NULL;
    join_key(f, vals, key, klen + 1);
  }
  fr__series *s = NULL;
  pthread_rwlock_rdlock(&m->lock);
  HASH_FIND(hh, f->table, key, klen, s);
  pthread_rwlock_unlock(&m->lock);
  if (s)
    goto out;
  pthread_rwlock_wrlock(&m->lock);
  HASH_FIND(hh, f->table, key, klen, s);
  if (!s) {
    s = calloc(1, sizeof *s);
    char *kcopy = s ? malloc(klen + 1) : NULL;
    int ok = s && kcopy;
    if (ok) {
      memcpy(kcopy, key, klen + 1);
      s->key = kcopy;
      s->def = f->def;
      for (size_t l = 0; ok && l < f->nlabels; l++) {
        s->values[l] = strdup(vals && vals[l] ? vals[l] : "");
        ok = s->values[l] != NULL;
      }
    }
    if (!ok) {
      if (s) {
        for (size_t l = 0; l < f->nlabels; l++)
          free(s->values[l]);
        free(s->key);
      }
      free(s);
      s = NULL;
    } else {
      HASH_ADD_KEYPTR(hh, f->table, s->key, klen, s);
      if (f->tail)
        f->tail->next = s;
      else
        f->head = s;
      f->tail = s;
    }
  }
  pthread_rwlock_unlock(&m->lock);
out:
  if (key != stack)
    free(key);
  return s;
}

static void atomic_add_double(_Atomic uint64_t *a, double v) {
  uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
  for (;;) {
    uint64_t nw = dbits(bitsd(old) + v);
    if (atomic_compare_exchange_weak_explicit(a, &old, nw, memory_order_relaxed,
                                              memory_order_relaxed))
      return;
  }
}

void fr__series_add(fr__series *s, double v) {
  if (s)
    atomic_add_double(&s->value, v);
}

void fr__series_set(fr__series *s, double v) {
  if (s)
    atomic_store_explicit(&s->value, dbits(v), memory_order_relaxed);
}

void fr__series_observe(fr__series *s, double v) {
  if (!s)
    return;
  const fr__metric_def *d = s->def;
  /* Bucket i counts d->buckets[i-1] < v <= d->buckets[i]: the first bound
   * >= v.  NaN compares false everywhere and lands in +Inf. */
  size_t lo = 0, hi = d->nbuckets;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (v <= d->buckets[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  atomic_fetch_add_explicit(&s->buckets[lo], 1, memory_order_relaxed);
  atomic_add_double(&s->value, v);
}

double fr__series_value(const fr__series *s) {
  if (!s)
    return 0;
  if (s->def->kind == FR__HISTOGRAM) {
    uint64_t c = 0;
    for (size_t b = 0; b <= s->def->nbuckets; b++)
      c += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
    return (double)c;
  }
  return bitsd(atomic_load_explicit(&s->value, memory_order_relaxed));
}

void fr__metrics_fmt_value(fr__buf *out, double v) {
  if (isnan(v)) {
    fr__buf_puts(out, "NaN");
  } else if (isinf(v)) {
    fr__buf_puts(out, v > 0 ? "+Inf" : "-Inf");
  } else {
    char tmp[40];
    int n = fr_fmt_double(tmp, sizeof tmp, v);
    fr__buf_append(out, tmp, (size_t)n);
  }
}

/* Label values: backslash, double quote and line feed are escaped. */
static void put_label_value(fr__buf *out, const char *v) {
  for (; *v; v++) {
    if (*v == '\\')
      fr__buf_puts(out, "\\\\");
    else if (*v == '"')
      fr__buf_puts(out, "\\\"");
    else if (*v == '\n')
      fr__buf_puts(out, "\\n");
    else
      fr__buf_putc(out, *v);
  }
}

/* HELP text: backslash and line feed are escaped. */
static void put_help(fr__buf *out, const char *v) {
  for (; *v; v++) {
    if (*v == '\\')
      fr__buf_puts(out, "\\\\");
    else if (*v == '\n')
      fr__buf_puts(out, "\\n");
    else
      fr__buf_putc(out, *v);
  }
}

/* "{a="x",b="y"" plus an optional extra label (le), closing brace. */
static void put_labels(fr__buf *out, const family *f, const fr__series *s,
                       const char *extra_name, const char *extra_value) {
  size_t n = 0;
  for (size_t l = 0; l < f->nlabels; l++) {
    fr__buf_putc(out, n++ ? ',' : '{');
    fr__buf_puts(out, f->def->labels[l]);
    fr__buf_puts(out, "=\"");
    put_label_value(out, s->values[l]);
    fr__buf_putc(out, '"');
  }
  if (extra_name) {
    fr__buf_putc(out, n++ ? ',' : '{');
    fr__buf_puts(out, extra_name);
    fr__buf_puts(out, "=\"");
    fr__buf_puts(out, extra_value);
    fr__buf_putc(out, '"');
  }
  if (n)
    fr__buf_putc(out, '}');
}

void fr__metrics_render(fr__metrics *m, fr__buf *out) {
  static const char *type_names[] = {"counter", "gauge", "histogram"};
  pthread_rwlock_rdlock(&m->lock);
  for (size_t i = 0; i < m->n; i++) {
    const family *f = &m->fams[i];
    const fr__metric_def *d = f->def;
    if (!f->head)
      continue;
    fr__buf_printf(out, "# HELP %s ", d->name);
    put_help(out, d->help);
    fr__buf_printf(out, "\n# TYPE %s %s\n", d->name, type_names[d->kind]);
    for (const fr__series *s = f->head; s; s = s->next) {
      if (d->kind != FR__HISTOGRAM) {
        fr__buf_puts(out, d->name);
        put_labels(out, f, s, NULL, NULL);
        fr__buf_putc(out, ' ');
        fr__metrics_fmt_value(out, bitsd(atomic_load_explicit(
                                       &s->value, memory_order_relaxed)));
        fr__buf_putc(out, '\n');
        continue;
      }
      /* Snapshot the bucket counts first so that the cumulative counts, +Inf
       * and _count all come from the same numbers. */
      uint64_t counts[FR__METRIC_MAX_BUCKETS + 1];
      for (size_t b = 0; b <= d->nbuckets; b++)
        counts[b] = atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
      double sum = bitsd(atomic_load_explicit(&s->value, memory_order_relaxed));
      uint64_t cum = 0;
      for (size_t b = 0; b <= d->nbuckets; b++) {
        cum += counts[b];
        char le[40];
        if (b == d->nbuckets) {
          strcpy(le, "+Inf");
        } else {
          fr__buf tmp = {0};
          fr__metrics_fmt_value(&tmp, d->buckets[b]);
          snprintf(le, sizeof le, "%s", fr__buf_cstr(&tmp));
          fr__buf_close(&tmp);
        }
        fr__buf_printf(out, "%s_bucket", d->name);
        put_labels(out, f, s, "le", le);
        fr__buf_printf(out, " %llu\n", (unsigned long long)cum);
      }
      fr__buf_printf(out, "%s_sum", d->name);
      put_labels(out, f, s, NULL, NULL);
      fr__buf_putc(out, ' ');
      fr__metrics_fmt_value(out, sum);
      fr__buf_printf(out, "\n%s_count", d->name);
      put_labels(out, f, s, NULL, NULL);
      fr__buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
  }
  pthread_rwlock_unlock(&m->lock);
}
