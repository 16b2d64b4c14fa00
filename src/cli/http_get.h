/*
 * http_get.h — the one HTTP client of `arq`: a bounded GET over plain TCP, for `arq status`
 * (the parts' /readyz and /metrics) and `arq bench` (the Shield's /metrics around a run).
 */
#ifndef ARQ_CLI_HTTP_GET_H
#define ARQ_CLI_HTTP_GET_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/** GET http://host:port/path with "Connection: close", everything (connect, request, the
 *  answer up to the server's close) within timeout_ms. 0 with the status code in *status and
 *  the body appended to `body` (NUL-terminated), whatever the status; or -1 with a message in
 *  err when there is no complete HTTP answer. */
int arq_cli_http_get(const char *host, uint16_t port, const char *path, int timeout_ms,
                     int *status, arq_buf_t *body, char *err, size_t errcap);

#endif
