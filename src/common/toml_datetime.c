/*
 * toml_datetime.c — offset date-times, local date-times, local dates and local times.
 *
 * DESIGN
 *   Values are validated field by field (month lengths, leap years, offsets) and kept as
 *   text, normalised to RFC 3339: the date/time separator becomes 'T' and a 'z' offset
 *   becomes 'Z'. Fractional seconds are kept as written, to any precision.
 */
#include <stdlib.h>
#include <string.h>

#include "common/toml_internal.h"

typedef struct {
  const char *tok;
  size_t len, pos;
} field_reader_t;

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Reads exactly `n` digits. */
static bool read_number(field_reader_t *r, size_t n, int *out) {
  if (r->len - r->pos < n)
    return false;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = r->tok[r->pos + i];
    if (!is_digit(ch))
      return false;
    v = v * 10 + (ch - '0');
  }
  r->pos += n;
  *out = v;
  return true;
}

static bool read_char(field_reader_t *r, char ch) {
  if (r->pos < r->len && r->tok[r->pos] == ch) {
    r->pos++;
    return true;
  }
  return false;
}

static bool is_leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

static bool read_date(field_reader_t *r) {
  int y, m, d;
  if (!read_number(r, 4, &y) || !read_char(r, '-') || !read_number(r, 2, &m) ||
      !read_char(r, '-') || !read_number(r, 2, &d))
    return false;
  return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* HH:MM:SS with an optional fraction; a leap second (60) is allowed, as in RFC 3339. */
static bool read_time(field_reader_t *r) {
  int h, m, s;
  if (!read_number(r, 2, &h) || !read_char(r, ':') || !read_number(r, 2, &m) ||
      !read_char(r, ':') || !read_number(r, 2, &s))
    return false;
  if (h > 23 || m > 59 || s > 60)
    return false;
  if (read_char(r, '.')) {
    size_t start = r->pos;
    while (r->pos < r->len && is_digit(r->tok[r->pos]))
      r->pos++;
    if (r->pos == start)
      return false;
  }
  return true;
}

static bool read_offset(field_reader_t *r) {
  if (read_char(r, 'Z') || read_char(r, 'z'))
    return true;
  if (!read_char(r, '+') && !read_char(r, '-'))
    return false;
  int h, m;
  if (!read_number(r, 2, &h) || !read_char(r, ':') || !read_number(r, 2, &m))
    return false;
  return h <= 23 && m <= 59;
}

bool arq__toml_looks_like_datetime(const char *tok, size_t len) {
  if (len >= 3 && is_digit(tok[0]) && is_digit(tok[1]) && tok[2] == ':')
    return true;
  return len >= 5 && is_digit(tok[0]) && is_digit(tok[1]) && is_digit(tok[2]) &&
         is_digit(tok[3]) && tok[4] == '-';
}

/* Works out the kind of a date/time token, or returns false when it is malformed. */
static bool classify(const char *tok, size_t len, arq_toml_type_t *type) {
  field_reader_t r = {tok, len, 0};
  if (len >= 3 && tok[2] == ':') {
    *type = ARQ_TOML_TIME_LOCAL;
    return read_time(&r) && r.pos == len;
  }
  if (!read_date(&r))
    return false;
  if (r.pos == len) {
    *type = ARQ_TOML_DATE_LOCAL;
    return true;
  }
  if (!read_char(&r, 'T') && !read_char(&r, 't') && !read_char(&r, ' '))
    return false;
  if (!read_time(&r))
    return false;
  if (r.pos == len) {
    *type = ARQ_TOML_DATETIME_LOCAL;
    return true;
  }
  *type = ARQ_TOML_DATETIME;
  return read_offset(&r) && r.pos == len;
}

bool arq__toml_parse_datetime(arq__toml_cursor_t *c, const char *tok, size_t len,
                              arq_toml_value_t *out) {
  arq_toml_type_t type;
  if (!classify(tok, len, &type))
    return arq__toml_fail(c, tok, "invalid date or time");
  char *text = malloc(len + 1);
  if (!text)
    return arq__toml_fail(c, tok, "out of memory");
  memcpy(text, tok, len);
  text[len] = '\0';
  if (len > 10 && type != ARQ_TOML_TIME_LOCAL)
    text[10] = 'T';
  if (text[len - 1] == 'z')
    text[len - 1] = 'Z';
  out->type = type;
  out->u.str.ptr = text;
  out->u.str.len = len;
  return true;
}
