/*
 * fuzz_wasm_load.c — the Overseer engine on arbitrary bytes: decode, validate and
 * compile; when that succeeds, satisfy every import with a stub of the declared
 * type, instantiate under tight limits (pages, call depth, stack, fuel) and call
 * each exported function with zero arguments, then reset and call again, the second
 * time with the fuel handed out in slices through the refuel hook.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasm.h"

#define FUEL 100000u
#define SLICE 1000u
static uint64_t slices_left;

static uint64_t refuel(void *arg, uint64_t short_by) {
  (void)arg;
  (void)short_by;
  if (!slices_left)
    return 0;
  slices_left--;
  return SLICE;
}

static arq_wasm_result_t stub(arq_wasm_call_t *call, void *env, const uint64_t *args,
                              uint64_t *results) {
  const arq_wasm_functype_t *t = env;
  for (uint32_t i = 0; i < t->nresults; i++)
    results[i] = 0;
  return arq_wasm_call_consume_fuel(call, 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  arq_wasm_module_t *m = NULL;
  if (arq_wasm_module_load(data, size, &m))
    return 0;
  size_t n = arq_wasm_module_import_count(m);
  arq_wasm_extern_t *ext = calloc(n + 1, sizeof *ext);
  void **owned = calloc(n + 1, sizeof *owned);
  if (!ext || !owned)
    abort();
  bool ok = true;
  for (size_t i = 0; i < n && ok; i++) {
    arq_wasm_extern_desc_t d;
    arq_wasm_module_import(m, i, &d);
    ext[i].module = d.module;
    ext[i].name = d.name;
    ext[i].kind = d.kind;
    switch (d.kind) {
    case ARQ_WASM_EXTERN_FUNC:
      ok = !arq_wasm_func_new_host(d.functype->params, d.functype->nparams, d.functype->results,
                                   d.functype->nresults, stub, (void *)d.functype, &ext[i].of.func);
      owned[i] = ext[i].of.func;
      break;
    case ARQ_WASM_EXTERN_MEMORY:
      ok = d.min <= 16 &&
           !arq_wasm_memory_new(d.min, d.max > 16 ? 16 : d.max, &ext[i].of.memory);
      owned[i] = ext[i].of.memory;
      break;
    case ARQ_WASM_EXTERN_TABLE:
      ok = d.min <= 1000 && !arq_wasm_table_new(d.min, d.max, &ext[i].of.table);
      owned[i] = ext[i].of.table;
      break;
    default: {
      arq_wasm_val_t v = {.type = d.global_type};
      ok = !arq_wasm_global_new(v, d.global_mutable, &ext[i].of.global);
      owned[i] = ext[i].of.global;
      break;
    }
    }
  }
  arq_wasm_instance_t *inst = NULL;
  arq_wasm_limits_t lim = {.max_pages = 16, .max_call_depth = 64, .stack_slots = 8192,
                           .fuel = 100000};
  if (ok)
    arq_wasm_instantiate(m, ext, n, &lim, &inst);
  if (inst) {
    for (int round = 0; round < 2; round++) {
      /* the second round gets the same fuel in slices through the refuel hook, so that
       * every charge also takes its slow path */
      if (round == 1)
        arq_wasm_set_refuel(inst, refuel, NULL);
      for (size_t i = 0; i < arq_wasm_module_export_count(m); i++) {
        arq_wasm_extern_desc_t d;
        arq_wasm_module_export(m, i, &d);
        if (d.kind != ARQ_WASM_EXTERN_FUNC || d.functype->nparams || d.functype->nresults > 16)
          continue;
        arq_wasm_func_t *f = arq_wasm_export_func(inst, d.name);
        arq_wasm_val_t res[16];
        slices_left = FUEL / SLICE - 1;
        arq_wasm_set_fuel(inst, round ? SLICE : FUEL);
        if (f)
          arq_wasm_call(inst, f, NULL, 0, res, d.functype->nresults);
      }
      arq_wasm_reset(inst);
    }
    arq_wasm_instance_free(inst);
  }
  for (size_t i = 0; i < n; i++) {
    if (!owned[i])
      continue;
    switch (ext[i].kind) {
    case ARQ_WASM_EXTERN_FUNC: arq_wasm_func_free(owned[i]); break;
    case ARQ_WASM_EXTERN_MEMORY: arq_wasm_memory_free(owned[i]); break;
    case ARQ_WASM_EXTERN_TABLE: arq_wasm_table_free(owned[i]); break;
    default: arq_wasm_global_free(owned[i]); break;
    }
  }
  free(ext);
  free(owned);
  arq_wasm_module_free(m);
  return 0;
}
