/*
 * spec.c - compiles a feature spec (YAML, docs/features.md) against a schema
 * into a flat program of fr__op, and writes the fitted spec back out.
 *
 * Every feature is one mapping of scalars {name, kind, ...}; the table below
 * says which keys each kind takes, so unknown keys and missing ones are
 * errors that name the spec line.  Entities come from the schema (single
 * ENTITY columns and composite_entities); each entity a feature reads becomes
 * a "slot" whose event tuples carry exactly the values its features need,
 * with its windows (exact, or served by time buckets: per feature `bucket:`
 * or the top-level `buckets: {from, width}`) and horizons.  The slots'
 * layout is summarised in a SHA-256 digest that snapshots and Redis keys
 * carry, so a state is never read by a featurizer of another layout.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "features/internal.h"

/* The largest window (10 years of 365 days): longer than any history a
 * card has, while a typo ("100000d", 274 years) would keep every event of
 * every entity for ever and push event-time arithmetic toward the limits
 * of common.h's hard range. */
#define MAX_WINDOW_SECONDS (3650.0 * 86400.0)

/* The feature spec format versions this code reads (docs/features.md). */
#define SPEC_VERSION 1

enum {
  A_COLUMN = 1 << 0,    /* column */
  A_RATIO = 1 << 1,     /* numerator, denominator */
  A_CLIP = 1 << 2,      /* min, max */
  A_TIME = 1 << 3,      /* utc_offset, offset_column */
  A_GEO2 = 1 << 4,      /* from, to */
  A_CAT = 1 << 5,       /* min_count, max_categories */
  A_SMOOTH = 1 << 6,    /* smoothing */
  A_ENTITY = 1 << 7,    /* entity */
  A_WINDOW = 1 << 8,    /* window (required) */
  A_POINT = 1 << 9,     /* point */
  A_OPT_WINDOW = 1 << 10, /* window (optional) */
  A_BUCKET = 1 << 11     /* bucket (window served by time buckets) */
};

typedef struct kind_info {
  const char *name;
  fr__kind kind;
  unsigned args;
  const char *help;
} kind_info;

static const kind_info kinds[] = {
    {"numeric", FR__K_NUMERIC, A_COLUMN, "the column's value"},
    {"log1p", FR__K_LOG1P, A_COLUMN, "ln(1 + x); NaN for x <= -1"},
    {"clip", FR__K_CLIP, A_COLUMN | A_CLIP, "x limited to [min, max]"},
    {"ratio", FR__K_RATIO, A_RATIO, "numerator / denominator; NaN when 0"},
    {"hour_of_day", FR__K_HOUR, A_TIME, "hour 0..23 of the event time"},
    {"day_of_week", FR__K_DOW, A_TIME, "0 = Monday .. 6 = Sunday"},
    {"hour_sin", FR__K_HOUR_SIN, A_TIME, "sin(2 pi seconds-of-day / 86400)"},
    {"hour_cos", FR__K_HOUR_COS, A_TIME, "cos(2 pi seconds-of-day / 86400)"},
    {"dow_sin", FR__K_DOW_SIN, A_TIME, "sin(2 pi seconds-of-week / 604800)"},
    {"dow_cos", FR__K_DOW_COS, A_TIME, "cos(2 pi seconds-of-week / 604800)"},
    {"haversine", FR__K_HAVERSINE, A_GEO2, "great-circle distance in km"},
    {"category_code", FR__K_CATEGORY_CODE, A_COLUMN | A_CAT,
     "integer code of the category"},
    {"one_hot", FR__K_ONE_HOT, A_COLUMN | A_CAT, "0/1 per frequent category"},
    {"frequency", FR__K_FREQUENCY, A_COLUMN | A_CAT,
     "share of training rows with the category"},
    {"target_encoding", FR__K_TARGET_ENCODING, A_COLUMN | A_CAT | A_SMOOTH,
     "smoothed fraud rate of the category"},
    {"count", FR__K_COUNT, A_ENTITY | A_WINDOW | A_BUCKET, "events in the window"},
    {"sum", FR__K_SUM, A_ENTITY | A_COLUMN | A_WINDOW | A_BUCKET, "sum in the window"},
    {"mean", FR__K_MEAN, A_ENTITY | A_COLUMN | A_WINDOW | A_BUCKET, "mean in the window"},
    {"min", FR__K_MIN, A_ENTITY | A_COLUMN | A_WINDOW | A_BUCKET, "minimum in the window"},
    {"max", FR__K_MAX, A_ENTITY | A_COLUMN | A_WINDOW | A_BUCKET, "maximum in the window"},
    {"std", FR__K_STD, A_ENTITY | A_COLUMN | A_WINDOW | A_BUCKET,
     "sample standard deviation in the window"},
    {"distinct_count", FR__K_DISTINCT, A_ENTITY | A_COLUMN | A_WINDOW,
     "distinct values of the column in the window"},
    {"time_since_prev", FR__K_TIME_SINCE_PREV, A_ENTITY,
     "seconds since the entity's previous event"},
    {"ratio_to_mean", FR__K_RATIO_TO_MEAN, A_ENTITY | A_COLUMN | A_WINDOW | A_BUCKET,
     "value / mean of the window"},
    {"zscore", FR__K_ZSCORE, A_ENTITY | A_COLUMN | A_WINDOW | A_BUCKET,
     "(value - mean) / std of the window"},
    {"first_seen", FR__K_FIRST_SEEN, A_ENTITY,
     "1 when the entity has no earlier event"},
    {"geo_velocity", FR__K_GEO_VELOCITY, A_ENTITY | A_POINT,
     "km/h from the entity's previous located event"},
};
static const size_t nkinds = sizeof kinds / sizeof kinds[0];

static const kind_info *find_kind(const char *name) {
  for (size_t i = 0; i < nkinds; i++)
    if (strcmp(kinds[i].name, name) == 0)
      return &kinds[i];
  return NULL;
}

static int is_stateful(fr__kind k) { return k >= FR__K_COUNT; }
static int is_categorical(fr__kind k) {
  return k >= FR__K_CATEGORY_CODE && k <= FR__K_TARGET_ENCODING;
}

void fr_featurizer_free(fr_featurizer *f) {
  if (!f)
    return;
  for (size_t i = 0; i < f->nops; i++) {
    free(f->ops[i].name);
    fr_tz_free(f->ops[i].tz);
  }
  free(f->ops);
  for (size_t i = 0; f->names && i < f->nfeatures; i++)
    free(f->names[i]);
  free(f->names);
  for (size_t i = 0; i < f->nslots; i++) {
    free(f->slots[i].op_idx);
    free(f->slots[i].win);
    free(f->slots[i].val_cols);
    free(f->slots[i].hash_cols);
    free(f->slots[i].geo_lat);
    free(f->slots[i].geo_lon);
  }
  free(f->slots);
  for (size_t i = 0; i < f->nencs; i++)
    fr__encoder_free(&f->encs[i]);
  free(f->encs);
  free(f->spec_yaml);
  free(f->origin);
  free(f->used_cols);
  free(f);
}

