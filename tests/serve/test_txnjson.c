/*
 * test_txnjson.c - the /v1/score body reader (yajl) against jansson as the
 * reference, on a corpus of hand-written bodies and on random mutations of
 * real ones:
 *   - whenever the reader accepts a body, jansson (json_loadb with
 *     JSON_REJECT_DUPLICATES) accepts it too and gives the same shape, the
 *     same transactions and, in each, the same members in the same order
 *     with the same kinds and values (strings byte for byte, numbers bit for
 *     bit); so every body jansson refuses, the reader refuses;
 *   - whenever jansson accepts a body, the reader accepts it too, except in
 *     the cases txnjson.h lists as left to jansson that jansson accepts
 *     (a surrogate \u escape, a nested object, nesting deeper than
 *     FR__TXNJSON_MAX_DEPTH, a number longer than 127 characters, more than
 *     FR__TXNJSON_MAX_MEMBERS members in a transaction), which
 *     may_give_up() recognises independently here.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "serve/txnjson.h"

/* The documented reasons for the reader to leave a body jansson accepts. */
static int may_give_up(const char *b, size_t n) {
  int depth = 0, maxdepth = 0, in_str = 0, top_array = 0;
  size_t digits = 0, members = 0;
  for (size_t i = 0; i < n; i++) {
    char c = b[i];
    if (in_str) {
      if (c == '\\' && i + 1 < n) {
        if (b[i + 1] == 'u' && i + 3 < n && (b[i + 2] == 'd' || b[i + 2] == 'D') &&
            strchr("89abcdefABCDEF", b[i + 3]) && b[i + 3])
          return 1;
        i++;
      } else if (c == '"') {
        in_str = 0;
      }
      continue;
    }
    if (c == '"')
      in_str = 1;
    if (c == '{' && (depth == 0 || (depth == 1 && top_array)))
      members = 0; /* a transaction object starts */
    if (c == ':' && depth == (top_array ? 2 : 1) && ++members > FR__TXNJSON_MAX_MEMBERS)
      return 1; /* more members than the reader keeps */
    if (c == '{' && depth >= 1 && !(depth == 1 && top_array))
      return 1; /* an object inside a member or an array element */
    if (c == '[' && depth == 0)
      top_array = 1;
    if (c == '{' || c == '[')
      maxdepth = ++depth > maxdepth ? depth : maxdepth;
    else if (c == '}' || c == ']')
      depth--;
    if (strchr("0123456789.eE+-", c) && c) {
      if (++digits > 127)
        return 1;
    } else {
      digits = 0;
    }
  }
  return maxdepth > FR__TXNJSON_MAX_DEPTH;
}

static int same_members(const fr__txnjson *rd, size_t t, json_t *o, char *why, size_t wcap) {
  const fr__txnspan *sp = &rd->span[t];
  if (json_object_size(o) != sp->nm) {
    snprintf(why, wcap, "transaction %zu: %zu members, jansson %zu", t, sp->nm,
             json_object_size(o));
    return 0;
  }
  size_t k = 0;
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v) {
    const fr__member *x = &rd->mem[sp->m0 + k++];
    int same = x->klen == strlen(key) && memcmp(x->key, key, x->klen) == 0 &&
               x->khash == fr__txnjson_hash(key, strlen(key));
    switch (x->kind) {
    case FR__J_STRING:
      same &= json_is_string(v) && json_string_length(v) == x->slen &&
              memcmp(json_string_value(v), x->str, x->slen) == 0;
      break;
    case FR__J_INTEGER:
      same &= json_is_integer(v) && json_integer_value(v) == x->i &&
              x->num == (double)x->i;
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
    case FR__J_OTHER:
      same &= json_is_object(v) || json_is_array(v);
      break;
    }
    if (!same) {
      snprintf(why, wcap, "transaction %zu member %zu ('%s') differs", t, k - 1, key);
      return 0;
    }
  }
  return 1;
}

