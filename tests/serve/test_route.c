/*
 * test_route.c - route matching: literals, captures, 404 versus 405 with the
 * Allow list, exact matching (no prefix, no trailing slash), long paths.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "serve/route.h"

static void h(fr__req *r) { (void)r; }

static const fr__route table[] = {
    {"GET", "/v2", h},
    {"GET", "/v2/models/{m}", h},
    {"GET", "/v2/models/{m}/versions/{v}", h},
    {"POST", "/v2/models/{m}/infer", h},
    {"POST", "/v2/models/{m}/versions/{v}/infer", h},
    {"GET", "/v2/health/live", h},
    {"POST", "/v1/score", h},
};
#define N (sizeof table / sizeof table[0])

Test(route, literal_and_captures) {
  fr__route_match m;
  cr_assert_eq(fr__route_find(table, N, "GET", "/v2", &m), FR__ROUTE_FOUND);
  cr_assert_eq(m.route, &table[0]);
  cr_assert_eq(fr__route_find(table, N, "POST", "/v2/models/fraud/versions/12/infer", &m),
               FR__ROUTE_FOUND);
  cr_assert_eq(m.route, &table[4]);
  cr_assert_str_eq(fr__route_capture(&m, "m"), "fraud");
  cr_assert_str_eq(fr__route_capture(&m, "v"), "12");
  cr_assert_null(fr__route_capture(&m, "x"));
  /* "health" is not a model named health: /v2/health/live is literal, and
   * /v2/models/health matches the capture route. */
  cr_assert_eq(fr__route_find(table, N, "GET", "/v2/models/health", &m), FR__ROUTE_FOUND);
  cr_assert_str_eq(fr__route_capture(&m, "m"), "health");
}

Test(route, not_found_and_method) {
  fr__route_match m;
  cr_assert_eq(fr__route_find(table, N, "GET", "/v2/", &m), FR__ROUTE_NO_PATH);
  cr_assert_eq(fr__route_find(table, N, "GET", "/v2/models", &m), FR__ROUTE_NO_PATH);
  cr_assert_eq(fr__route_find(table, N, "GET", "/v2/models//infer", &m), FR__ROUTE_NO_PATH);
  cr_assert_eq(fr__route_find(table, N, "GET", "v2", &m), FR__ROUTE_NO_PATH);
  cr_assert_eq(fr__route_find(table, N, "GET", "/v2/models/m/infer/x", &m), FR__ROUTE_NO_PATH);
  cr_assert_eq(fr__route_find(table, N, "GET", "/v1/score", &m), FR__ROUTE_BAD_METHOD);
  cr_assert_str_eq(m.allow, "POST");
  cr_assert_eq(fr__route_find(table, N, "DELETE", "/v2/models/a", &m), FR__ROUTE_BAD_METHOD);
  cr_assert_str_eq(m.allow, "GET");
}

Test(route, long_path) {
  char path[FR__ROUTE_MAX_PATH + 10];
  memset(path, 'a', sizeof path - 1);
  path[0] = '/';
  path[sizeof path - 1] = '\0';
  fr__route_match m;
  cr_assert_eq(fr__route_find(table, N, "GET", path, &m), FR__ROUTE_TOO_LONG);
  char many[200] = "";
  for (int i = 0; i < 40; i++)
    strcat(many, "/a");
  cr_assert_eq(fr__route_find(table, N, "GET", many, &m), FR__ROUTE_NO_PATH);
}
