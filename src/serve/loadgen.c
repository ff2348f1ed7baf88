/*
 * loadgen.c - the load client's engine: T threads, each an epoll event loop
 * over its share of C keep-alive HTTP/1.1 connections.
 *
 * Design choices, and why:
 * - Every request's bytes (request line, headers, body) are built once before
 *   the run, so sending is one send(2) per request and the client spends its
 *   CPU on the server's behalf as little as wrk does; responses are parsed
 *   incrementally by libhttp-parser from one per-thread buffer, bodies are
 *   counted and dropped.
 * - epoll is level-triggered and a connection asks for EPOLLOUT only while a
 *   request is partly written, so the steady state is send, epoll_wait, recv:
 *   no epoll_ctl per request.
 * - Open loop follows wrk2 (Gil Tene, https://github.com/giltene/wrk2): request
 *   k of connection g of C is due at t0 + (g + k*C)/R, and its latency runs
 *   from that due time, not from when the (possibly still busy) connection
 *   got round to sending it.  A per-thread min-heap of due times drives a
 *   timerfd armed at the earliest one (timer slack set to 1 ns so the wake-up
 *   is on time).
 * - A request that fails (connect, write, read, timeout, bad HTTP) is
 *   counted by kind and its connection is reopened for the next one; after a
 *   connect failure the next attempt waits 10 ms, so a dead server costs 100
 *   attempts per second per connection, not a spinning core.
 * - Every loop is bounded: by the request count, by the duration, by the
 *   stop flag, and every request in flight by the timeout.
 */
#include "fraud/loadgen.h"

#include <errno.h>
#include <http_parser.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "serve/loadgen_internal.h"

#define NS 1000000000ULL
#define CONNECT_BACKOFF_NS (10ULL * 1000 * 1000)
#define SCAN_INTERVAL_MS 20
#define HIST_HIGHEST ((int64_t)3600 * 1000000000LL) /* 1 h in ns */

const char *fr_loadgen_error_label(fr_loadgen_error_kind k) {
  switch (k) {
#define FR__LG_ERR_LABEL(name, label, desc) \
  case FR_LOADGEN_ERR_##name:               \
    return label;
    FR_LOADGEN_ERRORS(FR__LG_ERR_LABEL)
#undef FR__LG_ERR_LABEL
  default:
    return "unknown";
  }
}

void fr_loadgen_config_default(fr_loadgen_config *c) {
  memset(c, 0, sizeof *c);
  c->duration = 10;
  c->connections = 16;
  c->threads = 1;
  c->timeout = 10;
}

/* ------------------------------------------------------------------------
 * URLs
 * ------------------------------------------------------------------------ */

int fr__loadgen_url_parse(const char *url, fr__loadgen_url *out,
                          fr_error *err) {
  memset(out, 0, sizeof *out);
  if (!url || !*url)
    return fr_error_set(err, FR_EINVAL, "endpoint: empty URL");
  size_t len = strlen(url);
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (len > 8000 || http_parser_parse_url(url, len, 0, &u) != 0 ||
      !(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST)))
    return fr_error_set(err, FR_EINVAL,
                        "endpoint '%s': not an absolute URL such as "
                        "http://127.0.0.1:8080/v1/score", url);
  const char *schema = url + u.field_data[UF_SCHEMA].off;
  size_t schema_len = u.field_data[UF_SCHEMA].len;
  if (schema_len != 4 || strncasecmp(schema, "http", 4) != 0)
    return fr_error_set(err, FR_EINVAL,
                        "endpoint '%s': only http:// is supported (scheme '%.*s')",
                        url, (int)schema_len, schema);
  size_t hl = u.field_data[UF_HOST].len;
  if (hl == 0 || hl >= sizeof out->host)
    return fr_error_set(err, FR_EINVAL, "endpoint '%s': bad host", url);
  memcpy(out->host, url + u.field_data[UF_HOST].off, hl);
  out->host[hl] = '\0';
  unsigned port = (u.field_set & (1 << UF_PORT)) ? u.port : 80;
  snprintf(out->port, sizeof out->port, "%u", port);
  if (strchr(out->host, ':'))
    snprintf(out->hostport, sizeof out->hostport, "[%s]:%u", out->host, port);
  else
    snprintf(out->hostport, sizeof out->hostport, "%s:%u", out->host, port);
  size_t tl = 0;
  if (u.field_set & (1 << UF_PATH)) {
    tl = u.field_data[UF_PATH].len;
    if (tl >= sizeof out->target)
      return fr_error_set(err, FR_EINVAL, "endpoint: path too long");
    memcpy(out->target, url + u.field_data[UF_PATH].off, tl);
  } else {
    out->target[tl++] = '/';
  }
  if (u.field_set & (1 << UF_QUERY)) {
    size_t ql = u.field_data[UF_QUERY].len;
    if (tl + ql + 2 >= sizeof out->target)
      return fr_error_set(err, FR_EINVAL, "endpoint: query too long");
    out->target[tl++] = '?';
    memcpy(out->target + tl, url + u.field_data[UF_QUERY].off, ql);
    tl += ql;
  }
  out->target[tl] = '\0';

  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  int rc = getaddrinfo(out->host, out->port, &hints, &res);
  if (rc != 0 || !res)
    return fr_error_set(err, FR_ENOTFOUND, "endpoint '%s': cannot resolve host '%s': %s",
                        url, out->host, gai_strerror(rc));
  memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
  out->addrlen = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static uint64_t now_ns(void) { return fr_monotonic_ns(); }

