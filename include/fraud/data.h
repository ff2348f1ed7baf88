/*
 * fraud/data.h - raw transactions in: schemas, the CSV reader (plain or gzip),
 * the columnar raw data set, single-transaction views, and the feature table
 * that the pipeline hands to the trainer.
 *
 * Shapes and units: event times are seconds since the Unix epoch, UTC
 * (double); money is in the currency's major unit; feature matrices are
 * row-major float32 with NaN for a missing value.
 */
#ifndef FRAUD_DATA_H
#define FRAUD_DATA_H

#include "fraud/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Schema: raw columns and their roles (docs/schema.md has the YAML format).
 * ------------------------------------------------------------------------ */

/* Role of a raw column.  Exactly one column may have each of ID, EVENT_TIME,
 * AMOUNT and LABEL; any number may be ENTITY, NUMERIC, CATEGORICAL, LATITUDE,
 * LONGITUDE (lat/lon columns are paired by their `point` name) or IGNORE. */
typedef enum fr_role {
  FR_ROLE_IGNORE = 0,
  FR_ROLE_ID,
  FR_ROLE_EVENT_TIME,
  FR_ROLE_ENTITY,
  FR_ROLE_AMOUNT,
  FR_ROLE_NUMERIC,
  FR_ROLE_CATEGORICAL,
  FR_ROLE_LATITUDE,
  FR_ROLE_LONGITUDE,
  FR_ROLE_LABEL
} fr_role;

/* How a cell is stored: NUMBER cells are parsed with fr_parse_double (empty =
 * missing = NaN, never 0); STRING cells keep their text (empty = missing). */
typedef enum fr_coltype { FR_COL_NUMBER = 0, FR_COL_STRING = 1 } fr_coltype;

/* Optional per-column data-quality checks (fraud validate). NaN = unset. */
typedef struct fr_column_checks {
  double min, max;        /* allowed numeric range (inclusive) */
  double max_null_rate;   /* 0..1 */
  int unique;             /* values must be unique (transaction ids) */
  char **allowed;         /* NULL-terminated list of allowed strings, or NULL */
} fr_column_checks;

/* One raw column as the schema declares it.  Strings are owned by the schema
 * and valid until fr_schema_free. */
typedef struct fr_column_info {
  const char *name;       /* header name in the CSV */
  fr_role role;
  fr_coltype type;
  const char *entity;     /* ENTITY: entity name ("card", "merchant") */
  const char *point;      /* LATITUDE/LONGITUDE: geo point name */
  const char *description;
  int required;           /* 1 (default): missing header is an error */
  fr_column_checks checks;
} fr_column_info;

typedef struct fr_schema fr_schema;

/* Loads a schema by shipped name ("ulb", "paysim", "sparkov", "synthetic") or
 * by path to a YAML file.  Shipped names are looked up in $FRAUD_SCHEMA_DIR,
 * then <exe dir>/../share/fraud/schemas, then the source tree's schemas/.
 * Errors: FR_ENOTFOUND (unknown name, listing the shipped ones), FR_EPARSE /
 * FR_ESCHEMA naming "file:line: ..." (unknown role, duplicate column, two
 * event-time columns, bad time format...).  Free with fr_schema_free. */
FR_EXPORT fr_schema *fr_schema_load(const char *name_or_path, fr_error *err);

/* As fr_schema_load from YAML text; `origin` names it in messages. */
FR_EXPORT fr_schema *fr_schema_load_string(const char *yaml, size_t len,
                                           const char *origin, fr_error *err);
FR_EXPORT void fr_schema_free(fr_schema *s);

FR_EXPORT const char *fr_schema_name(const fr_schema *s);
/* The YAML text the schema was loaded from (copied into model bundles). */
FR_EXPORT const char *fr_schema_source(const fr_schema *s, size_t *len);
/* Path of the default feature spec declared by the schema (`features:` key,
 * resolved relative to the schema file), or NULL. */
FR_EXPORT const char *fr_schema_default_spec(const fr_schema *s);

