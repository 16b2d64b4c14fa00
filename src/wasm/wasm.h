/*
 * wasm.h — the Overseer engine: the project's own WebAssembly interpreter.
 *
 * DESIGN
 *   Pipeline, one file per stage: decode.c (binary format -> module tables) ->
 *   validate.c + compile.c (one pass per function body: full type checking, and
 *   translation into a threaded internal form with resolved branch targets and
 *   pre-decoded immediates) -> instance.c (linking, globals, segments, start) ->
 *   interp.c (the dispatch loop). Supported: WebAssembly 2.0 without SIMD (1.0 plus
 *   sign-extension, non-trapping float-to-int, multi-value, mutable-global
 *   import/export, bulk memory, and reference types: funcref and externref values,
 *   ref.null/is_null/func, typed select, multiple tables, table.get/set/size/grow/fill,
 *   call_indirect, table.init and table.copy on any table with the table index in any
 *   LEB128 form, element segments with expressions) plus extended constant
 *   expressions (i32/i64 add, sub, mul and global.get of any immutable global that
 *   precedes). Other proposals are rejected at load.

 *   Errors are `arq_wasm_result_t`: NULL on success, otherwise one of the named
 *   constant strings declared below (compare by identity). Traps are results too.
 *
 *   Untrusted input: every count in a module is checked against a sane limit
 *   before anything it announces is allocated; execution is bounded by fuel, a
 *   memory page limit, a call-depth limit and a fixed value stack. The interpreter
 *   never recurses in C per WebAssembly call.
 *
 *   Ownership: a module must outlive every instance made from it; an instance or
 *   standalone object (function, memory, table, global) that is imported by another
 *   instance must outlive that instance. Nothing here is thread-safe per object;
 *   distinct instances (even of one shared module, which is read-only once loaded)
 *   may run on distinct threads, as long as they import nothing from each other.
 */
#ifndef ARQ_WASM_WASM_H
#define ARQ_WASM_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** NULL on success, else a named constant error string (compare by identity). */
typedef const char *arq_wasm_result_t;

/* ---- named results ------------------------------------------------------------------ */

