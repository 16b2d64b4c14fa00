/*
 * compile.c — validates one function body and translates it into threaded code.
 *
 * DESIGN
 *   A single pass: each instruction is type-checked (validate.c) and emitted as a
 *   handler cell plus pre-decoded immediates. The validator knows the operand stack
 *   height at every point, so branches are resolved here: a branch that must move
 *   its label values down (because operands sit between them and the label's
 *   height) becomes a *_DROP form carrying the arity and the destination slot;
 *   otherwise it is a plain jump. Forward branches are chained through their
 *   target cells and patched when the block's `end` is reached.
 *
 *   Peepholes: an i32 test (eqz, eq, ..., ge_u) immediately followed by br_if or if
 *   becomes a single compare-and-branch, since loops end that way; two local.get in
 *   a row become one instruction. The i32 binary operators take register-style
 *   operands (ARQ__FORM_* in internal.h): their operands straight from one or two
 *   local.get, an i32.const or a local.get and an i32.const just before them, their result straight into a
 *   local.set just after (a local.tee becomes such a local.set and a local.get
 *   that may fuse in turn), or, for comparisons, a br_if (if) just after, or an i32.add or i32.xor
 *   of the result and the value below it. Loads
 *   take their address from a local, or from a fused i32.add of a local and a constant
 *   or of two locals, and may put their value straight into a local; stores take their
 *   value, or their address and value, from locals. A br_if or if on a local (or on its
 *   i32.eqz) tests the local directly. A local.set of a local.get or of a constant is one
 *   move, and up to four moves in a row one cell. An operator fuses into a return after
 *   it; a commutative one takes a local pushed before its other operand's computation as
 *   its local operand. A declared local set to zero before any control instruction (and
 *   not set before) needs no code at all. clang's code
 *   is mostly such local-to-local arithmetic, and each fusion saves a dispatch and a
 *   trip through the value stack. None crosses a branch target, and fuel still counts
 *   every WebAssembly instruction (the run's count is kept per source instruction, so a
 *   fused cell costs what the instructions it replaces did). Branch targets
 *   are cell indices while compiling and become cell pointers at the end.
 *
 *   A call of a function of the module carries the callee's entry, frame size and
 *   first-run fuel in its cell; since the callee may not be compiled yet, these are
 *   filled in by arq__link_calls once every function is.
 *
 *   Fuel is charged per straight-line run: a FUEL cell opens every run (function
 *   entry, loop head, after a conditional branch, at else and end, and before the
 *   final return when branches lead there, so that every branch lands on one: the
 *   interpreter's branches and calls charge it without dispatching it) and counts the
 *   WebAssembly instructions of the run, so an uninterrupted execution is charged
 *   exactly one unit per instruction executed (`end` and `else` are markers, not
 *   instructions). Code after an unconditional transfer is emitted but never runs.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

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
} comp_t;

static const uint8_t vt_single[4][1] = {{ARQ_WASM_F64}, {ARQ_WASM_F32}, {ARQ_WASM_I64},
                                        {ARQ_WASM_I32}};

static arq_wasm_result_t grow(comp_t *c, uint32_t n) {
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

static arq_wasm_result_t emit_op(comp_t *c, unsigned op) {
  TRY(grow(c, 1));
  c->prev_op = c->last_op;
  c->prev_pos = c->last_pos;
  c->last_op = op;
  c->last_pos = c->ncode;
  c->code[c->ncode++].op = c->labels[op];
  return NULL;
}

static arq_wasm_result_t emit_u64(comp_t *c, uint64_t v) {
  TRY(grow(c, 1));
  c->code[c->ncode++].u64 = v;
  return NULL;
}

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

/* The last instruction is `op` with `nimm` immediates, with nothing after it and no
 * branch into it, so the instruction being compiled may be fused into it. */
static bool fusable_with(const comp_t *c, unsigned op, uint32_t nimm) {
  return c->last_op == op && c->ncode >= 1 + nimm && c->last_pos == c->ncode - 1 - nimm &&
         c->last_pos > c->fuel_at;
}

/* The index k of an i32 binary operator among the fused ones (see ARQ__FORM_*): 0..9
 * for the comparisons, 10..24 for the arithmetic; -1 for any other opcode. */
