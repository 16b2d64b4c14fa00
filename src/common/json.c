/*
 * json.c — the parser and the DOM accessors of json.h.
 *
 * DESIGN
 *   Recursive descent over the input, bounded by the depth limit (itself capped so the C
 *   stack is never at risk). Each parsed value is pushed on a scratch stack; when an array
 *   or object closes, its children are moved from the stack to the end of the output array
 *   in one block, and the container itself is pushed in their place. Children therefore
 *   always precede their container in the output, and a container finds them through a
 *   backwards distance, which stays valid when the output array is reallocated.
 *
 *   Decoded strings and number texts go to one byte array that is reserved up front at
 *   len + 1 bytes: a string never decodes longer than its source minus its two quotes, and
 *   a number's NUL terminator is paid for by the delimiter that must follow it (except at
 *   the very end, hence the + 1). Pointers into it are therefore stable during the parse.
 */
#include "common/json.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HARD_MAX_DEPTH 1024u
#define HARD_MAX_BYTES ((size_t)UINT32_MAX - 1)
#define INTEGRAL 1u /* _flags: the number has an exact integer view */
#define NEGATIVE 2u /* _flags: ... and it is negative (mag holds |value|) */

static const char *const messages[] = {
#define ARQ_JSON__MSG(name, msg) msg,
    ARQ_JSON_ERRNO_MAP(ARQ_JSON__MSG)
#undef ARQ_JSON__MSG
};

const char *arq_json_strerror(arq_json_errcode_t code) {
  if ((size_t)code >= sizeof messages / sizeof messages[0])
    return "unknown error";
  return messages[code];
}

void arq_json_error_format(const arq_json_error_t *err, char *buf, size_t cap) {
  if (!cap)
    return;
  arq_buf_t b;
  arq_buf_init(&b);
  arq_buf_printf(&b, "byte %zu: %s", err->offset, err->msg ? err->msg : arq_json_strerror(err->code));
  size_t n = b.len < cap - 1 ? b.len : cap - 1;
  memcpy(buf, b.data, n);
  buf[n] = '\0';
  arq_buf_free(&b);
}

/* ---- the C locale for strtod ---- */

/* strtod follows LC_NUMERIC; a program that calls setlocale() must not change what a
 * JSON number means, so numbers are converted in a private C locale. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static double to_double(const char *nul_terminated) {
  pthread_once(&c_locale_once, c_locale_init);
  if (!c_locale)
    return strtod(nul_terminated, NULL);
  return strtod_l(nul_terminated, NULL, c_locale);
}

/* ---- numbers ---- */

/* Length of the JSON number at s (RFC 8259 grammar), or 0 with *bad pointing at the
 * offending byte. */
static size_t scan_number(const unsigned char *s, const unsigned char *end,
                          const unsigned char **bad) {
  const unsigned char *p = s;
  if (p < end && *p == '-')
    p++;
  if (p == end || *p < '0' || *p > '9')
    goto fail;
  if (*p == '0') {
    p++;
    if (p < end && *p >= '0' && *p <= '9')
      goto fail; /* leading zero */
  } else {
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && *p == '.') {
    p++;
    if (p == end || *p < '0' || *p > '9')
      goto fail;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p == end || *p < '0' || *p > '9')
      goto fail;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  return (size_t)(p - s);
fail:
  *bad = p;
  return 0;
}

/*
 * The exact integer view of a number text already known to be well formed. The value is
 * digits × 10^exp; trailing zeros of the digits move into the exponent, so 1.50e2 and 150
 * both become 15 × 10^1, and the number is integral exactly when the exponent ends up >= 0.
 */
