/*
 * dataset.c - a whole CSV file parsed per its schema into columns: doubles
 * for NUMBER columns, dictionary ids for STRING columns, plus the event time,
 * label and source line of every row.
 *
 * Columnar because everything downstream scans a few columns over many rows
 * (featurizing, validation, drift) and because a string column of a fraud
 * data set has few distinct values (merchants, categories, cards): interning
 * them stores each once and turns a row into 4-byte ids.  Ids and
 * event-time text are nearly all distinct, so those columns skip the hash
 * and only append.  The time order is a stable sort computed on first use.
 *
 * The interning index is a flat open-addressing table (linear probing, at
 * most half full) of 8-byte slots (32 hash bits as a tag, the dictionary
 * id), rather than uthash: every row looks up each of its string cells, and
 * a lookup here costs one probe into a small contiguous array plus one
 * comparison with the dictionary's text, where uthash chains cost a cache
 * miss per entry walked (a profile of reading 1 M generated rows put 35 %
 * of the time in those walks).  Entries are never removed, so no
 * tombstones are needed.
 */
#include "data_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Arena
 * ------------------------------------------------------------------------ */

struct fr__arena_block {
  fr__arena_block *next;
  size_t cap;
  char data[];
};

char *fr__arena_strdup(fr__arena *a, const char *s, size_t len) {
  if (!a->head || a->used + len + 1 > a->cap) {
    size_t cap = len + 1 > (1u << 20) ? len + 1 : (1u << 20);
    fr__arena_block *b = malloc(sizeof *b + cap);
    if (!b)
      return NULL;
    b->next = a->head;
    b->cap = cap;
    a->head = b;
    a->used = 0;
    a->cap = cap;
  }
  char *p = a->head->data + a->used;
  memcpy(p, s, len);
  p[len] = '\0';
  a->used += len + 1;
  return p;
}

void fr__arena_free(fr__arena *a) {
  fr__arena_block *b = a->head;
  while (b) {
    fr__arena_block *n = b->next;
    free(b);
    b = n;
  }
  a->head = NULL;
  a->used = a->cap = 0;
}

/* ------------------------------------------------------------------------
 * Storage
 * ------------------------------------------------------------------------ */

/* A slot of the interning index: the text's first 8 bytes (zero-padded),
 * its length (0xffff for 65535 and more), 16 bits of its hash and its
 * dictionary id + 1 (0 = empty slot).  A probe settles most texts (keys
 * such as "c0000391" are 8 bytes) inside the slot, without touching the
 * dictionary or the text. */
typedef struct dict_slot {
  uint64_t head;
  uint32_t id1;
  uint16_t len, tag;
} dict_slot;

typedef struct column {
  int present;   /* in the file's header */
  size_t field;  /* 0-based field index in the file */
  int stored;    /* not an IGNORE column */
  int interned;  /* STRING column deduplicated through the index */
  double *num;   /* NUMBER */
  uint32_t *ids; /* STRING */
  fr__str *dict;
  size_t ndict, dict_cap;
  dict_slot *slots; /* interning index: a power of two, at most half full */
  size_t nslots;
} column;

struct fr_dataset {
  const fr_schema *schema;
  char *path;
  size_t rows, cap;
  size_t skipped;
  /* 1-based data row numbers of the skipped rows, ascending (only with
   * --on-bad-row skip): a kept row's data row number is its index plus
   * the skipped rows before it, so the common case stores nothing. */
  size_t *skipped_at;
  column *cols;
  size_t ncols;
  double *event_time; /* rows, or NULL when the schema has no event time */
  int8_t *label;
  size_t *line;
  fr__arena text;
  char *bad_msgs[FR__BAD_EXAMPLES];
  size_t bad_lines[FR__BAD_EXAMPLES];
  size_t nbad;
  pthread_mutex_t order_lock;
  size_t *order;
};

void fr_dataset_free(fr_dataset *d) {
  if (!d)
    return;
  for (size_t i = 0; i < d->ncols; i++) {
    column *c = &d->cols[i];
    free(c->num);
    free(c->ids);
    free(c->dict);
    free(c->slots);
  }
  free(d->cols);
  free(d->label);
  free(d->event_time);
  free(d->line);
  free(d->skipped_at);
  free(d->path);
  free(d->order);
  fr__arena_free(&d->text);
  for (size_t i = 0; i < d->nbad; i++)
    free(d->bad_msgs[i]);
  pthread_mutex_destroy(&d->order_lock);
  free(d);
}

