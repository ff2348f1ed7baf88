/*
 * derive.c - a new model version that differs from an existing one only in
 * its decision thresholds (`fraud evaluate --save-thresholds DIR`).
 *
 * Versions are immutable, so choosing thresholds by cost never edits the
 * evaluated bundle: its files are copied byte for byte into a new version
 * directory whose manifest records the new thresholds and where they came
 * from ("derived_from").  The copy is made like fr_bundle_write's bundles:
 * in a temporary sibling directory renamed into place, so a failure leaves
 * nothing behind, and the new version opens with fr_bundle_open's checksum
 * verification like any other.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fraud/model.h"
#include "fraud/train.h"

/* Last path component of dir, ignoring trailing slashes (new string). */
static char *last_component(const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  size_t b = n;
  while (b > 0 && dir[b - 1] != '/')
    b--;
  return strndup(dir + b, n - b);
}

int fr_bundle_derive_thresholds(const char *src_dir, const char *dst_dir,
                                const char *version, const fr_thresholds *t,
                                const char *derived_json, fr_error *err) {
  if (!src_dir || !dst_dir || !t)
    return fr_error_set(err, FR_EINVAL, "derive: NULL argument");
  if (!(t->review >= 0 && t->review <= t->decline && t->decline <= 1))
    return fr_error_set(err, FR_EINVAL,
                        "derive: thresholds review %g, decline %g must satisfy "
                        "0 <= review <= decline <= 1",
                        t->review, t->decline);
  if (fr_is_dir(dst_dir) || fr_is_file(dst_dir))
    return fr_error_set(err, FR_EEXIST,
                        "%s already exists: model versions are immutable, "
                        "write a new version",
                        dst_dir);
  json_t *derived = NULL;
  if (derived_json) {
    json_error_t je;
    derived = json_loads(derived_json, 0, &je);
    if (!json_is_object(derived)) {
      json_decref(derived);
      return fr_error_set(err, FR_EINVAL, "derive: derived_json is not a JSON object");
    }
  } else {
    derived = json_object();
  }
  int rc = 0;
  char *ver = version ? strdup(version) : last_component(dst_dir);
  char *tmp = NULL, *mtext = NULL;
  json_t *man = NULL;
  fr_bundle *b = fr_bundle_open(src_dir, err);
  if (!b) {
    rc = err ? err->code : FR_EIO;
    goto done;
  }
  if (!ver || !*ver) {
    rc = fr_error_set(err, FR_EINVAL, "derive: no version name for %s", dst_dir);
    goto done;
  }
  /* The new version keeps the source's model name: in a repository layout
   * (models/<name>/<version>) the path must say the same name and version,
   * or the server and `models list` refuse the version (as train --out). */
  {
    char idn[128], idv[128];
    if ((rc = fr_train_bundle_identity(dst_dir, fr_bundle_name(b), ver, idn, sizeof idn, idv,
                                       sizeof idv, err)))
      goto done;
  }
  man = json_loads(fr_bundle_manifest_json(b), 0, NULL);
  json_t *files = json_object_get(man, "files");
  if (!json_is_object(files)) {
    rc = fr_error_set(err, FR_EFORMAT, "%s/manifest.json: no files", src_dir);
    goto done;
  }
  size_t dl = strlen(dst_dir);
  if (!(tmp = malloc(dl + 64))) {
    rc = fr_error_set(err, FR_ENOMEM, "out of memory");
    goto done;
  }
  snprintf(tmp, dl + 64, "%s.tmp-%ld-%ld", dst_dir, (long)getpid(),
           (long)(fr_monotonic_ns() % 1000000));
  if ((rc = fr_mkdir_p(tmp, err)))
    goto done;
  /* Copy every listed file, checking its bytes against the manifest again:
   * the source was verified when opened, but a file may change between
   * that check and this read. */
  const char *name;
  json_t *ent;
  json_object_foreach(files, name, ent) {
    char *from = fr_path_join(src_dir, name), *to = fr_path_join(tmp, name);
    size_t len = 0;
    char *data = from && to ? fr_file_read_all(from, &len, err) : NULL;
    if (!data) {
      rc = from && to ? (err ? err->code : FR_EIO)
                      : fr_error_set(err, FR_ENOMEM, "out of memory");
    } else {
      char hex[65];
      fr_sha256_hex(data, len, hex);
      const char *want = json_string_value(json_object_get(ent, "sha256"));
      if (!want || strcmp(hex, want) != 0)
        rc = fr_error_set(err, FR_ECHECKSUM, "%s changed while it was copied", from);
      else if (!(rc = fr_file_write_atomic(to, data, len, err)))
        json_object_set_new(files, name,
                            json_pack("{s:s, s:I}", "sha256", hex, "bytes", (json_int_t)len));
    }
    free(data);
    free(from);
    free(to);
    if (rc)
      goto done;
  }
  /* What the new version is derived from, then the caller's record. */
  json_t *th = json_object_get(man, "thresholds");
  json_t *from_rec =
      json_pack("{s:s, s:s, s:s, s:O}", "name", fr_bundle_name(b), "version",
                fr_bundle_version(b), "dir", src_dir, "thresholds", th ? th : json_null());
  json_object_update(from_rec, derived);
  json_object_set_new(man, "derived_from", from_rec);
  json_object_set_new(man, "thresholds", json_pack("{s:f, s:f}", "review", t->review,
                                                   "decline", t->decline));
  json_object_set_new(man, "version", json_string(ver));
  char created[40];
  fr_fmt_iso8601(created, sizeof created, (double)time(NULL));
  json_object_set_new(man, "created", json_string(created));
  mtext = json_dumps(man, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
  char *mpath = fr_path_join(tmp, "manifest.json");
  if (!mtext || !mpath) {
    free(mpath);
    rc = fr_error_set(err, FR_ENOMEM, "out of memory writing the manifest");
    goto done;
  }
  rc = fr_file_write_atomic(mpath, mtext, strlen(mtext), err);
  free(mpath);
  if (rc)
    goto done;
  if (rename(tmp, dst_dir) != 0) {
    rc = fr_error_set(err, FR_EIO, "cannot move %s to %s", tmp, dst_dir);
    goto done;
  }
done:
  if (rc && tmp)
    fr_rm_rf(tmp, NULL);
  free(tmp);
  free(mtext);
  free(ver);
  json_decref(man);
  json_decref(derived);
  fr_bundle_unref(b);
  return rc;
}
