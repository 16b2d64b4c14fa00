/*
 * descriptor.c — FileDescriptorSet bytes -> the flat list of declared types.
 *
 * DESIGN
 *   protoc-c's generated decoder does the wire work, but it trusts its input in two ways
 *   that matter for bytes from a shared KV bucket: it recurses once per nested message
 *   with no limit, and it allocates a C struct for every sub-message, which can be
 *   dozens of times larger than the two bytes that announce it. So before decoding, a
 *   small scan bounds the one unbounded recursion of descriptor.proto (DescriptorProto
 *   nested_type), and decoding runs under an allocator with a budget proportional to the
 *   input.
 */
#include "registry/descriptor.h"

#include "registry/compiled.h"

#include <stdlib.h>
#include <string.h>

/* Deepest nesting of message declarations accepted (protoc users stay far below). */
#define MAX_DECL_NESTING 100u
/* Bytes of decoded structs allowed per input byte, plus a floor for tiny inputs. Sets that
 * protoc writes take 4 to 7 (more with source info); the budget is several times that. */
#define ALLOC_BUDGET_FACTOR 24u
#define ALLOC_BUDGET_FLOOR (1u << 20)

bool arq__identifier_ok(const char *s) {
  if (!s || !*s)
    return false;
  for (const char *c = s; *c; c++) {
    bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_';
    bool digit = *c >= '0' && *c <= '9';
    if (!alpha && !(digit && c != s))
      return false;
  }
  return true;
}

/* ---- the nesting pre-scan ------------------------------------------------------------- */

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

/* Field that leads one declaration level down: set.file, file.message_type,
 * DescriptorProto.nested_type. */
static const uint32_t descend_field[3] = {1, 4, 3};

/* false only when declarations nest deeper than allowed; malformed bytes are left to
 * the decoder to reject. */
static bool nesting_ok(const uint8_t *p, const uint8_t *end, unsigned level, unsigned depth) {
  if (depth > MAX_DECL_NESTING)
    return false;
  while (p < end) {
    uint64_t tag, v;
    if (!read_varint(&p, end, &tag))
      return true;
    switch (tag & 7) {
    case 0:
      if (!read_varint(&p, end, &v))
        return true;
      break;
    case 1:
      if ((size_t)(end - p) < 8)
        return true;
      p += 8;
      break;
    case 5:
      if ((size_t)(end - p) < 4)
        return true;
      p += 4;
      break;
    case 2:
      if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
        return true;
      if ((tag >> 3) == descend_field[level] &&
          !nesting_ok(p, p + v, level < 2 ? level + 1 : 2, level < 2 ? depth : depth + 1))
        return false;
      p += v;
      break;
    default:
      return true;
    }
  }
  return true;
}

/* ---- the budgeted allocator ----------------------------------------------------------- */

typedef struct {
  size_t left;
  bool exhausted;
} budget_t;

static void *budget_alloc(void *data, size_t size) {
  budget_t *b = data;
  if (size > b->left) {
    b->exhausted = true;
    return NULL;
  }
  b->left -= size;
  return malloc(size);
}

static void budget_free(void *data, void *ptr) {
  free(ptr);
}

/* ---- listing the types ---------------------------------------------------------------- */

static char *join_name(const char *scope, const char *name) {
  size_t a = strlen(scope), b = strlen(name);
  char *s = malloc(a + b + 2);
  if (!s)
    return NULL;
  if (a) {
    memcpy(s, scope, a);
    s[a++] = '.';
  }
  memcpy(s + a, name, b + 1);
  return s;
}

static bool package_ok(const char *pkg) {
  if (!*pkg)
    return true;
  char part[256];
  const char *start = pkg;
  for (const char *c = pkg;; c++) {
    if (*c == '.' || !*c) {
      size_t n = (size_t)(c - start);
      if (n == 0 || n >= sizeof part)
        return false;
      memcpy(part, start, n);
      part[n] = '\0';
      if (!arq__identifier_ok(part))
        return false;
      if (!*c)
        return true;
      start = c + 1;
    }
  }
}

static void count_message(const Google__Protobuf__DescriptorProto *m, size_t *nm, size_t *ne,
                          size_t *nx) {
  (*nm)++;
  *ne += m->n_enum_type;
  *nx += m->n_extension;
  for (size_t i = 0; i < m->n_nested_type; i++)
    count_message(m->nested_type[i], nm, ne, nx);
}

static void add_extensions(arq__descriptors_t *d, Google__Protobuf__FieldDescriptorProto **ext,
                           size_t n, bool proto3) {
  for (size_t i = 0; i < n; i++)
    d->extensions[d->n_extensions++] = (arq__raw_extension_t){ext[i], proto3};
}

static int bad_name(arq_schema_error_t *err, const char *scope, const char *name) {
  return arq__schema_fail(err, arq_schema_err_bad_name, 0, "invalid type name '%s' in '%s'",
                          name ? name : "", scope);
}

