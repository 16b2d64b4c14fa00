/*
 * tenants.c — per-tenant connection caps and a per-tenant message rate shared by all
 * workers. A tenant's entry lives while it has connections.
 *
 * The rate is a token bucket in its GCRA form: one atomic "theoretical arrival time" per
 * tenant, advanced by compare-and-swap, so workers never take a lock per message. A
 * message at time t passes when max(tat, t) - t <= (burst - 1) * interval, and then moves
 * tat to max(tat, t) + interval: `burst` messages may come at once, `rate` per second after.
 */
#include <stdlib.h>
#include <string.h>

#include "shield/shield.h"

struct arq_tenant {
  char id[ARQ_ID_MAX_LEN + 1];
  size_t connections;  /* under tenants_lock */
  _Atomic uint64_t tat; /* theoretical arrival time, ns on the monotonic clock */
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
    atomic_init(&t->tat, 0);
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
    free(t);
  }
  pthread_mutex_unlock(&s->tenants_lock);
}

/* The bucket with the clock passed in (ns, monotonic): arq_tenant_take's whole decision,
 * apart so that the unit tests can drive time (tests/unit/shield/test_tenants.c). */
bool arq__tenant_take_at(const arq_config_t *cfg, arq_tenant_t *t, uint64_t now) {
  uint64_t interval = (uint64_t)(1e9 / cfg->shield.tenant_rate);
  uint64_t tolerance = (uint64_t)(cfg->shield.tenant_burst - 1) * interval;
  uint64_t tat = atomic_load_explicit(&t->tat, memory_order_relaxed);
  for (;;) {
    uint64_t start = tat > now ? tat : now;
    if (start - now > tolerance)
      return false;
    if (atomic_compare_exchange_weak_explicit(&t->tat, &tat, start + interval, memory_order_relaxed,
                                              memory_order_relaxed))
      return true;
  }
}

bool arq_tenant_take(arq_shield_t *s, arq_tenant_t *t, uint64_t now_ms) {
  (void)now_ms; /* the bucket counts in ns on its own clock */
  return arq__tenant_take_at(s->cfg, t, arq_now_ns());
}
