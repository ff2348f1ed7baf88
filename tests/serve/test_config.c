/*
 * test_config.c - the server configuration: defaults, YAML, environment and
 * --set precedence, per-model overlays on model_defaults, unknown keys and
 * bad values named with file:line, validation, and --print-config output
 * that reads back to the same configuration.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fr_test.h"
#include "fraud/serve.h"

Test(config, defaults) {
  fr_server_config c;
  fr_server_config_default(&c);
  cr_assert_eq(c.port, 8080);
  cr_assert_eq(c.max_body_bytes, 8u << 20);
  cr_assert_eq(c.shutdown_grace, 30.0);
  cr_assert_str_eq(c.listen_address, "0.0.0.0");
  cr_assert_eq(c.repository_mode, FR_REPO_POLL);
  cr_assert_eq(c.model_defaults.versions.kind, FR_VERSIONS_LATEST);
  cr_assert_eq(c.model_defaults.versions.latest, 1);
  cr_assert_eq(c.model_defaults.batching.enabled, 0);
  fr_error err;
  cr_assert_eq(fr_server_config_validate(&c, &err), 0, "%s", err.msg);
  fr_server_config_close(&c);
  fr_server_config_close(&c); /* twice is harmless */
}

static const char *full_yaml =
    "server:\n"
    "  listen: 127.0.0.1\n"
    "  port: 9000\n"
    "  threads: 2\n"
    "  max_body_bytes: 1MiB\n"
    "  read_timeout: 500ms\n"
    "  shutdown_grace: 1m\n"
    "admin:\n"
    "  port: 9001\n"
    "  token: s3cret\n"
    "repository:\n"
    "  path: /srv/models\n"
    "  mode: explicit\n"
    "  default_model: fraud\n"
    "model_defaults:\n"
    "  version_policy: {latest: 2}\n"
    "  batching:\n"
    "    enabled: true\n"
    "    max_batch_size: 64\n"
    "    preferred_batch_size: [16, 64]\n"
    "    max_queue_delay_microseconds: 200\n"
    "models:\n"
    "  fraud:\n"
    "    version_policy: {specific: [\"3\", \"5\"]}\n"
    "    batching:\n"
    "      max_batch_size: 128\n"
    "scoring:\n"
    "  routing_entity: card\n"
    "state:\n"
    "  max_entities: 1000000\n"
    "  ttl: 7d\n"
    "logging:\n"
    "  access_log: yes\n";

Test(config, load_full) {
  const char *dir = fr_test_tmpdir();
  const char *path = fr_test_write(dir, "config.yaml", full_yaml);
  fr_server_config c;
  fr_server_config_default(&c);
  fr_error err;
  cr_assert_eq(fr_server_config_load(&c, path, &err), 0, "%s", err.msg);
  cr_assert_str_eq(c.listen_address, "127.0.0.1");
  cr_assert_eq(c.port, 9000);
  cr_assert_eq(c.threads, 2);
  cr_assert_eq(c.max_body_bytes, 1024u * 1024u);
  cr_assert_float_eq(c.read_timeout, 0.5, 1e-12);
  cr_assert_eq(c.shutdown_grace, 60.0);
  cr_assert_eq(c.admin_port, 9001);
  cr_assert_str_eq(c.admin_token, "s3cret");
  cr_assert_eq(c.repository_mode, FR_REPO_EXPLICIT);
  cr_assert_str_eq(c.routing_entity, "card");
  cr_assert_eq(c.state.max_entities, 1000000u);
  cr_assert_eq(c.state.ttl_seconds, 7 * 86400.0);
  cr_assert_eq(c.access_log, 1);
  cr_assert_str_eq(c.config_path, path);
  /* Per-model overlay: fraud sets only version_policy and max_batch_size. */
  fr_model_config m;
  fr_server_config_model(&c, "fraud", &m);
  cr_assert_eq(m.versions.kind, FR_VERSIONS_SPECIFIC);
  cr_assert_eq(m.versions.nspecific, 2);
  cr_assert_str_eq(m.versions.specific[1], "5");
  cr_assert_eq(m.batching.max_batch_size, 128);
  cr_assert_eq(m.batching.enabled, 1);
  cr_assert_eq(m.batching.npreferred, 2);
  cr_assert_eq(m.batching.preferred[0], 16);
  cr_assert_eq(m.batching.max_queue_delay_us, 200);
  /* A model without an entry follows the defaults. */
  fr_server_config_model(&c, "other", &m);
  cr_assert_eq(m.versions.latest, 2);
  cr_assert_eq(m.batching.max_batch_size, 64);
  /* Defaults changed later (environment, --set) still reach fraud's unset keys. */
  cr_assert_eq(fr_server_config_set(&c, "model_defaults.batching.enabled", "off", &err), 0);
  fr_server_config_model(&c, "fraud", &m);
  cr_assert_eq(m.batching.enabled, 0);
  cr_assert_eq(m.batching.max_batch_size, 128);
  fr_server_config_close(&c);
}

