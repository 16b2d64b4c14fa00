/*
 * instance.c — modules and instances: load, link, instantiate, call, reset.
 *
 * DESIGN
 *   Loading copies the bytes, decodes them (decode.c) and compiles every defined
 *   function (compile.c), so a module that loads is fully validated.
 *
 *   Instantiation resolves imports by module and field name and checks their
 *   types, then creates the instance's own memory, table and globals. All segment
 *   bounds are checked before any segment is written (so a module that does not fit
 *   leaves imported memories and tables untouched); then the start function runs.
 *   Finally the state is captured for arq_wasm_reset(): a copy of the own memory,
 *   the own globals, the own tables (entries and size) and the dropped-segment flags.
 */
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

#define DEFAULT_PAGES ARQ__MAX_PAGES

/* ---- modules ------------------------------------------------------------------------ */

arq_wasm_result_t arq_wasm_module_load_diag(const uint8_t *bytes, size_t len,
                                            arq_wasm_module_t **out, size_t *err_offset) {
  *out = NULL;
  if (len > ARQ_WASM_MAX_MODULE_SIZE)
    return arq_wasm_err_limit_module_size;
  arq_wasm_module_t *m = calloc(1, sizeof *m);
  if (!m)
    return arq_wasm_err_out_of_memory;
  m->bytes = malloc(len ? len : 1);
  if (!m->bytes) {
    free(m);
    return arq_wasm_err_out_of_memory;
  }
  if (len)
    memcpy(m->bytes, bytes, len);
  m->len = len;
  arq_wasm_result_t r = arq__decode(m, err_offset);
  for (uint32_t i = m->nfunc_imports; !r && i < m->nfuncs; i++)
    r = arq__compile_function(m, i, err_offset);
  if (!r)
    arq__link_calls(m);
  if (r) {
    arq_wasm_module_free(m);
    return r;
  }
  *out = m;
  return NULL;
}

arq_wasm_result_t arq_wasm_module_load(const uint8_t *bytes, size_t len, arq_wasm_module_t **out) {
  return arq_wasm_module_load_diag(bytes, len, out, NULL);
}

void arq_wasm_module_free(arq_wasm_module_t *m) {
  if (!m)
    return;
  for (uint32_t i = 0; i < m->nimports; i++) {
    free((char *)m->imports[i].module);
    free((char *)m->imports[i].name);
  }
  for (uint32_t i = 0; i < m->nexports; i++)
    free((char *)m->exports[i].name);
  for (uint32_t i = 0; i < m->nfuncs && m->funcs; i++) {
    free(m->funcs[i].code);
    free(m->funcs[i].call_sites); /* left when loading failed */
  }
  for (uint32_t i = 0; i < m->nelems; i++)
    free(m->elems[i].funcs);
  free(m->imports);
  free(m->tables);
  free(m->exports);
  free(m->funcs);
  free(m->elems);
  free(m->datas);
  free(m->globals);
  free(m->types);
  free(m->type_storage);
  free(m->bytes);
  free(m);
}

static void describe_limits(const arq__limits_t *l, arq_wasm_extern_desc_t *out) {
  out->min = l->min;
  out->max = l->max;
  out->table_type = (arq_wasm_valtype_t)l->type;
}

size_t arq_wasm_module_import_count(const arq_wasm_module_t *m) { return m->nimports; }

void arq_wasm_module_import(const arq_wasm_module_t *m, size_t i, arq_wasm_extern_desc_t *out) {
  const arq__import_t *im = &m->imports[i];
  memset(out, 0, sizeof *out);
  out->module = im->module;
  out->module_len = im->module_len;
  out->name = im->name;
  out->name_len = im->name_len;
  out->kind = (arq_wasm_extern_kind_t)im->kind;
  if (im->kind == ARQ_WASM_EXTERN_FUNC)
    out->functype = &m->types[im->type];
  if (im->kind == ARQ_WASM_EXTERN_GLOBAL) {
    out->global_type = (arq_wasm_valtype_t)im->global_type;
    out->global_mutable = im->global_mut;
  }
  describe_limits(&im->limits, out);
}

