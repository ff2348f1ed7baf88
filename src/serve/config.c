/*
 * config.c - the server's configuration: one table of keys drives the YAML
 * reader, the environment overrides, `--set key=value`, the validation
 * messages and `fraud serve --print-config`, so a key added to the table is
 * available everywhere at once (CONVENTIONS.md rule 9).
 *
 * Keys are dotted paths.  Top-level keys live in fr_server_config; the
 * per-model keys (version_policy, batching.*) live in fr_model_config and
 * appear both under model_defaults and under models.<name>.
 */
#include "fraud/serve.h"

#include <ctype.h>
#include <math.h>
#include <netdb.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "serve/buf.h"

extern char **environ;

typedef enum ktype {
  K_STR,
  K_STRLIST,  /* a list of names, kept comma-joined */
  K_INT,
  K_INT64,
  K_UINT,
  K_SIZE,
  K_BOOL,
  K_DURATION,
  K_DOUBLE,
  K_ENUM,
  K_INTLIST,  /* batching.preferred_batch_size */
  K_POLICY    /* version_policy */
} ktype;

typedef struct key {
  const char *path;
  ktype type;
  size_t off;
  const char *help;
  int64_t min, max;            /* K_INT/K_UINT/K_SIZE/K_INTLIST bounds */
  const char *const *enums;    /* K_ENUM names, NULL-terminated */
  int secret;                  /* 1: the whole value is redacted; SECRET_URL:
                                  only the password of a URL's user info */
  int restart;                 /* change needs a restart (SIGHUP ignores it) */
} key;

/* A URL whose user info may hold a password (state.redis.url). */
#define SECRET_URL 2

static const char *const repo_modes[] = {"poll", "explicit", "none", NULL};
static const char *const backends[] = {"memory", "redis", NULL};
static const char *const outages[] = {"fail", "empty", NULL};
static const char *const reason_orders[] = {"toward_fraud", "by_magnitude", NULL};
static const char *const reasons_for[] = {"flagged", "all", NULL};

#define OFF(f) offsetof(fr_server_config, f)
#define MOFF(f) offsetof(fr_model_config, f)

static const key server_keys[] = {
    {"server.listen", K_STR, OFF(listen_address), "address of the inference listener", 0, 0, NULL, 0, 1},
    {"server.port", K_INT, OFF(port), "inference port (0 = ephemeral, printed at start)", 0, 65535, NULL, 0, 1},
    {"server.threads", K_INT, OFF(threads), "HTTP worker threads (0 = number of cores)", 0, 1024, NULL, 0, 1},
    {"server.max_connections", K_UINT, OFF(max_connections), "concurrent connections accepted", 1, 1000000, NULL, 0, 1},
    {"server.max_connections_per_ip", K_UINT, OFF(max_connections_per_ip), "concurrent connections accepted from one client address (0 = no limit)", 0, 1000000, NULL, 0, 1},
    {"server.max_body_bytes", K_SIZE, OFF(max_body_bytes), "largest request body (413 above)", 1024, (int64_t)1 << 40, NULL, 0, 0},
    {"server.max_tensor_elements", K_SIZE, OFF(max_tensor_elements), "tensor elements per V2 request", 1, (int64_t)1 << 40, NULL, 0, 0},
    {"server.read_timeout", K_DURATION, OFF(read_timeout), "time a request body may take to arrive after its headers (then the connection is closed unanswered, counted as a 408)", 0, 0, NULL, 0, 0},
    {"server.idle_timeout", K_DURATION, OFF(idle_timeout), "idle keep-alive connections are closed after this", 0, 0, NULL, 0, 1},
    {"server.shutdown_grace", K_DURATION, OFF(shutdown_grace), "SIGTERM: time allowed for in-flight requests", 0, 0, NULL, 0, 0},
    {"server.tls.cert", K_STR, OFF(tls_cert), "PEM certificate (TLS when cert and key are set)", 0, 0, NULL, 0, 1},
    {"server.tls.key", K_STR, OFF(tls_key), "PEM private key", 0, 0, NULL, 0, 1},
    {"admin.enabled", K_BOOL, OFF(admin_enabled), "serve the admin API on its own listener", 0, 0, NULL, 0, 1},
    {"admin.listen", K_STR, OFF(admin_listen), "address of the admin listener", 0, 0, NULL, 0, 1},
    {"admin.port", K_INT, OFF(admin_port), "admin port (0 = ephemeral)", 0, 65535, NULL, 0, 1},
    {"admin.token", K_STR, OFF(admin_token), "bearer token required by the admin API", 0, 0, NULL, 1, 0},
    {"admin.token_file", K_STR, OFF(admin_token_file), "file holding the admin token", 0, 0, NULL, 0, 0},
    {"repository.path", K_STR, OFF(model_repository), "model repository directory", 0, 0, NULL, 0, 1},
    {"repository.mode", K_ENUM, OFF(repository_mode), "poll | explicit | none", 0, 0, repo_modes, 0, 1},
    {"repository.poll_interval", K_DURATION, OFF(poll_interval), "poll mode: time between scans", 0, 0, NULL, 0, 0},
    {"repository.default_model", K_STR, OFF(default_model), "model of /v1/score when ?model= is absent", 0, 0, NULL, 0, 0},
    {"repository.startup_models", K_STRLIST, OFF(startup_models), "explicit mode: models loaded at start (comma-separated, empty = all)", 0, 0, NULL, 0, 1},
    {"scoring.reasons", K_INT, OFF(reasons), "top-k reasons (TreeSHAP) per /v1/score answer (0 = none)", 0, 32, NULL, 0, 0},
    {"scoring.reasons_for", K_ENUM, OFF(reasons_for), "flagged (review and decline answers) | all", 0, 0, reasons_for, 0, 0},
    {"scoring.reason_order", K_ENUM, OFF(reason_order), "toward_fraud | by_magnitude", 0, 0, reason_orders, 0, 0},
    {"scoring.routing_entity", K_STR, OFF(routing_entity), "entity whose key keeps canary routing sticky (empty = first)", 0, 0, NULL, 0, 0},
    {"state.backend", K_ENUM, OFF(state_backend), "memory | redis", 0, 0, backends, 0, 1},
    {"state.max_entities", K_SIZE, OFF(state.max_entities), "in-process: entities kept, at most ceil(N/64) in each of 64 shards (0 = unlimited)", 0, (int64_t)1 << 40, NULL, 0, 1},
    {"state.ttl", K_DURATION, OFF(state.ttl_seconds), "evict entities idle this long (0 = never)", 0, 0, NULL, 0, 1},
    {"state.allowed_lateness", K_DURATION, OFF(state.allowed_lateness), "events older than this are not inserted", 0, 0, NULL, 0, 1},
    {"state.max_future_skew", K_DURATION, OFF(max_future_skew), "refuse (400) an event time further ahead of the server's clock (0 = off)", 0, 0, NULL, 0, 0},
    {"state.hash_key_secret", K_STR, OFF(state_hash_secret), "secret of the entity-key hash (empty = FRAUD_HASH_SECRET)", 0, 0, NULL, 1, 1},
    {"state.max_bytes", K_SIZE, OFF(state_max_bytes), "in-process: heap cap of entity records, ceil(N/64) per shard (0 = unlimited)", 0, (int64_t)1 << 50, NULL, 0, 1},
    {"state.snapshot.path", K_STR, OFF(snapshot_path), "in-process: snapshot file, one per model and layout: <path>.<model>.<digest>; empty = none", 0, 0, NULL, 0, 1},
    {"state.snapshot.interval", K_DURATION, OFF(snapshot_interval), "seconds between snapshots (0 = only at stop)", 0, 0, NULL, 0, 1},
    {"state.redis.url", K_STR, OFF(redis_url), "redis backend: redis://[[user]:password@]host[:port][/db] or unix:///path", 0, 0, NULL, SECRET_URL, 1},
    {"state.redis.prefix", K_STR, OFF(redis_prefix), "redis backend: key prefix", 0, 0, NULL, 0, 1},
    {"state.redis.timeout", K_DURATION, OFF(redis_timeout), "redis backend: connect and round-trip timeout", 0, 0, NULL, 0, 1},
    {"state.redis.on_outage", K_ENUM, OFF(redis_on_outage), "fail (503) | empty (empty history, not updated)", 0, 0, outages, 0, 1},
    {"state.redis.retry_interval", K_DURATION, OFF(redis_retry_interval), "seconds between reconnection attempts", 0, 0, NULL, 0, 1},
    {"state.redis.max_connections", K_INT, OFF(redis_max_connections), "pooled connections", 1, 4096, NULL, 0, 1},
    {"state.redis.max_retries", K_INT, OFF(redis_max_retries), "compare-and-set retries per entity", 1, 100000, NULL, 0, 1},
    {"state.warm_start.data", K_STR, OFF(warm_data), "history CSV replayed into each new state store (empty = none)", 0, 0, NULL, 0, 0},
    {"state.warm_start.until", K_STR, OFF(warm_until), "replay only rows before this event time, epoch seconds (empty = all)", 0, 0, NULL, 0, 0},
    {"logging.level", K_STR, OFF(log_level), "debug | info | warn | error | off (empty = FRAUD_LOG_LEVEL or info)", 0, 0, NULL, 0, 0},
    {"logging.access_log", K_BOOL, OFF(access_log), "one JSON line per request", 0, 0, NULL, 0, 0},
};
#define NSERVER_KEYS (sizeof server_keys / sizeof server_keys[0])

