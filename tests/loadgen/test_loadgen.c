/*
 * Tests src/serve/loadgen*.c: the load client against a real HTTP server
 * (libmicrohttpd, one thread per connection, in this process) whose own
 * request counter is the truth for what the client claims: every request
 * counted once, every status and failure attributed, bodies cycled in the
 * documented order, a stall showing up in an open loop as every request it
 * delayed (coordinated-omission correction) and in a closed loop as one.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fr_test.h"
#include "fraud/loadgen.h"

/* ------------------------------------------------------------------------
 * The test server
 * ------------------------------------------------------------------------ */

static struct {
  struct MHD_Daemon *d;
  int port;
  atomic_int count;       /* requests answered */
  atomic_int per_body[4]; /* requests whose body was "b0".."b3" */
  int fail_every;         /* every n-th request answers 503 */
  int close_every;        /* every n-th response closes the connection */
  int stall_at;           /* the n-th request waits stall_ms first */
  int stall_ms;
  atomic_int last_ihcl;   /* Inference-Header-Content-Length of the last request */
  atomic_int last_len;    /* body length of the last request */
  atomic_llong body_bytes; /* request body bytes received in all */
  struct MHD_Response *ok, *unavailable, *closing, *metadata, *missing;
} srv;

typedef struct req_state {
  char body[1024];
  size_t len;
  size_t total; /* body bytes received, all of them */
} req_state;

/* A chunked response of 3 pieces (the size is not known up front, so
 * libmicrohttpd uses chunked transfer encoding on HTTP/1.1). */
static ssize_t chunk_reader(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)cls;
  static const char *pieces[] = {"{\"part\":", "\"one two three\"", "}"};
  size_t off = 0;
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(pieces[i]);
    if (pos < off + n) {
      size_t k = off + n - pos;
      if (k > max)
        k = max;
      memcpy(buf, pieces[i] + (pos - off), k);
      return (ssize_t)k;
    }
    off += n;
  }
  return MHD_CONTENT_READER_END_OF_STREAM;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls) {
  (void)cls;
  (void)method;
  (void)version;
  req_state *st = *con_cls;
  if (!st) {
    st = calloc(1, sizeof *st);
    *con_cls = st;
    return MHD_YES;
  }
  if (*size) {
    size_t n = *size;
    st->total += n;
    if (st->len + n < sizeof st->body) {
      memcpy(st->body + st->len, data, n);
      st->len += n;
    }
    *size = 0;
    return MHD_YES;
  }
  if (strcmp(url, "/v2/models/m") == 0)
    return MHD_queue_response(c, 200, srv.metadata);
  if (strncmp(url, "/v2/models/", 11) == 0)
    return MHD_queue_response(c, 404, srv.missing);
  int n = atomic_fetch_add(&srv.count, 1) + 1;
  atomic_fetch_add(&srv.body_bytes, (long long)st->total);
  if (strcmp(url, "/chunked") == 0) {
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, chunk_reader, NULL, NULL);
    enum MHD_Result q = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return q;
  }
  const char *ihcl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 "Inference-Header-Content-Length");
  atomic_store(&srv.last_ihcl, ihcl ? atoi(ihcl) : -1);
  atomic_store(&srv.last_len, (int)st->len);
  if (st->len == 2 && st->body[0] == 'b' && st->body[1] >= '0' && st->body[1] <= '3')
    atomic_fetch_add(&srv.per_body[st->body[1] - '0'], 1);
  if (srv.stall_at && n == srv.stall_at)
    usleep((useconds_t)srv.stall_ms * 1000);
  if (srv.fail_every && n % srv.fail_every == 0)
    return MHD_queue_response(c, 503, srv.unavailable);
  if (srv.close_every && n % srv.close_every == 0)
    return MHD_queue_response(c, 200, srv.closing);
  return MHD_queue_response(c, 200, srv.ok);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  free(*con_cls);
  *con_cls = NULL;
}

static struct MHD_Response *text_response(const char *text) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, "Content-Type", "application/json");
  return r;
}

