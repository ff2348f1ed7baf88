/*
 * fr_redis_test.h - starts a real redis-server (Debian package redis-server)
 * for a test: on a free TCP port of 127.0.0.1, in a temporary directory,
 * without persistence, as a child process the test can stop, kill (to
 * simulate an outage) and start again on the same port.
 */
#ifndef FR_REDIS_TEST_H
#define FR_REDIS_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct fr_redis_test {
  pid_t pid;
  int port;
  char dir[256];
  char url[64];
} fr_redis_test;

/* A TCP port nobody listens on now (bind to port 0, read it back). */
static inline int fr_redis_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
      getsockname(fd, (struct sockaddr *)&a, &len)) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

static inline int fr_redis_accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0)
    close(fd);
  return ok;
}

/* Starts redis-server on r->port (chosen when 0).  0 ok, -1 failure. */
static inline int fr_redis_start(fr_redis_test *r) {
  if (!r->dir[0]) {
    snprintf(r->dir, sizeof r->dir, "/tmp/fraud-redis-XXXXXX");
    if (!mkdtemp(r->dir))
      return -1;
  }
  if (r->port == 0)
    r->port = fr_redis_free_port();
  if (r->port <= 0)
    return -1;
  snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", r->port);
  char port[16];
  snprintf(port, sizeof port, "%d", r->port);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    /* Quiet, no persistence, in its own directory. */
    freopen("/dev/null", "w", stdout);
    execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
           "--dir", r->dir, "--save", "", "--appendonly", "no", "--logfile", "",
           "--loglevel", "warning", (char *)NULL);
    _exit(127);
  }
  r->pid = pid;
  for (int i = 0; i < 500; i++) { /* up to 5 s */
    if (fr_redis_accepts(r->port))
      return 0;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      r->pid = 0;
      return -1; /* exited: not installed, or the port was taken */
    }
    usleep(10000);
  }
  return -1;
}

/* Stops the server: SIGTERM (sig 0) or the given signal (SIGKILL for an
 * outage); waits for it to exit. */
static inline void fr_redis_stop(fr_redis_test *r, int sig) {
  if (r->pid > 0) {
    kill(r->pid, sig ? sig : SIGTERM);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
  }
}

static inline void fr_redis_cleanup(fr_redis_test *r) {
  fr_redis_stop(r, SIGKILL);
  if (r->dir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
    (void)!system(cmd);
  }
}

#endif
