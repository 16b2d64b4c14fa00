/*
 * utf8.c — UTF-8 validation, whole-buffer, per sequence and incremental.
 *
 * DESIGN
 *   Everything follows one function, lead(): for each lead byte, how many continuation bytes
 *   follow and the range the FIRST of them must fall in. That range is what rules out the
 *   overlongs (E0 needs A0..BF, F0 needs 90..BF; C0 and C1 are never leads), the surrogates
 *   (ED needs 80..9F) and the code points past U+10FFFF (F4 needs 80..8F, F5..FF are never
 *   leads); every later continuation byte is 80..BF. This is RFC 3629's table of
 *   well-formed sequences, so no code point is ever assembled.
 *
 *   The whole-buffer and incremental loops skip ASCII eight bytes at a time between
 *   characters, which is what almost all protocol text is.
 */
#include "common/utf8.h"

#include <string.h>

#define FAILED UINT32_MAX
#define HIGH_BITS UINT64_C(0x8080808080808080)

/* A state: the continuation bytes still expected, and the range of the next one. */
static inline uint32_t pack(uint32_t remaining, uint32_t lo, uint32_t hi) {
  return remaining | lo << 8 | hi << 16;
}

/* The state after lead byte c (>= 0x80), or FAILED. Branches rather than a table: lead
 * bytes repeat in real text, and predicted branches beat a table load on that path. */
static inline uint32_t lead(uint8_t c) {
  if (c >= 0xC2 && c <= 0xDF)
    return pack(1, 0x80, 0xBF);
  if (c >= 0xE0 && c <= 0xEF)
    return pack(2, c == 0xE0 ? 0xA0 : 0x80, c == 0xED ? 0x9F : 0xBF); /* overlong; surrogates */
  if (c >= 0xF0 && c <= 0xF4)
    return pack(3, c == 0xF0 ? 0x90 : 0x80, c == 0xF4 ? 0x8F : 0xBF); /* overlong; > U+10FFFF */
  return FAILED; /* 80..BF (stray continuation), C0/C1 (overlong 2-byte), F5..FF */
}

/* The length of the sequence at p (p[0] >= 0x80) within avail bytes, or 0. */
static inline size_t seq_len(const uint8_t *p, size_t avail) {
  uint32_t s = lead(p[0]);
  size_t need = s & 0xFF;
  if (s == FAILED || avail <= need)
    return 0;
  if ((uint32_t)(p[1] - ((s >> 8) & 0xFF)) > ((s >> 16) - ((s >> 8) & 0xFF)))
    return 0; /* outside lo..hi */
  if (need >= 2 && (p[2] & 0xC0) != 0x80)
    return 0;
  if (need == 3 && (p[3] & 0xC0) != 0x80)
    return 0;
  return need + 1;
}

/* Past the ASCII bytes from i, eight at a time while there are eight. */
static inline size_t skip_ascii8(const uint8_t *p, size_t i, size_t n) {
  while (n - i >= 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w & HIGH_BITS)
      break;
    i += 8;
  }
  return i;
}

size_t arq_utf8_seq_len(const uint8_t *p, size_t avail) {
  if (!avail)
    return 0;
  return p[0] < 0x80 ? 1 : seq_len(p, avail);
}

size_t arq_utf8_check(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    i = skip_ascii8(p, i, n);
    while (i < n && p[i] < 0x80)
      i++;
    if (i == n)
      break;
    size_t len = seq_len(p + i, n - i);
    if (!len)
      return i;
    i += len;
  }
  return n;
}

bool arq_utf8_valid(const uint8_t *p, size_t n) { return arq_utf8_check(p, n) == n; }


void arq_utf8_init(arq_utf8_t *u) { u->state = 0; }

bool arq_utf8_feed(arq_utf8_t *u, const uint8_t *p, size_t n) {
  uint32_t s = u->state;
  if (s == FAILED)
    return false;
  size_t i = 0;
  while (i < n) {
    if (s == 0) {
      i = skip_ascii8(p, i, n);
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
