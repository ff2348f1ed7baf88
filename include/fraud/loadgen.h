/*
 * fraud/loadgen.h - the load client behind `fraud loadgen`: an event-loop
 * HTTP/1.1 keep-alive client that drives a scoring server (or any HTTP
 * endpoint) in a closed loop (each connection sends its next request when the
 * last one is answered) or an open loop at a fixed rate, with latency
 * measured from each request's intended send time so that a server stall is
 * not hidden (coordinated-omission correction as in Gil Tene's wrk2).
 * Latencies go into a high-dynamic-range histogram (HdrHistogram's
 * log-linear bucket layout, also declared here).
 *
 * Request bodies come from a body set: a file, a file of one body per line,
 * a CSV sample of raw transactions turned into /v1/score JSON objects, or
 * KServe V2 / Open Inference Protocol infer requests with FP32 tensors of a
 * given batch size.  docs/loadgen.md describes the command and its output.
 *
 * Units: times in the API are seconds (double); latencies recorded in the
 * histogram are nanoseconds (int64).
 */
#ifndef FRAUD_LOADGEN_H
#define FRAUD_LOADGEN_H

#include <stdatomic.h>

#include "fraud/common.h"
#include "fraud/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * High-dynamic-range histogram.
 *
 * The layout is Gil Tene's HdrHistogram (http://hdrhistogram.org/, "HdrHistogram:
 * A High Dynamic Range Histogram", and the reference Java implementation's
 * AbstractHistogram): values are integers; the range [lowest, highest] is
 * split into buckets that each cover twice the range of the previous one, and
 * every bucket into the same number of linear sub-buckets (2^ceil(log2(2 *
 * 10^sigfigs))), so any recorded value is known to `sigfigs` significant
 * decimal digits whatever its magnitude.  Recording is O(1) and allocates
 * nothing.
 * ------------------------------------------------------------------------ */

typedef struct fr_hist fr_hist;

/* A histogram for integer values in [lowest, highest] (lowest >= 1, highest
 * >= 2 * lowest) kept to `sigfigs` significant digits (1..5).  Memory is
 * about 8 * (buckets + 1) * 2^ceil(log2(2 * 10^sigfigs)) / 2 bytes: 270 KiB
 * for 1 ns .. 1 h at 3 digits.  Returns NULL with err (FR_EINVAL for bad
 * bounds, FR_ENOMEM).  Free with fr_hist_free.  Not thread-safe: use one
 * histogram per thread and fr_hist_merge them. */
FR_EXPORT fr_hist *fr_hist_new(int64_t lowest, int64_t highest, int sigfigs,
                               fr_error *err);
FR_EXPORT void fr_hist_free(fr_hist *h);

/* Forgets every recorded value (keeps the layout). */
FR_EXPORT void fr_hist_reset(fr_hist *h);

/* Records `count` occurrences of `value`.  Values below 0 are rejected with
 * FR_ERANGE; values above `highest` are recorded as `highest` and counted by
 * fr_hist_saturated (so a 2-hour stall is never silently dropped).  The
 * exact min, max, sum and sum of squares are kept alongside the buckets. */
FR_EXPORT int fr_hist_record(fr_hist *h, int64_t value);
FR_EXPORT int fr_hist_record_n(fr_hist *h, int64_t value, uint64_t count);

/* Adds every count of `src` into `dst`.  Both must have been created with
 * the same lowest, highest and sigfigs (else FR_EINVAL, dst unchanged). */
FR_EXPORT int fr_hist_merge(fr_hist *dst, const fr_hist *src);

/* Number of recorded values; exact min and max (0 when empty); mean and
 * population standard deviation of the exact values (0 when empty). */
