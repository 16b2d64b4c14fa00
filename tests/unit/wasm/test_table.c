/*
 * test_table.c — the table half of bulk memory (data/table.wat): table.init bounds
 * (segment and table, zero lengths at the edge), elem.drop, active and declarative
 * segments counting as dropped, overlapping table.copy, reset restoring the table and
 * the segments, one fuel unit per instruction, and what validation refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "one_module.h"
#include "table_wasm.h"
#include "wasm/wasm.h"

static int setup(void **state) { return one_module_setup(state, table_wasm, table_wasm_len); }

/* What table entry i returns when called (10..13 for $f0..$f3), or -1 for a null entry. */
static int32_t entry(fixture_t *f, int32_t i) {
  arq_wasm_val_t arg = {ARQ_WASM_I32, .of.i32 = i}, res;
  arq_wasm_result_t r = arq_wasm_call(f->inst, arq_wasm_export_func(f->inst, "call"), &arg, 1, &res, 1);
  if (r == arq_wasm_err_trap_uninitialized_element)
    return -1;
  assert_null(r);
  return res.of.i32;
}

static void expect_table(fixture_t *f, int32_t e0, int32_t e1, int32_t e2, int32_t e3) {
  int32_t want[4] = {e0, e1, e2, e3};
  for (int32_t i = 0; i < 4; i++)
    if (entry(f, i) != want[i])
      fail_msg("entry %d: got %d, want %d", i, entry(f, i), want[i]);
}

static void test_init_bounds(void **state) {
  fixture_t *f = *state;
  expect_table(f, 10, -1, -1, -1); /* the active segment put $f0 at 0 */
  assert_null(call3(f, "init", 1, 0, 3));
  expect_table(f, 10, 12, 13, 10);
  assert_null(call3(f, "init", 4, 3, 0)); /* empty at both ends: fine */
  assert_ptr_equal(call3(f, "init", 4, 4, 0), arq_wasm_err_trap_oob_table);
  assert_ptr_equal(call3(f, "init", 5, 0, 0), arq_wasm_err_trap_oob_table);
  assert_ptr_equal(call3(f, "init", 0, 1, 3), arq_wasm_err_trap_oob_table); /* past the segment */
  assert_ptr_equal(call3(f, "init", 2, 0, 3), arq_wasm_err_trap_oob_table); /* past the table */
  assert_ptr_equal(call3(f, "init", 0, 0, -1), arq_wasm_err_trap_oob_table);
  expect_table(f, 10, 12, 13, 10); /* a trapping init writes nothing */
}

static void test_copy_overlapping(void **state) {
  fixture_t *f = *state;
  assert_null(call3(f, "init", 1, 0, 3)); /* 10 12 13 10 */
  assert_null(call3(f, "copy", 0, 1, 3)); /* backward overlap */
  expect_table(f, 12, 13, 10, 10);
  assert_null(call3(f, "copy", 1, 0, 3)); /* forward overlap */
  expect_table(f, 12, 12, 13, 10);
  assert_null(call3(f, "copy", 4, 0, 0));
  assert_ptr_equal(call3(f, "copy", 1, 0, 4), arq_wasm_err_trap_oob_table);
  assert_ptr_equal(call3(f, "copy", 0, 2, 3), arq_wasm_err_trap_oob_table);
}

static void test_dropped_segments_and_reset(void **state) {
  fixture_t *f = *state;
  /* active and declarative segments count as dropped from the start */
  assert_ptr_equal(call3(f, "init_active", 0, 0, 1), arq_wasm_err_trap_oob_table);
  assert_null(call3(f, "init_active", 0, 0, 0));
  assert_ptr_equal(call3(f, "init_declared", 0, 0, 1), arq_wasm_err_trap_oob_table);
  assert_null(call3(f, "init_declared", 0, 0, 0));
  assert_null(call3(f, "init", 1, 0, 1));
  assert_null(arq_wasm_call(f->inst, arq_wasm_export_func(f->inst, "drop"), NULL, 0, NULL, 0));
  assert_ptr_equal(call3(f, "init", 2, 0, 1), arq_wasm_err_trap_oob_table);
  assert_null(call3(f, "init", 2, 0, 0));
  /* reset: the table as instantiated, the passive segment back */
  assert_null(arq_wasm_reset(f->inst));
  expect_table(f, 10, -1, -1, -1);
  assert_null(call3(f, "init", 1, 0, 3));
  expect_table(f, 10, 12, 13, 10);
}

