/*
 * test_opcodes.c — which error the compiler gives an opcode it does not compile, for
 * every opcode byte and for the 0xfc sub-opcodes: the proposal it belongs to
 * (exceptions, tail calls, typed function references and GC, SIMD, threads) or "illegal opcode", at
 * the byte after the opcode. Pins the compiler's dispatch of opcodes to their families
 * (compile.c, compile_*.c): every other byte reaches a family, which then finds
 * something else to refuse in these one-instruction bodies, or nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wasm/wasm.h"

/* A module with one function of type [] -> [] whose body is `code` then `end`; the
 * offset of the code's first byte in the module is CODE_AT. */
#define CODE_AT 23u
static arq_wasm_result_t load_body(const uint8_t *code, uint8_t n, size_t *err_offset) {
  uint8_t mod[64] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, /* magic, version */
                     0x01, 0x04, 0x01, 0x60, 0x00, 0x00,             /* type: [] -> [] */
                     0x03, 0x02, 0x01, 0x00,                         /* function: type 0 */
                     0x0a, (uint8_t)(n + 4), 0x01, (uint8_t)(n + 2), 0x00};
  assert_true(n <= sizeof mod - CODE_AT - 1);
  memcpy(mod + CODE_AT, code, n);
  mod[CODE_AT + n] = 0x0b;
  arq_wasm_module_t *m = NULL;
  *err_offset = 0;
  arq_wasm_result_t r = arq_wasm_module_load_diag(mod, CODE_AT + n + 1u, &m, err_offset);
  arq_wasm_module_free(m);
  return r;
}

/* The error for an opcode byte that no family compiles, or NULL for one that some does. */
static arq_wasm_result_t expected(unsigned op) {
  if (op <= 0x05 || (op >= 0x0b && op <= 0x11) || (op >= 0x1a && op <= 0x1c) ||
      (op >= 0x20 && op <= 0x26) || (op >= 0x28 && op <= 0xc4) || (op >= 0xd0 && op <= 0xd2) ||
      op == 0xfc)
    return NULL;
  switch (op) {
  case 0x06: case 0x07: case 0x08: case 0x09: case 0x0a: case 0x18: case 0x19: case 0x1f:
    return arq_wasm_err_unsupported_exceptions;
  case 0x12: case 0x13: case 0x15:
    return arq_wasm_err_unsupported_tail_calls;
  case 0x14: case 0xd3: case 0xd4: case 0xd5: case 0xd6: /* typed function references */
  case 0xfb:
    return arq_wasm_err_unsupported_gc;
  case 0xfd:
    return arq_wasm_err_unsupported_simd;
  case 0xfe:
    return arq_wasm_err_unsupported_threads;
  }
  return arq_wasm_err_illegal_opcode;
}

static void test_every_opcode_byte(void **state) {
  (void)state;
  unsigned refused = 0;
  for (unsigned op = 0; op < 256; op++) {
    uint8_t code[1] = {(uint8_t)op};
    size_t at;
    arq_wasm_result_t want = expected(op), got = load_body(code, 1, &at);
    if (!want) {
      /* some family took it: whatever it refuses is not a missing opcode */
      assert_true(got != arq_wasm_err_illegal_opcode || op == 0x05 || op == 0xfc);
      continue;
    }
    if (got != want)
      fail_msg("opcode 0x%02x: %s, expected %s", op, got ? got : "loaded", want);
    assert_int_equal(at, CODE_AT + 1); /* refused as soon as it is read */
    refused++;
  }
  assert_int_equal(refused, 256 - 6 - 7 - 3 - 7 - 157 - 3 - 1);
}

/* Bodies of one instruction or a few that do load, through several families. */
static void test_compiled_families_load(void **state) {
  (void)state;
  size_t at;
  static const uint8_t nop[] = {0x01}, block[] = {0x02, 0x40, 0x0b},
                       loop[] = {0x03, 0x40, 0x0b}, br[] = {0x0c, 0x00},
                       ret[] = {0x0f}, unreachable[] = {0x00},
                       consts[] = {0x41, 0x7f, 0x1a, 0x42, 0x01, 0x1a},
                       f32[] = {0x43, 0, 0, 0x80, 0x3f, 0x1a};
  assert_null(load_body(nop, sizeof nop, &at));
  assert_null(load_body(block, sizeof block, &at));
  assert_null(load_body(loop, sizeof loop, &at));
  assert_null(load_body(br, sizeof br, &at));
  assert_null(load_body(ret, sizeof ret, &at));
  assert_null(load_body(unreachable, sizeof unreachable, &at));
  assert_null(load_body(consts, sizeof consts, &at));
  assert_null(load_body(f32, sizeof f32, &at));
}

/* The 0xfc prefix: saturating truncations (numeric), bulk memory and table operations,
 * then the reference-types ones, then nothing. */
static void test_prefix_fc(void **state) {
  (void)state;
  size_t at;
  for (uint8_t sub = 0; sub <= 7; sub++) { /* no operand on the stack */
    uint8_t code[] = {0xfc, sub};
    assert_ptr_equal(load_body(code, sizeof code, &at), arq_wasm_err_type_mismatch);
  }
  static const uint8_t memory_init[] = {0xfc, 8, 0, 0}, data_drop[] = {0xfc, 9, 0},
                       memory_copy[] = {0xfc, 10, 0, 0}, memory_fill[] = {0xfc, 11, 0},
                       table_init[] = {0xfc, 12, 0, 0}, elem_drop[] = {0xfc, 13, 0},
                       table_copy[] = {0xfc, 14, 0, 0}, bad_zero[] = {0xfc, 11, 1};
  /* no data count section, memory, table or element segment in this module */
  assert_ptr_equal(load_body(memory_init, sizeof memory_init, &at),
                   arq_wasm_err_data_count_required);
  assert_ptr_equal(load_body(data_drop, sizeof data_drop, &at), arq_wasm_err_data_count_required);
  assert_ptr_equal(load_body(memory_copy, sizeof memory_copy, &at), arq_wasm_err_unknown_memory);
  assert_ptr_equal(load_body(memory_fill, sizeof memory_fill, &at), arq_wasm_err_unknown_memory);
  assert_ptr_equal(load_body(bad_zero, sizeof bad_zero, &at), arq_wasm_err_zero_byte_expected);
  assert_ptr_equal(load_body(table_init, sizeof table_init, &at), arq_wasm_err_unknown_table);
  assert_ptr_equal(load_body(elem_drop, sizeof elem_drop, &at), arq_wasm_err_unknown_elem);
  assert_ptr_equal(load_body(table_copy, sizeof table_copy, &at), arq_wasm_err_unknown_table);
  for (uint8_t sub = 15; sub <= 17; sub++) { /* table.grow, table.size, table.fill */
    uint8_t code[] = {0xfc, sub, 0};
    assert_ptr_equal(load_body(code, sizeof code, &at), arq_wasm_err_unknown_table);
  }
  static const uint8_t past[] = {0xfc, 18}, far[] = {0xfc, 0x80, 0x01};
  assert_ptr_equal(load_body(past, sizeof past, &at), arq_wasm_err_illegal_opcode);
  assert_ptr_equal(load_body(far, sizeof far, &at), arq_wasm_err_illegal_opcode);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_opcode_byte),
      cmocka_unit_test(test_compiled_families_load),
      cmocka_unit_test(test_prefix_fc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
