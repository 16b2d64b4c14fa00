/*
 * overseer.c — policies on the workers: installing a module (one instance per worker),
 * and evaluating the hooks. The watcher (overseer_watch.c) feeds arq_overseer_install();
 * a key's candidate runs after its active module through overseer_canary.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "shield/audit.h"
#include "shield/overseer_internal.h"
#include "shield/shield.h"

#define STACK_SLOTS 16384u /* 128 KiB of value stack per instance is plenty for a policy */

typedef enum { CAUSE_TRAP = 1, CAUSE_FUEL = 2, CAUSE_BROKEN = 4, CAUSE_ERROR = 8 } cause_t;

typedef arq_policy_slot_t slot_t;

typedef struct {
  arq_task_t task;
  arq_worker_t *w;
  char base[ARQ_ID_MAX_LEN + 1];
  bool canary;
  arq_policy_t *policy; /* NULL: the key was deleted */
} install_t;

void arq_policy_unref(arq_policy_t *p) {
  if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
    arq_wasm_module_free(p->module);
    arq_canary_tally_free(p->tally);
    free(p);
  }
}

arq_worker_policies_t *arq_worker_policies_new(arq_worker_t *w) {
  arq_worker_policies_t *wp = calloc(1, sizeof *wp);
  if (!wp)
    arq_oom("policies");
  wp->w = w;
  arq_json_limits_t limits = {16384, 16, 4096};
  arq_json_doc_init(&wp->eval.claims, &limits);
  const arq_config_t *cfg = w->shield->cfg;
  wp->eval.log.max_bytes_per_eval = (size_t)cfg->platform.overseer.log_max_bytes_per_eval;
  wp->eval.log.lines_per_second = cfg->platform.overseer.log_lines_per_second;
  wp->eval.log.dropped = w->shield->m.policy_log_dropped;
  arq_host_imports_new(&wp->eval, wp->host);
  arq_strmap_init(&wp->slots);
  arq_strmap_init(&wp->canaries);
  return wp;
}

static void slot_free(slot_t *slot) {
  if (!slot)
    return;
  arq_wasm_instance_free(slot->inst);
  arq_policy_unref(slot->policy);
  free(slot);
}

static void slots_free(arq_strmap_t *m) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key)
      slot_free(m->slots[i].value);
  arq_strmap_free(m);
}

void arq_worker_policies_free(arq_worker_policies_t *wp) {
  if (!wp)
    return;
  slots_free(&wp->slots);
  slots_free(&wp->canaries);
  arq_host_imports_free(wp->host);
  arq_json_doc_free(&wp->eval.claims);
  free(wp);
}

/* `carry`: the lines left to the module this one replaces (pushing a module again does not
 * refill its host_log budget), or NULL. */
