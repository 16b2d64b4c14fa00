/*
 * test_fused.c — register-style superinstructions (compile.c fuses local.get, i32.const
 * and local.set/tee around the i32 binary operators, a br_if or if after a comparison,
 * an i32.add or i32.xor of the result into the value below it, a return of the
 * result, the address
 * computation of loads and their result into a local, the operands of stores, and br_if or if on a
 * local): every fused form must give the value or the
 * trap of the same instructions compiled apart, and fuel must still count each
 * WebAssembly instruction.
 *
 * The module is assembled here. A reference function separates the instructions with
 * an empty `block` (its `end` opens a new straight-line run, which no fusion crosses),
 * its last one too (a function's end is a return, into which the last operator may
 * fuse); each variant is the same computation as the compiler fuses it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wasm/wasm.h"

typedef struct {
  uint8_t *p;
  size_t n, cap;
} buf_t;

static void put(buf_t *b, uint8_t x) {
  if (b->n == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 64;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  b->p[b->n++] = x;
}
static void put_u(buf_t *b, uint32_t v) {
  do {
    uint8_t x = v & 0x7f;
    v >>= 7;
    put(b, v ? x | 0x80 : x);
  } while (v);
}
static void put_s(buf_t *b, int64_t v) {
  for (;;) {
    uint8_t x = v & 0x7f;
    v >>= 7; /* arithmetic shift on every compiler this project uses */
    if ((v == 0 && !(x & 0x40)) || (v == -1 && (x & 0x40))) {
      put(b, x);
      return;
    }
    put(b, x | 0x80);
  }
}
static void put_buf(buf_t *b, const buf_t *src) {
  for (size_t i = 0; i < src->n; i++)
    put(b, src->p[i]);
}

/* How much of a function's body runs, for its expected fuel. */
enum { ALL, BR_FORM, IF_FORM };

typedef struct {
  buf_t code;
  unsigned ninstr; /* WebAssembly instructions in the body */
  int shape;       /* ALL: all run; BR_FORM: 2 fewer when the branch is taken; IF_FORM: 1 fewer */
  uint8_t result;  /* ARQ_WASM_I32 or ARQ_WASM_I64 */
} fn_t;

#define MAX_FNS 8192
static fn_t fns[MAX_FNS];
static unsigned nfns;

static fn_t *new_fn(int shape, uint8_t result) {
  assert_true(nfns < MAX_FNS);
  fn_t *f = &fns[nfns++];
  memset(f, 0, sizeof *f);
  f->shape = shape;
  f->result = result;
  return f;
}
static unsigned idx(const fn_t *f) { return (unsigned)(f - fns); }
static void op(fn_t *f, uint8_t o) { put(&f->code, o), f->ninstr++; }
static void op_u(fn_t *f, uint8_t o, uint32_t imm) { op(f, o), put_u(&f->code, imm); }
static void get(fn_t *f, uint32_t l) { op_u(f, 0x20, l); }
static void cst(fn_t *f, int32_t c) { op(f, 0x41), put_s(&f->code, c); }
static void cut(fn_t *f) { op(f, 0x02), put(&f->code, 0x40), put(&f->code, 0x0b); } /* block end */
static void marker(fn_t *f, uint8_t m) { put(&f->code, m); }                           /* else, end */

static const uint8_t i32_binops[] = {0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e,
                                     0x4f, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71,
                                     0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78};
static const int32_t consts[] = {0, 1, -1, 2, 31, 32, 33, INT32_MIN, INT32_MAX, -2, 7};

/* A group: a reference function and its variants, called with the same arguments. */
typedef struct {
  unsigned ref, first, n;
  const int32_t *as, *bs;
  size_t nas, nbs;
} group_t;
static group_t groups[4096];
static unsigned ngroups;

static void group(unsigned ref, unsigned first, const int32_t *as, size_t nas, const int32_t *bs,
                  size_t nbs) {
  assert_true(ngroups < sizeof groups / sizeof groups[0]);
  groups[ngroups++] = (group_t){ref, first, nfns - first, as, bs, nas, nbs};
}

/* The operands as the variant takes them: "LL" both locals, "SL" the left one on the
 * stack, "SI"/"LI" the right one an i32.const (on the stack / from a local). */
