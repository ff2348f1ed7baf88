/*
 * mhd_fixed.c - a bare libmicrohttpd server that reads each request's body
 * and answers every request with the same small JSON: the loopback ceiling of
 * the HTTP library `fraud serve` is built on.  Whatever `fraud serve` adds on
 * top (routing, JSON parsing, features, scoring, metrics) shows as the gap
 * between its throughput and this program's in the same benchmark run.
 *
 * usage: mhd_fixed [--port N] [--threads T]
 *   --port 0 (default) binds an ephemeral port; the bound port is printed as
 *   "port N" on stdout once listening.  --threads (default: online CPUs) is
 *   the size of libmicrohttpd's thread pool, each thread with its own epoll
 *   loop, the same mode `fraud serve` uses.  Runs until SIGINT or SIGTERM.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The shape of a /v1/score answer, so the response size is realistic. */
static const char answer[] =
    "{\"transaction_id\":\"t-0000000001\",\"fraud_probability\":0.0123,"
    "\"decision\":\"approve\",\"model\":\"fixed\",\"version\":\"1\"}";

static struct MHD_Response *response;

/* libmicrohttpd calls this once with the headers (*con_cls NULL), once per
 * chunk of body (upload_data_size > 0; we consume it), and once more at the
 * end, when the answer is queued. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  (void)cls;
  (void)url;
  (void)method;
  (void)version;
  (void)upload_data;
  static int marker;
  if (*con_cls == NULL) {
    *con_cls = &marker;
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  return MHD_queue_response(conn, MHD_HTTP_OK, response);
}

int main(int argc, char **argv) {
  int port = 0;
  long threads = sysconf(_SC_NPROCESSORS_ONLN);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = atol(argv[++i]);
    } else {
      fprintf(stderr, "usage: mhd_fixed [--port N] [--threads T]\n");
      return 2;
    }
  }
  if (port < 0 || port > 65535 || threads < 1 || threads > 256) {
    fprintf(stderr, "mhd_fixed: bad --port or --threads\n");
    return 2;
  }
  response = MHD_create_response_from_buffer(sizeof answer - 1, (void *)answer,
                                             MHD_RESPMEM_PERSISTENT);
  if (!response ||
      MHD_add_response_header(response, "Content-Type", "application/json") != MHD_YES) {
    fprintf(stderr, "mhd_fixed: cannot build the response\n");
    return 1;
  }
  /* Block the stop signals before libmicrohttpd starts its threads (they
   * inherit the mask), so that only sigwait below receives them. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO, (uint16_t)port, NULL, NULL, on_request,
      NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)10000, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned int)30, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "mhd_fixed: cannot listen on port %d\n", port);
    return 1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("port %u\n", info ? (unsigned)info->port : (unsigned)port);
  fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  MHD_stop_daemon(d);
  MHD_destroy_response(response);
  return 0;
}
