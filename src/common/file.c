/*
 * file.c - small file-system helpers: whole-file reads, atomic writes
 * (temporary file + fsync + rename, so a crash never leaves a half-written
 * bundle, snapshot or report), mkdir -p and rm -rf.
 */
#include "fraud/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FRAUD_VERSION
#define FRAUD_VERSION "0.0.0"
#endif

const char *fr_version(void) { return FRAUD_VERSION; }

char *fr_file_read_all(const char *path, size_t *len, fr_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fr_error_set(err, FR_EIO, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (n < cap)
      break;
    cap *= 2;
    char *nb = realloc(buf, cap + 1);
    if (!nb) {
      free(buf);
      buf = NULL;
    } else {
      buf = nb;
    }
  }
  if (!buf) {
    fclose(f);
    fr_error_set(err, FR_ENOMEM, "%s: out of memory reading file", path);
    return NULL;
  }
  if (ferror(f)) {
    fclose(f);
    free(buf);
    fr_error_set(err, FR_EIO, "%s: read error", path);
    return NULL;
  }
  fclose(f);
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

fr_output_kind fr_file_output_target(const char *path, char *target, size_t cap) {
  snprintf(target, cap, "%s", path);
  if (!strcmp(path, "-") || !strcmp(path, "/dev/stdout") || !strcmp(path, "/dev/fd/1") ||
      !strcmp(path, "/proc/self/fd/1"))
    return FR_OUTPUT_STDOUT;
  struct stat st, lst;
  if (stat(path, &st) != 0) /* absent, or a dangling link: created through it */
    return lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) ? FR_OUTPUT_IN_PLACE
                                                          : FR_OUTPUT_ATOMIC;
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
    return FR_OUTPUT_IN_PLACE;
  if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
    char link[PATH_MAX];
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n > 0) {
      link[n] = '\0';
      if (!strcmp(link, "/proc/self/fd/1") || !strcmp(link, "/dev/fd/1") ||
          !strcmp(link, "/dev/stdout"))
        return FR_OUTPUT_STDOUT;
    }
    char real[PATH_MAX];
    if (realpath(path, real) && strlen(real) < cap)
      snprintf(target, cap, "%s", real);
    else
      return FR_OUTPUT_IN_PLACE;
  }
  return FR_OUTPUT_ATOMIC;
}

static int write_all(int fd, const char *p, size_t left) {
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    left -= (size_t)w;
  }
  return 0;
}

/* A device or FIFO: written in place (a rename would replace the node
 * itself with a regular file, which for /dev/null run as root breaks the
 * system), every error reported against the path. */
static int write_in_place(const char *path, const char *p, size_t left, fr_error *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return fr_error_set(err, FR_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (write_all(fd, p, left) != 0) {
    int rc = fr_error_set(err, FR_EIO, "%s: write failed: %s", path, strerror(errno));
    close(fd);
    return rc;
  }
  if (close(fd) != 0)
    return fr_error_set(err, FR_EIO, "%s: write failed: %s", path, strerror(errno));
  return 0;
}

int fr_file_write_atomic(const char *out, const void *data, size_t len,
                         fr_error *err) {
  char path[PATH_MAX];
  fr_output_kind kind = fr_file_output_target(out, path, sizeof path);
  if (kind == FR_OUTPUT_STDOUT)
    return write_all(STDOUT_FILENO, data, len) != 0
               ? fr_error_set(err, FR_EIO, "%s: write failed: %s", out, strerror(errno))
               : 0;
  if (kind == FR_OUTPUT_IN_PLACE)
    return write_in_place(out, data, len, err);
  size_t pl = strlen(path);
  char *tmp = malloc(pl + 32);
  if (!tmp)
    return fr_error_set(err, FR_ENOMEM, "out of memory");
  snprintf(tmp, pl + 32, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int rc = fr_error_set(err, FR_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    free(tmp);
    return rc;
  }
  if (write_all(fd, data, len) != 0) {
    int rc = fr_error_set(err, FR_EIO, "%s: write failed: %s", tmp, strerror(errno));
    close(fd);
    unlink(tmp);
    free(tmp);
    return rc;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    int rc = fr_error_set(err, FR_EIO, "%s: fsync/close failed: %s", tmp, strerror(errno));
    unlink(tmp);
    free(tmp);
    return rc;
  }
  if (rename(tmp, path) != 0) {
    int rc = fr_error_set(err, FR_EIO, "%s: rename to %s failed: %s", tmp, path,
                          strerror(errno));
    unlink(tmp);
    free(tmp);
    return rc;
  }
  free(tmp);
  return 0;
}

int fr_mkdir_p(const char *path, fr_error *err) {
  char buf[PATH_MAX];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf)
    return fr_error_set(err, FR_EINVAL, "bad directory path '%s'", path);
  memcpy(buf, path, n + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return fr_error_set(err, FR_EIO, "%s: cannot create directory: %s", buf,
                            strerror(errno));
      *p = '/';
    }
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST)
    return fr_error_set(err, FR_EIO, "%s: cannot create directory: %s", buf,
                        strerror(errno));
  if (!fr_is_dir(buf))
    return fr_error_set(err, FR_EIO, "%s: exists and is not a directory", buf);
  return 0;
}

int fr_rm_rf(const char *path, fr_error *err) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0
                           : fr_error_set(err, FR_EIO, "%s: %s", path, strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (!d)
      return fr_error_set(err, FR_EIO, "%s: %s", path, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
        continue;
      char *child = fr_path_join(path, de->d_name);
      rc = child ? fr_rm_rf(child, err) : FR_ENOMEM;
      free(child);
    }
    closedir(d);
    if (rc)
      return rc;
    if (rmdir(path) != 0)
      return fr_error_set(err, FR_EIO, "%s: %s", path, strerror(errno));
    return 0;
  }
  if (unlink(path) != 0)
    return fr_error_set(err, FR_EIO, "%s: %s", path, strerror(errno));
  return 0;
}

int fr_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fr_is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *fr_path_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  while (la > 1 && a[la - 1] == '/')
    la--;
  char *out = malloc(la + lb + 2);
  if (!out)
    return NULL;
  memcpy(out, a, la);
  out[la] = '/';
  memcpy(out + la + 1, b, lb + 1);
  return out;
}

char *fr_exe_dir(void) {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  return strdup(dirname(buf));
}