static void server_start(void) {
  srv.ok = text_response("{\"fraud_probability\":0.25}");
  srv.unavailable = text_response("{\"error\":\"not ready\"}");
  srv.closing = text_response("{\"fraud_probability\":0.5}");
  MHD_add_response_header(srv.closing, "Connection", "close");
  srv.metadata = text_response(
      "{\"name\":\"m\",\"versions\":[\"1\"],\"platform\":\"fraud\",\"inputs\":[{\"name\":"
      "\"input__0\",\"datatype\":\"FP32\",\"shape\":[-1,30]}],\"outputs\":[]}");
  srv.missing = text_response("{\"error\":\"no such model\"}");
  srv.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                           0, NULL, NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED,
                           completed, NULL, MHD_OPTION_END);
  cr_assert_not_null(srv.d, "cannot start the test server");
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT);
  srv.port = info->port;
}

static void server_stop(void) {
  MHD_stop_daemon(srv.d);
  MHD_destroy_response(srv.ok);
  MHD_destroy_response(srv.unavailable);
  MHD_destroy_response(srv.closing);
  MHD_destroy_response(srv.metadata);
  MHD_destroy_response(srv.missing);
  memset(&srv, 0, sizeof srv);
}

TestSuite(loadgen, .init = server_start, .fini = server_stop, .timeout = 60);

static char url_buf[128];
static const char *url(const char *path) {
  snprintf(url_buf, sizeof url_buf, "http://127.0.0.1:%d%s", srv.port, path);
  return url_buf;
}

static fr_loadgen_bodies *four_bodies(void) {
  fr_loadgen_bodies *b = fr_loadgen_bodies_new();
  const char *names[] = {"b0", "b1", "b2", "b3"};
  for (int i = 0; i < 4; i++)
    cr_assert_eq(fr_loadgen_bodies_add(b, names[i], 2, NULL, NULL, NULL), 0);
  return b;
}

static uint64_t total_errors(const fr_loadgen_result *r) {
  uint64_t n = 0;
  for (int e = 0; e < FR_LOADGEN_NERRORS; e++)
    n += r->errors[e];
  return n;
}

static void run_ok(const fr_loadgen_config *c, const fr_loadgen_bodies *b,
                   fr_loadgen_result *r) {
  fr_error err = {0};
  int rc = fr_loadgen_run(c, b, r, &err);
  cr_assert_eq(rc, 0, "run failed: %s", err.msg);
  /* The accounting identity every run must keep. */
  cr_assert_eq(r->completed + total_errors(r), r->issued);
  uint64_t by_status = 0;
  for (int s = 0; s < 600; s++)
    by_status += r->status[s];
  cr_assert_eq(by_status, r->completed);
  cr_assert_eq(fr_hist_count(r->latency), r->completed);
}

/* ------------------------------------------------------------------------
 * Closed loop
 * ------------------------------------------------------------------------ */

Test(loadgen, closed_loop_counts_every_request) {
  fr_loadgen_bodies *b = four_bodies();
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v1/score");
  c.requests = 1000;
  c.duration = 0;
  c.connections = 4;
  c.threads = 2;
  fr_loadgen_result r;
  run_ok(&c, b, &r);
  cr_assert_eq(atomic_load(&srv.count), 1000);
  cr_assert_eq(r.issued, 1000);
  cr_assert_eq(r.completed, 1000);
  cr_assert_eq(r.status[200], 1000);
  cr_assert_eq(total_errors(&r), 0);
  cr_assert_eq(fr_loadgen_result_failures(&r), 0);
  cr_assert_eq(r.connects, 4);
  /* Two threads of 500 requests: thread 0 sends bodies 0, 2, 0, 2...,
   * thread 1 bodies 1, 3, 1, 3...: 250 each. */
  for (int i = 0; i < 4; i++)
    cr_assert_eq(atomic_load(&srv.per_body[i]), 250, "body b%d", i);
  cr_assert(fr_hist_min(r.latency) > 0);
  cr_assert(fr_loadgen_result_throughput(&r) > 0);
  fr_loadgen_result_close(&r);
  fr_loadgen_bodies_free(b);
}