/* ------------------------------------------------------------------------
 * Run state
 * ------------------------------------------------------------------------ */

typedef struct lg_req {
  char *buf;
  size_t len;
} lg_req;

typedef struct lg_run {
  const fr_loadgen_config *cfg;
  fr__loadgen_url url;
  lg_req *reqs;
  size_t nreqs;
  int open;
  int nconns, nthreads;
  double ns_per_req;  /* open loop: 1e9 / rate */
  uint64_t t0, t_warm, t_end; /* t_end UINT64_MAX when no duration */
  uint64_t timeout_ns;
  uint64_t late_ns;           /* open loop: min(timeout, 1 s) */
  uint64_t interval_ns;       /* 0: no intervals */
  size_t max_intervals;       /* with a duration: the drain folds into the last */
} lg_run;

enum { ST_IDLE, ST_WAITING, ST_CONNECTING, ST_WRITING, ST_READING, ST_DONE };

struct lg_worker;

typedef struct lg_conn {
  struct lg_worker *w;
  int fd;
  int state;
  int want_out;
  int g;               /* global connection index */
  uint64_t k;          /* open loop: index of this connection's next request */
  uint64_t due;        /* when the next request may start (heap key) */
  uint64_t not_before; /* connect back-off */
  uint64_t t_start, deadline;
  int counted, msg_done;
  const lg_req *rq;
  size_t woff;
  http_parser parser;
} lg_conn;

typedef struct lg_interval {
  uint64_t completed, non2xx, errors;
  fr_hist *hist;
} lg_interval;

typedef struct lg_worker {
  const lg_run *run;
  int id;
  int ep, tfd;
  lg_conn *conns;
  int nconns, active;
  lg_conn **heap;
  size_t nheap;
  uint64_t armed;
  int limited;          /* a request count applies */
  uint64_t quota, issued_all;
  size_t body_next;
  pthread_t thread;
  int started;
  /* results */
  uint64_t issued, completed, unsent, connects, bytes_sent, bytes_received;
  uint64_t status[600];
  uint64_t errors[FR_LOADGEN_NERRORS];
  fr_hist *hist;
  lg_interval *iv;
  size_t niv;
  int oom;
  char rbuf[65536];
} lg_worker;

static http_parser_settings parser_settings;

static int on_message_complete(http_parser *p) {
  lg_conn *c = p->data;
  c->msg_done = 1;
  /* Stop at the end of this response: anything after it is not ours. */
  http_parser_pause(p, 1);
  return 0;
}

/* ------------------------------------------------------------------------
 * The due-time heap
 * ------------------------------------------------------------------------ */

static void heap_push(lg_worker *w, lg_conn *c) {
  size_t i = w->nheap++;
  w->heap[i] = c;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (w->heap[parent]->due <= w->heap[i]->due)
      break;
    lg_conn *t = w->heap[parent];
    w->heap[parent] = w->heap[i];
    w->heap[i] = t;
    i = parent;
  }
  c->state = ST_WAITING;
}

static lg_conn *heap_pop(lg_worker *w) {
  lg_conn *top = w->heap[0];
  w->heap[0] = w->heap[--w->nheap];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < w->nheap && w->heap[l]->due < w->heap[m]->due)
      m = l;
    if (r < w->nheap && w->heap[r]->due < w->heap[m]->due)
      m = r;
    if (m == i)
      break;
    lg_conn *t = w->heap[m];
    w->heap[m] = w->heap[i];
    w->heap[i] = t;
    i = m;
  }
  top->state = ST_IDLE;
  return top;
}

