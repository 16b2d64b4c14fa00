/*
 * strmap.h — a hash map from byte-string keys to pointers (open addressing, linear
 * probing, backward-shift deletion: no tombstones, so lookups stay short after churn).
 * Keys are copied; values are the caller's. Not thread-safe: one owner.
 *
 * Keys are hashed with SipHash-1-3 under a random key drawn once per process, because many
 * maps are keyed by names clients choose (rooms, users, connection ids): with a public hash
 * function, keys chosen to share a bucket would make every operation on the map linear.
 * Consequently the iteration order differs from process to process and run to run; no
 * caller may depend on it.
 */
#ifndef ARQ_COMMON_STRMAP_H
#define ARQ_COMMON_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  char *key;
  size_t key_len;
  uint64_t hash;
  void *value;
} arq_strmap_slot_t;

typedef struct {
  arq_strmap_slot_t *slots;
  size_t cap; /* power of two, or 0 */
  size_t len;
} arq_strmap_t;

void arq_strmap_init(arq_strmap_t *m);
void arq_strmap_free(arq_strmap_t *m);
void *arq_strmap_get(const arq_strmap_t *m, const void *key, size_t key_len);
/** Inserts or replaces; returns the previous value or NULL. */
void *arq_strmap_put(arq_strmap_t *m, const void *key, size_t key_len, void *value);
/** Removes; returns the removed value or NULL. */
void *arq_strmap_remove(arq_strmap_t *m, const void *key, size_t key_len);

/** Iteration, in no meaningful order and not while the map changes:
 *  for (size_t i = 0; i < m.cap; i++) if (m.slots[i].key) ... */

/** The hash the maps of this process use for `key` (keyed by the process's secret). */
uint64_t arq_strmap_hash(const void *key, size_t key_len);
/** The longest distance, in slots, from an entry's home slot to where it sits: what the
 *  slowest lookup of a present key walks past. For tests and diagnostics. */
size_t arq_strmap_max_probe(const arq_strmap_t *m);

#endif
