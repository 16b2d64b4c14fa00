/*
 * toml_value.c — the tree that arq_toml_parse() returns, and its read-only accessors.
 *
 * DESIGN
 *   Tables keep their entries in an array, which gives document order for free. Lookups
 *   scan that array while a table is small; once it grows past INDEX_FROM entries an open
 *   addressing index over it is kept, so that a hostile document with many keys does not
 *   make parsing quadratic. Accessors are forgiving: asked about the wrong type, they
 *   return a zero value rather than crash, because config code checks types first anyway.
 */
#include <stdlib.h>
#include <string.h>

#include "common/toml_internal.h"

#define INDEX_FROM 16

arq_toml_value_t *arq__toml_new(arq_toml_type_t type, int line) {
  arq_toml_value_t *v = calloc(1, sizeof *v);
  if (v) {
    v->type = type;
    v->line = line;
  }
  return v;
}

void arq_toml_free(arq_toml_value_t *v) {
  if (!v)
    return;
  switch (v->type) {
  case ARQ_TOML_TABLE:
    for (size_t i = 0; i < v->u.table.len; i++) {
      free(v->u.table.entries[i].key);
      arq_toml_free(v->u.table.entries[i].value);
    }
    free(v->u.table.entries);
    free(v->u.table.index);
    break;
  case ARQ_TOML_ARRAY:
    for (size_t i = 0; i < v->u.array.len; i++)
      arq_toml_free(v->u.array.items[i]);
    free(v->u.array.items);
    break;
  case ARQ_TOML_STRING:
  case ARQ_TOML_DATETIME:
  case ARQ_TOML_DATETIME_LOCAL:
  case ARQ_TOML_DATE_LOCAL:
  case ARQ_TOML_TIME_LOCAL:
    free(v->u.str.ptr);
    break;
  default:
    break;
  }
  free(v);
}

/* ---- table index ---- */

static size_t hash_key(const char *key, size_t len) {
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)key[i];
    h *= 1099511628211u;
  }
  return (size_t)h;
}

static void index_insert(size_t *index, size_t cap, const arq__toml_entry_t *e, size_t slot) {
  size_t i = hash_key(e->key, e->keylen) & (cap - 1);
  while (index[i])
    i = (i + 1) & (cap - 1);
  index[i] = slot;
}

static bool index_rebuild(arq_toml_value_t *t, size_t cap) {
  size_t *index = calloc(cap, sizeof *index);
  if (!index)
    return false;
  for (size_t i = 0; i < t->u.table.len; i++)
    index_insert(index, cap, &t->u.table.entries[i], i + 1);
  free(t->u.table.index);
  t->u.table.index = index;
  t->u.table.index_cap = cap;
  return true;
}

static bool same_key(const arq__toml_entry_t *e, const char *key, size_t len) {
  return e->keylen == len && memcmp(e->key, key, len) == 0;
}

arq_toml_value_t *arq__toml_table_find(const arq_toml_value_t *t, const char *key, size_t len) {
  if (!t || t->type != ARQ_TOML_TABLE)
    return NULL;
  const arq__toml_entry_t *entries = t->u.table.entries;
  if (!t->u.table.index) {
    for (size_t i = 0; i < t->u.table.len; i++)
      if (same_key(&entries[i], key, len))
        return entries[i].value;
    return NULL;
  }
  size_t cap = t->u.table.index_cap;
  for (size_t i = hash_key(key, len) & (cap - 1); t->u.table.index[i]; i = (i + 1) & (cap - 1)) {
    const arq__toml_entry_t *e = &entries[t->u.table.index[i] - 1];
    if (same_key(e, key, len))
      return e->value;
  }
  return NULL;
}

/* Returns `items` grown to hold `need` elements (possibly moved), or NULL. */
static void *reserve(void *items, size_t *cap, size_t need, size_t size) {
  if (need <= *cap)
    return items;
  size_t n = *cap ? *cap : 4;
  while (n < need)
    n *= 2;
  if (n > SIZE_MAX / size)
    return NULL;
  void *p = realloc(items, n * size);
  if (p)
    *cap = n;
  return p;
}

bool arq__toml_table_put(arq_toml_value_t *t, const char *key, size_t keylen,
                         arq_toml_value_t *value) {
  size_t n = t->u.table.len;
  arq__toml_entry_t *entries = reserve(t->u.table.entries, &t->u.table.cap, n + 1, sizeof *entries);
  if (!entries)
    return false;
  t->u.table.entries = entries;
  char *copy = malloc(keylen + 1);
  if (!copy)
    return false;
  memcpy(copy, key, keylen);
  copy[keylen] = '\0';
  arq__toml_entry_t *e = &t->u.table.entries[n];
  e->key = copy;
  e->keylen = keylen;
  e->value = value;
  if (n + 1 > INDEX_FROM && (n + 1) * 2 > t->u.table.index_cap) {
    if (!index_rebuild(t, t->u.table.index_cap ? t->u.table.index_cap * 2 : 64)) {
      free(copy);
      return false;
    }
  } else if (t->u.table.index) {
    index_insert(t->u.table.index, t->u.table.index_cap, e, n + 1);
  }
  t->u.table.len = n + 1;
  return true;
}

