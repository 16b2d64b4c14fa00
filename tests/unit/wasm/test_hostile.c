/*
 * test_hostile.c — the engine against modules that try to exhaust or escape it:
 * endless loops (fuel), endless recursion (call depth), memory growth beyond the
 * page limit, host accesses outside memory, and state leaking between evaluations
 * (reset). Also malformed and unsupported inputs.
 *
 * The module (hostile_wasm.h) is this text, assembled once:
 *   (module
 *     (import "env" "peek" (func $peek (param i32) (result i32)))
 *     (memory (export "memory") 1)
 *     (data (i32.const 16) "hello")
 *     (global $g (mut i32) (i32.const 7))
 *     (func (export "spin") (loop (br 0)))
 *     (func (export "three") (result i32) (i32.add (i32.const 1) (i32.const 2)))
 *     (func $rec (export "recurse") (call $rec))
 *     (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
 *     (func (export "size") (result i32) (memory.size))
 *     (func (export "peek") (param i32) (result i32) (call $peek (local.get 0)))
 *     (func (export "scribble")
 *       (i32.store8 (i32.const 16) (i32.const 0x58))
 *       (i32.store (i32.const 70000) (i32.const -1))
 *       (global.set $g (i32.add (global.get $g) (i32.const 1))))
 *     (func (export "get_g") (result i32) (global.get $g))
 *     (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
 *     (func (export "count") (param i32) (result i32) (local i32)
 *       (block (loop
 *         (br_if 1 (i32.ge_u (local.get 1) (local.get 0)))
 *         (local.set 1 (i32.add (local.get 1) (i32.const 1)))
 *         (br 0)))
 *       (local.get 1))
 *   )
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hostile_wasm.h"
#include "wasm/wasm.h"

typedef struct {
  arq_wasm_module_t *m;
  arq_wasm_func_t *peek;
  arq_wasm_instance_t *inst;
} fixture_t;

static arq_wasm_result_t host_peek(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                   uint64_t *results) {
  uint8_t b;
  arq_wasm_result_t r = arq_wasm_call_read(call, (uint32_t)args[0], &b, 1);
  if (r)
    return r;
  results[0] = b;
  return NULL;
}

static fixture_t *setup_with(uint32_t max_pages) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_null(arq_wasm_module_load(hostile_wasm, hostile_wasm_len, &f->m));
  const uint8_t i32 = ARQ_WASM_I32;
  assert_null(arq_wasm_func_new_host(&i32, 1, &i32, 1, host_peek, NULL, &f->peek));
  arq_wasm_extern_t imp = {"env", "peek", ARQ_WASM_EXTERN_FUNC, .of.func = f->peek};
  arq_wasm_limits_t lim = {.max_pages = max_pages, .max_call_depth = 200, .stack_slots = 4096};
  assert_null(arq_wasm_instantiate(f->m, &imp, 1, &lim, &f->inst));
  return f;
}

static int setup(void **state) {
  *state = setup_with(2);
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  arq_wasm_instance_free(f->inst);
  arq_wasm_func_free(f->peek);
  arq_wasm_module_free(f->m);
  free(f);
  return 0;
}

static arq_wasm_result_t call0(fixture_t *f, const char *name, arq_wasm_val_t *res, size_t nres) {
  arq_wasm_func_t *fn = arq_wasm_export_func(f->inst, name);
  assert_non_null(fn);
  return arq_wasm_call(f->inst, fn, NULL, 0, res, nres);
}

static arq_wasm_result_t call1(fixture_t *f, const char *name, int32_t arg, arq_wasm_val_t *res) {
  arq_wasm_func_t *fn = arq_wasm_export_func(f->inst, name);
  assert_non_null(fn);
  arq_wasm_val_t a = {.type = ARQ_WASM_I32, .of.i32 = arg};
  return arq_wasm_call(f->inst, fn, &a, 1, res, res ? 1 : 0);
}

static void test_endless_loop_stops_at_fuel_limit(void **state) {
  fixture_t *f = *state;
  for (int round = 0; round < 2; round++) {
    arq_wasm_set_fuel(f->inst, 1000);
    arq_wasm_result_t r = call0(f, "spin", NULL, 0);
    assert_ptr_equal(r, arq_wasm_err_trap_out_of_fuel);
    assert_true(arq_wasm_is_trap(r));
    /* `loop` then 999 times `br 0`: every unit was spent, none more */
    assert_int_equal(arq_wasm_fuel_left(f->inst), 0);
  }
}