static slot_t *instantiate(arq_worker_policies_t *wp, arq_policy_t *p, const arq_log_bucket_t *carry) {
  const arq_config_t *cfg = wp->w->shield->cfg;
  slot_t *slot = calloc(1, sizeof *slot);
  if (!slot)
    arq_oom("policy slot");
  slot->policy = p;
  if (carry)
    slot->log = *carry;
  arq_wasm_extern_t imports[ARQ_HOST_FUNCS];
  for (int i = 0; i < ARQ_HOST_FUNCS; i++)
    imports[i] = (arq_wasm_extern_t){"arqon_host_v1", wp->host[i].name, ARQ_WASM_EXTERN_FUNC,
                                     {.func = wp->host[i].func}};
  arq_wasm_limits_t limits = {
      .max_pages = (uint32_t)(cfg->platform.overseer.memory_limit_mb * 16),
      .stack_slots = STACK_SLOTS,
      .fuel = (uint64_t)(p->canary ? cfg->platform.overseer.canary_fuel_limit : cfg->platform.overseer.fuel_limit),
      .bulk_bytes_per_fuel = 64,
      .max_table_elements = (uint32_t)cfg->platform.overseer.max_table_elements,
  };
  /* The start function sees no message: give it an empty context. */
  memset(&wp->eval.headers, 0, sizeof wp->eval.headers);
  arq_verdict_t scratch = {0};
  wp->eval.v = &scratch;
  wp->eval.key = p->key;
  wp->eval.tenant = "";
  wp->eval.log_bucket = &slot->log;
  wp->eval.log_bytes = 0;
  wp->eval.track_reads = false;
  arq_wasm_result_t r = arq_wasm_instantiate(p->module, imports, ARQ_HOST_FUNCS, &limits, &slot->inst);
  if (r) {
    arq_wasm_instance_free(slot->inst);
    slot->inst = NULL;
    slot->broken = r;
    ARQ_LOG(ARQ_LOG_ERROR, "overseer",
            p->canary ? "candidate policy cannot be instantiated: its evaluations count as errors"
                      : "policy cannot be instantiated: every evaluation is denied",
            {"module", p->key}, {"error", r});
    slot->logged |= CAUSE_BROKEN;
    return slot;
  }
  slot->on_connect = p->has_connect ? arq_wasm_export_func(slot->inst, "arqon_on_connect") : NULL;
  slot->on_message = p->has_message ? arq_wasm_export_func(slot->inst, "arqon_on_message") : NULL;
  if (p->canary)
    arq_canary_slot_ready(wp, slot);
  return slot;
}

static void deny(arq_verdict_t *v, int code, const char *reason) {
  v->denied = true;
  v->code = code;
  snprintf(v->reason, sizeof v->reason, "%s", reason);
}

void arq_policy_deny_returned(arq_verdict_t *v, int32_t ret, const char *key) {
  v->denied = true;
  v->code = ret >= 400 && ret <= 599 ? ret : 403;
  snprintf(v->reason, sizeof v->reason, "denied by policy %s", key);
}

static void count_denial(arq_shield_t *s, arq_denial_t reason) {
  if (s->m.policy_denials[reason])
    arq_counter_inc(s->m.policy_denials[reason]);
}

/* Logs a failure the first time this cause happens for this module. */
static void log_once(slot_t *slot, unsigned cause, const char *what, const char *detail,
                     const char *tenant) {
  if (slot->logged & cause)
    return;
  slot->logged |= cause;
  ARQ_LOG(ARQ_LOG_WARN, "overseer", what, {"module", slot->policy->key}, {"error", detail},
          {"tenant_id", tenant}, {"note", "logged once per cause and module"});
}

/* Inlined into the active path (evaluate); the candidate's goes through arq_policy_call. */
static inline arq_wasm_result_t call_hook(arq_worker_policies_t *wp, slot_t *slot, bool connect, uint64_t fuel,
                                          arq_canary_budget_t *budget, int32_t *ret, uint64_t *ns) {
  arq_policy_eval_t *e = &wp->eval;
  arq_wasm_func_t *fn = connect ? slot->on_connect : slot->on_message;
  e->key = slot->policy->key;
  e->log_bucket = &slot->log;
  e->log_bytes = 0;
  e->rejected = false;
  e->claims_parsed = false;
  arq_wasm_val_t result = {0};
  arq_wasm_result_t r = arq_wasm_reset(slot->inst);
  uint64_t start = arq_now_ns();
  if (budget)
    budget->deadline_ns = start + budget->time_ns;
  if (!r) {
    arq_wasm_set_fuel(slot->inst, fuel);
    r = arq_wasm_call(slot->inst, fn, NULL, 0, &result, 1);
  }
  *ns = arq_now_ns() - start;
  *ret = result.of.i32;
  return r;
}

arq_wasm_result_t arq_policy_call(arq_worker_policies_t *wp, slot_t *slot, bool connect, uint64_t fuel,
                                  arq_canary_budget_t *budget, int32_t *ret, uint64_t *ns) {
  return call_hook(wp, slot, connect, fuel, budget, ret, ns);
}

