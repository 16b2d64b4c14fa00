/* common/utf8: the project's one UTF-8 validator, on hostile input. Every boundary of
 * RFC 3629's table (first and last code point of each length, overlong 2/3/4-byte forms,
 * the surrogates D800..DFFF, F4 90 and above, C0/C1 and F5..FF leads, stray and missing
 * continuation bytes), each through all entry points (whole buffer, offset of the first bad
 * sequence, one sequence, incremental with every split); then every 1-, 2- and 3-byte
 * sequence and every 4-byte lead/second-byte pair against a reference decoder written
 * independently (assemble the code point, then check the range). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"

typedef struct {
  const char *bytes;
  size_t len;
  bool valid;
  size_t bad_at; /* arq_utf8_check's answer when invalid */
} sample_t;

#define OK(lit) {lit, sizeof lit - 1, true, sizeof lit - 1}
#define BAD(lit, at) {lit, sizeof lit - 1, false, at}

static const sample_t samples[] = {
    OK(""),
    OK("hello, world"),
    OK("\x00"), /* U+0000 is a character */
    OK("\x7F"),
    OK("\xC2\x80"),                 /* U+0080, first 2-byte */
    OK("\xDF\xBF"),                 /* U+07FF, last 2-byte */
    OK("\xE0\xA0\x80"),             /* U+0800, first 3-byte */
    OK("\xED\x9F\xBF"),             /* U+D7FF, last before the surrogates */
    OK("\xEE\x80\x80"),             /* U+E000, first after them */
    OK("\xEF\xBF\xBF"),             /* U+FFFF: a noncharacter, valid UTF-8 */
    OK("\xEF\xBB\xBF"),             /* U+FEFF, BOM: valid */
    OK("\xF0\x90\x80\x80"),         /* U+10000, first 4-byte */
    OK("\xF4\x8F\xBF\xBF"),         /* U+10FFFF, the last code point */
    OK("\xF3\xBF\xBF\xBF"),         /* U+FFFFF */
    OK("ab\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z"), /* mixed */
    OK("0123456789abcdef\xCE\xBA"), /* after the 8-byte ASCII skip */
    /* C0, C1: overlong 2-byte leads */
    BAD("\xC0\x80", 0),             /* overlong U+0000 */
    BAD("\xC0\xAF", 0),             /* overlong '/' */
    BAD("\xC1\xBF", 0),             /* overlong U+007F */
    /* overlong 3-byte forms: E0 80..9F */
    BAD("\xE0\x80\x80", 0),
    BAD("\xE0\x80\xAF", 0),         /* overlong '/' */
    BAD("\xE0\x9F\xBF", 0),         /* overlong U+07FF */
    /* overlong 4-byte forms: F0 80..8F */
    BAD("\xF0\x80\x80\x80", 0),
    BAD("\xF0\x80\x80\xAF", 0),     /* overlong '/' */
    BAD("\xF0\x8F\xBF\xBF", 0),     /* overlong U+FFFF */
    /* surrogates */
    BAD("\xED\xA0\x80", 0),         /* U+D800 */
    BAD("\xED\xAD\xBF", 0),         /* U+DB7F */
    BAD("\xED\xAE\x80", 0),         /* U+DB80 */
    BAD("\xED\xB0\x80", 0),         /* U+DC00 */
    BAD("\xED\xBF\xBF", 0),         /* U+DFFF */
    BAD("\xED\xA0\x80\xED\xB0\x80", 0), /* a CESU-8 pair */
    /* above U+10FFFF */
    BAD("\xF4\x90\x80\x80", 0),     /* U+110000 */
    BAD("\xF4\xBF\xBF\xBF", 0),
    BAD("\xF5\x80\x80\x80", 0),
    BAD("\xF7\xBF\xBF\xBF", 0),     /* U+1FFFFF */
    BAD("\xF8\x88\x80\x80\x80", 0), /* old 5-byte form */
    BAD("\xFC\x84\x80\x80\x80\x80", 0), /* old 6-byte form */
    BAD("\xFE", 0),
    BAD("\xFF", 0),
    BAD("a\xFE\xFE\xFF\xFF", 1),
    /* stray continuation bytes */
    BAD("\x80", 0),
    BAD("\xBF", 0),
    BAD("a\x80" "b", 1),
    BAD("\xC2\x80\x80", 2),         /* one continuation too many */
    BAD("0123456789\x80", 10),
    /* missing continuation bytes, at the end and in the middle */
    BAD("\xC2", 0),
    BAD("\xE0\xA0", 0),
    BAD("\xE1", 0),
    BAD("\xF0\x90\x80", 0),
    BAD("\xF4\x8F\xBF", 0),
    BAD("ok\xF1\x80\x80", 2),
    BAD("\xC2" "A", 0),
    BAD("\xE2\x82" "A", 0),
    BAD("\xF0\x9F\x98" "A", 0),
    BAD("\xE2\x28\xA1", 0),
    BAD("\xF0\x28\x8C\xBC", 0),
    BAD("\xF0\x90\x28\xBC", 0),
    BAD("\xF0\x90\x8C\x28", 0),
    BAD("x\xC3\xA9y\xC3", 4),
};

