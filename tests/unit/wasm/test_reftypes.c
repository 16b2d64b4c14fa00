/*
 * test_reftypes.c — reference types (data/reftypes.wat): element expressions, ref.func in
 * a global's initialiser, table.get/set/size/grow/fill, table.grow bounded by the table's
 * maximum and by the instance's limit, externref values kept and returned unchanged,
 * typed select, reset restoring a grown table, the fuel of each new instruction; and what
 * validation refuses (hand-assembled bodies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reftypes_wasm.h"
#include "wasm/wasm.h"

typedef struct {
  arq_wasm_module_t *m;
  arq_wasm_instance_t *inst;
} fixture_t;

static int setup_limits(void **state, uint32_t max_table_elements, uint32_t bulk) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_null(arq_wasm_module_load(reftypes_wasm, reftypes_wasm_len, &f->m));
  arq_wasm_limits_t lim = {.max_table_elements = max_table_elements, .bulk_bytes_per_fuel = bulk};
  assert_null(arq_wasm_instantiate(f->m, NULL, 0, &lim, &f->inst));
  *state = f;
  return 0;
}

static int setup(void **state) { return setup_limits(state, 0, 0); }
static int setup_limited(void **state) { return setup_limits(state, 6, 0); }
static int setup_bulk(void **state) { return setup_limits(state, 0, 8); }

static int teardown(void **state) {
  fixture_t *f = *state;
  arq_wasm_instance_free(f->inst);
  arq_wasm_module_free(f->m);
  free(f);
  return 0;
}

static arq_wasm_val_t i32(int32_t v) { return (arq_wasm_val_t){ARQ_WASM_I32, .of.i32 = v}; }
static arq_wasm_val_t ext(void *p) { return (arq_wasm_val_t){ARQ_WASM_EXTERNREF, .of.ref = p}; }

static arq_wasm_result_t call(fixture_t *f, const char *name, const arq_wasm_val_t *args,
                              size_t nargs, arq_wasm_val_t *res, size_t nres) {
  arq_wasm_func_t *fn = arq_wasm_export_func(f->inst, name);
  assert_non_null(fn);
  return arq_wasm_call(f->inst, fn, args, nargs, res, nres);
}

static int32_t call_i32(fixture_t *f, const char *name, const arq_wasm_val_t *args, size_t n) {
  arq_wasm_val_t res;
  assert_null(call(f, name, args, n, &res, 1));
  assert_int_equal(res.type, ARQ_WASM_I32);
  return res.of.i32;
}

/* What table entry i returns when called: 7 or 8, -1 for null, -2 past the end. */
static int32_t entry(fixture_t *f, int32_t i) {
  arq_wasm_val_t a = i32(i), res;
  arq_wasm_result_t r = call(f, "call", &a, 1, &res, 1);
  if (r == arq_wasm_err_trap_uninitialized_element)
    return -1;
  if (r == arq_wasm_err_trap_undefined_element)
    return -2;
  assert_null(r);
  return res.of.i32;
}

static void test_segments_and_table_ops(void **state) {
  fixture_t *f = *state;
  assert_int_equal(entry(f, 0), 8); /* ref.func in an element expression */
  assert_int_equal(entry(f, 1), -1); /* ref.null */
  assert_int_equal(entry(f, 2), -2);
  assert_int_equal(call_i32(f, "size", NULL, 0), 2);
  arq_wasm_val_t a = i32(1);
  assert_int_equal(call_i32(f, "is_null", &a, 1), 1);
  a = i32(2);
  assert_ptr_equal(call(f, "is_null", &a, 1, (arq_wasm_val_t[1]){{0}}, 1),
                   arq_wasm_err_trap_oob_table);
  /* grow by 3 with the global's function, then fill two entries with $f8 */
  a = i32(3);
  assert_int_equal(call_i32(f, "grow", &a, 1), 2);
  assert_int_equal(call_i32(f, "size", NULL, 0), 5);
  assert_int_equal(entry(f, 4), 7);
  arq_wasm_val_t fill[2] = {i32(3), i32(2)};
  assert_null(call(f, "fill", fill, 2, NULL, 0));
  assert_int_equal(entry(f, 2), 7);
  assert_int_equal(entry(f, 3), 8);
  assert_int_equal(entry(f, 4), 8);
  fill[0] = i32(4);
  assert_ptr_equal(call(f, "fill", fill, 2, NULL, 0), arq_wasm_err_trap_oob_table);
  assert_int_equal(entry(f, 4), 8); /* a trapping fill writes nothing */
  a = i32(0);
  assert_null(call(f, "clear", &a, 1, NULL, 0));
  assert_int_equal(entry(f, 0), -1);
  a = i32(5);
  assert_ptr_equal(call(f, "clear", &a, 1, NULL, 0), arq_wasm_err_trap_oob_table);
  /* the passive segment: global.get $g7, ref.func $f8, ref.null */
  arq_wasm_val_t init[3] = {i32(0), i32(0), i32(3)};
  assert_null(call(f, "init", init, 3, NULL, 0));
  assert_int_equal(entry(f, 0), 7);
  assert_int_equal(entry(f, 1), 8);
  assert_int_equal(entry(f, 2), -1);
  /* the table's maximum is 10 */
  a = i32(6);
  assert_int_equal(call_i32(f, "grow", &a, 1), -1);
  a = i32(5);
  assert_int_equal(call_i32(f, "grow", &a, 1), 5);
  a = i32(0);
  assert_int_equal(call_i32(f, "grow", &a, 1), 10);
  a = i32(-1);
  assert_int_equal(call_i32(f, "grow", &a, 1), -1);
  /* reset: size 2 and the entries as instantiated */
  assert_null(arq_wasm_reset(f->inst));
  assert_int_equal(call_i32(f, "size", NULL, 0), 2);
  assert_int_equal(entry(f, 0), 8);
  assert_int_equal(entry(f, 1), -1);
  assert_int_equal(entry(f, 2), -2);
  a = i32(1);
  assert_int_equal(call_i32(f, "grow", &a, 1), 2);
  assert_int_equal(entry(f, 2), 7); /* the new entry holds the grow's value */
}

