/*
 * http.c - the listener on libmicrohttpd (see http.h).
 *
 * Request life cycle inside MHD's access handler callback, which MHD calls
 * several times per request:
 *   1st call (headers)   route, request id, Content-Length check (413 at
 *                        once when the declared body is too large);
 *   n calls (body)       append to the connection's body buffer (413 / 408
 *                        when the limit or the read deadline is passed);
 *   last call (no data)  authorize, run the handler, queue the response,
 *                        or suspend the connection until fr__req_resume;
 *   after resume         queue the response the other thread prepared.
 * Responses point at the connection's own buffer (MHD_RESPMEM_PERSISTENT):
 * it stays untouched until the next request on the connection, which MHD
 * only reads after this response is sent, so nothing is copied.
 *
 * We bind the listening socket ourselves (and hand it to MHD) so that a bind
 * failure can be reported with errno and the address, which MHD cannot do.
 *
 * Request deadlines.  libmicrohttpd's connection timeout is an idle timeout:
 * every byte received restarts it, so a client that sends one header byte
 * every few seconds (slowloris) would hold its connection slot for good,
 * and a body that stops arriving is noticed only when a late byte comes.
 * MHD has no header deadline, so each listener owns a sweeper thread that
 * wakes every SWEEP_MS and shuts down (shutdown(2), SHUT_RDWR) the socket of
 * any connection past its deadline: headers complete within the idle
 * timeout + HEADER_GRACE_NS of the connection's start or of its previous
 * response, the body within the read timeout of the headers.  MHD then sees
 * the socket end, closes the connection and frees it as for any client
 * that went away; the MHD thread counts the 408 (fraud_http_requests_total)
 * when it is told of the close.  The request path only stores a phase and
 * its start time in the connection (no lock, no allocation, no system call:
 * the clock is read through the vDSO, as begin() already does); the sweeper
 * walks the listener's connection list under conn_mu, which the
 * connection's start and close notifications also take.  libmicrohttpd
 * sends MHD_CONNECTION_NOTIFY_CLOSED before it closes the socket (0.9.75's
 * daemon.c: MHD_cleanup_connections notifies, then calls
 * MHD_socket_close_chk_; so does new_connection_process_'s failure path;
 * and socket_fd is set before MHD_CONNECTION_NOTIFY_STARTED), and
 * the notification removes the connection from the list under conn_mu: the
 * sweeper therefore never shuts an fd after it was closed and reused.
 */
#include "serve/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { PH_NEW = 0, PH_BODY, PH_SUSPENDED, PH_RESUMED, PH_ANSWERED };

/* What a connection waits for, as the sweeper sees it. */
enum { DL_NONE = 0, DL_HEADERS, DL_BODY };

/* The sweeper's period: a deadline is enforced up to this late. */
#define SWEEP_MS 250
/* Added to the idle timeout for the header deadline, so that a connection
 * merely idle between requests is closed by MHD's idle timeout (at the
 * idle timeout exactly, and not counted) before the sweeper would count it:
 * only a client that keeps sending without completing its headers meets
 * the header deadline. */
#define HEADER_GRACE_NS 1000000000ull

typedef struct fr__conn {
  fr__req req;
  fr__http *h;
  struct fr__conn *prev, *next; /* h->conns, under h->conn_mu */
  int fd;                       /* the socket, -1 when MHD did not say */
  _Atomic int dl_phase;         /* DL_*; dl_since is stored first */
  _Atomic uint64_t dl_since;    /* monotonic ns the phase began */
  _Atomic int swept;            /* the DL_* phase the sweeper shut it in */
  const char *nul_text;         /* unescaped text of this request that
                                   decoded a %00 (the lowest), or NULL */
} fr__conn;

struct fr__http {
  fr__http_config cfg;
  char *address;
  char *tls_cert, *tls_key;
  struct MHD_Daemon *d;
  int listen_fd;
  int port;
  _Atomic size_t max_body;
  _Atomic uint64_t read_timeout_ns;
  _Atomic size_t in_flight;
  _Atomic size_t suspended;
  _Atomic uint64_t last_start;
  _Atomic int quiesced;
  uint32_t id_prefix;
  _Atomic uint64_t id_counter;
  /* Deadlines (see the top of the file). */
  uint64_t header_timeout_ns;   /* idle timeout + grace, 0 = none */
  pthread_mutex_t conn_mu;      /* conns, and the sweeper's shutdown */
  fr__conn *conns;
  pthread_mutex_t sweep_mu;     /* sweep_stop */
  pthread_cond_t sweep_cv;
  int sweep_stop;
  int sweeper_started;
  pthread_t sweeper;
};

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  fr__http *h = cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = '\0';
  fr_log(FR_LOG_DEBUG, "http_library", NULL, "%s listener: %s", h->cfg.name, msg);
}

