/*
 * data_internal.h - what the files of the data module share and nobody else
 * needs: the schema's data-set level checks, the data set's string
 * dictionaries and bad-row examples (read by validate.c and drift.c), and a
 * small chunked arena for interned text.
 */
#ifndef FRAUD_DATA_INTERNAL_H
#define FRAUD_DATA_INTERNAL_H

#include "fraud/data.h"

#include <stdint.h>

/* Data-set level checks from the schema's `checks:` block (NaN = unset). */
typedef struct fr__schema_checks {
  double rows_min, rows_max;
  double label_rate_min, label_rate_max;
} fr__schema_checks;

const fr__schema_checks *fr__schema_checks_of(const fr_schema *s);
/* 1 when the schema says `extra_columns: ignore`. */
int fr__schema_extra_ignore(const fr_schema *s);
/* File the schema came from (or the origin given to load_string). */
const char *fr__schema_path(const fr_schema *s);

/* Text arena: blocks that never move, so interned strings keep their
 * address for the life of the data set. */
typedef struct fr__arena_block fr__arena_block;
typedef struct fr__arena {
  fr__arena_block *head;
  size_t used, cap; /* of the head block */
} fr__arena;
/* Copies s[0..len) plus a NUL; NULL on ENOMEM. */
char *fr__arena_strdup(fr__arena *a, const char *s, size_t len);
void fr__arena_free(fr__arena *a);

/* The i-th distinct value of a STRING column's dictionary. */
typedef struct fr__str {
  const char *ptr;
  uint32_t len;
} fr__str;

/* Missing STRING cell in the per-row id arrays. */
#define FR__NO_STRING UINT32_MAX

/* Dictionary of a STRING column: `n` distinct values (columns with role ID
 * or EVENT_TIME are not interned: there every row adds an entry). */
const fr__str *fr__dataset_dict(const fr_dataset *d, size_t col, size_t *n);
/* Per-row dictionary ids of a STRING column (FR__NO_STRING = missing), or
 * NULL for NUMBER columns and columns absent from the file. */
const uint32_t *fr__dataset_string_ids(const fr_dataset *d, size_t col);
/* Per-row values of a NUMBER column (NaN = missing), or NULL. */
const double *fr__dataset_numbers(const fr_dataset *d, size_t col);
/* 1 when column col was present in the file's header. */
int fr__dataset_has_column(const fr_dataset *d, size_t col);
/* 1-based field number of schema column col in the file (0 if absent). */
size_t fr__dataset_field_of(const fr_dataset *d, size_t col);

/* Hash of a cell's text in the interning index (dataset.c), exposed so
 * that tests can build texts whose slots collide. */
uint64_t fr__text_hash(const char *s, size_t len);

/* The first bad rows met while reading (skipped ones), for reports. */
#define FR__BAD_EXAMPLES 5
size_t fr__dataset_bad_examples(const fr_dataset *d, const char *const **msgs,
                                const size_t **lines);

#endif
