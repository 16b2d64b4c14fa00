/*
 * one_module.h — the fixture of the tests that run one module without imports: loaded
 * and instantiated with default limits by one_module_setup, freed by teardown; call3
 * calls an export taking three i32 and returning nothing. Include after cmocka.h.
 */
#ifndef ARQ_TEST_WASM_ONE_MODULE_H
#define ARQ_TEST_WASM_ONE_MODULE_H

#include <stdlib.h>

#include "wasm/wasm.h"

typedef struct {
  arq_wasm_module_t *m;
  arq_wasm_instance_t *inst;
} fixture_t;

static int one_module_setup(void **state, const unsigned char *wasm, unsigned len) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_null(arq_wasm_module_load(wasm, len, &f->m));
  assert_null(arq_wasm_instantiate(f->m, NULL, 0, NULL, &f->inst));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  arq_wasm_instance_free(f->inst);
  arq_wasm_module_free(f->m);
  free(f);
  return 0;
}

static arq_wasm_result_t call3(fixture_t *f, const char *name, int32_t a, int32_t b, int32_t c) {
  arq_wasm_val_t args[3] = {{ARQ_WASM_I32, .of.i32 = a}, {ARQ_WASM_I32, .of.i32 = b},
                            {ARQ_WASM_I32, .of.i32 = c}};
  arq_wasm_func_t *fn = arq_wasm_export_func(f->inst, name);
  assert_non_null(fn);
  return arq_wasm_call(f->inst, fn, args, 3, NULL, 0);
}

#endif