/* ---- compile helpers --------------------------------------------------- */

typedef struct compiler {
  fr_featurizer *f;
  const fr_yaml_doc *doc;
  fr_error *err;
  double auto_from;    /* top-level buckets.from: windows this long or longer
                          are bucketed (0 = none) */
  double auto_width;   /* top-level buckets.width */
  int *bucket_line;    /* per slot: spec line that set its bucket width */
} compiler;

static int column_of(compiler *c, const fr_yaml_node *item, const char *key,
                     int want_number, int *out) {
  const fr_yaml_node *n = fr_yaml_get(item, key);
  const char *name;
  int rc = fr_yaml_as_string(c->doc, n, key, &name, c->err);
  if (rc) {
    if (!n)
      return fr_yaml_error(c->doc, item, c->err, FR_ESCHEMA,
                           "feature needs '%s'", key);
    return rc;
  }
  int col = fr_schema_find(c->f->schema, name);
  if (col < 0)
    return fr_yaml_error(c->doc, n, c->err, FR_ESCHEMA,
                         "unknown column '%s' (schema '%s' has no such column)",
                         name, fr_schema_name(c->f->schema));
  const fr_column_info *ci = fr_schema_column(c->f->schema, (size_t)col);
  /* Every column a feature reads comes through here: the label is the one
   * input a model must never see (it is unknown when a new transaction is
   * scored, and a model trained on it scores perfectly offline only). */
  if (ci->role == FR_ROLE_LABEL)
    return fr_yaml_error(c->doc, n, c->err, FR_ESCHEMA,
                         "column '%s' is the schema's label: a feature must not "
                         "read it (target leakage: the label is unknown when a "
                         "transaction is scored)",
                         name);
  if (want_number == 1 && ci->type != FR_COL_NUMBER)
    return fr_yaml_error(c->doc, n, c->err, FR_ESCHEMA,
                         "column '%s' is not numeric", name);
  if (want_number == 0 && ci->type != FR_COL_STRING)
    return fr_yaml_error(c->doc, n, c->err, FR_ESCHEMA,
                         "column '%s' is not a string (categorical) column",
                         name);
  *out = col;
  return 0;
}

/* Finds the latitude/longitude columns of geo point `point`. */
static int point_of(compiler *c, const fr_yaml_node *item, const char *key,
                    int *lat, int *lon) {
  const fr_yaml_node *n = fr_yaml_get(item, key);
  const char *name;
  if (!n)
    return fr_yaml_error(c->doc, item, c->err, FR_ESCHEMA,
                         "feature needs '%s' (a geo point of the schema)", key);
  int rc = fr_yaml_as_string(c->doc, n, key, &name, c->err);
  if (rc)
    return rc;
  *lat = *lon = -1;
  const fr_schema *s = c->f->schema;
  for (size_t i = 0; i < fr_schema_ncols(s); i++) {
    const fr_column_info *ci = fr_schema_column(s, i);
    if (!ci->point || strcmp(ci->point, name) != 0)
      continue;
    if (ci->role == FR_ROLE_LATITUDE)
      *lat = (int)i;
    else if (ci->role == FR_ROLE_LONGITUDE)
      *lon = (int)i;
  }
  if (*lat < 0 || *lon < 0)
    return fr_yaml_error(c->doc, n, c->err, FR_ESCHEMA,
                         "unknown geo point '%s' (the schema needs a latitude "
                         "and a longitude column with point: %s)",
                         name, name);
  return 0;
}

static int double_of(compiler *c, const fr_yaml_node *item, const char *key,
                     double dflt, double *out) {
  const fr_yaml_node *n = fr_yaml_get(item, key);
  if (!n) {
    *out = dflt;
    return 0;
  }
  return fr_yaml_as_double(c->doc, n, key, out, c->err);
}

static int int_of(compiler *c, const fr_yaml_node *item, const char *key,
                  int dflt, int *out) {
  const fr_yaml_node *n = fr_yaml_get(item, key);
  if (!n) {
    *out = dflt;
    return 0;
  }
  int64_t v;
  int rc = fr_yaml_as_int(c->doc, n, key, &v, c->err);
  if (rc)
    return rc;
  if (v < 0 || v > 1000000)
    return fr_yaml_error(c->doc, n, c->err, FR_ESCHEMA,
                         "'%s' must be between 0 and 1000000", key);
  *out = (int)v;
  return 0;
}

/* "+05:30", "-0800", "3600" (seconds) -> seconds. */
static int parse_utc_offset(const char *s, int32_t *out) {
  if ((s[0] == '+' || s[0] == '-') && strlen(s) >= 3) {
    int sign = s[0] == '-' ? -1 : 1;
    int hh = 0, mm = 0;
    const char *p = s + 1;
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
      return FR_EPARSE;
    hh = (p[0] - '0') * 10 + (p[1] - '0');
    p += 2;
    if (*p == ':')
      p++;
    if (*p) {
      if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2])
        return FR_EPARSE;
      mm = (p[0] - '0') * 10 + (p[1] - '0');
    }
    if (hh > 23 || mm > 59)
      return FR_EPARSE;
    *out = sign * (hh * 3600 + mm * 60);
    return 0;
  }
  if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0) {
    *out = 0;
    return 0;
  }
  int64_t v;
  if (fr_parse_int64(s, strlen(s), &v) || v < -86400 || v > 86400)
    return FR_EPARSE;
  *out = (int32_t)v;
  return 0;
}

