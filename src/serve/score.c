/*
 * score.c - POST /v1/score: raw transactions in, fraud probability and
 * decision out, with the features computed by the server from live
 * per-entity state.
 *
 * The body is one JSON object with the schema's column names, or an array
 * of them.  Each field is a JSON number (used as the double it denotes) or a
 * string holding the text a CSV cell would hold (parsed by
 * fr_schema_parse_cell, exactly as the CSV reader does), so a CSV row sent
 * as strings scores exactly as in the file.  null is a missing value; the
 * label column is ignored (not used for scoring); unknown keys are ignored.
 * Values are held to the schema: number columns to their min/max, every
 * column that declares max_null_rate: 0 (number or text) to a present value
 * (null, "" or absent is a 400), the event time to the hard range of
 * common.h, the schema's range (fr_schema_time_range) and at most
 * state.max_future_skew ahead of the wall clock; "NaN" text, which a CSV file may
 * use for a missing value, is refused (a client sends null).  Every
 * transaction of a request is validated before any state changes, then each is
 * featurized in request order (state updated after its features), scored,
 * and decided with the bundle's thresholds.
 *
 * Model: ?model=NAME, else repository.default_model, else the only loaded
 * model.  Version: ?version=V pins one; otherwise the production version,
 * or the canary for the fraction `weight` of cards chosen by a keyed hash of
 * the routing entity's key (sticky: one card always sees one version).
 * Every other state group of the model is fed the transaction too, and a
 * shadow version scores it for metrics and logs only.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/models.h"
#include "serve/txnjson.h"

#define MAX_TXNS 10000

typedef struct slot {
  fr__mv *mv;       /* version that answers */
  size_t m0, nm;    /* its members: c->rd.mem[m0 .. m0 + nm) */
  size_t row;       /* its output row */
  size_t foff;      /* offset of its feature row in the scratch matrix */
  double event_time;
  double amount;    /* NaN when the schema has no amount or it is missing */
  unsigned flags;   /* FR_FEATURIZE_* of its featurization */
} slot;

typedef struct fr__score_ctx {
  json_t *doc;      /* jansson path only (pool memory) */
  fr__txnjson rd;   /* the body's members (yajl's path fills it, or the
                       jansson tree is copied into it) */
  int is_array;
  size_t n;
  slot *t;
  size_t tcap;
  fr_field *fields; /* n x ncols of the chosen version's schema */
  size_t fcap;
  fr_field *alt;    /* one row for another schema (feeding) */
  size_t acap;
  _Atomic int outstanding;
  int explain_features; /* ?explain=features: the feature vector too */
  int reasons;      /* top-k reasons wanted (0 = none) */
  int reasons_all;  /* for every answer, not only review/decline */
  fr_reason rs[32]; /* reasons of the transaction being written */
  fr__batch_item items[FR__MAX_LOADED];
  size_t nitems;
} fr__score_ctx;

void fr__score_free(fr__scratch *sc) {
  if (!sc || !sc->score)
    return;
  fr__score_ctx *c = sc->score;
  c->doc = NULL; /* arena memory, freed with the connection's arena */
  fr__txnjson_close(&c->rd);
  free(c->t);
  free(c->fields);
  free(c->alt);
  free(c);
  sc->score = NULL;
}

static int grow(void **p, size_t *cap, size_t n, size_t elem) {
  if (n <= *cap)
    return 0;
  size_t c = *cap ? *cap : 16;
  while (c < n)
    c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q)
    return FR_ENOMEM;
  *p = q;
  *cap = c;
  return 0;
}

/* "transactions[3]: " for arrays, "" for a single object. */
static void where(char *buf, size_t cap, const fr__score_ctx *c, size_t i) {
  if (c->is_array)
    snprintf(buf, cap, "transactions[%zu]: ", i);
  else
    buf[0] = '\0';
}

/* Text of a member used as a key or a STRING cell: strings as they are,
 * integers in decimal (the text a CSV cell would hold), written in the
 * request pool, where it stays put for the request (parsed fields may point
 * at it).  0, or -1 for another kind (or no memory). */
static int scalar_text(const fr__member *m, fr__reqpool *pool, const char **p, size_t *len) {
  if (m->kind == FR__J_STRING) {
    *p = m->str;
    *len = m->slen;
    return 0;
  }
  if (m->kind == FR__J_INTEGER) {
    char *t = fr__reqpool_alloc(pool, 24);
    if (!t)
      return -1;
    /* Decimal digits by hand: INT64_MIN has no positive counterpart, so
     * the digits come from the unsigned magnitude. */
    uint64_t u = m->i < 0 ? (uint64_t)0 - (uint64_t)m->i : (uint64_t)m->i;
    char tmp[24];
    size_t k = sizeof tmp;
    do {
      tmp[--k] = (char)('0' + u % 10);
      u /= 10;
    } while (u);
    if (m->i < 0)
      tmp[--k] = '-';
    *len = sizeof tmp - k;
    memcpy(t, tmp + k, *len);
    t[*len] = '\0';
    *p = t;
    return 0;
  }
  return -1;
}

/* The member named like column col: hash first, then the name.  Bodies
 * usually list the columns in the schema's order, so the search starts
 * after the member found last (*hint) and wraps around: one comparison per
 * column instead of a scan. */
static const fr__member *member_of(const fr__mv *mv, size_t col, const fr__member *ms, size_t nm,
                                   size_t *hint) {
  uint64_t h = mv->col_hash[col];
  size_t start = *hint < nm ? *hint : 0;
  for (size_t j = 0; j < nm; j++) {
    size_t k = start + j < nm ? start + j : start + j - nm;
    if (ms[k].khash != h || ms[k].klen != mv->col_len[col])
      continue;
    if (memcmp(ms[k].key, fr_schema_column(mv->schema, col)->name, ms[k].klen) == 0) {
      *hint = k + 1;
      return &ms[k];
    }
  }
  return NULL;
}