/* The active module of a key: its verdict goes into the client's (e->v). */
static arq_canary_outcome_t evaluate(arq_worker_policies_t *wp, slot_t *slot, bool connect) {
  arq_policy_eval_t *e = &wp->eval;
  arq_shield_t *s = wp->w->shield;
  arq_verdict_t *v = e->v;
  if (slot->broken) {
    deny(v, 403, "policy unavailable");
    count_denial(s, ARQ_DENIAL_UNAVAILABLE);
    return ARQ_CANARY_ERROR;
  }
  if (!(connect ? slot->on_connect : slot->on_message))
    return ARQ_CANARY_ALLOW; /* the module does not hook this */
  uint64_t fuel = (uint64_t)s->cfg->platform.overseer.fuel_limit, ns;
  int32_t ret;
  arq_wasm_result_t r = call_hook(wp, slot, connect, fuel, NULL, &ret, &ns);
  arq_histogram_observe(s->m.wasm_duration, (double)ns / 1e9);
  uint64_t left = arq_wasm_fuel_left(slot->inst);
  arq_counter_add(s->m.wasm_fuel_consumed, left <= fuel ? fuel - left : 0);
  if (r == arq_policy_rejected) {
    count_denial(s, ARQ_DENIAL_REJECTED);
    return ARQ_CANARY_DENY;
  }
  if (r == arq_wasm_err_trap_out_of_fuel) {
    deny(v, 403, "policy ran out of fuel");
    count_denial(s, ARQ_DENIAL_FUEL);
    log_once(slot, CAUSE_FUEL, "policy ran out of fuel: denied", r, e->tenant);
  } else if (r && arq_wasm_is_trap(r)) {
    deny(v, 403, "policy trapped");
    count_denial(s, ARQ_DENIAL_TRAP);
    log_once(slot, CAUSE_TRAP, "policy trapped: denied", r, e->tenant);
  } else if (r) {
    deny(v, 403, "policy failed");
    count_denial(s, ARQ_DENIAL_ERROR);
    log_once(slot, CAUSE_ERROR, "policy evaluation failed: denied", r, e->tenant);
  } else if (ret != 0) {
    arq_policy_deny_returned(v, ret, slot->policy->key);
    count_denial(s, ARQ_DENIAL_DENIED);
    return ARQ_CANARY_DENY;
  } else {
    return ARQ_CANARY_ALLOW;
  }
  return ARQ_CANARY_ERROR;
}

/* `_global` first, then the tenant's own; the first denial ends it. A key's candidate, in
 * the canary's share of the traffic, runs right after the key's active module. */
static void run_hooks(arq_worker_t *w, const char *tenant, bool connect, const arq_canary_ctx_t *ctx) {
  arq_worker_policies_t *wp = w->policies;
  arq_policy_eval_t *e = &wp->eval;
  const char *keys[2] = {ARQ_POLICY_GLOBAL, tenant};
  bool canaries = ctx && wp->canaries.len; /* none anywhere: the path costs what it did */
  int sampled = -1;                        /* decided once, when a candidate is found */
  for (int i = 0; i < 2 && !e->v->denied; i++) {
    size_t klen = strlen(keys[i]);
    slot_t *slot = arq_strmap_get(&wp->slots, keys[i], klen);
    slot_t *candidate = canaries ? arq_strmap_get(&wp->canaries, keys[i], klen) : NULL;
    if (candidate) {
      if (sampled < 0)
        sampled = arq_canary_sampled(w->shield->cfg, ctx);
      candidate = sampled ? candidate : NULL;
    }
    if (candidate) {
      e->track_reads = true;
      e->nreads = 0;
    }
    arq_canary_outcome_t active = slot ? evaluate(wp, slot, connect) : ARQ_CANARY_ALLOW;
    if (candidate) {
      arq_canary_compare(wp, candidate, connect, active, ctx);
      e->track_reads = false;
    }
  }
}

