/*
 * v2.c - KServe V2 / Open Inference Protocol codec (see v2.h for the sources).
 *
 * Decoding is two passes: the first checks every input's metadata and the
 * structure of its data against the declared shape and counts the elements;
 * only then is storage reserved (once, for all inputs) and the values
 * converted.  A request declaring a huge shape with little data is therefore
 * refused before any allocation of that size.
 */
#include "serve/v2.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const dtype_names[] = {"BOOL", "INT32", "INT64", "FP32", "FP64"};
static const size_t dtype_sizes[] = {1, 4, 8, 4, 8};

const char *fr__dtype_name(fr__dtype d) {
  return d < FR__DT_INVALID ? dtype_names[d] : "INVALID";
}

fr__dtype fr__dtype_parse(const char *s) {
  for (int i = 0; i < FR__DT_INVALID; i++)
    if (s && strcmp(s, dtype_names[i]) == 0)
      return (fr__dtype)i;
  return FR__DT_INVALID;
}

size_t fr__dtype_size(fr__dtype d) { return d < FR__DT_INVALID ? dtype_sizes[d] : 0; }

void fr__v2_fmt_shape(char *buf, size_t cap, const int64_t *shape, int rank) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "[");
  for (int i = 0; i < rank; i++)
    o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%lld", i ? ", " : "",
                          (long long)shape[i]);
  snprintf(buf + o, o < cap ? cap - o : 0, "]");
}

void fr__v2_request_clear(fr__v2_request *r) {
  if (r->doc && !r->in_arena)
    json_decref(r->doc);
  r->doc = NULL;
  r->id = NULL;
  r->parameters = NULL;
  r->ninputs = r->noutputs = 0;
  r->binary_output = 0;
}

void fr__v2_request_close(fr__v2_request *r) {
  if (!r)
    return;
  fr__v2_request_clear(r);
  free(r->storage);
  r->storage = NULL;
  r->storage_cap = 0;
}

#define FAIL(code, why, ...)                         \
  do {                                               \
    *reason = (why);                                 \
    return fr_error_set(err, (code), __VA_ARGS__);   \
  } while (0)

/* Checks that `data` is nested exactly as shape[depth..rank) (each level an
 * array of shape[d] items, scalars at the bottom).  On mismatch writes the
 * real shape it found into `real` (for the message) and returns 0. */
static int nesting_matches(const json_t *node, const int64_t *shape, int rank,
                           int depth, int64_t *real, int *real_rank) {
  if (depth == rank) {
    if (json_is_array(node)) {
      /* Deeper than declared: report the extra level. */
      if (*real_rank < FR__V2_MAX_RANK)
        real[(*real_rank)++] = (int64_t)json_array_size(node);
      return 0;
    }
    return 1;
  }
  if (!json_is_array(node))
    return 0;
  size_t n = json_array_size(node);
  if (*real_rank == depth && *real_rank < FR__V2_MAX_RANK)
    real[(*real_rank)++] = (int64_t)n;
  if ((int64_t)n != shape[depth])
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!nesting_matches(json_array_get(node, i), shape, rank, depth + 1, real,
                         real_rank))
      return 0;
  return 1;
}

/* The smallest double that IEEE 754 round-to-nearest-even takes to a
 * float32 infinity: FLT_MAX plus half its ulp, (2 - 2^-24) * 2^127 =
 * 3.4028235677973366e38.  Everything below it rounds to a finite float;
 * "3.4028235e38", the shortest text of FLT_MAX, is below it. */
#define FLOAT_OVERFLOW_LIMIT 0x1.ffffffp+127

/* A floating-point element as the forest's float32: -2 when it is an
 * infinity or a finite value that rounds to a float infinity (|x| >=
 * FLOAT_OVERFLOW_LIMIT: 1e39 in an FP32 tensor, or an FP64 one); NaN stays
 * NaN, the missing value.  Values between FLT_MAX and the limit become
 * +-FLT_MAX, as IEEE 754 rounding gives (set explicitly, because C17
 * 6.3.1.5 leaves the conversion of a value outside the float range
 * undefined). */
