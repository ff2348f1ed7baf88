/*
 * yaml.c - a YAML document as a small tree with line numbers, built from
 * libyaml's event parser.  Schemas, feature specs and configuration are read
 * through it so every error can point at "file:line:col".  Scalars are kept as
 * text; typed accessors interpret them on demand.
 */
#include "fraud/common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

static void node_free(fr_yaml_node *n) {
  if (!n)
    return;
  free(n->scalar);
  for (size_t i = 0; i < n->n; i++) {
    if (n->keys)
      free(n->keys[i]);
    node_free(n->items[i]);
  }
  free(n->keys);
  free(n->key_lines);
  free(n->items);
  free(n);
}

void fr_yaml_free(fr_yaml_doc *doc) {
  if (!doc)
    return;
  node_free(doc->root);
  free(doc->path);
  free(doc);
}

typedef struct builder {
  yaml_parser_t parser;
  const char *name;
  fr_error *err;
} builder;

static int parse_error(builder *b) {
  yaml_parser_t *p = &b->parser;
  return fr_error_set(b->err, FR_EPARSE, "%s:%zu:%zu: YAML syntax error: %s%s%s",
                      b->name, p->problem_mark.line + 1,
                      p->problem_mark.column + 1,
                      p->problem ? p->problem : "unknown problem",
                      p->context ? " " : "", p->context ? p->context : "");
}

static int push_child(fr_yaml_node *parent, fr_yaml_node *child, char *key,
                      int key_line) {
  size_t n = parent->n + 1;
  fr_yaml_node **items = realloc(parent->items, n * sizeof *items);
  if (!items)
    return FR_ENOMEM;
  parent->items = items;
  if (parent->type == FR_YAML_MAP) {
    char **keys = realloc(parent->keys, n * sizeof *keys);
    if (!keys)
      return FR_ENOMEM;
    parent->keys = keys;
    int *kl = realloc(parent->key_lines, n * sizeof *kl);
    if (!kl)
      return FR_ENOMEM;
    parent->key_lines = kl;
    keys[n - 1] = key;
    kl[n - 1] = key_line;
  }
  items[n - 1] = child;
  parent->n = n;
  return 0;
}

/* Parses the node that starts with event `ev` (already consumed). */
static int build_node(builder *b, yaml_event_t *ev, fr_yaml_node **out,
                      int depth) {
  if (depth > 64)
    return fr_error_set(b->err, FR_EPARSE, "%s:%zu: YAML nesting too deep",
                        b->name, ev->start_mark.line + 1);
  fr_yaml_node *n = calloc(1, sizeof *n);
  if (!n)
    return FR_ENOMEM;
  n->line = (int)ev->start_mark.line + 1;
  n->col = (int)ev->start_mark.column + 1;
  int rc = 0;
  switch (ev->type) {
  case YAML_SCALAR_EVENT:
    n->type = FR_YAML_SCALAR;
    n->scalar = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
    n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    if (!n->scalar)
      rc = FR_ENOMEM;
    break;
  case YAML_ALIAS_EVENT:
    rc = fr_error_set(b->err, FR_EPARSE,
                      "%s:%d:%d: YAML aliases are not supported here", b->name,
                      n->line, n->col);
    break;
  case YAML_SEQUENCE_START_EVENT:
  case YAML_MAPPING_START_EVENT: {
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    n->type = is_map ? FR_YAML_MAP : FR_YAML_SEQ;
    for (;;) {
      yaml_event_t e;
      if (!yaml_parser_parse(&b->parser, &e)) {
        rc = parse_error(b);
        break;
      }
      if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
        yaml_event_delete(&e);
        break;
      }
      char *key = NULL;
      int key_line = 0;
      if (is_map) {
        if (e.type != YAML_SCALAR_EVENT) {
          rc = fr_error_set(b->err, FR_EPARSE,
                            "%s:%zu:%zu: mapping keys must be plain scalars",
                            b->name, e.start_mark.line + 1,
                            e.start_mark.column + 1);
          yaml_event_delete(&e);
          break;
        }
        key = strndup((const char *)e.data.scalar.value, e.data.scalar.length);
        key_line = (int)e.start_mark.line + 1;
        int key_col = (int)e.start_mark.column + 1;
        yaml_event_delete(&e);
        if (!key) {
          rc = FR_ENOMEM;
          break;
        }
        for (size_t i = 0; i < n->n; i++) {
          if (strcmp(n->keys[i], key) == 0) {
            rc = fr_error_set(b->err, FR_EPARSE,
                              "%s:%d:%d: duplicate key '%s' (first at line %d)",
                              b->name, key_line, key_col, key, n->key_lines[i]);
            break;
          }
        }
        if (rc) {
          free(key);
          break;
        }
        if (!yaml_parser_parse(&b->parser, &e)) {
          free(key);
          rc = parse_error(b);
          break;
        }
      }
      fr_yaml_node *child = NULL;
      rc = build_node(b, &e, &child, depth + 1);
      yaml_event_delete(&e);
      if (rc) {
        free(key);
        node_free(child);
        break;
      }
      rc = push_child(n, child, key, key_line);
      if (rc) {
        free(key);
        node_free(child);
        break;
      }
    }
    break;
  }
  default:
    rc = fr_error_set(b->err, FR_EPARSE, "%s:%d:%d: unexpected YAML event",
                      b->name, n->line, n->col);
  }
  if (rc) {
    node_free(n);
    return rc;
  }
  *out = n;
  return 0;
}

