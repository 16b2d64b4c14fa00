/*
 * toml_string.c — the four TOML string kinds: "basic", 'literal', """multi-line basic"""
 * and '''multi-line literal'''.
 *
 * DESIGN
 *   The document was already checked to be valid UTF-8, so plain bytes are copied in
 *   runs; only quotes, backslashes, line ends and control characters need a decision.
 *   CRLF inside a multi-line string is stored as LF, so the decoded value does not depend
 *   on the line endings of the file it came from.
 */
#include "common/percent.h"
#include "common/toml_internal.h"

static bool is_control(unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7F; }

static bool at_newline(const char *p, const char *end) {
  return p < end && (*p == '\n' || (*p == '\r' && end - p >= 2 && p[1] == '\n'));
}

static const char *skip_newline(const char *p) { return *p == '\r' ? p + 2 : p + 1; }

static bool scan_unicode_escape(arq__toml_cursor_t *c, size_t digits, arq__toml_buf_t *out) {
  const char *at = c->p - 2;
  if ((size_t)(c->end - c->p) < digits)
    return arq__toml_fail(c, at, "truncated unicode escape");
  uint32_t cp = 0;
  for (size_t i = 0; i < digits; i++) {
    int h = arq_hex_value((unsigned char)c->p[i]);
    if (h < 0)
      return arq__toml_fail(c, at, "bad hex digit in unicode escape");
    cp = cp << 4 | (uint32_t)h;
  }
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return arq__toml_fail(c, at, "unicode escape is not a scalar value");
  c->p += digits;
  return arq__toml_buf_put_utf8(out, cp) || arq__toml_fail(c, at, "out of memory");
}

/* c->p is on the backslash. */
static bool scan_escape(arq__toml_cursor_t *c, arq__toml_buf_t *out) {
  const char *at = c->p;
  if (c->end - c->p < 2)
    return arq__toml_fail(c, at, "unterminated string");
  char e = c->p[1];
  c->p += 2;
  char decoded;
  switch (e) {
  case 'b': decoded = '\b'; break;
  case 't': decoded = '\t'; break;
  case 'n': decoded = '\n'; break;
  case 'f': decoded = '\f'; break;
  case 'r': decoded = '\r'; break;
  case '"': decoded = '"'; break;
  case '\\': decoded = '\\'; break;
  case 'u': return scan_unicode_escape(c, 4, out);
  case 'U': return scan_unicode_escape(c, 8, out);
  default: return arq__toml_fail(c, at, "invalid escape sequence");
  }
  return arq__toml_buf_putc(out, decoded) || arq__toml_fail(c, at, "out of memory");
}

/* A backslash at the end of a line in a multi-line basic string swallows the line end and
 * all whitespace after it. Returns false (without error) when this backslash is not one. */
static bool skip_line_ending_backslash(arq__toml_cursor_t *c) {
  const char *q = c->p + 1;
  while (q < c->end && (*q == ' ' || *q == '\t'))
    q++;
  if (!at_newline(q, c->end))
    return false;
  while (q < c->end && (*q == ' ' || *q == '\t' || at_newline(q, c->end)))
    q = (*q == ' ' || *q == '\t') ? q + 1 : skip_newline(q);
  c->p = q;
  return true;
}

/* Copies a run of ordinary bytes (no quote, backslash, line end or control character). */
static bool copy_plain_run(arq__toml_cursor_t *c, char quote, bool escapes,
                           arq__toml_buf_t *out) {
  const char *run = c->p;
  while (c->p < c->end) {
    unsigned char ch = (unsigned char)*c->p;
    if (ch == (unsigned char)quote || (escapes && ch == '\\') || is_control(ch))
      break;
    c->p++;
  }
  return arq__toml_buf_put(out, run, (size_t)(c->p - run)) ||
         arq__toml_fail(c, run, "out of memory");
}

static bool scan_single_line(arq__toml_cursor_t *c, char quote, arq__toml_buf_t *out) {
  const char *open = c->p++;
  bool escapes = quote == '"';
  for (;;) {
    if (!copy_plain_run(c, quote, escapes, out))
      return false;
    if (c->p >= c->end)
      return arq__toml_fail(c, open, "unterminated string");
    char ch = *c->p;
    if (ch == quote) {
      c->p++;
      return true;
    }
    if (ch == '\\') {
      if (!scan_escape(c, out))
        return false;
      continue;
    }
    if (ch == '\n' || ch == '\r')
      return arq__toml_fail(c, c->p, "newline in a single-line string");
    return arq__toml_fail(c, c->p, "control character in a string");
  }
}

/* c->p is on a quote inside a multi-line string. Three to five quotes end it (the extra
 * one or two belong to the content); fewer are content. Returns 1 when closed. */
static int scan_quote_run(arq__toml_cursor_t *c, char quote, arq__toml_buf_t *out) {
  size_t n = 0;
  while (c->p + n < c->end && c->p[n] == quote)
    n++;
  if (n > 5) {
    arq__toml_fail(c, c->p, "too many quotes at the end of a multi-line string");
    return -1;
  }
  size_t content = n >= 3 ? n - 3 : n;
  for (size_t i = 0; i < content; i++)
    if (!arq__toml_buf_putc(out, quote)) {
      arq__toml_fail(c, c->p, "out of memory");
      return -1;
    }
  c->p += n;
  return n >= 3;
}

static bool scan_multi_line(arq__toml_cursor_t *c, char quote, arq__toml_buf_t *out) {
  const char *open = c->p;
  bool escapes = quote == '"';
  c->p += 3;
  if (at_newline(c->p, c->end))
    c->p = skip_newline(c->p);
  for (;;) {
    if (!copy_plain_run(c, quote, escapes, out))
      return false;
    if (c->p >= c->end)
      return arq__toml_fail(c, open, "unterminated multi-line string");
    char ch = *c->p;
    if (ch == quote) {
      int closed = scan_quote_run(c, quote, out);
      if (closed)
        return closed > 0;
    } else if (ch == '\\') {
      if (!skip_line_ending_backslash(c) && !scan_escape(c, out))
        return false;
    } else if (at_newline(c->p, c->end)) {
      c->p = skip_newline(c->p);
      if (!arq__toml_buf_putc(out, '\n'))
        return arq__toml_fail(c, c->p, "out of memory");
    } else {
      return arq__toml_fail(c, c->p, "control character in a string");
    }
  }
}

static bool is_triple(const char *p, const char *end) {
  return end - p >= 3 && p[1] == p[0] && p[2] == p[0];
}

bool arq__toml_scan_string(arq__toml_cursor_t *c, arq__toml_buf_t *out, bool allow_multiline) {
  out->len = 0;
  if (!arq__toml_buf_put(out, "", 0))
    return arq__toml_fail(c, c->p, "out of memory");
  char quote = *c->p;
  if (is_triple(c->p, c->end)) {
    if (!allow_multiline)
      return arq__toml_fail(c, c->p, "a multi-line string can't be a key");
    return scan_multi_line(c, quote, out);
  }
  return scan_single_line(c, quote, out);
}