#define ARQ_WASM_ERRORS(X)                                                              \
  /* malformed binary */                                                                 \
  X(unexpected_end, "unexpected end")                                                    \
  X(bad_magic, "magic header not detected")                                              \
  X(bad_version, "unknown binary version")                                               \
  X(bad_section_id, "malformed section id")                                              \
  X(section_order, "unexpected content after last section")                              \
  X(section_size, "section size mismatch")                                               \
  X(leb_too_long, "integer representation too long")                                     \
  X(leb_too_large, "integer too large")                                                  \
  X(bad_utf8, "malformed UTF-8 encoding")                                                \
  X(func_code_mismatch, "function and code section have inconsistent lengths")           \
  X(data_count_mismatch, "data count and data section have inconsistent lengths")        \
  X(data_count_required, "data count section required")                                  \
  X(too_many_locals, "too many locals")                                                  \
  X(bad_import_kind, "malformed import kind")                                            \
  X(bad_export_kind, "malformed export kind")                                            \
  X(bad_mutability, "malformed mutability")                                              \
  X(bad_limits, "malformed limits flags")                                                     \
  X(bad_valtype, "malformed value type")                                                 \
  X(bad_functype, "malformed functype")                                    \
  X(bad_elemkind, "malformed element kind")                                              \
  X(bad_segment_flags, "malformed segment flags")                                        \
  X(zero_byte_expected, "zero byte expected")                                            \
  X(illegal_opcode, "illegal opcode")                                                    \
  X(end_expected, "END opcode expected")                                                 \
  X(length_out_of_bounds, "length out of bounds")                                        \
  /* unsupported proposals */                                                            \
  X(unsupported_simd, "unsupported feature: SIMD")                                       \
  X(unsupported_reftypes, "unsupported feature: reference types") /* no longer returned */ \
  X(unsupported_threads, "unsupported feature: threads")                                 \
  X(unsupported_exceptions, "unsupported feature: exception handling")                   \
  X(unsupported_tail_calls, "unsupported feature: tail calls")                           \
  X(unsupported_memory64, "unsupported feature: memory64")                               \
  X(unsupported_gc, "unsupported feature: garbage collection")                           \
  /* sanity limits */                                                                    \
  X(limit_module_size, "limit exceeded: module size")                                    \
  X(limit_count, "limit exceeded: too many entries")                                     \
  X(limit_locals, "too many locals")                                                     \
  X(limit_nesting, "limit exceeded: block nesting depth")                                \
  X(limit_code, "limit exceeded: function body size")                                    \
  X(limit_table, "limit exceeded: table size")                                           \
  X(limit_memory, "limit exceeded: memory size")                                         \
  /* invalid module */                                                                   \
  X(type_mismatch, "type mismatch")                                                      \
  X(unknown_type, "unknown type")                                                        \
  X(unknown_local, "unknown local")                                                      \
  X(unknown_global, "unknown global")                                                    \
  X(unknown_func, "unknown function")                                                    \
  X(unknown_table, "unknown table")                                                      \
  X(unknown_memory, "unknown memory")                                                    \
  X(unknown_label, "unknown label")                                                      \
  X(unknown_data, "unknown data segment")                                                \
  X(unknown_elem, "unknown elem segment")                                                \
  X(immutable_global, "global is immutable")                                             \
  X(bad_alignment, "alignment must not be larger than natural")                          \
  X(const_expr_required, "constant expression required")                                 \
  X(duplicate_export, "duplicate export name")                                           \
  X(multiple_memories, "multiple memories")                                              \
  X(multiple_tables, "multiple tables") /* no longer returned (reference types) */         \
  X(limits_min_max, "size minimum must not be greater than maximum")                     \
  X(memory_too_big, "memory size must be at most 65536 pages (4GiB)")                    \
  X(undeclared_func_ref, "undeclared function reference")                               \
  X(start_function, "start function")                                                   \
  X(invalid_result_arity, "invalid result arity")                                        \
  /* linking and instantiation */                                                        \
  X(unknown_import, "unknown import")                                                    \
  X(incompatible_import, "incompatible import type")                                     \
  X(segment_oob_memory, "out of bounds memory access")                                   \
  X(segment_oob_table, "out of bounds table access")                                     \
  X(memory_limit, "memory exceeds the page limit")                                       \
  /* traps */                                                                            \
  X(trap_unreachable, "unreachable")                                                     \
  X(trap_div_zero, "integer divide by zero")                                             \
  X(trap_overflow, "integer overflow")                                                   \
  X(trap_conversion, "invalid conversion to integer")                                    \
  X(trap_oob_memory, "out of bounds memory access")                                      \
  X(trap_oob_table, "out of bounds table access")                                        \
  X(trap_undefined_element, "undefined element")                                         \
  X(trap_uninitialized_element, "uninitialized element")                                 \
  X(trap_indirect_type, "indirect call type mismatch")                                   \
  X(trap_stack_exhausted, "call stack exhausted")                                        \
  X(trap_out_of_fuel, "out of fuel")                                                     \
  /* embedding API misuse */                                                             \
  X(out_of_memory, "out of memory")                                                      \
  X(bad_argument, "invalid argument")                                                    \
  X(arg_count, "wrong number of arguments or results")                                   \
  X(arg_type, "argument type mismatch")                                                  \
  X(oob_access, "out of bounds memory access")                                           \
  X(no_memory, "instance has no memory")                                                 \
  X(busy, "instance is running a call")

#define ARQ_WASM_DECLARE_ERROR(id, text) extern const char arq_wasm_err_##id[];
ARQ_WASM_ERRORS(ARQ_WASM_DECLARE_ERROR)
#undef ARQ_WASM_DECLARE_ERROR

/** True if `r` is a runtime trap (as opposed to a load, link or API error). */
bool arq_wasm_is_trap(arq_wasm_result_t r);

/* ---- values and types ------------------------------------------------------------- */

