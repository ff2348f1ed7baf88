/* Tests src/common/yaml.c: tree, line numbers, typed access, key checks. */
#include <criterion/criterion.h>

#include "fraud/common.h"

static const char *doc_text =
    "name: demo\n"
    "columns:\n"
    "  - {name: amt, role: amount}\n"
    "  - name: Time\n"
    "    role: event_time\n"
    "rate: 0.25\n"
    "flag: yes\n";

Test(yaml, tree_and_lines) {
  fr_error err = {0};
  fr_yaml_doc *d = fr_yaml_load_string(doc_text, strlen(doc_text), "demo.yaml", &err);
  cr_assert_not_null(d, "%s", err.msg);
  const fr_yaml_node *cols = fr_yaml_get(d->root, "columns");
  cr_assert_eq(cols->type, FR_YAML_SEQ);
  cr_assert_eq(cols->n, 2);
  const fr_yaml_node *role = fr_yaml_get(cols->items[1], "role");
  cr_assert_str_eq(role->scalar, "event_time");
  cr_assert_eq(role->line, 5);
  double rate;
  cr_assert_eq(fr_yaml_as_double(d, fr_yaml_get(d->root, "rate"), "rate", &rate, &err), 0);
  cr_assert_eq(rate, 0.25);
  int flag;
  cr_assert_eq(fr_yaml_as_bool(d, fr_yaml_get(d->root, "flag"), "flag", &flag, &err), 0);
  cr_assert_eq(flag, 1);
  double bad;
  cr_assert_eq(fr_yaml_as_double(d, fr_yaml_get(d->root, "name"), "name", &bad, &err),
               FR_ESCHEMA);
  cr_assert(strstr(err.msg, "demo.yaml:1:7") != NULL, "%s", err.msg);
  static const char *const allowed[] = {"name", "columns", NULL};
  cr_assert_eq(fr_yaml_check_keys(d, d->root, "schema", allowed, &err), FR_ESCHEMA);
  cr_assert(strstr(err.msg, "demo.yaml:6: unknown key 'rate'") != NULL, "%s", err.msg);
  fr_yaml_free(d);
}

Test(yaml, syntax_error_names_line) {
  const char *bad = "a: 1\nb: [1, 2\nc: 3\n";
  fr_error err = {0};
  fr_yaml_doc *d = fr_yaml_load_string(bad, strlen(bad), "bad.yaml", &err);
  cr_assert_null(d);
  cr_assert_eq(err.code, FR_EPARSE);
  cr_assert(strstr(err.msg, "bad.yaml:") != NULL, "%s", err.msg);
}

Test(yaml, duplicate_keys) {
  const char *dup = "a: 1\na: 2\n";
  fr_error err = {0};
  cr_assert_null(fr_yaml_load_string(dup, strlen(dup), "dup.yaml", &err));
  cr_assert(strstr(err.msg, "duplicate key 'a'") != NULL, "%s", err.msg);
}

Test(yaml, empty_document) {
  fr_error err = {0};
  fr_yaml_doc *d = fr_yaml_load_string("", 0, "empty.yaml", &err);
  cr_assert_not_null(d);
  cr_assert_null(d->root);
  fr_yaml_free(d);
}

/* Newcomer review: a second document ("---" after the first) was ignored
 * silently, its settings never applied.  It is refused at the line of its
 * "---" (line 2 of "eta: 0.1\n---\neta: 0.9", column 1); a single document
 * opened or closed by markers is still one document. */
Test(yaml, second_document_refused) {
  static const char *const bad[][2] = {
      {"eta: 0.1\n---\neta: 0.9\n", "two.yaml:2:1: a second YAML document"},
      {"---\na: 1\n---\nserver:\n  port: abc\n", "two.yaml:3:1: a second YAML document"},
      {"a: 1\n...\n---\nb: 2\n", "two.yaml:3:1: a second YAML document"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fr_error err = {0};
    cr_assert_null(fr_yaml_load_string(bad[i][0], strlen(bad[i][0]), "two.yaml", &err),
                   "%s", bad[i][0]);
    cr_assert_eq(err.code, FR_EPARSE);
    cr_assert(strstr(err.msg, bad[i][1]) != NULL, "%s", err.msg);
  }
  static const char *const good[] = {"---\na: 1\n", "a: 1\n...\n", "---\na: 1\n...\n"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    fr_error err = {0};
    fr_yaml_doc *d = fr_yaml_load_string(good[i], strlen(good[i]), "one.yaml", &err);
    cr_assert_not_null(d, "%s: %s", good[i], err.msg);
    cr_assert_not_null(fr_yaml_get(d->root, "a"));
    fr_yaml_free(d);
  }
}
