/*
 * Validation against the rich test schema (protos/rich3.proto, protos/common2.proto):
 * vectors serialized by Python protobuf are accepted; hand-made bytes exercise each
 * error, which is checked by identity and by its text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "registry/schema.h"
#include "test_support.h"

static arq_schema_t *schema;

static int setup(void **state) {
  size_t len;
  uint8_t *desc = read_data("rich.desc", &len);
  arq_schema_error_t err;
  int rc = arq_schema_load(desc, len, 0, &schema, &err);
  free(desc);
  if (rc) {
    fprintf(stderr, "load: %s\n", err.message);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  arq_schema_free(schema);
  return 0;
}

static const arq_schema_message_t *msg(const char *name) {
  const arq_schema_message_t *m = arq_schema_find_message(schema, name);
  if (!m)
    fail_msg("no message %s", name);
  return m;
}

static int check(const char *name, const uint8_t *b, size_t n, const arq_schema_limits_t *lim,
                 arq_schema_error_t *err) {
  return arq_schema_validate(schema, msg(name), b, n, lim, err);
}

#define VALID(name, ...)                                                                   \
  do {                                                                                     \
    static const uint8_t b_[] = {__VA_ARGS__};                                             \
    arq_schema_error_t e_;                                                                 \
    if (check(name, b_, sizeof b_, NULL, &e_))                                             \
      fail_msg("%s rejected: %s", name, e_.message);                                       \
  } while (0)

/* Expects the error `want`, and `text` as the whole message when text is not NULL. */
#define INVALID(name, want, text, ...)                                                     \
  do {                                                                                     \
    static const uint8_t b_[] = {__VA_ARGS__};                                             \
    arq_schema_error_t e_;                                                                 \
    assert_int_equal(check(name, b_, sizeof b_, NULL, &e_), -1);                           \
    if (e_.code != (want))                                                                 \
      fail_msg("expected '%s', got '%s' (%s)", (want), e_.code, e_.message);               \
    if ((text) != NULL)                                                                    \
      assert_string_equal(e_.message, (const char *)(text));                               \
  } while (0)

static void vector_valid(const char *file, const char *name) {
  size_t len;
  uint8_t *b = read_data(file, &len);
  arq_schema_error_t err;
  if (check(name, b, len, NULL, &err))
    fail_msg("%s as %s rejected: %s", file, name, err.message);
  free(b);
}

static void python_vectors_are_valid(void **state) {
  vector_valid("vectors/scalars.bin", "arq.test.Scalars");
  vector_valid("vectors/repeated.bin", "arq.test.Repeated");
  vector_valid("vectors/person.bin", "arq.common.Person");
  vector_valid("vectors/user.bin", "arq.test.User");
  vector_valid("vectors/node10.bin", "arq.test.Node");
  vector_valid("vectors/node64.bin", ".arq.test.Node");
}