/* Plain stores on x86 (no locked instruction on the request path): the
 * release orders the time before the phase, which the sweeper reads with
 * acquire; a sweep that sees an older pair only acts a period later. */
static void set_phase(fr__conn *cc, int phase, uint64_t since) {
  atomic_store_explicit(&cc->dl_since, since, memory_order_relaxed);
  atomic_store_explicit(&cc->dl_phase, phase, memory_order_release);
}

static void gen_request_id(fr__http *h, fr__req *r);

/* libmicrohttpd's unescaper for the URL path and the query arguments
 * (MHD_OPTION_UNESCAPE_CALLBACK): the default one (MHD_http_unescape) plus
 * a note of a text that decoded a NUL byte.  libmicrohttpd hands the
 * access handler the path as a C string, so "/v1/score%00/../x" would be
 * routed as "/v1/score"; begin() refuses the request when the path is the
 * noted text.  The path precedes the query in the request line (and in
 * libmicrohttpd's read buffer), so the lowest noted address is the path's
 * when both decode a NUL.  A query argument keeps its decoded length,
 * which its handler checks. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *text) {
  (void)cls;
  size_t n = MHD_http_unescape(text);
  if (memchr(text, '\0', n)) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    fr__conn *cc = ci ? ci->socket_context : NULL;
    if (cc && (!cc->nul_text || text < cc->nul_text))
      cc->nul_text = text;
  }
  return n;
}

/* Counts and logs a request the sweeper closed: a 408 (the client gets no
 * answer: its socket is shut).  Runs on the MHD thread. */
static void account_timeout(fr__http *h, fr__req *r, const char *what, uint64_t limit_ns) {
  fr__req_error(r, 408, "timeout", "%s not received within %.3g s", what, (double)limit_ns / 1e9);
  r->phase = PH_ANSWERED;
  if (h->cfg.on_response)
    h->cfg.on_response(r);
  fr_log(FR_LOG_INFO, "request_timeout", NULL, "%s listener: request %s closed: %s not received "
                                               "within %.3g s",
         h->cfg.name, r->request_id, what, (double)limit_ns / 1e9);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  fr__http *h = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    fr__conn *cc = calloc(1, sizeof *cc);
    if (!cc)
      return; /* on_access answers 500 without a context */
    cc->h = h;
    cc->req.owner = cc;
    if (h->cfg.scratch_new)
      cc->req.scratch = h->cfg.scratch_new(h->cfg.app);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    cc->fd = ci ? ci->connect_fd : -1;
    set_phase(cc, DL_HEADERS, fr_monotonic_ns());
    pthread_mutex_lock(&h->conn_mu);
    cc->next = h->conns;
    if (h->conns)
      h->conns->prev = cc;
    h->conns = cc;
    pthread_mutex_unlock(&h->conn_mu);
    *socket_context = cc;
    return;
  }
  fr__conn *cc = *socket_context;
  if (!cc)
    return;
  /* Off the sweeper's list before MHD closes the socket (see the top). */
  pthread_mutex_lock(&h->conn_mu);
  if (cc->prev)
    cc->prev->next = cc->next;
  else
    h->conns = cc->next;
  if (cc->next)
    cc->next->prev = cc->prev;
  pthread_mutex_unlock(&h->conn_mu);
  if (atomic_load(&cc->swept) == DL_HEADERS) {
    /* No request began: account it as one to no route. */
    fr__req *r = &cc->req;
    r->http = h;
    r->app = h->cfg.app;
    r->conn = NULL;
    r->method = "-";
    r->endpoint = "unmatched";
    r->model[0] = r->version[0] = '\0';
    r->t0_ns = atomic_load(&cc->dl_since);
    gen_request_id(h, r);
    account_timeout(h, r, "request headers", h->header_timeout_ns);
  }
  if (h->cfg.scratch_free && cc->req.scratch)
    h->cfg.scratch_free(h->cfg.app, cc->req.scratch);
  fr__buf_close(&cc->req.body);
  fr__buf_close(&cc->req.out);
  free(cc);
  *socket_context = NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  fr__http *h = cls;
  (void)c;
  (void)toe;
  fr__req *r = *req_cls;
  if (r) {
    fr__conn *cc = r->owner;
    if (r->phase == PH_BODY && atomic_load(&cc->swept) == DL_BODY)
      account_timeout(h, r, "request body",
                      atomic_load_explicit(&h->read_timeout_ns, memory_order_relaxed));
    /* The next request's headers are due from now. */
    set_phase(cc, DL_HEADERS, fr_monotonic_ns());
    atomic_fetch_sub(&h->in_flight, 1);
    *req_cls = NULL;
  }
}

