/*
 * forest_dir.c - finds the bare model file of a model-repository version
 * directory and its format, the way Triton's FIL backend does, so that
 * `fraud serve` can serve a directory laid out for Triton unchanged:
 *
 *   REPO/<name>/config.pbtxt        optional (Triton puts it here)
 *   REPO/<name>/<version>/xgboost.json | model.txt | model.onnx
 *
 * config.pbtxt is the Protocol Buffers text format of Triton's ModelConfig
 * (triton-inference-server/common protobuf/model_config.proto; the text
 * syntax is protobuf's "Text Format Language Specification").  We read
 * backend / platform, default_model_filename, max_batch_size and the FIL
 * parameters model_type ("xgboost_json", "lightgbm", ...), output_class /
 * is_classifier, predict_proba and threshold (FIL backend
 * docs/model_config.md), ignoring every other field.  No Debian C library
 * reads protobuf text format (protobuf-c has binary only), so a small
 * recursive-descent reader for its grammar is here: messages `{ }` or
 * `< >`, fields `name: value` or `name { ... }`, lists `[a, b]`, strings in
 * single or double quotes with C escapes, numbers, identifiers, `#`
 * comments, optional `,` / `;` separators.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "model/forest_internal.h"

/* ---- a tiny protobuf text-format tree ------------------------------------ */

typedef struct pb_field pb_field;
typedef struct pb_msg {
  pb_field *fields;
  size_t n, cap;
} pb_msg;

struct pb_field {
  char *name;
  char *scalar; /* unquoted text of a scalar value, or NULL */
  pb_msg *msg;  /* a message value, or NULL */
};

typedef struct pb_parser {
  const char *s, *end, *path;
  size_t line;
  fr_error *err;
  int depth;
} pb_parser;

static void pb_free(pb_msg *m) {
  if (!m)
    return;
  for (size_t i = 0; i < m->n; i++) {
    free(m->fields[i].name);
    free(m->fields[i].scalar);
    pb_free(m->fields[i].msg);
  }
  free(m->fields);
  free(m);
}

static int pb_fail(pb_parser *p, const char *what) {
  return fr_error_set(p->err, FR_EPARSE, "%s:%zu: %s", p->path, p->line, what);
}

static void pb_skip(pb_parser *p) {
  while (p->s < p->end) {
    char c = *p->s;
    if (c == '\n') {
      p->line++;
      p->s++;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      p->s++;
    } else if (c == '#') {
      while (p->s < p->end && *p->s != '\n')
        p->s++;
    } else {
      break;
    }
  }
}

static int pb_ident_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '.'; }

/* An identifier or number token (as text). */
static char *pb_word(pb_parser *p) {
  const char *b = p->s;
  while (p->s < p->end && (pb_ident_char(*p->s) || *p->s == '-' || *p->s == '+'))
    p->s++;
  if (p->s == b)
    return NULL;
  return strndup(b, (size_t)(p->s - b));
}

/* A quoted string with C escapes; adjacent strings concatenate. */
static char *pb_string(pb_parser *p) {
  size_t cap = 64, len = 0;
  char *out = malloc(cap);
  if (!out)
    return NULL;
  while (p->s < p->end && (*p->s == '"' || *p->s == '\'')) {
    char q = *p->s++;
    while (p->s < p->end && *p->s != q) {
      char c = *p->s++;
      if (c == '\n') {
        free(out);
        return NULL;
      }
      if (c == '\\' && p->s < p->end) {
        char e = *p->s++;
        switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        default: c = e; break; /* \\ \" \' and the rest literally */
        }
      }
      if (len + 2 > cap) {
        char *n = realloc(out, cap *= 2);
        if (!n) {
          free(out);
          return NULL;
        }
        out = n;
      }
      out[len++] = c;
    }
    if (p->s >= p->end) {
      free(out);
      return NULL;
    }
    p->s++; /* closing quote */
    pb_skip(p);
  }
  out[len] = 0;
  return out;
}

static int pb_message(pb_parser *p, pb_msg *m, char close);