/** Value types, encoded as in the binary format. */
typedef enum {
  ARQ_WASM_I32 = 0x7f,
  ARQ_WASM_I64 = 0x7e,
  ARQ_WASM_F32 = 0x7d,
  ARQ_WASM_F64 = 0x7c,
  ARQ_WASM_FUNCREF = 0x70,   /**< a function (arq_wasm_func_t *), or NULL */
  ARQ_WASM_EXTERNREF = 0x6f, /**< an opaque host pointer, or NULL; the engine never reads it */
} arq_wasm_valtype_t;

/** A typed value. Floats are also reachable as raw bits so NaN payloads survive.
 *  References use `ref` (NULL is the null reference). */
typedef struct {
  arq_wasm_valtype_t type;
  union {
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    uint32_t f32_bits;
    uint64_t f64_bits;
    void *ref;
  } of;
} arq_wasm_val_t;

/** A function signature. Owned by the module or host function that holds it. */
typedef struct {
  uint32_t nparams;
  uint32_t nresults;
  const uint8_t *params;  /**< arq_wasm_valtype_t codes */
  const uint8_t *results; /**< arq_wasm_valtype_t codes */
} arq_wasm_functype_t;

/** External kinds, encoded as in the binary format. */
typedef enum {
  ARQ_WASM_EXTERN_FUNC = 0,
  ARQ_WASM_EXTERN_TABLE = 1,
  ARQ_WASM_EXTERN_MEMORY = 2,
  ARQ_WASM_EXTERN_GLOBAL = 3,
} arq_wasm_extern_kind_t;

typedef struct arq_wasm_module arq_wasm_module_t;
typedef struct arq_wasm_instance arq_wasm_instance_t;
typedef struct arq_wasm_func arq_wasm_func_t;
typedef struct arq_wasm_memory arq_wasm_memory_t;
typedef struct arq_wasm_table arq_wasm_table_t;
typedef struct arq_wasm_global arq_wasm_global_t;
/** The context a host function receives: the calling instance and its memory. */
typedef struct arq_wasm_call arq_wasm_call_t;

/* ---- modules ------------------------------------------------------------------------ */

/** Hard ceilings applied while decoding; anything above is refused before allocation. */
#define ARQ_WASM_MAX_MODULE_SIZE (8u << 20)
/** Compiled code of a whole module, in 8-byte cells (bounds memory use at load). */
#define ARQ_WASM_MAX_CODE_CELLS (16u << 20)
#define ARQ_WASM_MAX_FUNCTIONS 100000u
#define ARQ_WASM_MAX_LOCALS 50000u
/** Parameters, and results, of one function type (the JS API's implementation limit). */
#define ARQ_WASM_MAX_ARITY 1000u
#define ARQ_WASM_MAX_NESTING 1024u
/** Elements of one table, and of all the tables an instance creates together. */
#define ARQ_WASM_MAX_TABLE 1000000u
/** Tables of a module, imported and defined. */
#define ARQ_WASM_MAX_TABLES 100u

/**
 * Decodes and fully validates a binary module, then compiles every function body.
 * The bytes are copied; the caller keeps ownership of `bytes`. On success `*out`
 * receives a module to free with arq_wasm_module_free().
 */
arq_wasm_result_t arq_wasm_module_load(const uint8_t *bytes, size_t len, arq_wasm_module_t **out);

/** Frees a module (NULL-safe). Every instance of it must have been freed first. */
void arq_wasm_module_free(arq_wasm_module_t *m);

/** Like arq_wasm_module_load(), and also reports the byte offset at which decoding
 *  or validation failed (for diagnostics; `err_offset` may be NULL). */
arq_wasm_result_t arq_wasm_module_load_diag(const uint8_t *bytes, size_t len,
                                            arq_wasm_module_t **out, size_t *err_offset);

/** Describes import or export `i` of a module. */
typedef struct {
  const char *module; /**< import module name (NUL-terminated); NULL for exports */
  const char *name;   /**< field / export name (NUL-terminated, may contain NUL earlier) */
  size_t name_len;
  size_t module_len;
  arq_wasm_extern_kind_t kind;
  const arq_wasm_functype_t *functype; /**< for functions */
  arq_wasm_valtype_t global_type;      /**< for globals */
  bool global_mutable;
  uint32_t min, max; /**< for tables and memories; max is UINT32_MAX when absent */
  arq_wasm_valtype_t table_type; /**< for tables: ARQ_WASM_FUNCREF or ARQ_WASM_EXTERNREF */
} arq_wasm_extern_desc_t;

