/*
 * compile.c — decoded descriptor types -> the schema's compact form (compiled.h).
 *
 * DESIGN
 *   All resolution by name happens here, once: every type reference is looked up by its
 *   fully-qualified name in a sorted table of every message and enum of the set (all
 *   files together, which is what --include_imports provides), and replaced by a
 *   pointer, and extensions are appended to the fields of the message they extend.
 *   Everything that would make the walk ambiguous is refused here with a
 *   message naming the type and field: unknown or wrongly-kinded references, duplicate
 *   type names, field numbers outside 1..2^29-1 or in 19000-19999, duplicate numbers,
 *   malformed map entries. Self-reference and cycles are fine: the walk's depth limit
 *   bounds them.
 */
#include "registry/compiled.h"
#include "registry/descriptor.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FIELD_NUMBER ((1u << 29) - 1)

typedef struct {
  const char *name;
  bool is_enum;
  size_t index;
} entry_t;

typedef struct {
  const arq__descriptors_t *d;
  arq_schema_t *s;
  entry_t *table; /* sorted by name */
  size_t n_table;
  char *names_at; /* next free byte of s->names */
  size_t *ext_order;   /* extension indexes grouped by extended message */
  size_t *ext_start;   /* per message: its group in ext_order (n_messages + 1 entries) */
  arq_schema_error_t *err;
} compiler_t;

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

static int cmp_field(const void *a, const void *b) {
  uint32_t x = ((const arq__field_t *)a)->number, y = ((const arq__field_t *)b)->number;
  return (x > y) - (x < y);
}

static int cmp_int32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static int cmp_message_name(const void *a, const void *b) {
  return strcmp((*(const arq_schema_message_t *const *)a)->name,
                (*(const arq_schema_message_t *const *)b)->name);
}

static const entry_t *lookup(const compiler_t *c, const char *name) {
  entry_t key = {.name = name};
  return bsearch(&key, c->table, c->n_table, sizeof key, cmp_entry);
}

static const char *intern(compiler_t *c, const char *s) {
  size_t n = strlen(s) + 1;
  char *at = c->names_at;
  memcpy(at, s, n);
  c->names_at += n;
  return at;
}

static int oom(compiler_t *c) {
  return arq__schema_fail(c->err, arq_schema_err_out_of_memory, 0, "out of memory");
}

/* ---- enums ---------------------------------------------------------------------------- */

static int compile_enum(compiler_t *c, size_t i) {
  const arq__raw_enum_t *raw = &c->d->enums[i];
  arq__enum_t *e = &c->s->enums[i];
  e->name = intern(c, raw->name);
  e->closed = !raw->proto3;
  if (raw->proto->n_value == 0)
    return arq__schema_fail(c->err, arq_schema_err_empty_enum, 0, "enum %s has no values",
                            e->name);
  e->values = malloc(raw->proto->n_value * sizeof *e->values);
  if (!e->values)
    return oom(c);
  uint32_t n = 0;
  for (size_t v = 0; v < raw->proto->n_value; v++)
    e->values[n++] = raw->proto->value[v]->number;
  qsort(e->values, n, sizeof *e->values, cmp_int32);
  uint32_t distinct = 0;
  for (uint32_t v = 0; v < n; v++)
    if (distinct == 0 || e->values[distinct - 1] != e->values[v])
      e->values[distinct++] = e->values[v];
  e->n_values = distinct;
  e->min = e->values[0];
  e->max = e->values[distinct - 1];
  e->contiguous = (int64_t)e->max - (int64_t)e->min + 1 == (int64_t)distinct;
  return 0;
}

/* ---- fields --------------------------------------------------------------------------- */

typedef Google__Protobuf__FieldDescriptorProto field_proto_t;

static int field_fail(compiler_t *c, const char *code, const char *msg, const field_proto_t *f,
                      const char *what) {
  return arq__schema_fail(c->err, code, 0, "message %s field %d (%s): %s", msg, f->number,
                          f->name ? f->name : "", what);
}

