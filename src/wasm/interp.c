/*
 * interp.c — the dispatch loop.
 *
 * DESIGN
 *   Direct threading: each code cell holds the address of its handler (a GNU
 *   labels-as-values extension, accepted by gcc and clang), so dispatch is one
 *   indirect jump. The same function hands out its label table to the compiler.
 *
 *   Registers of the machine: ip (current cell; branch targets are cell pointers),
 *   fp (first local), sp (next free slot), the current instance
 *   and its memory base/size (reloaded after anything that may move them: calls,
 *   returns, memory.grow, host calls).
 *
 *   WebAssembly calls never recurse in C: a call pushes a frame on the instance's
 *   frame stack (frp, the next free frame) and jumps. Limits: the frame stack (call
 *   depth) and the value stack (checked once per call against the callee's precomputed
 *   frame size), so no push needs its own check. The caller's arguments become the
 *   callee's first locals in place.
 *
 *   This is the one file where macros are dense: they keep the ~200 handlers short.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

static inline float f32_of(uint64_t s) {
  uint32_t u = (uint32_t)s;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline uint64_t of_f32(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static inline double f64_of(uint64_t s) {
  double d;
  memcpy(&d, &s, 8);
  return d;
}
static inline uint64_t of_f64(double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return u;
}

/* Moves label or result values down the stack (dst <= src). Counts are small, so an
 * inline loop beats a call to memmove. */
static inline void move_down(uint64_t *dst, const uint64_t *src, uint64_t n) {
  for (uint64_t i = 0; i < n; i++)
    dst[i] = src[i];
}

static arq_wasm_result_t run(arq_wasm_instance_t *top, arq_wasm_func_t *entry, uint64_t *slots,
                             const void *const **labels_out);

const void *const *arq__labels(void) {
  const void *const *l = NULL;
  run(NULL, NULL, NULL, &l);
  return l;
}

arq_wasm_result_t arq__invoke(arq_wasm_instance_t *inst, arq_wasm_func_t *f, uint64_t *slots) {
  if (f->host) {
    arq_wasm_call_t call = {inst, inst};
    uint64_t res[16];
    uint64_t *out = f->type->nresults <= 16 ? res : malloc(f->type->nresults * sizeof *out);
    if (!out)
      return arq_wasm_err_out_of_memory;
    arq_wasm_result_t r = f->host(&call, f->env, slots, out);
    if (!r)
      memcpy(slots, out, f->type->nresults * sizeof *slots);
    if (out != res)
      free(out);
    return r;
  }
  return run(inst, f, slots, NULL);
}

#define I32(x) ((uint32_t)(x))
#define S32(x) ((int32_t)(uint32_t)(x))
#define S64(x) ((int64_t)(x))
#define NEXT(n)                                                                          \
  do {                                                                                   \
    ip += (n);                                                                           \
    goto *ip->op;                                                                        \
  } while (0)
/* A branch, taken or not, lands on the FUEL cell opening the next straight-line run
 * (compile.c makes every branch target and every fall-through after a conditional
 * branch such a cell): the branch charges it as op_fuel would and skips it, which
 * saves a dispatch per branch. */
#define ENTER_RUN(to)                                                                    \
  do {                                                                                   \
    ip = (to);                                                                           \
    SPEND(ip[1].u64);                                                                    \
    ip += 2;                                                                             \
    goto *ip->op;                                                                        \
  } while (0)
#define TRAP(e)                                                                          \
  do {                                                                                   \
    result = (e);                                                                        \
    goto out;                                                                            \
  } while (0)
/* Charges `n` units. Short of fuel, the embedder's refuel hook (arq_wasm_set_refuel) is
 * asked for more before the charge traps; arq__refuel returns the fuel rather than taking
 * its address, so that `fuel` stays in a register on the path that has enough. */
#define SPEND(n)                                                                         \
  do {                                                                                   \
    uint64_t n_ = (n);                                                                   \
    if (__builtin_expect(fuel < n_, 0)) {                                                \
      fuel = arq__refuel(top, fuel, n_);                                                 \
      if (fuel < n_)                                                                     \
        TRAP(arq_wasm_err_trap_out_of_fuel);                                             \
    }                                                                                    \
    fuel -= n_;                                                                          \
  } while (0)
/* the optional per-byte charge of bulk memory instructions (see arq_wasm_limits_t) */
#define CHARGE_BULK(n)                                                                   \
  do {                                                                                   \
    if (bulk_unit)                                                                       \
      SPEND((n) / bulk_unit);                                                            \
  } while (0)
#define RELOAD_MEMORY()                                                                  \
  do {                                                                                   \
    mem = in->memory ? in->memory->data : NULL;                                          \
    memsize = in->memory ? in->memory->size : 0;                                         \
  } while (0)

/* The i32 binary operators that have register-style forms, by index k (ARQ__FORM_* in
 * internal.h): X(k, result of a and b, trap condition, trap). The plain handlers below
 * (op_46 .. op_78) compute the same expressions. */
#define I32_CMPS(X)                                                                      \
  X(0, I32(a) == I32(b), 0, NULL)                                                        \
  X(1, I32(a) != I32(b), 0, NULL)                                                        \
  X(2, S32(a) < S32(b), 0, NULL)                                                         \
  X(3, I32(a) < I32(b), 0, NULL)                                                         \
  X(4, S32(a) > S32(b), 0, NULL)                                                         \
  X(5, I32(a) > I32(b), 0, NULL)                                                         \
  X(6, S32(a) <= S32(b), 0, NULL)                                                        \
  X(7, I32(a) <= I32(b), 0, NULL)                                                        \
  X(8, S32(a) >= S32(b), 0, NULL)                                                        \
  X(9, I32(a) >= I32(b), 0, NULL)
#define I32_ARITH(X)                                                                     \
  X(10, I32(I32(a) + I32(b)), 0, NULL)                                                   \
  X(11, I32(I32(a) - I32(b)), 0, NULL)                                                   \
  X(12, I32(I32(a) * I32(b)), 0, NULL)                                                   \
  X(13, I32(S32(a) / S32(b)), I32(b) == 0 || (S32(a) == INT32_MIN && S32(b) == -1),      \
    I32(b) == 0 ? arq_wasm_err_trap_div_zero : arq_wasm_err_trap_overflow)               \
  X(14, I32(a) / I32(b), I32(b) == 0, arq_wasm_err_trap_div_zero)                        \
  X(15, S32(b) == -1 ? 0 : I32(S32(a) % S32(b)), I32(b) == 0, arq_wasm_err_trap_div_zero) \
  X(16, I32(a) % I32(b), I32(b) == 0, arq_wasm_err_trap_div_zero)                        \
  X(17, I32(a) & I32(b), 0, NULL)                                                        \
  X(18, I32(a) | I32(b), 0, NULL)                                                        \
  X(19, I32(a) ^ I32(b), 0, NULL)                                                        \
  X(20, I32(I32(a) << (b & 31)), 0, NULL)                                                \
  X(21, I32(S32(a) >> (b & 31)), 0, NULL)                                                \
  X(22, I32(a) >> (b & 31), 0, NULL)                                                     \
  X(23, I32((I32(a) << (b & 31)) | (I32(a) >> ((32 - (b & 31)) & 31))), 0, NULL)         \
  X(24, I32((I32(a) >> (b & 31)) | (I32(a) << ((32 - (b & 31)) & 31))), 0, NULL)

/* The loads, by opcode - 0x28: X(index, memory type, conversion to a slot). */
#define U32V(v) ((uint64_t)(uint32_t)(v))
#define U64V(v) ((uint64_t)(v))
#define LOADS(X)                                                                         \
  X(0, uint32_t, U32V)                                                                   \
  X(1, uint64_t, U64V)                                                                   \
  X(2, uint32_t, U32V)                                                                   \
  X(3, uint64_t, U64V)                                                                   \
  X(4, int8_t, U32V)                                                                     \
  X(5, uint8_t, U32V)                                                                    \
  X(6, int16_t, U32V)                                                                    \
  X(7, uint16_t, U32V)                                                                   \
  X(8, int8_t, U64V)                                                                     \
  X(9, uint8_t, U64V)                                                                    \
  X(10, int16_t, U64V)                                                                   \
  X(11, uint16_t, U64V)                                                                  \
  X(12, int32_t, U64V)                                                                   \
  X(13, uint32_t, U64V)

