/*
 * internal.h — data shared by the stages of the Overseer engine. Not part of the API.
 *
 * DESIGN
 *   A module keeps a private copy of the binary; names and segment bytes point into
 *   it. Each defined function is compiled into an array of 8-byte cells: a handler
 *   address (from the interpreter's label table) followed by its pre-decoded
 *   immediates. Values on the run-time stack are untyped 8-byte slots; validation
 *   guarantees every handler finds the types it expects.
 *
 *   Internal opcode numbers reuse the WebAssembly opcode byte wherever an
 *   instruction maps one to one (loads, stores, numeric ops, locals, globals), and
 *   take unused byte values for the engine's own instructions (fuel, branches that
 *   drop values, bulk memory, saturating truncations).
 */
#ifndef ARQ_WASM_INTERNAL_H
#define ARQ_WASM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm.h"

/* Returns the result of `call` from the enclosing function when it is an error. */
#define TRY(call)                                                                        \
  do {                                                                                   \
    arq_wasm_result_t r_ = (call);                                                       \
    if (r_)                                                                              \
      return r_;                                                                         \
  } while (0)

#define ARQ__PAGE_SIZE 65536u
#define ARQ__MAX_PAGES 65536u
#define ARQ__CHUNK_SHIFT 12 /* dirty tracking granularity for reset: 4 KiB */
#define ARQ__ZEROED 4 /* locals a CALL_OWN zeroes without a loop (interp.c) */
#define ARQ__CONST_EXPR_DEPTH 64 /* values on the stack of a constant expression */

