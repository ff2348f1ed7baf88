/*
 * fraud/serve.h - the scoring server: KServe V2 / Open Inference Protocol
 * over REST, the raw-transaction scoring API (/v1/score) with online
 * features, health probes and Prometheus metrics, on libmicrohttpd.
 */
#ifndef FRAUD_SERVE_H
#define FRAUD_SERVE_H

#include "fraud/common.h"
#include "fraud/features.h"
#include "fraud/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fr_server fr_server;

typedef struct fr_server_config {
  const char *model_repository; /* directory of <name>/<version>/ bundles */
  const char *listen_address;   /* "0.0.0.0" (default) or "127.0.0.1" */
  int port;                     /* 0 = ephemeral (see fr_server_port) */
  int threads;                  /* HTTP worker threads; 0 = cores */
  size_t max_body_bytes;        /* default 8 MiB */
  fr_state_options state;       /* online feature state */
} fr_server_config;

/* Defaults: port 8080, all addresses, threads = cores, 8 MiB bodies. */
FR_EXPORT void fr_server_config_default(fr_server_config *c);

/* Loads every model of the repository and starts listening.  Readiness
 * (/v2/health/ready) turns 200 once at least one model is loaded.  Errors:
 * FR_EIO (cannot bind: names address and port), FR_ENOTFOUND (repository
 * missing).  Stop with fr_server_stop. */
FR_EXPORT fr_server *fr_server_start(const fr_server_config *c, fr_error *err);

/* The TCP port actually bound (useful with port 0). */
FR_EXPORT int fr_server_port(const fr_server *s);

/* Stops accepting, finishes in-flight requests, frees everything.
 * NULL-safe. */
FR_EXPORT void fr_server_stop(fr_server *s);

#ifdef __cplusplus
}
#endif
#endif /* FRAUD_SERVE_H */