FR_EXPORT size_t fr_schema_ncols(const fr_schema *s);
FR_EXPORT const fr_column_info *fr_schema_column(const fr_schema *s, size_t i);
/* Index of the column named `name`, or -1. */
FR_EXPORT int fr_schema_find(const fr_schema *s, const char *name);
/* Index of the (single) column with role ID, EVENT_TIME, AMOUNT or LABEL, or
 * -1 when the schema has none. */
FR_EXPORT int fr_schema_role_column(const fr_schema *s, fr_role role);
FR_EXPORT const fr_time_format *fr_schema_time_format(const fr_schema *s);

/* Default plausible event-time range when the event-time column declares
 * no min/max: 1970-01-01T00:00:00Z .. 2100-01-01T00:00:00Z (epoch seconds). */
#define FR_SCHEMA_TIME_MIN 0.0
#define FR_SCHEMA_TIME_MAX 4102444800.0

/* The event-time range of the schema, inclusive, in epoch seconds: the
 * event-time column's `min`/`max` where declared, else FR_SCHEMA_TIME_MIN /
 * FR_SCHEMA_TIME_MAX.  fraud validate's "time_range" check reports rows
 * outside it; the server refuses such a transaction (400, nothing stored).
 * A schema without an event-time column gets the defaults. */
FR_EXPORT void fr_schema_time_range(const fr_schema *s, double *lo, double *hi);

/* Entities: named keys made of one or more columns.  Every ENTITY column
 * defines a single-column entity named by its `entity:` field; the schema's
 * `composite_entities:` block adds composite ones (card_merchant: [cc_num,
 * merchant]). */
FR_EXPORT size_t fr_schema_nentities(const fr_schema *s);
FR_EXPORT const char *fr_schema_entity_name(const fr_schema *s, size_t i);
/* Column indexes of entity i; *n receives their count. */
FR_EXPORT const int *fr_schema_entity_columns(const fr_schema *s, size_t i,
                                              size_t *n);
/* Index of the entity named `name`, or -1. */
FR_EXPORT int fr_schema_find_entity(const fr_schema *s, const char *name);

/* Parses one cell's text for column `col` into `out` exactly as the CSV
 * reader does (so a CSV row sent to the server as JSON strings scores exactly
 * as in the file).  Empty text = missing; for NUMBER columns blank text and
 * "NaN" are missing too, "inf" is an error.  LABEL cells must be 0 or 1.  For
 * the EVENT_TIME column `num` is the parsed event time in epoch seconds
 * (whatever the format) and `str` the text when the column is a STRING.
 * Errors: FR_EPARSE with err naming the column and the text (the caller
 * prefixes file:line or request); FR_ERANGE for an event time outside the
 * hard range FR_TIME_MIN_SECONDS .. FR_TIME_MAX_SECONDS (common.h). */
typedef struct fr_field {
  const char *str;  /* STRING columns: text, not owned; NULL for NUMBER */
  uint32_t len;
  uint8_t present;  /* 0 = missing */
  double num;       /* NUMBER columns: value, NaN when missing */
} fr_field;
FR_EXPORT int fr_schema_parse_cell(const fr_schema *s, size_t col,
                                   const char *text, size_t len, fr_field *out,
                                   fr_error *err);
/* As fr_schema_parse_cell; for an event time written as naive local time in
 * an IANA zone (schema `timezone: America/New_York`), a civil time that
 * occurs twice (the repeated hour of a fall-back night) resolves to the
 * earliest instant not before `hint`, else the first occurrence.  The CSV
 * reader passes the previous row's event time; NaN = no hint (the first
 * occurrence, which is what fr_schema_parse_cell and the server use). */
FR_EXPORT int fr_schema_parse_cell_hint(const fr_schema *s, size_t col,
                                        const char *text, size_t len,
                                        double hint, fr_field *out,
                                        fr_error *err);

/* ------------------------------------------------------------------------
 * One transaction, as the featurizer sees it both offline and online.
 * ------------------------------------------------------------------------ */

/* A view of one raw transaction: `fields[i]` is schema column i.  Nothing is
 * owned; the strings point into the data set or the request body. */
