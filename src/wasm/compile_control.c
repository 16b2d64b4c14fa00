/*
 * compile_control.c — the control instructions: blocks, loops and ifs, branches,
 * br_table, return, calls, and the end of a block or of the function.
 *
 * DESIGN
 *   The validator knows the operand stack height at every point, so branches are
 *   resolved here: a branch that must move its label values down (because operands sit
 *   between them and the label's height) becomes a *_DROP form carrying the arity and
 *   the destination slot; otherwise it is a plain jump. Forward branches are chained
 *   through their target cells and patched when the block's `end` is reached; target
 *   cells are listed so that compile.c turns them into cell pointers at the end.
 *
 *   Every branch lands on a FUEL cell, which opens a straight-line run: at a loop head,
 *   after a conditional branch, at else and end, and before the final return when
 *   branches lead there. A conditional branch fuses with the test before it (an i32
 *   comparison in any operand form, i32.eqz, or a local.get). A return fuses into the
 *   i32 binary operator that computes its single result.
 */
#include <string.h>

#include "wasm/compile.h"

static const uint8_t vt_single[4][1] = {{ARQ_WASM_F64}, {ARQ_WASM_F32}, {ARQ_WASM_I64},
                                        {ARQ_WASM_I32}};

/* Appends `at` to a growing list of cell indices. */
static arq_wasm_result_t note_cell(uint32_t **list, uint32_t *n, uint32_t *cap, uint32_t at) {
  if (*n == *cap) {
    uint32_t ncap = *cap ? *cap * 2 : 16;
    uint32_t *l = realloc(*list, ncap * sizeof *l);
    if (!l)
      return arq_wasm_err_out_of_memory;
    *list = l;
    *cap = ncap;
  }
  (*list)[(*n)++] = at;
  return NULL;
}

/* Emits a cell that will hold a branch target (an index until the end of compilation). */
static arq_wasm_result_t emit_target_cell(comp_t *c, uint64_t v) {
  TRY(note_cell(&c->targets, &c->ntargets, &c->cap_targets, c->ncode));
  return emit_u64(c, v);
}

/* Emits a call of function fi, defined by the module: the callee's entry and frame are
 * filled in by arq__link_calls, since the callee may not be compiled yet. */
static arq_wasm_result_t emit_call_own(comp_t *c, uint32_t fi) {
  TRY(note_cell(&c->call_sites, &c->ncall_sites, &c->cap_call_sites, c->ncode));
  TRY(emit_op(c, ARQ__OP_CALL_OWN));
  TRY(emit_u64(c, fi));
  TRY(emit_u64(c, 0));
  TRY(emit_u64(c, 0));
  return emit_u64(c, 0);
}

/* The last instruction is an i32 test with nothing after it and no branch into it, so
 * a conditional branch on its result may replace it. */
static bool fusable_test(const comp_t *c) {
  return c->ncode && c->last_pos == c->ncode - 1 && c->last_pos > c->fuel_at &&
         c->last_op >= 0x45 && c->last_op <= 0x4f;
}

/* The last instruction is a comparison in an operand form: a conditional branch on its
 * result may become its _BR form. Returns that form, or ARQ__FORMS. */
static unsigned fusable_cmp(const comp_t *c, unsigned *k) {
  unsigned form;
  if (!fusable_form(c, &form, k) || *k >= 10)
    return ARQ__FORMS;
  return operand_forms[form].br;
}

/* A return carries its result count, so that the interpreter need not look up the
 * function; a single result, the common case, has its own handler, or is returned by
 * the i32 binary operator that computes it (ARQ__FORM_*_RET). */