/* ------------------------------------------------------------------------
 * Accounting
 * ------------------------------------------------------------------------ */

static lg_interval *interval_at(lg_worker *w, uint64_t now) {
  const lg_run *r = w->run;
  if (!r->interval_ns || now < r->t_warm || w->oom)
    return NULL;
  size_t i = (size_t)((now - r->t_warm) / r->interval_ns);
  if (r->max_intervals && i >= r->max_intervals)
    i = r->max_intervals - 1;
  if (i >= w->niv) {
    size_t n = i + 1;
    lg_interval *iv = realloc(w->iv, n * sizeof *iv);
    if (!iv) {
      w->oom = 1;
      return NULL;
    }
    w->iv = iv;
    for (size_t j = w->niv; j < n; j++) {
      memset(&iv[j], 0, sizeof iv[j]);
      /* Two significant digits keep a long run's per-interval histograms
       * small (36 KiB each) and are plenty for a p99 per minute. */
      iv[j].hist = fr_hist_new(1, HIST_HIGHEST, 2, NULL);
      if (!iv[j].hist) {
        w->niv = j;
        w->oom = 1;
        return NULL;
      }
    }
    w->niv = n;
  }
  return &w->iv[i];
}

static void count_error(lg_worker *w, lg_conn *c, fr_loadgen_error_kind kind,
                        uint64_t now) {
  if (!c->counted)
    return;
  w->errors[kind]++;
  lg_interval *iv = interval_at(w, now);
  if (iv)
    iv->errors++;
}

static void count_response(lg_worker *w, lg_conn *c, unsigned status,
                           uint64_t now) {
  if (!c->counted)
    return;
  int64_t lat = now >= c->t_start ? (int64_t)(now - c->t_start) : 0;
  w->completed++;
  w->status[status < 600 ? status : 599]++;
  fr_hist_record(w->hist, lat);
  lg_interval *iv = interval_at(w, now);
  if (iv) {
    iv->completed++;
    if (status < 200 || status > 299)
      iv->non2xx++;
    fr_hist_record(iv->hist, lat);
  }
}

/* ------------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------------ */

static void conn_close(lg_conn *c) {
  if (c->fd >= 0) {
    /* close(2) also removes the descriptor from the epoll set. */
    close(c->fd);
    c->fd = -1;
  }
  c->want_out = 0;
}

static void conn_finish(lg_worker *w, lg_conn *c) {
  conn_close(c);
  c->state = ST_DONE;
  w->active--;
}

static int budget_ok(lg_worker *w, uint64_t start, uint64_t now) {
  const lg_run *r = w->run;
  if (r->cfg->stop && atomic_load_explicit(r->cfg->stop, memory_order_relaxed))
    return 0;
  if (w->limited && w->issued_all >= w->quota)
    return 0;
  /* A request due before the end may still go out a little after it (an
   * open loop that fell behind): up to `late_ns`; what is left is unsent. */
  if (r->t_end != UINT64_MAX && (start >= r->t_end || now >= r->t_end + r->late_ns))
    return 0;
  return 1;
}

static void conn_issue(lg_worker *w, lg_conn *c, uint64_t now);

/* Open loop: when request k of connection g is due. */
static uint64_t due_time(const lg_run *r, int g, uint64_t k) {
  return r->t0 + (uint64_t)(((double)g + (double)k * r->nconns) * r->ns_per_req);
}

/* Plans the connection's next request after the previous one ended: at once
 * (closed loop, direct = 1), or through the heap (open loop, back-off, or
 * after a failure, so that failures never recurse). */
static void conn_next(lg_worker *w, lg_conn *c, uint64_t now, int direct) {
  const lg_run *r = w->run;
  uint64_t start;
  if (r->open) {
    c->k++;
    start = due_time(r, c->g, c->k);
  } else {
    start = now;
  }
  if (!budget_ok(w, start, now)) {
    conn_finish(w, c);
    return;
  }
  c->due = start > c->not_before ? start : c->not_before;
  if (direct && c->due <= now)
    conn_issue(w, c, now);
  else
    heap_push(w, c);
}

static void conn_fail(lg_worker *w, lg_conn *c, fr_loadgen_error_kind kind,
                      uint64_t now) {
  count_error(w, c, kind, now);
  conn_close(c);
  c->state = ST_IDLE;
  if (kind == FR_LOADGEN_ERR_CONNECT)
    c->not_before = now + CONNECT_BACKOFF_NS;
  conn_next(w, c, now, 0);
}