bool arq__toml_array_push(arq_toml_value_t *a, arq_toml_value_t *value) {
  size_t n = a->u.array.len;
  arq_toml_value_t **items = reserve(a->u.array.items, &a->u.array.cap, n + 1, sizeof *items);
  if (!items)
    return false;
  a->u.array.items = items;
  a->u.array.items[n] = value;
  a->u.array.len = n + 1;
  return true;
}

/* ---- byte buffer ---- */

bool arq__toml_buf_put(arq__toml_buf_t *b, const char *bytes, size_t n) {
  if (n > SIZE_MAX - b->len - 1)
    return false;
  char *p = reserve(b->ptr, &b->cap, b->len + n + 1, 1);
  if (!p)
    return false;
  b->ptr = p;
  if (n)
    memcpy(b->ptr + b->len, bytes, n);
  b->len += n;
  b->ptr[b->len] = '\0';
  return true;
}

bool arq__toml_buf_putc(arq__toml_buf_t *b, char c) { return arq__toml_buf_put(b, &c, 1); }

bool arq__toml_buf_put_utf8(arq__toml_buf_t *b, uint32_t cp) {
  char s[4];
  size_t n;
  if (cp < 0x80) {
    s[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    s[0] = (char)(0xC0 | (cp >> 6));
    s[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    s[0] = (char)(0xE0 | (cp >> 12));
    s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    s[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    s[0] = (char)(0xF0 | (cp >> 18));
    s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    s[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return arq__toml_buf_put(b, s, n);
}

/* ---- public accessors ---- */

arq_toml_type_t arq_toml_type(const arq_toml_value_t *v) { return v->type; }

const char *arq_toml_type_name(arq_toml_type_t t) {
  switch (t) {
  case ARQ_TOML_TABLE:
    return "table";
  case ARQ_TOML_ARRAY:
    return "array";
  case ARQ_TOML_STRING:
    return "string";
  case ARQ_TOML_INTEGER:
    return "integer";
  case ARQ_TOML_FLOAT:
    return "float";
  case ARQ_TOML_BOOL:
    return "bool";
  case ARQ_TOML_DATETIME:
    return "datetime";
  case ARQ_TOML_DATETIME_LOCAL:
    return "datetime-local";
  case ARQ_TOML_DATE_LOCAL:
    return "date-local";
  case ARQ_TOML_TIME_LOCAL:
    return "time-local";
  }
  return "unknown";
}

int arq_toml_line(const arq_toml_value_t *v) { return v ? v->line : 0; }

size_t arq_toml_table_len(const arq_toml_value_t *t) {
  return t && t->type == ARQ_TOML_TABLE ? t->u.table.len : 0;
}

const char *arq_toml_table_key(const arq_toml_value_t *t, size_t i) {
  return i < arq_toml_table_len(t) ? t->u.table.entries[i].key : NULL;
}

const arq_toml_value_t *arq_toml_table_value(const arq_toml_value_t *t, size_t i) {
  return i < arq_toml_table_len(t) ? t->u.table.entries[i].value : NULL;
}

const arq_toml_value_t *arq_toml_table_get(const arq_toml_value_t *t, const char *key) {
  return key ? arq__toml_table_find(t, key, strlen(key)) : NULL;
}

size_t arq_toml_array_len(const arq_toml_value_t *a) {
  return a && a->type == ARQ_TOML_ARRAY ? a->u.array.len : 0;
}

const arq_toml_value_t *arq_toml_array_get(const arq_toml_value_t *a, size_t i) {
  return i < arq_toml_array_len(a) ? a->u.array.items[i] : NULL;
}

const char *arq_toml_string(const arq_toml_value_t *v, size_t *len) {
  if (!v || v->type != ARQ_TOML_STRING) {
    if (len)
      *len = 0;
    return NULL;
  }
  if (len)
    *len = v->u.str.len;
  return v->u.str.ptr;
}

int64_t arq_toml_int(const arq_toml_value_t *v) {
  return v && v->type == ARQ_TOML_INTEGER ? v->u.i : 0;
}

double arq_toml_float(const arq_toml_value_t *v) {
  return v && v->type == ARQ_TOML_FLOAT ? v->u.f : 0.0;
}

bool arq_toml_bool(const arq_toml_value_t *v) {
  return v && v->type == ARQ_TOML_BOOL ? v->u.b : false;
}

const char *arq_toml_datetime_text(const arq_toml_value_t *v) {
  if (!v)
    return NULL;
  switch (v->type) {
  case ARQ_TOML_DATETIME:
  case ARQ_TOML_DATETIME_LOCAL:
  case ARQ_TOML_DATE_LOCAL:
  case ARQ_TOML_TIME_LOCAL:
    return v->u.str.ptr;
  default:
    return NULL;
  }
}
