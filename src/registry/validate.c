/*
 * validate.c — the walk: does a byte string decode as a given message type?
 *
 * DESIGN
 *   One pass over the input, recursing once per nested message or group, against the
 *   compiled form only (no names, no allocation). The path of fields entered is kept in
 *   a fixed array on the caller's stack so that an error can name it
 *   (`field 2 (address).field 1 (street): invalid UTF-8`); the text is formatted only
 *   when something is wrong.
 *
 *   Strictness, where the protobuf parsers are lenient (see docs/registry.md): a wire
 *   type that does not match the declared type is an error (parsers would keep it as an
 *   unknown field), so is a closed-enum value that is not declared, invalid UTF-8 in a
 *   proto2 string, a group on an undeclared field, a field number in 19000-19999, a tag
 *   over 32 bits, and a required field missing from one occurrence of a message (parsers
 *   merge the occurrences first; the walk has no memory to do that). Leniency, as the parsers: several members of one oneof, repeated occurrences of a
 *   singular field (last one wins), packed and unpacked encodings of repeated scalars,
 *   any varint for bool, the high bits of a 10-byte varint.
 */
#include "common/utf8.h"
#include "registry/compiled.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Path entries kept at each end of a long path in error text. */
#define PATH_ENDS 3u

typedef struct {
  const uint8_t *base;
  unsigned max_depth;
  bool strict_unknown;
  arq_schema_error_t *err;
  /* path[i]: the field entered at depth i (NULL never: undeclared fields are skipped) */
  const arq__field_t *path[ARQ_SCHEMA_DEPTH_CEILING + 1];
} walker_t;

/* ---- errors --------------------------------------------------------------------------- */

static void append(char *buf, size_t cap, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t cap, size_t *at, const char *fmt, ...) {
  if (*at >= cap - 1)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *at, cap - *at, fmt, ap);
  va_end(ap);
  if (n > 0)
    *at = (size_t)n >= cap - *at ? cap - 1 : *at + (size_t)n;
}

/* The text is `<path>: <detail>`, where the path lists the fields entered (depth of
 * them), then `number` (with the declared field `f`, if any) when the problem is at a
 * field of the current message. */
static int fail(walker_t *w, unsigned depth, uint32_t number, const arq__field_t *f,
                const char *code, const uint8_t *at, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static int fail(walker_t *w, unsigned depth, uint32_t number, const arq__field_t *f,
                const char *code, const uint8_t *at, const char *fmt, ...) {
  arq_schema_error_t *e = w->err;
  if (!e)
    return -1;
  e->code = code;
  e->offset = (size_t)(at - w->base);
  e->depth = depth;
  e->field = number ? number : depth ? w->path[depth - 1]->number : 0;
  char *buf = e->message;
  size_t cap = sizeof e->message, n = 0;
  buf[0] = '\0';
  /* A deep path keeps its ends, which are what a reader needs, and elides the middle. */
  for (unsigned i = 0; i < depth; i++) {
    if (depth > 2 * PATH_ENDS && i == PATH_ENDS) {
      append(buf, cap, &n, ".(%u more)", depth - 2 * PATH_ENDS);
      i = depth - PATH_ENDS - 1;
      continue;
    }
    append(buf, cap, &n, "%sfield %u (%s)", i ? "." : "", w->path[i]->number, w->path[i]->name);
  }
  if (number) {
    append(buf, cap, &n, "%sfield %u", depth ? "." : "", number);
    if (f)
      append(buf, cap, &n, " (%s)", f->name);
  }
  if (n)
    append(buf, cap, &n, ": ");
  va_list ap;
  va_start(ap, fmt);
  if (n < cap - 1) {
    int k = vsnprintf(buf + n, cap - n, fmt, ap);
    (void)k;
  }
  va_end(ap);
  return -1;
}

/* ---- wire primitives ------------------------------------------------------------------ */

enum { VARINT_OK, VARINT_TRUNCATED, VARINT_TOO_LONG };

static inline int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v) {
  const uint8_t *p = *pp;
  if (p < end && !(*p & 0x80)) {
    *v = *p;
    *pp = p + 1;
    return VARINT_OK;
  }
  uint64_t r = 0;
  for (unsigned i = 0; i < 10; i++) {
    if (p >= end)
      return VARINT_TRUNCATED;
    uint8_t b = *p++;
    r |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *v = r;
      *pp = p;
      return VARINT_OK;
    }
  }
  return VARINT_TOO_LONG;
}