/* 1 when the reader's verdict agrees with jansson's (see above). */
static int agrees(const char *body, size_t len, char *why, size_t wcap) {
  static fr__txnjson rd;
  static fr__reqpool pool;
  fr__reqpool_reset(&pool);
  int got = fr__txnjson_read(&rd, body, len, &pool);
  json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
  int ok = 1;
  if (got < 0) {
    snprintf(why, wcap, "reader failed: %d", got);
    ok = 0;
  } else if (got == 0) {
    if (j && !may_give_up(body, len)) {
      snprintf(why, wcap, "reader gave up on a body jansson accepts");
      ok = 0;
    }
  } else if (!j) {
    snprintf(why, wcap, "reader accepted, jansson refused");
    ok = 0;
  } else if (rd.shape == FR__TXN_OBJECT) {
    if (!json_is_object(j) || rd.n != 1 || rd.first_bad != -1) {
      snprintf(why, wcap, "reader read an object, jansson something else");
      ok = 0;
    } else {
      ok = same_members(&rd, 0, j, why, wcap);
    }
  } else {
    long first_bad = -1;
    if (!json_is_array(j) || rd.n != json_array_size(j)) {
      snprintf(why, wcap, "reader read an array of %zu, jansson something else", rd.n);
      ok = 0;
    }
    for (size_t i = 0; ok && i < rd.n; i++) {
      json_t *o = json_array_get(j, i);
      if (!json_is_object(o)) {
        if (first_bad < 0)
          first_bad = (long)i;
        continue;
      }
      /* Spans exist for the objects up to the first non-object one. */
      if (first_bad < 0)
        ok = same_members(&rd, i, o, why, wcap);
    }
    if (ok && first_bad != rd.first_bad) {
      snprintf(why, wcap, "first non-object element %ld, jansson %ld", rd.first_bad, first_bad);
      ok = 0;
    }
  }
  json_decref(j);
  return ok;
}

static const char *const corpus[] = {
    "{}",
    " { } ",
    "{\"a\":\"x\"}",
    "{\"amt\":\"4.97\",\"cc_num\":\"9000000000000001\",\"n\":null,\"t\":true,\"f\":false}",
    "{\"a\":1,\"b\":-0,\"c\":0.5,\"d\":1e5,\"e\":-1.25E-3,\"f\":123456789012345678,\"g\":-0.0}",
    "{\"a\":1E+2,\"b\":1e-2,\"c\":0.1,\"d\":4.35,\"e\":2.2250738585072014e-308}",
    "{\"big\":9223372036854775807}",
    "{\"big\":9223372036854775808}",
    "{\"small\":-9223372036854775808}",
    "{\"small\":-9223372036854775809}",
    "{\"real\":1e400}",
    "{\"real\":-1e400}",
    "{\"real\":1.7976931348623157e308}",
    "{\"tiny\":1e-400}",
    "{\"tiny\":4.9e-324}",
    "{\"esc\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}",
    "{\"e\\nk\":1,\"e\\u0041k\":2}",
    "{\"u\":\"\\u0041\\u007e\"}",
    "{\"u\":\"\\u00e9\\u20AC\\uFFFF\"}",
    "{\"u\":\"\\u0000\"}",
    "{\"u\":\"a\\u0000b\"}",
    "{\"u\":\"\\ud83d\\ude00\"}",
    "{\"u\":\"\\ud800x\"}",
    "{\"u\":\"\\ud800\"}",
    "{\"u\":\"\\udc00\"}",
    "{\"u\":\"\\uDBFF\\uDFFF\"}",
    "{\"u\":\"\\ud800\\u0041\"}",
    "{\"u\":\"\\\\ud800\"}",
    "{\"u\":\"\\u12\"}",
    "{\"u\":\"\\x41\"}",
    "{\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\"}",
    "{\"bad\":\"\xff\"}",
    "{\"bad\":\"\xc3\"}",
    "{\"overlong\":\"\xc0\x80\"}",
    "{\"overlong\":\"\xc1\xbf\"}",
    "{\"overlong\":\"\xe0\x80\x80\"}",
    "{\"overlong\":\"\xf0\x80\x80\x80\"}",
    "{\"surrogate\":\"\xed\xa0\x80\"}",
    "{\"surrogate\":\"\xed\xbf\xbf\"}",
    "{\"max\":\"\xf4\x8f\xbf\xbf\"}",
    "{\"above\":\"\xf4\x90\x80\x80\"}",
    "{\"above\":\"\xf5\x80\x80\x80\"}",
    "{\"k\xc3\xa9\":1}",
    "{\"k\xed\xa0\x80\":1}",
    "{\"ctl\":\"a\tb\"}",
    "{\"ctl\":\"a\x01\"}",
    "{\"a\":1}\f",
    "{\v\"a\":1}",
    "{\"a\":\"\f\"}",
    "\xef\xbb\xbf{\"a\":1}",
    "{\"a\":1,\"a\":2}",
    "{\"a\":1,\"b\":2,\"a\":null}",
    "{\"a\":01}",
    "{\"a\":1.}",
    "{\"a\":.5}",
    "{\"a\":+1}",
    "{\"a\":1e}",
    "{\"a\":-}",
    "{\"a\":0x10}",
    "{\"a\":tru}",
    "{\"a\":True}",
    "{\"a\":[1]}",
    "{\"a\":{}}",
    "{\"a\":{\"b\":[1,2,{\"c\":3,\"c\":4}]},\"d\":4}",
    "{\"a\":{\"b\":1,\"b\":2}}",
    "{\"a\":[{\"x\":\"\\u0041\"}],\"b\":{\"c\":{\"d\":[]}},\"e\":\"z\"}",
    "{\"a\":1,}",
    "{,\"a\":1}",
    "{\"a\" 1}",
    "{\"a\":1 \"b\":2}",
    "{\"a\":1} x",
    "{\"a\":1}{}",
    "{\"a\":1} // c",
    "{/*c*/\"a\":1}",
    "[{\"a\":1}]",
    "[]",
    "[ ]",
    "[{}]",
    "[{\"a\":1},{\"a\":2,\"b\":\"x\"}]",
    "[{\"a\":1,\"a\":2}]",
    "[{\"a\":1},2]",
    "[1,{\"a\":1}]",
    "[{\"a\":1},[{\"b\":2}],{\"c\":3},null]",
    "[[1]]",
    "[{\"a\":1},]",
    "[{\"a\":1}",
    "\"a\"",
    "1",
    "-1.5",
    "null",
    "true",
    "",
    "   ",
    "{",
    "}",
    "{\"a\":\"b",
    "{\"a\":1}\n\r\t ",
    "{'a':1}",
    "{a:1}",
    "{\"a\":NaN}",
    "{\"a\":Infinity}",
    "{\"a\":-Infinity}",
};

