/*
 * test_tables.c — several tables and extended constant expressions (data/tables.wat):
 * call_indirect, table.init and table.copy on any table, element segments for another
 * table than the first, offsets and globals computed with global.get and i32 arithmetic,
 * reset restoring every table, the fuel of call_indirect on another table; then
 * hand-assembled modules: the table index of call_indirect as a padded LEB128 (as
 * wasm-ld may leave it) and the hostile forms of the new decoding paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tables_wasm.h"
#include "wasm/wasm.h"

typedef struct {
  arq_wasm_module_t *m;
  arq_wasm_instance_t *inst;
  arq_wasm_global_t *base;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_null(arq_wasm_module_load(tables_wasm, tables_wasm_len, &f->m));
  arq_wasm_val_t one = {ARQ_WASM_I32, .of.i32 = 1};
  assert_null(arq_wasm_global_new(one, false, &f->base));
  arq_wasm_extern_t imp = {"env", "base", ARQ_WASM_EXTERN_GLOBAL, .of.global = f->base};
  assert_null(arq_wasm_instantiate(f->m, &imp, 1, NULL, &f->inst));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  arq_wasm_instance_free(f->inst);
  arq_wasm_module_free(f->m);
  arq_wasm_global_free(f->base);
  free(f);
  return 0;
}

static arq_wasm_result_t call_n(fixture_t *f, const char *name, const int32_t *a, size_t n,
                                int32_t *res) {
  arq_wasm_val_t args[3], out = {0};
  for (size_t i = 0; i < n; i++)
    args[i] = (arq_wasm_val_t){ARQ_WASM_I32, .of.i32 = a[i]};
  arq_wasm_func_t *fn = arq_wasm_export_func(f->inst, name);
  assert_non_null(fn);
  arq_wasm_result_t r = arq_wasm_call(f->inst, fn, args, n, &out, res ? 1 : 0);
  if (res)
    *res = r ? -1 : out.of.i32;
  return r;
}

/* What entry i of the table behind export `name` (call0..call2) returns: 10..13, or -1
 * for a null entry, -2 past the end. */
static int32_t entry(fixture_t *f, const char *name, int32_t i) {
  int32_t res;
  arq_wasm_result_t r = call_n(f, name, &i, 1, &res);
  if (r == arq_wasm_err_trap_uninitialized_element)
    return -1;
  if (r == arq_wasm_err_trap_undefined_element)
    return -2;
  assert_null(r);
  return res;
}

static arq_wasm_result_t call3(fixture_t *f, const char *name, int32_t a, int32_t b, int32_t c) {
  int32_t args[3] = {a, b, c};
  return call_n(f, name, args, 3, NULL);
}

static void test_segments_and_calls(void **state) {
  fixture_t *f = *state;
  assert_int_equal(entry(f, "call0", 0), 10);
  assert_int_equal(entry(f, "call0", 1), -1);
  assert_int_equal(entry(f, "call0", 2), -2);
  assert_int_equal(entry(f, "call1", 0), -1);
  assert_int_equal(entry(f, "call1", 1), 11);
  assert_int_equal(entry(f, "call1", 2), 12);
  assert_int_equal(entry(f, "call1", 4), -2);
  /* $t2's segment sits at (base + 2) * 2 = 6, the data byte at base + 2 - 1 = 2 */
  assert_int_equal(entry(f, "call2", 6), 13);
  assert_int_equal(entry(f, "call2", 8), -2);
  int32_t v, at = 2;
  assert_null(call_n(f, "off", NULL, 0, &v));
  assert_int_equal(v, 3);
  assert_null(call_n(f, "byte", &at, 1, &v));
  assert_int_equal(v, 42);
}

