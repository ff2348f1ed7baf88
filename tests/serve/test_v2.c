/*
 * test_v2.c - the V2 / Open Inference Protocol codec, on hand-written
 * requests following the protocol's REST examples and Triton's binary data
 * extension: flat versus nested data, every shape and datatype error, null as
 * missing, the binary section (bytes worked out by hand from IEEE 754), the
 * response encoding.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include "serve/v2.h"

static fr__v2_limits lim = {1000};

static int parse(fr__v2_request *r, const char *body, const char **reason,
                 fr_error *err) {
  return fr__v2_request_parse(r, body, strlen(body), (size_t)-1, &lim, reason, err);
}

Test(v2, flat_and_nested_agree) {
  fr__v2_request a = {0}, b = {0};
  const char *why = NULL;
  fr_error err;
  cr_assert_eq(parse(&a,
                     "{\"id\":\"r1\",\"inputs\":[{\"name\":\"features\",\"shape\":[2,3],"
                     "\"datatype\":\"FP32\",\"data\":[1,2.5,3,4,5,6]}]}",
                     &why, &err),
               0, "%s", err.msg);
  cr_assert_eq(parse(&b,
                     "{\"inputs\":[{\"name\":\"features\",\"shape\":[2,3],"
                     "\"datatype\":\"FP32\",\"data\":[[1,2.5,3],[4,5,6]]}]}",
                     &why, &err),
               0, "%s", err.msg);
  cr_assert_str_eq(a.id, "r1");
  cr_assert_null(b.id);
  cr_assert_eq(a.ninputs, 1);
  cr_assert_str_eq(a.inputs[0].name, "features");
  cr_assert_eq(a.inputs[0].rank, 2);
  cr_assert_eq(a.inputs[0].shape[0], 2);
  cr_assert_eq(a.inputs[0].shape[1], 3);
  cr_assert_eq(a.inputs[0].count, 6);
  cr_assert_eq(memcmp(a.inputs[0].values, b.inputs[0].values, 6 * sizeof(float)), 0);
  cr_assert_eq(a.inputs[0].values[1], 2.5f);
  cr_assert_eq(a.inputs[0].values[5], 6.0f);
  fr__v2_request_close(&a);
  fr__v2_request_close(&b);
}

/* Each case: body, expected reason, a fragment the message must contain. */
static const struct bad {
  const char *body, *reason, *msg;
} bad_cases[] = {
    {"{\"inputs\":[", "bad_json", "invalid JSON"},
    {"[1,2]", "bad_json", "must be a JSON object"},
    {"{}", "missing_field", "inputs: missing"},
    {"{\"inputs\":[]}", "missing_field", "inputs: empty"},
    {"{\"inputs\":[{\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[1]}]}", "missing_field",
     "inputs[0].name"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1],\"data\":[1]}]}", "missing_field",
     "inputs[0].datatype"},
    {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1]}]}", "missing_field",
     "inputs[0].shape"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1],\"datatype\":\"FP32\"}]}", "missing_field",
     "inputs[0].data"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1],\"datatype\":\"BYTES\",\"data\":[1]}]}",
     "bad_type", "unsupported datatype 'BYTES'"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[-1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}",
     "bad_shape", "inputs[0].shape[0]: dimension must be positive, got -1"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[0,3],\"datatype\":\"FP32\",\"data\":[]}]}",
     "bad_shape", "must be positive, got 0"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1000000000000,3],\"datatype\":\"FP32\","
     "\"data\":[1,2,3]}]}",
     "bad_shape", "more than 1000 elements"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[9223372036854775807,9223372036854775807],"
     "\"datatype\":\"FP32\",\"data\":[1]}]}",
     "bad_shape", "more than 1000 elements"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2.5,3],\"datatype\":\"FP32\",\"data\":[1]}]}",
     "bad_shape", "must be an integer"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[],\"datatype\":\"FP32\",\"data\":[1]}]}",
     "bad_shape", "rank 0"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\",\"data\":[1,2,3,4,5]}]}",
     "bad_shape", "5 values but shape [2, 3] declares 6"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\","
     "\"data\":[1,2,3,4,5,6,7]}]}",
     "bad_shape", "7 values"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\","
     "\"data\":[[1,2],[3,4],[5,6]]}]}",
     "bad_shape", "nesting does not match the declared shape [2, 3]"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\","
     "\"data\":[[1,2,3,4,5,6]]}]}",
     "bad_shape", "nesting does not match"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\","
     "\"data\":[[1,2,[3]],[4,5,6]]}]}",
     "bad_shape", "nesting does not match"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[6],\"datatype\":\"FP32\","
     "\"data\":[[1,2,3],[4,5,6]]}]}",
     "bad_shape", "2 values but shape [6] declares 6"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,\"2\"]}]}",
     "bad_type", "inputs[0].data[1]: FP32 tensor element must be a number"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"INT32\","
     "\"data\":[1,3000000000]}]}",
     "bad_type", "INT32 range"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"INT64\",\"data\":[1,2.5]}]}",
     "bad_type", "must be an integer"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"BOOL\",\"data\":[true,1]}]}",
     "bad_type", "true or false"},
    {"{\"id\":7,\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
     "bad_type", "id: must be a string"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1],"
     "\"parameters\":{\"binary_data_size\":4}}]}",
     "bad_json", "without the Inference-Header-Content-Length"},
    {"{\"inputs\":[{\"name\":\"x\",\"name\":\"y\",\"shape\":[1],\"datatype\":\"FP32\","
     "\"data\":[1]}]}",
     "bad_json", "duplicate"},
    {"{\"outputs\":[{\"nam\":\"p\"}],\"inputs\":[{\"name\":\"x\",\"shape\":[1],"
     "\"datatype\":\"FP32\",\"data\":[1]}]}",
     "missing_field", "outputs[0].name"},
    /* FLT_MAX = 3.40282346638528859812e38 (IEEE 754 binary32): 1e39 and
     * 3.5e38 exceed it, so no float holds them; flat index of the 2nd
     * row's 1st element of a [2, 2] tensor is 2. */
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\","
     "\"data\":[[1,2],[1e39,4]]}]}",
     "out_of_range", "inputs[0].data[2]: FP32 tensor element outside the float32 range"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"FP64\","
     "\"data\":[0,null,-3.5e38]}]}",
     "out_of_range", "inputs[0].data[2]: FP64 tensor element outside the float32 range"},
};

