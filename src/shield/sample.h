/*
 * sample.h — which share of the traffic a feature sees, decided the same way everywhere:
 * a key is in iff XXH64(key, seed 0) % 10000 < round(fraction * 10000) (SPEC section 6).
 * Mirroring keys on the trace id, and so does the policy canary for messages; the same key
 * gives the same answer on every node and after restarts, so one trace is always in or
 * always out of both. Nothing here is random.
 */
#ifndef ARQ_SHIELD_SAMPLE_H
#define ARQ_SHIELD_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>

/** True when `key` falls in the share `fraction` (0.0 .. 1.0) of all keys. */
bool arq_sample_in(const char *key, size_t len, double fraction);

#endif
