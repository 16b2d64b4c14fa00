/* Shared by the parts of the Overseer integration (overseer*.c); not an API. */
#ifndef ARQ_SHIELD_OVERSEER_INTERNAL_H
#define ARQ_SHIELD_OVERSEER_INTERNAL_H

#include <stdatomic.h>

#include "common/json.h"
#include "common/metrics.h"
#include "common/strmap.h"
#include "shield/overseer.h"
#include "wasm/wasm.h"

#define ARQ_POLICY_GLOBAL "_global"
#define ARQ_HOST_FUNCS 7

/* A validated module for one key, shared read-only by every worker. */
typedef struct {
  atomic_int refs;
  char key[65];
  uint64_t revision;
  arq_wasm_module_t *module;
  bool has_connect, has_message;
} arq_policy_t;

void arq_policy_unref(arq_policy_t *p);

/* host_log's budget (docs/policies.md): a policy shares the Shield's log with every other
 * tenant, and a log line costs far more than the fuel it is charged. */
typedef struct {
  double tokens;  /* lines that may be written now */
  uint64_t at_ns; /* when `tokens` was last refilled; 0: never used (a full bucket) */
} arq_log_bucket_t;

typedef struct {
  size_t max_bytes_per_eval; /* platform.overseer.log_max_bytes_per_eval; 0: nothing is logged */
  double lines_per_second;   /* platform.overseer.log_lines_per_second, the bucket's refill */
  arq_counter_t *dropped;    /* shield_policy_log_dropped_total; NULL: not counted */
  uint64_t unreported;       /* lines dropped since the last summary line */
  uint64_t reported_ns;      /* when the last summary line was written; 0: never */
} arq_log_budget_t;

/* The inputs and outputs of the evaluation in progress: the host functions' env. */
typedef struct {
  const char *key;
  const char *tenant;
  const char *claims_json;
  arq_policy_headers_t headers;
  const char *subject; /* NULL at the handshake */
  const uint8_t *payload;
  size_t payload_len;
  arq_verdict_t *v;
  bool rejected;
  bool claims_parsed;
  arq_json_doc_t claims;
  const arq_json_value_t *claims_root;
  arq_log_budget_t log;          /* the worker's, for every evaluation */
  arq_log_bucket_t *log_bucket;  /* the lines of the module being evaluated, on this worker */
  size_t log_bytes;              /* written by this evaluation so far */
} arq_policy_eval_t;

/* The host functions of arqon_host_v1, bound to one evaluation context. */
typedef struct {
  const char *name;
  arq_wasm_func_t *func;
} arq_host_import_t;

/** Creates the ABI's host functions with `eval` as their env. */
void arq_host_imports_new(arq_policy_eval_t *eval, arq_host_import_t out[ARQ_HOST_FUNCS]);
void arq_host_imports_free(arq_host_import_t imports[ARQ_HOST_FUNCS]);
/** The result a host function returns to stop the evaluation after host_reject. */
extern const char arq_policy_rejected[];

/* overseer.c: what the watcher hands to the workers. */
void arq_overseer_install(arq_shield_t *s, const char *key, arq_policy_t *p);

#endif
