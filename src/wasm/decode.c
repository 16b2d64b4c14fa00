/*
 * decode.c — the binary format: sections into module tables.
 *
 * DESIGN
 *   One forward pass over the module's private copy of the bytes with a reader
 *   bounded by the current section's end. Every vector count is checked against the
 *   bytes left (each entry takes at least one byte) and against a sane ceiling
 *   before anything is allocated. Index-space checks that need only the sections
 *   already seen (types, imports, start, exports) happen here; function bodies are
 *   validated by compile.c once all sections are known.
 */
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "wasm/internal.h"

/* ---- LEB128 and friends ------------------------------------------------------------- */

arq_wasm_result_t arq__read_byte(arq__reader_t *r, uint8_t *out) {
  if (r->p >= r->end)
    return arq_wasm_err_unexpected_end;
  *out = *r->p++;
  return NULL;
}

static arq_wasm_result_t read_uleb(arq__reader_t *r, unsigned bits, uint64_t *out) {
  uint64_t v = 0;
  unsigned shift = 0;
  for (;;) {
    uint8_t b;
    TRY(arq__read_byte(r, &b));
    if (shift + 7 >= bits && shift < 64) {
      /* last permitted byte: no continuation, unused bits must be zero */
      unsigned used = bits - shift;
      if (b & 0x80)
        return arq_wasm_err_leb_too_long;
      if (used < 7 && (b >> used) != 0)
        return arq_wasm_err_leb_too_large;
      v |= (uint64_t)b << shift;
      *out = v;
      return NULL;
    }
    v |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) {
      *out = v;
      return NULL;
    }
  }
}

static arq_wasm_result_t read_sleb(arq__reader_t *r, unsigned bits, int64_t *out) {
  uint64_t v = 0;
  unsigned shift = 0;
  for (;;) {
    uint8_t b;
    TRY(arq__read_byte(r, &b));
    if (shift + 7 >= bits) {
      unsigned used = bits - shift; /* 1..7 bits of payload in this byte */
      if (b & 0x80)
        return arq_wasm_err_leb_too_long;
      /* the bits above `used` must all equal the sign bit */
      uint8_t sign = (uint8_t)((b >> (used - 1)) & 1);
      uint8_t rest = (uint8_t)((b & 0x7f) >> used);
      uint8_t expect = (uint8_t)(sign ? 0x7f >> used : 0);
      if (rest != expect)
        return arq_wasm_err_leb_too_large;
      v |= (uint64_t)(b & 0x7f) << shift;
      shift += 7;
      break;
    }
    v |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80))
      break;
  }
  if (shift < 64 && (v >> (shift - 1)) & 1)
    v |= ~(uint64_t)0 << shift;
  memcpy(out, &v, sizeof v);
  return NULL;
}

arq_wasm_result_t arq__read_u32(arq__reader_t *r, uint32_t *out) {
  uint64_t v;
  TRY(read_uleb(r, 32, &v));
  *out = (uint32_t)v;
  return NULL;
}

arq_wasm_result_t arq__read_i32(arq__reader_t *r, int32_t *out) {
  int64_t v;
  TRY(read_sleb(r, 32, &v));
  *out = (int32_t)v;
  return NULL;
}

arq_wasm_result_t arq__read_i64(arq__reader_t *r, int64_t *out) { return read_sleb(r, 64, out); }

arq_wasm_result_t arq__read_s33(arq__reader_t *r, int64_t *out) { return read_sleb(r, 33, out); }

bool arq__functype_equal(const arq_wasm_functype_t *a, const arq_wasm_functype_t *b) {
  if (a == b)
    return true;
  return a->nparams == b->nparams && a->nresults == b->nresults &&
         !memcmp(a->params, b->params, a->nparams) &&
         !memcmp(a->results, b->results, a->nresults);
}

/* ---- pieces ------------------------------------------------------------------------- */

/* Reads a vector count and refuses counts that cannot fit in the bytes left. */
static arq_wasm_result_t read_count(arq__reader_t *r, uint32_t ceiling, uint32_t *out) {
  TRY(arq__read_u32(r, out));
  if (*out > (size_t)(r->end - r->p))
    return arq_wasm_err_unexpected_end;
  if (*out > ceiling)
    return arq_wasm_err_limit_count;
  return NULL;
}

