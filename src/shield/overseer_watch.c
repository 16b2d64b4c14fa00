/*
 * overseer_watch.c — what the policy bucket's watch (src/spine/watch.h) does with each
 * entry: validate the module before anything uses it, and hand good ones to the workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/log.h"
#include "policy/abi.h"
#include "shield/nats_link.h"
#include "shield/overseer_internal.h"
#include "shield/shield.h"
#include "spine/watch.h"


struct arq_overseer {
  arq_shield_t *shield;
  arq_kv_watch_t *watch;
  atomic_bool ready;
};

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
  const char *why = arq_policy_abi_load(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), &p->module,
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
  arq_kv_watch_spec_t spec = {s->cfg->platform.overseer.kv_bucket, "overseer", on_entry, on_ready, o, 0,
                              s->cfg->nats.stream_replicas};
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