size_t arq_wasm_module_export_count(const arq_wasm_module_t *m) { return m->nexports; }

void arq_wasm_module_export(const arq_wasm_module_t *m, size_t i, arq_wasm_extern_desc_t *out) {
  const arq__export_t *e = &m->exports[i];
  memset(out, 0, sizeof *out);
  out->name = e->name;
  out->name_len = e->name_len;
  out->kind = (arq_wasm_extern_kind_t)e->kind;
  switch (e->kind) {
  case ARQ_WASM_EXTERN_FUNC:
    out->functype = &m->types[m->funcs[e->index].type];
    break;
  case ARQ_WASM_EXTERN_GLOBAL:
    out->global_type = (arq_wasm_valtype_t)m->globals[e->index].type;
    out->global_mutable = m->globals[e->index].mut;
    break;
  case ARQ_WASM_EXTERN_TABLE:
    describe_limits(&m->tables[e->index], out);
    break;
  default:
    describe_limits(&m->memory, out);
    break;
  }
}

/* ---- host functions ----------------------------------------------------------------- */

arq_wasm_result_t arq_wasm_func_new_host(const uint8_t *params, uint32_t nparams,
                                         const uint8_t *results, uint32_t nresults,
                                         arq_wasm_host_fn fn, void *env,
                                         arq_wasm_func_t **out) {
  if (!fn || nparams > ARQ_WASM_MAX_LOCALS || nresults > ARQ_WASM_MAX_LOCALS)
    return arq_wasm_err_bad_argument;
  arq_wasm_func_t *f = calloc(1, sizeof *f + nparams + nresults + 1);
  if (!f)
    return arq_wasm_err_out_of_memory;
  if (nparams)
    memcpy(f->own_types, params, nparams);
  if (nresults)
    memcpy(f->own_types + nparams, results, nresults);
  f->own_type = (arq_wasm_functype_t){nparams, nresults, f->own_types, f->own_types + nparams};
  f->type = &f->own_type;
  f->nparams = nparams;
  f->nresults = nresults;
  f->host = fn;
  f->env = env;
  *out = f;
  return NULL;
}

void arq_wasm_func_free(arq_wasm_func_t *f) {
  if (f && f->host)
    free(f);
}

const arq_wasm_functype_t *arq_wasm_func_type(const arq_wasm_func_t *f) { return f->type; }

arq_wasm_result_t arq_wasm_call_read(arq_wasm_call_t *call, uint32_t addr, void *dst, uint32_t len) {
  arq_wasm_result_t r = arq_wasm_memory_read(call->inst->memory, addr, dst, len);
  return r ? arq_wasm_err_trap_oob_memory : NULL;
}

arq_wasm_result_t arq_wasm_call_write(arq_wasm_call_t *call, uint32_t addr, const void *src,
                                      uint32_t len) {
  arq_wasm_result_t r = arq_wasm_memory_write(call->inst->memory, addr, src, len);
  return r ? arq_wasm_err_trap_oob_memory : NULL;
}

arq_wasm_result_t arq_wasm_call_consume_fuel(arq_wasm_call_t *call, uint64_t units) {
  /* the fuel being spent is the running call's, which may have started in another
   * instance than the one that imported the host function */
  arq_wasm_instance_t *inst = call->runner;
  if (inst->fuel < units && (inst->fuel = arq__refuel(inst, inst->fuel, units)) < units) {
    inst->fuel = 0;
    return arq_wasm_err_trap_out_of_fuel;
  }
  inst->fuel -= units;
  return NULL;
}

__attribute__((noinline, cold)) uint64_t arq__refuel(arq_wasm_instance_t *runner, uint64_t fuel,
                                                     uint64_t n) {
  while (fuel < n && runner->refuel) {
    uint64_t more = runner->refuel(runner->refuel_arg, n - fuel);
    if (!more)
      break;
    fuel = more > UINT64_MAX - fuel ? UINT64_MAX : fuel + more;
  }
  return fuel;
}

arq_wasm_instance_t *arq_wasm_call_instance(arq_wasm_call_t *call) { return call->inst; }

/* ---- instantiation ------------------------------------------------------------------ */

