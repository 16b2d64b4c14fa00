/*
 * test_embedding.c — the embedding API under re-entrancy: a host function that
 * calls back into the instance that called it (data/reenter.wat), host fuel
 * charges, the call-depth limit across such nesting, and reset refused mid-call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reenter_wasm.h"
#include "wasm/wasm.h"

typedef struct {
  arq_wasm_module_t *m;
  arq_wasm_func_t *cb;
  arq_wasm_instance_t *inst;
  arq_wasm_func_t *f;
  uint64_t host_cost;
  arq_wasm_result_t reset_result;
} fixture_t;

/* cb(n) = f(n): back into the same instance, from inside a call of it */
static arq_wasm_result_t host_cb(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                 uint64_t *results) {
  fixture_t *fx = env;
  arq_wasm_result_t r = arq_wasm_call_consume_fuel(call, fx->host_cost);
  if (r)
    return r;
  fx->reset_result = arq_wasm_reset(arq_wasm_call_instance(call));
  arq_wasm_val_t a = {.type = ARQ_WASM_I32, .of.i32 = (int32_t)(uint32_t)args[0]}, res;
  r = arq_wasm_call(arq_wasm_call_instance(call), fx->f, &a, 1, &res, 1);
  if (r)
    return r;
  results[0] = (uint32_t)res.of.i32;
  return NULL;
}

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  assert_null(arq_wasm_module_load(reenter_wasm, reenter_wasm_len, &fx->m));
  const uint8_t i32 = ARQ_WASM_I32;
  assert_null(arq_wasm_func_new_host(&i32, 1, &i32, 1, host_cb, fx, &fx->cb));
  arq_wasm_extern_t imp = {"env", "cb", ARQ_WASM_EXTERN_FUNC, .of.func = fx->cb};
  arq_wasm_limits_t lim = {.max_call_depth = 100, .stack_slots = 2048};
  assert_null(arq_wasm_instantiate(fx->m, &imp, 1, &lim, &fx->inst));
  fx->f = arq_wasm_export_func(fx->inst, "f");
  assert_non_null(fx->f);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  arq_wasm_instance_free(fx->inst);
  arq_wasm_func_free(fx->cb);
  arq_wasm_module_free(fx->m);
  free(fx);
  return 0;
}

static arq_wasm_result_t call_f(fixture_t *fx, int32_t n, int32_t *out) {
  arq_wasm_val_t a = {.type = ARQ_WASM_I32, .of.i32 = n}, res = {0};
  arq_wasm_result_t r = arq_wasm_call(fx->inst, fx->f, &a, 1, &res, 1);
  *out = res.of.i32;
  return r;
}

static void test_host_reenters_the_calling_instance(void **state) {
  fixture_t *fx = *state;
  int32_t out;
  assert_null(call_f(fx, 10, &out));
  assert_int_equal(out, 10);
  /* a reset from inside the call is refused, and the writes of the call are intact */
  assert_ptr_equal(fx->reset_result, arq_wasm_err_busy);
  uint8_t b[11];
  assert_null(arq_wasm_memory_read(arq_wasm_instance_memory(fx->inst), 0, b, sizeof b));
  for (size_t i = 0; i < sizeof b; i++)
    assert_int_equal(b[i], 1);
  /* once the call is over, reset works */
  assert_null(arq_wasm_reset(fx->inst));
  assert_null(arq_wasm_memory_read(arq_wasm_instance_memory(fx->inst), 0, b, sizeof b));
  assert_int_equal(b[5], 0);
}

static void test_host_fuel_charges_are_part_of_the_budget(void **state) {
  fixture_t *fx = *state;
  int32_t out;
  /* each level of nesting costs its instructions plus exactly the host charge */
  arq_wasm_set_fuel(fx->inst, 1000);
  assert_null(call_f(fx, 0, &out));
  uint64_t base = 1000 - arq_wasm_fuel_left(fx->inst);
  arq_wasm_set_fuel(fx->inst, 1000);
  assert_null(call_f(fx, 1, &out));
  uint64_t one = 1000 - arq_wasm_fuel_left(fx->inst);
  fx->host_cost = 50;
  arq_wasm_set_fuel(fx->inst, 1000);
  assert_null(call_f(fx, 1, &out));
  assert_int_equal(1000 - arq_wasm_fuel_left(fx->inst), one + 50);
  assert_true(one > base);
  /* the budget covers the nested calls too */
  arq_wasm_set_fuel(fx->inst, 5 * (one - base + 50));
  assert_ptr_equal(call_f(fx, 40, &out), arq_wasm_err_trap_out_of_fuel);
}

static void test_nesting_is_bounded_by_the_call_depth(void **state) {
  fixture_t *fx = *state;
  int32_t out;
  assert_ptr_equal(call_f(fx, 1000, &out), arq_wasm_err_trap_stack_exhausted);
  /* usable afterwards, with nothing left on its stacks */
  assert_null(call_f(fx, 3, &out));
  assert_int_equal(out, 3);
  assert_null(arq_wasm_reset(fx->inst));
}

static void test_standalone_globals(void **state) {
  arq_wasm_global_t *g, *k;
  arq_wasm_val_t v = {.type = ARQ_WASM_F64, .of.f64 = 1.5};
  assert_null(arq_wasm_global_new(v, true, &g));
  assert_null(arq_wasm_global_new(v, false, &k));
  v.of.f64 = -2.25;
  assert_null(arq_wasm_global_set(g, v));
  assert_true(arq_wasm_global_get(g).of.f64 == -2.25);
  assert_ptr_equal(arq_wasm_global_set(k, v), arq_wasm_err_immutable_global);
  arq_wasm_val_t wrong = {.type = ARQ_WASM_I32, .of.i32 = 1};
  assert_ptr_equal(arq_wasm_global_set(g, wrong), arq_wasm_err_arg_type);
  assert_true(arq_wasm_global_get(k).of.f64 == 1.5);
  arq_wasm_global_free(g);
  arq_wasm_global_free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_host_reenters_the_calling_instance, setup, teardown),
      cmocka_unit_test_setup_teardown(test_host_fuel_charges_are_part_of_the_budget, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_nesting_is_bounded_by_the_call_depth, setup, teardown),
      cmocka_unit_test(test_standalone_globals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