static void test_grow_limit(void **state) {
  fixture_t *f = *state; /* max_table_elements = 6, for both tables: 2 + 1 at the start */
  arq_wasm_val_t a = i32(4);
  assert_int_equal(call_i32(f, "grow", &a, 1), -1);
  a = i32(2);
  assert_int_equal(call_i32(f, "grow", &a, 1), 2);
  arq_wasm_val_t g[2] = {ext(NULL), i32(2)};
  assert_int_equal(call_i32(f, "ext_grow", g, 2), -1);
  g[1] = i32(1);
  assert_int_equal(call_i32(f, "ext_grow", g, 2), 1);
  a = i32(1);
  assert_int_equal(call_i32(f, "grow", &a, 1), -1);
  a = i32(0);
  assert_int_equal(call_i32(f, "grow", &a, 1), 4);
  /* reset gives the elements back */
  assert_null(arq_wasm_reset(f->inst));
  a = i32(3);
  assert_int_equal(call_i32(f, "grow", &a, 1), 2);
}

static void test_externref(void **state) {
  fixture_t *f = *state;
  static int host_object;
  arq_wasm_val_t a = ext(&host_object), res;
  assert_null(call(f, "keep", &a, 1, NULL, 0));
  assert_null(call(f, "kept", NULL, 0, &res, 1));
  assert_int_equal(res.type, ARQ_WASM_EXTERNREF);
  assert_ptr_equal(res.of.ref, &host_object);
  arq_wasm_val_t at = i32(0);
  assert_null(call(f, "ext_at", &at, 1, &res, 1));
  assert_ptr_equal(res.of.ref, &host_object);
  assert_int_equal(call_i32(f, "ext_is_null", &a, 1), 0);
  arq_wasm_val_t null = ext(NULL);
  assert_int_equal(call_i32(f, "ext_is_null", &null, 1), 1);
  arq_wasm_val_t pick[3] = {ext(&host_object), ext(NULL), i32(1)};
  assert_null(call(f, "pick", pick, 3, &res, 1));
  assert_ptr_equal(res.of.ref, &host_object);
  pick[2] = i32(0);
  assert_null(call(f, "pick", pick, 3, &res, 1));
  assert_null(res.of.ref);
  /* an externref argument where a funcref or a number is expected is refused */
  arq_wasm_val_t wrong = {ARQ_WASM_FUNCREF, .of.ref = NULL};
  assert_ptr_equal(call(f, "keep", &wrong, 1, NULL, 0), arq_wasm_err_arg_type);
  /* reset restores the mutable externref global to null */
  assert_null(arq_wasm_reset(f->inst));
  assert_null(call(f, "kept", NULL, 0, &res, 1));
  assert_null(res.of.ref);
}