static int slot_of(compiler *c, const fr_yaml_node *item, int *slot_out) {
  const fr_yaml_node *n = fr_yaml_get(item, "entity");
  const char *name;
  if (!n)
    return fr_yaml_error(c->doc, item, c->err, FR_ESCHEMA,
                         "feature needs 'entity' (an entity of the schema)");
  int rc = fr_yaml_as_string(c->doc, n, "entity", &name, c->err);
  if (rc)
    return rc;
  const fr_schema *s = c->f->schema;
  int e = fr_schema_find_entity(s, name);
  if (e < 0) {
    char list[512] = "";
    size_t o = 0;
    for (size_t i = 0; i < fr_schema_nentities(s) && o < sizeof list - 64; i++)
      o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "",
                            fr_schema_entity_name(s, i));
    return fr_yaml_error(c->doc, n, c->err, FR_ESCHEMA,
                         "unknown entity '%s' (schema '%s' has: %s)", name,
                         fr_schema_name(s), o ? list : "none");
  }
  fr_featurizer *f = c->f;
  for (size_t i = 0; i < f->nslots; i++)
    if (f->slots[i].entity == e) {
      *slot_out = (int)i;
      return 0;
    }
  fr__slot *ns = realloc(f->slots, (f->nslots + 1) * sizeof *ns);
  if (!ns)
    return fr_error_set(c->err, FR_ENOMEM, "out of memory");
  f->slots = ns;
  int *bl = realloc(c->bucket_line, (f->nslots + 1) * sizeof *bl);
  if (!bl)
    return fr_error_set(c->err, FR_ENOMEM, "out of memory");
  c->bucket_line = bl;
  bl[f->nslots] = 0;
  fr__slot *sl = &f->slots[f->nslots];
  memset(sl, 0, sizeof *sl);
  sl->entity = e;
  sl->name = fr_schema_entity_name(s, (size_t)e);
  sl->cols = fr_schema_entity_columns(s, (size_t)e, &sl->ncols);
  *slot_out = (int)f->nslots++;
  return 0;
}

/* Index of `col` in a slot's list, appending it when new. */
static int slot_add(int **list, size_t *n, int col) {
  for (size_t i = 0; i < *n; i++)
    if ((*list)[i] == col)
      return (int)i;
  int *nl = realloc(*list, (*n + 1) * sizeof *nl);
  if (!nl)
    return -1;
  *list = nl;
  nl[*n] = col;
  return (int)(*n)++;
}

/* Index of the geo point (lat, lon) in a slot, appending it when new. */
static int geo_add(fr__slot *sl, int lat, int lon) {
  for (size_t i = 0; i < sl->ngeo; i++)
    if (sl->geo_lat[i] == lat && sl->geo_lon[i] == lon)
      return (int)i;
  int *nl = realloc(sl->geo_lat, (sl->ngeo + 1) * sizeof *nl);
  if (!nl)
    return -1;
  sl->geo_lat = nl;
  int *no = realloc(sl->geo_lon, (sl->ngeo + 1) * sizeof *no);
  if (!no)
    return -1;
  sl->geo_lon = no;
  sl->geo_lat[sl->ngeo] = lat;
  sl->geo_lon[sl->ngeo] = lon;
  return (int)sl->ngeo++;
}

static int encoder_for(compiler *c, int col) {
  fr_featurizer *f = c->f;
  for (size_t i = 0; i < f->nencs; i++)
    if (f->encs[i].column == col)
      return (int)i;
  fr__encoder *ne = realloc(f->encs, (f->nencs + 1) * sizeof *ne);
  if (!ne)
    return -1;
  f->encs = ne;
  memset(&f->encs[f->nencs], 0, sizeof f->encs[f->nencs]);
  f->encs[f->nencs].column = col;
  return (int)f->nencs++;
}