static int pb_add(pb_parser *p, pb_msg *m, const char *name, char *scalar, pb_msg *sub) {
  if (m->n == m->cap) {
    size_t nc = m->cap ? m->cap * 2 : 8;
    pb_field *nf = realloc(m->fields, nc * sizeof *nf);
    if (!nf) {
      free(scalar);
      pb_free(sub);
      return fr_error_set(p->err, FR_ENOMEM, "%s: out of memory", p->path);
    }
    m->fields = nf;
    m->cap = nc;
  }
  char *nm = strdup(name);
  if (!nm) {
    free(scalar);
    pb_free(sub);
    return fr_error_set(p->err, FR_ENOMEM, "%s: out of memory", p->path);
  }
  m->fields[m->n++] = (pb_field){nm, scalar, sub};
  return 0;
}

/* One value (scalar or message) of field `name`, added to m. */
static int pb_value(pb_parser *p, pb_msg *m, const char *name) {
  pb_skip(p);
  if (p->s >= p->end)
    return pb_fail(p, "unexpected end of file");
  char c = *p->s;
  if (c == '{' || c == '<') {
    if (++p->depth > 64)
      return pb_fail(p, "messages nested too deeply");
    p->s++;
    pb_msg *sub = calloc(1, sizeof *sub);
    if (!sub)
      return fr_error_set(p->err, FR_ENOMEM, "%s: out of memory", p->path);
    int rc = pb_message(p, sub, c == '{' ? '}' : '>');
    p->depth--;
    if (rc) {
      pb_free(sub);
      return rc;
    }
    return pb_add(p, m, name, NULL, sub);
  }
  char *v = (c == '"' || c == '\'') ? pb_string(p) : pb_word(p);
  if (!v)
    return pb_fail(p, "expected a value");
  return pb_add(p, m, name, v, NULL);
}

static int pb_message(pb_parser *p, pb_msg *m, char close) {
  for (;;) {
    pb_skip(p);
    if (p->s >= p->end)
      return close ? pb_fail(p, "missing closing brace") : 0;
    if (close && *p->s == close) {
      p->s++;
      return 0;
    }
    if (*p->s == ',' || *p->s == ';') {
      p->s++;
      continue;
    }
    char *name = pb_word(p);
    if (!name)
      return pb_fail(p, "expected a field name");
    pb_skip(p);
    int colon = p->s < p->end && *p->s == ':';
    if (colon) {
      p->s++;
      pb_skip(p);
    }
    int rc = 0;
    if (p->s < p->end && *p->s == '[') { /* list of values */
      p->s++;
      for (;;) {
        pb_skip(p);
        if (p->s < p->end && *p->s == ']') {
          p->s++;
          break;
        }
        if ((rc = pb_value(p, m, name)))
          break;
        pb_skip(p);
        if (p->s < p->end && *p->s == ',')
          p->s++;
        else if (!(p->s < p->end && *p->s == ']')) {
          rc = pb_fail(p, "expected ',' or ']' in a list");
          break;
        }
      }
    } else if (!colon && !(p->s < p->end && (*p->s == '{' || *p->s == '<'))) {
      rc = pb_fail(p, "expected ':' after a field name");
    } else {
      rc = pb_value(p, m, name);
    }
    free(name);
    if (rc)
      return rc;
  }
}

static const char *pb_get(const pb_msg *m, const char *name) {
  for (size_t i = 0; m && i < m->n; i++)
    if (strcmp(m->fields[i].name, name) == 0 && m->fields[i].scalar)
      return m->fields[i].scalar;
  return NULL;
}

/* parameters { key: K value { string_value: V } } -> V */
static const char *pb_param(const pb_msg *m, const char *key) {
  for (size_t i = 0; m && i < m->n; i++) {
    const pb_field *f = &m->fields[i];
    if (strcmp(f->name, "parameters") != 0 || !f->msg)
      continue;
    const char *k = pb_get(f->msg, "key");
    if (!k || strcmp(k, key) != 0)
      continue;
    for (size_t j = 0; j < f->msg->n; j++)
      if (strcmp(f->msg->fields[j].name, "value") == 0 && f->msg->fields[j].msg)
        return pb_get(f->msg->fields[j].msg, "string_value");
  }
  return NULL;
}

