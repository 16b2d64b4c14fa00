/*
 * errors.c — the named results. Each is a distinct object, so callers compare by
 * identity; the text is what the WebAssembly spec tests expect where one exists.
 */
#include <stddef.h>

#include "wasm/wasm.h"

#define ARQ_WASM_DEFINE_ERROR(id, text) const char arq_wasm_err_##id[] = text;
ARQ_WASM_ERRORS(ARQ_WASM_DEFINE_ERROR)
#undef ARQ_WASM_DEFINE_ERROR

bool arq_wasm_is_trap(arq_wasm_result_t r) {
  if (!r)
    return false;
  /* every named result that is not a trap_*; anything else (a trap_* or a string a
   * host function returned) is a trap */
#define ARQ_WASM_NOT_TRAP(id, text)                                                      \
  if (r == arq_wasm_err_##id)                                                            \
    return sizeof(#id) > 5 && __builtin_memcmp(#id, "trap_", 5) == 0;
  ARQ_WASM_ERRORS(ARQ_WASM_NOT_TRAP)
#undef ARQ_WASM_NOT_TRAP
  return true;
}
