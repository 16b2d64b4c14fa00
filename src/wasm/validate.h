/*
 * validate.h — the operand-type and control stacks of the validation algorithm
 * (WebAssembly spec, appendix "Validation Algorithm"), shared with compile.c which
 * walks the instructions and emits code while it type-checks them.
 */
#ifndef ARQ_WASM_VALIDATE_H
#define ARQ_WASM_VALIDATE_H

#include "wasm/internal.h"

#define ARQ__UNKNOWN 0 /* the bottom type of unreachable code */

enum { ARQ__BLOCK, ARQ__LOOP, ARQ__IF, ARQ__ELSE, ARQ__FUNC };

typedef struct {
  uint8_t kind;
  bool unreachable;
  uint32_t nparams, nresults;
  const uint8_t *params, *results;
  uint32_t height;     /* operand height at entry, below the parameters */
  uint32_t patch;      /* head of the chain of forward branches to patch, index+1 */
  uint32_t loop_pc;    /* loops: branch target */
  uint32_t else_patch; /* ifs: the BR_UNLESS target cell, index+1 */
} arq__ctrl_t;

typedef struct {
  uint8_t *vals;
  uint32_t nvals, cap_vals, max_vals;
  uint64_t work; /* pushes and pops so far, against a budget per function body */
  arq__ctrl_t *ctrls;
  uint32_t nctrls, cap_ctrls;
} arq__vstate_t;

arq_wasm_result_t arq__v_push(arq__vstate_t *v, uint8_t t);
arq_wasm_result_t arq__v_pop(arq__vstate_t *v, uint8_t expect, uint8_t *got);
arq_wasm_result_t arq__v_push_n(arq__vstate_t *v, const uint8_t *ts, uint32_t n);
arq_wasm_result_t arq__v_pop_n(arq__vstate_t *v, const uint8_t *ts, uint32_t n);
arq_wasm_result_t arq__v_push_ctrl(arq__vstate_t *v, uint8_t kind, uint32_t np, const uint8_t *p,
                                   uint32_t nr, const uint8_t *r);
/* Checks the end of the innermost frame: exactly its results on the stack. */
arq_wasm_result_t arq__v_check_end(arq__vstate_t *v);
void arq__v_unreachable(arq__vstate_t *v);
/* The label types of frame `c`: results for blocks and ifs, parameters for loops. */
static inline uint32_t arq__label_arity(const arq__ctrl_t *c) {
  return c->kind == ARQ__LOOP ? c->nparams : c->nresults;
}
static inline const uint8_t *arq__label_types(const arq__ctrl_t *c) {
  return c->kind == ARQ__LOOP ? c->params : c->results;
}
void arq__v_free(arq__vstate_t *v);

#endif