/* Shuts the socket of every connection past its deadline (see the top). */
static void sweep(fr__http *h) {
  uint64_t now = fr_monotonic_ns();
  uint64_t body = atomic_load_explicit(&h->read_timeout_ns, memory_order_relaxed);
  pthread_mutex_lock(&h->conn_mu);
  for (fr__conn *cc = h->conns; cc; cc = cc->next) {
    if (cc->fd < 0 || atomic_load(&cc->swept))
      continue;
    int ph = atomic_load_explicit(&cc->dl_phase, memory_order_acquire);
    uint64_t since = atomic_load_explicit(&cc->dl_since, memory_order_relaxed);
    uint64_t limit = ph == DL_HEADERS ? h->header_timeout_ns : ph == DL_BODY ? body : 0;
    if (!limit || now < since || now - since <= limit)
      continue;
    atomic_store(&cc->swept, ph);
    shutdown(cc->fd, SHUT_RDWR);
  }
  pthread_mutex_unlock(&h->conn_mu);
}

static void *sweeper_main(void *arg) {
  fr__http *h = arg;
  pthread_mutex_lock(&h->sweep_mu);
  while (!h->sweep_stop) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += SWEEP_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&h->sweep_cv, &h->sweep_mu, &ts);
    if (h->sweep_stop)
      break;
    pthread_mutex_unlock(&h->sweep_mu);
    sweep(h);
    pthread_mutex_lock(&h->sweep_mu);
  }
  pthread_mutex_unlock(&h->sweep_mu);
  return NULL;
}

const char *fr__req_header(fr__req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *fr__req_query(fr__req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct query_scan {
  fr__qparam *p;
  size_t n;
  const char *bad;
  int rc;
} query_scan;

/* One query argument against the names asked for: byte-exact names (RFC
 * 3986 section 6.2.2.1: only the scheme and host are case-insensitive;
 * libmicrohttpd's own lookup ignores case, hence this scan). */
static enum MHD_Result query_visit(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size) {
  query_scan *sc = cls;
  (void)kind;
  /* An empty segment ("?&model=x", "?a=1&&b=2", a trailing "&"), which URL
   * builders produce, names nothing: skipped.  "?=1" has a value, so its
   * empty name is unknown like any other. */
  if (key_size == 0 && !value)
    return MHD_YES;
  for (size_t i = 0; i < sc->n; i++) {
    fr__qparam *q = &sc->p[i];
    if (strlen(q->name) != key_size || memcmp(q->name, key, key_size) != 0)
      continue;
    if (q->present) {
      sc->rc = FR__QUERY_REPEATED;
      sc->bad = key;
      return MHD_NO;
    }
    q->present = 1;
    q->value = value; /* NULL for a bare "?name" (libmicrohttpd 0.9.75) */
    q->len = value ? value_size : 0;
    return MHD_YES;
  }
  sc->rc = FR__QUERY_UNKNOWN;
  sc->bad = key;
  return MHD_NO;
}

int fr__req_query_read(fr__req *r, fr__qparam *p, size_t n, const char **bad) {
  for (size_t i = 0; i < n; i++) {
    p[i].value = NULL;
    p[i].len = 0;
    p[i].present = 0;
  }
  query_scan sc = {p, n, NULL, 0};
  MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, query_visit, &sc);
  *bad = sc.bad;
  return sc.rc;
}

void fr__req_error(fr__req *r, int status, const char *reason, const char *fmt, ...) {
  char msg[1100];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Messages may quote the client's text (jansson's "invalid escape near
   * '...'" quotes the token it stopped at): a card number in it would come
   * back in the answer and go to the logs.  Error answers are the rare
   * path, so every one is masked here rather than trusting each caller. */
  fr_mask_card_numbers(msg);
  fr__buf_reset(&r->out);
  fr__buf_puts(&r->out, "{\"error\":");
  fr__buf_json_str(&r->out, msg, strlen(msg));
  fr__buf_puts(&r->out, "}");
  r->status = status;
  r->reason = reason;
  r->content_type = "application/json";
  r->inference_header_len = 0;
}

void fr__req_suspend(fr__req *r) {
  r->suspended = 1;
  r->phase = PH_SUSPENDED;
  atomic_fetch_add(&r->http->suspended, 1);
  MHD_suspend_connection(r->conn);
}

void fr__req_resume(fr__req *r) {
  fr__http *h = r->http;
  r->phase = PH_RESUMED;
  MHD_resume_connection(r->conn);
  atomic_fetch_sub(&h->suspended, 1);
}

static int id_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == ':';
}

