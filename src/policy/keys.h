/*
 * keys.h — the keys of the policy bucket (platform.overseer.kv_bucket, SPEC section 5).
 *
 *   <tenant>          the tenant's active policy
 *   _global           the active policy every tenant's traffic goes through first
 *   <tenant>.canary   a candidate for <tenant>: evaluated beside the active one on live
 *   _global.canary    traffic, compared and counted, never enforced (docs/policies.md)
 *
 * A tenant id never contains '.' (common/ids.h), so no tenant's key can be read as another
 * tenant's candidate; the KV key alphabet allows the dot. The part before the suffix is
 * the key's "base" everywhere: subjects, metric labels and admin paths name the base.
 */
#ifndef ARQ_POLICY_KEYS_H
#define ARQ_POLICY_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ids.h"

#define ARQ_POLICY_GLOBAL "_global"
#define ARQ_POLICY_CANARY_SUFFIX ".canary"
/** Room for any key of the bucket, NUL included. */
#define ARQ_POLICY_KEY_CAP (ARQ_ID_MAX_LEN + sizeof ARQ_POLICY_CANARY_SUFFIX)

/** True when `base` may own a policy: a tenant id or _global. */
bool arq_policy_base_valid(const char *base);

/** Reads a key of the bucket: its base (ARQ_ID_MAX_LEN + 1 bytes) and whether it is the
 *  candidate. False for any other key (the Shields ignore those). */
bool arq_policy_key_parse(const char *key, char *base, bool *canary);

/** The candidate's key of `base` (a valid base), in `out` of ARQ_POLICY_KEY_CAP bytes. */
void arq_policy_canary_key(char *out, const char *base);

#endif
