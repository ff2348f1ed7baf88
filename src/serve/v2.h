/*
 * v2.h - the KServe V2 / Open Inference Protocol codec: decoding an inference
 * request (JSON, or JSON followed by raw tensors with the binary tensor data
 * extension) into float32 tensors, and encoding an inference response.
 *
 * Sources: the Open Inference Protocol REST specification
 * (kserve/open-inference-protocol, "REST" section: inference request/response
 * JSON objects, tensor data "flattened in row-major order" or nested "as long
 * as the nesting matches the shape"), and Triton's binary tensor data
 * extension (server docs/protocol/extension_binary_data.md: the
 * Inference-Header-Content-Length header gives the length of the JSON part,
 * each binary input carries parameters.binary_data_size, tensors follow in
 * input order, little-endian, BOOL as one byte per element).
 *
 * Decoding validates everything before allocating for the data: the declared
 * shape (positive integer dimensions, element count within a limit), the
 * datatype, and that the data holds exactly as many values as the shape
 * declares, flat or nested with the declared nesting.  Every error names the
 * field ("inputs[0].shape[1]") and carries a reason for the metrics.
 */
#ifndef FRAUD_SERVE_V2_H
#define FRAUD_SERVE_V2_H

#include "serve/buf.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define FR__V2_MAX_RANK 8
#define FR__V2_MAX_TENSORS 8

/* Tensor datatypes of the protocol that this server accepts on input (and
 * produces on output).  Others (BYTES, FP16, UINT8...) are rejected with a
 * message listing these. */
typedef enum fr__dtype {
  FR__DT_BOOL = 0,
  FR__DT_INT32,
  FR__DT_INT64,
  FR__DT_FP32,
  FR__DT_FP64,
  FR__DT_INVALID
} fr__dtype;

/* "BOOL", "INT32", "INT64", "FP32", "FP64". */
const char *fr__dtype_name(fr__dtype d);
/* Parses a datatype name; FR__DT_INVALID when unknown. */
fr__dtype fr__dtype_parse(const char *s);
/* Bytes per element in the binary extension (BOOL = 1). */
size_t fr__dtype_size(fr__dtype d);

/* Error categories, used as the `reason` label of
 * fraud_request_errors_total. */
#define FR__REASON_BAD_JSON "bad_json"
#define FR__REASON_BAD_SHAPE "bad_shape"
#define FR__REASON_BAD_TYPE "bad_type"
#define FR__REASON_MISSING "missing_field"
/* A value of the right type outside what the schema or the datatype allows
 * (below a column's min, an event time outside its range, NaN text, an FP32
 * element beyond the float range). */
#define FR__REASON_OUT_OF_RANGE "out_of_range"
/* The Redis state store could not be reached (state.redis.on_outage: fail):
 * 503, the transaction is not scored. */
#define FR__REASON_STATE_UNAVAILABLE "state_unavailable"

typedef struct fr__v2_input {
  const char *name;  /* borrowed from the request document */
  fr__dtype dtype;
  int rank;
  int64_t shape[FR__V2_MAX_RANK];
  size_t count;      /* product of shape */
  float *values;     /* count values converted to float32 (NaN = missing) */
} fr__v2_input;

typedef struct fr__v2_output_req {
  const char *name;  /* borrowed */
  int binary;        /* parameters.binary_data (or the request default) */
} fr__v2_output_req;

/* A decoded request.  Zero-initialise, then decode any number of times with
 * fr__v2_request_parse (storage is reused); close with
 * fr__v2_request_close. */
typedef struct fr__v2_request {
  json_t *doc;             /* owned, unless in_arena */
  int in_arena;            /* set by the caller: doc is parsed into an arena
                              and is dropped, never json_decref'ed */
  const char *id;          /* "id", or NULL */
  json_t *parameters;      /* request "parameters" object or NULL (borrowed) */
  size_t ninputs;
  fr__v2_input inputs[FR__V2_MAX_TENSORS];
  size_t noutputs;         /* 0 = all default outputs */
  fr__v2_output_req outputs[FR__V2_MAX_TENSORS];
  int binary_output;       /* parameters.binary_data_output */
  float *storage;          /* backing store of inputs[].values */
  size_t storage_cap;      /* floats */
} fr__v2_request;

typedef struct fr__v2_limits {
  size_t max_elements; /* per request, over all inputs */
} fr__v2_limits;

/* Decodes body[0..len).  json_len is the value of the
 * Inference-Header-Content-Length header, or (size_t)-1 when absent (the
 * whole body is JSON); with it, bytes after the JSON part are the binary
 * tensors of the inputs that declare parameters.binary_data_size, which must
 * account for them exactly.  Null in the data of a floating-point tensor is
 * read as NaN (a missing value); a floating-point element (JSON or binary,
 * FP32 or FP64) that is infinite or beyond the float32 range the model reads
 * (|x| > FLT_MAX, e.g. 1e39) is refused with FR_ERANGE and reason
 * out_of_range, naming inputs[i].data[flat index].  On error returns
 * FR_EPARSE (malformed JSON or binary section), FR_ESCHEMA (missing or
 * mistyped field), FR_ERANGE (bad shape or element count, a value out of
 * range) or FR_ENOMEM, sets *reason to a FR__REASON_*
 * string and err to a message naming the field. */
int fr__v2_request_parse(fr__v2_request *r, const char *body, size_t len,
                         size_t json_len, const fr__v2_limits *lim,
                         const char **reason, fr_error *err);
/* Drops the document (keeps storage for reuse). */
void fr__v2_request_clear(fr__v2_request *r);
void fr__v2_request_close(fr__v2_request *r);

/* 1 when output `name` is wanted: the request named it, or named no outputs
 * and `is_default`.  *binary receives whether it goes in binary form. */
int fr__v2_wants_output(const fr__v2_request *r, const char *name,
                        int is_default, int *binary);

/* Response encoder: JSON in `json`, binary outputs accumulated in `bin`. */
typedef struct fr__v2_response {
  fr__buf json;
  fr__buf bin;
  int noutputs;
} fr__v2_response;

/* Starts {"model_name":..,"model_version":..,"id":..,"outputs":[ (id omitted
 * when NULL). */
void fr__v2_response_begin(fr__v2_response *w, const char *model,
                           const char *version, const char *id);
/* Appends one output tensor.  data holds count elements of dtype (float for
 * FP32, double for FP64, int32_t, int64_t, uint8_t for BOOL); in binary form
 * the bytes go to `bin` little-endian and the JSON carries
 * parameters.binary_data_size. */
void fr__v2_response_output(fr__v2_response *w, const char *name,
                            fr__dtype dtype, const int64_t *shape, int rank,
                            const void *data, size_t count, int binary);
/* Closes the JSON.  When any output is binary, the body is json followed by
 * bin and the Inference-Header-Content-Length header must be json.len. */
void fr__v2_response_end(fr__v2_response *w);
void fr__v2_response_reset(fr__v2_response *w);
void fr__v2_response_close(fr__v2_response *w);

/* Formats a shape as "[2, 3]" into buf. */
void fr__v2_fmt_shape(char *buf, size_t cap, const int64_t *shape, int rank);

#endif