static int to_float(double d, float *out) {
  if (isnan(d)) {
    *out = NAN;
    return 0;
  }
  double a = fabs(d);
  if (a >= FLOAT_OVERFLOW_LIMIT)
    return -2;
  *out = a > FLT_MAX ? copysignf(FLT_MAX, (float)(d > 0 ? 1 : -1)) : (float)d;
  return 0;
}

/* Converts one JSON scalar of `dtype` to float32.  Returns 0, -1 (wrong
 * type) or -2 (outside the float range, see to_float). */
static int convert_scalar(const json_t *v, fr__dtype dt, float *out) {
  switch (dt) {
  case FR__DT_FP32:
  case FR__DT_FP64:
    if (json_is_integer(v)) {
      *out = (float)(double)json_integer_value(v); /* |int64| < FLT_MAX */
      return 0;
    }
    if (json_is_real(v))
      return to_float(json_real_value(v), out);
    if (json_is_null(v)) {
      *out = NAN;
      return 0;
    }
    return -1;
  case FR__DT_INT32:
    if (!json_is_integer(v))
      return -1;
    {
      json_int_t i = json_integer_value(v);
      if (i < INT32_MIN || i > INT32_MAX)
        return -1;
      *out = (float)i;
    }
    return 0;
  case FR__DT_INT64:
    if (!json_is_integer(v))
      return -1;
    *out = (float)json_integer_value(v);
    return 0;
  case FR__DT_BOOL:
    if (!json_is_boolean(v))
      return -1;
    *out = json_is_true(v) ? 1.0f : 0.0f;
    return 0;
  default:
    return -1;
  }
}

static const char *expected_json(fr__dtype dt) {
  switch (dt) {
  case FR__DT_BOOL:
    return "true or false";
  case FR__DT_INT32:
    return "an integer in the INT32 range";
  case FR__DT_INT64:
    return "an integer";
  default:
    return "a number (or null for a missing value)";
  }
}

/* Converts the leaves of `node` in row-major order; *pos advances. */
static int convert_data(const json_t *node, fr__dtype dt, float *out,
                        size_t *pos, size_t idx, const char **reason,
                        fr_error *err) {
  if (json_is_array(node)) {
    size_t n = json_array_size(node);
    for (size_t i = 0; i < n; i++) {
      int rc = convert_data(json_array_get(node, i), dt, out, pos, idx, reason, err);
      if (rc)
        return rc;
    }
    return 0;
  }
  int cv = convert_scalar(node, dt, &out[*pos]);
  if (cv == -2)
    FAIL(FR_ERANGE, FR__REASON_OUT_OF_RANGE,
         "inputs[%zu].data[%zu]: %s tensor element outside the float32 range the model "
         "reads (finite, |x| < 3.4028235677973366e38)",
         idx, *pos, fr__dtype_name(dt));
  if (cv)
    FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE,
         "inputs[%zu].data[%zu]: %s tensor element must be %s", idx, *pos,
         fr__dtype_name(dt), expected_json(dt));
  (*pos)++;
  return 0;
}

/* Reads little-endian element i of a binary tensor as float32. */
static int binary_value(const unsigned char *p, fr__dtype dt, size_t i, float *out) {
  uint64_t u = 0;
  switch (dt) {
  case FR__DT_BOOL:
    if (p[i] > 1)
      return -1;
    *out = (float)p[i];
    return 0;
  case FR__DT_INT32:
  case FR__DT_FP32: {
    for (int b = 3; b >= 0; b--)
      u = (u << 8) | p[i * 4 + (size_t)b];
    uint32_t w = (uint32_t)u;
    if (dt == FR__DT_INT32) {
      int32_t v;
      memcpy(&v, &w, 4);
      *out = (float)v;
    } else {
      float f;
      memcpy(&f, &w, 4);
      return to_float(f, out);
    }
    return 0;
  }
  case FR__DT_INT64:
  case FR__DT_FP64: {
    for (int b = 7; b >= 0; b--)
      u = (u << 8) | p[i * 8 + (size_t)b];
    if (dt == FR__DT_INT64) {
      int64_t v;
      memcpy(&v, &u, 8);
      *out = (float)v;
    } else {
      double d;
      memcpy(&d, &u, 8);
      return to_float(d, out);
    }
    return 0;
  }
  default:
    return -1;
  }
}