static int varint_fail(walker_t *w, unsigned depth, uint32_t number, const arq__field_t *f,
                       int rc, const uint8_t *at) {
  if (rc == VARINT_TRUNCATED)
    return fail(w, depth, number, f, arq_schema_err_truncated_varint, at,
                "truncated varint at byte %zu", (size_t)(at - w->base));
  return fail(w, depth, number, f, arq_schema_err_varint_too_long, at,
              "varint longer than 10 bytes at byte %zu", (size_t)(at - w->base));
}

static bool enum_has(const arq__enum_t *e, uint64_t raw) {
  /* On the wire an enum is an int32 sign-extended to 64 bits; parsers keep the low 32. */
  int32_t v = (int32_t)(uint32_t)raw;
  if (v < e->min || v > e->max)
    return false;
  if (e->contiguous)
    return true;
  uint32_t lo = 0, hi = e->n_values;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (e->values[mid] == v)
      return true;
    if (e->values[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return false;
}

static int enum_fail(walker_t *w, unsigned depth, const arq__field_t *f, uint64_t raw,
                     const uint8_t *at) {
  return fail(w, depth, f->number, f, arq_schema_err_enum_value, at,
              "value %d is not in closed enum %s", (int32_t)(uint32_t)raw, f->enumeration->name);
}

/* ---- required fields past the bitmap -------------------------------------------------- */

/* Whether an already validated message body holds `number` at its own level. */
static bool body_has(const uint8_t *p, const uint8_t *end, uint32_t number) {
  unsigned groups = 0;
  uint64_t tag, v = 0;
  while (p < end && read_varint(&p, end, &tag) == VARINT_OK) {
    if (groups == 0 && (tag >> 3) == number && (tag & 7) != ARQ__WIRE_END_GROUP)
      return true;
    switch (tag & 7) {
    case ARQ__WIRE_VARINT:
      read_varint(&p, end, &v);
      break;
    case ARQ__WIRE_FIXED64:
      p += 8;
      break;
    case ARQ__WIRE_FIXED32:
      p += 4;
      break;
    case ARQ__WIRE_LEN:
      read_varint(&p, end, &v);
      p += v;
      break;
    case ARQ__WIRE_START_GROUP:
      groups++;
      break;
    case ARQ__WIRE_END_GROUP:
      groups--;
      break;
    default:
      return false;
    }
  }
  return false;
}

static int check_required(walker_t *w, const arq_schema_message_t *m, uint64_t seen,
                          const uint8_t *start, const uint8_t *end, unsigned depth) {
  if ((seen & m->required_mask) == m->required_mask && m->n_required <= ARQ__REQUIRED_BITS)
    return 0;
  for (uint32_t i = 0; i < m->n_fields; i++) {
    const arq__field_t *f = &m->fields[i];
    if (!(f->flags & ARQ__F_REQUIRED))
      continue;
    bool present = f->required_index < ARQ__REQUIRED_BITS
                       ? (seen >> f->required_index) & 1
                       : body_has(start, end, f->number);
    if (!present)
      return fail(w, depth, 0, NULL, arq_schema_err_missing_required, end,
                  "missing required field %u (%s)", f->number, f->name);
  }
  return 0;
}

/* ---- the walk ------------------------------------------------------------------------- */

static int walk(walker_t *w, const arq_schema_message_t *m, const uint8_t **pp,
                const uint8_t *end, unsigned depth, uint32_t group);

static int packed(walker_t *w, const arq__field_t *f, const uint8_t *p, const uint8_t *end,
                  unsigned depth) {
  size_t n = (size_t)(end - p);
  switch (f->kind) {
  case ARQ__KIND_FIXED32:
  case ARQ__KIND_FIXED64: {
    size_t size = f->kind == ARQ__KIND_FIXED32 ? 4 : 8;
    if (n % size)
      return fail(w, depth, f->number, f, arq_schema_err_bad_packed_length, p,
                  "packed length %zu is not a multiple of %zu", n, size);
    return 0;
  }
  default:
    while (p < end) {
      const uint8_t *at = p;
      uint64_t v;
      int rc = read_varint(&p, end, &v);
      if (rc == VARINT_TRUNCATED)
        return fail(w, depth, f->number, f, arq_schema_err_bad_packed_varint, at,
                    "packed varints end inside a varint at byte %zu", (size_t)(at - w->base));
      if (rc != VARINT_OK)
        return varint_fail(w, depth, f->number, f, rc, at);
      if (f->kind == ARQ__KIND_ENUM && !enum_has(f->enumeration, v))
        return enum_fail(w, depth, f, v, at);
    }
    return 0;
  }
}

static int nested(walker_t *w, const arq__field_t *f, const uint8_t **pp, const uint8_t *end,
                  unsigned depth, uint32_t group) {
  if (depth + 1 > w->max_depth)
    return fail(w, depth, f->number, f, arq_schema_err_too_deep, *pp,
                "nesting deeper than %u levels", w->max_depth);
  w->path[depth] = f;
  return walk(w, f->message, pp, end, depth + 1, group);
}

static int walk(walker_t *w, const arq_schema_message_t *m, const uint8_t **pp,
                const uint8_t *end, unsigned depth, uint32_t group) {
  const uint8_t *p = *pp, *start = p;
  uint64_t seen = 0;
  while (p < end) {
    const uint8_t *at = p;
    uint64_t tag, v;
    int rc = read_varint(&p, end, &tag);
    if (rc != VARINT_OK)
      return varint_fail(w, depth, 0, NULL, rc, at);
    if (tag > UINT32_MAX)
      return fail(w, depth, 0, NULL, arq_schema_err_bad_tag, at, "invalid tag at byte %zu (field number above 536870911)",
                  (size_t)(at - w->base));
    uint32_t number = (uint32_t)(tag >> 3);
    unsigned wire = (unsigned)(tag & 7);
    /* tag <= UINT32_MAX already bounds the number by 2^29-1 */
    if (number == 0)
      return fail(w, depth, 0, NULL, arq_schema_err_bad_field_number_wire, at,
                  "invalid field number %u at byte %zu", number, (size_t)(at - w->base));
    if (wire > ARQ__WIRE_FIXED32)
      return fail(w, depth, number, NULL, arq_schema_err_bad_wire_type, at,
                  "invalid wire type %u at byte %zu", wire, (size_t)(at - w->base));
    if (wire == ARQ__WIRE_END_GROUP) {
      if (group && number == group) {
        if (check_required(w, m, seen, start, at, depth))
          return -1;
        *pp = p;
        return 0;
      }
      return fail(w, depth, number, NULL, arq_schema_err_unexpected_end_group, at,
                  "end-group marker at byte %zu without a matching start",
                  (size_t)(at - w->base));
    }
    const arq__field_t *f = arq__field_find(m, number);
    /* Declared fields are never reserved numbers: the loader refuses them. */
    if (!f && number >= 19000 && number <= 19999)
      return fail(w, depth, number, NULL, arq_schema_err_reserved_field_number, at,
                  "field number in the reserved range 19000-19999 at byte %zu",
                  (size_t)(at - w->base));
    if (!f && w->strict_unknown)
      return fail(w, depth, number, NULL, arq_schema_err_unknown_field, at,
                  "unknown field at byte %zu", (size_t)(at - w->base));
    if (f && wire != f->wire && !(wire == ARQ__WIRE_LEN && (f->flags & ARQ__F_PACKABLE))) {
      if (wire == ARQ__WIRE_START_GROUP)
        return fail(w, depth, number, f, arq_schema_err_undeclared_group, at,
                    "wire type 3 (group), but the field is not declared as a group");
      return fail(w, depth, number, f, arq_schema_err_wire_type_mismatch, at,
                  "wire type %u, expected %u", wire, f->wire);
    }
    if (!f && wire == ARQ__WIRE_START_GROUP)
      return fail(w, depth, number, NULL, arq_schema_err_undeclared_group, at,
                  "wire type 3 (group) on an undeclared field");

    const uint8_t *value_at = p;
    switch (wire) {
    case ARQ__WIRE_VARINT:
      rc = read_varint(&p, end, &v);
      if (rc != VARINT_OK)
        return varint_fail(w, depth, number, f, rc, value_at);
      if (f && f->kind == ARQ__KIND_ENUM && !enum_has(f->enumeration, v))
        return enum_fail(w, depth, f, v, value_at);
      break;
    case ARQ__WIRE_FIXED64:
    case ARQ__WIRE_FIXED32: {
      size_t size = wire == ARQ__WIRE_FIXED64 ? 8 : 4;
      if ((size_t)(end - p) < size)
        return fail(w, depth, number, f, arq_schema_err_truncated_fixed, value_at,
                    "truncated %zu-byte value at byte %zu", size, (size_t)(value_at - w->base));
      p += size;
      break;
    }
    case ARQ__WIRE_LEN: {
      rc = read_varint(&p, end, &v);
      if (rc != VARINT_OK)
        return varint_fail(w, depth, number, f, rc, value_at);
      if (v > (uint64_t)(end - p))
        return fail(w, depth, number, f, arq_schema_err_truncated_length, value_at,
                    "length %llu at byte %zu runs past the end (%zu bytes left)",
                    (unsigned long long)v, (size_t)(value_at - w->base), (size_t)(end - p));
      const uint8_t *body = p, *body_end = p + v;
      p = body_end;
      if (!f)
        break;
      switch (f->kind) {
      case ARQ__KIND_STRING:
        if (!arq_utf8_valid(body, (size_t)v))
          return fail(w, depth, number, f, arq_schema_err_bad_utf8, body, "invalid UTF-8");
        break;
      case ARQ__KIND_BYTES:
        break;
      case ARQ__KIND_MESSAGE: {
        const uint8_t *q = body;
        if (nested(w, f, &q, body_end, depth, 0))
          return -1;
        break;
      }
      default:
        if (packed(w, f, body, body_end, depth))
          return -1;
      }
      break;
    }
    case ARQ__WIRE_START_GROUP:
      /* f is a declared group here: undeclared groups were refused above. */
      if (nested(w, f, &p, end, depth, number))
        return -1;
      break;
    }
    if (f && (f->flags & ARQ__F_REQUIRED) && f->required_index < ARQ__REQUIRED_BITS)
      seen |= UINT64_C(1) << f->required_index;
  }
  if (group)
    return fail(w, depth - 1, w->path[depth - 1]->number, w->path[depth - 1],
                arq_schema_err_unterminated_group, p, "group without its end marker");
  if (check_required(w, m, seen, start, end, depth))
    return -1;
  *pp = p;
  return 0;
}

int arq_schema_validate(const arq_schema_t *s, const arq_schema_message_t *m,
                        const uint8_t *data, size_t len, const arq_schema_limits_t *lim,
                        arq_schema_error_t *err) {
  if (err) {
    err->code = NULL;
    err->offset = 0;
    err->field = 0;
    err->depth = 0;
    err->message[0] = '\0';
  }
  if (!s || !m || (!data && len) || (uintptr_t)m < (uintptr_t)s->messages ||
      (uintptr_t)m >= (uintptr_t)(s->messages + s->n_messages))
    return arq__schema_fail(err, arq_schema_err_bad_argument, 0,
                            "validate: invalid argument (message not of this schema?)");
  size_t max_size = lim && lim->max_size ? lim->max_size : ARQ_SCHEMA_DEFAULT_MAX_SIZE;
  if (len > max_size)
    return arq__schema_fail(err, arq_schema_err_too_large, 0,
                            "message of %zu bytes exceeds the limit of %zu", len, max_size);
  walker_t w;
  w.base = data ? data : (const uint8_t *)"";
  w.max_depth = lim && lim->max_depth ? lim->max_depth : ARQ_SCHEMA_DEFAULT_DEPTH;
  if (w.max_depth > ARQ_SCHEMA_DEPTH_CEILING)
    w.max_depth = ARQ_SCHEMA_DEPTH_CEILING;
  w.strict_unknown = lim && lim->strict_unknown;
  w.err = err;
  const uint8_t *p = w.base;
  return walk(&w, m, &p, w.base + len, 0, 0);
}