static void conn_complete(lg_worker *w, lg_conn *c, uint64_t now) {
  count_response(w, c, c->parser.status_code, now);
  if (!http_should_keep_alive(&c->parser))
    conn_close(c);
  c->state = ST_IDLE;
  conn_next(w, c, now, 1);
}

static void conn_write(lg_worker *w, lg_conn *c, uint64_t now) {
  while (c->woff < c->rq->len) {
    ssize_t n = send(c->fd, c->rq->buf + c->woff, c->rq->len - c->woff,
                     MSG_NOSIGNAL);
    if (n > 0) {
      c->woff += (size_t)n;
      w->bytes_sent += (uint64_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = 1;
      }
      c->state = ST_WRITING;
      return;
    }
    conn_fail(w, c, FR_LOADGEN_ERR_WRITE, now);
    return;
  }
  if (c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = 0;
  }
  c->state = ST_READING;
}

static void conn_connect(lg_worker *w, lg_conn *c, uint64_t now) {
  const lg_run *r = w->run;
  int fd = socket(r->url.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    conn_fail(w, c, FR_LOADGEN_ERR_CONNECT, now);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  w->connects++;
  c->fd = fd;
  int rc = connect(fd, (const struct sockaddr *)&r->url.addr, r->url.addrlen);
  if (rc != 0 && errno != EINPROGRESS) {
    conn_fail(w, c, FR_LOADGEN_ERR_CONNECT, now);
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    conn_fail(w, c, FR_LOADGEN_ERR_CONNECT, now);
    return;
  }
  c->want_out = 1;
  c->state = ST_CONNECTING;
  if (rc == 0) {
    c->state = ST_WRITING;
    conn_write(w, c, now);
  }
}

static void conn_issue(lg_worker *w, lg_conn *c, uint64_t now) {
  const lg_run *r = w->run;
  /* Open loop: the due time, not a connect back-off, is when the request
   * should have gone, so any wait counts against its latency. */
  uint64_t start = r->open ? due_time(r, c->g, c->k) : now;
  w->issued_all++;
  c->counted = start >= r->t_warm;
  if (c->counted)
    w->issued++;
  c->t_start = start;
  c->deadline = now + r->timeout_ns;
  c->rq = &r->reqs[w->body_next];
  w->body_next += (size_t)r->nthreads;
  if (w->body_next >= r->nreqs)
    w->body_next %= r->nreqs;
  c->woff = 0;
  c->msg_done = 0;
  http_parser_init(&c->parser, HTTP_RESPONSE);
  c->parser.data = c;
  if (c->fd < 0) {
    conn_connect(w, c, now);
  } else {
    c->state = ST_WRITING;
    conn_write(w, c, now);
  }
}

static void conn_read(lg_worker *w, lg_conn *c, uint64_t now) {
  int in_request = c->state == ST_WRITING || c->state == ST_READING;
  ssize_t n = recv(c->fd, w->rbuf, sizeof w->rbuf, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return;
  if (!in_request) {
    /* An idle keep-alive connection the server closed (or sent us bytes
     * nobody asked for): drop it, the next request reconnects. */
    conn_close(c);
    return;
  }
  if (n < 0) {
    conn_fail(w, c, FR_LOADGEN_ERR_READ, now);
    return;
  }
  w->bytes_received += (uint64_t)n;
  /* n == 0 is end of file: a zero-length execute tells the parser, which
   * completes a response whose body runs to the end of the connection. */
  http_parser_execute(&c->parser, &parser_settings, w->rbuf, (size_t)n);
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (c->msg_done) {
    if (n == 0)
      conn_close(c);
    conn_complete(w, c, now);
  } else if (e != HPE_OK && e != HPE_PAUSED) {
    conn_fail(w, c, FR_LOADGEN_ERR_PARSE, now);
  } else if (n == 0) {
    conn_fail(w, c, FR_LOADGEN_ERR_READ, now);
  }
}

static void conn_event(lg_worker *w, lg_conn *c, uint32_t events, uint64_t now) {
  if (c->state == ST_CONNECTING) {
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
      conn_fail(w, c, FR_LOADGEN_ERR_CONNECT, now);
      return;
    }
    if (!(events & EPOLLOUT))
      return;
    c->state = ST_WRITING;
    conn_write(w, c, now);
    return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    conn_read(w, c, now);
    if (c->fd < 0 || c->state != ST_WRITING)
      return;
  }
  if ((events & EPOLLOUT) && c->state == ST_WRITING)
    conn_write(w, c, now);
}

/* ------------------------------------------------------------------------
 * The event loop
 * ------------------------------------------------------------------------ */

static void arm_timer(lg_worker *w) {
  if (w->nheap == 0 || w->heap[0]->due == w->armed)
    return;
  uint64_t due = w->heap[0]->due;
  struct itimerspec its = {0};
  its.it_value.tv_sec = (time_t)(due / NS);
  its.it_value.tv_nsec = (long)(due % NS);
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
    its.it_value.tv_nsec = 1;
  timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
  w->armed = due;
}

static void scan_timeouts(lg_worker *w, uint64_t now) {
  for (int i = 0; i < w->nconns; i++) {
    lg_conn *c = &w->conns[i];
    if ((c->state == ST_CONNECTING || c->state == ST_WRITING ||
         c->state == ST_READING) && now >= c->deadline)
      conn_fail(w, c, FR_LOADGEN_ERR_TIMEOUT, now);
  }
}

/* Open loop: requests due in the measured period that were never sent
 * because their connection was still busy when the run ended (the target
 * rate was not reached).  Counted arithmetically: the k >= k0 with
 * g + k*C < X, X being the end in units of 1/R. */
static void count_unsent(lg_worker *w, lg_conn *c, uint64_t *budget) {
  const lg_run *r = w->run;
  if (!r->open || r->t_end == UINT64_MAX || c->state != ST_DONE)
    return;
  double x_end = (double)(r->t_end - r->t0) / r->ns_per_req;
  double x_warm = (double)(r->t_warm - r->t0) / r->ns_per_req;
  double n_end = ceil((x_end - c->g) / r->nconns);
  double k_warm = ceil((x_warm - c->g) / r->nconns);
  double k0 = (double)c->k > k_warm ? (double)c->k : k_warm;
  if (n_end <= k0)
    return;
  uint64_t n = (uint64_t)(n_end - k0);
  if (w->limited) {
    if (n > *budget)
      n = *budget;
    *budget -= n;
  }
  w->unsent += n;
}

static void *worker_main(void *arg) {
  lg_worker *w = arg;
  const lg_run *r = w->run;
  /* Timer slack is 50 us by default; the open loop wants its wake-ups on
   * time. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  uint64_t now = now_ns();
  for (int i = 0; i < w->nconns; i++) {
    lg_conn *c = &w->conns[i];
    c->k = 0;
    uint64_t start = r->open ? due_time(r, c->g, 0) : r->t0;
    if (!budget_ok(w, start, now)) {
      conn_finish(w, c);
      continue;
    }
    c->due = start;
    heap_push(w, c);
  }
  struct epoll_event events[128];
  uint64_t last_scan = now;
  while (w->active > 0) {
    now = now_ns();
    while (w->nheap > 0 && w->heap[0]->due <= now) {
      lg_conn *c = heap_pop(w);
      if (!budget_ok(w, r->open ? due_time(r, c->g, c->k) : now, now))
        conn_finish(w, c);
      else
        conn_issue(w, c, now);
    }
    if (w->active == 0)
      break;
    arm_timer(w);
    int timeout = SCAN_INTERVAL_MS;
    if (w->nheap > 0 && w->heap[0]->due <= now_ns())
      timeout = 0;
    int n = epoll_wait(w->ep, events, 128, timeout);
    now = now_ns();
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        uint64_t expirations;
        if (read(w->tfd, &expirations, sizeof expirations) < 0) {
          /* EAGAIN: already consumed; nothing to do. */
        }
        w->armed = 0;
        continue;
      }
      lg_conn *c = events[i].data.ptr;
      if (c->fd < 0 || c->state == ST_DONE || c->state == ST_WAITING ||
          c->state == ST_IDLE) {
        /* An idle connection: only a server close can wake it. */
        if (c->fd >= 0 && (c->state == ST_WAITING || c->state == ST_IDLE))
          conn_read(w, c, now);
        continue;
      }
      conn_event(w, c, events[i].events, now);
    }
    if (now - last_scan >= (uint64_t)SCAN_INTERVAL_MS * 1000000ULL) {
      scan_timeouts(w, now);
      last_scan = now;
    }
  }
  if (!(r->cfg->stop && atomic_load(r->cfg->stop))) {
    uint64_t budget = w->limited && w->quota > w->issued_all ? w->quota - w->issued_all : 0;
    for (int i = 0; i < w->nconns; i++)
      count_unsent(w, &w->conns[i], &budget);
  }
  return NULL;
}

