/*
 * http_fields.c — reading what a parsed request carries: header lookup, token lists
 * (Connection, Upgrade) and query parameters (?token=... for browsers, which cannot set
 * an Authorization header on a WebSocket).
 */
#include "net/http.h"

#include <string.h>

#include "common/percent.h"

static unsigned char lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

static bool caseeq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
      return false;
  return true;
}

const arq_http_header_t *arq_http_header(const arq_http_request_t *r, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < r->nheaders; i++) {
    const arq_http_header_t *h = &r->headers[i];
    if (h->name_len == n && caseeq(h->name, name, n))
      return h;
  }
  return NULL;
}

static bool ows(char c) { return c == ' ' || c == '\t'; }

bool arq_http_header_has_token(const char *value, size_t len, const char *token) {
  size_t n = strlen(token);
  size_t i = 0;
  while (i <= len) {
    size_t start = i;
    while (i < len && value[i] != ',')
      i++;
    size_t end = i;
    while (start < end && ows(value[start]))
      start++;
    while (end > start && ows(value[end - 1]))
      end--;
    if (end - start == n && caseeq(value + start, token, n))
      return true;
    i++; /* past the comma, or past the end */
  }
  return false;
}

/* Form-decodes a query parameter; the length, or -2 (the caller's "malformed"). */
static int decode_param(const char *s, size_t n, char *out, size_t cap) {
  long got = arq_percent_decode(s, n, true, out, cap);
  return got < 0 ? -2 : (int)got;
}

int arq_http_query_param(const char *query, size_t len, const char *name, char *out, size_t cap) {
  if (cap > (size_t)1 << 30)
    cap = (size_t)1 << 30; /* the length is returned as an int */
  size_t want = strlen(name);
  char key[256];
  size_t i = 0;
  while (i < len) {
    size_t start = i;
    while (i < len && query[i] != '&')
      i++;
    const char *pair = query + start;
    size_t pair_len = i - start;
    i++;
    const char *eq = memchr(pair, '=', pair_len);
    size_t key_len = eq ? (size_t)(eq - pair) : pair_len;
    int k = decode_param(pair, key_len, key, sizeof key);
    if (k < 0 || (size_t)k != want || memcmp(key, name, want) != 0)
      continue;
    if (!eq)
      return decode_param("", 0, out, cap);
    return decode_param(eq + 1, pair_len - key_len - 1, out, cap);
  }
  return -1;
}
