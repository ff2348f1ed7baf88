/*
 * loadgen_bodies.c - the request bodies a load run cycles through: files,
 * JSON lines, KServe V2 infer tensors (JSON or the binary tensor data
 * extension), and a reproducible random feature matrix.  Bodies are built
 * once before a run so that the event loop only copies bytes to sockets.
 */
#include "fraud/loadgen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/loadgen_internal.h"

fr_loadgen_bodies *fr_loadgen_bodies_new(void) {
  return calloc(1, sizeof(fr_loadgen_bodies));
}

void fr_loadgen_bodies_free(fr_loadgen_bodies *b) {
  if (!b)
    return;
  for (size_t i = 0; i < b->n; i++) {
    free(b->items[i].data);
    free(b->items[i].content_type);
    free(b->items[i].headers);
  }
  free(b->items);
  free(b);
}

void fr__loadgen_bodies_pop(fr_loadgen_bodies *b) {
  if (!b || b->n == 0)
    return;
  fr__loadgen_body *it = &b->items[--b->n];
  free(it->data);
  free(it->content_type);
  free(it->headers);
}

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

/* Appends a body whose bytes the set takes over (data was malloc'd). */
static int add_owned(fr_loadgen_bodies *b, char *data, size_t len,
                     const char *content_type, const char *headers,
                     fr_error *err) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 16;
    fr__loadgen_body *items = realloc(b->items, cap * sizeof *items);
    if (!items) {
      free(data);
      return fr_error_set(err, FR_ENOMEM, "bodies: out of memory");
    }
    b->items = items;
    b->cap = cap;
  }
  fr__loadgen_body *it = &b->items[b->n];
  it->data = data;
  it->len = len;
  it->content_type = dup_or_null(content_type);
  it->headers = dup_or_null(headers);
  if ((content_type && !it->content_type) || (headers && !it->headers)) {
    free(it->content_type);
    free(it->headers);
    free(data);
    return fr_error_set(err, FR_ENOMEM, "bodies: out of memory");
  }
  b->n++;
  return 0;
}

int fr_loadgen_bodies_add(fr_loadgen_bodies *b, const void *data, size_t len,
                          const char *content_type, const char *headers,
                          fr_error *err) {
  char *copy = malloc(len + 1);
  if (!copy)
    return fr_error_set(err, FR_ENOMEM, "bodies: out of memory");
  if (len)
    memcpy(copy, data, len);
  copy[len] = '\0';
  return add_owned(b, copy, len, content_type, headers, err);
}

int fr_loadgen_bodies_add_file(fr_loadgen_bodies *b, const char *path,
                               fr_error *err) {
  size_t len = 0;
  char *data = fr_file_read_all(path, &len, err);
  if (!data)
    return err ? err->code : FR_EIO;
  return add_owned(b, data, len, NULL, NULL, err);
}

int fr_loadgen_bodies_add_lines(fr_loadgen_bodies *b, const char *path,
                                fr_error *err) {
  size_t len = 0;
  char *data = fr_file_read_all(path, &len, err);
  if (!data)
    return err ? err->code : FR_EIO;
  size_t before = b->n;
  int rc = 0;
  for (size_t i = 0; i < len && rc == 0;) {
    size_t j = i;
    while (j < len && data[j] != '\n')
      j++;
    size_t end = j;
    if (end > i && data[end - 1] == '\r')
      end--;
    int blank = 1;
    for (size_t k = i; k < end; k++)
      if (data[k] != ' ' && data[k] != '\t')
        blank = 0;
    if (!blank)
      rc = fr_loadgen_bodies_add(b, data + i, end - i, NULL, NULL, err);
    i = j + 1;
  }
  free(data);
  if (rc)
    return rc;
  if (b->n == before)
    return fr_error_set(err, FR_EINVAL, "%s: no body (the file has no non-empty line)",
                        path);
  return 0;
}

size_t fr_loadgen_bodies_count(const fr_loadgen_bodies *b) {
  return b ? b->n : 0;
}

const char *fr_loadgen_bodies_get(const fr_loadgen_bodies *b, size_t i,
                                  size_t *len) {
  if (!b || i >= b->n)
    return NULL;
  if (len)
    *len = b->items[i].len;
  return b->items[i].data;
}

/* A growable byte buffer for building bodies. */
typedef struct buf {
  char *p;
  size_t len, cap;
  int oom;
} buf;

static void buf_reserve(buf *s, size_t extra) {
  if (s->oom || s->len + extra + 1 <= s->cap)
    return;
  size_t cap = s->cap ? s->cap : 256;
  while (cap < s->len + extra + 1)
    cap *= 2;
  char *p = realloc(s->p, cap);
  if (!p) {
    s->oom = 1;
    return;
  }
  s->p = p;
  s->cap = cap;
}

static void buf_put(buf *s, const void *data, size_t n) {
  buf_reserve(s, n);
  if (s->oom)
    return;
  memcpy(s->p + s->len, data, n);
  s->len += n;
  s->p[s->len] = '\0';
}

