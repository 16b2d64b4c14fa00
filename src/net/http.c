/*
 * http.c — the strict request-head parser (contract in http.h).
 *
 * DESIGN
 *   A cursor walks buf[0..end), end = min(len, max_head). Every step that needs a byte
 *   past end returns MORE, which the entry point turns into "need more bytes" (0) or, when
 *   end was max_head, into 431. Each byte is classified when first walked, so a bad byte
 *   is reported as soon as it arrives, whatever follows. Semantic checks that depend on
 *   the whole head (Transfer-Encoding together with Content-Length, a missing Host) run
 *   once the blank line is seen.
 */
#include "net/http.h"

#include <limits.h>
#include <string.h>

enum { MORE = 1 };

typedef struct {
  const char *buf;
  size_t pos, end;
  arq_http_request_t *req;
  int hosts;
  bool transfer_encoding;
  bool conn_close, conn_keep_alive;
} parser_t;

static int fail(parser_t *p, int err, const char *problem) {
  p->req->problem = problem;
  return err;
}

static bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
    return true;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static bool lit_eq(const char *s, size_t n, const char *lit) {
  size_t k = strlen(lit);
  if (n != k)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char a = (unsigned char)s[i], b = (unsigned char)lit[i];
    if (a >= 'A' && a <= 'Z')
      a = (unsigned char)(a | 0x20);
    if (a != b)
      return false;
  }
  return true;
}

static int parse_method(parser_t *p) {
  size_t start = p->pos;
  for (;; p->pos++) {
    if (p->pos == p->end)
      return MORE;
    unsigned char c = (unsigned char)p->buf[p->pos];
    if (c == ' ')
      break;
    if (!is_tchar(c))
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "invalid character in method");
    if (p->pos - start >= ARQ_HTTP_MAX_METHOD)
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "method too long");
  }
  if (p->pos == start)
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "empty method");
  p->req->method = p->buf + start;
  p->req->method_len = p->pos - start;
  p->pos++;
  return 0;
}

/* Splits a target already known to be well-formed into path and query. */
static int split_target(parser_t *p) {
  arq_http_request_t *r = p->req;
  const char *t = r->target, *end = t + r->target_len;
  const char *path = t;
  if (t[0] == '*') {
    if (r->target_len != 1 || !lit_eq(r->method, r->method_len, "options"))
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "'*' is a target only for OPTIONS");
  } else if (t[0] != '/') {
    /* absolute-form: http(s)://authority[path][?query] */
    size_t skip = 0;
    if (r->target_len > 7 && lit_eq(t, 7, "http://"))
      skip = 7;
    else if (r->target_len > 8 && lit_eq(t, 8, "https://"))
      skip = 8;
    if (!skip)
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "request-target is not origin- or absolute-form");
    path = t + skip;
    while (path < end && *path != '/' && *path != '?')
      path++;
    if (path == t + skip)
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "empty authority in request-target");
  }
  const char *q = memchr(path, '?', (size_t)(end - path));
  r->path = path;
  r->path_len = (size_t)((q ? q : end) - path);
  r->query = q ? q + 1 : end;
  r->query_len = (size_t)(end - r->query);
  return 0;
}

static int parse_target(parser_t *p) {
  size_t start = p->pos;
  for (;;) {
    if (p->pos == p->end)
      return MORE;
    unsigned char c = (unsigned char)p->buf[p->pos];
    if (c == ' ')
      break;
    if (c < 0x21 || c > 0x7E || c == '#')
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "invalid character in request-target");
    size_t step = 1;
    if (c == '%') {
      for (; step < 3; step++) {
        if (p->pos + step == p->end)
          return MORE;
        if (!is_hex((unsigned char)p->buf[p->pos + step]))
          return fail(p, ARQ_HTTP_E_BAD_REQUEST, "bad percent-escape in request-target");
      }
    }
    p->pos += step;
    if (p->pos - start > ARQ_HTTP_MAX_TARGET)
      return fail(p, ARQ_HTTP_E_URI_TOO_LONG, "request-target longer than 4096 bytes");
  }
  if (p->pos == start)
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "empty request-target");
  p->req->target = p->buf + start;
  p->req->target_len = p->pos - start;
  p->pos++;
  return split_target(p);
}

/* Expects the CRLF that ends a line at p->pos. */
static int expect_crlf(parser_t *p) {
  if (p->pos == p->end)
    return MORE;
  if (p->buf[p->pos] == '\n')
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "bare LF");
  if (p->buf[p->pos] != '\r')
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "unexpected character at end of line");
  if (p->pos + 1 == p->end)
    return MORE;
  if (p->buf[p->pos + 1] != '\n')
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "bare CR");
  p->pos += 2;
  return 0;
}

static int parse_version(parser_t *p) {
  static const char shape[] = "HTTP/#.#"; /* '#' is any digit */
  int digits[2] = {0, 0}, nd = 0;
  for (size_t i = 0; i < sizeof shape - 1; i++, p->pos++) {
    if (p->pos == p->end)
      return MORE;
    char c = p->buf[p->pos];
    if (shape[i] == '#' ? (c < '0' || c > '9') : c != shape[i])
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "malformed HTTP version");
    if (shape[i] == '#')
      digits[nd++] = c - '0';
  }
  int rc = expect_crlf(p);
  if (rc)
    return rc;
  if (digits[0] != 1 || digits[1] > 1)
    return fail(p, ARQ_HTTP_E_VERSION, "only HTTP/1.0 and HTTP/1.1 are supported");
  p->req->minor_version = digits[1];
  return 0;
}