/** Number of imports, in declaration order (the order arq_wasm_instantiate() links). */
size_t arq_wasm_module_import_count(const arq_wasm_module_t *m);
/** Describes import `i` (< count); the strings stay owned by the module. */
void arq_wasm_module_import(const arq_wasm_module_t *m, size_t i, arq_wasm_extern_desc_t *out);
/** Number of exports. */
size_t arq_wasm_module_export_count(const arq_wasm_module_t *m);
/** Describes export `i` (< count); the strings stay owned by the module. */
void arq_wasm_module_export(const arq_wasm_module_t *m, size_t i, arq_wasm_extern_desc_t *out);

/* ---- host functions and standalone objects --------------------------------------- */

/**
 * A host function. `args` holds the parameters and `results` receives the results,
 * each as a raw 64-bit slot: i32 in the low 32 bits, floats as their bit patterns.
 * `results` never overlaps `args`. Return NULL, or a trap (any constant string; it
 * becomes the trap of the call, e.g. a policy's own "rejected" result). A host
 * function may call back into the calling instance with arq_wasm_call() (nesting
 * counts against the same call-depth limit and fuel), but must not reset or free it.
 */
typedef arq_wasm_result_t (*arq_wasm_host_fn)(arq_wasm_call_t *call, void *env,
                                              const uint64_t *args, uint64_t *results);

/** Creates a host function with the given signature (copied). Free with
 *  arq_wasm_func_free() after every instance importing it is gone. */
arq_wasm_result_t arq_wasm_func_new_host(const uint8_t *params, uint32_t nparams,
                                         const uint8_t *results, uint32_t nresults,
                                         arq_wasm_host_fn fn, void *env,
                                         arq_wasm_func_t **out);
/** Frees a host function (NULL-safe; functions of instances are freed with them). */
void arq_wasm_func_free(arq_wasm_func_t *f);
/** The signature of any function, host or WebAssembly. */
const arq_wasm_functype_t *arq_wasm_func_type(const arq_wasm_func_t *f);

/** Creates a standalone memory of `min_pages`, growable up to `max_pages` (for host
 *  modules such as `spectest`). Free with arq_wasm_memory_free() (NULL-safe). */
arq_wasm_result_t arq_wasm_memory_new(uint32_t min_pages, uint32_t max_pages,
                                      arq_wasm_memory_t **out);
void arq_wasm_memory_free(arq_wasm_memory_t *mem);
/** Creates a standalone funcref table of `min` empty elements (max: UINT32_MAX if none). */
arq_wasm_result_t arq_wasm_table_new(uint32_t min, uint32_t max, arq_wasm_table_t **out);
/** The same for a table of `type` (ARQ_WASM_FUNCREF or ARQ_WASM_EXTERNREF). */
arq_wasm_result_t arq_wasm_table_new_typed(arq_wasm_valtype_t type, uint32_t min, uint32_t max,
                                           arq_wasm_table_t **out);
void arq_wasm_table_free(arq_wasm_table_t *t);
/** Creates a standalone global holding `init`. */
arq_wasm_result_t arq_wasm_global_new(arq_wasm_val_t init, bool mutable_, arq_wasm_global_t **out);
void arq_wasm_global_free(arq_wasm_global_t *g);
/** The current value of a global (own, imported or standalone). */
arq_wasm_val_t arq_wasm_global_get(const arq_wasm_global_t *g);
/** Sets a mutable global; refuses an immutable one or a value of another type. */
arq_wasm_result_t arq_wasm_global_set(arq_wasm_global_t *g, arq_wasm_val_t v);

/** Host-side accessors available inside a host function. Every access is bounds
 *  checked against the calling instance's memory; failures return a trap. */