/* A cell that does not parse.  The parser's message quotes the text; for an
 * entity column (a card number, an account) it is withheld, since error
 * messages reach the logs, which must never hold an entity key.  For a
 * number column it is withheld too: a client that put a card number in the
 * wrong field would see it echoed into the logs, and the field name says
 * enough. */
static void cell_error(fr__req *r, const fr_column_info *ci, const char *pre, const fr_error *err) {
  if (ci->role == FR_ROLE_ENTITY)
    fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                  "%sfield '%s': not a valid value for the column's type (the value of an "
                  "entity key is not repeated)",
                  pre, ci->name);
  else if (ci->type == FR_COL_NUMBER && ci->role != FR_ROLE_EVENT_TIME)
    fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                  "%sfield '%s': not a finite number (send a JSON number, its decimal text, or "
                  "null for a missing value)",
                  pre, ci->name);
  else if (ci->role == FR_ROLE_EVENT_TIME && err->code == FR_ERANGE)
    fr__req_error(r, 400, FR__REASON_OUT_OF_RANGE,
                  "%sfield '%s': event time outside the supported range "
                  "1677-09-21T00:12:44Z .. 2262-04-11T23:47:16Z",
                  pre, ci->name);
  else if (ci->role == FR_ROLE_EVENT_TIME)
    fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                  "%sfield '%s': not an event time in the schema's format", pre, ci->name);
  else /* the parser's message quotes the text: not repeated (a card number
          sent in the wrong field would come back, and reach logs) */
    fr__req_error(r, 400, err->code == FR_ERANGE ? FR__REASON_OUT_OF_RANGE : FR__REASON_BAD_TYPE,
                  "%sfield '%s': not a valid value for the column's type", pre, ci->name);
}

/* Checks a parsed NUMBER cell against the schema's declared bounds: a
 * value below `min` or above `max`, text that reads as NaN ("NaN" is how
 * some exporters write a missing value in a file, but a client that means
 * "missing" sends null), and a missing value where the column declares
 * max_null_rate: 0.  The offending value is not repeated (see cell_error);
 * the field and the bound are.  Returns 0, or answers 400 and returns -1. */
static int check_number(fr__req *r, const fr_column_info *ci, const fr__member *v,
                        const fr_field *f, const char *pre, int answer) {
  const fr_column_checks *k = &ci->checks;
  char b[40];
  if (!f->present) {
    if (v && v->kind == FR__J_STRING) {
      size_t i = 0;
      while (i < v->slen && (v->str[i] == ' ' || v->str[i] == '\t'))
        i++;
      if (i < v->slen) { /* not blank: the text was a NaN */
        if (answer)
          fr__req_error(r, 400, FR__REASON_OUT_OF_RANGE,
                        "%sfield '%s': NaN is not a value (send null for a missing value)", pre,
                        ci->name);
        return -1;
      }
    }
    if (k->max_null_rate == 0) {
      if (answer)
        fr__req_error(r, 400, FR__REASON_MISSING,
                      "%sfield '%s' is %s, and the schema allows no missing value "
                      "(max_null_rate: 0)",
                      pre, ci->name,
                      !v ? "missing" : v->kind == FR__J_NULL ? "null" : "empty");
      return -1;
    }
    return 0;
  }
  /* Every path that sets present gives a finite value (JSON has no
   * infinities, jansson and the reader refuse an overflowing real, the
   * cell parser refuses "inf"); the test stays as the last guard. */
  if (!isfinite(f->num)) {
    if (answer)
      fr__req_error(r, 400, FR__REASON_OUT_OF_RANGE, "%sfield '%s': not a finite number", pre,
                    ci->name);
    return -1;
  }
  if (f->num < k->min || f->num > k->max) { /* NaN bounds (unset) compare false */
    int low = f->num < k->min;
    if (answer) {
      fr_fmt_double(b, sizeof b, low ? k->min : k->max);
      fr__req_error(r, 400, FR__REASON_OUT_OF_RANGE, "%sfield '%s': %s the schema's %s %s", pre,
                    ci->name, low ? "below" : "above", low ? "min" : "max", b);
    }
    return -1;
  }
  return 0;
}

/* A missing value (absent, null or "") of a text column (entity key, id,
 * categorical) whose schema declares max_null_rate: 0: a 400 missing_field
 * naming the field, as check_number does for number columns.  Offline the
 * same cell (an empty CSV cell) reads as missing too and `fraud validate`'s
 * null_rate check fails on it; online there is no rate over one request, so
 * the declared 0 is held per transaction.  Returns 0, or answers 400 and
 * returns -1. */
static int no_nulls(fr__req *r, const fr_column_info *ci, const fr__member *v, const char *pre,
                    int answer) {
  if (ci->checks.max_null_rate != 0 || ci->role == FR_ROLE_IGNORE) /* NaN (unset): != 0 */
    return 0;
  if (answer)
    fr__req_error(r, 400, FR__REASON_MISSING,
                  "%sfield '%s' is %s, and the schema allows no missing value "
                  "(max_null_rate: 0)",
                  pre, ci->name, !v ? "missing" : v->kind == FR__J_NULL ? "null" : "empty");
  return -1;
}

/* Fills fields[0..ncols) of mv's schema from the members.  Returns 0, or an
 * HTTP error already answered (reason + message) and -1. */
