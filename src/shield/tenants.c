/*
 * tenants.c — per-tenant connection caps and a per-tenant message token bucket shared by
 * all workers. A tenant's entry lives while it has connections.
 */
#include <stdlib.h>
#include <string.h>

#include "shield/shield.h"

struct arq_tenant {
  char id[ARQ_ID_MAX_LEN + 1];
  size_t connections; /* under tenants_lock */
  pthread_mutex_t bucket_lock;
  double tokens;
  uint64_t tokens_at_ms;
};

arq_tenant_t *arq_tenant_acquire(arq_shield_t *s, const char *tenant) {
  size_t len = strlen(tenant);
  pthread_mutex_lock(&s->tenants_lock);
  arq_tenant_t *t = arq_strmap_get(&s->tenants, tenant, len);
  if (!t) {
    t = calloc(1, sizeof *t);
    if (!t)
      arq_oom("tenant");
    strcpy(t->id, tenant);
    pthread_mutex_init(&t->bucket_lock, NULL);
    t->tokens = (double)s->cfg->shield.tenant_burst;
    t->tokens_at_ms = 0;
    arq_strmap_put(&s->tenants, tenant, len, t);
  }
  if (t->connections >= (size_t)s->cfg->shield.max_connections_per_tenant)
    t = NULL;
  else
    t->connections++;
  pthread_mutex_unlock(&s->tenants_lock);
  return t;
}

void arq_tenant_release(arq_shield_t *s, arq_tenant_t *t) {
  if (!t)
    return;
  pthread_mutex_lock(&s->tenants_lock);
  if (--t->connections == 0) {
    arq_strmap_remove(&s->tenants, t->id, strlen(t->id));
    pthread_mutex_destroy(&t->bucket_lock);
    free(t);
  }
  pthread_mutex_unlock(&s->tenants_lock);
}

bool arq_tenant_take(arq_shield_t *s, arq_tenant_t *t, uint64_t now_ms) {
  const arq_config_t *cfg = s->cfg;
  pthread_mutex_lock(&t->bucket_lock);
  if (t->tokens_at_ms && now_ms > t->tokens_at_ms) {
    t->tokens += (double)(now_ms - t->tokens_at_ms) / 1000.0 * cfg->shield.tenant_rate;
    if (t->tokens > (double)cfg->shield.tenant_burst)
      t->tokens = (double)cfg->shield.tenant_burst;
  }
  if (now_ms > t->tokens_at_ms)
    t->tokens_at_ms = now_ms;
  bool ok = t->tokens >= 1.0;
  if (ok)
    t->tokens -= 1.0;
  pthread_mutex_unlock(&t->bucket_lock);
  return ok;
}