static int i32_binop(unsigned op) {
  if (op >= 0x46 && op <= 0x4f)
    return (int)op - 0x46;
  if (op >= 0x6a && op <= 0x78)
    return (int)op - 0x6a + 10;
  return -1;
}

/* Whether the i32 binary operator k (as i32_binop returns) is commutative: eq, ne, add,
 * mul, and, or, xor. */
static bool commutative(int k) {
  return k == 0 || k == 1 || k == 10 || k == 12 || k == 17 || k == 18 || k == 19;
}

/* For the last instruction, if it is a fused i32 binary operator: its form and k. */
static bool last_fused(const comp_t *c, unsigned *form, unsigned *k) {
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
static bool fusable_form(const comp_t *c, unsigned *form, unsigned *k) {
  return last_fused(c, form, k) && *form <= ARQ__FORM_LI &&
         fusable_with(c, c->last_op, operand_forms[*form].imms);
}

/* The last instruction is a comparison in an operand form: a conditional branch on its
 * result may become its _BR form. Returns that form, or ARQ__FORMS. */
static unsigned fusable_cmp(const comp_t *c, unsigned *k) {
  unsigned form;
  if (!fusable_form(c, &form, k) || *k >= 10)
    return ARQ__FORMS;
  return operand_forms[form].br;
}

/* Turns the last instruction into superinstruction `op`, keeping its immediate. */
static void fuse_into_last(comp_t *c, unsigned op) {
  c->code[c->last_pos].op = c->labels[op];
  c->last_op = op;
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


static void count_instr(comp_t *c) { c->code[c->fuel_at].u64++; }

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
  if (b == 0x70 || b == 0x6f)
    return arq_wasm_err_unsupported_reftypes;
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

static arq_wasm_result_t zero_byte(comp_t *c) {
  uint8_t b;
  TRY(arq__read_byte(&c->r, &b));
  return b ? arq_wasm_err_zero_byte_expected : NULL;
}

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

static arq_wasm_result_t unsupported(uint8_t op) {
  switch (op) {
  case 0x06: case 0x07: case 0x08: case 0x09: case 0x0a: case 0x18: case 0x19: case 0x1f:
    return arq_wasm_err_unsupported_exceptions;
  case 0x12: case 0x13: case 0x15:
    return arq_wasm_err_unsupported_tail_calls;
  case 0x14: case 0x25: case 0x26: case 0xd0: case 0xd1: case 0xd2: case 0xd3: case 0xd4:
  case 0xd5: case 0xd6:
    return arq_wasm_err_unsupported_reftypes;
  case 0xfb:
    return arq_wasm_err_unsupported_gc;
  case 0xfd:
    return arq_wasm_err_unsupported_simd;
  case 0xfe:
    return arq_wasm_err_unsupported_threads;
  }
  return arq_wasm_err_illegal_opcode;
}

static arq_wasm_result_t do_end(comp_t *c) {
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

static arq_wasm_result_t compile_body(comp_t *c) {
  arq__vstate_t *v = &c->v;
  arq_wasm_module_t *m = c->m;
  TRY(arq__v_push_ctrl(v, ARQ__FUNC, 0, NULL, c->type->nresults, c->type->results));
  /* every function opens with this FUEL cell: calls charge it without dispatching it */
  TRY(emit_op(c, ARQ__OP_FUEL));
  TRY(emit_u64(c, 0));
  c->fuel_at = 1;
  /* validation work grows with type arities, not only with code size: a 2-byte call
   * can move a thousand values. Legitimate code stays far below this budget. */
  const uint64_t budget = (1u << 20) + 64 * (uint64_t)c->f->body_len;
  while (v->nctrls > 0) {
    uint8_t op;
    if (v->work > budget)
      return arq_wasm_err_limit_code;
    TRY(arq__read_byte(&c->r, &op));
    arq__ctrl_t *top = &v->ctrls[v->nctrls - 1];
    if (op != 0x0b && op != 0x05)
      count_instr(c);
    if (op <= 0x11)
      c->prologue = false; /* any control instruction ends it */
    switch (op) {
    case 0x00: /* unreachable */
      TRY(emit_op(c, ARQ__OP_UNREACHABLE));
      arq__v_unreachable(v);
      break;
    case 0x01: /* nop */
      break;
    case 0x02: /* block */
    case 0x03: /* loop */
    case 0x04: { /* if */
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
      top = &v->ctrls[v->nctrls - 1];
      top->else_patch = else_cell;
      if (op != 0x02) {
        TRY(new_run(c));
        top->loop_pc = c->ncode - 2;
      }
      break;
    }
    case 0x05: { /* else */
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
      TRY(arq__v_push_n(v, top->params, top->nparams));
      break;
    }
    case 0x0b: /* end */
      TRY(do_end(c));
      break;
    case 0x0c:   /* br */
    case 0x0d: { /* br_if */
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
      break;
    }
    case 0x0e: { /* br_table */
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
      break;
    }
    case 0x0f: /* return */
      TRY(arq__v_pop_n(v, c->type->results, c->type->nresults));
      TRY(emit_return(c));
      arq__v_unreachable(v);
      break;
    case 0x10: { /* call */
      uint32_t fi;
      TRY(arq__read_u32(&c->r, &fi));
      if (fi >= m->nfuncs)
        return arq_wasm_err_unknown_func;
      const arq_wasm_functype_t *t = &m->types[m->funcs[fi].type];
      TRY(arq__v_pop_n(v, t->params, t->nparams));
      TRY(arq__v_push_n(v, t->results, t->nresults));
      /* A function of the module itself needs neither the host-function test nor a
       * change of instance at the call: interp.c has a shorter path for it. */
      if (fi >= m->nfunc_imports) {
        TRY(emit_call_own(c, fi));
      } else {
        TRY(emit_op(c, ARQ__OP_CALL));
        TRY(emit_u64(c, fi));
      }
      break;
    }
    case 0x11: { /* call_indirect */
      uint32_t ti, table;
      TRY(arq__read_u32(&c->r, &ti));
      TRY(arq__read_u32(&c->r, &table));
      if (table != 0 || !m->has_table)
        return arq_wasm_err_unknown_table;
      if (ti >= m->ntypes)
        return arq_wasm_err_unknown_type;
      const arq_wasm_functype_t *t = &m->types[ti];
      TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
      TRY(arq__v_pop_n(v, t->params, t->nparams));
      TRY(arq__v_push_n(v, t->results, t->nresults));
      TRY(emit_op(c, ARQ__OP_CALL_INDIRECT));
      TRY(emit_u64(c, ti));
      break;
    }
    case 0x1a: /* drop */
      TRY(arq__v_pop(v, ARQ__UNKNOWN, NULL));
      TRY(emit_op(c, ARQ__OP_DROP));
      break;
    case 0x1b:   /* select */
    case 0x1c: { /* select with types */
      uint8_t want = ARQ__UNKNOWN;
      if (op == 0x1c) {
        uint32_t n;
        TRY(arq__read_u32(&c->r, &n));
        if (n != 1)
          return arq_wasm_err_invalid_result_arity;
        uint8_t b;
        TRY(arq__read_byte(&c->r, &b));
        if (b == 0x70 || b == 0x6f)
          return arq_wasm_err_unsupported_reftypes;
        if (b == 0x7b)
          return arq_wasm_err_unsupported_simd;
        if (b < ARQ_WASM_F64 || b > ARQ_WASM_I32)
          return arq_wasm_err_bad_valtype;
        want = b;
      }
      uint8_t t1, t2;
      TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
      TRY(arq__v_pop(v, want, &t1));
      TRY(arq__v_pop(v, want == ARQ__UNKNOWN ? t1 : want, &t2));
      TRY(arq__v_push(v, t1 == ARQ__UNKNOWN ? t2 : t1));
      TRY(emit_op(c, ARQ__OP_SELECT));
      break;
    }
    case 0x20:
    case 0x21:
    case 0x22: {
      uint32_t li;
      TRY(arq__read_u32(&c->r, &li));
      if (li >= c->nlocals)
        return arq_wasm_err_unknown_local;
      uint8_t t = c->local_types[li];
      if (op == 0x20) {
        TRY(arq__v_push(v, t));
      } else {
        TRY(arq__v_pop(v, t, NULL));
        if (op == 0x22)
          TRY(arq__v_push(v, t));
      }
      if (op == 0x21 && fusable_with(c, ARQ__OP_CONST, 1) && c->prologue &&
          li >= c->type->nparams && !c->set_in_prologue[li] && c->code[c->ncode - 1].u64 == 0) {
        /* a declared local set to the zero it already holds (clang initializes
         * accumulators so): nothing to run, though fuel still counts both instructions */
        c->ncode -= 2;
        c->last_op = c->prev_op = ARQ__OP_COUNT;
        break;
      }
      if (op != 0x20 && c->prologue)
        c->set_in_prologue[li] = 1;
      if (op == 0x20 && fusable_with(c, ARQ__OP_LOCAL_GET, 1)) {
        fuse_into_last(c, ARQ__OP_LOCAL_GET2);
        TRY(emit_u64(c, li));
        break;
      }
      if (op == 0x21 && fusable_with(c, ARQ__OP_LOCAL_GET, 1)) {
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
          break;
        }
        c->before_move_op = c->prev_op;
        c->before_move_pos = c->prev_pos;
        fuse_into_last(c, ARQ__OP_LOCAL_MOVE);
        TRY(emit_u64(c, li));
        break;
      }
      if (op == 0x21 && fusable_with(c, ARQ__OP_CONST, 1)) {
        fuse_into_last(c, ARQ__OP_LOCAL_SET_CONST);
        TRY(emit_u64(c, li));
        break;
      }
      if (op != 0x20) { /* the result of an i32 binary operator or a load goes to the local */
        unsigned form, k;
        int kk = i32_binop(c->last_op);
        bool fused = false;
        unsigned load = c->last_op - ARQ__OP_LOAD_BASE; /* form * 16 + index, if a load */
        if (kk >= 0 && fusable_with(c, c->last_op, 0)) {
          fuse_into_last(c, ARQ__OP_FUSED(ARQ__FORM_SS_SET, (unsigned)kk));
          fused = true;
        } else if (fusable_form(c, &form, &k)) {
          fuse_into_last(c, ARQ__OP_FUSED(operand_forms[form].set, k));
          fused = true;
        } else if (c->last_op >= ARQ__OP_LOAD_BASE && load < 16 * ARQ__LOAD_L_SET &&
                   fusable_with(c, c->last_op, load / 16 == ARQ__LOAD_L ? 2 : 3)) {
          /* ... or the value a fused load pushed */
          fuse_into_last(c, ARQ__OP_LOAD_FUSED(load / 16 + ARQ__LOAD_L_SET, load % 16));
          fused = true;
        }
        if (fused) {
          TRY(emit_u64(c, li));
          /* local.tee: a local.get of the local, which the next instruction may fuse
           * (as in local.tee x; i32.const c; i32.lt_u; br_if) */
          if (op == 0x22) {
            TRY(emit_op(c, ARQ__OP_LOCAL_GET));
            TRY(emit_u64(c, li));
          }
          break;
        }
      }
      TRY(emit_op(c, op));
      TRY(emit_u64(c, li));
      break;
    }
    case 0x23:
    case 0x24: {
      uint32_t gi;
      TRY(arq__read_u32(&c->r, &gi));
      if (gi >= m->nglobals)
        return arq_wasm_err_unknown_global;
      if (op == 0x23) {
        TRY(arq__v_push(v, m->globals[gi].type));
      } else {
        if (!m->globals[gi].mut)
          return arq_wasm_err_immutable_global;
        TRY(arq__v_pop(v, m->globals[gi].type, NULL));
      }
      TRY(emit_op(c, op));
      TRY(emit_u64(c, gi));
      break;
    }
    case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d: case 0x2e: case 0x2f:
    case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37:
    case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d: case 0x3e: {
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
        TRY(emit_u64(c, offset));
        break;
      }
      /* a store of a local, to an address on the stack or in a local */
      unsigned store = 2;
      if (op >= 0x36 && fusable_with(c, ARQ__OP_LOCAL_GET2, 2))
        store = ARQ__STORE_LL;
      else if (op >= 0x36 && fusable_with(c, ARQ__OP_LOCAL_GET, 1))
        store = ARQ__STORE_SL;
      if (store < 2) {
        fuse_into_last(c, ARQ__OP_STORE_FUSED(store, op - 0x36));
        TRY(emit_u64(c, offset));
        break;
      }
      TRY(emit_op(c, op));
      TRY(emit_u64(c, offset));
      break;
    }
    case 0x3f:
    case 0x40:
      TRY(zero_byte(c));
      if (!m->has_memory)
        return arq_wasm_err_unknown_memory;
      if (op == 0x40)
        TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
      TRY(arq__v_push(v, ARQ_WASM_I32));
      TRY(emit_op(c, op));
      break;
    case 0x41: {
      int32_t x;
      TRY(arq__read_i32(&c->r, &x));
      TRY(arq__v_push(v, ARQ_WASM_I32));
      TRY(emit_op(c, ARQ__OP_CONST));
      TRY(emit_u64(c, (uint32_t)x));
      break;
    }
    case 0x42: {
      int64_t x;
      TRY(arq__read_i64(&c->r, &x));
      TRY(arq__v_push(v, ARQ_WASM_I64));
      TRY(emit_op(c, ARQ__OP_CONST));
      TRY(emit_u64(c, (uint64_t)x));
      break;
    }
    case 0x43:
    case 0x44: {
      size_t n = op == 0x43 ? 4 : 8;
      if ((size_t)(c->r.end - c->r.p) < n)
        return arq_wasm_err_unexpected_end;
      uint64_t x = 0;
      memcpy(&x, c->r.p, n); /* little-endian host, as everywhere this project runs */
      c->r.p += n;
      TRY(arq__v_push(v, op == 0x43 ? ARQ_WASM_F32 : ARQ_WASM_F64));
      TRY(emit_op(c, ARQ__OP_CONST));
      TRY(emit_u64(c, x));
      break;
    }
    case 0xfc: {
      uint32_t sub;
      TRY(arq__read_u32(&c->r, &sub));
      if (sub <= 7) {
        uint8_t a, b, res;
        numeric_sig(ARQ__OP_TRUNC_SAT + sub, &a, &b, &res);
        TRY(arq__v_pop(v, a, NULL));
        TRY(arq__v_push(v, res));
        TRY(emit_op(c, ARQ__OP_TRUNC_SAT + sub));
        break;
      }
      switch (sub) {
      case 8: { /* memory.init */
        uint32_t seg;
        TRY(arq__read_u32(&c->r, &seg));
        TRY(zero_byte(c));
        if (!m->has_data_count)
          return arq_wasm_err_data_count_required;
        if (!m->has_memory)
          return arq_wasm_err_unknown_memory;
        if (seg >= m->data_count)
          return arq_wasm_err_unknown_data;
        for (int i = 0; i < 3; i++)
          TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
        TRY(emit_op(c, ARQ__OP_MEMORY_INIT));
        TRY(emit_u64(c, seg));
        break;
      }
      case 9: { /* data.drop */
        uint32_t seg;
        TRY(arq__read_u32(&c->r, &seg));
        if (!m->has_data_count)
          return arq_wasm_err_data_count_required;
        if (seg >= m->data_count)
          return arq_wasm_err_unknown_data;
        TRY(emit_op(c, ARQ__OP_DATA_DROP));
        TRY(emit_u64(c, seg));
        break;
      }
      case 10: /* memory.copy */
      case 11: /* memory.fill */
        TRY(zero_byte(c));
        if (sub == 10)
          TRY(zero_byte(c));
        if (!m->has_memory)
          return arq_wasm_err_unknown_memory;
        for (int i = 0; i < 3; i++)
          TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
        TRY(emit_op(c, sub == 10 ? ARQ__OP_MEMORY_COPY : ARQ__OP_MEMORY_FILL));
        break;
      case 12:   /* table.init */
      case 13:   /* elem.drop */
      case 14: { /* table.copy */
        uint32_t seg = 0, t1 = 0, t2 = 0;
        if (sub != 14)
          TRY(arq__read_u32(&c->r, &seg));
        if (sub != 13) {
          TRY(arq__read_u32(&c->r, &t1));
          if (sub == 14)
            TRY(arq__read_u32(&c->r, &t2));
          if (!m->has_table || t1 != 0 || t2 != 0)
            return arq_wasm_err_unknown_table;
        }
        if (sub != 14 && seg >= m->nelems)
          return arq_wasm_err_unknown_elem;
        if (sub != 13)
          for (int i = 0; i < 3; i++)
            TRY(arq__v_pop(v, ARQ_WASM_I32, NULL));
        TRY(emit_op(c, sub == 12 ? ARQ__OP_TABLE_INIT
                               : sub == 13 ? ARQ__OP_ELEM_DROP : ARQ__OP_TABLE_COPY));
        if (sub != 14)
          TRY(emit_u64(c, seg));
        break;
      }
      case 15: case 16: case 17: /* table.grow, table.size, table.fill */
        return arq_wasm_err_unsupported_reftypes;
      default:
        return arq_wasm_err_illegal_opcode;
      }
      break;
    }
    default: {
      uint8_t a, b, res;
      if (op < 0x45 || op > 0xc4 || !numeric_sig(op, &a, &b, &res))
        return unsupported(op);
      if (b)
        TRY(arq__v_pop(v, b, NULL));
      TRY(arq__v_pop(v, a, NULL));
      TRY(arq__v_push(v, res));
      /* operands straight from locals or a constant (an i32.const: it is the operator's
       * second operand), keeping their immediates in place */
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
        break;
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
        TRY(emit_u64(c, x));
        break;
      }
      if (k >= 0 && fusable_with(c, ARQ__OP_LOCAL_GET2, 2)) {
        fuse_into_last(c, ARQ__OP_FUSED(ARQ__FORM_LL, (unsigned)k));
        break;
      }
      if (k >= 0 && fusable_with(c, ARQ__OP_LOCAL_GET, 1)) {
        fuse_into_last(c, ARQ__OP_FUSED(ARQ__FORM_SL, (unsigned)k));
        break;
      }
      if (k >= 0 && fusable_with(c, ARQ__OP_CONST, 1)) {
        if (c->prev_op == ARQ__OP_LOCAL_GET && c->prev_pos == c->last_pos - 2 &&
            c->prev_pos > c->fuel_at) {
          /* local.get a; i32.const c; op: one cell (a, c) where the local.get was */
          c->code[c->prev_pos].op = c->labels[ARQ__OP_FUSED(ARQ__FORM_LI, (unsigned)k)];
          c->code[c->prev_pos + 2] = c->code[c->prev_pos + 3];
          c->ncode--;
          c->last_op = ARQ__OP_FUSED(ARQ__FORM_LI, (unsigned)k);
          c->last_pos = c->prev_pos;
          c->prev_op = ARQ__OP_COUNT;
          break;
        }
        if (c->prev_op == ARQ__OP_LOCAL_GET2 && c->prev_pos == c->last_pos - 3 &&
            c->prev_pos > c->fuel_at) {
          /* local.get x; local.get y; i32.const c; op: the first local.get alone, then
           * (y, c) in form LI, as many cells and one that a commutative operator after
           * may take x into (above) */
          uint32_t at = c->prev_pos;
          arq__cell_t x = c->code[at + 1], y = c->code[at + 2], cst = c->code[at + 4];
          c->code[at].op = c->labels[ARQ__OP_LOCAL_GET];
          c->code[at + 1] = x;
          c->code[at + 2].op = c->labels[ARQ__OP_FUSED(ARQ__FORM_LI, (unsigned)k)];
          c->code[at + 3] = y;
          c->code[at + 4] = cst;
          c->prev_op = ARQ__OP_LOCAL_GET;
          c->last_op = ARQ__OP_FUSED(ARQ__FORM_LI, (unsigned)k);
          c->last_pos = at + 2;
          break;
        }
        fuse_into_last(c, ARQ__OP_FUSED(ARQ__FORM_SI, (unsigned)k));
        break;
      }
      TRY(emit_op(c, op));
      break;
    }
    }
  }
  if (c->r.p != c->r.end)
    return arq_wasm_err_section_size;
  return NULL;
}