static int compile_feature(compiler *c, const fr_yaml_node *item, fr__op *op) {
  static const char *const base_keys[] = {
      "name", "kind", "column", "numerator", "denominator", "min", "max",
      "utc_offset", "offset_column", "from", "to", "min_count",
      "max_categories", "smoothing", "entity", "window", "point",
      "description", "timezone", "bucket", NULL};
  if (!item || item->type != FR_YAML_MAP)
    return fr_yaml_error(c->doc, item, c->err, FR_ESCHEMA,
                         "each feature must be a mapping {name, kind, ...}");
  int rc = fr_yaml_check_keys(c->doc, item, "feature", base_keys, c->err);
  if (rc)
    return rc;
  const char *kname, *name;
  const fr_yaml_node *kn = fr_yaml_get(item, "kind");
  if (!kn)
    return fr_yaml_error(c->doc, item, c->err, FR_ESCHEMA, "feature has no 'kind'");
  if ((rc = fr_yaml_as_string(c->doc, kn, "kind", &kname, c->err)))
    return rc;
  const kind_info *ki = find_kind(kname);
  if (!ki) {
    char list[1024] = "";
    size_t o = 0;
    for (size_t i = 0; i < nkinds; i++)
      o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "",
                            kinds[i].name);
    return fr_yaml_error(c->doc, kn, c->err, FR_ESCHEMA,
                         "unknown feature kind '%s' (known: %s)", kname, list);
  }
  const fr_yaml_node *nn = fr_yaml_get(item, "name");
  if (!nn)
    return fr_yaml_error(c->doc, item, c->err, FR_ESCHEMA, "feature has no 'name'");
  if ((rc = fr_yaml_as_string(c->doc, nn, "name", &name, c->err)))
    return rc;
  if (!*name || strchr(name, ',') || strchr(name, '"') || strchr(name, '\n'))
    return fr_yaml_error(c->doc, nn, c->err, FR_ESCHEMA,
                         "feature name '%s' must be non-empty and contain no "
                         "comma, quote or newline", name);
  /* `fraud features` writes the matrix as transaction_id, the features,
   * label: a feature of either name would make a column appear twice. */
  if (strcmp(name, "label") == 0 || strcmp(name, "transaction_id") == 0)
    return fr_yaml_error(c->doc, nn, c->err, FR_ESCHEMA,
                         "feature name '%s' is reserved (the feature matrix's "
                         "transaction_id and label columns)", name);

  /* Keys that this kind does not take are errors too. */
  static const struct {
    const char *key;
    unsigned arg;
  } key_args[] = {{"column", A_COLUMN},     {"numerator", A_RATIO},
                  {"denominator", A_RATIO}, {"min", A_CLIP},
                  {"max", A_CLIP},          {"utc_offset", A_TIME},
                  {"offset_column", A_TIME}, {"from", A_GEO2},
                  {"to", A_GEO2},           {"min_count", A_CAT},
                  {"max_categories", A_CAT}, {"smoothing", A_SMOOTH},
                  {"entity", A_ENTITY},     {"window", A_WINDOW | A_OPT_WINDOW},
                  {"point", A_POINT},       {"timezone", A_TIME},
                  {"bucket", A_BUCKET}};
  for (size_t i = 0; i < item->n; i++)
    for (size_t k = 0; k < sizeof key_args / sizeof key_args[0]; k++)
      if (strcmp(item->keys[i], key_args[k].key) == 0 &&
          !(ki->args & key_args[k].arg))
        return fr_error_set(c->err, FR_ESCHEMA,
                            "%s:%d: feature '%s': kind '%s' takes no '%s'",
                            c->doc->path, item->key_lines[i], name, kname,
                            item->keys[i]);

  memset(op, 0, sizeof *op);
  op->kind = ki->kind;
  op->line = item->line;
  op->slot = op->enc = op->offset_col = -1;
  op->col = op->col2 = op->lat1 = op->lon1 = op->lat2 = op->lon2 = -1;
  op->vidx = op->hidx = op->gidx = op->widx = -1;
  op->nout = 1;
  op->name = strdup(name);
  if (!op->name)
    return fr_error_set(c->err, FR_ENOMEM, "out of memory");

  fr__kind k = ki->kind;
  if (ki->args & A_ENTITY) {
    if ((rc = slot_of(c, item, &op->slot)))
      return rc;
  }
  if (ki->args & A_COLUMN) {
    int want = is_categorical(k) || k == FR__K_DISTINCT ? 0 : 1;
    if (k == FR__K_DISTINCT)
      want = -1; /* any column: strings and numbers both hash */
    if ((rc = column_of(c, item, "column", want, &op->col)))
      return rc;
  }
  if (ki->args & A_RATIO) {
    if ((rc = column_of(c, item, "numerator", 1, &op->col)) ||
        (rc = column_of(c, item, "denominator", 1, &op->col2)))
      return rc;
  }
  if (ki->args & A_CLIP) {
    if ((rc = double_of(c, item, "min", -INFINITY, &op->lo)) ||
        (rc = double_of(c, item, "max", INFINITY, &op->hi)))
      return rc;
    if (!(op->lo <= op->hi))
      return fr_yaml_error(c->doc, item, c->err, FR_ESCHEMA,
                           "feature '%s': min must not exceed max", name);
  }
  if (ki->args & A_TIME) {
    const fr_yaml_node *on = fr_yaml_get(item, "utc_offset");
    if (on) {
      const char *s;
      if ((rc = fr_yaml_as_string(c->doc, on, "utc_offset", &s, c->err)))
        return rc;
      if (parse_utc_offset(s, &op->utc_offset))
        return fr_yaml_error(c->doc, on, c->err, FR_ESCHEMA,
                             "utc_offset '%s': expected +hh:mm, -hhmm, UTC or "
                             "seconds", s);
    }
    if (fr_yaml_get(item, "offset_column") &&
        (rc = column_of(c, item, "offset_column", 1, &op->offset_col)))
      return rc;
    const fr_yaml_node *tzn = fr_yaml_get(item, "timezone");
    if (tzn) {
      const char *zn;
      if ((rc = fr_yaml_as_string(c->doc, tzn, "timezone", &zn, c->err)))
        return rc;
      if (on || op->offset_col >= 0)
        return fr_yaml_error(c->doc, tzn, c->err, FR_ESCHEMA,
                             "feature '%s': give one of utc_offset, "
                             "offset_column, timezone", name);
      fr_error ze = {0};
      op->tz = fr_tz_load(zn, &ze);
      if (!op->tz)
        return fr_yaml_error(c->doc, tzn, c->err, FR_ESCHEMA,
                             "feature '%s': timezone: %s", name, ze.msg);
    }
    c->f->needs_time = 1;
  }
  if (ki->args & A_GEO2) {
    if ((rc = point_of(c, item, "from", &op->lat1, &op->lon1)) ||
        (rc = point_of(c, item, "to", &op->lat2, &op->lon2)))
      return rc;
  }
  if (ki->args & A_CAT) {
    int dflt_max = k == FR__K_ONE_HOT ? 10 : 0;
    if ((rc = int_of(c, item, "min_count", 1, &op->min_count)) ||
        (rc = int_of(c, item, "max_categories", dflt_max, &op->max_categories)))
      return rc;
    if (k == FR__K_ONE_HOT && op->max_categories < 1)
      return fr_yaml_error(c->doc, item, c->err, FR_ESCHEMA,
                           "one_hot needs max_categories >= 1");
    op->enc = encoder_for(c, op->col);
    if (op->enc < 0)
      return fr_error_set(c->err, FR_ENOMEM, "out of memory");
    if (k == FR__K_ONE_HOT)
      op->nout = (size_t)op->max_categories;
  }
  if (ki->args & A_SMOOTH) {
    if ((rc = double_of(c, item, "smoothing", 10.0, &op->smoothing)))
      return rc;
    if (!(op->smoothing >= 0))
      return fr_yaml_error(c->doc, item, c->err, FR_ESCHEMA,
                           "smoothing must be >= 0");
  }
  if (ki->args & (A_WINDOW | A_OPT_WINDOW)) {
    const fr_yaml_node *wn = fr_yaml_get(item, "window");
    if (!wn && (ki->args & A_WINDOW))
      return fr_yaml_error(c->doc, item, c->err, FR_ESCHEMA,
                           "feature '%s' (%s) needs a 'window' such as 1h",
                           name, kname);
    if (wn) {
      const char *ws;
      if ((rc = fr_yaml_as_string(c->doc, wn, "window", &ws, c->err)))
        return rc;
      if (fr_parse_duration(ws, &op->window))
        return fr_yaml_error(c->doc, wn, c->err, FR_ESCHEMA,
                             "window '%s': expected a positive duration such "
                             "as 90s, 10m, 1h, 7d (units ms, s, m, h, d, w)",
                             ws);
      if (op->window > MAX_WINDOW_SECONDS)
        return fr_yaml_error(c->doc, wn, c->err, FR_ESCHEMA,
                             "window '%s': longer than the largest window, 3650d "
                             "(10 years)",
                             ws);
    }
  }
  double bucket_width = 0;
  const fr_yaml_node *bn = fr_yaml_get(item, "bucket");
  if (bn) {
    const char *bs;
    if ((rc = fr_yaml_as_string(c->doc, bn, "bucket", &bs, c->err)))
      return rc;
    if (strcmp(bs, "none") != 0 && fr_parse_duration(bs, &bucket_width))
      return fr_yaml_error(c->doc, bn, c->err, FR_ESCHEMA,
                           "bucket '%s': expected a bucket width such as 1h, "
                           "or none", bs);
  } else if ((ki->args & A_BUCKET) && c->auto_from > 0 &&
             op->window >= c->auto_from) {
    bucket_width = c->auto_width;
  }
  if (bucket_width > 0) {
    if (!(bucket_width < op->window))
      return fr_yaml_error(c->doc, bn ? bn : item, c->err, FR_ESCHEMA,
                           "feature '%s': bucket width must be shorter than "
                           "the window", name);
    op->bucketed = 1;
  }
  if (ki->args & A_POINT) {
    if ((rc = point_of(c, item, "point", &op->lat1, &op->lon1)))
      return rc;
  }
  if (is_stateful(k)) {
    fr__slot *sl = &c->f->slots[op->slot];
    c->f->needs_time = 1;
    if (op->bucketed) {
      /* One bucket width per entity: every event is folded into one set of
       * buckets. */
      if (sl->bucket_width > 0 && sl->bucket_width != bucket_width)
        return fr_yaml_error(c->doc, bn ? bn : item, c->err, FR_ESCHEMA,
                             "feature '%s': entity '%s' already uses buckets "
                             "of another width (line %d); one width per "
                             "entity", name, sl->name, c->bucket_line[op->slot]);
      sl->bucket_width = bucket_width;
      c->bucket_line[op->slot] = item->line;
      if (op->window > sl->bucket_horizon)
        sl->bucket_horizon = op->window;
    } else if (op->window > sl->exact_horizon) {
      sl->exact_horizon = op->window;
    }
    if (k == FR__K_DISTINCT) {
      op->hidx = slot_add(&sl->hash_cols, &sl->nhash, op->col);
    } else if (k == FR__K_GEO_VELOCITY) {
      op->gidx = geo_add(sl, op->lat1, op->lon1);
      if (op->gidx < 0)
        return fr_error_set(c->err, FR_ENOMEM, "out of memory");
    } else if (op->col >= 0) {
      op->vidx = slot_add(&sl->val_cols, &sl->nvals, op->col);
    }
    if ((op->vidx < 0 && op->col >= 0 && k != FR__K_DISTINCT) ||
        (k == FR__K_DISTINCT && op->hidx < 0))
      return fr_error_set(c->err, FR_ENOMEM, "out of memory");
  }
  return 0;
}

