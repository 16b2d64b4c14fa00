#include "cli/http_client.h"

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/dial.h"

static long ms_since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int wait_fd(int fd, short events, const struct timespec *t0, int timeout_ms) {
  long left = timeout_ms - ms_since(t0);
  if (left <= 0)
    return -1;
  struct pollfd p = {fd, events, 0};
  int r = poll(&p, 1, (int)left);
  return r == 1 ? 0 : -1;
}

/* "HTTP/1.x NNN ...": the status code, or -1. */
static int status_of(const char *head) {
  if (strncmp(head, "HTTP/1.", 7) || !head[7] || head[8] != ' ')
    return -1;
  int code = 0;
  for (int i = 9; i < 12; i++) {
    if (head[i] < '0' || head[i] > '9')
      return -1;
    code = code * 10 + (head[i] - '0');
  }
  return code;
}

int arq_cli_http_get(const char *host, uint16_t port, const char *path, int timeout_ms,
                     int *status, arq_buf_t *body, char *err, size_t errcap) {
  const arq_cli_http_request_t r = {.method = "GET", .path = path};
  return arq_cli_http(host, port, &r, timeout_ms, status, body, err, errcap);
}

int arq_cli_http(const char *host, uint16_t port, const arq_cli_http_request_t *r, int timeout_ms,
                 int *status, arq_buf_t *body, char *err, size_t errcap) {
  const char *path = r->path;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int fd = arq_net_dial(host, port, timeout_ms, err, errcap);
  if (fd < 0)
    return -1;
  arq_buf_t req, resp;
  arq_buf_init(&req);
  arq_buf_init(&resp);
  bool v6 = strchr(host, ':') != NULL;
  arq_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nConnection: close\r\n%s", r->method, path,
                 v6 ? "[" : "", host, v6 ? "]" : "", port, r->headers ? r->headers : "");
  if (r->body)
    arq_buf_printf(&req, "Content-Length: %zu\r\n", r->body_len);
  arq_buf_puts(&req, "\r\n");
  if (r->body)
    arq_buf_append(&req, r->body, r->body_len);
  size_t off = 0;
  const char *problem = NULL;
  while (off < req.len && !problem) {
    ssize_t n = write(fd, req.data + off, req.len - off);
    if (n > 0)
      off += (size_t)n;
    else if (n < 0 && errno == EAGAIN && !wait_fd(fd, POLLOUT, &t0, timeout_ms))
      continue;
    else
      problem = "could not send the request";
  }
  while (!problem) {
    char chunk[16384];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n > 0)
      arq_buf_append(&resp, chunk, (size_t)n);
    else if (n == 0)
      break;
    else if (errno != EAGAIN || wait_fd(fd, POLLIN, &t0, timeout_ms))
      problem = "no complete answer in time";
  }
  close(fd);
  arq_buf_free(&req);
  if (!problem) {
    arq_buf_putc(&resp, '\0');
    const char *sep = strstr(resp.data, "\r\n\r\n");
    *status = status_of(resp.data);
    if (!sep || *status < 0) {
      problem = "the answer is not HTTP";
    } else {
      size_t len = resp.len - 1 - (size_t)(sep + 4 - resp.data);
      arq_buf_append(body, sep + 4, len);
    }
  }
  if (problem)
    snprintf(err, errcap, "%s http://%s:%u%s: %s", r->method, host, port, path, problem);
  arq_buf_free(&resp);
  return problem ? -1 : 0;
}
