/*
 * loadgen_internal.h - what the load client's files share and the public
 * header keeps opaque: the body set's layout and the parsed endpoint URL.
 */
#ifndef FRAUD_LOADGEN_INTERNAL_H
#define FRAUD_LOADGEN_INTERNAL_H

#include <sys/socket.h>

#include "fraud/loadgen.h"

typedef struct fr__loadgen_body {
  char *data; /* NUL-terminated for convenience; len bytes are the body */
  size_t len;
  char *content_type; /* NULL: the run's default */
  char *headers;      /* NULL or extra "Name: value\r\n" lines */
} fr__loadgen_body;

struct fr_loadgen_bodies {
  fr__loadgen_body *items;
  size_t n, cap;
};

/* Removes (and frees) the last body of the set; no-op on an empty set.  For
 * builders that undo their partial work on failure. */
void fr__loadgen_bodies_pop(fr_loadgen_bodies *b);

/* An http:// URL split into what a request needs, and its resolved
 * address. */
typedef struct fr__loadgen_url {
  char host[256];      /* as written, without brackets for IPv6 */
  char port[8];        /* decimal, "80" by default */
  char hostport[300];  /* the Host header's value */
  char target[4096];   /* path and query, "/" when empty */
  struct sockaddr_storage addr;
  socklen_t addrlen;
} fr__loadgen_url;

/* Parses an http:// URL with libhttp-parser's URL parser and resolves its
 * host (getaddrinfo; the first address returned).  Errors: FR_EINVAL (not an
 * absolute http URL, https, too long), FR_ENOTFOUND (no address). */
int fr__loadgen_url_parse(const char *url, fr__loadgen_url *out, fr_error *err);

#endif