static int build_fields(fr__req *r, const fr__mv *mv, const fr__member *ms, size_t nm,
                        fr_field *fields, double *event_time, fr__reqpool *pool, const char *pre,
                        int answer) {
  const fr_schema *schema = mv->schema;
  size_t nc = fr_schema_ncols(schema);
  int time_col = fr_schema_role_column(schema, FR_ROLE_EVENT_TIME);
  const fr_time_format *tf = fr_schema_time_format(schema);
  *event_time = NAN;
  size_t hint = 0;
  for (size_t c = 0; c < nc; c++) {
    const fr_column_info *ci = fr_schema_column(schema, c);
    fr_field *f = &fields[c];
    memset(f, 0, sizeof *f);
    f->num = NAN;
    if (ci->role == FR_ROLE_LABEL)
      continue; /* not used for scoring: ignored online, whatever it holds */
    const fr__member *v = member_of(mv, c, ms, nm, &hint);
    if (!v || v->kind == FR__J_NULL) {
      if (!v && ci->required && ci->role != FR_ROLE_LABEL && ci->role != FR_ROLE_IGNORE) {
        if (answer)
          fr__req_error(r, 400, FR__REASON_MISSING, "%sfield '%s' is missing", pre, ci->name);
        return -1;
      }
      if ((int)c == time_col) {
        if (answer)
          fr__req_error(r, 400, FR__REASON_MISSING, "%sfield '%s' (the event time) is %s", pre,
                        ci->name, v ? "null" : "missing");
        return -1;
      }
      if (ci->type == FR_COL_NUMBER && check_number(r, ci, v, f, pre, answer))
        return -1;
      if (ci->type != FR_COL_NUMBER && no_nulls(r, ci, v, pre, answer))
        return -1;
      continue;
    }
    fr_error err;
    if (v->kind == FR__J_STRING) {
      if (fr_schema_parse_cell(schema, c, v->str, v->slen, f, &err)) {
        if (answer)
          cell_error(r, ci, pre, &err);
        return -1;
      }
    } else if (v->kind == FR__J_INTEGER || v->kind == FR__J_REAL) {
      if (ci->type == FR_COL_NUMBER) {
        f->num = v->num;
        f->present = 1;
      } else {
        const char *p;
        size_t len;
        if (v->kind == FR__J_REAL) {
          if (answer)
            fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                          "%sfield '%s': a text column takes a string (or an integer), got a "
                          "fractional number",
                          pre, ci->name);
          return -1;
        }
        if (scalar_text(v, pool, &p, &len)) {
          if (answer)
            fr__req_error(r, 500, "internal", "out of memory");
          return -1;
        }
        if (fr_schema_parse_cell(schema, c, p, len, f, &err)) {
          if (answer)
            cell_error(r, ci, pre, &err);
          return -1;
        }
      }
    } else {
      if (answer)
        fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                      "%sfield '%s': expected a number or a string, got %s", pre, ci->name,
                      v->kind == FR__J_OTHER ? "an object or an array" : "a boolean");
      return -1;
    }
    if ((int)c != time_col && ci->type == FR_COL_NUMBER && check_number(r, ci, v, f, pre, answer))
      return -1;
    /* A text cell parses to "missing" only when it is empty (as in the CSV
     * reader); only then is the column's max_null_rate consulted. */
    if (!f->present && ci->type != FR_COL_NUMBER && (int)c != time_col &&
        no_nulls(r, ci, v, pre, answer))
      return -1;
    if ((int)c == time_col) {
      /* The event time, as the CSV reader computes it. */
      double t = NAN;
      int bad = 0;
      if (v->kind == FR__J_STRING) {
        bad = fr_time_parse(tf, v->str, v->slen, &t) != 0;
      } else {
        double x = v->num;
        switch (tf->kind) {
        case FR_TIME_EPOCH_SECONDS:
          t = x;
          break;
        case FR_TIME_EPOCH_MILLIS:
          t = x / 1000.0;
          break;
        case FR_TIME_OFFSET_SECONDS:
          t = tf->origin + x;
          break;
        case FR_TIME_OFFSET_HOURS:
          t = tf->origin + x * 3600.0;
          break;
        case FR_TIME_STRFTIME:
          bad = 1;
          break;
        }
        bad |= !isfinite(t);
      }
      if (bad) {
        if (answer)
          fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                        "%sfield '%s': not an event time in the schema's format%s", pre, ci->name,
                        tf->kind == FR_TIME_STRFTIME ? " (a string such as the CSV holds)" : "");
        return -1;
      }
      /* The hard range (common.h; the string path's parser applies it
       * itself), then the schema's: one absurd time stored for a card
       * would make every later real transaction of that card "late". */
      if (!(t >= FR_TIME_MIN_SECONDS && t <= FR_TIME_MAX_SECONDS)) {
        if (answer)
          fr__req_error(r, 400, FR__REASON_OUT_OF_RANGE,
                        "%sfield '%s': event time outside the supported range "
                        "1677-09-21T00:12:44Z .. 2262-04-11T23:47:16Z",
                        pre, ci->name);
        return -1;
      }
      double lo, hi;
      fr_schema_time_range(schema, &lo, &hi);
      if (t < lo || t > hi) {
        if (answer) {
          char a[40], b[40], e[40];
          fr_fmt_iso8601(a, sizeof a, lo);
          fr_fmt_iso8601(b, sizeof b, hi);
          fr_fmt_iso8601(e, sizeof e, t);
          fr__req_error(r, 400, FR__REASON_OUT_OF_RANGE,
                        "%sfield '%s': event time %s outside the schema's range %s .. %s", pre,
                        ci->name, e, a, b);
        }
        return -1;
      }
      *event_time = t;
    }
  }
  if (time_col < 0)
    *event_time = NAN;
  return 0;
}

/* Canary routing: a keyed hash of the routing entity's key, mapped to [0, 1). */
static fr__mv *route(fr_server *s, fr__snapshot *snap, const fr__member *ms, size_t nm,
                     fr__reqpool *pool) {
  fr__mv *p = snap->primary;
  if (!snap->canary || !(snap->canary_weight > 0) || p->route_entity < 0 || !p->schema)
    return p;
  size_t nk;
  const int *cols = fr_schema_entity_columns(p->schema, (size_t)p->route_entity, &nk);
  char key[512];
  size_t kl = 0, hint = 0;
  for (size_t i = 0; i < nk; i++) {
    const fr__member *v = member_of(p, (size_t)cols[i], ms, nm, &hint);
    const char *t;
    size_t len;
    if (!v || scalar_text(v, pool, &t, &len))
      return p; /* no key: production */
    if (kl + len + 1 >= sizeof key)
      return p;
    if (i)
      key[kl++] = '\x1f';
    memcpy(key + kl, t, len);
    kl += len;
  }
  uint64_t h = fr_hash_keyed(s->hash_key, key, kl);
  double u = (double)(h >> 11) * 0x1p-53;
  return u < snap->canary_weight ? snap->canary : p;
}