static void empty_and_simple(void **state) {
  VALID("arq.test.User");
  VALID("arq.test.User", 0x1a, 0x02, 'u', '1');
  /* a singular field repeated: the last one wins, as in every parser */
  VALID("arq.test.User", 0x1a, 0x01, 'a', 0x1a, 0x01, 'b');
  /* several members of one oneof: the last one wins */
  VALID("arq.test.User", 0x3a, 0x01, 'e', 0x40, 0x05, 0x4a, 0x00);
  /* bool: any varint, as the parsers read it */
  VALID("arq.test.Scalars", 0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  /* open enum: undeclared values are kept */
  VALID("arq.test.User", 0x50, 0x63);
  /* a map entry with key and value, one with neither */
  VALID("arq.test.User", 0x22, 0x05, 0x0a, 0x01, 'k', 0x10, 0x07, 0x22, 0x00);
}

static void json_is_rejected(void **state) {
  const char *json = "{\"user_id\": \"u-1\", \"address\": {\"street\": \"x\"}}";
  arq_schema_error_t err;
  assert_int_equal(check("arq.test.User", (const uint8_t *)json, strlen(json), NULL, &err), -1);
  assert_non_null(err.code);
}

static void truncation_is_rejected(void **state) {
  size_t len;
  uint8_t *b = read_data("vectors/user.bin", &len);
  arq_schema_error_t err;
  assert_int_equal(check("arq.test.User", b, len - 1, NULL, &err), -1);
  /* Every prefix either is a valid message (cut at a field boundary) or is refused
   * without reading past its end (ASan watches). */
  size_t refused = 0;
  for (size_t n = 0; n < len; n++) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, b, n);
    if (check("arq.test.User", copy, n, NULL, &err))
      refused++;
    free(copy);
  }
  assert_true(refused > len / 2);
  free(b);

  INVALID("arq.test.User", arq_schema_err_truncated_varint,
          "field 10 (color): truncated varint at byte 1", 0x50, 0x96);
  INVALID("arq.test.User", arq_schema_err_truncated_varint, "truncated varint at byte 0", 0x80);
  INVALID("arq.test.User", arq_schema_err_truncated_length,
          "field 3 (user_id): length 5 at byte 1 runs past the end (2 bytes left)", 0x1a, 0x05,
          'a', 'b');
  INVALID("arq.test.Scalars", arq_schema_err_truncated_fixed,
          "field 1 (f_double): truncated 8-byte value at byte 1", 0x09, 1, 2, 3);
  INVALID("arq.test.Scalars", arq_schema_err_truncated_fixed, NULL, 0x3d, 1, 2, 3);
  INVALID("arq.test.User", arq_schema_err_truncated_length,
          "field 2 (address).field 1 (street): length 9 at byte 3 runs past the end "
          "(0 bytes left)",
          0x12, 0x02, 0x0a, 0x09);
}

static void wire_type_must_match(void **state) {
  INVALID("arq.test.User", arq_schema_err_wire_type_mismatch,
          "field 3 (user_id): wire type 0, expected 2", 0x18, 0x01);
  INVALID("arq.test.User", arq_schema_err_wire_type_mismatch,
          "field 10 (color): wire type 2, expected 0", 0x52, 0x00);
  INVALID("arq.test.Scalars", arq_schema_err_wire_type_mismatch,
          "field 1 (f_double): wire type 5, expected 1", 0x0d, 0, 0, 0, 0);
  INVALID("arq.test.Scalars", arq_schema_err_wire_type_mismatch, NULL, 0x3a, 0x00);
  /* a map key of the wrong type, inside the entry */
  INVALID("arq.test.User", arq_schema_err_wire_type_mismatch,
          "field 4 (scores).field 1 (key): wire type 0, expected 2", 0x22, 0x02, 0x08, 0x01);
  /* groups only where declared */
  INVALID("arq.test.User", arq_schema_err_undeclared_group, NULL, 0x13, 0x14);
  INVALID("arq.test.User", arq_schema_err_undeclared_group, NULL, 0xfb, 0x06, 0xfc, 0x06);
}