Test(v2, every_bad_request_is_named) {
  fr__v2_request r = {0};
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const char *why = NULL;
    fr_error err = {0};
    int rc = parse(&r, bad_cases[i].body, &why, &err);
    cr_assert_lt(rc, 0, "case %zu accepted: %s", i, bad_cases[i].body);
    cr_assert_str_eq(why, bad_cases[i].reason, "case %zu (%s): reason %s, message %s", i,
                     bad_cases[i].body, why, err.msg);
    cr_assert_not_null(strstr(err.msg, bad_cases[i].msg), "case %zu: message '%s' lacks '%s'",
                       i, err.msg, bad_cases[i].msg);
  }
  /* The same request object decodes a valid body afterwards. */
  const char *why;
  fr_error err;
  cr_assert_eq(parse(&r,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP64\","
                     "\"data\":[0.1,null]}]}",
                     &why, &err),
               0, "%s", err.msg);
  cr_assert_eq(r.inputs[0].values[0], 0.1f); /* double 0.1 rounded to float32 */
  cr_assert(isnan(r.inputs[0].values[1]), "null is a missing value");
  fr__v2_request_close(&r);
}

/* The float32 range edge (IEEE 754 binary32, round to nearest even):
 * "3.4028235e38", FLT_MAX's shortest text, and 3.4028235677973362e38, the
 * last double below FLT_MAX + ulp/2, round to FLT_MAX; the next double,
 * 3.4028235677973366e38 = FLT_MAX + ulp/2, rounds to infinity: refused. */
