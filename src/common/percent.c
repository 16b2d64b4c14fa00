#include "common/percent.h"

int arq_hex_value(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

long arq_percent_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      c = ' ';
    } else if (c == '%') {
      if (n - i < 3)
        return -1;
      int hi = arq_hex_value((unsigned char)s[i + 1]), lo = arq_hex_value((unsigned char)s[i + 2]);
      if (hi < 0 || lo < 0 || (hi | lo) == 0)
        return -1;
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    if (o + 1 >= cap)
      return -1;
    out[o++] = c;
  }
  if (cap == 0)
    return -1;
  out[o] = '\0';
  return (long)o;
}
