/*
 * test_http.c - the HTTP plumbing over a real socket (libcurl as the
 * client): routing answers (404, 405 + Allow), HEAD, request ids, body
 * limits (413 from Content-Length and from a chunked body), the read timeout
 * (connection closed), the idle timeout, asynchronous completion (suspend/resume from
 * another thread) under concurrency, bind errors, and quiesce.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/http.h"

static void h_hello(fr__req *r) { fr__buf_puts(&r->out, "{\"hello\":\"world\"}"); }

static void h_echo(fr__req *r) {
  fr__buf_printf(&r->out, "{\"len\":%zu,\"q\":\"%s\"}", r->body.len,
                 fr__req_query(r, "q") ? fr__req_query(r, "q") : "");
}

/* An error message quoting client text, as score.c passes on jansson's
 * "invalid escape near '...'" for a JSON syntax error. */
static void h_quote(fr__req *r) {
  fr__req_error(r, 400, "bad_json", "invalid JSON at line 1 column 30: invalid escape near "
                                    "'\"4929123456789014\\x'");
}

static void *finisher(void *arg) {
  fr__req *r = arg;
  usleep(5000);
  fr__buf_printf(&r->out, "{\"async\":%zu}", r->body.len);
  r->status = 202;
  fr__req_resume(r);
  return NULL;
}

static void h_async(fr__req *r) {
  fr__req_suspend(r);
  pthread_t t;
  pthread_create(&t, NULL, finisher, r);
  pthread_detach(t);
}

static atomic_int responses;
static void on_response(fr__req *r) {
  (void)r;
  atomic_fetch_add(&responses, 1);
}

static const fr__route routes[] = {
    {"GET", "/hello", h_hello},
    {"POST", "/echo", h_echo},
    {"POST", "/async", h_async},
    {"POST", "/quote", h_quote},
};

static fr__http *start(void) {
  fr__http_config c = {0};
  c.name = "test";
  c.address = "127.0.0.1";
  c.port = 0;
  c.threads = 2;
  c.max_connections = 64;
  c.idle_timeout_s = 1;
  c.routes = routes;
  c.nroutes = sizeof routes / sizeof routes[0];
  c.on_response = on_response;
  fr_error err;
  fr__http *h = fr__http_start(&c, &err);
  cr_assert_not_null(h, "%s", err.msg);
  fr__http_set_limits(h, 1000, 0.3);
  cr_assert_gt(fr__http_port(h), 0);
  return h;
}

typedef struct resp {
  long status;
  char body[4096];
  size_t len;
  char headers[4096];
  size_t hlen;
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  resp *r = ud;
  size_t k = sz * n;
  if (r->len + k < sizeof r->body) {
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
  }
  return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  resp *r = ud;
  size_t k = sz * n;
  if (r->hlen + k < sizeof r->headers) {
    memcpy(r->headers + r->hlen, p, k);
    r->hlen += k;
    r->headers[r->hlen] = '\0';
  }
  return k;
}

static void request(int port, const char *method, const char *path, const char *body,
                    long body_len, struct curl_slist *hdrs, resp *out) {
  memset(out, 0, sizeof *out);
  CURL *c = curl_easy_init();
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body_len);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  CURLcode rc = curl_easy_perform(c);
  cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  curl_easy_cleanup(c);
}

Test(http, routing_answers) {
  fr__http *h = start();
  int port = fr__http_port(h);
  resp r;
  request(port, "GET", "/hello", NULL, 0, NULL, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "{\"hello\":\"world\"}");
  cr_assert_not_null(strstr(r.headers, "Content-Type: application/json"));
  cr_assert_not_null(strstr(r.headers, "X-Request-Id: "));
  request(port, "HEAD", "/hello", NULL, 0, NULL, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.len, 0);
  request(port, "GET", "/nope", NULL, 0, NULL, &r);
  cr_assert_eq(r.status, 404);
  cr_assert_str_eq(r.body, "{\"error\":\"no endpoint GET /nope\"}");
  request(port, "GET", "/echo", NULL, 0, NULL, &r);
  cr_assert_eq(r.status, 405);
  cr_assert_not_null(strstr(r.headers, "Allow: POST\r\n"), "%s", r.headers);
  /* HEAD is accepted wherever GET is: Allow says so. */
  request(port, "POST", "/hello", "", 0, NULL, &r);
  cr_assert_eq(r.status, 405);
  cr_assert_not_null(strstr(r.headers, "Allow: GET, HEAD\r\n"), "%s", r.headers);
  cr_assert_not_null(strstr(r.body, "(allowed: GET, HEAD)"), "%s", r.body);
  /* A card number quoted in an error message is masked in the answer. */
  request(port, "POST", "/quote", "", 0, NULL, &r);
  cr_assert_eq(r.status, 400);
  cr_assert_null(strstr(r.body, "4929123456789014"), "%s", r.body);
  cr_assert_not_null(strstr(r.body, "invalid escape near"), "%s", r.body);
  struct curl_slist *hd = curl_slist_append(NULL, "X-Request-Id: abc-123");
  request(port, "POST", "/echo?q=x", "hello", 5, hd, &r);
  curl_slist_free_all(hd);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "{\"len\":5,\"q\":\"x\"}");
  cr_assert_not_null(strstr(r.headers, "X-Request-Id: abc-123"));
  /* A request id with unsafe characters is replaced by a generated one. */
  hd = curl_slist_append(NULL, "X-Request-Id: a\"b");
  request(port, "POST", "/echo", "", 0, hd, &r);
  curl_slist_free_all(hd);
  cr_assert_null(strstr(r.headers, "a\"b"));
  fr__http_stop(h);
}

