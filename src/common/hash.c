/*
 * hash.c - keyed hashing of entity keys and SHA-256 checksums, both from
 * libsodium.  Entity keys (card numbers, account ids) are hashed with a
 * secret key before they reach the state store, a log line or a metric, so a
 * card number is never kept in clear.
 */
#include "fraud/common.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static void ensure_sodium(void) {
  /* sodium_init is idempotent and thread-safe. */
  static atomic_int done;
  if (!atomic_load(&done)) {
    if (sodium_init() < 0)
      fr_log(FR_LOG_ERROR, "sodium_init", NULL, "libsodium failed to initialise");
    atomic_store(&done, 1);
  }
}

uint64_t fr_hash_keyed(const uint8_t key[FR_HASH_KEY_BYTES], const void *data,
                       size_t len) {
  unsigned char out[crypto_shorthash_siphashx24_BYTES];
  crypto_shorthash_siphashx24(out, (const unsigned char *)data, len, key);
  uint64_t a, b;
  memcpy(&a, out, 8);
  memcpy(&b, out + 8, 8);
  return a ^ b;
}

uint64_t fr_hash_fnv1a(const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

void fr_hash_hex(uint64_t h, char out[17]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--) {
    out[i] = hex[h & 15];
    h >>= 4;
  }
  out[16] = '\0';
}

void fr_hash_key_from_secret(const char *secret,
                             uint8_t key[FR_HASH_KEY_BYTES]) {
  ensure_sodium();
  static const char dev[] = "fraud-development-key";
  if (!secret || !*secret) {
    static atomic_int warned;
    if (!atomic_exchange(&warned, 1))
      fr_log(FR_LOG_WARN, "hash_key", NULL,
             "no entity-hash secret configured; using the fixed development "
             "key (set FRAUD_HASH_SECRET in production)");
    secret = dev;
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, (const unsigned char *)secret, strlen(secret));
  memcpy(key, digest, FR_HASH_KEY_BYTES);
}

static void to_hex(const unsigned char *d, size_t n, char *hex) {
  static const char h[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    hex[2 * i] = h[d[i] >> 4];
    hex[2 * i + 1] = h[d[i] & 15];
  }
  hex[2 * n] = '\0';
}

void fr_sha256_hex(const void *data, size_t len, char hex[65]) {
  ensure_sodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, data, len);
  to_hex(digest, sizeof digest, hex);
}

int fr_sha256_file(const char *path, char hex[65], fr_error *err) {
  ensure_sodium();
  FILE *f = fopen(path, "rb");
  if (!f)
    return fr_error_set(err, FR_EIO, "%s: cannot open for checksum", path);
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  unsigned char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    crypto_hash_sha256_update(&st, buf, n);
  int bad = ferror(f);
  fclose(f);
  if (bad)
    return fr_error_set(err, FR_EIO, "%s: read error while computing checksum",
                        path);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, digest);
  to_hex(digest, sizeof digest, hex);
  return 0;
}