FR_EXPORT uint64_t fr_hist_count(const fr_hist *h);
FR_EXPORT int64_t fr_hist_min(const fr_hist *h);
FR_EXPORT int64_t fr_hist_max(const fr_hist *h);
FR_EXPORT double fr_hist_mean(const fr_hist *h);
FR_EXPORT double fr_hist_stdev(const fr_hist *h);
/* Values recorded above `highest` (clamped). */
FR_EXPORT uint64_t fr_hist_saturated(const fr_hist *h);

/* The p-th percentile (0 <= p <= 100) by the nearest-rank definition: the
 * smallest recorded value v such that at least ceil(p/100 * count) values
 * are <= v (Hyndman & Fan's type 1, numpy's method="inverted_cdf"); p = 0 is
 * the minimum.  The answer is the highest value equivalent to v (the top of
 * its sub-bucket, as HdrHistogram reports), clamped to the exact [min, max],
 * so it never under-states a latency and lies within
 * [fr_hist_lowest_equivalent(v), fr_hist_highest_equivalent(v)].  Returns 0
 * for an empty histogram. */
FR_EXPORT int64_t fr_hist_percentile(const fr_hist *h, double p);

/* Number of recorded values at or below `value`, to the histogram's
 * precision: values equivalent to `value` (same sub-bucket) count as below.
 * For service-level checks such as "share of requests under 5 ms". */
FR_EXPORT uint64_t fr_hist_count_at_or_below(const fr_hist *h, int64_t value);

/* Lowest and highest values that share `v`'s sub-bucket (and so cannot be
 * told apart from it). */
FR_EXPORT int64_t fr_hist_lowest_equivalent(const fr_hist *h, int64_t v);
FR_EXPORT int64_t fr_hist_highest_equivalent(const fr_hist *h, int64_t v);

/* ------------------------------------------------------------------------
 * Body sets: the requests a run cycles through.
 * ------------------------------------------------------------------------ */

typedef struct fr_loadgen_bodies fr_loadgen_bodies;

/* An empty body set.  NULL on ENOMEM.  Free with fr_loadgen_bodies_free. */
FR_EXPORT fr_loadgen_bodies *fr_loadgen_bodies_new(void);
FR_EXPORT void fr_loadgen_bodies_free(fr_loadgen_bodies *b);

/* Appends a copy of data[0..len) as one body.  `headers` is NULL or extra
 * header lines sent with this body only, each ending in "\r\n" (e.g.
 * "Inference-Header-Content-Length: 96\r\n"); `content_type` NULL means the
 * run's default.  Errors: FR_ENOMEM. */
FR_EXPORT int fr_loadgen_bodies_add(fr_loadgen_bodies *b, const void *data,
                                    size_t len, const char *content_type,
                                    const char *headers, fr_error *err);

/* Appends the whole file as one body.  Errors: FR_EIO naming the path. */
FR_EXPORT int fr_loadgen_bodies_add_file(fr_loadgen_bodies *b,
                                         const char *path, fr_error *err);

/* Appends one body per non-empty line of the file (JSON lines: the line
 * without its "\n" or "\r\n").  Errors: FR_EIO; FR_EINVAL when the file has
 * no non-empty line. */
FR_EXPORT int fr_loadgen_bodies_add_lines(fr_loadgen_bodies *b,
                                          const char *path, fr_error *err);

/* Appends one /v1/score body per transaction of the CSV file at `path`
 * (plain or gzip; read with fr_csv_open): a JSON object whose members are
 * the header's columns that schema `s` knows, in header order, except the
 * label column, each value a JSON string holding the cell's text exactly as
 * in the file ({"Time":"406","V1":"-2.3122265423263",...}).  The server
 * parses such strings with fr_schema_parse_cell, the CSV reader's own cell
 * parser, so a row sent this way scores exactly as in the file.
 * `max_rows` 0 takes every row.  Errors (the set is left unchanged):
 * FR_EIO, FR_EPARSE naming path:line (malformed CSV, a row whose field count
 * differs from the header's, no row), FR_ESCHEMA (the header lacks a column
 * the schema requires), FR_ENOMEM. */
