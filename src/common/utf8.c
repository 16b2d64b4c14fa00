/*
 * utf8.c — UTF-8 validation, whole-buffer, per sequence and incremental.
 *
 * DESIGN
 *   Everything follows one table, k_lead: for each lead byte, how many continuation bytes
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
#define PACK(remaining, lo, hi) ((uint32_t)(remaining) | (uint32_t)(lo) << 8 | (uint32_t)(hi) << 16)
#define X FAILED
#define A 0u /* ASCII: k_lead is not consulted for these */
#define L2 PACK(1, 0x80, 0xBF)
#define L3 PACK(2, 0x80, 0xBF)
#define E0 PACK(2, 0xA0, 0xBF) /* no overlong 3-byte forms */
#define ED PACK(2, 0x80, 0x9F) /* no surrogates */
#define L4 PACK(3, 0x80, 0xBF)
#define F0 PACK(3, 0x90, 0xBF) /* no overlong 4-byte forms */
#define F4 PACK(3, 0x80, 0x8F) /* nothing above U+10FFFF */
#define R8(v) v, v, v, v, v, v, v, v
#define R16(v) R8(v), R8(v)

/* The state after each lead byte: 80..BF (stray continuation), C0/C1 (overlong 2-byte)
 * and F5..FF fail. */
static const uint32_t k_lead[] = {
    R16(A), R16(A), R16(A), R16(A), R16(A), R16(A), R16(A), R16(A), /* 00..7F */
    R16(X), R16(X), R16(X), R16(X),                                 /* 80..BF */
    X, X, L2, L2, L2, L2, L2, L2, R8(L2),                           /* C0..CF */
    R16(L2),                                                        /* D0..DF */
    E0, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, ED, L3, L3, /* E0..EF */
    F0, L4, L4, L4, F4, X, X, X, R8(X),                             /* F0..FF */
};
_Static_assert(sizeof k_lead / sizeof k_lead[0] == 256, "one entry per byte");

#undef X
#undef A
#undef L2
#undef L3
#undef E0
#undef ED
#undef L4
#undef F0
#undef F4
#undef R8
#undef R16

static uint32_t pack(uint32_t remaining, uint32_t lo, uint32_t hi) { return PACK(remaining, lo, hi); }

/* The length of the sequence at p (p[0] >= 0x80) within avail bytes, or 0. */
static inline size_t seq_len(const uint8_t *p, size_t avail) {
  uint32_t s = k_lead[p[0]];
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

size_t arq_utf8_seq_len(const uint8_t *p, size_t avail) {
  if (!avail)
    return 0;
  return p[0] < 0x80 ? 1 : seq_len(p, avail);
}

size_t arq_utf8_check(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    while (n - i >= 8) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      if (w & HIGH_BITS)
        break;
      i += 8;
    }
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

bool arq__utf8_valid(const uint8_t *s, size_t n) { return arq_utf8_valid(s, n); }

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
        if (w & HIGH_BITS)
          break;
        i += 8;
      }
      if (i == n)
        break;
      uint8_t c = p[i++];
      if (c >= 0x80 && (s = k_lead[c]) == FAILED)
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