static void set_request_id(fr__http *h, fr__req *r, const char *given) {
  if (given && given[0] && strlen(given) < sizeof r->request_id) {
    int ok = 1;
    for (const char *p = given; *p && ok; p++)
      ok = id_char_ok(*p);
    if (ok) {
      strcpy(r->request_id, given);
      /* A client's id is echoed in the response header and logged: a
       * card-number-like run of digits in it is masked like log messages. */
      fr_mask_card_numbers(r->request_id);
      return;
    }
  }
  gen_request_id(h, r);
}

/* "<8 hex digits of the process prefix>-<counter in hex>", built by hand:
 * this runs for every request. */
static void gen_request_id(fr__http *h, fr__req *r) {
  static const char hex[] = "0123456789abcdef";
  uint64_t n = atomic_fetch_add_explicit(&h->id_counter, 1, memory_order_relaxed);
  char *o = r->request_id;
  for (int i = 7; i >= 0; i--)
    *o++ = hex[(h->id_prefix >> (4 * i)) & 15];
  *o++ = '-';
  char tmp[16];
  int k = 0;
  do {
    tmp[k++] = hex[n & 15];
    n >>= 4;
  } while (n);
  while (k)
    *o++ = tmp[--k];
  *o = '\0';
}

static enum MHD_Result send_response(fr__http *h, fr__req *r) {
  if (r->out.oom)
    fr__req_error(r, 500, "internal", "out of memory building the response");
  if (!r->status)
    r->status = 200;
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      r->out.len, r->out.len ? r->out.data : (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!resp)
    return MHD_NO;
  MHD_add_response_header(resp, "Content-Type",
                          r->content_type ? r->content_type : "application/json");
  MHD_add_response_header(resp, "X-Request-Id", r->request_id);
  if (r->inference_header_len) {
    char n[32];
    snprintf(n, sizeof n, "%zu", r->inference_header_len);
    MHD_add_response_header(resp, "Inference-Header-Content-Length", n);
  }
  if (r->status == 405 && r->match.allow[0])
    MHD_add_response_header(resp, "Allow", r->match.allow);
  if (r->status == 401)
    MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
  if (atomic_load(&h->quiesced) || r->body_error)
    MHD_add_response_header(resp, "Connection", "close");
  enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
  MHD_destroy_response(resp);
  r->phase = PH_ANSWERED;
  if (h->cfg.on_response)
    h->cfg.on_response(r);
  return ret;
}

/* What the request's headers say about its framing, host and id, read in
 * one pass over them (libmicrohttpd's lookups walk the list once per
 * name, and tell nothing of a repeated header). */
typedef struct head_scan {
  const char *content_length; /* the first one */
  int n_content_length;
  int transfer_encoding;      /* how many Transfer-Encoding headers */
  const char *te;             /* the first one's value */
  size_t te_len;
  int n_host;
  const char *request_id;
  const char *bad_name;       /* the first name that is not a token */
  size_t bad_name_len;
} head_scan;

/* RFC 9110 section 5.6.2: token = 1*tchar, tchar = "!" / "#" / "$" / "%" /
 * "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT /
 * ALPHA.  A field name is a token (RFC 9110 section 5.1). */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static enum MHD_Result head_visit(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size) {
  head_scan *hs = cls;
  (void)kind;
  /* libmicrohttpd 0.9.75 keeps whatever precedes the colon as the name:
   * "Content-Length : 45" is a header named "Content-Length ", not a
   * Content-Length, so its body would be read as the next request. */
  if (!hs->bad_name) {
    int ok = key_size > 0;
    for (size_t i = 0; i < key_size && ok; i++)
      ok = tchar[(unsigned char)key[i]];
    if (!ok) {
      hs->bad_name = key;
      hs->bad_name_len = key_size;
    }
  }
  switch (key_size) {
  case 4:
    hs->n_host += strcasecmp(key, "Host") == 0;
    break;
  case 12:
    if (!hs->request_id && strcasecmp(key, "X-Request-Id") == 0)
      hs->request_id = value;
    break;
  case 14:
    if (strcasecmp(key, "Content-Length") == 0 && !hs->n_content_length++)
      hs->content_length = value;
    break;
  case 17:
    if (strcasecmp(key, "Transfer-Encoding") == 0 && !hs->transfer_encoding++) {
      hs->te = value;
      hs->te_len = value_size;
    }
    break;
  }
  return MHD_YES;
}

/* Transfer-Encoding's value against what libmicrohttpd decodes: 0 when it
 * is exactly "chunked" (coding names are case-insensitive, RFC 9112
 * section 7; libmicrohttpd 0.9.75 decodes the body only then, and reads
 * any other value's body until the connection closes); 501 when chunked is
 * the final coding after others (RFC 9112 section 6.1: a coding the server
 * does not implement); 400 when chunked is not the final coding, or the
 * list is otherwise malformed (RFC 9112 section 6.3 item 4: the body
 * length cannot be determined, the server MUST answer 400 and close). */