/* Parses a config.pbtxt held in memory and discards it (for the fuzzer:
 * fuzz/fuzz_model.c).  0 or FR_EPARSE / FR_ENOMEM. */
int fr__pbtxt_check(const char *text, size_t len, fr_error *err) {
  pb_msg *m = calloc(1, sizeof *m);
  if (!m)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  pb_parser p = {text, text + len, "config.pbtxt", 1, err, 0};
  int rc = pb_message(&p, m, 0);
  if (rc == 0) {
    (void)pb_param(m, "model_type");
    (void)pb_get(m, "default_model_filename");
  }
  pb_free(m);
  return rc;
}

/* ---- the version directory ------------------------------------------------ */

static int truthy(const char *s) {
  return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "1") == 0);
}

static const struct {
  const char *model_type;
  fr_forest_format format;
  const char *file;
} fil_types[] = {{"xgboost_json", FR_FOREST_XGBOOST_JSON, "xgboost.json"},
                 {"lightgbm", FR_FOREST_LIGHTGBM_TEXT, "model.txt"},
                 {"onnx", FR_FOREST_ONNX, "model.onnx"}};

int fr_forest_dir_read(const char *version_dir, fr_forest_dir *out, fr_error *err) {
  if (!version_dir || !out)
    return fr_error_set(err, FR_EINVAL, "fr_forest_dir_read: NULL argument");
  memset(out, 0, sizeof *out);
  out->threshold = 0.5;
  out->format = FR_FOREST_AUTO;
  /* Triton keeps config.pbtxt in the model directory, above the versions;
   * one inside the version directory is accepted too. */
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", version_dir);
  size_t pl = strlen(parent);
  while (pl > 1 && parent[pl - 1] == '/')
    parent[--pl] = 0;
  char *slash = strrchr(parent, '/');
  if (slash)
    *(slash == parent ? slash + 1 : slash) = 0;
  else
    snprintf(parent, sizeof parent, ".");
  char *cands[2] = {fr_path_join(parent, "config.pbtxt"), fr_path_join(version_dir, "config.pbtxt")};
  const char *cfg = NULL;
  for (int i = 0; i < 2; i++)
    if (!cfg && cands[i] && fr_is_file(cands[i]))
      cfg = cands[i];
  int rc = 0;
  const char *file = NULL;
  pb_msg *m = NULL;
  char *text = NULL;
  if (cfg) {
    size_t len;
    if (!(text = fr_file_read_all(cfg, &len, err))) {
      rc = err ? err->code : FR_EIO;
      goto out;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
      rc = fr_error_set(err, FR_ENOMEM, "out of memory");
      goto out;
    }
    pb_parser p = {text, text + len, cfg, 1, err, 0};
    if ((rc = pb_message(&p, m, 0)))
      goto out;
    out->has_config = 1;
    snprintf(out->config_path, sizeof out->config_path, "%s", cfg);
    const char *mt = pb_param(m, "model_type");
    const char *backend = pb_get(m, "backend"), *platform = pb_get(m, "platform");
    if (mt) {
      size_t k = 0;
      for (; k < sizeof fil_types / sizeof fil_types[0]; k++)
        if (strcmp(mt, fil_types[k].model_type) == 0)
          break;
      if (k == sizeof fil_types / sizeof fil_types[0]) {
        rc = fr_error_set(err, FR_EFORMAT,
                          "%s: model_type '%s' is not supported (xgboost_json, lightgbm or "
                          "onnx; save XGBoost models as JSON)",
                          cfg, mt);
        goto out;
      }
      out->format = fil_types[k].format;
      file = fil_types[k].file;
    } else if ((backend && strcmp(backend, "onnxruntime") == 0) ||
               (platform && strcmp(platform, "onnxruntime_onnx") == 0)) {
      out->format = FR_FOREST_ONNX;
      file = "model.onnx";
    }
    const char *dmf = pb_get(m, "default_model_filename");
    if (dmf) {
      if (strchr(dmf, '/') || strcmp(dmf, "..") == 0 || !*dmf) {
        rc = fr_error_set(err, FR_EFORMAT, "%s: default_model_filename '%s' must be a plain file name",
                          cfg, dmf);
        goto out;
      }
      file = dmf;
    }
    const char *oc = pb_param(m, "output_class");
    if (!oc)
      oc = pb_param(m, "is_classifier");
    out->output_class = truthy(oc);
    out->predict_proba = truthy(pb_param(m, "predict_proba"));
    const char *th = pb_param(m, "threshold");
    if (th && (fr_parse_double(th, strlen(th), &out->threshold) || !(out->threshold >= 0) ||
               out->threshold > 1)) {
      rc = fr_error_set(err, FR_EFORMAT, "%s: threshold '%s' is not a probability", cfg, th);
      goto out;
    }
    const char *mbs = pb_get(m, "max_batch_size");
    int64_t v;
    if (mbs && (fr_parse_int64(mbs, strlen(mbs), &v) || v < 0)) {
      rc = fr_error_set(err, FR_EFORMAT, "%s: max_batch_size '%s' is not a count", cfg, mbs);
      goto out;
    }
    out->max_batch_size = mbs ? (size_t)v : 0;
  }
  if (!file) { /* no config naming one: the usual names */
    static const char *const probe[] = {"xgboost.json", "model.json", "model.txt", "model.onnx"};
    for (size_t i = 0; i < 4 && !file; i++) {
      char *pth = fr_path_join(version_dir, probe[i]);
      if (pth && fr_is_file(pth))
        file = probe[i];
      free(pth);
    }
    if (!file) {
      rc = fr_error_set(err, FR_ENOTFOUND,
                        "%s: no model file (xgboost.json, model.json, model.txt or model.onnx)%s",
                        version_dir, cfg ? "" : " and no config.pbtxt naming one");
      goto out;
    }
  }
  char *path = fr_path_join(version_dir, file);
  if (!path) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto out;
  }
  if (!fr_is_file(path)) {
    rc = fr_error_set(err, FR_ENOTFOUND, "%s: model file not found%s%s", path,
                      cfg ? " (named by " : "", cfg ? cfg : "");
    if (cfg && err)
      snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg), ")");
    free(path);
    goto out;
  }
  snprintf(out->model_path, sizeof out->model_path, "%s", path);
  free(path);