static arq_wasm_result_t read_locals(comp_t *c) {
  uint32_t ngroups;
  TRY(arq__read_u32(&c->r, &ngroups));
  if (ngroups > (size_t)(c->r.end - c->r.p))
    return arq_wasm_err_unexpected_end;
  /* first pass: total count, so the type array is sized before it is filled */
  arq__reader_t save = c->r;
  uint64_t total = c->type->nparams;
  for (uint32_t i = 0; i < ngroups; i++) {
    uint32_t n;
    uint8_t t;
    TRY(arq__read_u32(&c->r, &n));
    TRY(arq__read_byte(&c->r, &t));
    total += n;
    if (total > ARQ_WASM_MAX_LOCALS)
      return arq_wasm_err_too_many_locals;
  }
  c->r = save;
  c->local_types = malloc(total ? total : 1);
  c->set_in_prologue = calloc(total ? total : 1, 1);
  if (!c->local_types || !c->set_in_prologue)
    return arq_wasm_err_out_of_memory;
  c->prologue = true;
  memcpy(c->local_types, c->type->params, c->type->nparams);
  uint32_t at = c->type->nparams;
  for (uint32_t i = 0; i < ngroups; i++) {
    uint32_t n;
    TRY(arq__read_u32(&c->r, &n));
    uint8_t t;
    /* read_valtype is private to decode.c; re-check here */
    TRY(arq__read_byte(&c->r, &t));
    if (t == 0x7b)
      return arq_wasm_err_unsupported_simd;
    if (t == 0x70 || t == 0x6f)
      return arq_wasm_err_unsupported_reftypes;
    if (t < ARQ_WASM_F64 || t > ARQ_WASM_I32)
      return arq_wasm_err_bad_valtype;
    memset(c->local_types + at, t, n);
    at += n;
  }
  c->nlocals = at;
  return NULL;
}

