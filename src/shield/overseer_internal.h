/* Shared by the parts of the Overseer integration (overseer*.c); not an API. */
#ifndef ARQ_SHIELD_OVERSEER_INTERNAL_H
#define ARQ_SHIELD_OVERSEER_INTERNAL_H

#include <stdatomic.h>

#include "common/config.h"
#include "common/json.h"
#include "common/metrics.h"
#include "common/strmap.h"
#include "policy/canary_report.h"
#include "policy/keys.h"
#include "shield/overseer.h"
#include "wasm/wasm.h"

#define ARQ_HOST_FUNCS 7
/* Headers a canary disagreement's audit record names: the first ones the two policies read. */
#define ARQ_POLICY_MAX_READS 16

/* What a candidate has counted on this node since its revision was installed (the
 * answer to sys.shield.canary.report.<key>), and the metric series of its key. Shared by
 * every worker: relaxed atomics, no lock. */
typedef struct {
  _Atomic uint64_t verdicts[ARQ_CANARY_HOOKS][ARQ_CANARY_OUTCOMES][ARQ_CANARY_OUTCOMES];
  _Atomic uint64_t errors[ARQ_CANARY_CAUSES];
  _Atomic uint64_t evaluations, ns_total, ns_max;
  _Atomic uint64_t audit_published, audit_dropped;
  _Atomic uint64_t audit_window; /* the second (high 32 bits) and the records in it (low 32) */
  int64_t since_ms;              /* wall clock, when the revision was loaded */
  arq_counter_t *m_verdicts[ARQ_CANARY_HOOKS][ARQ_CANARY_OUTCOMES][ARQ_CANARY_OUTCOMES];
  arq_histogram_t *m_duration[ARQ_CANARY_HOOKS];
  arq_counter_t *m_audit_dropped;
} arq_canary_tally_t;

/* A validated module for one key, shared read-only by every worker. */
typedef struct {
  atomic_int refs;
  char key[ARQ_POLICY_KEY_CAP];   /* as in the bucket: "acme", "acme.canary" */
  char base[ARQ_ID_MAX_LEN + 1];  /* the tenant id or _global it is for */
  bool canary;                    /* a candidate: compared, never enforced */
  uint64_t revision;
  arq_wasm_module_t *module;
  bool has_connect, has_message;
  arq_canary_tally_t *tally;      /* candidates only */
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
  /* While a candidate is compared: the headers host_get_header found, as pointers to their
   * names in `headers` (each value follows its name), for a disagreement's audit record. */
  bool track_reads;
  const char *reads[ARQ_POLICY_MAX_READS];
  size_t nreads;
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

/* A module's instance on one worker. */
typedef struct {
  arq_policy_t *policy;
  arq_wasm_instance_t *inst;
  arq_wasm_func_t *on_connect, *on_message;
  const char *broken; /* why no instance could be made: every evaluation denies */
  unsigned logged;    /* causes already logged for this module */
  arq_log_bucket_t log; /* host_log lines; carried over when the module is replaced */
} arq_policy_slot_t;

/* What a candidate's evaluation may spend: fuel handed out in slices by the engine's
 * refuel hook, which checks the clock between two slices (docs/adr/0008). */
typedef struct {
  uint64_t fuel_left;   /* of platform.overseer.canary_fuel_limit, not handed out yet */
  uint64_t time_ns;     /* platform.overseer.canary_time_budget_us */
  uint64_t deadline_ns; /* when the call started + time_ns */
  bool out_of_time;
} arq_canary_budget_t;

struct arq_worker_policies {
  arq_worker_t *w;
  arq_policy_eval_t eval;
  arq_host_import_t host[ARQ_HOST_FUNCS];
  arq_strmap_t slots;    /* key ("acme", "_global") -> active arq_policy_slot_t */
  arq_strmap_t canaries; /* base ("acme", "_global") -> candidate arq_policy_slot_t */
  arq_verdict_t canary_verdict; /* what a candidate decides: never seen by the client */
  arq_canary_budget_t canary_budget;
};

/** Resets the slot's instance to its initial state and calls the connect or message hook
 *  with `fuel`; *ret is the hook's result, *ns the time the call took. With `budget` (a
 *  candidate's), its deadline is set from the call's start. */
arq_wasm_result_t arq_policy_call(arq_worker_policies_t *wp, arq_policy_slot_t *slot, bool connect,
                                  uint64_t fuel, arq_canary_budget_t *budget, int32_t *ret, uint64_t *ns);

/** A hook's non-zero return as a verdict: its code when 400..599 (else 403), "denied by
 *  policy <key>": the active path's denial, and the wording of a candidate's. */
void arq_policy_deny_returned(arq_verdict_t *v, int32_t ret, const char *key);

/* overseer.c: what the watcher hands to the workers (`canary`: the candidate of `base`). */
void arq_overseer_install(arq_shield_t *s, const char *base, bool canary, arq_policy_t *p);

/* overseer_canary.c: the candidate beside the active policy. */

/** Counters and metric series for a candidate of `base` (registered on first use). */
arq_canary_tally_t *arq_canary_tally_new(arq_shield_t *s, const char *base);
void arq_canary_tally_free(arq_canary_tally_t *t);
/** The tally as plain numbers, for a report. */
void arq_canary_tally_read(arq_canary_tally_t *t, arq_canary_counts_t *out);
/** Readies a candidate's new instance: its refuel hook spends the worker's budget. */
void arq_canary_slot_ready(arq_worker_policies_t *wp, arq_policy_slot_t *slot);
/** True when the evaluation described by `ctx` is in the canary's share of the traffic. */
bool arq_canary_sampled(const arq_config_t *cfg, const arq_canary_ctx_t *ctx);
/** Evaluates the candidate in `slot` on the evaluation in progress, right after the active
 *  policy of its key decided `active`; counts both, and audits a disagreement. The
 *  client's verdict (wp->eval.v) is left as it is. */
void arq_canary_compare(arq_worker_policies_t *wp, arq_policy_slot_t *slot, bool connect,
                        arq_canary_outcome_t active, const arq_canary_ctx_t *ctx);

#endif