Test(config, errors_name_key_and_line) {
  static const struct {
    const char *yaml, *msg;
  } cases[] = {
      {"server:\n  prot: 1\n", "config.yaml:2:1: unknown key 'prot' in server (expected one of: listen, port,"},
      {"server:\n  port: 70000\n", "config.yaml:2:9: server.port: expected an integer from 0 to 65535, got '70000'"},
      {"server:\n  port: abc\n", "server.port: expected an integer"},
      {"servers:\n  port: 1\n", "config.yaml:1:1: unknown key 'servers'"},
      {"server:\n  read_timeout: 5 parsecs\n", "server.read_timeout: expected a duration"},
      {"admin:\n  token: [1]\n", "admin.token: expected"},
      {"repository:\n  mode: sometimes\n", "repository.mode: expected one of poll, explicit, none, got 'sometimes'"},
      {"model_defaults:\n  batching:\n    enabled: maybe\n", "model_defaults.batching.enabled: expected true or false"},
      {"model_defaults:\n  batching:\n    preferred_batch_size: [64, 16]\n", "preferred_batch_size: expected increasing"},
      {"models:\n  fraud:\n    batching:\n      max_batch: 3\n", "unknown key 'max_batch' in models.fraud.batching"},
      {"models:\n  fraud:\n    version_policy: {newest: 2}\n", "models.fraud.version_policy: expected latest"},
      {"models:\n  ../x:\n    version_policy: all\n", "invalid model name"},
      {"server: 3\n", "server: expected a map"},
  };
  const char *dir = fr_test_tmpdir();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *path = fr_test_write(dir, "config.yaml", cases[i].yaml);
    fr_server_config c;
    fr_server_config_default(&c);
    fr_error err = {0};
    cr_assert_lt(fr_server_config_load(&c, path, &err), 0, "case %zu accepted", i);
    cr_assert_not_null(strstr(err.msg, cases[i].msg), "case %zu: '%s' lacks '%s'", i, err.msg,
                       cases[i].msg);
    fr_server_config_close(&c);
  }
}

Test(config, set_and_env) {
  fr_server_config c;
  fr_server_config_default(&c);
  fr_error err;
  cr_assert_eq(fr_server_config_set(&c, "server.port", "0", &err), 0);
  cr_assert_eq(c.port, 0);
  cr_assert_eq(fr_server_config_set(&c, "models.m1.version_policy", "latest:3", &err), 0);
  cr_assert_eq(fr_server_config_set(&c, "models.m1.batching.preferred_batch_size", "8,32", &err), 0);
  fr_model_config m;
  fr_server_config_model(&c, "m1", &m);
  cr_assert_eq(m.versions.latest, 3);
  cr_assert_eq(m.batching.npreferred, 2);
  cr_assert_lt(fr_server_config_set(&c, "server.nope", "1", &err), 0);
  cr_assert_str_eq(err.msg, "unknown configuration key 'server.nope'");
  cr_assert_lt(fr_server_config_set(&c, "admin.token", "", &err), 1);

  setenv("FRAUD_SERVER_THREADS", "3", 1);
  setenv("FRAUD_MODEL_DEFAULTS_BATCHING_MAX_BATCH_SIZE", "32", 1);
  cr_assert_eq(fr_server_config_apply_env(&c, &err), 0, "%s", err.msg);
  cr_assert_eq(c.threads, 3);
  cr_assert_eq(c.model_defaults.batching.max_batch_size, 32);
  setenv("FRAUD_SERVER_THREADZ", "3", 1);
  cr_assert_lt(fr_server_config_apply_env(&c, &err), 0);
  cr_assert_not_null(strstr(err.msg, "FRAUD_SERVER_THREADZ: unknown configuration key"), "%s",
                     err.msg);
  unsetenv("FRAUD_SERVER_THREADZ");
  setenv("FRAUD_SERVER_THREADS", "many", 1);
  cr_assert_lt(fr_server_config_apply_env(&c, &err), 0);
  cr_assert_not_null(strstr(err.msg, "environment FRAUD_SERVER_THREADS: server.threads"), "%s",
                     err.msg);
  unsetenv("FRAUD_SERVER_THREADS");
  unsetenv("FRAUD_MODEL_DEFAULTS_BATCHING_MAX_BATCH_SIZE");
  fr_server_config_close(&c);
}