static arq_wasm_result_t emit_return(comp_t *c) {
  if (c->type->nresults != 1) {
    TRY(emit_op(c, ARQ__OP_RETURN));
    return emit_u64(c, c->type->nresults);
  }
  static const uint8_t ret_forms[] = {[ARQ__FORM_LL] = ARQ__FORM_LL_RET,
                                      [ARQ__FORM_SL] = ARQ__FORM_SL_RET,
                                      [ARQ__FORM_SI] = ARQ__FORM_SI_RET,
                                      [ARQ__FORM_LI] = ARQ__FORM_LI_RET};
  unsigned form, k;
  int kk = i32_binop(c->last_op);
  if (kk >= 0 && fusable_with(c, c->last_op, 0)) {
    fuse_into_last(c, ARQ__OP_FUSED(ARQ__FORM_SS_RET, (unsigned)kk));
    return NULL;
  }
  if (fusable_form(c, &form, &k)) {
    fuse_into_last(c, ARQ__OP_FUSED(ret_forms[form], k));
    return NULL;
  }
  return emit_op(c, ARQ__OP_RETURN1);
}

/* Turns the conditional branch `op` about to be emitted (BR_IF, or BR_UNLESS) on a
 * condition that a local.get just pushed, possibly through an i32.eqz, into one cell:
 * BR_IF_LOCAL or BR_UNLESS_LOCAL (slot, then the target the caller emits). */
static bool fuse_branch_on_local(comp_t *c, unsigned op) {
  bool on_zero = op == ARQ__OP_BR_UNLESS;
  if (fusable_with(c, 0x45, 0) && c->prev_op == ARQ__OP_LOCAL_GET &&
      c->prev_pos == c->last_pos - 2 && c->prev_pos > c->fuel_at) {
    c->ncode--; /* local.get; i32.eqz: the same local, tested the other way */
    c->last_op = ARQ__OP_LOCAL_GET;
    c->last_pos = c->prev_pos;
    c->prev_op = ARQ__OP_COUNT;
    on_zero = !on_zero;
  }
  if (!fusable_with(c, ARQ__OP_LOCAL_GET, 1))
    return false;
  fuse_into_last(c, on_zero ? ARQ__OP_BR_UNLESS_LOCAL : ARQ__OP_BR_IF_LOCAL);
  return true;
}

/* The test that is true exactly when `op` (0x45..0x4f) is false; 0 for "nonzero". */
static unsigned negated_test(unsigned op) {
  static const uint8_t neg[] = {0, 0x47, 0x46, 0x4e, 0x4f, 0x4c, 0x4d, 0x4a, 0x4b, 0x48, 0x49};
  return neg[op - 0x45];
}

/* Opens a straight-line run: a FUEL cell, which a branch may target. */
static arq_wasm_result_t new_run(comp_t *c) {
  if (c->ncode == c->fuel_at + 1 && c->code[c->fuel_at].u64 == 0)
    return NULL; /* nothing emitted or counted since: reuse the open run */
  TRY(emit_op(c, ARQ__OP_FUEL));
  TRY(emit_u64(c, 0));
  c->fuel_at = c->ncode - 1;
  return NULL;
}

/* Patches every forward branch chained on `head` to `target`. */
static void patch_chain(comp_t *c, uint32_t head, uint32_t target) {
  while (head) {
    uint32_t at = head - 1;
    head = (uint32_t)c->code[at].u64;
    c->code[at].u64 = target;
  }
}

/* Emits the target cell of a branch to frame `t`. */
static arq_wasm_result_t emit_target(comp_t *c, arq__ctrl_t *t) {
  if (t->kind == ARQ__LOOP)
    return emit_target_cell(c, t->loop_pc);
  TRY(emit_target_cell(c, t->patch));
  t->patch = c->ncode; /* index + 1 of the cell just emitted */
  return NULL;
}

/* Emits a branch (BR or BR_IF family) to relative depth `depth`, whose label values
 * are on top of the stack. */