static void test_init_copy_and_reset(void **state) {
  fixture_t *f = *state;
  assert_null(call3(f, "init2", 0, 0, 2)); /* $t2[0..1] = $f3 $f2 */
  assert_int_equal(entry(f, "call2", 0), 13);
  assert_int_equal(entry(f, "call2", 1), 12);
  assert_null(call3(f, "copy21", 2, 1, 2)); /* $t2[2..3] = $t1[1..2] */
  assert_int_equal(entry(f, "call2", 2), 11);
  assert_int_equal(entry(f, "call2", 3), 12);
  assert_ptr_equal(call3(f, "copy21", 0, 3, 2), arq_wasm_err_trap_oob_table); /* source: 4 */
  assert_ptr_equal(call3(f, "copy21", 7, 0, 2), arq_wasm_err_trap_oob_table); /* dest: 8 */
  assert_null(call3(f, "copy21", 8, 4, 0));                                 /* both edges */
  assert_ptr_equal(call3(f, "init2", 7, 0, 2), arq_wasm_err_trap_oob_table);
  assert_int_equal(entry(f, "call1", 1), 11); /* the source is unchanged */
  /* reset: every own table as instantiated */
  assert_null(arq_wasm_reset(f->inst));
  for (int32_t i = 0; i < 6; i++)
    assert_int_equal(entry(f, "call2", i), -1);
  assert_int_equal(entry(f, "call2", 6), 13);
  assert_int_equal(entry(f, "call1", 1), 11);
  assert_int_equal(entry(f, "call0", 0), 10);
}

static void test_fuel(void **state) {
  fixture_t *f = *state;
  /* local.get, call_indirect, the callee's i32.const: the same on every table */
  const char *names[] = {"call0", "call2"};
  int32_t at[] = {0, 6};
  for (int k = 0; k < 2; k++) {
    int32_t res;
    arq_wasm_set_fuel(f->inst, 1000);
    assert_null(call_n(f, names[k], &at[k], 1, &res));
    assert_int_equal(1000 - arq_wasm_fuel_left(f->inst), 3);
  }
  arq_wasm_set_fuel(f->inst, 1000);
  assert_null(call3(f, "copy21", 2, 1, 2));
  assert_int_equal(1000 - arq_wasm_fuel_left(f->inst), 4); /* three local.get, table.copy */
}

/* ---- hand-assembled modules ---------------------------------------------------------- */

typedef struct {
  uint8_t b[512];
  size_t n;
} mod_t;

static void put(mod_t *m, const uint8_t *p, size_t n) {
  assert_true(m->n + n <= sizeof m->b);
  memcpy(m->b + m->n, p, n);
  m->n += n;
}

static void section(mod_t *m, uint8_t id, const uint8_t *p, size_t n) {
  assert_true(n < 16384);
  uint8_t h[3] = {id, (uint8_t)(n & 0x7f), (uint8_t)(n >> 7)};
  if (n >= 128)
    h[1] |= 0x80;
  put(m, h, n >= 128 ? 3 : 2);
  put(m, p, n);
}