/* Sets kind, wire type and packability from the declared type. */
static bool scalar_kind(int type, arq__field_t *out) {
  switch (type) {
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BOOL:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM:
    out->kind = ARQ__KIND_VARINT;
    out->wire = ARQ__WIRE_VARINT;
    return true;
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FLOAT:
    out->kind = ARQ__KIND_FIXED32;
    out->wire = ARQ__WIRE_FIXED32;
    return true;
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_DOUBLE:
    out->kind = ARQ__KIND_FIXED64;
    out->wire = ARQ__WIRE_FIXED64;
    return true;
  default:
    return false;
  }
}

static bool map_key_type_ok(int type) {
  switch (type) {
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_DOUBLE:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FLOAT:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM:
    return false;
  default:
    return true;
  }
}

/* A field of message `mname`, declared in a proto3 file or not, in a message with
 * `n_oneofs` oneofs (0 for extensions, which cannot be in one). */
static int compile_field(compiler_t *c, const char *mname, bool proto3, size_t n_oneofs,
                         const field_proto_t *fp, arq__field_t *f, uint32_t *n_required) {
  if (!fp->has_number || fp->number < 1 || (uint32_t)fp->number > MAX_FIELD_NUMBER)
    return field_fail(c, arq_schema_err_bad_field_number, mname, fp,
                      "field number outside 1..536870911");
  if (fp->number >= 19000 && fp->number <= 19999)
    return field_fail(c, arq_schema_err_bad_field_number, mname, fp,
                      "field number in the reserved range 19000-19999");
  if (!arq__identifier_ok(fp->name))
    return field_fail(c, arq_schema_err_bad_name, mname, fp, "invalid field name");
  f->number = (uint32_t)fp->number;
  f->name = intern(c, fp->name);
  f->oneof = -1;

  switch (fp->label) {
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL:
    break;
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED:
    if (proto3)
      return field_fail(c, arq_schema_err_bad_label, mname, fp, "required field in proto3");
    f->flags |= ARQ__F_REQUIRED;
    f->required_index = (*n_required)++;
    break;
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED:
    f->flags |= ARQ__F_REPEATED;
    break;
  default:
    return field_fail(c, arq_schema_err_bad_label, mname, fp, "invalid label");
  }

  int type = fp->has_type ? (int)fp->type : 0;
  const entry_t *ref = NULL;
  if (fp->type_name && *fp->type_name) {
    if (fp->type_name[0] != '.')
      return arq__schema_fail(c->err, arq_schema_err_relative_type, 0,
                              "message %s field %d (%s): type reference '%.64s' is not fully "
                              "qualified",
                              mname, fp->number, f->name, fp->type_name);
    ref = lookup(c, fp->type_name + 1);
    if (!ref)
      return arq__schema_fail(c->err, arq_schema_err_unknown_type, 0,
                              "message %s field %d (%s): unknown type %.128s", mname,
                              fp->number, f->name, fp->type_name);
    if (type == 0)
      type = ref->is_enum ? GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM
                          : GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE;
  }

  switch (type) {
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING:
    f->kind = ARQ__KIND_STRING;
    f->wire = ARQ__WIRE_LEN;
    break;
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES:
    f->kind = ARQ__KIND_BYTES;
    f->wire = ARQ__WIRE_LEN;
    break;
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE:
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP:
    if (!ref || ref->is_enum)
      return arq__schema_fail(c->err, arq_schema_err_unknown_type, 0,
                              "message %s field %d (%s): '%.128s' is not a message type", mname,
                              fp->number, f->name, fp->type_name ? fp->type_name : "");
    f->message = &c->s->messages[ref->index];
    if (type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP) {
      f->kind = ARQ__KIND_GROUP;
      f->wire = ARQ__WIRE_START_GROUP;
    } else {
      f->kind = ARQ__KIND_MESSAGE;
      f->wire = ARQ__WIRE_LEN;
      const Google__Protobuf__MessageOptions *o = c->d->messages[ref->index].proto->options;
      if (o && o->has_map_entry && o->map_entry) {
        if (!(f->flags & ARQ__F_REPEATED))
          return field_fail(c, arq_schema_err_bad_map_entry, mname, fp,
                            "map entry type used by a non-repeated field");
        f->flags |= ARQ__F_MAP;
      }
    }
    break;
  case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM:
    if (!ref || !ref->is_enum)
      return arq__schema_fail(c->err, arq_schema_err_unknown_type, 0,
                              "message %s field %d (%s): '%.128s' is not an enum type", mname,
                              fp->number, f->name, fp->type_name ? fp->type_name : "");
    scalar_kind(type, f);
    f->enumeration = &c->s->enums[ref->index];
    /* Closedness belongs to the enum's own file, not to the field's. */
    if (f->enumeration->closed)
      f->kind = ARQ__KIND_ENUM;
    break;
  default:
    if (!scalar_kind(type, f))
      return field_fail(c, arq_schema_err_bad_field_type, mname, fp, "invalid field type");
    if (ref)
      return field_fail(c, arq_schema_err_bad_field_type, mname, fp,
                        "scalar field with a type reference");
  }

  if ((f->flags & ARQ__F_REPEATED) && f->wire != ARQ__WIRE_LEN &&
      f->wire != ARQ__WIRE_START_GROUP) {
    f->flags |= ARQ__F_PACKABLE;
    const Google__Protobuf__FieldOptions *o = fp->options;
    bool packed =
        proto3 ? !(o && o->has_packed && !o->packed) : (o && o->has_packed && o->packed);
    if (packed)
      f->flags |= ARQ__F_PACKED;
  }

  if (fp->has_oneof_index) {
    if (fp->oneof_index < 0 || (size_t)fp->oneof_index >= n_oneofs ||
        (f->flags & (ARQ__F_REPEATED | ARQ__F_REQUIRED)))
      return field_fail(c, arq_schema_err_bad_oneof, mname, fp, "invalid oneof index");
    /* proto3 `optional` is a synthetic one-member oneof, not a real choice. */
    if (!(fp->has_proto3_optional && fp->proto3_optional))
      f->oneof = fp->oneof_index;
  }
  return 0;
}