static void integer_view(const char *s, size_t len, arq_json_number_t *n) {
  size_t i = 0;
  n->neg = false;
  n->integral = false;
  n->mag = 0;
  if (s[0] == '-') {
    n->neg = true;
    i = 1;
  }
  /* Locate the mantissa digits (skipping the dot) and the exponent. */
  size_t mant_start = i, mant_end = i, frac_digits = 0;
  bool in_frac = false;
  for (; i < len && s[i] != 'e' && s[i] != 'E'; i++) {
    if (s[i] == '.')
      in_frac = true;
    else if (in_frac)
      frac_digits++;
  }
  mant_end = i;
  int64_t exp = 0;
  if (i < len) {
    i++;
    bool eneg = false;
    if (s[i] == '+' || s[i] == '-')
      eneg = s[i++] == '-';
    for (; i < len; i++) {
      if (exp < 1000000000) /* saturate: beyond this the answer no longer changes */
        exp = exp * 10 + (s[i] - '0');
    }
    if (eneg)
      exp = -exp;
  }
  /* First and last non-zero mantissa digits. */
  size_t first = SIZE_MAX, last = 0, zeros_after_last = 0;
  for (size_t k = mant_start; k < mant_end; k++) {
    if (s[k] == '.')
      continue;
    if (s[k] != '0') {
      if (first == SIZE_MAX)
        first = k;
      last = k;
      zeros_after_last = 0;
    } else {
      zeros_after_last++;
    }
  }
  if (first == SIZE_MAX) { /* zero, whatever the exponent */
    n->integral = true;
    n->neg = false;
    return;
  }
  int64_t e = exp - (int64_t)frac_digits + (int64_t)zeros_after_last;
  if (e < 0)
    return; /* a non-zero digit sits below the units */
  size_t sig = 0;
  uint64_t mag = 0;
  for (size_t k = first; k <= last; k++) {
    if (s[k] == '.')
      continue;
    if (++sig > 20)
      return;
    uint64_t d = (uint64_t)(s[k] - '0');
    if (mag > (UINT64_MAX - d) / 10)
      return;
    mag = mag * 10 + d;
  }
  if (e > 19)
    return;
  for (int64_t k = 0; k < e; k++) {
    if (mag > UINT64_MAX / 10)
      return;
    mag *= 10;
  }
  if (n->neg && mag > (uint64_t)INT64_MAX + 1)
    return;
  n->mag = mag;
  n->integral = true;
}

int arq_json_number_parse(const char *text, size_t len, arq_json_number_t *out) {
  const unsigned char *bad = NULL;
  const unsigned char *s = (const unsigned char *)text;
  if (len == 0 || scan_number(s, s + len, &bad) != len)
    return -1;
  integer_view(text, len, out);
  char small[128];
  char *copy = len < sizeof small ? small : malloc(len + 1);
  if (!copy)
    arq_oom("json number");
  memcpy(copy, text, len);
  copy[len] = '\0';
  out->d = to_double(copy);
  if (copy != small)
    free(copy);
  return 0;
}

int arq_json_number_int64(const arq_json_number_t *n, int64_t *out) {
  if (!n->integral)
    return -1;
  if (n->neg) {
    if (n->mag > (uint64_t)INT64_MAX + 1)
      return -1;
    *out = n->mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)n->mag;
  } else {
    if (n->mag > (uint64_t)INT64_MAX)
      return -1;
    *out = (int64_t)n->mag;
  }
  return 0;
}

int arq_json_number_uint64(const arq_json_number_t *n, uint64_t *out) {
  if (!n->integral || (n->neg && n->mag != 0))
    return -1;
  *out = n->mag;
  return 0;
}

/* ---- the parser ---- */

typedef struct {
  arq_json_doc_t *doc;
  const unsigned char *start, *p, *end;
  arq_json_error_t *err;
  unsigned depth;
} parser_t;

static int fail(parser_t *ps, arq_json_errcode_t code, const unsigned char *at) {
  ps->err->code = code;
  ps->err->offset = (size_t)(at - ps->start);
  ps->err->msg = arq_json_strerror(code);
  return -1;
}

static void *grow(void *ptr, size_t *cap, size_t need, size_t elem, const char *what) {
  if (need <= *cap)
    return ptr;
  size_t n = *cap ? *cap : 64;
  while (n < need)
    n *= 2;
  void *p = realloc(ptr, n * elem);
  if (!p)
    arq_oom(what);
  *cap = n;
  return p;
}

static arq_json_value_t *push(parser_t *ps, const unsigned char *at) {
  arq_json_doc_t *d = ps->doc;
  if (d->_nvals + d->_nstack >= d->limits.max_values) {
    fail(ps, ARQ_JSON_E_TOO_MANY, at);
    return NULL;
  }
  d->_stack = grow(d->_stack, &d->_capstack, d->_nstack + 1, sizeof *d->_stack, "json stack");
  arq_json_value_t *v = &d->_stack[d->_nstack++];
  memset(v, 0, sizeof *v);
  v->_offset = (uint32_t)(at - ps->start);
  return v;
}