static void begin(arq_worker_t *w, const char *tenant, const char *claims_json,
                  arq_policy_headers_t headers, arq_verdict_t *v) {
  arq_policy_eval_t *e = &w->policies->eval;
  memset(v, 0, sizeof *v);
  e->tenant = tenant;
  e->claims_json = claims_json;
  e->headers = headers;
  e->v = v;
  e->subject = NULL;
  e->payload = NULL;
  e->payload_len = 0;
}

void arq_overseer_check_connect(arq_worker_t *w, const char *tenant, const char *claims_json,
                                arq_policy_headers_t headers, const arq_canary_ctx_t *canary,
                                arq_verdict_t *v) {
  if (!w->policies)
    return;
  begin(w, tenant, claims_json, headers, v);
  run_hooks(w, tenant, true, canary);
}

void arq_overseer_check_message(arq_worker_t *w, const char *tenant, const char *claims_json,
                                arq_policy_headers_t headers, const char *subject,
                                const uint8_t *payload, size_t payload_len,
                                const arq_canary_ctx_t *canary, arq_verdict_t *v) {
  if (!w->policies)
    return;
  begin(w, tenant, claims_json, headers, v);
  arq_policy_eval_t *e = &w->policies->eval;
  e->subject = subject;
  e->payload = payload;
  e->payload_len = payload_len;
  run_hooks(w, tenant, false, canary);
}

/* A new connect policy applies to the connections already open: upstream's "ban all". No
 * candidate runs here: a candidate closes nothing, and re-counting old handshakes would
 * only repeat their first verdicts. */
static void recheck_connections(arq_worker_t *w, const char *key) {
  bool global = !strcmp(key, ARQ_POLICY_GLOBAL);
  for (arq_conn_t *c = w->all; c; c = c->next) {
    if (c->state != CONN_WS || (!global && strcmp(c->id.tenant, key)))
      continue;
    arq_verdict_t v;
    arq_policy_headers_t h = {c->http.policy_headers, c->http.policy_headers_len};
    arq_overseer_check_connect(w, c->id.tenant, c->id.claims_json, h, NULL, &v);
    if (v.denied) {
      ARQ_LOG(ARQ_LOG_INFO, "overseer", "connection closed by a new policy", {"conn", c->conn_id},
              {"tenant_id", c->id.tenant}, {"reason", v.reason});
      arq_audit(c, "closed_by_policy", 1008, v.reason, NULL, NULL);
      arq_conn_close(c, 1008, v.reason);
    }
  }
}

static void run_install(arq_loop_t *loop, arq_task_t *task) {
  install_t *in = task->data;
  arq_worker_policies_t *wp = in->w->policies;
  arq_strmap_t *map = in->canary ? &wp->canaries : &wp->slots;
  size_t klen = strlen(in->base);
  slot_t *prev = arq_strmap_get(map, in->base, klen);
  slot_t *fresh = in->policy ? instantiate(wp, in->policy, prev ? &prev->log : NULL) : NULL;
  slot_t *old = fresh ? arq_strmap_put(map, in->base, klen, fresh) : arq_strmap_remove(map, in->base, klen);
  slot_free(old);
  if (!in->canary && fresh && (fresh->on_connect || fresh->broken))
    recheck_connections(in->w, in->base);
  free(in);
}

void arq_overseer_install(arq_shield_t *s, const char *base, bool canary, arq_policy_t *p) {
  for (size_t i = 0; i < s->nworkers; i++) {
    install_t *in = calloc(1, sizeof *in);
    if (!in)
      arq_oom("policy install");
    in->task.cb = run_install;
    in->task.data = in;
    in->w = &s->workers[i];
    snprintf(in->base, sizeof in->base, "%s", base);
    in->canary = canary;
    if (p) {
      atomic_fetch_add(&p->refs, 1); /* one per worker */
      in->policy = p;
    }
    arq_loop_post(s->workers[i].loop, &in->task);
  }
  arq_policy_unref(p); /* the caller's */
}
