/*
 * cmd_serve.c - `fraud serve`: the scoring server.  Thin over fr_server_*:
 * builds the configuration (defaults < --config file < FRAUD_* environment <
 * flags), starts the server, then waits for signals: SIGTERM/SIGINT drain
 * and exit, SIGHUP reloads the configuration.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fraud/serve.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: fraud serve --model-repository DIR [options]\n"
          "\n"
          "Serves the models of a repository (DIR/<name>/<version>/ bundles) over\n"
          "HTTP: KServe V2 / Open Inference Protocol (/v2/...), raw-transaction\n"
          "scoring with online features (POST /v1/score), health probes and\n"
          "Prometheus metrics (/metrics); the admin API (repository load/unload,\n"
          "promote, rollback, canary, shadow) listens on its own port.\n"
          "docs/server.md and docs/api.md describe it; config.example.yaml lists\n"
          "every configuration key.\n"
          "\n"
          "options (each is a shorthand for --set KEY=VALUE):\n"
          "  --model-repository DIR    repository.path\n"
          "  --config FILE             read a config.yaml first\n"
          "  --listen ADDR             server.listen (numeric IPv4/IPv6)\n"
          "  --port N                  server.port (0: any free port; the bound port\n"
          "                            is logged in the \"listening\" line)\n"
          "  --threads N               server.threads (HTTP workers, 0 = cores)\n"
          "  --admin-listen ADDR       admin.listen\n"
          "  --admin-port N            admin.port (0: any free port)\n"
          "  --no-admin                admin.enabled=false\n"
          "  --batching on|off         model_defaults.batching.enabled\n"
          "  --max-batch-size N        model_defaults.batching.max_batch_size\n"
          "  --preferred-batch-size L  model_defaults.batching.preferred_batch_size\n"
          "  --max-queue-delay-us N    model_defaults.batching.max_queue_delay_microseconds\n"
          "  --repository-mode M       repository.mode (poll, explicit, none)\n"
          "  --poll-interval DUR       repository.poll_interval\n"
          "  --default-model NAME      repository.default_model\n"
          "  --warm-state CSV          state.warm_start.data (replay history into state)\n"
          "  --warm-until T            state.warm_start.until (epoch seconds)\n"
          "  --log-level L             logging.level\n"
          "  --access-log              logging.access_log=true\n"
          "  --set KEY=VALUE           any configuration key (repeatable)\n"
          "  --print-config            print the effective configuration and exit\n"
          "\n"
          "environment: FRAUD_<SECTION>_<KEY> sets a key (FRAUD_SERVER_PORT=9000);\n"
          "FRAUD_ADMIN_TOKEN is the usual way to give the admin token.\n"
          "signals: SIGTERM/SIGINT stop accepting, finish in-flight requests (up to\n"
          "server.shutdown_grace) and exit 0; SIGHUP reloads the configuration.\n");
}

static const struct {
  const char *flag;
  const char *key;
  int takes_value; /* 0: flag sets `value` */
  const char *value;
} shorthands[] = {
    {"--model-repository", "repository.path", 1, NULL},
    {"--listen", "server.listen", 1, NULL},
    {"--port", "server.port", 1, NULL},
    {"--threads", "server.threads", 1, NULL},
    {"--admin-listen", "admin.listen", 1, NULL},
    {"--admin-port", "admin.port", 1, NULL},
    {"--no-admin", "admin.enabled", 0, "false"},
    {"--batching", "model_defaults.batching.enabled", 1, NULL},
    {"--max-batch-size", "model_defaults.batching.max_batch_size", 1, NULL},
    {"--preferred-batch-size", "model_defaults.batching.preferred_batch_size", 1, NULL},
    {"--max-queue-delay-us", "model_defaults.batching.max_queue_delay_microseconds", 1, NULL},
    {"--repository-mode", "repository.mode", 1, NULL},
    {"--poll-interval", "repository.poll_interval", 1, NULL},
    {"--default-model", "repository.default_model", 1, NULL},
    {"--warm-state", "state.warm_start.data", 1, NULL},
    {"--warm-until", "state.warm_start.until", 1, NULL},
    {"--log-level", "logging.level", 1, NULL},
    {"--access-log", "logging.access_log", 0, "true"},
};