static void operands(fn_t *f, const char *form, int32_t c) {
  get(f, 0);
  if (form[1] == 'L') {
    if (form[0] == 'S')
      cut(f);
    get(f, 1);
  } else {
    if (form[0] == 'S')
      cut(f);
    cst(f, c);
  }
}

static void build_binops(void) {
  static const char *const forms[] = {"LL", "SL", "SI", "LI"};
  for (size_t o = 0; o < sizeof i32_binops; o++) {
    uint8_t opc = i32_binops[o];
    bool cmp = opc <= 0x4f;
    for (size_t fm = 0; fm < 4; fm++) {
      bool imm = forms[fm][1] == 'I';
      for (size_t ci = 0; ci < (imm ? sizeof consts / sizeof consts[0] : 1); ci++) {
        int32_t c = imm ? consts[ci] : 0;
        /* operands, block end, operator, block end (so that nothing fuses) */
        fn_t *ref = new_fn(ALL, ARQ_WASM_I32);
        get(ref, 0);
        if (imm)
          cst(ref, c);
        else
          get(ref, 1);
        cut(ref);
        op(ref, opc);
        cut(ref);
        unsigned first = nfns;
        fn_t *f = new_fn(ALL, ARQ_WASM_I32); /* pushed, returned by a later run */
        operands(f, forms[fm], c), op(f, opc), cut(f);
        f = new_fn(ALL, ARQ_WASM_I32); /* returned at the function's end */
        operands(f, forms[fm], c), op(f, opc);
        f = new_fn(ALL, ARQ_WASM_I32); /* returned by a return instruction */
        operands(f, forms[fm], c), op(f, opc), op(f, 0x0f);
        f = new_fn(ALL, ARQ_WASM_I32); /* into a local */
        operands(f, forms[fm], c), op(f, opc), op_u(f, 0x21, 2), get(f, 2);
        f = new_fn(ALL, ARQ_WASM_I32); /* teed */
        operands(f, forms[fm], c), op(f, opc), op_u(f, 0x22, 2);
        if (fm == 0) { /* the result of a plain (stack) operator returned, or into a local */
          f = new_fn(ALL, ARQ_WASM_I32);
          get(f, 0), get(f, 1), cut(f), op(f, opc);
          f = new_fn(ALL, ARQ_WASM_I32);
          get(f, 0), get(f, 1), cut(f), op(f, opc), op(f, 0x0f);
          f = new_fn(ALL, ARQ_WASM_I32);
          get(f, 0), get(f, 1), cut(f), op(f, opc), op_u(f, 0x21, 2), get(f, 2);
          f = new_fn(ALL, ARQ_WASM_I32);
          get(f, 0), get(f, 1), cut(f), op(f, opc), op_u(f, 0x22, 2);
        }
        if (cmp) {
          /* block (result i32) i32.const 1, test, br_if 0, drop, i32.const 0 end */
          f = new_fn(BR_FORM, ARQ_WASM_I32);
          op(f, 0x02), put(&f->code, 0x7f), cst(f, 1);
          operands(f, forms[fm], c), op(f, opc), op_u(f, 0x0d, 0), op(f, 0x1a), cst(f, 0);
          marker(f, 0x0b);
          /* test, if (result i32) i32.const 1 else i32.const 0 end */
          f = new_fn(IF_FORM, ARQ_WASM_I32);
          operands(f, forms[fm], c), op(f, opc), op(f, 0x04), put(&f->code, 0x7f), cst(f, 1);
          marker(f, 0x05), cst(f, 0), marker(f, 0x0b);
        }
        static const int32_t vals[] = {0, 1, -1, 2, 31, 32, 33, INT32_MIN, INT32_MAX, -2, 7};
        group(idx(ref), first, vals, sizeof vals / sizeof vals[0], vals,
              imm ? 1 : sizeof vals / sizeof vals[0]);
        /* the result added to or xored into the value below it */
        for (int acc = 0; acc < 2; acc++) {
          uint8_t with = acc ? 0x73 : 0x6a;
          ref = new_fn(ALL, ARQ_WASM_I32);
          cst(ref, 0x5a5a5a5a), get(ref, 0);
          if (imm)
            cst(ref, c);
          else
            get(ref, 1);
          cut(ref), op(ref, opc), cut(ref), op(ref, with), cut(ref);
          first = nfns;
          f = new_fn(ALL, ARQ_WASM_I32);
          cst(f, 0x5a5a5a5a), operands(f, forms[fm], c), op(f, opc), op(f, with);
          group(idx(ref), first, vals, sizeof vals / sizeof vals[0], vals,
                imm ? 1 : sizeof vals / sizeof vals[0]);
        }
      }
    }
  }
}