/* Engine-specific internal opcodes (see DESIGN). */
enum {
  ARQ__OP_UNREACHABLE = 0x00,
  ARQ__OP_FUEL = 0x01,        /* n */
  ARQ__OP_BR = 0x02,          /* target */
  ARQ__OP_BR_DROP = 0x03,     /* target, arity, dest slot */
  ARQ__OP_BR_IF = 0x04,       /* target */
  ARQ__OP_BR_IF_DROP = 0x05,  /* target, arity, dest slot */
  ARQ__OP_BR_UNLESS = 0x06,   /* target */
  ARQ__OP_MEMORY_INIT = 0x07, /* segment */
  ARQ__OP_DATA_DROP = 0x08,   /* segment */
  ARQ__OP_MEMORY_COPY = 0x09,
  ARQ__OP_MEMORY_FILL = 0x0a,
  ARQ__OP_RETURN1 = 0x0c,     /* return of a function with one result */
  /* a call of a function defined by the module: its index while compiling; after
   * arq__link_calls, the callee's entry (the cell after its opening FUEL cell), its
   * parameter and local counts (low and high 32 bits), the bytes its frame needs above
   * the arguments, and the fuel of its first run */
  ARQ__OP_CALL_OWN = 0x0d,
  ARQ__OP_BR_TABLE = 0x0e,    /* n, then n+1 x (target, arity, dest slot) */
  ARQ__OP_RETURN = 0x0f,        /* number of results */
  ARQ__OP_CALL = 0x10,          /* function index, of an imported function */
  ARQ__OP_CALL_INDIRECT = 0x11, /* type index */
  ARQ__OP_TABLE_INIT = 0x12,    /* element segment, table */
  ARQ__OP_ELEM_DROP = 0x13,     /* element segment */
  ARQ__OP_TABLE_COPY = 0x14,   /* destination table, source table */
  ARQ__OP_CALL_INDIRECT_T = 0x15, /* type index, table index (other than 0) */
  ARQ__OP_TABLE_GROW = 0x16,      /* table */
  ARQ__OP_TABLE_SIZE = 0x17,      /* table */
  ARQ__OP_TABLE_FILL = 0x18,      /* table */
  ARQ__OP_REF_FUNC = 0x19,        /* function index */
  ARQ__OP_TABLE_GET = 0x25,       /* table */
  ARQ__OP_TABLE_SET = 0x26,       /* table */
  ARQ__OP_DROP = 0x1a,
  ARQ__OP_SELECT = 0x1b,
  ARQ__OP_LOCAL_GET = 0x20, /* slot */
  ARQ__OP_LOCAL_SET = 0x21,
  ARQ__OP_LOCAL_TEE = 0x22,
  ARQ__OP_GLOBAL_GET = 0x23, /* index */
  ARQ__OP_GLOBAL_SET = 0x24,
  /* 0x28..0x3e loads and stores: offset */
  ARQ__OP_MEMORY_SIZE = 0x3f,
  ARQ__OP_MEMORY_GROW = 0x40,
  ARQ__OP_CONST = 0x41, /* 64-bit raw value */
  /* 0x45..0xc4 numeric, as in the binary format */
  ARQ__OP_TRUNC_SAT = 0xd0, /* 0xd0..0xd7 = 0xfc 0..7 */
  /* compare-and-branch, fused from an i32 test followed by br_if (or by if, with the
   * test negated): 0xe0 + (opcode - 0x45) for i32.eqz .. i32.ge_u; target */
  ARQ__OP_BR_IF_CMP = 0xe0,
  /* superinstructions, fused within a straight-line run */
  ARQ__OP_LOCAL_GET2 = 0xf0,  /* local.get a; local.get b: slot a, slot b */
  ARQ__OP_LOCAL_MOVE = 0xf2,  /* local.get a; local.set d: slot a, slot d */
  ARQ__OP_LOCAL_SET_CONST = 0xf3, /* any const c; local.set d: c, slot d */
  ARQ__OP_LOCAL_MOVE2 = 0xf4, /* two LOCAL_MOVE in a row: a, d, a2, d2 */
  ARQ__OP_BR_IF_LOCAL = 0xf5,     /* local.get a; br_if: a, target */
  ARQ__OP_BR_UNLESS_LOCAL = 0xf6, /* branch when local a is zero: a, target */
  ARQ__OP_LOCAL_MOVE4 = 0xf7, /* two LOCAL_MOVE2 in a row: a, d, ..., a4, d4 */
  /* register-style forms of the i32 binary operators, numbered ARQ__OP_FUSED(form, k)
   * where k is the operator's index (ARQ__I32_BINOPS: 0..9 the comparisons i32.eq ..
   * i32.ge_u, 10..24 i32.add .. i32.rotr). The operands come from locals or an
   * immediate instead of the value stack, and the result may go straight to a local. */
  ARQ__OP_FUSED_BASE = 0x100,
  /* loads whose address comes from locals: ARQ__OP_LOAD_FUSED(form, op - 0x28) */
  ARQ__OP_LOAD_BASE = 0x100 + 32 * 24, /* 24 forms (ARQ__FORMS) */
  /* stores whose value (and address) come from locals: ARQ__OP_STORE_FUSED(form, op - 0x36) */
  ARQ__OP_STORE_BASE = ARQ__OP_LOAD_BASE + 16 * 6,
  ARQ__OP_COUNT = ARQ__OP_STORE_BASE + 16 * 2, /* size of the label table */
};

/* Forms of the fused loads (0x28 i32.load .. 0x35 i64.load32_u). Immediates: */
enum {
  ARQ__LOAD_L,  /* local.get a; load: a, offset */
  ARQ__LOAD_LI, /* local.get a; i32.const c; i32.add; load: a, c, offset */
  ARQ__LOAD_LL, /* local.get a; local.get b; i32.add; load: a, b, offset */
  /* the same, the value loaded going to a local: ...; local.set d: the same, then d */
  ARQ__LOAD_L_SET,
  ARQ__LOAD_LI_SET,
  ARQ__LOAD_LL_SET,
};
/* Forms of the fused stores (0x36 i32.store .. 0x3e i64.store32). Immediates: */
enum {
  ARQ__STORE_SL, /* local.get v; store (address on the stack): v, offset */
  ARQ__STORE_LL, /* local.get a; local.get v; store: a, v, offset */
};
#define ARQ__OP_STORE_FUSED(form, i) (ARQ__OP_STORE_BASE + 16u * (unsigned)(form) + (unsigned)(i))
#define ARQ__OP_LOAD_FUSED(form, i) (ARQ__OP_LOAD_BASE + 16u * (unsigned)(form) + (unsigned)(i))

