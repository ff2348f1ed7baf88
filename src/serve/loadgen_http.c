/*
 * loadgen_http.c - one blocking HTTP/1.1 GET, for what the load client must
 * ask a server before a run (a V2 model's metadata: input name and feature
 * count).  Bounded by a deadline over connect, send and receive; the response
 * is parsed with libhttp-parser like the run's.
 */
#include "fraud/loadgen.h"

#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/loadgen_internal.h"

#define GET_MAX_BODY (16u << 20)

typedef struct get_state {
  char *body;
  size_t len, cap;
  int done, too_big;
} get_state;

static int on_body(http_parser *p, const char *at, size_t n) {
  get_state *g = p->data;
  if (g->len + n > GET_MAX_BODY) {
    g->too_big = 1;
    return 1;
  }
  if (g->len + n + 1 > g->cap) {
    size_t cap = g->cap ? g->cap : 4096;
    while (cap < g->len + n + 1)
      cap *= 2;
    char *b = realloc(g->body, cap);
    if (!b) {
      g->too_big = 1;
      return 1;
    }
    g->body = b;
    g->cap = cap;
  }
  memcpy(g->body + g->len, at, n);
  g->len += n;
  g->body[g->len] = '\0';
  return 0;
}

static int on_complete(http_parser *p) {
  ((get_state *)p->data)->done = 1;
  return 0;
}

/* Waits until fd is ready for `events` or the deadline passes. */
static int wait_fd(int fd, short events, uint64_t deadline) {
  for (;;) {
    uint64_t now = fr_monotonic_ns();
    if (now >= deadline)
      return FR_ETIMEDOUT;
    struct pollfd pfd = {.fd = fd, .events = events};
    int ms = (int)((deadline - now) / 1000000) + 1;
    int rc = poll(&pfd, 1, ms);
    if (rc > 0)
      return 0;
    if (rc < 0 && errno != EINTR)
      return FR_EIO;
  }
}

int fr_loadgen_http_get(const char *url, double timeout, int *status,
                        char **body, size_t *len, fr_error *err) {
  *body = NULL;
  *len = 0;
  *status = 0;
  fr__loadgen_url u;
  int rc = fr__loadgen_url_parse(url, &u, err);
  if (rc)
    return rc;
  if (!(timeout > 0))
    timeout = 10;
  uint64_t deadline = fr_monotonic_ns() + (uint64_t)(timeout * 1e9);
  int fd = socket(u.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fr_error_set(err, FR_EIO, "GET %s: socket: %s", url, strerror(errno));
  get_state g = {0};
  if (connect(fd, (const struct sockaddr *)&u.addr, u.addrlen) != 0) {
    if (errno != EINPROGRESS) {
      rc = fr_error_set(err, FR_EIO, "GET %s: cannot connect: %s", url, strerror(errno));
      goto done;
    }
    rc = wait_fd(fd, POLLOUT, deadline);
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr)) {
      rc = fr_error_set(err, FR_EIO, "GET %s: cannot connect: %s", url, strerror(soerr));
      goto done;
    }
    if (rc) {
      fr_error_set(err, rc, "GET %s: %s while connecting", url, fr_strerror(rc));
      goto done;
    }
  }
  char req[4600];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                   "Connection: close\r\n\r\n",
                   u.target, u.hostport);
  for (int off = 0; off < n;) {
    ssize_t w = send(fd, req + off, (size_t)(n - off), MSG_NOSIGNAL);
    if (w > 0) {
      off += (int)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if ((rc = wait_fd(fd, POLLOUT, deadline)) != 0) {
        fr_error_set(err, rc, "GET %s: %s while sending", url, fr_strerror(rc));
        goto done;
      }
    } else {
      rc = fr_error_set(err, FR_EIO, "GET %s: send: %s", url, strerror(errno));
      goto done;
    }
  }
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_body = on_body;
  settings.on_message_complete = on_complete;
  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  parser.data = &g;
  char buf[16384];
  while (!g.done) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
      if ((rc = wait_fd(fd, POLLIN, deadline)) != 0) {
        fr_error_set(err, rc, "GET %s: %s while waiting for the response", url,
                     fr_strerror(rc));
        goto done;
      }
      continue;
    }
    if (r < 0) {
      rc = fr_error_set(err, FR_EIO, "GET %s: recv: %s", url, strerror(errno));
      goto done;
    }
    http_parser_execute(&parser, &settings, buf, (size_t)r);
    if (g.too_big) {
      rc = fr_error_set(err, FR_ELIMIT, "GET %s: response body over 16 MiB", url);
      goto done;
    }
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
      rc = fr_error_set(err, FR_EPARSE, "GET %s: bad HTTP response: %s", url,
                        http_errno_description(HTTP_PARSER_ERRNO(&parser)));
      goto done;
    }
    if (r == 0 && !g.done) {
      rc = fr_error_set(err, FR_EIO, "GET %s: connection closed before a full response", url);
      goto done;
    }
  }
  *status = parser.status_code;
  if (!g.body) {
    g.body = calloc(1, 1);
    if (!g.body) {
      rc = fr_error_set(err, FR_ENOMEM, "GET %s: out of memory", url);
      goto done;
    }
  }
  *body = g.body;
  *len = g.len;
  g.body = NULL;
  rc = 0;