typedef struct fr_txn {
  double event_time;      /* epoch seconds (NaN if the schema has none) */
  const fr_field *fields; /* fr_schema_ncols(schema) entries */
  size_t nfields;
  size_t line;            /* source line (offline) or 0 */
} fr_txn;

/* ------------------------------------------------------------------------
 * CSV reading.
 * ------------------------------------------------------------------------ */

typedef enum fr_bad_row { FR_BAD_ROW_FAIL = 0, FR_BAD_ROW_SKIP = 1 } fr_bad_row;

typedef struct fr_read_options {
  fr_bad_row on_bad_row; /* FAIL (default): first bad row is an error */
  size_t max_rows;       /* 0 = no limit */
  int allow_extra_columns; /* 1: header columns not in the schema are ignored */
  int label_optional;      /* 1: the label column may be absent from the header
                              (every row's label is then -1), and a label cell
                              that does not parse ('abc', 7) is a missing
                              label (-1), not a bad row, as /v1/score ignores
                              it: for scoring new, unlabelled transactions
                              (predict, explain, features --model); training,
                              evaluation and validation leave it 0 and refuse
                              such a cell */
} fr_read_options;

/* A streaming CSV reader (RFC 4180 as real exports write it; libcsv): quoted
 * fields and headers, "" escapes, embedded newlines, CRLF or LF endings, a
 * last line without newline, UTF-8 BOM.  Reads .csv or .csv.gz (by content,
 * zlib).  Line numbers are 1-based physical lines (a record's first line). */
typedef struct fr_csv fr_csv;

FR_EXPORT fr_csv *fr_csv_open(const char *path, fr_error *err);
FR_EXPORT void fr_csv_close(fr_csv *c);
/* Reads the next record.  On success returns 1 and sets *fields to an array
 * of *n pointers to NUL-terminated cells (with *lens their lengths), valid
 * until the next call; returns 0 at end of file; negative FR_E* on a
 * malformed file (unterminated quote...) with err naming path:line.  A .gz
 * file whose gzip stream stops before its end (a cut download, `head -c`,
 * a writer that never finished) is FR_EFORMAT "PATH: truncated gzip stream
 * (unexpected end of file after N bytes of data)" (zlib's gzerror
 * Z_BUF_ERROR), returned as soon as the read meets the cut and again on
 * every later call; it is an error of the file, not of a row, so no
 * on_bad_row policy skips it.  A corrupt stream (bad CRC, bad data) is
 * FR_EIO "PATH: read failed: ...". */
FR_EXPORT int fr_csv_next(fr_csv *c, char ***fields, size_t **lens, size_t *n,
                          fr_error *err);
/* Line on which the last returned record started. */
FR_EXPORT size_t fr_csv_line(const fr_csv *c);
FR_EXPORT const char *fr_csv_path(const fr_csv *c);

/* ------------------------------------------------------------------------
 * Raw data set: every column of a CSV file parsed per the schema, columnar.
 * ------------------------------------------------------------------------ */

typedef struct fr_dataset fr_dataset;

/* Reads a whole CSV/CSV.gz file.  The header must name every required schema
 * column (in any order; the label column may be left out with
 * opt->label_optional); a header column the schema does not know is an
 * error unless allow_extra_columns.  Each cell is parsed with
 * fr_schema_parse_cell; the event time with the schema's time format (a
 * missing or unparseable event time is a bad row).  A bad row is an error
 * "path:line:column: column 'amt': cannot parse 'abc' as a number" (column is
 * the 1-based field number), or is skipped and counted with
 * FR_BAD_ROW_SKIP.  Errors: FR_EIO, FR_EPARSE, FR_ESCHEMA.  Free with
 * fr_dataset_free. */
FR_EXPORT fr_dataset *fr_dataset_read_csv(const fr_schema *s, const char *path,
                                          const fr_read_options *opt,
                                          fr_error *err);
FR_EXPORT void fr_dataset_free(fr_dataset *d);