arq_wasm_result_t arq_wasm_call_read(arq_wasm_call_t *call, uint32_t addr, void *dst, uint32_t len);
arq_wasm_result_t arq_wasm_call_write(arq_wasm_call_t *call, uint32_t addr, const void *src,
                                      uint32_t len);
/** Charges `units` of fuel (e.g. a fixed cost per host call); traps when exhausted. */
arq_wasm_result_t arq_wasm_call_consume_fuel(arq_wasm_call_t *call, uint64_t units);
/** The instance that imported the host function being called. */
arq_wasm_instance_t *arq_wasm_call_instance(arq_wasm_call_t *call);

/* ---- instances ---------------------------------------------------------------------- */

/** One import binding: an object matched by module and field name. */
typedef struct {
  const char *module;
  const char *name;
  arq_wasm_extern_kind_t kind;
  union {
    arq_wasm_func_t *func;
    arq_wasm_memory_t *memory;
    arq_wasm_table_t *table;
    arq_wasm_global_t *global;
  } of;
} arq_wasm_extern_t;

/** Execution limits of an instance; zero fields take the defaults below. */
typedef struct {
  uint32_t max_pages;      /**< memory page limit (64 KiB pages); default 65536 */
  uint32_t max_call_depth; /**< nested WebAssembly calls; default 1000 */
  uint32_t stack_slots;    /**< value stack (locals + operands), 8-byte slots; default 65536 */
  uint64_t fuel;           /**< initial fuel, which also bounds the start function; 0: unlimited */
  /** If non-zero, memory.fill/copy/init also cost one unit per this many bytes, so
   *  that a single instruction cannot move megabytes for one unit. 0: one unit each. */
  uint32_t bulk_bytes_per_fuel;
  /** Elements that table.grow may bring all the instance's tables (own and imported)
   *  to together; default and ceiling ARQ_WASM_MAX_TABLE. Beyond it table.grow returns -1
   *  (tables declared larger still instantiate, as far as ARQ_WASM_MAX_TABLE). */
  uint32_t max_table_elements;
} arq_wasm_limits_t;

#define ARQ_WASM_DEFAULT_CALL_DEPTH 1000u
#define ARQ_WASM_DEFAULT_STACK_SLOTS 65536u

/**
 * Links `imports` (matched by module/name and checked against the declared types),
 * allocates memory, table and globals, applies data and element segments and runs
 * the start function. The state right after instantiation is captured so that
 * arq_wasm_reset() can restore it. On failure `*out` is NULL, except when the start
 * function traps: then the trap is returned and `*out` still receives the instance,
 * because its segments may already have been written into imported tables that
 * now reference its functions; the caller frees it when those are gone.
 */
arq_wasm_result_t arq_wasm_instantiate(const arq_wasm_module_t *m, const arq_wasm_extern_t *imports,
                                       size_t nimports, const arq_wasm_limits_t *limits,
                                       arq_wasm_instance_t **out);
/** Frees an instance and what it owns (NULL-safe); not during a call of it. */
void arq_wasm_instance_free(arq_wasm_instance_t *inst);

/** Export look-ups by name; NULL when absent or of another kind. */
arq_wasm_func_t *arq_wasm_export_func(arq_wasm_instance_t *inst, const char *name);
arq_wasm_memory_t *arq_wasm_export_memory(arq_wasm_instance_t *inst, const char *name);
arq_wasm_table_t *arq_wasm_export_table(arq_wasm_instance_t *inst, const char *name);
arq_wasm_global_t *arq_wasm_export_global(arq_wasm_instance_t *inst, const char *name);

/** Looks up an export of any kind by name (`len` bytes, may contain NUL bytes); on
 *  success fills `out->kind` and `out->of` and returns true. */
bool arq_wasm_export_lookup(arq_wasm_instance_t *inst, const char *name, size_t len,
                            arq_wasm_extern_t *out);

/**
 * Calls `f` (which must belong to `inst` or be callable from it) with typed
 * arguments, checked against its signature; writes `nresults` typed results.
 * Returns NULL, a trap (see arq_wasm_is_trap()) or an API error.
 */
