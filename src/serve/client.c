/*
 * client.c - the admin client of `fraud models ... --server URL --token T`:
 * one HTTP request over libcurl with the bearer token, the JSON body and a
 * bounded time, returning the status and body.
 *
 * libcurl is loaded with dlopen on first use (as the trainer loads
 * libxgboost), so the `fraud` binary, which is also the server, does not
 * link it: a server container needs neither libcurl nor its dozen
 * dependencies, and only this client command needs Debian's libcurl4.
 */
#include "fraud/serve.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "serve/buf.h"

static struct {
  void *h;
  CURLcode (*global_init)(long);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_perform)(CURL *);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  void (*easy_cleanup)(CURL *);
  const char *(*easy_strerror)(CURLcode);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
  char error[256];
} lib;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void load(void) {
  lib.h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!lib.h) {
    const char *e = dlerror();
    snprintf(lib.error, sizeof lib.error,
             "cannot load libcurl.so.4 (install Debian's libcurl4): %s", e ? e : "");
    return;
  }
#define SYM(field, name)                                   \
  *(void **)(&lib.field) = dlsym(lib.h, name);             \
  if (!lib.field) {                                        \
    snprintf(lib.error, sizeof lib.error, "libcurl.so.4 lacks %s", name); \
    dlclose(lib.h);                                        \
    lib.h = NULL;                                          \
    return;                                                \
  }
  SYM(global_init, "curl_global_init");
  SYM(easy_init, "curl_easy_init");
  SYM(easy_setopt, "curl_easy_setopt");
  SYM(easy_perform, "curl_easy_perform");
  SYM(easy_getinfo, "curl_easy_getinfo");
  SYM(easy_cleanup, "curl_easy_cleanup");
  SYM(easy_strerror, "curl_easy_strerror");
  SYM(slist_append, "curl_slist_append");
  SYM(slist_free_all, "curl_slist_free_all");
#undef SYM
  lib.global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
  fr__buf *b = ud;
  fr__buf_append(b, p, sz * n);
  return b->oom ? 0 : sz * n;
}

int fr_admin_request(const char *base_url, const char *token, const char *method,
                     const char *path, const char *json_body, char **response, fr_error *err) {
  pthread_once(&g_once, load);
  if (response)
    *response = NULL;
  if (!lib.h)
    return fr_error_set(err, FR_EDEP, "%s", lib.error);
  CURL *c = lib.easy_init();
  if (!c)
    return fr_error_set(err, FR_ENOMEM, "cannot create an HTTP client");
  fr__buf url = {0}, body = {0};
  fr__buf_puts(&url, base_url);
  while (url.len && url.data[url.len - 1] == '/')
    url.data[--url.len] = '\0';
  fr__buf_puts(&url, path);
  struct curl_slist *h = NULL;
  char auth[1100];
  if (token && token[0]) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    h = lib.slist_append(h, auth);
  }
  h = lib.slist_append(h, "Content-Type: application/json");
  lib.easy_setopt(c, CURLOPT_URL, fr__buf_cstr(&url));
  lib.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (json_body) {
    lib.easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
    lib.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json_body));
  } else if (strcmp(method, "POST") == 0) {
    lib.easy_setopt(c, CURLOPT_POSTFIELDS, "");
    lib.easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  }
  lib.easy_setopt(c, CURLOPT_HTTPHEADER, h);
  lib.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  lib.easy_setopt(c, CURLOPT_WRITEDATA, &body);
  lib.easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  lib.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  lib.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = lib.easy_perform(c);
  long status = 0;
  int ret;
  if (rc != CURLE_OK) {
    ret = fr_error_set(err, FR_EIO, "%s: %s", fr__buf_cstr(&url), lib.easy_strerror(rc));
  } else {
    lib.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    ret = (int)status;
    if (response)
      *response = body.len ? fr__buf_take(&body, NULL) : strdup("");
  }
  lib.slist_free_all(h);
  lib.easy_cleanup(c);
  fr__buf_close(&url);
  fr__buf_close(&body);
  return ret;
}