Test(txnjson, corpus_agrees_with_jansson) {
  char why[256];
  for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
    cr_assert(agrees(corpus[i], strlen(corpus[i]), why, sizeof why), "body %zu <%s>: %s", i,
              corpus[i], why);
  /* A NUL byte inside and outside a string (strlen cannot carry them). */
  static const char nul1[] = "{\"a\":\"x\0y\"}", nul2[] = "{\"a\":1}\0";
  cr_assert(agrees(nul1, sizeof nul1 - 1, why, sizeof why), "NUL in a string: %s", why);
  cr_assert(agrees(nul2, sizeof nul2 - 1, why, sizeof why), "NUL after the value: %s", why);
}

/* Nesting around the depth limit, and a number past fr_parse_double's
 * length: jansson accepts, the reader may give up. */
Test(txnjson, deep_nesting_and_long_numbers) {
  char b[4096], why[256];
  for (int d = FR__TXNJSON_MAX_DEPTH - 2; d <= FR__TXNJSON_MAX_DEPTH + 2; d++) {
    size_t n = 0;
    n += (size_t)snprintf(b + n, sizeof b - n, "{\"a\":");
    for (int k = 1; k < d; k++)
      b[n++] = '[';
    for (int k = 1; k < d; k++)
      b[n++] = ']';
    n += (size_t)snprintf(b + n, sizeof b - n, ",\"b\":2}");
    cr_assert(agrees(b, n, why, sizeof why), "depth %d: %s", d, why);
  }
  size_t n = (size_t)snprintf(b, sizeof b, "{\"a\":0.");
  for (int k = 0; k < 300; k++)
    b[n++] = (char)('0' + k % 10);
  b[n++] = '}';
  cr_assert(agrees(b, n, why, sizeof why), "long number: %s", why);
}

