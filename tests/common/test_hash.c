/* Tests src/common/hash.c against published test vectors. */
#include <criterion/criterion.h>

#include "fraud/common.h"

Test(hash, sha256_fips180_vector) {
  /* FIPS 180-2 appendix B.1: SHA-256("abc"). */
  char hex[65];
  fr_sha256_hex("abc", 3, hex);
  cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(hash, fnv1a_vector) {
  /* FNV-1a 64 of "a" from the FNV reference test suite. */
  cr_assert_eq(fr_hash_fnv1a("a", 1), 0xaf63dc4c8601ec8cULL);
}

Test(hash, keyed_depends_on_key) {
  uint8_t k1[FR_HASH_KEY_BYTES], k2[FR_HASH_KEY_BYTES];
  fr_hash_key_from_secret("one", k1);
  fr_hash_key_from_secret("two", k2);
  const char *pan = "4111111111111111";
  uint64_t a = fr_hash_keyed(k1, pan, strlen(pan));
  cr_assert_eq(a, fr_hash_keyed(k1, pan, strlen(pan)));
  cr_assert_neq(a, fr_hash_keyed(k2, pan, strlen(pan)));
  char hex[17];
  fr_hash_hex(0x0123456789abcdefULL, hex);
  cr_assert_str_eq(hex, "0123456789abcdef");
}
