/*
 * schema.c - a data set's schema: which raw CSV columns exist, what role each
 * plays (id, event time, entity key, amount, numeric, categorical, geo point,
 * label, ignored), how its cells are typed and checked, and how the event
 * time is written.  Schemas are YAML (docs/schema.md) read through the
 * fr_yaml tree so that every mistake is reported as "file:line:col: ...".
 *
 * The one function that turns cell text into a value, fr_schema_parse_cell,
 * lives here too: the offline CSV reader and the online server both call it,
 * so a transaction scores the same whichever way it arrives.
 */
#include "data_internal.h"

#include <dirent.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fr_schema {
  char *name;
  char *description;
  char *path;     /* file it was loaded from, or the origin */
  char *source;   /* YAML text */
  size_t source_len;
  char *features; /* resolved default feature spec path, or NULL */
  fr_column_info *cols;
  size_t ncols;
  fr_time_format tf;
  fr_tz *tz;      /* IANA zone of the event time (tf.zone), or NULL */
  int role_col[FR_ROLE_LABEL + 1];
  size_t nent;
  char **ent_names;
  int **ent_cols;
  size_t *ent_ncols;
  fr__schema_checks checks;
  int extra_ignore;
};

static const char *const role_names[] = {
    [FR_ROLE_IGNORE] = "ignore",           [FR_ROLE_ID] = "id",
    [FR_ROLE_EVENT_TIME] = "event_time",   [FR_ROLE_ENTITY] = "entity",
    [FR_ROLE_AMOUNT] = "amount",           [FR_ROLE_NUMERIC] = "numeric",
    [FR_ROLE_CATEGORICAL] = "categorical", [FR_ROLE_LATITUDE] = "latitude",
    [FR_ROLE_LONGITUDE] = "longitude",     [FR_ROLE_LABEL] = "label"};
#define NROLES (sizeof role_names / sizeof role_names[0])

/* ------------------------------------------------------------------------
 * Lifetime and accessors
 * ------------------------------------------------------------------------ */

static void free_column(fr_column_info *c) {
  free((char *)c->name);
  free((char *)c->entity);
  free((char *)c->point);
  free((char *)c->description);
  if (c->checks.allowed) {
    for (char **a = c->checks.allowed; *a; a++)
      free(*a);
    free(c->checks.allowed);
  }
}

void fr_schema_free(fr_schema *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->ncols; i++)
    free_column(&s->cols[i]);
  free(s->cols);
  for (size_t i = 0; i < s->nent; i++) {
    free(s->ent_names[i]);
    free(s->ent_cols[i]);
  }
  free(s->ent_names);
  free(s->ent_cols);
  free(s->ent_ncols);
  free(s->name);
  free(s->description);
  free(s->path);
  free(s->source);
  free(s->features);
  fr_tz_free(s->tz);
  free(s);
}

const char *fr_schema_name(const fr_schema *s) { return s->name; }
const char *fr_schema_source(const fr_schema *s, size_t *len) {
  if (len)
    *len = s->source_len;
  return s->source;
}
const char *fr_schema_default_spec(const fr_schema *s) { return s->features; }
size_t fr_schema_ncols(const fr_schema *s) { return s->ncols; }
const fr_column_info *fr_schema_column(const fr_schema *s, size_t i) {
  return i < s->ncols ? &s->cols[i] : NULL;
}
int fr_schema_find(const fr_schema *s, const char *name) {
  for (size_t i = 0; i < s->ncols; i++)
    if (strcmp(s->cols[i].name, name) == 0)
      return (int)i;
  return -1;
}
int fr_schema_role_column(const fr_schema *s, fr_role role) {
  if ((unsigned)role >= NROLES)
    return -1;
  return s->role_col[role];
}
void fr_schema_time_range(const fr_schema *s, double *lo, double *hi) {
  int col = s->role_col[FR_ROLE_EVENT_TIME];
  const fr_column_checks *k = col >= 0 ? &s->cols[col].checks : NULL;
  *lo = k && !isnan(k->min) ? k->min : FR_SCHEMA_TIME_MIN;
  *hi = k && !isnan(k->max) ? k->max : FR_SCHEMA_TIME_MAX;
}

const fr_time_format *fr_schema_time_format(const fr_schema *s) {
  return s->role_col[FR_ROLE_EVENT_TIME] >= 0 ? &s->tf : NULL;
}
size_t fr_schema_nentities(const fr_schema *s) { return s->nent; }
const char *fr_schema_entity_name(const fr_schema *s, size_t i) {
  return i < s->nent ? s->ent_names[i] : NULL;
}
const int *fr_schema_entity_columns(const fr_schema *s, size_t i, size_t *n) {
  if (i >= s->nent) {
    if (n)
      *n = 0;
    return NULL;
  }
  if (n)
    *n = s->ent_ncols[i];
  return s->ent_cols[i];
}
int fr_schema_find_entity(const fr_schema *s, const char *name) {
  for (size_t i = 0; i < s->nent; i++)
    if (strcmp(s->ent_names[i], name) == 0)
      return (int)i;
  return -1;
}