static const key model_keys[] = {
    {"version_policy", K_POLICY, MOFF(versions), "latest | latest:N | all | specific:V1,V2", 0, 0, NULL, 0, 0},
    {"batching.enabled", K_BOOL, MOFF(batching.enabled), "dynamic batching on/off", 0, 0, NULL, 0, 0},
    {"batching.max_batch_size", K_INT, MOFF(batching.max_batch_size), "rows per executed batch at most", 1, 1 << 20, NULL, 0, 0},
    {"batching.preferred_batch_size", K_INTLIST, MOFF(batching.npreferred), "batch sizes run without waiting longer", 1, 1 << 20, NULL, 0, 0},
    {"batching.max_queue_delay_microseconds", K_INT64, MOFF(batching.max_queue_delay_us), "longest wait of a queued request", 0, 60000000, NULL, 0, 0},
};
#define NMODEL_KEYS (sizeof model_keys / sizeof model_keys[0])

/* Top-level sections (for unknown-key messages and env prefixes). */
static const char *const sections[] = {"server", "admin", "repository", "model_defaults",
                                       "models", "scoring", "state", "logging", NULL};

static void set_str(char **dst, const char *v) {
  char *n = strdup(v ? v : "");
  if (!n)
    return;
  free(*dst);
  *dst = n;
}

static void model_default(fr_model_config *m) {
  memset(m, 0, sizeof *m);
  m->versions.kind = FR_VERSIONS_LATEST;
  m->versions.latest = 1;
  m->batching.enabled = 0;
  m->batching.max_batch_size = 256;
  m->batching.npreferred = 0;
  m->batching.max_queue_delay_us = 500;
}

void fr_server_config_default(fr_server_config *c) {
  memset(c, 0, sizeof *c);
  set_str(&c->listen_address, "0.0.0.0");
  c->port = 8080;
  c->threads = 0;
  c->max_connections = 1024;
  c->max_body_bytes = (size_t)8 << 20;
  c->max_tensor_elements = (size_t)1 << 24;
  c->read_timeout = 30;
  c->idle_timeout = 60;
  c->shutdown_grace = 30;
  set_str(&c->tls_cert, "");
  set_str(&c->tls_key, "");
  c->admin_enabled = 1;
  set_str(&c->admin_listen, "127.0.0.1");
  c->admin_port = 8081;
  set_str(&c->admin_token, "");
  set_str(&c->admin_token_file, "");
  set_str(&c->model_repository, "models");
  c->repository_mode = FR_REPO_POLL;
  c->poll_interval = 10;
  set_str(&c->default_model, "");
  set_str(&c->startup_models, "");
  model_default(&c->model_defaults);
  set_str(&c->routing_entity, "");
  c->reasons = 3;
  c->reason_order = 0;
  c->state_backend = FR_STATE_MEMORY;
  /* fr_state_options defaults (no cap, no TTL), but an allowed lateness of
   * 60 s: concurrent requests for one card reach the state out of order by
   * the connections' queueing (tests/serve/burst_test.py: with 0, 86 of a
   * 400-payment burst over 16 connections stayed in the card's history).
   * The hash key is derived
   * from state.hash_key_secret when the server starts. */
  memset(&c->state, 0, sizeof c->state);
  c->state.allowed_lateness = 60;
  /* One day ahead of the server's clock covers any client clock error and
   * time zone mix-up, while an event dated years ahead (which would make
   * every later event of its card "late", docs/server.md) is refused. */
  c->max_future_skew = 86400;
  set_str(&c->state_hash_secret, "");
  set_str(&c->snapshot_path, "");
  /* Redis defaults: fr_state_redis_options_default's. */
  fr_state_redis_options ro;
  fr_state_redis_options_default(&ro);
  set_str(&c->redis_url, ro.url ? ro.url : "redis://127.0.0.1:6379");
  set_str(&c->redis_prefix, ro.prefix ? ro.prefix : "fraud:");
  c->redis_timeout = ro.timeout;
  c->redis_on_outage = (int)ro.on_outage;
  c->redis_retry_interval = ro.retry_interval;
  c->redis_max_connections = ro.max_connections;
  c->redis_max_retries = ro.max_retries;
  set_str(&c->warm_data, "");
  set_str(&c->warm_until, "");
  c->warm_until_value = NAN;
  set_str(&c->log_level, "");
  c->access_log = 0;
}