FR_EXPORT const fr_schema *fr_dataset_schema(const fr_dataset *d);
FR_EXPORT size_t fr_dataset_rows(const fr_dataset *d);
/* Rows skipped as bad under FR_BAD_ROW_SKIP. */
FR_EXPORT size_t fr_dataset_skipped(const fr_dataset *d);
/* Why the first skipped row was skipped: the bad-row message
 * "path:line:column: column 'amt': cannot parse 'abc' as a number" (card
 * numbers in it masked, fr_mask_card_numbers), owned by d; *line (when
 * line is not NULL) gets its 1-based source line.  NULL (and *line 0) when
 * no row was skipped, d is NULL, or the message could not be stored (out
 * of memory).  Thread-safe (reads only). */
FR_EXPORT const char *fr_dataset_first_skipped(const fr_dataset *d,
                                               size_t *line);

/* What a read skipped under FR_BAD_ROW_SKIP, for a command's summary line
 * ("wrote N rows (M skipped, the first at line L: REASON)"), so a caller
 * that does not hold the data set (fr_predict_run, fr_explain_run) can
 * still report it. */
typedef struct fr_read_summary {
  size_t skipped;          /* rows skipped as bad (fr_dataset_skipped) */
  size_t first_line;       /* 1-based source line of the first, 0: none */
  char first_reason[512];  /* its message (fr_dataset_first_skipped,
                              truncated to fit), "" when none */
} fr_read_summary;

/* Fills *out from d (all zero / "" when d is NULL).  Thread-safe. */
FR_EXPORT void fr_dataset_read_summary(const fr_dataset *d,
                                       fr_read_summary *out);
FR_EXPORT const char *fr_dataset_path(const fr_dataset *d);

/* Cell accessors, row in file order (0-based).  IGNORE columns are not
 * stored (NaN / NULL); the event-time column's number is epoch seconds. */
FR_EXPORT double fr_dataset_number(const fr_dataset *d, size_t col, size_t row);
/* Text of a STRING cell, NULL when missing or when the column is a NUMBER
 * column (numbers are stored parsed only). */
FR_EXPORT const char *fr_dataset_string(const fr_dataset *d, size_t col,
                                        size_t row, size_t *len);
FR_EXPORT double fr_dataset_event_time(const fr_dataset *d, size_t row);
/* Label of a row: 1, 0, or -1 when the schema has no label or it is missing. */
FR_EXPORT int fr_dataset_label(const fr_dataset *d, size_t row);
/* Source line of a row (1-based physical line of the CSV). */
FR_EXPORT size_t fr_dataset_line(const fr_dataset *d, size_t row);
/* Data row number of a row: 1-based, the first record after the header is
 * 1, counting the rows that FR_BAD_ROW_SKIP dropped (so it differs from
 * row + 1 after a skipped row, and from fr_dataset_line when a quoted field
 * spans lines or blank lines are present).  It is the transaction id of
 * schemas without an id column (docs/schema.md).  O(log skipped). */
FR_EXPORT size_t fr_dataset_row_number(const fr_dataset *d, size_t row);

/* Row indexes sorted by (event time, file order): a stable sort, computed
 * once and cached.  Array of fr_dataset_rows(d) entries owned by d. */
FR_EXPORT const size_t *fr_dataset_time_order(const fr_dataset *d);

/* Fills a view of row `row`.  `fields` must hold fr_schema_ncols entries;
 * they point into d and stay valid until fr_dataset_free. */
FR_EXPORT void fr_dataset_txn(const fr_dataset *d, size_t row, fr_field *fields,
                              fr_txn *out);

/* ------------------------------------------------------------------------
 * Validation: the schema's data-quality checks run over a file (validate.c).
 * ------------------------------------------------------------------------ */

#define FR_CHECK_EXAMPLES 5

/* Outcome of one check.  Data-set checks ("rows", "label_rate", "parse")
 * have column == NULL; column checks are "min", "max", "allowed",
 * "null_rate", "unique" and "time_range" (event times inside the column's
 * min/max, or 1970-01-01..2100-01-01 when none is declared). */