/* Moves stack[from..] to the end of the output array. Containers on the stack hold the
 * absolute output index of their first child in _back; it becomes a distance here. */
static void flush(arq_json_doc_t *d, size_t from) {
  size_t n = d->_nstack - from;
  d->_vals = grow(d->_vals, &d->_capvals, d->_nvals + n, sizeof *d->_vals, "json values");
  for (size_t i = 0; i < n; i++) {
    arq_json_value_t *v = &d->_vals[d->_nvals + i];
    *v = d->_stack[from + i];
    if (v->_type == ARQ_JSON_ARRAY || v->_type == ARQ_JSON_OBJECT)
      v->_back = (uint32_t)(d->_nvals + i - v->_back);
  }
  d->_nvals += n;
  d->_nstack = from;
}

static void skip_ws(parser_t *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
    ps->p++;
}

/* Reads 4 hex digits: 0, -1 for a non-hex digit, -2 if the input ends first. */
static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    if (p + i == end)
      return -2;
    unsigned c = p[i], d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v << 4 | d;
  }
  *out = v;
  return 0;
}

static char *put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    *o++ = (char)cp;
  } else if (cp < 0x800) {
    *o++ = (char)(0xc0 | cp >> 6);
    *o++ = (char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    *o++ = (char)(0xe0 | cp >> 12);
    *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
    *o++ = (char)(0x80 | (cp & 0x3f));
  } else {
    *o++ = (char)(0xf0 | cp >> 18);
    *o++ = (char)(0x80 | (cp >> 12 & 0x3f));
    *o++ = (char)(0x80 | (cp >> 6 & 0x3f));
    *o++ = (char)(0x80 | (cp & 0x3f));
  }
  return o;
}

static int parse_string(parser_t *ps, arq_json_value_t *v) {
  arq_json_doc_t *d = ps->doc;
  const unsigned char *p = ps->p + 1, *end = ps->end;
  char *out0 = d->_str + d->_nstr, *o = out0;
  for (;;) {
    if (p == end)
      return fail(ps, ARQ_JSON_E_EOF, p);
    unsigned c = *p;
    if (c == '"')
      break;
    if (c < 0x20)
      return fail(ps, ARQ_JSON_E_CONTROL, p);
    if (c < 0x80 && c != '\\') {
      *o++ = (char)c;
      p++;
      continue;
    }
    if (c >= 0x80) {
      size_t n = arq_utf8_seq_len(p, (size_t)(end - p));
      if (!n)
        return fail(ps, ARQ_JSON_E_UTF8, p);
      memcpy(o, p, n);
      o += n;
      p += n;
      continue;
    }
    /* an escape */
    const unsigned char *esc = p;
    if (end - p < 2)
      return fail(ps, ARQ_JSON_E_EOF, end);
    switch (p[1]) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '/': *o++ = '/'; break;
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      unsigned cp;
      int h = hex4(p + 2, end, &cp);
      if (h)
        return fail(ps, h == -2 ? ARQ_JSON_E_EOF : ARQ_JSON_E_ESCAPE, h == -2 ? end : esc);
      if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(ps, ARQ_JSON_E_SURROGATE, esc);
      if (cp >= 0xd800 && cp <= 0xdbff) {
        unsigned lo;
        if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, end, &lo) ||
            lo < 0xdc00 || lo > 0xdfff)
          return fail(ps, ARQ_JSON_E_SURROGATE, esc);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
      }
      o = put_utf8(o, cp);
      p += 4;
      break;
    }
    default:
      return fail(ps, ARQ_JSON_E_ESCAPE, esc);
    }
    p += 2;
  }
  *o = '\0';
  v->_type = ARQ_JSON_STRING;
  v->_str = out0;
  v->_len = (uint32_t)(o - out0);
  d->_nstr += (size_t)(o - out0) + 1;
  ps->p = p + 1;
  return 0;
}