static void buf_puts(buf *s, const char *str) { buf_put(s, str, strlen(str)); }

static void buf_json_string(buf *s, const char *str) {
  size_t n = strlen(str);
  size_t need = fr_json_escape(NULL, 0, str, n);
  buf_put(s, "\"", 1);
  buf_reserve(s, need);
  if (s->oom)
    return;
  fr_json_escape(s->p + s->len, s->cap - s->len, str, n);
  s->len += need;
  buf_put(s, "\"", 1);
}

int fr_loadgen_bodies_add_v2(fr_loadgen_bodies *b, const fr_loadgen_v2 *spec,
                             fr_error *err) {
  if (!spec || !spec->x || spec->rows == 0 || spec->cols == 0 || spec->batch == 0)
    return fr_error_set(err, FR_EINVAL,
                        "V2 bodies: need a matrix with rows and columns and a "
                        "batch size >= 1");
  if (spec->batch > ((size_t)1 << 24) / spec->cols)
    return fr_error_set(err, FR_ELIMIT,
                        "V2 bodies: batch %zu x %zu features is over 16M values",
                        spec->batch, spec->cols);
  const char *name = spec->input_name ? spec->input_name : "input";
  size_t nbodies = spec->nbodies;
  if (nbodies == 0) {
    nbodies = (spec->rows + spec->batch - 1) / spec->batch;
    if (nbodies > 4096)
      nbodies = 4096;
  }
  size_t nvalues = spec->batch * spec->cols;
  size_t next_row = 0;
  for (size_t k = 0; k < nbodies; k++) {
    buf s = {0};
    char num[64];
    buf_puts(&s, "{\"inputs\":[{\"name\":");
    buf_json_string(&s, name);
    fr_snprintf_c(num, sizeof num, ",\"shape\":[%zu,%zu],\"datatype\":\"FP32\"",
                  spec->batch, spec->cols);
    buf_puts(&s, num);
    size_t header_len = 0;
    if (spec->binary) {
      fr_snprintf_c(num, sizeof num, ",\"parameters\":{\"binary_data_size\":%zu}}]}",
                    nvalues * sizeof(float));
      buf_puts(&s, num);
      header_len = s.len;
      for (size_t r = 0; r < spec->batch; r++) {
        const float *row = spec->x + ((next_row + r) % spec->rows) * spec->cols;
        for (size_t c = 0; c < spec->cols; c++) {
          /* The extension's tensors are little-endian; so is every machine
           * this builds on (x86-64, aarch64), checked at compile time. */
          _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                         "binary tensors are written in host order");
          buf_put(&s, &row[c], sizeof(float));
        }
      }
    } else {
      buf_puts(&s, ",\"data\":[");
      for (size_t r = 0; r < spec->batch; r++) {
        const float *row = spec->x + ((next_row + r) % spec->rows) * spec->cols;
        for (size_t c = 0; c < spec->cols; c++) {
          if (r || c)
            buf_put(&s, ",", 1);
          if (isnan(row[c])) {
            buf_puts(&s, "null");
          } else if (isinf(row[c])) {
            /* JSON has no infinity; the largest float keeps the ordering. */
            fr_fmt_float(num, sizeof num, row[c] > 0 ? 3.40282347e38f : -3.40282347e38f);
            buf_puts(&s, num);
          } else {
            fr_fmt_float(num, sizeof num, row[c]);
            buf_puts(&s, num);
          }
        }
      }
      buf_puts(&s, "]}]}");
    }
    next_row = (next_row + spec->batch) % spec->rows;
    if (s.oom) {
      free(s.p);
      return fr_error_set(err, FR_ENOMEM, "V2 bodies: out of memory");
    }
    int rc;
    if (spec->binary) {
      char hdr[96];
      fr_snprintf_c(hdr, sizeof hdr, "Inference-Header-Content-Length: %zu\r\n",
                    header_len);
      rc = add_owned(b, s.p, s.len, "application/octet-stream", hdr, err);
    } else {
      rc = add_owned(b, s.p, s.len, NULL, NULL, err);
    }
    if (rc)
      return rc;
  }
  return 0;
}

float *fr_loadgen_random_matrix(size_t rows, size_t cols, uint64_t seed) {
  if (rows == 0 || cols == 0 || rows > SIZE_MAX / sizeof(float) / cols)
    return NULL;
  float *x = malloc(rows * cols * sizeof *x);
  if (!x)
    return NULL;
  uint64_t state = seed;
  for (size_t i = 0; i < rows * cols; i++) {
    /* SplitMix64 (Steele, Lea & Flood 2014), constants from the paper. */
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    /* The top 24 bits give every float in [0, 1) with a 2^-24 step. */
    x[i] = (float)(z >> 40) * (1.0f / 16777216.0f);
  }
  return x;
}
