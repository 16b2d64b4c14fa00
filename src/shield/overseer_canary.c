/*
 * overseer_canary.c — a key's candidate policy beside its active one (overseer.h, "The
 * canary"; docs/policies.md; docs/adr/0008-policy-canary.md).
 *
 * DESIGN
 *   Where it runs. In the worker's evaluation of a hook, right after the active module of
 *   the same key (`_global`, then the tenant's), on the same inputs, when the trace id is in
 *   the canary's share (platform.overseer.canary_percent, the rule of mirroring). Only
 *   where the active chain reached that key: once `_global` denies, the tenant's module
 *   and its candidate are not asked, as the client's answer does not depend on them.
 *
 *   What it may change: nothing a client sees. The candidate writes into a verdict of its
 *   own (wp->canary_verdict): its denials, rejections and added headers go nowhere. Its
 *   failures deny nothing and are not shield_policy_denials_total; they count as the
 *   "error" outcome. It spends no fuel of the active budget and is not in
 *   shield_wasm_execution_duration_seconds or shield_wasm_fuel_consumed_total.
 *
 *   What it may cost. Fuel platform.overseer.canary_fuel_limit, handed out by the
 *   engine's refuel hook in slices of CANARY_FUEL_SLICE units; between two slices the hook
 *   reads the clock and stops the evaluation once it is past
 *   platform.overseer.canary_time_budget_us. So the active path is slowed at most by that
 *   budget plus one slice (about 2 µs in this engine), however the candidate loops. The
 *   clock is read once per slice, never per instruction.
 *
 *   What it reports. Per key: the pair (active, candidate) of outcomes per hook, in the
 *   tally shared by the workers (the answer to sys.shield.canary.report.<key>) and in
 *   shield_policy_canary_verdicts_total; the candidate's time. Each disagreement is an
 *   audit record on sys.audit.<tenant> with the trace id, the hook, both outcomes and
 *   reasons and the headers the two policies read (never the payload, never claims, and
 *   credentials by name only: Authorization, Proxy-Authorization, Cookie), at
 *   most platform.overseer.canary_audit_per_second per candidate and Shield: the window is
 *   one atomic word (second, count) updated by compare-and-swap, so the bound is exact
 *   across workers; what is over it counts in shield_policy_canary_audit_dropped_total.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "shield/audit.h"
#include "shield/overseer_internal.h"
#include "shield/sample.h"
#include "shield/shield.h"

/* Fuel handed out at a time: about 1.5 µs of this interpreter (docs/PERFORMANCE.md), so
 * a clock read (~20 ns) per slice costs the candidate about 1%. */
#define CANARY_FUEL_SLICE 4096u

/* Failures logged once per candidate module and cause: bits of arq_policy_slot_t.logged
 * above the ones overseer.c uses. */
#define LOGGED(cause) (1u << (8 + (cause)))

arq_canary_tally_t *arq_canary_tally_new(arq_shield_t *s, const char *base) {
  arq_canary_tally_t *t = calloc(1, sizeof *t);
  if (!t)
    arq_oom("canary tally");
  t->since_ms = arq_wall_ms();
  for (int h = 0; h < ARQ_CANARY_HOOKS; h++) {
    for (int a = 0; a < ARQ_CANARY_OUTCOMES; a++)
      for (int c = 0; c < ARQ_CANARY_OUTCOMES; c++)
        t->m_verdicts[h][a][c] = arq_metrics_counter(
            s->metrics, "shield_policy_canary_verdicts_total",
            "Evaluations of a candidate policy beside the active one, by the outcome of each.",
            (const char *[]){"tenant", base, "hook", arq_canary_hook_names[h], "active",
                             arq_canary_outcome_names[a], "candidate", arq_canary_outcome_names[c], NULL});
    t->m_duration[h] = arq_metrics_histogram(
        s->metrics, "shield_policy_canary_duration_seconds", "Evaluation time of candidate policies.",
        (const char *[]){"tenant", base, "hook", arq_canary_hook_names[h], NULL},
        arq_metrics_latency_buckets, arq_metrics_latency_nbuckets);
  }
  t->m_audit_dropped = arq_metrics_counter(
      s->metrics, "shield_policy_canary_audit_dropped_total",
      "Disagreements of a candidate policy not audited: over canary_audit_per_second.",
      (const char *[]){"tenant", base, NULL});
  return t;
}

void arq_canary_tally_free(arq_canary_tally_t *t) { free(t); }

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)