Test(loadgen, more_connections_than_requests) {
  /* 3 requests over 8 connections in 2 threads: the count is split 1 + 2
   * and idle connections simply end. */
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v1/score");
  c.requests = 3;
  c.duration = 0;
  c.connections = 8;
  c.threads = 2;
  fr_loadgen_result r;
  run_ok(&c, NULL, &r);
  cr_assert_eq(atomic_load(&srv.count), 3);
  cr_assert_eq(r.completed, 3);
  cr_assert_leq(r.connects, 3, "no connection opened without a request to send");
  fr_loadgen_result_close(&r);
}

Test(loadgen, statuses_are_counted) {
  srv.fail_every = 10;
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v1/score");
  c.requests = 500;
  c.duration = 0;
  c.connections = 3;
  c.threads = 1;
  fr_loadgen_result r;
  run_ok(&c, NULL, &r);
  cr_assert_eq(atomic_load(&srv.count), 500);
  cr_assert_eq(r.status[503], 50);
  cr_assert_eq(r.status[200], 450);
  cr_assert_eq(fr_loadgen_result_failures(&r), 50);
  cr_assert_eq(total_errors(&r), 0);
  fr_loadgen_result_close(&r);
}

Test(loadgen, reconnects_when_the_server_closes) {
  srv.close_every = 7;
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v1/score");
  c.requests = 700;
  c.duration = 0;
  c.connections = 2;
  c.threads = 2;
  fr_loadgen_result r;
  run_ok(&c, NULL, &r);
  cr_assert_eq(atomic_load(&srv.count), 700);
  cr_assert_eq(r.completed, 700);
  cr_assert_eq(r.status[200], 700);
  /* 100 responses closed their connection; each next request reopened
   * one (the last two closes may end a connection's run). */
  cr_assert_geq(r.connects, 2 + 100 - 2);
  cr_assert_leq(r.connects, 2 + 100);
  fr_loadgen_result_close(&r);
}

