/*
 * compile_numeric.c — the numeric instructions: constants, the operators 0x45..0xc4
 * (tests, comparisons, arithmetic, conversions) and the saturating truncations of the
 * 0xfc prefix.
 *
 * DESIGN
 *   Each operator is one cell numbered as its opcode, except the i32 binary operators,
 *   which take register-style operands (ARQ__FORM_* in internal.h): straight from one or
 *   two local.get, an i32.const, or a local.get and an i32.const just before them. An
 *   operator in such a form followed by i32.add or i32.xor of its result and the value
 *   below it is one cell too (sums of products, hash rounds). A commutative operator
 *   takes a local pushed before its other operand's computation as its local operand.
 *   What comes after the operator (a local.set, a branch, a return) may extend the form
 *   further: compile_variable.c and compile_control.c.
 */
#include <string.h>

#include "wasm/compile.h"

/* Signature of a numeric instruction: operand types a (and b) to result. */
static bool numeric_sig(unsigned op, uint8_t *a, uint8_t *b, uint8_t *res) {
  const uint8_t I = ARQ_WASM_I32, L = ARQ_WASM_I64, F = ARQ_WASM_F32, D = ARQ_WASM_F64;
  *b = 0;
#define UN(x, r) (*a = (x), *res = (r), true)
#define BIN(x, r) (*a = (x), *b = (x), *res = (r), true)
  if (op == 0x45) return UN(I, I);
  if (op <= 0x4f) return BIN(I, I);
  if (op == 0x50) return UN(L, I);
  if (op <= 0x5a) return BIN(L, I);
  if (op <= 0x60) return BIN(F, I);
  if (op <= 0x66) return BIN(D, I);
  if (op <= 0x69) return UN(I, I);
  if (op <= 0x78) return BIN(I, I);
  if (op <= 0x7b) return UN(L, L);
  if (op <= 0x8a) return BIN(L, L);
  if (op <= 0x91) return UN(F, F);
  if (op <= 0x98) return BIN(F, F);
  if (op <= 0x9f) return UN(D, D);
  if (op <= 0xa6) return BIN(D, D);
  switch (op) {
  case 0xa7: return UN(L, I);
  case 0xa8: case 0xa9: return UN(F, I);
  case 0xaa: case 0xab: return UN(D, I);
  case 0xac: case 0xad: return UN(I, L);
  case 0xae: case 0xaf: return UN(F, L);
  case 0xb0: case 0xb1: return UN(D, L);
  case 0xb2: case 0xb3: return UN(I, F);
  case 0xb4: case 0xb5: return UN(L, F);
  case 0xb6: return UN(D, F);
  case 0xb7: case 0xb8: return UN(I, D);
  case 0xb9: case 0xba: return UN(L, D);
  case 0xbb: return UN(F, D);
  case 0xbc: return UN(F, I);
  case 0xbd: return UN(D, L);
  case 0xbe: return UN(I, F);
  case 0xbf: return UN(L, D);
  case 0xc0: case 0xc1: return UN(I, I);
  case 0xc2: case 0xc3: case 0xc4: return UN(L, L);
  /* saturating truncations, internal numbering */
  case 0xd0: case 0xd1: return UN(F, I);
  case 0xd2: case 0xd3: return UN(D, I);
  case 0xd4: case 0xd5: return UN(F, L);
  case 0xd6: case 0xd7: return UN(D, L);
  }
#undef UN
#undef BIN
  return false;
}

/* Whether the i32 binary operator k (as i32_binop returns) is commutative: eq, ne, add,
 * mul, and, or, xor. */
static bool commutative(int k) {
  return k == 0 || k == 1 || k == 10 || k == 12 || k == 17 || k == 18 || k == 19;
}

/* i32.const 0x41, i64.const 0x42, f32.const 0x43, f64.const 0x44 */
arq_wasm_result_t arq__compile_const(comp_t *c, uint8_t op) {
  uint64_t x;
  if (op == 0x41) {
    int32_t i;
    TRY(arq__read_i32(&c->r, &i));
    TRY(arq__v_push(&c->v, ARQ_WASM_I32));
    x = (uint32_t)i;
  } else if (op == 0x42) {
    int64_t i;
    TRY(arq__read_i64(&c->r, &i));
    TRY(arq__v_push(&c->v, ARQ_WASM_I64));
    x = (uint64_t)i;
  } else {
    size_t n = op == 0x43 ? 4 : 8;
    if ((size_t)(c->r.end - c->r.p) < n)
      return arq_wasm_err_unexpected_end;
    x = 0;
    memcpy(&x, c->r.p, n); /* little-endian host, as everywhere this project runs */
    c->r.p += n;
    TRY(arq__v_push(&c->v, op == 0x43 ? ARQ_WASM_F32 : ARQ_WASM_F64));
  }
  TRY(emit_op(c, ARQ__OP_CONST));
  return emit_u64(c, x);
}

/* The i32 binary operator k whose right operand an i32.const just pushed (the last
 * instruction): form LI with a local.get before the constant, else form SI. */