FR_EXPORT int fr_loadgen_bodies_add_csv(fr_loadgen_bodies *b,
                                        const fr_schema *s,
                                        const char *path, size_t max_rows,
                                        fr_error *err);

/* Number of bodies, and body i (pointer valid until the set is freed). */
FR_EXPORT size_t fr_loadgen_bodies_count(const fr_loadgen_bodies *b);
FR_EXPORT const char *fr_loadgen_bodies_get(const fr_loadgen_bodies *b,
                                            size_t i, size_t *len);

/* V2 infer request bodies: `nbodies` bodies, body k holding rows
 * [k*batch, (k+1)*batch) (modulo `rows`) of the row-major float32 matrix
 * x[rows x cols] as one FP32 input tensor named `input_name` of shape
 * [batch, cols].  Format per the KServe V2 / Open Inference Protocol REST
 * spec (https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/):
 *   {"inputs":[{"name":..,"shape":[batch,cols],"datatype":"FP32","data":[..]}]}
 * with floats printed shortest-round-trip (fr_fmt_float), NaN (a missing
 * value) as JSON null.  With `binary` set, the binary tensor data extension
 * is used instead (a JSON header with "parameters":{"binary_data_size":n},
 * then batch*cols little-endian float32 values; header length in an
 * Inference-Header-Content-Length header), which carries NaN exactly.
 * Errors: FR_EINVAL (batch or cols 0, rows 0), FR_ENOMEM. */
typedef struct fr_loadgen_v2 {
  const char *input_name; /* NULL: "input" */
  const float *x;         /* rows x cols, row-major */
  size_t rows, cols;
  size_t batch;           /* rows per request */
  size_t nbodies;         /* 0: enough bodies to use every row once (max 4096) */
  int binary;             /* 1: binary tensor data extension */
} fr_loadgen_v2;
FR_EXPORT int fr_loadgen_bodies_add_v2(fr_loadgen_bodies *b,
                                       const fr_loadgen_v2 *spec,
                                       fr_error *err);

/* Reads a feature matrix CSV as `fraud features` and fr_table_write_csv
 * write it (a header of names, one row per line, an empty cell = missing =
 * NaN) into a new rows x cols row-major float32 matrix the caller frees
 * with free().  The columns named "transaction_id" (the id column `fraud
 * features` writes) and "label" are skipped, so the rest are the model's
 * features in order; their names are not kept.  Errors (NULL returned):
 * FR_EIO, FR_EPARSE naming path:line:column (a cell that is not a number, a
 * row of the wrong width, no row, no feature column), FR_ENOMEM. */
FR_EXPORT float *fr_loadgen_read_matrix(const char *path, size_t *rows,
                                        size_t *cols, fr_error *err);

/* A rows x cols row-major float32 matrix of uniform values in [0, 1) from
 * SplitMix64 (G. Steele, D. Lea, C. Flood, "Fast splittable pseudorandom
 * number generators", OOPSLA 2014) seeded with `seed`: the same seed gives
 * the same matrix on every machine.  Caller frees with free().  NULL on
 * ENOMEM or overflow. */
FR_EXPORT float *fr_loadgen_random_matrix(size_t rows, size_t cols,
                                          uint64_t seed);

/* ------------------------------------------------------------------------
 * Runs.
 * ------------------------------------------------------------------------ */

/* Failure kinds that end a request without a response, X(name, label,
 * description).  Responses with a status outside 2xx are counted by status,
 * not here. */
#define FR_LOADGEN_ERRORS(X)                                                  \
  X(CONNECT, "connect", "could not open a connection (refused, unreachable)") \
  X(WRITE, "write", "the connection failed while sending the request")        \
  X(READ, "read", "the connection closed or failed before a full response")   \
  X(TIMEOUT, "timeout", "no full response within the timeout")                \
  X(PARSE, "parse", "the response was not valid HTTP/1.1")

