/*
 * compile_variable.c — the parametric and variable instructions: drop, select,
 * local.get, local.set, local.tee, global.get, global.set.
 *
 * DESIGN
 *   Most of clang's code moves values between locals, so the local instructions carry
 *   most of the peepholes: two local.get in a row become one cell; a local.set of a
 *   local.get or of a constant is one move, and two (then four) moves in a row one cell;
 *   a local.set takes the result of the i32 binary operator or the fused load just
 *   before it straight into the local (a local.tee becomes such a set plus a local.get
 *   that may fuse in turn). A declared local set to zero before any control instruction
 *   (and not set before) needs no code at all, since it holds zero already. Fuel still
 *   counts every instruction (compile.c counts them as they are read).
 */
#include <string.h>

#include "wasm/compile.h"

arq_wasm_result_t arq__compile_drop(comp_t *c) {
  TRY(arq__v_pop(&c->v, ARQ__UNKNOWN, NULL));
  return emit_op(c, ARQ__OP_DROP);
}

/* select (0x1b), or select with a type annotation (0x1c) */
arq_wasm_result_t arq__compile_select(comp_t *c, uint8_t op) {
  arq__vstate_t *v = &c->v;
  uint8_t want = ARQ__UNKNOWN;
  if (op == 0x1c) {
    uint32_t n;
    TRY(arq__read_u32(&c->r, &n));
    if (n != 1)
      return arq_wasm_err_invalid_result_arity;
    uint8_t b;
    TRY(arq__read_byte(&c->r, &b));
    if (b == 0x7b)
      return arq_wasm_err_unsupported_simd;
    if ((b < ARQ_WASM_F64 || b > ARQ_WASM_I32) && b != ARQ_WASM_FUNCREF &&
        b != ARQ_WASM_EXTERNREF)
      return arq_wasm_err_bad_valtype;
    want = b;
  }
  uint8_t t1, t2;
  TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
  TRY(arq__v_pop(v, want, &t1));
  TRY(arq__v_pop(v, want == ARQ__UNKNOWN ? t1 : want, &t2));
  /* select without a type takes numbers only (spec 3.3.4) */
  if (op == 0x1b && (t1 == ARQ_WASM_FUNCREF || t1 == ARQ_WASM_EXTERNREF ||
                     t2 == ARQ_WASM_FUNCREF || t2 == ARQ_WASM_EXTERNREF))
    return arq_wasm_err_type_mismatch;
  TRY(arq__v_push(v, t1 == ARQ__UNKNOWN ? t2 : t1));
  return emit_op(c, ARQ__OP_SELECT);
}

/* local.get li; local.set d, the local.get being the last instruction: a LOCAL_MOVE, or
 * with a LOCAL_MOVE just before, one LOCAL_MOVE2 (and two of those one LOCAL_MOVE4). */
static arq_wasm_result_t emit_move(comp_t *c, uint32_t li) {
  if (c->prev_op == ARQ__OP_LOCAL_MOVE && c->prev_pos == c->last_pos - 3 &&
      c->prev_pos > c->fuel_at) {
    /* a second move right after one (rotating variables, as in SHA-256 rounds):
     * one cell (a, d, a2, d2) where the first move was */
    c->code[c->prev_pos].op = c->labels[ARQ__OP_LOCAL_MOVE2];
    c->last_op = ARQ__OP_LOCAL_MOVE2;
    c->last_pos = c->prev_pos;
    c->prev_op = ARQ__OP_COUNT;
    c->code[c->ncode - 2] = c->code[c->ncode - 1]; /* a2 over the local.get cell */
    c->ncode--;
    TRY(emit_u64(c, li));
    uint32_t at = c->last_pos, first = c->before_move_pos;
    if (c->before_move_op == ARQ__OP_LOCAL_MOVE2 && first + 5 == at) {
      /* and two such pairs in a row as one cell (a, d, ..., a4, d4) */
      c->code[first].op = c->labels[ARQ__OP_LOCAL_MOVE4];
      memmove(&c->code[at], &c->code[at + 1], 4 * sizeof *c->code);
      c->ncode--;
      c->last_op = ARQ__OP_LOCAL_MOVE4;
      c->last_pos = first;
    }
    return NULL;
  }
  c->before_move_op = c->prev_op;
  c->before_move_pos = c->prev_pos;
  fuse_into_last(c, ARQ__OP_LOCAL_MOVE);
  return emit_u64(c, li);
}