/* Same schema text: one set of parsed fields serves both. */
static int same_schema(const fr__mv *a, const fr__mv *b) {
  if (a->schema == b->schema)
    return 1;
  size_t la, lb;
  const char *sa = fr_schema_source(a->schema, &la), *sb = fr_schema_source(b->schema, &lb);
  return sa && sb && la == lb && memcmp(sa, sb, la) == 0;
}

static void observe_decision(fr__mv *mv, float p, double amount) {
  fr_decision d = fr_thresholds_decide(&mv->th, p);
  fr__series_add(mv->m_decisions[d], 1);
  fr__series_observe(mv->m_score, p);
  if (isfinite(amount))
    fr__series_add(mv->m_amount[d], amount);
}

static void shadow_score(fr__req *r, fr__mv *shadow, fr__mv *chosen, const float *row,
                         float primary_p, double amount) {
  float p;
  if (fr_forest_predict(shadow->forest, row, 1, &p))
    return;
  observe_decision(shadow, p, amount);
  if (fr_log_get_level() <= FR_LOG_DEBUG) {
    char fields[512];
    char a[32], b[32];
    fr_fmt_float(a, sizeof a, primary_p);
    fr_fmt_float(b, sizeof b, p);
    snprintf(fields, sizeof fields,
             "\"request_id\":\"%s\",\"model\":\"%s\",\"version\":\"%s\",\"shadow_version\":"
             "\"%s\",\"probability\":%s,\"shadow_probability\":%s,\"decision\":\"%s\","
             "\"shadow_decision\":\"%s\"",
             r->request_id, chosen->name, chosen->version, shadow->version, a, b,
             fr_decision_name(fr_thresholds_decide(&chosen->th, primary_p)),
             fr_decision_name(fr_thresholds_decide(&shadow->th, p)));
    fr_log(FR_LOG_DEBUG, "shadow_score", fields, "shadow version scored the transaction");
  }
}

/* After transaction i was featurized for its version: feeds every other
 * state group of the model, and scores the shadow version (with its own
 * features when its state group differs). */
static void feed_others(fr__req *r, fr__scratch *sc, fr__snapshot *snap, size_t i,
                        const float *row, float p) {
  fr__score_ctx *c = sc->score;
  slot *t = &c->t[i];
  fr__mv *chosen = t->mv;
  fr__mv *shadow = snap->shadow && snap->shadow != chosen ? snap->shadow : NULL;
  if (shadow && shadow->sg == chosen->sg)
    shadow_score(r, shadow, chosen, row, p, t->amount);
  for (size_t g = 0; g < snap->ngroups; g++) {
    fr__mv *rep = snap->group_rep[g];
    if (rep->sg == chosen->sg)
      continue;
    fr__mv *who = shadow && shadow->sg == rep->sg ? shadow : rep;
    fr_txn txn;
    txn.line = 0;
    if (same_schema(who, chosen)) {
      size_t nc = fr_schema_ncols(chosen->schema);
      txn.fields = c->fields + i * nc;
      txn.nfields = nc;
      txn.event_time = t->event_time;
    } else {
      size_t nca = fr_schema_ncols(who->schema);
      double et;
      if (grow((void **)&c->alt, &c->acap, nca, sizeof *c->alt) ||
          build_fields(r, who, c->rd.mem + t->m0, t->nm, c->alt, &et, &sc->arena, "", 0))
        continue; /* this version's schema cannot read the transaction */
      txn.fields = c->alt;
      txn.nfields = nca;
      txn.event_time = et;
    }
    if (fr__grow_floats(&sc->tmp_row, &sc->tcap, who->nfeatures))
      continue;
    fr_error err;
    if (fr_featurize(who->feat, &txn, who->sg->state, sc->tmp_row, 1, &err))
      continue; /* the store counts its own failures (fraud_state_errors_total) */
    if (who == shadow)
      shadow_score(r, shadow, chosen, sc->tmp_row, p, t->amount);
  }
}