static fr_featurizer *compile(const fr_schema *s, fr_yaml_doc *doc,
                              const char *text, size_t len, fr_error *err);

fr_featurizer *fr_featurizer_load_string(const fr_schema *s, const char *yaml,
                                         size_t len, const char *origin,
                                         fr_error *err) {
  if (!s || !yaml) {
    fr_error_set(err, FR_EINVAL, "fr_featurizer_load_string: NULL argument");
    return NULL;
  }
  fr_yaml_doc *doc = fr_yaml_load_string(yaml, len, origin, err);
  if (!doc)
    return NULL;
  fr_featurizer *f = compile(s, doc, yaml, len, err);
  fr_yaml_free(doc);
  return f;
}

fr_featurizer *fr_featurizer_load(const fr_schema *s, const char *spec_path,
                                  fr_error *err) {
  if (!s) {
    fr_error_set(err, FR_EINVAL, "fr_featurizer_load: NULL schema");
    return NULL;
  }
  if (!spec_path)
    spec_path = fr_schema_default_spec(s);
  if (!spec_path) {
    fr_error_set(err, FR_ENOTFOUND,
                 "schema '%s' declares no default feature spec; pass --spec",
                 fr_schema_name(s));
    return NULL;
  }
  size_t len;
  char *text = fr_file_read_all(spec_path, &len, err);
  if (!text)
    return NULL;
  fr_featurizer *f = fr_featurizer_load_string(s, text, len, spec_path, err);
  free(text);
  return f;
}

static int load_fitted(compiler *c, const fr_yaml_node *fitted);

/* buckets: {from: 7d, width: 1h} - windows of `from` or longer of the
 * kinds that can be bucketed use time buckets of `width` unless the feature
 * says `bucket: none`. */
static int parse_buckets(compiler *c, const fr_yaml_node *b) {
  if (!b)
    return 0;
  static const char *const keys[] = {"from", "width", NULL};
  int rc = fr_yaml_check_keys(c->doc, b, "buckets", keys, c->err);
  if (rc)
    return rc;
  const char *names[2] = {"from", "width"};
  double *outs[2] = {&c->auto_from, &c->auto_width};
  for (int i = 0; i < 2; i++) {
    const fr_yaml_node *n = fr_yaml_get(b, names[i]);
    const char *v;
    if (!n)
      return fr_yaml_error(c->doc, b, c->err, FR_ESCHEMA,
                           "buckets needs '%s' (a duration such as 7d / 1h)",
                           names[i]);
    if ((rc = fr_yaml_as_string(c->doc, n, names[i], &v, c->err)))
      return rc;
    if (fr_parse_duration(v, outs[i]))
      return fr_yaml_error(c->doc, n, c->err, FR_ESCHEMA,
                           "buckets.%s '%s': expected a positive duration such "
                           "as 7d or 1h", names[i], v);
  }
  return 0;
}

static int cmp_window(const void *a, const void *b) {
  const fr__window *x = a, *y = b;
  if (x->bucketed != y->bucketed)
    return x->bucketed - y->bucketed;
  return x->w < y->w ? -1 : x->w > y->w;
}

/* Lays out each slot: event tuple (ts, values, hashes, (lat, lon) pairs),
 * bucket record, the sorted window list (exact ascending, then bucketed
 * ascending) with the values whose squared deviations each needs, and the
 * horizons. */