static const arq_wasm_extern_t *find_import(const arq__import_t *im, const arq_wasm_extern_t *ext,
                                            size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!ext[i].module || !ext[i].name)
      continue;
    if (strlen(ext[i].module) == im->module_len && strlen(ext[i].name) == im->name_len &&
        !memcmp(ext[i].module, im->module, im->module_len) &&
        !memcmp(ext[i].name, im->name, im->name_len))
      return &ext[i];
  }
  return NULL;
}

static bool limits_match(uint32_t size, uint32_t max, const arq__limits_t *want) {
  if (size < want->min)
    return false;
  if (want->max != UINT32_MAX && (max == UINT32_MAX || max > want->max))
    return false;
  return true;
}

static arq_wasm_result_t link_imports(arq_wasm_instance_t *inst, const arq_wasm_extern_t *ext,
                                      size_t n) {
  const arq_wasm_module_t *m = inst->module;
  uint32_t fi = 0, gi = 0, ti = 0;
  for (uint32_t i = 0; i < m->nimports; i++) {
    const arq__import_t *im = &m->imports[i];
    const arq_wasm_extern_t *e = find_import(im, ext, n);
    if (!e)
      return arq_wasm_err_unknown_import;
    if ((uint8_t)e->kind != im->kind)
      return arq_wasm_err_incompatible_import;
    switch (im->kind) {
    case ARQ_WASM_EXTERN_FUNC:
      if (!e->of.func || !arq__functype_equal(e->of.func->type, &m->types[im->type]))
        return arq_wasm_err_incompatible_import;
      inst->funcs[fi++] = e->of.func;
      break;
    case ARQ_WASM_EXTERN_TABLE:
      if (!e->of.table || e->of.table->type != im->limits.type ||
          !limits_match(e->of.table->size, e->of.table->max, &im->limits))
        return arq_wasm_err_incompatible_import;
      inst->tables[ti++] = e->of.table;
      break;
    case ARQ_WASM_EXTERN_MEMORY: {
      const arq_wasm_memory_t *mem = e->of.memory;
      uint32_t max = mem ? (mem->max_pages >= ARQ__MAX_PAGES ? UINT32_MAX : mem->max_pages) : 0;
      if (!mem || !limits_match(mem->pages, max, &im->limits))
        return arq_wasm_err_incompatible_import;
      inst->memory = e->of.memory;
      break;
    }
    default:
      if (!e->of.global || e->of.global->type != im->global_type ||
          e->of.global->mut != im->global_mut)
        return arq_wasm_err_incompatible_import;
      inst->globals[gi++] = e->of.global;
      break;
    }
  }
  return NULL;
}

/* An extended constant expression, validated by decode.c (so every read succeeds and
 * the stack stays within its depth limit): i32/i64 add, sub and mul wrap. */
static uint64_t eval_const_code(const arq_wasm_instance_t *inst, const uint8_t *code) {
  uint64_t st[ARQ__CONST_EXPR_DEPTH];
  uint32_t n = 0;
  arq__reader_t r = {code, inst->module->bytes + inst->module->len};
  for (;;) {
    uint8_t op = 0x0b;
    (void)arq__read_byte(&r, &op);
    switch (op) {
    case 0x41: {
      int32_t v = 0;
      (void)arq__read_i32(&r, &v);
      st[n++] = (uint32_t)v;
      break;
    }
    case 0x42: {
      int64_t v = 0;
      (void)arq__read_i64(&r, &v);
      st[n++] = (uint64_t)v;
      break;
    }
    case 0x43: {
      uint32_t v;
      memcpy(&v, r.p, 4);
      r.p += 4;
      st[n++] = v;
      break;
    }
    case 0x44:
      memcpy(&st[n++], r.p, 8);
      r.p += 8;
      break;
    case 0x23: {
      uint32_t g = 0;
      (void)arq__read_u32(&r, &g);
      st[n++] = inst->globals[g]->val;
      break;
    }
    case 0x6a: n--; st[n - 1] = (uint32_t)(st[n - 1] + st[n]); break;
    case 0x6b: n--; st[n - 1] = (uint32_t)(st[n - 1] - st[n]); break;
    case 0x6c: n--; st[n - 1] = (uint32_t)((uint32_t)st[n - 1] * (uint32_t)st[n]); break;
    case 0x7c: n--; st[n - 1] = st[n - 1] + st[n]; break;
    case 0x7d: n--; st[n - 1] = st[n - 1] - st[n]; break;
    case 0x7e: n--; st[n - 1] = st[n - 1] * st[n]; break;
    default: /* 0x0b: end */
      return n ? st[n - 1] : 0;
    }
  }
}