static int parse_number(parser_t *ps, arq_json_value_t *v) {
  arq_json_doc_t *d = ps->doc;
  const unsigned char *bad = NULL;
  size_t len = scan_number(ps->p, ps->end, &bad);
  if (!len)
    return fail(ps, bad == ps->end ? ARQ_JSON_E_EOF : ARQ_JSON_E_NUMBER, bad);
  char *text = d->_str + d->_nstr;
  memcpy(text, ps->p, len);
  text[len] = '\0';
  d->_nstr += len + 1;
  arq_json_number_t n;
  integer_view(text, len, &n);
  v->_type = ARQ_JSON_NUMBER;
  v->_str = text;
  v->_len = (uint32_t)len;
  v->_num.d = to_double(text);
  v->_num.mag = n.mag;
  v->_flags = (uint8_t)((n.integral ? INTEGRAL : 0) | (n.neg ? NEGATIVE : 0));
  ps->p += len;
  return 0;
}

static int parse_literal(parser_t *ps, arq_json_value_t *v, const char *word, arq_json_type_t t) {
  size_t n = strlen(word);
  for (size_t i = 0; i < n; i++) {
    if (ps->p + i == ps->end)
      return fail(ps, ARQ_JSON_E_EOF, ps->end);
    if (ps->p[i] != (unsigned char)word[i])
      return fail(ps, ARQ_JSON_E_TOKEN, ps->p + i);
  }
  v->_type = (uint8_t)t;
  ps->p += n;
  return 0;
}

static int parse_value(parser_t *ps);

static int key_cmp(const void *a, const void *b) {
  const arq_json_value_t *x = *(const arq_json_value_t *const *)a;
  const arq_json_value_t *y = *(const arq_json_value_t *const *)b;
  size_t n = x->_len < y->_len ? x->_len : y->_len;
  int c = memcmp(x->_str, y->_str, n);
  if (c)
    return c;
  if (x->_len != y->_len)
    return x->_len < y->_len ? -1 : 1;
  return x->_offset < y->_offset ? -1 : x->_offset > y->_offset;
}

static bool same_key(const arq_json_value_t *a, const arq_json_value_t *b) {
  return a->_len == b->_len && memcmp(a->_str, b->_str, a->_len) == 0;
}

/* Keys are at stack[from + 2i]. Small objects compare pairwise; large ones sort, so that a
 * hostile object with many keys costs n log n, not n². Either way the key reported is the
 * earliest one that repeats a key before it. */
static int check_duplicates(parser_t *ps, size_t from, size_t n) {
  arq_json_doc_t *d = ps->doc;
  const arq_json_value_t *keys = &d->_stack[from];
  if (n <= 16) {
    for (size_t j = 1; j < n; j++)
      for (size_t i = 0; i < j; i++)
        if (same_key(&keys[2 * i], &keys[2 * j]))
          return fail(ps, ARQ_JSON_E_DUPLICATE, ps->start + keys[2 * j]._offset);
    return 0;
  }
  d->_sort = grow(d->_sort, &d->_capsort, n, sizeof *d->_sort, "json sort");
  for (size_t i = 0; i < n; i++)
    d->_sort[i] = &keys[2 * i];
  qsort(d->_sort, n, sizeof *d->_sort, key_cmp);
  uint32_t worst = UINT32_MAX;
  for (size_t i = 1; i < n; i++)
    if (same_key(d->_sort[i - 1], d->_sort[i]) && d->_sort[i]->_offset < worst &&
        !(i >= 2 && same_key(d->_sort[i - 2], d->_sort[i])))
      worst = d->_sort[i]->_offset;
  if (worst != UINT32_MAX)
    return fail(ps, ARQ_JSON_E_DUPLICATE, ps->start + worst);
  return 0;
}

