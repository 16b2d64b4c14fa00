/*
 * json.h — a strict, bounded JSON (RFC 8259) parser for untrusted input, and writer helpers.
 *
 * DESIGN
 *   Text frames from clients are JSON, so this parser sits on the hot path of every text
 *   message. It therefore parses into a compact DOM held in an arq_json_doc_t that the
 *   caller keeps and reuses: the doc owns a few growable arrays (values, decoded strings,
 *   a scratch stack), and a parse only allocates when a document is bigger than any seen
 *   before on that doc. There is no allocation per value.
 *
 *   Values are stored contiguously; the children of an array or object sit together, so
 *   element i of an array is a pointer addition away. Objects store their members as
 *   key, value, key, value... Every value records the byte offset at which it starts in
 *   the input, so that callers mapping JSON onto a schema can point at the culprit.
 *
 *   Strictness: RFC 8259 grammar only (no comments, no trailing commas, no BOM, no
 *   leading zeros, no NaN); the input must be valid UTF-8 (no overlong forms, no encoded
 *   surrogates); \u escapes must pair surrogates correctly; duplicate keys in an object are
 *   an error (the RFC leaves them unspecified, and two parsers disagreeing about which one
 *   wins is a classic smuggling vector); nesting depth, input size and value count are
 *   capped by arq_json_limits_t.
 *
 *   Numbers keep their source text, a double (strtod in the C locale; magnitudes beyond
 *   the double range become ±HUGE_VAL, the text stays exact), and an exact integer path:
 *   any number whose value is an integer in [-2^63, 2^64-1] — including forms like 1e3 or
 *   1.50e2 — can be read as int64/uint64 without going through a double.
 *
 *   Errors carry a code (one X-macro table), a constant message and the byte offset.
 *   Allocation failure aborts through arq_oom(), like arq_buf_t.
 */
#ifndef ARQ_COMMON_JSON_H
#define ARQ_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/utf8.h"

typedef enum {
  ARQ_JSON_NULL,
  ARQ_JSON_FALSE,
  ARQ_JSON_TRUE,
  ARQ_JSON_NUMBER,
  ARQ_JSON_STRING,
  ARQ_JSON_ARRAY,
  ARQ_JSON_OBJECT,
} arq_json_type_t;

#define ARQ_JSON_ERRNO_MAP(X)                                                             \
  X(OK, "no error")                                                                       \
  X(TOO_LARGE, "document exceeds the size limit")                                         \
  X(TOO_DEEP, "nesting exceeds the depth limit")                                          \
  X(TOO_MANY, "document exceeds the value count limit")                                   \
  X(EOF, "unexpected end of input")                                                       \
  X(TOKEN, "unexpected character")                                                        \
  X(TRAILING, "unexpected data after the document")                                       \
  X(UTF8, "invalid UTF-8")                                                                \
  X(CONTROL, "unescaped control character in string")                                     \
  X(ESCAPE, "invalid escape sequence")                                                    \
  X(SURROGATE, "unpaired surrogate in \\u escape")                                        \
  X(NUMBER, "invalid number")                                                             \
  X(DUPLICATE, "duplicate object key")

typedef enum {
#define ARQ_JSON__ENUM(name, msg) ARQ_JSON_E_##name,
  ARQ_JSON_ERRNO_MAP(ARQ_JSON__ENUM)
#undef ARQ_JSON__ENUM
} arq_json_errcode_t;

typedef struct {
  arq_json_errcode_t code;
  size_t offset;   /* byte offset in the input where the problem was found */
  const char *msg; /* arq_json_strerror(code): a constant, compare by identity if needed */
} arq_json_error_t;

/** Constant message for an error code ("invalid UTF-8", ...). */
const char *arq_json_strerror(arq_json_errcode_t code);

typedef struct {
  size_t max_bytes;  /* input longer than this is refused before parsing; at most 4 GiB - 2 */
  unsigned max_depth; /* arrays/objects nested deeper are refused; at most 1024 */
  size_t max_values; /* every value counts, object keys included */
} arq_json_limits_t;

#define ARQ_JSON_DEFAULT_MAX_BYTES ((size_t)16 << 20)
#define ARQ_JSON_DEFAULT_MAX_DEPTH 64u
#define ARQ_JSON_DEFAULT_MAX_VALUES ((size_t)1 << 22)

/* One parsed value. The fields are private: use the accessors below. */
typedef struct arq_json_value {
  const char *_str; /* string: decoded bytes; number: source text; both NUL-terminated */
  union {
    struct {
      double d;
      uint64_t mag; /* |value| when _flags has ARQ_JSON__INTEGRAL */
    } _num;
    uint32_t _back; /* array/object: distance back from this value to its first child */
  };
  uint32_t _len;    /* string/number: bytes; array: elements; object: members */
  uint32_t _offset; /* where the value starts in the input */
  uint8_t _type;
  uint8_t _flags;
} arq_json_value_t;

/* A reusable parser and the DOM of its last successful parse. Fields are private. */
typedef struct {
  arq_json_limits_t limits;
  arq_json_value_t *_vals;
  size_t _nvals, _capvals;
  arq_json_value_t *_stack;
  size_t _nstack, _capstack;
  char *_str;
  size_t _nstr, _capstr;
  const arq_json_value_t **_sort;
  size_t _capsort;
} arq_json_doc_t;

/** Prepares a doc. `limits` may be NULL for the defaults; values of 0 also mean default. */
void arq_json_doc_init(arq_json_doc_t *doc, const arq_json_limits_t *limits);
/** Releases the doc's memory; values from it become invalid. */
void arq_json_doc_free(arq_json_doc_t *doc);

