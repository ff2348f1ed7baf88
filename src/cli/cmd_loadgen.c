/*
 * cmd_loadgen.c - `fraud loadgen`: drive a scoring server (or any HTTP
 * endpoint) with a closed or open loop of requests and report throughput,
 * errors and the latency distribution.  Thin over fraud/loadgen.h; this file
 * only turns options into a configuration and a body set.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fraud/data.h"
#include "fraud/loadgen.h"

static const char usage[] =
    "usage: fraud loadgen --endpoint URL [--requests N | --duration S] [options]\n"
    "\n"
    "Sends HTTP/1.1 requests over keep-alive connections and reports throughput,\n"
    "errors by status and by kind, and latency min/p50/p90/p99/p99.9/max from a\n"
    "high-dynamic-range histogram.\n"
    "\n"
    "what to send (at most one; none: GET the endpoint):\n"
    "  --body FILE          POST the file as the body of every request\n"
    "  --body-lines FILE    POST each non-empty line of FILE in turn (JSON lines)\n"
    "  --csv DATA           one /v1/score body per transaction of a CSV sample\n"
    "                       (.csv or .csv.gz): the schema's columns, label left\n"
    "                       out, each value the cell's text as a JSON string;\n"
    "                       the path defaults to /v1/score\n"
    "    --schema SCHEMA    shipped schema name (ulb, paysim...) or YAML file\n"
    "    --rows N           only the first N transactions\n"
    "  --v2-batch N         KServe V2 infer requests with an FP32 tensor of N rows;\n"
    "                       needs --model; the path defaults to /v2/models/M/infer\n"
    "    --model M          the model to infer with\n"
    "    --features CSV     rows from a feature matrix CSV, e.g. the output of\n"
    "                       `fraud features --model DIR` (its transaction_id and\n"
    "                       label columns are dropped; empty cell = missing);\n"
    "                       default: random uniform [0, 1) values\n"
    "    --nfeatures F      feature count (default: asked from /v2/models/M)\n"
    "    --input-name NAME  input tensor name (default: asked from the server)\n"
    "    --v2-bodies K      distinct batches to cycle through (default 64 random\n"
    "                       ones; with --features, enough to use every row once,\n"
    "                       at most 4096)\n"
    "    --v2-binary        use the binary tensor data extension\n"
    "    --seed S           seed of the random features (default 1)\n"
    "\n"
    "how much:\n"
    "  --requests N         stop issuing after N requests\n"
    "  --duration S         stop issuing after S (\"30s\", \"2m\", at most 30d; default\n"
    "                       10s when --requests is not given)\n"
    "  --warmup S           leave the first S out of every figure\n"
    "\n"
    "how:\n"
    "  -c, --concurrency C  connections (default 16)\n"
    "  -t, --threads T      event-loop threads (default: CPUs, at most C)\n"
    "  --rate R             open loop: R requests/s in total, latency measured\n"
    "                       from each request's due time (wrk2's correction for\n"
    "                       coordinated omission); default: closed loop\n"
    "  --timeout S          per request, connect included (default 10s)\n"
    "  --header 'K: V'      extra request header (repeatable)\n"
    "  --method M           HTTP method (default POST with a body, else GET)\n"
    "  --content-type T     default application/json\n"
    "\n"
    "output:\n"
    "  --json               one JSON object on stdout instead of text\n"
    "  --interval S         also report each S-long interval (p99 per minute...)\n"
    "  --write-bodies FILE  write the bodies, one per line, to FILE and send\n"
    "                       nothing (to give another client the same requests)\n"
    "\n"
    "The endpoint must be an http:// URL.  Ctrl-C ends the run early and still\n"
    "reports.  Exit status: 0 when at least one request got a 2xx answer, 1 when\n"
    "none did or the run could not start, 2 for a usage error.  docs/loadgen.md\n"
    "has the details and the JSON members.\n";

static atomic_int stop_flag;

static void on_signal(int sig) {
  (void)sig;
  atomic_store(&stop_flag, 1);
}

static int parse_seconds(const char *s, double *out) {
  if (fr_parse_duration(s, out) == 0)
    return 0;
  return fr_parse_double(s, strlen(s), out) == 0 && *out >= 0 ? 0 : FR_EPARSE;
}

static int parse_count(const char *s, uint64_t max, uint64_t *out) {
  int64_t v;
  if (fr_parse_int64(s, strlen(s), &v) != 0 || v < 1 || (uint64_t)v > max)
    return FR_EPARSE;
  *out = (uint64_t)v;
  return 0;
}

enum {
  OPT_ENDPOINT = 256, OPT_REQUESTS, OPT_DURATION, OPT_WARMUP, OPT_RATE, OPT_TIMEOUT,
  OPT_HEADER, OPT_METHOD, OPT_CTYPE, OPT_JSON, OPT_INTERVAL, OPT_BODY, OPT_BODY_LINES,
  OPT_V2_BATCH, OPT_MODEL, OPT_NFEATURES, OPT_INPUT_NAME, OPT_V2_BODIES, OPT_V2_BINARY,
  OPT_SEED, OPT_WRITE_BODIES, OPT_CSV, OPT_SCHEMA, OPT_ROWS, OPT_FEATURES
};

/* Writes each body on its own line (JSON lines).  Bodies with a newline or
 * a NUL (V2 binary tensors) cannot be written so. */