typedef enum fr_loadgen_error_kind {
#define FR__LG_ERR_ENUM(name, label, desc) FR_LOADGEN_ERR_##name,
  FR_LOADGEN_ERRORS(FR__LG_ERR_ENUM)
#undef FR__LG_ERR_ENUM
  FR_LOADGEN_NERRORS
} fr_loadgen_error_kind;

/* Label of an error kind ("connect"), or "unknown". */
FR_EXPORT const char *fr_loadgen_error_label(fr_loadgen_error_kind k);

typedef struct fr_loadgen_config {
  const char *url;           /* "http://host:port/path?query"; only http:// */
  const char *method;        /* NULL: POST with bodies, GET without */
  const char *content_type;  /* NULL: "application/json" */
  const char *const *headers; /* nheaders extra "Name: value" lines, no CRLF */
  size_t nheaders;
  uint64_t requests;         /* total requests to issue; 0 = no count limit */
  double duration;           /* seconds to keep issuing; 0 = no time limit */
  double warmup;             /* seconds at the start not measured */
  int connections;           /* keep-alive connections (>= 1) */
  int threads;               /* event-loop threads (clamped to connections) */
  double rate;               /* requests/s over all connections; 0 = closed loop */
  double timeout;            /* seconds for connect + request + response */
  double interval;           /* seconds per interval report; 0 = none */
  atomic_int *stop;          /* optional: set non-zero to end the run early */
} fr_loadgen_config;

/* Defaults: GET/POST by bodies, application/json, 10 s duration, no warm-up,
 * 16 connections, 1 thread, closed loop, 10 s timeout, no intervals. */
FR_EXPORT void fr_loadgen_config_default(fr_loadgen_config *c);

/* Statistics of one interval of a run (per-interval reports). */
typedef struct fr_loadgen_interval {
  double start;        /* seconds since the end of warm-up */
  double length;       /* seconds (the last one may be shorter) */
  uint64_t completed;  /* responses received, any status */
  uint64_t non2xx;     /* of which status outside 200..299 */
  uint64_t errors;     /* requests failed without a response */
  fr_hist *latency;    /* nanoseconds, responses completed in the interval
                          (2 significant digits, to keep long runs small) */
} fr_loadgen_interval;

/* What a run measured.  Requests whose start (intended send time in an open
 * loop, issue time in a closed loop) falls in the warm-up are not counted
 * anywhere below.  Every counted request ends as exactly one of: a response
 * (counted in `status`, its latency in `latency`) or an error (`errors`); so
 * completed + sum(errors) == issued.  Latency is from the request's start to
 * the last byte of its response, in nanoseconds, including any reconnect the
 * request needed. */
typedef struct fr_loadgen_result {
  int open_loop;                /* 1 when config.rate > 0 */
  int stopped;                  /* 1 when config.stop ended the run early */
  int threads, connections;     /* as run */
  double elapsed;               /* seconds from end of warm-up to end of run */
  uint64_t issued;              /* counted requests */
  uint64_t completed;           /* responses, any status */
  uint64_t status[600];         /* responses by status code (0..599) */
  uint64_t errors[FR_LOADGEN_NERRORS];
  uint64_t unsent;              /* open loop: requests due in the measured
                                   period never sent because every connection
                                   was busy (> 0: the rate was not reached) */
  uint64_t connects;            /* connections opened (all, incl. warm-up) */
  uint64_t bytes_sent, bytes_received; /* all, incl. warm-up */
  fr_hist *latency;             /* nanoseconds, 1 ns .. 1 h, 3 digits */
  size_t nintervals;
  fr_loadgen_interval *intervals;
} fr_loadgen_result;