static void header(mod_t *m) {
  static const uint8_t h[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  m->n = 0;
  put(m, h, sizeof h);
}

/* Two tables of one entry each, $f (returning 7) at entry 0 of table 1, and an export
 * "g" whose body is `i32.const 0; call_indirect 0 <table>` with the table index given as
 * raw bytes. Returns what loading says; on success, what g returns in *out. */
static arq_wasm_result_t padded_table_index(const uint8_t *idx, size_t nidx, int32_t *out) {
  mod_t m;
  header(&m);
  static const uint8_t type[] = {0x01, 0x60, 0x00, 0x01, 0x7f};
  static const uint8_t func[] = {0x02, 0x00, 0x00};
  static const uint8_t table[] = {0x02, 0x70, 0x00, 0x01, 0x70, 0x00, 0x01};
  static const uint8_t exp[] = {0x01, 0x01, 'g', 0x00, 0x01};
  /* flags 2: an explicit table index (1), offset i32.const 0, element kind 0, [$f] */
  static const uint8_t elem[] = {0x01, 0x02, 0x01, 0x41, 0x00, 0x0b, 0x00, 0x01, 0x00};
  section(&m, 1, type, sizeof type);
  section(&m, 3, func, sizeof func);
  section(&m, 4, table, sizeof table);
  section(&m, 7, exp, sizeof exp);
  section(&m, 9, elem, sizeof elem);
  uint8_t code[64] = {0x02, 0x04, 0x00, 0x41, 0x07, 0x0b};
  size_t n = 6;
  code[n++] = (uint8_t)(1 + 2 + 2 + nidx + 1); /* locals, i32.const 0, call_indirect 0 */
  static const uint8_t pre[] = {0x00, 0x41, 0x00, 0x11, 0x00};
  memcpy(code + n, pre, sizeof pre);
  n += sizeof pre;
  memcpy(code + n, idx, nidx);
  n += nidx;
  code[n++] = 0x0b;
  section(&m, 10, code, n);
  arq_wasm_module_t *mod = NULL;
  arq_wasm_result_t r = arq_wasm_module_load(m.b, m.n, &mod);
  if (!r) {
    arq_wasm_instance_t *inst = NULL;
    assert_null(arq_wasm_instantiate(mod, NULL, 0, NULL, &inst));
    arq_wasm_val_t res;
    r = arq_wasm_call(inst, arq_wasm_export_func(inst, "g"), NULL, 0, &res, 1);
    if (!r)
      *out = res.of.i32;
    arq_wasm_instance_free(inst);
  }
  arq_wasm_module_free(mod);
  return r;
}

static void test_padded_table_index(void **state) {
  (void)state;
  int32_t v = 0;
  static const uint8_t one[] = {0x01};
  static const uint8_t one5[] = {0x81, 0x80, 0x80, 0x80, 0x00}; /* wasm-ld's padded form */
  static const uint8_t one2[] = {0x81, 0x00};
  static const uint8_t zero5[] = {0x80, 0x80, 0x80, 0x80, 0x00};
  static const uint8_t six[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x00}; /* 6 bytes */
  static const uint8_t big[] = {0x81, 0x80, 0x80, 0x80, 0x10};       /* over 32 bits */
  static const uint8_t two[] = {0x02};
  static const uint8_t cut[] = {0x81, 0x80};                         /* unterminated */
  assert_null(padded_table_index(one, sizeof one, &v));
  assert_int_equal(v, 7);
  v = 0;
  assert_null(padded_table_index(one5, sizeof one5, &v));
  assert_int_equal(v, 7);
  v = 0;
  assert_null(padded_table_index(one2, sizeof one2, &v));
  assert_int_equal(v, 7);
  /* table 0 has a null entry 0 */
  assert_ptr_equal(padded_table_index(zero5, sizeof zero5, &v),
                   arq_wasm_err_trap_uninitialized_element);
  assert_ptr_equal(padded_table_index(six, sizeof six, &v), arq_wasm_err_leb_too_long);
  assert_ptr_equal(padded_table_index(big, sizeof big, &v), arq_wasm_err_leb_too_large);
  assert_ptr_equal(padded_table_index(two, sizeof two, &v), arq_wasm_err_unknown_table);
  assert_non_null(padded_table_index(cut, sizeof cut, &v));
}

/* A module with one i32 global whose initialiser is `init` (without its end). */
static arq_wasm_result_t global_init(const uint8_t *init, size_t n, bool mut) {
  mod_t m;
  header(&m);
  uint8_t g[256] = {0x01, 0x7f, mut ? 0x01 : 0x00};
  assert_true(n + 4 <= sizeof g);
  memcpy(g + 3, init, n);
  g[3 + n] = 0x0b;
  section(&m, 6, g, n + 4);
  arq_wasm_module_t *mod = NULL;
  arq_wasm_result_t r = arq_wasm_module_load(m.b, m.n, &mod);
  arq_wasm_module_free(mod);
  return r;
}

static void test_hostile_const_exprs(void **state) {
  (void)state;
  static const uint8_t add[] = {0x41, 0x01, 0x41, 0x02, 0x6a};
  static const uint8_t add_one[] = {0x41, 0x01, 0x6a};          /* one operand */
  static const uint8_t add_none[] = {0x6a};
  static const uint8_t add_i64[] = {0x42, 0x01, 0x42, 0x02, 0x7c}; /* i64 for an i32 global */
  static const uint8_t mixed[] = {0x41, 0x01, 0x42, 0x02, 0x6a};
  static const uint8_t two_left[] = {0x41, 0x01, 0x41, 0x02};
  static const uint8_t self[] = {0x23, 0x00};                   /* itself: not preceding */
  static const uint8_t div[] = {0x41, 0x01, 0x41, 0x01, 0x6d};  /* i32.div_s: not constant */
  static const uint8_t cut[] = {0x41, 0x01, 0x41};
  assert_null(global_init(add, sizeof add, false));
  assert_null(global_init(add, sizeof add, true));
  assert_ptr_equal(global_init(add_one, sizeof add_one, false), arq_wasm_err_type_mismatch);
  assert_ptr_equal(global_init(add_none, sizeof add_none, false), arq_wasm_err_type_mismatch);
  assert_ptr_equal(global_init(add_i64, sizeof add_i64, false), arq_wasm_err_type_mismatch);
  assert_ptr_equal(global_init(mixed, sizeof mixed, false), arq_wasm_err_type_mismatch);
  assert_ptr_equal(global_init(two_left, sizeof two_left, false), arq_wasm_err_type_mismatch);
  assert_ptr_equal(global_init(self, sizeof self, false), arq_wasm_err_unknown_global);
  assert_ptr_equal(global_init(div, sizeof div, false), arq_wasm_err_const_expr_required);
  assert_non_null(global_init(cut, sizeof cut, false));
  /* a deep stack: 64 constants fit, the 65th is refused before it is read */
  uint8_t deep[2 * 65 + 64];
  size_t n = 0;
  for (int i = 0; i < 64; i++)
    deep[n++] = 0x41, deep[n++] = 0x01;
  for (int i = 0; i < 63; i++)
    deep[n++] = 0x6a;
  assert_null(global_init(deep, n, false));
  n = 0;
  for (int i = 0; i < 65; i++)
    deep[n++] = 0x41, deep[n++] = 0x01;
  for (int i = 0; i < 64; i++)
    deep[n++] = 0x6a;
  assert_ptr_equal(global_init(deep, n, false), arq_wasm_err_limit_nesting);
}

/* A module declaring `ntables` tables of `min` entries each. */
static arq_wasm_result_t many_tables(uint32_t ntables, uint32_t min, bool instantiate) {
  mod_t m;
  header(&m);
  uint8_t t[400];
  size_t n = 0;
  t[n++] = (uint8_t)ntables;
  for (uint32_t i = 0; i < ntables; i++) {
    t[n++] = 0x70;
    t[n++] = 0x00;
    uint32_t v = min;
    do {
      t[n] = (uint8_t)(v & 0x7f);
      v >>= 7;
      if (v)
        t[n] |= 0x80;
      n++;
    } while (v);
  }
  section(&m, 4, t, n);
  arq_wasm_module_t *mod = NULL;
  arq_wasm_result_t r = arq_wasm_module_load(m.b, m.n, &mod);
  if (!r && instantiate) {
    arq_wasm_instance_t *inst = NULL;
    r = arq_wasm_instantiate(mod, NULL, 0, NULL, &inst);
    arq_wasm_instance_free(inst);
  }
  arq_wasm_module_free(mod);
  return r;
}

static void test_table_limits(void **state) {
  (void)state;
  assert_null(many_tables(3, 1, true));
  assert_null(many_tables(2, 500000, true));
  /* together the own tables hold at most ARQ_WASM_MAX_TABLE elements */
  assert_ptr_equal(many_tables(2, 600000, true), arq_wasm_err_limit_table);
  assert_ptr_equal(many_tables(101, 0, false), arq_wasm_err_limit_count);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_segments_and_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_init_copy_and_reset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fuel, setup, teardown),
      cmocka_unit_test(test_padded_table_index),
      cmocka_unit_test(test_hostile_const_exprs),
      cmocka_unit_test(test_table_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