static int reserve_rows(fr_dataset *d, size_t need) {
  if (need <= d->cap)
    return 0;
  size_t cap = d->cap ? d->cap * 2 : 1024;
  while (cap < need)
    cap *= 2;
  for (size_t i = 0; i < d->ncols; i++) {
    column *c = &d->cols[i];
    if (!c->stored)
      continue;
    if (fr_schema_column(d->schema, i)->type == FR_COL_NUMBER) {
      double *p = realloc(c->num, cap * sizeof *p);
      if (!p)
        return FR_ENOMEM;
      c->num = p;
    } else {
      uint32_t *p = realloc(c->ids, cap * sizeof *p);
      if (!p)
        return FR_ENOMEM;
      c->ids = p;
    }
  }
  if (fr_schema_role_column(d->schema, FR_ROLE_EVENT_TIME) >= 0) {
    double *t = realloc(d->event_time, cap * sizeof *t);
    if (!t)
      return FR_ENOMEM;
    d->event_time = t;
  }
  int8_t *l = realloc(d->label, cap * sizeof *l);
  if (!l)
    return FR_ENOMEM;
  d->label = l;
  size_t *ln = realloc(d->line, cap * sizeof *ln);
  if (!ln)
    return FR_ENOMEM;
  d->line = ln;
  d->cap = cap;
  return 0;
}

/* Hash of a cell's text for the interning index: 8 bytes at a time, each
 * word folded in by a multiply and xor-shift (the finaliser constants of
 * splitmix64, G. L. Steele, D. Lea, C. H. Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014).  Not keyed: a data file is
 * the operator's own input, not an attacker's. */