static void test_fuel_is_one_unit_per_instruction(void **state) {
  fixture_t *f = *state;
  arq_wasm_val_t res;
  arq_wasm_set_fuel(f->inst, 100);
  assert_null(call0(f, "three", &res, 1));
  assert_int_equal(res.of.i32, 3);
  assert_int_equal(arq_wasm_fuel_left(f->inst), 97);
  /* count(n) executes 9n + 7 instructions (block, loop, 9 per iteration, the exit
   * test, local.get) */
  for (int32_t n = 0; n < 5; n++) {
    arq_wasm_set_fuel(f->inst, 1000);
    assert_null(call1(f, "count", n, &res));
    assert_int_equal(res.of.i32, n);
    assert_int_equal(1000 - arq_wasm_fuel_left(f->inst), 9 * n + 7);
  }
  /* exactly enough fuel succeeds, one unit less traps */
  arq_wasm_set_fuel(f->inst, 9 * 10 + 7);
  assert_null(call1(f, "count", 10, &res));
  arq_wasm_set_fuel(f->inst, 9 * 10 + 6);
  assert_ptr_equal(call1(f, "count", 10, &res), arq_wasm_err_trap_out_of_fuel);
}

static void test_endless_recursion_exhausts_call_stack(void **state) {
  fixture_t *f = *state;
  assert_ptr_equal(call0(f, "recurse", NULL, 0), arq_wasm_err_trap_stack_exhausted);
  /* a deeper limit is still bounded by the value stack, never by the C stack */
  assert_null(arq_wasm_set_max_call_depth(f->inst, 1000000));
  assert_ptr_equal(call0(f, "recurse", NULL, 0), arq_wasm_err_trap_stack_exhausted);
  assert_null(arq_wasm_set_max_call_depth(f->inst, 10));
  assert_ptr_equal(call0(f, "recurse", NULL, 0), arq_wasm_err_trap_stack_exhausted);
  /* the instance stays usable */
  arq_wasm_val_t res;
  assert_null(call0(f, "three", &res, 1));
  assert_int_equal(res.of.i32, 3);
}

static void test_memory_grow_beyond_page_limit_fails(void **state) {
  fixture_t *f = *state;
  arq_wasm_val_t res;
  assert_null(call1(f, "grow", 1, &res));
  assert_int_equal(res.of.i32, 1);
  assert_null(call1(f, "grow", 1, &res));
  assert_int_equal(res.of.i32, -1);
  assert_null(call1(f, "grow", 0x10000, &res));
  assert_int_equal(res.of.i32, -1);
  assert_null(call0(f, "size", &res, 1));
  assert_int_equal(res.of.i32, 2);
  /* the limit can move after instantiation */
  assert_null(arq_wasm_set_max_pages(f->inst, 3));
  assert_null(call1(f, "grow", 1, &res));
  assert_int_equal(res.of.i32, 2);
  assert_null(arq_wasm_set_max_pages(f->inst, 1));
  assert_null(call1(f, "grow", 0, &res));
  assert_int_equal(res.of.i32, 3);
  assert_null(call1(f, "grow", 1, &res));
  assert_int_equal(res.of.i32, -1);
}

static void test_instantiate_refuses_memory_above_limit(void **state) {
  arq_wasm_module_t *m;
  assert_null(arq_wasm_module_load(hostile_wasm, hostile_wasm_len, &m));
  arq_wasm_func_t *peek;
  const uint8_t i32 = ARQ_WASM_I32;
  assert_null(arq_wasm_func_new_host(&i32, 1, &i32, 1, host_peek, NULL, &peek));
  arq_wasm_extern_t imp = {"env", "peek", ARQ_WASM_EXTERN_FUNC, .of.func = peek};
  arq_wasm_limits_t lim = {.max_pages = 0};
  arq_wasm_instance_t *inst = NULL;
  lim.max_pages = 1;
  assert_null(arq_wasm_instantiate(m, &imp, 1, &lim, &inst));
  arq_wasm_instance_free(inst);
  /* a missing import is refused by name */
  assert_ptr_equal(arq_wasm_instantiate(m, NULL, 0, &lim, &inst), arq_wasm_err_unknown_import);
  assert_null(inst);
  /* a wrongly typed import is refused */
  arq_wasm_func_t *wrong;
  assert_null(arq_wasm_func_new_host(NULL, 0, NULL, 0, host_peek, NULL, &wrong));
  imp.of.func = wrong;
  assert_ptr_equal(arq_wasm_instantiate(m, &imp, 1, &lim, &inst),
                   arq_wasm_err_incompatible_import);
  arq_wasm_func_free(wrong);
  arq_wasm_func_free(peek);
  arq_wasm_module_free(m);
}