const fr__schema_checks *fr__schema_checks_of(const fr_schema *s) {
  return &s->checks;
}
int fr__schema_extra_ignore(const fr_schema *s) { return s->extra_ignore; }
const char *fr__schema_path(const fr_schema *s) { return s->path; }

/* ------------------------------------------------------------------------
 * Cell parsing
 * ------------------------------------------------------------------------ */

/* Quotes at most 60 bytes of a bad cell into buf for a message. */
static const char *quote_text(char *buf, size_t cap, const char *text,
                              size_t len) {
  size_t n = len > 60 ? 60 : len;
  snprintf(buf, cap, "%.*s%s", (int)n, text, len > 60 ? "..." : "");
  return buf;
}

static int all_blank(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (s[i] != ' ' && s[i] != '\t')
      return 0;
  return 1;
}

int fr_schema_parse_cell(const fr_schema *s, size_t col, const char *text,
                         size_t len, fr_field *out, fr_error *err) {
  return fr_schema_parse_cell_hint(s, col, text, len, NAN, out, err);
}

int fr_schema_parse_cell_hint(const fr_schema *s, size_t col, const char *text,
                              size_t len, double hint, fr_field *out,
                              fr_error *err) {
  char q[80];
  out->str = NULL;
  out->len = 0;
  out->present = 0;
  out->num = NAN;
  if (col >= s->ncols)
    return fr_error_set(err, FR_EINVAL, "no column %zu in schema '%s'", col,
                        s->name);
  const fr_column_info *c = &s->cols[col];
  if (!text)
    len = 0;
  if (c->role == FR_ROLE_EVENT_TIME) {
    if (c->type == FR_COL_STRING && len > 0) {
      out->str = text;
      out->len = (uint32_t)len;
    }
    if (len == 0 || all_blank(text, len))
      return 0;
    double t;
    int rc = fr_time_parse_hint(&s->tf, text, len, hint, &t);
    if (rc == FR_ERANGE)
      return fr_error_set(err, FR_ERANGE,
                          "column '%s': event time '%s' is outside the supported "
                          "range 1677-09-21T00:12:44Z .. 2262-04-11T23:47:16Z "
                          "(epoch seconds -9223372036 .. 9223372036)",
                          c->name, quote_text(q, sizeof q, text, len));
    if (rc != 0)
      return fr_error_set(err, FR_EPARSE,
                          "column '%s': cannot parse '%s' as an event time "
                          "(format %s)",
                          c->name, quote_text(q, sizeof q, text, len),
                          s->tf.kind == FR_TIME_STRFTIME ? s->tf.format
                          : s->tf.kind == FR_TIME_EPOCH_MILLIS ? "epoch_millis"
                          : s->tf.kind == FR_TIME_EPOCH_SECONDS
                              ? "epoch_seconds"
                          : s->tf.kind == FR_TIME_OFFSET_HOURS ? "offset_hours"
                                                               : "offset_seconds");
    out->present = 1;
    out->num = t;
    return 0;
  }
  if (c->type == FR_COL_STRING) {
    if (len == 0)
      return 0;
    out->str = text;
    out->len = (uint32_t)len;
    out->present = 1;
    return 0;
  }
  if (len == 0 || all_blank(text, len))
    return 0;
  double v;
  if (fr_parse_double(text, len, &v) != 0 || isinf(v))
    return fr_error_set(err, FR_EPARSE,
                        "column '%s': cannot parse '%s' as a number", c->name,
                        quote_text(q, sizeof q, text, len));
  if (isnan(v)) /* "NaN" as some exporters write a missing value */
    return 0;
  if (c->role == FR_ROLE_LABEL && v != 0.0 && v != 1.0)
    return fr_error_set(err, FR_EPARSE,
                        "column '%s': label must be 0 or 1, got '%s'", c->name,
                        quote_text(q, sizeof q, text, len));
  out->num = v;
  out->present = 1;
  return 0;
}

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

typedef struct loader {
  fr_yaml_doc *doc;
  fr_schema *s;
  fr_error *err;
  int *col_lines; /* line of each column's declaration */
} loader;


static int parse_role(loader *L, const fr_yaml_node *n, fr_role *out) {
  const char *r;
  int rc = fr_yaml_as_string(L->doc, n, "role", &r, L->err);
  if (rc)
    return rc;
  for (size_t i = 0; i < NROLES; i++)
    if (strcmp(role_names[i], r) == 0) {
      *out = (fr_role)i;
      return 0;
    }
  return fr_yaml_error(L->doc, n, L->err, FR_ESCHEMA,
                       "unknown role '%s' (expected one of: id, event_time, "
                       "entity, amount, numeric, categorical, latitude, "
                       "longitude, label, ignore)",
                       r);
}