void fr_server_config_close(fr_server_config *c) {
  if (!c)
    return;
  for (size_t i = 0; i < NSERVER_KEYS; i++) {
    if (server_keys[i].type != K_STR && server_keys[i].type != K_STRLIST)
      continue;
    char **p = (char **)((char *)c + server_keys[i].off);
    free(*p);
    *p = NULL;
  }
  free(c->config_path);
  c->config_path = NULL;
  free(c->overrides);
  c->overrides = NULL;
  free(c->models);
  c->models = NULL;
  c->nmodels = 0;
}

int fr_server_config_copy(fr_server_config *dst, const fr_server_config *src) {
  memcpy(dst, src, sizeof *dst);
  int ok = 1;
  for (size_t i = 0; i < NSERVER_KEYS; i++) {
    if (server_keys[i].type != K_STR && server_keys[i].type != K_STRLIST)
      continue;
    char **p = (char **)((char *)dst + server_keys[i].off);
    if (*p) {
      *p = strdup(*p);
      ok &= *p != NULL;
    }
  }
  if (src->config_path) {
    dst->config_path = strdup(src->config_path);
    ok &= dst->config_path != NULL;
  }
  if (src->overrides) {
    dst->overrides = strdup(src->overrides);
    ok &= dst->overrides != NULL;
  }
  if (src->nmodels) {
    dst->models = malloc(src->nmodels * sizeof *dst->models);
    if (dst->models)
      memcpy(dst->models, src->models, src->nmodels * sizeof *dst->models);
    ok &= dst->models != NULL;
  }
  if (!ok) {
    fr_server_config_close(dst);
    return FR_ENOMEM;
  }
  return 0;
}

/* Bytes that model key k occupies at k->off (for overlaying). */
static size_t model_key_size(const key *k) {
  switch (k->type) {
  case K_POLICY:
    return sizeof(fr_version_policy);
  case K_INT64:
    return sizeof(int64_t);
  case K_INTLIST:
    return offsetof(fr_batching_config, preferred) + sizeof(((fr_batching_config *)0)->preferred) -
           offsetof(fr_batching_config, npreferred);
  default:
    return sizeof(int);
  }
}

void fr_server_config_model(const fr_server_config *c, const char *name,
                            fr_model_config *out) {
  *out = c->model_defaults;
  out->set_mask = 0;
  snprintf(out->name, sizeof out->name, "%s", name);
  for (size_t i = 0; i < c->nmodels; i++) {
    const fr_model_config *m = &c->models[i];
    if (strcmp(m->name, name) != 0)
      continue;
    for (size_t k = 0; k < NMODEL_KEYS; k++)
      if (m->set_mask & (1u << k))
        memcpy((char *)out + model_keys[k].off, (const char *)m + model_keys[k].off,
               model_key_size(&model_keys[k]));
    out->set_mask = m->set_mask;
  }
}

/* The entry of model `name`, created as a copy of the defaults. */
static fr_model_config *model_entry(fr_server_config *c, const char *name,
                                    fr_error *err) {
  for (size_t i = 0; i < c->nmodels; i++)
    if (strcmp(c->models[i].name, name) == 0)
      return &c->models[i];
  if (!fr_repository_name_ok(name) || strlen(name) >= sizeof c->models[0].name) {
    fr_error_set(err, FR_ESCHEMA, "models.%s: invalid model name", name);
    return NULL;
  }
  fr_model_config *m = realloc(c->models, (c->nmodels + 1) * sizeof *m);
  if (!m) {
    fr_error_set(err, FR_ENOMEM, "out of memory");
    return NULL;
  }
  c->models = m;
  m = &c->models[c->nmodels++];
  *m = c->model_defaults;
  m->set_mask = 0;
  snprintf(m->name, sizeof m->name, "%s", name);
  return m;
}

/* ---- value parsers (shared by YAML, environment and --set) ---- */

static int parse_bool(const char *s, int *out) {
  static const char *t[] = {"true", "yes", "on", "1"};
  static const char *f[] = {"false", "no", "off", "0"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(s, t[i]) == 0) {
      *out = 1;
      return 0;
    }
    if (strcasecmp(s, f[i]) == 0) {
      *out = 0;
      return 0;
    }
  }
  return -1;
}

static int parse_size(const char *s, int64_t *out) {
  size_t n = strlen(s);
  static const struct {
    const char *suf;
    int64_t mul;
  } units[] = {{"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024LL * 1024 * 1024},
               {"K", 1024},   {"M", 1024 * 1024},   {"G", 1024LL * 1024 * 1024}};
  int64_t mul = 1;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    size_t l = strlen(units[i].suf);
    if (n > l && strcmp(s + n - l, units[i].suf) == 0) {
      mul = units[i].mul;
      n -= l;
      break;
    }
  }
  int64_t v;
  if (fr_parse_int64(s, n, &v) || v < 0 || v > INT64_MAX / mul)
    return -1;
  *out = v * mul;
  return 0;
}