arq_wasm_result_t arq__compile_function(arq_wasm_module_t *m, uint32_t index, size_t *err_offset) {
  arq__func_t *f = &m->funcs[index];
  comp_t c = {.m = m, .f = f, .type = &m->types[f->type], .labels = arq__labels()};
  c.r.p = f->body;
  c.r.end = f->body + f->body_len;
  arq_wasm_result_t res = read_locals(&c);
  if (!res)
    res = compile_body(&c);
  if (!res) {
    /* branch targets become cell pointers: a taken branch is one load */
    arq__cell_t *shrunk = realloc(c.code, (c.ncode ? c.ncode : 1) * sizeof *c.code);
    if (shrunk)
      c.code = shrunk;
    for (uint32_t i = 0; i < c.ntargets; i++) {
      arq__cell_t *cell = &c.code[c.targets[i]];
      cell->to = c.code + cell->u64;
      assert(cell->to->op == c.labels[ARQ__OP_FUEL]); /* interp.c's ENTER_RUN relies on it */
    }
    f->nlocals = c.nlocals - c.type->nparams;
    f->frame_slots = c.nlocals + c.v.max_vals + 1;
    m->code_cells += c.ncode; /* the module's budget counts what stays allocated */
    f->code = c.code;
    f->ncode = c.ncode;
    f->call_sites = c.call_sites;
    f->ncall_sites = c.ncall_sites;
    c.code = NULL; /* ownership transferred to the module */
    c.call_sites = NULL;
  } else if (err_offset) {
    *err_offset = (size_t)(c.r.p - m->bytes);
  }
  free(c.code);
  free(c.call_sites);
  free(c.seen);
  free(c.targets);
  free(c.local_types);
  free(c.set_in_prologue);
  arq__v_free(&c.v);
  return res;
}

void arq__link_calls(arq_wasm_module_t *m) {
  for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
    arq__func_t *f = &m->funcs[i];
    for (uint32_t k = 0; k < f->ncall_sites; k++) {
      arq__cell_t *cell = &f->code[f->call_sites[k]];
      const arq__func_t *callee = &m->funcs[cell[1].u64];
      uint32_t nparams = m->types[callee->type].nparams;
      cell[1].to = callee->code + 2;
      cell[2].u64 = nparams | (uint64_t)callee->nlocals << 32;
      uint32_t above = callee->frame_slots - nparams;
      cell[3].u64 = (uint64_t)(above > ARQ__ZEROED ? above : ARQ__ZEROED) * sizeof(uint64_t);
      cell[4].u64 = callee->code[1].u64;
    }
    free(f->call_sites);
    f->call_sites = NULL;
    f->ncall_sites = 0;
  }
}