static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(fd, (struct sockaddr *)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

Test(loadgen, connect_failures_are_errors_not_a_crash) {
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/", closed_port());
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = u;
  c.requests = 20;
  c.duration = 0;
  c.connections = 2;
  fr_loadgen_result r;
  run_ok(&c, NULL, &r);
  cr_assert_eq(r.errors[FR_LOADGEN_ERR_CONNECT], 20);
  cr_assert_eq(r.completed, 0);
  cr_assert_eq(fr_loadgen_result_failures(&r), 20);
  fr_loadgen_result_close(&r);
}

Test(loadgen, a_stalled_request_times_out) {
  srv.stall_at = 5;
  srv.stall_ms = 1500;
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v1/score");
  c.requests = 30;
  c.duration = 0;
  c.connections = 2;
  c.timeout = 0.25;
  fr_loadgen_result r;
  run_ok(&c, NULL, &r);
  cr_assert_eq(r.errors[FR_LOADGEN_ERR_TIMEOUT], 1);
  cr_assert_eq(r.completed, 29);
  fr_loadgen_result_close(&r);
}

Test(loadgen, large_bodies_and_chunked_responses) {
  /* 1 MiB bodies cannot go out in one send(2): the partial-write path. */
  size_t big = 1 << 20;
  char *data = malloc(big);
  memset(data, 'x', big);
  fr_loadgen_bodies *b = fr_loadgen_bodies_new();
  cr_assert_eq(fr_loadgen_bodies_add(b, data, big, "application/octet-stream", NULL, NULL), 0);
  free(data);
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/chunked");
  c.requests = 20;
  c.duration = 0;
  c.connections = 2;
  c.threads = 2;
  fr_loadgen_result r;
  run_ok(&c, b, &r);
  cr_assert_eq(r.status[200], 20);
  cr_assert_eq(atomic_load(&srv.body_bytes), 20LL * (long long)big);
  cr_assert_geq(r.bytes_sent, 20 * big);
  cr_assert_eq(r.connects, 2, "chunked responses keep the connection alive");
  fr_loadgen_result_close(&r);
  fr_loadgen_bodies_free(b);
}

/* ------------------------------------------------------------------------
 * Open loop and coordinated omission
 * ------------------------------------------------------------------------ */

/* Requests whose latency was over 100 ms. */
static uint64_t slow(const fr_loadgen_result *r) {
  return fr_hist_count(r->latency) - fr_hist_count_at_or_below(r->latency, 99000000);
}

Test(loadgen, open_loop_counts_what_a_stall_delayed) {
  /* One connection at 100 requests/s; request 20 (due at 0.19 s) stalls
   * 500 ms.  Requests 21..69 were due during the stall and go out one after
   * another when it ends, so request 20+j waits about 500 - 10 j ms: those
   * with j <= 40, 41 requests in all, wait over 100 ms.  A closed loop sees
   * one slow request. */
  srv.stall_at = 20;
  srv.stall_ms = 500;
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v1/score");
  c.requests = 150;
  c.duration = 0;
  c.connections = 1;
  c.rate = 100;
  fr_loadgen_result r;
  run_ok(&c, NULL, &r);
  cr_assert_eq(r.completed, 150);
  cr_assert(r.open_loop);
  uint64_t n = slow(&r);
  cr_assert(n >= 33 && n <= 49, "open loop: %llu requests over 100 ms, expected about 41",
            (unsigned long long)n);
  cr_assert_geq(fr_hist_max(r.latency), 490000000);
  fr_loadgen_result_close(&r);

  atomic_store(&srv.count, 0);
  c.rate = 0;
  run_ok(&c, NULL, &r);
  n = slow(&r);
  cr_assert(n >= 1 && n <= 3, "closed loop: %llu requests over 100 ms, expected 1",
            (unsigned long long)n);
  fr_loadgen_result_close(&r);
}

Test(loadgen, open_loop_sends_the_requested_count) {
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v1/score");
  c.requests = 101;
  c.duration = 0;
  c.connections = 3;
  c.threads = 2;
  c.rate = 400;
  fr_loadgen_result r;
  run_ok(&c, NULL, &r);
  cr_assert_eq(atomic_load(&srv.count), 101);
  cr_assert_eq(r.completed, 101);
  cr_assert_eq(r.unsent, 0);
  fr_loadgen_result_close(&r);
}

/* ------------------------------------------------------------------------
 * Duration, warm-up, intervals, stop
 * ------------------------------------------------------------------------ */

Test(loadgen, warmup_is_left_out_and_intervals_add_up) {
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v1/score");
  c.duration = 0.6;
  c.warmup = 0.2;
  c.interval = 0.1;
  c.connections = 2;
  fr_loadgen_result r;
  run_ok(&c, NULL, &r);
  cr_assert_gt(r.completed, 0);
  /* The server answered the warm-up requests too; the report has not. */
  cr_assert_gt((uint64_t)atomic_load(&srv.count), r.issued);
  cr_assert_geq(r.elapsed, 0.4);
  cr_assert_eq(r.nintervals, 4);
  uint64_t sum = 0, sum_hist = 0;
  for (size_t i = 0; i < r.nintervals; i++) {
    sum += r.intervals[i].completed;
    sum_hist += fr_hist_count(r.intervals[i].latency);
    cr_assert_float_eq(r.intervals[i].start, 0.1 * (double)i, 1e-9);
  }
  cr_assert_eq(sum, r.completed);
  cr_assert_eq(sum_hist, r.completed);
  fr_loadgen_result_close(&r);
}

static void *stop_later(void *arg) {
  usleep(200000);
  atomic_store((atomic_int *)arg, 1);
  return NULL;
}

Test(loadgen, stop_flag_ends_a_long_run) {
  atomic_int stop = 0;
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v1/score");
  c.duration = 120;
  c.connections = 2;
  c.stop = &stop;
  pthread_t t;
  pthread_create(&t, NULL, stop_later, &stop);
  fr_loadgen_result r;
  run_ok(&c, NULL, &r);
  pthread_join(t, NULL);
  cr_assert(r.stopped);
  cr_assert_gt(r.completed, 0);
  cr_assert_lt(r.elapsed, 60);
  fr_loadgen_result_close(&r);
}

/* ------------------------------------------------------------------------
 * Configuration errors
 * ------------------------------------------------------------------------ */

Test(loadgen, bad_configurations_are_refused) {
  fr_loadgen_config c;
  fr_loadgen_result r;
  fr_error err = {0};
  const char *bad_urls[] = {"https://127.0.0.1:1/", "127.0.0.1:8080", "", "http://"};
  for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
    fr_loadgen_config_default(&c);
    c.url = bad_urls[i];
    cr_assert_eq(fr_loadgen_run(&c, NULL, &r, &err), FR_EINVAL, "url '%s'", bad_urls[i]);
  }
  fr_loadgen_config_default(&c);
  c.url = url("/");
  c.duration = 0;
  cr_assert_eq(fr_loadgen_run(&c, NULL, &r, &err), FR_EINVAL);
  fr_loadgen_config_default(&c);
  c.url = url("/");
  c.connections = 0;
  cr_assert_eq(fr_loadgen_run(&c, NULL, &r, &err), FR_EINVAL);
  fr_loadgen_config_default(&c);
  c.url = url("/");
  const char *headers[] = {"X-Evil: a\r\nX-Injected: b"};
  c.headers = headers;
  c.nheaders = 1;
  cr_assert_eq(fr_loadgen_run(&c, NULL, &r, &err), FR_EINVAL);
  cr_assert(strstr(err.msg, "header") != NULL, "%s", err.msg);
  fr_loadgen_config_default(&c);
  c.url = url("/");
  c.warmup = 20;
  cr_assert_eq(fr_loadgen_run(&c, NULL, &r, &err), FR_EINVAL);
  cr_assert_eq(atomic_load(&srv.count), 0);
}