/* ---- messages ------------------------------------------------------------------------- */

static int check_map_entry(compiler_t *c, const arq__raw_message_t *raw,
                           const arq_schema_message_t *m) {
  const Google__Protobuf__DescriptorProto *p = raw->proto;
  if (m->n_fields != 2 || m->fields[0].number != 1 || m->fields[1].number != 2 ||
      strcmp(m->fields[0].name, "key") || strcmp(m->fields[1].name, "value") ||
      (m->fields[0].flags & (ARQ__F_REPEATED | ARQ__F_REQUIRED)) ||
      (m->fields[1].flags & (ARQ__F_REPEATED | ARQ__F_REQUIRED)) || p->n_nested_type ||
      p->n_oneof_decl)
    return arq__schema_fail(c->err, arq_schema_err_bad_map_entry, 0,
                            "message %s: a map entry has exactly the fields 1 (key) and "
                            "2 (value)",
                            m->name);
  const field_proto_t *key = p->field[0]->number == 1 ? p->field[0] : p->field[1];
  if (!key->has_type || !map_key_type_ok((int)key->type))
    return arq__schema_fail(c->err, arq_schema_err_bad_map_entry, 0,
                            "message %s: invalid map key type", m->name);
  return 0;
}

static int compile_message(compiler_t *c, size_t i) {
  const arq__raw_message_t *raw = &c->d->messages[i];
  arq_schema_message_t *m = &c->s->messages[i];
  const Google__Protobuf__DescriptorProto *p = raw->proto;
  m->name = intern(c, raw->name);
  m->map_entry = p->options && p->options->has_map_entry && p->options->map_entry;
  m->n_oneofs = (uint32_t)p->n_oneof_decl;
  size_t first_ext = c->ext_start[i], n_ext = c->ext_start[i + 1] - first_ext;
  size_t n_total = p->n_field + n_ext;
  if (n_total > UINT16_MAX - 1)
    return arq__schema_fail(c->err, arq_schema_err_bad_field_number, 0,
                            "message %s: too many fields", m->name);
  m->n_fields = (uint32_t)n_total;
  m->fields = calloc(n_total ? n_total : 1, sizeof *m->fields);
  if (!m->fields)
    return oom(c);
  for (size_t f = 0; f < p->n_field; f++)
    if (compile_field(c, raw->name, raw->proto3, p->n_oneof_decl, p->field[f], &m->fields[f],
                      &m->n_required))
      return -1;
  /* Extensions join the fields of the message they extend: the wire does not tell them
   * apart, and checking them beats skipping them as unknown. */
  size_t at = p->n_field;
  for (size_t k = 0; k < n_ext; k++) {
    const arq__raw_extension_t *ext = &c->d->extensions[c->ext_order[first_ext + k]];
    if (ext->proto->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED)
      return field_fail(c, arq_schema_err_bad_label, raw->name, ext->proto,
                        "an extension cannot be required");
    if (compile_field(c, raw->name, ext->proto3, 0, ext->proto, &m->fields[at++],
                      &m->n_required))
      return -1;
  }
  qsort(m->fields, m->n_fields, sizeof *m->fields, cmp_field);
  for (uint32_t f = 1; f < m->n_fields; f++)
    if (m->fields[f].number == m->fields[f - 1].number)
      return arq__schema_fail(c->err, arq_schema_err_duplicate_field_number, 0,
                              "message %s: field number %u used by %s and %s", m->name,
                              m->fields[f].number, m->fields[f - 1].name, m->fields[f].name);
  for (uint32_t f = 0; f < m->n_fields; f++)
    if ((m->fields[f].flags & ARQ__F_REQUIRED) &&
        m->fields[f].required_index < ARQ__REQUIRED_BITS)
      m->required_mask |= UINT64_C(1) << m->fields[f].required_index;
  /* The dense index only where it stays small next to the fields themselves, so that a
   * hostile set of many one-field messages cannot multiply its size by the table's. */
  if (m->n_fields && m->fields[m->n_fields - 1].number < ARQ__DENSE_MAX &&
      m->fields[m->n_fields - 1].number < 8 * m->n_fields + 32) {
    m->dense_len = m->fields[m->n_fields - 1].number + 1;
    m->dense = calloc(m->dense_len, sizeof *m->dense);
    if (!m->dense)
      return oom(c);
    for (uint32_t f = 0; f < m->n_fields; f++)
      m->dense[m->fields[f].number] = (uint16_t)(f + 1);
  }
  if (m->map_entry)
    return check_map_entry(c, raw, m);
  return 0;
}

