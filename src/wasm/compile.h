/*
 * compile.h — the compiler's state and the helpers its files share (compile.c and the
 * compile_*.c files, one per opcode family). Not used outside the compiler.
 *
 * DESIGN
 *   compile.c reads each instruction, counts its fuel and hands it to the function of
 *   its family: compile_control.c (blocks, branches, calls, return, end),
 *   compile_variable.c (drop, select, locals, globals), compile_memory.c (loads, stores,
 *   memory.size and memory.grow), compile_numeric.c (constants, the numeric operators
 *   and the saturating truncations) and compile_bulk.c (bulk memory and table
 *   operations). Each validates the instruction and emits its cells; the peepholes that
 *   fuse it into the instruction before it look at the last cells emitted through the
 *   small helpers below, which are static inline so that every family keeps them
 *   inlined as they were when all of this was one function.
 */
#ifndef ARQ_WASM_COMPILE_H
#define ARQ_WASM_COMPILE_H

#include <stdlib.h>

#include "wasm/validate.h"

#define MAX_CELLS (1u << 24)

typedef struct {
  arq_wasm_module_t *m;
  arq__func_t *f;
  const arq_wasm_functype_t *type;
  arq__reader_t r;
  arq__vstate_t v;
  const void *const *labels;
  arq__cell_t *code;
  uint32_t ncode, cap;
  uint32_t fuel_at; /* cell holding the current run's count */
  uint32_t nlocals; /* params + declared locals */
  uint8_t *local_types;
  /* in the straight-line code that opens the function, where locals still hold the zero
   * they start with unless set there: which ones were set */
  bool prologue;
  uint8_t *set_in_prologue;
  uint32_t *seen; /* br_table: per label depth, the last br_table that checked it */
  uint32_t epoch;
  uint32_t *targets; /* cells holding branch targets, turned into pointers at the end */
  uint32_t ntargets, cap_targets;
  uint32_t *call_sites; /* CALL_OWN cells, linked once every function is compiled */
  uint32_t ncall_sites, cap_call_sites;
  unsigned last_op;   /* the last instruction emitted, for fusing a test into a branch */
  uint32_t last_pos;
  unsigned prev_op;   /* the one emitted before it (ARQ__OP_COUNT: none to fuse with) */
  uint32_t prev_pos;
  unsigned before_move_op; /* the one emitted before the last LOCAL_MOVE */
  uint32_t before_move_pos;
} comp_t; /* the compiler's state for one function body */

static inline arq_wasm_result_t grow(comp_t *c, uint32_t n) {
  if (c->ncode + n <= c->cap)
    return NULL;
  uint32_t cap = c->cap ? c->cap : 64;
  while (cap < c->ncode + n) {
    if (cap >= MAX_CELLS)
      return arq_wasm_err_limit_code;
    cap *= 2;
  }
  if (c->m->code_cells + cap > ARQ_WASM_MAX_CODE_CELLS)
    return arq_wasm_err_limit_code;
  arq__cell_t *nc = realloc(c->code, cap * sizeof *nc);
  if (!nc)
    return arq_wasm_err_out_of_memory;
  c->code = nc;
  c->cap = cap;
  return NULL;
}

static inline arq_wasm_result_t emit_op(comp_t *c, unsigned op) {
  TRY(grow(c, 1));
  c->prev_op = c->last_op;
  c->prev_pos = c->last_pos;
  c->last_op = op;
  c->last_pos = c->ncode;
  c->code[c->ncode++].op = c->labels[op];
  return NULL;
}

static inline arq_wasm_result_t emit_u64(comp_t *c, uint64_t v) {
  TRY(grow(c, 1));
  c->code[c->ncode++].u64 = v;
  return NULL;
}

/* The last instruction is `op` with `nimm` immediates, with nothing after it and no
 * branch into it, so the instruction being compiled may be fused into it. */
static inline bool fusable_with(const comp_t *c, unsigned op, uint32_t nimm) {
  return c->last_op == op && c->ncode >= 1 + nimm && c->last_pos == c->ncode - 1 - nimm &&
         c->last_pos > c->fuel_at;
}

/* The index k of an i32 binary operator among the fused ones (see ARQ__FORM_*): 0..9
 * for the comparisons, 10..24 for the arithmetic; -1 for any other opcode. */