void arq_canary_tally_read(arq_canary_tally_t *t, arq_canary_counts_t *out) {
  for (int h = 0; h < ARQ_CANARY_HOOKS; h++)
    for (int a = 0; a < ARQ_CANARY_OUTCOMES; a++)
      for (int c = 0; c < ARQ_CANARY_OUTCOMES; c++)
        out->verdicts[h][a][c] = LOAD(t->verdicts[h][a][c]);
  for (int i = 0; i < ARQ_CANARY_CAUSES; i++)
    out->errors[i] = LOAD(t->errors[i]);
  out->evaluations = LOAD(t->evaluations);
  out->ns_total = LOAD(t->ns_total);
  out->ns_max = LOAD(t->ns_max);
  out->audit_published = LOAD(t->audit_published);
  out->audit_dropped = LOAD(t->audit_dropped);
}

/* The engine asks when the slice is spent: another one while fuel and time last. */
static uint64_t refuel(void *arg, uint64_t short_by) {
  (void)short_by; /* a charge larger than a slice asks again, slice by slice */
  arq_canary_budget_t *b = arg;
  if (!b->fuel_left)
    return 0;
  if (arq_now_ns() > b->deadline_ns) {
    b->out_of_time = true;
    return 0;
  }
  uint64_t give = b->fuel_left < CANARY_FUEL_SLICE ? b->fuel_left : CANARY_FUEL_SLICE;
  b->fuel_left -= give;
  return give;
}

void arq_canary_slot_ready(arq_worker_policies_t *wp, arq_policy_slot_t *slot) {
  arq_wasm_set_refuel(slot->inst, refuel, &wp->canary_budget);
}

bool arq_canary_sampled(const arq_config_t *cfg, const arq_canary_ctx_t *ctx) {
  const char *key = ctx->trace_id ? ctx->trace_id : "";
  return arq_sample_in(key, strlen(key), cfg->platform.overseer.canary_percent);
}

static void log_once(arq_policy_slot_t *slot, arq_canary_cause_t cause, const char *detail,
                     const char *tenant) {
  if (slot->logged & LOGGED(cause))
    return;
  slot->logged |= LOGGED(cause);
  char what[96];
  snprintf(what, sizeof what, "candidate policy failed (%s): counted, not enforced",
           arq_canary_cause_names[cause]);
  ARQ_LOG(ARQ_LOG_WARN, "overseer", what, {"module", slot->policy->key}, {"error", detail},
          {"tenant_id", tenant}, {"note", "logged once per cause and module"});
}

/* Runs the candidate into wp->canary_verdict; its outcome, and *cause when an error. */
static arq_canary_outcome_t run_candidate(arq_worker_policies_t *wp, arq_policy_slot_t *slot, bool connect,
                                          uint64_t *ns, bool *ran, arq_canary_cause_t *cause) {
  const arq_config_t *cfg = wp->w->shield->cfg;
  *ns = 0;
  *ran = false;
  if (slot->broken) {
    *cause = ARQ_CANARY_UNAVAILABLE;
    return ARQ_CANARY_ERROR;
  }
  if (!(connect ? slot->on_connect : slot->on_message))
    return ARQ_CANARY_ALLOW; /* the candidate does not hook this: it allows, as no module does */
  uint64_t limit = (uint64_t)cfg->platform.overseer.canary_fuel_limit;
  uint64_t first = limit < CANARY_FUEL_SLICE ? limit : CANARY_FUEL_SLICE;
  arq_canary_budget_t *b = &wp->canary_budget;
  b->fuel_left = limit - first;
  b->out_of_time = false;
  b->time_ns = (uint64_t)cfg->platform.overseer.canary_time_budget_us * 1000u;
  int32_t ret;
  arq_wasm_result_t r = arq_policy_call(wp, slot, connect, first, b, &ret, ns);
  *ran = true;
  if (r == arq_policy_rejected)
    return ARQ_CANARY_DENY;
  if (!r && !ret)
    return ARQ_CANARY_ALLOW;
  if (!r) { /* as the active path words it, for the disagreement's record */
    arq_policy_deny_returned(&wp->canary_verdict, ret, slot->policy->key);
    return ARQ_CANARY_DENY;
  }
  if (r == arq_wasm_err_trap_out_of_fuel)
    *cause = b->out_of_time ? ARQ_CANARY_TIME : ARQ_CANARY_FUEL;
  else
    *cause = arq_wasm_is_trap(r) ? ARQ_CANARY_TRAP : ARQ_CANARY_FAILED;
  log_once(slot, *cause, r, wp->eval.tenant);
  return ARQ_CANARY_ERROR;
}

/* One more record in this second's window, unless it is full. */
static bool audit_take(arq_canary_tally_t *t, uint64_t per_second) {
  if (!per_second)
    return false;
  uint64_t second = (arq_now_ns() / 1000000000u) & 0xffffffffu;
  uint64_t old = atomic_load(&t->audit_window);
  for (;;) {
    uint64_t n = old >> 32 == second ? old & 0xffffffffu : 0;
    if (n >= per_second)
      return false;
    if (atomic_compare_exchange_weak(&t->audit_window, &old, second << 32 | (n + 1)))
      return true;
  }
}

