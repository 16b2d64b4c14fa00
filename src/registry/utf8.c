/*
 * utf8.c — strict UTF-8 validation for string fields: no overlong forms, no surrogates,
 * nothing above U+10FFFF (what protobuf's own parsers require of proto3 strings).
 * ASCII, the common case, is skipped eight bytes at a time.
 */
#include "registry/compiled.h"

#include <string.h>

bool arq__utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (n - i >= 8) {
      uint64_t chunk;
      memcpy(&chunk, s + i, 8);
      if (!(chunk & UINT64_C(0x8080808080808080))) {
        i += 8;
        continue;
      }
    }
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the first continuation byte */
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c == 0xe0)
        lo = 0xa0; /* overlong */
      else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c == 0xf0)
        lo = 0x90; /* overlong */
      else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    } else {
      return false;
    }
    if (n - i - 1 < need)
      return false;
    if (s[i + 1] < lo || s[i + 1] > hi)
      return false;
    for (size_t k = 2; k <= need; k++)
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
    i += need + 1;
  }
  return true;
}