static int compile_slots(compiler *c) {
  fr_featurizer *f = c->f;
  for (size_t i = 0; i < f->nslots; i++) {
    fr__slot *sl = &f->slots[i];
    sl->id_col = fr_schema_role_column(f->schema, FR_ROLE_ID);
    sl->stride = 1 + sl->nvals + sl->nhash + 2 * sl->ngeo + (sl->id_col >= 0);
    sl->bstride = 2 + 5 * sl->nvals;
    if (sl->nvals > FR__MAX_VALS || sl->nhash > FR__MAX_VALS)
      return fr_error_set(c->err, FR_ESCHEMA,
                          "%s: entity '%s': at most %d aggregated columns",
                          c->doc->path, sl->name, FR__MAX_VALS);
    if (sl->ngeo > FR__MAX_GEO)
      return fr_error_set(c->err, FR_ESCHEMA,
                          "%s: entity '%s': geo_velocity from at most %d points",
                          c->doc->path, sl->name, FR__MAX_GEO);
    /* The bucketed windows read the log for the newest, still open bucket
     * (see featurize.c): keep at least one bucket width of events. */
    if (sl->bucket_width > 0 && sl->exact_horizon < sl->bucket_width)
      sl->exact_horizon = sl->bucket_width;
    sl->op_idx = calloc(f->nops, sizeof *sl->op_idx);
    sl->win = calloc(f->nops ? f->nops : 1, sizeof *sl->win);
    if (!sl->op_idx || !sl->win)
      return fr_error_set(c->err, FR_ENOMEM, "out of memory");
    for (size_t k = 0; k < f->nops; k++) {
      const fr__op *op = &f->ops[k];
      if (op->slot != (int)i)
        continue;
      sl->op_idx[sl->nop_idx++] = k;
      if (op->window <= 0 || op->kind == FR__K_DISTINCT)
        continue;
      size_t j = 0;
      while (j < sl->nwin &&
             !(sl->win[j].w == op->window && sl->win[j].bucketed == op->bucketed))
        j++;
      if (j == sl->nwin) {
        sl->win[j].w = op->window;
        sl->win[j].bucketed = op->bucketed;
        sl->nwin++;
      }
    }
    qsort(sl->win, sl->nwin, sizeof *sl->win, cmp_window);
    sl->nexact = 0;
    while (sl->nexact < sl->nwin && !sl->win[sl->nexact].bucketed)
      sl->nexact++;
    for (size_t k = 0; k < f->nops; k++) {
      fr__op *op = &f->ops[k];
      if (op->slot != (int)i || op->window <= 0 || op->kind == FR__K_DISTINCT)
        continue;
      for (size_t j = 0; j < sl->nwin; j++)
        if (sl->win[j].w == op->window && sl->win[j].bucketed == op->bucketed)
          op->widx = (int)j;
      if (op->kind == FR__K_STD || op->kind == FR__K_ZSCORE)
        sl->win[op->widx].m2mask |= (uint64_t)1 << op->vidx;
    }
  }
  /* The columns a transaction's features read (the offline path fills only
   * these). */
  size_t ncols = fr_schema_ncols(f->schema);
  f->used_cols = calloc(ncols ? ncols : 1, sizeof *f->used_cols);
  char *used = calloc(ncols ? ncols : 1, 1);
  if (!f->used_cols || !used) {
    free(used);
    return fr_error_set(c->err, FR_ENOMEM, "out of memory");
  }
#define USE(col)                                  \
  do {                                            \
    if ((col) >= 0 && (size_t)(col) < ncols)      \
      used[(col)] = 1;                            \
  } while (0)
  for (size_t k = 0; k < f->nops; k++) {
    const fr__op *op = &f->ops[k];
    USE(op->col);
    USE(op->col2);
    USE(op->lat1);
    USE(op->lon1);
    USE(op->lat2);
    USE(op->lon2);
    USE(op->offset_col);
  }
  for (size_t i = 0; i < f->nslots; i++) {
    const fr__slot *sl = &f->slots[i];
    for (size_t k = 0; k < sl->ncols; k++)
      USE(sl->cols[k]);
    for (size_t k = 0; k < sl->nvals; k++)
      USE(sl->val_cols[k]);
    for (size_t k = 0; k < sl->nhash; k++)
      USE(sl->hash_cols[k]);
    for (size_t k = 0; k < sl->ngeo; k++) {
      USE(sl->geo_lat[k]);
      USE(sl->geo_lon[k]);
    }
    USE(sl->id_col);
  }
#undef USE
  for (size_t k = 0; k < ncols; k++)
    if (used[k])
      f->used_cols[f->nused++] = (int)k;
  free(used);
  /* The state layout digest: what a stored record depends on. */
  size_t cap = 256, len = 0;
  char *text = malloc(cap);
  if (!text)
    return fr_error_set(c->err, FR_ENOMEM, "out of memory");
#define DIG_APPEND(...)                                                    \
  do {                                                                     \
    int n_ = fr_snprintf_c(NULL, 0, __VA_ARGS__);                          \
    if (len + (size_t)n_ + 1 > cap) {                                      \
      cap = (len + (size_t)n_ + 1) * 2;                                    \
      char *t_ = realloc(text, cap);                                       \
      if (!t_) {                                                           \
        free(text);                                                        \
        return fr_error_set(c->err, FR_ENOMEM, "out of memory");           \
      }                                                                    \
      text = t_;                                                           \
    }                                                                      \
    len += (size_t)fr_snprintf_c(text + len, cap - len, __VA_ARGS__);      \
  } while (0)
  const fr_schema *s = f->schema;
#define COLNAME(i) fr_schema_column(s, (size_t)(i))->name
  DIG_APPEND("fraud-state-layout 1\n");
  for (size_t i = 0; i < f->nslots; i++) {
    const fr__slot *sl = &f->slots[i];
    DIG_APPEND("entity %s key", sl->name);
    for (size_t k = 0; k < sl->ncols; k++)
      DIG_APPEND(" %s", COLNAME(sl->cols[k]));
    DIG_APPEND("\nvalues");
    for (size_t k = 0; k < sl->nvals; k++)
      DIG_APPEND(" %s", COLNAME(sl->val_cols[k]));
    DIG_APPEND("\nhashes");
    for (size_t k = 0; k < sl->nhash; k++)
      DIG_APPEND(" %s", COLNAME(sl->hash_cols[k]));
    DIG_APPEND("\ngeo");
    for (size_t k = 0; k < sl->ngeo; k++)
      DIG_APPEND(" %s:%s", COLNAME(sl->geo_lat[k]), COLNAME(sl->geo_lon[k]));
    if (sl->id_col >= 0)
      DIG_APPEND("\nid %s", COLNAME(sl->id_col));
    DIG_APPEND("\nhorizon %.17g buckets %.17g %.17g\n", sl->exact_horizon,
               sl->bucket_width, sl->bucket_horizon);
  }
#undef COLNAME
#undef DIG_APPEND
  fr_sha256_hex(text, len, f->state_digest);
  free(text);
  return 0;
}