typedef struct fr_check {
  const char *name;       /* check name, static */
  const char *column;     /* column name (owned by the schema) or NULL */
  int passed;             /* 1 = pass */
  size_t violations;      /* offending rows (bad rows for "parse") */
  double value;           /* measured value (rate, count, extreme), or NaN */
  double limit;           /* the bound it was compared with, or NaN */
  char detail[256];       /* one human sentence */
  size_t example_lines[FR_CHECK_EXAMPLES]; /* source lines of offenders */
  size_t nexamples;
} fr_check;

typedef struct fr_validation fr_validation;

/* Reads `path` with schema `s` (bad rows are always skipped and counted, so
 * the report covers the whole file) and runs every check the schema
 * declares.  With on_bad_row FAIL any bad row fails the "parse" check; with
 * SKIP bad rows are reported but the check passes.  Returns NULL only when
 * the file cannot be read at all (FR_EIO, a header that does not match the
 * schema: FR_ESCHEMA, empty file: FR_EPARSE), with err set.  Free with
 * fr_validation_free. */
FR_EXPORT fr_validation *fr_validate_csv(const fr_schema *s, const char *path,
                                         fr_bad_row on_bad_row, fr_error *err);
/* Runs the column and data-set checks over an already read data set (its
 * skipped rows count as bad rows under `on_bad_row`).  `d` must outlive the
 * result. */
FR_EXPORT fr_validation *fr_validate_dataset(const fr_dataset *d,
                                             fr_bad_row on_bad_row,
                                             fr_error *err);
FR_EXPORT void fr_validation_free(fr_validation *v);
/* 1 when every check passed. */
FR_EXPORT int fr_validation_passed(const fr_validation *v);
FR_EXPORT size_t fr_validation_count(const fr_validation *v);
FR_EXPORT const fr_check *fr_validation_check(const fr_validation *v,
                                              size_t i);
/* Rows read (good) and bad rows seen. */
FR_EXPORT size_t fr_validation_rows(const fr_validation *v);
FR_EXPORT size_t fr_validation_bad_rows(const fr_validation *v);
/* Writes the report, human-readable (one line per check, with example
 * lines and the first bad-row messages) or as one JSON object (jansson):
 * {"path","schema","rows","bad_rows","passed","checks":[{"check","column",
 * "passed","violations","value","limit","detail","example_lines"}],
 * "bad_row_examples":[{"line","message"}]}.  Returns 0 or FR_EIO. */
FR_EXPORT int fr_validation_write_text(const fr_validation *v, FILE *f);
FR_EXPORT int fr_validation_write_json(const fr_validation *v, FILE *f);

/* ------------------------------------------------------------------------
 * Synthetic transactions (generate.c): `fraud generate`, in the format of
 * schemas/synthetic.yaml.  docs/data.md describes the world and the fraud
 * scenarios.
 * ------------------------------------------------------------------------ */

/* Fraud scenarios, in the order of fr_gen_config.scenario_weight. */
typedef enum fr_gen_scenario {
  FR_GEN_CARD_TESTING = 0,      /* bursts of tiny e-commerce amounts, new merchants */
  FR_GEN_STOLEN_CARD,           /* far from home, high-value categories, impossible travel */
  FR_GEN_ACCOUNT_TAKEOVER,      /* spending spike from a new device */
  FR_GEN_MERCHANT_COMPROMISE,   /* cards seen at one merchant, fraud on them days later */
  FR_GEN_NSCENARIOS
} fr_gen_scenario;

/* Name of a scenario as written in the fraud_scenario column. */
FR_EXPORT const char *fr_gen_scenario_name(fr_gen_scenario s);