typedef struct pending {
  const json_t *data;       /* JSON data, or NULL when binary */
  size_t bin_off, bin_size; /* binary section slice */
} pending;

int fr__v2_request_parse(fr__v2_request *r, const char *body, size_t len,
                         size_t json_len, const fr__v2_limits *lim,
                         const char **reason, fr_error *err) {
  fr__v2_request_clear(r);
  const char *dummy;
  if (!reason)
    reason = &dummy;
  size_t jl = len;
  if (json_len != (size_t)-1) {
    if (json_len > len)
      FAIL(FR_EPARSE, FR__REASON_BAD_JSON,
           "Inference-Header-Content-Length %zu exceeds the body length %zu",
           json_len, len);
    jl = json_len;
  }
  json_error_t je;
  r->doc = json_loadb(body, jl, JSON_REJECT_DUPLICATES, &je);
  if (!r->doc)
    FAIL(FR_EPARSE, FR__REASON_BAD_JSON, "invalid JSON at line %d column %d: %s",
         je.line, je.column, je.text);
  if (!json_is_object(r->doc))
    FAIL(FR_ESCHEMA, FR__REASON_BAD_JSON,
         "the inference request must be a JSON object");

  json_t *id = json_object_get(r->doc, "id");
  if (id) {
    if (!json_is_string(id))
      FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "id: must be a string");
    r->id = json_string_value(id);
  }
  json_t *params = json_object_get(r->doc, "parameters");
  if (params) {
    if (!json_is_object(params))
      FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "parameters: must be an object");
    r->parameters = params;
    json_t *bo = json_object_get(params, "binary_data_output");
    if (bo) {
      if (!json_is_boolean(bo))
        FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE,
             "parameters.binary_data_output: must be true or false");
      r->binary_output = json_is_true(bo);
    }
  }

  json_t *outs = json_object_get(r->doc, "outputs");
  if (outs) {
    if (!json_is_array(outs))
      FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "outputs: must be an array");
    if (json_array_size(outs) > FR__V2_MAX_TENSORS)
      FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE, "outputs: at most %d outputs",
           FR__V2_MAX_TENSORS);
    for (size_t i = 0; i < json_array_size(outs); i++) {
      json_t *o = json_array_get(outs, i);
      json_t *nm = json_is_object(o) ? json_object_get(o, "name") : NULL;
      if (!json_is_object(o))
        FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "outputs[%zu]: must be an object", i);
      if (!nm)
        FAIL(FR_ESCHEMA, FR__REASON_MISSING, "outputs[%zu].name: missing", i);
      if (!json_is_string(nm))
        FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "outputs[%zu].name: must be a string", i);
      fr__v2_output_req *q = &r->outputs[r->noutputs++];
      q->name = json_string_value(nm);
      q->binary = r->binary_output;
      json_t *op = json_object_get(o, "parameters");
      if (op && !json_is_object(op))
        FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "outputs[%zu].parameters: must be an object", i);
      json_t *bd = op ? json_object_get(op, "binary_data") : NULL;
      if (bd) {
        if (!json_is_boolean(bd))
          FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE,
               "outputs[%zu].parameters.binary_data: must be true or false", i);
        q->binary = json_is_true(bd);
      }
    }
  }

  json_t *ins = json_object_get(r->doc, "inputs");
  if (!ins)
    FAIL(FR_ESCHEMA, FR__REASON_MISSING, "inputs: missing");
  if (!json_is_array(ins))
    FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "inputs: must be an array");
  size_t nin = json_array_size(ins);
  if (nin == 0)
    FAIL(FR_ESCHEMA, FR__REASON_MISSING, "inputs: empty (one input tensor expected)");
  if (nin > FR__V2_MAX_TENSORS)
    FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE, "inputs: at most %d inputs", FR__V2_MAX_TENSORS);

  /* Pass 1: metadata, shapes, data structure, binary slices. */
  pending pend[FR__V2_MAX_TENSORS];
  size_t total = 0, bin_off = jl;
  for (size_t i = 0; i < nin; i++) {
    json_t *in = json_array_get(ins, i);
    fr__v2_input *t = &r->inputs[i];
    memset(t, 0, sizeof *t);
    if (!json_is_object(in))
      FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "inputs[%zu]: must be an object", i);
    json_t *nm = json_object_get(in, "name");
    json_t *dt = json_object_get(in, "datatype");
    json_t *sh = json_object_get(in, "shape");
    json_t *data = json_object_get(in, "data");
    json_t *ip = json_object_get(in, "parameters");
    if (!nm)
      FAIL(FR_ESCHEMA, FR__REASON_MISSING, "inputs[%zu].name: missing", i);
    if (!json_is_string(nm))
      FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "inputs[%zu].name: must be a string", i);
    t->name = json_string_value(nm);
    if (!dt)
      FAIL(FR_ESCHEMA, FR__REASON_MISSING, "inputs[%zu].datatype: missing", i);
    if (!json_is_string(dt))
      FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "inputs[%zu].datatype: must be a string", i);
    t->dtype = fr__dtype_parse(json_string_value(dt));
    if (t->dtype == FR__DT_INVALID)
      FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE,
           "inputs[%zu].datatype: unsupported datatype '%s' (supported: BOOL, "
           "INT32, INT64, FP32, FP64)",
           i, json_string_value(dt));
    if (!sh)
      FAIL(FR_ESCHEMA, FR__REASON_MISSING, "inputs[%zu].shape: missing", i);
    if (!json_is_array(sh))
      FAIL(FR_ESCHEMA, FR__REASON_BAD_SHAPE, "inputs[%zu].shape: must be an array", i);
    size_t rank = json_array_size(sh);
    if (rank == 0 || rank > FR__V2_MAX_RANK)
      FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE,
           "inputs[%zu].shape: rank %zu not supported (1 to %d dimensions)", i, rank,
           FR__V2_MAX_RANK);
    t->rank = (int)rank;
    size_t count = 1;
    for (size_t d = 0; d < rank; d++) {
      json_t *dim = json_array_get(sh, d);
      if (!json_is_integer(dim))
        FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE,
             "inputs[%zu].shape[%zu]: dimension must be an integer", i, d);
      json_int_t v = json_integer_value(dim);
      if (v <= 0)
        FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE,
             "inputs[%zu].shape[%zu]: dimension must be positive, got %lld", i, d,
             (long long)v);
      if ((uint64_t)v > lim->max_elements || count > lim->max_elements / (size_t)v)
        FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE,
             "inputs[%zu].shape: more than %zu elements (limit of one request)", i,
             lim->max_elements);
      t->shape[d] = v;
      count *= (size_t)v;
    }
    t->count = count;
    if (count > lim->max_elements - total)
      FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE,
           "inputs: more than %zu elements in all (limit of one request)",
           lim->max_elements);
    total += count;

    json_t *bsz = NULL;
    if (ip) {
      if (!json_is_object(ip))
        FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE, "inputs[%zu].parameters: must be an object", i);
      bsz = json_object_get(ip, "binary_data_size");
    }
    pend[i].data = NULL;
    if (bsz) {
      if (json_len == (size_t)-1)
        FAIL(FR_EPARSE, FR__REASON_BAD_JSON,
             "inputs[%zu].parameters.binary_data_size given without the "
             "Inference-Header-Content-Length header",
             i);
      if (!json_is_integer(bsz) || json_integer_value(bsz) < 0)
        FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE,
             "inputs[%zu].parameters.binary_data_size: must be a non-negative integer", i);
      if (data)
        FAIL(FR_ESCHEMA, FR__REASON_BAD_JSON,
             "inputs[%zu]: both data and binary_data_size given", i);
      size_t want = count * fr__dtype_size(t->dtype);
      size_t got = (size_t)json_integer_value(bsz);
      if (got != want) {
        char s[128];
        fr__v2_fmt_shape(s, sizeof s, t->shape, t->rank);
        FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE,
             "inputs[%zu]: binary_data_size %zu does not match shape %s of %s "
             "(%zu bytes)",
             i, got, s, fr__dtype_name(t->dtype), want);
      }
      if (got > len - bin_off)
        FAIL(FR_EPARSE, FR__REASON_BAD_SHAPE,
             "inputs[%zu]: binary data truncated (%zu bytes declared, %zu left)", i,
             got, len - bin_off);
      pend[i].bin_off = bin_off;
      pend[i].bin_size = got;
      bin_off += got;
      continue;
    }
    if (!data)
      FAIL(FR_ESCHEMA, FR__REASON_MISSING, "inputs[%zu].data: missing", i);
    if (!json_is_array(data))
      FAIL(FR_ESCHEMA, FR__REASON_BAD_SHAPE, "inputs[%zu].data: must be an array", i);
    char decl[128], real[128];
    fr__v2_fmt_shape(decl, sizeof decl, t->shape, t->rank);
    size_t n0 = json_array_size(data);
    int nested = n0 > 0 && json_is_array(json_array_get(data, 0));
    if (!nested || t->rank == 1) {
      /* Flat: exactly count scalars. */
      if (n0 != count)
        FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE,
             "inputs[%zu].data: %zu values but shape %s declares %zu", i, n0, decl,
             count);
      for (size_t k = 0; k < n0; k++)
        if (json_is_array(json_array_get(data, k)))
          FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE,
               "inputs[%zu].data[%zu]: nested array in flat data of shape %s", i, k,
               decl);
    } else {
      int64_t rs[FR__V2_MAX_RANK];
      int rr = 0;
      if (!nesting_matches(data, t->shape, t->rank, 0, rs, &rr)) {
        fr__v2_fmt_shape(real, sizeof real, rs, rr);
        FAIL(FR_ERANGE, FR__REASON_BAD_SHAPE,
             "inputs[%zu].data: nesting does not match the declared shape %s "
             "(found %s%s)",
             i, decl, real, rr ? " at the first mismatch" : "");
      }
    }
    pend[i].data = data;
  }
  r->ninputs = nin;
  if (json_len != (size_t)-1 && bin_off != len)
    FAIL(FR_EPARSE, FR__REASON_BAD_SHAPE,
         "binary section has %zu bytes more than the inputs declare", len - bin_off);

  /* Pass 2: storage and conversion. */
  if (total > r->storage_cap) {
    float *p = realloc(r->storage, total * sizeof *p);
    if (!p)
      FAIL(FR_ENOMEM, "internal", "out of memory for %zu tensor elements", total);
    r->storage = p;
    r->storage_cap = total;
  }
  size_t off = 0;
  for (size_t i = 0; i < nin; i++) {
    fr__v2_input *t = &r->inputs[i];
    t->values = r->storage + off;
    off += t->count;
    if (pend[i].data) {
      size_t pos = 0;
      int rc = convert_data(pend[i].data, t->dtype, t->values, &pos, i, reason, err);
      if (rc)
        return rc;
    } else {
      const unsigned char *p = (const unsigned char *)body + pend[i].bin_off;
      for (size_t k = 0; k < t->count; k++) {
        int bv = binary_value(p, t->dtype, k, &t->values[k]);
        if (bv == -2)
          FAIL(FR_ERANGE, FR__REASON_OUT_OF_RANGE,
               "inputs[%zu]: binary %s element %zu outside the float32 range the model "
               "reads (finite, |x| < 3.4028235677973366e38)",
               i, fr__dtype_name(t->dtype), k);
        if (bv)
          FAIL(FR_ESCHEMA, FR__REASON_BAD_TYPE,
               "inputs[%zu]: binary BOOL element %zu is neither 0 nor 1", i, k);
      }
    }
  }
  return 0;
}