static inline int i32_binop(unsigned op) {
  if (op >= 0x46 && op <= 0x4f)
    return (int)op - 0x46;
  if (op >= 0x6a && op <= 0x78)
    return (int)op - 0x6a + 10;
  return -1;
}

/* For the last instruction, if it is a fused i32 binary operator: its form and k. */
static inline bool last_fused(const comp_t *c, unsigned *form, unsigned *k) {
  if (c->last_op < ARQ__OP_FUSED_BASE || c->last_op >= ARQ__OP_LOAD_BASE)
    return false;
  *form = (c->last_op - ARQ__OP_FUSED_BASE) / 32;
  *k = (c->last_op - ARQ__OP_FUSED_BASE) % 32;
  return true;
}

/* The operand forms, which a local.set or a branch after them may extend: their
 * immediates, and the forms they become. */
static const struct {
  uint8_t imms, set, br;
} operand_forms[] = {
    [ARQ__FORM_LL] = {2, ARQ__FORM_LL_SET, ARQ__FORM_LL_BR},
    [ARQ__FORM_SL] = {1, ARQ__FORM_SL_SET, ARQ__FORM_SL_BR},
    [ARQ__FORM_SI] = {1, ARQ__FORM_SI_SET, ARQ__FORM_SI_BR},
    [ARQ__FORM_LI] = {2, ARQ__FORM_LI_SET, ARQ__FORM_LI_BR},
};

/* The last instruction is an i32 binary operator in an operand form (one that pushes its
 * result), with nothing after it and no branch into it. */
static inline bool fusable_form(const comp_t *c, unsigned *form, unsigned *k) {
  return last_fused(c, form, k) && *form <= ARQ__FORM_LI &&
         fusable_with(c, c->last_op, operand_forms[*form].imms);
}

/* Turns the last instruction into superinstruction `op`, keeping its immediate. */
static inline void fuse_into_last(comp_t *c, unsigned op) {
  c->code[c->last_pos].op = c->labels[op];
  c->last_op = op;
}

/* Reads the reserved zero byte of memory and table instructions. */
static inline arq_wasm_result_t zero_byte(comp_t *c) {
  uint8_t b;
  TRY(arq__read_byte(&c->r, &b));
  return b ? arq_wasm_err_zero_byte_expected : NULL;
}

/* Each of the following validates one instruction, whose opcode byte (and, for the 0xfc
 * prefix, sub-opcode) has been read, reads its immediates and emits its code. */

/* compile_control.c */
arq_wasm_result_t arq__compile_unreachable(comp_t *c);
arq_wasm_result_t arq__compile_block(comp_t *c, uint8_t op); /* block, loop, if */
arq_wasm_result_t arq__compile_else(comp_t *c);
arq_wasm_result_t arq__compile_end(comp_t *c);
arq_wasm_result_t arq__compile_br(comp_t *c, uint8_t op); /* br, br_if */
arq_wasm_result_t arq__compile_br_table(comp_t *c);
arq_wasm_result_t arq__compile_return(comp_t *c);
arq_wasm_result_t arq__compile_call(comp_t *c);
arq_wasm_result_t arq__compile_call_indirect(comp_t *c);

/* compile_variable.c */
arq_wasm_result_t arq__compile_drop(comp_t *c);
arq_wasm_result_t arq__compile_select(comp_t *c, uint8_t op);
arq_wasm_result_t arq__compile_local(comp_t *c, uint8_t op); /* get, set, tee */
arq_wasm_result_t arq__compile_global(comp_t *c, uint8_t op); /* get, set */

/* compile_memory.c */
arq_wasm_result_t arq__compile_load_store(comp_t *c, uint8_t op);
arq_wasm_result_t arq__compile_memory_size_grow(comp_t *c, uint8_t op);

/* compile_numeric.c */
arq_wasm_result_t arq__compile_const(comp_t *c, uint8_t op);
arq_wasm_result_t arq__compile_numeric(comp_t *c, uint8_t op); /* 0x45..0xc4 */
arq_wasm_result_t arq__compile_trunc_sat(comp_t *c, uint32_t sub); /* 0xfc 0..7 */

/* compile_bulk.c: 0xfc 8 and above */
/* compile_bulk.c: ref.null, ref.is_null, ref.func, table.get, table.set */
arq_wasm_result_t arq__compile_ref(comp_t *c, uint8_t op);
arq_wasm_result_t arq__compile_bulk(comp_t *c, uint32_t sub);

#endif