Test(txnjson, reads_the_usual_transaction) {
  /* A real Sparkov row as `fraud loadgen --csv` writes it, with numbers. */
  const char *b = "{\"trans_date_trans_time\": \"2019-01-01 00:00:18\", \"cc_num\": "
                  "\"9000000000000001\", \"merchant\": \"fraud_Rippin, Kub and Mann\", \"amt\": 4.97, "
                  "\"unix_time\": 1325376018, \"is_fraud\": null}";
  fr__txnjson rd = {0};
  fr__reqpool pool = {0};
  cr_assert_eq(fr__txnjson_read(&rd, b, strlen(b), &pool), 1);
  cr_assert_eq(rd.shape, FR__TXN_OBJECT);
  cr_assert_eq(rd.n, 1);
  cr_assert_eq(rd.nmem, 6);
  cr_assert_eq(rd.span[0].m0, 0);
  cr_assert_eq(rd.span[0].nm, 6);
  const fr__member *m = rd.mem;
  cr_assert_eq(m[0].klen, strlen("trans_date_trans_time"));
  cr_assert_eq(m[3].kind, FR__J_REAL);
  cr_assert_eq(m[3].num, 4.97);
  cr_assert_eq(m[4].kind, FR__J_INTEGER);
  cr_assert_eq(m[4].i, 1325376018);
  cr_assert_eq(m[5].kind, FR__J_NULL);
  cr_assert_eq(m[2].kind, FR__J_STRING);
  cr_assert_eq(m[2].slen, strlen("fraud_Rippin, Kub and Mann"));
  cr_assert(memcmp(m[2].str, "fraud_Rippin, Kub and Mann", m[2].slen) == 0);
  /* Unescaped text is used in place (no copy). */
  cr_assert(m[2].str > b && m[2].str < b + strlen(b));
  /* The same reader, again: the arrays are reused, the results replaced. */
  const char *b2 = "[{\"k\":\"a\\tb\"},{\"k\":2}]";
  fr__reqpool_reset(&pool);
  cr_assert_eq(fr__txnjson_read(&rd, b2, strlen(b2), &pool), 1);
  cr_assert_eq(rd.shape, FR__TXN_ARRAY);
  cr_assert_eq(rd.n, 2);
  cr_assert_eq(rd.nmem, 2);
  cr_assert_eq(rd.mem[0].slen, 3);
  cr_assert(memcmp(rd.mem[0].str, "a\tb", 3) == 0);
  cr_assert_eq(rd.span[1].m0, 1);
  cr_assert_eq(rd.mem[1].i, 2);
  fr__txnjson_close(&rd);
  fr__reqpool_free(&pool);
}

/* Long escaped strings make yajl grow its decode buffer (reallocs from the
 * pool, copied): the values must survive the growth, and the pool's up-front
 * reservation must cover it (under ASan an overrun would show). */
Test(txnjson, long_escaped_strings) {
  size_t n = 200000;
  char *b = malloc(2 * n + 64), *want = malloc(n + 1);
  cr_assert(b && want);
  size_t o = (size_t)sprintf(b, "{\"s\":\"");
  for (size_t k = 0; k < n / 2; k++) {
    b[o++] = '\\';
    b[o++] = 'n';
    b[o++] = (char)('a' + k % 26);
    want[2 * k] = '\n';
    want[2 * k + 1] = (char)('a' + k % 26);
  }
  o += (size_t)sprintf(b + o, "\",\"t\":12}");
  fr__txnjson rd = {0};
  fr__reqpool pool = {0};
  cr_assert_eq(fr__txnjson_read(&rd, b, o, &pool), 1);
  cr_assert_eq(rd.nmem, 2);
  cr_assert_eq(rd.mem[0].slen, n);
  cr_assert(memcmp(rd.mem[0].str, want, n) == 0);
  cr_assert_eq(rd.mem[1].i, 12);
  char why[256];
  cr_assert(agrees(b, o, why, sizeof why), "%s", why);
  fr__txnjson_close(&rd);
  fr__reqpool_free(&pool);
  free(b);
  free(want);
}

/* A body of k members of one transaction: "{"k0":0,"k1":1,...}", the
 * last key repeating the first when dup is set. */
static size_t many_keys(char *b, size_t k, int dup) {
  size_t n = 0;
  b[n++] = '{';
  for (size_t i = 0; i < k; i++)
    n += (size_t)sprintf(b + n, "%s\"k%zu\":%zu", i ? "," : "", dup && i == k - 1 ? 0 : i, i);
  b[n++] = '}';
  return n;
}

/* Up to FR__TXNJSON_MAX_MEMBERS members the reader keeps a transaction;
 * beyond, it leaves the body to jansson (whose duplicate check is a hash
 * table) instead of scanning every earlier key for each new one, which
 * made a body of 300,000 unknown keys cost 52 s of CPU. */