static uint64_t eval_const(const arq_wasm_instance_t *inst, const arq__const_expr_t *e) {
  if (e->kind == 3)
    return (uint64_t)(uintptr_t)inst->funcs[e->value];
  if (e->kind == 2)
    return eval_const_code(inst, e->code);
  return e->kind == 1 ? inst->globals[e->global]->val : e->value;
}

arq_wasm_func_t *arq__elem_value(const arq_wasm_instance_t *inst, uint32_t elem) {
  if (elem == ARQ__ELEM_NULL)
    return NULL;
  if (elem & ARQ__ELEM_GLOBAL)
    return (arq_wasm_func_t *)(uintptr_t)inst->globals[elem & ~ARQ__ELEM_GLOBAL]->val;
  return inst->funcs[elem];
}

static arq_wasm_result_t apply_segments(arq_wasm_instance_t *inst) {
  const arq_wasm_module_t *m = inst->module;
  for (uint32_t i = 0; i < m->nelems; i++) {
    const arq__elem_t *e = &m->elems[i];
    if (e->mode != 0)
      continue;
    uint64_t off = (uint32_t)eval_const(inst, &e->offset);
    if (off + e->n > inst->tables[e->table]->size)
      return arq_wasm_err_segment_oob_table;
  }
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const arq__data_t *d = &m->datas[i];
    if (d->mode != 0)
      continue;
    uint64_t off = (uint32_t)eval_const(inst, &d->offset);
    if (off + d->len > inst->memory->size)
      return arq_wasm_err_segment_oob_memory;
  }
  for (uint32_t i = 0; i < m->nelems; i++) {
    const arq__elem_t *e = &m->elems[i];
    if (e->mode != 0)
      continue;
    uint32_t off = (uint32_t)eval_const(inst, &e->offset);
    arq_wasm_table_t *t = inst->tables[e->table];
    for (uint32_t k = 0; k < e->n; k++)
      t->elems[off + k] = arq__elem_value(inst, e->funcs[k]);
  }
  /* active segments are dropped once applied, declarative ones at once (spec 4.5.4) */
  for (uint32_t i = 0; i < m->nelems; i++)
    inst->elem_dropped[i] = m->elems[i].mode != 1;
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const arq__data_t *d = &m->datas[i];
    if (d->mode != 0)
      continue;
    uint32_t off = (uint32_t)eval_const(inst, &d->offset);
    arq_wasm_memory_write(inst->memory, off, d->bytes, d->len);
    inst->data_dropped[i] = true; /* active segments are dropped once applied */
  }
  return NULL;
}

