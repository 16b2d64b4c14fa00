/*
 * overseer.c — policies on the workers: installing a module (one instance per worker),
 * and evaluating the hooks. The watcher (overseer_watch.c) feeds arq_overseer_install().
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

typedef struct {
  arq_policy_t *policy;
  arq_wasm_instance_t *inst;
  arq_wasm_func_t *on_connect, *on_message;
  const char *broken; /* why no instance could be made: every evaluation denies */
  unsigned logged;    /* causes already logged for this module */
  arq_log_bucket_t log; /* host_log lines; carried over when the module is replaced */
} slot_t;

struct arq_worker_policies {
  arq_worker_t *w;
  arq_policy_eval_t eval;
  arq_host_import_t host[ARQ_HOST_FUNCS];
  arq_strmap_t slots; /* key -> slot_t */
};

typedef struct {
  arq_task_t task;
  arq_worker_t *w;
  char key[65];
  arq_policy_t *policy; /* NULL: the key was deleted */
} install_t;

void arq_policy_unref(arq_policy_t *p) {
  if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
    arq_wasm_module_free(p->module);
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
  return wp;
}

static void slot_free(slot_t *slot) {
  if (!slot)
    return;
  arq_wasm_instance_free(slot->inst);
  arq_policy_unref(slot->policy);
  free(slot);
}

void arq_worker_policies_free(arq_worker_policies_t *wp) {
  if (!wp)
    return;
  for (size_t i = 0; i < wp->slots.cap; i++)
    if (wp->slots.slots[i].key)
      slot_free(wp->slots.slots[i].value);
  arq_strmap_free(&wp->slots);
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
      .fuel = (uint64_t)cfg->platform.overseer.fuel_limit,
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
  arq_wasm_result_t r = arq_wasm_instantiate(p->module, imports, ARQ_HOST_FUNCS, &limits, &slot->inst);
  if (r) {
    arq_wasm_instance_free(slot->inst);
    slot->inst = NULL;
    slot->broken = r;
    ARQ_LOG(ARQ_LOG_ERROR, "overseer", "policy cannot be instantiated: every evaluation is denied",
            {"module", p->key}, {"error", r});
    slot->logged |= CAUSE_BROKEN;
    return slot;
  }
  slot->on_connect = p->has_connect ? arq_wasm_export_func(slot->inst, "arqon_on_connect") : NULL;
  slot->on_message = p->has_message ? arq_wasm_export_func(slot->inst, "arqon_on_message") : NULL;
  return slot;
}