static void fuse_const_operand(comp_t *c, unsigned k) {
  if (c->prev_op == ARQ__OP_LOCAL_GET && c->prev_pos == c->last_pos - 2 &&
      c->prev_pos > c->fuel_at) {
    /* local.get a; i32.const c; op: one cell (a, c) where the local.get was */
    c->code[c->prev_pos].op = c->labels[ARQ__OP_FUSED(ARQ__FORM_LI, k)];
    c->code[c->prev_pos + 2] = c->code[c->prev_pos + 3];
    c->ncode--;
    c->last_op = ARQ__OP_FUSED(ARQ__FORM_LI, k);
    c->last_pos = c->prev_pos;
    c->prev_op = ARQ__OP_COUNT;
    return;
  }
  if (c->prev_op == ARQ__OP_LOCAL_GET2 && c->prev_pos == c->last_pos - 3 &&
      c->prev_pos > c->fuel_at) {
    /* local.get x; local.get y; i32.const c; op: the first local.get alone, then
     * (y, c) in form LI, as many cells and one that a commutative operator after
     * may take x into (emit_operator) */
    uint32_t at = c->prev_pos;
    arq__cell_t x = c->code[at + 1], y = c->code[at + 2], cst = c->code[at + 4];
    c->code[at].op = c->labels[ARQ__OP_LOCAL_GET];
    c->code[at + 1] = x;
    c->code[at + 2].op = c->labels[ARQ__OP_FUSED(ARQ__FORM_LI, k)];
    c->code[at + 3] = y;
    c->code[at + 4] = cst;
    c->prev_op = ARQ__OP_LOCAL_GET;
    c->last_op = ARQ__OP_FUSED(ARQ__FORM_LI, k);
    c->last_pos = at + 2;
    return;
  }
  fuse_into_last(c, ARQ__OP_FUSED(ARQ__FORM_SI, k));
}

/* Emits numeric operator `op`, validated: its operands straight from locals or a
 * constant (an i32.const: it is the operator's second operand) when it is an i32
 * binary operator, keeping their immediates in place. */
static arq_wasm_result_t emit_operator(comp_t *c, uint8_t op) {
  int k = i32_binop(op);
  unsigned form, k1;
  if ((op == 0x6a || op == 0x73) && fusable_form(c, &form, &k1) && form != ARQ__FORM_SI) {
    /* an operator in form LL, SL or LI, then i32.add or i32.xor of its result and
     * the value below it: one cell, same immediates */
    static const uint8_t add_form[] = {[ARQ__FORM_LL] = ARQ__FORM_LL_ADD,
                                       [ARQ__FORM_SL] = ARQ__FORM_SL_ADD,
                                       [ARQ__FORM_LI] = ARQ__FORM_LI_ADD};
    static const uint8_t xor_form[] = {[ARQ__FORM_LL] = ARQ__FORM_LL_XOR,
                                       [ARQ__FORM_SL] = ARQ__FORM_SL_XOR,
                                       [ARQ__FORM_LI] = ARQ__FORM_LI_XOR};
    fuse_into_last(c, ARQ__OP_FUSED(op == 0x6a ? add_form[form] : xor_form[form], k1));
    return NULL;
  }
  if (commutative(k) && fusable_form(c, &form, &k1) && form == ARQ__FORM_LI &&
      c->prev_op == ARQ__OP_LOCAL_GET && c->prev_pos == c->last_pos - 2 &&
      c->prev_pos > c->fuel_at) {
    /* local.get x; (local.get a; i32.const c; op1); op with op commutative: the
     * operands swapped, (a, c) op1 first and x as the local operand of op (form SL),
     * which a following i32.add, local.set or br_if may extend in turn */
    uint64_t x = c->code[c->prev_pos + 1].u64;
    memmove(&c->code[c->prev_pos], &c->code[c->last_pos], 3 * sizeof *c->code);
    c->ncode -= 2;
    c->last_pos = c->prev_pos;
    c->prev_op = ARQ__OP_COUNT;
    TRY(emit_op(c, ARQ__OP_FUSED(ARQ__FORM_SL, (unsigned)k)));
    return emit_u64(c, x);
  }
  if (k >= 0 && fusable_with(c, ARQ__OP_LOCAL_GET2, 2)) {
    fuse_into_last(c, ARQ__OP_FUSED(ARQ__FORM_LL, (unsigned)k));
    return NULL;
  }
  if (k >= 0 && fusable_with(c, ARQ__OP_LOCAL_GET, 1)) {
    fuse_into_last(c, ARQ__OP_FUSED(ARQ__FORM_SL, (unsigned)k));
    return NULL;
  }
  if (k >= 0 && fusable_with(c, ARQ__OP_CONST, 1)) {
    fuse_const_operand(c, (unsigned)k);
    return NULL;
  }
  return emit_op(c, op);
}

arq_wasm_result_t arq__compile_numeric(comp_t *c, uint8_t op) {
  uint8_t a, b, res;
  if (!numeric_sig(op, &a, &b, &res))
    return arq_wasm_err_illegal_opcode;
  if (b)
    TRY(arq__v_pop(&c->v, b, NULL));
  TRY(arq__v_pop(&c->v, a, NULL));
  TRY(arq__v_push(&c->v, res));
  return emit_operator(c, op);
}

/* 0xfc 0..7: i32.trunc_sat_f32_s .. i64.trunc_sat_f64_u */
arq_wasm_result_t arq__compile_trunc_sat(comp_t *c, uint32_t sub) {
  uint8_t a, b, res;
  numeric_sig(ARQ__OP_TRUNC_SAT + sub, &a, &b, &res);
  TRY(arq__v_pop(&c->v, a, NULL));
  TRY(arq__v_push(&c->v, res));
  return emit_op(c, ARQ__OP_TRUNC_SAT + sub);
}
