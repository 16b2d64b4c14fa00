/*
 * dial.c — a TCP connection within a time limit (dial.h).
 */
#include "net/dial.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long ms_left(const struct timespec *t0, int timeout_ms) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return timeout_ms - ((t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000);
}

int arq_net_dial(const char *host, uint16_t port, int timeout_ms, char *err, size_t errcap) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  char service[8];
  snprintf(service, sizeof service, "%u", port);
  int rc = getaddrinfo(host, service, &hints, &res);
  if (rc) {
    snprintf(err, errcap, "cannot resolve %s: %s", host, gai_strerror(rc));
    return -1;
  }
  int fd = -1, why = ETIMEDOUT;
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      why = errno;
      continue;
    }
    why = connect(fd, a->ai_addr, a->ai_addrlen) ? errno : 0;
    if (why == EINPROGRESS) {
      struct pollfd p = {fd, POLLOUT, 0};
      long left = ms_left(&t0, timeout_ms);
      socklen_t len = sizeof why;
      why = left <= 0 || poll(&p, 1, (int)left) != 1 ? ETIMEDOUT
            : getsockopt(fd, SOL_SOCKET, SO_ERROR, &why, &len) ? errno : why;
    }
    if (why) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0)
    snprintf(err, errcap, "cannot connect to %s:%u: %s", host, port, strerror(why));
  return fd;
}
