/*
 * validate.c — type checking: the operand and control stacks.
 *
 * DESIGN
 *   Follows the algorithm of the spec's validation appendix. An unreachable frame
 *   makes its stack polymorphic: pops below its entry height yield ARQ__UNKNOWN,
 *   which matches any type. The stacks grow on demand (a call may push many results
 *   from a short instruction), and the deepest operand height is recorded because it
 *   sizes the function's run-time frame.
 */
#include <stdlib.h>

#include "wasm/validate.h"

#define MAX_OPERANDS (1u << 20)

arq_wasm_result_t arq__v_push(arq__vstate_t *v, uint8_t t) {
  if (v->nvals == v->cap_vals) {
    if (v->cap_vals >= MAX_OPERANDS)
      return arq_wasm_err_limit_code;
    uint32_t cap = v->cap_vals ? v->cap_vals * 2 : 64;
    uint8_t *n = realloc(v->vals, cap);
    if (!n)
      return arq_wasm_err_out_of_memory;
    v->vals = n;
    v->cap_vals = cap;
  }
  v->vals[v->nvals++] = t;
  v->work++;
  if (v->nvals > v->max_vals)
    v->max_vals = v->nvals;
  return NULL;
}

arq_wasm_result_t arq__v_pop(arq__vstate_t *v, uint8_t expect, uint8_t *got) {
  arq__ctrl_t *c = &v->ctrls[v->nctrls - 1];
  uint8_t t;
  v->work++;
  if (v->nvals == c->height) {
    if (!c->unreachable)
      return arq_wasm_err_type_mismatch;
    t = ARQ__UNKNOWN;
  } else {
    t = v->vals[--v->nvals];
  }
  if (t != expect && t != ARQ__UNKNOWN && expect != ARQ__UNKNOWN)
    return arq_wasm_err_type_mismatch;
  if (got)
    *got = t == ARQ__UNKNOWN ? expect : t;
  return NULL;
}

arq_wasm_result_t arq__v_push_n(arq__vstate_t *v, const uint8_t *ts, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    arq_wasm_result_t r = arq__v_push(v, ts[i]);
    if (r)
      return r;
  }
  return NULL;
}

arq_wasm_result_t arq__v_pop_n(arq__vstate_t *v, const uint8_t *ts, uint32_t n) {
  for (uint32_t i = n; i-- > 0;) {
    arq_wasm_result_t r = arq__v_pop(v, ts[i], NULL);
    if (r)
      return r;
  }
  return NULL;
}

arq_wasm_result_t arq__v_push_ctrl(arq__vstate_t *v, uint8_t kind, uint32_t np, const uint8_t *p,
                                   uint32_t nr, const uint8_t *r) {
  if (v->nctrls == v->cap_ctrls) {
    if (v->cap_ctrls >= ARQ_WASM_MAX_NESTING)
      return arq_wasm_err_limit_nesting;
    uint32_t cap = v->cap_ctrls ? v->cap_ctrls * 2 : 16;
    arq__ctrl_t *n = realloc(v->ctrls, cap * sizeof *n);
    if (!n)
      return arq_wasm_err_out_of_memory;
    v->ctrls = n;
    v->cap_ctrls = cap;
  }
  arq__ctrl_t *c = &v->ctrls[v->nctrls++];
  *c = (arq__ctrl_t){.kind = kind, .nparams = np, .params = p, .nresults = nr, .results = r,
                     .height = v->nvals};
  return arq__v_push_n(v, p, np);
}

arq_wasm_result_t arq__v_check_end(arq__vstate_t *v) {
  arq__ctrl_t *c = &v->ctrls[v->nctrls - 1];
  arq_wasm_result_t r = arq__v_pop_n(v, c->results, c->nresults);
  if (r)
    return r;
  if (v->nvals != c->height)
    return arq_wasm_err_type_mismatch;
  return NULL;
}

void arq__v_unreachable(arq__vstate_t *v) {
  arq__ctrl_t *c = &v->ctrls[v->nctrls - 1];
  v->nvals = c->height;
  c->unreachable = true;
}

void arq__v_free(arq__vstate_t *v) {
  free(v->vals);
  free(v->ctrls);
}
