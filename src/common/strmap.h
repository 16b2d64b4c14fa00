/*
 * strmap.h — a hash map from byte-string keys to pointers (open addressing, linear
 * probing, backward-shift deletion: no tombstones, so lookups stay short after churn).
 * Keys are copied; values are the caller's. Not thread-safe: one owner.
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

/** Iteration: for (size_t i = 0; i < m.cap; i++) if (m.slots[i].key) ... */

#endif