static int add_enum(arq__descriptors_t *d, const char *scope,
                    const Google__Protobuf__EnumDescriptorProto *e, bool proto3,
                    arq_schema_error_t *err) {
  if (!arq__identifier_ok(e->name))
    return bad_name(err, scope, e->name);
  arq__raw_enum_t *r = &d->enums[d->n_enums];
  if (!(r->name = join_name(scope, e->name)))
    return arq__schema_fail(err, arq_schema_err_out_of_memory, 0, "out of memory");
  r->proto = e;
  r->proto3 = proto3;
  d->n_enums++;
  return 0;
}

static int add_message(arq__descriptors_t *d, const char *scope,
                       const Google__Protobuf__DescriptorProto *m, bool proto3,
                       arq_schema_error_t *err) {
  if (!arq__identifier_ok(m->name))
    return bad_name(err, scope, m->name);
  arq__raw_message_t *r = &d->messages[d->n_messages];
  if (!(r->name = join_name(scope, m->name)))
    return arq__schema_fail(err, arq_schema_err_out_of_memory, 0, "out of memory");
  r->proto = m;
  r->proto3 = proto3;
  d->n_messages++;
  const char *self = r->name;
  add_extensions(d, m->extension, m->n_extension, proto3);
  for (size_t i = 0; i < m->n_enum_type; i++)
    if (add_enum(d, self, m->enum_type[i], proto3, err))
      return -1;
  for (size_t i = 0; i < m->n_nested_type; i++)
    if (add_message(d, self, m->nested_type[i], proto3, err))
      return -1;
  return 0;
}

int arq__descriptors_decode(const uint8_t *data, size_t len, arq__descriptors_t *out,
                            arq_schema_error_t *err) {
  memset(out, 0, sizeof *out);
  if (!nesting_ok(data, data + len, 0, 0))
    return arq__schema_fail(err, arq_schema_err_descriptor_corrupt, 0,
                            "message declarations nest deeper than %u levels",
                            MAX_DECL_NESTING);
  budget_t budget = {.left = len > (SIZE_MAX - ALLOC_BUDGET_FLOOR) / ALLOC_BUDGET_FACTOR
                                 ? SIZE_MAX
                                 : len * ALLOC_BUDGET_FACTOR + ALLOC_BUDGET_FLOOR};
  ProtobufCAllocator alloc = {budget_alloc, budget_free, &budget};
  out->set = google__protobuf__file_descriptor_set__unpack(&alloc, len, data);
  if (!out->set)
    return arq__schema_fail(err, arq_schema_err_descriptor_corrupt, 0,
                            "not a serialized FileDescriptorSet%s",
                            budget.exhausted ? " (decoding exceeded its memory budget)" : "");

  size_t nm = 0, ne = 0, nx = 0;
  for (size_t f = 0; f < out->set->n_file; f++) {
    const Google__Protobuf__FileDescriptorProto *file = out->set->file[f];
    ne += file->n_enum_type;
    nx += file->n_extension;
    for (size_t i = 0; i < file->n_message_type; i++)
      count_message(file->message_type[i], &nm, &ne, &nx);
  }
  out->messages = calloc(nm ? nm : 1, sizeof *out->messages);
  out->enums = calloc(ne ? ne : 1, sizeof *out->enums);
  out->extensions = calloc(nx ? nx : 1, sizeof *out->extensions);
  if (!out->messages || !out->enums || !out->extensions)
    return arq__schema_fail(err, arq_schema_err_out_of_memory, 0, "out of memory");

  for (size_t f = 0; f < out->set->n_file; f++) {
    const Google__Protobuf__FileDescriptorProto *file = out->set->file[f];
    const char *fname = file->name ? file->name : "(unnamed)";
    bool proto3;
    if (!file->syntax || !strcmp(file->syntax, "proto2") || !*file->syntax)
      proto3 = false;
    else if (!strcmp(file->syntax, "proto3"))
      proto3 = true;
    else
      return arq__schema_fail(err, arq_schema_err_unsupported_syntax, 0,
                              "file %s: unsupported syntax '%.40s'", fname, file->syntax);
    const char *pkg = file->package ? file->package : "";
    if (!package_ok(pkg))
      return arq__schema_fail(err, arq_schema_err_bad_name, 0, "file %s: invalid package '%.64s'",
                              fname, pkg);
    add_extensions(out, file->extension, file->n_extension, proto3);
    for (size_t i = 0; i < file->n_enum_type; i++)
      if (add_enum(out, pkg, file->enum_type[i], proto3, err))
        return -1;
    for (size_t i = 0; i < file->n_message_type; i++)
      if (add_message(out, pkg, file->message_type[i], proto3, err))
        return -1;
  }
  return 0;
}

void arq__descriptors_free(arq__descriptors_t *d) {
  if (!d)
    return;
  for (size_t i = 0; i < d->n_messages; i++)
    free(d->messages[i].name);
  for (size_t i = 0; i < d->n_enums; i++)
    free(d->enums[i].name);
  free(d->messages);
  free(d->enums);
  free(d->extensions);
  if (d->set)
    google__protobuf__file_descriptor_set__free_unpacked(d->set, NULL);
  memset(d, 0, sizeof *d);
}