/* Loads: the address from a local, a local plus a constant, or two locals, with the
 * sums wrapping at 2^32 before the offset is added. */
static void build_loads(void) {
  static const uint32_t offsets[] = {0, 3, 65533};
  static const int32_t adds[] = {0, 4, -4, 65535};
  static const int32_t addrs[] = {0, 1, 250, 65532, 65535, -1, -4, 65536, INT32_MAX};
  static const uint8_t natural[] = {2, 3, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2};
  static const uint8_t loads[] = {0x28, 0x29, 0x2c, 0x2d, 0x2e, 0x2f,
                                  0x30, 0x31, 0x32, 0x33, 0x34, 0x35};
  for (size_t l = 0; l < sizeof loads; l++) {
    uint8_t res = loads[l] == 0x28 || (loads[l] >= 0x2c && loads[l] <= 0x2f) ? ARQ_WASM_I32
                                                                            : ARQ_WASM_I64;
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
#define LOAD(f) (op_u(f, loads[l], natural[l]), put_u(&(f)->code, offsets[o]))
      /* the value loaded pushed, set into a local (2: i32, 3: i64) or teed */
#define USES(f, ...)                                                                     \
  (f = new_fn(ALL, res), __VA_ARGS__, LOAD(f), f = new_fn(ALL, res), __VA_ARGS__, LOAD(f),  \
   op_u(f, 0x21, dst), get(f, dst), f = new_fn(ALL, res), __VA_ARGS__, LOAD(f),           \
   op_u(f, 0x22, dst))
      uint32_t dst = res == ARQ_WASM_I32 ? 2 : 3;
      fn_t *ref = new_fn(ALL, res), *f;
      get(ref, 0), cut(ref), LOAD(ref);
      unsigned first = nfns;
      USES(f, get(f, 0));
      group(idx(ref), first, addrs, sizeof addrs / sizeof addrs[0], addrs, 1);
      ref = new_fn(ALL, res);
      get(ref, 0), get(ref, 1), op(ref, 0x6a), cut(ref), LOAD(ref);
      first = nfns;
      USES(f, get(f, 0), get(f, 1), op(f, 0x6a));
      group(idx(ref), first, addrs, sizeof addrs / sizeof addrs[0], addrs,
            sizeof addrs / sizeof addrs[0]);
      for (size_t a = 0; a < sizeof adds / sizeof adds[0]; a++) {
        ref = new_fn(ALL, res);
        get(ref, 0), cst(ref, adds[a]), op(ref, 0x6a), cut(ref), LOAD(ref);
        first = nfns;
        USES(f, get(f, 0), cst(f, adds[a]), op(f, 0x6a));
        group(idx(ref), first, addrs, sizeof addrs / sizeof addrs[0], addrs, 1);
      }
#undef USES
#undef LOAD
    }
  }
}

/* Stores of a local (address on the stack, or in a local too), read back by a load of
 * the same width. */