static const uint8_t *B(const sample_t *s) { return (const uint8_t *)s->bytes; }

static void whole_buffer(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    const sample_t *s = &samples[i];
    if (arq_utf8_valid(B(s), s->len) != s->valid)
      fail_msg("sample %zu: valid should be %d", i, s->valid);
    if (arq_utf8_check(B(s), s->len) != s->bad_at)
      fail_msg("sample %zu: check %zu, expected %zu", i, arq_utf8_check(B(s), s->len), s->bad_at);
    assert_int_equal(arq_utf8_valid(B(s), s->len), s->valid);
  }
}

/* Walking the buffer sequence by sequence agrees with the whole-buffer answer. */
static void sequence_by_sequence(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    const sample_t *s = &samples[i];
    size_t at = 0, n;
    while (at < s->len && (n = arq_utf8_seq_len(B(s) + at, s->len - at)) != 0)
      at += n;
    if (at != s->bad_at)
      fail_msg("sample %zu: stopped at %zu, expected %zu", i, at, s->bad_at);
  }
  assert_int_equal(arq_utf8_seq_len((const uint8_t *)"", 0), 0);
  assert_int_equal(arq_utf8_seq_len((const uint8_t *)"A", 1), 1);
  assert_int_equal(arq_utf8_seq_len((const uint8_t *)"\xE2\x82\xAC", 3), 3);
  /* avail cuts the sequence: no reading past it */
  assert_int_equal(arq_utf8_seq_len((const uint8_t *)"\xE2\x82\xAC", 2), 0);
  assert_int_equal(arq_utf8_seq_len((const uint8_t *)"\xF0\x9F\x98\x80", 3), 0);
}

/* Every split into two, and byte by byte, gives the whole-buffer answer; a failed state
 * stays failed; a truncated end is not complete. */
static void incremental(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    const sample_t *s = &samples[i];
    for (size_t cut = 0; cut <= s->len; cut++) {
      arq_utf8_t u;
      arq_utf8_init(&u);
      bool ok = arq_utf8_feed(&u, B(s), cut) && arq_utf8_feed(&u, B(s) + cut, s->len - cut) &&
                arq_utf8_complete(&u);
      if (ok != s->valid)
        fail_msg("sample %zu split at %zu: %d", i, cut, ok);
    }
    arq_utf8_t u;
    arq_utf8_init(&u);
    bool ok = true;
    for (size_t k = 0; k < s->len && ok; k++)
      ok = arq_utf8_feed(&u, B(s) + k, 1);
    assert_int_equal(ok && arq_utf8_complete(&u), s->valid);
    if (!ok)
      assert_false(arq_utf8_feed(&u, (const uint8_t *)"a", 1)); /* stays failed */
  }
  arq_utf8_t u;
  arq_utf8_init(&u);
  assert_true(arq_utf8_feed(&u, (const uint8_t *)"\xF0\x9F", 2));
  assert_false(arq_utf8_complete(&u));
  assert_true(arq_utf8_feed(&u, (const uint8_t *)"\x98\x80", 2));
  assert_true(arq_utf8_complete(&u));
}

/* The reference: assemble the code point from the bit pattern of the lead byte, then
 * apply the ranges. Returns the length, or 0. */