arq_wasm_result_t arq_wasm_call(arq_wasm_instance_t *inst, arq_wasm_func_t *f,
                                const arq_wasm_val_t *args, size_t nargs,
                                arq_wasm_val_t *results, size_t nresults);

/**
 * Fuel: one unit per executed instruction (`end` and `else` are markers and free),
 * the reference-types ones included (ref.null, ref.is_null, ref.func, table.get,
 * table.set, table.size, table.grow, table.fill, typed select: one unit each). With
 * arq_wasm_limits_t.bulk_bytes_per_fuel set, table.init, table.copy, table.fill and a
 * table.grow that grows also cost one unit per that many bytes of elements moved (8
 * bytes an element), as memory.fill/copy/init do per byte.
 * It is charged per straight-line run of instructions before the run starts, so an
 * evaluation that completes is charged exactly its instruction count, and one that
 * would exceed the budget traps with arq_wasm_err_trap_out_of_fuel at the start of
 * the run that does not fit (the fuel left is what remained then). Host functions
 * may charge more with arq_wasm_call_consume_fuel(). UINT64_MAX is unlimited (the
 * default unless arq_wasm_limits_t.fuel is set).
 */
void arq_wasm_set_fuel(arq_wasm_instance_t *inst, uint64_t fuel);
/** Fuel not yet spent by calls started on this instance. */
uint64_t arq_wasm_fuel_left(const arq_wasm_instance_t *inst);

/**
 * A refuel hook: called when a charge (an instruction run, a bulk charge, a host
 * function's arq_wasm_call_consume_fuel) finds less fuel left than it needs, `short_by`
 * units less. It returns how much fuel to add: the charge proceeds once the fuel
 * suffices (the hook is asked again while it does not), and with 0 the charge traps with
 * arq_wasm_err_trap_out_of_fuel as it would without a hook. It must not call into, reset
 * or free the instance. With it an embedder hands fuel out in slices and decides between
 * two slices on anything else it counts, such as a wall-clock deadline; the hook costs
 * nothing while fuel lasts.
 */
typedef uint64_t (*arq_wasm_refuel_fn)(void *arg, uint64_t short_by);
/** Sets (or with NULL removes) the refuel hook of calls started on this instance. */
void arq_wasm_set_refuel(arq_wasm_instance_t *inst, arq_wasm_refuel_fn fn, void *arg);

/** Changes the page limit of the instance's own memory (never below its current size;
 *  a lower value only stops further growth). Returns arq_wasm_err_no_memory if it
 *  has no memory of its own. */
arq_wasm_result_t arq_wasm_set_max_pages(arq_wasm_instance_t *inst, uint32_t max_pages);
/** Changes the call-depth limit (1..1000000); refused during a call. */
arq_wasm_result_t arq_wasm_set_max_call_depth(arq_wasm_instance_t *inst, uint32_t depth);

/** The instance's memory (own or imported), or NULL. */
arq_wasm_memory_t *arq_wasm_instance_memory(arq_wasm_instance_t *inst);
/** Bounds-checked copies between the host and a memory. */
arq_wasm_result_t arq_wasm_memory_read(const arq_wasm_memory_t *mem, uint64_t addr, void *dst,
                                       size_t len);
arq_wasm_result_t arq_wasm_memory_write(arq_wasm_memory_t *mem, uint64_t addr, const void *src,
                                        size_t len);
/** Current size in bytes. */
uint64_t arq_wasm_memory_size(const arq_wasm_memory_t *mem);

/**
 * Restores the instance to the state captured at instantiation (or by the last
 * arq_wasm_snapshot()): its own memory (only the 4 KiB chunks written since),
 * size, globals and tables (entries and size). Imported objects are not touched. Fuel
 * is left as is.
 * Refused (arq_wasm_err_busy) while a call on the instance is in progress.
 */
arq_wasm_result_t arq_wasm_reset(arq_wasm_instance_t *inst);
/** Captures the current state as the one arq_wasm_reset() restores (not during a call). */
arq_wasm_result_t arq_wasm_snapshot(arq_wasm_instance_t *inst);

#endif