static void deny(arq_verdict_t *v, int code, const char *reason) {
  v->denied = true;
  v->code = code;
  snprintf(v->reason, sizeof v->reason, "%s", reason);
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

static void evaluate(arq_worker_policies_t *wp, slot_t *slot, bool connect) {
  arq_policy_eval_t *e = &wp->eval;
  arq_shield_t *s = wp->w->shield;
  arq_verdict_t *v = e->v;
  arq_wasm_func_t *fn = connect ? slot->on_connect : slot->on_message;
  if (slot->broken) {
    deny(v, 403, "policy unavailable");
    count_denial(s, ARQ_DENIAL_UNAVAILABLE);
    return;
  }
  if (!fn)
    return; /* the module does not hook this */
  e->key = slot->policy->key;
  e->log_bucket = &slot->log;
  e->log_bytes = 0;
  e->rejected = false;
  e->claims_parsed = false;
  uint64_t fuel = (uint64_t)s->cfg->platform.overseer.fuel_limit;
  arq_wasm_result_t r = arq_wasm_reset(slot->inst);
  arq_wasm_val_t result = {0};
  uint64_t start = arq_now_ns();
  if (!r) {
    arq_wasm_set_fuel(slot->inst, fuel);
    r = arq_wasm_call(slot->inst, fn, NULL, 0, &result, 1);
  }
  arq_histogram_observe(s->m.wasm_duration, (double)(arq_now_ns() - start) / 1e9);
  uint64_t left = arq_wasm_fuel_left(slot->inst);
  arq_counter_add(s->m.wasm_fuel_consumed, left <= fuel ? fuel - left : 0);
  if (r == arq_policy_rejected) {
    count_denial(s, ARQ_DENIAL_REJECTED);
  } else if (r == arq_wasm_err_trap_out_of_fuel) {
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
  } else if (result.of.i32 != 0) {
    char reason[96];
    snprintf(reason, sizeof reason, "denied by policy %s", slot->policy->key);
    deny(v, result.of.i32 >= 400 && result.of.i32 <= 599 ? result.of.i32 : 403, reason);
    count_denial(s, ARQ_DENIAL_DENIED);
  }
}

/* `_global` first, then the tenant's own; the first denial ends it. */
static void run_hooks(arq_worker_t *w, const char *tenant, bool connect) {
  arq_worker_policies_t *wp = w->policies;
  const char *keys[2] = {ARQ_POLICY_GLOBAL, tenant};
  for (int i = 0; i < 2 && !wp->eval.v->denied; i++) {
    slot_t *slot = arq_strmap_get(&wp->slots, keys[i], strlen(keys[i]));
    if (slot)
      evaluate(wp, slot, connect);
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
                                arq_policy_headers_t headers, arq_verdict_t *v) {
  if (!w->policies)
    return;
  begin(w, tenant, claims_json, headers, v);
  run_hooks(w, tenant, true);
}

void arq_overseer_check_message(arq_worker_t *w, const char *tenant, const char *claims_json,
                                arq_policy_headers_t headers, const char *subject,
                                const uint8_t *payload, size_t payload_len, arq_verdict_t *v) {
  if (!w->policies)
    return;
  begin(w, tenant, claims_json, headers, v);
  arq_policy_eval_t *e = &w->policies->eval;
  e->subject = subject;
  e->payload = payload;
  e->payload_len = payload_len;
  run_hooks(w, tenant, false);
}

/* A new connect policy applies to the connections already open: upstream's "ban all". */
static void recheck_connections(arq_worker_t *w, const char *key) {
  bool global = !strcmp(key, ARQ_POLICY_GLOBAL);
  for (arq_conn_t *c = w->all; c; c = c->next) {
    if (c->state != CONN_WS || (!global && strcmp(c->id.tenant, key)))
      continue;
    arq_verdict_t v;
    arq_policy_headers_t h = {c->http.policy_headers, c->http.policy_headers_len};
    arq_overseer_check_connect(w, c->id.tenant, c->id.claims_json, h, &v);
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
  size_t klen = strlen(in->key);
  slot_t *prev = arq_strmap_get(&wp->slots, in->key, klen);
  slot_t *fresh = in->policy ? instantiate(wp, in->policy, prev ? &prev->log : NULL) : NULL;
  slot_t *old = fresh ? arq_strmap_put(&wp->slots, in->key, klen, fresh)
                      : arq_strmap_remove(&wp->slots, in->key, klen);
  slot_free(old);
  if (fresh && (fresh->on_connect || fresh->broken))
    recheck_connections(in->w, in->key);
  free(in);
}

void arq_overseer_install(arq_shield_t *s, const char *key, arq_policy_t *p) {
  for (size_t i = 0; i < s->nworkers; i++) {
    install_t *in = calloc(1, sizeof *in);
    if (!in)
      arq_oom("policy install");
    in->task.cb = run_install;
    in->task.data = in;
    in->w = &s->workers[i];
    snprintf(in->key, sizeof in->key, "%s", key);
    if (p) {
      atomic_fetch_add(&p->refs, 1); /* one per worker */
      in->policy = p;
    }
    arq_loop_post(s->workers[i].loop, &in->task);
  }
  arq_policy_unref(p); /* the caller's */
}