/* ------------------------------------------------------------------------
 * Bodies
 * ------------------------------------------------------------------------ */

Test(loadgen, v2_json_bodies) {
  /* 3 rows x 2 features, batch 2, 3 bodies: rows (0,1), (2,0), (1,2). */
  float x[] = {0.5f, -1.25f, 3.0e-8f, NAN, 149.62f, 1e30f};
  fr_loadgen_v2 spec = {.input_name = "input__0", .x = x, .rows = 3, .cols = 2,
                        .batch = 2, .nbodies = 3};
  fr_loadgen_bodies *b = fr_loadgen_bodies_new();
  fr_error err = {0};
  cr_assert_eq(fr_loadgen_bodies_add_v2(b, &spec, &err), 0, "%s", err.msg);
  cr_assert_eq(fr_loadgen_bodies_count(b), 3);
  const int rows[3][2] = {{0, 1}, {2, 0}, {1, 2}};
  for (size_t k = 0; k < 3; k++) {
    size_t len;
    const char *text = fr_loadgen_bodies_get(b, k, &len);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    cr_assert_not_null(root, "body %zu is not JSON: %s", k, jerr.text);
    json_t *in = json_array_get(json_object_get(root, "inputs"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(in, "name")), "input__0");
    cr_assert_str_eq(json_string_value(json_object_get(in, "datatype")), "FP32");
    json_t *shape = json_object_get(in, "shape");
    cr_assert_eq(json_integer_value(json_array_get(shape, 0)), 2);
    cr_assert_eq(json_integer_value(json_array_get(shape, 1)), 2);
    json_t *data = json_object_get(in, "data");
    cr_assert_eq(json_array_size(data), 4);
    for (int r = 0; r < 2; r++)
      for (int c = 0; c < 2; c++) {
        float want = x[rows[k][r] * 2 + c];
        json_t *v = json_array_get(data, (size_t)(r * 2 + c));
        if (isnan(want)) {
          cr_assert(json_is_null(v), "NaN is sent as null");
        } else {
          /* Shortest round-trip text: reading it back gives the same float. */
          cr_assert_eq((float)json_number_value(v), want, "body %zu [%d][%d]", k, r, c);
        }
      }
    json_decref(root);
  }
  fr_loadgen_bodies_free(b);
}