arq_wasm_result_t arq_wasm_instantiate(const arq_wasm_module_t *m, const arq_wasm_extern_t *imports,
                                       size_t nimports, const arq_wasm_limits_t *limits,
                                       arq_wasm_instance_t **out) {
  *out = NULL;
  arq_wasm_instance_t *inst = calloc(1, sizeof *inst);
  if (!inst)
    return arq_wasm_err_out_of_memory;
  inst->module = m;
  if (limits)
    inst->limits = *limits;
  if (!inst->limits.max_pages)
    inst->limits.max_pages = DEFAULT_PAGES;
  if (!inst->limits.max_call_depth)
    inst->limits.max_call_depth = ARQ_WASM_DEFAULT_CALL_DEPTH;
  if (!inst->limits.max_table_elements || inst->limits.max_table_elements > ARQ_WASM_MAX_TABLE)
    inst->limits.max_table_elements = ARQ_WASM_MAX_TABLE;
  if (!inst->limits.stack_slots)
    inst->limits.stack_slots = ARQ_WASM_DEFAULT_STACK_SLOTS;
  inst->fuel = inst->limits.fuel ? inst->limits.fuel : UINT64_MAX;
  arq_wasm_result_t r = arq_wasm_err_out_of_memory;
  uint32_t nown = m->nfuncs - m->nfunc_imports;
  inst->funcs = calloc(m->nfuncs + 1, sizeof *inst->funcs);
  inst->own_funcs = calloc(nown + 1, sizeof *inst->own_funcs);
  inst->globals = calloc(m->nglobals + 1, sizeof *inst->globals);
  inst->own_globals = calloc(m->nglobals + 1, sizeof *inst->own_globals);
  inst->data_dropped = calloc(m->ndatas + 1, sizeof *inst->data_dropped);
  inst->elem_dropped = calloc(m->nelems + 1, sizeof *inst->elem_dropped);
  if (m->ntables) { /* one block: tables, own tables, their reset images */
    size_t nt = m->ntables;
    inst->tables = calloc(1, nt * (2 * sizeof(void *) + sizeof *inst->table_images));
    if (inst->tables) {
      inst->own_tables = inst->tables + nt;
      inst->table_images = (struct arq__table_image *)(void *)(inst->own_tables + nt);
    }
  }
  inst->stack = malloc(inst->limits.stack_slots * sizeof *inst->stack);
  inst->frames = malloc(inst->limits.max_call_depth * sizeof *inst->frames);
  if (!inst->funcs || !inst->own_funcs || !inst->globals || !inst->own_globals ||
      !inst->data_dropped || !inst->elem_dropped || !inst->stack || !inst->frames ||
      (m->ntables && !inst->tables))
    goto fail;
  inst->stack_top = inst->stack;
  inst->stack_end = inst->stack + inst->limits.stack_slots;

  if ((r = link_imports(inst, imports, nimports)))
    goto fail;
  for (uint32_t i = 0; i < nown; i++) {
    uint32_t fi = m->nfunc_imports + i;
    const arq__func_t *d = &m->funcs[fi];
    const arq_wasm_functype_t *t = &m->types[d->type];
    inst->own_funcs[i] = (arq_wasm_func_t){.code = d->code,
                                           .nparams = t->nparams,
                                           .nresults = t->nresults,
                                           .nlocals = d->nlocals,
                                           .frame_slots = d->frame_slots,
                                           .type = t,
                                           .inst = inst,
                                           .decl = d};
    inst->funcs[fi] = &inst->own_funcs[i];
  }
  /* the own tables together hold at most ARQ_WASM_MAX_TABLE elements */
  uint64_t elems = 0;
  for (uint32_t i = m->ntable_imports; i < m->ntables; i++) {
    elems += m->tables[i].min;
    r = arq_wasm_err_limit_table;
    if (elems > ARQ_WASM_MAX_TABLE)
      goto fail;
    const arq__limits_t *l = &m->tables[i];
    if ((r = arq_wasm_table_new_typed((arq_wasm_valtype_t)l->type, l->min, l->max,
                                      &inst->own_tables[i - m->ntable_imports])))
      goto fail;
    inst->tables[i] = inst->own_tables[i - m->ntable_imports];
  }
  inst->table = m->ntables ? inst->tables[0] : NULL;
  if (m->has_memory && !m->memory_imported) {
    r = arq_wasm_err_out_of_memory;
    inst->own_memory = malloc(sizeof *inst->own_memory);
    if (!inst->own_memory)
      goto fail;
    uint32_t max = m->memory.max == UINT32_MAX ? ARQ__MAX_PAGES : m->memory.max;
    if ((r = arq__memory_init(inst->own_memory, m->memory.min, max, inst->limits.max_pages)))
      goto fail;
    inst->memory = inst->own_memory;
  }
  for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
    arq_wasm_global_t *g = &inst->own_globals[i];
    g->type = m->globals[i].type;
    g->mut = m->globals[i].mut;
    g->val = eval_const(inst, &m->globals[i].init);
    inst->globals[i] = g;
  }
  if ((r = apply_segments(inst)))
    goto fail;
  if (m->has_start) {
    uint64_t none[1];
    if ((r = arq__invoke(inst, inst->funcs[m->start], none))) {
      /* segments were applied, possibly into imported tables that now reference this
       * instance's functions, so the instance must live on: the caller frees it */
      (void)arq_wasm_snapshot(inst); /* on failure arq_wasm_reset() refuses */
      *out = inst;
      return r;
    }
  }
  if ((r = arq_wasm_snapshot(inst)))
    goto fail;
  *out = inst;
  return NULL;