Test(v2, float32_range_edge) {
  fr__v2_request r = {0};
  const char *why = NULL;
  fr_error err = {0};
  cr_assert_eq(parse(&r,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"FP32\","
                     "\"data\":[3.4028235e38,-3.4028235e38,3.4028235677973362e38]}]}",
                     &why, &err),
               0, "%s", err.msg);
  cr_assert_eq(r.inputs[0].values[0], FLT_MAX);
  cr_assert_eq(r.inputs[0].values[1], -FLT_MAX);
  cr_assert_eq(r.inputs[0].values[2], FLT_MAX);
  cr_assert_eq(parse(&r,
                     "{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP64\","
                     "\"data\":[0,-3.4028235677973366e38]}]}",
                     &why, &err),
               FR_ERANGE);
  cr_assert_str_eq(why, "out_of_range");
  cr_assert_not_null(strstr(err.msg, "inputs[0].data[1]: FP64 tensor element outside"), "%s",
                     err.msg);
  fr__v2_request_close(&r);
}

Test(v2, datatypes) {
  fr__v2_request r = {0};
  const char *why;
  fr_error err;
  cr_assert_eq(parse(&r,
                     "{\"inputs\":[{\"name\":\"a\",\"shape\":[3],\"datatype\":\"INT32\","
                     "\"data\":[-2147483648,0,2147483647]},"
                     "{\"name\":\"b\",\"shape\":[2],\"datatype\":\"BOOL\",\"data\":[true,false]},"
                     "{\"name\":\"c\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[16777217]}]}",
                     &why, &err),
               0, "%s", err.msg);
  cr_assert_eq(r.ninputs, 3);
  cr_assert_eq(r.inputs[0].values[0], -2147483648.0f);
  cr_assert_eq(r.inputs[1].values[0], 1.0f);
  cr_assert_eq(r.inputs[1].values[1], 0.0f);
  /* 16777217 is not representable in float32: round to nearest even. */
  cr_assert_eq(r.inputs[2].values[0], 16777216.0f);
  fr__v2_request_close(&r);
}

/* Binary extension: JSON header then the raw tensor.  1.5f is 0x3fc00000,
 * -2.0f is 0xc0000000 (IEEE 754 binary32), little-endian on the wire. */
Test(v2, binary_input) {
  const char *json = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\","
                     "\"parameters\":{\"binary_data_size\":8}}],"
                     "\"outputs\":[{\"name\":\"probability\",\"parameters\":{\"binary_data\":true}},"
                     "{\"name\":\"margin\"}]}";
  size_t jl = strlen(json);
  char body[512];
  memcpy(body, json, jl);
  const unsigned char raw[8] = {0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0};
  memcpy(body + jl, raw, 8);
  fr__v2_request r = {0};
  const char *why;
  fr_error err;
  cr_assert_eq(fr__v2_request_parse(&r, body, jl + 8, jl, &lim, &why, &err), 0, "%s", err.msg);
  cr_assert_eq(r.inputs[0].values[0], 1.5f);
  cr_assert_eq(r.inputs[0].values[1], -2.0f);
  int bin = -1;
  cr_assert(fr__v2_wants_output(&r, "probability", 1, &bin));
  cr_assert_eq(bin, 1);
  cr_assert(fr__v2_wants_output(&r, "margin", 0, &bin));
  cr_assert_eq(bin, 0);
  cr_assert_not(fr__v2_wants_output(&r, "label", 1, &bin));
  /* Truncated binary section, extra bytes, header beyond the body. */
  cr_assert_lt(fr__v2_request_parse(&r, body, jl + 7, jl, &lim, &why, &err), 0);
  cr_assert_not_null(strstr(err.msg, "truncated"), "%s", err.msg);
  body[jl + 8] = 0;
  cr_assert_lt(fr__v2_request_parse(&r, body, jl + 9, jl, &lim, &why, &err), 0);
  cr_assert_not_null(strstr(err.msg, "1 bytes more"), "%s", err.msg);
  cr_assert_lt(fr__v2_request_parse(&r, body, jl + 8, jl + 100, &lim, &why, &err), 0);
  fr__v2_request_close(&r);
}