static void test_one_fuel_unit_each(void **state) {
  fixture_t *f = *state;
  arq_wasm_set_fuel(f->inst, 1000);
  assert_null(call3(f, "init", 1, 0, 3));
  assert_int_equal(1000 - arq_wasm_fuel_left(f->inst), 4); /* three local.get, table.init */
  arq_wasm_set_fuel(f->inst, 1000);
  assert_null(call3(f, "copy", 0, 1, 3));
  assert_int_equal(1000 - arq_wasm_fuel_left(f->inst), 4);
}

/* A module of one function `body` (type [] -> []) with a 4-entry table and one passive
 * element segment, unless `table` is false. */
static arq_wasm_result_t load_body(const uint8_t *body, uint8_t len, bool table) {
  uint8_t mod[128] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
                      0x01, 0x04, 0x01, 0x60, 0x00, 0x00, /* type () -> () */
                      0x03, 0x02, 0x01, 0x00};              /* one function */
  size_t n = 18;
  if (table) {
    static const uint8_t tab[] = {0x04, 0x04, 0x01, 0x70, 0x00, 0x04}; /* funcref, min 4 */
    memcpy(mod + n, tab, sizeof tab);
    n += sizeof tab;
  }
  uint8_t code[] = {0x0a, (uint8_t)(len + 4), 0x01, (uint8_t)(len + 2), 0x00};
  memcpy(mod + n, code, sizeof code);
  n += sizeof code;
  memcpy(mod + n, body, len);
  n += len;
  mod[n++] = 0x0b;
  if (table) { /* element section after code is out of order: put it before */
    static const uint8_t elem[] = {0x09, 0x05, 0x01, 0x01, 0x00, 0x01, 0x00}; /* passive, $0 */
    size_t code_at = n - (sizeof code + len + 1);
    memmove(mod + code_at + sizeof elem, mod + code_at, n - code_at);
    memcpy(mod + code_at, elem, sizeof elem);
    n += sizeof elem;
  }
  arq_wasm_module_t *m = NULL;
  arq_wasm_result_t r = arq_wasm_module_load(mod, n, &m);
  arq_wasm_module_free(m);
  return r;
}

static void test_validation(void **state) {
  (void)state;
  static const uint8_t init_ok[] = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0c, 0x00, 0x00};
  static const uint8_t init_seg1[] = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0c, 0x01, 0x00};
  static const uint8_t init_table1[] = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0c, 0x00, 0x01};
  static const uint8_t init_short[] = {0x41, 0x00, 0x41, 0x00, 0xfc, 0x0c, 0x00, 0x00};
  static const uint8_t drop_seg1[] = {0xfc, 0x0d, 0x01};
  static const uint8_t copy_ok[] = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0e, 0x00, 0x00};
  static const uint8_t copy_table1[] = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0e, 0x00, 0x01};
  static const uint8_t table_size[] = {0xfc, 0x10, 0x00, 0x1a};
  assert_null(load_body(init_ok, sizeof init_ok, true));
  assert_null(load_body(copy_ok, sizeof copy_ok, true));
  assert_ptr_equal(load_body(init_seg1, sizeof init_seg1, true), arq_wasm_err_unknown_elem);
  assert_ptr_equal(load_body(drop_seg1, sizeof drop_seg1, true), arq_wasm_err_unknown_elem);
  assert_ptr_equal(load_body(init_table1, sizeof init_table1, true), arq_wasm_err_unknown_table);
  assert_ptr_equal(load_body(copy_table1, sizeof copy_table1, true), arq_wasm_err_unknown_table);
  assert_ptr_equal(load_body(copy_ok, sizeof copy_ok, false), arq_wasm_err_unknown_table);
  assert_ptr_equal(load_body(init_short, sizeof init_short, true), arq_wasm_err_type_mismatch);
  assert_null(load_body(table_size, sizeof table_size, true)); /* reference types */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_init_bounds, setup, teardown),
      cmocka_unit_test_setup_teardown(test_copy_overlapping, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dropped_segments_and_reset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_one_fuel_unit_each, setup, teardown),
      cmocka_unit_test(test_validation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
