/*
 * http_client.h — the one HTTP client of `arq`: a bounded request over plain TCP, for
 * `arq status` (the parts' /readyz and /metrics), `arq bench` (the Shield's /metrics around
 * a run) and `arq api` (the server API).
 */
#ifndef ARQ_CLI_HTTP_CLIENT_H
#define ARQ_CLI_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/** GET http://host:port/path with "Connection: close", everything (connect, request, the
 *  answer up to the server's close) within timeout_ms. 0 with the status code in *status and
 *  the body appended to `body` (NUL-terminated), whatever the status; or -1 with a message in
 *  err when there is no complete HTTP answer. */
int arq_cli_http_get(const char *host, uint16_t port, const char *path, int timeout_ms,
                     int *status, arq_buf_t *body, char *err, size_t errcap);

typedef struct {
  const char *method;  /* "GET", "POST", ... */
  const char *path;
  const char *headers; /* more header lines, each ending in "\r\n", or NULL */
  const char *body;    /* sent with Content-Length when not NULL */
  size_t body_len;
} arq_cli_http_request_t;

/** The same for any request (arq_cli_http_get is a GET without headers or body). */
int arq_cli_http(const char *host, uint16_t port, const arq_cli_http_request_t *r, int timeout_ms,
                 int *status, arq_buf_t *body, char *err, size_t errcap);

#endif