Test(loadgen, v2_binary_bodies) {
  float x[] = {1.0f, NAN, -2.5f, 7.0f};
  fr_loadgen_v2 spec = {.x = x, .rows = 2, .cols = 2, .batch = 2, .nbodies = 1,
                        .binary = 1};
  fr_loadgen_bodies *b = fr_loadgen_bodies_new();
  cr_assert_eq(fr_loadgen_bodies_add_v2(b, &spec, NULL), 0);
  size_t len;
  const char *body = fr_loadgen_bodies_get(b, 0, &len);
  /* The JSON header ends where the 16 bytes of tensor begin. */
  cr_assert_gt(len, 16);
  size_t json_len = len - 16;
  json_t *root = json_loadb(body, json_len, 0, NULL);
  cr_assert_not_null(root, "binary body header is not JSON");
  json_t *in = json_array_get(json_object_get(root, "inputs"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(in, "name")), "input");
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(in, "parameters"),
                                                  "binary_data_size")), 16);
  cr_assert_null(json_object_get(in, "data"));
  cr_assert_eq(memcmp(body + json_len, x, 16), 0, "tensor bytes are the floats, in order");
  json_decref(root);
  fr_loadgen_bodies_free(b);
}

Test(loadgen, binary_header_reaches_the_server) {
  /* The server sees Inference-Header-Content-Length through a real run: the
   * request was well-formed HTTP and counted. */
  float x[] = {1, 2};
  fr_loadgen_v2 spec = {.x = x, .rows = 1, .cols = 2, .batch = 1, .binary = 1};
  fr_loadgen_bodies *b = fr_loadgen_bodies_new();
  cr_assert_eq(fr_loadgen_bodies_add_v2(b, &spec, NULL), 0);
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v2/infer-like");
  c.requests = 10;
  c.duration = 0;
  c.connections = 1;
  fr_loadgen_result r;
  run_ok(&c, b, &r);
  cr_assert_eq(r.status[200], 10);
  size_t len;
  fr_loadgen_bodies_get(b, 0, &len);
  cr_assert_eq(atomic_load(&srv.last_len), (int)len);
  cr_assert_eq(atomic_load(&srv.last_ihcl), (int)len - 8,
               "the header gives the JSON part's length (body minus 2 floats)");
  fr_loadgen_result_close(&r);
  fr_loadgen_bodies_free(b);
}

Test(loadgen, random_matrix_is_splitmix64) {
  /* SplitMix64 seeded with 0 first returns 0xe220a8397b1dcdaf (the
   * reference implementation's well-known first output); its top 24 bits,
   * 0xe220a8 = 14819496, over 2^24 give the first value. */
  float *x = fr_loadgen_random_matrix(100, 3, 0);
  cr_assert_not_null(x);
  cr_assert_eq(x[0], 14819496.0f / 16777216.0f);
  for (int i = 0; i < 300; i++)
    cr_assert(x[i] >= 0.0f && x[i] < 1.0f);
  float *y = fr_loadgen_random_matrix(100, 3, 0);
  cr_assert_eq(memcmp(x, y, 300 * sizeof *x), 0);
  free(y);
  y = fr_loadgen_random_matrix(100, 3, 1);
  cr_assert_neq(memcmp(x, y, 300 * sizeof *x), 0);
  free(x);
  free(y);
  cr_assert_null(fr_loadgen_random_matrix(0, 3, 1));
}

