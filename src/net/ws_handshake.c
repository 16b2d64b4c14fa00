/*
 * ws_handshake.c — the server side of the RFC 6455 opening handshake (section 4.2).
 */
#include "net/ws.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "common/base64.h"

static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* 16 bytes in standard base64: 22 characters and "==". Only the canonical encoding is a
 * key (the low bits of the last character zero, no URL-safe digits): it must encode back
 * to itself. */
static bool key_valid(const char *key, size_t len) {
  uint8_t raw[ARQ_BASE64_DECODED_CAP(24)];
  if (len != 24 || arq_base64_decode(key, len, raw) != 16)
    return false;
  arq_buf_t again;
  arq_buf_init(&again);
  arq_base64_append(&again, raw, 16);
  bool same = again.len == 24 && !memcmp(again.data, key, 24);
  arq_buf_free(&again);
  return same;
}

int arq_ws_accept_key(const char *key, size_t key_len, char out[29]) {
  if (!key_valid(key, key_len))
    return -1;
  char joined[24 + sizeof guid - 1];
  memcpy(joined, key, 24);
  memcpy(joined + 24, guid, sizeof guid - 1);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  if (!EVP_Digest(joined, sizeof joined, digest, &dlen, EVP_sha1(), NULL) || dlen != 20)
    return -1;
  EVP_EncodeBlock((unsigned char *)out, digest, 20); /* 28 characters and a NUL */
  return 0;
}

static size_t count(const arq_http_request_t *r, const char *name) {
  size_t n = 0, len = strlen(name);
  for (size_t i = 0; i < r->nheaders; i++)
    if (r->headers[i].name_len == len && strncasecmp(r->headers[i].name, name, len) == 0)
      n++;
  return n;
}

static bool has_token(const arq_http_request_t *r, const char *name, const char *token) {
  size_t len = strlen(name);
  for (size_t i = 0; i < r->nheaders; i++) {
    const arq_http_header_t *h = &r->headers[i];
    if (h->name_len == len && strncasecmp(h->name, name, len) == 0 &&
        arq_http_header_has_token(h->value, h->value_len, token))
      return true;
  }
  return false;
}

static int refuse(const char **problem, int status, const char *why) {
  if (problem)
    *problem = why;
  return status;
}

int arq_ws_check_upgrade(const arq_http_request_t *r, const char **problem) {
  if (r->method_len != 3 || memcmp(r->method, "GET", 3) != 0)
    return refuse(problem, 405, "a WebSocket upgrade must use GET");
  if (r->minor_version != 1)
    return refuse(problem, 400, "a WebSocket upgrade needs HTTP/1.1");
  if (!has_token(r, "Upgrade", "websocket"))
    return refuse(problem, 400, "missing \"Upgrade: websocket\"");
  if (!has_token(r, "Connection", "upgrade"))
    return refuse(problem, 400, "missing \"Connection: Upgrade\"");
  const arq_http_header_t *v = arq_http_header(r, "Sec-WebSocket-Version");
  if (!v || count(r, "Sec-WebSocket-Version") != 1 || v->value_len != 2 ||
      memcmp(v->value, "13", 2) != 0)
    return refuse(problem, 426, "Sec-WebSocket-Version must be 13");
  const arq_http_header_t *k = arq_http_header(r, "Sec-WebSocket-Key");
  if (!k)
    return refuse(problem, 400, "missing Sec-WebSocket-Key");
  if (count(r, "Sec-WebSocket-Key") != 1)
    return refuse(problem, 400, "more than one Sec-WebSocket-Key");
  if (!key_valid(k->value, k->value_len))
    return refuse(problem, 400, "Sec-WebSocket-Key is not base64 of 16 bytes");
  if (problem)
    *problem = NULL;
  return 0;
}

void arq_ws_write_upgrade(arq_buf_t *out, const char accept[29], const char *extra_headers) {
  arq_buf_puts(out, "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: ");
  arq_buf_append(out, accept, 28);
  arq_buf_puts(out, "\r\n");
  if (extra_headers)
    arq_buf_puts(out, extra_headers);
  arq_buf_puts(out, "\r\n");
}