fr_yaml_doc *fr_yaml_load_string(const char *text, size_t len, const char *name,
                                 fr_error *err) {
  fr_yaml_doc *doc = calloc(1, sizeof *doc);
  if (!doc) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  doc->path = strdup(name ? name : "<yaml>");
  builder b = {.name = doc->path, .err = err};
  if (!yaml_parser_initialize(&b.parser)) {
    fr_error_set(err, FR_ENOMEM, "cannot initialise YAML parser");
    fr_yaml_free(doc);
    return NULL;
  }
  yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
  int rc = 0;
  int in_doc = 0;
  for (;;) {
    yaml_event_t e;
    if (!yaml_parser_parse(&b.parser, &e)) {
      rc = parse_error(&b);
      break;
    }
    yaml_event_type_t t = e.type;
    if (t == YAML_STREAM_END_EVENT) {
      yaml_event_delete(&e);
      break;
    }
    if (t == YAML_DOCUMENT_START_EVENT) {
      /* One document a file: a second one ("---" after the first) would
       * otherwise be ignored silently, a setting in it never applied. */
      if (in_doc) {
        rc = fr_error_set(err, FR_EPARSE,
                          "%s:%zu:%zu: a second YAML document: a file holds one "
                          "document (remove the '---' and merge the settings)",
                          doc->path, (size_t)e.start_mark.line + 1,
                          (size_t)e.start_mark.column + 1);
        yaml_event_delete(&e);
        break;
      }
      in_doc++;
      yaml_event_delete(&e);
      continue;
    }
    if (t == YAML_DOCUMENT_END_EVENT) {
      yaml_event_delete(&e);
      continue; /* a later document is refused above */
    }
    if (t == YAML_STREAM_START_EVENT) {
      yaml_event_delete(&e);
      continue;
    }
    if (in_doc && !doc->root) {
      rc = build_node(&b, &e, &doc->root, 0);
      yaml_event_delete(&e);
      if (rc)
        break;
      continue;
    }
    yaml_event_delete(&e);
  }
  yaml_parser_delete(&b.parser);
  if (rc) {
    fr_yaml_free(doc);
    return NULL;
  }
  /* A document that is only an empty scalar (an empty file) has no root. */
  if (doc->root && doc->root->type == FR_YAML_SCALAR && !doc->root->quoted &&
      doc->root->scalar[0] == '\0') {
    node_free(doc->root);
    doc->root = NULL;
  }
  return doc;
}