static int parse_content_length(parser_t *p, const arq_http_header_t *h) {
  if (p->req->content_length >= 0)
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "duplicate Content-Length");
  if (h->value_len == 0 || h->value_len > 18) /* 18 digits cannot overflow int64_t */
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "invalid Content-Length");
  int64_t v = 0;
  for (size_t i = 0; i < h->value_len; i++) {
    char c = h->value[i];
    if (c < '0' || c > '9')
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "invalid Content-Length");
    v = v * 10 + (c - '0');
  }
  p->req->content_length = v;
  return 0;
}

/* The checks that a single header triggers, as soon as its line is complete. */
static int note_header(parser_t *p, const arq_http_header_t *h) {
  if (lit_eq(h->name, h->name_len, "content-length"))
    return parse_content_length(p, h);
  if (lit_eq(h->name, h->name_len, "transfer-encoding"))
    p->transfer_encoding = true;
  else if (lit_eq(h->name, h->name_len, "host")) {
    if (++p->hosts > 1)
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "duplicate Host");
  } else if (lit_eq(h->name, h->name_len, "connection")) {
    p->conn_close |= arq_http_header_has_token(h->value, h->value_len, "close");
    p->conn_keep_alive |= arq_http_header_has_token(h->value, h->value_len, "keep-alive");
  }
  return 0;
}

/* One header line, or the blank line that ends the head (returns 2 then). */
static int parse_header_line(parser_t *p) {
  if (p->pos == p->end)
    return MORE;
  unsigned char c = (unsigned char)p->buf[p->pos];
  if (c == '\r' || c == '\n') {
    int rc = expect_crlf(p);
    return rc ? rc : 2;
  }
  if (c == ' ' || c == '\t')
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "obsolete line folding or leading whitespace");
  if (p->req->nheaders == ARQ_HTTP_MAX_HEADERS)
    return fail(p, ARQ_HTTP_E_TOO_LARGE, "more than 64 header fields");

  size_t name = p->pos;
  for (;; p->pos++) {
    if (p->pos == p->end)
      return MORE;
    c = (unsigned char)p->buf[p->pos];
    if (c == ':')
      break;
    if (c == ' ' || c == '\t')
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "whitespace before colon");
    if (!is_tchar(c))
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "invalid character in header name");
  }
  if (p->pos == name)
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "empty header name");
  size_t name_end = p->pos++;

  size_t value = SIZE_MAX, value_end = 0;
  for (;; p->pos++) {
    if (p->pos == p->end)
      return MORE;
    c = (unsigned char)p->buf[p->pos];
    if (c == '\r' || c == '\n')
      break;
    if (c == ' ' || c == '\t')
      continue;
    if (c < 0x20 || c == 0x7F)
      return fail(p, ARQ_HTTP_E_BAD_REQUEST, "control character in header value");
    if (value == SIZE_MAX)
      value = p->pos;
    value_end = p->pos + 1;
  }
  if (value == SIZE_MAX)
    value = value_end = p->pos;
  int rc = expect_crlf(p);
  if (rc)
    return rc;

  arq_http_header_t *h = &p->req->headers[p->req->nheaders++];
  h->name = p->buf + name;
  h->name_len = name_end - name;
  h->value = p->buf + value;
  h->value_len = value_end - value;
  return note_header(p, h);
}

static int finish_head(parser_t *p) {
  arq_http_request_t *r = p->req;
  if (p->transfer_encoding && r->content_length >= 0)
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "both Content-Length and Transfer-Encoding");
  if (p->transfer_encoding)
    return fail(p, ARQ_HTTP_E_NOT_IMPLEMENTED, "Transfer-Encoding is not supported");
  if (r->minor_version == 1 && p->hosts == 0)
    return fail(p, ARQ_HTTP_E_BAD_REQUEST, "HTTP/1.1 request without Host");
  r->keep_alive = r->minor_version == 1 ? !p->conn_close : (p->conn_keep_alive && !p->conn_close);
  return 0;
}

static int parse_head(parser_t *p) {
  int rc;
  if ((rc = parse_method(p)) || (rc = parse_target(p)) || (rc = parse_version(p)))
    return rc;
  while ((rc = parse_header_line(p)) == 0)
    ;
  if (rc != 2)
    return rc;
  return finish_head(p);
}

int arq_http_parse_request(const char *buf, size_t len, size_t max_head, arq_http_request_t *req) {
  if (max_head > INT_MAX)
    max_head = INT_MAX; /* the head length is returned as an int */
  parser_t p = {.buf = buf, .pos = 0, .end = len < max_head ? len : max_head, .req = req};
  req->method = req->target = req->path = req->query = NULL;
  req->method_len = req->target_len = req->path_len = req->query_len = 0;
  req->minor_version = 0;
  req->nheaders = 0;
  req->content_length = -1;
  req->keep_alive = false;
  req->problem = NULL;

  int rc = parse_head(&p);
  if (rc < 0)
    return rc;
  if (rc == MORE) {
    if (len < max_head)
      return 0;
    return fail(&p, ARQ_HTTP_E_TOO_LARGE, "request head larger than the limit");
  }
  return (int)p.pos;
}

const char *arq_http_error_message(int e) {
  switch (e) {
#define ARQ__HTTP_ERR_MSG(name, value, status, message)                                          \
  case value:                                                                                   \
    return message;
    ARQ_HTTP_ERRORS(ARQ__HTTP_ERR_MSG)
#undef ARQ__HTTP_ERR_MSG
  }
  return "unknown error";
}

int arq_http_error_status(int e) {
  switch (e) {
#define ARQ__HTTP_ERR_STATUS(name, value, status, message)                                       \
  case value:                                                                                   \
    return status;
    ARQ_HTTP_ERRORS(ARQ__HTTP_ERR_STATUS)
#undef ARQ__HTTP_ERR_STATUS
  }
  return 500;
}