static arq_wasm_result_t emit_branch(comp_t *c, unsigned plain, unsigned drop, uint32_t depth) {
  arq__ctrl_t *t = &c->v.ctrls[c->v.nctrls - 1 - depth];
  uint32_t arity = arq__label_arity(t);
  uint64_t dest = (uint64_t)c->nlocals + t->height;
  uint64_t cur = (uint64_t)c->nlocals + c->v.nvals;
  if (cur >= arity && cur - arity != dest && !c->v.ctrls[c->v.nctrls - 1].unreachable) {
    TRY(emit_op(c, drop));
    TRY(emit_target(c, t));
    TRY(emit_u64(c, arity));
    return emit_u64(c, dest);
  }
  unsigned k, form;
  if (plain == ARQ__OP_BR_IF && (form = fusable_cmp(c, &k)) != ARQ__FORMS) {
    fuse_into_last(c, ARQ__OP_FUSED(form, k));
    return emit_target(c, t);
  }
  if (plain == ARQ__OP_BR_IF && fuse_branch_on_local(c, ARQ__OP_BR_IF))
    return emit_target(c, t);
  if (plain == ARQ__OP_BR_IF && fusable_test(c)) {
    unsigned test = c->last_op;
    c->ncode--;
    plain = ARQ__OP_BR_IF_CMP + (test - 0x45);
  }
  TRY(emit_op(c, plain));
  return emit_target(c, t);
}

static arq_wasm_result_t read_blocktype(comp_t *c, uint32_t *np, const uint8_t **p, uint32_t *nr,
                                        const uint8_t **r) {
  if (c->r.p >= c->r.end)
    return arq_wasm_err_unexpected_end;
  uint8_t b = *c->r.p;
  *np = *nr = 0;
  *p = *r = NULL;
  if (b == 0x40) {
    c->r.p++;
    return NULL;
  }
  if (b >= ARQ_WASM_F64 && b <= ARQ_WASM_I32) {
    c->r.p++;
    *nr = 1;
    *r = vt_single[b - ARQ_WASM_F64];
    return NULL;
  }
  if (b == 0x7b)
    return arq_wasm_err_unsupported_simd;
  if (b == ARQ_WASM_FUNCREF || b == ARQ_WASM_EXTERNREF) {
    static const uint8_t funcref[1] = {ARQ_WASM_FUNCREF}, externref[1] = {ARQ_WASM_EXTERNREF};
    c->r.p++;
    *nr = 1;
    *r = b == ARQ_WASM_FUNCREF ? funcref : externref;
    return NULL;
  }
  if (b == 0x63 || b == 0x64)
    return arq_wasm_err_unsupported_gc;
  int64_t idx;
  TRY(arq__read_s33(&c->r, &idx));
  if (idx < 0)
    return arq_wasm_err_bad_valtype;
  if ((uint64_t)idx >= c->m->ntypes)
    return arq_wasm_err_unknown_type;
  const arq_wasm_functype_t *t = &c->m->types[idx];
  *np = t->nparams, *p = t->params, *nr = t->nresults, *r = t->results;
  return NULL;
}


arq_wasm_result_t arq__compile_unreachable(comp_t *c) {
  TRY(emit_op(c, ARQ__OP_UNREACHABLE));
  arq__v_unreachable(&c->v);
  return NULL;
}

arq_wasm_result_t arq__compile_block(comp_t *c, uint8_t op) {
  arq__vstate_t *v = &c->v;
  uint32_t np, nr;
  const uint8_t *p, *r;
  TRY(read_blocktype(c, &np, &p, &nr, &r));
  if (op == 0x04)
    TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
  TRY(arq__v_pop_n(v, p, np));
  uint32_t else_cell = 0;
  if (op == 0x04) {
    unsigned branch = ARQ__OP_BR_UNLESS, k, form;
    if ((form = fusable_cmp(c, &k)) != ARQ__FORMS) {
      /* branch to the else part when the comparison fails */
      fuse_into_last(c, ARQ__OP_FUSED(form, negated_test(0x46 + k) - 0x46));
      TRY(emit_target_cell(c, 0));
      else_cell = c->ncode;
    } else if (fuse_branch_on_local(c, ARQ__OP_BR_UNLESS)) {
      TRY(emit_target_cell(c, 0));
      else_cell = c->ncode;
    } else if (fusable_test(c)) {
      unsigned neg = negated_test(c->last_op);
      c->ncode--;
      branch = neg ? ARQ__OP_BR_IF_CMP + (neg - 0x45) : ARQ__OP_BR_IF;
    }
    if (!else_cell) {
      TRY(emit_op(c, branch));
      TRY(emit_target_cell(c, 0));
      else_cell = c->ncode;
    }
  }
  TRY(arq__v_push_ctrl(v, op == 0x02 ? ARQ__BLOCK : op == 0x03 ? ARQ__LOOP : ARQ__IF, np, p,
                       nr, r));
  arq__ctrl_t *top = &v->ctrls[v->nctrls - 1];
  top->else_patch = else_cell;
  if (op != 0x02) {
    TRY(new_run(c));
    top->loop_pc = c->ncode - 2;
  }
  return NULL;
}