static fr_featurizer *compile(const fr_schema *s, fr_yaml_doc *doc,
                              const char *text, size_t len, fr_error *err) {
  fr_featurizer *f = calloc(1, sizeof *f);
  if (!f) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  f->schema = s;
  f->origin = strdup(doc->path);
  f->spec_yaml = strndup(text, len);
  compiler c = {.f = f, .doc = doc, .err = err};
  static const char *const top_keys[] = {"version", "description", "buckets",
                                         "features", "fitted", NULL};
  int rc = 0;
  if (!doc->root) {
    rc = fr_error_set(err, FR_ESCHEMA, "%s: empty feature spec", doc->path);
    goto fail;
  }
  if ((rc = fr_yaml_check_keys(doc, doc->root, "feature spec", top_keys, err)))
    goto fail;
  /* A spec of a later format version may mean something else by the same
   * keys: refused rather than read as version 1.  Absent = 1. */
  const fr_yaml_node *vn = fr_yaml_get(doc->root, "version");
  if (vn) {
    int64_t v;
    if ((rc = fr_yaml_as_int(doc, vn, "version", &v, err)))
      goto fail;
    if (v != SPEC_VERSION) {
      rc = fr_yaml_error(doc, vn, err, FR_ESCHEMA,
                         "feature spec version %lld is not supported (this fraud reads "
                         "version %d)",
                         (long long)v, SPEC_VERSION);
      goto fail;
    }
  }
  if ((rc = parse_buckets(&c, fr_yaml_get(doc->root, "buckets"))))
    goto fail;
  const fr_yaml_node *feats = fr_yaml_get(doc->root, "features");
  if (!feats || feats->type != FR_YAML_SEQ || feats->n == 0) {
    rc = fr_yaml_error(doc, feats ? feats : doc->root, err, FR_ESCHEMA,
                       "'features' must be a non-empty list");
    goto fail;
  }
  f->ops = calloc(feats->n, sizeof *f->ops);
  if (!f->ops) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < feats->n; i++) {
    rc = compile_feature(&c, feats->items[i], &f->ops[i]);
    f->nops = i + 1;
    if (rc)
      goto fail;
    f->ops[i].out = f->nfeatures;
    f->nfeatures += f->ops[i].nout;
  }
  if ((rc = compile_slots(&c)))
    goto fail;
  const fr_yaml_node *fitted = fr_yaml_get(doc->root, "fitted");
  if (fitted) {
    if ((rc = load_fitted(&c, fitted)))
      goto fail;
  } else if (f->nencs == 0) {
    f->fitted = 1;
  }
  /* Names: one-hot names are known only once fitted; fill them then. */
  f->names = calloc(f->nfeatures, sizeof *f->names);
  if (!f->names) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < f->nops; i++) {
    fr__op *op = &f->ops[i];
    for (size_t j = 0; j < op->nout; j++) {
      char buf[512];
      if (op->kind == FR__K_ONE_HOT)
        snprintf(buf, sizeof buf, "%s_%zu", op->name, j);
      else
        snprintf(buf, sizeof buf, "%s", op->name);
      f->names[op->out + j] = strdup(buf);
    }
  }
  if (f->fitted)
    fr__featurizer_name_one_hot(f);
  for (size_t i = 0; i < f->nfeatures; i++) {
    for (size_t j = 0; j < i; j++) {
      if (f->names[i] && f->names[j] && strcmp(f->names[i], f->names[j]) == 0) {
        /* The item of the second one (ops[k] is features[k]), and the
         * line of the first. */
        size_t ki = 0, kj = 0;
        while (ki + 1 < f->nops && f->ops[ki + 1].out <= i)
          ki++;
        while (kj + 1 < f->nops && f->ops[kj + 1].out <= j)
          kj++;
        rc = fr_yaml_error(doc, feats->items[ki], err, FR_ESCHEMA,
                           "duplicate feature name '%s' (first at line %d)", f->names[i],
                           f->ops[kj].line);
        goto fail;
      }
    }
  }
  free(c.bucket_line);
  return f;
fail:
  (void)rc;
  free(c.bucket_line);
  fr_featurizer_free(f);
  return NULL;
}

/* fitted:
 *   encoders:
 *     - column: category
 *       total: 1000
 *       total_positive: 12
 *       categories:            # in code order
 *         - [grocery_pos, 120, 1]   # text, training rows, positives
 */
static int load_fitted(compiler *c, const fr_yaml_node *fitted) {
  fr_featurizer *f = c->f;
  static const char *const keys[] = {"encoders", NULL};
  int rc = fr_yaml_check_keys(c->doc, fitted, "fitted", keys, c->err);
  if (rc)
    return rc;
  const fr_yaml_node *encs = fr_yaml_get(fitted, "encoders");
  if (encs && encs->type != FR_YAML_SEQ)
    return fr_yaml_error(c->doc, encs, c->err, FR_ESCHEMA,
                         "'encoders' must be a list");
  for (size_t i = 0; encs && i < encs->n; i++) {
    const fr_yaml_node *e = encs->items[i];
    static const char *const ekeys[] = {"column", "total", "total_positive",
                                        "categories", NULL};
    if ((rc = fr_yaml_check_keys(c->doc, e, "encoder", ekeys, c->err)))
      return rc;
    int col;
    if ((rc = column_of(c, e, "column", 0, &col)))
      return rc;
    int idx = -1;
    for (size_t k = 0; k < f->nencs; k++)
      if (f->encs[k].column == col)
        idx = (int)k;
    if (idx < 0)
      return fr_yaml_error(c->doc, e, c->err, FR_ESCHEMA,
                           "fitted encoder for column '%s' that no feature uses",
                           fr_schema_column(f->schema, (size_t)col)->name);
    fr__encoder *enc = &f->encs[idx];
    if (enc->n > 0)
      return fr_yaml_error(c->doc, e, c->err, FR_ESCHEMA,
                           "second fitted encoder for the same column");
    if ((rc = fr_yaml_as_double(c->doc, fr_yaml_get(e, "total"), "total",
                                &enc->total, c->err)) ||
        (rc = fr_yaml_as_double(c->doc, fr_yaml_get(e, "total_positive"),
                                "total_positive", &enc->total_pos, c->err)))
      return rc;
    const fr_yaml_node *cats = fr_yaml_get(e, "categories");
    if (!cats || cats->type != FR_YAML_SEQ)
      return fr_yaml_error(c->doc, cats ? cats : e, c->err, FR_ESCHEMA,
                           "'categories' must be a list of [text, count, positives]");
    for (size_t k = 0; k < cats->n; k++) {
      const fr_yaml_node *t = cats->items[k];
      if (t->type != FR_YAML_SEQ || t->n != 3)
        return fr_yaml_error(c->doc, t, c->err, FR_ESCHEMA,
                             "category entry must be [text, count, positives]");
      const char *text;
      double cnt, pos;
      if ((rc = fr_yaml_as_string(c->doc, t->items[0], "category", &text, c->err)) ||
          (rc = fr_yaml_as_double(c->doc, t->items[1], "count", &cnt, c->err)) ||
          (rc = fr_yaml_as_double(c->doc, t->items[2], "positives", &pos, c->err)))
        return rc;
      if (fr__encoder_find(enc, text, strlen(text)) >= 0)
        return fr_yaml_error(c->doc, t, c->err, FR_ESCHEMA,
                             "duplicate category '%s'", text);
      if (fr__encoder_add(enc, text, cnt, pos))
        return fr_error_set(c->err, FR_ENOMEM, "out of memory");
    }
  }
  for (size_t k = 0; k < f->nencs; k++)
    if (f->encs[k].total <= 0 && f->encs[k].n == 0)
      return fr_error_set(c->err, FR_ESCHEMA,
                          "%s: 'fitted' has no encoder for column '%s'",
                          c->doc->path,
                          fr_schema_column(f->schema, (size_t)f->encs[k].column)->name);
  f->fitted = 1;
  return 0;
}

/* ---- accessors ---------------------------------------------------------- */

size_t fr_featurizer_nfeatures(const fr_featurizer *f) { return f ? f->nfeatures : 0; }

const char *fr_featurizer_name(const fr_featurizer *f, size_t i) {
  return f && i < f->nfeatures ? f->names[i] : NULL;
}

const fr_schema *fr_featurizer_schema(const fr_featurizer *f) {
  return f ? f->schema : NULL;
}

int fr_featurizer_stateful(const fr_featurizer *f) { return f && f->nslots > 0; }

