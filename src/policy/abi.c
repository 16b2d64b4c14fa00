#include "policy/abi.h"

#include <string.h>

const char *const arq_policy_abi_imports[ARQ_POLICY_ABI_FUNCS] = {
    "host_get_header", "host_get_claim", "host_get_payload", "host_get_subject",
    "host_add_header", "host_log", "host_reject"};

static bool hook_export(const arq_wasm_module_t *m, const char *name, bool *bad_type) {
  for (size_t i = 0; i < arq_wasm_module_export_count(m); i++) {
    arq_wasm_extern_desc_t d;
    arq_wasm_module_export(m, i, &d);
    if (d.kind == ARQ_WASM_EXTERN_FUNC && d.name_len == strlen(name) && !memcmp(d.name, name, d.name_len)) {
      *bad_type |= !(d.functype->nparams == 0 && d.functype->nresults == 1 &&
                     d.functype->results[0] == ARQ_WASM_I32);
      return true;
    }
  }
  return false;
}

const char *arq_policy_abi_load(const uint8_t *bytes, size_t len, arq_wasm_module_t **out,
                                bool *connect, bool *message) {
  static const size_t module_len = sizeof ARQ_POLICY_ABI_MODULE - 1;
  *out = NULL;
  arq_wasm_module_t *m = NULL;
  arq_wasm_result_t r = arq_wasm_module_load(bytes, len, &m);
  if (r)
    return r;
  for (size_t i = 0; i < arq_wasm_module_import_count(m); i++) {
    arq_wasm_extern_desc_t d;
    arq_wasm_module_import(m, i, &d);
    bool known = d.kind == ARQ_WASM_EXTERN_FUNC && d.module_len == module_len &&
                 !memcmp(d.module, ARQ_POLICY_ABI_MODULE, module_len);
    bool named = false;
    for (int k = 0; known && k < ARQ_POLICY_ABI_FUNCS; k++)
      named |= d.name_len == strlen(arq_policy_abi_imports[k]) &&
               !memcmp(d.name, arq_policy_abi_imports[k], d.name_len);
    if (!named) {
      arq_wasm_module_free(m);
      return "imports something other than the functions of arqon_host_v1";
    }
  }
  bool bad_type = false;
  *connect = hook_export(m, "arqon_on_connect", &bad_type);
  *message = hook_export(m, "arqon_on_message", &bad_type);
  if (bad_type || (!*connect && !*message)) {
    arq_wasm_module_free(m);
    return bad_type ? "arqon_on_connect/arqon_on_message must be () -> i32"
                    : "exports neither arqon_on_connect nor arqon_on_message";
  }
  *out = m;
  return NULL;
}

const char *arq_policy_abi_check(const uint8_t *bytes, size_t len) {
  arq_wasm_module_t *m;
  bool c, msg;
  const char *why = arq_policy_abi_load(bytes, len, &m, &c, &msg);
  arq_wasm_module_free(m);
  return why;
}