static int parse_duration_text(const char *s, double *out) {
  double v;
  if (fr_parse_double(s, strlen(s), &v) == 0) {
    if (!(v >= 0) || !isfinite(v))
      return -1;
    *out = v;
    return 0;
  }
  /* fr_parse_duration refuses zero (a window of 0 is meaningless), but here
   * 0 means "off" (no TTL, no lateness), so "0s" / "0ms" are accepted. */
  size_t num = strspn(s, "0.");
  static const char *const units[] = {"ms", "s", "m", "h", "d", "w", NULL};
  if (num > 0 && strspn(s, "0") >= 1 && fr_parse_double(s, num, &v) == 0 && v == 0) {
    for (int i = 0; units[i]; i++) {
      if (strcmp(s + num, units[i]) == 0) {
        *out = 0;
        return 0;
      }
    }
  }
  if (fr_parse_duration(s, &v) || !(v >= 0))
    return -1;
  *out = v;
  return 0;
}

static int parse_policy(const char *s, fr_version_policy *p) {
  fr_version_policy n;
  memset(&n, 0, sizeof n);
  if (strcmp(s, "latest") == 0) {
    n.kind = FR_VERSIONS_LATEST;
    n.latest = 1;
  } else if (strncmp(s, "latest:", 7) == 0) {
    int64_t v;
    if (fr_parse_int64(s + 7, strlen(s + 7), &v) || v < 1 || v > 1000)
      return -1;
    n.kind = FR_VERSIONS_LATEST;
    n.latest = (int)v;
  } else if (strcmp(s, "all") == 0) {
    n.kind = FR_VERSIONS_ALL;
  } else if (strncmp(s, "specific:", 9) == 0) {
    n.kind = FR_VERSIONS_SPECIFIC;
    const char *p0 = s + 9;
    while (*p0) {
      const char *e = strchr(p0, ',');
      size_t l = e ? (size_t)(e - p0) : strlen(p0);
      while (l && isspace((unsigned char)*p0)) {
        p0++;
        l--;
      }
      while (l && isspace((unsigned char)p0[l - 1]))
        l--;
      if (l == 0 || l >= sizeof n.specific[0] || n.nspecific == FR_MAX_SPECIFIC_VERSIONS)
        return -1;
      memcpy(n.specific[n.nspecific], p0, l);
      n.specific[n.nspecific][l] = '\0';
      if (!fr_repository_name_ok(n.specific[n.nspecific]))
        return -1;
      n.nspecific++;
      if (!e)
        break;
      p0 = e + 1;
    }
    if (n.nspecific == 0)
      return -1;
  } else {
    return -1;
  }
  *p = n;
  return 0;
}

static int parse_intlist(const char *s, const key *k, fr_batching_config *b) {
  fr_batching_config n = *b;
  n.npreferred = 0;
  const char *p = s;
  while (*p) {
    while (isspace((unsigned char)*p))
      p++;
    const char *e = strchr(p, ',');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    int64_t v;
    if (n.npreferred == FR_MAX_PREFERRED_BATCH || fr_parse_int64(p, l, &v) ||
        v < k->min || v > k->max)
      return -1;
    if (n.npreferred && v <= n.preferred[n.npreferred - 1])
      return -1;
    n.preferred[n.npreferred++] = (int)v;
    if (!e)
      break;
    p = e + 1;
  }
  *b = n;
  return 0;
}

static const char *expectation(const key *k, char *buf, size_t cap) {
  switch (k->type) {
  case K_STR:
    return "a string";
  case K_STRLIST:
    return "a list of model names";
  case K_INT:
  case K_INT64:
  case K_UINT:
    snprintf(buf, cap, "an integer from %lld to %lld", (long long)k->min, (long long)k->max);
    return buf;
  case K_SIZE:
    snprintf(buf, cap, "a size in bytes (optionally with KiB/MiB/GiB) from %lld", (long long)k->min);
    return buf;
  case K_BOOL:
    return "true or false";
  case K_DURATION:
    return "a duration such as 30s, 500ms, 1m or a number of seconds";
  case K_DOUBLE:
    return "a number";
  case K_ENUM: {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "one of");
    for (int i = 0; k->enums[i] && o < cap; i++)
      o += (size_t)snprintf(buf + o, cap - o, "%s %s", i ? "," : "", k->enums[i]);
    return buf;
  }
  case K_INTLIST:
    return "increasing positive integers (a list, or comma-separated)";
  case K_POLICY:
    return "latest, latest:N, all or specific:V1,V2";
  }
  return "a value";
}

/* Sets key k in struct base from text v.  `where` prefixes the message (the
 * YAML position), `path` is the full key path shown. */
static int apply(const key *k, void *base, const char *v, const char *path,
                 const char *where, fr_error *err) {
  char *p = (char *)base + k->off;
  int bad = 0;
  int64_t i64;
  switch (k->type) {
  case K_STR:
    set_str((char **)p, v);
    break;
  case K_STRLIST: {
    /* Each comma-separated item must be a model name. */
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", v);
    for (char *save = NULL, *t = strtok_r(tmp, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
      bad |= !fr_repository_name_ok(t);
    if (!bad)
      set_str((char **)p, v);
    break;
  }
  case K_INT:
  case K_INT64:
  case K_UINT:
    if (fr_parse_int64(v, strlen(v), &i64) || i64 < k->min || i64 > k->max)
      bad = 1;
    else if (k->type == K_INT)
      *(int *)p = (int)i64;
    else if (k->type == K_INT64)
      *(int64_t *)p = i64;
    else
      *(unsigned *)p = (unsigned)i64;
    break;
  case K_SIZE:
    if (parse_size(v, &i64) || i64 < k->min || i64 > k->max)
      bad = 1;
    else
      *(size_t *)p = (size_t)i64;
    break;
  case K_BOOL:
    bad = parse_bool(v, (int *)p) != 0;
    break;
  case K_DURATION:
    bad = parse_duration_text(v, (double *)p) != 0;
    break;
  case K_DOUBLE: {
    double d;
    if (fr_parse_double(v, strlen(v), &d) || !isfinite(d))
      bad = 1;
    else
      *(double *)p = d;
    break;
  }
  case K_ENUM: {
    bad = 1;
    for (int i = 0; k->enums[i]; i++) {
      if (strcmp(k->enums[i], v) == 0) {
        *(int *)p = i;
        bad = 0;
      }
    }
    break;
  }
  case K_INTLIST:
    bad = parse_intlist(v, k, (fr_batching_config *)((char *)base + offsetof(fr_model_config, batching))) != 0;
    break;
  case K_POLICY:
    bad = parse_policy(v, (fr_version_policy *)p) != 0;
    break;
  }
  if (bad) {
    char buf[160];
    return fr_error_set(err, FR_ESCHEMA, "%s%s: expected %s, got '%s'", where ? where : "",
                        path, expectation(k, buf, sizeof buf), k->secret ? "<redacted>" : v);
  }
  return 0;
}

static const key *find_key(const key *tab, size_t n, const char *path) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(tab[i].path, path) == 0)
      return &tab[i];
  return NULL;
}

