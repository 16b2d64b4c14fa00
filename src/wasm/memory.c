/*
 * memory.c — linear memories, tables and globals as standalone objects.
 *
 * DESIGN
 *   A memory is one heap block of `size` bytes, reallocated on grow (the
 *   interpreter reloads its base after anything that may grow). Growth is refused
 *   (memory.grow returns -1) above the declared maximum or the owner's page limit.
 *   A byte per 4 KiB chunk records writes since the last snapshot so that a reset
 *   copies back only what changed; every write path (stores, bulk ops, host
 *   writes) marks it.
 */
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

static arq_wasm_result_t resize_dirty(arq_wasm_memory_t *mem, uint64_t size) {
  uint32_t chunks = (uint32_t)((size + (1u << ARQ__CHUNK_SHIFT) - 1) >> ARQ__CHUNK_SHIFT);
  if (chunks <= mem->dirty_cap && mem->dirty)
    return NULL;
  uint8_t *d = realloc(mem->dirty, chunks ? chunks : 1);
  if (!d)
    return arq_wasm_err_out_of_memory;
  memset(d + mem->dirty_cap, 0, chunks - mem->dirty_cap);
  mem->dirty = d;
  mem->dirty_cap = chunks;
  return NULL;
}

arq_wasm_result_t arq__memory_init(arq_wasm_memory_t *mem, uint32_t pages, uint32_t max_pages,
                                   uint32_t limit_pages) {
  memset(mem, 0, sizeof *mem);
  if (pages > limit_pages || pages > ARQ__MAX_PAGES)
    return arq_wasm_err_memory_limit;
  mem->max_pages = max_pages > ARQ__MAX_PAGES ? ARQ__MAX_PAGES : max_pages;
  mem->limit_pages = limit_pages;
  mem->pages = pages;
  mem->size = (uint64_t)pages * ARQ__PAGE_SIZE;
  if (mem->size) {
    mem->data = calloc(1, mem->size);
    if (!mem->data)
      return arq_wasm_err_out_of_memory;
  }
  return resize_dirty(mem, mem->size);
}

void arq__memory_release(arq_wasm_memory_t *mem) {
  free(mem->data);
  free(mem->dirty);
  mem->data = mem->dirty = NULL;
}

int32_t arq__memory_grow(arq_wasm_memory_t *mem, uint32_t delta) {
  uint32_t old = mem->pages;
  uint64_t want = (uint64_t)old + delta;
  if (delta == 0)
    return (int32_t)old; /* even when a lowered limit is already exceeded */
  if (want > mem->max_pages || want > mem->limit_pages)
    return -1;
  uint64_t size = want * ARQ__PAGE_SIZE;
  if (size > SIZE_MAX)
    return -1;
  uint8_t *d = realloc(mem->data, (size_t)size);
  if (!d)
    return -1;
  memset(d + mem->size, 0, (size_t)(size - mem->size));
  mem->data = d;
  if (resize_dirty(mem, size))
    return -1;
  mem->size = size;
  mem->pages = (uint32_t)want;
  return (int32_t)old;
}

arq_wasm_result_t arq_wasm_memory_new(uint32_t min_pages, uint32_t max_pages,
                                      arq_wasm_memory_t **out) {
  if (min_pages > max_pages)
    return arq_wasm_err_limits_min_max;
  arq_wasm_memory_t *mem = malloc(sizeof *mem);
  if (!mem)
    return arq_wasm_err_out_of_memory;
  arq_wasm_result_t r = arq__memory_init(mem, min_pages, max_pages, max_pages);
  if (r) {
    arq__memory_release(mem);
    free(mem);
    return r;
  }
  *out = mem;
  return NULL;
}

void arq_wasm_memory_free(arq_wasm_memory_t *mem) {
  if (!mem)
    return;
  arq__memory_release(mem);
  free(mem);
}

uint64_t arq_wasm_memory_size(const arq_wasm_memory_t *mem) { return mem ? mem->size : 0; }

arq_wasm_result_t arq_wasm_memory_read(const arq_wasm_memory_t *mem, uint64_t addr, void *dst,
                                       size_t len) {
  if (!mem)
    return arq_wasm_err_no_memory;
  if (addr > mem->size || len > mem->size - addr)
    return arq_wasm_err_oob_access;
  if (len)
    memcpy(dst, mem->data + addr, len);
  return NULL;
}

