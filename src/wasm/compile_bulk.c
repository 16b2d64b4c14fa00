/*
 * compile_bulk.c — the bulk memory and table operations of the 0xfc prefix (sub-opcodes
 * 8..17: memory.init, data.drop, memory.copy, memory.fill, table.init, elem.drop,
 * table.copy, table.grow, table.size, table.fill) and the other reference-types
 * instructions (ref.null, ref.is_null, ref.func, table.get, table.set). Sub-opcodes 0..7,
 * the saturating truncations, are numeric (compile_numeric.c).
 *
 * DESIGN
 *   Each becomes one cell with its segment or table index if it has one; the interpreter
 *   does the bounds checks. ref.null compiles to a zero constant and ref.is_null to
 *   i64.eqz: a reference is a pointer in a slot, NULL the null reference. Element
 *   segments and tables must agree on their reference type (type mismatch otherwise),
 *   and ref.func only names functions the module declares (exported, in an element
 *   segment or in a global's initialiser).
 */
#include "wasm/compile.h"

static arq_wasm_result_t pop_3_i32(comp_t *c) {
  for (int i = 0; i < 3; i++)
    TRY(arq__v_pop(&c->v, ARQ_WASM_I32, NULL));
  return NULL;
}

static arq_wasm_result_t memory_init(comp_t *c) {
  const arq_wasm_module_t *m = c->m;
  uint32_t seg;
  TRY(arq__read_u32(&c->r, &seg));
  TRY(zero_byte(c));
  if (!m->has_data_count)
    return arq_wasm_err_data_count_required;
  if (!m->has_memory)
    return arq_wasm_err_unknown_memory;
  if (seg >= m->data_count)
    return arq_wasm_err_unknown_data;
  TRY(pop_3_i32(c));
  TRY(emit_op(c, ARQ__OP_MEMORY_INIT));
  return emit_u64(c, seg);
}

static arq_wasm_result_t data_drop(comp_t *c) {
  const arq_wasm_module_t *m = c->m;
  uint32_t seg;
  TRY(arq__read_u32(&c->r, &seg));
  if (!m->has_data_count)
    return arq_wasm_err_data_count_required;
  if (seg >= m->data_count)
    return arq_wasm_err_unknown_data;
  TRY(emit_op(c, ARQ__OP_DATA_DROP));
  return emit_u64(c, seg);
}

/* memory.copy (10), memory.fill (11) */
static arq_wasm_result_t memory_copy_fill(comp_t *c, uint32_t sub) {
  TRY(zero_byte(c));
  if (sub == 10)
    TRY(zero_byte(c));
  if (!c->m->has_memory)
    return arq_wasm_err_unknown_memory;
  TRY(pop_3_i32(c));
  return emit_op(c, sub == 10 ? ARQ__OP_MEMORY_COPY : ARQ__OP_MEMORY_FILL);
}

/* table.init (12), elem.drop (13), table.copy (14) */
static arq_wasm_result_t table_op(comp_t *c, uint32_t sub) {
  const arq_wasm_module_t *m = c->m;
  uint32_t seg = 0, t1 = 0, t2 = 0;
  if (sub != 14)
    TRY(arq__read_u32(&c->r, &seg));
  if (sub != 13) {
    TRY(arq__read_u32(&c->r, &t1));
    if (sub == 14)
      TRY(arq__read_u32(&c->r, &t2));
    if (t1 >= m->ntables || t2 >= m->ntables)
      return arq_wasm_err_unknown_table;
  }
  if (sub != 14 && seg >= m->nelems)
    return arq_wasm_err_unknown_elem;
  if (sub == 12 && m->elems[seg].type != m->tables[t1].type)
    return arq_wasm_err_type_mismatch;
  if (sub == 14 && m->tables[t1].type != m->tables[t2].type)
    return arq_wasm_err_type_mismatch;
  if (sub != 13)
    TRY(pop_3_i32(c));
  TRY(emit_op(c, sub == 12 ? ARQ__OP_TABLE_INIT
                           : sub == 13 ? ARQ__OP_ELEM_DROP : ARQ__OP_TABLE_COPY));
  if (sub != 14)
    TRY(emit_u64(c, seg));
  if (sub != 13)
    TRY(emit_u64(c, t1));
  if (sub == 14)
    TRY(emit_u64(c, t2));
  return NULL;
}

