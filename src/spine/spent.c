/*
 * spent.c — NATS messages destroyed in groups (see spent.h).
 */
#include "spine/spent.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>

#define SPENT_GROUP 64

static pthread_mutex_t spent_lock = PTHREAD_MUTEX_INITIALIZER;
static natsMsg *spent[SPENT_GROUP];
static size_t nspent;

/* Moves what is held into `group` (under spent_lock); their count. */
static size_t take(natsMsg *group[SPENT_GROUP]) {
  size_t n = nspent;
  memcpy(group, spent, n * sizeof *spent);
  nspent = 0;
  return n;
}

/* Outside the lock: nats.c's collector takes its own lock for each message. */
static void destroy(natsMsg *group[SPENT_GROUP], size_t n) {
  for (size_t i = 0; i < n; i++)
    natsMsg_Destroy(group[i]);
}

void arq_spent_msg(natsMsg *m) {
  if (!m)
    return;
  natsMsg *group[SPENT_GROUP];
  size_t n = 0;
  pthread_mutex_lock(&spent_lock);
  spent[nspent++] = m;
  if (nspent == SPENT_GROUP)
    n = take(group);
  pthread_mutex_unlock(&spent_lock);
  destroy(group, n);
}

void arq_spent_flush(void) {
  natsMsg *group[SPENT_GROUP];
  pthread_mutex_lock(&spent_lock);
  size_t n = take(group);
  pthread_mutex_unlock(&spent_lock);
  destroy(group, n);
}