Test(http, body_limits) {
  fr__http *h = start();
  int port = fr__http_port(h);
  char big[2000];
  memset(big, 'x', sizeof big);
  resp r;
  request(port, "POST", "/echo", big, sizeof big, NULL, &r);
  cr_assert_eq(r.status, 413);
  cr_assert_not_null(strstr(r.body, "exceeds the limit of 1000"), "%s", r.body);
  /* Chunked: no Content-Length, the limit is found while reading. */
  struct curl_slist *hd = curl_slist_append(NULL, "Transfer-Encoding: chunked");
  request(port, "POST", "/echo", big, sizeof big, hd, &r);
  curl_slist_free_all(hd);
  cr_assert_eq(r.status, 413);
  /* The next request is served normally. */
  request(port, "POST", "/echo", big, 999, NULL, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "{\"len\":999,\"q\":\"\"}");
  fr__http_stop(h);
}

static int connect_port(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

Test(http, read_and_idle_timeouts) {
  fr__http *h = start();
  int port = fr__http_port(h);
  /* A body trickling in slower than the read timeout (0.3 s): the connection
   * is closed (libmicrohttpd 0.9.75 cannot answer in the middle of a body). */
  int fd = connect_port(port);
  const char *head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345";
  cr_assert_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
  usleep(500000);
  cr_assert_eq(write(fd, "67890", 5), 5);
  char buf[1024] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  cr_assert_leq(n, 0, "expected the connection closed, got: %s", buf);
  close(fd);
  /* The listener still serves. */
  resp r;
  request(port, "GET", "/hello", NULL, 0, NULL, &r);
  cr_assert_eq(r.status, 200);
  /* A connection that sends nothing is closed by the idle timeout (1 s). */
  fd = connect_port(port);
  n = read(fd, buf, sizeof buf);
  cr_assert_eq(n, 0, "expected the server to close the idle connection");
  close(fd);
  fr__http_stop(h);
}

static int g_port;
static void *client(void *arg) {
  (void)arg;
  for (int i = 0; i < 20; i++) {
    resp r;
    char body[64];
    int len = snprintf(body, sizeof body, "%d", i * 37);
    request(g_port, "POST", "/async", body, len, NULL, &r);
    if (r.status != 202)
      return (void *)1;
    char want[64];
    snprintf(want, sizeof want, "{\"async\":%d}", len);
    if (strcmp(r.body, want) != 0)
      return (void *)1;
  }
  return NULL;
}

Test(http, async_completion_under_concurrency) {
  fr__http *h = start();
  g_port = fr__http_port(h);
  atomic_store(&responses, 0);
  pthread_t th[8];
  for (int i = 0; i < 8; i++)
    pthread_create(&th[i], NULL, client, NULL);
  for (int i = 0; i < 8; i++) {
    void *ret;
    pthread_join(th[i], &ret);
    cr_assert_null(ret, "a client got a wrong answer");
  }
  cr_assert_eq(atomic_load(&responses), 160);
  for (int i = 0; i < 100 && fr__http_in_flight(h); i++)
    usleep(10000);
  cr_assert_eq(fr__http_in_flight(h), 0);
  fr__http_stop(h);
}

Test(http, bind_error_and_quiesce) {
  fr__http *h = start();
  int port = fr__http_port(h);
  fr__http_config c = {0};
  c.name = "test";
  c.address = "127.0.0.1";
  c.port = port;
  c.threads = 1;
  c.routes = routes;
  c.nroutes = sizeof routes / sizeof routes[0];
  fr_error err;
  cr_assert_null(fr__http_start(&c, &err));
  char want[64];
  snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%d: Address already in use", port);
  cr_assert_str_eq(err.msg, want);
  c.address = "localhost:x";
  cr_assert_null(fr__http_start(&c, &err));
  cr_assert_eq(err.code, FR_EINVAL);
  /* After quiesce, new connections are refused. */
  fr__http_quiesce(h);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_neq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  close(fd);
  fr__http_stop(h);
}