static arq_wasm_result_t read_table(comp_t *c, uint8_t *type, uint32_t *x) {
  TRY(arq__read_u32(&c->r, x));
  if (*x >= c->m->ntables)
    return arq_wasm_err_unknown_table;
  *type = c->m->tables[*x].type;
  return NULL;
}

/* table.grow (15): [t i32] -> [i32]; table.size (16): [] -> [i32]; table.fill (17):
 * [i32 t i32] -> [] */
static arq_wasm_result_t table_grow_size_fill(comp_t *c, uint32_t sub) {
  arq__vstate_t *v = &c->v;
  uint8_t t;
  uint32_t x;
  TRY(read_table(c, &t, &x));
  if (sub == 15) {
    TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
    TRY(arq__v_pop(v, t, NULL));
    TRY(arq__v_push(v, ARQ_WASM_I32));
  } else if (sub == 16) {
    TRY(arq__v_push(v, ARQ_WASM_I32));
  } else {
    TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
    TRY(arq__v_pop(v, t, NULL));
    TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
  }
  TRY(emit_op(c, sub == 15 ? ARQ__OP_TABLE_GROW
                           : sub == 16 ? ARQ__OP_TABLE_SIZE : ARQ__OP_TABLE_FILL));
  return emit_u64(c, x);
}

arq_wasm_result_t arq__compile_ref(comp_t *c, uint8_t op) {
  arq__vstate_t *v = &c->v;
  const arq_wasm_module_t *m = c->m;
  switch (op) {
  case 0xd0: { /* ref.null t: a zero slot */
    uint8_t t;
    TRY(arq__read_byte(&c->r, &t));
    if (t == 0x63 || t == 0x64)
      return arq_wasm_err_unsupported_gc;
    if (t != ARQ_WASM_FUNCREF && t != ARQ_WASM_EXTERNREF)
      return arq_wasm_err_bad_valtype;
    TRY(arq__v_push(v, t));
    TRY(emit_op(c, ARQ__OP_CONST));
    return emit_u64(c, 0);
  }
  case 0xd1: { /* ref.is_null: the slot is zero, i64.eqz's test */
    uint8_t t;
    TRY(arq__v_pop(v, ARQ__UNKNOWN, &t));
    if (t != ARQ__UNKNOWN && t != ARQ_WASM_FUNCREF && t != ARQ_WASM_EXTERNREF)
      return arq_wasm_err_type_mismatch;
    TRY(arq__v_push(v, ARQ_WASM_I32));
    return emit_op(c, 0x50);
  }
  case 0xd2: { /* ref.func f */
    uint32_t f;
    TRY(arq__read_u32(&c->r, &f));
    if (f >= m->nfuncs)
      return arq_wasm_err_unknown_func;
    if (!m->funcs[f].declared)
      return arq_wasm_err_undeclared_func_ref;
    TRY(arq__v_push(v, ARQ_WASM_FUNCREF));
    TRY(emit_op(c, ARQ__OP_REF_FUNC));
    return emit_u64(c, f);
  }
  default: { /* table.get x: [i32] -> [t]; table.set x: [i32 t] -> [] */
    uint8_t t;
    uint32_t x;
    TRY(read_table(c, &t, &x));
    if (op == 0x25) {
      TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
      TRY(arq__v_push(v, t));
    } else {
      TRY(arq__v_pop(v, t, NULL));
      TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
    }
    TRY(emit_op(c, op == 0x25 ? ARQ__OP_TABLE_GET : ARQ__OP_TABLE_SET));
    return emit_u64(c, x);
  }
  }
}

arq_wasm_result_t arq__compile_bulk(comp_t *c, uint32_t sub) {
  switch (sub) {
  case 8:
    return memory_init(c);
  case 9:
    return data_drop(c);
  case 10: /* memory.copy */
  case 11: /* memory.fill */
    return memory_copy_fill(c, sub);
  case 12: /* table.init */
  case 13: /* elem.drop */
  case 14: /* table.copy */
    return table_op(c, sub);
  case 15: case 16: case 17: /* table.grow, table.size, table.fill */
    return table_grow_size_fill(c, sub);
  default:
    return arq_wasm_err_illegal_opcode;
  }
}