/* Parses a fixed UTC offset "+05:30", "-0800", "+01" or "UTC"/"Z". */
static int parse_offset(const char *z, int32_t *out) {
  if (!strcmp(z, "UTC") || !strcmp(z, "utc") || !strcmp(z, "Z") ||
      !strcmp(z, "Etc/UTC") || !strcmp(z, "GMT")) {
    *out = 0;
    return 0;
  }
  if (z[0] != '+' && z[0] != '-')
    return -1;
  int sign = z[0] == '-' ? -1 : 1;
  const char *p = z + 1;
  int hh = 0, mm = 0, nd = 0;
  while (*p >= '0' && *p <= '9' && nd < 2) {
    hh = hh * 10 + (*p++ - '0');
    nd++;
  }
  if (nd == 0)
    return -1;
  if (*p == ':')
    p++;
  nd = 0;
  while (*p >= '0' && *p <= '9' && nd < 2) {
    mm = mm * 10 + (*p++ - '0');
    nd++;
  }
  if (*p || hh > 23 || mm > 59 || nd == 1)
    return -1;
  *out = sign * (hh * 3600 + mm * 60);
  return 0;
}

/* Parses an event-time bound: epoch seconds, or ISO 8601 UTC text. */
static int parse_time_bound(loader *L, const fr_yaml_node *n, const char *what,
                            double *out) {
  const char *s;
  int rc = fr_yaml_as_string(L->doc, n, what, &s, L->err);
  if (rc)
    return rc;
  if (fr_parse_double(s, strlen(s), out) == 0)
    return 0;
  static const char *const fmts[] = {"%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S",
                                     "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"};
  for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
    fr_time_format tf = {.kind = FR_TIME_STRFTIME};
    snprintf(tf.format, sizeof tf.format, "%s", fmts[i]);
    if (fr_time_parse(&tf, s, strlen(s), out) == 0)
      return 0;
  }
  return fr_yaml_error(L->doc, n, L->err, FR_ESCHEMA,
                       "field '%s': expected epoch seconds or an ISO 8601 UTC "
                       "time such as 2013-09-01T00:00:00Z, got '%s'",
                       what, s);
}

static int parse_time_format(loader *L, const fr_yaml_node *col,
                             fr_column_info *c, int type_given) {
  fr_time_format *tf = &L->s->tf;
  memset(tf, 0, sizeof *tf);
  snprintf(tf->timezone, sizeof tf->timezone, "UTC");
  const fr_yaml_node *fmt = fr_yaml_get(col, "format");
  const char *f = "epoch_seconds";
  int rc;
  if (fmt && (rc = fr_yaml_as_string(L->doc, fmt, "format", &f, L->err)))
    return rc;
  int numeric = 1;
  if (!strcmp(f, "epoch_seconds"))
    tf->kind = FR_TIME_EPOCH_SECONDS;
  else if (!strcmp(f, "epoch_millis"))
    tf->kind = FR_TIME_EPOCH_MILLIS;
  else if (!strcmp(f, "offset_seconds"))
    tf->kind = FR_TIME_OFFSET_SECONDS;
  else if (!strcmp(f, "offset_hours"))
    tf->kind = FR_TIME_OFFSET_HOURS;
  else if (strchr(f, '%')) {
    tf->kind = FR_TIME_STRFTIME;
    numeric = 0;
    if (strlen(f) >= sizeof tf->format)
      return fr_yaml_error(L->doc, fmt, L->err, FR_ESCHEMA,
                           "time format '%s' is too long (max %zu characters)",
                           f, sizeof tf->format - 1);
    /* Reject conversions the parser does not know now, not at row 1. */
    for (const char *p = f; *p; p++) {
      if (*p != '%')
        continue;
      p++;
      if (!*p || !strchr("YmdHMSzTF%", *p))
        return fr_yaml_error(L->doc, fmt, L->err, FR_ESCHEMA,
                             "time format '%s': unsupported conversion '%%%c' "
                             "(supported: %%Y %%m %%d %%H %%M %%S %%z %%T %%F)",
                             f, *p ? *p : ' ');
    }
    snprintf(tf->format, sizeof tf->format, "%s", f);
  } else {
    return fr_yaml_error(L->doc, fmt, L->err, FR_ESCHEMA,
                         "unknown time format '%s' (expected epoch_seconds, "
                         "epoch_millis, offset_seconds, offset_hours or a "
                         "strftime pattern such as \"%%Y-%%m-%%d %%H:%%M:%%S\")",
                         f);
  }
  const fr_yaml_node *origin = fr_yaml_get(col, "origin");
  if (tf->kind == FR_TIME_OFFSET_SECONDS || tf->kind == FR_TIME_OFFSET_HOURS) {
    if (!origin)
      return fr_yaml_error(L->doc, col, L->err, FR_ESCHEMA,
                           "column '%s': format %s needs an 'origin' such as "
                           "\"2013-09-01T00:00:00Z\"",
                           c->name, f);
    if ((rc = parse_time_bound(L, origin, "origin", &tf->origin)))
      return rc;
  } else if (origin) {
    return fr_yaml_error(L->doc, origin, L->err, FR_ESCHEMA,
                         "'origin' applies only to offset_seconds and "
                         "offset_hours formats");
  }
  const fr_yaml_node *tz = fr_yaml_get(col, "timezone");
  if (tz) {
    const char *z;
    if ((rc = fr_yaml_as_string(L->doc, tz, "timezone", &z, L->err)))
      return rc;
    if (tf->kind != FR_TIME_STRFTIME)
      return fr_yaml_error(L->doc, tz, L->err, FR_ESCHEMA,
                           "'timezone' applies only to strftime formats (epoch "
                           "and offset times are already UTC)");
    if (parse_offset(z, &tf->utc_offset_seconds) != 0) {
      /* Not a fixed offset: an IANA zone, whose daylight-saving rules the
       * parser follows (fr_tz, read once here from the tz database). */
      fr_error ze = {0};
      fr_tz *zone = fr_tz_load(z, &ze);
      if (!zone)
        return fr_yaml_error(L->doc, tz, L->err, FR_ESCHEMA,
                             "timezone '%s': not UTC, a fixed offset such as "
                             "+05:30, or a known IANA zone (%s)",
                             z, ze.msg);
      fr_tz_free(L->s->tz);
      L->s->tz = zone;
      tf->zone = zone;
    }
    snprintf(tf->timezone, sizeof tf->timezone, "%s", z);
  }
  fr_coltype want = numeric ? FR_COL_NUMBER : FR_COL_STRING;
  if (type_given && c->type != want)
    return fr_yaml_error(L->doc, col, L->err, FR_ESCHEMA,
                         "column '%s': format '%s' is written as a %s, not a %s",
                         c->name, f, numeric ? "number" : "string",
                         numeric ? "string" : "number");
  c->type = want;
  return 0;
}

