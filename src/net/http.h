/*
 * http.h — the HTTP/1.1 request head parser and response writer of the edge.
 *
 * DESIGN
 *   Only what a WebSocket-and-health-check server needs: request heads (bodies are the
 *   caller's business, sized by content_length), strict syntax (RFC 9112) so that no two
 *   parsers on the path can disagree about where a request ends, and zero-copy views into
 *   the caller's buffer. The parser keeps no state between calls: the caller keeps the
 *   bytes received so far and calls again with all of them; each call walks at most
 *   max_head bytes and refuses a hostile head at its first bad byte.
 *   Why our own parser rather than a library: docs/adr/0002-http-parser.md.
 */
#ifndef ARQ_NET_HTTP_H
#define ARQ_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define ARQ_HTTP_MAX_HEADERS 64
#define ARQ_HTTP_MAX_TARGET 4096 /* longer request-targets get 414 */
#define ARQ_HTTP_MAX_METHOD 32   /* longer method tokens get 400 */

/* X(name, value, HTTP status to answer, message) */
#define ARQ_HTTP_ERRORS(X)                                                                      \
  X(BAD_REQUEST, -1, 400, "malformed request")                                                  \
  X(URI_TOO_LONG, -2, 414, "request-target too long")                                           \
  X(TOO_LARGE, -3, 431, "request head too large")                                               \
  X(NOT_IMPLEMENTED, -4, 501, "Transfer-Encoding is not supported")                             \
  X(VERSION, -5, 505, "HTTP version not supported")

enum {
#define ARQ__HTTP_ERR_ENUM(name, value, status, message) ARQ_HTTP_E_##name = value,
  ARQ_HTTP_ERRORS(ARQ__HTTP_ERR_ENUM)
#undef ARQ__HTTP_ERR_ENUM
};

typedef struct {
  const char *name;
  size_t name_len;
  const char *value; /* OWS-trimmed */
  size_t value_len;
} arq_http_header_t;

typedef struct {
  const char *method;
  size_t method_len;
  const char *target; /* request-target as sent */
  size_t target_len;
  const char *path; /* target up to '?'; for an absolute-form target, the part after the
                       authority (may be empty); "*" for OPTIONS * */
  size_t path_len;
  const char *query; /* after '?', may be empty */
  size_t query_len;
  int minor_version; /* HTTP/1.<minor>, 0 or 1 */
  arq_http_header_t headers[ARQ_HTTP_MAX_HEADERS];
  size_t nheaders;
  int64_t content_length; /* -1 when absent */
  bool keep_alive;        /* from version + Connection header */
  const char *problem;    /* on error: what exactly was wrong (a static string, for logs) */
} arq_http_request_t;

/**
 * Parses a request head from buf[0..len). Returns the head length (> 0, including the final
 * CRLFCRLF) when complete, 0 when more bytes are needed, or a negative ARQ_HTTP_E_* error
 * (req->problem then says why). max_head bounds the head (e.g. 8192): reaching it without
 * a complete head is ARQ_HTTP_E_TOO_LARGE. Views point into buf and live as long as it.
 * Bytes after the head (a body, a pipelined request) are not looked at.
 *
 * Strictness beyond the syntax: an HTTP/1.1 request must carry exactly one Host; at most one
 * Content-Length, digits only; any Transfer-Encoding is refused (501, or 400 together with
 * Content-Length). The request-target may hold any visible ASCII except '#', and each '%'
 * must start a valid escape.
 */
int arq_http_parse_request(const char *buf, size_t len, size_t max_head, arq_http_request_t *req);

/** The message of an ARQ_HTTP_E_* error ("unknown error" for anything else). */
const char *arq_http_error_message(int e);
/** The HTTP status to answer for an ARQ_HTTP_E_* error (500 for anything else). */
int arq_http_error_status(int e);

/** The first header named `name` (case-insensitive), or NULL. */
const arq_http_header_t *arq_http_header(const arq_http_request_t *r, const char *name);
/** True when the comma-separated list in value[0..len) holds `token` (case-insensitive,
 *  elements OWS-trimmed), e.g. Connection: keep-alive, Upgrade. */
bool arq_http_header_has_token(const char *value, size_t len, const char *token);
/**
 * Finds the parameter `name` in a query string (pairs separated by '&'; names and values are
 * percent-decoded, '+' is a space) and writes its decoded, NUL-terminated value to out[0..cap).
 * Returns the decoded length, -1 when absent, -2 when the value does not fit in cap - 1 bytes
 * or is malformed (a bad '%' escape, or %00, which a C string cannot carry).
 */
int arq_http_query_param(const char *query, size_t len, const char *name, char *out, size_t cap);

/** The reason phrase for a status code ("Unknown" for codes we never send). */
const char *arq_http_status_reason(int status);

/**
 * Appends a complete HTTP/1.1 response to `out`: status line, Content-Type (when there is a
 * body or content_type is set; application/octet-stream by default), Content-Length,
 * Connection: keep-alive/close, extra_headers ("Name: v\r\n..." or NULL), blank line, body.
 * 1xx, 204 and 304 responses carry neither Content-Length nor a body, and 101 has no
 * Connection header of ours (the caller's extra headers say "Connection: Upgrade").
 */
void arq_http_write_response(arq_buf_t *out, int status, const char *content_type, const void *body,
                             size_t body_len, bool keep_alive, const char *extra_headers);

#endif