/* Binary FP64 elements too: 1e39 (0x48078287f49c4a1d, the IEEE 754
 * binary64 of 1e39, little-endian on the wire) is refused; FLT_MAX itself
 * (0x47efffffe0000000) passes. */
Test(v2, binary_fp64_beyond_float_range) {
  const char *json = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP64\","
                     "\"parameters\":{\"binary_data_size\":16}}]}";
  size_t jl = strlen(json);
  char body[256];
  memcpy(body, json, jl);
  const uint64_t ok = 0x47efffffe0000000ull, big = 0x48078287f49c4a1dull;
  for (int b = 0; b < 8; b++) {
    body[jl + b] = (char)(ok >> (8 * b));
    body[jl + 8 + b] = (char)(big >> (8 * b));
  }
  fr__v2_request r = {0};
  const char *why = NULL;
  fr_error err = {0};
  cr_assert_eq(fr__v2_request_parse(&r, body, jl + 16, jl, &lim, &why, &err), FR_ERANGE);
  cr_assert_str_eq(why, "out_of_range");
  cr_assert_not_null(strstr(err.msg, "inputs[0]: binary FP64 element 1 outside the float32 range"),
                     "%s", err.msg);
  memcpy(body + jl + 8, body + jl, 8); /* both FLT_MAX */
  cr_assert_eq(fr__v2_request_parse(&r, body, jl + 16, jl, &lim, &why, &err), 0, "%s", err.msg);
  cr_assert_eq(r.inputs[0].values[1], FLT_MAX);
  fr__v2_request_close(&r);
}

Test(v2, binary_size_must_match_shape) {
  const char *json = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP64\","
                     "\"parameters\":{\"binary_data_size\":8}}]}";
  char body[256];
  size_t jl = strlen(json);
  memcpy(body, json, jl);
  memset(body + jl, 0, 8);
  fr__v2_request r = {0};
  const char *why;
  fr_error err;
  cr_assert_lt(fr__v2_request_parse(&r, body, jl + 8, jl, &lim, &why, &err), 0);
  cr_assert_str_eq(why, "bad_shape");
  cr_assert_not_null(strstr(err.msg, "does not match shape [1, 2] of FP64 (16 bytes)"), "%s",
                     err.msg);
  fr__v2_request_close(&r);
}

Test(v2, response_json_and_binary) {
  fr__v2_response w = {0};
  float p[2] = {0.25f, 0.1f};
  int32_t lab[2] = {0, 1};
  int64_t shape[1] = {2};
  fr__v2_response_begin(&w, "fraud", "3", "r\"1");
  fr__v2_response_output(&w, "probability", FR__DT_FP32, shape, 1, p, 2, 0);
  fr__v2_response_output(&w, "label", FR__DT_INT32, shape, 1, lab, 2, 1);
  fr__v2_response_end(&w);
  cr_assert_str_eq(fr__buf_cstr(&w.json),
                   "{\"model_name\":\"fraud\",\"model_version\":\"3\",\"id\":\"r\\\"1\","
                   "\"outputs\":[{\"name\":\"probability\",\"datatype\":\"FP32\",\"shape\":[2],"
                   "\"data\":[0.25,0.1]},{\"name\":\"label\",\"datatype\":\"INT32\",\"shape\":[2],"
                   "\"parameters\":{\"binary_data_size\":8}}]}");
  const unsigned char want[8] = {0, 0, 0, 0, 1, 0, 0, 0};
  cr_assert_eq(w.bin.len, 8);
  cr_assert_eq(memcmp(w.bin.data, want, 8), 0);
  fr__v2_response_close(&w);
}
