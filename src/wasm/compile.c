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
 *
 *   This file reads the locals and each instruction, counts the instruction's fuel, and
 *   hands it to the function of its family, which validates it and emits its code
 *   (compile.h lists them): compile_control.c, compile_variable.c (drop, select,
 *   locals and globals), compile_memory.c, compile_numeric.c and compile_bulk.c. The
 *   peepholes live with the instruction that completes them.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/compile.h"

static void count_instr(comp_t *c) { c->code[c->fuel_at].u64++; }

/* The error for an opcode that is not compiled: the proposal it belongs to, if any. */
static arq_wasm_result_t unsupported(uint8_t op) {
  switch (op) {
  case 0x06: case 0x07: case 0x08: case 0x09: case 0x0a: case 0x18: case 0x19: case 0x1f:
    return arq_wasm_err_unsupported_exceptions;
  case 0x12: case 0x13: case 0x15:
    return arq_wasm_err_unsupported_tail_calls;
  case 0x14: case 0xd3: case 0xd4: case 0xd5: case 0xd6: /* typed function references */
    return arq_wasm_err_unsupported_gc;
  case 0xfb:
    return arq_wasm_err_unsupported_gc;
  case 0xfd:
    return arq_wasm_err_unsupported_simd;
  case 0xfe:
    return arq_wasm_err_unsupported_threads;
  }
  return arq_wasm_err_illegal_opcode;
}

/* The 0xfc prefix: its sub-opcode, then the instruction. */
static arq_wasm_result_t compile_prefix_fc(comp_t *c) {
  uint32_t sub;
  TRY(arq__read_u32(&c->r, &sub));
  if (sub <= 7)
    return arq__compile_trunc_sat(c, sub);
  return arq__compile_bulk(c, sub);
}

/* One instruction, whose opcode has been read. */
static arq_wasm_result_t compile_instr(comp_t *c, uint8_t op) {
  switch (op) {
  case 0x00: return arq__compile_unreachable(c);
  case 0x01: return NULL; /* nop */
  case 0x02: /* block */
  case 0x03: /* loop */
  case 0x04: /* if */
    return arq__compile_block(c, op);
  case 0x05: return arq__compile_else(c);
  case 0x0b: return arq__compile_end(c);
  case 0x0c: /* br */
  case 0x0d: /* br_if */
    return arq__compile_br(c, op);
  case 0x0e: return arq__compile_br_table(c);
  case 0x0f: return arq__compile_return(c);
  case 0x10: return arq__compile_call(c);
  case 0x11: return arq__compile_call_indirect(c);
  case 0x1a: return arq__compile_drop(c);
  case 0x1b: /* select */
  case 0x1c: /* select with types */
    return arq__compile_select(c, op);
  case 0x20: /* local.get */
  case 0x21: /* local.set */
  case 0x22: /* local.tee */
    return arq__compile_local(c, op);
  case 0x23: /* global.get */
  case 0x24: /* global.set */
    return arq__compile_global(c, op);
  case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d: case 0x2e: case 0x2f:
  case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37:
  case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d: case 0x3e:
    return arq__compile_load_store(c, op);
  case 0x3f: /* memory.size */
  case 0x40: /* memory.grow */
    return arq__compile_memory_size_grow(c, op);
  case 0x41: case 0x42: case 0x43: case 0x44:
    return arq__compile_const(c, op);
  case 0x25: /* table.get */
  case 0x26: /* table.set */
  case 0xd0: /* ref.null */
  case 0xd1: /* ref.is_null */
  case 0xd2: /* ref.func */
    return arq__compile_ref(c, op);
  case 0xfc:
    return compile_prefix_fc(c);
  default:
    if (op < 0x45 || op > 0xc4)
      return unsupported(op);
    return arq__compile_numeric(c, op);
  }
}

static arq_wasm_result_t compile_body(comp_t *c) {
  arq__vstate_t *v = &c->v;
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
    if (op != 0x0b && op != 0x05)
      count_instr(c);
    if (op <= 0x11)
      c->prologue = false; /* any control instruction ends it */
    TRY(compile_instr(c, op));
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
    if (t == 0x63 || t == 0x64)
      return arq_wasm_err_unsupported_gc;
    if ((t < ARQ_WASM_F64 || t > ARQ_WASM_I32) && t != ARQ_WASM_FUNCREF &&
        t != ARQ_WASM_EXTERNREF)
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