static void test_host_access_out_of_bounds_traps(void **state) {
  fixture_t *f = *state;
  arq_wasm_val_t res;
  assert_null(call1(f, "peek", 16, &res));
  assert_int_equal(res.of.i32, 'h');
  assert_null(call1(f, "peek", 65535, &res));
  assert_int_equal(res.of.i32, 0);
  assert_ptr_equal(call1(f, "peek", 65536, &res), arq_wasm_err_trap_oob_memory);
  assert_ptr_equal(call1(f, "peek", -1, &res), arq_wasm_err_trap_oob_memory);
  /* the embedder's own accessors are bounded too */
  arq_wasm_memory_t *mem = arq_wasm_export_memory(f->inst, "memory");
  assert_non_null(mem);
  uint8_t buf[8];
  assert_null(arq_wasm_memory_read(mem, 65536 - 8, buf, 8));
  assert_non_null(arq_wasm_memory_read(mem, 65536 - 7, buf, 8));
  assert_non_null(arq_wasm_memory_write(mem, UINT64_MAX - 2, buf, 8));
  /* and so are the module's own accesses */
  assert_ptr_equal(call1(f, "load8", 65536, &res), arq_wasm_err_trap_oob_memory);
}

static void test_reset_restores_initial_state(void **state) {
  fixture_t *f = *state;
  arq_wasm_val_t res;
  arq_wasm_memory_t *mem = arq_wasm_export_memory(f->inst, "memory");
  assert_null(call1(f, "grow", 1, &res));
  /* scribble writes memory (also in the grown page) and bumps the global */
  assert_null(call0(f, "scribble", NULL, 0));
  assert_null(arq_wasm_memory_write(mem, 100, "zz", 2));
  assert_null(call1(f, "load8", 16, &res));
  assert_int_equal(res.of.i32, 'X');
  assert_null(call0(f, "get_g", &res, 1));
  assert_int_equal(res.of.i32, 8);
  for (int round = 0; round < 2; round++) {
    assert_null(arq_wasm_reset(f->inst));
    assert_null(call1(f, "load8", 16, &res));
    assert_int_equal(res.of.i32, 'h');
    assert_null(call1(f, "load8", 100, &res));
    assert_int_equal(res.of.i32, 0);
    assert_null(call0(f, "get_g", &res, 1));
    assert_int_equal(res.of.i32, 7);
    assert_null(call0(f, "size", &res, 1));
    assert_int_equal(res.of.i32, 1);
    assert_int_equal(arq_wasm_memory_size(mem), 65536);
    /* the page written before the reset is gone: growing again gives zeroes */
    assert_null(call1(f, "grow", 1, &res));
    assert_null(call1(f, "load8", 70000, &res));
    assert_int_equal(res.of.i32, 0);
    assert_null(call0(f, "scribble", NULL, 0));
  }
}

static void test_arguments_are_type_checked(void **state) {
  fixture_t *f = *state;
  arq_wasm_func_t *fn = arq_wasm_export_func(f->inst, "grow");
  arq_wasm_val_t a = {.type = ARQ_WASM_I64, .of.i64 = 1}, res;
  assert_ptr_equal(arq_wasm_call(f->inst, fn, &a, 1, &res, 1), arq_wasm_err_arg_type);
  assert_ptr_equal(arq_wasm_call(f->inst, fn, NULL, 0, &res, 1), arq_wasm_err_arg_count);
  assert_false(arq_wasm_is_trap(arq_wasm_err_arg_count));
  assert_null(arq_wasm_export_func(f->inst, "nope"));
}

