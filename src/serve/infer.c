/*
 * infer.c - the KServe V2 / Open Inference Protocol model endpoints: model
 * metadata, model readiness and inference (JSON or binary tensors), with the
 * request scored on its HTTP thread or through the model's dynamic batcher.
 *
 * A bundle declares one input, "features" FP32 [-1, F] (F = the bundle's
 * feature count, in its feature order), and the outputs "probability" FP32
 * [-1], "label" INT32 [-1] (1 when probability >= the bundle's decline
 * threshold) and "margin" FP32 [-1]; without an "outputs" list a response
 * carries probability and label.  A bare model file uses Triton FIL's names:
 * "input__0" and "output__0" (the probability), label threshold 0.5.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/models.h"

enum { OUT_PROB = 0, OUT_LABEL = 1, OUT_MARGIN = 2, OUT_CONTRIB = 3 };

fr__snapshot *fr__resolve(fr__req *r, const char *name, const char *version, fr__mv **mv) {
  fr_server *s = r->app;
  *mv = NULL;
  if (!name || !name[0]) {
    fr__req_error(r, 400, "unknown_model", "no model named");
    return NULL;
  }
  snprintf(r->model, sizeof r->model, "%s", fr_repository_name_ok(name) ? name : "");
  fr__snapshot *snap = fr_repository_name_ok(name) ? fr__registry_acquire(s->registry, name) : NULL;
  if (!snap) {
    char why[600];
    fr__registry_last_error(s->registry, name, why, sizeof why);
    r->model[0] = '\0'; /* keep client-typed names out of the metric labels */
    if (!atomic_load(&s->loaded)) {
      fr__req_error(r, 503, "not_ready", "model '%s' is not loaded yet (server starting)", name);
    } else if (fr_repository_name_ok(name) && fr__registry_is_unloaded(s->registry, name)) {
      fr__req_error(r, 503, "not_ready",
                    "model '%s' was unloaded through the repository API (load it again with "
                    "POST /v2/repository/models/%s/load)",
                    name, name);
    } else if (why[0]) {
      /* The load error names files; the answer names the model only. */
      char pub[600];
      fr__public_reason(s, why, pub, sizeof pub);
      fr__req_error(r, 503, "not_ready", "model '%s' is not available: %s", name, pub);
    } else {
      fr__req_error(r, 404, "unknown_model", "unknown model '%s'", name);
    }
    return NULL;
  }
  if (version) {
    *mv = fr__snapshot_find(snap, version);
    if (!*mv) {
      fr__req_error(r, 404, "unknown_model", "model '%s' has no loaded version '%s'", name,
                    version);
      fr__snapshot_release(snap);
      return NULL;
    }
  } else {
    *mv = snap->primary;
  }
  fr__str_copy(r->version, sizeof r->version, (*mv)->version);
  return snap;
}

static void put_output_meta(fr__buf *o, const char *name, const char *dt, int first) {
  if (!first)
    fr__buf_putc(o, ',');
  fr__buf_puts(o, "{\"name\":");
  fr__buf_json_str(o, name, strlen(name));
  fr__buf_printf(o, ",\"datatype\":\"%s\",\"shape\":[-1]}", dt);
}

void fr__h_model_metadata(fr__req *r) {
  fr__mv *mv;
  fr__snapshot *snap = fr__resolve(r, fr__route_capture(&r->match, "m"),
                                   fr__route_capture(&r->match, "v"), &mv);
  if (!snap)
    return;
  fr__buf *o = &r->out;
  fr__buf_puts(o, "{\"name\":");
  fr__buf_json_str(o, snap->name, strlen(snap->name));
  fr__buf_puts(o, ",\"versions\":[");
  for (size_t i = 0; i < snap->n; i++) {
    if (i)
      fr__buf_putc(o, ',');
    fr__buf_json_str(o, snap->v[i]->version, strlen(snap->v[i]->version));
  }
  fr__buf_puts(o, "],\"platform\":\"fraud_forest\",\"inputs\":[{\"name\":");
  fr__buf_json_str(o, mv->input_name, strlen(mv->input_name));
  fr__buf_printf(o, ",\"datatype\":\"FP32\",\"shape\":[-1,%zu]}],\"outputs\":[", mv->nfeatures);
  put_output_meta(o, mv->prob_name, "FP32", 1);
  put_output_meta(o, "label", "INT32", 0);
  put_output_meta(o, "margin", "FP32", 0);
  fr__buf_puts(o, ",{\"name\":");
  fr__buf_json_str(o, mv->contrib_name, strlen(mv->contrib_name));
  fr__buf_printf(o, ",\"datatype\":\"FP32\",\"shape\":[-1,%zu]}", mv->nfeatures + 1);
  fr__buf_puts(o, "],\"parameters\":{\"version\":");
  fr__buf_json_str(o, mv->version, strlen(mv->version));
  fr__buf_printf(o, ",\"role\":\"%s\"",
                 mv == snap->primary  ? "production"
                 : mv == snap->canary ? "canary"
                 : mv == snap->shadow ? "shadow"
                                      : "loaded");
  fr__buf_puts(o, ",\"thresholds\":{\"review\":");
  fr__buf_json_double(o, mv->th.review);
  fr__buf_puts(o, ",\"decline\":");
  fr__buf_json_double(o, mv->th.decline);
  fr__buf_printf(o, "},\"online_features\":%s,\"feature_names\":[", mv->feat ? "true" : "false");
  for (size_t i = 0; i < mv->nfeatures; i++) {
    const char *fn = mv->feat ? fr_featurizer_name(mv->feat, i) : fr_forest_feature_name(mv->forest, i);
    if (i)
      fr__buf_putc(o, ',');
    if (fn)
      fr__buf_json_str(o, fn, strlen(fn));
    else
      fr__buf_printf(o, "\"f%zu\"", i);
  }
  fr__buf_puts(o, "]}}");
  fr__snapshot_release(snap);
}