/* The container's own slot was pushed by parse_value() just before its children. */
static int parse_container(parser_t *ps, bool object) {
  const unsigned char *open = ps->p;
  if (++ps->depth > ps->doc->limits.max_depth)
    return fail(ps, ARQ_JSON_E_TOO_DEEP, open);
  arq_json_doc_t *d = ps->doc;
  size_t from = d->_nstack;
  size_t count = 0;
  unsigned char close = object ? '}' : ']';
  ps->p++;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
  } else {
    for (;;) {
      if (object) {
        skip_ws(ps);
        if (ps->p == ps->end)
          return fail(ps, ARQ_JSON_E_EOF, ps->p);
        if (*ps->p != '"')
          return fail(ps, ARQ_JSON_E_TOKEN, ps->p);
        arq_json_value_t *k = push(ps, ps->p);
        if (!k || parse_string(ps, k))
          return -1;
        skip_ws(ps);
        if (ps->p == ps->end)
          return fail(ps, ARQ_JSON_E_EOF, ps->p);
        if (*ps->p != ':')
          return fail(ps, ARQ_JSON_E_TOKEN, ps->p);
        ps->p++;
      }
      if (parse_value(ps))
        return -1;
      count++;
      skip_ws(ps);
      if (ps->p == ps->end)
        return fail(ps, ARQ_JSON_E_EOF, ps->p);
      if (*ps->p == close) {
        ps->p++;
        break;
      }
      if (*ps->p != ',')
        return fail(ps, ARQ_JSON_E_TOKEN, ps->p);
      ps->p++;
    }
  }
  if (object && check_duplicates(ps, from, count))
    return -1;
  size_t first = d->_nvals;
  flush(d, from);
  arq_json_value_t *self = &d->_stack[from - 1];
  self->_type = (uint8_t)(object ? ARQ_JSON_OBJECT : ARQ_JSON_ARRAY);
  self->_len = (uint32_t)count;
  self->_back = (uint32_t)first;
  ps->depth--;
  return 0;
}

static int parse_value(parser_t *ps) {
  skip_ws(ps);
  if (ps->p == ps->end)
    return fail(ps, ARQ_JSON_E_EOF, ps->p);
  arq_json_value_t *v = push(ps, ps->p);
  if (!v)
    return -1;
  switch (*ps->p) {
  case '{': return parse_container(ps, true);
  case '[': return parse_container(ps, false);
  case '"': return parse_string(ps, v);
  case 't': return parse_literal(ps, v, "true", ARQ_JSON_TRUE);
  case 'f': return parse_literal(ps, v, "false", ARQ_JSON_FALSE);
  case 'n': return parse_literal(ps, v, "null", ARQ_JSON_NULL);
  default:
    if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
      return parse_number(ps, v);
    return fail(ps, ARQ_JSON_E_TOKEN, ps->p);
  }
}

void arq_json_doc_init(arq_json_doc_t *doc, const arq_json_limits_t *limits) {
  memset(doc, 0, sizeof *doc);
  if (limits)
    doc->limits = *limits;
  if (!doc->limits.max_bytes || doc->limits.max_bytes > HARD_MAX_BYTES)
    doc->limits.max_bytes = doc->limits.max_bytes ? HARD_MAX_BYTES : ARQ_JSON_DEFAULT_MAX_BYTES;
  if (!doc->limits.max_depth)
    doc->limits.max_depth = ARQ_JSON_DEFAULT_MAX_DEPTH;
  if (doc->limits.max_depth > HARD_MAX_DEPTH)
    doc->limits.max_depth = HARD_MAX_DEPTH;
  if (!doc->limits.max_values)
    doc->limits.max_values = ARQ_JSON_DEFAULT_MAX_VALUES;
  if (doc->limits.max_values > UINT32_MAX)
    doc->limits.max_values = UINT32_MAX;
}

void arq_json_doc_free(arq_json_doc_t *doc) {
  free(doc->_vals);
  free(doc->_stack);
  free(doc->_str);
  free(doc->_sort);
  arq_json_limits_t keep = doc->limits;
  memset(doc, 0, sizeof *doc);
  doc->limits = keep;
}