static arq_wasm_result_t load(const uint8_t *b, size_t n) {
  arq_wasm_module_t *m = NULL;
  arq_wasm_result_t r = arq_wasm_module_load(b, n, &m);
  arq_wasm_module_free(m);
  return r;
}

static void test_malformed_and_unsupported_modules(void **state) {
  static const uint8_t bad_magic[] = {0, 'a', 's', 'n', 1, 0, 0, 0};
  assert_ptr_equal(load(bad_magic, sizeof bad_magic), arq_wasm_err_bad_magic);
  static const uint8_t truncated[] = {0, 'a', 's', 'm', 1, 0};
  assert_ptr_equal(load(truncated, sizeof truncated), arq_wasm_err_unexpected_end);
  /* a type section announcing 2^32-1 entries in 5 bytes: refused before allocating */
  static const uint8_t huge[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 0xff, 0xff, 0xff, 0xff, 0x0f};
  assert_ptr_equal(load(huge, sizeof huge), arq_wasm_err_unexpected_end);
  /* (func) with a SIMD instruction: v128.const */
  static const uint8_t simd[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0,
                                 3, 2, 1, 0, 10, 6, 1, 4, 0, 0xfd, 0x0c, 0x0b};
  assert_ptr_equal(load(simd, sizeof simd), arq_wasm_err_unsupported_simd);
  /* a type mismatch: (func (result i32)) with an empty body */
  static const uint8_t mismatch[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f,
                                     3, 2, 1, 0, 10, 4, 1, 2, 0, 0x0b};
  assert_ptr_equal(load(mismatch, sizeof mismatch), arq_wasm_err_type_mismatch);
  /* a function declaring 2^32-1 locals */
  static const uint8_t locals[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0,
                                   3, 2, 1, 0, 10, 10, 1, 8, 1, 0xff, 0xff, 0xff, 0xff, 0x0f,
                                   0x7f, 0x0b};
  assert_ptr_equal(load(locals, sizeof locals), arq_wasm_err_too_many_locals);
  /* a function type with more parameters than the arity limit */
  uint8_t wide[16 + ARQ_WASM_MAX_ARITY + 1];
  size_t at = 0;
  static const uint8_t head[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1};
  memcpy(wide, head, sizeof head);
  at = sizeof head;
  uint32_t body = 1 + 1 + 2 + (ARQ_WASM_MAX_ARITY + 1) + 1;
  wide[at++] = (uint8_t)(0x80 | (body & 0x7f));
  wide[at++] = (uint8_t)(body >> 7);
  wide[at++] = 1;
  wide[at++] = 0x60;
  wide[at++] = (uint8_t)(0x80 | ((ARQ_WASM_MAX_ARITY + 1) & 0x7f));
  wide[at++] = (uint8_t)((ARQ_WASM_MAX_ARITY + 1) >> 7);
  memset(wide + at, 0x7f, ARQ_WASM_MAX_ARITY + 1);
  at += ARQ_WASM_MAX_ARITY + 1;
  wide[at++] = 0;
  assert_ptr_equal(load(wide, at), arq_wasm_err_limit_count);
  /* truncations of a valid module load or fail cleanly (a cut between two sections
   * can leave a valid module); one inside the last section always fails */
  size_t failed = 0;
  for (size_t n = 0; n < hostile_wasm_len; n++)
    failed += load(hostile_wasm, n) != NULL;
  assert_true(failed > hostile_wasm_len / 2);
  assert_non_null(load(hostile_wasm, hostile_wasm_len - 1));
  assert_null(load(hostile_wasm, hostile_wasm_len));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_endless_loop_stops_at_fuel_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fuel_is_one_unit_per_instruction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_endless_recursion_exhausts_call_stack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_memory_grow_beyond_page_limit_fails, setup, teardown),
      cmocka_unit_test(test_instantiate_refuses_memory_above_limit),
      cmocka_unit_test_setup_teardown(test_host_access_out_of_bounds_traps, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset_restores_initial_state, setup, teardown),
      cmocka_unit_test_setup_teardown(test_arguments_are_type_checked, setup, teardown),
      cmocka_unit_test(test_malformed_and_unsupported_modules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
