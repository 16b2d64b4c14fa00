/* The incremental UTF-8 validator, on the boundary cases of Markus Kuhn's UTF-8 decoder
 * stress test: first and last code points of each length, overlongs, surrogates, stray and
 * missing continuation bytes, impossible bytes; and every split of each case. */
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
} sample_t;

#define S(lit, ok) {lit, sizeof lit - 1, ok}

static const sample_t samples[] = {
    S("", true),
    S("hello, world", true),
    S("\x00", true), /* U+0000 is a character */
    S("\x7F", true),
    S("\xC2\x80", true),                /* first 2-byte */
    S("\xDF\xBF", true),                /* last 2-byte */
    S("\xE0\xA0\x80", true),            /* first 3-byte */
    S("\xEF\xBF\xBF", true),            /* U+FFFF: a noncharacter, but valid UTF-8 */
    S("\xF0\x90\x80\x80", true),        /* first 4-byte */
    S("\xF4\x8F\xBF\xBF", true),        /* U+10FFFF */
    S("\xED\x9F\xBF", true),            /* U+D7FF, before the surrogates */
    S("\xEE\x80\x80", true),            /* U+E000, after them */
    S("\xEF\xBF\xBD", true),            /* U+FFFD */
    S("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", true), /* "kosme" in Greek */
    S("\xF4\x90\x80\x80", false),       /* U+110000 */
    S("\xF5\x80\x80\x80", false),
    S("\xF8\x88\x80\x80\x80", false),   /* old 5-byte form */
    S("\xFC\x84\x80\x80\x80\x80", false),
    S("\x80", false),                   /* lone continuation */
    S("\xBF", false),
    S("a\x80\xBF", false),
    S("\xC0\xAF", false),               /* overlong '/' */
    S("\xC1\xBF", false),
    S("\xE0\x80\xAF", false),
    S("\xE0\x9F\xBF", false),           /* largest overlong 3-byte */
    S("\xF0\x80\x80\xAF", false),
    S("\xF0\x8F\xBF\xBF", false),       /* largest overlong 4-byte */
    S("\xC0\x80", false),               /* overlong NUL */
    S("\xED\xA0\x80", false),           /* U+D800 */
    S("\xED\xAD\xBF", false),
    S("\xED\xAE\x80", false),
    S("\xED\xBF\xBF", false),           /* U+DFFF */
    S("\xED\xA0\x80\xED\xB0\x80", false), /* a surrogate pair, CESU-style */
    S("\xC2", false),                   /* truncated sequences */
    S("\xE0\xA0", false),
    S("\xF0\x90\x80", false),
    S("\xC2\x41", false),               /* continuation missing */
    S("\xE1\x80\x41", false),
    S("\xF1\x80\x80\x41", false),
    S("\xFE", false),
    S("\xFF", false),
    S("\xFE\xFE\xFF\xFF", false),
    S("0123456789abcdef\xC2\x80", true), /* past the 8-byte fast path */
    S("0123456789abcdef\x80", false),
    S("01234567\xE0\xA0\x80" "89abcdef01234567", true),
    S("0123456789abcde\xE2\x82", false),
};

static void whole(void **state) {
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    const sample_t *s = &samples[i];
    if (arq_utf8_valid((const uint8_t *)s->bytes, s->len) != s->valid)
      fail_msg("sample %zu: expected %s", i, s->valid ? "valid" : "invalid");
  }
}

/* Fed in two pieces at every split point, and byte by byte, the verdict is the same. */
static void splits(void **state) {
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    const sample_t *s = &samples[i];
    const uint8_t *p = (const uint8_t *)s->bytes;
    for (size_t cut = 0; cut <= s->len; cut++) {
      arq_utf8_t u;
      arq_utf8_init(&u);
      bool ok = arq_utf8_feed(&u, p, cut) && arq_utf8_feed(&u, p + cut, s->len - cut) &&
                arq_utf8_complete(&u);
      if (ok != s->valid)
        fail_msg("sample %zu split at %zu", i, cut);
    }
    arq_utf8_t u;
    arq_utf8_init(&u);
    bool ok = true;
    for (size_t k = 0; k < s->len && ok; k++)
      ok = arq_utf8_feed(&u, p + k, 1);
    if ((ok && arq_utf8_complete(&u)) != s->valid)
      fail_msg("sample %zu byte by byte", i);
  }
}

/* Incomplete is not invalid: feed succeeds mid-sequence, complete says false. */
static void incomplete(void **state) {
  arq_utf8_t u;
  arq_utf8_init(&u);
  assert_true(arq_utf8_feed(&u, (const uint8_t *)"\xF0\x9F", 2));
  assert_false(arq_utf8_complete(&u));
  assert_true(arq_utf8_feed(&u, (const uint8_t *)"\x98\x80", 2));
  assert_true(arq_utf8_complete(&u));
  /* once failed, stays failed */
  assert_false(arq_utf8_feed(&u, (const uint8_t *)"\xFF", 1));
  assert_false(arq_utf8_feed(&u, (const uint8_t *)"a", 1));
  assert_false(arq_utf8_complete(&u));
}

/* Every code point encodes to valid UTF-8 except the surrogates; every 2-byte and 3-byte
 * lead/continuation pair is judged the same way as a reference decoder would. */
static size_t encode(uint32_t cp, uint8_t *o) {
  if (cp < 0x80) {
    o[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (uint8_t)(0xC0 | cp >> 6);
    o[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (uint8_t)(0xE0 | cp >> 12);
    o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (uint8_t)(0xF0 | cp >> 18);
  o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}

static void all_code_points(void **state) {
  uint8_t b[4];
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
    size_t n = encode(cp, b);
    bool want = cp < 0xD800 || cp > 0xDFFF;
    if (arq_utf8_valid(b, n) != want)
      fail_msg("U+%04X", cp);
  }
  /* Overlong encodings of every code point that has a shorter form. */
  for (uint32_t cp = 0; cp < 0x10000; cp++) {
    size_t n = encode(cp, b);
    uint8_t o[4];
    if (n < 3) { /* as 3 bytes */
      o[0] = (uint8_t)(0xE0 | cp >> 12);
      o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
      o[2] = (uint8_t)(0x80 | (cp & 0x3F));
      assert_false(arq_utf8_valid(o, 3));
    }
    /* as 4 bytes */
    o[0] = 0xF0;
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    assert_false(arq_utf8_valid(o, 4));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(whole),
      cmocka_unit_test(splits),
      cmocka_unit_test(incomplete),
      cmocka_unit_test(all_code_points),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