static int parse_column(loader *L, const fr_yaml_node *n, size_t idx) {
  static const char *const keys[] = {
      "name",   "role",          "type",   "entity",   "point",
      "description", "required", "min",    "max",      "allowed",
      "max_null_rate", "unique", "format", "origin",   "timezone",
      NULL};
  fr_schema *s = L->s;
  fr_column_info *c = &s->cols[idx];
  c->checks.min = c->checks.max = c->checks.max_null_rate = NAN;
  c->required = 1;
  int rc;
  if (!n || n->type != FR_YAML_MAP)
    return fr_yaml_error(L->doc, n, L->err, FR_ESCHEMA,
                         "columns[%zu]: expected a mapping such as {name: amt, "
                         "role: amount}",
                         idx);
  if ((rc = fr_yaml_check_keys(L->doc, n, "column", keys, L->err)))
    return rc;
  const char *name;
  const fr_yaml_node *nn = fr_yaml_get(n, "name");
  if (!nn)
    return fr_yaml_error(L->doc, n, L->err, FR_ESCHEMA,
                         "columns[%zu]: missing 'name'", idx);
  if ((rc = fr_yaml_as_string(L->doc, nn, "name", &name, L->err)))
    return rc;
  if (!name[0])
    return fr_yaml_error(L->doc, nn, L->err, FR_ESCHEMA, "empty column name");
  L->col_lines[idx] = n->line;
  for (size_t j = 0; j < idx; j++)
    if (strcmp(s->cols[j].name, name) == 0)
      return fr_yaml_error(L->doc, nn, L->err, FR_ESCHEMA,
                           "duplicate column '%s' (first declared on line %d)",
                           name, L->col_lines[j]);
  c->name = strdup(name);
  const fr_yaml_node *rn = fr_yaml_get(n, "role");
  if (!rn)
    return fr_yaml_error(L->doc, n, L->err, FR_ESCHEMA,
                         "column '%s': missing 'role'", name);
  if ((rc = parse_role(L, rn, &c->role)))
    return rc;
  switch (c->role) {
  case FR_ROLE_NUMERIC:
  case FR_ROLE_AMOUNT:
  case FR_ROLE_LATITUDE:
  case FR_ROLE_LONGITUDE:
  case FR_ROLE_LABEL:
    c->type = FR_COL_NUMBER;
    break;
  default:
    c->type = FR_COL_STRING;
  }
  const fr_yaml_node *tn = fr_yaml_get(n, "type");
  if (tn) {
    const char *t;
    if ((rc = fr_yaml_as_string(L->doc, tn, "type", &t, L->err)))
      return rc;
    if (!strcmp(t, "number"))
      c->type = FR_COL_NUMBER;
    else if (!strcmp(t, "string"))
      c->type = FR_COL_STRING;
    else
      return fr_yaml_error(L->doc, tn, L->err, FR_ESCHEMA,
                           "unknown type '%s' (expected number or string)", t);
    if (c->role == FR_ROLE_LABEL && c->type != FR_COL_NUMBER)
      return fr_yaml_error(L->doc, tn, L->err, FR_ESCHEMA,
                           "column '%s': a label is a number (0/1)", name);
    if ((c->role == FR_ROLE_AMOUNT || c->role == FR_ROLE_LATITUDE ||
         c->role == FR_ROLE_LONGITUDE) &&
        c->type != FR_COL_NUMBER)
      return fr_yaml_error(L->doc, tn, L->err, FR_ESCHEMA,
                           "column '%s': role %s must be a number", name,
                           role_names[c->role]);
  }
  /* Roles that exist at most once. */
  if (c->role == FR_ROLE_ID || c->role == FR_ROLE_EVENT_TIME ||
      c->role == FR_ROLE_AMOUNT || c->role == FR_ROLE_LABEL) {
    int prev = s->role_col[c->role];
    if (prev >= 0)
      return fr_yaml_error(L->doc, rn, L->err, FR_ESCHEMA,
                           "second %s column '%s' (the first is '%s' on line "
                           "%d): a schema has at most one",
                           role_names[c->role], name, s->cols[prev].name,
                           L->col_lines[prev]);
    s->role_col[c->role] = (int)idx;
  }
  /* Role-specific keys. */
  const fr_yaml_node *en = fr_yaml_get(n, "entity");
  if (en && c->role != FR_ROLE_ENTITY)
    return fr_yaml_error(L->doc, en, L->err, FR_ESCHEMA,
                         "'entity' applies only to role entity");
  if (c->role == FR_ROLE_ENTITY) {
    const char *e = name;
    if (en && (rc = fr_yaml_as_string(L->doc, en, "entity", &e, L->err)))
      return rc;
    c->entity = strdup(e);
  }
  const fr_yaml_node *pn = fr_yaml_get(n, "point");
  if (c->role == FR_ROLE_LATITUDE || c->role == FR_ROLE_LONGITUDE) {
    const char *p;
    if (!pn)
      return fr_yaml_error(L->doc, n, L->err, FR_ESCHEMA,
                           "column '%s': role %s needs a 'point' name (e.g. "
                           "point: cardholder) to pair latitude with longitude",
                           name, role_names[c->role]);
    if ((rc = fr_yaml_as_string(L->doc, pn, "point", &p, L->err)))
      return rc;
    c->point = strdup(p);
  } else if (pn) {
    return fr_yaml_error(L->doc, pn, L->err, FR_ESCHEMA,
                         "'point' applies only to roles latitude and longitude");
  }
  if (c->role == FR_ROLE_EVENT_TIME) {
    if ((rc = parse_time_format(L, n, c, tn != NULL)))
      return rc;
  } else {
    static const char *const tkeys[] = {"format", "origin", "timezone"};
    for (size_t k = 0; k < 3; k++) {
      const fr_yaml_node *x = fr_yaml_get(n, tkeys[k]);
      if (x)
        return fr_yaml_error(L->doc, x, L->err, FR_ESCHEMA,
                             "'%s' applies only to the event_time column",
                             tkeys[k]);
    }
  }
  const fr_yaml_node *x;
  if ((x = fr_yaml_get(n, "description"))) {
    const char *d;
    if ((rc = fr_yaml_as_string(L->doc, x, "description", &d, L->err)))
      return rc;
    c->description = strdup(d);
  }
  if ((x = fr_yaml_get(n, "required")) &&
      (rc = fr_yaml_as_bool(L->doc, x, "required", &c->required, L->err)))
    return rc;
  if ((x = fr_yaml_get(n, "unique")) &&
      (rc = fr_yaml_as_bool(L->doc, x, "unique", &c->checks.unique, L->err)))
    return rc;
  if ((x = fr_yaml_get(n, "max_null_rate"))) {
    if ((rc = fr_yaml_as_double(L->doc, x, "max_null_rate",
                                &c->checks.max_null_rate, L->err)))
      return rc;
    if (!(c->checks.max_null_rate >= 0 && c->checks.max_null_rate <= 1))
      return fr_yaml_error(L->doc, x, L->err, FR_ESCHEMA,
                           "max_null_rate must be between 0 and 1");
  }
  const char *bounds[2] = {"min", "max"};
  double *bv[2] = {&c->checks.min, &c->checks.max};
  for (int k = 0; k < 2; k++) {
    if (!(x = fr_yaml_get(n, bounds[k])))
      continue;
    if (c->role == FR_ROLE_EVENT_TIME)
      rc = parse_time_bound(L, x, bounds[k], bv[k]);
    else if (c->type != FR_COL_NUMBER)
      return fr_yaml_error(L->doc, x, L->err, FR_ESCHEMA,
                           "column '%s': '%s' applies only to number columns",
                           name, bounds[k]);
    else
      rc = fr_yaml_as_double(L->doc, x, bounds[k], bv[k], L->err);
    if (rc)
      return rc;
  }
  if (!isnan(c->checks.min) && !isnan(c->checks.max) &&
      c->checks.min > c->checks.max)
    return fr_yaml_error(L->doc, n, L->err, FR_ESCHEMA,
                         "column '%s': min is greater than max", name);
  if ((x = fr_yaml_get(n, "allowed"))) {
    if (c->type != FR_COL_STRING || c->role == FR_ROLE_EVENT_TIME)
      return fr_yaml_error(L->doc, x, L->err, FR_ESCHEMA,
                           "column '%s': 'allowed' applies only to string "
                           "columns",
                           name);
    if (x->type != FR_YAML_SEQ)
      return fr_yaml_error(L->doc, x, L->err, FR_ESCHEMA,
                           "column '%s': 'allowed' must be a list", name);
    c->checks.allowed = calloc(x->n + 1, sizeof(char *));
    if (!c->checks.allowed)
      return fr_error_set(L->err, FR_ENOMEM, "out of memory");
    for (size_t k = 0; k < x->n; k++) {
      const char *v;
      if ((rc = fr_yaml_as_string(L->doc, x->items[k], "allowed", &v, L->err)))
        return rc;
      c->checks.allowed[k] = strdup(v);
    }
  }
  return 0;
}