/* The stores, by opcode - 0x36: X(index, memory type). */
#define STORES(X)                                                                        \
  X(0, uint32_t)                                                                         \
  X(1, uint64_t)                                                                         \
  X(2, uint32_t)                                                                         \
  X(3, uint64_t)                                                                         \
  X(4, uint8_t)                                                                          \
  X(5, uint16_t)                                                                         \
  X(6, uint8_t)                                                                          \
  X(7, uint16_t)                                                                         \
  X(8, uint32_t)

static arq_wasm_result_t run(arq_wasm_instance_t *top, arq_wasm_func_t *entry, uint64_t *slots,
                             const void *const **labels_out) {
/* unlisted opcodes default to op_illegal, then listed ones override that default */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Winitializer-overrides"
#else
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#endif
  static const void *const labels[ARQ__OP_COUNT] = {
      [0 ... ARQ__OP_COUNT - 1] = &&op_illegal,
      [ARQ__OP_UNREACHABLE] = &&op_unreachable,
      [ARQ__OP_FUEL] = &&op_fuel,
      [ARQ__OP_BR] = &&op_br,
      [ARQ__OP_BR_DROP] = &&op_br_drop,
      [ARQ__OP_BR_IF] = &&op_br_if,
      [ARQ__OP_BR_IF_DROP] = &&op_br_if_drop,
      [ARQ__OP_BR_UNLESS] = &&op_br_unless,
      [ARQ__OP_MEMORY_INIT] = &&op_memory_init,
      [ARQ__OP_DATA_DROP] = &&op_data_drop,
      [ARQ__OP_MEMORY_COPY] = &&op_memory_copy,
      [ARQ__OP_MEMORY_FILL] = &&op_memory_fill,
      [ARQ__OP_BR_TABLE] = &&op_br_table,
      [ARQ__OP_RETURN] = &&op_return,
      [ARQ__OP_RETURN1] = &&op_return1,
      [ARQ__OP_CALL] = &&op_call,
      [ARQ__OP_CALL_OWN] = &&op_call_own,
      [ARQ__OP_CALL_INDIRECT] = &&op_call_indirect,
      [ARQ__OP_CALL_INDIRECT_T] = &&op_call_indirect_t,
      [ARQ__OP_TABLE_GET] = &&op_table_get,
      [ARQ__OP_TABLE_SET] = &&op_table_set,
      [ARQ__OP_TABLE_GROW] = &&op_table_grow,
      [ARQ__OP_TABLE_SIZE] = &&op_table_size,
      [ARQ__OP_TABLE_FILL] = &&op_table_fill,
      [ARQ__OP_REF_FUNC] = &&op_ref_func,
      [ARQ__OP_TABLE_INIT] = &&op_table_init,
      [ARQ__OP_ELEM_DROP] = &&op_elem_drop,
      [ARQ__OP_TABLE_COPY] = &&op_table_copy,
      [ARQ__OP_DROP] = &&op_drop,
      [ARQ__OP_SELECT] = &&op_select,
      [0x20] = &&op_local_get,
      [0x21] = &&op_local_set,
      [0x22] = &&op_local_tee,
      [0x23] = &&op_global_get,
      [0x24] = &&op_global_set,
      [0x28] = &&op_28, [0x29] = &&op_29, [0x2a] = &&op_2a, [0x2b] = &&op_2b,
      [0x2c] = &&op_2c, [0x2d] = &&op_2d, [0x2e] = &&op_2e, [0x2f] = &&op_2f,
      [0x30] = &&op_30, [0x31] = &&op_31, [0x32] = &&op_32, [0x33] = &&op_33,
      [0x34] = &&op_34, [0x35] = &&op_35, [0x36] = &&op_36, [0x37] = &&op_37,
      [0x38] = &&op_38, [0x39] = &&op_39, [0x3a] = &&op_3a, [0x3b] = &&op_3b,
      [0x3c] = &&op_3c, [0x3d] = &&op_3d, [0x3e] = &&op_3e,
      [0x3f] = &&op_memory_size,
      [0x40] = &&op_memory_grow,
      [ARQ__OP_CONST] = &&op_const,
      [0x45] = &&op_45, [0x46] = &&op_46, [0x47] = &&op_47, [0x48] = &&op_48,
      [0x49] = &&op_49, [0x4a] = &&op_4a, [0x4b] = &&op_4b, [0x4c] = &&op_4c,
      [0x4d] = &&op_4d, [0x4e] = &&op_4e, [0x4f] = &&op_4f, [0x50] = &&op_50,
      [0x51] = &&op_51, [0x52] = &&op_52, [0x53] = &&op_53, [0x54] = &&op_54,
      [0x55] = &&op_55, [0x56] = &&op_56, [0x57] = &&op_57, [0x58] = &&op_58,
      [0x59] = &&op_59, [0x5a] = &&op_5a, [0x5b] = &&op_5b, [0x5c] = &&op_5c,
      [0x5d] = &&op_5d, [0x5e] = &&op_5e, [0x5f] = &&op_5f, [0x60] = &&op_60,
      [0x61] = &&op_61, [0x62] = &&op_62, [0x63] = &&op_63, [0x64] = &&op_64,
      [0x65] = &&op_65, [0x66] = &&op_66, [0x67] = &&op_67, [0x68] = &&op_68,
      [0x69] = &&op_69, [0x6a] = &&op_6a, [0x6b] = &&op_6b, [0x6c] = &&op_6c,
      [0x6d] = &&op_6d, [0x6e] = &&op_6e, [0x6f] = &&op_6f, [0x70] = &&op_70,
      [0x71] = &&op_71, [0x72] = &&op_72, [0x73] = &&op_73, [0x74] = &&op_74,
      [0x75] = &&op_75, [0x76] = &&op_76, [0x77] = &&op_77, [0x78] = &&op_78,
      [0x79] = &&op_79, [0x7a] = &&op_7a, [0x7b] = &&op_7b, [0x7c] = &&op_7c,
      [0x7d] = &&op_7d, [0x7e] = &&op_7e, [0x7f] = &&op_7f, [0x80] = &&op_80,
      [0x81] = &&op_81, [0x82] = &&op_82, [0x83] = &&op_83, [0x84] = &&op_84,
      [0x85] = &&op_85, [0x86] = &&op_86, [0x87] = &&op_87, [0x88] = &&op_88,
      [0x89] = &&op_89, [0x8a] = &&op_8a, [0x8b] = &&op_8b, [0x8c] = &&op_8c,
      [0x8d] = &&op_8d, [0x8e] = &&op_8e, [0x8f] = &&op_8f, [0x90] = &&op_90,
      [0x91] = &&op_91, [0x92] = &&op_92, [0x93] = &&op_93, [0x94] = &&op_94,
      [0x95] = &&op_95, [0x96] = &&op_96, [0x97] = &&op_97, [0x98] = &&op_98,
      [0x99] = &&op_99, [0x9a] = &&op_9a, [0x9b] = &&op_9b, [0x9c] = &&op_9c,
      [0x9d] = &&op_9d, [0x9e] = &&op_9e, [0x9f] = &&op_9f, [0xa0] = &&op_a0,
      [0xa1] = &&op_a1, [0xa2] = &&op_a2, [0xa3] = &&op_a3, [0xa4] = &&op_a4,
      [0xa5] = &&op_a5, [0xa6] = &&op_a6, [0xa7] = &&op_a7, [0xa8] = &&op_a8,
      [0xa9] = &&op_a9, [0xaa] = &&op_aa, [0xab] = &&op_ab, [0xac] = &&op_ac,
      [0xad] = &&op_ad, [0xae] = &&op_ae, [0xaf] = &&op_af, [0xb0] = &&op_b0,
      [0xb1] = &&op_b1, [0xb2] = &&op_b2, [0xb3] = &&op_b3, [0xb4] = &&op_b4,
      [0xb5] = &&op_b5, [0xb6] = &&op_b6, [0xb7] = &&op_b7, [0xb8] = &&op_b8,
      [0xb9] = &&op_b9, [0xba] = &&op_ba, [0xbb] = &&op_bb, [0xbc] = &&op_nop,
      [0xbd] = &&op_nop, [0xbe] = &&op_nop, [0xbf] = &&op_nop, [0xc0] = &&op_c0,
      [0xc1] = &&op_c1, [0xc2] = &&op_c2, [0xc3] = &&op_c3, [0xc4] = &&op_c4,
      [0xd0] = &&op_sat0, [0xd1] = &&op_sat1, [0xd2] = &&op_sat2, [0xd3] = &&op_sat3,
      [0xd4] = &&op_sat4, [0xd5] = &&op_sat5, [0xd6] = &&op_sat6, [0xd7] = &&op_sat7,
      [0xe0] = &&op_br_eqz, [0xe1] = &&op_br_eq, [0xe2] = &&op_br_ne, [0xe3] = &&op_br_lt_s,
      [0xe4] = &&op_br_lt_u, [0xe5] = &&op_br_gt_s, [0xe6] = &&op_br_gt_u,
      [0xe7] = &&op_br_le_s, [0xe8] = &&op_br_le_u, [0xe9] = &&op_br_ge_s,
      [0xea] = &&op_br_ge_u,
      [0xf0] = &&op_local_get2,
      [ARQ__OP_LOCAL_MOVE] = &&op_local_move,
      [ARQ__OP_LOCAL_SET_CONST] = &&op_local_set_const,
      [ARQ__OP_LOCAL_MOVE2] = &&op_local_move2,
      [ARQ__OP_LOCAL_MOVE4] = &&op_local_move4,
#define FUSED_LABELS(k, expr, check, err)                                                \
  [ARQ__OP_FUSED(ARQ__FORM_LL, k)] = &&op_ll_##k,                                        \
  [ARQ__OP_FUSED(ARQ__FORM_SL, k)] = &&op_sl_##k,                                        \
  [ARQ__OP_FUSED(ARQ__FORM_SI, k)] = &&op_si_##k,                                        \
  [ARQ__OP_FUSED(ARQ__FORM_LI, k)] = &&op_li_##k,                                        \
  [ARQ__OP_FUSED(ARQ__FORM_LI_SET, k)] = &&op_li_set_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_SS_SET, k)] = &&op_ss_set_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_LL_SET, k)] = &&op_ll_set_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_SL_SET, k)] = &&op_sl_set_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_SI_SET, k)] = &&op_si_set_##k,