static void wire_format_errors(void **state) {
  INVALID("arq.test.User", arq_schema_err_bad_field_number_wire,
          "invalid field number 0 at byte 0", 0x00, 0x01);
  /* 19000 << 3 | 0 */
  INVALID("arq.test.User", arq_schema_err_reserved_field_number, NULL, 0xc0, 0xb8, 0x09, 0x01);
  INVALID("arq.test.User", arq_schema_err_bad_wire_type, "field 1: invalid wire type 6 at byte 0",
          0x0e);
  INVALID("arq.test.User", arq_schema_err_bad_wire_type, NULL, 0x0f);
  INVALID("arq.test.Scalars", arq_schema_err_varint_too_long,
          "field 3 (f_int64): varint longer than 10 bytes at byte 1", 0x18, 0xff, 0xff, 0xff,
          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  /* a tag above 32 bits */
  INVALID("arq.test.User", arq_schema_err_bad_tag, NULL, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01);
  /* field number 2^29 */
  INVALID("arq.test.User", arq_schema_err_bad_tag, NULL, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00);
  INVALID("arq.common.Person", arq_schema_err_unexpected_end_group, NULL, 0x0a, 0x00, 0x10,
          0x01, 0x34);
}

static void utf8(void **state) {
  INVALID("arq.test.User", arq_schema_err_bad_utf8,
          "field 2 (address).field 1 (street): invalid UTF-8", 0x12, 0x03, 0x0a, 0x01, 0xff);
  INVALID("arq.test.User", arq_schema_err_bad_utf8, NULL, 0x1a, 0x02, 0xc0, 0x80); /* overlong */
  INVALID("arq.test.User", arq_schema_err_bad_utf8, NULL, 0x1a, 0x03, 0xed, 0xa0, 0x80);
  INVALID("arq.test.User", arq_schema_err_bad_utf8, NULL, 0x1a, 0x04, 0xf4, 0x90, 0x80, 0x80);
  INVALID("arq.test.User", arq_schema_err_bad_utf8, NULL, 0x1a, 0x02, 0xe2, 0x82);
  INVALID("arq.test.User", arq_schema_err_bad_utf8, NULL, 0x5a, 0x01, 0x80); /* repeated */
  /* map keys are strings too */
  INVALID("arq.test.User", arq_schema_err_bad_utf8,
          "field 4 (scores).field 1 (key): invalid UTF-8", 0x22, 0x03, 0x0a, 0x01, 0xfe);
  /* proto2 strings are checked as well (documented) */
  INVALID("arq.common.Person", arq_schema_err_bad_utf8, "field 1 (name): invalid UTF-8", 0x0a,
          0x01, 0xff, 0x10, 0x01);
  VALID("arq.test.User", 0x1a, 0x0a, 'a', 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9d, 0x84, 0x9e);
  /* bytes are not text */
  VALID("arq.test.Scalars", 0x62, 0x02, 0xff, 0xfe);
}

static void depth_limit(void **state) {
  size_t len;
  uint8_t *b = read_data("vectors/node65.bin", &len);
  arq_schema_error_t err;
  assert_int_equal(check("arq.test.Node", b, len, NULL, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_too_deep);
  assert_int_equal(err.depth, 64);
  assert_non_null(strstr(err.message, "nesting deeper than 64 levels"));
  assert_string_equal(err.message, "field 2 (child).field 2 (child).field 2 (child).(58 more)."
                                   "field 2 (child).field 2 (child).field 2 (child)."
                                   "field 2 (child): nesting deeper than 64 levels");
  arq_schema_limits_t lim = {.max_depth = 200};
  assert_int_equal(check("arq.test.Node", b, len, &lim, &err), 0);
  free(b);

  b = read_data("vectors/node10.bin", &len);
  lim.max_depth = 10;
  assert_int_equal(check("arq.test.Node", b, len, &lim, &err), 0);
  lim.max_depth = 9;
  assert_int_equal(check("arq.test.Node", b, len, &lim, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_too_deep);
  free(b);

  /* 100 000 levels of empty nesting; the ceiling bounds the recursion whatever the limit */
  enum { levels = 100000 };
  static uint8_t deep[levels * 6];
  /* build from the inside out: each level is tag 0x12 + a 5-byte padded length */
  size_t inner = 0;
  size_t n = sizeof deep;
  for (size_t i = 0; i < levels; i++) {
    n -= 6;
    deep[n] = 0x12;
    uint32_t l = (uint32_t)inner;
    for (int k = 0; k < 4; k++)
      deep[n + 1 + (size_t)k] = (uint8_t)((l >> (7 * k)) & 0x7f) | 0x80;
    deep[n + 5] = (uint8_t)((l >> 28) & 0x7f);
    inner += 6;
  }
  lim.max_depth = 1000000;
  lim.max_size = sizeof deep;
  assert_int_equal(check("arq.test.Node", deep, sizeof deep, &lim, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_too_deep);
  assert_int_equal(err.depth, ARQ_SCHEMA_DEPTH_CEILING);
}

static void packed_fields(void **state) {
  /* packed and unpacked both accepted, whatever the declaration */
  VALID("arq.test.Repeated", 0x28, 0x01, 0x2a, 0x03, 0x01, 0xac, 0x02);
  VALID("arq.test.Repeated", 0x98, 0x01, 0x01, 0x9a, 0x01, 0x02, 0x01, 0x02);
  VALID("arq.test.Repeated", 0x3a, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x3a, 0x00);
  INVALID("arq.test.Repeated", arq_schema_err_bad_packed_length,
          "field 7 (r_fixed32): packed length 3 is not a multiple of 4", 0x3a, 0x03, 1, 2, 3);
  INVALID("arq.test.Repeated", arq_schema_err_bad_packed_length, NULL, 0x0a, 0x09, 1, 2, 3, 4, 5,
          6, 7, 8, 9);
  INVALID("arq.test.Repeated", arq_schema_err_bad_packed_varint,
          "field 5 (r_int32): packed varints end inside a varint at byte 3", 0x2a, 0x03, 0x01,
          0x80, 0x80);
  INVALID("arq.test.Repeated", arq_schema_err_varint_too_long, NULL, 0x2a, 0x0b, 0xff, 0xff,
          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  /* strings and messages have no packed form */
  INVALID("arq.test.Repeated", arq_schema_err_wire_type_mismatch, NULL, 0xa0, 0x01, 0x01);
}

static void required_fields(void **state) {
  VALID("arq.common.Person", 0x0a, 0x01, 'a', 0x10, 0x01);
  INVALID("arq.common.Person", arq_schema_err_missing_required,
          "missing required field 2 (id)", 0x0a, 0x01, 'a');
  INVALID("arq.common.Person", arq_schema_err_missing_required,
          "missing required field 1 (name)");
  /* in a nested message */
  INVALID("arq.test.User", arq_schema_err_missing_required,
          "field 14 (person): missing required field 2 (id)", 0x72, 0x03, 0x0a, 0x01, 'a');
  /* in a group: Extra needs code (8) */
  INVALID("arq.common.Person", arq_schema_err_missing_required,
          "field 6 (extra): missing required field 8 (code)", 0x0a, 0x00, 0x10, 0x01, 0x33, 0x3a,
          0x00, 0x34);
  VALID("arq.common.Person", 0x0a, 0x00, 0x10, 0x01, 0x33, 0x40, 0x01, 0x34);
}

static void groups(void **state) {
  /* repeated group Item (9) holding a Person that holds a group */
  VALID("arq.common.Person", 0x0a, 0x00, 0x10, 0x01, 0x4b, 0x50, 0x02, 0x5a, 0x08, 0x0a, 0x00,
        0x10, 0x02, 0x33, 0x40, 0x01, 0x34, 0x4c, 0x4b, 0x4c);
  INVALID("arq.common.Person", arq_schema_err_unterminated_group,
          "field 6 (extra): group without its end marker", 0x0a, 0x00, 0x10, 0x01, 0x33, 0x40,
          0x01);
  /* ended by another field's end marker */
  INVALID("arq.common.Person", arq_schema_err_unexpected_end_group, NULL, 0x0a, 0x00, 0x10,
          0x01, 0x33, 0x40, 0x01, 0x4c);
  /* a declared group sent length-delimited */
  INVALID("arq.common.Person", arq_schema_err_wire_type_mismatch,
          "field 6 (extra): wire type 2, expected 3", 0x32, 0x00);
}

static void closed_enums(void **state) {
  VALID("arq.common.Person", 0x0a, 0x00, 0x10, 0x01, 0x18, 0x05);
  INVALID("arq.common.Person", arq_schema_err_enum_value,
          "field 3 (level): value 3 is not in closed enum arq.common.Level", 0x0a, 0x00, 0x10,
          0x01, 0x18, 0x03);
  INVALID("arq.common.Person", arq_schema_err_enum_value, NULL, 0x0a, 0x00, 0x10, 0x01, 0x18,
          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  /* unpacked repeated, and packed */
  INVALID("arq.common.Person", arq_schema_err_enum_value, NULL, 0x0a, 0x00, 0x10, 0x01, 0x78,
          0x00);
  VALID("arq.common.Person", 0x0a, 0x00, 0x10, 0x01, 0x82, 0x01, 0x03, 0x01, 0x02, 0x05);
  INVALID("arq.common.Person", arq_schema_err_enum_value,
          "field 16 (packed_levels): value 4 is not in closed enum arq.common.Level", 0x0a,
          0x00, 0x10, 0x01, 0x82, 0x01, 0x02, 0x01, 0x04);
}

static void extensions(void **state) {
  VALID("arq.common.Person", 0x0a, 0x00, 0x10, 0x01, 0xa2, 0x06, 0x02, 'o', 'k', 0xaa, 0x06, 0x01,
        0x07);
  INVALID("arq.common.Person", arq_schema_err_bad_utf8, "field 100 (nickname): invalid UTF-8",
          0x0a, 0x00, 0x10, 0x01, 0xa2, 0x06, 0x01, 0xff);
  INVALID("arq.common.Person", arq_schema_err_wire_type_mismatch,
          "field 100 (nickname): wire type 0, expected 2", 0x0a, 0x00, 0x10, 0x01, 0xa0, 0x06,
          0x01);
  /* declared inside Contact, extending Person */
  INVALID("arq.common.Person", arq_schema_err_bad_utf8,
          "field 102 (backup).field 1 (email): invalid UTF-8", 0x0a, 0x00, 0x10, 0x01, 0xb2, 0x06,
          0x03, 0x0a, 0x01, 0xff);
  /* extensions are declared fields, not unknown ones */
  static const uint8_t b[] = {0x0a, 0x00, 0x10, 0x01, 0xa2, 0x06, 0x00};
  arq_schema_limits_t lim = {.strict_unknown = true};
  arq_schema_error_t err;
  assert_int_equal(check("arq.common.Person", b, sizeof b, &lim, &err), 0);
}

static void unknown_fields(void **state) {
  static const uint8_t b[] = {0x1a, 0x01, 'a', 0xb8, 0x06, 0x01, 0xc2, 0x06, 0x01, 0xff};
  arq_schema_error_t err;
  assert_int_equal(check("arq.test.User", b, sizeof b, NULL, &err), 0);
  arq_schema_limits_t lim = {.strict_unknown = true};
  assert_int_equal(check("arq.test.User", b, sizeof b, &lim, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_unknown_field);
  assert_string_equal(err.message, "field 103: unknown field at byte 3");
  assert_int_equal(err.offset, 3);
  assert_int_equal(err.field, 103);
  /* unknown fields are skipped without looking inside, but must be well-formed */
  INVALID("arq.test.User", arq_schema_err_truncated_length, NULL, 0xc2, 0x06, 0x05, 0x01);
}

static void size_limit(void **state) {
  size_t len;
  uint8_t *b = read_data("vectors/user.bin", &len);
  arq_schema_limits_t lim = {.max_size = len - 1};
  arq_schema_error_t err;
  assert_int_equal(check("arq.test.User", b, len, &lim, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_too_large);
  lim.max_size = len;
  assert_int_equal(check("arq.test.User", b, len, &lim, &err), 0);
  free(b);
}

static void api_misuse(void **state) {
  arq_schema_error_t err;
  assert_int_equal(arq_schema_validate(schema, NULL, NULL, 0, NULL, &err), -1);
  assert_ptr_equal(err.code, arq_schema_err_bad_argument);
  arq_schema_message_t *bogus = (arq_schema_message_t *)&err;
  assert_int_equal(arq_schema_validate(schema, bogus, NULL, 0, NULL, &err), -1);
  assert_int_equal(arq_schema_validate(schema, msg("arq.test.User"), NULL, 0, NULL, NULL), 0);
  assert_null(arq_schema_find_message(schema, "arq.test.Nope"));
  assert_null(arq_schema_find_message(schema, "arq.test"));
  assert_string_equal(arq_schema_message_name(msg(".arq.test.User")), "arq.test.User");
  /* map entries are message types of their own */
  assert_non_null(arq_schema_find_message(schema, "arq.test.User.ScoresEntry"));
  assert_true(arq_schema_message_count(schema) >= 10);
  assert_null(arq_schema_message_at(schema, arq_schema_message_count(schema)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(python_vectors_are_valid), cmocka_unit_test(empty_and_simple),
      cmocka_unit_test(json_is_rejected),         cmocka_unit_test(truncation_is_rejected),
      cmocka_unit_test(wire_type_must_match),     cmocka_unit_test(wire_format_errors),
      cmocka_unit_test(utf8),                     cmocka_unit_test(depth_limit),
      cmocka_unit_test(packed_fields),            cmocka_unit_test(required_fields),
      cmocka_unit_test(groups),                   cmocka_unit_test(closed_enums),
      cmocka_unit_test(extensions),               cmocka_unit_test(unknown_fields),
      cmocka_unit_test(size_limit),
      cmocka_unit_test(api_misuse),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