void fr__h_model_ready(fr__req *r) {
  fr__mv *mv;
  fr__snapshot *snap = fr__resolve(r, fr__route_capture(&r->match, "m"),
                                   fr__route_capture(&r->match, "v"), &mv);
  if (!snap)
    return;
  fr__buf_puts(&r->out, "{\"name\":");
  fr__buf_json_str(&r->out, snap->name, strlen(snap->name));
  fr__buf_puts(&r->out, ",\"version\":");
  fr__buf_json_str(&r->out, mv->version, strlen(mv->version));
  fr__buf_puts(&r->out, ",\"ready\":true}");
  fr__snapshot_release(snap);
}

/* Builds the response from the scratch outputs. */
void fr__infer_finish(fr__req *r) {
  fr__scratch *sc = r->scratch;
  fr__pending *p = &sc->pend;
  fr__mv *mv = p->mv;
  if (sc->item.rc) {
    fr__req_error(r, 500, "internal", "inference failed: %s", fr_strerror(sc->item.rc));
    goto done;
  }
  size_t n = p->rows;
  int64_t shape[1] = {(int64_t)n};
  if (sc->item.prob)
    for (size_t i = 0; i < n; i++)
      fr__drift_observe(mv->drift, sc->item.x + i * mv->nfeatures, sc->prob[i]);
  if (p->want_label) {
    if (n > sc->lcap) {
      int32_t *l = realloc(sc->labels, n * sizeof *l);
      if (!l) {
        fr__req_error(r, 500, "internal", "out of memory");
        goto done;
      }
      sc->labels = l;
      sc->lcap = n;
    }
    for (size_t i = 0; i < n; i++)
      sc->labels[i] = sc->prob[i] >= mv->th.decline ? 1 : 0;
  }
  /* TreeSHAP contributions, [n, F + 1] (features then bias), on request. */
  if (p->want_contrib) {
    size_t w1 = mv->nfeatures + 1;
    if (fr__grow_floats(&sc->contrib, &sc->ccap, n * w1)) {
      fr__req_error(r, 500, "internal", "out of memory");
      goto done;
    }
    int rc = fr_forest_shap(mv->forest, sc->item.x, n, sc->contrib);
    if (rc) {
      fr__req_error(r, rc == FR_EUNAVAIL ? 400 : 500, rc == FR_EUNAVAIL ? "bad_request" : "internal",
                    "%s: contributions unavailable for this model (%s)", mv->contrib_name,
                    fr_strerror(rc));
      goto done;
    }
  }
  /* A bare model's output__0 follows its Triton FIL config (class
   * probabilities, class id or the prediction itself). */
  const float *out0 = sc->prob;
  size_t w0 = 1;
  if (mv->bare && p->want_prob) {
    w0 = mv->out_width;
    if (fr__grow_floats(&sc->tmp_row, &sc->tcap, n * w0)) {
      fr__req_error(r, 500, "internal", "out of memory");
      goto done;
    }
    fr_forest_dir_output(mv->forest, &mv->fil, sc->prob, n, sc->tmp_row);
    out0 = sc->tmp_row;
  }
  fr__v2_response *w = &sc->v2out;
  fr__v2_response_begin(w, mv->name, mv->version, sc->v2.id);
  for (int k = 0; k < p->norder; k++) {
    switch (p->order[k]) {
    case OUT_PROB: {
      int64_t s2[2] = {(int64_t)n, (int64_t)w0};
      fr__v2_response_output(w, mv->prob_name, FR__DT_FP32, s2, w0 == 1 ? 1 : 2, out0, n * w0,
                             p->bin_prob);
      break;
    }
    case OUT_CONTRIB: {
      int64_t s2[2] = {(int64_t)n, (int64_t)(mv->nfeatures + 1)};
      fr__v2_response_output(w, mv->contrib_name, FR__DT_FP32, s2, 2, sc->contrib,
                             n * (mv->nfeatures + 1), p->bin_contrib);
      break;
    }
    case OUT_LABEL:
      fr__v2_response_output(w, "label", FR__DT_INT32, shape, 1, sc->labels, n, p->bin_label);
      break;
    case OUT_MARGIN:
      fr__v2_response_output(w, "margin", FR__DT_FP32, shape, 1, sc->margin, n, p->bin_margin);
      break;
    }
  }
  fr__v2_response_end(w);
  fr__buf_reset(&r->out);
  fr__buf_append(&r->out, w->json.data, w->json.len);
  if (w->bin.len) {
    r->inference_header_len = w->json.len;
    fr__buf_append(&r->out, w->bin.data, w->bin.len);
    r->content_type = "application/octet-stream";
  }
  if (w->json.oom || w->bin.oom)
    fr__req_error(r, 500, "internal", "out of memory building the response");
  r->status = 200;
done:
  fr__snapshot_release(p->snap);
  p->snap = NULL;
  p->mv = NULL;
  fr__v2_request_clear(&sc->v2);
}