/**
 * Parses `len` bytes of JSON (need not be NUL-terminated). Returns the root value, owned
 * by `doc` and valid until the next parse on it or arq_json_doc_free(); or NULL with
 * `*err` filled in (err may be NULL). The input is not referenced after the call returns.
 */
const arq_json_value_t *arq_json_parse(arq_json_doc_t *doc, const char *text, size_t len,
                                       arq_json_error_t *err);

/** Formats "byte N: message" into `buf` (truncated to `cap`, NUL-terminated). */
void arq_json_error_format(const arq_json_error_t *err, char *buf, size_t cap);

/* ---- accessors ---- */

arq_json_type_t arq_json_type(const arq_json_value_t *v);
/** "null", "boolean", "number", "string", "array", "object". */
const char *arq_json_type_name(arq_json_type_t t);
/** Byte offset in the input where the value starts. */
size_t arq_json_offset(const arq_json_value_t *v);

/** Strings: decoded bytes, NUL-terminated; may contain NUL (`len` tells). NULL if not a string. */
const char *arq_json_string(const arq_json_value_t *v, size_t *len);

/** Numbers: the source text (NUL-terminated) and its length. NULL if not a number. */
const char *arq_json_number_text(const arq_json_value_t *v, size_t *len);
/** Numbers: the nearest double (±HUGE_VAL beyond range). 0 if not a number. */
double arq_json_number(const arq_json_value_t *v);
/** Numbers: the parsed view (as arq_json_number_parse() gives it). -1 if not a number. */
struct arq_json_number;
int arq_json_number_of(const arq_json_value_t *v, struct arq_json_number *out);
/** Numbers with an integral value in range: 0 and `*out` set; otherwise -1. */
int arq_json_int64(const arq_json_value_t *v, int64_t *out);
int arq_json_uint64(const arq_json_value_t *v, uint64_t *out);

/** Arrays: element count and element i (NULL past the end or if not an array).
 *  Objects: member count from arq_json_len() too; strings: byte length. */
size_t arq_json_len(const arq_json_value_t *v);
const arq_json_value_t *arq_json_array_get(const arq_json_value_t *v, size_t i);
/** Objects: key i (a string value) and value i, in document order. */
const arq_json_value_t *arq_json_object_key(const arq_json_value_t *v, size_t i);
const arq_json_value_t *arq_json_object_value(const arq_json_value_t *v, size_t i);
/** Objects: the value under `key` (compared byte for byte), or NULL. */
const arq_json_value_t *arq_json_object_get(const arq_json_value_t *v, const char *key,
                                            size_t keylen);

/* ---- numbers without a document ---- */

typedef struct arq_json_number {
  double d;
  bool integral; /* the value is an integer in [-2^63, 2^64-1]: neg and mag hold it */
  bool neg;
  uint64_t mag;
} arq_json_number_t;

/** Parses `text` which must be exactly one JSON number (RFC 8259 grammar, nothing else).
 *  Returns 0, or -1 if it is not. */
int arq_json_number_parse(const char *text, size_t len, arq_json_number_t *out);
/** The int64/uint64 view of a parsed number: 0 and `*out`, or -1 if not integral or out of range. */
int arq_json_number_int64(const arq_json_number_t *n, int64_t *out);
int arq_json_number_uint64(const arq_json_number_t *n, uint64_t *out);

/* ---- writing (json_write.c) ---- */

/** Appends `s` as a quoted JSON string. Invalid UTF-8 is replaced by U+FFFD so that the
 *  output is always valid JSON. */
void arq_json_write_string(arq_buf_t *b, const char *s, size_t len);
void arq_json_write_int64(arq_buf_t *b, int64_t v);
void arq_json_write_uint64(arq_buf_t *b, uint64_t v);
/** Shortest text that reads back as the same double; non-finite values become null. */
void arq_json_write_double(arq_buf_t *b, double v);
/** Appends a parsed value compactly (no whitespace), numbers as their source text. */
void arq_json_write_value(arq_buf_t *b, const arq_json_value_t *v);

/*
 * A writer that places commas and colons: call key() before each member value of an
 * object; nesting deeper than ARQ_JSON_WRITER_MAX_DEPTH aborts (it is a programming error).
 */
#define ARQ_JSON_WRITER_MAX_DEPTH 64
typedef struct {
  arq_buf_t *out;
  uint64_t _nonempty; /* bit d: the container at depth d already has an element */
  unsigned _depth;
  bool _after_key;
} arq_json_writer_t;

void arq_json_writer_init(arq_json_writer_t *w, arq_buf_t *out);
void arq_json_w_object_begin(arq_json_writer_t *w);
void arq_json_w_object_end(arq_json_writer_t *w);
void arq_json_w_array_begin(arq_json_writer_t *w);
void arq_json_w_array_end(arq_json_writer_t *w);
void arq_json_w_key(arq_json_writer_t *w, const char *key, size_t len);
void arq_json_w_string(arq_json_writer_t *w, const char *s, size_t len);
void arq_json_w_int64(arq_json_writer_t *w, int64_t v);
void arq_json_w_uint64(arq_json_writer_t *w, uint64_t v);
void arq_json_w_double(arq_json_writer_t *w, double v);
void arq_json_w_bool(arq_json_writer_t *w, bool v);
void arq_json_w_null(arq_json_writer_t *w);
/** Appends `len` bytes that the caller guarantees are one valid JSON value. */
void arq_json_w_raw(arq_json_writer_t *w, const char *json, size_t len);

#endif
