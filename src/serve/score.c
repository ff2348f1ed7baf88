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
 * label column may be left out; unknown keys are ignored.  Every transaction
 * of a request is validated before any state changes, then each is
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

#define MAX_TXNS 10000

typedef struct slot {
  fr__mv *mv;       /* version that answers */
  json_t *obj;      /* the transaction (borrowed from doc) */
  size_t row;       /* its output row */
  size_t foff;      /* offset of its feature row in the scratch matrix */
  double event_time;
  double amount;    /* NaN when the schema has no amount or it is missing */
} slot;

typedef struct fr__score_ctx {
  json_t *doc;
  int is_array;
  size_t n;
  slot *t;
  size_t tcap;
  fr_field *fields; /* n x ncols of the chosen version's schema */
  size_t fcap;
  fr_field *alt;    /* one row for another schema (feeding) */
  size_t acap;
  _Atomic int outstanding;
  fr__batch_item items[FR__MAX_LOADED];
  size_t nitems;
} fr__score_ctx;

void fr__score_free(fr__scratch *sc) {
  if (!sc || !sc->score)
    return;
  fr__score_ctx *c = sc->score;
  c->doc = NULL; /* arena memory, freed with the connection's arena */
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

/* Text of a JSON scalar used as a key or a STRING cell: strings as they are,
 * integers in decimal (the text a CSV cell would hold).  0 or -1. */
static int scalar_text(const json_t *v, fr__buf *strings, const char **p, size_t *len) {
  if (json_is_string(v)) {
    *p = json_string_value(v);
    *len = json_string_length(v);
    return 0;
  }
  if (json_is_integer(v)) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
    size_t off = strings->len;
    fr__buf_append(strings, tmp, (size_t)n + 1); /* reserved in advance: no move */
    if (strings->oom)
      return -1;
    *p = strings->data + off;
    *len = (size_t)n;
    return 0;
  }
  return -1;
}

/* Fills fields[0..ncols) of `schema` from obj.  Returns 0, or an HTTP error
 * already answered (reason + message) and -1. */
static int build_fields(fr__req *r, const fr_schema *schema, const json_t *obj, fr_field *fields,
                        double *event_time, fr__buf *strings, const char *pre, int answer) {
  size_t nc = fr_schema_ncols(schema);
  int time_col = fr_schema_role_column(schema, FR_ROLE_EVENT_TIME);
  const fr_time_format *tf = fr_schema_time_format(schema);
  *event_time = NAN;
  for (size_t c = 0; c < nc; c++) {
    const fr_column_info *ci = fr_schema_column(schema, c);
    fr_field *f = &fields[c];
    memset(f, 0, sizeof *f);
    f->num = NAN;
    json_t *v = json_object_get(obj, ci->name);
    if (!v || json_is_null(v)) {
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
      continue;
    }
    fr_error err;
    if (json_is_string(v)) {
      if (fr_schema_parse_cell(schema, c, json_string_value(v), json_string_length(v), f, &err)) {
        if (answer)
          fr__req_error(r, 400, FR__REASON_BAD_TYPE, "%sfield '%s': %s", pre, ci->name, err.msg);
        return -1;
      }
    } else if (json_is_number(v)) {
      if (ci->type == FR_COL_NUMBER) {
        f->num = json_number_value(v);
        f->present = 1;
      } else {
        const char *p;
        size_t len;
        if (scalar_text(v, strings, &p, &len)) {
          if (answer)
            fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                          "%sfield '%s': a text column takes a string (or an integer), got a "
                          "fractional number",
                          pre, ci->name);
          return -1;
        }
        if (fr_schema_parse_cell(schema, c, p, len, f, &err)) {
          if (answer)
            fr__req_error(r, 400, FR__REASON_BAD_TYPE, "%sfield '%s': %s", pre, ci->name, err.msg);
          return -1;
        }
      }
    } else {
      if (answer)
        fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                      "%sfield '%s': expected a number or a string, got %s", pre, ci->name,
                      json_is_boolean(v) ? "a boolean" : json_is_array(v) ? "an array" : "an object");
      return -1;
    }
    if ((int)c == time_col) {
      /* The event time, as the CSV reader computes it. */
      double t = NAN;
      int bad = 0;
      if (json_is_string(v)) {
        bad = fr_time_parse(tf, json_string_value(v), json_string_length(v), &t) != 0;
      } else {
        double x = json_number_value(v);
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
      *event_time = t;
    }
  }
  if (time_col < 0)
    *event_time = NAN;
  return 0;
}