const arq_json_value_t *arq_json_parse(arq_json_doc_t *doc, const char *text, size_t len,
                                       arq_json_error_t *err) {
  arq_json_error_t local;
  if (!text)
    text = ""; /* (NULL, 0) is an empty document, and NULL + 0 is not valid C */
  parser_t ps = {.doc = doc,
                 .start = (const unsigned char *)text,
                 .p = (const unsigned char *)text,
                 .end = (const unsigned char *)text + len,
                 .err = err ? err : &local};
  ps.err->code = ARQ_JSON_E_OK;
  ps.err->offset = 0;
  ps.err->msg = arq_json_strerror(ARQ_JSON_E_OK);
  doc->_nvals = doc->_nstack = doc->_nstr = 0;
  if (len > doc->limits.max_bytes) {
    fail(&ps, ARQ_JSON_E_TOO_LARGE, ps.start + doc->limits.max_bytes);
    return NULL;
  }
  doc->_str = grow(doc->_str, &doc->_capstr, len + 1, 1, "json strings");
  if (parse_value(&ps))
    return NULL;
  skip_ws(&ps);
  if (ps.p != ps.end) {
    fail(&ps, ARQ_JSON_E_TRAILING, ps.p);
    return NULL;
  }
  flush(doc, 0);
  return &doc->_vals[doc->_nvals - 1];
}

/* ---- accessors ---- */

arq_json_type_t arq_json_type(const arq_json_value_t *v) { return (arq_json_type_t)v->_type; }

const char *arq_json_type_name(arq_json_type_t t) {
  switch (t) {
  case ARQ_JSON_NULL: return "null";
  case ARQ_JSON_FALSE:
  case ARQ_JSON_TRUE: return "boolean";
  case ARQ_JSON_NUMBER: return "number";
  case ARQ_JSON_STRING: return "string";
  case ARQ_JSON_ARRAY: return "array";
  case ARQ_JSON_OBJECT: return "object";
  }
  return "?";
}

size_t arq_json_offset(const arq_json_value_t *v) { return v->_offset; }

const char *arq_json_string(const arq_json_value_t *v, size_t *len) {
  if (v->_type != ARQ_JSON_STRING)
    return NULL;
  if (len)
    *len = v->_len;
  return v->_str;
}

const char *arq_json_number_text(const arq_json_value_t *v, size_t *len) {
  if (v->_type != ARQ_JSON_NUMBER)
    return NULL;
  if (len)
    *len = v->_len;
  return v->_str;
}

double arq_json_number(const arq_json_value_t *v) {
  return v->_type == ARQ_JSON_NUMBER ? v->_num.d : 0.0;
}

int arq_json_number_of(const arq_json_value_t *v, arq_json_number_t *n) {
  if (v->_type != ARQ_JSON_NUMBER)
    return -1;
  n->d = v->_num.d;
  n->integral = (v->_flags & INTEGRAL) != 0;
  n->neg = (v->_flags & NEGATIVE) != 0;
  n->mag = v->_num.mag;
  return 0;
}

int arq_json_int64(const arq_json_value_t *v, int64_t *out) {
  arq_json_number_t n;
  return arq_json_number_of(v, &n) ? -1 : arq_json_number_int64(&n, out);
}

int arq_json_uint64(const arq_json_value_t *v, uint64_t *out) {
  arq_json_number_t n;
  return arq_json_number_of(v, &n) ? -1 : arq_json_number_uint64(&n, out);
}

size_t arq_json_len(const arq_json_value_t *v) {
  switch (v->_type) {
  case ARQ_JSON_STRING:
  case ARQ_JSON_ARRAY:
  case ARQ_JSON_OBJECT: return v->_len;
  default: return 0;
  }
}

const arq_json_value_t *arq_json_array_get(const arq_json_value_t *v, size_t i) {
  if (v->_type != ARQ_JSON_ARRAY || i >= v->_len)
    return NULL;
  return v - v->_back + i;
}

const arq_json_value_t *arq_json_object_key(const arq_json_value_t *v, size_t i) {
  if (v->_type != ARQ_JSON_OBJECT || i >= v->_len)
    return NULL;
  return v - v->_back + 2 * i;
}

const arq_json_value_t *arq_json_object_value(const arq_json_value_t *v, size_t i) {
  if (v->_type != ARQ_JSON_OBJECT || i >= v->_len)
    return NULL;
  return v - v->_back + 2 * i + 1;
}

const arq_json_value_t *arq_json_object_get(const arq_json_value_t *v, const char *key,
                                            size_t keylen) {
  if (v->_type != ARQ_JSON_OBJECT)
    return NULL;
  const arq_json_value_t *m = v - v->_back;
  for (size_t i = 0; i < v->_len; i++, m += 2)
    if (m->_len == keylen && memcmp(m->_str, key, keylen) == 0)
      return m + 1;
  return NULL;
}