/* ---- the whole set -------------------------------------------------------------------- */

/* Groups the extensions by the message they extend (a counting sort, linear in the set). */
static int resolve_extendees(compiler_t *c) {
  const arq__descriptors_t *d = c->d;
  size_t n_ext = d->n_extensions ? d->n_extensions : 1;
  int rc = -1;
  size_t *target = malloc(n_ext * sizeof *target);
  size_t *cursor = malloc((d->n_messages ? d->n_messages : 1) * sizeof *cursor);
  c->ext_order = malloc(n_ext * sizeof *c->ext_order);
  c->ext_start = calloc(d->n_messages + 1, sizeof *c->ext_start);
  if (!target || !cursor || !c->ext_order || !c->ext_start) {
    oom(c);
    goto done;
  }
  for (size_t x = 0; x < d->n_extensions; x++) {
    const field_proto_t *fp = d->extensions[x].proto;
    const char *name = fp->name ? fp->name : "";
    const char *extendee = fp->extendee ? fp->extendee : "";
    if (extendee[0] != '.') {
      arq__schema_fail(c->err, arq_schema_err_relative_type, 0,
                       "extension %s: extendee '%.128s' is not fully qualified", name, extendee);
      goto done;
    }
    const entry_t *e = lookup(c, extendee + 1);
    if (!e || e->is_enum) {
      arq__schema_fail(c->err, arq_schema_err_unknown_type, 0,
                       "extension %s: unknown message %.128s", name, extendee);
      goto done;
    }
    target[x] = e->index;
    c->ext_start[e->index + 1]++;
  }
  for (size_t i = 0; i < d->n_messages; i++)
    c->ext_start[i + 1] += c->ext_start[i];
  /* ext_start[i] is where message i's group begins; a moving cursor fills each group. */
  memcpy(cursor, c->ext_start, d->n_messages * sizeof *cursor);
  for (size_t x = 0; x < d->n_extensions; x++)
    c->ext_order[cursor[target[x]]++] = x;
  rc = 0;
done:
  free(cursor);
  free(target);
  return rc;
}