/* ------------------------------------------------------------------------
 * Setting up and merging
 * ------------------------------------------------------------------------ */

static int header_ok(const char *h) {
  return h && strchr(h, ':') && !strpbrk(h, "\r\n");
}

static int build_requests(lg_run *r, const fr_loadgen_bodies *b, fr_error *err) {
  const fr_loadgen_config *c = r->cfg;
  size_t nb = fr_loadgen_bodies_count(b);
  const char *method = c->method ? c->method : (nb ? "POST" : "GET");
  for (const char *m = method; *m; m++)
    if (*m < 'A' || *m > 'Z')
      return fr_error_set(err, FR_EINVAL, "method '%s': expected an upper-case token",
                          method);
  for (size_t i = 0; i < c->nheaders; i++)
    if (!header_ok(c->headers[i]))
      return fr_error_set(err, FR_EINVAL,
                          "header '%s': expected 'Name: value' on one line",
                          c->headers[i] ? c->headers[i] : "(null)");
  if (c->content_type && strpbrk(c->content_type, "\r\n"))
    return fr_error_set(err, FR_EINVAL, "content type: must be one line");
  r->nreqs = nb ? nb : 1;
  r->reqs = calloc(r->nreqs, sizeof *r->reqs);
  if (!r->reqs)
    return fr_error_set(err, FR_ENOMEM, "loadgen: out of memory");
  size_t fixed = strlen(method) + strlen(r->url.target) + strlen(r->url.hostport) + 64;
  for (size_t i = 0; i < c->nheaders; i++)
    fixed += strlen(c->headers[i]) + 2;
  for (size_t i = 0; i < r->nreqs; i++) {
    const fr__loadgen_body *body = nb ? &b->items[i] : NULL;
    const char *ctype = body && body->content_type ? body->content_type
                        : c->content_type          ? c->content_type
                                                   : "application/json";
    size_t cap = fixed + (body ? body->len + strlen(ctype) +
                                     (body->headers ? strlen(body->headers) : 0) + 64
                               : 0);
    char *p = malloc(cap);
    if (!p)
      return fr_error_set(err, FR_ENOMEM, "loadgen: out of memory");
    size_t o = (size_t)snprintf(p, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", method,
                                r->url.target, r->url.hostport);
    for (size_t h = 0; h < c->nheaders; h++)
      o += (size_t)snprintf(p + o, cap - o, "%s\r\n", c->headers[h]);
    if (body) {
      o += (size_t)snprintf(p + o, cap - o, "Content-Type: %s\r\nContent-Length: %zu\r\n%s",
                            ctype, body->len, body->headers ? body->headers : "");
    }
    o += (size_t)snprintf(p + o, cap - o, "\r\n");
    if (body && body->len) {
      memcpy(p + o, body->data, body->len);
      o += body->len;
    }
    r->reqs[i].buf = p;
    r->reqs[i].len = o;
  }
  return 0;
}

