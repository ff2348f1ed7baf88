/*
 * route.h - the HTTP route table: static tables of {method, pattern,
 * handler} drive dispatch, the 404/405 answers and the `endpoint` label of
 * the metrics (the pattern itself, so a metric never carries a model name
 * typed by a client in the endpoint label).
 *
 * Patterns are absolute paths whose segments are literals or captures written
 * `{name}`: "/v2/models/{m}/versions/{v}/infer".  A capture matches one
 * non-empty segment.  Matching is exact (no trailing slash, no prefix match).
 */
#ifndef FRAUD_SERVE_ROUTE_H
#define FRAUD_SERVE_ROUTE_H

#include <stddef.h>

#define FR__ROUTE_MAX_CAPTURES 4
#define FR__ROUTE_MAX_SEGMENTS 16
#define FR__ROUTE_MAX_PATH 1024

typedef struct fr__req fr__req;
typedef void (*fr__handler)(fr__req *req);

typedef struct fr__route {
  const char *method;  /* "GET", "POST", ... */
  const char *pattern; /* see above */
  fr__handler handler;
} fr__route;

typedef enum fr__route_result {
  FR__ROUTE_FOUND = 0,
  FR__ROUTE_NO_PATH = 1,    /* 404: no pattern matches the path */
  FR__ROUTE_BAD_METHOD = 2, /* 405: the path exists for other methods */
  FR__ROUTE_TOO_LONG = 3    /* 414: path longer than FR__ROUTE_MAX_PATH */
} fr__route_result;

/* The outcome of a match.  Capture values point into `path_copy`, which the
 * match owns (so the caller's path may go away). */
typedef struct fr__route_match {
  const fr__route *route;
  size_t ncaptures;
  const char *capture_names[FR__ROUTE_MAX_CAPTURES]; /* point into pattern */
  size_t capture_name_lens[FR__ROUTE_MAX_CAPTURES];
  const char *captures[FR__ROUTE_MAX_CAPTURES];      /* NUL-terminated */
  char allow[64];                                     /* 405: "GET, POST" */
  char path_copy[FR__ROUTE_MAX_PATH + 1];
} fr__route_match;

/* Finds the first route of routes[0..n) matching method and path (the path
 * without the query string).  Fills *m.  Thread-safe (reads the table only). */
fr__route_result fr__route_find(const fr__route *routes, size_t n,
                                const char *method, const char *path,
                                fr__route_match *m);

/* Value of capture `name` ("m", "v") of a successful match, or NULL. */
const char *fr__route_capture(const fr__route_match *m, const char *name);

#endif
