/*
 * error.c - the FR_E* code table and the caller-provided error record.
 *
 * Errors are data (CONVENTIONS.md rule 5): a code from one X-macro table and a
 * sentence in a caller-owned fr_error, never a hidden global.
 */
#include "fraud/common.h"

#include <stdio.h>
#include <string.h>

const char *fr_strerror(int code) {
  switch (code) {
  case FR_OK:
    return "success";
#define FR__ERRNO_STR(name, val, msg) \
  case FR_##name:                     \
    return msg;
    FR_ERRNO_MAP(FR__ERRNO_STR)
#undef FR__ERRNO_STR
  default:
    return "unknown error";
  }
}

const char *fr_errname(int code) {
  switch (code) {
  case FR_OK:
    return "OK";
#define FR__ERRNO_NAME(name, val, msg) \
  case FR_##name:                      \
    return #name;
    FR_ERRNO_MAP(FR__ERRNO_NAME)
#undef FR__ERRNO_NAME
  default:
    return "EUNKNOWN";
  }
}

int fr_error_set(fr_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

int fr_error_prefix(fr_error *err, const char *fmt, ...) {
  if (!err)
    return FR_EINVAL;
  char prefix[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  char old[sizeof err->msg];
  memcpy(old, err->msg, sizeof old);
  snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
  return err->code;
}

void fr_error_clear(fr_error *err) {
  if (err) {
    err->code = 0;
    err->msg[0] = '\0';
  }
}