static void put_result(fr__req *r, fr__score_ctx *c, size_t i, float p, double latency_us) {
  slot *t = &c->t[i];
  fr__mv *mv = t->mv;
  fr__buf *o = &r->out;
  fr__buf_puts(o, "{\"transaction_id\":");
  size_t hint = 0;
  const fr__member *id =
      mv->id_col >= 0 ? member_of(mv, (size_t)mv->id_col, c->rd.mem + t->m0, t->nm, &hint) : NULL;
  if (id && id->kind == FR__J_STRING)
    fr__buf_json_str(o, id->str, id->slen);
  else if (id && id->kind == FR__J_INTEGER)
    fr__buf_printf(o, "%lld", (long long)id->i);
  else if (id && id->kind == FR__J_REAL)
    fr__buf_json_double(o, id->num);
  else
    fr__buf_puts(o, "null");
  fr__buf_puts(o, ",\"fraud_probability\":");
  fr__buf_json_float(o, p);
  fr__buf_puts(o, ",\"decision\":\"");
  fr__buf_puts(o, fr_decision_name(fr_thresholds_decide(&mv->th, p)));
  fr__buf_putc(o, '"');
  if (t->flags & FR_FEATURIZE_DEGRADED)
    fr__buf_puts(o, ",\"degraded\":true"); /* state store down: empty history */
  if (t->flags & FR_FEATURIZE_LATE)
    fr__buf_puts(o, ",\"late\":true"); /* scored, not added to the state */
  if (t->flags & FR_FEATURIZE_DUPLICATE)
    fr__buf_puts(o, ",\"duplicate\":true"); /* a replay: not added again */
  if (c->explain_features) {
    fr__scratch *sc2 = r->scratch;
    const float *row = sc2->f + t->foff;
    fr__buf_puts(o, ",\"features\":{");
    for (size_t k = 0; k < mv->nfeatures; k++) {
      const char *fn = fr_featurizer_name(mv->feat, k);
      if (k)
        fr__buf_putc(o, ',');
      fr__buf_json_str(o, fn ? fn : "", fn ? strlen(fn) : 0);
      fr__buf_putc(o, ':');
      fr__buf_json_float(o, row[k]);
    }
    fr__buf_putc(o, '}');
  }
  if (c->reasons > 0 && (c->reasons_all || fr_thresholds_decide(&mv->th, p) != FR_APPROVE)) {
    /* Top-k TreeSHAP reasons: what moved this score (margin units).
     * TreeSHAP costs far more than scoring (O(trees x leaves x depth^2)), so
     * by default only flagged answers carry them. */
    fr_server *s = r->app;
    fr_reason_order ord = atomic_load_explicit(&s->reason_order, memory_order_relaxed)
                              ? FR_REASONS_BY_MAGNITUDE
                              : FR_REASONS_TOWARD_POSITIVE;
    size_t nr = 0;
    fr__scratch *sc = r->scratch;
    int rc = fr_forest_reasons(mv->forest, sc->f + t->foff, 0, (size_t)c->reasons, ord, c->rs, &nr);
    fr__buf_puts(o, ",\"reasons\":[");
    for (size_t k = 0; rc == 0 && k < nr; k++) {
      const char *fn = fr_featurizer_name(mv->feat, c->rs[k].feature);
      if (k)
        fr__buf_putc(o, ',');
      fr__buf_puts(o, "{\"feature\":");
      fr__buf_json_str(o, fn ? fn : "", fn ? strlen(fn) : 0);
      fr__buf_puts(o, ",\"value\":");
      fr__buf_json_float(o, c->rs[k].value);
      fr__buf_puts(o, ",\"contribution\":");
      fr__buf_json_float(o, c->rs[k].contribution);
      fr__buf_putc(o, '}');
    }
    fr__buf_putc(o, ']');
  }
  fr__buf_puts(o, ",\"model\":");
  fr__buf_json_str(o, mv->name, strlen(mv->name));
  fr__buf_puts(o, ",\"version\":");
  fr__buf_json_str(o, mv->version, strlen(mv->version));
  /* Tenths of a microsecond, formatted without printf (hot path). */
  uint64_t tenths = (uint64_t)(latency_us * 10.0 + 0.5);
  fr__buf_puts(o, ",\"latency_us\":");
  fr__buf_uint(o, tenths / 10);
  fr__buf_putc(o, '.');
  fr__buf_putc(o, (char)('0' + tenths % 10));
  fr__buf_putc(o, '}');
}

/* Builds the answer once every row has its probability (sc->prob). */
void fr__score_finish(fr__req *r) {
  fr__scratch *sc = r->scratch;
  fr__score_ctx *c = sc->score;
  fr__snapshot *snap = sc->pend.snap;
  int rc = 0;
  for (size_t k = 0; k < c->nitems; k++)
    rc = rc ? rc : c->items[k].rc;
  if (rc) {
    fr__req_error(r, 500, "internal", "inference failed: %s", fr_strerror(rc));
    if (c->n) /* routed: labelled like an answer */
      fr__str_copy(r->version, sizeof r->version, c->t[0].mv->version);
    goto done;
  }
  for (size_t i = 0; i < c->n; i++) {
    slot *t = &c->t[i];
    float p = sc->prob[t->row];
    observe_decision(t->mv, p, t->amount);
    fr__drift_observe(t->mv->drift, sc->f + t->foff, p);
    if (snap->ngroups > 1 || (snap->shadow && snap->shadow != t->mv))
      feed_others(r, sc, snap, i, sc->f + t->foff, p);
  }
  double lat = (double)(fr_monotonic_ns() - r->t0_ns) * 1e-3;
  fr__buf_reset(&r->out);
  if (c->is_array)
    fr__buf_putc(&r->out, '[');
  for (size_t i = 0; i < c->n; i++) {
    if (i)
      fr__buf_putc(&r->out, ',');
    put_result(r, c, i, sc->prob[c->t[i].row], lat);
  }
  if (c->is_array)
    fr__buf_putc(&r->out, ']');
  r->status = 200;
  /* Metric labels: the version that answered (the first, for arrays). */
  if (c->n)
    fr__str_copy(r->version, sizeof r->version, c->t[0].mv->version);
done:
  fr__snapshot_release(snap);
  sc->pend.snap = NULL;
  c->doc = NULL; /* arena memory */
}

static void score_batch_done(fr__batch_item *it) {
  fr__req *r = it->ctx;
  fr__scratch *sc = r->scratch;
  if (atomic_fetch_sub(&sc->score->outstanding, 1) == 1) {
    r->finish = fr__score_finish;
    fr__req_resume(r);
  }
}

static void predict_inline(fr__mv *mv, const float *x, size_t n, float *out, int *rc) {
  uint64_t t0 = fr_monotonic_ns();
  *rc = fr_forest_predict(mv->forest, x, n, out);
  fr__series_observe(mv->m_inference, (double)(fr_monotonic_ns() - t0) * 1e-9);
}

/* The value of a query parameter of /v1/score, read strictly: absent
 * gives 0 and *out NULL; a bare "?name" (no value) or a value holding a
 * NUL byte ("%00") answers a 400 naming the parameter and gives -1. */