static void free_requests(lg_run *r) {
  if (!r->reqs)
    return;
  for (size_t i = 0; i < r->nreqs; i++)
    free(r->reqs[i].buf);
  free(r->reqs);
}

static void worker_release(lg_worker *w) {
  if (w->ep >= 0)
    close(w->ep);
  if (w->tfd >= 0)
    close(w->tfd);
  if (w->conns)
    for (int i = 0; i < w->nconns; i++)
      conn_close(&w->conns[i]);
  free(w->conns);
  free(w->heap);
  fr_hist_free(w->hist);
  for (size_t i = 0; i < w->niv; i++)
    fr_hist_free(w->iv[i].hist);
  free(w->iv);
}

void fr_loadgen_result_close(fr_loadgen_result *r) {
  if (!r)
    return;
  fr_hist_free(r->latency);
  for (size_t i = 0; i < r->nintervals; i++)
    fr_hist_free(r->intervals[i].latency);
  free(r->intervals);
  memset(r, 0, sizeof *r);
}

static int merge_results(lg_run *run, lg_worker *ws, int nw,
                         fr_loadgen_result *out, fr_error *err) {
  out->latency = fr_hist_new(1, HIST_HIGHEST, 3, err);
  if (!out->latency)
    return FR_ENOMEM;
  size_t niv = 0;
  for (int t = 0; t < nw; t++) {
    if (ws[t].oom)
      return fr_error_set(err, FR_ENOMEM, "loadgen: out of memory for interval histograms");
    if (ws[t].niv > niv)
      niv = ws[t].niv;
  }
  if (niv) {
    out->intervals = calloc(niv, sizeof *out->intervals);
    if (!out->intervals)
      return fr_error_set(err, FR_ENOMEM, "loadgen: out of memory");
    out->nintervals = niv;
    for (size_t i = 0; i < niv; i++) {
      out->intervals[i].latency = fr_hist_new(1, HIST_HIGHEST, 2, err);
      if (!out->intervals[i].latency)
        return FR_ENOMEM;
      out->intervals[i].start = (double)(i * run->interval_ns) / 1e9;
      out->intervals[i].length = (double)run->interval_ns / 1e9;
    }
    /* The last interval ends with the run: shorter when the run stopped
     * early, longer when it holds the drain. */
    double last_len = out->elapsed - out->intervals[niv - 1].start;
    if (last_len > 0)
      out->intervals[niv - 1].length = last_len;
  }
  for (int t = 0; t < nw; t++) {
    lg_worker *w = &ws[t];
    out->issued += w->issued;
    out->completed += w->completed;
    out->unsent += w->unsent;
    out->connects += w->connects;
    out->bytes_sent += w->bytes_sent;
    out->bytes_received += w->bytes_received;
    for (int s = 0; s < 600; s++)
      out->status[s] += w->status[s];
    for (int e = 0; e < FR_LOADGEN_NERRORS; e++)
      out->errors[e] += w->errors[e];
    fr_hist_merge(out->latency, w->hist);
    for (size_t i = 0; i < w->niv; i++) {
      fr_loadgen_interval *o = &out->intervals[i];
      o->completed += w->iv[i].completed;
      o->non2xx += w->iv[i].non2xx;
      o->errors += w->iv[i].errors;
      fr_hist_merge(o->latency, w->iv[i].hist);
    }
  }
  return 0;
}

