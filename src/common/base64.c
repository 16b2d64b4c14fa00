#include "common/base64.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of a digit, or -1. `*alphabet` remembers whether the value has used the
 * standard (1) or the URL-safe (2) digits 62 and 63, so that a mixture is refused. */
static int b64_digit(unsigned char c, int *alphabet) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  int std = c == '+' ? 62 : c == '/' ? 63 : -1;
  int url = c == '-' ? 62 : c == '_' ? 63 : -1;
  if (std >= 0 && *alphabet != 2) {
    *alphabet = 1;
    return std;
  }
  if (url >= 0 && *alphabet != 1) {
    *alphabet = 2;
    return url;
  }
  return -1;
}

long arq_base64_decode(const char *s, size_t len, uint8_t *out) {
  size_t n = len;
  size_t pad = 0;
  while (n > 0 && s[n - 1] == '=' && pad < 2) {
    n--;
    pad++;
  }
  if (pad && len % 4 != 0)
    return -1;
  if (n % 4 == 1) /* six bits cannot end a byte */
    return -1;
  int alphabet = 0;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int d = b64_digit((unsigned char)s[i], &alphabet);
    if (d < 0)
      return -1;
    acc = (acc << 6 | (uint32_t)d) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  return (long)o;
}

void arq_base64_append(arq_buf_t *b, const uint8_t *p, size_t len) {
  arq_buf_reserve(b, (len + 2) / 3 * 4);
  char q[4];
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    q[0] = b64_std[v >> 18];
    q[1] = b64_std[v >> 12 & 63];
    q[2] = b64_std[v >> 6 & 63];
    q[3] = b64_std[v & 63];
    arq_buf_append(b, q, 4);
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)p[i] << 16;
    q[0] = b64_std[v >> 18];
    q[1] = b64_std[v >> 12 & 63];
    q[2] = q[3] = '=';
    arq_buf_append(b, q, 4);
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    q[0] = b64_std[v >> 18];
    q[1] = b64_std[v >> 12 & 63];
    q[2] = b64_std[v >> 6 & 63];
    q[3] = '=';
    arq_buf_append(b, q, 4);
  }
}
