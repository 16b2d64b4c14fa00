/*
 * overseer_watch.c — what the policy bucket's watch (src/spine/watch.h) does with each
 * entry: validate the module before anything uses it, and hand good ones to the workers.
 * Candidates (`<key>.canary`, policy/keys.h) are loaded the same way; the watcher keeps the
 * one of each key with its tally, to answer sys.shield.canary.report.<key>.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "policy/abi.h"
#include "policy/canary_report.h"
#include "protocol/subjects.h"
#include "shield/nats_link.h"
#include "shield/overseer_internal.h"
#include "shield/shield.h"
#include "spine/watch.h"

struct arq_overseer {
  arq_shield_t *shield;
  arq_kv_watch_t *watch;
  atomic_bool ready;
  arq_link_sub_t *reports;   /* sys.shield.canary.report.* */
  pthread_mutex_t lock;      /* candidates: the watch thread writes, report answers read */
  arq_strmap_t candidates;   /* base -> arq_policy_t (a reference of its own) */
};

/* The candidate a report speaks of: replaced or removed under the lock. */
static void set_candidate(arq_overseer_t *o, const char *base, arq_policy_t *p) {
  if (p)
    atomic_fetch_add(&p->refs, 1);
  pthread_mutex_lock(&o->lock);
  size_t len = strlen(base);
  arq_policy_t *old = p ? arq_strmap_put(&o->candidates, base, len, p) : arq_strmap_remove(&o->candidates, base, len);
  pthread_mutex_unlock(&o->lock);
  arq_policy_unref(old);
}

static void apply(arq_overseer_t *o, kvEntry *e) {
  const char *key = kvEntry_Key(e);
  char rev[24], base[ARQ_ID_MAX_LEN + 1];
  bool canary = false;
  snprintf(rev, sizeof rev, "%llu", (unsigned long long)kvEntry_Revision(e));
  if (!arq_policy_key_parse(key, base, &canary)) {
    ARQ_LOG(ARQ_LOG_WARN, "overseer", "ignored policy with a key that is not a tenant id", {"key", key});
    return;
  }
  if (kvEntry_Operation(e) != kvOp_Put) {
    ARQ_LOG(ARQ_LOG_INFO, "overseer", "policy removed", {"module", key}, {"revision", rev});
    if (canary)
      set_candidate(o, base, NULL);
    arq_overseer_install(o->shield, base, canary, NULL);
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
  snprintf(p->base, sizeof p->base, "%s", base);
  p->canary = canary;
  p->revision = kvEntry_Revision(e);
  if (canary) {
    p->tally = arq_canary_tally_new(o->shield, base);
    set_candidate(o, base, p);
  }
  ARQ_LOG(ARQ_LOG_INFO, "overseer", canary ? "candidate policy installed" : "policy installed",
          {"module", key}, {"revision", rev}, {"on_connect", p->has_connect ? "yes" : "no"},
          {"on_message", p->has_message ? "yes" : "no"});
  arq_overseer_install(o->shield, base, canary, p);
}

static void on_entry(void *arg, kvEntry *e) { apply(arg, e); }

static void on_ready(void *arg) {
  arq_overseer_t *o = arg;
  atomic_store(&o->ready, true);
  ARQ_LOG(ARQ_LOG_INFO, "overseer", "policies loaded", {"bucket", o->shield->cfg->platform.overseer.kv_bucket});
}

/* sys.shield.canary.report.<key>: this node's counts for the candidate of the key. */
static void on_report(void *arg, const char *subject, const char *reply, const void *data, size_t len) {
  (void)data;
  (void)len;
  arq_overseer_t *o = arg;
  char base[ARQ_ID_MAX_LEN + 1];
  if (!reply || !arq_subject_parse_canary_report(subject, base) || !arq_policy_base_valid(base))
    return;
  pthread_mutex_lock(&o->lock);
  arq_policy_t *p = arq_strmap_get(&o->candidates, base, strlen(base));
  if (p)
    atomic_fetch_add(&p->refs, 1);
  pthread_mutex_unlock(&o->lock);
  arq_canary_counts_t counts = {0};
  if (p)
    arq_canary_tally_read(p->tally, &counts);
  arq_buf_t out;
  arq_buf_init(&out);
  arq_canary_answer_write(&out, o->shield->node_id, base, p ? p->revision : 0, p ? p->tally->since_ms : 0,
                          &counts);
  arq_link_reply(o->shield->link, reply, out.data, out.len);
  arq_buf_free(&out);
  arq_policy_unref(p);
}

arq_overseer_t *arq_overseer_start(arq_shield_t *s) {
  if (!s->cfg->platform.overseer.enabled)
    return NULL;
  arq_overseer_t *o = calloc(1, sizeof *o);
  if (!o)
    arq_oom("overseer");
  o->shield = s;
  pthread_mutex_init(&o->lock, NULL);
  arq_strmap_init(&o->candidates);
  arq_kv_watch_spec_t spec = {s->cfg->platform.overseer.kv_bucket, "overseer", on_entry, on_ready, o, 0,
                              s->cfg->nats.stream_replicas};
  o->watch = arq_kv_watch_start(s->cfg, &spec);
  if (!o->watch) {
    arq_strmap_free(&o->candidates);
    pthread_mutex_destroy(&o->lock);
    free(o);
    return NULL;
  }
  /* Without it the node's counts are missing from reports; policies still work. */
  if (s->link)
    o->reports = arq_link_subscribe(s->link, ARQ_SUBJECTS_CANARY_REPORTS, on_report, o);
  return o;
}

void arq_overseer_stop(arq_overseer_t *o) {
  if (!o)
    return;
  bool ended = arq_link_unsubscribe(o->reports);
  arq_kv_watch_stop(o->watch);
  pthread_mutex_lock(&o->lock);
  for (size_t i = 0; i < o->candidates.cap; i++)
    if (o->candidates.slots[i].key)
      arq_policy_unref(o->candidates.slots[i].value);
  arq_strmap_free(&o->candidates);
  pthread_mutex_unlock(&o->lock);
  if (!ended)
    return; /* a report may still be answered: `o` stays (its map is empty now) */
  pthread_mutex_destroy(&o->lock);
  free(o);
}

bool arq_overseer_ready(const arq_overseer_t *o) { return !o || atomic_load(&o->ready); }