static int te_status(const char *v, size_t n) {
  if (n == 7 && strncasecmp(v, "chunked", 7) == 0)
    return 0;
  /* The last list element (RFC 9110 section 5.6.1: OWS around commas). */
  size_t end = n;
  while (end && (v[end - 1] == ' ' || v[end - 1] == '\t'))
    end--;
  if (end < n) /* chunked with trailing blanks: libmicrohttpd would not decode it */
    return 400;
  size_t start = end;
  while (start && v[start - 1] != ',')
    start--;
  size_t k = start;
  while (k < end && (v[k] == ' ' || v[k] == '\t'))
    k++;
  if (end - k != 7 || strncasecmp(v + k, "chunked", 7) != 0 || start == 0)
    return 400;
  /* chunked is last and something precedes it: chunked twice is a 400
   * (RFC 9112 section 6.1: a sender MUST NOT apply it more than once). */
  for (size_t i = 0; i < start;) {
    size_t a = i, b;
    while (a < start && (v[a] == ' ' || v[a] == '\t'))
      a++;
    for (b = a; b < start && v[b] != ',' && v[b] != ' ' && v[b] != '\t';)
      b++;
    if (b - a == 7 && strncasecmp(v + a, "chunked", 7) == 0)
      return 400;
    while (b < start && v[b] != ',')
      b++;
    i = b + 1;
  }
  return 501;
}

/* A request libmicrohttpd parsed but HTTP refuses, before routing; 0 when
 * none.  Conflicting or unknown framing (and a header name that is not a
 * token, which may hide the framing) also sets body_error: its answer goes
 * out at once and closes the connection, since where its body ends is
 * unknown. */
static int refuse_malformed(fr__req *r, const head_scan *hs, const char *url,
                            const char *version) {
  int http10 = version && strcmp(version, "HTTP/1.0") == 0;
  /* RFC 9112 section 5.1: whitespace between a field name and the colon
   * MUST be refused with 400; any other non-token byte in a name is
   * refused likewise.  The connection is closed: a mistaken name can hide
   * the framing (see head_visit). */
  if (hs->bad_name) {
    r->body_error = 1;
    fr__req_error(r, 400, "bad_request",
                  "header name '%.*s' is not a token (no whitespace before the colon, RFC "
                  "9112 section 5.1; token characters only, RFC 9110 section 5.6.2)",
                  (int)(hs->bad_name_len > 64 ? 64 : hs->bad_name_len), hs->bad_name);
    return 1;
  }
  if (hs->transfer_encoding) {
    int st = hs->transfer_encoding > 1 || http10 ? 400 : te_status(hs->te, hs->te_len);
    if (st) {
      r->body_error = 1;
      if (hs->transfer_encoding > 1)
        fr__req_error(r, 400, "bad_request", "more than one Transfer-Encoding header");
      else if (http10)
        fr__req_error(r, 400, "bad_request",
                      "Transfer-Encoding on an HTTP/1.0 request (RFC 9112 section 6.1)");
      else if (st == 501)
        fr__req_error(r, 501, "not_implemented",
                      "Transfer-Encoding '%.*s': only 'chunked' alone is implemented (RFC 9112 "
                      "section 6.1)",
                      (int)(hs->te_len > 64 ? 64 : hs->te_len), hs->te);
      else
        fr__req_error(r, 400, "bad_request",
                      "Transfer-Encoding '%.*s': chunked must be the final coding, given once, "
                      "and only 'chunked' alone is implemented (RFC 9112 sections 6.1, 6.3)",
                      (int)(hs->te_len > 64 ? 64 : hs->te_len), hs->te);
      return 1;
    }
  }
  /* RFC 9112 section 6.3: a message with both Transfer-Encoding and
   * Content-Length, or with Content-Length values that disagree, may be
   * a request smuggling attempt; the server answers 400 and closes.  Two
   * equal values may be merged (RFC 9110 section 8.6) or refused: refused,
   * as one rule is simpler to state. */
  if (hs->n_content_length > 1 || (hs->n_content_length && hs->transfer_encoding)) {
    r->body_error = 1;
    fr__req_error(r, 400, "bad_request",
                  hs->transfer_encoding
                      ? "conflicting framing: Content-Length with Transfer-Encoding (RFC 9112 "
                        "section 6.3)"
                      : "conflicting framing: more than one Content-Length header (RFC 9112 "
                        "section 6.3)");
    return 1;
  }
  if (r->owner->nul_text == url) {
    fr__req_error(r, 400, "bad_request", "the request path holds a NUL byte (%%00)");
    return 1;
  }
  /* RFC 9112 section 3.2: an HTTP/1.1 request without Host, or any
   * request with more than one, is a 400. */
  if (hs->n_host > 1 || (!hs->n_host && version && !http10)) {
    fr__req_error(r, 400, "bad_request",
                  hs->n_host ? "more than one Host header (RFC 9112 section 3.2)"
                             : "an HTTP/1.1 request needs a Host header (RFC 9112 section 3.2)");
    return 1;
  }
  return 0;
}