#define FUSED_BR_LABELS(k, expr, check, err)                                             \
  [ARQ__OP_FUSED(ARQ__FORM_LL_BR, k)] = &&op_ll_br_##k,                                  \
  [ARQ__OP_FUSED(ARQ__FORM_SL_BR, k)] = &&op_sl_br_##k,                                  \
  [ARQ__OP_FUSED(ARQ__FORM_SI_BR, k)] = &&op_si_br_##k,                                  \
  [ARQ__OP_FUSED(ARQ__FORM_LI_BR, k)] = &&op_li_br_##k,
#define FUSED_ACC_LABELS(k, expr, check, err)                                            \
  [ARQ__OP_FUSED(ARQ__FORM_LL_ADD, k)] = &&op_ll_add_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_SL_ADD, k)] = &&op_sl_add_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_LI_ADD, k)] = &&op_li_add_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_LL_XOR, k)] = &&op_ll_xor_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_SL_XOR, k)] = &&op_sl_xor_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_LI_XOR, k)] = &&op_li_xor_##k,
#define FUSED_RET_LABELS(k, expr, check, err)                                            \
  [ARQ__OP_FUSED(ARQ__FORM_SS_RET, k)] = &&op_ss_ret_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_LL_RET, k)] = &&op_ll_ret_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_SL_RET, k)] = &&op_sl_ret_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_SI_RET, k)] = &&op_si_ret_##k,                                \
  [ARQ__OP_FUSED(ARQ__FORM_LI_RET, k)] = &&op_li_ret_##k,
      I32_CMPS(FUSED_LABELS) I32_ARITH(FUSED_LABELS) I32_CMPS(FUSED_BR_LABELS)
      I32_CMPS(FUSED_ACC_LABELS) I32_ARITH(FUSED_ACC_LABELS)
      I32_CMPS(FUSED_RET_LABELS) I32_ARITH(FUSED_RET_LABELS)
#define LOAD_LABELS(i, T, conv)                                                          \
  [ARQ__OP_LOAD_FUSED(ARQ__LOAD_L, i)] = &&op_load_l_##i,                                \
  [ARQ__OP_LOAD_FUSED(ARQ__LOAD_LI, i)] = &&op_load_li_##i,                              \
  [ARQ__OP_LOAD_FUSED(ARQ__LOAD_LL, i)] = &&op_load_ll_##i,                              \
  [ARQ__OP_LOAD_FUSED(ARQ__LOAD_L_SET, i)] = &&op_load_l_set_##i,                        \
  [ARQ__OP_LOAD_FUSED(ARQ__LOAD_LI_SET, i)] = &&op_load_li_set_##i,                      \
  [ARQ__OP_LOAD_FUSED(ARQ__LOAD_LL_SET, i)] = &&op_load_ll_set_##i,
      LOADS(LOAD_LABELS)
#define STORE_LABELS(i, T)                                                               \
  [ARQ__OP_STORE_FUSED(ARQ__STORE_SL, i)] = &&op_store_sl_##i,                           \
  [ARQ__OP_STORE_FUSED(ARQ__STORE_LL, i)] = &&op_store_ll_##i,
      STORES(STORE_LABELS)
      [ARQ__OP_BR_IF_LOCAL] = &&op_br_if_local,
      [ARQ__OP_BR_UNLESS_LOCAL] = &&op_br_unless_local,
  };
#if defined(__clang__)
#pragma clang diagnostic pop
#else
#pragma GCC diagnostic pop
#endif
  if (labels_out) {
    *labels_out = labels;
    return NULL;
  }

  /* The return address of the entry frame: its handler hands the results to the host,
   * so that a return needs no test for the last frame. */
  static const arq__cell_t exit_cell = {.op = &&op_exit};

  arq_wasm_result_t result = NULL;
  arq_wasm_instance_t *in = top;
  arq_wasm_func_t *callee;
  const arq__cell_t *ip = &exit_cell;
  uint64_t *fp = NULL, *sp = top->stack_top;
  uint64_t *const stack_end = top->stack_end;
  uint64_t *const saved_top = top->stack_top;
  const uint32_t base_depth = top->depth;
  /* the next free frame, and the end of the frame stack (the call-depth limit) */
  arq__frame_t *frp = top->frames + top->depth;
  arq__frame_t *const frames_end = top->frames + top->limits.max_call_depth;
  uint64_t fuel = top->fuel;
  const uint64_t bulk_unit = top->limits.bulk_bytes_per_fuel;
  uint8_t *mem = NULL;
  uint64_t memsize = 0;
  uint32_t nparams = entry->type->nparams;

  if ((size_t)(stack_end - sp) < nparams + (size_t)entry->type->nresults)
    return arq_wasm_err_trap_stack_exhausted;
  memcpy(sp, slots, nparams * sizeof *sp);
  sp += nparams;
  RELOAD_MEMORY();
  /* the first frame pushed returns to exit_cell: the way back to the host */
  callee = entry;
  goto do_call;

op_illegal:
  TRAP(arq_wasm_err_illegal_opcode);

op_unreachable:
  TRAP(arq_wasm_err_trap_unreachable);