static void build_stores(void) {
  static const uint32_t offsets[] = {0, 3, 65533};
  static const int32_t addrs[] = {0, 1, 250, 65532, 65535, -1, -4, 65536};
  static const int32_t vals[] = {-1, 0x12345678, 0};
  static const uint8_t stores[] = {0x36, 0x37, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e};
  static const uint8_t loads[] = {0x28, 0x29, 0x2d, 0x2f, 0x31, 0x33, 0x35};
  static const uint8_t natural[] = {2, 3, 0, 1, 0, 1, 2};
  for (size_t k = 0; k < sizeof stores; k++) {
    bool wide = stores[k] == 0x37 || stores[k] >= 0x3c;
    uint8_t res = loads[k] == 0x28 || loads[k] == 0x2d || loads[k] == 0x2f ? ARQ_WASM_I32
                                                                           : ARQ_WASM_I64;
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
#define VALUE(f) (get(f, 1), wide ? op(f, 0xac) : (void)0) /* i64.extend_i32_s */
#define STORE(f) (op_u(f, stores[k], natural[k]), put_u(&(f)->code, offsets[o]))
#define READ(f) (get(f, 0), cut(f), op_u(f, loads[k], natural[k]), put_u(&(f)->code, offsets[o]))
      fn_t *ref = new_fn(ALL, res), *f;
      get(ref, 0), cut(ref), VALUE(ref), cut(ref), STORE(ref), READ(ref);
      unsigned first = nfns;
      if (!wide) { /* the value straight from a local: i32 stores only */
        f = new_fn(ALL, res);
        get(f, 0), cut(f), get(f, 1), STORE(f), READ(f);
        f = new_fn(ALL, res);
        get(f, 0), get(f, 1), STORE(f), READ(f);
      } else { /* an i64 in local 3 */
        f = new_fn(ALL, res);
        VALUE(f), op_u(f, 0x21, 3), get(f, 0), cut(f), get(f, 3), STORE(f), READ(f);
        f = new_fn(ALL, res);
        VALUE(f), op_u(f, 0x21, 3), get(f, 0), get(f, 3), STORE(f), READ(f);
      }
      group(idx(ref), first, addrs, sizeof addrs / sizeof addrs[0], vals,
            sizeof vals / sizeof vals[0]);
#undef VALUE
#undef STORE
#undef READ
    }
  }
}

/* br_if and if on a local, or on its i32.eqz. */
static void build_local_branches(void) {
  static const int32_t vals[] = {0, 1, -1, INT32_MIN, 256};
  for (int eqz = 0; eqz < 2; eqz++) {
    fn_t *ref = new_fn(ALL, ARQ_WASM_I32), *f; /* the condition as a value */
    get(ref, 0), cut(ref);
    if (eqz)
      op(ref, 0x45);
    else
      cst(ref, 0), op(ref, 0x47);
    unsigned first = nfns;
    f = new_fn(BR_FORM, ARQ_WASM_I32);
    op(f, 0x02), put(&f->code, 0x7f), cst(f, 1), get(f, 0);
    if (eqz)
      op(f, 0x45);
    op_u(f, 0x0d, 0), op(f, 0x1a), cst(f, 0), marker(f, 0x0b);
    f = new_fn(IF_FORM, ARQ_WASM_I32);
    get(f, 0);
    if (eqz)
      op(f, 0x45);
    op(f, 0x04), put(&f->code, 0x7f), cst(f, 1), marker(f, 0x05), cst(f, 0), marker(f, 0x0b);
    group(idx(ref), first, vals, sizeof vals / sizeof vals[0], vals, 1);
  }
}

static void section(buf_t *mod, uint8_t id, buf_t *content) {
  put(mod, id);
  put_u(mod, (uint32_t)content->n);
  put_buf(mod, content);
  content->n = 0;
}