static arq_wasm_result_t read_name(arq__reader_t *r, const char **out, uint32_t *len) {
  uint32_t n;
  TRY(arq__read_u32(r, &n));
  if (n > (size_t)(r->end - r->p))
    return arq_wasm_err_unexpected_end;
  if (!arq_utf8_valid(r->p, n))
    return arq_wasm_err_bad_utf8;
  *out = (const char *)r->p;
  *len = n;
  r->p += n;
  return NULL;
}

/* Names are stored NUL-terminated in a side allocation so the API can hand out C strings. */
static char *dup_name(const char *s, uint32_t n) {
  char *c = malloc((size_t)n + 1);
  if (c) {
    memcpy(c, s, n);
    c[n] = 0;
  }
  return c;
}

static arq_wasm_result_t read_valtype(arq__reader_t *r, uint8_t *out) {
  TRY(arq__read_byte(r, out));
  switch (*out) {
  case ARQ_WASM_I32:
  case ARQ_WASM_I64:
  case ARQ_WASM_F32:
  case ARQ_WASM_F64:
  case ARQ_WASM_FUNCREF:
  case ARQ_WASM_EXTERNREF:
    return NULL;
  case 0x7b:
    return arq_wasm_err_unsupported_simd;
  case 0x63:
  case 0x64:
    return arq_wasm_err_unsupported_gc;
  default:
    return arq_wasm_err_bad_valtype;
  }
}

static arq_wasm_result_t read_limits(arq__reader_t *r, arq__limits_t *l, bool memory) {
  uint8_t flags;
  TRY(arq__read_byte(r, &flags));
  if (flags == 2 || flags == 3)
    return memory ? arq_wasm_err_unsupported_threads : arq_wasm_err_bad_limits;
  if (flags >= 4 && flags <= 7)
    return memory ? arq_wasm_err_unsupported_memory64 : arq_wasm_err_bad_limits;
  if (flags > 1)
    return arq_wasm_err_bad_limits;
  TRY(arq__read_u32(r, &l->min));
  l->max = UINT32_MAX;
  if (flags == 1)
    TRY(arq__read_u32(r, &l->max));
  if (memory) {
    if (l->min > ARQ__MAX_PAGES || (flags == 1 && l->max > ARQ__MAX_PAGES))
      return arq_wasm_err_memory_too_big;
  }
  if (flags == 1 && l->min > l->max)
    return arq_wasm_err_limits_min_max;
  return NULL;
}

static arq_wasm_result_t read_tabletype(arq__reader_t *r, arq__limits_t *l) {
  uint8_t et;
  TRY(arq__read_byte(r, &et));
  if (et == 0x63 || et == 0x64)
    return arq_wasm_err_unsupported_gc;
  if (et != ARQ_WASM_FUNCREF && et != ARQ_WASM_EXTERNREF)
    return arq_wasm_err_bad_elemkind;
  TRY(read_limits(r, l, false));
  l->type = et;
  return NULL;
}

/* Function `f` may be named by ref.func in code (spec: the module's declared references). */
static arq_wasm_result_t declare_func(arq_wasm_module_t *m, uint32_t f) {
  m->funcs[f].declared = true;
  return NULL;
}

static arq_wasm_result_t read_reftype(arq__reader_t *r, uint8_t *t) {
  TRY(arq__read_byte(r, t));
  if (*t == ARQ_WASM_FUNCREF || *t == ARQ_WASM_EXTERNREF)
    return NULL;
  if (*t == 0x63 || *t == 0x64)
    return arq_wasm_err_unsupported_gc;
  return arq_wasm_err_bad_valtype;
}

static arq_wasm_result_t read_mut(arq__reader_t *r, uint8_t *mut) {
  TRY(arq__read_byte(r, mut));
  if (*mut > 1)
    return arq_wasm_err_bad_mutability;
  return NULL;
}

/* Constant expressions: WebAssembly 2.0 plus extended constant expressions. Constants,
 * global.get of an immutable global (in a global's initialiser only a preceding one:
 * `m->nglobals` counts the globals decoded so far) and i32/i64 add, sub and mul, ending
 * with one value of `type`. A lone constant or global.get is kept decoded (kind 0, 1);
 * a longer expression is validated here and re-read when evaluated (kind 2). */