typedef struct fr_gen_config {
  uint64_t rows;          /* transactions to write (exactly) */
  uint32_t cards;         /* cardholders' cards */
  uint32_t merchants;     /* merchants */
  uint32_t days;          /* span the legitimate traffic is calibrated to */
  double fraud_rate;      /* target share of rows made by fraud scenarios */
  uint64_t seed;          /* PRNG seed: same config and seed = same bytes */
  double start_time;      /* epoch seconds of the first day (00:00 UTC) */
  double noise_fraud_as_legit; /* share of fraud rows labelled 0 */
  double noise_legit_as_fraud; /* share of legitimate rows labelled 1 */
  double scenario_weight[FR_GEN_NSCENARIOS]; /* relative share of fraud rows */
} fr_gen_config;

/* Fills the defaults: 100,000 rows, 5,000 cards, 1,000 merchants, 30 days,
 * fraud rate 0.01, seed 1, start 2024-01-01T00:00:00Z, label noise 0.02 /
 * 0.0002, scenario weights 0.25 / 0.30 / 0.25 / 0.20. */
FR_EXPORT void fr_gen_config_default(fr_gen_config *c);

/* A streaming generator: memory is O(cards + merchants), independent of
 * rows; rows come out in event-time order. */
typedef struct fr_gen fr_gen;

/* Validates the configuration (FR_EINVAL naming the field: rows >= 1,
 * cards >= 10, merchants >= 20, days >= 1, 0 <= fraud_rate <= 0.5, noise
 * rates in [0, 0.5], weights >= 0 with a positive sum when fraud_rate > 0;
 * cards <= 9,999,999, merchants <= 999,999 as ids have 7 and 6 digits;
 * start_time >= FR_TIME_MIN_SECONDS and start_time + days * 86400 <=
 * FR_TIME_MAX_SECONDS, the event-time range the reader accepts)
 * and builds the world (cards, merchants).  Free with fr_gen_free. */
FR_EXPORT fr_gen *fr_gen_new(const fr_gen_config *c, fr_error *err);
FR_EXPORT void fr_gen_free(fr_gen *g);

/* Writes the next row as one CSV line (with '\n') into buf of cap bytes
 * (512 always suffices).  Returns the line length, 0 when all rows have been
 * written, FR_ELIMIT when cap is too small, or FR_ERANGE when the next event
 * time would pass FR_TIME_MAX_SECONDS (rows running past start + days). */
FR_EXPORT int fr_gen_next_line(fr_gen *g, char *buf, size_t cap);
/* The CSV header line of schemas/synthetic.yaml's columns, with '\n'. */
FR_EXPORT const char *fr_gen_header(void);

/* Writes a whole file: header and c->rows rows to `path` (gzip-compressed
 * when the name ends in ".gz"), or to stdout when path is NULL or "-".
 * The file is written in place (not atomically).  Errors: FR_EINVAL,
 * FR_EIO naming the path. */
FR_EXPORT int fr_generate_csv(const fr_gen_config *c, const char *path,
                              fr_error *err);

/* ------------------------------------------------------------------------
 * Drift: population stability index per column between a reference and a
 * current data set (drift.c).
 * ------------------------------------------------------------------------ */

/* Share used in place of an empty bin so the logarithm stays finite (the
 * usual practice; shares are not renormalised). */
#define FR_PSI_EPSILON 1e-4
/* Conventional reading of the PSI (N. Siddiqi, "Credit Risk Scorecards",
 * Wiley 2006): < 0.1 stable, 0.1-0.25 moderate shift, >= 0.25 significant. */
#define FR_PSI_MODERATE 0.1
#define FR_PSI_SIGNIFICANT 0.25

/* Population stability index of two distributions over the same n bins:
 * sum over bins of (cur_i - ref_i) * ln(cur_i / ref_i), shares of 0 replaced
 * by FR_PSI_EPSILON (Siddiqi 2006; B. Yurdakul, "Statistical properties of
 * population stability index", Western Michigan University, 2018).  Shares
 * are fractions of each set's rows (each array sums to 1). */
FR_EXPORT double fr_psi(const double *ref_share, const double *cur_share,
                        size_t n);

/* Bin of a non-missing value x among nedges ascending bin edges (e.g. the
 * reference deciles): the number of edges <= x, in [0, nedges].  So bin i
 * holds edges[i-1] <= x < edges[i]; a value equal to an edge goes up.  The
 * one binning rule of `fraud drift`, the bundle's drift reference and the
 * server's live PSI. */
