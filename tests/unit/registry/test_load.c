/*
 * Loading: gzip handling (bounded, corrupt streams), and the refusal of invalid
 * descriptor sets. Invalid sets that protoc would never write are built here with the
 * protoc-c structs the library itself decodes with, then packed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <zlib.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "registry/schema.h"
#include "test_support.h"

/* ---- gzip ----------------------------------------------------------------------------- */

static uint8_t *gzip(const uint8_t *in, size_t len, size_t *out_len) {
  z_stream zs = {0};
  assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
  size_t cap = deflateBound(&zs, (uLong)len);
  uint8_t *out = malloc(cap);
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)len;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  *out_len = zs.total_out;
  deflateEnd(&zs);
  return out;
}

static void loads_plain_and_gzip(void **state) {
  const char *files[] = {"rich.desc", "rich.desc.gz"};
  for (size_t i = 0; i < 2; i++) {
    size_t len;
    uint8_t *b = read_data(files[i], &len);
    arq_schema_t *s;
    arq_schema_error_t err;
    if (arq_schema_load(b, len, 0, &s, &err))
      fail_msg("%s: %s", files[i], err.message);
    assert_ptr_equal(err.code, NULL);
    assert_non_null(arq_schema_find_message(s, "arq.test.User"));
    assert_non_null(arq_schema_find_message(s, "arq.common.Person.Extra"));
    arq_schema_free(s);
    free(b);
  }
  arq_schema_free(NULL);
}