int fr_server_config_set(fr_server_config *c, const char *path, const char *value,
                         fr_error *err) {
  if (!path || !value)
    return fr_error_set(err, FR_EINVAL, "configuration key and value required");
  const key *k = find_key(server_keys, NSERVER_KEYS, path);
  if (k)
    return apply(k, c, value, path, NULL, err);
  if (strncmp(path, "model_defaults.", 15) == 0) {
    k = find_key(model_keys, NMODEL_KEYS, path + 15);
    if (k)
      return apply(k, &c->model_defaults, value, path, NULL, err);
  } else if (strncmp(path, "models.", 7) == 0) {
    const char *name = path + 7;
    const char *dot = strchr(name, '.');
    if (dot) {
      k = find_key(model_keys, NMODEL_KEYS, dot + 1);
      if (k) {
        char nm[128];
        snprintf(nm, sizeof nm, "%.*s", (int)(dot - name), name);
        fr_model_config *m = model_entry(c, nm, err);
        if (!m)
          return err ? err->code : FR_ESCHEMA;
        int rc = apply(k, m, value, path, NULL, err);
        if (!rc)
          m->set_mask |= 1u << (unsigned)(k - model_keys);
        return rc;
      }
    }
  }
  return fr_error_set(err, FR_ESCHEMA, "unknown configuration key '%s'", path);
}

/* ---- YAML ---- */

/* Joins the allowed child names of `prefix` (direct children) for messages. */
static void allowed_children(const key *tab, size_t n, const char *prefix, char *out,
                             size_t cap, const char *extra) {
  size_t o = 0, pl = strlen(prefix);
  out[0] = '\0';
  char seen[32][48];
  size_t nseen = 0;
  for (size_t i = 0; i < n; i++) {
    if (strncmp(tab[i].path, prefix, pl) != 0)
      continue;
    const char *rest = tab[i].path + pl;
    size_t l = strcspn(rest, ".");
    int dup = 0;
    for (size_t s = 0; s < nseen; s++)
      dup |= strlen(seen[s]) == l && strncmp(seen[s], rest, l) == 0;
    if (dup || nseen == 32 || l >= 48)
      continue;
    memcpy(seen[nseen], rest, l);
    seen[nseen][l] = '\0';
    nseen++;
    o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s%.*s", o ? ", " : "", (int)l, rest);
  }
  if (extra)
    snprintf(out + o, o < cap ? cap - o : 0, "%s%s", o ? ", " : "", extra);
}

static int yaml_scalar_text(const fr_yaml_doc *doc, const fr_yaml_node *n,
                            const key *k, const char *path, fr__buf *tmp,
                            fr_error *err) {
  fr__buf_reset(tmp);
  if (n->type == FR_YAML_SCALAR) {
    fr__buf_puts(tmp, n->scalar ? n->scalar : "");
    return 0;
  }
  if (n->type == FR_YAML_SEQ && k->type == K_INTLIST) {
    for (size_t i = 0; i < n->n; i++) {
      if (n->items[i]->type != FR_YAML_SCALAR)
        return fr_yaml_error(doc, n->items[i], err, FR_ESCHEMA, "%s: expected integers", path);
      if (i)
        fr__buf_putc(tmp, ',');
      fr__buf_puts(tmp, n->items[i]->scalar);
    }
    return 0;
  }
  if (n->type == FR_YAML_SEQ && k->type == K_STRLIST) {
    for (size_t i = 0; i < n->n; i++) {
      if (n->items[i]->type != FR_YAML_SCALAR)
        return fr_yaml_error(doc, n->items[i], err, FR_ESCHEMA, "%s: expected names", path);
      if (i)
        fr__buf_putc(tmp, ',');
      fr__buf_puts(tmp, n->items[i]->scalar);
    }
    return 0;
  }
  if (k->type == K_POLICY) {
    /* {latest: N} | {specific: [a, b]} | {all: ...} */
    if (n->type != FR_YAML_MAP || n->n != 1)
      goto bad;
    const char *kind = n->keys[0];
    const fr_yaml_node *v = n->items[0];
    if (strcmp(kind, "latest") == 0 && v->type == FR_YAML_SCALAR) {
      fr__buf_printf(tmp, "latest:%s", v->scalar);
      return 0;
    }
    if (strcmp(kind, "specific") == 0) {
      fr__buf_puts(tmp, "specific:");
      if (v->type == FR_YAML_SCALAR) {
        fr__buf_puts(tmp, v->scalar);
        return 0;
      }
      if (v->type != FR_YAML_SEQ)
        goto bad;
      for (size_t i = 0; i < v->n; i++) {
        if (v->items[i]->type != FR_YAML_SCALAR)
          goto bad;
        if (i)
          fr__buf_putc(tmp, ',');
        fr__buf_puts(tmp, v->items[i]->scalar);
      }
      return 0;
    }
  }
bad:;
  char buf[160];
  return fr_yaml_error(doc, n, err, FR_ESCHEMA, "%s: expected %s", path,
                       expectation(k, buf, sizeof buf));
}

static char *where_of(const fr_yaml_doc *doc, const fr_yaml_node *n, char *buf, size_t cap) {
  snprintf(buf, cap, "%s:%d:%d: ", doc->path ? doc->path : "config", n->line, n->col);
  return buf;
}

/* Walks map `m` whose path prefix is `prefix` ("server." or "" at the top,
 * relative to table `tab`). */
