/*
 * utf8.c — incremental UTF-8 validation.
 *
 * DESIGN
 *   The state is the number of continuation bytes still expected plus the range the next
 *   one must fall in: that range is what rules out overlongs (E0 needs A0..BF, F0 needs
 *   90..BF), surrogates (ED needs 80..9F) and code points past U+10FFFF (F4 needs 80..8F).
 *   Between characters the state is 0, and the loop then skips ASCII eight bytes at a time,
 *   which is what almost all protocol text is.
 */
#include "net/utf8.h"

#include <string.h>

#define FAILED UINT32_MAX

static uint32_t pack(uint32_t remaining, uint32_t lo, uint32_t hi) {
  return remaining | lo << 8 | hi << 16;
}

/* The state after lead byte c, or FAILED. */
static uint32_t lead(uint8_t c) {
  if (c >= 0xC2 && c <= 0xDF)
    return pack(1, 0x80, 0xBF);
  if (c == 0xE0)
    return pack(2, 0xA0, 0xBF);
  if (c == 0xED)
    return pack(2, 0x80, 0x9F);
  if (c >= 0xE1 && c <= 0xEF)
    return pack(2, 0x80, 0xBF);
  if (c == 0xF0)
    return pack(3, 0x90, 0xBF);
  if (c >= 0xF1 && c <= 0xF3)
    return pack(3, 0x80, 0xBF);
  if (c == 0xF4)
    return pack(3, 0x80, 0x8F);
  return FAILED; /* 80..C1 (stray continuation, overlong 2-byte lead), F5..FF */
}

void arq_utf8_init(arq_utf8_t *u) { u->state = 0; }

bool arq_utf8_feed(arq_utf8_t *u, const uint8_t *p, size_t n) {
  uint32_t s = u->state;
  if (s == FAILED)
    return false;
  size_t i = 0;
  while (i < n) {
    if (s == 0) {
      while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080u)
          break;
        i += 8;
      }
      if (i == n)
        break;
      uint8_t c = p[i++];
      if (c >= 0x80 && (s = lead(c)) == FAILED)
        break;
      continue;
    }
    uint8_t c = p[i++];
    if (c < ((s >> 8) & 0xFF) || c > (s >> 16)) {
      s = FAILED;
      break;
    }
    s = (s & 0xFF) == 1 ? 0 : pack((s & 0xFF) - 1, 0x80, 0xBF);
  }
  u->state = s;
  return s != FAILED;
}

bool arq_utf8_complete(const arq_utf8_t *u) { return u->state == 0; }

bool arq_utf8_valid(const uint8_t *p, size_t n) {
  arq_utf8_t u;
  arq_utf8_init(&u);
  return arq_utf8_feed(&u, p, n) && arq_utf8_complete(&u);
}