uint64_t fr__text_hash(const char *s, size_t len) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
  for (; len >= 8; s += 8, len -= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  if (len) {
    uint64_t w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
  }
  h = (h ^ (h >> 30)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

/* The slot a text would have (id1 left 0). */
static dict_slot slot_of(const char *s, size_t len, uint64_t h) {
  dict_slot k = {0, 0, (uint16_t)(len < 0xffff ? len : 0xffff),
                 (uint16_t)(h >> 48)};
  memcpy(&k.head, s, len < 8 ? len : 8);
  return k;
}

/* Doubles the index (or makes its first 1024 slots) and re-inserts every
 * dictionary entry; -1 on ENOMEM. */
static int index_grow(column *c) {
  size_t n = c->nslots ? c->nslots * 2 : 1024;
  dict_slot *t = calloc(n, sizeof *t);
  if (!t)
    return -1;
  for (size_t id = 0; id < c->ndict; id++) {
    const fr__str *e = &c->dict[id];
    uint64_t h = fr__text_hash(e->ptr, e->len);
    size_t i = (size_t)h & (n - 1);
    while (t[i].id1)
      i = (i + 1) & (n - 1);
    t[i] = slot_of(e->ptr, e->len, h);
    t[i].id1 = (uint32_t)id + 1;
  }
  free(c->slots);
  c->slots = t;
  c->nslots = n;
  return 0;
}

/* memcmp(a, b, n) == 0; a loop for the short tails of most keys (a call
 * to memcmp costs more than comparing a few bytes). */
static int tail_equal(const char *a, const char *b, size_t n) {
  if (n > 16)
    return memcmp(a, b, n) == 0;
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

/* Returns the dictionary id of s[0..len) in column c, adding it if new;
 * UINT32_MAX on ENOMEM.  h: fr__text_hash(s, len) for an interned column. */
static uint32_t intern(fr_dataset *d, column *c, const char *s, size_t len,
                       uint64_t h) {
  size_t i = 0;
  dict_slot k = {0};
  if (c->interned) {
    if (!c->slots && index_grow(c))
      return UINT32_MAX;
    k = slot_of(s, len, h);
    size_t mask = c->nslots - 1;
    for (i = (size_t)h & mask; c->slots[i].id1; i = (i + 1) & mask) {
      const dict_slot *t = &c->slots[i];
      if (t->head != k.head || t->len != k.len || t->tag != k.tag)
        continue;
      if (len <= 8)
        return t->id1 - 1;
      const fr__str *e = &c->dict[t->id1 - 1];
      if (e->len == len && tail_equal(e->ptr + 8, s + 8, len - 8))
        return t->id1 - 1;
    }
  }
  if (c->ndict >= UINT32_MAX - 1)
    return UINT32_MAX;
  if (c->ndict == c->dict_cap) {
    size_t cap = c->dict_cap ? c->dict_cap * 2 : 256;
    fr__str *p = realloc(c->dict, cap * sizeof *p);
    if (!p)
      return UINT32_MAX;
    c->dict = p;
    c->dict_cap = cap;
  }
  char *copy = fr__arena_strdup(&d->text, s, len);
  if (!copy)
    return UINT32_MAX;
  uint32_t id = (uint32_t)c->ndict++;
  c->dict[id] = (fr__str){copy, (uint32_t)len};
  if (c->interned) {
    if (2 * c->ndict > c->nslots) { /* keep it at most half full */
      if (index_grow(c)) {
        c->ndict--;
        return UINT32_MAX;
      }
    } else {
      c->slots[i] = k;
      c->slots[i].id1 = id + 1;
    }
  }
  return id;
}

static void note_bad(fr_dataset *d, size_t line, const char *msg) {
  if (d->nbad < FR__BAD_EXAMPLES) {
    d->bad_msgs[d->nbad] = strdup(msg);
    /* The parser's message quotes the cell, which may be a card number in
     * the wrong column: kept (and reported by validate) masked. */
    if (d->bad_msgs[d->nbad])
      fr_mask_card_numbers(d->bad_msgs[d->nbad]);
    d->bad_lines[d->nbad] = line;
    if (d->bad_msgs[d->nbad])
      d->nbad++;
  }
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

static void trim(const char **s, size_t *len) {
  while (*len > 0 && (**s == ' ' || **s == '\t')) {
    (*s)++;
    (*len)--;
  }
  while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
    (*len)--;
}

/* Maps the header's fields to schema columns. */
static int map_header(fr_dataset *d, const fr_read_options *opt, char **f,
                      size_t *lens, size_t n, size_t line, fr_error *err) {
  const fr_schema *s = d->schema;
  int allow_extra = opt->allow_extra_columns || fr__schema_extra_ignore(s);
  for (size_t i = 0; i < n; i++) {
    const char *name = f[i];
    size_t len = lens[i];
    trim(&name, &len);
    int col = -1;
    for (size_t k = 0; k < d->ncols; k++) {
      const char *cn = fr_schema_column(s, k)->name;
      if (strlen(cn) == len && memcmp(cn, name, len) == 0) {
        col = (int)k;
        break;
      }
    }
    if (col < 0) {
      if (allow_extra)
        continue;
      return fr_error_set(err, FR_ESCHEMA,
                          "%s:%zu:%zu: column '%.*s' is not in schema '%s' "
                          "(declare it, with role ignore if it is not used, or "
                          "set extra_columns: ignore)",
                          d->path, line, i + 1, (int)(len > 80 ? 80 : len),
                          name, fr_schema_name(s));
    }
    column *c = &d->cols[col];
    if (c->present)
      return fr_error_set(err, FR_ESCHEMA,
                          "%s:%zu:%zu: column '%s' appears twice in the header "
                          "(fields %zu and %zu)",
                          d->path, line, i + 1, fr_schema_column(s, (size_t)col)->name,
                          c->field + 1, i + 1);
    c->present = 1;
    c->field = i;
  }
  for (size_t k = 0; k < d->ncols; k++) {
    const fr_column_info *ci = fr_schema_column(s, k);
    if (!d->cols[k].present && ci->required &&
        !(ci->role == FR_ROLE_LABEL && opt->label_optional))
      return fr_error_set(err, FR_ESCHEMA,
                          "%s:%zu: missing column '%s' required by schema '%s'",
                          d->path, line, ci->name, fr_schema_name(s));
    d->cols[k].stored = d->cols[k].present && ci->role != FR_ROLE_IGNORE;
    d->cols[k].interned = ci->type == FR_COL_STRING && ci->role != FR_ROLE_ID &&
                          ci->role != FR_ROLE_EVENT_TIME;
  }
  return 0;
}

fr_dataset *fr_dataset_read_csv(const fr_schema *s, const char *path,
                                const fr_read_options *opt, fr_error *err) {
  static const fr_read_options defaults = {0};
  if (!opt)
    opt = &defaults;
  fr_dataset *d = calloc(1, sizeof *d);
  if (!d) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&d->order_lock, NULL);
  d->schema = s;
  d->ncols = fr_schema_ncols(s);
  d->path = strdup(path);
  d->cols = calloc(d->ncols ? d->ncols : 1, sizeof *d->cols);
  fr_field *cells = calloc(d->ncols ? d->ncols : 1, sizeof *cells);
  uint64_t *hashes = calloc(d->ncols ? d->ncols : 1, sizeof *hashes);
  fr_csv *csv = NULL;
  int rc = 0;
  if (!d->path || !d->cols || !cells || !hashes) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  csv = fr_csv_open(path, err);
  if (!csv) {
    rc = err ? err->code : FR_EIO;
    goto done;
  }
  char **f;
  size_t *lens, n;
  rc = fr_csv_next(csv, &f, &lens, &n, err);
  if (rc < 0)
    goto done;
  if (rc == 0) {
    rc = fr_error_set(err, FR_EPARSE, "%s: empty file (no header line)", path);
    goto done;
  }
  size_t nheader = n;
  if ((rc = map_header(d, opt, f, lens, n, fr_csv_line(csv), err)))
    goto done;
  int et_col = fr_schema_role_column(s, FR_ROLE_EVENT_TIME);
  int label_col = fr_schema_role_column(s, FR_ROLE_LABEL);
  double prev_time = NAN;
  char msg[1024];
  for (;;) {
    if (opt->max_rows && d->rows >= opt->max_rows)
      break;
    rc = fr_csv_next(csv, &f, &lens, &n, err);
    if (rc < 0)
      goto done;
    if (rc == 0)
      break;
    rc = 0;
    size_t line = fr_csv_line(csv);
    int bad = 0;
    if (n != nheader) {
      snprintf(msg, sizeof msg,
               "%s:%zu: row has %zu field%s, the header has %zu", path, line,
               n, n == 1 ? "" : "s", nheader);
      bad = 1;
    }
    for (size_t k = 0; k < d->ncols && !bad; k++) {
      column *c = &d->cols[k];
      if (!c->stored) {
        cells[k] = (fr_field){.num = NAN};
        continue;
      }
      fr_error e;
      /* The event time gets the previous row's as a hint: a naive local
       * time repeated by a fall-back night is read as the later instant
       * when the earlier one would go back in time (fr_tz_local_to_utc). */
      if (fr_schema_parse_cell_hint(s, k, f[c->field], lens[c->field],
                                    (int)k == et_col ? prev_time : NAN,
                                    &cells[k], &e) != 0) {
        if ((int)k == label_col && opt->label_optional) {
          /* Scoring does not use the label: a cell that is no label
           * ('abc', 7) is a missing one, as the server's /v1/score
           * ignores it, not a bad row. */
          cells[k] = (fr_field){.num = NAN};
          continue;
        }
        snprintf(msg, sizeof msg, "%s:%zu:%zu: %s", path, line, c->field + 1,
                 e.msg);
        bad = 1;
      } else if ((int)k == et_col && !cells[k].present) {
        snprintf(msg, sizeof msg, "%s:%zu:%zu: column '%s': missing event time",
                 path, line, c->field + 1, fr_schema_column(s, k)->name);
        bad = 1;
      } else if (c->interned && cells[k].present && c->slots) {
        /* Start loading the index slot now: the lookups of a row's
         * cells then overlap their cache misses. */
        hashes[k] = fr__text_hash(cells[k].str, cells[k].len);
        __builtin_prefetch(&c->slots[hashes[k] & (c->nslots - 1)]);
      }
    }
    if (bad) {
      if (opt->on_bad_row == FR_BAD_ROW_SKIP) {
        /* Capacity doubles at each power of two (the array holds
         * d->skipped entries). */
        if ((d->skipped & (d->skipped - 1)) == 0) {
          size_t *p = realloc(d->skipped_at,
                              (d->skipped ? 2 * d->skipped : 1) * sizeof *p);
          if (!p) {
            rc = fr_error_set(err, FR_ENOMEM, "%s: out of memory at line %zu",
                              path, line);
            goto done;
          }
          d->skipped_at = p;
        }
        d->skipped_at[d->skipped] = d->rows + d->skipped + 1;
        d->skipped++;
        note_bad(d, line, msg);
        continue;
      }
      rc = fr_error_set(err, FR_EPARSE, "%s", msg);
      goto done;
    }
    if (reserve_rows(d, d->rows + 1)) {
      rc = fr_error_set(err, FR_ENOMEM, "%s: out of memory at line %zu", path,
                        line);
      goto done;
    }
    size_t r = d->rows;
    for (size_t k = 0; k < d->ncols; k++) {
      column *c = &d->cols[k];
      if (!c->stored)
        continue;
      if (c->num) {
        c->num[r] = cells[k].num;
      } else if (!cells[k].present) {
        c->ids[r] = FR__NO_STRING;
      } else {
        uint64_t h = c->interned && !c->slots
                         ? fr__text_hash(cells[k].str, cells[k].len)
                         : hashes[k];
        uint32_t id = intern(d, c, cells[k].str, cells[k].len, h);
        if (id == UINT32_MAX) {
          rc = fr_error_set(err, FR_ENOMEM, "%s: out of memory at line %zu",
                            path, line);
          goto done;
        }
        c->ids[r] = id;
      }
    }
    d->label[r] = label_col >= 0 && cells[label_col].present
                      ? (int8_t)(cells[label_col].num != 0.0)
                      : (int8_t)-1;
    if (et_col >= 0)
      d->event_time[r] = prev_time = cells[et_col].num;
    d->line[r] = line;
    d->rows++;
  }
  rc = 0;
done:
  fr_csv_close(csv);
  free(cells);
  free(hashes);
  if (rc) {
    if (err && err->code == 0)
      fr_error_set(err, rc, "%s: %s", path, fr_strerror(rc));
    fr_dataset_free(d);
    return NULL;
  }
  return d;
}

/* ------------------------------------------------------------------------
 * Access
 * ------------------------------------------------------------------------ */

const fr_schema *fr_dataset_schema(const fr_dataset *d) { return d->schema; }
size_t fr_dataset_rows(const fr_dataset *d) { return d->rows; }
size_t fr_dataset_skipped(const fr_dataset *d) { return d->skipped; }

size_t fr_dataset_row_number(const fr_dataset *d, size_t row) {
  /* k = the skipped rows before kept row `row`: skipped_at[j] - j is
   * non-decreasing (the j-th skip came after row skipped_at[j] - j - 1 kept
   * ones), and skip j precedes the row exactly when skipped_at[j] - j <=
   * row + 1.  Binary search for the count of such j. */
  size_t lo = 0, hi = d->skipped;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->skipped_at[mid] - mid <= row + 1)
      lo = mid + 1;
    else
      hi = mid;
  }
  return row + 1 + lo;
}
const char *fr_dataset_path(const fr_dataset *d) { return d->path; }

double fr_dataset_number(const fr_dataset *d, size_t col, size_t row) {
  if (col >= d->ncols || row >= d->rows || !d->cols[col].num)
    return NAN;
  return d->cols[col].num[row];
}

const char *fr_dataset_string(const fr_dataset *d, size_t col, size_t row,
                              size_t *len) {
  if (len)
    *len = 0;
  if (col >= d->ncols || row >= d->rows || !d->cols[col].ids)
    return NULL;
  uint32_t id = d->cols[col].ids[row];
  if (id == FR__NO_STRING)
    return NULL;
  if (len)
    *len = d->cols[col].dict[id].len;
  return d->cols[col].dict[id].ptr;
}

double fr_dataset_event_time(const fr_dataset *d, size_t row) {
  return d->event_time && row < d->rows ? d->event_time[row] : NAN;
}

int fr_dataset_label(const fr_dataset *d, size_t row) {
  return row < d->rows ? d->label[row] : -1;
}

size_t fr_dataset_line(const fr_dataset *d, size_t row) {
  return row < d->rows ? d->line[row] : 0;
}

/* Stable merge sort of row indexes by event time (ties keep file order). */
static void merge_sort(size_t *a, size_t *tmp, size_t n, const double *t) {
  if (n < 2)
    return;
  if (n <= 16) { /* insertion sort: stable */
    for (size_t i = 1; i < n; i++) {
      size_t x = a[i], j = i;
      while (j > 0 && t[a[j - 1]] > t[x]) {
        a[j] = a[j - 1];
        j--;
      }
      a[j] = x;
    }
    return;
  }
  size_t h = n / 2;
  merge_sort(a, tmp, h, t);
  merge_sort(a + h, tmp, n - h, t);
  if (t[a[h - 1]] <= t[a[h]])
    return;
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n)
    tmp[k++] = t[a[j]] < t[a[i]] ? a[j++] : a[i++];
  while (i < h)
    tmp[k++] = a[i++];
  while (j < n)
    tmp[k++] = a[j++];
  memcpy(a, tmp, n * sizeof *a);
}