static arq_wasm_result_t read_const_expr(arq_wasm_module_t *m, arq__reader_t *r, uint8_t type,
                                         arq__const_expr_t *e) {
  uint8_t stack[ARQ__CONST_EXPR_DEPTH];
  uint32_t depth = 0, ninstr = 0;
  const uint8_t *start = r->p;
  memset(e, 0, sizeof *e);
  for (;;) {
    uint8_t op;
    TRY(arq__read_byte(r, &op));
    if (op == 0x0b)
      break;
    uint8_t push = 0;
    switch (op) {
    case 0x41: {
      int32_t v;
      TRY(arq__read_i32(r, &v));
      e->value = (uint32_t)v;
      push = ARQ_WASM_I32;
      break;
    }
    case 0x42: {
      int64_t v;
      TRY(arq__read_i64(r, &v));
      e->value = (uint64_t)v;
      push = ARQ_WASM_I64;
      break;
    }
    case 0x43: {
      if (r->end - r->p < 4)
        return arq_wasm_err_unexpected_end;
      uint32_t v;
      memcpy(&v, r->p, 4);
      r->p += 4;
      e->value = v;
      push = ARQ_WASM_F32;
      break;
    }
    case 0x44: {
      if (r->end - r->p < 8)
        return arq_wasm_err_unexpected_end;
      memcpy(&e->value, r->p, 8);
      r->p += 8;
      push = ARQ_WASM_F64;
      break;
    }
    case 0x23: {
      uint32_t g;
      TRY(arq__read_u32(r, &g));
      if (g >= m->nglobals)
        return arq_wasm_err_unknown_global;
      if (m->globals[g].mut)
        return arq_wasm_err_const_expr_required;
      e->kind = 1;
      e->global = g;
      push = m->globals[g].type;
      break;
    }
    case 0x6a: case 0x6b: case 0x6c:   /* i32.add, i32.sub, i32.mul */
    case 0x7c: case 0x7d: case 0x7e: { /* i64.add, i64.sub, i64.mul */
      uint8_t t = op < 0x70 ? ARQ_WASM_I32 : ARQ_WASM_I64;
      if (depth < 2 || stack[depth - 1] != t || stack[depth - 2] != t)
        return arq_wasm_err_type_mismatch;
      depth--;
      ninstr = 2; /* never a single instruction */
      continue;
    }
    case 0xd0: /* ref.null */
      TRY(read_reftype(r, &push));
      e->value = 0;
      break;
    case 0xd2: { /* ref.func */
      uint32_t f;
      TRY(arq__read_u32(r, &f));
      if (f >= m->nfuncs)
        return arq_wasm_err_unknown_func;
      TRY(declare_func(m, f));
      e->kind = 3;
      e->value = f;
      push = ARQ_WASM_FUNCREF;
      break;
    }
    default:
      return arq_wasm_err_const_expr_required;
    }
    if (depth == ARQ__CONST_EXPR_DEPTH)
      return arq_wasm_err_limit_nesting;
    stack[depth++] = push;
    ninstr++;
  }
  if (depth != 1 || stack[0] != type)
    return arq_wasm_err_type_mismatch;
  e->type = type;
  if (ninstr > 1) {
    e->kind = 2;
    e->code = start;
  }
  return NULL;
}

/* ---- sections ----------------------------------------------------------------------- */

static arq_wasm_result_t sec_type(arq_wasm_module_t *m, arq__reader_t *r) {
  uint32_t n;
  TRY(read_count(r, ARQ_WASM_MAX_FUNCTIONS, &n));
  /* every type takes at least 3 bytes and contributes at most len bytes of value types */
  size_t storage = (size_t)(r->end - r->p);
  m->types = calloc(n ? n : 1, sizeof *m->types);
  m->type_storage = malloc(storage ? storage : 1);
  if (!m->types || !m->type_storage)
    return arq_wasm_err_out_of_memory;
  size_t used = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t form;
    TRY(arq__read_byte(r, &form));
    if (form == 0x5e || form == 0x5f || form == 0x4e || form == 0x50 || form == 0x4f)
      return arq_wasm_err_unsupported_gc;
    if (form != 0x60)
      return arq_wasm_err_bad_functype;
    arq_wasm_functype_t *t = &m->types[i];
    for (int part = 0; part < 2; part++) {
      uint32_t k;
      TRY(read_count(r, ARQ_WASM_MAX_ARITY, &k));
      uint8_t *dst = m->type_storage + used;
      for (uint32_t j = 0; j < k; j++)
        TRY(read_valtype(r, &dst[j]));
      used += k;
      if (part == 0) {
        t->nparams = k;
        t->params = dst;
      } else {
        t->nresults = k;
        t->results = dst;
      }
    }
    m->ntypes = i + 1;
  }
  return NULL;
}