fail:
  arq_wasm_instance_free(inst);
  return r;
}

void arq_wasm_instance_free(arq_wasm_instance_t *inst) {
  if (!inst)
    return;
  if (inst->own_memory) {
    arq__memory_release(inst->own_memory);
    free(inst->own_memory);
  }
  const arq_wasm_module_t *m = inst->module;
  for (uint32_t i = 0; inst->tables && i < m->ntables - m->ntable_imports; i++) {
    arq_wasm_table_free(inst->own_tables[i]);
    free(inst->table_images[i].elems);
  }
  free(inst->tables); /* with own_tables and table_images */
  free(inst->funcs);
  free(inst->own_funcs);
  free(inst->globals);
  free(inst->own_globals);
  free(inst->data_dropped);
  free(inst->elem_dropped);
  free(inst->stack);
  free(inst->frames);
  free(inst->mem_image);
  free(inst->global_image);
  free(inst);
}

/* ---- exports and calls -------------------------------------------------------------- */

static const arq__export_t *find_export_n(const arq_wasm_instance_t *inst, const char *name,
                                          size_t len, int kind) {
  const arq_wasm_module_t *m = inst->module;
  for (uint32_t i = 0; i < m->nexports; i++) {
    const arq__export_t *e = &m->exports[i];
    if ((kind < 0 || e->kind == kind) && e->name_len == len && !memcmp(e->name, name, len))
      return e;
  }
  return NULL;
}

static const arq__export_t *find_export(const arq_wasm_instance_t *inst, const char *name,
                                        uint8_t kind) {
  return find_export_n(inst, name, strlen(name), kind);
}

bool arq_wasm_export_lookup(arq_wasm_instance_t *inst, const char *name, size_t len,
                            arq_wasm_extern_t *out) {
  const arq__export_t *e = find_export_n(inst, name, len, -1);
  if (!e)
    return false;
  out->kind = (arq_wasm_extern_kind_t)e->kind;
  switch (e->kind) {
  case ARQ_WASM_EXTERN_FUNC: out->of.func = inst->funcs[e->index]; break;
  case ARQ_WASM_EXTERN_TABLE: out->of.table = inst->tables[e->index]; break;
  case ARQ_WASM_EXTERN_MEMORY: out->of.memory = inst->memory; break;
  default: out->of.global = inst->globals[e->index]; break;
  }
  return true;
}

arq_wasm_func_t *arq_wasm_export_func(arq_wasm_instance_t *inst, const char *name) {
  const arq__export_t *e = find_export(inst, name, ARQ_WASM_EXTERN_FUNC);
  return e ? inst->funcs[e->index] : NULL;
}

arq_wasm_memory_t *arq_wasm_export_memory(arq_wasm_instance_t *inst, const char *name) {
  return find_export(inst, name, ARQ_WASM_EXTERN_MEMORY) ? inst->memory : NULL;
}

arq_wasm_table_t *arq_wasm_export_table(arq_wasm_instance_t *inst, const char *name) {
  const arq__export_t *e = find_export(inst, name, ARQ_WASM_EXTERN_TABLE);
  return e ? inst->tables[e->index] : NULL;
}

arq_wasm_global_t *arq_wasm_export_global(arq_wasm_instance_t *inst, const char *name) {
  const arq__export_t *e = find_export(inst, name, ARQ_WASM_EXTERN_GLOBAL);
  return e ? inst->globals[e->index] : NULL;
}

