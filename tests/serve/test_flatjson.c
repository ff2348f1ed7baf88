/*
 * test_flatjson.c - the /v1/score fast path against jansson as the
 * reference: on a corpus of hand-written bodies and on 20,000 random
 * mutations of real ones, whenever the scanner accepts a body, jansson
 * (json_loadb with JSON_REJECT_DUPLICATES) accepts it too and gives the
 * same members in the same order with the same kinds and values (strings
 * byte for byte, numbers bit for bit); and every body jansson refuses, the
 * scanner refuses.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "serve/flatjson.h"

/* 1 when the scanner's verdict agrees with jansson's (see above). */
static int agrees(const char *body, size_t len, char *why, size_t wcap) {
  fr__member m[64];
  fr__buf scratch = {0};
  fr__buf_reserve(&scratch, len + 64);
  long n = fr__flatjson_scan(body, len, m, 64, &scratch);
  json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
  int ok = 1;
  if (n >= 0) {
    if (!json_is_object(j) || json_object_size(j) != (size_t)n) {
      snprintf(why, wcap, "scanner accepted %ld members, jansson %s", n,
               j ? "a different object" : "refused");
      ok = 0;
    } else {
      size_t k = 0;
      const char *key;
      json_t *v;
      json_object_foreach(j, key, v) {
        const fr__member *x = &m[k++];
        int same = x->klen == strlen(key) && memcmp(x->key, key, x->klen) == 0;
        switch (x->kind) {
        case FR__J_STRING:
          same &= json_is_string(v) && json_string_length(v) == x->slen &&
                  memcmp(json_string_value(v), x->str, x->slen) == 0;
          break;
        case FR__J_INTEGER:
          same &= json_is_integer(v) && json_integer_value(v) == x->i;
          break;
        case FR__J_REAL: {
          double a = json_real_value(v), b = x->num;
          same &= json_is_real(v) && memcmp(&a, &b, sizeof a) == 0;
          break;
        }
        case FR__J_TRUE:
          same &= json_is_true(v);
          break;
        case FR__J_FALSE:
          same &= json_is_false(v);
          break;
        case FR__J_NULL:
          same &= json_is_null(v);
          break;
        default:
          same = 0;
        }
        if (!same) {
          snprintf(why, wcap, "member %zu ('%s') differs", k - 1, key);
          ok = 0;
          break;
        }
      }
    }
  }
  json_decref(j);
  fr__buf_close(&scratch);
  return ok;
}

static const char *const corpus[] = {
    "{}",
    " { } ",
    "{\"a\":\"x\"}",
    "{\"amt\":\"4.97\",\"cc_num\":\"9000000000000001\",\"n\":null,\"t\":true,\"f\":false}",
    "{\"a\":1,\"b\":-0,\"c\":0.5,\"d\":1e5,\"e\":-1.25E-3,\"f\":123456789012345678}",
    "{\"big\":9223372036854775807}",
    "{\"big\":9223372036854775808}",
    "{\"small\":-9223372036854775808}",
    "{\"real\":1e400}",
    "{\"tiny\":1e-400}",
    "{\"esc\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}",
    "{\"u\":\"\\u0041\\u007e\"}",
    "{\"u\":\"\\u00e9\"}",
    "{\"u\":\"\\u0000\"}",
    "{\"utf8\":\"caf\xc3\xa9\"}",
    "{\"bad\":\"\xff\"}",
    "{\"ctl\":\"a\tb\"}",
    "{\"a\":1,\"a\":2}",
    "{\"a\":01}",
    "{\"a\":1.}",
    "{\"a\":.5}",
    "{\"a\":+1}",
    "{\"a\":1e}",
    "{\"a\":-}",
    "{\"a\":tru}",
    "{\"a\":[1]}",
    "{\"a\":{}}",
    "{\"a\":1,}",
    "{,\"a\":1}",
    "{\"a\" 1}",
    "{\"a\":1} x",
    "[{\"a\":1}]",
    "\"a\"",
    "",
    "{\"a\":\"b",
    "{\"a\":1}\n\r\t ",
    "{'a':1}",
    "{\"a\":NaN}",
    "{\"a\":Infinity}",
};

Test(flatjson, corpus_agrees_with_jansson) {
  char why[256];
  for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
    cr_assert(agrees(corpus[i], strlen(corpus[i]), why, sizeof why), "body %zu <%s>: %s", i,
              corpus[i], why);
}

Test(flatjson, accepts_the_usual_transaction) {
  const char *b = "{\"trans_date_trans_time\": \"2019-01-01 00:00:18\", \"cc_num\": "
                  "\"9000000000000001\", \"merchant\": \"fraud_Rippin, Kub and Mann\", \"amt\": 4.97, "
                  "\"unix_time\": 1325376018, \"is_fraud\": null}";
  fr__member m[16];
  fr__buf scratch = {0};
  fr__buf_reserve(&scratch, 512);
  cr_assert_eq(fr__flatjson_scan(b, strlen(b), m, 16, &scratch), 6);
  cr_assert_eq(m[3].kind, FR__J_REAL);
  cr_assert_eq(m[3].num, 4.97);
  cr_assert_eq(m[4].kind, FR__J_INTEGER);
  cr_assert_eq(m[4].i, 1325376018);
  cr_assert_eq(m[5].kind, FR__J_NULL);
  cr_assert_eq(m[2].slen, strlen("fraud_Rippin, Kub and Mann"));
  /* More members than room: give up (jansson takes it). */
  cr_assert_eq(fr__flatjson_scan(b, strlen(b), m, 5, &scratch), -1);
  fr__buf_close(&scratch);
}

Test(flatjson, random_mutations_agree_with_jansson) {
  const char *seeds[] = {
      "{\"a\":\"4.97\",\"b\":-12.5e3,\"c\":null,\"d\":true,\"e\":\"x\\n\\u0041\",\"f\":0}",
      "{\"trans_num\":\"0b24\",\"amt\":120,\"lat\":36.0788,\"long\":-81.1781,\"g\":\"F\"}",
  };
  char buf[256], why[256];
  uint32_t x = 12345;
  for (int it = 0; it < 20000; it++) {
    const char *s = seeds[it & 1];
    size_t n = strlen(s);
    memcpy(buf, s, n);
    int edits = 1 + it % 3;
    for (int e = 0; e < edits; e++) {
      x = x * 1103515245u + 12345u;
      size_t pos = (x >> 8) % (n ? n : 1);
      static const char alphabet[] = "{}[]\":,.-+eE0159aftnul \\/\x01\xc3";
      char ch = alphabet[(x >> 20) % (sizeof alphabet - 1)];
      switch ((x >> 4) % 3) {
      case 0: /* replace */
        buf[pos] = ch;
        break;
      case 1: /* delete */
        memmove(buf + pos, buf + pos + 1, n - pos - 1);
        n--;
        break;
      default: /* insert */
        if (n + 1 < sizeof buf) {
          memmove(buf + pos + 1, buf + pos, n - pos);
          buf[pos] = ch;
          n++;
        }
      }
    }
    cr_assert(agrees(buf, n, why, sizeof why), "mutation %d <%.*s>: %s", it, (int)n, buf, why);
  }
}