op_nop: /* reinterpretations: the slot already holds the bits */
  NEXT(1);

op_fuel:
  SPEND(ip[1].u64);
  NEXT(2);

op_br:
  ENTER_RUN(ip[1].to);

op_br_drop: {
  uint64_t n = ip[2].u64;
  uint64_t *dst = fp + ip[3].u64;
  move_down(dst, sp - n, n);
  sp = dst + n;
  ENTER_RUN(ip[1].to);
}

op_br_if:
  if (I32(*--sp)) {
    ENTER_RUN(ip[1].to);
  }
  ENTER_RUN(ip + 2);

op_br_if_drop:
  if (I32(*--sp))
    goto op_br_drop;
  ENTER_RUN(ip + 4);

op_br_unless:
  if (!I32(*--sp)) {
    ENTER_RUN(ip[1].to);
  }
  ENTER_RUN(ip + 2);

op_br_if_local:
  if (I32(fp[ip[1].u64])) {
    ENTER_RUN(ip[2].to);
  }
  ENTER_RUN(ip + 3);

op_br_unless_local:
  if (!I32(fp[ip[1].u64])) {
    ENTER_RUN(ip[2].to);
  }
  ENTER_RUN(ip + 3);

op_br_eqz:
  if (!I32(*--sp)) {
    ENTER_RUN(ip[1].to);
  }
  ENTER_RUN(ip + 2);

#define BR_CMP(label, T, cmp)                                                            \
  label : {                                                                              \
    T b_ = (T)sp[-1], a_ = (T)sp[-2];                                                    \
    sp -= 2;                                                                             \
    if (a_ cmp b_) {                                                                     \
      ENTER_RUN(ip[1].to);                                                               \
    }                                                                                    \
    ENTER_RUN(ip + 2);                                                                   \
  }
  BR_CMP(op_br_eq, uint32_t, ==)
  BR_CMP(op_br_ne, uint32_t, !=)
  BR_CMP(op_br_lt_s, int32_t, <)
  BR_CMP(op_br_lt_u, uint32_t, <)
  BR_CMP(op_br_gt_s, int32_t, >)
  BR_CMP(op_br_gt_u, uint32_t, >)
  BR_CMP(op_br_le_s, int32_t, <=)
  BR_CMP(op_br_le_u, uint32_t, <=)
  BR_CMP(op_br_ge_s, int32_t, >=)
  BR_CMP(op_br_ge_u, uint32_t, >=)

op_br_table: {
  uint64_t n = ip[1].u64;
  uint64_t i = I32(*--sp);
  if (i > n)
    i = n;
  const arq__cell_t *e = ip + 2 + 3 * i;
  uint64_t arity = e[1].u64;
  uint64_t *dst = fp + e[2].u64;
  if (dst != sp - arity) {
    move_down(dst, sp - arity, arity);
    sp = dst + arity;
  }
  ENTER_RUN(e[0].to);
}

  /* The results, moved down to the callee's first slot, are where the caller expects
   * them; then the caller's frame is restored. Back in the same instance, mem and
   * memsize are current: memory.grow reloads them, and so does every change of instance
   * (this one included) and every host call. */
#define RETURN_TO_CALLER()                                                               \
  do {                                                                                   \
    const arq__frame_t *fr_ = --frp;                                                     \
    ip = fr_->ret_ip;                                                                    \
    fp = fr_->fp;                                                                        \
    if (__builtin_expect(in != fr_->inst, 0)) {                                          \
      in = fr_->inst;                                                                    \
      RELOAD_MEMORY();                                                                   \
    }                                                                                    \
    goto *ip->op;                                                                        \
  } while (0)
op_return1: /* the common case, without the loop */
  fp[0] = sp[-1];
  sp = fp + 1;
  RETURN_TO_CALLER();

op_return: {
  uint64_t n = ip[1].u64;
  move_down(fp, sp - n, n);
  sp = fp + n;
  RETURN_TO_CALLER();
}

op_exit: /* the entry function returned: its results are the top of the stack */
  memcpy(slots, sp - entry->nresults, entry->nresults * sizeof *sp);
  goto out;

op_call:
  callee = in->funcs[ip[1].u64];
  ip += 2;
  goto do_call;

  /* Enters callee, a WebAssembly function, with its arguments on top of the stack: they
   * become its first locals in place. The frame keeps the caller's instance; a call
   * within one instance leaves the memory where it was, and a callee of the module
   * itself (other_instance 0) is always in the caller's instance. */
#define ENTER_FUNCTION(other_instance)                                                   \
  do {                                                                                   \
    uint64_t *args_ = sp - callee->nparams;                                              \
    /* the call-depth and value-stack limits, tested with one branch; the frame's end   \
     * as an address (no pointer past the stack is formed) */                           \
    if (__builtin_expect((frp >= frames_end) |                                           \
                             ((uintptr_t)args_ + callee->frame_slots * sizeof *sp >       \
                              (uintptr_t)stack_end),                                     \
                         0))                                                             \
      TRAP(arq_wasm_err_trap_stack_exhausted);                                           \
    *frp++ = (arq__frame_t){ip, fp, in};                                                 \
    fp = args_;                                                                          \
    for (uint32_t k_ = callee->nlocals; k_; k_--) {                                      \
      *sp++ = 0;                                                                         \
      /* an opaque use of sp: keeps the compiler from turning this loop into a call to   \
       * memset, which costs more than the loop for the few locals of a function */      \
      __asm__("" : "+r"(sp));                                                            \
    }                                                                                    \
    ip = callee->code;                                                                   \
    if ((other_instance) && in != callee->inst) {                                        \
      in = callee->inst;                                                                 \
      RELOAD_MEMORY();                                                                   \
    }                                                                                    \
    /* A function's code always opens with the FUEL cell of its first run (compile.c): \
     * charged here as op_fuel would, which saves a dispatch per call. Branches to     \
     * that cell (a loop at the very start) still run it. */                             \
    SPEND(ip[1].u64);                                                                    \
    ip += 2;                                                                             \
    goto *ip->op;                                                                        \
  } while (0)

  /* A function of the module itself: never a host function, always in this instance,
   * and the call cell has what the callee needs (compile.c's arq__link_calls), so
   * entering it waits on no load but the cell's own. */
op_call_own: {
  uint64_t counts = ip[2].u64; /* parameters, and locals above them */
  uint64_t *args = sp - (uint32_t)counts;
  if (__builtin_expect((frp >= frames_end) |
                           ((uintptr_t)sp + ip[3].u64 > (uintptr_t)stack_end),
                       0))
    TRAP(arq_wasm_err_trap_stack_exhausted);
  *frp++ = (arq__frame_t){ip + 5, fp, in};
  fp = args;
  /* the frame has room for ARQ__ZEROED slots (arq__link_calls): most functions have
   * no more locals than that, zeroed without a loop */
  uint32_t nlocals = (uint32_t)(counts >> 32);
  for (int k = 0; k < ARQ__ZEROED; k++)
    sp[k] = 0;
  for (uint32_t k = ARQ__ZEROED; __builtin_expect(k < nlocals, 0); k++) {
    sp[k] = 0;
    __asm__("" : "+r"(sp)); /* as in ENTER_FUNCTION */
  }
  sp += nlocals;
  if (__builtin_expect(fuel < ip[4].u64, 0))
    goto call_own_refuel;
  fuel -= ip[4].u64;
  ip = ip[1].to;
  goto *ip->op;
}

  /* SPEND's slow path for op_call_own, apart: inlined there, its call of arq__refuel costs
   * the hot path of every call an instruction (fib: 1%). */
call_own_refuel:
  SPEND(ip[4].u64);
  ip = ip[1].to;
  goto *ip->op;

