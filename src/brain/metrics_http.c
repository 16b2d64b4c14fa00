/*
 * metrics_http.c — the Brain's HTTP responder on brain.metrics_listen: /metrics
 * (Prometheus text), /healthz (the process runs), /readyz (it holds its first leases).
 *
 * DESIGN
 *   One thread, one poll() over the listening socket and at most
 *   brain.metrics_max_clients connections, each answered once (Connection: close).
 *   Scrapes are rare and small, so a poll loop on a thread of its own is all it takes; what
 *   matters is that no client can hold it. Each connection has a whole-request deadline:
 *   its request head (at most HEAD_MAX bytes) must be complete brain.metrics_timeout_ms
 *   after accept — however the bytes trickle in — and its answer must be taken within as
 *   long again; a connection that misses either is closed. With every slot taken, a new
 *   connection takes the slot of the one whose request has been arriving longest (closed
 *   at once); only when every slot is sending an answer is it answered 503 and closed. So
 *   slow clients cannot keep /readyz out, and nothing waits longer than one deadline.
 *   Sockets are non-blocking; the poll timeout is at most STOP_POLL_MS, so the thread sees
 *   the stop flag promptly.
 */
#include <arpa/inet.h>
#include <errno.h>
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
#define STOP_POLL_MS 200
#define ACCEPTS_PER_WAKEUP 16
#define ACCEPT_PAUSE_MS 100 /* out of descriptors: leave the listener alone this long */

typedef struct {
  int fd; /* -1: free slot */
  int64_t deadline_ms;
  bool writing;
  size_t len;     /* bytes of head read */
  size_t sent;    /* bytes of out sent */
  char *head;     /* HEAD_MAX bytes while reading */
  arq_buf_t out;  /* the response while writing */
} client_t;

struct arq_metrics_http {
  arq_brain_t *b;
  int fd;
  pthread_t thread;
  size_t max_clients;
  int64_t timeout_ms;
  client_t *clients;    /* [max_clients] */
  struct pollfd *pfds;  /* [max_clients + 1]: the listener last */
};

static void client_close(client_t *c) {
  if (c->fd >= 0)
    close(c->fd);
  free(c->head);
  arq_buf_free(&c->out);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}

static void respond(arq_metrics_http_t *h, client_t *c, int rc, const arq_http_request_t *req) {
  arq_buf_t *out = &c->out, body;
  arq_buf_init(&body);
  if (rc < 0) {
    const char *msg = arq_http_error_message(rc);
    arq_http_write_response(out, arq_http_error_status(rc), "text/plain", msg, strlen(msg), false, NULL);
  } else if (req->method_len != 3 || memcmp(req->method, "GET", 3)) {
    arq_http_write_response(out, 405, "text/plain", "GET only\n", 9, false, "Allow: GET\r\n");
  } else if (req->path_len == 8 && !memcmp(req->path, "/metrics", 8)) {
    arq_metrics_write(h->b->metrics, &body);
    arq_http_write_response(out, 200, ARQ_METRICS_CONTENT_TYPE, body.data, body.len, false, NULL);
  } else if (req->path_len == 8 && !memcmp(req->path, "/healthz", 8)) {
    arq_http_write_response(out, 200, "text/plain", "ok\n", 3, false, NULL);
  } else if (req->path_len == 7 && !memcmp(req->path, "/readyz", 7)) {
    bool ready = atomic_load(&h->b->ready);
    arq_http_write_response(out, ready ? 200 : 503, "text/plain", ready ? "ready\n" : "starting\n",
                            ready ? 6 : 9, false, NULL);
  } else {
    arq_http_write_response(out, 404, "text/plain", "not found\n", 10, false, NULL);
  }
  arq_buf_free(&body);
  free(c->head);
  c->head = NULL;
  c->writing = true;
  c->deadline_ms = arq_monotonic_ms() + h->timeout_ms; /* the answer gets as long again */
}