/* Canary routing: a keyed hash of the routing entity's key, mapped to [0, 1). */
static fr__mv *route(fr_server *s, fr__snapshot *snap, const json_t *obj, fr__buf *strings) {
  fr__mv *p = snap->primary;
  if (!snap->canary || !(snap->canary_weight > 0) || p->route_entity < 0 || !p->schema)
    return p;
  size_t nk;
  const int *cols = fr_schema_entity_columns(p->schema, (size_t)p->route_entity, &nk);
  char key[512];
  size_t kl = 0;
  for (size_t i = 0; i < nk; i++) {
    const fr_column_info *ci = fr_schema_column(p->schema, (size_t)cols[i]);
    json_t *v = json_object_get(obj, ci->name);
    const char *t;
    size_t len;
    if (!v || scalar_text(v, strings, &t, &len))
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
          build_fields(r, who->schema, t->obj, c->alt, &et, &sc->strings, "", 0))
        continue; /* this version's schema cannot read the transaction */
      txn.fields = c->alt;
      txn.nfields = nca;
      txn.event_time = et;
    }
    if (fr__grow_floats(&sc->tmp_row, &sc->tcap, who->nfeatures))
      continue;
    fr_error err;
    if (fr_featurize(who->feat, &txn, who->sg->state, sc->tmp_row, 1, &err)) {
      const char *lb[] = {who->sg->backend};
      fr__series_add(fr__metrics_get(((fr_server *)r->app)->metrics, M_STATE_ERRORS, lb), 1);
      continue;
    }
    if (who == shadow)
      shadow_score(r, shadow, chosen, sc->tmp_row, p, t->amount);
  }
}