Test(config, validate) {
  fr_server_config c;
  fr_server_config_default(&c);
  fr_error err;
  fr_server_config_set(&c, "server.tls.cert", "/x.pem", &err);
  cr_assert_lt(fr_server_config_validate(&c, &err), 0);
  cr_assert_str_eq(err.msg, "server.tls: cert and key must be set together");
  fr_server_config_set(&c, "server.tls.cert", "", &err);
  fr_server_config_set(&c, "models.fraud.batching.max_batch_size", "8", &err);
  fr_server_config_set(&c, "models.fraud.batching.preferred_batch_size", "16", &err);
  cr_assert_lt(fr_server_config_validate(&c, &err), 0);
  cr_assert_str_eq(err.msg,
                   "models.fraud.batching.preferred_batch_size: 16 exceeds max_batch_size 8");
  fr_server_config_close(&c);
}

/* The dump reads back to an identical dump (every key survives), and
 * secrets never appear in it. */
Test(config, dump_round_trip) {
  const char *dir = fr_test_tmpdir();
  const char *path = fr_test_write(dir, "config.yaml", full_yaml);
  fr_server_config c;
  fr_server_config_default(&c);
  fr_error err;
  cr_assert_eq(fr_server_config_load(&c, path, &err), 0, "%s", err.msg);
  char *d1 = fr_server_config_dump(&c);
  cr_assert_null(strstr(d1, "s3cret"));
  cr_assert_not_null(strstr(d1, "  port: 9000"), "%s", d1);
  const char *p2 = fr_test_write(dir, "dump.yaml", d1);
  fr_server_config c2;
  fr_server_config_default(&c2);
  cr_assert_eq(fr_server_config_load(&c2, p2, &err), 0, "%s\n%s", err.msg, d1);
  char *d2 = fr_server_config_dump(&c2);
  cr_assert_str_eq(d1, d2);
  free(d1);
  free(d2);
  fr_server_config_close(&c);
  fr_server_config_close(&c2);
}

/* The password of state.redis.url's user info is redacted in the dump
 * (docs/server.md: secrets are redacted), the rest of the URL is kept. */