/* Adds an entity; names are unique across single and composite ones. */
static int add_entity(loader *L, const fr_yaml_node *at, const char *name,
                      const int *cols, size_t n) {
  fr_schema *s = L->s;
  if (fr_schema_find_entity(s, name) >= 0) {
    /* Several columns may not share one entity name: a card is one key. */
    return fr_yaml_error(L->doc, at, L->err, FR_ESCHEMA,
                         "entity '%s' is defined twice", name);
  }
  size_t k = s->nent + 1;
  char **names = realloc(s->ent_names, k * sizeof *names);
  if (names)
    s->ent_names = names;
  int **ec = realloc(s->ent_cols, k * sizeof *ec);
  if (ec)
    s->ent_cols = ec;
  size_t *en = realloc(s->ent_ncols, k * sizeof *en);
  if (en)
    s->ent_ncols = en;
  int *copy = malloc(n * sizeof *copy);
  if (!names || !ec || !en || !copy) {
    free(copy);
    return fr_error_set(L->err, FR_ENOMEM, "out of memory");
  }
  memcpy(copy, cols, n * sizeof *copy);
  s->ent_names[s->nent] = strdup(name);
  s->ent_cols[s->nent] = copy;
  s->ent_ncols[s->nent] = n;
  s->nent = k;
  return 0;
}

