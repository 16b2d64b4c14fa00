/*
 * toml.c — the document structure of TOML 1.0: key/value pairs, [table] and [[array]]
 * headers, arrays and inline tables, and the rules about what may be defined twice.
 *
 * DESIGN
 *   A single pass with one token of lookahead, recursive only where TOML nests (arrays and
 *   inline tables), so recursion depth equals nesting depth, which every container
 *   creation checks against ARQ__TOML_MAX_DEPTH. The whole document is validated as UTF-8
 *   before parsing so that the scanners can copy bytes without decoding them.
 *
 *   Redefinition rules are enforced with two facts kept on each table: its origin (see
 *   arq__toml_origin_t) and, for tables made by dotted keys, the section that made them.
 *   A section begins at each header and at each inline table. Then:
 *     - a [header] may pass through any table except an inline one, and may only define
 *       a table that does not exist yet or was only created implicitly by another header;
 *     - a dotted key may pass through tables that it (in this section) or a header created
 *       implicitly, never through one defined by a header or written inline;
 *     - [[header]] extends only arrays that [[header]] made.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/toml_internal.h"
#include "common/utf8.h"

typedef struct {
  arq__toml_cursor_t c;
  arq_toml_value_t *root;
  arq_toml_value_t *current; /* the table that key/value lines go into */
  uint64_t section;          /* the section of the current header */
  uint64_t sections;         /* sections handed out so far */
  arq__toml_buf_t scratch;   /* decoded quoted key or string */
} parser_t;

/* The parts of a dotted key, decoded, stored one after another in `bytes`. */
typedef struct {
  arq__toml_buf_t bytes;
  size_t *ends; /* ends[i] is where part i stops in `bytes` */
  size_t len, cap;
} key_path_t;

/* ---- cursor and errors ---- */

int arq__toml_line_of(arq__toml_cursor_t *c, const char *pos) {
  if (pos < c->line_pos) {
    c->line_pos = c->begin;
    c->line = 1;
  }
  for (; c->line_pos < pos; c->line_pos++)
    if (*c->line_pos == '\n' && c->line < INT_MAX)
      c->line++;
  return c->line;
}