arq_wasm_result_t arq_wasm_memory_write(arq_wasm_memory_t *mem, uint64_t addr, const void *src,
                                        size_t len) {
  if (!mem)
    return arq_wasm_err_no_memory;
  if (addr > mem->size || len > mem->size - addr)
    return arq_wasm_err_oob_access;
  if (len) {
    memcpy(mem->data + addr, src, len);
    arq__memory_mark(mem, addr, len);
  }
  return NULL;
}

arq_wasm_result_t arq_wasm_table_new(uint32_t min, uint32_t max, arq_wasm_table_t **out) {
  return arq_wasm_table_new_typed(ARQ_WASM_FUNCREF, min, max, out);
}

arq_wasm_result_t arq_wasm_table_new_typed(arq_wasm_valtype_t type, uint32_t min, uint32_t max,
                                           arq_wasm_table_t **out) {
  if (type != ARQ_WASM_FUNCREF && type != ARQ_WASM_EXTERNREF)
    return arq_wasm_err_bad_argument;
  if (min > max)
    return arq_wasm_err_limits_min_max;
  if (min > ARQ_WASM_MAX_TABLE)
    return arq_wasm_err_limit_table;
  arq_wasm_table_t *t = calloc(1, sizeof *t);
  if (!t)
    return arq_wasm_err_out_of_memory;
  t->elems = calloc(min ? min : 1, sizeof *t->elems);
  if (!t->elems) {
    free(t);
    return arq_wasm_err_out_of_memory;
  }
  t->size = min;
  t->max = max;
  t->type = (uint8_t)type;
  *out = t;
  return NULL;
}

void arq_wasm_table_free(arq_wasm_table_t *t) {
  if (!t)
    return;
  free(t->elems);
  free(t);
}

arq_wasm_result_t arq_wasm_global_new(arq_wasm_val_t init, bool mutable_, arq_wasm_global_t **out) {
  arq_wasm_global_t *g = calloc(1, sizeof *g);
  if (!g)
    return arq_wasm_err_out_of_memory;
  g->type = (uint8_t)init.type;
  g->mut = mutable_;
  switch (init.type) {
  case ARQ_WASM_I32: g->val = (uint32_t)init.of.i32; break;
  case ARQ_WASM_I64: g->val = (uint64_t)init.of.i64; break;
  case ARQ_WASM_F32: g->val = init.of.f32_bits; break;
  case ARQ_WASM_F64: g->val = init.of.f64_bits; break;
  case ARQ_WASM_FUNCREF:
  case ARQ_WASM_EXTERNREF: g->val = (uint64_t)(uintptr_t)init.of.ref; break;
  default:
    free(g);
    return arq_wasm_err_bad_argument;
  }
  *out = g;
  return NULL;
}

void arq_wasm_global_free(arq_wasm_global_t *g) { free(g); }

arq_wasm_val_t arq_wasm_global_get(const arq_wasm_global_t *g) {
  arq_wasm_val_t v = {.type = (arq_wasm_valtype_t)g->type};
  switch (g->type) {
  case ARQ_WASM_I32: v.of.i32 = (int32_t)(uint32_t)g->val; break;
  case ARQ_WASM_I64: v.of.i64 = (int64_t)g->val; break;
  case ARQ_WASM_F32: v.of.f32_bits = (uint32_t)g->val; break;
  case ARQ_WASM_F64: v.of.f64_bits = g->val; break;
  default: v.of.ref = (void *)(uintptr_t)g->val; break;
  }
  return v;
}

arq_wasm_result_t arq_wasm_global_set(arq_wasm_global_t *g, arq_wasm_val_t v) {
  if (!g->mut)
    return arq_wasm_err_immutable_global;
  if ((uint8_t)v.type != g->type)
    return arq_wasm_err_arg_type;
  switch (v.type) {
  case ARQ_WASM_I32: g->val = (uint32_t)v.of.i32; break;
  case ARQ_WASM_I64: g->val = (uint64_t)v.of.i64; break;
  case ARQ_WASM_F32: g->val = v.of.f32_bits; break;
  case ARQ_WASM_F64: g->val = v.of.f64_bits; break;
  default: g->val = (uint64_t)(uintptr_t)v.of.ref; break;
  }
  return NULL;
}