/* Runs a load test against config->url with the bodies of `b` (NULL or an
 * empty set: requests without a body), each connection cycling through them
 * in order (thread t of T starts at body t and steps by T).
 *
 * Closed loop (rate 0): each connection sends its next request as soon as the
 * previous one ends.  Open loop (rate R > 0): request k of connection g of C
 * is due at start + (g + k*C)/R seconds, so the whole run sends at an even
 * rate R; a request is sent when due or, if its connection is still busy,
 * as soon as the connection is free, and its latency is measured from when it
 * was due (wrk2's coordinated-omission correction: a stall of S seconds shows
 * up as the S*R requests it delayed, not as one slow request).
 *
 * The run issues requests until `requests` have been issued or `duration`
 * seconds have passed (whichever is first; at least one must be set), then
 * waits for the requests in flight (at most `timeout`).  Connections are
 * keep-alive HTTP/1.1 with TCP_NODELAY; a connection the server closes is
 * reopened for the next request.  Responses are parsed with
 * libhttp-parser.  A connect failure is retried after 10 ms.
 *
 * On success fills *out (release with fr_loadgen_result_close) and returns 0
 * even when every request failed: failures are data.  Errors: FR_EINVAL (bad
 * URL, no limit, connections < 1), FR_ENOTFOUND (host does not resolve),
 * FR_ENOMEM, FR_EIO (epoll/thread creation).  Thread-safe: runs share
 * nothing. */
FR_EXPORT int fr_loadgen_run(const fr_loadgen_config *config,
                             const fr_loadgen_bodies *b,
                             fr_loadgen_result *out, fr_error *err);

/* Frees what a run allocated in r (histograms, intervals).  NULL-safe. */
FR_EXPORT void fr_loadgen_result_close(fr_loadgen_result *r);

/* Responses per second over the measured period (0 when elapsed is 0). */
FR_EXPORT double fr_loadgen_result_throughput(const fr_loadgen_result *r);

/* Requests that did not get a 2xx: errors of every kind plus non-2xx
 * responses. */
FR_EXPORT uint64_t fr_loadgen_result_failures(const fr_loadgen_result *r);

/* The report as one JSON object (docs/loadgen.md lists its members; latencies
 * in milliseconds), as a new NUL-terminated string the caller frees, or NULL
 * on ENOMEM.  `config` supplies the echoed settings (url, rate...). */
FR_EXPORT char *fr_loadgen_result_json(const fr_loadgen_result *r,
                                       const fr_loadgen_config *config);

/* The report as text for people (wrk-like), written to f. */
FR_EXPORT void fr_loadgen_result_print(const fr_loadgen_result *r,
                                       const fr_loadgen_config *config,
                                       FILE *f);

/* One blocking HTTP/1.1 GET of `url` (for discovering V2 model metadata
 * before a run), with a timeout in seconds.  On success returns 0, sets
 * *status and *body (a new NUL-terminated string the caller frees, *len its
 * length).  Errors: FR_EINVAL (bad URL), FR_ENOTFOUND (host), FR_EIO
 * (connect, read; message names the URL), FR_ETIMEDOUT, FR_EPARSE (bad
 * HTTP), FR_ELIMIT (body over 16 MiB). */
FR_EXPORT int fr_loadgen_http_get(const char *url, double timeout, int *status,
                                  char **body, size_t *len, fr_error *err);

/* Asks a V2 server for model `model`'s input tensor (GET
 * <scheme://host:port of endpoint>/v2/models/<model>, the protocol's model
 * metadata): copies the first input's name into name[namecap] and sets *cols
 * to the last dimension of its shape (the feature count).  Errors: as
 * fr_loadgen_http_get; FR_ENOTFOUND when the server answers 404;
 * FR_EFORMAT when the answer is not metadata with an input of shape [-1, F]
 * (message quotes what was wrong). */
FR_EXPORT int fr_loadgen_v2_input(const char *endpoint, const char *model,
                                  double timeout, char *name, size_t namecap,
                                  size_t *cols, fr_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_LOADGEN_H */