static int query_value(fr__req *r, const fr__qparam *q, const char **out) {
  *out = q->value;
  if (!q->present)
    return 0;
  if (!q->value) {
    fr__req_error(r, 400, FR__REASON_BAD_TYPE, "query parameter '%s' has no value: give %s=VALUE",
                  q->name, q->name);
    return -1;
  }
  if (memchr(q->value, '\0', q->len)) {
    fr__req_error(r, 400, FR__REASON_BAD_TYPE, "query parameter '%s' holds a NUL byte", q->name);
    return -1;
  }
  return 0;
}

/* A decimal integer of ASCII digits only: no sign, no blank, no trailing
 * byte (fr_parse_int64 skips blanks around the number, right for a CSV
 * cell, not for a query parameter). */
static int strict_uint(const char *v, int64_t max, int64_t *out) {
  size_t n = strlen(v);
  if (n == 0 || n > 18 || strspn(v, "0123456789") != n)
    return -1;
  int64_t k = 0;
  for (size_t i = 0; i < n; i++)
    k = k * 10 + (v[i] - '0');
  if (k > max)
    return -1;
  *out = k;
  return 0;
}

/* The 503 of a request naming no model when none is loaded (no default
 * model configured): with the last load error of each model of the
 * repository, in its public form, as the V2 readiness answers give it, so
 * that a client sees why ("no model is loaded: model 'sparkov' is not
 * available: ...").  Off the hot path: it lists the repository. */
static void no_model_loaded(fr__req *r, fr_server *s) {
  if (!atomic_load(&s->loaded)) {
    fr__req_error(r, 503, "not_ready", "no model is loaded yet (server starting)");
    return;
  }
  char why[1200];
  size_t o = 0;
  why[0] = '\0';
  char **names = fr_repository_models(s->cfg.model_repository, NULL);
  for (size_t i = 0; names && names[i] && o + 1 < sizeof why; i++) {
    char last[600], pub[600];
    fr__registry_last_error(s->registry, names[i], last, sizeof last);
    if (!last[0])
      continue;
    fr__public_reason(s, last, pub, sizeof pub);
    int n = snprintf(why + o, sizeof why - o, "%smodel '%s' is not available: %s",
                     o ? "; " : ": ", names[i], pub);
    o = n < 0 ? sizeof why : o + (size_t)n;
  }
  fr_strv_free(names);
  fr__req_error(r, 503, "not_ready", "no model is loaded%s", why);
}

