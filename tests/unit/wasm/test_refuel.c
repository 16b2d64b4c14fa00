/*
 * test_refuel.c — the refuel hook (arq_wasm_set_refuel): fuel handed out in slices gives
 * the same result and the same total charge as the whole budget at once, whichever way
 * the fuel is spent (straight-line runs, calls, bulk instructions, host charges); a hook
 * that stops giving makes the charge trap exactly as running out does without one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "refuel_wasm.h"
#include "wasm/wasm.h"

typedef struct {
  arq_wasm_module_t *m;
  arq_wasm_func_t *charge;
  arq_wasm_instance_t *inst;
  /* the hook's state */
  uint64_t slice;    /* fuel per slice */
  unsigned slices;   /* slices it may still give */
  unsigned asked;    /* times it was called */
  uint64_t given;    /* fuel it gave */
  uint64_t short_by; /* the last shortfall it was told */
} fixture_t;

static arq_wasm_result_t host_charge(arq_wasm_call_t *call, void *env, const uint64_t *args,
                                     uint64_t *results) {
  (void)env;
  (void)results;
  return arq_wasm_call_consume_fuel(call, (uint32_t)args[0]);
}

static uint64_t hook(void *arg, uint64_t short_by) {
  fixture_t *fx = arg;
  fx->asked++;
  fx->short_by = short_by;
  if (!fx->slices)
    return 0;
  fx->slices--;
  fx->given += fx->slice;
  return fx->slice;
}

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  assert_null(arq_wasm_module_load(refuel_wasm, refuel_wasm_len, &fx->m));
  const uint8_t i32 = ARQ_WASM_I32;
  assert_null(arq_wasm_func_new_host(&i32, 1, NULL, 0, host_charge, fx, &fx->charge));
  arq_wasm_extern_t imp = {"env", "charge", ARQ_WASM_EXTERN_FUNC, .of.func = fx->charge};
  arq_wasm_limits_t lim = {.stack_slots = 1024, .bulk_bytes_per_fuel = 64};
  assert_null(arq_wasm_instantiate(fx->m, &imp, 1, &lim, &fx->inst));
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  arq_wasm_instance_free(fx->inst);
  arq_wasm_func_free(fx->charge);
  arq_wasm_module_free(fx->m);
  free(fx);
  return 0;
}

/* Calls export `name` with `arg` if it takes an i32 (and at most one i32 result) from `fuel`; returns the
 * result and sets *spent to the fuel the call used (given by the hook included). */
static arq_wasm_result_t run(fixture_t *fx, const char *name, int32_t arg, uint64_t fuel,
                             uint64_t *spent, int32_t *out) {
  arq_wasm_func_t *f = arq_wasm_export_func(fx->inst, name);
  assert_non_null(f);
  size_t nparams = arq_wasm_func_type(f)->nparams, nresults = arq_wasm_func_type(f)->nresults;
  arq_wasm_val_t a = {.type = ARQ_WASM_I32, .of.i32 = arg}, res = {0};
  uint64_t given_before = fx->given;
  arq_wasm_set_fuel(fx->inst, fuel);
  arq_wasm_result_t r = arq_wasm_call(fx->inst, f, &a, nparams, &res, nresults);
  *spent = fuel + (fx->given - given_before) - arq_wasm_fuel_left(fx->inst);
  if (out)
    *out = res.of.i32;
  return r;
}

/* What each export costs with all its fuel at once, then from slices of `slice`. */
static void same_in_slices(fixture_t *fx, const char *name, int32_t arg, uint64_t slice) {
  uint64_t whole, sliced;
  int32_t a = 0, b = 0;
  assert_null(run(fx, name, arg, 1000000, &whole, &a));
  assert_int_equal(fx->asked, 0); /* enough fuel: the hook is never asked */
  fx->slice = slice;
  fx->slices = 1000;
  arq_wasm_set_refuel(fx->inst, hook, fx);
  assert_null(run(fx, name, arg, slice, &sliced, &b));
  arq_wasm_set_refuel(fx->inst, NULL, NULL);
  assert_int_equal(a, b);
  assert_int_equal(whole, sliced);
  assert_true(fx->asked >= 1);
  assert_true(fx->given + slice >= whole);
}

static void test_runs_and_branches(void **state) {
  fixture_t *fx = *state;
  same_in_slices(fx, "count", 500, 64);
  int32_t out;
  uint64_t spent;
  fx->asked = 0;
  assert_null(run(fx, "count", 500, 1000000, &spent, &out));
  assert_int_equal(out, 500);
}

static void test_calls(void **state) { same_in_slices(*state, "calls", 300, 50); }

/* 64 KiB filled at one unit per 64 bytes: one charge of 1024 units, given in slices of 100
 * (the hook is asked until the charge fits). */
static void test_bulk_charge(void **state) {
  fixture_t *fx = *state;
  same_in_slices(fx, "fill", 65536, 100);
  assert_true(fx->asked >= 10);
}

static void test_host_charge(void **state) {
  fixture_t *fx = *state;
  same_in_slices(fx, "host", 5000, 64);
  assert_true(fx->asked >= 70);
}

/* A hook that stops giving: the call traps out of fuel, as without a hook, after exactly
 * the fuel given; the fuel left is what remained when the charge did not fit. */
static void test_a_hook_that_stops_giving_traps(void **state) {
  fixture_t *fx = *state;
  fx->slice = 1000;
  fx->slices = 5;
  arq_wasm_set_refuel(fx->inst, hook, fx);
  uint64_t spent;
  assert_ptr_equal(run(fx, "spin", 0, 1000, &spent, NULL), arq_wasm_err_trap_out_of_fuel);
  assert_int_equal(fx->asked, 6); /* five slices, then a refusal */
  assert_int_equal(fx->given, 5000);
  assert_true(fx->short_by >= 1);
  assert_true(spent <= 6000 && spent > 5000);
  /* a host charge beyond what the hook gives traps too, and leaves no fuel */
  fx->slices = 1;
  fx->asked = 0;
  assert_ptr_equal(run(fx, "host", 5000, 100, &spent, NULL), arq_wasm_err_trap_out_of_fuel);
  assert_int_equal(fx->asked, 2);
  assert_int_equal(arq_wasm_fuel_left(fx->inst), 0);
  /* without the hook, nothing is asked */
  arq_wasm_set_refuel(fx->inst, NULL, NULL);
  fx->slices = 100;
  fx->asked = 0;
  assert_ptr_equal(run(fx, "spin", 0, 1000, &spent, NULL), arq_wasm_err_trap_out_of_fuel);
  assert_int_equal(fx->asked, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_runs_and_branches, setup, teardown),
      cmocka_unit_test_setup_teardown(test_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bulk_charge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_host_charge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_hook_that_stops_giving_traps, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