static int walk(const fr_yaml_doc *doc, const fr_yaml_node *m, const key *tab,
                size_t ntab, const char *prefix, const char *shown_prefix, void *base,
                fr__buf *tmp, fr_error *err) {
  for (size_t i = 0; i < m->n; i++) {
    char path[256], shown[256];
    snprintf(path, sizeof path, "%s%s", prefix, m->keys[i]);
    snprintf(shown, sizeof shown, "%s%s", shown_prefix, m->keys[i]);
    const fr_yaml_node *v = m->items[i];
    const key *k = find_key(tab, ntab, path);
    if (k) {
      int rc = yaml_scalar_text(doc, v, k, shown, tmp, err);
      if (rc)
        return rc;
      char where[300];
      rc = apply(k, base, fr__buf_cstr(tmp), shown, where_of(doc, v, where, sizeof where), err);
      if (rc)
        return rc;
      if (tab == model_keys && base != NULL)
        ((fr_model_config *)base)->set_mask |= 1u << (unsigned)(k - model_keys);
      continue;
    }
    /* A section? */
    char sub[260];
    snprintf(sub, sizeof sub, "%s.", path);
    int is_section = 0;
    for (size_t t = 0; t < ntab; t++)
      is_section |= strncmp(tab[t].path, sub, strlen(sub)) == 0;
    if (is_section) {
      if (v->type != FR_YAML_MAP)
        return fr_yaml_error(doc, v, err, FR_ESCHEMA, "%s: expected a map", shown);
      char shown_sub[260];
      snprintf(shown_sub, sizeof shown_sub, "%s.", shown);
      int rc = walk(doc, v, tab, ntab, sub, shown_sub, base, tmp, err);
      if (rc)
        return rc;
      continue;
    }
    char allowed[512];
    allowed_children(tab, ntab, prefix, allowed, sizeof allowed, NULL);
    const fr_yaml_node at = {.line = m->key_lines ? m->key_lines[i] : v->line, .col = 1};
    char what[260];
    snprintf(what, sizeof what, "%.*s", shown_prefix[0] ? (int)strlen(shown_prefix) - 1 : 3,
             shown_prefix[0] ? shown_prefix : "top");
    return fr_yaml_error(doc, &at, err, FR_ESCHEMA,
                         "unknown key '%s' in %s (expected one of: %s)", m->keys[i], what,
                         allowed);
  }
  return 0;
}