/* For a local.set or local.tee: turns the last instruction, if it is an i32 binary
 * operator or a fused load whose result may go straight to a local, into its form that
 * does so (the caller then emits the local's slot). */
static bool fuse_result_into_local(comp_t *c) {
  unsigned form, k;
  int kk = i32_binop(c->last_op);
  unsigned load = c->last_op - ARQ__OP_LOAD_BASE; /* form * 16 + index, if a load */
  if (kk >= 0 && fusable_with(c, c->last_op, 0)) {
    fuse_into_last(c, ARQ__OP_FUSED(ARQ__FORM_SS_SET, (unsigned)kk));
    return true;
  }
  if (fusable_form(c, &form, &k)) {
    fuse_into_last(c, ARQ__OP_FUSED(operand_forms[form].set, k));
    return true;
  }
  if (c->last_op >= ARQ__OP_LOAD_BASE && load < 16 * ARQ__LOAD_L_SET &&
      fusable_with(c, c->last_op, load / 16 == ARQ__LOAD_L ? 2 : 3)) {
    /* ... or the value a fused load pushed */
    fuse_into_last(c, ARQ__OP_LOAD_FUSED(load / 16 + ARQ__LOAD_L_SET, load % 16));
    return true;
  }
  return false;
}

/* local.set or local.tee of local li, validated */
static arq_wasm_result_t emit_local_set(comp_t *c, uint8_t op, uint32_t li) {
  if (op == 0x21 && fusable_with(c, ARQ__OP_CONST, 1) && c->prologue &&
      li >= c->type->nparams && !c->set_in_prologue[li] && c->code[c->ncode - 1].u64 == 0) {
    /* a declared local set to the zero it already holds (clang initializes
     * accumulators so): nothing to run, though fuel still counts both instructions */
    c->ncode -= 2;
    c->last_op = c->prev_op = ARQ__OP_COUNT;
    return NULL;
  }
  if (c->prologue)
    c->set_in_prologue[li] = 1;
  if (op == 0x21 && fusable_with(c, ARQ__OP_LOCAL_GET, 1))
    return emit_move(c, li);
  if (op == 0x21 && fusable_with(c, ARQ__OP_CONST, 1)) {
    fuse_into_last(c, ARQ__OP_LOCAL_SET_CONST);
    return emit_u64(c, li);
  }
  /* the result of an i32 binary operator or a load goes to the local */
  if (fuse_result_into_local(c)) {
    TRY(emit_u64(c, li));
    /* local.tee: a local.get of the local, which the next instruction may fuse
     * (as in local.tee x; i32.const c; i32.lt_u; br_if) */
    if (op == 0x22) {
      TRY(emit_op(c, ARQ__OP_LOCAL_GET));
      TRY(emit_u64(c, li));
    }
    return NULL;
  }
  TRY(emit_op(c, op));
  return emit_u64(c, li);
}

/* local.get (0x20), local.set (0x21), local.tee (0x22) */
arq_wasm_result_t arq__compile_local(comp_t *c, uint8_t op) {
  arq__vstate_t *v = &c->v;
  uint32_t li;
  TRY(arq__read_u32(&c->r, &li));
  if (li >= c->nlocals)
    return arq_wasm_err_unknown_local;
  uint8_t t = c->local_types[li];
  if (op != 0x20) {
    TRY(arq__v_pop(v, t, NULL));
    if (op == 0x22)
      TRY(arq__v_push(v, t));
    return emit_local_set(c, op, li);
  }
  TRY(arq__v_push(v, t));
  if (fusable_with(c, ARQ__OP_LOCAL_GET, 1)) {
    fuse_into_last(c, ARQ__OP_LOCAL_GET2);
    return emit_u64(c, li);
  }
  TRY(emit_op(c, op));
  return emit_u64(c, li);
}

/* global.get (0x23), global.set (0x24) */
arq_wasm_result_t arq__compile_global(comp_t *c, uint8_t op) {
  arq_wasm_module_t *m = c->m;
  uint32_t gi;
  TRY(arq__read_u32(&c->r, &gi));
  if (gi >= m->nglobals)
    return arq_wasm_err_unknown_global;
  if (op == 0x23) {
    TRY(arq__v_push(&c->v, m->globals[gi].type));
  } else {
    if (!m->globals[gi].mut)
      return arq_wasm_err_immutable_global;
    TRY(arq__v_pop(&c->v, m->globals[gi].type, NULL));
  }
  TRY(emit_op(c, op));
  return emit_u64(c, gi);
}