static arq_wasm_result_t add_table(arq_wasm_module_t *m, const arq__limits_t *l) {
  if (m->ntables >= ARQ_WASM_MAX_TABLES)
    return arq_wasm_err_limit_count;
  arq__limits_t *t = realloc(m->tables, (m->ntables + 1) * sizeof *t);
  if (!t)
    return arq_wasm_err_out_of_memory;
  m->tables = t;
  t[m->ntables++] = *l;
  return NULL;
}

static arq_wasm_result_t sec_import(arq_wasm_module_t *m, arq__reader_t *r) {
  uint32_t n;
  TRY(read_count(r, ARQ_WASM_MAX_FUNCTIONS, &n));
  m->imports = calloc(n ? n : 1, sizeof *m->imports);
  /* globals are allocated once their final count is known (global section); imported
   * ones are counted here and stored in a temporary array sized by n */
  m->globals = calloc(n ? n : 1, sizeof *m->globals);
  m->funcs = calloc(n ? n : 1, sizeof *m->funcs);
  if (!m->imports || !m->globals || !m->funcs)
    return arq_wasm_err_out_of_memory;
  for (uint32_t i = 0; i < n; i++) {
    arq__import_t *im = &m->imports[i];
    const char *mod, *name;
    TRY(read_name(r, &mod, &im->module_len));
    TRY(read_name(r, &name, &im->name_len));
    im->module = dup_name(mod, im->module_len);
    im->name = dup_name(name, im->name_len);
    m->nimports = i + 1;
    if (!im->module || !im->name)
      return arq_wasm_err_out_of_memory;
    TRY(arq__read_byte(r, &im->kind));
    switch (im->kind) {
    case ARQ_WASM_EXTERN_FUNC:
      TRY(arq__read_u32(r, &im->type));
      if (im->type >= m->ntypes)
        return arq_wasm_err_unknown_type;
      m->funcs[m->nfunc_imports++].type = im->type;
      break;
    case ARQ_WASM_EXTERN_TABLE:
      TRY(read_tabletype(r, &im->limits));
      TRY(add_table(m, &im->limits));
      m->ntable_imports++;
      break;
    case ARQ_WASM_EXTERN_MEMORY:
      TRY(read_limits(r, &im->limits, true));
      if (m->has_memory)
        return arq_wasm_err_multiple_memories;
      m->has_memory = m->memory_imported = true;
      m->memory = im->limits;
      break;
    case ARQ_WASM_EXTERN_GLOBAL:
      TRY(read_valtype(r, &im->global_type));
      TRY(read_mut(r, &im->global_mut));
      m->globals[m->nglobal_imports].type = im->global_type;
      m->globals[m->nglobal_imports].mut = im->global_mut;
      m->nglobal_imports++;
      break;
    case 4:
      return arq_wasm_err_unsupported_exceptions;
    default:
      return arq_wasm_err_bad_import_kind;
    }
  }
  m->nfuncs = m->nfunc_imports;
  m->nglobals = m->nglobal_imports;
  return NULL;
}

static arq_wasm_result_t sec_function(arq_wasm_module_t *m, arq__reader_t *r) {
  uint32_t n;
  TRY(read_count(r, ARQ_WASM_MAX_FUNCTIONS, &n));
  if ((uint64_t)n + m->nfunc_imports > ARQ_WASM_MAX_FUNCTIONS)
    return arq_wasm_err_limit_count;
  arq__func_t *f = realloc(m->funcs, ((size_t)m->nfuncs + n + 1) * sizeof *f);
  if (!f)
    return arq_wasm_err_out_of_memory;
  m->funcs = f;
  for (uint32_t i = 0; i < n; i++) {
    arq__func_t *d = &m->funcs[m->nfuncs];
    memset(d, 0, sizeof *d);
    TRY(arq__read_u32(r, &d->type));
    if (d->type >= m->ntypes)
      return arq_wasm_err_unknown_type;
    m->nfuncs++;
  }
  return NULL;
}