Test(loadgen, body_lines) {
  const char *dir = fr_test_tmpdir();
  const char *p = fr_test_write(dir, "bodies.jsonl", "{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}");
  fr_loadgen_bodies *b = fr_loadgen_bodies_new();
  cr_assert_eq(fr_loadgen_bodies_add_lines(b, p, NULL), 0);
  cr_assert_eq(fr_loadgen_bodies_count(b), 3);
  size_t len;
  cr_assert_str_eq(fr_loadgen_bodies_get(b, 0, &len), "{\"a\":1}");
  cr_assert_eq(len, 7);
  cr_assert_str_eq(fr_loadgen_bodies_get(b, 2, &len), "{\"c\":3}");
  fr_error err = {0};
  const char *empty = fr_test_write(dir, "empty.jsonl", "\n\n");
  cr_assert_eq(fr_loadgen_bodies_add_lines(b, empty, &err), FR_EINVAL);
  cr_assert_eq(fr_loadgen_bodies_add_file(b, "/nonexistent/x.json", &err), FR_EIO);
  cr_assert(strstr(err.msg, "/nonexistent/x.json") != NULL);
  fr_loadgen_bodies_free(b);
  fr_loadgen_bodies_free(NULL);
}

/* ------------------------------------------------------------------------
 * Metadata and reports
 * ------------------------------------------------------------------------ */

Test(loadgen, v2_input_from_metadata) {
  char name[64];
  size_t cols = 0;
  fr_error err = {0};
  cr_assert_eq(fr_loadgen_v2_input(url("/"), "m", 5, name, sizeof name, &cols, &err), 0,
               "%s", err.msg);
  cr_assert_str_eq(name, "input__0");
  cr_assert_eq(cols, 30);
  cr_assert_eq(fr_loadgen_v2_input(url("/"), "nope", 5, name, sizeof name, &cols, &err),
               FR_ENOTFOUND);
  cr_assert_eq(fr_loadgen_v2_input(url("/"), "../x", 5, name, sizeof name, &cols, &err),
               FR_EINVAL);
}

Test(loadgen, json_report_is_consistent_in_any_locale) {
  srv.fail_every = 4;
  fr_loadgen_config c;
  fr_loadgen_config_default(&c);
  c.url = url("/v1/score");
  c.requests = 40;
  c.duration = 0;
  c.connections = 2;
  fr_loadgen_result r;
  run_ok(&c, NULL, &r);
  int have_locale = setlocale(LC_ALL, "de_DE.UTF-8") != NULL;
  char *text = fr_loadgen_result_json(&r, &c);
  char *buf = NULL;
  size_t blen = 0;
  FILE *mem = open_memstream(&buf, &blen);
  fr_loadgen_result_print(&r, &c, mem);
  fclose(mem);
  setlocale(LC_ALL, "C");
  cr_assert_not_null(text);
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  cr_assert_not_null(o, "report is not JSON: %s\n%s", jerr.text, text);
  cr_assert_str_eq(json_string_value(json_object_get(o, "mode")), "closed");
  cr_assert_eq(json_integer_value(json_object_get(o, "completed")), 40);
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "status"), "503")), 10);
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "status"), "200")), 30);
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "errors"), "non2xx")), 10);
  cr_assert_eq(json_integer_value(json_object_get(o, "failures")), 10);
  json_t *lat = json_object_get(o, "latency_ms");
  const char *keys[] = {"min", "p50", "p90", "p99", "p99_9", "max", "mean", "stdev"};
  double prev = 0;
  for (int i = 0; i < 6; i++) {
    json_t *v = json_object_get(lat, keys[i]);
    cr_assert(json_is_number(v), "latency_ms.%s", keys[i]);
    cr_assert_geq(json_number_value(v), prev, "percentiles are ordered");
    prev = json_number_value(v);
  }
  cr_assert_float_eq(json_number_value(json_object_get(lat, "p99")),
                     (double)fr_hist_percentile(r.latency, 99) / 1e6, 1e-6);
  if (have_locale)
    cr_assert(strstr(buf, "throughput") && !strstr(buf, ",0 requests/s"),
              "text report uses '.' as decimal separator:\n%s", buf);
  json_decref(o);
  free(text);
  free(buf);
  fr_loadgen_result_close(&r);
}