Test(config, dump_redacts_redis_password) {
  static const struct {
    const char *url, *shown;
  } cases[] = {
      {"redis://:pw123@h:1/0", "url: \"redis://:***@h:1/0\""},
      {"redis://bob:pw123@h:1/0", "url: \"redis://bob:***@h:1/0\""},
      {"redis://pw123@h:1/0", "url: \"redis://***@h:1/0\""}, /* read as the password */
      {"redis://:p/w@pw123@h", "url: \"redis://:***@h\""},   /* the last '@' ends it */
      {"redis://h:1/0", "url: \"redis://h:1/0\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fr_server_config c;
    fr_server_config_default(&c);
    fr_error err;
    cr_assert_eq(fr_server_config_set(&c, "state.redis.url", cases[i].url, &err), 0, "%s",
                 err.msg);
    char *d = fr_server_config_dump(&c);
    cr_assert_null(strstr(d, "pw123"), "%s", d);
    cr_assert_not_null(strstr(d, cases[i].shown), "%s: %s", cases[i].url, d);
    free(d);
    fr_server_config_close(&c);
  }
}

/* Review finding: a malformed state.redis.url passed validation, so every
 * model version failed to load with the redis store's message quoting the
 * whole URL, password included, in the log and in the unauthenticated
 * readiness answer.  It is a configuration error now, named by its key,
 * the password redacted as --print-config shows it. */
Test(config, validate_rejects_bad_redis_url_redacted) {
  static const char *const bad[] = {
      "redis://:topsecret@127.0.0.1:1/0?x", /* trailing bytes after the db */
      "redis://:topsecret@127.0.0.1:0",     /* port 0 */
      "redis://:topsecret@:6379",           /* no host */
      "http://u:topsecret@h:1",             /* not redis:// or unix:// */
  };
  static const char *const shown[] = {
      "'redis://:***@127.0.0.1:1/0?x'",
      "'redis://:***@127.0.0.1:0'",
      "'redis://:***@:6379'",
      "'http://u:***@h:1'",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fr_server_config c;
    fr_server_config_default(&c);
    fr_error err = {0};
    cr_assert_eq(fr_server_config_set(&c, "state.backend", "redis", &err), 0, "%s", err.msg);
    cr_assert_eq(fr_server_config_set(&c, "state.redis.url", bad[i], &err), 0, "%s", err.msg);
    cr_assert_eq(fr_server_config_validate(&c, &err), FR_ESCHEMA, "%s", bad[i]);
    cr_assert_eq(strncmp(err.msg, "state.redis.url: ", 17), 0, "%s", err.msg);
    cr_assert_null(strstr(err.msg, "topsecret"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, shown[i]), "%s", err.msg);
    fr_server_config_close(&c);
  }
  /* Good URLs pass; the memory backend does not read the URL. */
  static const char *const good[] = {"redis://:pw@127.0.0.1:6379/2", "redis://h",
                                     "unix:///run/redis.sock"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    fr_server_config c;
    fr_server_config_default(&c);
    fr_error err = {0};
    fr_server_config_set(&c, "state.backend", "redis", &err);
    fr_server_config_set(&c, "state.redis.url", good[i], &err);
    cr_assert_eq(fr_server_config_validate(&c, &err), 0, "%s: %s", good[i], err.msg);
    fr_server_config_close(&c);
  }
}

/* state.max_future_skew: one day by default, a duration, 0 turns it off. */
Test(config, max_future_skew) {
  fr_server_config c;
  fr_server_config_default(&c);
  cr_assert_eq(c.max_future_skew, 86400.0);
  fr_error err;
  cr_assert_eq(fr_server_config_set(&c, "state.max_future_skew", "2h", &err), 0, "%s", err.msg);
  cr_assert_eq(c.max_future_skew, 7200.0);
  cr_assert_eq(fr_server_config_set(&c, "state.max_future_skew", "0", &err), 0, "%s", err.msg);
  cr_assert_eq(c.max_future_skew, 0.0);
  cr_assert_lt(fr_server_config_set(&c, "state.max_future_skew", "soon", &err), 0);
  cr_assert_not_null(strstr(err.msg, "state.max_future_skew"), "%s", err.msg);
  fr_server_config_close(&c);
}

/* A listen address that is not a numeric IPv4 or IPv6 address is a
 * configuration error naming its key (FR_ESCHEMA: `fraud serve` exits 2),
 * found by validation rather than when the listener starts. */
Test(config, listen_address_named) {
  static const struct {
    const char *key, *value;
    int ok;
  } cases[] = {
      {"server.listen", "999.1.1.1", 0}, {"server.listen", "localhost", 0},
      {"admin.listen", "1.2.3.4.5", 0},  {"server.listen", "127.0.0.1", 1},
      {"server.listen", "::", 1},        {"admin.listen", "::1", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fr_server_config c;
    fr_server_config_default(&c);
    fr_error err;
    cr_assert_eq(fr_server_config_set(&c, cases[i].key, cases[i].value, &err), 0, "%s", err.msg);
    int rc = fr_server_config_validate(&c, &err);
    if (cases[i].ok) {
      cr_assert_eq(rc, 0, "%s=%s: %s", cases[i].key, cases[i].value, err.msg);
    } else {
      cr_assert_eq(rc, FR_ESCHEMA, "%s=%s", cases[i].key, cases[i].value);
      char want[128];
      snprintf(want, sizeof want, "%s: '%s' is not a numeric IPv4 or IPv6 address", cases[i].key,
               cases[i].value);
      cr_assert_not_null(strstr(err.msg, want), "%s", err.msg);
    }
    fr_server_config_close(&c);
  }
}

/* An empty file, or one holding only comments or a bare document marker,
 * is a bad file (docs/server.md: most likely truncated by an editor or a
 * half-done copy), refused with the file's name; the configuration it was
 * read over is untouched.  `{}` is a file that sets nothing: the built-in
 * defaults, accepted, and it records the file for later reloads. */
Test(config, empty_file_refused) {
  static const char *const empty[] = {"", "\n\n", "# only a comment\n", "---\n",
                                      "# a\n---\n# b\n"};
  const char *dir = fr_test_tmpdir();
  for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
    const char *path = fr_test_write(dir, "config.yaml", empty[i]);
    fr_server_config c;
    fr_server_config_default(&c);
    c.port = 9001;
    fr_error err = {0};
    cr_assert_lt(fr_server_config_load(&c, path, &err), 0, "case %zu accepted", i);
    cr_assert_not_null(strstr(err.msg, path), "case %zu: '%s' does not name the file", i,
                       err.msg);
    cr_assert_not_null(strstr(err.msg, "empty"), "case %zu: '%s'", i, err.msg);
    cr_assert_eq(c.port, 9001, "case %zu changed the configuration", i);
    fr_server_config_close(&c);
  }
  const char *path = fr_test_write(dir, "config.yaml", "{}\n");
  fr_server_config c;
  fr_server_config_default(&c);
  fr_error err = {0};
  cr_assert_eq(fr_server_config_load(&c, path, &err), 0, "%s", err.msg);
  cr_assert_eq(c.port, 8080);
  cr_assert_str_eq(c.config_path, path);
  fr_server_config_close(&c);
}
