/* libFuzzer target for the HTTP request-head parser and the helpers that read its result.
 * Beyond "no crash, no overread", it checks the contract: an accepted head lies inside the
 * input, its views lie inside the head, the head parses the same without the bytes after
 * it, and a proper prefix of it needs more bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static arq_http_request_t req, again;

static void inside(const char *base, size_t len, const char *p, size_t n) {
  if (n && (p < base || p + n > base + len))
    abort();
}

static void check_accepted(const char *buf, size_t size, int rc) {
  size_t head = (size_t)rc;
  if (head > size || head < 4 || memcmp(buf + head - 4, "\r\n\r\n", 4) != 0)
    abort();
  inside(buf, head, req.method, req.method_len);
  inside(buf, head, req.target, req.target_len);
  inside(req.target, req.target_len, req.path, req.path_len);
  inside(req.target, req.target_len, req.query, req.query_len);
  if (req.nheaders > ARQ_HTTP_MAX_HEADERS || req.target_len > ARQ_HTTP_MAX_TARGET)
    abort();
  for (size_t i = 0; i < req.nheaders; i++) {
    const arq_http_header_t *h = &req.headers[i];
    inside(buf, head, h->name, h->name_len);
    inside(buf, head, h->value, h->value_len);
    (void)arq_http_header_has_token(h->value, h->value_len, "close");
  }
  char out[64];
  (void)arq_http_query_param(req.query, req.query_len, "token", out, sizeof out);
  (void)arq_http_header(&req, "Sec-WebSocket-Key");

  if (arq_http_parse_request(buf, head, 8192, &again) != rc)
    abort();
  /* a copy of just the head, so that ASan sees any read past it */
  size_t cuts[] = {head - 1, head / 2, head - 2};
  char *copy = malloc(head);
  memcpy(copy, buf, head);
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++)
    if (arq_http_parse_request(copy, cuts[i], 8192, &again) != 0)
      abort();
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  int rc = arq_http_parse_request(buf, size, 8192, &req);
  if (rc > 0) {
    check_accepted(buf, size, rc);
  } else if (rc < 0) {
    int st = arq_http_error_status(rc);
    if (!req.problem || (st != 400 && st != 414 && st != 431 && st != 501 && st != 505))
      abort();
  } else if (size >= 8192) {
    abort();
  }
  /* a small limit exercises the 431 path at every position */
  size_t small = size > 1 ? data[0] % size : 1;
  rc = arq_http_parse_request(buf, size, small, &req);
  if (rc > 0 && (size_t)rc > small)
    abort();
  return 0;
}