const size_t *fr_dataset_time_order(const fr_dataset *d) {
  fr_dataset *m = (fr_dataset *)d; /* the cache is logically const */
  pthread_mutex_lock(&m->order_lock);
  if (!m->order) {
    size_t *o = malloc((d->rows ? d->rows : 1) * sizeof *o);
    if (o) {
      for (size_t i = 0; i < d->rows; i++)
        o[i] = i;
      if (d->event_time) {
        size_t *tmp = malloc((d->rows ? d->rows : 1) * sizeof *tmp);
        if (tmp) {
          merge_sort(o, tmp, d->rows, d->event_time);
          free(tmp);
          m->order = o;
        } else {
          free(o);
        }
      } else {
        m->order = o;
      }
    }
  }
  pthread_mutex_unlock(&m->order_lock);
  return m->order;
}

void fr_dataset_txn(const fr_dataset *d, size_t row, fr_field *fields,
                    fr_txn *out) {
  for (size_t k = 0; k < d->ncols; k++) {
    const column *c = &d->cols[k];
    fr_field *f = &fields[k];
    *f = (fr_field){.num = NAN};
    if (row >= d->rows || !c->stored)
      continue;
    if (c->num) {
      f->num = c->num[row];
      f->present = !isnan(f->num);
    } else {
      uint32_t id = c->ids[row];
      if (id != FR__NO_STRING) {
        f->str = c->dict[id].ptr;
        f->len = c->dict[id].len;
        f->present = 1;
      }
    }
  }
  out->event_time = fr_dataset_event_time(d, row);
  out->fields = fields;
  out->nfields = d->ncols;
  out->line = fr_dataset_line(d, row);
}