int fr_cmd_serve(int argc, char **argv) {
  if (fr_cli_wants_help(argc, argv)) {
    usage(stdout);
    return FR_EXIT_OK;
  }
  const char *config = NULL;
  int print = 0;
  size_t nov = 0;
  char **ov = calloc((size_t)argc + 1, sizeof *ov); /* "key=value" */
  int ret = FR_EXIT_USAGE;
  fr_server_config c;
  fr_server_config_default(&c);
  fr_server *s = NULL;
  if (!ov)
    goto out;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--config") == 0 || strcmp(a, "--set") == 0) {
      if (i + 1 >= argc) {
        ret = fr_cli_usage_error("serve", "%s needs a value", a);
        goto out;
      }
      if (a[2] == 'c') {
        config = argv[++i];
      } else {
        if (!strchr(argv[i + 1], '=')) {
          ret = fr_cli_usage_error("serve", "--set takes KEY=VALUE, not '%s'", argv[i + 1]);
          goto out;
        }
        ov[nov++] = strdup(argv[++i]);
      }
      continue;
    }
    if (strcmp(a, "--print-config") == 0) {
      print = 1;
      continue;
    }
    size_t k = 0, nsh = sizeof shorthands / sizeof shorthands[0];
    while (k < nsh && strcmp(a, shorthands[k].flag) != 0)
      k++;
    if (k == nsh) {
      ret = fr_cli_usage_error("serve", "unknown option '%s'", a);
      goto out;
    }
    const char *v = shorthands[k].value;
    if (shorthands[k].takes_value) {
      if (i + 1 >= argc) {
        ret = fr_cli_usage_error("serve", "%s needs a value", a);
        goto out;
      }
      v = argv[++i];
    }
    size_t len = strlen(shorthands[k].key) + strlen(v) + 2;
    ov[nov] = malloc(len);
    if (!ov[nov])
      goto out;
    snprintf(ov[nov++], len, "%s=%s", shorthands[k].key, v);
  }
  fr_error err;
  if (config && fr_server_config_load(&c, config, &err)) {
    ret = fr_cli_usage_error("serve", "%s", err.msg);
    goto out;
  }
  if (fr_server_config_apply_env(&c, &err)) {
    ret = fr_cli_usage_error("serve", "%s", err.msg);
    goto out;
  }
  size_t olen = 0;
  for (size_t i = 0; i < nov; i++) {
    char key[256];
    const char *eq = strchr(ov[i], '=');
    snprintf(key, sizeof key, "%.*s", (int)(eq - ov[i]), ov[i]);
    if (fr_server_config_set(&c, key, eq + 1, &err)) {
      ret = fr_cli_usage_error("serve", "%s", err.msg);
      goto out;
    }
    olen += strlen(ov[i]) + 1;
  }
  /* Keep the overrides so that SIGHUP re-applies them over the file. */
  c.overrides = calloc(olen + 1, 1);
  for (size_t i = 0; c.overrides && i < nov; i++) {
    strcat(c.overrides, ov[i]);
    strcat(c.overrides, "\n");
  }
  if (fr_server_config_validate(&c, &err)) {
    ret = fr_cli_usage_error("serve", "%s", err.msg);
    goto out;
  }
  if (print) {
    char *d = fr_server_config_dump(&c);
    if (!d) {
      ret = FR_EXIT_FAIL;
      goto out;
    }
    fputs(d, stdout);
    free(d);
    ret = FR_EXIT_OK;
    goto out;
  }
  /* Signals are handled by this thread with sigwait: block them before any
   * server thread starts so that every thread inherits the mask. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  s = fr_server_start(&c, &err);
  if (!s) {
    ret = err.code == FR_ESCHEMA ? fr_cli_usage_error("serve", "%s", err.msg)
                                 : fr_cli_fail("serve", &err);
    goto out;
  }
  /* Signals are taken with a timeout so that, until the initial load has
   * finished, a configuration error it meets (an unreadable warm-start
   * history) ends the process with exit 1 instead of leaving a server that
   * never becomes ready. */
  int startup_checked = 0;
  for (;;) {
    if (!startup_checked) {
      int loaded = fr_server_loaded(s);
      if (fr_server_startup_error(s, &err)) {
        fr_log(FR_LOG_ERROR, "startup_failed", NULL, "%s", err.msg);
        fr_server_shutdown(s, 0);
        fr_server_stop(s);
        s = NULL;
        ret = fr_cli_fail("serve", &err);
        goto out;
      }
      startup_checked = loaded;
    }
    struct timespec tick = {0, 100 * 1000 * 1000};
    int sig = startup_checked ? 0 : sigtimedwait(&set, NULL, &tick);
    if (startup_checked && sigwait(&set, &sig) != 0)
      continue;
    if (sig <= 0)
      continue;
    if (sig == SIGHUP) {
      if (fr_server_reload(s, NULL, &err))
        fr_log(FR_LOG_ERROR, "reload_failed", NULL,
               "configuration reload failed, previous configuration kept: %s", err.msg);
      continue;
    }
    fr_log(FR_LOG_INFO, "signal", NULL, "%s received: shutting down",
           sig == SIGTERM ? "SIGTERM" : "SIGINT");
    fr_server_shutdown(s, -1);
    break;
  }
  fr_server_stop(s);
  s = NULL;
  fr_log(FR_LOG_INFO, "stopped", NULL, "server stopped");
  ret = FR_EXIT_OK;
out:
  for (size_t i = 0; ov && i < nov; i++)
    free(ov[i]);
  free(ov);
  fr_server_config_close(&c);
  return ret;
}
