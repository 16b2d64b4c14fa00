/*
 * toml.h — a TOML 1.0 parser (the project's own; Debian packages no C TOML library).
 *
 * DESIGN
 *   arq_toml_parse() reads a whole document held in memory and returns a tree of
 *   values owned by the caller (free it with arq_toml_free()). Every value keeps the
 *   1-based line on which it was defined, so that the typed config loader can report
 *   `file:line: key: problem`. Input is untrusted: the parser never reads past `len`,
 *   accepts NUL bytes only as errors, and bounds nesting depth.
 *
 *   Tables keep their keys in document order. Dates and times are kept as their
 *   normalised RFC 3339 text plus a kind, which is all the config and the toml-test
 *   decoder need.
 */
#ifndef ARQ_COMMON_TOML_H
#define ARQ_COMMON_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
  ARQ_TOML_TABLE,
  ARQ_TOML_ARRAY,
  ARQ_TOML_STRING,
  ARQ_TOML_INTEGER,
  ARQ_TOML_FLOAT,
  ARQ_TOML_BOOL,
  ARQ_TOML_DATETIME,       /* offset date-time */
  ARQ_TOML_DATETIME_LOCAL, /* local date-time */
  ARQ_TOML_DATE_LOCAL,
  ARQ_TOML_TIME_LOCAL,
} arq_toml_type_t;

typedef struct arq_toml_value arq_toml_value_t;

/** Parses `len` bytes of TOML. Returns the root table, or NULL with a message
 *  "line N: problem" written into `err` (at most `errcap` bytes, NUL-terminated). */
arq_toml_value_t *arq_toml_parse(const char *data, size_t len, char *err, size_t errcap);

/** Frees a tree returned by arq_toml_parse(). NULL is allowed. */
void arq_toml_free(arq_toml_value_t *root);

arq_toml_type_t arq_toml_type(const arq_toml_value_t *v);
/** Name of a type for messages: "table", "array", "string", "integer", ... */
const char *arq_toml_type_name(arq_toml_type_t t);
/** 1-based line where the value (or the table header / key) was defined. */
int arq_toml_line(const arq_toml_value_t *v);

/* Tables: entries in document order. */
size_t arq_toml_table_len(const arq_toml_value_t *table);
const char *arq_toml_table_key(const arq_toml_value_t *table, size_t i); /* NUL-terminated */
const arq_toml_value_t *arq_toml_table_value(const arq_toml_value_t *table, size_t i);
/** Looks a key up in one table (no dotted paths). NULL when absent. */
const arq_toml_value_t *arq_toml_table_get(const arq_toml_value_t *table, const char *key);

/* Arrays (including arrays of tables). */
size_t arq_toml_array_len(const arq_toml_value_t *array);
const arq_toml_value_t *arq_toml_array_get(const arq_toml_value_t *array, size_t i);

/* Scalars. Strings are NUL-terminated and may contain NUL (`len` tells). */
const char *arq_toml_string(const arq_toml_value_t *v, size_t *len);
int64_t arq_toml_int(const arq_toml_value_t *v);
double arq_toml_float(const arq_toml_value_t *v);
bool arq_toml_bool(const arq_toml_value_t *v);
/** Date/time kinds: the RFC 3339 text (e.g. "1979-05-27T07:32:00Z"). */
const char *arq_toml_datetime_text(const arq_toml_value_t *v);

/** Writes the value in toml-test's tagged JSON encoding. Returns 0, or -1 on a write error. */
int arq_toml_write_tagged_json(const arq_toml_value_t *v, FILE *out);

#endif