static arq_wasm_result_t sec_table(arq_wasm_module_t *m, arq__reader_t *r) {
  uint32_t n;
  TRY(read_count(r, ARQ_WASM_MAX_TABLES, &n));
  for (uint32_t i = 0; i < n; i++) {
    arq__limits_t l;
    TRY(read_tabletype(r, &l));
    TRY(add_table(m, &l));
  }
  return NULL;
}

static arq_wasm_result_t sec_memory(arq_wasm_module_t *m, arq__reader_t *r) {
  uint32_t n;
  TRY(read_count(r, 16, &n));
  for (uint32_t i = 0; i < n; i++) {
    arq__limits_t l;
    TRY(read_limits(r, &l, true));
    if (m->has_memory)
      return arq_wasm_err_multiple_memories;
    m->has_memory = true;
    m->memory = l;
  }
  return NULL;
}

static arq_wasm_result_t sec_global(arq_wasm_module_t *m, arq__reader_t *r) {
  uint32_t n;
  TRY(read_count(r, ARQ_WASM_MAX_FUNCTIONS, &n));
  if ((uint64_t)n + m->nglobals > ARQ_WASM_MAX_FUNCTIONS)
    return arq_wasm_err_limit_count;
  arq__global_t *g = realloc(m->globals, ((size_t)m->nglobals + n + 1) * sizeof *g);
  if (!g)
    return arq_wasm_err_out_of_memory;
  m->globals = g;
  for (uint32_t i = 0; i < n; i++) {
    arq__global_t *d = &m->globals[m->nglobals];
    memset(d, 0, sizeof *d);
    TRY(read_valtype(r, &d->type));
    TRY(read_mut(r, &d->mut));
    TRY(read_const_expr(m, r, d->type, &d->init));
    m->nglobals++;
  }
  return NULL;
}

static int cmp_export(const void *a, const void *b) {
  const arq__export_t *x = a, *y = b;
  if (x->name_len != y->name_len)
    return x->name_len < y->name_len ? -1 : 1;
  return memcmp(x->name, y->name, x->name_len);
}

static arq_wasm_result_t sec_export(arq_wasm_module_t *m, arq__reader_t *r) {
  uint32_t n;
  TRY(read_count(r, ARQ_WASM_MAX_FUNCTIONS, &n));
  m->exports = calloc(n ? n : 1, sizeof *m->exports);
  if (!m->exports)
    return arq_wasm_err_out_of_memory;
  for (uint32_t i = 0; i < n; i++) {
    arq__export_t *e = &m->exports[i];
    const char *name;
    TRY(read_name(r, &name, &e->name_len));
    e->name = dup_name(name, e->name_len);
    m->nexports = i + 1;
    if (!e->name)
      return arq_wasm_err_out_of_memory;
    TRY(arq__read_byte(r, &e->kind));
    TRY(arq__read_u32(r, &e->index));
    switch (e->kind) {
    case ARQ_WASM_EXTERN_FUNC:
      if (e->index >= m->nfuncs)
        return arq_wasm_err_unknown_func;
      TRY(declare_func(m, e->index));
      break;
    case ARQ_WASM_EXTERN_TABLE:
      if (e->index >= m->ntables)
        return arq_wasm_err_unknown_table;
      break;
    case ARQ_WASM_EXTERN_MEMORY:
      if (e->index != 0 || !m->has_memory)
        return arq_wasm_err_unknown_memory;
      break;
    case ARQ_WASM_EXTERN_GLOBAL:
      if (e->index >= m->nglobals)
        return arq_wasm_err_unknown_global;
      break;
    case 4:
      return arq_wasm_err_unsupported_exceptions;
    default:
      return arq_wasm_err_bad_export_kind;
    }
  }
  /* duplicate names: sort a copy */
  arq__export_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
  if (!sorted)
    return arq_wasm_err_out_of_memory;
  memcpy(sorted, m->exports, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, cmp_export);
  arq_wasm_result_t res = NULL;
  for (uint32_t i = 1; i < n; i++)
    if (!cmp_export(&sorted[i - 1], &sorted[i]))
      res = arq_wasm_err_duplicate_export;
  free(sorted);
  return res;
}

static arq_wasm_result_t sec_start(arq_wasm_module_t *m, arq__reader_t *r) {
  TRY(arq__read_u32(r, &m->start));
  if (m->start >= m->nfuncs)
    return arq_wasm_err_unknown_func;
  const arq_wasm_functype_t *t = &m->types[m->funcs[m->start].type];
  if (t->nparams || t->nresults)
    return arq_wasm_err_start_function;
  m->has_start = true;
  return NULL;
}

