/*
 * test_calls.c — calls and returns (interp.c): results of zero, one and two values, a
 * return from inside a block, the exact call-depth limit, the fuel charged per call,
 * and a call into another instance and back (each instance with its own memory).
 *
 * The modules are data/calls.wat and data/calls_b.wat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "calls_wasm.h"
#include "wasm/wasm.h"

enum { DEPTH = 50 };
/* rec(0) runs 4 instructions (local.get, i32.eqz, if, i32.const); each level above
 * adds 9 (the same three, then local.get, i32.const, i32.sub, call, i32.const, i32.add) */
enum { FUEL_BASE = 4, FUEL_LEVEL = 9 };

typedef struct {
  arq_wasm_module_t *ma, *mb;
  arq_wasm_instance_t *a, *b;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_null(arq_wasm_module_load(calls_wasm, calls_wasm_len, &f->ma));
  assert_null(arq_wasm_module_load(calls_b_wasm, calls_b_wasm_len, &f->mb));
  arq_wasm_limits_t lim = {.max_call_depth = DEPTH, .stack_slots = 4096};
  assert_null(arq_wasm_instantiate(f->ma, NULL, 0, &lim, &f->a));
  arq_wasm_extern_t imp = {"a", "put", ARQ_WASM_EXTERN_FUNC,
                           .of.func = arq_wasm_export_func(f->a, "put")};
  assert_non_null(imp.of.func);
  assert_null(arq_wasm_instantiate(f->mb, &imp, 1, &lim, &f->b));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  arq_wasm_instance_free(f->b);
  arq_wasm_instance_free(f->a);
  arq_wasm_module_free(f->mb);
  arq_wasm_module_free(f->ma);
  free(f);
  return 0;
}

static arq_wasm_result_t call1(arq_wasm_instance_t *in, const char *name, int32_t arg,
                               arq_wasm_val_t *res, size_t nres) {
  arq_wasm_func_t *fn = arq_wasm_export_func(in, name);
  assert_non_null(fn);
  arq_wasm_val_t a = {.type = ARQ_WASM_I32, .of.i32 = arg};
  return arq_wasm_call(in, fn, &a, 1, res, nres);
}

static void test_recursion_up_to_the_depth_limit(void **state) {
  fixture_t *f = *state;
  arq_wasm_val_t r;
  /* rec(n) takes n + 1 frames: the limit is reached exactly at n = DEPTH */
  assert_null(call1(f->a, "rec", DEPTH - 1, &r, 1));
  assert_int_equal(r.of.i32, DEPTH - 1);
  assert_ptr_equal(call1(f->a, "rec", DEPTH, &r, 1), arq_wasm_err_trap_stack_exhausted);
  /* usable afterwards, at the full depth again */
  assert_null(call1(f->a, "rec", DEPTH - 1, &r, 1));
  assert_int_equal(r.of.i32, DEPTH - 1);
  assert_null(arq_wasm_set_max_call_depth(f->a, 3));
  assert_null(call1(f->a, "rec", 2, &r, 1));
  assert_ptr_equal(call1(f->a, "rec", 3, &r, 1), arq_wasm_err_trap_stack_exhausted);
}

static void test_fuel_per_call(void **state) {
  fixture_t *f = *state;
  arq_wasm_val_t r;
  uint64_t used[3];
  for (int n = 0; n < 3; n++) {
    arq_wasm_set_fuel(f->a, 1000);
    assert_null(call1(f->a, "rec", n, &r, 1));
    used[n] = 1000 - arq_wasm_fuel_left(f->a);
  }
  /* one unit per instruction, the call included, nothing for the return */
  assert_int_equal(used[0], FUEL_BASE);
  assert_int_equal(used[1], FUEL_BASE + FUEL_LEVEL);
  assert_int_equal(used[2], FUEL_BASE + 2 * FUEL_LEVEL);
  /* running out in the middle of the recursion */
  arq_wasm_set_fuel(f->a, FUEL_BASE + 2 * FUEL_LEVEL - 1);
  assert_ptr_equal(call1(f->a, "rec", 2, &r, 1), arq_wasm_err_trap_out_of_fuel);
}

static void test_two_results_and_early_return(void **state) {
  fixture_t *f = *state;
  arq_wasm_val_t r[2];
  assert_null(call1(f->a, "pair", 0, r, 2));
  assert_int_equal(r[0].of.i32, 1);
  assert_int_equal(r[1].of.i64, 2);
  assert_null(call1(f->a, "pair", 1, r, 2)); /* the return inside the if */
  assert_int_equal(r[0].of.i32, 7);
  assert_int_equal(r[1].of.i64, -9);
  assert_null(call1(f->a, "pair_sum", 0, r, 1));
  assert_int_equal(r[0].of.i64, 3);
  assert_null(call1(f->a, "pair_sum", 1, r, 1));
  assert_int_equal(r[0].of.i64, -2);
}

static void test_no_result_then_memory(void **state) {
  fixture_t *f = *state;
  arq_wasm_val_t r;
  assert_null(call1(f->a, "put_get", 200, &r, 1));
  assert_int_equal(r.of.i32, 200);
}

static void test_call_into_another_instance_and_back(void **state) {
  fixture_t *f = *state;
  arq_wasm_val_t r;
  /* put writes a's memory; back in b, the load reads b's */
  assert_null(call1(f->b, "cross", 9, &r, 1));
  assert_int_equal(r.of.i32, 42);
  uint8_t byte = 0;
  assert_null(arq_wasm_memory_read(arq_wasm_instance_memory(f->a), 0, &byte, 1));
  assert_int_equal(byte, 9);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_recursion_up_to_the_depth_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fuel_per_call, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_results_and_early_return, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_result_then_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_call_into_another_instance_and_back, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
