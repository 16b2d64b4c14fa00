/*
 * mirror.h — deterministic traffic mirroring (SPEC section 6).
 *
 * A message is mirrored iff XXH64(key, seed 0) % 10000 < round(percent * 10000), where the
 * key is the envelope's trace id (its 32 hex characters as bytes) or, without one, the
 * connection id; the first rule whose subject pattern matches decides. The same trace id
 * gives the same decision on every node and after restarts: nothing here is random.
 */
#ifndef ARQ_SHIELD_MIRROR_H
#define ARQ_SHIELD_MIRROR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/** True when `subject` is to be mirrored under the configured rules. */
bool arq_mirror_decide(const arq_config_t *cfg, const char *subject, const char *key, size_t key_len);

#endif