op_call_indirect: {
  uint32_t i = I32(*--sp);
  arq_wasm_table_t *t = in->table;
  if (i >= t->size)
    TRAP(arq_wasm_err_trap_undefined_element);
  callee = t->elems[i];
  if (!callee)
    TRAP(arq_wasm_err_trap_uninitialized_element);
  if (!arq__functype_equal(callee->type, &in->module->types[ip[1].u64]))
    TRAP(arq_wasm_err_trap_indirect_type);
  ip += 2;
  goto do_call;
}

op_call_indirect_t: { /* the same on a table other than the first */
  uint32_t i = I32(*--sp);
  arq_wasm_table_t *t = in->tables[ip[2].u64];
  if (i >= t->size)
    TRAP(arq_wasm_err_trap_undefined_element);
  callee = t->elems[i];
  if (!callee)
    TRAP(arq_wasm_err_trap_uninitialized_element);
  if (!arq__functype_equal(callee->type, &in->module->types[ip[1].u64]))
    TRAP(arq_wasm_err_trap_indirect_type);
  ip += 3;
  goto do_call;
}

do_call: {
  uint64_t *args = sp - callee->nparams;
  if (!callee->code) { /* a host function */
    uint32_t nres = callee->nresults;
    if ((size_t)(stack_end - sp) < nres)
      TRAP(arq_wasm_err_trap_stack_exhausted);
    arq_wasm_call_t call = {in, top};
    /* expose the live state so the host may charge fuel or re-enter safely */
    top->fuel = fuel;
    top->stack_top = sp + nres;
    top->depth = (uint32_t)(frp - top->frames);
    arq_wasm_result_t r = callee->host(&call, callee->env, args, sp);
    top->stack_top = saved_top;
    fuel = top->fuel;
    if (r)
      TRAP(r);
    move_down(args, sp, nres);
    sp = args + nres;
    RELOAD_MEMORY();
    goto *ip->op;
  }
  ENTER_FUNCTION(1);
}

op_drop:
  sp--;
  NEXT(1);

op_select: {
  uint32_t c = I32(sp[-1]);
  sp -= 2;
  if (!c)
    sp[-1] = sp[0];
  NEXT(1);
}

op_local_get:
  *sp++ = fp[ip[1].u64];
  NEXT(2);
op_local_get2:
  sp[0] = fp[ip[1].u64];
  sp[1] = fp[ip[2].u64];
  sp += 2;
  NEXT(3);

  /* Register-style i32 binary operators (ARQ__FORM_* in internal.h): the same
   * expression with its operands a and b taken from locals, the stack or an immediate,
   * and its result pushed, stored in a local or tested by a branch. */
#define FUSED_HANDLERS(k, expr, check, err)                                              \
  op_ll_##k : {                                                                          \
    uint64_t a = fp[ip[1].u64], b = fp[ip[2].u64];                                       \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    *sp++ = (expr);                                                                      \
    NEXT(3);                                                                             \
  }                                                                                      \
  op_sl_##k : {                                                                          \
    uint64_t a = sp[-1], b = fp[ip[1].u64];                                              \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    sp[-1] = (expr);                                                                     \
    NEXT(2);                                                                             \
  }                                                                                      \
  op_si_##k : {                                                                          \
    uint64_t a = sp[-1], b = ip[1].u64;                                                  \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    sp[-1] = (expr);                                                                     \
    NEXT(2);                                                                             \
  }                                                                                      \
  op_li_##k : {                                                                          \
    uint64_t a = fp[ip[1].u64], b = ip[2].u64;                                           \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    *sp++ = (expr);                                                                      \
    NEXT(3);                                                                             \
  }                                                                                      \
  op_li_set_##k : {                                                                      \
    uint64_t a = fp[ip[1].u64], b = ip[2].u64;                                           \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    fp[ip[3].u64] = (expr);                                                              \
    NEXT(4);                                                                             \
  }                                                                                      \
  op_ss_set_##k : {                                                                      \
    uint64_t a = sp[-2], b = sp[-1];                                                     \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    sp -= 2;                                                                             \
    fp[ip[1].u64] = (expr);                                                              \
    NEXT(2);                                                                             \
  }                                                                                      \
  op_ll_set_##k : {                                                                      \
    uint64_t a = fp[ip[1].u64], b = fp[ip[2].u64];                                       \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    fp[ip[3].u64] = (expr);                                                              \
    NEXT(4);                                                                             \
  }                                                                                      \
  op_sl_set_##k : {                                                                      \
    uint64_t a = sp[-1], b = fp[ip[1].u64];                                              \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    sp--;                                                                                \
    fp[ip[2].u64] = (expr);                                                              \
    NEXT(3);                                                                             \
  }                                                                                      \
  op_si_set_##k : {                                                                      \
    uint64_t a = sp[-1], b = ip[1].u64;                                                  \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    sp--;                                                                                \
    fp[ip[2].u64] = (expr);                                                              \
    NEXT(3);                                                                             \
  }
#define FUSED_BR_HANDLERS(k, expr, check, err)                                           \
  op_ll_br_##k : {                                                                       \
    uint64_t a = fp[ip[1].u64], b = fp[ip[2].u64];                                       \
    if (expr) {                                                                          \
      ENTER_RUN(ip[3].to);                                                               \
    }                                                                                    \
    ENTER_RUN(ip + 4);                                                                   \
  }                                                                                      \
  op_li_br_##k : {                                                                       \
    uint64_t a = fp[ip[1].u64], b = ip[2].u64;                                           \
    if (expr) {                                                                          \
      ENTER_RUN(ip[3].to);                                                               \
    }                                                                                    \
    ENTER_RUN(ip + 4);                                                                   \
  }                                                                                      \
  op_sl_br_##k : {                                                                       \
    uint64_t a = sp[-1], b = fp[ip[1].u64];                                              \
    sp--;                                                                                \
    if (expr) {                                                                          \
      ENTER_RUN(ip[2].to);                                                               \
    }                                                                                    \
    ENTER_RUN(ip + 3);                                                                   \
  }                                                                                      \
  op_si_br_##k : {                                                                       \
    uint64_t a = sp[-1], b = ip[1].u64;                                                  \
    sp--;                                                                                \
    if (expr) {                                                                          \
      ENTER_RUN(ip[2].to);                                                               \
    }                                                                                    \
    ENTER_RUN(ip + 3);                                                                   \
  }
  /* ... and with the result combined into the value below it, at sp[below] */
#define ACC(name, A, B, acc, below, n, expr, check, err)                                 \
  name : {                                                                               \
    uint64_t *x_ = &sp[below], a = (A), b = (B);                                         \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    *x_ = I32(I32(*x_) acc I32(expr));                                                   \
    sp = x_ + 1;                                                                         \
    NEXT(n);                                                                             \
  }