static void test_fuel(void **state) {
  fixture_t *f = *state;
  struct {
    const char *name;
    arq_wasm_val_t args[3];
    size_t nargs, nres;
    uint64_t cost;
  } cases[] = {
      {"size", {{0}}, 0, 1, 1},                     /* table.size */
      {"is_null", {i32(0)}, 1, 1, 3},               /* local.get, table.get, ref.is_null */
      {"clear", {i32(1)}, 1, 0, 3},                 /* local.get, ref.null, table.set */
      {"grow", {i32(1)}, 1, 1, 3},                  /* global.get, local.get, table.grow */
      {"fill", {i32(0), i32(2)}, 2, 0, 4},          /* local.get, ref.func, local.get, fill */
      {"pick", {ext(NULL), ext(NULL), i32(0)}, 3, 1, 4}, /* three local.get, select */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    arq_wasm_val_t res;
    arq_wasm_set_fuel(f->inst, 1000);
    assert_null(call(f, cases[i].name, cases[i].args, cases[i].nargs, &res, cases[i].nres));
    if (1000 - arq_wasm_fuel_left(f->inst) != cases[i].cost)
      fail_msg("%s: %llu units, expected %llu", cases[i].name,
               (unsigned long long)(1000 - arq_wasm_fuel_left(f->inst)),
               (unsigned long long)cases[i].cost);
  }
}

static void test_bulk_fuel(void **state) {
  fixture_t *f = *state; /* bulk_bytes_per_fuel = 8: one more unit per table element */
  arq_wasm_val_t a = i32(3), res;
  arq_wasm_set_fuel(f->inst, 1000);
  assert_null(call(f, "grow", &a, 1, &res, 1));
  assert_int_equal(1000 - arq_wasm_fuel_left(f->inst), 3 + 3);
  arq_wasm_val_t fill[2] = {i32(0), i32(5)};
  arq_wasm_set_fuel(f->inst, 1000);
  assert_null(call(f, "fill", fill, 2, NULL, 0));
  assert_int_equal(1000 - arq_wasm_fuel_left(f->inst), 4 + 5);
  a = i32(100); /* past the maximum: no growth, no charge for elements */
  arq_wasm_set_fuel(f->inst, 1000);
  assert_null(call(f, "grow", &a, 1, &res, 1));
  assert_int_equal(res.of.i32, -1);
  assert_int_equal(1000 - arq_wasm_fuel_left(f->inst), 3);
}

/* ---- validation ---------------------------------------------------------------------- */

/* A module: types [] -> [] and [] -> [i32], a funcref table and an externref table of one
 * entry, function 0 of type 0 with `body`, function 1 (type 1) declared by an export only
 * when `declare` is set. */
static arq_wasm_result_t load_body(const uint8_t *body, uint8_t len, bool declare) {
  uint8_t mod[160];
  size_t n = 0;
  static const uint8_t head[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
                                 0x01, 0x08, 0x02, 0x60, 0x00, 0x00, 0x60, 0x00, 0x01, 0x7f,
                                 0x03, 0x03, 0x02, 0x00, 0x01,
                                 0x04, 0x07, 0x02, 0x70, 0x00, 0x01, 0x6f, 0x00, 0x01};
  memcpy(mod, head, sizeof head);
  n = sizeof head;
  if (declare) {
    static const uint8_t exp[] = {0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x01};
    memcpy(mod + n, exp, sizeof exp);
    n += sizeof exp;
  }
  uint8_t code[] = {0x0a, (uint8_t)(len + 9), 0x02, (uint8_t)(len + 2), 0x00};
  memcpy(mod + n, code, sizeof code);
  n += sizeof code;
  memcpy(mod + n, body, len);
  n += len;
  static const uint8_t tail[] = {0x0b, 0x04, 0x00, 0x41, 0x01, 0x0b};
  memcpy(mod + n, tail, sizeof tail);
  n += sizeof tail;
  arq_wasm_module_t *m = NULL;
  arq_wasm_result_t r = arq_wasm_module_load(mod, n, &m);
  arq_wasm_module_free(m);
  return r;
}