static int write_bodies(const fr_loadgen_bodies *b, const char *path, fr_error *err) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return fr_error_set(err, FR_EIO, "%s: cannot create: %s", path, strerror(errno));
  for (size_t i = 0; i < fr_loadgen_bodies_count(b); i++) {
    size_t len;
    const char *body = fr_loadgen_bodies_get(b, i, &len);
    if (memchr(body, '\n', len) || memchr(body, '\0', len)) {
      fclose(f);
      remove(path);
      return fr_error_set(err, FR_EINVAL,
                          "%s: body %zu has a newline or binary data; it cannot be one line",
                          path, i + 1);
    }
    fwrite(body, 1, len, f);
    fputc('\n', f);
  }
  if (fclose(f) != 0)
    return fr_error_set(err, FR_EIO, "%s: write failed: %s", path, strerror(errno));
  return 0;
}

/* When the endpoint names no path ("http://host:port" or ".../"), points it
 * at `path` (the API the bodies are for).  Returns -1 on ENOMEM. */
static int default_path(fr_loadgen_config *cfg, char **buf, const char *path) {
  const char *p = strstr(cfg->url, "://");
  p = p ? strchr(p + 3, '/') : NULL;
  if (p && strcmp(p, "/") != 0)
    return 0;
  size_t host_len = p ? (size_t)(p - cfg->url) : strlen(cfg->url);
  size_t n = host_len + strlen(path) + 1;
  char *u = malloc(n);
  if (!u)
    return -1;
  snprintf(u, n, "%.*s%s", (int)host_len, cfg->url, path);
  free(*buf);
  *buf = u;
  cfg->url = u;
  return 0;
}