#define FUSED_ACC_HANDLERS(k, expr, check, err)                                          \
  ACC(op_ll_add_##k, fp[ip[1].u64], fp[ip[2].u64], +, -1, 3, expr, check, err)           \
  ACC(op_sl_add_##k, sp[-1], fp[ip[1].u64], +, -2, 2, expr, check, err)                  \
  ACC(op_li_add_##k, fp[ip[1].u64], ip[2].u64, +, -1, 3, expr, check, err)               \
  ACC(op_ll_xor_##k, fp[ip[1].u64], fp[ip[2].u64], ^, -1, 3, expr, check, err)           \
  ACC(op_sl_xor_##k, sp[-1], fp[ip[1].u64], ^, -2, 2, expr, check, err)                  \
  ACC(op_li_xor_##k, fp[ip[1].u64], ip[2].u64, ^, -1, 3, expr, check, err)
  I32_CMPS(FUSED_HANDLERS)
  I32_ARITH(FUSED_HANDLERS)
  I32_CMPS(FUSED_BR_HANDLERS)
  I32_CMPS(FUSED_ACC_HANDLERS)
  I32_ARITH(FUSED_ACC_HANDLERS)
  /* ... and with the result returned, as op_return1 would */
#define RET(name, A, B, expr, check, err)                                                \
  name : {                                                                               \
    uint64_t a = (A), b = (B);                                                           \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    fp[0] = (expr);                                                                      \
    sp = fp + 1;                                                                         \
    RETURN_TO_CALLER();                                                                  \
  }
#define FUSED_RET_HANDLERS(k, expr, check, err)                                          \
  RET(op_ss_ret_##k, sp[-2], sp[-1], expr, check, err)                                   \
  RET(op_ll_ret_##k, fp[ip[1].u64], fp[ip[2].u64], expr, check, err)                     \
  RET(op_sl_ret_##k, sp[-1], fp[ip[1].u64], expr, check, err)                            \
  RET(op_si_ret_##k, sp[-1], ip[1].u64, expr, check, err)                                \
  RET(op_li_ret_##k, fp[ip[1].u64], ip[2].u64, expr, check, err)
  I32_CMPS(FUSED_RET_HANDLERS)
  I32_ARITH(FUSED_RET_HANDLERS)
op_local_set:
  fp[ip[1].u64] = *--sp;
  NEXT(2);
op_local_move:
  fp[ip[2].u64] = fp[ip[1].u64];
  NEXT(3);
op_local_move2: /* in order: the second move may read what the first wrote */
  fp[ip[2].u64] = fp[ip[1].u64];
  fp[ip[4].u64] = fp[ip[3].u64];
  NEXT(5);
op_local_move4:
  fp[ip[2].u64] = fp[ip[1].u64];
  fp[ip[4].u64] = fp[ip[3].u64];
  fp[ip[6].u64] = fp[ip[5].u64];
  fp[ip[8].u64] = fp[ip[7].u64];
  NEXT(9);
op_local_set_const:
  fp[ip[2].u64] = ip[1].u64;
  NEXT(3);
op_local_tee:
  fp[ip[1].u64] = sp[-1];
  NEXT(2);
op_global_get:
  *sp++ = in->globals[ip[1].u64]->val;
  NEXT(2);
op_global_set:
  in->globals[ip[1].u64]->val = *--sp;
  NEXT(2);

#define LOAD(label, T, conv)                                                             \
  label : {                                                                              \
    uint64_t ea = (uint64_t)I32(sp[-1]) + ip[1].u64;                                     \
    if (ea + sizeof(T) > memsize)                                                        \
      TRAP(arq_wasm_err_trap_oob_memory);                                                \
    T v_;                                                                                \
    memcpy(&v_, mem + ea, sizeof v_);                                                    \
    sp[-1] = conv(v_);                                                                   \
    NEXT(2);                                                                             \
  }
#define STORE(label, T)                                                                  \
  label : {                                                                              \
    uint64_t ea = (uint64_t)I32(sp[-2]) + ip[1].u64;                                     \
    if (ea + sizeof(T) > memsize)                                                        \
      TRAP(arq_wasm_err_trap_oob_memory);                                                \
    T v_ = (T)sp[-1];                                                                    \
    memcpy(mem + ea, &v_, sizeof v_);                                                    \
    arq__memory_mark(in->memory, ea, sizeof v_);                                         \
    sp -= 2;                                                                             \
    NEXT(2);                                                                             \
  }
  /* Loads with their address from locals (ARQ__LOAD_* in internal.h); the effective
   * address is computed as the plain handlers do, from the i32 address operand. */
#define LOAD_AT(addr32, offset, T, conv, dst, n)                                         \
  do {                                                                                   \
    uint64_t ea = (uint64_t)(addr32) + (offset);                                         \
    if (ea + sizeof(T) > memsize)                                                        \
      TRAP(arq_wasm_err_trap_oob_memory);                                                \
    T v_;                                                                                \
    memcpy(&v_, mem + ea, sizeof v_);                                                    \
    dst = conv(v_);                                                                      \
    NEXT(n);                                                                             \
  } while (0)
#define LOAD_L_ADDR I32(fp[ip[1].u64])
#define LOAD_LI_ADDR I32(I32(fp[ip[1].u64]) + I32(ip[2].u64))
#define LOAD_LL_ADDR I32(I32(fp[ip[1].u64]) + I32(fp[ip[2].u64]))
#define LOAD_HANDLERS(i, T, conv)                                                        \
  op_load_l_##i : LOAD_AT(LOAD_L_ADDR, ip[2].u64, T, conv, *sp++, 3);                     \
  op_load_li_##i : LOAD_AT(LOAD_LI_ADDR, ip[3].u64, T, conv, *sp++, 4);                   \
  op_load_ll_##i : LOAD_AT(LOAD_LL_ADDR, ip[3].u64, T, conv, *sp++, 4);                   \
  op_load_l_set_##i : LOAD_AT(LOAD_L_ADDR, ip[2].u64, T, conv, fp[ip[3].u64], 4);         \
  op_load_li_set_##i : LOAD_AT(LOAD_LI_ADDR, ip[3].u64, T, conv, fp[ip[4].u64], 5);       \
  op_load_ll_set_##i : LOAD_AT(LOAD_LL_ADDR, ip[3].u64, T, conv, fp[ip[4].u64], 5);
  LOADS(LOAD_HANDLERS)

  /* Stores of a local (ARQ__STORE_* in internal.h), as the plain handlers below. */
#define STORE_AT(addr32, offset, T, value, n)                                            \
  do {                                                                                   \
    uint64_t ea = (uint64_t)(addr32) + (offset);                                         \
    if (ea + sizeof(T) > memsize)                                                        \
      TRAP(arq_wasm_err_trap_oob_memory);                                                \
    T v_ = (T)(value);                                                                   \
    memcpy(mem + ea, &v_, sizeof v_);                                                    \
    arq__memory_mark(in->memory, ea, sizeof v_);                                         \
    NEXT(n);                                                                             \
  } while (0)
#define STORE_HANDLERS(i, T)                                                             \
  op_store_sl_##i : {                                                                    \
    sp--;                                                                                \
    STORE_AT(I32(sp[0]), ip[2].u64, T, fp[ip[1].u64], 3);                                \
  }                                                                                      \
  op_store_ll_##i : STORE_AT(I32(fp[ip[1].u64]), ip[3].u64, T, fp[ip[2].u64], 4);
  STORES(STORE_HANDLERS)

  LOAD(op_28, uint32_t, U32V)
  LOAD(op_29, uint64_t, U64V)
  LOAD(op_2a, uint32_t, U32V)
  LOAD(op_2b, uint64_t, U64V)
  LOAD(op_2c, int8_t, U32V)
  LOAD(op_2d, uint8_t, U32V)
  LOAD(op_2e, int16_t, U32V)
  LOAD(op_2f, uint16_t, U32V)
  LOAD(op_30, int8_t, U64V)
  LOAD(op_31, uint8_t, U64V)
  LOAD(op_32, int16_t, U64V)
  LOAD(op_33, uint16_t, U64V)
  LOAD(op_34, int32_t, U64V)
  LOAD(op_35, uint32_t, U64V)
  STORE(op_36, uint32_t)
  STORE(op_37, uint64_t)
  STORE(op_38, uint32_t)
  STORE(op_39, uint64_t)
  STORE(op_3a, uint8_t)
  STORE(op_3b, uint16_t)
  STORE(op_3c, uint8_t)
  STORE(op_3d, uint16_t)
  STORE(op_3e, uint32_t)

op_memory_size:
  *sp++ = in->memory->pages;
  NEXT(1);

op_memory_grow:
  sp[-1] = (uint32_t)arq__memory_grow(in->memory, I32(sp[-1]));
  RELOAD_MEMORY();
  NEXT(1);

op_memory_init: {
  uint64_t n = I32(sp[-1]), s = I32(sp[-2]), d = I32(sp[-3]);
  sp -= 3;
  CHARGE_BULK(n);
  const arq__data_t *seg = &in->module->datas[ip[1].u64];
  uint64_t len = in->data_dropped[ip[1].u64] ? 0 : seg->len;
  if (s + n > len || d + n > memsize)
    TRAP(arq_wasm_err_trap_oob_memory);
  if (n) {
    memcpy(mem + d, seg->bytes + s, n);
    arq__memory_mark(in->memory, d, n);
  }
  NEXT(2);
}

op_data_drop:
  in->data_dropped[ip[1].u64] = true;
  NEXT(2);

  /* The table half of bulk memory: one table (index 0), of functions. */
op_table_init: {
  uint64_t n = I32(sp[-1]), s = I32(sp[-2]), d = I32(sp[-3]);
  sp -= 3;
  CHARGE_BULK(n * sizeof(void *));
  const arq__elem_t *seg = &in->module->elems[ip[1].u64];
  uint64_t len = in->elem_dropped[ip[1].u64] ? 0 : seg->n;
  arq_wasm_table_t *t = in->tables[ip[2].u64];
  if (s + n > len || d + n > t->size)
    TRAP(arq_wasm_err_trap_oob_table);
  for (uint64_t k = 0; k < n; k++)
    t->elems[d + k] = arq__elem_value(in, seg->funcs[s + k]);
  NEXT(3);
}

  /* Reference types: a reference is a pointer in a slot (a function, or the host's
   * opaque externref), NULL the null reference. */
op_ref_func:
  *sp++ = (uint64_t)(uintptr_t)in->funcs[ip[1].u64];
  NEXT(2);

op_table_get: {
  const arq_wasm_table_t *t = in->tables[ip[1].u64];
  uint32_t i = I32(sp[-1]);
  if (i >= t->size)
    TRAP(arq_wasm_err_trap_oob_table);
  sp[-1] = (uint64_t)(uintptr_t)t->elems[i];
  NEXT(2);
}

op_table_set: {
  arq_wasm_table_t *t = in->tables[ip[1].u64];
  uint32_t i = I32(sp[-2]);
  if (i >= t->size)
    TRAP(arq_wasm_err_trap_oob_table);
  t->elems[i] = (arq_wasm_func_t *)(uintptr_t)sp[-1];
  sp -= 2;
  NEXT(2);
}

op_table_size:
  *sp++ = in->tables[ip[1].u64]->size;
  NEXT(2);

op_table_grow: { /* -1 past the table's maximum or the instance's element limit */
  arq_wasm_table_t *t = in->tables[ip[1].u64];
  uint64_t n = I32(sp[-1]), want = (uint64_t)t->size + n, total = n;
  arq_wasm_func_t *init = (arq_wasm_func_t *)(uintptr_t)sp[-2];
  uint32_t old = t->size;
  sp--;
  sp[-1] = UINT32_MAX;
  /* the limit is on all the instance's tables together (at most ARQ_WASM_MAX_TABLES) */
  for (uint32_t k = 0; k < in->module->ntables; k++)
    total += in->tables[k]->size;
  if (want > t->max || total > in->limits.max_table_elements)
    NEXT(2);
  CHARGE_BULK(n * sizeof(void *)); /* only a growth that happens moves memory */
  if (n) {
    arq_wasm_func_t **e = realloc(t->elems, want * sizeof *e);
    if (!e)
      NEXT(2);
    t->elems = e;
    for (uint64_t k = old; k < want; k++)
      e[k] = init;
    t->size = (uint32_t)want;
  }
  sp[-1] = old;
  NEXT(2);
}

op_table_fill: {
  arq_wasm_table_t *t = in->tables[ip[1].u64];
  uint64_t n = I32(sp[-1]), d = I32(sp[-3]);
  arq_wasm_func_t *val = (arq_wasm_func_t *)(uintptr_t)sp[-2];
  sp -= 3;
  CHARGE_BULK(n * sizeof(void *));
  if (d + n > t->size)
    TRAP(arq_wasm_err_trap_oob_table);
  for (uint64_t k = 0; k < n; k++)
    t->elems[d + k] = val;
  NEXT(2);
}

op_elem_drop:
  in->elem_dropped[ip[1].u64] = true;
  NEXT(2);

op_table_copy: {
  uint64_t n = I32(sp[-1]), s = I32(sp[-2]), d = I32(sp[-3]);
  sp -= 3;
  CHARGE_BULK(n * sizeof(void *));
  arq_wasm_table_t *td = in->tables[ip[1].u64], *ts = in->tables[ip[2].u64];
  if (s + n > ts->size || d + n > td->size)
    TRAP(arq_wasm_err_trap_oob_table);
  if (n)
    memmove(td->elems + d, ts->elems + s, n * sizeof *td->elems);
  NEXT(3);
}

op_memory_copy: {
  uint64_t n = I32(sp[-1]), s = I32(sp[-2]), d = I32(sp[-3]);
  sp -= 3;
  CHARGE_BULK(n);
  if (s + n > memsize || d + n > memsize)
    TRAP(arq_wasm_err_trap_oob_memory);
  if (n) {
    memmove(mem + d, mem + s, n);
    arq__memory_mark(in->memory, d, n);
  }
  NEXT(1);
}

op_memory_fill: {
  uint64_t n = I32(sp[-1]), d = I32(sp[-3]);
  int val = (int)(uint8_t)sp[-2];
  sp -= 3;
  CHARGE_BULK(n);
  if (d + n > memsize)
    TRAP(arq_wasm_err_trap_oob_memory);
  if (n) {
    memset(mem + d, val, n);
    arq__memory_mark(in->memory, d, n);
  }
  NEXT(1);
}

op_const:
  *sp++ = ip[1].u64;
  NEXT(2);

  /* ---- numeric ---- */
#define UN(label, expr)                                                                  \
  label : {                                                                              \
    uint64_t a = sp[-1];                                                                 \
    (void)a;                                                                             \
    sp[-1] = (expr);                                                                     \
    NEXT(1);                                                                             \
  }
#define BIN(label, expr)                                                                 \
  label : {                                                                              \
    uint64_t b = sp[-1], a = sp[-2];                                                     \
    (void)a, (void)b;                                                                    \
    sp--;                                                                                \
    sp[-1] = (expr);                                                                     \
    NEXT(1);                                                                             \
  }
#define BIN_TRAP(label, check, err, expr)                                                \
  label : {                                                                              \
    uint64_t b = sp[-1], a = sp[-2];                                                     \
    if (check)                                                                           \
      TRAP(err);                                                                         \
    sp--;                                                                                \
    sp[-1] = (expr);                                                                     \
    NEXT(1);                                                                             \
  }
/* libm may return a signalling NaN unchanged; WebAssembly wants it quieted */
#define QNAN32(x, fn) (isnan(x) ? (x) + (x) : fn(x))
#define QNAN64(x, fn) (isnan(x) ? (x) + (x) : fn(x))
#define FA f32_of(a)
#define FB f32_of(b)
#define DA f64_of(a)
#define DB f64_of(b)

  UN(op_45, I32(a) == 0)
  BIN(op_46, I32(a) == I32(b))
  BIN(op_47, I32(a) != I32(b))
  BIN(op_48, S32(a) < S32(b))
  BIN(op_49, I32(a) < I32(b))
  BIN(op_4a, S32(a) > S32(b))
  BIN(op_4b, I32(a) > I32(b))
  BIN(op_4c, S32(a) <= S32(b))
  BIN(op_4d, I32(a) <= I32(b))
  BIN(op_4e, S32(a) >= S32(b))
  BIN(op_4f, I32(a) >= I32(b))
  UN(op_50, a == 0)
  BIN(op_51, a == b)
  BIN(op_52, a != b)
  BIN(op_53, S64(a) < S64(b))
  BIN(op_54, a < b)
  BIN(op_55, S64(a) > S64(b))
  BIN(op_56, a > b)
  BIN(op_57, S64(a) <= S64(b))
  BIN(op_58, a <= b)
  BIN(op_59, S64(a) >= S64(b))
  BIN(op_5a, a >= b)
  BIN(op_5b, FA == FB)
  BIN(op_5c, FA != FB)
  BIN(op_5d, FA < FB)
  BIN(op_5e, FA > FB)
  BIN(op_5f, FA <= FB)
  BIN(op_60, FA >= FB)
  BIN(op_61, DA == DB)
  BIN(op_62, DA != DB)
  BIN(op_63, DA < DB)
  BIN(op_64, DA > DB)
  BIN(op_65, DA <= DB)
  BIN(op_66, DA >= DB)

  UN(op_67, I32(a) ? (uint32_t)__builtin_clz(I32(a)) : 32u)
  UN(op_68, I32(a) ? (uint32_t)__builtin_ctz(I32(a)) : 32u)
  UN(op_69, (uint32_t)__builtin_popcount(I32(a)))
  BIN(op_6a, I32(I32(a) + I32(b)))
  BIN(op_6b, I32(I32(a) - I32(b)))
  BIN(op_6c, I32(I32(a) * I32(b)))
  BIN_TRAP(op_6d, I32(b) == 0 || (S32(a) == INT32_MIN && S32(b) == -1),
           I32(b) == 0 ? arq_wasm_err_trap_div_zero : arq_wasm_err_trap_overflow,
           I32(S32(a) / S32(b)))
  BIN_TRAP(op_6e, I32(b) == 0, arq_wasm_err_trap_div_zero, I32(a) / I32(b))
  BIN_TRAP(op_6f, I32(b) == 0, arq_wasm_err_trap_div_zero,
           S32(b) == -1 ? 0 : I32(S32(a) % S32(b)))
  BIN_TRAP(op_70, I32(b) == 0, arq_wasm_err_trap_div_zero, I32(a) % I32(b))
  BIN(op_71, I32(a) & I32(b))
  BIN(op_72, I32(a) | I32(b))
  BIN(op_73, I32(a) ^ I32(b))
  BIN(op_74, I32(I32(a) << (b & 31)))
  BIN(op_75, I32(S32(a) >> (b & 31)))
  BIN(op_76, I32(a) >> (b & 31))
  BIN(op_77, I32((I32(a) << (b & 31)) | (I32(a) >> ((32 - (b & 31)) & 31))))
  BIN(op_78, I32((I32(a) >> (b & 31)) | (I32(a) << ((32 - (b & 31)) & 31))))

  UN(op_79, a ? (uint64_t)__builtin_clzll(a) : 64u)
  UN(op_7a, a ? (uint64_t)__builtin_ctzll(a) : 64u)
  UN(op_7b, (uint64_t)__builtin_popcountll(a))
  BIN(op_7c, a + b)
  BIN(op_7d, a - b)
  BIN(op_7e, a * b)
  BIN_TRAP(op_7f, b == 0 || (S64(a) == INT64_MIN && S64(b) == -1),
           b == 0 ? arq_wasm_err_trap_div_zero : arq_wasm_err_trap_overflow,
           (uint64_t)(S64(a) / S64(b)))
  BIN_TRAP(op_80, b == 0, arq_wasm_err_trap_div_zero, a / b)
  BIN_TRAP(op_81, b == 0, arq_wasm_err_trap_div_zero,
           S64(b) == -1 ? 0 : (uint64_t)(S64(a) % S64(b)))
  BIN_TRAP(op_82, b == 0, arq_wasm_err_trap_div_zero, a % b)
  BIN(op_83, a & b)
  BIN(op_84, a | b)
  BIN(op_85, a ^ b)
  BIN(op_86, a << (b & 63))
  BIN(op_87, (uint64_t)(S64(a) >> (b & 63)))
  BIN(op_88, a >> (b & 63))
  BIN(op_89, (a << (b & 63)) | (a >> ((64 - (b & 63)) & 63)))
  BIN(op_8a, (a >> (b & 63)) | (a << ((64 - (b & 63)) & 63)))

  UN(op_8b, a & 0x7fffffffu)
  UN(op_8c, I32(a) ^ 0x80000000u)
  UN(op_8d, of_f32(QNAN32(FA, ceilf)))
  UN(op_8e, of_f32(QNAN32(FA, floorf)))
  UN(op_8f, of_f32(QNAN32(FA, truncf)))
  UN(op_90, of_f32(arq__f32_nearest(FA)))
  UN(op_91, of_f32(sqrtf(FA)))
  BIN(op_92, of_f32(FA + FB))
  BIN(op_93, of_f32(FA - FB))
  BIN(op_94, of_f32(FA * FB))
  BIN(op_95, of_f32(FA / FB))
  BIN(op_96, of_f32(arq__f32_min(FA, FB)))
  BIN(op_97, of_f32(arq__f32_max(FA, FB)))
  BIN(op_98, (a & 0x7fffffffu) | (b & 0x80000000u))

  UN(op_99, a & 0x7fffffffffffffffu)
  UN(op_9a, a ^ 0x8000000000000000u)
  UN(op_9b, of_f64(QNAN64(DA, ceil)))
  UN(op_9c, of_f64(QNAN64(DA, floor)))
  UN(op_9d, of_f64(QNAN64(DA, trunc)))
  UN(op_9e, of_f64(arq__f64_nearest(DA)))
  UN(op_9f, of_f64(sqrt(DA)))
  BIN(op_a0, of_f64(DA + DB))
  BIN(op_a1, of_f64(DA - DB))
  BIN(op_a2, of_f64(DA * DB))
  BIN(op_a3, of_f64(DA / DB))
  BIN(op_a4, of_f64(arq__f64_min(DA, DB)))
  BIN(op_a5, of_f64(arq__f64_max(DA, DB)))
  BIN(op_a6, (a & 0x7fffffffffffffffu) | (b & 0x8000000000000000u))

  UN(op_a7, I32(a))
#define TRUNC(label, opc)                                                                \
  label : {                                                                              \
    uint64_t r_ = 0;                                                                     \
    arq_wasm_result_t e_ = arq__trunc(opc, sp[-1], &r_);                                 \
    if (e_)                                                                              \
      TRAP(e_);                                                                          \
    sp[-1] = r_;                                                                         \
    NEXT(1);                                                                             \
  }
  TRUNC(op_a8, 0xa8)
  TRUNC(op_a9, 0xa9)
  TRUNC(op_aa, 0xaa)
  TRUNC(op_ab, 0xab)
  TRUNC(op_ae, 0xae)
  TRUNC(op_af, 0xaf)
  TRUNC(op_b0, 0xb0)
  TRUNC(op_b1, 0xb1)
  UN(op_ac, (uint64_t)(int64_t)S32(a))
  UN(op_ad, (uint64_t)I32(a))
  UN(op_b2, of_f32((float)S32(a)))
  UN(op_b3, of_f32((float)I32(a)))
  UN(op_b4, of_f32((float)S64(a)))
  UN(op_b5, of_f32((float)a))
  UN(op_b6, of_f32((float)DA))
  UN(op_b7, of_f64((double)S32(a)))
  UN(op_b8, of_f64((double)I32(a)))
  UN(op_b9, of_f64((double)S64(a)))
  UN(op_ba, of_f64((double)a))
  UN(op_bb, of_f64((double)FA))
  UN(op_c0, (uint64_t)I32((int32_t)(int8_t)a))
  UN(op_c1, (uint64_t)I32((int32_t)(int16_t)a))
  UN(op_c2, (uint64_t)(int64_t)(int8_t)a)
  UN(op_c3, (uint64_t)(int64_t)(int16_t)a)
  UN(op_c4, (uint64_t)(int64_t)(int32_t)a)
  UN(op_sat0, arq__trunc_sat(0, a))
  UN(op_sat1, arq__trunc_sat(1, a))
  UN(op_sat2, arq__trunc_sat(2, a))
  UN(op_sat3, arq__trunc_sat(3, a))
  UN(op_sat4, arq__trunc_sat(4, a))
  UN(op_sat5, arq__trunc_sat(5, a))
  UN(op_sat6, arq__trunc_sat(6, a))
  UN(op_sat7, arq__trunc_sat(7, a))

out:
  top->fuel = fuel;
  top->depth = base_depth;
  top->stack_top = saved_top;
  return result;
}