static size_t reference(const uint8_t *p, size_t n) {
  if (!n)
    return 0;
  if (p[0] < 0x80)
    return 1;
  size_t len;
  uint32_t cp, min;
  if ((p[0] & 0xE0) == 0xC0)
    len = 2, cp = p[0] & 0x1Fu, min = 0x80;
  else if ((p[0] & 0xF0) == 0xE0)
    len = 3, cp = p[0] & 0x0Fu, min = 0x800;
  else if ((p[0] & 0xF8) == 0xF0)
    len = 4, cp = p[0] & 0x07u, min = 0x10000;
  else
    return 0;
  if (n < len)
    return 0;
  for (size_t k = 1; k < len; k++) {
    if ((p[k] & 0xC0) != 0x80)
      return 0;
    cp = cp << 6 | (p[k] & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

static bool reference_valid(const uint8_t *p, size_t n) {
  size_t at = 0, len;
  while (at < n && (len = reference(p + at, n - at)) != 0)
    at += len;
  return at == n;
}

static void agree(const uint8_t *b, size_t n) {
  size_t want = reference(b, n);
  size_t got = arq_utf8_seq_len(b, n);
  if (got != want)
    fail_msg("%02X %02X %02X %02X (n %zu): seq_len %zu, reference %zu", b[0], n > 1 ? b[1] : 0,
             n > 2 ? b[2] : 0, n > 3 ? b[3] : 0, n, got, want);
  bool whole = reference_valid(b, n);
  if (arq_utf8_valid(b, n) != whole)
    fail_msg("%02X %02X %02X %02X (n %zu): valid %d", b[0], n > 1 ? b[1] : 0, n > 2 ? b[2] : 0,
             n > 3 ? b[3] : 0, n, !whole);
  arq_utf8_t u;
  arq_utf8_init(&u);
  assert_int_equal(arq_utf8_feed(&u, b, n) && arq_utf8_complete(&u), whole);
}

static void exhaustive_against_reference(void **state) {
  (void)state;
  uint8_t b[4];
  unsigned valid2 = 0, valid3 = 0;
  for (unsigned a = 0; a < 256; a++) {
    b[0] = (uint8_t)a;
    agree(b, 1);
    for (unsigned c = 0; c < 256; c++) {
      b[1] = (uint8_t)c;
      agree(b, 2);
      valid2 += reference(b, 2) == 2;
      if (a < 0xE0 || a > 0xEF)
        continue; /* 3-byte leads: every third byte */
      for (unsigned d = 0; d < 256; d++) {
        b[2] = (uint8_t)d;
        agree(b, 3);
        valid3 += reference(b, 3) == 3;
      }
    }
  }
  /* every 4-byte lead with every second byte, and the edges of the last two */
  static const uint8_t tails[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
  for (unsigned a = 0xF0; a < 256; a++)
    for (unsigned c = 0; c < 256; c++)
      for (size_t x = 0; x < sizeof tails; x++)
        for (size_t y = 0; y < sizeof tails; y++) {
          b[0] = (uint8_t)a, b[1] = (uint8_t)c, b[2] = tails[x], b[3] = tails[y];
          agree(b, 4);
        }
  assert_int_equal(valid2, 0x800 - 0x80);                     /* U+0080..U+07FF */
  assert_int_equal(valid3, 0x10000 - 0x800 - 0x800);          /* less the surrogates */
}

/* Every code point encodes to a valid sequence of the expected length. */
static void every_code_point(void **state) {
  (void)state;
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
    if (cp >= 0xD800 && cp <= 0xDFFF)
      continue;
    uint8_t b[4];
    size_t n;
    if (cp < 0x80)
      b[0] = (uint8_t)cp, n = 1;
    else if (cp < 0x800)
      b[0] = (uint8_t)(0xC0 | cp >> 6), b[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
      b[0] = (uint8_t)(0xE0 | cp >> 12), b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)),
      b[2] = (uint8_t)(0x80 | (cp & 0x3F)), n = 3;
    else
      b[0] = (uint8_t)(0xF0 | cp >> 18), b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F)),
      b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)), b[3] = (uint8_t)(0x80 | (cp & 0x3F)), n = 4;
    if (arq_utf8_seq_len(b, n) != n || !arq_utf8_valid(b, n))
      fail_msg("U+%04X rejected", cp);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(whole_buffer),
      cmocka_unit_test(sequence_by_sequence),
      cmocka_unit_test(incremental),
      cmocka_unit_test(exhaustive_against_reference),
      cmocka_unit_test(every_code_point),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