static void put_result(fr__req *r, fr__score_ctx *c, size_t i, float p, double latency_us) {
  slot *t = &c->t[i];
  fr__mv *mv = t->mv;
  fr__buf *o = &r->out;
  fr__buf_puts(o, "{\"transaction_id\":");
  json_t *id = mv->id_col >= 0 ? json_object_get(t->obj, fr_schema_column(mv->schema, (size_t)mv->id_col)->name) : NULL;
  if (json_is_string(id))
    fr__buf_json_str(o, json_string_value(id), json_string_length(id));
  else if (json_is_integer(id))
    fr__buf_printf(o, "%lld", (long long)json_integer_value(id));
  else if (json_is_real(id))
    fr__buf_json_double(o, json_real_value(id));
  else
    fr__buf_puts(o, "null");
  fr__buf_puts(o, ",\"fraud_probability\":");
  fr__buf_json_float(o, p);
  fr__buf_printf(o, ",\"decision\":\"%s\",\"model\":",
                 fr_decision_name(fr_thresholds_decide(&mv->th, p)));
  fr__buf_json_str(o, mv->name, strlen(mv->name));
  fr__buf_puts(o, ",\"version\":");
  fr__buf_json_str(o, mv->version, strlen(mv->version));
  fr__buf_printf(o, ",\"latency_us\":%.1f}", latency_us);
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
    snprintf(r->version, sizeof r->version, "%s", c->t[0].mv->version);
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

void fr__h_score(fr__req *r) {
  fr_server *s = r->app;
  fr__scratch *sc = r->scratch;
  if (!sc || (!sc->score && !(sc->score = calloc(1, sizeof *sc->score)))) {
    fr__req_error(r, 500, "internal", "out of memory");
    return;
  }
  fr__score_ctx *c = sc->score;
  /* Model. */
  const char *name = fr__req_query(r, "model");
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
        fr__req_error(r, 503, "not_ready", "no model is loaded");
        return;
      } else {
        fr__req_error(r, 400, FR__REASON_MISSING,
                      "several models are loaded: name one with ?model=NAME (or set "
                      "repository.default_model)");
        return;
      }
    }
  }
  const char *pin = fr__req_query(r, "version");
  fr__mv *pinned;
  fr__snapshot *snap = fr__resolve(r, name, pin && pin[0] ? pin : NULL, &pinned);
  if (!snap)
    return;
  sc->pend.snap = snap;
  if (!pinned->feat) {
    fr__req_error(r, 400, FR__REASON_BAD_TYPE,
                  "model '%s' version '%s' is a bare model file without a feature spec: score "
                  "feature vectors with POST /v2/models/%s/infer",
                  pinned->name, pinned->version, pinned->name);
    goto fail;
  }
  /* Body: the JSON tree lives in the connection's arena until its next
   * request (dropped, never json_decref'ed). */
  json_error_t je;
  c->doc = NULL;
  fr__reqpool_reset(&sc->arena);
  fr__reqpool_enter(&sc->arena);
  c->doc = json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &je);
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
  if (c->n == 0 || c->n > MAX_TXNS) {
    fr__req_error(r, 400, FR__REASON_BAD_SHAPE, "%zu transactions in one request (1 to %d)", c->n,
                  MAX_TXNS);
    goto fail;
  }
  if (grow((void **)&c->t, &c->tcap, c->n, sizeof *c->t)) {
    fr__req_error(r, 500, "internal", "out of memory");
    goto fail;
  }
  /* Route and validate every transaction before touching any state. */
  fr__buf_reset(&sc->strings);
  size_t maxc = 0;
  for (size_t i = 0; i < snap->n; i++)
    if (snap->v[i]->schema && fr_schema_ncols(snap->v[i]->schema) > maxc)
      maxc = fr_schema_ncols(snap->v[i]->schema);
  /* Integer texts for text columns and keys: reserve so pointers stay put. */
  if (fr__buf_reserve(&sc->strings, c->n * (maxc + 4) * 24) ||
      grow((void **)&c->fields, &c->fcap, c->n * maxc, sizeof *c->fields)) {
    fr__req_error(r, 500, "internal", "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < c->n; i++) {
    slot *t = &c->t[i];
    t->obj = c->is_array ? json_array_get(c->doc, i) : c->doc;
    char pre[48];
    where(pre, sizeof pre, c, i);
    if (!json_is_object(t->obj)) {
      fr__req_error(r, 400, FR__REASON_BAD_JSON, "%sa transaction must be a JSON object", pre);
      goto fail;
    }
    t->mv = pin && pin[0] ? pinned : route(s, snap, t->obj, &sc->strings);
    if (!t->mv->feat) {
      fr__req_error(r, 400, FR__REASON_BAD_TYPE, "%sversion '%s' has no feature spec", pre,
                    t->mv->version);
      goto fail;
    }
    size_t nc = fr_schema_ncols(t->mv->schema);
    if (build_fields(r, t->mv->schema, t->obj, c->fields + i * nc, &t->event_time, &sc->strings,
                     pre, 1))
      goto fail;
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
    int rc = fr_featurize(t->mv->feat, &txn, t->mv->sg->state, sc->f + t->foff, 1, &err);
    fr__series_observe(t->mv->m_featurize, (double)(fr_monotonic_ns() - t0) * 1e-9);
    if (rc) {
      const char *lb[] = {t->mv->sg->backend};
      if (rc == FR_EUNAVAIL)
        fr__series_add(fr__metrics_get(s->metrics, M_STATE_ERRORS, lb), 1);
      char pre[48];
      where(pre, sizeof pre, c, i);
      fr__req_error(r, rc == FR_EUNAVAIL ? 503 : rc == FR_EINVAL ? 400 : 500,
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
