/*
 * metrics_http.c — the Brain's HTTP responder on brain.metrics_listen: /metrics
 * (Prometheus text), /healthz (the process runs), /readyz (it holds its first leases).
 *
 * DESIGN
 *   A blocking server on its own thread, one request per connection (Connection: close):
 *   scrapes are rare and small, so nothing here justifies an event loop. Each connection
 *   gets a 2 s receive timeout and an 8 KiB head limit, so a stuck or hostile client
 *   delays the next scrape by at most that and costs no memory. The listening socket is
 *   polled with a timeout so the thread sees the stop flag.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "brain/brain.h"
#include "common/buf.h"
#include "common/log.h"
#include "net/http.h"

#define HEAD_MAX 8192

struct arq_metrics_http {
  arq_brain_t *b;
  int fd;
  pthread_t thread;
};

static void respond(arq_metrics_http_t *h, int fd) {
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  char buf[HEAD_MAX];
  size_t len = 0;
  arq_http_request_t req;
  int rc = 0;
  while (rc == 0 && len < sizeof buf) {
    ssize_t n = recv(fd, buf + len, sizeof buf - len, 0);
    if (n <= 0)
      return;
    len += (size_t)n;
    rc = arq_http_parse_request(buf, len, sizeof buf, &req);
  }
  arq_buf_t out, body;
  arq_buf_init(&out);
  arq_buf_init(&body);
  if (rc < 0) {
    const char *msg = arq_http_error_message(rc);
    arq_http_write_response(&out, arq_http_error_status(rc), "text/plain", msg, strlen(msg), false, NULL);
  } else if (req.method_len != 3 || memcmp(req.method, "GET", 3)) {
    arq_http_write_response(&out, 405, "text/plain", "GET only\n", 9, false, "Allow: GET\r\n");
  } else if (req.path_len == 8 && !memcmp(req.path, "/metrics", 8)) {
    arq_metrics_write(h->b->metrics, &body);
    arq_http_write_response(&out, 200, ARQ_METRICS_CONTENT_TYPE, body.data, body.len, false, NULL);
  } else if (req.path_len == 8 && !memcmp(req.path, "/healthz", 8)) {
    arq_http_write_response(&out, 200, "text/plain", "ok\n", 3, false, NULL);
  } else if (req.path_len == 7 && !memcmp(req.path, "/readyz", 7)) {
    bool ready = atomic_load(&h->b->ready);
    arq_http_write_response(&out, ready ? 200 : 503, "text/plain", ready ? "ready\n" : "starting\n",
                            ready ? 6 : 9, false, NULL);
  } else {
    arq_http_write_response(&out, 404, "text/plain", "not found\n", 10, false, NULL);
  }
  size_t off = 0;
  while (off < out.len) {
    ssize_t n = send(fd, out.data + off, out.len - off, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  arq_buf_free(&out);
  arq_buf_free(&body);
}

static void *serve(void *arg) {
  arq_metrics_http_t *h = arg;
  while (!atomic_load(&h->b->stop)) {
    struct pollfd p = {h->fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0)
      continue;
    int fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    respond(h, fd);
    close(fd);
  }
  return NULL;
}

arq_metrics_http_t *arq_metrics_http_start(arq_brain_t *b, char *err, size_t errcap) {
  char host[256], port[8];
  uint16_t portn;
  if (arq_config_split_hostport(b->cfg->brain.metrics_listen, host, sizeof host, &portn)) {
    snprintf(err, errcap, "brain.metrics_listen: not host:port");
    return NULL;
  }
  snprintf(port, sizeof port, "%u", portn);
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai) {
    snprintf(err, errcap, "brain.metrics_listen %s: %s", b->cfg->brain.metrics_listen, gai_strerror(gai));
    return NULL;
  }
  /* Non-blocking: a client that gives up between poll() and accept() must not stall us. */
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  if (fd >= 0)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
    snprintf(err, errcap, "brain.metrics_listen %s: %m", b->cfg->brain.metrics_listen);
    if (fd >= 0)
      close(fd);
    freeaddrinfo(ai);
    return NULL;
  }
  freeaddrinfo(ai);
  arq_metrics_http_t *h = calloc(1, sizeof *h);
  if (!h)
    arq_oom("metrics http");
  h->b = b;
  h->fd = fd;
  if (pthread_create(&h->thread, NULL, serve, h)) {
    snprintf(err, errcap, "metrics thread: cannot start");
    close(fd);
    free(h);
    return NULL;
  }
  return h;
}

void arq_metrics_http_stop(arq_metrics_http_t *h) {
  if (!h)
    return;
  pthread_join(h->thread, NULL); /* the caller set b->stop */
  close(h->fd);
  free(h);
}