fr_yaml_doc *fr_yaml_load_file(const char *path, fr_error *err) {
  size_t len = 0;
  char *text = fr_file_read_all(path, &len, err);
  if (!text)
    return NULL;
  fr_yaml_doc *doc = fr_yaml_load_string(text, len, path, err);
  free(text);
  return doc;
}

const fr_yaml_node *fr_yaml_get(const fr_yaml_node *map, const char *key) {
  if (!map || map->type != FR_YAML_MAP)
    return NULL;
  for (size_t i = 0; i < map->n; i++)
    if (strcmp(map->keys[i], key) == 0)
      return map->items[i];
  return NULL;
}

int fr_yaml_error(const fr_yaml_doc *doc, const fr_yaml_node *n, fr_error *err,
                  int code, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n)
    return fr_error_set(err, code, "%s:%d:%d: %s", doc ? doc->path : "<yaml>",
                        n->line, n->col, msg);
  return fr_error_set(err, code, "%s: %s", doc ? doc->path : "<yaml>", msg);
}

static int want_scalar(const fr_yaml_doc *doc, const fr_yaml_node *n,
                       const char *what, const char *type, fr_error *err) {
  if (!n)
    return fr_yaml_error(doc, NULL, err, FR_ESCHEMA, "missing field '%s'", what);
  if (n->type != FR_YAML_SCALAR)
    return fr_yaml_error(doc, n, err, FR_ESCHEMA, "field '%s': expected %s",
                         what, type);
  return 0;
}

int fr_yaml_as_string(const fr_yaml_doc *doc, const fr_yaml_node *n,
                      const char *what, const char **out, fr_error *err) {
  int rc = want_scalar(doc, n, what, "a string", err);
  if (rc)
    return rc;
  *out = n->scalar;
  return 0;
}

int fr_yaml_as_double(const fr_yaml_doc *doc, const fr_yaml_node *n,
                      const char *what, double *out, fr_error *err) {
  int rc = want_scalar(doc, n, what, "a number", err);
  if (rc)
    return rc;
  if (fr_parse_double(n->scalar, strlen(n->scalar), out))
    return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                         "field '%s': expected a number, got '%s'", what,
                         n->scalar);
  return 0;
}

int fr_yaml_as_int(const fr_yaml_doc *doc, const fr_yaml_node *n,
                   const char *what, int64_t *out, fr_error *err) {
  int rc = want_scalar(doc, n, what, "an integer", err);
  if (rc)
    return rc;
  if (fr_parse_int64(n->scalar, strlen(n->scalar), out))
    return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                         "field '%s': expected an integer, got '%s'", what,
                         n->scalar);
  return 0;
}

int fr_yaml_as_bool(const fr_yaml_doc *doc, const fr_yaml_node *n,
                    const char *what, int *out, fr_error *err) {
  int rc = want_scalar(doc, n, what, "true or false", err);
  if (rc)
    return rc;
  const char *s = n->scalar;
  if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on")) {
    *out = 1;
    return 0;
  }
  if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off")) {
    *out = 0;
    return 0;
  }
  return fr_yaml_error(doc, n, err, FR_ESCHEMA,
                       "field '%s': expected true or false, got '%s'", what, s);
}

int fr_yaml_check_keys(const fr_yaml_doc *doc, const fr_yaml_node *map,
                       const char *what, const char *const *allowed,
                       fr_error *err) {
  if (!map || map->type != FR_YAML_MAP)
    return fr_yaml_error(doc, map, err, FR_ESCHEMA, "%s: expected a mapping",
                         what);
  for (size_t i = 0; i < map->n; i++) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++)
      if (strcmp(*a, map->keys[i]) == 0)
        ok = 1;
    if (!ok) {
      char list[512] = "";
      size_t o = 0;
      for (const char *const *a = allowed; *a && o < sizeof list - 64; a++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
                              a == allowed ? "" : ", ", *a);
      return fr_error_set(err, FR_ESCHEMA,
                          "%s:%d: unknown key '%s' in %s (expected one of: %s)",
                          doc ? doc->path : "<yaml>", map->key_lines[i],
                          map->keys[i], what, list);
    }
  }
  return 0;
}