static void gzip_bomb_is_refused(void **state) {
  size_t big = 100u << 20;
  uint8_t *zeros = calloc(1, big);
  size_t zlen;
  uint8_t *bomb = gzip(zeros, big, &zlen);
  free(zeros);
  assert_true(zlen < 200u << 10);

  clock_t t0 = clock();
  arq_schema_t *s = NULL;
  arq_schema_error_t err;
  assert_int_equal(arq_schema_load(bomb, zlen, 1u << 20, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_gzip_too_large);
  assert_null(s);
  uint8_t *out = NULL;
  size_t out_len = 0;
  assert_int_equal(arq_schema_gunzip(bomb, zlen, 4096, &out, &out_len, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_gzip_too_large);
  assert_null(out);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  assert_true(secs < 2.0); /* refused after ~1 MiB of work, not 100 */

  /* with room for all of it, the same stream inflates (the limit is exact) */
  assert_int_equal(arq_schema_gunzip(bomb, zlen, big, &out, &out_len, &err), 0);
  assert_int_equal(out_len, big);
  free(out);
  assert_int_equal(arq_schema_gunzip(bomb, zlen, big - 1, &out, &out_len, &err), -1);
  free(bomb);

  /* an uncompressed set past the limit */
  uint8_t plain[64] = {0};
  assert_int_equal(arq_schema_load(plain, sizeof plain, 16, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_descriptor_too_large);
}

static void corrupt_gzip_is_refused(void **state) {
  size_t len;
  uint8_t *gz = read_data("rich.desc.gz", &len);
  arq_schema_t *s = NULL;
  arq_schema_error_t err;
  /* flipped bits in the middle (CRC or stream damage), truncated, trailing garbage */
  for (size_t at = 10; at < len; at += 7) {
    uint8_t *copy = malloc(len);
    memcpy(copy, gz, len);
    copy[at] ^= 0x55;
    int rc = arq_schema_load(copy, len, 0, &s, &err);
    if (rc == 0)
      arq_schema_free(s); /* a flip in the gzip header's optional bytes may be harmless */
    else
      assert_non_null(err.code);
    free(copy);
  }
  uint8_t *copy = malloc(len + 3);
  memcpy(copy, gz, len);
  copy[len / 2] ^= 0xff;
  assert_int_equal(arq_schema_load(copy, len, 0, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_gzip_corrupt);
  memcpy(copy, gz, len);
  assert_int_equal(arq_schema_load(copy, len - 5, 0, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_gzip_corrupt);
  assert_int_equal(arq_schema_load(copy, 2, 0, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_gzip_corrupt);
  memcpy(copy + len, "abc", 3);
  assert_int_equal(arq_schema_load(copy, len + 3, 0, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_gzip_corrupt);
  free(copy);
  free(gz);
}

static void not_a_descriptor_set(void **state) {
  arq_schema_t *s = NULL;
  arq_schema_error_t err;
  const char *json = "{\"file\": []}";
  assert_int_equal(arq_schema_load((const uint8_t *)json, strlen(json), 0, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_descriptor_corrupt);
  assert_int_equal(arq_schema_load(NULL, 0, 0, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_descriptor_empty);
  assert_int_equal(arq_schema_load(NULL, 0, 0, NULL, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_bad_argument);
}

static void missing_import_is_refused(void **state) {
  size_t len;
  uint8_t *b = read_data("missing.desc", &len);
  arq_schema_t *s = NULL;
  arq_schema_error_t err;
  assert_int_equal(arq_schema_load(b, len, 0, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_unknown_type);
  assert_string_equal(err.message, "message arq.missing.Holder field 1 (person): unknown type "
                                   ".arq.common.Person");
  free(b);
}

/* ---- hand-built descriptor sets ------------------------------------------------------- */

typedef Google__Protobuf__FieldDescriptorProto field_t;

static field_t make_field(const char *name, int number, int type, const char *type_name) {
  field_t f = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__INIT;
  f.name = (char *)name;
  f.has_number = 1;
  f.number = number;
  f.has_label = 1;
  f.label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
  if (type) {
    f.has_type = 1;
    f.type = (Google__Protobuf__FieldDescriptorProto__Type)type;
  }
  f.type_name = (char *)type_name;
  return f;
}

enum { T_INT32 = 5, T_STRING = 9, T_MESSAGE = 11, T_ENUM = 14 };

/* `extend` declarations of the file load_messages builds. */
static field_t **file_extensions;
static size_t n_file_extensions;

/* One file "t.proto" of package "t" with the given messages (and an enum t.E). */
static int load_messages(Google__Protobuf__DescriptorProto **msgs, size_t n, const char *syntax,
                         arq_schema_t **s, arq_schema_error_t *err) {
  Google__Protobuf__EnumValueDescriptorProto v = GOOGLE__PROTOBUF__ENUM_VALUE_DESCRIPTOR_PROTO__INIT;
  v.name = "E_ZERO";
  v.has_number = 1;
  Google__Protobuf__EnumValueDescriptorProto *vals[] = {&v};
  Google__Protobuf__EnumDescriptorProto e = GOOGLE__PROTOBUF__ENUM_DESCRIPTOR_PROTO__INIT;
  e.name = "E";
  e.n_value = 1;
  e.value = vals;
  Google__Protobuf__EnumDescriptorProto *enums[] = {&e};
  Google__Protobuf__FileDescriptorProto file = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT;
  file.name = "t.proto";
  file.package = "t";
  file.syntax = (char *)syntax;
  file.n_message_type = n;
  file.message_type = msgs;
  file.n_enum_type = 1;
  file.enum_type = enums;
  file.n_extension = n_file_extensions;
  file.extension = file_extensions;
  Google__Protobuf__FileDescriptorProto *files[] = {&file};
  Google__Protobuf__FileDescriptorSet set = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
  set.n_file = 1;
  set.file = files;
  size_t len = google__protobuf__file_descriptor_set__get_packed_size(&set);
  uint8_t *buf = malloc(len ? len : 1);
  google__protobuf__file_descriptor_set__pack(&set, buf);
  *s = NULL;
  int rc = arq_schema_load(buf, len, 0, s, err);
  free(buf);
  return rc;
}

/* Loads message t.M with the given fields; returns the error code (NULL: loaded). */
static const char *load_fields(field_t *fields, size_t n, const char *syntax,
                               arq_schema_error_t *err) {
  field_t *ptrs[80];
  for (size_t i = 0; i < n; i++)
    ptrs[i] = &fields[i];
  Google__Protobuf__DescriptorProto m = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
  m.name = "M";
  m.n_field = n;
  m.field = ptrs;
  Google__Protobuf__DescriptorProto *msgs[] = {&m};
  arq_schema_t *s;
  int rc = load_messages(msgs, 1, syntax, &s, err);
  arq_schema_free(s);
  return rc ? err->code : NULL;
}

static void invalid_descriptor_sets(void **state) {
  arq_schema_error_t err;
  field_t f[2];

  f[0] = make_field("a", 1, T_INT32, NULL);
  assert_null(load_fields(f, 1, "proto3", &err));

  f[0] = make_field("a", 0, T_INT32, NULL);
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_bad_field_number);
  assert_string_equal(err.message, "message t.M field 0 (a): field number outside 1..536870911");
  f[0] = make_field("a", 19500, T_INT32, NULL);
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_bad_field_number);
  f[0] = make_field("a", 1 << 29, T_INT32, NULL);
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_bad_field_number);
  f[0] = make_field("a", -3, T_INT32, NULL);
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_bad_field_number);

  f[0] = make_field("a", 7, T_INT32, NULL);
  f[1] = make_field("b", 7, T_STRING, NULL);
  assert_ptr_equal(load_fields(f, 2, "proto3", &err), arq_schema_err_duplicate_field_number);
  assert_string_equal(err.message, "message t.M: field number 7 used by a and b");

  f[0] = make_field("a", 1, T_MESSAGE, "t.M");
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_relative_type);
  f[0] = make_field("a", 1, T_MESSAGE, ".t.Nope");
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_unknown_type);
  f[0] = make_field("a", 1, T_MESSAGE, ".t.E");
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_unknown_type);
  f[0] = make_field("a", 1, T_ENUM, ".t.M");
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_unknown_type);
  f[0] = make_field("a", 1, T_INT32, ".t.M");
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_bad_field_type);
  f[0] = make_field("a", 1, 0, NULL);
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_bad_field_type);
  f[0] = make_field("a", 1, 99, NULL);
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_bad_field_type);
  /* type left out, resolved from the reference: self-reference is fine */
  f[0] = make_field("a", 1, 0, ".t.M");
  assert_null(load_fields(f, 1, "proto3", &err));

  f[0] = make_field("a", 1, T_INT32, NULL);
  f[0].label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED;
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_bad_label);
  assert_null(load_fields(f, 1, "proto2", &err));
  f[0].label = (Google__Protobuf__FieldDescriptorProto__Label)9;
  assert_ptr_equal(load_fields(f, 1, "proto2", &err), arq_schema_err_bad_label);

  f[0] = make_field("a", 1, T_INT32, NULL);
  f[0].has_oneof_index = 1;
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_bad_oneof);

  f[0] = make_field("a-b", 1, T_INT32, NULL);
  assert_ptr_equal(load_fields(f, 1, "proto3", &err), arq_schema_err_bad_name);
  f[0] = make_field("a", 1, T_INT32, NULL);
  assert_ptr_equal(load_fields(f, 1, "editions", &err), arq_schema_err_unsupported_syntax);
}