int fr_server_config_load(fr_server_config *c, const char *path, fr_error *err) {
  fr_yaml_doc *doc = fr_yaml_load_file(path, err);
  if (!doc)
    return err ? err->code : FR_EIO;
  int rc = 0;
  fr__buf tmp = {0};
  const fr_yaml_node *root = doc->root;
  if (!root) {
    /* An empty file (or only comments) is far more often a file caught
     * mid-write (an editor's truncate-then-write, a half-done copy) than
     * a wish for the defaults, which `{}` states: refused, so that a
     * SIGHUP at the wrong moment leaves the running configuration as it
     * is (docs/server.md). */
    rc = fr_error_set(err, FR_ESCHEMA,
                      "%s: the configuration file is empty (or holds only comments); write "
                      "{} for the built-in defaults",
                      path);
    goto done;
  }
  if (root->type != FR_YAML_MAP) {
    rc = fr_yaml_error(doc, root, err, FR_ESCHEMA, "the configuration must be a map");
    goto done;
  }
  for (size_t i = 0; i < root->n; i++) {
    int known = 0;
    for (int s = 0; sections[s]; s++)
      known |= strcmp(root->keys[i], sections[s]) == 0;
    if (!known) {
      const fr_yaml_node at = {.line = root->key_lines ? root->key_lines[i] : 1, .col = 1};
      rc = fr_yaml_error(doc, &at, err, FR_ESCHEMA,
                         "unknown key '%s' (expected one of: server, admin, repository, "
                         "model_defaults, models, scoring, state, logging)",
                         root->keys[i]);
      goto done;
    }
    const fr_yaml_node *v = root->items[i];
    if (v->type != FR_YAML_MAP) {
      rc = fr_yaml_error(doc, v, err, FR_ESCHEMA, "%s: expected a map", root->keys[i]);
      goto done;
    }
  }
  /* model_defaults first: models.<name> entries start as copies of it. */
  const fr_yaml_node *md = fr_yaml_get(root, "model_defaults");
  if (md && (rc = walk(doc, md, model_keys, NMODEL_KEYS, "", "model_defaults.",
                       &c->model_defaults, &tmp, err)))
    goto done;
  for (size_t i = 0; i < root->n; i++) {
    const char *sec = root->keys[i];
    const fr_yaml_node *v = root->items[i];
    if (strcmp(sec, "model_defaults") == 0)
      continue;
    if (strcmp(sec, "models") == 0) {
      for (size_t j = 0; j < v->n; j++) {
        const fr_yaml_node *mv = v->items[j];
        if (mv->type != FR_YAML_MAP) {
          rc = fr_yaml_error(doc, mv, err, FR_ESCHEMA, "models.%s: expected a map", v->keys[j]);
          goto done;
        }
        fr_model_config *m = model_entry(c, v->keys[j], err);
        if (!m) {
          rc = fr_yaml_error(doc, mv, err, FR_ESCHEMA, "models.%s: invalid model name",
                             v->keys[j]);
          goto done;
        }
        char shown[200];
        snprintf(shown, sizeof shown, "models.%s.", v->keys[j]);
        if ((rc = walk(doc, mv, model_keys, NMODEL_KEYS, "", shown, m, &tmp, err)))
          goto done;
      }
      continue;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s.", sec);
    if ((rc = walk(doc, v, server_keys, NSERVER_KEYS, prefix, prefix, c, &tmp, err)))
      goto done;
  }
  /* path may be c->config_path itself (a reload): copy before freeing. */
  char *keep = strdup(path);
  free(c->config_path);
  c->config_path = keep;
done:
  fr__buf_close(&tmp);
  fr_yaml_free(doc);
  return rc;
}

/* ---- environment ---- */

static void env_name(const char *path, char *out, size_t cap) {
  size_t o = 0;
  o += (size_t)snprintf(out, cap, "FRAUD_");
  for (const char *p = path; *p && o + 1 < cap; p++)
    out[o++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
  out[o] = '\0';
}

int fr_server_config_apply_env(fr_server_config *c, fr_error *err) {
  /* Known variables first. */
  for (size_t i = 0; i < NSERVER_KEYS; i++) {
    char name[128];
    env_name(server_keys[i].path, name, sizeof name);
    const char *v = getenv(name);
    if (v) {
      int rc = apply(&server_keys[i], c, v, server_keys[i].path, NULL, err);
      if (rc)
        return fr_error_prefix(err, "environment %s", name);
    }
  }
  for (size_t i = 0; i < NMODEL_KEYS; i++) {
    char path[128], name[160];
    snprintf(path, sizeof path, "model_defaults.%s", model_keys[i].path);
    env_name(path, name, sizeof name);
    const char *v = getenv(name);
    if (v) {
      int rc = apply(&model_keys[i], &c->model_defaults, v, path, NULL, err);
      if (rc)
        return fr_error_prefix(err, "environment %s", name);
    }
  }
  /* Then any variable with a section prefix that matched nothing. */
  for (char **e = environ; e && *e; e++) {
    const char *var = *e;
    const char *eq = strchr(var, '=');
    if (!eq || strncmp(var, "FRAUD_", 6) != 0)
      continue;
    size_t vl = (size_t)(eq - var);
    int in_section = 0;
    for (int s = 0; sections[s]; s++) {
      char pre[64];
      env_name(sections[s], pre, sizeof pre);
      size_t pl = strlen(pre);
      if (vl > pl + 1 && strncmp(var, pre, pl) == 0 && var[pl] == '_')
        in_section = 1;
    }
    if (!in_section)
      continue;
    int known = 0;
    for (size_t i = 0; i < NSERVER_KEYS && !known; i++) {
      char name[128];
      env_name(server_keys[i].path, name, sizeof name);
      known = strlen(name) == vl && strncmp(name, var, vl) == 0;
    }
    for (size_t i = 0; i < NMODEL_KEYS && !known; i++) {
      char path[128], name[160];
      snprintf(path, sizeof path, "model_defaults.%s", model_keys[i].path);
      env_name(path, name, sizeof name);
      known = strlen(name) == vl && strncmp(name, var, vl) == 0;
    }
    /* FRAUD_LOG_LEVEL belongs to the logger, not a section. */
    if (!known)
      return fr_error_set(err, FR_ESCHEMA,
                          "environment %.*s: unknown configuration key (see "
                          "config.example.yaml; per-model keys cannot be set from the "
                          "environment)",
                          (int)vl, var);
  }
  return 0;
}

/* ---- validation ---- */

static int validate_model(const fr_model_config *m, const char *prefix, fr_error *err) {
  const fr_batching_config *b = &m->batching;
  for (size_t i = 0; i < b->npreferred; i++)
    if (b->preferred[i] > b->max_batch_size)
      return fr_error_set(err, FR_ESCHEMA,
                          "%sbatching.preferred_batch_size: %d exceeds max_batch_size %d",
                          prefix, b->preferred[i], b->max_batch_size);
  return 0;
}

/* A listen address as the listener reads it (numeric IPv4 or IPv6, no name
 * lookup: getaddrinfo with AI_NUMERICHOST), checked here so that a bad one
 * is a configuration error naming its key, found before anything starts. */
static int check_listen(const char *key, const char *address, fr_error *err) {
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  int g = getaddrinfo(address, NULL, &hints, &ai);
  if (ai)
    freeaddrinfo(ai);
  if (g != 0)
    return fr_error_set(err, FR_ESCHEMA,
                        "%s: '%s' is not a numeric IPv4 or IPv6 address (such as 0.0.0.0, "
                        "127.0.0.1 or ::)",
                        key, address);
  return 0;
}

int fr_server_config_validate(fr_server_config *c, fr_error *err) {
  c->warm_until_value = NAN;
  if (check_listen("server.listen", c->listen_address, err) ||
      (c->admin_enabled && check_listen("admin.listen", c->admin_listen, err)))
    return FR_ESCHEMA;
  if (c->warm_until && c->warm_until[0] &&
      (fr_parse_double(c->warm_until, strlen(c->warm_until), &c->warm_until_value) ||
       !isfinite(c->warm_until_value)))
    return fr_error_set(err, FR_ESCHEMA,
                        "state.warm_start.until: expected epoch seconds, got '%s'", c->warm_until);
  if (!c->model_repository || !c->model_repository[0])
    return fr_error_set(err, FR_ESCHEMA, "repository.path: a model repository is required");
  if ((c->tls_cert[0] != 0) != (c->tls_key[0] != 0))
    return fr_error_set(err, FR_ESCHEMA, "server.tls: cert and key must be set together");
  if (c->admin_enabled && c->port != 0 && c->admin_port == c->port)
    return fr_error_set(err, FR_ESCHEMA, "admin.port: must differ from server.port (%d)",
                        c->port);
  if (c->log_level[0]) {
    fr_log_level l;
    if (fr_log_level_parse(c->log_level, &l))
      return fr_error_set(err, FR_ESCHEMA,
                          "logging.level: expected debug, info, warn, error or off, got '%s'",
                          c->log_level);
  }
  /* Checked here, not when the first model loads: a bad URL would fail every
   * version, and the store's message would reach each model's readiness
   * answer.  The message quotes the URL redacted (fr_url_redact). */
  if (c->state_backend == FR_STATE_REDIS) {
    fr_error ue = {0};
    if (fr_state_redis_url_check(c->redis_url, &ue))
      return fr_error_set(err, FR_ESCHEMA, "state.redis.url: %s", ue.msg);
  }
  if (c->repository_mode == FR_REPO_POLL && !(c->poll_interval > 0))
    return fr_error_set(err, FR_ESCHEMA, "repository.poll_interval: must be positive in poll mode");
  int rc = validate_model(&c->model_defaults, "model_defaults.", err);
  for (size_t i = 0; !rc && i < c->nmodels; i++) {
    char pre[160];
    fr_model_config eff;
    fr_server_config_model(c, c->models[i].name, &eff);
    snprintf(pre, sizeof pre, "models.%s.", c->models[i].name);
    rc = validate_model(&eff, pre, err);
  }
  return rc;
}

/* ---- dump ---- */

/* Writes url with the password of its user info replaced by "***"
 * (fr_url_redact's rule, the one the redis store's error messages use). */
static void dump_url(fr__buf *b, const char *url) {
  size_t n = fr_url_redact(NULL, 0, url);
  char *t = malloc(n + 1);
  if (!t) {
    fr__buf_puts(b, "\"<redacted>\"");
    return;
  }
  fr_url_redact(t, n + 1, url);
  fr__buf_json_str(b, t, n);
  free(t);
}

static void dump_value(fr__buf *b, const key *k, const void *base) {
  const char *p = (const char *)base + k->off;
  if (k->secret == SECRET_URL) {
    const char *s = *(char *const *)p;
    dump_url(b, s ? s : "");
    return;
  }
  if (k->secret) {
    const char *s = *(char *const *)p;
    fr__buf_puts(b, s && s[0] ? "\"<redacted>\"" : "\"\"");
    return;
  }
  switch (k->type) {
  case K_STR:
  case K_STRLIST: {
    const char *s = *(char *const *)p;
    fr__buf_json_str(b, s ? s : "", s ? strlen(s) : 0); /* JSON strings are YAML */
    break;
  }
  case K_INT:
    fr__buf_printf(b, "%d", *(const int *)p);
    break;
  case K_INT64:
    fr__buf_printf(b, "%lld", (long long)*(const int64_t *)p);
    break;
  case K_UINT:
    fr__buf_printf(b, "%u", *(const unsigned *)p);
    break;
  case K_SIZE:
    fr__buf_printf(b, "%zu", *(const size_t *)p);
    break;
  case K_BOOL:
    fr__buf_puts(b, *(const int *)p ? "true" : "false");
    break;
  case K_DURATION: {
    char t[40];
    fr_fmt_double(t, sizeof t, *(const double *)p);
    fr__buf_printf(b, "%ss", t);
    break;
  }
  case K_DOUBLE:
    fr__buf_json_double(b, *(const double *)p);
    break;
  case K_ENUM:
    fr__buf_puts(b, k->enums[*(const int *)p]);
    break;
  case K_INTLIST: {
    const fr_batching_config *bc =
        (const fr_batching_config *)((const char *)base + offsetof(fr_model_config, batching));
    fr__buf_putc(b, '[');
    for (size_t i = 0; i < bc->npreferred; i++)
      fr__buf_printf(b, "%s%d", i ? ", " : "", bc->preferred[i]);
    fr__buf_putc(b, ']');
    break;
  }
  case K_POLICY: {
    const fr_version_policy *v = (const fr_version_policy *)p;
    if (v->kind == FR_VERSIONS_ALL)
      fr__buf_puts(b, "all");
    else if (v->kind == FR_VERSIONS_LATEST)
      fr__buf_printf(b, "{latest: %d}", v->latest);
    else {
      fr__buf_puts(b, "{specific: [");
      for (size_t i = 0; i < v->nspecific; i++) {
        if (i)
          fr__buf_puts(b, ", ");
        fr__buf_json_str(b, v->specific[i], strlen(v->specific[i]));
      }
      fr__buf_puts(b, "]}");
    }
    break;
  }
  }
}

/* Writes keys of tab under indentation, opening nested maps as the dotted
 * paths require (tables list keys grouped by section). */
static void dump_table(fr__buf *b, const key *tab, size_t n, const char *strip,
                       const void *base, int indent) {
  char open[4][64] = {{0}};
  int depth = 0;
  size_t sl = strlen(strip);
  for (size_t i = 0; i < n; i++) {
    const char *path = tab[i].path;
    if (strncmp(path, strip, sl) != 0)
      continue;
    path += sl;
    /* Split into components. */
    char comps[4][64];
    int nc = 0;
    const char *p = path;
    while (nc < 4) {
      size_t l = strcspn(p, ".");
      snprintf(comps[nc++], 64, "%.*s", (int)l, p);
      if (!p[l])
        break;
      p += l + 1;
    }
    int common = 0;
    while (common < depth && common < nc - 1 && strcmp(open[common], comps[common]) == 0)
      common++;
    depth = common;
    for (int d = common; d < nc - 1; d++) {
      fr__buf_printf(b, "%*s%s:\n", indent + 2 * d, "", comps[d]);
      snprintf(open[d], 64, "%s", comps[d]);
      depth = d + 1;
    }
    fr__buf_printf(b, "%*s%s: ", indent + 2 * (nc - 1), "", comps[nc - 1]);
    dump_value(b, &tab[i], base);
    fr__buf_printf(b, "    # %s\n", tab[i].help);
  }
}

char *fr_server_config_dump(const fr_server_config *c) {
  fr__buf b = {0};
  fr__buf_puts(&b, "# effective configuration of fraud serve\n");
  for (int s = 0; sections[s]; s++) {
    const char *sec = sections[s];
    if (strcmp(sec, "model_defaults") == 0) {
      fr__buf_puts(&b, "model_defaults:\n");
      dump_table(&b, model_keys, NMODEL_KEYS, "", &c->model_defaults, 2);
      continue;
    }
    if (strcmp(sec, "models") == 0) {
      fr__buf_puts(&b, c->nmodels ? "models:\n" : "models: {}\n");
      for (size_t i = 0; i < c->nmodels; i++) {
        fr_model_config eff;
        fr_server_config_model(c, c->models[i].name, &eff);
        fr__buf_printf(&b, "  %s:\n", c->models[i].name);
        dump_table(&b, model_keys, NMODEL_KEYS, "", &eff, 4);
      }
      continue;
    }
    char pre[64];
    snprintf(pre, sizeof pre, "%s.", sec);
    fr__buf_printf(&b, "%s:\n", sec);
    dump_table(&b, server_keys, NSERVER_KEYS, pre, c, 2);
  }
  return fr__buf_take(&b, NULL);
}

/* For the server's SIGHUP handling: key i of the table, its offset and
 * width (or is_str), and whether changing it needs a restart.  Returns -1
 * past the end of the table. */
int fr__config_restart_key(size_t i, const char **path, size_t *off, size_t *width,
                           int *is_str);
int fr__config_restart_key(size_t i, const char **path, size_t *off, size_t *width,
                           int *is_str) {
  if (i >= NSERVER_KEYS)
    return -1;
  const key *k = &server_keys[i];
  *path = k->path;
  *off = k->off;
  *is_str = k->type == K_STR || k->type == K_STRLIST;
  switch (k->type) {
  case K_SIZE:
    *width = sizeof(size_t);
    break;
  case K_DURATION:
  case K_DOUBLE:
    *width = sizeof(double);
    break;
  case K_INT64:
    *width = sizeof(int64_t);
    break;
  case K_UINT:
    *width = sizeof(unsigned);
    break;
  default:
    *width = sizeof(int);
  }
  return k->restart;
}
