/*
 * fr_test.h - helpers shared by the Criterion tests: where the fixtures, the
 * source tree and the built `fraud` binary are (ctest passes them in the
 * environment), and temporary directories.
 */
#ifndef FR_TEST_H
#define FR_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Path of a file under tests/fixtures (static buffer, one per call site is
 * enough for tests). */
static inline const char *fr_test_fixture(const char *rel) {
  static char buf[8][4096];
  static int slot;
  const char *dir = getenv("FRAUD_FIXTURES");
  if (!dir)
    dir = "../tests/fixtures";
  char *out = buf[slot++ & 7];
  snprintf(out, 4096, "%s/%s", dir, rel);
  return out;
}

/* Path under the source tree. */
static inline const char *fr_test_source(const char *rel) {
  static char buf[8][4096];
  static int slot;
  const char *dir = getenv("FRAUD_SOURCE_DIR");
  if (!dir)
    dir = "..";
  char *out = buf[slot++ & 7];
  snprintf(out, 4096, "%s/%s", dir, rel);
  return out;
}

/* Creates a fresh temporary directory (mkdtemp) and returns its path
 * (static buffer). */
static inline const char *fr_test_tmpdir(void) {
  static char buf[8][256];
  static int slot;
  char *out = buf[slot++ & 7];
  snprintf(out, 256, "/tmp/fraud-test-XXXXXX");
  if (!mkdtemp(out))
    return NULL;
  return out;
}

/* Writes text to a new file in dir and returns its path (static buffer). */
static inline const char *fr_test_write(const char *dir, const char *name,
                                        const char *text) {
  static char buf[8][4096];
  static int slot;
  char *out = buf[slot++ & 7];
  snprintf(out, 4096, "%s/%s", dir, name);
  FILE *f = fopen(out, "wb");
  if (!f)
    return NULL;
  fwrite(text, 1, strlen(text), f);
  fclose(f);
  return out;
}

#endif
