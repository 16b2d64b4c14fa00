/*
 * toml_internal.h — what the TOML parser's files share and nothing else includes.
 *
 * DESIGN
 *   The parser is split by concept: toml.c walks the document structure (keys, headers,
 *   arrays, inline tables) and applies the redefinition rules; toml_string.c scans the
 *   four string kinds; toml_number.c and toml_datetime.c turn a bare token into a value;
 *   toml_value.c owns the tree; toml_json.c writes it out. They share one cursor type,
 *   arq__toml_cursor_t, which never moves past `end`, and report problems through
 *   arq__toml_fail(), which keeps only the first message.
 */
#ifndef ARQ_COMMON_TOML_INTERNAL_H
#define ARQ_COMMON_TOML_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/toml.h"

/* Containers nested deeper than this are rejected, so that nothing that walks the tree
 * (free, the JSON writer, the config loader) recurses without bound. */
#define ARQ__TOML_MAX_DEPTH 128

/* How a table came to exist; decides whether a later header or dotted key may touch it. */
typedef enum {
  ARQ__TOML_TABLE_IMPLICIT, /* parent created on the way to a [a.b.c] header */
  ARQ__TOML_TABLE_HEADER,   /* defined by its own [header] (or the root, or an [[array]] element) */
  ARQ__TOML_TABLE_DOTTED,   /* created by a dotted key such as a.b = 1 */
  ARQ__TOML_TABLE_INLINE,   /* { ... }: closed once written */
} arq__toml_origin_t;

typedef struct {
  char *key; /* NUL-terminated, may contain NUL: keylen tells */
  size_t keylen;
  arq_toml_value_t *value;
} arq__toml_entry_t;

struct arq_toml_value {
  arq_toml_type_t type;
  int line;
  int depth; /* containers only: 0 for the root */
  union {
    struct {
      arq__toml_entry_t *entries;
      size_t len, cap;
      size_t *index; /* open addressing over entries (slot = entry + 1), once the table grows */
      size_t index_cap;
      arq__toml_origin_t origin;
      uint64_t section; /* for DOTTED tables: the section that created them */
    } table;
    struct {
      arq_toml_value_t **items;
      size_t len, cap;
      bool of_tables; /* made by [[header]]; a literal [ ... ] array can't be extended */
    } array;
    struct {
      char *ptr; /* NUL-terminated; for dates and times, the normalised text */
      size_t len;
    } str;
    int64_t i;
    double f;
    bool b;
  } u;
};

/* ---- the tree (toml_value.c) ---- */
arq_toml_value_t *arq__toml_new(arq_toml_type_t type, int line);
/* Takes ownership of `value` on success only. Returns false when out of memory. */
bool arq__toml_table_put(arq_toml_value_t *table, const char *key, size_t keylen,
                         arq_toml_value_t *value);
arq_toml_value_t *arq__toml_table_find(const arq_toml_value_t *table, const char *key,
                                       size_t keylen);
bool arq__toml_array_push(arq_toml_value_t *array, arq_toml_value_t *value);

/* ---- a growable byte buffer for decoded strings ---- */
typedef struct {
  char *ptr;
  size_t len, cap;
} arq__toml_buf_t;

bool arq__toml_buf_put(arq__toml_buf_t *b, const char *bytes, size_t n);
bool arq__toml_buf_putc(arq__toml_buf_t *b, char c);
/* Appends the UTF-8 encoding of a Unicode scalar value. */
bool arq__toml_buf_put_utf8(arq__toml_buf_t *b, uint32_t cp);

/* ---- the cursor and error reporting (toml.c) ---- */
typedef struct {
  const char *begin, *p, *end;
  const char *line_pos; /* line counting is cached: lines before line_pos are counted */
  int line;
  char *err;
  size_t errcap;
  bool failed;
} arq__toml_cursor_t;

/* The 1-based line of `pos` (which lies within the document). */
int arq__toml_line_of(arq__toml_cursor_t *c, const char *pos);
/* Records "line N: message" for the line of `pos`, unless an error is already recorded.
 * Always returns false, so callers can `return arq__toml_fail(...)`. */
bool arq__toml_fail(arq__toml_cursor_t *c, const char *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- strings (toml_string.c) ----
 * Each scans a string starting at c->p (on its opening quote), decodes it into `out`
 * (NUL-terminated) and leaves c->p after the closing quote. */
bool arq__toml_scan_string(arq__toml_cursor_t *c, arq__toml_buf_t *out, bool allow_multiline);

/* ---- bare tokens (toml_number.c, toml_datetime.c) ---- */
/* Parses an integer or float token [tok, tok+len); false with an error otherwise. */
bool arq__toml_parse_number(arq__toml_cursor_t *c, const char *tok, size_t len,
                            arq_toml_value_t *out);
/* True when a token has the shape of a date or time (so it is not a number). */
bool arq__toml_looks_like_datetime(const char *tok, size_t len);
/* Parses a date/time token; fills out->type and out->u.str (the normalised text). */
bool arq__toml_parse_datetime(arq__toml_cursor_t *c, const char *tok, size_t len,
                              arq_toml_value_t *out);

#endif