/* ------------------------------------------------------------------------
 * Internals for validate.c and drift.c
 * ------------------------------------------------------------------------ */

const fr__str *fr__dataset_dict(const fr_dataset *d, size_t col, size_t *n) {
  if (col >= d->ncols || !d->cols[col].ids) {
    *n = 0;
    return NULL;
  }
  *n = d->cols[col].ndict;
  return d->cols[col].dict;
}
const uint32_t *fr__dataset_string_ids(const fr_dataset *d, size_t col) {
  return col < d->ncols ? d->cols[col].ids : NULL;
}
const double *fr__dataset_numbers(const fr_dataset *d, size_t col) {
  return col < d->ncols ? d->cols[col].num : NULL;
}
int fr__dataset_has_column(const fr_dataset *d, size_t col) {
  return col < d->ncols && d->cols[col].present;
}
size_t fr__dataset_field_of(const fr_dataset *d, size_t col) {
  return col < d->ncols && d->cols[col].present ? d->cols[col].field + 1 : 0;
}
const char *fr_dataset_first_skipped(const fr_dataset *d, size_t *line) {
  if (line)
    *line = d && d->nbad ? d->bad_lines[0] : 0;
  return d && d->nbad ? d->bad_msgs[0] : NULL;
}

void fr_dataset_read_summary(const fr_dataset *d, fr_read_summary *out) {
  memset(out, 0, sizeof *out);
  if (!d)
    return;
  out->skipped = d->skipped;
  const char *why = fr_dataset_first_skipped(d, &out->first_line);
  if (why)
    snprintf(out->first_reason, sizeof out->first_reason, "%s", why);
}

size_t fr__dataset_bad_examples(const fr_dataset *d, const char *const **msgs,
                                const size_t **lines) {
  *msgs = (const char *const *)d->bad_msgs;
  *lines = d->bad_lines;
  return d->nbad;
}