/* The path of an absolute-form request target ("http://host:port/v1/score";
 * libmicrohttpd 0.9.75 hands it over whole, the query already split off):
 * RFC 9112 section 3.2.2 says a server MUST accept that form, and routes
 * it on its path; the scheme is case-insensitive (RFC 3986 section 3.1)
 * and an empty path is "/" (RFC 9112 section 3.2.1).  An origin-form
 * target ("/v1/score") is returned as is, after one byte compare. */
static const char *target_path(const char *url) {
  if (url[0] == '/')
    return url;
  size_t s;
  if (strncasecmp(url, "http://", 7) == 0)
    s = 7;
  else if (strncasecmp(url, "https://", 8) == 0)
    s = 8;
  else
    return url;
  const char *p = strchr(url + s, '/');
  return p ? p : "/";
}

static void begin(fr__http *h, fr__req *r, struct MHD_Connection *c, const char *url,
                  const char *method, const char *version, head_scan *hs) {
  void *scratch = r->scratch;
  fr__conn *owner = r->owner;
  fr__buf body = r->body, out = r->out;
  fr__buf_reset(&body);
  fr__buf_reset(&out);
  memset(r, 0, offsetof(fr__req, match));
  r->body = body;
  r->out = out;
  r->scratch = scratch;
  r->owner = owner;
  r->status = 0;
  r->content_type = NULL;
  r->inference_header_len = 0;
  r->reason = NULL;
  r->model[0] = r->version[0] = '\0';
  r->phase = PH_BODY;
  r->body_error = 0;
  r->suspended = 0;
  r->finish = NULL;
  r->http = h;
  r->app = h->cfg.app;
  r->conn = c;
  r->t0_ns = fr_monotonic_ns();
  atomic_store_explicit(&h->last_start, r->t0_ns, memory_order_relaxed);
  r->method = strcmp(method, "HEAD") == 0 ? "GET" : method;
  MHD_get_connection_values_n(c, MHD_HEADER_KIND, head_visit, hs);
  set_request_id(h, r, hs->request_id);
  int malformed = refuse_malformed(r, hs, url, version);
  owner->nul_text = NULL; /* noted for this request only */
  if (malformed) {
    r->endpoint = "unmatched";
    return;
  }
  url = target_path(url);
  fr__route_result rr = fr__route_find(h->cfg.routes, h->cfg.nroutes, r->method, url, &r->match);
  r->endpoint = rr == FR__ROUTE_FOUND ? r->match.route->pattern : "unmatched";
  switch (rr) {
  case FR__ROUTE_FOUND:
    break;
  case FR__ROUTE_NO_PATH:
    fr__req_error(r, 404, "not_found", "no endpoint %s %s", method, url);
    break;
  case FR__ROUTE_BAD_METHOD:
    /* HEAD is served wherever GET is (libmicrohttpd drops the body), so
     * the Allow header (RFC 9110 section 10.2.1) lists it too. */
    if (strstr(r->match.allow, "GET") && !strstr(r->match.allow, "HEAD") &&
        strlen(r->match.allow) + sizeof ", HEAD" <= sizeof r->match.allow)
      strcat(r->match.allow, ", HEAD");
    fr__req_error(r, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)", method,
                  url, r->match.allow);
    break;
  case FR__ROUTE_TOO_LONG:
    fr__req_error(r, 414, "too_large", "request path longer than %d bytes", FR__ROUTE_MAX_PATH);
    break;
  }
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version,
                                 const char *upload, size_t *upload_size, void **req_cls) {
  fr__http *h = cls;
  fr__req *r = *req_cls;
  if (!r) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    fr__conn *cc = ci ? ci->socket_context : NULL;
    if (!cc)
      return MHD_NO; /* could not allocate the connection context */
    r = &cc->req;
    *req_cls = r;
    atomic_fetch_add(&h->in_flight, 1);
    head_scan hs = {0};
    begin(h, r, c, url, method, version, &hs);
    set_phase(cc, DL_BODY, r->t0_ns); /* the body is due from the headers */
    if (r->status && r->body_error) /* conflicting framing: answer and close */
      return send_response(h, r);
    if (r->status) /* routing error: answered after the body is drained */
      return MHD_YES;
    const char *cl = hs.content_length;
    size_t max = atomic_load_explicit(&h->max_body, memory_order_relaxed);
    if (cl) {
      int64_t n;
      if (fr_parse_int64(cl, strlen(cl), &n) == 0 && n >= 0) {
        if ((uint64_t)n > max) {
          r->body_error = 1;
          fr__req_error(r, 413, "too_large", "request body of %lld bytes exceeds the limit of %zu",
                        (long long)n, max);
          return send_response(h, r);
        }
        fr__buf_reserve(&r->body, (size_t)n);
      }
    }
    return MHD_YES;
  }
  if (r->phase == PH_ANSWERED) {
    /* Response already queued (early 413/408): discard the rest. */
    *upload_size = 0;
    return MHD_YES;
  }
  if (*upload_size) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (r->status && !r->body_error) /* routing error pending: drain */
      return MHD_YES;
    /* libmicrohttpd 0.9.75 cannot queue a response while a body is still
     * arriving, so a chunked body found too large mid-way is drained (up to
     * the read deadline) and answered 413 at its end, and a body that misses
     * the read deadline closes the connection: the client gets no response,
     * the metrics count a 408. */
    uint64_t rt = atomic_load_explicit(&h->read_timeout_ns, memory_order_relaxed);
    if (rt && fr_monotonic_ns() - r->t0_ns > rt) {
      r->body_error = 1;
      account_timeout(h, r, "request body", rt);
      return MHD_NO;
    }
    if (r->body_error)
      return MHD_YES;
    size_t max = atomic_load_explicit(&h->max_body, memory_order_relaxed);
    if (r->body.len + n > max) {
      r->body_error = 1;
      fr__req_error(r, 413, "too_large", "request body exceeds the limit of %zu bytes", max);
      fr__buf_reset(&r->body);
      return MHD_YES;
    }
    fr__buf_append(&r->body, upload, n);
    return MHD_YES;
  }
  if (r->phase == PH_RESUMED) {
    void (*finish)(fr__req *) = r->finish;
    r->finish = NULL;
    if (finish)
      finish(r);
    return send_response(h, r);
  }
  if (r->phase == PH_SUSPENDED)
    return MHD_YES; /* spurious call while suspended */
  /* Complete request: no deadline while it is processed or answered. */
  atomic_store_explicit(&r->owner->dl_phase, DL_NONE, memory_order_release);
  if (!r->status && r->body.oom)
    fr__req_error(r, 500, "internal", "out of memory reading the body");
  if (!r->status && h->cfg.authorize && h->cfg.authorize(r) != 0) {
    if (!r->status)
      fr__req_error(r, 401, "unauthorized", "unauthorized");
  }
  if (!r->status) {
    r->content_type = "application/json";
    r->match.route->handler(r);
    if (r->suspended)
      return MHD_YES;
  }
  return send_response(h, r);
}