/* Forms of the fused i32 binary operators. In each name the first letters say where the
 * left and right operands come from (S: stack, L: local, I: immediate) and the suffix
 * where the result goes (nothing: pushed; SET: a local; BR: a branch taken when the
 * comparison holds, comparisons only; RET: returned). Immediates, in cell order: the local slots or the
 * constant of the operands, then the destination slot or the branch target. */
enum {
  ARQ__FORM_LL,     /* local.get a; local.get b; op: a, b */
  ARQ__FORM_SL,     /* local.get b; op: b */
  ARQ__FORM_SI,     /* i32.const c; op: c */
  ARQ__FORM_LI,     /* local.get a; i32.const c; op: a, c */
  ARQ__FORM_SS_SET, /* op; local.set d: d */
  ARQ__FORM_LL_SET, /* local.get a; local.get b; op; local.set d: a, b, d */
  ARQ__FORM_SL_SET, /* local.get b; op; local.set d: b, d */
  ARQ__FORM_SI_SET, /* i32.const c; op; local.set d: c, d */
  ARQ__FORM_LI_SET, /* local.get a; i32.const c; op; local.set d: a, c, d */
  ARQ__FORM_LL_BR,  /* local.get a; local.get b; cmp; br_if: a, b, target */
  ARQ__FORM_SL_BR,  /* local.get b; cmp; br_if: b, target */
  ARQ__FORM_SI_BR,  /* i32.const c; cmp; br_if: c, target */
  ARQ__FORM_LI_BR,  /* local.get a; i32.const c; cmp; br_if: a, c, target */
  /* the result added to, or xored into, the value below it on the stack (as in
   * sums of products and in hash functions): op; i32.add (i32.xor), same immediates */
  ARQ__FORM_LL_ADD,
  ARQ__FORM_SL_ADD,
  ARQ__FORM_LI_ADD,
  ARQ__FORM_LL_XOR,
  ARQ__FORM_SL_XOR,
  ARQ__FORM_LI_XOR,
  /* the result returned, by a function with one result (a return, or the function's
   * end): op; return, same immediates as the forms without it (SS: both on the stack) */
  ARQ__FORM_SS_RET,
  ARQ__FORM_LL_RET,
  ARQ__FORM_SL_RET,
  ARQ__FORM_SI_RET,
  ARQ__FORM_LI_RET,
  ARQ__FORMS
};
#define ARQ__I32_BINOPS 25
#define ARQ__OP_FUSED(form, k) (ARQ__OP_FUSED_BASE + 32u * (unsigned)(form) + (unsigned)(k))

typedef union arq__cell {
  const void *op;            /* a handler address */
  const union arq__cell *to; /* a branch target, once the function is compiled */
  uint64_t u64;
  uint32_t u32;
} arq__cell_t;

typedef struct {
  uint8_t kind; /* 0: constant, 1: global.get, 2: an extended expression at `code`,
                 * 3: ref.func of function `value` */
  uint8_t type;
  uint32_t global;
  uint64_t value;
  const uint8_t *code; /* kind 2: its first instruction, inside the module's copy */
} arq__const_expr_t;

typedef struct {
  uint32_t min, max; /* max == UINT32_MAX when absent */
  uint8_t type;      /* tables: ARQ_WASM_FUNCREF or ARQ_WASM_EXTERNREF */
} arq__limits_t;

typedef struct {
  const char *module, *name; /* NUL-terminated copies */
  uint32_t module_len, name_len;
  uint8_t kind;
  uint32_t type; /* functions */
  arq__limits_t limits;
  uint8_t global_type, global_mut;
} arq__import_t;

typedef struct {
  const char *name;
  uint32_t name_len;
  uint8_t kind;
  uint32_t index;
} arq__export_t;

typedef struct {
  uint8_t type, mut;
  arq__const_expr_t init;
} arq__global_t;

typedef struct {
  uint32_t type;
  const uint8_t *body; /* locals + code, inside the module's copy */
  uint32_t body_len;
  uint32_t nlocals;     /* declared locals, excluding parameters */
  uint32_t frame_slots; /* params + locals + deepest operand stack */
  arq__cell_t *code;
  uint32_t ncode;
  uint32_t *call_sites; /* the CALL_OWN cells of code, until arq__link_calls */
  uint32_t ncall_sites;
  bool declared; /* may be named by ref.func in code (exported, in a segment or initialiser) */
} arq__func_t;