static int parse_entities(loader *L, const fr_yaml_node *cols) {
  fr_schema *s = L->s;
  int rc;
  for (size_t i = 0; i < s->ncols; i++) {
    if (s->cols[i].role != FR_ROLE_ENTITY)
      continue;
    int c = (int)i;
    if ((rc = add_entity(L, cols->items[i], s->cols[i].entity, &c, 1)))
      return rc;
  }
  const fr_yaml_node *ce = fr_yaml_get(L->doc->root, "composite_entities");
  if (!ce)
    return 0;
  if (ce->type != FR_YAML_MAP)
    return fr_yaml_error(L->doc, ce, L->err, FR_ESCHEMA,
                         "composite_entities: expected a mapping such as "
                         "{card_merchant: [cc_num, merchant]}");
  for (size_t i = 0; i < ce->n; i++) {
    const fr_yaml_node *list = ce->items[i];
    if (list->type != FR_YAML_SEQ || list->n < 2)
      return fr_yaml_error(L->doc, list, L->err, FR_ESCHEMA,
                           "composite entity '%s': expected a list of two or "
                           "more column names",
                           ce->keys[i]);
    int idx[32];
    if (list->n > 32)
      return fr_yaml_error(L->doc, list, L->err, FR_ESCHEMA,
                           "composite entity '%s': at most 32 columns",
                           ce->keys[i]);
    for (size_t k = 0; k < list->n; k++) {
      const char *cn;
      if ((rc = fr_yaml_as_string(L->doc, list->items[k], "column", &cn,
                                  L->err)))
        return rc;
      idx[k] = fr_schema_find(s, cn);
      if (idx[k] < 0)
        return fr_yaml_error(L->doc, list->items[k], L->err, FR_ESCHEMA,
                             "composite entity '%s': no column '%s'",
                             ce->keys[i], cn);
      if (s->cols[idx[k]].role == FR_ROLE_IGNORE ||
          s->cols[idx[k]].role == FR_ROLE_LABEL)
        return fr_yaml_error(L->doc, list->items[k], L->err, FR_ESCHEMA,
                             "composite entity '%s': column '%s' has role %s",
                             ce->keys[i], cn, role_names[s->cols[idx[k]].role]);
    }
    const fr_yaml_node *at = list;
    if ((rc = add_entity(L, at, ce->keys[i], idx, list->n)))
      return rc;
  }
  return 0;
}

