/*
 * http_fields.c — reading what a parsed request carries: header lookup, token lists
 * (Connection, Upgrade) and query parameters (?token=... for browsers, which cannot set
 * an Authorization header on a WebSocket).
 */
#include "net/http.h"

#include <string.h>

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

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = (char)(c | 0x20);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes s[0..n) into out[0..cap) (NUL-terminated); the decoded length, or -2. */
static int decode(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (n - i < 3)
        return -2;
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0 || (hi | lo) == 0)
        return -2;
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    if (o + 1 >= cap)
      return -2;
    out[o++] = c;
  }
  if (cap == 0)
    return -2;
  out[o] = '\0';
  return (int)o;
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
    int k = decode(pair, key_len, key, sizeof key);
    if (k < 0 || (size_t)k != want || memcmp(key, name, want) != 0)
      continue;
    if (!eq)
      return decode("", 0, out, cap);
    return decode(eq + 1, pair_len - key_len - 1, out, cap);
  }
  return -1;
}