/* An element of a segment: a function index, ARQ__ELEM_NULL, or ARQ__ELEM_GLOBAL | g for
 * global.get g (function and global indices stay below 2^31, ARQ_WASM_MAX_FUNCTIONS). */
#define ARQ__ELEM_NULL UINT32_MAX
#define ARQ__ELEM_GLOBAL 0x80000000u

typedef struct {
  uint8_t mode; /* 0 active, 1 passive, 2 declarative */
  uint8_t type; /* ARQ_WASM_FUNCREF or ARQ_WASM_EXTERNREF */
  uint32_t table; /* active: the table it initialises */
  arq__const_expr_t offset;
  uint32_t n;
  uint32_t *funcs;
} arq__elem_t;

typedef struct {
  uint8_t mode; /* 0 active, 1 passive */
  arq__const_expr_t offset;
  const uint8_t *bytes;
  uint32_t len;
} arq__data_t;

struct arq_wasm_module {
  uint8_t *bytes;
  size_t len;
  uint32_t ntypes;
  arq_wasm_functype_t *types;
  uint8_t *type_storage;
  uint32_t nimports;
  arq__import_t *imports;
  uint32_t nfuncs, nfunc_imports; /* nfuncs counts imports too */
  arq__func_t *funcs;             /* nfuncs entries; imported ones have no body */
  uint32_t ntables, ntable_imports; /* ntables counts imports too */
  arq__limits_t *tables;
  bool has_memory, memory_imported;
  arq__limits_t memory;
  uint32_t nglobals, nglobal_imports;
  arq__global_t *globals;
  uint32_t nexports;
  arq__export_t *exports;
  bool has_start;
  uint32_t start;
  uint32_t nelems;
  arq__elem_t *elems;
  uint32_t ndatas;
  arq__data_t *datas;
  bool has_data_count;
  uint32_t data_count;
  size_t code_cells; /* compiled so far, against ARQ_WASM_MAX_CODE_CELLS */
};

struct arq_wasm_func {
  /* what a call needs, copied here so that it touches one cache line */
  const union arq__cell *code; /* NULL for host functions */
  uint32_t nparams, nresults;
  uint32_t nlocals, frame_slots;
  const arq_wasm_functype_t *type;
  arq_wasm_instance_t *inst; /* NULL for host functions */
  const arq__func_t *decl;   /* NULL for host functions */
  arq_wasm_host_fn host;
  void *env;
  arq_wasm_functype_t own_type; /* host functions own their signature */
  uint8_t own_types[];
};

struct arq_wasm_memory {
  uint8_t *data;
  uint64_t size; /* bytes */
  uint32_t pages, max_pages;
  uint32_t limit_pages; /* page limit of the owning instance */
  uint8_t *dirty;       /* one byte per 4 KiB chunk of the capacity, or NULL */
  uint32_t dirty_cap;   /* chunks covered by `dirty` */
};

struct arq_wasm_table {
  arq_wasm_func_t **elems; /* externref tables hold the host's pointers, never read */
  uint32_t size, max;
  uint8_t type; /* ARQ_WASM_FUNCREF or ARQ_WASM_EXTERNREF */
};

struct arq_wasm_global {
  uint64_t val;
  uint8_t type, mut;
};

typedef struct {
  const arq__cell_t *ret_ip; /* the entry frame's is the cell that goes back to the host */
  uint64_t *fp;
  arq_wasm_instance_t *inst; /* the caller's */
} arq__frame_t;