static void init_settings(void) {
  http_parser_settings_init(&parser_settings);
  parser_settings.on_message_complete = on_message_complete;
}

int fr_loadgen_run(const fr_loadgen_config *cfg, const fr_loadgen_bodies *b,
                   fr_loadgen_result *out, fr_error *err) {
  memset(out, 0, sizeof *out);
  if (!cfg)
    return fr_error_set(err, FR_EINVAL, "loadgen: no configuration");
  if (cfg->connections < 1)
    return fr_error_set(err, FR_EINVAL, "connections: need at least 1 (got %d)",
                        cfg->connections);
  if (cfg->connections > 100000)
    return fr_error_set(err, FR_ELIMIT, "connections: at most 100000 (got %d)",
                        cfg->connections);
  if (cfg->requests == 0 && !(cfg->duration > 0))
    return fr_error_set(err, FR_EINVAL,
                        "loadgen: give a request count or a duration (or both)");
  if (!(cfg->duration >= 0) || !(cfg->warmup >= 0) || !(cfg->rate >= 0) ||
      !(cfg->interval >= 0) || !isfinite(cfg->duration) || !isfinite(cfg->rate) ||
      cfg->duration > 30 * 86400.0 || cfg->warmup > 30 * 86400.0)
    return fr_error_set(err, FR_EINVAL,
                        "loadgen: duration, warm-up, rate and interval must be "
                        "finite and >= 0");
  if (!(cfg->timeout > 0) || cfg->timeout > 3600)
    return fr_error_set(err, FR_EINVAL, "timeout: need 0 < seconds <= 3600");
  if (cfg->interval > 0 && cfg->interval < 0.01)
    return fr_error_set(err, FR_EINVAL, "interval: at least 0.01 s");
  if (cfg->rate > 1e8)
    return fr_error_set(err, FR_ELIMIT, "rate: at most 1e8 requests/s");
  if (cfg->duration > 0 && cfg->warmup >= cfg->duration)
    return fr_error_set(err, FR_EINVAL, "warm-up (%g s) must be shorter than the duration (%g s)",
                        cfg->warmup, cfg->duration);

  lg_run run = {0};
  run.cfg = cfg;
  int rc = fr__loadgen_url_parse(cfg->url, &run.url, err);
  if (rc)
    return rc;
  rc = build_requests(&run, b, err);
  if (rc) {
    free_requests(&run);
    return rc;
  }
  run.open = cfg->rate > 0;
  run.nconns = cfg->connections;
  run.nthreads = cfg->threads < 1 ? 1 : cfg->threads;
  if (run.nthreads > run.nconns)
    run.nthreads = run.nconns;
  if (run.nthreads > 256)
    run.nthreads = 256;
  run.ns_per_req = run.open ? 1e9 / cfg->rate : 0;
  run.timeout_ns = (uint64_t)(cfg->timeout * 1e9);
  run.late_ns = run.open ? (run.timeout_ns < NS ? run.timeout_ns : NS) : 0;
  run.interval_ns = cfg->interval > 0 ? (uint64_t)(cfg->interval * 1e9) : 0;

  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_settings);

  lg_worker *ws = calloc((size_t)run.nthreads, sizeof *ws);
  if (!ws) {
    free_requests(&run);
    return fr_error_set(err, FR_ENOMEM, "loadgen: out of memory");
  }
  int nw = run.nthreads;
  int g = 0;
  uint64_t qdone = 0;
  for (int t = 0; t < nw && rc == 0; t++) {
    lg_worker *w = &ws[t];
    w->run = &run;
    w->id = t;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    w->nconns = run.nconns / nw + (t < run.nconns % nw);
    w->active = w->nconns;
    w->conns = calloc((size_t)w->nconns, sizeof *w->conns);
    w->heap = calloc((size_t)w->nconns, sizeof *w->heap);
    w->hist = fr_hist_new(1, HIST_HIGHEST, 3, NULL);
    w->body_next = (size_t)t % run.nreqs;
    w->limited = cfg->requests > 0;
    if (cfg->requests) {
      /* Split the count in proportion to connections; the rounding goes
       * to whoever's cumulative share crosses the next integer. */
      unsigned __int128 upto = (unsigned __int128)cfg->requests * (unsigned)(g + w->nconns) /
                               (unsigned)run.nconns;
      w->quota = (uint64_t)upto - qdone;
      qdone = (uint64_t)upto;
    }
    if (w->ep < 0 || w->tfd < 0) {
      rc = fr_error_set(err, FR_EIO, "loadgen: epoll/timerfd: %s", strerror(errno));
      break;
    }
    if (!w->conns || !w->heap || !w->hist) {
      rc = fr_error_set(err, FR_ENOMEM, "loadgen: out of memory");
      break;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->tfd, &ev);
    for (int i = 0; i < w->nconns; i++) {
      w->conns[i].w = w;
      w->conns[i].fd = -1;
      w->conns[i].g = g++;
    }
  }
  if (rc == 0) {
    run.t0 = now_ns() + 1000000; /* 1 ms for the threads to start */
    run.t_warm = run.t0 + (uint64_t)(cfg->warmup * 1e9);
    run.t_end = cfg->duration > 0 ? run.t0 + (uint64_t)(cfg->duration * 1e9) : UINT64_MAX;
    if (run.interval_ns && cfg->duration > 0) {
      /* Responses that arrive after the end (the drain) count in the last
       * interval rather than in a sliver of their own. */
      uint64_t measured = run.t_end - run.t_warm;
      run.max_intervals = (size_t)((measured + run.interval_ns - 1) / run.interval_ns);
    }
    for (int t = 0; t < nw; t++) {
      if (pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]) != 0) {
        rc = fr_error_set(err, FR_EIO, "loadgen: cannot start thread %d", t);
        if (cfg->stop)
          atomic_store(cfg->stop, 1);
        break;
      }
      ws[t].started = 1;
    }
    for (int t = 0; t < nw; t++)
      if (ws[t].started)
        pthread_join(ws[t].thread, NULL);
  }
  if (rc == 0) {
    uint64_t t_fin = now_ns();
    out->open_loop = run.open;
    out->stopped = cfg->stop && atomic_load(cfg->stop);
    out->threads = nw;
    out->connections = run.nconns;
    out->elapsed = t_fin > run.t_warm ? (double)(t_fin - run.t_warm) / 1e9 : 0;
    rc = merge_results(&run, ws, nw, out, err);
    if (rc)
      fr_loadgen_result_close(out);
  }
  for (int t = 0; t < nw; t++)
    worker_release(&ws[t]);
  free(ws);
  free_requests(&run);
  return rc;
}

double fr_loadgen_result_throughput(const fr_loadgen_result *r) {
  return r->elapsed > 0 ? (double)r->completed / r->elapsed : 0.0;
}

uint64_t fr_loadgen_result_failures(const fr_loadgen_result *r) {
  uint64_t n = 0;
  for (int e = 0; e < FR_LOADGEN_NERRORS; e++)
    n += r->errors[e];
  for (int s = 0; s < 600; s++)
    if (s < 200 || s > 299)
      n += r->status[s];
  return n;
}