arq_wasm_result_t arq__compile_else(comp_t *c) {
  arq__vstate_t *v = &c->v;
  arq__ctrl_t *top = &v->ctrls[v->nctrls - 1];
  if (top->kind != ARQ__IF)
    return arq_wasm_err_illegal_opcode;
  TRY(arq__v_check_end(v));
  TRY(emit_op(c, ARQ__OP_BR));
  TRY(emit_target(c, top));
  TRY(new_run(c));
  c->code[top->else_patch - 1].u64 = c->ncode - 2;
  top->else_patch = 0;
  top->kind = ARQ__ELSE;
  top->unreachable = false;
  return arq__v_push_n(v, top->params, top->nparams);
}

arq_wasm_result_t arq__compile_end(comp_t *c) {
  arq__vstate_t *v = &c->v;
  arq__ctrl_t *t = &v->ctrls[v->nctrls - 1];
  TRY(arq__v_check_end(v));
  if (t->kind == ARQ__IF && t->nparams != t->nresults)
    return arq_wasm_err_type_mismatch; /* an if without else must leave its params */
  if (t->kind == ARQ__IF && t->nparams && memcmp(t->params, t->results, t->nparams))
    return arq_wasm_err_type_mismatch;
  if (t->kind == ARQ__FUNC) {
    if (t->patch) { /* branches to the end land on a FUEL cell too, as all branches do */
      TRY(new_run(c));
      patch_chain(c, t->patch, c->ncode - 2);
    }
    TRY(emit_return(c));
    v->nctrls--;
    return NULL;
  }
  TRY(new_run(c));
  uint32_t here = c->ncode - 2; /* the FUEL cell opening the run after end */
  patch_chain(c, t->patch, here);
  if (t->else_patch)
    c->code[t->else_patch - 1].u64 = here;
  arq__ctrl_t done = *t;
  v->nctrls--;
  return arq__v_push_n(v, done.results, done.nresults);
}

arq_wasm_result_t arq__compile_br(comp_t *c, uint8_t op) {
  arq__vstate_t *v = &c->v;
  uint32_t depth;
  TRY(arq__read_u32(&c->r, &depth));
  if (depth >= v->nctrls)
    return arq_wasm_err_unknown_label;
  if (op == 0x0d)
    TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
  arq__ctrl_t *t = &v->ctrls[v->nctrls - 1 - depth];
  TRY(arq__v_pop_n(v, arq__label_types(t), arq__label_arity(t)));
  TRY(arq__v_push_n(v, arq__label_types(t), arq__label_arity(t)));
  if (op == 0x0c) {
    TRY(emit_branch(c, ARQ__OP_BR, ARQ__OP_BR_DROP, depth));
    arq__v_unreachable(v);
  } else {
    TRY(emit_branch(c, ARQ__OP_BR_IF, ARQ__OP_BR_IF_DROP, depth));
    TRY(new_run(c));
  }
  return NULL;
}

