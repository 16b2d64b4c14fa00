/*
 * abi.h — the contract between a policy module and its host: ABI `arqon_host_v1` (SPEC
 * section 5, docs/policies.md). A module may import only the host functions below from
 * module "arqon_host_v1" and must export arqon_on_connect and/or arqon_on_message, each
 * () -> i32.
 *
 * DESIGN
 *   The Shield checks every module before it runs it, and `arq policy push` checks a module
 *   before it stores it, with the same words: both call this library, which depends on the
 *   engine (src/wasm) and nothing of the daemon, so the CLI does not link the Shield.
 */
#ifndef ARQ_POLICY_ABI_H
#define ARQ_POLICY_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm.h"

/** The import module name of the ABI. */
#define ARQ_POLICY_ABI_MODULE "arqon_host_v1"
/** How many host functions the ABI has. */
#define ARQ_POLICY_ABI_FUNCS 7

/** The host function names, in the ABI's order. */
extern const char *const arq_policy_abi_imports[ARQ_POLICY_ABI_FUNCS];

/**
 * Loads a module with the engine and checks it against the ABI. On success returns NULL,
 * *out is the module (the caller frees it with arq_wasm_module_free) and *connect and
 * *message tell which hooks it exports. On failure returns the reason (a constant string)
 * and *out is NULL.
 */
const char *arq_policy_abi_load(const uint8_t *bytes, size_t len, arq_wasm_module_t **out,
                                bool *connect, bool *message);

/** Checks a module as arq_policy_abi_load does, without keeping it: NULL when acceptable,
 *  otherwise the reason. */
const char *arq_policy_abi_check(const uint8_t *bytes, size_t len);

#endif