struct arq_wasm_instance {
  const arq_wasm_module_t *module;
  arq_wasm_func_t **funcs; /* nfuncs, imported first */
  arq_wasm_func_t *own_funcs;
  arq_wasm_memory_t *memory;
  arq_wasm_memory_t *own_memory;
  arq_wasm_table_t *table;   /* tables[0], or NULL: call_indirect's common case */
  arq_wasm_table_t **tables; /* ntables, imported first */
  arq_wasm_table_t **own_tables; /* the module's own, ntables - ntable_imports */
  arq_wasm_global_t **globals;
  arq_wasm_global_t *own_globals;
  bool *data_dropped;
  bool *elem_dropped;
  arq_wasm_limits_t limits;
  uint64_t fuel;
  arq_wasm_refuel_fn refuel; /* asked for more when a charge finds too little; NULL: none */
  void *refuel_arg;
  /* execution state: the value stack and the frame stack */
  uint64_t *stack, *stack_end, *stack_top;
  arq__frame_t *frames;
  uint32_t depth;
  /* reset image */
  bool has_snapshot;
  uint8_t *mem_image;
  uint64_t mem_image_size;
  uint64_t *global_image;
  struct arq__table_image {
    arq_wasm_func_t **elems;
    uint32_t size;
  } *table_images; /* one per own table */
};

struct arq_wasm_call {
  arq_wasm_instance_t *inst;   /* the importing instance: its memory is the one exposed */
  arq_wasm_instance_t *runner; /* the instance whose stack and fuel run the call */
};

/* instance.c: a charge of `n` units found only `fuel` left: the fuel after asking the
 * runner's refuel hook (unchanged without one, or when it adds nothing). Out of line and
 * cold: only a charge that would trap gets here. */
uint64_t arq__refuel(arq_wasm_instance_t *runner, uint64_t fuel, uint64_t n);

/* decode.c */
arq_wasm_result_t arq__decode(arq_wasm_module_t *m, size_t *err_offset);
/* a byte reader bounded by `end` */
typedef struct {
  const uint8_t *p, *end;
} arq__reader_t;
arq_wasm_result_t arq__read_u32(arq__reader_t *r, uint32_t *out);
arq_wasm_result_t arq__read_i32(arq__reader_t *r, int32_t *out);
arq_wasm_result_t arq__read_i64(arq__reader_t *r, int64_t *out);
arq_wasm_result_t arq__read_s33(arq__reader_t *r, int64_t *out);
arq_wasm_result_t arq__read_byte(arq__reader_t *r, uint8_t *out);

/* compile.c: validates and compiles one defined function */
arq_wasm_result_t arq__compile_function(arq_wasm_module_t *m, uint32_t index, size_t *err_offset);
/* once every function is compiled: points each CALL_OWN at its callee */
void arq__link_calls(arq_wasm_module_t *m);

/* interp.c */
const void *const *arq__labels(void);
arq_wasm_result_t arq__invoke(arq_wasm_instance_t *inst, arq_wasm_func_t *f, uint64_t *slots);

/* memory.c */
arq_wasm_result_t arq__memory_init(arq_wasm_memory_t *mem, uint32_t pages, uint32_t max_pages,
                                   uint32_t limit_pages);
void arq__memory_release(arq_wasm_memory_t *mem);
/* returns the previous page count, or -1 */
int32_t arq__memory_grow(arq_wasm_memory_t *mem, uint32_t delta);
static inline void arq__memory_mark(arq_wasm_memory_t *mem, uint64_t addr, uint64_t len) {
  if (!mem->dirty || len == 0)
    return;
  uint64_t first = addr >> ARQ__CHUNK_SHIFT, last = (addr + len - 1) >> ARQ__CHUNK_SHIFT;
  for (uint64_t c = first; c <= last && c < mem->dirty_cap; c++)
    mem->dirty[c] = 1;
}

/* instance.c: the reference an element of segment `e` stands for in `inst` */
arq_wasm_func_t *arq__elem_value(const arq_wasm_instance_t *inst, uint32_t elem);

/* numeric.c */
float arq__f32_min(float a, float b);
float arq__f32_max(float a, float b);
double arq__f64_min(double a, double b);
double arq__f64_max(double a, double b);
float arq__f32_nearest(float a);
double arq__f64_nearest(double a);
/* trapping truncations: return NULL or a trap */
arq_wasm_result_t arq__trunc(uint8_t opcode, uint64_t in, uint64_t *out);
uint64_t arq__trunc_sat(uint8_t which, uint64_t in);

bool arq__functype_equal(const arq_wasm_functype_t *a, const arq_wasm_functype_t *b);

#endif