arq_wasm_result_t arq__compile_br_table(comp_t *c) {
  arq__vstate_t *v = &c->v;
  uint32_t n;
  TRY(arq__read_u32(&c->r, &n));
  if (n > (size_t)(c->r.end - c->r.p))
    return arq_wasm_err_unexpected_end;
  TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
  TRY(emit_op(c, ARQ__OP_BR_TABLE));
  TRY(emit_u64(c, n));
  uint32_t arity = 0;
  const uint8_t *first_types = NULL;
  if (!c->seen && !(c->seen = calloc(ARQ_WASM_MAX_NESTING, sizeof *c->seen)))
    return arq_wasm_err_out_of_memory;
  c->epoch++;
  for (uint32_t i = 0; i <= n; i++) {
    uint32_t depth;
    TRY(arq__read_u32(&c->r, &depth));
    if (depth >= v->nctrls)
      return arq_wasm_err_unknown_label;
    arq__ctrl_t *t = &v->ctrls[v->nctrls - 1 - depth];
    uint32_t a = arq__label_arity(t);
    /* WebAssembly 2.0: every label of a br_table has the same types, so the
     * operands are checked once, against the first; each distinct label is
     * compared once per br_table (bounded work whatever the entry count) */
    if (i == 0) {
      arity = a;
      first_types = arq__label_types(t);
      TRY(arq__v_pop_n(v, first_types, a));
    } else if (c->seen[depth] != c->epoch) {
      const uint8_t *ts = arq__label_types(t);
      if (a != arity || (a && ts != first_types && memcmp(first_types, ts, a)))
        return arq_wasm_err_type_mismatch;
    }
    c->seen[depth] = c->epoch;
    TRY(emit_target(c, t));
    TRY(emit_u64(c, a));
    TRY(emit_u64(c, (uint64_t)c->nlocals + t->height));
  }
  arq__v_unreachable(v);
  return NULL;
}

arq_wasm_result_t arq__compile_return(comp_t *c) {
  TRY(arq__v_pop_n(&c->v, c->type->results, c->type->nresults));
  TRY(emit_return(c));
  arq__v_unreachable(&c->v);
  return NULL;
}

arq_wasm_result_t arq__compile_call(comp_t *c) {
  arq_wasm_module_t *m = c->m;
  uint32_t fi;
  TRY(arq__read_u32(&c->r, &fi));
  if (fi >= m->nfuncs)
    return arq_wasm_err_unknown_func;
  const arq_wasm_functype_t *t = &m->types[m->funcs[fi].type];
  TRY(arq__v_pop_n(&c->v, t->params, t->nparams));
  TRY(arq__v_push_n(&c->v, t->results, t->nresults));
  /* A function of the module itself needs neither the host-function test nor a
   * change of instance at the call: interp.c has a shorter path for it. */
  if (fi >= m->nfunc_imports)
    return emit_call_own(c, fi);
  TRY(emit_op(c, ARQ__OP_CALL));
  return emit_u64(c, fi);
}

arq_wasm_result_t arq__compile_call_indirect(comp_t *c) {
  arq_wasm_module_t *m = c->m;
  uint32_t ti, table;
  TRY(arq__read_u32(&c->r, &ti));
  TRY(arq__read_u32(&c->r, &table));
  if (table >= m->ntables)
    return arq_wasm_err_unknown_table;
  if (m->tables[table].type != ARQ_WASM_FUNCREF)
    return arq_wasm_err_type_mismatch;
  if (ti >= m->ntypes)
    return arq_wasm_err_unknown_type;
  const arq_wasm_functype_t *t = &m->types[ti];
  TRY(arq__v_pop(&c->v, ARQ_WASM_I32, NULL));
  TRY(arq__v_pop_n(&c->v, t->params, t->nparams));
  TRY(arq__v_push_n(&c->v, t->results, t->nresults));
  if (table == 0) {
    TRY(emit_op(c, ARQ__OP_CALL_INDIRECT));
    return emit_u64(c, ti);
  }
  TRY(emit_op(c, ARQ__OP_CALL_INDIRECT_T));
  TRY(emit_u64(c, ti));
  return emit_u64(c, table);
}