bool arq__toml_fail(arq__toml_cursor_t *c, const char *pos, const char *fmt, ...) {
  if (c->failed)
    return false;
  c->failed = true;
  if (!c->err || c->errcap == 0)
    return false;
  int n = snprintf(c->err, c->errcap, "line %d: ", arq__toml_line_of(c, pos));
  if (n >= 0 && (size_t)n < c->errcap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errcap - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return false;
}

/* How much of a key to quote in a message: keys are untrusted and may be huge. */
static int shown(size_t keylen) { return keylen > 64 ? 64 : (int)keylen; }

static bool at_end(const parser_t *ps) { return ps->c.p >= ps->c.end; }

static bool peek(const parser_t *ps, char ch) { return !at_end(ps) && *ps->c.p == ch; }

static void skip_ws(parser_t *ps) {
  while (peek(ps, ' ') || peek(ps, '\t'))
    ps->c.p++;
}

static bool at_newline(const parser_t *ps) {
  const char *p = ps->c.p;
  return p < ps->c.end && (*p == '\n' || (*p == '\r' && ps->c.end - p >= 2 && p[1] == '\n'));
}

static void skip_newline(parser_t *ps) { ps->c.p += *ps->c.p == '\r' ? 2 : 1; }

/* A comment runs to the end of the line and may not hold control characters but tab. */
static bool skip_comment(parser_t *ps) {
  for (ps->c.p++; !at_end(ps) && !at_newline(ps); ps->c.p++) {
    unsigned char ch = (unsigned char)*ps->c.p;
    if ((ch < 0x20 && ch != '\t') || ch == 0x7F)
      return arq__toml_fail(&ps->c, ps->c.p, "control character in a comment");
  }
  return true;
}

/* Whitespace, comments and line ends, as allowed between array elements. */
static bool skip_blank(parser_t *ps) {
  for (;;) {
    skip_ws(ps);
    if (peek(ps, '#')) {
      if (!skip_comment(ps))
        return false;
    } else if (at_newline(ps)) {
      skip_newline(ps);
    } else {
      return true;
    }
  }
}

/* After a key/value pair or a header: optional comment, then a line end or the end. */
static bool expect_end_of_line(parser_t *ps) {
  skip_ws(ps);
  if (peek(ps, '#') && !skip_comment(ps))
    return false;
  if (at_end(ps))
    return true;
  if (!at_newline(ps))
    return arq__toml_fail(&ps->c, ps->c.p, "expected the end of the line");
  skip_newline(ps);
  return true;
}

static bool validate_utf8(arq__toml_cursor_t *c) {
  const uint8_t *p = (const uint8_t *)c->begin;
  size_t n = (size_t)(c->end - c->begin);
  size_t bad = arq_utf8_check(p, n);
  if (bad < n)
    return arq__toml_fail(c, c->begin + bad, "invalid UTF-8");
  return true;
}

/* ---- tree building with the redefinition rules ---- */

static arq_toml_value_t *new_value(parser_t *ps, arq_toml_type_t type, int line) {
  arq_toml_value_t *v = arq__toml_new(type, line);
  if (!v)
    arq__toml_fail(&ps->c, ps->c.p, "out of memory");
  return v;
}

static arq_toml_value_t *new_container(parser_t *ps, arq_toml_type_t type, int line,
                                       int parent_depth) {
  if (parent_depth >= ARQ__TOML_MAX_DEPTH) {
    arq__toml_fail(&ps->c, ps->c.p, "nesting deeper than %d levels", ARQ__TOML_MAX_DEPTH);
    return NULL;
  }
  arq_toml_value_t *v = new_value(ps, type, line);
  if (v)
    v->depth = parent_depth + 1;
  return v;
}

static bool put(parser_t *ps, arq_toml_value_t *table, const char *key, size_t keylen,
                arq_toml_value_t *value) {
  if (arq__toml_table_put(table, key, keylen, value))
    return true;
  arq_toml_free(value);
  return arq__toml_fail(&ps->c, ps->c.p, "out of memory");
}

static arq_toml_value_t *add_table(parser_t *ps, arq_toml_value_t *parent, const char *key,
                                   size_t keylen, int line, arq__toml_origin_t origin,
                                   uint64_t section) {
  arq_toml_value_t *t = new_container(ps, ARQ_TOML_TABLE, line, parent->depth);
  if (!t)
    return NULL;
  t->u.table.origin = origin;
  t->u.table.section = section;
  return put(ps, parent, key, keylen, t) ? t : NULL;
}

static void key_part(const key_path_t *k, size_t i, const char **key, size_t *len) {
  size_t start = i ? k->ends[i - 1] : 0;
  *key = k->bytes.ptr + start;
  *len = k->ends[i] - start;
}

/* One step of a [header] or [[header]] path, before its last part. */
static arq_toml_value_t *header_step(parser_t *ps, arq_toml_value_t *t, const char *key,
                                     size_t len, int line, const char *at) {
  arq_toml_value_t *v = arq__toml_table_find(t, key, len);
  if (!v)
    return add_table(ps, t, key, len, line, ARQ__TOML_TABLE_IMPLICIT, 0);
  if (v->type == ARQ_TOML_TABLE && v->u.table.origin != ARQ__TOML_TABLE_INLINE)
    return v;
  if (v->type == ARQ_TOML_ARRAY && v->u.array.of_tables && v->u.array.len > 0)
    return v->u.array.items[v->u.array.len - 1];
  arq__toml_fail(&ps->c, at, "key '%.*s' is already defined as %s", shown(len), key,
                 v->type == ARQ_TOML_TABLE ? "an inline table" : "a value");
  return NULL;
}

/* One step of a dotted key in a key/value pair, before its last part. */
static arq_toml_value_t *dotted_step(parser_t *ps, arq_toml_value_t *t, const char *key,
                                     size_t len, int line, uint64_t section, const char *at) {
  arq_toml_value_t *v = arq__toml_table_find(t, key, len);
  if (!v)
    return add_table(ps, t, key, len, line, ARQ__TOML_TABLE_DOTTED, section);
  if (v->type == ARQ_TOML_TABLE) {
    arq__toml_origin_t origin = v->u.table.origin;
    if (origin == ARQ__TOML_TABLE_IMPLICIT ||
        (origin == ARQ__TOML_TABLE_DOTTED && v->u.table.section == section)) {
      v->u.table.origin = ARQ__TOML_TABLE_DOTTED;
      v->u.table.section = section;
      return v;
    }
  }
  arq__toml_fail(&ps->c, at, "can't add keys to '%.*s' here: it is already defined",
                 shown(len), key);
  return NULL;
}

/* ---- keys ---- */

static bool is_bare_key_char(char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         ch == '_' || ch == '-';
}

static bool key_push(parser_t *ps, key_path_t *k, const char *part, size_t len) {
  if (k->len == k->cap) {
    size_t cap = k->cap ? k->cap * 2 : 8;
    size_t *ends = realloc(k->ends, cap * sizeof *ends);
    if (!ends)
      return arq__toml_fail(&ps->c, ps->c.p, "out of memory");
    k->ends = ends;
    k->cap = cap;
  }
  if (k->len >= ARQ__TOML_MAX_DEPTH)
    return arq__toml_fail(&ps->c, ps->c.p, "key has more than %d parts", ARQ__TOML_MAX_DEPTH);
  if (!arq__toml_buf_put(&k->bytes, part, len))
    return arq__toml_fail(&ps->c, ps->c.p, "out of memory");
  k->ends[k->len++] = k->bytes.len;
  return true;
}

static bool parse_key_part(parser_t *ps, key_path_t *k) {
  if (peek(ps, '"') || peek(ps, '\'')) {
    if (!arq__toml_scan_string(&ps->c, &ps->scratch, false))
      return false;
    return key_push(ps, k, ps->scratch.ptr, ps->scratch.len);
  }
  const char *start = ps->c.p;
  while (!at_end(ps) && is_bare_key_char(*ps->c.p))
    ps->c.p++;
  if (ps->c.p == start)
    return arq__toml_fail(&ps->c, start, "expected a key");
  return key_push(ps, k, start, (size_t)(ps->c.p - start));
}

/* key ( '.' key )*, with whitespace allowed around the dots and after the key. */
static bool parse_key(parser_t *ps, key_path_t *k) {
  for (;;) {
    skip_ws(ps);
    if (!parse_key_part(ps, k))
      return false;
    skip_ws(ps);
    if (!peek(ps, '.'))
      return true;
    ps->c.p++;
  }
}

static void key_path_free(key_path_t *k) {
  free(k->bytes.ptr);
  free(k->ends);
}

/* ---- values ---- */

static arq_toml_value_t *parse_value(parser_t *ps, int parent_depth, int line);
static bool parse_keyval(parser_t *ps, arq_toml_value_t *table, uint64_t section);

static bool is_token_char(char ch) {
  return is_bare_key_char(ch) || ch == '+' || ch == '.' || ch == ':';
}

/* A bare value: number, bool, date or time. A date followed by a space and a digit is
 * a date-time written with a space, and the token goes on. */
static size_t scan_token(parser_t *ps) {
  const char *start = ps->c.p;
  while (!at_end(ps) && is_token_char(*ps->c.p))
    ps->c.p++;
  size_t len = (size_t)(ps->c.p - start);
  if (len == 10 && arq__toml_looks_like_datetime(start, len) && ps->c.end - ps->c.p >= 2 &&
      ps->c.p[0] == ' ' && ps->c.p[1] >= '0' && ps->c.p[1] <= '9') {
    ps->c.p++;
    while (!at_end(ps) && is_token_char(*ps->c.p))
      ps->c.p++;
  }
  return (size_t)(ps->c.p - start);
}

static arq_toml_value_t *parse_bare(parser_t *ps, int line) {
  const char *tok = ps->c.p;
  size_t len = scan_token(ps);
  arq_toml_value_t *v = new_value(ps, ARQ_TOML_BOOL, line);
  if (!v)
    return NULL;
  bool ok = true;
  if (len == 4 && memcmp(tok, "true", 4) == 0)
    v->u.b = true;
  else if (len == 5 && memcmp(tok, "false", 5) == 0)
    v->u.b = false;
  else if (arq__toml_looks_like_datetime(tok, len))
    ok = arq__toml_parse_datetime(&ps->c, tok, len, v);
  else
    ok = arq__toml_parse_number(&ps->c, tok, len, v);
  if (!ok) {
    arq_toml_free(v); /* a failed parse leaves it a bool that owns nothing */
    return NULL;
  }
  return v;
}

static arq_toml_value_t *parse_string(parser_t *ps, int line) {
  if (!arq__toml_scan_string(&ps->c, &ps->scratch, true))
    return NULL;
  arq_toml_value_t *v = new_value(ps, ARQ_TOML_STRING, line);
  if (!v)
    return NULL;
  v->u.str.ptr = ps->scratch.ptr; /* ownership moves to the value */
  v->u.str.len = ps->scratch.len;
  ps->scratch = (arq__toml_buf_t){0};
  return v;
}

static arq_toml_value_t *parse_array(parser_t *ps, int parent_depth, int line) {
  arq_toml_value_t *a = new_container(ps, ARQ_TOML_ARRAY, line, parent_depth);
  if (!a)
    return NULL;
  const char *open = ps->c.p++;
  for (;;) {
    if (!skip_blank(ps))
      break;
    if (at_end(ps)) {
      arq__toml_fail(&ps->c, open, "unterminated array");
      break;
    }
    if (peek(ps, ']')) {
      ps->c.p++;
      return a;
    }
    arq_toml_value_t *item = parse_value(ps, a->depth, arq__toml_line_of(&ps->c, ps->c.p));
    if (!item)
      break;
    if (!arq__toml_array_push(a, item)) {
      arq_toml_free(item);
      arq__toml_fail(&ps->c, ps->c.p, "out of memory");
      break;
    }
    if (!skip_blank(ps))
      break;
    if (at_end(ps)) {
      arq__toml_fail(&ps->c, open, "unterminated array");
      break;
    }
    if (peek(ps, ','))
      ps->c.p++;
    else if (!peek(ps, ']')) {
      arq__toml_fail(&ps->c, ps->c.p, "expected ',' or ']' in an array");
      break;
    }
  }
  arq_toml_free(a);
  return NULL;
}

static arq_toml_value_t *parse_inline_table(parser_t *ps, int parent_depth, int line) {
  arq_toml_value_t *t = new_container(ps, ARQ_TOML_TABLE, line, parent_depth);
  if (!t)
    return NULL;
  t->u.table.origin = ARQ__TOML_TABLE_INLINE;
  uint64_t section = ++ps->sections;
  ps->c.p++;
  skip_ws(ps);
  if (peek(ps, '}')) {
    ps->c.p++;
    return t;
  }
  for (;;) {
    if (!parse_keyval(ps, t, section))
      break;
    skip_ws(ps);
    if (peek(ps, '}')) {
      ps->c.p++;
      return t;
    }
    if (!peek(ps, ',')) {
      arq__toml_fail(&ps->c, ps->c.p, "expected ',' or '}' in an inline table");
      break;
    }
    ps->c.p++;
    skip_ws(ps);
    if (peek(ps, '}')) {
      arq__toml_fail(&ps->c, ps->c.p, "trailing comma in an inline table");
      break;
    }
  }
  arq_toml_free(t);
  return NULL;
}

static arq_toml_value_t *parse_value(parser_t *ps, int parent_depth, int line) {
  if (at_end(ps)) {
    arq__toml_fail(&ps->c, ps->c.p, "expected a value");
    return NULL;
  }
  switch (*ps->c.p) {
  case '"':
  case '\'':
    return parse_string(ps, line);
  case '[':
    return parse_array(ps, parent_depth, line);
  case '{':
    return parse_inline_table(ps, parent_depth, line);
  default:
    return parse_bare(ps, line);
  }
}

/* ---- key/value pairs and headers ---- */

static bool assign(parser_t *ps, arq_toml_value_t *table, const key_path_t *k, uint64_t section,
                   int line, const char *at) {
  const char *key;
  size_t len;
  for (size_t i = 0; i + 1 < k->len; i++) {
    key_part(k, i, &key, &len);
    table = dotted_step(ps, table, key, len, line, section, at);
    if (!table)
      return false;
  }
  key_part(k, k->len - 1, &key, &len);
  if (arq__toml_table_find(table, key, len))
    return arq__toml_fail(&ps->c, at, "key '%.*s' is defined twice", shown(len), key);
  skip_ws(ps);
  arq_toml_value_t *v = parse_value(ps, table->depth, line);
  return v && put(ps, table, key, len, v);
}

static bool parse_keyval(parser_t *ps, arq_toml_value_t *table, uint64_t section) {
  const char *at = ps->c.p;
  int line = arq__toml_line_of(&ps->c, at);
  key_path_t k = {0};
  bool ok = parse_key(ps, &k);
  if (ok && !peek(ps, '='))
    ok = arq__toml_fail(&ps->c, ps->c.p, "expected '=' after a key");
  if (ok) {
    ps->c.p++;
    ok = assign(ps, table, &k, section, line, at);
  }
  key_path_free(&k);
  return ok;
}

static bool define_header_table(parser_t *ps, arq_toml_value_t *parent, const char *key,
                                size_t len, int line, const char *at) {
  arq_toml_value_t *v = arq__toml_table_find(parent, key, len);
  if (!v) {
    ps->current = add_table(ps, parent, key, len, line, ARQ__TOML_TABLE_HEADER, 0);
    return ps->current != NULL;
  }
  if (v->type != ARQ_TOML_TABLE || v->u.table.origin != ARQ__TOML_TABLE_IMPLICIT)
    return arq__toml_fail(&ps->c, at, "table '%.*s' is defined twice", shown(len), key);
  v->u.table.origin = ARQ__TOML_TABLE_HEADER;
  v->line = line;
  ps->current = v;
  return true;
}

static bool append_header_table(parser_t *ps, arq_toml_value_t *parent, const char *key,
                                size_t len, int line, const char *at) {
  arq_toml_value_t *a = arq__toml_table_find(parent, key, len);
  if (!a) {
    a = new_container(ps, ARQ_TOML_ARRAY, line, parent->depth);
    if (!a || !put(ps, parent, key, len, a))
      return false;
    a->u.array.of_tables = true;
  } else if (a->type != ARQ_TOML_ARRAY || !a->u.array.of_tables) {
    return arq__toml_fail(&ps->c, at, "'%.*s' is not an array of tables", shown(len), key);
  }
  arq_toml_value_t *t = new_container(ps, ARQ_TOML_TABLE, line, a->depth);
  if (!t)
    return false;
  t->u.table.origin = ARQ__TOML_TABLE_HEADER;
  if (!arq__toml_array_push(a, t)) {
    arq_toml_free(t);
    return arq__toml_fail(&ps->c, at, "out of memory");
  }
  ps->current = t;
  return true;
}

static bool resolve_header(parser_t *ps, const key_path_t *k, bool array, int line,
                           const char *at) {
  arq_toml_value_t *t = ps->root;
  const char *key;
  size_t len;
  for (size_t i = 0; i + 1 < k->len; i++) {
    key_part(k, i, &key, &len);
    t = header_step(ps, t, key, len, line, at);
    if (!t)
      return false;
  }
  key_part(k, k->len - 1, &key, &len);
  ps->section = ++ps->sections;
  return array ? append_header_table(ps, t, key, len, line, at)
               : define_header_table(ps, t, key, len, line, at);
}

static bool parse_header(parser_t *ps) {
  const char *at = ps->c.p;
  int line = arq__toml_line_of(&ps->c, at);
  bool array = ps->c.end - ps->c.p >= 2 && ps->c.p[1] == '[';
  ps->c.p += array ? 2 : 1;
  key_path_t k = {0};
  bool ok = parse_key(ps, &k);
  if (ok && !(peek(ps, ']') && (!array || (ps->c.end - ps->c.p >= 2 && ps->c.p[1] == ']'))))
    ok = arq__toml_fail(&ps->c, ps->c.p, "expected '%s' to close the header", array ? "]]" : "]");
  if (ok) {
    ps->c.p += array ? 2 : 1;
    ok = resolve_header(ps, &k, array, line, at);
  }
  key_path_free(&k);
  return ok;
}

static bool parse_document(parser_t *ps) {
  if (ps->c.end - ps->c.p >= 3 && memcmp(ps->c.p, "\xEF\xBB\xBF", 3) == 0)
    ps->c.p += 3;
  for (;;) {
    skip_ws(ps);
    if (at_end(ps))
      return true;
    bool ok = true;
    if (peek(ps, '['))
      ok = parse_header(ps);
    else if (!peek(ps, '#') && !at_newline(ps))
      ok = parse_keyval(ps, ps->current, ps->section);
    if (!ok || !expect_end_of_line(ps))
      return false;
  }
}

arq_toml_value_t *arq_toml_parse(const char *data, size_t len, char *err, size_t errcap) {
  if (err && errcap)
    err[0] = '\0';
  if (!data)
    data = len ? NULL : "";
  parser_t ps = {0};
  if (!data) {
    if (err && errcap)
      snprintf(err, errcap, "line 1: no input");
    return NULL;
  }
  ps.c = (arq__toml_cursor_t){.begin = data, .p = data, .end = data + len, .line_pos = data,
                              .line = 1, .err = err, .errcap = errcap};
  ps.root = arq__toml_new(ARQ_TOML_TABLE, 1);
  if (!ps.root) {
    arq__toml_fail(&ps.c, data, "out of memory");
    return NULL;
  }
  ps.root->u.table.origin = ARQ__TOML_TABLE_HEADER;
  ps.current = ps.root;
  bool ok = validate_utf8(&ps.c) && parse_document(&ps);
  free(ps.scratch.ptr);
  if (!ok) {
    arq_toml_free(ps.root);
    return NULL;
  }
  return ps.root;
}
