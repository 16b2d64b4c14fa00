/*
 * tenants.h — per-tenant connection caps and message rate (tenants.c).
 * The types it names are the Shield's model, in shield.h.
 */
#ifndef ARQ_SHIELD_TENANTS_H
#define ARQ_SHIELD_TENANTS_H

#include "shield/shield.h"

/** Takes a connection slot for the tenant; NULL when the tenant is at its cap. */
arq_tenant_t *arq_tenant_acquire(arq_shield_t *s, const char *tenant);
void arq_tenant_release(arq_shield_t *s, arq_tenant_t *t);
/** Spends one message token of the tenant's bucket; false when empty. */
bool arq_tenant_take(arq_shield_t *s, arq_tenant_t *t, uint64_t now_ms);
/** The same at a given monotonic time (ns): the unit tests' way in. */
bool arq__tenant_take_at(const arq_config_t *cfg, arq_tenant_t *t, uint64_t now);

#endif