Test(txnjson, many_members_go_to_jansson) {
  static char b[1 << 20];
  char why[256];
  fr__txnjson rd = {0};
  fr__reqpool pool = {0};
  size_t n = many_keys(b, FR__TXNJSON_MAX_MEMBERS, 0);
  cr_assert_eq(fr__txnjson_read(&rd, b, n, &pool), 1);
  cr_assert_eq(rd.nmem, FR__TXNJSON_MAX_MEMBERS);
  /* The count is per transaction: two full ones in an array are kept. */
  size_t m = 0;
  b[m++] = '[';
  m += many_keys(b + m, FR__TXNJSON_MAX_MEMBERS, 0);
  b[m++] = ',';
  m += many_keys(b + m, FR__TXNJSON_MAX_MEMBERS, 0);
  b[m++] = ']';
  fr__reqpool_reset(&pool);
  cr_assert_eq(fr__txnjson_read(&rd, b, m, &pool), 1);
  cr_assert_eq(rd.n, 2);
  cr_assert_eq(rd.span[1].nm, FR__TXNJSON_MAX_MEMBERS);
  size_t ks[] = {FR__TXNJSON_MAX_MEMBERS + 1, 5000, 30000};
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
    n = many_keys(b, ks[i], 0);
    fr__reqpool_reset(&pool);
    cr_assert_eq(fr__txnjson_read(&rd, b, n, &pool), 0, "%zu keys: not left to jansson", ks[i]);
    cr_assert(agrees(b, n, why, sizeof why), "%zu keys: %s", ks[i], why);
    /* jansson still refuses a duplicate, whether it comes early or late. */
    n = many_keys(b, ks[i], 1);
    json_t *j = json_loadb(b, n, JSON_REJECT_DUPLICATES, NULL);
    cr_assert_null(j, "%zu keys with a duplicate accepted", ks[i]);
  }
  fr__txnjson_close(&rd);
  fr__reqpool_free(&pool);
}

Test(txnjson, random_mutations_agree_with_jansson) {
  const char *seeds[] = {
      "{\"a\":\"4.97\",\"b\":-12.5e3,\"c\":null,\"d\":true,\"e\":\"x\\n\\u0041\",\"f\":0}",
      "{\"trans_num\":\"0b24\",\"amt\":120,\"lat\":36.0788,\"long\":-81.1781,\"g\":\"F\"}",
      "[{\"a\":1,\"b\":[2,{\"c\":\"caf\xc3\xa9\"}]},{\"a\":\"\\u00e9\"},false]",
      /* A real Sparkov transaction as `fraud loadgen --csv` writes it. */
      "{\"trans_date_trans_time\":\"2019-01-01 00:00:18\",\"cc_num\":\"9000000000000001\","
      "\"merchant\":\"fraud_Rippin, Kub and Mann\",\"category\":\"misc_net\",\"amt\":\"4.97\","
      "\"first\":\"F1\",\"last\":\"L1\",\"gender\":\"F\",\"street\":\"S1\",\"city\":\"Moravian "
      "Falls\",\"state\":\"NC\",\"zip\":\"28654\",\"lat\":\"36.0788\",\"long\":\"-81.1781\","
      "\"city_pop\":\"3495\",\"job\":\"J1\",\"dob\":\"D1\",\"trans_num\":"
      "\"0b242abb623afc578575680df30655b9\",\"unix_time\":\"1325376018\",\"merch_lat\":"
      "\"36.011293\",\"merch_long\":\"-82.048315\"}",
  };
  const size_t nseeds = sizeof seeds / sizeof seeds[0];
  /* Structural characters, number and literal pieces, escapes, control
   * bytes (\v and \f among them) and UTF-8 lead and continuation bytes. */
  static const char alphabet[] = "{}[]\":,.-+eE0159aftnul \\/du8\x01\x0b\x0c\x7f"
                                 "\xc3\xa9\xed\xa0\xf4\x90\xc0\x80\xe2\x82";
  char buf[1024], why[256];
  uint32_t x = 12345;
  size_t accepted = 0;
  for (int it = 0; it < 40000; it++) {
    const char *s = seeds[(size_t)it % nseeds];
    size_t n = strlen(s);
    memcpy(buf, s, n);
    int edits = 1 + it % 3;
    for (int e = 0; e < edits; e++) {
      x = x * 1103515245u + 12345u;
      size_t pos = (x >> 8) % (n ? n : 1);
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
    json_t *j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL);
    accepted += j != NULL;
    json_decref(j);
  }
  /* The mutations must exercise both verdicts. */
  cr_assert(accepted > 2000 && accepted < 38000, "%zu of 40000 mutations valid", accepted);
}