int fr__v2_wants_output(const fr__v2_request *r, const char *name,
                        int is_default, int *binary) {
  if (r->noutputs == 0) {
    if (binary)
      *binary = r->binary_output;
    return is_default;
  }
  for (size_t i = 0; i < r->noutputs; i++) {
    if (strcmp(r->outputs[i].name, name) == 0) {
      if (binary)
        *binary = r->outputs[i].binary;
      return 1;
    }
  }
  return 0;
}

void fr__v2_response_begin(fr__v2_response *w, const char *model,
                           const char *version, const char *id) {
  fr__v2_response_reset(w);
  fr__buf_puts(&w->json, "{\"model_name\":");
  fr__buf_json_str(&w->json, model, strlen(model));
  fr__buf_puts(&w->json, ",\"model_version\":");
  fr__buf_json_str(&w->json, version, strlen(version));
  if (id) {
    fr__buf_puts(&w->json, ",\"id\":");
    fr__buf_json_str(&w->json, id, strlen(id));
  }
  fr__buf_puts(&w->json, ",\"outputs\":[");
}

static void put_le(fr__buf *b, uint64_t u, int nbytes) {
  char tmp[8];
  for (int i = 0; i < nbytes; i++)
    tmp[i] = (char)((u >> (8 * i)) & 0xff);
  fr__buf_append(b, tmp, (size_t)nbytes);
}