static size_t names_size(const arq__descriptors_t *d) {
  size_t n = 0;
  for (size_t i = 0; i < d->n_messages; i++) {
    n += strlen(d->messages[i].name) + 1;
    for (size_t f = 0; f < d->messages[i].proto->n_field; f++) {
      const char *fname = d->messages[i].proto->field[f]->name;
      n += (fname ? strlen(fname) : 0) + 1;
    }
  }
  for (size_t i = 0; i < d->n_enums; i++)
    n += strlen(d->enums[i].name) + 1;
  for (size_t i = 0; i < d->n_extensions; i++) {
    const char *fname = d->extensions[i].proto->name;
    n += (fname ? strlen(fname) : 0) + 1;
  }
  return n;
}

int arq__schema_compile(const arq__descriptors_t *d, arq_schema_t **out,
                        arq_schema_error_t *err) {
  *out = NULL;
  if (d->n_messages == 0)
    return arq__schema_fail(err, arq_schema_err_descriptor_empty, 0,
                            "descriptor set holds no message type");
  compiler_t c = {.d = d, .err = err};
  int rc = -1;
  arq_schema_t *s = calloc(1, sizeof *s);
  if (!s)
    return oom(&c);
  c.s = s;
  s->n_messages = d->n_messages;
  s->n_enums = d->n_enums;
  s->messages = calloc(d->n_messages, sizeof *s->messages);
  s->enums = calloc(d->n_enums ? d->n_enums : 1, sizeof *s->enums);
  s->names = malloc(names_size(d));
  s->by_name = malloc(d->n_messages * sizeof *s->by_name);
  c.n_table = d->n_messages + d->n_enums;
  c.table = malloc(c.n_table * sizeof *c.table);
  if (!s->messages || !s->enums || !s->names || !s->by_name || !c.table) {
    oom(&c);
    goto done;
  }
  c.names_at = s->names;

  for (size_t i = 0; i < d->n_messages; i++)
    c.table[i] = (entry_t){d->messages[i].name, false, i};
  for (size_t i = 0; i < d->n_enums; i++)
    c.table[d->n_messages + i] = (entry_t){d->enums[i].name, true, i};
  qsort(c.table, c.n_table, sizeof *c.table, cmp_entry);
  for (size_t i = 1; i < c.n_table; i++)
    if (!strcmp(c.table[i].name, c.table[i - 1].name)) {
      arq__schema_fail(err, arq_schema_err_duplicate_name, 0, "type %s is declared twice",
                       c.table[i].name);
      goto done;
    }

  for (size_t i = 0; i < d->n_enums; i++)
    if (compile_enum(&c, i))
      goto done;
  if (resolve_extendees(&c))
    goto done;
  for (size_t i = 0; i < d->n_messages; i++)
    if (compile_message(&c, i))
      goto done;
  for (size_t i = 0; i < d->n_messages; i++)
    s->by_name[i] = &s->messages[i];
  qsort(s->by_name, d->n_messages, sizeof *s->by_name, cmp_message_name);
  *out = s;
  s = NULL;
  rc = 0;
done:
  free(c.table);
  free(c.ext_order);
  free(c.ext_start);
  arq_schema_free(s);
  return rc;
}