/* is_rate: both bounds must lie in [0, 1] (a fraction of rows). */
static int parse_range(loader *L, const fr_yaml_node *n, const char *what,
                       double *lo, double *hi, int is_rate) {
  static const char *const keys[] = {"min", "max", NULL};
  int rc;
  if ((rc = fr_yaml_check_keys(L->doc, n, what, keys, L->err)))
    return rc;
  const fr_yaml_node *x;
  if ((x = fr_yaml_get(n, "min")) &&
      (rc = fr_yaml_as_double(L->doc, x, "min", lo, L->err)))
    return rc;
  if (x && is_rate && !(*lo >= 0 && *lo <= 1))
    return fr_yaml_error(L->doc, x, L->err, FR_ESCHEMA,
                         "%s: min is a rate, between 0 and 1", what);
  if ((x = fr_yaml_get(n, "max")) &&
      (rc = fr_yaml_as_double(L->doc, x, "max", hi, L->err)))
    return rc;
  if (x && is_rate && !(*hi >= 0 && *hi <= 1))
    return fr_yaml_error(L->doc, x, L->err, FR_ESCHEMA,
                         "%s: max is a rate, between 0 and 1", what);
  if (!isnan(*lo) && !isnan(*hi) && *lo > *hi)
    return fr_yaml_error(L->doc, n, L->err, FR_ESCHEMA,
                         "%s: min is greater than max", what);
  return 0;
}

static int check_points(loader *L, const fr_yaml_node *cols) {
  fr_schema *s = L->s;
  for (size_t i = 0; i < s->ncols; i++) {
    const fr_column_info *c = &s->cols[i];
    if (c->role != FR_ROLE_LATITUDE && c->role != FR_ROLE_LONGITUDE)
      continue;
    int nlat = 0, nlon = 0;
    for (size_t j = 0; j < s->ncols; j++) {
      const fr_column_info *d = &s->cols[j];
      if (d->point && strcmp(d->point, c->point) == 0) {
        nlat += d->role == FR_ROLE_LATITUDE;
        nlon += d->role == FR_ROLE_LONGITUDE;
      }
    }
    if (nlat != 1 || nlon != 1)
      return fr_yaml_error(L->doc, cols->items[i], L->err, FR_ESCHEMA,
                           "point '%s' needs exactly one latitude and one "
                           "longitude column (has %d and %d)",
                           c->point, nlat, nlon);
  }
  return 0;
}

static int build(loader *L, const char *origin) {
  static const char *const keys[] = {"name",    "description",
                                     "features", "columns",
                                     "composite_entities", "checks",
                                     "extra_columns", NULL};
  fr_yaml_doc *doc = L->doc;
  fr_schema *s = L->s;
  int rc;
  if (!doc->root)
    return fr_error_set(L->err, FR_ESCHEMA, "%s: empty schema", doc->path);
  if ((rc = fr_yaml_check_keys(doc, doc->root, "schema", keys, L->err)))
    return rc;
  const fr_yaml_node *x;
  const char *str;
  if (!(x = fr_yaml_get(doc->root, "name")))
    return fr_yaml_error(doc, doc->root, L->err, FR_ESCHEMA,
                         "missing 'name' (the schema's short name)");
  if ((rc = fr_yaml_as_string(doc, x, "name", &str, L->err)))
    return rc;
  s->name = strdup(str);
  if ((x = fr_yaml_get(doc->root, "description"))) {
    if ((rc = fr_yaml_as_string(doc, x, "description", &str, L->err)))
      return rc;
    s->description = strdup(str);
  }
  if ((x = fr_yaml_get(doc->root, "features"))) {
    if ((rc = fr_yaml_as_string(doc, x, "features", &str, L->err)))
      return rc;
    if (str[0] == '/' || !strchr(origin, '/')) {
      s->features = strdup(str);
    } else {
      char *o = strdup(origin);
      if (!o)
        return fr_error_set(L->err, FR_ENOMEM, "out of memory");
      s->features = fr_path_join(dirname(o), str);
      free(o);
    }
  }
  const fr_yaml_node *cols = fr_yaml_get(doc->root, "columns");
  if (!cols || cols->type != FR_YAML_SEQ || cols->n == 0)
    return fr_yaml_error(doc, cols ? cols : doc->root, L->err, FR_ESCHEMA,
                         "'columns' must be a non-empty list of columns");
  s->cols = calloc(cols->n, sizeof *s->cols);
  L->col_lines = calloc(cols->n, sizeof *L->col_lines);
  if (!s->cols || !L->col_lines)
    return fr_error_set(L->err, FR_ENOMEM, "out of memory");
  for (size_t i = 0; i < cols->n; i++) {
    s->ncols = i + 1;
    if ((rc = parse_column(L, cols->items[i], i)))
      return rc;
  }
  if ((rc = check_points(L, cols)) || (rc = parse_entities(L, cols)))
    return rc;
  if ((x = fr_yaml_get(doc->root, "checks"))) {
    static const char *const ckeys[] = {"rows", "label_rate", NULL};
    if ((rc = fr_yaml_check_keys(doc, x, "checks", ckeys, L->err)))
      return rc;
    const fr_yaml_node *r;
    if ((r = fr_yaml_get(x, "rows")) &&
        (rc = parse_range(L, r, "checks.rows", &s->checks.rows_min,
                          &s->checks.rows_max, 0)))
      return rc;
    if ((r = fr_yaml_get(x, "label_rate")) &&
        (rc = parse_range(L, r, "checks.label_rate", &s->checks.label_rate_min,
                          &s->checks.label_rate_max, 1)))
      return rc;
  }
  if ((x = fr_yaml_get(doc->root, "extra_columns"))) {
    if ((rc = fr_yaml_as_string(doc, x, "extra_columns", &str, L->err)))
      return rc;
    if (!strcmp(str, "ignore"))
      s->extra_ignore = 1;
    else if (strcmp(str, "error") != 0)
      return fr_yaml_error(doc, x, L->err, FR_ESCHEMA,
                           "extra_columns must be 'error' or 'ignore', not "
                           "'%s'",
                           str);
  }
  return 0;
}

