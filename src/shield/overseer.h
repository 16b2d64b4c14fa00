/*
 * overseer.h — tenant policies at the edge: WebAssembly modules (ABI arqon_host_v1, SPEC
 * section 5) that may deny a handshake or a message, add headers, and log.
 *
 * DESIGN
 *   Modules live in the NATS KV bucket `platform.overseer.kv_bucket` (key: tenant id, or
 *   `_global`, which runs first). A watcher thread validates each new module before it
 *   replaces the old one (an invalid module is refused and the old one stays) and hands
 *   the compiled module to every worker as a posted task: each worker swaps its own
 *   instance between two messages, so the swap is atomic for it and needs no lock per
 *   message. Instances are per worker; every evaluation starts from the module's initial
 *   state (arq_wasm_reset), with `fuel_limit` fuel and `memory_limit_mb` of memory.
 *   Anything that goes wrong (trap, fuel, an instance that could not be created) denies:
 *   fail closed, counted by reason and logged once per cause and module. No module: allow.
 *
 *   What a policy sees. At the handshake: the HTTP request headers and the JWT claims; the
 *   subject is empty. Per message: the envelope's `headers` map plus the routing headers
 *   (x-arqon-tenant, x-arqon-sender, x-arqon-conn, x-arqon-trace-id), the claims, the
 *   subject the message would be published to, and as payload the `data` of its event or
 *   command.
 *
 *   The canary (docs/policies.md, docs/adr/0008). A key's candidate (`<tenant>.canary`,
 *   `_global.canary`) runs right after the active module of that key, on the same inputs,
 *   for the share `canary_percent` of trace ids, with its own fuel and time budget and a
 *   verdict of its own that the client never sees. Both verdicts are counted per key and
 *   hook; a disagreement goes on the tenant's audit trail (rate-bounded). Nothing the
 *   candidate does (deny, trap, run out of fuel or time, add headers) changes what
 *   happens to the connection or the message.
 */
#ifndef ARQ_SHIELD_OVERSEER_H
#define ARQ_SHIELD_OVERSEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arq_shield arq_shield_t;
typedef struct arq_worker arq_worker_t;
typedef struct arq_conn arq_conn_t;
typedef struct arq_overseer arq_overseer_t;
typedef struct arq_worker_policies arq_worker_policies_t;

/** Header lists handed to policies: name/value pairs, back to back, each NUL-terminated. */
typedef struct {
  const char *blob;
  size_t len;
} arq_policy_headers_t;

/** A verdict: allowed, or denied with an HTTP-like code (400-599) and a reason. */
typedef struct {
  bool denied;
  int code;
  char reason[200];
  /* headers a policy added for the routed message: name/value pairs like the lists above */
  char added[1024];
  size_t added_len;
} arq_verdict_t;

/** Starts the watcher (when platform.overseer.enabled). NULL when disabled. */
arq_overseer_t *arq_overseer_start(arq_shield_t *s);
void arq_overseer_stop(arq_overseer_t *o);
/** False until the first full read of the bucket: until then handshakes are refused. */
bool arq_overseer_ready(const arq_overseer_t *o);

/** Per-worker state (instances), created on the worker's thread. */
arq_worker_policies_t *arq_worker_policies_new(arq_worker_t *w);
void arq_worker_policies_free(arq_worker_policies_t *p);

/** What the canary needs besides the policies' inputs. */
typedef struct {
  const char *trace_id; /* the sampling key, and the trace of a disagreement's audit record */
  arq_conn_t *conn;     /* named in that record; NULL: disagreements are counted, not audited */
} arq_canary_ctx_t;

/** arqon_on_connect of `_global`, then of the tenant's module; `canary` NULL: no candidate
 *  runs (the re-check of open connections by a new policy). */
void arq_overseer_check_connect(arq_worker_t *w, const char *tenant, const char *claims_json,
                                arq_policy_headers_t headers, const arq_canary_ctx_t *canary,
                                arq_verdict_t *v);
/** arqon_on_message of `_global`, then of the tenant's module. */
void arq_overseer_check_message(arq_worker_t *w, const char *tenant, const char *claims_json,
                                arq_policy_headers_t headers, const char *subject,
                                const uint8_t *payload, size_t payload_len,
                                const arq_canary_ctx_t *canary, arq_verdict_t *v);

#endif