static void duplicate_and_nested_names(void **state) {
  arq_schema_error_t err;
  arq_schema_t *s;
  Google__Protobuf__DescriptorProto a = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
  a.name = "A";
  Google__Protobuf__DescriptorProto a2 = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
  a2.name = "A";
  Google__Protobuf__DescriptorProto *two[] = {&a, &a2};
  assert_int_equal(load_messages(two, 2, NULL, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_duplicate_name);
  assert_string_equal(err.message, "type t.A is declared twice");

  /* a message named like the enum */
  a2.name = "E";
  assert_int_equal(load_messages(two, 2, NULL, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_duplicate_name);

  /* declarations nested deeper than the loader allows are refused before decoding */
  enum { deep = 150 };
  Google__Protobuf__DescriptorProto chain[deep], *links[deep];
  for (size_t i = 0; i < deep; i++) {
    Google__Protobuf__DescriptorProto init = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
    chain[i] = init;
    chain[i].name = "N";
    links[i] = &chain[i];
  }
  for (size_t i = 0; i + 1 < deep; i++) {
    chain[i].n_nested_type = 1;
    chain[i].nested_type = &links[i + 1];
  }
  assert_int_equal(load_messages(links, 1, NULL, &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_descriptor_corrupt);
  chain[50].n_nested_type = 0;
  assert_int_equal(load_messages(links, 1, NULL, &s, &err), 0);
  assert_non_null(arq_schema_find_message(s, "t.N.N.N"));
  arq_schema_free(s);
}

static void bad_map_entries(void **state) {
  arq_schema_error_t err;
  arq_schema_t *s;
  Google__Protobuf__MessageOptions opts = GOOGLE__PROTOBUF__MESSAGE_OPTIONS__INIT;
  opts.has_map_entry = 1;
  opts.map_entry = 1;
  field_t kv[2] = {make_field("key", 1, 1 /* double */, NULL), make_field("value", 2, T_INT32, NULL)};
  field_t *kvp[] = {&kv[0], &kv[1]};
  Google__Protobuf__DescriptorProto entry = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
  entry.name = "Entry";
  entry.options = &opts;
  entry.n_field = 2;
  entry.field = kvp;
  field_t use = make_field("m", 1, T_MESSAGE, ".t.Entry");
  use.label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
  field_t *usep[] = {&use};
  Google__Protobuf__DescriptorProto holder = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
  holder.name = "H";
  holder.n_field = 1;
  holder.field = usep;
  Google__Protobuf__DescriptorProto *msgs[] = {&holder, &entry};

  assert_int_equal(load_messages(msgs, 2, "proto3", &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_bad_map_entry);
  kv[0] = make_field("key", 1, T_STRING, NULL);
  assert_int_equal(load_messages(msgs, 2, "proto3", &s, &err), 0);
  arq_schema_free(s);
  entry.n_field = 1;
  assert_int_equal(load_messages(msgs, 2, "proto3", &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_bad_map_entry);
  entry.n_field = 2;
  use.label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
  assert_int_equal(load_messages(msgs, 2, "proto3", &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_bad_map_entry);
}

/* More required fields than the validator's bitmap holds: the rest are found by a
 * second scan. */
static void many_required_fields(void **state) {
  enum { n = 70 };
  field_t f[n];
  field_t *ptrs[n];
  char names[n][16];
  for (int i = 0; i < n; i++) {
    snprintf(names[i], sizeof names[i], "f%d", i + 1);
    f[i] = make_field(names[i], i + 1, T_INT32, NULL);
    f[i].label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED;
    ptrs[i] = &f[i];
  }
  Google__Protobuf__DescriptorProto m = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
  m.name = "M";
  m.n_field = n;
  m.field = ptrs;
  Google__Protobuf__DescriptorProto *msgs[] = {&m};
  arq_schema_t *s;
  arq_schema_error_t err;
  assert_int_equal(load_messages(msgs, 1, "proto2", &s, &err), 0);
  const arq_schema_message_t *msg = arq_schema_find_message(s, "t.M");
  uint8_t buf[3 * n];
  size_t len = 0;
  for (int i = n; i >= 1; i--) { /* any order */
    uint32_t tag = (uint32_t)i << 3;
    if (tag >= 0x80) {
      buf[len++] = (uint8_t)(tag | 0x80);
      buf[len++] = (uint8_t)(tag >> 7);
    } else {
      buf[len++] = (uint8_t)tag;
    }
    buf[len++] = 1;
  }
  assert_int_equal(arq_schema_validate(s, msg, buf, len, NULL, &err), 0);
  /* drop field 70 (the first three bytes) and field 1 (the last two) in turn */
  assert_int_equal(arq_schema_validate(s, msg, buf + 3, len - 3, NULL, &err), -1);
  assert_string_equal(err.message, "missing required field 70 (f70)");
  assert_int_equal(arq_schema_validate(s, msg, buf, len - 2, NULL, &err), -1);
  assert_string_equal(err.message, "missing required field 1 (f1)");
  arq_schema_free(s);
}

static void extension_declarations(void **state) {
  field_t a = make_field("a", 1, T_INT32, NULL);
  field_t *ap[] = {&a};
  Google__Protobuf__DescriptorProto m = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
  m.name = "M";
  m.n_field = 1;
  m.field = ap;
  Google__Protobuf__DescriptorProto *msgs[] = {&m};
  field_t ext = make_field("x", 100, T_STRING, NULL);
  field_t *extp[] = {&ext};
  file_extensions = extp;
  n_file_extensions = 1;
  arq_schema_t *s;
  arq_schema_error_t err;

  ext.extendee = ".t.M";
  assert_int_equal(load_messages(msgs, 1, "proto2", &s, &err), 0);
  static const uint8_t bad[] = {0xa2, 0x06, 0x01, 0xff};
  assert_int_equal(arq_schema_validate(s, arq_schema_find_message(s, "t.M"), bad, sizeof bad,
                                       NULL, &err), -1);
  assert_string_equal(err.message, "field 100 (x): invalid UTF-8");
  arq_schema_free(s);

  ext.extendee = ".t.Nope";
  assert_int_equal(load_messages(msgs, 1, "proto2", &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_unknown_type);
  assert_string_equal(err.message, "extension x: unknown message .t.Nope");
  ext.extendee = ".t.E";
  assert_int_equal(load_messages(msgs, 1, "proto2", &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_unknown_type);
  ext.extendee = "t.M";
  assert_int_equal(load_messages(msgs, 1, "proto2", &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_relative_type);
  ext.extendee = ".t.M";
  ext.number = 1; /* collides with field a */
  assert_int_equal(load_messages(msgs, 1, "proto2", &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_duplicate_field_number);
  ext.number = 100;
  ext.label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED;
  assert_int_equal(load_messages(msgs, 1, "proto2", &s, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_bad_label);
  file_extensions = NULL;
  n_file_extensions = 0;
}

/* Field numbers too sparse for the dense index are found by binary search. */
static void sparse_field_numbers(void **state) {
  field_t f[3] = {make_field("a", 1, T_INT32, NULL), make_field("b", 900, T_STRING, NULL),
                  make_field("c", 536870911, T_STRING, NULL)};
  field_t *ptrs[] = {&f[0], &f[1], &f[2]};
  Google__Protobuf__DescriptorProto m = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT;
  m.name = "M";
  m.n_field = 3;
  m.field = ptrs;
  Google__Protobuf__DescriptorProto *msgs[] = {&m};
  arq_schema_t *s;
  arq_schema_error_t err;
  assert_int_equal(load_messages(msgs, 1, "proto3", &s, &err), 0);
  const arq_schema_message_t *msg = arq_schema_find_message(s, "t.M");
  static const uint8_t ok[] = {0x08, 0x01, 0xa2, 0x38, 0x00, 0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00};
  assert_int_equal(arq_schema_validate(s, msg, ok, sizeof ok, NULL, &err), 0);
  static const uint8_t b900[] = {0xa0, 0x38, 0x00};
  assert_int_equal(arq_schema_validate(s, msg, b900, sizeof b900, NULL, &err), -1);
  assert_string_equal(err.message, "field 900 (b): wire type 0, expected 2");
  static const uint8_t bmax[] = {0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00};
  assert_int_equal(arq_schema_validate(s, msg, bmax, sizeof bmax, NULL, &err), -1);
  assert_string_equal(err.message, "field 536870911 (c): wire type 0, expected 2");
  arq_schema_limits_t strict = {.strict_unknown = true};
  static const uint8_t b899[] = {0x98, 0x38, 0x00};
  assert_int_equal(arq_schema_validate(s, msg, b899, sizeof b899, &strict, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_unknown_field);
  arq_schema_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(loads_plain_and_gzip),     cmocka_unit_test(gzip_bomb_is_refused),
      cmocka_unit_test(corrupt_gzip_is_refused),  cmocka_unit_test(not_a_descriptor_set),
      cmocka_unit_test(missing_import_is_refused), cmocka_unit_test(invalid_descriptor_sets),
      cmocka_unit_test(duplicate_and_nested_names), cmocka_unit_test(bad_map_entries),
      cmocka_unit_test(many_required_fields),     cmocka_unit_test(extension_declarations),
      cmocka_unit_test(sparse_field_numbers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
