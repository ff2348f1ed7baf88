/*
 * route.c - route matching (see route.h).  Tables are a dozen entries long, so
 * a linear scan over pre-split path segments beats any tree here; the path is
 * split once per request.
 */
#include "serve/route.h"

#include <string.h>

typedef struct seg {
  const char *p;
  size_t n;
} seg;

/* Splits "/a/b/c" into segments.  Returns the count, or -1 when there are
 * more than max or the path does not start with '/'. */
static int split(const char *path, seg *out, int max) {
  if (path[0] != '/')
    return -1;
  int n = 0;
  const char *p = path + 1;
  for (;;) {
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (n == max)
      return -1;
    out[n].p = p;
    out[n].n = len;
    n++;
    if (!e)
      break;
    p = e + 1;
  }
  return n;
}

static int is_capture(const seg *s) {
  return s->n >= 2 && s->p[0] == '{' && s->p[s->n - 1] == '}';
}

/* 1 when the pattern matches the path segments (no side effects).  The
 * pattern's text up to its first capture must begin the path, and a
 * pattern without a capture must be the path itself: that test rejects
 * nearly every pattern of a table after a few bytes, before the pattern
 * is split. */
static int match_pattern(const char *pattern, const char *path, const seg *ps, int np) {
  size_t k = 0;
  while (pattern[k] && pattern[k] != '{' && pattern[k] == path[k])
    k++;
  if (pattern[k] != '{' && (pattern[k] || path[k]))
    return 0; /* differs before any capture, or a capture-less pattern != path */
  if (!pattern[k])
    return 1; /* the path itself: same segments */
  seg pat[FR__ROUTE_MAX_SEGMENTS];
  int n = split(pattern, pat, FR__ROUTE_MAX_SEGMENTS);
  if (n != np)
    return 0;
  int nc = 0;
  for (int i = 0; i < n; i++) {
    if (is_capture(&pat[i])) {
      if (ps[i].n == 0 || ++nc > FR__ROUTE_MAX_CAPTURES)
        return 0;
    } else if (pat[i].n != ps[i].n || memcmp(pat[i].p, ps[i].p, ps[i].n) != 0) {
      return 0;
    }
  }
  return 1;
}

/* Records the captures of a matched pattern, NUL-terminating them in place
 * inside the match's path copy. */
static void take_captures(const char *pattern, seg *ps, fr__route_match *m) {
  seg pat[FR__ROUTE_MAX_SEGMENTS];
  int n = split(pattern, pat, FR__ROUTE_MAX_SEGMENTS);
  m->ncaptures = 0;
  for (int i = 0; i < n; i++) {
    if (!is_capture(&pat[i]))
      continue;
    size_t k = m->ncaptures++;
    m->capture_names[k] = pat[i].p + 1;
    m->capture_name_lens[k] = pat[i].n - 2;
    ((char *)ps[i].p)[ps[i].n] = '\0';
    m->captures[k] = ps[i].p;
  }
}

fr__route_result fr__route_find(const fr__route *routes, size_t n,
                                const char *method, const char *path,
                                fr__route_match *m) {
  memset(m, 0, offsetof(fr__route_match, path_copy));
  size_t plen = strlen(path);
  if (plen > FR__ROUTE_MAX_PATH)
    return FR__ROUTE_TOO_LONG;
  memcpy(m->path_copy, path, plen + 1);
  seg ps[FR__ROUTE_MAX_SEGMENTS];
  int np = split(m->path_copy, ps, FR__ROUTE_MAX_SEGMENTS);
  if (np < 0)
    return FR__ROUTE_NO_PATH;
  int path_exists = 0;
  size_t alen = 0;
  for (size_t i = 0; i < n; i++) {
    if (!match_pattern(routes[i].pattern, path, ps, np))
      continue;
    if (strcmp(routes[i].method, method) == 0) {
      take_captures(routes[i].pattern, ps, m);
      m->route = &routes[i];
      return FR__ROUTE_FOUND;
    }
    path_exists = 1;
    size_t ml = strlen(routes[i].method);
    if (!strstr(m->allow, routes[i].method) && alen + ml + 3 < sizeof m->allow) {
      if (alen) {
        memcpy(m->allow + alen, ", ", 2);
        alen += 2;
      }
      memcpy(m->allow + alen, routes[i].method, ml + 1);
      alen += ml;
    }
  }
  return path_exists ? FR__ROUTE_BAD_METHOD : FR__ROUTE_NO_PATH;
}

const char *fr__route_capture(const fr__route_match *m, const char *name) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < m->ncaptures; i++)
    if (m->capture_name_lens[i] == nl && memcmp(m->capture_names[i], name, nl) == 0)
      return m->captures[i];
  return NULL;
}