void fr__v2_response_output(fr__v2_response *w, const char *name,
                            fr__dtype dtype, const int64_t *shape, int rank,
                            const void *data, size_t count, int binary) {
  fr__buf *j = &w->json;
  if (w->noutputs++)
    fr__buf_putc(j, ',');
  fr__buf_puts(j, "{\"name\":");
  fr__buf_json_str(j, name, strlen(name));
  fr__buf_printf(j, ",\"datatype\":\"%s\",\"shape\":[", fr__dtype_name(dtype));
  for (int i = 0; i < rank; i++)
    fr__buf_printf(j, "%s%lld", i ? "," : "", (long long)shape[i]);
  fr__buf_puts(j, "],");
  if (binary) {
    size_t nbytes = count * fr__dtype_size(dtype);
    fr__buf_printf(j, "\"parameters\":{\"binary_data_size\":%zu}}", nbytes);
    fr__buf_reserve(&w->bin, nbytes);
    for (size_t k = 0; k < count; k++) {
      uint64_t u = 0;
      switch (dtype) {
      case FR__DT_BOOL:
        put_le(&w->bin, ((const uint8_t *)data)[k] ? 1 : 0, 1);
        break;
      case FR__DT_INT32: {
        uint32_t v;
        memcpy(&v, (const int32_t *)data + k, 4);
        put_le(&w->bin, v, 4);
        break;
      }
      case FR__DT_FP32: {
        uint32_t v;
        memcpy(&v, (const float *)data + k, 4);
        put_le(&w->bin, v, 4);
        break;
      }
      case FR__DT_INT64:
        memcpy(&u, (const int64_t *)data + k, 8);
        put_le(&w->bin, u, 8);
        break;
      case FR__DT_FP64:
        memcpy(&u, (const double *)data + k, 8);
        put_le(&w->bin, u, 8);
        break;
      default:
        break;
      }
    }
    return;
  }
  fr__buf_puts(j, "\"data\":[");
  for (size_t k = 0; k < count; k++) {
    if (k)
      fr__buf_putc(j, ',');
    switch (dtype) {
    case FR__DT_BOOL:
      fr__buf_puts(j, ((const uint8_t *)data)[k] ? "true" : "false");
      break;
    case FR__DT_INT32:
      fr__buf_printf(j, "%d", ((const int32_t *)data)[k]);
      break;
    case FR__DT_INT64:
      fr__buf_printf(j, "%lld", (long long)((const int64_t *)data)[k]);
      break;
    case FR__DT_FP32:
      fr__buf_json_float(j, ((const float *)data)[k]);
      break;
    case FR__DT_FP64:
      fr__buf_json_double(j, ((const double *)data)[k]);
      break;
    default:
      break;
    }
  }
  fr__buf_puts(j, "]}");
}

void fr__v2_response_end(fr__v2_response *w) { fr__buf_puts(&w->json, "]}"); }

void fr__v2_response_reset(fr__v2_response *w) {
  fr__buf_reset(&w->json);
  fr__buf_reset(&w->bin);
  w->noutputs = 0;
}

void fr__v2_response_close(fr__v2_response *w) {
  fr__buf_close(&w->json);
  fr__buf_close(&w->bin);
}
