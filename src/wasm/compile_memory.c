/*
 * compile_memory.c — the memory instructions: loads, stores, memory.size and
 * memory.grow (the bulk memory operations of the 0xfc prefix are in compile_bulk.c).
 *
 * DESIGN
 *   A load takes its address from a local, or from the i32.add of a local and a
 *   constant or of two locals, when that is the instruction just before it
 *   (ARQ__LOAD_*); a store takes its value, or its address and value, from one or two
 *   local.get just before it (ARQ__STORE_*). Such fused cells keep the immediates of
 *   the instruction they replace, and the offset follows them.
 */
#include "wasm/compile.h"

/* Reads a memarg: alignment (at most the access's natural one), then offset. */
static arq_wasm_result_t read_memarg(comp_t *c, uint32_t natural, uint32_t *offset) {
  uint32_t align;
  TRY(arq__read_u32(&c->r, &align));
  TRY(arq__read_u32(&c->r, offset));
  if (align >= 32)
    return arq_wasm_err_bad_alignment;
  if (!c->m->has_memory)
    return arq_wasm_err_unknown_memory;
  if (align > natural)
    return arq_wasm_err_bad_alignment;
  return NULL;
}

/* the loads 0x28 i32.load .. 0x35 i64.load32_u, the stores 0x36 i32.store .. 0x3e
 * i64.store32 */
arq_wasm_result_t arq__compile_load_store(comp_t *c, uint8_t op) {
  arq__vstate_t *v = &c->v;
  static const uint8_t natural[] = {2, 3, 2, 3, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2,
                                    2, 3, 2, 3, 0, 1, 0, 1, 2};
  static const uint8_t type[] = {0x7f, 0x7e, 0x7d, 0x7c, 0x7f, 0x7f, 0x7f, 0x7f,
                                 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7f, 0x7e,
                                 0x7d, 0x7c, 0x7f, 0x7f, 0x7e, 0x7e, 0x7e};
  uint32_t offset;
  TRY(read_memarg(c, natural[op - 0x28], &offset));
  if (op <= 0x35) {
    TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
    TRY(arq__v_push(v, type[op - 0x28]));
  } else {
    TRY(arq__v_pop(v, type[op - 0x28], NULL));
    TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
  }
  /* a load whose address is a local, or the i32 sum of a local and a constant or of
   * two locals (the sum wraps at 2^32 before the offset is added, as it did) */
  unsigned load = 3, form, k;
  if (op <= 0x35 && fusable_with(c, ARQ__OP_LOCAL_GET, 1))
    load = ARQ__LOAD_L;
  else if (op <= 0x35 && fusable_form(c, &form, &k) && k == 10 && form == ARQ__FORM_LI)
    load = ARQ__LOAD_LI;
  else if (op <= 0x35 && fusable_form(c, &form, &k) && k == 10 && form == ARQ__FORM_LL)
    load = ARQ__LOAD_LL;
  if (load < 3) {
    fuse_into_last(c, ARQ__OP_LOAD_FUSED(load, op - 0x28));
    return emit_u64(c, offset);
  }
  /* a store of a local, to an address on the stack or in a local */
  unsigned store = 2;
  if (op >= 0x36 && fusable_with(c, ARQ__OP_LOCAL_GET2, 2))
    store = ARQ__STORE_LL;
  else if (op >= 0x36 && fusable_with(c, ARQ__OP_LOCAL_GET, 1))
    store = ARQ__STORE_SL;
  if (store < 2) {
    fuse_into_last(c, ARQ__OP_STORE_FUSED(store, op - 0x36));
    return emit_u64(c, offset);
  }
  TRY(emit_op(c, op));
  return emit_u64(c, offset);
}

/* memory.size (0x3f), memory.grow (0x40) */
arq_wasm_result_t arq__compile_memory_size_grow(comp_t *c, uint8_t op) {
  TRY(zero_byte(c));
  if (!c->m->has_memory)
    return arq_wasm_err_unknown_memory;
  if (op == 0x40)
    TRY(arq__v_pop(&c->v, ARQ_WASM_I32, NULL));
  TRY(arq__v_push(&c->v, ARQ_WASM_I32));
  return emit_op(c, op);
}