static uint64_t val_to_slot(const arq_wasm_val_t *v) {
  switch (v->type) {
  case ARQ_WASM_I32: return (uint32_t)v->of.i32;
  case ARQ_WASM_I64: return (uint64_t)v->of.i64;
  case ARQ_WASM_F32: return v->of.f32_bits;
  case ARQ_WASM_F64: return v->of.f64_bits;
  default: return (uint64_t)(uintptr_t)v->of.ref;
  }
}

static arq_wasm_val_t slot_to_val(uint8_t type, uint64_t s) {
  arq_wasm_val_t v = {.type = (arq_wasm_valtype_t)type};
  switch (type) {
  case ARQ_WASM_I32: v.of.i32 = (int32_t)(uint32_t)s; break;
  case ARQ_WASM_I64: v.of.i64 = (int64_t)s; break;
  case ARQ_WASM_F32: v.of.f32_bits = (uint32_t)s; break;
  case ARQ_WASM_F64: v.of.f64_bits = s; break;
  default: v.of.ref = (void *)(uintptr_t)s; break;
  }
  return v;
}

arq_wasm_result_t arq_wasm_call(arq_wasm_instance_t *inst, arq_wasm_func_t *f,
                                const arq_wasm_val_t *args, size_t nargs,
                                arq_wasm_val_t *results, size_t nresults) {
  if (!inst || !f)
    return arq_wasm_err_bad_argument;
  const arq_wasm_functype_t *t = f->type;
  if (nargs != t->nparams || nresults != t->nresults)
    return arq_wasm_err_arg_count;
  for (size_t i = 0; i < nargs; i++)
    if ((uint8_t)args[i].type != t->params[i])
      return arq_wasm_err_arg_type;
  uint64_t local[16];
  size_t n = nargs > nresults ? nargs : nresults;
  uint64_t *slots = n <= 16 ? local : malloc(n * sizeof *slots);
  if (!slots)
    return arq_wasm_err_out_of_memory;
  for (size_t i = 0; i < nargs; i++)
    slots[i] = val_to_slot(&args[i]);
  arq_wasm_result_t r = arq__invoke(inst, f, slots);
  if (!r)
    for (size_t i = 0; i < nresults; i++)
      results[i] = slot_to_val(t->results[i], slots[i]);
  if (slots != local)
    free(slots);
  return r;
}

void arq_wasm_set_fuel(arq_wasm_instance_t *inst, uint64_t fuel) { inst->fuel = fuel; }

void arq_wasm_set_refuel(arq_wasm_instance_t *inst, arq_wasm_refuel_fn fn, void *arg) {
  inst->refuel = fn;
  inst->refuel_arg = arg;
}

uint64_t arq_wasm_fuel_left(const arq_wasm_instance_t *inst) { return inst->fuel; }

arq_wasm_memory_t *arq_wasm_instance_memory(arq_wasm_instance_t *inst) { return inst->memory; }

arq_wasm_result_t arq_wasm_set_max_pages(arq_wasm_instance_t *inst, uint32_t max_pages) {
  if (!inst->own_memory)
    return arq_wasm_err_no_memory;
  inst->limits.max_pages = max_pages;
  inst->own_memory->limit_pages = max_pages;
  return NULL;
}

arq_wasm_result_t arq_wasm_set_max_call_depth(arq_wasm_instance_t *inst, uint32_t depth) {
  if (depth == 0 || depth > 1000000)
    return arq_wasm_err_bad_argument;
  if (inst->depth || inst->stack_top != inst->stack)
    return arq_wasm_err_busy;
  arq__frame_t *fr = realloc(inst->frames, depth * sizeof *fr);
  if (!fr)
    return arq_wasm_err_out_of_memory;
  inst->frames = fr;
  inst->limits.max_call_depth = depth;
  return NULL;
}

/* ---- snapshot and reset ------------------------------------------------------------- */