FR_EXPORT size_t fr_psi_bin(const double *edges, size_t nedges, double x);

typedef struct fr_drift_column {
  const char *column;   /* owned by the schema */
  int categorical;      /* 1: bins are categories; 0: reference deciles */
  size_t bins;          /* bins compared (a "missing" bin included) */
  double psi;
  const char *level;    /* "stable", "moderate" or "significant" */
} fr_drift_column;

typedef struct fr_drift {
  size_t ref_rows, cur_rows;
  double ref_label_rate, cur_label_rate; /* NaN when there is no label */
  size_t ncols;
  fr_drift_column *cols;
  int significant;      /* some column has psi >= FR_PSI_SIGNIFICANT */
} fr_drift;

/* Compares every amount, numeric, latitude, longitude and categorical
 * column of two data sets read with the same schema.  Numbers are binned on
 * the reference's deciles (edges at the reference's values of rank
 * floor(k*n/10), k = 1..9, duplicates merged; a value equal to an edge goes
 * to the upper bin); categories are the union of both sets' values; missing
 * cells form their own bin.  Errors: FR_EINVAL (different schemas), FR_EDATA
 * (a set without rows).  Free with fr_drift_free. */
FR_EXPORT fr_drift *fr_drift_compute(const fr_dataset *ref,
                                     const fr_dataset *cur, fr_error *err);
FR_EXPORT void fr_drift_free(fr_drift *d);
/* Report forms: one line per column (human), or one JSON object
 * {"ref_rows","cur_rows","ref_label_rate","cur_label_rate",
 * "label_rate_shift","significant","columns":[{"column","kind","bins",
 * "psi","level"}]}.  Returns 0 or FR_EIO. */
FR_EXPORT int fr_drift_write_text(const fr_drift *d, FILE *f);
FR_EXPORT int fr_drift_write_json(const fr_drift *d, FILE *f);

/* ------------------------------------------------------------------------
 * Feature table: the hand-off between the featurizer and the trainer.
 * ------------------------------------------------------------------------ */

/* A feature matrix with its labels and provenance.  Rows are in the order
 * they were featurized (event-time order offline); `source_row[i]` is the
 * data-set row (file order) of table row i. */
typedef struct fr_table {
  size_t rows, cols;
  float *x;           /* rows x cols, row-major; NaN = missing */
  float *y;           /* rows labels 0/1, NaN when unknown */
  double *event_time; /* rows, epoch seconds */
  size_t *source_row; /* rows */
  char **names;       /* cols feature names */
} fr_table;

/* Allocates a table with zeroed storage and NULL names.  NULL on ENOMEM. */
FR_EXPORT fr_table *fr_table_new(size_t rows, size_t cols);
FR_EXPORT void fr_table_free(fr_table *t);
/* Sets column name i (copied). */
FR_EXPORT int fr_table_set_name(fr_table *t, size_t i, const char *name);

/* Writes the matrix as CSV: header of feature names then `label`, one line
 * per row, floats printed shortest-round-trip (fr_fmt_float), missing (and an
 * unknown label) as an empty cell.  A feature without a name is written as
 * "f<index>".  When `id_column` is not NULL a first column with that header
 * holds ids[i] (quoted when needed); such a file reads back with
 * fr_table_read_csv only if the ids are numbers (they become a feature).
 * Atomic (temporary file + rename); path "-" writes to standard output
 * instead.  Errors: FR_EIO. */
FR_EXPORT int fr_table_write_csv(const fr_table *t, const char *path,
                                 const char *id_column, const char *const *ids,
                                 fr_error *err);

/* Reads a feature matrix CSV (header of names, empty = NaN; a column named
 * `label` is taken as y, all others are features in file order).  event_time
 * is NaN and source_row[i] = i.  Errors (FR_EIO, FR_EPARSE) name
 * path:line:column.  Free with fr_table_free. */
FR_EXPORT fr_table *fr_table_read_csv(const char *path, fr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_DATA_H */