static void run_inline(fr__mv *mv, fr__batch_item *it) {
  uint64_t t0 = fr_monotonic_ns();
  int rc = 0;
  if (it->prob)
    rc = fr_forest_predict(mv->forest, it->x, it->n, it->prob);
  if (!rc && it->margin)
    rc = fr_forest_predict_margin(mv->forest, it->x, it->n, it->margin);
  fr__series_observe(mv->m_inference, (double)(fr_monotonic_ns() - t0) * 1e-9);
  it->rc = rc;
}

static void batch_done(fr__batch_item *it) {
  fr__req *r = it->ctx;
  r->finish = fr__infer_finish;
  fr__req_resume(r);
}

void fr__h_infer(fr__req *r) {
  fr_server *s = r->app;
  fr__scratch *sc = r->scratch;
  if (!sc) {
    fr__req_error(r, 500, "internal", "out of memory");
    return;
  }
  fr__mv *mv;
  fr__snapshot *snap = fr__resolve(r, fr__route_capture(&r->match, "m"),
                                   fr__route_capture(&r->match, "v"), &mv);
  if (!snap)
    return;
  fr__pending *p = &sc->pend;
  memset(p, 0, sizeof *p);
  p->snap = snap;
  p->mv = mv;
  const char *hl = fr__req_header(r, "Inference-Header-Content-Length");
  size_t json_len = (size_t)-1;
  if (hl) {
    /* ASCII digits only, like any length (RFC 9110 section 8.6's
     * Content-Length = 1*DIGIT): fr_parse_int64 would take a sign or
     * blanks around the number.  libmicrohttpd strips the header's
     * optional whitespace (RFC 9110 section 5.5) before we see it. */
    size_t hn = strlen(hl);
    int64_t v = -1;
    if (hn == 0 || hn > 18 || strspn(hl, "0123456789") != hn ||
        fr_parse_int64(hl, hn, &v) || v < 0) {
      fr__req_error(r, 400, FR__REASON_BAD_JSON, "Inference-Header-Content-Length: not a length: '%s'", hl);
      goto fail;
    }
    json_len = (size_t)v;
  }
  fr__v2_limits lim = {atomic_load(&s->max_tensor_elements)};
  const char *why = NULL;
  fr_error err;
  /* The JSON tree lives in the connection's arena until its next request. */
  fr__v2_request_clear(&sc->v2);
  fr__reqpool_reset(&sc->arena);
  sc->v2.in_arena = 1;
  fr__reqpool_enter(&sc->arena);
  int prc = fr__v2_request_parse(&sc->v2, r->body.data ? r->body.data : "", r->body.len, json_len,
                                 &lim, &why, &err);
  fr__reqpool_enter(NULL);
  if (prc) {
    fr__req_error(r, err.code == FR_ENOMEM ? 500 : 400, why, "%s", err.msg);
    goto fail;
  }
  fr__v2_request *q = &sc->v2;
  if (q->ninputs != 1) {
    fr__req_error(r, 400, FR__REASON_BAD_SHAPE, "inputs: model '%s' takes one input ('%s'), got %zu",
                  mv->name, mv->input_name, q->ninputs);
    goto fail;
  }
  fr__v2_input *in = &q->inputs[0];
  if (strcmp(in->name, mv->input_name) != 0) {
    fr__req_error(r, 400, FR__REASON_MISSING, "inputs[0].name: unknown input '%s' (model '%s' takes '%s')",
                  in->name, mv->name, mv->input_name);
    goto fail;
  }
  if (in->rank != 2 || (size_t)in->shape[1] != mv->nfeatures) {
    char sh[128];
    fr__v2_fmt_shape(sh, sizeof sh, in->shape, in->rank);
    fr__req_error(r, 400, FR__REASON_BAD_SHAPE,
                  "inputs[0].shape: %s does not match the model's [N, %zu] (N rows of %zu features)",
                  sh, mv->nfeatures, mv->nfeatures);
    goto fail;
  }
  size_t n = (size_t)in->shape[0];
  p->rows = n;
  /* Requested outputs, in request order. */
  if (q->noutputs == 0) {
    p->order[p->norder++] = OUT_PROB;
    p->want_prob = 1;
    p->bin_prob = q->binary_output;
    if (mv->feat) {
      p->order[p->norder++] = OUT_LABEL;
      p->want_label = 1;
      p->bin_label = q->binary_output;
    }
  } else {
    for (size_t i = 0; i < q->noutputs; i++) {
      const char *nm = q->outputs[i].name;
      int k = strcmp(nm, mv->prob_name) == 0      ? OUT_PROB
              : strcmp(nm, "label") == 0          ? OUT_LABEL
              : strcmp(nm, "margin") == 0         ? OUT_MARGIN
              : strcmp(nm, mv->contrib_name) == 0 ? OUT_CONTRIB
                                                  : -1;
      if (k < 0) {
        fr__req_error(r, 400, FR__REASON_MISSING,
                      "outputs[%zu].name: unknown output '%s' (model '%s' outputs %s, label, "
                      "margin, %s)",
                      i, nm, mv->name, mv->prob_name, mv->contrib_name);
        goto fail;
      }
      int *want = k == OUT_PROB    ? &p->want_prob
                  : k == OUT_LABEL ? &p->want_label
                  : k == OUT_MARGIN ? &p->want_margin
                                    : &p->want_contrib;
      int *bin = k == OUT_PROB    ? &p->bin_prob
                 : k == OUT_LABEL ? &p->bin_label
                 : k == OUT_MARGIN ? &p->bin_margin
                                   : &p->bin_contrib;
      if (*want) {
        fr__req_error(r, 400, FR__REASON_BAD_JSON, "outputs[%zu].name: '%s' requested twice", i, nm);
        goto fail;
      }
      *want = 1;
      *bin = q->outputs[i].binary;
      p->order[p->norder++] = k;
    }
  }
  /* Labels need probabilities. */
  int need_prob = p->want_prob || p->want_label;
  if (fr__grow_floats(&sc->prob, &sc->ocap, n) || fr__grow_floats(&sc->margin, &sc->mcap, n)) {
    fr__req_error(r, 500, "internal", "out of memory");
    goto fail;
  }
  fr__batch_item *it = &sc->item;
  memset(it, 0, sizeof *it);
  it->x = in->values;
  it->n = n;
  it->prob = need_prob ? sc->prob : NULL;
  it->margin = p->want_margin ? sc->margin : NULL;
  if (atomic_load_explicit(&mv->batching, memory_order_relaxed)) {
    int maxb = fr__batcher_max_batch(mv->batcher);
    if (n > (size_t)maxb) {
      fr__req_error(r, 400, FR__REASON_BAD_SHAPE,
                    "inputs[0].shape: %zu rows exceed the model's max_batch_size %d "
                    "(split the request)",
                    n, maxb);
      goto fail;
    }
    it->ctx = r;
    it->done = batch_done;
    /* Suspend first: the batch may complete before submit returns. */
    fr__req_suspend(r);
    if (fr__batcher_submit(mv->batcher, it) == 0)
      return; /* answered by fr__infer_finish after the batch */
    /* Not queued (stopping, or the limit was lowered meanwhile): score here
     * and complete the suspended request as a batch would. */
    run_inline(mv, it);
    fr__infer_finish(r);
    fr__req_resume(r);
    return;
  }
  run_inline(mv, it);
  fr__infer_finish(r);
  return;
fail:
  fr__snapshot_release(p->snap);
  p->snap = NULL;
  p->mv = NULL;
  fr__v2_request_clear(&sc->v2);
}