done:
  free(g.body);
  close(fd);
  return rc;
}

int fr_loadgen_v2_input(const char *endpoint, const char *model, double timeout,
                        char *name, size_t namecap, size_t *cols, fr_error *err) {
  fr__loadgen_url u;
  int rc = fr__loadgen_url_parse(endpoint, &u, err);
  if (rc)
    return rc;
  if (!model || !*model || strpbrk(model, "/?#% \r\n"))
    return fr_error_set(err, FR_EINVAL, "model name '%s': expected a plain name",
                        model ? model : "");
  char url[700];
  snprintf(url, sizeof url, "http://%s/v2/models/%s", u.hostport, model);
  int status = 0;
  char *body = NULL;
  size_t len = 0;
  rc = fr_loadgen_http_get(url, timeout, &status, &body, &len, err);
  if (rc)
    return rc;
  if (status == 404) {
    free(body);
    return fr_error_set(err, FR_ENOTFOUND, "GET %s: 404: the server has no model '%s'", url,
                        model);
  }
  if (status != 200) {
    rc = fr_error_set(err, FR_EFORMAT, "GET %s: status %d: %.200s", url, status, body);
    free(body);
    return rc;
  }
  json_error_t jerr;
  json_t *root = json_loadb(body, len, 0, &jerr);
  free(body);
  json_t *in0 = root ? json_array_get(json_object_get(root, "inputs"), 0) : NULL;
  json_t *shape = in0 ? json_object_get(in0, "shape") : NULL;
  const char *iname = in0 ? json_string_value(json_object_get(in0, "name")) : NULL;
  size_t nd = json_array_size(shape);
  json_t *last = nd ? json_array_get(shape, nd - 1) : NULL;
  if (!root) {
    rc = fr_error_set(err, FR_EFORMAT, "GET %s: not JSON (%s at %d:%d)", url, jerr.text,
                      jerr.line, jerr.column);
  } else if (!iname || !json_is_integer(last) || json_integer_value(last) < 1 ||
             json_integer_value(last) > 1000000) {
    rc = fr_error_set(err, FR_EFORMAT,
                      "GET %s: expected V2 model metadata with inputs[0].name and a shape "
                      "[-1, F]", url);
  } else if (strlen(iname) >= namecap) {
    rc = fr_error_set(err, FR_ELIMIT, "GET %s: input name too long", url);
  } else {
    memcpy(name, iname, strlen(iname) + 1);
    *cols = (size_t)json_integer_value(last);
    rc = 0;
  }
  json_decref(root);
  return rc;
}
