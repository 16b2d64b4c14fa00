#include "common/strmap.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/siphash.h"

/* The process's hash key: drawn on first use, by whichever thread gets there first. */
static arq_siphash_key_t process_key;
static pthread_once_t process_key_once = PTHREAD_ONCE_INIT;

static void draw_process_key(void) { process_key = arq_siphash_key_random(); }

void arq_strmap_init(arq_strmap_t *m) {
  m->slots = NULL;
  m->cap = 0;
  m->len = 0;
}

void arq_strmap_free(arq_strmap_t *m) {
  for (size_t i = 0; i < m->cap; i++)
    free(m->slots[i].key);
  free(m->slots);
  arq_strmap_init(m);
}

static uint64_t hash_of(const void *key, size_t len) {
  pthread_once(&process_key_once, draw_process_key);
  return arq_siphash13(&process_key, key, len);
}

uint64_t arq_strmap_hash(const void *key, size_t len) { return hash_of(key, len); }

size_t arq_strmap_max_probe(const arq_strmap_t *m) {
  size_t mask = m->cap - 1, worst = 0;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->slots[i].key)
      continue;
    size_t d = (i - ((size_t)m->slots[i].hash & mask)) & mask;
    if (d > worst)
      worst = d;
  }
  return worst;
}

static size_t find(const arq_strmap_t *m, const void *key, size_t len, uint64_t h) {
  size_t mask = m->cap - 1;
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    const arq_strmap_slot_t *s = &m->slots[i];
    if (!s->key || (s->hash == h && s->key_len == len && !memcmp(s->key, key, len)))
      return i;
  }
}

static void grow(arq_strmap_t *m) {
  size_t old_cap = m->cap;
  arq_strmap_slot_t *old = m->slots;
  m->cap = old_cap ? old_cap * 2 : 16;
  m->slots = calloc(m->cap, sizeof *m->slots);
  if (!m->slots)
    arq_oom("strmap");
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].key)
      m->slots[find(m, old[i].key, old[i].key_len, old[i].hash)] = old[i];
  free(old);
}

void *arq_strmap_get(const arq_strmap_t *m, const void *key, size_t len) {
  if (!m->len)
    return NULL;
  const arq_strmap_slot_t *s = &m->slots[find(m, key, len, hash_of(key, len))];
  return s->key ? s->value : NULL;
}

void *arq_strmap_put(arq_strmap_t *m, const void *key, size_t len, void *value) {
  if ((m->len + 1) * 4 > m->cap * 3)
    grow(m);
  uint64_t h = hash_of(key, len);
  arq_strmap_slot_t *s = &m->slots[find(m, key, len, h)];
  if (s->key) {
    void *prev = s->value;
    s->value = value;
    return prev;
  }
  s->key = malloc(len + 1);
  if (!s->key)
    arq_oom("strmap");
  memcpy(s->key, key, len);
  s->key[len] = '\0';
  s->key_len = len;
  s->hash = h;
  s->value = value;
  m->len++;
  return NULL;
}

void *arq_strmap_remove(arq_strmap_t *m, const void *key, size_t len) {
  if (!m->len)
    return NULL;
  size_t mask = m->cap - 1;
  size_t i = find(m, key, len, hash_of(key, len));
  if (!m->slots[i].key)
    return NULL;
  void *value = m->slots[i].value;
  free(m->slots[i].key);
  m->slots[i].key = NULL;
  m->len--;
  /* Backward shift: pull later entries of the run into the hole when that keeps them
   * reachable from their home slot. */
  for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
    size_t home = (size_t)m->slots[j].hash & mask;
    bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      m->slots[i] = m->slots[j];
      m->slots[j].key = NULL;
      i = j;
    }
  }
  return value;
}