/* Reads what arrived; answers once the head is complete (or wrong). False: close it. */
static bool client_read(arq_metrics_http_t *h, client_t *c) {
  ssize_t n = recv(c->fd, c->head + c->len, HEAD_MAX - c->len, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
    return false;
  if (n < 0)
    return true;
  c->len += (size_t)n;
  arq_http_request_t req;
  int rc = arq_http_parse_request(c->head, c->len, HEAD_MAX, &req);
  if (rc != 0)
    respond(h, c, rc, &req); /* the parser says when HEAD_MAX is reached without a head */
  return true;
}

/* Sends what the socket takes. False: done or failed (close it). */
static bool client_write(client_t *c) {
  while (c->sent < c->out.len) {
    ssize_t n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return true;
    if (n <= 0)
      return false;
    c->sent += (size_t)n;
  }
  return false;
}

static int64_t accept_clients(arq_metrics_http_t *h, int64_t now) {
  for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
    int fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
      return errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM
                 ? now + ACCEPT_PAUSE_MS
                 : 0;
    /* A free slot, else the one whose request has been arriving longest: a crowd of slow
     * clients then cannot keep a probe out (each new connection costs the oldest its slot,
     * so holding every slot takes max_clients new connections per request served). Only
     * when every slot is sending an answer is the newcomer refused. */
    client_t *c = NULL, *oldest = NULL;
    for (size_t k = 0; k < h->max_clients && !c; k++) {
      client_t *x = &h->clients[k];
      if (x->fd < 0)
        c = x;
      else if (!x->writing && (!oldest || x->deadline_ms < oldest->deadline_ms))
        oldest = x;
    }
    if (!c && oldest) {
      client_close(oldest);
      c = oldest;
    }
    if (!c) {
      static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                                 "Content-Length: 5\r\nConnection: close\r\n\r\nbusy\n";
      ssize_t ignored = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL); /* a fresh socket takes it */
      (void)ignored;
      close(fd);
      continue;
    }
    c->fd = fd;
    c->head = malloc(HEAD_MAX);
    if (!c->head)
      arq_oom("metrics http");
    c->deadline_ms = now + h->timeout_ms;
  }
  return 0;
}

static void *serve(void *arg) {
  arq_metrics_http_t *h = arg;
  int64_t accept_paused_until = 0;
  while (!atomic_load(&h->b->stop)) {
    int64_t now = arq_monotonic_ms();
    int64_t wait = STOP_POLL_MS;
    nfds_t n = 0;
    for (size_t k = 0; k < h->max_clients; k++) {
      client_t *c = &h->clients[k];
      if (c->fd < 0)
        continue;
      if (now >= c->deadline_ms) {
        client_close(c); /* too slow: the deadline covers the whole request, not each recv */
        continue;
      }
      if (c->deadline_ms - now < wait)
        wait = c->deadline_ms - now;
      h->pfds[n++] = (struct pollfd){c->fd, (short)(c->writing ? POLLOUT : POLLIN), 0};
    }
    bool listening = now >= accept_paused_until;
    if (listening)
      h->pfds[n++] = (struct pollfd){h->fd, POLLIN, 0};
    else if (accept_paused_until - now < wait)
      wait = accept_paused_until - now;
    int ready = poll(h->pfds, n, (int)wait);
    if (ready <= 0)
      continue;
    now = arq_monotonic_ms();
    /* Clients in the order they were polled: the k-th open slot is pfds[i]. */
    size_t i = 0;
    for (size_t k = 0; k < h->max_clients && i < n - (listening ? 1 : 0); k++) {
      client_t *c = &h->clients[k];
      if (c->fd < 0 || h->pfds[i].fd != c->fd)
        continue;
      short ev = h->pfds[i++].revents;
      if (!ev)
        continue;
      bool keep = c->writing ? client_write(c) : (ev & (POLLERR | POLLNVAL)) ? false : client_read(h, c);
      if (keep && c->writing && !(ev & POLLOUT))
        keep = client_write(c); /* just answered: most answers go out in one send */
      if (!keep)
        client_close(c);
    }
    if (listening && (h->pfds[n - 1].revents & POLLIN))
      accept_paused_until = accept_clients(h, now);
  }
  for (size_t k = 0; k < h->max_clients; k++)
    client_close(&h->clients[k]);
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
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
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
  h->max_clients = b->cfg->brain.metrics_max_clients > 0 ? (size_t)b->cfg->brain.metrics_max_clients : 1;
  h->timeout_ms = b->cfg->brain.metrics_timeout_ms > 0 ? b->cfg->brain.metrics_timeout_ms : 2000;
  h->clients = calloc(h->max_clients, sizeof *h->clients);
  h->pfds = calloc(h->max_clients + 1, sizeof *h->pfds);
  if (!h->clients || !h->pfds)
    arq_oom("metrics http");
  for (size_t k = 0; k < h->max_clients; k++)
    h->clients[k].fd = -1;
  if (pthread_create(&h->thread, NULL, serve, h)) {
    snprintf(err, errcap, "metrics thread: cannot start");
    close(fd);
    free(h->clients);
    free(h->pfds);
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
  free(h->clients);
  free(h->pfds);
  free(h);
}