out:
  pb_free(m);
  free(text);
  free(cands[0]);
  free(cands[1]);
  return rc;
}

fr_forest *fr_forest_dir_load(const char *version_dir, fr_forest_dir *info, fr_error *err) {
  fr_forest_dir local;
  if (!info)
    info = &local;
  if (fr_forest_dir_read(version_dir, info, err))
    return NULL;
  return fr_forest_load(info->model_path, info->format, err);
}

/* ---- FIL's output__0 ------------------------------------------------------ */

size_t fr_forest_dir_output_width(const fr_forest *f, const fr_forest_dir *d) {
  if (!f || !d)
    return 0;
  size_t k = f->noutputs;
  if (d->output_class && d->predict_proba)
    return k == 1 ? 2 : k;
  if (d->output_class)
    return 1;
  return k;
}

void fr_forest_dir_output(const fr_forest *f, const fr_forest_dir *d, const float *pred,
                          size_t n, float *out) {
  if (!f || !d || !pred || !out)
    return;
  size_t k = f->noutputs;
  for (size_t r = 0; r < n; r++) {
    const float *p = pred + r * k;
    if (d->output_class && d->predict_proba) {
      if (k == 1) { /* binary: [P(class 0), P(class 1)] */
        out[2 * r] = 1.0f - p[0];
        out[2 * r + 1] = p[0];
      } else {
        memcpy(out + r * k, p, k * sizeof *p);
      }
    } else if (d->output_class) {
      if (k == 1) {
        out[r] = p[0] >= d->threshold ? 1.0f : 0.0f;
      } else { /* the most probable class, the first on ties */
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
          if (p[j] > p[best])
            best = j;
        out[r] = (float)best;
      }
    } else {
      memcpy(out + r * k, p, k * sizeof *p);
    }
  }
}