const char *fr_featurizer_state_digest(const fr_featurizer *f) {
  return f ? f->state_digest : NULL;
}

/* One-hot output names carry the category: "<name>=<category>". */
void fr__featurizer_name_one_hot(fr_featurizer *f) {
  for (size_t i = 0; i < f->nops; i++) {
    fr__op *op = &f->ops[i];
    if (op->kind != FR__K_ONE_HOT)
      continue;
    const fr__encoder *enc = &f->encs[op->enc];
    for (size_t j = 0; j < op->nout; j++) {
      char buf[512];
      if (j < enc->n)
        snprintf(buf, sizeof buf, "%s=%s", op->name, enc->values[j]);
      else
        snprintf(buf, sizeof buf, "%s_%zu", op->name, j);
      free(f->names[op->out + j]);
      f->names[op->out + j] = strdup(buf);
    }
  }
}

/* ---- dump --------------------------------------------------------------- */

typedef struct emit_buf {
  char *data;
  size_t len, cap;
} emit_buf;

static int emit_write(void *ctx, unsigned char *buffer, size_t size) {
  emit_buf *b = ctx;
  if (b->len + size + 1 > b->cap) {
    size_t nc = (b->len + size + 1) * 2;
    char *nd = realloc(b->data, nc);
    if (!nd)
      return 0;
    b->data = nd;
    b->cap = nc;
  }
  memcpy(b->data + b->len, buffer, size);
  b->len += size;
  b->data[b->len] = '\0';
  return 1;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, int quoted) {
  yaml_event_t ev;
  yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
                               !quoted, 1,
                               quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                      : YAML_ANY_SCALAR_STYLE);
  return yaml_emitter_emit(em, &ev);
}

static int emit_num(yaml_emitter_t *em, double v) {
  char buf[40];
  fr_fmt_double(buf, sizeof buf, v);
  return emit_scalar(em, buf, 0);
}

static int emit_start(yaml_emitter_t *em, int map, int flow) {
  yaml_event_t ev;
  if (map)
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                        flow ? YAML_FLOW_MAPPING_STYLE
                                             : YAML_BLOCK_MAPPING_STYLE);
  else
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                         flow ? YAML_FLOW_SEQUENCE_STYLE
                                              : YAML_BLOCK_SEQUENCE_STYLE);
  return yaml_emitter_emit(em, &ev);
}

static int emit_end(yaml_emitter_t *em, int map) {
  yaml_event_t ev;
  if (map)
    yaml_mapping_end_event_initialize(&ev);
  else
    yaml_sequence_end_event_initialize(&ev);
  return yaml_emitter_emit(em, &ev);
}

/* Re-emits a YAML node (scalars verbatim, quoted when they were). */
static int emit_node(yaml_emitter_t *em, const fr_yaml_node *n, int flow) {
  if (n->type == FR_YAML_SCALAR)
    return emit_scalar(em, n->scalar, n->quoted);
  int map = n->type == FR_YAML_MAP;
  if (!emit_start(em, map, flow))
    return 0;
  for (size_t i = 0; i < n->n; i++) {
    if (map && !emit_scalar(em, n->keys[i], 0))
      return 0;
    if (!emit_node(em, n->items[i], flow))
      return 0;
  }
  return emit_end(em, map);
}

char *fr_featurizer_dump(const fr_featurizer *f, size_t *len, fr_error *err) {
  if (!f) {
    fr_error_set(err, FR_EINVAL, "fr_featurizer_dump: NULL featurizer");
    return NULL;
  }
  if (!f->fitted) {
    fr_error_set(err, FR_ESTATE, "feature spec has categorical encoders that "
                                 "are not fitted yet");
    return NULL;
  }
  fr_yaml_doc *doc = fr_yaml_load_string(f->spec_yaml, strlen(f->spec_yaml),
                                         f->origin, err);
  if (!doc)
    return NULL;
  emit_buf b = {0};
  yaml_emitter_t em;
  yaml_event_t ev;
  int ok = yaml_emitter_initialize(&em);
  yaml_emitter_set_output(&em, emit_write, &b);
  yaml_emitter_set_unicode(&em, 1);
  yaml_emitter_set_width(&em, 100);
  ok = ok && yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
       yaml_emitter_emit(&em, &ev);
  ok = ok && yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
       yaml_emitter_emit(&em, &ev);
  ok = ok && emit_start(&em, 1, 0);
  for (size_t i = 0; ok && i < doc->root->n; i++) {
    if (strcmp(doc->root->keys[i], "fitted") == 0)
      continue;
    ok = emit_scalar(&em, doc->root->keys[i], 0);
    if (strcmp(doc->root->keys[i], "features") == 0 && ok) {
      const fr_yaml_node *feats = doc->root->items[i];
      ok = emit_start(&em, 0, 0);
      for (size_t k = 0; ok && k < feats->n; k++)
        ok = emit_node(&em, feats->items[k], 1);
      ok = ok && emit_end(&em, 0);
    } else if (ok) {
      ok = emit_node(&em, doc->root->items[i], 0);
    }
  }
  if (ok && f->nencs > 0) {
    ok = emit_scalar(&em, "fitted", 0) && emit_start(&em, 1, 0) &&
         emit_scalar(&em, "encoders", 0) && emit_start(&em, 0, 0);
    for (size_t i = 0; ok && i < f->nencs; i++) {
      const fr__encoder *enc = &f->encs[i];
      ok = emit_start(&em, 1, 0) && emit_scalar(&em, "column", 0) &&
           emit_scalar(&em, fr_schema_column(f->schema, (size_t)enc->column)->name, 1) &&
           emit_scalar(&em, "total", 0) && emit_num(&em, enc->total) &&
           emit_scalar(&em, "total_positive", 0) && emit_num(&em, enc->total_pos) &&
           emit_scalar(&em, "categories", 0) && emit_start(&em, 0, 0);
      for (size_t k = 0; ok && k < enc->n; k++)
        ok = emit_start(&em, 0, 1) && emit_scalar(&em, enc->values[k], 1) &&
             emit_num(&em, enc->count[k]) && emit_num(&em, enc->pos[k]) &&
             emit_end(&em, 0);
      ok = ok && emit_end(&em, 0) && emit_end(&em, 1);
    }
    ok = ok && emit_end(&em, 0) && emit_end(&em, 1);
  }
  ok = ok && emit_end(&em, 1);
  ok = ok && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev);
  ok = ok && yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev);
  ok = ok && yaml_emitter_flush(&em);
  yaml_emitter_delete(&em);
  fr_yaml_free(doc);
  if (!ok) {
    free(b.data);
    fr_error_set(err, FR_ENOMEM, "cannot write the fitted feature spec");
    return NULL;
  }
  if (len)
    *len = b.len;
  return b.data;
}