static buf_t assemble(void) {
  buf_t mod = {0}, s = {0};
  static const uint8_t header[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  for (size_t i = 0; i < sizeof header; i++)
    put(&mod, header[i]);
  static const uint8_t types[] = {0x02, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f,
                                  0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7e};
  for (size_t i = 0; i < sizeof types; i++)
    put(&s, types[i]);
  section(&mod, 1, &s);
  put_u(&s, nfns);
  for (unsigned i = 0; i < nfns; i++)
    put_u(&s, fns[i].result == ARQ_WASM_I32 ? 0 : 1);
  section(&mod, 3, &s);
  put(&s, 1), put(&s, 0), put(&s, 1); /* one memory, one page */
  section(&mod, 5, &s);
  put_u(&s, nfns);
  for (unsigned i = 0; i < nfns; i++) {
    char name[16];
    int n = snprintf(name, sizeof name, "f%u", i);
    put_u(&s, (uint32_t)n);
    for (int k = 0; k < n; k++)
      put(&s, (uint8_t)name[k]);
    put(&s, 0), put_u(&s, i);
  }
  section(&mod, 7, &s);
  put_u(&s, nfns);
  for (unsigned i = 0; i < nfns; i++) {
    buf_t body = {0};
    put(&body, 2), put(&body, 1), put(&body, 0x7f); /* local 2: i32, local 3: i64 */
    put(&body, 1), put(&body, 0x7e);
    put_buf(&body, &fns[i].code);
    put(&body, 0x0b);
    put_u(&s, (uint32_t)body.n);
    put_buf(&s, &body);
    free(body.p);
  }
  section(&mod, 10, &s);
  /* distinct bytes at both ends of the page */
  put(&s, 2);
  for (int seg = 0; seg < 2; seg++) {
    put(&s, 0), put(&s, 0x41), put_s(&s, seg ? 65536 - 256 : 0), put(&s, 0x0b);
    put_u(&s, 256);
    for (int k = 0; k < 256; k++)
      put(&s, (uint8_t)(k * 37 + 11 + seg));
  }
  section(&mod, 11, &s);
  free(s.p);
  return mod;
}

/* The functions built, assembled into one module and instantiated. */
typedef struct {
  buf_t bytes;
  arq_wasm_module_t *m;
  arq_wasm_instance_t *inst;
} module_t;

static module_t open_module(void) {
  module_t mod = {assemble(), NULL, NULL};
  assert_null(arq_wasm_module_load(mod.bytes.p, mod.bytes.n, &mod.m));
  assert_null(arq_wasm_instantiate(mod.m, NULL, 0, NULL, &mod.inst));
  return mod;
}

/* Frees the module and the functions built. */
static void close_module(module_t *mod) {
  arq_wasm_instance_free(mod->inst);
  arq_wasm_module_free(mod->m);
  free(mod->bytes.p);
  for (unsigned i = 0; i < nfns; i++)
    free(fns[i].code.p);
}

typedef struct {
  arq_wasm_result_t r;
  int64_t v;
  uint64_t fuel;
} outcome_t;

static outcome_t call(arq_wasm_instance_t *inst, unsigned i, int32_t a, int32_t b) {
  char name[16];
  snprintf(name, sizeof name, "f%u", i);
  arq_wasm_func_t *f = arq_wasm_export_func(inst, name);
  assert_non_null(f);
  arq_wasm_val_t args[2] = {{ARQ_WASM_I32, .of.i32 = a}, {ARQ_WASM_I32, .of.i32 = b}}, res;
  arq_wasm_set_fuel(inst, 1000);
  outcome_t o = {arq_wasm_call(inst, f, args, 2, &res, 1), 0, 0};
  o.fuel = 1000 - arq_wasm_fuel_left(inst);
  if (!o.r)
    o.v = fns[i].result == ARQ_WASM_I32 ? res.of.i32 : res.of.i64;
  return o;
}

/* Assembles the functions built, then runs every group: each variant must give the
 * value or the trap of its reference, and the fuel its instructions count. */
static void check_groups(unsigned min_traps, unsigned min_checked) {
  module_t mod = open_module();
  arq_wasm_instance_t *inst = mod.inst;
  unsigned checked = 0, traps = 0;
  for (unsigned g = 0; g < ngroups; g++) {
    const group_t *gr = &groups[g];
    for (size_t i = 0; i < gr->nas; i++) {
      for (size_t j = 0; j < gr->nbs; j++) {
        outcome_t want = call(inst, gr->ref, gr->as[i], gr->bs[j]);
        if (!want.r)
          assert_int_equal(want.fuel, fns[gr->ref].ninstr);
        traps += want.r != NULL;
        for (unsigned k = gr->first; k < gr->first + gr->n; k++) {
          outcome_t got = call(inst, k, gr->as[i], gr->bs[j]);
          if (got.r != want.r || got.v != want.v)
            fail_msg("f%u (group of f%u), a=%d b=%d: got %s %lld, want %s %lld", k, gr->ref,
                     gr->as[i], gr->bs[j], got.r ? got.r : "value", (long long)got.v,
                     want.r ? want.r : "value", (long long)want.v);
          if (!got.r) {
            uint64_t fuel = fns[k].ninstr;
            if (fns[k].shape == BR_FORM && got.v == 1)
              fuel -= 2; /* drop and i32.const 0 skipped */
            if (fns[k].shape == IF_FORM)
              fuel -= 1; /* one arm of two */
            assert_int_equal(got.fuel, fuel);
          }
          checked++;
        }
      }
    }
  }
  assert_true(traps >= min_traps);
  assert_true(checked >= min_checked);
  close_module(&mod);
}

static void test_fused_forms_agree_with_separate_instructions(void **state) {
  (void)state;
  nfns = ngroups = 0;
  build_binops();
  build_loads();
  build_stores();
  build_local_branches();
  /* the divisions by zero and the out-of-bounds loads were reached */
  check_groups(100, 10000);
}

/* local.get x; local.get y; i32.const c; op1; op2 with op2 commutative: compiled as
 * local.get x, then (y, c) op1 in form LI, then x taken into op2 in form SL (which an
 * i32.add, a local.set or a br_if after may extend). */
static void test_swapped_operands(void **state) {
  (void)state;
  static const uint8_t commutative[] = {0x46, 0x47, 0x6a, 0x6c, 0x71, 0x72, 0x73};
  static const int32_t consts3[] = {0, -1, 31};
  static const int32_t vals[] = {0, 1, -1, INT32_MIN, 7};
  nfns = ngroups = 0;
  for (size_t o1 = 0; o1 < sizeof i32_binops; o1++) {
    for (size_t o2 = 0; o2 < sizeof commutative; o2++) {
      for (size_t ci = 0; ci < sizeof consts3 / sizeof consts3[0]; ci++) {
        uint8_t op1 = i32_binops[o1], op2 = commutative[o2];
        int32_t c = consts3[ci];
        fn_t *ref = new_fn(ALL, ARQ_WASM_I32), *f;
        get(ref, 1), cut(ref), get(ref, 0), cst(ref, c), cut(ref), op(ref, op1), cut(ref);
        op(ref, op2), cut(ref);
        unsigned first = nfns;
#define SWAPPED(f) (get(f, 1), get(f, 0), cst(f, c), op(f, op1), op(f, op2))
        f = new_fn(ALL, ARQ_WASM_I32); /* returned */
        SWAPPED(f);
        f = new_fn(ALL, ARQ_WASM_I32); /* pushed */
        SWAPPED(f), cut(f);
        f = new_fn(ALL, ARQ_WASM_I32); /* into a local */
        SWAPPED(f), op_u(f, 0x21, 2), get(f, 2);
        if (op2 <= 0x47) { /* a comparison, then a branch on it */
          f = new_fn(BR_FORM, ARQ_WASM_I32);
          op(f, 0x02), put(&f->code, 0x7f), cst(f, 1), SWAPPED(f), op_u(f, 0x0d, 0);
          op(f, 0x1a), cst(f, 0), marker(f, 0x0b);
        }
        group(idx(ref), first, vals, sizeof vals / sizeof vals[0], vals,
              sizeof vals / sizeof vals[0]);
        ref = new_fn(ALL, ARQ_WASM_I32); /* added to the value below */
        cst(ref, 0x5a5a5a5a), get(ref, 1), cut(ref), get(ref, 0), cst(ref, c), cut(ref);
        op(ref, op1), cut(ref), op(ref, op2), cut(ref), op(ref, 0x6a), cut(ref);
        first = nfns;
        f = new_fn(ALL, ARQ_WASM_I32);
        cst(f, 0x5a5a5a5a), SWAPPED(f), op(f, 0x6a);
#undef SWAPPED
        group(idx(ref), first, vals, sizeof vals / sizeof vals[0], vals,
              sizeof vals / sizeof vals[0]);
      }
    }
  }
  check_groups(10, 10000);
}

/* Local moves, constant stores and two moves in a row (the rotation of SHA-256's
 * variables) keep their order: the second move reads what the first wrote. */
static void test_local_moves(void **state) {
  (void)state;
  nfns = ngroups = 0;
  fn_t *f = new_fn(ALL, ARQ_WASM_I32);
  /* l2 = a; a = b; b = l2; l2 = 5; return a * 1000 + b * 10 + l2 */
  get(f, 0), op_u(f, 0x21, 2), get(f, 1), op_u(f, 0x21, 0), get(f, 2), op_u(f, 0x21, 1);
  cst(f, 5), op_u(f, 0x21, 2);
  get(f, 0), cst(f, 1000), op(f, 0x6c), get(f, 1), cst(f, 10), op(f, 0x6c), op(f, 0x6a);
  get(f, 2), op(f, 0x6a);
  module_t mod = open_module();
  arq_wasm_instance_t *inst = mod.inst;
  outcome_t o = call(inst, 0, 3, 4);
  assert_null(o.r);
  assert_int_equal(o.v, 4035);
  assert_int_equal(o.fuel, fns[0].ninstr);
  close_module(&mod);
}

/* Eight moves in a row (compiled as two LOCAL_MOVE4) keep their order, each reading
 * what the ones before wrote; so do five and six (a MOVE4 and a move or a MOVE2). */
static void test_move_runs(void **state) {
  (void)state;
  static const uint8_t from[] = {0, 1, 2, 0, 1, 2, 0, 1}, to[] = {2, 0, 1, 2, 0, 1, 2, 0};
  nfns = ngroups = 0;
  for (unsigned n = 5; n <= 8; n++) {
    fn_t *f = new_fn(ALL, ARQ_WASM_I32);
    cst(f, 9), op_u(f, 0x21, 2), cut(f); /* l2 = 9, in a run of its own */
    for (unsigned k = 0; k < n; k++)
      get(f, from[k]), op_u(f, 0x21, to[k]);
    get(f, 0), cst(f, 100), op(f, 0x6c), get(f, 1), cst(f, 10), op(f, 0x6c), op(f, 0x6a);
    get(f, 2), op(f, 0x6a);
  }
  module_t mod = open_module();
  arq_wasm_instance_t *inst = mod.inst;
  for (unsigned i = 0; i < nfns; i++) {
    int32_t l[3] = {3, 4, 9};
    for (unsigned k = 0; k < 5 + i; k++)
      l[to[k]] = l[from[k]];
    outcome_t o = call(inst, i, 3, 4);
    assert_null(o.r);
    assert_int_equal(o.v, l[0] * 100 + l[1] * 10 + l[2]);
    assert_int_equal(o.fuel, fns[i].ninstr);
  }
  close_module(&mod);
}

/* A declared local set to zero before any control instruction runs nothing (it holds
 * zero already) unless the function set it before: after a move or a constant, after
 * a tee, and for a parameter, the zero must be stored. Fuel counts every instruction. */
static void test_prologue_zero_stores(void **state) {
  (void)state;
  nfns = ngroups = 0;
  fn_t *f = new_fn(ALL, ARQ_WASM_I32); /* l2 = 0; return l2 + a: the store is dropped */
  cst(f, 0), op_u(f, 0x21, 2), get(f, 2), get(f, 0), op(f, 0x6a);
  f = new_fn(ALL, ARQ_WASM_I32); /* l2 = 7; l2 = 0; return l2 */
  cst(f, 7), op_u(f, 0x21, 2), cst(f, 0), op_u(f, 0x21, 2), get(f, 2);
  f = new_fn(ALL, ARQ_WASM_I32); /* l2 = a (a move); l2 = 0; return l2 */
  get(f, 0), op_u(f, 0x21, 2), cst(f, 0), op_u(f, 0x21, 2), get(f, 2);
  f = new_fn(ALL, ARQ_WASM_I32); /* l2 = a + b (fused); l2 = 0; return l2 */
  get(f, 0), get(f, 1), op(f, 0x6a), op_u(f, 0x21, 2), cst(f, 0), op_u(f, 0x21, 2), get(f, 2);
  f = new_fn(ALL, ARQ_WASM_I32); /* tee l2 = b; drop; l2 = 0; return l2 */
  get(f, 1), op_u(f, 0x22, 2), op(f, 0x1a), cst(f, 0), op_u(f, 0x21, 2), get(f, 2);
  f = new_fn(ALL, ARQ_WASM_I32); /* a = 0; return a: a parameter */
  cst(f, 0), op_u(f, 0x21, 0), get(f, 0);
  f = new_fn(ALL, ARQ_WASM_I32); /* l2 = 9; block end; l2 = 0; return l2: after control */
  cst(f, 9), op_u(f, 0x21, 2), cut(f), cst(f, 0), op_u(f, 0x21, 2), get(f, 2);
  static const int32_t want[] = {5, 0, 0, 0, 0, 0, 0};
  module_t mod = open_module();
  arq_wasm_instance_t *inst = mod.inst;
  for (unsigned i = 0; i < nfns; i++) {
    outcome_t o = call(inst, i, 5, 6);
    assert_null(o.r);
    if (o.v != want[i])
      fail_msg("f%u: got %lld, want %d", i, (long long)o.v, want[i]);
    assert_int_equal(o.fuel, fns[i].ninstr);
  }
  close_module(&mod);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fused_forms_agree_with_separate_instructions),
      cmocka_unit_test(test_swapped_operands),
      cmocka_unit_test(test_local_moves),
      cmocka_unit_test(test_move_runs),
      cmocka_unit_test(test_prologue_zero_stores),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