/* Headers whose values are credentials: a handshake's Authorization carries the client's
 * token. A policy may read them; the audit stream, which is kept for days, gets their names
 * only. */
static bool secret_header(const char *name) {
  static const char *const secrets[] = {"authorization", "proxy-authorization", "cookie", NULL};
  for (size_t i = 0; secrets[i]; i++)
    if (!strcasecmp(name, secrets[i]))
      return true;
  return false;
}

static const char *outcome_reason(arq_canary_outcome_t o, const arq_verdict_t *v) {
  return o == ARQ_CANARY_ALLOW ? "" : v->reason;
}

static void audit(arq_worker_policies_t *wp, arq_policy_slot_t *slot, bool connect,
                  arq_canary_outcome_t active, arq_canary_outcome_t candidate, arq_canary_cause_t cause,
                  const arq_canary_ctx_t *ctx) {
  arq_policy_t *p = slot->policy;
  arq_canary_tally_t *t = p->tally;
  if (!ctx->conn)
    return; /* nobody to name: counted only */
  if (!audit_take(t, (uint64_t)wp->w->shield->cfg->platform.overseer.canary_audit_per_second)) {
    ADD(t->audit_dropped, 1);
    arq_counter_inc(t->m_audit_dropped);
    return;
  }
  ADD(t->audit_published, 1);
  arq_policy_eval_t *e = &wp->eval;
  const char *headers[ARQ_POLICY_MAX_READS][2];
  for (size_t i = 0; i < e->nreads; i++) {
    headers[i][0] = e->reads[i];
    headers[i][1] = secret_header(e->reads[i]) ? "(redacted)" : e->reads[i] + strlen(e->reads[i]) + 1;
  }
  char reason[160], revision[24];
  snprintf(reason, sizeof reason, "the active policy says %s, the candidate %s",
           arq_canary_outcome_names[active], arq_canary_outcome_names[candidate]);
  snprintf(revision, sizeof revision, "%llu", (unsigned long long)p->revision);
  const char *candidate_reason =
      candidate == ARQ_CANARY_ERROR && !wp->canary_verdict.denied ? arq_canary_cause_names[cause]
                                                                  : outcome_reason(candidate, &wp->canary_verdict);
  const char *const extra[][2] = {
      {"module", p->base},
      {"revision", revision},
      {"hook", arq_canary_hook_names[connect ? ARQ_CANARY_CONNECT : ARQ_CANARY_MESSAGE]},
      {"active", arq_canary_outcome_names[active]},
      {"candidate", arq_canary_outcome_names[candidate]},
      {"active_reason", outcome_reason(active, e->v)},
      {"candidate_reason", candidate_reason},
  };
  arq_audit_with(ctx->conn, "policy_canary_disagreement", reason, e->subject, ctx->trace_id, extra,
                 sizeof extra / sizeof extra[0], (const char *const(*)[2])headers, e->nreads);
}

void arq_canary_compare(arq_worker_policies_t *wp, arq_policy_slot_t *slot, bool connect,
                        arq_canary_outcome_t active, const arq_canary_ctx_t *ctx) {
  arq_policy_eval_t *e = &wp->eval;
  arq_canary_tally_t *t = slot->policy->tally;
  arq_verdict_t *client = e->v;
  arq_verdict_t *mine = &wp->canary_verdict;
  mine->denied = false;
  mine->code = 0;
  mine->reason[0] = '\0';
  mine->added_len = 0;
  e->v = mine;
  uint64_t ns;
  bool ran;
  arq_canary_cause_t cause = ARQ_CANARY_FAILED;
  arq_canary_outcome_t candidate = run_candidate(wp, slot, connect, &ns, &ran, &cause);
  e->v = client;
  arq_canary_hook_t hook = connect ? ARQ_CANARY_CONNECT : ARQ_CANARY_MESSAGE;
  ADD(t->verdicts[hook][active][candidate], 1);
  arq_counter_inc(t->m_verdicts[hook][active][candidate]);
  if (candidate == ARQ_CANARY_ERROR)
    ADD(t->errors[cause], 1);
  if (ran) {
    ADD(t->evaluations, 1);
    ADD(t->ns_total, ns);
    uint64_t max = LOAD(t->ns_max);
    while (ns > max && !atomic_compare_exchange_weak(&t->ns_max, &max, ns)) {
    }
    arq_histogram_observe(t->m_duration[hook], (double)ns / 1e9);
  }
  if (candidate != active)
    audit(wp, slot, connect, active, candidate, cause, ctx);
}