static void test_validation(void **state) {
  (void)state;
  static const uint8_t ref_func[] = {0xd2, 0x01, 0x1a};
  static const uint8_t ref_func_unknown[] = {0xd2, 0x02, 0x1a};
  static const uint8_t null_func[] = {0xd0, 0x70, 0xd1, 0x1a};
  static const uint8_t null_bad[] = {0xd0, 0x7f, 0x1a};
  static const uint8_t is_null_i32[] = {0x41, 0x00, 0xd1, 0x1a};
  static const uint8_t get_ext[] = {0x41, 0x00, 0x25, 0x01, 0xd1, 0x1a};
  static const uint8_t set_wrong[] = {0x41, 0x00, 0xd0, 0x6f, 0x26, 0x00}; /* externref into funcref */
  static const uint8_t get_table2[] = {0x41, 0x00, 0x25, 0x02, 0x1a};
  static const uint8_t select_refs[] = {0xd0, 0x70, 0xd0, 0x70, 0x41, 0x00, 0x1b, 0x1a};
  static const uint8_t select_typed[] = {0xd0, 0x70, 0xd0, 0x70, 0x41, 0x00, 0x1c, 0x01, 0x70, 0x1a};
  static const uint8_t select_two[] = {0xd0, 0x70, 0xd0, 0x70, 0x41, 0x00, 0x1c, 0x02, 0x70, 0x70, 0x1a};
  static const uint8_t call_ext[] = {0x41, 0x00, 0x11, 0x00, 0x01}; /* call_indirect on externref */
  static const uint8_t copy_mixed[] = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0e, 0x00, 0x01};
  static const uint8_t grow_ext[] = {0xd0, 0x6f, 0x41, 0x01, 0xfc, 0x0f, 0x01, 0x1a};
  static const uint8_t grow_wrong[] = {0xd0, 0x70, 0x41, 0x01, 0xfc, 0x0f, 0x01, 0x1a};
  static const uint8_t fill_short[] = {0xd0, 0x70, 0x41, 0x01, 0xfc, 0x11, 0x00};
  static const uint8_t size_bad[] = {0xfc, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a};
  assert_null(load_body(ref_func, sizeof ref_func, true));
  assert_ptr_equal(load_body(ref_func, sizeof ref_func, false), arq_wasm_err_undeclared_func_ref);
  assert_ptr_equal(load_body(ref_func_unknown, sizeof ref_func_unknown, true),
                   arq_wasm_err_unknown_func);
  assert_null(load_body(null_func, sizeof null_func, false));
  assert_ptr_equal(load_body(null_bad, sizeof null_bad, false), arq_wasm_err_bad_valtype);
  assert_ptr_equal(load_body(is_null_i32, sizeof is_null_i32, false), arq_wasm_err_type_mismatch);
  assert_null(load_body(get_ext, sizeof get_ext, false));
  assert_ptr_equal(load_body(set_wrong, sizeof set_wrong, false), arq_wasm_err_type_mismatch);
  assert_ptr_equal(load_body(get_table2, sizeof get_table2, false), arq_wasm_err_unknown_table);
  assert_ptr_equal(load_body(select_refs, sizeof select_refs, false), arq_wasm_err_type_mismatch);
  assert_null(load_body(select_typed, sizeof select_typed, false));
  assert_ptr_equal(load_body(select_two, sizeof select_two, false),
                   arq_wasm_err_invalid_result_arity);
  assert_ptr_equal(load_body(call_ext, sizeof call_ext, false), arq_wasm_err_type_mismatch);
  assert_ptr_equal(load_body(copy_mixed, sizeof copy_mixed, false), arq_wasm_err_type_mismatch);
  assert_null(load_body(grow_ext, sizeof grow_ext, false));
  assert_ptr_equal(load_body(grow_wrong, sizeof grow_wrong, false), arq_wasm_err_type_mismatch);
  assert_ptr_equal(load_body(fill_short, sizeof fill_short, false), arq_wasm_err_type_mismatch);
  assert_ptr_equal(load_body(size_bad, sizeof size_bad, false), arq_wasm_err_leb_too_long);
}

/* A module with one function (type [] -> []), a funcref table and an externref table of three
 * entries, an i32 global and a funcref global, and the element section `elem`. */
static arq_wasm_result_t load_elem(const uint8_t *elem, uint8_t len) {
  uint8_t mod[128];
  static const uint8_t head[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
                                 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, /* type [] -> [] */
                                 0x03, 0x02, 0x01, 0x00,             /* one function */
                                 0x04, 0x07, 0x02, 0x70, 0x00, 0x03, 0x6f, 0x00, 0x03,
                                 /* globals: i32 0, funcref null */
                                 0x06, 0x0b, 0x02, 0x7f, 0x00, 0x41, 0x00, 0x0b,
                                 0x70, 0x00, 0xd0, 0x70, 0x0b};
  size_t n = sizeof head;
  memcpy(mod, head, n);
  mod[n++] = 0x09;
  mod[n++] = len;
  memcpy(mod + n, elem, len);
  n += len;
  static const uint8_t code[] = {0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b};
  memcpy(mod + n, code, sizeof code);
  n += sizeof code;
  arq_wasm_module_t *m = NULL;
  arq_wasm_result_t r = arq_wasm_module_load(mod, n, &m);
  if (!r) { /* and it instantiates: the segments are applied */
    arq_wasm_instance_t *inst = NULL;
    r = arq_wasm_instantiate(m, NULL, 0, NULL, &inst);
    arq_wasm_instance_free(inst);
  }
  arq_wasm_module_free(m);
  return r;
}