static int make_listener(const char *address, int port, int *out_fd, int *ipv6, fr_error *err) {
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE | AI_NUMERICSERV;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  int g = getaddrinfo(address, ps, &hints, &ai);
  if (g != 0 || !ai)
    return fr_error_set(err, FR_EINVAL, "invalid listen address '%s' (a numeric IPv4 or IPv6 "
                                        "address is expected): %s",
                        address, gai_strerror(g));
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    freeaddrinfo(ai);
    return fr_error_set(err, FR_EIO, "cannot create a socket for %s:%d: %s", address, port,
                        strerror(e));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  *ipv6 = ai->ai_family == AF_INET6;
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
    int e = errno;
    close(fd);
    freeaddrinfo(ai);
    return fr_error_set(err, FR_EIO, "cannot listen on %s:%d: %s", address, port, strerror(e));
  }
  freeaddrinfo(ai);
  *out_fd = fd;
  return 0;
}

fr__http *fr__http_start(const fr__http_config *c, fr_error *err) {
  if ((c->tls_cert_pem || c->tls_key_pem) && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    fr_error_set(err, FR_EDEP, "TLS requested but this libmicrohttpd has no TLS support");
    return NULL;
  }
  fr__http *h = calloc(1, sizeof *h);
  if (!h) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  h->cfg = *c;
  h->address = strdup(c->address ? c->address : "0.0.0.0");
  h->tls_cert = c->tls_cert_pem ? strdup(c->tls_cert_pem) : NULL;
  h->tls_key = c->tls_key_pem ? strdup(c->tls_key_pem) : NULL;
  h->listen_fd = -1;
  pthread_mutex_init(&h->conn_mu, NULL);
  pthread_mutex_init(&h->sweep_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&h->sweep_cv, &ca);
  pthread_condattr_destroy(&ca);
  if (c->idle_timeout_s)
    h->header_timeout_ns = (uint64_t)c->idle_timeout_s * 1000000000ull + HEADER_GRACE_NS;
  atomic_store(&h->max_body, (size_t)8 << 20);
  atomic_store(&h->read_timeout_ns, (uint64_t)30e9);
  uint32_t rnd = 0;
  if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
    rnd = (uint32_t)getpid() ^ (uint32_t)fr_monotonic_ns();
  h->id_prefix = rnd;
  int ipv6 = 0;
  if (!h->address || make_listener(h->address, c->port, &h->listen_fd, &ipv6, err) != 0) {
    fr__http_stop(h);
    return NULL;
  }
  /* MHD_USE_TURBO: optimistic reads and no per-response socket-option
   * toggling (libmicrohttpd's own fast path, as its benchmarks use). */
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_USE_ERROR_LOG | MHD_USE_TURBO;
  if (ipv6)
    flags |= MHD_USE_IPv6;
  if (h->tls_cert)
    flags |= MHD_USE_TLS;
  struct MHD_OptionItem opts[16];
  int n = 0;
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, h};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, h->listen_fd, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                      (intptr_t)(c->threads > 0 ? c->threads : 1), NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                      (intptr_t)(c->max_connections ? c->max_connections : 1024),
                                      NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)c->idle_timeout_s,
                                      NULL};
  if (c->max_connections_per_ip)
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                        (intptr_t)c->max_connections_per_ip, NULL};
  /* libmicrohttpd clears each connection's memory pool between requests
   * (memset of the whole pool): 16 KiB instead of the default 32 KiB halves
   * that per-request cost and still holds any API client's headers; bodies
   * stream through it in chunks whatever their size. */
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16 * 1024, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, h};
  if (h->tls_cert) {
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
  }
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, h, MHD_OPTION_ARRAY, opts,
                          MHD_OPTION_END);
  if (!h->d) {
    fr_error_set(err, FR_EIO, "cannot start the %s listener on %s:%d (libmicrohttpd refused "
                              "the options%s)",
                 c->name, h->address, c->port, h->tls_cert ? "; check the TLS certificate and key" : "");
    fr__http_stop(h);
    return NULL;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  h->port = di ? di->port : c->port;
  int e = pthread_create(&h->sweeper, NULL, sweeper_main, h);
  if (e) {
    fr_error_set(err, FR_EIO, "cannot start the %s listener's deadline thread: %s", c->name,
                 strerror(e));
    fr__http_stop(h);
    return NULL;
  }
  h->sweeper_started = 1;
  return h;
}