/* One element expression of type `type`: ref.null, ref.func or global.get of an immutable
 * global of that type (encoded as in arq__elem_t). */
static arq_wasm_result_t read_elem_expr(arq_wasm_module_t *m, arq__reader_t *r, uint8_t type,
                                        uint32_t *out) {
  arq__const_expr_t e;
  TRY(read_const_expr(m, r, type, &e));
  switch (e.kind) {
  case 0: *out = ARQ__ELEM_NULL; return NULL;
  case 1: *out = ARQ__ELEM_GLOBAL | e.global; return NULL;
  case 3: *out = (uint32_t)e.value; return NULL;
  default: return arq_wasm_err_const_expr_required; /* arithmetic has no reference type */
  }
}

static arq_wasm_result_t sec_elem(arq_wasm_module_t *m, arq__reader_t *r) {
  uint32_t n;
  TRY(read_count(r, ARQ_WASM_MAX_FUNCTIONS, &n));
  m->elems = calloc(n ? n : 1, sizeof *m->elems);
  if (!m->elems)
    return arq_wasm_err_out_of_memory;
  for (uint32_t i = 0; i < n; i++) {
    arq__elem_t *e = &m->elems[i];
    m->nelems = i + 1;
    uint32_t flags;
    TRY(arq__read_u32(r, &flags));
    if (flags > 7)
      return arq_wasm_err_bad_segment_flags;
    bool passive_or_decl = flags & 1, explicit_table = flags & 2, exprs = flags & 4;
    e->mode = passive_or_decl ? (explicit_table ? 2 : 1) : 0;
    e->type = ARQ_WASM_FUNCREF;
    if (e->mode == 0) {
      uint32_t table = 0;
      if (explicit_table)
        TRY(arq__read_u32(r, &table));
      if (table >= m->ntables)
        return arq_wasm_err_unknown_table;
      e->table = table;
      TRY(read_const_expr(m, r, ARQ_WASM_I32, &e->offset));
    }
    if (passive_or_decl || explicit_table) {
      if (exprs) {
        TRY(read_reftype(r, &e->type));
      } else {
        uint8_t kind;
        TRY(arq__read_byte(r, &kind));
        if (kind != 0x00)
          return arq_wasm_err_bad_elemkind;
      }
    }
    if (e->mode == 0 && m->tables[e->table].type != e->type)
      return arq_wasm_err_type_mismatch;
    TRY(read_count(r, ARQ_WASM_MAX_TABLE, &e->n));
    e->funcs = malloc((e->n ? e->n : 1) * sizeof *e->funcs);
    if (!e->funcs)
      return arq_wasm_err_out_of_memory;
    for (uint32_t j = 0; j < e->n; j++) {
      if (exprs) {
        TRY(read_elem_expr(m, r, e->type, &e->funcs[j]));
      } else {
        TRY(arq__read_u32(r, &e->funcs[j]));
        if (e->funcs[j] >= m->nfuncs)
          return arq_wasm_err_unknown_func;
        TRY(declare_func(m, e->funcs[j]));
      }
    }
  }
  return NULL;
}

static arq_wasm_result_t sec_code(arq_wasm_module_t *m, arq__reader_t *r) {
  uint32_t n;
  TRY(read_count(r, ARQ_WASM_MAX_FUNCTIONS, &n));
  if (n != m->nfuncs - m->nfunc_imports)
    return arq_wasm_err_func_code_mismatch;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t size;
    TRY(arq__read_u32(r, &size));
    if (size > (size_t)(r->end - r->p))
      return arq_wasm_err_unexpected_end;
    arq__func_t *f = &m->funcs[m->nfunc_imports + i];
    f->body = r->p;
    f->body_len = size;
    r->p += size;
  }
  return NULL;
}

