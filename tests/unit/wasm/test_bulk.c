/*
 * test_bulk.c — bulk memory semantics (data/bulk.wat): bounds of memory.fill, copy
 * and init (including zero lengths at the edge), overlapping copies, dropped
 * segments (data.drop, and active segments once applied), and reset restoring them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulk_wasm.h"
#include "one_module.h"
#include "wasm/wasm.h"

static int setup(void **state) { return one_module_setup(state, bulk_wasm, bulk_wasm_len); }

static void expect_bytes(fixture_t *f, uint32_t at, const char *want) {
  char got[64] = {0};
  size_t n = strlen(want);
  assert_null(arq_wasm_memory_read(arq_wasm_instance_memory(f->inst), at, got, n));
  assert_memory_equal(got, want, n);
}

static void test_fill_and_bounds(void **state) {
  fixture_t *f = *state;
  assert_null(call3(f, "fill", 10, 'x', 3));
  expect_bytes(f, 9, "\0xxx\0");
  assert_null(call3(f, "fill", 65536, 0, 0)); /* empty at the very end: fine */
  assert_ptr_equal(call3(f, "fill", 65537, 0, 0), arq_wasm_err_trap_oob_memory);
  assert_ptr_equal(call3(f, "fill", 65530, 'y', 7), arq_wasm_err_trap_oob_memory);
  expect_bytes(f, 65530, "\0\0\0\0\0\0"); /* nothing written by a trapping fill */
  assert_ptr_equal(call3(f, "fill", 0, 0, -1), arq_wasm_err_trap_oob_memory);
}

static void test_copy_overlapping(void **state) {
  fixture_t *f = *state;
  assert_null(call3(f, "copy", 1, 0, 4)); /* forward overlap */
  expect_bytes(f, 0, "AABCD");
  assert_null(call3(f, "copy", 0, 1, 4)); /* backward overlap */
  expect_bytes(f, 0, "ABCDD");
  assert_null(call3(f, "copy", 65536, 0, 0));
  assert_ptr_equal(call3(f, "copy", 0, 65533, 4), arq_wasm_err_trap_oob_memory);
  assert_ptr_equal(call3(f, "copy", 65533, 0, 4), arq_wasm_err_trap_oob_memory);
}

static void test_init_and_drop(void **state) {
  fixture_t *f = *state;
  assert_null(call3(f, "init", 100, 1, 4));
  expect_bytes(f, 100, "ello");
  assert_null(call3(f, "init", 200, 5, 0)); /* empty at the end of the segment */
  assert_ptr_equal(call3(f, "init", 200, 6, 0), arq_wasm_err_trap_oob_memory);
  assert_ptr_equal(call3(f, "init", 200, 2, 4), arq_wasm_err_trap_oob_memory);
  assert_ptr_equal(call3(f, "init", 65535, 0, 2), arq_wasm_err_trap_oob_memory);
  /* active segments count as dropped once applied */
  assert_ptr_equal(call3(f, "init_active", 0, 0, 1), arq_wasm_err_trap_oob_memory);
  assert_null(call3(f, "init_active", 0, 0, 0));
  arq_wasm_func_t *drop = arq_wasm_export_func(f->inst, "drop");
  assert_null(arq_wasm_call(f->inst, drop, NULL, 0, NULL, 0));
  assert_ptr_equal(call3(f, "init", 300, 0, 1), arq_wasm_err_trap_oob_memory);
  assert_null(call3(f, "init", 300, 0, 0));
  /* reset brings the passive segment back and undoes the writes */
  assert_null(arq_wasm_reset(f->inst));
  expect_bytes(f, 100, "\0\0\0\0");
  expect_bytes(f, 0, "ABCD");
  assert_null(call3(f, "init", 300, 0, 5));
  expect_bytes(f, 300, "hello");
}

static void test_bulk_fuel_charge(void **state) {
  fixture_t *f = *state;
  /* default: one unit per instruction whatever the length */
  arq_wasm_set_fuel(f->inst, 1000);
  assert_null(call3(f, "fill", 0, 1, 65536));
  uint64_t plain = 1000 - arq_wasm_fuel_left(f->inst);
  arq_wasm_instance_free(f->inst);
  arq_wasm_limits_t lim = {.bulk_bytes_per_fuel = 64};
  assert_null(arq_wasm_instantiate(f->m, NULL, 0, &lim, &f->inst));
  arq_wasm_set_fuel(f->inst, 100000);
  assert_null(call3(f, "fill", 0, 1, 65536));
  assert_int_equal(100000 - arq_wasm_fuel_left(f->inst), plain + 1024);
  arq_wasm_set_fuel(f->inst, plain + 1022); /* copy needs plain + 65535 / 64 */
  assert_ptr_equal(call3(f, "copy", 0, 1, 65535), arq_wasm_err_trap_out_of_fuel);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_fill_and_bounds, setup, teardown),
      cmocka_unit_test_setup_teardown(test_copy_overlapping, setup, teardown),
      cmocka_unit_test_setup_teardown(test_init_and_drop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bulk_fuel_charge, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