void fr__h_score(fr__req *r) {
  fr_server *s = r->app;
  fr__scratch *sc = r->scratch;
  if (!sc || (!sc->score && !(sc->score = calloc(1, sizeof *sc->score)))) {
    fr__req_error(r, 500, "internal", "out of memory");
    return;
  }
  fr__score_ctx *c = sc->score;
  /* One pass over the query string: exact names, each at most once. */
  fr__qparam qp[4] = {{.name = "model"}, {.name = "version"}, {.name = "reasons"},
                      {.name = "explain"}};
  const char *bad;
  int qrc = fr__req_query_read(r, qp, 4, &bad);
  if (qrc == FR__QUERY_REPEATED) {
    fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                  "query parameter '%s' is given more than once: give it once", bad);
    return;
  }
  if (qrc == FR__QUERY_UNKNOWN) {
    fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                  "unknown query parameter '%s' (expected model, version, reasons or explain; "
                  "names are case-sensitive)",
                  bad);
    return;
  }
  /* Model. */
  const char *name, *pin, *ex, *rq;
  if (query_value(r, &qp[0], &name) || query_value(r, &qp[1], &pin) ||
      query_value(r, &qp[3], &ex) || query_value(r, &qp[2], &rq))
    return;
  char def[128];
  char only[1][128];
  if (!name || !name[0]) {
    fr__server_default_model(s, def, sizeof def);
    if (def[0]) {
      name = def;
    } else {
      char names[2][128];
      size_t nl = fr__registry_loaded(s->registry, names, 2);
      if (nl == 1) {
        memcpy(only[0], names[0], 128);
        name = only[0];
      } else if (nl == 0) {
        no_model_loaded(r, s);
        return;
      } else {
        fr__req_error(r, 400, FR__REASON_MISSING,
                      "several models are loaded: name one with ?model=NAME (or set "
                      "repository.default_model)");
        return;
      }
    }
  }
  c->explain_features = 0;
  if (ex) {
    if (strcmp(ex, "features") != 0) {
      fr__req_error(r, 400, FR__REASON_BAD_TYPE, "explain: 'features' is the one value, not '%s'",
                    ex);
      return;
    }
    c->explain_features = 1;
  }
  c->reasons = atomic_load_explicit(&s->reasons, memory_order_relaxed);
  c->reasons_all = atomic_load_explicit(&s->reasons_for, memory_order_relaxed);
  if (rq) {
    c->reasons_all = 1; /* asked for: every answer */
    int64_t k;
    if (strict_uint(rq, 32, &k)) {
      fr__req_error(r, 400, FR__REASON_BAD_TYPE, "reasons: an integer from 0 to 32, not '%s'", rq);
      return;
    }
    c->reasons = (int)k;
  }
  fr__mv *pinned;
  fr__snapshot *snap = fr__resolve(r, name, pin && pin[0] ? pin : NULL, &pinned);
  if (!snap)
    return;
  /* The version metric label is the version the request was routed to: a
   * pinned one now; else production or canary, chosen per transaction
   * below, so a request failing before that is labelled version="". */
  if (!(pin && pin[0]))
    r->version[0] = '\0';
  sc->pend.snap = snap;
  if (!pinned->feat) {
    fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                  "model '%s' version '%s' is a bare model file without a feature spec: score "
                  "feature vectors with POST /v2/models/%s/infer",
                  pinned->name, pinned->version, pinned->name);
    goto fail;
  }
  /* Body: read with yajl (txnjson.h).  What the reader leaves - a syntax
   * error, or one of the rare inputs where yajl and jansson differ - goes
   * to jansson, which words the error message or gives the members; its
   * tree lives in the connection's pool until the next request (dropped,
   * never json_decref'ed).  Both give the same members. */
  c->doc = NULL;
  size_t maxc = 0;
  for (size_t i = 0; i < snap->n; i++)
    if (snap->v[i]->schema && fr_schema_ncols(snap->v[i]->schema) > maxc)
      maxc = fr_schema_ncols(snap->v[i]->schema);
  const char *body = r->body.data ? r->body.data : "";
  fr__reqpool_reset(&sc->arena);
  int read = fr__txnjson_read(&c->rd, body, r->body.len, &sc->arena);
  if (read < 0) {
    fr__req_error(r, 500, "internal", "out of memory");
    goto fail;
  }
  if (read) {
    c->is_array = c->rd.shape == FR__TXN_ARRAY;
    c->n = c->rd.n;
  } else {
    json_error_t je;
    fr__reqpool_reset(&sc->arena);
    fr__reqpool_enter(&sc->arena);
    c->doc = json_loadb(body, r->body.len, JSON_REJECT_DUPLICATES, &je);
    fr__reqpool_enter(NULL);
    if (!c->doc) {
      fr__req_error(r, 400, FR__REASON_BAD_JSON, "invalid JSON at line %d column %d: %s", je.line,
                    je.column, je.text);
      goto fail;
    }
    c->is_array = json_is_array(c->doc);
    if (!c->is_array && !json_is_object(c->doc)) {
      fr__req_error(r, 400, FR__REASON_BAD_JSON,
                    "the body must be a transaction (a JSON object) or an array of them");
      goto fail;
    }
    c->n = c->is_array ? json_array_size(c->doc) : 1;
  }
  if (c->n == 0 || c->n > MAX_TXNS) {
    fr__req_error(r, 400, FR__REASON_BAD_SHAPE, "%zu transactions in one request (1 to %d)", c->n,
                  MAX_TXNS);
    goto fail;
  }
  if (grow((void **)&c->t, &c->tcap, c->n, sizeof *c->t)) {
    fr__req_error(r, 500, "internal", "out of memory");
    goto fail;
  }
  if (c->doc) {
    /* Members of each object of the jansson tree, into the reader's
     * member array. */
    size_t total = 0;
    for (size_t i = 0; i < c->n; i++) {
      json_t *o = c->is_array ? json_array_get(c->doc, i) : c->doc;
      if (!json_is_object(o)) {
        char pre[48];
        where(pre, sizeof pre, c, i);
        fr__req_error(r, 400, FR__REASON_BAD_JSON, "%sa transaction must be a JSON object", pre);
        goto fail;
      }
      total += json_object_size(o);
    }
    if (grow((void **)&c->rd.mem, &c->rd.mcap, total + 1, sizeof *c->rd.mem)) {
      fr__req_error(r, 500, "internal", "out of memory");
      goto fail;
    }
    size_t nmem = 0;
    for (size_t i = 0; i < c->n; i++) {
      json_t *o = c->is_array ? json_array_get(c->doc, i) : c->doc;
      c->t[i].m0 = nmem;
      const char *k;
      json_t *v;
      json_object_foreach(o, k, v) {
        fr__member *m = &c->rd.mem[nmem++];
        memset(m, 0, sizeof *m);
        m->key = k;
        m->klen = strlen(k);
        m->khash = fr__txnjson_hash(k, m->klen);
        if (json_is_string(v)) {
          m->kind = FR__J_STRING;
          m->str = json_string_value(v);
          m->slen = json_string_length(v);
        } else if (json_is_integer(v)) {
          m->kind = FR__J_INTEGER;
          m->i = json_integer_value(v);
          m->num = (double)m->i;
        } else if (json_is_real(v)) {
          m->kind = FR__J_REAL;
          m->num = json_real_value(v);
        } else {
          m->kind = json_is_true(v) ? FR__J_TRUE : json_is_false(v) ? FR__J_FALSE
                    : json_is_null(v) ? FR__J_NULL : FR__J_OTHER;
        }
      }
      c->t[i].nm = nmem - c->t[i].m0;
    }
    c->rd.nmem = nmem;
  } else {
    if (c->rd.first_bad >= 0) {
      char pre[48];
      where(pre, sizeof pre, c, (size_t)c->rd.first_bad);
      fr__req_error(r, 400, FR__REASON_BAD_JSON, "%sa transaction must be a JSON object", pre);
      goto fail;
    }
    for (size_t i = 0; i < c->n; i++) {
      c->t[i].m0 = c->rd.span[i].m0;
      c->t[i].nm = c->rd.span[i].nm;
    }
  }
  /* Route and validate every transaction before touching any state.  The
   * newest event time accepted for an entity decides which later events
   * are "late" (scored, not stored), so an event far ahead of the wall
   * clock is refused (state.max_future_skew); the clock is read once per
   * request (a vDSO call, no system call). */
  double skew = atomic_load_explicit(&s->max_future_skew, memory_order_relaxed);
  double horizon = skew > 0 ? fr_now() + skew : INFINITY;
  if (grow((void **)&c->fields, &c->fcap, c->n * maxc, sizeof *c->fields)) {
    fr__req_error(r, 500, "internal", "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < c->n; i++) {
    slot *t = &c->t[i];
    char pre[48];
    where(pre, sizeof pre, c, i);
    const fr__member *ms = c->rd.mem + t->m0;
    t->mv = pin && pin[0] ? pinned : route(s, snap, ms, t->nm, &sc->arena);
    if (!t->mv->feat) {
      fr__req_error(r, 400, FR__REASON_BAD_TYPE, "%sversion '%s' has no feature spec", pre,
                    t->mv->version);
      fr__str_copy(r->version, sizeof r->version, t->mv->version);
      goto fail;
    }
    size_t nc = fr_schema_ncols(t->mv->schema);
    if (build_fields(r, t->mv, ms, t->nm, c->fields + i * nc, &t->event_time, &sc->arena, pre,
                     1)) {
      fr__str_copy(r->version, sizeof r->version, t->mv->version); /* it refused the row */
      goto fail;
    }
    if (t->event_time > horizon) {
      int tc = fr_schema_role_column(t->mv->schema, FR_ROLE_EVENT_TIME);
      char e[40], sk[40];
      fr_fmt_iso8601(e, sizeof e, t->event_time);
      fr_fmt_double(sk, sizeof sk, skew);
      fr__req_error(r, 400, FR__REASON_OUT_OF_RANGE,
                    "%sfield '%s': event time %s is more than %s s ahead of the server's clock "
                    "(state.max_future_skew)",
                    pre, tc >= 0 ? fr_schema_column(t->mv->schema, (size_t)tc)->name : "",
                    e, sk);
      fr__str_copy(r->version, sizeof r->version, t->mv->version);
      goto fail;
    }
    t->amount = NAN;
    if (t->mv->amount_col >= 0) {
      const fr_field *af = &c->fields[i * nc + (size_t)t->mv->amount_col];
      if (af->present && fr_schema_column(t->mv->schema, (size_t)t->mv->amount_col)->type == FR_COL_NUMBER)
        t->amount = af->num;
    }
  }
  /* Rows grouped by version, so each version's rows are contiguous for its
   * batcher; request order within a version. */
  size_t cnt[FR__MAX_LOADED] = {0}, row0[FR__MAX_LOADED], foff0[FR__MAX_LOADED];
  for (size_t i = 0; i < c->n; i++) {
    size_t vi = 0;
    while (snap->v[vi] != c->t[i].mv)
      vi++;
    cnt[vi]++;
  }
  size_t rows = 0, floats = 0;
  c->nitems = 0;
  fr__mv *item_mv[FR__MAX_LOADED];
  for (size_t vi = 0; vi < snap->n; vi++) {
    row0[vi] = rows;
    foff0[vi] = floats;
    rows += cnt[vi];
    floats += cnt[vi] * snap->v[vi]->nfeatures;
  }
  if (fr__grow_floats(&sc->f, &sc->fcap, floats + 1) ||
      fr__grow_floats(&sc->prob, &sc->ocap, c->n)) {
    fr__req_error(r, 500, "internal", "out of memory");
    goto fail;
  }
  for (size_t vi = 0; vi < snap->n; vi++) {
    if (!cnt[vi])
      continue;
    fr__batch_item *it = &c->items[c->nitems];
    memset(it, 0, sizeof *it);
    it->x = sc->f + foff0[vi];
    it->n = cnt[vi];
    it->prob = sc->prob + row0[vi];
    it->ctx = r;
    it->done = score_batch_done;
    item_mv[c->nitems++] = snap->v[vi];
  }
  size_t seen[FR__MAX_LOADED] = {0};
  for (size_t i = 0; i < c->n; i++) {
    slot *t = &c->t[i];
    size_t vi = 0;
    while (snap->v[vi] != t->mv)
      vi++;
    t->row = row0[vi] + seen[vi];
    t->foff = foff0[vi] + seen[vi] * t->mv->nfeatures;
    seen[vi]++;
  }
  /* Featurize in request order: state is updated transaction by transaction. */
  for (size_t i = 0; i < c->n; i++) {
    slot *t = &c->t[i];
    size_t nc = fr_schema_ncols(t->mv->schema);
    fr_txn txn = {t->event_time, c->fields + i * nc, nc, 0};
    fr_error err;
    uint64_t t0 = fr_monotonic_ns();
    t->flags = 0;
    int rc = fr_featurize_ex(t->mv->feat, &txn, t->mv->sg->state, sc->f + t->foff, 1, &t->flags,
                             &err);
    fr__series_observe(t->mv->m_featurize, (double)(fr_monotonic_ns() - t0) * 1e-9);
    if (rc) {
      char pre[48];
      where(pre, sizeof pre, c, i);
      fr__str_copy(r->version, sizeof r->version, t->mv->version);
      if (rc == FR_EUNAVAIL) /* the store's address stays in the server log
                                (state_store_down events), not in answers */
        fr__req_error(r, 503, FR__REASON_STATE_UNAVAILABLE,
                      "%sthe feature state store is unavailable; retry later", pre);
      else
        fr__req_error(r, rc == FR_EINVAL ? 400 : 500,
                      rc == FR_EINVAL ? FR__REASON_BAD_TYPE : "internal", "%s%s", pre, err.msg);
      goto fail;
    }
  }
  /* Score: through the batchers when batching is on for every version
   * involved (and each block fits), else here on the HTTP thread. */
  int batching = 1;
  for (size_t k = 0; k < c->nitems; k++)
    batching &= atomic_load_explicit(&item_mv[k]->batching, memory_order_relaxed) &&
                c->items[k].n <= (size_t)fr__batcher_max_batch(item_mv[k]->batcher);
  if (batching) {
    atomic_store(&c->outstanding, (int)c->nitems);
    /* Suspend first: a batch may complete before submit returns. */
    fr__req_suspend(r);
    for (size_t k = 0; k < c->nitems; k++) {
      if (fr__batcher_submit(item_mv[k]->batcher, &c->items[k]) == 0)
        continue;
      /* Not queued (stopping): score this block here, count it done. */
      predict_inline(item_mv[k], c->items[k].x, c->items[k].n, c->items[k].prob,
                     &c->items[k].rc);
      score_batch_done(&c->items[k]);
    }
    return;
  }
  for (size_t k = 0; k < c->nitems; k++)
    predict_inline(item_mv[k], c->items[k].x, c->items[k].n, c->items[k].prob, &c->items[k].rc);
  fr__score_finish(r);
  return;
fail:
  fr__snapshot_release(sc->pend.snap);
  sc->pend.snap = NULL;
  c->doc = NULL; /* arena memory */
}