arq_wasm_result_t arq_wasm_snapshot(arq_wasm_instance_t *inst) {
  const arq_wasm_module_t *m = inst->module;
  if (inst->depth || inst->stack_top != inst->stack)
    return arq_wasm_err_busy;
  inst->has_snapshot = false;
  arq_wasm_memory_t *mem = inst->own_memory;
  if (mem) {
    uint8_t *img = realloc(inst->mem_image, mem->size ? mem->size : 1);
    if (!img)
      return arq_wasm_err_out_of_memory;
    if (mem->size)
      memcpy(img, mem->data, mem->size);
    inst->mem_image = img;
    inst->mem_image_size = mem->size;
    memset(mem->dirty, 0, mem->dirty_cap);
  }
  /* the image: globals, then the dropped flags of data and element segments */
  uint32_t ng = m->nglobals + m->ndatas + m->nelems;
  uint64_t *gi = realloc(inst->global_image, (ng + 1) * sizeof *gi);
  if (!gi)
    return arq_wasm_err_out_of_memory;
  inst->global_image = gi;
  for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++)
    gi[i] = inst->own_globals[i].val;
  for (uint32_t i = 0; i < m->ndatas; i++)
    gi[m->nglobals + i] = inst->data_dropped[i];
  for (uint32_t i = 0; i < m->nelems; i++)
    gi[m->nglobals + m->ndatas + i] = inst->elem_dropped[i];
  for (uint32_t i = 0; i < m->ntables - m->ntable_imports; i++) {
    arq_wasm_table_t *t = inst->own_tables[i];
    struct arq__table_image *img = &inst->table_images[i];
    arq_wasm_func_t **ti = realloc(img->elems, (t->size + 1) * sizeof *ti);
    if (!ti)
      return arq_wasm_err_out_of_memory;
    memcpy(ti, t->elems, t->size * sizeof *ti);
    img->elems = ti;
    img->size = t->size;
  }
  inst->has_snapshot = true;
  return NULL;
}

arq_wasm_result_t arq_wasm_reset(arq_wasm_instance_t *inst) {
  const arq_wasm_module_t *m = inst->module;
  if (inst->depth || inst->stack_top != inst->stack)
    return arq_wasm_err_busy;
  if (!inst->has_snapshot)
    return arq_wasm_err_out_of_memory; /* the last snapshot could not be captured */
  arq_wasm_memory_t *mem = inst->own_memory;
  if (mem) {
    if (mem->size != inst->mem_image_size) {
      /* shrinking cannot fail in practice; if it does, keep the larger block */
      if (inst->mem_image_size) {
        uint8_t *d = realloc(mem->data, inst->mem_image_size);
        if (d)
          mem->data = d;
      } else {
        free(mem->data);
        mem->data = NULL;
      }
      mem->size = inst->mem_image_size;
      mem->pages = (uint32_t)(mem->size / ARQ__PAGE_SIZE);
    }
    uint32_t chunks = (uint32_t)((mem->size + (1u << ARQ__CHUNK_SHIFT) - 1) >> ARQ__CHUNK_SHIFT);
    if (chunks > mem->dirty_cap)
      chunks = mem->dirty_cap;
    for (uint32_t c = 0; c < chunks; c++) {
      if (!mem->dirty[c])
        continue;
      uint64_t at = (uint64_t)c << ARQ__CHUNK_SHIFT;
      uint64_t len = mem->size - at < (1u << ARQ__CHUNK_SHIFT) ? mem->size - at
                                                                : (1u << ARQ__CHUNK_SHIFT);
      memcpy(mem->data + at, inst->mem_image + at, len);
    }
    memset(mem->dirty, 0, mem->dirty_cap);
  }
  for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++)
    inst->own_globals[i].val = inst->global_image[i];
  for (uint32_t i = 0; i < m->ndatas; i++)
    inst->data_dropped[i] = inst->global_image[m->nglobals + i] != 0;
  for (uint32_t i = 0; i < m->nelems; i++)
    inst->elem_dropped[i] = inst->global_image[m->nglobals + m->ndatas + i] != 0;
  for (uint32_t i = 0; i < m->ntables - m->ntable_imports; i++) {
    const struct arq__table_image *img = &inst->table_images[i];
    arq_wasm_table_t *t = inst->own_tables[i];
    /* a table that grew since keeps its storage: only its size goes back */
    t->size = img->size;
    memcpy(t->elems, img->elems, img->size * sizeof *img->elems);
  }
  return NULL;
}
