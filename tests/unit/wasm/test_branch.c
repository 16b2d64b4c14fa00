/*
 * test_branch.c — fused compare-and-branch (compile.c turns an i32 test followed by
 * br_if, or by if with the test negated, into one instruction): for every test and
 * edge values, the branch taken must agree with the test's plain value, and fuel
 * must count the test as its own instruction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "branch_wasm.h"
#include "wasm/wasm.h"

static int32_t call2(arq_wasm_instance_t *inst, const char *name, int32_t a, int32_t b) {
  arq_wasm_func_t *f = arq_wasm_export_func(inst, name);
  assert_non_null(f);
  arq_wasm_val_t args[2] = {{ARQ_WASM_I32, .of.i32 = a}, {ARQ_WASM_I32, .of.i32 = b}}, res;
  assert_null(arq_wasm_call(inst, f, args, 2, &res, 1));
  return res.of.i32;
}

static void test_fused_tests_agree_with_plain_values(void **state) {
  static const char *const ops[] = {"eqz", "eq", "ne", "lt_s", "lt_u", "gt_s",
                                    "gt_u", "le_s", "le_u", "ge_s", "ge_u"};
  static const int32_t vals[] = {0, 1, -1, 2, INT32_MIN, INT32_MAX, INT32_MIN + 1, 7};
  arq_wasm_module_t *m;
  arq_wasm_instance_t *inst;
  assert_null(arq_wasm_module_load(branch_wasm, branch_wasm_len, &m));
  assert_null(arq_wasm_instantiate(m, NULL, 0, NULL, &inst));
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
    char br[16], iff[16], val[16];
    snprintf(br, sizeof br, "br_%s", ops[o]);
    snprintf(iff, sizeof iff, "if_%s", ops[o]);
    snprintf(val, sizeof val, "val_%s", ops[o]);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
      for (size_t j = 0; j < sizeof vals / sizeof vals[0]; j++) {
        int32_t want = call2(inst, val, vals[i], vals[j]);
        assert_int_equal(call2(inst, br, vals[i], vals[j]), want);
        assert_int_equal(call2(inst, iff, vals[i], vals[j]), want);
      }
    }
  }
  /* br_lt_s: local.get, local.get, i32.lt_s, br_if, block = 5; then either return
   * path (i32.const, return = 2) or the end path (i32.const = 1) */
  arq_wasm_set_fuel(inst, 100);
  call2(inst, "br_lt_s", 1, 2);
  assert_int_equal(100 - arq_wasm_fuel_left(inst), 6);
  arq_wasm_set_fuel(inst, 100);
  call2(inst, "br_lt_s", 2, 1);
  assert_int_equal(100 - arq_wasm_fuel_left(inst), 7);
  arq_wasm_instance_free(inst);
  arq_wasm_module_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fused_tests_agree_with_plain_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
