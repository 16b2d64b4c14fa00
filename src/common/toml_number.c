/*
 * toml_number.c — integers (decimal, 0x, 0o, 0b) and floats from a bare token.
 *
 * DESIGN
 *   The token is first checked against the TOML grammar (underscores only between digits,
 *   no leading zeros, a digit on both sides of '.'), and only then converted: integers by
 *   accumulating into uint64_t with an overflow check, floats by strtod_l() in the C
 *   locale on a copy without underscores, which rounds correctly. A float too large for a double is an
 *   error rather than a silent infinity.
 */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/toml_internal.h"

static int digit_value(char ch, unsigned base) {
  int v = -1;
  if (ch >= '0' && ch <= '9')
    v = ch - '0';
  else if (ch >= 'a' && ch <= 'f')
    v = ch - 'a' + 10;
  else if (ch >= 'A' && ch <= 'F')
    v = ch - 'A' + 10;
  return v >= 0 && (unsigned)v < base ? v : -1;
}

/* Skips digits of `base` at *i, with single underscores allowed between digits.
 * Returns false when there is no digit or an underscore is misplaced. */
static bool skip_digits(const char *tok, size_t len, size_t *i, unsigned base) {
  size_t start = *i;
  while (*i < len) {
    if (digit_value(tok[*i], base) >= 0) {
      (*i)++;
    } else if (tok[*i] == '_' && *i > start && *i + 1 < len &&
               digit_value(tok[*i + 1], base) >= 0) {
      (*i)++;
    } else {
      break;
    }
  }
  return *i > start;
}

/* Accumulates the digits of [tok, tok+len) (underscores ignored) into *out, failing
 * when the value exceeds `limit`. */
static bool accumulate(const char *tok, size_t len, unsigned base, uint64_t limit,
                       uint64_t *out) {
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    int d = digit_value(tok[i], base);
    if (d < 0)
      continue;
    if (v > (limit - (uint64_t)d) / base)
      return false;
    v = v * base + (uint64_t)d;
  }
  *out = v;
  return true;
}

static bool parse_prefixed_integer(arq__toml_cursor_t *c, const char *tok, size_t len,
                                   arq_toml_value_t *out) {
  unsigned base = tok[1] == 'x' ? 16 : tok[1] == 'o' ? 8 : 2;
  size_t i = 2;
  if (!skip_digits(tok, len, &i, base) || i != len)
    return arq__toml_fail(c, tok, "invalid integer");
  uint64_t v;
  if (!accumulate(tok + 2, len - 2, base, (uint64_t)INT64_MAX, &v))
    return arq__toml_fail(c, tok, "integer out of range");
  out->type = ARQ_TOML_INTEGER;
  out->u.i = (int64_t)v;
  return true;
}

static bool convert_decimal_integer(arq__toml_cursor_t *c, const char *tok, size_t len,
                                    arq_toml_value_t *out) {
  bool negative = tok[0] == '-';
  uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t v;
  if (!accumulate(tok, len, 10, limit, &v))
    return arq__toml_fail(c, tok, "integer out of range");
  out->type = ARQ_TOML_INTEGER;
  if (!negative)
    out->u.i = (int64_t)v;
  else if (v == (uint64_t)INT64_MAX + 1)
    out->u.i = INT64_MIN;
  else
    out->u.i = -(int64_t)v;
  return true;
}

static bool convert_float(arq__toml_cursor_t *c, const char *tok, size_t len,
                          arq_toml_value_t *out) {
  char *copy = malloc(len + 1);
  if (!copy)
    return arq__toml_fail(c, tok, "out of memory");
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (tok[i] != '_')
      copy[n++] = tok[i];
  copy[n] = '\0';
  /* The C locale, whatever the program set: TOML's decimal point is always '.'. For "C"
   * glibc hands out its built-in locale object, so this costs no allocation. */
  locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  char *endp = copy;
  double d = c_locale ? strtod_l(copy, &endp, c_locale) : 0.0;
  bool whole = c_locale && *endp == '\0';
  if (c_locale)
    freelocale(c_locale);
  free(copy);
  if (!whole)
    return arq__toml_fail(c, tok, "invalid float");
  if (isinf(d))
    return arq__toml_fail(c, tok, "float out of range");
  out->type = ARQ_TOML_FLOAT;
  out->u.f = d;
  return true;
}

static bool parse_special_float(const char *tok, size_t len, arq_toml_value_t *out) {
  size_t i = (tok[0] == '+' || tok[0] == '-') ? 1 : 0;
  if (len - i != 3)
    return false;
  if (memcmp(tok + i, "inf", 3) == 0)
    out->u.f = tok[0] == '-' ? -INFINITY : INFINITY;
  else if (memcmp(tok + i, "nan", 3) == 0)
    out->u.f = tok[0] == '-' ? -NAN : NAN;
  else
    return false;
  out->type = ARQ_TOML_FLOAT;
  return true;
}

bool arq__toml_parse_number(arq__toml_cursor_t *c, const char *tok, size_t len,
                            arq_toml_value_t *out) {
  if (len == 0)
    return arq__toml_fail(c, tok, "expected a value");
  if (parse_special_float(tok, len, out))
    return true;
  if (len > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'o' || tok[1] == 'b'))
    return parse_prefixed_integer(c, tok, len, out);

  size_t i = (tok[0] == '+' || tok[0] == '-') ? 1 : 0;
  size_t int_start = i;
  if (!skip_digits(tok, len, &i, 10))
    return arq__toml_fail(c, tok, "invalid value");
  if (tok[int_start] == '0' && i - int_start > 1)
    return arq__toml_fail(c, tok, "leading zeros are not allowed");
  bool is_float = false;
  if (i < len && tok[i] == '.') {
    i++;
    if (!skip_digits(tok, len, &i, 10))
      return arq__toml_fail(c, tok, "a float needs digits after '.'");
    is_float = true;
  }
  if (i < len && (tok[i] == 'e' || tok[i] == 'E')) {
    i++;
    if (i < len && (tok[i] == '+' || tok[i] == '-'))
      i++;
    if (!skip_digits(tok, len, &i, 10))
      return arq__toml_fail(c, tok, "a float needs digits in its exponent");
    is_float = true;
  }
  if (i != len)
    return arq__toml_fail(c, tok, "invalid number");
  return is_float ? convert_float(c, tok, len, out) : convert_decimal_integer(c, tok, len, out);
}