fr_schema *fr_schema_load_string(const char *yaml, size_t len,
                                 const char *origin, fr_error *err) {
  if (!origin)
    origin = "<schema>";
  fr_yaml_doc *doc = fr_yaml_load_string(yaml, len, origin, err);
  if (!doc)
    return NULL;
  fr_schema *s = calloc(1, sizeof *s);
  if (!s) {
    fr_yaml_free(doc);
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < NROLES; i++)
    s->role_col[i] = -1;
  s->checks.rows_min = s->checks.rows_max = NAN;
  s->checks.label_rate_min = s->checks.label_rate_max = NAN;
  s->path = strdup(origin);
  s->source = malloc(len + 1);
  if (s->source) {
    memcpy(s->source, yaml, len);
    s->source[len] = '\0';
    s->source_len = len;
  }
  loader L = {.doc = doc, .s = s, .err = err};
  int rc = (!s->path || !s->source)
               ? fr_error_set(err, FR_ENOMEM, "out of memory")
               : build(&L, origin);
  free(L.col_lines);
  fr_yaml_free(doc);
  if (rc) {
    fr_schema_free(s);
    return NULL;
  }
  return s;
}

/* The directories searched for shipped schemas, in order (data.h). */
static size_t schema_dirs(char *dirs[3]) {
  size_t n = 0;
  const char *env = getenv("FRAUD_SCHEMA_DIR");
  if (env && *env)
    dirs[n++] = strdup(env);
  char *exe = fr_exe_dir();
  if (exe) {
    dirs[n++] = fr_path_join(exe, "../share/fraud/schemas");
    free(exe);
  }
#ifdef FRAUD_SOURCE_SCHEMAS
  dirs[n++] = strdup(FRAUD_SOURCE_SCHEMAS);
#endif
  return n;
}

/* Lists "a, b, c" of the shipped schema names found in dir. */
static void list_shipped(const char *dir, char *out, size_t cap) {
  out[0] = '\0';
  DIR *d = opendir(dir);
  if (!d)
    return;
  char names[64][64];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) {
    size_t l = strlen(e->d_name);
    if (l < 6 || strcmp(e->d_name + l - 5, ".yaml") != 0 ||
        (l > 14 && strcmp(e->d_name + l - 14, ".features.yaml") == 0))
      continue;
    snprintf(names[n++], 64, "%.*s", (int)(l - 5), e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
  size_t o = 0;
  for (size_t i = 0; i < n && o < cap; i++)
    o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", names[i]);
}

fr_schema *fr_schema_load(const char *name_or_path, fr_error *err) {
  if (!name_or_path || !*name_or_path) {
    fr_error_set(err, FR_EINVAL, "no schema given");
    return NULL;
  }
  size_t l = strlen(name_or_path);
  int is_path = strchr(name_or_path, '/') != NULL ||
                (l > 5 && strcmp(name_or_path + l - 5, ".yaml") == 0) ||
                (l > 4 && strcmp(name_or_path + l - 4, ".yml") == 0);
  char *path = NULL;
  if (is_path) {
    path = strdup(name_or_path);
  } else {
    char *dirs[3] = {0};
    size_t nd = schema_dirs(dirs);
    char file[300];
    snprintf(file, sizeof file, "%s.yaml", name_or_path);
    for (size_t i = 0; i < nd && !path; i++) {
      char *p = dirs[i] ? fr_path_join(dirs[i], file) : NULL;
      if (p && fr_is_file(p))
        path = p;
      else
        free(p);
    }
    if (!path) {
      char shipped[512] = "";
      for (size_t i = 0; i < nd && !shipped[0]; i++)
        if (dirs[i])
          list_shipped(dirs[i], shipped, sizeof shipped);
      fr_error_set(err, FR_ENOTFOUND,
                   "unknown schema '%s' (shipped schemas: %s; or give the "
                   "path of a .yaml file)",
                   name_or_path, shipped[0] ? shipped : "none found");
    }
    for (size_t i = 0; i < nd; i++)
      free(dirs[i]);
    if (!path)
      return NULL;
  }
  size_t len = 0;
  char *text = fr_file_read_all(path, &len, err);
  if (!text) {
    free(path);
    return NULL;
  }
  fr_schema *s = fr_schema_load_string(text, len, path, err);
  free(text);
  free(path);
  return s;
}
