/*
 * client.c - the admin client of `fraud models ... --server URL --token T`:
 * one HTTP request over libcurl with the bearer token, the JSON body and a
 * bounded time, returning the status and body.
 */
#include "fraud/serve.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "serve/buf.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
  fr__buf *b = ud;
  fr__buf_append(b, p, sz * n);
  return b->oom ? 0 : sz * n;
}

int fr_admin_request(const char *base_url, const char *token, const char *method,
                     const char *path, const char *json_body, char **response, fr_error *err) {
  pthread_once(&g_once, curl_init);
  if (response)
    *response = NULL;
  CURL *c = curl_easy_init();
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
    h = curl_slist_append(h, auth);
  }
  h = curl_slist_append(h, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, fr__buf_cstr(&url));
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (json_body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json_body));
  } else if (strcmp(method, "POST") == 0) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  int ret;
  if (rc != CURLE_OK) {
    ret = fr_error_set(err, FR_EIO, "%s: %s", fr__buf_cstr(&url), curl_easy_strerror(rc));
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    ret = (int)status;
    if (response)
      *response = body.len ? fr__buf_take(&body, NULL) : strdup("");
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  fr__buf_close(&url);
  fr__buf_close(&body);
  return ret;
}