static void test_hostile_element_segments(void **state) {
  (void)state;
  /* flags 4: active on table 0, expressions: ref.func 0, ref.null func, global.get 1 */
  static const uint8_t exprs_ok[] = {0x01, 0x04, 0x41, 0x00, 0x0b, 0x03,
                                     0xd2, 0x00, 0x0b, 0xd0, 0x70, 0x0b, 0x23, 0x01, 0x0b};
  /* flags 6: explicit table 1 (externref), type externref, one ref.null extern */
  static const uint8_t ext_ok[] = {0x01, 0x06, 0x01, 0x41, 0x00, 0x0b, 0x6f, 0x01, 0xd0, 0x6f, 0x0b};
  /* the same segment typed funcref, for the externref table */
  static const uint8_t ext_mismatch[] = {0x01, 0x06, 0x01, 0x41, 0x00, 0x0b, 0x70, 0x01, 0xd0, 0x70, 0x0b};
  /* flags 2 (function indices) for the externref table */
  static const uint8_t index_into_ext[] = {0x01, 0x02, 0x01, 0x41, 0x00, 0x0b, 0x00, 0x01, 0x00};
  /* an externref element in a funcref segment */
  static const uint8_t null_mismatch[] = {0x01, 0x05, 0x70, 0x01, 0xd0, 0x6f, 0x0b};
  /* global.get of the i32 global as an element */
  static const uint8_t global_i32[] = {0x01, 0x05, 0x70, 0x01, 0x23, 0x00, 0x0b};
  /* arithmetic as an element */
  static const uint8_t arith[] = {0x01, 0x05, 0x70, 0x01, 0x41, 0x01, 0x41, 0x01, 0x6a, 0x0b};
  /* a bad reference type, a bad element kind, a missing end, unknown function and table */
  static const uint8_t bad_reftype[] = {0x01, 0x05, 0x7f, 0x00};
  static const uint8_t bad_kind[] = {0x01, 0x01, 0x01, 0x00};
  static const uint8_t no_end[] = {0x01, 0x05, 0x70, 0x01, 0xd2, 0x00, 0xd2, 0x00};
  static const uint8_t unknown_func[] = {0x01, 0x05, 0x70, 0x01, 0xd2, 0x05, 0x0b};
  static const uint8_t unknown_table[] = {0x01, 0x06, 0x02, 0x41, 0x00, 0x0b, 0x70, 0x00};
  static const uint8_t too_long[] = {0x01, 0x04, 0x41, 0x00, 0x0b, 0x03, 0xd2, 0x00, 0x0b};
  /* past the table: out of bounds at instantiation */
  static const uint8_t past[] = {0x01, 0x04, 0x41, 0x03, 0x0b, 0x01, 0xd0, 0x70, 0x0b};
  assert_null(load_elem(exprs_ok, sizeof exprs_ok));
  assert_null(load_elem(ext_ok, sizeof ext_ok));
  assert_ptr_equal(load_elem(ext_mismatch, sizeof ext_mismatch), arq_wasm_err_type_mismatch);
  assert_ptr_equal(load_elem(index_into_ext, sizeof index_into_ext), arq_wasm_err_type_mismatch);
  assert_ptr_equal(load_elem(null_mismatch, sizeof null_mismatch), arq_wasm_err_type_mismatch);
  assert_ptr_equal(load_elem(global_i32, sizeof global_i32), arq_wasm_err_type_mismatch);
  assert_ptr_equal(load_elem(arith, sizeof arith), arq_wasm_err_type_mismatch);
  assert_ptr_equal(load_elem(bad_reftype, sizeof bad_reftype), arq_wasm_err_bad_valtype);
  assert_ptr_equal(load_elem(bad_kind, sizeof bad_kind), arq_wasm_err_bad_elemkind);
  assert_non_null(load_elem(no_end, sizeof no_end));
  assert_ptr_equal(load_elem(unknown_func, sizeof unknown_func), arq_wasm_err_unknown_func);
  assert_ptr_equal(load_elem(unknown_table, sizeof unknown_table), arq_wasm_err_unknown_table);
  assert_non_null(load_elem(too_long, sizeof too_long)); /* announces 3, holds 1 */
  assert_ptr_equal(load_elem(past, sizeof past), arq_wasm_err_segment_oob_table);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_segments_and_table_ops, setup, teardown),
      cmocka_unit_test_setup_teardown(test_grow_limit, setup_limited, teardown),
      cmocka_unit_test_setup_teardown(test_externref, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fuel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bulk_fuel, setup_bulk, teardown),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_hostile_element_segments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