int fr_cmd_loadgen(int argc, char **argv) {
  const char *cmd = "loadgen";
  if (fr_cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return FR_EXIT_OK;
  }
  static const struct option opts[] = {
      {"endpoint", required_argument, NULL, OPT_ENDPOINT},
      {"requests", required_argument, NULL, OPT_REQUESTS},
      {"duration", required_argument, NULL, OPT_DURATION},
      {"warmup", required_argument, NULL, OPT_WARMUP},
      {"concurrency", required_argument, NULL, 'c'},
      {"threads", required_argument, NULL, 't'},
      {"rate", required_argument, NULL, OPT_RATE},
      {"timeout", required_argument, NULL, OPT_TIMEOUT},
      {"header", required_argument, NULL, OPT_HEADER},
      {"method", required_argument, NULL, OPT_METHOD},
      {"content-type", required_argument, NULL, OPT_CTYPE},
      {"json", no_argument, NULL, OPT_JSON},
      {"interval", required_argument, NULL, OPT_INTERVAL},
      {"body", required_argument, NULL, OPT_BODY},
      {"body-lines", required_argument, NULL, OPT_BODY_LINES},
      {"v2-batch", required_argument, NULL, OPT_V2_BATCH},
      {"model", required_argument, NULL, OPT_MODEL},
      {"nfeatures", required_argument, NULL, OPT_NFEATURES},
      {"input-name", required_argument, NULL, OPT_INPUT_NAME},
      {"v2-bodies", required_argument, NULL, OPT_V2_BODIES},
      {"v2-binary", no_argument, NULL, OPT_V2_BINARY},
      {"seed", required_argument, NULL, OPT_SEED},
      {"write-bodies", required_argument, NULL, OPT_WRITE_BODIES},
      {"csv", required_argument, NULL, OPT_CSV},
      {"schema", required_argument, NULL, OPT_SCHEMA},
      {"rows", required_argument, NULL, OPT_ROWS},
      {"features", required_argument, NULL, OPT_FEATURES},
      {NULL, 0, NULL, 0}};

  fr_loadgen_config cfg;
  fr_loadgen_config_default(&cfg);
  cfg.duration = 0;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int threads_set = 0, json = 0, nsources = 0, v2_binary = 0;
  const char *body_file = NULL, *lines_file = NULL, *model = NULL, *input_name = NULL;
  const char *write_path = NULL, *csv_path = NULL, *schema_name = NULL;
  uint64_t csv_rows = 0;
  const char *features_path = NULL;
  int v2_bodies_set = 0;
  uint64_t v2_batch = 0, nfeatures = 0, v2_bodies = 64, seed = 1, u = 0;
  const char **headers = calloc((size_t)argc + 1, sizeof *headers);
  if (!headers)
    return fr_cli_fail(cmd, NULL);
  int rc = FR_EXIT_OK;

#define USAGE(...)                                 \
  do {                                             \
    rc = fr_cli_usage_error(cmd, __VA_ARGS__);     \
    goto out;                                      \
  } while (0)

  optind = 1;
  opterr = 0;
  int ch;
  while ((ch = getopt_long(argc, argv, ":c:t:", opts, NULL)) != -1) {
    switch (ch) {
    case OPT_ENDPOINT: cfg.url = optarg; break;
    case OPT_REQUESTS:
      if (parse_count(optarg, UINT64_MAX >> 1, &cfg.requests))
        USAGE("--requests: expected a count >= 1, got '%s'", optarg);
      break;
    case OPT_DURATION:
      /* 30 days: the library's bound (fr_loadgen_run). */
      if (parse_seconds(optarg, &cfg.duration) || !(cfg.duration > 0) ||
          cfg.duration > 30 * 86400.0)
        USAGE("--duration: expected a duration such as 30s or 2m (at most 30d), got '%s'",
              optarg);
      break;
    case OPT_WARMUP:
      if (parse_seconds(optarg, &cfg.warmup) || cfg.warmup > 30 * 86400.0)
        USAGE("--warmup: expected a duration such as 5s (at most 30d), got '%s'", optarg);
      break;
    case 'c':
      if (parse_count(optarg, 100000, &u))
        USAGE("--concurrency: expected 1..100000 connections, got '%s'", optarg);
      cfg.connections = (int)u;
      break;
    case 't':
      if (parse_count(optarg, 256, &u))
        USAGE("--threads: expected 1..256, got '%s'", optarg);
      cfg.threads = (int)u;
      threads_set = 1;
      break;
    case OPT_RATE:
      if (fr_parse_double(optarg, strlen(optarg), &cfg.rate) || !(cfg.rate > 0) ||
          cfg.rate > 1e8)
        USAGE("--rate: expected requests per second > 0, got '%s'", optarg);
      break;
    case OPT_TIMEOUT:
      if (parse_seconds(optarg, &cfg.timeout) || !(cfg.timeout > 0) || cfg.timeout > 3600)
        USAGE("--timeout: expected a duration such as 2s (at most 1h), got '%s'", optarg);
      break;
    case OPT_HEADER:
      if (!strchr(optarg, ':'))
        USAGE("--header: expected 'Name: value', got '%s'", optarg);
      headers[cfg.nheaders++] = optarg;
      break;
    case OPT_METHOD: cfg.method = optarg; break;
    case OPT_CTYPE: cfg.content_type = optarg; break;
    case OPT_JSON: json = 1; break;
    case OPT_INTERVAL:
      if (parse_seconds(optarg, &cfg.interval) || !(cfg.interval >= 0.01))
        USAGE("--interval: expected a duration of at least 10ms, got '%s'", optarg);
      break;
    case OPT_BODY: body_file = optarg; nsources++; break;
    case OPT_BODY_LINES: lines_file = optarg; nsources++; break;
    case OPT_V2_BATCH:
      if (parse_count(optarg, 1u << 20, &v2_batch))
        USAGE("--v2-batch: expected rows per request >= 1, got '%s'", optarg);
      nsources++;
      break;
    case OPT_MODEL: model = optarg; break;
    case OPT_NFEATURES:
      if (parse_count(optarg, 1000000, &nfeatures))
        USAGE("--nfeatures: expected a count >= 1, got '%s'", optarg);
      break;
    case OPT_INPUT_NAME: input_name = optarg; break;
    case OPT_V2_BODIES:
      if (parse_count(optarg, 100000, &v2_bodies))
        USAGE("--v2-bodies: expected 1..100000, got '%s'", optarg);
      v2_bodies_set = 1;
      break;
    case OPT_V2_BINARY: v2_binary = 1; break;
    case OPT_WRITE_BODIES: write_path = optarg; break;
    case OPT_CSV: csv_path = optarg; nsources++; break;
    case OPT_FEATURES: features_path = optarg; break;
    case OPT_SCHEMA: schema_name = optarg; break;
    case OPT_ROWS:
      if (parse_count(optarg, UINT64_MAX >> 1, &csv_rows))
        USAGE("--rows: expected a count >= 1, got '%s'", optarg);
      break;
    case OPT_SEED:
      if (parse_count(optarg, UINT64_MAX >> 1, &seed))
        USAGE("--seed: expected a positive integer, got '%s'", optarg);
      break;
    case ':': USAGE("option '%s' needs a value", argv[optind - 1]);
    default: USAGE("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    USAGE("unexpected argument '%s'", argv[optind]);
  if (!cfg.url && !write_path)
    USAGE("--endpoint URL is required (e.g. http://127.0.0.1:8080/v1/score)");
  if (write_path && v2_binary)
    USAGE("--write-bodies cannot write --v2-binary bodies (they are not lines of text)");
  if (write_path && nsources == 0)
    USAGE("--write-bodies needs bodies (--body-lines, --v2-batch...)");
  if (write_path && v2_batch && !cfg.url && (!(nfeatures || features_path) || !input_name))
    USAGE("--write-bodies with --v2-batch needs --input-name and --nfeatures (or "
          "--features), or --endpoint");
  if (nsources > 1)
    USAGE("give at most one of --body, --body-lines, --csv, --v2-batch");
  if (csv_path && !schema_name)
    USAGE("--csv needs --schema (a shipped name such as ulb, or a YAML file)");
  if (!csv_path && (schema_name || csv_rows))
    USAGE("--schema and --rows go with --csv");
  if (v2_batch && !model)
    USAGE("--v2-batch needs --model");
  if (!v2_batch && (model || nfeatures || input_name || v2_binary || features_path))
    USAGE("--model, --features, --nfeatures, --input-name and --v2-binary go with "
          "--v2-batch");
  if (cfg.requests == 0 && cfg.duration == 0)
    cfg.duration = 10;
  if (cfg.duration > 0 && cfg.warmup >= cfg.duration)
    USAGE("--warmup must be shorter than --duration");
  if (!threads_set)
    cfg.threads = (int)(ncpu < 1 ? 1 : ncpu);
  if (cfg.threads > cfg.connections)
    cfg.threads = cfg.connections;
  cfg.headers = headers;

  fr_error err = {0};
  fr_loadgen_bodies *bodies = fr_loadgen_bodies_new();
  char *url_buf = NULL;
  float *x = NULL;
  fr_schema *schema = NULL;
  float *fx = NULL;
  size_t fx_rows = 0, fx_cols = 0;
  if (!bodies) {
    rc = fr_cli_fail(cmd, NULL);
    goto out;
  }
  if (body_file && fr_loadgen_bodies_add_file(bodies, body_file, &err))
    goto fail;
  if (lines_file && fr_loadgen_bodies_add_lines(bodies, lines_file, &err))
    goto fail;
  if (csv_path) {
    schema = fr_schema_load(schema_name, &err);
    if (!schema || fr_loadgen_bodies_add_csv(bodies, schema, csv_path, (size_t)csv_rows, &err))
      goto fail;
    if (cfg.url && default_path(&cfg, &url_buf, "/v1/score")) {
      rc = fr_cli_fail(cmd, NULL);
      goto out_free;
    }
  }
  if (v2_batch) {
    char name[256] = "input";
    size_t cols = (size_t)nfeatures;
    if (features_path) {
      fx = fr_loadgen_read_matrix(features_path, &fx_rows, &fx_cols, &err);
      if (!fx)
        goto fail;
      if (cols && cols != fx_cols) {
        fr_error_set(&err, FR_EINVAL, "%s: %zu features, but --nfeatures says %zu",
                     features_path, fx_cols, cols);
        goto fail;
      }
      cols = fx_cols;
    }
    if (!cols || !input_name) {
      size_t asked = 0;
      if (fr_loadgen_v2_input(cfg.url, model, cfg.timeout, name, sizeof name, &asked, &err)) {
        fr_error_prefix(&err, "cannot learn the input tensor (give --nfeatures and "
                              "--input-name)");
        goto fail;
      }
      if (cols && cols != asked) {
        fr_error_set(&err, FR_EINVAL,
                     "model '%s' takes %zu features, the requests would carry %zu", model,
                     asked, cols);
        goto fail;
      }
      cols = asked;
    }
    if (input_name)
      snprintf(name, sizeof name, "%s", input_name);
    if (cfg.url) {
      char path[300];
      snprintf(path, sizeof path, "/v2/models/%s/infer", model);
      if (default_path(&cfg, &url_buf, path)) {
        rc = fr_cli_fail(cmd, NULL);
        goto out_free;
      }
    }
    fr_loadgen_v2 spec = {.input_name = name, .cols = cols, .batch = (size_t)v2_batch,
                          .binary = v2_binary};
    if (fx) {
      spec.x = fx;
      spec.rows = fx_rows;
      spec.nbodies = v2_bodies_set ? (size_t)v2_bodies : 0;
    } else {
      spec.rows = (size_t)(v2_batch * v2_bodies);
      spec.nbodies = (size_t)v2_bodies;
      x = fr_loadgen_random_matrix(spec.rows, cols, seed);
      if (!x) {
        fr_error_set(&err, FR_ENOMEM, "cannot allocate %zu x %zu random features", spec.rows,
                     cols);
        goto fail;
      }
      spec.x = x;
    }
    if (fr_loadgen_bodies_add_v2(bodies, &spec, &err))
      goto fail;
  }

  if (write_path) {
    if (write_bodies(bodies, write_path, &err))
      goto fail;
    goto out_free;
  }

  atomic_store(&stop_flag, 0);
  cfg.stop = &stop_flag;
  struct sigaction sa = {0}, old_int, old_term;
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  fr_loadgen_result res;
  int run_rc = fr_loadgen_run(&cfg, bodies, &res, &err);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (run_rc)
    goto fail;
  if (json) {
    char *text = fr_loadgen_result_json(&res, &cfg);
    if (text) {
      puts(text);
      free(text);
    } else {
      fr_error_set(&err, FR_ENOMEM, "cannot build the JSON report");
      fr_loadgen_result_close(&res);
      goto fail;
    }
  } else {
    fr_loadgen_result_print(&res, &cfg, stdout);
  }
  uint64_t ok = 0;
  for (int s = 200; s < 300; s++)
    ok += res.status[s];
  fr_loadgen_result_close(&res);
  if (ok == 0) {
    fprintf(stderr, "fraud loadgen: no request got a 2xx answer\n");
    rc = FR_EXIT_FAIL;
  }
  goto out_free;
fail:
  rc = fr_cli_fail(cmd, &err);
out_free:
  fr_schema_free(schema);
  free(fx);
  free(x);
  free(url_buf);
  fr_loadgen_bodies_free(bodies);
out:
  free(headers);
  return rc;
#undef USAGE
}