int fr__http_port(const fr__http *h) { return h ? h->port : -1; }

void fr__http_set_limits(fr__http *h, size_t max_body, double read_timeout_s) {
  atomic_store(&h->max_body, max_body);
  atomic_store(&h->read_timeout_ns, (uint64_t)(read_timeout_s * 1e9));
}

size_t fr__http_in_flight(const fr__http *h) { return h ? atomic_load(&h->in_flight) : 0; }

size_t fr__http_suspended(const fr__http *h) { return h ? atomic_load(&h->suspended) : 0; }

uint64_t fr__http_last_start(const fr__http *h) { return h ? atomic_load(&h->last_start) : 0; }

void fr__http_quiesce(fr__http *h) {
  if (!h || !h->d || atomic_exchange(&h->quiesced, 1))
    return;
  MHD_socket fd = MHD_quiesce_daemon(h->d);
  if (fd != MHD_INVALID_SOCKET) {
    /* Connections the kernel has already accepted into the listen backlog
     * were accepted as far as their clients know: hand them to the worker
     * threads so they are served, instead of resetting them by closing the
     * socket under them. */
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl >= 0)
      fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    for (int n = 0; n < 4096; n++) {
      struct sockaddr_storage sa;
      socklen_t sl = sizeof sa;
      int c = accept4(fd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);
      if (c < 0)
        break;
      /* MHD closes the socket itself when it cannot take it. */
      MHD_add_connection(h->d, c, (struct sockaddr *)&sa, sl);
    }
    close(fd);
  }
  h->listen_fd = -1;
}

void fr__http_stop(fr__http *h) {
  if (!h)
    return;
  if (h->sweeper_started) {
    pthread_mutex_lock(&h->sweep_mu);
    h->sweep_stop = 1;
    pthread_cond_signal(&h->sweep_cv);
    pthread_mutex_unlock(&h->sweep_mu);
    pthread_join(h->sweeper, NULL);
  }
  /* MHD owns the listening socket once started (it closes it on stop, or
   * hands it back on quiesce, where we closed it). */
  if (h->d)
    MHD_stop_daemon(h->d);
  else if (h->listen_fd >= 0)
    close(h->listen_fd);
  pthread_mutex_destroy(&h->conn_mu);
  pthread_mutex_destroy(&h->sweep_mu);
  pthread_cond_destroy(&h->sweep_cv);
  free(h->address);
  free(h->tls_cert);
  free(h->tls_key);
  free(h);
}
