/*
 * encoders.c - fitted categorical vocabularies: category text -> position,
 * with the training count and positive count of each category, from which
 * integer codes, one-hot columns, frequency encoding and smoothed target
 * encoding are derived.  Fitted on the training slice only and stored in the
 * model bundle, so later data and live traffic see exactly the same mapping.
 *
 * Order of codes: descending training count, ties by byte order of the text,
 * so the vocabulary does not depend on file order.
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "data/data_internal.h"
#include "features/internal.h"

struct fr__vocab_entry {
  char *text;
  size_t pos;
  UT_hash_handle hh;
};

long fr__encoder_find(const fr__encoder *enc, const char *text, size_t len) {
  if (!text)
    return -1;
  fr__vocab_entry *e = NULL;
  HASH_FIND(hh, enc->index, text, len, e);
  return e ? (long)e->pos : -1;
}

int fr__encoder_add(fr__encoder *enc, const char *text, double count,
                    double pos) {
  size_t n = enc->n + 1;
  char **v = realloc(enc->values, n * sizeof *v);
  if (!v)
    return FR_ENOMEM;
  enc->values = v;
  double *c = realloc(enc->count, n * sizeof *c);
  if (!c)
    return FR_ENOMEM;
  enc->count = c;
  double *p = realloc(enc->pos, n * sizeof *p);
  if (!p)
    return FR_ENOMEM;
  enc->pos = p;
  fr__vocab_entry *e = calloc(1, sizeof *e);
  char *t = strdup(text);
  if (!e || !t) {
    free(e);
    free(t);
    return FR_ENOMEM;
  }
  e->text = t;
  e->pos = enc->n;
  v[enc->n] = t;
  c[enc->n] = count;
  p[enc->n] = pos;
  HASH_ADD_KEYPTR(hh, enc->index, e->text, strlen(e->text), e);
  enc->n = n;
  return 0;
}

void fr__encoder_free(fr__encoder *enc) {
  fr__vocab_entry *e, *tmp;
  HASH_ITER(hh, enc->index, e, tmp) {
    HASH_DEL(enc->index, e);
    free(e);
  }
  for (size_t i = 0; i < enc->n; i++)
    free(enc->values[i]);
  free(enc->values);
  free(enc->count);
  free(enc->pos);
  memset(enc, 0, sizeof *enc);
}

typedef struct tally {
  const char *text;
  size_t len;
  double count, pos;
  UT_hash_handle hh;
} tally;

static int tally_cmp(const void *a, const void *b) {
  const tally *x = *(const tally *const *)a, *y = *(const tally *const *)b;
  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  size_t m = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->text, y->text, m);
  if (c)
    return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

int fr__encoder_fit(fr__encoder *enc, const fr_dataset *d, const size_t *rows,
                    size_t n, int min_count, int max_categories, fr_error *err) {
  int col = enc->column;
  tally *all = NULL;
  size_t used = 0;
  double total = 0, total_pos = 0;
  /* An interned column (data_internal.h) already numbers its distinct texts:
   * tally by dictionary id, no hashing per row.  The same additions happen
   * in the same order, so the tallies are the same as through the hash. */
  const fr_column_info *ci =
      fr_schema_column(fr_dataset_schema(d), (size_t)col);
  const uint32_t *ids = ci->type == FR_COL_STRING && ci->role != FR_ROLE_ID &&
                                ci->role != FR_ROLE_EVENT_TIME
                            ? fr__dataset_string_ids(d, (size_t)col)
                            : NULL;
  size_t nd = 0;
  const fr__str *dict = ids ? fr__dataset_dict(d, (size_t)col, &nd) : NULL;
  size_t npool = dict && nd < n ? nd : n; /* at most one tally per text */
  tally *pool = calloc(npool ? npool : 1, sizeof *pool);
  tally **by_id = dict ? calloc(nd ? nd : 1, sizeof *by_id) : NULL;
  if (!pool || (dict && !by_id)) {
    free(pool);
    free(by_id);
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  }
  for (size_t i = 0; by_id && i < n; i++) {
    uint32_t id = ids[rows[i]];
    if (id == FR__NO_STRING)
      continue;
    int y = fr_dataset_label(d, rows[i]);
    tally *t = by_id[id];
    if (!t) {
      t = by_id[id] = &pool[used++];
      t->text = dict[id].ptr;
      t->len = dict[id].len;
    }
    t->count += 1;
    t->pos += y == 1;
    total += 1;
    total_pos += y == 1;
  }
  free(by_id);
  for (size_t i = 0; !dict && i < n; i++) {
    size_t len;
    const char *s = fr_dataset_string(d, (size_t)col, rows[i], &len);
    if (!s)
      continue;
    int y = fr_dataset_label(d, rows[i]);
    tally *t = NULL;
    HASH_FIND(hh, all, s, len, t);
    if (!t) {
      t = &pool[used++];
      t->text = s;
      t->len = len;
      HASH_ADD_KEYPTR(hh, all, t->text, t->len, t);
    }
    t->count += 1;
    t->pos += y == 1;
    total += 1;
    total_pos += y == 1;
  }
  tally **sorted = malloc((used ? used : 1) * sizeof *sorted);
  if (!sorted) {
    HASH_CLEAR(hh, all);
    free(pool);
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < used; i++)
    sorted[i] = &pool[i];
  qsort(sorted, used, sizeof *sorted, tally_cmp);
  fr__encoder_free(enc);
  enc->column = col;
  enc->total = total;
  enc->total_pos = total_pos;
  int rc = 0;
  for (size_t i = 0; i < used && !rc; i++) {
    if (sorted[i]->count < min_count)
      break;
    if (max_categories > 0 && enc->n >= (size_t)max_categories)
      break;
    char *text = strndup(sorted[i]->text, sorted[i]->len);
    if (!text) {
      rc = FR_ENOMEM;
      break;
    }
    rc = fr__encoder_add(enc, text, sorted[i]->count, sorted[i]->pos);
    free(text);
  }
  HASH_CLEAR(hh, all);
  free(sorted);
  free(pool);
  if (rc)
    return fr_error_set(err, rc, "out of memory fitting encoder");
  return 0;
}
