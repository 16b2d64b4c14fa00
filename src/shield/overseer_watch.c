/*
 * overseer_watch.c — what the policy bucket's watch (src/spine/watch.h) does with each
 * entry: validate the module before anything uses it, and hand good ones to the workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/log.h"
#include "shield/overseer_internal.h"
#include "shield/shield.h"
#include "shield/spine.h"
#include "spine/watch.h"


struct arq_overseer {
  arq_shield_t *shield;
  arq_kv_watch_t *watch;
  atomic_bool ready;
};

static const char *const abi_imports[ARQ_HOST_FUNCS] = {
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

/* Loads and checks a module against ABI arqon_host_v1; *out NULL with a reason on failure. */
static const char *load_policy(const uint8_t *bytes, size_t len, arq_wasm_module_t **out,
                               bool *connect, bool *message) {
  *out = NULL;
  arq_wasm_module_t *m = NULL;
  arq_wasm_result_t r = arq_wasm_module_load(bytes, len, &m);
  if (r)
    return r;
  for (size_t i = 0; i < arq_wasm_module_import_count(m); i++) {
    arq_wasm_extern_desc_t d;
    arq_wasm_module_import(m, i, &d);
    bool known = d.kind == ARQ_WASM_EXTERN_FUNC && d.module_len == 13 &&
                 !memcmp(d.module, "arqon_host_v1", 13);
    bool named = false;
    for (int k = 0; known && k < ARQ_HOST_FUNCS; k++)
      named |= d.name_len == strlen(abi_imports[k]) && !memcmp(d.name, abi_imports[k], d.name_len);
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

const char *arq_overseer_check_module(const uint8_t *bytes, size_t len) {
  arq_wasm_module_t *m;
  bool c, msg;
  const char *why = load_policy(bytes, len, &m, &c, &msg);
  arq_wasm_module_free(m);
  return why;
}

static bool key_ok(const char *key) { return !strcmp(key, ARQ_POLICY_GLOBAL) || arq_id_valid_str(key); }

static void apply(arq_overseer_t *o, kvEntry *e) {
  const char *key = kvEntry_Key(e);
  char rev[24];
  snprintf(rev, sizeof rev, "%llu", (unsigned long long)kvEntry_Revision(e));
  if (!key_ok(key)) {
    ARQ_LOG(ARQ_LOG_WARN, "overseer", "ignored policy with a key that is not a tenant id", {"key", key});
    return;
  }
  if (kvEntry_Operation(e) != kvOp_Put) {
    ARQ_LOG(ARQ_LOG_INFO, "overseer", "policy removed", {"module", key}, {"revision", rev});
    arq_overseer_install(o->shield, key, NULL);
    return;
  }
  arq_policy_t *p = calloc(1, sizeof *p);
  if (!p)
    arq_oom("policy");
  const char *why = load_policy(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), &p->module,
                                &p->has_connect, &p->has_message);
  if (why) {
    ARQ_LOG(ARQ_LOG_ERROR, "overseer", "invalid policy module refused; the previous one stays",
            {"module", key}, {"revision", rev}, {"error", why});
    free(p);
    return;
  }
  atomic_init(&p->refs, 1);
  snprintf(p->key, sizeof p->key, "%s", key);
  p->revision = kvEntry_Revision(e);
  ARQ_LOG(ARQ_LOG_INFO, "overseer", "policy installed", {"module", key}, {"revision", rev},
          {"on_connect", p->has_connect ? "yes" : "no"}, {"on_message", p->has_message ? "yes" : "no"});
  arq_overseer_install(o->shield, key, p);
}

static void on_entry(void *arg, kvEntry *e) { apply(arg, e); }

static void on_ready(void *arg) {
  arq_overseer_t *o = arg;
  atomic_store(&o->ready, true);
  ARQ_LOG(ARQ_LOG_INFO, "overseer", "policies loaded", {"bucket", o->shield->cfg->platform.overseer.kv_bucket});
}

arq_overseer_t *arq_overseer_start(arq_shield_t *s) {
  if (!s->cfg->platform.overseer.enabled)
    return NULL;
  arq_overseer_t *o = calloc(1, sizeof *o);
  if (!o)
    arq_oom("overseer");
  o->shield = s;
  arq_kv_watch_spec_t spec = {s->cfg->platform.overseer.kv_bucket, "overseer", on_entry, on_ready, o, 0};
  o->watch = arq_kv_watch_start(s->cfg, &spec);
  if (!o->watch) {
    free(o);
    return NULL;
  }
  return o;
}

void arq_overseer_stop(arq_overseer_t *o) {
  if (!o)
    return;
  arq_kv_watch_stop(o->watch);
  free(o);
}

bool arq_overseer_ready(const arq_overseer_t *o) { return !o || atomic_load(&o->ready); }
