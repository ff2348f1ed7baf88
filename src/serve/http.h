/*
 * http.h - the HTTP plumbing of the server on libmicrohttpd: one listener
 * (address, port, TLS, worker threads, connection limits) dispatching through
 * a route table to handlers that fill a response, synchronously or later
 * from another thread (dynamic batching suspends the connection and resumes
 * it when the batch is done).
 *
 * libmicrohttpd runs an epoll event loop on each of `threads` worker threads
 * (MHD_USE_INTERNAL_POLLING_THREAD with a thread pool), so a slow client
 * costs a connection slot, never a thread; connections idle longer than the
 * idle timeout are closed, and a listener thread closes (counted as a 408
 * through on_response) a connection whose request headers are not complete
 * within the idle timeout + 1 s of its start or previous response, or whose
 * body has not arrived within the read timeout of its headers, even when no
 * byte arrives (http.c explains how).  Everything a request needs (body buffer,
 * response buffer, handler scratch) belongs to its connection and is reused
 * by the next request on it, so keep-alive traffic allocates little.
 */
#ifndef FRAUD_SERVE_HTTP_H
#define FRAUD_SERVE_HTTP_H

#include "fraud/common.h"
#include "serve/buf.h"
#include "serve/route.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fr__http fr__http;
struct MHD_Connection;

/* One request and its response, owned by its connection. */
struct fr__req {
  fr__http *http;
  void *app;                      /* fr__http_config.app */
  struct MHD_Connection *conn;
  const char *method;             /* "GET", "POST" (HEAD is routed as GET) */
  const char *endpoint;           /* route pattern, or "unmatched" */
  fr__route_match match;          /* captures */
  fr__buf body;                   /* the request body */
  uint64_t t0_ns;                 /* monotonic start */
  char request_id[48];            /* X-Request-Id, or generated */
  /* Response, filled by the handler. */
  int status;
  fr__buf out;
  const char *content_type;       /* default application/json */
  size_t inference_header_len;    /* binary extension: JSON part length */
  const char *reason;             /* error reason label, NULL when ok */
  char model[128], version[64];   /* metric labels ("" when n/a) */
  void *scratch;                  /* per-connection handler scratch */
  void (*finish)(fr__req *r);     /* run on the HTTP thread after resume,
                                     before the response is sent */
  /* Internal. */
  int phase;
  int body_error;
  int suspended;
  struct fr__conn *owner;
};

typedef struct fr__http_config {
  const char *name;               /* "inference", "admin": logs */
  const char *address;            /* numeric IPv4 or IPv6 */
  int port;                       /* 0 = ephemeral */
  int threads;                    /* >= 1 */
  unsigned max_connections;
  unsigned max_connections_per_ip; /* 0 = no limit */
  unsigned idle_timeout_s;        /* 0 = none (and no header deadline) */
  const char *tls_cert_pem;       /* contents, or NULL */
  const char *tls_key_pem;
  const fr__route *routes;
  size_t nroutes;
  void *app;
  /* Called before the handler; returns 0 to proceed, or fills an error
   * response and returns non-zero (admin bearer token).  May be NULL. */
  int (*authorize)(fr__req *req);
  /* Called once per request when its response is queued (metrics, logs),
   * and once for a request closed at its deadline (status 408, reason
   * "timeout"; endpoint "unmatched" and method "-" when its headers were
   * not complete).  Runs on a libmicrohttpd thread. */
  void (*on_response)(fr__req *req);
  /* Per-connection handler scratch. */
  void *(*scratch_new)(void *app);
  void (*scratch_free)(void *app, void *scratch);
} fr__http_config;

/* Binds and starts the listener.  Errors: FR_EIO "cannot bind
 * 127.0.0.1:8080: Address already in use", FR_EINVAL (bad address),
 * FR_EDEP (TLS unsupported by the libmicrohttpd build). */
fr__http *fr__http_start(const fr__http_config *c, fr_error *err);
/* The bound port. */
int fr__http_port(const fr__http *h);
/* Limits that may change while running (SIGHUP): the body size (413
 * beyond) and the read timeout (the body deadline). */
void fr__http_set_limits(fr__http *h, size_t max_body, double read_timeout_s);
/* Requests accepted and not yet completed. */
size_t fr__http_in_flight(const fr__http *h);
/* Requests suspended (waiting for a batch). */
size_t fr__http_suspended(const fr__http *h);
/* Monotonic time of the last request start (ns). */
uint64_t fr__http_last_start(const fr__http *h);
/* Stops accepting new connections (existing ones keep being served, with
 * "Connection: close" on their responses). */
void fr__http_quiesce(fr__http *h);
/* Closes everything.  Suspended requests must have been resumed.  NULL-safe. */
void fr__http_stop(fr__http *h);

/* Request helpers (valid on the MHD thread while the handler runs). */
const char *fr__req_header(fr__req *r, const char *name);
/* The first value of query parameter `name`, its name matched ignoring
 * case (libmicrohttpd's lookup), or NULL. */
const char *fr__req_query(fr__req *r, const char *name);
/* A query parameter a handler reads (see fr__req_query_read). */
typedef struct fr__qparam {
  const char *name;  /* in: the exact name */
  const char *value; /* out: the decoded value; NULL when absent or bare */
  size_t len;        /* out: its decoded length, which counts any NUL byte
                        a "%00" decoded to (strlen would stop there) */
  int present;       /* out: 1 when given, a bare "?name" included */
} fr__qparam;

enum { FR__QUERY_REPEATED = 1, FR__QUERY_UNKNOWN = 2 };

/* Reads the query string in one pass against the parameters p[0..n) a
 * handler knows.  Names match byte for byte (case-sensitive: RFC 3986
 * section 6.2.2.1 makes only the scheme and host case-insensitive, and
 * libmicrohttpd's fr__req_query lookup ignores case).  Returns 0; or
 * FR__QUERY_REPEATED (a name given twice: "?reasons=3&reasons=5") or
 * FR__QUERY_UNKNOWN (a name not in p: "?Model=x") with *bad that name
 * (valid while the handler runs), so that a handler refuses what it would
 * otherwise silently ignore.  Empty segments ("?&a=1", "?a=1&&b=2", a
 * trailing "&") are skipped; an empty name with a value ("?=1") is
 * FR__QUERY_UNKNOWN with *bad "".  No allocation, no lock. */
int fr__req_query_read(fr__req *r, fr__qparam *p, size_t n, const char **bad);

/* Fills a {"error": "..."} response with status and metrics reason. */
void fr__req_error(fr__req *r, int status, const char *reason, const char *fmt, ...)
    FR_PRINTF(4, 5);

/* Asynchronous completion: the handler calls fr__req_suspend (before
 * handing the request to another thread) and returns; later any thread
 * either fills status/out, or sets r->finish to build them back on the HTTP
 * thread, and calls fr__req_resume. */
void fr__req_suspend(fr__req *r);
void fr__req_resume(fr__req *r);

#endif