static arq_wasm_result_t sec_data(arq_wasm_module_t *m, arq__reader_t *r) {
  uint32_t n;
  TRY(read_count(r, ARQ_WASM_MAX_FUNCTIONS, &n));
  if (m->has_data_count && n != m->data_count)
    return arq_wasm_err_data_count_mismatch;
  m->datas = calloc(n ? n : 1, sizeof *m->datas);
  if (!m->datas)
    return arq_wasm_err_out_of_memory;
  for (uint32_t i = 0; i < n; i++) {
    arq__data_t *d = &m->datas[i];
    m->ndatas = i + 1;
    uint32_t flags;
    TRY(arq__read_u32(r, &flags));
    if (flags > 2)
      return arq_wasm_err_bad_segment_flags;
    d->mode = flags == 1;
    if (d->mode == 0) {
      uint32_t mem = 0;
      if (flags == 2)
        TRY(arq__read_u32(r, &mem));
      if (mem != 0 || !m->has_memory)
        return arq_wasm_err_unknown_memory;
      TRY(read_const_expr(m, r, ARQ_WASM_I32, &d->offset));
    }
    TRY(arq__read_u32(r, &d->len));
    if (d->len > (size_t)(r->end - r->p))
      return arq_wasm_err_unexpected_end;
    d->bytes = r->p;
    r->p += d->len;
  }
  return NULL;
}

/* Position of each known section id in the required order (custom sections excepted). */
static int section_rank(uint8_t id) {
  static const int8_t rank[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11};
  return id < sizeof rank ? rank[id] : -1;
}

arq_wasm_result_t arq__decode(arq_wasm_module_t *m, size_t *err_offset) {
  arq__reader_t r = {m->bytes, m->bytes + m->len};
  arq_wasm_result_t res = NULL;
  if (m->len < 4 || memcmp(m->bytes, "\0asm", 4)) {
    res = arq_wasm_err_bad_magic;
    goto out;
  }
  r.p += 4;
  if (m->len < 8) {
    res = arq_wasm_err_unexpected_end;
    goto out;
  }
  if (memcmp(r.p, "\1\0\0\0", 4)) {
    res = arq_wasm_err_bad_version;
    goto out;
  }
  r.p += 4;
  int last = 0;
  bool saw_code = false, saw_function = false;
  while (r.p < r.end) {
    uint8_t id;
    uint32_t size;
    if ((res = arq__read_byte(&r, &id)))
      goto out;
    if (id == 13) {
      res = arq_wasm_err_unsupported_exceptions;
      goto out;
    }
    int rank = section_rank(id);
    if (rank < 0) {
      res = arq_wasm_err_bad_section_id;
      goto out;
    }
    if ((res = arq__read_u32(&r, &size)))
      goto out;
    if (size > (size_t)(r.end - r.p)) {
      res = arq_wasm_err_unexpected_end;
      goto out;
    }
    arq__reader_t s = {r.p, r.p + size};
    if (id != 0) {
      if (rank <= last) {
        res = arq_wasm_err_section_order;
        goto out;
      }
      last = rank;
    }
    switch (id) {
    case 0: {
      const char *name;
      uint32_t nlen;
      res = read_name(&s, &name, &nlen);
      s.p = s.end;
      break;
    }
    case 1: res = sec_type(m, &s); break;
    case 2: res = sec_import(m, &s); break;
    case 3: res = sec_function(m, &s), saw_function = true; break;
    case 4: res = sec_table(m, &s); break;
    case 5: res = sec_memory(m, &s); break;
    case 6: res = sec_global(m, &s); break;
    case 7: res = sec_export(m, &s); break;
    case 8: res = sec_start(m, &s); break;
    case 9: res = sec_elem(m, &s); break;
    case 10: res = sec_code(m, &s), saw_code = true; break;
    case 11: res = sec_data(m, &s); break;
    case 12:
      res = arq__read_u32(&s, &m->data_count);
      if (!res && m->data_count > ARQ_WASM_MAX_FUNCTIONS)
        res = arq_wasm_err_limit_count;
      m->has_data_count = true;
      break;
    }
    if (res) {
      r.p = s.p;
      goto out;
    }
    if (s.p != s.end) {
      r.p = s.p;
      res = arq_wasm_err_section_size;
      goto out;
    }
    r.p = s.end;
    /* sections that other sections depend on get placeholders when absent */
    if (id == 11)
      last = 13;
  }
  (void)saw_function;
  if (!saw_code && m->nfuncs != m->nfunc_imports) {
    res = arq_wasm_err_func_code_mismatch;
    goto out;
  }
  if (m->has_data_count && m->data_count != m->ndatas) {
    res = arq_wasm_err_data_count_mismatch;
    goto out;
  }
out:
  if (res && err_offset)
    *err_offset = (size_t)(r.p - m->bytes);
  return res;
}
